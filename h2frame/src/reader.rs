//! [`FrameReader`]: frames from any [`ReadyRead`], holding a buffer only while bytes wait.
//!
//! The buffering (when a read buffer is taken, how a partial frame grows, what it pins while
//! the peer is quiet) is [`slackwater_ready::Assembler`]'s, the one record assembler of the
//! workspace; this module supplies the frame header rule and the HTTP/2 connection state.

use crate::config::check_max_frame_size;
use crate::decode::{Source, check_header, decode_body, wants_view};
use crate::frame::*;
use crate::{Config, Error, ErrorCode};
use slackwater_ready::{Assembler, Buf, Framing, PoolHandle, ReadyRead, ReadyWrite, RecordError};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// The reader's frame source: the frame is `asm.buffered()[..end]`, its payload from
/// `FRAME_HEADER_LEN`; `cap` is the capacity of the buffer (for the copy-out rule). Its drop
/// consumes the frame, which is after the frame has been built into the return value, so that
/// nothing has to look at (and so move) the result.
struct HeldSrc<'a> {
    asm: &'a mut Assembler,
    /// The reader's connection error: set by [`Source::fail`].
    dead: &'a mut Option<Box<Error>>,
    /// The reader's fast-path flag: cleared with `dead`.
    plain: &'a mut bool,
    /// The reader's count of frames awaiting a reply: counted by [`Source::wants_reply`].
    pending_replies: &'a mut u32,
    end: usize,
    cap: usize,
    ratio: usize,
}

impl Drop for HeldSrc<'_> {
    /// The frame has been decoded: consume it (the assembler gives the buffer back when it was
    /// the last byte, and sizes the next read after it), and after a connection error give
    /// the buffer back (nothing more will be read).
    #[inline(always)]
    fn drop(&mut self) {
        if self.dead.is_some() {
            release(self.asm);
        } else {
            self.asm.consume_record(self.end);
        }
    }
}

/// The reader is dead: give the buffer back. (This and the next two are free functions
/// rather than methods of [`HeldSrc`]: a method taking `&mut self` would make the compiler
/// keep the source in memory, costing stores and loads on every frame.)
#[cold]
#[inline(never)]
fn release(asm: &mut Assembler) {
    asm.release();
}

/// A connection error: the reader is dead, and returns `e` again from every later call.
#[cold]
#[inline(never)]
fn mark_dead(dead: &mut Option<Box<Error>>, plain: &mut bool, e: &Error) {
    *plain = false;
    *dead = Some(Box::new(e.clone()));
}

/// A zero-copy view of the payload bytes `r` of the frame at the front of `asm` (the buffer
/// is frozen the first time, once per buffer).
#[inline(never)]
fn view(asm: &mut Assembler, r: core::ops::Range<usize>) -> Payload {
    Payload::from(asm.view(FRAME_HEADER_LEN + r.start..FRAME_HEADER_LEN + r.end))
}

impl Source for HeldSrc<'_> {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        &self.asm.buffered()[FRAME_HEADER_LEN..self.end]
    }

    #[inline(always)]
    fn payload(&mut self, r: core::ops::Range<usize>) -> Payload {
        let start = FRAME_HEADER_LEN + r.start;
        if r.len() <= Payload::INLINE_MAX {
            let all = self.asm.buffered();
            // Usually more bytes follow the payload in the buffer: copy a fixed-size window.
            if let Some(w) = all.get(start..).and_then(|b| b.first_chunk()) {
                return Payload::inline_window(w, r.len());
            }
            return Payload::copy_from_slice(&all[start..FRAME_HEADER_LEN + r.end]);
        }
        if wants_view(r.len(), self.cap, self.ratio) {
            view(self.asm, r)
        } else {
            Payload::copy_from_slice(&self.bytes()[r])
        }
    }

    #[inline(always)]
    fn fail(&mut self, e: Error) -> Error {
        if e.is_connection_error() {
            mark_dead(self.dead, self.plain, &e);
        }
        e
    }

    /// Both paths checked the reply cap before the frame was decoded (`pending_replies <
    /// reply_cap`, or the cap off, when the count saturates).
    #[inline(always)]
    fn wants_reply(&mut self) {
        *self.pending_replies = self.pending_replies.saturating_add(1);
    }
}

/// An open field block: HEADERS/PUSH_PROMISE without END_HEADERS, then CONTINUATIONs.
#[derive(Clone, Copy, Debug)]
struct Block {
    stream_id: u32,
    continuations: u32,
    /// Payload bytes of the block's frames so far (at most the `u32` block limit).
    bytes: u32,
}

