//! Loom model checks live in `tests/`; run them with `RUSTFLAGS="--cfg loom" cargo test -p slackwater-loom-tests --release`.
