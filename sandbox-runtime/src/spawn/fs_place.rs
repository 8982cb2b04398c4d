//! Where a host path lies inside its file system: the device of the mount that shows it and the
//! path from that file system's own root, read from `/proc/self/mountinfo`. Two mounts of one
//! file system (a bind of a directory somewhere else) show a file under one such place, whatever
//! their mount points, so comparing places tells when two host paths show the same files, or
//! one shows what is inside the other, where comparing the paths, or walking up them, does not.
//!
//! The mount is the one the kernel says shows the path (`statx`'s mount id, or the path's
//! `fdinfo`), not the deepest mount point above it: mountinfo still lists a mount that a later
//! mount over a directory above it hides. Where the file system writes no real root for its mounts
//! (NFS shows `/` for every one) places are as coarse as that root; stacked file systems
//! (overlayfs, FUSE passthrough) have devices of their own and are not related to what they stack.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// A path inside one file system: its device (`major:minor`, as mountinfo writes it) and the
/// path from the file system's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FsPlace {
    dev: Vec<u8>,
    path: PathBuf,
}

impl FsPlace {
    /// Whether the two places are one, or one lies inside the other.
    pub(crate) fn overlaps(&self, other: &FsPlace) -> bool {
        self.dev == other.dev
            && (self.path.starts_with(&other.path) || other.path.starts_with(&self.path))
    }
}

/// The mounts of this process's mount namespace, by mount id.
pub(crate) struct MountTable(Vec<MountEntry>);

/// One line of mountinfo: the mount's id, its device, the directory of the file system it shows,
/// and where it is mounted.
struct MountEntry {
    id: u64,
    dev: Vec<u8>,
    root: PathBuf,
    point: PathBuf,
}

impl MountTable {
    /// This process's mounts, or `None` when mountinfo cannot be read.
    pub(crate) fn of_this_process() -> Option<MountTable> {
        std::fs::read("/proc/self/mountinfo")
            .ok()
            .map(|text| MountTable::parse(&text))
    }

    /// Reads mountinfo's bytes (paths need not be UTF-8): `ID PARENT MAJOR:MINOR ROOT POINT
    /// ...`, each path with space, tab, newline and backslash written as an octal escape. Lines
    /// that do not parse are left out.
    fn parse(text: &[u8]) -> MountTable {
        let entries = text
            .split(|b| *b == b'\n')
            .filter_map(|line| {
                let mut fields = line.split(|b| *b == b' ');
                let id = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
                let dev = fields.nth(1)?.to_vec();
                let root = unescape(fields.next()?);
                let point = unescape(fields.next()?);
                Some(MountEntry {
                    id,
                    dev,
                    root,
                    point,
                })
            })
            .collect();
        MountTable(entries)
    }

    /// The place of the absolute, resolved host path `path`, under the mount the kernel says
    /// shows it; `None` when that cannot be told (no such path, a mount mountinfo does not list,
    /// such as one outside this process's root).
    pub(crate) fn place(&self, path: &Path) -> Option<FsPlace> {
        self.place_in(path, mount_id(path)?)
    }

    /// The place of `path`, shown by the mount `id`.
    fn place_in(&self, path: &Path, id: u64) -> Option<FsPlace> {
        let entry = self.0.iter().find(|e| e.id == id)?;
        let below = path.strip_prefix(&entry.point).ok()?;
        Some(FsPlace {
            dev: entry.dev.clone(),
            path: entry.root.join(below),
        })
    }
}

/// The id of the mount that shows `path`, as mountinfo numbers mounts: from `statx`
/// (`STATX_MNT_ID`), else, where a filter keeps `statx` from saying, from the `mnt_id` line of
/// `/proc/self/fdinfo` for the path opened `O_PATH`.
fn mount_id(path: &Path) -> Option<u64> {
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statx is plain old data; zero is a valid value for it.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: c is a live C string and st a live statx the kernel fills.
    let r = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_STATX_SYNC_AS_STAT,
            libc::STATX_MNT_ID,
            &mut st,
        )
    };
    if r == 0 && st.stx_mask & libc::STATX_MNT_ID != 0 {
        return Some(st.stx_mnt_id);
    }
    // SAFETY: c is a live C string; the descriptor is owned at once.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh descriptor of ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A mountinfo path field as a path.
