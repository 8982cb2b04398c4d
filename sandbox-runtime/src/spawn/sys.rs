//! Thin, allocation-free wrappers over the system calls the child makes between clone and exec.
//! Nothing here allocates, takes a lock, or touches state another thread of the parent might
//! have held at the clone: only raw system calls on data prepared before the clone.

use super::steps::{Failure, Report, Step};
use std::ffi::CStr;
use std::os::fd::RawFd;

/// The calling thread's errno.
pub(crate) fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

/// `Ok` for a non-negative return, else the step's failure with errno.
pub(crate) fn check(r: libc::c_long, step: Step) -> Result<libc::c_long, Failure> {
    check_at(r, step, 0)
}

/// `Ok` for a non-negative return, else the failure of item `index` of the step.
pub(crate) fn check_at(r: libc::c_long, step: Step, index: u32) -> Result<libc::c_long, Failure> {
    if r < 0 {
        Err(Failure::at(step, index))
    } else {
        Ok(r)
    }
}

/// `mount(2)` with optional strings.
pub(crate) fn mount(
    src: Option<&CStr>,
    dst: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> libc::c_long {
    let p = |s: Option<&CStr>| s.map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is null or a NUL-terminated string that outlives the call.
    libc::c_long::from(unsafe {
        libc::mount(p(src), dst.as_ptr(), p(fstype), flags, p(data).cast())
    })
}

/// `struct open_how` of `openat2(2)` (the libc crate's is `non_exhaustive`).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// How often a lookup is retried when the kernel answers EAGAIN (a rename or mount elsewhere
/// raced a `..` step): enough for chance, bounded against a sandbox renaming in a loop.
const LOOKUP_RETRIES: u32 = 32;

/// `openat2(2)` of `path` with `root` as the root (`RESOLVE_IN_ROOT`: absolute paths and `..`
/// stay inside it), following no symbolic link at all (`RESOLVE_NO_SYMLINKS`: bind sources come
/// canonicalised by the host, mount points through the plan's own links only). Adds
/// `O_CLOEXEC`.
pub(crate) fn open_in_root(root: RawFd, path: &CStr, flags: libc::c_int) -> libc::c_long {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_SYMLINKS,
    };
    let mut r = -1;
    for _ in 0..LOOKUP_RETRIES {
        // SAFETY: path is NUL-terminated and how is a live open_how of the size passed.
        r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root,
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r >= 0 || errno() != libc::EAGAIN {
            break;
        }
        // SAFETY: sched_yield takes no arguments.
        unsafe { libc::sched_yield() };
    }
    r
}

/// `mkdirat(2)` of `name` in `dir` (or `AT_FDCWD`), treating "already exists" as success (an
/// existing symbolic link is not followed, and a later [`open_in_root`] refuses it).
pub(crate) fn mkdirat_exist_ok(dir: RawFd, name: &CStr, mode: libc::mode_t) -> libc::c_long {
    // SAFETY: name is NUL-terminated.
    let r = unsafe { libc::mkdirat(dir, name.as_ptr(), mode) };
    if r < 0 && errno() == libc::EEXIST {
        0
    } else {
        libc::c_long::from(r)
    }
}

/// Creates an empty file `name` with `mode` in `dir` and returns it open, or fails (`EEXIST`
/// when something of that name exists: never following a symbolic link to create its target).
pub(crate) fn create_file(dir: RawFd, name: &CStr, mode: libc::mode_t) -> libc::c_long {
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY | libc::O_CLOEXEC;
    // SAFETY: name is NUL-terminated.
    libc::c_long::from(unsafe { libc::openat(dir, name.as_ptr(), flags, mode) })
}

/// `symlinkat(2)`: a link `name` in `dir` with contents `target`.
pub(crate) fn symlinkat(target: &CStr, dir: RawFd, name: &CStr) -> libc::c_long {
    // SAFETY: both strings are NUL-terminated.
    libc::c_long::from(unsafe { libc::symlinkat(target.as_ptr(), dir, name.as_ptr()) })
}

