#![no_main]
//! See `slackwater_fuzz::pool_ops`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| slackwater_fuzz::pool_ops::run(data));
