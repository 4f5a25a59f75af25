//! `FixedPool`: inline memory, exhaustion, reuse, threads.

use slackwater_pool::{FixedPool, PoolError};
use std::thread;

#[test]
fn exhaustion_and_reuse() {
    static P: FixedPool<3, 128> = FixedPool::new(false);
    let held: Vec<_> = (0..3).map(|_| P.get(100).unwrap()).collect();
    assert_eq!(P.get(1).unwrap_err(), PoolError::Exhausted);
    assert_eq!(
        P.get(129).unwrap_err(),
        PoolError::CapacityOverflow { requested: 129 }
    );
    let addrs: Vec<_> = held.iter().map(|b| b.as_ptr() as usize).collect();
    drop(held);
    let again = P.get(1).unwrap();
    assert!(addrs.contains(&(again.as_ptr() as usize)));
    assert!(again.is_empty());
    drop(again);
    let s = P.stats();
    assert_eq!((s.in_use, s.idle, s.misses), (0, 3, 3));
}

#[test]
fn zeroing_fixed_pool() {
    static Z: FixedPool<1, 32> = FixedPool::new(true);
    let mut b = Z.get(32).unwrap();
    b.extend_from_slice(&[9; 32]).unwrap();
    drop(b);
    let mut b = Z.get(32).unwrap();
    // SAFETY: the zeroing pool wrote 32 zero bytes on return.
    unsafe { b.advance_mut(32) };
    assert_eq!(&b[..], &[0; 32]);
}

#[test]
fn threads_share_a_fixed_pool() {
    static T: FixedPool<4, 64> = FixedPool::new(false);
    let rounds = if cfg!(miri) { 20 } else { 10_000 };
    let hs: Vec<_> = (0..4u8)
        .map(|t| {
            thread::spawn(move || {
                for _ in 0..rounds {
                    let mut b = T.get(64).unwrap();
                    b.extend_from_slice(&[t; 64]).unwrap();
                    thread::yield_now();
                    assert!(b.iter().all(|&x| x == t));
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(T.stats().in_use, 0);
}
