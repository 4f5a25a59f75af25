//! Per-thread caches. In a file of their own: these tests count on every thread getting a
//! private shard, which the 20-thread tests in `pool.rs` (running in parallel in the same
//! process) would use up.
//!
//! What `trim` frees at once: the shared lists and the calling thread's cache. Another live
//! thread's cache (at most one buffer per class) is freed by that thread: at its next return
//! to the pool or cache miss after the trim, when it calls `trim` itself, or when it exits.

mod common;
use common::small;

use slackwater_pool::{Config, Pool};
use std::sync::{Arc, Barrier};
use std::thread;

/// One class of 64-byte buffers with no shared list: every idle buffer sits in a thread cache.
fn cache_only() -> Pool {
    Pool::with_config(Config::builder().class(64, 0).build().unwrap())
}

#[test]
fn trim_frees_its_own_cache_and_flags_the_others() {
    let pool = Arc::new(cache_only());
    let barrier = Arc::new(Barrier::new(3));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (pool, barrier) = (pool.clone(), barrier.clone());
            thread::spawn(move || {
                let a = pool.get(1).unwrap();
                let b = pool.get(1).unwrap();
                drop(a); // into this thread's cache
                barrier.wait(); // both threads cache one and hold one
                barrier.wait(); // main has trimmed
                // The first return after the trim frees the cached buffer, then caches this one.
                drop(b);
                barrier.wait();
                barrier.wait(); // main has looked
                assert_eq!(pool.trim(), 1, "trim on this thread frees its cache");
            })
        })
        .collect();
    barrier.wait();
    let c = *pool.stats().class(0).unwrap();
    assert_eq!((c.in_use, c.idle, c.misses), (2, 2, 4));
    // Other live threads' caches are not this thread's to empty.
    assert_eq!(pool.trim(), 0);
    assert_eq!(pool.stats().class(0).unwrap().idle, 2);
    barrier.wait();
    barrier.wait();
    let c = *pool.stats().class(0).unwrap();
    assert_eq!(
        (c.in_use, c.idle, c.misses),
        (0, 2, 4),
        "the old ones freed, b cached"
    );
    barrier.wait();
    for t in threads {
        t.join().unwrap();
    }
    let c = *pool.stats().class(0).unwrap();
    assert_eq!((c.in_use, c.idle, c.bytes_retained), (0, 0, 0));
}

