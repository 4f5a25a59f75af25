//! The reader and writer over real transports: errors that stick (a real RST over loopback
//! TCP, an end of stream inside a frame), the writer encoding straight into a `ReadyWrite`
//! (a `Vec<u8>`, a socket that fills and drains, the reader itself), and the reader's
//! `ReadyWrite` pass-through calling `replies_flushed`.

mod common;

use common::{Script, Step};
use slackwater_h2frame::*;
use slackwater_ready::{ReadyFd, is_transient};
use std::io::{self, ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

fn ping(n: u8) -> Frame {
    Frame::Ping(Ping {
        ack: false,
        data: [n; 8],
    })
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (s, c)
}

/// Sets an integer socket option.
fn setsockopt_int(fd: RawFd, opt: libc::c_int, v: libc::c_int) {
    // SAFETY: a valid socket and a correctly sized `c_int`.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
}

/// Closes `s` with `SO_LINGER {on, 0}`: the kernel sends RST instead of FIN.
fn reset(s: TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized `linger`.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
    drop(s);
}

/// Waits (at most 5 s) until the RST has reached `fd` (`poll` reports an error or hangup
/// without consuming the pending error).
fn wait_for_reset(fd: RawFd) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 5000) };
    assert_eq!(n, 1, "no reset within 5 s");
    assert!(
        p.revents & (libc::POLLERR | libc::POLLHUP) != 0,
        "{:#x}",
        p.revents
    );
}

fn assert_reset(r: Result<Option<Frame>, Error>, what: &str) {
    match r {
        Err(e) => {
            assert_eq!(
                e.io_error().map(io::Error::kind),
                Some(ErrorKind::ConnectionReset),
                "{what}: {e:?}"
            );
            assert!(e.is_fatal(), "{what}");
            assert!(!is_transient(e.io_error().unwrap()));
        }
        Ok(f) => panic!("{what}: {f:?} instead of the reset (Ok(None) is a clean EOF)"),
    }
}

/// The peer resets the connection while the reader is between frames, and while it holds
/// part of a frame: the next read returns `ConnectionReset`, and so does every later one,
/// blocking or not, never `Ok(None)` (Linux itself reads 0 after reporting the reset once).
#[test]
fn a_real_reset_is_returned_again_by_every_later_read() {
    for partial in [false, true] {
        let pool = PoolHandle::from(Pool::new());
        let (s, mut c) = tcp_pair();
        let mut r = FrameReader::with_pool(ReadyFd::new(s).unwrap(), pool.clone());
        let w = FrameWriter::new();
        let mut bytes = Vec::new();
        w.write(&mut bytes, &ping(1)).unwrap();
        c.write_all(&bytes).unwrap();
        assert_eq!(r.read_frame().unwrap(), Some(ping(1)));
        if partial {
            c.write_all(&bytes[..5]).unwrap(); // 5 bytes of the next header
            while r.buffered() < 5 {
                assert!(r.try_read_frame().unwrap_err().is_would_block());
            }
            assert!(r.holds_buffer());
        }
        let fd = r.as_raw_fd();
        reset(c);
        wait_for_reset(fd);
        assert_reset(r.read_frame(), "the read after the reset");
        assert!(
            !r.holds_buffer(),
            "the partial frame's buffer is given back"
        );
        assert_eq!(pool.stats().in_use(), 0);
        for i in 0..3 {
            assert_reset(r.read_frame(), &format!("blocking read {i} after it"));
            assert_reset(
                r.try_read_frame(),
                &format!("non-blocking read {i} after it"),
            );
        }
        // The raw socket now reads as a clean end of stream: only the reader remembers.
        let mut raw = [0u8; 16];
        let n = r
            .get_ref()
            .get_ref()
            .as_fd()
            .try_clone_to_owned()
            .map(|fd| {
                // SAFETY: a valid fd and a buffer of 16 bytes.
                unsafe { libc::read(fd.as_raw_fd(), raw.as_mut_ptr().cast(), raw.len()) }
            });
        assert_eq!(n.unwrap(), 0, "the kernel no longer reports the reset");
        assert_reset(r.read_frame(), "after the kernel forgot");
    }
}

