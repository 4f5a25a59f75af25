//! [`Error`], [`ErrorCode`] and [`Scope`].

use core::fmt;
use slackwater_ready::PoolError;
use std::io;
use std::sync::Arc;

/// An HTTP/2 error code (RFC 9113 §7), as carried by RST_STREAM and GOAWAY. Codes this crate
/// does not know are kept as they are (§7: unknown codes are not errors).
///
/// ```
/// use slackwater_h2frame::ErrorCode;
/// assert_eq!(ErrorCode::FRAME_SIZE_ERROR.0, 6);
/// assert_eq!(ErrorCode(1).to_string(), "PROTOCOL_ERROR");
/// assert_eq!(ErrorCode(0xff).to_string(), "0xff");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// `NO_ERROR` (0x0): graceful shutdown.
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    /// `PROTOCOL_ERROR` (0x1).
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    /// `INTERNAL_ERROR` (0x2).
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    /// `FLOW_CONTROL_ERROR` (0x3).
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    /// `SETTINGS_TIMEOUT` (0x4).
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    /// `STREAM_CLOSED` (0x5).
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    /// `FRAME_SIZE_ERROR` (0x6).
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    /// `REFUSED_STREAM` (0x7).
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    /// `CANCEL` (0x8).
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    /// `COMPRESSION_ERROR` (0x9).
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    /// `CONNECT_ERROR` (0xa).
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    /// `ENHANCE_YOUR_CALM` (0xb): the peer is behaving abusively (here: a CONTINUATION flood,
    /// or a PING / SETTINGS flood when
    /// [`Config::max_pending_replies`](crate::Config::max_pending_replies) is set).
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    /// `INADEQUATE_SECURITY` (0xc).
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    /// `HTTP_1_1_REQUIRED` (0xd).
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);

    /// The RFC 9113 name of a known code.
    ///
    /// ```
    /// use slackwater_h2frame::ErrorCode;
    /// assert_eq!(ErrorCode::ENHANCE_YOUR_CALM.name(), Some("ENHANCE_YOUR_CALM"));
    /// assert_eq!(ErrorCode(99).name(), None);
    /// ```
    pub fn name(self) -> Option<&'static str> {
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
        NAMES.get(self.0 as usize).copied()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{:#x}", self.0),
        }
    }
}

/// Whom an error concerns (RFC 9113 §5.4): the whole connection (answer with GOAWAY and close)
/// or one stream (answer with RST_STREAM on that stream and keep reading).
///
/// ```
/// use slackwater_h2frame::Scope;
/// assert_eq!(Scope::Stream(3).stream_id(), Some(3));
/// assert!(Scope::Connection.is_connection());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A connection error: send GOAWAY with the code, then close.
    Connection,
    /// A stream error on this stream: send RST_STREAM with the code; the connection goes on.
    Stream(u32),
}

impl Scope {
    /// Whether this is a connection error.
    ///
    /// ```
    /// assert!(!slackwater_h2frame::Scope::Stream(1).is_connection());
    /// ```
    pub fn is_connection(self) -> bool {
        matches!(self, Scope::Connection)
    }

    /// The stream of a stream error.
    ///
    /// ```
    /// assert_eq!(slackwater_h2frame::Scope::Connection.stream_id(), None);
    /// ```
    pub fn stream_id(self) -> Option<u32> {
        match self {
            Scope::Connection => None,
            Scope::Stream(id) => Some(id),
        }
    }
}

