//! `pool_ops`: a `Pool::with_config` pool under arbitrary operation sequences, against a
//! reference model.
//!
//! Input layout (missing bytes read as 0):
//! * `c`: bits 0-3 number of classes (0..=15: 0 and more than 8 must be refused); bit 7
//!   zeroing. Per class a u16 size and a retention byte (`r % 6`, or 255: one more than
//!   `MAX_RETAINED`). The builder's verdict is checked against the model's; a refused
//!   configuration is then repaired (sorted, deduplicated, zero sizes dropped) and used.
//! * operations until the input ends (at most 512), each an op byte (low 5 bits mod 18: the
//!   operation; high 3 bits: its variant) and its arguments (see `step`).
//!
//! The model keeps, per live `Buf`, its capacity, consumed front and bytes; per live
//! `SharedBuf`, its bytes and which buffer it views; per class, idle/hits/misses (the thread
//! cache holds one buffer per class on top of the retention limit; this thread owns a shard).
//! After every operation: every buffer's and view's bytes, length, capacity and spare
//! capacity equal the model's (so nothing written to one is visible in another and a fresh
//! buffer shows no stale bytes: it is empty); uniqueness of views; the statistics of every
//! class and of unpooled allocations; `trim` frees exactly the idle buffers. The pool handle
//! itself may be dropped while buffers and views are out (they stay usable; LeakSanitizer
//! and AddressSanitizer watch the late frees).

use crate::Input;
use slackwater_pool::{
    Buf, CapacityError, Config, ConfigError, MAX_CLASSES, MAX_RETAINED, Pool, PoolError, SharedBuf,
};
use std::io::Write;

struct MBuf {
    buf: Buf,
    cap: usize,
    class: Option<usize>,
    /// Bytes consumed from the front since the last compact/clear.
    head: usize,
    data: Vec<u8>,
}

struct MView {
    view: SharedBuf,
    group: usize,
    data: Vec<u8>,
}

struct Group {
    class: Option<usize>,
    cap: usize,
}

#[derive(Clone, Copy, Default)]
struct MClass {
    idle: usize,
    hits: usize,
    misses: usize,
}

struct Model {
    sizes: Vec<usize>,
    limits: Vec<usize>,
    classes: Vec<MClass>,
    unpooled_misses: usize,
    groups: Vec<Option<Group>>,
}

impl Model {
    fn class_for(&self, n: usize) -> Option<usize> {
        self.sizes.iter().position(|&s| n <= s)
    }
    fn get(&mut self, class: Option<usize>) {
        match class {
            Some(c) => {
                let m = &mut self.classes[c];
                if m.idle > 0 {
                    m.idle -= 1;
                    m.hits += 1;
                } else {
                    m.misses += 1;
                }
            }
            None => self.unpooled_misses += 1,
        }
    }
    fn put(&mut self, class: Option<usize>) {
        if let Some(c) = class {
            // The shard's cache slot plus the shared list's retention limit.
            let cap = self.limits[c] + 1;
            let m = &mut self.classes[c];
            if m.idle < cap {
                m.idle += 1;
            }
        }
    }
}

/// The builder's verdict on `classes`, as the docs describe it.
fn expected_verdict(classes: &[(usize, usize)]) -> Result<(), ConfigError> {
    if classes.len() > MAX_CLASSES {
        return Err(ConfigError::TooManyClasses);
    }
    if classes.is_empty() {
        return Err(ConfigError::NoClasses);
    }
    for (i, &(size, retain)) in classes.iter().enumerate() {
        if size == 0 || size > isize::MAX as usize {
            return Err(ConfigError::BadSize { index: i });
        }
        if retain > MAX_RETAINED {
            return Err(ConfigError::RetentionTooLarge { index: i });
        }
        if i > 0 {
            let prev = classes[i - 1].0;
            if size == prev {
                return Err(ConfigError::Duplicate { index: i });
            }
            if size < prev {
                return Err(ConfigError::OutOfOrder { index: i });
            }
        }
    }
    Ok(())
}

