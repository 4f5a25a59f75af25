//! [`FrameWriter`]: encodes frames into pooled buffers.

use crate::Error;
use crate::frame::*;
use slackwater_ready::{Buf, Pool, global};
use std::io;

/// Size asked of the pool for a write buffer when frames are small.
const WRITE_BUFFER_SIZE: usize = 16 * 1024;

/// Encodes frames into pooled buffers, for the sending side of a connection (and for tests).
///
/// Frames are appended to the last pending buffer while they fit; a frame that does not fit
/// goes into a new buffer of at least its size. [`flush_to`](FrameWriter::flush_to) writes the
/// pending buffers out and gives them back to the pool, so an idle writer holds none.
///
/// The writer checks only what the wire format needs: lengths against the peer's
/// `SETTINGS_MAX_FRAME_SIZE` ([`set_max_frame_size`](FrameWriter::set_max_frame_size),
/// default 16,384), padding ≤ 255 bytes, 31-bit ids and increments, weights 1..=256, unknown
/// type codes above 9. It does not stop you from sending frames the peer must reject (DATA on
/// stream 0, say), so it can drive conformance tests. Padding bytes are written as given.
///
/// ```
/// use slackwater_h2frame::{decode, Frame, FrameWriter, Setting, Settings};
/// let mut w = FrameWriter::new();
/// w.write(&Frame::Settings(Settings::new(&[Setting { id: 3, value: 100 }]))).unwrap();
/// let mut wire = Vec::new();
/// w.flush_to(&mut wire).unwrap();
/// assert_eq!(wire, [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]);
/// assert!(matches!(decode(&wire).unwrap().unwrap().0, Frame::Settings(_)));
/// ```
pub struct FrameWriter<'p> {
    pool: &'p Pool,
    max_frame_size: u32,
    bufs: Vec<Buf>,
}

impl FrameWriter<'static> {
    /// A writer using the [`global`] pool.
    ///
    /// ```
    /// let w = slackwater_h2frame::FrameWriter::new();
    /// assert_eq!(w.pending(), 0);
    /// ```
    pub fn new() -> Self {
        FrameWriter::with_pool(global())
    }
}

impl Default for FrameWriter<'static> {
    fn default() -> Self {
        FrameWriter::new()
    }
}

impl<'p> FrameWriter<'p> {
    /// A writer taking its buffers from `pool`.
    ///
    /// ```
    /// let pool = slackwater_h2frame::Pool::new();
    /// let w = slackwater_h2frame::FrameWriter::with_pool(&pool);
    /// ```
    pub fn with_pool(pool: &'p Pool) -> Self {
        FrameWriter {
            pool,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            bufs: Vec::new(),
        }
    }

    /// The peer's `SETTINGS_MAX_FRAME_SIZE`: longer frames are refused.
    ///
    /// # Errors
    /// [`Error::Invalid`] outside 16,384..=16,777,215.
    ///
    /// ```
    /// let mut w = slackwater_h2frame::FrameWriter::new();
    /// w.set_max_frame_size(1 << 20).unwrap();
    /// ```
    pub fn set_max_frame_size(&mut self, v: u32) -> Result<(), Error> {
        if !(DEFAULT_MAX_FRAME_SIZE..=MAX_FRAME_SIZE_LIMIT).contains(&v) {
            return Err(Error::Invalid("max frame size outside 16384..=16777215"));
        }
        self.max_frame_size = v;
        Ok(())
    }

    /// Appends the 24-byte client connection preface.
    ///
    /// # Errors
    /// [`Error::Pool`] if no buffer can be had.
    ///
    /// ```
    /// let mut w = slackwater_h2frame::FrameWriter::new();
    /// w.write_preface().unwrap();
    /// assert_eq!(w.pending(), 24);
    /// ```
    pub fn write_preface(&mut self) -> Result<(), Error> {
        self.room(CLIENT_PREFACE.len())?
            .extend_from_slice(CLIENT_PREFACE)
            .map_err(|_| Error::Invalid("internal: write buffer too small"))
    }

