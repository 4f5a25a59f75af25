//! The full slackwater stack as one program: N loopback connections, each TCP →
//! [`slackwater_alts::Conn`] → [`slackwater_h2frame`] (or HTTP/2 over plain TCP), served by a
//! few poller threads, against a baseline that keeps per-connection buffers (a 32 KiB framer
//! buffer over an ALTS layer with its own 32 KiB record buffer, like gRPC-Go before v1.81) and
//! against tokio + the `h2` crate (plaintext HTTP/2, what hyper and tonic use).
//!
//! The measured side is the server. The client runs in a child process (so that each side has
//! its own open-file limit and the server's memory is its own) and talks to the server over a
//! line-based control channel on its stdin/stdout. A run has three phases:
//!
//! 1. **idle**: every connection is open, the HTTP/2 SETTINGS exchange done, and nothing
//!    arrives: resident memory, pool statistics and the read buffers connections hold;
//! 2. **burst**: every client connection sends a PING and a DATA stream, which the server
//!    checks and echoes: throughput and PING round-trip percentiles;
//! 3. **idle again**: the same measurements, then again after `trim()`.
//!
//! [`run_server`] runs one stack; the `stack` example ([`cli`]) runs each in a process of its
//! own and prints the table.
//!
//! ```no_run
//! use slackwater_demo::{Link, Mode, Options, run_server};
//! let opts = Options { conns: 100, ..Options::default() };
//! let report = run_server(&opts, Link::thread).unwrap();
//! assert_eq!(report.get("idle.pool_in_use"), 0.0);
//! ```
#![deny(missing_docs)]

mod base;
pub mod cli;
mod client;
mod h2s;
pub mod report;
pub mod sizes;
mod sw;
mod swtokio;
pub mod sys;
mod wire;
mod worker;

pub use client::{ClientOptions, DieAt, burst_budget, run_client};
pub use worker::Census;

use slackwater_alts::Side;
use slackwater_ready::{Pool, global};
use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError, channel};
use std::time::{Duration, Instant};
use worker::{Cmd, Counters, Factory, Worker};

/// Which stack the server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Readiness first, pooled buffers only while bytes are there.
    Slackwater,
    /// Per-connection buffers for the connection's life.
    Baseline,
    /// tokio + the `h2` crate, plaintext only.
    H2,
}

impl Mode {
    /// The name used on the command line and in reports.
    ///
    /// ```
    /// assert_eq!(slackwater_demo::Mode::Baseline.name(), "baseline");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Mode::Slackwater => "slackwater",
            Mode::Baseline => "baseline",
            Mode::H2 => "h2",
        }
    }

    /// Parses [`name`](Mode::name).
    ///
    /// ```
    /// use slackwater_demo::Mode;
    /// assert_eq!(Mode::parse("slackwater"), Some(Mode::Slackwater));
    /// ```
    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == s)
    }
}

impl Mode {
    /// Every stack, in the table's order.
    pub const ALL: [Mode; 3] = [Mode::Slackwater, Mode::Baseline, Mode::H2];

    /// The column heading of the stack.
    ///
    /// ```
    /// assert_eq!(slackwater_demo::Mode::H2.title(), "tokio + h2");
    /// ```
    pub fn title(self) -> &'static str {
        match self {
            Mode::H2 => "tokio + h2",
            m => m.name(),
        }
    }

    /// What this stack speaks when the run asks for `t`: the h2 stack is plaintext only.
    ///
    /// ```
    /// use slackwater_demo::{Mode, Transport};
    /// assert_eq!(Mode::H2.transport(Transport::Alts), Transport::Tcp);
    /// assert_eq!(Mode::Baseline.transport(Transport::Alts), Transport::Alts);
    /// ```
    pub fn transport(self, t: Transport) -> Transport {
        match self {
            Mode::H2 => Transport::Tcp,
            _ => t,
        }
    }

    /// What drives this stack when the run asks for `r` for slackwater.
    ///
    /// ```
    /// use slackwater_demo::{Mode, Runtime};
    /// assert_eq!(Mode::Baseline.runtime(Runtime::Tokio), Runtime::Poller);
    /// assert_eq!(Mode::H2.runtime(Runtime::Poller), Runtime::Tokio);
    /// ```
    pub fn runtime(self, r: Runtime) -> Runtime {
        match self {
            Mode::Slackwater => r,
            Mode::Baseline => Runtime::Poller,
            Mode::H2 => Runtime::Tokio,
        }
    }
}

