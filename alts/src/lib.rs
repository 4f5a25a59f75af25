//! The ALTS record protocol (`ALTSRP_GCM_AES128` and `ALTSRP_GCM_AES128_REKEY`) over a
//! [`ReadyRead`] transport, byte-compatible with gRPC-Go.
//!
//! ```
//! use slackwater_alts::{Backend, Conn, Crypter, Protocol, Side};
//! use slackwater_ready::{global, ReadyFd, ReadyRead};
//! use std::io::{Read, Write};
//!
//! let key = [0x42u8; 16]; // from the ALTS handshake, which is out of scope here
//! let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
//! let mk = |side| Crypter::new(Protocol::Aes128Gcm, side, &key, Backend::default()).unwrap();
//! let mut client = Conn::new(ReadyFd::new(a).unwrap(), mk(Side::Client), global());
//! let mut server = Conn::new(ReadyFd::new(b).unwrap(), mk(Side::Server), global());
//! client.write_all(b"ping").unwrap();
//! let mut got = [0u8; 4];
//! server.read_exact(&mut got).unwrap();
//! assert_eq!(&got, b"ping");
//! ```
//!
//! # Pieces
//! * [`Conn`]: the connection: frames, decrypts in place into pooled buffers, holds no buffer
//!   while idle, implements `ReadyRead`, `io::Read` and `io::Write`.
//! * [`Crypter`]: both directions' keys and [`Counter`]s; [`RecordAead`]: one direction's
//!   AEAD (plain or rekeying), public for test vectors.
//! * [`Backend`]: RustCrypto `aes-gcm` (default) or `ring` (feature `ring`).
//!
//! # Wire format and rules (gRPC-Go is the reference peer)
//! * Frame: `len: u32 LE` (counts what follows it) · `type: u32 LE` = 6 · ciphertext ·
//!   16-byte GCM tag; no AAD.
//! * `len` above the read limit (default 1 MiB) is rejected as soon as its 4 bytes arrive,
//!   before anything is allocated; `len < 4` and `len < 20` are [`AltsError::FrameTooShort`]
//!   (gRPC-Go panicked on `len < 4` before v1.83); the type must be exactly 6 — **stricter than
//!   gRPC-Go**, which compares only the low byte.
//! * Counter: 12 bytes LE, the GCM nonce; server-sent records set bit 0x80 of byte 11; only the
//!   low 5 (`ALTSRP_GCM_AES128`) or 8 (rekey) bytes count, and a carry out of them makes the
//!   direction permanently unusable ([`AltsError::CounterExhausted`]). A failed open does not
//!   advance the counter.
//! * All key material is zeroized on drop: our copies of keys, KDF keys and masks through
//!   `zeroize`, the `aes-gcm` key schedule and GHASH key through its `zeroize` feature.
//!   `ring` keeps its own key schedule, which it does not zeroize.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod aead;
mod conn;
mod counter;
mod crypter;
mod frame;

pub use aead::{Backend, RecordAead, TAG_LEN};
pub use conn::Conn;
pub use counter::{Counter, OVERFLOW_LEN_AES128GCM, OVERFLOW_LEN_REKEY};
pub use crypter::{Crypter, Protocol, Side};
pub use frame::{
    DEFAULT_FRAME_SIZE, DEFAULT_READ_LIMIT, HEADER, MAX_FRAME_SIZE, MIN_FRAME_SIZE, MIN_LEN,
    MSG_TYPE, OVERHEAD,
};
pub use slackwater_ready::{self as ready, Buf, Pool, ReadyRead};

use std::{fmt, io};

