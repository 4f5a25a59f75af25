//! Expanded key schedules in a slab of their own, so that releasing them gives memory back.
//!
//! An `aes-gcm` key schedule is an 848-byte heap block (two per connection, one per
//! direction). Dropped after a quiet spell ([`Conn::release_key_schedules`]), a `Box`ed
//! schedule goes back to the general allocator, which keeps the freed block resident between
//! the connection states still live around it: measured in the main job, releasing both
//! schedules of 10,000 idle connections lowered RSS by about 140 B per connection, not 1.7 KB.
//!
//! Here a schedule takes a fixed-size slot in a chunk of [`PAGES_PER_CHUNK`] pages that holds
//! nothing else. A freed slot is zeroized; a page whose slots are all free is handed back to
//! the OS (`madvise(MADV_DONTNEED)`: resident memory drops at once, the next touch maps a zero
//! page); a chunk with no live slot is freed, except one kept for reuse (its pages already
//! given back). Slots are taken lowest chunk first and lowest slot first, so live schedules
//! pack into few pages. One mutex guards a slab; it is taken once per schedule built or
//! dropped (on a connection's first use after a quiet spell), never per record.
//!
//! [`Conn::release_key_schedules`]: crate::Conn::release_key_schedules
#![allow(unsafe_code)]

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard};

/// Pages per chunk.
pub(crate) const PAGES_PER_CHUNK: usize = 16;

/// A type whose values live in a [`Slab`] of their own.
pub(crate) trait InSlab: Sized {
    /// The slab for this type.
    fn slab() -> &'static Slab;
}

/// Fixed-size slots for values of one type (see the module docs). Slabs are `static`s (one
/// per type, named by [`InSlab::slab`]), never dropped: their chunks live as long as the
/// process, less the pages and chunks given back as they empty.
pub(crate) struct Slab {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Slot size in bytes; 0 until the first allocation sets it.
    slot: usize,
    /// Page size in bytes; 0 until the first allocation reads it.
    page: usize,
    /// Sorted by address.
    chunks: Vec<Chunk>,
}

struct Chunk {
    base: NonNull<u8>,
    /// One bit per slot: set = free.
    free: Vec<u64>,
    live: usize,
    /// Live slots overlapping each page.
    page_live: [u16; PAGES_PER_CHUNK],
}

// SAFETY: `Chunk::base` is the start of a block only the slab (under its mutex) and the
// owners of its slots touch; nothing in it is tied to a thread.
unsafe impl Send for Inner {}

/// What a slab holds right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlabStats {
    /// Slots in use.
    pub live: usize,
    /// Chunks allocated (live or kept empty).
    pub chunks: usize,
    /// Pages with at least one live slot: the most the slab can keep resident.
    pub pages_live: usize,
    /// Page size in bytes (0 before the first allocation).
    pub page: usize,
}

