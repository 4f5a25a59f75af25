//! `h2_reader`: the stateful `FrameReader` over arbitrary byte streams and chunkings.
//!
//! Input layout (missing bytes read as 0):
//! * `a`: bit 0 server side (expects the client preface); bit 1 surface unknown frames;
//!   bit 2 reject non-zero padding; bits 3-4 max frame size (16,384, 65,535, 1 MiB,
//!   16,777,215); bits 5-7 read buffer size (64, 100, 256, 1000, 4096, 16 KiB, 32 KiB, 64 KiB).
//! * `b`: bits 0-1 CONTINUATION limits ((64, 256 KiB) default, (0, 0), (1, 100), (3, 4096));
//!   bits 2-3 copy-out ratio (16, 1, 4, 1000); bit 4 `WouldBlock`s; bit 5 `Interrupted`s.
//! * chunking, read methods (bit 0 of each: `read_frame` or `try_read_frame`), then the
//!   byte stream.
//!
//! The same stream is read twice: once in one piece with blocking reads (the reference),
//! once chunked as the input says. Checks: both runs give the same frames and errors (stream
//! errors go on, the run ends at a connection error, a bad preface, a truncated frame or a
//! clean end, which then repeats); every frame equals `Decoder::decode` of its own bytes;
//! views follow the copy-out rule; after each call, with its frame dropped, the reader holds
//! at most one buffer (none when it says it holds none, and none after the end), never
//! larger than `pool.get(max(read buffer size, max frame size + 9))`, and — whenever it is
//! about to wait — no larger than `pool.get(max(read buffer size, 2 × bytes held))` (the
//! documented bound for a peer that announces a large frame and goes quiet); nothing in use
//! after the reader is dropped.

use crate::h2_decode::check_pinning;
use crate::{Delivery, Input, MemTransport, assert_buffers_within};
use slackwater_h2frame::{
    Config, Decoder, Error, ErrorCode, FrameReader, MAX_FRAME_SIZE_LIMIT, Pool, PoolHandle, encode,
    global,
};
use std::sync::OnceLock;

