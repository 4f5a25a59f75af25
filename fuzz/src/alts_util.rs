//! Reading an ALTS `Conn` to its end with a mix of read methods, checking as it goes.

use crate::{Delivery, MemTransport, assert_buffers_within};
use slackwater_alts::{AltsError, Conn, Crypter, Protocol};
use slackwater_ready::PoolHandle;
use slackwater_ready::{Pool, ReadyRead};
use std::io::{self, Read};

/// How a read ended.
#[derive(Debug)]
pub(crate) enum End {
    /// Clean end of stream.
    Eof,
    /// A read failed (never `WouldBlock` or `Interrupted`: those are retried).
    Err(io::Error),
}

/// The protocol named by bit 0 of a flags byte.
pub(crate) fn protocol(bit: bool) -> Protocol {
    if bit {
        Protocol::Aes128GcmRekey
    } else {
        Protocol::Aes128Gcm
    }
}

/// A fixed key of the protocol's length (gRPC-Go's record_test.go key, stretched).
pub(crate) fn fixed_key(p: Protocol) -> Vec<u8> {
    const K: [u8; 16] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x09, 0x6e, 0x88, 0x02, 0xff, 0xe2, 0xd2, 0x4c, 0xce, 0x4f,
        0x49,
    ];
    (0..p.key_len())
        .map(|i| K[i % 16].wrapping_add(i as u8))
        .collect()
}

/// Bytes the conn has been given so far (leftover + transport).
fn received(conn: &Conn<MemTransport>, leftover: usize) -> usize {
    leftover + conn.get_ref().delivered()
}

/// Whether `e` is an error a `Conn` over a fault-free transport may end with: a record-layer
/// error (not I/O, not out of memory) or a stream ending inside a record.
pub(crate) fn is_typed(e: &io::Error) -> bool {
    match AltsError::from_io(e) {
        Some(
            AltsError::FrameTooLarge { .. }
            | AltsError::FrameTooShort { .. }
            | AltsError::WrongMessageType { .. }
            | AltsError::AuthenticationFailed
            | AltsError::CounterExhausted,
        ) => true,
        // The stream ended inside a record: typed, and an `UnexpectedEof` for `io` callers.
        Some(AltsError::Truncated { buffered }) => {
            *buffered > 0 && e.kind() == io::ErrorKind::UnexpectedEof
        }
        Some(_) => false,
        None => false,
    }
}

/// Reads `conn` to its end, choosing each call's method from `ops` (cycled): blocking
/// `read_ready`, `try_read_ready`, `io::Read` into a small slice, or (try_)`append` into a
/// held buffer. At every wait (`WouldBlock`), at the end and every 16th call the buffers out
/// of `pool` are checked against the record layer's bound: at most 2 held by the conn (a
/// partial record and unread plaintext), none larger than
/// `pool.get(max(2 × bytes received, 64 KiB))` (it grows a record's buffer at most by
/// doubling what arrived, and reads at most 64 KiB at a record boundary).
/// A reading conn over `wire` delivered as `how`, its first `leftover_len` bytes passed as
/// handshake leftover, with the read limit if given; returns it and the leftover length.
pub(crate) fn conn_over(
    wire: &[u8],
    leftover_len: usize,
    how: Delivery,
    crypter: Crypter,
    limit: Option<usize>,
    pool: &PoolHandle,
) -> (Conn<MemTransport>, usize) {
    let (leftover, rest) = wire.split_at(leftover_len.min(wire.len()));
    let t = MemTransport::new(rest.to_vec(), how);
    let mut conn = Conn::new(t, crypter)
        .with_pool(pool.clone())
        .with_leftover(leftover)
        .expect("with_leftover");
    if let Some(l) = limit {
        // Out of range is refused (never clamped silently); the harness then uses the
        // nearest valid limit.
        let max = u32::MAX as usize - 4;
        let cfg = match slackwater_alts::Config::builder().read_limit(l).build() {
            Ok(cfg) => cfg,
            Err(AltsError::InvalidConfig(_)) => {
                assert!(
                    !(slackwater_alts::MIN_LEN..=max).contains(&l),
                    "limit {l} refused"
                );
                let l = l.clamp(slackwater_alts::MIN_LEN, max);
                slackwater_alts::Config::builder()
                    .read_limit(l)
                    .build()
                    .expect("in range")
            }
            Err(e) => panic!("unexpected config error {e:?}"),
        };
        conn = conn.with_config(cfg);
    }
    (conn, leftover.len())
}

