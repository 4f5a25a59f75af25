//! get + put of one buffer per class, on one thread and on two threads contending, every
//! contender in the same run: slackwater's global (static) pool and an owned `Pool::new()`,
//! the system allocator, and four classic pools of `Vec<u8>` retaining at most 64 buffers: a
//! `crossbeam_queue::ArrayQueue`, a Treiber stack on `crossbeam-epoch`, a `std::sync::Mutex`
//! around a `Vec` and a `spin::Mutex` around a `Vec`.
//!
//! Each contender is its own monomorphized loop, its get + put inlined into criterion's loop
//! (no call or dynamic dispatch of the harness's own in the measured code), and each writes one
//! byte into the buffer it got, so no contender is optimized away.
//! `pool/README.md` carries the medians of one full run (`cargo bench -p slackwater-pool`).

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use crossbeam_epoch::{self as epoch, Atomic, Owned};
use crossbeam_queue::ArrayQueue;
use slackwater_pool::{Pool, global};
use std::hint::black_box;
use std::mem::ManuallyDrop;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const CLASSES: [usize; 5] = [256, 4 << 10, 16 << 10, 32 << 10, 1 << 20];
/// How many idle buffers each peer pool keeps.
const RETAIN: usize = 64;

/// One get + put, the way each contender does it.
trait Contender: Send + Sync + 'static {
    fn get_put(&self, size: usize);
}

struct Global;
impl Contender for Global {
    #[inline(always)]
    fn get_put(&self, size: usize) {
        let mut b = global().get(black_box(size)).unwrap();
        b.extend_from_slice(&[1]).unwrap();
        black_box(&b);
    }
}

struct OwnedPool(Pool);
impl Contender for OwnedPool {
    #[inline(always)]
    fn get_put(&self, size: usize) {
        let mut b = self.0.get(black_box(size)).unwrap();
        b.extend_from_slice(&[1]).unwrap();
        black_box(&b);
    }
}

struct System;
impl Contender for System {
    #[inline(always)]
    fn get_put(&self, size: usize) {
        let mut v = Vec::<u8>::with_capacity(black_box(size));
        v.push(1);
        black_box(&v);
    }
}

/// Takes a retained buffer or allocates one, writes a byte.
#[inline(always)]
fn fill(popped: Option<Vec<u8>>, size: usize) -> Vec<u8> {
    let mut v = popped.unwrap_or_else(|| Vec::with_capacity(size));
    v.clear();
    v.push(1);
    black_box(&v);
    v
}

struct Queue(ArrayQueue<Vec<u8>>);
impl Contender for Queue {
    #[inline(always)]
    fn get_put(&self, size: usize) {
        let v = fill(self.0.pop(), black_box(size));
        let _ = self.0.push(v);
    }
}

struct Locked(Mutex<Vec<Vec<u8>>>);
impl Contender for Locked {
    #[inline(always)]
    fn get_put(&self, size: usize) {
        let popped = self.0.lock().unwrap().pop();
        let v = fill(popped, black_box(size));
        let mut l = self.0.lock().unwrap();
        if l.len() < RETAIN {
            l.push(v);
        }
    }
}

struct Spin(spin::Mutex<Vec<Vec<u8>>>);
impl Contender for Spin {
    #[inline(always)]
    fn get_put(&self, size: usize) {
        let popped = self.0.lock().pop();
        let v = fill(popped, black_box(size));
        let mut l = self.0.lock();
        if l.len() < RETAIN {
            l.push(v);
        }
    }
}

/// The Treiber stack of the `crossbeam-epoch` documentation, holding idle buffers: one node
/// allocated per push, reclaimed through the epoch GC after a pop. The count is approximate
/// (it only bounds retention).
struct EpochStack {
    head: Atomic<Node>,
    len: std::sync::atomic::AtomicUsize,
}

struct Node {
    buf: ManuallyDrop<Vec<u8>>,
    next: Atomic<Node>,
}

