//! The write side: [`ReadyWrite`] and [`WriteQueue`], output that holds pooled buffers only
//! while the transport refuses it.

use crate::sticky::Sticky;
use crate::{Buf, Pool};
use std::collections::VecDeque;
use std::io;

/// The default high-water mark of a [`WriteQueue`]: 256 KiB queued.
pub const DEFAULT_HIGH_WATER: usize = 256 * 1024;

/// The least a [`WriteQueue`] asks of the pool when it needs a buffer for queued bytes.
const CHUNK: usize = 16 * 1024;

/// A non-blocking byte sink whose output waits in pooled buffers only while the transport
/// refuses it, and holds nothing when everything has been sent.
///
/// * [`queue`](ReadyWrite::queue) copies bytes once into pooled buffers (a record layer seals
///   them into its records there); it never writes to the transport and never blocks.
/// * [`try_flush_ready`](ReadyWrite::try_flush_ready) writes queued bytes until none are left
///   (`Ok`) or the transport refuses more (`WouldBlock`: register for writability, then call
///   it again); [`flush_ready`](ReadyWrite::flush_ready) waits until all is written.
/// * [`wants_writable`](ReadyWrite::wants_writable) is what a poller registers for;
///   [`is_write_full`](ReadyWrite::is_write_full) says the queue passed its high-water mark
///   (stop producing, stop reading the peer, until a flush brings it down).
/// * A fatal transport error (a reset in mid-flush) drops what was queued, and every later
///   call returns it again.
///
/// ```
/// use slackwater_ready::{ReadyFd, ReadyWrite};
/// use std::io::Read;
/// let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let mut w = ReadyFd::new(a).unwrap();
/// w.queue(b"hello").unwrap();
/// assert_eq!(w.queued(), 5);
/// w.try_flush_ready().unwrap();                 // all taken by the socket
/// assert_eq!(w.queued(), 0);                    // and no buffer held
/// let mut got = [0; 5];
/// b.read_exact(&mut got).unwrap();
/// assert_eq!(&got, b"hello");
/// ```
pub trait ReadyWrite {
    /// Appends `data` to the output, copying it once into pooled buffers.
    ///
    /// # Errors
    /// The remembered fatal error, if the output already failed; `OutOfMemory` from the pool.
    fn queue(&mut self, data: &[u8]) -> io::Result<()>;

    /// Appends a whole buffer to the output without copying (its bytes are sent as they are).
    ///
    /// # Errors
    /// As [`queue`](ReadyWrite::queue).
    fn queue_buf(&mut self, buf: Buf) -> io::Result<()> {
        self.queue(&buf)
    }

    /// Writes queued output until none is left (`Ok`), or until the transport refuses more
    /// (`WouldBlock`; what is left stays queued).
    ///
    /// # Errors
    /// `WouldBlock`; a fatal transport error (remembered: returned again by every later call).
    fn try_flush_ready(&mut self) -> io::Result<()>;

    /// Writes all queued output, waiting for writability as needed.
    ///
    /// # Errors
    /// A fatal transport error (remembered), a wait timeout, a shutdown.
    fn flush_ready(&mut self) -> io::Result<()>;

    /// Bytes queued and not yet taken by the transport.
    fn queued(&self) -> usize;

    /// Whether output is waiting for the transport (register for writability).
    fn wants_writable(&self) -> bool {
        self.queued() != 0
    }

    /// Whether queued output passed the high-water mark.
    fn is_write_full(&self) -> bool;
}

/// Forwards every method, so `&mut W` and `Box<W>` are `ReadyWrite` too.
macro_rules! forward_ready_write {
    ($($t:ty),*) => {$(
        impl<W: ReadyWrite + ?Sized> ReadyWrite for $t {
            fn queue(&mut self, data: &[u8]) -> io::Result<()> {
                (**self).queue(data)
            }
            fn queue_buf(&mut self, buf: Buf) -> io::Result<()> {
                (**self).queue_buf(buf)
            }
            fn try_flush_ready(&mut self) -> io::Result<()> {
                (**self).try_flush_ready()
            }
            fn flush_ready(&mut self) -> io::Result<()> {
                (**self).flush_ready()
            }
            fn queued(&self) -> usize {
                (**self).queued()
            }
            fn wants_writable(&self) -> bool {
                (**self).wants_writable()
            }
            fn is_write_full(&self) -> bool {
                (**self).is_write_full()
            }
        }
    )*};
}

