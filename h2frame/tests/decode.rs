//! Checks `decode` makes from a frame's 9-byte header alone, at their exact edges, with the
//! error each one names (the general tests see most of them only through the reader, whose
//! own sequencing rules would refuse the same frames for another reason).

use slackwater_h2frame::{ErrorCode, decode};

#[test]
fn a_continuation_on_stream_zero_is_refused_from_its_header() {
    // An empty CONTINUATION (END_HEADERS) on stream 0.
    let e = decode(&[0, 0, 0, 9, 4, 0, 0, 0, 0]).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::PROTOCOL_ERROR));
    assert!(e.is_connection_error());
    assert!(e.to_string().contains("stream id == 0"), "{e}");
    // On stream 1 it decodes (the reader, not the decoder, checks the sequencing).
    assert!(decode(&[0, 0, 0, 9, 4, 0, 0, 0, 1]).unwrap().is_some());
}

#[test]
fn a_push_promise_too_short_for_its_promised_id_is_refused_from_its_header() {
    // PUSH_PROMISE (type 5) on stream 1, END_HEADERS; the payload is the promised id (4
    // bytes), after a pad length byte when PADDED.
    let pp = |len: u8, flags: u8| {
        let mut payload = if flags & 0x8 != 0 { vec![0] } else { vec![] };
        payload.extend([0, 0, 0, 2]); // promised stream 2
        payload.resize(len as usize, 0);
        let mut w = vec![0, 0, len, 5, flags, 0, 0, 0, 1];
        w.extend(payload);
        w
    };
    for (len, flags) in [(3, 0x4), (4, 0x4 | 0x8)] {
        let e = decode(&pp(len, flags)).unwrap_err();
        assert_eq!(
            e.code(),
            Some(ErrorCode::FRAME_SIZE_ERROR),
            "{len} {flags:#x}"
        );
        assert!(
            e.to_string().contains("too short for the promised id"),
            "{e}"
        );
    }
    // One byte more is enough.
    assert!(decode(&pp(4, 0x4)).is_ok());
    assert!(decode(&pp(5, 0x4 | 0x8)).is_ok());
}

#[test]
fn decode_shared_copies_payloads_up_to_the_inline_size_and_views_larger_ones() {
    use slackwater_h2frame::{Decoder, Payload, global};
    for len in [Payload::INLINE_MAX, Payload::INLINE_MAX + 1] {
        let mut b = global().get(256).unwrap();
        b.extend_from_slice(&[0, 0, len as u8, 0, 0, 0, 0, 0, 1])
            .unwrap(); // DATA on 1
        b.extend_from_slice(&vec![0xab; len]).unwrap();
        let (f, _) = Decoder::new().decode_shared(&b.freeze()).unwrap().unwrap();
        let slackwater_h2frame::Frame::Data(d) = f else {
            panic!("{f:?}")
        };
        assert_eq!(d.data.len(), len);
        // In a 256-byte buffer, len × 16 ≥ 256: a view as soon as it is above the inline size.
        assert_eq!(d.data.is_view(), len > Payload::INLINE_MAX, "{len}");
    }
}
