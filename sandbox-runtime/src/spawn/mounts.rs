//! The sandbox's file system: planned on the host, built by init between clone and exec.
//!
//! In its own, now private, mount namespace, init makes the new root, a tmpfs (`fsmount`), and
//! mounts it over the host root, where it covers no host directory ([`make_new_root`]). Every
//! entry is then a mount from the host root to the new root. Finally init pivots into the new
//! root, which stacks the host root on it, and detaches the host root, leaving nothing of the
//! host but what was bound ([`enter_new_root`], [`StackedHostRoot`]).
//!
//! No step names a path from the process's root. Init holds both roots open and looks up each
//! source in the host root and each mount point in the new root with `openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_SYMLINKS)`, following no symbolic link at all: the host canonicalised each source
//! at the spawn (a link swapped in since fails the set-up). A link a sandbox planted in a writable bind
//! it shares with a later one is therefore an error for the later one, never a way onto the host
//! (through `..` or `/proc`) or to another place in its root. The plan's own `symlink`
//! entries are trusted: a destination through one is rewritten on the host to where it leads
//! ([`super::sandbox_path`]). Mount points are made one name at a time in an open directory
//! (`mkdirat`, `O_CREAT|O_EXCL|O_NOFOLLOW`); binds are `open_tree` clones moved onto the open
//! mount point, and tmpfs and proc are mounted on it as the working directory. The root and
//! `/dev` are sealed read-only with `mount_setattr` on held descriptors too. Init works with no
//! umask, so that mount points in the sandbox's own directories have their modes whatever the
//! host's umask; those it makes in a bound host directory, which stay on the host after the
//! sandbox, get the host's umask, as anything else the host makes there.
//!
//! Bind mounts are not recursive (submounts of a source are not visible) so a read-only bind
//! cannot expose a writable submount. Each bind gets its flags with `mount_setattr` while still
//! detached, before it is attached: flags are only ever added, so those the kernel locks in a
//! user namespace (those of the source mount: `ro`, `noexec`, `nosuid`, `nodev`, atime) stay,
//! and a mount point for a later entry can never be created through a read-only bind into the
//! host.

use super::fs_place::MountTable;
use super::plan::DETACH_PENDING;
use super::sandbox_path::{Loop, PlanLinks};
use super::steps::{Failure, Step};
use super::sys;
use crate::command::Mount;
use crate::error::SpawnError;
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The largest tmpfs size passed on: far above any memory, and far enough below 2^64 that the
/// kernel's count of pages (rounded up) cannot wrap around to 0, which tmpfs reads as no limit.
const MAX_TMPFS_SIZE: u64 = 1 << 62;

/// A bind of `src` (a canonical host path, looked up in the host root) at `dst`.
#[derive(Debug)]
pub(crate) struct BindOp {
    pub src: CString,
    pub dst: CString,
    pub parents: Vec<CString>,
    pub writable: bool,
    pub exec: bool,
    /// A device node: keep `dev`.
    pub device: bool,
}

impl BindOp {
    /// The `MOUNT_ATTR_*` flags the bind gets: always `nosuid`, `nodev` but for a device,
    /// `ro` unless writable, `noexec` where writable (or a device) and not asked to run code.
    fn attributes(&self) -> u64 {
        let mut set = libc::MOUNT_ATTR_NOSUID;
        if !self.device {
            set |= libc::MOUNT_ATTR_NODEV;
        }
        if !self.writable {
            set |= libc::MOUNT_ATTR_RDONLY;
        }
        if !self.exec && (self.writable || self.device) {
            set |= libc::MOUNT_ATTR_NOEXEC;
        }
        set
    }
}

/// One step of the file-system build, with every path already a C string. Every `dst`,
/// `parents` and `link` is an absolute sandbox path, looked up in the new root; `parents` are
/// the ancestors of `dst` (or `link`), outermost first.
#[derive(Debug)]
pub(crate) enum MountOp {
    /// A bind from the host.
    Bind(BindOp),
    /// A tmpfs at `dst` with mount data `data`.
    Tmpfs {
        dst: CString,
        parents: Vec<CString>,
        data: CString,
        flags: libc::c_ulong,
    },
    /// A fresh proc for the new pid namespace, read-only.
    Proc { dst: CString, parents: Vec<CString> },
    /// A symbolic link.
    Symlink {
        target: CString,
        link: CString,
        parents: Vec<CString>,
    },
}

/// `op` if it is a writable bind of the host's other than a device node: a place that other
/// sandboxes binding the same host path may reach too.
fn shared_writable(op: &MountOp) -> Option<&BindOp> {
    match op {
        MountOp::Bind(b) if b.writable && !b.device => Some(b),
        _ => None,
    }
}

/// The whole file-system build.
#[derive(Debug, Default)]
pub(crate) struct MountPlan {
    pub ops: Vec<MountOp>,
    /// For error messages: each op in words, and its destination inside the sandbox.
    pub descriptions: Vec<String>,
    pub mount_points: Vec<String>,
}

fn cstring(p: impl AsRef<[u8]>, what: &str) -> Result<CString, SpawnError> {
    CString::new(p.as_ref()).map_err(|_| SpawnError::NulByte { what: what.into() })
}

/// Checks a sandbox path and returns its normal components.
fn sandbox_components(p: &Path) -> Result<Vec<&std::ffi::OsStr>, SpawnError> {
    let bad = || SpawnError::BadSandboxPath {
        path: p.display().to_string(),
    };
    if !p.is_absolute() {
        return Err(bad());
    }
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir | Component::Prefix(_) => return Err(bad()),
        }
    }
    Ok(out)
}

/// Checks that every destination of `mounts` is a sandbox path (absolute, free of `..`), so
/// that a bad one is reported as such before anything reads where the mounts land.
pub(crate) fn check_destinations(mounts: &[Mount]) -> Result<(), SpawnError> {
    mounts
        .iter()
        .try_for_each(|m| sandbox_components(m.destination()).map(drop))
}

/// The sandbox path `p` and its ancestors (outermost first, `/` left out), normalised.
fn in_sandbox(p: &Path) -> Result<(CString, Vec<CString>), SpawnError> {
    let comps = sandbox_components(p)?;
    let mut cur = PathBuf::from("/");
    let mut parents = Vec::new();
    for (i, c) in comps.iter().enumerate() {
        cur.push(c);
        if i + 1 < comps.len() {
            parents.push(cstring(cur.as_os_str().as_bytes(), "mount path")?);
        }
    }
    Ok((cstring(cur.as_os_str().as_bytes(), "mount path")?, parents))
}

/// A bind's source as an absolute host path, canonicalised when it exists: init looks it up
/// in the host root following no symbolic link, so the host's links are followed here, as the
/// host sees them at the spawn.
fn host_source(host: &Path) -> Result<CString, SpawnError> {
    let abs = std::path::absolute(host).map_err(|e| SpawnError::os("resolve mount source", e))?;
    let p = std::fs::canonicalize(&abs).unwrap_or_else(|_| end_of_links(abs));
    cstring(p.as_os_str().as_bytes(), "mount source")
}

