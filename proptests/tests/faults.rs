//! Fault injection across the stack (issue 7, part 2): every layer read through a
//! [`FaultStream`] that returns `EINTR`, `WouldBlock`, 1-byte short reads, a reset or an early
//! EOF at random byte offsets, delivered in random chunkings.
//!
//! Property, for `PooledReader`, the ALTS `Conn` (both protocols, both sides, records written
//! by a peer `Conn`), the HTTP/2 `FrameReader` over plain bytes and over an ALTS `Conn`:
//! * it delivers exactly what was sent before the stream ended: every byte (byte streams),
//!   every record whose last byte arrived (ALTS), every frame whose last byte arrived (HTTP/2);
//! * then it ends the right way: a clean end only on a record / frame boundary, a reset as
//!   `ConnectionReset`, an EOF inside a record or frame as `UnexpectedEof`; and it stays ended;
//! * `Interrupted` is never fatal: a retry resumes with nothing lost; a `WouldBlock` is
//!   absorbed by the blocking forms and surfaced once per transport `WouldBlock` by the
//!   non-blocking forms, which resume where they stopped;
//! * every pool buffer is accounted for after each call (the layer holds one only while it has
//!   unconsumed bytes), and none is in use once the layer is dropped (a fresh `Pool` per case).
//!
//! The `Conn` write side is checked the same way against write faults.

use proptest::prelude::*;
use proptest::sample::Index;
use slackwater_alts::{AltsError, Backend, Conn, Crypter, Protocol, Side};
use slackwater_h2frame::{
    Config, Continuation, Data, Error, ErrorCode, Frame, FrameReader, FrameWriter, GoAway, Headers,
    Payload, Ping, RstStream, Setting, Settings, Unknown, WindowUpdate,
};
use slackwater_proptests::{End, Fault, FaultStream, retry_eintr};
use slackwater_ready::ReadyWrite;
use slackwater_ready::{Pool, PooledReader, ReadyRead, global};
use std::io::{self, BufRead, Read, Write};

// ---------------------------------------------------------------------------------------------
// Strategies shared by the properties.

/// Fault offsets as indices, resolved against the stream length in the test: up to 10
/// transient faults, and a fatal one in about half the cases.
fn schedule() -> impl Strategy<Value = Vec<(Index, Fault)>> {
    let transient = prop_oneof![
        Just(Fault::Interrupted),
        Just(Fault::WouldBlock),
        Just(Fault::Short)
    ];
    let fatal = prop_oneof![Just(Fault::Reset), Just(Fault::Eof)];
    (
        prop::collection::vec((any::<Index>(), transient), 0..10),
        prop::option::of((any::<Index>(), fatal)),
    )
        .prop_map(|(mut v, f)| {
            v.extend(f);
            v
        })
}

fn resolve(len: usize, s: &[(Index, Fault)]) -> Vec<(usize, Fault)> {
    s.iter().map(|(i, f)| (i.index(len + 1), *f)).collect()
}

/// Read sizes of the transport: tiny, medium and large, cycled.
fn chunking() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1usize..=8, 1usize..=700, 1usize..=40_000], 1..6)
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..=64),
        prop::collection::vec(any::<u8>(), 0..=max),
    ]
}

/// The ALTS key for a protocol.
fn key(p: Protocol) -> Vec<u8> {
    (0..p.key_len() as u8)
        .map(|i| i.wrapping_mul(29) ^ 0x5a)
        .collect()
}

fn crypter(p: Protocol, side: Side) -> Crypter {
    Crypter::new(p, side, &key(p), Backend::default()).unwrap()
}

fn other(side: Side) -> Side {
    match side {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    }
}

/// What a peer `Conn` sends for `messages` (each written with `write_all`; an empty record
/// before each message whose flag is set), and where each record ends on the wire with the
/// plaintext delivered up to that end.
struct AltsWire {
    bytes: Vec<u8>,
    /// `(end offset, plaintext bytes in records ending at or before it)` per record.
    records: Vec<(usize, usize)>,
    plaintext: Vec<u8>,
}

