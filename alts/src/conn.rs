//! [`Conn`]: ALTS records over a ready transport, holding no buffer while idle.

use crate::frame::{self, framing};
use crate::{AltsError, Crypter};
use slackwater_ready::{
    Assembler, Buf, Pool, PoolHandle, ReadyRead, ReadyWrite, RecordError, is_transient,
};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// Bytes asked of the transport when a record starts.
const DEFAULT_READ_SIZE: usize = 32 * 1024;
/// A plaintext this many times smaller than its buffer is copied out rather than handed out,
/// so a caller keeping it does not pin the large buffer.
const PIN_RATIO: usize = 16;
/// The least a buffer of sealed records asks of the pool (records are packed into it until
/// it is full or flushed).
const OUT_BUFFER: usize = 32 * 1024;
/// Most plaintext [`Conn`]'s blocking `io::Write` seals before it flushes.
const WRITE_BATCH: usize = 64 * 1024;

/// Settings of a [`Conn`], made with [`Config::builder`] (every value checked in
/// [`build`](ConfigBuilder::build)).
///
/// ```
/// use slackwater_alts::Config;
/// let cfg = Config::builder().frame_size(16 * 1024).read_limit(64 * 1024).build().unwrap();
/// assert_eq!((cfg.frame_size(), cfg.max_payload()), (16 * 1024, 16 * 1024 - 24));
/// assert!(Config::builder().frame_size(100).build().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    read_limit: usize,
    frame_size: usize,
    read_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

impl Config {
    /// The defaults: read limit 1 MiB (gRPC-Go's), written frames of 4096 bytes (4072 of
    /// payload), reads of 32 KiB at a record boundary.
    pub const DEFAULT: Config = Config {
        read_limit: frame::DEFAULT_READ_LIMIT,
        frame_size: frame::DEFAULT_FRAME_SIZE,
        read_size: DEFAULT_READ_SIZE,
    };

    /// A builder starting from the defaults.
    ///
    /// ```
    /// let cfg = slackwater_alts::Config::builder().build().unwrap();
    /// assert_eq!(cfg, slackwater_alts::Config::DEFAULT);
    /// ```
    pub const fn builder() -> ConfigBuilder {
        ConfigBuilder {
            cfg: Config::DEFAULT,
        }
    }

    /// The largest accepted `len` field.
    ///
    /// ```
    /// assert_eq!(slackwater_alts::Config::DEFAULT.read_limit(), 1 << 20);
    /// ```
    pub const fn read_limit(&self) -> usize {
        self.read_limit
    }

    /// The size of written frames, length field included.
    ///
    /// ```
    /// assert_eq!(slackwater_alts::Config::DEFAULT.frame_size(), 4096);
    /// ```
    pub const fn frame_size(&self) -> usize {
        self.frame_size
    }

    /// The most payload one written frame carries.
    ///
    /// ```
    /// assert_eq!(slackwater_alts::Config::DEFAULT.max_payload(), 4072);
    /// ```
    pub const fn max_payload(&self) -> usize {
        self.frame_size - frame::OVERHEAD
    }

    /// Bytes asked of the transport at a record boundary.
    ///
    /// ```
    /// assert_eq!(slackwater_alts::Config::DEFAULT.read_size(), 32 * 1024);
    /// ```
    pub const fn read_size(&self) -> usize {
        self.read_size
    }
}

/// Builds a [`Config`]; see [`Config::builder`].
#[derive(Clone, Copy, Debug)]
pub struct ConfigBuilder {
    cfg: Config,
}

impl ConfigBuilder {
    /// The largest accepted `len` field (default 1 MiB): larger frames are rejected as soon as
    /// their 4 length bytes arrive, before anything is allocated for them. 20 (an empty
    /// record) to 2^32 − 5 (the most a `u32` length field can say).
    ///
    /// ```
    /// let cfg = slackwater_alts::Config::builder().read_limit(64 * 1024).build().unwrap();
    /// assert!(slackwater_alts::Config::builder().read_limit(10).build().is_err());
    /// ```
    pub const fn read_limit(mut self, limit: usize) -> Self {
        self.cfg.read_limit = limit;
        self
    }

    /// The size of written frames, length field included (negotiated: 4 KiB to 512 KiB;
    /// default 4096).
    ///
    /// ```
    /// let cfg = slackwater_alts::Config::builder().frame_size(16 * 1024).build().unwrap();
    /// ```
    pub const fn frame_size(mut self, size: usize) -> Self {
        self.cfg.frame_size = size;
        self
    }

