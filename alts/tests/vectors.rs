//! Every vector of `tests/data/alts.json` (gRPC-Go's own test data, copied into the repository;
//! see `tests/data/README.md`), on every backend.

use serde_json::Value;
use slackwater_alts::{
    AltsError, Backend, Conn, Counter, Crypter, Protocol, RecordAead, Side, TAG_LEN,
};
use slackwater_ready::{Buffered, Pool, ReadyRead};

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/alts.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("the ALTS test vectors are missing from the repository: {path}: {e}")
    });
    serde_json::from_str(&text).unwrap()
}

fn group(v: &Value, prefix: &str) -> Value {
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no group {prefix}"))
        .clone()
}

fn hex(s: &Value) -> Vec<u8> {
    let s = s.as_str().unwrap();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn arr12(v: &[u8]) -> [u8; 12] {
    v.try_into().unwrap()
}

#[test]
fn aes128gcm_record_crypto() {
    let g = group(&vectors(), "aes128gcm_record_crypto");
    let cases = g["vectors"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for &backend in Backend::available() {
        for v in cases {
            let id = v["id"].as_str().unwrap();
            let key = hex(&v["key_hex"]);
            let counter = arr12(&hex(&v["counter_hex"]));
            let pt = hex(&v["plaintext_hex"]);
            let want = hex(&v["ciphertext_and_tag_hex"]);
            let sender = Counter::from_value(counter, 5).side();
            assert_eq!(
                sender == Side::Server,
                v["sender_side_from_counter_msb"] == "server",
                "{id}"
            );
            // The sender's crypter seals with this counter as its out-counter...
            let mut tx = Crypter::new(Protocol::Aes128Gcm, sender, &key, backend).unwrap();
            tx.set_counters(
                Counter::from_value(counter, 5),
                Counter::new(sender.peer(), 5),
            );
            let mut buf = pt.clone();
            let tag = tx.seal(&mut buf).unwrap();
            buf.extend_from_slice(&tag);
            assert_eq!(buf, want, "{id} seal on {backend:?}");
            // ...and the peer opens it with the same value as its in-counter.
            let mut rx = Crypter::new(Protocol::Aes128Gcm, sender.peer(), &key, backend).unwrap();
            rx.set_counters(
                Counter::new(sender.peer(), 5),
                Counter::from_value(counter, 5),
            );
            let (ct, tag) = want.split_at(want.len() - TAG_LEN);
            let mut ct = ct.to_vec();
            rx.open(&mut ct, tag.try_into().unwrap()).unwrap();
            assert_eq!(ct, pt, "{id} open on {backend:?}");
        }
    }
}

#[test]
fn rekey_aead() {
    let g = group(&vectors(), "rekey_aead");
    let cases = g["vectors"].as_array().unwrap();
    assert_eq!(cases.len(), 24);
    for &backend in Backend::available() {
        for v in cases {
            let id = v["id"].as_str().unwrap();
            let key = hex(&v["key_hex"]);
            let nonce = arr12(&hex(&v["nonce_hex"]));
            let aad = hex(&v["aad_hex"]);
            let pt = hex(&v["plaintext_hex"]);
            let want = hex(&v["ciphertext_and_tag_hex"]);
            assert!(!v["expect_fail"].as_bool().unwrap());
            let mut a = RecordAead::new(Protocol::Aes128GcmRekey, &key, backend).unwrap();
            let mut buf = pt.clone();
            let tag = a.seal(&nonce, &aad, &mut buf).unwrap();
            buf.extend_from_slice(&tag);
            assert_eq!(buf, want, "{id} seal on {backend:?}");
            // A fresh AEAD (no cached key) opens it.
            let mut b = RecordAead::new(Protocol::Aes128GcmRekey, &key, backend).unwrap();
            let (ct, tag) = want.split_at(want.len() - TAG_LEN);
            let mut ct = ct.to_vec();
            b.open(&nonce, &aad, &mut ct, tag.try_into().unwrap())
                .unwrap();
            assert_eq!(ct, pt, "{id} open on {backend:?}");
            // Any flipped tag bit fails.
            let mut bad_tag: [u8; TAG_LEN] = tag.try_into().unwrap();
            bad_tag[0] ^= 1;
            let mut ct2 = want[..want.len() - TAG_LEN].to_vec();
            assert!(matches!(
                b.open(&nonce, &aad, &mut ct2, &bad_tag),
                Err(AltsError::AuthenticationFailed)
            ));
        }
    }
}

#[test]
fn counter_increment_rollover_and_sides() {
    let g = group(&vectors(), "counter");
    for v in g["increment_vectors"].as_array().unwrap() {
        let mut c = Counter::from_value(
            arr12(&hex(&v["counter_hex"])),
            v["overflow_len"].as_u64().unwrap() as usize,
        );
        c.increment();
        assert_eq!(c.value().is_err(), v["expect_invalid"].as_bool().unwrap());
        if c.value().is_ok() {
            assert_eq!(c.value().unwrap().to_vec(), hex(&v["after_inc_hex"]));
        }
    }
    for v in g["rollover_vectors"].as_array().unwrap() {
        let value = arr12(&hex(&v["value_hex"]));
        // As gRPC-Go runs them (overflowLen 5), and as the table means them.
        for len in [
            v["overflowLen_actually_used"].as_u64().unwrap() as usize,
            v["overflowLen_in_table"].as_u64().unwrap() as usize,
        ] {
            let mut c = Counter::from_value(value, len);
            c.increment();
            assert!(c.value().is_ok(), "{}: first increment", v["desc"]);
            c.increment();
            assert!(
                matches!(c.value(), Err(AltsError::CounterExhausted)),
                "{}",
                v["desc"]
            );
            c.increment();
            assert!(c.value().is_err(), "stays invalid");
        }
    }
    // overflow_len 8, which gRPC-Go's tests never exercise.
    let mut c = Counter::from_value(
        [
            0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x80,
        ],
        8,
    );
    c.increment();
    assert_eq!(
        c.value().unwrap(),
        [0xff; 8]
            .iter()
            .chain(&[0, 0, 0, 0x80])
            .copied()
            .collect::<Vec<_>>()[..]
    );
    c.increment();
    assert!(c.value().is_err());
    // 5 counting bytes do not carry into byte 5.
    let mut c = Counter::from_value([0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0], 5);
    c.increment();
    assert!(c.value().is_err());
    // Sides, as TestCounterSides: 1024 records each way keep their side bit.
    for side in [Side::Client, Side::Server] {
        let mut out = Counter::new(side, 5);
        let mut inn = Counter::new(side.peer(), 5);
        for _ in 0..1024 {
            assert_eq!(out.side(), side);
            assert_eq!(inn.side(), side.peer());
            out.increment();
            inn.increment();
        }
    }
}

#[test]
fn framed_record_negative_tests() {
    let g = group(&vectors(), "framed-record negative");
    let key = hex(&g["test_key_hex"]);
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    for f in g["frames"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap();
        let bytes = match f.get("frame_hex") {
            Some(h) => hex(h),
            None => hex(&f["frame_header_hex"]), // the length header alone must be rejected
        };
        for as_leftover in [false, true] {
            let crypter =
                Crypter::new(Protocol::Aes128Gcm, Side::Server, &key, Backend::default()).unwrap();
            let mut conn = if as_leftover {
                Conn::new(Buffered::new(&[][..]), crypter)
                    .with_pool(pool.clone())
                    .with_leftover(&bytes)
                    .unwrap()
            } else {
                Conn::new(Buffered::new(&bytes[..]), crypter).with_pool(pool.clone())
            };
            let e = conn.read_ready(4096, &pool).unwrap_err();
            let alts = AltsError::from_io(&e).unwrap_or_else(|| panic!("{id}: untyped error {e}"));
            match id {
                "incorrect-msg-type" => assert!(
                    matches!(alts, AltsError::WrongMessageType { ty: 0x22 }),
                    "{id}: {alts}"
                ),
                "zero-length-frame" => assert!(
                    matches!(alts, AltsError::FrameTooShort { len: 0 }),
                    "{id}: {alts}"
                ),
                "frame-too-large" => assert!(
                    matches!(
                        alts,
                        AltsError::FrameTooLarge {
                            len: 1_048_577,
                            limit: 1_048_576
                        }
                    ),
                    "{id}: {alts}"
                ),
                other => panic!("unknown negative vector {other}"),
            }
            // Fatal: the same error again, and nothing held.
            let again = conn.read_ready(4096, &pool).unwrap_err();
            assert_eq!(
                AltsError::from_io(&again).unwrap().to_string(),
                alts.to_string()
            );
            assert!(!conn.holds_buffer());
        }
    }
    assert_eq!(pool.stats().in_use(), 0);
}
