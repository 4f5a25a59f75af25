//! Which per-thread shard (cache slot and counters) the calling thread owns.
//!
//! A thread claims one of [`SHARDS`] indices the first time it uses any pool, from one global
//! bitmap, and gives it back when it exits (its thread-local is destroyed). While it holds
//! index `k`, it is the only thread that writes shard `k` of every pool, which is what lets the
//! per-thread fast path use plain loads and stores for counters and for refilling its cache.
//! Threads beyond [`SHARDS`] (and code running after the thread-local was destroyed) use the
//! shared lists directly.

#[cfg(not(loom))]
use crate::sync::{AtomicU32, Ordering};
use core::cell::Cell;

/// How many threads at once get a private shard.
#[cfg(not(loom))]
pub(crate) const SHARDS: usize = 16;
/// Loom models run at most 4 threads; fewer shards keep the explored state space small.
#[cfg(loom)]
pub(crate) const SHARDS: usize = 4;

const UNCLAIMED: u8 = u8::MAX;

struct Claim {
    idx: Cell<u8>,
    /// The model execution this claim was made in (loom only).
    #[cfg(loom)]
    execution: Cell<usize>,
}

#[cfg(not(loom))]
impl Drop for Claim {
    fn drop(&mut self) {
        let i = self.idx.get();
        if i != UNCLAIMED {
            // Release: this thread's last stores to shard `i` happen before the next owner's
            // claim (an Acquire RMW on the same bitmap).
            with_claimed(|c| c.fetch_and(!(1u32 << i), Ordering::Release));
        }
    }
}

#[cfg(not(loom))]
static CLAIMED: AtomicU32 = AtomicU32::new(0);
#[cfg(not(loom))]
fn with_claimed<R>(f: impl FnOnce(&AtomicU32) -> R) -> R {
    f(&CLAIMED)
}

// Under loom, shards are handed out in order and never recycled within one execution
// (models use at most 4 threads), so one owner per shard holds without modelling the
// hand-over; `reset` starts every execution from shard 0. Loom's lazy statics cannot be used
// here: thread-locals of the model's main thread are destroyed after the model's shutdown.
// Loom runs a model's threads as coroutines on the test's own OS thread, so a plain
// thread-local counter is per model and deterministic.
// Loom may keep the main model thread's thread-locals from one execution to the next, so a
// claim also records the execution it belongs to.
#[cfg(loom)]
std::thread_local! {
    static NEXT: Cell<usize> = const { Cell::new(0) };
    static GEN: Cell<usize> = const { Cell::new(0) };
}
#[cfg(loom)]
pub(crate) fn reset() {
    NEXT.with(|n| n.set(0));
    GEN.with(|g| g.set(g.get() + 1));
}

#[cfg(not(loom))]
std::thread_local! {
    static CLAIM: Claim = const { Claim { idx: Cell::new(UNCLAIMED) } };
}
#[cfg(loom)]
loom::thread_local! {
    static CLAIM: Claim = Claim { idx: Cell::new(UNCLAIMED), execution: Cell::new(0) };
}

/// The shard the calling thread owns, claiming one if it has none and one is free.
#[inline]
pub(crate) fn shard() -> Option<usize> {
    CLAIM
        .try_with(|c| {
            #[cfg(loom)]
            {
                let now = GEN.with(Cell::get);
                if c.execution.get() != now {
                    c.execution.set(now);
                    c.idx.set(UNCLAIMED);
                }
            }
            let i = c.idx.get();
            if i != UNCLAIMED {
                return Some(i as usize);
            }
            let k = try_claim()?;
            c.idx.set(k as u8);
            Some(k)
        })
        .ok()
        .flatten()
}

#[cfg(loom)]
fn try_claim() -> Option<usize> {
    let k = NEXT.with(|n| {
        let k = n.get();
        n.set(k + 1);
        k
    });
    (k < SHARDS).then_some(k)
}

#[cfg(not(loom))]
#[cold]
fn try_claim() -> Option<usize> {
    with_claimed(|claimed| {
        let mut cur = claimed.load(Ordering::Relaxed);
        loop {
            let free = !cur & ((1u64 << SHARDS) - 1) as u32;
            if free == 0 {
                return None;
            }
            let k = free.trailing_zeros();
            match claimed.compare_exchange_weak(
                cur,
                cur | (1 << k),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(k as usize),
                Err(c) => cur = c,
            }
        }
    })
}