/// `open_tree(2)` with `OPEN_TREE_CLONE`: a detached copy of the mount at `fd` (not of its
/// submounts), ready to be moved elsewhere.
pub(crate) fn clone_mount(fd: RawFd) -> libc::c_long {
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as u32;
    // SAFETY: the path is an empty NUL-terminated string.
    unsafe { libc::syscall(libc::SYS_open_tree, fd, c"".as_ptr(), flags) }
}

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(2)` on the mount `fd` refers to, setting `MOUNT_ATTR_*` flags and
/// clearing none (so flags the kernel locks are kept as they are).
pub(crate) fn set_mount_flags(fd: RawFd, set: u64) -> libc::c_long {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the path is an empty NUL-terminated string; attr is live and of the size passed.
    unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    }
}

/// A new tmpfs, detached, with options `size` and `mode` and `MOUNT_ATTR_*` flags `attrs`
/// (`fsopen`, `fsconfig`, `fsmount`): a descriptor of its mount, close-on-exec.
pub(crate) fn new_tmpfs(size: &CStr, mode: &CStr, attrs: u64) -> libc::c_long {
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    // SAFETY: the file system type is a NUL-terminated string.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) };
    if fs < 0 {
        return fs;
    }
    let set = |key: &CStr, value: &CStr| {
        // SAFETY: key and value are NUL-terminated strings; fs is our descriptor.
        unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs,
                FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        }
    };
    let mut r = set(c"size", size);
    if r >= 0 {
        r = set(c"mode", mode);
    }
    if r >= 0 {
        // SAFETY: integer arguments and null pointers, as the command takes.
        r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs,
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_void>(),
                0,
            )
        };
    }
    if r >= 0 {
        // SAFETY: integer arguments on our descriptor.
        r = unsafe { libc::syscall(libc::SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs) };
    }
    // Kept across the close: a failure's errno is the step's.
    let errno = errno();
    // SAFETY: fs is ours and closed once.
    unsafe { libc::close(fs as RawFd) };
    if r < 0 {
        // SAFETY: errno is thread-local and ours to set.
        unsafe { *libc::__errno_location() = errno };
    }
    r
}

/// `move_mount(2)` of the detached mount `from` onto the path `onto` (looked up from the
/// working directory and the root like any path).
pub(crate) fn move_mount_to(from: RawFd, onto: &CStr) -> libc::c_long {
    // SAFETY: both paths are NUL-terminated strings.
    unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            libc::AT_FDCWD,
            onto.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    }
}

/// `move_mount(2)` of the detached mount `from` onto the object `onto` refers to.
pub(crate) fn move_mount(from: RawFd, onto: RawFd) -> libc::c_long {
    let flags = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: both paths are empty NUL-terminated strings.
    unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            onto,
            c"".as_ptr(),
            flags,
        )
    }
}

/// `fchdir(2)`.
pub(crate) fn fchdir(fd: RawFd) -> libc::c_long {
    // SAFETY: fchdir takes an integer only.
    libc::c_long::from(unsafe { libc::fchdir(fd) })
}

/// `pivot_root(2)`.
pub(crate) fn pivot_root(new_root: &CStr, put_old: &CStr) -> libc::c_long {
    // SAFETY: both pointers are NUL-terminated strings.
    unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) }
}

/// `chdir(2)`.
pub(crate) fn chdir(path: &CStr) -> libc::c_long {
    // SAFETY: path is NUL-terminated.
    libc::c_long::from(unsafe { libc::chdir(path.as_ptr()) })
}

/// `fstat(2)` of `fd`, or the failure of item `index` of `step`.
pub(crate) fn fstat(fd: RawFd, step: Step, index: u32) -> Result<libc::stat, Failure> {
    // SAFETY: stat is plain old data; zero is a valid initial value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a live stat the kernel fills; a bad descriptor is an error, not undefined.
    let r = unsafe { libc::fstat(fd, &mut st) };
    check_at(r.into(), step, index)?;
    Ok(st)
}

/// `umount2(2)`.
pub(crate) fn umount2(path: &CStr, flags: libc::c_int) -> libc::c_long {
    // SAFETY: path is NUL-terminated.
    libc::c_long::from(unsafe { libc::umount2(path.as_ptr(), flags) })
}

/// Writes one report in one `write(2)` (atomic on a pipe and a SEQPACKET socket), without libc
/// (the sandboxee reports a failure of its first steps while init may be mounting, see
/// [`super::raw`]). Errors are ignored: if the parent is gone there is nobody to tell.
pub(crate) fn send_report(fd: RawFd, r: Report) {
    super::raw::write(fd, &r.to_bytes());
}

/// Sends one report with descriptors attached (SCM_RIGHTS) on a unix socket.
pub(crate) fn send_report_with_fds<const N: usize>(
    sock: RawFd,
    r: Report,
    fds: [RawFd; N],
) -> libc::c_long {
    #[repr(C, align(8))]
    struct CmsgBuf([u8; 64]);
    // CMSG_SPACE(4 * N) = 16 + 4 * N rounded up to 8: the buffer holds up to 12 descriptors.
    const { assert!(N <= 12, "more descriptors than the control buffer holds") };
    let mut buf = CmsgBuf([0; 64]);
    let data_len = (N * std::mem::size_of::<RawFd>()) as u32;
    // SAFETY: CMSG_SPACE is pure arithmetic.
    let space = unsafe { libc::CMSG_SPACE(data_len) } as usize;
    let mut bytes = r.to_bytes();
    let mut iov = libc::iovec {
        iov_base: bytes.as_mut_ptr().cast(),
        iov_len: bytes.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf.0.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer is aligned, zeroed, and large enough for one cmsghdr holding N
    // ints (asserted above), so CMSG_FIRSTHDR is non-null and CMSG_DATA points inside it.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(data_len) as _;
        std::ptr::copy_nonoverlapping(
            fds.as_ptr().cast::<u8>(),
            libc::CMSG_DATA(c),
            data_len as usize,
        );
    }
    // SAFETY: msg points at live buffers described above.
    libc::c_long::try_from(unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) }).unwrap_or(-1)
}

/// Blocks every signal the C library lets a program block (all but its two internal ones) on
/// the calling thread until dropped, when the mask it had is restored.
pub(crate) struct SignalsBlocked(libc::sigset_t);

impl SignalsBlocked {
    /// Blocks them now.
    pub(crate) fn now() -> SignalsBlocked {
        // SAFETY: sigset_t is plain data, filled by sigfillset and pthread_sigmask below.
        let (mut all, mut old) = unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
        // SAFETY: both sets are live; pthread_sigmask changes only this thread's mask.
        unsafe {
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        }
        SignalsBlocked(old)
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `now`, on the same thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// The kernel's `struct sigaction` (x86_64 and aarch64 share the layout).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Every signal back to its default action and none blocked, as in a fresh process: handlers
/// and ignored signals are the host's (Rust ignores SIGPIPE; a service may block signals in its
/// threads), and neither must act here nor pass through the exec. Raw `rt_sigaction`, so the
/// signals glibc keeps for itself (32, 33) are reset too.
pub(crate) fn reset_signals() -> libc::c_long {
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: default is a live kernel sigaction; the old action is not asked for.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &default as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
        if r < 0 {
            return r;
        }
    }
    let empty = 0u64;
    // SAFETY: empty is a live 8-byte signal set; the old mask is not asked for.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty as *const u64,
            std::ptr::null_mut::<u64>(),
            8usize,
        )
    }
}

/// Ends the calling process at once, without running any of the parent's exit handlers.
pub(crate) fn exit(code: i32) -> ! {
    // SAFETY: _exit never returns and runs no user-space cleanup.
    unsafe { libc::_exit(code) }
}

/// `/proc/PID/NAME` as a NUL-terminated path in a buffer on the stack (nothing allocated, for
/// use between a clone and an exec); `ENAMETOOLONG` if it does not fit, `EINVAL` for a
/// negative pid.
pub(crate) fn proc_path(pid: i32, name: &[u8]) -> Result<[u8; 48], i32> {
    let mut path = [0u8; 48];
    let mut len = 0;
    let mut push = |bytes: &[u8]| -> Result<(), i32> {
        let end = len + bytes.len();
        // One byte stays free for the terminating NUL.
        if end >= path.len() {
            return Err(libc::ENAMETOOLONG);
        }
        path[len..end].copy_from_slice(bytes);
        len = end;
        Ok(())
    };
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut n = u32::try_from(pid).map_err(|_| libc::EINVAL)?;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    push(b"/proc/")?;
    push(&digits[at..])?;
    push(b"/")?;
    push(name)?;
    Ok(path)
}

/// `ifreq` with the flags member, as SIOCGIFFLAGS/SIOCSIFFLAGS use it.
#[repr(C)]
struct IfreqFlags {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Brings `lo` up in the calling thread's network namespace: 0, or -1 with `errno` set.
/// Async-signal-safe (init calls it after its clone); allocates nothing.
pub(crate) fn loopback_up() -> libc::c_long {
    loopback_flags(true).map_or(-1, |_| 0)
}

/// `lo`'s interface flags in the calling thread's network namespace, after setting it up and
/// running first when `up`; `Err(())` with `errno` set on a failure. Allocates nothing.
pub(crate) fn loopback_flags(up: bool) -> Result<libc::c_short, ()> {
    // SAFETY: socket with integer arguments.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(());
    }
    let mut req = IfreqFlags {
        name: [0; libc::IFNAMSIZ],
        flags: 0,
        _pad: [0; 22],
    };
    req.name[..2].copy_from_slice(b"lo");
    // SAFETY: req is a live, correctly sized ifreq for both requests.
    let mut r = unsafe { libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req as *mut IfreqFlags) };
    if r >= 0 && up {
        req.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        // SAFETY: as above.
        r = unsafe { libc::ioctl(s, libc::SIOCSIFFLAGS, &mut req as *mut IfreqFlags) };
    }
    let saved = errno();
    // SAFETY: s is our socket, closed once.
    unsafe { libc::close(s) };
    if r < 0 {
        // SAFETY: errno is this thread's; restored after the close, which may have set it.
        unsafe { *libc::__errno_location() = saved };
        return Err(());
    }
    Ok(req.flags)
}
