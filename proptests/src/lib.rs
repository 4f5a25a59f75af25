//! Test support shared by the property tests in `tests/`: [`FaultStream`], a transport that
//! plays a byte stream through the `ReadyRead` and `io::Write` interfaces and injects faults
//! (`EINTR`, `WouldBlock`, 1-byte short reads, a reset, an early EOF) at chosen byte offsets.
//!
//! ```
//! use slackwater_proptests::{Fault, FaultStream};
//! use slackwater_ready::{Pool, ReadyRead};
//!
//! let pool = Pool::new();
//! let mut t = FaultStream::new(b"hello world".to_vec(), &[64])
//!     .with_faults(&[(0, Fault::Interrupted), (5, Fault::Reset)]);
//! let e = t.read_ready(64, &pool).unwrap_err();
//! assert_eq!(e.kind(), std::io::ErrorKind::Interrupted); // fires once, before byte 0
//! assert_eq!(&t.read_ready(64, &pool).unwrap().unwrap()[..], b"hello"); // stops at 5
//! assert_eq!(t.read_ready(64, &pool).unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
//! assert!(t.read_ready(64, &pool).unwrap().is_none()); // then 0, as Linux after ECONNRESET
//! assert_eq!(pool.stats().in_use(), 0);
//! ```
#![forbid(unsafe_code)]

use slackwater_ready::{Buf, Pool, ReadyRead, ReadyWrite, WriteQueue, global};
use std::collections::VecDeque;
use std::io;

/// A fault injected at a byte offset of a [`FaultStream`].
///
/// The transient ones fire once, when a read (or write) reaches their offset; the fatal ones
/// ([`Reset`](Fault::Reset), [`Eof`](Fault::Eof)) end the stream there for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// One `Err(Interrupted)` (a signal interrupted the system call), in both forms.
    Interrupted,
    /// One `Err(WouldBlock)` from the non-blocking forms; the blocking forms absorb it (they
    /// "wait", counted in [`FaultCounts::waited`]).
    WouldBlock,
    /// The next read (or write) moves exactly 1 byte.
    Short,
    /// A reset at this offset, **as Linux reports it**: one `Err(ConnectionReset)`, then every
    /// later read returns end of stream (`Ok(None)` / `Ok(0)`). A layer that wants the reset
    /// to stay must remember it; a model that made it permanent would hide exactly that bug.
    /// Writes: one `ConnectionReset`, then `BrokenPipe`.
    Reset,
    /// End of stream at this offset: `Ok(None)` / `Ok(0)` from then on, sticky (reads); writes
    /// fail with `BrokenPipe` (the peer has gone).
    Eof,
}

impl Fault {
    /// Every kind, for strategies.
    pub const ALL: [Fault; 5] = [
        Fault::Interrupted,
        Fault::WouldBlock,
        Fault::Short,
        Fault::Reset,
        Fault::Eof,
    ];

    /// Whether the fault ends the stream.
    ///
    /// ```
    /// assert!(slackwater_proptests::Fault::Reset.is_fatal());
    /// assert!(!slackwater_proptests::Fault::Short.is_fatal());
    /// ```
    pub fn is_fatal(self) -> bool {
        matches!(self, Fault::Reset | Fault::Eof)
    }
}

/// How a stream played by a [`FaultStream`] ends, given its length and fault schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// End of stream after this many bytes (the natural end, or an injected [`Fault::Eof`]).
    Eof(usize),
    /// A reset after this many bytes.
    Reset(usize),
}

impl End {
    /// The bytes delivered before the end.
    ///
    /// ```
    /// assert_eq!(slackwater_proptests::End::Reset(7).offset(), 7);
    /// ```
    pub fn offset(self) -> usize {
        match self {
            End::Eof(n) | End::Reset(n) => n,
        }
    }

