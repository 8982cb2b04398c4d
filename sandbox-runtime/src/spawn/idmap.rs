//! The user namespace's id maps, written by the parent while init waits.
//!
//! Inside, the program is uid 1000 / gid 1000. Outside it is never root:
//! - when the host runs as root, 1000 maps to 65534 (`nobody`/`nogroup`), an id that owns no
//!   files of interest; init then clears the supplementary groups (root's group 0 would
//!   otherwise follow the sandbox), which needs `setgroups` allowed;
//! - when the host is unprivileged, 1000 maps to the caller's own uid and gid (the only ids it
//!   may map), with `setgroups` denied as the kernel requires; the caller's supplementary groups
//!   then stay (shown as 65534 inside) and cannot be dropped, so run unprivileged sandboxes from
//!   an account without interesting groups;
//! - when the host is root in a user namespace that could not give the sandbox 65534 (one that
//!   does not map it, or denies `setgroups`, as `unshare --map-root-user` makes), or root without
//!   `CAP_SETUID` and `CAP_SETGID`, 1000 maps as for an unprivileged host: to the host's own ids,
//!   its root there, which holds no capability outside the sandbox's namespaces.
//!
//! Only 1000 is mapped: no id inside is 0, so nothing in the sandbox ever maps to host root.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

/// The uid and gid of the program inside the sandbox.
pub const SANDBOX_ID: u32 = 1000;
/// The host uid and gid the sandbox runs as when the host is root in a user namespace that maps
/// them and allows `setgroups` (the initial one does), with `CAP_SETUID` and `CAP_SETGID`;
/// otherwise the sandbox runs as the host's own ids.
pub const HOST_ID_WHEN_ROOT: u32 = 65534;

/// The maps for one sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IdMaps {
    pub uid_map: String,
    pub gid_map: String,
    /// Write "deny" to `setgroups` (required when unprivileged).
    pub deny_setgroups: bool,
    /// Init must drop the supplementary groups (possible only when privileged).
    pub clear_groups: bool,
}

impl IdMaps {
    /// The maps for the calling process's credentials.
    pub(crate) fn for_caller() -> IdMaps {
        // SAFETY: geteuid and getegid cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if uid == 0 && root_may_map_to_nobody() {
            IdMaps {
                uid_map: format!("{SANDBOX_ID} {HOST_ID_WHEN_ROOT} 1\n"),
                gid_map: format!("{SANDBOX_ID} {HOST_ID_WHEN_ROOT} 1\n"),
                deny_setgroups: false,
                clear_groups: true,
            }
        } else {
            IdMaps {
                uid_map: format!("{SANDBOX_ID} {uid} 1\n"),
                gid_map: format!("{SANDBOX_ID} {gid} 1\n"),
                deny_setgroups: true,
                clear_groups: false,
            }
        }
    }

    /// Writes the maps of process `pid` (which must be in a fresh user namespace). Nothing is
    /// allocated: the parent calls this right after the clone, while the child shares its
    /// pages and each page the parent writes is first copied (see [`write_proc_file`]).
    pub(crate) fn write(&self, pid: i32) -> io::Result<()> {
        if self.deny_setgroups {
            write_proc_file(pid, b"setgroups", b"deny")?;
        }
        write_proc_file(pid, b"uid_map", self.uid_map.as_bytes())?;
        write_proc_file(pid, b"gid_map", self.gid_map.as_bytes())?;
        Ok(())
    }
}

/// Whether the calling thread, root, may map the sandbox's ids to [`HOST_ID_WHEN_ROOT`] and
/// have init clear the groups: it has `CAP_SETUID` and `CAP_SETGID`, and its user namespace
/// maps that id as a uid and as a gid and allows `setgroups` (asked once per user namespace).
fn root_may_map_to_nobody() -> bool {
    use super::capabilities::{has_effective, CAP_SETGID, CAP_SETUID};
    has_effective(CAP_SETUID) && has_effective(CAP_SETGID) && {
        match user_namespace() {
            Some(ns) => {
                let known = NAMESPACE_MAPS_NOBODY.load(Ordering::Relaxed);
                if known >> 1 == ns {
                    known & 1 == 1
                } else {
                    let answer = namespace_maps_nobody();
                    NAMESPACE_MAPS_NOBODY.store(ns << 1 | u64::from(answer), Ordering::Relaxed);
                    answer
                }
            }
            None => namespace_maps_nobody(),
        }
    }
}

/// The last answer of [`namespace_maps_nobody`]: the user namespace's inode number, shifted
/// left once, with the answer in the low bit; 0 before the first. Threads share their user
/// namespace, so only a process on its own thread can change it between two answers.
static NAMESPACE_MAPS_NOBODY: AtomicU64 = AtomicU64::new(0);

