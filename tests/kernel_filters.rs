//! The kernel agrees with the compiler: compiled programs are installed in forked children,
//! and allowed calls succeed, errno rules return their errno, and killed calls are killed by
//! the kernel itself (SIGSYS), not only by the evaluator.

use sandbox_policy::{compile_text, NoIncludes, SockFilter};

/// What a child reported: its exit code, or the signal that killed it.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Exit(i32),
    Signal(i32),
}

fn program(text: &str) -> Vec<SockFilter> {
    let c = compile_text("kernel.policy", None, text, &mut NoIncludes);
    match c.result {
        Ok(compiled) => compiled
            .policy
            .native_program()
            .expect("a program for this architecture")
            .filter
            .to_vec(),
        Err(_) => panic!("{}", c.render_errors()),
    }
}

/// Forks; the child installs `filter` and runs `body`, exiting with its return value.
fn in_filtered_child(filter: &[SockFilter], body: fn() -> i32) -> Ended {
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the child only makes raw syscalls (no allocation, no locks) before _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: plain syscalls on valid arguments; `prog` outlives the call.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                libc::_exit(101);
            }
            if libc::syscall(libc::SYS_seccomp, 1 /* SET_MODE_FILTER */, 0, &prog) != 0 {
                libc::_exit(102);
            }
            libc::_exit(body());
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFSIGNALED(status) {
        Ended::Signal(libc::WTERMSIG(status))
    } else {
        Ended::Exit(libc::WEXITSTATUS(status))
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

const BASE: &str = "default kill;\nallow exit_group, exit;\n";

#[test]
fn allowed_calls_succeed() {
    let filter = program(&format!("{BASE}allow getppid, getpid;"));
    let ended = in_filtered_child(&filter, || {
        // SAFETY: argument-free syscalls.
        let ok =
            unsafe { libc::syscall(libc::SYS_getppid) > 0 && libc::syscall(libc::SYS_getpid) > 0 };
        if ok {
            0
        } else {
            1
        }
    });
    assert_eq!(ended, Ended::Exit(0));
}

#[test]
fn errno_rules_return_their_errno() {
    let filter = program(&format!("{BASE}errno(EACCES) getppid;\nerrno(42) getpid;"));
    let ended = in_filtered_child(&filter, || {
        // SAFETY: argument-free syscalls.
        let a = unsafe { libc::syscall(libc::SYS_getppid) };
        let ea = errno();
        // SAFETY: as above.
        let b = unsafe { libc::syscall(libc::SYS_getpid) };
        let eb = errno();
        if a == -1 && ea == libc::EACCES && b == -1 && eb == 42 {
            0
        } else {
            1
        }
    });
    assert_eq!(ended, Ended::Exit(0));
}

#[test]
fn killed_calls_are_killed_by_the_kernel() {
    let filter = program(&format!("{BASE}allow getpid;"));
    let ended = in_filtered_child(&filter, || {
        // SAFETY: argument-free syscall; the filter kills the process here.
        unsafe { libc::syscall(libc::SYS_getppid) };
        0
    });
    assert_eq!(ended, Ended::Signal(libc::SIGSYS));
}

#[test]
fn argument_conditions_hold_in_the_kernel() {
    // dup(fd) is allowed only for fd 0; an `int`-width check ignores the high word.
    let filter = program(&format!(
        "{BASE}allow dup if oldfd == 0;\nerrno(EPERM) dup;\nallow close;"
    ));
    let ended = in_filtered_child(&filter, || {
        // SAFETY: dup and close on small integers; failures are reported through errno.
        unsafe {
            let good = libc::syscall(libc::SYS_dup, 0u64);
            let bad = libc::syscall(libc::SYS_dup, 1u64);
            let bad_errno = errno();
            // Only the low 32 bits count for an int: 1 << 32 is fd 0 to the kernel and to us.
            let high = libc::syscall(libc::SYS_dup, 1u64 << 32);
            if good >= 0 && bad == -1 && bad_errno == libc::EPERM && high >= 0 {
                0
            } else {
                1
            }
        }
    });
    assert_eq!(ended, Ended::Exit(0));
}

#[test]
fn clone3_is_enosys_unless_named() {
    let filter = program(BASE);
    let ended = in_filtered_child(&filter, || {
        // SAFETY: clone3 with a null argument fails before doing anything.
        let r = unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) };
        if r == -1 && errno() == libc::ENOSYS {
            0
        } else {
            1
        }
    });
    assert_eq!(ended, Ended::Exit(0));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x32_numbers_are_killed_by_the_kernel() {
    // With `default allow`, only the prelude stands between an x32 number and the kernel.
    let filter = program("default allow;\nkill ptrace;");
    let ended = in_filtered_child(&filter, || {
        // SAFETY: getpid through the x32 ABI (or ENOSYS where x32 is not built): no memory use.
        unsafe { libc::syscall(libc::SYS_getpid | 0x4000_0000) };
        0
    });
    assert_eq!(ended, Ended::Signal(libc::SIGSYS));
}
