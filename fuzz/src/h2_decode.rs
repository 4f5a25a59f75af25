//! `h2_decode`: the stateless single-frame decoders and the encoders, as a round trip.
//!
//! Input layout: `cfg` (bits 0-1 the second decoder's max frame size: 16,384, 65,535,
//! 1 MiB, 16,777,215; bit 2 it rejects non-zero padding), then a byte stream decoded frame
//! after frame.
//!
//! Checks, per frame: `decode`, `Decoder::decode` and `Decoder::decode_shared` (over a pooled
//! copy) agree, and the default decoder agrees with a larger max frame size on every frame
//! within 16,384 bytes; `Ok(None)` only when fewer bytes than the frame are there; errors are
//! protocol errors with a scope (stream errors name the frame's stream); a decoded frame
//! carries its header's type, stream id, flags (those its type defines) and length; shared
//! payloads follow the copy-out rule; `encode` and `FrameWriter` give the same bytes, which
//! are the input frame with only reserved bits and undefined flags cleared, and decode back
//! to the same frame.

use crate::Input;
use slackwater_h2frame::{
    Config, Decoder, Error, Frame, FrameHeader, FrameWriter, MAX_FRAME_SIZE_LIMIT, Payload, Pool,
    Scope, decode, encode, flags, kind,
};

/// A decoder with the given max frame size and padding rule.
fn decoder(max_frame_size: u32, reject_nonzero_padding: bool) -> Decoder {
    let cfg = Config::builder()
        .max_frame_size(max_frame_size)
        .reject_nonzero_padding(reject_nonzero_padding)
        .build()
        .expect("valid");
    Decoder::with_config(&cfg)
}

/// The flags a frame type defines (what survives a decode/encode round trip).
pub(crate) fn defined_flags(k: u8) -> u8 {
    match k {
        kind::DATA => flags::END_STREAM | flags::PADDED,
        kind::HEADERS => flags::END_STREAM | flags::END_HEADERS | flags::PADDED | flags::PRIORITY,
        kind::SETTINGS | kind::PING => flags::ACK,
        kind::PUSH_PROMISE => flags::END_HEADERS | flags::PADDED,
        kind::CONTINUATION => flags::END_HEADERS,
        kind::PRIORITY | kind::RST_STREAM | kind::GOAWAY | kind::WINDOW_UPDATE => 0,
        _ => 0xff,
    }
}

/// The wire bytes of a valid frame as the encoder writes them: undefined flags and the
/// reserved bits (stream id, promised id, last stream id, window increment) cleared.
pub(crate) fn canonical(wire: &[u8]) -> Vec<u8> {
    let mut w = wire.to_vec();
    let k = w[3];
    w[4] &= defined_flags(k);
    w[5] &= 0x7f;
    let padded = w[4] & flags::PADDED != 0;
    match k {
        kind::PUSH_PROMISE => w[9 + usize::from(padded)] &= 0x7f,
        kind::GOAWAY | kind::WINDOW_UPDATE => w[9] &= 0x7f,
        _ => {}
    }
    w
}

/// The byte fields of a frame.
pub(crate) fn payloads(f: &Frame) -> Vec<&Payload> {
    match f {
        Frame::Data(d) => [Some(&d.data), d.padding.as_ref()]
            .into_iter()
            .flatten()
            .collect(),
        Frame::Headers(h) => [Some(&h.fragment), h.padding.as_ref()]
            .into_iter()
            .flatten()
            .collect(),
        Frame::PushPromise(p) => [Some(&p.fragment), p.padding.as_ref()]
            .into_iter()
            .flatten()
            .collect(),
        Frame::Settings(s) => vec![s.raw()],
        Frame::GoAway(g) => vec![&g.debug_data],
        Frame::Continuation(c) => vec![&c.fragment],
        Frame::Unknown(u) => vec![&u.payload],
        _ => vec![],
    }
}

/// Checks the copy-out rule on every byte field: a view pins at most `ratio` × its length.
pub(crate) fn check_pinning(f: &Frame, ratio: usize) {
    for p in payloads(f) {
        if p.is_view() {
            assert!(p.len() > Payload::INLINE_MAX, "a {}-byte view", p.len());
            assert!(
                p.len() * ratio >= p.pinned_bytes(),
                "a {}-byte payload pins {} bytes (ratio {ratio})",
                p.len(),
                p.pinned_bytes()
            );
        } else {
            assert_eq!(p.pinned_bytes(), 0);
        }
    }
}

