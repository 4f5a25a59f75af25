//! The Unix implementation: wait with `poll(2)`, then `read(2)` into a pooled buffer.

use crate::sticky::Sticky;
use crate::sys;
use crate::{Buf, Pool, PoolHandle, ReadyRead, ReadyWrite, WriteQueue};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Marks a type whose file descriptor carries the stream's **plaintext**, so that reading the
/// raw fd gives the same bytes as reading the value.
///
/// Implemented for [`TcpStream`](std::net::TcpStream) and
/// [`UnixStream`](std::os::unix::net::UnixStream). Implement it for your own `AsFd` type only
/// if that holds: a TLS stream's fd carries ciphertext, and reading it directly would hand
/// encrypted bytes to the layer above (the bug gRPC-Go fixed in its #9035). Such sources go
/// through [`Buffered`](crate::Buffered) instead.
///
/// ```
/// use std::os::fd::{AsFd, BorrowedFd};
/// struct MyPlainSocket(std::net::TcpStream);
/// impl AsFd for MyPlainSocket {
///     fn as_fd(&self) -> BorrowedFd<'_> { self.0.as_fd() }
/// }
/// // Reading MyPlainSocket's fd yields exactly its bytes, so it may opt in:
/// impl slackwater_ready::PlaintextFd for MyPlainSocket {}
/// ```
pub trait PlaintextFd: AsFd {}

impl PlaintextFd for std::net::TcpStream {}
impl PlaintextFd for std::os::unix::net::UnixStream {}

/// The error payload of a wait ended by a [`ShutdownHandle`]; see [`is_shutdown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownError;

impl std::fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the reader was shut down while waiting for data")
    }
}

impl std::error::Error for ShutdownError {}

/// Whether `e` is the error a [`ShutdownHandle`] makes a waiting reader return (kind
/// [`ConnectionAborted`](io::ErrorKind::ConnectionAborted), payload [`ShutdownError`]).
///
/// ```
/// let e = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, slackwater_ready::ShutdownError);
/// assert!(slackwater_ready::is_shutdown(&e));
/// ```
pub fn is_shutdown(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| {
        inner.is::<ShutdownError>()
            || inner
                .downcast_ref::<crate::RepeatedError>()
                .is_some_and(|r| is_shutdown(r.original()))
    })
}

fn shutdown_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, ShutdownError)
}

struct ShutdownInner {
    requested: AtomicBool,
    rx: OwnedFd,
    tx: OwnedFd,
}

/// Wakes a reader blocked in [`ReadyFd::read_ready`] from another thread and makes every
/// later blocking read on it fail with a [`ShutdownError`] (see [`is_shutdown`]).
/// Cloneable and `Send + Sync`.
///
/// ```
/// use slackwater_ready::{ReadyFd, ReadyRead, is_shutdown};
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let mut reader = ReadyFd::new(a).unwrap();
/// let stop = reader.shutdown_handle().unwrap();
/// let t = std::thread::spawn(move || reader.read_ready(4096, slackwater_ready::global()));
/// stop.shutdown().unwrap();
/// assert!(is_shutdown(&t.join().unwrap().unwrap_err()));
/// ```
#[derive(Clone)]
pub struct ShutdownHandle(Arc<ShutdownInner>);

impl ShutdownHandle {
    /// Requests shutdown: a waiting reader wakes now, later blocking reads fail at once.
    ///
    /// # Errors
    /// Only if writing to the wake-up pipe fails (it never should).
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let mut r = slackwater_ready::ReadyFd::new(a).unwrap();
    /// r.shutdown_handle().unwrap().shutdown().unwrap();
    /// ```
    pub fn shutdown(&self) -> io::Result<()> {
        self.0.requested.store(true, Ordering::SeqCst);
        sys::poke(self.0.tx.as_raw_fd())
    }
}

impl std::fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("requested", &self.0.requested.load(Ordering::Relaxed))
            .finish()
    }
}

