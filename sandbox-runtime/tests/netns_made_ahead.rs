//! Network namespaces made ahead for sandboxes cloned directly: each sandbox still gets a
//! namespace of its own, fresh, with `lo` up, and the spawning thread ends up where it was.
//! Its own test binary with one test, so that nothing else takes the namespaces made ahead.

mod common;

use sandbox_runtime::{SandboxChild, Status, Stdio};
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
    let mut child = common::command("/usr/bin/python3")
        .args(["-c", SCRIPT])
        .use_fork_server(false)
        .share_network(false)
        .policy(&common::permissive())
        .stdout(Stdio::Piped)
        .spawn()
        .expect("the sandbox starts");
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

/// The two checks below, in this order: the first counts the sandboxes from this process's
/// first.
#[test]
fn namespaces_made_ahead_are_fresh_have_lo_up_and_the_spawning_thread_comes_back() {
    each_gets_a_fresh_namespace_with_lo_up_from_the_third_made_ahead();
    a_thread_in_a_network_namespace_of_its_own_comes_back_to_it();
}

fn each_gets_a_fresh_namespace_with_lo_up_from_the_third_made_ahead() {
    let root = nix::unistd::geteuid().is_root();
    let host = own_namespace();
    let mut running = Vec::new();
    for i in 0..5 {
        let (child, [ns, owner, lo]) = start();
        assert!(ns.starts_with("net:["), "sandbox {i}: {ns:?}");
        assert_ne!(ns, host, "sandbox {i} is in the host's network namespace");
        assert!(
            !running.iter().any(|(_, earlier)| *earlier == ns),
            "sandbox {i} shares a network namespace with an earlier one: {ns}"
        );
        assert_eq!(lo, "lo=x", "sandbox {i}: no connection over lo");
        // The first two are made by their clone, owned by the sandbox's own user namespace.
        // From the third on, as root, each was made ahead by the host (the maker starts at the
        // second), owned by the host's. Unprivileged, the host may not make one outside a user
        // namespace of its own: every sandbox's comes from its clone.
        let made_ahead = root && i >= 2;
        let expected = if made_ahead {
            "owner=outside"
        } else {
            "owner=own"
        };
        assert_eq!(owner, expected, "sandbox {i} (as root: {root})");
        assert_eq!(own_namespace(), host, "the spawning thread came back");
        running.push((child, ns));
        // Time for the maker to have the next one ready.
        std::thread::sleep(Duration::from_millis(100));
    }
    for (mut child, _) in running {
        child.kill().expect("kill");
        assert_eq!(child.wait().status, Status::Killed);
    }
}

fn a_thread_in_a_network_namespace_of_its_own_comes_back_to_it() {
    let root = nix::unistd::geteuid().is_root();
    std::thread::spawn(move || {
        // SAFETY: unshare with an integer flag changes only this thread's network namespace.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        if !root {
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::EPERM),
                "unprivileged, a namespace outside one's own user namespace is refused"
            );
        } else {
            assert_eq!(r, 0, "unshare: {}", std::io::Error::last_os_error());
        }
        let own = own_namespace();
        for i in 0..4 {
            let (mut child, [ns, _, lo]) = start();
            assert_ne!(ns, own, "sandbox {i} is in the spawning thread's namespace");
            assert_eq!(lo, "lo=x");
            assert_eq!(own_namespace(), own, "after sandbox {i}");
            child.kill().expect("kill");
            assert_eq!(child.wait().status, Status::Killed);
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .join()
    .expect("no panic");
}
