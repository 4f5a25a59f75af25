//! The write side of `Conn<ReadyFd<_>>`: plaintext queued into records sealed in place,
//! flushed into a socket that fills and drains, read back by a peer `Conn`; the wire bytes
//! against `seal_record`; a reset mid-flush; and allocations per record in steady state.
//! Its own test binary for its counting global allocator (counted per thread).

mod common;

use common::*;
use slackwater_alts::{AltsError, Backend, Config, Conn, PoolHandle, Protocol, Side};
use slackwater_ready::{Pool, ReadyFd, ReadyWrite};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::thread;

struct Counting;
std::thread_local! {
    /// Heap allocations (alloc, alloc_zeroed, realloc) made by this thread.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

const PROTOCOLS: [Protocol; 2] = [Protocol::Aes128Gcm, Protocol::Aes128GcmRekey];
const FRAMES: [usize; 2] = [4096, 16 * 1024];
const SIZES: [usize; 6] = [0, 1, 4072, 4073, 16 * 1024, 1 << 20];

fn message(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn setsockopt_int(fd: RawFd, opt: libc::c_int, v: libc::c_int) {
    // SAFETY: a valid socket and a correctly sized `c_int`.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
}

/// Waits (at most 10 s) until `fd` is writable (or in error).
fn wait_writable(fd: RawFd) -> libc::c_short {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 10_000) };
    assert_eq!(n, 1, "not writable in 10 s");
    p.revents
}

fn config(frame: usize) -> Config {
    Config::builder().frame_size(frame).build().unwrap()
}

/// A writing client `Conn` over `sock`, everything from `pool`.
fn writer<T: slackwater_ready::PlaintextFd>(
    sock: T,
    p: Protocol,
    frame: usize,
    pool: &PoolHandle,
) -> Conn<ReadyFd<T>> {
    Conn::new(
        ReadyFd::new(sock).unwrap().with_pool(pool.clone()),
        crypter(p, Side::Client, Backend::default()),
    )
    .with_pool(pool.clone())
    .with_config(config(frame))
}

/// A Unix socket pair whose first end has a small send buffer (8 KiB here, after the kernel
/// doubles it).
fn small_pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    setsockopt_int(a.as_raw_fd(), libc::SO_SNDBUF, 4096);
    (a, b)
}

/// Where records end on the wire when `payloads` are sealed one per record.
fn record_ends(payloads: &[usize]) -> Vec<usize> {
    let mut at = 0;
    payloads
        .iter()
        .map(|&n| {
            at += n + slackwater_alts::OVERHEAD;
            at
        })
        .collect()
}

/// The payload sizes `queue(data)` + flush makes: whole frames, then the rest.
fn split(len: usize, frame: usize) -> Vec<usize> {
    let max = frame - slackwater_alts::OVERHEAD;
    (0..len).step_by(max).map(|i| max.min(len - i)).collect()
}

