//! The logic of slackwater's fuzz targets, one module per target (`fuzz_targets/*.rs` only
//! call `run`). Every target decodes its input by hand from raw bytes ([`Input`]); a broken
//! invariant is an `assert!`/`panic!`, which is how libFuzzer learns of it.
//!
//! | target | what it drives | what it checks |
//! |---|---|---|
//! | [`alts_raw`] | `slackwater_alts::Conn` reading arbitrary bytes (optionally with a key and counter from the input, so seeds can be real vectors), arbitrary chunking, `WouldBlock`s and `Interrupted`s, every read method | no panic; typed errors only, sticky; plaintext never longer than the input; pinned buffers bounded; nothing in use after drop |
//! | [`alts_sealed`] | records sealed by a peer `Conn` from messages in the input, then mutated (flip, truncate, insert, delete), a read limit, chunking | exactly the plaintext of the records before the first damaged or over-limit one; clean EOF only at a record boundary; plus everything `alts_raw` checks |
//! | [`h2_decode`] | `slackwater_h2frame::decode`, `Decoder` with another max frame size and padding rule, `decode_shared` | the decoders agree; header fields carried; decode → `encode`/`FrameWriter` → decode is the identity, and the re-encoded bytes are the input with only reserved bits and undefined flags cleared |
//! | [`h2_reader`] | the stateful `FrameReader` (client and server side, every `Config` knob) over arbitrary bytes in arbitrary chunks with `WouldBlock`s | same frames and errors as one unchunked blocking run; every frame equals the stateless decode of its bytes; at most one buffer held, none when idle; buffer bounds; nothing in use after drop |
//! | [`pool_ops`] | a `Pool::with_config` pool (config from the input, validated against a model) under arbitrary get / write / advance / truncate / compact / clear / freeze / slice / split / drop / trim / drop-the-pool sequences | differential against a reference model: contents, lengths, capacities, uniqueness, per-class statistics, what `trim` frees; fresh buffers are empty |

#![forbid(unsafe_code)]

pub mod alts_raw;
pub mod alts_sealed;
mod alts_util;
pub mod h2_decode;
pub mod h2_reader;
pub mod pool_ops;

use slackwater_ready::{Buf, Pool, ReadyRead};
use std::io;

/// Whether `SLACKWATER_FUZZ_TRACE` is set: the targets then print what each input did (for
/// replaying a single input by hand).
pub fn trace() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SLACKWATER_FUZZ_TRACE").is_some())
}

/// Reads the fuzz input front to back; past its end every number is 0 and every slice empty,
/// so any input decodes to something.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Starts at the first byte.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// The next byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// The next three bytes, little-endian.
    pub fn u24(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), 0])
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }

    /// Exactly `N` bytes, zero-padded past the end.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        let b = self.bytes(N);
        a[..b.len()].copy_from_slice(b);
        a
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// A chunking: a count byte (mod 17; 0 = no limit) then one byte per chunk size:
    /// `b < 128` is `b + 1` bytes, else `(b - 127) * 256` bytes (256 B to 32 KiB).
    pub fn chunk_sizes(&mut self) -> Vec<usize> {
        let n = usize::from(self.u8() % 17);
        (0..n)
            .map(|_| {
                let b = self.u8();
                if b < 128 {
                    usize::from(b) + 1
                } else {
                    usize::from(b - 127) * 256
                }
            })
            .collect()
    }

    /// A list of operation bytes: a count byte (mod 17) then that many bytes.
    pub fn ops(&mut self) -> Vec<u8> {
        let n = usize::from(self.u8() % 17);
        self.bytes(n).to_vec()
    }
}

/// How [`MemTransport`] delivers its bytes.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    /// Chunk sizes, cycled (empty: no limit beyond what the reader asks for).
    pub sizes: Vec<usize>,
    /// The non-blocking forms say `WouldBlock` before every other delivery (never twice in a
    /// row), including once before the end of stream.
    pub would_block: bool,
    /// Every form says `Interrupted` before every third delivery (never twice in a row); the
    /// drivers retry. Nothing may be lost or repeated.
    pub interrupts: bool,
}

