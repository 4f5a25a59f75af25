//! Property tests across the slackwater crates live in `tests/`.