/// Everything that can go wrong reading or writing frames.
///
/// Protocol violations ([`Error::Protocol`], [`Error::BadPreface`]) carry the HTTP/2 error
/// code to send and its [`Scope`]; [`code`](Error::code) and [`scope`](Error::scope) give them
/// for every variant that has one. [`is_fatal`](Error::is_fatal) says, per variant, whether
/// the connection is over:
///
/// | variant | fatal | after it, the reader |
/// |---|---|---|
/// | [`Protocol`](Error::Protocol), connection scope | yes | returns it again from every call |
/// | [`Protocol`](Error::Protocol), stream scope | no | has consumed the frame; read on |
/// | [`BadPreface`](Error::BadPreface) | yes | returns it again from every call |
/// | [`UnexpectedEof`](Error::UnexpectedEof) | yes | returns it again from every call |
/// | [`Io`](Error::Io), `WouldBlock` / `Interrupted` / `TimedOut` | no | kept any partial frame; call again |
/// | [`Io`](Error::Io), any other kind (a reset, …) | yes | returns it again from every call (never a clean end of stream) |
/// | [`Pool`](Error::Pool) | no | kept what it had; call again when memory is back |
/// | [`Invalid`](Error::Invalid) (a frame or setting the caller got wrong) | no | unaffected |
///
/// The type is `Clone` (an I/O error is held in an [`Arc`]) and `PartialEq` (I/O errors
/// compare by kind and OS error code). `Display` describes this error only; the underlying
/// I/O or pool error is its [`source`](core::error::Error::source).
///
/// ```
/// use slackwater_h2frame::{decode, Error, ErrorCode, Scope};
/// // PING on stream 1: RFC 9113 §6.7 makes that a connection PROTOCOL_ERROR.
/// let wire = [0, 0, 8, 6, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
/// let e = decode(&wire).unwrap_err();
/// assert_eq!(e.code(), Some(ErrorCode::PROTOCOL_ERROR));
/// assert_eq!(e.scope(), Some(Scope::Connection));
/// assert!(e.is_fatal());
/// assert!(matches!(e, Error::Protocol { .. }));
/// assert_eq!(e.clone(), e);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke RFC 9113. `reason` says how (it is meant for GOAWAY debug data and
    /// logs, e.g. `"PING: stream id != 0"`). Fatal when its scope is the connection; a stream
    /// error is not (the frame was consumed: answer with RST_STREAM and read on).
    Protocol {
        /// The HTTP/2 error code to send.
        code: ErrorCode,
        /// Connection or stream error.
        scope: Scope,
        /// What was wrong.
        reason: &'static str,
    },
    /// A server expected the client connection preface (`PRI * HTTP/2.0…`) and got other
    /// bytes: a connection `PROTOCOL_ERROR` (fatal). `http1` is set when the bytes look like
    /// an HTTP/1.x request (a client that does not speak HTTP/2 with prior knowledge).
    BadPreface {
        /// The bytes look like an HTTP/1.x request line.
        http1: bool,
    },
    /// The transport ended in the middle of a frame (or of the preface); `buffered` bytes of it
    /// had arrived. Fatal: every later read returns it again.
    UnexpectedEof {
        /// Bytes of the incomplete frame that had been received.
        buffered: usize,
    },
    /// The transport failed (fatal: every later read returns it again), or, not fatal, has
    /// nothing ready now ([`is_would_block`](Error::is_would_block)), was interrupted by a
    /// signal, or timed out waiting ([`slackwater_ready::is_transient`] tells them apart).
    Io(Arc<io::Error>),
    /// The pool could not hand out a buffer. Not fatal for the reader (nothing was consumed;
    /// a partial frame is kept). From the writer, part of a frame may have been queued
    /// already: treat it as fatal for the connection's output.
    Pool(PoolError),
    /// A frame given to the writer cannot be encoded (a field out of range, or longer than
    /// the peer's maximum frame size), or a configuration value is out of range. Not fatal:
    /// nothing was written or changed.
    Invalid(&'static str),
}

impl Error {
    pub(crate) fn conn(code: ErrorCode, reason: &'static str) -> Error {
        Error::Protocol {
            code,
            scope: Scope::Connection,
            reason,
        }
    }

    pub(crate) fn stream(code: ErrorCode, id: u32, reason: &'static str) -> Error {
        Error::Protocol {
            code,
            scope: Scope::Stream(id),
            reason,
        }
    }

