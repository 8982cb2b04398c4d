//! Where a host path lies inside its file system: the device of the mount that shows it and the
//! path from that file system's own root, read from `/proc/self/mountinfo`. Two mounts of one
//! file system (a bind of a directory somewhere else) show a file under one such place, whatever
//! their mount points, so comparing places tells when two host paths show the same files, or
//! one shows what is inside the other, where comparing the paths, or walking up them, does not.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// A path inside one file system: its device (`major:minor`, as mountinfo writes it) and the
/// path from the file system's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FsPlace {
    dev: String,
    path: PathBuf,
}

impl FsPlace {
    /// Whether the two places are one, or one lies inside the other.
    pub(crate) fn overlaps(&self, other: &FsPlace) -> bool {
        self.dev == other.dev
            && (self.path.starts_with(&other.path) || other.path.starts_with(&self.path))
    }
}

/// The mounts of this process's mount namespace, in the order mountinfo lists them (a mount
/// after the one it is mounted on).
pub(crate) struct MountTable(Vec<MountEntry>);

/// One line of mountinfo: the device, the directory of the file system the mount shows, and
/// where it is mounted.
struct MountEntry {
    dev: String,
    root: PathBuf,
    point: PathBuf,
}

impl MountTable {
    /// This process's mounts, or `None` when mountinfo cannot be read.
    pub(crate) fn of_this_process() -> Option<MountTable> {
        std::fs::read_to_string("/proc/self/mountinfo")
            .ok()
            .map(|text| MountTable::parse(&text))
    }

    /// Reads mountinfo's text: `ID PARENT MAJOR:MINOR ROOT POINT ...`, each path with space,
    /// tab, newline and backslash written as an octal escape. Lines that do not parse are left
    /// out.
    fn parse(text: &str) -> MountTable {
        let entries = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.split(' ').skip(2);
                let dev = fields.next()?.to_string();
                let root = unescape(fields.next()?);
                let point = unescape(fields.next()?);
                Some(MountEntry { dev, root, point })
            })
            .collect();
        MountTable(entries)
    }

    /// The place of the absolute, resolved host path `path`: under the mount that shows it (the
    /// deepest mount point above it, the last mounted there when several are).
    pub(crate) fn place(&self, path: &Path) -> Option<FsPlace> {
        let (_, entry) = self
            .0
            .iter()
            .enumerate()
            .filter(|(_, e)| path.starts_with(&e.point))
            .max_by_key(|(at, e)| (e.point.components().count(), *at))?;
        let below = path.strip_prefix(&entry.point).ok()?;
        Some(FsPlace {
            dev: entry.dev.clone(),
            path: entry.root.join(below),
        })
    }
}

/// A mountinfo path field as a path.
fn unescape(field: &str) -> PathBuf {
    PathBuf::from(OsString::from_vec(crate::mountinfo::unescape(field)))
}

#[cfg(test)]
mod tests {
    use super::MountTable;
    use std::path::Path;

    /// A root file system with `/srv/data/sub` bound at `/mnt/data`, and another file system
    /// mounted at `/mnt/other dir` (escaped in mountinfo) with its `/x` bound again at `/opt/x`.
    const MOUNTINFO: &str = "\
21 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 21 8:1 /srv/data/sub /mnt/data rw,relatime shared:1 - ext4 /dev/sda1 rw
31 21 8:2 / /mnt/other\\040dir rw,relatime - ext4 /dev/sdb1 rw
32 21 8:2 /x /opt/x rw,relatime - ext4 /dev/sdb1 rw
";

    #[test]
    fn a_directory_bound_elsewhere_is_found_where_its_file_system_has_it() {
        let table = MountTable::parse(MOUNTINFO);
        let place = |p: &str| table.place(Path::new(p)).unwrap();
        // The bind of a subdirectory shows what is inside the directory above it, and a file
        // through it is the file at its own path.
        assert!(place("/mnt/data").overlaps(&place("/srv")));
        assert_eq!(place("/mnt/data/f"), place("/srv/data/sub/f"));
        assert!(place("/opt/x/y").overlaps(&place("/mnt/other dir/x")));
        assert!(place("/mnt/other dir").overlaps(&place("/opt/x")));
        // Apart: other directories of one file system, or another file system.
        assert!(!place("/mnt/other dir/z").overlaps(&place("/opt/x")));
        assert!(!place("/etc").overlaps(&place("/mnt/data")));
        assert!(!place("/mnt/other dir/srv").overlaps(&place("/srv")));
    }

    #[test]
    fn this_process_has_its_root_somewhere() {
        let table = MountTable::of_this_process().unwrap();
        let root = table.place(Path::new("/")).unwrap();
        assert!(root.overlaps(&table.place(Path::new("/")).unwrap()));
    }
}
