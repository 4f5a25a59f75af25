//! An RFC 9113 (HTTP/2) frame reader that holds **no buffer between frames**.
//!
//! [`FrameReader`] reads from any [`ReadyRead`] (a socket through
//! [`ReadyFd`](slackwater_ready::ReadyFd), an ALTS connection, a test source). It takes a read
//! buffer from a [`Pool`] only once the transport is readable and gives it back the moment
//! every buffered byte has been consumed, so a connection waiting for its next frame pins no
//! memory. Large DATA payloads and header block fragments leave the reader as zero-copy views
//! ([`Payload`], backed by [`SharedBuf`]); small ones are copied so they cannot pin a big
//! buffer. Every frame is validated per RFC 9113 §4–§6, each failure an [`Error`] carrying the
//! HTTP/2 [`ErrorCode`] and its [`Scope`] (connection, or stream + id).
//!
//! ```
//! use slackwater_h2frame::{Data, Frame, FrameReader, FrameWriter, Payload, Pool, PoolHandle};
//! use slackwater_ready::{ReadyFd, ReadyWrite};
//!
//! let pool = PoolHandle::from(Pool::new());
//! let (server, client) = std::os::unix::net::UnixStream::pair().unwrap();
//! let mut server = FrameReader::with_pool(ReadyFd::new(server).unwrap(), pool.clone());
//! let mut client = FrameReader::with_pool(ReadyFd::new(client).unwrap(), pool.clone());
//!
//! // The writer encodes straight into the connection's output (one copy of each DATA byte).
//! let writer = FrameWriter::new();
//! writer.write_data(&mut client, 1, true, &[7u8; 16_000]).unwrap();
//! client.flush_ready().unwrap();
//! assert_eq!(client.queued(), 0);
//!
//! let Some(Frame::Data(d)) = server.read_frame().unwrap() else { panic!() };
//! assert!(d.data.is_view());                 // a view into the pooled read buffer
//! assert_eq!(pool.stats().in_use(), 1);      // ... which the payload keeps alive
//! drop(d);
//! assert_eq!(pool.stats().in_use(), 0);      // idle between frames: nothing held
//! ```
//!
//! # Pieces
//! * [`FrameReader`]: blocking [`read_frame`](FrameReader::read_frame) and non-blocking
//!   [`try_read_frame`](FrameReader::try_read_frame), the server side's rules (client
//!   preface, SETTINGS first, no PUSH_PROMISE: [`ConfigBuilder::expect_client_preface`]),
//!   CONTINUATION sequencing and flood cap, an opt-in PING / SETTINGS flood cap
//!   ([`ConfigBuilder::max_pending_replies`]), unknown frames skipped or surfaced; fatal
//!   errors (a reset included) stick. Its buffering is
//!   [`slackwater_ready::Assembler`]'s. Over a transport that is also a [`ReadyWrite`], the
//!   reader is one too, so one value is the whole connection.
//! * [`Config`] / [`ConfigBuilder`]: the reader's settings, checked by
//!   [`build`](ConfigBuilder::build).
//! * [`FrameWriter`]: every frame type, encoded straight into a [`ReadyWrite`] (no buffer of
//!   its own); [`encode`]: one frame into a pooled buffer.
//! * [`decode`] / [`Decoder`]: stateless single-frame decoding (no sequencing state).
//! * [`Frame`] and one struct per type; [`FrameHeader`]; [`Payload`].
//! * [`Error`]: `Clone`, with [`is_fatal`](Error::is_fatal), the HTTP/2 code and scope.
//! * Feature `tokio`: `FrameReader::next_frame` (cancel-safe) and `poll_next_frame`, async
//!   flushes (`FrameReader::flush`, `FrameWriter::flush`), and `slackwater_ready::ReadyPoll`
//!   through the reader, over a `slackwater_ready::TokioFd` or an ALTS `Conn` on one.
//! * Feature `bytes`: `bytes::Bytes: From<Payload>` (a view of the read buffer without a copy;
//!   the buffer goes back to the pool when the last `Bytes` drops).
//!
//! The pool and transport types this crate's API uses are re-exported: [`Pool`],
//! [`PoolHandle`], [`PoolError`], [`Buf`], [`SharedBuf`], [`ReadyRead`], [`ReadyWrite`],
//! [`global`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod decode;
mod error;
mod frame;
mod reader;
#[cfg(feature = "tokio")]
mod tokio;
mod writer;

pub use config::{Config, ConfigBuilder};
pub use decode::{Decoder, decode};
pub use error::{Error, ErrorCode, Scope};
pub use frame::{
    CLIENT_PREFACE, Continuation, DEFAULT_MAX_FRAME_SIZE, Data, FRAME_HEADER_LEN, Frame,
    FrameHeader, GoAway, Headers, MAX_FRAME_SIZE_LIMIT, Payload, Ping, Priority, PrioritySpec,
    PushPromise, RstStream, STREAM_ID_MASK, Setting, Settings, Unknown, WindowUpdate, flags, kind,
};
pub use reader::FrameReader;
pub use slackwater_ready::{
    Buf, Pool, PoolError, PoolHandle, ReadyRead, ReadyWrite, SharedBuf, global,
};
pub use writer::{FrameWriter, encode};

/// The README's examples, compiled and run as doctests (so they cannot go stale).
#[cfg(doctest)]
#[doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))]
pub struct ReadmeDoctests;
