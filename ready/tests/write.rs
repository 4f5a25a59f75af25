//! The write side: `ReadyWrite` on a `ReadyFd` against a socket that fills and drains, and
//! `WriteQueue` through its public API with a scripted writer. Its own test binary for its
//! counting global allocator (counted per thread).

mod common;
use common::{setsockopt_int, tcp_pair};
use slackwater_ready::{Pool, PoolHandle, ReadyFd, ReadyWrite, WriteQueue};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

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

/// A TCP pair whose writer (first) has a small send buffer and whose reader (second) a small
/// receive buffer, so the writer's socket refuses bytes after a few tens of KiB. (An 8 KiB
/// receive buffer on loopback, whose MSS is 64 KiB, makes TCP crawl on its persist timer:
/// about 13 s per MiB here. 16 KiB does not.)
fn small_tcp_pair() -> (TcpStream, TcpStream) {
    let (w, r) = tcp_pair();
    setsockopt_int(w.as_raw_fd(), libc::SO_SNDBUF, 8 * 1024);
    setsockopt_int(r.as_raw_fd(), libc::SO_RCVBUF, 16 * 1024);
    (w, r)
}

/// Waits (at most 10 s) until `fd` is writable.
fn wait_writable(fd: RawFd) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 10_000) };
    assert_eq!(n, 1, "not writable within 10 s");
    assert!(p.revents & libc::POLLOUT != 0, "revents {:#x}", p.revents);
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Reads `n` bytes (blocking) and then checks the stream ends there.
fn read_n(mut r: TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    r.read_exact(&mut got).unwrap();
    let mut extra = [0u8; 1];
    assert_eq!(
        r.read(&mut extra).unwrap(),
        0,
        "more bytes than were queued"
    );
    got
}

