//! The loader's dynamic string tokens, `$ORIGIN`, `$PLATFORM` and `$LIB` (each also written
//! `${NAME}`), put into a search-list entry or a library name as `ld.so` does: a `$` that
//! starts no token it knows stays a `$`, and an entry whose token has no value is dropped.
//! `$LIB`'s value is built into the loader (`lib/x86_64-linux-gnu` on Debian, `lib64` on
//! Fedora, `lib` on Arch): the host cannot read it without running the loader, so an entry
//! with `$LIB` stands for each of the usual values.

use std::ffi::CStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// An entry with the tokens put in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expansion {
    /// The path the loader uses.
    Exact(PathBuf),
    /// `$LIB` stands in it: the loader uses one of these paths, which one is built into it.
    OneOf(Vec<PathBuf>),
}

/// More `$LIB` tokens than this in one entry and the entry cannot be followed (each one
/// multiplies the paths it stands for).
pub(crate) const MOST_LIB_TOKENS: usize = 2;

/// An entry holding more than [`MOST_LIB_TOKENS`] `$LIB`: the places the loader may look at
/// for it are too many to check, and leaving them out would let a mount there go unseen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooManyLibTokens;

/// A token the loader knows.
#[derive(Clone, Copy)]
enum Token {
    Origin,
    Platform,
    Lib,
}

/// The token at the start of `s` (the text after a `$`) and its length, as the loader's
/// `is_dst` reads it: `NAME` not followed by a letter, digit or `_`, or `{NAME}`.
fn token_at(s: &[u8]) -> Option<(Token, usize)> {
    [
        ("ORIGIN", Token::Origin),
        ("PLATFORM", Token::Platform),
        ("LIB", Token::Lib),
    ]
    .into_iter()
    .find_map(|(name, token)| {
        let name = name.as_bytes();
        if s.first() == Some(&b'{')
            && s[1..].starts_with(name)
            && s.get(name.len() + 1) == Some(&b'}')
        {
            return Some((token, name.len() + 2));
        }
        let ends = !s
            .get(name.len())
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        (s.starts_with(name) && ends).then_some((token, name.len()))
    })
}

/// `$PLATFORM` for programs of `machine`: this process's `AT_PLATFORM` (the kernel gives every
/// program of this machine the same), or `None` for another machine's.
fn platform(machine: u16) -> Option<Vec<u8>> {
    if machine != super::search::NATIVE_MACHINE {
        return None;
    }
    // SAFETY: getauxval reads this process's auxiliary vector.
    let at = unsafe { libc::getauxval(libc::AT_PLATFORM) };
    if at == 0 {
        return None;
    }
    // SAFETY: a non-zero AT_PLATFORM points at a NUL-terminated string the kernel placed in
    // this process's memory for its lifetime.
    let value = unsafe { CStr::from_ptr(at as *const libc::c_char) };
    Some(value.to_bytes().to_vec())
}

/// The values `$LIB` may have for programs of `machine`, the Debian multiarch one first.
fn lib_values(machine: u16) -> Vec<Vec<u8>> {
    let mut values = Vec::new();
    if let Some(triplet) = super::search::multiarch_triplet(machine) {
        values.push(format!("lib/{triplet}").into_bytes());
    }
    values.extend([b"lib64".to_vec(), b"lib".to_vec()]);
    values
}