/// The calling process's user namespace, by inode number (below 2^32 for namespaces).
fn user_namespace() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata("/proc/self/ns/user").ok()?.ino();
    (ino != 0 && ino < 1 << 63).then_some(ino)
}

/// Whether the calling process's user namespace maps [`HOST_ID_WHEN_ROOT`] as a uid and as a
/// gid, and allows `setgroups`. False when a file cannot be read.
fn namespace_maps_nobody() -> bool {
    let read = |name: &str| std::fs::read_to_string(format!("/proc/self/{name}")).ok();
    let maps = |name: &str| read(name).is_some_and(|map| maps_id(&map, HOST_ID_WHEN_ROOT));
    maps("uid_map") && maps("gid_map") && read("setgroups").is_some_and(|s| s.trim() == "allow")
}

/// Whether `map`, an id map as a process of the namespace reads it (`INSIDE OUTSIDE COUNT`
/// lines), maps `id` of the namespace.
fn maps_id(map: &str, id: u32) -> bool {
    map.lines().any(|line| {
        let mut fields = line.split_whitespace().map(str::parse::<u64>);
        match (fields.next(), fields.next(), fields.next()) {
            (Some(Ok(inside)), Some(Ok(_)), Some(Ok(count))) => {
                (inside..inside.saturating_add(count)).contains(&u64::from(id))
            }
            _ => false,
        }
    })
}

/// Writes `contents` to `/proc/PID/NAME` in one `write`, the path built on the stack. The
/// child waits for its maps, so this is on the way to every start, right after the clone: a
/// heap allocation there would write to pages the child shares, each write then faulting to
/// copy a page first.
fn write_proc_file(pid: i32, name: &[u8], contents: &[u8]) -> io::Result<()> {
    let path = super::sys::proc_path(pid, name).map_err(io::Error::from_raw_os_error)?;
    // SAFETY: path is NUL-terminated (zeroed past len); open only reads it.
    let fd = unsafe { libc::open(path.as_ptr().cast(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is ours; write reads contents.len() bytes of contents.
    let written = unsafe { libc::write(fd, contents.as_ptr().cast(), contents.len()) };
    let result = match written {
        w if w < 0 => Err(io::Error::last_os_error()),
        w if w as usize != contents.len() => Err(io::Error::from_raw_os_error(libc::EIO)),
        _ => Ok(()),
    };
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    result
}

#[cfg(test)]
mod tests {
    use super::{maps_id, namespace_maps_nobody, write_proc_file, HOST_ID_WHEN_ROOT};

    /// An id is mapped when a line's range, from its first field, holds it.
    #[test]
    fn an_id_is_mapped_when_a_range_inside_holds_it() {
        let initial = "         0          0 4294967295\n";
        assert!(maps_id(initial, HOST_ID_WHEN_ROOT));
        let map_root_user = "         0       1000          1\n";
        assert!(!maps_id(map_root_user, HOST_ID_WHEN_ROOT));
        let two = "0 1000 1\n1 100000 65535\n";
        assert!(maps_id(two, 65534) && maps_id(two, 65535) && !maps_id(two, 65536));
        assert!(!maps_id("65534 0", 65534) && !maps_id("", 65534));
    }

    /// Read from the kernel: this test runs in the initial user namespace, as root and as an
    /// unprivileged user (CI), which maps every id and allows `setgroups`.
    #[test]
    fn the_initial_user_namespace_maps_nobody() {
        let map = std::fs::read_to_string("/proc/self/uid_map").unwrap();
        assert!(map.contains("4294967295"), "not the initial one: {map}");
        assert!(namespace_maps_nobody());
    }

    /// The path is built as `/proc/PID/NAME`: a file of this process is written through it
    /// (its OOM score adjustment, with the value it has), and a missing name or one too long
    /// for the buffer is an error.
    #[test]
    fn a_proc_file_is_written_through_the_path_built_on_the_stack() {
        let pid = std::process::id() as i32;
        let at = format!("/proc/{pid}/oom_score_adj");
        let before = std::fs::read_to_string(&at).unwrap();
        write_proc_file(pid, b"oom_score_adj", before.trim_end().as_bytes()).unwrap();
        assert_eq!(std::fs::read_to_string(&at).unwrap(), before);
        let missing = write_proc_file(pid, b"no-such-file", b"x").unwrap_err();
        assert_eq!(missing.raw_os_error(), Some(libc::ENOENT));
        let long = write_proc_file(pid, &[b'x'; 40], b"x").unwrap_err();
        assert_eq!(long.raw_os_error(), Some(libc::ENAMETOOLONG));
    }
}
