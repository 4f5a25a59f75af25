//! `FrameReader` on tokio (`next_frame`, `poll_next_frame`, async flushes), over
//! `TokioFd<TcpStream>` and over an ALTS `Conn` on one, with real sockets on both runtime
//! flavors: 1,000 idle connections through the whole stack hold no buffer; the end of the
//! stream and a reset give exactly what the blocking stack gives; a dropped `next_frame`
//! loses no bytes; flushes through the reader and through `FrameWriter`.
#![cfg(all(feature = "tokio", target_os = "linux"))]

use slackwater_alts::{AltsError, Backend, Conn, Crypter, Protocol, Side};
use slackwater_h2frame::{Config, Data, Error, Frame, FrameReader, FrameWriter, Ping};
use slackwater_ready::{Pool, PoolHandle, ReadyFd, ReadyPoll, ReadyWrite, TokioFd};
use std::future::poll_fn;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

const PROTOCOL: Protocol = Protocol::Aes128GcmRekey;

fn crypter(side: Side) -> Crypter {
    let key: Vec<u8> = (0..PROTOCOL.key_len() as u8).collect();
    Crypter::new(PROTOCOL, side, &key, Backend::default()).unwrap()
}

type Plain = FrameReader<TokioFd<TcpStream>>;
type OverAlts = FrameReader<Conn<TokioFd<TcpStream>>>;

fn plain(s: TcpStream, pool: &PoolHandle) -> Plain {
    FrameReader::with_pool(TokioFd::new(s).with_pool(pool.clone()), pool.clone())
}

fn over_alts(s: TcpStream, side: Side, pool: &PoolHandle) -> OverAlts {
    let conn =
        Conn::new(TokioFd::new(s).with_pool(pool.clone()), crypter(side)).with_pool(pool.clone());
    FrameReader::with_pool(conn, pool.clone())
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (s, c)
}

fn std_tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
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

/// The HTTP/2 bytes of a PING and a DATA frame of `n` bytes on stream 1.
fn h2_bytes(tag: u32, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let w = FrameWriter::new();
    let mut data = [0u8; 8];
    data[..4].copy_from_slice(&tag.to_be_bytes());
    w.write(&mut out, &Frame::Ping(Ping { ack: false, data }))
        .unwrap();
    w.write_data(&mut out, 1, true, &payload(tag, n)).unwrap();
    out
}

fn payload(tag: u32, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u32).wrapping_mul(7).wrapping_add(tag) as u8)
        .collect()
}

/// `bytes` sealed as ALTS records (client to server), cut into records of at most `frame`
/// bytes on the wire.
fn sealed(bytes: &[u8], frame: usize) -> Vec<u8> {
    let cfg = slackwater_alts::Config::builder()
        .frame_size(frame)
        .build()
        .unwrap();
    let mut w = Conn::new(Vec::new(), crypter(Side::Client)).with_config(cfg);
    w.write_all(bytes).unwrap();
    w.get_ref().clone()
}

/// Waits until `n` tasks have started, then gives them time to park in their wait.
async fn all_parked(started: &AtomicUsize, n: usize) {
    while started.load(Ordering::SeqCst) < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
}

