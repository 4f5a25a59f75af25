//! A client that dies is noticed within a second or two in every phase, with a message that
//! says so. The client (a child of the measured server process) kills itself with SIGKILL at
//! a chosen point (the hidden test hook `--client-die-at`) and prints when; the server must
//! fail with "the client process died (signal 9) <phase>" soon after.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn dies_at(point: &str, phase: &str) {
    let o = Command::new(env!("CARGO_BIN_EXE_slackwater-demo"))
        .args([
            "--mode=slackwater",
            "--conns=40",
            "--payload=20000",
            "--threads=1",
        ])
        .arg(format!("--client-die-at={point}"))
        .output()
        .expect("the binary runs");
    let ended = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{point}: {err}");
    let want = format!("the client process died (signal 9) {phase}");
    assert!(err.contains(&want), "{point}: wanted '{want}' in:\n{err}");
    // When the client died, as it said just before.
    let killed: u128 = err
        .split("(unix ms ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{point}: no kill time in:\n{err}"));
    let took = ended - killed;
    assert!(
        took < 2_000,
        "{point}: the run ended {took} ms after the client died\n{err}"
    );
}

#[test]
fn noticed_while_connections_open() {
    // The client dies after opening 20 of its 40 connections; the server may not have
    // accepted all of them yet.
    dies_at("opening", "while connections were opening: ");
}

#[test]
fn noticed_while_idle() {
    dies_at("idle", "while the connections were idle");
}

#[test]
fn noticed_during_the_burst() {
    dies_at("burst", "during the burst: ");
}

#[test]
fn noticed_while_idle_after_the_burst() {
    dies_at("again", "while the connections were idle after the burst");
}

#[test]
fn noticed_while_closing() {
    dies_at("closing", "while the connections were closing");
}