    /// Bytes asked of the transport at a record boundary (at least 64; default 32 KiB).
    ///
    /// ```
    /// let cfg = slackwater_alts::Config::builder().read_size(16 * 1024).build().unwrap();
    /// ```
    pub const fn read_size(mut self, size: usize) -> Self {
        self.cfg.read_size = size;
        self
    }

    /// The configuration.
    ///
    /// # Errors
    /// [`AltsError::InvalidConfig`] naming the value out of range.
    ///
    /// ```
    /// use slackwater_alts::{AltsError, Config};
    /// let e = Config::builder().frame_size(1 << 20).build().unwrap_err();
    /// assert!(matches!(e, AltsError::InvalidConfig(_)));
    /// ```
    pub const fn build(self) -> Result<Config, AltsError> {
        let c = self.cfg;
        if c.read_limit < frame::MIN_LEN || c.read_limit > u32::MAX as usize - frame::LEN_FIELD {
            return Err(AltsError::InvalidConfig(
                "read limit outside 20..=4294967291 bytes",
            ));
        }
        if c.frame_size < frame::MIN_FRAME_SIZE || c.frame_size > frame::MAX_FRAME_SIZE {
            return Err(AltsError::InvalidConfig(
                "frame size outside 4 KiB..=512 KiB",
            ));
        }
        if c.read_size < 64 {
            return Err(AltsError::InvalidConfig("read size below 64 bytes"));
        }
        Ok(c)
    }
}

/// An ALTS record-protocol connection over a transport `T` ([`ReadyRead`] to read,
/// [`ReadyWrite`] to write), byte-compatible with gRPC-Go's `conn`.
///
/// **Reading holds no buffer while idle.** Records are cut from the byte stream by
/// [`slackwater_ready::Assembler`] (its docs state what a partial record may hold and why),
/// read into a pooled buffer taken only when the transport is readable, decrypted in place,
/// and handed out as that same buffer advanced past the 8-byte header (no copy). Several
/// complete records read at once are decrypted in place and their plaintexts moved together;
/// bytes of a following, incomplete record are moved to a buffer of their own (whichever of
/// the two is smaller is copied). A plaintext 16 times smaller than its buffer is copied out,
/// so a caller keeping it does not pin the large buffer. Once nothing (decrypted or not) is
/// left, no buffer is held.
///
/// **Writing holds no buffer while idle either.** [`ReadyWrite::queue`] copies plaintext once,
/// into the payload area of an open record in a pooled buffer; a record is sealed in place
/// when it is full or at a flush, and its buffer is handed to the transport's write queue
/// (for [`ReadyFd`](slackwater_ready::ReadyFd): pooled buffers kept only while the socket
/// refuses them). The blocking [`io::Write`] is a thin layer over that.
///
/// * `Conn` implements [`ReadyRead`] (both forms: a transport `WouldBlock` in the middle of a
///   record keeps the partial record and returns `WouldBlock`), so an HTTP/2 frame reader can
///   sit on top; [`ReadyWrite`], so a frame writer can encode straight into records;
///   [`io::Read`] + [`io::Write`]; `AsFd`/`AsRawFd` of the transport.
/// * Empty records are skipped. A stream ending inside a record is
///   [`AltsError::Truncated`], not a clean end.
/// * Fatal errors ([`AltsError::is_fatal`]: framing errors, a failed tag check, an exhausted
///   counter, a truncated stream, a transport reset) are returned again by every later read
///   (or write, on the write side); a reset never later reads as a clean end of stream.
///   `io` callers get `io::Error`s whose inner error is the [`AltsError`] (see
///   [`AltsError::from_io`]).
///
/// ```
/// use slackwater_alts::{Backend, Conn, Crypter, Protocol, Side};
/// use slackwater_ready::{Pool, PoolHandle, ReadyFd, ReadyRead, ReadyWrite};
///
/// let pool = PoolHandle::from(Pool::new());
/// let key = [7u8; 44];
/// let crypter = |side| Crypter::new(Protocol::Aes128GcmRekey, side, &key, Backend::default()).unwrap();
/// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let mut client = Conn::new(ReadyFd::new(a).unwrap(), crypter(Side::Client)).with_pool(pool.clone());
/// let mut server = Conn::new(ReadyFd::new(b).unwrap(), crypter(Side::Server)).with_pool(pool.clone());
/// client.queue(b"hello over ALTS").unwrap();   // sealed into a pooled record buffer
/// client.try_flush_ready().unwrap();            // and written: nothing left queued
/// let plaintext = server.read_ready(4096, &pool).unwrap().unwrap();
/// assert_eq!(&plaintext[..], b"hello over ALTS");
/// drop(plaintext);
/// assert_eq!(pool.stats().in_use(), 0); // idle conns hold nothing
/// ```
pub struct Conn<T> {
    transport: T,
    crypter: Crypter,
    pool: PoolHandle,
    /// [`Config::read_limit`] and [`Config::frame_size`] (both fit `u32`: the read limit is
    /// at most 2^32 − 5, frames at most 512 KiB); the read size is the assembler's.
    read_limit: u32,
    frame_size: u32,
    /// Ciphertext read and not yet decrypted; always starts at a record boundary.
    asm: Assembler,
    /// Plaintext decrypted but not yet read through `io::Read`/`append`.
    pending: Option<Buf>,
    /// The fatal error every later read returns.
    read_dead: Option<Box<AltsError>>,
    /// Sealed records not yet handed to the transport, then the open record (if `open`).
    out: Option<Buf>,
    /// Where the open record starts in `out` (within a buffer of at most 512 KiB).
    open_at: u32,
    open: bool,
    /// The fatal error every later write returns.
    write_dead: Option<Box<AltsError>>,
}

