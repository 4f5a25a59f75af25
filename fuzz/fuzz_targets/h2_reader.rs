#![no_main]
//! See `slackwater_fuzz::h2_reader`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| slackwater_fuzz::h2_reader::run(data));
