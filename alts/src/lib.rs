//! The ALTS record protocol (`ALTSRP_GCM_AES128` and `ALTSRP_GCM_AES128_REKEY`) over a
//! [`ReadyRead`] transport, byte-compatible with gRPC-Go.
//!
//! ```
//! use slackwater_alts::{Backend, Conn, Crypter, Protocol, Side};
//! use slackwater_ready::ReadyFd;
//! use std::io::{Read, Write};
//!
//! let key = [0x42u8; 16]; // from the ALTS handshake, which is out of scope here
//! let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
//! let mk = |side| Crypter::new(Protocol::Aes128Gcm, side, &key, Backend::default()).unwrap();
//! let mut client = Conn::new(ReadyFd::new(a).unwrap(), mk(Side::Client));   // global pool
//! let mut server = Conn::new(ReadyFd::new(b).unwrap(), mk(Side::Server));
//! client.write_all(b"ping").unwrap();
//! let mut got = [0u8; 4];
//! server.read_exact(&mut got).unwrap();
//! assert_eq!(&got, b"ping");
//! ```
//!
//! # Pieces
//! * [`Conn`]: the connection: frames, decrypts in place into pooled buffers, seals in place
//!   into the transport's write queue, holds no buffer while idle; implements `ReadyRead`,
//!   `ReadyWrite`, `io::Read` and `io::Write`. [`Config`]: its settings (one builder).
//! * [`Crypter`]: both directions' keys and [`Counter`]s; [`RecordAead`]: one direction's
//!   AEAD (plain or rekeying), public for test vectors.
//! * [`Backend`]: RustCrypto `aes-gcm` (default) or `ring` (feature `ring`).
//! * Feature `tokio`: `Conn` implements `tokio::io::AsyncRead` and `AsyncWrite` over a
//!   `slackwater_ready::TokioFd` (no buffer held while a read is `Pending`), and
//!   `slackwater_ready::ReadyPoll`, so the layers above it can be awaited too.
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
//!   `zeroize`, the `aes-gcm` key schedule and GHASH key through its `zeroize` feature. Key
//!   bytes and schedules live in slots of this crate's own slab ([`key_schedules`]), which
//!   zeroizes each slot again when it takes it back (so `ring`'s inline key schedule, which
//!   `ring` does not scrub, is scrubbed there).
#![deny(missing_docs)]
#![deny(unsafe_code)] // one exception: the key-schedule slab (`slab.rs`)
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aead;
mod conn;
mod counter;
mod crypter;
mod frame;
mod slab;
#[cfg(feature = "tokio")]
mod tokio;

pub use aead::{Backend, KeySchedules, RecordAead, TAG_LEN, key_schedules};
pub use conn::{Config, ConfigBuilder, Conn};
pub use counter::{Counter, OVERFLOW_LEN_AES128GCM, OVERFLOW_LEN_REKEY};
pub use crypter::{Crypter, Protocol, Side};
pub use frame::{
    DEFAULT_FRAME_SIZE, DEFAULT_READ_LIMIT, HEADER, MAX_FRAME_SIZE, MIN_FRAME_SIZE, MIN_LEN,
    MSG_TYPE, OVERHEAD,
};
pub use slackwater_ready::{self as ready, Buf, Pool, PoolHandle, ReadyRead, ReadyWrite};

use std::sync::Arc;
use std::{fmt, io};

