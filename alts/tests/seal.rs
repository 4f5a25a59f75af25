//! `Conn`'s caller-buffer sealing (`seal_record`, `seal_into`) read back by a peer `Conn`,
//! with its size checks at their edges; what `read_buffer_bytes` counts while a read is
//! half-consumed and a record half-arrived; `Conn::release_key_schedules`.

use slackwater_alts::{
    AltsError, Backend, Config, Conn, Crypter, OVERHEAD, Protocol, Side, key_schedules,
};
use slackwater_ready::{Buffered, Pool, PoolHandle, ReadyRead, global};
use std::sync::Mutex;

/// `key_schedules()` counts the whole process: the tests that look at it run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn crypter(side: Side) -> Crypter {
    Crypter::new(Protocol::Aes128Gcm, side, &[9; 16], Backend::AesGcm).unwrap()
}

fn writer() -> Conn<Buffered<std::io::Empty>> {
    Conn::new(Buffered::new(std::io::empty()), crypter(Side::Client))
}

/// Every plaintext byte a server `Conn` reads from `wire`.
fn read_all(wire: &[u8]) -> Vec<u8> {
    let mut r = Conn::new(Buffered::new(wire), crypter(Side::Server));
    let mut got = Vec::new();
    while let Some(b) = r.read_ready(4096, global()).unwrap() {
        got.extend_from_slice(&b);
    }
    got
}

#[test]
fn seal_record_makes_one_frame_the_peer_opens() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut w = writer();
    let mut out = global().get(4096).unwrap();
    w.seal_record(b"abc", &mut out).unwrap();
    assert_eq!(out.len(), 3 + OVERHEAD);
    // The length field counts the type field, the payload and the tag.
    assert_eq!(&out[..4], &(4 + 3 + 16u32).to_le_bytes());
    w.seal_record(b"", &mut out).unwrap(); // an empty record
    assert_eq!(out.len(), 3 + 2 * OVERHEAD);
    assert_eq!(read_all(&out), b"abc");
}

#[test]
fn seal_record_refuses_what_does_not_fit_and_appends_nothing() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut w = writer();
    let max = Config::DEFAULT.max_payload();
    // Too large for a frame, although `out` has room for it.
    let mut out = global().get(64 * 1024).unwrap();
    let e = w.seal_record(&vec![1; max + 1], &mut out).unwrap_err();
    assert_eq!(
        e,
        AltsError::FrameTooLarge {
            len: max + 1 + OVERHEAD - 4,
            limit: 4096
        }
    );
    assert!(out.is_empty());
    // The largest payload fits a frame exactly.
    w.seal_record(&vec![1; max], &mut out).unwrap();
    assert_eq!(out.len(), 4096);
    // Fits a frame, but not the room left in `out`.
    let mut small = global().get(256).unwrap();
    small.extend_from_slice(&[7; 200]).unwrap();
    let room = small.spare_capacity();
    let e = w
        .seal_record(&vec![2; room - OVERHEAD + 1], &mut small)
        .unwrap_err();
    assert!(matches!(e, AltsError::FrameTooLarge { .. }), "{e:?}");
    assert_eq!(small.len(), 200, "nothing appended");
    w.seal_record(&vec![2; room - OVERHEAD], &mut small)
        .unwrap();
    assert_eq!(small.spare_capacity(), 0);
}

#[test]
fn seal_into_fills_whole_frames_and_reports_what_it_took() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = writer();
    let mut out = global().get(16 * 1024).unwrap();
    assert_eq!(w.seal_into(&data, &mut out).unwrap(), 10_000);
    assert_eq!(out.len(), 10_000 + 3 * OVERHEAD, "three frames");
    assert_eq!(read_all(&out), data);

    // Room for part of it: whole frames as long as one more byte fits, then it stops.
    let mut w = writer();
    let mut out = global().get(4096).unwrap();
    let n = w.seal_into(&data, &mut out).unwrap();
    assert_eq!(n, 4096 - OVERHEAD);
    assert_eq!(out.len(), 4096);
    assert_eq!(w.seal_into(&data[n..], &mut out).unwrap(), 0, "no room");
    let mut more = global().get(4096).unwrap();
    more.extend_from_slice(&[0; 4096 - OVERHEAD - 1]).unwrap(); // room for a 1-byte record
    assert_eq!(w.seal_into(&data[n..], &mut more).unwrap(), 1);
    let mut wire = out.to_vec();
    wire.extend_from_slice(&more[4096 - OVERHEAD - 1..]);
    assert_eq!(read_all(&wire), &data[..n + 1]);
    assert_eq!(
        w.seal_into(&[], &mut global().get(4096).unwrap()).unwrap(),
        0
    );
}

