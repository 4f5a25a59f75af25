//! Loom models of slackwater-pool's lock-free parts. Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p slackwater-loom-tests --release`
//! (what `.ci/run` does, in its own target directory).
//!
//! Under loom every buffer is a loom-tracked allocation, so each execution also fails on a
//! buffer freed twice or never freed by its end (the pools are dropped at the end of each
//! model, which frees what they still hold). The per-thread cache's owner-only state (the trim
//! epoch a shard last acted on) is a loom `UnsafeCell`, so an access to it that the shard claim
//! does not order is reported as a data race.
//!
//! Loom's `JoinHandle::join` returns when the thread's closure has returned, *before* its
//! thread-locals are destroyed (std's waits for them): here a thread's exit (which empties its
//! shard into the shared lists, `slackwater_pool`'s `tls` module) runs concurrently with what
//! the main thread does after the join. The models below assert only what holds either way,
//! and some are built around exactly that race.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
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
    // Three threads at once (two spawned ones and the main thread, which works before it
    // joins) pop and push over a 3-entry table: every index is popped at most once while out,
    // none is lost (ABA would duplicate or lose one).
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
        // The third, concurrent with the two above: take one and give it back.
        let m = s.pop();
        if let Some(m) = m {
            s.push(m);
        }
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
        // The exits may still be moving the workers' cached buffers (see the module docs), so
        // this trim frees what has reached the shared list; the rest is freed when the pool
        // is dropped (loom's leak check).
        let freed = pool.trim();
        assert!(freed <= c.idle, "{c:?}, trim freed {freed}");
        // Three gets: three distinct buffers, whatever the exits are doing.
        let x = pool.get(1).unwrap();
        live.enter(&x);
        let y = pool.get(1).unwrap();
        live.enter(&y);
        let z = pool.get(1).unwrap();
        live.enter(&z);
        assert_eq!(pool.stats().class(0).unwrap().in_use, 3);
    });
}

#[test]
fn get_put_three_threads_shared_list() {
    // Three threads, each returning two buffers at once, so the shared list (not just the
    // per-thread caches) carries buffers between threads; the two workers' exits (each moving
    // its cached buffer to the shared list) race main too. With 3 preemptions this model takes
    // about 8 minutes on the project's machine since thread exits joined the model; it runs
    // with 2 (the exits alone are modelled with 3 below).
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(model.preemption_bound.map_or(2, |b| b.min(2)));
    model.check(|| {
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
        drop(pool.get(1).unwrap()); // one idle buffer (in main's cache) to fight over
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
        assert_eq!(c.hits + c.misses, 3);
        // The trimmer frees only the shared list and its own (empty) cache: never main's.
        assert!(freed < c.misses, "{c:?}, trim freed {freed}");
        assert!(c.idle <= c.misses - freed, "{c:?}, trim freed {freed}");
        // Main's trim frees its own cache at least.
        pool.trim();
        let x = pool.get(1).unwrap();
        live.enter(&x);
        let y = pool.get(1).unwrap();
        live.enter(&y);
    });
}

#[test]
fn trim_flags_a_working_thread() {
    // The worker caches a buffer and keeps returning buffers while another thread trims: its
    // fast path (a plain load of the epoch) and its slow path (`sync`: free the cache, then
    // cache again) race the epoch bump. No buffer is handed out twice, none freed twice or
    // leaked, the owner-only epoch is touched by its owner only.
    loom::model(|| {
        slackwater_pool::loom_internals::reset_shards();
        let pool = Arc::new(tiny_pool(1));
        let live = Arc::new(Live::default());
        let worker = {
            let (pool, live) = (pool.clone(), live.clone());
            thread::spawn(move || {
                let a = pool.get(1).unwrap();
                live.enter(&a);
                let b = pool.get(1).unwrap();
                live.enter(&b);
                live.leave(&a);
                drop(a); // cached
                live.leave(&b);
                drop(b); // the cache is full: the shared list, after acting on any trim
                use_one(&pool, &live, 3);
            })
        };
        let trimmer = {
            let pool = pool.clone();
            thread::spawn(move || pool.trim())
        };
        let freed = trimmer.join().unwrap();
        worker.join().unwrap();
        let c = *pool.stats().class(0).unwrap();
        assert_eq!(c.in_use, 0);
        assert_eq!(c.hits + c.misses, 3);
        assert!(freed <= 1, "only the shared list's one slot: {freed}");
        assert!(c.idle <= 2, "{c:?}");
    });
}

