//! Seal and open throughput of 1 KiB, 16 KiB and 1 MiB records through `Conn` (over an
//! in-memory transport) against the raw AEADs on the same buffers, in the same run; and heap
//! allocations per record in steady state (counting allocator).
//!
//! Every contender does the copy a reader or writer must do anyway: the raw open copies the
//! record's ciphertext into a working buffer and decrypts it in place (as bytes arriving from
//! a socket land in a buffer); the raw seal copies the plaintext into a buffer and encrypts it
//! in place. `Conn` adds framing, counters, the pool and its buffer management.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use slackwater_alts::{Backend, Conn, Counter, Crypter, Protocol, RecordAead, Side};
use slackwater_ready::{Buf, Pool, ReadyRead};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

const KEY: [u8; 16] = [0x5c; 16];
const SIZES: [(usize, &str); 3] = [
    (1024, "1KiB"),
    (16 * 1024, "16KiB"),
    ((1 << 20) - 20, "1MiB"),
];

/// A transport replaying bytes from memory, at most `size` per read (a copy, as from a socket).
struct Replay {
    data: Vec<u8>,
    pos: usize,
}

impl ReadyRead for Replay {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        if self.pos == self.data.len() {
            return Ok(None);
        }
        let n = size.max(1).min(self.data.len() - self.pos);
        let mut b = pool.get(n)?;
        let _ = b.extend_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(Some(b))
    }
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read_ready(size, pool)
    }
    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        let n = max
            .min(buf.spare_capacity())
            .min(self.data.len() - self.pos);
        let _ = buf.extend_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append_ready(buf, max)
    }
}

/// `n` records of `payload` bytes sealed by a client, as one byte stream.
fn stream(backend: Backend, payload: usize, n: usize) -> Vec<u8> {
    let mut c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &KEY, backend).unwrap();
    let mut out = Vec::with_capacity(n * (payload + 24));
    for _ in 0..n {
        let len = (payload + 20) as u32;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&6u32.to_le_bytes());
        let start = out.len();
        out.resize(start + payload, 0xab);
        let tag = c.seal(&mut out[start..]).unwrap();
        out.extend_from_slice(&tag);
    }
    out
}

fn records_per_batch(payload: usize) -> usize {
    (8 << 20) / (payload + 24) + 1
}

fn open(c: &mut Criterion) {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let mut g = c.benchmark_group("open");
    for &backend in Backend::available() {
        for (payload, name) in SIZES {
            g.throughput(Throughput::Bytes(payload as u64));
            let batch = records_per_batch(payload);
            let data = stream(backend, payload, batch);
            g.bench_with_input(
                BenchmarkId::new(format!("conn-{backend:?}"), name),
                &payload,
                |b, _| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        let mut left = iters as usize;
                        while left > 0 {
                            let n = left.min(batch);
                            let crypter =
                                Crypter::new(Protocol::Aes128Gcm, Side::Server, &KEY, backend)
                                    .unwrap();
                            let bytes = data[..n * (payload + 24)].to_vec();
                            let mut conn = Conn::new(
                                Replay {
                                    data: bytes,
                                    pos: 0,
                                },
                                crypter,
                            )
                            .with_pool(pool.clone());
                            let t = Instant::now();
                            let mut got = 0;
                            while got < n * payload {
                                let p = conn.read_ready(payload, &pool).unwrap().unwrap();
                                got += p.len();
                                black_box(&p[..]);
                            }
                            total += t.elapsed();
                            left -= n;
                        }
                        total
                    })
                },
            );
            // Raw: copy each record's ciphertext into one working buffer, decrypt in place.
            g.bench_with_input(
                BenchmarkId::new(format!("raw-{backend:?}"), name),
                &payload,
                |b, _| {
                    let mut work = vec![0u8; payload];
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        let mut left = iters as usize;
                        while left > 0 {
                            let n = left.min(batch);
                            let mut aead =
                                RecordAead::new(Protocol::Aes128Gcm, &KEY, backend).unwrap();
                            let mut ctr = Counter::new(Side::Client, 5);
                            let t = Instant::now();
                            for i in 0..n {
                                let at = i * (payload + 24) + 8;
                                work.copy_from_slice(&data[at..at + payload]);
                                let tag: [u8; 16] =
                                    data[at + payload..at + payload + 16].try_into().unwrap();
                                aead.open(&ctr.value().unwrap(), b"", &mut work, &tag)
                                    .unwrap();
                                ctr.increment();
                                black_box(&work);
                            }
                            total += t.elapsed();
                            left -= n;
                        }
                        total
                    })
                },
            );
        }
    }
    g.finish();
}

