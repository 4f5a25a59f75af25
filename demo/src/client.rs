//! The client side of a run: opens the connections, drives the burst, checks the echo. It
//! always uses the slackwater stack (over ALTS, or plain TCP for a plaintext server), so
//! every server faces the same client.

use crate::wire::ClientLogic;
use crate::worker::{Cmd, Conn, Counters, Factory, Pair, Worker};
use crate::{LIVENESS, Transport, line_reader, sw::SwIo, sys, wait_for};
use slackwater_alts::Side;
use slackwater_ready::global;
use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

/// A test hook: where the client kills itself (SIGKILL, as `kill -9` would), so that tests
/// can check that the server notices a dead client in every phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DieAt {
    /// Once half the connections are open.
    Opening,
    /// Shortly after saying `ready` (the server measures the idle phase).
    Idle,
    /// Shortly after the burst starts.
    Burst,
    /// Shortly after saying `done` (the server measures the idle phase again and trims).
    Again,
    /// On `close`, before saying `bye`.
    Closing,
}

impl DieAt {
    /// Every point, with its command-line name.
    pub const ALL: [(DieAt, &'static str); 5] = [
        (DieAt::Opening, "opening"),
        (DieAt::Idle, "idle"),
        (DieAt::Burst, "burst"),
        (DieAt::Again, "again"),
        (DieAt::Closing, "closing"),
    ];

    /// The point named `s` (see [`ALL`](DieAt::ALL)).
    ///
    /// ```
    /// assert_eq!(slackwater_demo::DieAt::parse("idle"), Some(slackwater_demo::DieAt::Idle));
    /// ```
    pub fn parse(s: &str) -> Option<DieAt> {
        Self::ALL.iter().find(|(_, n)| *n == s).map(|(d, _)| *d)
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(d, _)| *d == self)
            .map_or("", |(_, n)| n)
    }
}

/// What the client does.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The server.
    pub addr: SocketAddr,
    /// Connections to open.
    pub conns: usize,
    /// DATA bytes per connection in the burst.
    pub payload: usize,
    /// Poller threads.
    pub threads: usize,
    /// `SO_RCVBUF` for every connection (set before connecting), if not the system's.
    pub recv_buffer: Option<usize>,
    /// What the frames travel over (the server's transport: plain TCP for the h2 stack).
    pub transport: Transport,
    /// Test hook: kill this process at that point (only for a client in a process of its own).
    pub die_at: Option<DieAt>,
    /// Connections opened per second (`None`: as fast as possible).
    pub open_rate: Option<usize>,
}

/// How long the burst of `total` DATA bytes (all connections together) may take: 60 s plus
/// 1 s per 10 MB, which at the slowest echo rate seen on 2 shared cores (~100 MB/s, debug
/// builds far slower) is a wide margin.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(slackwater_demo::burst_budget(10_000_000), Duration::from_secs(61));
/// ```
pub fn burst_budget(total: u64) -> Duration {
    Duration::from_secs(60) + Duration::from_nanos(total.saturating_mul(100))
}