fn unescape(field: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(crate::mountinfo::unescape(field)))
}

#[cfg(test)]
mod tests {
    use super::MountTable;
    use std::os::fd::AsRawFd;
    use std::path::Path;

    /// A root file system with `/srv/data/sub` bound at `/mnt/data`, and another file system
    /// mounted at `/mnt/other dir` (escaped in mountinfo) with its `/x` bound again at `/opt/x`;
    /// a mount at `/mnt/l\xe9` whose path is no UTF-8.
    const MOUNTINFO: &[u8] = b"\
21 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 21 8:1 /srv/data/sub /mnt/data rw,relatime shared:1 - ext4 /dev/sda1 rw
31 21 8:2 / /mnt/other\\040dir rw,relatime - ext4 /dev/sdb1 rw
32 21 8:2 /x /opt/x rw,relatime - ext4 /dev/sdb1 rw
33 21 0:40 / /mnt/l\xe9 rw - tmpfs tmpfs rw
";

    #[test]
    fn a_directory_bound_elsewhere_is_found_where_its_file_system_has_it() {
        let table = MountTable::parse(MOUNTINFO);
        let place = |p: &str, id| table.place_in(Path::new(p), id).unwrap();
        // The bind of a subdirectory shows what is inside the directory above it, and a file
        // through it is the file at its own path.
        assert!(place("/mnt/data", 30).overlaps(&place("/srv", 21)));
        assert_eq!(place("/mnt/data/f", 30), place("/srv/data/sub/f", 21));
        assert!(place("/opt/x/y", 32).overlaps(&place("/mnt/other dir/x", 31)));
        assert!(place("/mnt/other dir", 31).overlaps(&place("/opt/x", 32)));
        // Apart: other directories of one file system, or another file system.
        assert!(!place("/mnt/other dir/z", 31).overlaps(&place("/opt/x", 32)));
        assert!(!place("/etc", 21).overlaps(&place("/mnt/data", 30)));
        assert!(!place("/mnt/other dir/srv", 31).overlaps(&place("/srv", 21)));
        // A mount that does not show the path, or is not listed, gives no place.
        assert!(table.place_in(Path::new("/etc"), 30).is_none());
        assert!(table.place_in(Path::new("/etc"), 99).is_none());
        // A line with a path that is no UTF-8 is read like any other.
        let odd = std::ffi::OsStr::from_bytes(b"/mnt/l\xe9/f");
        assert!(table.place_in(Path::new(odd), 33).is_some());
    }

    /// On this machine, the kernel's mount id of a path is a mount mountinfo lists: `/proc`
    /// shows itself from its file system's root, and a file under it is inside it; fdinfo
    /// names the same mount as statx.
    #[test]
    fn this_process_finds_the_mount_that_shows_a_path() {
        let table = MountTable::of_this_process().unwrap();
        let proc_ = table.place(Path::new("/proc")).unwrap();
        let inside = table.place(Path::new("/proc/self")).unwrap();
        assert!(proc_.overlaps(&inside));
        assert_eq!(proc_.path, Path::new("/"));
        assert!(!proc_.overlaps(&table.place(Path::new("/")).unwrap()));
        let proc_dir = std::fs::File::open("/proc").unwrap();
        let fdinfo = format!("/proc/self/fdinfo/{}", proc_dir.as_raw_fd());
        let listed = std::fs::read_to_string(fdinfo).unwrap();
        let id = super::mount_id(Path::new("/proc")).unwrap();
        assert!(listed.contains(&format!("mnt_id:\t{id}\n")), "{listed}");
    }

    use std::os::unix::ffi::OsStrExt;
}
