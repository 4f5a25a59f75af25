//! The baseline: the stack a user would write today, laid out like gRPC-Go before v1.81.
//!
//! * the ALTS layer owns a 32 KiB record buffer; it reads ciphertext into it, decrypts in
//!   place and copies the plaintext out to its caller (gRPC-Go's `conn.Read`);
//! * the HTTP/2 framer reads that plaintext through its own 32 KiB buffer (gRPC-Go's framer
//!   `bufio.Reader`) and parses frames in place;
//! * output is encoded into a per-connection 32 KiB buffer (gRPC-Go's `bufWriter`) and sealed
//!   into another that grows to what the socket has not taken (gRPC-Go's ALTS write buffer
//!   before #8919), both kept for the connection's life.
//!
//! Over plain TCP (`--transport tcp`) there is no ALTS layer: the framer reads the socket
//! through its 32 KiB buffer, and output is encoded into the 32 KiB buffer and then copied
//! into the second one, which keeps what the socket has not taken (gRPC-Go's `bufWriter`
//! writes into a blocking socket instead; a non-blocking server must keep it somewhere).
//!
//! The buffers are allocated when the connection opens and live as long as it does, whether
//! or not a byte is arriving. It is driven by the same poller threads and the same
//! [`Logic`](crate::wire::Logic) as the slackwater stack, so the two differ only in who owns
//! the buffers. Parsing here is minimal (header, length limit, PADDED) — less work than the
//! slackwater reader's full RFC 9113 validation.

use crate::wire::{ALTS_FRAME_SIZE, HIGH_WATER, In, Logic, Sink};
use crate::worker::{Census, Io, ReadStatus};
use slackwater_alts::{Crypter, HEADER, MSG_TYPE, OVERHEAD, Side, TAG_LEN};

/// The ALTS length field (little-endian u32 before each record).
const LEN_FIELD: usize = 4;
use slackwater_h2frame::{
    CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_LEN, FrameHeader, flags, kind,
};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};

/// The size of each per-connection read buffer.
pub(crate) const BUF_SIZE: usize = 32 * 1024;

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// The ALTS layer: a record buffer of its own (ciphertext in, plaintext out by copy).
struct RecordReader {
    /// Ciphertext read from the socket; at `..plain_end` the decrypted record being drained.
    rec: Vec<u8>,
    filled: usize,
    /// Plaintext of the current record not yet copied out: `rec[plain_at..plain_end]`.
    plain_at: usize,
    plain_end: usize,
    /// Bytes of the current record (header and tag included) to drop once drained.
    rec_len: usize,
}

impl RecordReader {
    fn read(
        &mut self,
        sock: &TcpStream,
        crypter: &mut Crypter,
        dst: &mut [u8],
    ) -> io::Result<usize> {
        loop {
            if self.plain_at < self.plain_end {
                let n = dst.len().min(self.plain_end - self.plain_at);
                dst[..n].copy_from_slice(&self.rec[self.plain_at..self.plain_at + n]);
                self.plain_at += n;
                return Ok(n);
            }
            if self.rec_len > 0 {
                // The record is drained: drop it, keep what followed it.
                self.rec.copy_within(self.rec_len..self.filled, 0);
                self.filled -= self.rec_len;
                self.rec_len = 0;
            }
            if self.filled >= LEN_FIELD {
                let len = u32::from_le_bytes(self.rec[..4].try_into().expect("4 bytes")) as usize;
                let total = LEN_FIELD + len;
                if len < 4 + TAG_LEN || total > 4 * ALTS_FRAME_SIZE {
                    return Err(invalid("bad ALTS record length"));
                }
                if total > self.rec.len() {
                    self.rec.resize(total, 0);
                }
                if self.filled >= total {
                    let ty = u32::from_le_bytes(self.rec[4..8].try_into().expect("4 bytes"));
                    if ty != MSG_TYPE {
                        return Err(invalid("bad ALTS record type"));
                    }
                    let body_end = total - TAG_LEN;
                    let tag: [u8; TAG_LEN] = self.rec[body_end..total].try_into().expect("tag");
                    crypter
                        .open(&mut self.rec[HEADER..body_end], &tag)
                        .map_err(io::Error::from)?;
                    self.plain_at = HEADER;
                    self.plain_end = body_end;
                    self.rec_len = total;
                    continue;
                }
            }
            let n = { sock }.read(&mut self.rec[self.filled..])?;
            if n == 0 {
                return Ok(0);
            }
            self.filled += n;
        }
    }
}

/// One connection of the baseline stack.
pub(crate) struct BaseIo {
    sock: TcpStream,
    /// The ALTS layer (none over plain TCP).
    alts: Option<RecordReader>,
    /// The framer's read buffer: plaintext at `rbuf[start..end]`.
    rbuf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The write side: frame encoding, sealing, and the sealed bytes.
    enc: Encoder,
    preface_left: usize,
}