    /// Where a stream of `len` bytes with `faults` ends: at its first fatal fault at an
    /// offset `<= len`, else at `len` with a clean EOF.
    ///
    /// ```
    /// use slackwater_proptests::{End, Fault};
    /// assert_eq!(End::of(10, &[(3, Fault::Short), (8, Fault::Reset), (5, Fault::Eof)]), End::Eof(5));
    /// assert_eq!(End::of(10, &[(11, Fault::Reset)]), End::Eof(10));
    /// ```
    pub fn of(len: usize, faults: &[(usize, Fault)]) -> End {
        faults
            .iter()
            .filter(|(at, f)| f.is_fatal() && *at <= len)
            .min_by_key(|(at, _)| *at)
            .map_or(End::Eof(len), |&(at, f)| match f {
                Fault::Reset => End::Reset(at),
                _ => End::Eof(at),
            })
    }
}

/// How many injected faults the stream actually returned (or absorbed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// `Err(Interrupted)` returned by reads.
    pub interrupted: usize,
    /// `Err(WouldBlock)` returned by the non-blocking read forms.
    pub would_block: usize,
    /// `WouldBlock` faults absorbed by a blocking read (a "wait").
    pub waited: usize,
    /// Reads cut to 1 byte.
    pub short: usize,
    /// `Err(ConnectionReset)` returned by reads.
    pub reset: usize,
    /// Reads that delivered bytes.
    pub reads: usize,
}

/// One side of the schedule: a cursor over bytes, faults by offset, chunk sizes.
#[derive(Debug)]
struct Side {
    /// Faults not yet fired, by offset (stable order for equal offsets).
    faults: VecDeque<(usize, Fault)>,
    /// The fatal fault that ended this side.
    ended: Option<Fault>,
    /// The reset has been reported once (from then on: end of stream, as Linux does).
    reset_reported: bool,
    short: bool,
    chunks: Vec<usize>,
    next_chunk: usize,
}

/// What a read or write may do now.
enum Gate {
    /// Move at most this many bytes (at least 1).
    Go(usize),
    /// End of stream.
    Eof,
}

impl Side {
    fn new(faults: &[(usize, Fault)], chunks: &[usize]) -> Side {
        let mut faults = faults.to_vec();
        faults.sort_by_key(|(at, _)| *at); // stable: equal offsets keep their order
        Side {
            faults: faults.into(),
            ended: None,
            reset_reported: false,
            short: false,
            chunks: if chunks.is_empty() {
                vec![usize::MAX]
            } else {
                chunks.iter().map(|&c| c.max(1)).collect()
            },
            next_chunk: 0,
        }
    }

    /// Fires the faults at `pos` and decides what the call may do. `avail`: bytes left in
    /// the stream after `pos` (reads), or `usize::MAX` (writes).
    fn gate(
        &mut self,
        pos: usize,
        avail: usize,
        blocking: bool,
        counts: &mut FaultCounts,
    ) -> io::Result<Gate> {
        loop {
            match self.ended {
                Some(Fault::Reset) if !self.reset_reported => {
                    self.reset_reported = true;
                    counts.reset += 1;
                    return Err(io::ErrorKind::ConnectionReset.into());
                }
                Some(_) => return Ok(Gate::Eof),
                None => {}
            }
            if let Some(&(at, f)) = self.faults.front()
                && at <= pos
            {
                self.faults.pop_front();
                match f {
                    Fault::Interrupted => {
                        counts.interrupted += 1;
                        return Err(io::ErrorKind::Interrupted.into());
                    }
                    Fault::WouldBlock if blocking => counts.waited += 1,
                    Fault::WouldBlock => {
                        counts.would_block += 1;
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Fault::Short => self.short = true,
                    Fault::Reset | Fault::Eof => self.ended = Some(f),
                }
                continue;
            }
            if avail == 0 {
                return Ok(Gate::Eof);
            }
            // Never move bytes past the next fault's offset, so it fires exactly there.
            let to_fault = self.faults.front().map_or(usize::MAX, |&(at, _)| at - pos);
            let chunk = self.chunks[self.next_chunk % self.chunks.len()];
            self.next_chunk += 1;
            let mut n = chunk.min(to_fault).min(avail);
            if self.short {
                self.short = false;
                counts.short += 1;
                n = 1;
            }
            return Ok(Gate::Go(n));
        }
    }
}

/// A transport for fault-injection tests: reads play `data` in chunks (cycled sizes, cut at
/// fault offsets and at what each call asks for), with a fault schedule on byte offsets;
/// writes are collected in [`written`](FaultStream::written), with their own schedule.
///
/// It keeps the [`ReadyRead`] contract exactly: `read_ready(size)` returns at most
/// `max(size, 1)` bytes in a buffer of at least `size` bytes taken from the caller's pool, and
/// takes that buffer only once it has bytes to put in it (no buffer is taken, held or leaked on
/// an error or EOF path); `Ok(None)` / `Ok(0)` only at the end of the stream, sticky;
/// `read_ready_into` and the append forms copy straight into the caller's memory and never
/// touch a pool; `append_ready(buf, max)` moves at most `min(max, spare capacity)` bytes
/// and returns 0 without reading when that is 0. The blocking forms never return
/// `WouldBlock`: a scheduled `WouldBlock` stands for a wait that ended with data.
#[derive(Debug)]
pub struct FaultStream {
    data: Vec<u8>,
    pos: usize,
    rx: Side,
    tx: Side,
    counts: FaultCounts,
    /// Every byte written so far.
    pub written: Vec<u8>,
    /// Output queued through [`ReadyWrite`] and not yet written.
    out: WriteQueue,
}

impl FaultStream {
    /// Plays `data` in reads of `chunks[i % len]` bytes (at most; 0 counts as 1; empty:
    /// unlimited), with no faults.
    ///
    /// ```
    /// let t = slackwater_proptests::FaultStream::new(vec![1, 2, 3], &[1]);
    /// assert_eq!(t.position(), 0);
    /// ```
    pub fn new(data: Vec<u8>, chunks: &[usize]) -> FaultStream {
        FaultStream {
            data,
            pos: 0,
            rx: Side::new(&[], chunks),
            tx: Side::new(&[], &[]),
            counts: FaultCounts::default(),
            written: Vec::new(),
            out: WriteQueue::new(),
        }
    }

