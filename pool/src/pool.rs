//! [`Pool`]: heap-backed size classes with lock-free shared lists and per-thread caches.

use crate::PoolError;
use crate::buf::{Buf, Home, HomeRef, Release};
use crate::config::{Config, MAX_CLASSES};
use crate::stack::IndexStack;
use crate::stats::{ClassStats, Stats};
use crate::sync::{
    AtomicPtr, AtomicU32, AtomicUsize, CachePadded, Ordering, OwnedCell, OwnedCounter, alloc,
    dealloc,
};
use alloc::boxed::Box;
use core::alloc::Layout;
use core::ptr::{self, NonNull};

/// Alignment of every pooled allocation: what `malloc` gives anyway, so the system allocator
/// takes its fast path.
pub(crate) const ALIGN: usize = 16;

/// Per-thread shards per class: one cached buffer, the trim epoch last acted on, counters.
#[cfg(feature = "std")]
const SHARDS: usize = crate::tls::SHARDS;
#[cfg(not(feature = "std"))]
const SHARDS: usize = 0;

/// The calling thread's shard, claiming one if it has none and one is free.
#[inline]
fn my_shard() -> Option<usize> {
    #[cfg(feature = "std")]
    {
        crate::tls::shard()
    }
    #[cfg(not(feature = "std"))]
    {
        None
    }
}

/// The calling thread's shard if it already holds one (the fast paths: no claim, no call).
#[inline(always)]
fn held_shard() -> Option<usize> {
    #[cfg(feature = "std")]
    {
        crate::tls::held()
    }
    #[cfg(not(feature = "std"))]
    {
        None
    }
}

/// One class's part of one per-thread shard. Everything here is written only by the thread
/// holding the shard (see `crate::tls`), so the owner uses plain loads and stores only.
struct Shard {
    /// One idle buffer cached for the owner (null when empty).
    cached: OwnedCell<*mut u8>,
    /// The pool's trim epoch this shard last acted on. The same value is kept in this shard's
    /// part of every class of the pool (all are updated together).
    seen: OwnedCell<usize>,
    gets: OwnedCounter,
    puts: OwnedCounter,
    misses: OwnedCounter,
    frees: OwnedCounter,
}

/// Counters any thread may bump (threads without a shard, `trim`, unpooled buffers).
#[derive(Default)]
struct Counters {
    gets: AtomicUsize,
    puts: AtomicUsize,
    misses: AtomicUsize,
    frees: AtomicUsize,
}

impl Counters {
    fn add(c: &AtomicUsize, n: usize) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// Totals of the four counters of a class (wrapping arithmetic).
#[derive(Default, Clone, Copy)]
struct Totals {
    gets: usize,
    puts: usize,
    misses: usize,
    frees: usize,
}

/// One size class of a heap pool.
pub(crate) struct Class {
    size: usize,
    layout: Layout,
    zeroing: bool,
    /// A copy of `Inner::counted`, so a return to a static pool reads nothing of `Inner` but
    /// its epoch.
    counted: bool,
    inner: *const Inner,
    /// `slots[i]` is the idle buffer held by slot `i` while `i` is on `idle`.
    slots: Box<[AtomicPtr<u8>]>,
    /// Successor links for both stacks (a slot is on at most one of them).
    next: Box<[AtomicU32]>,
    /// Slots holding an idle buffer.
    idle: IndexStack,
    /// Slots holding nothing.
    vacant: IndexStack,
    /// Inline, not boxed: the fast paths reach a shard by address arithmetic on the class,
    /// without a load of a separate array's pointer.
    shards: [CachePadded<Shard>; SHARDS],
    shared: CachePadded<Counters>,
}

// SAFETY: every field shared between threads is atomic, or an `OwnedCell` accessed only by the
// holder of its shard (the claim orders successive holders); `inner` is only used to reach the
// atomic epoch, flag and reference count of the `Inner` that owns this class.
unsafe impl Sync for Class {}
// SAFETY: as above; the raw pointers are owned by the pool, not by a thread.
unsafe impl Send for Class {}

impl Class {
    fn new(size: usize, limit: usize, zeroing: bool, counted: bool) -> Self {
        let next: Box<[AtomicU32]> = (0..limit).map(|_| AtomicU32::new(0)).collect();
        let vacant = IndexStack::new_full(limit, &next);
        Class {
            size,
            // `Config::build` guarantees 0 < size <= isize::MAX, and ALIGN is a power of two,
            // so this only fails for sizes within 16 bytes of isize::MAX; such a class then
            // never allocates (every `get` reports `CapacityOverflow`).
            layout: Layout::from_size_align(size, ALIGN).unwrap_or(Layout::new::<u8>()),
            zeroing,
            counted,
            inner: ptr::null(),
            slots: (0..limit)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            next,
            idle: IndexStack::new(limit),
            vacant,
            shards: core::array::from_fn(|_| {
                CachePadded(Shard {
                    cached: OwnedCell::new(ptr::null_mut()),
                    seen: OwnedCell::new(0),
                    gets: OwnedCounter::new(),
                    puts: OwnedCounter::new(),
                    misses: OwnedCounter::new(),
                    frees: OwnedCounter::new(),
                })
            }),
            shared: CachePadded(Counters::default()),
        }
    }

    #[inline]
    fn count(
        &self,
        shard: Option<usize>,
        pick: impl Fn(&Shard) -> &OwnedCounter,
        pick_shared: impl Fn(&Counters) -> &AtomicUsize,
    ) {
        match shard {
            Some(k) => pick(&self.shards[k]).bump(1),
            None => Counters::add(pick_shared(&self.shared), 1),
        }
    }

