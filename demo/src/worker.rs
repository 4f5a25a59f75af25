//! Poller threads: each owns a [`Poller`] and the connections handed to it, and drives them
//! with non-blocking reads and writes (write interest only while output is queued).

use crate::wire::{Logic, Sink};
use slackwater_ready::{Events, Interest, Poller, Pool, Waker};
use std::io;
use std::net::TcpStream;
use std::os::fd::BorrowedFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Why [`Io::read_frames`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadStatus {
    /// The transport would block: every complete frame was handled.
    Drained,
    /// Too much output is queued: reading resumes once the socket takes it.
    Paused,
    /// The peer closed the connection.
    Eof,
}

/// A connection's transport: one of the two stacks.
pub(crate) trait Io {
    /// Reads and hands every available frame to `logic`.
    fn read_frames(&mut self, logic: &mut dyn Logic) -> io::Result<ReadStatus>;
    /// Seals what is encoded and writes until the socket refuses more.
    fn flush(&mut self) -> io::Result<()>;
    /// This transport as the logic's sink.
    fn sink(&mut self) -> &mut dyn Sink;
    /// Sealed bytes the socket has not taken.
    fn unsent(&self) -> usize;
    /// The socket.
    fn fd(&self) -> BorrowedFd<'_>;
    /// Adds this connection's buffer holdings to `c`.
    fn census(&self, c: &mut Census);
    /// The connection has been quiet for a while: drop what can be rebuilt on the next
    /// wake-up (slackwater: the AEAD key schedules). Returns whether anything was dropped.
    fn quiesce(&mut self) -> bool {
        false
    }
}

/// A connection's transport and the logic on top of it, in one allocation.
pub(crate) struct Pair<I, L> {
    pub(crate) io: I,
    pub(crate) logic: L,
}

/// A [`Pair`] of any transport and logic.
pub(crate) trait Conn {
    /// The transport and the logic, both mutable.
    fn parts(&mut self) -> (&mut dyn Io, &mut dyn Logic);
    /// The transport.
    fn io(&self) -> &dyn Io;
}

impl<I: Io, L: Logic> Conn for Pair<I, L> {
    fn parts(&mut self) -> (&mut dyn Io, &mut dyn Logic) {
        (&mut self.io, &mut self.logic)
    }
    fn io(&self) -> &dyn Io {
        &self.io
    }
}

/// How often a worker looks for connections that went quiet; one that saw no event for a
/// whole period is quiesced ([`Io::quiesce`]) at the next sweep.
pub(crate) const SWEEP: Duration = Duration::from_millis(250);

/// What the connections of a process hold, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Open connections.
    pub conns: usize,
    /// Connections whose HTTP/2 frame reader holds a read buffer.
    pub h2_holding: usize,
    /// Connections whose ALTS layer holds a read buffer.
    pub alts_holding: usize,
    /// Bytes of read buffers connections hold now (capacities, pooled or not), as the layers
    /// account for them.
    pub pinned_read: usize,
    /// Bytes of write buffers connections hold now (capacities, pooled or not, plus queue
    /// bookkeeping), as the layers account for them.
    pub pinned_write: usize,
    /// Output bytes queued and not yet taken by the sockets.
    pub write_queued: usize,
    /// Pooled buffers of sealed output waiting for sockets.
    pub write_buffers: usize,
}

impl Census {
    pub(crate) fn add(&mut self, o: &Census) {
        self.conns += o.conns;
        self.h2_holding += o.h2_holding;
        self.alts_holding += o.alts_holding;
        self.pinned_read += o.pinned_read;
        self.pinned_write += o.pinned_write;
        self.write_queued += o.write_queued;
        self.write_buffers += o.write_buffers;
    }
}

/// Counters shared by a process's threads.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Connections whose handshake (SETTINGS exchange) completed.
    pub ready: AtomicUsize,
    /// Frames received.
    pub frames_in: AtomicU64,
    /// DATA bytes received.
    pub bytes_in: AtomicU64,
    /// DATA frames whose bytes were not the expected pattern.
    pub corrupt: AtomicU64,
    /// Connections that ended in an error.
    pub errors: AtomicUsize,
    /// Connections closed (EOF or error).
    pub closed: AtomicUsize,
    /// Connections handed to the tokio + h2 stack (its census).
    pub opened: AtomicUsize,
    /// Client connections whose burst completed, with their PING round trips (µs).
    pub done: AtomicUsize,
    pub rtts: Mutex<Vec<u32>>,
    /// Times a connection had to wait for the socket to take its output.
    pub write_waits: AtomicU64,
}