/// Flushes until done, waiting for writability; returns how many `WouldBlock`s it saw.
fn flush_all<T: AsFd>(w: &mut Conn<ReadyFd<T>>) -> usize
where
    for<'a> &'a T: Write,
{
    let mut blocks = 0;
    loop {
        match w.try_flush_ready() {
            Ok(()) => return blocks,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(w.wants_writable() && w.queued() > 0);
                blocks += 1;
                wait_writable(w.as_raw_fd());
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[test]
fn queue_and_flush_round_trip_with_would_block_mid_record() {
    let mut mid_record = 0;
    let mut blocked_cases = 0;
    for p in PROTOCOLS {
        for frame in FRAMES {
            for size in SIZES {
                let what = format!("{p:?}, frame {frame}, {size} B");
                let pool = PoolHandle::from(Pool::new());
                let (a, b) = small_pair();
                let mut w = writer(a, p, frame, &pool);
                let msg = message(size, size as u8);
                w.queue(&msg).unwrap();
                let payloads = split(size, frame);
                let total: usize = payloads.iter().map(|n| n + slackwater_alts::OVERHEAD).sum();
                // Before the flush the last record is still open (unsealed) in this layer.
                if size > 0 {
                    assert!(w.write_buffer_bytes() > 0, "{what}");
                }
                // The peer is not reading yet: the socket takes what it can.
                let first = w.try_flush_ready();
                match &first {
                    Ok(()) => assert_eq!(w.queued(), 0, "{what}"),
                    Err(e) => {
                        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{what}: {e}");
                        blocked_cases += 1;
                        // Everything is sealed and handed down: only the transport holds it.
                        assert_eq!(w.write_buffer_bytes(), 0, "{what}");
                        let queued = w.queued();
                        assert_eq!(queued, w.get_ref().queued(), "{what}");
                        assert!(queued > 0 && queued < total, "{what}: {queued} of {total}");
                        let sent = total - queued;
                        if !record_ends(&payloads).contains(&sent) {
                            mid_record += 1;
                        }
                    }
                }
                if size >= 16 * 1024 {
                    assert!(first.is_err(), "{what}: an 8 KiB socket took {total} B");
                }
                let pool_r = PoolHandle::from(Pool::new());
                let t = thread::spawn(move || {
                    let mut r = Conn::new(
                        ReadyFd::new(b).unwrap(),
                        crypter(p, Side::Server, Backend::default()),
                    )
                    .with_pool(pool_r.clone());
                    let got = drain_blocking(&mut r, &pool_r).unwrap();
                    assert_eq!(pool_r.stats().in_use(), 0);
                    got
                });
                flush_all(&mut w);
                assert_eq!(w.queued(), 0, "{what}");
                assert!(!w.wants_writable());
                assert_eq!(w.write_buffer_bytes(), 0, "{what}");
                assert_eq!(w.get_ref().write_queue().capacity_bytes(), 0, "{what}");
                assert_eq!(pool.stats().in_use(), 0, "{what}");
                drop(w); // EOF after the last record
                let got = t.join().unwrap();
                assert!(got == msg, "{what}: {} bytes back", got.len());
            }
        }
    }
    // 2 protocols x 2 frames x the 2 sizes above the socket buffer.
    assert!(blocked_cases >= 8, "{blocked_cases}");
    assert!(
        mid_record >= 8,
        "a WouldBlock in the middle of a record in {mid_record} of {blocked_cases} cases"
    );
}

#[test]
fn many_small_queues_fill_records_before_sealing() {
    // 1000 queues of 1025 bytes, flushed only when the queue passes its high-water mark: the
    // records are as full as one queue of the same bytes would make them, except that each
    // flush seals the open record (the peer reads back every byte).
    let pool = PoolHandle::from(Pool::new());
    let (a, b) = small_pair();
    let mut w = writer(a, Protocol::Aes128GcmRekey, 4096, &pool);
    let msg = message(1_025_000, 9);
    let t = thread::spawn(move || {
        let mut raw = Vec::new();
        let mut b = b;
        b.read_to_end(&mut raw).unwrap();
        raw
    });
    let mut records = 0;
    let mut since_flush = 0;
    let mut flushes = 0;
    for piece in msg.chunks(1025) {
        w.queue(piece).unwrap();
        since_flush += piece.len();
        if w.is_write_full() {
            flush_all(&mut w); // backpressure: above the high-water mark, flush first
            records += split(since_flush, 4096).len();
            since_flush = 0;
            flushes += 1;
        }
    }
    flush_all(&mut w);
    records += split(since_flush, 4096).len();
    assert!(flushes >= 3, "{flushes}");
    assert_eq!(pool.stats().in_use(), 0);
    drop(w);
    let raw = t.join().unwrap();
    assert_eq!(raw.len(), msg.len() + records * 24, "full records");
    let mut r = Conn::new(
        slackwater_ready::Buffered::new(&raw[..]),
        crypter(Protocol::Aes128GcmRekey, Side::Server, Backend::default()),
    );
    let back = drain_blocking(&mut r, &Pool::new()).unwrap();
    assert!(back == msg);
}

/// The wire bytes of `flushes` (each a list of `queue` calls followed by one flush) written
/// by a `Conn` over a socket, captured raw at the peer.
fn wire_via_queue(p: Protocol, frame: usize, flushes: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let pool = PoolHandle::from(Pool::new());
    let (a, mut b) = small_pair();
    let t = thread::spawn(move || {
        let mut raw = Vec::new();
        b.read_to_end(&mut raw).unwrap();
        raw
    });
    let mut w = writer(a, p, frame, &pool);
    for f in flushes {
        for q in f {
            w.queue(q).unwrap();
        }
        flush_all(&mut w);
    }
    assert_eq!(pool.stats().in_use(), 0);
    drop(w);
    t.join().unwrap()
}

#[test]
fn queued_records_are_byte_identical_to_seal_record() {
    let pool = Pool::new();
    for p in PROTOCOLS {
        for frame in FRAMES {
            let flushes = vec![
                vec![message(100, 1), message(5000, 2), message(3, 3)],
                vec![message(7000, 4)],
                vec![Vec::new()], // an empty queue + flush sends nothing
                vec![message(frame - 24, 5)],
                vec![message(1 << 20, 6)],
            ];
            let got = wire_via_queue(p, frame, &flushes);
            // The same payload split through seal_record: each flush's bytes in whole frames.
            let mut sealer = Conn::new(
                Vec::<u8>::new(),
                crypter(p, Side::Client, Backend::default()),
            )
            .with_config(config(frame));
            let mut want = Vec::new();
            for f in &flushes {
                let bytes = f.concat();
                for chunk in bytes.chunks(frame - 24) {
                    let mut out = pool.get(frame).unwrap();
                    sealer.seal_record(chunk, &mut out).unwrap();
                    want.extend_from_slice(&out);
                }
            }
            assert!(
                got == want,
                "{p:?}, frame {frame}: {} vs {} B",
                got.len(),
                want.len()
            );
            // And to the blocking io::Write path (common::wire) for one message.
            let one = message(40_000, 7);
            let via_queue = wire_via_queue(p, frame, &[vec![one.clone()]]);
            assert!(
                via_queue == wire(p, Side::Client, frame, &[&one]),
                "{p:?} {frame}"
            );
        }
    }
    assert_eq!(pool.stats().in_use(), 0);
}

// ---- a reset (or a closed peer) mid-flush ----

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
    assert_eq!(r, 0);
    drop(s);
}

/// Every write method of `w`, each returning its error (three rounds), checked by `ok`; and
/// nothing held after.
fn assert_write_sticky<T>(
    w: &mut Conn<ReadyFd<T>>,
    pool: &PoolHandle,
    ok: impl Fn(&io::Error) -> bool,
) where
    T: AsFd,
    for<'a> &'a T: Write,
{
    for round in 0..3 {
        let mut b = pool.get(64).unwrap();
        b.extend_from_slice(b"buffer").unwrap();
        let errs = [
            ("queue", w.queue(b"more").unwrap_err()),
            ("queue_buf", w.queue_buf(b).unwrap_err()),
            ("try_flush_ready", w.try_flush_ready().unwrap_err()),
            ("flush_ready", w.flush_ready().unwrap_err()),
            ("write", w.write(b"more").unwrap_err()),
            ("write_all", w.write_all(&[1; 100_000]).unwrap_err()),
            ("flush", w.flush().unwrap_err()),
        ];
        for (m, e) in errs {
            assert!(ok(&e), "round {round}, {m}: {e:?}");
        }
        assert_eq!(w.queued(), 0);
        assert_eq!(w.write_buffer_bytes(), 0);
        assert_eq!(w.get_ref().write_queue().capacity_bytes(), 0);
    }
    assert_eq!(pool.stats().in_use(), 0);
}

fn is_io(e: &io::Error, kind: io::ErrorKind) -> bool {
    e.kind() == kind
        && matches!(AltsError::from_io(e), Some(AltsError::Io(inner)) if inner.kind() == kind)
}

#[test]
fn a_reset_mid_flush_is_reported_and_sticks() {
    for p in PROTOCOLS {
        let pool = PoolHandle::from(Pool::new());
        let (s, c) = tcp_pair();
        setsockopt_int(s.as_raw_fd(), libc::SO_SNDBUF, 8 * 1024);
        setsockopt_int(c.as_raw_fd(), libc::SO_RCVBUF, 16 * 1024);
        let mut w = writer(s, p, 4096, &pool);
        w.queue(&message(1 << 20, 1)).unwrap();
        w.queue(b"and an open record").unwrap();
        let e = w.try_flush_ready().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(w.queued() > 0 && pool.stats().in_use() > 0);
        reset(c); // with our bytes unread on its side
        let rev = wait_writable(w.as_raw_fd());
        assert!(rev & libc::POLLERR != 0, "revents {rev:#x}");
        let e = w.try_flush_ready().unwrap_err();
        assert!(is_io(&e, io::ErrorKind::ConnectionReset), "{p:?}: {e:?}");
        assert!(AltsError::from_io(&e).unwrap().is_fatal());
        assert_eq!(w.queued(), 0, "what was queued is dropped");
        assert_eq!(w.get_ref().write_queue().capacity_bytes(), 0);
        assert_eq!(pool.stats().in_use(), 0);
        assert_write_sticky(&mut w, &pool, |e| is_io(e, io::ErrorKind::ConnectionReset));
    }
}

#[test]
fn a_peer_closing_mid_flush_is_a_broken_pipe_that_sticks() {
    let pool = PoolHandle::from(Pool::new());
    let (a, b) = small_pair();
    let mut w = writer(a, Protocol::Aes128Gcm, 16 * 1024, &pool);
    w.queue(&message(200_000, 2)).unwrap();
    assert_eq!(
        w.try_flush_ready().unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    drop(b);
    let e = w.flush_ready().unwrap_err();
    assert!(is_io(&e, io::ErrorKind::BrokenPipe), "{e:?}");
    assert_eq!(pool.stats().in_use(), 0);
    assert_write_sticky(&mut w, &pool, |e| is_io(e, io::ErrorKind::BrokenPipe));
}

// ---- allocations in steady state ----

/// Waits until the peer has read everything written to `fd` (`SIOCOUTQ` is 0).
fn wait_drained(fd: RawFd) {
    let t = std::time::Instant::now();
    loop {
        let mut q: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one c_int.
        assert_eq!(unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut q) }, 0);
        if q == 0 {
            return;
        }
        assert!(t.elapsed().as_secs() < 10, "the peer stopped draining");
        thread::yield_now();
    }
}

/// Allocations of each of 100 `queue(payload)` + flush rounds (after 10 to warm up) by this
/// thread, writing to a socket pair whose peer drains (and has drained before each round).
fn allocs_per_flush(p: Protocol, frame: usize, payload: &[u8]) -> Vec<usize> {
    const WARM: usize = 10;
    const MEASURED: usize = 100;
    let pool = PoolHandle::from(Pool::new());
    let (a, mut b) = UnixStream::pair().unwrap();
    let drain = thread::spawn(move || {
        let mut sink = vec![0u8; 64 * 1024];
        let mut n = 0usize;
        loop {
            match b.read(&mut sink).unwrap() {
                0 => return n,
                k => n += k,
            }
        }
    });
    let mut w = writer(a, p, frame, &pool);
    let fd = w.as_raw_fd();
    let mut per_flush = Vec::new();
    for i in 0..WARM + MEASURED {
        wait_drained(fd);
        let before = allocs();
        w.queue(payload).unwrap();
        flush_all(&mut w);
        if i >= WARM {
            per_flush.push(allocs() - before);
        }
    }
    drop(w);
    let records = split(payload.len(), frame).len();
    let n = drain.join().unwrap();
    assert_eq!(n, (WARM + MEASURED) * (payload.len() + records * 24));
    assert_eq!(pool.stats().in_use(), 0);
    per_flush
}

#[test]
fn steady_state_queue_and_flush_allocate_nothing_per_record() {
    // 16 KiB fits one 32 KiB buffer of records; 40,000 B takes two, the first handed to the
    // transport while queueing, the second at the flush once the first has gone out.
    let mut report = Vec::new();
    for p in PROTOCOLS {
        for frame in FRAMES {
            for size in [16 * 1024, 40_000] {
                let per_flush = allocs_per_flush(p, frame, &message(size, 3));
                let total: usize = per_flush.iter().sum();
                if total != 0 {
                    report.push(format!(
                        "{p:?}, frame {frame}, {size} B ({} records): {total} allocations in \
                         100 flushes, per flush min {} max {}",
                        split(size, frame).len(),
                        per_flush.iter().min().unwrap(),
                        per_flush.iter().max().unwrap()
                    ));
                }
            }
        }
    }
    assert!(
        report.is_empty(),
        "not allocation-free:\n{}",
        report.join("\n")
    );
}
