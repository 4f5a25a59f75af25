//! tokio (feature `tokio`): [`TokioFd`], a ready reader and writer over tokio's sockets, and
//! [`ReadyPoll`], the async form of every layer (readiness from tokio, then the non-blocking
//! `try_` forms).

use crate::sticky::Sticky;
use crate::{Buf, PlaintextFd, Pool, PoolHandle, ReadyRead, ReadyWrite, WriteQueue};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// How a source waits without blocking: readiness to register with a runtime (tokio's, for
/// [`TokioFd`]), and the shutdown of its write direction. With it, every layer of the stack is
/// usable from async code: a layer's non-blocking form (`try_read_ready`, `try_flush_ready`,
/// `try_read_frame`, …) returns `WouldBlock` only when its transport did, so it waits by
/// forwarding these calls to its transport (`slackwater_alts::Conn` and
/// `slackwater_h2frame::FrameReader` do, under their own `tokio` feature).
///
/// # The loop
/// An async operation is the non-blocking form in a loop:
///
/// 1. call the `try_` form; anything but `WouldBlock` is the answer;
/// 2. on `WouldBlock`, call [`poll_read_ready`](ReadyPoll::poll_read_ready) (or
///    [`poll_write_ready`](ReadyPoll::poll_write_ready) for a flush): `Pending` means the
///    waker of `cx` is registered and the task is woken when the source may be readable
///    again; `Ready(Ok(()))` means it already may be (bytes arrived since the `WouldBlock`):
///    go back to 1.
///
/// The readiness a source caches is cleared by the `try_` call that found nothing (tokio
/// clears it with the event it saw, so bytes that arrive in between are never lost), not by
/// the `poll_` call, so step 2 returns `Pending` only when nothing arrived since step 1. As
/// with tokio's own sockets, only the waker of the latest `poll_` call of each direction is
/// woken. [`poll_read_buf`](ReadyPoll::poll_read_buf) and
/// [`poll_flush_ready`](ReadyPoll::poll_flush_ready) are that loop for the two basic
/// operations; no buffer is held while they return `Pending` (a `ReadyRead` takes its buffer
/// only once bytes are there).
///
/// ```
/// use slackwater_ready::{Pool, ReadyPoll, TokioFd};
/// use std::future::poll_fn;
/// use tokio::io::AsyncWriteExt;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let pool = Pool::new();
/// let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
/// let mut conn = TokioFd::new(a);
/// let reader = async {
///     // Waits holding no buffer; takes one only once bytes are there.
///     poll_fn(|cx| conn.poll_read_buf(cx, 4096, &pool)).await.unwrap().unwrap()
/// };
/// let writer = async { b.write_all(b"hello").await.unwrap() };
/// let (got, ()) = tokio::join!(reader, writer);
/// assert_eq!(&got[..], b"hello");
/// # });
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub trait ReadyPoll {
    /// `Ready(Ok(()))` if the source may be readable now (or at its end, or failed): call the
    /// non-blocking read forms until `WouldBlock`. `Pending` if it is not: the waker of `cx`
    /// is woken when it may be. See [the loop](ReadyPoll#the-loop).
    ///
    /// # Errors
    /// The runtime's (its I/O driver is gone, for example).
    ///
    /// ```
    /// use slackwater_ready::{ReadyPoll, TokioFd};
    /// use std::future::poll_fn;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut conn = TokioFd::new(a);
    /// drop(b); // the end of the stream makes it readable
    /// poll_fn(|cx| conn.poll_read_ready(cx)).await.unwrap();
    /// # });
    /// ```
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// `Ready(Ok(()))` if the source may take output now: call
    /// [`try_flush_ready`](ReadyWrite::try_flush_ready) until `WouldBlock`. `Pending` if it
    /// may not: the waker of `cx` is woken when it may.
    ///
    /// # Errors
    /// The runtime's.
    ///
    /// ```
    /// use slackwater_ready::{ReadyPoll, TokioFd};
    /// use std::future::poll_fn;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, _b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut conn = TokioFd::new(a);
    /// poll_fn(|cx| conn.poll_write_ready(cx)).await.unwrap(); // an empty socket buffer
    /// # });
    /// ```
    fn poll_write_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Shuts down the write direction of the socket underneath (the peer reads the end of the
    /// stream). Output still queued is **not** sent first: flush it
    /// ([`poll_flush_ready`](ReadyPoll::poll_flush_ready)) before.
    ///
    /// # Errors
    /// The socket's (`ENOTCONN` once the connection is gone).
    ///
    /// ```
    /// use slackwater_ready::{ReadyPoll, TokioFd};
    /// use std::future::poll_fn;
    /// use tokio::io::AsyncReadExt;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut conn = TokioFd::new(a);
    /// poll_fn(|cx| conn.poll_shutdown_write(cx)).await.unwrap();
    /// assert_eq!(b.read(&mut [0; 8]).await.unwrap(), 0); // the peer sees the end
    /// # });
    /// ```
    fn poll_shutdown_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// The async form of [`read_ready`](ReadyRead::read_ready): [`try_read_ready`]
    /// until it has an answer, waiting with [`poll_read_ready`](ReadyPoll::poll_read_ready)
    /// in between. `Ok(None)` is the end of the stream. No buffer is held while `Pending`.
    ///
    /// [`try_read_ready`]: ReadyRead::try_read_ready
    ///
    /// # Errors
    /// As [`try_read_ready`] (never `WouldBlock`; `Interrupted` is retried).
    ///
    /// ```
    /// use slackwater_ready::{Pool, ReadyPoll, TokioFd};
    /// use std::future::poll_fn;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let pool = Pool::new();
    /// let (a, b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut conn = TokioFd::new(a);
    /// drop(b);
    /// assert!(poll_fn(|cx| conn.poll_read_buf(cx, 4096, &pool)).await.unwrap().is_none());
    /// assert_eq!(pool.stats().in_use(), 0);
    /// # });
    /// ```
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        size: usize,
        pool: &Pool,
    ) -> Poll<io::Result<Option<Buf>>>
    where
        Self: ReadyRead,
    {
        loop {
            match self.try_read_ready(size, pool) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.poll_read_ready(cx))?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return Poll::Ready(r),
            }
        }
    }

    /// The async form of [`flush_ready`](ReadyWrite::flush_ready):
    /// [`try_flush_ready`](ReadyWrite::try_flush_ready) until nothing is queued, waiting with
    /// [`poll_write_ready`](ReadyPoll::poll_write_ready) in between.
    ///
    /// # Errors
    /// As `try_flush_ready` (never `WouldBlock`; `Interrupted` is retried).
    ///
    /// ```
    /// use slackwater_ready::{ReadyPoll, ReadyWrite, TokioFd};
    /// use std::future::poll_fn;
    /// use tokio::io::AsyncReadExt;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut conn = TokioFd::new(a);
    /// conn.queue(b"hello").unwrap();
    /// poll_fn(|cx| conn.poll_flush_ready(cx)).await.unwrap();
    /// assert_eq!(conn.queued(), 0);
    /// let mut got = [0; 5];
    /// b.read_exact(&mut got).await.unwrap();
    /// assert_eq!(&got, b"hello");
    /// # });
    /// ```
    fn poll_flush_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>
    where
        Self: ReadyWrite,
    {
        loop {
            match self.try_flush_ready() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.poll_write_ready(cx))?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return Poll::Ready(r),
            }
        }
    }
}

