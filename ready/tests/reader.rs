//! `PooledReader` and `Buffered`: the spirit of Go's bufio test matrix, sticky errors, EOF.

use slackwater_ready::{Buf, Buffered, Pool, PoolHandle, PooledReader, ReadyRead};
use std::io::{self, BufRead, Read};

/// A `ReadyRead` over bytes in memory that returns at most `chunk` bytes per call and then,
/// optionally, an error.
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
    then: Option<io::ErrorKind>,
}

impl ReadyRead for Chunked {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        if self.pos == self.data.len() {
            return match self.then.take() {
                Some(k) => Err(k.into()),
                None => Ok(None),
            };
        }
        let mut b = pool.get(size)?;
        let n = self.chunk.min(self.data.len() - self.pos).min(b.capacity());
        b.extend_from_slice(&self.data[self.pos..self.pos + n])
            .unwrap();
        self.pos += n;
        Ok(Some(b))
    }
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read_ready(size, pool)
    }
    fn read_ready_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.data.len() {
            return match self.then.take() {
                Some(k) => Err(k.into()),
                None => Ok(0),
            };
        }
        let n = self.chunk.min(self.data.len() - self.pos).min(dst.len());
        dst[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn text(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
        .collect()
}

#[test]
fn matrix_of_text_read_buffer_and_chunk_sizes() {
    let pool = PoolHandle::from(Pool::new());
    // Under Miri (about a thousand times slower) a corner of the matrix.
    let (texts, reads, bufs, chunks): (&[usize], &[usize], &[usize], &[usize]) = if cfg!(miri) {
        (&[0, 7, 100], &[1, 7, 4096], &[16, 4096], &[1, usize::MAX])
    } else {
        (
            &[0, 1, 7, 100, 4096, 10_000],
            &[1, 2, 3, 7, 64, 4096, 20_000],
            &[16, 64, 4096, 16_384],
            &[1, 5, 1000, usize::MAX],
        )
    };
    for &text_size in texts {
        for &read_size in reads {
            for &buf_size in bufs {
                for &chunk in chunks {
                    let want = text(text_size);
                    let src = Chunked {
                        data: want.clone(),
                        pos: 0,
                        chunk,
                        then: None,
                    };
                    let mut r = PooledReader::new(src, buf_size, pool.clone());
                    let mut got = Vec::new();
                    let mut dst = vec![0u8; read_size];
                    loop {
                        let n = r.read(&mut dst).unwrap();
                        if n == 0 {
                            break;
                        }
                        got.extend_from_slice(&dst[..n]);
                        assert!(pool.stats().in_use() <= 1);
                    }
                    assert!(
                        got == want,
                        "text {text_size} read {read_size} buf {buf_size} chunk {chunk}"
                    );
                    // (That the end stays an end is tested against a source whose end does
                    // not: `eof_is_sticky_even_when_the_source_comes_back`.)
                    assert_eq!(r.read(&mut dst).unwrap(), 0);
                    assert_eq!(pool.stats().in_use(), 0, "drained reader holds nothing");
                }
            }
        }
    }
}

#[test]
fn an_error_after_data_comes_on_the_next_call_after_the_data() {
    let pool = PoolHandle::from(Pool::new());
    let src = Chunked {
        data: b"abcdef".to_vec(),
        pos: 0,
        chunk: usize::MAX,
        then: Some(io::ErrorKind::ConnectionReset),
    };
    let mut r = PooledReader::new(src, 64, pool.clone());
    let mut two = [0u8; 2];
    for want in [b"ab", b"cd", b"ef"] {
        assert_eq!(r.read(&mut two).unwrap(), 2);
        assert_eq!(&two, want);
    }
    assert_eq!(
        r.read(&mut two).unwrap_err().kind(),
        io::ErrorKind::ConnectionReset
    );
    // The source (like Linux after ECONNRESET) now reads 0: the reset must not turn into a
    // clean end of stream.
    for _ in 0..3 {
        assert_eq!(
            r.read(&mut two).unwrap_err().kind(),
            io::ErrorKind::ConnectionReset,
            "a reset stays a reset"
        );
    }
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn bufread_lines_and_buffer_release() {
    let pool = PoolHandle::from(Pool::new());
    let src = Chunked {
        data: b"one\ntwo\nthree".to_vec(),
        pos: 0,
        chunk: 5,
        then: None,
    };
    let r = PooledReader::new(src, 64, pool.clone());
    let lines: Vec<String> = r.lines().map(Result::unwrap).collect();
    assert_eq!(lines, ["one", "two", "three"]);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn buffered_is_the_slow_path_over_plain_read() {
    let pool = PoolHandle::from(Pool::new());
    let mut b = Buffered::new(&b"0123456789"[..]);
    let first = b.read_ready(4, &pool).unwrap().unwrap();
    assert_eq!(&first[..], b"0123");
    assert_eq!(pool.stats().in_use(), 1);
    drop(first);
    let mut rest = Vec::new();
    while let Some(x) = b.read_ready(4, &pool).unwrap() {
        rest.extend_from_slice(&x);
    }
    assert_eq!(rest, b"456789");
    assert_eq!(pool.stats().in_use(), 0);
    // Through a pipe, as in tests of real transports.
    let mut r = PooledReader::new(Buffered::new(&b"piped"[..]), 16, pool.clone());
    let mut s = String::new();
    r.read_to_string(&mut s).unwrap();
    assert_eq!(s, "piped");
}

/// A source whose end of stream is not sticky: one `Ok(None)` / `Ok(0)`, then more bytes (a
/// terminal, a pipe that is reopened). After its first end, a `PooledReader` must report the
/// end forever, through every read path: the small reads that fill its pooled buffer, the
/// large reads that go straight into the caller's slice, and `fill_buf`.
struct EndsThenComesBack {
    ended: bool,
}

impl ReadyRead for EndsThenComesBack {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        if !self.ended {
            self.ended = true;
            return Ok(None);
        }
        let mut b = pool.get(size)?;
        b.extend_from_slice(b"more").unwrap();
        Ok(Some(b))
    }
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read_ready(size, pool)
    }
    fn read_ready_into(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if !self.ended {
            self.ended = true;
            return Ok(0);
        }
        dst[..4].copy_from_slice(b"more");
        Ok(4)
    }
}

#[test]
fn eof_is_sticky_even_when_the_source_comes_back() {
    let pool = PoolHandle::from(Pool::new());
    for first_small in [true, false] {
        let mut r = PooledReader::new(EndsThenComesBack { ended: false }, 64, pool.clone());
        let (mut small, mut large) = ([0u8; 8], [0u8; 128]);
        let first = if first_small {
            &mut small[..]
        } else {
            &mut large[..]
        };
        assert_eq!(r.read(first).unwrap(), 0, "the first end");
        for _ in 0..3 {
            assert_eq!(r.read(&mut small).unwrap(), 0, "small read after the end");
            assert_eq!(r.read(&mut large).unwrap(), 0, "large read after the end");
            assert!(r.fill_buf().unwrap().is_empty(), "fill_buf after the end");
        }
        assert_eq!(pool.stats().in_use(), 0);
    }
}

/// Pool `get`s so far, over every class and unpooled allocations.
fn pool_gets(pool: &Pool) -> usize {
    let s = pool.stats();
    s.classes().iter().map(|c| c.hits + c.misses).sum::<usize>() + s.unpooled().misses
}

/// The docs' two read paths: a slice of at least `buffer_size` bytes is read into straight
/// (no pooled buffer), a smaller one through a pooled buffer whose rest `buffered` reports.
#[test]
fn large_reads_go_straight_into_the_slice_small_ones_through_a_buffer() {
    let pool = PoolHandle::from(Pool::new());
    let data: Vec<u8> = (0..100u8).collect();
    let mut r = PooledReader::new(Buffered::new(&data[..]), 16, pool.clone());
    let mut big = [0u8; 16];
    assert_eq!(r.read(&mut big).unwrap(), 16);
    assert_eq!(&big[..], &data[..16]);
    assert_eq!((pool_gets(&pool), r.buffered()), (0, 0), "straight in");
    let mut small = [0u8; 5];
    assert_eq!(r.read(&mut small).unwrap(), 5);
    assert_eq!(&small[..], &data[16..21]);
    assert_eq!(pool_gets(&pool), 1, "one pooled buffer");
    assert_eq!(r.buffered(), 11, "the rest of that buffer's 16 bytes");
    assert_eq!(pool.stats().in_use(), 1);
    let mut rest = [0u8; 11];
    r.read_exact(&mut rest).unwrap();
    assert_eq!(&rest[..], &data[21..32]);
    assert_eq!((r.buffered(), pool.stats().in_use()), (0, 0));
}
