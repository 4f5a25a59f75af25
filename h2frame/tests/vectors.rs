//! The 34 http2jp cases in `tests/data/h2-frame-cases/` (copied into the repository; see
//! `tests/data/README.md`), used as they are: every valid case decodes to the expected fields
//! and re-encodes to the same wire bytes; every error case yields one of the listed codes with
//! the scope RFC 9113 gives. Each wire is also fed through the streaming reader one byte at a
//! time (with `WouldBlock` between bytes).

mod common;

use common::{Json, Script, Step, parse_json, unhex};
use slackwater_h2frame::{
    Config, Error, Frame, FrameReader, Pool, PoolHandle, Scope, decode, encode, global,
};
use std::path::{Path, PathBuf};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/h2-frame-cases");

struct Case {
    name: String,
    wire: Vec<u8>,
    frame: Json,
    error: Option<Vec<u32>>,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

fn cases() -> Vec<Case> {
    let dir = Path::new(DIR);
    assert!(
        dir.is_dir(),
        "the HTTP/2 test cases are missing from the repository: expected {}",
        dir.display()
    );
    let mut paths = Vec::new();
    walk(dir, &mut paths);
    paths.sort();
    let cases: Vec<Case> = paths
        .iter()
        .map(|p| {
            let j = parse_json(&std::fs::read_to_string(p).unwrap());
            let name = p.strip_prefix(dir).unwrap().display().to_string();
            let error = match j.get("error") {
                Json::Null => None,
                e => Some(e.arr().iter().map(|c| c.u64() as u32).collect()),
            };
            Case {
                name,
                wire: unhex(j.get("wire").str()),
                frame: j.get("frame").clone(),
                error,
            }
        })
        .collect();
    assert_eq!(cases.len(), 34, "expected the 34 http2jp cases");
    assert_eq!(cases.iter().filter(|c| c.error.is_some()).count(), 22);
    cases
}

/// The scope RFC 9113 gives each error case (the JSON lists only codes): the table in
/// `h2-frame-cases/README.md`.
fn expected_scope(name: &str) -> Scope {
    match name {
        "error/priority-frame-size.json" => Scope::Stream(2),
        "error/window_update-frame-increment.json" => Scope::Stream(1),
        _ => Scope::Connection,
    }
}

fn opt_bytes(j: &Json) -> Option<Vec<u8>> {
    (!j.is_null()).then(|| j.str().as_bytes().to_vec())
}

fn check_fields(name: &str, f: &Frame, exp: &Json) {
    assert_eq!(u64::from(f.kind()), exp.get("type").u64(), "{name}: type");
    assert_eq!(
        u64::from(f.flags()),
        exp.get("flags").u64(),
        "{name}: flags"
    );
    assert_eq!(
        u64::from(f.stream_id()),
        exp.get("stream_identifier").u64(),
        "{name}: stream"
    );
    assert_eq!(
        f.payload_len() as u64,
        exp.get("length").u64(),
        "{name}: length"
    );
    let p = exp.get("frame_payload");
    let padding = |pad: &Option<slackwater_h2frame::Payload>| {
        assert_eq!(
            pad.as_ref().map(|p| p.to_vec()),
            opt_bytes(p.get("padding")),
            "{name}: padding"
        );
        let pl = p.get("padding_length");
        assert_eq!(
            pad.as_ref().map(|p| p.len() as u64),
            (!pl.is_null()).then(|| pl.u64()),
            "{name}: pad length"
        );
    };
    let prio = |spec: Option<slackwater_h2frame::PrioritySpec>| match spec {
        None => {
            assert!(
                p.get("weight").is_null() && p.get("stream_dependency").is_null(),
                "{name}"
            )
        }
        Some(s) => {
            assert_eq!(u64::from(s.weight), p.get("weight").u64(), "{name}: weight");
            assert_eq!(
                u64::from(s.dependency),
                p.get("stream_dependency").u64(),
                "{name}: dep"
            );
            assert_eq!(s.exclusive, p.get("exclusive").bool(), "{name}: exclusive");
        }
    };
    match f {
        Frame::Data(d) => {
            assert_eq!(&d.data[..], p.get("data").str().as_bytes(), "{name}: data");
            padding(&d.padding);
        }
        Frame::Headers(h) => {
            assert_eq!(
                &h.fragment[..],
                p.get("header_block_fragment").str().as_bytes(),
                "{name}"
            );
            padding(&h.padding);
            prio(h.priority);
        }
        Frame::Priority(pr) => prio(Some(pr.spec)),
        Frame::RstStream(r) => assert_eq!(u64::from(r.error_code.0), p.get("error_code").u64()),
        Frame::Settings(s) => {
            let got: Vec<(u64, u64)> = s.iter().map(|s| (s.id.into(), s.value.into())).collect();
            let want: Vec<(u64, u64)> = p
                .get("settings")
                .arr()
                .iter()
                .map(|kv| (kv.arr()[0].u64(), kv.arr()[1].u64()))
                .collect();
            assert_eq!(got, want, "{name}: settings");
        }
        Frame::PushPromise(pp) => {
            assert_eq!(
                u64::from(pp.promised_id),
                p.get("promised_stream_id").u64(),
                "{name}"
            );
            assert_eq!(
                &pp.fragment[..],
                p.get("header_block_fragment").str().as_bytes(),
                "{name}"
            );
            padding(&pp.padding);
        }
        Frame::Ping(pg) => assert_eq!(&pg.data[..], p.get("opaque_data").str().as_bytes()),
        Frame::GoAway(g) => {
            assert_eq!(
                u64::from(g.last_stream_id),
                p.get("last_stream_id").u64(),
                "{name}"
            );
            assert_eq!(
                u64::from(g.error_code.0),
                p.get("error_code").u64(),
                "{name}"
            );
            assert_eq!(
                &g.debug_data[..],
                p.get("additional_debug_data").str().as_bytes()
            );
        }
        Frame::WindowUpdate(w) => {
            assert_eq!(
                u64::from(w.increment),
                p.get("window_size_increment").u64(),
                "{name}"
            )
        }
        Frame::Continuation(c) => {
            assert_eq!(
                &c.fragment[..],
                p.get("header_block_fragment").str().as_bytes(),
                "{name}"
            )
        }
        Frame::Unknown(_) => panic!("{name}: decoded as unknown"),
    }
}

fn check_error(name: &str, e: &Error, codes: &[u32]) {
    let code = e
        .code()
        .unwrap_or_else(|| panic!("{name}: not a protocol error: {e:?}"));
    assert!(
        codes.contains(&code.0),
        "{name}: code {code} not in {codes:?} ({e})"
    );
    assert_eq!(e.scope(), Some(expected_scope(name)), "{name}: scope ({e})");
}

#[test]
fn stateless_decode_and_reencode() {
    let mut normal = 0;
    for c in cases() {
        match &c.error {
            None => {
                let (f, used) = decode(&c.wire)
                    .unwrap_or_else(|e| panic!("{}: {e}", c.name))
                    .unwrap_or_else(|| panic!("{}: incomplete", c.name));
                assert_eq!(used, c.wire.len(), "{}", c.name);
                check_fields(&c.name, &f, &c.frame);
                let again = encode(&f, global()).unwrap();
                assert_eq!(
                    &again[..],
                    &c.wire[..],
                    "{}: re-encoded wire differs",
                    c.name
                );
                normal += 1;
            }
            Some(codes) => {
                let e = decode(&c.wire).expect_err(&c.name);
                check_error(&c.name, &e, codes);
            }
        }
    }
    assert_eq!(normal, 12);
}

/// The streaming reader, one byte per read with a `WouldBlock` before each byte (the general
/// path), and all at once after a PING (so the case's frame is wholly buffered when its turn
/// comes: the fast path, where it can take it). The lone CONTINUATION cases are stateless by
/// design, so they are preceded by a HEADERS on their stream without END_HEADERS (the reader
/// enforces sequencing).
#[test]
fn streaming_reader_byte_by_byte_and_whole() {
    const PING: [u8; 17] = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    for c in cases() {
        for whole in [false, true] {
            let pool = PoolHandle::from(Pool::new());
            let mut wire = Vec::new();
            if whole {
                wire.extend_from_slice(&PING);
            }
            let is_cont = c.wire.get(3) == Some(&9);
            if is_cont {
                wire.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 50]); // HEADERS, stream 50, no END_HEADERS
            }
            wire.extend_from_slice(&c.wire);
            let steps: Vec<Step> = if whole {
                vec![Step::Bytes(wire)]
            } else {
                wire.iter()
                    .flat_map(|&b| [Step::WouldBlock, Step::Bytes(vec![b])])
                    .collect()
            };
            let mut r = FrameReader::with_config(Script::new(steps), pool.clone(), Config::new());
            let mut next = || loop {
                match r.try_read_frame() {
                    Err(e) if e.is_would_block() => continue,
                    other => return other,
                }
            };
            if whole {
                assert!(matches!(next(), Ok(Some(Frame::Ping(_)))), "{}", c.name);
            }
            if is_cont {
                assert!(matches!(next(), Ok(Some(Frame::Headers(_)))), "{}", c.name);
            }
            match &c.error {
                None => {
                    let f = next()
                        .unwrap_or_else(|e| panic!("{}: {e}", c.name))
                        .unwrap();
                    check_fields(&c.name, &f, &c.frame);
                    drop(f);
                    assert!(next().unwrap().is_none(), "{}: clean EOF", c.name);
                }
                Some(codes) => {
                    let e = next().expect_err(&c.name);
                    check_error(&c.name, &e, codes);
                }
            }
            assert_eq!(pool.stats().in_use(), 0, "{}: a buffer leaked", c.name);
        }
    }
}

