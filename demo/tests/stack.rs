//! The full stack with 200 connections (debug build): the invariants, not the timings.
//!
//! Small socket buffers on both ends make the server's echo wait for writability, so the
//! queued-write path is exercised too.

use slackwater_demo::{Link, Mode, Options, Report, run_server};
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
    let pool: &'static Pool = Box::leak(Box::new(Pool::new()));
    let opts = Options {
        conns: CONNS,
        payload: PAYLOAD,
        threads: 2,
        mode,
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

fn check_common(r: &Report) {
    for phase in ["idle", "again", "trimmed"] {
        assert_eq!(
            r.get(&format!("{phase}.conns_open")),
            CONNS as f64,
            "{phase}"
        );
        assert_eq!(r.get(&format!("{phase}.write_queued")), 0.0, "{phase}");
    }
    // Every byte went there and back intact.
    assert_eq!(r.get("burst.echoed_bytes"), (CONNS * PAYLOAD) as f64);
    assert_eq!(r.get("burst.corrupt"), 0.0);
    assert_eq!(r.get("burst.client_errors"), 0.0);
    assert_eq!(r.get("errors"), 0.0);
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
