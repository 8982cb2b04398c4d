//! The kernel agrees with the compiler: compiled programs are installed in forked children,
//! and allowed calls succeed, errno rules return their errno, and killed calls are killed by
//! the kernel itself (SIGSYS), not only by the evaluator.

use sandbox_policy::{compile_text, NoIncludes, SockFilter};

/// The compiler's randomised tests' generator, so that a failure here repeats from its seed too.
#[path = "../sandbox-policy/tests/common/mod.rs"]
mod common;
use common::Rng;

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

/// Forks; the child installs `filter` and runs `body`, exiting with its return value. `body`
/// must make raw system calls only (no allocation, no locks).
fn in_filtered_child(filter: &[SockFilter], body: impl FnOnce() -> i32) -> Ended {
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

/// Calls the probes make, with arguments of every width and sign, under policies whose every
/// action is an errno (so a probe never runs, whatever its arguments, unless the kernel and
/// the compiler disagree).
const PROBED: [&str; 9] = [
    "lseek",
    "fcntl",
    "socket",
    "mmap",
    "openat",
    "getrandom",
    "futex",
    "ioctl",
    "mprotect",
];

/// Values where width and sign mistakes hide.
const EDGES: [u64; 12] = [
    0,
    1,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    1 << 32,
    (1 << 32) | 1,
    0x7fff_ffff_ffff_ffff,
    1 << 63,
    u64::MAX,
    0xffff_ffff_ffff_ff9c,
    0xffff_ffff_8000_0000,
];

/// A random condition over `spec`'s arguments, and the constants it names.
fn condition(rng: &mut Rng, spec: &sandbox_policy::tables::SyscallSpec, depth: u32) -> String {
    if depth > 0 && rng.below(3) == 0 {
        let (a, b) = (
            condition(rng, spec, depth - 1),
            condition(rng, spec, depth - 1),
        );
        return match rng.below(3) {
            0 => format!("({a} && {b})"),
            1 => format!("({a} || {b})"),
            _ => format!("!({a})"),
        };
    }
    let arg = spec.args[rng.index(spec.args.len())];
    let bits = arg.ty.bits();
    let fit = |v: u64| if bits == 64 { v } else { v & ((1 << bits) - 1) };
    let value = fit(rng.pick(&EDGES) ^ (rng.next() % 3));
    let op = rng.pick(&["==", "!=", "<", "<=", ">", ">="]);
    let mask = match rng.below(3) {
        0 => Some(fit(rng.next() | 1)),
        _ => None,
    };
    // As the checker accepts them, meaning what the compiler reads: a masked equality keeps
    // the mask's bits only, and a signed argument is ordered against the number it reads.
    let equality = op == "==" || op == "!=";
    let value = match mask {
        Some(m) if equality => format!("{:#x}", value & m),
        None if !equality && arg.ty.signed() && value >> (bits - 1) & 1 == 1 => {
            format!("-{}", (1u128 << bits) - u128::from(value))
        }
        _ => format!("{value:#x}"),
    };
    let mask = mask.map_or(String::new(), |m| format!(" & {m:#x}"));
    format!("{}{mask} {op} {value}", arg.name)
}

/// The kernel runs random compiled programs as the policy's interpreter says: each of many
/// random policies (every action an errno of its own) is installed in a child, which makes
/// probe calls with edge-value arguments; every errno the kernel returns must be the one the
/// interpreter decides. The compiler's differential tests run the program in the evaluator;
/// here the kernel runs it.
#[test]
fn random_policies_decide_in_the_kernel_as_the_interpreter_does() {
    use sandbox_policy::{tables, Action, Arch};
    const POLICIES: usize = 300;
    const PROBES: usize = 200;
    let arch = Arch::native().expect("a supported architecture");
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let mut checked = 0;
    for round in 0..POLICIES {
        let mut text = String::from("default errno(3000);\nallow exit_group, exit;\n");
        let mut used = Vec::new();
        for rule in 0..1 + rng.index(6) {
            let name = rng.pick(&PROBED);
            let spec = tables::syscall_by_name(arch, name).expect("a probed syscall");
            used.push(spec);
            text += &format!(
                "errno({}) {name} if {};\n",
                3001 + rule,
                condition(&mut rng, spec, 3)
            );
        }
        let c = compile_text("random.policy", None, &text, &mut NoIncludes);
        let compiled = match c.result {
            Ok(compiled) => compiled,
            // None is expected to fail; the count of probes checked below bounds the skips.
            Err(_) => continue,
        };
        let filter = compiled
            .policy
            .native_program()
            .expect("a program for this architecture")
            .filter
            .to_vec();
        let probes: Vec<(u32, [u64; 6])> = (0..PROBES)
            .map(|_| {
                let spec = rng.pick(&used);
                let mut args = [0u64; 6];
                for a in &mut args {
                    *a = match rng.below(4) {
                        0 => rng.next(),
                        _ => rng.pick(&EDGES),
                    };
                }
                (spec.nr, args)
            })
            .collect();
        let got = errnos_in_child(&filter, &probes);
        for (i, (nr, args)) in probes.iter().enumerate() {
            let decided = compiled
                .checked
                .decide(arch, arch.audit_arch(), *nr, args)
                .verdict
                .action;
            let Action::Errno(expected) = decided else {
                panic!("round {round}: {decided:?} for nr {nr} {args:x?}\n{text}");
            };
            assert_eq!(
                got[i],
                i32::from(expected),
                "round {round}: nr {nr} args {args:x?}\n{text}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= POLICIES * PROBES / 2,
        "only {checked} probes ran"
    );
}

/// Runs `probes` in a child under `filter` and returns the errno of each (or -1 when a call
/// succeeded), through a shared mapping the child writes before it exits.
fn errnos_in_child(filter: &[SockFilter], probes: &[(u32, [u64; 6])]) -> Vec<i32> {
    let bytes = (probes.len() * std::mem::size_of::<i32>()).max(1);
    // SAFETY: a fresh anonymous shared mapping of `bytes`, unmapped below.
    let shared = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(shared, libc::MAP_FAILED);
    let out = shared as *mut i32;
    let ended = in_filtered_child(filter, || {
        for (i, (nr, a)) in probes.iter().enumerate() {
            // SAFETY: a raw system call with plain integer arguments (the policy answers each
            // with an errno before it runs), and a write into the shared mapping, one i32 per
            // probe.
            unsafe {
                let r = libc::syscall(i64::from(*nr), a[0], a[1], a[2], a[3], a[4], a[5]);
                *out.add(i) = if r == -1 {
                    *libc::__errno_location()
                } else {
                    -1
                };
            }
        }
        0
    });
    assert_eq!(ended, Ended::Exit(0), "the probing child");
    // SAFETY: the child has ended; the mapping holds one i32 per probe.
    let got = (0..probes.len()).map(|i| unsafe { *out.add(i) }).collect();
    // SAFETY: the mapping made above, no longer used.
    unsafe { libc::munmap(shared, bytes) };
    got
}
