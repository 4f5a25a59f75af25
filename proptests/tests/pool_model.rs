//! Model-based property test of `slackwater_pool::Pool` against a reference model: random
//! configurations and random sequences of get / drop / freeze / clone / drop-view / trim.
//!
//! Checked after every step: live buffers never alias (each holds its own pattern), capacity
//! is the chosen class (or the exact request above the largest), and the statistics equal the
//! model's (in use, idle, hits, misses, bytes retained). At the end nothing is in use.
//!
//! The model assumes this thread owns a per-thread shard (one cached buffer per class on top of
//! each class's retention limit); the test is alone in its binary so that it does.

use proptest::prelude::*;
use slackwater_pool::{Buf, Config, Pool, SharedBuf};

#[derive(Clone, Debug)]
enum Op {
    Get(usize),
    Drop(usize),
    Freeze(usize),
    CloneView(usize),
    DropView(usize),
    Trim,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop_oneof![0usize..=300, 0usize..=5000, 0usize..=70_000].prop_map(Op::Get),
        3 => any::<usize>().prop_map(Op::Drop),
        1 => any::<usize>().prop_map(Op::Freeze),
        1 => any::<usize>().prop_map(Op::CloneView),
        2 => any::<usize>().prop_map(Op::DropView),
        1 => Just(Op::Trim),
    ]
}

/// 1 to 4 increasing classes from a menu of sizes, each retaining 0 to 3 buffers.
fn config() -> impl Strategy<Value = Vec<(usize, usize)>> {
    proptest::sample::subsequence(vec![16usize, 256, 1000, 4096, 16384, 65536], 1..=4)
        .prop_flat_map(|sizes| {
            let n = sizes.len();
            (Just(sizes), proptest::collection::vec(0usize..=3, n))
        })
        .prop_map(|(sizes, limits)| sizes.into_iter().zip(limits).collect())
}

#[derive(Default, Clone, Copy)]
struct ModelClass {
    idle: usize,
    hits: usize,
    misses: usize,
}

struct Model {
    classes: Vec<(usize, usize)>,
    state: Vec<ModelClass>,
}

impl Model {
    fn class_for(&self, n: usize) -> Option<usize> {
        self.classes.iter().position(|&(size, _)| n <= size)
    }
    fn get(&mut self, c: usize) {
        let s = &mut self.state[c];
        if s.idle > 0 {
            s.idle -= 1;
            s.hits += 1;
        } else {
            s.misses += 1;
        }
    }
    fn put(&mut self, c: usize) {
        // The thread cache holds one, the shared list `limit`; the rest is freed.
        let cap = self.classes[c].1 + 1;
        let s = &mut self.state[c];
        if s.idle < cap {
            s.idle += 1;
        }
    }
    fn trim(&mut self) {
        for s in &mut self.state {
            s.idle = 0;
        }
    }
}

struct LiveBuf {
    buf: Buf,
    pattern: u8,
    class: Option<usize>,
}

struct LiveView {
    view: SharedBuf,
    pattern: u8,
    class: Option<usize>,
    group: usize,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn pool_matches_model(classes in config(), ops in proptest::collection::vec(op(), 1..80)) {
        let mut b = Config::builder();
        for &(size, limit) in &classes {
            b = b.class(size, limit);
        }
        let pool = Pool::with_config(b.build().unwrap());
        let mut model = Model { state: vec![ModelClass::default(); classes.len()], classes };
        let mut bufs: Vec<LiveBuf> = Vec::new();
        let mut views: Vec<LiveView> = Vec::new();
        let mut next_pattern = 0u8;
        let mut next_group = 0usize;

        for op in ops {
            match op {
                Op::Get(n) => {
                    let class = model.class_for(n);
                    let mut buf = pool.get(n).unwrap();
                    let want = class.map_or(n, |c| model.classes[c].0);
                    prop_assert_eq!(buf.capacity(), want);
                    prop_assert!(buf.capacity() >= n);
                    prop_assert!(buf.is_empty());
                    if let Some(c) = class {
                        model.get(c);
                    }
                    next_pattern = next_pattern.wrapping_add(1);
                    let fill = n.clamp(1, 64).min(buf.capacity());
                    buf.extend_from_slice(&vec![next_pattern; fill]).unwrap();
                    bufs.push(LiveBuf { buf, pattern: next_pattern, class });
                }
                Op::Drop(i) if !bufs.is_empty() => {
                    let b = bufs.swap_remove(i % bufs.len());
                    if let Some(c) = b.class {
                        model.put(c);
                    }
                }
                Op::Freeze(i) if !bufs.is_empty() => {
                    let b = bufs.swap_remove(i % bufs.len());
                    let view = b.buf.freeze();
                    next_group += 1;
                    views.push(LiveView { view, pattern: b.pattern, class: b.class, group: next_group });
                }
                Op::CloneView(i) if !views.is_empty() => {
                    let v = &views[i % views.len()];
                    let len = v.view.len();
                    let view = v.view.slice(len / 2..).unwrap();
                    views.push(LiveView { view, pattern: v.pattern, class: v.class, group: v.group });
                }
                Op::DropView(i) if !views.is_empty() => {
                    let v = views.swap_remove(i % views.len());
                    let last = !views.iter().any(|o| o.group == v.group);
                    drop(v.view);
                    if last && let Some(c) = v.class {
                        model.put(c);
                    }
                }
                Op::Trim => {
                    pool.trim();
                    model.trim();
                }
                _ => {}
            }

            // No aliasing: every live buffer still holds exactly its own pattern.
            for b in &bufs {
                prop_assert!(b.buf.iter().all(|&x| x == b.pattern), "a live buffer was overwritten");
            }
            for v in &views {
                prop_assert!(v.view.iter().all(|&x| x == v.pattern), "a live view was overwritten");
            }
            // Statistics match the model.
            let stats = pool.stats();
            let mut groups: Vec<(usize, Option<usize>)> = views.iter().map(|v| (v.group, v.class)).collect();
            groups.sort_unstable();
            groups.dedup();
            for (c, m) in model.state.iter().enumerate() {
                let s = stats.class(c).unwrap();
                let in_use = bufs.iter().filter(|b| b.class == Some(c)).count()
                    + groups.iter().filter(|g| g.1 == Some(c)).count();
                prop_assert_eq!(s.in_use, in_use, "class {} in_use", c);
                prop_assert_eq!(s.idle, m.idle, "class {} idle", c);
                prop_assert_eq!(s.hits, m.hits, "class {} hits", c);
                prop_assert_eq!(s.misses, m.misses, "class {} misses", c);
                prop_assert_eq!(s.bytes_retained, m.idle * model.classes[c].0);
            }
            let unpooled = bufs.iter().filter(|b| b.class.is_none()).count()
                + groups.iter().filter(|g| g.1.is_none()).count();
            prop_assert_eq!(stats.unpooled().in_use, unpooled);
        }
        drop(bufs);
        drop(views);
        prop_assert_eq!(pool.stats().in_use(), 0);
        pool.trim();
        prop_assert_eq!(pool.stats().bytes_retained(), 0);
    }
}
