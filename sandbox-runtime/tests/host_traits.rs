//! A sandbox keeps nothing of its host process that ranks it above others or weakens its
//! hardening: a real-time scheduling policy, a negative nice value, a real-time I/O class,
//! personality flags, limits that would let it take real-time or raised priority. It keeps
//! a priority below normal (a host may run its sandboxes so), and the program gets the host's
//! umask (init makes mount points in the sandbox's own memory without it, so even `umask 0777`
//! leaves those reachable) and the host's OOM score adjustment when it is not negative.
//!
//! The test re-runs itself with those set (as `chrt -f`, `nice -n -5`, `ionice -c1`,
//! `setarch -R`, `umask` and a service manager would), checks that the re-run has them, and
//! reads what sandboxes cloned directly, by the fork server and from its spare have. A priority
//! above normal takes `CAP_SYS_NICE`: run as another user than root, the re-run takes one below
//! normal instead (`chrt -b`, `nice -n 7`, `ionice -c3`), which the sandboxes must keep. (A
//! negative OOM score adjustment, which a sandbox raises to 0, and a priority limit above 0,
//! which it lowers to 0, take `CAP_SYS_RESOURCE` to set, which this test does not assume: it
//! checks the limits are 0 in the sandbox, as they are on a host that has not raised them.)
//! Mount points init makes inside a writable bind, which stay on the host, get the
//! host's umask (a second re-run, under `umask 027`).

mod common;

/// Set in the environment of the re-run.
const RERUN: &str = "SANDBOX_TEST_HOST_TRAITS";

/// `ADDR_NO_RANDOMIZE`, the flag `setarch -R` sets.
const ADDR_NO_RANDOMIZE: libc::c_ulong = 0x0040000;
/// The host's umask: none of the sandbox's own directories could be searched under it.
const HOST_UMASK: libc::mode_t = 0o777;
/// The host's OOM score adjustment, positive: a sandbox keeps it.
const HOST_OOM_SCORE_ADJ: &str = "500";

/// The host's scheduling: policy, real-time priority, nice value, I/O priority (and what
/// `ionice` shows of it).
#[derive(Clone, Copy)]
struct Scheduling {
    policy: libc::c_int,
    rt_priority: libc::c_int,
    nice: libc::c_int,
    io_priority: libc::c_long,
    io_shown: &'static str,
}

/// Where an I/O priority value holds its class.
const IOPRIO_CLASS_SHIFT: u32 = 13;

/// Above normal, as root can set it: a sandbox gives it up.
const ABOVE_NORMAL: Scheduling = Scheduling {
    policy: libc::SCHED_FIFO,
    rt_priority: 5,
    nice: -5,
    // The real-time class (1), level 4.
    io_priority: 1 << IOPRIO_CLASS_SHIFT | 4,
    io_shown: "realtime: prio 4",
};
/// Below normal, as any user can set it: a sandbox keeps it.
const BELOW_NORMAL: Scheduling = Scheduling {
    policy: libc::SCHED_BATCH,
    rt_priority: 0,
    nice: 7,
    // The idle class (3).
    io_priority: 3 << IOPRIO_CLASS_SHIFT,
    io_shown: "idle",
};
/// What `ionice` shows of a process in no I/O class, where a sandbox puts a real-time one.
const NO_IO_CLASS: &str = "none: prio 0";
/// What `/proc/self/limits` shows of `RLIMIT_NICE` and `RLIMIT_RTPRIO` in a sandbox.
const NO_PRIORITY_LIMITS: &str = "nice 0 0, realtime 0 0";

/// The scheduling the re-run takes: above normal where it may (root), else below.
fn host_scheduling() -> Scheduling {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        ABOVE_NORMAL
    } else {
        BELOW_NORMAL
    }
}

