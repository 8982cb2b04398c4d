//! Parsing tests everywhere; enforcement tests as root, which then must find a writable
//! hierarchy (see [`group_or_refused`]).

use super::detect::{choose, keyed_value, lists_controller, parse_mountinfo, CgroupMount, Layout};
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
            for file in [
                "memory.memsw.limit_in_bytes",
                "memory.kmem.tcp.limit_in_bytes",
            ] {
                let path = memory.join(file);
                if path.exists() {
                    assert_eq!(read_trimmed(&path), "67108864", "{file}");
                }
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
    kill_all_and_drop_leave_nothing(group);
}

/// A process tree moved into `group` is killed by `kill_all`, a process left in it is killed
/// by the drop, and the drop removes the group's directories.
fn kill_all_and_drop_leave_nothing(group: Cgroup) {
    let mut child = spawn_gated("sleep 100 & sleep 100");
    group.add_pid(pid_of(&child)).unwrap();
    release(&mut child);
    let started = Instant::now();
    while group.procs().unwrap().len() < 3 && started.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(10));
    }
    // The whole tree (sh and both sleeps) is in the group before it is killed.
    assert!(group.procs().unwrap().len() >= 3, "{:?}", group.procs());
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

/// The v2 code on this host's real cgroup2 hierarchy (the unified one on a hybrid host such as
/// CI's). Where it delegates memory or pids, the limits are written there and the group is
/// killed and removed. Where it offers neither (a hybrid host binds both to v1), creation must
/// say so, and what needs no controller runs for real: creating the group, moving processes in,
/// `cgroup.kill`, removal.
#[test]
fn v2_on_this_hosts_cgroup2_hierarchy() {
    let root = nix::unistd::geteuid().is_root();
    let mounts: Vec<CgroupMount> =
        parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap())
            .into_iter()
            .filter(|m| m.v2)
            .collect();
    assert!(!mounts.is_empty(), "no cgroup2 hierarchy is mounted here");
    let proc_cgroup = fs::read_to_string("/proc/self/cgroup").unwrap();
    let Some(Layout::V2 { own }) = choose(&mounts, &proc_cgroup) else {
        panic!("no v2 layout from {mounts:?} and {proc_cgroup:?}");
    };
    let name = format!("v2-{}", std::process::id());
    let limits = CgroupLimits {
        memory_bytes: Some(64 * MIB),
        pids: Some(16),
    };
    let group = match Cgroup::create_v2(PREFIX, &name, &own) {
        Ok(mut group) => {
            group.apply(&limits).unwrap();
            // A limit is enforced exactly when its controller's directory is there to check.
            assert_eq!(group.memory_dir.is_some(), group.enforced().memory);
            assert_eq!(group.pids_dir.is_some(), group.enforced().pids);
            if let Some(dir) = &group.memory_dir {
                assert_eq!(
                    read_trimmed(&dir.join("memory.max")),
                    (64 * MIB).to_string()
                );
            }
            if let Some(dir) = &group.pids_dir {
                assert_eq!(read_trimmed(&dir.join("pids.max")), "16");
            }
            assert!(group.enforced().memory || group.enforced().pids);
            group
        }
        Err(CgroupError::NotAvailable(reason)) => {
            let controllers = read_file(&own.join("cgroup.controllers")).unwrap_or_default();
            let none = !lists_controller(&controllers, "memory")
                && !lists_controller(&controllers, "pids");
            if root {
                assert!(none, "root was refused v2 controllers it has: {reason}");
            }
            if none {
                assert!(
                    reason.contains("delegates neither memory nor pids"),
                    "{reason}"
                );
            }
            let parent = own.join(PREFIX);
            match make_group(&parent, &name, |_| Ok(())) {
                Ok(dir) => {
                    let mut group = Cgroup::empty(Version::V2);
                    group.parents.push(parent);
                    group.dirs.push(dir);
                    group
                }
                Err(e) if !root && is_refusal(&e) => {
                    eprintln!("unprivileged: v2 group creation refused as expected ({e})");
                    return;
                }
                Err(e) => panic!("creating a v2 group under {}: {e}", own.display()),
            }
        }
        Err(e) => panic!("v2 creation failed: {e}"),
    };
    assert!(
        group.dirs[0].join("cgroup.kill").exists(),
        "no cgroup.kill (Linux 5.14+)"
    );
    kill_all_and_drop_leave_nothing(group);
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
    // Below the process's own group in each hierarchy, never at a hierarchy's root.
    assert_eq!(
        choose(&mounts, "0::/\n8:pids:/\n4:memory:/a/b\n"),
        Some(Layout::V1 {
            memory: Some(PathBuf::from("/sys/fs/cgroup/memory/a/b")),
            pids: Some(PathBuf::from("/sys/fs/cgroup/pids")),
        })
    );
    // A controller sharing its hierarchy with others, and one with no line: left out.
    assert_eq!(
        choose(&mounts, "0::/\n4:cpuacct,memory:/c\n"),
        Some(Layout::V1 {
            memory: Some(PathBuf::from("/sys/fs/cgroup/memory/c")),
            pids: None,
        })
    );
}

