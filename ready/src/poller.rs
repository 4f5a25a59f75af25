//! [`Poller`]: wait on thousands of fds at once (epoll on Linux, `poll(2)` elsewhere).

use crate::sys;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

/// The token the poller uses for its own wake-up pipe.
const WAKE: u64 = u64::MAX;

fn check_token(token: u64) -> io::Result<()> {
    if token == WAKE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "token u64::MAX is reserved",
        ));
    }
    Ok(())
}

/// One ready fd, as reported by [`Poller::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    token: u64,
    readable: bool,
    writable: bool,
    hangup: bool,
    error: bool,
}

impl Event {
    /// The token the fd was registered with.
    ///
    /// ```
    /// # let _ = |e: slackwater_ready::Event| e.token();
    /// ```
    pub fn token(&self) -> u64 {
        self.token
    }
    /// Data can be read (or the peer closed: a read then returns end of stream).
    ///
    /// ```
    /// # let _ = |e: slackwater_ready::Event| e.is_readable();
    /// ```
    pub fn is_readable(&self) -> bool {
        self.readable
    }
    /// Data can be written (only reported for fds registered with [`Interest::WRITABLE`]).
    ///
    /// ```
    /// # let _ = |e: slackwater_ready::Event| e.is_writable();
    /// ```
    pub fn is_writable(&self) -> bool {
        self.writable
    }
    /// The peer hung up (`POLLHUP`/`EPOLLRDHUP`); reading tells the rest.
    ///
    /// ```
    /// # let _ = |e: slackwater_ready::Event| e.is_hangup();
    /// ```
    pub fn is_hangup(&self) -> bool {
        self.hangup
    }
    /// The fd is in error (`POLLERR`); reading returns the error.
    ///
    /// ```
    /// # let _ = |e: slackwater_ready::Event| e.is_error();
    /// ```
    pub fn is_error(&self) -> bool {
        self.error
    }
}

/// Which readiness a registered fd reports.
///
/// ```
/// use slackwater_ready::Interest;
/// let both = Interest::READABLE.with(Interest::WRITABLE);
/// assert!(both.is_readable() && both.is_writable());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest {
    readable: bool,
    writable: bool,
}

impl Interest {
    /// Readable (and hang-up/error), the default of [`Poller::register`].
    pub const READABLE: Interest = Interest {
        readable: true,
        writable: false,
    };
    /// Writable: for an event loop with output waiting in pooled buffers; register it only
    /// while output is queued (a level-triggered writable socket is reported by every wait).
    pub const WRITABLE: Interest = Interest {
        readable: false,
        writable: true,
    };

    /// What to wait for on a connection whose output is `w`: readable only while nothing is
    /// queued; readable and writable while output waits for the socket; **writable only**
    /// once the output passed its high-water mark (backpressure: stop reading the peer until
    /// the socket takes what we owe it; level-triggered readability would otherwise wake the
    /// loop for input it must not read).
    ///
    /// ```
    /// use slackwater_ready::{Interest, ReadyFd, ReadyWrite};
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let mut w = ReadyFd::new(a).unwrap().with_high_water(4);
    /// assert_eq!(Interest::for_output(&w), Interest::READABLE);
    /// w.queue(b"ab").unwrap();
    /// assert_eq!(Interest::for_output(&w), Interest::READABLE.with(Interest::WRITABLE));
    /// w.queue(b"cd").unwrap();
    /// assert_eq!(Interest::for_output(&w), Interest::WRITABLE);
    /// ```
    pub fn for_output<W: crate::ReadyWrite + ?Sized>(w: &W) -> Interest {
        match (w.is_write_full(), w.wants_writable()) {
            (true, _) => Interest::WRITABLE,
            (false, true) => Interest::READABLE.with(Interest::WRITABLE),
            (false, false) => Interest::READABLE,
        }
    }

