//! `Conn`'s `AsyncRead` / `AsyncWrite` over a transport that answers from a script: what the
//! adapters do with `Interrupted`, `WouldBlock` and fatal errors at each point, and the batch
//! sizes of one `poll_read` / `poll_write`. (`TokioFd` retries `Interrupted` inside and real
//! sockets rarely fail on cue, so the socket tests in `tokio.rs` cannot reach these paths.)
#![cfg(feature = "tokio")]

use slackwater_alts::{Backend, Conn, Crypter, OVERHEAD, Protocol, Side};
use slackwater_ready::{Buf, Pool, ReadyPoll, ReadyRead, ReadyWrite, global};
use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the next transport call does.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Fail with this kind.
    Fail(ErrorKind),
    /// Succeed (a read hands out the next chunk of `wire`; a flush sends everything).
    Go,
}

#[derive(Default)]
struct Scripted {
    /// Steps for reads and flushes, in order (`Go` once the script is done).
    steps: VecDeque<Step>,
    /// Bytes a read hands out, in chunks of at most `chunk`.
    wire: Vec<u8>,
    chunk: usize,
    queued: usize,
    /// `is_write_full` says true until the first successful flush.
    full: bool,
    flushes: usize,
    readiness_polls: usize,
}

impl Scripted {
    fn next(&mut self) -> Step {
        self.steps.pop_front().unwrap_or(Step::Go)
    }
}

impl ReadyRead for Scripted {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.try_read_ready(size, pool)
    }
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        if let Step::Fail(k) = self.next() {
            return Err(k.into());
        }
        if self.wire.is_empty() {
            return Ok(None);
        }
        let n = self.wire.len().min(self.chunk).min(size.max(1));
        let mut b = pool.get(n)?;
        b.extend_from_slice(&self.wire[..n]).unwrap();
        self.wire.drain(..n);
        Ok(Some(b))
    }
    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.try_append_ready(buf, max)
    }
    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        if let Step::Fail(k) = self.next() {
            return Err(k.into());
        }
        let n = self
            .wire
            .len()
            .min(self.chunk)
            .min(max)
            .min(buf.spare_capacity());
        buf.extend_from_slice(&self.wire[..n]).unwrap();
        self.wire.drain(..n);
        Ok(n)
    }
}

impl ReadyWrite for Scripted {
    fn queue(&mut self, data: &[u8]) -> io::Result<()> {
        self.queued += data.len();
        Ok(())
    }
    fn queue_buf(&mut self, buf: Buf) -> io::Result<()> {
        self.queued += buf.len();
        Ok(())
    }
    fn try_flush_ready(&mut self) -> io::Result<()> {
        self.flushes += 1;
        if let Step::Fail(k) = self.next() {
            return Err(k.into());
        }
        self.queued = 0;
        self.full = false;
        Ok(())
    }
    fn flush_ready(&mut self) -> io::Result<()> {
        self.try_flush_ready()
    }
    fn queued(&self) -> usize {
        self.queued
    }
    fn is_write_full(&self) -> bool {
        self.full
    }
}

impl ReadyPoll for Scripted {
    fn poll_read_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.readiness_polls += 1;
        Poll::Ready(Ok(()))
    }
    fn poll_write_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.readiness_polls += 1;
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown_write(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn crypter(side: Side) -> Crypter {
    Crypter::new(Protocol::Aes128Gcm, side, &[4; 16], Backend::AesGcm).unwrap()
}

fn conn(t: Scripted) -> Conn<Scripted> {
    Conn::new(t, crypter(Side::Server))
}

/// `payloads` sealed by the client side, as wire bytes.
fn records(payloads: &[&[u8]]) -> Vec<u8> {
    let mut w = Conn::new(Scripted::default(), crypter(Side::Client));
    let mut out = global().get(1 << 20).unwrap();
    for p in payloads {
        w.seal_record(p, &mut out).unwrap();
    }
    out.to_vec()
}

fn poll_read(c: &mut Conn<Scripted>, dst: &mut [u8]) -> Poll<io::Result<usize>> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut rb = ReadBuf::new(dst);
    Pin::new(c)
        .poll_read(&mut cx, &mut rb)
        .map_ok(|()| rb.filled().len())
}

