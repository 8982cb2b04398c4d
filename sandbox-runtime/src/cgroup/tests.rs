//! Parsing tests everywhere; enforcement tests as root, which then must find a writable
//! hierarchy (see [`group_or_refused`]).

use super::detect::{choose, keyed_value, parse_mountinfo, CgroupMount};
use super::*;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};

const PREFIX: &str = "sandbox-runtime-test";
const MIB: u64 = 1024 * 1024;

/// Creates a group for an enforcement test. As root the host must offer a writable hierarchy
/// (CI does): failing to create one fails the test. Unprivileged, creation must be refused with
/// [`CgroupError::NotAvailable`], the answer the runtime falls back to rlimits on; that is
/// checked, and the enforcement part is left to the root run.
fn group_or_refused(limits: CgroupLimits) -> Option<Cgroup> {
    let root = nix::unistd::geteuid().is_root();
    match Cgroup::create(PREFIX, &limits) {
        Ok(group) => Some(group),
        Err(CgroupError::NotAvailable(reason)) if !root => {
            eprintln!("unprivileged: creation refused as expected ({reason}); enforcement is tested as root");
            None
        }
        Err(e) => panic!("creating a cgroup as root failed (the enforcement tests need one): {e}"),
    }
}

/// Starts `sh -c script` blocked on a line of stdin, so it can be put in the group first.
fn spawn_gated(script: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("read _go; {script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sh")
}

fn release(child: &mut Child) {
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
}

fn pid_of(child: &Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).unwrap())
}

fn read_trimmed(path: &Path) -> String {
    fs::read_to_string(path).unwrap().trim().to_string()
}

#[test]
fn limits_are_written_and_reported() {
    let limits = CgroupLimits {
        memory_bytes: Some(64 * MIB),
        pids: Some(5),
    };
    let Some(group) = group_or_refused(limits) else {
        return;
    };
    assert_eq!(
        group.enforced(),
        EnforcedLimits {
            memory: true,
            pids: true
        }
    );
    let memory = group.memory_dir.as_ref().unwrap();
    let pids = group.pids_dir.as_ref().unwrap();
    match group.version {
        Version::V1 => {
            assert_eq!(
                read_trimmed(&memory.join("memory.limit_in_bytes")),
                "67108864"
            );
            let memsw = memory.join("memory.memsw.limit_in_bytes");
            if memsw.exists() {
                assert_eq!(read_trimmed(&memsw), "67108864");
            }
        }
        Version::V2 => {
            assert_eq!(read_trimmed(&memory.join("memory.max")), "67108864");
        }
    }
    assert_eq!(read_trimmed(&pids.join("pids.max")), "5");
    assert!(!group.oom_killed());
    assert!(!group.pids_limit_hit());
}

#[test]
fn fork_bomb_hits_the_pids_limit() {
    let Some(group) = group_or_refused(CgroupLimits {
        memory_bytes: None,
        pids: Some(5),
    }) else {
        return;
    };
    let mut child = spawn_gated("for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done; wait");
    group.add_pid(pid_of(&child)).unwrap();
    release(&mut child);
    child.wait().unwrap();
    assert!(
        group.pids_limit_hit(),
        "pids.events should count failed forks"
    );
    assert_eq!(
        group.enforced(),
        EnforcedLimits {
            memory: false,
            pids: true
        }
    );
}

#[test]
fn memory_hog_is_oom_killed() {
    let Some(group) = group_or_refused(CgroupLimits {
        memory_bytes: Some(64 * MIB),
        pids: Some(16),
    }) else {
        return;
    };
    let mut child = spawn_gated(
        "exec python3 -c 'x = bytearray(200*1024*1024); x[::4096] = b\"x\" * len(x[::4096])'",
    );
    group.add_pid(pid_of(&child)).unwrap();
    release(&mut child);
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    assert!(group.oom_killed());
    let peak = group.memory_peak_bytes().expect("peak is recorded");
    assert!(peak > MIB && peak <= 64 * MIB, "peak {peak}");
}

