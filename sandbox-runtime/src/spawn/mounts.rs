//! The sandbox's file system: planned on the host, built by init between clone and exec.
//!
//! The layout follows bubblewrap's: init mounts a staging tmpfs on `/tmp` (in its own, now
//! private, mount namespace), creates `newroot` (a tmpfs, the future `/`) and `oldroot` in it,
//! and pivots into the staging tmpfs, so the host's root is at `/oldroot` (with the host's own
//! `/tmp` visible there again) and the new root at `/newroot`. Every entry is then a mount from
//! `/oldroot/<host path>` to `/newroot/<sandbox path>`. Finally init pivots into `/newroot` and
//! detaches the staging tmpfs with the host root under it, leaving nothing of the host but
//! what was bound.
//!
//! Bind mounts are not recursive (submounts of a source are not visible) so a read-only bind
//! cannot expose a writable submount. Each bind is remounted at once with its flags, keeping
//! the flags the kernel locks in a user namespace (those of the source mount: `ro`, `noexec`,
//! `nosuid`, `nodev`, atime), so a mount point for a later entry can never be created through a
//! read-only bind into the host.

use super::steps::{Failure, Step};
use super::sys;
use crate::command::Mount;
use crate::error::SpawnError;
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Where the host root is during the build.
const OLD: &str = "/oldroot";
/// Where the new root is during the build.
const NEW: &str = "/newroot";

/// One step of the file-system build, with every path already a C string.
#[derive(Debug)]
pub(crate) enum MountOp {
    /// Bind `src` (a path under /oldroot) at `dst` (under /newroot).
    Bind {
        src: CString,
        dst: CString,
        parents: Vec<CString>,
        writable: bool,
        exec: bool,
        /// A device node: keep `dev`.
        device: bool,
    },
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

/// `/newroot/<p>` and the list of its ancestors under /newroot (outermost first).
fn under_new_root(p: &Path) -> Result<(CString, Vec<CString>), SpawnError> {
    let comps = sandbox_components(p)?;
    let mut cur = PathBuf::from(NEW);
    let mut parents = Vec::new();
    for (i, c) in comps.iter().enumerate() {
        cur.push(c);
        if i + 1 < comps.len() {
            parents.push(cstring(cur.as_os_str().as_bytes(), "mount path")?);
        }
    }
    Ok((cstring(cur.as_os_str().as_bytes(), "mount path")?, parents))
}

/// `/oldroot/<host path>`, canonicalised when it exists so that absolute symbolic links in it
/// resolve against the host root, not the staging one.
fn under_old_root(host: &Path) -> Result<CString, SpawnError> {
    let abs = std::path::absolute(host).map_err(|e| SpawnError::os("resolve mount source", e))?;
    let p = std::fs::canonicalize(&abs).unwrap_or(abs);
    let mut bytes = OLD.as_bytes().to_vec();
    bytes.extend_from_slice(p.as_os_str().as_bytes());
    cstring(bytes, "mount source")
}

impl MountPlan {
    /// Plans `/proc`, `/dev` and then the user's entries, shallowest destination first (so a
    /// parent is mounted before what is mounted inside it).
    pub(crate) fn build(user: &[Mount]) -> Result<MountPlan, SpawnError> {
        let mut plan = MountPlan::default();
        plan.push_proc()?;
        plan.push_dev()?;
        let mut sorted: Vec<&Mount> = user.iter().collect();
        sorted.sort_by_key(|m| m.destination().components().count());
        for m in sorted {
            plan.push_user(m)?;
        }
        Ok(plan)
    }

    /// What each entry would show if built now, as [`build`] records it: for a bind, its
    /// source on the host (`None` if it cannot be read); all zero for other entries.
    pub(crate) fn sources_now(&self) -> Vec<Option<Bound>> {
        self.ops
            .iter()
            .map(|op| match op {
                MountOp::Bind { src, .. } => src
                    .as_bytes_with_nul()
                    .strip_prefix(OLD.as_bytes())
                    .and_then(|host| CStr::from_bytes_with_nul(host).ok())
                    .and_then(|host| shown(host, host)),
                _ => Some(Bound::default()),
            })
            .collect()
    }

    fn push(&mut self, op: MountOp, description: String, point: &Path) {
        self.ops.push(op);
        self.descriptions.push(description);
        self.mount_points.push(point.display().to_string());
    }

    fn push_proc(&mut self) -> Result<(), SpawnError> {
        let (dst, parents) = under_new_root(Path::new("/proc"))?;
        self.push(
            MountOp::Proc { dst, parents },
            "mount /proc".into(),
            Path::new("/proc"),
        );
        Ok(())
    }

