//! Size classes and retention limits, checked once when a pool is built.

use core::fmt;

/// The most size classes one pool may have.
pub const MAX_CLASSES: usize = 8;

/// The most idle buffers one class may retain in its shared list.
pub const MAX_RETAINED: usize = crate::stack::MAX_ENTRIES;

/// The default classes: gRPC-Go's `mem.DefaultBufferPool` tiers, with how many idle buffers
/// each retains (about 4 MiB per class below 1 MiB, 8 MiB for the 1 MiB class).
pub const DEFAULT_CLASSES: [(usize, usize); 5] = [
    (256, 1024),
    (4 << 10, 1024),
    (16 << 10, 256),
    (32 << 10, 128),
    (1 << 20, 8),
];

/// The shape of a pool: its size classes, how many idle buffers each retains, and whether
/// returned buffers are scrubbed. Built with [`Config::builder`] (checked) or
/// [`Config::DEFAULT`].
///
/// ```
/// use slackwater_pool::Config;
/// let config = Config::builder().class(512, 64).class(8192, 16).zeroing(true).build().unwrap();
/// assert_eq!(config.class_sizes(), &[512, 8192]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub(crate) sizes: [usize; MAX_CLASSES],
    pub(crate) limits: [usize; MAX_CLASSES],
    pub(crate) n: usize,
    pub(crate) zeroing: bool,
}

impl Config {
    /// The default configuration: [`DEFAULT_CLASSES`], no zeroing.
    pub const DEFAULT: Config = {
        let mut b = ConfigBuilder::new();
        let mut i = 0;
        while i < DEFAULT_CLASSES.len() {
            b = b.class(DEFAULT_CLASSES[i].0, DEFAULT_CLASSES[i].1);
            i += 1;
        }
        match b.build() {
            Ok(c) => c,
            Err(_) => panic!("default classes are valid"),
        }
    };

    /// Starts a configuration with no classes.
    pub const fn builder() -> ConfigBuilder {
        ConfigBuilder::new()
    }

    /// The class sizes in bytes, smallest first.
    pub fn class_sizes(&self) -> &[usize] {
        &self.sizes[..self.n]
    }

    /// The size of the smallest class that holds `n` bytes: the capacity of the buffer
    /// [`Pool::get(n)`](crate::Pool::get) hands out; `n` itself above the largest class
    /// (an unpooled allocation of that size).
    ///
    /// ```
    /// let c = slackwater_pool::Config::DEFAULT;
    /// assert_eq!((c.capacity_for(1), c.capacity_for(4097), c.capacity_for(2 << 20)), (256, 16384, 2 << 20));
    /// ```
    pub fn capacity_for(&self, n: usize) -> usize {
        self.class_for(n).map_or(n, |i| self.sizes[i])
    }

    /// How many idle buffers each class may keep in its shared list, in class order.
    pub fn retention_limits(&self) -> &[usize] {
        &self.limits[..self.n]
    }

    /// Whether buffers are scrubbed (zeroed) when they come back.
    pub const fn is_zeroing(&self) -> bool {
        self.zeroing
    }