#[test]
fn a_socket_that_fills_and_drains() {
    const HIGH: usize = 64 * 1024;
    let pool = PoolHandle::from(Pool::new());
    let (w, r) = small_tcp_pair();
    let fd = w.as_raw_fd();
    let mut w = ReadyFd::new(w)
        .unwrap()
        .with_pool(pool.clone())
        .with_high_water(HIGH);
    let data = pattern(1 << 20);
    let mut pieces = data.chunks(10_000); // not a multiple of anything the queue uses
    let mut blocked = false;
    let mut was_full = false;

    // The peer does not read yet: queue and flush until the socket refuses.
    for piece in pieces.by_ref() {
        let before = w.queued();
        w.queue(piece).unwrap();
        assert_eq!(w.queued(), before + piece.len(), "queue copies every byte");
        assert_eq!(w.is_write_full(), w.queued() >= HIGH);
        match w.try_flush_ready() {
            Ok(()) => {
                assert_eq!(w.queued(), 0);
                assert!(!w.wants_writable());
                assert_eq!(
                    w.write_queue().capacity_bytes(),
                    0,
                    "holds nothing when empty"
                );
            }
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
                blocked = true;
                assert!(w.wants_writable());
                assert!(w.queued() > 0 && w.write_queue().buffers() > 0);
                assert!(w.write_queue().capacity_bytes() >= w.queued());
                assert!(pool.stats().in_use() >= w.write_queue().buffers());
            }
        }
        was_full |= w.is_write_full();
        // Go on past the high-water mark (a producer that ignores backpressure), then stop.
        if blocked && w.queued() >= 2 * HIGH {
            break;
        }
    }
    assert!(
        blocked,
        "the socket never refused: buffers too large for this test"
    );
    assert!(was_full && w.is_write_full(), "{} queued", w.queued());
    // The socket holds a few KiB at most; the queue holds the rest.
    assert!(w.queued() >= 2 * HIGH);
    // Another flush while the peer still sleeps: still refused, nothing lost.
    let q = w.queued();
    assert_eq!(
        w.try_flush_ready().unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    assert!(w.queued() <= q && w.queued() > 0);

    // The peer drains; the writer waits for POLLOUT and flushes, queueing the rest as the
    // queue falls below the high-water mark (backpressure honoured).
    let n = data.len();
    let reader = thread::spawn(move || read_n(r, n));
    let mut wakeups = 0;
    let mut pieces = pieces.peekable();
    loop {
        while !w.is_write_full() {
            match pieces.next() {
                Some(p) => w.queue(p).unwrap(),
                None => break,
            }
        }
        match w.try_flush_ready() {
            Ok(()) if pieces.peek().is_none() => break,
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(w.wants_writable() && w.queued() > 0);
                wait_writable(fd);
                wakeups += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(wakeups > 0);
    assert_eq!(w.queued(), 0);
    assert!(!w.wants_writable() && !w.is_write_full());
    assert_eq!(w.write_queue().buffers(), 0);
    assert_eq!(
        w.write_queue().capacity_bytes(),
        0,
        "holds nothing when empty"
    );
    assert_eq!(pool.stats().in_use(), 0);
    drop(w); // EOF for the reader
    let got = reader.join().unwrap();
    assert!(got == data, "bytes lost or reordered");
}

#[test]
fn blocking_flush_with_a_slow_reader() {
    let pool = PoolHandle::from(Pool::new());
    let (w, r) = small_tcp_pair();
    let mut w = ReadyFd::new(w).unwrap().with_pool(pool.clone());
    let data = pattern(1 << 20);
    for piece in data.chunks(3_000) {
        w.queue(piece).unwrap();
    }
    assert_eq!(w.queued(), data.len());
    let (tx, rx) = mpsc::channel();
    let n = data.len();
    let reader = thread::spawn(move || {
        rx.recv().unwrap(); // start reading only once the writer is blocked
        thread::sleep(Duration::from_millis(20));
        read_n(r, n)
    });
    assert_eq!(
        w.try_flush_ready().unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    tx.send(()).unwrap();
    let t = Instant::now();
    w.flush_ready().unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(15),
        "flush_ready waited"
    );
    assert_eq!(w.queued(), 0);
    assert_eq!(w.write_queue().capacity_bytes(), 0);
    assert_eq!(pool.stats().in_use(), 0);
    drop(w);
    assert!(reader.join().unwrap() == data);
}

#[test]
fn queue_buf_sends_the_buffer_itself() {
    let pool = PoolHandle::from(Pool::new());
    let (w, r) = tcp_pair();
    let mut w = ReadyFd::new(w).unwrap().with_pool(pool.clone());
    let mut b = pool.get(4096).unwrap();
    b.extend_from_slice(b"whole buffer").unwrap();
    w.queue_buf(b).unwrap();
    assert_eq!(w.write_queue().buffers(), 1);
    // The 4 KiB buffer itself is queued: a copy would land in a 16 KiB one.
    let pinned = w.write_queue().capacity_bytes();
    assert!((4096..16 * 1024).contains(&pinned), "{pinned}");
    assert_eq!(pool.stats().in_use(), 1);
    w.queue_buf(pool.get(10).unwrap()).unwrap(); // empty: dropped
    assert_eq!((w.write_queue().buffers(), w.queued()), (1, 12));
    w.flush_ready().unwrap();
    assert_eq!(pool.stats().in_use(), 0);
    drop(w);
    assert_eq!(read_n(r, 12), b"whole buffer");
}

// ---- WriteQueue through its public API, with a scripted writer ----

/// Fills a queue with `data` in `piece`-byte `extend`s.
fn queue_of(data: &[u8], piece: usize, pool: &Pool) -> WriteQueue {
    let mut q = WriteQueue::new();
    for p in data.chunks(piece) {
        q.extend(p, pool).unwrap();
    }
    assert_eq!(q.queued(), data.len());
    q
}

#[test]
fn partial_writes_deliver_every_byte_in_order() {
    let pool = Pool::new();
    let data = pattern(100_000);
    for take in [1, 7, 4096, 16 * 1024, 50_000] {
        let mut q = queue_of(&data, 3_333, &pool);
        let mut out = Vec::new();
        let mut calls = 0;
        q.flush_with(|b| {
            calls += 1;
            let n = b.len().min(take);
            out.extend_from_slice(&b[..n]);
            Ok(n)
        })
        .unwrap();
        assert!(out == data, "take {take}");
        assert!(
            calls >= data.len().div_ceil(take),
            "take {take}: {calls} calls"
        );
        assert_eq!((q.queued(), q.buffers(), q.capacity_bytes()), (0, 0, 0));
        assert_eq!(pool.stats().in_use(), 0);
    }
}

#[test]
fn extend_fills_the_last_buffer_before_taking_another() {
    let pool = Pool::new();
    let mut q = WriteQueue::new();
    q.extend(b"ab", &pool).unwrap();
    q.extend(b"cd", &pool).unwrap();
    assert_eq!((q.queued(), q.buffers()), (4, 1));
    let cap = q.last_mut().unwrap().capacity();
    assert_eq!(cap, 16 * 1024, "at least 16 KiB per buffer");
    // Exactly fill the rest of the first buffer, then one byte more.
    q.extend(&vec![b'x'; cap - 4], &pool).unwrap();
    assert_eq!(q.buffers(), 1);
    q.extend(b"y", &pool).unwrap();
    assert_eq!((q.buffers(), q.queued()), (2, cap + 1));
    // A large extend takes one buffer of its size.
    q.extend(&vec![b'z'; 100_000], &pool).unwrap();
    assert_eq!(
        q.buffers(),
        3,
        "the 16 KiB buffer's room, then one large buffer"
    );
    assert_eq!(pool.stats().in_use(), 3);
    drop(q);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn interrupted_is_retried_on_the_same_bytes() {
    let pool = Pool::new();
    let mut q = queue_of(b"hello world", 100, &pool);
    let mut out = Vec::new();
    let mut script = vec![
        Err(io::ErrorKind::Interrupted),
        Ok(3),
        Err(io::ErrorKind::Interrupted),
        Err(io::ErrorKind::Interrupted),
        Ok(100),
    ]
    .into_iter();
    let mut seen = Vec::new();
    q.flush_with(|b| {
        seen.push(b.to_vec());
        match script.next().expect("called once too often") {
            Err(k) => Err(k.into()),
            Ok(n) => {
                let n = n.min(b.len());
                out.extend_from_slice(&b[..n]);
                Ok(n)
            }
        }
    })
    .unwrap();
    assert_eq!(out, b"hello world");
    // An interrupted write is retried with the same bytes, a partial one with the rest.
    assert_eq!(
        seen,
        [
            &b"hello world"[..],
            b"hello world",
            b"lo world",
            b"lo world",
            b"lo world"
        ]
    );
    assert!(q.check().is_ok(), "Interrupted is not fatal");
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn would_block_keeps_the_rest_in_order() {
    let pool = Pool::new();
    let first = pattern(40_000);
    let mut q = queue_of(&first, 5_000, &pool);
    let mut out = Vec::new();
    let mut budget = 12_345;
    let e = q
        .flush_with(|b| {
            if budget == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = b.len().min(budget);
            budget -= n;
            out.extend_from_slice(&b[..n]);
            Ok(n)
        })
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    assert_eq!(q.queued(), first.len() - 12_345);
    assert!(q.buffers() > 0 && q.capacity_bytes() > 0);
    assert!(q.check().is_ok(), "WouldBlock is not fatal");
    // More bytes queued behind the waiting ones, then everything goes.
    q.extend(b"tail", &pool).unwrap();
    q.flush_with(|b| {
        out.extend_from_slice(b);
        Ok(b.len())
    })
    .unwrap();
    let mut want = first.clone();
    want.extend_from_slice(b"tail");
    assert!(out == want);
    assert_eq!((q.queued(), q.buffers(), q.capacity_bytes()), (0, 0, 0));
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn a_write_of_zero_bytes_is_write_zero_and_fatal() {
    let pool = Pool::new();
    let mut q = queue_of(b"abc", 10, &pool);
    let e = q.flush_with(|_| Ok(0)).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WriteZero);
    assert_eq!((q.queued(), q.buffers(), q.capacity_bytes()), (0, 0, 0));
    assert_eq!(pool.stats().in_use(), 0);
    assert_eq!(q.check().unwrap_err().kind(), io::ErrorKind::WriteZero);
    assert_eq!(
        q.extend(b"x", &pool).unwrap_err().kind(),
        io::ErrorKind::WriteZero
    );
    assert_eq!(pool.stats().in_use(), 0, "a refused extend takes no buffer");
}

#[test]
fn a_reset_mid_flush_drops_everything_and_sticks() {
    let pool = Pool::new();
    let mut q = queue_of(&pattern(50_000), 7_000, &pool);
    assert!(pool.stats().in_use() >= 2);
    let mut calls = 0;
    let e = q
        .flush_with(|b| {
            calls += 1;
            if calls == 1 {
                Ok(b.len() / 2) // half a buffer on the wire, then the reset
            } else {
                Err(io::Error::from_raw_os_error(libc::ECONNRESET))
            }
        })
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET));
    assert_eq!(calls, 2);
    assert_eq!((q.queued(), q.buffers(), q.capacity_bytes()), (0, 0, 0));
    assert!(q.is_empty() && !q.is_full());
    assert_eq!(pool.stats().in_use(), 0, "every buffer went back");
    for _ in 0..3 {
        assert_eq!(
            q.check().unwrap_err().raw_os_error(),
            Some(libc::ECONNRESET)
        );
        let e = q.extend(b"more", &pool).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET));
        let mut b = pool.get(8).unwrap();
        b.extend_from_slice(b"buf").unwrap();
        let e = q.push(b).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET));
        let e = q
            .flush_with(|_| panic!("a failed queue must not write again"))
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET));
        assert_eq!(q.queued(), 0);
    }
    assert_eq!(calls, 2);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn each_buffer_goes_back_as_soon_as_it_is_written() {
    let pool = Pool::new();
    let mut q = WriteQueue::new();
    for i in 0..4u8 {
        let mut b = pool.get(4096).unwrap();
        b.extend_from_slice(&[i; 1000]).unwrap();
        q.push(b).unwrap();
    }
    assert_eq!((q.buffers(), q.queued()), (4, 4000));
    assert_eq!(pool.stats().in_use(), 4);
    // In use when each write starts: 4, then 3 (the first was written whole), 2, 1. Each
    // buffer is written in two halves, so the count must not drop after a half.
    let mut in_use_at_call = Vec::new();
    q.flush_with(|b| {
        in_use_at_call.push(pool.stats().in_use());
        Ok(b.len().min(500))
    })
    .unwrap();
    assert_eq!(in_use_at_call, [4, 4, 3, 3, 2, 2, 1, 1]);
    assert_eq!(pool.stats().in_use(), 0);
    assert_eq!(q.capacity_bytes(), 0);
}