/// Forwards every method, so `&mut P` and `Box<P>` are `ReadyPoll` too.
macro_rules! forward_ready_poll {
    ($($t:ty),*) => {$(
        impl<P: ReadyPoll + ?Sized> ReadyPoll for $t {
            fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                (**self).poll_read_ready(cx)
            }
            fn poll_write_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                (**self).poll_write_ready(cx)
            }
            fn poll_shutdown_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                (**self).poll_shutdown_write(cx)
            }
        }
    )*};
}

forward_ready_poll!(&mut P, Box<P>);

mod sealed {
    use std::io;
    use std::task::{Context, Poll};

    /// What [`TokioFd`](super::TokioFd) needs of a tokio-registered socket. Every read and
    /// write goes through tokio's readiness (`try_read` / `try_write` / `try_io`), which
    /// clears it when the call returns `WouldBlock`.
    pub trait Source {
        /// Whether tokio has seen the socket readable and not yet cleared it (no syscall, no
        /// waker registered).
        fn readable_now(&self) -> bool;
        /// `read(2)` through tokio's readiness: `WouldBlock` (without a syscall) when tokio
        /// has not seen the socket readable.
        fn read_now(&self, dst: &mut [u8]) -> io::Result<usize>;
        /// `write(2)` through tokio's readiness.
        fn write_now(&self, src: &[u8]) -> io::Result<usize>;
        /// Read readiness; does not clear it.
        fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        /// Write readiness; does not clear it.
        fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        /// `shutdown(2)` of the write direction.
        fn poll_shutdown_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    }
}

