//! `Buf`'s small operations and the configuration's lookups, asserted exactly (their doc
//! examples show them too; these make a wrong result fail a plain `cargo test --tests` run,
//! which is what mutation testing runs).

use slackwater_pool::{Config, Pool, PoolError};
use std::io::Write;

fn filled(pool: &Pool, bytes: &[u8]) -> slackwater_pool::Buf {
    let mut b = pool.get(bytes.len()).unwrap();
    b.extend_from_slice(bytes).unwrap();
    b
}

#[test]
fn truncate_keeps_a_prefix_of_what_is_readable() {
    let pool = Pool::new();
    let mut b = filled(&pool, b"abcdef");
    b.truncate(6);
    assert_eq!(&b[..], b"abcdef", "n == len: no-op");
    b.truncate(60);
    assert_eq!(&b[..], b"abcdef", "n > len: no-op");
    b.advance(2);
    b.truncate(3);
    assert_eq!(&b[..], b"cde", "counted from the first readable byte");
    b.truncate(0);
    assert!(b.is_empty());
    assert_eq!(b.len(), 0);
}

#[test]
fn clear_empties_and_frees_the_whole_capacity() {
    let pool = Pool::new();
    let mut b = filled(&pool, b"abc");
    b.advance(1);
    assert!(!b.is_empty());
    let cap = b.capacity();
    b.clear();
    assert!(b.is_empty());
    assert_eq!((b.len(), b.spare_capacity()), (0, cap));
}

#[test]
fn compact_moves_the_readable_bytes_to_the_front() {
    let pool = Pool::new();
    let mut b = pool.get(256).unwrap();
    b.extend_from_slice(&[7; 250]).unwrap();
    b.extend_from_slice(b"tail!!").unwrap();
    b.advance(250);
    assert_eq!(b.spare_capacity(), 0);
    b.compact();
    assert_eq!(&b[..], b"tail!!");
    assert_eq!(b.spare_capacity(), 250);
    // Nothing consumed: nothing moves.
    let mut c = filled(&pool, b"xyz");
    c.compact();
    assert_eq!((&c[..], c.spare_capacity()), (&b"xyz"[..], 253));
}

#[test]
fn io_write_takes_what_fits() {
    let pool = Pool::new();
    let mut b = pool.get(256).unwrap();
    assert_eq!(b.write(&[1; 200]).unwrap(), 200);
    assert_eq!(b.write(&[2; 100]).unwrap(), 56);
    assert_eq!(b.write(&[3; 10]).unwrap(), 0);
    assert_eq!(b.len(), 256);
    assert_eq!((b[199], b[200], b[255]), (1, 2, 2));
}

#[test]
fn errors_and_buffers_describe_themselves() {
    let e = PoolError::CapacityOverflow { requested: 123_456 };
    assert!(e.to_string().contains("123456"), "{e}");
    let pool = Pool::new();
    let mut b = pool.get(1).unwrap();
    let full = b.extend_from_slice(&[0; 300]).unwrap_err();
    assert!(full.to_string().contains("300"), "{full}");
    b.extend_from_slice(b"hey").unwrap();
    let d = format!("{b:?}");
    assert!(d.contains("len: 3") && d.contains("capacity: 256"), "{d}");
}

#[test]
fn a_full_table_of_classes_has_no_class_above_its_largest() {
    let mut b = Config::builder();
    for i in 0..slackwater_pool::MAX_CLASSES {
        b = b.class(64 << i, 1);
    }
    let c = b.build().unwrap();
    let largest = 64 << (slackwater_pool::MAX_CLASSES - 1);
    assert_eq!(c.capacity_for(largest), largest);
    assert_eq!(c.capacity_for(largest + 1), largest + 1);
    let pool = Pool::with_config(c);
    assert_eq!(pool.get(largest + 1).unwrap().capacity(), largest + 1);
}

#[test]
fn zeroing_is_what_was_configured() {
    assert!(!Config::DEFAULT.is_zeroing());
    let on = Config::builder()
        .class(256, 1)
        .zeroing(true)
        .build()
        .unwrap();
    assert!(on.is_zeroing());
    let off = Config::builder()
        .class(256, 1)
        .zeroing(false)
        .build()
        .unwrap();
    assert!(!off.is_zeroing());
}

#[test]
fn the_builder_accepts_its_limits_and_refuses_one_past_them() {
    use slackwater_pool::{ConfigError, MAX_RETAINED};
    let max = isize::MAX as usize;
    assert!(Config::builder().class(max, 0).build().is_ok());
    assert_eq!(
        Config::builder().class(max + 1, 0).build().unwrap_err(),
        ConfigError::BadSize { index: 0 }
    );
    assert!(Config::builder().class(256, MAX_RETAINED).build().is_ok());
    assert_eq!(
        Config::builder()
            .class(256, MAX_RETAINED + 1)
            .build()
            .unwrap_err(),
        ConfigError::RetentionTooLarge { index: 0 }
    );
}

