//! [`Pool`]: heap-backed size classes with lock-free shared lists and per-thread caches.

use crate::PoolError;
use crate::buf::{Buf, Home, Release};
use crate::config::{Config, MAX_CLASSES};
use crate::stack::IndexStack;
use crate::stats::{ClassStats, Stats};
use crate::sync::{AtomicPtr, AtomicU32, AtomicUsize, CachePadded, Ordering};
use alloc::alloc::{alloc, dealloc};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::ptr::{self, NonNull};

/// Alignment of every pooled allocation: what `malloc` gives anyway, so the system allocator
/// takes its fast path.
pub(crate) const ALIGN: usize = 16;

/// Per-thread shards per class: one cached buffer and the owner's counters.
#[cfg(feature = "std")]
const SHARDS: usize = crate::tls::SHARDS;
#[cfg(not(feature = "std"))]
const SHARDS: usize = 0;

/// The calling thread's shard, if it owns one.
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

/// Counters written only by a shard's owner thread (plain load + store).
struct Shard {
    /// One idle buffer cached for the owner (null when empty). Only the owner stores a
    /// non-null value; anyone (the owner's `get`, or `trim`) may swap it to null.
    cached: AtomicPtr<u8>,
    gets: crate::sync::OwnedCounter,
    puts: crate::sync::OwnedCounter,
    misses: crate::sync::OwnedCounter,
    frees: crate::sync::OwnedCounter,
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
    inner: *const Inner,
    /// `slots[i]` is the idle buffer held by slot `i` while `i` is on `idle`.
    slots: Box<[AtomicPtr<u8>]>,
    /// Successor links for both stacks (a slot is on at most one of them).
    next: Box<[AtomicU32]>,
    /// Slots holding an idle buffer.
    idle: IndexStack,
    /// Slots holding nothing.
    vacant: IndexStack,
    shards: Box<[CachePadded<Shard>]>,
    shared: CachePadded<Counters>,
}

// SAFETY: every field shared between threads is atomic; `inner` is only used to reach the
// (atomic) reference count of the `Inner` that owns this class.
unsafe impl Sync for Class {}
// SAFETY: as above; the raw pointers are owned by the pool, not by a thread.
unsafe impl Send for Class {}

impl Class {
    fn new(size: usize, limit: usize, zeroing: bool) -> Self {
        let next: Box<[AtomicU32]> = (0..limit).map(|_| AtomicU32::new(0)).collect();
        let vacant = IndexStack::new_full(limit, &next);
        Class {
            size,
            // `Config::build` guarantees 0 < size <= isize::MAX, and ALIGN is a power of two,
            // so this only fails for sizes within 16 bytes of isize::MAX; such a class then
            // never allocates (every `get` reports `CapacityOverflow`).
            layout: Layout::from_size_align(size, ALIGN).unwrap_or(Layout::new::<u8>()),
            zeroing,
            inner: ptr::null(),
            slots: (0..limit)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            next,
            idle: IndexStack::new(limit),
            vacant,
            shards: (0..SHARDS)
                .map(|_| {
                    CachePadded(Shard {
                        cached: AtomicPtr::new(ptr::null_mut()),
                        gets: crate::sync::OwnedCounter::new(),
                        puts: crate::sync::OwnedCounter::new(),
                        misses: crate::sync::OwnedCounter::new(),
                        frees: crate::sync::OwnedCounter::new(),
                    })
                })
                .collect(),
            shared: CachePadded(Counters::default()),
        }
    }

    #[inline]
    fn count(
        &self,
        shard: Option<usize>,
        pick: impl Fn(&Shard) -> &crate::sync::OwnedCounter,
        pick_shared: impl Fn(&Counters) -> &AtomicUsize,
    ) {
        match shard {
            Some(k) => pick(&self.shards[k]).bump(1),
            None => Counters::add(pick_shared(&self.shared), 1),
        }
    }