/// What the connection's state decides from a frame's 9-byte header: the frame header rule
/// the reader gives the [`Assembler`].
#[derive(Debug)]
struct Rules {
    cfg: Config,
    block: Option<Block>,
    /// Server side, before the first frame: it must be SETTINGS (RFC 9113 §3.4).
    want_settings: bool,
    /// Frames obliging a reply (PING, SETTINGS without ACK) returned since the last
    /// [`FrameReader::replies_flushed`] (saturating).
    pending_replies: u32,
    /// [`Config::max_pending_replies`], `u32::MAX` when off: the fast path takes such a frame
    /// only while `pending_replies` is below it.
    reply_cap: u32,
}

impl Rules {
    /// The header rule: how many bytes the frame at the front of `b` takes (only its header,
    /// for an unknown frame that is skipped as it arrives), or the connection error its
    /// header shows (the size first, RFC 9113 §4.2, then the sequencing).
    fn frame(&self, b: &[u8]) -> Result<Framing, Error> {
        let Some(h) = FrameHeader::parse(b) else {
            return Ok(Framing::Need(FRAME_HEADER_LEN));
        };
        check_header(h, self.cfg.max_frame_size)?;
        self.check_sequence(h)?;
        if self.skips(h) {
            return Ok(Framing::Record(FRAME_HEADER_LEN));
        }
        Ok(Framing::Record(FRAME_HEADER_LEN + h.length as usize))
    }

    /// Whether the frame is discarded (an unknown type, not surfaced): its payload is skipped
    /// as it arrives, never buffered.
    #[inline]
    fn skips(&self, h: FrameHeader) -> bool {
        h.kind > kind::CONTINUATION && !self.cfg.surface_unknown
    }

    /// What the connection's state decides from the header alone: the server's rules (the
    /// first frame is SETTINGS, no PUSH_PROMISE), CONTINUATION sequencing and the flood cap.
    #[inline]
    fn check_sequence(&self, h: FrameHeader) -> Result<(), Error> {
        if self.cfg.expect_preface {
            if self.want_settings && (h.kind != kind::SETTINGS || h.flags & flags::ACK != 0) {
                return Err(Error::conn(
                    ErrorCode::PROTOCOL_ERROR,
                    "the client preface must be followed by a SETTINGS frame",
                ));
            }
            if h.kind == kind::PUSH_PROMISE {
                return Err(Error::conn(
                    ErrorCode::PROTOCOL_ERROR,
                    "PUSH_PROMISE sent to a server (a client cannot push)",
                ));
            }
        }
        match (self.block, h.kind) {
            (Some(b), kind::CONTINUATION) => {
                if h.stream_id != b.stream_id {
                    return Err(Error::conn(
                        ErrorCode::PROTOCOL_ERROR,
                        "CONTINUATION for another stream than the open field block",
                    ));
                }
                if b.continuations >= self.cfg.max_continuations
                    || b.bytes.saturating_add(h.length) > self.cfg.max_header_block
                {
                    return Err(Error::conn(
                        ErrorCode::ENHANCE_YOUR_CALM,
                        "CONTINUATION flood: field block over the configured limits",
                    ));
                }
                Ok(())
            }
            (Some(_), _) => Err(Error::conn(
                ErrorCode::PROTOCOL_ERROR,
                "expected CONTINUATION: a field block is open",
            )),
            (None, kind::CONTINUATION) => Err(Error::conn(
                ErrorCode::PROTOCOL_ERROR,
                "CONTINUATION without an open field block",
            )),
            (None, kind::HEADERS | kind::PUSH_PROMISE)
                if h.length as usize > self.cfg.max_header_block as usize =>
            {
                Err(Error::conn(
                    ErrorCode::ENHANCE_YOUR_CALM,
                    "field block over the configured byte limit",
                ))
            }
            (None, _) => self.check_replies(h),
        }
    }

    /// The PING / SETTINGS flood cap ([`Config::max_pending_replies`]), from the header.
    #[inline]
    fn check_replies(&self, h: FrameHeader) -> Result<(), Error> {
        if wants_reply(h)
            && self.pending_replies >= self.reply_cap
            && self.cfg.max_pending_replies.is_some()
        {
            return Err(Error::conn(
                ErrorCode::ENHANCE_YOUR_CALM,
                "PING/SETTINGS flood: more frames awaiting a reply than max_pending_replies",
            ));
        }
        Ok(())
    }
}

