//! A real reset (RST) over loopback TCP, at the `ReadyFd` and `PooledReader` layers, read and
//! write sides.
//!
//! Linux reports `ECONNRESET` once and then `read(2)` returns 0, which reads as a clean end of
//! stream. Each test below checks that premise on the raw fd (a control that fails if the
//! kernel ever starts remembering the error itself, which would make the rest vacuous), then
//! that the layer returns the reset again from every later call of every method.
//!
//! The peer resets by closing with `SO_LINGER {l_onoff: 1, l_linger: 0}`.
#![cfg(target_os = "linux")]

mod common;
use common::{reset, setsockopt_int, tcp_pair};
use slackwater_ready::{
    Buf, Buffered, Pool, PoolHandle, PooledReader, ReadyFd, ReadyRead, ReadyWrite,
};
use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};

/// Waits (at most 5 s) until `fd` reports one of `events` (or an error/hangup), and returns
/// its `revents`. `poll` does not consume a pending socket error.
fn wait_for(fd: RawFd, events: libc::c_short) -> libc::c_short {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 5000) };
    assert_eq!(n, 1, "fd {fd} not ready within 5 s");
    p.revents
}

/// Waits until the RST has been processed on `fd` (POLLERR is reported).
fn wait_for_reset(fd: RawFd) {
    let rev = wait_for(fd, libc::POLLIN);
    assert!(
        rev & libc::POLLERR != 0 || rev & libc::POLLHUP != 0,
        "revents {rev:#x}"
    );
}

/// Bytes queued for reading on `fd` (`FIONREAD`).
fn unread(fd: RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int.
    assert_eq!(unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) }, 0);
    n as usize
}

/// Waits until `n` bytes sit in `fd`'s receive queue, so a reset sent after this cannot
/// overtake them.
fn wait_unread(fd: RawFd, n: usize) {
    let t = std::time::Instant::now();
    while unread(fd) < n {
        assert!(
            t.elapsed().as_secs() < 5,
            "only {} of {n} bytes arrived",
            unread(fd)
        );
        std::thread::yield_now();
    }
}