#[test]
fn read_buffer_bytes_counts_the_partial_record_and_the_unread_plaintext() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut w = writer();
    let mut wire = global().get(4096).unwrap();
    w.seal_record(&[5; 100], &mut wire).unwrap();
    w.seal_record(&[6; 100], &mut wire).unwrap();
    // The first record whole, the second cut short.
    let cut = 100 + OVERHEAD + 50;
    let pool = PoolHandle::from(Pool::new());
    let mut r =
        Conn::new(Buffered::new(&wire[..cut]), crypter(Side::Server)).with_pool(pool.clone());
    assert_eq!(r.read_buffer_bytes(), 0);
    // Ten bytes of the first record's plaintext: the rest waits in the conn.
    let mut dst = global().get(256).unwrap();
    assert_eq!(r.append_ready(&mut dst, 10).unwrap(), 10);
    let s = pool.stats();
    let held: usize = s.classes().iter().map(|c| c.in_use * c.size).sum();
    assert!(
        s.in_use() >= 2,
        "the unread plaintext and the partial record: {s:?}"
    );
    assert_eq!(r.read_buffer_bytes(), held);
    assert!(r.holds_buffer());
    // The rest of the plaintext, then the partial record is all that is held.
    let mut rest = global().get(256).unwrap();
    assert_eq!(r.append_ready(&mut rest, 256).unwrap(), 90);
    let s = pool.stats();
    let held: usize = s.classes().iter().map(|c| c.in_use * c.size).sum();
    assert_eq!(s.in_use(), 1);
    assert_eq!(r.read_buffer_bytes(), held);
    drop(r);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn a_conn_releases_its_key_schedules_and_rebuilds_them_on_use() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let base = key_schedules().live;
    let mut w = writer();
    // AES-128-GCM builds both directions' schedules with the crypter.
    assert_eq!(key_schedules().live, base + 2);
    w.release_key_schedules();
    assert_eq!(key_schedules().live, base);
    let mut out = global().get(4096).unwrap();
    w.seal_record(b"x", &mut out).unwrap();
    assert_eq!(
        key_schedules().live,
        base + 1,
        "a seal rebuilds the sending one"
    );
    assert_eq!(read_all(&out), b"x");
    drop(w);
    assert_eq!(key_schedules().live, base);
}

/// A bad record after a good one in the same read: the good one's plaintext comes out first,
/// the error with the next read (and stays).
#[test]
fn plaintext_before_a_bad_record_is_handed_out_first() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut w = writer();
    let mut good = global().get(4096).unwrap();
    w.seal_record(b"first", &mut good).unwrap();
    w.seal_record(b"second", &mut good).unwrap();
    let one = 5 + OVERHEAD;
    // The second record with a wrong message type (framing), or with its tag flipped.
    let mut wrong_type = good.to_vec();
    wrong_type[one + 4] = 7;
    let mut bad_tag = good.to_vec();
    *bad_tag.last_mut().unwrap() ^= 1;
    for (wire, want) in [
        (wrong_type, AltsError::WrongMessageType { ty: 7 }),
        (bad_tag, AltsError::AuthenticationFailed),
    ] {
        let mut r = Conn::new(Buffered::new(&wire[..]), crypter(Side::Server));
        let b = r.read_ready(4096, global()).unwrap().unwrap();
        assert_eq!(&b[..], b"first");
        for _ in 0..2 {
            let e = r.read_ready(4096, global()).unwrap_err();
            assert_eq!(AltsError::from_io(&e), Some(&want));
        }
        // Alone at the front, the bad record fails the first read.
        let mut r = Conn::new(Buffered::new(&wire[one..]), crypter(Side::Server));
        let e = r.read_ready(4096, global()).unwrap_err();
        assert_eq!(AltsError::from_io(&e), Some(&want));
    }
}

/// Records gathered in one read are packed at the front of the buffer: an empty record, then
/// an 8-byte one (its plaintext moves 32 bytes forward), then a 5-byte one (moves again).
#[test]
fn plaintext_of_several_records_in_one_read_is_packed_in_order() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut w = writer();
    let mut wire = global().get(4096).unwrap();
    for p in [&b""[..], b"AAAAAAAA", b"BBBBB", b"", b"C"] {
        w.seal_record(p, &mut wire).unwrap();
    }
    let mut r = Conn::new(Buffered::new(&wire[..]), crypter(Side::Server));
    let b = r.read_ready(4096, global()).unwrap().unwrap();
    assert_eq!(&b[..], b"AAAAAAAABBBBBC", "all in one read, in order");
    assert!(r.read_ready(4096, global()).unwrap().is_none());
}

/// A transport whose flushes answer from a script (`None`: success, everything sent).
struct ScriptedOut {
    queued: usize,
    flushes: std::collections::VecDeque<Option<std::io::ErrorKind>>,
}

impl slackwater_ready::ReadyWrite for ScriptedOut {
    fn queue(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.queued += data.len();
        Ok(())
    }
    fn queue_buf(&mut self, buf: slackwater_ready::Buf) -> std::io::Result<()> {
        self.queued += buf.len();
        Ok(())
    }
    fn try_flush_ready(&mut self) -> std::io::Result<()> {
        match self.flushes.pop_front().flatten() {
            Some(kind) => Err(kind.into()),
            None => {
                self.queued = 0;
                Ok(())
            }
        }
    }
    fn flush_ready(&mut self) -> std::io::Result<()> {
        self.try_flush_ready()
    }
    fn queued(&self) -> usize {
        self.queued
    }
    fn is_write_full(&self) -> bool {
        false
    }
}

/// The transport still holds bytes from before, and its next flush fails: that first error
/// is the connection's, even though a later flush would report another (Linux: a reset, then
/// `EPIPE`).
#[test]
fn the_first_fatal_flush_error_is_the_one_that_stays() {
    use slackwater_ready::ReadyWrite;
    use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = ScriptedOut {
        queued: 100,
        flushes: [Some(ConnectionReset), Some(BrokenPipe)].into(),
    };
    let mut c = Conn::new(t, crypter(Side::Client));
    c.queue(b"hi").unwrap();
    let e = c.try_flush_ready().unwrap_err();
    assert_eq!(e.kind(), ConnectionReset);
    let again = c.queue(b"more").unwrap_err();
    assert_eq!(again.kind(), ConnectionReset, "it stays");
    // Nothing sealed after the error reached the transport.
    assert_eq!(c.get_ref().queued, 100);
}
