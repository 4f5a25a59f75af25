//! Property tests of `slackwater_h2frame`:
//! * any sequence of valid frames written by `FrameWriter` and delivered in any chunking (with
//!   `WouldBlock`s anywhere) reads back identical, through the blocking and the non-blocking
//!   reader, and no pool buffer is held once the frames are dropped;
//! * a server-side reader reads back the client side of a connection (the preface, SETTINGS,
//!   then such frames), and refuses it with a connection error when it carries a
//!   PUSH_PROMISE;
//! * random bytes never panic the stateless decoder or the reader, and never make the reader
//!   take a buffer larger than the frame-size limit allows.

use proptest::prelude::*;
use slackwater_h2frame::*;
use std::collections::VecDeque;
use std::io;

/// A transport that delivers `bytes` in the given chunk sizes, with a `WouldBlock` before each
/// chunk whose flag is set (the blocking calls skip those, as if they had waited).
struct Chunks {
    steps: VecDeque<(bool, Vec<u8>)>,
}

impl Chunks {
    fn new(bytes: &[u8], sizes: &[(bool, usize)]) -> Chunks {
        let mut steps = VecDeque::new();
        let mut at = 0;
        let mut i = 0;
        while at < bytes.len() {
            let (wb, n) = sizes
                .get(i % sizes.len().max(1))
                .copied()
                .unwrap_or((false, 4096));
            let end = (at + n.max(1)).min(bytes.len());
            steps.push_back((wb, bytes[at..end].to_vec()));
            at = end;
            i += 1;
        }
        Chunks { steps }
    }

    fn next(&mut self, size: usize, pool: &Pool, blocking: bool) -> io::Result<Option<Buf>> {
        let Some((wb, mut b)) = self.steps.pop_front() else {
            return Ok(None);
        };
        if wb && !blocking {
            self.steps.push_front((false, b));
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let size = size.max(1);
        if b.len() > size {
            let rest = b.split_off(size);
            self.steps.push_front((false, rest));
        }
        let mut buf = pool.get(size)?;
        buf.extend_from_slice(&b).unwrap();
        Ok(Some(buf))
    }
}

impl ReadyRead for Chunks {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.next(size, pool, true)
    }
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.next(size, pool, false)
    }
}

fn bytes(max: usize) -> impl Strategy<Value = Payload> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..=64),
        2 => prop::collection::vec(any::<u8>(), 0..=max.min(3000)),
        1 => (any::<u8>(), 0..=max).prop_map(|(b, n)| vec![b; n]),
    ]
    .prop_map(Payload::from)
}

fn padding() -> impl Strategy<Value = Option<Payload>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..=255).prop_map(Payload::from))
}

fn id() -> impl Strategy<Value = u32> {
    prop_oneof![1u32..=10, 1u32..=STREAM_ID_MASK]
}

fn prio() -> impl Strategy<Value = PrioritySpec> {
    (any::<bool>(), 0..=STREAM_ID_MASK, 1u16..=256).prop_map(|(exclusive, dependency, weight)| {
        PrioritySpec {
            exclusive,
            dependency,
            weight,
        }
    })
}

