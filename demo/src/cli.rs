//! The main job's command line: parsing (through `lexopt`), the checks that refuse a run it
//! cannot honour, and the three roles one executable plays (the orchestrator that prints the
//! table, a server process per stack and run, and that server's client child).
//!
//! The `stack` example and the crate's `slackwater-demo` binary are both [`main`].

use crate::report::{self, Series, json, report_from_json, report_json, svg_chart, table};
use crate::{
    ClientOptions, DieAt, Link, Mode, Options, Report, Runtime, Transport, run_client, run_server,
    sys,
};
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};

/// What `--help` prints (on stdout).
pub const USAGE: &str = "\
The main job: N loopback connections, each TCP -> ALTS -> HTTP/2 frames (or HTTP/2 over
plain TCP), served by three stacks in turn: slackwater, a per-connection-buffer baseline
(gRPC-Go's layout before v1.81), and tokio + the h2 crate (plaintext HTTP/2, what hyper and
tonic use). The server process is measured: RSS per connection idle, after a burst of PING
and DATA echo (throughput, PING round trips), and after trim().

usage: stack [OPTIONS]
  --conns N          connections per run (default 10000; at least 1, and N + 64 open files
                     must fit the open-file limit of one process)
  --payload BYTES    DATA bytes each connection sends and gets echoed in the burst
                     (default 65536; at least 1; conns x payload at most 4 GiB and at most a
                     quarter of MemAvailable, see below)
  --threads T        poller threads on each side, or tokio worker threads for the h2 stack
                     and --runtime tokio (default 2; 1 to 64)
  --runs N           run each stack N times, each time in a fresh server process (and its
                     client), and print medians with (min–max) ranges; ratios are computed
                     per run, then summarised the same way (default 1; 1 to 100)
  --mode M           slackwater, baseline, h2, all, or a comma-separated list of stacks
                     (default all)
  --transport T      alts or tcp (default alts): what slackwater and the baseline speak.
                     The h2 stack is plaintext only: with tcp all three are plaintext and
                     compared like for like; with alts it still runs, plaintext, and the
                     table says so
  --json             print one JSON object instead of the table: every run's numbers, the
                     summary (median, min, max of each row and ratio), date, command line
  --runtime R        poller or tokio (default poller): what drives the slackwater stack,
                     the demo's poller threads or a tokio multi-thread runtime with a task
                     per connection (as the h2 stack runs); the baseline always runs on the
                     poller threads
  --keep-keys        slackwater connections keep their AEAD key schedules while idle
                     (slackwater over ALTS only)
  --open-rate N      the client opens N connections per second (default: as fast as it
                     can); e.g. 2000 opens 10,000 over 5 s, slower than the server's 250 ms
                     quiet sweep, so connections go quiet while others are still opening.
                     At least conns / 100 (opening must fit the 120 s handshake wait)
  --chart FILE.svg   run each stack once at several connection counts (--points) and draw
                     the server's RSS per connection, idle and after the burst (log scale)
  --points LIST      connection counts for --chart (default 1000,5000,10000,19000)
  -h, --help         this text

Flags take their value as `--conns 10` or `--conns=10`; `_` may group digits (10_000).

The burst budget: every connection may have its whole payload in flight at once, in the
server and in the client, so conns x payload must be at most a quarter of the memory the
kernel reports available (MemAvailable in /proc/meminfo); and it must be at most 4 GiB, so
that the burst ends in about a minute at the slowest echo rate seen on 2 shared cores
(~100 MB/s). The burst times out after 60 s + 1 s per 10 MB.

The client runs in a child process of each server process: these machines cap a process
at 20,000 open files.";

/// Largest `conns x payload` a run accepts (see [`USAGE`]).
pub const BURST_CAP: u64 = 4 << 30;
/// Most runs of each stack (`--runs`).
pub const MAX_RUNS: usize = 100;
/// Most poller threads a run accepts.
pub const MAX_THREADS: usize = 64;

/// Which part of a run this process plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Runs the server processes and prints the table (what a user starts).
    Main,
    /// One stack's server, measured; prints its report on stdout.
    Server,
    /// The server's client (a child of the server process).
    Client,
}