    /// The pool state this class belongs to.
    #[inline]
    fn inner(&self) -> &Inner {
        // SAFETY: `inner` is set when the `Inner` is built and the class lives inside it.
        unsafe { &*self.inner }
    }

    /// Takes an idle buffer or allocates one. Does not touch the pool's reference count.
    ///
    /// Fast path (the caller's shard caches one): a plain load and store of the cache slot and
    /// a plain increment of the shard's counter; no atomic read-modify-write, no fence.
    #[inline(always)]
    fn get(&self) -> Result<NonNull<u8>, PoolError> {
        if let Some(k) = held_shard() {
            // SAFETY: `held_shard` returns indices below `SHARDS`, the length of `shards`.
            let s = unsafe { self.shards.get_unchecked(k) };
            // SAFETY: this thread holds shard `k`, so it alone accesses `cached`.
            if let Some(p) = NonNull::new(unsafe { s.cached.get() }) {
                // SAFETY: as above.
                unsafe { s.cached.set(ptr::null_mut()) };
                s.gets.bump(1);
                return Ok(p);
            }
        }
        self.get_slow()
    }

    /// `get` when the caller's cache is empty (or it has no shard): the shared list, or the
    /// allocator.
    #[cold]
    #[inline(never)]
    fn get_slow(&self) -> Result<NonNull<u8>, PoolError> {
        let shard = my_shard();
        if let Some(k) = shard {
            // A trim since this thread last looked: free what its shard still caches.
            // SAFETY: this thread holds shard `k`.
            unsafe { self.inner().sync(k) };
        }
        if let Some(i) = self.idle.pop(&self.next) {
            // Acquire in `pop` orders this load after the pusher's store.
            let p = self.slots[i].swap(ptr::null_mut(), Ordering::Relaxed);
            self.vacant.push(i, &self.next);
            if let Some(p) = NonNull::new(p) {
                self.count(shard, |s| &s.gets, |c| &c.gets);
                return Ok(p);
            }
        }
        if self.layout.size() != self.size {
            return Err(PoolError::CapacityOverflow {
                requested: self.size,
            });
        }
        // SAFETY: the layout has a non-zero size (Config::build rejects 0).
        let p = NonNull::new(unsafe { alloc(self.layout) })
            .ok_or(PoolError::AllocFailed { size: self.size })?;
        self.count(shard, |s| &s.gets, |c| &c.gets);
        self.count(shard, |s| &s.misses, |c| &c.misses);
        Ok(p)
    }

    /// Frees one allocation of this class.
    ///
    /// # Safety
    /// `p` was allocated by this class and is owned by the caller.
    unsafe fn free(&self, p: NonNull<u8>) {
        // SAFETY: allocated by `alloc(self.layout)` in `get`.
        unsafe { dealloc(p.as_ptr(), self.layout) }
    }

    /// Frees the buffer shard `k` caches for this class, if any; returns how many (0 or 1).
    ///
    /// # Safety
    /// The caller holds shard `k` (or has the whole pool state to itself).
    unsafe fn drain(&self, k: usize) -> usize {
        let s = &self.shards[k];
        // SAFETY: the caller holds shard `k`, so it alone accesses `cached`.
        let Some(p) = NonNull::new(unsafe { s.cached.get() }) else {
            return 0;
        };
        // SAFETY: as above.
        unsafe { s.cached.set(ptr::null_mut()) };
        // SAFETY: the cache slot held the only reference; it is empty now.
        unsafe { self.free(p) };
        s.frees.bump(1);
        1
    }

    /// Returns every buffer of the shared list to the allocator; returns how many.
    fn trim_shared(&self) -> usize {
        let mut n = 0;
        while let Some(i) = self.idle.pop(&self.next) {
            let p = self.slots[i].swap(ptr::null_mut(), Ordering::Relaxed);
            self.vacant.push(i, &self.next);
            if let Some(p) = NonNull::new(p) {
                // SAFETY: popping the slot made this thread the buffer's only owner.
                unsafe { self.free(p) };
                n += 1;
            }
        }
        Counters::add(&self.shared.frees, n);
        n
    }

    fn totals(&self) -> Totals {
        let mut t = Totals {
            gets: self.shared.gets.load(Ordering::Relaxed),
            puts: self.shared.puts.load(Ordering::Relaxed),
            misses: self.shared.misses.load(Ordering::Relaxed),
            frees: self.shared.frees.load(Ordering::Relaxed),
        };
        for s in self.shards.iter() {
            t.gets = t.gets.wrapping_add(s.gets.get());
            t.puts = t.puts.wrapping_add(s.puts.get());
            t.misses = t.misses.wrapping_add(s.misses.get());
            t.frees = t.frees.wrapping_add(s.frees.get());
        }
        t
    }

    fn stats(&self) -> ClassStats {
        let t = self.totals();
        let in_use = nonneg(t.gets.wrapping_sub(t.puts));
        let live = nonneg(t.misses.wrapping_sub(t.frees));
        let idle = live.saturating_sub(in_use);
        ClassStats {
            size: self.size,
            in_use,
            idle,
            hits: nonneg(t.gets.wrapping_sub(t.misses)),
            misses: t.misses,
            bytes_retained: idle.saturating_mul(self.size),
            retention_limit: self.slots.len(),
        }
    }