/// The reader remembers a reset itself, whatever its transport does after it: a scripted
/// transport that reports `ConnectionReset` once and then a clean end of stream (as Linux
/// does), at a frame boundary and inside a frame, blocking and not.
#[test]
fn the_reader_itself_remembers_a_reset() {
    let ping = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    for cut in [17, 20] {
        for blocking in [true, false] {
            let pool = PoolHandle::from(Pool::new());
            let steps = [
                Step::Bytes([ping, ping].concat()[..cut].to_vec()),
                Step::WouldBlock,
                Step::Error(ErrorKind::ConnectionReset),
            ];
            let mut r = FrameReader::with_pool(Script::new(steps), pool.clone());
            assert!(matches!(r.read_frame(), Ok(Some(Frame::Ping(_)))));
            let mut read = || {
                if blocking {
                    r.read_frame()
                } else {
                    loop {
                        match r.try_read_frame() {
                            Err(e) if e.is_would_block() => {}
                            other => return other,
                        }
                    }
                }
            };
            for i in 0..4 {
                assert_reset(read(), &format!("cut {cut}, blocking {blocking}, read {i}"));
            }
            assert!(!r.holds_buffer());
            assert_eq!(pool.stats().in_use(), 0);
        }
    }
}

/// A stream that ends inside a frame: `UnexpectedEof` from then on, the partial buffer
/// given back; it is fatal.
#[test]
fn an_end_inside_a_frame_repeats_and_is_fatal() {
    let pool = PoolHandle::from(Pool::new());
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut r = FrameReader::with_pool(ReadyFd::new(a).unwrap(), pool.clone());
    b.write_all(&[0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2]).unwrap();
    assert!(r.try_read_frame().unwrap_err().is_would_block());
    assert!(r.holds_buffer());
    drop(b);
    for _ in 0..3 {
        let e = r.read_frame().unwrap_err();
        assert_eq!(e, Error::UnexpectedEof { buffered: 11 });
        assert!(e.is_fatal());
        assert!(!r.holds_buffer());
        assert_eq!(pool.stats().in_use(), 0);
    }
}

fn every_kind_of_frame() -> Vec<Frame> {
    vec![
        Frame::Settings(Settings::new(&[
            Setting {
                id: Setting::MAX_FRAME_SIZE,
                value: 1 << 20,
            },
            Setting {
                id: Setting::INITIAL_WINDOW_SIZE,
                value: 1 << 30,
            },
        ])),
        Frame::Settings(Settings::ack()),
        ping(3),
        Frame::Ping(Ping {
            ack: true,
            data: *b"pong ack",
        }),
        Frame::Headers(Headers {
            stream_id: 1,
            end_stream: false,
            end_headers: false,
            priority: Some(PrioritySpec {
                exclusive: true,
                dependency: 0,
                weight: 200,
            }),
            fragment: Payload::from(vec![0x82; 300]),
            padding: Some(Payload::from(&[0u8; 7][..])),
        }),
        Frame::Continuation(Continuation {
            stream_id: 1,
            end_headers: true,
            fragment: Payload::from(vec![0x84; 20_000]),
        }),
        Frame::Data(Data {
            stream_id: 1,
            end_stream: false,
            data: Payload::from(vec![0x5a; 32]),
            padding: None,
        }),
        Frame::Data(Data {
            stream_id: 1,
            end_stream: false,
            data: Payload::from((0..100_000).map(|i| i as u8).collect::<Vec<u8>>()),
            padding: Some(Payload::from(vec![0; 255])),
        }),
        Frame::Data(Data {
            stream_id: 1,
            end_stream: true,
            data: Payload::new(),
            padding: Some(Payload::new()),
        }),
        Frame::Priority(Priority {
            stream_id: 3,
            spec: PrioritySpec {
                exclusive: false,
                dependency: 1,
                weight: 1,
            },
        }),
        Frame::RstStream(RstStream {
            stream_id: 3,
            error_code: ErrorCode::CANCEL,
        }),
        Frame::PushPromise(PushPromise {
            stream_id: 1,
            end_headers: true,
            promised_id: 2,
            fragment: Payload::from(&b"\x82\x84"[..]),
            padding: Some(Payload::from(&[0u8; 2][..])),
        }),
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 0,
            increment: 0x7fff_ffff,
        }),
        Frame::GoAway(GoAway {
            last_stream_id: 7,
            error_code: ErrorCode::ENHANCE_YOUR_CALM,
            debug_data: Payload::from(vec![b'x'; 500]),
        }),
        Frame::Unknown(Unknown {
            kind: 0x20,
            flags: 0xff,
            stream_id: 9,
            payload: Payload::from(&b"extension"[..]),
        }),
    ]
}