/// Reads RFC 9113 frames from any [`ReadyRead`] (a socket through
/// [`ReadyFd`](slackwater_ready::ReadyFd), an ALTS connection, …), and passes writes through
/// to it when it is a [`ReadyWrite`] too.
///
/// # Buffers
/// The buffering is [`Assembler`]'s (its docs state and argue the bound); in short:
/// * A read buffer is taken from the pool only when the transport is readable (the
///   `ReadyRead` contract), and it goes back **the moment every buffered byte has been
///   consumed**. Between frames an idle connection holds no buffer.
/// * DATA payloads and header block fragments are zero-copy views ([`Payload`]) into that
///   buffer when they are large; small ones are copied (see [`Payload`] and
///   [`ConfigBuilder::copy_out_ratio`](crate::ConfigBuilder::copy_out_ratio) for the exact
///   rule), so a kept payload cannot pin a buffer much larger than itself.
/// * A frame split across reads is completed in place when its buffer has room (the rest is
///   read straight into it, [`ReadyRead::append_ready`]); otherwise its received part is
///   copied into a larger buffer. A frame larger than half a read buffer grows with the
///   bytes that arrive: its buffer is replaced only when full, by one at most twice what has
///   arrived (at least one read buffer, never more than the frame), so a frame dribbled in
///   small pieces costs O(log n) buffers and copies, and a peer that announces a large frame
///   and goes quiet pins at most twice what it sent, or one read buffer. The rest of a large
///   frame is read exactly, so the next read starts on a frame boundary.
/// * A read at a frame boundary asks for [`Config::read_buffer_size`] bytes, or for exactly
///   the size of the frame before it when that was between half a read buffer and one (a run
///   of 16 KiB DATA frames is read one frame per read, each frame in a buffer of its own).
///   It never asks for more than `read_buffer_size`, whatever frame came before.
/// * The frame size is checked against [`Config::max_frame_size`] from the 9-byte header,
///   before any of the payload is read; no buffer is ever larger than
///   `max(read_buffer_size, max_frame_size + 9)`.
/// * Before waiting in the middle of a frame, the received part moves into the smallest pool
///   class that holds the frame (so a 9-byte partial header does not keep a 32 KiB buffer):
///   a connection waiting in mid-frame pins one buffer, of no larger class than the frame's.
/// * An unknown frame that is discarded (the default) is skipped as it arrives, never
///   buffered whole.
///
/// # Validation
/// Every frame is checked per RFC 9113 §4–§6 (lengths, stream ids, padding, SETTINGS values,
/// WINDOW_UPDATE increments), plus CONTINUATION sequencing and the flood cap
/// ([`ConfigBuilder::continuation_limits`](crate::ConfigBuilder::continuation_limits)), and,
/// when the event loop turns it on, the PING / SETTINGS flood cap
/// ([`ConfigBuilder::max_pending_replies`](crate::ConfigBuilder::max_pending_replies)).
/// Errors carry the HTTP/2 code and [`Scope`](crate::Scope). Stream *state* (idle, closed, id
/// parity and ordering, flow control) is the connection layer's job, not the reader's.
///
/// # Errors stick
/// After a fatal error ([`Error::is_fatal`]) every later call returns it again: a connection
/// error, a bad preface, a stream that ended inside a frame (its partial buffer given back),
/// and a transport error such as a reset. (Linux reports `ECONNRESET` once and then reads 0;
/// the reader never turns that 0 into a clean end of stream.) After a stream error the frame
/// has been consumed and reading can go on; after `WouldBlock`, `Interrupted` or `TimedOut`
/// any partial frame is kept.
///
/// # Blocking and non-blocking
/// [`read_frame`](FrameReader::read_frame) waits; [`try_read_frame`](FrameReader::try_read_frame)
/// returns an error for which [`Error::is_would_block`] holds when the transport has nothing
/// now, keeping any partial frame, so an event loop calls it again on the next readiness.
///
/// # Writing through the reader
/// When the transport is a [`ReadyWrite`] (a [`ReadyFd`](slackwater_ready::ReadyFd), an ALTS
/// connection), so is the reader: every method is the transport's, so one value is the whole
/// connection. A [`FrameWriter`](crate::FrameWriter) encodes into it
/// (`writer.write(&mut reader, &frame)`), and [`try_flush_ready`](ReadyWrite::try_flush_ready)
/// / [`flush_ready`](ReadyWrite::flush_ready) flush the transport. **A flush that leaves
/// nothing queued calls [`replies_flushed`](FrameReader::replies_flushed)**: the PING and
/// SETTINGS ACKs queued before it are out, so the count that
/// [`ConfigBuilder::max_pending_replies`](crate::ConfigBuilder::max_pending_replies) caps
/// starts again from 0 (queue each ACK before the flush that should count it). It also passes
/// [`AsFd`] / [`AsRawFd`] through, for a poller.
///
/// ```
/// use slackwater_h2frame::{Frame, FrameReader, FrameWriter, Ping, Pool, PoolHandle};
/// use slackwater_ready::{ReadyFd, ReadyWrite};
/// let pool = PoolHandle::from(Pool::new());
/// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let mut ours = FrameReader::with_pool(ReadyFd::new(a).unwrap(), pool.clone());
/// let mut theirs = FrameReader::with_pool(ReadyFd::new(b).unwrap(), pool.clone());
/// let writer = FrameWriter::new();
/// writer.write(&mut theirs, &Frame::Ping(Ping { ack: false, data: *b"12345678" })).unwrap();
/// theirs.flush_ready().unwrap();
/// let f = ours.read_frame().unwrap().unwrap();
/// assert!(matches!(f, Frame::Ping(p) if &p.data == b"12345678"));
/// assert_eq!(pool.stats().in_use(), 0); // between frames: no buffer held, nothing queued
/// drop(theirs);
/// assert!(ours.read_frame().unwrap().is_none()); // clean EOF
/// ```
pub struct FrameReader<R> {
    io: R,
    pool: PoolHandle,
    asm: Assembler,
    rules: Rules,
    /// Bytes of a discarded (unknown) frame still to skip.
    skip: u32,
    /// Bytes of the client preface still to check.
    preface_left: u32,
    /// The connection error that killed the reader (boxed: a reader that is alive pays one
    /// pointer for it).
    dead: Option<Box<Error>>,
    /// No preface or skip in progress, no open field block, no SETTINGS awaited, not dead or
    /// truncated: a whole buffered frame can take the fast path. Cleared wherever one of those
    /// begins; set again (recomputed) only on the general path, right before a frame is
    /// decoded.
    plain: bool,
    /// The stream ended inside a frame (with this many bytes buffered): every later read
    /// reports it again, and the partial frame's buffer has been given back.
    truncated: Option<u32>,
}