/// Where a chain of symbolic links that does not resolve ends (at most 40 links, as the
/// kernel follows): init, which follows no link, then fails on a link to nothing as on any
/// missing source (`ENOENT`), where it would otherwise find the link itself (`ELOOP`); a loop
/// still ends on a link.
fn end_of_links(mut path: PathBuf) -> PathBuf {
    for _ in 0..40 {
        let Ok(target) = std::fs::read_link(&path) else {
            break;
        };
        let dir = path
            .parent()
            .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()));
        path = match dir {
            Some(dir) => dir.join(target),
            None => target,
        };
    }
    path
}

/// What a host path is, as the kernel tells files apart (device and inode), with what each
/// directory above it is, up to the root: the same directory reached by two paths (bound
/// elsewhere on the host) has one identity.
struct Lineage(Vec<(u64, u64)>);

impl Lineage {
    /// `path` and its ancestors, as far as they can be looked at (nothing if `path` itself
    /// cannot).
    fn of(path: &Path) -> Lineage {
        use std::os::unix::fs::MetadataExt;
        Lineage(
            path.ancestors()
                .map_while(|p| std::fs::metadata(p).ok())
                .map(|m| (m.dev(), m.ino()))
                .collect(),
        )
    }

    /// The path's own identity, if it could be looked at.
    fn own(&self) -> Option<(u64, u64)> {
        self.0.first().copied()
    }

    /// Whether the path is `other` or lies under it.
    fn passes(&self, other: Option<(u64, u64)>) -> bool {
        other.is_some_and(|o| self.0.contains(&o))
    }
}

/// The most inodes a tmpfs of `size` bytes holds: one per 4 KiB page of its size (a file with
/// any data takes a page anyway), at least 256. The kernel's own default is half the machine's
/// pages whatever the size, so empty files, directories and links would otherwise let a
/// sandbox hold kernel memory far beyond the size it was given.
fn tmpfs_inodes(size: u64) -> u64 {
    (size / 4096).max(256)
}

/// The host's devices every sandbox gets, bound read-only at the same paths.
const DEVICES: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// The links every sandbox's `/dev` holds, as (target, link).
const DEV_LINKS: [(&str, &str); 4] = [
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
];

/// Whether `at` is one of the places the plan makes for every sandbox
/// ([`MountPlan::push_proc`], [`MountPlan::push_dev`]): a user entry there would cover them, or
/// be sealed in their stead.
fn is_own_place(at: &Path) -> bool {
    ["/proc", "/dev"]
        .into_iter()
        .chain(DEVICES)
        .chain(DEV_LINKS.map(|(_, link)| link))
        .any(|own| at == Path::new(own))
}

/// Where init will find each user entry's destination: through the plan's own symbolic links
/// (init follows no other), shallowest first, so that a parent is mounted before what is
/// mounted inside it. The root itself is no mount point: it is the sandbox's own tmpfs.
fn place(user: &[Mount]) -> Result<Vec<(PathBuf, &Mount)>, SpawnError> {
    let bad = |path: &Path, reason| SpawnError::BadMountPoint {
        path: path.display().to_string(),
        reason,
    };
    let looped = |Loop(path): Loop| bad(&path, "its path loops through the plan's symbolic links");
    check_destinations(user)?;
    for m in user {
        if let Mount::Symlink { target, link } = m {
            if target.as_os_str().is_empty() {
                return Err(bad(link, "a symbolic link needs a target"));
            }
        }
    }
    let links = PlanLinks::of(&plan_links(user)).map_err(looped)?;
    let mut placed: Vec<(PathBuf, &Mount)> = Vec::with_capacity(user.len());
    for m in user {
        let follow_last = !matches!(m, Mount::Symlink { .. });
        let at = links
            .resolve(m.destination(), follow_last)
            .map_err(looped)?;
        if at.parent().is_none() {
            let root = "the root is the sandbox's own tmpfs; mount what it needs below it";
            return Err(bad(m.destination(), root));
        }
        if is_own_place(&at) {
            let own = "the sandbox's own /proc and /dev entries are there; mount elsewhere";
            return Err(bad(m.destination(), own));
        }
        // Two entries in one place (as written, or through the plan's links): the later would
        // hide the earlier, so what the sandbox shows would depend on the calls' order.
        if placed.iter().any(|(other, _)| *other == at) {
            return Err(bad(
                m.destination(),
                "another entry is already mounted there",
            ));
        }
        placed.push((at, m));
    }
    placed.sort_by_key(|(at, _)| at.components().count());
    Ok(placed)
}

/// The `(link, target)` of each symlink entry of `mounts`.
pub(crate) fn plan_links(mounts: &[Mount]) -> Vec<(&Path, &Path)> {
    mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Symlink { target, link } => Some((link.as_path(), target.as_path())),
            _ => None,
        })
        .collect()
}

impl MountPlan {
    /// Plans `/proc`, `/dev` and then the user's entries, shallowest destination first (so a
    /// parent is mounted before what is mounted inside it).
    pub(crate) fn build(user: &[Mount]) -> Result<MountPlan, SpawnError> {
        let mut plan = MountPlan::default();
        plan.push_proc()?;
        plan.push_dev()?;
        for (at, m) in place(user)? {
            plan.push_user(m, &at)?;
        }
        plan.no_exec_through_another_bind()?;
        Ok(plan)
    }

    /// The mount that shows `path` in the sandbox (the deepest one at or above it, as written),
    /// in words, if it is `noexec`: a writable bind (unless asked to run code), a tmpfs that is
    /// not asked to either, or `/proc`.
    pub(crate) fn noexec_entry_over(&self, path: &Path) -> Option<&str> {
        let i = (0..self.ops.len()).rev().find(|&i| {
            // A destination reached through the plan's links reads `POINT (at WHERE)`.
            let entry = &self.mount_points[i];
            let point = entry.split(" (at ").next().unwrap_or(entry);
            !matches!(self.ops[i], MountOp::Symlink { .. }) && path.starts_with(Path::new(point))
        })?;
        let noexec = match &self.ops[i] {
            MountOp::Bind(b) => b.attributes() & libc::MOUNT_ATTR_NOEXEC != 0,
            MountOp::Tmpfs { flags, .. } => flags & libc::MS_NOEXEC != 0,
            MountOp::Proc { .. } => true,
            MountOp::Symlink { .. } => false,
        };
        noexec.then(|| self.descriptions[i].as_str())
    }

    /// Whether the sandbox has a writable bind of the host's (a device node aside): a place
    /// that other sandboxes, binding the same directory, may reach too. A Unix socket made
    /// there by one would let another connect and be handed descriptors (`SCM_RIGHTS`) the
    /// first was given, past the guards and Landlock rules that only the first has; so such a
    /// sandbox may make no socket file there (see [`super::reopen`]).
    pub(crate) fn has_writable_bind(&self) -> bool {
        self.ops.iter().any(|op| shared_writable(op).is_some())
    }

