//! The frame types' own methods, asserted exactly: `Payload` (its three representations,
//! equality, `Debug`), `Data::flow_controlled_len`, `Settings`' accessors, and `Frame`'s
//! `kind` / `stream_id` / `flags` / `payload_len` against the header the writer really puts on
//! the wire, for every variant and flag combination. (Until these tests only doc examples
//! checked most of them, and mutation runs leave doc examples out.)

use slackwater_h2frame::*;

fn view(len: usize) -> (Payload, usize) {
    let mut b = global().get(len).unwrap();
    b.extend_from_slice(&vec![0x5a; len]).unwrap();
    let shared = b.freeze();
    let cap = shared.buffer_capacity();
    (Payload::from(shared), cap)
}

#[test]
fn a_payload_is_inline_up_to_its_inline_size_then_on_the_heap_or_a_view() {
    let max = Payload::INLINE_MAX;
    for len in [0, 1, max - 1, max, max + 1, 4096] {
        let kind = if len <= max { ", inline" } else { ", heap" };
        let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
        for p in [
            Payload::from(bytes.clone()),
            Payload::copy_from_slice(&bytes),
        ] {
            assert_eq!(&p[..], &bytes[..]);
            assert!(format!("{p:?}").contains(kind), "{len}: {p:?}");
            assert!(!p.is_view());
            assert!(p.as_shared().is_none());
            assert_eq!(p.pinned_bytes(), 0);
            assert_eq!(p.clone().into_shared().unwrap_err(), p);
        }
    }
    let (v, cap) = view(4096);
    assert!(cap >= 4096);
    assert!(v.is_view());
    assert!(format!("{v:?}").contains(", view"));
    assert_eq!(v.pinned_bytes(), cap);
    let shared = v.as_shared().expect("a view");
    assert_eq!(shared.len(), 4096);
    assert_eq!(shared.as_ptr(), v.as_ptr());
    let back = v.clone().into_shared().expect("a view");
    assert_eq!(back.as_ptr(), v.as_ptr());
}

#[test]
fn payloads_compare_by_their_bytes_whatever_holds_them() {
    let (v, _) = view(100);
    let heap = Payload::from(vec![0x5a; 100]);
    assert_eq!(v, heap);
    assert_eq!(v, *[0x5a; 100].as_slice());
    assert_ne!(v, Payload::from(vec![0x5a; 99]));
    assert_ne!(heap, Payload::from(vec![0x5b; 100]));
    assert_ne!(heap, *[0x5a; 99].as_slice());
    let small = Payload::from(&b"abc"[..]);
    assert_eq!(small, *b"abc".as_slice());
    assert_ne!(small, *b"abd".as_slice());
    assert_ne!(small, Payload::from(&b"abd"[..]));
    assert_eq!(small, Payload::from(b"abc".to_vec()));
}

#[test]
fn a_payload_debug_shows_its_size_kind_and_up_to_16_bytes() {
    assert_eq!(
        format!("{:?}", Payload::from(&[1u8, 2, 0xff][..])),
        "Payload(3 bytes, inline, [01, 02, ff])"
    );
    assert_eq!(
        format!("{:?}", Payload::from(&[0u8; 16][..])),
        format!("Payload(16 bytes, inline, {:02x?})", [0u8; 16])
    );
    assert_eq!(
        format!("{:?}", Payload::from(&[0u8; 17][..])),
        "Payload(17 bytes, inline)"
    );
    assert_eq!(
        format!("{:?}", Payload::from(vec![9u8; 50])),
        "Payload(50 bytes, heap)"
    );
    assert_eq!(format!("{:?}", view(64).0), "Payload(64 bytes, view)");
}

#[test]
fn flow_controlled_length_counts_data_padding_and_the_pad_length_byte() {
    let d = |data: usize, pad: Option<usize>| Data {
        stream_id: 1,
        end_stream: false,
        data: Payload::from(vec![1; data]),
        padding: pad.map(|n| Payload::from(vec![0; n])),
    };
    assert_eq!(d(0, None).flow_controlled_len(), 0);
    assert_eq!(d(3, None).flow_controlled_len(), 3);
    assert_eq!(d(3, Some(0)).flow_controlled_len(), 4);
    assert_eq!(d(3, Some(4)).flow_controlled_len(), 8);
    assert_eq!(d(16_000, Some(255)).flow_controlled_len(), 16_256);
}

