//! A lock-free LIFO of small indices: a Treiber stack whose head is one word holding a tagged
//! index.
//!
//! # Algorithm
//! The stack of R. K. Treiber (*Systems Programming: Coping with Parallelism*, IBM RJ 5118,
//! 1986) over a fixed table of nodes addressed by index, with the ABA counter ("tag") of the
//! IBM System/370 free-list scheme. The head is a single `usize`:
//!
//! ```text
//!   | tag: usize::BITS - idx_bits | index: idx_bits |      index == NIL means "empty"
//! ```
//!
//! where `idx_bits` is the fewest bits that hold every index of the table plus the `NIL`
//! value. Each node's successor lives in `next[index]`, an `AtomicU32`.
//!
//! * `push(i)`: read head `h`; store `idx(h)` into `next[i]`; CAS head from `h` to
//!   `(tag(h) + 1, i)` with `Release`, so whoever pops `i` sees `next[i]` and everything the
//!   pusher wrote before (the buffer pointer in the slot).
//! * `pop()`: read head `h` with `Acquire`; if empty, return `None`; read `n = next[idx(h)]`;
//!   CAS head from `h` to `(tag(h) + 1, n)`.
//!
//! # Why it is correct
//! * **Single word, one CAS.** Both operations linearize at their successful CAS on the head,
//!   so the stack is a linearizable LIFO; a failed CAS means another operation succeeded, so
//!   the stack is lock-free (some thread always makes progress). No operation waits on another.
//! * **No use-after-free.** Nodes are indices into a table that lives as long as the stack; a
//!   popper that reads `next[i]` of a node another thread has meanwhile popped reads a stale
//!   but valid atomic, and its CAS then fails (next point).
//! * **ABA.** The classic failure is: thread A reads `h = (t, i)` and `n = next[i]`, stalls;
//!   others pop `i`, pop `n`, push `i` back; A's CAS would install the stale `n`. Here every
//!   successful CAS increments the tag, so the head A compares against is `(t, i)` while the
//!   current one is `(t + 3, i)`, and A's CAS fails. The failure needs the tag to come round to
//!   exactly the same value: `2^(usize::BITS - idx_bits)` successful operations on this one
//!   stack while A is stalled between two adjacent instructions. On 64-bit targets that is at
//!   least 2^48; on 32-bit targets (where no double-width CAS exists, e.g.
//!   `thumbv7em-none-eabihf`) with the default tables (≤ 1,024 entries) it is at least 2^21.
//!   This is the standard bound for single-word tagged heads; it is why tables are capped at
//!   65,535 entries.
//! * **Memory ordering.** A node's payload (the buffer pointer stored beside it) is written
//!   before the `Release` CAS of its push and read after the `Acquire` load of the pop that
//!   takes it, so the pair forms a happens-before edge. `next[i]` is written by the pusher
//!   before its `Release` CAS and read by a popper after its `Acquire` load of the head.

use crate::sync::{AtomicU32, AtomicUsize, Ordering};

/// The largest number of entries a table may have.
pub(crate) const MAX_ENTRIES: usize = u16::MAX as usize;

pub(crate) struct IndexStack {
    head: AtomicUsize,
    idx_bits: u32,
}

impl IndexStack {
    /// An empty stack, usable in `const` items (`core` atomics only).
    #[cfg(not(loom))]
    pub(crate) const fn new_const(entries: usize) -> Self {
        let idx_bits = idx_bits(entries);
        Self {
            head: AtomicUsize::new(nil(idx_bits)),
            idx_bits,
        }
    }

    /// An empty stack for a table of `entries` nodes (`entries <= MAX_ENTRIES`).
    pub(crate) fn new(entries: usize) -> Self {
        let idx_bits = idx_bits(entries);
        Self {
            head: AtomicUsize::new(nil(idx_bits)),
            idx_bits,
        }
    }

    /// A stack already holding `0, 1, …, entries - 1` (0 on top), linked through `next`.
    /// `next` must not be shared with another thread yet.
    pub(crate) fn new_full(entries: usize, next: &[AtomicU32]) -> Self {
        let s = Self::new(entries);
        if entries == 0 {
            return s;
        }
        for (i, n) in next.iter().enumerate().take(entries) {
            let succ = if i + 1 < entries {
                i + 1
            } else {
                nil(s.idx_bits)
            };
            n.store(succ as u32, Ordering::Relaxed);
        }
        s.head.store(0, Ordering::Relaxed);
        s
    }