impl Counters {
    /// A process-wide set of counters (leaked: one per run).
    pub(crate) fn leak() -> &'static Counters {
        Box::leak(Box::default())
    }

    pub(crate) fn done(&self, rtt_us: u32) {
        self.rtts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(rtt_us);
        self.done.fetch_add(1, Relaxed);
    }
}

/// One connection: a transport and the logic on top (one box), and the interest it is
/// registered with.
struct Session {
    conn: Box<dyn Conn>,
    interest: Interest,
    /// The sweep tick of the last event.
    active: u64,
    /// Quiesced since the last event.
    quiet: bool,
}

impl Session {
    /// Reads what is there, lets the logic produce, writes what the socket takes.
    /// `Ok(false)` once the connection is over.
    fn drive(&mut self, counters: &Counters) -> io::Result<bool> {
        let (io, logic) = self.conn.parts();
        let status = io.read_frames(logic)?;
        if status == ReadStatus::Eof {
            return Ok(false);
        }
        logic.produce(io.sink())?;
        io.flush()?;
        let unsent = io.unsent();
        let mut want = if status == ReadStatus::Paused {
            Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if unsent > 0 || logic.has_more() {
            want = want.with(Interest::WRITABLE);
            if !self.interest.is_writable() {
                counters.write_waits.fetch_add(1, Relaxed);
            }
        }
        self.interest = want;
        Ok(true)
    }
}

/// What a worker can be asked to do.
pub(crate) enum Cmd {
    /// Serve this connection (its logic's `start` runs first).
    Add(TcpStream),
    /// Start the burst on every connection.
    Burst,
    /// Report what the connections hold.
    Census(Sender<Census>),
    /// Call `trim` on this pool from this thread (a pool's per-thread caches can only be
    /// emptied at once by their own thread), then answer.
    Trim(&'static Pool, Sender<usize>),
    /// Close every connection and exit.
    Stop,
}

/// Makes a connection's transport and logic.
pub(crate) type Factory = dyn Fn(TcpStream) -> io::Result<Box<dyn Conn>> + Send + Sync;

/// A running poller thread.
pub(crate) struct Worker {
    tx: Sender<Cmd>,
    waker: Waker,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// A poller thread whose connection table is sized for `expected` connections up front
    /// (as a server sizes it for its connection limit): grown by doubling instead, the smaller
    /// tables it outgrew would stay resident in the heap.
    pub(crate) fn spawn(
        name: String,
        factory: std::sync::Arc<Factory>,
        counters: &'static Counters,
        expected: usize,
    ) -> io::Result<Worker> {
        let poller = Poller::new()?;
        let waker = poller.waker();
        let (tx, rx) = channel();
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(move || run(poller, rx, &*factory, counters, expected))?;
        Ok(Worker {
            tx,
            waker,
            handle: Some(handle),
        })
    }

    pub(crate) fn send(&self, cmd: Cmd) -> io::Result<()> {
        self.tx
            .send(cmd)
            .map_err(|_| io::Error::other("worker thread is gone"))?;
        self.waker.wake()
    }

    /// What this worker's connections hold.
    pub(crate) fn census(&self) -> io::Result<Census> {
        let (tx, rx) = channel();
        self.send(Cmd::Census(tx))?;
        rx.recv_timeout(Duration::from_secs(30))
            .map_err(|_| io::Error::other("worker did not answer"))
    }

    /// Trims `pool` on every worker thread, then on this one; returns the buffers freed.
    pub(crate) fn trim_all(workers: &[Worker], pool: &'static Pool) -> io::Result<usize> {
        let mut freed = 0;
        for w in workers {
            let (tx, rx) = channel();
            w.send(Cmd::Trim(pool, tx))?;
            freed += rx
                .recv_timeout(Duration::from_secs(30))
                .map_err(|_| io::Error::other("worker did not answer"))?;
        }
        Ok(freed + pool.trim())
    }

