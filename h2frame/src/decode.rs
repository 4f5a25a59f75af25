//! Frame validation and decoding, shared by the stateless [`decode`] and the streaming reader.

use crate::frame::*;
use crate::{Error, ErrorCode};
use core::ops::Range;
use slackwater_ready::SharedBuf;

const PROTO: ErrorCode = ErrorCode::PROTOCOL_ERROR;
const SIZE: ErrorCode = ErrorCode::FRAME_SIZE_ERROR;

/// Checks everything the 9-byte header alone decides, in the order the payload checks would:
/// the frame size against `max_frame_size`, stream-id rules, fixed and minimum lengths.
/// Every error it returns is a connection error (the frame cannot be skipped safely: it is too
/// large, or it concerns connection state). The PRIORITY length check, the only fixed-size
/// violation that is a stream error, is left to [`parse`], after the payload has been read.
pub(crate) fn check_header(h: &FrameHeader, max_frame_size: u32) -> Result<(), Error> {
    if h.length > max_frame_size {
        return Err(Error::conn(
            SIZE,
            "frame larger than SETTINGS_MAX_FRAME_SIZE",
        ));
    }
    let len = h.length;
    let padded = h.flags & flags::PADDED != 0;
    match h.kind {
        kind::DATA => {
            if h.stream_id == 0 {
                return Err(Error::conn(PROTO, "DATA: stream id == 0"));
            }
            if padded && len == 0 {
                return Err(Error::conn(SIZE, "DATA: PADDED with length 0"));
            }
        }
        kind::HEADERS => {
            if h.stream_id == 0 {
                return Err(Error::conn(PROTO, "HEADERS: stream id == 0"));
            }
            if padded && len == 0 {
                return Err(Error::conn(SIZE, "HEADERS: PADDED with length 0"));
            }
            let prio = if h.flags & flags::PRIORITY != 0 { 5 } else { 0 };
            if len < prio + u32::from(padded) {
                return Err(Error::conn(
                    SIZE,
                    "HEADERS: too short for its priority fields",
                ));
            }
        }
        kind::PRIORITY if h.stream_id == 0 => {
            return Err(Error::conn(PROTO, "PRIORITY: stream id == 0"));
        }
        kind::RST_STREAM => {
            if h.stream_id == 0 {
                return Err(Error::conn(PROTO, "RST_STREAM: stream id == 0"));
            }
            if len != 4 {
                return Err(Error::conn(SIZE, "RST_STREAM: length != 4"));
            }
        }
        kind::SETTINGS => {
            if h.stream_id != 0 {
                return Err(Error::conn(PROTO, "SETTINGS: stream id != 0"));
            }
            if h.flags & flags::ACK != 0 && len != 0 {
                return Err(Error::conn(SIZE, "SETTINGS: ACK with a payload"));
            }
            if !len.is_multiple_of(6) {
                return Err(Error::conn(SIZE, "SETTINGS: length not a multiple of 6"));
            }
        }
        kind::PUSH_PROMISE => {
            if h.stream_id == 0 {
                return Err(Error::conn(PROTO, "PUSH_PROMISE: stream id == 0"));
            }
            if padded && len == 0 {
                return Err(Error::conn(SIZE, "PUSH_PROMISE: PADDED with length 0"));
            }
            if len < 4 + u32::from(padded) {
                return Err(Error::conn(
                    SIZE,
                    "PUSH_PROMISE: too short for the promised id",
                ));
            }
        }
        kind::PING => {
            if h.stream_id != 0 {
                return Err(Error::conn(PROTO, "PING: stream id != 0"));
            }
            if len != 8 {
                return Err(Error::conn(SIZE, "PING: length != 8"));
            }
        }
        kind::GOAWAY => {
            if h.stream_id != 0 {
                return Err(Error::conn(PROTO, "GOAWAY: stream id != 0"));
            }
            if len < 8 {
                return Err(Error::conn(SIZE, "GOAWAY: length < 8"));
            }
        }
        kind::WINDOW_UPDATE if len != 4 => {
            return Err(Error::conn(SIZE, "WINDOW_UPDATE: length != 4"));
        }
        kind::CONTINUATION if h.stream_id == 0 => {
            return Err(Error::conn(PROTO, "CONTINUATION: stream id == 0"));
        }
        _ => {}
    }
    Ok(())
}