/// `FrameWriter` → `Vec<u8>` → `FrameReader`: every frame type, padded and not, small and
/// large (DATA of 100,000 bytes with our max frame size raised), behind the client preface;
/// the bytes equal what `encode` gives frame by frame.
#[test]
fn writer_to_vec_to_reader_round_trip() {
    let frames = every_kind_of_frame();
    let mut w = FrameWriter::new();
    w.set_max_frame_size(1 << 20).unwrap();
    let mut wire = Vec::new();
    w.write_preface(&mut wire).unwrap();
    for f in &frames {
        w.write(&mut wire, f).unwrap();
    }
    w.write_data(&mut wire, 5, true, b"the end").unwrap();
    let mut expected = CLIENT_PREFACE.to_vec();
    for f in &frames {
        expected.extend_from_slice(&encode(f, global()).unwrap());
    }
    expected.extend_from_slice(
        &encode(
            &Frame::Data(Data {
                stream_id: 5,
                end_stream: true,
                data: Payload::from(&b"the end"[..]),
                padding: None,
            }),
            global(),
        )
        .unwrap(),
    );
    assert_eq!(wire, expected);

    let cfg = Config::builder()
        .expect_client_preface(true)
        .surface_unknown_frames(true)
        .max_frame_size(1 << 20)
        .build()
        .unwrap();
    // PUSH_PROMISE goes to a client, the rest to a server: read the client's view without
    // the preface too.
    for server in [true, false] {
        for chunk in [1, 7, 4096, 1 << 20] {
            let pool = PoolHandle::from(Pool::new());
            let (bytes, cfg) = if server {
                let mut v = wire.clone();
                let pp = frames
                    .iter()
                    .position(|f| matches!(f, Frame::PushPromise(_)))
                    .unwrap();
                let start: usize = 24
                    + frames[..pp]
                        .iter()
                        .map(|f| 9 + f.payload_len())
                        .sum::<usize>();
                v.drain(start..start + 9 + frames[pp].payload_len());
                (v, cfg.clone())
            } else {
                (
                    wire[24..].to_vec(),
                    cfg.to_builder()
                        .expect_client_preface(false)
                        .build()
                        .unwrap(),
                )
            };
            let mut r = FrameReader::with_config(Script::chunked(&bytes, chunk), pool.clone(), cfg);
            let mut got = Vec::new();
            while let Some(f) = r.read_frame().unwrap() {
                got.push(f);
            }
            let want: Vec<&Frame> = frames
                .iter()
                .filter(|f| !server || !matches!(f, Frame::PushPromise(_)))
                .collect();
            assert_eq!(got.len(), want.len() + 1, "server {server}, chunk {chunk}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g, *w, "server {server}, chunk {chunk}");
            }
            assert!(
                matches!(got.last(), Some(Frame::Data(d)) if d.stream_id == 5 && &d.data[..] == b"the end")
            );
            drop(got);
            assert_eq!(pool.stats().in_use(), 0);
        }
    }
}

/// A `ReadyWrite` that records what each `queue` call was given (where, how many bytes).
#[derive(Default)]
struct Recorder {
    calls: Vec<(*const u8, usize)>,
    bytes: Vec<u8>,
}