impl<R> FrameReader<R> {
    /// A reader with the default [`Config`] and the global pool.
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// assert!(r.pool().is_global());
    /// ```
    pub fn new(io: R) -> Self {
        FrameReader::with_config(io, PoolHandle::default(), Config::new())
    }

    /// A reader with the default [`Config`] taking its buffers from `pool` (a `&'static
    /// Pool`, a [`Pool`](crate::Pool) or `Arc<Pool>` it then owns, or a [`PoolHandle`]).
    ///
    /// ```
    /// use slackwater_h2frame::{FrameReader, Pool, PoolHandle};
    /// let pool = PoolHandle::from(Pool::new());
    /// let r = FrameReader::with_pool(slackwater_ready::Buffered::new(std::io::empty()), pool.clone());
    /// assert_eq!(pool.stats().in_use(), 0);
    /// ```
    pub fn with_pool(io: R, pool: impl Into<PoolHandle>) -> Self {
        FrameReader::with_config(io, pool, Config::new())
    }

    /// A reader with `cfg`, taking its buffers from `pool`.
    ///
    /// ```
    /// use slackwater_h2frame::{Config, FrameReader, global};
    /// let cfg = Config::builder().expect_client_preface(true).build().unwrap();
    /// let r = FrameReader::with_config(slackwater_ready::Buffered::new(std::io::empty()), global(), cfg);
    /// assert!(r.config().expect_client_preface());
    /// ```
    pub fn with_config(io: R, pool: impl Into<PoolHandle>, cfg: Config) -> Self {
        FrameReader {
            io,
            pool: pool.into(),
            asm: Assembler::new(cfg.read_buffer_size()),
            preface_left: if cfg.expect_preface {
                CLIENT_PREFACE.len() as u32
            } else {
                0
            },
            plain: !cfg.expect_preface,
            rules: Rules {
                want_settings: cfg.expect_preface,
                reply_cap: cfg.max_pending_replies.unwrap_or(u32::MAX),
                pending_replies: 0,
                block: None,
                cfg,
            },
            skip: 0,
            dead: None,
            truncated: None,
        }
    }

    /// Changes our `SETTINGS_MAX_FRAME_SIZE`; it applies from the next frame header read.
    /// (When lowering it, RFC 9113 §6.5.3 says to keep accepting the old size until the
    /// peer ACKs our SETTINGS: call this after the ACK.)
    ///
    /// # Errors
    /// [`Error::Invalid`] outside 16,384..=16,777,215 (the value is then unchanged).
    ///
    /// ```
    /// let mut r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// r.set_max_frame_size(1 << 20).unwrap();
    /// assert!(r.set_max_frame_size(1).is_err());
    /// assert_eq!(r.config().max_frame_size(), 1 << 20);
    /// ```
    pub fn set_max_frame_size(&mut self, v: u32) -> Result<(), Error> {
        check_max_frame_size(v)?;
        self.rules.cfg.max_frame_size = v;
        Ok(())
    }