impl<T> Conn<T> {
    /// A connection over `transport` using `crypter`, with the default [`Config`] and the
    /// global pool.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c);
    /// ```
    pub fn new(transport: T, crypter: Crypter) -> Self {
        Conn {
            transport,
            crypter,
            pool: PoolHandle::default(),
            read_limit: Config::DEFAULT.read_limit as u32,
            frame_size: Config::DEFAULT.frame_size as u32,
            asm: Assembler::new(DEFAULT_READ_SIZE),
            pending: None,
            read_dead: None,
            out: None,
            open_at: 0,
            open: false,
            write_dead: None,
        }
    }

    /// Takes buffers from `pool` (for reads through `io::Read` and for writes; reads through
    /// [`ReadyRead`] use the pool they are given).
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let pool = slackwater_ready::PoolHandle::from(slackwater_ready::Pool::new());
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c).with_pool(pool);
    /// ```
    pub fn with_pool(mut self, pool: impl Into<PoolHandle>) -> Self {
        self.pool = pool.into();
        self
    }

    /// Uses `cfg` (made with [`Config::builder`], so already checked).
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let cfg = Config::builder().frame_size(16 * 1024).build().unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c).with_config(cfg);
    /// assert_eq!(conn.config().max_payload(), 16 * 1024 - 24);
    /// ```
    pub fn with_config(mut self, cfg: Config) -> Self {
        // `build` checked both ranges.
        self.read_limit = cfg.read_limit as u32;
        self.frame_size = cfg.frame_size as u32;
        self.asm.set_read_size(cfg.read_size);
        self
    }

    /// Bytes the handshake read past its end (the first bytes of the record stream).
    ///
    /// # Errors
    /// [`AltsError::OutOfMemory`] if the pool cannot allocate.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c)
    ///     .with_leftover(&[]).unwrap();
    /// ```
    pub fn with_leftover(mut self, bytes: &[u8]) -> Result<Self, AltsError> {
        self.asm.prepend(bytes, &self.pool)?;
        Ok(self)
    }

    /// The configuration.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c);
    /// assert_eq!(conn.config().max_payload(), 4072);
    /// ```
    pub fn config(&self) -> Config {
        Config {
            read_limit: self.read_limit as usize,
            frame_size: self.frame_size as usize,
            read_size: self.asm.read_size(),
        }
    }

    fn max_payload(&self) -> usize {
        self.frame_size as usize - frame::OVERHEAD
    }

    /// Whether the read side holds a buffer now (a partial record or unread plaintext).
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c);
    /// assert!(!conn.holds_buffer());
    /// ```
    pub fn holds_buffer(&self) -> bool {
        self.asm.holds_buffer() || self.pending.is_some()
    }

    /// Bytes of memory the read side pins now (the capacity of the buffers it holds).
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c);
    /// assert_eq!(conn.read_buffer_bytes(), 0);
    /// ```
    pub fn read_buffer_bytes(&self) -> usize {
        self.asm.capacity() + self.pending.as_ref().map_or(0, Buf::capacity)
    }

    /// Bytes of memory the write side pins in this layer (the record buffer not yet handed to
    /// the transport; the transport's own queue is the transport's).
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c);
    /// assert_eq!(conn.write_buffer_bytes(), 0);
    /// ```
    pub fn write_buffer_bytes(&self) -> usize {
        self.out.as_ref().map_or(0, Buf::capacity)
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
    /// let mut conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c);
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
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c);
    /// let _ = conn.get_ref();
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably (reading from or writing to it directly would desynchronize
    /// the records).
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let mut conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c);
    /// let _ = conn.get_mut();
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Unwraps the transport; buffered bytes (read or queued) are dropped.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c);
    /// let _transport = conn.into_inner();
    /// ```
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// Encrypts `payload` (at most [`Config::max_payload`] bytes; an empty payload makes an
    /// empty record) as one frame appended to `out`. (The write side, [`ReadyWrite`], seals
    /// in place instead; this is for callers that manage their own buffers.)
    ///
    /// # Errors
    /// [`AltsError::FrameTooLarge`] if the payload is too large for a frame or `out` lacks
    /// room for it; [`AltsError::CounterExhausted`], [`AltsError::SealFailed`] (nothing is
    /// appended then).
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let mut conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c);
    /// let mut out = slackwater_ready::global().get(4096).unwrap();
    /// conn.seal_record(b"abc", &mut out).unwrap();
    /// assert_eq!(out.len(), 3 + 24);
    /// ```
    pub fn seal_record(&mut self, payload: &[u8], out: &mut Buf) -> Result<(), AltsError> {
        let total = payload.len() + frame::OVERHEAD;
        if payload.len() > self.max_payload() || total > out.spare_capacity() {
            return Err(AltsError::FrameTooLarge {
                len: total - frame::LEN_FIELD,
                limit: self.frame_size as usize,
            });
        }
        let start = out.len();
        // Both fit: checked against the spare capacity above.
        let _ = out.extend_from_slice(&[0; frame::HEADER]);
        let _ = out.extend_from_slice(payload);
        seal_in_place(&mut self.crypter, out, start)
    }

    /// Encrypts as much of `data` as fits into `out` as whole frames; returns the bytes of
    /// `data` consumed.
    ///
    /// # Errors
    /// As [`seal_record`](Conn::seal_record).
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// # let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let mut conn = Conn::new(slackwater_ready::Buffered::new(std::io::empty()), c);
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

