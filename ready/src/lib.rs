//! Wait until a Unix fd is readable, **then** take a buffer from a pool and read into it.
//!
//! A blocking `read(fd, buf)` needs `buf` before any byte exists, so every idle connection
//! pins a read buffer for as long as it waits. [`ReadyRead`] inverts the order: wait for
//! readiness holding nothing, take a pooled [`Buf`] only when data is there, and let the caller
//! drop it (back to the pool) as soon as the bytes are consumed.
//!
//! ```
//! use slackwater_ready::{ReadyFd, ReadyRead, global};
//! use std::io::Write;
//!
//! let (sock, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
//! let mut conn = ReadyFd::new(sock).unwrap();        // the fd becomes non-blocking
//! peer.write_all(b"hello").unwrap();
//! let buf = conn.read_ready(16 * 1024, global()).unwrap().unwrap();
//! assert_eq!(&buf[..], b"hello");
//! drop(buf);                                         // the 16 KiB buffer goes back
//! assert_eq!(global().stats().class(2).unwrap().in_use, 0);
//! ```
//!
//! # Pieces
//! * [`ReadyRead`]: the contract, in a blocking and a non-blocking form.
//! * [`ReadyFd`]: the Unix implementation (`poll(2)` + `read(2)`) for sockets whose fd carries
//!   the plaintext ([`PlaintextFd`]), with a wait timeout and a [`ShutdownHandle`].
//! * [`Poller`]: many fds at once (epoll on Linux, `poll(2)` elsewhere), for a few threads
//!   serving thousands of mostly idle connections.
//! * [`PooledReader`]: an `io::Read` over any `ReadyRead` whose buffer comes from the pool
//!   on demand and goes back the moment it is drained.
//! * [`Buffered`]: the slow path for sources without readiness (pipes in tests, TLS streams).
//! * Feature `tokio`: `TokioFd`, the same reader and writer over tokio's sockets, and
//!   `ReadyPoll`, the async form of this crate's traits (readiness from tokio, then the
//!   non-blocking forms), which the ALTS and HTTP/2 layers forward.
//!
//! The pool types this crate's API uses are re-exported: [`Pool`], [`Buf`], [`global`].
#![deny(missing_docs)]
#![cfg(unix)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod assembler;
mod buffered;
mod fd;
mod poller;
mod reader;
mod sticky;
mod sys;
#[cfg(feature = "tokio")]
mod tokio;
mod write;

#[cfg(feature = "tokio")]
pub use self::tokio::{ReadyPoll, TokioFd, TokioSource};
pub use assembler::{Assembler, Framing, RecordError};
pub use buffered::Buffered;
pub use fd::{PlaintextFd, ReadyFd, ShutdownError, ShutdownHandle, is_shutdown};
pub use poller::{Event, Events, Interest, Poller, Waker};
pub use reader::PooledReader;
pub use slackwater_pool::{self as pool, Buf, Pool, PoolError, PoolHandle, SharedBuf, global};
pub use sticky::{RepeatedError, is_transient, repeat_error};
pub use write::{DEFAULT_HIGH_WATER, ReadyWrite, WriteQueue};

use std::io;

/// A byte source that can wait for readiness **before** it takes a buffer.
///
/// # Contract
/// * [`read_ready(size, pool)`](ReadyRead::read_ready) blocks until the source has data,
///   has reached its end, or has failed. Only then does it take a buffer of at least `size`
///   bytes from `pool` (`size == 0` counts as 1) and read into it.
///   * `Ok(Some(buf))`: `buf` holds at least one byte. Byte-stream sources (every source in
///     this crate) return at most `max(size, 1)` bytes; a record layer may return one whole
///     record's plaintext, which can be more (use [`append_ready`](ReadyRead::append_ready)
///     for an exact limit; such layers override it).
///   * `Ok(None)`: a clean end of stream. It is never used to mean "no data yet".
///   * `Err(e)`: an I/O error, a timeout ([`TimedOut`](io::ErrorKind::TimedOut)) or a
///     shutdown (see [`is_shutdown`]). Bytes received before an error are returned by earlier
///     calls; an error never swallows them.
///   * No buffer is held while waiting, and none is kept by the source after the call: on
///     every path that does not return a buffer, the buffer (if one was taken) is back in the
///     pool when the call returns.
/// * [`try_read_ready(size, pool)`](ReadyRead::try_read_ready) is the same without blocking:
///   `Err(e)` with `e.kind() == WouldBlock` when no data is ready now. Event loops (the
///   [`Poller`], mio, tokio) call it after a readiness notification, and call it again until it
///   says `WouldBlock` before waiting again (the notification may be spurious: a `WouldBlock`
///   right after one is normal).
/// * Layers built on a `ReadyRead` (an ALTS connection, an HTTP/2 frame reader) implement
///   `ReadyRead` themselves, keep partial records across a `WouldBlock`, and pass it on.
///
/// ```
/// use slackwater_ready::{ReadyFd, ReadyRead, global};
/// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let mut r = ReadyFd::new(a).unwrap();
/// let e = r.try_read_ready(4096, global()).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
/// drop(b);
/// assert!(r.try_read_ready(4096, global()).unwrap().is_none()); // EOF
/// ```
pub trait ReadyRead {
    /// Blocks until readable, then reads into a buffer of at least `size` bytes from `pool`.
    /// See the trait docs for the contract.
    ///
    /// # Errors
    /// I/O errors of the source, [`TimedOut`](io::ErrorKind::TimedOut), a shutdown, or
    /// `OutOfMemory` if the pool cannot allocate.
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>>;