/// Gives the calling process the host traits above. Runs between fork and exec: raw calls only.
fn take_host_traits() -> std::io::Result<()> {
    let check = |r: libc::c_long| {
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    let scheduling = host_scheduling();
    let param = libc::sched_param {
        sched_priority: scheduling.rt_priority,
    };
    // SAFETY: the calling process, a valid sched_param; personality, setpriority, umask, open,
    // write and close with valid arguments; the descriptor is closed here.
    unsafe {
        check(libc::sched_setscheduler(0, scheduling.policy, &param).into())?;
        check(libc::setpriority(libc::PRIO_PROCESS, 0, scheduling.nice).into())?;
        // IOPRIO_WHO_PROCESS (1), the calling thread.
        check(libc::syscall(
            libc::SYS_ioprio_set,
            1,
            0,
            scheduling.io_priority,
        ))?;
        check(libc::personality(ADDR_NO_RANDOMIZE).into())?;
        libc::umask(HOST_UMASK);
        let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
        check(fd.into())?;
        let value = HOST_OOM_SCORE_ADJ.as_bytes();
        let written = libc::write(fd, value.as_ptr().cast(), value.len());
        libc::close(fd);
        check(written as libc::c_long)?;
    }
    Ok(())
}

/// What a process reads of itself: scheduling policy, real-time priority and nice value from
/// `stat`, then its personality, OOM score adjustment, umask, I/O priority (as `ionice` shows
/// it) and limits on nice and real-time priority (soft, hard).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Traits {
    policy: u32,
    rt_priority: u32,
    nice: i32,
    personality: String,
    oom_score_adj: String,
    umask: String,
    io: String,
    priority_limits: String,
}

/// The program that prints what [`Traits::parse`] reads; the files named after it are printed
/// too, after the first four.
const READER: [&str; 4] = [
    "/bin/sh",
    "-c",
    "cat /proc/self/stat /proc/self/personality /proc/self/oom_score_adj /proc/self/status \"$@\" \
     && echo \"io: $(ionice)\" && grep '^Max \\(nice\\|realtime\\) priority' /proc/self/limits",
    "sh",
];

/// Where the sandbox shows the host's `/etc/passwd`, below two directories init makes.
const DEEP: &str = "/opt/deep/passwd";

impl Traits {
    /// Parses what [`READER`] printed.
    fn parse(text: &str) -> Traits {
        let mut lines = text.lines();
        let stat = lines.next().expect("a stat line");
        // The fields after the command's name, which may hold spaces: field 3 on.
        let after_name = &stat[stat.rfind(')').expect("a command name") + 2..];
        let fields: Vec<&str> = after_name.split(' ').collect();
        let field = |n: usize| fields[n - 3];
        let personality = lines.next().expect("a personality line").to_string();
        let oom_score_adj = lines.next().expect("an OOM line").to_string();
        let umask = lines
            .find_map(|l| l.strip_prefix("Umask:"))
            .expect("an Umask line")
            .trim()
            .to_string();
        let io = lines
            .find_map(|l| l.strip_prefix("io: "))
            .expect("an io line")
            .to_string();
        // `Max nice priority  SOFT  HARD` and the same of `realtime`.
        let priority_limits = lines
            .map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                format!("{} {} {}", words[1], words[3], words[4])
            })
            .collect::<Vec<_>>()
            .join(", ");
        Traits {
            policy: field(41).parse().unwrap(),
            rt_priority: field(40).parse().unwrap(),
            nice: field(19).parse().unwrap(),
            personality,
            oom_score_adj,
            umask,
            io,
            priority_limits,
        }
    }

    /// This process's own.
    fn own() -> Traits {
        let out = std::process::Command::new(READER[0])
            .args(&READER[1..])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        Traits::parse(&String::from_utf8_lossy(&out.stdout))
    }
}

