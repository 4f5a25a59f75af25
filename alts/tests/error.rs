//! `AltsError`'s contract on its own: equality says "the same thing" field by field, the
//! conversions to and from `io::Error` and from the pool's error keep what they carry, and
//! `is_fatal` says which errors end a connection.

use slackwater_alts::AltsError;
use slackwater_ready::PoolError;
use std::error::Error as _;
use std::io;
use std::sync::Arc;

/// One value of every variant, and a second value of the same variant differing in each field
/// (none for the variants without fields).
fn variants() -> Vec<(AltsError, Vec<AltsError>)> {
    use AltsError::*;
    let io = |k: io::ErrorKind| Io(Arc::new(io::Error::from(k)));
    vec![
        (
            FrameTooLarge { len: 10, limit: 5 },
            vec![
                FrameTooLarge { len: 11, limit: 5 },
                FrameTooLarge { len: 10, limit: 6 },
            ],
        ),
        (FrameTooShort { len: 3 }, vec![FrameTooShort { len: 4 }]),
        (WrongMessageType { ty: 7 }, vec![WrongMessageType { ty: 8 }]),
        (AuthenticationFailed, vec![]),
        (CounterExhausted, vec![]),
        (SealFailed, vec![]),
        (Truncated { buffered: 1 }, vec![Truncated { buffered: 2 }]),
        (
            InvalidKeyLength {
                expected: 16,
                got: 3,
            },
            vec![
                InvalidKeyLength {
                    expected: 44,
                    got: 3,
                },
                InvalidKeyLength {
                    expected: 16,
                    got: 4,
                },
            ],
        ),
        (InvalidConfig("a"), vec![InvalidConfig("b")]),
        (OutOfMemory { size: 9 }, vec![OutOfMemory { size: 10 }]),
        (
            io(io::ErrorKind::ConnectionReset),
            vec![
                io(io::ErrorKind::BrokenPipe),
                Io(Arc::new(io::Error::from_raw_os_error(104))),
            ],
        ),
    ]
}

#[test]
fn equal_means_same_variant_and_same_fields() {
    let all = variants();
    for (i, (a, differing)) in all.iter().enumerate() {
        assert_eq!(a, &a.clone(), "{a:?} equals its clone");
        for d in differing {
            assert_ne!(a, d, "{a:?} vs {d:?}");
            assert_ne!(d, a, "{d:?} vs {a:?}");
        }
        for (j, (b, _)) in all.iter().enumerate() {
            if i != j {
                assert_ne!(a, b, "{a:?} vs {b:?}");
            }
        }
    }
    // Transport errors compare by kind and OS code, not by identity.
    let reset = || AltsError::Io(Arc::new(io::Error::from_raw_os_error(104)));
    assert_eq!(reset(), reset());
}

#[test]
fn pool_errors_become_out_of_memory_with_their_size() {
    assert_eq!(
        AltsError::from(PoolError::AllocFailed { size: 4096 }),
        AltsError::OutOfMemory { size: 4096 }
    );
    assert_eq!(
        AltsError::from(PoolError::CapacityOverflow {
            requested: usize::MAX
        }),
        AltsError::OutOfMemory { size: usize::MAX }
    );
}

#[test]
fn only_key_and_config_errors_and_transient_io_are_not_fatal() {
    for (e, _) in variants() {
        let expected = !matches!(
            e,
            AltsError::InvalidKeyLength { .. } | AltsError::InvalidConfig(_)
        );
        assert_eq!(e.is_fatal(), expected, "{e:?}");
    }
    for kind in [
        io::ErrorKind::WouldBlock,
        io::ErrorKind::Interrupted,
        io::ErrorKind::TimedOut,
    ] {
        let e = AltsError::from(io::Error::from(kind));
        assert!(!e.is_fatal(), "{kind:?}");
    }
}

