//! [`Buf`]: an owned pooled buffer that behaves like a fixed-capacity `Vec<u8>`.

use core::fmt;
use core::mem::MaybeUninit;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

/// Where a buffer goes when it is dropped.
///
/// # Safety
/// Implementors must keep themselves alive (at the same address) until every allocation they
/// handed out has come back through [`Home::put`], and `put` must accept each allocation once.
pub(crate) unsafe trait Home: Sync {
    /// Takes back the allocation at `ptr` of `cap` bytes. Returns what the caller must do
    /// once `&self` is no longer in use: drop a reference to the pool's shared state, which
    /// may free the home itself (so it cannot happen inside `put`).
    ///
    /// # Safety
    /// * `ptr` and `cap` are exactly what this home handed out in one [`Buf`];
    /// * the allocation is given back once, and nothing uses it afterwards;
    /// * the returned [`Release`] is run once, after the last use of `self`.
    unsafe fn put(&self, ptr: NonNull<u8>, cap: usize) -> Option<Release>;
}

/// A deferred "drop one reference" on a pool's shared state.
pub(crate) struct Release {
    pub(crate) target: *const (),
    /// # Safety
    /// Called once with `target`, by a holder of one reference.
    pub(crate) run: unsafe fn(*const ()),
}

/// An owned buffer from a pool: a `Vec<u8>` of fixed capacity whose memory goes back to its
/// pool when it is dropped.
///
/// * `len` starts at 0 and only bytes written into the buffer are readable (`Deref<Target =
///   [u8]>`); the spare capacity is exposed as `MaybeUninit<u8>`, so safe code can never read
///   bytes a previous holder left behind.
/// * [`advance`](Buf::advance) consumes from the front without changing the buffer's
///   allocation, capacity or class: the whole allocation goes back to its class.
/// * [`freeze`](Buf::freeze) turns it into a cloneable, sliceable [`SharedBuf`](crate::SharedBuf).
///
/// ```
/// let mut buf = slackwater_pool::global().get(100).unwrap();
/// assert_eq!(buf.capacity(), 256); // the smallest default class that fits
/// assert!(buf.is_empty());
/// buf.extend_from_slice(b"hello, world").unwrap();
/// buf.advance(7);
/// assert_eq!(&buf[..], b"world");
/// ```
pub struct Buf {
    /// Start of the allocation (never moves).
    ptr: NonNull<u8>,
    /// Size of the allocation: the class size, or the request for unpooled buffers.
    cap: usize,
    /// Readable bytes are `head..end`; `0..end` is initialized.
    head: usize,
    end: usize,
    home: HomeRef,
}

/// Where a [`Buf`] goes back to.
#[derive(Clone, Copy)]
pub(crate) enum HomeRef {
    /// A size class of a heap pool. Its return path is called directly (and its fast path
    /// inlined into `Buf::drop`), not through a vtable: it is the hot one.
    #[cfg(feature = "alloc")]
    Class(NonNull<crate::pool::Class>),
    /// Anything else (allocations above the largest class, `FixedPool`).
    Other(NonNull<dyn Home>),
}

// SAFETY: a `Buf` owns its allocation exclusively (like `Vec<u8>`), and its home is `Sync`, so
// returning the allocation from another thread is sound.
unsafe impl Send for Buf {}
// SAFETY: `&Buf` only gives `&[u8]` access to initialized bytes.
unsafe impl Sync for Buf {}

/// The buffer has too little spare capacity for the bytes given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityError {
    /// Bytes asked to write.
    pub needed: usize,
    /// Spare capacity there was.
    pub spare: usize,
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes do not fit in {} bytes of spare capacity",
            self.needed, self.spare
        )
    }
}

impl core::error::Error for CapacityError {}

impl Buf {
    /// # Safety
    /// `ptr` is an allocation of `cap` bytes owned by `home`, handed out to this `Buf` alone,
    /// and `home` stays valid until the `Buf` gives the allocation back.
    #[inline]
    #[cfg_attr(loom, allow(dead_code))] // `FixedPool`'s, which is not built under loom
    pub(crate) unsafe fn from_raw(ptr: NonNull<u8>, cap: usize, home: NonNull<dyn Home>) -> Self {
        Buf {
            ptr,
            cap,
            head: 0,
            end: 0,
            home: HomeRef::Other(home),
        }
    }

