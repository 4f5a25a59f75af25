//! `ErrorCode`, `Scope` and `Error`: names, messages, equality, conversions, variant by
//! variant, asserted exactly (until these tests only doc examples checked them, and the
//! mutation run's `-- --lib --tests` leaves doc examples out).

use core::error::Error as _;
use slackwater_h2frame::{Error, ErrorCode, PoolError, Scope};
use std::io::{self, ErrorKind};

const NAMES: [&str; 14] = [
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
];

#[test]
fn error_codes_have_their_rfc_names_and_unknown_ones_print_in_hex() {
    for (code, name) in NAMES.iter().enumerate() {
        let c = ErrorCode(code as u32);
        assert_eq!(c.name(), Some(*name));
        assert_eq!(c.to_string(), *name);
    }
    assert_eq!(ErrorCode::HTTP_1_1_REQUIRED, ErrorCode(0xd));
    for unknown in [0xe, 0x63, u32::MAX] {
        assert_eq!(ErrorCode(unknown).name(), None);
        assert_eq!(ErrorCode(unknown).to_string(), format!("{unknown:#x}"));
    }
}

#[test]
fn a_scope_knows_its_stream() {
    assert_eq!(Scope::Connection.stream_id(), None);
    assert_eq!(Scope::Stream(3).stream_id(), Some(3));
    assert_eq!(Scope::Stream(0x7fff_ffff).stream_id(), Some(0x7fff_ffff));
    assert!(Scope::Connection.is_connection());
    assert!(!Scope::Stream(3).is_connection());
}

fn protocol(code: ErrorCode, scope: Scope, reason: &'static str) -> Error {
    Error::Protocol {
        code,
        scope,
        reason,
    }
}

fn io_err(kind: ErrorKind) -> Error {
    Error::from(io::Error::from(kind))
}

/// One of each variant (and of each `Io` case the messages tell apart).
fn one_of_each() -> Vec<Error> {
    vec![
        protocol(ErrorCode::PROTOCOL_ERROR, Scope::Connection, "a"),
        protocol(ErrorCode::PROTOCOL_ERROR, Scope::Stream(5), "a"),
        Error::BadPreface { http1: true },
        Error::BadPreface { http1: false },
        Error::UnexpectedEof { buffered: 7 },
        io_err(ErrorKind::WouldBlock),
        Error::from(io::Error::from_raw_os_error(104)),
        Error::Pool(PoolError::Exhausted),
        Error::Invalid("weight"),
    ]
}

#[test]
fn reasons_messages_codes_scopes_and_fatality_variant_by_variant() {
    type Row = (
        &'static str,
        &'static str,
        Option<ErrorCode>,
        Option<Scope>,
        bool,
    );
    let want: [Row; 9] = [
        (
            "a",
            "HTTP/2 connection error PROTOCOL_ERROR: a",
            Some(ErrorCode::PROTOCOL_ERROR),
            Some(Scope::Connection),
            true,
        ),
        (
            "a",
            "HTTP/2 stream error PROTOCOL_ERROR on stream 5: a",
            Some(ErrorCode::PROTOCOL_ERROR),
            Some(Scope::Stream(5)),
            false,
        ),
        (
            "client preface mismatch: got HTTP/1.x",
            "HTTP/2 connection error PROTOCOL_ERROR: the client preface did not match \
             (the client sent an HTTP/1.x request)",
            Some(ErrorCode::PROTOCOL_ERROR),
            Some(Scope::Connection),
            true,
        ),
        (
            "client preface mismatch",
            "HTTP/2 connection error PROTOCOL_ERROR: the client preface did not match",
            Some(ErrorCode::PROTOCOL_ERROR),
            Some(Scope::Connection),
            true,
        ),
        (
            "end of stream inside a frame",
            "the stream ended inside a frame (7 bytes of it received)",
            None,
            None,
            true,
        ),
        (
            "transport not ready",
            "the transport has nothing ready now",
            None,
            None,
            false,
        ),
        (
            "transport error",
            "HTTP/2 transport error",
            None,
            None,
            true,
        ),
        (
            "no buffer from the pool",
            "no buffer from the pool",
            None,
            None,
            false,
        ),
        (
            "weight",
            "invalid frame or setting: weight",
            None,
            None,
            false,
        ),
    ];
    for (e, (reason, message, code, scope, fatal)) in one_of_each().iter().zip(want) {
        assert_eq!(e.reason(), reason, "{e:?}");
        assert_eq!(e.to_string(), message, "{e:?}");
        assert_eq!(e.code(), code, "{e:?}");
        assert_eq!(e.scope(), scope, "{e:?}");
        assert_eq!(e.is_fatal(), fatal, "{e:?}");
        assert_eq!(
            e.is_connection_error(),
            scope == Some(Scope::Connection),
            "{e:?}"
        );
        assert_eq!(
            e.is_would_block(),
            matches!(e, Error::Io(i) if i.kind() == ErrorKind::WouldBlock),
            "{e:?}"
        );
        // The source is the I/O or pool error, and only for those.
        assert_eq!(
            e.source().is_some(),
            matches!(e, Error::Io(_) | Error::Pool(_)),
            "{e:?}"
        );
    }
    // The transient kinds other than WouldBlock are not "would block" and read as
    // transport errors.
    for kind in [ErrorKind::Interrupted, ErrorKind::TimedOut] {
        let e = io_err(kind);
        assert!(!e.is_would_block());
        assert!(!e.is_fatal());
        assert_eq!(e.reason(), "transport error");
        assert_eq!(e.to_string(), "HTTP/2 transport error");
    }
}