#[test]
fn io_error_kinds_say_what_went_wrong() {
    use io::ErrorKind::*;
    let cases = [
        (AltsError::FrameTooLarge { len: 1, limit: 0 }, InvalidData),
        (AltsError::FrameTooShort { len: 1 }, InvalidData),
        (AltsError::WrongMessageType { ty: 1 }, InvalidData),
        (AltsError::AuthenticationFailed, InvalidData),
        (AltsError::CounterExhausted, Other),
        (AltsError::SealFailed, Other),
        (AltsError::Truncated { buffered: 1 }, UnexpectedEof),
        (
            AltsError::InvalidKeyLength {
                expected: 16,
                got: 1,
            },
            InvalidInput,
        ),
        (AltsError::InvalidConfig("x"), InvalidInput),
        (AltsError::OutOfMemory { size: 1 }, OutOfMemory),
        (
            AltsError::Io(Arc::new(io::Error::from(ConnectionReset))),
            ConnectionReset,
        ),
    ];
    for (e, kind) in cases {
        let io_err = io::Error::from(e.clone());
        assert_eq!(io_err.kind(), kind, "{e:?}");
        // The AltsError travels inside and comes back unchanged.
        assert_eq!(AltsError::from_io(&io_err), Some(&e));
        assert_eq!(AltsError::from(io_err), e);
    }
}

#[test]
fn a_transient_transport_error_stays_a_bare_io_error() {
    let e = AltsError::from(io::Error::from(io::ErrorKind::WouldBlock));
    let io_err = io::Error::from(e);
    assert_eq!(io_err.kind(), io::ErrorKind::WouldBlock);
    assert!(io_err.get_ref().is_none(), "nothing wrapped: {io_err:?}");
    // A fatal one carries the AltsError.
    let reset = AltsError::from(io::Error::from(io::ErrorKind::ConnectionReset));
    assert!(io::Error::from(reset).get_ref().is_some());
}

#[test]
fn an_io_error_without_an_alts_error_inside_is_a_transport_error() {
    let plain = io::Error::new(io::ErrorKind::BrokenPipe, "peer went away");
    assert!(AltsError::from_io(&plain).is_none());
    let bare = io::Error::from(io::ErrorKind::BrokenPipe);
    assert!(AltsError::from_io(&bare).is_none());
    match AltsError::from(plain) {
        AltsError::Io(inner) => assert_eq!(inner.to_string(), "peer went away"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_transport_errors_have_a_source() {
    for (e, _) in variants() {
        match &e {
            AltsError::Io(inner) => {
                let src = e.source().expect("a transport error has its source");
                assert_eq!(src.to_string(), inner.to_string());
            }
            _ => assert!(e.source().is_none(), "{e:?}"),
        }
    }
}

#[test]
fn messages_name_the_numbers_they_carry() {
    let cases = [
        (
            AltsError::FrameTooLarge {
                len: 70000,
                limit: 65536,
            },
            &["70000", "65536"][..],
        ),
        (AltsError::FrameTooShort { len: 12 }, &["12", "20 bytes"]),
        (
            AltsError::WrongMessageType { ty: 5 },
            &["type 5", "expected 6"],
        ),
        (AltsError::Truncated { buffered: 77 }, &["77 bytes"]),
        (
            AltsError::InvalidKeyLength {
                expected: 44,
                got: 16,
            },
            &["16 bytes", "expected 44"],
        ),
        (AltsError::InvalidConfig("frame size"), &["frame size"]),
        (AltsError::OutOfMemory { size: 32768 }, &["32768-byte"]),
        (AltsError::AuthenticationFailed, &["authentication"]),
        (AltsError::CounterExhausted, &["counter exhausted"]),
        (AltsError::SealFailed, &["refused to seal"]),
    ];
    for (e, words) in cases {
        let s = e.to_string();
        for w in words {
            assert!(s.contains(w), "{s:?} lacks {w:?}");
        }
    }
}
