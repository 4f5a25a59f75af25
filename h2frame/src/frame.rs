//! Typed frames, the frame header and [`Payload`].

use crate::ErrorCode;
use core::fmt;
use core::ops::Deref;
use slackwater_ready::SharedBuf;

/// Length of the frame header (RFC 9113 §4.1).
pub const FRAME_HEADER_LEN: usize = 9;
/// The initial and smallest legal `SETTINGS_MAX_FRAME_SIZE` (2^14).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest legal `SETTINGS_MAX_FRAME_SIZE` (2^24 − 1).
pub const MAX_FRAME_SIZE_LIMIT: u32 = 16_777_215;
/// The client connection preface (RFC 9113 §3.4), 24 bytes.
pub const CLIENT_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Mask of the 31-bit stream identifier; the top (reserved) bit is ignored on receipt.
pub const STREAM_ID_MASK: u32 = 0x7fff_ffff;

/// Frame type codes (RFC 9113 §6).
///
/// ```
/// assert_eq!(slackwater_h2frame::kind::CONTINUATION, 9);
/// ```
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0x0;
    /// HEADERS.
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY (deprecated by RFC 9113 but still parsed).
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE.
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING.
    pub const PING: u8 = 0x6;
    /// GOAWAY.
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION.
    pub const CONTINUATION: u8 = 0x9;
}

/// Flag bits (RFC 9113 §6). Flags a frame type does not define are ignored on receipt.
///
/// ```
/// assert_eq!(slackwater_h2frame::flags::END_HEADERS, 0x4);
/// ```
pub mod flags {
    /// END_STREAM (DATA, HEADERS).
    pub const END_STREAM: u8 = 0x1;
    /// ACK (SETTINGS, PING).
    pub const ACK: u8 = 0x1;
    /// END_HEADERS (HEADERS, PUSH_PROMISE, CONTINUATION).
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED (DATA, HEADERS, PUSH_PROMISE).
    pub const PADDED: u8 = 0x8;
    /// PRIORITY (HEADERS).
    pub const PRIORITY: u8 = 0x20;
}

/// The 9-byte frame header: 24-bit length (payload only), type, flags, and the 31-bit stream
/// id (the reserved bit is masked off on parse).
///
/// ```
/// use slackwater_h2frame::FrameHeader;
/// let h = FrameHeader::parse(&[0, 0, 8, 6, 1, 0x80, 0, 0, 0]).unwrap();
/// assert_eq!((h.length, h.kind, h.flags, h.stream_id), (8, 6, 1, 0)); // R bit ignored
/// assert_eq!(h.encode(), [0, 0, 8, 6, 1, 0, 0, 0, 0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub length: u32,
    /// Frame type ([`kind`]).
    pub kind: u8,
    /// Raw flags byte.
    pub flags: u8,
    /// Stream identifier (31 bits).
    pub stream_id: u32,
}

impl FrameHeader {
    /// Parses the first 9 bytes of `bytes`, or `None` if there are fewer.
    ///
    /// ```
    /// assert!(slackwater_h2frame::FrameHeader::parse(&[0; 8]).is_none());
    /// ```
    #[inline]
    pub fn parse(bytes: &[u8]) -> Option<FrameHeader> {
        Some(FrameHeader::from_array(bytes.first_chunk()?))
    }

    #[inline(always)]
    pub(crate) fn from_array(h: &[u8; FRAME_HEADER_LEN]) -> FrameHeader {
        FrameHeader {
            length: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: h[3],
            flags: h[4],
            stream_id: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & STREAM_ID_MASK,
        }
    }

    /// The 9 wire bytes (length truncated to 24 bits, stream id to 31 bits).
    ///
    /// ```
    /// let h = slackwater_h2frame::FrameHeader { length: 4, kind: 8, flags: 0, stream_id: 1 };
    /// assert_eq!(h.encode(), [0, 0, 4, 8, 0, 0, 0, 0, 1]);
    /// ```
    #[inline]
    pub fn encode(&self) -> [u8; 9] {
        let l = self.length.to_be_bytes();
        let s = (self.stream_id & STREAM_ID_MASK).to_be_bytes();
        [
            l[1], l[2], l[3], self.kind, self.flags, s[0], s[1], s[2], s[3],
        ]
    }
}

