//! `cargo run --example sizes`: the inline size of each per-connection type of the full stack
//! (the table in the README comes from this command; `tests/sizes.rs` checks it is current).
//! Outside it come the ALTS key bytes (two 44-byte rekey secrets in 48-byte slab slots, never
//! moved so they can be scrubbed) and, while not released, the AEAD key schedules (two
//! 848-byte slab slots); buffers only while bytes wait.

fn main() {
    print!("{}", slackwater_demo::sizes::table());
}
