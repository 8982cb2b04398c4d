//! Sandbox paths resolved through the plan's own symbolic links, on the host.
//!
//! Init never follows a symbolic link while it makes a mount point (see [`super::mounts`]):
//! a link in a writable bind may have been planted by another sandbox. The links the plan
//! makes itself (`symlink` entries) are trusted, so a destination that goes through one is
//! rewritten here, before the clone, to the path it leads to.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};

/// The links past which lookups loop, as in the kernel's own lookups.
const MAX_HOPS: u32 = 40;

/// The plan's symbolic links: where each is (itself resolved) and what it holds.
#[derive(Debug, Default)]
pub(crate) struct PlanLinks {
    links: HashMap<PathBuf, PathBuf>,
}

/// Following the plan's links from this path loops.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Loop(pub PathBuf);

impl PlanLinks {
    /// The links `(link, target)` (each `link` an absolute sandbox path), each placed where
    /// the others lead: a link's own path may go through another link, declared before or
    /// after it, so the places are worked out again until none moves.
    pub(crate) fn of(pairs: &[(&Path, &Path)]) -> Result<PlanLinks, Loop> {
        let mut links = PlanLinks::default();
        for _ in 0..=MAX_HOPS {
            let mut next = PlanLinks::default();
            for (link, target) in pairs {
                let at = links.resolve(link, false)?;
                next.links.insert(at, target.to_path_buf());
            }
            if next.links == links.links {
                return Ok(next);
            }
            links = next;
        }
        let first = pairs
            .first()
            .map_or(PathBuf::from("/"), |(l, _)| l.to_path_buf());
        Err(Loop(first))
    }

    /// `path` (absolute) with every one of the plan's links on it replaced by what it leads
    /// to, and `.` and `..` taken out; its last component is followed only if `follow_last`.
    pub(crate) fn resolve(&self, path: &Path, follow_last: bool) -> Result<PathBuf, Loop> {
        let mut pending: Vec<OsString> = names(path).rev().collect();
        let mut out = PathBuf::from("/");
        let mut hops = 0;
        while let Some(name) = pending.pop() {
            if name == ".." {
                out.pop();
                continue;
            }
            let next = out.join(&name);
            let last = pending.is_empty();
            match self.links.get(&next) {
                Some(target) if follow_last || !last => {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err(Loop(path.to_path_buf()));
                    }
                    if target.is_absolute() {
                        out = PathBuf::from("/");
                    }
                    pending.extend(names(target).rev());
                }
                _ => out = next,
            }
        }
        Ok(out)
    }
}

/// The names of `path` in order, `..` kept, `/` and `.` dropped.
fn names(path: &Path) -> impl DoubleEndedIterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsStr::new("..").to_os_string()),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(pairs: &[(&str, &str)]) -> PlanLinks {
        let pairs: Vec<(&Path, &Path)> = pairs
            .iter()
            .map(|(l, t)| (Path::new(*l), Path::new(*t)))
            .collect();
        PlanLinks::of(&pairs).unwrap()
    }

    fn resolve(l: &PlanLinks, p: &str, follow_last: bool) -> String {
        l.resolve(Path::new(p), follow_last)
            .unwrap()
            .display()
            .to_string()
    }

    #[test]
    fn absolute_and_relative_links_lead_where_they_point() {
        let l = links(&[
            ("/d", "/data"),
            ("/data/up", "../usr/lib"),
            ("/x/y", "z/./w"),
        ]);
        assert_eq!(resolve(&l, "/d/sub/file", true), "/data/sub/file");
        assert_eq!(resolve(&l, "/d/up/libc.so", true), "/usr/lib/libc.so");
        assert_eq!(resolve(&l, "/x/y/f", true), "/x/z/w/f");
        assert_eq!(resolve(&l, "/other/path", true), "/other/path");
    }

    #[test]
    fn the_last_component_is_followed_only_when_asked() {
        let l = links(&[("/d", "/data")]);
        assert_eq!(resolve(&l, "/d", true), "/data");
        assert_eq!(resolve(&l, "/d", false), "/d");
    }

    #[test]
    fn a_link_is_placed_where_its_parents_lead() {
        let l = links(&[("/a", "/b"), ("/a/c", "/e")]);
        assert_eq!(resolve(&l, "/b/c/f", true), "/e/f");
        assert_eq!(resolve(&l, "/a/c/f", true), "/e/f");
    }

    #[test]
    fn a_link_is_placed_through_links_declared_after_it() {
        let l = links(&[("/a", "/b/c/d"), ("/a/x", "/z"), ("/b/c/d", "/e")]);
        assert_eq!(resolve(&l, "/a/x/f", true), "/z/f");
        assert_eq!(resolve(&l, "/e/x/f", true), "/z/f");
    }

    #[test]
    fn dot_dot_stops_at_the_root_and_loops_are_refused() {
        let l = links(&[("/up", "../../../.."), ("/a", "/b"), ("/b", "/a")]);
        assert_eq!(resolve(&l, "/up/etc", true), "/etc");
        assert_eq!(l.resolve(Path::new("/a/x"), true), Err(Loop("/a/x".into())));
    }
}