#[test]
fn an_owned_pool_counts_what_is_out() {
    let pool = Pool::new();
    let held: Vec<_> = (0..3).map(|_| pool.get(100).unwrap()).collect();
    let big = pool.get(2 << 20).unwrap();
    let st = pool.stats();
    assert_eq!(st.in_use(), 4);
    assert_eq!(st.classes()[0].in_use, 3);
    assert_eq!(st.classes()[0].misses, 3);
    drop(held);
    drop(big);
    let st = pool.stats();
    assert_eq!(st.in_use(), 0);
    drop(pool.get(100).unwrap());
    assert!(pool.stats().classes()[0].hits >= 1);
}

#[test]
fn a_fixed_pool_reports_its_idle_bytes() {
    static FIXED: slackwater_pool::FixedPool<4, 512> = slackwater_pool::FixedPool::new(false);
    let a = FIXED.get(10).unwrap();
    let b = FIXED.get(10).unwrap();
    let c = FIXED.get(10).unwrap();
    drop((a, b));
    let st = FIXED.stats();
    assert_eq!((st.in_use, st.idle), (1, 2));
    assert_eq!(st.bytes_retained, 2 * 512);
    drop(c);
    assert_eq!(FIXED.stats().bytes_retained, 3 * 512);
}

#[test]
fn shared_views_know_their_length_and_whether_they_are_alone() {
    let pool = Pool::new();
    let mut v = filled(&pool, b"abcdef").freeze();
    assert!(!v.is_empty() && v.is_unique());
    let head = v.split_to(2).unwrap();
    assert!(!v.is_unique() && !head.is_unique());
    assert_eq!((&head[..], &v[..]), (&b"ab"[..], &b"cdef"[..]));
    drop(head);
    assert!(v.is_unique());
    let empty = v.slice(4..).unwrap();
    assert!(empty.is_empty() && !v.is_unique());
    let d = format!("{v:?}");
    assert!(d.contains("len: 4"), "{d}");
    assert!(format!("{pool:?}").contains("Pool"), "{pool:?}");
}

#[test]
fn handles_say_which_pool_they_name() {
    use slackwater_pool::PoolHandle;
    assert!(PoolHandle::default().is_global());
    assert!(PoolHandle::from(slackwater_pool::global()).is_global());
    let owned = PoolHandle::from(Pool::new());
    assert!(!owned.is_global());
    // An owned pool of its own: its buffers are counted there, not in the global pool.
    let b = owned.get(10).unwrap();
    assert_eq!(owned.stats().in_use(), 1);
    drop(b);
    static OTHER: Pool = Pool::new_static(Config::DEFAULT);
    assert!(!PoolHandle::from(&OTHER).is_global());
}

/// The class a request lands in, by the definition: the smallest class size that holds it,
/// or exactly the request above the largest.
fn naive_capacity(sizes: &[usize], n: usize) -> usize {
    sizes.iter().copied().find(|&s| n <= s).unwrap_or(n)
}

#[test]
fn every_request_lands_in_the_smallest_class_that_holds_it() {
    // Powers of two (the table answers alone), sizes strictly inside power-of-two ranges (the
    // table sends those ranges to a short scan), two classes in one range, a single class,
    // and a full table.
    let configs: Vec<Vec<usize>> = vec![
        Config::DEFAULT.class_sizes().to_vec(),
        vec![100, 1000, 3000, 5000, 70_000],
        vec![48, 64, 96, 128, 192, 256, 384, 512],
        vec![1, 2, 3, 5, 8, 13, 21, 34],
        vec![1000],
        vec![4096, 4097, 6000, 1 << 20],
    ];
    for sizes in configs {
        let mut b = Config::builder();
        for &s in &sizes {
            b = b.class(s, 1);
        }
        let cfg = b.build().unwrap();
        let pool = Pool::with_config(cfg);
        assert_eq!(pool.config().class_sizes(), &sizes[..]);
        let mut probes: Vec<usize> = (0..=64).collect();
        for &s in &sizes {
            probes.extend([s - 1, s, s + 1]);
        }
        for bit in 0..22 {
            let p = 1usize << bit;
            probes.extend([p - 1, p, p + 1]);
        }
        for n in probes {
            let want = naive_capacity(&sizes, n);
            assert_eq!(cfg.capacity_for(n), want, "{sizes:?}: capacity_for({n})");
            if n <= 4 << 20 {
                let got = pool.get(n).unwrap().capacity();
                assert_eq!(got, want, "{sizes:?}: get({n})");
            }
        }
    }
}
