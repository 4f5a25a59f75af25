//! The `bytes` feature: `Buf: bytes::BufMut`, `SharedBuf: bytes::Buf`, and `Bytes` from a
//! `SharedBuf` or a `Buf` without a copy, the buffer going back to its pool when the last
//! `Bytes` clone drops. Real pooled buffers throughout; also run under Miri (strict
//! provenance) by `.ci/package`'s caller:
//! `cargo +nightly miri test -p slackwater-pool --features bytes --test bytes`.
#![cfg(feature = "bytes")]

use bytes::{Buf as _, BufMut, Bytes};
use slackwater_pool::{Config, Pool};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread;

fn pool() -> Pool {
    Pool::with_config(Config::builder().class(64, 4).build().unwrap())
}

#[test]
fn shared_buf_into_bytes_is_the_same_memory_and_returns_after_the_last_clone() {
    let pool = pool();
    let mut b = pool.get(64).unwrap();
    b.extend_from_slice(b"0123456789abcdef").unwrap();
    let base = b.as_ptr();
    let mut shared = b.freeze();
    shared.advance(2); // a view that does not start at the buffer's first byte
    let at = shared.as_ptr();
    assert_eq!(at, base.wrapping_add(2));

    let bytes = Bytes::from(shared);
    assert_eq!(
        bytes.as_ptr(),
        at,
        "no copy: the Bytes points into the pooled buffer"
    );
    assert_eq!(&bytes[..], b"23456789abcdef");
    assert_eq!(pool.stats().in_use(), 1);

    let clones: Vec<Bytes> = (0..3).map(|i| bytes.slice(i..i + 4)).collect();
    for (i, c) in clones.iter().enumerate() {
        assert_eq!(c.as_ptr(), at.wrapping_add(i));
    }
    drop(bytes);
    assert_eq!(pool.stats().in_use(), 1, "clones still hold the buffer");
    // The clones drop on other threads; the last one returns the buffer.
    let (last, others) = clones.split_last().unwrap();
    let last = last.clone();
    let handles: Vec<_> = others
        .iter()
        .cloned()
        .map(|c| thread::spawn(move || drop(c)))
        .collect();
    drop(clones);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(pool.stats().in_use(), 1, "one clone is left");
    thread::spawn(move || drop(last)).join().unwrap();
    let s = pool.stats();
    assert_eq!(
        (s.in_use(), s.idle()),
        (0, 1),
        "returned once, after the last clone"
    );
}

