//! The comms wire format: an 8-byte header (tag, length) followed by the payload.

use std::fmt;

/// Size in bytes of a message header: a `u32` tag and a `u32` payload length, both little-endian.
pub const HEADER_LEN: usize = 8;

/// Payload length of an [`Tag::Fd`] message: one placeholder byte that carries the `SCM_RIGHTS` data.
pub const FD_PAYLOAD_LEN: u32 = 1;

/// The type of a comms message, sent as the first four bytes of its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Tag {
    /// Arbitrary bytes.
    Bytes = 1,
    /// UTF-8 text.
    String = 2,
    /// An unsigned 64-bit integer, 8 bytes little-endian.
    U64 = 3,
    /// A signed 64-bit integer, 8 bytes little-endian.
    I64 = 4,
    /// A file descriptor, carried by an `SCM_RIGHTS` control message on a 1-byte payload.
    Fd = 5,
    /// Several file descriptors, carried by one `SCM_RIGHTS` control message; the payload is
    /// their count, a `u32` little-endian.
    Fds = 6,
}

impl Tag {
    /// The tag with the given wire value, if it is one we know.
    pub fn from_wire(value: u32) -> Option<Tag> {
        match value {
            1 => Some(Tag::Bytes),
            2 => Some(Tag::String),
            3 => Some(Tag::U64),
            4 => Some(Tag::I64),
            5 => Some(Tag::Fd),
            6 => Some(Tag::Fds),
            _ => None,
        }
    }

    /// The payload length this tag requires, for fixed-size types.
    pub fn fixed_len(self) -> Option<u32> {
        match self {
            Tag::U64 | Tag::I64 => Some(8),
            Tag::Fd => Some(FD_PAYLOAD_LEN),
            Tag::Fds => Some(4),
            Tag::Bytes | Tag::String => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Tag::Bytes => "bytes",
            Tag::String => "string",
            Tag::U64 => "u64",
            Tag::I64 => "i64",
            Tag::Fd => "fd",
            Tag::Fds => "fds",
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Describes a raw wire tag for error messages: its name when known, else its number.
pub(crate) fn describe_tag(value: u32) -> String {
    match Tag::from_wire(value) {
        Some(tag) => format!("a {tag} message"),
        None => format!("unknown tag {value}"),
    }
}

/// A decoded message header. The tag is kept raw so that unknown values can be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Wire value of the message's [`Tag`].
    pub tag: u32,
    /// Length of the payload that follows, in bytes.
    pub len: u32,
}

impl Header {
    /// Encodes the header as it is sent.
    pub fn encode(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(&self.tag.to_le_bytes());
        out[4..].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    /// Decodes a header as it was received.
    pub fn decode(bytes: [u8; HEADER_LEN]) -> Header {
        let [t0, t1, t2, t3, l0, l1, l2, l3] = bytes;
        Header {
            tag: u32::from_le_bytes([t0, t1, t2, t3]),
            len: u32::from_le_bytes([l0, l1, l2, l3]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_little_endian() {
        let header = Header {
            tag: Tag::String as u32,
            len: 0x0102_0304,
        };
        let bytes = header.encode();
        assert_eq!(bytes, [2, 0, 0, 0, 4, 3, 2, 1]);
        assert_eq!(Header::decode(bytes), header);
    }

    #[test]
    fn unknown_tags_are_described_by_number() {
        assert_eq!(Tag::from_wire(0), None);
        assert_eq!(describe_tag(99), "unknown tag 99");
        assert_eq!(describe_tag(5), "a fd message");
    }
}