/// A socket registered with tokio that [`TokioFd`] can read and write: tokio's
/// [`TcpStream`](tokio::net::TcpStream) and [`UnixStream`](tokio::net::UnixStream), and an
/// [`AsyncFd<T>`] over any [`PlaintextFd`] `T` whose `&T` is `io::Read + io::Write`
/// (`std::net::TcpStream`, `std::os::unix::net::UnixStream`, or your own type that opts in,
/// see [`PlaintextFd`] for why a TLS stream may not). Sealed: those are the implementations.
///
/// ```
/// use slackwater_ready::TokioFd;
/// use tokio::io::unix::AsyncFd;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// a.set_nonblocking(true).unwrap();
/// // SAFETY: `a` owns its fd, which stays open and the same while the AsyncFd owns `a`.
/// let fd = unsafe { AsyncFd::register(a) }.unwrap();
/// let conn = TokioFd::new(fd);
/// # });
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub trait TokioSource: sealed::Source + AsFd {}

impl TokioSource for tokio::net::TcpStream {}
impl TokioSource for tokio::net::UnixStream {}
impl<T> TokioSource for AsyncFd<T>
where
    T: PlaintextFd + AsRawFd,
    for<'a> &'a T: io::Read + io::Write,
{
}

macro_rules! tokio_stream_source {
    ($($t:ty),*) => {$(
        impl sealed::Source for $t {
            fn readable_now(&self) -> bool {
                self.try_io(Interest::READABLE, || Ok(())).is_ok()
            }
            fn read_now(&self, dst: &mut [u8]) -> io::Result<usize> {
                self.try_read(dst)
            }
            fn write_now(&self, src: &[u8]) -> io::Result<usize> {
                self.try_write(src)
            }
            fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$t>::poll_read_ready(self, cx)
            }
            fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$t>::poll_write_ready(self, cx)
            }
            fn poll_shutdown_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                tokio::io::AsyncWrite::poll_shutdown(Pin::new(self), cx)
            }
        }
    )*};
}

tokio_stream_source!(tokio::net::TcpStream, tokio::net::UnixStream);

impl<T> sealed::Source for AsyncFd<T>
where
    T: PlaintextFd + AsRawFd,
    for<'a> &'a T: io::Read + io::Write,
{
    fn readable_now(&self) -> bool {
        self.try_io(Interest::READABLE, |_| Ok(())).is_ok()
    }
    fn read_now(&self, dst: &mut [u8]) -> io::Result<usize> {
        self.try_io(Interest::READABLE, |t| io::Read::read(&mut &*t, dst))
    }
    fn write_now(&self, src: &[u8]) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, |t| io::Write::write(&mut &*t, src))
    }
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The guard is dropped without clearing: readiness is cleared by the read that finds
        // nothing (`try_io`), never here.
        AsyncFd::poll_read_ready(self, cx).map_ok(|_guard| ())
    }
    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncFd::poll_write_ready(self, cx).map_ok(|_guard| ())
    }
    fn poll_shutdown_write(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // `shutdown(2)` acts on the socket, not the descriptor: do it through a duplicate
        // (closed right after), which needs no unsafe code and works for any socket type.
        let dup = self.get_ref().as_fd().try_clone_to_owned()?;
        Poll::Ready(std::os::unix::net::UnixStream::from(dup).shutdown(std::net::Shutdown::Write))
    }
}

