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

    /// Writes the maps of process `pid` (which must be in a fresh user namespace).
    pub(crate) fn write(&self, pid: i32) -> io::Result<()> {
        let at = |f: &str| format!("/proc/{pid}/{f}");
        if self.deny_setgroups {
            std::fs::write(at("setgroups"), "deny")?;
        }
        std::fs::write(at("uid_map"), &self.uid_map)?;
        std::fs::write(at("gid_map"), &self.gid_map)?;
        Ok(())
    }
}