forward_ready_write!(&mut W, Box<W>);

/// Queued output in pooled buffers, in order: the building block of [`ReadyWrite`]
/// implementations. It holds buffers only while bytes wait, and no allocation at all when
/// empty: the first buffer waits in a slot of the queue itself, and the list that holds any
/// further ones is freed with the last of them (so the common case, one buffer at a time,
/// never allocates).
///
/// ```
/// use slackwater_ready::{WriteQueue, global};
/// let mut q = WriteQueue::new();
/// q.extend(b"abc", global()).unwrap();
/// let mut out = Vec::new();
/// q.flush_with(|b| { out.extend_from_slice(b); Ok(b.len()) }).unwrap();
/// assert_eq!(out, b"abc");
/// assert_eq!((q.queued(), q.buffers(), q.capacity_bytes()), (0, 0, 0));
/// ```
#[derive(Debug)]
pub struct WriteQueue {
    /// The first buffer with unsent bytes.
    front: Option<Buf>,
    /// The buffers after it (allocated only while more than one buffer waits).
    rest: VecDeque<Buf>,
    queued: usize,
    high_water: usize,
    failed: Sticky,
}

impl Default for WriteQueue {
    fn default() -> Self {
        WriteQueue::new()
    }
}

impl WriteQueue {
    /// An empty queue with the [default high-water mark](DEFAULT_HIGH_WATER).
    ///
    /// ```
    /// assert_eq!(slackwater_ready::WriteQueue::new().high_water(), 256 * 1024);
    /// ```
    pub const fn new() -> WriteQueue {
        WriteQueue {
            front: None,
            rest: VecDeque::new(),
            queued: 0,
            high_water: DEFAULT_HIGH_WATER,
            failed: Sticky::NONE,
        }
    }

    /// The high-water mark: [`is_full`](WriteQueue::is_full) once this many bytes are queued.
    ///
    /// ```
    /// assert_eq!(slackwater_ready::WriteQueue::new().with_high_water(10).high_water(), 10);
    /// ```
    pub fn with_high_water(mut self, bytes: usize) -> WriteQueue {
        self.high_water = bytes;
        self
    }

    /// Changes the high-water mark.
    ///
    /// ```
    /// let mut q = slackwater_ready::WriteQueue::new();
    /// q.set_high_water(1);
    /// assert_eq!(q.high_water(), 1);
    /// ```
    pub fn set_high_water(&mut self, bytes: usize) {
        self.high_water = bytes;
    }

    /// The high-water mark.
    ///
    /// ```
    /// assert_eq!(slackwater_ready::WriteQueue::new().high_water(), slackwater_ready::DEFAULT_HIGH_WATER);
    /// ```
    pub fn high_water(&self) -> usize {
        self.high_water
    }

    /// Bytes queued and not yet sent.
    ///
    /// ```
    /// assert_eq!(slackwater_ready::WriteQueue::new().queued(), 0);
    /// ```
    #[inline]
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Whether nothing is queued.
    ///
    /// ```
    /// assert!(slackwater_ready::WriteQueue::new().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Whether at least the high-water mark is queued.
    ///
    /// ```
    /// use slackwater_ready::{WriteQueue, global};
    /// let mut q = WriteQueue::new().with_high_water(4);
    /// q.extend(b"abcd", global()).unwrap();
    /// assert!(q.is_full());
    /// ```
    #[inline]
    pub fn is_full(&self) -> bool {
        self.queued >= self.high_water
    }

