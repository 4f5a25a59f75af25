//! `ReadyFd` over socketpairs and loopback TCP.

mod common;
use common::{SIGNALS, reset, tcp_pair};
use slackwater_ready::{Pool, ReadyFd, ReadyRead, ShutdownError, is_shutdown};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

/// Reads everything until EOF, checking the pool holds only the buffer being returned.
fn read_all(r: &mut impl ReadyRead, pool: &Pool) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(b) = r.read_ready(4096, pool)? {
        assert!(!b.is_empty(), "Ok(Some) always holds at least one byte");
        assert_eq!(pool.stats().in_use(), 1);
        out.extend_from_slice(&b);
    }
    assert_eq!(pool.stats().in_use(), 0);
    Ok(out)
}

#[test]
fn data_then_eof_socketpair_and_tcp() {
    let pool = Pool::new();
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut r = ReadyFd::new(a).unwrap();
    let w = thread::spawn(move || {
        for i in 0..100u8 {
            b.write_all(&[i; 300]).unwrap();
        }
    });
    let got = read_all(&mut r, &pool).unwrap();
    w.join().unwrap();
    assert_eq!(got.len(), 30_000);
    assert!(
        got.chunks(300)
            .enumerate()
            .all(|(i, c)| c.iter().all(|&x| x == i as u8))
    );

    let (s, mut c) = tcp_pair();
    let mut r = ReadyFd::new(s).unwrap();
    c.write_all(b"over tcp").unwrap();
    drop(c);
    assert_eq!(read_all(&mut r, &pool).unwrap(), b"over tcp");
}