/// `Decoder::decode_shared` (frames out of a frozen pool buffer, large payloads as views)
/// says exactly what `decode` says, for every case and for padded DATA large enough to be a
/// view (its payload starts one byte in, after the pad length).
#[test]
fn decode_shared_agrees_with_decode() {
    use slackwater_h2frame::{Data, Decoder, FrameWriter};
    let shared = |wire: &[u8]| {
        let mut b = global().get(wire.len()).unwrap();
        b.extend_from_slice(wire).unwrap();
        b.freeze()
    };
    let mut wires: Vec<(String, Vec<u8>)> = cases().into_iter().map(|c| (c.name, c.wire)).collect();
    for (len, pad) in [(16_000usize, Some(7u8)), (16_000, None), (100, Some(3))] {
        let f = Frame::Data(Data {
            stream_id: 3,
            end_stream: false,
            data: (0..len).map(|i| (i * 7) as u8).collect::<Vec<u8>>().into(),
            padding: pad.map(|p| vec![0; p as usize].into()),
        });
        let mut wire = Vec::new();
        FrameWriter::new().write(&mut wire, &f).unwrap();
        wires.push((format!("DATA {len} padded {pad:?}"), wire));
    }
    let d = Decoder::new();
    let mut views = 0;
    for (name, wire) in wires {
        let buf = shared(&wire);
        match (decode(&wire), d.decode_shared(&buf)) {
            (Ok(a), Ok(b)) => {
                let (fa, na) = a.unwrap_or_else(|| panic!("{name}: incomplete"));
                let (fb, nb) = b.unwrap_or_else(|| panic!("{name}: incomplete (shared)"));
                assert_eq!((&fa, na), (&fb, nb), "{name}");
                if let Frame::Data(x) = &fb {
                    views += usize::from(x.data.is_view());
                }
            }
            (Err(a), Err(b)) => assert_eq!(
                (a.code(), a.scope(), a.to_string()),
                (b.code(), b.scope(), b.to_string()),
                "{name}"
            ),
            (a, b) => panic!("{name}: {a:?} vs {b:?}"),
        }
        // A buffer cut short is incomplete, not an error, for both.
        let cut = &wire[..wire.len() - 1];
        if decode(&wire).is_ok() {
            assert!(decode(cut).unwrap().is_none(), "{name}");
            assert!(d.decode_shared(&shared(cut)).unwrap().is_none(), "{name}");
        }
    }
    // len × 16 ≥ the capacity of the buffer (16 KiB, 16 KiB, 256 B): all three are views.
    assert_eq!(views, 3, "the added DATA payloads are views");
}