    /// Tells the reader that the replies owed so far (PING ACKs, SETTINGS ACKs) have been
    /// written out: the count that
    /// [`ConfigBuilder::max_pending_replies`](crate::ConfigBuilder::max_pending_replies) caps
    /// starts again from 0. A flush through the reader that leaves nothing queued calls it
    /// (see [Writing through the reader](FrameReader#writing-through-the-reader)); an event
    /// loop that writes its ACKs some other way calls it after it flushed the ACKs for every
    /// PING and SETTINGS it has read.
    ///
    /// ```
    /// use slackwater_h2frame::{Config, Frame, FrameReader, global};
    /// let ping = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    /// let wire = [ping; 100].concat();
    /// let cfg = Config::builder().max_pending_replies(Some(2)).build().unwrap();
    /// let mut r = FrameReader::with_config(slackwater_ready::Buffered::new(&wire[..]), global(), cfg);
    /// while let Some(f) = r.read_frame().unwrap() {
    ///     assert!(matches!(f, Frame::Ping(_)));
    ///     // ... write the PING ACK and flush it, then:
    ///     r.replies_flushed();
    /// }
    /// assert_eq!(r.pending_replies(), 0);
    /// ```
    #[inline]
    pub fn replies_flushed(&mut self) {
        self.rules.pending_replies = 0;
    }

    /// How many frames obliging a reply (a PING or SETTINGS without ACK) were returned since
    /// the last [`replies_flushed`](FrameReader::replies_flushed) (or since the start). It
    /// is counted whether or not a cap is set, and stops at `u32::MAX`.
    ///
    /// ```
    /// use slackwater_h2frame::FrameReader;
    /// let wire = [[0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8],  // a PING
    ///             [0, 0, 8, 6, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]]  // a PING ACK
    ///     .concat();
    /// let mut r = FrameReader::new(slackwater_ready::Buffered::new(&wire[..]));
    /// while r.read_frame().unwrap().is_some() {}
    /// assert_eq!(r.pending_replies(), 1); // the ACK obliges nothing
    /// r.replies_flushed();
    /// assert_eq!(r.pending_replies(), 0);
    /// ```
    pub fn pending_replies(&self) -> u32 {
        self.rules.pending_replies
    }

    /// Bytes received and not yet returned as frames.
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// assert_eq!(r.buffered(), 0);
    /// ```
    pub fn buffered(&self) -> usize {
        self.asm.len()
    }

    /// Whether the reader holds a pool buffer now (only while bytes of an incomplete frame,
    /// or of frames not yet read, are buffered).
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// assert!(!r.holds_buffer());
    /// ```
    pub fn holds_buffer(&self) -> bool {
        self.asm.holds_buffer()
    }

    /// Bytes of memory the reader pins now: the capacity of the read buffer it holds (0
    /// between frames). Views of DATA payloads handed out keep their buffer alive on their
    /// own; they are the caller's.
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// assert_eq!(r.read_buffer_bytes(), 0);
    /// ```
    pub fn read_buffer_bytes(&self) -> usize {
        self.asm.capacity()
    }

    /// Whether a field block is open (a HEADERS or PUSH_PROMISE without END_HEADERS was read
    /// and its last CONTINUATION has not).
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// assert!(!r.in_header_block());
    /// ```
    pub fn in_header_block(&self) -> bool {
        self.rules.block.is_some()
    }

    /// The configuration.
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// assert_eq!(r.config().max_frame_size(), 16_384);
    /// ```
    pub fn config(&self) -> &Config {
        &self.rules.cfg
    }

    /// The pool the read buffers come from.
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// assert_eq!(r.pool().stats().in_use(), 0);
    /// ```
    pub fn pool(&self) -> &PoolHandle {
        &self.pool
    }

    /// The transport.
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// let _ = r.get_ref();
    /// ```
    pub fn get_ref(&self) -> &R {
        &self.io
    }

    /// The transport, mutably (reading from it directly desynchronizes the reader; writing to
    /// it is what the reader's own [`ReadyWrite`] does).
    ///
    /// ```
    /// let mut r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// let _ = r.get_mut();
    /// ```
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.io
    }

    /// Unwraps the transport; buffered bytes are dropped (their buffer goes back).
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// let _io = r.into_inner();
    /// ```
    pub fn into_inner(self) -> R {
        self.io
    }
}

