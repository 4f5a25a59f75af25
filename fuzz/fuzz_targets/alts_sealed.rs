#![no_main]
//! See `slackwater_fuzz::alts_sealed`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| slackwater_fuzz::alts_sealed::run(data));
