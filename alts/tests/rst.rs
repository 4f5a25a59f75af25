//! A real reset (RST) and a clean FIN inside a record, over loopback TCP, under
//! `Conn<ReadyFd<TcpStream>>`: whole records first, then the error, again from every later
//! read of every method, and no buffer held after it.
//!
//! Linux reports `ECONNRESET` once and then reads 0; `control_the_kernel_forgets_the_reset`
//! checks that premise here, so the stickiness asserted below is the layers' own.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use slackwater_alts::{AltsError, Backend, Conn, PoolHandle, Protocol, Side};
use slackwater_ready::{Pool, ReadyFd, ReadyRead};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

const PROTOCOLS: [Protocol; 2] = [Protocol::Aes128Gcm, Protocol::Aes128GcmRekey];

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (s, c)
}

/// Closes `s` with `SO_LINGER {on, 0}`: the kernel sends RST instead of FIN.
fn reset(s: TcpStream) {
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

/// Waits (at most 5 s) until `fd` is readable or in error; `poll` consumes nothing.
fn wait_readable(fd: RawFd) -> libc::c_short {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 5000) };
    assert_eq!(n, 1, "fd {fd} not ready");
    p.revents
}

/// Waits until `n` bytes sit in `fd`'s receive queue (so a reset sent next cannot overtake
/// them: on Linux, bytes already queued stay readable before the reset is reported).
fn wait_unread(fd: RawFd, n: usize) {
    let t = std::time::Instant::now();
    loop {
        let mut q: libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int.
        assert_eq!(unsafe { libc::ioctl(fd, libc::FIONREAD, &mut q) }, 0);
        if q as usize >= n {
            return;
        }
        assert!(t.elapsed().as_secs() < 5, "{q} of {n} bytes arrived");
        std::thread::yield_now();
    }
}

fn message(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The frames of a wire stream.
fn frames(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let len = u32::from_le_bytes(data[i..i + 4].try_into().unwrap()) as usize;
        out.push(data[i..i + 4 + len].to_vec());
        i += 4 + len;
    }
    out
}

/// What the peer sends: two messages as whole records (the second spans two records), then
/// `part` bytes of the record of a third message. Returns (bytes, plaintext of the whole
/// records).
fn peer_bytes(p: Protocol, part: usize) -> (Vec<u8>, Vec<u8>) {
    let m1 = message(1000, 1);
    let m2 = message(5000, 2); // 4072 + 928: two records
    let m3 = message(3000, 3);
    let f = frames(&wire(p, Side::Client, 4096, &[&m1, &m2, &m3]));
    assert_eq!(f.len(), 4);
    assert!(part < f[3].len());
    let bytes = [&f[0][..], &f[1], &f[2], &f[3][..part]].concat();
    (bytes, [m1, m2].concat())
}

type Reader = Conn<ReadyFd<TcpStream>>;

fn reader(s: TcpStream, p: Protocol, pool: &PoolHandle) -> Reader {
    Conn::new(
        ReadyFd::new(s).unwrap(),
        crypter(p, Side::Server, Backend::default()),
    )
    .with_pool(pool.clone())
}

const METHODS: [&str; 6] = [
    "read_ready",
    "try_read_ready",
    "read_ready_into",
    "append_ready",
    "try_append_ready",
    "io::Read::read",
];

/// Calls read method `which` and returns its error; panics on any success (after the end of a
/// broken stream nothing may succeed, not even `Ok(None)` or 0 bytes).
fn read_err(r: &mut Reader, which: usize, pool: &Pool) -> io::Error {
    let mut dst = [0u8; 4096];
    let mut buf = pool.get(4096).unwrap();
    let res: io::Result<usize> = match which {
        0 => r.read_ready(4096, pool).map(|b| b.map_or(0, |b| b.len())),
        1 => r
            .try_read_ready(4096, pool)
            .map(|b| b.map_or(0, |b| b.len())),
        2 => r.read_ready_into(&mut dst),
        3 => r.append_ready(&mut buf, 4096),
        4 => r.try_append_ready(&mut buf, 4096),
        _ => r.read(&mut dst),
    };
    match res {
        Ok(n) => panic!("{} returned Ok({n})", METHODS[which]),
        Err(e) => e,
    }
}