/// A validated frame whose byte fields are still ranges of the payload.
#[derive(Debug)]
pub(crate) enum Layout {
    Data {
        data: Range<usize>,
        pad: Option<Range<usize>>,
    },
    Headers {
        prio: Option<PrioritySpec>,
        frag: Range<usize>,
        pad: Option<Range<usize>>,
    },
    Priority(PrioritySpec),
    RstStream(u32),
    Settings,
    PushPromise {
        promised: u32,
        frag: Range<usize>,
        pad: Option<Range<usize>>,
    },
    Ping([u8; 8]),
    GoAway {
        last: u32,
        code: u32,
    },
    WindowUpdate(u32),
    Continuation,
    Unknown,
}

impl Layout {
    /// The byte ranges of the payload the frame will carry.
    pub(crate) fn ranges(&self, len: usize) -> [Option<Range<usize>>; 2] {
        match self {
            Layout::Data { data, pad } => [Some(data.clone()), pad.clone()],
            Layout::Headers { frag, pad, .. } | Layout::PushPromise { frag, pad, .. } => {
                [Some(frag.clone()), pad.clone()]
            }
            Layout::GoAway { .. } => [Some(8..len), None],
            Layout::Settings | Layout::Continuation | Layout::Unknown => [Some(0..len), None],
            _ => [None, None],
        }
    }

    /// Whether building the frame from a buffer of `capacity` bytes will make a view.
    pub(crate) fn needs_view(&self, len: usize, capacity: usize, ratio: usize) -> bool {
        self.ranges(len)
            .iter()
            .flatten()
            .any(|r| wants_view(r.len(), capacity, ratio))
    }

    /// Bytes of header block carried (HEADERS, PUSH_PROMISE and CONTINUATION).
    pub(crate) fn fragment_len(&self, len: usize) -> usize {
        match self {
            Layout::Headers { frag, .. } | Layout::PushPromise { frag, .. } => frag.len(),
            Layout::Continuation => len,
            _ => 0,
        }
    }
}