/// Bytes of a frame: DATA, a header block fragment, padding, GOAWAY debug data.
///
/// A payload is one of:
/// * a **zero-copy view** ([`SharedBuf`]) into the pooled read buffer the frame arrived in;
/// * an **inline copy** of at most [`Payload::INLINE_MAX`] bytes (no allocation; it pins no
///   buffer);
/// * a **heap copy**, made by the reader when a view would pin a buffer much larger than
///   itself: a view is only handed out when `len × copy_out_ratio ≥ buffer capacity` (see
///   `Config::copy_out_ratio`, default 16), so what a kept payload pins is bounded by
///   16 × its own size.
///
/// It derefs to `[u8]` in every case.
///
/// ```
/// use slackwater_h2frame::Payload;
/// let p = Payload::from(&b"hello"[..]);
/// assert_eq!(&p[..], b"hello");
/// assert!(p.as_shared().is_none()); // small: copied inline
///
/// let mut b = slackwater_h2frame::global().get(4096).unwrap();
/// b.extend_from_slice(&[7; 4096]).unwrap();
/// let view = Payload::from(b.freeze());
/// assert_eq!(view.as_shared().unwrap().len(), 4096);
/// ```
#[derive(Clone)]
pub struct Payload(Repr);

#[derive(Clone)]
enum Repr {
    Inline {
        len: u8,
        bytes: [u8; Payload::INLINE_MAX],
    },
    Shared(SharedBuf),
    Heap(Box<[u8]>),
}

impl Payload {
    /// Payloads of at most this many bytes are copied into the frame itself (no allocation,
    /// no buffer pinned).
    pub const INLINE_MAX: usize = 38;

    /// An empty payload.
    ///
    /// ```
    /// assert!(slackwater_h2frame::Payload::new().is_empty());
    /// ```
    pub const fn new() -> Payload {
        Payload(Repr::Inline {
            len: 0,
            bytes: [0; Payload::INLINE_MAX],
        })
    }

    /// Copies `bytes`: inline if it fits, else into one heap allocation.
    ///
    /// ```
    /// let p = slackwater_h2frame::Payload::copy_from_slice(&[1; 100]);
    /// assert_eq!(p.len(), 100);
    /// ```
    #[inline]
    pub fn copy_from_slice(bytes: &[u8]) -> Payload {
        if bytes.len() <= Payload::INLINE_MAX {
            let mut inline = [0; Payload::INLINE_MAX];
            inline[..bytes.len()].copy_from_slice(bytes);
            Payload(Repr::Inline {
                len: bytes.len() as u8,
                bytes: inline,
            })
        } else {
            Payload::heap(bytes)
        }
    }

    #[inline(never)]
    fn heap(bytes: &[u8]) -> Payload {
        Payload(Repr::Heap(bytes.into()))
    }

    /// An inline payload of the first `len` (at most [`Payload::INLINE_MAX`]) bytes of
    /// `window`; the rest of the window (the bytes that follow the payload in its buffer) is
    /// stored but never shown. A fixed-size copy: no length-dependent `memcpy`.
    #[inline(always)]
    pub(crate) fn inline_window(window: &[u8; Payload::INLINE_MAX], len: usize) -> Payload {
        debug_assert!(len <= Payload::INLINE_MAX);
        Payload(Repr::Inline {
            len: len as u8,
            bytes: *window,
        })
    }

    /// The zero-copy view, if this payload is one.
    ///
    /// ```
    /// assert!(slackwater_h2frame::Payload::new().as_shared().is_none());
    /// ```
    pub fn as_shared(&self) -> Option<&SharedBuf> {
        match &self.0 {
            Repr::Shared(s) => Some(s),
            _ => None,
        }
    }

    /// The zero-copy view itself, if this payload is one (no copy: the pooled buffer it
    /// views is handed over, to be kept or turned into another owner's type, e.g. a
    /// `bytes::Bytes` through `Bytes::from_owner`); otherwise the payload back.
    ///
    /// # Errors
    /// The payload itself, when it is an inline or heap copy.
    ///
    /// ```
    /// use slackwater_h2frame::Payload;
    /// let mut b = slackwater_h2frame::global().get(4096).unwrap();
    /// b.extend_from_slice(&[7; 4096]).unwrap();
    /// let view = Payload::from(b.freeze());
    /// let shared = view.into_shared().unwrap();
    /// assert_eq!(shared.len(), 4096);
    /// assert!(Payload::from(&b"small"[..]).into_shared().is_err());
    /// ```
    pub fn into_shared(self) -> Result<SharedBuf, Payload> {
        match self.0 {
            Repr::Shared(s) => Ok(s),
            other => Err(Payload(other)),
        }
    }