#[test]
fn eof_with_no_data_is_none_every_time() {
    let pool = Pool::new();
    let (s, c) = tcp_pair();
    let mut r = ReadyFd::new(s).unwrap();
    drop(c);
    for _ in 0..3 {
        assert!(r.read_ready(100, &pool).unwrap().is_none());
        assert!(r.try_read_ready(100, &pool).unwrap().is_none());
    }
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn one_byte_dribbles_hold_no_buffer_between_bytes() {
    let pool = Pool::new();
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut r = ReadyFd::new(a).unwrap();
    let w = thread::spawn(move || {
        for i in 0..50u8 {
            b.write_all(&[i]).unwrap();
            thread::sleep(Duration::from_millis(1));
        }
    });
    let mut got = Vec::new();
    while let Some(buf) = r.read_ready(16 * 1024, &pool).unwrap() {
        got.extend_from_slice(&buf);
    }
    w.join().unwrap();
    assert_eq!(got, (0..50u8).collect::<Vec<_>>());
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn peer_reset_is_an_error_after_the_bytes_read_before_it() {
    let pool = Pool::new();
    let (s, mut c) = tcp_pair();
    let mut r = ReadyFd::new(s).unwrap();
    c.write_all(b"before").unwrap();
    let first = r.read_ready(4096, &pool).unwrap().unwrap();
    assert_eq!(&first[..], b"before");
    drop(first);
    reset(c);
    let e = r.read_ready(4096, &pool).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn wait_timeout() {
    let pool = Pool::new();
    let (a, _b) = UnixStream::pair().unwrap();
    let mut r = ReadyFd::new(a).unwrap();
    r.set_wait_timeout(Some(Duration::from_millis(30)));
    let t = Instant::now();
    let e = r.read_ready(4096, &pool).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert!(t.elapsed() >= Duration::from_millis(30));
    let mut dst = [0u8; 8];
    assert_eq!(
        r.read_ready_into(&mut dst).unwrap_err().kind(),
        io::ErrorKind::TimedOut
    );
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn shutdown_wakes_a_blocked_reader_and_sticks() {
    let pool = std::sync::Arc::new(Pool::new());
    let (a, _b) = UnixStream::pair().unwrap();
    let mut r = ReadyFd::new(a).unwrap();
    let stop = r.shutdown_handle().unwrap();
    let p = pool.clone();
    let t = thread::spawn(move || {
        let e = r.read_ready(4096, &p).unwrap_err();
        (r, e)
    });
    thread::sleep(Duration::from_millis(20));
    assert_eq!(pool.stats().in_use(), 0, "a blocked reader holds no buffer");
    stop.shutdown().unwrap();
    let (mut r, e) = t.join().unwrap();
    assert!(is_shutdown(&e), "{e}");
    assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted);
    assert!(is_shutdown(&r.read_ready(1, &pool).unwrap_err()));
    assert_eq!(pool.stats().in_use(), 0);
}

/// What a shutdown looks like in a log: the error says what happened, the handle whether it
/// was asked.
#[test]
fn a_shutdown_says_what_it_is() {
    let (a, _b) = UnixStream::pair().unwrap();
    let mut r = ReadyFd::new(a).unwrap();
    let stop = r.shutdown_handle().unwrap();
    assert_eq!(format!("{stop:?}"), "ShutdownHandle { requested: false }");
    stop.shutdown().unwrap();
    assert_eq!(format!("{stop:?}"), "ShutdownHandle { requested: true }");
    let e = r.read_ready(1, &Pool::new()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the reader was shut down while waiting for data"
    );
    assert_eq!(ShutdownError.to_string(), e.to_string());
}

#[test]
fn eintr_from_a_signal_without_sa_restart_is_retried() {
    common::catch_sigusr1();
    let pool = std::sync::Arc::new(Pool::new());
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut r = ReadyFd::new(a).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let p = pool.clone();
    let t = thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tx.send(unsafe { libc::pthread_self() } as usize).unwrap();
        r.read_ready(4096, &p).map(|b| b.map(|b| b.to_vec()))
    });
    let tid = rx.recv().unwrap() as libc::pthread_t;
    let before = SIGNALS.load(Ordering::SeqCst);
    for _ in 0..5 {
        thread::sleep(Duration::from_millis(10));
        // SAFETY: the thread is alive (it is blocked reading until we write below).
        assert_eq!(unsafe { libc::pthread_kill(tid, libc::SIGUSR1) }, 0);
    }
    thread::sleep(Duration::from_millis(10));
    // Standard signals do not queue: several sent close together may be handled once.
    assert!(SIGNALS.load(Ordering::SeqCst) > before, "the handler ran");
    b.write_all(b"after signals").unwrap();
    assert_eq!(t.join().unwrap().unwrap().unwrap(), b"after signals");
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn read_ready_into_reads_straight_into_the_slice() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut r = ReadyFd::new(a).unwrap();
    b.write_all(b"direct").unwrap();
    let mut dst = [0u8; 64];
    let n = r.read_ready_into(&mut dst).unwrap();
    assert_eq!(&dst[..n], b"direct");
    drop(b);
    assert_eq!(r.read_ready_into(&mut dst).unwrap(), 0);
}

#[test]
fn blocking_write_through_a_nonblocking_fd() {
    let (a, b) = UnixStream::pair().unwrap();
    let mut w = ReadyFd::new(a).unwrap();
    let mut r = ReadyFd::new(b).unwrap();
    let payload: Vec<u8> = (0..2_000_000u32).map(|i| i as u8).collect();
    let p2 = payload.clone();
    let t = thread::spawn(move || w.write_all(&p2));
    let pool = Pool::new();
    let mut got = Vec::new();
    while got.len() < payload.len() {
        got.extend_from_slice(&r.read_ready(32 * 1024, &pool).unwrap().unwrap());
    }
    t.join().unwrap().unwrap();
    assert!(got == payload);
}

#[test]
fn append_completes_a_partial_record_in_the_same_buffer() {
    let pool = Pool::new();
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut r = ReadyFd::new(a).unwrap();
    b.write_all(b"0123456789").unwrap();
    let mut buf = r.read_ready(4, &pool).unwrap().unwrap();
    assert_eq!(&buf[..], b"0123", "at most `size` bytes");
    let addr = buf.as_ptr();
    assert_eq!(r.append_ready(&mut buf, 3).unwrap(), 3);
    assert_eq!(&buf[..], b"0123456");
    assert_eq!(r.try_append_ready(&mut buf, 100).unwrap(), 3);
    assert_eq!(&buf[..], b"0123456789");
    assert_eq!(buf.as_ptr(), addr, "no new buffer, no copy");
    assert_eq!(
        r.try_append_ready(&mut buf, 100).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    drop(b);
    assert_eq!(r.append_ready(&mut buf, 100).unwrap(), 0, "EOF");
    drop(buf);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn a_blocked_writer_obeys_the_timeout_and_the_shutdown_handle() {
    let (a, _b) = UnixStream::pair().unwrap();
    let mut w = ReadyFd::new(a).unwrap();
    w.set_wait_timeout(Some(Duration::from_millis(20)));
    let big = vec![0u8; 8 << 20]; // more than the socket buffer: the peer never reads
    let e = w.write_all(&big).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    w.set_wait_timeout(None);
    let stop = w.shutdown_handle().unwrap();
    let t = thread::spawn(move || w.write_all(&big));
    thread::sleep(Duration::from_millis(20));
    stop.shutdown().unwrap();
    assert!(is_shutdown(&t.join().unwrap().unwrap_err()));
}

#[test]
fn the_raw_fd_is_the_sockets() {
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let r = ReadyFd::new(a).unwrap();
    assert_eq!(r.as_raw_fd(), fd);
}

#[test]
fn a_write_after_shutdown_fails_at_once_and_sends_nothing() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut w = ReadyFd::new(a).unwrap();
    w.shutdown_handle().unwrap().shutdown().unwrap();
    assert!(is_shutdown(&w.write(b"x").unwrap_err()));
    b.set_nonblocking(true).unwrap();
    let mut got = [0u8; 1];
    assert_eq!(
        io::Read::read(&mut b, &mut got).unwrap_err().kind(),
        io::ErrorKind::WouldBlock,
        "nothing was sent"
    );
}

/// A write to a socket whose peer is gone returns the OS's error (`EPIPE`) instead of waiting
/// or retrying: only `WouldBlock` waits and only `Interrupted` retries. (Run on a thread: a
/// writer that spins fails the test instead of hanging it.)
#[test]
fn a_write_to_a_closed_peer_fails_instead_of_waiting() {
    let (a, b) = UnixStream::pair().unwrap();
    drop(b);
    let mut w = ReadyFd::new(a).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || tx.send(w.write(b"x").map_err(|e| e.kind())));
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the write neither returned nor failed");
    assert_eq!(got, Err(io::ErrorKind::BrokenPipe));
}

/// A transport of our own (any `AsFd` whose `&T` is `io::Write`): its `Interrupted` is
/// retried, and `flush` reaches it.
struct Flaky {
    sock: UnixStream,
    interrupts: std::cell::Cell<u32>,
    flushes: std::cell::Cell<u32>,
}

impl std::os::fd::AsFd for Flaky {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl slackwater_ready::PlaintextFd for Flaky {}

impl io::Write for &Flaky {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.interrupts.get() > 0 {
            self.interrupts.set(self.interrupts.get() - 1);
            return Err(io::ErrorKind::Interrupted.into());
        }
        (&self.sock).write(data)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flushes.set(self.flushes.get() + 1);
        Err(io::Error::other("flushed"))
    }
}

#[test]
fn interrupted_writes_are_retried_and_flush_reaches_the_transport() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut w = ReadyFd::new(Flaky {
        sock: a,
        interrupts: std::cell::Cell::new(3),
        flushes: std::cell::Cell::new(0),
    })
    .unwrap();
    assert_eq!(w.write(b"hi").unwrap(), 2);
    assert_eq!(w.get_ref().interrupts.get(), 0);
    let mut got = [0u8; 2];
    io::Read::read_exact(&mut b, &mut got).unwrap();
    assert_eq!(&got, b"hi");
    assert_eq!(w.flush().unwrap_err().to_string(), "flushed");
    assert_eq!(w.get_ref().flushes.get(), 1);
}

