//! [`FrameReader`]: frames from any [`ReadyRead`], holding a buffer only while bytes wait.

use crate::decode::{Layout, Src, build, check_header, parse};
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
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// The defaults: max frame size 16,384; 32 KiB reads; unknown frames discarded; at most
    /// 64 CONTINUATION frames and 256 KiB of header block per field block; non-zero padding
    /// accepted; no client preface expected; copy-out ratio 16.
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
    /// `bytes` bytes of header block fragments (HEADERS/PUSH_PROMISE included) per field
    /// block; more is a connection `ENHANCE_YOUR_CALM`, detected from the frame header
    /// before its payload is read.
    ///
    /// ```
    /// let c = slackwater_h2frame::Config::new().continuation_limits(8, 64 * 1024);
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

    /// Server side: check the 24-byte client connection preface before the first frame.
    ///
    /// ```
    /// let c = slackwater_h2frame::Config::new().expect_client_preface(true);
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
    #[inline]
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

/// An open field block: HEADERS/PUSH_PROMISE without END_HEADERS, then CONTINUATIONs.
#[derive(Clone, Copy, Debug)]
struct Block {
    stream_id: u32,
    continuations: u32,
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
///   copied once into a buffer of the frame's size and the rest read into that. Large frames
///   are read exactly, so the next read starts on a frame boundary.
/// * The frame size is checked against [`Config::max_frame_size`] from the 9-byte header,
///   before any of the payload is read; no buffer is ever larger than
///   `max(read_buffer_size, max_frame_size + 9)`.
/// * Before waiting in the middle of a frame, the received part moves into the smallest pool
///   class that holds the frame (so a 9-byte partial header does not keep a 32 KiB buffer).
///
/// # Validation
/// Every frame is checked per RFC 9113 §4–§6 (lengths, stream ids, padding, SETTINGS values,
/// WINDOW_UPDATE increments), plus CONTINUATION sequencing and the flood cap
/// ([`Config::continuation_limits`]). Errors carry the HTTP/2 code and [`Scope`]. After a
/// connection error the reader is dead (every later call returns that error again); after a
/// stream error the frame has been consumed and reading can go on. Stream *state* (idle,
/// closed, id parity and ordering, flow control) is the connection layer's job, not the
/// reader's.
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
    /// The connection error that killed the reader.
    dead: Option<(ErrorCode, &'static str)>,
    /// The stream ended inside a frame (with this many bytes buffered): every later read
    /// reports it again, and the partial frame's buffer has been given back.
    truncated: Option<usize>,
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
            cfg,
            cur: Held::Empty,
            skip: 0,
            block: None,
            dead: None,
            truncated: None,
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
    pub fn try_read_frame(&mut self) -> Result<Option<Frame>, Error> {
        self.next_frame(false)
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
        self.truncated = Some(buffered);
        Error::UnexpectedEof { buffered }
    }

    fn next_frame(&mut self, blocking: bool) -> Result<Option<Frame>, Error> {
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
            if let Err(e) = check_header(&h, self.cfg.max_frame_size) {
                return Err(self.fail(e));
            }
            if let Err(e) = self.check_sequence(&h) {
                return Err(self.fail(e));
            }
            let len = h.length as usize;
            if h.kind > kind::CONTINUATION && !self.cfg.surface_unknown {
                // Discard the payload as it arrives, without buffering it.
                self.cur.consume(FRAME_HEADER_LEN);
                self.skip = len;
                continue;
            }
            let n = FRAME_HEADER_LEN + len;
            if self.cur.len() < n && !self.fill(n, blocking)? {
                return Err(self.eof_error());
            }
            return self.finish(&h, n);
        }
    }

    /// CONTINUATION sequencing and the flood cap, from the header alone.
    fn check_sequence(&self, h: &FrameHeader) -> Result<(), Error> {
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
            (None, _) => Ok(()),
        }
    }

    /// Parses the complete frame of `n` bytes at the front of `cur` and consumes it.
    #[inline]
    fn finish(&mut self, h: &FrameHeader, n: usize) -> Result<Option<Frame>, Error> {
        let parsed = parse(
            h,
            &self.cur.bytes()[FRAME_HEADER_LEN..n],
            self.cfg.max_frame_size,
            self.cfg.reject_nonzero_padding,
        );
        let layout: Layout = match parsed {
            Ok(l) => l,
            Err(e) => {
                self.cur.consume(n);
                return Err(self.fail(e));
            }
        };
        let len = h.length as usize;
        let cap = self.cur.capacity();
        let ratio = self.cfg.copy_out_ratio;
        if matches!(self.cur, Held::Owned(_))
            && layout.needs_view(len, cap, ratio)
            && let Held::Owned(b) = std::mem::replace(&mut self.cur, Held::Empty)
        {
            self.cur = Held::Frozen(b.freeze());
        }
        let frag = layout.fragment_len(len);
        let frame = match &self.cur {
            Held::Frozen(s) => build(
                h,
                layout,
                &Src::Shared {
                    buf: s,
                    base: FRAME_HEADER_LEN,
                },
                cap,
                ratio,
            ),
            held => build(
                h,
                layout,
                &Src::Slice(&held.bytes()[FRAME_HEADER_LEN..n]),
                cap,
                ratio,
            ),
        };
        self.cur.consume(n);
        if self.cur.len() == 0 {
            // Next boundary read: a large frame suggests more of the same size, read exactly.
            self.hint = if n > self.cfg.read_buffer_size / 2 {
                n
            } else {
                self.cfg.read_buffer_size
            };
        }
        // Field block state.
        match &frame {
            Frame::Headers(Headers { end_headers, .. })
            | Frame::PushPromise(PushPromise { end_headers, .. }) => {
                if frag > self.cfg.max_header_block {
                    return Err(self.fail(Error::conn(
                        ErrorCode::ENHANCE_YOUR_CALM,
                        "header block over the configured limit",
                    )));
                }
                if !end_headers {
                    self.block = Some(Block {
                        stream_id: h.stream_id,
                        continuations: 0,
                        bytes: frag,
                    });
                }
            }
            Frame::Continuation(c) => {
                if c.end_headers {
                    self.block = None;
                } else if let Some(b) = &mut self.block {
                    b.continuations += 1;
                    b.bytes += frag;
                }
            }
            _ => {}
        }
        Ok(Some(frame))
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

    /// Makes `cur` an owned buffer with room for `n` bytes in all.
    fn make_room(&mut self, n: usize) -> Result<(), Error> {
        let have = self.cur.len();
        if let Held::Owned(b) = &mut self.cur
            && b.capacity() >= n
        {
            if b.spare_capacity() < n - have {
                b.compact();
            }
            return Ok(());
        }
        let size = if n <= self.cfg.read_buffer_size / 2 {
            self.cfg.read_buffer_size
        } else {
            // Grow with the bytes actually received (at most doubling), so a peer that
            // announces a large frame and goes quiet pins little: at most twice what it sent,
            // or one read buffer.
            n.min(have.saturating_mul(2).max(self.cfg.read_buffer_size))
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

/// The capacity `pool.get(n)` would give.
fn class_capacity(pool: &Pool, n: usize) -> usize {
    pool.config()
        .class_sizes()
        .iter()
        .copied()
        .find(|&c| c >= n)
        .unwrap_or(n)
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