/// Seals the record whose 8-byte header slot starts at `out[start]` and whose payload runs to
/// the end of `out`: encrypts the payload in place, writes the header and appends the tag.
/// On failure the record is removed from `out` and no tag is made up.
fn seal_in_place(crypter: &mut Crypter, out: &mut Buf, start: usize) -> Result<(), AltsError> {
    let body = start + frame::HEADER;
    let len = (out.len() - body + frame::TYPE_FIELD + crate::aead::TAG_LEN) as u32;
    let tag = match crypter.seal(&mut out[body..]) {
        Ok(t) => t,
        Err(e) => {
            out.truncate(start);
            return Err(e);
        }
    };
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..body].copy_from_slice(&frame::MSG_TYPE.to_le_bytes());
    if out.extend_from_slice(&tag).is_err() {
        // The caller reserved room for the tag; refuse rather than send a record without it.
        out.truncate(start);
        return Err(AltsError::SealFailed);
    }
    Ok(())
}

impl<T: ReadyRead> Conn<T> {
    /// A fatal read error: remember it and drop what is buffered.
    fn read_fail(&mut self, e: AltsError) -> io::Error {
        if e.is_fatal() {
            self.read_dead = Some(Box::new(e.clone()));
            self.asm.release();
        }
        e.into()
    }

    /// The next plaintext (one or more records), reading from the transport as needed.
    fn next_plaintext(&mut self, pool: &Pool, blocking: bool) -> io::Result<Option<Buf>> {
        if let Some(p) = self.pending.take() {
            return Ok(Some(p));
        }
        if let Some(e) = &self.read_dead {
            return Err(AltsError::clone(e).into());
        }
        let limit = self.read_limit as usize;
        loop {
            let got = self
                .asm
                .next_record(&mut self.transport, pool, blocking, |b| framing(b, limit));
            match got {
                Ok(None) => return Ok(None),
                Ok(Some(_)) => match self.decrypt_ready(pool) {
                    Ok(Some(p)) => return Ok(Some(p)),
                    Ok(None) => {} // only empty records
                    Err(e) => return Err(self.read_fail(e)),
                },
                Err(RecordError::Rule(e)) => return Err(self.read_fail(e)),
                Err(RecordError::Truncated { buffered }) => {
                    return Err(self.read_fail(AltsError::Truncated { buffered }));
                }
                Err(RecordError::Io(e)) if is_transient(&e) => return Err(e),
                Err(RecordError::Io(e)) => return Err(self.read_fail(AltsError::from(e))),
            }
        }
    }

