//! [`SharedBuf`]: a frozen, reference-counted view of a pooled buffer.

use crate::Buf;
use crate::sync::{AtomicUsize, Ordering};
use alloc::boxed::Box;
use core::ops::{Bound, Deref, RangeBounds};
use core::ptr::NonNull;
use core::{fmt, slice};

struct Shared {
    refs: AtomicUsize,
    buf: Buf,
    /// The pooled 256-byte buffer this `Shared` lives in, or `None` if it was boxed.
    home: Option<Buf>,
}

/// Past this many references a clone is refused (as `Arc` does), so the count can never wrap.
const MAX_REFS: usize = isize::MAX as usize;

/// A frozen, cheaply cloneable and sliceable view of a pooled buffer, like `bytes::Bytes`.
///
/// Clones and slices share one allocation and one atomic count; the buffer goes back to its
/// pool exactly once, when the last view is dropped (on whichever thread that happens).
///
/// ```
/// let mut b = slackwater_pool::global().get(32).unwrap();
/// b.extend_from_slice(b"GET /index.html").unwrap();
/// let mut all = b.freeze();
/// let method = all.split_to(3).unwrap();
/// let other = all.clone();
/// assert_eq!(&method[..], b"GET");
/// assert_eq!(&other[..], b" /index.html");
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub struct SharedBuf {
    shared: NonNull<Shared>,
    /// Offset of this view from the start of the frozen buffer's readable bytes.
    off: usize,
    len: usize,
}

// SAFETY: the bytes behind a `SharedBuf` are never written after `freeze`, the count is atomic,
// and the final drop returns the `Buf` (which is `Send`) from whichever thread it happens on.
unsafe impl Send for SharedBuf {}
// SAFETY: as above; `&SharedBuf` gives only `&[u8]`.
unsafe impl Sync for SharedBuf {}

impl SharedBuf {
    /// Freezes `buf`. The shared count lives in a small buffer from the global pool (so a
    /// freeze allocates nothing in steady state), or in a `Box` if that pool cannot give one
    /// (and always under loom, which has no global pool).
    pub(crate) fn new(buf: Buf) -> Self {
        let len = buf.len();
        let shared = Shared {
            refs: AtomicUsize::new(1),
            buf,
            home: None,
        };
        #[cfg(not(loom))]
        let shared = match Self::place_in_pool(shared) {
            Ok(p) => {
                return SharedBuf {
                    shared: p,
                    off: 0,
                    len,
                };
            }
            Err(shared) => shared,
        };
        SharedBuf {
            shared: NonNull::from(Box::leak(Box::new(shared))),
            off: 0,
            len,
        }
    }

    /// Moves `shared` into a pooled buffer of its own, which it then owns.
    #[cfg(not(loom))]
    fn place_in_pool(mut shared: Shared) -> Result<NonNull<Shared>, Shared> {
        const {
            assert!(core::mem::align_of::<Shared>() <= crate::pool::ALIGN);
        }
        let Ok(mut home) = crate::global().get(core::mem::size_of::<Shared>()) else {
            return Err(shared);
        };
        // A fresh `Buf` is empty: its spare capacity starts at the (ALIGN-aligned) start of
        // its allocation and holds at least `size_of::<Shared>()` bytes.
        let p = home.spare_capacity_mut().as_mut_ptr().cast::<Shared>();
        shared.home = Some(home);
        // SAFETY: `p` is aligned (checked above) and points to at least `size_of::<Shared>()`
        // writable bytes owned by `home`, which now lives inside the value written there and
        // is never used to access that memory until `drop` has moved the value out.
        unsafe { p.write(shared) };
        // SAFETY: derived from a non-null allocation.
        Ok(unsafe { NonNull::new_unchecked(p) })
    }

    fn inner(&self) -> &Shared {
        // SAFETY: this view holds one of the references, so the `Shared` is alive.
        unsafe { self.shared.as_ref() }
    }

    /// Number of bytes in this view.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(8).unwrap();
    /// b.extend_from_slice(b"abc").unwrap();
    /// assert_eq!(b.freeze().len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether this view is empty.
    ///
    /// ```
    /// assert!(slackwater_pool::global().get(8).unwrap().freeze().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Capacity of the pooled buffer behind this view (its class size).
    ///
    /// ```
    /// let b = slackwater_pool::global().get(300).unwrap().freeze();
    /// assert_eq!(b.buffer_capacity(), 4096);
    /// ```
    pub fn buffer_capacity(&self) -> usize {
        self.inner().buf.capacity()
    }