    /// The destinations of the tmpfs mounts that no writable bind lies below: places that only
    /// this sandbox reaches, where its program may make sockets of its own. Reads the plan
    /// only (no allocation), so the sandboxee may call it between clone and exec.
    pub(crate) fn private_tmpfs(&self) -> impl Iterator<Item = &CStr> {
        let writable_below = |dst: &CStr| {
            self.ops.iter().filter_map(shared_writable).any(|b| {
                let (inner, outer) = (b.dst.to_bytes(), dst.to_bytes());
                inner.len() > outer.len() && inner.starts_with(outer) && inner[outer.len()] == b'/'
            })
        };
        self.ops.iter().filter_map(move |op| match op {
            MountOp::Tmpfs { dst, .. } if !writable_below(dst) => Some(dst.as_c_str()),
            _ => None,
        })
    }

    /// What each entry would show if built now, as [`build`] records it: for a bind, its
    /// source on the host (`None` if it cannot be read); all zero for other entries.
    pub(crate) fn sources_now(&self) -> Vec<Option<Bound>> {
        self.ops
            .iter()
            .map(|op| match op {
                MountOp::Bind(b) => shown(&b.src),
                _ => Some(Bound::default()),
            })
            .collect()
    }

    /// Adds an entry whose destination `point` init finds `at` (the two differ when the path
    /// goes through one of the plan's symbolic links).
    fn push(&mut self, op: MountOp, description: String, point: &Path, at: &Path) {
        self.ops.push(op);
        self.descriptions.push(description);
        self.mount_points.push(if point == at {
            point.display().to_string()
        } else {
            format!("{} (at {})", point.display(), at.display())
        });
    }

    /// Refuses a bind that lets programs run from what a writable bind (`noexec`) shows: the
    /// same host object, or one holding the other. The sandbox could write a program through
    /// the one and run it through the other, which is what `noexec` on the writable bind is
    /// there to prevent. Sources are compared as [`host_source`] resolved them, by what they
    /// are (device and inode, of each and of every directory above its path: a second hard
    /// link to a bound file) and by where their file system has them
    /// ([`FsPlace`](super::fs_place::FsPlace): a host directory bound elsewhere on the host, or
    /// a directory from inside one source bound somewhere else); a source whose place cannot be
    /// told fails the start. Not seen: a hard link to one file under two bound directories, and
    /// what [`super::fs_place`] cannot tell apart. A bind asked writable and executable
    /// (`mount_rw_exec`) has said it means to run what it writes.
    fn no_exec_through_another_bind(&self) -> Result<(), SpawnError> {
        let binds = self.ops.iter().enumerate().filter_map(|(i, op)| match op {
            MountOp::Bind(b) if !b.device => {
                Some((i, b, Path::new(OsStr::from_bytes(b.src.to_bytes()))))
            }
            _ => None,
        });
        let writable: Vec<_> = binds
            .clone()
            .filter(|(_, b, _)| b.writable && !b.exec)
            .collect();
        if writable.is_empty() {
            return Ok(());
        }
        // A source that does not resolve (missing, or a loop) was left as given: the set-up
        // fails on it, naming the bind and why, so it is not compared here.
        let executable = binds.filter(|(_, b, s)| !b.writable && b.exec && s.exists());
        let executable: Vec<_> = executable.collect();
        if executable.is_empty() {
            return Ok(());
        }
        // Where each source lies among the host's mounts; one that cannot be told fails closed.
        let mounts = MountTable::of_this_process();
        let place = |i: usize, p: &Path| {
            mounts
                .as_ref()
                .and_then(|m| m.place(p))
                .ok_or_else(|| SpawnError::UnplacedSource {
                    path: self.mount_points[i].clone(),
                })
        };
        let writable = writable
            .into_iter()
            .filter(|(_, _, w)| w.exists())
            .map(|(j, _, w)| Ok((j, w, Lineage::of(w), place(j, w)?)))
            .collect::<Result<Vec<_>, SpawnError>>()?;
        for (i, _, shown) in executable {
            let (lineage, shown_place) = (Lineage::of(shown), place(i, shown)?);
            let overlap = writable.iter().find(|(_, w, w_lineage, w_place)| {
                shown.starts_with(w)
                    || w.starts_with(shown)
                    || lineage.passes(w_lineage.own())
                    || w_lineage.passes(lineage.own())
                    || shown_place.overlaps(w_place)
            });
            if let Some((j, _, _, _)) = overlap {
                return Err(SpawnError::ExecutableOverWritable {
                    executable: self.mount_points[i].clone(),
                    writable: self.mount_points[*j].clone(),
                });
            }
        }
        Ok(())
    }

    fn push_proc(&mut self) -> Result<(), SpawnError> {
        let (dst, parents) = in_sandbox(Path::new("/proc"))?;
        self.push(
            MountOp::Proc { dst, parents },
            "mount /proc".into(),
            Path::new("/proc"),
            Path::new("/proc"),
        );
        Ok(())
    }

    fn push_dev(&mut self) -> Result<(), SpawnError> {
        let (dst, parents) = in_sandbox(Path::new("/dev"))?;
        self.push(
            MountOp::Tmpfs {
                dst,
                parents,
                data: cstring("size=65536,mode=0755", "tmpfs data")?,
                flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            },
            "mount tmpfs on /dev".into(),
            Path::new("/dev"),
            Path::new("/dev"),
        );
        for device in DEVICES {
            let host = Path::new(device);
            let (dst, parents) = in_sandbox(host)?;
            self.push(
                MountOp::Bind(BindOp {
                    src: cstring(host.as_os_str().as_bytes(), "device path")?,
                    dst,
                    parents,
                    // Read-only: a device is still read and written through its node, but the
                    // host's node itself (its times, its mode) cannot be changed from inside.
                    writable: false,
                    exec: false,
                    device: true,
                }),
                format!("bind {device}"),
                host,
                host,
            );
        }
        for (target, link) in DEV_LINKS {
            self.push_symlink(Path::new(target), Path::new(link), Path::new(link))?;
        }
        Ok(())
    }

    fn push_symlink(&mut self, target: &Path, link: &Path, at: &Path) -> Result<(), SpawnError> {
        let (l, parents) = in_sandbox(at)?;
        self.push(
            MountOp::Symlink {
                target: cstring(target.as_os_str().as_bytes(), "symlink target")?,
                link: l,
                parents,
            },
            format!("symlink {} -> {}", link.display(), target.display()),
            link,
            at,
        );
        Ok(())
    }

    /// Adds a user entry, found by init `at` (see [`place`]).
    fn push_user(&mut self, m: &Mount, at: &Path) -> Result<(), SpawnError> {
        match m {
            Mount::Bind {
                src,
                dst,
                writable,
                exec,
            } => {
                let (d, parents) = in_sandbox(at)?;
                let mode = if *writable { "read-write" } else { "read-only" };
                let mut text = format!("bind {} {mode}", src.display());
                if src != dst {
                    text.push_str(&format!(" at {}", dst.display()));
                }
                self.push(
                    MountOp::Bind(BindOp {
                        src: host_source(src)?,
                        dst: d,
                        parents,
                        writable: *writable,
                        exec: *exec,
                        device: false,
                    }),
                    text,
                    dst,
                    at,
                );
            }
            Mount::Tmpfs { dst, size, exec } => {
                if *size == 0 || *size > MAX_TMPFS_SIZE {
                    return Err(SpawnError::TmpfsSize {
                        path: dst.display().to_string(),
                        size: *size,
                    });
                }
                let (d, parents) = in_sandbox(at)?;
                let mut flags = libc::MS_NOSUID | libc::MS_NODEV;
                if !exec {
                    flags |= libc::MS_NOEXEC;
                }
                self.push(
                    MountOp::Tmpfs {
                        dst: d,
                        parents,
                        data: cstring(
                            format!("size={size},nr_inodes={},mode=0755", tmpfs_inodes(*size)),
                            "tmpfs data",
                        )?,
                        flags,
                    },
                    format!("mount tmpfs of {size} bytes on {}", dst.display()),
                    dst,
                    at,
                );
            }
            Mount::Symlink { target, link } => self.push_symlink(target, link, at)?,
        }
        Ok(())
    }
}

