//! The slackwater stack: TCP → [`slackwater_alts::Conn`] → [`slackwater_h2frame::FrameReader`]
//! (or, over plain TCP, the frame reader straight on the socket's [`ReadyFd`]), every layer
//! driven through its non-blocking form.
//!
//! No glue of its own: the frame writer encodes straight into the ALTS layer (each DATA byte
//! copied once, into a record's payload area, sealed in place), sealed records wait in the
//! socket's write queue only while the socket refuses them, and the reader and the ALTS layer
//! take read buffers from the pool only while bytes are there.

use crate::wire::{ALTS_FRAME_SIZE, FLUSH_AT, HIGH_WATER, In, Logic, Sink};
use crate::worker::{Census, Io, ReadStatus};
use slackwater_alts::{Conn, Side};
use slackwater_h2frame::{
    Config, Frame, FrameReader, FrameWriter, Headers, Payload, Ping, Setting, Settings,
    WindowUpdate,
};
use slackwater_ready::{Pool, ReadyFd, ReadyRead, ReadyWrite, TokioFd, WriteQueue};
use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};

/// What the frame reader sits on: ALTS over the socket, or the socket alone (a [`ReadyFd`]
/// driven by a poller thread, or a [`TokioFd`] on a tokio runtime).
pub(crate) trait Layer: ReadyRead + ReadyWrite + AsFd {
    /// The socket's write queue.
    fn write_queue(&self) -> &WriteQueue;
    /// Whether the ALTS layer holds a read buffer.
    fn alts_holds_buffer(&self) -> bool {
        false
    }
    /// Capacity of the ALTS layer's read buffers.
    fn alts_read_bytes(&self) -> usize {
        0
    }
    /// Capacity of the ALTS layer's write buffer.
    fn alts_write_bytes(&self) -> usize {
        0
    }
    /// Drops the AEAD key schedules, if there are any.
    fn release_keys(&mut self) {}
}

/// The socket layers under ALTS.
pub(crate) trait Socket: ReadyRead + ReadyWrite + AsFd {
    fn queue(&self) -> &WriteQueue;
}

impl Socket for ReadyFd<TcpStream> {
    fn queue(&self) -> &WriteQueue {
        self.write_queue()
    }
}

impl Socket for TokioFd<tokio::net::TcpStream> {
    fn queue(&self) -> &WriteQueue {
        self.write_queue()
    }
}

impl<S: Socket> Layer for Conn<S> {
    fn write_queue(&self) -> &WriteQueue {
        self.get_ref().queue()
    }
    fn alts_holds_buffer(&self) -> bool {
        self.holds_buffer()
    }
    fn alts_read_bytes(&self) -> usize {
        self.read_buffer_bytes()
    }
    fn alts_write_bytes(&self) -> usize {
        self.write_buffer_bytes()
    }
    fn release_keys(&mut self) {
        self.release_key_schedules();
    }
}

impl<S: Socket> Layer for S {
    fn write_queue(&self) -> &WriteQueue {
        self.queue()
    }
}

/// One connection of the slackwater stack, over ALTS (the default) or plain TCP.
pub(crate) struct SwIo<L = Conn<ReadyFd<TcpStream>>> {
    pub(crate) conn: FrameReader<L>,
    wr: FrameWriter,
    release_keys: bool,
}

fn h2_config(side: Side) -> io::Result<Config> {
    // Go's limit on queued control frames: a peer that floods PINGs or SETTINGS faster
    // than the socket takes our ACKs is cut off (ENHANCE_YOUR_CALM).
    Ok(Config::builder()
        .expect_client_preface(side == Side::Server)
        .max_pending_replies(Some(10_000))
        .build()?)
}

impl SwIo<ReadyFd<TcpStream>> {
    /// Wraps a connected socket: HTTP/2 frames over plain TCP.
    pub(crate) fn plain(sock: TcpStream, side: Side, pool: &'static Pool) -> io::Result<Self> {
        let tcp = ReadyFd::new(sock)?
            .with_pool(pool)
            .with_high_water(HIGH_WATER);
        SwIo::over(tcp, side, pool, false)
    }
}

impl<L: Layer> SwIo<L> {
    /// The frame reader and writer over `layer` (any socket layer, ALTS or not).
    pub(crate) fn over(
        layer: L,
        side: Side,
        pool: &'static Pool,
        release_keys: bool,
    ) -> io::Result<Self> {
        Ok(SwIo {
            conn: FrameReader::with_config(layer, pool, h2_config(side)?),
            wr: FrameWriter::new(),
            release_keys,
        })
    }
}

/// The ALTS layer over `tcp`, configured as the demo's.
pub(crate) fn alts_over<S: Socket>(tcp: S, side: Side, pool: &'static Pool) -> io::Result<Conn<S>> {
    let cfg = slackwater_alts::Config::builder()
        .frame_size(ALTS_FRAME_SIZE)
        .build()?;
    Ok(Conn::new(tcp, crate::wire::crypter(side))
        .with_pool(pool)
        .with_config(cfg))
}