/// Cloned directly, by the fork server or from its spare, a sandbox gives up the re-run's
/// priority above normal (or keeps one below) and its personality, and its program gets the
/// re-run's umask and positive OOM score adjustment.
#[test]
fn a_sandbox_keeps_no_host_priority_or_personality_and_gets_the_hosts_umask() {
    let name = "a_sandbox_keeps_no_host_priority_or_personality_and_gets_the_hosts_umask";
    if std::env::var_os(RERUN).is_none() {
        common::rerun_with(name, RERUN, take_host_traits);
        return;
    }
    // The control: a plain child of this process has them all.
    let host = Traits::own();
    let scheduling = host_scheduling();
    let expected_host = Traits {
        policy: scheduling.policy as u32,
        rt_priority: scheduling.rt_priority as u32,
        nice: scheduling.nice,
        personality: format!("{ADDR_NO_RANDOMIZE:08x}"),
        oom_score_adj: HOST_OOM_SCORE_ADJ.to_string(),
        umask: format!("{HOST_UMASK:04o}"),
        io: scheduling.io_shown.to_string(),
        // Whatever the host's are: raising them takes a capability the test does not assume.
        priority_limits: host.priority_limits.clone(),
    };
    assert_eq!(host, expected_host, "the re-run lacks the host traits");
    let policy = common::permissive();
    for way in common::Way::ALL {
        // A file below directories init makes: under the host's umask they could not be
        // searched, and the program's `cat` of it would fail.
        let mut cmd = common::command(READER[0]);
        cmd.args(&READER[1..])
            .arg(DEEP)
            .mount_ro("/etc/passwd", DEEP)
            .policy(&policy)
            .share_network(true);
        let out = common::output_by(cmd, way);
        common::assert_exited_0(&out);
        let sandboxed = Traits::parse(&String::from_utf8_lossy(&out.stdout));
        let expected = if scheduling.nice < 0 {
            Traits {
                policy: libc::SCHED_OTHER as u32,
                rt_priority: 0,
                nice: 0,
                io: NO_IO_CLASS.to_string(),
                ..expected_host.clone()
            }
        } else {
            expected_host.clone()
        };
        let expected = Traits {
            personality: "00000000".to_string(),
            priority_limits: NO_PRIORITY_LIMITS.to_string(),
            ..expected
        };
        assert_eq!(sandboxed, expected, "{way:?}");
    }
}

/// Set in the environment of the re-run of the mount-point test.
const RERUN_UMASK: &str = "SANDBOX_TEST_HOST_UMASK_MOUNT_POINTS";

/// The host's umask for the mount-point test: group may read, others nothing.
const PRIVATE_UMASK: libc::mode_t = 0o027;

/// Gives the calling process [`PRIVATE_UMASK`]. Runs between fork and exec.
fn take_private_umask() -> std::io::Result<()> {
    // SAFETY: umask() cannot fail.
    unsafe { libc::umask(PRIVATE_UMASK) };
    Ok(())
}

/// Mount points init makes inside a writable bind are files on the host, which stay after the
/// sandbox: they get the host's umask, as anything else the host makes there would (a private
/// umask keeps them from others), while those in the sandbox's own memory (its root, a tmpfs,
/// even one inside the bind) keep their modes.
#[test]
fn mount_points_made_in_a_writable_bind_get_the_hosts_umask() {
    let name = "mount_points_made_in_a_writable_bind_get_the_hosts_umask";
    if std::env::var_os(RERUN_UMASK).is_none() {
        common::rerun_with(name, RERUN_UMASK, take_private_umask);
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let policy = common::permissive();
    for way in [common::Way::Direct, common::Way::Served] {
        let work = common::ScratchDir::new("umask");
        // Writable by the sandbox's host id, whoever runs the test (as root, it is 65534).
        std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        // `/work/a/b` and `/work/a/b/passwd` are made in the host's directory, below the
        // writable bind of it; `/work/t/c` and `/work/t/c/h` on a tmpfs inside the bind.
        let mut cmd = common::command("/bin/sh");
        cmd.args([
            "-c",
            "stat -c %a /work/t/c /work/t/c/h && cat /work/a/b/passwd",
        ])
        .mount_rw(work.path(), "/work")
        .mount_ro("/etc/passwd", "/work/a/b/passwd")
        .tmpfs("/work/t", 1 << 20)
        .mount_ro("/etc/passwd", "/work/t/c/h")
        .policy(&policy);
        let out = common::output_by(cmd, way);
        common::assert_exited_0(&out);
        let passwd = String::from_utf8(std::fs::read("/etc/passwd").unwrap()).unwrap();
        // The second mode is the bound file's.
        let shown = format!("755\n{:o}\n{passwd}", mode_of_host("/etc/passwd"));
        assert_eq!(String::from_utf8_lossy(&out.stdout), shown, "{way:?}");
        let mode_of = |p: &str| mode_of_host(work.path().join(p));
        assert_eq!(mode_of("a"), 0o755 & !PRIVATE_UMASK, "{way:?}");
        assert_eq!(mode_of("a/b"), 0o755 & !PRIVATE_UMASK, "{way:?}");
        assert_eq!(mode_of("a/b/passwd"), 0o644 & !PRIVATE_UMASK, "{way:?}");
    }
}

/// The permission bits of `path` on the host, not following a link.
fn mode_of_host(path: impl AsRef<std::path::Path>) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path).unwrap();
    meta.permissions().mode() & 0o7777
}
