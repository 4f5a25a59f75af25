//! [`Assembler`]: cuts a byte stream into length-prefixed records, holding a pooled buffer only
//! while bytes of an unfinished record (or records not yet consumed) wait.

use crate::sticky::Sticky;
use crate::{Buf, Pool, PoolError, ReadyRead, SharedBuf};
use std::io;
use std::ops::Range;

/// What a record layer's header rule says about the bytes at the front of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// At least this many bytes (counted from the record's first byte) are needed to decide.
    Need(usize),
    /// A record of this many bytes, header included.
    Record(usize),
}

/// Why [`Assembler::next_record`] returned no record.
#[derive(Debug)]
pub enum RecordError<E> {
    /// The header rule refused the header.
    Rule(E),
    /// The transport failed (a fatal error is returned again by every later call), or
    /// `WouldBlock` / `Interrupted` / `TimedOut` (transient: the partial record is kept).
    Io(io::Error),
    /// The stream ended inside a record with this many bytes of it received; returned again by
    /// every later call (the partial record's buffer has been given back).
    Truncated {
        /// Bytes of the unfinished record that had arrived.
        buffered: usize,
    },
}

/// Where the unread bytes are.
#[derive(Debug)]
enum Held {
    /// Nothing buffered: no buffer held.
    Empty,
    /// A buffer still writable (no view of it handed out).
    Owned(Buf),
    /// A buffer that views were taken from.
    Frozen(SharedBuf),
}

/// How the stream ended, if it did, in 8 bytes: [`End::OPEN`], [`End::CLEAN`] (the transport
/// reported its end with nothing of a record buffered), or the number of bytes buffered when
/// it ended inside a record (at most `isize::MAX`, so never one of the two markers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct End(u64);

impl End {
    const OPEN: End = End(u64::MAX);
    const CLEAN: End = End(u64::MAX - 1);

    fn truncated(buffered: usize) -> End {
        End(buffered as u64)
    }

    /// The bytes buffered when the stream ended inside a record.
    fn truncated_at(self) -> Option<usize> {
        (self != End::OPEN && self != End::CLEAN).then_some(self.0 as usize)
    }
}

