//! Confines what the sandboxee can open to its own file system and to what its descriptors
//! already allow, with a Landlock domain (Linux 6.2+, Landlock ABI 3) applied right before the
//! filter.
//!
//! Without it, a descriptor the host passes in (a standard stream, [`crate::SandboxCommand::
//! pass_fd`]) is a way out of the mount namespace: `/proc/self/fd/N` is a link to the host file
//! itself, so a file passed read-only could be reopened for writing (or truncated by path), and
//! a write-only log reopened to read what was there before; only the file's owner and mode
//! would stand in the way. (Directories, whose `..` no Landlock right covers, are refused before
//! the clone: see [`super::given`].)
//!
//! The domain is not free: on every `open` of a right it handles, the kernel walks from the
//! file up to the rule at the root (7 to 11% of `find /usr -name x`'s time here;
//! `benches/landlock_cost.py`). So a sandbox gets the whole domain, below, only where there is
//! something for it to confine: a descriptor among its streams and passed ones that reopening
//! could make do more (a regular file, a named pipe, a terminal or any device its own `/dev`
//! does not hold), a Unix socket there, through which such a file may come later, or the host's
//! network, where a host client may connect to an abstract name the sandbox took and hand it one
//! ([`super::given::Reach`]). A domain that handles any file-system right also works out the
//! rights of every `open`, walk or not (under 1% of `find`'s time in a profile). So a sandbox
//! given only anonymous pipes, other sockets and `/dev/null` gets Landlock's scopes alone (ABI
//! 6), no file-system right: init closed user namespaces, so its program has no capability
//! anywhere and can mount nothing. Where the program may make user namespaces
//! ([`crate::SandboxCommand::allow_user_namespaces`]), or on a kernel before ABI 6, it gets a
//! light domain instead, which handles writing alone (allowed beneath the root and on a passed
//! file whose descriptor writes): an `open` for reading then walks nothing, while the domain
//! still refuses every mount, even in namespaces the program makes of its own. Every domain
//! refuses `ptrace` of a process outside it.
//!
//! The domain handles every file-system access right, and allows them:
//! - beneath the sandbox's root (every mount the plan made; their own flags still apply: a
//!   read-only bind stays read-only);
//! - on a passed file (any path-named file: regular, device, named pipe): reading if its
//!   descriptor reads, writing and truncation if it writes, device ioctls with either; `execve`
//!   of it, never (a loader can still map it: Landlock checks `execve`, not `mmap`). Appending
//!   is not a limit a descriptor keeps (`fcntl(F_SETFL)` clears `O_APPEND`, `ftruncate` works
//!   on it, neither of which Landlock sees), so an appending descriptor reopens for writing.
//!
//! Where the sandbox has a writable bind, every domain (the scopes' too) also handles making
//! Unix sockets' files, and allows it only beneath the tmpfs mounts of the sandbox's own with
//! no writable bind below them ([`super::mounts::MountPlan::private_tmpfs`]): two sandboxes
//! binding one directory could otherwise meet through a socket made there, and one hand the
//! other what it was given (a terminal, a file passed read-only), past the guards and rules
//! that only the first has.
//!
//! From ABI 6 the domain also refuses connecting to abstract Unix sockets made outside it:
//! with the host's network shared (which holds them), a host service listening on one (a
//! session bus, an X server) would otherwise be the sandbox's to talk to. (Host clients can
//! still connect in to a name the sandbox binds: the scope is one-way.)
//!
//! Descriptors that no path names (pipes, sockets, memfds, event fds) are outside Landlock's
//! reach and reopen as before. What the descriptor itself allows its owner (`fchmod`,
//! `fchown`, timestamps, extended attributes) it still allows, by path too. Where
//! the kernel has no Landlock, or one older than ABI 3 (whose rename and truncate rules would
//! break programs or leave truncation open), nothing is confined ([`confined_here`] says which):
//! see the README's security model.
//!
//! Runs in the sandboxee between clone and exec: raw system calls on stack values only.

