//! AES-128-GCM for one direction of a record protocol, on one of two backends.

use crate::slab::{InSlab, Slab, SlabBox};
use crate::{AltsError, Protocol};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, KeyInit, Nonce, Tag};
use sha2::digest::generic_array::GenericArray;
use zeroize::Zeroizing;

/// GCM tag length.
pub const TAG_LEN: usize = 16;

/// Which AES-128-GCM implementation seals and opens records.
///
/// ```
/// let b = slackwater_alts::Backend::default();
/// assert!(slackwater_alts::Backend::available().contains(&b));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backend {
    /// RustCrypto `aes-gcm` (pure Rust; AES-NI and CLMUL detected at run time). The default.
    #[default]
    AesGcm,
    /// `ring` (assembly), with the `ring` feature.
    #[cfg(feature = "ring")]
    Ring,
}

impl Backend {
    /// Every backend compiled in.
    ///
    /// ```
    /// assert!(!slackwater_alts::Backend::available().is_empty());
    /// ```
    pub fn available() -> &'static [Backend] {
        &[
            Backend::AesGcm,
            #[cfg(feature = "ring")]
            Backend::Ring,
        ]
    }
}

/// The one small internal interface both backends implement. Each backend's key schedules
/// live in a slab of their own (see `slab.rs`), not in the general heap.
enum Cipher {
    AesGcm(SlabBox<Aes128Gcm>),
    #[cfg(feature = "ring")]
    Ring(SlabBox<ring::aead::LessSafeKey>),
}

static AES_GCM_SCHEDULES: Slab = Slab::new();

impl InSlab for Aes128Gcm {
    fn slab() -> &'static Slab {
        &AES_GCM_SCHEDULES
    }
}

static KEYS_16: Slab = Slab::new();
static KEYS_44: Slab = Slab::new();

impl InSlab for Zeroizing<[u8; 16]> {
    fn slab() -> &'static Slab {
        &KEYS_16
    }
}

impl InSlab for Zeroizing<[u8; 44]> {
    fn slab() -> &'static Slab {
        &KEYS_44
    }
}

#[cfg(feature = "ring")]
static RING_SCHEDULES: Slab = Slab::new();

#[cfg(feature = "ring")]
impl InSlab for ring::aead::LessSafeKey {
    fn slab() -> &'static Slab {
        &RING_SCHEDULES
    }
}

/// The expanded key schedules of every connection in this process, all backends: how many
/// are alive and the most memory they can keep resident. Schedules live in a slab of their
/// own (16-page chunks holding nothing else); a page with no live schedule on it is given
/// back to the OS at once, so after [`Conn::release_key_schedules`](crate::Conn::release_key_schedules)
/// on every connection, [`KeySchedules::resident_bytes`] is 0.
///
/// ```
/// use slackwater_alts::{Backend, Crypter, Protocol, Side, key_schedules};
/// let mut c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[1; 16], Backend::default()).unwrap();
/// assert!(key_schedules().live >= 2); // one per direction (other tests may add theirs)
/// c.release_key_schedules();
/// # let _ = key_schedules().resident_bytes();
/// ```
pub fn key_schedules() -> KeySchedules {
    let all = [
        AES_GCM_SCHEDULES.stats(),
        #[cfg(feature = "ring")]
        RING_SCHEDULES.stats(),
    ];
    KeySchedules {
        live: all.iter().map(|s| s.live).sum(),
        pages: all.iter().map(|s| s.pages_live).sum(),
        page_size: all.iter().map(|s| s.page).max().unwrap_or(0),
    }
}

/// See [`key_schedules`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeySchedules {
    /// Expanded key schedules alive (two per connection using both directions, none after a
    /// release until the next record).
    pub live: usize,
    /// Pages holding at least one live schedule.
    pub pages: usize,
    /// The page size.
    pub page_size: usize,
}

impl KeySchedules {
    /// `pages × page_size`: the most the schedules can keep resident.
    ///
    /// ```
    /// let k = slackwater_alts::key_schedules();
    /// assert_eq!(k.resident_bytes(), k.pages * k.page_size);
    /// ```
    pub fn resident_bytes(&self) -> usize {
        self.pages * self.page_size
    }
}

