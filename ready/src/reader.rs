//! [`PooledReader`]: `io::Read` over a `ReadyRead`, with a buffer only while bytes wait.

use crate::sticky::Sticky;
use crate::{Buf, PoolHandle, ReadyRead};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// An [`io::Read`] + [`io::BufRead`] over any [`ReadyRead`] whose internal buffer comes from
/// the pool when data arrives and goes back the moment it is drained (gRPC-Go's
/// `readyreader.NewBuffered`): a `BufReader` that holds nothing while the source is idle.
///
/// * A read into a slice of at least `buffer_size` bytes goes straight into that slice
///   ([`ReadyRead::read_ready_into`]), with no pooled buffer.
/// * A smaller read takes a buffer of `buffer_size` from the pool, copies out what fits and
///   keeps the rest; the buffer returns to the pool when the last byte is consumed.
/// * Each `read` makes at most one read of the source, so an error that follows data is
///   reported by the next call, after the data. End of stream is sticky: once reached, every
///   later `read` returns 0. So is a fatal error of the source (a reset): every later `read`
///   returns it again, never a clean end of stream.
///
/// ```
/// use slackwater_ready::{PooledReader, ReadyFd, Pool};
/// use std::io::{Read, Write};
/// let pool = slackwater_ready::PoolHandle::from(Pool::new());
/// let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let mut r = PooledReader::new(ReadyFd::new(a).unwrap(), 4096, pool.clone());
/// b.write_all(b"hello world").unwrap();
/// let mut word = [0u8; 5];
/// r.read_exact(&mut word).unwrap();
/// assert_eq!(pool.stats().in_use(), 1);              // " world" is still buffered
/// let mut rest = [0u8; 6];
/// r.read_exact(&mut rest).unwrap();
/// assert_eq!(pool.stats().in_use(), 0);              // drained: the buffer went back
/// ```
pub struct PooledReader<R> {
    inner: R,
    pool: PoolHandle,
    size: usize,
    buf: Option<Buf>,
    eof: bool,
    failed: Sticky,
}

impl<R: ReadyRead> PooledReader<R> {
    /// Reads `inner` through buffers of `buffer_size` bytes (at least 1) from `pool`.
    ///
    /// ```
    /// let r = slackwater_ready::PooledReader::new(
    ///     slackwater_ready::Buffered::new(std::io::empty()), 4096, slackwater_ready::global());
    /// ```
    pub fn new(inner: R, buffer_size: usize, pool: impl Into<PoolHandle>) -> Self {
        PooledReader {
            inner,
            pool: pool.into(),
            size: buffer_size.max(1),
            buf: None,
            eof: false,
            failed: Sticky::NONE,
        }
    }

    /// Bytes buffered and not yet read.
    ///
    /// ```
    /// let r = slackwater_ready::PooledReader::new(
    ///     slackwater_ready::Buffered::new(std::io::empty()), 4096, slackwater_ready::global());
    /// assert_eq!(r.buffered(), 0);
    /// ```
    pub fn buffered(&self) -> usize {
        self.buf.as_ref().map_or(0, |b| b.len())
    }

    /// The source.
    ///
    /// ```
    /// let r = slackwater_ready::PooledReader::new(
    ///     slackwater_ready::Buffered::new(std::io::empty()), 4096, slackwater_ready::global());
    /// let _ = r.get_ref();
    /// ```
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The source, mutably (reading from it directly skips what is buffered here).
    ///
    /// ```
    /// let mut r = slackwater_ready::PooledReader::new(
    ///     slackwater_ready::Buffered::new(std::io::empty()), 4096, slackwater_ready::global());
    /// let _ = r.get_mut();
    /// ```
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Unwraps the source; buffered bytes are dropped (their buffer goes back to the pool).
    ///
    /// ```
    /// let r = slackwater_ready::PooledReader::new(
    ///     slackwater_ready::Buffered::new(std::io::empty()), 4096, slackwater_ready::global());
    /// let _ = r.into_inner();
    /// ```
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.buf.is_none() && !self.eof {
            self.failed.check()?;
            match self.inner.read_ready(self.size, &self.pool) {
                Ok(None) => self.eof = true,
                Ok(Some(b)) => self.buf = Some(b),
                Err(e) => return Err(self.failed.note(e)),
            }
        }
        Ok(())
    }
}

impl<R: ReadyRead> io::Read for PooledReader<R> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        if self.buf.is_none() {
            if self.eof {
                return Ok(0);
            }
            if dst.len() >= self.size {
                self.failed.check()?;
                let n = self
                    .inner
                    .read_ready_into(dst)
                    .map_err(|e| self.failed.note(e))?;
                self.eof = n == 0;
                return Ok(n);
            }
        }
        self.fill()?;
        let n = io::BufRead::fill_buf(self)?.len().min(dst.len());
        if let Some(b) = &self.buf {
            dst[..n].copy_from_slice(&b[..n]);
        }
        io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl<R: ReadyRead> io::BufRead for PooledReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.fill()?;
        Ok(self.buf.as_deref().unwrap_or(&[]))
    }

    fn consume(&mut self, amt: usize) {
        if let Some(b) = &mut self.buf {
            b.advance(amt);
            if b.is_empty() {
                self.buf = None; // back to the pool now
            }
        }
    }
}

impl<R: AsFd> AsFd for PooledReader<R> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl<R: AsRawFd> AsRawFd for PooledReader<R> {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl<R> std::fmt::Debug for PooledReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledReader")
            .field("buffer_size", &self.size)
            .field("buffered", &self.buf.as_ref().map_or(0, |b| b.len()))
            .field("eof", &self.eof)
            .finish()
    }
}