    /// Takes an idle buffer or allocates one. Does not touch the pool's reference count.
    #[inline]
    fn get(&self) -> Result<NonNull<u8>, PoolError> {
        let shard = my_shard();
        if let Some(k) = shard {
            let s = &self.shards[k];
            // Cheap check first, so a miss costs no locked instruction.
            if !s.cached.load(Ordering::Relaxed).is_null() {
                let p = s.cached.swap(ptr::null_mut(), Ordering::Acquire);
                if let Some(p) = NonNull::new(p) {
                    s.gets.bump(1);
                    return Ok(p);
                }
            }
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
        // Before allocating, take a buffer another thread's cache holds (a thread that exited
        // leaves one there). `swap` makes the taker its only owner, as in `trim`.
        for s in self.shards.iter() {
            if !s.cached.load(Ordering::Relaxed).is_null()
                && let Some(p) = NonNull::new(s.cached.swap(ptr::null_mut(), Ordering::Acquire))
            {
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

    /// Returns every idle buffer (thread caches included) to the allocator; returns how many.
    fn trim(&self) -> usize {
        let mut n = 0;
        for s in self.shards.iter() {
            if let Some(p) = NonNull::new(s.cached.swap(ptr::null_mut(), Ordering::Acquire)) {
                // SAFETY: the swap made this thread the buffer's only owner.
                unsafe { self.free(p) };
                n += 1;
            }
        }
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
}

/// A wrapped difference read while other threads run can be transiently "negative"; report 0.
fn nonneg(v: usize) -> usize {
    if v > isize::MAX as usize { 0 } else { v }
}

// SAFETY: `Class` outlives its buffers: it lives inside an `Inner` that is freed only when its
// reference count (held by the handle and, for counted pools, by every outstanding buffer)
// reaches zero, or never (uncounted pools are leaked when dropped).
unsafe impl Home for Class {
    #[inline]
    unsafe fn put(&self, p: NonNull<u8>, _cap: usize) -> Option<Release> {
        if self.zeroing {
            // SAFETY: the caller gives back its `size`-byte allocation.
            unsafe { scrub(p, self.size) };
        }
        let shard = my_shard();
        let inner = self.inner;
        // SAFETY: the returning buffer keeps `inner` alive (or it is never freed).
        let closed = unsafe { &*inner }.closed.load(Ordering::Relaxed) != 0;
        'done: {
            if closed {
                // SAFETY: the caller gives up the buffer, which this class allocated.
                unsafe { self.free(p) };
                self.count(shard, |s| &s.puts, |c| &c.puts);
                self.count(shard, |s| &s.frees, |c| &c.frees);
                break 'done;
            }
            if let Some(k) = shard {
                let s = &self.shards[k];
                // Only the owner (this thread) stores non-null, so if it is null now it stays
                // null until the store below.
                if s.cached.load(Ordering::Relaxed).is_null() && cache_put(&s.cached, p) {
                    s.puts.bump(1);
                    break 'done;
                }
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
        Inner::deferred_release(inner)
    }
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

/// Fills the owner's empty cache slot (the caller saw it null, and only the owner stores
/// non-null, so it is still null).
///
/// Natively this is a plain store: no locked instruction on the return path. Under loom it is
/// the equivalent `compare_exchange(null, p)`, which always succeeds given the invariant above:
/// loom 0.7 can let a `swap` by another thread read a value older than a plain store it
/// follows, an outcome the C++ memory model forbids (tokio-rs/loom#389; reproduced in
/// isolation while writing these models), and that false interleaving would "lose" the stored
/// buffer.
#[inline]
fn cache_put(slot: &AtomicPtr<u8>, p: NonNull<u8>) -> bool {
    #[cfg(not(loom))]
    {
        slot.store(p.as_ptr(), Ordering::Release);
        true
    }
    #[cfg(loom)]
    {
        slot.compare_exchange(
            ptr::null_mut(),
            p.as_ptr(),
            Ordering::Release,
            Ordering::Relaxed,
        )
        .is_ok()
    }
}

/// Zeroes `len` bytes at `p` in a way the optimizer keeps: the memory is handed to another
/// owner through an atomic right after, so the writes cannot be proven dead.
///
/// # Safety
/// `p` is valid for writes of `len` bytes and owned by the caller.
unsafe fn scrub(p: NonNull<u8>, len: usize) {
    // SAFETY: the caller's contract.
    unsafe { ptr::write_bytes(p.as_ptr(), 0, len) };
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// The shared state of one pool.
pub(crate) struct Inner {
    /// The handle's reference plus one per outstanding buffer (counted pools only).
    refs: AtomicUsize,
    counted: bool,
    /// Non-zero once a static (uncounted) pool's handle was dropped: its state is leaked so
    /// late buffers stay sound, and those buffers are freed on return instead of kept.
    closed: AtomicUsize,
    classes: Box<[Class]>,
    unpooled: Unpooled,
}

impl Inner {
    fn new_boxed(config: &Config, counted: bool) -> *mut Inner {
        let classes: Vec<Class> = (0..config.n)
            .map(|i| Class::new(config.sizes[i], config.limits[i], config.zeroing))
            .collect();
        let inner = Box::into_raw(Box::new(Inner {
            refs: AtomicUsize::new(1),
            counted,
            closed: AtomicUsize::new(0),
            classes: classes.into_boxed_slice(),
            unpooled: Unpooled {
                zeroing: config.zeroing,
                inner: ptr::null(),
                counters: Counters::default(),
            },
        }));
        // SAFETY: freshly allocated and not shared yet; set the back pointers.
        unsafe {
            for c in (*inner).classes.iter_mut() {
                c.inner = inner;
            }
            (*inner).unpooled.inner = inner;
        }
        inner
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
        if this.refs.fetch_sub(1, Ordering::Release) == 1 {
            // Acquire: synchronizes with every other reference's Release decrement. A load,
            // not a fence: ThreadSanitizer does not model fences (see `SharedBuf::drop`).
            this.refs.load(Ordering::Acquire);
            // SAFETY: the count reached zero: no handle and no buffer refers to it any more.
            drop(unsafe { Box::from_raw(inner.cast_mut()) });
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for c in self.classes.iter() {
            c.trim();
        }
    }
}

/// A pool of reusable buffers in size classes.
///
/// `get(n)` hands out a [`Buf`] from the smallest class of at least `n` bytes; dropping the
/// `Buf` returns it. Requests above the largest class are allocated exactly and freed on drop.
/// Each class keeps idle buffers in a lock-free shared list (up to its retention limit) and,
/// under the `std` feature, one per thread in a private cache; [`trim`](Pool::trim) gives all
/// of them back to the allocator.
///
/// Two kinds of pool, the same type:
/// * **Static** ([`Pool::new_static`], [`global`](crate::global)): `const`, meant for a
///   `static`. Buffers do not count references to the pool, so `get`/`put` touch no shared
///   counter. If such a pool is dropped anyway, it frees its idle buffers and leaks its
///   bookkeeping (about 40 KiB with the default classes: slot tables and 16 thread shards), so
///   buffers still out stay valid — sound, never a dangling pointer — and are freed when they
///   come back.
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
pub struct Pool {
    inner: AtomicPtr<Inner>,
    config: Config,
    counted: bool,
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
            Pool { inner: AtomicPtr::new(ptr::null_mut()), config, counted: false }
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
    #[inline]
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
                // SAFETY: `new` was never shared; nobody else can see it.
                drop(unsafe { Box::from_raw(new) });
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
    #[inline]
    pub fn get(&self, n: usize) -> Result<Buf, PoolError> {
        let inner = self.inner();
        let (p, cap, home): (NonNull<u8>, usize, NonNull<dyn Home>) = match self.config.class_for(n)
        {
            Some(i) => {
                let c = &inner.classes[i];
                (c.get()?, c.size, NonNull::from(c as &dyn Home))
            }
            None => (
                inner.unpooled.get(n)?,
                n,
                NonNull::from(&inner.unpooled as &dyn Home),
            ),
        };
        if inner.counted {
            // Relaxed, as for `Arc::clone`: the handle's own reference keeps `inner` alive.
            inner.refs.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: `p` is an allocation of `cap` bytes handed out by `home` to this buffer
        // alone; `home` lives in `inner`, which the new reference (or the static pool's
        // never-freed state) keeps alive until the buffer comes back.
        Ok(unsafe { Buf::from_raw(p, cap, home) })
    }

    /// Returns every idle buffer (in the shared lists and in every thread's cache) to the
    /// allocator, and returns how many were freed. Safe to call while other threads `get` and
    /// return buffers; buffers returned during the call may stay pooled.
    ///
    /// ```
    /// let pool = slackwater_pool::Pool::new();
    /// drop(pool.get(100).unwrap());
    /// assert_eq!(pool.trim(), 1);
    /// assert_eq!(pool.stats().idle(), 0);
    /// ```
    pub fn trim(&self) -> usize {
        let p = self.inner.load(Ordering::Acquire);
        if p.is_null() {
            return 0;
        }
        // SAFETY: published and alive while the handle is.
        let inner = unsafe { &*p };
        inner.classes.iter().map(Class::trim).sum()
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
        for (i, c) in inner.classes.iter().enumerate() {
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
            // land in a list; that buffer is leaked with the bookkeeping).
            // SAFETY: the state is never freed for uncounted pools.
            unsafe { &*p }.closed.store(1, Ordering::Release);
            self.trim();
        }
    }
}