    /// A new view of `range` within this one, or `None` if the range is out of bounds.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(8).unwrap();
    /// b.extend_from_slice(b"abcdef").unwrap();
    /// let v = b.freeze();
    /// assert_eq!(&v.slice(1..3).unwrap()[..], b"bc");
    /// assert!(v.slice(4..9).is_none());
    /// ```
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Option<SharedBuf> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.checked_add(1)?,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.checked_add(1)?,
            Bound::Excluded(&e) => e,
            Bound::Unbounded => self.len,
        };
        if start > end || end > self.len {
            return None;
        }
        let mut v = self.clone();
        v.off += start;
        v.len = end - start;
        Some(v)
    }

    /// Splits off the first `at` bytes as a new view; `self` keeps the rest. `None` (and no
    /// change) if `at > len`.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(8).unwrap();
    /// b.extend_from_slice(b"abcdef").unwrap();
    /// let mut rest = b.freeze();
    /// let head = rest.split_to(2).unwrap();
    /// assert_eq!((&head[..], &rest[..]), (&b"ab"[..], &b"cdef"[..]));
    /// ```
    pub fn split_to(&mut self, at: usize) -> Option<SharedBuf> {
        let head = self.slice(..at)?;
        self.off += at;
        self.len -= at;
        Some(head)
    }

    /// Drops up to `n` bytes from the front of this view.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(8).unwrap();
    /// b.extend_from_slice(b"abcdef").unwrap();
    /// let mut v = b.freeze();
    /// v.advance(4);
    /// assert_eq!(&v[..], b"ef");
    /// ```
    pub fn advance(&mut self, n: usize) {
        let n = n.min(self.len);
        self.off += n;
        self.len -= n;
    }

    /// Whether this is the only view of its buffer.
    ///
    /// ```
    /// let a = slackwater_pool::global().get(8).unwrap().freeze();
    /// assert!(a.is_unique());
    /// let b = a.clone();
    /// assert!(!a.is_unique());
    /// drop(b);
    /// assert!(a.is_unique());
    /// ```
    pub fn is_unique(&self) -> bool {
        self.inner().refs.load(Ordering::Acquire) == 1
    }
}

impl Clone for SharedBuf {
    fn clone(&self) -> Self {
        // Relaxed: a new reference can only be made from an existing one, which keeps the
        // buffer alive; no other memory needs ordering here (the same argument as `Arc`).
        let old = self.inner().refs.fetch_add(1, Ordering::Relaxed);
        if old >= MAX_REFS {
            // Reached only by leaking about 2^63 clones; stop before the count can wrap.
            self.inner().refs.fetch_sub(1, Ordering::Relaxed);
            panic!("SharedBuf reference count overflow");
        }
        SharedBuf {
            shared: self.shared,
            off: self.off,
            len: self.len,
        }
    }
}

impl Drop for SharedBuf {
    fn drop(&mut self) {
        // Release: every use of the bytes through this view happens before the final drop.
        if self.inner().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Acquire: synchronizes with every other view's Release decrement (they head release
        // sequences our decrement continues). An acquire load of the count rather than an
        // acquire fence, as `std::sync::Arc` does under ThreadSanitizer, which does not model
        // fences and would report the read of `Shared` below as a race with those decrements.
        self.inner().refs.load(Ordering::Acquire);
        let p = self.shared.as_ptr();
        // SAFETY: the count reached zero, so this is the last view and nothing else reads or
        // writes the `Shared` any more.
        if unsafe { (*p).home.is_some() } {
            // SAFETY: as above; the value is moved out once, and its memory (owned by `home`)
            // is not touched again: dropping `home` last returns that memory to the pool.
            let Shared { buf, home, .. } = unsafe { core::ptr::read(p) };
            drop(buf);
            drop(home);
        } else {
            // SAFETY: as above; this `Shared` was made by `Box::leak` in `new` and is freed
            // exactly once, here. Dropping it returns the `Buf` to its pool.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

impl Deref for SharedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `off + len <= buf.len()` by construction of every view; the frozen bytes are
        // initialized and never written again while any view exists.
        unsafe { slice::from_raw_parts(self.inner().buf.data_ptr().add(self.off), self.len) }
    }
}

impl AsRef<[u8]> for SharedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for SharedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBuf")
            .field("len", &self.len)
            .field("buffer_capacity", &self.buffer_capacity())
            .finish()
    }
}