/// Parsed command line.
#[derive(Clone, Debug)]
pub struct Args {
    /// This process's role (hidden flag `--role`).
    pub role: Role,
    /// The stacks to run, in order.
    pub modes: Vec<Mode>,
    /// What slackwater and the baseline speak.
    pub transport: Transport,
    /// `--transport` was given (not the default).
    pub transport_given: bool,
    /// What drives the slackwater stack.
    pub runtime: Runtime,
    /// Connections per run.
    pub conns: usize,
    /// DATA bytes per connection in the burst.
    pub payload: usize,
    /// Poller threads on each side.
    pub threads: usize,
    /// JSON instead of the table.
    pub json: bool,
    /// Runs of each stack.
    pub runs: usize,
    /// Slackwater keeps its key schedules while idle.
    pub keep_keys: bool,
    /// Draw the chart to this file.
    pub chart: Option<String>,
    /// Connection counts for the chart (`None`: not given).
    pub points: Option<Vec<usize>>,
    /// The server's address (client role, hidden).
    pub addr: Option<std::net::SocketAddr>,
    /// Test hook (hidden flag `--client-die-at`): the client kills itself there.
    pub die_at: Option<DieAt>,
    /// Connections the client opens per second (`None`: as fast as it can).
    pub open_rate: Option<usize>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            role: Role::Main,
            modes: Mode::ALL.to_vec(),
            transport: Transport::Alts,
            transport_given: false,
            runtime: Runtime::Poller,
            conns: 10_000,
            payload: 64 * 1024,
            threads: 2,
            json: false,
            runs: 1,
            keep_keys: false,
            chart: None,
            points: None,
            addr: None,
            die_at: None,
            open_rate: None,
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// `--help`.
    Help,
    /// A run.
    Run(Args),
}

fn number(flag: &str, v: OsString) -> Result<usize, String> {
    let s = v
        .into_string()
        .map_err(|v| format!("{flag}: {v:?} is not valid UTF-8"))?;
    s.replace('_', "")
        .parse::<usize>()
        .map_err(|e| format!("{flag}: '{s}' is not a whole number ({e})"))
}

fn text(flag: &str, v: OsString) -> Result<String, String> {
    v.into_string()
        .map_err(|v| format!("{flag}: {v:?} is not valid UTF-8"))
}