fn pick<T>(v: &[T], i: u8) -> Option<usize> {
    (!v.is_empty()).then(|| usize::from(i) % v.len())
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let c = inp.u8();
    let zeroing = c & 0x80 != 0;
    let n = usize::from(c & 15);
    let raw: Vec<(usize, usize)> = (0..n)
        .map(|_| {
            let size = usize::from(inp.u16());
            let r = inp.u8();
            let retain = if r == 255 {
                MAX_RETAINED + 1
            } else {
                usize::from(r % 6)
            };
            (size, retain)
        })
        .collect();
    let mut b = Config::builder().zeroing(zeroing);
    for &(s, r) in &raw {
        b = b.class(s, r);
    }
    let verdict = b.build();
    assert_eq!(
        verdict.as_ref().map(|_| ()).map_err(|e| *e),
        expected_verdict(&raw),
        "the builder's verdict on {raw:?}"
    );
    let classes: Vec<(usize, usize)> = if verdict.is_ok() {
        raw
    } else {
        let mut v: Vec<(usize, usize)> = raw
            .into_iter()
            .filter(|&(s, _)| s > 0)
            .map(|(s, r)| (s, r.min(5)))
            .collect();
        v.sort_by_key(|&(s, _)| s);
        v.dedup_by_key(|&mut (s, _)| s);
        v.truncate(MAX_CLASSES);
        if v.is_empty() {
            v.push((256, 2));
        }
        v
    };
    let mut b = Config::builder().zeroing(zeroing);
    for &(s, r) in &classes {
        b = b.class(s, r);
    }
    let config = b.build().expect("repaired configuration");
    let sizes: Vec<usize> = classes.iter().map(|c| c.0).collect();
    let limits: Vec<usize> = classes.iter().map(|c| c.1).collect();
    assert_eq!(config.class_sizes(), &sizes[..]);
    assert_eq!(config.retention_limits(), &limits[..]);
    assert_eq!(config.is_zeroing(), zeroing);

    let mut pool = Some(Pool::with_config(config));
    let mut m = Model {
        classes: vec![MClass::default(); sizes.len()],
        sizes,
        limits,
        unpooled_misses: 0,
        groups: Vec::new(),
    };
    let mut bufs: Vec<MBuf> = Vec::new();
    let mut views: Vec<MView> = Vec::new();
    let mut pattern = 0u8;
    let mut steps = 0;
    while !inp.is_empty() && steps < 512 {
        steps += 1;
        step(
            &mut inp,
            &mut pool,
            &mut m,
            &mut bufs,
            &mut views,
            &mut pattern,
        );
        check(pool.as_ref(), &m, &bufs, &views);
    }
    for b in bufs {
        drop(b.buf);
        m.put(b.class);
    }
    // Each group's buffer goes back with its last view.
    drop(views);
    for g in std::mem::take(&mut m.groups).into_iter().flatten() {
        m.put(g.class);
    }
    check(pool.as_ref(), &m, &[], &[]);
    if let Some(pool) = pool {
        let s = pool.stats();
        assert_eq!(s.in_use(), 0, "buffers in use with every one dropped");
        let idle: usize = m.classes.iter().map(|c| c.idle).sum();
        assert_eq!(pool.trim(), idle, "trim freed other than the idle buffers");
        assert_eq!(pool.stats().bytes_retained(), 0);
    }
}

