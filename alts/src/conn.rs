//! [`Conn`]: ALTS records over a ready transport, holding no buffer while idle.

use crate::frame::{self, Header};
use crate::{AltsError, Crypter};
use slackwater_ready::{Buf, Pool, ReadyRead};
use std::io;

/// Bytes asked of the transport when a record starts and no record has been seen yet.
const DEFAULT_READ_SIZE: usize = 32 * 1024;
/// The least asked of the transport when a record starts (several small records per read).
const MIN_READ_SIZE: usize = 4096;
/// The most asked of the transport when a record starts; larger records grow as they arrive.
const MAX_READ_SIZE: usize = 64 * 1024;
/// A plaintext this many times smaller than its buffer is copied out rather than handed out,
/// so a caller keeping it does not pin the large buffer.
const PIN_RATIO: usize = 16;
/// Most bytes of frames [`Conn`]'s `io::Write` encrypts into one buffer before writing it.
const WRITE_BATCH: usize = 64 * 1024;

/// An ALTS record-protocol connection over a transport `T` (`ReadyRead` to read,
/// `io::Write` to write), byte-compatible with gRPC-Go's `conn`.
///
/// **Reading holds no buffer while idle.** A record is read into a pooled buffer taken only
/// when the transport is readable, decrypted in place, and handed out as that same buffer
/// advanced past the 8-byte header (no copy). Several complete records read at once are
/// decrypted in place and their plaintexts moved together; bytes of a following, incomplete
/// record are moved to a buffer of their own (whichever of the two is smaller is copied). A
/// partial record keeps its buffer, grown to a larger class only when the record needs it
/// (at most doubling, and never past the read limit). Before waiting for the rest of a
/// record, its received part moves into the smallest pool class that holds the whole record
/// (256 B while only part of the header is there), so a connection waiting in mid-record pins
/// one buffer of that class at most. Once nothing (decrypted or not) is left, no buffer is
/// held.
///
/// * `Conn` implements [`ReadyRead`] (both forms: a transport `WouldBlock` in the middle of a
///   record keeps the partial record and returns `WouldBlock`), so an HTTP/2 frame reader can
///   sit on top; and [`io::Read`] + [`io::Write`].
/// * Empty records are skipped. A stream ending inside a record is
///   [`UnexpectedEof`](io::ErrorKind::UnexpectedEof), not a clean end.
/// * Framing errors, a failed tag check and an exhausted counter are fatal: the same error is
///   returned by every later read. Errors reach `io` callers as `io::Error`s whose inner error
///   is the [`AltsError`] (see [`AltsError::from_io`]).
/// * Writes are split into frames of [`frame_size`](Conn::set_frame_size) bytes (default
///   4096: 4072 bytes of payload each).
///
/// ```
/// use slackwater_alts::{Backend, Conn, Crypter, Protocol, Side};
/// use slackwater_ready::{Pool, ReadyFd, ReadyRead};
/// use std::io::Write;
///
/// let pool = Pool::new();
/// let key = [7u8; 44];
/// let crypter = |side| Crypter::new(Protocol::Aes128GcmRekey, side, &key, Backend::default()).unwrap();
/// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let mut client = Conn::new(ReadyFd::new(a).unwrap(), crypter(Side::Client), &pool);
/// let mut server = Conn::new(ReadyFd::new(b).unwrap(), crypter(Side::Server), &pool);
/// client.write_all(b"hello over ALTS").unwrap();
/// let plaintext = server.read_on_ready(4096, &pool).unwrap().unwrap();
/// assert_eq!(&plaintext[..], b"hello over ALTS");
/// drop(plaintext);
/// assert_eq!(pool.stats().in_use(), 0); // an idle conn holds nothing
/// ```
pub struct Conn<'p, T> {
    transport: T,
    crypter: Crypter,
    pool: &'p Pool,
    /// Bytes read and not yet decrypted; always starts at a record boundary.
    rx: Option<Buf>,
    /// Plaintext decrypted but not yet read through `io::Read`/`append`.
    pending: Option<Buf>,
    /// The fatal error every later read returns.
    dead: Option<AltsError>,
    eof: bool,
    /// The stream ended inside a record: every later read is `UnexpectedEof`.
    truncated: bool,
    /// A write failed after frames were sealed: the record stream may be cut mid-frame, so
    /// every later write fails.
    write_failed: bool,
    read_limit: usize,
    frame_size: usize,
    /// Bytes asked of the transport when a record starts: the size of the last complete
    /// record (at least `MIN_READ_SIZE`), so a stream of equal records is read one record per
    /// read, with no partial record left over to move.
    read_size: usize,
}

