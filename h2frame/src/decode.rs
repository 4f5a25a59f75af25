//! Frame validation and decoding, shared by the stateless [`decode`] and the streaming reader.

use crate::frame::*;
use crate::{Config, Error, ErrorCode};
use core::ops::Range;
use slackwater_ready::SharedBuf;

const PROTO: ErrorCode = ErrorCode::PROTOCOL_ERROR;
const SIZE: ErrorCode = ErrorCode::FRAME_SIZE_ERROR;

/// Checks everything the 9-byte header alone decides, in the order the payload checks would:
/// the frame size against `max_frame_size`, stream-id rules, fixed and minimum lengths.
/// Every error it returns is a connection error (the frame cannot be skipped safely: it is too
/// large, or it concerns connection state). The PRIORITY length check, the only fixed-size
/// violation that is a stream error, is left to [`decode_body`], after the payload has been
/// read.
#[inline(always)]
pub(crate) fn check_header(h: FrameHeader, max_frame_size: u32) -> Result<(), Error> {
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

/// Where a frame's payload is, and how its byte fields become [`Payload`]s.
pub(crate) trait Source {
    /// The payload: exactly the header's length in bytes.
    fn bytes(&self) -> &[u8];
    /// Bytes `r` of the payload as a [`Payload`]: inline when small, else a view or a copy
    /// (the copy-out rule).
    fn payload(&mut self, r: Range<usize>) -> Payload;
    /// Called with every error the payload checks find, before it is returned.
    #[inline(always)]
    fn fail(&mut self, e: Error) -> Error {
        e
    }
    /// Called when the frame decoded is one that obliges the receiver to reply (a PING or
    /// SETTINGS without ACK).
    #[inline(always)]
    fn wants_reply(&mut self) {}
}

/// A plain slice: payloads are copied.
pub(crate) struct SliceSrc<'a>(pub(crate) &'a [u8]);

impl Source for SliceSrc<'_> {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        self.0
    }
    #[inline(always)]
    fn payload(&mut self, r: Range<usize>) -> Payload {
        Payload::copy_from_slice(&self.0[r])
    }
}

/// A frozen buffer: large payloads are views. The payload is `buf[base..end]`.
pub(crate) struct SharedSrc<'a> {
    pub(crate) buf: &'a SharedBuf,
    pub(crate) base: usize,
    pub(crate) end: usize,
    pub(crate) ratio: usize,
}

impl Source for SharedSrc<'_> {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        &self.buf[self.base..self.end]
    }
    #[inline(always)]
    fn payload(&mut self, r: Range<usize>) -> Payload {
        let r = self.base + r.start..self.base + r.end;
        if wants_view(r.len(), self.buf.buffer_capacity(), self.ratio) {
            view_or_copy(self.buf, r)
        } else {
            Payload::copy_from_slice(&self.buf[r])
        }
    }
}

/// A view of `buf[r]` (a copy if the view cannot be made).
#[cold]
pub(crate) fn view_or_copy(buf: &SharedBuf, r: Range<usize>) -> Payload {
    match buf.slice(r.clone()) {
        Some(v) => Payload::from(v),
        None => Payload::copy_from_slice(&buf[r]),
    }
}

/// Whether the copy-out rule makes a payload of `len` bytes a view of a buffer of `capacity`.
#[inline(always)]
pub(crate) fn wants_view(len: usize, capacity: usize, ratio: usize) -> bool {
    len > Payload::INLINE_MAX && len.saturating_mul(ratio) >= capacity
}

#[inline(always)]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline(always)]
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
#[inline(always)]
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
    padded_split(p, fixed, reject_nonzero, what)
}

