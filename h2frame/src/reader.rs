//! [`FrameReader`]: frames from any [`ReadyRead`], holding a buffer only while bytes wait.

use crate::decode::{Source, check_header, decode_body, view_or_copy, wants_view};
use crate::frame::*;
use crate::{Error, ErrorCode, Scope};
use slackwater_ready::{Buf, Pool, ReadyRead, SharedBuf, global};
use std::io;

/// Settings of a [`FrameReader`].
///
/// ```
/// use slackwater_h2frame::Config;
/// let cfg = Config::new()
///     .max_frame_size(1 << 20).unwrap()   // what we advertised in SETTINGS_MAX_FRAME_SIZE
///     .expect_client_preface(true)        // we are the server
///     .surface_unknown_frames(false);     // the default: discard them (RFC 9113 §4.1)
/// assert_eq!(cfg.get_max_frame_size(), 1 << 20);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    max_frame_size: u32,
    read_buffer_size: usize,
    surface_unknown: bool,
    max_continuations: u32,
    max_header_block: usize,
    reject_nonzero_padding: bool,
    expect_preface: bool,
    copy_out_ratio: usize,
    max_pending_replies: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// The defaults: max frame size 16,384; 32 KiB reads; unknown frames discarded; at most
    /// 64 CONTINUATION frames and 256 KiB of header block per field block; non-zero padding
    /// accepted; no client preface expected; copy-out ratio 16; no cap on frames awaiting a
    /// reply ([`Config::max_pending_replies`]).
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::Config::new().get_max_frame_size(), 16_384);
    /// ```
    pub const fn new() -> Config {
        Config {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            read_buffer_size: 32 * 1024,
            surface_unknown: false,
            max_continuations: 64,
            max_header_block: 256 * 1024,
            reject_nonzero_padding: false,
            expect_preface: false,
            copy_out_ratio: 16,
            max_pending_replies: None,
        }
    }

    /// Our `SETTINGS_MAX_FRAME_SIZE`: larger frames are a connection `FRAME_SIZE_ERROR`,
    /// decided from the 9-byte header before any of the payload is read or a buffer for it
    /// taken. No read buffer ever exceeds `max(read_buffer_size, this + 9)`.
    ///
    /// # Errors
    /// [`Error::Invalid`] outside 16,384..=16,777,215.
    ///
    /// ```
    /// assert!(slackwater_h2frame::Config::new().max_frame_size(1 << 24).is_err());
    /// ```
    pub fn max_frame_size(mut self, v: u32) -> Result<Config, Error> {
        if !(DEFAULT_MAX_FRAME_SIZE..=MAX_FRAME_SIZE_LIMIT).contains(&v) {
            return Err(Error::Invalid("max frame size outside 16384..=16777215"));
        }
        self.max_frame_size = v;
        Ok(self)
    }

    /// The configured maximum frame size.
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::Config::default().get_max_frame_size(), 16_384);
    /// ```
    pub fn get_max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// How many bytes one read from the transport asks for at a frame boundary (at least 64;
    /// default 32 KiB). A frame larger than this is read into a buffer of its own size.
    ///
    /// ```
    /// let c = slackwater_h2frame::Config::new().read_buffer_size(16 * 1024);
    /// ```
    pub fn read_buffer_size(mut self, n: usize) -> Config {
        self.read_buffer_size = n.max(64);
        self
    }

    /// Return frames of unknown types as [`Frame::Unknown`] instead of discarding them.
    ///
    /// ```
    /// let c = slackwater_h2frame::Config::new().surface_unknown_frames(true);
    /// ```
    pub fn surface_unknown_frames(mut self, on: bool) -> Config {
        self.surface_unknown = on;
        self
    }

    /// The CONTINUATION flood cap (CVE-2024-27316): at most `frames` CONTINUATION frames and
    /// `bytes` bytes per field block; more is a connection `ENHANCE_YOUR_CALM`. The bytes
    /// counted are the payload lengths of the block's frames (the HEADERS or PUSH_PROMISE
    /// frame that opens it, padding and priority / promised-id fields included, and every
    /// CONTINUATION), so both limits are decided from each frame's 9-byte header, before any
    /// of its payload is read or a buffer taken for it. A single HEADERS frame (with
    /// END_HEADERS) is a field block too: one longer than `bytes` is refused from its header.
    ///
    /// ```
    /// use slackwater_h2frame::{Config, ErrorCode, FrameReader, global};
    /// let cfg = Config::new().continuation_limits(8, 4096);
    /// // A HEADERS header announcing 5,000 bytes, and nothing else: refused from 9 bytes.
    /// let wire = [0, 0x13, 0x88, 1, 4, 0, 0, 0, 1];
    /// let mut r = FrameReader::with_config(slackwater_ready::Buffered::new(&wire[..]), global(), cfg);
    /// assert_eq!(r.read_frame().unwrap_err().code(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    /// ```
    pub fn continuation_limits(mut self, frames: u32, bytes: usize) -> Config {
        self.max_continuations = frames;
        self.max_header_block = bytes;
        self
    }

    /// Treat non-zero padding as a connection `PROTOCOL_ERROR` (RFC 9113 §6.1 "MAY").
    ///
    /// ```
    /// let c = slackwater_h2frame::Config::new().reject_nonzero_padding(true);
    /// ```
    pub fn reject_nonzero_padding(mut self, on: bool) -> Config {
        self.reject_nonzero_padding = on;
        self
    }

    /// Server side. A reader with this set is the server's reader of a connection, and
    /// applies the rules that only a server has (RFC 9113):
    /// * §3.4: the 24-byte client connection preface is checked before the first frame
    ///   ([`Error::BadPreface`], saying when the client spoke HTTP/1.x);
    /// * §3.4: the first frame after it must be a SETTINGS frame (not an ACK); anything else
    ///   is a connection `PROTOCOL_ERROR`, decided from its 9-byte header;
    /// * §8.4: a client cannot push, so PUSH_PROMISE is a connection `PROTOCOL_ERROR`, also
    ///   decided from the header.
    ///
    /// Off (the default) the reader is a client's: no preface, any first frame, PUSH_PROMISE
    /// returned (refusing it after sending `SETTINGS_ENABLE_PUSH = 0` is the connection
    /// layer's job, which knows what it sent).
    ///
    /// ```
    /// use slackwater_h2frame::{CLIENT_PREFACE, Config, ErrorCode, FrameReader, global};
    /// let mut wire = CLIENT_PREFACE.to_vec();
    /// wire.extend_from_slice(&[0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]); // a PING
    /// let cfg = Config::new().expect_client_preface(true);
    /// let mut r = FrameReader::with_config(slackwater_ready::Buffered::new(&wire[..]), global(), cfg);
    /// let e = r.read_frame().unwrap_err(); // the first frame must be SETTINGS
    /// assert_eq!(e.code(), Some(ErrorCode::PROTOCOL_ERROR));
    /// assert!(e.is_connection_error());
    /// ```
    pub fn expect_client_preface(mut self, on: bool) -> Config {
        self.expect_preface = on;
        self
    }

    /// The copy-out rule for payloads above [`Payload::INLINE_MAX`]: a payload is a zero-copy
    /// view only if `len × ratio ≥ capacity of its buffer`; otherwise it is copied to the heap,
    /// so a kept payload never pins more than `ratio` times its own size (at least 1;
    /// default 16). A 16 KiB DATA payload in a 32 KiB read buffer is a view; a 1 KiB one is
    /// copied.
    ///
    /// ```
    /// let c = slackwater_h2frame::Config::new().copy_out_ratio(4);
    /// ```
    pub fn copy_out_ratio(mut self, ratio: usize) -> Config {
        self.copy_out_ratio = ratio.max(1);
        self
    }

    /// The PING / SETTINGS flood cap: at most `cap` frames that oblige us to send a reply
    /// (a PING without ACK: a PING ACK; a SETTINGS without ACK: a SETTINGS ACK) are returned
    /// between two calls of [`FrameReader::replies_flushed`]; the next one is a connection
    /// `ENHANCE_YOUR_CALM`, decided from its 9-byte header before its payload is read. ACKs
    /// are not counted. `None` (the default) turns the cap off.
    ///
    /// This is the reader's form of Go's "too many queued control frames" limit: a peer that
    /// sends PINGs or SETTINGS faster than we can write the ACKs makes the replies pile up in
    /// the writer. A reader cannot see the writer, so the caller tells it when the replies
    /// went out: call [`FrameReader::replies_flushed`] each time the writer has flushed the
    /// ACKs owed so far. The count is then the number of replies still queued, and the cap
    /// bounds that queue.
    ///
    /// Off by default because it is a connection-level policy that needs that call: a reader
    /// whose owner never calls `replies_flushed` would count every keep-alive PING of a
    /// long-lived connection and eventually refuse a well-behaved peer. The event loop that
    /// writes the ACKs turns it on. A cap of **10,000** (Go's `maxQueuedControlFrames`) is a
    /// reasonable choice; `Some(0)` refuses every PING and SETTINGS that wants a reply.
    ///
    /// ```
    /// use slackwater_h2frame::{Config, ErrorCode, Frame, FrameReader, global};
    /// let ping = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    /// let wire = [ping; 3].concat();
    /// let cfg = Config::new().max_pending_replies(Some(2));
    /// let mut r = FrameReader::with_config(slackwater_ready::Buffered::new(&wire[..]), global(), cfg);
    /// assert!(matches!(r.read_frame().unwrap(), Some(Frame::Ping(_))));
    /// assert!(matches!(r.read_frame().unwrap(), Some(Frame::Ping(_))));
    /// // Two PING ACKs are owed and were never flushed: the third PING is refused.
    /// let e = r.read_frame().unwrap_err();
    /// assert_eq!(e.code(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    /// assert!(e.is_connection_error());
    /// ```
    pub fn max_pending_replies(mut self, cap: Option<u32>) -> Config {
        self.max_pending_replies = cap;
        self
    }

    /// The configured cap on frames awaiting a reply ([`Config::max_pending_replies`]).
    ///
    /// ```
    /// use slackwater_h2frame::Config;
    /// assert_eq!(Config::new().get_max_pending_replies(), None);
    /// assert_eq!(Config::new().max_pending_replies(Some(10_000)).get_max_pending_replies(), Some(10_000));
    /// ```
    pub fn get_max_pending_replies(&self) -> Option<u32> {
        self.max_pending_replies
    }
}

