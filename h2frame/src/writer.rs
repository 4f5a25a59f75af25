//! [`FrameWriter`]: encodes frames straight into the layer below (any [`ReadyWrite`]).

use crate::Error;
use crate::config::check_max_frame_size;
use crate::frame::*;
use slackwater_ready::{Buf, Pool, ReadyWrite};

/// The most bytes of a frame assembled on the stack before they are handed to the output in
/// one [`ReadyWrite::queue`] call: the header, the fixed fields, and the payload too when the
/// whole frame fits (a PING, a WINDOW_UPDATE, a small SETTINGS or DATA frame).
const STACK: usize = 128;

/// Encodes frames straight into the layer below: a [`ReadyWrite`] (a socket's
/// [`ReadyFd`](slackwater_ready::ReadyFd), an ALTS connection, a
/// [`FrameReader`](crate::FrameReader) over either, or a `Vec<u8>`).
///
/// The writer holds no buffer and no pool: each frame is handed to `out` as it is encoded,
/// and `out` copies it once into its own pooled output (an ALTS connection copies it into the
/// payload area of the record it is filling, and seals it there). So a DATA byte is copied
/// exactly once on its way to the transport's buffer. A frame small enough (at most 128
/// bytes: PING, WINDOW_UPDATE, RST_STREAM, PRIORITY, a small SETTINGS or DATA) is assembled
/// on the stack and queued in one call; a larger one is queued as its header and fixed
/// fields, then its payload (then its padding). Nothing is allocated per frame.
///
/// The writer checks only what the wire format needs: lengths against the peer's
/// `SETTINGS_MAX_FRAME_SIZE` ([`set_max_frame_size`](FrameWriter::set_max_frame_size),
/// default 16,384), padding ≤ 255 bytes, 31-bit ids and increments, weights 1..=256, unknown
/// type codes above 9. It does not stop you from sending frames the peer must reject (DATA on
/// stream 0, say), so it can drive conformance tests. Padding bytes are written as given.
///
/// Writing only queues: flush with `out`'s
/// [`try_flush_ready`](ReadyWrite::try_flush_ready) (non-blocking) or
/// [`flush_ready`](ReadyWrite::flush_ready).
///
/// ```
/// use slackwater_h2frame::{decode, Frame, FrameWriter, Setting, Settings};
/// let w = FrameWriter::new();
/// let mut wire = Vec::new(); // a `Vec<u8>` takes everything at once
/// w.write(&mut wire, &Frame::Settings(Settings::new(&[Setting { id: 3, value: 100 }]))).unwrap();
/// assert_eq!(wire, [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]);
/// assert!(matches!(decode(&wire).unwrap().unwrap().0, Frame::Settings(_)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameWriter {
    max_frame_size: u32,
}

impl Default for FrameWriter {
    /// [`FrameWriter::new`].
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::FrameWriter::default().max_frame_size(), 16_384);
    /// ```
    fn default() -> Self {
        FrameWriter::new()
    }
}

/// The first bytes of a frame, assembled on the stack.
struct Head {
    buf: [u8; STACK],
    len: usize,
}

impl Head {
    #[inline(always)]
    fn new(h: FrameHeader) -> Head {
        let mut buf = [0; STACK];
        buf[..FRAME_HEADER_LEN].copy_from_slice(&h.encode());
        Head {
            buf,
            len: FRAME_HEADER_LEN,
        }
    }

    /// Appends a fixed field (the caller keeps the total within `STACK`).
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Appends `bytes` here when they fit, else hands what is here and then `bytes` to `out`.
    #[inline]
    fn put_or_queue<W: ReadyWrite + ?Sized>(
        &mut self,
        out: &mut W,
        bytes: &[u8],
    ) -> Result<(), Error> {
        if bytes.is_empty() {
            return Ok(());
        }
        if bytes.len() <= STACK - self.len {
            self.put(bytes);
            return Ok(());
        }
        self.flush(out)?;
        out.queue(bytes).map_err(Error::from)
    }

    /// Hands what is here to `out`.
    #[inline]
    fn flush<W: ReadyWrite + ?Sized>(&mut self, out: &mut W) -> Result<(), Error> {
        if self.len > 0 {
            out.queue(&self.buf[..self.len]).map_err(Error::from)?;
            self.len = 0;
        }
        Ok(())
    }
}