    /// # Safety
    /// As for [`from_raw`](Buf::from_raw); a `HomeRef::Class` class keeps the same contract
    /// as a [`Home`] (`Class::put` is its `put`).
    #[cfg(feature = "alloc")]
    #[inline(always)]
    pub(crate) unsafe fn from_home(ptr: NonNull<u8>, cap: usize, home: HomeRef) -> Self {
        Buf {
            ptr,
            cap,
            head: 0,
            end: 0,
            home,
        }
    }

    /// Number of readable bytes.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(16).unwrap();
    /// b.extend_from_slice(b"abc").unwrap();
    /// assert_eq!(b.len(), 3);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.end - self.head
    }

    /// Whether there is nothing to read.
    ///
    /// ```
    /// assert!(slackwater_pool::global().get(16).unwrap().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end == self.head
    }

    /// Size of the whole allocation: the class size (or the exact request for a buffer above
    /// the largest class). [`advance`](Buf::advance) does not change it.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(5000).unwrap();
    /// assert_eq!(b.capacity(), 16 * 1024);
    /// b.extend_from_slice(&[1; 10]).unwrap();
    /// b.advance(10);
    /// assert_eq!(b.capacity(), 16 * 1024);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Bytes that can still be written at the end.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(256).unwrap();
    /// b.extend_from_slice(&[0; 6]).unwrap();
    /// assert_eq!(b.spare_capacity(), 250);
    /// ```
    #[inline]
    pub fn spare_capacity(&self) -> usize {
        self.cap - self.end
    }

    /// The writable space after the readable bytes, as uninitialized memory. Write into it,
    /// then call [`advance_mut`](Buf::advance_mut) to make the bytes readable.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(8).unwrap();
    /// let spare = b.spare_capacity_mut();
    /// spare[0].write(42);
    /// // SAFETY: the first spare byte was just written.
    /// unsafe { b.advance_mut(1) };
    /// assert_eq!(&b[..], &[42]);
    /// ```
    #[inline]
    pub fn spare_capacity_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: `end..cap` lies inside the allocation, which this `Buf` owns exclusively;
        // `MaybeUninit<u8>` makes no claim about the bytes' contents.
        unsafe {
            core::slice::from_raw_parts_mut(
                self.ptr.as_ptr().add(self.end).cast::<MaybeUninit<u8>>(),
                self.cap - self.end,
            )
        }
    }

    /// Marks the first `n` bytes of the spare capacity as written and readable.
    ///
    /// # Safety
    /// * `n <= self.spare_capacity()`;
    /// * the first `n` bytes of [`spare_capacity_mut`](Buf::spare_capacity_mut) have been
    ///   initialized (for example by `read(2)` into that memory).
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(4).unwrap();
    /// for (i, byte) in b.spare_capacity_mut()[..4].iter_mut().enumerate() {
    ///     byte.write(i as u8);
    /// }
    /// // SAFETY: four bytes were written above, and the capacity is 256.
    /// unsafe { b.advance_mut(4) };
    /// assert_eq!(&b[..], &[0, 1, 2, 3]);
    /// ```
    #[inline]
    pub unsafe fn advance_mut(&mut self, n: usize) {
        debug_assert!(n <= self.cap - self.end);
        self.end += n;
    }

    /// Appends `data`, or fails without writing if it does not fit in the spare capacity.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(256).unwrap();
    /// b.extend_from_slice(&[7; 200]).unwrap();
    /// assert!(b.extend_from_slice(&[7; 100]).is_err());
    /// assert_eq!(b.len(), 200);
    /// ```
    pub fn extend_from_slice(&mut self, data: &[u8]) -> Result<(), CapacityError> {
        let spare = self.spare_capacity();
        if data.len() > spare {
            return Err(CapacityError {
                needed: data.len(),
                spare,
            });
        }
        // SAFETY: `data.len() <= spare`, so `end..end + len` is inside the allocation, which
        // this `Buf` owns; `data` cannot overlap it because we hold `&mut self`.
        unsafe {
            core::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.ptr.as_ptr().add(self.end),
                data.len(),
            );
        }
        self.end += data.len();
        Ok(())
    }

    /// Consumes up to `n` bytes from the front (all of them if `n > len`). The allocation and
    /// its class stay the same.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(16).unwrap();
    /// b.extend_from_slice(b"header:body").unwrap();
    /// b.advance(7);
    /// assert_eq!(&b[..], b"body");
    /// b.advance(100);
    /// assert!(b.is_empty());
    /// ```
    #[inline]
    pub fn advance(&mut self, n: usize) {
        self.head += n.min(self.len());
    }

    /// Keeps the first `n` readable bytes and drops the rest (no-op if `n >= len`).
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(16).unwrap();
    /// b.extend_from_slice(b"abcdef").unwrap();
    /// b.truncate(2);
    /// assert_eq!(&b[..], b"ab");
    /// ```
    #[inline]
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            self.end = self.head + n;
        }
    }

    /// Drops every byte; the whole capacity becomes spare again.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(16).unwrap();
    /// b.extend_from_slice(b"abc").unwrap();
    /// b.clear();
    /// assert_eq!((b.len(), b.spare_capacity()), (0, 256));
    /// ```
    #[inline]
    pub fn clear(&mut self) {
        self.head = 0;
        self.end = 0;
    }

    /// Moves the readable bytes to the start of the allocation, so the space consumed by
    /// [`advance`](Buf::advance) becomes spare capacity again. A partial frame left at the end
    /// of a buffer is completed this way without a new buffer.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(256).unwrap();
    /// b.extend_from_slice(&[1; 256]).unwrap();
    /// b.advance(250);
    /// assert_eq!(b.spare_capacity(), 0);
    /// b.compact();
    /// assert_eq!((b.len(), b.spare_capacity()), (6, 250));
    /// ```
    pub fn compact(&mut self) {
        if self.head == 0 {
            return;
        }
        let len = self.len();
        // SAFETY: both ranges lie inside the allocation and `head..end` is initialized;
        // `copy` handles overlap.
        unsafe {
            core::ptr::copy(self.ptr.as_ptr().add(self.head), self.ptr.as_ptr(), len);
        }
        self.head = 0;
        self.end = len;
    }

    /// Turns the buffer into a frozen, cloneable, sliceable view; the memory returns to its
    /// pool when the last view is dropped. The shared count lives in a 256-byte buffer from the
    /// global pool, so freezing allocates nothing in steady state.
    ///
    /// ```
    /// let mut b = slackwater_pool::global().get(64).unwrap();
    /// b.extend_from_slice(b"frame payload").unwrap();
    /// let shared = b.freeze();
    /// let payload = shared.slice(6..).unwrap();
    /// drop(shared);
    /// assert_eq!(&payload[..], b"payload");
    /// ```
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    pub fn freeze(self) -> crate::SharedBuf {
        crate::SharedBuf::new(self)
    }

    /// The readable bytes' start, for [`SharedBuf`](crate::SharedBuf).
    #[cfg(feature = "alloc")]
    pub(crate) fn data_ptr(&self) -> *const u8 {
        // SAFETY: `head <= cap`, so the pointer stays inside (or one past) the allocation.
        unsafe { self.ptr.as_ptr().add(self.head) }
    }
}