/// A socket (or any [`PlaintextFd`]) read by readiness: a waiting reader holds no buffer.
///
/// [`ReadyFd::new`] puts the fd in non-blocking mode. [`read_ready`](ReadyRead::read_ready)
/// first tries `read(2)` into a buffer from the pool (so a readable socket costs one syscall);
/// on `EAGAIN` the buffer goes straight back and the thread waits in `poll(2)` holding nothing;
/// when the fd is readable it takes a buffer again and reads. The exact rules:
///
/// * `read` returning 0 is end of stream: `Ok(None)`, never "no data yet".
/// * `EAGAIN` after a wake-up (a spurious or stolen wake-up): the buffer goes back, wait again.
/// * `EINTR` from `poll` or `read`: retried (a timeout keeps its original deadline).
/// * `POLLHUP`/`POLLERR`: the fd is read, to learn the outcome (bytes still queued come first,
///   then `Ok(None)` or the error, such as `ECONNRESET`).
/// * Bytes already received are always returned before an error on the same fd.
/// * [`set_wait_timeout`](ReadyFd::set_wait_timeout): a blocking wait longer than the timeout
///   fails with [`TimedOut`](io::ErrorKind::TimedOut); [`shutdown_handle`](ReadyFd::shutdown_handle)
///   wakes it from another thread.
///
/// ```
/// use slackwater_ready::{ReadyFd, ReadyRead, global};
/// use std::io::Write;
/// let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let mut r = ReadyFd::new(a).unwrap();
/// b.write_all(b"ping").unwrap();
/// let buf = r.read_ready(4096, global()).unwrap().unwrap();
/// assert_eq!(&buf[..], b"ping");
/// drop(b);
/// assert!(r.read_ready(4096, global()).unwrap().is_none()); // EOF
/// ```
pub struct ReadyFd<T> {
    io: T,
    timeout: Option<Duration>,
    shutdown: Option<Arc<ShutdownInner>>,
    /// A fatal read error (a reset): Linux reports it once and then reads 0, so it is
    /// remembered here and returned by every later read.
    read_failed: Sticky,
    /// Output the socket has not taken yet ([`ReadyWrite`]).
    out: WriteQueue,
    /// Where queued output's buffers come from.
    pool: PoolHandle,
}

impl<T: PlaintextFd> ReadyFd<T> {
    /// Wraps `io`, switching its fd to non-blocking mode.
    ///
    /// # Errors
    /// If `fcntl` fails on the fd.
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let r = slackwater_ready::ReadyFd::new(a).unwrap();
    /// ```
    pub fn new(io: T) -> io::Result<Self> {
        sys::set_nonblocking(io.as_fd().as_raw_fd())?;
        Ok(ReadyFd {
            io,
            timeout: None,
            shutdown: None,
            read_failed: Sticky::default(),
            out: WriteQueue::new(),
            pool: PoolHandle::default(),
        })
    }
}

impl<T> ReadyFd<T> {
    /// Takes the buffers of queued output ([`ReadyWrite::queue`]) from `pool` (default: the
    /// global pool). Reads take theirs from the pool each read call names.
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let pool = slackwater_ready::PoolHandle::from(slackwater_ready::Pool::new());
    /// let r = slackwater_ready::ReadyFd::new(a).unwrap().with_pool(pool);
    /// ```
    pub fn with_pool(mut self, pool: impl Into<PoolHandle>) -> Self {
        self.pool = pool.into();
        self
    }

    /// Sets the high-water mark of queued output ([`ReadyWrite::is_write_full`]; default
    /// 256 KiB).
    ///
    /// ```
    /// use slackwater_ready::{ReadyFd, ReadyWrite};
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let mut w = ReadyFd::new(a).unwrap().with_high_water(4);
    /// w.queue(b"abcd").unwrap();
    /// assert!(w.is_write_full());
    /// ```
    pub fn with_high_water(mut self, bytes: usize) -> Self {
        self.out.set_high_water(bytes);
        self
    }

    /// The queue of output the socket has not taken (its accounting: bytes, buffers, memory
    /// pinned).
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let r = slackwater_ready::ReadyFd::new(a).unwrap();
    /// assert_eq!(r.write_queue().capacity_bytes(), 0);
    /// ```
    pub fn write_queue(&self) -> &WriteQueue {
        &self.out
    }

