//! A hostile sandboxee: one attack on the sandbox per subcommand (`attacker <attack> [args]`).
//!
//! Each attack reports what the kernel answered on standard output as `key=value` lines
//! (errno values by name), so the attack suite in `tests/attack_suite/` can assert the exact
//! outcome. Attacks that a correct sandbox stops by killing the process (a seccomp violation,
//! a limit) simply never get to print their last line. Arguments starting with `tag:` are
//! ignored: the suite adds one to every run to find surviving processes by their command line.

use std::ffi::CString;
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("tag:"))
        .collect();
    let Some(attack) = args.first() else {
        eprintln!("usage: attacker <attack> [args]");
        std::process::exit(2);
    };
    let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    match attack.as_str() {
        "true" => {}
        "socket" => socket(),
        "i386-socket" => i386_socket(),
        "i386-getpid" => i386_getpid(),
        "i386-chmod" => i386_chmod(rest[0]),
        "x32-getpid" => x32_getpid(),
        "ioctl-tiocsti" => ioctl_tiocsti(),
        "writev-high-bits" => writev_high_bits(),
        "openat-fdcwd" => openat_fdcwd(),
        "clone3" => clone3(),
        "own-filter" => own_filter(rest[0]),
        "io-uring" => io_uring(),
        "raw" => raw(rest[0]),
        "read" => read_paths(&rest),
        "write" => write_path(rest[0]),
        "remount" => remount(rest[0]),
        "exec" => exec_path(rest[0], &rest[1..]),
        "chroot-escape" => chroot_escape(rest[0]),
        "proc-root" => proc_root(rest[0]),
        "mknod" => mknod(),
        "set-id" => set_id(rest[0], rest.get(1).map(|fd| fd.parse().expect("fd"))),
        "filters" => filters(),
        "proc-sys" => proc_sys(),
        "pids" => pids(rest.first().copied()),
        "kill-all" => kill_all(rest[0]),
        "signal-init" => signal_init(),
        "ptrace-parent" => ptrace_parent(),
        "ids" => ids(),
        "caps" => caps(),
        "daemon" => daemon(),
        "left-writer" => left_writer(rest[0]),
        "tracer-writer" => tracer_writer(rest[0]),
        "walker" => walker(rest[0]),
        "nested-writer" => nested_writer(rest[0]),
        "forkbomb" => forkbomb(),
        "membomb" => membomb(),
        "tcp-flood" => tcp_flood(rest[0].parse().expect("connections")),
        "spin" => spin(),
        "fsize" => fsize(rest[0]),
        "fds" => fd_exhaustion(),
        "fill" => fill(rest[0]),
        "inodes" => inodes(rest[0]),
        "connect-tcp" => connect_tcp(rest[0].parse().expect("port")),
        "connect-abstract" => connect_abstract(rest[0]),
        "netdev" => netdev(),
        "listen" => listen(rest[0]),
        "socket-files" => socket_files(&rest),
        "fd-list" => fd_list(),
        "reopen" => reopen(&rest),
        "reopen-received" => reopen_received(),
        "landlocked" => landlocked(),
        "user-namespaces" => user_namespaces(),
        "env" => env(),
        "tiocsti" => tiocsti(),
        "tiocsti-child" => tiocsti_child(),
        "terminal-reach" => terminal_reach(),
        "find-terminal" => find_terminal(),
        "keyring" => keyring(rest[0], rest[1], rest[2]),
        "vsock" => vsock(),
        "request-key" => request_key(),
        "comms" => comms(rest[0]),
        "after-violation" => after_violation(rest[0], None),
        "signalled-violation" => {
            static GO: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            signals_on(&GO);
            after_violation(rest[0], Some(&GO));
        }
        "plant-links" => plant_links(&rest),
        "swap-links" => swap_links(rest[0], rest[1], rest[2]),
        other => {
            eprintln!("unknown attack {other}");
            std::process::exit(2);
        }
    }
    flush();
}

// ---------------------------------------------------------------------------------------------
// Reporting helpers

fn say(line: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", line.as_ref());
    let _ = out.flush();
}

fn flush() {
    let _ = std::io::stdout().flush();
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The symbolic name of an errno value (`EPERM`), or its number.
fn errno_name(e: i32) -> String {
    let name = match e {
        0 => "OK",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ENOSYS => "ENOSYS",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ENOKEY => "ENOKEY",
        _ => return e.to_string(),
    };
    name.to_string()
}

/// `OK` for a non-negative result, else the errno's name.
fn result(r: i64) -> String {
    if r < 0 {
        errno_name(errno())
    } else {
        "OK".to_string()
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

/// Opens `path` read-only and reads it: `OK:<first line>` or the errno's name.
fn try_read(path: &str) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            format!("OK:{}", text.lines().next().unwrap_or(""))
        }
        Err(e) => errno_name(e.raw_os_error().unwrap_or(0)),
    }
}

// ---------------------------------------------------------------------------------------------
// Syscall filter

fn socket() {
    // SAFETY: integer arguments.
    let r = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    say(format!("socket={}", result(r.into())));
}

/// Adds a filter of its own that fails `socket` with EPERM (through `seccomp` or `prctl`, as
/// `how` says), then calls `socket`: a filter the program adds ranks `errno` above the
/// notification that reports the sandbox policy's kill, so the call would fail and the program
/// go on, unreported, were the filter let in.
fn own_filter(how: &str) {
    let ld_nr = libc::sock_filter {
        code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
        jt: 0,
        jf: 0,
        k: 0, // seccomp_data.nr
    };
    let is_socket = libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt: 0,
        jf: 1,
        k: libc::SYS_socket as u32,
    };
    let ret = |k: u32| libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let filter = [
        ld_nr,
        is_socket,
        ret(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        ret(libc::SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    let r = match how {
        // SAFETY: prog points to a live filter of prog.len instructions.
        "seccomp" => unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        },
        // SAFETY: as above.
        _ => unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            )
            .into()
        },
    };
    say(format!("own_filter={}", result(r)));
    socket();
}

/// Sets up an io_uring, whose operations (opening files, sockets) run with no system call for
/// the filter to see.
fn io_uring() {
    // struct io_uring_params (120 bytes), all zero: the kernel's defaults.
    let mut params: [u8; 120] = [0; 120];
    // SAFETY: params is a live buffer of the struct's size (120 bytes).
    let r = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4, params.as_mut_ptr()) };
    say(format!("io_uring_setup={}", result(r)));
}

/// A 32-bit system call through `int 0x80` (the i386 ABI on an x86-64 kernel).
#[cfg(target_arch = "x86_64")]
fn int80(nr: u32, a: u32, b: u32, c: u32) -> i32 {
    let ret: i32;
    // SAFETY: a system call with integer arguments; rbx is reserved by the compiler, so the
    // first argument is swapped into it and back around the call.
    unsafe {
        std::arch::asm!(
            "xchg {a:r}, rbx",
            "int 0x80",
            "xchg {a:r}, rbx",
            a = inout(reg) u64::from(a) => _,
            inlateout("eax") nr as i32 => ret,
            in("ecx") b,
            in("edx") c,
        );
    }
    ret
}

/// Other architectures have no i386 ABI to reach: answer ENOSYS like a missing syscall.
#[cfg(not(target_arch = "x86_64"))]
fn int80(_nr: u32, _a: u32, _b: u32, _c: u32) -> i32 {
    -libc::ENOSYS
}

fn i386_socket() {
    // i386 `socket` is 359 (AF_INET, SOCK_STREAM, 0).
    let r = int80(359, 2, 1, 0);
    say(format!("i386_socket={r}"));
}

fn i386_getpid() {
    let r = int80(20, 0, 0, 0);
    say(format!("i386_getpid={r}"));
}