#[test]
fn a_buffer_cached_by_an_exited_thread_is_reused() {
    // On exit a thread moves its cache to the shared list (retention 4 here).
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

#[test]
fn an_exiting_thread_frees_what_the_shared_list_cannot_keep() {
    let pool = Arc::new(cache_only());
    let p = pool.clone();
    thread::spawn(move || drop(p.get(1).unwrap()))
        .join()
        .unwrap();
    let c = *pool.stats().class(0).unwrap();
    assert_eq!((c.in_use, c.idle, c.misses), (0, 0, 1));
}

#[test]
fn an_exiting_thread_frees_its_cache_after_a_trim() {
    // A trim the thread did not act on: its cache is freed, not moved to the shared list.
    let pool = Arc::new(small());
    let barrier = Arc::new(Barrier::new(2));
    let t = {
        let (pool, barrier) = (pool.clone(), barrier.clone());
        thread::spawn(move || {
            drop(pool.get(1).unwrap());
            barrier.wait();
            barrier.wait(); // main has trimmed
        })
    };
    barrier.wait();
    assert_eq!(pool.trim(), 0);
    assert_eq!(pool.stats().class(0).unwrap().idle, 1);
    barrier.wait();
    t.join().unwrap();
    let c = *pool.stats().class(0).unwrap();
    assert_eq!((c.in_use, c.idle), (0, 0));
}

#[test]
fn a_cache_miss_after_a_trim_frees_the_other_classes() {
    let pool = Arc::new(small());
    let barrier = Arc::new(Barrier::new(2));
    let t = {
        let (pool, barrier) = (pool.clone(), barrier.clone());
        thread::spawn(move || {
            drop(pool.get(1).unwrap()); // class 0, cached
            drop(pool.get(1000).unwrap()); // class 1, cached
            barrier.wait();
            barrier.wait(); // main has trimmed
            let b = pool.get(1).unwrap(); // a hit: takes class 0's cached buffer
            let c = pool.get(1).unwrap(); // a miss: acts on the trim, frees class 1's
            barrier.wait();
            barrier.wait();
            drop((b, c));
        })
    };
    barrier.wait();
    assert_eq!(pool.stats().idle(), 2);
    assert_eq!(pool.trim(), 0);
    barrier.wait();
    barrier.wait();
    let s = pool.stats();
    assert_eq!((s.in_use(), s.idle()), (2, 0));
    barrier.wait();
    t.join().unwrap();
    // b and c: one kept by the exiting thread's cache, then moved to the shared list; the
    // other went to the shared list directly.
    let s = pool.stats();
    assert_eq!((s.in_use(), s.idle()), (0, 2));
    assert_eq!(pool.trim(), 2);
}

#[test]
fn an_owned_pool_dropped_while_another_thread_caches_its_buffer() {
    // The last reference frees the pool's state and whatever any thread caches in it (Miri's
    // leak check and use-after-free detection run this too).
    let pool = Arc::new(small());
    let barrier = Arc::new(Barrier::new(2));
    let t = {
        let (pool, barrier) = (pool.clone(), barrier.clone());
        thread::spawn(move || {
            drop(pool.get(1).unwrap());
            drop(pool.get(1000).unwrap());
            drop(pool); // this thread's handle
            barrier.wait();
            barrier.wait(); // main has dropped the last handle
            // Exiting now touches only pools still alive.
        })
    };
    barrier.wait();
    assert_eq!(pool.stats().idle(), 2);
    drop(pool);
    barrier.wait();
    t.join().unwrap();
}

#[test]
fn a_buffer_returned_on_another_thread_fills_that_threads_cache() {
    let pool = Arc::new(cache_only());
    let b = pool.get(1).unwrap();
    let p = pool.clone();
    let barrier = Arc::new(Barrier::new(2));
    let t = {
        let barrier = barrier.clone();
        thread::spawn(move || {
            drop(b); // taken on main, returned here: cached here
            let c = *p.stats().class(0).unwrap();
            assert_eq!((c.in_use, c.idle), (0, 1));
            let again = p.get(1).unwrap(); // a hit from this thread's cache
            assert_eq!(p.stats().class(0).unwrap().hits, 1);
            drop(again);
            barrier.wait();
            barrier.wait();
        })
    };
    barrier.wait();
    // Main's cache is empty: a get here allocates.
    drop(pool.get(1).unwrap());
    assert_eq!(pool.stats().class(0).unwrap().misses, 2);
    barrier.wait();
    t.join().unwrap();
    let c = *pool.stats().class(0).unwrap();
    assert_eq!(
        (c.in_use, c.idle),
        (0, 1),
        "main's cache; the exiting thread freed its own"
    );
    assert_eq!(pool.trim(), 1);
}

#[test]
fn thread_exits_racing_the_last_handle_drop() {
    // The exiting thread empties its shard of every registered pool under the registry's
    // lock; the pool's drop leaves the registry first. Run many times natively (and under
    // ThreadSanitizer), a few under Miri (leaks, use after free, data races).
    let rounds = if cfg!(miri) { 8 } else { 500 };
    for _ in 0..rounds {
        let pool = Arc::new(small());
        let p = pool.clone();
        let t = thread::spawn(move || {
            drop(p.get(1).unwrap());
            drop(p.get(1000).unwrap());
            drop(p);
        });
        drop(pool);
        t.join().unwrap();
    }
}

#[test]
fn threads_exiting_while_another_trims() {
    let pool = Arc::new(small());
    let rounds = if cfg!(miri) { 4 } else { 200 };
    let trimmer = {
        let pool = pool.clone();
        thread::spawn(move || (0..rounds).map(|_| pool.trim()).sum::<usize>())
    };
    for _ in 0..rounds / 4 {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let p = pool.clone();
                thread::spawn(move || {
                    let a = p.get(1).unwrap();
                    drop(p.get(1).unwrap());
                    drop(a);
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    }
    trimmer.join().unwrap();
    // Every worker has exited (std's join waits for thread-local destructors): their caches
    // went to the shared list or were freed, so this thread's trim frees everything left.
    pool.trim();
    let s = pool.stats();
    assert_eq!((s.in_use(), s.idle()), (0, 0));
}