    /// Like [`read_ready`](ReadyRead::read_ready), but returns `WouldBlock` instead of
    /// waiting.
    ///
    /// # Errors
    /// As `read_ready`, plus [`WouldBlock`](io::ErrorKind::WouldBlock).
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>>;

    /// Blocks until readable, then reads straight into `dst` (no pooled buffer): for reads
    /// at least as large as a buffer would be. Returns 0 at end of stream (or if `dst` is
    /// empty). The default goes through one pooled buffer and copies what fits; the bytes
    /// that do not fit are lost, so implementations that can read into `dst` directly must
    /// override it (every one in this crate does), and callers pass a `dst` of at least the
    /// size they would have asked for.
    ///
    /// # Errors
    /// As [`read_ready`](ReadyRead::read_ready).
    fn read_ready_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        match self.read_ready(dst.len(), global())? {
            None => Ok(0),
            Some(b) if b.len() <= dst.len() => {
                dst[..b.len()].copy_from_slice(&b);
                Ok(b.len())
            }
            // A source that returns more than asked must override this method; refuse
            // loudly rather than drop the bytes that do not fit.
            Some(_) => Err(too_much()),
        }
    }

    /// Blocks until readable, then appends at most `max` bytes (and at most the spare
    /// capacity) to `buf`, which the caller already holds, typically because it contains the
    /// first part of a record or frame. Returns 0 at end of stream, or if `max` or the spare
    /// capacity is 0. This is how a layer above completes a partial record without copying.
    ///
    /// The default reads into a pooled buffer and copies; it is exact only for sources that
    /// return at most `size` bytes from `read_ready`, so a source that can return more
    /// must override it. The implementations in this crate read straight into `buf`'s spare
    /// capacity.
    ///
    /// # Errors
    /// As [`read_ready`](ReadyRead::read_ready).
    ///
    /// ```
    /// use slackwater_ready::{Buffered, ReadyRead, global};
    /// let mut src = Buffered::new(&b"abcdef"[..]);
    /// let mut buf = global().get(16).unwrap();
    /// buf.extend_from_slice(b"x").unwrap();
    /// assert_eq!(src.append_ready(&mut buf, 3).unwrap(), 3);
    /// assert_eq!(&buf[..], b"xabc");
    /// ```
    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        let max = max.min(buf.spare_capacity());
        if max == 0 {
            return Ok(0);
        }
        append_copy(self.read_ready(max, global())?, buf)
    }

    /// Like [`append_ready`](ReadyRead::append_ready), but returns `WouldBlock` instead
    /// of waiting.
    ///
    /// # Errors
    /// As [`try_read_ready`](ReadyRead::try_read_ready).
    ///
    /// ```
    /// use slackwater_ready::{ReadyFd, ReadyRead, global};
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let mut r = ReadyFd::new(a).unwrap();
    /// let mut buf = global().get(16).unwrap();
    /// let e = r.try_append_ready(&mut buf, 16).unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        let max = max.min(buf.spare_capacity());
        if max == 0 {
            return Ok(0);
        }
        append_copy(self.try_read_ready(max, global())?, buf)
    }
}

/// Appends what a `read_ready(max)` returned (at most `max <= spare` bytes for a source
/// that keeps the contract, so it fits).
fn append_copy(got: Option<Buf>, buf: &mut Buf) -> io::Result<usize> {
    match got {
        None => Ok(0),
        Some(b) => {
            buf.extend_from_slice(&b).map_err(|_| too_much())?;
            Ok(b.len())
        }
    }
}

/// The error of the default methods when a source returned more than they asked for.
fn too_much() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "the ReadyRead source returned more bytes than asked; it must override \
         read_ready_into / append_ready",
    )
}

/// Forwards every method, so `&mut R` and `Box<R>` are `ReadyRead` too.
macro_rules! forward_ready_read {
    ($($t:ty),*) => {$(
        impl<R: ReadyRead + ?Sized> ReadyRead for $t {
            fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
                (**self).read_ready(size, pool)
            }
            fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
                (**self).try_read_ready(size, pool)
            }
            fn read_ready_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
                (**self).read_ready_into(dst)
            }
            fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
                (**self).append_ready(buf, max)
            }
            fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
                (**self).try_append_ready(buf, max)
            }
        }
    )*};
}

forward_ready_read!(&mut R, Box<R>);

/// The README's examples, compiled and run as doctests (so they cannot go stale).
#[cfg(doctest)]
#[doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))]
pub struct ReadmeDoctests;