/// Makes `path` (native `openat`, mode 0644), then tries to make it set-user-ID through the
/// i386 ABI (`int 0x80`, `chmod` = 15), whose calls no native rule reads. Reports `made` and,
/// if the call returns, `i386_chmod`.
fn i386_chmod(path: &str) {
    let c = cstr(path);
    // SAFETY: a live C string; our descriptor.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o644) };
    say(format!("made={}", result(fd.into())));
    if fd >= 0 {
        // SAFETY: our descriptor, closed once.
        unsafe { libc::close(fd) };
    }
    // The i386 ABI takes 32-bit pointers: the path goes in a page below 4 GiB.
    // SAFETY: a fresh anonymous mapping, written only within its length.
    let low = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
            -1,
            0,
        )
    };
    if low == libc::MAP_FAILED {
        say("i386_chmod=no-low-page");
        return;
    }
    let bytes = c.as_bytes_with_nul();
    // SAFETY: the page holds 4096 bytes; a path is at most PATH_MAX (4096) with its NUL.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), low.cast::<u8>(), bytes.len().min(4096))
    };
    let r = int80(15, low as u32, 0o4755, 0);
    say(format!("i386_chmod={r}"));
}

fn x32_getpid() {
    // SAFETY: getpid's x32 number, no arguments.
    let r = unsafe { libc::syscall(39 | 0x4000_0000) };
    say(format!("x32_getpid={}", result(r)));
}

fn ioctl_tiocsti() {
    let c = b'x';
    // SAFETY: raw ioctl on stdin; the pointer is live.
    let plain = unsafe { libc::syscall(libc::SYS_ioctl, 0, libc::TIOCSTI, &c as *const u8) };
    say(format!("tiocsti={}", result(plain)));
    let high = libc::TIOCSTI | (1 << 32);
    // SAFETY: as above; the kernel truncates the request to 32 bits.
    let r = unsafe { libc::syscall(libc::SYS_ioctl, 0, high, &c as *const u8) };
    say(format!("tiocsti_high_bits={}", result(r)));
    // A harmless request the rule does not name still goes through to the tty layer.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize.
    let r = unsafe { libc::syscall(libc::SYS_ioctl, 0, libc::TIOCGWINSZ, &mut ws as *mut _) };
    say(format!("tiocgwinsz={}", result(r)));
}

/// `writev` to stdout with bit 32 set in the descriptor (and the count): the kernel declares
/// both `unsigned long` but reads only their low 32 bits, so this writes to fd 1.
fn writev_high_bits() {
    let text = b"written\n";
    let iov = libc::iovec {
        iov_base: text.as_ptr() as *mut libc::c_void,
        iov_len: text.len(),
    };
    for (name, fd, count) in [
        ("high_bits", 1 | 1 << 32, 1 | 1 << 32),
        ("plain", 1_u64, 1_u64),
    ] {
        // SAFETY: raw writev with one live iovec.
        let r = unsafe { libc::syscall(libc::SYS_writev, fd, &iov as *const libc::iovec, count) };
        say(format!("writev_{name}={}", result(r)));
    }
}

fn openat_fdcwd() {
    let path = cstr("/proc");
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    for (name, dirfd) in [
        ("zero_extended", 0xffff_ff9c_u64),
        ("sign_extended", 0xffff_ffff_ffff_ff9c_u64),
        ("other_fd", 0),
    ] {
        // SAFETY: raw openat with a live path; the result is closed below.
        let r = unsafe { libc::syscall(libc::SYS_openat, dirfd, path.as_ptr(), flags, 0) };
        say(format!("{name}={}", result(r)));
        if r >= 0 {
            // SAFETY: r is our descriptor.
            unsafe { libc::close(r as i32) };
        }
    }
}

fn clone3() {
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
    }
    let args = CloneArgs {
        flags: libc::CLONE_NEWUSER as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 reads one clone_args; if it ever succeeded the child exits at once.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if r == 0 {
        // SAFETY: the child of a successful clone3 leaves without touching anything.
        unsafe { libc::_exit(0) };
    }
    say(format!("clone3={}", result(r)));
    // The fallback libc takes: fork through clone.
    // SAFETY: the child only calls _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: leaves the child at once.
        unsafe { libc::_exit(42) };
    }
    say(format!("fork={}", result(pid.into())));
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    say(format!("child_exit={}", libc::WEXITSTATUS(status)));
}

/// One system call that no built-in group may allow, with plausible arguments.
fn raw(name: &str) {
    let mut zeros = [0u64; 32];
    let z = zeros.as_mut_ptr();
    let r: i64 = unsafe {
        // SAFETY (all arms): the pointers given point to zeroed, live buffers large enough for
        // what each call reads or writes.
        match name {
            "io_uring_setup" => libc::syscall(libc::SYS_io_uring_setup, 1, z),
            "bpf" => libc::syscall(libc::SYS_bpf, 0, z, 72),
            "ptrace" => libc::syscall(libc::SYS_ptrace, libc::PTRACE_TRACEME, 0, 0, 0),
            "perf_event_open" => libc::syscall(libc::SYS_perf_event_open, z, 0, -1, -1, 0),
            "userfaultfd" => libc::syscall(libc::SYS_userfaultfd, 0),
            "keyctl" => libc::syscall(libc::SYS_keyctl, 0, -3i64, 0),
            "add_key" => libc::syscall(
                libc::SYS_add_key,
                c"user".as_ptr(),
                c"attack".as_ptr(),
                c"x".as_ptr(),
                1,
                -3i64,
            ),
            "unshare" => libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER),
            "clone" => {
                let r = libc::syscall(
                    libc::SYS_clone,
                    libc::CLONE_NEWNS | libc::SIGCHLD,
                    0,
                    0,
                    0,
                    0,
                );
                if r == 0 {
                    libc::_exit(0);
                }
                r
            }
            "mount" => libc::syscall(
                libc::SYS_mount,
                c"none".as_ptr(),
                c"/".as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                0,
            ),
            "pivot_root" => libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()),
            "setns" => libc::syscall(libc::SYS_setns, 0, libc::CLONE_NEWNET),
            "process_vm_writev" => {
                let mut buf = [0u8; 8];
                let local = libc::iovec {
                    iov_base: buf.as_mut_ptr().cast(),
                    iov_len: 8,
                };
                let remote = libc::iovec {
                    iov_base: z.cast(),
                    iov_len: 8,
                };
                libc::syscall(
                    libc::SYS_process_vm_writev,
                    libc::getpid(),
                    &local as *const libc::iovec,
                    1,
                    &remote as *const libc::iovec,
                    1,
                    0,
                )
            }
            other => {
                say(format!("unknown syscall {other}"));
                std::process::exit(2);
            }
        }
    };
    say(format!("{name}={}", result(r)));
}

/// Makes a call the policy kills, then, if it ever returns, writes to a host file that was
/// opened beforehand: a killed call must never return, so nothing may be written.
fn after_violation(path: &str, go: Option<&std::sync::atomic::AtomicBool>) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .expect("open the witness file");
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    if let Some(go) = go {
        go.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    // SAFETY: integer arguments.
    let r = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    let e = errno();
    let msg = format!("socket returned {r} errno {}\n", errno_name(e));
    // SAFETY: a live buffer; one syscall, as soon as possible after the return.
    unsafe { libc::write(fd, msg.as_ptr().cast(), msg.len()) };
    // Keep working for a while, as an attacker would.
    for i in 0..1000 {
        let line = format!("still running {i}\n");
        // SAFETY: as above.
        unsafe { libc::write(fd, line.as_ptr().cast(), line.len()) };
    }
}

/// Starts a thread that, once `go` is set, sends SIGUSR1 to this one a hundred times, a
/// microsecond apart, with a handler that does not restart calls (no `SA_RESTART`): a call
/// waiting for the monitor then is interrupted, and would return EINTR if the kernel let the
/// wait end. Only a hundred, so that the thread gets on between the handler's runs.
fn signals_on(go: &'static std::sync::atomic::AtomicBool) {
    extern "C" fn ignore(_: libc::c_int) {}
    // SAFETY: a zeroed sigaction is valid; the handler does nothing and is async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = ignore as extern "C" fn(libc::c_int) as usize;
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
    }
    // SAFETY: no arguments.
    let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
    std::thread::spawn(move || {
        while !go.load(std::sync::atomic::Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        for _ in 0..100 {
            // SAFETY: integer arguments; the target is this process's first thread.
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1) };
            let sent = std::time::Instant::now();
            while sent.elapsed() < std::time::Duration::from_micros(1) {}
        }
    });
}