    #[inline]
    fn mask(&self) -> usize {
        nil(self.idx_bits)
    }

    #[inline]
    fn pack(&self, tag: usize, idx: usize) -> usize {
        (tag << self.idx_bits) | idx
    }

    /// Pushes `i`. `i` must be owned by the caller (popped earlier or never pushed) and be a
    /// valid index of `next`.
    #[inline]
    pub(crate) fn push(&self, i: usize, next: &[AtomicU32]) {
        let mut h = self.head.load(Ordering::Relaxed);
        loop {
            next[i].store((h & self.mask()) as u32, Ordering::Relaxed);
            let new = self.pack((h >> self.idx_bits).wrapping_add(1), i);
            match self
                .head
                .compare_exchange_weak(h, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(cur) => h = cur,
            }
        }
    }

    /// Pops the top index, if any.
    #[inline]
    pub(crate) fn pop(&self, next: &[AtomicU32]) -> Option<usize> {
        let mut h = self.head.load(Ordering::Acquire);
        loop {
            let i = h & self.mask();
            if i == self.mask() {
                return None;
            }
            // A stale read here (another thread popped `i` meanwhile) makes the CAS below
            // fail, because that pop changed the tag.
            let n = next[i].load(Ordering::Relaxed) as usize;
            let new = self.pack((h >> self.idx_bits).wrapping_add(1), n & self.mask());
            match self
                .head
                .compare_exchange_weak(h, new, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => return Some(i),
                Err(cur) => h = cur,
            }
        }
    }
}

/// Bits needed for indices `0..entries` plus the all-ones `NIL`.
const fn idx_bits(entries: usize) -> u32 {
    // entries + 1 distinct values: 0..entries-1 and NIL.
    let bits = usize::BITS - entries.leading_zeros();
    if bits == 0 { 1 } else { bits }
}

#[inline]
const fn nil(idx_bits: u32) -> usize {
    (1usize << idx_bits) - 1
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn table(n: usize) -> alloc::vec::Vec<AtomicU32> {
        (0..n).map(|_| AtomicU32::new(0)).collect()
    }

    #[test]
    fn lifo_and_empty() {
        let next = table(4);
        let s = IndexStack::new(4);
        assert_eq!(s.pop(&next), None);
        s.push(2, &next);
        s.push(0, &next);
        s.push(3, &next);
        assert_eq!(s.pop(&next), Some(3));
        assert_eq!(s.pop(&next), Some(0));
        assert_eq!(s.pop(&next), Some(2));
        assert_eq!(s.pop(&next), None);
    }

    #[test]
    fn full_stack_pops_every_index_once() {
        for n in [1usize, 2, 3, 7, 8, 255, 256] {
            let next = table(n);
            let s = IndexStack::new_full(n, &next);
            let mut seen = alloc::vec![false; n];
            while let Some(i) = s.pop(&next) {
                assert!(!seen[i]);
                seen[i] = true;
            }
            assert!(seen.iter().all(|&b| b), "n = {n}");
        }
    }

    #[test]
    fn nil_never_collides_with_an_index() {
        for n in [1usize, 2, 3, 4, 255, 256, MAX_ENTRIES] {
            let b = idx_bits(n);
            assert!(nil(b) >= n, "n = {n}: nil {} < n", nil(b));
        }
    }

    #[test]
    fn tag_wraps_without_corrupting_the_index() {
        let next = table(2);
        let s = IndexStack::new(2);
        // Force the tag to its maximum and push/pop through the wrap.
        let top_tag = usize::MAX >> s.idx_bits;
        s.head.store(s.pack(top_tag, s.mask()), Ordering::Relaxed);
        s.push(1, &next);
        s.push(0, &next);
        assert_eq!(s.pop(&next), Some(0));
        assert_eq!(s.pop(&next), Some(1));
        assert_eq!(s.pop(&next), None);
    }
}