#[test]
fn high_water_mark_and_in_place_appends() {
    let pool = Pool::new();
    let mut q = WriteQueue::new().with_high_water(10);
    q.extend(b"123456789", &pool).unwrap();
    assert!(!q.is_full());
    q.extend(b"0", &pool).unwrap();
    assert!(q.is_full(), "full at exactly the mark");
    // A record layer appends in place and reports it.
    q.last_mut().unwrap().extend_from_slice(b"ab").unwrap();
    q.appended(2);
    assert_eq!(q.queued(), 12);
    let mut out = Vec::new();
    let e = q
        .flush_with(|b| {
            if out.len() >= 3 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            out.extend_from_slice(&b[..3]);
            Ok(3)
        })
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    assert!(!q.is_full(), "9 < 10 after 3 were sent");
    q.flush_with(|b| {
        out.extend_from_slice(b);
        Ok(b.len())
    })
    .unwrap();
    assert_eq!(out, b"1234567890ab");
    assert_eq!(pool.stats().in_use(), 0);
}

/// Pushes `n` buffers of a warm pool and flushes them whole, 110 times; returns the
/// allocations of each of the last 100 bursts (the pool allocates nothing once warm, so they
/// are the queue's own).
fn allocs_per_burst(n: usize) -> Vec<usize> {
    let pool = Pool::new();
    let mut q = WriteQueue::new();
    let mut per_burst = Vec::new();
    for i in 0..110 {
        let before = allocs();
        for _ in 0..n {
            let mut b = pool.get(4096).unwrap();
            b.extend_from_slice(&[i as u8; 4096]).unwrap();
            q.push(b).unwrap();
        }
        q.flush_with(|b| Ok(b.len())).unwrap();
        if i >= 10 {
            per_burst.push(allocs() - before);
        }
        assert_eq!(q.capacity_bytes(), 0, "holds nothing between bursts");
    }
    assert_eq!(pool.stats().in_use(), 0);
    per_burst
}

