//! The client side of a run: opens the connections, drives the burst, checks the echo. It
//! always uses the slackwater stack, so both servers face the same client.

use crate::wire::ClientLogic;
use crate::worker::{Cmd, Counters, Factory, Worker};
use crate::{sw::SwIo, sys, wait_for};
use slackwater_alts::Side;
use slackwater_ready::global;
use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

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
/// on `tx` (the protocol [`run_server`](crate::run_server) speaks).
///
/// # Errors
/// Too few file descriptors, a connection that cannot be opened, a control channel that
/// closes, a burst that does not complete in time.
///
/// ```no_run
/// use slackwater_demo::{ClientOptions, run_client};
/// let opts = ClientOptions { addr: "127.0.0.1:4000".parse().unwrap(), conns: 10,
///                            payload: 1024, threads: 1, recv_buffer: None };
/// run_client(&opts, &mut std::io::stdin().lock(), &mut std::io::stdout()).unwrap();
/// ```
pub fn run_client(
    opts: &ClientOptions,
    rx: &mut dyn BufRead,
    tx: &mut dyn Write,
) -> io::Result<()> {
    sys::ensure_fds(opts.conns as u64 + 64).map_err(io::Error::other)?;
    let counters = Counters::leak();
    let payload = opts.payload as u64;
    let factory: Arc<Factory> = Arc::new(move |sock: TcpStream| {
        let io = SwIo::new(sock, Side::Client, global(), true)?;
        let logic = ClientLogic::new(counters, payload);
        Ok((Box::new(io) as _, Box::new(logic) as _))
    });
    let workers = (0..opts.threads.max(1))
        .map(|i| Worker::spawn(format!("client-{i}"), factory.clone(), counters))
        .collect::<io::Result<Vec<_>>>()?;
    for i in 0..opts.conns {
        let sock = connect(opts.addr, opts.recv_buffer)?;
        sock.set_nodelay(true)?;
        workers[i % workers.len()].send(Cmd::Add(sock))?;
    }
    wait_for("every client handshake", Duration::from_secs(120), || {
        counters.ready.load(Relaxed) >= opts.conns
    })?;
    writeln!(tx, "ready")?;
    tx.flush()?;

    expect(rx, "burst")?;
    let t0 = Instant::now();
    for w in &workers {
        w.send(Cmd::Burst)?;
    }
    let budget = Duration::from_secs(60) + Duration::from_nanos(payload * opts.conns as u64);
    wait_for("every connection's echo", budget, || {
        counters.done.load(Relaxed) + counters.errors.load(Relaxed) >= opts.conns
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

    expect(rx, "close")?;
    drop(workers); // closes every connection
    writeln!(tx, "bye")?;
    tx.flush()
}

fn expect(rx: &mut dyn BufRead, word: &str) -> io::Result<()> {
    let mut line = String::new();
    if rx.read_line(&mut line)? == 0 {
        return Err(io::Error::other("the server closed the control channel"));
    }
    if line.trim() != word {
        return Err(io::Error::other(format!(
            "the server said '{}', expected '{word}'",
            line.trim()
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