    /// Pooled buffers held for queued bytes.
    ///
    /// ```
    /// assert_eq!(slackwater_ready::WriteQueue::new().buffers(), 0);
    /// ```
    pub fn buffers(&self) -> usize {
        usize::from(self.front.is_some()) + self.rest.len()
    }

    /// Bytes of memory the queue pins: the capacities of the buffers it holds plus its list of
    /// them (0 when empty).
    ///
    /// ```
    /// assert_eq!(slackwater_ready::WriteQueue::new().capacity_bytes(), 0);
    /// ```
    pub fn capacity_bytes(&self) -> usize {
        self.front
            .iter()
            .chain(&self.rest)
            .map(Buf::capacity)
            .sum::<usize>()
            + self.rest.capacity() * std::mem::size_of::<Buf>()
    }

    /// The remembered fatal error, if the output failed.
    ///
    /// # Errors
    /// That error, again.
    ///
    /// ```
    /// assert!(slackwater_ready::WriteQueue::new().check().is_ok());
    /// ```
    pub fn check(&self) -> io::Result<()> {
        self.failed.check()
    }

    /// Appends a whole buffer (not copied). An empty buffer is dropped.
    ///
    /// # Errors
    /// The remembered fatal error.
    ///
    /// ```
    /// use slackwater_ready::{WriteQueue, global};
    /// let mut q = WriteQueue::new();
    /// let mut b = global().get(4).unwrap();
    /// b.extend_from_slice(b"abcd").unwrap();
    /// q.push(b).unwrap();
    /// assert_eq!(q.queued(), 4);
    /// ```
    pub fn push(&mut self, buf: Buf) -> io::Result<()> {
        self.failed.check()?;
        if buf.is_empty() {
            return Ok(());
        }
        self.queued += buf.len();
        self.put(buf);
        Ok(())
    }

    /// Appends `data`, copied into the last buffer's spare room and then into new buffers from
    /// `pool` (at least 16 KiB each, or the size of what is left).
    ///
    /// # Errors
    /// The remembered fatal error; `OutOfMemory` from the pool (what was copied stays queued).
    ///
    /// ```
    /// use slackwater_ready::{WriteQueue, global};
    /// let mut q = WriteQueue::new();
    /// q.extend(b"ab", global()).unwrap();
    /// q.extend(b"cd", global()).unwrap();
    /// assert_eq!((q.queued(), q.buffers()), (4, 1)); // one buffer
    /// ```
    pub fn extend(&mut self, mut data: &[u8], pool: &Pool) -> io::Result<()> {
        self.failed.check()?;
        while !data.is_empty() {
            if self.last_mut().is_none_or(|b| b.spare_capacity() == 0) {
                let b = pool.get(data.len().max(CHUNK))?;
                self.put(b);
            }
            let room = self.last_mut().expect("just made room");
            let n = room.spare_capacity().min(data.len());
            // Fits: at most the spare capacity.
            let _ = room.extend_from_slice(&data[..n]);
            self.queued += n;
            data = &data[n..];
        }
        Ok(())
    }

    /// The last queued buffer, to append to in place (a record layer's open record), if there
    /// is one.
    ///
    /// ```
    /// use slackwater_ready::{WriteQueue, global};
    /// let mut q = WriteQueue::new();
    /// assert!(q.last_mut().is_none());
    /// q.extend(b"a", global()).unwrap();
    /// assert_eq!(&q.last_mut().unwrap()[..], b"a");
    /// ```
    pub fn last_mut(&mut self) -> Option<&mut Buf> {
        match self.rest.back_mut() {
            Some(b) => Some(b),
            None => self.front.as_mut(),
        }
    }

    /// Appends a buffer: into the front slot if it is free, else to the list.
    fn put(&mut self, buf: Buf) {
        if self.front.is_none() {
            self.front = Some(buf);
        } else {
            self.rest.push_back(buf);
        }
    }

