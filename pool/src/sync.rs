//! The one place the pool takes its atomics (and its owner-only cells) from.
//!
//! Under `--cfg loom` every atomic, cell and thread-local comes from [`loom`], so the model
//! checker sees every shared-memory access the pool makes; otherwise they come from `core`
//! (and `std` for the thread-local shard claim).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize};

pub(crate) use core::sync::atomic::Ordering;

// Buffer allocations: under loom, loom's tracked allocator, so a model fails on a buffer
// freed twice or never freed (leaked in a cache no one will empty) by the end of an execution.
#[cfg(all(feature = "alloc", not(loom)))]
pub(crate) use alloc::alloc::{alloc, dealloc};
#[cfg(all(feature = "alloc", loom))]
pub(crate) use loom::alloc::{alloc, dealloc};

// The registry of pool states that exiting threads walk (`crate::tls`); std only.
#[cfg(all(feature = "std", loom))]
pub(crate) use loom::sync::Mutex;
#[cfg(all(feature = "std", not(loom)))]
pub(crate) use std::sync::Mutex;

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

/// A plain (non-atomic) value that only its shard's owner reads or writes: the per-thread
/// cache slot and the trim epoch the owner last acted on.
///
/// No atomic instruction is involved, so any access that is not ordered after the previous
/// owner's last one (through the shard claim's release/acquire pair) is a data race: loom
/// (`loom::cell::UnsafeCell` tracks causality), Miri and ThreadSanitizer all report it.
pub(crate) struct OwnedCell<T> {
    #[cfg(not(loom))]
    v: core::cell::UnsafeCell<T>,
    #[cfg(loom)]
    v: loom::cell::UnsafeCell<T>,
}

impl<T: Copy> OwnedCell<T> {
    pub(crate) fn new(v: T) -> Self {
        Self {
            #[cfg(not(loom))]
            v: core::cell::UnsafeCell::new(v),
            #[cfg(loom)]
            v: loom::cell::UnsafeCell::new(v),
        }
    }

    /// Reads the value.
    ///
    /// # Safety
    /// The caller owns the cell: it holds the shard claim (or `&mut` to the whole pool state),
    /// and every other access to the cell happens before this one or after the caller gives
    /// the claim up.
    #[inline]
    pub(crate) unsafe fn get(&self) -> T {
        #[cfg(not(loom))]
        {
            // SAFETY: the caller's contract: no concurrent access.
            unsafe { *self.v.get() }
        }
        #[cfg(loom)]
        {
            // SAFETY: as above; loom checks the claim.
            self.v.with(|p| unsafe { *p })
        }
    }

    /// Writes the value.
    ///
    /// # Safety
    /// As for [`get`](OwnedCell::get).
    #[inline]
    pub(crate) unsafe fn set(&self, v: T) {
        #[cfg(not(loom))]
        {
            // SAFETY: the caller's contract: no concurrent access.
            unsafe { *self.v.get() = v }
        }
        #[cfg(loom)]
        {
            // SAFETY: as above; loom checks the claim.
            self.v.with_mut(|p| unsafe { *p = v })
        }
    }
}