/// What the HTTP/2 frames travel over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// ALTS records (fixed demo keys) over TCP.
    Alts,
    /// Plain TCP.
    Tcp,
}

impl Transport {
    /// The name used on the command line and in reports.
    ///
    /// ```
    /// assert_eq!(slackwater_demo::Transport::Tcp.name(), "tcp");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Transport::Alts => "alts",
            Transport::Tcp => "tcp",
        }
    }

    /// How the table names it.
    ///
    /// ```
    /// assert_eq!(slackwater_demo::Transport::Tcp.label(), "plaintext");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            Transport::Alts => "ALTS",
            Transport::Tcp => "plaintext",
        }
    }

    /// Parses [`name`](Transport::name).
    ///
    /// ```
    /// use slackwater_demo::Transport;
    /// assert_eq!(Transport::parse("alts"), Some(Transport::Alts));
    /// ```
    pub fn parse(s: &str) -> Option<Transport> {
        [Transport::Alts, Transport::Tcp]
            .into_iter()
            .find(|t| t.name() == s)
    }
}

/// What drives the slackwater stack's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// The demo's poller threads (one `epoll` each), as the baseline.
    Poller,
    /// A tokio multi-thread runtime, a task per connection, as the tokio + h2 stack.
    Tokio,
}

impl Runtime {
    /// The name used on the command line and in reports.
    ///
    /// ```
    /// assert_eq!(slackwater_demo::Runtime::Tokio.name(), "tokio");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Poller => "poller",
            Runtime::Tokio => "tokio",
        }
    }

    /// Parses [`name`](Runtime::name).
    ///
    /// ```
    /// use slackwater_demo::Runtime;
    /// assert_eq!(Runtime::parse("poller"), Some(Runtime::Poller));
    /// ```
    pub fn parse(s: &str) -> Option<Runtime> {
        [Runtime::Poller, Runtime::Tokio]
            .into_iter()
            .find(|r| r.name() == s)
    }
}

/// What one server run does.
#[derive(Clone, Debug)]
pub struct Options {
    /// Connections to open.
    pub conns: usize,
    /// DATA bytes each connection sends (and gets echoed) in the burst.
    pub payload: usize,
    /// Poller threads on each side.
    pub threads: usize,
    /// The server's stack.
    pub mode: Mode,
    /// What slackwater and the baseline speak (the h2 stack: always plain TCP; see
    /// [`Mode::transport`]).
    pub transport: Transport,
    /// What drives the slackwater stack (the baseline always runs on the poller threads, the
    /// h2 stack on tokio).
    pub runtime: Runtime,
    /// `SO_SNDBUF` for the server's sockets (tests make it small so writes must wait).
    pub send_buffer: Option<usize>,
    /// `SO_RCVBUF` for the client's sockets when the client runs on a thread
    /// ([`Link::thread`]; tests make it small so the server's output has to wait).
    pub client_recv_buffer: Option<usize>,
    /// The pool the slackwater stack takes buffers from.
    pub pool: &'static Pool,
    /// No progress line.
    pub quiet: bool,
    /// Slackwater connections that go quiet also drop their AEAD key schedules
    /// ([`slackwater_alts::Conn::release_key_schedules`]), rebuilt on the next wake-up.
    pub release_keys: bool,
}

impl Default for Options {
    /// 10,000 connections, 64 KiB each in the burst, 2 threads, slackwater, global pool.
    ///
    /// ```
    /// assert_eq!(slackwater_demo::Options::default().conns, 10_000);
    /// ```
    fn default() -> Self {
        Options {
            conns: 10_000,
            payload: 64 * 1024,
            threads: 2,
            mode: Mode::Slackwater,
            transport: Transport::Alts,
            runtime: Runtime::Poller,
            send_buffer: None,
            client_recv_buffer: None,
            pool: global(),
            quiet: false,
            release_keys: true,
        }
    }
}