#[test]
fn one_buffer_at_a_time_allocates_nothing() {
    // The documented common case: the buffer waits in the queue's own slot.
    let per_burst = allocs_per_burst(1);
    assert!(per_burst.iter().all(|&n| n == 0), "{:?}", &per_burst[..5]);
}

#[test]
fn a_burst_of_several_buffers_allocates_only_its_list() {
    // Further buffers wait in a list, allocated once per burst (4 fit its first allocation)
    // and freed with the last of them: exactly one allocation for 2 to 5 buffers.
    for n in 2..=5 {
        let per_burst = allocs_per_burst(n);
        assert!(
            per_burst.iter().all(|&a| a == 1),
            "{n}: {:?}",
            &per_burst[..5]
        );
    }
}

/// The queue's accessors, exactly: the default high-water mark (256 KiB) and a set one,
/// emptiness, and the bytes it holds (buffer capacities plus its list's own slots).
#[test]
fn write_queue_accessors_report_what_it_holds() {
    let pool = Pool::new();
    assert_eq!(slackwater_ready::DEFAULT_HIGH_WATER, 262_144);
    let mut q = WriteQueue::new();
    assert_eq!(q.high_water(), 262_144);
    q.set_high_water(10);
    assert_eq!(q.high_water(), 10);
    assert!(q.is_empty() && !q.is_full());
    assert_eq!(q.capacity_bytes(), 0);
    let cap = pool.get(100).unwrap().capacity();
    for _ in 0..3 {
        let mut b = pool.get(100).unwrap();
        b.extend_from_slice(&[1; 100]).unwrap();
        q.push(b).unwrap();
    }
    assert!(!q.is_empty() && q.is_full());
    assert_eq!((q.queued(), q.buffers()), (300, 3));
    // The first buffer sits in a slot of its own; the other two in the list.
    assert!(q.capacity_bytes() >= 3 * cap + 2 * std::mem::size_of::<slackwater_ready::Buf>());
    assert_eq!(
        (q.capacity_bytes() - 3 * cap) % std::mem::size_of::<slackwater_ready::Buf>(),
        0
    );
}