impl Deref for Buf {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: `head..end` is inside the allocation and initialized (every byte below `end`
        // was written through `extend_from_slice`, `advance_mut`'s contract or `compact`).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr().add(self.head), self.len()) }
    }
}

impl DerefMut for Buf {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr().add(self.head), self.len()) }
    }
}

impl AsRef<[u8]> for Buf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for Buf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buf")
            .field("len", &self.len())
            .field("capacity", &self.cap)
            .finish()
    }
}

impl Drop for Buf {
    #[inline]
    fn drop(&mut self) {
        match self.home {
            // SAFETY: `ptr` came from `class` (the `from_home` contract) and this is the one
            // place the allocation is given back; `class` is alive until then.
            #[cfg(feature = "alloc")]
            HomeRef::Class(class) => unsafe { crate::pool::Class::put(class, self.ptr) },
            HomeRef::Other(home) => {
                // SAFETY: `ptr`/`cap` came from `home` (the `from_raw` contract) and this is
                // the one place the allocation is given back; `home` is alive until then.
                let release = unsafe { home.as_ref().put(self.ptr, self.cap) };
                if let Some(r) = release {
                    // SAFETY: the borrow of `home` above has ended; this buffer held one
                    // reference.
                    unsafe { (r.run)(r.target) }
                }
            }
        }
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl std::io::Write for Buf {
    /// Writes as much of `data` as fits in the spare capacity (0 when full).
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(self.spare_capacity());
        // `n` fits by construction.
        let _ = self.extend_from_slice(&data[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
