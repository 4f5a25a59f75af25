//! get + put of one buffer per class: slackwater against the system allocator, a
//! `crossbeam_queue::ArrayQueue` pool and a `Mutex<Vec<_>>` pool, on one thread and on two
//! threads contending, in the same run. `tools/bench-table.py` turns the results into the
//! table in `pool/README.md`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use crossbeam_queue::ArrayQueue;
use slackwater_pool::{Pool, global};
use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const CLASSES: [usize; 5] = [256, 4 << 10, 16 << 10, 32 << 10, 1 << 20];

/// One get + put, the way each contender does it.
trait Contender: Send + Sync {
    fn get_put(&self, size: usize);
}

struct Global;
impl Contender for Global {
    #[inline]
    fn get_put(&self, size: usize) {
        let mut b = global().get(black_box(size)).unwrap();
        // Touch the buffer as a reader would (one byte), so no contender is optimized away.
        b.extend_from_slice(&[1]).unwrap();
        black_box(&b);
    }
}

struct Owned(Pool);
impl Contender for Owned {
    #[inline]
    fn get_put(&self, size: usize) {
        let mut b = self.0.get(black_box(size)).unwrap();
        b.extend_from_slice(&[1]).unwrap();
        black_box(&b);
    }
}

struct System;
impl Contender for System {
    #[inline]
    fn get_put(&self, size: usize) {
        let mut v = Vec::<u8>::with_capacity(black_box(size));
        v.push(1);
        black_box(&v);
    }
}

struct Queue(ArrayQueue<Vec<u8>>);
impl Contender for Queue {
    #[inline]
    fn get_put(&self, size: usize) {
        let mut v = self.0.pop().unwrap_or_else(|| Vec::with_capacity(size));
        v.clear();
        v.push(1);
        black_box(&v);
        let _ = self.0.push(v);
    }
}

struct Locked(Mutex<Vec<Vec<u8>>>);
impl Contender for Locked {
    #[inline]
    fn get_put(&self, size: usize) {
        let popped = self.0.lock().unwrap().pop();
        let mut v = popped.unwrap_or_else(|| Vec::with_capacity(size));
        v.clear();
        v.push(1);
        black_box(&v);
        let mut l = self.0.lock().unwrap();
        if l.len() < 64 {
            l.push(v);
        }
    }
}

fn contenders() -> Vec<(&'static str, Arc<dyn Contender>)> {
    vec![
        ("slackwater-static", Arc::new(Global)),
        ("slackwater-owned", Arc::new(Owned(Pool::new()))),
        ("system-alloc", Arc::new(System)),
        ("arrayqueue-pool", Arc::new(Queue(ArrayQueue::new(64)))),
        ("mutex-vec-pool", Arc::new(Locked(Mutex::new(Vec::new())))),
    ]
}

fn single(c: &mut Criterion) {
    let mut g = c.benchmark_group("get_put_1thread");
    for size in CLASSES {
        for (name, con) in contenders() {
            g.bench_with_input(BenchmarkId::new(name, size), &size, |b, &size| {
                b.iter(|| con.get_put(size))
            });
        }
    }
    g.finish();
}

/// Both threads run `iters` get+puts at once; the time per operation is the wall time over
/// `iters` (each thread's own latency per operation while the other contends).
fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("get_put_2threads");
    for size in CLASSES {
        for (name, con) in contenders() {
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
