//! [`Config`] and [`ConfigBuilder`]: the settings of a [`FrameReader`](crate::FrameReader) (and
//! of a [`Decoder`](crate::Decoder)).

use crate::Error;
use crate::frame::{DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT};

/// The least [`ConfigBuilder::read_buffer_size`] accepts.
const MIN_READ_BUFFER_SIZE: usize = 64;

/// Settings of a [`FrameReader`](crate::FrameReader), checked: made by
/// [`Config::builder`]`()…`[`build()`](ConfigBuilder::build), which checks every value, or
/// [`Config::new`] / `Default` for the defaults. The getters have the setters' names.
///
/// ```
/// use slackwater_h2frame::Config;
/// let cfg = Config::builder()
///     .max_frame_size(1 << 20)        // what we advertised in SETTINGS_MAX_FRAME_SIZE
///     .expect_client_preface(true)    // we are the server
///     .surface_unknown_frames(false)  // the default: discard them (RFC 9113 §4.1)
///     .build()
///     .unwrap();
/// assert_eq!(cfg.max_frame_size(), 1 << 20);
/// assert!(cfg.expect_client_preface());
/// assert!(Config::builder().max_frame_size(1 << 24).build().is_err()); // out of range
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub(crate) max_frame_size: u32,
    pub(crate) read_buffer_size: u32,
    pub(crate) surface_unknown: bool,
    pub(crate) max_continuations: u32,
    pub(crate) max_header_block: u32,
    pub(crate) reject_nonzero_padding: bool,
    pub(crate) expect_preface: bool,
    pub(crate) copy_out_ratio: u32,
    pub(crate) max_pending_replies: Option<u32>,
}

impl Default for Config {
    /// [`Config::new`].
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::Config::default(), slackwater_h2frame::Config::new());
    /// ```
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// The defaults: max frame size 16,384; 32 KiB reads; unknown frames discarded; at most
    /// 64 CONTINUATION frames and 256 KiB of header block per field block; non-zero padding
    /// accepted; no client preface expected; copy-out ratio 16; no cap on frames awaiting a
    /// reply ([`ConfigBuilder::max_pending_replies`]).
    ///
    /// ```
    /// let c = slackwater_h2frame::Config::new();
    /// assert_eq!((c.max_frame_size(), c.read_buffer_size()), (16_384, 32 * 1024));
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

    /// A builder starting from the defaults ([`Config::new`]).
    ///
    /// ```
    /// let c = slackwater_h2frame::Config::builder().copy_out_ratio(4).build().unwrap();
    /// assert_eq!(c.copy_out_ratio(), 4);
    /// ```
    pub const fn builder() -> ConfigBuilder {
        ConfigBuilder { cfg: Config::new() }
    }

    /// A builder starting from this configuration (to change a few values of it).
    ///
    /// ```
    /// use slackwater_h2frame::Config;
    /// let server = Config::builder().expect_client_preface(true).build().unwrap();
    /// let big = server.to_builder().max_frame_size(1 << 20).build().unwrap();
    /// assert!(big.expect_client_preface() && big.max_frame_size() == 1 << 20);
    /// ```
    pub const fn to_builder(&self) -> ConfigBuilder {
        ConfigBuilder {
            cfg: Config { ..*self },
        }
    }

    /// Our `SETTINGS_MAX_FRAME_SIZE` ([`ConfigBuilder::max_frame_size`]).
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::Config::new().max_frame_size(), 16_384);
    /// ```
    pub const fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// Bytes asked for by a read at a frame boundary ([`ConfigBuilder::read_buffer_size`]).
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::Config::new().read_buffer_size(), 32 * 1024);
    /// ```
    pub const fn read_buffer_size(&self) -> usize {
        self.read_buffer_size as usize
    }

    /// Whether unknown frame types are returned ([`ConfigBuilder::surface_unknown_frames`]).
    ///
    /// ```
    /// assert!(!slackwater_h2frame::Config::new().surface_unknown_frames());
    /// ```
    pub const fn surface_unknown_frames(&self) -> bool {
        self.surface_unknown
    }

    /// The CONTINUATION flood cap: (frames, bytes) per field block
    /// ([`ConfigBuilder::continuation_limits`]).
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::Config::new().continuation_limits(), (64, 256 * 1024));
    /// ```
    pub const fn continuation_limits(&self) -> (u32, usize) {
        (self.max_continuations, self.max_header_block as usize)
    }

    /// Whether non-zero padding is refused ([`ConfigBuilder::reject_nonzero_padding`]).
    ///
    /// ```
    /// assert!(!slackwater_h2frame::Config::new().reject_nonzero_padding());
    /// ```
    pub const fn reject_nonzero_padding(&self) -> bool {
        self.reject_nonzero_padding
    }

    /// Whether the reader is a server's ([`ConfigBuilder::expect_client_preface`]).
    ///
    /// ```
    /// assert!(!slackwater_h2frame::Config::new().expect_client_preface());
    /// ```
    pub const fn expect_client_preface(&self) -> bool {
        self.expect_preface
    }

    /// The copy-out ratio ([`ConfigBuilder::copy_out_ratio`]).
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::Config::new().copy_out_ratio(), 16);
    /// ```
    pub const fn copy_out_ratio(&self) -> usize {
        self.copy_out_ratio as usize
    }

    /// The cap on frames awaiting a reply ([`ConfigBuilder::max_pending_replies`]).
    ///
    /// ```
    /// use slackwater_h2frame::Config;
    /// assert_eq!(Config::new().max_pending_replies(), None);
    /// let c = Config::builder().max_pending_replies(Some(10_000)).build().unwrap();
    /// assert_eq!(c.max_pending_replies(), Some(10_000));
    /// ```
    pub const fn max_pending_replies(&self) -> Option<u32> {
        self.max_pending_replies
    }
}