/// Where the unread bytes are.
enum Held {
    /// Nothing buffered: no buffer held.
    Empty,
    /// A buffer still writable (no view of it handed out).
    Owned(Buf),
    /// A buffer that views were taken from.
    Frozen(SharedBuf),
}

impl Held {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        match self {
            Held::Empty => &[],
            Held::Owned(b) => b,
            Held::Frozen(s) => s,
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.bytes().len()
    }

    fn capacity(&self) -> usize {
        match self {
            Held::Empty => 0,
            Held::Owned(b) => b.capacity(),
            Held::Frozen(s) => s.buffer_capacity(),
        }
    }

    /// Consumes `n` bytes (fewer than buffered): whether any are left. (When none are, the
    /// caller drops the buffer.)
    #[inline(always)]
    fn advance_within(&mut self, n: usize) -> bool {
        match self {
            Held::Empty => false,
            Held::Owned(b) => {
                b.advance(n);
                !b.is_empty()
            }
            Held::Frozen(s) => {
                s.advance(n);
                !s.is_empty()
            }
        }
    }

    /// Consumes `n` bytes; drops the buffer (back to the pool) when nothing is left.
    #[inline]
    fn consume(&mut self, n: usize) {
        let empty = match self {
            Held::Empty => true,
            Held::Owned(b) => {
                b.advance(n);
                b.is_empty()
            }
            Held::Frozen(s) => {
                s.advance(n);
                s.is_empty()
            }
        };
        if empty {
            *self = Held::Empty;
        }
    }
}