    /// Whether this payload is a view into a pooled buffer (and so keeps that buffer out of
    /// the pool while it lives).
    ///
    /// ```
    /// assert!(!slackwater_h2frame::Payload::copy_from_slice(b"x").is_view());
    /// ```
    pub fn is_view(&self) -> bool {
        matches!(self.0, Repr::Shared(_))
    }

    /// Bytes of pooled buffer this payload keeps alive: the capacity of the buffer behind a
    /// view, 0 for copies.
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::Payload::copy_from_slice(b"x").pinned_bytes(), 0);
    /// ```
    pub fn pinned_bytes(&self) -> usize {
        match &self.0 {
            Repr::Shared(s) => s.buffer_capacity(),
            _ => 0,
        }
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload::new()
    }
}

impl Deref for Payload {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..*len as usize],
            Repr::Shared(s) => s,
            Repr::Heap(b) => b,
        }
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<&[u8]> for Payload {
    fn from(b: &[u8]) -> Self {
        Payload::copy_from_slice(b)
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= Payload::INLINE_MAX {
            Payload::copy_from_slice(&v)
        } else {
            Payload(Repr::Heap(v.into_boxed_slice()))
        }
    }
}

impl From<SharedBuf> for Payload {
    fn from(s: SharedBuf) -> Self {
        Payload(Repr::Shared(s))
    }
}

/// A DATA (or any) payload as a [`bytes::Bytes`]:
/// * a **view** converts **without a copy**: the `Bytes` points at the payload's bytes in the
///   pooled read buffer (the same pointer) and keeps that buffer out of the pool until its
///   last clone is dropped (like the view itself; see [`Payload::pinned_bytes`]);
/// * a **heap** copy hands its allocation over (no further copy);
/// * an **inline** copy (at most [`Payload::INLINE_MAX`] bytes) is copied once, into a new
///   allocation.
///
/// ```
/// use bytes::Bytes;
/// use slackwater_h2frame::Payload;
/// let mut b = slackwater_h2frame::global().get(4096).unwrap();
/// b.extend_from_slice(&[7; 4096]).unwrap();
/// let view = Payload::from(b.freeze());
/// let at = view.as_ptr();
/// let bytes = Bytes::from(view);
/// assert_eq!(bytes.as_ptr(), at); // no copy
/// assert_eq!(Bytes::from(Payload::from(&b"small"[..])), &b"small"[..]); // copied once
/// ```
#[cfg(feature = "bytes")]
#[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
impl From<Payload> for bytes::Bytes {
    fn from(p: Payload) -> Self {
        match p.0 {
            Repr::Shared(s) => bytes::Bytes::from(s),
            Repr::Heap(b) => bytes::Bytes::from(b),
            Repr::Inline { len, bytes } => bytes::Bytes::copy_from_slice(&bytes[..len as usize]),
        }
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self[..] == other[..]
    }
}

impl Eq for Payload {}

impl PartialEq<[u8]> for Payload {
    fn eq(&self, other: &[u8]) -> bool {
        &self[..] == other
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match self.0 {
            Repr::Inline { .. } => "inline",
            Repr::Shared(_) => "view",
            Repr::Heap(_) => "heap",
        };
        write!(f, "Payload({} bytes, {how}", self.len())?;
        if self.len() <= 16 {
            write!(f, ", {:02x?}", &self[..])?;
        }
        f.write_str(")")
    }
}

/// Priority fields of HEADERS (with the PRIORITY flag) and PRIORITY frames (RFC 9113 §5.3.2,
/// deprecated but still on the wire).
///
/// ```
/// let p = slackwater_h2frame::PrioritySpec { exclusive: true, dependency: 20, weight: 10 };
/// assert_eq!(p.weight, 10); // the wire byte is weight − 1 = 9
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PrioritySpec {
    /// The E bit.
    pub exclusive: bool,
    /// The stream this one depends on (31 bits).
    pub dependency: u32,
    /// The weight, 1..=256 (the wire byte plus one).
    pub weight: u16,
}

