//! What both stacks speak, and the per-connection logic of the demo's server and client.
//!
//! A transport (slackwater's or the baseline's) turns bytes into [`In`] frames and hands them
//! to a [`Logic`]; the logic answers through a [`Sink`]. The logic is the same code for both
//! stacks, so they differ only in how they hold buffers.

use crate::worker::Counters;
use slackwater_alts::{Backend, Crypter, Protocol, Side};
use std::io;
use std::sync::OnceLock;
use std::time::Instant;

/// The record protocol of every demo connection (gRPC-Go's default).
pub(crate) const PROTOCOL: Protocol = Protocol::Aes128GcmRekey;
/// ALTS frame size both stacks use (the largest record, header and tag included).
pub(crate) const ALTS_FRAME_SIZE: usize = 16 * 1024;
/// Largest DATA payload the client sends in one frame (the HTTP/2 default maximum).
pub(crate) const MAX_DATA: usize = 16 * 1024;
/// Output a connection may queue before it stops reading (backpressure).
pub(crate) const HIGH_WATER: usize = 256 * 1024;
/// Encoded but unsealed output is sealed and written once it reaches this.
pub(crate) const FLUSH_AT: usize = 32 * 1024;
/// HTTP/2 flow control is not what the demo measures: both ends open every window fully.
pub(crate) const MAX_WINDOW: u32 = (1 << 31) - 1;

/// Fixed demo key material (the handshake is out of scope: both ends know it).
pub(crate) fn crypter(side: Side) -> Crypter {
    let key: Vec<u8> = (0..PROTOCOL.key_len())
        .map(|i| (i as u8).wrapping_mul(29) ^ 0x5a)
        .collect();
    // A fixed, valid key length for the protocol: construction cannot fail.
    Crypter::new(PROTOCOL, side, &key, Backend::default()).expect("demo key has the right length")
}

/// Period of the payload pattern (a prime, so frame boundaries never line up with it).
const PERIOD: usize = 251;

/// `len` bytes of the payload pattern starting at stream offset `off` (`len <= MAX_DATA`).
pub(crate) fn pattern(off: u64, len: usize) -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    let t = TABLE.get_or_init(|| {
        (0..PERIOD + MAX_DATA)
            .map(|i| ((i % PERIOD) as u8).wrapping_mul(7).wrapping_add(1))
            .collect()
    });
    let s = (off % PERIOD as u64) as usize;
    &t[s..s + len]
}

/// Whether `bytes` are the pattern at `off` (checked in frame-sized pieces).
pub(crate) fn is_pattern(off: u64, bytes: &[u8]) -> bool {
    bytes
        .chunks(MAX_DATA)
        .enumerate()
        .all(|(i, c)| c == pattern(off + (i * MAX_DATA) as u64, c.len()))
}

/// One received frame, as the demo's logic needs it.
#[derive(Debug)]
pub(crate) enum In<'a> {
    /// SETTINGS (or its ACK).
    Settings { ack: bool },
    /// PING (or its ACK).
    Ping { ack: bool, data: [u8; 8] },
    /// DATA, padding removed.
    Data {
        stream: u32,
        end: bool,
        bytes: &'a [u8],
    },
    /// GOAWAY: the peer is leaving.
    GoAway,
    /// Anything else (WINDOW_UPDATE, ...): ignored.
    Other,
}

/// Where the logic writes its frames.
pub(crate) trait Sink {
    /// The client connection preface.
    fn preface(&mut self) -> io::Result<()>;
    /// Our SETTINGS (every window opened fully) or a SETTINGS ACK.
    fn settings(&mut self, ack: bool) -> io::Result<()>;
    /// A PING or PING ACK.
    fn ping(&mut self, ack: bool, data: [u8; 8]) -> io::Result<()>;
    /// A HEADERS frame with END_HEADERS (and not END_STREAM) carrying this HPACK block.
    fn headers(&mut self, stream: u32, block: &[u8]) -> io::Result<()>;
    /// A DATA frame (`bytes.len() <= MAX_DATA`).
    fn data(&mut self, stream: u32, end: bool, bytes: &[u8]) -> io::Result<()>;
    /// A WINDOW_UPDATE.
    fn window_update(&mut self, stream: u32, increment: u32) -> io::Result<()>;
    /// Output bytes not yet taken by the socket (encoded, sealed or both).
    fn queued(&self) -> usize;
}

/// The request the client opens its stream with, HPACK-encoded by hand: `:method: POST`,
/// `:scheme: http`, `:path: /` (indexed from the static table: 3, 6, 4), and
/// `:authority: localhost` (a literal without indexing, name index 1). A real HTTP/2 server
/// (the `h2` crate) accepts it; the frame-level servers ignore it.
pub(crate) const REQUEST_HEADERS: &[u8] = &[
    0x83, 0x86, 0x84, 0x01, 9, b'l', b'o', b'c', b'a', b'l', b'h', b'o', b's', b't',
];

/// Our SETTINGS: the initial stream window opened fully, then the connection window.
pub(crate) fn open_windows(out: &mut dyn Sink) -> io::Result<()> {
    out.settings(false)?;
    out.window_update(0, MAX_WINDOW - 65_535)
}

