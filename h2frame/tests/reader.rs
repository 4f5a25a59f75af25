//! The streaming reader: buffers held (none while idle), partial frames across `WouldBlock`,
//! the client preface, CONTINUATION sequencing and flood cap, unknown frames, limits.

mod common;

use common::{Script, Step};
use slackwater_h2frame::*;
use slackwater_ready::ReadyFd;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn wire(frames: &[Frame]) -> Vec<u8> {
    let mut w = FrameWriter::new();
    w.set_max_frame_size(MAX_FRAME_SIZE_LIMIT).unwrap();
    let mut out = Vec::new();
    for f in frames {
        w.write(&mut out, f).unwrap();
    }
    out
}

fn ping(n: u8) -> Frame {
    Frame::Ping(Ping {
        ack: false,
        data: [n; 8],
    })
}

fn headers(stream_id: u32, end_headers: bool, frag: &[u8]) -> Frame {
    Frame::Headers(Headers {
        stream_id,
        end_stream: false,
        end_headers,
        priority: None,
        fragment: Payload::from(frag),
        padding: None,
    })
}

fn cont(stream_id: u32, end_headers: bool, frag: &[u8]) -> Frame {
    Frame::Continuation(Continuation {
        stream_id,
        end_headers,
        fragment: Payload::from(frag),
    })
}

fn data(stream_id: u32, bytes: Vec<u8>) -> Frame {
    Frame::Data(Data {
        stream_id,
        end_stream: false,
        data: Payload::from(bytes),
        padding: None,
    })
}

fn reader(bytes: &[u8], pool: &PoolHandle, cfg: Config) -> FrameReader<Script> {
    FrameReader::with_config(Script::chunked(bytes, 7), pool.clone(), cfg)
}

fn read_all(r: &mut FrameReader<impl ReadyRead>) -> Result<Vec<Frame>, Error> {
    let mut v = Vec::new();
    while let Some(f) = r.read_frame()? {
        v.push(f);
    }
    Ok(v)
}

fn assert_conn(e: &Error, code: ErrorCode) {
    assert_eq!(e.code(), Some(code), "{e}");
    assert_eq!(e.scope(), Some(Scope::Connection), "{e}");
}

#[test]
fn socketpair_idle_reader_holds_no_buffer() {
    let pool = PoolHandle::from(Pool::new());
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut r = FrameReader::with_pool(ReadyFd::new(a).unwrap(), pool.clone());
    std::thread::scope(|s| {
        let t = s.spawn(move || {
            let mut got = Vec::new();
            while let Some(f) = r.read_frame().unwrap() {
                got.push(f);
            }
            got
        });
        for i in 0..5u8 {
            b.write_all(&wire(&[ping(i), data(1, vec![i; 16_000])]))
                .unwrap();
            // The reader has consumed both frames and is blocked waiting for the next one.
            std::thread::sleep(Duration::from_millis(50));
            let st = pool.stats();
            // Only what the application keeps (the DATA view held by `got`) is in use; the
            // reader itself holds nothing while it waits.
            assert!(
                st.in_use() <= i as usize + 1,
                "in use while idle: {}",
                st.in_use()
            );
        }
        drop(b);
        let got = t.join().unwrap();
        assert_eq!(got.len(), 10);
        let views = got
            .iter()
            .filter(|f| matches!(f, Frame::Data(d) if d.data.is_view()))
            .count();
        assert_eq!(views, 5);
        assert_eq!(pool.stats().in_use(), 5); // the five DATA views, one buffer each
        drop(got);
        assert_eq!(pool.stats().in_use(), 0);
    });
}

#[test]
fn socketpair_zero_buffers_between_frames() {
    let pool = PoolHandle::from(Pool::new());
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut r = FrameReader::with_pool(ReadyFd::new(a).unwrap(), pool.clone());
    for i in 0..20u8 {
        let f = if i % 2 == 0 {
            ping(i)
        } else {
            data(3, vec![i; 100])
        };
        b.write_all(&wire(std::slice::from_ref(&f))).unwrap();
        assert_eq!(r.read_frame().unwrap().unwrap(), f);
        assert_eq!(
            pool.stats().in_use(),
            0,
            "frame {i}: a buffer is held between frames"
        );
        assert!(!r.holds_buffer());
        assert!(r.try_read_frame().unwrap_err().is_would_block());
        assert_eq!(pool.stats().in_use(), 0);
    }
}

