//! "All key material is zeroized on drop", tested: a global allocator scans every block freed
//! while a test runs for the key bytes (the raw keys, the KDF key, the nonce mask, and the
//! record keys the rekey KDF derives). Connections live in `Box`es so their own state is a
//! heap block that gets scanned when dropped. Expanded key schedules are not heap blocks:
//! they live in the key-schedule slab, whose slots are zeroized when freed
//! (`slab::tests::a_freed_slot_is_zeroized`, a unit test in `src/slab.rs`).
//!
//! Backend: `aes-gcm` (its `zeroize` feature scrubs the key schedule); `ring` keeps its own
//! schedule and does not scrub it (documented in the crate docs), so it is not tested here.

use sha2::{Digest, Sha256};
use slackwater_alts::{Backend, Conn, Crypter, Protocol, Side};
use slackwater_ready::{Buffered, ReadyRead, ReadyWrite, global};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Up to 8 secrets of 16 bytes (longer ones are split into 16-byte pieces).
static SECRETS: Mutex<Vec<[u8; 16]>> = Mutex::new(Vec::new());
static SCAN: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);
static SCANNED: AtomicUsize = AtomicUsize::new(0);
/// A copy of the secrets the allocator can read without locking (set before scanning).
static mut TABLE: [[u8; 16]; 8] = [[0; 16]; 8];
static TABLE_LEN: AtomicUsize = AtomicUsize::new(0);

struct Scanner;

// SAFETY: forwards to the system allocator; `dealloc` only reads the block being freed
// (still owned by the caller until `System.dealloc` returns) and the secret table, which is
// written only while scanning is off.
unsafe impl GlobalAlloc for Scanner {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if SCAN.load(Ordering::Acquire) && layout.size() >= 12 {
            // SAFETY: `ptr` is a live block of `layout.size()` bytes until freed below.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            let n = TABLE_LEN.load(Ordering::Acquire);
            // SAFETY: the table is not written while SCAN is on.
            let table = unsafe { &*std::ptr::addr_of!(TABLE) };
            SCANNED.fetch_add(1, Ordering::Relaxed);
            for s in &table[..n] {
                // 12 bytes of a secret are enough to call it found (and catch the 12-byte mask).
                if block.windows(12).any(|w| w == &s[..12]) {
                    FOUND.fetch_add(1, Ordering::Relaxed);
                    if std::env::var_os("ZDEBUG").is_some() {
                        let i = table.iter().position(|t| t == s).unwrap_or(99);
                        let bt = std::backtrace::Backtrace::force_capture();
                        SCAN.store(false, Ordering::Release);
                        let off = block.windows(12).position(|w| w == &s[..12]).unwrap_or(0);
                        eprintln!(
                            "secret {i} in a freed block of {} bytes at offset {off}: {:02x?}\n{bt}",
                            layout.size(),
                            block
                        );
                        SCAN.store(true, Ordering::Release);
                    }
                }
            }
        }
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static A: Scanner = Scanner;

/// The tests share the allocator's state: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn arm(secrets: &[&[u8]]) {
    let mut v = SECRETS.lock().unwrap();
    v.clear();
    for s in secrets {
        for piece in s.chunks(16) {
            let mut p = [0u8; 16];
            p[..piece.len()].copy_from_slice(piece);
            // A short piece (the 12-byte mask) is matched on its first 12 bytes.
            assert!(piece.len() >= 12, "secret pieces are at least 12 bytes");
            v.push(p);
        }
    }
    assert!(v.len() <= 8);
    // SAFETY: scanning is off (`SCAN` false) while the table is written.
    unsafe {
        let t = &mut *std::ptr::addr_of_mut!(TABLE);
        t[..v.len()].copy_from_slice(&v);
    }
    TABLE_LEN.store(v.len(), Ordering::Release);
    FOUND.store(0, Ordering::Relaxed);
    SCANNED.store(0, Ordering::Relaxed);
    SCAN.store(true, Ordering::Release);
}

fn disarm() -> (usize, usize) {
    SCAN.store(false, Ordering::Release);
    (
        FOUND.load(Ordering::Relaxed),
        SCANNED.load(Ordering::Relaxed),
    )
}

/// A key with no repeated 12-byte window, so a match means the key.
fn key(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(151).wrapping_add(seed) ^ 0xa5)
        .collect()
}