impl<R: ReadyRead> FrameReader<R> {
    /// Blocks until a whole frame is available and returns it; `Ok(None)` at a clean end of
    /// stream (between frames), and again from every later call.
    ///
    /// # Errors
    /// [`Error::Protocol`] / [`Error::BadPreface`] for RFC 9113 violations (with code and
    /// scope), [`Error::UnexpectedEof`] if the stream ends inside a frame, [`Error::Io`] and
    /// [`Error::Pool`]. Fatal ones ([`Error::is_fatal`]) are returned again by every later
    /// call.
    ///
    /// ```
    /// use slackwater_h2frame::{Frame, FrameReader};
    /// let wire = [0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1]; // WINDOW_UPDATE +1 on stream 0
    /// let mut r = FrameReader::new(slackwater_ready::Buffered::new(&wire[..]));
    /// assert!(matches!(r.read_frame().unwrap(), Some(Frame::WindowUpdate(_))));
    /// assert!(r.read_frame().unwrap().is_none());
    /// ```
    #[inline]
    pub fn read_frame(&mut self) -> Result<Option<Frame>, Error> {
        self.read_next(true)
    }

    /// Like [`read_frame`](FrameReader::read_frame) without waiting: when the transport has
    /// nothing now, returns an [`Error::Io`] of kind `WouldBlock`
    /// ([`Error::is_would_block`]) and keeps whatever part of a frame has arrived.
    ///
    /// # Errors
    /// As [`read_frame`](FrameReader::read_frame), plus `WouldBlock`.
    ///
    /// ```
    /// use slackwater_h2frame::FrameReader;
    /// use slackwater_ready::ReadyFd;
    /// use std::io::Write;
    /// let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let mut r = FrameReader::new(ReadyFd::new(a).unwrap());
    /// b.write_all(&[0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2]).unwrap(); // a PING, cut short
    /// assert!(r.try_read_frame().unwrap_err().is_would_block());
    /// b.write_all(&[3, 4, 5, 6, 7, 8]).unwrap();
    /// assert!(r.try_read_frame().unwrap().is_some());
    /// ```
    #[inline]
    pub fn try_read_frame(&mut self) -> Result<Option<Frame>, Error> {
        self.read_next(false)
    }

    /// A connection error (from the header rule, or the preface): the reader is dead.
    fn fail(&mut self, e: Error) -> Error {
        if e.is_connection_error() {
            self.plain = false;
            self.dead = Some(Box::new(e.clone()));
            // Nothing more will be read: give the buffer back now.
            self.asm.release();
        }
        e
    }

    /// The stream ended inside a frame (or the preface) with `buffered` bytes of it received:
    /// give the partial frame's buffer back and stay ended.
    fn truncate(&mut self, buffered: usize) -> Error {
        self.asm.release();
        self.plain = false;
        // A frame is at most 9 + 2^24 − 1 bytes.
        self.truncated = Some(u32::try_from(buffered).unwrap_or(u32::MAX));
        Error::UnexpectedEof { buffered }
    }

    /// Makes at least `n` bytes buffered (for the preface and skipped frames: `n` is 1).
    /// `Ok(false)`: the transport reached its end first.
    fn fill(&mut self, n: usize, blocking: bool) -> Result<bool, Error> {
        self.asm
            .fill(&mut self.io, &self.pool, n, blocking)
            .map_err(Error::from)
    }

    /// The fast path: in the plain state, a frame that is wholly buffered, needs no view and
    /// no connection state, and that [`check_header`] accepts is decoded right here; anything
    /// else goes the general way.
    ///
    /// Either way the frame is then built in one place, straight into the return value: a
    /// frame built in two places would be built into a temporary and moved, and moving a value
    /// just written field by field costs a store-forwarding stall.
    #[inline(always)]
    fn read_next(&mut self, blocking: bool) -> Result<Option<Frame>, Error> {
        let (h, n) = match self.fast_header() {
            Some(hn) => hn,
            None => match self.next_header(blocking) {
                Ok(Some(hn)) => hn,
                Ok(None) => return Ok(None),
                Err(e) => return Err(e),
            },
        };
        self.decode_buffered(h, n)
    }

    /// The header and size of a wholly buffered frame that can take the fast path.
    #[inline(always)]
    fn fast_header(&self) -> Option<(FrameHeader, usize)> {
        if !self.plain {
            return None;
        }
        let b = self.asm.buffered();
        let h = FrameHeader::from_array(b.first_chunk()?);
        let n = FRAME_HEADER_LEN + h.length as usize;
        (n <= b.len() && self.fast_ok(h)).then_some((h, n))
    }

