#![no_main]
//! See `slackwater_fuzz::alts_raw`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| slackwater_fuzz::alts_raw::run(data));