impl Slab {
    /// An empty slab; nothing is allocated until the first value.
    pub(crate) const fn new() -> Slab {
        Slab {
            inner: Mutex::new(Inner {
                slot: 0,
                page: 0,
                chunks: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state is consistent between statements that can panic (only allocation
        // failure, which aborts), so a poisoned lock holds nothing half-done.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The slab's counts.
    pub(crate) fn stats(&self) -> SlabStats {
        let g = self.lock();
        SlabStats {
            page: g.page,
            live: g.chunks.iter().map(|c| c.live).sum(),
            chunks: g.chunks.len(),
            pages_live: g
                .chunks
                .iter()
                .map(|c| c.page_live.iter().filter(|&&n| n > 0).count())
                .sum(),
        }
    }

    /// A slot for a value of `layout` (every call with the same layout).
    fn alloc(&self, layout: Layout) -> NonNull<u8> {
        let mut g = self.lock();
        if g.slot == 0 {
            g.page = page_size();
            g.slot = layout
                .size()
                .max(1)
                .next_multiple_of(layout.align().max(16));
        }
        let (slot, page) = (g.slot, g.page);
        assert!(
            layout.size() <= slot && layout.align() <= page && slot.is_multiple_of(layout.align()),
            "one slab serves one type"
        );
        let i = match g.chunks.iter().position(|c| c.live < slots(slot, page)) {
            Some(i) => i,
            None => {
                let chunk = Chunk::new(slot, page);
                let at = g.chunks.partition_point(|c| c.base < chunk.base);
                g.chunks.insert(at, chunk);
                at
            }
        };
        let c = &mut g.chunks[i];
        let (w, bits) = c
            .free
            .iter()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .map(|(w, bits)| (w, *bits))
            .expect("a chunk with live < slots has a free bit");
        let s = w * 64 + bits.trailing_zeros() as usize;
        c.free[w] &= !(1 << (s % 64));
        c.live += 1;
        for p in pages_of(s, slot, page) {
            c.page_live[p] += 1;
        }
        // SAFETY: slot `s` lies inside the chunk (s < slots(slot, page)).
        unsafe { NonNull::new_unchecked(c.base.as_ptr().add(s * slot)) }
    }

    /// Zeroizes and frees the slot at `ptr`, gives back its pages if they hold no other live
    /// slot, and frees its chunk if empty (keeping one empty chunk).
    ///
    /// # Safety
    /// `ptr` came from [`Slab::alloc`] on this slab, is not used afterwards, and whatever
    /// value it held has been dropped.
    unsafe fn free(&self, ptr: NonNull<u8>) {
        let mut g = self.lock();
        let (slot, page) = (g.slot, g.page);
        let size = page * PAGES_PER_CHUNK;
        let i = g.chunks.partition_point(|c| c.base <= ptr) - 1;
        let c = &mut g.chunks[i];
        let off = ptr.as_ptr().addr() - c.base.as_ptr().addr();
        debug_assert!(off < size && off.is_multiple_of(slot));
        // SAFETY: the slot's `slot` bytes are ours (the caller gave the slot back) and
        // initialized or not, writing zeros to them is sound.
        unsafe { zeroize::Zeroize::zeroize(std::slice::from_raw_parts_mut(ptr.as_ptr(), slot)) };
        let s = off / slot;
        c.free[s / 64] |= 1 << (s % 64);
        c.live -= 1;
        for p in pages_of(s, slot, page) {
            c.page_live[p] -= 1;
            if c.page_live[p] == 0 {
                // SAFETY: page `p` of the chunk holds no live slot; nothing reads it until a
                // slot there is handed out again and written first.
                unsafe { give_back(c.base.as_ptr().add(p * page), page) };
            }
        }
        if c.live == 0 && g.chunks.iter().filter(|c| c.live == 0).count() > 1 {
            let c = g.chunks.remove(i);
            // SAFETY: the chunk came from `alloc::alloc` with this layout and has no live
            // slot left.
            unsafe { alloc::dealloc(c.base.as_ptr(), chunk_layout(page)) };
        }
    }
}

impl Chunk {
    fn new(slot: usize, page: usize) -> Chunk {
        let layout = chunk_layout(page);
        // SAFETY: the layout's size is non-zero.
        let base = unsafe { alloc::alloc(layout) };
        let Some(base) = NonNull::new(base) else {
            alloc::handle_alloc_error(layout)
        };
        let n = slots(slot, page);
        let mut free = vec![u64::MAX; n.div_ceil(64)];
        if !n.is_multiple_of(64) {
            *free.last_mut().expect("n > 0") = (1 << (n % 64)) - 1;
        }
        Chunk {
            base,
            free,
            live: 0,
            page_live: [0; PAGES_PER_CHUNK],
        }
    }
}

fn chunk_layout(page: usize) -> Layout {
    Layout::from_size_align(page * PAGES_PER_CHUNK, page).expect("page size is a power of two")
}

fn slots(slot: usize, page: usize) -> usize {
    page * PAGES_PER_CHUNK / slot
}

/// The pages slot `s` overlaps.
fn pages_of(s: usize, slot: usize, page: usize) -> std::ops::RangeInclusive<usize> {
    (s * slot / page)..=((s + 1) * slot - 1) / page
}

fn page_size() -> usize {
    #[cfg(not(miri))]
    {
        // SAFETY: sysconf has no memory-safety preconditions.
        usable_page_size(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
    }
    #[cfg(miri)]
    4096
}

/// What `sysconf(_SC_PAGESIZE)` said, if it is a power of two of at least 4 KiB; else 4 KiB
/// (a failed call says -1).
fn usable_page_size(p: libc::c_long) -> usize {
    match usize::try_from(p) {
        Ok(p) if p.is_power_of_two() && p >= 4096 => p,
        _ => 4096,
    }
}

/// Hands one page back to the OS; its contents read as zeros afterwards on Linux.
///
/// # Safety
/// `[at, at + len)` is memory of ours that nothing reads or writes meanwhile.
unsafe fn give_back(at: *mut u8, len: usize) {
    #[cfg(not(miri))]
    // SAFETY: the range is page-aligned memory of ours (caller); MADV_DONTNEED on private
    // anonymous memory only drops its contents. A failure leaves the page resident, harmless.
    unsafe {
        libc::madvise(at.cast(), len, libc::MADV_DONTNEED);
    }
    #[cfg(miri)]
    let _ = (at, len);
}

/// A value of `T` in `T`'s slab: like `Box<T>`, 8 bytes, its slot zeroized when dropped.
pub(crate) struct SlabBox<T: InSlab> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

// SAFETY: a `SlabBox<T>` owns its `T` like a `Box<T>` does; the slab it returns to is
// thread-safe.
unsafe impl<T: InSlab + Send> Send for SlabBox<T> {}
// SAFETY: as for `Box<T>`: `&SlabBox<T>` only gives `&T`.
unsafe impl<T: InSlab + Sync> Sync for SlabBox<T> {}

impl<T: InSlab> SlabBox<T> {
    /// Moves `value` into a slot.
    pub(crate) fn new(value: T) -> SlabBox<T> {
        let ptr = T::slab().alloc(Layout::new::<T>()).cast::<T>();
        // SAFETY: the slot is ours, large enough and aligned for `T`.
        unsafe { ptr.as_ptr().write(value) };
        SlabBox {
            ptr,
            _owns: PhantomData,
        }
    }
}

impl<T: InSlab> Deref for SlabBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the slot holds a live `T` for as long as `self` exists.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: InSlab> DerefMut for SlabBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes the access unique.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T: InSlab> Drop for SlabBox<T> {
    fn drop(&mut self) {
        // SAFETY: the slot holds a live `T` that nothing else owns; after dropping it the
        // slot goes back exactly once.
        unsafe {
            std::ptr::drop_in_place(self.ptr.as_ptr());
            T::slab().free(self.ptr.cast());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static SECRETS: Slab = Slab::new();
    static DROPS: AtomicUsize = AtomicUsize::new(0);

    /// 848 bytes, like an `aes-gcm` key schedule.
    struct Secret([u8; 848]);
    impl InSlab for Secret {
        fn slab() -> &'static Slab {
            &SECRETS
        }
    }
    impl Drop for Secret {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }

    static SMALL: Slab = Slab::new();
    struct Small(u64);
    impl InSlab for Small {
        fn slab() -> &'static Slab {
            &SMALL
        }
    }

    /// Tests sharing a static slab run one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn values_survive_and_drop_once() {
        let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let before = DROPS.load(Ordering::Relaxed);
        let mut v: Vec<SlabBox<Secret>> =
            (0..5u8).map(|i| SlabBox::new(Secret([i; 848]))).collect();
        v[2].0[7] = 99;
        for (i, b) in v.iter().enumerate() {
            assert_eq!(b.0[0], i as u8);
            assert_eq!(b.0[847], i as u8);
        }
        assert_eq!(v[2].0[7], 99);
        assert_eq!(SECRETS.stats().live, 5);
        drop(v);
        assert_eq!(DROPS.load(Ordering::Relaxed) - before, 5);
        assert_eq!(SECRETS.stats().live, 0);
    }

    #[test]
    fn a_freed_slot_is_zeroized() {
        let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let keep = SlabBox::new(Secret([0x5a; 848])); // keeps the chunk allocated
        let gone = SlabBox::new(Secret([0xa5; 848]));
        let at = gone.ptr.as_ptr().cast::<u8>();
        drop(gone);
        // SAFETY: the chunk is still allocated (`keep` lives in it) and every byte of the
        // freed slot was written (zeroized) by the slab.
        let slot = unsafe { std::slice::from_raw_parts(at, 848) };
        assert!(slot.iter().all(|&b| b == 0), "freed slot still holds bytes");
        assert!(keep.0.iter().all(|&b| b == 0x5a));
    }

    #[test]
    fn slots_are_reused_lowest_first_and_packed() {
        let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<SlabBox<Secret>> = (0..10).map(|_| SlabBox::new(Secret([1; 848]))).collect();
        let addrs: Vec<usize> = v.iter().map(|b| b.ptr.as_ptr().addr()).collect();
        assert!(
            addrs.windows(2).all(|w| w[1] == w[0] + 848),
            "consecutive slots: {addrs:x?}"
        );
        v.remove(3);
        v.remove(0);
        let a = SlabBox::new(Secret([2; 848]));
        let b = SlabBox::new(Secret([3; 848]));
        assert_eq!(a.ptr.as_ptr().addr(), addrs[0]);
        assert_eq!(b.ptr.as_ptr().addr(), addrs[3]);
        // 10 slots of 848 bytes overlap 3 pages.
        assert_eq!(SECRETS.stats().pages_live, 3);
    }

    #[test]
    fn empty_chunks_are_freed_but_one() {
        let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let per_chunk = slots(848, 4096);
        let n = per_chunk * 3 + 1;
        let v: Vec<SlabBox<Secret>> = (0..n).map(|_| SlabBox::new(Secret([4; 848]))).collect();
        let st = SECRETS.stats();
        assert_eq!((st.live, st.chunks), (n, 4));
        assert_eq!(st.pages_live, 3 * PAGES_PER_CHUNK + 1);
        drop(v);
        assert_eq!(
            SECRETS.stats(),
            SlabStats {
                live: 0,
                chunks: 1,
                pages_live: 0,
                page: 4096
            }
        );
        // The kept chunk serves again, its given-back pages included.
        let again: Vec<SlabBox<Secret>> = (0..per_chunk)
            .map(|i| SlabBox::new(Secret([i as u8; 848])))
            .collect();
        assert!(
            again
                .iter()
                .enumerate()
                .all(|(i, b)| b.0.iter().all(|&x| x == i as u8))
        );
        assert_eq!(SECRETS.stats().chunks, 1);
    }

    #[test]
    fn a_page_is_live_while_any_slot_on_it_is() {
        let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let per_page = 4096 / 16;
        let mut v: Vec<SlabBox<Small>> = (0..per_page as u64 + 1)
            .map(|i| SlabBox::new(Small(i)))
            .collect();
        assert_eq!(SMALL.stats().pages_live, 2);
        drop(v.pop());
        assert_eq!(SMALL.stats().pages_live, 1);
        v.truncate(1);
        assert_eq!(SMALL.stats().pages_live, 1);
        assert_eq!(v[0].0, 0);
        drop(v);
        assert_eq!(SMALL.stats().pages_live, 0);
    }

    #[test]
    fn odd_page_sizes_fall_back_to_4_kib() {
        for (said, used) in [(-1, 4096), (0, 4096), (2048, 4096), (12288, 4096)] {
            assert_eq!(usable_page_size(said), used, "{said}");
        }
        for p in [4096, 16384, 65536] {
            assert_eq!(usable_page_size(p), p as usize);
        }
    }

    #[test]
    fn a_slot_counts_only_for_the_pages_it_overlaps() {
        // 848-byte slots on 4 KiB pages: slot 4 spans pages 0 and 1, slot 5 page 1 only.
        assert_eq!(pages_of(0, 848, 4096), 0..=0);
        assert_eq!(pages_of(4, 848, 4096), 0..=1);
        assert_eq!(pages_of(5, 848, 4096), 1..=1);
        assert_eq!(pages_of(76, 848, 4096), 15..=15);
        let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        // Free every slot of the first page while the second stays live: only one page is.
        let per_page = 4096 / 16;
        let mut v: Vec<SlabBox<Small>> = (0..2 * per_page as u64)
            .map(|i| SlabBox::new(Small(i)))
            .collect();
        assert_eq!(SMALL.stats().pages_live, 2);
        v.drain(..per_page);
        assert_eq!(SMALL.stats().pages_live, 1);
        assert!(
            v.iter()
                .enumerate()
                .all(|(i, b)| b.0 == (per_page + i) as u64)
        );
    }

    /// A page with no live slot is no longer resident (`mincore`), one with a live slot is.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn a_free_page_goes_back_to_the_os() {
        let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        fn resident(at: *const u8) -> bool {
            let page = at.map_addr(|a| a & !4095).cast_mut();
            let mut v = 0u8;
            // SAFETY: one page of a live mapping (the slab's chunk), one status byte out.
            let r = unsafe { libc::mincore(page.cast(), 4096, &mut v) };
            assert_eq!(r, 0, "mincore: {}", std::io::Error::last_os_error());
            v & 1 == 1
        }
        // Two pages' worth of small slots; free every slot on the second page but one.
        let per_page = 4096 / 16;
        let mut v: Vec<SlabBox<Small>> = (0..2 * per_page as u64)
            .map(|i| SlabBox::new(Small(i)))
            .collect();
        let second = v[per_page].ptr.as_ptr().cast::<u8>();
        assert!(resident(second));
        v.truncate(per_page + 1);
        assert!(resident(second), "a live slot keeps its page");
        v.truncate(per_page);
        assert!(!resident(second), "a page with no live slot is given back");
        assert!(resident(v[0].ptr.as_ptr().cast()));
    }

    #[test]
    fn threads_share_a_slab() {
        let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let rounds = if cfg!(miri) { 20 } else { 2000 };
        let t: Vec<_> = (0..3u8)
            .map(|k| {
                std::thread::spawn(move || {
                    let mut held = Vec::new();
                    for i in 0..rounds {
                        held.push(SlabBox::new(Small(u64::from(k) << 32 | i)));
                        if i % 3 == 0 {
                            let b = held.swap_remove(0);
                            assert_eq!(b.0 >> 32, u64::from(k));
                        }
                    }
                    assert!(held.iter().all(|b| b.0 >> 32 == u64::from(k)));
                })
            })
            .collect();
        for t in t {
            t.join().expect("thread");
        }
        assert_eq!(SMALL.stats().live, 0);
        assert!(SMALL.stats().chunks <= 1);
    }
}