    /// `put` when the fast path did not apply: a zeroing pool, a trim since the caller's
    /// shard last looked, a full cache, no shard, or a dropped static pool. Then drops the
    /// buffer's reference on the pool, as `put` does (so `put` can jump here and be done).
    ///
    /// # Safety
    /// As for `put`.
    #[cold]
    #[inline(never)]
    unsafe fn put_slow(this: NonNull<Class>, p: NonNull<u8>) {
        // SAFETY: as in `put`: `c` is not used after the reference is dropped.
        let c = unsafe { this.as_ref() };
        let (inner, counted) = (c.inner, c.counted);
        // SAFETY: the caller's contract.
        unsafe { c.put_back(p, my_shard()) };
        if counted {
            // SAFETY: the buffer held one reference of a counted pool; `c` is not used any
            // more.
            unsafe { Inner::release_counted(inner) };
        }
    }

    /// The body of `put_slow`, before the reference is dropped.
    ///
    /// # Safety
    /// As for `put`.
    unsafe fn put_back(&self, p: NonNull<u8>, shard: Option<usize>) {
        if self.zeroing {
            // SAFETY: the caller gives back its `size`-byte allocation.
            unsafe { scrub(p, self.size) };
        }
        let inner = self.inner();
        if let Some(k) = shard {
            let s = &self.shards[k];
            // SAFETY: this thread holds shard `k`, so it alone accesses `cached`.
            if unsafe { inner.sync(k) } && unsafe { s.cached.get() }.is_null() {
                // SAFETY: as above.
                unsafe { s.cached.set(p.as_ptr()) };
                s.puts.bump(1);
                return;
            }
        }
        if inner.state.closed.load(Ordering::Acquire) != 0 {
            // SAFETY: the caller gives up the buffer, which this class allocated.
            unsafe { self.free(p) };
            self.count(shard, |s| &s.puts, |c| &c.puts);
            self.count(shard, |s| &s.frees, |c| &c.frees);
            return;
        }
        if let Some(i) = self.vacant.pop(&self.next) {
            self.slots[i].store(p.as_ptr(), Ordering::Relaxed);
            // Release in `push` publishes the store above.
            self.idle.push(i, &self.next);
            self.count(shard, |s| &s.puts, |c| &c.puts);
        } else {
            // Retention limit reached.
            // SAFETY: the caller gives up the buffer, which this class allocated.
            unsafe { self.free(p) };
            self.count(shard, |s| &s.puts, |c| &c.puts);
            self.count(shard, |s| &s.frees, |c| &c.frees);
        }
    }

    /// Takes back a buffer this class handed out (called by `Buf::drop`, inlined there), then
    /// drops the reference the buffer held on the pool (owned pools), which may free the pool
    /// state and this class with it: hence a pointer, not `&self`, and no use of the class
    /// after that.
    ///
    /// Fast path (no zeroing, the caller's shard in step with the pool's trim epoch and its
    /// cache slot empty): a plain load of the epoch, plain loads and stores of the shard; no
    /// atomic read-modify-write, no fence (owned pools add their reference decrement).
    ///
    /// # Safety
    /// `this` is the class that handed `p` out, and `p` is given back once (the contract of
    /// `Home::put`). The class outlives its buffers: it lives inside an `Inner` that is freed
    /// only when its reference count (held by the handle and, for counted pools, by every
    /// outstanding buffer) reaches zero, or never (uncounted pools are leaked when dropped).
    #[inline(always)]
    pub(crate) unsafe fn put(this: NonNull<Class>, p: NonNull<u8>) {
        // SAFETY: the buffer's reference (or the static pool's never-freed state) keeps the
        // class alive; `c` is not used after that reference is dropped below.
        let c = unsafe { this.as_ref() };
        let (inner, counted) = (c.inner, c.counted);
        'slow: {
            if c.zeroing {
                break 'slow;
            }
            let Some(k) = held_shard() else { break 'slow };
            // SAFETY: `held_shard` returns indices below `SHARDS`, the length of `shards`.
            let s = unsafe { c.shards.get_unchecked(k) };
            // SAFETY: this thread holds shard `k`, so it alone accesses `seen` and `cached`.
            let (seen, cached) = unsafe { (s.seen.get(), s.cached.get()) };
            // `seen` never equals the epoch of a closed pool (see `Inner::drain_shard`).
            if seen != c.inner().state.epoch.load(Ordering::Relaxed) || !cached.is_null() {
                break 'slow;
            }
            // SAFETY: as above.
            unsafe { s.cached.set(p.as_ptr()) };
            s.puts.bump(1);
            if counted {
                // SAFETY: the buffer held one reference of a counted pool; `c` is not used any more.
                unsafe { Inner::release_counted(inner) };
            }
            return;
        }
        // SAFETY: the caller's contract, passed on; `c` is not used any more.
        unsafe { Class::put_slow(this, p) }
    }
}

/// A wrapped difference read while other threads run can be transiently "negative"; report 0.
fn nonneg(v: usize) -> usize {
    if v > isize::MAX as usize { 0 } else { v }
}

/// Buffers above the largest class: allocated exactly, freed on return.
pub(crate) struct Unpooled {
    zeroing: bool,
    inner: *const Inner,
    counters: Counters,
}

// SAFETY: counters are atomic; `inner` is used only for the atomic reference count.
unsafe impl Sync for Unpooled {}
// SAFETY: as above.
unsafe impl Send for Unpooled {}

impl Unpooled {
    fn get(&self, n: usize) -> Result<NonNull<u8>, PoolError> {
        let layout = Layout::from_size_align(n, ALIGN)
            .map_err(|_| PoolError::CapacityOverflow { requested: n })?;
        // SAFETY: `n` is above the largest class, so non-zero.
        let p = NonNull::new(unsafe { alloc(layout) }).ok_or(PoolError::AllocFailed { size: n })?;
        Counters::add(&self.counters.gets, 1);
        Counters::add(&self.counters.misses, 1);
        Ok(p)
    }

