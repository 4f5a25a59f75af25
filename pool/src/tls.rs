//! Which per-thread shard (cache slots, trim epoch and counters) the calling thread owns, and
//! what happens to a shard when its thread exits.
//!
//! A thread claims one of [`SHARDS`] indices the first time it uses any pool, from one global
//! bitmap, and gives it back when it exits (its thread-local is destroyed). While it holds
//! index `k`, it is the only thread that reads or writes the owner-only parts of shard `k` of
//! every pool (the cached buffer, the epoch it last acted on) and the only one that writes
//! shard `k`'s counters: that is what lets the per-thread fast path use plain loads and stores
//! only. Threads beyond [`SHARDS`] (and code running after the thread-local was destroyed) use
//! the shared lists directly.
//!
//! Before giving its index back, an exiting thread empties shard `k` of every live pool (onto
//! the pool's shared list, or to the allocator if the list is full, a trim is pending or the
//! pool was dropped), so the next thread to claim `k` starts with empty caches. It finds the
//! pools in a registry of every pool state (a mutex-protected list, touched only when a pool
//! state is created or freed and when a thread exits); holding the registry's lock is what
//! keeps an owned pool's state from being freed under the exiting thread.
//!
//! Ordering: claiming is an `Acquire` read-modify-write of the bitmap and releasing a `Release`
//! one, so everything the previous holder did to a shard happens before anything the next
//! holder does.

use crate::pool::Inner;
use crate::sync::{AtomicU32, Mutex, Ordering};
use alloc::vec::Vec;
use core::cell::Cell;

/// How many threads at once get a private shard.
#[cfg(not(loom))]
pub(crate) const SHARDS: usize = 16;
/// Loom models run at most 4 threads; fewer shards keep the explored state space small.
#[cfg(loom)]
pub(crate) const SHARDS: usize = 4;

const _: () = assert!(SHARDS < 32);

const UNCLAIMED: u8 = u8::MAX;

/// A pool state in the registry.
struct Registered(*const Inner);
// SAFETY: only a pointer to a `Sync` pool state, used while the registry's lock is held.
unsafe impl Send for Registered {}

/// The process-wide shard bookkeeping.
struct Globals {
    /// Bit `k` set while a thread holds shard `k`.
    claimed: AtomicU32,
    /// Every pool state that is alive (static pools' states stay forever).
    pools: Mutex<Vec<Registered>>,
}

#[cfg(not(loom))]
static GLOBALS: Globals = Globals {
    claimed: AtomicU32::new(0),
    pools: Mutex::new(Vec::new()),
};
#[cfg(not(loom))]
#[inline]
fn with_globals<R>(f: impl FnOnce(&Globals) -> R) -> Option<R> {
    Some(f(&GLOBALS))
}

// Under loom the bookkeeping is made afresh for every model execution by `reset` (each model
// calls it first), so the model checker sees every claim, release and registry access,
// including those made by thread-local destructors when a model thread exits. Loom's lazy
// statics cannot hold it: thread-locals of the model's main thread are destroyed after the
// model's lazy statics. Loom runs a model's threads as coroutines on the test's own OS thread,
// so a plain `std` thread-local is per model and deterministic. Loom may keep the main model
// thread's thread-locals from one execution to the next, so a claim also records the execution
// it belongs to.
#[cfg(loom)]
std::thread_local! {
    static GLOBALS: core::cell::RefCell<Option<alloc::sync::Arc<Globals>>> =
        const { core::cell::RefCell::new(None) };
    static GEN: Cell<usize> = const { Cell::new(0) };
}
#[cfg(loom)]
fn with_globals<R>(f: impl FnOnce(&Globals) -> R) -> Option<R> {
    let g = GLOBALS.with(|g| g.borrow().clone())?;
    Some(f(&g))
}
#[cfg(loom)]
pub(crate) fn reset() {
    let fresh = alloc::sync::Arc::new(Globals {
        claimed: AtomicU32::new(0),
        pools: Mutex::new(Vec::new()),
    });
    GLOBALS.with(|g| *g.borrow_mut() = Some(fresh));
    GEN.with(|g| g.set(g.get() + 1));
}

/// Runs `f` on the registry, under its lock.
fn with_registry<R>(f: impl FnOnce(&mut Vec<Registered>) -> R) -> Option<R> {
    with_globals(|g| {
        // A panic while the lock was held left the list itself consistent.
        let mut pools = g.pools.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut pools)
    })
}

/// Adds a pool state to the registry (before it is shared).
pub(crate) fn register(inner: *const Inner) {
    with_registry(|pools| pools.push(Registered(inner)));
}