#[test]
fn bytes_from_a_view_shares_the_buffer_with_other_views() {
    let pool = pool();
    let mut b = pool.get(64).unwrap();
    b.extend_from_slice(b"head:body").unwrap();
    let all = b.freeze();
    let body = all.slice(5..).unwrap();
    let bytes = Bytes::from(all.slice(..4).unwrap());
    drop(all);
    assert_eq!(&bytes[..], b"head");
    drop(bytes);
    assert_eq!(pool.stats().in_use(), 1, "the other view keeps the buffer");
    assert_eq!(&body[..], b"body");
    drop(body);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn buf_into_bytes_is_the_same_memory_and_returns_after_the_last_clone() {
    let pool = pool();
    let mut b = pool.get(64).unwrap();
    b.extend_from_slice(b"xxpayload").unwrap();
    b.advance(2);
    let at = b.as_ptr();
    let bytes = Bytes::from(b);
    assert_eq!((bytes.as_ptr(), &bytes[..]), (at, &b"payload"[..]));
    let clone = bytes.clone();
    drop(bytes);
    assert_eq!(pool.stats().in_use(), 1);
    drop(clone);
    assert_eq!(pool.stats().in_use(), 0);
    // And through freeze: the same pointer again.
    let mut b = pool.get(64).unwrap();
    b.extend_from_slice(b"abc").unwrap();
    let at = b.as_ptr();
    let bytes = Bytes::from(b.freeze());
    assert_eq!(bytes.as_ptr(), at);
    drop(bytes);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn an_empty_view_still_returns_its_buffer() {
    let pool = pool();
    let bytes = Bytes::from(pool.get(1).unwrap().freeze());
    assert!(bytes.is_empty());
    assert_eq!(pool.stats().in_use(), 1);
    drop(bytes);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn buf_mut_writes_into_the_spare_capacity() {
    let pool = pool();
    let mut b = pool.get(64).unwrap();
    assert_eq!(b.remaining_mut(), 64);
    assert_eq!(b.chunk_mut().len(), 64);
    b.put_u8(1);
    b.put_u16(0x0203);
    b.put_u32_le(0x0706_0504);
    b.put_slice(b"89");
    b.put_bytes(b'z', 3);
    b.put(&b"tail"[..]);
    assert_eq!(&b[..], b"\x01\x02\x03\x04\x05\x06\x0789zzztail");
    assert_eq!(b.remaining_mut(), 64 - 16);
    assert_eq!(b.chunk_mut().len(), 64 - 16);

    // chunk_mut + advance_mut, the low-level way: the chunk starts right after the bytes.
    let start = b.as_ptr().wrapping_add(b.len());
    let chunk = b.chunk_mut();
    assert_eq!(chunk.as_mut_ptr().cast_const(), start);
    chunk[..2].copy_from_slice(b"!?");
    // SAFETY: the first two bytes of the chunk were just written.
    unsafe { b.advance_mut(2) };
    assert!(b.ends_with(b"tail!?"));

    // advance_mut(0) is a no-op; the full buffer reports no room and an empty chunk.
    // SAFETY: zero bytes.
    unsafe { b.advance_mut(0) };
    b.put_bytes(0, b.remaining_mut());
    assert_eq!(
        (b.len(), b.remaining_mut(), b.chunk_mut().len()),
        (64, 0, 0)
    );
    assert!(!b.has_remaining_mut());
}

#[test]
fn buf_mut_refuses_to_write_or_advance_past_the_capacity() {
    let pool = pool();
    let mut b = pool.get(64).unwrap();
    b.put_slice(&[1; 60]);
    let r = catch_unwind(AssertUnwindSafe(|| b.put_slice(&[2; 5])));
    assert!(r.is_err(), "put_slice past the capacity panics");
    assert_eq!(b.len(), 60, "... without writing");
    let r = catch_unwind(AssertUnwindSafe(|| b.put_u64(7)));
    assert!(r.is_err());
    assert_eq!(b.len(), 60);
    // SAFETY: not reached past the check: advance_mut panics before marking anything.
    let r = catch_unwind(AssertUnwindSafe(|| unsafe { b.advance_mut(5) }));
    assert!(r.is_err(), "advance_mut past the spare capacity panics");
    assert_eq!(b.len(), 60);
    drop(b);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn a_reused_buffer_shows_no_stale_bytes_through_buf_mut() {
    let pool = pool();
    let mut b = pool.get(64).unwrap();
    b.put_slice(b"secret of the previous holder");
    let at = b.as_ptr();
    drop(b);
    let mut b = pool.get(64).unwrap();
    assert_eq!(b.as_ptr(), at, "the same buffer came back");
    // Nothing readable until written, and writing exposes only what was written.
    assert!(b.is_empty());
    b.put_slice(b"new");
    assert_eq!(&b[..], b"new");
    assert_eq!(Bytes::from(b), &b"new"[..]);
}

#[test]
fn shared_buf_reads_as_bytes_buf_without_copying() {
    let pool = pool();
    let mut b = pool.get(64).unwrap();
    b.put_u16(3);
    b.put_slice(b"abc");
    b.put_u32(0xfeed_f00d);
    b.put_u8(9);
    let mut v = b.freeze();
    let start = v.as_ptr();
    assert_eq!(bytes::Buf::remaining(&v), 10);
    assert_eq!(bytes::Buf::chunk(&v).as_ptr(), start);
    let n = v.get_u16() as usize;
    let word = v.copy_to_bytes(n);
    assert_eq!(&word[..], b"abc");
    assert_eq!(
        word.as_ptr(),
        start.wrapping_add(2),
        "copy_to_bytes: a view, no copy"
    );
    assert_eq!(v.get_u32(), 0xfeed_f00d);
    assert_eq!(bytes::Buf::remaining(&v), 1);
    let r = catch_unwind(AssertUnwindSafe(|| bytes::Buf::advance(&mut v, 2)));
    assert!(r.is_err(), "bytes::Buf::advance past the end panics");
    assert_eq!(v.get_u8(), 9);
    assert!(!v.has_remaining());
    drop(v);
    assert_eq!(
        pool.stats().in_use(),
        1,
        "the Bytes from copy_to_bytes holds the buffer"
    );
    drop(word);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn bytes_buf_chains_work_over_views() {
    let pool = pool();
    let mut a = pool.get(8).unwrap();
    a.put_slice(b"ab");
    let mut b = pool.get(8).unwrap();
    b.put_slice(b"cd");
    let mut chain = a.freeze().chain(b.freeze());
    assert_eq!(chain.remaining(), 4);
    let mut out = [0; 4];
    chain.copy_to_slice(&mut out);
    assert_eq!(&out, b"abcd");
    drop(chain);
    assert_eq!(pool.stats().in_use(), 0);
}