    /// Injects `faults` into the read side at the given byte offsets (offsets past the end
    /// of the data never fire, except at the end itself).
    ///
    /// ```
    /// use slackwater_proptests::{Fault, FaultStream};
    /// let t = FaultStream::new(vec![1, 2, 3], &[]).with_faults(&[(3, Fault::Reset)]);
    /// ```
    pub fn with_faults(mut self, faults: &[(usize, Fault)]) -> FaultStream {
        self.rx = Side::new(faults, &self.rx.chunks);
        self
    }

    /// Injects `faults` into the write side at offsets of the written stream, and accepts at
    /// most `chunks[i % len]` bytes per `write` (empty: unlimited).
    ///
    /// ```
    /// use slackwater_proptests::{Fault, FaultStream};
    /// use std::io::Write;
    /// let mut t = FaultStream::new(vec![], &[]).with_write_faults(&[(2, Fault::Short)], &[]);
    /// assert_eq!(t.write(b"abcd").unwrap(), 2);
    /// assert_eq!(t.write(b"cd").unwrap(), 1);
    /// ```
    pub fn with_write_faults(mut self, faults: &[(usize, Fault)], chunks: &[usize]) -> FaultStream {
        self.tx = Side::new(faults, chunks);
        self
    }

    /// Bytes of `data` delivered so far.
    ///
    /// ```
    /// assert_eq!(slackwater_proptests::FaultStream::new(vec![], &[]).position(), 0);
    /// ```
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The faults returned or absorbed so far.
    ///
    /// ```
    /// let t = slackwater_proptests::FaultStream::new(vec![], &[]);
    /// assert_eq!(t.counts().would_block, 0);
    /// ```
    pub fn counts(&self) -> FaultCounts {
        self.counts
    }

    /// Gates a read of at most `max` bytes: `Ok(None)` at the end, else the byte range.
    fn next_read(&mut self, max: usize, blocking: bool) -> io::Result<Option<(usize, usize)>> {
        let avail = self.data.len() - self.pos;
        match self.rx.gate(self.pos, avail, blocking, &mut self.counts)? {
            Gate::Eof => Ok(None),
            Gate::Go(n) => {
                let n = n.min(max.max(1));
                let at = self.pos;
                self.pos += n;
                self.counts.reads += 1;
                Ok(Some((at, n)))
            }
        }
    }