    /// Both `self` and `other`.
    ///
    /// ```
    /// assert!(slackwater_ready::Interest::WRITABLE.with(slackwater_ready::Interest::READABLE).is_readable());
    /// ```
    pub const fn with(self, other: Interest) -> Interest {
        Interest {
            readable: self.readable || other.readable,
            writable: self.writable || other.writable,
        }
    }
    /// Whether readability is reported.
    ///
    /// ```
    /// assert!(slackwater_ready::Interest::READABLE.is_readable());
    /// ```
    pub const fn is_readable(self) -> bool {
        self.readable
    }
    /// Whether writability is reported.
    ///
    /// ```
    /// assert!(!slackwater_ready::Interest::READABLE.is_writable());
    /// ```
    pub const fn is_writable(self) -> bool {
        self.writable
    }
}

/// A reusable list of events filled by [`Poller::wait`].
///
/// ```
/// let mut events = slackwater_ready::Events::with_capacity(1024);
/// assert!(events.is_empty());
/// ```
#[derive(Debug)]
pub struct Events {
    list: Vec<Event>,
    cap: usize,
    #[cfg(all(target_os = "linux", not(slackwater_poll_fallback)))]
    raw: Vec<libc::epoll_event>,
}

impl Events {
    /// Room for up to `cap` events per wait (at least 1, at most 65,536).
    ///
    /// ```
    /// let events = slackwater_ready::Events::with_capacity(64);
    /// ```
    pub fn with_capacity(cap: usize) -> Self {
        let cap = cap.clamp(1, 1 << 16);
        Events {
            list: Vec::with_capacity(cap),
            cap,
            #[cfg(all(target_os = "linux", not(slackwater_poll_fallback)))]
            raw: vec![libc::epoll_event { events: 0, u64: 0 }; cap + 1],
        }
    }
    /// The events of the last wait.
    ///
    /// ```
    /// let events = slackwater_ready::Events::with_capacity(8);
    /// assert_eq!(events.iter().count(), 0);
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, Event> {
        self.list.iter()
    }
    /// How many events the last wait returned.
    ///
    /// ```
    /// assert_eq!(slackwater_ready::Events::with_capacity(8).len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.list.len()
    }
    /// Whether the last wait returned no event (timeout, wake-up, or interruption).
    ///
    /// ```
    /// assert!(slackwater_ready::Events::with_capacity(8).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = &'a Event;
    type IntoIter = std::slice::Iter<'a, Event>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// Wakes a [`Poller::wait`] from any thread. Cloneable.
///
/// ```
/// let poller = slackwater_ready::Poller::new().unwrap();
/// let waker = poller.waker();
/// std::thread::spawn(move || waker.wake().unwrap());
/// let mut events = slackwater_ready::Events::with_capacity(8);
/// poller.wait(&mut events, None).unwrap(); // returns once woken
/// assert!(events.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct Waker(Arc<WakePipe>);

/// Both ends of the wake-up pipe, shared by the poller and its wakers, so that a wake after
/// the poller is gone still writes to a pipe with a reader (no `EPIPE`/`SIGPIPE`).
#[derive(Debug)]
struct WakePipe {
    rx: OwnedFd,
    tx: OwnedFd,
}

impl Waker {
    /// Makes the current or next [`Poller::wait`] return (with no events for the wake-up).
    ///
    /// # Errors
    /// Only if writing to the wake-up pipe fails.
    ///
    /// ```
    /// slackwater_ready::Poller::new().unwrap().waker().wake().unwrap();
    /// ```
    pub fn wake(&self) -> io::Result<()> {
        sys::poke(self.0.tx.as_raw_fd())
    }
}

