//! Who made a call the monitor stopped, and from where: the process of the calling thread
//! (the kernel names the thread), and the place in its address space the instruction lies at,
//! read from `/proc/PID/maps` as a file and an offset into it
//! (`/usr/lib/x86_64-linux-gnu/libc.so.6+0x11c5a4`), which `addr2line -e FILE OFFSET` or
//! `objdump` can read without knowing where the loader put the file. The monitor reads both for
//! a violation while the violating call is still blocked.
//!
//! The mapping is asked of the kernel for the one address (`PROCMAP_QUERY`, Linux 6.11+), which
//! takes as long however many mappings the process made; on an older kernel the maps file is
//! read instead, up to [`MAPS_READ_MOST`].

use std::io::Read;
use std::os::fd::AsRawFd;

/// `PROCMAP_QUERY`: `_IOWR('f', 17, struct procmap_query)`.
const PROCMAP_QUERY: libc::Ioctl = 0xC068_6611;

/// The kernel's `struct procmap_query` (`linux/fs.h`), 104 bytes.
#[repr(C)]
#[derive(Default)]
struct ProcmapQuery {
    size: u64,
    query_flags: u64,
    query_addr: u64,
    vma_start: u64,
    vma_end: u64,
    vma_flags: u64,
    vma_page_size: u64,
    vma_offset: u64,
    inode: u64,
    dev_major: u32,
    dev_minor: u32,
    vma_name_size: u32,
    build_id_size: u32,
    vma_name_addr: u64,
    build_id_addr: u64,
}

/// The most of a maps file read, while the violating call waits and the caller's other threads
/// may still run: some 10,000 mappings of ordinary names (a large program has a few thousand), a
/// few milliseconds' read. A process that makes more, or longer names, so as to stretch that
/// time, gets no location past it.
const MAPS_READ_MOST: u64 = 1 << 20;

/// Where `ip` lies in the address space of process (or thread) `pid`, in words: `FILE+0xOFFSET`
/// for a file's mapping (the offset into the file), `[vdso]+0xOFFSET` and the like for the
/// kernel's named mappings, `anonymous memory` for the rest; `None` if the maps cannot be read or
/// no mapping holds `ip`.
pub(crate) fn code_location(pid: u32, ip: u64) -> Option<String> {
    let file = std::fs::File::open(format!("/proc/{pid}/maps")).ok()?;
    match query(&file, ip) {
        Ok(found) => found,
        // A kernel without the query reads the file.
        Err(e) if e.raw_os_error() == Some(libc::ENOTTY) => {
            let mut maps = Vec::new();
            file.take(MAPS_READ_MOST).read_to_end(&mut maps).ok()?;
            locate(&maps, ip)
        }
        Err(_) => None,
    }
}

/// The location of `ip` as the kernel's `PROCMAP_QUERY` on an open maps file gives it: `Ok(None)`
/// where no mapping holds it.
fn query(maps: &std::fs::File, ip: u64) -> std::io::Result<Option<String>> {
    let mut name = vec![0u8; libc::PATH_MAX as usize];
    let mut q = ProcmapQuery {
        size: std::mem::size_of::<ProcmapQuery>() as u64,
        // The mapping that holds the address, none other.
        query_flags: 0,
        query_addr: ip,
        vma_name_size: name.len() as u32,
        vma_name_addr: name.as_mut_ptr() as u64,
        ..ProcmapQuery::default()
    };
    // SAFETY: the ioctl reads and writes `q` (of the size it says) and writes at most
    // `vma_name_size` bytes at `vma_name_addr`, a live buffer of that length.
    let r = unsafe { libc::ioctl(maps.as_raw_fd(), PROCMAP_QUERY, &mut q as *mut ProcmapQuery) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOENT) => Ok(None),
            _ => Err(e),
        };
    }
    // The name's length with its terminating zero, or 0 for a mapping without one.
    let len = (q.vma_name_size as usize).saturating_sub(1).min(name.len());
    Ok(Some(describe(&name[..len], ip, q.vma_start, q.vma_offset)))
}