/// Lines read from a control channel by a thread of their own, so that every wait can also
/// look at whether the other side is still there. The channel disconnects at EOF.
pub(crate) fn line_reader(
    mut rx: impl BufRead + Send + 'static,
    name: &str,
) -> io::Result<Receiver<String>> {
    let (tx, lines) = channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut line = String::new();
            while matches!(rx.read_line(&mut line), Ok(n) if n > 0) {
                if tx.send(line.trim_end().to_string()).is_err() {
                    break;
                }
                line.clear();
            }
        })?;
    Ok(lines)
}

/// How often every wait looks at the client (its process, its control channel).
pub(crate) const LIVENESS: Duration = Duration::from_millis(100);

/// The control channel to the client: where its lines come from and where ours go, and the
/// client itself (a child process or a thread), watched in every wait.
pub struct Link {
    lines: Receiver<String>,
    pending: VecDeque<String>,
    /// The control channel reached EOF.
    eof: bool,
    tx: Box<dyn Write + Send>,
    child: Option<Child>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

/// How a client process ended, for a message: "signal 9", "exit code 1".
fn how(st: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.signal(), st.code()) {
        (Some(sig), _) => format!("signal {sig}"),
        (None, Some(code)) => format!("exit code {code}"),
        _ => st.to_string(),
    }
}

impl Link {
    /// Runs the client in a child process: this executable with `args` (which must make it
    /// call [`run_client`] on its stdin/stdout) and `--addr <addr>` appended.
    ///
    /// # Errors
    /// If the process cannot be started.
    ///
    /// ```no_run
    /// let link = slackwater_demo::Link::child(&["--role=client".into()],
    ///     "127.0.0.1:9".parse().unwrap()).unwrap();
    /// ```
    pub fn child(args: &[String], addr: SocketAddr) -> io::Result<Link> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(args)
            .arg(format!("--addr={addr}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let rx = BufReader::new(child.stdout.take().ok_or(io::ErrorKind::BrokenPipe)?);
        let tx = child.stdin.take().ok_or(io::ErrorKind::BrokenPipe)?;
        Ok(Link {
            lines: line_reader(rx, "client-lines")?,
            pending: VecDeque::new(),
            eof: false,
            tx: Box::new(tx),
            child: Some(child),
            thread: None,
        })
    }

    /// Runs the client on a thread of this process (tests: it then shares the global pool
    /// and the process's memory, so give the server its own pool).
    ///
    /// # Errors
    /// If the control socket pair cannot be made.
    ///
    /// ```no_run
    /// let link = slackwater_demo::Link::thread(&slackwater_demo::Options::default(),
    ///     "127.0.0.1:9".parse().unwrap()).unwrap();
    /// ```
    pub fn thread(opts: &Options, addr: SocketAddr) -> io::Result<Link> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        let copts = ClientOptions {
            addr,
            conns: opts.conns,
            payload: opts.payload,
            threads: opts.threads,
            recv_buffer: opts.client_recv_buffer,
            transport: opts.mode.transport(opts.transport),
            die_at: None,
            open_rate: None,
        };
        let b2 = b.try_clone()?;
        let thread = std::thread::Builder::new()
            .name("demo-client".into())
            .spawn(move || run_client(&copts, BufReader::new(b), &mut { b2 }))?;
        Ok(Link {
            lines: line_reader(BufReader::new(a.try_clone()?), "client-lines")?,
            pending: VecDeque::new(),
            eof: false,
            tx: Box::new(a),
            child: None,
            thread: Some(thread),
        })
    }

    /// `Ok` while the client is there; otherwise an error that says how it ended and what
    /// we were doing (`phase`, e.g. "while the connections were idle").
    fn alive(&mut self, phase: &str) -> io::Result<()> {
        loop {
            match self.lines.try_recv() {
                Ok(l) => self.pending.push_back(l),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.eof = true;
                    break;
                }
            }
        }
        // A client that closed its end is about to exit: give it a moment to say how.
        let patience = if self.eof { 20 } else { 1 };
        for i in 0..patience {
            let status = match self.child.as_mut() {
                Some(c) => c.try_wait()?,
                None => None,
            };
            let ended = status.is_some() || self.thread.as_ref().is_some_and(|t| t.is_finished());
            if ended && self.said_last_words() {
                // Its last lines are read first (`bye`): the next call reports the end.
                return Ok(());
            }
            if let Some(st) = status {
                use std::os::unix::process::ExitStatusExt;
                let verb = if st.signal().is_some() {
                    "died"
                } else {
                    "exited"
                };
                return Err(io::Error::other(format!(
                    "the client process {verb} ({}) {phase}",
                    how(st)
                )));
            }
            if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
                let r = self.thread.take().map(|t| t.join());
                let why = match r {
                    Some(Ok(Err(e))) => e.to_string(),
                    Some(Err(_)) => "it panicked".into(),
                    _ => "no error".into(),
                };
                return Err(io::Error::other(format!(
                    "the client thread ended ({why}) {phase}"
                )));
            }
            if i + 1 < patience {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if self.eof {
            return Err(io::Error::other(format!(
                "the client closed its control channel {phase}"
            )));
        }
        Ok(())
    }

