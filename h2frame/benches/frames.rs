//! Frame reading throughput against the `h2` crate's codec and a bare `BufReader` framing
//! loop, on the same bytes in the same run, plus heap allocations per frame (a counting
//! global allocator).
//!
//! Streams: (a) mixed small control frames (PING, WINDOW_UPDATE, SETTINGS, RST_STREAM,
//! PRIORITY, a small HEADERS, a 32-byte DATA); (b) 16 KiB DATA frames. Every reader gets the
//! bytes from memory through its own transport interface (`ReadyRead` for slackwater, tokio
//! `AsyncRead` for h2, `io::Read` for the bare loop), so each pays one copy out of the source.
//!
//! The write side (`*-write`): the same frames encoded by `FrameWriter` into a warm `Vec<u8>`
//! (its `ReadyWrite`), with allocations per frame.
//!
//! `cargo bench -p slackwater-h2frame --bench frames`

mod common;

use common::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_core::Stream;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// (The streams, the slackwater and bare readers and the writer's pass are in `common`: the
// example behind `tools/callgrind_frames.sh` runs the same ones.)

// ---------------------------------------------------------------- h2

struct AsyncMem<'a> {
    data: &'a [u8],
}

impl tokio::io::AsyncRead for AsyncMem<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = buf.remaining().min(self.data.len());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for AsyncMem<'_> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn h2_pass(bytes: &[u8]) -> usize {
    let mut codec: h2::Codec<AsyncMem<'_>, bytes::Bytes> = h2::Codec::new(AsyncMem { data: bytes });
    let mut cx = Context::from_waker(Waker::noop());
    let mut n = 0;
    loop {
        match Pin::new(&mut codec).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(f))) => {
                black_box(&f);
                n += 1;
            }
            Poll::Ready(Some(Err(e))) => panic!("h2: {e:?}"),
            Poll::Ready(None) => return n,
            Poll::Pending => panic!("h2: pending on an in-memory source"),
        }
    }
}

// ---------------------------------------------------------------- driver

fn allocs_per_frame(name: &str, f: fn(&[u8]) -> usize, bytes: &[u8]) -> f64 {
    f(bytes); // warm the pool and caches
    let before = ALLOCS.load(Ordering::Relaxed);
    let frames = f(bytes);
    let a = ALLOCS.load(Ordering::Relaxed) - before;
    let per = a as f64 / frames as f64;
    println!("{name}: {a} allocations for {frames} frames = {per:.3} per frame");
    per
}

fn bench(c: &mut Criterion) {
    let streams = [
        ("control", control_stream(1000)),
        ("data16k", data_stream(512)),
    ];
    for (name, (bytes, frames)) in &streams {
        let decoded = decode_all(bytes);
        let mut out = Vec::with_capacity(bytes.len());
        write_pass(&decoded, &mut out);
        assert_eq!(&out, bytes);
        let before = ALLOCS.load(Ordering::Relaxed);
        write_pass(&decoded, &mut out);
        let a = ALLOCS.load(Ordering::Relaxed) - before;
        println!(
            "{name}/write: {a} allocations for {} frames = {:.3} per frame",
            decoded.len(),
            a as f64 / decoded.len() as f64,
        );
        let mut g = c.benchmark_group(format!("{name}-write"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("slackwater", |b| b.iter(|| write_pass(&decoded, &mut out)));
        g.finish();

        assert_eq!(slackwater_pass(bytes), *frames);
        assert_eq!(h2_pass(bytes), *frames);
        assert_eq!(bare_pass(bytes), *frames);
        println!("stream {name}: {frames} frames, {} bytes", bytes.len());
        allocs_per_frame(&format!("{name}/slackwater"), slackwater_pass, bytes);
        allocs_per_frame(&format!("{name}/h2"), h2_pass, bytes);
        allocs_per_frame(&format!("{name}/bare"), bare_pass, bytes);

        for (unit, tp) in [
            ("frames", Throughput::Elements(*frames as u64)),
            ("bytes", Throughput::Bytes(bytes.len() as u64)),
        ] {
            let mut g = c.benchmark_group(format!("{name}-{unit}"));
            g.throughput(tp);
            g.bench_function("slackwater", |b| b.iter(|| slackwater_pass(bytes)));
            g.bench_function("h2", |b| b.iter(|| h2_pass(bytes)));
            g.bench_function("bare_bufreader", |b| b.iter(|| bare_pass(bytes)));
            g.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