pub(crate) fn drive(
    conn: &mut Conn<MemTransport>,
    pool: &Pool,
    ops: &[u8],
    leftover: usize,
) -> (Vec<u8>, End) {
    let mut out = Vec::new();
    let mut i = 0usize;
    let mut idle_calls = 0usize;
    let end = loop {
        let op = if ops.is_empty() {
            0
        } else {
            ops[i % ops.len()]
        };
        i += 1;
        let before = (received(conn, leftover), out.len());
        let r: io::Result<bool> = match op & 3 {
            0 => conn.read_ready(4096, pool).map(|b| match b {
                Some(b) => {
                    assert!(!b.is_empty(), "read_ready returned an empty buffer");
                    out.extend_from_slice(&b);
                    true
                }
                None => false,
            }),
            1 => conn.try_read_ready(4096, pool).map(|b| match b {
                Some(b) => {
                    assert!(!b.is_empty(), "try_read_ready returned an empty buffer");
                    out.extend_from_slice(&b);
                    true
                }
                None => false,
            }),
            2 => {
                let mut dst = vec![0u8; usize::from(op >> 2) * 37 + 1];
                conn.read(&mut dst).map(|n| {
                    out.extend_from_slice(&dst[..n]);
                    n > 0
                })
            }
            _ => {
                let mut b = pool.get(usize::from(op >> 4) * 300 + 1).expect("pool");
                let max = usize::from((op >> 3) & 1) * 1_000_000 + usize::from(op >> 4) + 1;
                let r = if op & 4 != 0 {
                    conn.try_append_ready(&mut b, max)
                } else {
                    conn.append_ready(&mut b, max)
                };
                r.map(|n| {
                    assert_eq!(
                        n,
                        b.len(),
                        "append reported {n} bytes, the buffer got {}",
                        b.len()
                    );
                    assert!(n <= max, "append wrote {n} > max {max}");
                    out.extend_from_slice(&b);
                    n > 0
                })
            }
        };
        // Held by the conn now (the harness keeps nothing): rx + pending. Checked at every
        // wait (WouldBlock), at the end, and every 16th call otherwise (statistics cost more
        // than a 1-byte read).
        let got = received(conn, leftover);
        let waiting = matches!(&r, Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        if waiting || !matches!(r, Ok(true)) || i % 16 == 1 {
            assert_buffers_within(pool, 2, (2 * got).max(64 * 1024), "ALTS conn");
        }
        match r {
            Ok(true) => {}
            Ok(false) => break End::Eof,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => break End::Err(e),
        }
        if (got, out.len()) == before {
            idle_calls += 1;
            assert!(idle_calls < 64, "no progress in 64 calls (livelock)");
        } else {
            idle_calls = 0;
        }
    };
    if crate::trace() {
        eprintln!(
            "ALTS conn: {} plaintext bytes from {} received, then {end:?}",
            out.len(),
            received(conn, leftover)
        );
    }
    (out, end)
}

/// Checks the end state: nothing held, and the same end again on the next read.
pub(crate) fn check_end(conn: &mut Conn<MemTransport>, pool: &Pool, end: &End) {
    assert!(
        !conn.holds_buffer(),
        "the conn holds a buffer after {end:?}"
    );
    assert_eq!(pool.stats().in_use(), 0, "buffers in use after {end:?}");
    let again = loop {
        match conn.read_ready(4096, pool) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => break r,
        }
    };
    match (end, again) {
        (End::Eof, Ok(None)) => {}
        (End::Err(e), Err(e2)) => {
            assert!(is_typed(e), "untyped error from the conn: {e:?}");
            assert_eq!(
                e.kind(),
                e2.kind(),
                "the error is not sticky: {e:?} then {e2:?}"
            );
            match (AltsError::from_io(e), AltsError::from_io(&e2)) {
                (Some(a), Some(b)) => {
                    assert_eq!(a.to_string(), b.to_string(), "the error is not sticky")
                }
                (None, None) => {}
                (a, b) => panic!("the error is not sticky: {a:?} then {b:?}"),
            }
        }
        (end, again) => panic!("ended with {end:?}, then the next read gave {again:?}"),
    }
    assert!(!conn.holds_buffer());
}