/// A blocking write waiting for room (`poll(2)` on `POLLOUT`) goes on waiting when a signal
/// interrupts the wait (`EINTR`), and writes once the peer drains. One `write` call, not
/// `write_all` (which would retry an `Interrupted` itself).
#[test]
fn a_write_waiting_for_room_survives_signals() {
    common::catch_sigusr1();
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut w = ReadyFd::new(a).unwrap();
    // Fill the socket (the fd is non-blocking now): the next write must wait.
    let chunk = [1u8; 4096];
    let mut queued = 0;
    loop {
        match w.get_ref().write(&chunk) {
            Ok(n) => queued += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let t = thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tx.send(unsafe { libc::pthread_self() } as usize).unwrap();
        w.write(b"after signals").map_err(|e| e.kind())
    });
    let tid = rx.recv().unwrap() as libc::pthread_t;
    let before = SIGNALS.load(Ordering::SeqCst);
    for _ in 0..5 {
        thread::sleep(Duration::from_millis(10));
        // SAFETY: the thread is alive (it waits for room until we read below).
        assert_eq!(unsafe { libc::pthread_kill(tid, libc::SIGUSR1) }, 0);
    }
    thread::sleep(Duration::from_millis(10));
    assert!(SIGNALS.load(Ordering::SeqCst) > before, "the handler ran");
    let mut drained = vec![0u8; queued];
    io::Read::read_exact(&mut b, &mut drained).unwrap();
    assert_eq!(t.join().unwrap(), Ok(13));
    let mut got = [0u8; 13];
    io::Read::read_exact(&mut b, &mut got).unwrap();
    assert_eq!(&got, b"after signals");
}