/// The record key the rekey KDF derives for counter bytes `id`:
/// HMAC-SHA256(kdf_key, id ‖ 0x01)[..16], computed independently here.
fn record_key(kdf_key: &[u8], id: [u8; 6]) -> [u8; 16] {
    let mut k = [0u8; 64];
    k[..32].copy_from_slice(kdf_key);
    let pad = |x: u8| k.iter().map(|b| b ^ x).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(id)
        .chain_update([1u8])
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer[..16].try_into().unwrap()
}

/// Zeroes stack below the caller: `record_key`'s frames, which held the derived key (in
/// an optimized build, a `Box::new(Conn::new(..))` later copies uninitialized stack bytes into
/// its heap block).
#[inline(never)]
fn scrub_stack() {
    let mut area = [0u64; 1024];
    zeroize::Zeroize::zeroize(&mut area);
}

/// Seals and opens records over a `Box`ed pair of connections (both directions, a key
/// schedule released and rebuilt), then drops everything while the scanner watches.
fn exercise(p: Protocol, k: &[u8]) {
    let mk = |side| Crypter::new(p, side, k, Backend::AesGcm).unwrap();
    let mut w = Box::new(Conn::new(Vec::new(), mk(Side::Client)));
    for i in 0..3u8 {
        w.queue(&[i; 100]).unwrap();
        w.flush_ready().unwrap();
        w.release_key_schedules();
    }
    let wire = std::mem::take(w.get_mut());
    let mut r = Box::new(Conn::new(Buffered::new(&wire[..]), mk(Side::Server)));
    let mut got = 0;
    while let Some(b) = r.read_ready(4096, global()).unwrap() {
        got += b.len();
        r.release_key_schedules();
    }
    assert_eq!(got, 300);
    drop(w);
    drop(r);
}

#[test]
fn no_freed_block_holds_key_material_aes128gcm() {
    let _g = SERIAL.lock().unwrap();
    let k = key(16, 1);
    arm(&[&k]);
    exercise(Protocol::Aes128Gcm, &k);
    let (found, scanned) = disarm();
    assert!(scanned > 0, "the scanner saw the freed blocks");
    assert_eq!(found, 0, "a freed block held key bytes");
}

#[test]
fn no_freed_block_holds_key_material_rekey() {
    let _g = SERIAL.lock().unwrap();
    let k = key(44, 7);
    // The client-out and server-in counters start at zero: records 0..3 use id 0.
    let derived = record_key(&k[..32], [0; 6]);
    scrub_stack();
    arm(&[&k[..32], &k[32..44], &derived]);
    exercise(Protocol::Aes128GcmRekey, &k);
    let (found, scanned) = disarm();
    assert!(scanned > 0, "the scanner saw the freed blocks");
    assert_eq!(found, 0, "a freed block held key bytes");
}

/// The scanner works: a block freed with a secret in it is found (so the zero counts above
/// mean something).
#[test]
fn the_scanner_finds_an_unscrubbed_key() {
    let _g = SERIAL.lock().unwrap();
    let k = key(44, 9);
    let derived = record_key(&k[..32], [0; 6]);
    arm(&[&derived]);
    // `black_box`: an optimized build would otherwise leave out these allocations entirely.
    let leaked = std::hint::black_box(Box::new(derived));
    drop(leaked);
    let plain = std::hint::black_box(Box::new(k[..32].to_vec()));
    drop(plain);
    let (found, _) = disarm();
    assert_eq!(found, 1, "the freed copy of the derived key was found");
}

/// A connection moved into a `Box` (a move copies the struct's padding too): no key byte may
/// ride along. Found by the scanner: `RecordAead::new` used to build the nonce mask in a
/// stack local, whose stale copy ended up in the padding of a `Conn` and so in the heap
/// block; key bytes now live in a heap block of their own that is never moved.
#[test]
fn a_moved_conn_carries_no_stale_key_bytes() {
    let _g = SERIAL.lock().unwrap();
    let k = key(44, 7);
    for write in [false, true] {
        arm(&[&k[..32], &k[32..44]]);
        let crypter = Crypter::new(Protocol::Aes128GcmRekey, Side::Client, &k, Backend::AesGcm);
        let mut c = Box::new(Conn::new(Vec::<u8>::new(), crypter.unwrap()));
        if write {
            c.queue(b"x").unwrap();
            c.flush_ready().unwrap();
        }
        drop(c);
        let (found, scanned) = disarm();
        assert!(scanned > 0);
        assert_eq!(
            found, 0,
            "a freed block held key bytes (after a write: {write})"
        );
    }
}