/// Reads plaintext with method `which` until an error, and returns both.
fn read_until_error(r: &mut Reader, which: usize, pool: &Pool) -> (Vec<u8>, io::Error) {
    let mut got = Vec::new();
    loop {
        let mut dst = [0u8; 1500];
        let mut buf = pool.get(1500).unwrap();
        let res: io::Result<Option<Vec<u8>>> = match which {
            0 => r.read_ready(1500, pool).map(|b| b.map(|b| b.to_vec())),
            1 => match r.try_read_ready(1500, pool) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_readable(r.as_raw_fd());
                    continue;
                }
                res => res.map(|b| b.map(|b| b.to_vec())),
            },
            2 => r.read_ready_into(&mut dst).map(|n| Some(dst[..n].to_vec())),
            3 => r.append_ready(&mut buf, 1500).map(|_| Some(buf.to_vec())),
            4 => match r.try_append_ready(&mut buf, 1500) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_readable(r.as_raw_fd());
                    continue;
                }
                res => res.map(|_| Some(buf.to_vec())),
            },
            _ => r.read(&mut dst).map(|n| Some(dst[..n].to_vec())),
        };
        match res {
            Ok(Some(v)) if !v.is_empty() => got.extend_from_slice(&v),
            Ok(_) => panic!("{}: a clean end after {} bytes", METHODS[which], got.len()),
            Err(e) => return (got, e),
        }
    }
}

fn is_reset(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::ConnectionReset
        && matches!(AltsError::from_io(e), Some(AltsError::Io(inner))
            if inner.kind() == io::ErrorKind::ConnectionReset)
}

fn is_truncated(e: &io::Error, buffered: usize) -> bool {
    e.kind() == io::ErrorKind::UnexpectedEof
        && AltsError::from_io(e) == Some(&AltsError::Truncated { buffered })
}

/// After the first error: every method, three times, the same error; no buffer held.
fn assert_sticky(r: &mut Reader, pool: &PoolHandle, ok: impl Fn(&io::Error) -> bool) {
    for round in 0..3 {
        for (m, name) in METHODS.iter().enumerate() {
            let e = read_err(r, m, pool);
            assert!(ok(&e), "round {round}, {name}: {e:?}");
            assert!(!r.holds_buffer());
        }
    }
    assert_eq!(r.read_buffer_bytes(), 0);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn control_the_kernel_forgets_the_reset() {
    let (mut s, c) = tcp_pair();
    reset(c);
    wait_readable(s.as_raw_fd());
    let mut b = [0u8; 8];
    assert_eq!(
        s.read(&mut b).unwrap_err().kind(),
        io::ErrorKind::ConnectionReset
    );
    assert_eq!(
        s.read(&mut b).unwrap(),
        0,
        "the kernel reads 0 after a reset"
    );
}

#[test]
fn records_then_a_partial_record_then_a_reset() {
    for p in PROTOCOLS {
        for (first, name) in METHODS.iter().enumerate() {
            let pool = PoolHandle::from(Pool::new());
            let (s, mut c) = tcp_pair();
            let fd = s.as_raw_fd();
            let mut r = reader(s, p, &pool);
            let (bytes, plain) = peer_bytes(p, 100);
            c.write_all(&bytes).unwrap();
            wait_unread(fd, bytes.len());
            reset(c);
            wait_readable(fd);
            let (got, e) = read_until_error(&mut r, first, &pool);
            assert!(got == plain, "{p:?}, {}: {} bytes", name, got.len());
            assert!(is_reset(&e), "{p:?}, {}: {e:?}", name);
            assert!(!r.holds_buffer(), "the partial record was dropped");
            assert_sticky(&mut r, &pool, is_reset);
        }
    }
}

#[test]
fn a_reset_while_waiting_inside_a_record() {
    // Deterministic whatever the kernel does with queued bytes: the whole records are read
    // before the reset is sent, and the partial record is held when it comes.
    for p in PROTOCOLS {
        let pool = PoolHandle::from(Pool::new());
        let (s, mut c) = tcp_pair();
        let fd = s.as_raw_fd();
        let mut r = reader(s, p, &pool);
        let (bytes, plain) = peer_bytes(p, 100);
        c.write_all(&bytes).unwrap();
        let mut got = Vec::new();
        while got.len() < plain.len() {
            got.extend_from_slice(&r.read_ready(4096, &pool).unwrap().unwrap());
        }
        assert!(got == plain);
        let e = loop {
            match r.try_read_ready(4096, &pool) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && r.holds_buffer() => break e,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_readable(fd);
                }
                res => panic!("{res:?}"),
            }
        };
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(r.holds_buffer(), "waiting with the partial record");
        assert_eq!(pool.stats().in_use(), 1);
        reset(c);
        wait_readable(fd);
        let e = r.read_ready(4096, &pool).unwrap_err();
        assert!(is_reset(&e), "{e:?}");
        assert!(!r.holds_buffer(), "released on the error");
        assert_sticky(&mut r, &pool, is_reset);
    }
}