impl AltsWire {
    fn new(p: Protocol, side: Side, frame: usize, messages: &[(bool, Vec<u8>)]) -> AltsWire {
        let pool = slackwater_ready::PoolHandle::from(Pool::new());
        let mut w = Conn::new(Vec::new(), crypter(p, side)).with_pool(pool.clone());
        w = w.with_config(
            slackwater_alts::Config::builder()
                .frame_size(frame)
                .build()
                .unwrap(),
        );
        for (empty_first, m) in messages {
            if *empty_first {
                let mut out = pool.get(64).unwrap();
                w.seal_record(b"", &mut out).unwrap();
                w.get_mut().extend_from_slice(&out);
            }
            w.write_all(m).unwrap();
        }
        let bytes = w.get_ref().clone();
        let mut records = Vec::new();
        let (mut at, mut plain) = (0, 0);
        while at < bytes.len() {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            at += 4 + len;
            plain += len - 20;
            records.push((at, plain));
        }
        assert_eq!(at, bytes.len());
        AltsWire {
            bytes,
            records,
            plaintext: messages
                .iter()
                .flat_map(|(_, m)| m.iter().copied())
                .collect(),
        }
    }

    /// Plaintext bytes of the records complete within the first `n` wire bytes, and whether
    /// `n` falls on a record boundary.
    fn plain_before(&self, n: usize) -> (usize, bool) {
        let done = self.records.iter().take_while(|(end, _)| *end <= n).last();
        let plain = done.map_or(0, |(_, p)| *p);
        let boundary = n == 0 || done.is_some_and(|(end, _)| *end == n);
        (plain, boundary)
    }
}

// ---------------------------------------------------------------------------------------------
// The transport itself keeps the ReadyRead contract.

#[derive(Clone, Copy, Debug)]
enum Call {
    Read(usize),
    TryRead(usize),
    Into(usize),
    Append(usize),
    TryAppend(usize),
}