impl Cipher {
    fn new(backend: Backend, key: &[u8; 16]) -> Cipher {
        match backend {
            Backend::AesGcm => Cipher::AesGcm(SlabBox::new(Aes128Gcm::new(key.into()))),
            #[cfg(feature = "ring")]
            Backend::Ring => Cipher::Ring(SlabBox::new(ring::aead::LessSafeKey::new(
                ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, key)
                    .expect("16 bytes is an AES-128 key"),
            ))),
        }
    }

    /// The tag, or `None` if the backend refused (only for messages over its limit, 64 GiB;
    /// records are at most 1 MiB). A refusal is an error, never a made-up tag.
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Option<[u8; TAG_LEN]> {
        match self {
            Cipher::AesGcm(c) => c
                .encrypt_inout_detached(&Nonce::from(*nonce), aad, buf.into())
                .ok()
                .map(Into::into),
            #[cfg(feature = "ring")]
            Cipher::Ring(k) => {
                let n = ring::aead::Nonce::assume_unique_for_key(*nonce);
                k.seal_in_place_separate_tag(n, ring::aead::Aad::from(aad), buf)
                    .ok()
                    .map(|t| {
                        let mut out = [0u8; TAG_LEN];
                        out.copy_from_slice(t.as_ref());
                        out
                    })
            }
        }
    }

    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        match self {
            Cipher::AesGcm(c) => c
                .decrypt_inout_detached(&Nonce::from(*nonce), aad, buf.into(), &Tag::from(*tag))
                .is_ok(),
            #[cfg(feature = "ring")]
            Cipher::Ring(k) => {
                let n = ring::aead::Nonce::assume_unique_for_key(*nonce);
                let t = ring::aead::Tag::from(*tag);
                k.open_in_place_separate_tag(n, ring::aead::Aad::from(aad), t, buf, 0..)
                    .is_ok()
            }
        }
    }
}

/// The rekey KDF: `HMAC-SHA256(kdf_key, id ‖ 0x01)` (RFC 2104), written into `out`,
/// computed on SHA-256's compression function so that every intermediate value — the key
/// padded with ipad and opad, both chaining states, the inner hash, the output — lives in a
/// buffer of ours that is zeroized when dropped. (The `hmac` crate keeps its keyed states in
/// a value it does not zeroize.) Nothing is returned or passed by value: a value moved out of
/// a function leaves its bytes in the frame it left, unscrubbed, where a later frame's
/// uninitialized bytes (padding, an `Option`'s empty payload) can carry them into a heap block
/// (`tests/zeroize.rs` can see that, in an optimized build, for the test's own copy of the
/// key). The compression function's own stack frame is not ours to scrub.
fn rekey_kdf(kdf_key: &[u8], id: &[u8; 6], out: &mut [u8; 32]) {
    const IV: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    // One block of `key ^ pad`, then one final block holding `tail` (at most 55 bytes) with
    // SHA-256's padding for a message of 64 + tail.len() bytes; the digest into `out`.
    fn hash(kdf_key: &[u8], pad: u8, tail: &[u8], out: &mut [u8; 32]) {
        let mut state = Zeroizing::new(IV);
        let mut block = Zeroizing::new([pad; 64]);
        for (b, k) in block.iter_mut().zip(kdf_key) {
            *b ^= k;
        }
        // By reference: `[*GenericArray::from_slice(..)]` would copy the block to the stack.
        sha2::compress256(
            &mut state,
            core::slice::from_ref(GenericArray::from_slice(&block[..])),
        );
        block.fill(0);
        block[..tail.len()].copy_from_slice(tail);
        block[tail.len()] = 0x80;
        let bits = ((64 + tail.len()) as u64) * 8;
        block[56..].copy_from_slice(&bits.to_be_bytes());
        sha2::compress256(
            &mut state,
            core::slice::from_ref(GenericArray::from_slice(&block[..])),
        );
        for (o, w) in out.chunks_exact_mut(4).zip(state.iter()) {
            o.copy_from_slice(&w.to_be_bytes());
        }
    }
    let mut msg = Zeroizing::new([0u8; 7]);
    msg[..6].copy_from_slice(id);
    msg[6] = 0x01;
    let mut inner = Zeroizing::new([0u8; 32]);
    hash(kdf_key, 0x36, &msg[..], &mut inner);
    hash(kdf_key, 0x5c, &inner[..], out);
}