/// Removes a pool state from the registry; after this no exiting thread will touch it.
pub(crate) fn unregister(inner: *const Inner) {
    with_registry(|pools| pools.retain(|p| !core::ptr::eq(p.0, inner)));
}

// The calling thread's shard index, or `UNCLAIMED` / `GONE`.
//
// Natively a `const` thread-local without a destructor, so reading it is one load (no
// lazy-initialization or liveness check); the destructor that gives the shard back lives in a
// separate thread-local (`GUARD`) that is touched only when a shard is claimed.
#[cfg(not(loom))]
std::thread_local! {
    static IDX: Cell<u8> = const { Cell::new(UNCLAIMED) };
    static GUARD: Guard = const { Guard };
}

/// The thread's shard was given back (its thread-locals are being destroyed): from here on
/// this thread uses the shared lists.
#[cfg(not(loom))]
const GONE: u8 = UNCLAIMED - 1;
const _: () = assert!(SHARDS < (u8::MAX - 1) as usize);

/// Gives the thread's shard back when the thread exits.
#[cfg(not(loom))]
struct Guard;

#[cfg(not(loom))]
impl Drop for Guard {
    fn drop(&mut self) {
        // `IDX` has no destructor, so it is still readable here.
        let k = IDX.with(|i| i.replace(GONE));
        if (k as usize) < SHARDS {
            exit_shard(k as usize);
        }
    }
}

/// The shard the calling thread owns, claiming one if it has none and one is free.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn shard() -> Option<usize> {
    let i = IDX.with(Cell::get);
    if (i as usize) < SHARDS {
        return Some(i as usize);
    }
    if i == GONE {
        return None;
    }
    claim_for_this_thread()
}

/// The shard the calling thread holds, without claiming one: the fast paths use this, and
/// leave claiming to the slow paths (so the fast paths call nothing).
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn held() -> Option<usize> {
    let i = IDX.with(Cell::get);
    ((i as usize) < SHARDS).then_some(i as usize)
}

#[cfg(not(loom))]
#[cold]
#[inline(never)]
fn claim_for_this_thread() -> Option<usize> {
    // Register the destructor first: if this thread's thread-locals are already being
    // destroyed, it cannot be registered, and the thread must not take a shard it would
    // never give back.
    GUARD.try_with(|_| ()).ok()?;
    let k = try_claim()?;
    IDX.with(|i| i.set(k as u8));
    Some(k)
}

/// Empties shard `k` of every registered pool and gives the shard back; the calling thread
/// holds it and is exiting.
fn exit_shard(k: usize) {
    with_registry(|pools| {
        for p in pools.iter() {
            // SAFETY: a registered state is alive while the registry's lock is held
            // (`Inner::drop` unregisters it first), and this thread holds shard `k`.
            unsafe { Inner::thread_exit(p.0, k) };
        }
    });
    // Release: this thread's last accesses to shard `k` happen before the next holder's
    // claim (an Acquire read-modify-write of the same bitmap).
    with_globals(|g| g.claimed.fetch_and(!(1u32 << k), Ordering::Release));
}

#[cfg(loom)]
struct Claim {
    idx: Cell<u8>,
    /// The model execution this claim was made in.
    execution: Cell<usize>,
}

#[cfg(loom)]
impl Drop for Claim {
    fn drop(&mut self) {
        if self.execution.get() != GEN.with(Cell::get) {
            return; // a claim from an earlier model execution
        }
        let k = self.idx.get();
        if k != UNCLAIMED {
            exit_shard(k as usize);
        }
    }
}

#[cfg(loom)]
loom::thread_local! {
    static CLAIM: Claim = Claim { idx: Cell::new(UNCLAIMED), execution: Cell::new(0) };
}

/// As natively: the shard the calling thread holds (under loom, claiming one as `shard` does,
/// which the slow paths would do anyway).
#[cfg(loom)]
pub(crate) fn held() -> Option<usize> {
    shard()
}

/// The shard the calling thread owns, claiming one if it has none and one is free.
#[cfg(loom)]
pub(crate) fn shard() -> Option<usize> {
    CLAIM
        .try_with(|c| {
            let now = GEN.with(Cell::get);
            if c.execution.get() != now {
                c.execution.set(now);
                c.idx.set(UNCLAIMED);
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

#[cold]
fn try_claim() -> Option<usize> {
    with_globals(|g| {
        let claimed = &g.claimed;
        let all = (1u32 << SHARDS) - 1;
        let mut cur = claimed.load(Ordering::Relaxed);
        loop {
            let free = !cur & all;
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
    .flatten()
}