impl<'p, T> Conn<'p, T> {
    /// A connection over `transport` using `crypter`, taking its buffers from `pool`.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c, slackwater_ready::global());
    /// ```
    pub fn new(transport: T, crypter: Crypter, pool: &'p Pool) -> Self {
        Conn {
            transport,
            crypter,
            pool,
            rx: None,
            pending: None,
            dead: None,
            eof: false,
            truncated: false,
            write_failed: false,
            read_limit: frame::DEFAULT_READ_LIMIT,
            frame_size: frame::DEFAULT_FRAME_SIZE,
            read_size: DEFAULT_READ_SIZE,
        }
    }

    /// Bytes the handshake read past its end (the first bytes of the record stream).
    ///
    /// # Errors
    /// `OutOfMemory` if the pool cannot allocate.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c, slackwater_ready::global())
    ///     .with_leftover(&[]).unwrap();
    /// ```
    pub fn with_leftover(mut self, bytes: &[u8]) -> io::Result<Self> {
        if !bytes.is_empty() {
            let mut b = self.pool.get(bytes.len().max(self.read_size))?;
            b.extend_from_slice(bytes).map_err(io::Error::other)?;
            self.rx = Some(b);
        }
        Ok(self)
    }

    /// Sets the largest accepted `len` field (default 1 MiB). Larger frames are rejected as
    /// soon as their 4 length bytes arrive, before anything is allocated for them.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let mut conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c, slackwater_ready::global());
    /// conn.set_read_limit(64 * 1024);
    /// ```
    pub fn set_read_limit(&mut self, limit: usize) {
        // The `len` field is a u32: a larger limit means no limit, and keeps `4 + len` in range.
        self.read_limit = limit.clamp(frame::MIN_LEN, u32::MAX as usize - frame::LEN_FIELD);
    }

