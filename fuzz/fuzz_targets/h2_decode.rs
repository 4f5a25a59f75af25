#![no_main]
//! See `slackwater_fuzz::h2_decode`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| slackwater_fuzz::h2_decode::run(data));
