//! `Assembler` against a scripted transport: every rule of the memory bound its docs state,
//! the sticky end states, and `split_out` / `view`.
//!
//! Records here: a 4-byte big-endian length, then that many bytes (`total = 4 + len`).

use slackwater_ready::{Assembler, Buf, Framing, Pool, ReadyRead, RecordError};
use std::collections::VecDeque;
use std::io;

/// One scripted answer of the transport.
#[derive(Debug)]
enum Step {
    /// These bytes are there; a read takes at most what it asks, the rest stays for the next.
    Data(Vec<u8>),
    /// Nothing now: `WouldBlock` in the non-blocking forms; the blocking forms wait (skip it).
    WouldBlock,
    Interrupted,
    Eof,
    /// An OS error code.
    Fail(i32),
}

/// What the assembler asked of the transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    /// `read_ready` / `try_read_ready` with this size.
    Read { size: usize, blocking: bool },
    /// `append_ready` / `try_append_ready` with this `max`, into a buffer of this capacity
    /// holding `len` bytes.
    Append {
        max: usize,
        cap: usize,
        len: usize,
        blocking: bool,
    },
}

/// A `ReadyRead` that plays a script, and panics when asked for more than it has (so a read
/// the assembler should not make fails the test).
struct Script {
    steps: VecDeque<Step>,
    calls: Vec<Call>,
}

impl Script {
    fn new(steps: impl IntoIterator<Item = Step>) -> Script {
        Script {
            steps: steps.into_iter().collect(),
            calls: Vec::new(),
        }
    }

    fn next(&mut self, max: usize, blocking: bool) -> io::Result<Option<Vec<u8>>> {
        loop {
            match self.steps.pop_front() {
                None => panic!("the assembler read past the end of the script"),
                Some(Step::Data(mut d)) => {
                    assert!(!d.is_empty() && max > 0);
                    if d.len() > max {
                        let rest = d.split_off(max);
                        self.steps.push_front(Step::Data(rest));
                    }
                    return Ok(Some(d));
                }
                Some(Step::WouldBlock) if blocking => continue, // the wait
                Some(Step::WouldBlock) => return Err(io::ErrorKind::WouldBlock.into()),
                Some(Step::Interrupted) => return Err(io::ErrorKind::Interrupted.into()),
                Some(Step::Eof) => return Ok(None),
                Some(Step::Fail(code)) => return Err(io::Error::from_raw_os_error(code)),
            }
        }
    }

    fn read(&mut self, size: usize, pool: &Pool, blocking: bool) -> io::Result<Option<Buf>> {
        self.calls.push(Call::Read { size, blocking });
        let size = size.max(1);
        match self.next(size, blocking)? {
            None => Ok(None),
            Some(d) => {
                let mut b = pool.get(size)?;
                b.extend_from_slice(&d).unwrap();
                Ok(Some(b))
            }
        }
    }

    fn append(&mut self, buf: &mut Buf, max: usize, blocking: bool) -> io::Result<usize> {
        self.calls.push(Call::Append {
            max,
            cap: buf.capacity(),
            len: buf.len(),
            blocking,
        });
        let max = max.min(buf.spare_capacity());
        if max == 0 {
            return Ok(0);
        }
        match self.next(max, blocking)? {
            None => Ok(0),
            Some(d) => {
                buf.extend_from_slice(&d).unwrap();
                Ok(d.len())
            }
        }
    }

    /// The appends asked for, as `(max, cap, len)`.
    fn appends(&self) -> Vec<(usize, usize, usize)> {
        self.calls
            .iter()
            .filter_map(|c| match *c {
                Call::Append { max, cap, len, .. } => Some((max, cap, len)),
                _ => None,
            })
            .collect()
    }

    fn reads(&self) -> Vec<usize> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Read { size, .. } => Some(*size),
                _ => None,
            })
            .collect()
    }
}

impl ReadyRead for Script {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read(size, pool, true)
    }
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.read(size, pool, false)
    }
    fn read_ready_into(&mut self, _: &mut [u8]) -> io::Result<usize> {
        panic!("the assembler reads into pooled buffers only")
    }
    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append(buf, max, true)
    }
    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        self.append(buf, max, false)
    }
}

#[derive(Debug, PartialEq, Eq)]
struct TooLong(usize);

/// The header rule: 4-byte big-endian length, refused above `limit`.
fn rule(limit: usize) -> impl FnMut(&[u8]) -> Result<Framing, TooLong> {
    move |b: &[u8]| {
        if b.len() < 4 {
            return Ok(Framing::Need(4));
        }
        let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if len > limit {
            return Err(TooLong(len));
        }
        Ok(Framing::Record(4 + len))
    }
}

const LIMIT: usize = 64 << 20;