/// Waits on many registered fds at once and reports the readable ones.
///
/// * **Level-triggered**: an fd is reported by every `wait` while it has unread data (or is hung
///   up / in error). Read until `WouldBlock` or not: nothing is lost either way.
/// * Readiness for reading by default (`EPOLLIN | EPOLLRDHUP` on Linux, `POLLIN` elsewhere);
///   for writing too with [`register_with`](Poller::register_with) /
///   [`reregister`](Poller::reregister) and [`Interest::WRITABLE`] (`EPOLLOUT`/`POLLOUT`).
/// * A token is any `u64` except `u64::MAX` (reserved for the wake-up pipe).
/// * **Closing a registered fd** is safe: on Linux the kernel drops it from the set when its
///   last descriptor closes; elsewhere [`deregister`](Poller::deregister) it first (a closed fd
///   left registered is reported as an error event). Either way a `wait` that returned before
///   the close may still list its token, and a token may be re-used after deregistration, so
///   treat an event for a token you no longer track as stale.
/// * `register`, `deregister` and `wait` take `&self` and may run on different threads. One
///   poller per serving thread is the intended shape (level-triggered events for one fd would
///   otherwise wake every thread waiting on the same poller).
/// * A `wait` interrupted by a signal returns with no events.
///
/// Serving idle connections this way pins no buffer: the poller reports readiness, and the
/// reader takes a pooled buffer only then ([`ReadyRead::try_read_ready`](crate::ReadyRead)).
///
/// ```
/// use slackwater_ready::{Events, Poller, ReadyFd, ReadyRead, global};
/// use std::io::Write;
/// use std::os::fd::AsFd;
/// let poller = Poller::new().unwrap();
/// let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let mut conn = ReadyFd::new(a).unwrap();
/// poller.register(conn.as_fd(), 7).unwrap();
/// b.write_all(b"hi").unwrap();
/// let mut events = Events::with_capacity(16);
/// poller.wait(&mut events, None).unwrap();
/// assert_eq!(events.iter().next().unwrap().token(), 7);
/// let buf = conn.try_read_ready(4096, global()).unwrap().unwrap();
/// assert_eq!(&buf[..], b"hi");
/// ```
#[derive(Debug)]
pub struct Poller {
    imp: imp::Imp,
    wake: Arc<WakePipe>,
}

impl Poller {
    /// A poller with nothing registered.
    ///
    /// # Errors
    /// If the kernel refuses an epoll instance or a pipe (fd limit).
    ///
    /// ```
    /// let p = slackwater_ready::Poller::new().unwrap();
    /// ```
    pub fn new() -> io::Result<Self> {
        let (rx, tx) = sys::pipe()?;
        let imp = imp::Imp::new()?;
        imp.add(rx.as_raw_fd(), WAKE, Interest::READABLE)?;
        Ok(Poller {
            imp,
            wake: Arc::new(WakePipe { rx, tx }),
        })
    }

    /// Starts reporting readability of `fd` under `token`.
    ///
    /// # Errors
    /// `InvalidInput` for the reserved token `u64::MAX`; `AlreadyExists` if `fd` is registered;
    /// the OS error otherwise.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// let p = slackwater_ready::Poller::new().unwrap();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// p.register(a.as_fd(), 1).unwrap();
    /// assert!(p.register(a.as_fd(), 2).is_err());
    /// ```
    pub fn register(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        self.register_with(fd, token, Interest::READABLE)
    }

    /// Starts reporting `fd` under `token` for `interest`.
    ///
    /// # Errors
    /// As [`register`](Poller::register).
    ///
    /// ```
    /// use slackwater_ready::{Events, Interest, Poller};
    /// use std::os::fd::AsFd;
    /// let p = Poller::new().unwrap();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// p.register_with(a.as_fd(), 1, Interest::WRITABLE).unwrap();
    /// let mut events = Events::with_capacity(4);
    /// p.wait(&mut events, None).unwrap();
    /// assert!(events.iter().next().unwrap().is_writable());
    /// ```
    pub fn register_with(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Interest,
    ) -> io::Result<()> {
        check_token(token)?;
        self.imp.add(fd.as_raw_fd(), token, interest)
    }

    /// Changes the token and interest of a registered `fd`.
    ///
    /// # Errors
    /// `InvalidInput` for the reserved token; `NotFound` if `fd` is not registered.
    ///
    /// ```
    /// use slackwater_ready::{Interest, Poller};
    /// use std::os::fd::AsFd;
    /// let p = Poller::new().unwrap();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// p.register(a.as_fd(), 1).unwrap();
    /// p.reregister(a.as_fd(), 1, Interest::READABLE.with(Interest::WRITABLE)).unwrap();
    /// ```
    pub fn reregister(&self, fd: BorrowedFd<'_>, token: u64, interest: Interest) -> io::Result<()> {
        check_token(token)?;
        self.imp.modify(fd.as_raw_fd(), token, interest)
    }

