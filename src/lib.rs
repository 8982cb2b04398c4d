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

/// Parses `key=value` lines (the parser of `examples/parser.rs`, run there in a sandbox).
///
/// Blank lines and lines starting with `#` are skipped; keys and values are trimmed; keys are
/// non-empty ASCII alphanumerics, `_`, `-` or `.`, and unique. Input must be UTF-8 and at most
/// 64 KiB. Any other input is rejected with the reason.
pub fn parse_key_values(input: &[u8]) -> Result<Vec<(String, String)>, String> {
    const MAX_INPUT: usize = 64 << 10;
    if input.len() > MAX_INPUT {
        return Err(format!(
            "input is {} bytes; at most {MAX_INPUT}",
            input.len()
        ));
    }
    let text = std::str::from_utf8(input).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let n = i + 1;
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("line {n}: expected key=value"))?;
        let (k, v) = (k.trim(), v.trim());
        let key_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if k.is_empty() || !k.chars().all(key_ok) {
            return Err(format!("line {n}: bad key {k:?}"));
        }
        if pairs.iter().any(|(seen, _)| seen == k) {
            return Err(format!("line {n}: duplicate key {k:?}"));
        }
        pairs.push((k.to_string(), v.to_string()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_values_parse_and_reject() {
        let ok = super::parse_key_values(b"# c\n\n a = 1 \nb.c=x=y\n").unwrap();
        assert_eq!(ok, [("a".into(), "1".into()), ("b.c".into(), "x=y".into())]);
        for bad in [&b"novalue"[..], b"=v", b"a b=1", b"a=1\na=2", b"\xff=1"] {
            assert!(super::parse_key_values(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(super::crc32(b""), 0);
    }
}
