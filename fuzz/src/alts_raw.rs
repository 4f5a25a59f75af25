//! `alts_raw`: ALTS framing and the `Conn` read path over arbitrary bytes.
//!
//! Input layout (every field optional: missing bytes read as 0):
//! * `flags`: bit 0 rekey protocol; bit 1 this conn is the server; bit 2 key and incoming
//!   counter follow (key: 16 or 44 bytes, then 12 counter bytes — how the seed corpus feeds
//!   real vectors); bit 3 `WouldBlock`s; bit 4 handshake leftover (u16 length: that many bytes
//!   of the stream go to `with_leftover`); bit 5 read limit (u24); bit 7 `Interrupted`s.
//! * chunking ([`Input::chunk_sizes`]), read methods ([`Input::ops`]), then the byte stream.
//!
//! Checks: no panic; every returned buffer holds ≥ 1 byte; the plaintext is never longer
//! than the bytes given; the conn ends only with a typed error (framing, authentication,
//! counter, truncation), which is sticky, or a clean EOF, which repeats; it holds no buffer
//! after either; buffer bounds at every wait (see `alts_util::drive`); nothing in use after
//! drop.

use crate::alts_util::{check_end, conn_over, drive, fixed_key, protocol};
use crate::{Delivery, Input};
use slackwater_alts::{Backend, Counter, Crypter, Side};
use slackwater_ready::Pool;

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let proto = protocol(flags & 1 != 0);
    let side = if flags & 2 != 0 {
        Side::Server
    } else {
        Side::Client
    };
    let custom = flags & 4 != 0;
    let key = if custom {
        let mut k = inp.bytes(proto.key_len()).to_vec();
        k.resize(proto.key_len(), 0);
        k
    } else {
        fixed_key(proto)
    };
    let mut crypter = Crypter::new(proto, side, &key, Backend::default()).expect("key length");
    if custom {
        let ctr: [u8; 12] = inp.array();
        crypter.set_counters(
            Counter::new(side, proto.overflow_len()),
            Counter::from_value(ctr, proto.overflow_len()),
        );
    }
    let leftover_len = if flags & 0x10 != 0 {
        usize::from(inp.u16())
    } else {
        0
    };
    let limit = (flags & 0x20 != 0).then(|| inp.u24() as usize);
    let how = Delivery {
        sizes: inp.chunk_sizes(),
        would_block: flags & 8 != 0,
        interrupts: flags & 0x80 != 0,
    };
    let ops = inp.ops();
    let stream = inp.rest();

    let pool = slackwater_ready::PoolHandle::from(Pool::new());
    {
        let (mut conn, leftover) = conn_over(stream, leftover_len, how, crypter, limit, &pool);
        let (out, end) = drive(&mut conn, &pool, &ops, leftover);
        assert!(
            out.len() <= stream.len(),
            "{} bytes of plaintext from {} bytes",
            out.len(),
            stream.len()
        );
        check_end(&mut conn, &pool, &end);
    }
    assert_eq!(
        pool.stats().in_use(),
        0,
        "buffers in use after the conn dropped"
    );
}