/// `entry` with its tokens put in, for an object of `machine` at `origin`; `None` where the
/// loader drops it (a token without a value).
pub(crate) fn expand(
    entry: &[u8],
    origin: &Path,
    machine: u16,
) -> Result<Option<Expansion>, TooManyLibTokens> {
    let mut alternatives: Vec<Vec<u8>> = vec![Vec::with_capacity(entry.len())];
    let push = |alternatives: &mut Vec<Vec<u8>>, bytes: &[u8]| {
        for a in alternatives.iter_mut() {
            a.extend_from_slice(bytes);
        }
    };
    let mut lib_tokens = 0;
    let lib = lib_values(machine);
    let mut rest = entry;
    while let Some(at) = rest.iter().position(|&b| b == b'$') {
        push(&mut alternatives, &rest[..at]);
        let after = &rest[at + 1..];
        let Some((token, len)) = token_at(after) else {
            push(&mut alternatives, b"$");
            rest = after;
            continue;
        };
        match token {
            Token::Origin => push(&mut alternatives, origin.as_os_str().as_bytes()),
            Token::Platform => match platform(machine) {
                Some(value) => push(&mut alternatives, &value),
                None => return Ok(None),
            },
            Token::Lib => {
                lib_tokens += 1;
                if lib_tokens > MOST_LIB_TOKENS {
                    return Err(TooManyLibTokens);
                }
                alternatives = alternatives
                    .iter()
                    .flat_map(|a| lib.iter().map(move |v| [a.as_slice(), v].concat()))
                    .collect();
            }
        }
        rest = &after[len..];
    }
    push(&mut alternatives, rest);
    let mut paths: Vec<PathBuf> = alternatives
        .into_iter()
        .map(|a| PathBuf::from(std::ffi::OsString::from_vec(a)))
        .collect();
    if lib_tokens == 0 {
        return Ok(paths.pop().map(Expansion::Exact));
    }
    paths.dedup();
    Ok(Some(Expansion::OneOf(paths)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::search::NATIVE_MACHINE;

    fn exact(entry: &str) -> Option<PathBuf> {
        match expand(entry.as_bytes(), Path::new("/o"), NATIVE_MACHINE).ok()?? {
            Expansion::Exact(p) => Some(p),
            Expansion::OneOf(_) => None,
        }
    }

    #[test]
    fn origin_and_unknown_dollars_are_put_in_as_the_loader_does() {
        assert_eq!(exact("$ORIGIN/../lib"), Some("/o/../lib".into()));
        assert_eq!(exact("${ORIGIN}/x"), Some("/o/x".into()));
        // Not a token: the `$` stays.
        assert_eq!(exact("$ORIGINAL"), Some("$ORIGINAL".into()));
        assert_eq!(
            exact("/usr/$FOO/${ORIGIN"),
            Some("/usr/$FOO/${ORIGIN".into())
        );
        assert_eq!(exact("/a/$"), Some("/a/$".into()));
    }

    #[test]
    fn platform_is_this_machines() {
        let want = if cfg!(target_arch = "x86_64") {
            "x86_64"
        } else {
            "aarch64"
        };
        assert_eq!(
            exact("/p/$PLATFORM/lib"),
            Some(format!("/p/{want}/lib").into())
        );
        assert_eq!(exact("/p/${PLATFORM}"), Some(format!("/p/{want}").into()));
        // Another machine's programs: the loader's value is not this process's.
        assert_eq!(expand(b"/p/$PLATFORM", Path::new("/o"), 3), Ok(None));
    }

    #[test]
    fn lib_stands_for_each_usual_value() {
        let Ok(Some(Expansion::OneOf(paths))) =
            expand(b"$ORIGIN/../$LIB/x", Path::new("/o"), NATIVE_MACHINE)
        else {
            panic!("$LIB is not one exact path");
        };
        let triplet = if cfg!(target_arch = "x86_64") {
            "x86_64-linux-gnu"
        } else {
            "aarch64-linux-gnu"
        };
        let want: Vec<PathBuf> = [
            format!("/o/../lib/{triplet}/x"),
            "/o/../lib64/x".into(),
            "/o/../lib/x".into(),
        ]
        .map(PathBuf::from)
        .into();
        assert_eq!(paths, want);
        let Ok(Some(Expansion::OneOf(two))) =
            expand(b"/$LIB/${LIB}", Path::new("/o"), NATIVE_MACHINE)
        else {
            panic!("two $LIB");
        };
        assert_eq!(two.len(), 9);
        assert_eq!(
            expand(b"/$LIB/$LIB/$LIB", Path::new("/o"), NATIVE_MACHINE),
            Err(TooManyLibTokens)
        );
    }
}