    /// Decrypts every complete record at the front of the buffered bytes in place and returns
    /// their plaintext, or `None` if they were all empty.
    fn decrypt_ready(&mut self, pool: &Pool) -> Result<Option<Buf>, AltsError> {
        let limit = self.read_limit as usize;
        let Some(rx) = self.asm.buffered_mut() else {
            // Conn never takes views of its buffer.
            return Err(AltsError::OutOfMemory { size: 0 });
        };
        let mut r = 0; // start of the next record in rx
        let mut plain = 0; // plaintext bytes gathered at rx[HEADER..]
        loop {
            // An error after some plaintext: hand the plaintext out first; the failing record
            // stays at the front (its counter not advanced), so the next call fails on it.
            let total = match framing(&rx[r..], limit) {
                Ok(slackwater_ready::Framing::Need(_)) => break,
                Ok(slackwater_ready::Framing::Record(total)) => total,
                Err(e) if plain == 0 => return Err(e),
                Err(_) => break,
            };
            if rx.len() - r < total {
                break;
            }
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
        if plain == 0 {
            // Only empty records: drop them, keep any partial record.
            self.asm.consume_record(r);
            return Ok(None);
        }
        Ok(Some(self.asm.split_out(
            frame::HEADER..frame::HEADER + plain,
            r,
            pool,
            PIN_RATIO,
        )?))
    }

    /// [`next_plaintext`](Conn::next_plaintext) with the conn's own pool. The handle is moved
    /// out for the call and back (no reference-count traffic on an `Arc` pool per read).
    fn next_own_plaintext(&mut self, blocking: bool) -> io::Result<Option<Buf>> {
        let pool = std::mem::take(&mut self.pool);
        let r = self.next_plaintext(&pool, blocking);
        self.pool = pool;
        r
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

    /// The non-blocking form of `read_ready_into`, for the tokio `AsyncRead`: copies plaintext
    /// into `dst`, keeping the rest for the next call; `WouldBlock` when the transport has
    /// nothing now.
    #[cfg(feature = "tokio")]
    pub(crate) fn try_read_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        match self.next_own_plaintext(false)? {
            None => Ok(0),
            Some(p) => Ok(self.copy_out(p, dst)),
        }
    }

    fn append(&mut self, buf: &mut Buf, max: usize, blocking: bool) -> io::Result<usize> {
        let max = max.min(buf.spare_capacity());
        if max == 0 {
            return Ok(0);
        }
        match self.next_own_plaintext(blocking)? {
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

impl<T: ReadyRead> ReadyRead for Conn<T> {
    /// Returns the plaintext of the next record(s) in the buffer it was read into: at least
    /// one byte, possibly more than `size` (a whole record).
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
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
        match self.next_own_plaintext(true)? {
            None => Ok(0),
            Some(p) => Ok(self.copy_out(p, dst)),
        }
    }

    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append(buf, max, true)
    }

    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append(buf, max, false)
    }
}

impl<T: ReadyRead> io::Read for Conn<T> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        self.read_ready_into(dst)
    }
}

impl<T: ReadyWrite> Conn<T> {
    /// A fatal write error: remember it and drop what is queued here.
    fn write_fail(&mut self, e: AltsError) -> io::Error {
        if e.is_fatal() {
            self.write_dead = Some(Box::new(e.clone()));
            self.out = None;
            self.open = false;
        }
        e.into()
    }

    fn check_write(&self) -> io::Result<()> {
        match &self.write_dead {
            Some(e) => Err(AltsError::clone(e).into()),
            None => Ok(()),
        }
    }

