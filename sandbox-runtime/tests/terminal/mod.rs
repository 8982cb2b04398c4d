//! A terminal for tests: a fresh pty, and a test's re-run that has it as its controlling
//! terminal, as a shell started in a terminal has. Shared by the runtime's tests and the attack
//! suite.

#![allow(dead_code)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Set in the environment of a test's re-run that has a terminal as its controlling terminal.
const WITH_A_TERMINAL: &str = "SANDBOX_TEST_WITH_A_TERMINAL";

/// Whether this process is a re-run made by [`rerun_with_a_terminal`].
pub fn this_is_the_rerun() -> bool {
    std::env::var_os(WITH_A_TERMINAL).is_some()
}

/// A fresh pty, as (master, slave), neither of them this process's controlling terminal.
pub fn pty() -> (OwnedFd, OwnedFd) {
    // SAFETY: integer flags; the descriptor is owned below.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    assert!(
        master >= 0,
        "posix_openpt: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: master is ours.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    // SAFETY: master is a pty master.
    unsafe {
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0);
    }
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: a live buffer of the given length.
    let rc = unsafe { libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) };
    assert_eq!(rc, 0, "ptsname_r");
    // SAFETY: ptsname_r NUL-terminated it.
    let slave_path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }.to_owned();
    // SAFETY: a live C string.
    let slave = unsafe {
        libc::open(
            slave_path.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    assert!(
        slave >= 0,
        "open the pty's slave: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: slave is ours.
    (master, unsafe { OwnedFd::from_raw_fd(slave) })
}

/// Re-runs this binary's test `name` (its full path, as `--exact` takes it) alone, as the leader
/// of a new session whose controlling terminal is the pty `slave`, also its stdin. Passes when
/// the re-run does, and checks that the re-run ran that one test.
pub fn rerun_with_a_terminal(name: &str, slave: &OwnedFd) {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(std::env::current_exe().expect("this binary"));
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(WITH_A_TERMINAL, "1")
        .stdin(slave.try_clone().expect("dup the slave"));
    // SAFETY: the hook runs in the forked child, once its stdin is the slave, and only makes
    // system calls.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let out = command.output().expect("re-run the test with a terminal");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{name}, re-run: {}\n{said}",
        out.status
    );
    assert!(
        said.contains("1 passed"),
        "{name} did not run in the re-run:\n{said}"
    );
}

/// The controlling terminal of this process (the re-run's), opened; fails the test if there
/// is none.
pub fn controlling_terminal() -> OwnedFd {
    // SAFETY: a NUL-terminated literal.
    let fd = unsafe { libc::open(c"/dev/tty".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    assert!(
        fd >= 0,
        "no controlling terminal here: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: fd is ours.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