    /// Tells the queue that `n` bytes were appended to [`last_mut`](WriteQueue::last_mut) in
    /// place (it counts them as queued).
    ///
    /// ```
    /// use slackwater_ready::{WriteQueue, global};
    /// let mut q = WriteQueue::new();
    /// q.extend(b"a", global()).unwrap();
    /// q.last_mut().unwrap().extend_from_slice(b"b").unwrap();
    /// q.appended(1);
    /// assert_eq!(q.queued(), 2);
    /// ```
    pub fn appended(&mut self, n: usize) {
        self.queued += n;
    }

    /// Sends queued bytes through `write` (one call per buffer, front first) until none are
    /// left (`Ok`), or `write` says `WouldBlock` (returned; the rest stays queued). Each buffer
    /// goes back to the pool as soon as its last byte is sent, and the list itself is freed
    /// with the last one. `Interrupted` is retried.
    ///
    /// # Errors
    /// `WouldBlock` (the rest stays queued). Everything else is fatal — `WriteZero` if `write`
    /// takes nothing, or the transport's error: the queue drops its buffers and returns that
    /// error again from every later call.
    ///
    /// ```
    /// use slackwater_ready::{WriteQueue, global};
    /// use std::io::{Error, ErrorKind};
    /// let mut q = WriteQueue::new();
    /// q.extend(b"abcdef", global()).unwrap();
    /// let e = q.flush_with(|b| Ok(b.len().min(2))).is_ok();          // takes 2 at a time
    /// assert!(e && q.is_empty());
    /// q.extend(b"x", global()).unwrap();
    /// let e = q.flush_with(|_| Err(Error::from(ErrorKind::ConnectionReset))).unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    /// assert_eq!(q.buffers(), 0);                                        // dropped
    /// assert_eq!(q.extend(b"y", global()).unwrap_err().kind(), ErrorKind::ConnectionReset);
    /// ```
    pub fn flush_with(
        &mut self,
        mut write: impl FnMut(&[u8]) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.failed.check()?;
        while let Some(b) = self.front.as_mut() {
            match write(b) {
                Ok(0) => return Err(self.fail(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    let n = n.min(b.len());
                    b.advance(n);
                    self.queued -= n;
                    if b.is_empty() {
                        // Give the buffer back now, not when the list is cleared.
                        self.front = self.rest.pop_front();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
                Err(e) => return Err(self.fail(e)),
            }
        }
        // Everything sent: hold nothing, not even the list.
        self.rest = VecDeque::new();
        Ok(())
    }

    /// Records a fatal error: drops everything queued and remembers it.
    ///
    /// ```
    /// use slackwater_ready::{WriteQueue, global};
    /// let mut q = WriteQueue::new();
    /// q.extend(b"x", global()).unwrap();
    /// let e = q.fail(std::io::ErrorKind::BrokenPipe.into());
    /// assert_eq!((e.kind(), q.queued()), (std::io::ErrorKind::BrokenPipe, 0));
    /// assert!(q.check().is_err());
    /// ```
    pub fn fail(&mut self, e: io::Error) -> io::Error {
        let e = self.failed.note(e);
        if self.failed.is_set() {
            self.front = None;
            self.rest = VecDeque::new();
            self.queued = 0;
        }
        e
    }
}

/// A `Vec<u8>` takes every byte at once: `queue` appends, nothing is ever left queued (for
/// tests, and for encoding frames or records into memory).
///
/// ```
/// use slackwater_ready::ReadyWrite;
/// let mut v = Vec::new();
/// v.queue(b"abc").unwrap();
/// v.try_flush_ready().unwrap();
/// assert_eq!((v.as_slice(), v.queued()), (&b"abc"[..], 0));
/// ```
impl ReadyWrite for Vec<u8> {
    fn queue(&mut self, data: &[u8]) -> io::Result<()> {
        self.extend_from_slice(data);
        Ok(())
    }
    fn try_flush_ready(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn flush_ready(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn queued(&self) -> usize {
        0
    }
    fn is_write_full(&self) -> bool {
        false
    }
}
