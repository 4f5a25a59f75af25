//! [`FixedPool`]: one class of buffers carved from memory the pool itself holds, for targets
//! with no allocator.

use crate::PoolError;
use crate::buf::{Buf, Home};
use crate::stack::{IndexStack, MAX_ENTRIES};
use crate::stats::ClassStats;
use crate::sync::{AtomicU32, AtomicUsize, Ordering};
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

/// `N` buffers of `SIZE` bytes held inline, for a `static` on targets without an allocator
/// (it needs neither the `alloc` nor the `std` feature). The same lock-free tagged-index stack
/// as [`Pool`](crate::Pool)'s shared lists hands buffers out; nothing is ever allocated or
/// freed, so when all `N` are in use [`get`](FixedPool::get) fails with
/// [`PoolError::Exhausted`].
///
/// ```
/// use slackwater_pool::FixedPool;
/// static RX: FixedPool<4, 512> = FixedPool::new(false);
///
/// let mut a = RX.get(100).unwrap();
/// a.extend_from_slice(b"frame").unwrap();
/// assert_eq!(a.capacity(), 512);
/// let held: Vec<_> = (0..3).map(|_| RX.get(512).unwrap()).collect();
/// assert!(RX.get(1).is_err()); // all four are out
/// drop(held);
/// drop(a);
/// assert_eq!(RX.stats().in_use, 0);
/// ```
pub struct FixedPool<const N: usize, const SIZE: usize> {
    mem: [UnsafeCell<[MaybeUninit<u8>; SIZE]>; N],
    next: [AtomicU32; N],
    free: IndexStack,
    /// Buffers `fresh..N` have never been handed out.
    fresh: AtomicUsize,
    gets: AtomicUsize,
    puts: AtomicUsize,
    zeroing: bool,
}

// SAFETY: each buffer of `mem` is accessed only by the one `Buf` that owns it; ownership moves
// through the lock-free stack (Release push / Acquire pop) or the `fresh` counter.
unsafe impl<const N: usize, const SIZE: usize> Sync for FixedPool<N, SIZE> {}

impl<const N: usize, const SIZE: usize> FixedPool<N, SIZE> {
    /// An empty pool of `N` buffers of `SIZE` bytes; with `zeroing`, each buffer is scrubbed
    /// when it comes back. `N` must be at most 65,535 and `SIZE` non-zero (checked at compile
    /// time).
    ///
    /// ```
    /// static P: slackwater_pool::FixedPool<2, 64> = slackwater_pool::FixedPool::new(true);
    /// assert_eq!(P.get(64).unwrap().capacity(), 64);
    /// ```
    pub const fn new(zeroing: bool) -> Self {
        const {
            assert!(
                N <= MAX_ENTRIES && SIZE > 0,
                "FixedPool: N <= 65535 and SIZE > 0"
            )
        };
        FixedPool {
            mem: [const { UnsafeCell::new([MaybeUninit::uninit(); SIZE]) }; N],
            next: [const { AtomicU32::new(0) }; N],
            free: IndexStack::new_const(N),
            fresh: AtomicUsize::new(0),
            gets: AtomicUsize::new(0),
            puts: AtomicUsize::new(0),
            zeroing,
        }
    }

    /// Takes a buffer (capacity `SIZE`) for a request of `n <= SIZE` bytes.
    ///
    /// # Errors
    /// [`PoolError::CapacityOverflow`] if `n > SIZE`; [`PoolError::Exhausted`] if all `N`
    /// buffers are in use.
    ///
    /// ```
    /// static P: slackwater_pool::FixedPool<1, 64> = slackwater_pool::FixedPool::new(false);
    /// assert!(P.get(65).is_err());
    /// ```
    pub fn get(&'static self, n: usize) -> Result<Buf, PoolError> {
        if n > SIZE {
            return Err(PoolError::CapacityOverflow { requested: n });
        }
        let i = match self.free.pop(&self.next) {
            Some(i) => i,
            None => self.take_fresh().ok_or(PoolError::Exhausted)?,
        };
        self.gets.fetch_add(1, Ordering::Relaxed);
        let p = NonNull::new(self.mem[i].get().cast::<u8>()).ok_or(PoolError::Exhausted)?;
        // SAFETY: buffer `i` (SIZE bytes) was just taken by this call alone, and `self` is
        // `'static`, so the home outlives the buffer.
        Ok(unsafe { Buf::from_raw(p, SIZE, NonNull::from(self as &dyn Home)) })
    }

    fn take_fresh(&self) -> Option<usize> {
        let mut f = self.fresh.load(Ordering::Relaxed);
        loop {
            if f >= N {
                return None;
            }
            match self
                .fresh
                .compare_exchange_weak(f, f + 1, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(f),
                Err(cur) => f = cur,
            }
        }
    }

    /// Statistics of the one class (exact when no other thread is using the pool).
    ///
    /// ```
    /// static P: slackwater_pool::FixedPool<2, 64> = slackwater_pool::FixedPool::new(false);
    /// let b = P.get(1).unwrap();
    /// assert_eq!(P.stats().in_use, 1);
    /// drop(b);
    /// assert_eq!((P.stats().in_use, P.stats().idle), (0, 1));
    /// ```
    pub fn stats(&self) -> ClassStats {
        let gets = self.gets.load(Ordering::Relaxed);
        let puts = self.puts.load(Ordering::Relaxed);
        let in_use = gets.saturating_sub(puts);
        let made = self.fresh.load(Ordering::Relaxed);
        let idle = made.saturating_sub(in_use);
        ClassStats {
            size: SIZE,
            in_use,
            idle,
            hits: gets.saturating_sub(made),
            misses: made,
            bytes_retained: idle * SIZE,
            retention_limit: N,
        }
    }
}

// SAFETY: a `FixedPool` handed out buffers only through `get(&'static self)`, so it outlives
// them; `put` pushes each index back once.
unsafe impl<const N: usize, const SIZE: usize> Home for FixedPool<N, SIZE> {
    unsafe fn put(&self, p: NonNull<u8>, _cap: usize) -> Option<crate::buf::Release> {
        let i = (p.as_ptr().addr() - self.mem.as_ptr().addr()) / SIZE;
        if self.zeroing {
            // SAFETY: the caller gives back its exclusive SIZE-byte buffer.
            unsafe { core::ptr::write_bytes(p.as_ptr(), 0, SIZE) };
            core::sync::atomic::compiler_fence(Ordering::SeqCst);
        }
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.free.push(i, &self.next);
        None
    }
}