impl ReadyWrite for Recorder {
    fn queue(&mut self, data: &[u8]) -> io::Result<()> {
        self.calls.push((data.as_ptr(), data.len()));
        self.bytes.extend_from_slice(data);
        Ok(())
    }
    fn try_flush_ready(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn flush_ready(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn queued(&self) -> usize {
        0
    }
    fn is_write_full(&self) -> bool {
        false
    }
}

/// A DATA payload reaches the output as the caller's own bytes (the writer copies none of
/// them: the output's one copy is the only one), a frame that fits 128 bytes goes in one
/// `queue` call, a larger one as its header then its payload.
#[test]
fn data_bytes_are_handed_to_the_output_uncopied() {
    let w = FrameWriter::new();
    let mut out = Recorder::default();
    let payload = vec![7u8; 16_384];
    w.write_data(&mut out, 1, false, &payload).unwrap();
    assert_eq!(out.calls.len(), 2);
    assert_eq!(out.calls[0].1, 9);
    assert_eq!(out.calls[1], (payload.as_ptr(), payload.len()));

    let frame = Frame::Data(Data {
        stream_id: 1,
        end_stream: false,
        data: Payload::from(vec![8u8; 16_000]),
        padding: Some(Payload::from(&[0u8; 3][..])),
    });
    let mut out = Recorder::default();
    w.write(&mut out, &frame).unwrap();
    // Header and pad length; the payload itself; the padding.
    assert_eq!(out.calls.len(), 3);
    assert_eq!(out.calls[0].1, 10);
    let Frame::Data(d) = &frame else {
        unreachable!()
    };
    assert_eq!(out.calls[1], (d.data.as_ptr(), 16_000));
    assert_eq!(out.bytes, &encode(&frame, global()).unwrap()[..]);

    // Small frames: one call each.
    for f in [
        ping(1),
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 1,
            increment: 1,
        }),
        Frame::Data(Data {
            stream_id: 1,
            end_stream: true,
            data: Payload::from(&[1u8; 100][..]),
            padding: None,
        }),
    ] {
        let mut out = Recorder::default();
        w.write(&mut out, &f).unwrap();
        assert_eq!(out.calls.len(), 1, "{f:?}");
        assert_eq!(out.bytes, &encode(&f, global()).unwrap()[..]);
    }
}

/// The writer over a real socket whose send buffer is small: 64 DATA frames of 16 KiB queued
/// in the `ReadyFd`'s pooled buffers, `try_flush_ready` stops with `WouldBlock` in the middle
/// of a frame, and the output drains as the peer reads; every byte arrives intact, and once
/// drained nothing is queued and no pool buffer is in use (on either side).
#[test]
fn writer_over_a_socket_that_fills_and_drains() {
    const FRAMES: usize = 64;
    let pool = PoolHandle::from(Pool::new());
    let (a, b) = UnixStream::pair().unwrap();
    setsockopt_int(a.as_raw_fd(), libc::SO_SNDBUF, 4096);
    setsockopt_int(b.as_raw_fd(), libc::SO_RCVBUF, 4096);
    let mut tx = ReadyFd::new(a).unwrap().with_pool(pool.clone());
    let mut rx = FrameReader::with_pool(ReadyFd::new(b).unwrap(), pool.clone());
    let w = FrameWriter::new();
    let payload = |i: usize| -> Vec<u8> { (0..16_384).map(|j| (i * 31 + j) as u8).collect() };
    for i in 0..FRAMES {
        w.write_data(&mut tx, 1, i == FRAMES - 1, &payload(i))
            .unwrap();
    }
    let total = FRAMES * (9 + 16_384);
    assert_eq!(tx.queued(), total);
    let e = tx.try_flush_ready().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    let sent = total - tx.queued();
    assert!(sent > 0 && tx.queued() > 0, "{sent} of {total} sent");
    assert_ne!(
        sent % (9 + 16_384),
        0,
        "stopped on a frame boundary: {sent}"
    );
    assert!(tx.wants_writable());
    let mut got = 0;
    let mut would_blocks = 1;
    loop {
        match rx.try_read_frame() {
            Ok(Some(Frame::Data(d))) => {
                assert_eq!(&d.data[..], &payload(got)[..], "frame {got}");
                assert_eq!(d.end_stream, got == FRAMES - 1);
                got += 1;
                if got == FRAMES {
                    break;
                }
            }
            Ok(other) => panic!("{other:?}"),
            Err(e) if e.is_would_block() => match tx.try_flush_ready() {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => would_blocks += 1,
                Err(e) => panic!("{e}"),
            },
            Err(e) => panic!("{e}"),
        }
    }
    tx.try_flush_ready().unwrap();
    println!("{total} bytes through a 4 KiB socket buffer: {would_blocks} WouldBlocks");
    assert!(would_blocks > 1);
    assert_eq!(tx.queued(), 0);
    assert!(!tx.wants_writable());
    assert_eq!(tx.write_queue().buffers(), 0);
    assert!(!rx.holds_buffer());
    assert_eq!(pool.stats().in_use(), 0);
}