// ---- In the child (init), after the id maps: allocation-free from here on. ----

/// The root directory.
pub(crate) const ROOT: &CStr = c"/";
const DOT: &CStr = c".";

/// Stops mount events from leaking to or from the host.
pub(crate) fn private_propagation() -> Result<(), Failure> {
    let flags = libc::MS_REC | libc::MS_PRIVATE;
    sys::check(
        sys::mount(None, ROOT, None, flags, None),
        Step::PrivatePropagation,
    )?;
    Ok(())
}

/// Makes the new root, a tmpfs mounted over the host root, and returns both roots held open
/// for the build ([`build`]) and the switch ([`enter_new_root`]). Mounted on `/` itself, the
/// new root covers no host directory, as one mounted on a directory would: a path is looked up
/// from the root directory, not through what is mounted on it, so host paths still resolve as
/// the host sees them. Only `..` at the root steps onto it, and the plan's sources, canonical,
/// hold none. The new root is reached through its descriptor. Mounted rather than left detached
/// because a kernel before 6.15 mounts nothing inside a detached tree.
pub(crate) fn make_new_root() -> Result<Roots, Failure> {
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: ROOT is NUL-terminated.
    let old = unsafe { libc::open(ROOT.as_ptr(), flags) };
    let old = owned(sys::check(old.into(), Step::OpenRoots)?);
    let attrs = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;
    let new = sys::new_tmpfs(c"1048576", c"0755", attrs);
    let new = owned(sys::check(new, Step::NewRootTmpfs)?);
    sys::check(
        sys::move_mount_to(new.as_raw_fd(), ROOT),
        Step::AttachNewRoot,
    )?;
    Ok(Roots { old, new })
}

/// What a bind shows: the (device, inode) of its source, and the flags the source's mount
/// imposes on it ([`locked_flags`]); all zero for
/// entries that are not binds. A sandbox made ahead of time is used for a later request only
/// if the request's sources still show the same (see [`super::spare`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bound {
    pub dev: u64,
    pub ino: u64,
    /// `MS_*` flags (a `c_ulong`, 64 bits on the supported targets).
    pub flags: u64,
}

/// Runs every planned entry, in order, and records in `bound` (one slot per entry, prepared by
/// the caller so nothing is allocated here) what each bind shows. Then makes the new root and
/// `/dev` read-only, adding flags to the mounts the descriptors hold (never replacing them, so
/// what an entry mounted on `/dev` had stays).
pub(crate) fn build(
    plan: &MountPlan,
    roots: &Roots,
    host_umask: libc::mode_t,
    bound: &mut [Bound],
) -> Result<(), Failure> {
    let mut builder = Builder {
        roots,
        ops: &plan.ops,
        host_umask,
        last_parent: None,
    };
    for (i, op) in plan.ops.iter().enumerate() {
        builder.run_op(op, bound.get_mut(i), i as u32)?;
    }
    let dev = open_dir(&roots.new, c"/dev");
    let dev = owned(sys::check(dev, Step::SealReadOnly)?);
    let ro = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID;
    let sealed = ro | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC;
    let r = sys::set_mount_flags(dev.as_raw_fd(), sealed);
    sys::check(r, Step::SealReadOnly)?;
    let r = sys::set_mount_flags(roots.new.as_raw_fd(), ro | libc::MOUNT_ATTR_NODEV);
    sys::check(r, Step::SealReadOnly)?;
    Ok(())
}