/// The reader's frame source: the frame is `cur.bytes()[..end]`, its payload from
/// `FRAME_HEADER_LEN`; `cap` is the capacity of the buffer (for the copy-out rule). Its drop
/// consumes the frame, which is after the frame has been built into the return value, so that
/// nothing has to look at (and so move) the result.
struct HeldSrc<'a> {
    cur: &'a mut Held,
    /// The reader's connection error: set by [`Source::fail`].
    dead: &'a mut Option<(ErrorCode, &'static str)>,
    /// The reader's fast-path flag: cleared with `dead`.
    plain: &'a mut bool,
    /// The reader's next boundary read size: set when the frame was the last buffered byte.
    hint: &'a mut usize,
    /// The reader's count of frames awaiting a reply: counted by [`Source::wants_reply`].
    pending_replies: &'a mut u32,
    read_buffer_size: usize,
    end: usize,
    cap: usize,
    ratio: usize,
}

impl Drop for HeldSrc<'_> {
    /// The frame has been decoded: consume it, and after a connection error give the buffer
    /// back (nothing more will be read).
    #[inline(always)]
    fn drop(&mut self) {
        if self.dead.is_some() || !self.cur.advance_within(self.end) {
            release(
                self.cur,
                self.hint,
                self.dead.is_some(),
                self.end,
                self.read_buffer_size,
            );
        }
    }
}

/// The buffer is used up (or the reader dead): give it back, and (if not dead) size the next
/// read after a frame of `n` bytes. (This and the next two are free functions rather than
/// methods of [`HeldSrc`]: a method taking `&mut self` would make the compiler keep the
/// source in memory, costing stores and loads on every frame.)
#[cold]
#[inline(never)]
fn release(cur: &mut Held, hint: &mut usize, dead: bool, n: usize, read_buffer_size: usize) {
    *cur = Held::Empty;
    if !dead {
        *hint = next_read_size(n, read_buffer_size);
    }
}