/// One value is the whole connection: the writer encodes into a `FrameReader<ReadyFd>`, whose
/// flush is the socket's; a flush that empties the output calls `replies_flushed`, so a peer
/// sending PINGs as fast as we answer them is never cut off by the reply cap, while a reader
/// whose ACKs stay queued is.
#[test]
fn the_reader_passes_writes_through_and_counts_replies_flushed() {
    let cfg = Config::builder()
        .max_pending_replies(Some(2))
        .build()
        .unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let mut ours = FrameReader::with_config(ReadyFd::new(a).unwrap(), global(), cfg.clone());
    let mut peer = FrameReader::new(ReadyFd::new(b).unwrap());
    assert_eq!(ours.as_fd().as_raw_fd(), ours.get_ref().as_raw_fd());
    let w = FrameWriter::new();
    for i in 0..100u8 {
        // The peer sends two PINGs; we answer both, flush, and the count starts again.
        w.write(&mut peer, &ping(i)).unwrap();
        w.write(&mut peer, &ping(i)).unwrap();
        peer.flush_ready().unwrap();
        for _ in 0..2 {
            let Some(Frame::Ping(p)) = ours.read_frame().unwrap() else {
                panic!()
            };
            w.write(
                &mut ours,
                &Frame::Ping(Ping {
                    ack: true,
                    data: p.data,
                }),
            )
            .unwrap();
        }
        assert_eq!(ours.pending_replies(), 2);
        assert_eq!(ours.queued(), 34);
        ours.try_flush_ready().unwrap();
        assert_eq!((ours.queued(), ours.pending_replies()), (0, 0));
        for _ in 0..2 {
            assert!(matches!(peer.read_frame().unwrap(), Some(Frame::Ping(p)) if p.ack));
        }
    }
    // ACKs written but never flushed: the third PING is refused.
    for i in 0..3 {
        w.write(&mut peer, &ping(i)).unwrap();
    }
    peer.flush_ready().unwrap();
    for _ in 0..2 {
        let Some(Frame::Ping(p)) = ours.read_frame().unwrap() else {
            panic!()
        };
        w.write(
            &mut ours,
            &Frame::Ping(Ping {
                ack: true,
                data: p.data,
            }),
        )
        .unwrap();
    }
    let e = ours.read_frame().unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ENHANCE_YOUR_CALM));
    assert!(e.is_fatal());
}

