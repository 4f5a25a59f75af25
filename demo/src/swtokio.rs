//! The slackwater stack on a tokio runtime (`--runtime tokio`): the same layers and the same
//! logic as on the poller threads, each connection a tokio task on a multi-thread runtime
//! (as the tokio + h2 stack runs): [`TokioFd`] over tokio's `TcpStream` → ALTS
//! [`Conn`](slackwater_alts::Conn) (or nothing, over plain TCP) →
//! [`FrameReader::next_frame`](slackwater_h2frame::FrameReader::next_frame), answering
//! through the same [`Sink`](crate::wire::Sink) and flushing with the reader's async flush.
//!
//! What the poller threads do between events is done here by the tasks themselves:
//! * a task ticks every sweep (250 ms); a connection that saw no frame for two ticks drops
//!   its key schedules (as the poller's sweep does) and stops listening to the ticks until
//!   its next frame, so quiet connections are not woken;
//! * a census (what the layers hold) is asked of every task through a `watch` channel: each
//!   task's wait is cancelled (`next_frame` is cancel-safe), it adds its layers' own
//!   accounting, and waits again;
//! * `trim` must run on every worker thread (a pool's per-thread caches are emptied at once
//!   only by their own thread): each worker trims when it next parks, and the workers are
//!   woken until each has.

use crate::sw::{Layer, SwIo, alts_over, to_in};
use crate::wire::{HIGH_WATER, Logic, ServerLogic};
use crate::worker::{Census, Counters, Io, SWEEP, report};
use slackwater_alts::Side;
use slackwater_h2frame::Frame;
use slackwater_ready::{Pool, ReadyPoll, ReadyWrite, TokioFd};
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// What the main thread and the tasks share.
struct Control {
    /// The sweep's ticks (every [`SWEEP`]), which connections that are not quiet listen to.
    ticks: watch::Sender<u64>,
    /// Census generations: a new value asks every task for its census.
    census: watch::Sender<u64>,
    /// The census being summed: its generation, the sum, how many tasks answered.
    answers: Mutex<(u64, Census, usize)>,
    /// Trim generations asked for, and how many worker threads trimmed for the last one.
    trim: AtomicU64,
    trimmed: AtomicUsize,
    pool: &'static Pool,
    /// Open connections.
    live: AtomicUsize,
}

thread_local! {
    /// The last trim generation this worker thread acted on.
    static TRIM_SEEN: Cell<u64> = const { Cell::new(0) };
}

impl Control {
    /// On a worker thread about to park: trim the pool if asked to since the last time.
    fn maybe_trim(&self) {
        let want = self.trim.load(SeqCst);
        if TRIM_SEEN.get() != want {
            TRIM_SEEN.set(want);
            self.pool.trim();
            self.trimmed.fetch_add(1, SeqCst);
        }
    }
}

/// The slackwater stack's connections on a tokio runtime.
pub(crate) struct Tokio {
    pub(crate) rt: Runtime,
    ctl: &'static Control,
    threads: usize,
    counters: &'static Counters,
    release_keys: bool,
    alts: bool,
}

