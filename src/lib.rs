//! Examples and integration/attack test suites for the sandbox workspace.
//!
//! The library holds the small pieces the examples share, so that tests can check them without
//! running the examples.

/// The CRC-32 of `data` (IEEE 802.3, reflected, polynomial `0xEDB88320`), bit by bit: small
/// enough to read at a glance, fast enough for an example.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(super::crc32(b""), 0);
    }
}
