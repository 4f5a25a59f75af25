//! The 12-byte ALTS record counter.

use crate::{AltsError, Side};

/// Bytes of the counter that count for `ALTSRP_GCM_AES128`.
pub const OVERFLOW_LEN_AES128GCM: usize = 5;
/// Bytes of the counter that count for `ALTSRP_GCM_AES128_REKEY`.
pub const OVERFLOW_LEN_REKEY: usize = 8;

/// The per-direction record counter: 12 bytes, little-endian, used as the GCM nonce (after the
/// rekey mask, for the rekey protocol). Only the low `overflow_len` bytes count; a carry out of
/// them makes the counter permanently invalid (an error, never a wrap). Records sent by the
/// server have bit 0x80 of byte 11 set.
///
/// ```
/// use slackwater_alts::{Counter, Side};
/// let mut c = Counter::new(Side::Server, 5);
/// assert_eq!(c.value().unwrap()[11], 0x80);
/// c.increment();
/// assert_eq!(c.value().unwrap()[0], 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counter {
    value: [u8; 12],
    overflow_len: u8,
    invalid: bool,
}

impl Counter {
    /// The first counter of records sent by `side` (`overflow_len` is clamped to 1..=12).
    ///
    /// ```
    /// assert_eq!(slackwater_alts::Counter::new(slackwater_alts::Side::Client, 5).value().unwrap(), [0; 12]);
    /// ```
    pub fn new(side: Side, overflow_len: usize) -> Self {
        let mut value = [0u8; 12];
        if side == Side::Server {
            value[11] = 0x80;
        }
        Counter {
            value,
            overflow_len: overflow_len.clamp(1, 12) as u8,
            invalid: false,
        }
    }

    /// A counter starting at `value` (for tests and vectors).
    ///
    /// ```
    /// let c = slackwater_alts::Counter::from_value([1; 12], 8);
    /// assert_eq!(c.value().unwrap(), [1; 12]);
    /// ```
    pub fn from_value(value: [u8; 12], overflow_len: usize) -> Self {
        Counter {
            value,
            overflow_len: overflow_len.clamp(1, 12) as u8,
            invalid: false,
        }
    }

    /// The current value, or [`AltsError::CounterExhausted`] once it has overflowed.
    ///
    /// # Errors
    /// [`AltsError::CounterExhausted`] after a carry out of the counting bytes.
    ///
    /// ```
    /// let mut c = slackwater_alts::Counter::from_value([0xff; 12], 5);
    /// c.increment();
    /// assert!(c.value().is_err());
    /// ```
    pub fn value(&self) -> Result<[u8; 12], AltsError> {
        if self.invalid {
            Err(AltsError::CounterExhausted)
        } else {
            Ok(self.value)
        }
    }

    /// Advances by one; a carry out of the counting bytes invalidates the counter for good.
    ///
    /// ```
    /// let mut c = slackwater_alts::Counter::from_value([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 5);
    /// c.increment();
    /// assert_eq!(&c.value().unwrap()[..2], &[0, 1]);
    /// ```
    pub fn increment(&mut self) {
        if self.invalid {
            return;
        }
        for b in &mut self.value[..usize::from(self.overflow_len)] {
            *b = b.wrapping_add(1);
            if *b != 0 {
                return;
            }
        }
        self.invalid = true;
    }

    /// The side that sends records with this counter value (bit 0x80 of byte 11).
    ///
    /// ```
    /// use slackwater_alts::{Counter, Side};
    /// assert_eq!(Counter::new(Side::Server, 5).side(), Side::Server);
    /// ```
    pub fn side(&self) -> Side {
        if self.value[11] & 0x80 != 0 {
            Side::Server
        } else {
            Side::Client
        }
    }
}