fn call() -> impl Strategy<Value = Call> {
    let n = prop_oneof![0usize..=4, 1usize..=5000];
    prop_oneof![
        n.clone().prop_map(Call::Read),
        n.clone().prop_map(Call::TryRead),
        n.clone().prop_map(Call::Into),
        n.clone().prop_map(Call::Append),
        n.prop_map(Call::TryAppend),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// `FaultStream` (the tool every other property relies on): through any mix of the five
    /// `ReadyRead` calls it delivers exactly the bytes before the first fatal fault, never
    /// more than a call asks for, fires each transient fault once, ends as scheduled and
    /// stays ended, and never keeps a pool buffer.
    #[test]
    fn fault_stream_keeps_the_ready_read_contract(
        data in bytes(6000),
        chunks in chunking(),
        sched in schedule(),
        calls in prop::collection::vec(call(), 1..40),
    ) {
        let pool = slackwater_ready::PoolHandle::from(Pool::new());
        let faults = resolve(data.len(), &sched);
        let end = End::of(data.len(), &faults);
        let mut t = FaultStream::new(data.clone(), &chunks).with_faults(&faults);
        let mut got = Vec::new();
        let mut ended = None;
        let (mut eintr, mut wouldblock) = (0, 0);
        for c in calls.iter().cycle().take(20_000) {
            let r: io::Result<usize> = match *c {
                Call::Read(n) | Call::TryRead(n) => {
                    let r = if matches!(c, Call::Read(_)) {
                        t.read_ready(n, &pool)
                    } else {
                        t.try_read_ready(n, &pool)
                    };
                    r.map(|b| b.map_or(0, |b| {
                        assert!(!b.is_empty() && b.len() <= n.max(1) && b.capacity() >= n);
                        got.extend_from_slice(&b);
                        b.len()
                    }))
                }
                Call::Into(n) => {
                    let mut dst = vec![0; n];
                    t.read_ready_into(&mut dst).inspect(|&k| got.extend_from_slice(&dst[..k]))
                }
                Call::Append(n) | Call::TryAppend(n) => {
                    let mut b = global().get(n.max(1)).unwrap();
                    b.extend_from_slice(b"x").unwrap();
                    let r = if matches!(c, Call::Append(_)) {
                        t.append_ready(&mut b, n)
                    } else {
                        t.try_append_ready(&mut b, n)
                    };
                    r.inspect(|&k| {
                        assert!(k <= n && b.len() == 1 + k);
                        got.extend_from_slice(&b[1..]);
                    })
                }
            };
            // No call keeps a buffer of the caller's pool.
            prop_assert_eq!(pool.stats().in_use(), 0);
            let zero_ask = matches!(*c, Call::Into(0) | Call::Append(0) | Call::TryAppend(0));
            match r {
                Ok(0) if zero_ask => {}
                Ok(0) => ended = Some(End::Eof(got.len())),
                Ok(_) => {}
                Err(e) => match e.kind() {
                    io::ErrorKind::Interrupted => eintr += 1,
                    io::ErrorKind::WouldBlock => {
                        prop_assert!(matches!(c, Call::TryRead(_) | Call::TryAppend(_)));
                        wouldblock += 1;
                    }
                    io::ErrorKind::ConnectionReset => ended = Some(End::Reset(got.len())),
                    k => prop_assert!(false, "unexpected error {:?}", k),
                },
            }
            if ended.is_some() {
                break;
            }
        }
        if let Some(e) = ended {
            // It ended where scheduled, and stays ended the way Linux does: after a reset
            // (reported once) as after an EOF, every read returns 0.
            prop_assert_eq!(e, end);
            for _ in 0..2 {
                match t.read_ready(1, &pool) {
                    Ok(None) => {}
                    other => prop_assert!(false, "not ended: {:?}", other.map(|b| b.map(|b| b.len()))),
                }
            }
        }
        prop_assert_eq!(&got[..], &data[..got.len()]);
        let counts = t.counts();
        prop_assert_eq!((counts.interrupted, counts.would_block), (eintr, wouldblock));
        let scheduled = |k: Fault| faults.iter().filter(|(_, f)| *f == k).count();
        prop_assert!(eintr <= scheduled(Fault::Interrupted));
        prop_assert!(counts.would_block + counts.waited <= scheduled(Fault::WouldBlock));
        prop_assert!(counts.short <= scheduled(Fault::Short));
        prop_assert_eq!(pool.stats().in_use(), 0);
    }
}

// ---------------------------------------------------------------------------------------------
// ready: PooledReader.

#[derive(Clone, Debug)]
enum ReadMode {
    /// `read` with these destination sizes, cycled (large ones bypass the pooled buffer).
    Read(Vec<usize>),
    /// `fill_buf` + `consume` of these amounts, cycled.
    BufRead(Vec<usize>),
    /// `read_to_end`.
    ToEnd,
}

fn read_mode() -> impl Strategy<Value = ReadMode> {
    let sizes = prop::collection::vec(prop_oneof![1usize..=16, 1usize..=70_000], 1..5);
    prop_oneof![
        sizes.clone().prop_map(ReadMode::Read),
        sizes.prop_map(ReadMode::BufRead),
        Just(ReadMode::ToEnd),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// `PooledReader` delivers exactly the bytes before the end, then a clean EOF (sticky) or
    /// `ConnectionReset`; passes `Interrupted` up without losing a byte; holds a pool buffer
    /// exactly while it has buffered bytes.
    #[test]
    fn pooled_reader_under_faults(
        data in bytes(20_000),
        chunks in chunking(),
        sched in schedule(),
        buffer_size in prop_oneof![1usize..=64, 1usize..=5000, Just(32 * 1024)],
        mode in read_mode(),
    ) {
        let pool = slackwater_ready::PoolHandle::from(Pool::new());
        let faults = resolve(data.len(), &sched);
        let end = End::of(data.len(), &faults);
        let t = FaultStream::new(data.clone(), &chunks).with_faults(&faults);
        let mut r = PooledReader::new(t, buffer_size, pool.clone());
        let mut out = Vec::new();
        let mut eintr = 0;
        let mut i = 0;
        let result: io::Result<()> = match &mode {
            ReadMode::ToEnd => retry_eintr(&mut eintr, || r.read_to_end(&mut out)).map(|_| ()),
            ReadMode::Read(sizes) => loop {
                let mut dst = vec![0u8; sizes[i % sizes.len()]];
                i += 1;
                match retry_eintr(&mut eintr, || r.read(&mut dst)) {
                    Ok(0) => break Ok(()),
                    Ok(n) => out.extend_from_slice(&dst[..n]),
                    Err(e) => break Err(e),
                }
                prop_assert_eq!(pool.stats().in_use(), usize::from(r.buffered() > 0));
            },
            ReadMode::BufRead(sizes) => loop {
                let amt = sizes[i % sizes.len()];
                i += 1;
                match retry_eintr(&mut eintr, || r.fill_buf().map(|b| b.len())) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        let k = amt.min(n);
                        out.extend_from_slice(&r.fill_buf().unwrap()[..k]);
                        r.consume(k);
                    }
                    Err(e) => break Err(e),
                }
                prop_assert_eq!(pool.stats().in_use(), usize::from(r.buffered() > 0));
            },
        };
        prop_assert_eq!(out.len(), end.offset());
        prop_assert!(out == data[..end.offset()], "bytes differ");
        match end {
            End::Eof(_) => {
                prop_assert!(result.is_ok(), "{:?}", result);
                // Sticky.
                prop_assert_eq!(r.read(&mut [0u8; 8]).unwrap(), 0);
            }
            End::Reset(_) => {
                prop_assert_eq!(result.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
                // The transport now reads 0 (as Linux does after ECONNRESET): the reset stays.
                for _ in 0..2 {
                    prop_assert_eq!(r.read(&mut [0u8; 8]).unwrap_err().kind(), io::ErrorKind::ConnectionReset);
                }
            }
        }
        prop_assert!(eintr <= r.get_ref().counts().interrupted);
        prop_assert_eq!(r.buffered(), 0);
        prop_assert_eq!(pool.stats().in_use(), 0);
        drop(r);
        prop_assert_eq!(pool.stats().in_use(), 0, "a buffer leaked");
    }
}

// ---------------------------------------------------------------------------------------------
// alts: Conn.

#[derive(Clone, Copy, Debug)]
enum ConnMode {
    Blocking,
    NonBlocking,
    /// `io::Read` with this destination size.
    IoRead(usize),
    /// `append_ready` with this `max`.
    Append(usize),
    /// `try_append_ready` with this `max`.
    TryAppend(usize),
}

impl ConnMode {
    fn blocking(self) -> bool {
        !matches!(self, ConnMode::NonBlocking | ConnMode::TryAppend(_))
    }
}

fn conn_mode() -> impl Strategy<Value = ConnMode> {
    let n = prop_oneof![1usize..=32, 1usize..=20_000];
    prop_oneof![
        Just(ConnMode::Blocking),
        Just(ConnMode::NonBlocking),
        n.clone().prop_map(ConnMode::IoRead),
        n.clone().prop_map(ConnMode::Append),
        n.prop_map(ConnMode::TryAppend),
    ]
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![Just(Protocol::Aes128Gcm), Just(Protocol::Aes128GcmRekey)]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Client), Just(Side::Server)]
}

