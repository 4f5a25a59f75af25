//! The main job: the full stack against the baseline, side by side.
//!
//! ```text
//! cargo run --release --example stack                    # 10,000 connections, both stacks
//! cargo run --release --example stack -- --conns=2000 --payload 16384 --threads 2 --json
//! cargo run --release --example stack -- --chart docs/rss.svg   # RSS at 1k..19k connections
//! cargo run --release --example stack -- --help
//! ```
//!
//! Each stack runs in its own server process (the measured one), which starts its client in a
//! child process: these machines cap a process at 20,000 open files. Everything is in
//! [`slackwater_demo::cli`] (the crate's `slackwater-demo` binary is the same program, which
//! the integration tests run).

fn main() -> std::process::ExitCode {
    slackwater_demo::cli::main()
}
