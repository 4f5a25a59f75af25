//! `SharedBuf`: views, slicing, and the single return to the pool.

use slackwater_pool::{Config, Pool, SharedBuf};
use std::thread;

fn pool() -> Pool {
    Pool::with_config(Config::builder().class(64, 4).build().unwrap())
}

#[test]
fn views_share_one_buffer_and_return_it_once() {
    let pool = pool();
    let mut b = pool.get(16).unwrap();
    b.extend_from_slice(b"0123456789").unwrap();
    let all = b.freeze();
    let views: Vec<SharedBuf> = (0..4).map(|i| all.slice(i..i + 3).unwrap()).collect();
    drop(all);
    assert_eq!(pool.stats().in_use(), 1);
    let handles: Vec<_> = views
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            thread::spawn(move || {
                assert_eq!(v[0], b'0' + i as u8);
                drop(v);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let c = *pool.stats().class(0).unwrap();
    assert_eq!((c.in_use, c.idle, c.misses), (0, 1, 1));
    // Returned once: two live buffers are distinct (a double return would alias them).
    let x = pool.get(1).unwrap();
    let y = pool.get(1).unwrap();
    assert_ne!(x.as_ptr(), y.as_ptr());
}

#[test]
fn slicing_is_bounds_checked() {
    let mut b = pool().get(8).unwrap();
    b.extend_from_slice(b"abcdef").unwrap();
    let v = b.freeze();
    assert_eq!(&v.slice(..).unwrap()[..], b"abcdef");
    assert_eq!(&v.slice(2..=3).unwrap()[..], b"cd");
    assert_eq!(&v.slice(6..).unwrap()[..], b"");
    let (hi, lo) = (5, 4);
    assert!(v.slice(hi..lo).is_none());
    assert!(v.slice(..7).is_none());
    assert!(v.slice(..=usize::MAX).is_none());
    let inner = v.slice(1..5).unwrap();
    assert_eq!(&inner.slice(1..3).unwrap()[..], b"cd");
    assert!(inner.slice(..5).is_none());
}

#[test]
fn split_to_and_advance() {
    let mut b = pool().get(8).unwrap();
    b.extend_from_slice(b"headbody").unwrap();
    let mut v = b.freeze();
    assert!(v.split_to(9).is_none());
    let head = v.split_to(4).unwrap();
    assert_eq!((&head[..], &v[..]), (&b"head"[..], &b"body"[..]));
    v.advance(10);
    assert!(v.is_empty());
}

#[test]
fn advanced_buf_freezes_only_its_readable_bytes() {
    let mut b = pool().get(8).unwrap();
    b.extend_from_slice(b"xxpaylo").unwrap();
    b.advance(2);
    let v = b.freeze();
    assert_eq!(&v[..], b"paylo");
    assert_eq!(v.buffer_capacity(), 64);
}

/// The last view of a buffer is dropped on whichever thread gets there last, racing the
/// others' decrements. Many rounds, so ThreadSanitizer (`.ci/tsan`) sees the race between the
/// last drop's read of the shared state and the other threads' decrements (it reported one
/// while `drop` used an acquire fence, which it does not model).
#[test]
fn views_dropped_on_several_threads_at_once() {
    let pool = pool();
    let rounds: u32 = if cfg!(miri) { 4 } else { 200 };
    for round in 0..rounds {
        let mut b = pool.get(16).unwrap();
        b.extend_from_slice(&round.to_le_bytes()).unwrap();
        let v = b.freeze();
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let v = v.clone();
                thread::spawn(move || {
                    assert_eq!(v[..], round.to_le_bytes());
                    drop(v);
                })
            })
            .collect();
        drop(v);
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(pool.stats().in_use(), 0);
    }
}

/// Buffers of an owned pool outlive its handle and come back on other threads, the last one
/// freeing the pool's state (the same acquire, in `Inner::release`).
#[test]
fn buffers_outliving_their_pool_return_on_several_threads() {
    for _ in 0..if cfg!(miri) { 4 } else { 100 } {
        let pool = pool();
        let bufs: Vec<_> = (0..3).map(|_| pool.get(8).unwrap()).collect();
        let views: Vec<_> = bufs.into_iter().map(|b| b.freeze()).collect();
        let handles: Vec<_> = views
            .into_iter()
            .map(|v| thread::spawn(move || drop(v)))
            .collect();
        drop(pool);
        for h in handles {
            h.join().unwrap();
        }
    }
}