#[test]
fn a_fin_inside_a_record_is_truncated_with_the_bytes_received() {
    for p in PROTOCOLS {
        for (first, part) in [(0, 100), (1, 3), (2, 8), (3, 500), (4, 1), (5, 2000)] {
            let pool = PoolHandle::from(Pool::new());
            let (s, mut c) = tcp_pair();
            let mut r = reader(s, p, &pool);
            let (bytes, plain) = peer_bytes(p, part);
            c.write_all(&bytes).unwrap();
            c.shutdown(Shutdown::Write).unwrap(); // FIN
            let (got, e) = read_until_error(&mut r, first, &pool);
            assert!(got == plain, "{p:?}, {}", METHODS[first]);
            assert!(
                is_truncated(&e, part),
                "{p:?}, {}, {part}: {e:?}",
                METHODS[first]
            );
            assert_sticky(&mut r, &pool, |e| is_truncated(e, part));
            drop(c);
        }
    }
}

#[test]
fn a_fin_between_records_is_a_clean_end_every_time() {
    let pool = PoolHandle::from(Pool::new());
    let (s, mut c) = tcp_pair();
    let mut r = reader(s, Protocol::Aes128Gcm, &pool);
    let (bytes, plain) = peer_bytes(Protocol::Aes128Gcm, 0);
    c.write_all(&bytes).unwrap();
    drop(c);
    let mut got = Vec::new();
    while let Some(b) = r.read_ready(4096, &pool).unwrap() {
        got.extend_from_slice(&b);
    }
    assert!(got == plain);
    for _ in 0..3 {
        assert!(r.read_ready(4096, &pool).unwrap().is_none());
        assert!(r.try_read_ready(4096, &pool).unwrap().is_none());
        assert_eq!(r.read(&mut [0u8; 64]).unwrap(), 0);
    }
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn a_reset_seen_by_a_write_fails_later_reads() {
    // The kernel reports the reset to one call only; when the write side sees it, a read must
    // not find a clean end of stream afterwards.
    use slackwater_ready::ReadyWrite;
    for p in PROTOCOLS {
        let pool = PoolHandle::from(Pool::new());
        let (s, c) = tcp_pair();
        let fd = s.as_raw_fd();
        let mut conn = Conn::new(
            ReadyFd::new(s).unwrap().with_pool(pool.clone()),
            crypter(p, Side::Server, Backend::default()),
        )
        .with_pool(pool.clone());
        reset(c);
        wait_readable(fd);
        conn.queue(b"into a reset connection").unwrap();
        let e = conn.try_flush_ready().unwrap_err();
        assert!(is_reset(&e), "{p:?}: {e:?}");
        assert_eq!(conn.queued(), 0);
        assert_sticky(&mut conn, &pool, is_reset);
    }
}