/// A `ReadyRead` over bytes in memory that keeps the trait's contract (a buffer of at least
/// `size` bytes from the caller's pool, at least one byte per buffer, `Ok(None)`/`Ok(0)` only
/// at the end) while choosing how many bytes each call gets.
pub struct MemTransport {
    data: Vec<u8>,
    pos: usize,
    how: Delivery,
    chunk: usize,
    calls: usize,
    blocked: bool,
    interrupted: bool,
}

impl MemTransport {
    /// Serves `data` as `how` says.
    pub fn new(data: Vec<u8>, how: Delivery) -> Self {
        MemTransport {
            data,
            pos: 0,
            how,
            chunk: 0,
            calls: 0,
            blocked: false,
            interrupted: false,
        }
    }

    /// Bytes delivered so far.
    pub fn delivered(&self) -> usize {
        self.pos
    }

    /// The whole byte stream.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    fn next_len(&mut self, max: usize) -> usize {
        let limit = if self.how.sizes.is_empty() {
            usize::MAX
        } else {
            let s = self.how.sizes[self.chunk % self.how.sizes.len()];
            self.chunk += 1;
            s
        };
        limit.max(1).min(max).min(self.data.len() - self.pos)
    }

    /// Faults injected before a delivery (never two in a row, so every reader progresses).
    fn gate(&mut self, nonblocking: bool) -> io::Result<()> {
        self.calls += 1;
        if self.how.interrupts && !self.interrupted && self.calls.is_multiple_of(3) {
            self.interrupted = true;
            return Err(io::ErrorKind::Interrupted.into());
        }
        self.interrupted = false;
        if nonblocking && self.how.would_block {
            self.blocked = !self.blocked;
            if self.blocked {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        Ok(())
    }

    fn read(&mut self, size: usize, pool: &Pool, nonblocking: bool) -> io::Result<Option<Buf>> {
        self.gate(nonblocking)?;
        if self.pos == self.data.len() {
            return Ok(None);
        }
        let size = size.max(1);
        let n = self.next_len(size);
        let mut b = pool.get(size)?;
        assert!(
            b.capacity() >= size,
            "pool gave a buffer smaller than asked"
        );
        b.extend_from_slice(&self.data[self.pos..self.pos + n])
            .expect("n <= size <= capacity");
        self.pos += n;
        Ok(Some(b))
    }

    fn append(&mut self, buf: &mut Buf, max: usize, nonblocking: bool) -> io::Result<usize> {
        let max = max.min(buf.spare_capacity());
        if max == 0 {
            return Ok(0);
        }
        self.gate(nonblocking)?;
        if self.pos == self.data.len() {
            return Ok(0);
        }
        let n = self.next_len(max);
        buf.extend_from_slice(&self.data[self.pos..self.pos + n])
            .expect("n <= spare capacity");
        self.pos += n;
        Ok(n)
    }
}

impl ReadyRead for MemTransport {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read(size, pool, false)
    }

    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read(size, pool, true)
    }

    fn read_ready_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        self.gate(false)?;
        let n = self.next_len(dst.len());
        dst[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }

    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append(buf, max, false)
    }

    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append(buf, max, true)
    }
}

/// The capacity `pool.get(n)` gives: the smallest class that holds `n`, or `n` above them.
pub fn class_cap(pool: &Pool, n: usize) -> usize {
    pool.config()
        .class_sizes()
        .iter()
        .copied()
        .find(|&c| c >= n)
        .unwrap_or(n)
}

/// Checks what `pool` has handed out and not got back: at most `max_out` buffers, none
/// larger than `pool.get(bound)` would give (one statistics snapshot: they are not free).
pub fn assert_buffers_within(pool: &Pool, max_out: usize, bound: usize, what: &str) {
    let s = pool.stats();
    assert!(
        s.in_use() <= max_out,
        "{what}: {} buffers out (at most {max_out})",
        s.in_use()
    );
    let largest = s
        .classes()
        .iter()
        .filter(|c| c.in_use > 0)
        .map(|c| c.size)
        .max()
        .unwrap_or(0);
    let cap = class_cap(pool, bound);
    assert!(
        largest <= cap,
        "{what}: a {largest}-byte buffer is out; the bound allows {cap} (pool.get({bound}))"
    );
    let top = pool.config().class_sizes().last().copied().unwrap_or(0);
    let unpooled = s.unpooled().in_use;
    assert!(
        unpooled == 0 || bound > top,
        "{what}: {unpooled} unpooled buffer(s) out; the bound {bound} fits a class"
    );
}
