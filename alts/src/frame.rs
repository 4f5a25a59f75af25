//! ALTS frame layout: `len: u32 LE` · `type: u32 LE` · ciphertext · 16-byte tag.

use crate::AltsError;

/// Bytes of the length field.
pub const LEN_FIELD: usize = 4;
/// Bytes of the message-type field.
pub const TYPE_FIELD: usize = 4;
/// The only message type of record frames.
pub const MSG_TYPE: u32 = 6;
/// Header bytes before the ciphertext.
pub const HEADER: usize = LEN_FIELD + TYPE_FIELD;
/// Framing and tag overhead of one record.
pub const OVERHEAD: usize = HEADER + crate::aead::TAG_LEN;
/// The smallest valid `len` field: type + tag (an empty record).
pub const MIN_LEN: usize = TYPE_FIELD + crate::aead::TAG_LEN;
/// Default (and gRPC-Go's) limit on the `len` field: 1 MiB.
pub const DEFAULT_READ_LIMIT: usize = 1 << 20;
/// Default size of written frames, length field included (payload 4072 bytes).
pub const DEFAULT_FRAME_SIZE: usize = 4096;
/// The smallest frame size that may be negotiated.
pub const MIN_FRAME_SIZE: usize = 4096;
/// The largest frame size that may be negotiated.
pub const MAX_FRAME_SIZE: usize = 512 * 1024;

/// The header rule [`slackwater_ready::Assembler`] cuts the record stream with.
pub(crate) fn framing(buf: &[u8], limit: usize) -> Result<slackwater_ready::Framing, AltsError> {
    Ok(match parse_header(buf, limit)? {
        Header::Need(n) => slackwater_ready::Framing::Need(n),
        Header::Frame { total } => slackwater_ready::Framing::Record(total),
    })
}

/// What the first bytes of a frame say.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// Fewer than `want` bytes are there; need at least that many to decide.
    Need(usize),
    /// A well-formed header of a frame of `total` bytes (length field included).
    Frame { total: usize },
}

/// Checks the frame starting at `buf[0]`: the length as soon as its 4 bytes are there (before
/// anything is allocated for the body), the type as soon as its 4 bytes are there.
///
/// Stricter than gRPC-Go, which compares only the low byte of the type with 6: the whole
/// 32-bit field must be 6.
pub(crate) fn parse_header(buf: &[u8], limit: usize) -> Result<Header, AltsError> {
    if buf.len() < LEN_FIELD {
        return Ok(Header::Need(LEN_FIELD));
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > limit {
        return Err(AltsError::FrameTooLarge { len, limit });
    }
    if len < TYPE_FIELD {
        return Err(AltsError::FrameTooShort { len });
    }
    if buf.len() < HEADER {
        return Ok(Header::Need(HEADER));
    }
    let ty = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if ty != MSG_TYPE {
        return Err(AltsError::WrongMessageType { ty });
    }
    if len < MIN_LEN {
        return Err(AltsError::FrameTooShort { len });
    }
    Ok(Header::Frame {
        total: LEN_FIELD + len,
    })
}
