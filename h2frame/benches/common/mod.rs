//! The benchmark's streams and two of its readers, shared by `benches/frames.rs` and
//! `benches/frame_loop.rs` (built as the example `frame_loop`: the loop `tools/callgrind_frames.sh`
//! counts instructions of).

use slackwater_h2frame::*;
use std::hint::black_box;
use std::io::{self, BufRead, Read};

// ---------------------------------------------------------------- streams

/// A valid HPACK block: :method GET, :scheme http, :path /, :authority example.com.
const HPACK: &[u8] = &[
    0x82, 0x86, 0x84, 0x41, 0x0b, b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'c', b'o', b'm',
];

pub fn control_stream(groups: usize) -> (Vec<u8>, usize) {
    let mut frames = Vec::new();
    for i in 0..groups as u32 {
        let s = 2 * i + 1;
        frames.push(Frame::Ping(Ping {
            ack: false,
            data: [7; 8],
        }));
        frames.push(Frame::WindowUpdate(WindowUpdate {
            stream_id: s,
            increment: 65_535,
        }));
        frames.push(Frame::Settings(Settings::new(&[
            Setting {
                id: Setting::MAX_CONCURRENT_STREAMS,
                value: 100,
            },
            Setting {
                id: Setting::INITIAL_WINDOW_SIZE,
                value: 1 << 20,
            },
        ])));
        frames.push(Frame::RstStream(RstStream {
            stream_id: s,
            error_code: ErrorCode::CANCEL,
        }));
        frames.push(Frame::Priority(Priority {
            stream_id: s,
            spec: PrioritySpec {
                exclusive: false,
                dependency: 0,
                weight: 16,
            },
        }));
        frames.push(Frame::Headers(Headers {
            stream_id: s,
            end_stream: false,
            end_headers: true,
            priority: None,
            fragment: Payload::from(HPACK),
            padding: None,
        }));
        frames.push(Frame::Data(Data {
            stream_id: s,
            end_stream: false,
            data: Payload::from(&[0x5a; 32][..]),
            padding: None,
        }));
    }
    (encode_all(&frames), frames.len())
}

pub fn data_stream(n: usize) -> (Vec<u8>, usize) {
    let frames: Vec<Frame> = (0..n)
        .map(|_| {
            Frame::Data(Data {
                stream_id: 1,
                end_stream: false,
                data: Payload::from(vec![0xa5; 16_384]),
                padding: None,
            })
        })
        .collect();
    (encode_all(&frames), frames.len())
}

pub fn encode_all(frames: &[Frame]) -> Vec<u8> {
    let w = FrameWriter::new();
    let mut out = Vec::new();
    for f in frames {
        w.write(&mut out, f).unwrap();
    }
    out
}

/// The frames of a stream, decoded one by one.
pub fn decode_all(mut bytes: &[u8]) -> Vec<Frame> {
    let mut v = Vec::new();
    while let Some((f, n)) = decode(bytes).unwrap() {
        v.push(f);
        bytes = &bytes[n..];
    }
    v
}

// ---------------------------------------------------------------- slackwater

/// An in-memory `ReadyRead`: every read copies at most `size` bytes out of the source, as
/// `read(2)` would.
struct Mem<'a> {
    data: &'a [u8],
}

impl ReadyRead for Mem<'_> {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        if self.data.is_empty() {
            return Ok(None);
        }
        let n = size.max(1).min(self.data.len());
        let mut b = pool.get(n)?;
        b.extend_from_slice(&self.data[..n])
            .map_err(io::Error::other)?;
        self.data = &self.data[n..];
        Ok(Some(b))
    }
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read_ready(size, pool)
    }
    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        let n = max.min(buf.spare_capacity()).min(self.data.len());
        buf.extend_from_slice(&self.data[..n])
            .map_err(io::Error::other)?;
        self.data = &self.data[n..];
        Ok(n)
    }
    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append_ready(buf, max)
    }
}

pub fn slackwater_pass(bytes: &[u8]) -> usize {
    let mut r = FrameReader::new(Mem { data: bytes });
    let mut n = 0;
    while let Some(f) = r.read_frame().unwrap() {
        black_box(&f);
        n += 1;
    }
    n
}

// ---------------------------------------------------------------- bare loop

/// No validation at all: header, then the payload into a reused Vec.
pub fn bare_pass(bytes: &[u8]) -> usize {
    let mut r = io::BufReader::with_capacity(32 * 1024, bytes);
    let mut payload = Vec::with_capacity(16_384);
    let mut n = 0;
    loop {
        let mut h = [0u8; 9];
        if r.fill_buf().unwrap().is_empty() {
            return n;
        }
        r.read_exact(&mut h).unwrap();
        let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
        payload.resize(len, 0);
        r.read_exact(&mut payload).unwrap();
        black_box((&h, &payload));
        n += 1;
    }
}

// ---------------------------------------------------------------- write side

/// Encodes `frames` into `out` (cleared first, its capacity kept: the steady state of a
/// connection whose output buffer is warm). Each DATA byte is copied once, into `out`.
pub fn write_pass(frames: &[Frame], out: &mut Vec<u8>) -> usize {
    out.clear();
    let w = FrameWriter::new();
    for f in frames {
        w.write(out, f).unwrap();
    }
    black_box(out.len());
    frames.len()
}