    /// Whether a header can take the fast path: a known type that neither opens nor continues
    /// a field block (a HEADERS with END_HEADERS within the block cap is fine), whose payload
    /// will not be a view, and that [`check_header`] accepts.
    #[inline(always)]
    fn fast_ok(&self, h: FrameHeader) -> bool {
        let len = h.length as usize;
        let r = &self.rules;
        let simple = match h.kind {
            kind::HEADERS => {
                h.flags & flags::END_HEADERS != 0 && len <= r.cfg.max_header_block as usize
            }
            kind::PUSH_PROMISE | kind::CONTINUATION => false,
            kind::PING | kind::SETTINGS => {
                h.flags & flags::ACK != 0 || r.pending_replies < r.reply_cap
            }
            k => k < kind::CONTINUATION,
        };
        simple
            && !wants_view(len, self.asm.capacity(), r.cfg.copy_out_ratio())
            && check_header(h, r.cfg.max_frame_size).is_ok()
    }

    /// The general path: the preface, skipped frames, reads; then the next frame's header,
    /// checked (size, sequencing, server rules), with the whole frame buffered.
    #[inline(never)]
    fn next_header(&mut self, blocking: bool) -> Result<Option<(FrameHeader, usize)>, Error> {
        if let Some(buffered) = self.truncated {
            return Err(Error::UnexpectedEof {
                buffered: buffered as usize,
            });
        }
        if let Some(e) = &self.dead {
            return Err(Error::clone(e));
        }
        loop {
            if self.preface_left > 0 {
                let left = self.preface_left as usize;
                if self.asm.is_empty() && !self.fill(1, blocking)? {
                    if left == CLIENT_PREFACE.len() {
                        return Ok(None);
                    }
                    return Err(self.truncate(CLIENT_PREFACE.len() - left));
                }
                let done = CLIENT_PREFACE.len() - left;
                let got = self.asm.buffered();
                let n = got.len().min(left);
                if got[..n] != CLIENT_PREFACE[done..done + n] {
                    let http1 = looks_like_http1(done, got);
                    return Err(self.fail(Error::BadPreface { http1 }));
                }
                self.asm.consume(n);
                self.preface_left -= n as u32;
                continue;
            }
            if self.skip > 0 {
                if self.asm.is_empty() && !self.fill(1, blocking)? {
                    return Err(self.truncate(0));
                }
                let n = self.asm.len().min(self.skip as usize);
                self.asm.consume(n);
                self.skip -= n as u32;
                continue;
            }
            let rules = &self.rules;
            let got = self
                .asm
                .next_record(&mut self.io, &self.pool, blocking, |b| rules.frame(b));
            let n = match got {
                Ok(Some(n)) => n,
                Ok(None) => return Ok(None),
                Err(RecordError::Rule(e)) => return Err(self.fail(e)),
                Err(RecordError::Io(e)) => return Err(Error::from(e)),
                Err(RecordError::Truncated { buffered }) => return Err(self.truncate(buffered)),
            };
            let Some(h) = FrameHeader::parse(self.asm.buffered()) else {
                continue; // unreachable: the rule decided from 9 bytes
            };
            self.rules.want_settings = false;
            if self.rules.skips(h) {
                // Discard the payload as it arrives, without buffering it.
                self.asm.consume(FRAME_HEADER_LEN);
                self.skip = h.length;
                self.plain = false;
                continue;
            }
            self.open_or_close_block(h);
            return Ok(Some((h, n)));
        }
    }

    /// Field block state for a frame about to be decoded (the caps were checked from the
    /// header), and the fast-path flag. Every error a HEADERS, PUSH_PROMISE or CONTINUATION
    /// payload can have is a connection error, after which this state no longer matters.
    fn open_or_close_block(&mut self, h: FrameHeader) {
        let end_headers = h.flags & flags::END_HEADERS != 0;
        match h.kind {
            kind::HEADERS | kind::PUSH_PROMISE if !end_headers => {
                self.rules.block = Some(Block {
                    stream_id: h.stream_id,
                    continuations: 0,
                    bytes: h.length,
                });
            }
            kind::CONTINUATION => {
                if end_headers {
                    self.rules.block = None;
                } else if let Some(b) = &mut self.rules.block {
                    b.continuations += 1;
                    b.bytes = b.bytes.saturating_add(h.length);
                }
            }
            _ => {}
        }
        self.plain = self.truncated.is_none()
            && self.dead.is_none()
            && self.preface_left == 0
            && self.skip == 0
            && self.rules.block.is_none()
            && !self.rules.want_settings;
    }

    /// Decodes the frame of `n` bytes at the front of the assembler (whose header has been
    /// checked) and consumes it.
    #[inline(always)]
    fn decode_buffered(&mut self, h: FrameHeader, n: usize) -> Result<Option<Frame>, Error> {
        let mut src = HeldSrc {
            cap: self.asm.capacity(),
            asm: &mut self.asm,
            dead: &mut self.dead,
            plain: &mut self.plain,
            pending_replies: &mut self.rules.pending_replies,
            end: n,
            ratio: self.rules.cfg.copy_out_ratio(),
        };
        // The frame is built straight into the return value and not looked at again here:
        // moving a value just written field by field costs a store-forwarding stall. The
        // bookkeeping after it (consuming the frame, errors) is `src`'s drop.
        decode_body(h, &mut src, self.rules.cfg.reject_nonzero_padding)
    }
}

