//! `TokioFd` and `ReadyPoll` with real sockets on real tokio runtimes (both flavors): reads
//! hold no buffer while they wait, the end of the stream and a reset behave as with `ReadyFd`
//! (a reset stays), the write side drains through readiness, an `AsyncFd` source works too.
#![cfg(all(feature = "tokio", target_os = "linux"))]

mod common;
use common::reset;
use slackwater_ready::{Pool, PoolHandle, ReadyPoll, ReadyRead, ReadyWrite, TokioFd, TokioSource};
use std::future::poll_fn;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (s, c)
}

async fn read_buf<S: TokioSource>(
    r: &mut TokioFd<S>,
    size: usize,
    pool: &Pool,
) -> io::Result<Option<slackwater_ready::Buf>> {
    poll_fn(|cx| r.poll_read_buf(cx, size, pool)).await
}

/// Buffers the pool has handed out so far.
fn gets(pool: &Pool) -> usize {
    let s = pool.stats();
    s.classes()
        .iter()
        .chain([s.unpooled()])
        .map(|c| c.hits + c.misses)
        .sum()
}

/// Gives spawned readers time to reach their wait.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn waits_holding_nothing_then_reads() {
    let pool = PoolHandle::from(Pool::new());
    let (s, mut c) = tcp_pair().await;
    let mut r = TokioFd::new(s);
    let p = pool.clone();
    let reader = tokio::spawn(async move {
        let b = read_buf(&mut r, 16 * 1024, &p).await.unwrap().unwrap();
        (b.to_vec(), b.capacity(), r)
    });
    settle().await;
    assert!(!reader.is_finished());
    assert_eq!(pool.stats().in_use(), 0, "a waiting read holds a buffer");
    c.write_all(b"hello").await.unwrap();
    let (got, cap, mut r) = reader.await.unwrap();
    assert_eq!(got, b"hello");
    assert!(cap >= 16 * 1024);
    assert_eq!(pool.stats().in_use(), 0);
    // The end of the stream, after the data: `None`, every time.
    drop(c);
    assert!(read_buf(&mut r, 100, &pool).await.unwrap().is_none());
    assert!(read_buf(&mut r, 100, &pool).await.unwrap().is_none());
    assert!(r.try_read_ready(100, &pool).unwrap().is_none());
    assert_eq!(pool.stats().in_use(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn waits_holding_nothing_then_reads_current_thread() {
    waits_holding_nothing_then_reads().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_holding_nothing_then_reads_multi_thread() {
    waits_holding_nothing_then_reads().await;
}

#[tokio::test]
async fn try_forms_say_would_block_and_take_no_buffer() {
    let pool = Pool::new();
    let (s, mut c) = tcp_pair().await;
    let mut r = TokioFd::new(s);
    // A freshly accepted tokio socket starts out marked readable (a spurious readiness): the
    // first try may take a buffer, finds nothing, gives it back and clears the readiness.
    let e = r.try_read_ready(4096, &pool).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    assert_eq!(pool.stats().in_use(), 0);
    // From then on, no buffer is taken before tokio sees the socket readable.
    let before = gets(&pool);
    for _ in 0..3 {
        let e = r.try_read_ready(4096, &pool).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }
    assert_eq!(gets(&pool), before, "a buffer was taken before readiness");
    let mut held = pool.get(64).unwrap();
    held.extend_from_slice(b"x").unwrap();
    let e = r.try_append_ready(&mut held, 10).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    assert_eq!(&held[..], b"x");
    // Readiness, then exactly `max` bytes appended into the buffer the caller holds.
    c.write_all(b"abcdef").await.unwrap();
    poll_fn(|cx| r.poll_read_ready(cx)).await.unwrap();
    assert_eq!(r.try_append_ready(&mut held, 3).unwrap(), 3);
    assert_eq!(&held[..], b"xabc");
    let b = r.try_read_ready(2, &pool).unwrap().unwrap();
    assert_eq!(&b[..], b"de");
    drop(b);
    assert_eq!(r.try_append_ready(&mut held, 100).unwrap(), 1);
    assert_eq!(&held[..], b"xabcf");
    // Drained: WouldBlock again (tokio's readiness was cleared by the read that found none).
    assert_eq!(
        r.try_read_ready(100, &pool).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    drop(held);
    assert_eq!(pool.stats().in_use(), 0);
}

#[tokio::test]
async fn blocking_forms_are_unsupported() {
    let pool = Pool::new();
    let (s, _c) = tcp_pair().await;
    let mut r = TokioFd::new(s);
    let mut b = pool.get(16).unwrap();
    for e in [
        r.read_ready(16, &pool).unwrap_err(),
        r.read_ready_into(&mut [0; 4]).unwrap_err(),
        r.append_ready(&mut b, 4).unwrap_err(),
        r.flush_ready().unwrap_err(),
    ] {
        assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
    }
    assert_eq!(r.read_ready_into(&mut []).unwrap(), 0);
}

async fn reset_stays() {
    let pool = Pool::new();
    let (s, c) = tcp_pair().await;
    let mut r = TokioFd::new(s);
    reset(c);
    let e = read_buf(&mut r, 4096, &pool).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    // Control: the kernel reports the reset once; the socket itself now reads 0.
    assert_eq!(r.get_ref().try_read(&mut [0; 8]).unwrap(), 0);
    // Every later call of every read method says reset, never "end of stream".
    let mut held = pool.get(64).unwrap();
    for _ in 0..3 {
        let errs = [
            read_buf(&mut r, 4096, &pool).await.unwrap_err(),
            r.try_read_ready(4096, &pool).unwrap_err(),
            r.try_append_ready(&mut held, 10).unwrap_err(),
            r.read_ready(4096, &pool).unwrap_err(),
            r.read_ready_into(&mut [0; 8]).unwrap_err(),
            r.append_ready(&mut held, 10).unwrap_err(),
        ];
        for e in errs {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
        }
    }
    drop(held);
    assert_eq!(pool.stats().in_use(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn reset_stays_current_thread() {
    reset_stays().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_stays_multi_thread() {
    reset_stays().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_seen_by_a_write_fails_later_reads() {
    let pool = Pool::new();
    let (s, c) = tcp_pair().await;
    let mut w = TokioFd::new(s);
    reset(c);
    // The RST has arrived once the socket is readable; nothing reads it.
    poll_fn(|cx| w.poll_read_ready(cx)).await.unwrap();
    w.queue(b"into the void").unwrap();
    let e = poll_fn(|cx| w.poll_flush_ready(cx)).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(w.queued(), 0, "a dead queue keeps nothing");
    assert_eq!(
        w.queue(b"x").unwrap_err().kind(),
        io::ErrorKind::ConnectionReset
    );
    let e = read_buf(&mut w, 4096, &pool).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(pool.stats().in_use(), 0);
}

async fn writes_fill_the_socket_and_drain() {
    let pool = PoolHandle::from(Pool::new());
    let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
    let mut w = TokioFd::new(a).with_pool(pool.clone());
    let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
    w.queue(&data).unwrap();
    assert!(w.is_write_full());
    // The socket takes a part; the rest waits in pooled buffers.
    let e = w.try_flush_ready().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    assert!(w.queued() > 0 && w.queued() < data.len());
    let writer = tokio::spawn(async move {
        poll_fn(|cx| w.poll_flush_ready(cx)).await.unwrap();
        w
    });
    let mut got = vec![0; data.len()];
    b.read_exact(&mut got).await.unwrap();
    assert!(got == data, "bytes differ");
    let mut w = writer.await.unwrap();
    assert_eq!((w.queued(), w.write_queue().capacity_bytes()), (0, 0));
    assert_eq!(pool.stats().in_use(), 0);
    // Shut down the write direction: the peer reads the end of the stream.
    poll_fn(|cx| w.poll_shutdown_write(cx)).await.unwrap();
    assert_eq!(b.read(&mut [0; 8]).await.unwrap(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn writes_fill_the_socket_and_drain_current_thread() {
    writes_fill_the_socket_and_drain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_fill_the_socket_and_drain_multi_thread() {
    writes_fill_the_socket_and_drain().await;
}

#[tokio::test]
async fn an_async_fd_source_reads_writes_and_shuts_down() {
    use tokio::io::unix::AsyncFd;
    let pool = Pool::new();
    let (a, b) = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| {
            let c = std::net::TcpStream::connect(l.local_addr()?)?;
            Ok((l.accept()?.0, c))
        })
        .unwrap();
    a.set_nonblocking(true).unwrap();
    // SAFETY: `a` owns its fd, which stays open and the same while the AsyncFd owns `a`.
    let fd = unsafe { AsyncFd::register(a) }.unwrap();
    let mut r = TokioFd::new(fd);
    let mut peer = TcpStream::from_std({
        b.set_nonblocking(true).unwrap();
        b
    })
    .unwrap();
    // Nothing has arrived, so tokio has seen no readability: no buffer is taken.
    let e = r.try_read_ready(4096, &pool).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    assert_eq!(gets(&pool), 0, "no buffer before readiness");
    let reader = async {
        let got = read_buf(&mut r, 4096, &pool)
            .await
            .unwrap()
            .unwrap()
            .to_vec();
        (got, r)
    };
    let ((got, mut r), ()) = tokio::join!(reader, async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        peer.write_all(b"via AsyncFd").await.unwrap()
    });
    assert_eq!(got, b"via AsyncFd");
    // More than the socket takes at once: the flush waits for writability (through tokio)
    // while the peer drains, on this one thread.
    let big: Vec<u8> = (0..4u32 << 20).map(|i| i as u8).collect();
    r.queue(&big).unwrap();
    assert_eq!(r.write_queue().queued(), big.len());
    let (flushed, back) = tokio::join!(
        async {
            poll_fn(|cx| r.poll_flush_ready(cx)).await.unwrap();
            poll_fn(|cx| r.poll_shutdown_write(cx)).await.unwrap();
        },
        async {
            let mut back = Vec::new();
            peer.read_to_end(&mut back).await.unwrap();
            back
        }
    );
    let () = flushed;
    assert!(back == big, "{} bytes back", back.len());
    assert_eq!(r.write_queue().queued(), 0);
    drop(peer);
    assert!(read_buf(&mut r, 4096, &pool).await.unwrap().is_none());
    assert_eq!(pool.stats().in_use(), 0);
}

#[tokio::test]
async fn forwarded_through_mut_and_box() {
    let pool = Pool::new();
    let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
    let mut boxed: Box<TokioFd<tokio::net::UnixStream>> = Box::new(TokioFd::new(a));
    b.write_all(b"boxed").await.unwrap();
    let got = poll_fn(|cx| boxed.poll_read_buf(cx, 64, &pool))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got[..], b"boxed");
    let mut by_ref = &mut *boxed;
    drop(b);
    assert!(
        poll_fn(|cx| ReadyPoll::poll_read_buf(&mut by_ref, cx, 64, &pool))
            .await
            .unwrap()
            .is_none()
    );
}

/// `TokioFd`'s small parts: a queued buffer's bytes are sent, fullness follows the high-water
/// mark, the socket's fd passes through, `Debug` shows the queue.
#[tokio::test]
async fn queue_buf_fullness_fd_and_debug() {
    use std::os::fd::AsRawFd;
    let pool = PoolHandle::from(Pool::new());
    let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let mut w = TokioFd::new(a).with_pool(pool.clone()).with_high_water(8);
    assert_eq!(w.as_raw_fd(), fd);
    assert!(!w.is_write_full());
    let mut buf = pool.get(16).unwrap();
    buf.extend_from_slice(b"whole buffer").unwrap();
    w.queue_buf(buf).unwrap();
    assert_eq!(w.queued(), 12);
    assert!(w.is_write_full(), "12 bytes over a mark of 8");
    let s = format!("{w:?}");
    assert!(s.starts_with("TokioFd { io: UnixStream"), "{s}");
    assert!(s.ends_with("queued: 12, read_failed: false }"), "{s}");
    poll_fn(|cx| w.poll_flush_ready(cx)).await.unwrap();
    assert!(!w.is_write_full());
    let mut got = [0u8; 12];
    b.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"whole buffer");
    assert_eq!(pool.stats().in_use(), 0);
}

/// A transport that answers from a script: each `try_*` call takes the next outcome
/// (`Interrupted`, `WouldBlock` or success), and each readiness poll is counted. It is what a
/// user's own `ReadyPoll` transport may do; `TokioFd` retries `Interrupted` inside, so only
/// such a transport reaches the provided forms' own retry.
struct Scripted {
    script: std::collections::VecDeque<io::ErrorKind>,
    polls: usize,
    queued: usize,
}

impl Scripted {
    fn new(script: &[io::ErrorKind]) -> Self {
        Scripted {
            script: script.iter().copied().collect(),
            polls: 0,
            queued: 5,
        }
    }
    /// The next scripted error, or `None` when the script is done (success).
    fn next(&mut self) -> Option<io::Error> {
        self.script.pop_front().map(io::Error::from)
    }
}

impl ReadyRead for Scripted {
    fn read_ready(&mut self, _: usize, _: &Pool) -> io::Result<Option<slackwater_ready::Buf>> {
        unreachable!("the async forms use the try forms")
    }
    fn try_read_ready(
        &mut self,
        size: usize,
        pool: &Pool,
    ) -> io::Result<Option<slackwater_ready::Buf>> {
        if let Some(e) = self.next() {
            return Err(e);
        }
        let mut b = pool.get(size)?;
        b.extend_from_slice(b"data").unwrap();
        Ok(Some(b))
    }
    fn append_ready(&mut self, _: &mut slackwater_ready::Buf, _: usize) -> io::Result<usize> {
        unreachable!()
    }
    fn try_append_ready(&mut self, _: &mut slackwater_ready::Buf, _: usize) -> io::Result<usize> {
        unreachable!()
    }
}

impl ReadyWrite for Scripted {
    fn queue(&mut self, data: &[u8]) -> io::Result<()> {
        self.queued += data.len();
        Ok(())
    }
    fn try_flush_ready(&mut self) -> io::Result<()> {
        if let Some(e) = self.next() {
            return Err(e);
        }
        self.queued = 0;
        Ok(())
    }
    fn flush_ready(&mut self) -> io::Result<()> {
        unreachable!("the async forms use the try forms")
    }
    fn queued(&self) -> usize {
        self.queued
    }
    fn is_write_full(&self) -> bool {
        false
    }
}

impl ReadyPoll for Scripted {
    fn poll_read_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.polls += 1;
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_write_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.polls += 1;
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown_write(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[test]
fn provided_async_forms_retry_interrupted_and_wait_on_would_block() {
    use io::ErrorKind::{Interrupted, WouldBlock};
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    let pool = Pool::new();

    // Read: Interrupted is retried at once (no readiness wait), WouldBlock waits for readiness.
    let mut t = Scripted::new(&[Interrupted, WouldBlock, Interrupted]);
    match t.poll_read_buf(&mut cx, 64, &pool) {
        Poll::Ready(Ok(Some(b))) => assert_eq!(&b[..], b"data"),
        other => panic!("{other:?}"),
    }
    assert_eq!((t.script.len(), t.polls), (0, 1));

    // Flush: the same.
    let mut t = Scripted::new(&[Interrupted, Interrupted, WouldBlock]);
    assert!(matches!(t.poll_flush_ready(&mut cx), Poll::Ready(Ok(()))));
    assert_eq!((t.script.len(), t.polls, t.queued), (0, 1, 0));

    // Any other error is returned as it is.
    let mut t = Scripted::new(&[io::ErrorKind::ConnectionReset]);
    match t.poll_read_buf(&mut cx, 64, &pool) {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
        other => panic!("{other:?}"),
    }
    let mut t = Scripted::new(&[io::ErrorKind::BrokenPipe]);
    match t.poll_flush_ready(&mut cx) {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
        other => panic!("{other:?}"),
    }
    assert_eq!(pool.stats().in_use(), 0);
}
