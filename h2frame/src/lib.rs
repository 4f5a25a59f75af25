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
//! use slackwater_h2frame::{Data, Frame, FrameReader, FrameWriter, Payload, Pool};
//! use slackwater_ready::ReadyFd;
//!
//! let pool = Pool::new();
//! let (server, mut client) = std::os::unix::net::UnixStream::pair().unwrap();
//! let mut reader = FrameReader::with_pool(ReadyFd::new(server).unwrap(), &pool);
//!
//! let mut writer = FrameWriter::new();
//! let data = Payload::from(vec![7u8; 16_000]);
//! writer.write(&Frame::Data(Data { stream_id: 1, end_stream: true, data, padding: None })).unwrap();
//! writer.flush_to(&mut client).unwrap();
//!
//! let Some(Frame::Data(d)) = reader.read_frame().unwrap() else { panic!() };
//! assert!(d.data.is_view());                 // a view into the pooled read buffer
//! assert_eq!(pool.stats().in_use(), 1);      // ... which the payload keeps alive
//! drop(d);
//! assert_eq!(pool.stats().in_use(), 0);      // idle between frames: nothing held
//! ```
//!
//! # Pieces
//! * [`FrameReader`]: blocking [`read_frame`](FrameReader::read_frame) and non-blocking
//!   [`try_read_frame`](FrameReader::try_read_frame), the server side's rules (client
//!   preface, SETTINGS first, no PUSH_PROMISE: [`Config::expect_client_preface`]),
//!   CONTINUATION sequencing and flood cap, an opt-in PING / SETTINGS flood cap
//!   ([`Config::max_pending_replies`]), unknown frames skipped or surfaced ([`Config`]).
//! * [`decode`] / [`Decoder`]: stateless single-frame decoding (no sequencing state).
//! * [`FrameWriter`] / [`encode`]: every frame type into pooled buffers.
//! * [`Frame`] and one struct per type; [`FrameHeader`]; [`Payload`].
//!
//! The pool and transport types this crate's API uses are re-exported: [`Pool`], [`Buf`],
//! [`SharedBuf`], [`ReadyRead`], [`global`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod decode;
mod error;
mod frame;
mod reader;
mod writer;

pub use decode::{Decoder, decode};
pub use error::{Error, ErrorCode, Scope};
pub use frame::{
    CLIENT_PREFACE, Continuation, DEFAULT_MAX_FRAME_SIZE, Data, FRAME_HEADER_LEN, Frame,
    FrameHeader, GoAway, Headers, MAX_FRAME_SIZE_LIMIT, Payload, Ping, Priority, PrioritySpec,
    PushPromise, RstStream, STREAM_ID_MASK, Setting, Settings, Unknown, WindowUpdate, flags, kind,
};
pub use reader::{Config, FrameReader};
pub use slackwater_ready::{Buf, Pool, PoolError, ReadyRead, SharedBuf, global};
pub use writer::{FrameWriter, encode};
