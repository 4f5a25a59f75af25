//! Shared test helpers.
#![allow(dead_code)]

use slackwater_alts::{Backend, Conn, Crypter, Protocol, Side};
use slackwater_ready::{Buf, Pool, ReadyRead};
use std::io::{self, Write};

pub fn key(p: Protocol) -> Vec<u8> {
    (0..p.key_len() as u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect()
}

pub fn crypter(p: Protocol, side: Side, backend: Backend) -> Crypter {
    Crypter::new(p, side, &key(p), backend).unwrap()
}

/// The wire bytes `side` sends for `messages` (written with `write_all`, frame size `frame`).
pub fn wire(p: Protocol, side: Side, frame: usize, messages: &[&[u8]]) -> Vec<u8> {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let mut w = Conn::new(Vec::new(), crypter(p, side, Backend::default())).with_pool(pool.clone());
    w = w.with_config(
        slackwater_alts::Config::builder()
            .frame_size(frame)
            .build()
            .unwrap(),
    );
    for m in messages {
        w.write_all(m).unwrap();
    }
    w.get_ref().clone()
}

/// A transport over bytes in memory, delivered in the given chunk sizes (cycled), optionally
/// saying `WouldBlock` before every chunk in the non-blocking form.
pub struct Chunks {
    pub data: Vec<u8>,
    pub pos: usize,
    pub sizes: Vec<usize>,
    pub i: usize,
    pub would_block: bool,
    pub blocked: bool,
}

impl Chunks {
    pub fn new(data: Vec<u8>, sizes: Vec<usize>, would_block: bool) -> Self {
        let sizes = if sizes.is_empty() {
            vec![usize::MAX]
        } else {
            sizes
        };
        Chunks {
            data,
            pos: 0,
            sizes,
            i: 0,
            would_block,
            blocked: false,
        }
    }
    fn next_len(&mut self, max: usize) -> usize {
        let n = self.sizes[self.i % self.sizes.len()]
            .max(1)
            .min(max)
            .min(self.data.len() - self.pos);
        self.i += 1;
        n
    }
    fn gate(&mut self) -> io::Result<()> {
        if self.would_block && self.pos < self.data.len() {
            self.blocked = !self.blocked;
            if self.blocked {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        Ok(())
    }
}

impl ReadyRead for Chunks {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        if self.pos == self.data.len() {
            return Ok(None);
        }
        let n = self.next_len(size.max(1));
        let mut b = pool.get(n)?;
        b.extend_from_slice(&self.data[self.pos..self.pos + n])
            .unwrap();
        self.pos += n;
        Ok(Some(b))
    }
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.gate()?;
        self.read_ready(size, pool)
    }
    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        let max = max.min(buf.spare_capacity());
        if max == 0 || self.pos == self.data.len() {
            return Ok(0);
        }
        let n = self.next_len(max);
        buf.extend_from_slice(&self.data[self.pos..self.pos + n])
            .unwrap();
        self.pos += n;
        Ok(n)
    }
    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.gate()?;
        self.append_ready(buf, max)
    }
}

/// Reads every plaintext byte with the non-blocking form, retrying on `WouldBlock`.
pub fn drain_nonblocking<T: ReadyRead>(c: &mut Conn<T>, pool: &Pool) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match c.try_read_ready(4096, pool) {
            Ok(Some(b)) => {
                assert!(!b.is_empty());
                out.extend_from_slice(&b);
            }
            Ok(None) => return Ok(out),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reads every plaintext byte with the blocking form.
pub fn drain_blocking<T: ReadyRead>(c: &mut Conn<T>, pool: &Pool) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(b) = c.read_ready(4096, pool)? {
        assert!(!b.is_empty());
        out.extend_from_slice(&b);
    }
    Ok(out)
}