/// A record of `total` bytes (header included), its body a pattern seeded by `seed`.
fn rec(total: usize, seed: u8) -> Vec<u8> {
    assert!(total >= 4);
    let mut r = ((total - 4) as u32).to_be_bytes().to_vec();
    r.extend((0..total - 4).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    r
}

/// Pool `get`s so far (hits and misses over every class, and unpooled allocations).
fn gets(pool: &Pool) -> usize {
    let s = pool.stats();
    s.classes().iter().map(|c| c.hits + c.misses).sum::<usize>() + s.unpooled().misses
}

fn next(
    a: &mut Assembler,
    s: &mut Script,
    pool: &Pool,
    blocking: bool,
) -> Result<Option<usize>, RecordError<TooLong>> {
    a.next_record(s, pool, blocking, rule(LIMIT))
}

fn is_would_block<E>(r: &Result<Option<usize>, RecordError<E>>) -> bool {
    matches!(r, Err(RecordError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock)
}

/// Reads every record of `s` (non-blocking, retrying on `WouldBlock`), checking after every
/// call that a buffer is held exactly while bytes are.
fn read_all(a: &mut Assembler, s: &mut Script, pool: &Pool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let r = next(a, s, pool, false);
        assert_eq!(a.holds_buffer(), !a.is_empty());
        assert_eq!(pool.stats().in_use(), usize::from(a.holds_buffer()));
        match r {
            Ok(Some(n)) => {
                out.push(a.buffered()[..n].to_vec());
                a.consume_record(n);
                assert_eq!(pool.stats().in_use(), usize::from(!a.is_empty()));
            }
            Ok(None) => return out,
            Err(RecordError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e:?}"),
        }
    }
}

// ---- rule 1: between records, nothing ----

#[test]
fn records_come_out_whole_and_nothing_is_held_between_them() {
    let records: Vec<Vec<u8>> = [4, 5, 300, 5000, 16 * 1024, 40_000, 7, 100_000]
        .iter()
        .enumerate()
        .map(|(i, &t)| rec(t, i as u8))
        .collect();
    let stream: Vec<u8> = records.concat();
    for piece in [1, 3, 4, 7, 100, 4096, 33_000, usize::MAX] {
        for gaps in [false, true] {
            let pool = Pool::new();
            let mut steps = Vec::new();
            for c in stream.chunks(piece.min(stream.len())) {
                steps.push(Step::Data(c.to_vec()));
                if gaps {
                    steps.push(Step::WouldBlock);
                }
            }
            steps.push(Step::Eof);
            let mut s = Script::new(steps);
            let mut a = Assembler::new(32 * 1024);
            let got = read_all(&mut a, &mut s, &pool);
            assert!(got == records, "piece {piece}, gaps {gaps}");
            assert!(!a.holds_buffer() && a.is_ended());
            assert_eq!(pool.stats().in_use(), 0);
        }
    }
}

// ---- rule 2: at a boundary, one read of the hint, never above read_size ----

#[test]
fn boundary_reads_ask_for_read_size_then_the_size_of_a_large_last_record() {
    const R: usize = 32 * 1024;
    let pool = Pool::new();
    let mut s = Script::new([
        Step::Data(rec(100, 1)),
        Step::Data(rec(20_000, 2)), // in (R/2, R] and ends the read: the next read is its size
        Step::Data(rec(20_000, 3)),
        Step::Data(rec(100_000, 4)), // above R: the next read is R again
        Step::Data([rec(20_000, 5), rec(20_000, 6)].concat()),
        Step::Data(rec(100, 7)), // small: back to R
        Step::Eof,
    ]);
    let mut a = Assembler::new(R);
    let mut sizes = Vec::new();
    while let Some(n) = next(&mut a, &mut s, &pool, true).unwrap() {
        sizes.push(n);
        a.consume_record(n);
    }
    assert_eq!(sizes, [100, 20_000, 20_000, 100_000, 20_000, 20_000, 100]);
    assert_eq!(s.reads(), [R, R, 20_000, 20_000, R, 20_000, R]);
    // Large records are read exactly: the appends that complete them ask for the rest of the
    // record and no more, so the next read starts on a boundary.
    let appends: Vec<(usize, usize)> = s
        .calls
        .iter()
        .filter_map(|c| match *c {
            Call::Append { max, len, .. } => Some((max, len)),
            _ => None,
        })
        .collect();
    assert_eq!(
        appends,
        [
            (80_000, 20_000),                    // the 100 kB record after its first 20,000 B
            (100_000 - R, R),                    // ... regrown (it was full), the rest
            (20_000 - (R - 20_000), R - 20_000), // the second 20 kB record of one read
        ]
    );
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn small_records_are_read_greedily_and_the_hint_never_exceeds_read_size() {
    const R: usize = 4096;
    let pool = Pool::new();
    // Records below R/2 in one stream: appends ask for the whole spare room.
    let stream = [rec(1000, 1), rec(1500, 2), rec(1800, 3)].concat();
    let mut s = Script::new([
        Step::Data(stream[..1200].to_vec()),
        Step::Data(stream[1200..].to_vec()),
        Step::Data(rec(50_000, 4)),
        Step::Data(rec(R, 5)),
        Step::Eof,
    ]);
    let mut a = Assembler::new(R);
    let mut n_records = 0;
    while let Some(n) = next(&mut a, &mut s, &pool, true).unwrap() {
        n_records += 1;
        a.consume_record(n);
    }
    assert_eq!(n_records, 5);
    for c in &s.calls {
        if let Call::Read { size, .. } = *c {
            assert!(size <= R, "a boundary read of {size} > {R}");
        }
    }
    assert_eq!(s.reads(), [R, R, R, R]);
    assert_eq!(pool.stats().in_use(), 0);
    // The first append (completing the 1500 B record, 200 B of it after the 1000 B record
    // in a 1200 B read) is greedy: all the spare room behind the 1200 B, not just 1300 B.
    assert_eq!(
        s.calls[1],
        Call::Append {
            max: R - 1200,
            cap: R,
            len: 200,
            blocking: false
        }
    );
}

// ---- rule 3: growth inside a record ----

/// Rule 2 at its edge: a record of exactly `R/2` bytes is a small one (read greedily), so the
/// read after it asks for `R`; one byte more and the next read is the record's size.
#[test]
fn a_record_of_exactly_half_the_read_size_does_not_size_the_next_read() {
    const R: usize = 4096;
    let pool = Pool::new();
    let mut s = Script::new([
        Step::Data(rec(R / 2, 1)),
        Step::Data(rec(R / 2 + 1, 2)),
        Step::Data(rec(10, 3)),
        Step::Eof,
    ]);
    let mut a = Assembler::new(R);
    while let Some(n) = next(&mut a, &mut s, &pool, true).unwrap() {
        a.consume_record(n);
    }
    assert_eq!(s.reads(), [R, R, R / 2 + 1, R]);
    assert_eq!(pool.stats().in_use(), 0);
}

/// Rule 3's "replaced only when it is full": a partial record behind a consumed one stays
/// where it is while the buffer's spare room takes the rest of it (exactly, here), and is
/// moved to the buffer's front, before the read, when the room is short, so that one read
/// completes it. (Kills `make_room`'s compaction test mutated to compact on an exact fit, or
/// too often, or too late.)
#[test]
fn a_partial_record_moves_to_the_front_only_when_the_room_behind_it_is_short() {
    const R: usize = 4096;
    let pool = Pool::new();
    assert_eq!(pool.config().capacity_for(R), R);
    for (t, expect_max) in [(96, 56), (200, R - 40)] {
        let first = rec(4000, 1);
        let second = rec(t, 2);
        let third = rec(100, 3);
        let stream = [&first[..], &second[..], &third[..]].concat();
        let mut s = Script::new([
            Step::Data(stream[..4040].to_vec()),
            Step::Data(stream[4040..].to_vec()),
            Step::Eof,
        ]);
        let mut a = Assembler::new(R);
        let n = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
        assert_eq!(n, 4000);
        a.consume_record(n);
        let at = a.buffered().as_ptr();
        let n = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
        assert_eq!((n, &a.buffered()[..n]), (t, &second[..]));
        assert_eq!(
            s.appends(),
            [(expect_max, R, 40)],
            "t {t}: one append, into the room behind (56 B) or the room after a move"
        );
        assert_eq!(
            a.buffered().as_ptr() == at,
            t == 96,
            "t {t}: moved iff short"
        );
        a.consume_record(n);
        while let Some(n) = next(&mut a, &mut s, &pool, true).unwrap() {
            a.consume_record(n);
        }
        assert_eq!(pool.stats().in_use(), 0);
    }
}

/// Rule 3 for a small record: a partial record of at most `R/2` bytes that must leave its
/// buffer (here: shared by a view) moves into a read-size buffer, not one of its own size, so
/// the read that completes it is greedy and brings the records behind it too. (Kills
/// `make_room` sizing that buffer after the record.)
#[test]
fn a_small_partial_record_leaving_a_shared_buffer_gets_a_read_size_buffer() {
    const R: usize = 16 * 1024;
    let pool = Pool::new();
    // The record's own class is smaller than the read size's.
    assert!(pool.config().capacity_for(600) < R);
    assert_eq!(pool.config().capacity_for(R), R);
    let r1 = rec(1004, 1);
    let r2 = rec(600, 2);
    let r3 = rec(300, 3);
    let mut s = Script::new([
        Step::Data([&r1[..], &r2[..50]].concat()),
        Step::Data([&r2[50..], &r3[..]].concat()),
        Step::Eof,
    ]);
    let mut a = Assembler::new(R);
    let n = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
    let v = a.view(4..n);
    a.consume_record(n);
    let n2 = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
    assert_eq!(&a.buffered()[..n2], &r2[..]);
    assert_eq!(a.capacity(), R);
    assert_eq!(s.appends(), [(R - 50, R, 50)]);
    a.consume_record(n2);
    // The third record came with the same read.
    let n3 = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
    assert_eq!(&a.buffered()[..n3], &r3[..]);
    assert_eq!((s.reads().len(), s.appends().len()), (1, 1));
    a.consume_record(n3);
    drop(v);
    assert!(next(&mut a, &mut s, &pool, true).unwrap().is_none());
    assert_eq!(pool.stats().in_use(), 0);
}

/// Dribbles one record of `t` bytes in `piece`-byte reads (a `WouldBlock` between them if
/// `gaps`) and checks after every call the bound of rule 3: the buffer never exceeds
/// `class(min(t, max(2h, R)))` with `h` bytes received. Returns the pool gets it cost.
fn dribble(t: usize, piece: usize, r: usize, gaps: bool) -> usize {
    let pool = Pool::new();
    let record = rec(t, 9);
    let mut steps = Vec::new();
    for c in record.chunks(piece) {
        steps.push(Step::Data(c.to_vec()));
        if gaps {
            steps.push(Step::WouldBlock);
        }
    }
    let mut s = Script::new(steps);
    let mut a = Assembler::new(r);
    let class = |n: usize| pool.config().capacity_for(n);
    loop {
        let res = next(&mut a, &mut s, &pool, false);
        let h = a.len();
        let bound = class(t.min((2 * h).max(r)));
        assert!(
            a.capacity() <= bound,
            "t {t}, h {h}: capacity {} > {bound}",
            a.capacity()
        );
        assert_eq!(pool.stats().in_use(), 1, "one buffer at a time");
        match res {
            Ok(Some(n)) => {
                assert_eq!(n, t);
                assert!(a.buffered() == &record[..]);
                break;
            }
            Err(RecordError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            r => panic!("{r:?}"),
        }
    }
    a.consume_record(t);
    assert_eq!(pool.stats().in_use(), 0);
    gets(&pool)
}

#[test]
fn a_64k_record_dribbled_one_byte_per_wakeup_costs_four_gets() {
    // R = 32 KiB: the first read's 32 KiB buffer (1 B in it); before the wait, that byte moves
    // to a 256 B buffer (rule 4: the header needs 4 bytes); once the header says 64 KiB, a
    // buffer of min(t, max(2h, R)) = 32 KiB; when that is full, min(t, 64 KiB) = 64 KiB, from
    // the 1 MiB class. 4 gets, whatever the record's size up to the 1 MiB class.
    assert_eq!(dribble(64 * 1024, 1, 32 * 1024, true), 4);
    // Without waits (the bytes keep coming): no move to 256 B, so 2.
    assert_eq!(dribble(64 * 1024, 1, 32 * 1024, false), 2);
    // R = 64 (the least): the buffer doubles through every class: 256 B, 4, 16, 32 KiB, 1 MiB.
    assert_eq!(dribble(64 * 1024, 1, 64, true), 5);
}

#[test]
fn a_4_mib_record_in_4_kib_pieces_grows_geometrically() {
    // 32 KiB, then 64 KiB (1 MiB class), 2 MiB and 4 MiB (exact, above the largest class):
    // O(log t) gets, not one per piece.
    assert_eq!(dribble(4 << 20, 4096, 32 * 1024, true), 4);
}

#[test]
fn a_refused_length_costs_nothing_beyond_the_first_read() {
    let pool = Pool::new();
    let mut hostile = (16u32 << 20).to_be_bytes().to_vec();
    hostile.extend_from_slice(&[0; 100]);
    let mut s = Script::new([Step::Data(hostile), Step::Data(vec![0; 1 << 20])]);
    let mut a = Assembler::new(32 * 1024);
    let r = a.next_record(&mut s, &pool, true, rule(1 << 20));
    assert!(
        matches!(r, Err(RecordError::Rule(TooLong(n))) if n == 16 << 20),
        "{r:?}"
    );
    assert_eq!(
        s.calls.len(),
        1,
        "refused from the header, before any more reading"
    );
    assert_eq!(gets(&pool), 1, "only the first read's buffer");
    assert_eq!(a.capacity(), 32 * 1024);
    let s1m = *pool.stats().class(4).unwrap();
    assert_eq!((s1m.size, s1m.misses, s1m.hits), (1 << 20, 0, 0));
    assert_eq!(pool.stats().unpooled().misses, 0);
    // The bytes stay (the caller decides what a refused header means); release drops them.
    assert_eq!(a.len(), 104);
    a.release();
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn an_accepted_huge_length_pins_only_what_arrived() {
    // A peer announces 16 MiB, sends a little, goes quiet: we hold max(2h, R), never t.
    let pool = Pool::new();
    let t = 16 << 20;
    let header = ((t - 4) as u32).to_be_bytes();
    let mut steps = vec![
        Step::Data([&header[..], &[1; 996]].concat()),
        Step::WouldBlock,
    ];
    for _ in 0..300 {
        steps.push(Step::Data(vec![2; 1000]));
        steps.push(Step::WouldBlock);
    }
    let mut s = Script::new(steps);
    let mut a = Assembler::new(32 * 1024);
    assert!(is_would_block(&next(&mut a, &mut s, &pool, false)));
    assert_eq!((a.len(), a.capacity(), gets(&pool)), (1000, 32 * 1024, 1));
    let mut calls = 0;
    while !s.steps.is_empty() {
        assert!(is_would_block(&next(&mut a, &mut s, &pool, false)));
        calls += 1;
        let h = a.len();
        let bound = pool.config().capacity_for((2 * h).max(32 * 1024));
        assert!(a.capacity() <= bound, "h {h}: {} > {bound}", a.capacity());
    }
    assert_eq!((calls, a.len()), (300, 301_000));
    assert_eq!(
        a.capacity(),
        1 << 20,
        "64 KiB asked once 32 KiB were full: the 1 MiB class"
    );
    assert_eq!(
        pool.stats().unpooled().misses,
        0,
        "nothing near 16 MiB was taken"
    );
    assert_eq!(
        gets(&pool),
        2,
        "the first read's buffer, then one of 64 KiB"
    );
    a.release();
    assert_eq!(pool.stats().in_use(), 0);
}

// ---- rule 4: before waiting inside a record, the record's class ----

#[test]
fn before_a_wait_a_partial_record_moves_to_its_class() {
    let pool = Pool::new();
    let class = |n: usize| pool.config().capacity_for(n);
    // (record size, bytes of it that arrive with a complete record, class expected while
    // waiting, whether a move is expected)
    for (t, part, held, moved) in [
        (200, 9, 256, true),             // 9 bytes of a 200 B record: 32 KiB -> 256 B
        (200, 3, 256, true),             // a partial header: the 4 bytes it needs -> 256 B
        (5000, 100, 16 * 1024, true),    // 32 KiB -> 16 KiB
        (20_000, 100, 32 * 1024, false), // already its class: no move, no get
    ] {
        let first = rec(50, 1);
        let second = rec(t, 2);
        let mut s = Script::new([
            Step::Data([&first[..], &second[..part]].concat()),
            Step::WouldBlock,
            Step::Data(second[part..].to_vec()),
        ]);
        let mut a = Assembler::new(32 * 1024);
        let n = next(&mut a, &mut s, &pool, false).unwrap().unwrap();
        assert_eq!(n, 50);
        assert_eq!(a.capacity(), 32 * 1024);
        a.consume_record(n);
        let before = gets(&pool);
        assert!(is_would_block(&next(&mut a, &mut s, &pool, false)));
        assert_eq!(a.buffered(), &second[..part]);
        assert_eq!(a.capacity(), held, "t {t}, {part} B");
        assert_eq!(held, class(if part < 4 { 4 } else { t }));
        assert_eq!(gets(&pool) - before, usize::from(moved), "t {t}");
        assert_eq!(pool.stats().in_use(), 1, "the read buffer went back");
        // The next call completes the record from what was kept.
        let n = next(&mut a, &mut s, &pool, false).unwrap().unwrap();
        assert_eq!((n, a.buffered()), (t, &second[..]));
        a.consume_record(n);
        assert_eq!(pool.stats().in_use(), 0);
    }
}

#[test]
fn the_blocking_form_also_shrinks_before_it_waits() {
    let pool = Pool::new();
    let second = rec(200, 2);
    let mut s = Script::new([
        Step::Data([&rec(50, 1)[..], &second[..9]].concat()),
        Step::WouldBlock,
        Step::Data(second[9..].to_vec()),
    ]);
    let mut a = Assembler::new(32 * 1024);
    let n = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
    a.consume_record(n);
    let n = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
    assert_eq!((n, a.buffered()), (200, &second[..]));
    // A try first (WouldBlock), then the blocking wait, in a 256 B buffer.
    let tail: Vec<Call> = s.calls[1..].to_vec();
    assert_eq!(
        tail,
        [
            Call::Append {
                max: 32 * 1024 - 59,
                cap: 32 * 1024,
                len: 9,
                blocking: false
            },
            Call::Append {
                max: 256 - 9,
                cap: 256,
                len: 9,
                blocking: true
            },
        ]
    );
    a.consume_record(n);
    assert_eq!(pool.stats().in_use(), 0);
}

// ---- rule 5 and the end states ----

#[test]
fn a_transport_error_mid_record_releases_the_buffer_and_sticks() {
    for blocking in [true, false] {
        let pool = Pool::new();
        let r = rec(1000, 3);
        let mut s = Script::new([
            Step::Data(r[..100].to_vec()),
            Step::Fail(libc::ECONNRESET),
            Step::Data(r[100..].to_vec()), // must never be read
        ]);
        let mut a = Assembler::new(32 * 1024);
        for i in 0..4 {
            match next(&mut a, &mut s, &pool, blocking) {
                Err(RecordError::Io(e)) => {
                    assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET), "call {i}")
                }
                r => panic!("call {i}: {r:?}"),
            }
            assert!(!a.holds_buffer() && a.is_empty());
            assert_eq!(pool.stats().in_use(), 0);
        }
        let e = a.fill(&mut s, &pool, 10, blocking).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET));
        assert_eq!(s.calls.len(), 2, "nothing read after the error");
        assert_eq!(s.steps.len(), 1);
    }
}