impl Tokio {
    pub(crate) fn start(
        threads: usize,
        pool: &'static Pool,
        release_keys: bool,
        alts: bool,
        counters: &'static Counters,
    ) -> io::Result<Tokio> {
        let ctl: &'static Control = Box::leak(Box::new(Control {
            ticks: watch::Sender::new(0),
            census: watch::Sender::new(0),
            answers: Mutex::new((0, Census::default(), 0)),
            trim: AtomicU64::new(0),
            trimmed: AtomicUsize::new(0),
            pool,
            live: AtomicUsize::new(0),
        }));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("server-sw-tokio")
            .enable_io()
            .enable_time()
            .on_thread_park(move || ctl.maybe_trim())
            .build()?;
        rt.spawn(async move {
            let mut every = tokio::time::interval(SWEEP);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                ctl.ticks.send_modify(|t| *t += 1);
            }
        });
        Ok(Tokio {
            rt,
            ctl,
            threads,
            counters,
            release_keys,
            alts,
        })
    }

    /// Serves one accepted connection until it closes.
    pub(crate) fn add(&self, sock: TcpStream) {
        let (ctl, counters, keys, alts) = (self.ctl, self.counters, self.release_keys, self.alts);
        ctl.live.fetch_add(1, SeqCst);
        self.rt.spawn(async move {
            // The connection's future, boxed at its own size (the task holds a pointer).
            let r = match connection(sock, ctl, counters, keys, alts) {
                Ok(fut) => fut.await,
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                report(counters, &e);
            }
            ctl.live.fetch_sub(1, SeqCst);
            counters.closed.fetch_add(1, SeqCst);
        });
    }

    /// What every open connection's layers hold, summed.
    pub(crate) fn census(&self) -> io::Result<Census> {
        let live = self.ctl.live.load(SeqCst);
        let generation = {
            let mut a = self.ctl.answers.lock().unwrap_or_else(|e| e.into_inner());
            *a = (a.0 + 1, Census::default(), 0);
            a.0
        };
        self.ctl.census.send_replace(generation);
        let t0 = Instant::now();
        loop {
            {
                let a = self.ctl.answers.lock().unwrap_or_else(|e| e.into_inner());
                if a.2 >= live {
                    return Ok(a.1);
                }
            }
            if t0.elapsed() > Duration::from_secs(30) {
                return Err(io::Error::other("the connection tasks did not answer"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Trims the pool on every worker thread, then on this one.
    pub(crate) fn trim(&self) -> io::Result<usize> {
        self.ctl.trimmed.store(0, SeqCst);
        self.ctl.trim.fetch_add(1, SeqCst);
        let t0 = Instant::now();
        // Each worker trims when it next parks: give them all something to wake for.
        while self.ctl.trimmed.load(SeqCst) < self.threads {
            if t0.elapsed() > Duration::from_secs(5) {
                return Err(io::Error::other("a tokio worker did not trim"));
            }
            for _ in 0..self.threads * 2 {
                self.rt
                    .spawn(async { std::thread::sleep(Duration::from_millis(2)) });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(self.ctl.pool.trim())
    }
}

type Driven = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

/// Sets up one connection's layers and returns its driver (call on the runtime).
fn connection(
    sock: TcpStream,
    ctl: &'static Control,
    counters: &'static Counters,
    keys: bool,
    alts: bool,
) -> io::Result<Driven> {
    sock.set_nonblocking(true)?;
    let pool = ctl.pool;
    let tcp = TokioFd::new(tokio::net::TcpStream::from_std(sock)?)
        .with_pool(pool)
        .with_high_water(HIGH_WATER);
    Ok(if alts {
        let conn = alts_over(tcp, Side::Server, pool)?;
        Box::pin(drive(
            SwIo::over(conn, Side::Server, pool, keys)?,
            ctl,
            counters,
        ))
    } else {
        Box::pin(drive(
            SwIo::over(tcp, Side::Server, pool, false)?,
            ctl,
            counters,
        ))
    })
}

enum Event {
    Frame(Result<Option<Frame>, slackwater_h2frame::Error>),
    Census(bool),
    Tick(bool),
}

async fn drive<L: Layer + ReadyPoll>(
    mut io: SwIo<L>,
    ctl: &'static Control,
    counters: &'static Counters,
) -> io::Result<()> {
    let mut logic = ServerLogic::new(counters);
    let mut census = ctl.census.subscribe();
    census.borrow_and_update();
    let mut ticks = ctl.ticks.subscribe();
    let mut active = *ticks.borrow_and_update();
    // Whether the connection went quiet (then it stops listening to the sweep's ticks).
    let (mut quiet, mut census_open, mut ticks_open) = (false, true, true);
    logic.start(&mut io)?;
    loop {
        // Everything out before waiting for the peer, or once past the high-water mark.
        if io.conn.queued() > 0 && (io.conn.is_write_full() || io.conn.buffered() == 0) {
            io.conn.flush().await?;
        }
        let ev = tokio::select! {
            r = io.conn.next_frame() => Event::Frame(r),
            c = census.changed(), if census_open => Event::Census(c.is_ok()),
            t = ticks.changed(), if ticks_open && !quiet => Event::Tick(t.is_ok()),
        };
        match ev {
            Event::Frame(Ok(Some(f))) => {
                (active, quiet) = (*ticks.borrow(), false);
                logic.on_frame(to_in(&f), &mut io)?;
            }
            Event::Frame(Ok(None)) => return Ok(()),
            Event::Frame(Err(e)) => return Err(e.into()),
            Event::Census(false) => census_open = false,
            Event::Census(true) => {
                let generation = *census.borrow_and_update();
                let mut c = Census::default();
                io.census(&mut c);
                let mut a = ctl.answers.lock().unwrap_or_else(|e| e.into_inner());
                if a.0 == generation {
                    a.1.add(&c);
                    a.2 += 1;
                }
            }
            Event::Tick(false) => ticks_open = false,
            Event::Tick(true) => {
                // As the poller's sweep: no frame for two ticks, nothing unsent.
                let tick = *ticks.borrow_and_update();
                if active + 2 <= tick && io.conn.queued() == 0 {
                    io.quiesce();
                    quiet = true;
                }
            }
        }
    }
}