// ---------------------------------------------------------------------------------------------
// File system

/// Plants symbolic links, given as `target link` pairs (making the link's missing parent
/// directories), for a later sandbox that shares the directory to trip over.
fn plant_links(pairs: &[&str]) {
    for pair in pairs.chunks(2) {
        let [target, link] = pair else {
            eprintln!("plant-links takes target and link pairs");
            std::process::exit(2);
        };
        let parent = std::path::Path::new(link).parent().unwrap_or("/".as_ref());
        let r =
            std::fs::create_dir_all(parent).and_then(|()| std::os::unix::fs::symlink(target, link));
        say(format!(
            "link {link}={}",
            match r {
                Ok(()) => "OK".to_string(),
                Err(e) => errno_name(e.raw_os_error().unwrap_or(0)),
            }
        ));
    }
}

/// For `millis` milliseconds, turns `path` over and over from a directory into a symbolic
/// link to `target` and back, racing a sandbox that makes a mount point through it. A
/// directory that got something made in it is moved aside, so the race goes on.
fn swap_links(path: &str, target: &str, millis: &str) {
    let until = std::time::Instant::now()
        + std::time::Duration::from_millis(millis.parse().expect("milliseconds"));
    let (mut swaps, mut aside) = (0u64, 0u64);
    while std::time::Instant::now() < until {
        let _ = std::fs::create_dir(path);
        if std::fs::remove_dir(path).is_err() {
            aside += 1;
            let _ = std::fs::rename(path, format!("{path}.aside{aside}"));
        }
        let _ = std::os::unix::fs::symlink(target, path);
        let _ = std::fs::remove_file(path);
        swaps += 1;
    }
    say(format!("swaps={swaps}"));
    say(format!("aside={aside}"));
}

fn read_paths(paths: &[&str]) {
    for p in paths {
        say(format!("read {p}={}", try_read(p)));
    }
}

/// For each descriptor number: reopen it by `/proc/self/fd/N` to read, to write, and to write
/// at its start (no append), truncate it by that path, and run it.
fn reopen(fds: &[&str]) {
    for fd in fds {
        let path = cstr(&format!("/proc/self/fd/{fd}"));
        for (name, flags) in [
            ("read", libc::O_RDONLY),
            ("write", libc::O_WRONLY),
            ("overwrite", libc::O_WRONLY | libc::O_TRUNC),
        ] {
            // SAFETY: a live C string.
            let r = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
            say(format!("{name} {fd}={}", result(r.into())));
            if r >= 0 && flags != libc::O_RDONLY {
                // SAFETY: r is ours; a short literal.
                let w = unsafe { libc::write(r, b"owned\n".as_ptr().cast(), 6) };
                say(format!("{name}-bytes {fd}={}", result(w as i64)));
            }
            if r >= 0 {
                // SAFETY: ours.
                unsafe { libc::close(r) };
            }
        }
        // SAFETY: a live C string.
        let r = unsafe { libc::truncate(path.as_ptr(), 0) };
        say(format!("truncate {fd}={}", result(r.into())));
        let argv = [path.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null::<libc::c_char>()];
        // SAFETY: NULL-terminated arrays of live C strings; returns only on failure.
        let r = unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        say(format!("exec {fd}={}", result(r.into())));
    }
}

/// Takes a descriptor the host sends on the comms channel and tries to reopen it for more, as
/// [`reopen`] does.
fn reopen_received() {
    use std::os::fd::AsRawFd;
    let mut comms =
        sandbox_runtime::comms::Comms::from_sandbox_fd().expect("the comms channel is there");
    let fd = comms.recv_fd().expect("the host sends a descriptor");
    let number = fd.as_raw_fd().to_string();
    say(format!("received={number}"));
    reopen(&[number.as_str()]);
}

/// Whether this process is in a Landlock domain that handles file access: such a domain refuses
/// every mount, even in namespaces of the process's own, where it has every capability.
fn landlocked() {
    // SAFETY: unshare with integer flags, in a program with one thread.
    let r = unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) };
    say(format!("unshare={}", result(r.into())));
    if r != 0 {
        return;
    }
    // SAFETY: live C strings; no data.
    let r = unsafe {
        libc::mount(
            c"none".as_ptr(),
            c"/tmp".as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    say(format!("mount_in_own_namespaces={}", result(r.into())));
    // A file system mounted detached (`fsopen`, `fsmount`), which no mount hook sees: what the
    // domain allows on it is what it allows outside the sandbox's root (creating files there
    // fails anyway: the new user namespace maps no id).
    // SAFETY: a live C string and integer flags.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), 1) };
    // SAFETY: FSCONFIG_CMD_CREATE (6) on the descriptor just made, no key or value.
    let created =
        fs >= 0 && unsafe { libc::syscall(libc::SYS_fsconfig, fs, 6, 0usize, 0usize, 0) } == 0;
    // SAFETY: FSMOUNT_CLOEXEC (1) on the configured context.
    let mnt = if created {
        unsafe { libc::syscall(libc::SYS_fsmount, fs, 1, 0) }
    } else {
        -1
    };
    say(format!("detached_mount={}", result(mnt)));
    if mnt < 0 {
        return;
    }
    let mnt = mnt as libc::c_int;
    // SAFETY: a live C string, relative to the mount's root.
    let r = unsafe { libc::openat(mnt, c".".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
    say(format!("read_dir_on_own_mount={}", result(r.into())));
}

/// Tries to make a user namespace every way a policy can let through (`clone`, `unshare`, and
/// `clone3`, whose flags no filter sees), and to lift the limit that would stop it.
fn user_namespaces() {
    const LIMIT: &str = "/proc/sys/user/max_user_namespaces";
    say(format!(
        "limit={}",
        std::fs::read_to_string(LIMIT).map_or_else(
            |e| errno_name(e.raw_os_error().unwrap_or(0)),
            |s| s.trim().to_string()
        )
    ));
    let raise = std::fs::OpenOptions::new()
        .write(true)
        .open(LIMIT)
        .and_then(|mut f| f.write_all(b"100\n"));
    say(format!(
        "raise_limit={}",
        raise.map_or_else(
            |e| errno_name(e.raw_os_error().unwrap_or(0)),
            |()| "OK".into()
        )
    ));
    // SAFETY: clone with no new stack behaves as fork; the child only exits.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::CLONE_NEWUSER | libc::SIGCHLD,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid == 0 {
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(0) };
    }
    say(format!("clone={}", result(pid)));
    if pid > 0 {
        let mut status = 0;
        // SAFETY: our child; status is a live int.
        unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    }
    // SAFETY: unshare with an integer flag, in a program with one thread.
    let r = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
    say(format!("unshare={}", result(r.into())));
    clone3();
}

fn write_path(path: &str) {
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .and_then(|mut f| f.write_all(b"owned\n"));
    say(format!(
        "write={}",
        match r {
            Ok(()) => "OK".to_string(),
            Err(e) => errno_name(e.raw_os_error().unwrap_or(0)),
        }
    ));
}

fn remount(path: &str) {
    let p = cstr(path);
    let tries: [(&str, libc::c_ulong); 3] = [
        ("remount_bind_rw", libc::MS_REMOUNT | libc::MS_BIND),
        ("remount_rw", libc::MS_REMOUNT),
        ("bind_again", libc::MS_BIND | libc::MS_REC),
    ];
    for (name, flags) in tries {
        // SAFETY: live C strings; no data.
        let r = unsafe {
            libc::mount(
                p.as_ptr(),
                p.as_ptr(),
                std::ptr::null(),
                flags,
                std::ptr::null(),
            )
        };
        say(format!("{name}={}", result(r.into())));
    }
    // Whatever happened, a write must still fail.
    write_path(&format!("{path}/after-remount"));
}

fn exec_path(path: &str, args: &[&str]) {
    let p = cstr(path);
    let mut argv: Vec<CString> = vec![p.clone()];
    argv.extend(args.iter().map(|a| cstr(a)));
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    flush();
    // SAFETY: NULL-terminated arrays of live C strings; returns only on failure.
    unsafe { libc::execve(p.as_ptr(), ptrs.as_ptr(), envp.as_ptr()) };
    say(format!("exec={}", errno_name(errno())));
}

fn chroot_escape(marker: &str) {
    // The classic escape: chroot into a subdirectory while keeping the cwd outside it, then
    // walk up with `..` past the old root and chroot there.
    let _ = std::fs::create_dir_all("/tmp/jail");
    // SAFETY: live C string.
    let r = unsafe { libc::chroot(c"/tmp/jail".as_ptr()) };
    say(format!("chroot={}", result(r.into())));
    for _ in 0..64 {
        // SAFETY: live C string.
        unsafe { libc::chdir(c"..".as_ptr()) };
    }
    // SAFETY: live C string.
    let r = unsafe { libc::chroot(c".".as_ptr()) };
    say(format!("chroot_dot={}", result(r.into())));
    say(format!("marker={}", try_read(marker)));
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| errno_name(e.raw_os_error().unwrap_or(0)));
    say(format!("cwd={cwd}"));
    let listing: Vec<String> = std::fs::read_dir(".")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    say(format!("root_entries={}", listing.join(",")));
}