    /// Encodes `frame` at the end of the pending bytes.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the frame cannot be encoded (see the type docs); nothing is
    /// written then. [`Error::Pool`] if no buffer can be had.
    ///
    /// ```
    /// use slackwater_h2frame::{Data, Frame, FrameWriter, Payload};
    /// let mut w = FrameWriter::new();
    /// let big = Frame::Data(Data { stream_id: 1, end_stream: false,
    ///                              data: Payload::from(vec![0; 20_000]), padding: None });
    /// assert!(w.write(&big).is_err()); // over the default 16,384
    /// ```
    pub fn write(&mut self, frame: &Frame) -> Result<(), Error> {
        let len = validate(frame, self.max_frame_size)?;
        let buf = self.room(FRAME_HEADER_LEN + len)?;
        encode_into(frame, len, buf)
    }

    /// Encodes an unpadded DATA frame carrying `data`, copied once into the pending buffer
    /// (no [`Payload`] built first: the way to send bytes the caller owns).
    ///
    /// # Errors
    /// [`Error::Invalid`] if `data` is longer than the peer's maximum frame size or
    /// `stream_id` has the reserved bit set; [`Error::Pool`] if no buffer can be had.
    ///
    /// ```
    /// use slackwater_h2frame::{decode, Frame, FrameWriter};
    /// let mut w = FrameWriter::new();
    /// w.write_data(3, true, b"hello").unwrap();
    /// let mut wire = Vec::new();
    /// w.flush_to(&mut wire).unwrap();
    /// let Frame::Data(d) = decode(&wire).unwrap().unwrap().0 else { panic!() };
    /// assert_eq!((d.stream_id, d.end_stream, &d.data[..]), (3, true, &b"hello"[..]));
    /// ```
    pub fn write_data(
        &mut self,
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
        let header = FrameHeader {
            length: data.len() as u32,
            kind: kind::DATA,
            flags: if end_stream { flags::END_STREAM } else { 0 },
            stream_id,
        };
        let buf = self.room(FRAME_HEADER_LEN + data.len())?;
        // Both fit: `room` returned a buffer with that much spare capacity.
        let _ = buf.extend_from_slice(&header.encode());
        let _ = buf.extend_from_slice(data);
        Ok(())
    }

    /// Bytes encoded and not yet flushed.
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::FrameWriter::new().pending(), 0);
    /// ```
    pub fn pending(&self) -> usize {
        self.bufs.iter().map(|b| b.len()).sum()
    }

    /// Takes the pending buffers, in order (the writer then holds none).
    ///
    /// ```
    /// let mut w = slackwater_h2frame::FrameWriter::new();
    /// w.write_preface().unwrap();
    /// let bufs = w.take_buffers();
    /// assert_eq!(&bufs[0][..3], b"PRI");
    /// assert_eq!(w.pending(), 0);
    /// ```
    pub fn take_buffers(&mut self) -> Vec<Buf> {
        std::mem::take(&mut self.bufs)
    }

    /// Writes every pending byte to `w` (`write_all`), returning each buffer to the pool as
    /// soon as it is written.
    ///
    /// # Errors
    /// The first write error; the buffers not yet written stay pending (the one that failed
    /// may have been written in part, so the connection should be considered broken).
    ///
    /// ```
    /// let mut w = slackwater_h2frame::FrameWriter::new();
    /// w.write_preface().unwrap();
    /// let mut out = Vec::new();
    /// w.flush_to(&mut out).unwrap();
    /// assert_eq!(out.len(), 24);
    /// ```
    pub fn flush_to<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        let mut done = 0;
        let mut res = Ok(());
        for b in &self.bufs {
            if let Err(e) = w.write_all(b) {
                res = Err(e);
                break;
            }
            done += 1;
        }
        self.bufs.drain(..done);
        res?;
        w.flush()
    }

    /// The buffer to append `n` bytes to.
    fn room(&mut self, n: usize) -> Result<&mut Buf, Error> {
        let fits = self.bufs.last().is_some_and(|b| b.spare_capacity() >= n);
        if !fits {
            self.bufs.push(self.pool.get(n.max(WRITE_BUFFER_SIZE))?);
        }
        self.bufs
            .last_mut()
            .ok_or(Error::Invalid("internal: no write buffer"))
    }
}

