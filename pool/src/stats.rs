//! Per-class statistics.

use crate::config::MAX_CLASSES;

/// Statistics of one size class (or of the unpooled allocations, whose `size` is 0).
///
/// Non-exhaustive: more counters may be added. Read the fields; outside this crate a value is
/// made with `ClassStats::default()` (no struct literal).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClassStats {
    /// The class size in bytes (0 for the unpooled entry).
    pub size: usize,
    /// Buffers handed out and not yet returned.
    pub in_use: usize,
    /// Idle buffers the pool keeps (shared list plus thread caches).
    pub idle: usize,
    /// `get`s served by an idle buffer.
    pub hits: usize,
    /// `get`s that had to allocate.
    pub misses: usize,
    /// `idle * size`.
    pub bytes_retained: usize,
    /// How many idle buffers the shared list may keep (each thread cache adds at most one;
    /// see `Pool::trim` for when other threads' caches are freed).
    pub retention_limit: usize,
}

/// A snapshot of a pool's statistics: one [`ClassStats`] per class plus the unpooled
/// allocations above the largest class.
///
/// ```
/// let pool = slackwater_pool::Pool::new();
/// let big = pool.get(2 << 20).unwrap(); // above the 1 MiB class
/// let s = pool.stats();
/// assert_eq!(s.unpooled().in_use, 1);
/// assert_eq!(s.in_use(), 1);
/// drop(big);
/// assert_eq!(pool.stats().in_use(), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    pub(crate) classes: [ClassStats; MAX_CLASSES],
    pub(crate) n: usize,
    pub(crate) unpooled: ClassStats,
}

impl Stats {
    /// The classes, smallest first.
    ///
    /// ```
    /// let s = slackwater_pool::Pool::new().stats();
    /// assert_eq!(s.classes().iter().map(|c| c.size).collect::<Vec<_>>(),
    ///            [256, 4096, 16384, 32768, 1 << 20]);
    /// ```
    pub fn classes(&self) -> &[ClassStats] {
        &self.classes[..self.n]
    }

    /// Class `i`, smallest first.
    ///
    /// ```
    /// assert_eq!(slackwater_pool::Pool::new().stats().class(1).unwrap().size, 4096);
    /// ```
    pub fn class(&self, i: usize) -> Option<&ClassStats> {
        self.classes().get(i)
    }

    /// Allocations above the largest class (`in_use` and `misses` only).
    ///
    /// ```
    /// assert_eq!(slackwater_pool::Pool::new().stats().unpooled().in_use, 0);
    /// ```
    pub fn unpooled(&self) -> &ClassStats {
        &self.unpooled
    }

    /// Buffers in use over all classes, unpooled ones included.
    ///
    /// ```
    /// assert_eq!(slackwater_pool::Pool::new().stats().in_use(), 0);
    /// ```
    pub fn in_use(&self) -> usize {
        self.classes().iter().map(|c| c.in_use).sum::<usize>() + self.unpooled.in_use
    }

    /// Idle buffers retained over all classes.
    ///
    /// ```
    /// assert_eq!(slackwater_pool::Pool::new().stats().idle(), 0);
    /// ```
    pub fn idle(&self) -> usize {
        self.classes().iter().map(|c| c.idle).sum()
    }

    /// Bytes retained in idle buffers over all classes.
    ///
    /// ```
    /// assert_eq!(slackwater_pool::Pool::new().stats().bytes_retained(), 0);
    /// ```
    pub fn bytes_retained(&self) -> usize {
        self.classes().iter().map(|c| c.bytes_retained).sum()
    }
}