/// A socket registered with tokio, read by readiness: a waiting reader holds no buffer. The
/// tokio counterpart of [`ReadyFd`](crate::ReadyFd), with the same rules: [`ReadyRead`] (read
/// into a pooled buffer taken only once tokio has seen the socket readable; `read == 0` is the
/// end of the stream; a fatal error such as a reset is remembered and returned by every later
/// call), [`ReadyWrite`] (its own [`WriteQueue`]: pooled buffers held only while the socket
/// refuses them, written with `try_write`; a reset seen by a write fails later reads too), and
/// [`ReadyPoll`], so that it and every layer above it can be awaited.
///
/// `S` is a [`TokioSource`]: [`tokio::net::TcpStream`], [`tokio::net::UnixStream`] or an
/// [`AsyncFd`] over a plaintext socket.
///
/// # Non-blocking forms only
/// Use the `try_` forms with [`ReadyPoll`] (or the async layers on top: `AsyncRead` /
/// `AsyncWrite` on an ALTS `Conn`, `FrameReader::next_frame`). The blocking forms
/// ([`read_ready`](ReadyRead::read_ready), [`read_ready_into`](ReadyRead::read_ready_into),
/// [`append_ready`](ReadyRead::append_ready), [`flush_ready`](ReadyWrite::flush_ready)) fail
/// at once with [`Unsupported`](io::ErrorKind::Unsupported): blocking would stall a runtime
/// thread, and while it blocks the runtime may never see the readiness it waits for. (A layer
/// above treats that error as fatal, like any other it does not know: it is a programming
/// error.) For blocking code, use [`ReadyFd`](crate::ReadyFd).
///
/// The `try_` forms answer from tokio's readiness: they say `WouldBlock` without a syscall
/// until tokio has seen the socket readable (or writable), so call them after
/// [`ReadyPoll::poll_read_ready`] said `Ready` (or first, then wait as [the
/// loop](ReadyPoll#the-loop) says).
///
/// # Cost
/// `try_read` needs initialized memory, and the pool's buffers come uninitialized, so each
/// read first zero-fills the bytes it offers the socket (one pass over the read size; no
/// `unsafe` here). [`ReadyFd`](crate::ReadyFd) reads into uninitialized memory and has no such
/// pass.
///
/// ```
/// use slackwater_ready::{Pool, PoolHandle, ReadyPoll, ReadyWrite, TokioFd};
/// use std::future::poll_fn;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let pool = PoolHandle::from(Pool::new());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
/// let (server, _) = listener.accept().await.unwrap();
/// let mut client = TokioFd::new(client).with_pool(pool.clone());
/// let mut server = TokioFd::new(server).with_pool(pool.clone());
///
/// client.queue(b"ping").unwrap();
/// poll_fn(|cx| client.poll_flush_ready(cx)).await.unwrap();
/// let got = poll_fn(|cx| server.poll_read_buf(cx, 16 * 1024, &pool)).await.unwrap().unwrap();
/// assert_eq!(&got[..], b"ping");
/// drop(got);
/// assert_eq!(pool.stats().in_use(), 0); // idle: nothing held on either side
/// # });
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub struct TokioFd<S> {
    io: S,
    /// A fatal read error (a reset), returned by every later read.
    read_failed: Sticky,
    /// Output the socket has not taken yet.
    out: WriteQueue,
    /// Where queued output's buffers come from.
    pool: PoolHandle,
}

impl<S: TokioSource> TokioFd<S> {
    /// Wraps a socket registered with tokio (its fd is already non-blocking). Queued output
    /// takes its buffers from the global pool ([`with_pool`](TokioFd::with_pool) to change
    /// it); reads take theirs from the pool each read call names.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, _b) = tokio::net::UnixStream::pair().unwrap();
    /// let conn = slackwater_ready::TokioFd::new(a);
    /// # });
    /// ```
    pub fn new(io: S) -> Self {
        TokioFd {
            io,
            read_failed: Sticky::default(),
            out: WriteQueue::new(),
            pool: PoolHandle::default(),
        }
    }
}

impl<S> TokioFd<S> {
    /// Takes the buffers of queued output ([`ReadyWrite::queue`]) from `pool`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let pool = slackwater_ready::PoolHandle::from(slackwater_ready::Pool::new());
    /// let (a, _b) = tokio::net::UnixStream::pair().unwrap();
    /// let conn = slackwater_ready::TokioFd::new(a).with_pool(pool);
    /// # });
    /// ```
    pub fn with_pool(mut self, pool: impl Into<PoolHandle>) -> Self {
        self.pool = pool.into();
        self
    }

    /// Sets the high-water mark of queued output ([`ReadyWrite::is_write_full`]; default
    /// 256 KiB).
    ///
    /// ```
    /// use slackwater_ready::{ReadyWrite, TokioFd};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, _b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut conn = TokioFd::new(a).with_high_water(4);
    /// conn.queue(b"abcd").unwrap();
    /// assert!(conn.is_write_full());
    /// # });
    /// ```
    pub fn with_high_water(mut self, bytes: usize) -> Self {
        self.out.set_high_water(bytes);
        self
    }

    /// The queue of output the socket has not taken (bytes, buffers, memory pinned).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, _b) = tokio::net::UnixStream::pair().unwrap();
    /// let conn = slackwater_ready::TokioFd::new(a);
    /// assert_eq!(conn.write_queue().capacity_bytes(), 0);
    /// # });
    /// ```
    pub fn write_queue(&self) -> &WriteQueue {
        &self.out
    }