/// DATA (RFC 9113 §6.1).
///
/// ```
/// use slackwater_h2frame::{Data, Payload};
/// let d = Data { stream_id: 1, end_stream: true, data: Payload::from(&b"hi"[..]), padding: None };
/// assert_eq!(d.data.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Data {
    /// Stream id (never 0 on a valid frame).
    pub stream_id: u32,
    /// END_STREAM.
    pub end_stream: bool,
    /// The data, without padding.
    pub data: Payload,
    /// The padding bytes when the PADDED flag is set (their number is the Pad Length field).
    pub padding: Option<Payload>,
}

impl Data {
    /// The frame's flow-controlled length (RFC 9113 §6.9.1): its whole payload, padding and
    /// the Pad Length field included. What a receiver gives back in WINDOW_UPDATEs
    /// ([`FrameWriter::write_window_updates`](crate::FrameWriter::write_window_updates)).
    ///
    /// ```
    /// use slackwater_h2frame::{Data, Payload};
    /// let d = Data { stream_id: 1, end_stream: false, data: Payload::from(&b"abc"[..]),
    ///                padding: Some(Payload::from(&[0u8; 4][..])) };
    /// assert_eq!(d.flow_controlled_len(), 3 + 4 + 1);
    /// ```
    pub fn flow_controlled_len(&self) -> u32 {
        let pad = self.padding.as_ref().map_or(0, |p| p.len() + 1);
        (self.data.len() + pad) as u32
    }
}

/// HEADERS (RFC 9113 §6.2). The fragment is raw HPACK: this crate does not decode it.
///
/// ```
/// use slackwater_h2frame::{Headers, Payload};
/// let h = Headers { stream_id: 1, end_stream: false, end_headers: true, priority: None,
///                   fragment: Payload::from(&[0x82u8, 0x84][..]), padding: None };
/// assert!(h.end_headers);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headers {
    /// Stream id.
    pub stream_id: u32,
    /// END_STREAM.
    pub end_stream: bool,
    /// END_HEADERS: no CONTINUATION follows.
    pub end_headers: bool,
    /// Priority fields (the PRIORITY flag).
    pub priority: Option<PrioritySpec>,
    /// The header block fragment.
    pub fragment: Payload,
    /// The padding bytes when PADDED is set.
    pub padding: Option<Payload>,
}

/// PRIORITY (RFC 9113 §6.3).
///
/// ```
/// use slackwater_h2frame::{Priority, PrioritySpec};
/// let p = Priority { stream_id: 9, spec: PrioritySpec { exclusive: false, dependency: 11, weight: 8 } };
/// assert_eq!(p.spec.weight, 8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// Stream id.
    pub stream_id: u32,
    /// The priority fields.
    pub spec: PrioritySpec,
}

/// RST_STREAM (RFC 9113 §6.4).
///
/// ```
/// use slackwater_h2frame::{ErrorCode, RstStream};
/// let r = RstStream { stream_id: 5, error_code: ErrorCode::CANCEL };
/// assert_eq!(r.error_code.0, 8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RstStream {
    /// Stream id.
    pub stream_id: u32,
    /// Why the stream ends.
    pub error_code: ErrorCode,
}

/// One SETTINGS parameter (RFC 9113 §6.5.1). Ids this crate does not know are kept (the
/// receiver must ignore them).
///
/// ```
/// use slackwater_h2frame::Setting;
/// let s = Setting { id: Setting::MAX_FRAME_SIZE, value: 1 << 20 };
/// assert_eq!(s.id, 5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Setting {
    /// Identifier.
    pub id: u16,
    /// Value.
    pub value: u32,
}

impl Setting {
    /// SETTINGS_HEADER_TABLE_SIZE (0x1).
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// SETTINGS_ENABLE_PUSH (0x2): 0 or 1.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS (0x3).
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// SETTINGS_INITIAL_WINDOW_SIZE (0x4): at most 2^31 − 1.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// SETTINGS_MAX_FRAME_SIZE (0x5): 16,384..=16,777,215.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// SETTINGS_MAX_HEADER_LIST_SIZE (0x6).
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (0x8, RFC 8441): 0 or 1.
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
    /// SETTINGS_NO_RFC7540_PRIORITIES (0x9, RFC 9218): 0 or 1.
    pub const NO_RFC7540_PRIORITIES: u16 = 0x9;
}