/// A connection error: the reader is dead.
#[cold]
#[inline(never)]
fn mark_dead(dead: &mut Option<(ErrorCode, &'static str)>, plain: &mut bool, e: &Error) {
    *plain = false;
    *dead = Some((e.code().unwrap_or(ErrorCode::PROTOCOL_ERROR), e.reason()));
}

/// A view of the payload bytes `r` of the frame at the front of `cur`: the buffer is frozen
/// first (once per buffer).
#[inline(never)]
fn view(cur: &mut Held, r: core::ops::Range<usize>) -> Payload {
    if matches!(cur, Held::Owned(_))
        && let Held::Owned(b) = std::mem::replace(cur, Held::Empty)
    {
        *cur = Held::Frozen(b.freeze());
    }
    let r = FRAME_HEADER_LEN + r.start..FRAME_HEADER_LEN + r.end;
    match &*cur {
        Held::Frozen(s) => view_or_copy(s, r),
        held => Payload::copy_from_slice(&held.bytes()[r]),
    }
}

impl Source for HeldSrc<'_> {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        &self.cur.bytes()[FRAME_HEADER_LEN..self.end]
    }

    #[inline(always)]
    fn payload(&mut self, r: core::ops::Range<usize>) -> Payload {
        let start = FRAME_HEADER_LEN + r.start;
        if r.len() <= Payload::INLINE_MAX {
            let all = self.cur.bytes();
            // Usually more bytes follow the payload in the buffer: copy a fixed-size window.
            if let Some(w) = all.get(start..).and_then(|b| b.first_chunk()) {
                return Payload::inline_window(w, r.len());
            }
            return Payload::copy_from_slice(&all[start..FRAME_HEADER_LEN + r.end]);
        }
        if wants_view(r.len(), self.cap, self.ratio) {
            view(self.cur, r)
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
    /// Payload bytes of the block's frames so far.
    bytes: usize,
}

/// Reads RFC 9113 frames from any [`ReadyRead`] (a socket through
/// [`ReadyFd`](slackwater_ready::ReadyFd), an ALTS connection, …).
///
/// # Buffers
/// * A read buffer is taken from the pool only when the transport is readable (the
///   `ReadyRead` contract), and it goes back **the moment every buffered byte has been
///   consumed**. Between frames an idle connection holds no buffer.
/// * DATA payloads and header block fragments are zero-copy views ([`Payload`]) into that
///   buffer when they are large; small ones are copied (see [`Payload`] and
///   [`Config::copy_out_ratio`] for the exact rule), so a kept payload cannot pin a buffer
///   much larger than itself.
/// * A frame split across reads is completed in place when its buffer has room (the rest is
///   read straight into it, [`ReadyRead::append_on_ready`]); otherwise its received part is
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
///
/// # Validation
/// Every frame is checked per RFC 9113 §4–§6 (lengths, stream ids, padding, SETTINGS values,
/// WINDOW_UPDATE increments), plus CONTINUATION sequencing and the flood cap
/// ([`Config::continuation_limits`]), and, when the event loop turns it on, the PING /
/// SETTINGS flood cap ([`Config::max_pending_replies`], with
/// [`replies_flushed`](FrameReader::replies_flushed)). Errors carry the HTTP/2 code and
/// [`Scope`]. After a connection error the reader is dead (every later call returns that error
/// again); after a stream error the frame has been consumed and reading can go on. Stream
/// *state* (idle, closed, id parity and ordering, flow control) is the connection layer's
/// job, not the reader's.
///
/// # Blocking and non-blocking
/// [`read_frame`](FrameReader::read_frame) waits; [`try_read_frame`](FrameReader::try_read_frame)
/// returns an error for which [`Error::is_would_block`] holds when the transport has nothing
/// now, keeping any partial frame, so an event loop calls it again on the next readiness.
///
/// ```
/// use slackwater_h2frame::{Frame, FrameReader, FrameWriter, Ping, Pool};
/// use slackwater_ready::ReadyFd;
/// let pool = Pool::new();
/// let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let mut reader = FrameReader::with_pool(ReadyFd::new(a).unwrap(), &pool);
/// let mut writer = FrameWriter::new();
/// writer.write(&Frame::Ping(Ping { ack: false, data: *b"12345678" })).unwrap();
/// writer.flush_to(&mut b).unwrap();
/// let f = reader.read_frame().unwrap().unwrap();
/// assert!(matches!(f, Frame::Ping(p) if &p.data == b"12345678"));
/// assert_eq!(pool.stats().in_use(), 0); // between frames: no buffer held
/// drop(b);
/// assert!(reader.read_frame().unwrap().is_none()); // clean EOF
/// ```
pub struct FrameReader<'p, R> {
    io: R,
    pool: &'p Pool,
    cfg: Config,
    cur: Held,
    /// Size of the next read at a frame boundary.
    hint: usize,
    /// Bytes of a discarded (unknown) frame still to skip.
    skip: usize,
    block: Option<Block>,
    /// Bytes of the client preface still to check.
    preface_left: usize,
    /// Server side, before the first frame: it must be SETTINGS (RFC 9113 §3.4).
    want_settings: bool,
    /// The connection error that killed the reader.
    dead: Option<(ErrorCode, &'static str)>,
    /// No preface or skip in progress, no open field block, no SETTINGS awaited, not dead or
    /// truncated: a whole buffered frame can take the fast path. Cleared wherever one of those
    /// begins; set again (recomputed) only on the general path, right before a frame is
    /// decoded.
    plain: bool,
    /// The stream ended inside a frame (with this many bytes buffered): every later read
    /// reports it again, and the partial frame's buffer has been given back.
    truncated: Option<usize>,
    /// Frames obliging a reply (PING, SETTINGS without ACK) returned since the last
    /// [`FrameReader::replies_flushed`] (saturating).
    pending_replies: u32,
    /// [`Config::max_pending_replies`], `u32::MAX` when off: the fast path takes such a frame
    /// only while `pending_replies` is below it.
    reply_cap: u32,
}

impl<R: ReadyRead> FrameReader<'static, R> {
    /// A reader with the default [`Config`] and the [`global`] pool.
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// ```
    pub fn new(io: R) -> Self {
        FrameReader::with_config(io, global(), Config::new())
    }
}