impl SwIo {
    /// Wraps a connected socket. With `release_keys`, a connection that goes quiet drops its
    /// AEAD key schedules.
    pub(crate) fn new(
        sock: TcpStream,
        side: Side,
        pool: &'static Pool,
        release_keys: bool,
    ) -> io::Result<SwIo> {
        let tcp = ReadyFd::new(sock)?
            .with_pool(pool)
            .with_high_water(HIGH_WATER);
        SwIo::over(alts_over(tcp, side, pool)?, side, pool, release_keys)
    }
}

pub(crate) fn to_in(f: &Frame) -> In<'_> {
    match f {
        Frame::Settings(s) => In::Settings { ack: s.is_ack() },
        Frame::Ping(p) => In::Ping {
            ack: p.ack,
            data: p.data,
        },
        Frame::Data(d) => In::Data {
            stream: d.stream_id,
            end: d.end_stream,
            bytes: &d.data,
        },
        Frame::GoAway(_) => In::GoAway,
        _ => In::Other,
    }
}

impl<L: Layer> Sink for SwIo<L> {
    fn preface(&mut self) -> io::Result<()> {
        Ok(self.wr.write_preface(&mut self.conn)?)
    }

    fn settings(&mut self, ack: bool) -> io::Result<()> {
        let s = if ack {
            Settings::ack()
        } else {
            Settings::new(&[
                Setting {
                    id: Setting::ENABLE_PUSH,
                    value: 0,
                },
                Setting {
                    id: Setting::INITIAL_WINDOW_SIZE,
                    value: (1 << 31) - 1,
                },
            ])
        };
        Ok(self.wr.write(&mut self.conn, &Frame::Settings(s))?)
    }

    fn ping(&mut self, ack: bool, data: [u8; 8]) -> io::Result<()> {
        Ok(self
            .wr
            .write(&mut self.conn, &Frame::Ping(Ping { ack, data }))?)
    }

    fn headers(&mut self, stream: u32, block: &[u8]) -> io::Result<()> {
        let f = Frame::Headers(Headers {
            stream_id: stream,
            end_stream: false,
            end_headers: true,
            priority: None,
            fragment: Payload::from(block),
            padding: None,
        });
        Ok(self.wr.write(&mut self.conn, &f)?)
    }

    fn data(&mut self, stream: u32, end: bool, bytes: &[u8]) -> io::Result<()> {
        self.wr.write_data(&mut self.conn, stream, end, bytes)?;
        if self.conn.queued() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn window_update(&mut self, stream: u32, increment: u32) -> io::Result<()> {
        let f = Frame::WindowUpdate(WindowUpdate {
            stream_id: stream,
            increment,
        });
        Ok(self.wr.write(&mut self.conn, &f)?)
    }

    fn queued(&self) -> usize {
        self.conn.queued()
    }
}

impl<L: Layer> Io for SwIo<L> {
    fn read_frames(&mut self, logic: &mut dyn Logic) -> io::Result<ReadStatus> {
        loop {
            if self.conn.is_write_full() {
                self.flush()?;
                if self.conn.is_write_full() {
                    return Ok(ReadStatus::Paused);
                }
            }
            match self.conn.try_read_frame() {
                Ok(Some(f)) => logic.on_frame(to_in(&f), self)?,
                Ok(None) => return Ok(ReadStatus::Eof),
                Err(e) if e.is_would_block() => return Ok(ReadStatus::Drained),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.conn.try_flush_ready() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            r => r,
        }
    }

    fn sink(&mut self) -> &mut dyn Sink {
        self
    }

    fn unsent(&self) -> usize {
        self.conn.queued()
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.conn.as_fd()
    }

    fn census(&self, c: &mut Census) {
        let alts = self.conn.get_ref();
        let tcp = alts.write_queue();
        c.conns += 1;
        c.h2_holding += usize::from(self.conn.holds_buffer());
        c.alts_holding += usize::from(alts.alts_holds_buffer());
        // What the layers really hold, from their own accounting (buffer capacities).
        c.pinned_read += self.conn.read_buffer_bytes() + alts.alts_read_bytes();
        c.pinned_write += alts.alts_write_bytes() + tcp.capacity_bytes();
        c.write_queued += self.conn.queued();
        c.write_buffers += tcp.buffers() + usize::from(alts.alts_write_bytes() > 0);
    }

    fn quiesce(&mut self) -> bool {
        let idle = !self.conn.holds_buffer()
            && !self.conn.get_ref().alts_holds_buffer()
            && self.conn.queued() == 0;
        if self.release_keys && idle {
            self.conn.get_mut().release_keys();
        }
        self.release_keys && idle
    }
}
