//! The main job: the full stack against the baseline, side by side.
//!
//! ```text
//! cargo run --release --example stack                    # 10,000 connections, both stacks
//! cargo run --release --example stack -- --conns 2000 --payload 16384 --threads 2 --json
//! cargo run --release --example stack -- --chart docs/rss.svg   # RSS at 1k..19k connections
//! ```
//!
//! Each stack runs in its own server process (the measured one), which starts its client in a
//! child process: these machines cap a process at 20,000 open files.

use slackwater_demo::report::{Series, json, svg_chart, table};
use slackwater_demo::{ClientOptions, Link, Mode, Options, Report, run_client, run_server};
use std::io::{self, BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "usage: stack [--conns N] [--payload BYTES] [--threads T] [--json]
             [--mode both|slackwater|baseline] [--keep-keys] [--chart FILE.svg]
             [--points 1000,5000,...]
  --conns    connections per run (default 10000; one process holds at most ~19,900 here)
  --payload  DATA bytes each connection sends and gets echoed in the burst (default 65536)
  --threads  poller threads on each side (default 2)
  --json     print one JSON object instead of the table
  --mode     which stacks to run (default both)
  --keep-keys  slackwater connections keep their AEAD key schedules while idle
  --chart    run the idle phases at several connection counts and write an SVG of RSS";

struct Args {
    role: String,
    mode: String,
    conns: usize,
    payload: usize,
    threads: usize,
    json: bool,
    chart: Option<String>,
    points: Vec<usize>,
    addr: Option<String>,
    keep_keys: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        role: "main".into(),
        mode: "both".into(),
        conns: 10_000,
        payload: 64 * 1024,
        threads: 2,
        json: false,
        chart: None,
        points: vec![1_000, 5_000, 10_000, 19_000],
        addr: None,
        keep_keys: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let num = |v: String| {
            v.replace('_', "")
                .parse::<usize>()
                .map_err(|e| format!("{v}: {e}"))
        };
        match flag.as_str() {
            "--conns" => a.conns = num(val("--conns")?)?,
            "--payload" => a.payload = num(val("--payload")?)?,
            "--threads" => a.threads = num(val("--threads")?)?.max(1),
            "--json" => a.json = true,
            "--keep-keys" => a.keep_keys = true,
            "--mode" => a.mode = val("--mode")?,
            "--chart" => a.chart = Some(val("--chart")?),
            "--points" => {
                a.points = val("--points")?
                    .split(',')
                    .map(|p| num(p.to_string()))
                    .collect::<Result<_, _>>()?
            }
            "--role" => a.role = val("--role")?,
            "--addr" => a.addr = Some(val("--addr")?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if a.mode != "both" && Mode::parse(&a.mode).is_none() {
        return Err(format!("unknown mode {}\n{USAGE}", a.mode));
    }
    Ok(a)
}

fn common(a: &Args, conns: usize) -> Vec<String> {
    let mut v = vec![
        "--conns".into(),
        conns.to_string(),
        "--payload".into(),
        a.payload.to_string(),
        "--threads".into(),
        a.threads.to_string(),
    ];
    if a.keep_keys {
        v.push("--keep-keys".into());
    }
    v
}

/// Runs one stack in a server process of its own and reads its report.
fn run_one(a: &Args, mode: Mode, conns: usize) -> io::Result<Report> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--role", "server", "--mode", mode.name()])
        .args(common(a, conns))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let out = BufReader::new(child.stdout.take().ok_or(io::ErrorKind::BrokenPipe)?);
    let mut report = None;
    for line in out.lines() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("report ") {
            let values = rest
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(f64::NAN)))
                .collect();
            report = Some(Report { mode, values });
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

fn modes(a: &Args) -> Vec<Mode> {
    match Mode::parse(&a.mode) {
        Some(m) => vec![m],
        None => vec![Mode::Slackwater, Mode::Baseline],
    }
}

fn main_job(a: &Args) -> io::Result<()> {
    let (date, cpu) = (today(), cpu());
    if !a.json {
        eprintln!(
            "slackwater stack demo: {} connections, {} B burst per connection, {} threads per side",
            a.conns, a.payload, a.threads
        );
        eprintln!("{date}, {cpu}");
    }
    let runs = modes(a)
        .into_iter()
        .map(|m| run_one(a, m, a.conns))
        .collect::<io::Result<Vec<_>>>()?;
    check(&runs)?;
    if a.json {
        println!("{}", json(&runs, &[("date", &date), ("cpu", &cpu)]));
    } else if let [sw, base] = &runs[..] {
        println!("\n{}", table(sw, base));
        println!(
            "ratio: how many times better slackwater is (baseline/slackwater for memory and \
             latency, slackwater/baseline for throughput)"
        );
    } else {
        for r in &runs {
            for (k, v) in &r.values {
                println!("{:<10} {k:<36} {v}", r.mode.name());
            }
        }
    }
    Ok(())
}

/// A run that lost or corrupted data, or left a pooled buffer in use, is a failure (the exit
/// status says so), not just a line in the table.
fn check(runs: &[Report]) -> io::Result<()> {
    for r in runs {
        for key in [
            "burst.corrupt",
            "burst.client_errors",
            "errors",
            "idle.pool_in_use",
            "again.pool_in_use",
        ] {
            let v = r.get(key);
            if v != 0.0 {
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

fn chart(a: &Args, path: &str) -> io::Result<()> {
    let mk = |name: &str, color, dashed| Series {
        name: name.into(),
        color,
        dashed,
        points: Vec::new(),
    };
    let mut series = [
        mk("slackwater, idle", "#1f77b4", false),
        mk("slackwater, idle after burst", "#1f77b4", true),
        mk("baseline, idle", "#d62728", false),
        mk("baseline, idle after burst", "#d62728", true),
    ];
    let mut runs = Vec::new();
    for &n in &a.points {
        for (i, mode) in [Mode::Slackwater, Mode::Baseline].into_iter().enumerate() {
            let r = run_one(a, mode, n)?;
            check(std::slice::from_ref(&r))?;
            let mib = |k: &str| (r.get(k) - r.get("rss_start")) / (1024.0 * 1024.0);
            series[2 * i].points.push((n as f64, mib("idle.rss")));
            series[2 * i + 1].points.push((n as f64, mib("again.rss")));
            runs.push(r);
        }
    }
    let title = format!(
        "Server RSS above its start against idle connections (ALTS + HTTP/2)\n{}, {}, {} B \
         burst per connection",
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
            .map(|(x, y)| format!("{x}: {y:.1} MiB"))
            .collect();
        println!("{:<30} {}", s.name, pts.join(", "));
    }
    if a.json {
        println!("{}", json(&runs, &[("date", &today()), ("cpu", &cpu())]));
    }
    Ok(())
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let r = match a.role.as_str() {
        "client" => {
            let addr = a.addr.as_deref().unwrap_or("").parse();
            match addr {
                Ok(addr) => {
                    let opts = ClientOptions {
                        addr,
                        conns: a.conns,
                        payload: a.payload,
                        threads: a.threads,
                        recv_buffer: None,
                    };
                    run_client(&opts, &mut io::stdin().lock(), &mut io::stdout())
                }
                Err(e) => Err(io::Error::other(format!("--addr: {e}"))),
            }
        }
        "server" => {
            let opts = Options {
                conns: a.conns,
                payload: a.payload,
                threads: a.threads,
                mode: Mode::parse(&a.mode).unwrap_or(Mode::Slackwater),
                release_keys: !a.keep_keys,
                ..Options::default()
            };
            let mut args = vec!["--role".to_string(), "client".into()];
            args.extend(common(&a, a.conns));
            run_server(&opts, |_, addr| Link::child(&args, addr)).map(|r| {
                let kv: Vec<String> = r.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!("report {}", kv.join(" "));
            })
        }
        _ => match &a.chart {
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