impl EpochStack {
    fn push(&self, buf: Vec<u8>) {
        if self.len.load(Ordering::Relaxed) >= RETAIN {
            return;
        }
        let mut n = Owned::new(Node {
            buf: ManuallyDrop::new(buf),
            next: Atomic::null(),
        });
        let guard = epoch::pin();
        loop {
            let head = self.head.load(Ordering::Relaxed, &guard);
            n.next.store(head, Ordering::Relaxed);
            match self
                .head
                .compare_exchange(head, n, Ordering::Release, Ordering::Relaxed, &guard)
            {
                Ok(_) => break,
                Err(e) => n = e.new,
            }
        }
        self.len.fetch_add(1, Ordering::Relaxed);
    }

    fn pop(&self) -> Option<Vec<u8>> {
        let guard = epoch::pin();
        loop {
            let head = self.head.load(Ordering::Acquire, &guard);
            // SAFETY: `head` is protected by `guard`: not reclaimed while pinned.
            let h = unsafe { head.as_ref() }?;
            let next = h.next.load(Ordering::Relaxed, &guard);
            if self
                .head
                .compare_exchange(head, next, Ordering::Relaxed, Ordering::Relaxed, &guard)
                .is_ok()
            {
                self.len.fetch_sub(1, Ordering::Relaxed);
                // SAFETY: the CAS unlinked the node: this thread alone moves its buffer out,
                // and the node is destroyed (without dropping the buffer) after every
                // thread that might still read it has unpinned.
                unsafe {
                    let buf = std::ptr::read(&h.buf);
                    guard.defer_destroy(head);
                    return Some(ManuallyDrop::into_inner(buf));
                }
            }
        }
    }
}

impl Drop for EpochStack {
    fn drop(&mut self) {
        while let Some(b) = self.pop() {
            drop(b);
        }
    }
}

struct EpochPool(EpochStack);
impl Contender for EpochPool {
    #[inline(always)]
    fn get_put(&self, size: usize) {
        let v = fill(self.0.pop(), black_box(size));
        self.0.push(v);
    }
}

fn epoch_pool() -> EpochPool {
    EpochPool(EpochStack {
        head: Atomic::null(),
        len: std::sync::atomic::AtomicUsize::new(0),
    })
}

/// Runs `f` for every contender, each with its own (fresh) state.
macro_rules! each_contender {
    ($f:ident($($arg:expr),*)) => {
        $f($($arg,)* "slackwater-static", Arc::new(Global));
        $f($($arg,)* "slackwater-owned", Arc::new(OwnedPool(Pool::new())));
        $f($($arg,)* "system-alloc", Arc::new(System));
        $f($($arg,)* "arrayqueue-pool", Arc::new(Queue(ArrayQueue::new(RETAIN))));
        $f($($arg,)* "epoch-treiber-pool", Arc::new(epoch_pool()));
        $f($($arg,)* "mutex-vec-pool", Arc::new(Locked(Mutex::new(Vec::new()))));
        $f($($arg,)* "spin-mutex-vec-pool", Arc::new(Spin(spin::Mutex::new(Vec::new()))));
    };
}

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn one_thread<C: Contender>(g: &mut Group<'_>, size: usize, name: &str, con: Arc<C>) {
    g.bench_with_input(BenchmarkId::new(name, size), &size, |b, &size| {
        b.iter(|| con.get_put(size))
    });
}

/// Both threads run `iters` get+puts at once; the time per operation is the measuring
/// thread's wall time over `iters` (its own latency per operation while the other contends).
fn two_threads<C: Contender>(g: &mut Group<'_>, size: usize, name: &str, con: Arc<C>) {
    g.bench_with_input(BenchmarkId::new(name, size), &size, |b, &size| {
        b.iter_custom(|iters| {
            let barrier = Arc::new(Barrier::new(2));
            let other = {
                let (con, barrier) = (con.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..iters {
                        con.get_put(size);
                    }
                })
            };
            barrier.wait();
            let t = Instant::now();
            for _ in 0..iters {
                con.get_put(size);
            }
            let mine = t.elapsed();
            other.join().unwrap();
            mine
        })
    });
}

fn single(c: &mut Criterion) {
    let mut g = c.benchmark_group("get_put_1thread");
    for size in CLASSES {
        each_contender!(one_thread(&mut g, size));
    }
    g.finish();
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("get_put_2threads");
    for size in CLASSES {
        each_contender!(two_threads(&mut g, size));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = single, contended
}
criterion_main!(benches);