/// What a bind of the host path `source` shows now, seen from the host: the object (following
/// symbolic links) and the locked flags of the mount it is on.
fn shown(source: &CStr) -> Option<Bound> {
    // SAFETY: stat is plain old data; zero is a valid initial value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: source is NUL-terminated and st is a live stat the kernel fills.
    if unsafe { libc::stat(source.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let flags = locked_flags(|out| {
        // SAFETY: source is NUL-terminated and out has the kernel's statfs layout.
        unsafe { libc::syscall(libc::SYS_statfs, source.as_ptr(), out) }
    });
    Some(Bound {
        dev: st.st_dev,
        ino: st.st_ino,
        flags: flags.ok()?,
    })
}

/// `struct statfs` of the 64-bit kernel ABIs (x86-64, aarch64), with `f_flags` visible (the
/// libc crate keeps it private).
#[repr(C)]
struct Statfs {
    f_type: i64,
    f_bsize: i64,
    f_blocks: u64,
    f_bfree: u64,
    f_bavail: u64,
    f_files: u64,
    f_ffree: u64,
    f_fsid: [i32; 2],
    f_namelen: i64,
    f_frsize: i64,
    f_flags: i64,
    f_spare: [i64; 4],
}

/// The mount flags a remount in a user namespace must keep, of the mount `statfs` (a
/// `statfs(2)` or `fstatfs(2)` call filling the buffer it is given) reports on.
fn locked_flags(statfs: impl FnOnce(*mut Statfs) -> libc::c_long) -> Result<libc::c_ulong, ()> {
    let mut st = Statfs {
        f_type: 0,
        f_bsize: 0,
        f_blocks: 0,
        f_bfree: 0,
        f_bavail: 0,
        f_files: 0,
        f_ffree: 0,
        f_fsid: [0; 2],
        f_namelen: 0,
        f_frsize: 0,
        f_flags: 0,
        f_spare: [0; 4],
    };
    if statfs(&mut st) < 0 {
        return Err(());
    }
    let f = st.f_flags as libc::c_ulong;
    let pairs = [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    Ok(pairs
        .iter()
        .filter(|(st, _)| f & *st != 0)
        .fold(0, |acc, (_, ms)| acc | ms))
}

/// The host root and the new root, held open for the build: every path of the plan is
/// resolved in one of them ([`make_new_root`]).
pub(crate) struct Roots {
    old: OwnedFd,
    new: OwnedFd,
}

impl Roots {
    /// The new root's device and inode numbers.
    pub(crate) fn new_root_id(&self) -> Result<(u64, u64), Failure> {
        let st = sys::fstat(self.new.as_raw_fd(), Step::OpenRoots, 0)?;
        Ok((st.st_dev, st.st_ino))
    }
}

/// Takes ownership of a descriptor a successful system call just returned.
fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: fd was just returned by the kernel to this process and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// The last component of an absolute path, as a C string of its own: a suffix of `path`, so
/// nothing is allocated. Empty for `/`.
fn last_name(path: &CStr) -> &CStr {
    let bytes = path.to_bytes_with_nul();
    let start = bytes.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    CStr::from_bytes_with_nul(&bytes[start..]).unwrap_or(c"")
}

/// `path` (absolute in the sandbox) opened in the new root, following no symbolic link.
fn open_in_new(root: &OwnedFd, path: &CStr, flags: libc::c_int) -> libc::c_long {
    sys::open_in_root(root.as_raw_fd(), path, flags)
}

/// `path` (a directory, absolute in the sandbox) opened in the new root.
fn open_dir(root: &OwnedFd, path: &CStr) -> libc::c_long {
    open_in_new(root, path, libc::O_PATH | libc::O_DIRECTORY)
}

/// What a mount point must be.
#[derive(Clone, Copy)]
enum Point {
    /// A directory, made with this mode.
    Dir(libc::mode_t),
    /// A file, made empty.
    File,
}

/// The roots, and the directory the entry before went in, kept open for the next entry when it
/// goes in the same one (a device node after another in `/dev`, a library after another).
/// Only the entry just before may have left it: whatever that one mounted, it mounted *in*
/// that directory, never on it or above it, so the descriptor still holds what the path names
/// in the new root. Any other entry in between (one in another directory, or in the root)
/// lets it go, since that one may have mounted on the directory or above it.
///
/// Only a directory of the sandbox's own ([`own_dir`]: at or under no bind, so on its root, its
/// `/dev`, `/proc` or a tmpfs not inside a bind) is used again, and only there is a file mount
/// point used as it was made: in a bound host directory someone else (the host, or another
/// sandbox sharing a writable bind) may rename it between two entries, and each entry there
/// looks its path up afresh. Such a directory is still held until the next entry, which is
/// as long as the entry that opened it uses it.
struct Builder<'p> {
    roots: &'p Roots,
    ops: &'p [MountOp],
    /// The host's umask, for what is made in a bound host directory ([`Builder::mode_in`]).
    host_umask: libc::mode_t,
    last_parent: Option<KeptDir<'p>>,
}

/// The directory an entry went in, held open.
struct KeptDir<'p> {
    path: &'p CStr,
    fd: OwnedFd,
    /// Whether it is the sandbox's own, so the next entry in it may use it again.
    own: bool,
}

/// Whether the directory `dir` (an absolute sandbox path) is the sandbox's own for an entry
/// after the entries `before`: at or under none of their binds' destinations.
fn own_dir(before: &[MountOp], dir: &CStr) -> bool {
    !before.iter().any(|op| match op {
        MountOp::Bind(b) => at_or_under(dir.to_bytes(), b.dst.to_bytes()),
        _ => false,
    })
}

/// Whether the directory `dir` (an absolute sandbox path) is a bound host directory for an
/// entry after the entries `before`: the last of their mounts at or above it (the one on top)
/// is a bind. Under no mount, or on a tmpfs or proc on top (even one inside a bind), it is the
/// sandbox's own memory, gone with it. Unlike [`own_dir`], which is cautious about what may be
/// renamed under the sandbox, this says where what init makes there lives.
fn in_host_dir(before: &[MountOp], dir: &CStr) -> bool {
    let dir = dir.to_bytes();
    before
        .iter()
        .rev()
        .find_map(|op| match op {
            MountOp::Bind(b) => at_or_under(dir, b.dst.to_bytes()).then_some(true),
            MountOp::Tmpfs { dst, .. } | MountOp::Proc { dst, .. } => {
                at_or_under(dir, dst.to_bytes()).then_some(false)
            }
            MountOp::Symlink { .. } => None,
        })
        .unwrap_or(false)
}

/// Whether the absolute sandbox path `path` is `top` or lies under it.
fn at_or_under(path: &[u8], top: &[u8]) -> bool {
    match path.strip_prefix(top) {
        Some(rest) => rest.is_empty() || rest[0] == b'/' || top == b"/",
        None => false,
    }
}

impl<'p> Builder<'p> {
    /// The mode to make a file or directory with in the directory `dir` for entry `i`: in a
    /// bound host directory ([`in_host_dir`]), `mode` less the host's umask (it stays on the
    /// host); else `mode` itself (init has no umask).
    fn mode_in(&self, dir: Option<&CStr>, i: u32, mode: libc::mode_t) -> libc::mode_t {
        let before = self.ops.get(..i as usize).unwrap_or(self.ops);
        if dir.is_some_and(|d| in_host_dir(before, d)) {
            mode & !self.host_umask
        } else {
            mode
        }
    }

    fn run_op(&mut self, op: &'p MountOp, slot: Option<&mut Bound>, i: u32) -> Result<(), Failure> {
        match op {
            MountOp::Bind(b) => self.bind(b, slot, i)?,
            MountOp::Tmpfs {
                dst,
                parents,
                data,
                flags,
            } => {
                let at = self.mount_point(dst, parents, Point::Dir(0o755), i)?;
                mount_on(&at, c"tmpfs", *flags, Some(data), i)?;
            }
            MountOp::Proc { dst, parents } => {
                let at = self.mount_point(dst, parents, Point::Dir(0o555), i)?;
                let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY;
                mount_on(&at, c"proc", flags, None, i)?;
            }
            MountOp::Symlink {
                target,
                link,
                parents,
            } => {
                let (at, _) = self.parent(parents, i)?;
                let r = sys::symlinkat(target, at, last_name(link));
                sys::check_at(r, Step::Mount, i)?;
            }
        }
        Ok(())
    }

    /// The directory an entry's last component goes in, and whether it is the sandbox's own
    /// (see [`Builder`]): the new root itself when `parents` is empty, else the last of
    /// `parents`, made first (each missing one in turn, in its open parent) if it is missing.
    /// Held until the next entry, which may use it again if it is the sandbox's own.
    fn parent(&mut self, parents: &'p [CString], i: u32) -> Result<(RawFd, bool), Failure> {
        let kept = self.last_parent.take();
        let root = &self.roots.new;
        let Some(last) = parents.last() else {
            return Ok((root.as_raw_fd(), true));
        };
        if let Some(kept) = kept.filter(|k| k.own && k.path == last.as_c_str()) {
            let raw = kept.fd.as_raw_fd();
            self.last_parent = Some(kept);
            return Ok((raw, true));
        }
        let r = open_dir(root, last);
        let dir = if r >= 0 {
            owned(r)
        } else if sys::errno() != libc::ENOENT {
            return Err(Failure::at(Step::MountPoint, i));
        } else {
            let mut dir: Option<OwnedFd> = None;
            let mut above: Option<&CStr> = None;
            for p in parents {
                let at = dir.as_ref().unwrap_or(root).as_raw_fd();
                let mode = self.mode_in(above, i, 0o755);
                above = Some(p);
                sys::check_at(
                    sys::mkdirat_exist_ok(at, last_name(p), mode),
                    Step::MountPoint,
                    i,
                )?;
                dir = Some(owned(sys::check_at(
                    open_dir(root, p),
                    Step::MountPoint,
                    i,
                )?));
            }
            // parents is not empty, so the loop opened at least one directory.
            dir.ok_or(Failure::at(Step::MountPoint, i))?
        };
        let raw = dir.as_raw_fd();
        let own = own_dir(self.ops.get(..i as usize).unwrap_or(self.ops), last);
        self.last_parent = Some(KeptDir {
            path: last.as_c_str(),
            fd: dir,
            own,
        });
        Ok((raw, own))
    }

    /// Makes the mount point `dst` in its parent unless something is there already, and
    /// returns it open: the file just made in a directory of the sandbox's own, or else what
    /// `dst` resolves to in the new root.
    fn mount_point(
        &mut self,
        dst: &CStr,
        parents: &'p [CString],
        point: Point,
        i: u32,
    ) -> Result<OwnedFd, Failure> {
        let name = last_name(dst);
        if name.is_empty() {
            self.last_parent = None; // a mount on the root would cover any kept directory
        } else {
            let (at, own) = self.parent(parents, i)?;
            let in_dir = parents.last().map(|p| p.as_c_str());
            match point {
                Point::Dir(mode) => {
                    let mode = self.mode_in(in_dir, i, mode);
                    sys::check_at(sys::mkdirat_exist_ok(at, name, mode), Step::MountPoint, i)?;
                }
                Point::File => {
                    let made = sys::create_file(at, name, self.mode_in(in_dir, i, 0o644));
                    if made >= 0 {
                        let made = owned(made);
                        if own {
                            return Ok(made);
                        }
                    } else if sys::errno() != libc::EEXIST {
                        return Err(Failure::at(Step::MountPoint, i));
                    }
                }
            }
        }
        let flags = match point {
            Point::Dir(_) => libc::O_PATH | libc::O_DIRECTORY,
            Point::File => libc::O_PATH,
        };
        let found = owned(sys::check_at(
            open_in_new(&self.roots.new, dst, flags),
            Step::MountPoint,
            i,
        )?);
        // A file's source on a directory found there (in a bind, in /proc): said as such, not
        // as the kernel's EINVAL at the mount.
        if matches!(point, Point::File) {
            let st = sys::fstat(found.as_raw_fd(), Step::MountPoint, i)?;
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                return Err(Failure {
                    step: Step::MountPoint,
                    index: i,
                    errno: libc::EISDIR,
                });
            }
        }
        Ok(found)
    }

    /// Binds the host object `b.src` at `b.dst`: a detached clone of the source, given its
    /// flags, then moved onto the open mount point. Records what it shows in `slot`.
    fn bind(&mut self, b: &'p BindOp, slot: Option<&mut Bound>, i: u32) -> Result<(), Failure> {
        let r = sys::open_in_root(self.roots.old.as_raw_fd(), &b.src, libc::O_PATH);
        let source = owned(sys::check_at(r, Step::Mount, i)?);
        let st = sys::fstat(source.as_raw_fd(), Step::Mount, i)?;
        if let Some(slot) = slot {
            let flags = locked_flags(|out| {
                // SAFETY: source is an open descriptor and out has the kernel's statfs layout.
                unsafe { libc::syscall(libc::SYS_fstatfs, source.as_raw_fd(), out) }
            });
            *slot = Bound {
                dev: st.st_dev,
                ino: st.st_ino,
                flags: flags.map_err(|()| Failure::at(Step::Mount, i))?,
            };
        }
        let point = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            Point::Dir(0o755)
        } else {
            Point::File
        };
        let at = self.mount_point(&b.dst, &b.parents, point, i)?;
        let tree = owned(sys::check_at(
            sys::clone_mount(source.as_raw_fd()),
            Step::Mount,
            i,
        )?);
        let r = sys::set_mount_flags(tree.as_raw_fd(), b.attributes());
        sys::check_at(r, Step::Remount, i)?;
        let r = sys::move_mount(tree.as_raw_fd(), at.as_raw_fd());
        sys::check_at(r, Step::Mount, i)?;
        Ok(())
    }
}