/// SETTINGS (RFC 9113 §6.5): an ACK, or a list of parameters in wire order (kept as the raw
/// 6-byte entries, so reading one needs no allocation).
///
/// ```
/// use slackwater_h2frame::{Setting, Settings};
/// let s = Settings::new(&[Setting { id: Setting::INITIAL_WINDOW_SIZE, value: 1 << 20 }]);
/// assert_eq!(s.get(Setting::INITIAL_WINDOW_SIZE), Some(1 << 20));
/// assert_eq!(s.iter().count(), 1);
/// assert!(Settings::ack().is_ack());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    ack: bool,
    raw: Payload,
}

impl Settings {
    /// A SETTINGS frame carrying `params` in this order.
    ///
    /// ```
    /// assert!(slackwater_h2frame::Settings::new(&[]).is_empty());
    /// ```
    pub fn new(params: &[Setting]) -> Settings {
        let mut raw = Vec::with_capacity(params.len() * 6);
        for p in params {
            raw.extend_from_slice(&p.id.to_be_bytes());
            raw.extend_from_slice(&p.value.to_be_bytes());
        }
        Settings {
            ack: false,
            raw: Payload::from(raw),
        }
    }

    /// A SETTINGS ACK (no parameters).
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::Settings::ack().len(), 0);
    /// ```
    pub fn ack() -> Settings {
        Settings {
            ack: true,
            raw: Payload::new(),
        }
    }

    pub(crate) fn from_raw(ack: bool, raw: Payload) -> Settings {
        Settings { ack, raw }
    }

    /// Whether this is an ACK.
    ///
    /// ```
    /// assert!(!slackwater_h2frame::Settings::new(&[]).is_ack());
    /// ```
    pub fn is_ack(&self) -> bool {
        self.ack
    }

    /// Number of parameters.
    ///
    /// ```
    /// use slackwater_h2frame::{Setting, Settings};
    /// assert_eq!(Settings::new(&[Setting { id: 1, value: 0 }; 3]).len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.raw.len() / 6
    }

    /// Whether there are no parameters.
    ///
    /// ```
    /// assert!(slackwater_h2frame::Settings::ack().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.raw.len() < 6
    }

    /// The parameters in wire order.
    ///
    /// ```
    /// use slackwater_h2frame::{Setting, Settings};
    /// let s = Settings::new(&[Setting { id: 1, value: 8192 }, Setting { id: 3, value: 5000 }]);
    /// let v: Vec<_> = s.iter().map(|p| (p.id, p.value)).collect();
    /// assert_eq!(v, [(1, 8192), (3, 5000)]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = Setting> + '_ {
        self.raw.chunks_exact(6).map(|c| Setting {
            id: u16::from_be_bytes([c[0], c[1]]),
            value: u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
        })
    }

    /// The last value given for `id` (values are processed in order, so the last one wins).
    ///
    /// ```
    /// use slackwater_h2frame::{Setting, Settings};
    /// let s = Settings::new(&[Setting { id: 4, value: 100 }, Setting { id: 4, value: 1 }]);
    /// assert_eq!(s.get(4), Some(1));
    /// ```
    pub fn get(&self, id: u16) -> Option<u32> {
        self.iter().filter(|s| s.id == id).last().map(|s| s.value)
    }

    /// The raw 6-byte entries.
    ///
    /// ```
    /// assert!(slackwater_h2frame::Settings::ack().raw().is_empty());
    /// ```
    pub fn raw(&self) -> &Payload {
        &self.raw
    }
}

/// PUSH_PROMISE (RFC 9113 §6.6).
///
/// ```
/// use slackwater_h2frame::{Payload, PushPromise};
/// let p = PushPromise { stream_id: 1, end_headers: true, promised_id: 2,
///                       fragment: Payload::new(), padding: None };
/// assert_eq!(p.promised_id, 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPromise {
    /// The stream the promise is made on.
    pub stream_id: u32,
    /// END_HEADERS.
    pub end_headers: bool,
    /// The promised (even, non-zero) stream id.
    pub promised_id: u32,
    /// The header block fragment.
    pub fragment: Payload,
    /// The padding bytes when PADDED is set.
    pub padding: Option<Payload>,
}