#[test]
fn settings_count_and_look_up_their_parameters() {
    let s = |n: u16| {
        Settings::new(
            &(0..n)
                .map(|i| Setting {
                    id: i + 1,
                    value: 1000 + u32::from(i),
                })
                .collect::<Vec<_>>(),
        )
    };
    for n in 0..4 {
        let st = s(n);
        assert_eq!(st.len(), usize::from(n));
        assert_eq!(st.is_empty(), n == 0);
        assert_eq!(st.raw().len(), 6 * usize::from(n));
        assert_eq!(st.iter().count(), usize::from(n));
        for i in 0..n {
            assert_eq!(st.get(i + 1), Some(1000 + u32::from(i)));
        }
        assert_eq!(st.get(n + 1), None);
        assert!(!st.is_ack());
    }
    assert!(Settings::ack().is_ack());
    assert!(Settings::ack().is_empty());
    assert_eq!(Settings::ack().len(), 0);
}

fn all_frames() -> Vec<Frame> {
    let p = |n: usize| Payload::from(vec![0xab; n]);
    let prio = PrioritySpec {
        exclusive: true,
        dependency: 3,
        weight: 200,
    };
    let mut v = Vec::new();
    for end_stream in [false, true] {
        for padding in [None, Some(p(0)), Some(p(5))] {
            v.push(Frame::Data(Data {
                stream_id: 1,
                end_stream,
                data: p(10),
                padding: padding.clone(),
            }));
            for end_headers in [false, true] {
                for priority in [None, Some(prio)] {
                    v.push(Frame::Headers(Headers {
                        stream_id: 3,
                        end_stream,
                        end_headers,
                        priority,
                        fragment: p(7),
                        padding: padding.clone(),
                    }));
                }
                if !end_stream {
                    v.push(Frame::PushPromise(PushPromise {
                        stream_id: 5,
                        end_headers,
                        promised_id: 2,
                        fragment: p(6),
                        padding: padding.clone(),
                    }));
                }
            }
        }
    }
    v.push(Frame::Priority(Priority {
        stream_id: 7,
        spec: prio,
    }));
    v.push(Frame::RstStream(RstStream {
        stream_id: 9,
        error_code: ErrorCode::CANCEL,
    }));
    v.push(Frame::Settings(Settings::ack()));
    v.push(Frame::Settings(Settings::new(&[
        Setting { id: 3, value: 100 },
        Setting { id: 4, value: 1 },
    ])));
    for ack in [false, true] {
        v.push(Frame::Ping(Ping { ack, data: [1; 8] }));
    }
    v.push(Frame::GoAway(GoAway {
        last_stream_id: 11,
        error_code: ErrorCode::NO_ERROR,
        debug_data: p(13),
    }));
    v.push(Frame::WindowUpdate(WindowUpdate {
        stream_id: 13,
        increment: 77,
    }));
    for end_headers in [false, true] {
        v.push(Frame::Continuation(Continuation {
            stream_id: 15,
            end_headers,
            fragment: p(9),
        }));
    }
    v.push(Frame::Unknown(Unknown {
        kind: 0xee,
        flags: 0xa5,
        stream_id: 17,
        payload: p(3),
    }));
    v
}

#[test]
fn kind_stream_flags_and_length_match_the_header_on_the_wire() {
    let w = FrameWriter::new();
    for f in all_frames() {
        let mut out = Vec::new();
        w.write(&mut out, &f).unwrap();
        let h = FrameHeader::parse(&out).unwrap();
        assert_eq!(f.kind(), h.kind, "{f:?}");
        assert_eq!(f.flags(), h.flags, "{f:?}");
        assert_eq!(f.stream_id(), h.stream_id, "{f:?}");
        assert_eq!(f.payload_len(), h.length as usize, "{f:?}");
        assert_eq!(out.len(), FRAME_HEADER_LEN + f.payload_len(), "{f:?}");
    }
}