#[test]
fn a_transport_error_at_a_boundary_sticks() {
    let pool = Pool::new();
    let mut s = Script::new([
        Step::Data(rec(10, 1)),
        Step::Fail(libc::EPIPE),
        Step::Data(rec(10, 2)),
    ]);
    let mut a = Assembler::new(4096);
    let n = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
    a.consume_record(n);
    for _ in 0..3 {
        match next(&mut a, &mut s, &pool, false) {
            Err(RecordError::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::EPIPE)),
            r => panic!("{r:?}"),
        }
    }
    assert_eq!(s.calls.len(), 2);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn eof_inside_a_record_is_truncated_every_time() {
    for blocking in [true, false] {
        let pool = Pool::new();
        let r = rec(1000, 3);
        let mut s = Script::new([
            Step::Data([rec(20, 1), r[..100].to_vec()].concat()),
            Step::Eof,
            Step::Data(r[100..].to_vec()), // after the end: must never be read
        ]);
        let mut a = Assembler::new(32 * 1024);
        let n = next(&mut a, &mut s, &pool, blocking).unwrap().unwrap();
        a.consume_record(n);
        for i in 0..4 {
            match next(&mut a, &mut s, &pool, blocking) {
                Err(RecordError::Truncated { buffered }) => assert_eq!(buffered, 100, "call {i}"),
                r => panic!("call {i}: {r:?}"),
            }
            assert!(!a.holds_buffer() && a.is_ended());
            assert_eq!(pool.stats().in_use(), 0);
        }
        assert!(!a.fill(&mut s, &pool, 10, blocking).unwrap());
        assert_eq!(s.steps.len(), 1, "nothing read after the end");
    }
}