    fn stats(&self) -> ClassStats {
        let gets = self.counters.gets.load(Ordering::Relaxed);
        let puts = self.counters.puts.load(Ordering::Relaxed);
        ClassStats {
            size: 0,
            in_use: nonneg(gets.wrapping_sub(puts)),
            idle: 0,
            hits: 0,
            misses: self.counters.misses.load(Ordering::Relaxed),
            bytes_retained: 0,
            retention_limit: 0,
        }
    }
}

// SAFETY: as for `Class`: `Unpooled` lives inside the `Inner` its buffers keep alive.
unsafe impl Home for Unpooled {
    unsafe fn put(&self, p: NonNull<u8>, cap: usize) -> Option<Release> {
        if self.zeroing {
            // SAFETY: the caller gives back its `cap`-byte allocation.
            unsafe { scrub(p, cap) };
        }
        // SAFETY: `get` allocated `p` with exactly this layout (it was valid then).
        unsafe { dealloc(p.as_ptr(), Layout::from_size_align_unchecked(cap, ALIGN)) };
        Counters::add(&self.counters.puts, 1);
        Counters::add(&self.counters.frees, 1);
        Inner::deferred_release(self.inner)
    }
}

/// Zeroes `len` bytes at `p` in a way the optimizer keeps: the memory is handed to another
/// owner right after, so the writes cannot be proven dead.
///
/// # Safety
/// `p` is valid for writes of `len` bytes and owned by the caller.
unsafe fn scrub(p: NonNull<u8>, len: usize) {
    // SAFETY: the caller's contract.
    unsafe { ptr::write_bytes(p.as_ptr(), 0, len) };
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// What every return reads and only `trim` and the drop of a static pool write, on a cache
/// line of its own (an owned pool's reference count next to it would be written constantly).
struct PoolState {
    /// Bumped by every `trim`: a shard whose `seen` differs frees what it caches, the next
    /// time its holder returns a buffer or misses its cache.
    epoch: AtomicUsize,
    /// Non-zero once a static (uncounted) pool's handle was dropped: its state is leaked so
    /// late buffers stay sound, and those buffers are freed on return instead of kept.
    closed: AtomicUsize,
}

/// The shared state of one pool.
pub(crate) struct Inner {
    /// The handle's reference plus one per outstanding buffer (counted pools only).
    refs: CachePadded<AtomicUsize>,
    state: CachePadded<PoolState>,
    counted: bool,
    /// Inline, not boxed: `get` reaches its class by address arithmetic on the state, one
    /// dependent load fewer. The first `n` are the configured classes; the rest are empty
    /// (no slots, nothing allocated) and never used.
    classes: [Class; MAX_CLASSES],
    /// How many of `classes` are configured.
    n: usize,
    unpooled: Unpooled,
}

impl Inner {
    /// The configured classes.
    #[inline(always)]
    fn classes(&self) -> &[Class] {
        &self.classes[..self.n]
    }

    fn new_boxed(config: &Config, counted: bool) -> *mut Inner {
        let classes: [Class; MAX_CLASSES] = core::array::from_fn(|i| {
            if i < config.n {
                Class::new(config.sizes[i], config.limits[i], config.zeroing, counted)
            } else {
                Class::new(0, 0, config.zeroing, counted)
            }
        });
        let inner = Box::into_raw(Box::new(Inner {
            refs: CachePadded(AtomicUsize::new(1)),
            state: CachePadded(PoolState {
                epoch: AtomicUsize::new(0),
                closed: AtomicUsize::new(0),
            }),
            counted,
            classes,
            n: config.n,
            unpooled: Unpooled {
                zeroing: config.zeroing,
                inner: ptr::null(),
                counters: Counters::default(),
            },
        }));
        // SAFETY: freshly allocated and not shared yet; set the back pointers.
        unsafe {
            for c in (*inner).classes.iter_mut() {
                // The unused classes' back pointers are set too (harmless, never followed).
                c.inner = inner;
            }
            (*inner).unpooled.inner = inner;
        }
        // Exiting threads empty their shards of every registered state (`crate::tls`).
        #[cfg(feature = "std")]
        crate::tls::register(inner);
        inner
    }

    /// Brings shard `k` in step with the pool's trim epoch: if a `trim` (or the drop of a
    /// static pool) happened since the shard last looked, frees what it caches in every class.
    /// Returns whether the shard may cache again (it is in step and the pool is not closed).
    ///
    /// # Safety
    /// The caller holds shard `k`.
    unsafe fn sync(&self, k: usize) -> bool {
        // Acquire: pairs with the Release bump of a closing drop, so `closed` is seen below.
        let e = self.state.epoch.load(Ordering::Acquire);
        let Some(first) = self.classes().first() else {
            return false;
        };
        // SAFETY: the caller holds shard `k`.
        if unsafe { first.shards[k].seen.get() } == e {
            return true;
        }
        // SAFETY: as above.
        unsafe { self.drain_shard(k, e) };
        // SAFETY: as above.
        unsafe { first.shards[k].seen.get() == e }
    }

    /// Frees what shard `k` caches in every class, and records epoch `e` as seen unless the
    /// pool is closed (so the shard of a dropped static pool never takes the fast path, which
    /// does not look at `closed`). Returns how many buffers were freed.
    ///
    /// # Safety
    /// The caller holds shard `k`, and `e` was read from `state.epoch` (Acquire).
    unsafe fn drain_shard(&self, k: usize, e: usize) -> usize {
        let closed = self.state.closed.load(Ordering::Relaxed) != 0;
        let mut n = 0;
        for c in self.classes().iter() {
            // SAFETY: the caller holds shard `k`.
            n += unsafe { c.drain(k) };
            if !closed {
                // SAFETY: as above.
                unsafe { c.shards[k].seen.set(e) };
            }
        }
        n
    }

    /// Frees every idle buffer `trim` may free from here: the shared lists and the caller's
    /// own shard. Other threads' shards are left to their holders, who free what they cache
    /// when they next return a buffer or miss their cache (the epoch bump tells them), or when
    /// they exit.
    fn trim(&self) -> usize {
        // Release: a holder that sees the new epoch (Acquire, in `sync`) sees `closed` too.
        let e = self
            .state
            .epoch
            .fetch_add(1, Ordering::Release)
            .wrapping_add(1);
        let mut n = 0;
        if let Some(k) = my_shard() {
            // SAFETY: this thread holds shard `k`.
            n += unsafe { self.drain_shard(k, e) };
        }
        n + self.classes().iter().map(Class::trim_shared).sum::<usize>()
    }

    /// The thread holding shard `k` is exiting: moves what the shard caches to the shared
    /// lists (or frees it, when a list is full, a trim is pending for this shard or the pool
    /// was dropped), so the next holder of `k` starts empty.
    ///
    /// # Safety
    /// `inner` is alive for the call (the registry's lock is held and it is registered), and
    /// the caller holds shard `k`.
    #[cfg(feature = "std")]
    pub(crate) unsafe fn thread_exit(inner: *const Inner, k: usize) {
        // SAFETY: the caller's contract.
        let this = unsafe { &*inner };
        let e = this.state.epoch.load(Ordering::Acquire);
        let keep = this.state.closed.load(Ordering::Relaxed) == 0
            && this
                .classes()
                .first()
                // SAFETY: the caller holds shard `k`.
                .is_some_and(|c| unsafe { c.shards[k].seen.get() } == e);
        for c in this.classes().iter() {
            let s = &c.shards[k];
            // SAFETY: the caller holds shard `k`, so it alone accesses `cached`.
            let Some(p) = NonNull::new(unsafe { s.cached.get() }) else {
                continue;
            };
            // SAFETY: as above.
            unsafe { s.cached.set(ptr::null_mut()) };
            if keep && let Some(i) = c.vacant.pop(&c.next) {
                c.slots[i].store(p.as_ptr(), Ordering::Relaxed);
                // Release in `push` publishes the store above.
                c.idle.push(i, &c.next);
            } else {
                // SAFETY: the cache slot held the only reference; it is empty now.
                unsafe { c.free(p) };
                s.frees.bump(1);
            }
        }
    }

    /// The reference a returned buffer gives up, to be dropped by the caller of `put` once it
    /// no longer borrows anything inside `inner` (`None` for static pools, which count none).
    fn deferred_release(inner: *const Inner) -> Option<Release> {
        // SAFETY: the returning buffer's reference keeps `inner` alive for this read.
        if !unsafe { (*inner).counted } {
            return None;
        }
        unsafe fn run(target: *const ()) {
            // SAFETY: `Release::run`'s contract: the caller holds one reference.
            unsafe { Inner::release(target.cast::<Inner>()) }
        }
        Some(Release {
            target: inner.cast(),
            run,
        })
    }

    /// Drops one reference; frees the pool when it was the last.
    ///
    /// # Safety
    /// The caller holds one reference to `inner` and uses nothing of it afterwards.
    #[inline]
    unsafe fn release(inner: *const Inner) {
        // SAFETY: the caller's reference keeps `inner` alive for this read.
        let this = unsafe { &*inner };
        if !this.counted {
            return;
        }
        // SAFETY: the caller's contract, and the pool counts references.
        unsafe { Inner::release_counted(inner) }
    }

    /// `release` for a pool known to count references.
    ///
    /// # Safety
    /// As for `release`, and `inner` is a counted pool's state.
    #[inline]
    unsafe fn release_counted(inner: *const Inner) {
        // SAFETY: the caller's reference keeps `inner` alive for this decrement.
        if unsafe { &(*inner).refs }.fetch_sub(1, Ordering::Release) == 1 {
            // SAFETY: the count reached zero; nothing of `inner` is used here any more.
            unsafe { Inner::free_state(inner) };
        }
    }

    /// Frees the pool state after the last reference was dropped.
    ///
    /// # Safety
    /// The caller's decrement took the count to zero.
    #[cold]
    #[inline(never)]
    unsafe fn free_state(inner: *const Inner) {
        // SAFETY: the caller's contract keeps `inner` alive until the drop below.
        let this = unsafe { &*inner };
        // Acquire: synchronizes with every other reference's Release decrement. A load, not a
        // fence: ThreadSanitizer does not model fences (see `SharedBuf::drop`).
        this.refs.load(Ordering::Acquire);
        // SAFETY: the count reached zero: no handle and no buffer refers to it any more.
        unsafe { Inner::destroy(inner.cast_mut()) };
    }

    /// Frees a pool state nothing else refers to any more, except an exiting thread that may
    /// be walking the registry: it leaves the registry first (waiting for that thread, which
    /// holds the registry's lock), so that the `&mut` of its drop is exclusive.
    ///
    /// # Safety
    /// `inner` came from `new_boxed`, is freed once, and no handle or buffer refers to it.
    unsafe fn destroy(inner: *mut Inner) {
        #[cfg(feature = "std")]
        crate::tls::unregister(inner);
        // SAFETY: the caller's contract; no exiting thread reaches it any more.
        drop(unsafe { Box::from_raw(inner) });
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Nothing else refers to this state any more (the last reference is gone, and
        // `destroy` took it out of the registry before this drop), so every shard's cache may
        // be emptied here, whoever holds the shard: a thread touches shard `k` of this pool
        // only inside a `get`, a return or a `trim` of it, each of which holds a reference
        // (the handle's or a buffer's) that happened before this drop, or when it exits, under
        // the registry's lock, which `destroy` took after it.
        for c in self.classes().iter() {
            for k in 0..c.shards.len() {
                // SAFETY: `&mut self`: no other thread can access this state (see above).
                unsafe { c.drain(k) };
            }
            c.trim_shared();
        }
    }
}

/// A pool of reusable buffers in size classes.
///
/// `get(n)` hands out a [`Buf`] from the smallest class of at least `n` bytes; dropping the
/// `Buf` returns it. Requests above the largest class are allocated exactly and freed on drop.
/// Each class keeps idle buffers in a lock-free shared list (up to its retention limit) and,
/// under the `std` feature, one per thread in a private cache that its thread fills and
/// empties with plain loads and stores; [`trim`](Pool::trim) gives the shared lists, the
/// calling thread's cache and the caches of exited threads back to the allocator at once, and
/// has every other thread free its cached buffer (at most one per class) the next time it
/// returns a buffer to the pool or finds its cache empty.
///
/// Two kinds of pool, the same type:
/// * **Static** ([`Pool::new_static`], [`global`](crate::global)): `const`, meant for a
///   `static`. Buffers do not count references to the pool, so `get`/`put` touch no shared
///   counter. If such a pool is dropped anyway, it frees its idle buffers and leaks its
///   bookkeeping (about 47 KiB with the default classes: slot tables, and 16 thread shards in
///   each of the 8 class places), so buffers still out stay valid — sound, never a dangling
///   pointer — and are freed when they come back. What a live thread other than the dropping
///   one caches (at most one buffer per class) is freed when that thread next returns a
///   buffer of the pool, or when it exits.
/// * **Owned** ([`Pool::new`], [`Pool::with_config`]): every buffer holds a reference to the
///   pool's shared state, so the pool may be dropped before its buffers (they are freed when
///   they come back). Each `get` and each return costs one atomic increment/decrement on a
///   counter shared by all threads using the pool.
///
/// ```
/// use slackwater_pool::Pool;
/// let pool = Pool::new();
/// let mut buf = pool.get(1000).unwrap();        // from the 4 KiB class
/// buf.extend_from_slice(b"bytes").unwrap();
/// assert_eq!(pool.stats().in_use(), 1);
/// drop(buf);                                     // back to the pool
/// assert_eq!(pool.stats().in_use(), 0);
/// assert_eq!(pool.stats().idle(), 1);
/// pool.trim();                                   // and back to the allocator
/// assert_eq!(pool.stats().bytes_retained(), 0);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub struct Pool {
    inner: AtomicPtr<Inner>,
    config: Config,
    counted: bool,
    /// `lookup[b]`, where `b` is the bit length of `n - 1`: the first class larger than
    /// `2^(b-1)` (the number of classes if none), with `AMBIGUOUS` set when that class does
    /// not hold `2^b` bytes (then `class_index` scans on from there).
    lookup: [u8; usize::BITS as usize + 1],
}

/// Marks a `Pool::lookup` entry whose range is split by a class size: scan from there.
const AMBIGUOUS: u8 = 0x80;
const _: () = assert!(MAX_CLASSES < AMBIGUOUS as usize);

/// The class lookup table of `config` (see `Pool::lookup`).
const fn lookup_table(config: &Config) -> [u8; usize::BITS as usize + 1] {
    let mut t = [0u8; usize::BITS as usize + 1];
    let mut b = 0;
    while b < t.len() {
        // The requests with bit length `b` of `n - 1` are `2^(b-1) < n <= 2^b` (`n <= 1` for
        // b = 0): no class of at most `2^(b-1)` bytes holds any of them.
        let mut i = 0;
        if b > 0 {
            let floor = 1usize << (b - 1);
            while i < config.n && config.sizes[i] <= floor {
                i += 1;
            }
        }
        // Class `i` holds every request of the range if it holds `2^b`; past the last class,
        // none is held (unpooled).
        let whole = i == config.n || (b < usize::BITS as usize && config.sizes[i] >= 1 << b);
        t[b] = if whole { i as u8 } else { i as u8 | AMBIGUOUS };
        b += 1;
    }
    t
}

// Compile-time check that the class array fits the config.
const _: () = assert!(MAX_CLASSES <= u8::MAX as usize);

macro_rules! maybe_const {
    ($(#[$m:meta])* pub fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$m])* pub const fn $name($($arg: $ty),*) -> $ret $body
        #[cfg(loom)]
        $(#[$m])* pub fn $name($($arg: $ty),*) -> $ret $body
    };
}

impl Pool {
    maybe_const! {
        /// A static pool (`const`): for `static` items. See the type docs for what dropping
        /// one means.
        ///
        /// ```
        /// use slackwater_pool::{Config, Pool};
        /// static SMALL: Pool = Pool::new_static(
        ///     match Config::builder().class(64, 32).class(1024, 8).build() {
        ///         Ok(c) => c,
        ///         Err(_) => panic!("bad classes"),
        ///     },
        /// );
        /// let b = SMALL.get(100).unwrap();
        /// assert_eq!(b.capacity(), 1024);
        /// ```
        pub fn new_static(config: Config) -> Pool {
            let lookup = lookup_table(&config);
            Pool { inner: AtomicPtr::new(ptr::null_mut()), config, counted: false, lookup }
        }
    }

    /// An owned pool with the default classes (256 B, 4 KiB, 16 KiB, 32 KiB, 1 MiB).
    ///
    /// ```
    /// let pool = slackwater_pool::Pool::new();
    /// assert_eq!(pool.get(20_000).unwrap().capacity(), 32 * 1024);
    /// ```
    pub fn new() -> Pool {
        Pool::with_config(Config::DEFAULT)
    }

    /// An owned pool with the given classes. Its shared state is allocated here, once.
    ///
    /// ```
    /// use slackwater_pool::{Config, Pool};
    /// let cfg = Config::builder().class(512, 4).build().unwrap();
    /// let pool = Pool::with_config(cfg);
    /// assert_eq!(pool.get(600).unwrap().capacity(), 600); // above the largest: unpooled
    /// ```
    pub fn with_config(config: Config) -> Pool {
        let inner = Inner::new_boxed(&config, true);
        Pool {
            inner: AtomicPtr::new(inner),
            lookup: lookup_table(&config),
            config,
            counted: true,
        }
    }

    /// The pool's configuration.
    ///
    /// ```
    /// assert_eq!(slackwater_pool::global().config().class_sizes().len(), 5);
    /// ```
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The shared state, created on first use (lock-free: racing creators free the loser).
    #[inline(always)]
    fn inner(&self) -> &Inner {
        let p = self.inner.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: published with Release by `init`, and freed only after the handle drops.
            return unsafe { &*p };
        }
        self.init()
    }

    #[cold]
    fn init(&self) -> &Inner {
        let new = Inner::new_boxed(&self.config, self.counted);
        match self
            .inner
            .compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: just published; lives until the handle drops.
            Ok(_) => unsafe { &*new },
            Err(cur) => {
                // SAFETY: `new` was never published; only the registry (and an exiting thread
                // walking it) can see it.
                unsafe { Inner::destroy(new) };
                // SAFETY: another thread published `cur` with Release.
                unsafe { &*cur }
            }
        }
    }

    /// Takes a buffer of at least `n` bytes: from the smallest class that fits (its capacity is
    /// that class's size), or, above the largest class, a fresh allocation of exactly `n` bytes
    /// that is freed when dropped. The buffer starts empty (`len() == 0`).
    ///
    /// # Errors
    /// [`PoolError::CapacityOverflow`] if `n` exceeds `isize::MAX` (rounded up to the 16-byte
    /// alignment); [`PoolError::AllocFailed`] if the allocator returns no memory.
    ///
    /// ```
    /// use slackwater_pool::{Pool, PoolError};
    /// let pool = Pool::new();
    /// assert_eq!(pool.get(0).unwrap().capacity(), 256);
    /// assert!(matches!(pool.get(usize::MAX), Err(PoolError::CapacityOverflow { .. })));
    /// ```
    #[inline(always)]
    pub fn get(&self, n: usize) -> Result<Buf, PoolError> {
        let inner = self.inner();
        // Both arms yield plain values, so the `Buf` is built once, in registers.
        let i = self.class_index(n);
        // `i < self.config.n` (a field of the handle) rather than `inner.classes()`' length:
        // no load from the state before the class's own cache slot.
        let (p, cap, home) = match inner.classes.get(i) {
            Some(c) if i < self.config.n => (c.get()?, c.size, HomeRef::Class(NonNull::from(c))),
            _ => (
                inner.unpooled.get(n)?,
                n,
                HomeRef::Other(NonNull::from(&inner.unpooled as &dyn Home)),
            ),
        };
        if self.counted {
            // Relaxed, as for `Arc::clone`: the handle's own reference keeps `inner` alive.
            inner.refs.fetch_add(1, Ordering::Relaxed);
        }
        // `p` is an allocation of `cap` bytes handed out by `home` (a class of this pool, or
        // its unpooled allocations) to this buffer alone; `home` lives in `inner`, which the new
        // reference (or the static pool's never-freed state) keeps alive until it comes back.
        // SAFETY: as just said: a live allocation of `cap` bytes owned by this buffer alone.
        Ok(unsafe { Buf::from_home(p, cap, home) })
    }

    /// The index of the smallest class that holds `n` bytes (the number of classes above the
    /// largest), as `Config::class_for`, from the table built with the pool: one lookup by the
    /// bit length of `n - 1`; only when a class size lies strictly inside that power-of-two
    /// range (never with the default classes) a short scan.
    #[inline(always)]
    fn class_index(&self, n: usize) -> usize {
        let bits = (usize::BITS - n.saturating_sub(1).leading_zeros()) as usize;
        let t = self.lookup[bits];
        if t & AMBIGUOUS == 0 {
            return t as usize;
        }
        self.class_scan(n, (t & !AMBIGUOUS) as usize)
    }

    #[cold]
    #[inline(never)]
    fn class_scan(&self, n: usize, mut i: usize) -> usize {
        while i < self.config.n && n > self.config.sizes[i] {
            i += 1;
        }
        i
    }

    /// Returns idle buffers to the allocator, and returns how many it freed itself. Safe to
    /// call while other threads `get` and return buffers; buffers returned during the call may
    /// stay pooled.
    ///
    /// * Freed at once: every buffer of the shared lists, the calling thread's cached buffers,
    ///   and those cached by threads that have exited (their shards are taken over for the
    ///   time it takes to empty them).
    /// * Not freed at once: what another **live** thread caches, at most one buffer per class
    ///   per thread (its cache is filled and emptied with plain loads and stores, which no
    ///   other thread may race). `trim` bumps the pool's epoch instead, and that thread frees
    ///   its cached buffers the next time it returns a buffer to this pool or finds its cache
    ///   empty (one plain load of the epoch tells it), or when it calls `trim` itself. Until
    ///   then they count as idle in [`stats`](Pool::stats). To free everything now, call
    ///   `trim` on every thread that used the pool.
    ///
    /// ```
    /// let pool = slackwater_pool::Pool::new();
    /// drop(pool.get(100).unwrap());
    /// assert_eq!(pool.trim(), 1);                    // this thread's cache
    /// assert_eq!(pool.stats().idle(), 0);
    ///
    /// let pool = std::sync::Arc::new(slackwater_pool::Pool::new());
    /// let p = pool.clone();
    /// std::thread::spawn(move || drop(p.get(100).unwrap())).join().unwrap();
    /// assert_eq!(pool.trim(), 1);                    // an exited thread's cache
    /// ```
    pub fn trim(&self) -> usize {
        let p = self.inner.load(Ordering::Acquire);
        if p.is_null() {
            return 0;
        }
        // SAFETY: published and alive while the handle is.
        let inner = unsafe { &*p };
        inner.trim()
    }

    /// A snapshot of the per-class statistics. Exact when no other thread is using the pool;
    /// while they are, each number is a recent value.
    ///
    /// ```
    /// let pool = slackwater_pool::Pool::new();
    /// let a = pool.get(10).unwrap();
    /// drop(pool.get(10).unwrap());
    /// let s = pool.stats();
    /// assert_eq!(s.class(0).unwrap().in_use, 1);
    /// assert_eq!(s.class(0).unwrap().misses, 2);
    /// drop(a);
    /// ```
    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            classes: [ClassStats::default(); MAX_CLASSES],
            n: self.config.n,
            unpooled: ClassStats::default(),
        };
        for i in 0..self.config.n {
            s.classes[i].size = self.config.sizes[i];
            s.classes[i].retention_limit = self.config.limits[i];
        }
        let p = self.inner.load(Ordering::Acquire);
        if p.is_null() {
            return s;
        }
        // SAFETY: published and alive while the handle is.
        let inner = unsafe { &*p };
        for (i, c) in inner.classes().iter().enumerate() {
            s.classes[i] = c.stats();
        }
        s.unpooled = inner.unpooled.stats();
        s
    }
}

