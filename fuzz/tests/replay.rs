//! Replays saved inputs through the fuzz targets' logic on any toolchain (no libFuzzer, no
//! sanitizer): `cargo test --manifest-path fuzz/Cargo.toml`.
//!
//! * `fuzz/regressions/<target>/*`: inputs that once broke an invariant and must pass now.
//! * `fuzz/regressions/open/<target>/*`: inputs that still break one (findings not fixed
//!   yet; none now); `--ignored` runs them.
//! * `fuzz/corpus/<target>/*`, when `gen_corpus.py` (or a fuzz run) has written it.

use std::path::Path;

type Run = fn(&[u8]);

const TARGETS: [(&str, Run); 5] = [
    ("alts_raw", slackwater_fuzz::alts_raw::run),
    ("alts_sealed", slackwater_fuzz::alts_sealed::run),
    ("h2_decode", slackwater_fuzz::h2_decode::run),
    ("h2_reader", slackwater_fuzz::h2_reader::run),
    ("pool_ops", slackwater_fuzz::pool_ops::run),
];

fn replay(dir: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for (name, run) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
            continue;
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            eprintln!("{name}: {}", f.display());
            run(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn regressions() {
    let n = replay("regressions");
    eprintln!("{n} regression inputs passed");
}

#[test]
fn corpus() {
    let n = replay("corpus");
    eprintln!("{n} corpus inputs passed");
}

#[test]
// Ignored by design: `fuzz/regressions/open/` holds fuzz findings not fixed yet (none now),
// which fail until they are; whoever fixes one runs this with `--ignored`, then moves the input
// to `fuzz/regressions/<target>/`, where `regressions` replays it in every CI run.
#[ignore = "replays fuzz/regressions/open/: unfixed findings fail by design (none now)"]
fn open_findings() {
    replay("regressions/open");
}