/// Turns a stream of bytes into length-prefixed records, the one place in this workspace that
/// holds a partial record across wake-ups (the ALTS record layer and the HTTP/2 frame reader
/// both use it; each supplies only its header rule).
///
/// ```
/// use slackwater_ready::{Assembler, Buffered, Framing, Pool};
/// // Records: a 1-byte length, then that many bytes.
/// let rule = |b: &[u8]| -> Result<Framing, ()> {
///     Ok(match b.first() { None => Framing::Need(1), Some(&n) => Framing::Record(1 + n as usize) })
/// };
/// let pool = Pool::new();
/// let mut src = Buffered::new(&[3, b'a', b'b', b'c', 1, b'z'][..]);
/// let mut asm = Assembler::new(4096);
/// let n = asm.next_record(&mut src, &pool, true, rule).unwrap().unwrap();
/// assert_eq!(&asm.buffered()[1..n], b"abc");
/// asm.consume_record(n);
/// let n = asm.next_record(&mut src, &pool, true, rule).unwrap().unwrap();
/// assert_eq!(&asm.buffered()[1..n], b"z");
/// asm.consume_record(n);
/// assert!(!asm.holds_buffer());                       // between records: nothing held
/// assert!(asm.next_record(&mut src, &pool, true, rule).unwrap().is_none()); // clean end
/// ```
///
/// # What it holds
/// Let `R` be the read size ([`Assembler::new`]) and `class(n)` the capacity the pool gives
/// for `n` bytes (the smallest class of at least `n`, or exactly `n` above the largest).
///
/// 1. **Between records, nothing.** The buffer is given back the moment its last byte is
///    consumed ([`consume`](Assembler::consume), [`consume_record`](Assembler::consume_record)),
///    so an idle connection holds no buffer.
/// 2. **At a record boundary, one read** of `max(hint, n)` bytes where `n` is what the header
///    rule needs to decide (a few bytes) and `hint` is `R`, or the size of the last record when
///    it was above `R/2` and at most `R` and ended exactly at the end of what was read (a stream of
///    equal large records is then read one record per read, each in a buffer of its own). The
///    hint is never above `R`, so no read at a boundary asks for more than `R`.
/// 3. **Inside a record of `t` bytes with `h` received**, the buffer holding it is replaced
///    only when it is full (or smaller than `min(t, R)`, or shared by a view), by
///    `class(min(t, max(2h, R)))` (by `class(R)` when `t ≤ R/2`: small records are read
///    greedily, below); while its spare room takes the rest of the record it stays put, and
///    otherwise the received part first moves to the buffer's front. A
///    record dribbled in small pieces costs O(log t) buffers and copies, and a peer that
///    announces a large record and goes quiet makes us hold one buffer of
///    `class(min(t, max(2h, R)))` — rounded up to a pool class (with the default classes, a
///    64 KiB record with 32 KiB + 1 byte received sits in the 1 MiB class), never sized from
///    `t` alone. The header rule decides `t` (and may refuse it) before any buffer for the
///    body is taken, so a hostile length costs nothing.
/// 4. **Before waiting inside a record**, its received part moves into a buffer of
///    `class(t)` if the one holding it is of a larger class (`class(n)` while the rule still
///    needs `n` bytes to decide): a connection waiting mid-record pins one buffer of no larger
///    class than its record's, never a whole read buffer for a 9-byte partial header.
/// 5. **After the stream fails or ends inside a record**, nothing: the partial record is
///    dropped and the error stays ([`RecordError::Truncated`], or the transport's fatal error
///    again from every later call).
///
/// Records smaller than `R/2` are read greedily (a read may bring several), larger ones
/// exactly (the read after a large record starts on a record boundary). Each step only ever
/// moves bytes already received, and each move at least doubles the buffer or shrinks it to
/// its record's class, so the copying a record costs is at most twice its size plus one move
/// per wait (step 4).
#[derive(Debug)]
pub struct Assembler {
    cur: Held,
    /// The configured size of a read at a record boundary (`u32`: the struct stays small,
    /// one per connection and layer).
    read_size: u32,
    /// The size of the next read at a record boundary (at most `read_size`).
    hint: u32,
    end: End,
    failed: Sticky,
}

impl Assembler {
    /// An assembler whose reads at a record boundary ask for `read_size` bytes (at least 64,
    /// at most `u32::MAX`).
    ///
    /// ```
    /// let a = slackwater_ready::Assembler::new(32 * 1024);
    /// assert_eq!(a.read_size(), 32 * 1024);
    /// ```
    pub const fn new(read_size: usize) -> Assembler {
        let read_size = clamp_read_size(read_size);
        Assembler {
            cur: Held::Empty,
            read_size,
            hint: read_size,
            end: End::OPEN,
            failed: Sticky::NONE,
        }
    }

    /// The size of a read at a record boundary.
    ///
    /// ```
    /// assert_eq!(slackwater_ready::Assembler::new(1).read_size(), 64);
    /// ```
    pub fn read_size(&self) -> usize {
        self.read_size as usize
    }

    /// The size of the next read at a record boundary.
    fn hint(&self) -> usize {
        self.hint as usize
    }

    /// Remembers the size of the next read at a record boundary (at most `read_size`).
    fn set_hint(&mut self, n: usize) {
        self.hint = next_read_size(n, self.read_size()) as u32;
    }

    /// Changes the size of a read at a record boundary (at least 64, at most `u32::MAX`);
    /// applies from the next boundary.
    ///
    /// ```
    /// let mut a = slackwater_ready::Assembler::new(4096);
    /// a.set_read_size(16 * 1024);
    /// assert_eq!(a.read_size(), 16 * 1024);
    /// ```
    pub fn set_read_size(&mut self, n: usize) {
        self.read_size = clamp_read_size(n);
        self.hint = self.read_size;
    }

    /// The bytes received and not yet consumed (a record, when
    /// [`next_record`](Assembler::next_record) returned its size, starts at index 0).
    ///
    /// ```
    /// assert!(slackwater_ready::Assembler::new(4096).buffered().is_empty());
    /// ```
    #[inline(always)]
    pub fn buffered(&self) -> &[u8] {
        match &self.cur {
            Held::Empty => &[],
            Held::Owned(b) => b,
            Held::Frozen(s) => s,
        }
    }