/// The AEAD of one direction: `ALTSRP_GCM_AES128` (the key is the AES key, the nonce the
/// counter) or `ALTSRP_GCM_AES128_REKEY` (a 32-byte KDF key and a 12-byte nonce mask; the
/// record key is `HMAC-SHA256(kdf_key, nonce[2..8] ‖ 0x01)[..16]`, derived again only when
/// `nonce[2..8]` changes, i.e. every 2^16 records, and the GCM nonce is `nonce XOR mask`).
///
/// This is the low-level piece the record layer uses; it is public for test vectors and
/// interoperability checks. All key material is zeroized on drop.
///
/// ```
/// use slackwater_alts::{Backend, Protocol, RecordAead};
/// let mut a = RecordAead::new(Protocol::Aes128GcmRekey, &[7; 44], Backend::default()).unwrap();
/// let mut data = *b"hello";
/// let tag = a.seal(&[0; 12], b"", &mut data).unwrap();
/// a.open(&[0; 12], b"", &mut data, &tag).unwrap();
/// assert_eq!(&data, b"hello");
/// ```
pub struct RecordAead {
    backend: Backend,
    kind: Kind,
}

/// Key bytes live in a slot of their own (a slab of 16- or 44-byte keys: no allocator header,
/// see `slab.rs`), written once and never moved: moving a `RecordAead` (into a `Crypter`, a
/// `Conn`, a `Box`) copies only the pointer, so no stale copy of a key is left in a moved-from
/// place or in a struct's padding. Each slot is zeroized when dropped (by `Zeroizing`, and
/// again by the slab).
enum Kind {
    Plain {
        key: SlabBox<Zeroizing<[u8; 16]>>,
        /// The expanded key schedule; `None` after [`RecordAead::release_schedule`].
        cipher: Option<Cipher>,
    },
    Rekey {
        /// The 32-byte KDF key, then the 12-byte nonce mask.
        secret: SlabBox<Zeroizing<[u8; 44]>>,
        /// The key derived for `nonce[2..8]`, and for which bytes.
        cached: Option<([u8; 6], Cipher)>,
    },
}

impl RecordAead {
    /// An AEAD for `protocol` with `key` (16 bytes for `Aes128Gcm`, 44 for `Aes128GcmRekey`).
    ///
    /// # Errors
    /// [`AltsError::InvalidKeyLength`] for any other key length.
    ///
    /// ```
    /// use slackwater_alts::{Backend, Protocol, RecordAead};
    /// assert!(RecordAead::new(Protocol::Aes128Gcm, &[0; 44], Backend::default()).is_err());
    /// ```
    pub fn new(protocol: Protocol, key: &[u8], backend: Backend) -> Result<Self, AltsError> {
        let expected = protocol.key_len();
        if key.len() != expected {
            return Err(AltsError::InvalidKeyLength {
                expected,
                got: key.len(),
            });
        }
        let kind = match protocol {
            Protocol::Aes128Gcm => {
                let mut k = SlabBox::new(Zeroizing::new([0u8; 16]));
                k.copy_from_slice(key);
                Kind::Plain {
                    cipher: Some(Cipher::new(backend, &k)),
                    key: k,
                }
            }
            Protocol::Aes128GcmRekey => {
                let mut secret = SlabBox::new(Zeroizing::new([0u8; 44]));
                secret.copy_from_slice(key);
                Kind::Rekey {
                    secret,
                    cached: None,
                }
            }
        };
        Ok(RecordAead { backend, kind })
    }

