//! An exiting thread gives its shard back, so threads started one after another keep getting
//! a private shard (and its cache) however many have come and gone. In a file of its own: it
//! counts on no other test in the process holding shards.

use slackwater_pool::{Config, Pool};
use std::sync::Arc;
use std::thread;

/// Threads started one after another, far more of them than there are shards (16), each with
/// the test's thread holding a shard beside it: each caches the buffer it returns (it has a
/// shard), and frees it as it exits (no shared list here). A shard not given back on exit
/// (`exit_shard` clearing the wrong bit) leaves the later threads without one: their buffer is
/// freed on return instead of cached.
#[test]
fn threads_one_after_another_each_get_a_shard_back_from_the_last() {
    // One class, no shared list: an idle buffer can only be in a thread's cache.
    let pool = Arc::new(Pool::with_config(
        Config::builder().class(64, 0).build().unwrap(),
    ));
    // This thread takes a shard (the lowest) and keeps it, so the others claim one above it.
    drop(pool.get(1).unwrap());
    assert_eq!(pool.stats().class(0).unwrap().idle, 1, "cached here");
    for i in 0..64 {
        let p = pool.clone();
        let cached = thread::spawn(move || {
            drop(p.get(1).unwrap());
            p.stats().class(0).unwrap().idle
        })
        .join()
        .unwrap();
        assert_eq!(
            cached, 2,
            "thread {i}: its buffer cached beside this thread's"
        );
        assert_eq!(
            pool.stats().class(0).unwrap().idle,
            1,
            "thread {i}: its cache freed as it exited"
        );
    }
}