fn padded_split(
    p: &[u8],
    fixed: usize,
    reject_nonzero: bool,
    what: &'static str,
) -> Result<(Range<usize>, Option<Range<usize>>), Error> {
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

/// SETTINGS values (RFC 9113 §6.5.2); `p` is a multiple of 6 bytes.
fn check_settings(p: &[u8]) -> Result<(), Error> {
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
    Ok(())
}

/// Validates the payload of a frame whose header [`check_header`] has accepted, and builds
/// the frame from `src` in the same pass (no intermediate value: every field is written
/// once, into the result).
#[inline(always)]
pub(crate) fn decode_body<S: Source>(
    h: FrameHeader,
    src: &mut S,
    reject_nonzero_padding: bool,
) -> Result<Option<Frame>, Error> {
    let len = h.length as usize;
    debug_assert_eq!(src.bytes().len(), len);
    let padded = h.flags & flags::PADDED != 0;
    let end_stream = h.flags & flags::END_STREAM != 0;
    let end_headers = h.flags & flags::END_HEADERS != 0;
    let ack = h.flags & flags::ACK != 0;
    let stream_id = h.stream_id;
    // Every error goes through `src.fail`, so that a source can note it without the caller
    // having to look at (and so move) the result.
    macro_rules! bail {
        ($e:expr) => {
            return Err(src.fail($e))
        };
    }
    macro_rules! check {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(e) => bail!(e),
            }
        };
    }
    Ok(Some(match h.kind {
        kind::DATA => {
            let (data, pad) = check!(padding(
                src.bytes(),
                padded,
                0,
                reject_nonzero_padding,
                "DATA: pad length too large",
            ));
            Frame::Data(Data {
                stream_id,
                end_stream,
                data: src.payload(data),
                padding: pad.map(|r| src.payload(r)),
            })
        }
        kind::HEADERS => {
            let has_prio = h.flags & flags::PRIORITY != 0;
            let fixed = if has_prio { 5 } else { 0 };
            let p = src.bytes();
            let (frag, pad) = check!(padding(
                p,
                padded,
                fixed,
                reject_nonzero_padding,
                "HEADERS: pad length too large",
            ));
            let priority = has_prio.then(|| prio_at(p, usize::from(padded)));
            Frame::Headers(Headers {
                stream_id,
                end_stream,
                end_headers,
                priority,
                fragment: src.payload(frag),
                padding: pad.map(|r| src.payload(r)),
            })
        }
        kind::PRIORITY => {
            if len != 5 {
                bail!(Error::stream(SIZE, stream_id, "PRIORITY: length != 5"));
            }
            Frame::Priority(Priority {
                stream_id,
                spec: prio_at(src.bytes(), 0),
            })
        }
        kind::RST_STREAM => Frame::RstStream(RstStream {
            stream_id,
            error_code: ErrorCode(be32(src.bytes(), 0)),
        }),
        kind::SETTINGS => {
            check!(check_settings(src.bytes()));
            if !ack {
                src.wants_reply();
            }
            Frame::Settings(Settings::from_raw(ack, src.payload(0..len)))
        }
        kind::PUSH_PROMISE => {
            let p = src.bytes();
            let (frag, pad) = check!(padding(
                p,
                padded,
                4,
                reject_nonzero_padding,
                "PUSH_PROMISE: pad length too large",
            ));
            let promised_id = be32(p, usize::from(padded)) & STREAM_ID_MASK;
            if promised_id == 0 {
                bail!(Error::conn(PROTO, "PUSH_PROMISE: promised stream id == 0"));
            }
            if promised_id % 2 == 1 {
                bail!(Error::conn(
                    PROTO,
                    "PUSH_PROMISE: promised stream id is odd",
                ));
            }
            Frame::PushPromise(PushPromise {
                stream_id,
                end_headers,
                promised_id,
                fragment: src.payload(frag),
                padding: pad.map(|r| src.payload(r)),
            })
        }
        kind::PING => {
            let p = src.bytes();
            let mut data = [0; 8];
            data.copy_from_slice(&p[..8]);
            if !ack {
                src.wants_reply();
            }
            Frame::Ping(Ping { ack, data })
        }
        kind::GOAWAY => {
            let p = src.bytes();
            let last_stream_id = be32(p, 0) & STREAM_ID_MASK;
            let error_code = ErrorCode(be32(p, 4));
            Frame::GoAway(GoAway {
                last_stream_id,
                error_code,
                debug_data: src.payload(8..len),
            })
        }
        kind::WINDOW_UPDATE => {
            let increment = be32(src.bytes(), 0) & STREAM_ID_MASK;
            if increment == 0 {
                bail!(if stream_id == 0 {
                    Error::conn(PROTO, "WINDOW_UPDATE: increment 0 on the connection")
                } else {
                    Error::stream(PROTO, stream_id, "WINDOW_UPDATE: increment 0")
                });
            }
            Frame::WindowUpdate(WindowUpdate {
                stream_id,
                increment,
            })
        }
        kind::CONTINUATION => Frame::Continuation(Continuation {
            stream_id,
            end_headers,
            fragment: src.payload(0..len),
        }),
        _ => Frame::Unknown(Unknown {
            kind: h.kind,
            flags: h.flags,
            stream_id,
            payload: src.payload(0..len),
        }),
    }))
}

/// Decodes one whole frame whose header [`check_header`] has accepted, with its size.
#[inline]
fn decode_one<S: Source>(
    h: FrameHeader,
    reject_nonzero_padding: bool,
    mut src: S,
) -> Result<Option<(Frame, usize)>, Error> {
    match decode_body(h, &mut src, reject_nonzero_padding)? {
        Some(f) => Ok(Some((f, FRAME_HEADER_LEN + h.length as usize))),
        None => Ok(None),
    }
}

/// Stateless single-frame decoding with explicit limits: no CONTINUATION sequencing, no
/// connection state, unknown types returned as [`Frame::Unknown`].
///
/// ```
/// use slackwater_h2frame::{Decoder, Frame};
/// let d = Decoder::new();
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

    /// A decoder with the limits of `cfg` (checked when it was built): its max frame size,
    /// whether it refuses non-zero padding, and its copy-out ratio (for
    /// [`decode_shared`](Decoder::decode_shared)).
    ///
    /// ```
    /// use slackwater_h2frame::{Config, Decoder};
    /// let cfg = Config::builder().reject_nonzero_padding(true).build().unwrap();
    /// let d = Decoder::with_config(&cfg);
    /// // DATA, PADDED, pad length 1, data "a", padding 0xff
    /// assert!(d.decode(&[0, 0, 3, 0, 8, 0, 0, 0, 1, 1, b'a', 0xff]).is_err());
    /// ```
    pub const fn with_config(cfg: &Config) -> Decoder {
        Decoder {
            max_frame_size: cfg.max_frame_size,
            reject_nonzero_padding: cfg.reject_nonzero_padding,
            copy_out_ratio: cfg.copy_out_ratio(),
        }
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
        check_header(h, self.max_frame_size)?;
        let n = FRAME_HEADER_LEN + h.length as usize;
        let Some(p) = bytes.get(FRAME_HEADER_LEN..n) else {
            return Ok(None);
        };
        decode_one(h, self.reject_nonzero_padding, SliceSrc(p))
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
        check_header(h, self.max_frame_size)?;
        let n = FRAME_HEADER_LEN + h.length as usize;
        if buf.len() < n {
            return Ok(None);
        }
        let src = SharedSrc {
            buf,
            base: FRAME_HEADER_LEN,
            end: n,
            ratio: self.copy_out_ratio,
        };
        decode_one(h, self.reject_nonzero_padding, src)
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