    /// Drops the expanded key schedule (for `aes-gcm`, an 848-byte slot in the key-schedule
    /// slab, zeroized on drop; a page of the slab with no live schedule goes back to the OS). The next [`seal`](RecordAead::seal) or [`open`](RecordAead::open) rebuilds it:
    /// from the stored key for `ALTSRP_GCM_AES128`, by deriving the record key again (one
    /// HMAC-SHA256) for the rekey protocol. For connections that go quiet: see
    /// [`Conn::release_key_schedules`](crate::Conn::release_key_schedules).
    ///
    /// ```
    /// use slackwater_alts::{Backend, Protocol, RecordAead};
    /// let mut a = RecordAead::new(Protocol::Aes128Gcm, &[1; 16], Backend::default()).unwrap();
    /// let mut buf = *b"data";
    /// let tag = a.seal(&[0; 12], b"", &mut buf).unwrap();
    /// a.release_schedule();
    /// a.open(&[0; 12], b"", &mut buf, &tag).unwrap();
    /// assert_eq!(&buf, b"data");
    /// ```
    pub fn release_schedule(&mut self) {
        match &mut self.kind {
            Kind::Plain { cipher, .. } => *cipher = None,
            Kind::Rekey { cached, .. } => *cached = None,
        }
    }

    /// The cipher and GCM nonce for `nonce` (deriving the rekey record key if needed).
    fn cipher(&mut self, nonce: &[u8; 12]) -> (&Cipher, [u8; 12]) {
        match &mut self.kind {
            Kind::Plain { key, cipher } => {
                let c = cipher.get_or_insert_with(|| Cipher::new(self.backend, key));
                (c, *nonce)
            }
            Kind::Rekey { secret, cached } => {
                let (kdf_key, mask) = secret.split_at(32);
                let id: [u8; 6] = nonce[2..8].try_into().unwrap_or_default();
                if cached.as_ref().is_none_or(|(cur, _)| *cur != id) {
                    let mut full = Zeroizing::new([0u8; 32]);
                    rekey_kdf(kdf_key, &id, &mut full);
                    let mut key = Zeroizing::new([0u8; 16]);
                    key.copy_from_slice(&full[..16]);
                    *cached = Some((id, Cipher::new(self.backend, &key)));
                }
                let mut masked = *nonce;
                for (b, m) in masked.iter_mut().zip(mask.iter()) {
                    *b ^= m;
                }
                let c = &cached.as_ref().expect("derived above").1;
                (c, masked)
            }
        }
    }

    /// Encrypts `buf` in place and returns the tag.
    ///
    /// # Errors
    /// [`AltsError::SealFailed`] if the backend refuses (a message over its size limit); no
    /// tag is made up then.
    ///
    /// ```
    /// use slackwater_alts::{Backend, Protocol, RecordAead};
    /// let mut a = RecordAead::new(Protocol::Aes128Gcm, &[1; 16], Backend::default()).unwrap();
    /// let mut buf = [0u8; 4];
    /// let tag = a.seal(&[0; 12], b"", &mut buf).unwrap();
    /// assert_eq!(tag.len(), 16);
    /// ```
    pub fn seal(
        &mut self,
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AltsError> {
        let (c, n) = self.cipher(nonce);
        c.seal(&n, aad, buf).ok_or(AltsError::SealFailed)
    }

    /// Decrypts `buf` in place if `tag` authenticates it.
    ///
    /// # Errors
    /// [`AltsError::AuthenticationFailed`]; `buf`'s contents are then unspecified.
    ///
    /// ```
    /// use slackwater_alts::{Backend, Protocol, RecordAead};
    /// let mut a = RecordAead::new(Protocol::Aes128Gcm, &[1; 16], Backend::default()).unwrap();
    /// let mut buf = [0u8; 4];
    /// assert!(a.open(&[0; 12], b"", &mut buf, &[0; 16]).is_err());
    /// ```
    pub fn open(
        &mut self,
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AltsError> {
        let (c, n) = self.cipher(nonce);
        if c.open(&n, aad, buf, tag) {
            Ok(())
        } else {
            Err(AltsError::AuthenticationFailed)
        }
    }
}

impl std::fmt::Debug for RecordAead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let protocol = match self.kind {
            Kind::Plain { .. } => Protocol::Aes128Gcm,
            Kind::Rekey { .. } => Protocol::Aes128GcmRekey,
        };
        f.debug_struct("RecordAead")
            .field("protocol", &protocol)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}
