//! Errors that stay: a fatal transport error is remembered and returned again by every later
//! call, because the OS does not remember it (Linux returns `ECONNRESET` once, then `read`
//! returns 0, which would read as a clean end of stream).

use std::fmt;
use std::io;
use std::sync::Arc;

/// Whether an I/O error leaves the source usable: [`WouldBlock`](io::ErrorKind::WouldBlock)
/// (nothing now), [`Interrupted`](io::ErrorKind::Interrupted) (a signal; state kept),
/// [`TimedOut`](io::ErrorKind::TimedOut) (a wait timeout) and
/// [`OutOfMemory`](io::ErrorKind::OutOfMemory) (the pool had no buffer; nothing was read).
/// Every other error is fatal for the connection: the layers of this workspace remember it and
/// return it again from every later call.
///
/// ```
/// use std::io::{Error, ErrorKind};
/// assert!(slackwater_ready::is_transient(&Error::from(ErrorKind::WouldBlock)));
/// assert!(!slackwater_ready::is_transient(&Error::from(ErrorKind::ConnectionReset)));
/// ```
pub fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock
            | io::ErrorKind::Interrupted
            | io::ErrorKind::TimedOut
            | io::ErrorKind::OutOfMemory
    )
}

/// The payload of an `io::Error` returned again after a fatal error whose payload cannot be
/// copied (an error with an OS code is re-created exactly instead). [`RepeatedError::original`]
/// is the first error, with its own payload (for example an `AltsError`).
///
/// ```
/// use slackwater_ready::{ReadyFd, ReadyRead, RepeatedError, global};
/// # let _ = ReadyFd::new(std::os::unix::net::UnixStream::pair().unwrap().0);
/// let e = std::io::Error::other("torn");
/// let again = slackwater_ready::repeat_error(&std::sync::Arc::new(e));
/// let r = again.get_ref().unwrap().downcast_ref::<RepeatedError>().unwrap();
/// assert_eq!(r.original().to_string(), "torn");
/// assert_eq!(again.to_string(), "torn");
/// ```
#[derive(Clone, Debug)]
pub struct RepeatedError(Arc<io::Error>);

impl RepeatedError {
    /// The error as it was first returned.
    ///
    /// ```
    /// let e = std::sync::Arc::new(std::io::Error::other("x"));
    /// let again = slackwater_ready::repeat_error(&e);
    /// let r = again.get_ref().unwrap().downcast_ref::<slackwater_ready::RepeatedError>().unwrap();
    /// assert_eq!(r.original().kind(), std::io::ErrorKind::Other);
    /// ```
    pub fn original(&self) -> &io::Error {
        &self.0
    }
}

impl fmt::Display for RepeatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The same text as the first time; the payload's own cause is reached through
        // `source()`, so it is not repeated here.
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for RepeatedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.get_ref().and_then(|e| e.source())
    }
}

/// An `io::Error` equal to `e` for every later call: the same OS error code when it has one,
/// otherwise the same kind and text with the first error reachable through
/// [`RepeatedError::original`].
///
/// ```
/// let e = std::sync::Arc::new(std::io::Error::from_raw_os_error(104)); // ECONNRESET
/// let again = slackwater_ready::repeat_error(&e);
/// assert_eq!(again.raw_os_error(), Some(104));
/// assert_eq!(again.kind(), std::io::ErrorKind::ConnectionReset);
/// ```
pub fn repeat_error(e: &Arc<io::Error>) -> io::Error {
    if let Some(code) = e.raw_os_error() {
        return io::Error::from_raw_os_error(code);
    }
    if e.get_ref().is_none() {
        return io::Error::from(e.kind());
    }
    io::Error::new(e.kind(), RepeatedError(e.clone()))
}

/// A remembered fatal error.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sticky(Option<Arc<io::Error>>);

impl Sticky {
    /// Nothing remembered.
    pub(crate) const NONE: Sticky = Sticky(None);

    /// The remembered error, again.
    #[inline]
    pub(crate) fn check(&self) -> io::Result<()> {
        match &self.0 {
            None => Ok(()),
            Some(e) => Err(repeat_error(e)),
        }
    }

    /// Passes `e` on; if it is fatal, remembers it first.
    pub(crate) fn note(&mut self, e: io::Error) -> io::Error {
        // A shutdown is remembered by the reader that was shut down, with its own payload.
        if is_transient(&e) || self.0.is_some() || crate::is_shutdown(&e) {
            return e;
        }
        let e = Arc::new(e);
        let out = repeat_error(&e);
        self.0 = Some(e);
        out
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.is_some()
    }
}