/// `read(2)` on the raw fd, bypassing every layer.
fn raw_read(fd: RawFd) -> io::Result<usize> {
    let mut b = [0u8; 64];
    // SAFETY: `b` is writable for its length.
    let r = unsafe { libc::read(fd, b.as_mut_ptr().cast(), b.len()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn is_reset(r: &io::Error) -> bool {
    r.kind() == io::ErrorKind::ConnectionReset && r.raw_os_error() == Some(libc::ECONNRESET)
}

/// The five read methods of `ReadyRead`, by index, each returning its error (panicking on
/// success: after a reset nothing may succeed, not even with 0 bytes or `None`).
const READ_METHODS: [&str; 5] = [
    "read_ready",
    "try_read_ready",
    "read_ready_into",
    "append_ready",
    "try_append_ready",
];

fn read_err(r: &mut impl ReadyRead, which: usize, pool: &Pool) -> io::Error {
    let mut dst = [0xAAu8; 64];
    let mut buf = pool.get(256).unwrap();
    buf.extend_from_slice(b"kept").unwrap();
    let res: io::Result<String> = match which {
        0 => r
            .read_ready(4096, pool)
            .map(|b| format!("{:?}", b.map(|b| b.len()))),
        1 => r
            .try_read_ready(4096, pool)
            .map(|b| format!("{:?}", b.map(|b| b.len()))),
        2 => r.read_ready_into(&mut dst).map(|n| format!("{n} bytes")),
        3 => r.append_ready(&mut buf, 100).map(|n| format!("{n} bytes")),
        _ => r
            .try_append_ready(&mut buf, 100)
            .map(|n| format!("{n} bytes")),
    };
    // A failed read changes nothing the caller holds.
    assert_eq!(&buf[..], b"kept");
    assert!(dst.iter().all(|&b| b == 0xAA));
    match res {
        Ok(v) => panic!("{} after a reset returned Ok({v})", READ_METHODS[which]),
        Err(e) => e,
    }
}

#[test]
fn sigpipe_is_ignored_in_this_test_binary() {
    // The write tests below rely on a write to a broken socket failing with EPIPE rather than
    // killing the process. std's TcpStream sends with MSG_NOSIGNAL, but a Unix socket write
    // (or a raw write(2)) does not; what covers those is that the Rust runtime sets SIGPIPE
    // to SIG_IGN before main, libtest binaries included. Checked, not assumed.
    // SAFETY: a query only (null new action), into a zeroed sigaction.
    let old = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(
            libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old),
            0
        );
        old
    };
    assert_eq!(old.sa_sigaction, libc::SIG_IGN);
}

#[test]
fn control_the_kernel_reports_a_reset_once_then_reads_zero() {
    // The premise of every test below: on Linux a reset is an error once, then EOF.
    let (mut s, c) = tcp_pair();
    reset(c);
    wait_for_reset(s.as_raw_fd());
    let mut b = [0u8; 16];
    let e = s.read(&mut b).unwrap_err();
    assert!(is_reset(&e), "{e}");
    for _ in 0..3 {
        assert_eq!(s.read(&mut b).unwrap(), 0, "the kernel forgot the reset");
    }
}

#[test]
fn ready_fd_reset_is_sticky_whichever_read_method_sees_it_first() {
    for (first, name) in READ_METHODS.iter().enumerate() {
        let pool = Pool::new();
        let (s, c) = tcp_pair();
        let fd = s.as_raw_fd();
        let mut r = ReadyFd::new(s).unwrap();
        reset(c);
        wait_for_reset(fd);
        let e = read_err(&mut r, first, &pool);
        assert!(is_reset(&e), "{name} first: {e}");
        // The OS has forgotten: the raw fd now reads as a clean end of stream...
        assert_eq!(raw_read(fd).unwrap(), 0);
        // ...and the layer has not.
        for round in 0..3 {
            for (m, then) in READ_METHODS.iter().enumerate() {
                let e = read_err(&mut r, m, &pool);
                assert!(is_reset(&e), "{name} first, round {round}, {then}: {e}");
            }
        }
        assert_eq!(pool.stats().in_use(), 0);
    }
}

#[test]
fn ready_fd_returns_bytes_received_before_the_reset_then_the_reset() {
    // What is deterministic: bytes already in our receive queue when the RST arrives stay
    // readable on Linux (the RST purges the *sender's* write queue, not our receive queue;
    // checked on 6.18). The test waits with FIONREAD until all sent bytes are queued here,
    // so no byte can be lost in flight.
    let data = pattern(3000);
    for (first, name) in READ_METHODS.iter().enumerate() {
        let pool = Pool::new();
        let (s, mut c) = tcp_pair();
        let fd = s.as_raw_fd();
        let mut r = ReadyFd::new(s).unwrap();
        c.write_all(&data).unwrap();
        wait_unread(fd, data.len());
        reset(c);
        wait_for_reset(fd);
        let mut got = Vec::new();
        let e = loop {
            // 1000 bytes at a time with the method under test.
            let res = match first {
                0 => r.read_ready(1000, &pool).map(|b| b.map(|b| b.to_vec())),
                1 => r.try_read_ready(1000, &pool).map(|b| b.map(|b| b.to_vec())),
                2 => {
                    let mut d = [0u8; 1000];
                    r.read_ready_into(&mut d).map(|n| Some(d[..n].to_vec()))
                }
                m => {
                    let mut b: Buf = pool.get(1000).unwrap();
                    if m == 3 {
                        r.append_ready(&mut b, 1000)
                    } else {
                        r.try_append_ready(&mut b, 1000)
                    }
                    .map(|_| Some(b.to_vec()))
                }
            };
            match res {
                Ok(Some(v)) if !v.is_empty() => got.extend_from_slice(&v),
                Ok(v) => panic!("{name}: {v:?} before the reset"),
                Err(e) => break e,
            }
        };
        assert!(got == data, "{name}: {} bytes", got.len());
        assert!(is_reset(&e), "{name}: {e}");
        assert_eq!(raw_read(fd).unwrap(), 0, "the kernel forgot");
        for _ in 0..3 {
            for m in 0..READ_METHODS.len() {
                assert!(is_reset(&read_err(&mut r, m, &pool)));
            }
        }
        assert_eq!(pool.stats().in_use(), 0);
    }
}

/// The three ways to read a `PooledReader`: `read` into less than its buffer size (through
/// its pooled buffer), `read` into at least its buffer size (straight into the slice), and
/// `fill_buf`.
fn pooled_err<R: ReadyRead>(r: &mut PooledReader<R>, which: usize) -> io::Error {
    let res = match which {
        0 => r.read(&mut [0u8; 100]),
        1 => r.read(&mut [0u8; 8192]),
        _ => r.fill_buf().map(<[u8]>::len),
    };
    match res {
        Ok(n) => panic!("PooledReader method {which} after a reset returned Ok({n})"),
        Err(e) => e,
    }
}

#[test]
fn pooled_reader_over_ready_fd_reset_is_sticky() {
    for first in 0..3 {
        let pool = PoolHandle::from(Pool::new());
        let (s, c) = tcp_pair();
        let fd = s.as_raw_fd();
        let mut r = PooledReader::new(ReadyFd::new(s).unwrap(), 4096, pool.clone());
        reset(c);
        wait_for_reset(fd);
        assert!(is_reset(&pooled_err(&mut r, first)), "method {first} first");
        assert_eq!(raw_read(fd).unwrap(), 0, "the kernel forgot");
        for _ in 0..3 {
            for m in 0..3 {
                let e = pooled_err(&mut r, m);
                assert!(is_reset(&e), "method {first} first, then {m}: {e}");
            }
        }
        assert_eq!(r.buffered(), 0);
        assert_eq!(pool.stats().in_use(), 0);
    }
}

#[test]
fn pooled_reader_over_ready_fd_data_then_reset() {
    let data = pattern(5000);
    let pool = PoolHandle::from(Pool::new());
    let (s, mut c) = tcp_pair();
    let fd = s.as_raw_fd();
    let mut r = PooledReader::new(ReadyFd::new(s).unwrap(), 4096, pool.clone());
    c.write_all(&data).unwrap();
    wait_unread(fd, data.len());
    reset(c);
    wait_for_reset(fd);
    let mut got = Vec::new();
    let mut piece = [0u8; 700];
    let e = loop {
        match r.read(&mut piece) {
            Ok(0) => panic!("a clean EOF after {} bytes of a reset stream", got.len()),
            Ok(n) => got.extend_from_slice(&piece[..n]),
            Err(e) => break e,
        }
    };
    assert!(got == data, "{} bytes", got.len());
    assert!(is_reset(&e), "{e}");
    for _ in 0..3 {
        for m in 0..3 {
            assert!(is_reset(&pooled_err(&mut r, m)));
        }
    }
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn pooled_reader_remembers_a_reset_its_source_forgets() {
    // `Buffered` over a plain TcpStream passes each read through: it forgets the reset the way
    // the kernel does (the control). `PooledReader` over it must remember on its own.
    let pool = PoolHandle::from(Pool::new());
    let (s, c) = tcp_pair();
    let fd = s.as_raw_fd();
    let mut src = Buffered::new(s);
    reset(c);
    wait_for_reset(fd);
    let e = src.read_ready(100, &pool).unwrap_err();
    assert!(is_reset(&e), "{e}");
    assert!(
        src.read_ready(100, &pool).unwrap().is_none(),
        "control: Buffered forgets"
    );

    for first in 0..3 {
        let (s, c) = tcp_pair();
        let fd = s.as_raw_fd();
        let mut r = PooledReader::new(Buffered::new(s), 4096, pool.clone());
        reset(c);
        wait_for_reset(fd);
        assert!(is_reset(&pooled_err(&mut r, first)), "method {first} first");
        for _ in 0..3 {
            for m in 0..3 {
                let e = pooled_err(&mut r, m);
                assert!(is_reset(&e), "method {first} first, then {m}: {e}");
            }
        }
        assert_eq!(pool.stats().in_use(), 0);
    }
}

/// Every write method of a `ReadyFd`, each returning its error.
fn write_errs(w: &mut ReadyFd<TcpStream>, pool: &Pool) -> [io::Error; 4] {
    let mut b = pool.get(16).unwrap();
    b.extend_from_slice(b"buf").unwrap();
    [
        w.queue(b"more").unwrap_err(),
        w.queue_buf(b).unwrap_err(),
        w.try_flush_ready().unwrap_err(),
        w.flush_ready().unwrap_err(),
    ]
}

#[test]
fn ready_fd_write_after_a_reset_fails_and_sticks() {
    let pool = PoolHandle::from(Pool::new());
    let (s, c) = tcp_pair();
    let fd = s.as_raw_fd();
    let mut w = ReadyFd::new(s).unwrap().with_pool(pool.clone());
    reset(c);
    wait_for_reset(fd);
    w.queue(b"into a reset socket").unwrap(); // queueing never writes
    assert!(w.queued() > 0);
    let e = w.try_flush_ready().unwrap_err();
    // Linux: the first send after the RST reports ECONNRESET, later ones EPIPE.
    assert!(is_reset(&e), "{e}");
    assert_eq!((w.queued(), w.write_queue().buffers()), (0, 0));
    assert_eq!(w.write_queue().capacity_bytes(), 0);
    assert_eq!(pool.stats().in_use(), 0);
    // The OS now says EPIPE; the layer keeps saying what happened.
    // SAFETY: 1 readable byte.
    let r = unsafe { libc::send(fd, b"x".as_ptr().cast(), 1, libc::MSG_NOSIGNAL) };
    assert_eq!(
        (r, io::Error::last_os_error().raw_os_error()),
        (-1, Some(libc::EPIPE))
    );
    for _ in 0..3 {
        for e in write_errs(&mut w, &pool) {
            assert!(is_reset(&e), "{e}");
        }
        assert_eq!(w.queued(), 0);
    }
    assert_eq!(w.write_queue().capacity_bytes(), 0);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn ready_fd_reset_mid_flush_drops_the_queue_and_sticks() {
    let pool = PoolHandle::from(Pool::new());
    let (s, c) = tcp_pair();
    let fd = s.as_raw_fd();
    setsockopt_int(fd, libc::SO_SNDBUF, 8 * 1024);
    setsockopt_int(c.as_raw_fd(), libc::SO_RCVBUF, 8 * 1024);
    let mut w = ReadyFd::new(s).unwrap().with_pool(pool.clone());
    let data = pattern(1 << 20);
    for piece in data.chunks(10_000) {
        w.queue(piece).unwrap();
    }
    let e = w.try_flush_ready().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
    let left = w.queued();
    assert!(left > 0 && left < data.len(), "{left}");
    assert!(w.wants_writable() && w.write_queue().buffers() > 0);
    assert!(pool.stats().in_use() > 0);
    // The peer resets with our bytes unread in its receive queue.
    reset(c);
    let rev = wait_for(fd, libc::POLLOUT);
    assert!(rev & libc::POLLERR != 0, "revents {rev:#x}");
    let e = w.try_flush_ready().unwrap_err();
    assert!(is_reset(&e), "{e}");
    assert_eq!((w.queued(), w.write_queue().buffers()), (0, 0));
    assert!(!w.wants_writable() && !w.is_write_full());
    assert_eq!(w.write_queue().capacity_bytes(), 0);
    assert_eq!(pool.stats().in_use(), 0, "every queued buffer went back");
    for _ in 0..3 {
        for e in write_errs(&mut w, &pool) {
            assert!(is_reset(&e), "{e}");
        }
    }
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn ready_fd_reset_seen_by_a_write_is_not_a_clean_eof_for_reads() {
    // The write side consumes the socket's one ECONNRESET; the kernel then reads 0. A read on
    // the same ReadyFd must not report a clean end of stream for a reset connection.
    let pool = PoolHandle::from(Pool::new());
    let (s, c) = tcp_pair();
    let fd = s.as_raw_fd();
    let mut w = ReadyFd::new(s).unwrap().with_pool(pool.clone());
    reset(c);
    wait_for_reset(fd);
    w.queue(b"x").unwrap();
    assert!(is_reset(&w.try_flush_ready().unwrap_err()));
    for (m, name) in READ_METHODS.iter().enumerate() {
        let e = read_err(&mut w, m, &pool);
        assert_eq!(
            e.kind(),
            io::ErrorKind::ConnectionReset,
            "{name} after a reset seen by a write: {e}"
        );
    }
    assert_eq!(pool.stats().in_use(), 0);
}

/// The first fatal error is the one that stays: a reset seen by a read, then the write's own
/// failure on the dead socket (the kernel says `EPIPE` by then) does not replace it, and later
/// reads still report the reset.
#[test]
fn ready_fd_keeps_the_first_fatal_error_when_a_write_fails_after_it() {
    let pool = PoolHandle::from(Pool::new());
    let (s, c) = tcp_pair();
    let fd = s.as_raw_fd();
    let mut w = ReadyFd::new(s).unwrap().with_pool(pool.clone());
    reset(c);
    wait_for_reset(fd);
    let e = w.try_read_ready(64, &pool).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET), "{e}");
    w.queue(b"x").unwrap();
    let _ = w.try_flush_ready();
    for (m, name) in READ_METHODS.iter().enumerate() {
        let e = read_err(&mut w, m, &pool);
        assert_eq!(
            e.raw_os_error(),
            Some(libc::ECONNRESET),
            "{name} after a failed write: {e}"
        );
    }
    assert_eq!(pool.stats().in_use(), 0);
}