fn modes(v: &str) -> Result<Vec<Mode>, String> {
    if v == "all" {
        return Ok(Mode::ALL.to_vec());
    }
    let mut out = Vec::new();
    for name in v.split(',') {
        let m = Mode::parse(name.trim()).ok_or(format!(
            "--mode: unknown mode '{name}' (expected slackwater, baseline, h2, all, or a \
             comma-separated list)"
        ))?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

/// Parses the arguments (without the program name). Syntax only: [`check`] refuses what a run
/// cannot honour.
///
/// # Errors
/// A message that names the flag.
///
/// ```
/// use slackwater_demo::cli::{Parsed, parse};
/// let Ok(Parsed::Run(a)) = parse(["--conns=10", "--payload", "1_000"].map(Into::into)) else {
///     panic!()
/// };
/// assert_eq!((a.conns, a.payload), (10, 1000));
/// assert!(parse(["--conns".into()]).unwrap_err().contains("--conns"));
/// ```
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, String> {
    use lexopt::prelude::*;
    let mut a = Args::default();
    let mut p = lexopt::Parser::from_args(args);
    let err = |e: lexopt::Error| e.to_string();
    while let Some(arg) = p.next().map_err(err)? {
        match arg {
            Short('h') | Long("help") => return Ok(Parsed::Help),
            Long("conns") => a.conns = number("--conns", p.value().map_err(err)?)?,
            Long("payload") => a.payload = number("--payload", p.value().map_err(err)?)?,
            Long("threads") => a.threads = number("--threads", p.value().map_err(err)?)?,
            Long("json") => a.json = true,
            Long("runs") => a.runs = number("--runs", p.value().map_err(err)?)?,
            Long("keep-keys") => a.keep_keys = true,
            Long("open-rate") => {
                a.open_rate = Some(number("--open-rate", p.value().map_err(err)?)?);
            }
            Long("mode") => a.modes = modes(&text("--mode", p.value().map_err(err)?)?)?,
            Long("runtime") => {
                let v = text("--runtime", p.value().map_err(err)?)?;
                a.runtime = Runtime::parse(&v).ok_or(format!(
                    "--runtime: unknown runtime '{v}' (expected poller or tokio)"
                ))?;
            }
            Long("transport") => {
                let v = text("--transport", p.value().map_err(err)?)?;
                a.transport = Transport::parse(&v).ok_or(format!(
                    "--transport: unknown transport '{v}' (expected alts or tcp)"
                ))?;
                a.transport_given = true;
            }
            Long("chart") => a.chart = Some(text("--chart", p.value().map_err(err)?)?),
            Long("points") => {
                let v = text("--points", p.value().map_err(err)?)?;
                a.points = Some(
                    v.split(',')
                        .map(|n| number("--points", n.trim().into()))
                        .collect::<Result<_, _>>()?,
                );
            }
            Long("role") => {
                a.role = match text("--role", p.value().map_err(err)?)?.as_str() {
                    "main" => Role::Main,
                    "server" => Role::Server,
                    "client" => Role::Client,
                    r => return Err(format!("--role: unknown role '{r}'")),
                }
            }
            Long("client-die-at") => {
                let v = text("--client-die-at", p.value().map_err(err)?)?;
                a.die_at =
                    Some(DieAt::parse(&v).ok_or(format!("--client-die-at: unknown point '{v}'"))?);
            }
            Long("addr") => {
                let v = text("--addr", p.value().map_err(err)?)?;
                a.addr = Some(v.parse().map_err(|e| format!("--addr: '{v}': {e}"))?);
            }
            _ => return Err(format!("{} (see --help)", arg.unexpected())),
        }
    }
    Ok(Parsed::Run(a))
}

/// Reads `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The most `conns x payload` a run may ask for: [`BURST_CAP`], or a quarter of `available`
/// memory when that is less.
///
/// ```
/// use slackwater_demo::cli::{BURST_CAP, burst_cap};
/// assert_eq!(burst_cap(None), BURST_CAP);
/// assert_eq!(burst_cap(Some(4 << 30)), 1 << 30);
/// ```
pub fn burst_cap(available: Option<u64>) -> u64 {
    available.map_or(BURST_CAP, |m| (m / 4).min(BURST_CAP))
}

/// Refuses, with the reason, what a run cannot honour: no connections, no threads, a burst
/// over the budget, more connections than the open-file limit allows, flags that do not
/// apply. Raises the soft open-file limit to the hard one on the way (the processes this one
/// starts inherit it).
///
/// # Errors
/// A message that names the flag and says why.
pub fn check(a: &Args) -> Result<(), String> {
    if a.conns == 0 {
        return Err("--conns 0: a run needs at least one connection".into());
    }
    if a.threads == 0 || a.threads > MAX_THREADS {
        return Err(format!(
            "--threads {}: each side needs 1 to {MAX_THREADS} poller threads",
            a.threads
        ));
    }
    if a.runs == 0 || a.runs > MAX_RUNS {
        return Err(format!("--runs {}: 1 to {MAX_RUNS} runs", a.runs));
    }
    if a.chart.is_some() && a.runs > 1 {
        return Err("--runs: the chart (--chart) measures each point once".into());
    }
    if a.payload == 0 {
        return Err("--payload 0: the burst echoes at least one DATA byte per connection".into());
    }
    if let Some(r) = a.open_rate
        && (r == 0 || a.conns.div_ceil(r) > 100)
    {
        return Err(format!(
            "--open-rate {r}: opening {} connections must take at most 100 s (the client \
             waits 120 s for the handshakes): at least {} per second",
            a.conns,
            a.conns.div_ceil(100).max(1)
        ));
    }
    let counts = match (&a.chart, &a.points) {
        (None, Some(_)) => return Err("--points only applies with --chart".into()),
        (Some(_), Some(p)) => p.clone(),
        (Some(_), None) => default_points(),
        (None, None) => vec![a.conns],
    };
    if counts.contains(&0) {
        return Err("--points: every connection count must be at least 1".into());
    }
    let flag = if a.chart.is_some() {
        "--points"
    } else {
        "--conns"
    };
    let most = counts.iter().copied().max().unwrap_or(a.conns);
    sys::ensure_fds(most as u64 + 64).map_err(|e| format!("{flag} {most}: {e}"))?;
    let budget = burst_cap(mem_available());
    let burst = (most as u64).saturating_mul(a.payload as u64);
    if burst > budget {
        return Err(format!(
            "--payload {} with {flag} {most}: {most} connections x {} B = {} MB in flight at \
             once; the budget here is {} MB (at most 4 GiB and a quarter of MemAvailable; see \
             --help)",
            a.payload,
            a.payload,
            burst / 1_000_000,
            budget / 1_000_000
        ));
    }
    if a.keep_keys && !a.modes.contains(&Mode::Slackwater) {
        return Err("--keep-keys only applies to the slackwater stack (--mode)".into());
    }
    if a.runtime == Runtime::Tokio && !a.modes.contains(&Mode::Slackwater) {
        return Err("--runtime tokio only applies to the slackwater stack (--mode)".into());
    }
    if a.keep_keys && a.transport == Transport::Tcp {
        return Err("--keep-keys: over --transport tcp there are no keys to keep".into());
    }
    if a.transport_given && a.transport == Transport::Alts && a.modes == [Mode::H2] {
        return Err(
            "--transport alts: the h2 stack (--mode h2) is plaintext only; use --transport tcp"
                .into(),
        );
    }
    Ok(())
}

fn default_points() -> Vec<usize> {
    vec![1_000, 5_000, 10_000, 19_000]
}

fn common(a: &Args, conns: usize) -> Vec<String> {
    let mut v = vec![
        format!("--conns={conns}"),
        format!("--payload={}", a.payload),
        format!("--threads={}", a.threads),
        format!("--transport={}", a.transport.name()),
        format!("--runtime={}", a.runtime.name()),
    ];
    if a.keep_keys {
        v.push("--keep-keys".into());
    }
    if let Some(d) = a.die_at {
        v.push(format!("--client-die-at={}", d.name()));
    }
    if let Some(r) = a.open_rate {
        v.push(format!("--open-rate={r}"));
    }
    v
}

/// Runs one stack in a server process of its own and reads its report.
fn run_one(a: &Args, mode: Mode, conns: usize) -> io::Result<Report> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--role=server", &format!("--mode={}", mode.name())])
        .args(common(a, conns))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let out = BufReader::new(child.stdout.take().ok_or(io::ErrorKind::BrokenPipe)?);
    let mut report = None;
    for line in out.lines() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("report ") {
            report = Some(report_from_json(rest).map_err(io::Error::other)?);
        }
    }
    let st = child.wait()?;
    match report {
        Some(r) if st.success() => Ok(r),
        _ => Err(io::Error::other(format!(
            "the {} server failed ({st})",
            mode.name()
        ))),
    }
}