type Decoded = Result<Option<(Frame, usize)>, Error>;

/// Whether two decode results are the same (frames compared by value, errors by code,
/// scope and reason).
pub(crate) fn same(a: &Decoded, b: &Decoded) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x == y,
        (Err(x), Err(y)) => (x.code(), x.scope(), x.reason()) == (y.code(), y.scope(), y.reason()),
        _ => false,
    }
}

/// Checks a decoded frame against its header and round-trips it.
fn round_trip(f: &Frame, wire: &[u8], pool: &Pool) {
    let h = FrameHeader::parse(wire).expect("9 bytes");
    assert_eq!(f.kind(), h.kind, "type");
    assert_eq!(f.stream_id(), h.stream_id, "stream id");
    assert_eq!(f.flags(), h.flags & defined_flags(h.kind), "flags");
    assert_eq!(f.payload_len(), h.length as usize, "payload length");
    assert_eq!(wire.len(), 9 + h.length as usize);

    let enc = encode(f, pool).expect("a decoded frame encodes");
    assert_eq!(
        &enc[..],
        &canonical(wire)[..],
        "re-encoded bytes differ from the input"
    );
    let mut w = FrameWriter::new();
    w.set_max_frame_size(MAX_FRAME_SIZE_LIMIT).expect("limit");
    let mut out = Vec::new();
    w.write(&mut out, f).expect("a decoded frame writes");
    assert_eq!(&out[..], &enc[..], "FrameWriter and encode differ");
    let d = decoder(MAX_FRAME_SIZE_LIMIT, false);
    let (f2, n) = d
        .decode(&enc)
        .unwrap_or_else(|e| panic!("re-encoded frame fails to decode: {e}"))
        .expect("whole frame");
    assert_eq!(n, enc.len());
    assert_eq!(&f2, f, "decode(encode(f)) != f");
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let cfg = inp.u8();
    let max = [16_384, 65_535, 1 << 20, MAX_FRAME_SIZE_LIMIT][usize::from(cfg & 3)];
    let reject = cfg & 4 != 0;
    let custom = decoder(max, reject);
    let big = decoder(MAX_FRAME_SIZE_LIMIT, false);
    let mut bytes = inp.rest();
    let pool = Pool::new();
    let mut frames = 0;
    while frames < 64 {
        frames += 1;
        let h = FrameHeader::parse(bytes);
        let r0 = decode(bytes);
        let r1 = custom.decode(bytes);
        let shared = {
            let mut b = pool.get(bytes.len()).expect("pool");
            b.extend_from_slice(bytes).expect("fits");
            b.freeze()
        };
        let r2 = custom.decode_shared(&shared);
        assert!(
            same(&r1, &r2),
            "decode and decode_shared differ: {r1:?} / {r2:?}"
        );
        if let Ok(Some((f, _))) = &r2 {
            check_pinning(f, 16);
        }
        drop(r2);
        drop(shared);
        if let Some(h) = h
            && h.length <= 16_384
        {
            let rb = big.decode(bytes);
            assert!(
                same(&r0, &rb),
                "max frame size changed a small frame: {r0:?} / {rb:?}"
            );
        }
        match &r1 {
            Ok(Some((f, n))) => {
                round_trip(f, &bytes[..*n], &pool);
                bytes = &bytes[*n..];
            }
            Ok(None) => {
                let short = match h {
                    None => bytes.len() < 9,
                    Some(h) => bytes.len() < 9 + h.length as usize,
                };
                assert!(short, "Ok(None) with a whole frame there");
                break;
            }
            Err(e) => {
                let h = h.expect("an error needs a header");
                assert!(matches!(e, Error::Protocol { .. }), "decode error {e:?}");
                match e.scope() {
                    Some(Scope::Connection) => break,
                    Some(Scope::Stream(id)) => {
                        assert_eq!(id, h.stream_id, "stream error names another stream");
                        assert_ne!(id, 0, "stream error on stream 0");
                        // A stream error is decided with the whole frame there: skip it.
                        bytes = &bytes[9 + h.length as usize..];
                    }
                    None => panic!("protocol error without a scope: {e:?}"),
                }
            }
        }
        assert_eq!(pool.stats().in_use(), 0, "a buffer outlived its frame");
    }
    assert_eq!(pool.stats().in_use(), 0);
}
