//! The user namespace's id maps, written by the parent while init waits.
//!
//! Inside, the program is uid 1000 / gid 1000. Outside it is never root, as a uid or a gid:
//! - when the host runs as root, 1000 maps to 65534 (`nobody`/`nogroup`), an id that owns no
//!   files of interest; init then clears the supplementary groups (root's group 0 would
//!   otherwise follow the sandbox), which needs `setgroups` allowed;
//! - when the host is unprivileged, 1000 maps to the caller's own uid and gid (the only ids it
//!   may map), with `setgroups` denied as the kernel requires; the caller's supplementary groups
//!   then stay (shown as 65534 inside) and cannot be dropped, so run unprivileged sandboxes from
//!   an account without interesting groups;
//! - when the host is root in a user namespace that could not give the sandbox 65534 (one that
//!   does not map it, or denies `setgroups`, as `unshare --map-root-user` makes), 1000 maps as
//!   for an unprivileged host, to the host's own ids, provided that these are not root in the
//!   namespace's parent (as they are when root made it with one id): otherwise the spawn fails
//!   with [`crate::SpawnError::NoUnprivilegedIds`]. So does an unprivileged host whose uid or
//!   gid is root's in the parent (group 0 as its primary group, say).
//!
//! The decision looks at the calling process's user namespace at every spawn, so no answer
//! about one namespace serves another: the initial one by its fixed inode number, any other by
//! its `/proc/self/uid_map`, `gid_map` and `setgroups`. In the parent it checks one level up: a
//! parent namespace that itself maps a non-root id to root (which only root can make) is taken
//! at its word.
//!
//! Only 1000 is mapped: no id inside is 0, so nothing in the sandbox ever maps to host root.

use std::io;