fn poll_write(c: &mut Conn<Scripted>, data: &[u8]) -> Poll<io::Result<usize>> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(c).poll_write(&mut cx, data)
}

fn kind<T: std::fmt::Debug>(p: Poll<io::Result<T>>) -> ErrorKind {
    match p {
        Poll::Ready(Err(e)) => e.kind(),
        other => panic!("expected an error: {other:?}"),
    }
}

#[test]
fn a_read_retries_interrupted_and_waits_on_would_block() {
    let mut c = conn(Scripted {
        steps: [
            Step::Fail(ErrorKind::Interrupted),
            Step::Fail(ErrorKind::WouldBlock),
        ]
        .into(),
        wire: records(&[b"hello"]),
        chunk: usize::MAX,
        ..Default::default()
    });
    let mut dst = [0; 64];
    assert!(matches!(poll_read(&mut c, &mut dst), Poll::Ready(Ok(5))));
    assert_eq!(&dst[..5], b"hello");
    assert_eq!(c.get_ref().readiness_polls, 1, "only WouldBlock waits");
    // A fatal error is returned as it is.
    let mut c = conn(Scripted {
        steps: [Step::Fail(ErrorKind::ConnectionReset)].into(),
        ..Default::default()
    });
    assert_eq!(
        kind(poll_read(&mut c, &mut dst)),
        ErrorKind::ConnectionReset
    );
}

#[test]
fn one_read_hands_out_a_whole_record_into_a_large_buffer() {
    let big = vec![7u8; 4096 - OVERHEAD];
    let mut c = conn(Scripted {
        wire: records(&[&big]),
        chunk: usize::MAX,
        ..Default::default()
    });
    let mut dst = vec![0; 200_000];
    match poll_read(&mut c, &mut dst) {
        Poll::Ready(Ok(n)) => assert_eq!(n, big.len()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_write_takes_at_most_64_kib_and_reports_it() {
    let mut c = conn(Scripted::default());
    let data = vec![1u8; 100_000];
    assert!(matches!(poll_write(&mut c, &data), Poll::Ready(Ok(65_536))));
    assert!(matches!(
        poll_write(&mut c, &data[..10]),
        Poll::Ready(Ok(10))
    ));
    assert!(matches!(poll_write(&mut c, &[]), Poll::Ready(Ok(0))));
}

#[test]
fn a_full_transport_is_drained_first_retrying_interrupted_waiting_on_would_block() {
    let mut c = conn(Scripted {
        full: true,
        steps: [
            Step::Fail(ErrorKind::Interrupted),
            Step::Fail(ErrorKind::WouldBlock),
        ]
        .into(),
        ..Default::default()
    });
    assert!(matches!(poll_write(&mut c, b"abc"), Poll::Ready(Ok(3))));
    let t = c.get_ref();
    assert_eq!(t.readiness_polls, 1, "only WouldBlock waits");
    assert_eq!(
        t.flushes, 4,
        "interrupted, would block, drained, then the write's own"
    );
}

#[test]
fn a_fatal_error_while_draining_a_full_transport_is_returned() {
    let mut c = conn(Scripted {
        full: true,
        steps: [Step::Fail(ErrorKind::ConnectionReset)].into(),
        ..Default::default()
    });
    assert_eq!(kind(poll_write(&mut c, b"abc")), ErrorKind::ConnectionReset);
    assert_eq!(c.get_ref().readiness_polls, 0);
}

#[test]
fn a_fatal_error_flushing_the_write_is_returned_and_a_transient_one_is_not() {
    // The write's own flush fails: fatal is an error, WouldBlock is "taken, queued".
    let mut c = conn(Scripted {
        steps: [Step::Fail(ErrorKind::ConnectionReset)].into(),
        ..Default::default()
    });
    assert_eq!(kind(poll_write(&mut c, b"abc")), ErrorKind::ConnectionReset);
    let mut c = conn(Scripted {
        steps: [Step::Fail(ErrorKind::WouldBlock)].into(),
        ..Default::default()
    });
    assert!(matches!(poll_write(&mut c, b"abc"), Poll::Ready(Ok(3))));
    assert!(c.get_ref().queued > 0, "the record waits in the transport");
}