/// Builds a [`Config`]: every setter takes its value as it is, and
/// [`build`](ConfigBuilder::build) checks them all.
///
/// ```
/// use slackwater_h2frame::{Config, Error};
/// let e = Config::builder().read_buffer_size(10).build().unwrap_err();
/// assert!(matches!(e, Error::Invalid(_)));
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build()`"]
pub struct ConfigBuilder {
    cfg: Config,
}

impl Default for ConfigBuilder {
    /// [`Config::builder`].
    ///
    /// ```
    /// let c = slackwater_h2frame::ConfigBuilder::default().build().unwrap();
    /// assert_eq!(c, slackwater_h2frame::Config::new());
    /// ```
    fn default() -> Self {
        Config::builder()
    }
}

impl ConfigBuilder {
    /// Our `SETTINGS_MAX_FRAME_SIZE`, 16,384..=16,777,215 (checked by
    /// [`build`](ConfigBuilder::build)): larger frames are a connection `FRAME_SIZE_ERROR`,
    /// decided from the 9-byte header before any of the payload is read or a buffer for it
    /// taken. No read buffer ever exceeds `max(read_buffer_size, this + 9)`.
    ///
    /// ```
    /// use slackwater_h2frame::Config;
    /// assert!(Config::builder().max_frame_size(1 << 24).build().is_err());
    /// assert!(Config::builder().max_frame_size(16_383).build().is_err());
    /// ```
    pub const fn max_frame_size(mut self, v: u32) -> Self {
        self.cfg.max_frame_size = v;
        self
    }

    /// How many bytes one read from the transport asks for at a frame boundary (at least 64,
    /// checked by [`build`](ConfigBuilder::build); default 32 KiB). A frame larger than this
    /// is read into a buffer of its own size.
    ///
    /// ```
    /// let c = slackwater_h2frame::Config::builder().read_buffer_size(16 * 1024).build().unwrap();
    /// assert_eq!(c.read_buffer_size(), 16 * 1024);
    /// ```
    pub const fn read_buffer_size(mut self, n: usize) -> Self {
        self.cfg.read_buffer_size = saturate(n);
        self
    }