fn die(at: DieAt) -> ! {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    eprintln!("client: test hook: SIGKILL at {} (unix ms {ms})", at.name());
    // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

/// `Err` once the server has closed the control channel (it went away).
fn server_there(lines: &Receiver<String>, pending: &mut Vec<String>, what: &str) -> io::Result<()> {
    loop {
        match lines.try_recv() {
            Ok(l) => pending.push(l),
            Err(TryRecvError::Empty) => return Ok(()),
            Err(TryRecvError::Disconnected) => {
                return Err(io::Error::other(format!(
                    "the server closed the control channel {what}"
                )));
            }
        }
    }
}

fn connect(addr: SocketAddr, recv_buffer: Option<usize>) -> io::Result<TcpStream> {
    let mut tries = 0;
    loop {
        let r = match recv_buffer {
            None => TcpStream::connect(addr),
            Some(n) => sys::connect_with_recv_buffer(addr, n),
        };
        match r {
            Ok(s) => return Ok(s),
            // A full accept queue or a port still being released: try again shortly.
            Err(e) if tries < 50 => {
                tries += 1;
                if tries == 1 {
                    eprintln!("client: connect: {e}; retrying");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the client: reads `burst` and `close` from `rx`, answers `ready`, `done …` and `bye`
/// on `tx` (the protocol [`run_server`](crate::run_server) speaks). `rx` is read on a thread
/// of its own, so that every wait here also notices a server that went away.
///
/// # Errors
/// Too few file descriptors, a connection that cannot be opened, a control channel that
/// closes, a burst that does not complete in time ([`burst_budget`]).
///
/// ```no_run
/// use slackwater_demo::{ClientOptions, run_client};
/// let opts = ClientOptions { addr: "127.0.0.1:4000".parse().unwrap(), conns: 10,
///                            payload: 1024, threads: 1, recv_buffer: None,
///                            transport: slackwater_demo::Transport::Alts, die_at: None,
///                            open_rate: None };
/// run_client(&opts, std::io::BufReader::new(std::io::stdin()), &mut std::io::stdout()).unwrap();
/// ```
pub fn run_client(
    opts: &ClientOptions,
    rx: impl BufRead + Send + 'static,
    tx: &mut dyn Write,
) -> io::Result<()> {
    sys::ensure_fds(opts.conns as u64 + 64).map_err(io::Error::other)?;
    let lines = line_reader(rx, "server-lines")?;
    let mut pending = Vec::new();
    let counters = Counters::leak();
    let payload = opts.payload as u64;
    let alts = opts.transport == Transport::Alts;
    let factory: Arc<Factory> = Arc::new(move |sock: TcpStream| {
        let logic = ClientLogic::new(counters, payload);
        let conn: Box<dyn Conn> = if alts {
            Box::new(Pair {
                io: SwIo::new(sock, Side::Client, global(), true)?,
                logic,
            })
        } else {
            Box::new(Pair {
                io: SwIo::plain(sock, Side::Client, global())?,
                logic,
            })
        };
        Ok(conn)
    });
    let per = opts.conns.div_ceil(opts.threads.max(1));
    let workers = (0..opts.threads.max(1))
        .map(|i| Worker::spawn(format!("client-{i}"), factory.clone(), counters, per))
        .collect::<io::Result<Vec<_>>>()?;
    let opening = Instant::now();
    for i in 0..opts.conns {
        if let Some(rate) = opts.open_rate.filter(|&r| r > 0) {
            // Connection i opens at i / rate seconds.
            let at = opening + Duration::from_secs_f64(i as f64 / rate as f64);
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
        }
        if opts.die_at == Some(DieAt::Opening) && i == opts.conns / 2 {
            die(DieAt::Opening);
        }
        server_there(&lines, &mut pending, "while connections were opening")?;
        let sock = connect(opts.addr, opts.recv_buffer)?;
        sock.set_nodelay(true)?;
        workers[i % workers.len()].send(Cmd::Add(sock))?;
    }
    wait_for("every client handshake", Duration::from_secs(120), || {
        server_there(&lines, &mut pending, "during the handshakes")?;
        Ok(counters.ready.load(Relaxed) >= opts.conns)
    })?;
    writeln!(tx, "ready")?;
    tx.flush()?;
    if opts.die_at == Some(DieAt::Idle) {
        std::thread::sleep(Duration::from_millis(300));
        die(DieAt::Idle);
    }

    expect(&lines, &mut pending, "burst")?;
    let t0 = Instant::now();
    for w in &workers {
        w.send(Cmd::Burst)?;
    }
    if opts.die_at == Some(DieAt::Burst) {
        // Once echoes are coming back (or after half a second).
        let _ = wait_for("an echo", Duration::from_millis(500), || {
            Ok(counters.bytes_in.load(Relaxed) > 0)
        });
        die(DieAt::Burst);
    }
    let budget = burst_budget(payload.saturating_mul(opts.conns as u64));
    wait_for("every connection's echo", budget, || {
        server_there(&lines, &mut pending, "during the burst")?;
        Ok(counters.done.load(Relaxed) + counters.errors.load(Relaxed) >= opts.conns)
    })?;
    let secs = t0.elapsed().as_secs_f64();
    let mut rtts = std::mem::take(&mut *counters.rtts.lock().unwrap_or_else(|e| e.into_inner()));
    rtts.sort_unstable();
    writeln!(
        tx,
        "done secs={secs} p50_us={} p99_us={} echoed={} corrupt={} errors={}",
        percentile(&rtts, 0.50),
        percentile(&rtts, 0.99),
        counters.bytes_in.load(Relaxed),
        counters.corrupt.load(Relaxed),
        counters.errors.load(Relaxed),
    )?;
    tx.flush()?;
    if opts.die_at == Some(DieAt::Again) {
        std::thread::sleep(Duration::from_millis(300));
        die(DieAt::Again);
    }

    expect(&lines, &mut pending, "close")?;
    if opts.die_at == Some(DieAt::Closing) {
        die(DieAt::Closing);
    }
    drop(workers); // closes every connection
    writeln!(tx, "bye")?;
    tx.flush()
}

/// Waits for the server's next line, which must be `word`.
fn expect(lines: &Receiver<String>, pending: &mut Vec<String>, word: &str) -> io::Result<()> {
    let line = if pending.is_empty() {
        loop {
            match lines.recv_timeout(LIVENESS) {
                Ok(l) => break l,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other(format!(
                        "the server closed the control channel before saying '{word}'"
                    )));
                }
            }
        }
    } else {
        pending.remove(0)
    };
    if line != word {
        return Err(io::Error::other(format!(
            "the server said '{line}', expected '{word}'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 51);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
