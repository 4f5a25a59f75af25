//! The one place the pool takes its atomics from.
//!
//! Under `--cfg loom` every atomic and thread-local comes from [`loom`], so the model
//! checker sees every shared-memory access the pool makes; otherwise they come from `core`
//! (and `std` for the thread-local shard claim).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize};

pub(crate) use core::sync::atomic::Ordering;

/// Pads and aligns a value to 128 bytes (two cache lines, as adjacent-line prefetchers pair
/// them), so per-thread data of different threads never shares a line.
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> core::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A counter that only one thread writes at a time (its shard's owner), so an increment is a
/// plain load and store (no locked read-modify-write); any thread may read it.
///
/// Ownership moves between threads only through the shard claim in [`crate::tls`], whose
/// acquire/release pair orders the previous owner's stores before the next owner's loads.
pub(crate) struct OwnedCounter(AtomicUsize);

impl OwnedCounter {
    pub(crate) fn new() -> Self {
        Self(AtomicUsize::new(0))
    }
    #[inline]
    pub(crate) fn bump(&self, by: usize) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(by), Ordering::Relaxed);
    }
    #[inline]
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}