/// What went wrong in the record layer.
///
/// Every variant but [`Io`](AltsError::Io) is fatal for the connection: a [`Conn`] returns the
/// same error from every later read.
#[derive(Debug)]
#[non_exhaustive]
pub enum AltsError {
    /// A frame's `len` field exceeds the read limit (checked before reading the body).
    FrameTooLarge {
        /// The `len` field.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A frame's `len` field is too small to hold the type field and a tag.
    FrameTooShort {
        /// The `len` field.
        len: usize,
    },
    /// The type field is not 6.
    WrongMessageType {
        /// The type field.
        ty: u32,
    },
    /// A record's tag did not authenticate it (tampered, replayed, reordered, or from the wrong
    /// side or key).
    AuthenticationFailed,
    /// The counter of this direction overflowed; no more records can be sent or received.
    CounterExhausted,
    /// A key of the wrong length for its protocol.
    InvalidKeyLength {
        /// Bytes the protocol needs.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// The pool could not supply a buffer after records were already decrypted in place;
    /// their plaintext is lost, so the connection cannot go on.
    OutOfMemory {
        /// Bytes asked of the pool.
        size: usize,
    },
    /// The transport failed.
    Io(io::Error),
}

impl From<slackwater_ready::PoolError> for AltsError {
    fn from(e: slackwater_ready::PoolError) -> Self {
        match e {
            slackwater_ready::PoolError::AllocFailed { size } => AltsError::OutOfMemory { size },
            slackwater_ready::PoolError::CapacityOverflow { requested } => {
                AltsError::OutOfMemory { size: requested }
            }
            _ => AltsError::OutOfMemory { size: 0 },
        }
    }
}

impl AltsError {
    /// A copy of a fatal error (every variant but `Io`).
    pub(crate) fn fatal_copy(&self) -> Option<AltsError> {
        Some(match self {
            AltsError::FrameTooLarge { len, limit } => AltsError::FrameTooLarge {
                len: *len,
                limit: *limit,
            },
            AltsError::FrameTooShort { len } => AltsError::FrameTooShort { len: *len },
            AltsError::WrongMessageType { ty } => AltsError::WrongMessageType { ty: *ty },
            AltsError::AuthenticationFailed => AltsError::AuthenticationFailed,
            AltsError::CounterExhausted => AltsError::CounterExhausted,
            AltsError::InvalidKeyLength { expected, got } => AltsError::InvalidKeyLength {
                expected: *expected,
                got: *got,
            },
            AltsError::OutOfMemory { size } => AltsError::OutOfMemory { size: *size },
            AltsError::Io(_) => return None,
        })
    }

    /// The `AltsError` inside an `io::Error` returned by a [`Conn`], if it is one.
    ///
    /// ```
    /// use slackwater_alts::AltsError;
    /// let e: std::io::Error = AltsError::AuthenticationFailed.into();
    /// assert!(matches!(AltsError::from_io(&e), Some(AltsError::AuthenticationFailed)));
    /// ```
    pub fn from_io(e: &io::Error) -> Option<&AltsError> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<AltsError>())
    }
}

impl fmt::Display for AltsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AltsError::FrameTooLarge { len, limit } => {
                write!(
                    f,
                    "ALTS frame length {len} is larger than the limit {limit}"
                )
            }
            AltsError::FrameTooShort { len } => write!(
                f,
                "ALTS frame length {len} is shorter than the message type and tag (20 bytes)"
            ),
            AltsError::WrongMessageType { ty } => {
                write!(f, "ALTS frame has message type {ty}, expected 6")
            }
            AltsError::AuthenticationFailed => f.write_str("ALTS record failed authentication"),
            AltsError::CounterExhausted => f.write_str("ALTS record counter exhausted"),
            AltsError::InvalidKeyLength { expected, got } => {
                write!(f, "ALTS key of {got} bytes, expected {expected}")
            }
            AltsError::OutOfMemory { size } => {
                write!(
                    f,
                    "out of memory for a {size}-byte ALTS buffer after decrypting records"
                )
            }
            AltsError::Io(e) => write!(f, "ALTS transport: {e}"),
        }
    }
}

impl std::error::Error for AltsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AltsError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<AltsError> for io::Error {
    fn from(e: AltsError) -> io::Error {
        let kind = match &e {
            AltsError::Io(inner) => return io::Error::new(inner.kind(), e),
            AltsError::InvalidKeyLength { .. } => io::ErrorKind::InvalidInput,
            AltsError::CounterExhausted => io::ErrorKind::Other,
            AltsError::OutOfMemory { .. } => io::ErrorKind::OutOfMemory,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}