impl FrameWriter {
    /// A writer for a peer that has not changed `SETTINGS_MAX_FRAME_SIZE` (16,384).
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::FrameWriter::new().max_frame_size(), 16_384);
    /// ```
    pub const fn new() -> FrameWriter {
        FrameWriter {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
        }
    }

    /// The peer's `SETTINGS_MAX_FRAME_SIZE`: longer frames are refused.
    ///
    /// # Errors
    /// [`Error::Invalid`] outside 16,384..=16,777,215 (the value is then unchanged).
    ///
    /// ```
    /// let mut w = slackwater_h2frame::FrameWriter::new();
    /// w.set_max_frame_size(1 << 20).unwrap();
    /// assert!(w.set_max_frame_size(100).is_err());
    /// assert_eq!(w.max_frame_size(), 1 << 20);
    /// ```
    pub fn set_max_frame_size(&mut self, v: u32) -> Result<(), Error> {
        check_max_frame_size(v)?;
        self.max_frame_size = v;
        Ok(())
    }

    /// The peer's `SETTINGS_MAX_FRAME_SIZE` the writer enforces.
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::FrameWriter::new().max_frame_size(), 16_384);
    /// ```
    pub const fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// Queues the 24-byte client connection preface to `out`.
    ///
    /// # Errors
    /// `out`'s, as [`Error::Io`] or [`Error::Pool`].
    ///
    /// ```
    /// use slackwater_h2frame::{CLIENT_PREFACE, FrameWriter};
    /// let mut out = Vec::new();
    /// FrameWriter::new().write_preface(&mut out).unwrap();
    /// assert_eq!(out, CLIENT_PREFACE);
    /// ```
    pub fn write_preface<W: ReadyWrite + ?Sized>(&self, out: &mut W) -> Result<(), Error> {
        out.queue(CLIENT_PREFACE).map_err(Error::from)
    }

    /// Encodes `frame` into `out`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the frame cannot be encoded (see the type docs); nothing is
    /// queued then. `out`'s errors, as [`Error::Io`] or [`Error::Pool`]: part of the frame may
    /// have been queued by then, so the connection's output is no longer usable.
    ///
    /// ```
    /// use slackwater_h2frame::{Data, Frame, FrameWriter, Payload};
    /// let w = FrameWriter::new();
    /// let mut out = Vec::new();
    /// let big = Frame::Data(Data { stream_id: 1, end_stream: false,
    ///                              data: Payload::from(vec![0; 20_000]), padding: None });
    /// assert!(w.write(&mut out, &big).is_err()); // over the default 16,384
    /// assert!(out.is_empty());
    /// ```
    pub fn write<W: ReadyWrite + ?Sized>(&self, out: &mut W, frame: &Frame) -> Result<(), Error> {
        let len = validate(frame, self.max_frame_size)?;
        encode_to(frame, len, out)
    }

    /// Encodes an unpadded DATA frame carrying `data` into `out`: its header, then `data`
    /// itself, copied once by `out` (no [`Payload`] built first: the way to send bytes the
    /// caller owns).
    ///
    /// # Errors
    /// [`Error::Invalid`] if `data` is longer than the peer's maximum frame size or
    /// `stream_id` has the reserved bit set (nothing queued); `out`'s errors, as
    /// [`write`](FrameWriter::write).
    ///
    /// ```
    /// use slackwater_h2frame::{decode, Frame, FrameWriter};
    /// let mut wire = Vec::new();
    /// FrameWriter::new().write_data(&mut wire, 3, true, b"hello").unwrap();
    /// let Frame::Data(d) = decode(&wire).unwrap().unwrap().0 else { panic!() };
    /// assert_eq!((d.stream_id, d.end_stream, &d.data[..]), (3, true, &b"hello"[..]));
    /// ```
    #[inline]
    pub fn write_data<W: ReadyWrite + ?Sized>(
        &self,
        out: &mut W,
        stream_id: u32,
        end_stream: bool,
        data: &[u8],
    ) -> Result<(), Error> {
        if data.len() > self.max_frame_size as usize {
            return Err(Error::Invalid("DATA longer than the peer's max frame size"));
        }
        if stream_id > STREAM_ID_MASK {
            return Err(Error::Invalid("stream id above 2^31 - 1"));
        }
        let mut head = Head::new(FrameHeader {
            length: data.len() as u32,
            kind: kind::DATA,
            flags: if end_stream { flags::END_STREAM } else { 0 },
            stream_id,
        });
        head.put_or_queue(out, data)?;
        head.flush(out)
    }

    /// Gives back `n` bytes of flow-control window on the connection and on `stream_id` (two
    /// WINDOW_UPDATE frames; none when `n` is 0, which is not a valid increment): what a
    /// receiver sends after consuming a DATA frame's
    /// [`flow_controlled_len`](crate::Data::flow_controlled_len).
    ///
    /// # Errors
    /// [`Error::Invalid`] if `n` or `stream_id` is above 2^31 − 1; the output's errors.
    ///
    /// ```
    /// use slackwater_h2frame::{decode, Frame, FrameWriter};
    /// let mut wire = Vec::new();
    /// FrameWriter::new().write_window_updates(&mut wire, 3, 100).unwrap();
    /// assert_eq!(wire.len(), 2 * 13);
    /// let Frame::WindowUpdate(w) = decode(&wire[13..]).unwrap().unwrap().0 else { panic!() };
    /// assert_eq!((w.stream_id, w.increment), (3, 100));
    /// ```
    pub fn write_window_updates<W: ReadyWrite + ?Sized>(
        &self,
        out: &mut W,
        stream_id: u32,
        n: u32,
    ) -> Result<(), Error> {
        if n == 0 {
            return Ok(());
        }
        for id in [0, stream_id] {
            let f = Frame::WindowUpdate(crate::WindowUpdate {
                stream_id: id,
                increment: n,
            });
            self.write(out, &f)?;
        }
        Ok(())
    }
}