/// PING (RFC 9113 §6.7).
///
/// ```
/// let p = slackwater_h2frame::Ping { ack: false, data: *b"deadbeef" };
/// assert!(!p.ack);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ping {
    /// ACK.
    pub ack: bool,
    /// Opaque data, echoed in the ACK.
    pub data: [u8; 8],
}

/// GOAWAY (RFC 9113 §6.8).
///
/// ```
/// use slackwater_h2frame::{ErrorCode, GoAway, Payload};
/// let g = GoAway { last_stream_id: 30, error_code: ErrorCode::COMPRESSION_ERROR,
///                  debug_data: Payload::from(&b"hpack is broken"[..]) };
/// assert_eq!(g.error_code.0, 9);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoAway {
    /// The last stream the sender processed (31 bits).
    pub last_stream_id: u32,
    /// Why the connection ends.
    pub error_code: ErrorCode,
    /// Additional debug data.
    pub debug_data: Payload,
}

/// WINDOW_UPDATE (RFC 9113 §6.9).
///
/// ```
/// let w = slackwater_h2frame::WindowUpdate { stream_id: 0, increment: 65_535 };
/// assert_eq!(w.increment, 65_535);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowUpdate {
    /// Stream id (0: the connection window).
    pub stream_id: u32,
    /// Window size increment, 1..=2^31 − 1.
    pub increment: u32,
}

/// CONTINUATION (RFC 9113 §6.10).
///
/// ```
/// use slackwater_h2frame::{Continuation, Payload};
/// let c = Continuation { stream_id: 1, end_headers: true, fragment: Payload::new() };
/// assert!(c.fragment.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Continuation {
    /// Stream id (that of the open header block).
    pub stream_id: u32,
    /// END_HEADERS.
    pub end_headers: bool,
    /// The header block fragment.
    pub fragment: Payload,
}

/// A frame of a type this crate does not know (an extension, e.g. PRIORITY_UPDATE 0x10).
/// Only returned when the reader is asked to surface unknown frames; by default they are
/// discarded (RFC 9113 §4.1, §5.5).
///
/// ```
/// use slackwater_h2frame::{Payload, Unknown};
/// let u = Unknown { kind: 0x16, flags: 0, stream_id: 0, payload: Payload::new() };
/// assert_eq!(u.kind, 0x16);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// The type code (never 0..=9).
    pub kind: u8,
    /// Raw flags.
    pub flags: u8,
    /// Stream id.
    pub stream_id: u32,
    /// The payload.
    pub payload: Payload,
}

/// One HTTP/2 frame.
///
/// ```
/// use slackwater_h2frame::{Frame, Ping};
/// let f = Frame::Ping(Ping { ack: true, data: [0; 8] });
/// assert_eq!((f.kind(), f.flags(), f.stream_id(), f.payload_len()), (6, 1, 0, 8));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// DATA.
    Data(Data),
    /// HEADERS.
    Headers(Headers),
    /// PRIORITY.
    Priority(Priority),
    /// RST_STREAM.
    RstStream(RstStream),
    /// SETTINGS.
    Settings(Settings),
    /// PUSH_PROMISE.
    PushPromise(PushPromise),
    /// PING.
    Ping(Ping),
    /// GOAWAY.
    GoAway(GoAway),
    /// WINDOW_UPDATE.
    WindowUpdate(WindowUpdate),
    /// CONTINUATION.
    Continuation(Continuation),
    /// A frame of an unknown type.
    Unknown(Unknown),
}

fn pad_len(p: &Option<Payload>) -> usize {
    p.as_ref().map_or(0, |p| 1 + p.len())
}

