//! `FrameReader`'s tokio side over a scripted transport whose readiness the test decides:
//! readiness passes through from the transport, and `poll_next_frame` retries an
//! `Interrupted` read and waits on `WouldBlock`.
#![cfg(feature = "tokio")]

mod common;

use common::{Script, Step};
use slackwater_h2frame::*;
use slackwater_ready::{Buf, ReadyPoll};
use std::io::{self, ErrorKind};
use std::task::{Context, Poll, Waker};

/// A script with fixed read and write readiness.
struct Polled {
    script: Script,
    readable: bool,
    writable: bool,
}

impl ReadyRead for Polled {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.script.read_ready(size, pool)
    }
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.script.try_read_ready(size, pool)
    }
    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.script.append_ready(buf, max)
    }
    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.script.try_append_ready(buf, max)
    }
}

fn ready_if(on: bool) -> Poll<io::Result<()>> {
    if on {
        Poll::Ready(Ok(()))
    } else {
        Poll::Pending
    }
}

impl ReadyPoll for Polled {
    fn poll_read_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready_if(self.readable)
    }
    fn poll_write_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready_if(self.writable)
    }
    fn poll_shutdown_write(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn reader(steps: Vec<Step>, readable: bool, writable: bool) -> FrameReader<Polled> {
    FrameReader::new(Polled {
        script: Script::new(steps),
        readable,
        writable,
    })
}

fn ping_wire() -> Vec<u8> {
    let mut out = Vec::new();
    FrameWriter::new()
        .write(
            &mut out,
            &Frame::Ping(Ping {
                ack: false,
                data: *b"12345678",
            }),
        )
        .unwrap();
    out
}

#[test]
fn readiness_is_the_transports() {
    let mut cx = Context::from_waker(Waker::noop());
    for readable in [false, true] {
        for writable in [false, true] {
            let mut r = reader(vec![], readable, writable);
            assert_eq!(r.poll_read_ready(&mut cx).is_ready(), readable);
            assert_eq!(r.poll_write_ready(&mut cx).is_ready(), writable);
        }
    }
}

#[test]
fn poll_next_frame_retries_interrupted_and_waits_on_would_block() {
    let mut cx = Context::from_waker(Waker::noop());
    let w = ping_wire();
    // Interrupted inside the frame: retried, the frame comes whole.
    let mut r = reader(
        vec![
            Step::Bytes(w[..5].to_vec()),
            Step::Error(ErrorKind::Interrupted),
            Step::Bytes(w[5..].to_vec()),
        ],
        true,
        true,
    );
    match r.poll_next_frame(&mut cx) {
        Poll::Ready(Ok(Some(Frame::Ping(p)))) => assert_eq!(&p.data, b"12345678"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(r.poll_next_frame(&mut cx), Poll::Ready(Ok(None))));
    // WouldBlock with the transport not readable: Pending, the partial frame kept.
    let mut r = reader(
        vec![
            Step::Bytes(w[..5].to_vec()),
            Step::WouldBlock,
            Step::Bytes(w[5..].to_vec()),
        ],
        false,
        true,
    );
    assert!(r.poll_next_frame(&mut cx).is_pending());
    assert_eq!(r.buffered(), 5);
    r.get_mut().readable = true;
    assert!(matches!(
        r.poll_next_frame(&mut cx),
        Poll::Ready(Ok(Some(Frame::Ping(_))))
    ));
    // A fatal error is returned, not retried.
    let mut r = reader(vec![Step::Error(ErrorKind::ConnectionReset)], true, true);
    match r.poll_next_frame(&mut cx) {
        Poll::Ready(Err(e)) => assert!(e.is_fatal()),
        other => panic!("{other:?}"),
    }
}