#[test]
fn thread_exit_races_trim_and_get() {
    // A thread caches a buffer and exits; its exit (moving the buffer to the shared list, or
    // freeing it if a trim is pending) races main's trim and gets.
    loom::model(|| {
        slackwater_pool::loom_internals::reset_shards();
        let pool = Arc::new(tiny_pool(1));
        let live = Arc::new(Live::default());
        let t = {
            let (pool, live) = (pool.clone(), live.clone());
            thread::spawn(move || use_one(&pool, &live, 1))
        };
        t.join().unwrap(); // under loom the exit may still be running
        let freed = pool.trim();
        assert!(freed <= 1);
        let x = pool.get(1).unwrap();
        live.enter(&x);
        let c = *pool.stats().class(0).unwrap();
        assert_eq!(c.in_use, 1);
        assert_eq!(c.hits + c.misses, 2);
        assert!(c.idle <= 1, "{c:?}");
    });
}

#[test]
fn buffer_returned_on_another_thread_which_exits() {
    // Taken on main, returned on a thread that then exits, while main keeps getting.
    loom::model(|| {
        slackwater_pool::loom_internals::reset_shards();
        let pool = Arc::new(tiny_pool(1));
        let live = Arc::new(Live::default());
        let b = pool.get(1).unwrap();
        live.enter(&b);
        let t = {
            let live = live.clone();
            thread::spawn(move || {
                live.leave(&b);
                drop(b); // into this thread's cache; its exit moves it on
            })
        };
        let x = pool.get(1).unwrap();
        live.enter(&x);
        live.leave(&x);
        drop(x);
        t.join().unwrap();
        let y = pool.get(1).unwrap();
        live.enter(&y);
        let z = pool.get(1).unwrap();
        live.enter(&z);
        let c = *pool.stats().class(0).unwrap();
        assert_eq!(c.in_use, 2);
        assert_eq!(c.hits + c.misses, 4);
    });
}

#[test]
fn thread_exit_races_owned_pool_drop() {
    // A thread caches a buffer of an owned pool, drops its handle and exits, while main drops
    // the last handle: the exit (under the registry's lock) and the pool's drop (which leaves
    // the registry first, then empties every shard) serialize; the buffer is freed once.
    loom::model(|| {
        slackwater_pool::loom_internals::reset_shards();
        let pool = Arc::new(tiny_pool(1));
        let t = {
            let pool = pool.clone();
            thread::spawn(move || {
                drop(pool.get(1).unwrap());
                drop(pool);
            })
        };
        drop(pool);
        t.join().unwrap();
    });
}

#[test]
fn dropped_static_pool_frees_a_live_threads_cache() {
    // A static pool (no reference counting) dropped while another thread caches one of its
    // buffers and holds another: the state is leaked on purpose, and that thread frees both,
    // at its next return (this one) or at its exit.
    loom::model(|| {
        slackwater_pool::loom_internals::reset_shards();
        let pool = Pool::new_static(Config::builder().class(64, 1).build().unwrap());
        let late = pool.get(1).unwrap();
        let cached = pool.get(1).unwrap();
        let dropped = Arc::new(AtomicBool::new(false));
        let t = {
            let dropped = dropped.clone();
            thread::spawn(move || {
                drop(cached); // this thread's cache
                while !dropped.load(Ordering::Acquire) {
                    thread::yield_now();
                }
                drop(late); // frees the cache and this buffer
            })
        };
        // Wait until the cache is filled, then drop the pool.
        while pool.stats().idle() == 0 {
            thread::yield_now();
        }
        drop(pool);
        dropped.store(true, Ordering::Release);
        t.join().unwrap();
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
        // Returned exactly once: two gets now need a second allocation (a third if the
        // buffer is still in the exiting thread's cache, see the module docs), and get
        // distinct buffers (a double return would hand the same one out twice, and loom's
        // allocation tracking would see it freed twice).
        let x = pool.get(1).unwrap();
        let y = pool.get(1).unwrap();
        assert_ne!(x.as_ptr(), y.as_ptr());
        let misses = pool.stats().class(0).unwrap().misses;
        assert!(misses == 2 || misses == 3, "{misses}");
    });
}

#[test]
fn buf_outlives_owned_pool() {
    // A buffer used and dropped on another thread while its owned pool is dropped: its bytes
    // stay valid (loom's tracked allocation fails a use after free), and it is freed exactly
    // once (loom fails a double free or a leak at the end of the execution).
    loom::model(|| {
        slackwater_pool::loom_internals::reset_shards();
        let pool = tiny_pool(1);
        let mut b = pool.get(1).unwrap();
        b.extend_from_slice(&[7]).unwrap();
        let t = thread::spawn(move || {
            assert_eq!(&b[..], &[7], "the bytes survive the pool's drop");
            drop(b);
        });
        drop(pool);
        t.join().unwrap();
    });
}