fn proc_root(marker: &str) {
    for base in [
        "/proc/1/root",
        "/proc/self/root",
        "/proc/2/root",
        "/proc/1/cwd",
    ] {
        say(format!("{base}={}", try_read(&format!("{base}{marker}"))));
    }
    // Whatever pid 1 is, its root must be the sandbox's root: the host's /etc is not there.
    say(format!(
        "etc_passwd={}",
        try_read("/proc/1/root/etc/passwd")
    ));
    // An old-root leftover of pivot_root would show as a mount here.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for l in mounts.lines() {
        say(format!("mountinfo {l}"));
    }
}

fn mknod() {
    let dev = libc::makedev(1, 3);
    for path in ["/tmp/null", "/dev/evil"] {
        let p = cstr(path);
        // SAFETY: live C string.
        let r = unsafe { libc::mknod(p.as_ptr(), libc::S_IFCHR | 0o666, dev) };
        say(format!("mknod {path}={}", result(r.into())));
    }
    // A block device for the host's first disk.
    let p = cstr("/tmp/sda");
    // SAFETY: live C string.
    let r = unsafe { libc::mknod(p.as_ptr(), libc::S_IFBLK | 0o666, libc::makedev(8, 0)) };
    say(format!("mknod /tmp/sda={}", result(r.into())));
}

/// Tries every way to give a file in `dir` (a writable bind) a set-user-ID or set-group-ID
/// mode, and `fchmod` on descriptor `passed` (a host file), if given; then a plain mode, which
/// must still work. Reports each as `call=RESULT`.
fn set_id(dir: &str, passed: Option<libc::c_int>) {
    let path = |name: &str| cstr(&format!("{dir}/{name}"));
    let created = |fd: i64| {
        if fd >= 0 {
            // SAFETY: our descriptor.
            unsafe { libc::close(fd as libc::c_int) };
        }
        result(fd)
    };
    let flags = libc::O_CREAT | libc::O_WRONLY;
    // SAFETY (each block): live C strings, integer modes and flags, our own descriptors.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        let r = libc::syscall(libc::SYS_open, path("open").as_ptr(), flags, 0o4755);
        say(format!("open={}", created(r)));
        let r = libc::syscall(libc::SYS_creat, path("creat").as_ptr(), 0o4755);
        say(format!("creat={}", created(r)));
        let r = libc::syscall(
            libc::SYS_mknod,
            path("mknod").as_ptr(),
            libc::S_IFREG | 0o4755,
            0,
        );
        say(format!("mknod={}", result(r)));
    }
    // SAFETY: as above.
    unsafe {
        let at = libc::AT_FDCWD;
        let r = libc::openat(at, path("openat").as_ptr(), flags, 0o2755);
        say(format!("openat={}", created(r.into())));
        // Bits above the mode's 16, which the kernel ignores, do not hide the set-id ones.
        let wide: u64 = 0xffff_0000_0000_0000 | 0o4755;
        let r = libc::syscall(libc::SYS_openat, at, path("wide").as_ptr(), flags, wide);
        say(format!("openat-wide={}", created(r)));
        let dir_c = cstr(dir);
        let r = libc::openat(at, dir_c.as_ptr(), libc::O_TMPFILE | libc::O_WRONLY, 0o4755);
        say(format!("o_tmpfile={}", created(r.into())));
        let r = libc::mknodat(at, path("mknodat").as_ptr(), libc::S_IFREG | 0o4755, 0);
        say(format!("mknodat={}", result(r.into())));
        let how = [0u64; 3];
        let r = libc::syscall(
            libc::SYS_openat2,
            at,
            path("openat2").as_ptr(),
            how.as_ptr(),
            24,
        );
        say(format!("openat2={}", created(r)));
        // A file made with a plain mode, then each call that changes a mode.
        let plain = path("plain");
        let fd = libc::openat(at, plain.as_ptr(), flags, 0o755);
        say(format!("plain={}", result(fd.into())));
        let r = libc::chmod(plain.as_ptr(), 0o4755);
        say(format!("chmod={}", result(r.into())));
        let r = libc::fchmod(fd, 0o2755);
        say(format!("fchmod={}", result(r.into())));
        let r = libc::syscall(libc::SYS_fchmodat, at, plain.as_ptr(), 0o6755);
        say(format!("fchmodat={}", result(r)));
        const SYS_FCHMODAT2: libc::c_long = 452;
        let r = libc::syscall(SYS_FCHMODAT2, at, plain.as_ptr(), 0o4755, 0);
        say(format!("fchmodat2={}", result(r)));
        if let Some(passed) = passed {
            let r = libc::fchmod(passed, 0o4755);
            say(format!("fchmod-passed={}", result(r.into())));
        }
        let r = libc::fchmod(fd, 0o700);
        say(format!("chmod-plain={}", result(r.into())));
    }
}

/// How many seccomp filters the process is under (`Seccomp_filters` of `/proc/self/status`),
/// and whether a set-id mode is refused.
fn filters() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let n = status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp_filters:"))
        .map_or("unknown", str::trim);
    say(format!("filters={n}"));
    // Whether set-id modes are refused (the set-id guard, alone or within the policy's
    // program): on a file of the sandbox's own, which nothing else refuses them on.
    // SAFETY: a live C string; fchmod on the descriptor just made, closed after.
    let refused = unsafe {
        let fd = libc::memfd_create(c"set-id-probe".as_ptr(), 0);
        if fd < 0 {
            format!("memfd {}", errno_name(errno()))
        } else {
            let r = result(libc::fchmod(fd, 0o4755).into());
            libc::close(fd);
            r
        }
    };
    say(format!("set-id-mode={refused}"));
    // Whether signal-driven I/O is refused (the terminal guard): on a pipe of the sandbox's
    // own, where the kernel itself lets it be set.
    let mut ends = [0; 2];
    // SAFETY: pipe writes two descriptors into the live array; fcntl with integer arguments
    // on the read end just made; both closed after.
    let refused = unsafe {
        if libc::pipe(ends.as_mut_ptr()) < 0 {
            format!("pipe {}", errno_name(errno()))
        } else {
            let r = result(libc::fcntl(ends[0], libc::F_SETFL, libc::O_ASYNC).into());
            libc::close(ends[0]);
            libc::close(ends[1]);
            r
        }
    };
    say(format!("o-async={refused}"));
}

