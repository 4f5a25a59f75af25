//! A lock-free, `no_std`, multi-size buffer pool.
//!
//! A server with many idle connections should not pin a read buffer per connection. The
//! pattern this crate serves is: wait until data is really there, take a buffer, read, and
//! give the buffer back as soon as the bytes are consumed. Getting and returning a buffer must
//! then be cheap, safe from any thread, and never hand out stale bytes.
//!
//! ```
//! use slackwater_pool::{global, Pool};
//!
//! let mut buf = global().get(1500).unwrap();      // smallest class >= 1500 B: 4 KiB
//! assert_eq!((buf.len(), buf.capacity()), (0, 4096));
//! buf.extend_from_slice(b"len:5 hello").unwrap();  // only written bytes are readable
//! buf.advance(6);                                  // consume a header; class unchanged
//! let payload = buf.freeze();                      // cloneable, sliceable, refcounted
//! let word = payload.slice(0..5).unwrap();
//! drop(payload);
//! assert_eq!(&word[..], b"hello");
//! drop(word);                                      // last view: the 4 KiB buffer goes back
//!
//! let pool = Pool::new();                          // a pool of your own, with statistics
//! drop(pool.get(100).unwrap());
//! assert_eq!((pool.stats().in_use(), pool.stats().idle()), (0, 1));
//! ```
//!
//! # Pieces
//! * [`Pool`]: size classes (default 256 B, 4 KiB, 16 KiB, 32 KiB, 1 MiB — gRPC-Go's tiers,
//!   see [`Config`]); requests above the largest class are allocated exactly and freed on
//!   drop. [`Pool::new_static`] is `const` for `static` pools; [`global`] is one with zero
//!   setup.
//! * [`PoolHandle`]: an owned, cheaply cloned handle (`&'static Pool` or `Arc<Pool>`) for
//!   types that keep a pool without a lifetime.
//! * [`Buf`]: owned, RAII, like a fixed-capacity `Vec<u8>`; [`SharedBuf`]: frozen views.
//! * [`FixedPool`]: buffers carved from memory held inline, for targets without an allocator.
//! * [`Stats`]: per class, buffers in use, idle, hits, misses, bytes retained.
//!
//! # How it works
//! Each class keeps its idle buffers in slots linked into a lock-free Treiber stack whose head
//! is one word holding an index and an ABA tag (see the `stack` module source for the
//! algorithm and its correctness argument). It needs only a pointer-sized CAS, so it builds on
//! 32-bit targets (`thumbv7em-none-eabihf`) and under loom, which have no 128-bit atomics.
//! A second stack holds the vacant slots; the number of slots is the class's retention limit,
//! and a buffer returned when none is vacant is freed.
//!
//! Under the `std` feature, a thread also owns a private shard in every pool (one of 16,
//! claimed on first use and released when the thread exits): one cached buffer per class and
//! the thread's counters. Only the owner ever touches its cache, so taking a buffer from it
//! and returning one to it are plain loads and stores, with no atomic read-modify-write (the
//! return also reads the pool's trim epoch, one plain load). For the same reason no other
//! thread may empty it: [`Pool::trim`] frees the shared lists and the calling thread's cache
//! at once, and every other thread frees what it caches (at most one buffer per class) the
//! next time it returns a buffer to the pool or finds its cache empty; a thread that exits
//! moves its cache to the shared lists. The caches are counted in the statistics as idle
//! buffers.
//!
//! # Features
//! * `std` (the default; implies `alloc`): per-thread caches, `std::io::Write` for [`Buf`],
//!   `From<PoolError> for std::io::Error`.
//! * `alloc` (implied by `std`; `default-features = false, features = ["alloc"]` for `no_std`
//!   with an allocator): [`Pool`], [`PoolHandle`], [`SharedBuf`], [`global`].
//! * `bytes` (off by default): the [`bytes`](https://docs.rs/bytes) crate's traits:
//!   `bytes::BufMut` for [`Buf`], `bytes::Buf` for [`SharedBuf`], and `bytes::Bytes` from a
//!   [`SharedBuf`] or a [`Buf`] **without a copy** (the `Bytes` points at the pooled bytes; the
//!   buffer goes back to its pool when the last `Bytes` clone is dropped).
//! * None of them: [`FixedPool`] and [`Buf`] only.
//!
//! # Soundness notes
//! * Safe code never reads uninitialized or stale memory: `Buf` exposes `0..len` as `[u8]`
//!   and the rest as `[MaybeUninit<u8>]`.
//! * A `Buf` may outlive an owned [`Pool`]: it holds a reference to the pool's shared state,
//!   which is freed when the last buffer comes back. Static pools are never freed.
//! * With [`ConfigBuilder::zeroing`], every buffer is zeroed when returned.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Without `alloc` only `FixedPool` is built; the heap pool's helpers are unused then.
#![cfg_attr(not(feature = "alloc"), allow(dead_code, unused_imports))]
#![deny(missing_docs)]
#![warn(
    clippy::alloc_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::std_instead_of_core
)]

