//! Async frames (feature `tokio`): [`FrameReader::next_frame`] and its `poll_` form, async
//! flushes for the reader's output and for [`FrameWriter`], and [`ReadyPoll`] through the
//! reader. Runtime-agnostic in shape (readiness comes from the transport's [`ReadyPoll`]);
//! on tokio the transport is a `slackwater_ready::TokioFd`, or an ALTS `Conn` over one.

use crate::{Error, Frame, FrameReader, FrameWriter};
use slackwater_ready::{ReadyPoll, ReadyRead, ReadyWrite};
use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

/// The transport's readiness: the reader's non-blocking form says `WouldBlock` only when its
/// transport did (a partial frame is kept in the reader), so waiting is the transport's.
///
/// ```
/// use slackwater_h2frame::FrameReader;
/// use slackwater_ready::{ReadyPoll, TokioFd};
/// use std::future::poll_fn;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let (a, b) = tokio::net::UnixStream::pair().unwrap();
/// let mut r = FrameReader::new(TokioFd::new(a));
/// drop(b);
/// poll_fn(|cx| r.poll_read_ready(cx)).await.unwrap(); // the end of the stream is readable
/// # });
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl<R: ReadyPoll> ReadyPoll for FrameReader<R> {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_read_ready(cx)
    }

    fn poll_write_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_ready(cx)
    }

    fn poll_shutdown_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_shutdown_write(cx)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl<R: ReadyRead + ReadyPoll> FrameReader<R> {
    /// The async form of [`read_frame`](FrameReader::read_frame): the next whole frame,
    /// `Ok(None)` at a clean end of stream (between frames), and the same errors, fatal ones
    /// returned again by every later call (a reset never becomes a clean end;
    /// [`Error::UnexpectedEof`] if the stream ends inside a frame).
    ///
    /// While it waits between frames the reader holds no buffer; inside a frame it holds the
    /// part that has arrived (in a buffer of no larger class than the frame's).
    ///
    /// # Cancel safety
    /// Cancel-safe: all state is in the reader, none in the future. A future dropped before it
    /// completes (a `select!` branch that lost, a `timeout`) has taken no frame and lost no
    /// bytes: the part of a frame that had arrived stays buffered, and the next call returns
    /// that frame once the rest arrives.
    ///
    /// # Errors
    /// As [`read_frame`](FrameReader::read_frame) (never `WouldBlock`).
    ///
    /// ```
    /// use slackwater_h2frame::{Frame, FrameReader};
    /// use slackwater_ready::TokioFd;
    /// use tokio::io::AsyncWriteExt;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut r = FrameReader::new(TokioFd::new(a));
    /// b.write_all(&[0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2]).await.unwrap(); // half a PING
    /// let waited = tokio::time::timeout(std::time::Duration::from_millis(20), r.next_frame()).await;
    /// assert!(waited.is_err());                                        // dropped mid-frame ...
    /// b.write_all(&[3, 4, 5, 6, 7, 8]).await.unwrap();
    /// let Some(Frame::Ping(p)) = r.next_frame().await.unwrap() else { panic!() };
    /// assert_eq!(p.data, [1, 2, 3, 4, 5, 6, 7, 8]);                    // ... no byte lost
    /// drop(b);
    /// assert!(r.next_frame().await.unwrap().is_none());
    /// # });
    /// ```
    pub async fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
        poll_fn(|cx| self.poll_next_frame(cx)).await
    }

    /// The poll form of [`next_frame`](FrameReader::next_frame):
    /// [`try_read_frame`](FrameReader::try_read_frame) until it has an answer, then
    /// `Ready`; on `WouldBlock`, the transport's
    /// [`poll_read_ready`](ReadyPoll::poll_read_ready) (`Pending` registers the waker of
    /// `cx`).
    ///
    /// # Errors
    /// As [`read_frame`](FrameReader::read_frame) (never `WouldBlock`; `Interrupted` is
    /// retried).
    ///
    /// ```
    /// use slackwater_h2frame::FrameReader;
    /// use std::future::poll_fn;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut r = FrameReader::new(slackwater_ready::TokioFd::new(a));
    /// drop(b);
    /// assert!(poll_fn(|cx| r.poll_next_frame(cx)).await.unwrap().is_none());
    /// # });
    /// ```
    pub fn poll_next_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, Error>> {
        loop {
            match self.try_read_frame() {
                Err(e) if e.is_would_block() => match self.get_mut().poll_read_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::from(e))),
                    Poll::Pending => return Poll::Pending,
                },
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return Poll::Ready(r),
            }
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl<R: ReadyWrite + ReadyPoll> FrameReader<R> {
    /// The async form of [`flush_ready`](ReadyWrite::flush_ready) through the reader: writes
    /// everything queued (by a [`FrameWriter`], say), waiting for writability as needed. As
    /// with the blocking form, a flush that leaves nothing queued calls
    /// [`replies_flushed`](FrameReader::replies_flushed).
    ///
    /// # Cancel safety
    /// Cancel-safe: what was not written stays queued, and the next flush writes it.
    ///
    /// # Errors
    /// The transport's, as [`Error::Io`] (fatal ones are returned again by every later write).
    ///
    /// ```
    /// use slackwater_h2frame::{Frame, FrameReader, FrameWriter, Ping};
    /// use slackwater_ready::{ReadyWrite, TokioFd};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut ours = FrameReader::new(TokioFd::new(a));
    /// let mut theirs = FrameReader::new(TokioFd::new(b));
    /// FrameWriter::new().write(&mut ours, &Frame::Ping(Ping { ack: false, data: [7; 8] })).unwrap();
    /// ours.flush().await.unwrap();
    /// assert_eq!(ours.queued(), 0);
    /// assert!(matches!(theirs.next_frame().await.unwrap(), Some(Frame::Ping(_))));
    /// # });
    /// ```
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// The poll form of [`flush`](FrameReader::flush).
    ///
    /// # Errors
    /// As [`flush`](FrameReader::flush).
    ///
    /// ```
    /// use slackwater_h2frame::FrameReader;
    /// use std::future::poll_fn;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, _b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut r = FrameReader::new(slackwater_ready::TokioFd::new(a));
    /// poll_fn(|cx| r.poll_flush(cx)).await.unwrap(); // nothing queued: done at once
    /// # });
    /// ```
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ReadyPoll::poll_flush_ready(self, cx).map_err(Error::from)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl FrameWriter {
    /// Flushes `out` (what this writer and others queued into it), waiting for writability as
    /// needed: the async counterpart of `out.flush_ready()`. `out` is any [`ReadyWrite`] that
    /// can wait ([`ReadyPoll`]): a [`FrameReader`] (whose flush also calls
    /// [`replies_flushed`](FrameReader::replies_flushed)), an ALTS `Conn`, a
    /// `slackwater_ready::TokioFd`. Cancel-safe, as [`FrameReader::flush`].
    ///
    /// # Errors
    /// `out`'s, as [`Error::Io`].
    ///
    /// ```
    /// use slackwater_h2frame::{Frame, FrameReader, FrameWriter, WindowUpdate};
    /// use slackwater_ready::TokioFd;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (a, b) = tokio::net::UnixStream::pair().unwrap();
    /// let mut out = TokioFd::new(a);
    /// let w = FrameWriter::new();
    /// w.write(&mut out, &Frame::WindowUpdate(WindowUpdate { stream_id: 0, increment: 1 })).unwrap();
    /// w.flush(&mut out).await.unwrap();
    /// let mut r = FrameReader::new(TokioFd::new(b));
    /// assert!(matches!(r.next_frame().await.unwrap(), Some(Frame::WindowUpdate(_))));
    /// # });
    /// ```
    pub async fn flush<W: ReadyWrite + ReadyPoll + ?Sized>(
        &self,
        out: &mut W,
    ) -> Result<(), Error> {
        poll_fn(|cx| out.poll_flush_ready(cx))
            .await
            .map_err(Error::from)
    }
}
