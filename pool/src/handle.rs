//! [`PoolHandle`]: an owned, cheaply cloned way to name a pool, so types that keep one carry
//! no lifetime.

use crate::Pool;
use alloc::sync::Arc;
use core::ops::Deref;
use core::ptr::NonNull;

/// An owned handle to a [`Pool`]: a `&'static Pool` (the [`global`](crate::global) pool or a
/// `static` one) or a shared owned pool (`Arc<Pool>`).
///
/// Types that take buffers as they go (a connection, a frame reader) keep one of these rather
/// than a `&'p Pool`, so they can be named without a lifetime and moved between threads.
///
/// * Cloning a static handle copies a pointer; cloning a shared one increments the `Arc`'s
///   count once. **Taking a buffer through either costs nothing extra**: the handle derefs to
///   the `Pool`, and a static pool's `get` and return touch no reference count at all (the
///   fast path of [`global`](crate::global) is kept).
/// * `PoolHandle::default()` is the global pool.
///
/// ```
/// use slackwater_pool::{Pool, PoolHandle, global};
/// use std::sync::Arc;
///
/// let g = PoolHandle::default();                 // the global pool
/// assert!(g.is_global());
/// let mine: PoolHandle = Pool::new().into();     // an owned pool, shared by clones
/// let again = mine.clone();
/// let buf = again.get(100).unwrap();             // Deref<Target = Pool>
/// assert_eq!(mine.stats().in_use(), 1);
/// drop(buf);
/// static SMALL: Pool = Pool::new_static(slackwater_pool::Config::DEFAULT);
/// let s = PoolHandle::from(&SMALL);
/// assert!(!s.is_global());
/// # let _ = global();
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub struct PoolHandle {
    /// The pool, in 8 bytes (one per layer of every connection). The low bit (free: `Pool`
    /// is aligned to at least 2) says whether the handle owns one strong count of an
    /// `Arc<Pool>` (a pointer from `Arc::into_raw`); clear, it is a `&'static Pool`.
    tagged: NonNull<Pool>,
}

/// The tag bit of [`PoolHandle::tagged`].
const SHARED: usize = 1;
const _: () = assert!(
    core::mem::align_of::<Pool>() >= 2,
    "the tag bit must be free"
);

// `Pool` is `Send` and `Sync` (checked here), which is what the two impls below rest on.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Pool>()
};

// SAFETY: a handle is a `&'static Pool` or an `Arc<Pool>`, both `Send` and `Sync` because
// `Pool` is `Send + Sync` (asserted above).
unsafe impl Send for PoolHandle {}
// SAFETY: as above; `&PoolHandle` only gives `&Pool`.
unsafe impl Sync for PoolHandle {}

impl PoolHandle {
    /// A handle to a `'static` pool (no reference counting at all).
    ///
    /// ```
    /// let h = slackwater_pool::PoolHandle::from_static(slackwater_pool::global());
    /// assert!(h.is_global());
    /// ```
    #[inline]
    pub const fn from_static(pool: &'static Pool) -> PoolHandle {
        // SAFETY: a reference is never null; its low bit is clear (alignment, checked above).
        let tagged = unsafe { NonNull::new_unchecked(pool as *const Pool as *mut Pool) };
        PoolHandle { tagged }
    }

    #[inline(always)]
    fn is_shared(&self) -> bool {
        self.tagged.as_ptr().addr() & SHARED != 0
    }

    #[inline(always)]
    fn untagged(&self) -> *const Pool {
        self.tagged.as_ptr().map_addr(|a| a & !SHARED)
    }

    /// The pool.
    ///
    /// ```
    /// let h = slackwater_pool::PoolHandle::default();
    /// assert_eq!(h.pool().config().class_sizes().len(), 5);
    /// ```
    #[inline(always)]
    pub fn pool(&self) -> &Pool {
        // SAFETY: untagged, the pointer is a `&'static Pool` or comes from `Arc::into_raw`
        // with a strong count this handle owns until it is dropped: valid for `&self`'s life.
        unsafe { &*self.untagged() }
    }

    /// Whether this is the process-wide [`global`](crate::global) pool.
    ///
    /// ```
    /// assert!(!slackwater_pool::PoolHandle::from(slackwater_pool::Pool::new()).is_global());
    /// ```
    pub fn is_global(&self) -> bool {
        #[cfg(not(loom))]
        {
            core::ptr::eq(self.pool(), crate::global())
        }
        #[cfg(loom)]
        {
            false
        }
    }
}

