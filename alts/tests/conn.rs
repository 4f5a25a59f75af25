//! `Conn`: round trips over socketpairs, hostile and damaged streams, buffer accounting.

mod common;

use common::*;
use slackwater_alts::{AltsError, Backend, Conn, Counter, Crypter, Protocol, Side};
use slackwater_ready::ReadyWrite;
use slackwater_ready::{Buffered, Pool, ReadyFd, ReadyRead};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;

const PROTOCOLS: [Protocol; 2] = [Protocol::Aes128Gcm, Protocol::Aes128GcmRekey];
const SIZES: [usize; 6] = [0, 1, 4072, 4073, 16 * 1024, 1 << 20];

fn message(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn round_trips_both_protocols_both_sides_over_socketpairs() {
    for &backend in Backend::available() {
        for p in PROTOCOLS {
            for writer_side in [Side::Client, Side::Server] {
                for frame in [4096usize, 512 * 1024] {
                    let pool = slackwater_alts::PoolHandle::from(Pool::new());
                    let (a, b) = UnixStream::pair().unwrap();
                    let mut w =
                        Conn::new(ReadyFd::new(a).unwrap(), crypter(p, writer_side, backend))
                            .with_pool(pool.clone());
                    w = w.with_config(
                        slackwater_alts::Config::builder()
                            .frame_size(frame)
                            .build()
                            .unwrap(),
                    );
                    let mut r = Conn::new(
                        ReadyFd::new(b).unwrap(),
                        crypter(p, writer_side.peer(), backend),
                    )
                    .with_pool(pool.clone());
                    let msgs: Vec<Vec<u8>> = SIZES.iter().map(|&n| message(n, n as u8)).collect();
                    let expect: Vec<u8> = msgs.concat();
                    let got = thread::scope(|scope| {
                        scope.spawn(move || {
                            let mut empty = slackwater_ready::global().get(64).unwrap();
                            // An empty record, skipped by the reader.
                            w.seal_record(&[], &mut empty).unwrap();
                            w.get_mut().write_all(&empty).unwrap();
                            for m in &msgs {
                                w.write_all(m).unwrap();
                            }
                        });
                        drain_blocking(&mut r, &pool).unwrap()
                    });
                    assert!(
                        got == expect,
                        "{p:?} {writer_side:?} frame {frame} {backend:?}"
                    );
                    assert!(!r.holds_buffer());
                    drop(r);
                    assert_eq!(pool.stats().in_use(), 0);
                }
            }
        }
    }
}

#[test]
fn io_read_and_write_small_reads() {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let (a, b) = UnixStream::pair().unwrap();
    let mut w = Conn::new(
        ReadyFd::new(a).unwrap(),
        crypter(Protocol::Aes128Gcm, Side::Client, Backend::default()),
    )
    .with_pool(pool.clone());
    let mut r = Conn::new(
        ReadyFd::new(b).unwrap(),
        crypter(Protocol::Aes128Gcm, Side::Server, Backend::default()),
    )
    .with_pool(pool.clone());
    w.write_all(&message(10_000, 3)).unwrap();
    drop(w);
    let mut got = Vec::new();
    let mut small = [0u8; 7];
    loop {
        let n = r.read(&mut small).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&small[..n]);
    }
    assert_eq!(got, message(10_000, 3));
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn an_idle_conn_holds_no_buffer() {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let (a, b) = UnixStream::pair().unwrap();
    let mut w = Conn::new(
        ReadyFd::new(a).unwrap(),
        crypter(Protocol::Aes128GcmRekey, Side::Server, Backend::default()),
    )
    .with_pool(pool.clone());
    let mut r = Conn::new(
        ReadyFd::new(b).unwrap(),
        crypter(Protocol::Aes128GcmRekey, Side::Client, Backend::default()),
    )
    .with_pool(pool.clone());
    for i in 0..5 {
        let e = r.try_read_ready(4096, &pool).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(!r.holds_buffer());
        assert_eq!(pool.stats().in_use(), 0, "idle round {i}");
        w.write_all(&message(100 * (i + 1), i as u8)).unwrap();
        let mut got = Vec::new();
        while got.len() < 100 * (i + 1) {
            match r.try_read_ready(4096, &pool) {
                Ok(Some(b)) => got.extend_from_slice(&b),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got, message(100 * (i + 1), i as u8));
    }
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn wouldblock_inside_a_record_keeps_the_partial_record() {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let data = wire(
        Protocol::Aes128Gcm,
        Side::Client,
        4096,
        &[&message(3000, 1), &message(9000, 2)],
    );
    // 1-byte chunks with WouldBlock before each: the worst case for partial state.
    let mut r = Conn::new(
        Chunks::new(data, vec![1, 3, 7], true),
        crypter(Protocol::Aes128Gcm, Side::Server, Backend::default()),
    )
    .with_pool(pool.clone());
    let mut wouldblocks = 0;
    let mut got = Vec::new();
    loop {
        match r.try_read_ready(4096, &pool) {
            Ok(Some(b)) => got.extend_from_slice(&b),
            Ok(None) => break,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wouldblocks += 1;
                continue;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(wouldblocks > 100);
    assert_eq!(got, [message(3000, 1), message(9000, 2)].concat());
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn handshake_leftover_is_read_first() {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let data = wire(
        Protocol::Aes128GcmRekey,
        Side::Server,
        4096,
        &[b"first record", b"second"],
    );
    // The handshake read the first 10 bytes of the record stream.
    let (left, rest) = data.split_at(10);
    let mut r = Conn::new(
        Buffered::new(rest),
        crypter(Protocol::Aes128GcmRekey, Side::Client, Backend::default()),
    )
    .with_pool(pool.clone())
    .with_leftover(left)
    .unwrap();
    assert_eq!(
        drain_blocking(&mut r, &pool).unwrap(),
        b"first recordsecond"
    );
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn a_stream_ending_inside_a_record_is_unexpected_eof() {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let data = wire(Protocol::Aes128Gcm, Side::Client, 4096, &[&message(100, 0)]);
    for cut in [1, 4, 8, 50, data.len() - 1] {
        let mut r = Conn::new(
            Buffered::new(&data[..cut]),
            crypter(Protocol::Aes128Gcm, Side::Server, Backend::default()),
        )
        .with_pool(pool.clone());
        let e = drain_blocking(&mut r, &pool).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        drop(r);
        assert_eq!(pool.stats().in_use(), 0);
    }
}

/// Splits a wire stream into its frames.
fn frames(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let len = u32::from_le_bytes(data[i..i + 4].try_into().unwrap()) as usize;
        out.push(data[i..i + 4 + len].to_vec());
        i += 4 + len;
    }
    out
}

fn read_stream(
    p: Protocol,
    side: Side,
    data: Vec<u8>,
    pool: &slackwater_alts::PoolHandle,
) -> (Vec<u8>, io::Result<()>) {
    let mut r = Conn::new(
        Buffered::new(io::Cursor::new(data)),
        crypter(p, side, Backend::default()),
    )
    .with_pool(pool.clone());
    let mut got = Vec::new();
    let res = loop {
        match r.read_ready(4096, pool) {
            Ok(Some(b)) => got.extend_from_slice(&b),
            Ok(None) => break Ok(()),
            Err(e) => {
                // Fatal and sticky.
                let again = r.read_ready(4096, pool).unwrap_err();
                assert_eq!(again.to_string(), e.to_string());
                break Err(e);
            }
        }
    };
    (got, res)
}

fn is_auth_failure(r: &io::Result<()>) -> bool {
    matches!(r, Err(e) if matches!(AltsError::from_io(e), Some(AltsError::AuthenticationFailed)))
}

#[test]
fn tampered_replayed_reordered_and_wrong_side_records_fail() {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let p = Protocol::Aes128GcmRekey;
    let data = wire(p, Side::Client, 4096, &[b"one", b"two", b"three"]);
    let f = frames(&data);
    assert_eq!(f.len(), 3);

    // Untouched: fine.
    let (got, res) = read_stream(p, Side::Server, data.clone(), &pool);
    assert!(res.is_ok() && got == b"onetwothree");

    // Tampered ciphertext byte, tampered tag byte.
    for at in [8, data.len() - 1] {
        let mut bad = data.clone();
        bad[at] ^= 0x40;
        let (_, res) = read_stream(p, Side::Server, bad, &pool);
        assert!(is_auth_failure(&res), "tampered at {at}");
    }
    // Replayed: the first record twice. The first copy is delivered, the replay fails.
    let (got, res) = read_stream(
        p,
        Side::Server,
        [f[0].clone(), f[0].clone()].concat(),
        &pool,
    );
    assert_eq!(got, b"one");
    assert!(is_auth_failure(&res));
    // Reordered.
    let (got, res) = read_stream(
        p,
        Side::Server,
        [f[1].clone(), f[0].clone()].concat(),
        &pool,
    );
    assert!(got.is_empty() && is_auth_failure(&res));
    // Read by the wrong side (the client's own records fed back to a client).
    let (got, res) = read_stream(p, Side::Client, data.clone(), &pool);
    assert!(got.is_empty() && is_auth_failure(&res));
    // Wrong type field (only the high bytes differ: gRPC-Go would accept it; we do not).
    let mut ty = data.clone();
    ty[5] = 1;
    let (_, res) = read_stream(p, Side::Server, ty, &pool);
    assert!(
        matches!(res, Err(ref e) if matches!(AltsError::from_io(e), Some(AltsError::WrongMessageType { ty: 0x106 })))
    );
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn a_failed_open_does_not_advance_the_counter() {
    let p = Protocol::Aes128Gcm;
    let data = wire(p, Side::Client, 4096, &[b"abc"]);
    let f = &frames(&data)[0];
    let mut c = crypter(p, Side::Server, Backend::default());
    let mut body = f[8..f.len() - 16].to_vec();
    let mut tag: [u8; 16] = f[f.len() - 16..].try_into().unwrap();
    tag[3] ^= 1;
    assert!(matches!(
        c.open(&mut body.clone(), &tag),
        Err(AltsError::AuthenticationFailed)
    ));
    tag[3] ^= 1;
    c.open(&mut body, &tag).unwrap();
    assert_eq!(body, b"abc");
}

#[test]
fn oversized_and_undersized_frames_are_rejected_before_allocating() {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    // A peer announcing a 16 MiB record: rejected from the 4 length bytes alone.
    let hostile = (16u32 << 20).to_le_bytes().to_vec();
    let mut r = Conn::new(
        Buffered::new(&hostile[..]),
        crypter(Protocol::Aes128Gcm, Side::Server, Backend::default()),
    )
    .with_pool(pool.clone());
    let e = r.read_ready(4096, &pool).unwrap_err();
    assert!(
        matches!(AltsError::from_io(&e), Some(AltsError::FrameTooLarge { len, .. }) if *len == 16 << 20)
    );
    let s = pool.stats();
    assert_eq!(s.in_use(), 0);
    // Only the transport's 32 KiB read buffer: no 1 MiB buffer, no unpooled allocation.
    assert_eq!(s.class(4).unwrap().misses + s.unpooled().misses, 0, "{s:?}");
    // A configured limit.
    let data = wire(
        Protocol::Aes128Gcm,
        Side::Client,
        512 * 1024,
        &[&message(100_000, 1)],
    );
    let mut r = Conn::new(
        Buffered::new(&data[..]),
        crypter(Protocol::Aes128Gcm, Side::Server, Backend::default()),
    )
    .with_pool(pool.clone());
    r = r.with_config(
        slackwater_alts::Config::builder()
            .read_limit(64 * 1024)
            .build()
            .unwrap(),
    );
    assert!(matches!(
        AltsError::from_io(&r.read_ready(1, &pool).unwrap_err()),
        Some(AltsError::FrameTooLarge { .. })
    ));
    // len between 4 and 19.
    for len in [4u32, 19] {
        let mut f = len.to_le_bytes().to_vec();
        f.extend_from_slice(&6u32.to_le_bytes());
        f.resize(4 + len as usize, 0);
        let mut r = Conn::new(
            Buffered::new(&f[..]),
            crypter(Protocol::Aes128Gcm, Side::Server, Backend::default()),
        )
        .with_pool(pool.clone());
        assert!(matches!(
            AltsError::from_io(&r.read_ready(1, &pool).unwrap_err()),
            Some(AltsError::FrameTooShort { .. })
        ));
    }
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn largest_record_at_the_read_limit() {
    // One record whose len field is exactly 1 MiB, built with the crypter directly.
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let p = Protocol::Aes128Gcm;
    let payload = message((1 << 20) - 20, 9);
    let mut c = crypter(p, Side::Client, Backend::default());
    let mut body = payload.clone();
    let tag = c.seal(&mut body).unwrap();
    let mut f = ((1u32 << 20).to_le_bytes()).to_vec();
    f.extend_from_slice(&6u32.to_le_bytes());
    f.extend_from_slice(&body);
    f.extend_from_slice(&tag);
    let mut r = Conn::new(
        Chunks::new(f, vec![65_536], false),
        crypter(p, Side::Server, Backend::default()),
    )
    .with_pool(pool.clone());
    assert_eq!(drain_blocking(&mut r, &pool).unwrap(), payload);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn rekey_across_the_2_pow_16_record_boundary() {
    for &backend in Backend::available() {
        let pool = slackwater_alts::PoolHandle::from(Pool::new());
        let p = Protocol::Aes128GcmRekey;
        // Start both directions 3 records before bytes 2..8 of the counter change.
        let start = [0xfd, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut w = Conn::new(Vec::new(), {
            let mut c = crypter(p, Side::Client, backend);
            c.set_counters(Counter::from_value(start, 8), Counter::new(Side::Server, 8));
            c
        })
        .with_pool(pool.clone());
        let msgs: Vec<Vec<u8>> = (0..8).map(|i| message(50 + i, i as u8)).collect();
        for m in &msgs {
            w.write_all(m).unwrap();
        }
        let data = w.get_ref().clone();
        let mut c = crypter(p, Side::Server, backend);
        c.set_counters(Counter::new(Side::Server, 8), Counter::from_value(start, 8));
        let mut r = Conn::new(Buffered::new(&data[..]), c).with_pool(pool.clone());
        assert_eq!(drain_blocking(&mut r, &pool).unwrap(), msgs.concat());
        // Records 4.. were sealed under the next derived key: a reader that does not re-derive
        // (a plain AES-GCM crypter under the first derived key) could not open them. Check that
        // the 4th record does not open under the nonce/key of the 3rd.
        let f = frames(&data);
        let mut a = slackwater_alts::RecordAead::new(p, &key(p), backend).unwrap();
        let mut body = f[3][8..f[3].len() - 16].to_vec();
        let tag: [u8; 16] = f[3][f[3].len() - 16..].try_into().unwrap();
        let mut n3 = start;
        n3[0] = 0x00;
        n3[1] = 0x00;
        n3[2] = 0x01; // the 4th record's counter: 0x01_0000
        a.open(&n3, b"", &mut body.clone(), &tag).unwrap();
        let mut wrong = n3;
        wrong[2] = 0; // same low bytes, previous key generation
        assert!(a.open(&wrong, b"", &mut body, &tag).is_err());
        assert_eq!(pool.stats().in_use(), 0);
    }
}

#[test]
fn counter_exhaustion_stops_a_direction() {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let p = Protocol::Aes128Gcm;
    let mut c = crypter(p, Side::Client, Backend::default());
    c.set_counters(
        Counter::from_value([0xfe, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0], 5),
        Counter::new(Side::Server, 5),
    );
    let mut w = Conn::new(Vec::new(), c).with_pool(pool.clone());
    w.write_all(b"counter fe ff ff ff ff").unwrap();
    w.write_all(b"counter ff ff ff ff ff: the last one")
        .unwrap();
    let e = w.write_all(b"one too many").unwrap_err();
    assert!(matches!(
        AltsError::from_io(&e),
        Some(AltsError::CounterExhausted)
    ));
    assert!(w.write_all(b"still no").is_err());
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn invalid_key_lengths() {
    for (p, len) in [
        (Protocol::Aes128Gcm, 44),
        (Protocol::Aes128GcmRekey, 16),
        (Protocol::Aes128Gcm, 0),
    ] {
        let e = Crypter::new(p, Side::Client, &vec![0; len], Backend::default()).unwrap_err();
        assert!(matches!(e, AltsError::InvalidKeyLength { got, .. } if got == len));
    }
}

#[test]
fn a_peer_announcing_a_large_record_pins_memory_only_as_bytes_arrive() {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let payload = message((1 << 20) - 20, 4);
    let mut c = crypter(Protocol::Aes128Gcm, Side::Client, Backend::default());
    let mut body = payload.clone();
    let tag = c.seal(&mut body).unwrap();
    let mut f = (1u32 << 20).to_le_bytes().to_vec();
    f.extend_from_slice(&6u32.to_le_bytes());
    f.extend_from_slice(&body);
    f.extend_from_slice(&tag);
    // Deliver the header and a little of the body, then nothing (WouldBlock forever).
    let mut r = Conn::new(
        Chunks::new(f[..100].to_vec(), vec![100], false),
        crypter(Protocol::Aes128Gcm, Side::Server, Backend::default()),
    )
    .with_pool(pool.clone());
    assert!(r.read_ready(4096, &pool).is_err(), "ends inside the record");
    let s = pool.stats();
    assert_eq!(
        s.class(4).unwrap().misses + s.unpooled().misses,
        0,
        "no 1 MiB buffer for 100 bytes"
    );
    assert!(!r.holds_buffer(), "the partial record is dropped at EOF");
    assert_eq!(s.in_use(), 0);
    // The whole record, dribbled in 4 KiB chunks, still arrives intact (growing as it comes).
    let mut r = Conn::new(
        Chunks::new(f, vec![4096], false),
        crypter(Protocol::Aes128Gcm, Side::Server, Backend::default()),
    )
    .with_pool(pool.clone());
    assert_eq!(drain_blocking(&mut r, &pool).unwrap(), payload);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn eof_inside_a_record_is_sticky_and_releases_the_buffer() {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let data = wire(
        Protocol::Aes128Gcm,
        Side::Client,
        4096,
        &[&message(3000, 0)],
    );
    let mut r = Conn::new(
        Buffered::new(&data[..1000]),
        crypter(Protocol::Aes128Gcm, Side::Server, Backend::default()),
    )
    .with_pool(pool.clone());
    for _ in 0..3 {
        assert_eq!(
            r.read_ready(4096, &pool).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        assert!(!r.holds_buffer());
    }
    assert_eq!(pool.stats().in_use(), 0);
}

/// A transport that accepts `room` bytes, then is reset (its queue holds what it refuses).
struct Failing {
    room: usize,
    q: slackwater_ready::WriteQueue,
}

impl slackwater_ready::ReadyWrite for Failing {
    fn queue(&mut self, data: &[u8]) -> io::Result<()> {
        self.q.extend(data, slackwater_ready::global())
    }
    fn queue_buf(&mut self, buf: slackwater_ready::Buf) -> io::Result<()> {
        self.q.push(buf)
    }
    fn try_flush_ready(&mut self) -> io::Result<()> {
        let room = &mut self.room;
        self.q.flush_with(|b| {
            if *room == 0 {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            let n = b.len().min(*room);
            *room -= n;
            Ok(n)
        })
    }
    fn flush_ready(&mut self) -> io::Result<()> {
        self.try_flush_ready()
    }
    fn queued(&self) -> usize {
        self.q.queued()
    }
    fn is_write_full(&self) -> bool {
        self.q.is_full()
    }
}

#[test]
fn a_reset_inside_a_frame_breaks_the_write_side_for_good() {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let t = Failing {
        room: 5000,
        q: slackwater_ready::WriteQueue::new(),
    };
    let mut w = Conn::new(
        t,
        crypter(Protocol::Aes128Gcm, Side::Client, Backend::default()),
    )
    .with_pool(pool.clone());
    let e = w.write_all(&message(10_000, 1)).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    for _ in 0..3 {
        // Part of a record may be on the wire and the counter has moved on: the same error,
        // every time, from every write path.
        assert_eq!(
            w.write(b"retry").unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(
            w.queue(b"again").unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(
            w.try_flush_ready().unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
    }
    assert_eq!(w.queued(), 0, "nothing is kept queued after a fatal error");
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn a_small_record_after_a_large_one_does_not_pin_a_large_buffer() {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let data = wire(
        Protocol::Aes128Gcm,
        Side::Client,
        64 * 1024,
        &[&message(60_000, 1), b"tiny"],
    );
    let f = frames(&data);
    let mut r = Conn::new(
        Chunks::new(data.clone(), vec![f[0].len(), f[1].len()], false),
        crypter(Protocol::Aes128Gcm, Side::Server, Backend::default()),
    )
    .with_pool(pool.clone());
    let big = r.read_ready(1, &pool).unwrap().unwrap();
    assert_eq!(big.len(), 60_000);
    drop(big);
    let tiny = r.read_ready(1, &pool).unwrap().unwrap();
    assert_eq!(&tiny[..], b"tiny");
    assert!(
        tiny.capacity() <= 256,
        "copied out of the large read buffer: {}",
        tiny.capacity()
    );
}
