//! The values of `--ro`, `--rw` (`SRC[:DST]`) and `--tmpfs` (`DST[:SIZE]`): a path, then, after
//! a `:`, what goes with it. Paths are bytes and may hold a `:`, so within a path `\:` stands for
//! a `:` and `\\` for a `\`. Any other `\` is an error rather than a guess.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// A value split at its first `:` that no `\` escapes, each side unescaped.
#[derive(Debug, PartialEq, Eq)]
pub struct PathSpec {
    /// What comes before the `:`, or the whole value.
    pub path: PathBuf,
    /// What comes after the `:`, if one is there.
    pub rest: Option<OsString>,
}

/// Splits and unescapes `spec`. A second `:` that no `\` escapes is an error: it is a `:` in the
/// second path that was meant to be written `\:`, or a mistake.
pub fn split(spec: &OsStr) -> Result<PathSpec, String> {
    let mut path = Vec::new();
    let mut rest: Option<Vec<u8>> = None;
    let mut bytes = spec.as_bytes().iter();
    while let Some(&b) = bytes.next() {
        let byte = match b {
            b'\\' => match bytes.next() {
                Some(&escaped @ (b':' | b'\\')) => escaped,
                _ => return Err("`\\` escapes only `:` (as `\\:`) and `\\` (as `\\\\`)".into()),
            },
            b':' if rest.is_some() => {
                return Err("a second `:`: write a `:` in a path as `\\:`".into());
            }
            b':' => {
                rest = Some(Vec::new());
                continue;
            }
            other => other,
        };
        rest.as_mut().unwrap_or(&mut path).push(byte);
    }
    let path = PathBuf::from(OsString::from_vec(path));
    let rest = rest.map(OsString::from_vec);
    Ok(PathSpec { path, rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(spec: &[u8]) -> Result<(Vec<u8>, Option<Vec<u8>>), String> {
        split(OsStr::from_bytes(spec)).map(|s| {
            (
                s.path.into_os_string().into_vec(),
                s.rest.map(OsString::into_vec),
            )
        })
    }

    #[test]
    fn splits_at_the_first_unescaped_colon() {
        assert_eq!(parts(b"/a"), Ok((b"/a".to_vec(), None)));
        assert_eq!(parts(b"/a:/b"), Ok((b"/a".to_vec(), Some(b"/b".to_vec()))));
        assert_eq!(parts(b"/a:"), Ok((b"/a".to_vec(), Some(Vec::new()))));
        assert_eq!(
            parts(b"/t:64M"),
            Ok((b"/t".to_vec(), Some(b"64M".to_vec())))
        );
    }

    #[test]
    fn escapes_stand_for_colons_and_backslashes_on_either_side() {
        assert_eq!(parts(br"/a\:b"), Ok((b"/a:b".to_vec(), None)));
        assert_eq!(
            parts(br"/a\:b:/c\:d\\"),
            Ok((b"/a:b".to_vec(), Some(br"/c:d\".to_vec())))
        );
        assert_eq!(
            parts(br"/a\\:/b"),
            Ok((br"/a\".to_vec(), Some(b"/b".to_vec())))
        );
        assert_eq!(parts(b"/\xff\\:"), Ok((b"/\xff:".to_vec(), None)));
    }

    #[test]
    fn any_other_backslash_and_a_second_colon_are_errors() {
        for spec in [&br"/a\b"[..], br"/a\", b"/a:/b:/c", b"/a:/b:"] {
            assert!(parts(spec).is_err(), "{}", String::from_utf8_lossy(spec));
        }
        assert!(parts(b"/a:/b:/c").unwrap_err().contains("`\\:`"));
    }
}