fn step(
    inp: &mut Input<'_>,
    pool: &mut Option<Pool>,
    m: &mut Model,
    bufs: &mut Vec<MBuf>,
    views: &mut Vec<MView>,
    pattern: &mut u8,
) {
    let op = inp.u8();
    let i = inp.u8();
    // Low 5 bits: the operation; high 3 bits: its variant.
    match (op & 31) % 18 {
        // get(n): 0..=65,535, or ×4 with bit 7.
        0 | 1 => {
            let Some(p) = pool.as_ref() else { return };
            if bufs.len() >= 64 {
                return;
            }
            let n = usize::from(inp.u16()) << if op & 0x80 != 0 { 2 } else { 0 };
            let class = m.class_for(n);
            let buf = p.get(n).expect("get");
            let cap = class.map_or(n, |c| m.sizes[c]);
            assert_eq!(buf.capacity(), cap, "get({n}) capacity");
            assert!(buf.is_empty(), "a fresh buffer is not empty");
            m.get(class);
            bufs.push(MBuf {
                buf,
                cap,
                class,
                head: 0,
                data: Vec::new(),
            });
        }
        2 => {
            if let Some(k) = pick(bufs, i) {
                let b = bufs.swap_remove(k);
                m.put(b.class);
            }
        }
        // extend_from_slice(len × the next pattern byte)
        3 | 4 => {
            let len = usize::from(inp.u8()) * if op & 0x80 != 0 { 64 } else { 1 };
            if let Some(k) = pick(bufs, i) {
                *pattern = pattern.wrapping_add(1);
                let bytes: Vec<u8> = (0..len).map(|j| pattern.wrapping_add(j as u8)).collect();
                let b = &mut bufs[k];
                let spare = b.cap - b.head - b.data.len();
                let r = b.buf.extend_from_slice(&bytes);
                if len > spare {
                    assert_eq!(r, Err(CapacityError { needed: len, spare }));
                } else {
                    assert_eq!(r, Ok(()));
                    b.data.extend_from_slice(&bytes);
                }
            }
        }
        5 => {
            let n = usize::from(inp.u16());
            if let Some(k) = pick(bufs, i) {
                let b = &mut bufs[k];
                b.buf.advance(n);
                let n = n.min(b.data.len());
                b.head += n;
                b.data.drain(..n);
            }
        }
        6 => {
            let n = usize::from(inp.u16());
            if let Some(k) = pick(bufs, i) {
                let b = &mut bufs[k];
                b.buf.truncate(n);
                b.data.truncate(n);
            }
        }
        7 => {
            if let Some(k) = pick(bufs, i) {
                bufs[k].buf.compact();
                bufs[k].head = 0;
            }
        }
        8 => {
            if let Some(k) = pick(bufs, i) {
                bufs[k].buf.clear();
                bufs[k].head = 0;
                bufs[k].data.clear();
            }
        }
        // io::Write
        9 => {
            let len = usize::from(inp.u16() % 2048);
            if let Some(k) = pick(bufs, i) {
                *pattern = pattern.wrapping_add(1);
                let bytes = vec![*pattern; len];
                let b = &mut bufs[k];
                let spare = b.cap - b.head - b.data.len();
                let n = b.buf.write(&bytes).expect("write to a Buf");
                assert_eq!(n, len.min(spare), "io::Write wrote {n}");
                b.data.extend_from_slice(&bytes[..n]);
            }
        }
        10 => {
            if let Some(k) = pick(bufs, i) {
                let b = bufs.swap_remove(k);
                let view = b.buf.freeze();
                assert_eq!(view.buffer_capacity(), b.cap);
                m.groups.push(Some(Group {
                    class: b.class,
                    cap: b.cap,
                }));
                views.push(MView {
                    view,
                    group: m.groups.len() - 1,
                    data: b.data,
                });
            }
        }
        // slice / clone
        11 | 12 => {
            if views.len() >= 64 {
                return;
            }
            let a = usize::from(inp.u16());
            let e = usize::from(inp.u16());
            if let Some(k) = pick(views, i) {
                let v = &views[k];
                let len = v.data.len();
                let (got, want) = match op >> 5 {
                    0 => (v.view.slice(a..e), (a <= e && e <= len).then_some(a..e)),
                    1 => (v.view.slice(a..), (a <= len).then_some(a..len)),
                    2 => (v.view.slice(..e), (e <= len).then_some(0..e)),
                    3 => (v.view.slice(..=e), (e < len).then(|| 0..e + 1)),
                    4 => (
                        v.view.slice(a..=e),
                        (a <= e + 1 && e < len).then(|| a..e + 1),
                    ),
                    5 => (v.view.slice(..), Some(0..len)),
                    _ => (Some(v.view.clone()), Some(0..len)),
                };
                match (got, want) {
                    (Some(view), Some(r)) => {
                        let data = v.data[r].to_vec();
                        let group = v.group;
                        views.push(MView { view, group, data });
                    }
                    (None, None) => {}
                    (got, want) => {
                        panic!("slice of a {len}-byte view: got {got:?}, expected {want:?}")
                    }
                }
            }
        }
        13 => {
            if views.len() >= 64 {
                return;
            }
            let at = usize::from(inp.u16());
            if let Some(k) = pick(views, i) {
                let v = &mut views[k];
                let len = v.data.len();
                match v.view.split_to(at) {
                    Some(head) => {
                        assert!(at <= len, "split_to({at}) of {len} bytes succeeded");
                        let data: Vec<u8> = v.data.drain(..at).collect();
                        let group = v.group;
                        views.push(MView {
                            view: head,
                            group,
                            data,
                        });
                    }
                    None => assert!(at > len, "split_to({at}) of {len} bytes failed"),
                }
            }
        }
        14 => {
            let n = usize::from(inp.u16());
            if let Some(k) = pick(views, i) {
                let v = &mut views[k];
                v.view.advance(n);
                let n = n.min(v.data.len());
                v.data.drain(..n);
            }
        }
        15 => {
            if let Some(k) = pick(views, i) {
                let v = views.swap_remove(k);
                let last = !views.iter().any(|o| o.group == v.group);
                drop(v.view);
                if last {
                    let g = m.groups[v.group].take().expect("live group");
                    m.put(g.class);
                }
            }
        }
        16 => {
            if let Some(p) = pool.as_ref() {
                let idle: usize = m.classes.iter().map(|c| c.idle).sum();
                assert_eq!(p.trim(), idle, "trim freed other than the idle buffers");
                for c in &mut m.classes {
                    c.idle = 0;
                }
            }
        }
        _ => match i % 8 {
            // Requests no allocation can serve: an error, and nothing counted.
            0 => {
                if let Some(p) = pool.as_ref() {
                    for n in [usize::MAX, isize::MAX as usize, isize::MAX as usize - 7] {
                        if m.class_for(n).is_none() {
                            assert!(
                                matches!(p.get(n), Err(PoolError::CapacityOverflow { .. })),
                                "get({n}) did not fail with CapacityOverflow"
                            );
                        }
                    }
                }
            }
            // Drop the pool handle with buffers and views still out.
            1 => *pool = None,
            _ => {}
        },
    }
}