/// Whether descriptor `fd` is a terminal (or a pseudo-terminal's master).
fn is_terminal(fd: libc::c_int) -> bool {
    // SAFETY: isatty reads the attributes of any descriptor number into its own buffer.
    unsafe { libc::isatty(fd) == 1 }
}

/// Looks for a terminal everywhere a sandbox could find one without being given it: every
/// descriptor it holds, the paths where terminals live, and the descriptors of every process
/// it sees (`/proc/*/fd`). `terminals=` how many it opened or holds, then one `found=` line
/// each.
fn find_terminal() {
    let mut found = Vec::new();
    for fd in 0..4096 {
        if is_terminal(fd) {
            found.push(format!("descriptor {fd}"));
        }
    }
    let mut paths: Vec<String> = [
        "/dev/tty",
        "/dev/console",
        "/dev/ptmx",
        "/dev/pts/ptmx",
        "/dev/ttyS0",
        "/dev/tty0",
        "/dev/tty1",
        "/dev/stdin",
        "/dev/stdout",
        "/dev/stderr",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    paths.extend((0..16).map(|n| format!("/dev/pts/{n}")));
    for dir in ["/proc", "/dev/pts"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if dir == "/proc" {
                let fds = path.join("fd");
                let Ok(fds) = std::fs::read_dir(&fds) else {
                    continue;
                };
                paths.extend(fds.flatten().map(|f| f.path().display().to_string()));
            } else {
                paths.push(path.display().to_string());
            }
        }
    }
    for path in paths {
        let c = cstr(&path);
        // SAFETY: a live C string; the descriptor is closed right after.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            continue;
        }
        if is_terminal(fd) {
            found.push(path);
        }
        // SAFETY: the descriptor just opened.
        unsafe { libc::close(fd) };
    }
    say(format!("terminals={}", found.len()));
    for f in found {
        say(format!("found={f}"));
    }
}

fn proc_sys() {
    for path in [
        "/proc/sys/kernel/hostname",
        "/proc/sys/kernel/domainname",
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/vm/drop_caches",
        "/proc/sysrq-trigger",
    ] {
        let r = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(b"pwned\n"));
        say(format!(
            "{path}={}",
            match r {
                Ok(()) => "OK".to_string(),
                Err(e) => errno_name(e.raw_os_error().unwrap_or(0)),
            }
        ));
    }
    let name = b"pwned";
    // SAFETY: a live buffer of the given length.
    let r = unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
    say(format!("sethostname={}", result(r.into())));
    say(format!(
        "hostname={}",
        try_read("/proc/sys/kernel/hostname")
    ));
}

// ---------------------------------------------------------------------------------------------
// Processes and signals

fn pids(host_pid: Option<&str>) {
    let mut in_proc: Vec<u32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    in_proc.sort_unstable();
    say(format!(
        "proc_pids={}",
        in_proc
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    ));
    let mut signalable = Vec::new();
    for pid in 1..=32768 {
        // SAFETY: signal 0 only checks existence and permission.
        let r = unsafe { libc::kill(pid, 0) };
        if r == 0 || errno() != libc::ESRCH {
            signalable.push(pid.to_string());
        }
    }
    say(format!("kill0_pids={}", signalable.join(",")));
    say(format!("self={}", std::process::id()));
    // SAFETY: no arguments.
    say(format!("ppid={}", unsafe { libc::getppid() }));
    let cmdline = std::fs::read("/proc/1/cmdline").unwrap_or_default();
    say(format!(
        "pid1_cmdline={}",
        String::from_utf8_lossy(&cmdline).replace('\0', " ").trim()
    ));
    if let Some(h) = host_pid {
        say(format!(
            "host_pid_dir={}",
            try_read(&format!("/proc/{h}/status"))
        ));
    }
}

fn kill_all(host_pid: &str) {
    // SAFETY: no arguments.
    say(format!("ppid={}", unsafe { libc::getppid() }));
    let host: i32 = host_pid.parse().expect("pid");
    // SAFETY: signals by number.
    let r = unsafe { libc::kill(host, libc::SIGKILL) };
    say(format!("kill_host_pid={}", result(r.into())));
    // SAFETY: as above: every process this one may signal, except itself.
    let r = unsafe { libc::kill(-1, libc::SIGKILL) };
    say(format!("kill_minus_one={}", result(r.into())));
    // SAFETY: as above.
    let r = unsafe { libc::kill(1, libc::SIGKILL) };
    say(format!("kill_init={}", result(r.into())));
    // SAFETY: as above.
    let r = unsafe { libc::kill(0, libc::SIGKILL) };
    // Unreachable when the process group includes us (it does): SIGKILL to ourselves.
    say(format!("kill_group={}", result(r.into())));
}

/// Sends init every signal a process may catch, then checks init is still there: a handler
/// init inherited from the host would run in it (and could end the sandbox, or worse).
fn signal_init() {
    let mut refused = Vec::new();
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: a signal by number to pid 1.
        if unsafe { libc::kill(1, sig) } != 0 {
            refused.push(sig.to_string());
        }
    }
    say(format!("refused={}", refused.join(",")));
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: no arguments.
    say(format!("ppid={}", unsafe { libc::getppid() }));
    say("alive=yes");
}

fn ptrace_parent() {
    // SAFETY: no arguments.
    let ppid = unsafe { libc::getppid() };
    say(format!("ppid={ppid}"));
    for target in [ppid, 1] {
        // SAFETY: integer arguments.
        let r = unsafe {
            libc::ptrace(
                libc::PTRACE_ATTACH,
                target,
                std::ptr::null_mut::<libc::c_void>(),
                std::ptr::null_mut::<libc::c_void>(),
            )
        };
        say(format!("attach {target}={}", result(r)));
        // SAFETY: as above.
        let r = unsafe {
            libc::ptrace(
                libc::PTRACE_SEIZE,
                target,
                std::ptr::null_mut::<libc::c_void>(),
                std::ptr::null_mut::<libc::c_void>(),
            )
        };
        say(format!("seize {target}={}", result(r)));
    }
    say(format!("read_init_mem={}", try_read("/proc/1/mem")));
    say(format!("init_environ={}", try_read("/proc/1/environ")));
}

fn ids() {
    // SAFETY: no arguments.
    let (uid, euid, gid, egid) = unsafe {
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        )
    };
    say(format!("uid={uid}"));
    say(format!("euid={euid}"));
    say(format!("gid={gid}"));
    say(format!("egid={egid}"));
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for l in status.lines() {
        if l.starts_with("NoNewPrivs") || l.starts_with("Cap") || l.starts_with("Seccomp:") {
            say(l.replace(":\t", "=").replace(": ", "="));
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for l in mounts.lines() {
        say(format!("mountinfo {l}"));
    }
}

/// Every capability set and the securebits, then each way back to a capability: raise an
/// ambient one, unlock the securebits, put capabilities back with capset.
fn caps() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for l in status.lines().filter(|l| l.starts_with("Cap")) {
        say(l.replace(":\t", "="));
    }
    // SAFETY: prctl with integer arguments.
    let bits = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) };
    say(format!("securebits={bits:#x}"));
    // SAFETY: prctl with integer arguments.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE,
            13, // CAP_NET_RAW
            0,
            0,
        )
    };
    say(format!("ambient_raise={}", result(r.into())));
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_SET_SECUREBITS, 0, 0, 0, 0) };
    say(format!("unlock_securebits={}", result(r.into())));
    // The version-3 header (version, pid 0 for this process), then effective, permitted and
    // inheritable for capabilities 0-31 and 32-63, every bit set.
    let header: [u32; 2] = [0x2008_0522, 0];
    let data = [u32::MAX; 6];
    // SAFETY: capset reads one header and two data structs of three u32 each (version 3).
    let r = unsafe { libc::syscall(libc::SYS_capset, header.as_ptr(), data.as_ptr()) };
    say(format!("capset_all={}", result(r)));
}