/// Mounts a new file system of type `fstype` on the open mount point `at`, through the
/// working directory so that no path is looked up again.
fn mount_on(
    at: &OwnedFd,
    fstype: &CStr,
    flags: libc::c_ulong,
    data: Option<&CStr>,
    i: u32,
) -> Result<(), Failure> {
    sys::check_at(sys::fchdir(at.as_raw_fd()), Step::Mount, i)?;
    let fs = Some(fstype);
    sys::check_at(sys::mount(fs, DOT, fs, flags, data), Step::Mount, i)?;
    Ok(())
}

/// Pivots into the new root (sealed by [`build`]): `pivot_root(".", ".")` from the new root
/// stacks the host root on top of it. A path starts at the root directory or the working
/// directory, the new root's, not at what is mounted on them; but `..` from the root steps onto
/// what is mounted there, so the host root must be detached before any path is looked up in
/// the sandbox ([`StackedHostRoot`]).
pub(crate) fn enter_new_root(roots: Roots) -> Result<StackedHostRoot, Failure> {
    let Roots { old, new } = roots;
    drop(old);
    sys::check(sys::fchdir(new.as_raw_fd()), Step::PivotToNewRoot)?;
    drop(new);
    sys::check(sys::pivot_root(DOT, DOT), Step::PivotToNewRoot)?;
    Ok(StackedHostRoot(()))
}

/// The host root, with everything under it, stacked on the new root after
/// [`enter_new_root`], to be detached: one detach of the working directory's top mount, which
/// takes it out of reach at once, then waits for the kernel's RCU grace period (about 80 µs on
/// the test machine). A sandbox made ahead detaches it at once ([`Self::detach_now`]); a fresh
/// init detaches it beside the sandboxee's own steps (see [`super::init::clone_sandboxee`]).
pub(crate) struct StackedHostRoot(());

impl StackedHostRoot {
    /// Detaches the host root now.
    pub(crate) fn detach_now(self) -> Result<(), Failure> {
        sys::check(sys::umount2(DOT, libc::MNT_DETACH), Step::DetachOldRoot)?;
        sys::check(sys::chdir(ROOT), Step::ChdirToRoot)?;
        Ok(())
    }