#[test]
fn equality_is_field_by_field_and_never_across_variants() {
    let all = one_of_each();
    for (i, a) in all.iter().enumerate() {
        for (j, b) in all.iter().enumerate() {
            assert_eq!(a == b, i == j, "{a:?} vs {b:?}");
        }
        assert_eq!(a, &a.clone());
    }
    let base = protocol(ErrorCode::PROTOCOL_ERROR, Scope::Connection, "a");
    assert_ne!(
        base,
        protocol(ErrorCode::FRAME_SIZE_ERROR, Scope::Connection, "a")
    );
    assert_ne!(
        base,
        protocol(ErrorCode::PROTOCOL_ERROR, Scope::Stream(1), "a")
    );
    assert_ne!(
        base,
        protocol(ErrorCode::PROTOCOL_ERROR, Scope::Connection, "b")
    );
    assert_eq!(
        protocol(ErrorCode::CANCEL, Scope::Stream(9), "x"),
        protocol(ErrorCode::CANCEL, Scope::Stream(9), "x")
    );
    assert_ne!(
        Error::UnexpectedEof { buffered: 1 },
        Error::UnexpectedEof { buffered: 2 }
    );
    // I/O errors: by kind and OS error code.
    assert_eq!(
        io_err(ErrorKind::ConnectionReset),
        io_err(ErrorKind::ConnectionReset)
    );
    assert_ne!(
        io_err(ErrorKind::ConnectionReset),
        io_err(ErrorKind::BrokenPipe)
    );
    let os = |n| Error::from(io::Error::from_raw_os_error(n));
    assert_eq!(os(104), os(104));
    assert_ne!(os(104), os(32));
    assert_ne!(
        Error::Pool(PoolError::Exhausted),
        Error::Pool(PoolError::AllocFailed { size: 4096 })
    );
    assert_eq!(
        Error::Pool(PoolError::AllocFailed { size: 4096 }),
        Error::Pool(PoolError::AllocFailed { size: 4096 })
    );
    assert_ne!(Error::Invalid("a"), Error::Invalid("b"));
}

#[test]
fn io_errors_convert_both_ways() {
    // A pool error that travelled through a transport as OutOfMemory becomes Pool again ...
    let e = Error::from(io::Error::from(PoolError::Exhausted));
    assert_eq!(e, Error::Pool(PoolError::Exhausted));
    // ... but only as OutOfMemory, and only with a PoolError inside.
    let other_kind = Error::from(io::Error::other(PoolError::Exhausted));
    assert!(matches!(&other_kind, Error::Io(i) if i.kind() == ErrorKind::Other));
    let bare_oom = Error::from(io::Error::from(ErrorKind::OutOfMemory));
    assert!(matches!(&bare_oom, Error::Io(i) if i.kind() == ErrorKind::OutOfMemory));
    assert!(!bare_oom.is_fatal()); // OutOfMemory is transient

    let back = |e: Error| io::Error::from(e);
    assert_eq!(
        back(Error::from(io::Error::from_raw_os_error(104))).raw_os_error(),
        Some(104)
    );
    assert_eq!(
        back(protocol(ErrorCode::CANCEL, Scope::Connection, "x")).kind(),
        ErrorKind::InvalidData
    );
    assert_eq!(
        back(Error::BadPreface { http1: false }).kind(),
        ErrorKind::InvalidData
    );
    assert_eq!(
        back(Error::UnexpectedEof { buffered: 1 }).kind(),
        ErrorKind::UnexpectedEof
    );
    assert_eq!(
        back(Error::Pool(PoolError::Exhausted)).kind(),
        ErrorKind::OutOfMemory
    );
    assert_eq!(back(Error::Invalid("w")).kind(), ErrorKind::InvalidInput);
    // An I/O error shared by clones comes back with its kind and code.
    let shared = Error::from(io::Error::from_raw_os_error(32));
    let _keep = shared.clone();
    assert_eq!(back(shared).raw_os_error(), Some(32));
}