    fn read(&mut self, size: usize, pool: &Pool, blocking: bool) -> io::Result<Option<Buf>> {
        let size = size.max(1);
        let Some((at, n)) = self.next_read(size, blocking)? else {
            return Ok(None);
        };
        // Only now, with bytes to deliver, is a buffer taken. If the pool fails, the bytes
        // stay unread.
        let mut buf = match pool.get(size) {
            Ok(b) => b,
            Err(e) => {
                self.pos = at;
                return Err(e.into());
            }
        };
        buf.extend_from_slice(&self.data[at..at + n])
            .map_err(io::Error::other)?;
        Ok(Some(buf))
    }

    fn append(&mut self, buf: &mut Buf, max: usize, blocking: bool) -> io::Result<usize> {
        let max = max.min(buf.spare_capacity());
        if max == 0 {
            return Ok(0);
        }
        let Some((at, n)) = self.next_read(max, blocking)? else {
            return Ok(0);
        };
        buf.extend_from_slice(&self.data[at..at + n])
            .map_err(io::Error::other)?;
        Ok(n)
    }
}

impl ReadyRead for FaultStream {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read(size, pool, true)
    }

    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read(size, pool, false)
    }

    fn read_ready_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        let Some((at, n)) = self.next_read(dst.len(), true)? else {
            return Ok(0);
        };
        dst[..n].copy_from_slice(&self.data[at..at + n]);
        Ok(n)
    }

    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append(buf, max, true)
    }

    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append(buf, max, false)
    }
}

impl ReadyWrite for FaultStream {
    fn queue(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.extend(data, global())
    }

    fn queue_buf(&mut self, buf: Buf) -> io::Result<()> {
        self.out.push(buf)
    }

    /// Writes through [`io::Write`] (so the write schedule's faults apply).
    fn try_flush_ready(&mut self) -> io::Result<()> {
        let mut out = std::mem::take(&mut self.out);
        let r = out.flush_with(|b| io::Write::write(self, b));
        self.out = out;
        r
    }

    /// As `try_flush_ready`, a scheduled `WouldBlock` standing for a wait.
    fn flush_ready(&mut self) -> io::Result<()> {
        loop {
            match self.try_flush_ready() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return r,
            }
        }
    }

    fn queued(&self) -> usize {
        self.out.queued()
    }

    fn is_write_full(&self) -> bool {
        self.out.is_full()
    }
}

impl io::Write for FaultStream {
    /// Accepts at most one chunk, cut at the next write fault; `Interrupted` / `WouldBlock`
    /// fire once; a `Reset` fails one write with `ConnectionReset`, and every later write
    /// with `BrokenPipe` (as after `Eof`).
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let mut counts = FaultCounts::default();
        let gate = self
            .tx
            .gate(self.written.len(), usize::MAX, false, &mut counts);
        match gate {
            Ok(Gate::Go(n)) => {
                let n = n.min(data.len());
                self.written.extend_from_slice(&data[..n]);
                Ok(n)
            }
            Ok(Gate::Eof) => Err(io::ErrorKind::BrokenPipe.into()),
            Err(e) => Err(e),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Calls `f` until it returns something other than `Err(Interrupted)`, counting the retries
/// in `seen` (what a caller does with `EINTR`, as `read_exact` does).
///
/// ```
/// let mut n = 0;
/// let mut tries = 0;
/// let r: std::io::Result<u8> = slackwater_proptests::retry_eintr(&mut n, || {
///     tries += 1;
///     if tries < 3 { Err(std::io::ErrorKind::Interrupted.into()) } else { Ok(7) }
/// });
/// assert_eq!((r.unwrap(), n), (7, 2));
/// ```
pub fn retry_eintr<T>(seen: &mut usize, mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => *seen += 1,
            r => return r,
        }
    }
}

/// Bytes the buffers in use hold over all classes (`in_use × class size`); buffers above the
/// largest class are not included (see [`Stats::unpooled`](slackwater_ready::pool::Stats)).
///
/// ```
/// let pool = slackwater_ready::Pool::new();
/// let b = pool.get(1000).unwrap();
/// assert_eq!(slackwater_proptests::bytes_in_use(&pool), 4096);
/// drop(b);
/// ```
pub fn bytes_in_use(pool: &Pool) -> usize {
    pool.stats()
        .classes()
        .iter()
        .map(|c| c.in_use * c.size)
        .sum()
}