impl<'p, R: ReadyRead> FrameReader<'p, R> {
    /// A reader with the default [`Config`] taking its buffers from `pool`.
    ///
    /// ```
    /// let pool = slackwater_h2frame::Pool::new();
    /// let r = slackwater_h2frame::FrameReader::with_pool(
    ///     slackwater_ready::Buffered::new(std::io::empty()), &pool);
    /// ```
    pub fn with_pool(io: R, pool: &'p Pool) -> Self {
        FrameReader::with_config(io, pool, Config::new())
    }

    /// A reader with `cfg`, taking its buffers from `pool`.
    ///
    /// ```
    /// use slackwater_h2frame::{Config, FrameReader, global};
    /// let r = FrameReader::with_config(slackwater_ready::Buffered::new(std::io::empty()),
    ///                                  global(), Config::new().expect_client_preface(true));
    /// ```
    pub fn with_config(io: R, pool: &'p Pool, cfg: Config) -> Self {
        FrameReader {
            io,
            pool,
            hint: cfg.read_buffer_size,
            preface_left: if cfg.expect_preface {
                CLIENT_PREFACE.len()
            } else {
                0
            },
            want_settings: cfg.expect_preface,
            plain: !cfg.expect_preface,
            reply_cap: cfg.max_pending_replies.unwrap_or(u32::MAX),
            cfg,
            cur: Held::Empty,
            skip: 0,
            block: None,
            dead: None,
            truncated: None,
            pending_replies: 0,
        }
    }

    /// Changes our `SETTINGS_MAX_FRAME_SIZE`; it applies from the next frame header read.
    /// (When lowering it, RFC 9113 §6.5.3 says to keep accepting the old size until the
    /// peer ACKs our SETTINGS: call this after the ACK.)
    ///
    /// # Errors
    /// [`Error::Invalid`] outside 16,384..=16,777,215.
    ///
    /// ```
    /// let mut r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// r.set_max_frame_size(1 << 20).unwrap();
    /// assert!(r.set_max_frame_size(1).is_err());
    /// ```
    pub fn set_max_frame_size(&mut self, v: u32) -> Result<(), Error> {
        self.cfg = self.cfg.clone().max_frame_size(v)?;
        Ok(())
    }