fn seal(c: &mut Criterion) {
    let pool = slackwater_alts::PoolHandle::from(Pool::new());
    let mut g = c.benchmark_group("seal");
    for &backend in Backend::available() {
        for (payload, name) in SIZES {
            g.throughput(Throughput::Bytes(payload as u64));
            let plain = vec![0x11u8; payload];
            let frame = (payload + 24).clamp(4096, 512 * 1024);
            g.bench_with_input(
                BenchmarkId::new(format!("conn-{backend:?}"), name),
                &payload,
                |b, _| {
                    let crypter =
                        Crypter::new(Protocol::Aes128Gcm, Side::Client, &KEY, backend).unwrap();
                    let mut conn = Conn::new(std::io::sink(), crypter).with_pool(pool.clone());
                    conn = conn.with_config(
                        slackwater_alts::Config::builder()
                            .frame_size(frame)
                            .build()
                            .unwrap(),
                    );
                    let mut out = pool.get(payload + 2 * 24).unwrap();
                    b.iter(|| {
                        out.clear();
                        let n = conn.seal_into(&plain, &mut out).unwrap();
                        black_box((n, &out[..]));
                    })
                },
            );
            g.bench_with_input(
                BenchmarkId::new(format!("raw-{backend:?}"), name),
                &payload,
                |b, _| {
                    let mut aead = RecordAead::new(Protocol::Aes128Gcm, &KEY, backend).unwrap();
                    let mut ctr = Counter::new(Side::Client, 8);
                    let mut work = vec![0u8; payload];
                    b.iter(|| {
                        work.copy_from_slice(&plain);
                        let tag = aead.seal(&ctr.value().unwrap(), b"", &mut work).unwrap();
                        ctr.increment();
                        black_box((&work, tag));
                    })
                },
            );
        }
    }
    g.finish();
}

/// What `release_key_schedules` costs a connection that wakes up: one 64-byte record sealed
/// with the schedules kept, against one sealed right after they were released (rebuilt from
/// the key for ALTSRP_GCM_AES128; one HMAC-SHA256 more for the rekey protocol).
fn rebuild(c: &mut Criterion) {
    let mut g = c.benchmark_group("wake-up");
    let plain = [0x22u8; 64];
    for &backend in Backend::available() {
        for (protocol, key) in [
            (Protocol::Aes128Gcm, &KEY[..]),
            (Protocol::Aes128GcmRekey, &[7u8; 44][..]),
        ] {
            for release in [false, true] {
                let name = format!(
                    "{backend:?}-{protocol:?}-{}",
                    if release { "released" } else { "kept" }
                );
                g.bench_function(name, |b| {
                    let mut crypter = Crypter::new(protocol, Side::Client, key, backend).unwrap();
                    let mut work = plain;
                    b.iter(|| {
                        if release {
                            crypter.release_key_schedules();
                        }
                        work = plain;
                        black_box(crypter.seal(&mut work).unwrap());
                    })
                });
            }
        }
    }
    g.finish();
}

/// Heap allocations per record in steady state (after a warm-up that fills the pool).
fn allocations(_: &mut Criterion) {
    let default_pool = slackwater_alts::PoolHandle::from(Pool::new());
    // A maximal record (len = 1 MiB) needs 1 MiB + 4 bytes: above the default 1 MiB class.
    let big_pool = slackwater_alts::PoolHandle::from(Pool::with_config(
        slackwater_ready::pool::Config::builder()
            .class(4096, 64)
            .class(32 * 1024, 64)
            .class((1 << 20) + 64, 4)
            .build()
            .unwrap(),
    ));
    for (pool, pool_name) in [
        (&default_pool, "default pool"),
        (&big_pool, "pool with a 1 MiB + 64 class"),
    ] {
        for &backend in Backend::available() {
            for (payload, name) in SIZES {
                let n = 64;
                let data = stream(backend, payload, 2 * n);
                let crypter =
                    Crypter::new(Protocol::Aes128Gcm, Side::Server, &KEY, backend).unwrap();
                let mut conn = Conn::new(Replay { data, pos: 0 }, crypter).with_pool(pool.clone());
                let mut read = |k: usize| {
                    let mut got = 0;
                    while got < k * payload {
                        got += conn.read_ready(payload, pool).unwrap().unwrap().len();
                    }
                };
                read(n);
                let before = ALLOCS.load(Ordering::Relaxed);
                read(n);
                let opens = ALLOCS.load(Ordering::Relaxed) - before;

                let crypter =
                    Crypter::new(Protocol::Aes128Gcm, Side::Client, &KEY, backend).unwrap();
                let cfg = slackwater_alts::Config::builder()
                    .frame_size((payload + 24).clamp(4096, 512 * 1024))
                    .build()
                    .unwrap();
                let mut w = Conn::new(std::io::sink(), crypter)
                    .with_pool(pool.clone())
                    .with_config(cfg);
                let plain = vec![1u8; payload];
                let mut out = pool.get(payload + 48).unwrap();
                let before = ALLOCS.load(Ordering::Relaxed);
                for _ in 0..n {
                    out.clear();
                    w.seal_into(&plain, &mut out).unwrap();
                }
                let seals = ALLOCS.load(Ordering::Relaxed) - before;
                println!(
                    "allocations per record, {backend:?} {name} ({pool_name}): open {:.2}, seal {:.2}",
                    opens as f64 / n as f64,
                    seals as f64 / n as f64
                );
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = allocations, open, seal, rebuild
}
criterion_main!(benches);