    fn push_dev(&mut self) -> Result<(), SpawnError> {
        let (dst, parents) = under_new_root(Path::new("/dev"))?;
        self.push(
            MountOp::Tmpfs {
                dst,
                parents,
                data: cstring("size=65536,mode=0755", "tmpfs data")?,
                flags: libc::MS_NOSUID | libc::MS_NOEXEC,
            },
            "mount tmpfs on /dev".into(),
            Path::new("/dev"),
        );
        for name in ["null", "zero", "full", "random", "urandom"] {
            let host = PathBuf::from(format!("/dev/{name}"));
            let (dst, parents) = under_new_root(&host)?;
            self.push(
                MountOp::Bind {
                    src: cstring(format!("{OLD}/dev/{name}"), "device path")?,
                    dst,
                    parents,
                    writable: true,
                    exec: false,
                    device: true,
                },
                format!("bind {}", host.display()),
                &host,
            );
        }
        let links = [
            ("/proc/self/fd", "/dev/fd"),
            ("/proc/self/fd/0", "/dev/stdin"),
            ("/proc/self/fd/1", "/dev/stdout"),
            ("/proc/self/fd/2", "/dev/stderr"),
        ];
        for (target, link) in links {
            self.push_symlink(Path::new(target), Path::new(link))?;
        }
        Ok(())
    }

    fn push_symlink(&mut self, target: &Path, link: &Path) -> Result<(), SpawnError> {
        let (l, parents) = under_new_root(link)?;
        self.push(
            MountOp::Symlink {
                target: cstring(target.as_os_str().as_bytes(), "symlink target")?,
                link: l,
                parents,
            },
            format!("symlink {} -> {}", link.display(), target.display()),
            link,
        );
        Ok(())
    }

