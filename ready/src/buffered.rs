//! [`Buffered`]: the slow path for sources with no readiness.

use crate::{Buf, Pool, ReadyRead};
use std::io;

/// `ReadyRead` for any [`io::Read`] that cannot report readiness: pipes in tests, a TLS
/// stream (whose fd carries ciphertext), an in-memory reader.
///
/// **This is the slow path, and it pins memory**: it cannot know data is there before reading,
/// so it takes the buffer first and blocks in `read` holding it — exactly what the rest of
/// this crate avoids. The buffer goes back as soon as the caller drops it, so a *drained*
/// source holds nothing; a *blocked* one holds one buffer. Because `io::Read` needs
/// initialized memory, the buffer's first `size` bytes are zeroed before each read.
///
/// Every form calls `read` once (again after `Interrupted`); the `try_` forms are the same
/// calls, passing a `WouldBlock` through (useful only if the inner reader is non-blocking).
/// A read that returns 0 is the end of the stream (`None`, or 0 appended).
///
/// ```
/// use slackwater_ready::{Buffered, ReadyRead, global};
/// let mut r = Buffered::new(&b"some bytes"[..]);
/// let b = r.read_ready(4, global()).unwrap().unwrap();
/// assert_eq!(&b[..], b"some");
/// ```
#[derive(Debug)]
pub struct Buffered<R> {
    inner: R,
}

impl<R: io::Read> Buffered<R> {
    /// Wraps `inner`.
    ///
    /// ```
    /// let r = slackwater_ready::Buffered::new(std::io::empty());
    /// ```
    pub fn new(inner: R) -> Self {
        Buffered { inner }
    }

    /// Unwraps the reader.
    ///
    /// ```
    /// let r = slackwater_ready::Buffered::new(std::io::empty()).into_inner();
    /// ```
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// One `read` (retrying `Interrupted`) into a fresh buffer of at least `size` bytes.
    fn read_once(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        let size = size.max(1);
        let mut buf = pool.get(size)?;
        let spare = &mut buf.spare_capacity_mut()[..size];
        for b in spare.iter_mut() {
            b.write(0);
        }
        // SAFETY: the first `size` spare bytes were just initialized.
        let dst = unsafe { &mut *(spare as *mut [std::mem::MaybeUninit<u8>] as *mut [u8]) };
        loop {
            match self.inner.read(dst) {
                Ok(0) => return Ok(None),
                Ok(n) => {
                    let n = n.min(size);
                    // SAFETY: `n <= size` bytes of the spare capacity are initialized.
                    unsafe { buf.advance_mut(n) };
                    return Ok(Some(buf));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: io::Read> ReadyRead for Buffered<R> {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read_once(size, pool)
    }

    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read_once(size, pool)
    }

    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        let spare = buf.spare_capacity_mut();
        let len = max.min(spare.len());
        let spare = &mut spare[..len];
        for b in spare.iter_mut() {
            b.write(0);
        }
        // SAFETY: the first `len` spare bytes were just initialized.
        let dst = unsafe { &mut *(spare as *mut [std::mem::MaybeUninit<u8>] as *mut [u8]) };
        let n = self.read_ready_into(dst)?.min(len);
        // SAFETY: `n <= len` initialized bytes.
        unsafe { buf.advance_mut(n) };
        Ok(n)
    }

    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append_ready(buf, max)
    }

    fn read_ready_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(dst) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}