impl Deref for PoolHandle {
    type Target = Pool;
    #[inline(always)]
    fn deref(&self) -> &Pool {
        self.pool()
    }
}

impl AsRef<Pool> for PoolHandle {
    #[inline(always)]
    fn as_ref(&self) -> &Pool {
        self.pool()
    }
}

impl From<&'static Pool> for PoolHandle {
    #[inline]
    fn from(pool: &'static Pool) -> Self {
        PoolHandle::from_static(pool)
    }
}

impl From<Arc<Pool>> for PoolHandle {
    #[inline]
    fn from(pool: Arc<Pool>) -> Self {
        let raw = Arc::into_raw(pool).cast_mut().map_addr(|a| a | SHARED);
        // SAFETY: `Arc::into_raw` is never null, nor is it with a bit set.
        let tagged = unsafe { NonNull::new_unchecked(raw) };
        PoolHandle { tagged }
    }
}

impl Clone for PoolHandle {
    #[inline]
    fn clone(&self) -> Self {
        if self.is_shared() {
            // SAFETY: the untagged pointer came from `Arc::into_raw` and this handle holds a
            // strong count, so the `Arc` is alive; the new handle owns the count added here.
            unsafe { Arc::increment_strong_count(self.untagged()) };
        }
        PoolHandle {
            tagged: self.tagged,
        }
    }
}

impl Drop for PoolHandle {
    #[inline]
    fn drop(&mut self) {
        if self.is_shared() {
            // SAFETY: this handle owns one strong count of the `Arc` the untagged pointer came
            // from (`Arc::into_raw`); it gives it back exactly once.
            drop(unsafe { Arc::from_raw(self.untagged()) });
        }
    }
}

impl From<Pool> for PoolHandle {
    /// Moves an owned pool behind an `Arc` shared by the handle's clones.
    #[inline]
    fn from(pool: Pool) -> Self {
        PoolHandle::from(Arc::new(pool))
    }
}

#[cfg(not(loom))]
impl Default for PoolHandle {
    /// The [`global`](crate::global) pool.
    #[inline]
    fn default() -> Self {
        PoolHandle::from_static(crate::global())
    }
}

impl core::fmt::Debug for PoolHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = if self.is_shared() { "shared" } else { "static" };
        f.debug_struct("PoolHandle")
            .field("kind", &kind)
            .field("pool", self.pool())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn a_handle_is_one_pointer() {
        assert_eq!(
            core::mem::size_of::<PoolHandle>(),
            8.min(core::mem::size_of::<usize>())
        );
        assert_eq!(
            core::mem::size_of::<Option<PoolHandle>>(),
            core::mem::size_of::<PoolHandle>()
        );
    }

    #[test]
    fn shared_handles_own_one_count_each() {
        let arc = Arc::new(Pool::new());
        let h = PoolHandle::from(arc.clone());
        assert_eq!(Arc::strong_count(&arc), 2);
        let h2 = h.clone();
        let h3 = h2.clone();
        assert_eq!(Arc::strong_count(&arc), 4);
        assert!(core::ptr::eq(h3.pool(), &*arc));
        drop(h);
        drop(h3);
        assert_eq!(Arc::strong_count(&arc), 2);
        let b = h2.get(10).unwrap();
        drop(h2);
        assert_eq!(Arc::strong_count(&arc), 1);
        drop(b);
        assert_eq!(arc.stats().in_use(), 0);
        assert!(!format!("{:?}", PoolHandle::from(arc)).contains("static"));
    }

    #[test]
    fn static_handles_count_nothing() {
        static P: Pool = Pool::new_static(crate::Config::DEFAULT);
        let h = PoolHandle::from(&P);
        let h2 = h.clone();
        assert!(core::ptr::eq(h2.pool(), &P) && core::ptr::eq(h.pool(), &P));
        assert!(format!("{h:?}").contains("static"));
        // A shared handle to the last count frees the pool (Miri/LSan would see a leak).
        let owned = PoolHandle::from(Pool::new());
        let c = owned.clone();
        drop(owned);
        drop(c.get(1).unwrap());
    }
}