    /// Reads what a client that has ended wrote before it did (its end of the channel is
    /// closed or about to be); whether there was anything.
    fn said_last_words(&mut self) -> bool {
        let t0 = Instant::now();
        while !self.eof && t0.elapsed() < Duration::from_secs(1) {
            match self.lines.recv_timeout(Duration::from_millis(50)) {
                Ok(l) => self.pending.push_back(l),
                Err(RecvTimeoutError::Timeout) if !self.pending.is_empty() => break,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.eof = true,
            }
        }
        !self.pending.is_empty()
    }

    fn send(&mut self, line: &str, phase: &str) -> io::Result<()> {
        let r = writeln!(self.tx, "{line}").and_then(|()| self.tx.flush());
        // A write to a client that is gone (broken pipe) is explained by how it went.
        r.or_else(|e| self.alive(phase).and(Err(e)))
    }

    /// Waits for the client's next line, which must start with `word`; returns the rest.
    fn expect(&mut self, word: &str, phase: &str, deadline: Duration) -> io::Result<String> {
        let t0 = Instant::now();
        let line = loop {
            if let Some(l) = self.pending.pop_front() {
                break l;
            }
            self.alive(phase)?;
            match self.lines.recv_timeout(LIVENESS) {
                Ok(l) => break l,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.eof = true,
            }
            if t0.elapsed() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the client did not say '{word}' in {deadline:?} {phase}"),
                ));
            }
        };
        match line.strip_prefix(word) {
            Some(rest) => Ok(rest.trim().to_string()),
            None => Err(io::Error::other(format!(
                "the client said '{line}', expected '{word}'"
            ))),
        }
    }

    fn finish(mut self) -> io::Result<()> {
        if let Some(mut c) = self.child.take() {
            let st = c.wait()?;
            if !st.success() {
                return Err(io::Error::other(format!("client exited with {st}")));
            }
        }
        if let Some(t) = self.thread.take() {
            t.join()
                .map_err(|_| io::Error::other("client thread panicked"))??;
        }
        Ok(())
    }
}

impl Drop for Link {
    /// A client process still running when the run gives up is killed, not left behind.
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

/// The measurements of one server run: named numbers (see the `stack` example's table for
/// their meaning), in the order they were taken.
#[derive(Clone, Debug)]
pub struct Report {
    /// The stack measured.
    pub mode: Mode,
    /// What its frames travelled over.
    pub transport: Transport,
    /// What drove it (the baseline: the poller threads; the h2 stack: tokio).
    pub runtime: Runtime,
    /// `(name, value)` pairs.
    pub values: Vec<(String, f64)>,
}

impl Report {
    /// The value named `key` (NaN if there is none).
    ///
    /// ```
    /// use slackwater_demo::{Mode, Report, Transport};
    /// let r = Report { mode: Mode::Baseline, transport: Transport::Alts,
    ///                  runtime: slackwater_demo::Runtime::Poller,
    ///                  values: vec![("conns".into(), 5.0)] };
    /// assert_eq!(r.get("conns"), 5.0);
    /// assert!(r.get("nope").is_nan());
    /// ```
    pub fn get(&self, key: &str) -> f64 {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map_or(f64::NAN, |(_, v)| *v)
    }

    fn set(&mut self, key: &str, v: f64) {
        self.values.push((key.to_string(), v));
    }

