//! `Config` and the small public reports on their own: every accessor reports what its
//! setter stored, `build` accepts exactly its documented ranges, a `Conn` reports the
//! configuration it was given, and the backend list, key-schedule report and `Debug` say what
//! they claim. (Doc examples say the same, but doctests are not part of a mutation run.)

use slackwater_alts::{
    AltsError, Backend, Config, Conn, Crypter, MIN_LEN, OVERHEAD, Protocol, RecordAead, Side,
    key_schedules,
};
use slackwater_ready::Buffered;

#[test]
fn every_accessor_reports_its_setter() {
    let d = Config::DEFAULT;
    assert_eq!(d, Config::default());
    assert_eq!(d.read_limit(), 1 << 20);
    assert_eq!(d.frame_size(), 4096);
    assert_eq!(d.max_payload(), 4096 - OVERHEAD);
    assert_eq!(OVERHEAD, 24);
    assert_eq!(d.read_size(), 32 * 1024);

    let c = Config::builder()
        .read_limit(70_000)
        .frame_size(16_384)
        .read_size(8192)
        .build()
        .unwrap();
    assert_eq!(c.read_limit(), 70_000);
    assert_eq!(c.frame_size(), 16_384);
    assert_eq!(c.max_payload(), 16_384 - 24);
    assert_eq!(c.read_size(), 8192);
}

#[test]
fn build_accepts_exactly_the_documented_ranges() {
    let ok = |b: slackwater_alts::ConfigBuilder| b.build().is_ok();
    let limit = |n| Config::builder().read_limit(n);
    assert_eq!(MIN_LEN, 20);
    assert!(!ok(limit(19)));
    assert!(ok(limit(20)));
    assert!(ok(limit(u32::MAX as usize - 4)));
    assert!(!ok(limit(u32::MAX as usize - 3)));
    assert!(!ok(limit(usize::MAX)));

    let frame = |n| Config::builder().frame_size(n);
    assert!(!ok(frame(4095)));
    assert!(ok(frame(4096)));
    assert!(ok(frame(512 * 1024)));
    assert!(!ok(frame(512 * 1024 + 1)));
    assert!(!ok(frame(0)));

    let read = |n| Config::builder().read_size(n);
    assert!(!ok(read(63)));
    assert!(ok(read(64)));

    // Each check names what is wrong, and only that.
    let msg = |b: slackwater_alts::ConfigBuilder| match b.build() {
        Err(AltsError::InvalidConfig(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(msg(limit(19)).contains("read limit"));
    assert!(msg(limit(usize::MAX)).contains("read limit"));
    assert!(msg(frame(4095)).contains("frame size"));
    assert!(msg(frame(1 << 20)).contains("frame size"));
    assert!(msg(read(0)).contains("read size"));
}

#[test]
fn a_conn_reports_the_configuration_it_was_given() {
    let crypter = || {
        Crypter::new(
            Protocol::Aes128Gcm,
            Side::Client,
            &[1; 16],
            Backend::default(),
        )
        .unwrap()
    };
    let conn = Conn::new(Buffered::new(std::io::empty()), crypter());
    assert_eq!(conn.config(), Config::DEFAULT);
    let cfg = Config::builder()
        .read_limit(100_000)
        .frame_size(8192)
        .read_size(2048)
        .build()
        .unwrap();
    let conn = Conn::new(Buffered::new(std::io::empty()), crypter()).with_config(cfg);
    assert_eq!(conn.config(), cfg);
}

#[test]
fn the_backend_list_names_every_backend_compiled_in() {
    let all = Backend::available();
    assert_eq!(all[0], Backend::AesGcm);
    assert_eq!(all.len(), if cfg!(feature = "ring") { 2 } else { 1 });
    assert!(all.contains(&Backend::default()));
}

#[test]
fn resident_key_schedule_bytes_are_pages_times_the_page_size() {
    // A live schedule (built by the first seal) keeps at least one page resident.
    let mut a = RecordAead::new(Protocol::Aes128Gcm, &[3; 16], Backend::AesGcm).unwrap();
    let mut data = *b"x";
    a.seal(&[0; 12], b"", &mut data).unwrap();
    let k = key_schedules();
    assert!(k.live >= 1 && k.pages >= 1, "{k:?}");
    assert!(k.page_size >= 4096, "{k:?}");
    assert_eq!(k.resident_bytes(), k.pages * k.page_size);
    assert!(k.resident_bytes() >= 4096);
}

#[test]
fn record_aead_debug_names_protocol_and_backend_and_no_key() {
    let key = [0x5a; 44];
    let a = RecordAead::new(Protocol::Aes128GcmRekey, &key, Backend::AesGcm).unwrap();
    let s = format!("{a:?}");
    assert!(s.starts_with("RecordAead"), "{s}");
    assert!(s.contains("Aes128GcmRekey") && s.contains("AesGcm"), "{s}");
    assert!(!s.contains("90") && !s.contains("5a"), "no key byte: {s}");
    let p = RecordAead::new(Protocol::Aes128Gcm, &[0; 16], Backend::AesGcm).unwrap();
    assert!(format!("{p:?}").contains("Aes128Gcm,"), "{p:?}");
}

#[test]
fn protocol_names_are_the_negotiated_ones() {
    assert_eq!(Protocol::Aes128Gcm.name(), "ALTSRP_GCM_AES128");
    assert_eq!(Protocol::Aes128GcmRekey.name(), "ALTSRP_GCM_AES128_REKEY");
}

#[test]
fn conn_debug_names_protocol_side_and_state() {
    let c = Crypter::new(Protocol::Aes128Gcm, Side::Server, &[2; 16], Backend::AesGcm).unwrap();
    let conn = Conn::new(Buffered::new(std::io::empty()), c);
    let s = format!("{conn:?}");
    for w in [
        "Conn",
        "Aes128Gcm",
        "Server",
        "holds_buffer: false",
        "read_dead: None",
    ] {
        assert!(s.contains(w), "{s} lacks {w}");
    }
}

#[test]
fn is_write_full_is_the_transports() {
    use slackwater_ready::ReadyWrite;
    let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[2; 16], Backend::AesGcm).unwrap();
    // A Vec never refuses output.
    let conn = Conn::new(Vec::<u8>::new(), c);
    assert!(!conn.is_write_full());
}