/// The process (thread group) of thread `tid`, from its `/proc/TID/status`; `None` if that
/// cannot be read.
pub(crate) fn process_of(tid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The location of `ip` in the text of a maps file (`START-END PERMS OFFSET DEV INODE [PATH]`
/// per line, addresses and offset in hex).
fn locate(maps: &[u8], ip: u64) -> Option<String> {
    // Whole lines only: a read cut at the limit ends within one.
    let whole = maps
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |end| end + 1);
    maps[..whole].split(|b| *b == b'\n').find_map(|line| {
        let mut fields = line.splitn(6, |b| *b == b' ');
        let range = fields.next()?;
        let (start, end) = std::str::from_utf8(range).ok()?.split_once('-')?;
        let start = u64::from_str_radix(start, 16).ok()?;
        let end = u64::from_str_radix(end, 16).ok()?;
        if !(start..end).contains(&ip) {
            return None;
        }
        let _perms = fields.next()?;
        let offset = u64::from_str_radix(std::str::from_utf8(fields.next()?).ok()?, 16).ok()?;
        let (_dev, _inode) = (fields.next()?, fields.next()?);
        let path = fields.next().map(|p| p.trim_ascii_start()).unwrap_or(b"");
        Some(describe(path, ip, start, offset))
    })
}

/// `ip` in the mapping named `path` (empty for anonymous memory) that starts at `start`, at
/// `offset` into its file. Wrapping, not checked: the numbers are the kernel's, about a process
/// that may have mapped a device at any offset, and the monitor must not panic on them.
fn describe(path: &[u8], ip: u64, start: u64, offset: u64) -> String {
    let into_mapping = ip.wrapping_sub(start);
    match path {
        b"" => "anonymous memory".to_string(),
        // The kernel's own mappings ([vdso], [stack], [heap], ...): from their start.
        [b'[', ..] => format!("{}+{into_mapping:#x}", printable(path)),
        _ => format!(
            "{}+{:#x}",
            printable(path),
            into_mapping.wrapping_add(offset)
        ),
    }
}

/// A path from the maps as text a terminal or a JSON reader shows as it is: the kernel writes a
/// newline in it as `\012`, and every other character a terminal would act on (a control
/// character, a bidirectional override, a line break) is escaped as the command's own messages
/// escape it (`\u{1b}`). A memfd's name is the sandboxed program's choice, so such a location
/// can look like another (the kernel leaves a `\` as it is): it is a hint, not a proof.
fn printable(path: &[u8]) -> String {
    sandbox_policy::syntax::lexer::comment_safe(&String::from_utf8_lossy(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &[u8] = b"\
55d4c8a00000-55d4c8a02000 r--p 00000000 fd:01 1234 /usr/bin/cat
55d4c8a02000-55d4c8a07000 r-xp 00002000 fd:01 1234 /usr/bin/cat
7f3a10000000-7f3a10021000 rw-p 00000000 00:00 0 
7f3a12628000-7f3a127b0000 r-xp 00028000 fd:01 5678                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f3a12900000-7f3a12901000 r-xp 00000000 00:01 99 /memfd:jit\x1b[2J\xe2\x80\xae (deleted)
7ffd5a1f0000-7ffd5a1f2000 r-xp 00000000 00:00 0                          [vdso]
";

    #[test]
    fn an_address_is_named_by_its_file_and_the_offset_into_it() {
        for (ip, location) in [
            // 0x28000 into the file where the mapping starts, and 0x1234 into the mapping.
            (
                0x7f3a12629234,
                Some("/usr/lib/x86_64-linux-gnu/libc.so.6+0x29234"),
            ),
            (0x55d4c8a02010, Some("/usr/bin/cat+0x2010")),
            (0x7ffd5a1f0abc, Some("[vdso]+0xabc")),
            (0x7f3a10000010, Some("anonymous memory")),
            // A mapping's end is not in it; nothing maps the address.
            (0x55d4c8a07000, None),
            (0x10, None),
        ] {
            assert_eq!(locate(MAPS, ip).as_deref(), location, "{ip:#x}");
        }
        // An offset near the top of the address space wraps rather than panics.
        let far = b"1000-2000 r-xp ffffffffffffff00 00:05 7 /dev/odd\n";
        assert_eq!(locate(far, 0x1100).as_deref(), Some("/dev/odd+0x0"));
        // A line the read cut short names nothing (its path may be cut too).
        let cut = &MAPS[..MAPS.len() - 10];
        assert_eq!(locate(cut, 0x7ffd5a1f0abc), None);
    }

    #[test]
    fn control_characters_in_a_name_are_written_out() {
        assert_eq!(
            locate(MAPS, 0x7f3a12900000).as_deref(),
            Some("/memfd:jit\\u{1b}[2J\\u{202e} (deleted)+0x0")
        );
    }

    #[test]
    fn a_thread_is_found_in_its_process() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() } as u32).unwrap();
            let _ = done_rx.recv();
        });
        let tid = rx.recv().unwrap();
        assert_ne!(tid, std::process::id());
        assert_eq!(process_of(tid), Some(std::process::id()));
        drop(done_tx);
        thread.join().unwrap();
    }

    /// The kernel's answer for one address is what the maps file says of it, where the kernel
    /// has the query (Linux 6.11+; an older one must refuse it as unknown).
    #[test]
    fn the_kernels_query_agrees_with_the_maps_file() {
        let maps = std::fs::File::open("/proc/self/maps").unwrap();
        let text = std::fs::read("/proc/self/maps").unwrap();
        let here = the_kernels_query_agrees_with_the_maps_file as *const () as usize as u64;
        let in_libc = libc::getpid as *const () as usize as u64;
        let heap = Box::new(7u64);
        let on_heap = &*heap as *const u64 as u64;
        for ip in [here, in_libc, on_heap, 0x10] {
            match query(&maps, ip) {
                Ok(found) => assert_eq!(found, locate(&text, ip), "{ip:#x}"),
                Err(e) => {
                    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
                    let mut parts = release.trim().split(['.', '-']);
                    let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok());
                    let version = (next().unwrap_or(0), next().unwrap_or(0));
                    assert!(
                        e.raw_os_error() == Some(libc::ENOTTY) && version < (6, 11),
                        "{e} on {release}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_monitors_own_code_is_found_in_its_own_maps() {
        let ip = the_monitors_own_code_is_found_in_its_own_maps as *const () as usize as u64;
        let found = code_location(std::process::id(), ip).expect("a mapping holds it");
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert!(
            found.starts_with(&format!("{}+0x", exe.display())),
            "{found}"
        );
    }
}
