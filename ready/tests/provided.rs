//! `ReadyRead`'s provided methods (`read_ready_into`, `append_ready`, `try_append_ready`),
//! which a source implementing only `read_ready` and `try_read_ready` gets: every type in this
//! crate overrides them, so they are tested here through a minimal source.

use slackwater_ready::{Buf, Pool, ReadyRead, global};
use std::io;

/// Hands out its bytes in reads of at most `size` (or `extra` more than asked, to break the
/// contract), then ends; `try_` reads say `WouldBlock` while `blocked`.
struct Minimal {
    data: Vec<u8>,
    extra: usize,
    blocked: bool,
}

impl Minimal {
    fn new(data: &[u8]) -> Self {
        Minimal {
            data: data.to_vec(),
            extra: 0,
            blocked: false,
        }
    }
}

impl ReadyRead for Minimal {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        if self.data.is_empty() {
            return Ok(None);
        }
        let n = (size + self.extra).min(self.data.len());
        let mut b = pool.get(n)?;
        b.extend_from_slice(&self.data[..n])
            .map_err(io::Error::other)?;
        self.data.drain(..n);
        Ok(Some(b))
    }
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        if self.blocked {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.read_ready(size, pool)
    }
}

#[test]
fn read_ready_into_copies_what_was_read_then_reports_the_end() {
    let mut src = Minimal::new(b"hello world");
    let mut dst = [0u8; 5];
    assert_eq!(src.read_ready_into(&mut dst).unwrap(), 5);
    assert_eq!(&dst, b"hello");
    let mut big = [0u8; 64];
    assert_eq!(src.read_ready_into(&mut big).unwrap(), 6);
    assert_eq!(&big[..6], b" world");
    assert_eq!(src.read_ready_into(&mut big).unwrap(), 0, "end of stream");
    assert_eq!(
        src.read_ready_into(&mut []).unwrap(),
        0,
        "empty destination"
    );
}

#[test]
fn read_ready_into_refuses_a_source_that_returns_more_than_asked() {
    let mut src = Minimal::new(b"0123456789");
    src.extra = 3;
    let mut dst = [0u8; 4];
    assert!(src.read_ready_into(&mut dst).is_err());
}

#[test]
fn append_ready_appends_at_most_max_and_the_spare_capacity() {
    let mut src = Minimal::new(&[7; 600]);
    let mut buf = global().get(256).unwrap();
    buf.extend_from_slice(b"head").unwrap();
    assert_eq!(src.append_ready(&mut buf, 10).unwrap(), 10);
    assert_eq!(buf.len(), 14);
    assert_eq!(&buf[..5], b"head\x07");
    // Asking for more than the spare capacity takes only what fits.
    assert_eq!(src.append_ready(&mut buf, 1000).unwrap(), 242);
    assert_eq!(buf.len(), 256);
    assert_eq!(
        src.append_ready(&mut buf, 10).unwrap(),
        0,
        "no spare capacity"
    );
    assert_eq!(src.data.len(), 600 - 252, "nothing read when nothing fits");
    let mut other = global().get(4096).unwrap();
    assert_eq!(src.append_ready(&mut other, 0).unwrap(), 0, "max 0");
    assert_eq!(src.append_ready(&mut other, 4096).unwrap(), 348);
    assert_eq!(
        src.append_ready(&mut other, 4096).unwrap(),
        0,
        "end of stream"
    );
}

#[test]
fn try_append_ready_is_append_ready_that_does_not_wait() {
    let mut src = Minimal::new(b"abcdef");
    let mut buf = global().get(16).unwrap();
    src.blocked = true;
    let e = src.try_append_ready(&mut buf, 4).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    assert!(buf.is_empty());
    src.blocked = false;
    assert_eq!(src.try_append_ready(&mut buf, 4).unwrap(), 4);
    assert_eq!(&buf[..], b"abcd");
    assert_eq!(src.try_append_ready(&mut buf, 0).unwrap(), 0);
    assert_eq!(src.try_append_ready(&mut buf, 9).unwrap(), 2);
    assert_eq!(&buf[..], b"abcdef");
    assert_eq!(
        src.try_append_ready(&mut buf, 9).unwrap(),
        0,
        "end of stream"
    );
    let mut full = global().get(1).unwrap();
    full.extend_from_slice(&[0; 256]).unwrap();
    src.data = b"more".to_vec();
    assert_eq!(
        src.try_append_ready(&mut full, 9).unwrap(),
        0,
        "no spare capacity"
    );
    assert_eq!(src.data.len(), 4);
}

#[test]
fn append_refuses_a_source_that_returns_more_than_fits() {
    let mut src = Minimal::new(&[1; 300]);
    src.extra = 100;
    let mut buf = global().get(256).unwrap();
    buf.extend_from_slice(&[0; 200]).unwrap();
    assert!(src.append_ready(&mut buf, 56).is_err());
}