/// The transport's output, passed through (see
/// [Writing through the reader](FrameReader#writing-through-the-reader)); a flush that leaves
/// nothing queued also calls [`FrameReader::replies_flushed`].
///
/// ```
/// use slackwater_h2frame::{Config, Frame, FrameReader, FrameWriter, Ping, global};
/// use slackwater_ready::{ReadyFd, ReadyWrite};
/// use std::io::Write;
/// let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let cfg = Config::builder().max_pending_replies(Some(10_000)).build().unwrap();
/// let mut conn = FrameReader::with_config(ReadyFd::new(a).unwrap(), global(), cfg);
/// b.write_all(&[0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]).unwrap(); // a PING
/// let Some(Frame::Ping(p)) = conn.read_frame().unwrap() else { panic!() };
/// assert_eq!(conn.pending_replies(), 1);
/// FrameWriter::new().write(&mut conn, &Frame::Ping(Ping { ack: true, data: p.data })).unwrap();
/// assert_eq!(conn.queued(), 17);
/// conn.try_flush_ready().unwrap();   // the ACK is out ...
/// assert_eq!(conn.pending_replies(), 0); // ... and no longer owed
/// ```
impl<R: ReadyWrite> ReadyWrite for FrameReader<R> {
    #[inline]
    fn queue(&mut self, data: &[u8]) -> io::Result<()> {
        self.io.queue(data)
    }

    fn queue_buf(&mut self, buf: Buf) -> io::Result<()> {
        self.io.queue_buf(buf)
    }

    fn try_flush_ready(&mut self) -> io::Result<()> {
        self.io.try_flush_ready()?;
        if self.io.queued() == 0 {
            self.replies_flushed();
        }
        Ok(())
    }

    fn flush_ready(&mut self) -> io::Result<()> {
        self.io.flush_ready()?;
        if self.io.queued() == 0 {
            self.replies_flushed();
        }
        Ok(())
    }

    fn queued(&self) -> usize {
        self.io.queued()
    }

    fn wants_writable(&self) -> bool {
        self.io.wants_writable()
    }

    fn is_write_full(&self) -> bool {
        self.io.is_write_full()
    }
}

/// The transport's fd (the socket's, through every layer), for a poller.
///
/// ```
/// use std::os::fd::AsFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::ReadyFd::new(a).unwrap());
/// let _fd = r.as_fd();
/// ```
impl<R: AsFd> AsFd for FrameReader<R> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

/// The transport's raw fd.
///
/// ```
/// use std::os::fd::AsRawFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let fd = a.as_raw_fd();
/// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::ReadyFd::new(a).unwrap());
/// assert_eq!(r.as_raw_fd(), fd);
/// ```
impl<R: AsRawFd> AsRawFd for FrameReader<R> {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

/// Whether a frame obliges the receiver to reply: a PING or SETTINGS without ACK (RFC 9113
/// §6.5.3, §6.7).
#[inline(always)]
fn wants_reply(h: FrameHeader) -> bool {
    matches!(h.kind, kind::PING | kind::SETTINGS) && h.flags & flags::ACK == 0
}

/// Whether bytes that failed the preface check look like an HTTP/1.x request. `done` preface
/// bytes had matched before `got`.
fn looks_like_http1(done: usize, got: &[u8]) -> bool {
    // "PRI * HTTP/1.1": only the version differs.
    let v = b"PRI * HTTP/".len();
    if done <= v && got.get(v - done) == Some(&b'1') {
        return true;
    }
    // A request line starts with an upper-case method and a space ("GET /", "POST /"); only
    // the first bytes may have arrived. What the client sent is the matched part of the
    // preface, then `got`.
    if done >= 3 {
        return false; // "PRI" matched: this is no other method
    }
    let mut method = 0;
    for &b in CLIENT_PREFACE[..done].iter().chain(got).take(16) {
        match b {
            b'A'..=b'Z' => method += 1,
            b' ' => return method > 0,
            _ => return false,
        }
    }
    method > 0
}

impl<R> std::fmt::Debug for FrameReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.asm.len())
            .field("in_header_block", &self.rules.block.is_some())
            .field("pending_replies", &self.rules.pending_replies)
            .field("dead", &self.dead)
            .field("truncated", &self.truncated)
            .finish()
    }
}
