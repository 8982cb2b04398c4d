//! Network namespaces made ahead for sandboxes cloned directly: each sandbox still gets a
//! namespace of its own, fresh, with `lo` up, and the spawning thread ends up where it was.
//! Its own test binary, so that nothing else takes the namespaces made ahead, and the checks can
//! stop the taking for good: one test in this process, one this binary re-runs in a user
//! namespace of its own, and one of the fork server's own, which keeps its namespaces apart.

mod common;

use sandbox_runtime::{SandboxChild, SandboxCommand, Status, Stdio};
use std::io::{BufRead, BufReader};
use std::time::Duration;

/// Names the sandbox's network namespace, says whether its owner (the user namespace
/// `NS_GET_USERNS` gives) is the sandbox's own or outside it, checks that `lo` carries a TCP
/// connection, then stays up while the test looks at the others.
const SCRIPT: &str = r#"
import fcntl, os, socket, sys, time
print(os.readlink("/proc/self/ns/net"))
fd = os.open("/proc/self/ns/net", os.O_RDONLY)
try:
    os.close(fcntl.ioctl(fd, 0xB701))
    print("owner=own")
except PermissionError:
    print("owner=outside")
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
c = socket.create_connection(s.getsockname())
a, _ = s.accept()
c.sendall(b"x")
print("lo=" + a.recv(1).decode())
sys.stdout.flush()
time.sleep(30)
"#;

/// Starts one directly cloned sandbox with a network namespace of its own; returns it and the
/// three lines it printed.
fn start() -> (SandboxChild, [String; 3]) {
    start_with(|_| {})
}

/// [`start`], with the command changed by `change` first.
fn start_with(change: impl FnOnce(&mut SandboxCommand)) -> (SandboxChild, [String; 3]) {
    let mut command = common::command("/usr/bin/python3");
    command
        .args(["-c", SCRIPT])
        .use_fork_server(false)
        .share_network(false)
        .policy(&common::permissive())
        .stdout(Stdio::Piped);
    change(&mut command);
    let mut child = command.spawn().expect("the sandbox starts");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let lines = [(); 3].map(|_| {
        let mut line = String::new();
        out.read_line(&mut line).expect("read the sandbox's output");
        line.trim().to_string()
    });
    (child, lines)
}

fn own_namespace() -> String {
    std::fs::read_link("/proc/thread-self/ns/net")
        .expect("readlink /proc/thread-self/ns/net")
        .to_string_lossy()
        .into_owned()
}

/// Whether this process may make a network namespace outside a user namespace of its own, as
/// the maker does: tried on a thread of its own, which then ends.
fn may_make_namespaces() -> bool {
    std::thread::spawn(|| {
        // SAFETY: unshare with an integer flag changes only this thread's network namespace.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        let errno = std::io::Error::last_os_error().raw_os_error();
        assert!(r == 0 || errno == Some(libc::EPERM), "unshare: {errno:?}");
        r == 0
    })
    .join()
    .expect("no panic")
}

/// What a sandbox must say of its network namespace's owner, made ahead or not.
fn owner(made_ahead: bool) -> &'static str {
    if made_ahead {
        "owner=outside"
    } else {
        "owner=own"
    }
}

/// Asserts that sandbox `i`, in namespace `ns`, is neither in the host's namespace nor in that
/// of a sandbox still `running`, and carried a connection over `lo`.
fn assert_fresh_with_lo_up(
    i: usize,
    ns: &str,
    lo: &str,
    host: &str,
    running: &[(SandboxChild, String)],
) {
    assert!(ns.starts_with("net:["), "sandbox {i}: {ns:?}");
    assert_ne!(ns, host, "sandbox {i} is in the host's network namespace");
    assert!(
        !running.iter().any(|(_, earlier)| earlier == ns),
        "sandbox {i} shares a network namespace with an earlier one: {ns}"
    );
    assert_eq!(lo, "lo=x", "sandbox {i}: no connection over lo");
}

/// The signals that process `pid`'s thread `sandbox-netns` blocks (`SigBlk` in its status),
/// checked to hold those a host handles (its handlers run on its own threads). The thread
/// stays, also once it has stopped making namespaces (unprivileged, at once).
fn assert_the_maker_blocks_signals(pid: u32) {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process's threads");
    let maker = tasks
        .flatten()
        .find(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim() == "sandbox-netns")
        })
        .unwrap_or_else(|| panic!("process {pid} has no thread sandbox-netns"));
    let status = std::fs::read_to_string(maker.path().join("status")).unwrap();
    let blocked = status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
        .unwrap();
    for signal in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGCHLD,
        libc::SIGUSR1,
        libc::SIGPIPE,
    ] {
        assert!(
            blocked & (1 << (signal - 1)) != 0,
            "process {pid}'s maker does not block signal {signal}: {blocked:#x}"
        );
    }
}