/// What the host itself is under still bounds its sandboxes on this machine: the group is made
/// below the host's own group, and on v1 only in the hierarchies of the limits asked for (a
/// pids limit alone leaves the sandbox in the host's memory group).
#[test]
fn groups_are_made_below_the_hosts_own_and_only_for_the_limits_asked() {
    let own_of = |hierarchy: Option<&str>| -> PathBuf {
        let proc_cgroup = fs::read_to_string("/proc/self/cgroup").unwrap();
        let mounts = parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap());
        match (choose(&mounts, &proc_cgroup).unwrap(), hierarchy) {
            (Layout::V1 { memory, .. }, Some("memory")) => memory.unwrap(),
            (Layout::V1 { pids, .. }, Some("pids")) => pids.unwrap(),
            (Layout::V2 { own }, _) => own,
            (layout, h) => panic!("{layout:?} has no {h:?} hierarchy"),
        }
    };
    let v1 = matches!(detect::detect(), Ok(Layout::V1 { .. }));
    for (limits, hierarchy) in [
        (
            CgroupLimits {
                memory_bytes: None,
                pids: Some(8),
            },
            "pids",
        ),
        (
            CgroupLimits {
                memory_bytes: Some(64 * MIB),
                pids: None,
            },
            "memory",
        ),
    ] {
        let Some(group) = group_or_refused(limits) else {
            return;
        };
        assert_eq!(group.dirs.len(), 1, "{:?}", group.dirs);
        let own = own_of(v1.then_some(hierarchy));
        assert!(
            group.dirs[0].starts_with(own.join(PREFIX)),
            "{} is not below the host's own group {}",
            group.dirs[0].display(),
            own.display()
        );
        if v1 {
            assert_eq!(group.memory_dir.is_some(), hierarchy == "memory");
            assert_eq!(group.pids_dir.is_some(), hierarchy == "pids");
        }
    }
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

#[test]
fn a_group_names_its_hosts_pid_namespace_and_pid() {
    let owner = Owner {
        pid_namespace: 4026531836,
        pid: 700,
    };
    assert_eq!(owner.prefix(), "4026531836-700");
    assert_eq!(owner.neighbour("4026531836-812-3"), Some(812));
    assert_eq!(owner.neighbour("4026531836-812-3.1"), Some(812));
    // Another pid namespace's, an old-style name, or no name of ours at all.
    assert_eq!(owner.neighbour("4026532000-812-3"), None);
    assert_eq!(owner.neighbour("812-3"), None);
    assert_eq!(owner.neighbour("cgroup.procs"), None);
    let unknown = Owner {
        pid_namespace: 0,
        pid: 700,
    };
    assert_eq!(unknown.neighbour("0-812-3"), None);
}

#[test]
fn groups_left_by_killed_hosts_of_this_pid_namespace_are_removed() {
    let Some(first) = group_or_refused(CgroupLimits {
        pids: Some(8),
        ..CgroupLimits::default()
    }) else {
        return;
    };
    let parent = first.parents[0].clone();
    let owner = Owner::this_process();
    // A pid that ran and is gone (reaped).
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = parent.join(format!("{}-{dead}-0", owner.pid_namespace));
    let alive = parent.join(format!("{}-1-0", owner.pid_namespace));
    let foreign = parent.join(format!("{}-{dead}-0", owner.pid_namespace + 1));
    for d in [&stale, &alive, &foreign] {
        fs::create_dir(d).unwrap();
    }
    let second = group_or_refused(CgroupLimits {
        pids: Some(8),
        ..CgroupLimits::default()
    })
    .expect("a second group");
    let left = (stale.exists(), alive.exists(), foreign.exists());
    for d in [&stale, &alive, &foreign] {
        let _ = fs::remove_dir(d);
    }
    drop((first, second));
    assert_eq!(
        left,
        (false, true, true),
        "(stale, of a running host, of another pid namespace) still there"
    );
}

/// Where memory and pids are mounted as one v1 hierarchy, one group holds both limits: two
/// would each take the process from the other, and one of the limits with it. (The directory
/// is a plain one: only the groups' making is checked here.)
#[test]
fn one_v1_hierarchy_for_memory_and_pids_makes_one_group() {
    let own = std::env::temp_dir().join(format!("sandbox-cgroup-shared-{}", std::process::id()));
    fs::create_dir_all(&own).unwrap();
    let group = Cgroup::create_v1(PREFIX, "g", Some(&own), Some(&own)).unwrap();
    let dirs = group.dirs.clone();
    let (memory, pids) = (group.memory_dir.clone(), group.pids_dir.clone());
    std::mem::forget(group);
    fs::remove_dir_all(&own).unwrap();
    assert_eq!(dirs, [own.join(PREFIX).join("g")]);
    assert_eq!(memory, Some(dirs[0].clone()));
    assert_eq!(pids, memory);
}
