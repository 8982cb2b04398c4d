//! What making a network namespace costs, the work `sandbox-netns` takes off a start-up: in
//! COUNT forked children (default 300), the time of `unshare(CLONE_NEWNET)` and then of bringing
//! its `lo` up, as the runtime's maker does; prints the median of each. Then what one such
//! namespace, held idle as the maker holds its spare, costs the kernel in memory: it holds
//! [`HELD`] of them and prints how much the slab and per-CPU memory grew, per namespace (the
//! whole machine's, so other work on it shows too). Run as root (a network namespace outside a
//! user namespace of one's own needs `CAP_SYS_ADMIN`).
//!
//! ```text
//! cargo run --release --example netns_cost -- [COUNT]
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `ifreq` with the flags member, as SIOCGIFFLAGS/SIOCSIFFLAGS use it.
#[repr(C)]
struct IfreqFlags {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// In a forked child: makes the namespace and brings `lo` up; the two times in µs, or the
/// errno of the step that failed (as a negative number).
fn child_measure() -> [i64; 2] {
    let begun = Instant::now();
    // SAFETY: unshare with an integer flag, in a single-threaded child.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return [
            -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)),
            0,
        ];
    }
    let made = begun.elapsed();
    let mut req = IfreqFlags {
        name: [0; libc::IFNAMSIZ],
        flags: 0,
        _pad: [0; 22],
    };
    req.name[..2].copy_from_slice(b"lo");
    // SAFETY: a socket, and two ioctls on a live, correctly sized ifreq.
    let r = unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        let mut r = libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req as *mut IfreqFlags);
        if r == 0 {
            req.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            r = libc::ioctl(s, libc::SIOCSIFFLAGS, &mut req as *mut IfreqFlags);
        }
        libc::close(s);
        r
    };
    if r != 0 {
        return [
            0,
            -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)),
        ];
    }
    let up = begun.elapsed() - made;
    [made.as_micros() as i64, up.as_micros() as i64]
}

/// How many idle namespaces the memory measurement holds at once.
const HELD: usize = 100;

/// The slab and per-CPU memory of the whole machine, in KiB (`/proc/meminfo`).
fn kernel_memory_kib() -> Option<i64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
    };
    Some(field("Slab:")? + field("Percpu:")?)
}

/// Makes [`HELD`] namespaces with `lo` up, holds them, and returns how much the kernel's
/// memory grew per namespace, in KiB, or the step that failed.
fn memory_per_namespace_kib() -> Result<i64, String> {
    let home = std::fs::File::open("/proc/thread-self/ns/net").map_err(|e| e.to_string())?;
    let settle = || std::thread::sleep(Duration::from_secs(1));
    settle();
    let before = kernel_memory_kib().ok_or("read /proc/meminfo")?;
    let mut held = Vec::with_capacity(HELD);
    for _ in 0..HELD {
        let times = child_measure();
        let made = std::fs::File::open("/proc/thread-self/ns/net").map_err(|e| e.to_string());
        // SAFETY: setns on a live descriptor of a network namespace; this process has one thread.
        let back =
            unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&home), libc::CLONE_NEWNET) };
        if times.iter().any(|t| *t < 0) || back != 0 {
            return Err(format!(
                "make a namespace: {}",
                std::io::Error::last_os_error()
            ));
        }
        held.push(made?);
    }
    settle();
    let after = kernel_memory_kib().ok_or("read /proc/meminfo")?;
    Ok((after - before) / HELD as i64)
}

fn median(mut v: Vec<i64>) -> Duration {
    v.sort_unstable();
    Duration::from_micros(v[v.len() / 2] as u64)
}

fn main() -> ExitCode {
    let count = match std::env::args().nth(1).map(|a| a.parse::<usize>()) {
        None => 300,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("COUNT must be a positive number");
            return ExitCode::FAILURE;
        }
    };
    let (mut made, mut up) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for _ in 0..count {
        let mut ends = [0; 2];
        // SAFETY: pipe writes two descriptors to a live array.
        if unsafe { libc::pipe(ends.as_mut_ptr()) } != 0 {
            eprintln!("pipe: {}", std::io::Error::last_os_error());
            return ExitCode::FAILURE;
        }
        // SAFETY: the child only makes system calls and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let times = child_measure();
            // SAFETY: writes 16 bytes of a live array, then ends the child.
            unsafe {
                libc::write(ends[1], times.as_ptr().cast(), 16);
                libc::_exit(0);
            }
        }
        let mut times = [0i64; 2];
        // SAFETY: reads 16 bytes into a live array; reaps our own child; closes our pipe.
        let n = unsafe {
            let n = libc::read(ends[0], times.as_mut_ptr().cast(), 16);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
            libc::close(ends[0]);
            libc::close(ends[1]);
            n
        };
        if n != 16 || times.iter().any(|t| *t < 0) {
            let errno = times.iter().find(|t| **t < 0).map_or(0, |t| -t);
            let step = if times[0] < 0 {
                "unshare(CLONE_NEWNET)"
            } else {
                "lo up"
            };
            eprintln!(
                "{step} failed: {}",
                std::io::Error::from_raw_os_error(errno as i32)
            );
            return ExitCode::FAILURE;
        }
        made.push(times[0]);
        up.push(times[1]);
    }
    println!(
        "{count} network namespaces: unshare(CLONE_NEWNET) median {:?}, lo up median {:?}",
        median(made),
        median(up)
    );
    match memory_per_namespace_kib() {
        Ok(kib) => println!(
            "{HELD} network namespaces held idle, lo up: slab and per-CPU memory +{kib} KiB each"
        ),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
