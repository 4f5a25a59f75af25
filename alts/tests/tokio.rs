//! `Conn` on tokio (`AsyncRead` / `AsyncWrite` / `ReadyPoll` over `TokioFd`) with real sockets
//! on both runtime flavors: 1 MiB round trips with nothing in use after, no buffer while a read
//! is pending, the end of the stream and a reset exactly as in the blocking forms (clean end
//! between records, `Truncated` inside one, reset sticky), a dropped read future loses no
//! bytes, backpressure at the high-water mark, shutdown.
#![cfg(all(feature = "tokio", target_os = "linux"))]

mod common;

use common::*;
use slackwater_alts::{AltsError, Backend, Conn, PoolHandle, Protocol, Side};
use slackwater_ready::{Pool, ReadyPoll, ReadyWrite, TokioFd};
use std::future::poll_fn;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type AsyncConn = Conn<TokioFd<TcpStream>>;

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (s, c)
}

/// Closes `s` with `SO_LINGER {on, 0}`: the kernel sends RST instead of FIN.
fn reset(s: impl AsRawFd) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized `linger`.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
    drop(s);
}

/// Sets an `int` socket option (socket buffer sizes).
fn setsockopt_int(s: &impl AsRawFd, opt: libc::c_int, v: libc::c_int) {
    // SAFETY: a valid socket and a correctly sized `c_int`.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
}

fn conn(s: TcpStream, p: Protocol, side: Side, pool: &PoolHandle) -> AsyncConn {
    Conn::new(
        TokioFd::new(s).with_pool(pool.clone()),
        crypter(p, side, Backend::default()),
    )
    .with_pool(pool.clone())
}

/// A server `Conn` and the raw client socket that plays the peer.
async fn server_and_raw_peer(p: Protocol, pool: &PoolHandle) -> (AsyncConn, TcpStream) {
    let (s, c) = tcp_pair().await;
    (conn(s, p, Side::Server, pool), c)
}