    /// Limits each blocking wait for readability (`None`: wait forever, the default).
    ///
    /// ```
    /// use slackwater_ready::{ReadyFd, ReadyRead, global};
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let mut r = ReadyFd::new(a).unwrap();
    /// r.set_wait_timeout(Some(std::time::Duration::from_millis(10)));
    /// let e = r.read_ready(16, global()).unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_wait_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// A handle that wakes this reader from another thread (created on first call; later calls
    /// return clones of the same handle).
    ///
    /// # Errors
    /// If the wake-up pipe cannot be created.
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let mut r = slackwater_ready::ReadyFd::new(a).unwrap();
    /// let h = r.shutdown_handle().unwrap();
    /// ```
    pub fn shutdown_handle(&mut self) -> io::Result<ShutdownHandle> {
        if let Some(s) = &self.shutdown {
            return Ok(ShutdownHandle(s.clone()));
        }
        let (rx, tx) = sys::pipe()?;
        let inner = Arc::new(ShutdownInner {
            requested: AtomicBool::new(false),
            rx,
            tx,
        });
        self.shutdown = Some(inner.clone());
        Ok(ShutdownHandle(inner))
    }

    /// The wrapped value.
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let r = slackwater_ready::ReadyFd::new(a).unwrap();
    /// assert!(r.get_ref().peer_addr().is_ok());
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The wrapped value, mutably. Its fd must stay non-blocking.
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let mut r = slackwater_ready::ReadyFd::new(a).unwrap();
    /// let _ = r.get_mut();
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Unwraps the value (its fd stays non-blocking).
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let a = slackwater_ready::ReadyFd::new(a).unwrap().into_inner();
    /// ```
    pub fn into_inner(self) -> T {
        self.io
    }
}

impl<T: AsFd> AsFd for ReadyFd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl<T: AsFd> AsRawFd for ReadyFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_fd().as_raw_fd()
    }
}

impl<T: AsFd> ReadyFd<T> {
    fn wake_fd(&self) -> Option<RawFd> {
        self.shutdown.as_ref().map(|s| s.rx.as_raw_fd())
    }

    fn shutdown_requested(&self) -> bool {
        self.shutdown
            .as_ref()
            .is_some_and(|s| s.requested.load(Ordering::SeqCst))
    }
}

impl<T: AsFd> ReadyRead for ReadyFd<T> {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read_failed.check()?;
        if self.shutdown_requested() {
            return Err(shutdown_error());
        }
        let fd = self.io.as_fd().as_raw_fd();
        read_loop(&Libc, fd, self.wake_fd(), self.timeout, size, pool, true)
            .map_err(|e| self.read_failed.note(e))
    }

    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read_failed.check()?;
        let fd = self.io.as_fd().as_raw_fd();
        read_loop(&Libc, fd, None, None, size, pool, false).map_err(|e| self.read_failed.note(e))
    }

    fn read_ready_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        self.read_failed.check()?;
        if self.shutdown_requested() {
            return Err(shutdown_error());
        }
        // SAFETY: `dst` is initialized, writable memory of its length.
        unsafe { self.read_raw(dst.as_mut_ptr(), dst.len(), true) }
            .map_err(|e| self.read_failed.note(e))
    }

    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        if self.shutdown_requested() {
            return Err(shutdown_error());
        }
        self.append(buf, max, true)
    }

    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append(buf, max, false)
    }
}

impl<T: AsFd> ReadyFd<T> {
    fn append(&mut self, buf: &mut Buf, max: usize, blocking: bool) -> io::Result<usize> {
        self.read_failed.check()?;
        self.append_raw(buf, max, blocking)
            .map_err(|e| self.read_failed.note(e))
    }

    fn append_raw(&mut self, buf: &mut Buf, max: usize, blocking: bool) -> io::Result<usize> {
        let spare = buf.spare_capacity_mut();
        let len = max.min(spare.len());
        // SAFETY: the first `len` spare bytes are writable memory owned by `buf`.
        let n = unsafe { self.read_raw(spare.as_mut_ptr().cast(), len, blocking)? };
        // SAFETY: `read` initialized `n <= len` bytes of the spare capacity.
        unsafe { buf.advance_mut(n) };
        Ok(n)
    }