use super::plan::Plan;
use super::steps::{Failure, Step};
use super::sys;
use std::ffi::CStr;

/// `landlock_create_ruleset`'s flag asking for the ABI version.
const CREATE_RULESET_VERSION: libc::c_uint = 1;
/// `landlock_add_rule`'s rule type for a file hierarchy (or a file).
const RULE_PATH_BENEATH: libc::c_int = 1;
/// The oldest ABI confined: 2 adds renames across directories (without it a domain refuses
/// them all), 3 adds truncation.
const MIN_ABI: libc::c_long = 3;
/// ABI 5 adds device ioctls.
const IOCTL_DEV_ABI: libc::c_long = 5;
/// ABI 6 adds scopes: abstract Unix sockets made outside the domain.
const SCOPE_ABI: libc::c_long = 6;
/// `LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET`.
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;

mod access {
    pub const EXECUTE: u64 = 1 << 0;
    pub const WRITE_FILE: u64 = 1 << 1;
    pub const READ_FILE: u64 = 1 << 2;
    /// Reading and changing directories, making and removing entries (bits 3 to 12).
    pub const DIRECTORIES: u64 = 0x1ff8;
    /// Making a Unix socket's file (`bind`, `mknod`), or linking or renaming one in: one of
    /// [`DIRECTORIES`].
    pub const MAKE_SOCK: u64 = 1 << 9;
    pub const REFER: u64 = 1 << 13;
    pub const TRUNCATE: u64 = 1 << 14;
    pub const IOCTL_DEV: u64 = 1 << 15;
}

/// The index of a [`Step::ConfineReopens`] failure that is not about one descriptor.
pub(crate) const RULESET: u32 = u32::MAX;

