//! The full stack with 200 connections (debug build): the invariants, not the timings; and
//! each stack over plain TCP, tokio + h2 included, with 50.
//!
//! Small socket buffers on both ends make the server's echo wait for writability, so the
//! queued-write path is exercised too.

use slackwater_demo::{Link, Mode, Options, Report, Runtime, Transport, run_server};
use slackwater_ready::Pool;

const CONNS: usize = 200;
const PAYLOAD: usize = 20_000; // two DATA frames: 16,384 + 3,616 bytes

/// The most idle bytes `pool` may keep: each class's shared-list limit plus one buffer per
/// thread cache (16 shards).
fn retention_cap(pool: &Pool) -> f64 {
    let st = pool.stats();
    st.classes()
        .iter()
        .map(|c| ((c.retention_limit + 16) * c.size) as f64)
        .sum()
}

fn run(mode: Mode) -> (Report, f64) {
    run_with(mode, Transport::Alts, CONNS)
}

fn run_with(mode: Mode, transport: Transport, conns: usize) -> (Report, f64) {
    run_on(mode, transport, Runtime::Poller, conns)
}

fn run_on(mode: Mode, transport: Transport, runtime: Runtime, conns: usize) -> (Report, f64) {
    let pool: &'static Pool = Box::leak(Box::new(Pool::new()));
    let opts = Options {
        conns,
        payload: PAYLOAD,
        threads: 2,
        mode,
        transport,
        runtime,
        send_buffer: Some(4096),
        client_recv_buffer: Some(4096),
        pool,
        quiet: true,
        release_keys: true,
    };
    let r = run_server(&opts, Link::thread).expect("the run completes");
    assert_eq!(pool.stats().in_use(), 0, "a buffer outlived its connection");
    (r, retention_cap(pool))
}

/// Every connection open in every phase, every byte echoed intact, no error.
fn check_echo(r: &Report, conns: usize) {
    for phase in ["idle", "again", "trimmed"] {
        assert_eq!(
            r.get(&format!("{phase}.conns_open")),
            conns as f64,
            "{phase}"
        );
    }
    assert_eq!(r.get("burst.echoed_bytes"), (conns * PAYLOAD) as f64);
    assert_eq!(r.get("burst.corrupt"), 0.0);
    assert_eq!(r.get("burst.client_errors"), 0.0);
    assert_eq!(r.get("errors"), 0.0);
    assert!(r.get("burst.ping_p99_ms") > 0.0, "every PING was answered");
}

fn check_common(r: &Report) {
    check_common_n(r, CONNS);
}

fn check_common_n(r: &Report, conns: usize) {
    check_echo(r, conns);
    for phase in ["idle", "again", "trimmed"] {
        assert_eq!(r.get(&format!("{phase}.write_queued")), 0.0, "{phase}");
    }
    assert!(
        r.get("burst.write_waits") > 0.0,
        "with 4 KiB socket buffers some echo had to wait for writability"
    );
}

#[test]
fn slackwater_holds_nothing_while_idle() {
    let (r, cap) = run(Mode::Slackwater);
    check_common(&r);
    for phase in ["idle", "again", "trimmed"] {
        for k in [
            "pool_in_use",
            "h2_holding",
            "alts_holding",
            "pinned_read_per_conn",
        ] {
            assert_eq!(r.get(&format!("{phase}.{k}")), 0.0, "{phase}.{k}");
        }
    }
    // The burst used buffers; afterwards the pool keeps at most its configured cap...
    assert!(r.get("again.pool_retained") > 0.0);
    assert!(r.get("again.pool_retained") <= cap);
    assert_eq!(
        r.get("trimmed.pool_retained"),
        0.0,
        "trim gives every idle buffer back"
    );
}

#[test]
fn baseline_pins_its_buffers() {
    let (r, _) = run(Mode::Baseline);
    check_common(&r);
    // The point of comparison: 32 KiB + 32 KiB of read buffers per connection, always.
    assert_eq!(r.get("idle.pinned_read_per_conn"), 65_536.0);
    assert_eq!(r.get("idle.h2_holding"), CONNS as f64);
}

#[test]
fn each_stack_over_plain_tcp() {
    let (r, _) = run_with(Mode::Slackwater, Transport::Tcp, 50);
    assert_eq!(r.transport, Transport::Tcp);
    check_common_n(&r, 50);
    for phase in ["idle", "again", "trimmed"] {
        for k in [
            "pool_in_use",
            "h2_holding",
            "pinned_read_per_conn",
            "pinned_write_per_conn",
        ] {
            assert_eq!(r.get(&format!("{phase}.{k}")), 0.0, "{phase}.{k}");
        }
        // No ALTS layer: not counted, not zero.
        assert!(r.get(&format!("{phase}.alts_holding")).is_nan());
    }
    let (r, _) = run_with(Mode::Baseline, Transport::Tcp, 50);
    check_common_n(&r, 50);
    // The framer's 32 KiB only: no ALTS record buffer.
    assert_eq!(r.get("idle.pinned_read_per_conn"), 32_768.0);
}

/// tokio + the h2 crate (plaintext whatever the run's transport), served the same client
/// (real HTTP/2: a HEADERS frame opens the stream), every byte echoed, no error; h2 keeps its
/// buffers to itself, so its pinned-bytes rows are not measured.
#[test]
fn h2_stack_echoes_everything() {
    let (r, _) = run_with(Mode::H2, Transport::Alts, 50);
    assert_eq!(r.transport, Transport::Tcp, "the h2 stack is plaintext");
    check_echo(&r, 50);
    // (RSS is measured, but this process runs other tests too: not checked here.)
    assert!(r.get("idle.rss_per_conn").is_finite());
    assert!(r.get("idle.pinned_read_per_conn").is_nan());
    assert!(r.get("idle.pool_in_use").is_nan());
    // One HEADERS and at least two DATA frames (16,384 + 3,616 bytes) per connection.
    assert!(r.get("burst.frames_s") * r.get("burst.secs") >= 150.0);
}

/// The slackwater stack on a tokio runtime (`--runtime tokio`), over ALTS and over plain TCP:
/// the same invariants as on the poller threads, idle connections holding nothing, and
/// `trim` (run on every worker thread) giving every idle buffer back.
#[test]
fn slackwater_on_tokio_holds_nothing_while_idle() {
    for transport in [Transport::Alts, Transport::Tcp] {
        let (r, cap) = run_on(Mode::Slackwater, transport, Runtime::Tokio, 50);
        assert_eq!(r.runtime, Runtime::Tokio);
        check_echo(&r, 50);
        for phase in ["idle", "again", "trimmed"] {
            for k in [
                "write_queued",
                "pool_in_use",
                "h2_holding",
                "pinned_read_per_conn",
                "pinned_write_per_conn",
            ] {
                assert_eq!(
                    r.get(&format!("{phase}.{k}")),
                    0.0,
                    "{transport:?} {phase}.{k}"
                );
            }
        }
        assert!(r.get("again.pool_retained") <= cap);
        assert_eq!(
            r.get("trimmed.pool_retained"),
            0.0,
            "{transport:?}: trim gives every idle buffer back"
        );
    }
}