fn message(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Writes `send` (and flushes) while it reads `n` bytes, which must be `expect`; returns the
/// connection whole again.
async fn duplex(c: AsyncConn, send: Vec<u8>, n: usize, expect: Vec<u8>) -> AsyncConn {
    let (mut r, mut w) = tokio::io::split(c);
    let read = async {
        let mut got = vec![0; n];
        r.read_exact(&mut got).await.unwrap();
        got
    };
    let write = async {
        w.write_all(&send).await.unwrap();
        w.flush().await.unwrap();
    };
    let (got, ()) = tokio::join!(read, write);
    assert!(got == expect, "read other bytes");
    r.unsplit(w)
}

async fn round_trip_1_mib(p: Protocol) {
    let pool = PoolHandle::from(Pool::new());
    let (s, c) = tcp_pair().await;
    let server = conn(s, p, Side::Server, &pool);
    let client = conn(c, p, Side::Client, &pool);
    let up = message(1 << 20, 1);
    let down = message(1 << 20, 2);
    // Each side reads and writes at once (tokio::io::split), in a task of its own.
    let srv = tokio::spawn(duplex(server, down.clone(), up.len(), up.clone()));
    let cli = tokio::spawn(duplex(client, up, down.len(), down));
    let (mut server, mut client) = (srv.await.unwrap(), cli.await.unwrap());
    assert!(!server.holds_buffer() && !client.holds_buffer());
    assert_eq!((server.queued(), client.queued()), (0, 0));
    assert_eq!(
        pool.stats().in_use(),
        0,
        "buffers in use after the round trip"
    );
    // Shutdown flushes and sends FIN: the peer reads a clean end.
    client.shutdown().await.unwrap();
    assert_eq!(server.read(&mut [0; 16]).await.unwrap(), 0);
    assert_eq!(server.read(&mut [0; 16]).await.unwrap(), 0);
    assert_eq!(pool.stats().in_use(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_1_mib_multi_thread() {
    round_trip_1_mib(Protocol::Aes128GcmRekey).await;
}

#[tokio::test(flavor = "current_thread")]
async fn round_trip_1_mib_current_thread() {
    round_trip_1_mib(Protocol::Aes128Gcm).await;
}

/// The shape the issue names: `write_all` in one task, `read_exact` in another.
async fn write_all_read_exact_between_tasks() {
    let pool = PoolHandle::from(Pool::new());
    let (s, c) = tcp_pair().await;
    let mut server = conn(s, Protocol::Aes128GcmRekey, Side::Server, &pool);
    let mut client = conn(c, Protocol::Aes128GcmRekey, Side::Client, &pool);
    let data = message(1 << 20, 9);
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        client.write_all(&sent).await.unwrap();
        client.flush().await.unwrap();
        client
    });
    let mut got = vec![0; data.len()];
    server.read_exact(&mut got).await.unwrap();
    assert!(got == data, "bytes differ");
    let mut client = writer.await.unwrap();
    assert_eq!(pool.stats().in_use(), 0);
    client.shutdown().await.unwrap();
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    assert_eq!(pool.stats().in_use(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_all_read_exact_between_tasks_multi_thread() {
    write_all_read_exact_between_tasks().await;
}

#[tokio::test(flavor = "current_thread")]
async fn write_all_read_exact_between_tasks_current_thread() {
    write_all_read_exact_between_tasks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_read_holds_no_buffer() {
    let pool = PoolHandle::from(Pool::new());
    let p = Protocol::Aes128Gcm;
    let (mut server, mut peer) = server_and_raw_peer(p, &pool).await;
    let reader = tokio::spawn(async move {
        let mut got = [0; 64];
        let n = server.read(&mut got).await.unwrap();
        (got[..n].to_vec(), server)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!reader.is_finished());
    assert_eq!(pool.stats().in_use(), 0, "a pending read holds a buffer");
    peer.write_all(&wire(p, Side::Client, 4096, &[b"wake up"]))
        .await
        .unwrap();
    let (got, server) = reader.await.unwrap();
    assert_eq!(got, b"wake up");
    assert!(!server.holds_buffer());
    assert_eq!(pool.stats().in_use(), 0);
}

#[tokio::test]
async fn plaintext_larger_than_the_read_buf_is_kept_in_the_conn() {
    let pool = PoolHandle::from(Pool::new());
    let p = Protocol::Aes128Gcm;
    let (mut server, mut peer) = server_and_raw_peer(p, &pool).await;
    peer.write_all(&wire(p, Side::Client, 4096, &[b"0123456789"]))
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 10 {
        let mut small = [0; 3];
        let n = server.read(&mut small).await.unwrap();
        got.extend_from_slice(&small[..n]);
    }
    assert_eq!(got, b"0123456789");
    assert!(!server.holds_buffer());
    assert_eq!(pool.stats().in_use(), 0);
}

async fn end_and_reset_semantics() {
    let pool = PoolHandle::from(Pool::new());
    let p = Protocol::Aes128GcmRekey;
    let records = wire(p, Side::Client, 4096, &[b"first", b"second"]);

    // A FIN between records: the plaintext, then a clean end, every time.
    let (mut server, mut peer) = server_and_raw_peer(p, &pool).await;
    peer.write_all(&records).await.unwrap();
    drop(peer);
    let mut all = Vec::new();
    server.read_to_end(&mut all).await.unwrap();
    assert_eq!(all, b"firstsecond");
    for _ in 0..3 {
        assert_eq!(server.read(&mut [0; 8]).await.unwrap(), 0);
    }

    // A FIN inside a record: the whole records, then Truncated with the bytes received, again
    // from every later read.
    let (mut server, mut peer) = server_and_raw_peer(p, &pool).await;
    let cut = records.len() - 7;
    peer.write_all(&records[..cut]).await.unwrap();
    drop(peer);
    let mut got = [0; 5];
    server.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"first");
    let partial = cut - (b"first".len() + slackwater_alts::OVERHEAD);
    for _ in 0..3 {
        let e = server.read(&mut [0; 8]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(
            matches!(AltsError::from_io(&e), Some(AltsError::Truncated { buffered }) if *buffered == partial),
            "{e:?} (expected Truncated {{ buffered: {partial} }})"
        );
    }
    assert!(!server.holds_buffer());

    // A reset (after a whole record and part of the next): the record, then the reset, again
    // from every later read, through every read form (never a clean end).
    let (mut server, mut peer) = server_and_raw_peer(p, &pool).await;
    peer.write_all(&records[..cut]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    reset(peer);
    let mut got = [0; 5];
    server.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"first");
    for _ in 0..3 {
        let e = server.read(&mut [0; 8]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}");
        let e = poll_fn(|cx| server.poll_read_buf(cx, 4096, &pool))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}");
    }
    assert!(!server.holds_buffer());
    assert_eq!(pool.stats().in_use(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn end_and_reset_semantics_current_thread() {
    end_and_reset_semantics().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_and_reset_semantics_multi_thread() {
    end_and_reset_semantics().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_read_future_loses_no_bytes() {
    let pool = PoolHandle::from(Pool::new());
    let p = Protocol::Aes128Gcm;
    let (mut server, mut peer) = server_and_raw_peer(p, &pool).await;
    let msg = message(3000, 5);
    let record = wire(p, Side::Client, 4096, &[&msg]);
    let half = record.len() / 2;
    peer.write_all(&record[..half]).await.unwrap();
    // Half a record arrives; the read is cancelled while it waits for the rest.
    let mut buf = vec![0; msg.len()];
    let t = tokio::time::timeout(Duration::from_millis(50), server.read(&mut buf)).await;
    assert!(t.is_err(), "a read returned with half a record");
    assert!(server.holds_buffer(), "the partial record was dropped");
    // Cancelled through select! too.
    tokio::select! {
        _ = server.read(&mut buf) => panic!("a read returned with half a record"),
        _ = tokio::time::sleep(Duration::from_millis(20)) => {}
    }
    peer.write_all(&record[half..]).await.unwrap();
    server.read_exact(&mut buf).await.unwrap();
    assert!(buf == msg, "bytes lost or changed across the cancellations");
    assert!(!server.holds_buffer());
    assert_eq!(pool.stats().in_use(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_at_the_high_water_mark() {
    let pool = PoolHandle::from(Pool::new());
    let p = Protocol::Aes128Gcm;
    let (s, c) = tcp_pair().await;
    // Small socket buffers, so that a few hundred KiB fill them.
    setsockopt_int(&s, libc::SO_RCVBUF, 32 * 1024);
    setsockopt_int(&c, libc::SO_SNDBUF, 32 * 1024);
    let mut server = conn(s, p, Side::Server, &pool);
    const HIGH_WATER: usize = 64 * 1024;
    let mut client = Conn::new(
        TokioFd::new(c)
            .with_pool(pool.clone())
            .with_high_water(HIGH_WATER),
        crypter(p, Side::Client, Backend::default()),
    )
    .with_pool(pool.clone());
    let data = message(2 << 20, 3);
    // Nobody reads: writes are taken until the socket and then the queue are full, then the
    // write waits.
    let mut off = 0;
    while let Ok(n) =
        tokio::time::timeout(Duration::from_millis(100), client.write(&data[off..])).await
    {
        off += n.unwrap();
        assert!(off < data.len(), "2 MiB went through with nobody reading");
    }
    // At most one batch (64 KiB and its record overhead) over the mark is queued.
    assert!(client.is_write_full());
    let q = client.queued();
    assert!(q <= HIGH_WATER + 64 * 1024 + 2048, "{q} bytes queued");
    // The peer reads: the write goes on and everything arrives.
    let total = data.len();
    let reader = tokio::spawn(async move {
        let mut got = vec![0; total];
        server.read_exact(&mut got).await.unwrap();
        got
    });
    client.write_all(&data[off..]).await.unwrap();
    client.flush().await.unwrap();
    assert!(reader.await.unwrap() == data, "bytes differ");
    assert_eq!(client.queued(), 0);
    assert_eq!(pool.stats().in_use(), 0);
}

#[tokio::test]
async fn blocking_io_on_a_tokio_transport_says_unsupported() {
    let pool = PoolHandle::from(Pool::new());
    let (mut server, _peer) = server_and_raw_peer(Protocol::Aes128Gcm, &pool).await;
    let e = std::io::Read::read(&mut server, &mut [0; 8]).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Unsupported);
}

#[tokio::test]
async fn ready_poll_reaches_the_transport() {
    let pool = PoolHandle::from(Pool::new());
    let (mut server, peer) = server_and_raw_peer(Protocol::Aes128Gcm, &pool).await;
    poll_fn(|cx| server.poll_write_ready(cx)).await.unwrap();
    drop(peer);
    poll_fn(|cx| server.poll_read_ready(cx)).await.unwrap();
    assert!(
        poll_fn(|cx| server.poll_read_buf(cx, 4096, &pool))
            .await
            .unwrap()
            .is_none()
    );
}