    /// The socket.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, _b) = tokio::net::UnixStream::pair().unwrap();
    /// let conn = slackwater_ready::TokioFd::new(a);
    /// assert!(conn.get_ref().peer_addr().is_ok());
    /// # });
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The socket, mutably (reading from it directly takes bytes from the layers above).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, _b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut conn = slackwater_ready::TokioFd::new(a);
    /// let _ = conn.get_mut();
    /// # });
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Unwraps the socket; queued output is dropped.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, _b) = tokio::net::UnixStream::pair().unwrap();
    /// let a: tokio::net::UnixStream = slackwater_ready::TokioFd::new(a).into_inner();
    /// # });
    /// ```
    pub fn into_inner(self) -> S {
        self.io
    }
}

/// The error of the blocking forms.
fn needs_async() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "TokioFd has no blocking form: use the try_ forms with ReadyPoll, or await a layer's \
         async form (ReadyFd is the blocking reader)",
    )
}

/// Zeros for [`offer`]: `try_read` needs initialized memory.
static ZEROS: [u8; 4096] = [0; 4096];

/// Appends `n` zero bytes to `buf` (`n` is at most its spare capacity) to read into.
fn offer(buf: &mut Buf, mut n: usize) {
    while n > 0 {
        let k = n.min(ZEROS.len());
        // Fits: the caller keeps `n` within the spare capacity.
        let _ = buf.extend_from_slice(&ZEROS[..k]);
        n -= k;
    }
}

impl<S: TokioSource> TokioFd<S> {
    /// `read(2)` into `dst` through tokio's readiness, retrying `EINTR`.
    fn read_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.io.read_now(dst) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }
}

impl<S: TokioSource> ReadyRead for TokioFd<S> {
    /// Fails with [`Unsupported`](io::ErrorKind::Unsupported) (or the remembered fatal
    /// error): see [Non-blocking forms only](TokioFd#non-blocking-forms-only).
    fn read_ready(&mut self, _size: usize, _pool: &Pool) -> io::Result<Option<Buf>> {
        self.read_failed.check()?;
        Err(needs_async())
    }

    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read_failed.check()?;
        // No buffer before tokio has seen the socket readable.
        if !self.io.readable_now() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let size = size.max(1);
        let mut buf = pool.get(size)?;
        offer(&mut buf, size);
        match self.read_into(&mut buf[..size]) {
            Ok(0) => Ok(None),
            Ok(n) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Err(e) => Err(self.read_failed.note(e)),
        }
    }

    /// Fails with [`Unsupported`](io::ErrorKind::Unsupported) (or the remembered fatal
    /// error), except that an empty `dst` reads 0.
    fn read_ready_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        self.read_failed.check()?;
        if dst.is_empty() {
            return Ok(0);
        }
        Err(needs_async())
    }

    /// Fails with [`Unsupported`](io::ErrorKind::Unsupported) (or the remembered fatal
    /// error).
    fn append_ready(&mut self, _buf: &mut Buf, _max: usize) -> io::Result<usize> {
        self.read_failed.check()?;
        Err(needs_async())
    }

    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        let max = max.min(buf.spare_capacity());
        if max == 0 {
            return Ok(0);
        }
        self.read_failed.check()?;
        if !self.io.readable_now() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let at = buf.len();
        offer(buf, max);
        let r = self.read_into(&mut buf[at..at + max]);
        buf.truncate(at + *r.as_ref().unwrap_or(&0));
        r.map_err(|e| self.read_failed.note(e))
    }
}

impl<S: TokioSource> ReadyWrite for TokioFd<S> {
    fn queue(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.extend(data, &self.pool)
    }

    fn queue_buf(&mut self, buf: Buf) -> io::Result<()> {
        self.out.push(buf)
    }

    fn try_flush_ready(&mut self) -> io::Result<()> {
        let io = &self.io;
        let r = self.out.flush_with(|b| io.write_now(b));
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

    /// Fails with [`Unsupported`](io::ErrorKind::Unsupported) (or the remembered fatal
    /// error): flush with [`ReadyPoll::poll_flush_ready`].
    fn flush_ready(&mut self) -> io::Result<()> {
        self.out.check()?;
        Err(needs_async())
    }

    fn queued(&self) -> usize {
        self.out.queued()
    }

    fn is_write_full(&self) -> bool {
        self.out.is_full()
    }
}

impl<S: TokioSource> ReadyPoll for TokioFd<S> {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_readable(cx)
    }

    fn poll_write_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_writable(cx)
    }

    fn poll_shutdown_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_shutdown_write(cx)
    }
}

impl<S: AsFd> AsFd for TokioFd<S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl<S: AsFd> AsRawFd for TokioFd<S> {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_fd().as_raw_fd()
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for TokioFd<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioFd")
            .field("io", &self.io)
            .field("queued", &self.out.queued())
            .field("read_failed", &self.read_failed.is_set())
            .finish()
    }
}
