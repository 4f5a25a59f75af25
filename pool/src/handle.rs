//! [`PoolHandle`]: an owned, cheaply cloned way to name a pool, so types that keep one carry
//! no lifetime.

use crate::Pool;
use alloc::sync::Arc;
use core::ops::Deref;

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
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub struct PoolHandle(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static Pool),
    Shared(Arc<Pool>),
}

impl PoolHandle {
    /// A handle to a `'static` pool (no reference counting at all).
    ///
    /// ```
    /// let h = slackwater_pool::PoolHandle::from_static(slackwater_pool::global());
    /// assert!(h.is_global());
    /// ```
    #[inline]
    pub const fn from_static(pool: &'static Pool) -> PoolHandle {
        PoolHandle(Repr::Static(pool))
    }

    /// The pool.
    ///
    /// ```
    /// let h = slackwater_pool::PoolHandle::default();
    /// assert_eq!(h.pool().config().class_sizes().len(), 5);
    /// ```
    #[inline(always)]
    pub fn pool(&self) -> &Pool {
        match &self.0 {
            Repr::Static(p) => p,
            Repr::Shared(p) => p,
        }
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
        PoolHandle(Repr::Shared(pool))
    }
}

impl From<Pool> for PoolHandle {
    /// Moves an owned pool behind an `Arc` shared by the handle's clones.
    #[inline]
    fn from(pool: Pool) -> Self {
        PoolHandle(Repr::Shared(Arc::new(pool)))
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
        let kind = match &self.0 {
            Repr::Static(_) => "static",
            Repr::Shared(_) => "shared",
        };
        f.debug_struct("PoolHandle")
            .field("kind", &kind)
            .field("pool", self.pool())
            .finish()
    }
}