/// One call of `mode` on `c`: `Ok(None)` at a clean end, `Ok(Some(bytes))` otherwise.
fn conn_step<T: ReadyRead>(
    c: &mut Conn<T>,
    pool: &Pool,
    mode: ConnMode,
) -> io::Result<Option<Vec<u8>>> {
    let some = |v: Vec<u8>| if v.is_empty() { None } else { Some(v) };
    match mode {
        ConnMode::Blocking => Ok(c.read_ready(4096, pool)?.map(|b| b.to_vec())),
        ConnMode::NonBlocking => Ok(c.try_read_ready(4096, pool)?.map(|b| b.to_vec())),
        ConnMode::IoRead(n) => {
            let mut dst = vec![0; n];
            let k = c.read(&mut dst)?;
            Ok(some(dst[..k].to_vec()))
        }
        ConnMode::Append(n) | ConnMode::TryAppend(n) => {
            // The destination comes from another pool, so `pool` counts only the conn's.
            let mut b = global().get(n).unwrap();
            let k = if mode.blocking() {
                c.append_ready(&mut b, n)?
            } else {
                c.try_append_ready(&mut b, n)?
            };
            assert!(k <= n);
            Ok(some(b.to_vec()))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The ALTS `Conn`, both protocols and sides, any frame size, empty records mixed in:
    /// exactly the plaintext of the records that arrived whole, then `Ok(None)` (end on a
    /// record boundary), `UnexpectedEof` (end inside a record; the partial record's buffer is
    /// given back) or `ConnectionReset`; `Interrupted` and `WouldBlock` resume; no buffer
    /// leaks, and the conn holds one only while it has bytes.
    #[test]
    fn alts_conn_under_faults(
        p in protocol(),
        writer in side(),
        frame in prop_oneof![Just(4096usize), Just(5000), Just(16_384), Just(65_536)],
        messages in prop::collection::vec((prop::bool::weighted(0.2), bytes(9000)), 1..5),
        chunks in chunking(),
        sched in schedule(),
        mode in conn_mode(),
    ) {
        let wire = AltsWire::new(p, writer, frame, &messages);
        let pool = slackwater_ready::PoolHandle::from(Pool::new());
        let faults = resolve(wire.bytes.len(), &sched);
        let end = End::of(wire.bytes.len(), &faults);
        let (plain, boundary) = wire.plain_before(end.offset());
        let t = FaultStream::new(wire.bytes.clone(), &chunks).with_faults(&faults);
        let mut c = Conn::new(t, crypter(p, other(writer))).with_pool(pool.clone());
        let mut out = Vec::new();
        let (mut eintr, mut wouldblock) = (0, 0);
        let result = loop {
            match retry_eintr(&mut eintr, || conn_step(&mut c, &pool, mode)) {
                Ok(Some(b)) => out.extend_from_slice(&b),
                Ok(None) => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wouldblock += 1,
                Err(e) => break Err(e),
            }
            let in_use = pool.stats().in_use();
            prop_assert!(in_use <= 2 && (in_use > 0) == c.holds_buffer(), "{} in use", in_use);
        };
        prop_assert_eq!(out.len(), plain);
        prop_assert!(out == wire.plaintext[..plain], "plaintext differs");
        let kind = result.as_ref().err().map(io::Error::kind);
        match end {
            End::Reset(_) => {
                prop_assert_eq!(kind, Some(io::ErrorKind::ConnectionReset));
                // The transport's own error, passed through (not an ALTS framing error).
                prop_assert!(!matches!(
                    result.as_ref().err().and_then(AltsError::from_io),
                    Some(e) if !matches!(e, AltsError::Io(_))
                ));
                // The transport now reads 0: the reset stays, and nothing is held.
                prop_assert!(!c.holds_buffer());
                for _ in 0..2 {
                    prop_assert_eq!(c.read_ready(1, &pool).unwrap_err().kind(), io::ErrorKind::ConnectionReset);
                }
            }
            End::Eof(_) if boundary => prop_assert!(result.is_ok(), "{:?}", result),
            End::Eof(_) => {
                prop_assert_eq!(kind, Some(io::ErrorKind::UnexpectedEof));
                prop_assert!(
                    matches!(result.as_ref().err().and_then(AltsError::from_io), Some(AltsError::Truncated { .. })),
                    "an EOF inside a record is AltsError::Truncated"
                );
                prop_assert!(!c.holds_buffer(), "the partial record is given back at EOF");
                // Sticky.
                prop_assert_eq!(
                    c.read_ready(1, &pool).unwrap_err().kind(),
                    io::ErrorKind::UnexpectedEof
                );
            }
        }
        let counts = c.get_ref().counts();
        prop_assert!(eintr <= counts.interrupted);
        if mode.blocking() {
            prop_assert_eq!(wouldblock, 0);
        } else {
            prop_assert_eq!(wouldblock, counts.would_block, "one WouldBlock per transport WouldBlock");
        }
        drop(c);
        prop_assert_eq!(pool.stats().in_use(), 0, "a buffer leaked");
    }

    /// The `Conn` write side (records sealed in place, queued in the transport, written by
    /// the blocking `io::Write`): `Interrupted`, short writes and `WouldBlock` (a wait)
    /// change nothing on the wire; a reset or closed peer inside the stream fails the write
    /// with that kind, leaves exactly the bytes before it on the wire, and breaks the write
    /// side for good (the same error from every later write); every buffer goes back to the
    /// pool.
    #[test]
    fn alts_conn_writes_under_faults(
        p in protocol(),
        frame in prop_oneof![Just(4096usize), Just(16_384)],
        messages in prop::collection::vec(bytes(20_000), 1..5),
        chunks in chunking(),
        sched in prop::collection::vec((any::<Index>(), prop::sample::select(&Fault::ALL[..])), 0..6),
    ) {
        let reference = AltsWire::new(
            p,
            Side::Client,
            frame,
            &messages.iter().map(|m| (false, m.clone())).collect::<Vec<_>>(),
        );
        let total = reference.bytes.len();
        // Offsets inside the stream (a fault at its very end would need one more write).
        let faults: Vec<(usize, Fault)> =
            sched.iter().map(|(i, f)| (i.index(total.max(1)), *f)).collect();
        let hard = faults
            .iter()
            .filter(|(_, f)| matches!(f, Fault::Reset | Fault::Eof))
            .min_by_key(|(at, _)| *at)
            .copied()
            .filter(|(at, _)| *at < total);
        let pool = slackwater_ready::PoolHandle::from(Pool::new());
        let t = FaultStream::new(Vec::new(), &[]).with_write_faults(&faults, &chunks);
        let mut w = Conn::new(t, crypter(p, Side::Client)).with_pool(pool.clone());
        w = w.with_config(slackwater_alts::Config::builder().frame_size(frame).build().unwrap());
        let mut first_err = None;
        for m in &messages {
            if let Err(e) = w.write_all(m) {
                first_err = Some(e.kind());
                break;
            }
            prop_assert_eq!(pool.stats().in_use(), 0);
        }
        prop_assert_eq!(pool.stats().in_use(), 0, "the write buffer went back");
        let written = &w.get_ref().written;
        match hard {
            None => {
                prop_assert_eq!(first_err, None);
                prop_assert!(*written == reference.bytes, "wire differs");
            }
            Some((at, f)) => {
                let want = match f {
                    Fault::Reset => io::ErrorKind::ConnectionReset,
                    _ => io::ErrorKind::BrokenPipe,
                };
                prop_assert_eq!(first_err, Some(want));
                prop_assert_eq!(written.len(), at);
                prop_assert!(written[..] == reference.bytes[..at], "wire prefix differs");
                for _ in 0..2 {
                    prop_assert_eq!(w.write(b"more").unwrap_err().kind(), want);
                }
                prop_assert_eq!(w.queued(), 0);
                prop_assert_eq!(pool.stats().in_use(), 0);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// h2frame: FrameReader, over plain bytes and over an ALTS Conn.

fn payload(max: usize) -> impl Strategy<Value = Payload> {
    bytes(max).prop_map(Payload::from)
}

fn padding() -> impl Strategy<Value = Option<Payload>> {
    prop::option::weighted(
        0.2,
        payload(200).prop_map(|p| Payload::from(&p[..p.len().min(255)])),
    )
}

fn sid() -> impl Strategy<Value = u32> {
    1u32..=100
}

/// Valid frames of every kind, each valid on its own, and field blocks (HEADERS without
/// END_HEADERS, then CONTINUATIONs).
fn frames() -> impl Strategy<Value = Vec<Frame>> {
    let single = prop_oneof![
        4 => (sid(), any::<bool>(), payload(16_000), padding()).prop_map(|(stream_id, end_stream, data, padding)| {
            Frame::Data(Data { stream_id, end_stream, data, padding })
        }),
        1 => (sid(), payload(3000)).prop_map(|(stream_id, fragment)| Frame::Headers(Headers {
            stream_id, end_stream: false, end_headers: true, priority: None, fragment, padding: None,
        })),
        1 => any::<[u8; 8]>().prop_map(|data| Frame::Ping(Ping { ack: false, data })),
        1 => prop::collection::vec((1u16..=6, 0u32..=1), 0..5).prop_map(|v| {
            let s: Vec<Setting> = v.into_iter().map(|(id, value)| Setting { id, value: if id == 5 { 16_384 } else { value } }).collect();
            Frame::Settings(Settings::new(&s))
        }),
        1 => (0u32..=100, 1u32..=1000).prop_map(|(stream_id, increment)| Frame::WindowUpdate(WindowUpdate { stream_id, increment })),
        1 => (sid(), any::<u32>()).prop_map(|(stream_id, c)| Frame::RstStream(RstStream { stream_id, error_code: ErrorCode(c) })),
        1 => payload(500).prop_map(|debug_data| Frame::GoAway(GoAway { last_stream_id: 7, error_code: ErrorCode::NO_ERROR, debug_data })),
        1 => (10u8..=255, payload(2000)).prop_map(|(kind, payload)| Frame::Unknown(Unknown { kind, flags: 0, stream_id: 3, payload })),
    ];
    let block = (
        sid(),
        payload(2000),
        prop::collection::vec(payload(3000), 1..4),
    )
        .prop_map(|(stream_id, fragment, conts)| {
            let n = conts.len();
            let mut v = vec![Frame::Headers(Headers {
                stream_id,
                end_stream: true,
                end_headers: false,
                priority: None,
                fragment,
                padding: None,
            })];
            v.extend(conts.into_iter().enumerate().map(|(i, fragment)| {
                Frame::Continuation(Continuation {
                    stream_id,
                    end_headers: i + 1 == n,
                    fragment,
                })
            }));
            v
        });
    prop::collection::vec(
        prop_oneof![5 => single.prop_map(|f| vec![f]), 1 => block],
        0..12,
    )
    .prop_map(|v| v.into_iter().flatten().collect())
}

fn encode(frames: &[Frame]) -> Vec<u8> {
    let w = FrameWriter::new();
    let mut out = Vec::new();
    for f in frames {
        w.write(&mut out, f).unwrap();
    }
    out
}

/// The end offset of each frame in `wire`.
fn frame_ends(wire: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let len = u32::from_be_bytes([0, wire[at], wire[at + 1], wire[at + 2]]) as usize;
        at += 9 + len;
        ends.push(at);
    }
    ends
}

/// Reads frames until the reader ends, checking each against `expected` as it comes (and
/// dropping it, so that any buffer still in use belongs to the reader), and checking the pool
/// after every call with `holds` (whether the reader stack holds a buffer, and how many it
/// may hold). Returns the frames read, the final result, and the `WouldBlock`s / `EINTR`s seen.
fn drive_frames<R: ReadyRead>(
    r: &mut FrameReader<R>,
    pool: &Pool,
    blocking: bool,
    expected: &[Frame],
    holds: impl Fn(&FrameReader<R>) -> (bool, usize),
) -> (usize, Result<(), Error>, usize, usize) {
    let (mut n, mut wouldblock, mut eintr) = (0, 0, 0);
    let result = loop {
        let got = if blocking {
            r.read_frame()
        } else {
            r.try_read_frame()
        };
        match got {
            Ok(Some(f)) => {
                assert!(n < expected.len(), "more frames than sent: {f:?}");
                assert_eq!(f, expected[n], "frame {n}");
                n += 1;
            }
            Ok(None) => break Ok(()),
            Err(e) if e.is_would_block() => wouldblock += 1,
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => eintr += 1,
            Err(e) => break Err(e),
        }
        let (held, max) = holds(r);
        let in_use = pool.stats().in_use();
        assert!(
            in_use <= max && (in_use > 0) == held,
            "{in_use} buffers in use, held: {held}"
        );
    };
    (n, result, wouldblock, eintr)
}

fn io_kind(r: &Result<(), Error>) -> Option<io::ErrorKind> {
    match r {
        Err(Error::Io(e)) => Some(e.kind()),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// `FrameReader` over plain bytes: exactly the frames that arrived whole, then `Ok(None)`
    /// on a frame boundary, `UnexpectedEof` (with the partial frame's byte count, its buffer
    /// given back) inside a frame, or the transport's `ConnectionReset`; `WouldBlock` and
    /// `Interrupted` resume; the reader holds a buffer only while it has bytes; no leak.
    #[test]
    fn h2_frame_reader_under_faults(
        frames in frames(),
        chunks in chunking(),
        sched in schedule(),
        blocking in any::<bool>(),
    ) {
        let wire = encode(&frames);
        let ends = frame_ends(&wire);
        let pool = slackwater_ready::PoolHandle::from(Pool::new());
        let faults = resolve(wire.len(), &sched);
        let end = End::of(wire.len(), &faults);
        let whole = ends.iter().take_while(|&&e| e <= end.offset()).count();
        let last = if whole == 0 { 0 } else { ends[whole - 1] };
        let t = FaultStream::new(wire.clone(), &chunks).with_faults(&faults);
        let cfg = Config::builder().surface_unknown_frames(true).build().unwrap();
        let mut r = FrameReader::with_config(t, pool.clone(), cfg);
        let (n, result, wouldblock, eintr) =
            drive_frames(&mut r, &pool, blocking, &frames, |r| (r.holds_buffer(), 1));
        prop_assert_eq!(n, whole);
        match end {
            End::Reset(_) => {
                prop_assert_eq!(io_kind(&result), Some(io::ErrorKind::ConnectionReset));
                // The transport now reads 0: the reader must keep saying reset, not EOF.
                for _ in 0..2 {
                    let again = r.try_read_frame().map(|_| ());
                    prop_assert_eq!(io_kind(&again), Some(io::ErrorKind::ConnectionReset));
                }
            }
            End::Eof(f) if f == last => prop_assert!(result.is_ok(), "{:?}", result),
            End::Eof(f) => {
                prop_assert!(
                    matches!(result, Err(Error::UnexpectedEof { buffered }) if buffered == f - last),
                    "{:?}", result
                );
                prop_assert!(!r.holds_buffer());
                prop_assert!(matches!(r.read_frame(), Err(Error::UnexpectedEof { .. })), "sticky");
            }
        }
        let counts = r.get_ref().counts();
        prop_assert!(eintr <= counts.interrupted);
        if blocking {
            prop_assert_eq!(wouldblock, 0);
        } else {
            prop_assert_eq!(wouldblock, counts.would_block);
        }
        drop(r);
        prop_assert_eq!(pool.stats().in_use(), 0, "a buffer leaked");
    }

    /// `FrameReader` over an ALTS `Conn` over the faulty transport (records cut anywhere in
    /// the frames): exactly the frames whose bytes are in records that arrived whole; then a
    /// clean end only on a record and frame boundary, `UnexpectedEof` otherwise (from the
    /// frame reader between records, from the conn inside one), `ConnectionReset` passed
    /// through both layers; `WouldBlock` and `Interrupted` resume through both; no leak.
    #[test]
    fn h2_over_alts_under_faults(
        frames in frames(),
        p in protocol(),
        frame in prop_oneof![Just(4096usize), Just(16_384)],
        cuts in prop::collection::vec(any::<Index>(), 0..6),
        chunks in chunking(),
        sched in schedule(),
        blocking in any::<bool>(),
    ) {
        let h2 = encode(&frames);
        let ends = frame_ends(&h2);
        // The frames are written to the conn in pieces cut at random places.
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(h2.len() + 1)).collect();
        at.extend([0, h2.len()]);
        at.sort_unstable();
        at.dedup();
        let messages: Vec<(bool, Vec<u8>)> =
            at.windows(2).map(|w| (false, h2[w[0]..w[1]].to_vec())).collect();
        let wire = AltsWire::new(p, Side::Client, frame, &messages);
        prop_assert!(wire.plaintext == h2);
        let pool = slackwater_ready::PoolHandle::from(Pool::new());
        let faults = resolve(wire.bytes.len(), &sched);
        let end = End::of(wire.bytes.len(), &faults);
        let (plain, boundary) = wire.plain_before(end.offset());
        let whole = ends.iter().take_while(|&&e| e <= plain).count();
        let last = if whole == 0 { 0 } else { ends[whole - 1] };
        let t = FaultStream::new(wire.bytes.clone(), &chunks).with_faults(&faults);
        let conn = Conn::new(t, crypter(p, Side::Server)).with_pool(pool.clone());
        let cfg = Config::builder().surface_unknown_frames(true).build().unwrap();
        let mut r = FrameReader::with_config(conn, pool.clone(), cfg);
        let (n, result, wouldblock, eintr) = drive_frames(&mut r, &pool, blocking, &frames, |r| {
            (r.holds_buffer() || r.get_ref().holds_buffer(), 3)
        });
        prop_assert_eq!(n, whole);
        match end {
            End::Reset(_) => {
                prop_assert_eq!(io_kind(&result), Some(io::ErrorKind::ConnectionReset));
                // The transport now reads 0: the reader must keep saying reset, not EOF.
                for _ in 0..2 {
                    let again = r.try_read_frame().map(|_| ());
                    prop_assert_eq!(io_kind(&again), Some(io::ErrorKind::ConnectionReset));
                }
            }
            End::Eof(_) if !boundary => {
                prop_assert_eq!(io_kind(&result), Some(io::ErrorKind::UnexpectedEof));
                prop_assert!(!r.get_ref().holds_buffer(), "the conn gave its partial record back");
            }
            End::Eof(_) if plain == last => prop_assert!(result.is_ok(), "{:?}", result),
            End::Eof(_) => {
                prop_assert!(
                    matches!(result, Err(Error::UnexpectedEof { buffered }) if buffered == plain - last),
                    "{:?}", result
                );
                prop_assert!(!r.holds_buffer());
            }
        }
        let counts = r.get_ref().get_ref().counts();
        prop_assert!(eintr <= counts.interrupted);
        if blocking {
            prop_assert_eq!(wouldblock, 0);
        } else {
            prop_assert_eq!(wouldblock, counts.would_block);
        }
        drop(r);
        prop_assert_eq!(pool.stats().in_use(), 0, "a buffer leaked");
    }
}