/// Time for the maker to have the next namespace ready (it takes about a millisecond).
const PAUSE: Duration = Duration::from_millis(300);

/// The three checks below, in this order: the first counts the sandboxes from this process's
/// first, and the last stops the taking for good.
#[test]
fn namespaces_made_ahead_are_fresh_have_lo_up_and_the_spawning_thread_comes_back() {
    let may = may_make_namespaces();
    assert_eq!(
        may,
        nix::unistd::geteuid().is_root(),
        "CI runs this as root in the host's user namespace and as an unprivileged user"
    );
    each_gets_a_fresh_namespace_with_lo_up_from_the_third_made_ahead(may);
    assert_the_maker_blocks_signals(std::process::id());
    a_thread_in_a_network_namespace_of_its_own_comes_back_to_it(may);
    a_thread_that_may_not_enter_one_gets_its_sandbox_from_the_clone();
}

fn each_gets_a_fresh_namespace_with_lo_up_from_the_third_made_ahead(may: bool) {
    let host = own_namespace();
    let mut running = Vec::new();
    for i in 0..5 {
        let (child, [ns, owned, lo]) = start();
        assert_fresh_with_lo_up(i, &ns, &lo, &host, &running);
        // The first two are made by their clone, owned by the sandbox's own user namespace.
        // From the third on, each was made ahead by the host (the maker starts at the second),
        // owned by the host's, where the host may make one. Unprivileged, it may not outside a
        // user namespace of its own: every sandbox's comes from its clone.
        assert_eq!(owned, owner(may && i >= 2), "sandbox {i}");
        assert_eq!(own_namespace(), host, "the spawning thread came back");
        running.push((child, ns));
        std::thread::sleep(PAUSE);
    }
    for (mut child, _) in running {
        child.kill().expect("kill");
        assert_eq!(child.wait().status, Status::Killed);
    }
}

fn a_thread_in_a_network_namespace_of_its_own_comes_back_to_it(may: bool) {
    std::thread::spawn(move || {
        // SAFETY: unshare with an integer flag changes only this thread's network namespace.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(r == 0, may, "unshare: {}", std::io::Error::last_os_error());
        let own = own_namespace();
        for i in 0..4 {
            let (mut child, [ns, owned, lo]) = start();
            assert_ne!(ns, own, "sandbox {i} is in the spawning thread's namespace");
            assert_eq!(owned, owner(may), "sandbox {i}");
            assert_eq!(lo, "lo=x");
            assert_eq!(own_namespace(), own, "after sandbox {i}");
            child.kill().expect("kill");
            assert_eq!(child.wait().status, Status::Killed);
            std::thread::sleep(PAUSE);
        }
    })
    .join()
    .expect("no panic");
}

/// A filter on one thread that answers `setns` with EPERM: a host whose own filter refuses it.
fn refuse_setns_on_this_thread() {
    const ARCH: u32 = if cfg!(target_arch = "x86_64") {
        0xC000_003E
    } else {
        0xC000_00B7
    };
    let program = [
        libc::sock_filter {
            code: 0x20,
            jt: 0,
            jf: 0,
            k: 4,
        }, // ld arch
        libc::sock_filter {
            code: 0x15,
            jt: 1,
            jf: 0,
            k: ARCH,
        }, // jeq native
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_KILL_PROCESS,
        },
        libc::sock_filter {
            code: 0x20,
            jt: 0,
            jf: 0,
            k: 0,
        }, // ld nr
        libc::sock_filter {
            code: 0x15,
            jt: 0,
            jf: 1,
            k: libc::SYS_setns as u32,
        },
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        },
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: prctl with integer arguments, then seccomp reading a live program; both change
    // only this thread.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        let r = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        );
        assert_eq!(r, 0, "seccomp: {}", std::io::Error::last_os_error());
    }
}

fn a_thread_that_may_not_enter_one_gets_its_sandbox_from_the_clone() {
    std::thread::spawn(|| {
        refuse_setns_on_this_thread();
        for i in 0..3 {
            let (mut child, [_, owned, lo]) = start();
            assert_eq!(owned, owner(false), "sandbox {i} from the refusing thread");
            assert_eq!(lo, "lo=x");
            child.kill().expect("kill");
            assert_eq!(child.wait().status, Status::Killed);
            std::thread::sleep(PAUSE);
        }
    })
    .join()
    .expect("no panic");
    // Taking stopped for the whole process.
    let (mut child, [_, owned, _]) = start();
    assert_eq!(owned, owner(false), "after a refusal, from another thread");
    child.kill().expect("kill");
    assert_eq!(child.wait().status, Status::Killed);
}