    /// Sets the size of written frames, length field included (negotiated: 4 KiB to 512 KiB).
    ///
    /// # Errors
    /// `InvalidInput` outside that range.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let mut conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c, slackwater_ready::global());
    /// conn.set_frame_size(16 * 1024).unwrap();
    /// assert!(conn.set_frame_size(100).is_err());
    /// ```
    pub fn set_frame_size(&mut self, size: usize) -> io::Result<()> {
        if !(frame::MIN_FRAME_SIZE..=frame::MAX_FRAME_SIZE).contains(&size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ALTS frame size must be between 4 KiB and 512 KiB",
            ));
        }
        self.frame_size = size;
        Ok(())
    }

    /// The most payload one written frame carries.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c, slackwater_ready::global());
    /// assert_eq!(conn.max_payload(), 4072);
    /// ```
    pub fn max_payload(&self) -> usize {
        self.frame_size - frame::OVERHEAD
    }

    /// Whether the conn holds a buffer now (a partial record or unread plaintext).
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c, slackwater_ready::global());
    /// assert!(!conn.holds_buffer());
    /// ```
    pub fn holds_buffer(&self) -> bool {
        self.rx.is_some() || self.pending.is_some()
    }

    /// Drops the AEAD key schedules of both directions (about 1 KiB of heap with the
    /// `aes-gcm` backend, zeroized); the next record sealed or opened rebuilds its direction's
    /// schedule — from the stored key for `ALTSRP_GCM_AES128`, with one HMAC-SHA256 for the
    /// rekey protocol. For event loops, once a connection has gone quiet (no buffer held,
    /// nothing queued): then an idle connection keeps only its raw key material. The cost is
    /// that rebuild on the next wake-up, so call it when the connection goes idle, not after
    /// every read.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let mut conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c, slackwater_ready::global());
    /// conn.release_key_schedules();
    /// let mut out = slackwater_ready::global().get(64).unwrap();
    /// conn.seal_record(b"hi", &mut out).unwrap(); // rebuilt on use
    /// ```
    pub fn release_key_schedules(&mut self) {
        self.crypter.release_key_schedules();
    }

    /// The transport.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c, slackwater_ready::global());
    /// let _ = conn.get_ref();
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably (reading from it directly would desynchronize the records).
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let mut conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c, slackwater_ready::global());
    /// let _ = conn.get_mut();
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Encrypts `payload` (at most [`max_payload`](Conn::max_payload) bytes; an empty payload
    /// makes an empty record) as one frame appended to `out`.
    ///
    /// # Errors
    /// [`AltsError::FrameTooLarge`] if the payload is too large for a frame or `out` lacks
    /// room for it; [`AltsError::CounterExhausted`].
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let mut conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c, slackwater_ready::global());
    /// let mut out = slackwater_ready::global().get(4096).unwrap();
    /// conn.seal_record(b"abc", &mut out).unwrap();
    /// assert_eq!(out.len(), 3 + 24);
    /// ```
    pub fn seal_record(&mut self, payload: &[u8], out: &mut Buf) -> Result<(), AltsError> {
        let total = payload.len() + frame::OVERHEAD;
        if payload.len() > self.max_payload() || total > out.spare_capacity() {
            return Err(AltsError::FrameTooLarge {
                len: total - frame::LEN_FIELD,
                limit: self.frame_size,
            });
        }
        let start = out.len();
        let len = (total - frame::LEN_FIELD) as u32;
        let mut header = [0u8; frame::HEADER];
        header[..4].copy_from_slice(&len.to_le_bytes());
        header[4..].copy_from_slice(&frame::MSG_TYPE.to_le_bytes());
        // Both fit: checked against the spare capacity above.
        let _ = out.extend_from_slice(&header);
        let _ = out.extend_from_slice(payload);
        let body = start + frame::HEADER;
        let tag = match self.crypter.seal(&mut out[body..]) {
            Ok(t) => t,
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        };
        let _ = out.extend_from_slice(&tag);
        Ok(())
    }

    /// Encrypts as much of `data` as fits into `out` as whole frames; returns the bytes of
    /// `data` consumed. For event loops that queue encrypted output in pooled buffers.
    ///
    /// # Errors
    /// [`AltsError::CounterExhausted`].
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let mut conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c, slackwater_ready::global());
    /// let mut out = slackwater_ready::global().get(16 * 1024).unwrap();
    /// let n = conn.seal_into(&[1; 10_000], &mut out).unwrap();
    /// assert_eq!(n, 10_000);
    /// assert_eq!(out.len(), 10_000 + 3 * 24); // three frames
    /// ```
    pub fn seal_into(&mut self, data: &[u8], out: &mut Buf) -> Result<usize, AltsError> {
        let mut done = 0;
        while done < data.len() {
            let room = out.spare_capacity().saturating_sub(frame::OVERHEAD);
            let n = (data.len() - done).min(self.max_payload()).min(room);
            if n == 0 {
                break;
            }
            self.seal_record(&data[done..done + n], out)?;
            done += n;
        }
        Ok(done)
    }
}