/// `struct landlock_ruleset_attr` (with the fields of later ABIs left zero).
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr`.
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: libc::c_int,
}

/// The Landlock ABI this kernel offers, or a negative number without Landlock; asked once per
/// process, before any clone (the plan carries it to the sandboxee, whose steps stay one call
/// shorter).
pub(crate) fn abi() -> libc::c_long {
    static ABI: crate::first_use::OnceBox<libc::c_long> = crate::first_use::OnceBox::new();
    *ABI.get_or_init(|| {
        // SAFETY: the version query takes no attribute.
        Box::new(unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<RulesetAttr>(),
                0usize,
                CREATE_RULESET_VERSION,
            )
        })
    })
}

/// Whether sandboxes started on this kernel confine reopening their descriptors (Landlock ABI 3
/// or later; see the module's docs).
pub fn confined_here() -> bool {
    abi() >= MIN_ABI
}

/// Applies the domain to the calling process (see the module's docs); after `no_new_privs`,
/// with the root detached and the standard streams and passed descriptors in place.
pub(crate) fn confine(plan: &Plan) -> Result<(), Failure> {
    let abi = plan.landlock_abi;
    if abi < MIN_ABI {
        return Ok(());
    }
    let ioctl = if abi >= IOCTL_DEV_ABI {
        access::IOCTL_DEV
    } else {
        0
    };
    let scopes = abi >= SCOPE_ABI;
    let handled = if plan.parts.confine_reopening {
        access::EXECUTE
            | access::WRITE_FILE
            | access::READ_FILE
            | access::DIRECTORIES
            | access::REFER
            | access::TRUNCATE
            | ioctl
    } else if scopes && !plan.parts.user_namespaces {
        // The scopes alone: no file-system right, so no `open` pays for the domain.
        0
    } else {
        // The light domain: not TRUNCATE or IOCTL_DEV either, which every open asks for too.
        access::WRITE_FILE
    };
    // With a writable bind, which other sandboxes may share, no socket file is made but in the
    // sandbox's own tmpfs mounts (see `MountPlan::has_writable_bind`).
    let fence_sockets = plan.parts.mounts.has_writable_bind();
    let handled = handled | if fence_sockets { access::MAKE_SOCK } else { 0 };
    let attr = RulesetAttr {
        handled_access_fs: handled,
        handled_access_net: 0,
        scoped: if scopes {
            SCOPE_ABSTRACT_UNIX_SOCKET
        } else {
            0
        },
    };
    // SAFETY: attr is a live struct of the size given.
    let ruleset = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            std::mem::size_of::<RulesetAttr>(),
            0,
        )
    };
    let ruleset = sys::check_at(ruleset, Step::ConfineReopens, RULESET)? as libc::c_int;
    let rules = if handled == 0 {
        Ok(())
    } else {
        add_rules(plan, ruleset, handled, ioctl, fence_sockets)
    };
    let result = rules.and_then(|()| {
        // SAFETY: ruleset is the descriptor just made.
        let r = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0) };
        sys::check_at(r, Step::ConfineReopens, RULESET).map(drop)
    });
    // SAFETY: ours; nothing else refers to it.
    unsafe { libc::close(ruleset) };
    result
}

/// The root's rule (without making sockets where they are fenced), one making sockets beneath
/// each tmpfs of the sandbox's own where they are, then one per standard stream and passed
/// descriptor that a path names.
fn add_rules(
    plan: &Plan,
    ruleset: libc::c_int,
    handled: u64,
    ioctl: u64,
    fence_sockets: bool,
) -> Result<(), Failure> {
    let beneath_root = if fence_sockets {
        handled & !access::MAKE_SOCK
    } else {
        handled
    };
    if beneath_root != 0 {
        add_rule_at(ruleset, c"/", beneath_root)?;
    }
    if fence_sockets {
        for dst in plan.parts.mounts.private_tmpfs() {
            add_rule_at(ruleset, dst, access::MAKE_SOCK)?;
        }
    }
    let passed = plan.passed.iter().map(|(_, target)| *target);
    for fd in (0..3).chain(passed) {
        let Some(allowed) = allowed_through(fd, ioctl)
            .map(|a| a & handled)
            .filter(|a| *a != 0)
        else {
            continue;
        };
        let r = add_rule(ruleset, fd, allowed);
        // Not a file of a mounted file system (a pipe, a socket, a memfd): nothing to confine.
        if r < 0 && sys::errno() == libc::EBADFD {
            continue;
        }
        sys::check_at(r, Step::ConfineReopens, fd as u32)?;
    }
    Ok(())
}

/// What reopening `fd` by path may do, or `None` for nothing (a closed number, an `O_PATH`
/// descriptor, a file neither read nor written through it).
fn allowed_through(fd: libc::c_int, ioctl: u64) -> Option<u64> {
    // SAFETY: fcntl with integer arguments.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || flags & libc::O_PATH != 0 {
        return None;
    }
    let mode = flags & libc::O_ACCMODE;
    let reads = mode == libc::O_RDONLY || mode == libc::O_RDWR;
    let writes = mode == libc::O_WRONLY || mode == libc::O_RDWR;
    let allowed = if reads { access::READ_FILE } else { 0 }
        | if writes {
            access::WRITE_FILE | access::TRUNCATE
        } else {
            0
        };
    (allowed != 0).then_some(allowed | ioctl)
}

/// Adds a rule allowing `allowed` beneath the sandbox path `path`.
fn add_rule_at(ruleset: libc::c_int, path: &CStr, allowed: u64) -> Result<(), Failure> {
    // SAFETY: a NUL-terminated path.
    let at = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    let at = sys::check_at(at.into(), Step::ConfineReopens, RULESET)? as libc::c_int;
    let r = add_rule(ruleset, at, allowed);
    // SAFETY: ours.
    unsafe { libc::close(at) };
    sys::check_at(r, Step::ConfineReopens, RULESET).map(drop)
}

fn add_rule(ruleset: libc::c_int, fd: libc::c_int, allowed: u64) -> libc::c_long {
    let beneath = PathBeneathAttr {
        allowed_access: allowed,
        parent_fd: fd,
    };
    // SAFETY: beneath is a live struct; the kernel reads it whole.
    unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            RULE_PATH_BENEATH,
            &beneath as *const PathBeneathAttr,
            0,
        )
    }
}