#[test]
fn debug_shows_the_socket_and_the_timeout() {
    let (a, _b) = UnixStream::pair().unwrap();
    let mut r = ReadyFd::new(a).unwrap();
    r.set_wait_timeout(Some(Duration::from_millis(5)));
    let s = format!("{r:?}");
    assert!(s.starts_with("ReadyFd { io: UnixStream"), "{s}");
    assert!(s.ends_with("timeout: Some(5ms) }"), "{s}");
}

/// A shutdown handle that is never used changes nothing: a read and a write that wait (the
/// wake-up pipe is polled beside the socket) end with the data, not a shutdown.
#[test]
fn an_unused_shutdown_handle_does_not_end_waits() {
    let pool = Pool::new();
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut r = ReadyFd::new(a).unwrap();
    let _stop = r.shutdown_handle().unwrap();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        b.write_all(b"later").unwrap();
        b
    });
    assert_eq!(&r.read_ready(64, &pool).unwrap().unwrap()[..], b"later");
    let mut b = t.join().unwrap();

    // The write side: fill the socket, then wait for room while the peer drains it.
    let _stop = r.shutdown_handle().unwrap();
    let chunk = [2u8; 4096];
    let mut queued = 0;
    while let Ok(n) = r.get_ref().write(&chunk) {
        queued += n;
    }
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        let mut drained = vec![0u8; queued + 4];
        io::Read::read_exact(&mut b, &mut drained).unwrap();
        drained[queued..].to_vec()
    });
    assert_eq!(r.write(b"room").unwrap(), 4);
    assert_eq!(t.join().unwrap(), b"room");
    assert_eq!(pool.stats().in_use(), 0);
}

/// The socket's fd passes through (for a poller), and `Debug` shows the reader's state.
#[test]
fn a_pooled_reader_passes_the_fd_through_and_debug_shows_its_state() {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let r = slackwater_ready::PooledReader::new(
        ReadyFd::new(a).unwrap(),
        64,
        slackwater_ready::global(),
    );
    assert_eq!(r.as_raw_fd(), fd);
    assert_eq!(
        format!("{r:?}"),
        "PooledReader { buffer_size: 64, buffered: 0, eof: false }"
    );
}
