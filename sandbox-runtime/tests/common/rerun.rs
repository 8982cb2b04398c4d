//! A test that re-runs itself, alone: as root of a user namespace of its own, its threads left
//! in the caller's network namespace (which that user namespace does not own), or with what a
//! hook sets up in the child before its exec ([`rerun_with`]).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;

/// Re-runs the test `name` of this binary, alone, with `marker` set in its environment (the
/// re-run tells itself apart by it) and `before_exec` run in the child before its exec (raw
/// system calls only: it runs between fork and exec). The test passes when the re-run does.
pub fn rerun_with(name: &str, marker: &str, before_exec: fn() -> std::io::Result<()>) {
    let mut command = std::process::Command::new(std::env::current_exe().expect("this binary"));
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(marker, "1");
    // SAFETY: the caller's hook makes raw system calls only, on data made before the fork.
    unsafe { command.pre_exec(before_exec) };
    let status = command.status().expect("re-run the test");
    assert!(status.success(), "{name}, re-run: {status}");
}

/// Set in the environment of the re-run, to the namespace's [`UserNamespace::name`].
const IN_A_USER_NAMESPACE: &str = "SANDBOX_TEST_IN_A_USER_NAMESPACE";

/// The user namespaces a test can re-run itself in, as its root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserNamespace {
    /// Maps only the caller's uid and gid, to 0, with `setgroups` denied: what `unshare
    /// --map-root-user` makes, and all an unprivileged caller can. Made by the re-run itself.
    CallersIdsOnly,
    /// Maps 65,536 ids, 0 to 65,535, to the host's from 100,000 on, with `setgroups` allowed:
    /// only root can make it. The caller writes the maps.
    HostIdsFrom100000,
}

impl UserNamespace {
    const ALL: [UserNamespace; 2] = [
        UserNamespace::CallersIdsOnly,
        UserNamespace::HostIdsFrom100000,
    ];

    fn name(self) -> &'static str {
        match self {
            UserNamespace::CallersIdsOnly => "callers-ids-only",
            UserNamespace::HostIdsFrom100000 => "host-ids-from-100000",
        }
    }
}

/// The namespace this process is the re-run in, if it is one.
pub fn user_namespace_of_this_rerun() -> Option<UserNamespace> {
    let name = std::env::var(IN_A_USER_NAMESPACE).ok()?;
    UserNamespace::ALL.into_iter().find(|n| n.name() == name)
}

/// Re-runs the test `name` of this binary, alone, as root of a new user namespace of the kind
/// `namespace`. A test calls this when [`user_namespace_of_this_rerun`] says it is not a re-run,
/// and the re-run does the work: the test passes when the re-run does.
pub fn rerun_in_a_user_namespace(name: &str, namespace: UserNamespace) {
    let status = try_rerun_in_a_user_namespace(name, namespace)
        .expect("re-run the test in a user namespace of its own");
    assert!(status.success(), "{name}, in {namespace:?}: {status}");
}

/// [`rerun_in_a_user_namespace`], returning how the re-run ended, or why the namespace could
/// not be made (for [`UserNamespace::HostIdsFrom100000`], the error of writing its maps).
pub fn try_rerun_in_a_user_namespace(
    name: &str,
    namespace: UserNamespace,
) -> std::io::Result<std::process::ExitStatus> {
    let mut command = std::process::Command::new(std::env::current_exe().expect("this binary"));
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_A_USER_NAMESPACE, namespace.name());
    match namespace {
        UserNamespace::CallersIdsOnly => {
            maps_its_own_ids(&mut command);
            command.status()
        }
        UserNamespace::HostIdsFrom100000 => status_with_maps_written(&mut command),
    }
}

/// Has the child make its user namespace and map the caller's ids in it, before its exec.
fn maps_its_own_ids(command: &mut std::process::Command) {
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    // Made here, before the fork.
    let writes = [
        (c"/proc/self/setgroups", b"deny".to_vec()),
        (c"/proc/self/uid_map", format!("0 {uid} 1").into_bytes()),
        (c"/proc/self/gid_map", format!("0 {gid} 1").into_bytes()),
    ];
    // SAFETY: the hook runs in the forked child before the exec and only makes system calls
    // (unshare, open, write, close) on data made before the fork.
    unsafe {
        command.pre_exec(move || {
            unshare_user_namespace()?;
            for (path, line) in &writes {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let written = libc::write(fd, line.as_ptr().cast(), line.len());
                let error = std::io::Error::last_os_error();
                libc::close(fd);
                if written != line.len() as isize {
                    return Err(error);
                }
            }
            Ok(())
        })
    };
}

/// Runs `command` in a user namespace of its own whose maps a thread of this process writes
/// (65,536 ids from 100,000), while the child waits for them before its exec.
fn status_with_maps_written(
    command: &mut std::process::Command,
) -> std::io::Result<std::process::ExitStatus> {
    let (pid_read, pid_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (go_read, go_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (pid_fd, go_fd) = (pid_write.as_raw_fd(), go_read.as_raw_fd());
    // The parent's ends, which the child closes in its copy: a writer that gives up must leave
    // `go` with no write end open, for the child's read to end.
    let (parents_pid_end, parents_go_end) = (pid_read.as_raw_fd(), go_write.as_raw_fd());
    // SAFETY: the hook runs in the forked child before the exec and only makes system calls
    // (close, unshare, getpid, write, read, and the change of ids) on its copies of the pipes'
    // descriptors.
    unsafe {
        command.pre_exec(move || {
            libc::close(parents_pid_end);
            libc::close(parents_go_end);
            unshare_user_namespace()?;
            let pid = libc::getpid().to_ne_bytes();
            if libc::write(pid_fd, pid.as_ptr().cast(), pid.len()) != pid.len() as isize {
                return Err(std::io::Error::last_os_error());
            }
            let mut go = 0u8;
            if libc::read(go_fd, (&mut go as *mut u8).cast(), 1) != 1 {
                return Err(std::io::Error::other("no maps"));
            }
            // Still the host's root, which the namespace does not map: become its root (with
            // the capabilities the new namespace gave), so that the exec keeps them there.
            let become_root = [
                libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()),
                libc::syscall(libc::SYS_setresgid, 0, 0, 0),
                libc::syscall(libc::SYS_setresuid, 0, 0, 0),
            ];
            if become_root.iter().any(|r| *r != 0) {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let writer = std::thread::spawn(move || write_the_maps(pid_read, go_write));
    let status = command.status();
    // Only now: the child's copies are gone, so a writer still waiting for a pid gets none.
    drop((pid_write, go_read));
    // A writer that failed has closed its end of `go`, so the child failed too: its error
    // says why.
    writer.join().expect("the map writer does not panic")?;
    status
}

/// Reads the child's pid, writes its maps, and lets it go on; gives up when it has no pid.
/// On an error, returns it with `go` closed unwritten, which fails the child before its exec.
fn write_the_maps(pid_read: OwnedFd, go_write: OwnedFd) -> std::io::Result<()> {
    let mut pid = [0u8; 4];
    if std::fs::File::from(pid_read).read_exact(&mut pid).is_err() {
        return Ok(());
    }
    let pid = i32::from_ne_bytes(pid);
    for map in ["uid_map", "gid_map"] {
        std::fs::write(format!("/proc/{pid}/{map}"), "0 100000 65536\n")?;
    }
    std::fs::File::from(go_write).write_all(b"g")
}

fn unshare_user_namespace() -> std::io::Result<()> {
    // SAFETY: unshare with an integer flag, in a single-threaded child.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