    /// The buffered bytes, writable (to decrypt a record in place), or `None` once a view of
    /// the buffer was handed out ([`view`](Assembler::view)).
    ///
    /// ```
    /// assert_eq!(slackwater_ready::Assembler::new(4096).buffered_mut().map(|b| b.len()), Some(0));
    /// ```
    #[inline]
    pub fn buffered_mut(&mut self) -> Option<&mut [u8]> {
        match &mut self.cur {
            Held::Empty => Some(&mut []),
            Held::Owned(b) => Some(&mut b[..]),
            Held::Frozen(_) => None,
        }
    }

    /// How many bytes are buffered.
    ///
    /// ```
    /// assert_eq!(slackwater_ready::Assembler::new(4096).len(), 0);
    /// ```
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.buffered().len()
    }

    /// Whether nothing is buffered.
    ///
    /// ```
    /// assert!(slackwater_ready::Assembler::new(4096).is_empty());
    /// ```
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity of the buffer held (0 when none is).
    ///
    /// ```
    /// assert_eq!(slackwater_ready::Assembler::new(4096).capacity(), 0);
    /// ```
    #[inline(always)]
    pub fn capacity(&self) -> usize {
        match &self.cur {
            Held::Empty => 0,
            Held::Owned(b) => b.capacity(),
            Held::Frozen(s) => s.buffer_capacity(),
        }
    }

    /// Whether a pool buffer is held (only while bytes wait).
    ///
    /// ```
    /// assert!(!slackwater_ready::Assembler::new(4096).holds_buffer());
    /// ```
    #[inline]
    pub fn holds_buffer(&self) -> bool {
        !matches!(self.cur, Held::Empty)
    }

    /// Whether the stream has ended (cleanly or inside a record).
    ///
    /// ```
    /// assert!(!slackwater_ready::Assembler::new(4096).is_ended());
    /// ```
    pub fn is_ended(&self) -> bool {
        self.end != End::OPEN
    }

    /// Puts bytes read by someone else (a handshake that read past its end) in front of
    /// whatever the transport brings next.
    ///
    /// # Errors
    /// The pool's, if no buffer can be had.
    ///
    /// ```
    /// let mut a = slackwater_ready::Assembler::new(4096);
    /// a.prepend(b"left", slackwater_ready::global()).unwrap();
    /// assert_eq!(a.buffered(), b"left");
    /// ```
    pub fn prepend(&mut self, bytes: &[u8], pool: &Pool) -> Result<(), PoolError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let mut b = pool.get((bytes.len() + self.len()).max(self.read_size()))?;
        let _ = b.extend_from_slice(bytes);
        let _ = b.extend_from_slice(self.buffered());
        self.cur = Held::Owned(b);
        Ok(())
    }

    /// Reads until the record at the front is whole and returns its size (its bytes are
    /// `buffered()[..size]`); `Ok(None)` at a clean end of stream between records.
    ///
    /// `rule` looks at the bytes at the front (fewer than it needs, at first) and says how many
    /// it needs to decide, or the record's size, or refuses the header; it is called again as
    /// bytes arrive, and must decide from the header alone. With `blocking == false` the
    /// transport's `WouldBlock` is returned (as [`RecordError::Io`]) and the partial record is
    /// kept for the next call. See the type docs for the memory this may hold.
    ///
    /// # Errors
    /// [`RecordError::Rule`] from the rule (the bytes stay buffered; the caller decides what
    /// a refused header means), [`RecordError::Io`] from the transport,
    /// [`RecordError::Truncated`] if the stream ends inside a record.
    ///
    /// ```
    /// use slackwater_ready::{Assembler, Buffered, Framing, RecordError, global};
    /// let rule = |b: &[u8]| -> Result<Framing, &'static str> {
    ///     match b.first() { None => Ok(Framing::Need(1)), Some(0) => Err("empty"), Some(&n) => Ok(Framing::Record(1 + n as usize)) }
    /// };
    /// let mut a = Assembler::new(4096);
    /// let r = a.next_record(&mut Buffered::new(&[5, 1, 2][..]), global(), true, rule);
    /// assert!(matches!(r, Err(RecordError::Truncated { buffered: 3 })));
    /// ```
    pub fn next_record<R, E>(
        &mut self,
        src: &mut R,
        pool: &Pool,
        blocking: bool,
        mut rule: impl FnMut(&[u8]) -> Result<Framing, E>,
    ) -> Result<Option<usize>, RecordError<E>>
    where
        R: ReadyRead + ?Sized,
    {
        loop {
            let need = match rule(self.buffered()) {
                Ok(Framing::Record(t)) if t <= self.len() => return Ok(Some(t)),
                Ok(Framing::Record(t)) => t,
                Ok(Framing::Need(n)) => n.max(self.len() + 1),
                Err(e) => return Err(RecordError::Rule(e)),
            };
            match self.fill(src, pool, need, blocking) {
                Ok(true) => {}
                Ok(false) => {
                    return match self.end.truncated_at() {
                        Some(buffered) => Err(RecordError::Truncated { buffered }),
                        None => Ok(None),
                    };
                }
                Err(e) => return Err(RecordError::Io(e)),
            }
        }
    }

    /// Makes at least `n` bytes buffered, reading as needed (by the rules in the type docs:
    /// `n` is taken as the size of the record at the front). `Ok(false)`: the stream ended
    /// first; if bytes were buffered, they are dropped and the stream counts as ended inside
    /// a record from then on (`Ok(false)` again, with [`is_ended`](Assembler::is_ended)).
    ///
    /// # Errors
    /// The transport's: `WouldBlock` (non-blocking, bytes kept), `Interrupted` / `TimedOut` /
    /// `OutOfMemory` (bytes kept), or a fatal error, after which the buffer is given back and
    /// every later call returns that error again.
    ///
    /// ```
    /// use slackwater_ready::{Assembler, Buffered, global};
    /// let mut a = Assembler::new(4096);
    /// assert!(a.fill(&mut Buffered::new(&b"abc"[..]), global(), 2, true).unwrap());
    /// assert_eq!(a.buffered(), b"abc");
    /// ```
    pub fn fill<R>(
        &mut self,
        src: &mut R,
        pool: &Pool,
        n: usize,
        blocking: bool,
    ) -> io::Result<bool>
    where
        R: ReadyRead + ?Sized,
    {
        self.failed.check()?;
        while self.len() < n {
            if self.end != End::OPEN {
                return Ok(false);
            }
            if self.is_empty() {
                let size = self.hint().max(n);
                let got = if blocking {
                    src.read_ready(size, pool)
                } else {
                    src.try_read_ready(size, pool)
                };
                match got {
                    Ok(Some(b)) => self.cur = Held::Owned(b),
                    Ok(None) => self.end = End::CLEAN,
                    Err(e) => return Err(self.io_error(e)),
                }
                continue;
            }
            let got = match self.append(src, pool, n, false) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // About to wait holding a partial record: keep only what it needs.
                    self.shrink(pool, n).map_err(io::Error::from)?;
                    if !blocking {
                        return Err(e);
                    }
                    self.append(src, pool, n, true)
                }
                r => r,
            };
            match got {
                Ok(0) => {
                    self.end = End::truncated(self.len());
                    self.cur = Held::Empty;
                }
                Ok(_) => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
        Ok(true)
    }

    /// One append towards a record of `n` bytes.
    fn append<R>(&mut self, src: &mut R, pool: &Pool, n: usize, blocking: bool) -> io::Result<usize>
    where
        R: ReadyRead + ?Sized,
    {
        self.make_room(pool, n).map_err(io::Error::from)?;
        let small = n <= self.read_size() / 2;
        let want = n - self.len();
        match &mut self.cur {
            Held::Owned(b) => {
                let max = if small { b.spare_capacity() } else { want };
                if blocking {
                    src.append_ready(b, max)
                } else {
                    src.try_append_ready(b, max)
                }
            }
            // `make_room` leaves an owned buffer.
            _ => Ok(0),
        }
    }

    fn io_error(&mut self, e: io::Error) -> io::Error {
        let e = self.failed.note(e);
        if self.failed.is_set() {
            self.cur = Held::Empty;
        }
        e
    }

    /// Makes `cur` an owned buffer that can take more of the record of `n` bytes at its front
    /// (rule 3 of the type docs).
    fn make_room(&mut self, pool: &Pool, n: usize) -> Result<(), PoolError> {
        let have = self.len();
        let rs = self.read_size();
        if let Held::Owned(b) = &mut self.cur {
            let cap = b.capacity();
            if cap >= n || (have < cap && cap >= n.min(rs)) {
                if b.spare_capacity() < n.min(cap) - have {
                    b.compact();
                }
                return Ok(());
            }
        }
        let size = if n <= rs / 2 {
            rs
        } else {
            n.min(have.saturating_mul(2).max(rs))
        };
        self.restitch(pool, size)
    }

    /// Moves the buffered bytes into a fresh buffer of at least `size` bytes.
    fn restitch(&mut self, pool: &Pool, size: usize) -> Result<(), PoolError> {
        let mut nb = pool.get(size.max(self.len()))?;
        // Fits: the new buffer holds at least `len` bytes.
        let _ = nb.extend_from_slice(self.buffered());
        self.cur = Held::Owned(nb);
        Ok(())
    }

    /// Rule 4: before a wait, a partial record in a buffer of a larger class than the record
    /// needs moves into the smallest one that holds it.
    fn shrink(&mut self, pool: &Pool, n: usize) -> Result<(), PoolError> {
        if !self.is_empty() && self.capacity() > pool.config().capacity_for(n) {
            self.restitch(pool, n)?;
        }
        Ok(())
    }

    /// Consumes `n` buffered bytes (at most [`len`](Assembler::len)); the buffer goes back to
    /// the pool when none are left.
    ///
    /// ```
    /// use slackwater_ready::{Assembler, global};
    /// let mut a = Assembler::new(4096);
    /// a.prepend(b"abc", global()).unwrap();
    /// a.consume(2);
    /// assert_eq!(a.buffered(), b"c");
    /// a.consume(1);
    /// assert!(!a.holds_buffer());
    /// ```
    #[inline]
    pub fn consume(&mut self, n: usize) {
        let empty = match &mut self.cur {
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
            self.cur = Held::Empty;
        }
    }

    /// Consumes a whole record of `n` bytes at the front. When it was the last byte buffered,
    /// the buffer goes back and the next read at the boundary is sized after it (rule 2).
    ///
    /// ```
    /// use slackwater_ready::{Assembler, global};
    /// let mut a = Assembler::new(4096);
    /// a.prepend(&[7; 3000], global()).unwrap();
    /// a.consume_record(3000);
    /// assert!(!a.holds_buffer());
    /// ```
    #[inline(always)]
    pub fn consume_record(&mut self, n: usize) {
        let more = match &mut self.cur {
            Held::Empty => false,
            Held::Owned(b) => {
                b.advance(n);
                !b.is_empty()
            }
            Held::Frozen(s) => {
                s.advance(n);
                !s.is_empty()
            }
        };
        if !more {
            self.drained(n);
        }
    }

    #[cold]
    #[inline(never)]
    fn drained(&mut self, n: usize) {
        self.cur = Held::Empty;
        self.set_hint(n);
    }

    /// Gives the buffer back now, dropping whatever is buffered (after a fatal error of the
    /// layer above, say).
    ///
    /// ```
    /// use slackwater_ready::{Assembler, global};
    /// let mut a = Assembler::new(4096);
    /// a.prepend(b"abc", global()).unwrap();
    /// a.release();
    /// assert!(!a.holds_buffer());
    /// ```
    pub fn release(&mut self) {
        self.cur = Held::Empty;
    }

    /// A zero-copy view of `range` of the buffered bytes. The buffer becomes shared (frozen)
    /// the first time; from then on [`buffered_mut`](Assembler::buffered_mut) is `None` and a
    /// partial record that needs more bytes is moved to a new buffer.
    ///
    /// # Panics
    /// If `range` is not within [`buffered`](Assembler::buffered).
    ///
    /// ```
    /// use slackwater_ready::{Assembler, global};
    /// let mut a = Assembler::new(4096);
    /// a.prepend(b"header:payload", global()).unwrap();
    /// let v = a.view(7..14);
    /// a.consume(14);
    /// assert_eq!(&v[..], b"payload"); // the view keeps the buffer alive
    /// ```
    pub fn view(&mut self, range: Range<usize>) -> SharedBuf {
        if matches!(self.cur, Held::Owned(_))
            && let Held::Owned(b) = std::mem::replace(&mut self.cur, Held::Empty)
        {
            self.cur = Held::Frozen(b.freeze());
        }
        match &self.cur {
            Held::Frozen(s) => s.slice(range).expect("range within the buffered bytes"),
            _ => panic!("view of an empty assembler"),
        }
    }

    /// Hands out `range` of the buffered bytes as a buffer of its own and keeps the bytes
    /// from `keep_from` on buffered (everything before `keep_from` is consumed), copying as
    /// little as it can: when nothing is kept, the buffer itself is handed out (advanced and
    /// truncated to `range`) unless `range` is so much smaller than it that a kept result
    /// would pin `ratio` times its size or more, in which case `range` is copied into a
    /// buffer of its own class; when bytes are kept, whichever of `range` and the kept bytes
    /// is smaller is copied into a new buffer. When nothing is kept, the next read at the
    /// boundary is sized after the bytes consumed (rule 2). The buffer must not be shared
    /// ([`view`](Assembler::view)).
    ///
    /// # Errors
    /// The pool's, when a copy needs a buffer; nothing is consumed then.
    ///
    /// # Panics
    /// If `range.end > keep_from` or `keep_from > len()`.
    ///
    /// ```
    /// use slackwater_ready::{Assembler, global};
    /// let mut a = Assembler::new(4096);
    /// a.prepend(b"##plain##next", global()).unwrap();
    /// let p = a.split_out(2..7, 9, global(), 16).unwrap();
    /// assert_eq!(&p[..], b"plain");
    /// assert_eq!(a.buffered(), b"next");
    /// ```
    pub fn split_out(
        &mut self,
        range: Range<usize>,
        keep_from: usize,
        pool: &Pool,
        ratio: usize,
    ) -> Result<Buf, PoolError> {
        assert!(range.start <= range.end && range.end <= keep_from && keep_from <= self.len());
        let Held::Owned(b) = &mut self.cur else {
            // A shared buffer: copy (not a path this crate's layers take).
            let mut out = pool.get(range.len())?;
            let _ = out.extend_from_slice(&self.buffered()[range]);
            self.consume(keep_from);
            return Ok(out);
        };
        let tail = b.len() - keep_from;
        if tail == 0 {
            // The records ended exactly at the end of what was read: size the next read after
            // them (rule 2), as `consume_record` does.
            self.hint = next_read_size(keep_from, self.read_size as usize) as u32;
            if range.len().saturating_mul(ratio.max(1)) < b.capacity() {
                let mut out = pool.get(range.len())?;
                let _ = out.extend_from_slice(&b[range]);
                self.cur = Held::Empty;
                return Ok(out);
            }
            let Held::Owned(mut out) = std::mem::replace(&mut self.cur, Held::Empty) else {
                unreachable!("matched above")
            };
            out.advance(range.start);
            out.truncate(range.len());
            return Ok(out);
        }
        if range.len() <= tail {
            let mut out = pool.get(range.len())?;
            let _ = out.extend_from_slice(&b[range]);
            b.advance(keep_from);
            Ok(out)
        } else {
            let mut rest = pool.get(tail.max(self.hint as usize))?;
            let _ = rest.extend_from_slice(&b[keep_from..]);
            let Held::Owned(mut out) = std::mem::replace(&mut self.cur, Held::Owned(rest)) else {
                unreachable!("matched above")
            };
            out.advance(range.start);
            out.truncate(range.len());
            Ok(out)
        }
    }
}

/// `n` within 64..=u32::MAX.
const fn clamp_read_size(n: usize) -> u32 {
    if n < 64 {
        64
    } else if n > u32::MAX as usize {
        u32::MAX
    } else {
        n as u32
    }
}

/// The size of the next read at a record boundary, after a record of `n` bytes ended exactly
/// at the end of the buffered bytes (rule 2 of [`Assembler`]).
#[inline]
fn next_read_size(n: usize, read_size: usize) -> usize {
    if n > read_size / 2 {
        n.min(read_size)
    } else {
        read_size
    }
}