    /// Blocks until a whole frame is available and returns it; `Ok(None)` at a clean end of
    /// stream (between frames).
    ///
    /// # Errors
    /// [`Error::Protocol`] / [`Error::BadPreface`] for RFC 9113 violations (with code and
    /// scope), [`Error::UnexpectedEof`] if the stream ends inside a frame, [`Error::Io`] and
    /// [`Error::Pool`].
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
        self.next_frame(true)
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
        self.next_frame(false)
    }

    /// Tells the reader that the replies owed so far (PING ACKs, SETTINGS ACKs) have been
    /// written out: the count that [`Config::max_pending_replies`] caps starts again from 0.
    /// An event loop calls this after its writer flushed the ACKs for every PING and SETTINGS
    /// it has read.
    ///
    /// ```
    /// use slackwater_h2frame::{Config, Frame, FrameReader, global};
    /// let ping = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    /// let wire = [ping; 100].concat();
    /// let cfg = Config::new().max_pending_replies(Some(2));
    /// let mut r = FrameReader::with_config(slackwater_ready::Buffered::new(&wire[..]), global(), cfg);
    /// while let Some(f) = r.read_frame().unwrap() {
    ///     assert!(matches!(f, Frame::Ping(_)));
    ///     // ... write the PING ACK and flush the writer, then:
    ///     r.replies_flushed();
    /// }
    /// assert_eq!(r.pending_replies(), 0);
    /// ```
    #[inline]
    pub fn replies_flushed(&mut self) {
        self.pending_replies = 0;
    }

    /// How many frames obliging a reply (a PING or SETTINGS without ACK) were returned since
    /// the last [`replies_flushed`](FrameReader::replies_flushed) (or since the start). It
    /// is counted whether or not [`Config::max_pending_replies`] is set, and stops at
    /// `u32::MAX`.
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
        self.pending_replies
    }

    /// Bytes received and not yet returned as frames.
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// assert_eq!(r.buffered(), 0);
    /// ```
    pub fn buffered(&self) -> usize {
        self.cur.len()
    }

    /// Whether the reader holds a pool buffer now (only while bytes of an incomplete frame,
    /// or of frames not yet read, are buffered).
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// assert!(!r.holds_buffer());
    /// ```
    pub fn holds_buffer(&self) -> bool {
        !matches!(self.cur, Held::Empty)
    }

    /// Whether a field block is open (a HEADERS or PUSH_PROMISE without END_HEADERS was read
    /// and its last CONTINUATION has not).
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// assert!(!r.in_header_block());
    /// ```
    pub fn in_header_block(&self) -> bool {
        self.block.is_some()
    }

    /// The configuration.
    ///
    /// ```
    /// let r = slackwater_h2frame::FrameReader::new(slackwater_ready::Buffered::new(std::io::empty()));
    /// assert_eq!(r.config().get_max_frame_size(), 16_384);
    /// ```
    pub fn config(&self) -> &Config {
        &self.cfg
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

    /// The transport, mutably (reading from it directly desynchronizes the reader).
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

    fn fail(&mut self, e: Error) -> Error {
        if e.is_connection_error() {
            self.plain = false;
            self.dead = Some((e.code().unwrap_or(ErrorCode::PROTOCOL_ERROR), e.reason()));
            // Nothing more will be read: give the buffer back now.
            self.cur = Held::Empty;
        }
        e
    }

    /// The stream ended inside a frame: give the partial frame's buffer back and stay ended.
    fn eof_error(&mut self) -> Error {
        let buffered = self.cur.len();
        self.cur = Held::Empty;
        self.plain = false;
        self.truncated = Some(buffered);
        Error::UnexpectedEof { buffered }
    }

    /// The fast path: in the plain state, a frame that is wholly buffered, needs no view and
    /// no connection state, and that [`check_header`] accepts is decoded right here; anything
    /// else goes the general way.
    ///
    /// Either way the frame is then built in one place, straight into the return value: a
    /// frame built in two places would be built into a temporary and moved, and moving a value
    /// just written field by field costs a store-forwarding stall.
    #[inline(always)]
    fn next_frame(&mut self, blocking: bool) -> Result<Option<Frame>, Error> {
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
        let b = self.cur.bytes();
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
        let simple = match h.kind {
            kind::HEADERS => h.flags & flags::END_HEADERS != 0 && len <= self.cfg.max_header_block,
            kind::PUSH_PROMISE | kind::CONTINUATION => false,
            kind::PING | kind::SETTINGS => {
                h.flags & flags::ACK != 0 || self.pending_replies < self.reply_cap
            }
            k => k < kind::CONTINUATION,
        };
        simple
            && !wants_view(len, self.cur.capacity(), self.cfg.copy_out_ratio)
            && check_header(h, self.cfg.max_frame_size).is_ok()
    }

    /// The general path: the preface, skipped frames, reads; then the next frame's header,
    /// checked (size, sequencing, server rules), with the whole frame buffered.
    #[inline(never)]
    fn next_header(&mut self, blocking: bool) -> Result<Option<(FrameHeader, usize)>, Error> {
        if let Some(buffered) = self.truncated {
            return Err(Error::UnexpectedEof { buffered });
        }
        if let Some((code, reason)) = self.dead {
            return Err(Error::Protocol {
                code,
                scope: Scope::Connection,
                reason,
            });
        }
        loop {
            if self.preface_left > 0 {
                if self.cur.len() == 0 && !self.fill(1, blocking)? {
                    if self.preface_left == CLIENT_PREFACE.len() {
                        return Ok(None);
                    }
                    return Err(Error::UnexpectedEof {
                        buffered: CLIENT_PREFACE.len() - self.preface_left,
                    });
                }
                let done = CLIENT_PREFACE.len() - self.preface_left;
                let got = self.cur.bytes();
                let n = got.len().min(self.preface_left);
                if got[..n] != CLIENT_PREFACE[done..done + n] {
                    let http1 = looks_like_http1(done, got);
                    self.cur = Held::Empty;
                    let e = Error::BadPreface { http1 };
                    self.plain = false;
                    self.dead = Some((ErrorCode::PROTOCOL_ERROR, e.reason()));
                    return Err(e);
                }
                self.cur.consume(n);
                self.preface_left -= n;
                continue;
            }
            if self.skip > 0 {
                if self.cur.len() == 0 && !self.fill(1, blocking)? {
                    return Err(self.eof_error());
                }
                let n = self.cur.len().min(self.skip);
                self.cur.consume(n);
                self.skip -= n;
                continue;
            }
            if self.cur.len() < FRAME_HEADER_LEN && !self.fill(FRAME_HEADER_LEN, blocking)? {
                if self.cur.len() == 0 {
                    return Ok(None);
                }
                return Err(self.eof_error());
            }
            let Some(h) = FrameHeader::parse(self.cur.bytes()) else {
                continue; // unreachable: `fill` returned with 9 bytes
            };
            // The frame size first (RFC 9113 §4.2), then the field-block sequencing.
            if let Err(e) = check_header(h, self.cfg.max_frame_size) {
                return Err(self.fail(e));
            }
            if let Err(e) = self.check_sequence(h) {
                return Err(self.fail(e));
            }
            self.want_settings = false;
            let len = h.length as usize;
            if h.kind > kind::CONTINUATION && !self.cfg.surface_unknown {
                // Discard the payload as it arrives, without buffering it.
                self.cur.consume(FRAME_HEADER_LEN);
                self.skip = len;
                self.plain = false;
                continue;
            }
            let n = FRAME_HEADER_LEN + len;
            if self.cur.len() < n && !self.fill(n, blocking)? {
                return Err(self.eof_error());
            }
            self.open_or_close_block(h);
            return Ok(Some((h, n)));
        }
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
                    || b.bytes.saturating_add(h.length as usize) > self.cfg.max_header_block
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
                if h.length as usize > self.cfg.max_header_block =>
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

    /// Field block state for a frame about to be decoded (the caps were checked from the
    /// header), and the fast-path flag. Every error a HEADERS, PUSH_PROMISE or CONTINUATION
    /// payload can have is a connection error, after which this state no longer matters.
    fn open_or_close_block(&mut self, h: FrameHeader) {
        let end_headers = h.flags & flags::END_HEADERS != 0;
        match h.kind {
            kind::HEADERS | kind::PUSH_PROMISE if !end_headers => {
                self.block = Some(Block {
                    stream_id: h.stream_id,
                    continuations: 0,
                    bytes: h.length as usize,
                });
            }
            kind::CONTINUATION => {
                if end_headers {
                    self.block = None;
                } else if let Some(b) = &mut self.block {
                    b.continuations += 1;
                    b.bytes += h.length as usize;
                }
            }
            _ => {}
        }
        self.plain = self.truncated.is_none()
            && self.dead.is_none()
            && self.preface_left == 0
            && self.skip == 0
            && self.block.is_none()
            && !self.want_settings;
    }

    /// Decodes the frame of `n` bytes at the front of `cur` (whose header has been checked)
    /// and consumes it.
    #[inline(always)]
    fn decode_buffered(&mut self, h: FrameHeader, n: usize) -> Result<Option<Frame>, Error> {
        let mut src = HeldSrc {
            cap: self.cur.capacity(),
            cur: &mut self.cur,
            dead: &mut self.dead,
            plain: &mut self.plain,
            hint: &mut self.hint,
            pending_replies: &mut self.pending_replies,
            read_buffer_size: self.cfg.read_buffer_size,
            end: n,
            ratio: self.cfg.copy_out_ratio,
        };
        // The frame is built straight into the return value and not looked at again here:
        // moving a value just written field by field costs a store-forwarding stall. The
        // bookkeeping after it (consuming the frame, errors) is `src`'s drop.
        decode_body(h, &mut src, self.cfg.reject_nonzero_padding)
    }

    /// Makes `cur` hold at least `n` bytes. `Ok(false)`: the transport reached its end first.
    fn fill(&mut self, n: usize, blocking: bool) -> Result<bool, Error> {
        while self.cur.len() < n {
            if self.cur.len() == 0 {
                let size = self.hint.max(n);
                let got = if blocking {
                    self.io.read_on_ready(size, self.pool)
                } else {
                    self.io.try_read_ready(size, self.pool)
                };
                match got {
                    Ok(Some(b)) => self.cur = Held::Owned(b),
                    Ok(None) => return Ok(false),
                    Err(e) => return Err(Error::Io(e)),
                }
                continue;
            }
            self.make_room(n)?;
            let small = n <= self.cfg.read_buffer_size / 2;
            let want = n - self.cur.len();
            let r = match &mut self.cur {
                Held::Owned(b) => {
                    let max = if small { b.spare_capacity() } else { want };
                    self.io.try_append_ready(b, max)
                }
                _ => Ok(0),
            };
            let got = match r {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // About to wait holding a partial frame: keep only what it needs.
                    self.shrink(n)?;
                    if !blocking {
                        return Err(Error::Io(e));
                    }
                    self.make_room(n)?;
                    match &mut self.cur {
                        Held::Owned(b) => {
                            let max = if small { b.spare_capacity() } else { want };
                            self.io.append_on_ready(b, max)
                        }
                        _ => Ok(0),
                    }
                }
                r => r,
            };
            match got {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
        Ok(true)
    }

    /// Makes `cur` an owned buffer that can take more of the frame of `n` bytes (header
    /// included) at its front: room for all of it, or (a large frame growing as it arrives)
    /// room for some of it.
    ///
    /// A buffer that holds the frame is kept (compacted if its free space is at the front).
    /// A frame larger than half a read buffer grows with the bytes that arrive: its buffer is
    /// replaced only when it is full (or smaller than a read buffer, as after a wait in a
    /// small class), by one of `min(n, max(2 × received, read size))`. A peer that announces
    /// a large frame and goes quiet pins at most twice what it sent, or one read buffer, and
    /// a frame dribbled in small pieces costs O(log n) buffers and copies, not one per piece.
    fn make_room(&mut self, n: usize) -> Result<(), Error> {
        let have = self.cur.len();
        let rbs = self.cfg.read_buffer_size;
        if let Held::Owned(b) = &mut self.cur {
            let cap = b.capacity();
            if cap >= n || (have < cap && cap >= n.min(rbs)) {
                if b.spare_capacity() < n.min(cap) - have {
                    b.compact();
                }
                return Ok(());
            }
        }
        let size = if n <= rbs / 2 {
            rbs
        } else {
            n.min(have.saturating_mul(2).max(rbs))
        };
        self.restitch(size)
    }

    /// Moves the buffered bytes into a fresh buffer of at least `size` bytes.
    fn restitch(&mut self, size: usize) -> Result<(), Error> {
        let mut nb = self.pool.get(size.max(self.cur.len()))?;
        if nb.extend_from_slice(self.cur.bytes()).is_err() {
            return Err(Error::Invalid("internal: stitch buffer too small"));
        }
        self.cur = Held::Owned(nb);
        Ok(())
    }

    /// Before a wait: if the partial frame sits in a buffer of a larger class than the frame
    /// needs, move it into the smallest one that holds the frame.
    fn shrink(&mut self, n: usize) -> Result<(), Error> {
        let need = class_capacity(self.pool, n);
        if self.cur.capacity() > need && self.cur.len() > 0 {
            self.restitch(n)?;
        }
        Ok(())
    }
}

/// The size of the next read at a frame boundary, after a frame of `n` bytes (header
/// included) ended exactly at the end of the buffered bytes. A frame of more than half a read
/// buffer suggests more of the same size: the next read asks for exactly that many bytes, so
/// it ends on a frame boundary again and each such frame has its buffer to itself (its payload
/// is a view, and no partial frame has to be copied out of a buffer a view pins). Never more
/// than `read_buffer_size`: a frame larger than one read buffer is grown from one as its bytes
/// arrive, and the read after it (a PING, say) does not ask the pool for the size of a frame
/// that may never come again.
#[inline]
fn next_read_size(n: usize, read_buffer_size: usize) -> usize {
    if n > read_buffer_size / 2 {
        n.min(read_buffer_size)
    } else {
        read_buffer_size
    }
}

/// Whether a frame obliges the receiver to reply: a PING or SETTINGS without ACK (RFC 9113
/// §6.5.3, §6.7).
#[inline(always)]
fn wants_reply(h: FrameHeader) -> bool {
    matches!(h.kind, kind::PING | kind::SETTINGS) && h.flags & flags::ACK == 0
}

/// The capacity `pool.get(n)` would give.
fn class_capacity(pool: &Pool, n: usize) -> usize {
    pool.config().capacity_for(n)
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

impl<R> std::fmt::Debug for FrameReader<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.cur.len())
            .field("in_header_block", &self.block.is_some())
            .field("dead", &self.dead)
            .finish()
    }
}