fn cpu() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cores} cores")
}

/// Today's date (UTC) as YYYY-MM-DD.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    // Howard Hinnant's days-to-civil algorithm.
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The command line as typed (the program as a path relative to the current directory when
/// it is inside it), quoted where a shell would need it.
fn command_line() -> String {
    let cwd = std::env::current_dir().ok();
    std::env::args()
        .enumerate()
        .map(|(i, a)| {
            let a = match (&cwd, i) {
                (Some(d), 0) => std::path::Path::new(&a)
                    .strip_prefix(d)
                    .map_or(a.clone(), |p| p.display().to_string()),
                _ => a,
            };
            if a.is_empty()
                || a.contains(|c: char| !(c.is_ascii_alphanumeric() || "-_=./,:".contains(c)))
            {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn main_job(a: &Args) -> io::Result<()> {
    let (date, cpu, cmd) = (today(), cpu(), command_line());
    eprintln!(
        "slackwater stack demo: {} connections, {} B burst per connection, {} threads per side, \
         {} run{} of each stack",
        a.conns,
        a.payload,
        a.threads,
        a.runs,
        if a.runs == 1 { "" } else { "s" }
    );
    let mut runs = Vec::new();
    for i in 1..=a.runs {
        for &m in &a.modes {
            if a.runs > 1 {
                eprintln!("run {i}/{}: {}", a.runs, m.name());
            }
            let r = run_one(a, m, a.conns)?;
            check_runs(std::slice::from_ref(&r))?;
            runs.push(r);
        }
    }
    if a.json {
        let meta = [("date", &*date), ("cpu", &*cpu), ("command", &*cmd)];
        println!("{}", json(&runs, &meta));
    } else {
        println!("\n{date}, {cpu}\ncommand: {cmd}\n\n{}", table(&runs));
        println!(
            "ratio: how many times better slackwater is (other ÷ slackwater for memory and \
             latency, slackwater ÷ other for throughput), computed per run"
        );
        if a.transport == Transport::Alts && a.modes.contains(&Mode::H2) && a.modes.len() > 1 {
            println!(
                "tokio + h2 speaks plaintext HTTP/2 (the h2 crate has no ALTS), the others \
                 ALTS: not like for like; --transport tcp compares plaintext with plaintext"
            );
        }
    }
    Ok(())
}

/// A run that lost or corrupted data, or left a pooled buffer in use, is a failure (the exit
/// status says so), not just a line in the table.
fn check_runs(runs: &[Report]) -> io::Result<()> {
    for r in runs {
        for key in [
            "burst.corrupt",
            "burst.client_errors",
            "errors",
            "idle.pool_in_use",
            "again.pool_in_use",
        ] {
            let v = r.get(key);
            // The h2 stack has no pool: its pool rows are not measured (NaN).
            let unmeasured = v.is_nan() && r.mode == Mode::H2 && key.contains("pool");
            if v != 0.0 && !unmeasured {
                return Err(io::Error::other(format!("{}: {key} = {v}", r.mode.name())));
            }
        }
        let sent = r.get("conns") * r.get("payload");
        if r.get("burst.echoed_bytes") != sent {
            return Err(io::Error::other(format!(
                "{}: {} of {sent} bytes came back",
                r.mode.name(),
                r.get("burst.echoed_bytes")
            )));
        }
    }
    Ok(())
}

/// The chart's colour for a stack.
fn color(m: Mode) -> &'static str {
    match m {
        Mode::Slackwater => "#1f77b4",
        Mode::Baseline => "#d62728",
        Mode::H2 => "#2ca02c",
    }
}

fn chart(a: &Args, path: &str) -> io::Result<()> {
    let mut series = Vec::new();
    let mut runs = Vec::new();
    for &n in a.points.as_deref().unwrap_or(&default_points()) {
        for &m in &a.modes {
            eprintln!("{n} connections: {}", m.name());
            let r = run_one(a, m, n)?;
            check_runs(std::slice::from_ref(&r))?;
            runs.push(r);
        }
    }
    for &m in &a.modes {
        let of: Vec<&Report> = runs.iter().filter(|r| r.mode == m).collect();
        let Some(first) = of.first() else { continue };
        let name = report::heading(first);
        for (phase, key, dashed) in [
            ("idle", "idle.rss_per_conn", false),
            ("after a burst", "again.rss_per_conn", true),
        ] {
            series.push(Series {
                name: format!("{name}, {phase}"),
                color: color(m),
                dashed,
                points: of.iter().map(|r| (r.get("conns"), r.get(key))).collect(),
            });
        }
    }
    let title = format!(
        "Server RSS per connection (above the server's start), idle and idle after one burst\n{}, \
         {}, {} B burst per connection",
        today(),
        cpu(),
        a.payload
    );
    std::fs::write(path, svg_chart(&title, &series))?;
    eprintln!("wrote {path}");
    for s in &series {
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|(x, y)| format!("{x}: {} B", report::num(*y)))
            .collect();
        println!("{:<44} {}", s.name, pts.join(", "));
    }
    if a.json {
        let meta = [
            ("date", &*today()),
            ("cpu", &*cpu()),
            ("command", &*command_line()),
        ];
        println!("{}", json(&runs, &meta));
    }
    Ok(())
}

fn client_role(a: &Args) -> io::Result<()> {
    let addr = a
        .addr
        .ok_or_else(|| io::Error::other("--addr: the client needs the server's address"))?;
    let opts = ClientOptions {
        addr,
        conns: a.conns,
        payload: a.payload,
        threads: a.threads,
        recv_buffer: None,
        // The server passes its own transport (plain TCP for the h2 stack).
        transport: a.transport,
        die_at: a.die_at,
        open_rate: a.open_rate,
    };
    run_client(&opts, BufReader::new(io::stdin()), &mut io::stdout())
}

fn server_role(a: &Args) -> io::Result<()> {
    let opts = Options {
        conns: a.conns,
        payload: a.payload,
        threads: a.threads,
        mode: a.modes.first().copied().unwrap_or(Mode::Slackwater),
        transport: a.transport,
        runtime: a.runtime,
        release_keys: !a.keep_keys,
        ..Options::default()
    };
    // The client speaks what this server speaks (plain TCP for the h2 stack).
    let client = Args {
        transport: opts.mode.transport(a.transport),
        ..a.clone()
    };
    let mut args = vec!["--role=client".to_string()];
    args.extend(common(&client, a.conns));
    let r = run_server(&opts, |_, addr| Link::child(&args, addr))?;
    let mut out = io::stdout().lock();
    writeln!(out, "report {}", report_json(&r))?;
    out.flush()
}

/// The whole program: parses `std::env::args`, refuses what it cannot honour (exit status 2,
/// the reason on stderr), prints `--help` on stdout (exit status 0), runs the role, and
/// exits 1 when the run fails.
pub fn main() -> ExitCode {
    let a = match parse(std::env::args_os().skip(1)) {
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Run(a)) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = if a.role == Role::Main {
        check(&a)
    } else {
        Ok(())
    } {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let r = match a.role {
        Role::Client => client_role(&a),
        Role::Server => server_role(&a),
        Role::Main => match &a.chart {
            Some(path) => chart(&a, path),
            None => main_job(&a),
        },
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nerror: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Args, String> {
        match parse(args.iter().map(Into::into))? {
            Parsed::Run(a) => Ok(a),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn both_value_forms_and_digit_groups() {
        assert_eq!(run(&["--conns=10"]).unwrap().conns, 10);
        assert_eq!(run(&["--conns", "10_000"]).unwrap().conns, 10_000);
        assert_eq!(run(&["-h"]).unwrap_err(), "help");
        assert!(run(&["--conns", "x"]).unwrap_err().contains("--conns"));
        assert!(run(&["--bogus"]).unwrap_err().contains("--bogus"));
        assert!(run(&["--mode", "nope"]).unwrap_err().contains("--mode"));
    }

    #[test]
    fn refusals_name_the_flag() {
        for (args, flag) in [
            (&["--conns", "0"][..], "--conns"),
            (&["--threads", "0"], "--threads"),
            (&["--payload", "0"], "--payload"),
            (&["--payload", "100000000", "--conns", "2000"], "--payload"),
            (&["--conns", "100000000"], "--conns"),
            (&["--points", "10"], "--points"),
            (&["--mode", "baseline", "--keep-keys"], "--keep-keys"),
            (&["--open-rate", "0"], "--open-rate"),
            (&["--open-rate", "99", "--conns", "10000"], "--open-rate"),
        ] {
            let e = check(&run(args).unwrap()).unwrap_err();
            assert!(e.contains(flag), "{args:?}: {e}");
        }
        check(&run(&["--conns", "10"]).unwrap()).unwrap();
        check(&run(&["--conns", "10000", "--open-rate", "100"]).unwrap()).unwrap();
    }
}
