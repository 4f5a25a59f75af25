//! `Pool`: classes, statistics, retention, trim, zeroing, lifetimes, threads.

mod common;
use common::small;

use slackwater_pool::{Buf, Config, ConfigError, Pool, PoolError};
use std::collections::HashSet;
use std::sync::{Arc, mpsc};
use std::thread;

/// Fewer iterations under Miri, which runs code about a thousand times slower.
const fn iters(native: usize) -> usize {
    if cfg!(miri) { native / 100 + 2 } else { native }
}

#[test]
fn capacity_is_the_smallest_class_that_fits() {
    let pool = Pool::new();
    for (n, cap) in [
        (0, 256),
        (1, 256),
        (256, 256),
        (257, 4096),
        (4096, 4096),
        (4097, 16384),
        (16385, 32768),
        (32769, 1 << 20),
        (1 << 20, 1 << 20),
    ] {
        let b = pool.get(n).unwrap();
        assert_eq!(b.capacity(), cap, "request {n}");
        assert!(b.is_empty());
    }
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn above_the_largest_class_is_unpooled_and_exact() {
    let pool = small();
    let mut b = pool.get(5000).unwrap();
    assert_eq!(b.capacity(), 5000);
    b.extend_from_slice(&[3; 5000]).unwrap();
    assert_eq!(pool.stats().unpooled().in_use, 1);
    drop(b);
    let s = pool.stats();
    assert_eq!((s.unpooled().in_use, s.idle(), s.in_use()), (0, 0, 0));
}

#[test]
fn impossible_requests_are_errors_not_panics() {
    let pool = Pool::new();
    for n in [usize::MAX, isize::MAX as usize, isize::MAX as usize - 8] {
        assert_eq!(
            pool.get(n).unwrap_err(),
            PoolError::CapacityOverflow { requested: n }
        );
    }
    assert_eq!(pool.stats().in_use(), 0);
    let e = std::io::Error::from(pool.get(usize::MAX).unwrap_err());
    assert_eq!(e.kind(), std::io::ErrorKind::OutOfMemory);
}

#[test]
fn builder_errors_are_clear() {
    let e = Config::builder()
        .class(1024, 1)
        .class(1024, 1)
        .build()
        .unwrap_err();
    assert_eq!(e, ConfigError::Duplicate { index: 1 });
    assert_eq!(
        e.to_string(),
        "size class 1 repeats the size of the class before it"
    );
    let e = Config::builder()
        .class(1024, 1)
        .class(64, 1)
        .build()
        .unwrap_err();
    assert_eq!(e, ConfigError::OutOfOrder { index: 1 });
}

#[test]
fn stats_count_hits_misses_and_return_to_zero() {
    let pool = small();
    let a = pool.get(10).unwrap();
    let b = pool.get(10).unwrap();
    let c = pool.get(600).unwrap();
    let s = pool.stats();
    assert_eq!(s.class(0).unwrap().in_use, 2);
    assert_eq!(s.class(0).unwrap().misses, 2);
    assert_eq!(s.class(1).unwrap().in_use, 1);
    drop((a, b, c));
    let s = pool.stats();
    assert_eq!(s.in_use(), 0);
    assert_eq!(s.class(0).unwrap().idle, 2);
    assert_eq!(s.bytes_retained(), 2 * 64 + 1024);
    let _again = pool.get(1).unwrap();
    let s = pool.stats();
    assert_eq!(
        (s.class(0).unwrap().hits, s.class(0).unwrap().misses),
        (1, 2)
    );
}

#[test]
fn retention_limit_frees_the_excess() {
    // Class 0 keeps 4 in its shared list, plus at most one in this thread's cache.
    let pool = small();
    let held: Vec<Buf> = (0..10).map(|_| pool.get(1).unwrap()).collect();
    drop(held);
    let c = *pool.stats().class(0).unwrap();
    assert_eq!(c.in_use, 0);
    assert!(c.idle <= 4 + 1, "{c:?}");
    assert!(c.idle >= 4, "{c:?}");
    assert_eq!(pool.trim(), c.idle);
    assert_eq!(pool.stats().bytes_retained(), 0);
}

#[test]
fn no_stale_bytes_are_readable_after_reuse() {
    let pool = small();
    let mut b = pool.get(64).unwrap();
    b.extend_from_slice(&[0xAA; 64]).unwrap();
    let addr = b.as_ptr();
    drop(b);
    let b = pool.get(64).unwrap();
    assert_eq!(
        b.as_ptr(),
        addr,
        "the same buffer comes back (thread cache)"
    );
    assert!(
        b.is_empty(),
        "a reused buffer shows none of its previous holder's bytes"
    );
    assert_eq!(b.spare_capacity(), 64);
}

#[test]
fn zeroing_pool_scrubs_returned_buffers() {
    let pool = Pool::with_config(
        Config::builder()
            .class(64, 4)
            .zeroing(true)
            .build()
            .unwrap(),
    );
    let mut b = pool.get(64).unwrap();
    b.extend_from_slice(&[0xAA; 40]).unwrap();
    b.advance(10);
    let addr = b.as_ptr();
    drop(b);
    let mut b = pool.get(64).unwrap();
    // SAFETY: `addr` pointed 10 bytes into the same 64-byte allocation.
    assert_eq!(b.as_ptr(), unsafe { addr.sub(10) });
    // SAFETY: a zeroing pool wrote zeros over the whole capacity on return, so all 64 spare
    // bytes are initialized.
    unsafe { b.advance_mut(64) };
    assert_eq!(&b[..], &[0u8; 64][..]);
}

#[test]
fn advance_keeps_the_class() {
    let pool = small();
    let mut b = pool.get(1024).unwrap();
    b.extend_from_slice(&[1; 1024]).unwrap();
    b.advance(1000);
    assert_eq!((b.len(), b.capacity()), (24, 1024));
    drop(b);
    let c = *pool.stats().class(1).unwrap();
    assert_eq!((c.in_use, c.idle), (0, 1));
    assert_eq!(pool.get(1024).unwrap().spare_capacity(), 1024);
}

#[test]
fn buf_outlives_its_owned_pool() {
    let pool = small();
    let mut a = pool.get(10).unwrap();
    let b = pool.get(5000).unwrap();
    drop(pool);
    a.extend_from_slice(b"still mine").unwrap();
    assert_eq!(&a[..], b"still mine");
    // Dropping them frees the pool's state (Miri's leak check and use-after-free detection
    // run this test too).
    drop(a);
    drop(b);
}

#[test]
fn static_pool_needs_no_setup() {
    static POOL: Pool = Pool::new_static(Config::DEFAULT);
    let b = POOL.get(100).unwrap();
    assert_eq!(b.capacity(), 256);
    assert!(POOL.stats().in_use() >= 1);
    drop(b);
}

#[test]
fn many_threads_never_share_a_live_buffer() {
    // More threads than per-thread shards (16), so the shared lists carry part of the load;
    // buffers also cross threads through a channel before being dropped.
    let n_threads = if cfg!(miri) { 3 } else { 20 };
    let rounds = iters(2_000);
    let pool = Arc::new(small());
    let (tx, rx) = mpsc::channel::<Buf>();
    let threads: Vec<_> = (0..n_threads)
        .map(|t| {
            let (pool, tx) = (pool.clone(), tx.clone());
            thread::spawn(move || {
                for r in 0..rounds {
                    let size = if r % 3 == 0 { 700 } else { 40 };
                    let mut b = pool.get(size).unwrap();
                    let tag = (t * 31 + r) as u8;
                    b.extend_from_slice(&vec![tag; size]).unwrap();
                    thread::yield_now();
                    assert!(
                        b.iter().all(|&x| x == tag),
                        "buffer written by another holder"
                    );
                    if r % 5 == 0 {
                        tx.send(b).unwrap();
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let mut seen = HashSet::new();
    let received: Vec<Buf> = rx.iter().collect();
    for b in &received {
        assert!(seen.insert(b.as_ptr() as usize), "two live buffers alias");
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(pool.stats().in_use(), received.len());
    drop(received);
    let s = pool.stats();
    assert_eq!(s.in_use(), 0);
    pool.trim();
    assert_eq!(pool.stats().bytes_retained(), 0);
}

#[test]
fn trim_racing_get_and_put() {
    let pool = Arc::new(small());
    let rounds = iters(5_000);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || {
                for i in 0..rounds {
                    let mut b = pool.get(i % 100).unwrap();
                    b.extend_from_slice(&[7]).unwrap();
                    assert_eq!(&b[..], &[7]);
                }
            })
        })
        .collect();
    let trimmer = {
        let pool = pool.clone();
        thread::spawn(move || (0..rounds / 10).map(|_| pool.trim()).sum::<usize>())
    };
    for w in workers {
        w.join().unwrap();
    }
    trimmer.join().unwrap();
    let s = pool.stats();
    assert_eq!(s.in_use(), 0);
    let served: usize = s.classes().iter().map(|c| c.hits + c.misses).sum();
    assert_eq!(served, 2 * rounds);
    pool.trim();
    assert_eq!(pool.stats().idle(), 0);
}
