//! `alts_sealed`: records sealed by a peer `Conn`, then damaged, read back. The messages come
//! from the input, so the fuzzer's mutations get past authentication.
//!
//! Input layout (missing bytes read as 0):
//! * `flags`: bit 0 rekey protocol; bit 1 the writer is the server; bit 2 a 12-byte starting
//!   counter follows (both directions' counters start there, e.g. near overflow); bit 3
//!   `WouldBlock`s; bit 4 handshake leftover (u16 length); bit 5 read limit (u24); bit 6
//!   damage list follows; bit 7 `Interrupted`s.
//! * `cfg`: bits 0-1 the writer's frame size (4 KiB, 16 KiB, 64 KiB, 512 KiB); bit 2 and bit 3
//!   pick the writer's and the reader's AEAD backend (with the `ring` feature).
//! * damage list (if flagged): a count byte (mod 5), then per item a kind byte (flip a byte,
//!   truncate, delete a byte, insert a byte), a u24 offset and a value byte.
//! * chunking, read methods, then messages until the input ends: a byte `h`; `h < 128` is a
//!   message of the next `h` bytes (`h == 0`: an empty record); otherwise a message of
//!   `((h & 127) << 8 | next) × 8` bytes of a pattern (total plaintext capped at 256 KiB, or
//!   4,096 × the smallest chunk size, at least 8 KiB).
//!   If the writer's counter runs out, the rest of the input is appended raw.
//!
//! Checks: the plaintext read is exactly that of the records before the first damaged or
//! over-limit one; the read ends cleanly iff the stream ends at that record boundary,
//! otherwise with a typed, sticky error (`FrameTooLarge` when that record's intact length
//! exceeds the limit); everything `alts_raw` checks besides.

use crate::alts_util::{End, check_end, conn_over, drive, fixed_key, is_typed, protocol};
use crate::{Delivery, Input};
use slackwater_alts::{AltsError, Backend, Conn, Counter, Crypter, Side};
use slackwater_ready::Pool;
use std::io::Write;

/// Most plaintext per input; less with small chunks (at most about 4,096 deliveries, so a
/// dribbled input stays fast).
const MAX_PLAINTEXT: usize = 256 * 1024;

struct Record {
    start: usize,
    end: usize,
    /// The `len` field.
    len: usize,
    plain: usize,
}

