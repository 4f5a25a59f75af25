//! `Config` on its own: every accessor reports what its builder setter stored (the defaults
//! and a changed value), `build` accepts exactly its documented ranges, and sizes above `u32`
//! saturate instead of wrapping. (The doc examples say the same, but doctests are not part of
//! a mutation run.)

use slackwater_h2frame::{Config, Error};

#[test]
fn every_accessor_reports_its_setter() {
    let d = Config::new();
    assert_eq!(d.max_frame_size(), 16_384);
    assert_eq!(d.read_buffer_size(), 32 * 1024);
    assert!(!d.surface_unknown_frames());
    assert_eq!(d.continuation_limits(), (64, 256 * 1024));
    assert!(!d.reject_nonzero_padding());
    assert!(!d.expect_client_preface());
    assert_eq!(d.copy_out_ratio(), 16);
    assert_eq!(d.max_pending_replies(), None);

    let c = Config::builder()
        .max_frame_size(100_000)
        .read_buffer_size(4096)
        .surface_unknown_frames(true)
        .continuation_limits(3, 7000)
        .reject_nonzero_padding(true)
        .expect_client_preface(true)
        .copy_out_ratio(5)
        .max_pending_replies(Some(77))
        .build()
        .unwrap();
    assert_eq!(c.max_frame_size(), 100_000);
    assert_eq!(c.read_buffer_size(), 4096);
    assert!(c.surface_unknown_frames());
    assert_eq!(c.continuation_limits(), (3, 7000));
    assert!(c.reject_nonzero_padding());
    assert!(c.expect_client_preface());
    assert_eq!(c.copy_out_ratio(), 5);
    assert_eq!(c.max_pending_replies(), Some(77));

    // `to_builder` starts from the values, not the defaults.
    assert_eq!(c.to_builder().build().unwrap(), c);
}

#[test]
fn build_accepts_exactly_the_documented_ranges() {
    let frame = |v| Config::builder().max_frame_size(v).build();
    assert!(frame(16_383).is_err());
    assert_eq!(frame(16_384).unwrap().max_frame_size(), 16_384);
    assert_eq!(frame(16_777_215).unwrap().max_frame_size(), 16_777_215);
    assert!(frame(16_777_216).is_err());

    let read = |n| Config::builder().read_buffer_size(n).build();
    assert!(matches!(read(63), Err(Error::Invalid(_))));
    assert_eq!(read(64).unwrap().read_buffer_size(), 64);

    let ratio = |r| Config::builder().copy_out_ratio(r).build();
    assert!(matches!(ratio(0), Err(Error::Invalid(_))));
    assert_eq!(ratio(1).unwrap().copy_out_ratio(), 1);
}

#[test]
fn sizes_above_u32_saturate_instead_of_wrapping() {
    let max = u32::MAX as usize;
    for (n, want) in [(max, max), (max + 1, max), (usize::MAX, max)] {
        let c = Config::builder()
            .read_buffer_size(n)
            .copy_out_ratio(n)
            .continuation_limits(1, n)
            .build()
            .unwrap();
        assert_eq!(c.read_buffer_size(), want, "{n}");
        assert_eq!(c.copy_out_ratio(), want, "{n}");
        assert_eq!(c.continuation_limits().1, want, "{n}");
    }
}