/// One frame that is valid on its own (never part of an open field block).
fn single() -> impl Strategy<Value = Frame> {
    let max = 16_384 - 256 - 6;
    prop_oneof![
        (id(), any::<bool>(), bytes(max), padding()).prop_map(
            |(stream_id, end_stream, data, padding)| {
                Frame::Data(Data {
                    stream_id,
                    end_stream,
                    data,
                    padding,
                })
            }
        ),
        (
            id(),
            any::<bool>(),
            prop::option::of(prio()),
            bytes(max),
            padding()
        )
            .prop_map(|(stream_id, end_stream, priority, fragment, padding)| {
                Frame::Headers(Headers {
                    stream_id,
                    end_stream,
                    end_headers: true,
                    priority,
                    fragment,
                    padding,
                })
            }),
        (id(), prio()).prop_map(|(stream_id, spec)| Frame::Priority(Priority { stream_id, spec })),
        (id(), any::<u32>()).prop_map(|(stream_id, c)| Frame::RstStream(RstStream {
            stream_id,
            error_code: ErrorCode(c)
        })),
        Just(Frame::Settings(Settings::ack())),
        prop::collection::vec((0u16..=0xff, any::<u32>()), 0..20).prop_map(|v| {
            let valid: Vec<Setting> = v
                .into_iter()
                .map(|(id, value)| match id {
                    2 | 8 | 9 => Setting {
                        id,
                        value: value & 1,
                    },
                    4 => Setting {
                        id,
                        value: value & STREAM_ID_MASK,
                    },
                    5 => Setting {
                        id,
                        value: 16_384 + value % (16_777_215 - 16_384),
                    },
                    _ => Setting { id, value },
                })
                .collect();
            Frame::Settings(Settings::new(&valid))
        }),
        (any::<bool>(), any::<[u8; 8]>()).prop_map(|(ack, data)| Frame::Ping(Ping { ack, data })),
        (0..=STREAM_ID_MASK, any::<u32>(), bytes(2000)).prop_map(|(l, c, d)| {
            Frame::GoAway(GoAway {
                last_stream_id: l,
                error_code: ErrorCode(c),
                debug_data: d,
            })
        }),
        (0..=STREAM_ID_MASK, 1..=STREAM_ID_MASK).prop_map(|(stream_id, increment)| {
            Frame::WindowUpdate(WindowUpdate {
                stream_id,
                increment,
            })
        }),
        (10u8..=255, any::<u8>(), 0..=STREAM_ID_MASK, bytes(5000)).prop_map(
            |(kind, flags, stream_id, payload)| Frame::Unknown(Unknown {
                kind,
                flags,
                stream_id,
                payload
            })
        ),
    ]
}

/// A field block: HEADERS or PUSH_PROMISE without END_HEADERS, then CONTINUATIONs, the last
/// with END_HEADERS.
fn block() -> impl Strategy<Value = Vec<Frame>> {
    (
        any::<bool>(),
        id(),
        (1u32..=STREAM_ID_MASK / 2).prop_map(|p| p * 2),
        bytes(4000),
        padding(),
        prop::collection::vec(bytes(6000), 1..5),
    )
        .prop_map(|(push, stream_id, promised_id, fragment, padding, conts)| {
            let first = if push {
                Frame::PushPromise(PushPromise {
                    stream_id,
                    end_headers: false,
                    promised_id,
                    fragment,
                    padding,
                })
            } else {
                Frame::Headers(Headers {
                    stream_id,
                    end_stream: false,
                    end_headers: false,
                    priority: None,
                    fragment,
                    padding,
                })
            };
            let n = conts.len();
            std::iter::once(first)
                .chain(conts.into_iter().enumerate().map(|(i, fragment)| {
                    Frame::Continuation(Continuation {
                        stream_id,
                        end_headers: i + 1 == n,
                        fragment,
                    })
                }))
                .collect()
        })
}

fn frames() -> impl Strategy<Value = Vec<Frame>> {
    prop::collection::vec(
        prop_oneof![4 => single().prop_map(|f| vec![f]), 1 => block()],
        0..24,
    )
    .prop_map(|v| v.into_iter().flatten().collect())
}

fn chunking() -> impl Strategy<Value = Vec<(bool, usize)>> {
    prop::collection::vec(
        (
            any::<bool>(),
            prop_oneof![1usize..=16, 1usize..=600, 1usize..=40_000],
        ),
        1..12,
    )
}

fn encode_all(frames: &[Frame]) -> Vec<u8> {
    let w = FrameWriter::new();
    let mut out = Vec::new();
    for f in frames {
        w.write(&mut out, f).unwrap();
    }
    out
}