/// The first index where `a` and `b` differ (or the shorter length), comparing 256-byte
/// blocks first: a byte-by-byte scan is slow under coverage instrumentation.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut at = 0;
    while at + 256 <= n && a[at..at + 256] == b[at..at + 256] {
        at += 256;
    }
    a[at..n]
        .iter()
        .zip(&b[at..n])
        .position(|(x, y)| x != y)
        .map_or(n, |i| at + i)
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let cfg = inp.u8();
    let proto = protocol(flags & 1 != 0);
    let wside = if flags & 2 != 0 {
        Side::Server
    } else {
        Side::Client
    };
    let start_ctr: Option<[u8; 12]> = (flags & 4 != 0).then(|| inp.array());
    let leftover_len = if flags & 0x10 != 0 {
        usize::from(inp.u16())
    } else {
        0
    };
    let limit = (flags & 0x20 != 0).then(|| inp.u24() as usize);
    let damage: Vec<(u8, usize, u8)> = if flags & 0x40 != 0 {
        (0..inp.u8() % 5)
            .map(|_| (inp.u8(), inp.u24() as usize, inp.u8()))
            .collect()
    } else {
        Vec::new()
    };
    let how = Delivery {
        sizes: inp.chunk_sizes(),
        would_block: flags & 8 != 0,
        interrupts: flags & 0x80 != 0,
    };
    let ops = inp.ops();
    let max_plain = how
        .sizes
        .iter()
        .min()
        .map_or(MAX_PLAINTEXT, |&c| (c * 4096).clamp(8192, MAX_PLAINTEXT));
    let frame_size = [4096, 16 * 1024, 64 * 1024, 512 * 1024][usize::from(cfg & 3)];
    let backends = Backend::available();
    let wbackend = backends[usize::from(cfg >> 2 & 1) % backends.len()];
    let rbackend = backends[usize::from(cfg >> 3 & 1) % backends.len()];

    let key = fixed_key(proto);
    let ol = proto.overflow_len();
    let mut wc = Crypter::new(proto, wside, &key, wbackend).expect("key");
    let mut rc = Crypter::new(proto, wside.peer(), &key, rbackend).expect("key");
    if let Some(v) = start_ctr {
        wc.set_counters(Counter::from_value(v, ol), Counter::new(wside.peer(), ol));
        rc.set_counters(Counter::new(wside.peer(), ol), Counter::from_value(v, ol));
    }

    // The writer's records.
    let wpool = slackwater_ready::PoolHandle::from(Pool::new());
    let mut expected = Vec::new();
    let mut wire;
    let records_end;
    // The message the writer failed on (part of it may be on the wire: `write_all` stops at
    // the first failing `write`, and earlier ones went out).
    let mut partial: Vec<u8> = Vec::new();
    {
        let mut w = Conn::new(Vec::new(), wc).with_pool(wpool.clone());
        w = w.with_config(
            slackwater_alts::Config::builder()
                .frame_size(frame_size)
                .build()
                .expect("frame size"),
        );
        let mut exhausted = false;
        while !inp.is_empty() && !exhausted {
            let h = inp.u8();
            let msg: Vec<u8> = if h < 128 {
                inp.bytes(usize::from(h)).to_vec()
            } else {
                let n = (usize::from(h & 127) << 8 | usize::from(inp.u8())) * 8;
                let n = n.min(max_plain - expected.len().min(max_plain));
                let seed = inp.u8();
                let block: Vec<u8> = (0..251u8).map(|i| seed.wrapping_add(i)).collect();
                let mut m = Vec::with_capacity(n);
                while m.len() < n {
                    let k = (n - m.len()).min(block.len());
                    m.extend_from_slice(&block[..k]);
                }
                m
            };
            let r = if msg.is_empty() {
                let mut b = wpool.get(64).expect("pool");
                let r = w.seal_record(&[], &mut b);
                w.get_mut().extend_from_slice(&b);
                r.map_err(Into::into)
            } else {
                w.write_all(&msg)
            };
            match r {
                Ok(()) => expected.extend_from_slice(&msg),
                Err(e) => {
                    assert!(
                        matches!(AltsError::from_io(&e), Some(AltsError::CounterExhausted)),
                        "writer failed: {e:?}"
                    );
                    exhausted = true;
                    partial = msg;
                }
            }
            if expected.len() >= max_plain {
                break;
            }
        }
        wire = std::mem::take(w.get_mut());
        records_end = wire.len();
        if exhausted {
            wire.extend_from_slice(inp.rest());
        }
    }
    assert_eq!(wpool.stats().in_use(), 0, "the writer leaked a buffer");

    // Where the records are (the writer's framing is trusted here; a failure is a writer bug).
    let mut records = Vec::new();
    let mut at = 0;
    while at < records_end {
        let len = u32::from_le_bytes(wire[at..at + 4].try_into().expect("4 bytes")) as usize;
        assert_eq!(&wire[at + 4..at + 8], &[6, 0, 0, 0], "writer framing");
        assert!(
            len >= 20 && len - 20 <= frame_size - 24,
            "writer record size {len}"
        );
        records.push(Record {
            start: at,
            end: at + 4 + len,
            len,
            plain: len - 20,
        });
        at += 4 + len;
    }
    assert_eq!(at, records_end, "writer framing");
    let on_wire = records.iter().map(|r| r.plain).sum::<usize>();
    assert!(on_wire >= expected.len(), "writer plaintext");
    let sent = on_wire - expected.len();
    assert!(sent <= partial.len(), "writer plaintext");
    expected.extend_from_slice(&partial[..sent]);
    assert_eq!(
        records.iter().map(|r| r.plain).sum::<usize>(),
        expected.len(),
        "writer plaintext"
    );

    // Damage.
    let original = wire.clone();
    for (kind, off, v) in damage {
        match kind % 4 {
            0 if !wire.is_empty() => {
                let i = off % wire.len();
                wire[i] ^= v | 1;
            }
            1 => wire.truncate(off % (wire.len() + 1)),
            2 if !wire.is_empty() => {
                wire.remove(off % wire.len());
            }
            3 => wire.insert(off % (wire.len() + 1), v),
            _ => {}
        }
    }
    let first_diff = first_difference(&original, &wire);
    let first_diff = if wire == original {
        usize::MAX
    } else {
        first_diff
    };

    // What must come out.
    let eff_limit = limit.map(|l| l.clamp(20, u32::MAX as usize - 4));
    let mut good = 0; // records read back
    let mut plain = 0;
    let mut too_large = false;
    for r in &records {
        if let Some(l) = eff_limit
            && r.len > l
        {
            // Its length field arrived intact: the limit must be what stops it.
            too_large = first_diff >= r.start + 4;
            break;
        }
        if r.end > first_diff {
            break;
        }
        good += 1;
        plain += r.plain;
    }
    let boundary = if good == 0 { 0 } else { records[good - 1].end };
    let want_eof = wire.len() == boundary;

    // Read it back.
    let pool = slackwater_ready::PoolHandle::from(Pool::new());
    {
        let (mut conn, leftover) = conn_over(&wire, leftover_len, how, rc, limit, &pool);
        let (out, end) = drive(&mut conn, &pool, &ops, leftover);
        assert!(
            out == expected[..plain],
            "read {} plaintext bytes, expected the {plain} of {good} intact records \
             (first damaged byte {first_diff}, stream {} bytes, end {end:?})",
            out.len(),
            wire.len()
        );
        match &end {
            End::Eof => assert!(
                want_eof,
                "clean EOF after {good} records, but the stream has {} bytes past them",
                wire.len() - boundary
            ),
            End::Err(e) => {
                assert!(
                    !want_eof,
                    "error {e:?} on a stream that ends after record {good}"
                );
                assert!(is_typed(e), "untyped error {e:?}");
                if too_large {
                    assert!(
                        matches!(AltsError::from_io(e), Some(AltsError::FrameTooLarge { .. })),
                        "record {good} is over the limit, but the error is {e:?}"
                    );
                }
            }
        }
        check_end(&mut conn, &pool, &end);
    }
    assert_eq!(
        pool.stats().in_use(),
        0,
        "buffers in use after the conn dropped"
    );
}
