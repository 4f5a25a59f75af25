//! Heap allocations per frame in steady state, counted by a global allocator (per thread, so
//! the harness's other threads cannot disturb a measurement): writing frames to a warm
//! `Vec<u8>` and to a socket's `ReadyFd`, reading control frames from a socket.

use slackwater_h2frame::*;
use slackwater_ready::ReadyFd;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::os::unix::net::UnixStream;

struct Counting;
std::thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Runs `f` and returns its result with the allocations it made on this thread.
fn allocs<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let n = ALLOCS.with(Cell::get);
    let r = f();
    (r, ALLOCS.with(Cell::get) - n)
}

/// A mix of control frames and DATA: PING, WINDOW_UPDATE, SETTINGS, RST_STREAM, PRIORITY, a
/// small HEADERS, a 32-byte DATA, a 16 KiB DATA (built once, outside every measurement).
fn frames() -> Vec<Frame> {
    vec![
        Frame::Ping(Ping {
            ack: false,
            data: [7; 8],
        }),
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 1,
            increment: 65_535,
        }),
        Frame::Settings(Settings::new(&[Setting {
            id: Setting::INITIAL_WINDOW_SIZE,
            value: 1 << 20,
        }])),
        Frame::RstStream(RstStream {
            stream_id: 1,
            error_code: ErrorCode::CANCEL,
        }),
        Frame::Priority(Priority {
            stream_id: 3,
            spec: PrioritySpec {
                exclusive: false,
                dependency: 0,
                weight: 16,
            },
        }),
        Frame::Headers(Headers {
            stream_id: 3,
            end_stream: false,
            end_headers: true,
            priority: None,
            fragment: Payload::from(&[0x82, 0x86, 0x84][..]),
            padding: None,
        }),
        Frame::Data(Data {
            stream_id: 3,
            end_stream: false,
            data: Payload::from(&[0x5a; 32][..]),
            padding: None,
        }),
        Frame::Data(Data {
            stream_id: 3,
            end_stream: false,
            data: Payload::from(vec![0xa5; 16_384]),
            padding: None,
        }),
    ]
}

#[test]
fn writing_to_a_warm_vec_allocates_nothing() {
    let frames = frames();
    let w = FrameWriter::new();
    let data = vec![1u8; 16_384];
    let mut out = Vec::with_capacity(1 << 20);
    let ((), n) = allocs(|| {
        for _ in 0..1000 {
            out.clear();
            for f in &frames {
                w.write(&mut out, f).unwrap();
            }
            w.write_data(&mut out, 5, false, &data).unwrap();
        }
    });
    assert_eq!(n, 0, "{n} allocations for 9,000 frames");
}

/// Writes `rounds` batches of `per_round` frames (PINGs and 1,000-byte DATA, alternating) to a
/// socket's `ReadyFd`, flushing after each; returns the allocations the writes and flushes
/// made (the peer reads outside the measurement: a 1,000-byte DATA payload read out of a
/// 32 KiB buffer is copied to the heap, by the copy-out rule).
fn write_batches_to_a_socket(rounds: usize, per_round: usize) -> usize {
    let pool = PoolHandle::from(Pool::new());
    let (a, b) = UnixStream::pair().unwrap();
    let mut tx = ReadyFd::new(a).unwrap().with_pool(pool.clone());
    let mut rx = FrameReader::with_pool(ReadyFd::new(b).unwrap(), pool.clone());
    let w = FrameWriter::new();
    let ping = Frame::Ping(Ping {
        ack: true,
        data: [1; 8],
    });
    let data = vec![2u8; 1000];
    let mut n = 0;
    for round in 0..=rounds {
        let ((), a) = allocs(|| {
            for i in 0..per_round {
                if i % 2 == 0 {
                    w.write(&mut tx, &ping).unwrap();
                } else {
                    w.write_data(&mut tx, 1, false, &data).unwrap();
                }
            }
            tx.flush_ready().unwrap();
        });
        if round > 0 {
            n += a; // round 0 warms the pool
        }
        for _ in 0..per_round {
            assert!(rx.read_frame().unwrap().is_some());
        }
    }
    assert_eq!(pool.stats().in_use(), 0);
    n
}

/// Writing to a socket: each frame is copied into the `ReadyFd`'s pooled output buffers (a
/// warm pool: no heap allocation for them), so no allocation per frame. Batches that fit one
/// 16 KiB output buffer allocate nothing at all; larger ones need `ready`'s `WriteQueue` list
/// for the buffers after the first, which it frees whenever the output drains (so an idle
/// connection holds nothing): at most one allocation per flush that empties the output.
#[test]
fn writing_to_a_socket_allocates_nothing_per_frame() {
    let n = write_batches_to_a_socket(200, 30); // 15 PINGs + 15 DATA: 15,390 bytes a flush
    println!("6,000 frames written to a socket in 200 flushes of one buffer: {n} allocations");
    assert_eq!(n, 0);
    let n = write_batches_to_a_socket(200, 50); // 25,650 bytes a flush: two buffers
    println!("10,000 frames written to a socket in 200 flushes of two buffers: {n} allocations");
    assert!(n <= 200, "{n} allocations for 200 flushes");
}

/// Reading control frames from a socket: the read buffer comes from the (warm) pool and goes
/// back between batches; no heap allocation per frame.
#[test]
fn reading_control_frames_allocates_nothing() {
    let pool = PoolHandle::from(Pool::new());
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut r = FrameReader::with_pool(ReadyFd::new(a).unwrap(), pool.clone());
    let w = FrameWriter::new();
    let mut batch = Vec::new();
    for f in frames().iter().take(7) {
        for _ in 0..100 {
            w.write(&mut batch, f).unwrap();
        }
    }
    let read_batch = |r: &mut FrameReader<ReadyFd<UnixStream>>, b: &mut UnixStream| {
        std::io::Write::write_all(b, &batch).unwrap();
        let mut n = 0;
        while n < 700 {
            let f = r.read_frame().unwrap().unwrap();
            std::hint::black_box(&f);
            n += 1;
        }
    };
    read_batch(&mut r, &mut b); // warm the pool
    let ((), n) = allocs(|| {
        for _ in 0..100 {
            read_batch(&mut r, &mut b);
        }
    });
    assert_eq!(n, 0, "{n} allocations reading 70,000 control frames");
    assert_eq!(pool.stats().in_use(), 0);
}