    /// Payload bytes the open record can take now, opening one (in the current buffer if it
    /// has room, else in a new one after handing the full one to the transport).
    fn open_room(&mut self) -> Result<usize, AltsError> {
        let max_payload = self.max_payload();
        loop {
            if self.open {
                let out = self.out.as_ref().expect("an open record has a buffer");
                let payload = out.len() - self.open_at as usize - frame::HEADER;
                let room = (max_payload - payload)
                    .min(out.spare_capacity().saturating_sub(crate::aead::TAG_LEN));
                if room > 0 {
                    return Ok(room);
                }
                self.seal_open()?;
            }
            if self
                .out
                .as_ref()
                .is_some_and(|b| b.spare_capacity() <= frame::OVERHEAD)
            {
                self.hand_down()?;
            }
            let out = match &mut self.out {
                Some(b) => b,
                // Room for several records, so a burst hands the transport few buffers.
                None => self
                    .out
                    .insert(self.pool.get((self.frame_size as usize).max(OUT_BUFFER))?),
            };
            self.open_at = out.len() as u32;
            // Room checked above (or a fresh buffer of a whole frame).
            let _ = out.extend_from_slice(&[0; frame::HEADER]);
            self.open = true;
        }
    }

    /// Seals the open record in place (an empty one is dropped instead).
    fn seal_open(&mut self) -> Result<(), AltsError> {
        if !self.open {
            return Ok(());
        }
        self.open = false;
        let out = self.out.as_mut().expect("an open record has a buffer");
        if out.len() == self.open_at as usize + frame::HEADER {
            out.truncate(self.open_at as usize);
            return Ok(());
        }
        seal_in_place(&mut self.crypter, out, self.open_at as usize)
    }

    /// Hands the buffer of sealed records to the transport's queue (no copy).
    fn hand_down(&mut self) -> Result<(), AltsError> {
        if let Some(b) = self.out.take()
            && !b.is_empty()
        {
            self.transport.queue_buf(b)?;
        }
        Ok(())
    }

    fn flush_inner(&mut self, blocking: bool) -> io::Result<()> {
        self.check_write()?;
        if let Err(e) = self.seal_open() {
            return Err(self.write_fail(e));
        }
        // What the transport already holds goes first, so the buffer handed down next
        // usually finds its queue empty (no list to allocate for a second buffer).
        if self.out.is_some() && self.transport.queued() > 0 {
            match self.transport.try_flush_ready() {
                Err(e) if !is_transient(&e) => return Err(self.write_fail(AltsError::from(e))),
                _ => {}
            }
        }
        if let Err(e) = self.hand_down() {
            return Err(self.write_fail(e));
        }
        let r = if blocking {
            self.transport.flush_ready()
        } else {
            self.transport.try_flush_ready()
        };
        match r {
            Err(e) if !is_transient(&e) => Err(self.write_fail(AltsError::from(e))),
            r => r,
        }
    }
}

impl<T: ReadyWrite> ReadyWrite for Conn<T> {
    /// Copies `data` once into the payload area of open records (in pooled buffers), sealing
    /// each record in place as it fills; full buffers go to the transport's queue.
    fn queue(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.check_write()?;
        while !data.is_empty() {
            let room = match self.open_room() {
                Ok(n) => n,
                Err(e) => return Err(self.write_fail(e)),
            };
            let n = room.min(data.len());
            let out = self.out.as_mut().expect("open_room left an open record");
            // Fits: `room` is within the spare capacity.
            let _ = out.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(())
    }

    /// Seals the open record and writes queued records until the transport refuses more.
    fn try_flush_ready(&mut self) -> io::Result<()> {
        self.flush_inner(false)
    }

    fn flush_ready(&mut self) -> io::Result<()> {
        self.flush_inner(true)
    }

    fn queued(&self) -> usize {
        self.out.as_ref().map_or(0, Buf::len) + self.transport.queued()
    }

    fn is_write_full(&self) -> bool {
        self.transport.is_write_full()
    }
}

impl<T: ReadyWrite> io::Write for Conn<T> {
    /// Seals up to 64 KiB of `data` into records and writes them all (waiting for
    /// writability as needed); returns the bytes of `data` consumed. A failed write is fatal:
    /// part of a record may be on the wire and the counter has moved on, so every later write
    /// fails with the same error.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check_write()?;
        if data.is_empty() {
            return Ok(0);
        }
        let n = data.len().min(WRITE_BATCH);
        self.queue(&data[..n])?;
        self.flush_ready()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_ready()
    }
}

impl<T: AsFd> AsFd for Conn<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.transport.as_fd()
    }
}

impl<T: AsRawFd> AsRawFd for Conn<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.transport.as_raw_fd()
    }
}

impl<T> std::fmt::Debug for Conn<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("protocol", &self.crypter.protocol())
            .field("side", &self.crypter.side())
            .field("holds_buffer", &self.holds_buffer())
            .field("read_dead", &self.read_dead)
            .field("write_dead", &self.write_dead)
            .finish_non_exhaustive()
    }
}