    /// Detaches the host root from init while the sandboxee runs on init's memory (no libc:
    /// see [`super::raw`]): tells the sandboxee through `done` that init has pivoted
    /// ([`DETACH_PENDING`], from which the sandboxee may see the detach done before the call
    /// returns), then how the detach went (0 or the errno).
    pub(crate) fn detach_beside(self, done: &std::sync::atomic::AtomicU32) {
        super::raw::set_and_wake(done, DETACH_PENDING);
        #[cfg(feature = "test-hooks")]
        if crate::test_hooks::slow_detach() {
            super::raw::pause(std::time::Duration::from_millis(100));
        }
        let detached = super::raw::detach(DOT);
        #[cfg(feature = "test-hooks")]
        if crate::test_hooks::late_detach_word() {
            super::raw::pause(std::time::Duration::from_secs(1));
        }
        super::raw::set_and_wake(done, detached as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tmpfs_of_size_zero_is_refused() {
        let zero = [Mount::Tmpfs {
            dst: "/scratch".into(),
            size: 0,
            exec: false,
        }];
        let err = MountPlan::build(&zero).unwrap_err();
        assert!(matches!(&err, SpawnError::TmpfsSize { path, size: 0 } if path == "/scratch"));
        assert!(err.to_string().contains("no limit"), "{err}");
        // The kernel counts pages rounding up: this many bytes wrap around to 0 pages.
        let huge = [Mount::Tmpfs {
            dst: "/scratch".into(),
            size: u64::MAX,
            exec: false,
        }];
        assert!(matches!(
            MountPlan::build(&huge),
            Err(SpawnError::TmpfsSize { .. })
        ));
    }

    #[test]
    fn only_tmpfs_mounts_with_no_writable_bind_below_are_private() {
        let tmpfs = |dst: &str| Mount::Tmpfs {
            dst: dst.into(),
            size: 1 << 20,
            exec: false,
        };
        let bind = |dst: &str, writable| Mount::Bind {
            src: "/nonexistent-data".into(),
            dst: dst.into(),
            writable,
            exec: false,
        };
        let read_only = [tmpfs("/a"), tmpfs("/ab"), bind("/a/r", false)];
        let p = MountPlan::build(&read_only).unwrap();
        assert!(!p.has_writable_bind());
        let user = [
            tmpfs("/a"),
            tmpfs("/ab"),
            tmpfs("/c"),
            bind("/a/w", true),
            bind("/c/r", false),
            bind("/w", true),
        ];
        let p = MountPlan::build(&user).unwrap();
        assert!(p.has_writable_bind());
        let private: Vec<_> = p.private_tmpfs().collect();
        // The sandbox's own /dev, and the tmpfs mounts but /a (and not /ab for its name).
        assert_eq!(private, [c"/dev", c"/ab", c"/c"]);
    }

    #[test]
    fn plan_orders_and_names_entries() {
        let user = [
            Mount::Tmpfs {
                dst: "/a/b/c".into(),
                size: 10,
                exec: false,
            },
            Mount::Bind {
                src: "/nonexistent-data".into(),
                dst: "/nonexistent-data".into(),
                writable: false,
                exec: true,
            },
        ];
        let p = MountPlan::build(&user).unwrap();
        let n = p.ops.len();
        assert_eq!(p.descriptions[n - 2], "bind /nonexistent-data read-only");
        assert_eq!(p.descriptions[n - 1], "mount tmpfs of 10 bytes on /a/b/c");
        match &p.ops[n - 1] {
            MountOp::Tmpfs { dst, parents, .. } => {
                assert_eq!(dst.as_c_str(), c"/a/b/c");
                assert_eq!(parents.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        let bad = [Mount::Tmpfs {
            dst: "/a/../b".into(),
            size: 1,
            exec: false,
        }];
        assert!(MountPlan::build(&bad).is_err());
    }

    fn bind(src: &str, dst: &str) -> Mount {
        Mount::Bind {
            src: src.into(),
            dst: dst.into(),
            writable: false,
            exec: false,
        }
    }

    fn link(target: &str, link: &str) -> Mount {
        Mount::Symlink {
            target: target.into(),
            link: link.into(),
        }
    }

    #[test]
    fn destinations_through_the_plans_links_are_rewritten_and_ordered_by_where_they_lead() {
        // Written shallower than the tmpfs, the bind is deeper where the link leads: it must
        // come after the tmpfs, or the tmpfs would cover it.
        let user = [
            bind("/etc/hostname", "/d/file"),
            link("/x/y/z", "/d"),
            Mount::Tmpfs {
                dst: "/x/y/z".into(),
                size: 10,
                exec: false,
            },
        ];
        let p = MountPlan::build(&user).unwrap();
        let n = p.ops.len();
        assert_eq!(p.descriptions[n - 3], "symlink /d -> /x/y/z");
        assert_eq!(p.descriptions[n - 2], "mount tmpfs of 10 bytes on /x/y/z");
        match &p.ops[n - 1] {
            MountOp::Bind(b) => {
                assert_eq!(b.dst.as_c_str(), c"/x/y/z/file");
                assert_eq!(b.parents.len(), 3);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.mount_points[n - 1], "/d/file (at /x/y/z/file)");
    }

    #[test]
    fn the_noexec_mount_over_a_program_is_the_deepest_one_that_shows_it() {
        let writable = |src: &str, dst: &str, exec| Mount::Bind {
            src: src.into(),
            dst: dst.into(),
            writable: true,
            exec,
        };
        let user = [
            writable("/tmp", "/w", false),
            bind("/usr/bin", "/w/bin"),
            writable("/tmp", "/x/run", true),
            link("/x", "/d"),
            writable("/var/tmp", "/d/data", false),
            Mount::Tmpfs {
                dst: "/t".into(),
                size: 10,
                exec: false,
            },
        ];
        let p = MountPlan::build(&user).unwrap();
        let over = |path: &str| p.noexec_entry_over(Path::new(path));
        assert_eq!(over("/w/tool"), Some("bind /tmp read-write at /w"));
        assert_eq!(over("/w/bin/true"), None);
        assert_eq!(over("/x/run/tool"), None);
        assert_eq!(
            over("/d/data/tool"),
            Some("bind /var/tmp read-write at /d/data")
        );
        assert_eq!(over("/t/tool"), Some("mount tmpfs of 10 bytes on /t"));
        assert_eq!(over("/usr/bin/true"), None);
    }

    #[test]
    fn entries_at_the_sandboxs_own_proc_and_dev_places_are_refused() {
        for place in ["/proc", "/dev", "/dev/null", "/dev/stdout"] {
            let user = [Mount::Tmpfs {
                dst: place.into(),
                size: 10,
                exec: false,
            }];
            match MountPlan::build(&user) {
                Err(SpawnError::BadMountPoint { path, .. }) => assert_eq!(path, place),
                other => panic!("{place}: {:?}", other.map(|_| ())),
            }
        }
        let shm = [Mount::Tmpfs {
            dst: "/dev/shm".into(),
            size: 10,
            exec: false,
        }];
        assert!(MountPlan::build(&shm).is_ok());
    }

    #[test]
    fn a_bind_that_runs_what_a_writable_bind_shows_is_refused() {
        let top = std::env::temp_dir().join(format!("mounts-exec-{}", std::process::id()));
        let inner = top.join("inner");
        std::fs::create_dir_all(&inner).unwrap();
        let rw = |src: &Path, dst: &str| Mount::Bind {
            src: src.into(),
            dst: dst.into(),
            writable: true,
            exec: false,
        };
        let ro = |src: &Path, dst: &str| Mount::Bind {
            src: src.into(),
            dst: dst.into(),
            writable: false,
            exec: true,
        };
        let refused = |user: &[Mount]| {
            matches!(
                MountPlan::build(user),
                Err(SpawnError::ExecutableOverWritable { .. })
            )
        };
        // The same directory, one holding the other, either way round.
        let same = refused(&[rw(&inner, "/w"), ro(&inner, "/a")]);
        let holds = refused(&[rw(&inner, "/w"), ro(&top, "/a")]);
        let inside = refused(&[rw(&top, "/w"), ro(&inner, "/a")]);
        // Apart, or asked to run what it writes, or read-only without exec: fine.
        let other = std::env::temp_dir().join(format!("mounts-exec-other-{}", std::process::id()));
        std::fs::create_dir_all(&other).unwrap();
        let apart = MountPlan::build(&[rw(&inner, "/w"), ro(&other, "/a")]).is_ok();
        let meant = Mount::Bind {
            src: inner.clone(),
            dst: "/w".into(),
            writable: true,
            exec: true,
        };
        let intended = MountPlan::build(&[meant, ro(&inner, "/a")]).is_ok();
        let _ = (
            std::fs::remove_dir_all(&top),
            std::fs::remove_dir_all(&other),
        );
        assert!(same && holds && inside, "{same} {holds} {inside}");
        assert!(apart && intended, "{apart} {intended}");
    }

    /// One host file under two names (a hard link), the one bound writable and the other
    /// executable, is one file: refused, by device and inode (a host bind mount, which only
    /// root can make, is told apart by its place in the mount table: see `fs_place`'s tests).
    #[test]
    fn a_second_name_for_what_a_writable_bind_shows_is_refused() {
        let top = std::env::temp_dir().join(format!("mounts-alias-{}", std::process::id()));
        std::fs::create_dir_all(top.join("w")).unwrap();
        std::fs::create_dir_all(top.join("x")).unwrap();
        let written = top.join("w/prog");
        std::fs::write(&written, b"").unwrap();
        let alias = top.join("x/prog");
        std::fs::hard_link(&written, &alias).unwrap();
        let bind = |src: &Path, dst: &str, writable| Mount::Bind {
            src: src.into(),
            dst: dst.into(),
            writable,
            exec: !writable,
        };
        let file = MountPlan::build(&[bind(&written, "/w", true), bind(&alias, "/a", false)]);
        let dir = MountPlan::build(&[
            bind(&written, "/w", true),
            bind(&top.join("x"), "/a", false),
        ]);
        let _ = std::fs::remove_dir_all(&top);
        assert!(
            matches!(file, Err(SpawnError::ExecutableOverWritable { .. })),
            "{:?}",
            file.map(|_| ())
        );
        // A hard link under a bound directory is not seen (see the check).
        assert!(dir.is_ok(), "{:?}", dir.map(|_| ()));
    }

    #[test]
    fn two_entries_in_one_place_are_refused() {
        let twice = |user: &[Mount]| match MountPlan::build(user) {
            Err(SpawnError::BadMountPoint { path, reason }) => {
                assert!(reason.contains("already mounted there"), "{reason}");
                path
            }
            other => panic!("{:?}", other.map(|_| ())),
        };
        let same = [bind("/etc/hostname", "/a"), bind("/etc/os-release", "/a")];
        assert_eq!(twice(&same), "/a");
        // The same place reached through a link of the plan.
        let through = [
            link("/x", "/d"),
            bind("/etc/hostname", "/x/f"),
            bind("/etc/os-release", "/d/f"),
        ];
        assert_eq!(twice(&through), "/d/f");
        // Nested places are fine: the deeper one is mounted inside the other.
        let nested = [bind("/usr", "/usr"), bind("/etc/hostname", "/usr/h")];
        assert!(MountPlan::build(&nested).is_ok());
    }

    /// A bind at `/data` with a tmpfs inside it, a tmpfs of its own at `/work`, and a link of
    /// the plan's into the bind with a bind through it.
    fn binds_tmpfs_and_links() -> [Mount; 5] {
        [
            bind("/nonexistent-data", "/data"),
            Mount::Tmpfs {
                dst: "/data/scratch".into(),
                size: 10,
                exec: false,
            },
            Mount::Tmpfs {
                dst: "/work".into(),
                size: 10,
                exec: false,
            },
            link("/data/in", "/d"),
            bind("/etc/hostname", "/d/file"),
        ]
    }

    #[test]
    fn only_directories_under_no_bind_are_the_sandboxs_own() {
        let p = MountPlan::build(&binds_tmpfs_and_links()).unwrap();
        let own = |dir: &CStr| own_dir(&p.ops, dir);
        // Under the bind, also through a tmpfs inside it and through the plan's own link.
        assert!(!own(c"/data"));
        assert!(!own(c"/data/scratch"));
        assert!(!own(c"/data/in"));
        // The built-in /dev (binds of device files do not make it a bind), a tmpfs of its
        // own, the root's other directories.
        assert!(own(c"/dev"));
        assert!(own(c"/work"));
        assert!(own(c"/database"));
        // What came before an entry decides: before the bind, /data was the sandbox's own.
        let at_bind = p
            .ops
            .iter()
            .position(|op| matches!(op, MountOp::Bind(b) if b.dst.as_c_str() == c"/data"))
            .unwrap();
        assert!(own_dir(&p.ops[..at_bind], c"/data"));
    }

    /// What init makes lives on the host only where a bind is the mount on top: a tmpfs inside
    /// a bind is the sandbox's own memory, and so is a tmpfs a later bind does not cover.
    #[test]
    fn only_directories_a_bind_is_on_top_of_are_host_directories() {
        let p = MountPlan::build(&binds_tmpfs_and_links()).unwrap();
        let on_host = |dir: &CStr| in_host_dir(&p.ops, dir);
        assert!(on_host(c"/data"));
        assert!(on_host(c"/data/in"));
        assert!(!on_host(c"/data/scratch"));
        assert!(!on_host(c"/data/scratch/deeper"));
        assert!(!on_host(c"/dev"));
        assert!(!on_host(c"/work"));
        assert!(!on_host(c"/"));
        assert!(!on_host(c"/database"));
        // A bind over the tmpfs's place, after it, is on top again.
        let over = [
            Mount::Tmpfs {
                dst: "/work".into(),
                size: 10,
                exec: false,
            },
            bind("/nonexistent-data", "/work/in"),
        ];
        let p = MountPlan::build(&over).unwrap();
        assert!(!in_host_dir(&p.ops, c"/work"));
        assert!(in_host_dir(&p.ops, c"/work/in/x"));
    }

    #[test]
    fn a_path_is_at_or_under_a_directory_by_whole_components() {
        assert!(at_or_under(b"/data", b"/data"));
        assert!(at_or_under(b"/data/x/y", b"/data"));
        assert!(!at_or_under(b"/database", b"/data"));
        assert!(!at_or_under(b"/dat", b"/data"));
        assert!(!at_or_under(b"/dev", b"/dev/null"));
        assert!(at_or_under(b"/anything", b"/"));
    }

    #[test]
    fn the_root_and_looping_links_are_no_mount_points() {
        for user in [
            vec![bind("/usr", "/")],
            vec![link("/", "/r"), bind("/usr", "/r")],
            vec![link("/b", "/a"), link("/a", "/b"), bind("/usr", "/a/x")],
            vec![link("", "/empty")],
        ] {
            let e = MountPlan::build(&user).unwrap_err();
            assert!(matches!(e, SpawnError::BadMountPoint { .. }), "{e}");
        }
        let e = MountPlan::build(&[bind("/usr", "/")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot mount at `/`: the root is the sandbox's own tmpfs; mount what it needs below it"
        );
    }
}
