//! Per-thread caches. In a file of their own: these tests count on every thread getting a
//! private shard, which the 20-thread tests in `pool.rs` (running in parallel in the same
//! process) would use up.

mod common;
use common::small;

use slackwater_pool::{Config, Pool};
use std::sync::{Arc, Barrier};
use std::thread;

#[test]
fn trim_empties_every_thread_cache() {
    // No shared list at all: every idle buffer sits in a thread cache.
    let pool = Arc::new(Pool::with_config(
        Config::builder().class(64, 0).build().unwrap(),
    ));
    let barrier = Arc::new(Barrier::new(3));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (pool, barrier) = (pool.clone(), barrier.clone());
            thread::spawn(move || {
                let b = pool.get(1).unwrap();
                barrier.wait(); // both threads hold one
                drop(b); // into this thread's cache, not the shared list
                barrier.wait();
                barrier.wait(); // main has trimmed
                assert_eq!(pool.stats().class(0).unwrap().idle, 0);
            })
        })
        .collect();
    barrier.wait();
    barrier.wait();
    assert_eq!(pool.stats().class(0).unwrap().idle, 2);
    assert_eq!(pool.trim(), 2);
    barrier.wait();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_buffer_cached_by_an_exited_thread_is_reused() {
    let pool = Arc::new(small());
    let p = pool.clone();
    thread::spawn(move || drop(p.get(1).unwrap()))
        .join()
        .unwrap();
    assert_eq!(pool.stats().class(0).unwrap().idle, 1);
    let _b = pool.get(1).unwrap();
    assert_eq!(
        pool.stats().class(0).unwrap().misses,
        1,
        "no second allocation"
    );
}