impl Frame {
    /// The type code.
    ///
    /// ```
    /// use slackwater_h2frame::{Frame, WindowUpdate};
    /// assert_eq!(Frame::WindowUpdate(WindowUpdate { stream_id: 0, increment: 1 }).kind(), 8);
    /// ```
    pub fn kind(&self) -> u8 {
        match self {
            Frame::Data(_) => kind::DATA,
            Frame::Headers(_) => kind::HEADERS,
            Frame::Priority(_) => kind::PRIORITY,
            Frame::RstStream(_) => kind::RST_STREAM,
            Frame::Settings(_) => kind::SETTINGS,
            Frame::PushPromise(_) => kind::PUSH_PROMISE,
            Frame::Ping(_) => kind::PING,
            Frame::GoAway(_) => kind::GOAWAY,
            Frame::WindowUpdate(_) => kind::WINDOW_UPDATE,
            Frame::Continuation(_) => kind::CONTINUATION,
            Frame::Unknown(u) => u.kind,
        }
    }

    /// The stream id (0 for connection-level frames).
    ///
    /// ```
    /// use slackwater_h2frame::{Frame, Settings};
    /// assert_eq!(Frame::Settings(Settings::ack()).stream_id(), 0);
    /// ```
    pub fn stream_id(&self) -> u32 {
        match self {
            Frame::Data(f) => f.stream_id,
            Frame::Headers(f) => f.stream_id,
            Frame::Priority(f) => f.stream_id,
            Frame::RstStream(f) => f.stream_id,
            Frame::Settings(_) | Frame::Ping(_) | Frame::GoAway(_) => 0,
            Frame::PushPromise(f) => f.stream_id,
            Frame::WindowUpdate(f) => f.stream_id,
            Frame::Continuation(f) => f.stream_id,
            Frame::Unknown(f) => f.stream_id,
        }
    }

    /// The flags byte this frame is encoded with (only the flags its fields define; an
    /// unknown frame keeps its raw flags).
    ///
    /// ```
    /// use slackwater_h2frame::{Frame, Settings};
    /// assert_eq!(Frame::Settings(Settings::ack()).flags(), 0x1);
    /// ```
    pub fn flags(&self) -> u8 {
        let bit = |on: bool, f: u8| if on { f } else { 0 };
        match self {
            Frame::Data(f) => {
                bit(f.end_stream, flags::END_STREAM) | bit(f.padding.is_some(), flags::PADDED)
            }
            Frame::Headers(f) => {
                bit(f.end_stream, flags::END_STREAM)
                    | bit(f.end_headers, flags::END_HEADERS)
                    | bit(f.padding.is_some(), flags::PADDED)
                    | bit(f.priority.is_some(), flags::PRIORITY)
            }
            Frame::Settings(f) => bit(f.ack, flags::ACK),
            Frame::PushPromise(f) => {
                bit(f.end_headers, flags::END_HEADERS) | bit(f.padding.is_some(), flags::PADDED)
            }
            Frame::Ping(f) => bit(f.ack, flags::ACK),
            Frame::Continuation(f) => bit(f.end_headers, flags::END_HEADERS),
            Frame::Unknown(f) => f.flags,
            Frame::Priority(_)
            | Frame::RstStream(_)
            | Frame::GoAway(_)
            | Frame::WindowUpdate(_) => 0,
        }
    }

    /// The length field this frame is encoded with (payload bytes, padding included).
    ///
    /// ```
    /// use slackwater_h2frame::{Data, Frame, Payload};
    /// let d = Frame::Data(Data { stream_id: 1, end_stream: false,
    ///     data: Payload::from(&b"abc"[..]), padding: Some(Payload::from(&b"xy"[..])) });
    /// assert_eq!(d.payload_len(), 1 + 3 + 2);
    /// ```
    pub fn payload_len(&self) -> usize {
        match self {
            Frame::Data(f) => f.data.len() + pad_len(&f.padding),
            Frame::Headers(f) => {
                f.fragment.len() + pad_len(&f.padding) + if f.priority.is_some() { 5 } else { 0 }
            }
            Frame::Priority(_) => 5,
            Frame::RstStream(_) | Frame::WindowUpdate(_) => 4,
            Frame::Settings(f) => f.raw.len(),
            Frame::PushPromise(f) => 4 + f.fragment.len() + pad_len(&f.padding),
            Frame::Ping(_) => 8,
            Frame::GoAway(f) => 8 + f.debug_data.len(),
            Frame::Continuation(f) => f.fragment.len(),
            Frame::Unknown(f) => f.payload.len(),
        }
    }
}