/// `ReadyWrite::queue_buf`'s provided form queues the buffer's bytes (a writer that
/// implements only `queue`).
#[test]
fn the_provided_queue_buf_queues_the_bytes() {
    struct Only(Vec<u8>);
    impl ReadyWrite for Only {
        fn queue(&mut self, data: &[u8]) -> io::Result<()> {
            self.0.extend_from_slice(data);
            Ok(())
        }
        fn try_flush_ready(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn flush_ready(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn queued(&self) -> usize {
            0
        }
        fn is_write_full(&self) -> bool {
            false
        }
    }
    let pool = Pool::new();
    let mut w = Only(Vec::new());
    let mut b = pool.get(8).unwrap();
    b.extend_from_slice(b"buffered").unwrap();
    w.queue_buf(b).unwrap();
    assert_eq!(w.0, b"buffered");
    assert_eq!(pool.stats().in_use(), 0);
}

/// A `Vec<u8>` takes every byte at once: `queue` and `queue_buf` append, nothing is ever left
/// queued, it is never full, flushes do nothing; through `&mut` and `Box` alike.
#[test]
fn a_vec_is_an_output_that_takes_everything_at_once() {
    let pool = Pool::new();
    let mut v: Vec<u8> = Vec::new();
    v.queue(b"abc").unwrap();
    let mut b = pool.get(16).unwrap();
    b.extend_from_slice(b"de").unwrap();
    v.queue_buf(b).unwrap();
    assert_eq!(v, b"abcde");
    assert_eq!(pool.stats().in_use(), 0); // the buffer went back once copied
    for _ in 0..2 {
        assert_eq!(v.queued(), 0);
        assert!(!v.wants_writable());
        assert!(!v.is_write_full());
        v.try_flush_ready().unwrap();
        v.flush_ready().unwrap();
    }
    {
        let mut by_ref: &mut Vec<u8> = &mut v;
        ReadyWrite::queue(&mut by_ref, b"f").unwrap();
        assert_eq!(ReadyWrite::queued(&by_ref), 0);
    }
    let mut boxed: Box<Vec<u8>> = Box::new(v);
    boxed.queue(&[b'g'; 100_000]).unwrap();
    assert_eq!((boxed.len(), boxed.queued()), (100_006, 0));
    assert!(!boxed.is_write_full());
    assert_eq!(&boxed[..7], b"abcdefg");
}
