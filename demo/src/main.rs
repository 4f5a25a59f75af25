//! The main job as the crate's binary: the same program as `examples/stack.rs`
//! ([`slackwater_demo::cli::main`]), here so that integration tests can run it
//! (`CARGO_BIN_EXE_slackwater-demo`).

fn main() -> std::process::ExitCode {
    slackwater_demo::cli::main()
}
