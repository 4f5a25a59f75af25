//! Loom models of slackwater-pool's lock-free parts. Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p slackwater-loom-tests --release`
//! (what `.ci/run` does, in its own target directory).
#![cfg(loom)]

use loom::sync::{Arc, Mutex};
use loom::thread;
use slackwater_pool::loom_internals::Stack;
use slackwater_pool::{Config, Pool};

/// One class of 64-byte buffers retaining at most `retain`.
fn tiny_pool(retain: usize) -> Pool {
    Pool::with_config(Config::builder().class(64, retain).build().unwrap())
}

/// Buffers live at the same time, by address: a buffer handed out twice shows up here twice.
#[derive(Default)]
struct Live(Mutex<Vec<usize>>);

impl Live {
    fn enter(&self, b: &slackwater_pool::Buf) {
        let addr = b.as_ptr() as usize - b.len();
        let mut v = self.0.lock().unwrap();
        assert!(!v.contains(&addr), "buffer {addr:#x} handed out twice");
        v.push(addr);
    }
    fn leave(&self, b: &slackwater_pool::Buf) {
        let addr = b.as_ptr() as usize - b.len();
        self.0.lock().unwrap().retain(|&a| a != addr);
    }
}

fn use_one(pool: &Pool, live: &Live, tag: u8) {
    let mut b = pool.get(10).unwrap();
    b.extend_from_slice(&[tag]).unwrap();
    live.enter(&b);
    assert_eq!(&b[..], &[tag]);
    live.leave(&b);
}

#[test]
fn stack_push_pop_three_threads() {
    // Two poppers race a pusher over a 3-entry table: every index is popped at most once while
    // out, none is lost (ABA would duplicate or lose one).
    loom::model(|| {
        slackwater_pool::loom_internals::reset_shards();
        let s = Arc::new(Stack::new(3, true));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    let a = s.pop();
                    let b = s.pop();
                    if let Some(a) = a {
                        s.push(a);
                    }
                    b
                })
            })
            .collect();
        let kept: Vec<usize> = handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect();
        let mut all = kept.clone();
        while let Some(i) = s.pop() {
            all.push(i);
        }
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2], "kept {kept:?}");
    });
}

#[test]
fn get_put_two_threads_one_class() {
    loom::model(|| {
        slackwater_pool::loom_internals::reset_shards();
        let pool = Arc::new(tiny_pool(1));
        let live = Arc::new(Live::default());
        let t: Vec<_> = (0..2u8)
            .map(|tag| {
                let (pool, live) = (pool.clone(), live.clone());
                thread::spawn(move || {
                    use_one(&pool, &live, tag);
                    use_one(&pool, &live, tag);
                })
            })
            .collect();
        for h in t {
            h.join().unwrap();
        }
        let s = pool.stats();
        let c = s.class(0).unwrap();
        assert_eq!(c.in_use, 0);
        assert_eq!(c.hits + c.misses, 4);
        // Idle = allocated - freed; at most the shared list (1) plus one per thread cache.
        assert!(c.idle <= c.misses && c.idle <= 3, "{c:?}");
        assert_eq!(c.bytes_retained, c.idle * 64);
        let freed = pool.trim();
        let after = *pool.stats().class(0).unwrap();
        let x = pool.get(1).unwrap();
        let y = pool.get(1).unwrap();
        let z = pool.get(1).unwrap();
        let m = pool.stats().class(0).unwrap().misses;
        drop((x, y, z));
        assert_eq!(
            after.idle, 0,
            "misses after 3 more gets {m}; before trim {c:?}, trim freed {freed}, after {after:?}"
        );
    });
}

#[test]
fn get_put_three_threads_shared_list() {
    // Three threads, each returning two buffers at once, so the shared list (not just the
    // per-thread caches) carries buffers between threads.
    loom::model(|| {
        slackwater_pool::loom_internals::reset_shards();
        let pool = Arc::new(tiny_pool(2));
        let live = Arc::new(Live::default());
        let t: Vec<_> = (0..2u8)
            .map(|tag| {
                let (pool, live) = (pool.clone(), live.clone());
                thread::spawn(move || {
                    let a = pool.get(1).unwrap();
                    live.enter(&a);
                    let b = pool.get(1).unwrap();
                    live.enter(&b);
                    live.leave(&a);
                    live.leave(&b);
                    drop(a);
                    drop(b);
                    let _ = tag;
                })
            })
            .collect();
        use_one(&pool, &live, 9);
        for h in t {
            h.join().unwrap();
        }
        let c = *pool.stats().class(0).unwrap();
        assert_eq!(c.in_use, 0, "{c:?}");
        assert_eq!(c.hits + c.misses, 5);
    });
}

#[test]
fn trim_races_get_put() {
    loom::model(|| {
        slackwater_pool::loom_internals::reset_shards();
        let pool = Arc::new(tiny_pool(2));
        let live = Arc::new(Live::default());
        drop(pool.get(1).unwrap()); // one idle buffer to fight over
        let worker = {
            let (pool, live) = (pool.clone(), live.clone());
            thread::spawn(move || {
                use_one(&pool, &live, 1);
                use_one(&pool, &live, 2);
            })
        };
        let trimmer = {
            let pool = pool.clone();
            thread::spawn(move || pool.trim())
        };
        worker.join().unwrap();
        let freed = trimmer.join().unwrap();
        let c = *pool.stats().class(0).unwrap();
        assert_eq!(c.in_use, 0);
        assert!(freed <= c.misses);
        assert_eq!(c.idle, c.misses - freed, "{c:?}");
        pool.trim();
        assert_eq!(pool.stats().idle(), 0);
    });
}

#[test]
fn shared_buf_clones_dropped_on_two_threads() {
    loom::model(|| {
        slackwater_pool::loom_internals::reset_shards();
        let pool = Arc::new(tiny_pool(2));
        let mut b = pool.get(8).unwrap();
        b.extend_from_slice(b"abcdefgh").unwrap();
        let first = b.freeze();
        let second = first.slice(2..4).unwrap();
        let t = thread::spawn(move || {
            assert_eq!(&second[..], b"cd");
            drop(second);
        });
        drop(first);
        t.join().unwrap();
        let c = *pool.stats().class(0).unwrap();
        assert_eq!((c.in_use, c.idle, c.misses), (0, 1, 1), "{c:?}");
        // Returned exactly once: two gets now need a second allocation, and get distinct
        // buffers (a double return would hand the same one out twice).
        let x = pool.get(1).unwrap();
        let y = pool.get(1).unwrap();
        assert_ne!(x.as_ptr(), y.as_ptr());
        assert_eq!(pool.stats().class(0).unwrap().misses, 2);
    });
}

#[test]
fn buf_outlives_owned_pool() {
    loom::model(|| {
        slackwater_pool::loom_internals::reset_shards();
        let pool = tiny_pool(1);
        let b = pool.get(1).unwrap();
        let t = thread::spawn(move || drop(b));
        drop(pool);
        t.join().unwrap();
    });
}