    /// `read(2)` into `len` bytes at `ptr`, waiting (if `blocking`) on `EAGAIN`.
    ///
    /// # Safety
    /// `ptr..ptr + len` is writable memory owned by the caller.
    unsafe fn read_raw(&mut self, ptr: *mut u8, len: usize, blocking: bool) -> io::Result<usize> {
        if len == 0 {
            return Ok(0);
        }
        let fd = self.io.as_fd().as_raw_fd();
        let deadline = sys::deadline(self.timeout);
        loop {
            // SAFETY: forwarded from the caller.
            match unsafe { sys::read(fd, ptr, len) } {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && blocking => {
                    wait(&Libc, fd, self.wake_fd(), deadline)?
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl<T> io::Write for ReadyFd<T>
where
    T: AsFd,
    for<'a> &'a T: io::Write,
{
    /// Writes, waiting for writability (`poll(2)` on `POLLOUT`) while the socket buffer is
    /// full: a blocking write on the non-blocking fd. The wait obeys the
    /// [wait timeout](ReadyFd::set_wait_timeout) and the [`ShutdownHandle`]. For a write that
    /// returns `WouldBlock`, write through [`get_ref`](ReadyFd::get_ref).
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.shutdown_requested() {
            return Err(shutdown_error());
        }
        let deadline = sys::deadline(self.timeout);
        loop {
            match (&self.io).write(data) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_writable(self.io.as_fd().as_raw_fd(), self.wake_fd(), deadline)?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        (&self.io).flush()
    }
}

impl<T> ReadyWrite for ReadyFd<T>
where
    T: AsFd,
    for<'a> &'a T: io::Write,
{
    fn queue(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.extend(data, &self.pool)
    }

    fn queue_buf(&mut self, buf: Buf) -> io::Result<()> {
        self.out.push(buf)
    }

    fn try_flush_ready(&mut self) -> io::Result<()> {
        let io = &self.io;
        let r = self.out.flush_with(|b| {
            let mut w: &T = io;
            io::Write::write(&mut w, b)
        });
        // The kernel reports a reset to whichever call sees it first: if a write saw it, a
        // later read would get 0, a clean end of stream. The read side remembers it too.
        if let Err(e) = &r
            && e.kind() == io::ErrorKind::ConnectionReset
            && !self.read_failed.is_set()
        {
            let _ = self.read_failed.note(io::Error::from_raw_os_error(
                e.raw_os_error().unwrap_or(libc::ECONNRESET),
            ));
        }
        r
    }

    fn flush_ready(&mut self) -> io::Result<()> {
        let deadline = sys::deadline(self.timeout);
        loop {
            match self.try_flush_ready() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.shutdown_requested() {
                        return Err(shutdown_error());
                    }
                    wait_writable(self.io.as_fd().as_raw_fd(), self.wake_fd(), deadline)?
                }
                r => return r,
            }
        }
    }

    fn queued(&self) -> usize {
        self.out.queued()
    }

    fn is_write_full(&self) -> bool {
        self.out.is_full()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for ReadyFd<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyFd")
            .field("io", &self.io)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn wait_writable(fd: RawFd, wake: Option<RawFd>, deadline: Option<Instant>) -> io::Result<()> {
    loop {
        match poll_one(fd, libc::POLLOUT, wake, sys::timeout_ms(deadline)) {
            Ok(None) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "timed out waiting for the fd to become writable",
                ));
            }
            Ok(Some((_, true))) => return Err(shutdown_error()),
            Ok(Some(_)) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `poll(2)` for `events` on `fd` and readability of `wake` (if any). `Ok(None)`: timed out;
/// otherwise `fd`'s `revents` and whether `wake` fired.
fn poll_one(
    fd: RawFd,
    events: libc::c_short,
    wake: Option<RawFd>,
    timeout_ms: libc::c_int,
) -> io::Result<Option<(libc::c_short, bool)>> {
    let mut fds = [
        libc::pollfd {
            fd,
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let n = if wake.is_some() { 2 } else { 1 };
    // SAFETY: `fds` holds `n` valid `pollfd`s.
    let r = sys::cvt(unsafe { libc::poll(fds.as_mut_ptr(), n, timeout_ms) })?;
    if r == 0 {
        return Ok(None);
    }
    Ok(Some((
        fds[0].revents,
        wake.is_some() && fds[1].revents != 0,
    )))
}

/// What the wait-then-read loop needs from the OS; tests script it to simulate spurious
/// wake-ups and interruptions deterministically.
pub(crate) trait RawIo {
    /// `poll(2)` for readability of `fd` (and of `wake`, if any). `Ok(None)`: timed out.
    /// `Ok(Some((revents, woken)))` otherwise.
    fn poll(
        &self,
        fd: RawFd,
        wake: Option<RawFd>,
        timeout_ms: libc::c_int,
    ) -> io::Result<Option<(libc::c_short, bool)>>;
    /// `read(2)`.
    ///
    /// # Safety
    /// `ptr..ptr + len` is writable memory owned by the caller.
    unsafe fn read(&self, fd: RawFd, ptr: *mut u8, len: usize) -> io::Result<usize>;
}

/// The real thing.
pub(crate) struct Libc;

impl RawIo for Libc {
    fn poll(
        &self,
        fd: RawFd,
        wake: Option<RawFd>,
        timeout_ms: libc::c_int,
    ) -> io::Result<Option<(libc::c_short, bool)>> {
        poll_one(fd, libc::POLLIN, wake, timeout_ms)
    }

    unsafe fn read(&self, fd: RawFd, ptr: *mut u8, len: usize) -> io::Result<usize> {
        // SAFETY: forwarded from the caller.
        unsafe { sys::read(fd, ptr, len) }
    }
}

/// Blocks until `fd` is readable (or hung up, or in error), the deadline passes, or `wake`
/// becomes readable.
pub(crate) fn wait(
    sys: &impl RawIo,
    fd: RawFd,
    wake: Option<RawFd>,
    deadline: Option<Instant>,
) -> io::Result<()> {
    loop {
        match sys.poll(fd, wake, sys::timeout_ms(deadline)) {
            Ok(None) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "timed out waiting for the fd to become readable",
                ));
            }
            Ok(Some((_, true))) => return Err(shutdown_error()),
            Ok(Some((revents, false))) => {
                if revents & libc::POLLNVAL != 0 {
                    return Err(io::Error::from_raw_os_error(libc::EBADF));
                }
                // POLLIN, POLLHUP or POLLERR: the read tells what happened.
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Try the read first; on `EAGAIN` give the buffer back and (if `blocking`) wait, then try
/// again. No buffer is held across a wait.
pub(crate) fn read_loop(
    sys: &impl RawIo,
    fd: RawFd,
    wake: Option<RawFd>,
    timeout: Option<Duration>,
    size: usize,
    pool: &Pool,
    blocking: bool,
) -> io::Result<Option<Buf>> {
    let mut deadline = None;
    let mut first_wait = true;
    loop {
        let size = size.max(1);
        let mut buf = pool.get(size)?;
        let spare = &mut buf.spare_capacity_mut()[..size];
        // SAFETY: the first `size` bytes of the spare capacity are writable memory owned by
        // `buf` (its capacity is at least `size`).
        match unsafe { sys.read(fd, spare.as_mut_ptr().cast(), spare.len()) } {
            Ok(0) => return Ok(None),
            Ok(n) => {
                // SAFETY: `read` initialized the first `n` spare bytes, `n <= size`.
                unsafe { buf.advance_mut(n) };
                return Ok(Some(buf));
            }
            Err(e) => {
                drop(buf);
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => {}
                    _ => return Err(e),
                }
            }
        }
        if !blocking {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if first_wait {
            deadline = sys::deadline(timeout);
            first_wait = false;
        }
        wait(sys, fd, wake, deadline)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    type PollAnswer = io::Result<Option<(libc::c_short, bool)>>;

    /// A scripted OS: each `poll` and `read` pops the next answer.
    #[derive(Default)]
    struct Script {
        polls: RefCell<VecDeque<PollAnswer>>,
        reads: RefCell<VecDeque<io::Result<&'static [u8]>>>,
        polled: RefCell<usize>,
    }

    impl RawIo for Script {
        fn poll(
            &self,
            _: RawFd,
            _: Option<RawFd>,
            _: libc::c_int,
        ) -> io::Result<Option<(i16, bool)>> {
            *self.polled.borrow_mut() += 1;
            self.polls
                .borrow_mut()
                .pop_front()
                .expect("unexpected poll")
        }
        unsafe fn read(&self, _: RawFd, ptr: *mut u8, len: usize) -> io::Result<usize> {
            let data = self
                .reads
                .borrow_mut()
                .pop_front()
                .expect("unexpected read")?;
            let n = data.len().min(len);
            // SAFETY: the caller gave `len` writable bytes at `ptr`.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, n) };
            Ok(n)
        }
    }

    fn eagain() -> io::Error {
        io::Error::from_raw_os_error(libc::EAGAIN)
    }
    fn eintr() -> io::Error {
        io::Error::from_raw_os_error(libc::EINTR)
    }

    #[test]
    fn spurious_wakeups_give_the_buffer_back_and_wait_again() {
        let pool = Pool::new();
        let s = Script::default();
        s.reads.borrow_mut().extend([
            Err(eagain()),
            Err(eagain()),
            Err(eagain()),
            Ok(&b"late"[..]),
        ]);
        s.polls.borrow_mut().extend([
            Ok(Some((libc::POLLIN, false))),
            Ok(Some((libc::POLLIN, false))),
            Ok(Some((libc::POLLIN, false))),
        ]);
        let b = read_loop(&s, 0, None, None, 100, &pool, true)
            .unwrap()
            .unwrap();
        assert_eq!(&b[..], b"late");
        assert_eq!(*s.polled.borrow(), 3);
        assert_eq!(pool.stats().in_use(), 1);
        drop(b);
        assert_eq!(pool.stats().in_use(), 0);
    }

    #[test]
    fn eintr_on_poll_and_read_is_retried() {
        let pool = Pool::new();
        let s = Script::default();
        s.reads
            .borrow_mut()
            .extend([Err(eintr()), Err(eagain()), Err(eintr()), Ok(&b"x"[..])]);
        s.polls
            .borrow_mut()
            .extend([Err(eintr()), Err(eintr()), Ok(Some((libc::POLLIN, false)))]);
        let b = read_loop(&s, 0, None, None, 1, &pool, true)
            .unwrap()
            .unwrap();
        assert_eq!(&b[..], b"x");
        assert_eq!(*s.polled.borrow(), 3);
    }

    #[test]
    fn hangup_reads_to_learn_the_outcome() {
        let pool = Pool::new();
        let s = Script::default();
        s.reads.borrow_mut().extend([Err(eagain()), Ok(&b""[..])]);
        s.polls
            .borrow_mut()
            .extend([Ok(Some((libc::POLLHUP, false)))]);
        assert!(
            read_loop(&s, 0, None, None, 1, &pool, true)
                .unwrap()
                .is_none()
        );
        let s = Script::default();
        s.reads.borrow_mut().extend([
            Err(eagain()),
            Err(io::Error::from_raw_os_error(libc::ECONNRESET)),
        ]);
        s.polls
            .borrow_mut()
            .extend([Ok(Some((libc::POLLERR | libc::POLLHUP, false)))]);
        let e = read_loop(&s, 0, None, None, 1, &pool, true).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(pool.stats().in_use(), 0);
    }

    #[test]
    fn nonblocking_form_says_wouldblock_without_polling() {
        let pool = Pool::new();
        let s = Script::default();
        s.reads.borrow_mut().extend([Err(eagain())]);
        let e = read_loop(&s, 0, None, None, 1, &pool, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(*s.polled.borrow(), 0);
        assert_eq!(pool.stats().in_use(), 0);
    }

    #[test]
    fn timeout_wake_and_bad_fd() {
        let pool = Pool::new();
        let s = Script::default();
        s.reads.borrow_mut().extend([Err(eagain())]);
        s.polls.borrow_mut().extend([Ok(None)]);
        let e = read_loop(&s, 0, None, Some(Duration::from_millis(1)), 1, &pool, true).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let s = Script::default();
        s.reads.borrow_mut().extend([Err(eagain())]);
        s.polls.borrow_mut().extend([Ok(Some((0, true)))]);
        assert!(is_shutdown(
            &read_loop(&s, 0, Some(1), None, 1, &pool, true).unwrap_err()
        ));
        let s = Script::default();
        s.reads.borrow_mut().extend([Err(eagain())]);
        s.polls
            .borrow_mut()
            .extend([Ok(Some((libc::POLLNVAL, false)))]);
        let e = read_loop(&s, 0, None, None, 1, &pool, true).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF));
        assert_eq!(pool.stats().in_use(), 0);
    }
}
