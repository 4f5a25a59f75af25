//! The main job's command line, run as a user runs it (the crate's binary, which is the
//! `stack` example's program): help, refusals, and the `--flag=value` form.

use std::process::{Command, Output};

fn stack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slackwater-demo"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_goes_to_stdout_and_exits_0() {
    for flag in ["--help", "-h"] {
        let o = stack(&[flag]);
        assert!(o.status.success(), "{flag}: {:?}", o.status);
        let out = text(&o.stdout);
        assert!(out.contains("usage: stack"), "{out}");
        for f in [
            "--conns",
            "--payload",
            "--threads",
            "--runs",
            "--mode",
            "--transport",
            "--runtime",
            "--json",
            "--chart",
        ] {
            assert!(out.contains(f), "--help does not mention {f}");
        }
        assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
    }
}

/// Each refused command line: a non-zero exit before anything runs, and a message on stderr
/// that names the flag and says why.
#[test]
fn refusals_name_the_flag_and_exit_non_zero() {
    for (args, flag, why) in [
        (&["--conns", "0"][..], "--conns", "at least one connection"),
        (&["--conns=0"], "--conns", "at least one connection"),
        (&["--threads", "0"], "--threads", "1 to 64"),
        (&["--threads=65"], "--threads", "1 to 64"),
        (&["--payload", "0"], "--payload", "at least one DATA byte"),
        (
            &["--payload", "100000000", "--conns", "2000"],
            "--payload",
            "budget",
        ),
        (&["--conns", "10000000"], "--conns", "open files"),
        (&["--mode", "quic"], "--mode", "unknown mode 'quic'"),
        (&["--conns", "ten"], "--conns", "not a whole number"),
        (&["--conns"], "--conns", "missing"),
        (&["--frobnicate"], "--frobnicate", "invalid option"),
        (
            &["--points", "10,20"],
            "--points",
            "only applies with --chart",
        ),
        (
            &["--mode", "baseline", "--keep-keys"],
            "--keep-keys",
            "slackwater",
        ),
        (
            &["--transport=tcp", "--keep-keys"],
            "--keep-keys",
            "no keys",
        ),
        (
            &["--transport", "quic"],
            "--transport",
            "unknown transport 'quic'",
        ),
        (
            &["--mode=h2", "--transport=alts"],
            "--transport",
            "plaintext only",
        ),
        (
            &["--mode", "slackwater,http3"],
            "--mode",
            "unknown mode 'http3'",
        ),
        (
            &["--runtime", "async-std"],
            "--runtime",
            "unknown runtime 'async-std'",
        ),
        (&["--runtime=tokio", "--mode=h2"], "--runtime", "slackwater"),
        (&["--runs", "0"], "--runs", "1 to 100"),
        (&["--runs=101"], "--runs", "1 to 100"),
        (&["--chart", "x.svg", "--runs", "2"], "--runs", "once"),
    ] {
        let t = std::time::Instant::now();
        let o = stack(args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag) && err.contains(why), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
        assert!(
            t.elapsed().as_secs() < 5,
            "{args:?} was refused only after a run"
        );
    }
}

/// `--conns=10` (the `=` form) is accepted and runs: one small run of one stack.
#[test]
fn equals_form_runs() {
    let o = stack(&["--conns=10", "--payload=1000", "--mode=h2", "--threads=1"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(out.contains("| measure (10 connections; one run)"), "{out}");
    assert!(out.contains("tokio + h2 (plaintext)"), "{out}");
}