    /// Sums the census of every worker.
    pub(crate) fn census_all(workers: &[Worker]) -> io::Result<Census> {
        let mut c = Census::default();
        for w in workers {
            c.add(&w.census()?);
        }
        Ok(c)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.send(Cmd::Stop);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Counts a connection error; prints the first few.
pub(crate) fn report(counters: &Counters, e: &io::Error) {
    let n = counters.errors.fetch_add(1, Relaxed);
    if n < 5 {
        eprintln!("connection error: {e}");
    }
}

fn run(
    poller: Poller,
    rx: Receiver<Cmd>,
    factory: &Factory,
    counters: &'static Counters,
    expected: usize,
) {
    let mut tick = 0u64;
    let mut next_sweep = Instant::now() + SWEEP;
    let mut slab: Vec<Option<Session>> = Vec::with_capacity(expected);
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let close = |slab: &mut Vec<Option<Session>>, free: &mut Vec<usize>, t: usize| {
        if let Some(s) = slab[t].take() {
            let _ = poller.deregister(s.conn.io().fd());
            counters.closed.fetch_add(1, Relaxed);
            free.push(t);
        }
    };
    let update = |s: &mut Session, t: usize, before: Interest| -> io::Result<()> {
        if s.interest != before {
            poller.reregister(s.conn.io().fd(), t as u64, s.interest)?;
        }
        Ok(())
    };
    loop {
        if let Err(e) = poller.wait(&mut events, Some(SWEEP)) {
            eprintln!("poller: {e}");
            return;
        }
        for ev in events.iter() {
            let t = ev.token() as usize;
            let Some(Some(s)) = slab.get_mut(t) else {
                continue; // stale: the connection is gone
            };
            let before = s.interest;
            (s.active, s.quiet) = (tick, false);
            let r = s.drive(counters).and_then(|open| {
                if open {
                    update(s, t, before)?;
                }
                Ok(open)
            });
            match r {
                Ok(true) => {}
                Ok(false) => close(&mut slab, &mut free, t),
                Err(e) => {
                    report(counters, &e);
                    close(&mut slab, &mut free, t);
                }
            }
        }
        while let Ok(cmd) = rx.try_recv() {
            match cmd {
                Cmd::Add(sock) => {
                    let t = free.pop().unwrap_or_else(|| {
                        slab.push(None);
                        slab.len() - 1
                    });
                    let r = factory(sock).and_then(|conn| {
                        let mut s = Session {
                            conn,
                            interest: Interest::READABLE,
                            active: tick,
                            quiet: false,
                        };
                        let (io, logic) = s.conn.parts();
                        logic.start(io.sink())?;
                        poller.register_with(s.conn.io().fd(), t as u64, s.interest)?;
                        let before = s.interest;
                        s.drive(counters)?;
                        update(&mut s, t, before)?;
                        Ok(s)
                    });
                    match r {
                        Ok(s) => slab[t] = Some(s),
                        Err(e) => {
                            report(counters, &e);
                            free.push(t);
                        }
                    }
                }
                Cmd::Burst => {
                    for t in 0..slab.len() {
                        let Some(s) = slab[t].as_mut() else { continue };
                        let before = s.interest;
                        (s.active, s.quiet) = (tick, false);
                        let (io, logic) = s.conn.parts();
                        let r = logic
                            .burst(io.sink())
                            .and_then(|()| s.drive(counters))
                            .and_then(|open| update(s, t, before).map(|()| open));
                        match r {
                            Ok(true) => {}
                            Ok(false) => close(&mut slab, &mut free, t),
                            Err(e) => {
                                report(counters, &e);
                                close(&mut slab, &mut free, t);
                            }
                        }
                    }
                }
                Cmd::Census(tx) => {
                    let mut c = Census::default();
                    for s in slab.iter().flatten() {
                        s.conn.io().census(&mut c);
                    }
                    let _ = tx.send(c);
                }
                Cmd::Trim(pool, tx) => {
                    let _ = tx.send(pool.trim());
                }
                Cmd::Stop => return,
            }
        }
        if Instant::now() >= next_sweep {
            tick += 1;
            next_sweep = Instant::now() + SWEEP;
            for s in slab.iter_mut().flatten() {
                if !s.quiet && s.active + 2 <= tick && s.conn.io().unsent() == 0 {
                    s.conn.parts().0.quiesce();
                    s.quiet = true;
                }
            }
        }
    }
}