/// `Display` says what went wrong at this layer; the I/O error is the `source()`, not
/// repeated in the text. Errors are `Clone` and compare equal to their clones.
#[test]
fn errors_display_without_their_source_and_clone() {
    use std::error::Error as _;
    let io = io::Error::new(ErrorKind::ConnectionReset, "the peer reset the connection");
    let e = Error::from(io);
    assert!(!e.to_string().contains("the peer reset"), "{e}");
    assert_eq!(
        e.source().unwrap().to_string(),
        "the peer reset the connection"
    );
    assert_eq!(e.clone(), e);
    assert!(e.is_fatal());
    let p = Error::from(PoolError::Exhausted);
    assert!(!p.to_string().contains(&PoolError::Exhausted.to_string()));
    assert!(p.source().is_some() && !p.is_fatal());
    // Through the io::Error round trip an OS error keeps its code.
    let os = Error::from(io::Error::from_raw_os_error(libc::ECONNRESET));
    let back = io::Error::from(os.clone());
    assert_eq!(back.raw_os_error(), Some(libc::ECONNRESET));
    assert_eq!(Error::from(back), os);
    // Builder checks happen in build(), not mid-chain.
    for bad in [
        Config::builder().max_frame_size(16_383),
        Config::builder().max_frame_size(1 << 24),
        Config::builder().read_buffer_size(63),
        Config::builder().copy_out_ratio(0),
    ] {
        assert!(matches!(bad.build(), Err(Error::Invalid(_))));
    }
    // A stream error is not fatal; WouldBlock and Interrupted are not either.
    let (a, _b) = UnixStream::pair().unwrap();
    let mut r = FrameReader::new(ReadyFd::new(a).unwrap());
    let wb = r.try_read_frame().unwrap_err();
    assert!(wb.is_would_block() && !wb.is_fatal());
    let steps = [
        Step::Error(ErrorKind::Interrupted),
        Step::Bytes(vec![0, 0, 4, 8, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
    ];
    let mut r = FrameReader::new(Script::new(steps));
    assert!(!r.read_frame().unwrap_err().is_fatal());
    let e = r.read_frame().unwrap_err();
    assert_eq!(e.scope(), Some(Scope::Stream(1)));
    assert!(!e.is_fatal());
    assert!(r.read_frame().unwrap().is_none());
}

/// Every `ReadyWrite` method of the reader is its transport's: `queue_buf` queues, the write
/// state (`wants_writable`, `is_write_full`) is the transport's, and a blocking `flush_ready`
/// that empties the output clears the replies owed, like `try_flush_ready`.
#[test]
fn the_reader_passes_queue_buf_the_write_state_and_blocking_flushes_through() {
    let pool = PoolHandle::from(Pool::new());
    let (a, mut peer) = UnixStream::pair().unwrap();
    setsockopt_int(a.as_raw_fd(), libc::SO_SNDBUF, 4096);
    let mut ours = FrameReader::with_pool(
        ReadyFd::new(a)
            .unwrap()
            .with_pool(pool.clone())
            .with_high_water(64),
        pool.clone(),
    );
    assert!(!ours.wants_writable());
    assert!(!ours.is_write_full());
    // A PING from the peer: one reply owed.
    let mut wire = Vec::new();
    FrameWriter::new().write(&mut wire, &ping(9)).unwrap();
    peer.write_all(&wire).unwrap();
    assert!(matches!(ours.read_frame(), Ok(Some(Frame::Ping(_)))));
    assert_eq!(ours.pending_replies(), 1);
    // A pooled buffer handed over whole.
    let mut buf = pool.get(64).unwrap();
    buf.extend_from_slice(b"hello").unwrap();
    ours.queue_buf(buf).unwrap();
    assert_eq!(ours.queued(), 5);
    assert_eq!(ours.get_ref().queued(), 5);
    assert!(!ours.is_write_full()); // under the 64-byte mark
    // Past the mark, and more than the socket takes at once.
    ours.queue(&vec![7u8; 1 << 20]).unwrap();
    assert!(ours.is_write_full());
    assert_eq!(
        ours.try_flush_ready().unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert!(ours.wants_writable());
    assert!(ours.get_ref().wants_writable());
    assert_eq!(ours.pending_replies(), 1); // output still queued: the reply is still owed
    // A blocking flush while the peer drains: everything goes, and the reply is no longer
    // owed.
    let total = 5 + (1 << 20);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut got = 0;
            let mut sink = vec![0u8; 1 << 16];
            while got < total {
                got += io::Read::read(&mut peer, &mut sink).unwrap();
            }
        });
        ours.flush_ready().unwrap();
    });
    assert_eq!(ours.queued(), 0);
    assert!(!ours.wants_writable());
    assert!(!ours.is_write_full());
    assert_eq!(ours.pending_replies(), 0);
    drop(ours);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn write_data_takes_up_to_the_peers_max_frame_size_and_every_length_round_trips() {
    let mut w = FrameWriter::new();
    let mut out = Vec::new();
    w.write_data(&mut out, 1, false, &[1; 16_384]).unwrap();
    assert_eq!(out.len(), 9 + 16_384);
    assert!(matches!(
        w.write_data(&mut out, 1, false, &[1; 16_385]),
        Err(Error::Invalid(_))
    ));
    w.set_max_frame_size(20_000).unwrap();
    w.write_data(&mut Vec::new(), 1, false, &[1; 20_000])
        .unwrap();
    assert!(
        w.write_data(&mut Vec::new(), 1, false, &[1; 20_001])
            .is_err()
    );
    assert_eq!(out.len(), 9 + 16_384); // nothing of the refused frame was written
    // Stream ids up to 2^31 - 1 (the reserved bit clear).
    let mut top = Vec::new();
    w.write_data(&mut top, 0x7fff_ffff, true, b"x").unwrap();
    assert_eq!(top[5..9], [0x7f, 0xff, 0xff, 0xff]);
    assert!(matches!(
        w.write_data(&mut Vec::new(), 0x8000_0000, true, b"x"),
        Err(Error::Invalid(_))
    ));
    // Every length across the writer's stack buffer, through both entry points, with and
    // without padding.
    let w = FrameWriter::new();
    for len in 0..=300usize {
        let body: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        let mut out = Vec::new();
        w.write_data(&mut out, 3, len % 2 == 0, &body).unwrap();
        let (f, n) = decode(&out).unwrap().unwrap();
        assert_eq!(n, out.len());
        assert!(
            matches!(f, Frame::Data(d) if d.data == *body.as_slice() && d.end_stream == (len % 2 == 0))
        );
        for padding in [None, Some(Payload::from(vec![0u8; len % 50]))] {
            let frame = Frame::Data(Data {
                stream_id: 5,
                end_stream: false,
                data: Payload::from(body.clone()),
                padding,
            });
            let mut out = Vec::new();
            w.write(&mut out, &frame).unwrap();
            assert_eq!(decode(&out).unwrap().unwrap(), (frame, out.len()), "{len}");
        }
    }
}

