//! Many mostly idle "connections": each either keeps its own 32 KiB read buffer for its whole
//! life (what a `BufReader` per connection does) or takes one from the pool only while a
//! message is being handled. Prints what each approach holds, from the pool's statistics.
//!
//! `cargo run --release -p slackwater-pool --example idle -- [connections] [rounds] [active %]`

use slackwater_pool::{Buf, Pool};
use std::time::Instant;

const BUF: usize = 32 * 1024;

/// A small deterministic generator for which connection speaks.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let conns = args.next().and_then(Result::ok).unwrap_or(10_000);
    let rounds = args.next().and_then(Result::ok).unwrap_or(100);
    let active_pct = args.next().and_then(Result::ok).unwrap_or(1).clamp(1, 100);
    let message: Vec<u8> = (0..1500u32).map(|i| i as u8).collect();

    // Baseline: one buffer per connection, held from open to close.
    let t = Instant::now();
    let mut owned: Vec<Vec<u8>> = (0..conns).map(|_| Vec::with_capacity(BUF)).collect();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut handled = 0usize;
    for _ in 0..rounds {
        for _ in 0..conns * active_pct / 100 {
            let c = (xorshift(&mut rng) % conns as u64) as usize;
            owned[c].clear();
            owned[c].extend_from_slice(&message);
            handled += owned[c].len();
        }
    }
    let baseline_time = t.elapsed();
    let baseline_pinned = owned.iter().map(Vec::capacity).sum::<usize>();
    drop(owned);

    // slackwater: a buffer only while a message is handled.
    let pool = Pool::new();
    let t = Instant::now();
    let mut peak = 0usize;
    let mut handled2 = 0usize;
    for _ in 0..rounds {
        // Which connection speaks does not matter here: any of them takes a fresh buffer.
        for _ in 0..conns * active_pct / 100 {
            let mut b: Buf = pool.get(BUF).unwrap();
            b.extend_from_slice(&message).unwrap();
            handled2 += b.len();
            peak = peak.max(pool.stats().in_use());
        }
    }
    let pool_time = t.elapsed();
    let s = pool.stats();
    assert_eq!(handled, handled2);

    println!("{conns} connections, {rounds} rounds, {active_pct}% active per round");
    println!("{:<42} {:>14} {:>14}", "", "per-conn buf", "slackwater");
    println!(
        "{:<42} {:>14} {:>14}",
        "read-buffer bytes held by idle connections",
        baseline_pinned,
        s.in_use() * BUF
    );
    println!(
        "{:<42} {:>14} {:>14}",
        "buffers in use at peak", conns, peak
    );
    println!(
        "{:<42} {:>14} {:>14}",
        "bytes retained by the pool (idle)",
        0,
        s.bytes_retained()
    );
    println!(
        "{:<42} {:>14.1} {:>14.1}",
        "time (ms)",
        baseline_time.as_secs_f64() * 1e3,
        pool_time.as_secs_f64() * 1e3
    );
    pool.trim();
    println!(
        "after trim: {} bytes retained, {} in use",
        pool.stats().bytes_retained(),
        pool.stats().in_use()
    );
}