fn check(pool: Option<&Pool>, m: &Model, bufs: &[MBuf], views: &[MView]) {
    for b in bufs {
        assert_eq!(&b.buf[..], &b.data[..], "a buffer's bytes");
        assert_eq!(b.buf.len(), b.data.len());
        assert_eq!(b.buf.capacity(), b.cap);
        assert_eq!(
            b.buf.spare_capacity(),
            b.cap - b.head - b.data.len(),
            "spare capacity"
        );
    }
    for v in views {
        assert_eq!(&v.view[..], &v.data[..], "a view's bytes");
        assert_eq!(v.view.len(), v.data.len());
        let g = m.groups[v.group].as_ref().expect("live group");
        assert_eq!(v.view.buffer_capacity(), g.cap);
        let unique = views.iter().filter(|o| o.group == v.group).count() == 1;
        assert_eq!(v.view.is_unique(), unique, "is_unique");
    }
    let Some(pool) = pool else { return };
    let s = pool.stats();
    let live_groups = || m.groups.iter().flatten();
    for (c, mc) in m.classes.iter().enumerate() {
        let st = s.class(c).expect("class");
        let in_use = bufs.iter().filter(|b| b.class == Some(c)).count()
            + live_groups().filter(|g| g.class == Some(c)).count();
        assert_eq!(st.size, m.sizes[c]);
        assert_eq!(st.retention_limit, m.limits[c]);
        assert_eq!(st.in_use, in_use, "class {c} in_use");
        assert_eq!(st.idle, mc.idle, "class {c} idle");
        assert_eq!(st.hits, mc.hits, "class {c} hits");
        assert_eq!(st.misses, mc.misses, "class {c} misses");
        assert_eq!(
            st.bytes_retained,
            mc.idle * m.sizes[c],
            "class {c} bytes retained"
        );
    }
    let unpooled = bufs.iter().filter(|b| b.class.is_none()).count()
        + live_groups().filter(|g| g.class.is_none()).count();
    assert_eq!(s.unpooled().in_use, unpooled, "unpooled in_use");
    assert_eq!(s.unpooled().misses, m.unpooled_misses, "unpooled misses");
}
