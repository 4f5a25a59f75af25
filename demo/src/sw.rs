//! The slackwater stack: TCP → [`slackwater_alts::Conn`] → [`slackwater_h2frame::FrameReader`],
//! every layer driven through its non-blocking form, output queued in pooled buffers.
//!
//! Between bursts a connection holds no buffer at all: the frame reader and the ALTS layer
//! take theirs from the pool when the socket is readable and return them once the bytes are
//! consumed; the frame writer's buffers are sealed and given back as they are flushed, and
//! sealed bytes wait in pooled buffers only while the socket refuses them.

use crate::wire::{ALTS_FRAME_SIZE, FLUSH_AT, HIGH_WATER, In, Logic, Sink};
use crate::worker::{Census, Io, ReadStatus};
use slackwater_alts::{Conn, Side};
use slackwater_h2frame::{
    Config, Frame, FrameReader, FrameWriter, Ping, Setting, Settings, WindowUpdate,
};
use slackwater_ready::{Buf, Pool, ReadyFd};
use std::io::{self, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};

type Reader = FrameReader<'static, Conn<'static, ReadyFd<TcpStream>>>;

/// One connection of the slackwater stack.
pub(crate) struct SwIo {
    rd: Reader,
    wr: FrameWriter<'static>,
    /// Sealed bytes the socket has not taken yet (empty, and unallocated, when idle).
    out: Vec<Buf>,
    out_bytes: usize,
    pool: &'static Pool,
    release_keys: bool,
}

impl SwIo {
    /// Wraps a connected, non-blocking-capable socket.
    /// With `release_keys`, a connection that goes quiet drops its AEAD key schedules.
    pub(crate) fn new(
        sock: TcpStream,
        side: Side,
        pool: &'static Pool,
        release_keys: bool,
    ) -> io::Result<SwIo> {
        let mut alts = Conn::new(ReadyFd::new(sock)?, crate::wire::crypter(side), pool);
        alts.set_frame_size(ALTS_FRAME_SIZE)?;
        // Go's limit on queued control frames: a peer that floods PINGs or SETTINGS faster
        // than the socket takes our ACKs is cut off (ENHANCE_YOUR_CALM).
        let cfg = Config::new()
            .expect_client_preface(side == Side::Server)
            .max_pending_replies(Some(10_000));
        Ok(SwIo {
            rd: FrameReader::with_config(alts, pool, cfg),
            wr: FrameWriter::with_pool(pool),
            out: Vec::new(),
            out_bytes: 0,
            pool,
            release_keys,
        })
    }

    fn sock(&self) -> &TcpStream {
        self.rd.get_ref().get_ref().get_ref()
    }

    /// Seals what the frame writer holds into pooled buffers (its own go back to the pool).
    fn seal(&mut self) -> io::Result<()> {
        if self.wr.pending() == 0 {
            return Ok(());
        }
        let mut sealer = Sealer {
            conn: self.rd.get_mut(),
            out: &mut self.out,
            out_bytes: &mut self.out_bytes,
            pool: self.pool,
        };
        self.wr.flush_to(&mut sealer)
    }

    /// Writes sealed bytes until the socket refuses more.
    fn write_out(&mut self) -> io::Result<()> {
        let mut sock: &TcpStream = self.rd.get_ref().get_ref().get_ref();
        while let Some(b) = self.out.first_mut() {
            match sock.write(b) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    b.advance(n);
                    self.out_bytes -= n;
                    if b.is_empty() {
                        self.out.remove(0);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.out.is_empty() && self.wr.pending() == 0 {
            // Every reply so far is in the socket.
            self.rd.replies_flushed();
            if self.out.capacity() != 0 {
                // An idle connection keeps no queue either.
                self.out = Vec::new();
            }
        }
        Ok(())
    }
}

/// `io::Write` that ALTS-seals into pooled buffers appended to a queue.
struct Sealer<'a> {
    conn: &'a mut Conn<'static, ReadyFd<TcpStream>>,
    out: &'a mut Vec<Buf>,
    out_bytes: &'a mut usize,
    pool: &'static Pool,
}

impl Write for Sealer<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let overhead = slackwater_alts::OVERHEAD;
        let need_new = self
            .out
            .last()
            .is_none_or(|b| b.spare_capacity() <= overhead);
        if need_new {
            let records = data.len() / self.conn.max_payload() + 1;
            let want = (data.len() + records * overhead).clamp(256, 2 * ALTS_FRAME_SIZE);
            self.out.push(self.pool.get(want)?);
        }
        let last = self.out.last_mut().expect("pushed above");
        let before = last.len();
        let n = self.conn.seal_into(data, last)?;
        *self.out_bytes += last.len() - before;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn to_in(f: &Frame) -> In<'_> {
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

impl Sink for SwIo {
    fn preface(&mut self) -> io::Result<()> {
        Ok(self.wr.write_preface()?)
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
        Ok(self.wr.write(&Frame::Settings(s))?)
    }

    fn ping(&mut self, ack: bool, data: [u8; 8]) -> io::Result<()> {
        Ok(self.wr.write(&Frame::Ping(Ping { ack, data }))?)
    }

    fn data(&mut self, stream: u32, end: bool, bytes: &[u8]) -> io::Result<()> {
        self.wr.write_data(stream, end, bytes)?;
        if self.wr.pending() >= FLUSH_AT {
            self.seal()?;
            self.write_out()?;
        }
        Ok(())
    }

    fn window_update(&mut self, stream: u32, increment: u32) -> io::Result<()> {
        let f = Frame::WindowUpdate(WindowUpdate {
            stream_id: stream,
            increment,
        });
        Ok(self.wr.write(&f)?)
    }

    fn queued(&self) -> usize {
        self.wr.pending() + self.out_bytes
    }
}

impl Io for SwIo {
    fn read_frames(&mut self, logic: &mut dyn Logic) -> io::Result<ReadStatus> {
        loop {
            if self.queued() >= HIGH_WATER {
                self.flush()?;
                if self.queued() >= HIGH_WATER {
                    return Ok(ReadStatus::Paused);
                }
            }
            match self.rd.try_read_frame() {
                Ok(Some(f)) => logic.on_frame(to_in(&f), self)?,
                Ok(None) => return Ok(ReadStatus::Eof),
                Err(e) if e.is_would_block() => return Ok(ReadStatus::Drained),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.seal()?;
        self.write_out()
    }

    fn sink(&mut self) -> &mut dyn Sink {
        self
    }

    fn unsent(&self) -> usize {
        self.out_bytes
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.sock().as_fd()
    }

    fn census(&self, c: &mut Census) {
        c.conns += 1;
        c.h2_holding += usize::from(self.rd.holds_buffer());
        c.alts_holding += usize::from(self.rd.get_ref().holds_buffer());
        c.write_queued += self.queued();
        c.write_buffers += self.out.len();
    }

    fn quiesce(&mut self) -> bool {
        let idle = !self.rd.holds_buffer()
            && !self.rd.get_ref().holds_buffer()
            && self.wr.pending() == 0
            && self.out.is_empty();
        if self.release_keys && idle {
            self.rd.get_mut().release_key_schedules();
        }
        self.release_keys && idle
    }
}