async fn thousand_idle_connections_hold_nothing() {
    const N: usize = 1000;
    // Small: the test profile runs AES-GCM unoptimized (about 1 MB/s).
    const DATA: usize = 256;
    let server_pool = PoolHandle::from(Pool::new());
    let client_pool = PoolHandle::from(Pool::new());
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let mut servers = Vec::with_capacity(N);
    let mut clients = Vec::with_capacity(N);
    for _ in 0..N {
        let c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let mut r = over_alts(s, Side::Server, &server_pool);
        let started = started.clone();
        servers.push(tokio::spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            let mut frames = Vec::new();
            while let Some(f) = r.next_frame().await.unwrap() {
                frames.push(f);
            }
            (frames, r)
        }));
        clients.push(over_alts(c, Side::Client, &client_pool));
    }
    all_parked(&started, N).await;
    assert!(servers.iter().all(|t| !t.is_finished()));
    let s = server_pool.stats();
    assert_eq!(
        s.in_use(),
        0,
        "{} buffers in use with {N} idle connections",
        s.in_use()
    );
    assert_eq!(client_pool.stats().in_use(), 0);

    // Data arrives on every connection: a PING and a DATA frame, then the end of the stream.
    let w = FrameWriter::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let mut data = [0u8; 8];
        data[..4].copy_from_slice(&(i as u32).to_be_bytes());
        w.write(c, &Frame::Ping(Ping { ack: false, data })).unwrap();
        w.write_data(c, 1, true, &payload(i as u32, DATA)).unwrap();
        w.flush(c).await.unwrap();
        poll_fn(|cx| c.poll_shutdown_write(cx)).await.unwrap();
    }
    for (i, t) in servers.into_iter().enumerate() {
        let (frames, r) = t.await.unwrap();
        let [Frame::Ping(p), Frame::Data(d)] = &frames[..] else {
            panic!("connection {i}: {frames:?}");
        };
        assert_eq!(&p.data[..4], (i as u32).to_be_bytes());
        assert!(
            d.end_stream && d.data == payload(i as u32, DATA)[..],
            "connection {i}"
        );
        assert!(!r.holds_buffer() && !r.get_ref().holds_buffer());
    }
    assert_eq!(server_pool.stats().in_use(), 0);
    drop(clients);
    assert_eq!(client_pool.stats().in_use(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_idle_connections_hold_nothing_multi_thread() {
    thousand_idle_connections_hold_nothing().await;
}

#[tokio::test(flavor = "current_thread")]
async fn thousand_idle_connections_hold_nothing_current_thread() {
    thousand_idle_connections_hold_nothing().await;
}

#[derive(Clone, Copy, Debug)]
enum End {
    Fin,
    Rst,
}

type Outcome = Vec<Result<Option<Frame>, Error>>;

/// Reads until the first `None` or error, then three more times (what stays).
fn collect_blocking<R: slackwater_ready::ReadyRead>(r: &mut FrameReader<R>) -> Outcome {
    let mut out = Vec::new();
    loop {
        let got = r.read_frame();
        let last = !matches!(got, Ok(Some(_)));
        out.push(got);
        if last {
            break;
        }
    }
    for _ in 0..3 {
        out.push(r.read_frame());
    }
    out
}

async fn collect_async<R: slackwater_ready::ReadyRead + ReadyPoll>(
    r: &mut FrameReader<R>,
) -> Outcome {
    let mut out = Vec::new();
    loop {
        let got = r.next_frame().await;
        let last = !matches!(got, Ok(Some(_)));
        out.push(got);
        if last {
            break;
        }
    }
    for _ in 0..3 {
        out.push(r.next_frame().await);
    }
    out
}

/// `wire` through the blocking stack (`ReadyFd` on std sockets) and the async one (`TokioFd`
/// on tokio sockets), plain or over ALTS, the peer ending with `end`: both outcomes, and the
/// pool (the frames' payloads may hold its buffers).
async fn both_stacks(wire: &[u8], alts: bool, end: End) -> (Outcome, Outcome, PoolHandle) {
    let pool = PoolHandle::from(Pool::new());
    // Blocking.
    let (s, mut c) = std_tcp_pair();
    c.write_all(wire).unwrap();
    let finish = |c: std::net::TcpStream| match end {
        End::Fin => drop(c),
        End::Rst => {
            std::thread::sleep(Duration::from_millis(20));
            reset(c)
        }
    };
    finish(c);
    let blocking = if alts {
        let conn =
            Conn::new(ReadyFd::new(s).unwrap(), crypter(Side::Server)).with_pool(pool.clone());
        collect_blocking(&mut FrameReader::with_pool(conn, pool.clone()))
    } else {
        collect_blocking(&mut FrameReader::with_pool(
            ReadyFd::new(s).unwrap(),
            pool.clone(),
        ))
    };
    // Async.
    let (s, mut c) = tcp_pair().await;
    c.write_all(wire).await.unwrap();
    match end {
        End::Fin => drop(c),
        End::Rst => {
            tokio::time::sleep(Duration::from_millis(20)).await;
            reset(c)
        }
    }
    let asynchronous = if alts {
        collect_async(&mut over_alts(s, Side::Server, &pool)).await
    } else {
        collect_async(&mut plain(s, &pool)).await
    };
    (blocking, asynchronous, pool)
}

async fn ends_as_the_blocking_stack() {
    let h2 = [h2_bytes(1, 100), h2_bytes(2, 5000)].concat();
    let cut_frame = h2.len() - 1000; // inside the last DATA frame
    for alts in [false, true] {
        let wire = if alts { sealed(&h2, 4096) } else { h2.clone() };
        let records_cut = if alts { wire.len() - 1000 } else { cut_frame };
        for (what, bytes, end) in [
            ("whole, FIN", &wire[..], End::Fin),
            ("cut, FIN", &wire[..records_cut], End::Fin),
            ("whole, RST", &wire[..], End::Rst),
            ("cut, RST", &wire[..records_cut], End::Rst),
        ] {
            let (blocking, asynchronous, pool) = both_stacks(bytes, alts, end).await;
            assert_eq!(blocking, asynchronous, "alts {alts}, {what}");
            let frames = asynchronous.iter().take_while(|r| matches!(r, Ok(Some(_))));
            let tail = &asynchronous[asynchronous.len() - 4..];
            match (what, alts) {
                ("whole, FIN", _) => {
                    assert_eq!(frames.count(), 4);
                    assert!(tail.iter().all(|r| matches!(r, Ok(None))), "{tail:?}");
                }
                ("cut, FIN", false) => {
                    assert_eq!(frames.count(), 3);
                    let eof = Err(Error::UnexpectedEof {
                        buffered: 5000 + 9 - 1000,
                    });
                    assert!(tail.iter().all(|r| *r == eof), "{tail:?}");
                }
                ("cut, FIN", true) => {
                    // The record layer reports the truncated record.
                    assert!(
                        tail.iter().all(|r| matches!(r, Err(Error::Io(e))
                            if e.kind() == io::ErrorKind::UnexpectedEof
                                && matches!(AltsError::from_io(e), Some(AltsError::Truncated { .. })))),
                        "{tail:?}"
                    );
                }
                (_, _) => {
                    // Whatever arrived whole, then the reset, again and again.
                    assert!(
                        tail.iter().all(|r| matches!(r, Err(Error::Io(e))
                            if e.kind() == io::ErrorKind::ConnectionReset)),
                        "{what}: {tail:?}"
                    );
                    assert!(tail[0].as_ref().unwrap_err().is_fatal());
                }
            }
            drop((blocking, asynchronous));
            assert_eq!(pool.stats().in_use(), 0, "alts {alts}, {what}");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn ends_as_the_blocking_stack_current_thread() {
    ends_as_the_blocking_stack().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ends_as_the_blocking_stack_multi_thread() {
    ends_as_the_blocking_stack().await;
}

/// A frame that arrives in two halves, with `next_frame` dropped (by `timeout` and by
/// `select!`) while the first half waits: the second call returns the whole frame.
async fn cancelled_mid_frame<R>(
    r: &mut FrameReader<R>,
    c: &mut TcpStream,
    first: &[u8],
    rest: &[u8],
) where
    R: slackwater_ready::ReadyRead + ReadyPoll,
{
    c.write_all(first).await.unwrap();
    let t = tokio::time::timeout(Duration::from_millis(50), r.next_frame()).await;
    assert!(t.is_err(), "next_frame returned with half a frame: {t:?}");
    assert!(
        r.holds_buffer(),
        "the part of the frame that arrived is gone"
    );
    tokio::select! {
        f = r.next_frame() => panic!("next_frame returned with half a frame: {f:?}"),
        _ = tokio::time::sleep(Duration::from_millis(20)) => {}
    }
    c.write_all(rest).await.unwrap();
    let Some(Frame::Data(d)) = r.next_frame().await.unwrap() else {
        panic!("not the DATA frame")
    };
    assert!(
        d.data == payload(7, 10_000)[..],
        "bytes lost across the cancellations"
    );
}

async fn a_dropped_next_frame_loses_no_bytes() {
    let pool = PoolHandle::from(Pool::new());
    let mut h2 = Vec::new();
    FrameWriter::new()
        .write_data(&mut h2, 1, false, &payload(7, 10_000))
        .unwrap();

    // Plain: half the frame has arrived.
    let (s, mut c) = tcp_pair().await;
    let mut r = plain(s, &pool);
    cancelled_mid_frame(&mut r, &mut c, &h2[..5000], &h2[5000..]).await;
    assert!(!r.holds_buffer());

    // Over ALTS: the frame spans records; the first record whole and half the second have
    // arrived (the reader holds part of the frame, the Conn part of a record).
    let records = sealed(&h2, 4096);
    let (s, mut c) = tcp_pair().await;
    let mut r = over_alts(s, Side::Server, &pool);
    let cut = 4096 + 2000;
    cancelled_mid_frame(&mut r, &mut c, &records[..cut], &records[cut..]).await;

    // Cut inside the 9-byte header, too.
    let (s, mut c) = tcp_pair().await;
    let mut r = plain(s, &pool);
    cancelled_mid_frame(&mut r, &mut c, &h2[..4], &h2[4..]).await;
    drop(r);
    assert_eq!(pool.stats().in_use(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_next_frame_loses_no_bytes_current_thread() {
    a_dropped_next_frame_loses_no_bytes().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_next_frame_loses_no_bytes_multi_thread() {
    a_dropped_next_frame_loses_no_bytes().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_and_reader_flush_asynchronously() {
    let pool = PoolHandle::from(Pool::new());
    let (s, c) = tcp_pair().await;
    // Small socket buffers, so that the sender's flushes wait for the reader.
    setsockopt_int(&s, libc::SO_RCVBUF, 32 * 1024);
    setsockopt_int(&c, libc::SO_SNDBUF, 32 * 1024);
    let cfg = Config::builder()
        .max_pending_replies(Some(100))
        .build()
        .unwrap();
    let conn = Conn::new(
        TokioFd::new(s).with_pool(pool.clone()),
        crypter(Side::Server),
    )
    .with_pool(pool.clone());
    let mut server = FrameReader::with_config(conn, pool.clone(), cfg);
    let mut client = over_alts(c, Side::Client, &pool);
    // 1 MiB of DATA from the client, far more than the sockets hold, while the server reads.
    const TOTAL: usize = 1 << 20;
    let sender = tokio::spawn(async move {
        let w = FrameWriter::new();
        let chunk = payload(3, 16 * 1024);
        let mut sent = 0;
        while sent < TOTAL {
            w.write_data(&mut client, 1, false, &chunk).unwrap();
            sent += chunk.len();
            if client.is_write_full() {
                client.flush().await.unwrap();
            }
        }
        w.write(
            &mut client,
            &Frame::Ping(Ping {
                ack: false,
                data: [5; 8],
            }),
        )
        .unwrap();
        w.flush(&mut client).await.unwrap();
        assert_eq!(client.queued(), 0);
        client
    });
    let mut got = 0;
    loop {
        match server.next_frame().await.unwrap() {
            Some(Frame::Data(Data { data, .. })) => {
                assert!(data == payload(3, 16 * 1024)[..]);
                got += data.len();
            }
            Some(Frame::Ping(p)) => {
                assert_eq!((p.ack, got), (false, TOTAL));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    let mut client = sender.await.unwrap();
    // The PING is owed a reply; an async flush through the reader that empties the output
    // says it was sent.
    assert_eq!(server.pending_replies(), 1);
    FrameWriter::new()
        .write(
            &mut server,
            &Frame::Ping(Ping {
                ack: true,
                data: [5; 8],
            }),
        )
        .unwrap();
    server.flush().await.unwrap();
    assert_eq!((server.pending_replies(), server.queued()), (0, 0));
    let Some(Frame::Ping(p)) = client.next_frame().await.unwrap() else {
        panic!("no PING ACK")
    };
    assert!(p.ack);
    assert_eq!(pool.stats().in_use(), 0);
}
