//! A terminal given to a sandbox (as a standard stream or a passed descriptor) is given as an
//! open file of its own: the same terminal, opened again, rather than a copy of the host's
//! descriptor. What a program changes on its open file, its status flags (`O_NONBLOCK`,
//! `O_ASYNC`) and its `flock` lock, would otherwise stay on the open file the host's shell
//! reads from after the sandbox has ended. (The terminal's own state, its modes and window
//! size, is one for every open file: see the prelude's guards and the README.)

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `fd`, or, where it is a terminal other than a pseudo-terminal's master, a new open of that
/// terminal through `/proc/self/fd`, with `fd`'s access mode and its `O_NONBLOCK` and
/// `O_APPEND`, close-on-exec and numbered at least `min`. Where the terminal cannot be opened
/// again (in exclusive mode, unless the caller has `CAP_SYS_ADMIN`; a device the host may use
/// but not open; no `/proc`), or the path leads to another terminal (a descriptor of
/// `/dev/tty` names the opener's controlling terminal, which need not be the one it was
/// opened on), `fd` itself: the open file is then shared, as a copy of a descriptor is. A
/// master is never opened again: opening it by path makes another pair.
pub(crate) fn own_open(fd: OwnedFd, min: RawFd) -> OwnedFd {
    if !is_terminal(&fd) || is_pty_master(&fd) {
        return fd;
    }
    reopen(&fd, min).unwrap_or(fd)
}

/// Whether `fd` is a terminal (`TCGETS` answers).
fn is_terminal(fd: &OwnedFd) -> bool {
    // SAFETY: isatty reads the descriptor's terminal attributes into its own buffer.
    unsafe { libc::isatty(fd.as_raw_fd()) == 1 }
}

/// Whether `fd` is a pseudo-terminal's master (`TIOCGPTN` answers only there).
fn is_pty_master(fd: &OwnedFd) -> bool {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int through the live pointer.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGPTN, &mut n) == 0 }
}

/// The device number of the terminal behind `fd` (`TIOCGDEV`): the real one, also for a
/// descriptor of `/dev/tty` or `/dev/console`, whose own device numbers name no terminal.
fn terminal_device(fd: &OwnedFd) -> Option<libc::c_uint> {
    let mut dev: libc::c_uint = 0;
    // SAFETY: TIOCGDEV writes one unsigned int through the live pointer.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGDEV, &mut dev) };
    (rc == 0).then_some(dev)
}

/// The terminal of `fd` opened again, as [`own_open`] says; `None` where it cannot be.
fn reopen(fd: &OwnedFd, min: RawFd) -> Option<OwnedFd> {
    // SAFETY: F_GETFL takes no argument.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return None;
    }
    let path = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    let kept = flags & (libc::O_ACCMODE | libc::O_APPEND);
    // Opened without waiting for a serial line's carrier; the host's O_NONBLOCK is put back
    // below. O_NOCTTY: the command's own session never takes it as its controlling terminal.
    let open_flags = kept | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: a live C string and integer flags.
    let r = unsafe { libc::open(path.as_ptr(), open_flags) };
    if r < 0 {
        return None;
    }
    // SAFETY: r is fresh and ours.
    let opened = unsafe { OwnedFd::from_raw_fd(r) };
    if terminal_device(&opened)? != terminal_device(fd)? {
        return None;
    }
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: F_SETFL with integer flags.
        if unsafe { libc::fcntl(opened.as_raw_fd(), libc::F_SETFL, kept) } < 0 {
            return None;
        }
    }
    super::relocate(&opened, min).ok()
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    /// A new pseudo-terminal: (master, slave).
    fn pty() -> (OwnedFd, OwnedFd) {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two descriptors; the other pointers may be null.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both are fresh and ours.
        unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
    }

    fn status_flags(fd: &OwnedFd) -> i32 {
        // SAFETY: F_GETFL takes no argument.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) }
    }

    /// A pty's slave is opened again: another open file of the same terminal, with the same
    /// access mode and O_NONBLOCK, numbered as asked; what is set on it stays off the
    /// original's open file.
    #[test]
    fn a_terminal_gets_an_open_file_of_its_own() {
        let (_master, slave) = pty();
        // SAFETY: F_SETFL with integer flags.
        unsafe { libc::fcntl(slave.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        let copy = slave.try_clone().unwrap();
        let own = super::own_open(copy, 50);
        assert!(own.as_raw_fd() >= 50);
        let (a, b) = (
            nix::sys::stat::fstat(own.as_raw_fd()).unwrap(),
            nix::sys::stat::fstat(slave.as_raw_fd()).unwrap(),
        );
        assert_eq!((a.st_rdev, a.st_ino), (b.st_rdev, b.st_ino));
        let flags = status_flags(&own);
        assert_eq!(flags & libc::O_ACCMODE, libc::O_RDWR);
        assert_ne!(flags & libc::O_NONBLOCK, 0);
        // SAFETY: F_SETFL with integer flags.
        unsafe { libc::fcntl(own.as_raw_fd(), libc::F_SETFL, libc::O_APPEND) };
        assert_eq!(status_flags(&own) & libc::O_NONBLOCK, 0);
        assert_ne!(status_flags(&slave) & libc::O_NONBLOCK, 0, "shared");
    }

    /// A master, a pipe and a file are given as they are (the same open file).
    #[test]
    fn a_master_or_another_file_is_kept_as_it_is() {
        let (master, _slave) = pty();
        let (r, _w) = nix::unistd::pipe().unwrap();
        let file = OwnedFd::from(std::fs::File::open("/proc/self/status").unwrap());
        for fd in [master, r, file] {
            let raw = fd.as_raw_fd();
            assert_eq!(super::own_open(fd, 50).as_raw_fd(), raw);
        }
    }
}