#[test]
fn kill_all_and_drop_leave_nothing_behind() {
    let Some(group) = group_or_refused(CgroupLimits {
        memory_bytes: Some(64 * MIB),
        pids: Some(8),
    }) else {
        return;
    };
    let mut child = spawn_gated("sleep 100 & sleep 100");
    group.add_pid(pid_of(&child)).unwrap();
    release(&mut child);
    let started = Instant::now();
    while group.procs().unwrap().len() < 3 && started.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(10));
    }
    group.kill_all().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    assert!(group.procs().unwrap().is_empty());

    let mut second = spawn_gated("sleep 100");
    group.add_pid(pid_of(&second)).unwrap();
    let dirs = group.paths().to_vec();
    assert!(dirs.iter().all(|d| d.is_dir()));
    drop(group);
    assert_eq!(second.wait().unwrap().signal(), Some(libc::SIGKILL));
    for dir in dirs {
        assert!(!dir.exists(), "{} should be removed", dir.display());
    }
}

#[test]
fn zero_limits_and_bad_prefixes_are_rejected() {
    let zero_memory = CgroupLimits {
        memory_bytes: Some(0),
        pids: None,
    };
    assert!(matches!(
        Cgroup::create(PREFIX, &zero_memory),
        Err(CgroupError::InvalidLimit {
            what: "memory_bytes"
        })
    ));
    let zero_pids = CgroupLimits {
        memory_bytes: None,
        pids: Some(0),
    };
    let err = Cgroup::create(PREFIX, &zero_pids).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid cgroup limit: pids must be greater than zero"
    );
    for bad in ["", ".", "..", "a/b"] {
        assert!(matches!(
            Cgroup::create(bad, &CgroupLimits::default()),
            Err(CgroupError::InvalidName(_))
        ));
    }
}

#[test]
fn permission_errors_mean_not_available() {
    let denied = io_error(
        "create",
        Path::new("/x"),
        io::Error::from_raw_os_error(libc::EACCES),
    );
    assert!(is_refusal(&denied));
    let read_only = io_error(
        "create",
        Path::new("/x"),
        io::Error::from_raw_os_error(libc::EROFS),
    );
    assert!(is_refusal(&read_only));
    let other = io_error(
        "create",
        Path::new("/x"),
        io::Error::from_raw_os_error(libc::EIO),
    );
    assert!(!is_refusal(&other));
}

const HYBRID_MOUNTINFO: &str = "\
25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw
33 25 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
34 33 0:29 / /sys/fs/cgroup/unified rw shared:4 - cgroup2 cgroup2 rw
37 33 0:32 / /sys/fs/cgroup/memory rw shared:6 - cgroup cgroup rw,memory
38 33 0:33 / /sys/fs/cgroup/pids rw shared:7 - cgroup cgroup rw,pids
39 33 0:34 / /sys/fs/cgroup/cpu\\040x rw - cgroup cgroup rw,cpu,cpuacct
";

#[test]
fn hybrid_host_uses_v1_controllers() {
    let mounts = parse_mountinfo(HYBRID_MOUNTINFO);
    assert_eq!(mounts.len(), 4);
    assert_eq!(
        mounts[3],
        CgroupMount {
            root: "/".into(),
            mount_point: PathBuf::from("/sys/fs/cgroup/cpu x"),
            v2: false,
            options: vec!["rw".into(), "cpu".into(), "cpuacct".into()],
        }
    );
    assert_eq!(
        choose(&mounts, "0::/\n4:memory:/a\n"),
        Some(Layout::V1 {
            memory: Some(PathBuf::from("/sys/fs/cgroup/memory")),
            pids: Some(PathBuf::from("/sys/fs/cgroup/pids")),
        })
    );
}

#[test]
fn pure_v2_host_uses_own_cgroup() {
    let mounts = parse_mountinfo(
        "30 25 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n",
    );
    assert_eq!(
        choose(&mounts, "0::/user.slice/user-1000.slice/session-2.scope\n"),
        Some(Layout::V2 {
            own: PathBuf::from("/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope")
        })
    );
    assert_eq!(
        choose(&mounts, "0::/\n"),
        Some(Layout::V2 {
            own: PathBuf::from("/sys/fs/cgroup")
        })
    );
    assert_eq!(choose(&[], "0::/\n"), None);
}

#[test]
fn keyed_files_parse() {
    let oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
    assert_eq!(keyed_value(oom_control, "oom_kill"), Some(3));
    assert_eq!(keyed_value("max 0\n", "max"), Some(0));
    assert_eq!(keyed_value("low 1\n", "oom_kill"), None);
}