#[cfg(any(feature = "alloc", test))]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod buf;
#[cfg(feature = "bytes")]
mod bytes;
mod config;
#[cfg(not(loom))]
mod fixed;
#[cfg(feature = "alloc")]
mod handle;
#[cfg(feature = "alloc")]
mod pool;
#[cfg(feature = "alloc")]
mod shared;
mod stack;
mod stats;
mod sync;
#[cfg(feature = "std")]
mod tls;

pub use buf::{Buf, CapacityError};
pub use config::{Config, ConfigBuilder, ConfigError, DEFAULT_CLASSES, MAX_CLASSES, MAX_RETAINED};
#[cfg(not(loom))]
pub use fixed::FixedPool;
#[cfg(feature = "alloc")]
pub use handle::PoolHandle;
#[cfg(feature = "alloc")]
pub use pool::Pool;
#[cfg(feature = "alloc")]
pub use shared::SharedBuf;
pub use stats::{ClassStats, Stats};

use core::fmt;

/// Why a buffer could not be handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolError {
    /// The request is larger than any allocation can be (`isize::MAX`), or than a
    /// [`FixedPool`]'s buffers.
    CapacityOverflow {
        /// Bytes requested.
        requested: usize,
    },
    /// The allocator returned no memory.
    AllocFailed {
        /// Bytes asked of the allocator.
        size: usize,
    },
    /// A [`FixedPool`] has every buffer in use.
    Exhausted,
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::CapacityOverflow { requested } => {
                write!(f, "a buffer of {requested} bytes cannot be allocated")
            }
            PoolError::AllocFailed { size } => write!(f, "out of memory allocating {size} bytes"),
            PoolError::Exhausted => f.write_str("every buffer of the fixed pool is in use"),
        }
    }
}

impl core::error::Error for PoolError {}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl From<PoolError> for std::io::Error {
    fn from(e: PoolError) -> Self {
        std::io::Error::new(std::io::ErrorKind::OutOfMemory, e)
    }
}

/// The process-wide default pool: default classes, no setup, no reference counting.
///
/// ```
/// let b = slackwater_pool::global().get(16 * 1024).unwrap();
/// assert_eq!(b.capacity(), 16 * 1024);
/// ```
#[cfg(all(feature = "alloc", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub fn global() -> &'static Pool {
    static GLOBAL: Pool = Pool::new_static(Config::DEFAULT);
    &GLOBAL
}

/// Internals exposed to the loom model checks only (built under `--cfg loom`).
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_internals {
    use crate::sync::AtomicU32;

    /// Starts shard numbering from 0; call at the start of every model execution.
    pub fn reset_shards() {
        crate::tls::reset();
    }

    /// The tagged-index Treiber stack over its own `next` table.
    pub struct Stack {
        stack: crate::stack::IndexStack,
        next: alloc::vec::Vec<AtomicU32>,
    }

    impl Stack {
        /// A stack over `n` entries, holding all of them (`full`) or none.
        pub fn new(n: usize, full: bool) -> Self {
            let next: alloc::vec::Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
            let stack = if full {
                crate::stack::IndexStack::new_full(n, &next)
            } else {
                crate::stack::IndexStack::new(n)
            };
            Stack { stack, next }
        }
        /// Pushes an index the caller owns.
        pub fn push(&self, i: usize) {
            self.stack.push(i, &self.next)
        }
        /// Pops the top index.
        pub fn pop(&self) -> Option<usize> {
            self.stack.pop(&self.next)
        }
    }
}

/// The README's examples, compiled and run as doctests (so they cannot go stale).
#[cfg(doctest)]
#[doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))]
pub struct ReadmeDoctests;
