//! `repeat_error`: what a remembered error looks like the second time.

use slackwater_ready::{RepeatedError, repeat_error};
use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

#[derive(Debug)]
struct Cause;

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the cause")
    }
}

impl Error for Cause {}

#[derive(Debug)]
struct Failure(Cause);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the failure")
    }
}

impl Error for Failure {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

/// An error with a payload comes back with the same kind and text, its payload's cause
/// reachable through `source()` as the first time, and the first error through `original`.
#[test]
fn a_repeated_error_reads_like_the_first() {
    let first = Arc::new(io::Error::other(Failure(Cause)));
    let again = repeat_error(&first);
    assert_eq!(again.kind(), io::ErrorKind::Other);
    assert_eq!(again.to_string(), "the failure");
    let inner = again.get_ref().expect("a payload");
    assert_eq!(inner.to_string(), "the failure");
    assert_eq!(
        inner.source().map(ToString::to_string).as_deref(),
        Some("the cause")
    );
    let r = inner
        .downcast_ref::<RepeatedError>()
        .expect("a RepeatedError");
    assert_eq!(r.original().to_string(), "the failure");
}
