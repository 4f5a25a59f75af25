//! Releasing the AEAD key schedules of a quiet connection (its own test binary, for its
//! counting global allocator): the memory really goes, and records sealed or opened after a
//! release are the same as without one, on both protocols and backends, across a rekey.

use slackwater_alts::{Backend, Counter, Crypter, Protocol, Side, key_schedules};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;
// Live heap bytes, counted per thread so the harness's other threads cannot disturb a test.
std::thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn add(n: isize) {
    let _ = LIVE.try_with(|c| c.set(c.get() + n));
}

fn live() -> isize {
    LIVE.with(Cell::get)
}

// SAFETY: forwards to the system allocator, only counting bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        add(-(l.size() as isize));
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Counting = Counting;

fn key(p: Protocol) -> Vec<u8> {
    (0..p.key_len() as u8).map(|i| i.wrapping_mul(13)).collect()
}

fn pair(p: Protocol, b: Backend) -> (Crypter, Crypter) {
    let k = key(p);
    (
        Crypter::new(p, Side::Client, &k, b).unwrap(),
        Crypter::new(p, Side::Server, &k, b).unwrap(),
    )
}

/// The tests here count process-wide key schedules: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn release_frees_both_schedules_and_use_rebuilds_them() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for p in [Protocol::Aes128Gcm, Protocol::Aes128GcmRekey] {
        let (mut c, mut s) = pair(p, Backend::AesGcm);
        let mut rec = *b"warm up both directions";
        let tag = c.seal(&mut rec).unwrap();
        s.open(&mut rec, &tag).unwrap();
        let tag = s.seal(&mut rec).unwrap();
        c.open(&mut rec, &tag).unwrap();

        let before = live();
        let k0 = key_schedules();
        assert_eq!(k0.live, 4, "{p:?}: two directions on each end");
        c.release_key_schedules();
        // Both schedules leave the slab; none of them was on the general heap.
        assert_eq!(key_schedules().live, 2, "{p:?}");
        assert_eq!(before - live(), 0, "{p:?}: schedules are not heap blocks");
        c.release_key_schedules(); // idempotent
        assert_eq!(key_schedules().live, 2);
        s.release_key_schedules();
        // No schedule left: every slab page is given back.
        assert_eq!(
            (key_schedules().live, key_schedules().resident_bytes()),
            (0, 0)
        );

        let mut rec = *b"after the release";
        let tag = c.seal(&mut rec).unwrap();
        s.open(&mut rec, &tag).unwrap();
        assert_eq!(&rec, b"after the release");
        let tag = s.seal(&mut rec).unwrap();
        c.open(&mut rec, &tag).unwrap();
        assert_eq!(&rec, b"after the release");
        // Both schedules are back on both ends, no more, and still no heap.
        assert_eq!(key_schedules().live, 4, "{p:?}");
        assert_eq!(before - live(), 0, "{p:?}");
    }
}

/// Seals `n` records on a crypter that releases its schedules before every record (and one
/// that never does), from counters just below the rekey boundary: identical wire bytes.
#[test]
fn records_are_identical_with_and_without_releases_across_a_rekey() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let backends: &[Backend] = &[
        Backend::AesGcm,
        #[cfg(feature = "ring")]
        Backend::Ring,
    ];
    for &b in backends {
        for p in [Protocol::Aes128Gcm, Protocol::Aes128GcmRekey] {
            let (mut plain, _) = pair(p, b);
            let (mut released, mut peer) = pair(p, b);
            // Start three records before the low 2^16 boundary the rekey KDF derives on.
            let start = (1u128 << 16) - 3;
            let ctr = |side| Counter::from_value(counter_bytes(start, side), p.overflow_len());
            plain.set_counters(ctr(Side::Client), ctr(Side::Server));
            released.set_counters(ctr(Side::Client), ctr(Side::Server));
            peer.set_counters(ctr(Side::Server), ctr(Side::Client));
            for i in 0..6u8 {
                let mut a = [i; 40];
                let mut r = [i; 40];
                released.release_key_schedules();
                let ta = plain.seal(&mut a).unwrap();
                let tr = released.seal(&mut r).unwrap();
                assert_eq!((a, ta), (r, tr), "{p:?} {b:?} record {i}");
                peer.release_key_schedules();
                peer.open(&mut r, &tr).unwrap();
                assert_eq!(r, [i; 40]);
            }
        }
    }
}

/// The 12-byte little-endian counter value `v`, with the server bit set for server records.
fn counter_bytes(v: u128, side: Side) -> [u8; 12] {
    let mut b = [0u8; 12];
    b.copy_from_slice(&v.to_le_bytes()[..12]);
    if side == Side::Server {
        b[11] |= 0x80;
    }
    b
}