fn daemon() {
    // The classic double fork: the grandchild is in its own session, orphaned to init.
    // SAFETY: fork in a single-threaded program.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: no arguments.
        unsafe { libc::setsid() };
        // SAFETY: as above.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // Ignore everything ignorable, then wait forever.
            // SAFETY: ignoring signals.
            unsafe {
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                libc::signal(libc::SIGTERM, libc::SIG_IGN);
            }
            say(format!("daemon={}", std::process::id()));
            std::thread::sleep(std::time::Duration::from_secs(1000));
            // SAFETY: leaves the process.
            unsafe { libc::_exit(0) };
        }
        // SAFETY: leaves the intermediate child.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    // Give the grandchild time to announce itself.
    std::thread::sleep(std::time::Duration::from_millis(200));
    say("parent=exiting");
}

/// Appends one byte to `f` (opened append-only).
fn append_byte(f: &std::fs::File) {
    let _ = (&*f).write_all(b".");
}

/// Closes descriptors 0 to 2, as a daemon does.
///
/// # Safety
/// Nothing in the process may use those descriptors afterwards.
unsafe fn close_stdio() {
    for fd in 0..3 {
        // SAFETY: the caller gives these descriptors up.
        unsafe { libc::close(fd) };
    }
}

/// Forks a child with its standard streams closed (so no pipe of the host's waits for it) that
/// runs `behind` on the file `path` (opened append-only) and never returns; the program says
/// `<name>=running` and returns once the file holds a byte (`<name>=not-running` if it holds
/// none after 5 s). Nothing may be written to it after the run has returned to the host.
fn leave_behind(path: &str, name: &str, behind: fn(&std::fs::File) -> !) {
    let f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("open the witness");
    // SAFETY: fork in a single-threaded program.
    if unsafe { libc::fork() } == 0 {
        // SAFETY: the child uses no standard stream.
        unsafe { close_stdio() };
        behind(&f);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
        if std::time::Instant::now() > deadline {
            say(format!("{name}=not-running"));
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    say(format!("{name}=running"));
}

/// Leaves a writer behind: a process in a session of its own, ignoring what can be ignored,
/// that appends to `path` every millisecond forever.
fn left_writer(path: &str) {
    leave_behind(path, "writer", |f| {
        // SAFETY: no arguments; ignoring signals.
        unsafe {
            libc::setsid();
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
        }
        loop {
            append_byte(f);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
}

/// Leaves a writer behind that traces the program (`PTRACE_SEIZE`) and never waits for it: the
/// program's exit status goes to its tracer first, which holds it from the sandbox's init.
fn tracer_writer(path: &str) {
    // SAFETY: prctl with integer arguments: any process may trace this one (under Yama).
    unsafe { libc::prctl(libc::PR_SET_PTRACER, libc::PR_SET_PTRACER_ANY, 0, 0, 0) };
    leave_behind(path, "tracer", |f| {
        // SAFETY: integer arguments; the parent is the program, which waits for this write.
        let seized = unsafe {
            libc::ptrace(
                libc::PTRACE_SEIZE,
                libc::getppid(),
                std::ptr::null_mut::<libc::c_void>(),
                std::ptr::null_mut::<libc::c_void>(),
            )
        };
        if seized != 0 {
            // SAFETY: ends this child without writing: the program says "not-running".
            unsafe { libc::_exit(1) };
        }
        loop {
            append_byte(f);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
}

/// Leaves a walker behind: a line of processes that each append to `path`, fork, and exit, so
/// that no one process lives long enough to be found and killed by its pid.
fn walker(path: &str) {
    leave_behind(path, "walker", |f| loop {
        append_byte(f);
        // SAFETY: fork in a single-threaded program; the parent leaves at once.
        match unsafe { libc::fork() } {
            0 => continue,
            // SAFETY: leaves this step of the walk.
            p if p > 0 => unsafe { libc::_exit(0) },
            _ => std::thread::sleep(std::time::Duration::from_millis(1)),
        }
    });
}

/// Leaves a writer behind in namespaces of its own: a new user and pid namespace, whose pid 1
/// ignores every signal it has no handler for and whose pid 2 appends to `path` every
/// millisecond forever. Writes nothing if the namespaces cannot be made.
fn nested_writer(path: &str) {
    leave_behind(path, "nested", |f| {
        // SAFETY: unshare with integer flags; the next fork is the new pid namespace's pid 1.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWPID) } != 0 {
            // SAFETY: leaves the process.
            unsafe { libc::_exit(1) };
        }
        // SAFETY: fork in a single-threaded program.
        if unsafe { libc::fork() } == 0 {
            // Pid 1 of the nested namespace forks the writer and reaps.
            // SAFETY: fork in a single-threaded program.
            if unsafe { libc::fork() } == 0 {
                loop {
                    append_byte(f);
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
            loop {
                // SAFETY: wait with a null status.
                unsafe { libc::wait(std::ptr::null_mut()) };
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    });
}

fn forkbomb() {
    let me = std::process::id();
    let mut made = 0u32;
    let mut first_error = 0;
    for _ in 0..100_000 {
        // SAFETY: fork; children only fork, sleep and exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // Every child keeps forking too, forever.
            loop {
                // SAFETY: as above.
                unsafe {
                    libc::fork();
                    libc::usleep(10_000);
                }
            }
        }
        if pid < 0 {
            first_error = errno();
            break;
        }
        made += 1;
    }
    if std::process::id() == me {
        say(format!("forked={made}"));
        say(format!("error={}", errno_name(first_error)));
    }
}

/// Queues as much as the kernel takes on `connections` TCP connections over the sandbox's own
/// loopback (each written to, never read, until a write would block): socket buffers, which a
/// memory limit must count. Reports `queued_mb`.
fn tcp_flood(connections: usize) {
    use std::io::Write as _;
    let Ok(listener) = std::net::TcpListener::bind("127.0.0.1:0") else {
        say("listen=failed");
        return;
    };
    let Ok(at) = listener.local_addr() else {
        return;
    };
    let chunk = vec![b'x'; 1 << 20];
    let mut queued = 0usize;
    let mut held = Vec::new();
    for _ in 0..connections {
        let Ok(sender) = std::net::TcpStream::connect(at) else {
            break;
        };
        let Ok((receiver, _)) = listener.accept() else {
            break;
        };
        if sender.set_nonblocking(true).is_err() {
            break;
        }
        let mut sender = sender;
        while let Ok(n) = sender.write(&chunk) {
            queued += n;
        }
        held.push((sender, receiver));
    }
    say(format!("connections={}", held.len()));
    say(format!("queued_mb={}", queued >> 20));
}

fn membomb() {
    const CHUNK: usize = 16 << 20;
    let mut total = 0usize;
    loop {
        // SAFETY: anonymous private mapping; touched below, never freed (on purpose).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                CHUNK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            say(format!("mmap={}", errno_name(errno())));
            say(format!("mapped_mb={}", total >> 20));
            return;
        }
        // SAFETY: the mapping is CHUNK bytes long and writable.
        unsafe { std::ptr::write_bytes(p.cast::<u8>(), 0xa5, CHUNK) };
        total += CHUNK;
        if total >= 64 << 30 {
            say("mapped_mb=65536 (no limit)");
            return;
        }
    }
}

fn spin() {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

fn fsize(path: &str) {
    let mut f = match std::fs::File::create(path) {
        Ok(f) => f,
        Err(e) => {
            say(format!(
                "create={}",
                errno_name(e.raw_os_error().unwrap_or(0))
            ));
            return;
        }
    };
    let block = vec![0x5au8; 64 << 10];
    let mut written = 0u64;
    loop {
        match f.write(&block) {
            Ok(n) => written += n as u64,
            Err(e) => {
                say(format!(
                    "write={}",
                    errno_name(e.raw_os_error().unwrap_or(0))
                ));
                say(format!("written={written}"));
                return;
            }
        }
        if written > 1 << 30 {
            say(format!("written={written} (no limit)"));
            return;
        }
    }
}

fn fd_exhaustion() {
    let mut n = 0;
    loop {
        // SAFETY: live C string; descriptors are leaked on purpose.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        if fd < 0 {
            say(format!("open={}", errno_name(errno())));
            say(format!("opened={n}"));
            return;
        }
        n += 1;
        if n > 1_000_000 {
            say("opened=1000000 (no limit)");
            return;
        }
    }
}

fn fill(path: &str) {
    fsize(path);
}

/// Creates empty files in directory `dir` until that fails (at most 100,000): `files=` how
/// many, `create=` the error that stopped it.
fn inodes(dir: &str) {
    let mut made = 0u32;
    let mut stop = "none".to_string();
    while made < 100_000 {
        match std::fs::File::create(format!("{dir}/{made}")) {
            Ok(_) => made += 1,
            Err(e) => {
                stop = e.raw_os_error().map_or_else(|| e.to_string(), errno_name);
                break;
            }
        }
    }
    say(format!("files={made}"));
    say(format!("create={stop}"));
}

// ---------------------------------------------------------------------------------------------
// Network

fn connect_tcp(port: u16) {
    use std::net::{SocketAddr, TcpStream};
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let r = TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2));
    say(format!(
        "connect={}",
        match r {
            Ok(_) => "OK".to_string(),
            Err(e) => e
                .raw_os_error()
                .map(errno_name)
                .unwrap_or_else(|| format!("{:?}", e.kind())),
        }
    ));
}

fn connect_abstract(name: &str) {
    // SAFETY: integer arguments.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        say(format!("socket={}", errno_name(errno())));
        return;
    }
    // SAFETY: sockaddr_un is plain old data.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = name.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        addr.sun_path[i + 1] = *b as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + 1 + bytes.len();
    // SAFETY: addr is live for len bytes.
    let r = unsafe {
        libc::connect(
            fd,
            (&addr as *const libc::sockaddr_un).cast(),
            len as libc::socklen_t,
        )
    };
    say(format!("connect={}", result(r.into())));
}

/// Tries to make a Unix socket's file in each directory: by `bind` (what a listener that could
/// hand descriptors to another sandbox needs) and by `mknod`.
fn socket_files(dirs: &[&str]) {
    for dir in dirs {
        let bound = std::os::unix::net::UnixListener::bind(format!("{dir}/listener"));
        let bound = bound.map_or_else(
            |e| errno_name(e.raw_os_error().unwrap_or(0)),
            |_| "OK".into(),
        );
        say(format!("bind {dir}={bound}"));
        let node = cstr(&format!("{dir}/node"));
        // SAFETY: a live C string; a socket node takes no device number.
        let r = unsafe { libc::mknod(node.as_ptr(), libc::S_IFSOCK | 0o600, 0) };
        say(format!("mknod {dir}={}", result(r.into())));
    }
}

/// Listens on the abstract socket `name` and on a TCP port of 127.0.0.1, checks that both
/// take a connection from inside, says `listening port=N`, then reports every connection from
/// elsewhere until killed.
fn listen(name: &str) {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name");
    let unix = UnixListener::bind_addr(&addr).expect("bind the abstract socket");
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = tcp.local_addr().expect("local address").port();
    let own_unix = UnixStream::connect_addr(&addr).map(|_| unix.accept());
    let own_tcp = std::net::TcpStream::connect(("127.0.0.1", port)).map(|_| tcp.accept());
    assert!(
        matches!(own_unix, Ok(Ok(_))) && matches!(own_tcp, Ok(Ok(_))),
        "the listener cannot reach itself: {own_unix:?} {own_tcp:?}"
    );
    unix.set_nonblocking(true).expect("non-blocking");
    tcp.set_nonblocking(true).expect("non-blocking");
    say(format!("listening port={port}"));
    loop {
        if unix.accept().is_ok() {
            say("accepted=abstract");
        }
        if tcp.accept().is_ok() {
            say("accepted=tcp");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn netdev() {
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
    let names: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    say(format!("interfaces={}", names.join(",")));
}

// ---------------------------------------------------------------------------------------------
// Leaks

fn fd_list() {
    // Read the directory with a descriptor we know, so it can be left out.
    let dir = std::fs::File::open("/proc/self/fd").expect("open /proc/self/fd");
    use std::os::fd::AsRawFd;
    let own = dir.as_raw_fd();
    let mut fds: Vec<(i32, String)> = std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .filter(|fd| *fd != own)
        .map(|fd: i32| {
            let target = std::fs::read_link(format!("/proc/self/fd/{fd}"))
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            (fd, target)
        })
        .collect();
    fds.sort();
    // read_dir's own descriptor is gone by now; one of the listed may be it, so re-check.
    fds.retain(|(fd, _)| {
        // SAFETY: F_GETFD only queries.
        unsafe { libc::fcntl(*fd, libc::F_GETFD) >= 0 }
    });
    for (fd, target) in &fds {
        say(format!("fd {fd}={target}"));
    }
    drop(dir);
}

fn env() {
    for (k, v) in std::env::vars_os() {
        say(format!(
            "env {}={}",
            k.to_string_lossy(),
            v.to_string_lossy()
        ));
    }
    say("env_end=1");
}

fn tiocsti() {
    let c = b'x';
    // A terminal that leads no session can be made the controlling terminal of a session
    // leader; TIOCSTI would then work on it (with `dev.tty.legacy_tiocsti` on).
    // SAFETY: ioctl with an integer argument.
    let r = unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    say(format!("stdin_tiocsctty={}", result(r.into())));
    // SAFETY: raw ioctl on stdin with a live pointer.
    let r = unsafe { libc::ioctl(0, libc::TIOCSTI, &c as *const u8) };
    say(format!("stdin_tiocsti={}", result(r.into())));
    // SAFETY: as above; TIOCLINUX reads its subcode through the pointer.
    let r = unsafe { libc::ioctl(0, libc::TIOCLINUX, &c as *const u8) };
    say(format!("stdin_tioclinux={}", result(r.into())));
    // SAFETY: no arguments.
    say(format!(
        "sid_is_self={}",
        unsafe { libc::getsid(0) } == unsafe { libc::getpid() }
    ));
    // SAFETY: no arguments.
    say(format!(
        "pgid_is_self={}",
        unsafe { libc::getpgrp() } == unsafe { libc::getpid() }
    ));
    // SAFETY: live C string.
    let fd = unsafe { libc::open(c"/dev/tty".as_ptr(), libc::O_RDWR) };
    say(format!("open_dev_tty={}", result(fd.into())));
    // A terminal the sandbox made itself is still not its controlling terminal.
    // SAFETY: live C string.
    let master = unsafe { libc::open(c"/dev/ptmx".as_ptr(), libc::O_RDWR | libc::O_NOCTTY) };
    say(format!("open_ptmx={}", result(master.into())));
}

/// What a child of the program can do that the program cannot: lead a session of its own
/// (the program leads its process group, so `setsid` fails there), take standard input's
/// terminal as its controlling terminal if no session has it, and type into it with
/// `TIOCSTI`. `child_setsid=`, `child_tiocsctty=` and `child_tiocsti=` say what each answered.
fn tiocsti_child() {
    // SAFETY: fork in a single-threaded program; the child makes only raw calls, then _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let c = b'x';
        let answer = |r: libc::c_int| if r < 0 { errno() } else { 0 };
        // SAFETY: no arguments.
        let setsid = answer(unsafe { libc::setsid() });
        // SAFETY: ioctl with an integer argument.
        let tiocsctty = answer(unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) });
        // SAFETY: raw ioctl on stdin with a live pointer.
        let tiocsti = answer(unsafe { libc::ioctl(0, libc::TIOCSTI, &c as *const u8) });
        say(format!(
            "child_setsid={}\nchild_tiocsctty={}\nchild_tiocsti={}",
            errno_name(setsid),
            errno_name(tiocsctty),
            errno_name(tiocsti)
        ));
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child with a live int.
    unsafe { libc::waitpid(pid, &mut status, 0) };
}

/// Requests on standard input's terminal that reach past the sandbox where they run: a new
/// window size (which signals the terminal's foreground group), exclusive mode, output
/// restarted (`TCOON`, harmless, as `TCOOFF` would suspend it), the terminal's own line
/// discipline set again, and signal-driven I/O turned on (which makes the terminal's foreground
/// group the file's owner), by `ioctl(FIOASYNC)` and then, turned off again, by
/// `fcntl(F_SETFL, ... | O_ASYNC)`, where it stays on; then its open file made non-blocking
/// and locked (`flock`). `winsz=`, `excl=`, `xonc=`, `setd=`, `fioasync=`, `setfl_async=`,
/// `nonblock=` and `flock=` say what each answered, `async_after_fioasync=` and
/// `async_at_end=` whether the file then had `O_ASYNC`.
fn terminal_reach() {
    let size = libc::winsize {
        ws_row: 33,
        ws_col: 77,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize through the live pointer.
    let r = unsafe { libc::ioctl(0, libc::TIOCSWINSZ, &size) };
    say(format!("winsz={}", result(r.into())));
    // SAFETY: TIOCEXCL takes no argument.
    let r = unsafe { libc::ioctl(0, libc::TIOCEXCL) };
    say(format!("excl={}", result(r.into())));
    // SAFETY: TCXONC takes an integer argument.
    let r = unsafe { libc::ioctl(0, libc::TCXONC, libc::TCOON) };
    say(format!("xonc={}", result(r.into())));
    let n_tty: libc::c_int = 0;
    // SAFETY: TIOCSETD reads one int through the live pointer.
    let r = unsafe { libc::ioctl(0, libc::TIOCSETD, &n_tty) };
    say(format!("setd={}", result(r.into())));
    // SAFETY: F_GETFL takes no argument.
    let has_async = || unsafe { libc::fcntl(0, libc::F_GETFL) } & libc::O_ASYNC != 0;
    let (on, off): (libc::c_int, libc::c_int) = (1, 0);
    // SAFETY: FIOASYNC reads one int through the live pointer.
    let r = unsafe { libc::ioctl(0, libc::FIOASYNC, &on) };
    say(format!("fioasync={}", result(r.into())));
    say(format!("async_after_fioasync={}", has_async()));
    // SAFETY: as above.
    unsafe { libc::ioctl(0, libc::FIOASYNC, &off) };
    // SAFETY: F_GETFL takes no argument; F_SETFL an integer.
    let r = unsafe {
        libc::fcntl(
            0,
            libc::F_SETFL,
            libc::fcntl(0, libc::F_GETFL) | libc::O_ASYNC,
        )
    };
    say(format!("setfl_async={}", result(r.into())));
    say(format!("async_at_end={}", has_async()));
    // SAFETY: F_GETFL takes no argument; F_SETFL an integer.
    let r = unsafe {
        libc::fcntl(
            0,
            libc::F_SETFL,
            libc::fcntl(0, libc::F_GETFL) | libc::O_NONBLOCK,
        )
    };
    say(format!("nonblock={}", result(r.into())));
    // SAFETY: flock with integer arguments.
    let r = unsafe { libc::flock(0, libc::LOCK_EX) };
    say(format!("flock={}", result(r.into())));
}

/// Asks for a key no keyring holds, with callout data: the kernel would run the host's
/// `/sbin/request-key` as root to make it. `request_key=` what the call answered.
fn request_key() {
    const KEY_SPEC_SESSION_KEYRING: i64 = -3;
    let (kind, desc, callout) = (cstr("user"), cstr("sandbox-probe"), cstr("callout"));
    // SAFETY: request_key with live strings.
    let r = unsafe {
        libc::syscall(
            libc::SYS_request_key,
            kind.as_ptr(),
            desc.as_ptr(),
            callout.as_ptr(),
            KEY_SPEC_SESSION_KEYRING,
        )
    };
    say(format!("request_key={}", result(r)));
}

/// Opens a virtio socket, which no network namespace covers: `vsock_socket=` what `socket`
/// answered.
fn vsock() {
    // SAFETY: integer arguments.
    let fd = unsafe { libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM, 0) };
    say(format!("vsock_socket={}", result(fd.into())));
}

/// Reaches for the host's session keyring `ring` and the key `key` (description `name`) linked
/// in it, as a program that possesses them would: its own session keyring's id, the key's
/// payload, a search of its session keyring for the key, and a key added to the host's keyring.
fn keyring(ring: &str, key: &str, name: &str) {
    const KEY_SPEC_SESSION_KEYRING: i64 = -3;
    const KEYCTL_GET_KEYRING_ID: i64 = 0;
    const KEYCTL_READ: i64 = 11;
    const KEYCTL_SEARCH: i64 = 10;
    let ring: i64 = ring.parse().expect("keyring id");
    let key: i64 = key.parse().expect("key serial");
    let keyctl = |op: i64, a: i64, b: i64, c: i64, d: i64| {
        // SAFETY: keyctl with the arguments each operation takes; pointers are live.
        unsafe { libc::syscall(libc::SYS_keyctl, op, a, b, c, d) }
    };
    let own = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0);
    say(format!(
        "session_keyring={}",
        if own < 0 {
            result(own)
        } else {
            own.to_string()
        }
    ));
    let mut buf = [0u8; 256];
    let (user, desc) = (cstr("user"), cstr(name));
    let (buf_at, buf_len) = (buf.as_mut_ptr() as i64, buf.len() as i64);
    let (user_at, desc_at) = (user.as_ptr() as i64, desc.as_ptr() as i64);
    let probes = [
        ("read_host_key", [KEYCTL_READ, key, buf_at, buf_len]),
        (
            "search_host_key",
            [KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, user_at, desc_at],
        ),
    ];
    for (probe, [op, a, b, c]) in probes {
        say(format!("{probe}={}", result(keyctl(op, a, b, c, 0))));
    }
    let planted = cstr("planted-by-the-sandbox");
    // SAFETY: add_key with live strings and payload.
    let r = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            user.as_ptr(),
            planted.as_ptr(),
            b"x".as_ptr(),
            1usize,
            ring,
        )
    };
    say(format!("add_to_host_keyring={}", result(r)));
}

// ---------------------------------------------------------------------------------------------
// Host side: a hostile comms peer on descriptor 1023.

fn comms(kind: &str) {
    const FD: i32 = 1023;
    let send = |bytes: &[u8]| {
        // SAFETY: a live buffer.
        let r = unsafe { libc::write(FD, bytes.as_ptr().cast(), bytes.len()) };
        say(format!("sent={}", result(r as i64)));
    };
    let header = |tag: u32, len: u32| {
        let mut h = tag.to_le_bytes().to_vec();
        h.extend_from_slice(&len.to_le_bytes());
        h
    };
    match kind {
        "garbage" => {
            let junk: Vec<u8> = (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            send(&junk);
        }
        "huge" => send(&header(1, u32::MAX)),
        "bad-tag" => send(&header(0xdead_beef, 8)),
        "partial" => {
            let mut m = header(1, 1000);
            m.extend_from_slice(&[1; 10]);
            send(&m);
            // Exit in the middle of the message.
            // SAFETY: ends the process.
            unsafe { libc::_exit(0) };
        }
        "silent" => std::thread::sleep(std::time::Duration::from_secs(30)),
        "flood" => {
            // Writes as much as the socket takes (the host never reads it all).
            let block = vec![0u8; 1 << 16];
            for _ in 0..1024 {
                // SAFETY: a live buffer.
                let r = unsafe { libc::write(FD, block.as_ptr().cast(), block.len()) };
                if r < 0 {
                    say(format!("flood_end={}", errno_name(errno())));
                    return;
                }
            }
        }
        other => say(format!("unknown comms attack {other}")),
    }
}