/// What went wrong in the record layer.
///
/// Each variant says whether it ends the connection ([`AltsError::is_fatal`]): a [`Conn`]
/// returns a fatal read error again from every later read, and a fatal write error from every
/// later write. Errors are `Clone` and compare equal when they say the same thing (transport
/// errors by kind and OS code).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AltsError {
    /// Fatal. A frame's `len` field exceeds the read limit (checked before reading the body),
    /// or a record to seal is larger than a frame.
    FrameTooLarge {
        /// The `len` field.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Fatal. A frame's `len` field is too small to hold the type field and a tag.
    FrameTooShort {
        /// The `len` field.
        len: usize,
    },
    /// Fatal. The type field is not 6.
    WrongMessageType {
        /// The type field.
        ty: u32,
    },
    /// Fatal. A record's tag did not authenticate it (tampered, replayed, reordered, or from
    /// the wrong side or key).
    AuthenticationFailed,
    /// Fatal. The counter of this direction overflowed; no more records can be sent or
    /// received.
    CounterExhausted,
    /// Fatal for the write side. The AEAD backend refused to seal (a message over its size
    /// limit); no record was produced.
    SealFailed,
    /// Fatal. The stream ended inside a record, after this many of its bytes.
    Truncated {
        /// Bytes of the unfinished record that had arrived.
        buffered: usize,
    },
    /// Not fatal (nothing was set up). A key of the wrong length for its protocol.
    InvalidKeyLength {
        /// Bytes the protocol needs.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// Not fatal (nothing was set up). A [`Config`] value out of range.
    InvalidConfig(&'static str),
    /// Fatal. The pool could not supply a buffer after records were already decrypted in
    /// place; their plaintext is lost, so the connection cannot go on.
    OutOfMemory {
        /// Bytes asked of the pool.
        size: usize,
    },
    /// The transport failed. Fatal unless transient (`WouldBlock`, `Interrupted`, `TimedOut`,
    /// `OutOfMemory`: see [`slackwater_ready::is_transient`]). The error itself is the
    /// [`source`](std::error::Error::source).
    Io(Arc<io::Error>),
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

impl From<io::Error> for AltsError {
    /// A transport error; an `io::Error` carrying an `AltsError` (from a [`Conn`]) gives that
    /// `AltsError` back.
    fn from(e: io::Error) -> Self {
        match AltsError::from_io(&e) {
            Some(inner) => inner.clone(),
            None => AltsError::Io(Arc::new(e)),
        }
    }
}

impl PartialEq for AltsError {
    fn eq(&self, other: &Self) -> bool {
        use AltsError::*;
        match (self, other) {
            (FrameTooLarge { len: a, limit: b }, FrameTooLarge { len: c, limit: d }) => {
                a == c && b == d
            }
            (FrameTooShort { len: a }, FrameTooShort { len: b }) => a == b,
            (WrongMessageType { ty: a }, WrongMessageType { ty: b }) => a == b,
            (AuthenticationFailed, AuthenticationFailed)
            | (CounterExhausted, CounterExhausted)
            | (SealFailed, SealFailed) => true,
            (Truncated { buffered: a }, Truncated { buffered: b }) => a == b,
            (
                InvalidKeyLength {
                    expected: a,
                    got: b,
                },
                InvalidKeyLength {
                    expected: c,
                    got: d,
                },
            ) => a == c && b == d,
            (InvalidConfig(a), InvalidConfig(b)) => a == b,
            (OutOfMemory { size: a }, OutOfMemory { size: b }) => a == b,
            (Io(a), Io(b)) => a.kind() == b.kind() && a.raw_os_error() == b.raw_os_error(),
            _ => false,
        }
    }
}

impl AltsError {
    /// Whether the error ends the connection (see each variant).
    ///
    /// ```
    /// use slackwater_alts::AltsError;
    /// assert!(AltsError::AuthenticationFailed.is_fatal());
    /// let would_block = AltsError::from(std::io::Error::from(std::io::ErrorKind::WouldBlock));
    /// assert!(!would_block.is_fatal());
    /// ```
    pub fn is_fatal(&self) -> bool {
        match self {
            AltsError::Io(e) => !slackwater_ready::is_transient(e),
            AltsError::InvalidKeyLength { .. } | AltsError::InvalidConfig(_) => false,
            _ => true,
        }
    }

    /// The `AltsError` inside an `io::Error` returned by a [`Conn`] (or by a layer above it
    /// that returned it again), if it is one.
    ///
    /// ```
    /// use slackwater_alts::AltsError;
    /// let e: std::io::Error = AltsError::AuthenticationFailed.into();
    /// assert!(matches!(AltsError::from_io(&e), Some(AltsError::AuthenticationFailed)));
    /// ```
    pub fn from_io(e: &io::Error) -> Option<&AltsError> {
        let inner = e.get_ref()?;
        if let Some(a) = inner.downcast_ref::<AltsError>() {
            return Some(a);
        }
        inner
            .downcast_ref::<slackwater_ready::RepeatedError>()
            .and_then(|r| AltsError::from_io(r.original()))
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
            AltsError::SealFailed => f.write_str("the AEAD backend refused to seal an ALTS record"),
            AltsError::Truncated { buffered } => write!(
                f,
                "the stream ended inside an ALTS record ({buffered} bytes of it received)"
            ),
            AltsError::InvalidKeyLength { expected, got } => {
                write!(f, "ALTS key of {got} bytes, expected {expected}")
            }
            AltsError::InvalidConfig(what) => write!(f, "ALTS configuration: {what}"),
            AltsError::OutOfMemory { size } => {
                write!(
                    f,
                    "out of memory for a {size}-byte ALTS buffer after decrypting records"
                )
            }
            AltsError::Io(_) => f.write_str("the ALTS transport failed"),
        }
    }
}

impl std::error::Error for AltsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AltsError::Io(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<AltsError> for io::Error {
    /// An `io::Error` carrying the `AltsError` (recover it with [`AltsError::from_io`]); a
    /// transient transport error keeps its own kind (`WouldBlock` stays `WouldBlock`).
    fn from(e: AltsError) -> io::Error {
        let kind = match &e {
            AltsError::Io(inner) => inner.kind(),
            AltsError::InvalidKeyLength { .. } | AltsError::InvalidConfig(_) => {
                io::ErrorKind::InvalidInput
            }
            AltsError::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            AltsError::CounterExhausted | AltsError::SealFailed => io::ErrorKind::Other,
            AltsError::OutOfMemory { .. } => io::ErrorKind::OutOfMemory,
            _ => io::ErrorKind::InvalidData,
        };
        if let AltsError::Io(inner) = &e
            && slackwater_ready::is_transient(inner)
            && inner.get_ref().is_none()
        {
            return io::Error::from(kind);
        }
        io::Error::new(kind, e)
    }
}

/// The README's examples, compiled and run as doctests (so they cannot go stale).
#[cfg(doctest)]
#[doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))]
pub struct ReadmeDoctests;