/// What a connection does with the frames it receives.
pub(crate) trait Logic {
    /// Called once, right after the connection is set up.
    fn start(&mut self, out: &mut dyn Sink) -> io::Result<()>;
    /// One received frame.
    fn on_frame(&mut self, f: In<'_>, out: &mut dyn Sink) -> io::Result<()>;
    /// The burst phase begins (client only).
    fn burst(&mut self, _out: &mut dyn Sink) -> io::Result<()> {
        Ok(())
    }
    /// Produce more output if there is room (the client's DATA stream).
    fn produce(&mut self, _out: &mut dyn Sink) -> io::Result<()> {
        Ok(())
    }
    /// Whether [`produce`](Logic::produce) has more to send (then the connection waits for
    /// writability, not only for the peer).
    fn has_more(&self) -> bool {
        false
    }
}

/// The server side: answers SETTINGS and PING, checks and echoes DATA.
pub(crate) struct ServerLogic {
    counters: &'static Counters,
    ready: bool,
    rx_off: u64,
}

impl ServerLogic {
    pub(crate) fn new(counters: &'static Counters) -> Self {
        ServerLogic {
            counters,
            ready: false,
            rx_off: 0,
        }
    }
}

impl Logic for ServerLogic {
    fn start(&mut self, out: &mut dyn Sink) -> io::Result<()> {
        open_windows(out)
    }

    fn on_frame(&mut self, f: In<'_>, out: &mut dyn Sink) -> io::Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        self.counters.frames_in.fetch_add(1, Relaxed);
        match f {
            In::Settings { ack: false } => out.settings(true),
            In::Settings { ack: true } => {
                if !self.ready {
                    self.ready = true;
                    self.counters.ready.fetch_add(1, Relaxed);
                }
                Ok(())
            }
            In::Ping { ack: false, data } => out.ping(true, data),
            In::Data { stream, end, bytes } => {
                if !is_pattern(self.rx_off, bytes) {
                    self.counters.corrupt.fetch_add(1, Relaxed);
                }
                self.counters
                    .bytes_in
                    .fetch_add(bytes.len() as u64, Relaxed);
                self.rx_off = if end {
                    0
                } else {
                    self.rx_off + bytes.len() as u64
                };
                out.data(stream, end, bytes)
            }
            In::Ping { ack: true, .. } | In::GoAway | In::Other => Ok(()),
        }
    }
}

/// The client side: handshake, then on `burst` one PING and a DATA stream of `payload` bytes,
/// checking the echo.
pub(crate) struct ClientLogic {
    counters: &'static Counters,
    payload: u64,
    ready: bool,
    ping_at: Option<Instant>,
    rtt_us: Option<u32>,
    sent: u64,
    echoed: u64,
    bursting: bool,
    done: bool,
}

impl ClientLogic {
    pub(crate) fn new(counters: &'static Counters, payload: u64) -> Self {
        ClientLogic {
            counters,
            payload,
            ready: false,
            ping_at: None,
            rtt_us: None,
            sent: 0,
            echoed: 0,
            bursting: false,
            done: false,
        }
    }

    fn check_done(&mut self) {
        if !self.done && self.rtt_us.is_some() && self.echoed == self.payload {
            self.done = true;
            self.counters.done(self.rtt_us.unwrap_or(0));
        }
    }
}

impl Logic for ClientLogic {
    fn start(&mut self, out: &mut dyn Sink) -> io::Result<()> {
        out.preface()?;
        open_windows(out)
    }

    fn on_frame(&mut self, f: In<'_>, out: &mut dyn Sink) -> io::Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        self.counters.frames_in.fetch_add(1, Relaxed);
        match f {
            In::Settings { ack: false } => out.settings(true)?,
            In::Settings { ack: true } => {
                if !self.ready {
                    self.ready = true;
                    self.counters.ready.fetch_add(1, Relaxed);
                }
            }
            In::Ping { ack: true, .. } => {
                if let Some(t) = self.ping_at.take() {
                    self.rtt_us = Some(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
            }
            In::Ping { ack: false, data } => out.ping(true, data)?,
            In::Data { bytes, .. } => {
                if !is_pattern(self.echoed, bytes) {
                    self.counters.corrupt.fetch_add(1, Relaxed);
                }
                self.echoed += bytes.len() as u64;
                self.counters
                    .bytes_in
                    .fetch_add(bytes.len() as u64, Relaxed);
                if self.echoed > self.payload {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "more DATA echoed than sent",
                    ));
                }
            }
            In::GoAway | In::Other => {}
        }
        self.check_done();
        Ok(())
    }

    fn burst(&mut self, out: &mut dyn Sink) -> io::Result<()> {
        self.bursting = true;
        self.ping_at = Some(Instant::now());
        out.ping(false, *b"slackwtr")?;
        out.headers(1, REQUEST_HEADERS)?;
        self.produce(out)
    }

    fn has_more(&self) -> bool {
        self.bursting && self.sent < self.payload
    }

    fn produce(&mut self, out: &mut dyn Sink) -> io::Result<()> {
        while self.bursting && self.sent < self.payload && out.queued() < HIGH_WATER / 4 {
            let n = (self.payload - self.sent).min(MAX_DATA as u64) as usize;
            let end = self.sent + n as u64 == self.payload;
            out.data(1, end, pattern(self.sent, n))?;
            self.sent += n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_periodic_and_checked() {
        let a = pattern(10, 100).to_vec();
        assert_eq!(&a[..], pattern(10 + PERIOD as u64, 100));
        assert!(is_pattern(10, &a));
        assert!(!is_pattern(11, &a));
        let long: Vec<u8> = (0..3)
            .flat_map(|i| pattern(5 + (i * MAX_DATA) as u64, MAX_DATA).to_vec())
            .collect();
        assert!(is_pattern(5, &long));
        let mut bad = long.clone();
        bad[2 * MAX_DATA + 7] ^= 1;
        assert!(!is_pattern(5, &bad));
    }
}
