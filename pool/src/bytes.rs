//! Interoperability with the [`bytes`] crate (feature `bytes`).
//!
//! * [`Buf`](crate::Buf) implements [`bytes::BufMut`]: `put_*` write into its spare capacity
//!   (a fixed capacity: writing past it panics, as for a `&mut [u8]`, so check
//!   `remaining_mut()`); `chunk_mut` exposes the spare capacity as an [`UninitSlice`], which
//!   safe code can write but never read, so a previous holder's bytes stay unreadable.
//! * [`SharedBuf`](crate::SharedBuf) implements [`bytes::Buf`] (reading consumes the view
//!   from the front; [`copy_to_bytes`](bytes::Buf::copy_to_bytes) hands out a view, no copy).
//! * `Bytes::from(shared_buf)` and `Bytes::from(buf)` make a [`Bytes`] **without copying**:
//!   the `Bytes` points at the pooled bytes themselves, and the buffer goes back to its pool
//!   when the last clone of that `Bytes` (and of any other view) is dropped.
//!
//! ```
//! use bytes::{BufMut, Bytes};
//! use slackwater_pool::Pool;
//!
//! let pool = Pool::new();
//! let mut buf = pool.get(64).unwrap();
//! buf.put_u16(5);                                 // bytes::BufMut
//! buf.put_slice(b"hello");
//! let frozen = buf.freeze();
//! let at = frozen.as_ptr();
//! let bytes = Bytes::from(frozen);                 // no copy: the same memory
//! assert_eq!(bytes.as_ptr(), at);
//! assert_eq!(&bytes[..], b"\x00\x05hello");
//! let clone = bytes.slice(2..);
//! drop(bytes);
//! assert_eq!(pool.stats().in_use(), 1);           // a clone still holds the buffer
//! drop(clone);
//! assert_eq!(pool.stats().in_use(), 0);           // the last one gave it back
//! ```

use ::bytes::buf::UninitSlice;

/// Writes go into the spare capacity (`len..capacity`); the capacity is fixed, so
/// `remaining_mut` is [`spare_capacity`](crate::Buf::spare_capacity) and a `put_*` that does
/// not fit panics (check `remaining_mut()` first, or use
/// [`extend_from_slice`](crate::Buf::extend_from_slice), which fails without writing).
///
/// ```
/// use bytes::BufMut;
/// let mut b = slackwater_pool::global().get(8).unwrap();
/// assert_eq!(b.remaining_mut(), 256);
/// b.put_u32(0xdead_beef);
/// b.put_bytes(0, 2);
/// assert_eq!(&b[..], &[0xde, 0xad, 0xbe, 0xef, 0, 0]);
/// assert_eq!(b.remaining_mut(), 250);
/// ```
// SAFETY: `BufMut`'s contract as this impl keeps it:
// * `remaining_mut` (`cap - end`) changes only through `advance_mut` (and `Buf`'s own methods
//   documented to change the position: `clear`, `compact`, `truncate`, `extend_from_slice`);
// * `chunk_mut` is exactly `end..cap` of the allocation this `Buf` owns, so it is empty if and
//   only if `remaining_mut() == 0`, and it never panics;
// * `advance_mut(cnt)` panics if `cnt > remaining_mut()`, and otherwise moves `end` only over
//   bytes its caller promises are initialized (the first `cnt` bytes of `chunk_mut`), which
//   is `Buf::advance_mut`'s own contract: `0..end` stays initialized, so safe code (which
//   sees `head..end` as `[u8]`) never reads a byte that was not written through this `Buf`.
unsafe impl ::bytes::BufMut for crate::Buf {
    #[inline]
    fn remaining_mut(&self) -> usize {
        self.spare_capacity()
    }

    #[inline]
    unsafe fn advance_mut(&mut self, cnt: usize) {
        let spare = self.spare_capacity();
        assert!(
            cnt <= spare,
            "advance_mut: {cnt} bytes past a spare capacity of {spare}"
        );
        // SAFETY: `cnt <= spare_capacity()` (checked above), and the caller of this
        // `BufMut::advance_mut` guarantees the next `cnt` bytes of `chunk_mut()`, which are
        // the first `cnt` bytes of `spare_capacity_mut()`, are initialized.
        unsafe { crate::Buf::advance_mut(self, cnt) }
    }