    /// Stops reporting `fd`.
    ///
    /// # Errors
    /// `NotFound` if `fd` is not registered; the OS error otherwise.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// let p = slackwater_ready::Poller::new().unwrap();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// p.register(a.as_fd(), 1).unwrap();
    /// p.deregister(a.as_fd()).unwrap();
    /// assert!(p.deregister(a.as_fd()).is_err());
    /// ```
    pub fn deregister(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.imp.delete(fd.as_raw_fd())
    }

    /// Blocks until at least one registered fd is ready, the timeout passes, a [`Waker`]
    /// wakes it, or a signal interrupts it; fills `events` (cleared first) with the ready fds.
    ///
    /// # Errors
    /// The OS error of `epoll_wait`/`poll` (never `Interrupted`: that returns no events).
    ///
    /// ```
    /// let p = slackwater_ready::Poller::new().unwrap();
    /// let mut events = slackwater_ready::Events::with_capacity(8);
    /// p.wait(&mut events, Some(std::time::Duration::from_millis(1))).unwrap();
    /// assert!(events.is_empty());
    /// ```
    pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.list.clear();
        let deadline = sys::deadline(timeout);
        let mut woken = false;
        match self.imp.wait(events, sys::timeout_ms(deadline), &mut woken) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => r?,
        }
        if woken {
            sys::drain(self.wake.rx.as_raw_fd());
        }
        Ok(())
    }

    /// A handle that wakes this poller's `wait` from another thread.
    ///
    /// ```
    /// let w = slackwater_ready::Poller::new().unwrap().waker();
    /// ```
    pub fn waker(&self) -> Waker {
        Waker(self.wake.clone())
    }
}

#[cfg(all(target_os = "linux", not(slackwater_poll_fallback)))]
mod imp {
    use super::{Event, Events, Interest, WAKE};
    use crate::sys::cvt;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

    fn bits(interest: Interest) -> u32 {
        let mut b = 0;
        if interest.is_readable() {
            b |= (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
        }
        if interest.is_writable() {
            b |= libc::EPOLLOUT as u32;
        }
        b
    }

    #[derive(Debug)]
    pub(super) struct Imp {
        ep: OwnedFd,
    }

    impl Imp {
        pub(super) fn new() -> io::Result<Self> {
            // SAFETY: no pointers; returns a new descriptor or -1.
            let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
            // SAFETY: a fresh descriptor owned by nobody else.
            let ep = unsafe { OwnedFd::from_raw_fd(fd) };
            Ok(Imp { ep })
        }

        pub(super) fn add(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
            self.ctl(libc::EPOLL_CTL_ADD, fd, token, interest)
        }

        pub(super) fn modify(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
            self.ctl(libc::EPOLL_CTL_MOD, fd, token, interest)
        }

        fn ctl(
            &self,
            op: libc::c_int,
            fd: RawFd,
            token: u64,
            interest: Interest,
        ) -> io::Result<()> {
            let mut ev = libc::epoll_event {
                events: bits(interest),
                u64: token,
            };
            // SAFETY: `ev` is a valid event for the duration of the call.
            cvt(unsafe { libc::epoll_ctl(self.ep.as_raw_fd(), op, fd, &mut ev) }).map(drop)
        }

        pub(super) fn delete(&self, fd: RawFd) -> io::Result<()> {
            let mut ev = libc::epoll_event { events: 0, u64: 0 };
            // SAFETY: as above (the event is ignored for DEL on current kernels).
            cvt(unsafe { libc::epoll_ctl(self.ep.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) })
                .map(drop)
        }

        pub(super) fn wait(
            &self,
            events: &mut Events,
            timeout_ms: libc::c_int,
            woken: &mut bool,
        ) -> io::Result<()> {
            // One extra slot: the wake-up pipe never takes a connection's place.
            let max = (events.cap + 1).min(libc::c_int::MAX as usize) as libc::c_int;
            // SAFETY: `raw` has room for `max` events.
            let n = cvt(unsafe {
                libc::epoll_wait(
                    self.ep.as_raw_fd(),
                    events.raw.as_mut_ptr(),
                    max,
                    timeout_ms,
                )
            })?;
            for raw in &events.raw[..n as usize] {
                let (bits, token) = (raw.events, raw.u64);
                if token == WAKE {
                    *woken = true;
                    continue;
                }
                if events.list.len() == events.cap {
                    // `cap + 1` sockets and no wake-up: the last one is left for the next
                    // wait (level-triggered, so it is reported again), keeping the promised
                    // room (and `list` never grows past its first allocation).
                    continue;
                }
                events.list.push(Event {
                    token,
                    readable: bits & libc::EPOLLIN as u32 != 0,
                    writable: bits & libc::EPOLLOUT as u32 != 0,
                    hangup: bits & (libc::EPOLLHUP | libc::EPOLLRDHUP) as u32 != 0,
                    error: bits & libc::EPOLLERR as u32 != 0,
                });
            }
            Ok(())
        }
    }
}

#[cfg(any(not(target_os = "linux"), slackwater_poll_fallback))]
mod imp {
    use super::{Event, Events, Interest, WAKE};
    use crate::sys::cvt;
    use std::io;
    use std::os::fd::RawFd;
    use std::sync::Mutex;

