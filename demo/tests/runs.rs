//! Small whole runs of the main job through its binary (debug build: the invariants and the
//! shape of the output, not the timings).

use std::process::Command;

fn stack(args: &[&str]) -> (String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_slackwater-demo"))
        .args(args)
        .output()
        .expect("the binary runs");
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "{args:?} failed:\n{err}");
    (out, err)
}

/// `--runs 2`: each stack twice, each time a fresh server process; the table gives medians
/// with (min–max) ranges and per-run ratios summarised the same way, with the date and the
/// command line.
#[test]
fn two_runs_give_medians_and_ranges() {
    let args = [
        "--conns=50",
        "--payload",
        "1000",
        "--runs",
        "2",
        "--mode=slackwater,baseline",
    ];
    let (out, err) = stack(&args);
    assert_eq!(err.matches("run 1/2: ").count(), 2, "{err}");
    assert_eq!(err.matches("run 2/2: ").count(), 2, "{err}");
    assert!(
        out.contains("command: ") && out.contains("--runs 2"),
        "{out}"
    );
    assert!(
        out.contains("50 connections; median of 2 runs, range"),
        "{out}"
    );
    let row = |label: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("| {label}")))
            .unwrap_or_else(|| panic!("no row '{label}' in\n{out}"))
            .split('|')
            .map(|c| c.trim().to_string())
            .collect::<Vec<_>>()
    };
    let head = row("measure");
    assert_eq!(
        &head[2..5],
        ["slackwater (ALTS)", "baseline (ALTS)", "ratio vs baseline"]
    );
    // Timings differ between two runs: a median and a range for each stack, and the ratio
    // (computed per run) with its range.
    let mb_s = row("burst: echo throughput");
    for c in &mb_s[2..4] {
        assert!(
            c.contains(" (") && c.contains('–') && c.ends_with(')'),
            "{mb_s:?}"
        );
    }
    assert!(
        mb_s[4].contains("× (") && mb_s[4].ends_with(')'),
        "{mb_s:?}"
    );
    assert!(row("idle: RSS per connection")[4].contains('×'));
    // What is the same in every run is one number.
    assert_eq!(row("idle: read-buffer bytes pinned")[2..4], ["0", "65,536"]);
    assert_eq!(row("corrupt DATA frames")[2..4], ["0 / 0", "0 / 0"]);
    let date = out.lines().nth(1).unwrap_or_default();
    assert!(date.len() > 10 && date.as_bytes()[4] == b'-', "{out}");
}