impl<T: ReadyRead> Conn<'_, T> {
    fn fail(&mut self, e: AltsError) -> io::Error {
        if let Some(fatal) = e.fatal_copy() {
            self.dead = Some(fatal);
            self.rx = None;
        }
        e.into()
    }

    /// The next plaintext (one or more records), reading from the transport as needed.
    fn next_plaintext(&mut self, pool: &Pool, blocking: bool) -> io::Result<Option<Buf>> {
        if let Some(p) = self.pending.take() {
            return Ok(Some(p));
        }
        if let Some(e) = &self.dead {
            return Err(e
                .fatal_copy()
                .unwrap_or(AltsError::AuthenticationFailed)
                .into());
        }
        loop {
            if self.rx.is_some() {
                match self.decrypt_ready(pool) {
                    Ok(Some(p)) => return Ok(Some(p)),
                    Ok(None) => {}
                    Err(e) => return Err(self.fail(e)),
                }
            }
            if self.eof {
                if self.rx.take().is_some() {
                    self.truncated = true;
                }
                if self.truncated {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the stream ended inside an ALTS record",
                    ));
                }
                return Ok(None);
            }
            match self.rx.as_mut() {
                None => {
                    let got = if blocking {
                        self.transport.read_on_ready(self.read_size, pool)?
                    } else {
                        self.transport.try_read_ready(self.read_size, pool)?
                    };
                    match got {
                        None => self.eof = true,
                        Some(b) => self.rx = Some(b),
                    }
                }
                Some(_) => {
                    let need = match self.make_room(pool) {
                        Ok(n) => n,
                        Err(e) => return Err(self.fail(e)),
                    };
                    let rx = self.rx.as_mut().expect("checked above");
                    let n = match self.transport.try_append_ready(rx, need) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            // About to wait holding a partial record: keep only what it needs.
                            if let Err(e) = self.shrink(pool) {
                                return Err(self.fail(e));
                            }
                            if !blocking {
                                return Err(e);
                            }
                            let need = match self.make_room(pool) {
                                Ok(n) => n,
                                Err(e) => return Err(self.fail(e)),
                            };
                            let rx = self.rx.as_mut().expect("checked above");
                            self.transport.append_on_ready(rx, need)?
                        }
                        r => r?,
                    };
                    if n == 0 {
                        self.eof = true;
                    }
                }
            }
        }
    }

    /// Makes `rx` able to hold the rest of its first (partial) record; returns how many more
    /// bytes that record needs.
    fn make_room(&mut self, pool: &Pool) -> Result<usize, AltsError> {
        let rx = self.rx.as_mut().expect("called with a partial record");
        let total = match frame::parse_header(rx, self.read_limit)? {
            Header::Need(n) => n,
            Header::Frame { total } => total,
        };
        let have = rx.len();
        // Grow with the bytes actually received (at most doubling), so a peer that announces
        // a large record and goes quiet pins little: never more than twice what it sent (or
        // one read buffer), and never past the read limit + 4. A buffer is replaced only when
        // it is full (or smaller than one read), so a record dribbled in small pieces costs
        // O(log n) buffers and copies, not one per piece, also above the largest class where
        // buffers are exact-size.
        let target = total.min(have.saturating_mul(2).max(DEFAULT_READ_SIZE));
        let floor = total.min(DEFAULT_READ_SIZE);
        if rx.capacity() < total && (rx.capacity() < floor || have >= rx.capacity()) {
            let mut bigger = pool.get(target).map_err(AltsError::from)?;
            let _ = bigger.extend_from_slice(rx);
            *rx = bigger;
        } else if rx.spare_capacity() < total - have {
            rx.compact();
        }
        Ok((total - have).min(rx.spare_capacity()))
    }

    /// Before a wait in the middle of a record: if its received part sits in a buffer of a
    /// larger class than the whole record needs (its 8-byte header while the length is not
    /// known), move it into the smallest class that holds it, so a connection waiting for
    /// the rest of a record pins no more than that record's class.
    fn shrink(&mut self, pool: &Pool) -> Result<(), AltsError> {
        let rx = self.rx.as_mut().expect("called with a partial record");
        let total = match frame::parse_header(rx, self.read_limit)? {
            Header::Need(_) => frame::HEADER,
            Header::Frame { total } => total,
        };
        let fits = pool.config().capacity_for(total);
        if rx.capacity() > fits {
            let mut smaller = pool.get(total).map_err(AltsError::from)?;
            let _ = smaller.extend_from_slice(rx);
            *rx = smaller;
        }
        Ok(())
    }

    /// Decrypts every complete record at the front of `rx` in place and returns their
    /// plaintext, or `None` if no complete non-empty record is there yet.
    fn decrypt_ready(&mut self, pool: &Pool) -> Result<Option<Buf>, AltsError> {
        let rx = self.rx.as_mut().expect("called with rx");
        let mut r = 0; // start of the next record in rx
        let mut plain = 0; // plaintext bytes gathered at rx[HEADER..]
        let mut last_total = 0;
        loop {
            // An error after some plaintext: hand the plaintext out first; the failing record
            // stays at the front of `rx` (its counter not advanced), so the next call fails
            // on it again.
            let total = match frame::parse_header(&rx[r..], self.read_limit) {
                Ok(Header::Need(_)) => break,
                Ok(Header::Frame { total }) => total,
                Err(e) if plain == 0 => return Err(e),
                Err(_) => break,
            };
            if rx.len() - r < total {
                break;
            }
            last_total = total;
            let body = r + frame::HEADER;
            let tag_at = r + total - crate::aead::TAG_LEN;
            let (data, tag) = rx[body..r + total].split_at_mut(tag_at - body);
            let tag: [u8; crate::aead::TAG_LEN] = (&*tag).try_into().unwrap_or_default();
            match self.crypter.open(data, &tag) {
                Ok(()) => {}
                Err(e) if plain == 0 => return Err(e),
                // The in-place open may have clobbered this record; it is fatal anyway.
                Err(_) => break,
            }
            let n = tag_at - body;
            if body != frame::HEADER + plain {
                rx.copy_within(body..tag_at, frame::HEADER + plain);
            }
            plain += n;
            r += total;
        }
        if r == 0 {
            return Ok(None);
        }
        self.read_size = last_total.clamp(MIN_READ_SIZE, MAX_READ_SIZE);
        let tail = rx.len() - r;
        if plain == 0 {
            // Only empty records: drop them, keep any partial record.
            rx.advance(r);
            if rx.is_empty() {
                self.rx = None;
            }
            return Ok(None);
        }
        if tail == 0 {
            if plain.saturating_mul(PIN_RATIO) < rx.capacity() {
                let mut out = pool.get(plain)?;
                let _ = out.extend_from_slice(&rx[frame::HEADER..frame::HEADER + plain]);
                self.rx = None;
                return Ok(Some(out));
            }
            let mut out = self.rx.take().expect("checked above");
            out.advance(frame::HEADER);
            out.truncate(plain);
            return Ok(Some(out));
        }
        // A partial record follows: copy whichever is smaller out of the shared buffer. (If
        // the pool fails here the records are already opened: the error is fatal.)
        if plain <= tail {
            let mut out = pool.get(plain)?;
            let _ = out.extend_from_slice(&rx[frame::HEADER..frame::HEADER + plain]);
            rx.advance(r);
            Ok(Some(out))
        } else {
            let mut rest = pool.get(tail.max(self.read_size))?;
            let _ = rest.extend_from_slice(&rx[r..]);
            let mut out = self.rx.replace(rest).expect("checked above");
            out.advance(frame::HEADER);
            out.truncate(plain);
            Ok(Some(out))
        }
    }

    /// Copies plaintext into `dst`, keeping the rest for the next call.
    fn copy_out(&mut self, mut p: Buf, dst: &mut [u8]) -> usize {
        let n = p.len().min(dst.len());
        dst[..n].copy_from_slice(&p[..n]);
        p.advance(n);
        if !p.is_empty() {
            self.pending = Some(p);
        }
        n
    }
}

