//! What `/proc/self/mountinfo` writes in its path fields, shared by the readers of that file.

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011` for a tab, `\012` for a newline,
/// `\134` for a backslash) in one field, giving the path's bytes.
pub(crate) fn unescape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_become_their_bytes_and_the_rest_stays() {
        assert_eq!(super::unescape(br"/a\040b\011c\134d"), b"/a b\tc\\d");
        assert_eq!(super::unescape(br"/x\09y\1"), br"/x\09y\1");
    }
}
