//! The user namespace's id maps, written by the parent while init waits.
//!
//! Inside, the program is uid 1000 / gid 1000. Outside it is never root:
//! - when the host runs as root, 1000 maps to 65534 (`nobody`/`nogroup`), an id that owns no
//!   files of interest; init then clears the supplementary groups (root's group 0 would
//!   otherwise follow the sandbox), which needs `setgroups` allowed;
//! - when the host is unprivileged, 1000 maps to the caller's own uid and gid (the only ids it
//!   may map), with `setgroups` denied as the kernel requires; the caller's supplementary groups
//!   then stay (shown as 65534 inside) and cannot be dropped, so run unprivileged sandboxes from
//!   an account without interesting groups.
//!
//! Only 1000 is mapped: no id inside is 0, so nothing in the sandbox ever maps to host root.

use std::io;

/// The uid and gid of the program inside the sandbox.
pub const SANDBOX_ID: u32 = 1000;
/// The host uid and gid the sandbox runs as when the host is root.
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
        if uid == 0 {
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
    use super::write_proc_file;

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