#[inline]
fn wants_view(len: usize, capacity: usize, ratio: usize) -> bool {
    len > Payload::INLINE_MAX && len.saturating_mul(ratio) >= capacity
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn prio_at(p: &[u8], at: usize) -> PrioritySpec {
    let word = be32(p, at);
    PrioritySpec {
        exclusive: word & 0x8000_0000 != 0,
        dependency: word & STREAM_ID_MASK,
        weight: u16::from(p[at + 4]) + 1,
    }
}

/// Splits `p[start..]` into (content, padding) for a PADDED frame; `start` is past the pad
/// length byte and the fixed fields.
fn padding(
    p: &[u8],
    padded: bool,
    fixed: usize,
    reject_nonzero: bool,
    what: &'static str,
) -> Result<(Range<usize>, Option<Range<usize>>), Error> {
    if !padded {
        return Ok((fixed..p.len(), None));
    }
    // `check_header` guarantees p.len() >= 1 when PADDED.
    let pad = usize::from(p[0]);
    let start = 1 + fixed;
    if p.len() < start || pad > p.len() - start {
        return Err(Error::conn(PROTO, what));
    }
    let end = p.len() - pad;
    if reject_nonzero && p[end..].iter().any(|&b| b != 0) {
        return Err(Error::conn(PROTO, "non-zero padding"));
    }
    Ok((start..end, Some(end..p.len())))
}

/// Validates a whole frame (`p` is its payload, exactly `h.length` bytes).
pub(crate) fn parse(
    h: &FrameHeader,
    p: &[u8],
    max_frame_size: u32,
    reject_nonzero_padding: bool,
) -> Result<Layout, Error> {
    check_header(h, max_frame_size)?;
    debug_assert_eq!(p.len(), h.length as usize);
    let padded = h.flags & flags::PADDED != 0;
    Ok(match h.kind {
        kind::DATA => {
            let (data, pad) = padding(
                p,
                padded,
                0,
                reject_nonzero_padding,
                "DATA: pad length too large",
            )?;
            Layout::Data { data, pad }
        }
        kind::HEADERS => {
            let has_prio = h.flags & flags::PRIORITY != 0;
            let fixed = if has_prio { 5 } else { 0 };
            let (frag, pad) = padding(
                p,
                padded,
                fixed,
                reject_nonzero_padding,
                "HEADERS: pad length too large",
            )?;
            let prio = has_prio.then(|| prio_at(p, usize::from(padded)));
            Layout::Headers { prio, frag, pad }
        }
        kind::PRIORITY => {
            if p.len() != 5 {
                return Err(Error::stream(SIZE, h.stream_id, "PRIORITY: length != 5"));
            }
            Layout::Priority(prio_at(p, 0))
        }
        kind::RST_STREAM => Layout::RstStream(be32(p, 0)),
        kind::SETTINGS => {
            for c in p.chunks_exact(6) {
                let id = u16::from_be_bytes([c[0], c[1]]);
                let v = be32(c, 2);
                match id {
                    Setting::ENABLE_PUSH if v > 1 => {
                        return Err(Error::conn(PROTO, "SETTINGS: ENABLE_PUSH not 0 or 1"));
                    }
                    Setting::INITIAL_WINDOW_SIZE if v > STREAM_ID_MASK => {
                        return Err(Error::conn(
                            ErrorCode::FLOW_CONTROL_ERROR,
                            "SETTINGS: INITIAL_WINDOW_SIZE > 2^31-1",
                        ));
                    }
                    Setting::MAX_FRAME_SIZE
                        if !(DEFAULT_MAX_FRAME_SIZE..=MAX_FRAME_SIZE_LIMIT).contains(&v) =>
                    {
                        return Err(Error::conn(PROTO, "SETTINGS: MAX_FRAME_SIZE out of range"));
                    }
                    Setting::ENABLE_CONNECT_PROTOCOL if v > 1 => {
                        return Err(Error::conn(
                            PROTO,
                            "SETTINGS: ENABLE_CONNECT_PROTOCOL not 0 or 1",
                        ));
                    }
                    Setting::NO_RFC7540_PRIORITIES if v > 1 => {
                        return Err(Error::conn(
                            PROTO,
                            "SETTINGS: NO_RFC7540_PRIORITIES not 0 or 1",
                        ));
                    }
                    _ => {}
                }
            }
            Layout::Settings
        }
        kind::PUSH_PROMISE => {
            let (frag, pad) = padding(
                p,
                padded,
                4,
                reject_nonzero_padding,
                "PUSH_PROMISE: pad length too large",
            )?;
            let promised = be32(p, usize::from(padded)) & STREAM_ID_MASK;
            if promised == 0 {
                return Err(Error::conn(PROTO, "PUSH_PROMISE: promised stream id == 0"));
            }
            if promised % 2 == 1 {
                return Err(Error::conn(
                    PROTO,
                    "PUSH_PROMISE: promised stream id is odd",
                ));
            }
            Layout::PushPromise {
                promised,
                frag,
                pad,
            }
        }
        kind::PING => {
            let mut data = [0; 8];
            data.copy_from_slice(&p[..8]);
            Layout::Ping(data)
        }
        kind::GOAWAY => Layout::GoAway {
            last: be32(p, 0) & STREAM_ID_MASK,
            code: be32(p, 4),
        },
        kind::WINDOW_UPDATE => {
            let inc = be32(p, 0) & STREAM_ID_MASK;
            if inc == 0 {
                return Err(if h.stream_id == 0 {
                    Error::conn(PROTO, "WINDOW_UPDATE: increment 0 on the connection")
                } else {
                    Error::stream(PROTO, h.stream_id, "WINDOW_UPDATE: increment 0")
                });
            }
            Layout::WindowUpdate(inc)
        }
        kind::CONTINUATION => Layout::Continuation,
        _ => Layout::Unknown,
    })
}

/// Where a frame's bytes are: a plain slice (payloads are copied) or a frozen buffer (payloads
/// may be views). `base` is the payload's offset in the buffer.
pub(crate) enum Src<'a> {
    Slice(&'a [u8]),
    Shared { buf: &'a SharedBuf, base: usize },
}

impl Src<'_> {
    #[inline]
    fn payload(&self, r: Range<usize>, capacity: usize, ratio: usize) -> Payload {
        match self {
            Src::Slice(p) => Payload::copy_from_slice(&p[r]),
            Src::Shared { buf, base } => {
                if wants_view(r.len(), capacity, ratio) {
                    match buf.slice(base + r.start..base + r.end) {
                        Some(v) => Payload::from(v),
                        None => Payload::copy_from_slice(&buf[base + r.start..base + r.end]),
                    }
                } else {
                    Payload::copy_from_slice(&buf[base + r.start..base + r.end])
                }
            }
        }
    }
}

#[inline]
/// Builds the frame; `capacity` is that of the buffer behind `src` (for the copy-out rule).
pub(crate) fn build(
    h: &FrameHeader,
    l: Layout,
    src: &Src<'_>,
    capacity: usize,
    ratio: usize,
) -> Frame {
    let pl = |r: Range<usize>| src.payload(r, capacity, ratio);
    let len = h.length as usize;
    let end_stream = h.flags & flags::END_STREAM != 0;
    let end_headers = h.flags & flags::END_HEADERS != 0;
    let ack = h.flags & flags::ACK != 0;
    match l {
        Layout::Data { data, pad } => Frame::Data(Data {
            stream_id: h.stream_id,
            end_stream,
            data: pl(data),
            padding: pad.map(pl),
        }),
        Layout::Headers { prio, frag, pad } => Frame::Headers(Headers {
            stream_id: h.stream_id,
            end_stream,
            end_headers,
            priority: prio,
            fragment: pl(frag),
            padding: pad.map(pl),
        }),
        Layout::Priority(spec) => Frame::Priority(Priority {
            stream_id: h.stream_id,
            spec,
        }),
        Layout::RstStream(code) => Frame::RstStream(RstStream {
            stream_id: h.stream_id,
            error_code: ErrorCode(code),
        }),
        Layout::Settings => Frame::Settings(Settings::from_raw(ack, pl(0..len))),
        Layout::PushPromise {
            promised,
            frag,
            pad,
        } => Frame::PushPromise(PushPromise {
            stream_id: h.stream_id,
            end_headers,
            promised_id: promised,
            fragment: pl(frag),
            padding: pad.map(pl),
        }),
        Layout::Ping(data) => Frame::Ping(Ping { ack, data }),
        Layout::GoAway { last, code } => Frame::GoAway(GoAway {
            last_stream_id: last,
            error_code: ErrorCode(code),
            debug_data: pl(8..len),
        }),
        Layout::WindowUpdate(increment) => Frame::WindowUpdate(WindowUpdate {
            stream_id: h.stream_id,
            increment,
        }),
        Layout::Continuation => Frame::Continuation(Continuation {
            stream_id: h.stream_id,
            end_headers,
            fragment: pl(0..len),
        }),
        Layout::Unknown => Frame::Unknown(Unknown {
            kind: h.kind,
            flags: h.flags,
            stream_id: h.stream_id,
            payload: pl(0..len),
        }),
    }
}

/// Stateless single-frame decoding with explicit limits: no CONTINUATION sequencing, no
/// connection state, unknown types returned as [`Frame::Unknown`].
///
/// ```
/// use slackwater_h2frame::{Decoder, Frame};
/// let d = Decoder::new().max_frame_size(1 << 20).unwrap();
/// let wire = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
/// let (frame, used) = d.decode(&wire).unwrap().unwrap();
/// assert_eq!(used, 17);
/// assert!(matches!(frame, Frame::Ping(p) if p.data == [1, 2, 3, 4, 5, 6, 7, 8]));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Decoder {
    max_frame_size: u32,
    reject_nonzero_padding: bool,
    copy_out_ratio: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// Default limits: `SETTINGS_MAX_FRAME_SIZE` 16,384, non-zero padding accepted.
    ///
    /// ```
    /// let _ = slackwater_h2frame::Decoder::new();
    /// ```
    pub const fn new() -> Decoder {
        Decoder {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            reject_nonzero_padding: false,
            copy_out_ratio: 16,
        }
    }

    /// Sets our `SETTINGS_MAX_FRAME_SIZE` (16,384..=16,777,215).
    ///
    /// # Errors
    /// [`Error::Invalid`] outside that range.
    ///
    /// ```
    /// assert!(slackwater_h2frame::Decoder::new().max_frame_size(100).is_err());
    /// ```
    pub fn max_frame_size(mut self, v: u32) -> Result<Decoder, Error> {
        if !(DEFAULT_MAX_FRAME_SIZE..=MAX_FRAME_SIZE_LIMIT).contains(&v) {
            return Err(Error::Invalid("max frame size outside 16384..=16777215"));
        }
        self.max_frame_size = v;
        Ok(self)
    }

    /// Treat non-zero padding as a connection `PROTOCOL_ERROR` (RFC 9113 §6.1 allows it;
    /// off by default).
    ///
    /// ```
    /// let d = slackwater_h2frame::Decoder::new().reject_nonzero_padding(true);
    /// // DATA, PADDED, pad length 1, data "a", padding 0xff
    /// assert!(d.decode(&[0, 0, 3, 0, 8, 0, 0, 0, 1, 1, b'a', 0xff]).is_err());
    /// ```
    pub fn reject_nonzero_padding(mut self, on: bool) -> Decoder {
        self.reject_nonzero_padding = on;
        self
    }

    /// Decodes the frame at the start of `bytes`: `Ok(Some((frame, bytes_used)))`, or
    /// `Ok(None)` if `bytes` holds less than a whole frame. The frame-size check uses the
    /// header alone, so an oversized frame is an error even if it is truncated. Payloads are
    /// copied (inline when small).
    ///
    /// # Errors
    /// [`Error::Protocol`] for every RFC 9113 violation a single frame can show.
    ///
    /// ```
    /// assert!(slackwater_h2frame::Decoder::new().decode(&[0, 0, 1]).unwrap().is_none());
    /// ```
    pub fn decode(&self, bytes: &[u8]) -> Result<Option<(Frame, usize)>, Error> {
        let Some(h) = FrameHeader::parse(bytes) else {
            return Ok(None);
        };
        check_header(&h, self.max_frame_size)?;
        let n = FRAME_HEADER_LEN + h.length as usize;
        let Some(p) = bytes.get(FRAME_HEADER_LEN..n) else {
            return Ok(None);
        };
        let l = parse(&h, p, self.max_frame_size, self.reject_nonzero_padding)?;
        Ok(Some((
            build(&h, l, &Src::Slice(p), 0, self.copy_out_ratio),
            n,
        )))
    }

    /// Like [`decode`](Decoder::decode), over a frozen buffer: large payloads come out as
    /// zero-copy views of `buf` (small ones are copied, by the rule described at
    /// [`Payload`]).
    ///
    /// # Errors
    /// As [`decode`](Decoder::decode).
    ///
    /// ```
    /// use slackwater_h2frame::{Decoder, Frame, global};
    /// let mut b = global().get(16_393).unwrap();
    /// b.extend_from_slice(&[0, 0x40, 0, 0, 0, 0, 0, 0, 1]).unwrap(); // DATA, 16 KiB, stream 1
    /// b.extend_from_slice(&[0xab; 16_384]).unwrap();
    /// let (f, _) = Decoder::new().decode_shared(&b.freeze()).unwrap().unwrap();
    /// let Frame::Data(d) = f else { panic!() };
    /// assert!(d.data.is_view());
    /// ```
    pub fn decode_shared(&self, buf: &SharedBuf) -> Result<Option<(Frame, usize)>, Error> {
        let Some(h) = FrameHeader::parse(buf) else {
            return Ok(None);
        };
        check_header(&h, self.max_frame_size)?;
        let n = FRAME_HEADER_LEN + h.length as usize;
        let Some(p) = buf.get(FRAME_HEADER_LEN..n) else {
            return Ok(None);
        };
        let l = parse(&h, p, self.max_frame_size, self.reject_nonzero_padding)?;
        let src = Src::Shared {
            buf,
            base: FRAME_HEADER_LEN,
        };
        Ok(Some((
            build(&h, l, &src, buf.buffer_capacity(), self.copy_out_ratio),
            n,
        )))
    }
}

/// [`Decoder::decode`] with the default limits: the stateless single-frame decoder.
///
/// # Errors
/// As [`Decoder::decode`].
///
/// ```
/// use slackwater_h2frame::{decode, Frame};
/// let wire = [0, 0, 4, 8, 0, 0, 0, 0, 0x32, 0, 0, 0x03, 0xe8]; // WINDOW_UPDATE 1000 on 50
/// let (f, n) = decode(&wire).unwrap().unwrap();
/// assert_eq!(n, wire.len());
/// assert!(matches!(f, Frame::WindowUpdate(w) if w.stream_id == 50 && w.increment == 1000));
/// ```
pub fn decode(bytes: &[u8]) -> Result<Option<(Frame, usize)>, Error> {
    Decoder::new().decode(bytes)
}