/// One thing a read returned.
#[derive(Debug, PartialEq)]
enum Ev {
    /// The frame as `encode` writes it (a copy: the harness keeps no view of the reader's
    /// buffers).
    Frame(Vec<u8>),
    StreamError(Option<ErrorCode>, u32, &'static str),
    End(End),
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
enum End {
    Eof,
    Connection(Option<ErrorCode>, &'static str),
    BadPreface,
    Truncated(usize),
}

fn end_of(e: &Error) -> Option<End> {
    match e {
        Error::BadPreface { .. } => Some(End::BadPreface),
        Error::UnexpectedEof { buffered } => Some(End::Truncated(*buffered)),
        Error::Protocol { .. } if e.is_connection_error() => {
            Some(End::Connection(e.code(), e.reason()))
        }
        _ => None,
    }
}

struct Setup {
    cfg: Config,
    rbs: usize,
    mfs: u32,
    ratio: usize,
}

/// Whether the at-a-wait bound is checked (`SLACKWATER_FUZZ_NO_WAIT_BOUND` set: not, so a
/// long run can go past a known violation).
fn check_wait_bound() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SLACKWATER_FUZZ_NO_WAIT_BOUND").is_none())
}

/// Reads to the end. `ops` empty: the reference run (blocking).
fn read_all(s: &Setup, stream: &[u8], how: Delivery, ops: &[u8], check: bool) -> Vec<Ev> {
    let pool = PoolHandle::from(Pool::new());
    let mut evs = Vec::new();
    {
        let t = MemTransport::new(stream.to_vec(), how);
        let mut r = FrameReader::with_config(t, pool.clone(), s.cfg.clone());
        let decoder = Decoder::with_config(&s.cfg);
        let mut i = 0usize;
        let mut idle_calls = 0usize;
        let end = loop {
            let op = if ops.is_empty() {
                0
            } else {
                ops[i % ops.len()]
            };
            i += 1;
            let before = (r.get_ref().delivered(), evs.len());
            let res = if op & 1 == 0 {
                r.read_frame()
            } else {
                r.try_read_frame()
            };
            let mut waiting = false;
            let mut end = None;
            match res {
                Ok(Some(f)) => {
                    if check {
                        check_pinning(&f, s.ratio);
                        // The frame's own bytes, decoded alone, give the same frame.
                        let consumed = r.get_ref().delivered() - r.buffered();
                        let start = consumed - 9 - f.payload_len();
                        match decoder.decode(&stream[start..consumed]) {
                            Ok(Some((g, n))) => {
                                assert_eq!(n, consumed - start);
                                assert_eq!(g, f, "the reader and decode() disagree");
                            }
                            other => {
                                panic!("the reader gave {f:?}; decode() of its bytes: {other:?}")
                            }
                        }
                    }
                    let wire = encode(&f, global()).expect("a decoded frame encodes");
                    evs.push(Ev::Frame(wire.to_vec()));
                }
                Ok(None) => end = Some(End::Eof),
                Err(e) if e.is_would_block() => waiting = true,
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => match end_of(&e) {
                    Some(x) => end = Some(x),
                    None => match e.scope() {
                        Some(slackwater_h2frame::Scope::Stream(id)) => {
                            evs.push(Ev::StreamError(e.code(), id, e.reason()))
                        }
                        _ => panic!("unexpected reader error {e:?}"),
                    },
                },
            }
            // The returned frame is dropped by now: only the reader's buffer is out.
            if check {
                let held = usize::from(r.holds_buffer());
                assert_buffers_within(&pool, held, s.rbs.max(s.mfs as usize + 9), "FrameReader");
                if waiting && check_wait_bound() {
                    assert_buffers_within(
                        &pool,
                        held,
                        s.rbs.max(2 * r.buffered()).max(9),
                        "FrameReader waiting on a partial frame",
                    );
                }
            }
            if let Some(e) = end {
                break e;
            }
            if (r.get_ref().delivered(), evs.len()) == before {
                idle_calls += 1;
                assert!(idle_calls < 64, "no progress in 64 calls (livelock)");
            } else {
                idle_calls = 0;
            }
        };
        // The end repeats, and nothing is held after it.
        assert!(!r.holds_buffer(), "a buffer held after {end:?}");
        assert_eq!(pool.stats().in_use(), 0, "buffers out after {end:?}");
        let again = loop {
            match r.read_frame() {
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                x => break x,
            }
        };
        let again = match again {
            Ok(None) => Some(End::Eof),
            Err(e) => end_of(&e),
            Ok(Some(f)) => panic!("a frame {f:?} after {end:?}"),
        };
        // A bad preface repeats as the connection PROTOCOL_ERROR it is.
        let same = match (&end, &again) {
            (End::BadPreface, Some(End::Connection(code, _))) => {
                *code == Some(ErrorCode::PROTOCOL_ERROR)
            }
            (end, again) => again.as_ref() == Some(end),
        };
        assert!(same, "the end does not repeat: {end:?}, then {again:?}");
        if crate::trace() {
            let frames = evs.iter().filter(|e| matches!(e, Ev::Frame(_))).count();
            eprintln!(
                "FrameReader ({}): {frames} frames, {} events, then {end:?}",
                if check { "chunked" } else { "reference" },
                evs.len()
            );
        }
        evs.push(Ev::End(end));
    }
    assert_eq!(
        pool.stats().in_use(),
        0,
        "buffers out after the reader dropped"
    );
    evs
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let a = inp.u8();
    let b = inp.u8();
    let mfs = [16_384, 65_535, 1 << 20, MAX_FRAME_SIZE_LIMIT][usize::from(a >> 3 & 3)];
    let rbs = [64, 100, 256, 1000, 4096, 16 * 1024, 32 * 1024, 64 * 1024][usize::from(a >> 5)];
    let (frames, bytes) = [(64, 256 * 1024), (0, 0), (1, 100), (3, 4096)][usize::from(b & 3)];
    let ratio = [16, 1, 4, 1000][usize::from(b >> 2 & 3)];
    let reject = a & 4 != 0;
    let cfg = Config::builder()
        .expect_client_preface(a & 1 != 0)
        .surface_unknown_frames(a & 2 != 0)
        .reject_nonzero_padding(reject)
        .max_frame_size(mfs)
        .read_buffer_size(rbs)
        .continuation_limits(frames, bytes)
        .copy_out_ratio(ratio)
        .build()
        .expect("valid");
    let s = Setup {
        cfg,
        rbs,
        mfs,
        ratio,
    };
    let how = Delivery {
        sizes: inp.chunk_sizes(),
        would_block: b & 0x10 != 0,
        interrupts: b & 0x20 != 0,
    };
    let mut ops = inp.ops();
    if ops.is_empty() {
        ops.push(0);
    }
    let stream = inp.rest();
    let reference = read_all(&s, stream, Delivery::default(), &[], false);
    let chunked = read_all(&s, stream, how, &ops, true);
    assert_eq!(
        reference, chunked,
        "the chunked run differs from the one-piece run"
    );
}