#[test]
fn partial_frames_across_would_block_on_a_socket() {
    let pool = PoolHandle::from(Pool::new());
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut r = FrameReader::with_pool(ReadyFd::new(a).unwrap(), pool.clone());
    let frames = [
        ping(1),
        data(1, vec![9; 16_384]),
        headers(5, true, b"abc"),
        ping(2),
    ];
    let bytes = wire(&frames);
    let mut got = Vec::new();
    // Dribble the bytes in uneven pieces; between pieces the reader must say WouldBlock.
    for piece in bytes.chunks(1000).flat_map(|c| {
        let (x, y) = c.split_at(3.min(c.len()));
        [x.to_vec(), y.to_vec()]
    }) {
        b.write_all(&piece).unwrap();
        loop {
            match r.try_read_frame() {
                Ok(Some(f)) => got.push(f),
                Ok(None) => panic!("unexpected EOF"),
                Err(e) if e.is_would_block() => break,
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert_eq!(got, frames);
    drop(got);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn a_partial_header_does_not_keep_a_big_buffer() {
    let pool = PoolHandle::from(Pool::new());
    let mut bytes = wire(&[ping(1)]);
    bytes.extend_from_slice(&[0, 0, 8]); // a third of the next header
    let steps = [
        Step::Bytes(bytes),
        Step::WouldBlock,
        Step::Bytes(vec![6, 0, 0, 0, 0, 0]),
    ];
    let mut r = FrameReader::with_pool(Script::new(steps.clone()), pool.clone());
    assert!(matches!(r.try_read_frame().unwrap(), Some(Frame::Ping(_))));
    assert!(r.try_read_frame().unwrap_err().is_would_block());
    // Waiting with 3 bytes of a 17-byte frame: they sit in the 256-byte class, not 32 KiB.
    let st = pool.stats();
    assert_eq!(st.in_use(), 1);
    assert_eq!(st.class(0).unwrap().in_use, 1, "{st:?}");
    assert_eq!(r.buffered(), 3);
    // The rest of the header arrives, then the stream ends before the PING's payload: the
    // reader reports the 9 bytes it had, and has given their buffer back.
    let e = r.try_read_frame().unwrap_err();
    assert!(
        matches!(e, slackwater_h2frame::Error::UnexpectedEof { buffered: 9 }),
        "{e:?}"
    );
    assert_eq!(pool.stats().in_use(), 0);
    drop(r);
}

#[test]
fn every_chunking_of_a_mixed_stream() {
    let frames = vec![
        Frame::Settings(Settings::new(&[Setting {
            id: Setting::MAX_FRAME_SIZE,
            value: 1 << 20,
        }])),
        Frame::Settings(Settings::ack()),
        headers(1, false, &[1; 40]),
        cont(1, false, &[2; 300]),
        cont(1, true, &[]),
        data(1, vec![3; 16_384]),
        Frame::Priority(Priority {
            stream_id: 3,
            spec: PrioritySpec {
                exclusive: true,
                dependency: 1,
                weight: 256,
            },
        }),
        Frame::RstStream(RstStream {
            stream_id: 1,
            error_code: ErrorCode::CANCEL,
        }),
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 0,
            increment: 1 << 30,
        }),
        Frame::GoAway(GoAway {
            last_stream_id: 7,
            error_code: ErrorCode::NO_ERROR,
            debug_data: Payload::from(vec![4; 5000]),
        }),
        Frame::PushPromise(PushPromise {
            stream_id: 1,
            end_headers: false,
            promised_id: 2,
            fragment: Payload::from(&b"pp"[..]),
            padding: Some(Payload::from(&[0u8; 3][..])),
        }),
        cont(1, true, b"end"),
        Frame::Data(Data {
            stream_id: 1,
            end_stream: true,
            data: Payload::new(),
            padding: Some(Payload::from(&[0u8; 255][..])),
        }),
    ];
    let bytes = wire(&frames);
    for chunk in [
        1,
        2,
        3,
        8,
        9,
        10,
        17,
        100,
        4095,
        4096,
        16_393,
        40_000,
        1 << 20,
    ] {
        let pool = PoolHandle::from(Pool::new());
        let mut r =
            FrameReader::with_config(Script::chunked(&bytes, chunk), pool.clone(), Config::new());
        let got = read_all(&mut r).unwrap_or_else(|e| panic!("chunk {chunk}: {e}"));
        assert_eq!(got, frames, "chunk {chunk}");
        drop(got);
        assert_eq!(pool.stats().in_use(), 0, "chunk {chunk}");
    }
}

#[test]
fn payload_copy_out_rule() {
    let pool = PoolHandle::from(Pool::new());
    let bytes = wire(&[
        data(1, vec![1; 30]),
        data(1, vec![2; 1000]),
        data(1, vec![3; 16_000]),
    ]);
    let mut r = FrameReader::with_pool(Script::chunked(&bytes, 1 << 20), pool.clone());
    let f: Vec<Payload> = read_all(&mut r)
        .unwrap()
        .into_iter()
        .map(|f| match f {
            Frame::Data(d) => d.data,
            _ => unreachable!(),
        })
        .collect();
    assert!(!f[0].is_view() && f[0].pinned_bytes() == 0); // inline
    assert!(!f[1].is_view() && f[1].pinned_bytes() == 0); // 1000 × 16 < 32 KiB: heap copy
    assert!(f[2].is_view()); // 16,000 × 16 ≥ 32 KiB: zero-copy view
    assert!(f[2].pinned_bytes() <= 16 * f[2].len());
    assert_eq!(pool.stats().in_use(), 1);
    drop(f);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn client_preface() {
    let pool = PoolHandle::from(Pool::new());
    let cfg = Config::builder()
        .expect_client_preface(true)
        .build()
        .unwrap();
    let mut good = CLIENT_PREFACE.to_vec();
    good.extend(wire(&[settings(), ping(1)]));
    for chunk in [1, 5, 24, 25, 100] {
        let mut r =
            FrameReader::with_config(Script::chunked(&good, chunk), pool.clone(), cfg.clone());
        assert_eq!(read_all(&mut r).unwrap(), [settings(), ping(1)]);
    }
    // Nothing at all: a clean EOF.
    let mut r = FrameReader::with_config(Script::chunked(&[], 1), pool.clone(), cfg.clone());
    assert!(r.read_frame().unwrap().is_none());
    // Cut short: the error counts the preface bytes that came, and stays.
    for cut in [1, 10, 23] {
        let mut r =
            FrameReader::with_config(Script::chunked(&good[..cut], 1), pool.clone(), cfg.clone());
        for _ in 0..2 {
            assert_eq!(
                r.read_frame().unwrap_err(),
                Error::UnexpectedEof { buffered: cut }
            );
        }
    }
    // HTTP/1.1 instead.
    let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut r = FrameReader::with_config(Script::chunked(req, 3), pool.clone(), cfg.clone());
    let e = r.read_frame().unwrap_err();
    assert!(matches!(e, Error::BadPreface { http1: true }), "{e:?}");
    assert_conn(&e, ErrorCode::PROTOCOL_ERROR);
    assert!(e.to_string().contains("HTTP/1"));
    let mut r = FrameReader::with_config(
        Script::chunked(b"POST / HTTP/1.1\r\n", 1),
        pool.clone(),
        cfg.clone(),
    );
    assert!(matches!(
        r.read_frame(),
        Err(Error::BadPreface { http1: true })
    ));
    // Sticky.
    assert_conn(&r.read_frame().unwrap_err(), ErrorCode::PROTOCOL_ERROR);
    // "PRI * HTTP/1.1": the version differs.
    let mut bad = CLIENT_PREFACE.to_vec();
    bad[11] = b'1';
    let mut r = FrameReader::with_config(Script::chunked(&bad, 4), pool.clone(), cfg.clone());
    assert!(matches!(
        r.read_frame(),
        Err(Error::BadPreface { http1: true })
    ));
    // Garbage.
    let mut r = FrameReader::with_config(Script::chunked(&[0; 24], 24), pool.clone(), cfg);
    assert!(matches!(
        r.read_frame(),
        Err(Error::BadPreface { http1: false })
    ));
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn continuation_sequencing() {
    let pool = PoolHandle::from(Pool::new());
    let ok = [
        headers(1, false, b"a"),
        cont(1, false, b"b"),
        cont(1, true, b"c"),
        ping(1),
    ];
    assert_eq!(
        read_all(&mut reader(&wire(&ok), &pool, Config::new())).unwrap(),
        ok
    );

    let bad: [&[Frame]; 6] = [
        // §6.2/1: another frame type inside the block.
        &[
            headers(1, false, b"a"),
            Frame::Priority(Priority {
                stream_id: 1,
                spec: PrioritySpec {
                    exclusive: false,
                    dependency: 0,
                    weight: 16,
                },
            }),
        ],
        // §4.3/3: HEADERS of another stream inside the block.
        &[headers(1, false, b"a"), headers(3, true, b"b")],
        // CONTINUATION of another stream.
        &[headers(1, false, b"a"), cont(3, true, b"b")],
        // §6.10/4: CONTINUATION after END_HEADERS.
        &[headers(1, true, b"a"), cont(1, true, b"b")],
        // §6.10/5: CONTINUATION after the block ended.
        &[
            headers(1, false, b"a"),
            cont(1, true, b"b"),
            cont(1, true, b"c"),
        ],
        // §6.10/6: CONTINUATION after DATA.
        &[data(1, vec![1]), cont(1, true, b"b")],
    ];
    for (i, frames) in bad.iter().enumerate() {
        let w = wire(frames);
        // In 7-byte reads, and in one read (every frame then wholly buffered when its turn
        // comes: the reader's fast path must see the open block too).
        for chunk in [7, w.len()] {
            let mut r =
                FrameReader::with_config(Script::chunked(&w, chunk), pool.clone(), Config::new());
            let e = read_all(&mut r).expect_err(&format!("case {i}, reads of {chunk}"));
            assert_conn(&e, ErrorCode::PROTOCOL_ERROR);
        }
    }
    // §5.5/2: an unknown frame inside a field block, even though unknown frames are skipped.
    let mut bytes = wire(&[headers(1, false, b"a")]);
    bytes.extend_from_slice(&[0, 0, 1, 0x20, 0, 0, 0, 0, 0, 0xff]);
    assert_conn(
        &read_all(&mut reader(&bytes, &pool, Config::new())).unwrap_err(),
        ErrorCode::PROTOCOL_ERROR,
    );
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn continuation_flood_is_capped() {
    let pool = PoolHandle::from(Pool::new());
    // CVE-2024-27316: endless empty CONTINUATIONs. With a cap of 64 the 65th is refused,
    // from its header, before its payload is read.
    let mut frames = vec![headers(1, false, b"x")];
    frames.extend((0..1000).map(|_| cont(1, false, b"")));
    let cfg = Config::builder()
        .continuation_limits(64, 1 << 20)
        .build()
        .unwrap();
    let mut r = reader(&wire(&frames), &pool, cfg);
    let mut n = 0;
    let e = loop {
        match r.read_frame() {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert_eq!(n, 1 + 64);
    assert_conn(&e, ErrorCode::ENHANCE_YOUR_CALM);
    // The default cap applies too.
    let mut r = reader(&wire(&frames), &pool, Config::new());
    assert_conn(&read_all(&mut r).unwrap_err(), ErrorCode::ENHANCE_YOUR_CALM);
    // A byte cap: 4 × 16 KiB of fragments against a 40 KiB limit.
    let mut frames = vec![headers(1, false, &[0; 16_000])];
    frames.extend((0..3).map(|_| cont(1, false, &[0; 16_000])));
    let mut r = reader(
        &wire(&frames),
        &pool,
        Config::builder()
            .continuation_limits(100, 40_000)
            .build()
            .unwrap(),
    );
    assert_conn(&read_all(&mut r).unwrap_err(), ErrorCode::ENHANCE_YOUR_CALM);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn unknown_frames_skipped_or_surfaced() {
    let pool = PoolHandle::from(Pool::new());
    let mut bytes = wire(&[ping(1)]);
    // Type 0x16, 8 000 bytes, flags 0xff, stream 0 (h2spec 4.1/1), then a PING.
    bytes.extend_from_slice(&[0, 0x1f, 0x40, 0x16, 0xff, 0, 0, 0, 0]);
    bytes.extend(std::iter::repeat_n(0xaa, 8000));
    bytes.extend(wire(&[ping(2)]));
    let got = read_all(&mut reader(&bytes, &pool, Config::new())).unwrap();
    assert_eq!(got, [ping(1), ping(2)]);
    // The same with every frame wholly buffered when its turn comes (one read; a small
    // unknown frame too): the reader's fast path skips them as well.
    let mut small = bytes.clone();
    small.extend_from_slice(&[0, 0, 2, 0x0a, 0, 0, 0, 0, 1, 0xbb, 0xbb]);
    small.extend(wire(&[ping(3)]));
    let mut r = FrameReader::with_config(
        Script::chunked(&small, small.len()),
        pool.clone(),
        Config::new(),
    );
    assert_eq!(read_all(&mut r).unwrap(), [ping(1), ping(2), ping(3)]);
    let cfg = Config::builder()
        .surface_unknown_frames(true)
        .build()
        .unwrap();
    let got = read_all(&mut reader(&bytes, &pool, cfg)).unwrap();
    assert_eq!(got.len(), 3);
    let Frame::Unknown(u) = &got[1] else { panic!() };
    assert_eq!(
        (u.kind, u.flags, u.stream_id, u.payload.len()),
        (0x16, 0xff, 0, 8000)
    );
    // It re-encodes to the same bytes.
    assert_eq!(wire(&got), bytes);
    drop(got);
    // Unknown frames still count toward the frame size limit.
    let big = [0, 0x40, 0x01, 0x16, 0, 0, 0, 0, 0];
    assert_conn(
        &read_all(&mut reader(&big, &pool, Config::new())).unwrap_err(),
        ErrorCode::FRAME_SIZE_ERROR,
    );
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn frame_size_is_checked_from_the_header_before_reading() {
    let pool = PoolHandle::from(Pool::new());
    // A 1 MiB DATA header followed by nothing: the error comes from the 9 bytes alone.
    let hdr = [0x10, 0, 0, 0, 0, 0, 0, 0, 1];
    let mut r = FrameReader::with_pool(Script::new([Step::Bytes(hdr.to_vec())]), pool.clone());
    assert_conn(&r.read_frame().unwrap_err(), ErrorCode::FRAME_SIZE_ERROR);
    assert_eq!(r.get_ref().reads, 1);
    assert!(!r.holds_buffer());
    // Exactly 16,384 is fine (h2spec 4.2/1); 16,385 is not (4.2/2).
    let ok = wire(&[data(1, vec![0; 16_384])]);
    assert_eq!(
        read_all(&mut reader(&ok, &pool, Config::new()))
            .unwrap()
            .len(),
        1
    );
    let mut over = ok.clone();
    over[2] = 0x01;
    over.push(0);
    assert_conn(
        &read_all(&mut reader(&over, &pool, Config::new())).unwrap_err(),
        ErrorCode::FRAME_SIZE_ERROR,
    );
    // Raised to 1 MiB: a 1 MiB frame is read into one buffer of at most max + 9.
    let big = wire(&[data(1, vec![5; 1 << 20])]);
    let cfg = Config::builder().max_frame_size(1 << 20).build().unwrap();
    let mut r = FrameReader::with_config(Script::chunked(&big, 64 * 1024), pool.clone(), cfg);
    let f = r.read_frame().unwrap().unwrap();
    let Frame::Data(d) = &f else { panic!() };
    assert!(d.data.is_view());
    assert!(d.data.pinned_bytes() <= (1 << 20) + 9);
    drop(f);
    // set_max_frame_size applies from the next header.
    let mut r = reader(&over, &pool, Config::new());
    r.set_max_frame_size(16_385).unwrap();
    assert_eq!(read_all(&mut r).unwrap().len(), 1);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn stream_errors_leave_the_reader_usable_connection_errors_kill_it() {
    let pool = PoolHandle::from(Pool::new());
    let mut bytes = vec![0, 0, 4, 8, 0, 0, 0, 0, 1, 0, 0, 0, 0]; // WINDOW_UPDATE 0 on stream 1
    bytes.extend_from_slice(&[0, 0, 4, 2, 0, 0, 0, 0, 3, 0, 0, 0, 1]); // PRIORITY len 4
    bytes.extend(wire(&[ping(1)]));
    bytes.extend_from_slice(&[0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // WINDOW_UPDATE 0 on 0
    bytes.extend(wire(&[ping(2)]));
    // Byte by byte (every frame completed on the general path), in 7-byte pieces, and all at
    // once (every frame wholly buffered: the fast path).
    for chunk in [1, 7, bytes.len()] {
        let mut r =
            FrameReader::with_config(Script::chunked(&bytes, chunk), pool.clone(), Config::new());
        let e = r.read_frame().unwrap_err();
        assert_eq!(
            (e.code(), e.scope()),
            (Some(ErrorCode::PROTOCOL_ERROR), Some(Scope::Stream(1)))
        );
        let e = r.read_frame().unwrap_err();
        assert_eq!(
            (e.code(), e.scope()),
            (Some(ErrorCode::FRAME_SIZE_ERROR), Some(Scope::Stream(3)))
        );
        assert_eq!(r.read_frame().unwrap(), Some(ping(1)));
        assert_conn(&r.read_frame().unwrap_err(), ErrorCode::PROTOCOL_ERROR);
        assert_conn(&r.read_frame().unwrap_err(), ErrorCode::PROTOCOL_ERROR); // sticky
        assert!(!r.holds_buffer());
        drop(r);
        assert_eq!(pool.stats().in_use(), 0);
    }
}

#[test]
fn settings_values() {
    // Each boolean setting at both valid values and the first invalid one, each range at
    // its edges.
    let cases: [(u16, u32, Option<ErrorCode>); 17] = [
        (Setting::ENABLE_PUSH, 0, None),
        (Setting::ENABLE_PUSH, 1, None),
        (Setting::ENABLE_PUSH, 2, Some(ErrorCode::PROTOCOL_ERROR)),
        (Setting::INITIAL_WINDOW_SIZE, 0x7fff_ffff, None),
        (
            Setting::INITIAL_WINDOW_SIZE,
            0x8000_0000,
            Some(ErrorCode::FLOW_CONTROL_ERROR),
        ),
        (
            Setting::MAX_FRAME_SIZE,
            16_383,
            Some(ErrorCode::PROTOCOL_ERROR),
        ),
        (Setting::MAX_FRAME_SIZE, 16_384, None),
        (Setting::MAX_FRAME_SIZE, 16_777_215, None),
        (
            Setting::MAX_FRAME_SIZE,
            1 << 24,
            Some(ErrorCode::PROTOCOL_ERROR),
        ),
        (Setting::ENABLE_CONNECT_PROTOCOL, 0, None),
        (Setting::ENABLE_CONNECT_PROTOCOL, 1, None),
        (
            Setting::ENABLE_CONNECT_PROTOCOL,
            2,
            Some(ErrorCode::PROTOCOL_ERROR),
        ),
        (Setting::NO_RFC7540_PRIORITIES, 0, None),
        (Setting::NO_RFC7540_PRIORITIES, 1, None),
        (
            Setting::NO_RFC7540_PRIORITIES,
            2,
            Some(ErrorCode::PROTOCOL_ERROR),
        ),
        (Setting::INITIAL_WINDOW_SIZE, 0, None),
        (0xff, 12345, None), // unknown ids are ignored (h2spec 6.5.2/5)
    ];
    for (id, value, want) in cases {
        let w = wire(&[Frame::Settings(Settings::new(&[Setting { id, value }]))]);
        match (decode(&w), want) {
            (Ok(Some(_)), None) => {}
            (Err(e), Some(code)) => assert_conn(&e, code),
            (r, _) => panic!("setting {id}={value}: {r:?}"),
        }
    }
    // Last value wins (h2spec 6.5.3/1).
    let s = Settings::new(&[Setting { id: 4, value: 100 }, Setting { id: 4, value: 1 }]);
    let Some((Frame::Settings(s), _)) = decode(&wire(&[Frame::Settings(s)])).unwrap() else {
        panic!()
    };
    assert_eq!(s.get(4), Some(1));
}

#[test]
fn lengths_padding_flags_reserved_bits() {
    // PADDED with length 0: FRAME_SIZE_ERROR (DATA, HEADERS, PUSH_PROMISE).
    for t in [0u8, 1, 5] {
        assert_conn(
            &decode(&[0, 0, 0, t, 0x8, 0, 0, 0, 1]).unwrap_err(),
            ErrorCode::FRAME_SIZE_ERROR,
        );
    }
    // HEADERS with PRIORITY and 4 bytes: too short.
    assert_conn(
        &decode(&[0, 0, 4, 1, 0x20, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap_err(),
        ErrorCode::FRAME_SIZE_ERROR,
    );
    // Pad length equal to what remains: legal, empty data. One more: PROTOCOL_ERROR (§6.1/3).
    let (f, _) = decode(&[0, 0, 3, 0, 0x8, 0, 0, 0, 1, 2, 0, 0])
        .unwrap()
        .unwrap();
    assert!(
        matches!(f, Frame::Data(d) if d.data.is_empty() && d.padding.as_ref().unwrap().len() == 2)
    );
    assert_conn(
        &decode(&[0, 0, 3, 0, 0x8, 0, 0, 0, 1, 3, 0, 0]).unwrap_err(),
        ErrorCode::PROTOCOL_ERROR,
    );
    // HEADERS pad too long is a connection error in RFC 9113 (§6.2).
    assert_conn(
        &decode(&[0, 0, 2, 1, 0x8, 0, 0, 0, 1, 2, 0]).unwrap_err(),
        ErrorCode::PROTOCOL_ERROR,
    );
    // Non-zero padding: accepted by default, refused on request.
    let w = [0, 0, 3, 0, 0x8, 0, 0, 0, 1, 1, b'a', 0xff];
    assert!(decode(&w).is_ok());
    let strict = Config::builder()
        .reject_nonzero_padding(true)
        .build()
        .unwrap();
    let e = Decoder::with_config(&strict).decode(&w).unwrap_err();
    assert_conn(&e, ErrorCode::PROTOCOL_ERROR);
    // PING with undefined flags 0x16 and the R bit set (h2spec 4.1/2-3): a plain PING.
    let (f, _) = decode(&[0, 0, 8, 6, 0x16, 0x80, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8])
        .unwrap()
        .unwrap();
    assert_eq!(
        f,
        Frame::Ping(Ping {
            ack: false,
            data: [1, 2, 3, 4, 5, 6, 7, 8]
        })
    );
    // Reserved bits of WINDOW_UPDATE, GOAWAY, PUSH_PROMISE ids are masked.
    let (f, _) = decode(&[0, 0, 4, 8, 0, 0, 0, 0, 1, 0x80, 0, 0, 5])
        .unwrap()
        .unwrap();
    assert_eq!(
        f,
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 1,
            increment: 5
        })
    );
    let (f, _) = decode(&[0, 0, 8, 7, 0, 0, 0, 0, 0, 0x80, 0, 0, 3, 0, 0, 0, 0x42])
        .unwrap()
        .unwrap();
    assert!(matches!(f, Frame::GoAway(g) if g.last_stream_id == 3 && g.error_code.0 == 0x42));
    let (f, _) = decode(&[0, 0, 4, 5, 4, 0, 0, 0, 1, 0x80, 0, 0, 2])
        .unwrap()
        .unwrap();
    assert!(matches!(f, Frame::PushPromise(p) if p.promised_id == 2));
    // WINDOW_UPDATE 0 on stream 0 is a connection error; RST_STREAM len 3 too (§6.4).
    assert_conn(
        &decode(&[0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap_err(),
        ErrorCode::PROTOCOL_ERROR,
    );
    assert_conn(
        &decode(&[0, 0, 3, 3, 0, 0, 0, 0, 1, 0, 0, 0]).unwrap_err(),
        ErrorCode::FRAME_SIZE_ERROR,
    );
    // GOAWAY / RST_STREAM with unknown error codes are not errors (§7).
    assert!(
        decode(&[0, 0, 4, 3, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff])
            .unwrap()
            .is_some()
    );
    // Incomplete input is not an error.
    assert!(decode(&[0, 0, 8, 6, 0, 0, 0, 0, 0, 1]).unwrap().is_none());
}

#[test]
fn eof_inside_a_frame() {
    let pool = PoolHandle::from(Pool::new());
    let w = wire(&[ping(1), data(1, vec![1; 100])]);
    for cut in [w.len() - 1, 17 + 5, 17 + 9] {
        let mut r = reader(&w[..cut], &pool, Config::new());
        assert_eq!(r.read_frame().unwrap(), Some(ping(1)));
        assert!(
            matches!(r.read_frame(), Err(Error::UnexpectedEof { .. })),
            "cut {cut}"
        );
    }
    drop(pool);
}

#[test]
fn writer_refuses_what_it_cannot_encode() {
    let mut w = FrameWriter::new();
    let bad = [
        Frame::Data(Data {
            stream_id: 1,
            end_stream: false,
            data: Payload::new(),
            padding: Some(Payload::from(vec![0; 256])),
        }),
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 0,
            increment: 1 << 31,
        }),
        Frame::Priority(Priority {
            stream_id: 1,
            spec: PrioritySpec {
                exclusive: false,
                dependency: 0,
                weight: 0,
            },
        }),
        Frame::Unknown(Unknown {
            kind: 3,
            flags: 0,
            stream_id: 0,
            payload: Payload::new(),
        }),
        ping(0).clone(),
    ];
    let mut out = Vec::new();
    for f in &bad[..4] {
        let e = w.write(&mut out, f).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{f:?}");
        assert!(!e.is_fatal());
    }
    assert!(out.is_empty());
    w.write(&mut out, &bad[4]).unwrap();
    assert_eq!(out.len(), 17);
    assert!(w.set_max_frame_size(100).is_err());
    assert_eq!(w.max_frame_size(), 16_384);
}

#[test]
fn a_peer_announcing_a_large_frame_pins_memory_only_as_bytes_arrive() {
    let pool = PoolHandle::from(Pool::new());
    let cfg = Config::builder().max_frame_size(1 << 20).build().unwrap();
    let payload = vec![9u8; 1 << 20];
    let mut w = FrameWriter::new();
    w.set_max_frame_size(1 << 20).unwrap();
    let mut wire = Vec::new();
    w.write(
        &mut wire,
        &Frame::Data(Data {
            stream_id: 1,
            end_stream: false,
            data: Payload::from(payload.clone()),
            padding: None,
        }),
    )
    .unwrap();
    // The 9-byte header and one payload byte, then the peer goes quiet.
    let mut r = FrameReader::with_config(
        Script::new([Step::Bytes(wire[..10].to_vec()), Step::WouldBlock]),
        pool.clone(),
        cfg.clone(),
    );
    assert!(r.try_read_frame().unwrap_err().is_would_block());
    let s = pool.stats();
    assert_eq!(
        s.class(4).unwrap().misses + s.unpooled().misses,
        0,
        "no 1 MiB buffer for 10 bytes: {s:?}"
    );
    drop(r);
    // Dribbled in 8 KiB pieces the frame still arrives whole, growing as it comes.
    let mut r = FrameReader::with_config(Script::chunked(&wire, 8192), pool.clone(), cfg);
    let Some(Frame::Data(d)) = r.read_frame().unwrap() else {
        panic!("not DATA")
    };
    assert_eq!(d.data.as_ref(), &payload[..]);
    drop(d);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn eof_inside_a_frame_gives_the_buffer_back_and_stays_an_error() {
    let pool = PoolHandle::from(Pool::new());
    let ping = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2];
    let mut r = FrameReader::with_pool(Script::new([Step::Bytes(ping.to_vec())]), pool.clone());
    for _ in 0..3 {
        assert!(matches!(r.read_frame(), Err(Error::UnexpectedEof { .. })));
        assert!(!r.holds_buffer());
        assert_eq!(pool.stats().in_use(), 0);
    }
}

#[test]
fn frame_size_is_checked_before_field_block_sequencing() {
    let pool = PoolHandle::from(Pool::new());
    let cfg = Config::builder()
        .continuation_limits(64, 8000)
        .build()
        .unwrap();
    // HEADERS on stream 1 without END_HEADERS (an open field block), then a CONTINUATION
    // header announcing 20,000 bytes: over both the 16,384 frame size and the 8,000-byte cap.
    let mut wire = vec![0, 0, 1, 0x1, 0x0, 0, 0, 0, 1, 0x82];
    wire.extend_from_slice(&[0x00, 0x4e, 0x20, 0x9, 0x0, 0, 0, 0, 1]);
    let mut r = FrameReader::with_config(Script::new([Step::Bytes(wire)]), pool.clone(), cfg);
    assert!(matches!(r.read_frame(), Ok(Some(Frame::Headers(_)))));
    let e = r.read_frame().unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::FRAME_SIZE_ERROR), "{e:?}");
    assert!(e.is_connection_error());
}

/// A transport that records the size asked for by every read into a fresh buffer (the reads
/// at frame boundaries), and forwards everything to a [`Script`].
struct Recording {
    inner: Script,
    sizes: Vec<usize>,
}

impl ReadyRead for Recording {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> std::io::Result<Option<Buf>> {
        self.sizes.push(size);
        self.inner.read_ready(size, pool)
    }
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> std::io::Result<Option<Buf>> {
        self.sizes.push(size);
        self.inner.try_read_ready(size, pool)
    }
    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> std::io::Result<usize> {
        self.inner.append_ready(buf, max)
    }
    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> std::io::Result<usize> {
        self.inner.try_append_ready(buf, max)
    }
}

#[test]
fn the_read_after_a_large_frame_asks_for_one_read_buffer_again() {
    let pool = PoolHandle::from(Pool::new());
    let cfg = Config::builder().max_frame_size(1 << 20).build().unwrap();
    let bytes = wire(&[data(1, vec![3; 1 << 20]), ping(1), ping(2)]);
    for blocking in [true, false] {
        let io = Recording {
            inner: Script::chunked(&bytes, 64 * 1024),
            sizes: Vec::new(),
        };
        let mut r = FrameReader::with_config(io, pool.clone(), cfg.clone());
        let next = |r: &mut FrameReader<Recording>| {
            if blocking {
                r.read_frame().unwrap().unwrap()
            } else {
                r.try_read_frame().unwrap().unwrap()
            }
        };
        let Frame::Data(d) = next(&mut r) else {
            panic!("not DATA")
        };
        assert_eq!(d.data.len(), 1 << 20);
        drop(d);
        assert!(!r.holds_buffer());
        let unpooled = pool.stats().unpooled().misses;
        let before = r.get_ref().sizes.len();
        assert_eq!(next(&mut r), ping(1));
        assert_eq!(next(&mut r), ping(2));
        let sizes = &r.get_ref().sizes[before..];
        assert!(!sizes.is_empty());
        // Each PING's read asks for the configured 32 KiB, not the 1 MiB + 9 of the frame
        // before it (which the pool could only serve with an unpooled allocation).
        assert!(sizes.iter().all(|&s| s <= 32 * 1024), "{sizes:?}");
        assert_eq!(pool.stats().unpooled().misses, unpooled);
    }
    assert_eq!(pool.stats().in_use(), 0);
}

fn settings() -> Frame {
    Frame::Settings(Settings::new(&[Setting {
        id: Setting::MAX_CONCURRENT_STREAMS,
        value: 100,
    }]))
}

fn push_promise() -> Frame {
    Frame::PushPromise(PushPromise {
        stream_id: 1,
        end_headers: true,
        promised_id: 2,
        fragment: Payload::from(&[0x82u8][..]),
        padding: None,
    })
}

#[test]
fn a_server_reader_wants_settings_first_and_refuses_push_promise() {
    let pool = PoolHandle::from(Pool::new());
    let server = Config::builder()
        .expect_client_preface(true)
        .build()
        .unwrap();
    let with_preface = |frames: &[Frame]| {
        let mut v = CLIENT_PREFACE.to_vec();
        v.extend(wire(frames));
        v
    };
    // RFC 9113 §3.4: the preface is followed by a SETTINGS frame.
    let good = [settings(), ping(1), Frame::Settings(Settings::ack())];
    for chunk in [1, 7, 24, 100] {
        let mut r = FrameReader::with_config(
            Script::chunked(&with_preface(&good), chunk),
            pool.clone(),
            server.clone(),
        );
        assert_eq!(read_all(&mut r).unwrap(), good);
    }
    // An empty SETTINGS is a SETTINGS too.
    let empty = [Frame::Settings(Settings::new(&[])), ping(1)];
    let mut r = reader(&with_preface(&empty), &pool, server.clone());
    assert_eq!(read_all(&mut r).unwrap(), empty);
    // Anything else first is a connection PROTOCOL_ERROR, decided from the header: the
    // script holds the preface and a 9-byte header only, and no payload is waited for.
    let mut unknown = CLIENT_PREFACE.to_vec();
    unknown.extend_from_slice(&[0, 0, 4, 0x20, 0, 0, 0, 0, 0]);
    let firsts: [Vec<u8>; 5] = [
        with_preface(&[ping(1)])[..24 + 9].to_vec(),
        with_preface(&[Frame::Settings(Settings::ack())]),
        with_preface(&[data(1, vec![1, 2, 3])])[..24 + 9].to_vec(),
        with_preface(&[headers(1, true, b"\x82")])[..24 + 9].to_vec(),
        unknown, // an unknown type, which would otherwise be skipped
    ];
    for (i, bytes) in firsts.iter().enumerate() {
        for blocking in [true, false] {
            let mut r = reader(bytes, &pool, server.clone());
            let e = if blocking {
                r.read_frame().unwrap_err()
            } else {
                r.try_read_frame().unwrap_err()
            };
            assert_conn(&e, ErrorCode::PROTOCOL_ERROR);
            assert!(e.reason().contains("SETTINGS"), "case {i}: {e}");
            assert!(!r.holds_buffer());
            // Sticky, like every connection error.
            assert_conn(&r.read_frame().unwrap_err(), ErrorCode::PROTOCOL_ERROR);
        }
    }
    // RFC 9113 §8.4: a client cannot push, so a server refuses PUSH_PROMISE, from its header.
    let pp = with_preface(&[settings(), push_promise()]);
    let header_only = &pp[..pp.len() - push_promise().payload_len()];
    for bytes in [&pp[..], header_only] {
        let mut r = reader(bytes, &pool, server.clone());
        assert_eq!(r.read_frame().unwrap().unwrap(), settings());
        let e = r.read_frame().unwrap_err();
        assert_conn(&e, ErrorCode::PROTOCOL_ERROR);
        assert!(e.reason().contains("PUSH_PROMISE"), "{e}");
    }
    // The client side (no preface expected) takes PUSH_PROMISE, and any frame first.
    let client = [ping(1), push_promise()];
    let mut r = reader(&wire(&client), &pool, Config::new());
    assert_eq!(read_all(&mut r).unwrap(), client);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn the_header_block_cap_is_checked_from_the_frame_header() {
    let pool = PoolHandle::from(Pool::new());
    let cfg = Config::builder()
        .continuation_limits(64, 8000)
        .build()
        .unwrap();
    // A HEADERS (and a PUSH_PROMISE) header announcing 12,000 bytes, under the 16,384 frame
    // size but over the 8,000-byte block cap, and nothing after it: the error comes from the
    // 9 bytes alone, in one read, with no buffer kept.
    for (kind, flags) in [(1u8, 0x4u8), (1, 0x0), (1, 0x2c), (5, 0x4)] {
        let hdr = FrameHeader {
            length: 12_000,
            kind,
            flags,
            stream_id: 1,
        }
        .encode();
        for blocking in [true, false] {
            let mut r = FrameReader::with_config(
                Script::new([Step::Bytes(hdr.to_vec())]),
                pool.clone(),
                cfg.clone(),
            );
            let e = if blocking {
                r.read_frame().unwrap_err()
            } else {
                r.try_read_frame().unwrap_err()
            };
            assert_conn(&e, ErrorCode::ENHANCE_YOUR_CALM);
            assert_eq!(r.get_ref().reads, 1);
            assert!(!r.holds_buffer());
        }
    }
    // Over the cap with END_HEADERS, wholly buffered and small enough to be copied rather
    // than viewed (one read: the fast path's situation), then a PING: refused all the same.
    let small_cap = Config::builder()
        .continuation_limits(64, 100)
        .build()
        .unwrap();
    for (len, refused) in [(100, false), (101, true)] {
        // (The first frame always comes through the general path: nothing is buffered
        // before the first read. So a PING first.)
        let w = wire(&[ping(0), headers(1, true, &vec![0x82; len]), ping(1)]);
        let mut r = FrameReader::with_config(
            Script::chunked(&w, w.len()),
            pool.clone(),
            small_cap.clone(),
        );
        assert_eq!(r.read_frame().unwrap(), Some(ping(0)));
        match r.read_frame() {
            Err(e) if refused => assert_conn(&e, ErrorCode::ENHANCE_YOUR_CALM),
            Ok(Some(Frame::Headers(h))) if !refused => assert_eq!(h.fragment.len(), len),
            other => panic!("{len}: {other:?}"),
        }
    }
    // At the cap is fine; one byte of CONTINUATION more is not.
    let at_cap = [headers(1, true, &[0x82; 8000]), ping(1)];
    let mut r = reader(&wire(&at_cap), &pool, cfg.clone());
    assert_eq!(read_all(&mut r).unwrap(), at_cap);
    // The same across a CONTINUATION: a block of exactly the cap is fine ...
    let at_cap = [
        headers(1, false, &[0x82; 7999]),
        cont(1, true, b"\x82"),
        ping(1),
    ];
    let mut r = reader(&wire(&at_cap), &pool, cfg.clone());
    assert_eq!(read_all(&mut r).unwrap(), at_cap);
    let over = [headers(1, false, &[0x82; 8000]), cont(1, true, b"\x82")];
    let mut r = reader(&wire(&over), &pool, cfg.clone());
    assert!(matches!(r.read_frame(), Ok(Some(Frame::Headers(_)))));
    assert_conn(&r.read_frame().unwrap_err(), ErrorCode::ENHANCE_YOUR_CALM);
    assert_eq!(pool.stats().in_use(), 0);
}

fn settings_with(value: u32) -> Frame {
    Frame::Settings(Settings::new(&[Setting {
        id: Setting::MAX_CONCURRENT_STREAMS,
        value,
    }]))
}

#[test]
fn replies_flushed_resets_the_pending_reply_count() {
    let pool = PoolHandle::from(Pool::new());
    // 5,000 PINGs and SETTINGS (each obliging a reply) with a PING ACK and a SETTINGS ACK
    // (obliging nothing) among them, in 7-byte chunks, against a cap of 8; the caller flushes
    // its replies every `k` frames that wanted one, for every k up to the cap: never refused.
    let mut frames = Vec::new();
    for i in 0..2_500u32 {
        frames.push(ping(i as u8));
        frames.push(settings_with(i));
        if i % 3 == 0 {
            frames.push(Frame::Ping(Ping {
                ack: true,
                data: [0; 8],
            }));
            frames.push(Frame::Settings(Settings::ack()));
        }
    }
    let bytes = wire(&frames);
    let cfg = Config::builder()
        .max_pending_replies(Some(8))
        .build()
        .unwrap();
    for k in 1..=8 {
        let mut r = reader(&bytes, &pool, cfg.clone());
        let mut wanted = 0;
        let mut got = 0;
        while let Some(f) = r.read_frame().unwrap() {
            assert_eq!(f, frames[got]);
            got += 1;
            if matches!(&f, Frame::Ping(p) if !p.ack)
                || matches!(&f, Frame::Settings(s) if !s.is_ack())
            {
                wanted += 1;
                assert_eq!(r.pending_replies(), (wanted - 1) % k + 1);
                if wanted % k == 0 {
                    r.replies_flushed();
                    assert_eq!(r.pending_replies(), 0);
                }
            }
        }
        assert_eq!((got, wanted), (frames.len(), 5_000), "k = {k}");
    }
    // One flush after 5 frames that want a reply, then none: 8 more are returned and the
    // 14th is refused (a connection ENHANCE_YOUR_CALM; the reader is dead from then on).
    let mut r = reader(&bytes, &pool, cfg.clone());
    let mut wanted = 0;
    let e = loop {
        match r.read_frame() {
            Ok(Some(f)) => {
                if matches!(&f, Frame::Ping(p) if !p.ack)
                    || matches!(&f, Frame::Settings(s) if !s.is_ack())
                {
                    wanted += 1;
                    if wanted == 5 {
                        r.replies_flushed();
                    }
                }
            }
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert_eq!(wanted, 13);
    assert_eq!(r.pending_replies(), 8);
    assert_conn(&e, ErrorCode::ENHANCE_YOUR_CALM);
    assert_conn(&r.read_frame().unwrap_err(), ErrorCode::ENHANCE_YOUR_CALM);
    assert!(!r.holds_buffer());
    // The same byte by byte with a WouldBlock before each byte (the general path).
    let steps: Vec<Step> = bytes
        .iter()
        .flat_map(|&b| [Step::WouldBlock, Step::Bytes(vec![b])])
        .collect();
    let mut r = FrameReader::with_config(Script::new(steps), pool.clone(), cfg);
    let mut wanted = 0;
    let e = loop {
        match r.try_read_frame() {
            Ok(Some(f)) => {
                if matches!(&f, Frame::Ping(p) if !p.ack)
                    || matches!(&f, Frame::Settings(s) if !s.is_ack())
                {
                    wanted += 1;
                    if wanted % 8 == 0 {
                        r.replies_flushed();
                    }
                }
            }
            Ok(None) => break None,
            Err(e) if e.is_would_block() => {}
            Err(e) => break Some(e),
        }
    };
    assert!(e.is_none(), "{e:?}");
    assert_eq!(wanted, 5_000);
    // Off (the default), nothing is refused, and the count keeps going.
    let mut r = reader(&bytes, &pool, Config::new());
    assert_eq!(read_all(&mut r).unwrap().len(), frames.len());
    assert_eq!(r.pending_replies(), 5_000);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn the_readers_accessors_report_its_state() {
    let pool = PoolHandle::from(Pool::new());
    let cfg = Config::builder()
        .read_buffer_size(8192)
        .max_frame_size(20_000)
        .build()
        .unwrap();
    // HEADERS without END_HEADERS, then its CONTINUATION cut short.
    let mut w = wire(&[headers(1, false, b"a"), cont(1, true, b"bc")]);
    let cut = w.len() - 1;
    let last = w.split_off(cut);
    let mut r = FrameReader::with_config(
        Script::new([Step::Bytes(w), Step::WouldBlock, Step::Bytes(last)]),
        pool.clone(),
        cfg.clone(),
    );
    assert_eq!(r.config(), &cfg);
    assert!(!r.pool().is_global());
    assert_eq!(r.pool().stats().in_use(), 0);
    assert!(!r.in_header_block());
    assert_eq!(r.read_buffer_bytes(), 0);
    assert!(matches!(r.read_frame(), Ok(Some(Frame::Headers(_)))));
    assert!(r.in_header_block());
    // The CONTINUATION's first 10 of 11 bytes are buffered, in one pool buffer.
    assert!(r.try_read_frame().unwrap_err().is_would_block());
    assert!(r.in_header_block());
    assert_eq!(r.buffered(), 10);
    assert!(r.holds_buffer());
    assert_eq!(pool.stats().in_use(), 1);
    // It pins exactly that buffer's capacity: the size of the class it came from (the
    // reader's own pool, which lent it).
    let stats = r.pool().stats();
    let lent: Vec<_> = stats.classes().iter().filter(|c| c.in_use > 0).collect();
    assert_eq!(lent.len(), 1);
    assert_eq!(r.read_buffer_bytes(), lent[0].size);
    assert!(matches!(r.read_frame(), Ok(Some(Frame::Continuation(_)))));
    assert!(!r.in_header_block());
    assert_eq!(r.read_buffer_bytes(), 0);
    assert_eq!(pool.stats().in_use(), 0);
    // The global pool's reader says so.
    assert!(FrameReader::new(Script::new([])).pool().is_global());
}

/// At the reply cap, only frames that oblige a reply are refused: ACKs, WINDOW_UPDATE and DATA
/// still come through, read in 1-byte pieces (the general path checks the cap from the header)
/// and all in one read (the fast path).
#[test]
fn at_the_reply_cap_only_frames_wanting_a_reply_are_refused() {
    let pool = PoolHandle::from(Pool::new());
    let cfg = Config::builder()
        .max_pending_replies(Some(2))
        .build()
        .unwrap();
    let fine = [
        ping(1),
        settings_with(5),
        Frame::Ping(Ping {
            ack: true,
            data: [0; 8],
        }),
        Frame::Settings(Settings::ack()),
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 0,
            increment: 10,
        }),
        data(1, vec![9; 3]),
    ];
    for refused in [ping(2), settings_with(6)] {
        let mut frames = fine.to_vec();
        frames.push(refused);
        let w = wire(&frames);
        for chunk in [1, w.len()] {
            let mut r =
                FrameReader::with_config(Script::chunked(&w, chunk), pool.clone(), cfg.clone());
            for f in &fine {
                assert_eq!(
                    r.read_frame().unwrap().as_ref(),
                    Some(f),
                    "reads of {chunk}"
                );
            }
            assert_eq!(r.pending_replies(), 2);
            let e = r.read_frame().unwrap_err();
            assert_conn(&e, ErrorCode::ENHANCE_YOUR_CALM);
        }
    }
    assert_eq!(pool.stats().in_use(), 0);
}

/// What the server tells a client that sent HTTP/1.x: the bytes' first read decides, whole
/// request lines and single bytes alike.
#[test]
fn a_bad_preface_is_told_apart_from_http1() {
    let cfg = Config::builder()
        .expect_client_preface(true)
        .build()
        .unwrap();
    let cases: [(&[u8], bool); 9] = [
        (b"GET / HTTP/1.1\r\n", true),
        (b"OPTIONS * HTTP/1.1\r\n", true),
        (b"G", true),
        (b"GET", true),
        (b" GET /\r\n", false),
        (b"get /\r\n", false),
        (b"GE1 /\r\n", false),
        (b"PRI * HTTP/1.1\r\n", true),
        (b"\x16\x03\x01\x02\x00", false), // a TLS ClientHello
    ];
    for (bytes, http1) in cases {
        let mut r =
            FrameReader::with_config(Script::chunked(bytes, bytes.len()), global(), cfg.clone());
        let e = r.read_frame().unwrap_err();
        assert_eq!(
            e,
            Error::BadPreface { http1 },
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn a_readers_debug_shows_its_state() {
    let r = FrameReader::new(Script::new([]));
    assert_eq!(
        format!("{r:?}"),
        "FrameReader { buffered: 0, in_header_block: false, pending_replies: 0, dead: None, \
         truncated: None }"
    );
    let mut r = FrameReader::new(Script::chunked(&wire(&[ping(1)])[..5], 5));
    assert!(r.read_frame().is_err());
    assert_eq!(
        format!("{r:?}"),
        "FrameReader { buffered: 0, in_header_block: false, pending_replies: 0, dead: None, \
         truncated: Some(5) }"
    );
}