fn read_back(
    pool: &PoolHandle,
    bytes: &[u8],
    sizes: &[(bool, usize)],
    cfg: Config,
    blocking: bool,
) -> Result<Vec<Frame>, Error> {
    let mut r = FrameReader::with_config(Chunks::new(bytes, sizes), pool.clone(), cfg);
    let mut out = Vec::new();
    loop {
        let got = if blocking {
            r.read_frame()
        } else {
            r.try_read_frame()
        };
        match got {
            Ok(Some(f)) => out.push(f),
            Ok(None) => break,
            Err(e) if e.is_would_block() => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn written_frames_read_back_identical(frames in frames(), sizes in chunking(), blocking in any::<bool>()) {
        let wire = encode_all(&frames);
        let pool = PoolHandle::from(Pool::new());
        let cfg = Config::builder().surface_unknown_frames(true).build().unwrap();
        let surfaced = read_back(&pool, &wire, &sizes, cfg, blocking).unwrap();
        prop_assert_eq!(&surfaced, &frames);
        drop(surfaced);
        prop_assert_eq!(pool.stats().in_use(), 0, "a pool buffer outlived every frame");
        // By default unknown frames are skipped.
        let known: Vec<Frame> = frames.iter().filter(|f| !matches!(f, Frame::Unknown(_))).cloned().collect();
        let skipped = read_back(&pool, &wire, &sizes, Config::new(), !blocking).unwrap();
        prop_assert_eq!(&skipped, &known);
        drop(skipped);
        prop_assert_eq!(pool.stats().in_use(), 0, "a pool buffer outlived every frame");
        // The stateless decoder agrees frame by frame.
        let mut at = 0;
        for f in &frames {
            let (g, n) = decode(&wire[at..]).unwrap().unwrap();
            prop_assert_eq!(&g, f);
            at += n;
        }
        prop_assert_eq!(at, wire.len());
    }

    #[test]
    fn a_server_reads_the_client_side_back_and_refuses_push(
        frames in frames(),
        sizes in chunking(),
        blocking in any::<bool>(),
        settings in prop::collection::vec((1u16..=1, any::<u32>()), 0..3),
    ) {
        // The client side of a connection: the preface, its SETTINGS, then anything.
        let first = Frame::Settings(Settings::new(
            &settings.iter().map(|&(id, value)| Setting { id, value }).collect::<Vec<_>>(),
        ));
        let mut wire = CLIENT_PREFACE.to_vec();
        wire.extend(encode_all(std::slice::from_ref(&first)));
        wire.extend(encode_all(&frames));
        let pool = PoolHandle::from(Pool::new());
        let cfg = Config::builder().expect_client_preface(true).surface_unknown_frames(true).build().unwrap();
        let got = read_back(&pool, &wire, &sizes, cfg, blocking);
        if frames.iter().any(|f| matches!(f, Frame::PushPromise(_))) {
            // RFC 9113 §8.4: a server refuses PUSH_PROMISE, as a connection error.
            let e = got.unwrap_err();
            prop_assert_eq!(e.code(), Some(ErrorCode::PROTOCOL_ERROR));
            prop_assert!(e.is_connection_error());
        } else {
            let got = got.unwrap();
            prop_assert_eq!(got.first(), Some(&first));
            prop_assert_eq!(&got[1..], &frames[..]);
        }
        prop_assert_eq!(pool.stats().in_use(), 0, "a pool buffer outlived every frame");
    }

    #[test]
    fn random_bytes_never_panic_or_overallocate(
        mut junk in prop::collection::vec(any::<u8>(), 0..3000),
        headers in prop::collection::vec((0u8..=12, any::<u8>(), 0u32..=3, 0u32..=20_000), 0..8),
        sizes in chunking(),
        preface in any::<bool>(),
    ) {
        // Plant plausible headers so the parsers get past the size check now and then.
        for (i, (kind, flags, sid, len)) in headers.into_iter().enumerate() {
            let at = (i * 97) % junk.len().max(1);
            let h = FrameHeader { length: len, kind, flags, stream_id: sid }.encode();
            if at + 9 <= junk.len() {
                junk[at..at + 9].copy_from_slice(&h);
            }
        }
        let _ = decode(&junk);
        let mut at = 0;
        while let Ok(Some((_, n))) = decode(&junk[at..]) {
            at += n;
        }
        let pool = PoolHandle::from(Pool::new());
        let cfg = Config::builder().expect_client_preface(preface).surface_unknown_frames(true).build().unwrap();
        let mut r = FrameReader::with_config(Chunks::new(&junk, &sizes), pool.clone(), cfg);
        for _ in 0..10_000 {
            match r.try_read_frame() {
                Ok(Some(_)) => {}
                Err(e) if e.is_would_block() => {}
                Ok(None) | Err(_) => break,
            }
        }
        drop(r);
        let st = pool.stats();
        // Max frame size 16,384 and 32 KiB reads: nothing from the 1 MiB class or above.
        prop_assert_eq!(st.class(4).unwrap().misses, 0);
        prop_assert_eq!(st.unpooled().misses, 0);
        prop_assert_eq!(st.in_use(), 0);
    }
}