impl Default for Pool {
    fn default() -> Self {
        Pool::new()
    }
}

impl core::fmt::Debug for Pool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pool")
            .field("classes", &self.config.class_sizes())
            .field("counted", &self.counted)
            .finish()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let p = self.inner.load(Ordering::Acquire);
        if p.is_null() {
            return;
        }
        if self.counted {
            // SAFETY: the handle's own reference is given up here, once.
            unsafe { Inner::release(p) };
        } else {
            // Buffers of a static pool do not count references, so the state must outlive
            // them: leak the bookkeeping, free the idle buffers, and have buffers that come
            // back later freed rather than kept (a return racing with this drop may still
            // land in a list; that buffer is leaked with the bookkeeping). The epoch bump of
            // the trim (Release) publishes `closed` to every shard holder, whose next return
            // then frees its cache and the buffer.
            // SAFETY: the state is never freed for uncounted pools.
            let inner = unsafe { &*p };
            inner.state.closed.store(1, Ordering::Relaxed);
            inner.trim();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod lookup_tests {
    use super::*;

    /// The table is as precise as it can be: entry `b` (requests `2^(b-1) < n <= 2^b`, or
    /// `n <= 1` for `b = 0`) names a class without a scan exactly when one class (or none,
    /// above the largest) holds the whole range, and then it is that class. A less precise
    /// table would still give right answers through the scan, only slower, which no other
    /// test could see.
    #[test]
    fn the_lookup_table_is_exact_where_it_can_be() {
        let configs: [&[usize]; 5] = [
            &[256, 4096, 16384, 32768, 1 << 20],
            &[100, 1000, 3000, 5000, 70_000],
            &[48, 64, 96, 128, 192, 256, 384, 512],
            &[1, 2, 3, 5, 8, 13, 21, 34],
            &[4096, 4097, 6000, 1 << 20],
        ];
        for sizes in configs {
            let mut b = Config::builder();
            for &s in sizes {
                b = b.class(s, 1);
            }
            let cfg = b.build().expect("valid");
            let t = lookup_table(&cfg);
            let class = |n: usize| cfg.class_for(n).unwrap_or(sizes.len());
            for (bits, &entry) in t.iter().enumerate() {
                let (lo, hi) = match bits {
                    0 => (0, 1),
                    b if b == usize::BITS as usize => ((1usize << (b - 1)) + 1, usize::MAX),
                    b => ((1usize << (b - 1)) + 1, 1usize << b),
                };
                let one_class = class(lo) == class(hi);
                assert_eq!(entry & AMBIGUOUS == 0, one_class, "{sizes:?} b={bits}");
                assert_eq!(
                    (entry & !AMBIGUOUS) as usize,
                    class(lo),
                    "{sizes:?} b={bits}"
                );
            }
        }
    }
}

#[cfg(all(test, not(loom), feature = "std"))]
mod layout_tests {
    use super::*;

    /// The README's "2.3 KiB per class place, about 18 KiB per pool state" (before the slot
    /// tables, which depend on the retention limits): the price of the inline layout.
    #[test]
    fn the_inline_state_costs_what_the_readme_says() {
        assert_eq!(SHARDS, 16);
        assert_eq!(core::mem::size_of::<CachePadded<Shard>>(), 128);
        let class = core::mem::size_of::<Class>();
        assert!((2048..=2400).contains(&class), "{class}");
        let state = core::mem::size_of::<Inner>();
        assert!((MAX_CLASSES * 2048..=19 * 1024).contains(&state), "{state}");
    }
}