    /// The index of the smallest class that holds `size` bytes, or `None` above the largest.
    #[inline]
    pub(crate) fn class_for(&self, size: usize) -> Option<usize> {
        let mut i = 0;
        while i < self.n {
            if size <= self.sizes[i] {
                return Some(i);
            }
            i += 1;
        }
        None
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// Builds a [`Config`]; every method is `const`, so a checked configuration can initialize a
/// `static` pool.
///
/// ```
/// use slackwater_pool::{Config, ConfigError};
/// assert_eq!(
///     Config::builder().class(4096, 8).class(256, 8).build(),
///     Err(ConfigError::OutOfOrder { index: 1 })
/// );
/// ```
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct ConfigBuilder {
    cfg: Config,
    /// Set when more than `MAX_CLASSES` classes were added.
    overflow: bool,
}

impl ConfigBuilder {
    const fn new() -> Self {
        Self {
            cfg: Config {
                sizes: [0; MAX_CLASSES],
                limits: [0; MAX_CLASSES],
                n: 0,
                zeroing: false,
            },
            overflow: false,
        }
    }

    /// Adds a class of `size`-byte buffers retaining at most `retain` idle buffers in its
    /// shared list. Classes must be added smallest first.
    pub const fn class(mut self, size: usize, retain: usize) -> Self {
        if self.cfg.n == MAX_CLASSES {
            self.overflow = true;
            return self;
        }
        self.cfg.sizes[self.cfg.n] = size;
        self.cfg.limits[self.cfg.n] = retain;
        self.cfg.n += 1;
        self
    }

    /// Scrub every buffer (its whole capacity) when it comes back, for callers that hold
    /// secrets in pooled buffers. Costs a `memset` of the class size per return.
    pub const fn zeroing(mut self, on: bool) -> Self {
        self.cfg.zeroing = on;
        self
    }

    /// Checks the classes and returns the configuration.
    pub const fn build(self) -> Result<Config, ConfigError> {
        if self.overflow {
            return Err(ConfigError::TooManyClasses);
        }
        if self.cfg.n == 0 {
            return Err(ConfigError::NoClasses);
        }
        let mut i = 0;
        while i < self.cfg.n {
            let size = self.cfg.sizes[i];
            if size == 0 || size > isize::MAX as usize {
                return Err(ConfigError::BadSize { index: i });
            }
            if self.cfg.limits[i] > MAX_RETAINED {
                return Err(ConfigError::RetentionTooLarge { index: i });
            }
            if i > 0 {
                let prev = self.cfg.sizes[i - 1];
                if size == prev {
                    return Err(ConfigError::Duplicate { index: i });
                }
                if size < prev {
                    return Err(ConfigError::OutOfOrder { index: i });
                }
            }
            i += 1;
        }
        Ok(self.cfg)
    }
}

/// Why a [`ConfigBuilder`] was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No class was added.
    NoClasses,
    /// More than [`MAX_CLASSES`] classes were added.
    TooManyClasses,
    /// Class `index` has size 0 or a size above `isize::MAX`.
    BadSize {
        /// Position of the class, in the order added.
        index: usize,
    },
    /// Class `index` has the same size as the class before it.
    Duplicate {
        /// Position of the class, in the order added.
        index: usize,
    },
    /// Class `index` is smaller than the class before it (classes go smallest first).
    OutOfOrder {
        /// Position of the class, in the order added.
        index: usize,
    },
    /// Class `index` asks to retain more than [`MAX_RETAINED`] buffers.
    RetentionTooLarge {
        /// Position of the class, in the order added.
        index: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoClasses => f.write_str("a pool needs at least one size class"),
            ConfigError::TooManyClasses => {
                write!(f, "a pool has at most {MAX_CLASSES} size classes")
            }
            ConfigError::BadSize { index } => {
                write!(
                    f,
                    "size class {index} must be between 1 and isize::MAX bytes"
                )
            }
            ConfigError::Duplicate { index } => {
                write!(
                    f,
                    "size class {index} repeats the size of the class before it"
                )
            }
            ConfigError::OutOfOrder { index } => write!(
                f,
                "size class {index} is smaller than the class before it (add classes smallest first)"
            ),
            ConfigError::RetentionTooLarge { index } => {
                write!(
                    f,
                    "size class {index} retains more than {MAX_RETAINED} buffers"
                )
            }
        }
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_grpc_tiers() {
        assert_eq!(
            Config::DEFAULT.class_sizes(),
            &[256, 4096, 16384, 32768, 1 << 20]
        );
        assert_eq!(Config::DEFAULT.class_for(0), Some(0));
        assert_eq!(Config::DEFAULT.class_for(257), Some(1));
        assert_eq!(Config::DEFAULT.class_for(1 << 20), Some(4));
        assert_eq!(Config::DEFAULT.class_for((1 << 20) + 1), None);
        assert_eq!(Config::DEFAULT.class_for(usize::MAX), None);
    }

    #[test]
    fn rejects_bad_classes() {
        assert_eq!(Config::builder().build(), Err(ConfigError::NoClasses));
        assert_eq!(
            Config::builder().class(0, 1).build(),
            Err(ConfigError::BadSize { index: 0 })
        );
        assert_eq!(
            Config::builder().class(usize::MAX, 1).build(),
            Err(ConfigError::BadSize { index: 0 })
        );
        assert_eq!(
            Config::builder().class(64, 1).class(64, 1).build(),
            Err(ConfigError::Duplicate { index: 1 })
        );
        assert_eq!(
            Config::builder()
                .class(64, 1)
                .class(65, MAX_RETAINED + 1)
                .build(),
            Err(ConfigError::RetentionTooLarge { index: 1 })
        );
        let mut b = Config::builder();
        for i in 0..=MAX_CLASSES {
            b = b.class(16 << i, 1);
        }
        assert_eq!(b.build(), Err(ConfigError::TooManyClasses));
        let e = Config::builder()
            .class(64, 1)
            .class(32, 1)
            .build()
            .unwrap_err();
        assert!(alloc::format!("{e}").contains("smallest first"), "{e}");
    }
}