    /// Return frames of unknown types as [`Frame::Unknown`](crate::Frame::Unknown) instead
    /// of discarding them.
    ///
    /// ```
    /// let c = slackwater_h2frame::Config::builder().surface_unknown_frames(true).build().unwrap();
    /// assert!(c.surface_unknown_frames());
    /// ```
    pub const fn surface_unknown_frames(mut self, on: bool) -> Self {
        self.cfg.surface_unknown = on;
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
    /// let cfg = Config::builder().continuation_limits(8, 4096).build().unwrap();
    /// // A HEADERS header announcing 5,000 bytes, and nothing else: refused from 9 bytes.
    /// let wire = [0, 0x13, 0x88, 1, 4, 0, 0, 0, 1];
    /// let mut r = FrameReader::with_config(slackwater_ready::Buffered::new(&wire[..]), global(), cfg);
    /// assert_eq!(r.read_frame().unwrap_err().code(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    /// ```
    pub const fn continuation_limits(mut self, frames: u32, bytes: usize) -> Self {
        self.cfg.max_continuations = frames;
        self.cfg.max_header_block = saturate(bytes);
        self
    }

    /// Treat non-zero padding as a connection `PROTOCOL_ERROR` (RFC 9113 §6.1 "MAY").
    ///
    /// ```
    /// let c = slackwater_h2frame::Config::builder().reject_nonzero_padding(true).build().unwrap();
    /// assert!(c.reject_nonzero_padding());
    /// ```
    pub const fn reject_nonzero_padding(mut self, on: bool) -> Self {
        self.cfg.reject_nonzero_padding = on;
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
    /// let cfg = Config::builder().expect_client_preface(true).build().unwrap();
    /// let mut r = FrameReader::with_config(slackwater_ready::Buffered::new(&wire[..]), global(), cfg);
    /// let e = r.read_frame().unwrap_err(); // the first frame must be SETTINGS
    /// assert_eq!(e.code(), Some(ErrorCode::PROTOCOL_ERROR));
    /// assert!(e.is_connection_error());
    /// ```
    pub const fn expect_client_preface(mut self, on: bool) -> Self {
        self.cfg.expect_preface = on;
        self
    }

    /// The copy-out rule for payloads above [`Payload::INLINE_MAX`](crate::Payload::INLINE_MAX):
    /// a payload is a zero-copy view only if `len × ratio ≥ capacity of its buffer`; otherwise
    /// it is copied to the heap, so a kept payload never pins more than `ratio` times its own
    /// size (at least 1, checked by [`build`](ConfigBuilder::build); default 16). A 16 KiB
    /// DATA payload in a 32 KiB read buffer is a view; a 1 KiB one is copied.
    ///
    /// ```
    /// use slackwater_h2frame::Config;
    /// assert_eq!(Config::builder().copy_out_ratio(4).build().unwrap().copy_out_ratio(), 4);
    /// assert!(Config::builder().copy_out_ratio(0).build().is_err());
    /// ```
    pub const fn copy_out_ratio(mut self, ratio: usize) -> Self {
        self.cfg.copy_out_ratio = saturate(ratio);
        self
    }

    /// The PING / SETTINGS flood cap: at most `cap` frames that oblige us to send a reply
    /// (a PING without ACK: a PING ACK; a SETTINGS without ACK: a SETTINGS ACK) are returned
    /// between two calls of [`FrameReader::replies_flushed`](crate::FrameReader::replies_flushed)
    /// (made for you when the reader's own transport flushes everything:
    /// [`FrameReader`'s `ReadyWrite`](crate::FrameReader#writing-through-the-reader)); the next
    /// one is a connection `ENHANCE_YOUR_CALM`, decided from its 9-byte header before its
    /// payload is read. ACKs are not counted. `None` (the default) turns the cap off.
    ///
    /// This is the reader's form of Go's "too many queued control frames" limit: a peer that
    /// sends PINGs or SETTINGS faster than we can write the ACKs makes the replies pile up in
    /// the output. The count is the number of replies not yet flushed, and the cap bounds it.
    ///
    /// Off by default because it is a connection-level policy that needs the flush to be
    /// reported: a reader whose owner never flushes through it nor calls `replies_flushed`
    /// would count every keep-alive PING of a long-lived connection and eventually refuse a
    /// well-behaved peer. The event loop that writes the ACKs turns it on. A cap of
    /// **10,000** (Go's `maxQueuedControlFrames`) is a reasonable choice; `Some(0)` refuses
    /// every PING and SETTINGS that wants a reply.
    ///
    /// ```
    /// use slackwater_h2frame::{Config, ErrorCode, Frame, FrameReader, global};
    /// let ping = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    /// let wire = [ping; 3].concat();
    /// let cfg = Config::builder().max_pending_replies(Some(2)).build().unwrap();
    /// let mut r = FrameReader::with_config(slackwater_ready::Buffered::new(&wire[..]), global(), cfg);
    /// assert!(matches!(r.read_frame().unwrap(), Some(Frame::Ping(_))));
    /// assert!(matches!(r.read_frame().unwrap(), Some(Frame::Ping(_))));
    /// // Two PING ACKs are owed and were never flushed: the third PING is refused.
    /// let e = r.read_frame().unwrap_err();
    /// assert_eq!(e.code(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    /// assert!(e.is_connection_error());
    /// ```
    pub const fn max_pending_replies(mut self, cap: Option<u32>) -> Self {
        self.cfg.max_pending_replies = cap;
        self
    }

    /// Checks every value and returns the configuration.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the max frame size is outside 16,384..=16,777,215, the read
    /// buffer size below 64, or the copy-out ratio 0.
    ///
    /// ```
    /// use slackwater_h2frame::Config;
    /// assert_eq!(Config::builder().build().unwrap(), Config::new());
    /// ```
    pub const fn build(self) -> Result<Config, Error> {
        let c = self.cfg;
        if c.max_frame_size < DEFAULT_MAX_FRAME_SIZE || c.max_frame_size > MAX_FRAME_SIZE_LIMIT {
            return Err(Error::Invalid("max frame size outside 16384..=16777215"));
        }
        if c.read_buffer_size() < MIN_READ_BUFFER_SIZE {
            return Err(Error::Invalid("read buffer size below 64"));
        }
        if c.copy_out_ratio == 0 {
            return Err(Error::Invalid("copy-out ratio 0 (it must be at least 1)"));
        }
        Ok(c)
    }
}

/// Checks a max frame size (16,384..=16,777,215).
pub(crate) fn check_max_frame_size(v: u32) -> Result<(), Error> {
    if !(DEFAULT_MAX_FRAME_SIZE..=MAX_FRAME_SIZE_LIMIT).contains(&v) {
        return Err(Error::Invalid("max frame size outside 16384..=16777215"));
    }
    Ok(())
}

/// `n`, or `u32::MAX` if larger: sizes and ratios are kept in `u32`s (a `Config` is stored in
/// every frame reader), and no frame, field block or read buffer comes near 4 GiB.
const fn saturate(n: usize) -> u32 {
    if n > u32::MAX as usize {
        u32::MAX
    } else {
        n as u32
    }
}
