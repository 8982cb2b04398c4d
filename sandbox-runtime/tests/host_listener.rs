//! A host whose own seccomp filters already have a listener (a container runtime that answers
//! system calls itself, as LXD's does) still runs its sandboxes: the kernel takes one listener
//! per chain of filters, so the policy's kills stay the kernel's there, as on a kernel without
//! user notification, and the modes that need a listener say why they cannot run.
//!
//! The test re-runs itself under a `ret ALLOW` filter with a listener, kept open (nobody reads
//! it; nothing is ever sent to it).

mod common;

use sandbox_runtime::Status;

/// Set in the environment of the re-run.
const RERUN: &str = "SANDBOX_TEST_HOST_LISTENER";

/// `ret ALLOW`: BPF_RET | BPF_K with SECCOMP_RET_ALLOW.
static ALLOW: [libc::sock_filter; 1] = [libc::sock_filter {
    code: 0x06,
    jt: 0,
    jf: 0,
    k: libc::SECCOMP_RET_ALLOW,
}];

/// Installs a `ret ALLOW` filter with a listener on the calling process and leaves the
/// listener open across the exec, as a container runtime keeps its own. Runs between fork and
/// exec: raw calls only, on a program on the stack.
fn listened() -> std::io::Result<()> {
    let prog = libc::sock_fprog {
        len: 1,
        filter: ALLOW.as_ptr().cast_mut(),
    };
    // SAFETY: prctl and seccomp with integer arguments and a live program; fcntl on the
    // descriptor the kernel just returned.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &prog as *const libc::sock_fprog,
        );
        // dup2 leaves the new descriptor open across the exec.
        if fd < 0 || libc::dup2(fd as libc::c_int, LISTENER_FD) != LISTENER_FD {
            return Err(std::io::Error::last_os_error());
        }
        libc::close(fd as libc::c_int);
    }
    Ok(())
}

/// The number the re-run finds the listener at.
const LISTENER_FD: libc::c_int = 100;

/// Cloned directly, by the fork server or from its spare, a sandbox under the re-run's
/// listener runs its program and has the policy's kills; learning is refused, naming why.
#[test]
fn a_host_whose_filters_have_a_listener_still_runs_sandboxes() {
    let name = "a_host_whose_filters_have_a_listener_still_runs_sandboxes";
    if std::env::var_os(RERUN).is_none() {
        common::rerun_with(name, RERUN, listened);
        return;
    }
    // The control: the re-run holds the listener of a filter of its own.
    let link = std::fs::read_link(format!("/proc/self/fd/{LISTENER_FD}")).unwrap();
    assert_eq!(link.to_str(), Some("anon_inode:seccomp notify"));
    for way in common::Way::ALL {
        // An allowed program runs.
        let mut cmd = common::command("/bin/echo");
        cmd.arg("ran").policy(&common::permissive());
        let out = common::output_by(cmd, way);
        common::assert_exited_0(&out);
        assert_eq!(out.stdout, b"ran\n", "{way:?}");
    }
    for way in common::Way::ALL {
        // A call the policy kills kills the program, by the kernel's hand. The scratch tmpfs
        // makes a configuration of its own, which the spare made for the echo cannot serve.
        let mut cmd = common::command("/usr/bin/python3");
        cmd.args(["-S", "-c", "import os; os.getppid(); print('went on')"])
            .tmpfs("/scratch", 1 << 20)
            .policy(&common::kill_only(&[("getppid", 110)]));
        let out = common::output_by(cmd, way);
        assert_eq!(
            out.outcome.status,
            Status::Signaled(libc::SIGSYS),
            "{way:?}: {}",
            out.outcome
        );
        assert!(out.stdout.is_empty(), "{way:?}");
    }
    // Learning needs the listener the host already has.
    let e = common::command("/bin/true")
        .learn()
        .spawn()
        .expect_err("learning cannot work beside the host's listener");
    assert!(e.to_string().contains("already have one"), "{e}");
}