/// Encodes one frame into a buffer of its exact size class from `pool` (no frame-size limit
/// beyond the 24-bit length field): for tests and one-off frames; a connection's frames go
/// through [`FrameWriter`] into its output.
///
/// # Errors
/// [`Error::Invalid`] as [`FrameWriter::write`]; [`Error::Pool`] if no buffer can be had.
///
/// ```
/// use slackwater_h2frame::{encode, Frame, Ping, global};
/// let b = encode(&Frame::Ping(Ping { ack: true, data: *b"deadbeef" }), global()).unwrap();
/// assert_eq!(&b[..9], &[0, 0, 8, 6, 1, 0, 0, 0, 0]);
/// ```
pub fn encode(frame: &Frame, pool: &Pool) -> Result<Buf, Error> {
    let len = validate(frame, MAX_FRAME_SIZE_LIMIT)?;
    let mut out = BufOut(pool.get(FRAME_HEADER_LEN + len)?);
    encode_to(frame, len, &mut out)?;
    Ok(out.0)
}

/// A buffer with room for a whole frame, as a [`ReadyWrite`] (for [`encode`]).
struct BufOut(Buf);

impl ReadyWrite for BufOut {
    fn queue(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.0
            .extend_from_slice(data)
            .map_err(|_| std::io::Error::other("internal: frame buffer too small"))
    }
    fn try_flush_ready(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush_ready(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn queued(&self) -> usize {
        0
    }
    fn is_write_full(&self) -> bool {
        false
    }
}

fn check_id(id: u32, what: &'static str) -> Result<(), Error> {
    if id > STREAM_ID_MASK {
        return Err(Error::Invalid(what));
    }
    Ok(())
}

fn check_pad(p: &Option<Payload>) -> Result<(), Error> {
    if p.as_ref().is_some_and(|p| p.len() > 255) {
        return Err(Error::Invalid("padding longer than 255 bytes"));
    }
    Ok(())
}

fn check_prio(p: &PrioritySpec) -> Result<(), Error> {
    check_id(p.dependency, "stream dependency over 31 bits")?;
    if !(1..=256).contains(&p.weight) {
        return Err(Error::Invalid("weight outside 1..=256"));
    }
    Ok(())
}

/// Checks `frame` can be encoded and returns its payload length.
fn validate(frame: &Frame, max: u32) -> Result<usize, Error> {
    check_id(frame.stream_id(), "stream id over 31 bits")?;
    match frame {
        Frame::Data(f) => check_pad(&f.padding)?,
        Frame::Headers(f) => {
            check_pad(&f.padding)?;
            if let Some(p) = &f.priority {
                check_prio(p)?;
            }
        }
        Frame::Priority(f) => check_prio(&f.spec)?,
        Frame::PushPromise(f) => {
            check_pad(&f.padding)?;
            check_id(f.promised_id, "promised stream id over 31 bits")?;
        }
        Frame::GoAway(f) => check_id(f.last_stream_id, "last stream id over 31 bits")?,
        Frame::WindowUpdate(f) => check_id(f.increment, "window increment over 31 bits")?,
        Frame::Unknown(f) => {
            if f.kind <= kind::CONTINUATION {
                return Err(Error::Invalid("unknown frame with a known type code"));
            }
        }
        Frame::RstStream(_) | Frame::Settings(_) | Frame::Ping(_) | Frame::Continuation(_) => {}
    }
    let len = frame.payload_len();
    if len > max as usize {
        return Err(Error::Invalid("frame longer than the maximum frame size"));
    }
    Ok(len)
}

/// The padding bytes of a frame (none when unpadded).
fn pad(p: &Option<Payload>) -> &[u8] {
    p.as_deref().unwrap_or(&[])
}

/// The 5 bytes of a priority field.
fn prio_bytes(p: &PrioritySpec) -> [u8; 5] {
    let word = p.dependency | if p.exclusive { 0x8000_0000 } else { 0 };
    let w = word.to_be_bytes();
    [w[0], w[1], w[2], w[3], (p.weight - 1) as u8]
}

/// Hands a validated frame (payload length `len`) to `out`: the header and fixed fields from
/// the stack, then the variable parts (each on the stack too while the frame fits there).
fn encode_to<W: ReadyWrite + ?Sized>(frame: &Frame, len: usize, out: &mut W) -> Result<(), Error> {
    let mut head = Head::new(FrameHeader {
        length: len as u32,
        kind: frame.kind(),
        flags: frame.flags(),
        stream_id: frame.stream_id(),
    });
    let pad_len = |p: &Option<Payload>| p.as_ref().map(|p| [p.len() as u8]);
    match frame {
        Frame::Data(f) => {
            if let Some(b) = pad_len(&f.padding) {
                head.put(&b);
            }
            head.put_or_queue(out, &f.data)?;
            head.put_or_queue(out, pad(&f.padding))?;
        }
        Frame::Headers(f) => {
            if let Some(b) = pad_len(&f.padding) {
                head.put(&b);
            }
            if let Some(p) = &f.priority {
                head.put(&prio_bytes(p));
            }
            head.put_or_queue(out, &f.fragment)?;
            head.put_or_queue(out, pad(&f.padding))?;
        }
        Frame::Priority(f) => head.put(&prio_bytes(&f.spec)),
        Frame::RstStream(f) => head.put(&f.error_code.0.to_be_bytes()),
        Frame::Settings(f) => head.put_or_queue(out, f.raw())?,
        Frame::PushPromise(f) => {
            if let Some(b) = pad_len(&f.padding) {
                head.put(&b);
            }
            head.put(&f.promised_id.to_be_bytes());
            head.put_or_queue(out, &f.fragment)?;
            head.put_or_queue(out, pad(&f.padding))?;
        }
        Frame::Ping(f) => head.put(&f.data),
        Frame::GoAway(f) => {
            head.put(&f.last_stream_id.to_be_bytes());
            head.put(&f.error_code.0.to_be_bytes());
            head.put_or_queue(out, &f.debug_data)?;
        }
        Frame::WindowUpdate(f) => head.put(&f.increment.to_be_bytes()),
        Frame::Continuation(f) => head.put_or_queue(out, &f.fragment)?,
        Frame::Unknown(f) => head.put_or_queue(out, &f.payload)?,
    }
    head.flush(out)
}
