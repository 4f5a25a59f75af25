//! Loopback TCP read throughput in 16 KiB reads: `read_ready` into pooled buffers against a
//! plain blocking `read` into one long-lived `Vec`, in the same run.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use slackwater_ready::{ReadyFd, ReadyRead, global};
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const READ: usize = 16 * 1024;

/// A loopback connection whose peer writes as fast as it can until the reader closes.
fn flood() -> (TcpStream, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let writer = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let chunk = vec![0x5au8; 64 * 1024];
        while s.write_all(&chunk).is_ok() {}
    });
    (TcpStream::connect(addr).unwrap(), writer)
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("loopback_16k_reads");
    g.throughput(Throughput::Bytes(READ as u64));

    let (s, writer) = flood();
    let mut plain = s;
    let mut vec = vec![0u8; READ];
    g.bench_function("plain-read-into-vec", |b| {
        b.iter_custom(|iters| {
            let want = iters as usize * READ;
            let t = Instant::now();
            let mut got = 0;
            while got < want {
                got += plain.read(&mut vec).unwrap();
            }
            black_box(&vec);
            t.elapsed()
        })
    });
    drop(plain);
    writer.join().unwrap();

    let (s, writer) = flood();
    let mut ready = ReadyFd::new(s).unwrap();
    g.bench_function("read_ready-pooled", |b| {
        b.iter_custom(|iters| {
            let want = iters as usize * READ;
            let t = Instant::now();
            let mut got = 0;
            while got < want {
                let buf = ready.read_ready(READ, global()).unwrap().unwrap();
                got += buf.len();
                black_box(&buf[..]);
            }
            t.elapsed()
        })
    });
    drop(ready);
    writer.join().unwrap();
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = throughput
}
criterion_main!(benches);