/// The uid and gid of the program inside the sandbox.
pub const SANDBOX_ID: u32 = 1000;
/// The host uid and gid the sandbox runs as when the host is root in a user namespace that maps
/// them and allows `setgroups` (the initial one does); otherwise the sandbox runs as the host's
/// own ids, unless those are root's in the namespace's parent, where no sandbox starts.
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
    /// The maps for the calling process's credentials and user namespace; `None` when no id
    /// outside is left for the sandbox but root's (see the module's docs).
    pub(crate) fn for_caller() -> Option<IdMaps> {
        // SAFETY: geteuid and getegid cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let namespace = UserNamespace::of_this_process()?;
        if uid == 0 && namespace.gives_nobody() {
            return Some(IdMaps {
                uid_map: format!("{SANDBOX_ID} {HOST_ID_WHEN_ROOT} 1\n"),
                gid_map: format!("{SANDBOX_ID} {HOST_ID_WHEN_ROOT} 1\n"),
                deny_setgroups: false,
                clear_groups: true,
            });
        }
        if !namespace.maps_to_other_than_root(uid, gid) {
            return None;
        }
        Some(IdMaps {
            uid_map: format!("{SANDBOX_ID} {uid} 1\n"),
            gid_map: format!("{SANDBOX_ID} {gid} 1\n"),
            deny_setgroups: true,
            clear_groups: false,
        })
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

/// The calling process's user namespace.
enum UserNamespace {
    /// The initial one, which maps every id to itself and allows `setgroups`.
    Initial,
    /// Any other, with its maps as its own `/proc/self` files show them.
    Nested { uid_map: String, gid_map: String },
}

/// The initial user namespace's inode number (`PROC_USER_INIT_INO`), fixed by the kernel: it
/// spares the common case reading the maps at every spawn.
const INITIAL_USER_NAMESPACE: u64 = 0xEFFF_FFFD;

impl UserNamespace {
    /// `None` when a file cannot be read.
    fn of_this_process() -> Option<UserNamespace> {
        use std::os::unix::fs::MetadataExt;
        let ns = std::fs::metadata("/proc/self/ns/user").ok()?;
        if ns.ino() == INITIAL_USER_NAMESPACE {
            return Some(UserNamespace::Initial);
        }
        let read = |name| std::fs::read_to_string(format!("/proc/self/{name}")).ok();
        Some(UserNamespace::Nested {
            uid_map: read("uid_map")?,
            gid_map: read("gid_map")?,
        })
    }

    /// Whether root may give the sandbox [`HOST_ID_WHEN_ROOT`] here and have init clear its
    /// groups: the namespace maps that id as a uid and as a gid, and allows `setgroups`. (Root
    /// without `CAP_SETUID` or `CAP_SETGID` is told so by the kernel when it writes the maps.)
    fn gives_nobody(&self) -> bool {
        match self {
            UserNamespace::Initial => true,
            UserNamespace::Nested { uid_map, gid_map } => {
                outside(uid_map, HOST_ID_WHEN_ROOT).is_some()
                    && outside(gid_map, HOST_ID_WHEN_ROOT).is_some()
                    && std::fs::read_to_string("/proc/self/setgroups")
                        .is_ok_and(|s| s.trim() == "allow")
            }
        }
    }

    /// Whether `uid` and `gid` of this namespace map to ids other than root's in its parent.
    fn maps_to_other_than_root(&self, uid: u32, gid: u32) -> bool {
        match self {
            UserNamespace::Initial => uid != 0 && gid != 0,
            UserNamespace::Nested { uid_map, gid_map } => {
                let other = |map: &str, id| outside(map, id).is_some_and(|o| o != 0);
                other(uid_map, uid) && other(gid_map, gid)
            }
        }
    }
}

/// The id in the parent namespace that `id` maps to, by `map`, an id map as a process of the
/// namespace reads it (`INSIDE OUTSIDE COUNT` lines); `None` if `map` does not map `id`.
fn outside(map: &str, id: u32) -> Option<u64> {
    let id = u64::from(id);
    map.lines().find_map(|line| {
        let mut fields = line.split_whitespace().map(str::parse::<u64>);
        match (fields.next(), fields.next(), fields.next()) {
            (Some(Ok(inside)), Some(Ok(outside)), Some(Ok(count)))
                if (inside..inside.saturating_add(count)).contains(&id) =>
            {
                Some(outside + (id - inside))
            }
            _ => None,
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
    use super::{outside, write_proc_file, IdMaps, UserNamespace, HOST_ID_WHEN_ROOT};

    /// An id maps to the parent's id at the same offset in the line whose range holds it.
    #[test]
    fn an_id_maps_to_the_parents_id_at_its_offset_in_its_range() {
        let initial = "         0          0 4294967295\n";
        assert_eq!(outside(initial, HOST_ID_WHEN_ROOT), Some(65534));
        assert_eq!(outside(initial, 0), Some(0));
        let map_root_user = "         0       1000          1\n";
        assert_eq!(outside(map_root_user, 0), Some(1000));
        assert_eq!(outside(map_root_user, HOST_ID_WHEN_ROOT), None);
        let two = "0 1000 1\n1 100000 65535\n";
        assert_eq!(outside(two, 65534), Some(165533));
        assert_eq!(outside(two, 65535), Some(165534));
        assert_eq!(outside(two, 65536), None);
        assert_eq!(outside("65534 0", 65534), None);
        assert_eq!(outside("", 65534), None);
    }

    /// Read from the kernel: this test runs in the initial user namespace, as root and as an
    /// unprivileged user (CI), which maps every id and allows `setgroups`; root gets 65534 and
    /// init clears its groups, anyone else its own ids.
    #[test]
    fn in_the_initial_user_namespace_root_gets_nobody_and_others_their_own_ids() {
        let map = std::fs::read_to_string("/proc/self/uid_map").unwrap();
        assert!(map.contains("4294967295"), "not the initial one: {map}");
        let namespace = UserNamespace::of_this_process().unwrap();
        assert!(matches!(namespace, UserNamespace::Initial));
        assert!(namespace.gives_nobody());
        let maps = IdMaps::for_caller().expect("ids for the sandbox");
        // SAFETY: geteuid and getegid cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if uid == 0 {
            assert_eq!(maps.uid_map, "1000 65534 1\n");
            assert!(maps.clear_groups && !maps.deny_setgroups);
        } else {
            assert_eq!(maps.uid_map, format!("1000 {uid} 1\n"));
            assert_eq!(maps.gid_map, format!("1000 {gid} 1\n"));
            assert!(!maps.clear_groups && maps.deny_setgroups);
        }
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
