//! Who made a call the monitor stopped, and from where: the process of the calling thread
//! (the kernel names the thread), and the place in its address space the instruction lies at,
//! read from `/proc/PID/maps` as a file and an offset into it
//! (`/usr/lib/x86_64-linux-gnu/libc.so.6+0x11c5a4`), which `addr2line -e FILE OFFSET` or
//! `objdump` can read without knowing where the loader put the file. The monitor reads both for
//! a violation while the violating call is still blocked.

use std::io::Read;

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
    let mut maps = Vec::new();
    file.take(MAPS_READ_MOST).read_to_end(&mut maps).ok()?;
    locate(&maps, ip)
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
        Some(match path {
            b"" => "anonymous memory".to_string(),
            // The kernel's own mappings ([vdso], [stack], [heap], ...): from their start.
            [b'[', ..] => format!("{}+{:#x}", printable(path), ip - start),
            _ => format!("{}+{:#x}", printable(path), ip - start + offset),
        })
    })
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