#[test]
fn a_clean_eof_between_records_is_none_every_time() {
    let pool = Pool::new();
    let mut s = Script::new([Step::Data(rec(30, 1)), Step::Eof, Step::Data(rec(30, 2))]);
    let mut a = Assembler::new(4096);
    let n = next(&mut a, &mut s, &pool, false).unwrap().unwrap();
    a.consume_record(n);
    for _ in 0..4 {
        assert!(next(&mut a, &mut s, &pool, false).unwrap().is_none());
        assert!(next(&mut a, &mut s, &pool, true).unwrap().is_none());
        assert!(a.is_ended() && !a.holds_buffer());
    }
    assert_eq!(s.steps.len(), 1, "nothing read after the end");
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn would_block_and_interrupted_keep_the_partial_record() {
    let r = rec(3000, 5);
    for blocking in [false, true] {
        let pool = Pool::new();
        let mut s = Script::new([
            Step::Interrupted, // at the boundary
            Step::Data(r[..2].to_vec()),
            Step::WouldBlock,
            Step::Data(r[2..1000].to_vec()),
            Step::Interrupted, // mid-record
            Step::WouldBlock,
            Step::Data(r[1000..].to_vec()),
        ]);
        let mut a = Assembler::new(32 * 1024);
        let mut transient = Vec::new();
        let n = loop {
            match next(&mut a, &mut s, &pool, blocking) {
                Ok(Some(n)) => break n,
                Err(RecordError::Io(e)) => {
                    transient.push(e.kind());
                    // What arrived so far is kept, in order.
                    assert!(r.starts_with(a.buffered()));
                }
                res => panic!("{res:?}"),
            }
        };
        assert_eq!((n, a.buffered()), (3000, &r[..]));
        let want: &[io::ErrorKind] = if blocking {
            &[io::ErrorKind::Interrupted, io::ErrorKind::Interrupted]
        } else {
            &[
                io::ErrorKind::Interrupted,
                io::ErrorKind::WouldBlock,
                io::ErrorKind::Interrupted,
                io::ErrorKind::WouldBlock,
            ]
        };
        assert_eq!(transient, want, "blocking {blocking}");
        a.consume_record(n);
        assert_eq!(pool.stats().in_use(), 0);
    }
}

// ---- split_out and view ----

/// An assembler holding `bytes` in one buffer of the `read_size` class.
fn holding(bytes: &[u8], read_size: usize, pool: &Pool) -> Assembler {
    let mut a = Assembler::new(read_size);
    a.prepend(bytes, pool).unwrap();
    assert_eq!(a.capacity(), pool.config().capacity_for(read_size));
    a
}

#[test]
fn split_out_copies_the_smaller_side() {
    let pool = Pool::new();
    // A 100 B body and a 3000 B partial record behind it: the body is copied.
    let r1 = rec(104, 1);
    let tail = rec(5000, 2)[..3000].to_vec();
    let mut a = holding(&[&r1[..], &tail[..]].concat(), 32 * 1024, &pool);
    let base = a.buffered().as_ptr();
    let out = a.split_out(4..104, 104, &pool, 16).unwrap();
    assert_eq!(&out[..], &r1[4..]);
    assert_ne!(out.as_ptr(), base.wrapping_add(4), "the body was copied");
    assert_eq!(out.capacity(), 256, "into a buffer of its own class");
    assert_eq!(a.buffered(), &tail[..]);
    assert_eq!(
        a.buffered().as_ptr(),
        base.wrapping_add(104),
        "the tail stayed in place"
    );
    assert_eq!(pool.stats().in_use(), 2);
    drop(out);
    a.release();

    // A 3000 B body and a 9 B partial record behind it: the tail is copied, the body handed
    // out in its own buffer.
    let r1 = rec(3004, 3);
    let tail = rec(200, 4)[..9].to_vec();
    let mut a = holding(&[&r1[..], &tail[..]].concat(), 32 * 1024, &pool);
    let base = a.buffered().as_ptr();
    let out = a.split_out(4..3004, 3004, &pool, 16).unwrap();
    assert_eq!(&out[..], &r1[4..]);
    assert_eq!(
        out.as_ptr(),
        base.wrapping_add(4),
        "the body was not copied"
    );
    assert_eq!(a.buffered(), &tail[..]);
    assert_ne!(
        a.buffered().as_ptr(),
        base.wrapping_add(3004),
        "the tail was copied"
    );
    drop(out);
    a.release();
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn split_out_with_nothing_kept_follows_the_ratio() {
    let pool = Pool::new();
    // A 4 KiB buffer; ratio 16: a body of 256 B pins 16x its size exactly: handed out; 255 B
    // would pin more: copied into a 256 B buffer.
    for (body, handed_out) in [(256, true), (255, false), (4000, true), (1, false)] {
        let r = rec(4 + body, 7);
        let mut a = holding(&r, 4096, &pool);
        let base = a.buffered().as_ptr();
        let out = a.split_out(4..4 + body, 4 + body, &pool, 16).unwrap();
        assert_eq!(&out[..], &r[4..]);
        assert_eq!(
            out.as_ptr() == base.wrapping_add(4),
            handed_out,
            "body {body}"
        );
        let want_cap = if handed_out { 4096 } else { 256 };
        assert_eq!(out.capacity(), want_cap, "body {body}");
        assert!(
            !a.holds_buffer(),
            "nothing kept: the assembler holds nothing"
        );
        assert_eq!(pool.stats().in_use(), 1);
        drop(out);
        assert_eq!(pool.stats().in_use(), 0);
    }
    // Ratio 1 copies any body smaller than its buffer; a huge ratio (saturating) never does.
    let r = rec(104, 1);
    let mut a = holding(&r, 4096, &pool);
    assert_eq!(a.split_out(4..104, 104, &pool, 1).unwrap().capacity(), 256);
    let mut a = holding(&r, 4096, &pool);
    let out = a.split_out(4..104, 104, &pool, usize::MAX).unwrap();
    assert_eq!((out.capacity(), &out[..]), (4096, &r[4..]));
    drop(out);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn a_view_keeps_the_buffer_alive_until_dropped() {
    let pool = Pool::new();
    let r1 = rec(1004, 1);
    let r2 = rec(600, 2);
    let mut s = Script::new([
        Step::Data([&r1[..], &r2[..50]].concat()),
        Step::Data(r2[50..].to_vec()),
    ]);
    let mut a = Assembler::new(4096);
    let n = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
    let v = a.view(4..n);
    assert!(a.buffered_mut().is_none(), "shared now: no writing");
    a.consume_record(n);
    assert_eq!(a.buffered(), &r2[..50]);
    assert_eq!(pool.stats().in_use(), 1, "one buffer, shared");
    // Completing the partial record moves it to a buffer of its own; the view is untouched.
    let n2 = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
    assert_eq!((n2, a.buffered()), (600, &r2[..]));
    assert!(a.buffered_mut().is_some(), "the new buffer is writable");
    assert_eq!(pool.stats().in_use(), 2);
    a.consume_record(n2);
    assert!(!a.holds_buffer());
    assert_eq!(
        pool.stats().in_use(),
        1,
        "the view still holds the first buffer"
    );
    assert_eq!(&v[..], &r1[4..]);
    drop(v);
    assert_eq!(pool.stats().in_use(), 0);
}

#[test]
fn prepended_bytes_come_before_the_transport() {
    let pool = Pool::new();
    let r = rec(500, 4);
    let mut s = Script::new([Step::Data(r[100..].to_vec()), Step::Eof]);
    let mut a = Assembler::new(4096);
    a.prepend(&r[..100], &pool).unwrap();
    let n = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
    assert_eq!((n, a.buffered()), (500, &r[..]));
    a.consume_record(n);
    assert!(next(&mut a, &mut s, &pool, true).unwrap().is_none());
    assert_eq!(pool.stats().in_use(), 0);
}

/// Rule 2 holds for records handed out with `split_out` too (the ALTS layer's path): after a
/// record that ended exactly at the end of a read, the next boundary read asks for its size.
#[test]
fn split_out_sizes_the_next_read_after_what_it_consumed() {
    const R: usize = 32 * 1024;
    let pool = Pool::new();
    let mut s = Script::new([
        Step::Data(rec(20_000, 1)),
        Step::Data(rec(20_000, 2)),
        Step::Data(rec(100, 3)),
        Step::Eof,
    ]);
    let mut a = Assembler::new(R);
    while let Some(n) = next(&mut a, &mut s, &pool, true).unwrap() {
        drop(a.split_out(4..n, n, &pool, 16).unwrap());
    }
    // The read after the small record (it meets the end) is back to R.
    assert_eq!(s.reads(), [R, 20_000, 20_000, R]);
    assert_eq!(pool.stats().in_use(), 0);
}

/// `prepend` in front of bytes already buffered, past the read size: nothing is lost, and the
/// order is the prepended bytes first.
#[test]
fn prepend_in_front_of_buffered_bytes_beyond_the_read_size() {
    let pool = Pool::new();
    let mut a = Assembler::new(64);
    a.prepend(&[1; 200], &pool).unwrap();
    a.prepend(&[2; 200], &pool).unwrap();
    assert_eq!(a.len(), 400);
    assert_eq!(&a.buffered()[..200], &[2; 200][..]);
    assert_eq!(&a.buffered()[200..], &[1; 200][..]);
    // One buffer of the class that holds both, not more.
    assert_eq!(a.capacity(), pool.config().capacity_for(400));
    a.release();
    assert_eq!(pool.stats().in_use(), 0);
}

/// `set_read_size` changes what the next boundary read asks for (at least 64), and
/// `read_size` reports it.
#[test]
fn set_read_size_applies_from_the_next_boundary() {
    let pool = Pool::new();
    let mut s = Script::new([Step::Data(rec(10, 1)), Step::Data(rec(10, 2)), Step::Eof]);
    let mut a = Assembler::new(4096);
    assert_eq!(a.read_size(), 4096);
    let n = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
    a.consume_record(n);
    a.set_read_size(1000);
    assert_eq!(a.read_size(), 1000);
    let n = next(&mut a, &mut s, &pool, true).unwrap().unwrap();
    a.consume_record(n);
    a.set_read_size(1);
    assert_eq!(a.read_size(), 64);
    assert!(next(&mut a, &mut s, &pool, true).unwrap().is_none());
    assert_eq!(s.reads(), [4096, 1000, 64]);
}

/// A header rule that asks for fewer bytes than are already buffered (`Need(1)` until it can
/// decide) still gets more: each round reads at least one byte beyond what is buffered, so
/// the record completes instead of the assembler spinning on what it has.
#[test]
fn a_rule_that_under_asks_still_gets_more_bytes() {
    let pool = Pool::new();
    let r = rec(12, 7);
    let mut s = Script::new(r.iter().map(|&b| Step::Data(vec![b])).chain([Step::Eof]));
    let mut a = Assembler::new(4096);
    let mut inner = rule(LIMIT);
    let mut asked = 0;
    let mut under_ask = |b: &[u8]| {
        asked += 1;
        // One question per byte that arrives, and one at the end: a spin fails here.
        assert!(asked <= 2 * r.len(), "asked {asked} times: no progress");
        if b.len() < 4 {
            Ok(Framing::Need(1))
        } else {
            inner(b)
        }
    };
    let n = a
        .next_record(&mut s, &pool, true, &mut under_ask)
        .unwrap()
        .unwrap();
    assert_eq!(&a.buffered()[..n], &r[..]);
    a.consume_record(n);
    assert!(
        a.next_record(&mut s, &pool, true, &mut under_ask)
            .unwrap()
            .is_none()
    );
    assert_eq!(pool.stats().in_use(), 0);
}

/// `is_ended`: false while the stream is open (data and waits included), true after a clean
/// end and after an end inside a record.
#[test]
fn is_ended_reports_the_end_only() {
    let pool = Pool::new();
    let mut s = Script::new([Step::Data(rec(10, 1)), Step::WouldBlock, Step::Eof]);
    let mut a = Assembler::new(4096);
    assert!(!a.is_ended());
    let n = next(&mut a, &mut s, &pool, false).unwrap().unwrap();
    a.consume_record(n);
    assert!(is_would_block(&next(&mut a, &mut s, &pool, false)));
    assert!(!a.is_ended());
    assert!(next(&mut a, &mut s, &pool, false).unwrap().is_none());
    assert!(a.is_ended());
    let mut s = Script::new([Step::Data(rec(10, 1)[..5].to_vec()), Step::Eof]);
    let mut a = Assembler::new(4096);
    assert!(matches!(
        next(&mut a, &mut s, &pool, true),
        Err(RecordError::Truncated { buffered: 5 })
    ));
    assert!(a.is_ended());
}

#[test]
fn consume_drops_bytes_from_the_front() {
    let pool = slackwater_ready::Pool::new();
    let mut a = slackwater_ready::Assembler::new(4096);
    let mut src = slackwater_ready::Buffered::new(&b"abcdefgh"[..]);
    assert!(a.fill(&mut src, &pool, 8, true).unwrap());
    assert_eq!(a.buffered(), b"abcdefgh");
    a.consume(3);
    assert_eq!((a.buffered(), a.len()), (&b"defgh"[..], 5));
    a.consume(5);
    assert!(a.is_empty());
}

#[cfg(target_pointer_width = "64")]
#[test]
fn read_sizes_beyond_u32_are_clamped_not_truncated() {
    let a = slackwater_ready::Assembler::new((1 << 33) + 5);
    assert_eq!(a.read_size(), u32::MAX as usize);
    let mut b = slackwater_ready::Assembler::new(4096);
    b.set_read_size(usize::MAX);
    assert_eq!(b.read_size(), u32::MAX as usize);
    b.set_read_size(65);
    assert_eq!(b.read_size(), 65);
}
