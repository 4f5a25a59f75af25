//! The HTTP/2-over-ALTS write path, measured: user-space bytes copied per DATA byte and heap
//! allocations per frame, for round 2's path (`FrameWriter` encodes straight into the ALTS
//! `Conn`, which seals records in place in the socket's write queue) and for round 1's
//! (frames encoded into a buffer of their own, then copied into a record buffer by
//! `Conn::seal_into`: the demo's old `Sealer`), in the same run over a socketpair whose peer
//! drains.
//!
//! `bash tools/copies.sh` builds the `memcpy` counting shim (`tools/memcpy_count.c`) and runs
//! this under it; run alone, copies are reported as not measured. Allocations are counted by
//! this program's own global allocator.

use slackwater_alts::{Backend, Config, Conn, Crypter, Protocol, Side};
use slackwater_h2frame::FrameWriter;
use slackwater_ready::{ReadyFd, ReadyWrite, global};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static COUNT: AtomicBool = AtomicBool::new(false);

// SAFETY: forwards to the system allocator; counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNT.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
        }
        // SAFETY: forwarded.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNT.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
        }
        // SAFETY: forwarded.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// The shim's switch and counter, if the shim is loaded.
struct Shim {
    on: extern "C" fn(i32),
    bytes: extern "C" fn() -> u64,
}

fn shim() -> Option<Shim> {
    // SAFETY: looking up symbols by NUL-terminated name; their types are the shim's.
    unsafe {
        let on = libc::dlsym(libc::RTLD_DEFAULT, c"count_copies".as_ptr());
        let bytes = libc::dlsym(libc::RTLD_DEFAULT, c"copies_bytes".as_ptr());
        if on.is_null() || bytes.is_null() {
            return None;
        }
        Some(Shim {
            on: std::mem::transmute::<*mut libc::c_void, extern "C" fn(i32)>(on),
            bytes: std::mem::transmute::<*mut libc::c_void, extern "C" fn() -> u64>(bytes),
        })
    }
}

const FRAME: usize = 16 * 1024;
const WARMUP: usize = 256;
const FRAMES: usize = 8192;
/// Output is flushed once this much is queued (the demo's FLUSH_AT).
const FLUSH_AT: usize = 32 * 1024;

type Alts = Conn<ReadyFd<UnixStream>>;

fn conn() -> (Alts, std::thread::JoinHandle<u64>) {
    let (a, mut b) = UnixStream::pair().unwrap();
    let drain = std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        loop {
            match b.read(&mut buf) {
                Ok(0) | Err(_) => return n,
                Ok(k) => n += k as u64,
            }
        }
    });
    let key = [9u8; 44];
    let c = Crypter::new(
        Protocol::Aes128GcmRekey,
        Side::Server,
        &key,
        Backend::default(),
    );
    let cfg = Config::builder().frame_size(16 * 1024).build().unwrap();
    let conn = Conn::new(ReadyFd::new(a).unwrap(), c.unwrap()).with_config(cfg);
    (conn, drain)
}

/// Round 2: encode straight into the ALTS layer.
fn new_path(c: &mut Alts, w: &FrameWriter, data: &[u8]) {
    w.write_data(c, 1, false, data).unwrap();
    if c.queued() >= FLUSH_AT {
        c.flush_ready().unwrap();
    }
}

/// Round 1: a frame buffer of its own, then `seal_into` a record buffer.
fn old_path(c: &mut Alts, w: &FrameWriter, data: &[u8]) {
    let mut frame = global().get(FRAME + 9).unwrap();
    // The header, as round 1's FrameWriter encoded it, then the payload: copy 1.
    let mut hdr = [0u8; 9];
    hdr[..3].copy_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
    hdr[8] = 1;
    frame.extend_from_slice(&hdr).unwrap();
    frame.extend_from_slice(data).unwrap();
    let _ = w;
    // Sealed into a record buffer: copy 2.
    let mut done = 0;
    while done < frame.len() {
        let mut rec = global().get(2 * 16 * 1024).unwrap();
        done += c.seal_into(&frame[done..], &mut rec).unwrap();
        c.get_mut().queue_buf(rec).unwrap();
    }
    if c.get_ref().queued() >= FLUSH_AT {
        c.get_mut().flush_ready().unwrap();
    }
}

fn run(name: &str, f: fn(&mut Alts, &FrameWriter, &[u8]), shim: &Option<Shim>) {
    let (mut c, drain) = conn();
    let w = FrameWriter::new();
    let data = vec![0x5au8; FRAME];
    for _ in 0..WARMUP {
        f(&mut c, &w, &data);
    }
    c.flush_ready().unwrap();
    ALLOCS.store(0, Relaxed);
    COUNT.store(true, Relaxed);
    let before = shim.as_ref().map(|s| (s.bytes)());
    if let Some(s) = shim {
        (s.on)(1);
    }
    let t = Instant::now();
    for _ in 0..FRAMES {
        f(&mut c, &w, &data);
    }
    c.flush_ready().unwrap();
    let secs = t.elapsed().as_secs_f64();
    if let Some(s) = shim {
        (s.on)(0);
    }
    COUNT.store(false, Relaxed);
    let allocs = ALLOCS.load(Relaxed);
    let copied = shim.as_ref().map(|s| (s.bytes)() - before.unwrap_or(0));
    drop(c);
    drain.join().unwrap();
    let data_bytes = (FRAMES * FRAME) as f64;
    let copies = match copied {
        Some(b) => format!("{:.3}", b as f64 / data_bytes),
        None => "not measured (run tools/copies.sh)".into(),
    };
    println!(
        "{name:<28} copies per DATA byte: {copies:<8} allocations per frame: {:.4}  throughput: {:.0} MB/s",
        allocs as f64 / FRAMES as f64,
        data_bytes / secs / 1e6
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let shim = shim();
    println!(
        "HTTP/2 DATA over ALTS (rekey, 16 KiB records), {FRAMES} frames of {FRAME} B after {WARMUP} warm-up, flush every {FLUSH_AT} B, peer draining a socketpair"
    );
    run("round 2 (into the Conn)", new_path, &shim);
    run("round 1 (frame, then seal)", old_path, &shim);
}