    /// The HTTP/2 error code to send for a protocol violation (`None` for I/O, pool and
    /// encoding errors).
    ///
    /// ```
    /// let e = slackwater_h2frame::Error::BadPreface { http1: true };
    /// assert_eq!(e.code(), Some(slackwater_h2frame::ErrorCode::PROTOCOL_ERROR));
    /// ```
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Protocol { code, .. } => Some(*code),
            Error::BadPreface { .. } => Some(ErrorCode::PROTOCOL_ERROR),
            _ => None,
        }
    }

    /// The scope of a protocol violation (`None` for I/O, pool and encoding errors).
    ///
    /// ```
    /// use slackwater_h2frame::{decode, Scope};
    /// // WINDOW_UPDATE with increment 0 on stream 1: a stream error (§6.9).
    /// let e = decode(&[0, 0, 4, 8, 0, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap_err();
    /// assert_eq!(e.scope(), Some(Scope::Stream(1)));
    /// ```
    pub fn scope(&self) -> Option<Scope> {
        match self {
            Error::Protocol { scope, .. } => Some(*scope),
            Error::BadPreface { .. } => Some(Scope::Connection),
            _ => None,
        }
    }

    /// Whether this is an HTTP/2 connection error (answer with GOAWAY and close). I/O errors
    /// and a truncated stream also end the connection but have no HTTP/2 code; they return
    /// `false` here (and `true` from [`is_fatal`](Error::is_fatal)).
    ///
    /// ```
    /// let e = slackwater_h2frame::Error::BadPreface { http1: false };
    /// assert!(e.is_connection_error());
    /// ```
    pub fn is_connection_error(&self) -> bool {
        self.scope().is_some_and(Scope::is_connection)
    }

    /// Whether the connection is over: a connection-scope protocol error, a bad preface, a
    /// stream that ended inside a frame, or an I/O error other than `WouldBlock`,
    /// `Interrupted`, `TimedOut` and `OutOfMemory` (see the table in the type docs). The
    /// reader returns a fatal error again from every later call. Stream errors, the transient
    /// I/O errors, pool exhaustion and [`Error::Invalid`] are not fatal.
    ///
    /// ```
    /// use slackwater_h2frame::{Error, ErrorCode, decode};
    /// use std::io::{self, ErrorKind};
    /// assert!(Error::from(io::Error::from(ErrorKind::ConnectionReset)).is_fatal());
    /// assert!(!Error::from(io::Error::from(ErrorKind::WouldBlock)).is_fatal());
    /// assert!(Error::UnexpectedEof { buffered: 3 }.is_fatal());
    /// // WINDOW_UPDATE 0 on stream 1: a stream error, the connection goes on.
    /// assert!(!decode(&[0, 0, 4, 8, 0, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap_err().is_fatal());
    /// assert!(!Error::Invalid("weight outside 1..=256").is_fatal());
    /// ```
    pub fn is_fatal(&self) -> bool {
        match self {
            Error::Protocol { scope, .. } => scope.is_connection(),
            Error::BadPreface { .. } | Error::UnexpectedEof { .. } => true,
            Error::Io(e) => !slackwater_ready::is_transient(e),
            Error::Pool(_) | Error::Invalid(_) => false,
        }
    }

    /// Whether this is the non-blocking calls' "nothing ready now"
    /// ([`WouldBlock`](io::ErrorKind::WouldBlock)): wait for readiness and call again.
    ///
    /// ```
    /// use std::io::{self, ErrorKind};
    /// let e = slackwater_h2frame::Error::from(io::Error::from(ErrorKind::WouldBlock));
    /// assert!(e.is_would_block());
    /// ```
    #[inline]
    pub fn is_would_block(&self) -> bool {
        matches!(self, Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// The I/O error of an [`Error::Io`].
    ///
    /// ```
    /// use std::io::{self, ErrorKind};
    /// let e = slackwater_h2frame::Error::from(io::Error::from(ErrorKind::ConnectionReset));
    /// assert_eq!(e.io_error().map(io::Error::kind), Some(ErrorKind::ConnectionReset));
    /// ```
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }

    /// A short description: the reason of a protocol error, or a fixed text.
    ///
    /// ```
    /// let e = slackwater_h2frame::decode(&[0, 0, 0, 4, 0, 0, 0, 0, 1]).unwrap_err();
    /// assert_eq!(e.reason(), "SETTINGS: stream id != 0");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Protocol { reason, .. } => reason,
            Error::BadPreface { http1: true } => "client preface mismatch: got HTTP/1.x",
            Error::BadPreface { http1: false } => "client preface mismatch",
            Error::UnexpectedEof { .. } => "end of stream inside a frame",
            Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock => "transport not ready",
            Error::Io(_) => "transport error",
            Error::Pool(_) => "no buffer from the pool",
            Error::Invalid(r) => r,
        }
    }
}