    fn snapshot(
        &mut self,
        phase: &str,
        opts: &Options,
        server: &Server,
        rss0: u64,
    ) -> io::Result<()> {
        let rss = sys::rss_bytes();
        let n = opts.conns.max(1) as f64;
        self.set(&format!("{phase}.rss"), rss as f64);
        self.set(
            &format!("{phase}.rss_per_conn"),
            (rss.saturating_sub(rss0)) as f64 / n,
        );
        let heap0 = self.get("heap_start");
        if let (Some(h), false) = (sys::heap_in_use(), heap0.is_nan()) {
            self.set(&format!("{phase}.heap_per_conn"), (h as f64 - heap0) / n);
        }
        let c = match server {
            Server::Pollers(workers) => Worker::census_all(workers)?,
            Server::SwTokio(t) => t.census()?,
            Server::Tokio(_, counters) => {
                // h2 keeps its buffers to itself: only the open connections are known, and
                // the rows below are not measured (NaN, shown as "-").
                let open = counters.opened.load(Relaxed) - counters.closed.load(Relaxed);
                self.set(&format!("{phase}.conns_open"), open as f64);
                return Ok(());
            }
        };
        let st = opts.pool.stats();
        let in_use_bytes: usize = st.classes().iter().map(|k| k.in_use * k.size).sum();
        let alts = opts.mode.transport(opts.transport) == Transport::Alts;
        for (k, v) in [
            ("conns_open", c.conns as f64),
            ("pool_in_use", st.in_use() as f64),
            ("pool_in_use_bytes", in_use_bytes as f64),
            ("pool_retained", st.bytes_retained() as f64),
            ("h2_holding", c.h2_holding as f64),
            // No ALTS layer over plain TCP: nothing to count.
            (
                "alts_holding",
                if alts {
                    c.alts_holding as f64
                } else {
                    f64::NAN
                },
            ),
            // Both from the layers' own accounting (capacities of the buffers they hold).
            ("pinned_read_per_conn", c.pinned_read as f64 / n),
            ("pinned_write_per_conn", c.pinned_write as f64 / n),
            ("write_queued", c.write_queued as f64),
        ] {
            self.set(&format!("{phase}.{k}"), v);
        }
        Ok(())
    }
}

/// Waits until `ok` says so (it may also fail: a client that died), looking every 5 ms.
pub(crate) fn wait_for(
    what: &str,
    deadline: Duration,
    mut ok: impl FnMut() -> io::Result<bool>,
) -> io::Result<()> {
    let t0 = Instant::now();
    while !ok()? {
        if t0.elapsed() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("timed out waiting for {what}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Waits until every connection has been quiet for at least two sweeps, watching the client.
fn settle(link: &mut Link, phase: &str) -> io::Result<()> {
    let until = Instant::now() + worker::SWEEP * 4;
    while Instant::now() < until {
        link.alive(phase)?;
        std::thread::sleep(LIVENESS.min(until.saturating_duration_since(Instant::now())));
    }
    Ok(())
}

fn factory(opts: &Options, counters: &'static Counters) -> Arc<Factory> {
    let (mode, pool, keys) = (opts.mode, opts.pool, opts.release_keys);
    let alts = opts.mode.transport(opts.transport) == Transport::Alts;
    Arc::new(move |sock: TcpStream| {
        let logic = wire::ServerLogic::new(counters);
        let conn: Box<dyn worker::Conn> = match (mode, alts) {
            (Mode::Slackwater, true) => Box::new(worker::Pair {
                io: sw::SwIo::new(sock, Side::Server, pool, keys)?,
                logic,
            }),
            (Mode::Slackwater, false) => Box::new(worker::Pair {
                io: sw::SwIo::plain(sock, Side::Server, pool)?,
                logic,
            }),
            (Mode::Baseline, _) => Box::new(worker::Pair {
                io: base::BaseIo::new(sock, Side::Server, alts)?,
                logic,
            }),
            (Mode::H2, _) => return Err(io::Error::other("the h2 stack has no poller")),
        };
        Ok(conn)
    })
}

/// What serves the connections: poller threads (slackwater, baseline) or a tokio runtime
/// (tokio + h2).
enum Server {
    Pollers(Vec<Worker>),
    /// tokio + h2.
    Tokio(tokio::runtime::Runtime, &'static Counters),
    /// The slackwater stack on tokio.
    SwTokio(swtokio::Tokio),
}

impl Server {
    fn start(opts: &Options, counters: &'static Counters) -> io::Result<Server> {
        if opts.mode == Mode::H2 {
            return Ok(Server::Tokio(h2s::runtime(opts.threads.max(1))?, counters));
        }
        if opts.mode == Mode::Slackwater && opts.runtime == Runtime::Tokio {
            return Ok(Server::SwTokio(swtokio::Tokio::start(
                opts.threads.max(1),
                opts.pool,
                opts.release_keys,
                opts.transport == Transport::Alts,
                counters,
            )?));
        }
        let factory = factory(opts, counters);
        let per = opts.conns.div_ceil(opts.threads.max(1));
        let workers = (0..opts.threads.max(1))
            .map(|i| Worker::spawn(format!("server-{i}"), factory.clone(), counters, per))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Server::Pollers(workers))
    }

    /// Serves the `i`-th accepted connection.
    fn add(&self, i: usize, sock: TcpStream) -> io::Result<()> {
        match self {
            Server::Pollers(w) => w[i % w.len()].send(Cmd::Add(sock)),
            Server::Tokio(rt, counters) => {
                h2s::serve(rt, sock, counters);
                Ok(())
            }
            Server::SwTokio(t) => {
                t.add(sock);
                Ok(())
            }
        }
    }

    /// Gives idle pooled buffers back (slackwater: on every poller thread, then here).
    fn trim(&self, pool: &'static Pool) -> io::Result<()> {
        match self {
            // Every poller thread trims its own cache of the pool, then this thread the rest.
            Server::Pollers(w) => Worker::trim_all(w, pool).map(drop),
            Server::SwTokio(t) => t.trim().map(drop),
            Server::Tokio(..) => Ok(()),
        }
    }
}

/// Runs the server side of one stack through the three phases; `client` starts the client
/// (see [`Link::child`] and [`Link::thread`]) given the address to connect to.
///
/// # Errors
/// Too few file descriptors, a client that fails or disappears, a phase that times out.
///
/// ```no_run
/// let opts = slackwater_demo::Options { conns: 100, ..Default::default() };
/// let r = slackwater_demo::run_server(&opts, slackwater_demo::Link::thread).unwrap();
/// println!("{:?}", r.get("burst.mb_s"));
/// ```
pub fn run_server(
    opts: &Options,
    client: impl FnOnce(&Options, SocketAddr) -> io::Result<Link>,
) -> io::Result<Report> {
    sys::ensure_fds(opts.conns as u64 + 64).map_err(io::Error::other)?;
    let counters = Counters::leak();
    let listener = sys::listen(([127, 0, 0, 1], 0).into(), 4096)?;
    listener.set_nonblocking(true)?;
    let server = Server::start(opts, counters)?;
    let mut report = Report {
        mode: opts.mode,
        transport: opts.mode.transport(opts.transport),
        runtime: opts.mode.runtime(opts.runtime),
        values: Vec::new(),
    };
    for (k, v) in [
        ("conns", opts.conns),
        ("payload", opts.payload),
        ("threads", opts.threads),
    ] {
        report.set(k, v as f64);
    }
    std::thread::sleep(worker::SWEEP * 4);
    let rss0 = sys::rss_bytes();
    report.set("rss_start", rss0 as f64);
    if let Some(h) = sys::heap_in_use() {
        report.set("heap_start", h as f64);
    }
    let mut link = client(opts, listener.local_addr()?)?;

    // Open: accept every connection and hand it to a poller thread.
    let t0 = Instant::now();
    let mut last_progress = Instant::now();
    let mut last_accept = Instant::now();
    let mut accepted = 0;
    // Redrawn in place on a terminal; elsewhere (a log, a pipe) only the final line.
    let tty = io::stderr().is_terminal();
    let progress = |accepted: usize, done: bool| {
        if opts.quiet || !(tty || done) {
            return;
        }
        eprint!(
            "{}  {:>10}: {accepted:>6}/{} connections open, {:>6} handshakes done{}",
            if tty { "\r" } else { "" },
            opts.mode.name(),
            opts.conns,
            counters.ready.load(Relaxed),
            if done {
                format!(" in {:.1} s\n", t0.elapsed().as_secs_f64())
            } else {
                String::new()
            }
        );
    };
    while accepted < opts.conns {
        match listener.accept() {
            Ok((sock, _)) => {
                sock.set_nodelay(true)?;
                if let Some(n) = opts.send_buffer {
                    sys::set_send_buffer(&sock, n)?;
                }
                server.add(accepted, sock)?;
                accepted += 1;
                last_accept = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                link.alive(&format!(
                    "while connections were opening: {accepted} of {} arrived",
                    opts.conns
                ))?;
                if last_accept.elapsed() > Duration::from_secs(60) {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("only {accepted} of {} connections arrived", opts.conns),
                    ));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
        if last_progress.elapsed() > Duration::from_millis(250) {
            progress(accepted, false);
            last_progress = Instant::now();
        }
    }
    let handshakes = || {
        format!(
            "while the handshakes completed: {} of {} done",
            counters.ready.load(Relaxed),
            opts.conns
        )
    };
    wait_for(
        "the server side of every handshake",
        Duration::from_secs(120),
        || {
            link.alive(&handshakes())?;
            Ok(counters.ready.load(Relaxed) >= opts.conns)
        },
    )?;
    link.expect("ready", &handshakes(), Duration::from_secs(120))?;
    progress(accepted, true);
    report.set("open_secs", t0.elapsed().as_secs_f64());

    // Phase 1: idle.
    const IDLE: &str = "while the connections were idle";
    settle(&mut link, IDLE)?;
    report.snapshot("idle", opts, &server, rss0)?;

    // Phase 2: burst.
    let frames0 = counters.frames_in.load(Relaxed);
    let t1 = Instant::now();
    let total = (opts.conns as u64).saturating_mul(opts.payload as u64);
    let burst = |c: &Counters| {
        format!(
            "during the burst: {} of {total} DATA bytes had arrived",
            c.bytes_in.load(Relaxed)
        )
    };
    link.send("burst", &burst(counters))?;
    // The client gives up on its own after its budget (see ClientOptions); this is a backstop.
    let done = link.expect("done", &burst(counters), burst_budget(total) * 2)?;
    let secs = t1.elapsed().as_secs_f64();
    let frames = counters.frames_in.load(Relaxed) - frames0;
    let mut client_vals = Report {
        mode: opts.mode,
        transport: report.transport,
        runtime: report.runtime,
        values: Vec::new(),
    };
    for kv in done.split_whitespace() {
        if let Some((k, v)) = kv.split_once('=') {
            client_vals.set(k, v.parse().unwrap_or(f64::NAN));
        }
    }
    let echoed = client_vals.get("echoed");
    report.set("burst.secs", secs);
    report.set("burst.mb_s", echoed / secs / 1e6);
    report.set("burst.frames_s", frames as f64 / secs);
    // Microseconds from the client, milliseconds in the report (the README's unit).
    report.set("burst.ping_p50_ms", client_vals.get("p50_us") / 1e3);
    report.set("burst.ping_p99_ms", client_vals.get("p99_us") / 1e3);
    report.set("burst.echoed_bytes", echoed);
    report.set(
        "burst.corrupt",
        client_vals.get("corrupt") + counters.corrupt.load(Relaxed) as f64,
    );
    report.set("burst.client_errors", client_vals.get("errors"));
    report.set(
        "burst.write_waits",
        counters.write_waits.load(Relaxed) as f64,
    );

    // Phase 3: idle again, then trimmed.
    const AGAIN: &str = "while the connections were idle after the burst";
    settle(&mut link, AGAIN)?;
    report.snapshot("again", opts, &server, rss0)?;
    server.trim(opts.pool)?;
    sys::release_free_heap();
    settle(&mut link, AGAIN)?;
    report.snapshot("trimmed", opts, &server, rss0)?;

    const CLOSING: &str = "while the connections were closing";
    link.send("close", CLOSING)?;
    link.expect("bye", CLOSING, Duration::from_secs(60))?;
    // The client has exited or is exiting now: no more liveness checks.
    wait_for("every connection to close", Duration::from_secs(60), || {
        Ok(counters.closed.load(Relaxed) + counters.errors.load(Relaxed) >= opts.conns)
    })?;
    report.set("errors", counters.errors.load(Relaxed) as f64);
    match server {
        Server::Pollers(workers) => drop(workers),
        Server::Tokio(rt, _) => rt.shutdown_timeout(Duration::from_secs(5)),
        Server::SwTokio(t) => t.rt.shutdown_timeout(Duration::from_secs(5)),
    }
    link.finish()?;
    Ok(report)
}
