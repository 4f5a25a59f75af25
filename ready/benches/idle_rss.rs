//! Resident memory of N idle TCP connections (default 10,000) on loopback: slackwater
//! (`ReadyFd` + `Poller`, buffers from the pool only while reading) against one
//! `BufReader::with_capacity(32 KiB)` per connection, each in a fresh process.
//!
//! Every connection first receives one message (default 32 KiB, so the baseline's buffer is
//! fully touched, as it is after any burst of traffic), which the server reads; then all go
//! quiet and the server's RSS is measured. The peers run in a child process, because a
//! process here may hold at most 20,000 open files.
//!
//! `cargo bench -p slackwater-ready --bench idle_rss -- [connections] [message bytes]`

use slackwater_ready::{Events, Poller, ReadyFd, ReadyRead, global};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::Duration;

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize
}

/// Child: open `n` connections to `addr`, send `msg` bytes on each, wait for stdin to close.
fn peer(addr: &str, n: usize, msg: usize) {
    let payload = vec![0x42u8; msg];
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.write_all(&payload).expect("write");
        conns.push(s);
    }
    println!("connected");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// Server: accept `n` connections, read each one's message the `mode` way, go idle, report.
fn server(mode: &str, n: usize, msg: usize) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let before = rss_bytes();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--peer", &addr, &n.to_string(), &msg.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut accepted = Vec::with_capacity(n);
    for i in 0..n {
        accepted.push(l.accept().unwrap().0);
        if (i + 1) % 2000 == 0 {
            eprint!("\r  {mode}: {} / {n} connections", i + 1);
        }
    }
    eprintln!();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();

    match mode {
        "slackwater" => {
            let poller = Poller::new().unwrap();
            let mut conns: HashMap<u64, ReadyFd<TcpStream>> = HashMap::with_capacity(n);
            for (i, s) in accepted.into_iter().enumerate() {
                let r = ReadyFd::new(s).unwrap();
                poller.register(r.as_fd(), i as u64).unwrap();
                conns.insert(i as u64, r);
            }
            let mut left: HashMap<u64, usize> = (0..n as u64).map(|i| (i, msg)).collect();
            let mut events = Events::with_capacity(1024);
            while !left.is_empty() {
                poller
                    .wait(&mut events, Some(Duration::from_secs(10)))
                    .unwrap();
                for ev in &events {
                    let r = conns.get_mut(&ev.token()).unwrap();
                    while let Ok(Some(b)) = r.try_read_ready(32 * 1024, global()) {
                        let l = left.get_mut(&ev.token()).unwrap();
                        *l -= b.len();
                        if *l == 0 {
                            left.remove(&ev.token());
                        }
                    }
                }
            }
            // Idle now: one more wait sees nothing.
            poller
                .wait(&mut events, Some(Duration::from_millis(50)))
                .unwrap();
            assert!(events.is_empty());
            let s = global().stats();
            let in_use = s.in_use();
            let retained = s.bytes_retained();
            let out = (in_use * 32 * 1024, retained);
            report(mode, n, msg, before, out);
            drop(conns);
            finish(child);
        }
        _ => {
            let mut readers: Vec<BufReader<TcpStream>> = accepted
                .into_iter()
                .map(|s| BufReader::with_capacity(32 * 1024, s))
                .collect();
            for r in &mut readers {
                let mut left = msg;
                while left > 0 {
                    let n = r.fill_buf().unwrap().len();
                    r.consume(n);
                    left -= n;
                }
            }
            let pinned = readers.iter().map(|r| r.capacity()).sum::<usize>();
            let out = (pinned, 0);
            report(mode, n, msg, before, out);
            drop(readers);
            finish(child);
        }
    }
}

fn report(mode: &str, n: usize, msg: usize, before: usize, (pinned, retained): (usize, usize)) {
    let rss = rss_bytes();
    println!(
        "RESULT mode={mode} conns={n} msg={msg} rss_before={before} rss_idle={rss} pinned_read_buffers={pinned} pool_retained={retained}"
    );
}

fn finish(mut child: std::process::Child) {
    drop(child.stdin.take());
    let _ = child.wait();
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--peer") {
        return peer(&args[1], args[2].parse().unwrap(), args[3].parse().unwrap());
    }
    if args.first().map(String::as_str) == Some("--server") {
        return server(&args[1], args[2].parse().unwrap(), args[3].parse().unwrap());
    }
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let msg: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(32 * 1024);
    let mut results = Vec::new();
    for mode in ["slackwater", "bufreader-32k"] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--server", mode, &n.to_string(), &msg.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("RESULT"))
            .unwrap_or_else(|| {
                panic!("{mode} server failed: {text}");
            });
        let field = |k: &str| -> usize {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let per_conn = (field("rss_idle").saturating_sub(field("rss_before"))) as f64 / n as f64;
        results.push((
            mode,
            per_conn,
            field("pinned_read_buffers") / n,
            field("pool_retained"),
        ));
    }
    println!("\n{n} idle loopback TCP connections, one {msg}-byte message each, then quiet:\n");
    println!(
        "| stack | RSS per idle connection | pinned read-buffer bytes per connection | pool bytes retained (shared, not per connection) |"
    );
    println!("|---|---|---|---|");
    for (mode, per_conn, pinned, retained) in &results {
        println!("| {mode} | {:.0} B | {pinned} | {retained} |", per_conn);
    }
    let ratio = results[1].1 / results[0].1.max(1.0);
    println!("\nRSS per idle connection, BufReader ÷ slackwater: {ratio:.1}×");
}