impl PartialEq for Error {
    /// Field by field; I/O errors compare by [`kind`](io::Error::kind) and
    /// [`raw_os_error`](io::Error::raw_os_error) (their payloads cannot be compared).
    ///
    /// ```
    /// use slackwater_h2frame::Error;
    /// use std::io::{self, ErrorKind};
    /// let reset = || Error::from(io::Error::from(ErrorKind::ConnectionReset));
    /// assert_eq!(reset(), reset());
    /// assert_ne!(reset(), Error::from(io::Error::from(ErrorKind::WouldBlock)));
    /// ```
    fn eq(&self, other: &Error) -> bool {
        match (self, other) {
            (
                Error::Protocol {
                    code: c1,
                    scope: s1,
                    reason: r1,
                },
                Error::Protocol {
                    code: c2,
                    scope: s2,
                    reason: r2,
                },
            ) => c1 == c2 && s1 == s2 && r1 == r2,
            (Error::BadPreface { http1: a }, Error::BadPreface { http1: b }) => a == b,
            (Error::UnexpectedEof { buffered: a }, Error::UnexpectedEof { buffered: b }) => a == b,
            (Error::Io(a), Error::Io(b)) => {
                a.kind() == b.kind() && a.raw_os_error() == b.raw_os_error()
            }
            (Error::Pool(a), Error::Pool(b)) => a == b,
            (Error::Invalid(a), Error::Invalid(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol {
                code,
                scope,
                reason,
            } => match scope {
                Scope::Connection => write!(f, "HTTP/2 connection error {code}: {reason}"),
                Scope::Stream(id) => {
                    write!(f, "HTTP/2 stream error {code} on stream {id}: {reason}")
                }
            },
            Error::BadPreface { http1 } => {
                f.write_str(
                    "HTTP/2 connection error PROTOCOL_ERROR: the client preface did not match",
                )?;
                if *http1 {
                    f.write_str(" (the client sent an HTTP/1.x request)")?;
                }
                Ok(())
            }
            Error::UnexpectedEof { buffered } => write!(
                f,
                "the stream ended inside a frame ({buffered} bytes of it received)"
            ),
            // The I/O and pool errors are the `source()`: not repeated here.
            Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock => {
                f.write_str("the transport has nothing ready now")
            }
            Error::Io(_) => f.write_str("HTTP/2 transport error"),
            Error::Pool(_) => f.write_str("no buffer from the pool"),
            Error::Invalid(r) => write!(f, "invalid frame or setting: {r}"),
        }
    }
}

impl core::error::Error for Error {
    /// The I/O error of [`Error::Io`], the pool's error of [`Error::Pool`].
    ///
    /// ```
    /// use core::error::Error as _;
    /// use std::io::{self, ErrorKind};
    /// let e = slackwater_h2frame::Error::from(io::Error::new(ErrorKind::ConnectionReset, "reset by peer"));
    /// assert_eq!(e.to_string(), "HTTP/2 transport error");
    /// assert_eq!(e.source().unwrap().to_string(), "reset by peer");
    /// ```
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(&**e),
            Error::Pool(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    /// An [`Error::Io`]; an `OutOfMemory` carrying a [`PoolError`] (what the pool's errors
    /// become on their way through a transport) becomes [`Error::Pool`] again.
    ///
    /// ```
    /// use slackwater_h2frame::{Error, PoolError};
    /// let e = Error::from(std::io::Error::from(PoolError::Exhausted));
    /// assert_eq!(e, Error::Pool(PoolError::Exhausted));
    /// ```
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::OutOfMemory
            && let Some(p) = e.get_ref().and_then(|p| p.downcast_ref::<PoolError>())
        {
            return Error::Pool(*p);
        }
        Error::Io(Arc::new(e))
    }
}

impl From<PoolError> for Error {
    /// An [`Error::Pool`].
    ///
    /// ```
    /// let e = slackwater_h2frame::Error::from(slackwater_h2frame::PoolError::Exhausted);
    /// assert!(!e.is_fatal());
    /// ```
    fn from(e: PoolError) -> Self {
        Error::Pool(e)
    }
}

impl From<Error> for io::Error {
    /// I/O errors come back as they were (the same OS error code, or kind and payload);
    /// protocol errors become [`InvalidData`](io::ErrorKind::InvalidData), a truncated stream
    /// [`UnexpectedEof`](io::ErrorKind::UnexpectedEof), pool errors
    /// [`OutOfMemory`](io::ErrorKind::OutOfMemory), encoding errors
    /// [`InvalidInput`](io::ErrorKind::InvalidInput); the [`Error`] is the payload.
    ///
    /// ```
    /// use std::io::{self, ErrorKind};
    /// let e = slackwater_h2frame::Error::UnexpectedEof { buffered: 4 };
    /// assert_eq!(io::Error::from(e).kind(), ErrorKind::UnexpectedEof);
    /// let reset = slackwater_h2frame::Error::from(io::Error::from_raw_os_error(104));
    /// assert_eq!(io::Error::from(reset).raw_os_error(), Some(104));
    /// ```
    fn from(e: Error) -> io::Error {
        let kind = match e {
            Error::Io(inner) => {
                return Arc::try_unwrap(inner)
                    .unwrap_or_else(|shared| slackwater_ready::repeat_error(&shared));
            }
            Error::Protocol { .. } | Error::BadPreface { .. } => io::ErrorKind::InvalidData,
            Error::UnexpectedEof { .. } => io::ErrorKind::UnexpectedEof,
            Error::Pool(_) => io::ErrorKind::OutOfMemory,
            Error::Invalid(_) => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, e)
    }
}