    #[inline]
    fn chunk_mut(&mut self) -> &mut UninitSlice {
        // `UninitSlice` only allows writes (and pointer access), like `MaybeUninit<u8>`.
        UninitSlice::uninit(self.spare_capacity_mut())
    }

    #[inline]
    fn put_slice(&mut self, src: &[u8]) {
        let spare = self.spare_capacity();
        if self.extend_from_slice(src).is_err() {
            panic!(
                "put_slice: {} bytes do not fit in a spare capacity of {spare}",
                src.len()
            );
        }
    }
}

/// A view of a pooled buffer, read from the front (the bytes are not copied).
///
/// ```
/// use bytes::Buf as _;
/// let mut b = slackwater_pool::global().get(16).unwrap();
/// b.extend_from_slice(&[0, 3, b'a', b'b', b'c', 9]).unwrap();
/// let mut v = b.freeze();
/// let n = v.get_u16() as usize;                  // bytes::Buf
/// let word = v.copy_to_bytes(n);                 // a view, no copy
/// assert_eq!(&word[..], b"abc");
/// assert_eq!(v.remaining(), 1);
/// ```
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "bytes", feature = "alloc"))))]
impl ::bytes::Buf for crate::SharedBuf {
    #[inline]
    fn remaining(&self) -> usize {
        self.len()
    }

    #[inline]
    fn chunk(&self) -> &[u8] {
        self
    }

    /// Consumes `cnt` bytes; panics if `cnt > remaining()` (as `Bytes` does; the inherent
    /// [`SharedBuf::advance`](crate::SharedBuf::advance) stops at the end instead).
    #[inline]
    fn advance(&mut self, cnt: usize) {
        let len = self.len();
        assert!(cnt <= len, "advance: {cnt} bytes past the {len} remaining");
        crate::SharedBuf::advance(self, cnt);
    }

    /// The next `len` bytes as a [`Bytes`](::bytes::Bytes) viewing this buffer (no copy).
    fn copy_to_bytes(&mut self, len: usize) -> ::bytes::Bytes {
        let remaining = self.len();
        match self.split_to(len) {
            Some(head) => head.into(),
            None => panic!("copy_to_bytes: {len} bytes past the {remaining} remaining"),
        }
    }
}

/// Without a copy: the `Bytes` points at the view's bytes in the pooled buffer (the same
/// pointer), and owns the view; the buffer goes back to its pool when the last clone of the
/// `Bytes` (and the last other view of the buffer) is dropped.
///
/// The conversion allocates the small shared count `Bytes::from_owner` keeps (one `Box`).
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "bytes", feature = "alloc"))))]
impl From<crate::SharedBuf> for ::bytes::Bytes {
    #[inline]
    fn from(view: crate::SharedBuf) -> Self {
        ::bytes::Bytes::from_owner(view)
    }
}

/// Without a copy, as `Bytes::from(buf.freeze())` does, but owning the `Buf` directly (no
/// [`SharedBuf`](crate::SharedBuf) count in between): the `Bytes` points at the readable
/// bytes in the pooled buffer, which goes back to its pool when the last clone is dropped.
///
/// ```
/// use bytes::Bytes;
/// let mut b = slackwater_pool::global().get(16).unwrap();
/// b.extend_from_slice(b"xyz").unwrap();
/// let at = b.as_ptr();
/// let bytes = Bytes::from(b);
/// assert_eq!((bytes.as_ptr(), &bytes[..]), (at, &b"xyz"[..]));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
impl From<crate::Buf> for ::bytes::Bytes {
    #[inline]
    fn from(buf: crate::Buf) -> Self {
        // `Buf` is `Send + 'static` and its `as_ref` is `head..end`, which nothing can change
        // once the `Bytes` owns it.
        ::bytes::Bytes::from_owner(buf)
    }
}