impl std::fmt::Debug for FrameWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameWriter")
            .field("max_frame_size", &self.max_frame_size)
            .field("pending", &self.pending())
            .finish()
    }
}

/// Encodes one frame into a buffer of its exact size class from `pool` (no frame-size limit
/// beyond the 24-bit length field).
///
/// # Errors
/// As [`FrameWriter::write`].
///
/// ```
/// use slackwater_h2frame::{encode, Frame, Ping, global};
/// let b = encode(&Frame::Ping(Ping { ack: true, data: *b"deadbeef" }), global()).unwrap();
/// assert_eq!(&b[..9], &[0, 0, 8, 6, 1, 0, 0, 0, 0]);
/// ```
pub fn encode(frame: &Frame, pool: &Pool) -> Result<Buf, Error> {
    let len = validate(frame, MAX_FRAME_SIZE_LIMIT)?;
    let mut buf = pool.get(FRAME_HEADER_LEN + len)?;
    encode_into(frame, len, &mut buf)?;
    Ok(buf)
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

fn put(buf: &mut Buf, bytes: &[u8]) -> Result<(), Error> {
    buf.extend_from_slice(bytes)
        .map_err(|_| Error::Invalid("internal: write buffer too small"))
}

fn put_prio(buf: &mut Buf, p: &PrioritySpec) -> Result<(), Error> {
    let word = p.dependency | if p.exclusive { 0x8000_0000 } else { 0 };
    put(buf, &word.to_be_bytes())?;
    put(buf, &[(p.weight - 1) as u8])
}

/// Writes a validated frame (payload length `len`) into `buf`, which has room for it.
fn encode_into(frame: &Frame, len: usize, buf: &mut Buf) -> Result<(), Error> {
    let h = FrameHeader {
        length: len as u32,
        kind: frame.kind(),
        flags: frame.flags(),
        stream_id: frame.stream_id(),
    };
    put(buf, &h.encode())?;
    let pad_byte = |buf: &mut Buf, p: &Option<Payload>| match p {
        Some(p) => put(buf, &[p.len() as u8]),
        None => Ok(()),
    };
    let pad = |buf: &mut Buf, p: &Option<Payload>| match p {
        Some(p) => put(buf, p),
        None => Ok(()),
    };
    match frame {
        Frame::Data(f) => {
            pad_byte(buf, &f.padding)?;
            put(buf, &f.data)?;
            pad(buf, &f.padding)
        }
        Frame::Headers(f) => {
            pad_byte(buf, &f.padding)?;
            if let Some(p) = &f.priority {
                put_prio(buf, p)?;
            }
            put(buf, &f.fragment)?;
            pad(buf, &f.padding)
        }
        Frame::Priority(f) => put_prio(buf, &f.spec),
        Frame::RstStream(f) => put(buf, &f.error_code.0.to_be_bytes()),
        Frame::Settings(f) => put(buf, f.raw()),
        Frame::PushPromise(f) => {
            pad_byte(buf, &f.padding)?;
            put(buf, &f.promised_id.to_be_bytes())?;
            put(buf, &f.fragment)?;
            pad(buf, &f.padding)
        }
        Frame::Ping(f) => put(buf, &f.data),
        Frame::GoAway(f) => {
            put(buf, &f.last_stream_id.to_be_bytes())?;
            put(buf, &f.error_code.0.to_be_bytes())?;
            put(buf, &f.debug_data)
        }
        Frame::WindowUpdate(f) => put(buf, &f.increment.to_be_bytes()),
        Frame::Continuation(f) => put(buf, &f.fragment),
        Frame::Unknown(f) => put(buf, &f.payload),
    }
}