impl<T: ReadyRead> ReadyRead for Conn<'_, T> {
    /// Returns the plaintext of the next record(s) in the buffer it was read into: at least
    /// one byte, possibly more than `size` (a whole record).
    fn read_on_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        let _ = size;
        self.next_plaintext(pool, true)
    }

    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        let _ = size;
        self.next_plaintext(pool, false)
    }

    fn read_ready_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        let pool = self.pool;
        match self.next_plaintext(pool, true)? {
            None => Ok(0),
            Some(p) => Ok(self.copy_out(p, dst)),
        }
    }

    fn append_on_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append(buf, max, true)
    }

    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append(buf, max, false)
    }
}

impl<T: ReadyRead> Conn<'_, T> {
    fn append(&mut self, buf: &mut Buf, max: usize, blocking: bool) -> io::Result<usize> {
        let max = max.min(buf.spare_capacity());
        if max == 0 {
            return Ok(0);
        }
        let pool = self.pool;
        match self.next_plaintext(pool, blocking)? {
            None => Ok(0),
            Some(mut p) => {
                let n = p.len().min(max);
                let _ = buf.extend_from_slice(&p[..n]);
                p.advance(n);
                if !p.is_empty() {
                    self.pending = Some(p);
                }
                Ok(n)
            }
        }
    }
}

impl<T: ReadyRead> io::Read for Conn<'_, T> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        self.read_ready_into(dst)
    }
}

impl<T: io::Write> io::Write for Conn<'_, T> {
    /// Encrypts up to 64 KiB of `data` into frames in one pooled buffer and writes them all to
    /// the transport; returns the bytes of `data` consumed.
    ///
    /// If writing to the transport fails after frames were sealed, part of a frame may be on
    /// the wire and the counter has moved on: the write side is then broken for good (every
    /// later write fails with `BrokenPipe`). Event loops that need to retry use
    /// [`seal_into`](Conn::seal_into) and keep the unsent bytes themselves.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.write_failed {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "an earlier write to the transport failed inside a frame",
            ));
        }
        if data.is_empty() {
            return Ok(0);
        }
        let frames = data.len().div_ceil(self.max_payload());
        let want = (data.len() + frames * frame::OVERHEAD).min(WRITE_BATCH.max(self.frame_size));
        let mut out = self.pool.get(want)?;
        let n = self.seal_into(data, &mut out)?;
        if let Err(e) = self.transport.write_all(&out) {
            self.write_failed = true;
            return Err(e);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.transport.flush()
    }
}

impl<T> std::fmt::Debug for Conn<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("protocol", &self.crypter.protocol())
            .field("side", &self.crypter.side())
            .field("holds_buffer", &self.holds_buffer())
            .field("dead", &self.dead)
            .finish_non_exhaustive()
    }
}