#[test]
fn window_updates_go_to_the_connection_and_the_stream_and_never_as_zero() {
    let w = FrameWriter::new();
    let mut out = Vec::new();
    w.write_window_updates(&mut out, 7, 0).unwrap();
    assert!(out.is_empty());
    w.write_window_updates(&mut out, 7, 1000).unwrap();
    assert_eq!(
        out,
        [
            [0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8],
            [0, 0, 4, 8, 0, 0, 0, 0, 7, 0, 0, 0x03, 0xe8]
        ]
        .concat()
    );
    assert!(matches!(
        w.write_window_updates(&mut Vec::new(), 7, 1 << 31),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn encode_takes_a_buffer_of_the_frames_own_size_class() {
    let pool = Pool::new();
    let classes: Vec<usize> = pool.stats().classes().iter().map(|c| c.size).collect();
    for len in [0usize, 200, 247, 248, 4000, 16_384] {
        let f = Frame::Unknown(Unknown {
            kind: 0xfa,
            flags: 0,
            stream_id: 0,
            payload: Payload::from(vec![3; len]),
        });
        let b = encode(&f, &pool).unwrap();
        assert_eq!(b.len(), 9 + len);
        let class = *classes.iter().find(|&&c| c >= 9 + len).unwrap();
        assert_eq!(b.capacity(), class, "{len}");
    }
}
