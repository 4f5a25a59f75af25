//! tokio (feature `tokio`): [`Conn`] as `tokio::io::AsyncRead` + `AsyncWrite`, and
//! [`ReadyPoll`] through it, so the layers above (an HTTP/2 frame reader) can be awaited.

use crate::Conn;
use slackwater_ready::{ReadyPoll, ReadyRead, ReadyWrite};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Most plaintext one `poll_write` seals (as the blocking `io::Write`'s batch).
const WRITE_BATCH: usize = 64 * 1024;
/// Most bytes of a caller's `ReadBuf` one `poll_read` offers (it zero-fills what it offers
/// when the `ReadBuf` is uninitialized; one read's plaintext is at most a few records).
const READ_BATCH: usize = 64 * 1024;

/// The transport's readiness: a `Conn`'s non-blocking forms say `WouldBlock` only when its
/// transport did (a partial record is kept in the `Conn`), so waiting is the transport's.
///
/// ```
/// use slackwater_alts::{Backend, Conn, Crypter, Protocol, Side};
/// use slackwater_ready::{Pool, ReadyPoll, ReadyWrite, TokioFd};
/// use std::future::poll_fn;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let pool = Pool::new();
/// let mk = |side| Crypter::new(Protocol::Aes128Gcm, side, &[7; 16], Backend::default()).unwrap();
/// let (a, b) = tokio::net::UnixStream::pair().unwrap();
/// let mut client = Conn::new(TokioFd::new(a), mk(Side::Client));
/// let mut server = Conn::new(TokioFd::new(b), mk(Side::Server));
/// client.queue(b"sealed").unwrap();
/// poll_fn(|cx| client.poll_flush_ready(cx)).await.unwrap();
/// let got = poll_fn(|cx| server.poll_read_buf(cx, 4096, &pool)).await.unwrap().unwrap();
/// assert_eq!(&got[..], b"sealed");
/// # });
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl<T: ReadyPoll> ReadyPoll for Conn<T> {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_read_ready(cx)
    }

    fn poll_write_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_ready(cx)
    }

    /// Shuts down the transport's write direction; records still queued are not sent (flush
    /// first, or use `AsyncWrite::poll_shutdown`, which does).
    fn poll_shutdown_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_shutdown_write(cx)
    }
}

/// Plaintext, read by readiness: `poll_read` copies the plaintext of the next record(s) into
/// the `ReadBuf` and keeps what does not fit in the `Conn` for the next call. While it returns
/// `Pending` the `Conn` holds no buffer, unless part of a record has arrived (that part is kept,
/// as by the non-blocking form: a dropped read future loses no bytes).
///
/// The end of the stream between records reads as 0 bytes; inside a record it is an
/// `UnexpectedEof` error carrying [`AltsError::Truncated`](crate::AltsError::Truncated); a
/// reset (and every fatal error) is returned again by every later read.
///
/// ```
/// use slackwater_alts::{Backend, Conn, Crypter, Protocol, Side};
/// use slackwater_ready::TokioFd;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mk = |side| Crypter::new(Protocol::Aes128Gcm, side, &[7; 16], Backend::default()).unwrap();
/// let (a, b) = tokio::net::UnixStream::pair().unwrap();
/// let mut client = Conn::new(TokioFd::new(a), mk(Side::Client));
/// let mut server = Conn::new(TokioFd::new(b), mk(Side::Server));
/// client.write_all(b"hello").await.unwrap();
/// client.shutdown().await.unwrap(); // flushes, then shuts the socket's write half
/// let mut got = Vec::new();
/// server.read_to_end(&mut got).await.unwrap();
/// assert_eq!(got, b"hello");
/// # });
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl<T: ReadyRead + ReadyPoll + Unpin> AsyncRead for Conn<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let want = buf.remaining().min(READ_BATCH);
        if want == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            match this.try_read_into(buf.initialize_unfilled_to(want)) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(ReadyPoll::poll_read_ready(this, cx))?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// Plaintext, sealed into records through the write side ([`ReadyWrite`]): `poll_write` seals
/// up to 64 KiB into records in pooled buffers, hands them to the transport's queue and writes
/// what the socket takes now. What it refuses stays queued (buffers are held only while it
/// does) and goes out on the next write or flush, so **flush** (`poll_flush`, or
/// `AsyncWriteExt::flush`) before waiting for the peer. Backpressure: while the transport's
/// queue is over its high-water mark ([`ReadyWrite::is_write_full`]), `poll_write` waits for
/// the socket to take some. `poll_shutdown` flushes, then shuts down the socket's write
/// direction ([`ReadyPoll::poll_shutdown_write`]).
///
/// A failed write is fatal (part of a record may be on the wire, the counter has moved on):
/// every later write returns the same error.
///
/// ```
/// use slackwater_alts::{Backend, Conn, Crypter, Protocol, Side};
/// use slackwater_ready::TokioFd;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mk = |side| Crypter::new(Protocol::Aes128GcmRekey, side, &[7; 44], Backend::default()).unwrap();
/// let (a, b) = tokio::net::UnixStream::pair().unwrap();
/// let mut client = Conn::new(TokioFd::new(a), mk(Side::Client));
/// let mut server = Conn::new(TokioFd::new(b), mk(Side::Server));
/// let data = vec![9u8; 200_000];
/// let send = async {
///     client.write_all(&data).await.unwrap();
///     client.flush().await.unwrap();
/// };
/// let mut got = vec![0; data.len()];
/// let recv = async { server.read_exact(&mut got).await.unwrap() };
/// tokio::join!(send, recv);
/// assert_eq!(got, data);
/// # });
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl<T: ReadyWrite + ReadyPoll + Unpin> AsyncWrite for Conn<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Over the high-water mark: the socket takes some first.
        while this.is_write_full() {
            match this.try_flush_ready() {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(ReadyPoll::poll_write_ready(this, cx))?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let n = data.len().min(WRITE_BATCH);
        this.queue(&data[..n])?;
        match this.try_flush_ready() {
            Err(e) if !slackwater_ready::is_transient(&e) => Poll::Ready(Err(e)),
            // Taken (or queued until the socket takes it).
            _ => Poll::Ready(Ok(n)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_ready(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_flush_ready(cx))?;
        ReadyPoll::poll_shutdown_write(this, cx)
    }
}
