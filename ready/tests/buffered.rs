//! `Buffered`, the `ReadyRead` over any `io::Read`: every form against a scripted reader
//! (data in pieces, `Interrupted`, `WouldBlock`, the end), with pool statistics back at zero.

use slackwater_ready::{Buffered, Pool, ReadyRead};
use std::collections::VecDeque;
use std::io;

/// An `io::Read` that plays a script: `Ok(bytes)` is read (at most what is asked; the rest
/// stays), `Err(kind)` is returned once; an empty script reads 0 (the end).
struct Scripted(VecDeque<Result<Vec<u8>, io::ErrorKind>>);

impl Scripted {
    fn new(steps: impl IntoIterator<Item = Result<&'static [u8], io::ErrorKind>>) -> Self {
        Scripted(steps.into_iter().map(|s| s.map(<[u8]>::to_vec)).collect())
    }
}

impl io::Read for Scripted {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        match self.0.pop_front() {
            None => Ok(0),
            Some(Err(kind)) => Err(kind.into()),
            Some(Ok(mut d)) => {
                let n = d.len().min(dst.len());
                dst[..n].copy_from_slice(&d[..n]);
                if n < d.len() {
                    self.0.push_front(Ok(d.split_off(n)));
                }
                Ok(n)
            }
        }
    }
}

const INT: io::ErrorKind = io::ErrorKind::Interrupted;
const WB: io::ErrorKind = io::ErrorKind::WouldBlock;

#[test]
fn read_ready_and_try_read_ready_read_what_is_there_and_retry_interrupted() {
    let pool = Pool::new();
    for blocking in [true, false] {
        let mut r = Buffered::new(Scripted::new([
            Err(INT),
            Ok(&b"hello world"[..]),
            Err(INT),
            Err(INT),
            Ok(b"!"),
        ]));
        let mut read = |size| {
            if blocking {
                r.read_ready(size, &pool)
            } else {
                r.try_read_ready(size, &pool)
            }
        };
        assert_eq!(&read(5).unwrap().unwrap()[..], b"hello");
        assert_eq!(&read(100).unwrap().unwrap()[..], b" world");
        assert_eq!(&read(100).unwrap().unwrap()[..], b"!");
        assert!(read(100).unwrap().is_none(), "the end");
        assert_eq!(pool.stats().in_use(), 0);
    }
}

#[test]
fn try_read_ready_passes_would_block_through_and_holds_nothing() {
    let pool = Pool::new();
    let mut r = Buffered::new(Scripted::new([Err(WB), Ok(&b"x"[..])]));
    let e = r.try_read_ready(64, &pool).unwrap_err();
    assert_eq!(e.kind(), WB);
    assert_eq!(pool.stats().in_use(), 0);
    assert_eq!(&r.try_read_ready(64, &pool).unwrap().unwrap()[..], b"x");
}

#[test]
fn append_forms_add_up_to_max_behind_what_the_buffer_holds() {
    let pool = Pool::new();
    for blocking in [true, false] {
        let mut r = Buffered::new(Scripted::new([Err(INT), Ok(&b"abcdefgh"[..])]));
        let mut buf = pool.get(64).unwrap();
        buf.extend_from_slice(b"12").unwrap();
        let mut append = |buf: &mut _, max| {
            if blocking {
                r.append_ready(buf, max)
            } else {
                r.try_append_ready(buf, max)
            }
        };
        assert_eq!(append(&mut buf, 3).unwrap(), 3);
        assert_eq!(&buf[..], b"12abc");
        assert_eq!(append(&mut buf, 100).unwrap(), 5);
        assert_eq!(&buf[..], b"12abcdefgh");
        assert_eq!(append(&mut buf, 100).unwrap(), 0, "the end");
        assert_eq!(&buf[..], b"12abcdefgh");
        drop(buf);
        assert_eq!(pool.stats().in_use(), 0);
    }
}

#[test]
fn append_never_writes_past_the_capacity() {
    let pool = Pool::new();
    let mut buf = pool.get(64).unwrap();
    let cap = buf.capacity();
    let mut r = Buffered::new(Scripted(VecDeque::from([Ok(vec![7u8; cap + 100])])));
    assert_eq!(r.append_ready(&mut buf, usize::MAX).unwrap(), cap);
    assert_eq!(buf.len(), cap);
    assert_eq!(r.append_ready(&mut buf, usize::MAX).unwrap(), 0, "full");
}

#[test]
fn read_ready_into_retries_interrupted() {
    let mut r = Buffered::new(Scripted::new([Err(INT), Ok(&b"xyz"[..])]));
    let mut dst = [0u8; 8];
    assert_eq!(r.read_ready_into(&mut dst).unwrap(), 3);
    assert_eq!(&dst[..3], b"xyz");
    assert_eq!(r.read_ready_into(&mut dst).unwrap(), 0);
}

#[test]
fn other_errors_pass_through() {
    let pool = Pool::new();
    let mut r = Buffered::new(Scripted::new([Err(io::ErrorKind::ConnectionReset)]));
    let e = r.read_ready(64, &pool).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(pool.stats().in_use(), 0);
}
