//! [`Crypter`]: both directions of one ALTS record protocol connection.

use crate::AltsError;
use crate::aead::{Backend, RecordAead, TAG_LEN};
use crate::counter::{Counter, OVERFLOW_LEN_AES128GCM, OVERFLOW_LEN_REKEY};

/// An ALTS record protocol.
///
/// ```
/// assert_eq!(slackwater_alts::Protocol::Aes128GcmRekey.name(), "ALTSRP_GCM_AES128_REKEY");
/// ```
///
/// Non-exhaustive: ALTS may negotiate more record protocols (e.g. `ALTSRP_GCM_AES256`) later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// `ALTSRP_GCM_AES128`: 16-byte key, nonce = counter, 5 counting bytes.
    Aes128Gcm,
    /// `ALTSRP_GCM_AES128_REKEY`: 44-byte key (32-byte KDF key ‖ 12-byte nonce mask), 8
    /// counting bytes, a new record key every 2^16 records.
    Aes128GcmRekey,
}

impl Protocol {
    /// The name ALTS negotiates.
    ///
    /// ```
    /// assert_eq!(slackwater_alts::Protocol::Aes128Gcm.name(), "ALTSRP_GCM_AES128");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Aes128Gcm => "ALTSRP_GCM_AES128",
            Protocol::Aes128GcmRekey => "ALTSRP_GCM_AES128_REKEY",
        }
    }

    /// Key length in bytes.
    ///
    /// ```
    /// assert_eq!(slackwater_alts::Protocol::Aes128GcmRekey.key_len(), 44);
    /// ```
    pub fn key_len(self) -> usize {
        match self {
            Protocol::Aes128Gcm => 16,
            Protocol::Aes128GcmRekey => 44,
        }
    }

    /// How many low counter bytes count before the counter is exhausted.
    ///
    /// ```
    /// assert_eq!(slackwater_alts::Protocol::Aes128Gcm.overflow_len(), 5);
    /// ```
    pub fn overflow_len(self) -> usize {
        match self {
            Protocol::Aes128Gcm => OVERFLOW_LEN_AES128GCM,
            Protocol::Aes128GcmRekey => OVERFLOW_LEN_REKEY,
        }
    }
}

/// Which end of the connection this is.
///
/// ```
/// assert_eq!(slackwater_alts::Side::Client.peer(), slackwater_alts::Side::Server);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The client.
    Client,
    /// The server (its records carry bit 0x80 in counter byte 11).
    Server,
}

impl Side {
    /// The other side.
    ///
    /// ```
    /// assert_eq!(slackwater_alts::Side::Server.peer(), slackwater_alts::Side::Client);
    /// ```
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// Seals outgoing and opens incoming records of one connection: the key, both counters, no
/// AAD. A failed open does not advance the incoming counter; an exhausted counter makes its
/// direction fail for good.
///
/// ```
/// use slackwater_alts::{Backend, Crypter, Protocol, Side};
/// let key = [9u8; 16];
/// let mut client = Crypter::new(Protocol::Aes128Gcm, Side::Client, &key, Backend::default()).unwrap();
/// let mut server = Crypter::new(Protocol::Aes128Gcm, Side::Server, &key, Backend::default()).unwrap();
/// let mut msg = *b"hello";
/// let tag = client.seal(&mut msg).unwrap();
/// server.open(&mut msg, &tag).unwrap();
/// assert_eq!(&msg, b"hello");
/// ```
#[derive(Debug)]
pub struct Crypter {
    protocol: Protocol,
    side: Side,
    out: RecordAead,
    inn: RecordAead,
    out_ctr: Counter,
    in_ctr: Counter,
}

impl Crypter {
    /// A crypter for `side` of a connection using `protocol` with `key`.
    ///
    /// # Errors
    /// [`AltsError::InvalidKeyLength`] if `key` is not `protocol.key_len()` bytes.
    ///
    /// ```
    /// use slackwater_alts::{Backend, Crypter, Protocol, Side};
    /// assert!(Crypter::new(Protocol::Aes128GcmRekey, Side::Client, &[0; 16], Backend::default()).is_err());
    /// ```
    pub fn new(
        protocol: Protocol,
        side: Side,
        key: &[u8],
        backend: Backend,
    ) -> Result<Self, AltsError> {
        Ok(Crypter {
            protocol,
            side,
            out: RecordAead::new(protocol, key, backend)?,
            inn: RecordAead::new(protocol, key, backend)?,
            out_ctr: Counter::new(side, protocol.overflow_len()),
            in_ctr: Counter::new(side.peer(), protocol.overflow_len()),
        })
    }

    /// The protocol.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// let c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// assert_eq!(c.protocol(), Protocol::Aes128Gcm);
    /// ```
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// This end's side.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// let c = Crypter::new(Protocol::Aes128Gcm, Side::Server, &[0; 16], Backend::default()).unwrap();
    /// assert_eq!(c.side(), Side::Server);
    /// ```
    pub fn side(&self) -> Side {
        self.side
    }

    /// Replaces the counters (for tests that start near a boundary, and test vectors).
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// let mut c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// c.set_counters(Counter::from_value([5; 12], 5), Counter::from_value([6; 12], 5));
    /// ```
    pub fn set_counters(&mut self, out: Counter, inn: Counter) {
        self.out_ctr = out;
        self.in_ctr = inn;
    }

    /// Drops both directions' expanded key schedules; they are rebuilt on next use (see
    /// [`RecordAead::release_schedule`](crate::RecordAead::release_schedule)).
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// let mut c = Crypter::new(Protocol::Aes128GcmRekey, Side::Client, &[3; 44], Backend::default()).unwrap();
    /// c.release_key_schedules();
    /// let mut buf = *b"still works";
    /// c.seal(&mut buf).unwrap();
    /// ```
    pub fn release_key_schedules(&mut self) {
        self.out.release_schedule();
        self.inn.release_schedule();
    }

    /// Encrypts one record's payload in place with the outgoing counter, then advances it.
    ///
    /// # Errors
    /// [`AltsError::CounterExhausted`] once the outgoing counter has overflowed.
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// let mut c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let mut buf = [0u8; 8];
    /// let tag = c.seal(&mut buf).unwrap();
    /// ```
    pub fn seal(&mut self, buf: &mut [u8]) -> Result<[u8; TAG_LEN], AltsError> {
        let nonce = self.out_ctr.value()?;
        let tag = self.out.seal(&nonce, &[], buf)?;
        self.out_ctr.increment();
        Ok(tag)
    }

    /// Decrypts one record's payload in place with the incoming counter; advances the counter
    /// only if the tag checks.
    ///
    /// # Errors
    /// [`AltsError::AuthenticationFailed`] (counter unchanged) or
    /// [`AltsError::CounterExhausted`].
    ///
    /// ```
    /// # use slackwater_alts::*;
    /// let mut c = Crypter::new(Protocol::Aes128Gcm, Side::Client, &[0; 16], Backend::default()).unwrap();
    /// let mut buf = [0u8; 8];
    /// assert!(matches!(c.open(&mut buf, &[0; 16]), Err(AltsError::AuthenticationFailed)));
    /// ```
    pub fn open(&mut self, buf: &mut [u8], tag: &[u8; TAG_LEN]) -> Result<(), AltsError> {
        let nonce = self.in_ctr.value()?;
        self.inn.open(&nonce, &[], buf, tag)?;
        self.in_ctr.increment();
        Ok(())
    }
}