    fn bits(interest: Interest) -> libc::c_short {
        let mut b = 0;
        if interest.is_readable() {
            b |= libc::POLLIN;
        }
        if interest.is_writable() {
            b |= libc::POLLOUT;
        }
        b
    }

    /// The portable fallback: a registry under a mutex, turned into a `pollfd` array on each
    /// wait (O(registered) per wait; fine for hundreds of fds, epoll is used on Linux). Linux
    /// builds it instead of epoll under `--cfg slackwater_poll_fallback`, so CI tests it.
    #[derive(Debug)]
    pub(super) struct Imp {
        fds: Mutex<Vec<(RawFd, u64, libc::c_short)>>,
    }

    impl Imp {
        pub(super) fn new() -> io::Result<Self> {
            Ok(Imp {
                fds: Mutex::new(Vec::new()),
            })
        }

        pub(super) fn add(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
            let mut fds = self.fds.lock().unwrap_or_else(|p| p.into_inner());
            if fds.iter().any(|&(f, _, _)| f == fd) {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            fds.push((fd, token, bits(interest)));
            Ok(())
        }

        pub(super) fn modify(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
            let mut fds = self.fds.lock().unwrap_or_else(|p| p.into_inner());
            match fds.iter_mut().find(|(f, _, _)| *f == fd) {
                Some(e) => {
                    *e = (fd, token, bits(interest));
                    Ok(())
                }
                None => Err(io::Error::from_raw_os_error(libc::ENOENT)),
            }
        }

        pub(super) fn delete(&self, fd: RawFd) -> io::Result<()> {
            let mut fds = self.fds.lock().unwrap_or_else(|p| p.into_inner());
            let before = fds.len();
            fds.retain(|&(f, _, _)| f != fd);
            if fds.len() == before {
                return Err(io::Error::from_raw_os_error(libc::ENOENT));
            }
            Ok(())
        }

        pub(super) fn wait(
            &self,
            events: &mut Events,
            timeout_ms: libc::c_int,
            woken: &mut bool,
        ) -> io::Result<()> {
            let snapshot: Vec<(RawFd, u64, libc::c_short)> =
                self.fds.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let mut pfds: Vec<libc::pollfd> = snapshot
                .iter()
                .map(|&(fd, _, events)| libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                })
                .collect();
            // SAFETY: `pfds` holds `len` valid `pollfd`s.
            let n = cvt(unsafe {
                libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms)
            })?;
            if n == 0 {
                return Ok(());
            }
            for (p, &(_, token, _)) in pfds.iter().zip(&snapshot) {
                if p.revents == 0 {
                    continue;
                }
                if token == WAKE {
                    *woken = true;
                    continue;
                }
                if events.list.len() == events.cap {
                    break;
                }
                events.list.push(Event {
                    token,
                    readable: p.revents & libc::POLLIN != 0,
                    writable: p.revents & libc::POLLOUT != 0,
                    hangup: p.revents & libc::POLLHUP != 0,
                    error: p.revents & (libc::POLLERR | libc::POLLNVAL) != 0,
                });
            }
            Ok(())
        }
    }
}