impl BaseIo {
    /// Wraps a connected socket (made non-blocking here); `alts`: ALTS records between the
    /// frames and the socket.
    pub(crate) fn new(sock: TcpStream, side: Side, alts: bool) -> io::Result<BaseIo> {
        sock.set_nonblocking(true)?;
        let server = side == Side::Server;
        Ok(BaseIo {
            sock,
            alts: alts.then(|| RecordReader {
                rec: vec![0; BUF_SIZE],
                filled: 0,
                plain_at: 0,
                plain_end: 0,
                rec_len: 0,
            }),
            rbuf: vec![0; BUF_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            enc: Encoder {
                crypter: alts.then(|| crate::wire::crypter(side)),
                wplain: Vec::with_capacity(BUF_SIZE),
                wout: Vec::with_capacity(BUF_SIZE + BUF_SIZE / 16),
                wout_at: 0,
            },
            preface_left: if server { CLIENT_PREFACE.len() } else { 0 },
        })
    }

    /// Reads more plaintext into the framer buffer; `Ok(false)` at EOF.
    fn fill(&mut self) -> io::Result<bool> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.rbuf.len() {
            self.rbuf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = match (&mut self.alts, &mut self.enc.crypter) {
            (Some(alts), Some(crypter)) => {
                alts.read(&self.sock, crypter, &mut self.rbuf[self.end..])?
            }
            _ => { &self.sock }.read(&mut self.rbuf[self.end..])?,
        };
        self.end += n;
        Ok(n > 0)
    }

    fn write_out(&mut self) -> io::Result<()> {
        let e = &mut self.enc;
        while e.wout_at < e.wout.len() {
            match (&self.sock).write(&e.wout[e.wout_at..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => e.wout_at += n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Parses the frame at `rbuf[start..]` if it is complete.
    fn next_frame(&self) -> io::Result<Option<(FrameHeader, usize)>> {
        let avail = &self.rbuf[self.start..self.end];
        let Some(h) = FrameHeader::parse(avail) else {
            return Ok(None);
        };
        if h.length > DEFAULT_MAX_FRAME_SIZE {
            return Err(invalid("frame larger than SETTINGS_MAX_FRAME_SIZE"));
        }
        let total = FRAME_HEADER_LEN + h.length as usize;
        Ok((avail.len() >= total).then_some((h, total)))
    }

    /// Checks the client preface as it arrives.
    fn eat_preface(&mut self) -> io::Result<()> {
        let n = self.preface_left.min(self.end - self.start);
        let at = CLIENT_PREFACE.len() - self.preface_left;
        if self.rbuf[self.start..self.start + n] != CLIENT_PREFACE[at..at + n] {
            return Err(invalid("bad client preface"));
        }
        self.start += n;
        self.preface_left -= n;
        Ok(())
    }
}

/// Turns a complete frame into what the logic sees (minimal parsing: the baseline's framer).
fn parse<'a>(h: &FrameHeader, payload: &'a [u8]) -> io::Result<In<'a>> {
    let ack = h.flags & flags::ACK != 0;
    Ok(match h.kind {
        kind::SETTINGS => In::Settings { ack },
        kind::PING if payload.len() == 8 => In::Ping {
            ack,
            data: payload.try_into().expect("8 bytes"),
        },
        kind::DATA => {
            let bytes = if h.flags & flags::PADDED != 0 {
                let pad = *payload.first().ok_or(invalid("PADDED without length"))? as usize;
                payload
                    .get(1..payload.len().saturating_sub(pad))
                    .ok_or(invalid("padding too long"))?
            } else {
                payload
            };
            In::Data {
                stream: h.stream_id,
                end: h.flags & flags::END_STREAM != 0,
                bytes,
            }
        }
        kind::GOAWAY => In::GoAway,
        _ => In::Other,
    })
}

impl Io for BaseIo {
    fn read_frames(&mut self, logic: &mut dyn Logic) -> io::Result<ReadStatus> {
        loop {
            if self.enc.queued() >= HIGH_WATER {
                self.flush()?;
                if self.enc.queued() >= HIGH_WATER {
                    return Ok(ReadStatus::Paused);
                }
            }
            if self.preface_left > 0 {
                self.eat_preface()?;
            }
            let frame = if self.preface_left > 0 {
                None
            } else {
                self.next_frame()?
            };
            let Some((h, total)) = frame else {
                match self.fill() {
                    Ok(true) => continue,
                    Ok(false) => return Ok(ReadStatus::Eof),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Ok(ReadStatus::Drained);
                    }
                    Err(e) => return Err(e),
                }
            };
            let at = self.start;
            self.start += total;
            // The frame is read in place from `rbuf` while the logic writes to `enc`.
            let f = parse(&h, &self.rbuf[at + FRAME_HEADER_LEN..at + total])?;
            logic.on_frame(f, &mut self.enc)?;
            if self.enc.wout.len() > self.enc.wout_at {
                self.write_out()?;
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.enc.seal()?;
        self.write_out()
    }

    fn sink(&mut self) -> &mut dyn Sink {
        &mut self.enc
    }

    fn unsent(&self) -> usize {
        self.enc.wout.len() - self.enc.wout_at
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    fn census(&self, c: &mut Census) {
        c.conns += 1;
        c.pinned_read += self.alts.as_ref().map_or(0, |a| a.rec.capacity()) + self.rbuf.len();
        c.h2_holding += 1;
        c.alts_holding += usize::from(self.alts.is_some());
        c.write_queued += self.enc.queued();
        c.pinned_write += self.enc.wplain.capacity() + self.enc.wout.capacity();
    }
}

/// The baseline's write side: frames are encoded into a 32 KiB buffer kept for the
/// connection's life and sealed into another whenever the next frame would not fit.
struct Encoder {
    /// The ALTS record sealer (none over plain TCP: `seal` only copies).
    crypter: Option<Crypter>,
    wplain: Vec<u8>,
    /// Sealed records not yet written, from `wout_at`.
    wout: Vec<u8>,
    wout_at: usize,
}

impl Encoder {
    /// Seals `wplain` into records appended to `wout`.
    fn seal(&mut self) -> io::Result<()> {
        if self.wplain.is_empty() {
            return Ok(());
        }
        if self.wout_at == self.wout.len() {
            self.wout.clear();
            self.wout_at = 0;
        }
        let Some(crypter) = self.crypter.as_mut() else {
            self.wout.extend_from_slice(&self.wplain);
            self.wplain.clear();
            return Ok(());
        };
        for chunk in self.wplain.chunks(ALTS_FRAME_SIZE - OVERHEAD) {
            let len = (chunk.len() + OVERHEAD - LEN_FIELD) as u32;
            self.wout.extend_from_slice(&len.to_le_bytes());
            self.wout.extend_from_slice(&MSG_TYPE.to_le_bytes());
            let body = self.wout.len();
            self.wout.extend_from_slice(chunk);
            let tag = crypter
                .seal(&mut self.wout[body..])
                .map_err(io::Error::from)?;
            self.wout.extend_from_slice(&tag);
        }
        self.wplain.clear();
        Ok(())
    }

    /// Starts a frame: seals first if it would not fit in the 32 KiB buffer.
    fn header(&mut self, kind: u8, flags: u8, stream: u32, len: usize) -> io::Result<()> {
        if self.wplain.len() + FRAME_HEADER_LEN + len > BUF_SIZE {
            self.seal()?;
        }
        let h = FrameHeader {
            length: len as u32,
            kind,
            flags,
            stream_id: stream,
        };
        self.wplain.extend_from_slice(&h.encode());
        Ok(())
    }
}

impl Sink for Encoder {
    fn preface(&mut self) -> io::Result<()> {
        self.wplain.extend_from_slice(CLIENT_PREFACE);
        Ok(())
    }

    fn settings(&mut self, ack: bool) -> io::Result<()> {
        if ack {
            self.header(kind::SETTINGS, flags::ACK, 0, 0)
        } else {
            self.header(kind::SETTINGS, 0, 0, 12)?;
            self.wplain.extend_from_slice(&[0, 2, 0, 0, 0, 0]); // ENABLE_PUSH 0
            self.wplain
                .extend_from_slice(&[0, 4, 0x7f, 0xff, 0xff, 0xff]); // window 2^31-1
            Ok(())
        }
    }

    fn ping(&mut self, ack: bool, data: [u8; 8]) -> io::Result<()> {
        self.header(kind::PING, if ack { flags::ACK } else { 0 }, 0, 8)?;
        self.wplain.extend_from_slice(&data);
        Ok(())
    }

    fn headers(&mut self, stream: u32, block: &[u8]) -> io::Result<()> {
        self.header(kind::HEADERS, flags::END_HEADERS, stream, block.len())?;
        self.wplain.extend_from_slice(block);
        Ok(())
    }

    fn data(&mut self, stream: u32, end: bool, bytes: &[u8]) -> io::Result<()> {
        let f = if end { flags::END_STREAM } else { 0 };
        self.header(kind::DATA, f, stream, bytes.len())?;
        self.wplain.extend_from_slice(bytes);
        Ok(())
    }

    fn window_update(&mut self, stream: u32, increment: u32) -> io::Result<()> {
        self.header(kind::WINDOW_UPDATE, 0, stream, 4)?;
        self.wplain.extend_from_slice(&increment.to_be_bytes());
        Ok(())
    }

    fn queued(&self) -> usize {
        self.wplain.len() + self.wout.len() - self.wout_at
    }
}