    fn push_user(&mut self, m: &Mount) -> Result<(), SpawnError> {
        match m {
            Mount::Bind {
                src,
                dst,
                writable,
                exec,
            } => {
                let (d, parents) = under_new_root(dst)?;
                let mode = if *writable { "read-write" } else { "read-only" };
                let mut text = format!("bind {} {mode}", src.display());
                if src != dst {
                    text.push_str(&format!(" at {}", dst.display()));
                }
                self.push(
                    MountOp::Bind {
                        src: under_old_root(src)?,
                        dst: d,
                        parents,
                        writable: *writable,
                        exec: *exec,
                        device: false,
                    },
                    text,
                    dst,
                );
            }
            Mount::Tmpfs { dst, size, exec } => {
                let (d, parents) = under_new_root(dst)?;
                let mut flags = libc::MS_NOSUID | libc::MS_NODEV;
                if !exec {
                    flags |= libc::MS_NOEXEC;
                }
                self.push(
                    MountOp::Tmpfs {
                        dst: d,
                        parents,
                        data: cstring(format!("size={size},mode=0755"), "tmpfs data")?,
                        flags,
                    },
                    format!("mount tmpfs of {size} bytes on {}", dst.display()),
                    dst,
                );
            }
            Mount::Symlink { target, link } => self.push_symlink(target, link)?,
        }
        Ok(())
    }
}

// ---- In the child (init), after the id maps: allocation-free from here on. ----

const ROOT: &CStr = c"/";
const STAGING: &CStr = c"/tmp";
const STAGING_NEW: &CStr = c"/tmp/newroot";
const STAGING_OLD: &CStr = c"/tmp/oldroot";
const NEW_ROOT: &CStr = c"/newroot";
const NEW_DEV: &CStr = c"/newroot/dev";
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

/// Mounts the staging tmpfs, creates `newroot` (a tmpfs) and `oldroot` in it, and pivots into
/// it: the host root ends up at /oldroot.
pub(crate) fn enter_staging() -> Result<(), Failure> {
    let flags = libc::MS_NOSUID | libc::MS_NODEV;
    let tmpfs = Some(c"tmpfs");
    sys::check(
        sys::mount(tmpfs, STAGING, tmpfs, flags, Some(c"size=65536,mode=0700")),
        Step::StagingTmpfs,
    )?;
    sys::check(sys::mkdir_exist_ok(STAGING_NEW, 0o755), Step::StagingDirs)?;
    sys::check(sys::mkdir_exist_ok(STAGING_OLD, 0o755), Step::StagingDirs)?;
    sys::check(
        sys::mount(
            tmpfs,
            STAGING_NEW,
            tmpfs,
            flags,
            Some(c"size=1048576,mode=0755"),
        ),
        Step::NewRootTmpfs,
    )?;
    sys::check(sys::pivot_root(STAGING, STAGING_OLD), Step::PivotToStaging)?;
    sys::check(sys::chdir(ROOT), Step::PivotToStaging)?;
    Ok(())
}

/// What a bind shows: the (device, inode) of the object at its mount point right after the
/// mount, and the flags the source's mount imposes on it ([`locked_flags`]); all zero for
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
/// the caller so nothing is allocated here) what each bind shows.
pub(crate) fn build(plan: &MountPlan, bound: &mut [Bound]) -> Result<(), Failure> {
    for (i, op) in plan.ops.iter().enumerate() {
        run_op(op, i as u32)?;
        if let (Some(slot), MountOp::Bind { src, dst, .. }) = (bound.get_mut(i), op) {
            *slot = shown(dst, src).ok_or_else(|| Failure::at(Step::Mount, i as u32))?;
        }
    }
    Ok(())
}

/// What a bind at `at` of the source at `source` shows: the object at `at` (following
/// symbolic links) and the locked flags of the mount `source` is on.
fn shown(at: &CStr, source: &CStr) -> Option<Bound> {
    // SAFETY: stat is plain old data; zero is a valid initial value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: at is NUL-terminated and st is a live stat the kernel fills.
    if unsafe { libc::stat(at.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(Bound {
        dev: st.st_dev,
        ino: st.st_ino,
        flags: locked_flags(source).ok()?,
    })
}

fn make_parents(parents: &[CString], i: u32) -> Result<(), Failure> {
    for p in parents {
        sys::check_at(sys::mkdir_exist_ok(p, 0o755), Step::MountPoint, i)?;
    }
    Ok(())
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

/// The mount flags of the mount at `path` that a remount in a user namespace must keep.
fn locked_flags(path: &CStr) -> Result<libc::c_ulong, ()> {
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
    // SAFETY: path is NUL-terminated and st has the kernel's statfs layout on 64-bit targets.
    if unsafe { libc::syscall(libc::SYS_statfs, path.as_ptr(), &mut st as *mut Statfs) } < 0 {
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

fn run_op(op: &MountOp, i: u32) -> Result<(), Failure> {
    match op {
        MountOp::Bind {
            src,
            dst,
            parents,
            writable,
            exec,
            device,
        } => {
            // SAFETY: stat is plain old data; zero is a valid initial value.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: src is NUL-terminated and st is a live stat the kernel fills.
            let r = unsafe { libc::stat(src.as_ptr(), &mut st) };
            sys::check_at(r.into(), Step::Mount, i)?;
            make_parents(parents, i)?;
            // SAFETY: stat is plain old data; zero is a valid initial value.
            let mut existing: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: dst is NUL-terminated and existing is a live stat.
            let exists = unsafe { libc::stat(dst.as_ptr(), &mut existing) } == 0;
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                sys::check_at(sys::mkdir_exist_ok(dst, 0o755), Step::MountPoint, i)?;
            } else if !exists {
                let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC;
                // SAFETY: dst is NUL-terminated; the descriptor is closed right away.
                let fd = unsafe { libc::open(dst.as_ptr(), flags, 0o644) };
                sys::check_at(fd.into(), Step::MountPoint, i)?;
                // SAFETY: fd was just opened by us.
                unsafe { libc::close(fd) };
            }
            sys::check_at(
                sys::mount(Some(src), dst, None, libc::MS_BIND, None),
                Step::Mount,
                i,
            )?;
            let mut flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_NOSUID;
            flags |= locked_flags(dst).map_err(|()| Failure::at(Step::Remount, i))?;
            if !device {
                flags |= libc::MS_NODEV;
            }
            if !writable {
                flags |= libc::MS_RDONLY;
            }
            if !exec && (*writable || *device) {
                flags |= libc::MS_NOEXEC;
            }
            sys::check_at(sys::mount(None, dst, None, flags, None), Step::Remount, i)?;
        }
        MountOp::Tmpfs {
            dst,
            parents,
            data,
            flags,
        } => {
            make_parents(parents, i)?;
            sys::check_at(sys::mkdir_exist_ok(dst, 0o755), Step::MountPoint, i)?;
            let tmpfs = Some(c"tmpfs");
            sys::check_at(
                sys::mount(tmpfs, dst, tmpfs, *flags, Some(data)),
                Step::Mount,
                i,
            )?;
        }
        MountOp::Proc { dst, parents } => {
            make_parents(parents, i)?;
            sys::check_at(sys::mkdir_exist_ok(dst, 0o555), Step::MountPoint, i)?;
            let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY;
            let proc_ = Some(c"proc");
            sys::check_at(sys::mount(proc_, dst, proc_, flags, None), Step::Mount, i)?;
        }
        MountOp::Symlink {
            target,
            link,
            parents,
        } => {
            make_parents(parents, i)?;
            // SAFETY: both are NUL-terminated strings.
            let r = unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) };
            sys::check_at(r.into(), Step::Mount, i)?;
        }
    }
    Ok(())
}

/// Makes the new root and /dev read-only, pivots into the new root and detaches the staging
/// root with the host root under it.
pub(crate) fn enter_new_root() -> Result<(), Failure> {
    let ro = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID;
    sys::check(
        sys::mount(None, NEW_DEV, None, ro | libc::MS_NOEXEC, None),
        Step::SealReadOnly,
    )?;
    sys::check(
        sys::mount(None, NEW_ROOT, None, ro | libc::MS_NODEV, None),
        Step::SealReadOnly,
    )?;
    sys::check(sys::chdir(NEW_ROOT), Step::PivotToNewRoot)?;
    // pivot_root(".", "."): the staging root is stacked on top of the new root, then detached
    // with everything under it, the host root at /oldroot included: one detach, so one wait
    // for the kernel's grace period instead of two.
    sys::check(sys::pivot_root(DOT, DOT), Step::PivotToNewRoot)?;
    sys::check(sys::umount2(DOT, libc::MNT_DETACH), Step::DetachOldRoot)?;
    sys::check(sys::chdir(ROOT), Step::PivotToNewRoot)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
                assert_eq!(dst.as_c_str(), c"/newroot/a/b/c");
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
}
