//! `Buf::freeze` allocates nothing in steady state: the shared count lives in a pooled buffer.
//! (Its own test binary, for its counting global allocator.)

use slackwater_pool::Pool;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Counting = Counting;

#[test]
fn freeze_clone_slice_drop_allocate_nothing_in_steady_state() {
    let pool = Pool::new();
    let round = || {
        let mut b = pool.get(16 * 1024).unwrap();
        b.extend_from_slice(&[5; 100]).unwrap();
        let v = b.freeze();
        let s = v.slice(10..20).unwrap();
        let c = v.clone();
        drop(v);
        assert_eq!(&s[..], &[5; 10]);
        drop((s, c));
    };
    round(); // warm up: the pool allocates its buffers once
    let before = ALLOCS.load(Ordering::SeqCst);
    for _ in 0..100 {
        round();
    }
    assert_eq!(ALLOCS.load(Ordering::SeqCst) - before, 0);
    assert_eq!(pool.stats().in_use(), 0);
}