/// A host that is root in a user namespace of its own, with a thread in a network namespace
/// that namespace does not own (here the one it started in), may make namespaces ahead and
/// enter them, but that thread could not come back from one: it must never enter one (the
/// process would abort), get its sandbox from the clone, and stop the taking for good.
#[test]
fn a_thread_that_could_not_come_back_from_a_namespace_made_ahead_never_enters_one() {
    if common::user_namespace_of_this_rerun().is_none() {
        // One whose sandboxes can start: root maps them to 65534 in it, anyone else to the
        // caller's own ids.
        let namespace = if nix::unistd::geteuid().is_root() {
            common::UserNamespace::HostIdsFrom100000
        } else {
            common::UserNamespace::CallersIdsOnly
        };
        return common::rerun_in_a_user_namespace(
            "a_thread_that_could_not_come_back_from_a_namespace_made_ahead_never_enters_one",
            namespace,
        );
    }
    assert!(
        may_make_namespaces(),
        "root in a user namespace of its own may make network namespaces"
    );
    let start_in_a_network_namespace_of_its_own = |count: usize| {
        std::thread::spawn(move || {
            // SAFETY: unshare with an integer flag changes only this thread's namespace.
            let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "unshare: {}", std::io::Error::last_os_error());
            let own = own_namespace();
            (0..count)
                .map(|i| {
                    let (mut child, [_, owned, lo]) = start();
                    assert_eq!(lo, "lo=x", "sandbox {i}");
                    assert_eq!(own_namespace(), own, "after sandbox {i}");
                    child.kill().expect("kill");
                    assert_eq!(child.wait().status, Status::Killed);
                    std::thread::sleep(PAUSE);
                    owned
                })
                .collect::<Vec<_>>()
        })
        .join()
        .expect("no panic")
    };
    // This thread's namespace belongs to the user namespace this process was started in: the
    // maker starts in a thread's namespace of its own, and the third sandbox gets one made
    // ahead, owned by the user namespace this process is root in.
    let owners = start_in_a_network_namespace_of_its_own(3);
    assert_eq!(owners, [owner(false), owner(false), owner(true)]);
    // The next is ready, and this thread may enter it, but not come back.
    let host = own_namespace();
    let (mut child, [ns, owned, lo]) = start();
    assert_eq!(
        owned,
        owner(false),
        "from the thread that could not come back"
    );
    assert_ne!(ns, host);
    assert_eq!(lo, "lo=x");
    assert_eq!(
        own_namespace(),
        host,
        "the spawning thread stayed where it was"
    );
    child.kill().expect("kill");
    assert_eq!(child.wait().status, Status::Killed);
    // Taking stopped for the whole process: a thread that could come back gets none either.
    let owners = start_in_a_network_namespace_of_its_own(2);
    assert_eq!(owners, [owner(false), owner(false)], "after the refusal");
}

/// The fork server keeps namespaces made ahead of its own, from its first sandbox with a network
/// namespace on, for the spares it makes and the sandboxes it clones fresh alike.
#[test]
fn the_fork_server_makes_namespaces_ahead_for_its_spares_and_fresh_clones() {
    let may = may_make_namespaces();
    let server = sandbox_runtime::start_fork_server().expect("the fork server starts");
    let host = own_namespace();
    let mut running: Vec<(SandboxChild, String)> = Vec::new();
    // The first starts the server's maker, and comes from a fresh clone. The server makes its
    // spare once the first has run for a second (the maker has long had the next namespace
    // ready then), which serves the second; the third, of another kind, comes from a fresh
    // clone. (A spare made back to back with a launch would race the maker's next namespace.)
    let spare_made = Duration::from_millis(1400);
    let steps = [
        ("a", false, spare_made),
        ("a", true, PAUSE),
        ("b", false, PAUSE),
    ];
    for (i, (hostname, from_a_spare, pause)) in steps.into_iter().enumerate() {
        let at = common::uptime();
        let (child, [ns, owned, lo]) = start_with(|c| {
            c.use_fork_server(true).hostname(hostname);
        });
        let made_ahead = common::age_at(child.id(), at) > 0.1;
        assert_eq!(made_ahead, from_a_spare, "sandbox {i}: served by a spare");
        assert_fresh_with_lo_up(i, &ns, &lo, &host, &running);
        assert_eq!(owned, owner(may && i >= 1), "sandbox {i}");
        running.push((child, ns));
        std::thread::sleep(pause);
    }
    assert_the_maker_blocks_signals(server);
    let server_net = std::fs::read_link(format!("/proc/{server}/ns/net")).expect("its namespace");
    for (mut child, ns) in running {
        assert_ne!(
            *ns,
            *server_net.to_string_lossy(),
            "a sandbox in the server's namespace"
        );
        child.kill().expect("kill");
        assert_eq!(child.wait().status, Status::Killed);
    }
}
