//! Resolution checked against `ldd`, on hand-built ELF files, and against garbled input.

use super::inputs::Inputs;
use super::parse::{parse, ParseError};
use super::search::{expand_exact, ld_so_conf_dirs, wildcard_match, NATIVE_MACHINE};
use super::*;
use std::collections::BTreeSet;
use std::fs;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const BASE: u64 = 0x40_0000;

/// Describes a minimal ELF64 little-endian file to write by hand.
#[derive(Default)]
struct Spec<'a> {
    machine: u16,
    interp: Option<&'a str>,
    needed: &'a [&'a str],
    soname: Option<&'a str>,
    rpath: Option<&'a str>,
    runpath: Option<&'a str>,
    dynamic: bool,
    /// Zero bytes appended to the string table (a large table to read).
    strtab_pad: usize,
}

impl Spec<'_> {
    fn lib(needed: &'static [&'static str]) -> Spec<'static> {
        Spec {
            machine: EM_X86_64,
            needed,
            dynamic: true,
            ..Spec::default()
        }
    }

    /// Lays out: header, program headers, interpreter, string table, dynamic array; one
    /// PT_LOAD maps the whole file at BASE.
    fn build(&self) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut add_str = |s: &str| {
            let at = strtab.len() as u64;
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
            at
        };
        let mut dyns: Vec<(u64, u64)> = self.needed.iter().map(|n| (1, add_str(n))).collect();
        dyns.extend(self.soname.map(|s| (14, add_str(s))));
        dyns.extend(self.rpath.map(|s| (15, add_str(s))));
        dyns.extend(self.runpath.map(|s| (29, add_str(s))));
        strtab.resize(strtab.len() + self.strtab_pad, 0);
        let phnum = 1 + u64::from(self.interp.is_some()) + u64::from(self.dynamic);
        let interp_off = 64 + 56 * phnum;
        let interp = self.interp.map(|s| format!("{s}\0")).unwrap_or_default();
        let strtab_off = interp_off + interp.len() as u64;
        let dyn_off = (strtab_off + strtab.len() as u64).next_multiple_of(8);
        dyns.push((5, BASE + strtab_off));
        dyns.push((10, strtab.len() as u64));
        dyns.push((0, 0));
        let total = dyn_off + 16 * dyns.len() as u64;

        let mut out = Vec::new();
        out.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        out.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN
        out.extend_from_slice(&self.machine.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&BASE.to_le_bytes()); // e_entry
        out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
        out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        for half in [64u16, 56, phnum as u16, 64, 0, 0] {
            out.extend_from_slice(&half.to_le_bytes());
        }
        let mut phdr = |kind: u32, off: u64, size: u64| {
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&4u32.to_le_bytes());
            for word in [off, BASE + off, BASE + off, size, size, 8] {
                out.extend_from_slice(&word.to_le_bytes());
            }
        };
        phdr(1, 0, total);
        if self.interp.is_some() {
            phdr(3, interp_off, interp.len() as u64);
        }
        if self.dynamic {
            phdr(2, dyn_off, 16 * dyns.len() as u64);
        }
        out.extend_from_slice(interp.as_bytes());
        out.extend_from_slice(&strtab);
        out.resize(dyn_off as usize, 0);
        for (tag, val) in dyns {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&val.to_le_bytes());
        }
        out
    }
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("elf-test-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir.canonicalize().unwrap())
    }

    fn write(&self, rel: &str, spec: &Spec<'_>) -> PathBuf {
        let path = self.0.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, spec.build()).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The absolute paths `ldd` reports, without the vDSO.
fn ldd_paths(binary: &str) -> BTreeSet<PathBuf> {
    let out = Command::new("ldd")
        .arg(binary)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .output()
        .expect("ldd runs");
    assert!(out.status.success(), "ldd {binary} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

fn assert_matches_ldd(binary: &str) {
    // .ci/run installs each of these; a missing one fails rather than passing untested.
    assert!(
        Path::new(binary).exists(),
        "{binary} is not installed: install it (see .ci/run) to run this test"
    );
    let deps = resolve(Path::new(binary)).unwrap();
    let ours: BTreeSet<PathBuf> = deps.paths().map(Path::to_path_buf).collect();
    assert_eq!(ours.len(), deps.paths().count(), "duplicates in {deps:?}");
    assert_eq!(ours, ldd_paths(binary), "{binary}");
    assert!(deps.interpreter.is_some());
}

#[test]
fn ls_matches_ldd() {
    assert_matches_ldd("/bin/ls");
}

#[test]
fn cat_matches_ldd() {
    assert_matches_ldd("/bin/cat");
}

#[test]
fn python3_matches_ldd() {
    assert_matches_ldd("/usr/bin/python3");
}

/// Programs whose libraries all sit in the loader's default directories need no cache.
#[test]
fn libraries_in_default_directories_need_no_ld_so_cache() {
    for bin in ["/bin/true", "/usr/bin/python3"] {
        assert!(!resolve(Path::new(bin)).unwrap().needs_ld_so_cache, "{bin}");
    }
}

#[test]
fn resolution_is_stable() {
    assert_eq!(
        resolve(Path::new("/bin/ls")).unwrap(),
        resolve(Path::new("/bin/ls")).unwrap()
    );
}

#[test]
fn static_binary_needs_nothing() {
    let tmp = TempDir::new();
    let spec = Spec {
        machine: EM_X86_64,
        ..Spec::default()
    };
    let bin = tmp.write("static", &spec);
    assert_eq!(resolve(&bin).unwrap(), ElfDeps::default());
}

#[test]
fn origin_runpath_finds_private_library() {
    let tmp = TempDir::new();
    tmp.write("lib/libsbxt-a.so", &Spec::lib(&[]));
    let bin = tmp.write(
        "bin/app",
        &Spec {
            runpath: Some("$ORIGIN/../lib"),
            ..Spec::lib(&["libsbxt-a.so"])
        },
    );
    let deps = resolve(&bin).unwrap();
    assert_eq!(deps.libraries, vec![tmp.0.join("bin/../lib/libsbxt-a.so")]);
    assert_eq!(deps.interpreter, None);
}

#[test]
fn rpath_is_inherited_but_runpath_is_not() {
    let tmp = TempDir::new();
    let lib = tmp.0.join("lib");
    tmp.write("lib/libsbxt-b.so", &Spec::lib(&["libsbxt-c.so"]));
    tmp.write("lib/libsbxt-c.so", &Spec::lib(&[]));
    let with_rpath = tmp.write(
        "rpath-app",
        &Spec {
            rpath: Some(lib.to_str().unwrap()),
            ..Spec::lib(&["libsbxt-b.so"])
        },
    );
    let deps = resolve(&with_rpath).unwrap();
    assert_eq!(
        deps.libraries,
        vec![lib.join("libsbxt-b.so"), lib.join("libsbxt-c.so")]
    );

    let with_runpath = tmp.write(
        "runpath-app",
        &Spec {
            runpath: Some(lib.to_str().unwrap()),
            ..Spec::lib(&["libsbxt-b.so"])
        },
    );
    let err = resolve(&with_runpath).unwrap_err();
    assert!(
        matches!(&err, ElfError::LibraryNotFound { name, needed_by } if name == "libsbxt-c.so" && *needed_by == lib.join("libsbxt-b.so")),
        "{err:?}"
    );
}

#[test]
fn wrong_machine_candidates_are_skipped() {
    let tmp = TempDir::new();
    let arm = Spec {
        machine: EM_AARCH64,
        ..Spec::lib(&[])
    };
    tmp.write("first/libsbxt-d.so", &arm);
    tmp.write("second/libsbxt-d.so", &Spec::lib(&[]));
    fs::write(tmp.0.join("zeroth/libsbxt-d.so").tap_mkdir(), b"not elf").unwrap();
    let bin = tmp.write(
        "app",
        &Spec {
            runpath: Some("$ORIGIN/zeroth:${ORIGIN}/first:$ORIGIN/second"),
            ..Spec::lib(&["libsbxt-d.so"])
        },
    );
    assert_eq!(
        resolve(&bin).unwrap().libraries,
        vec![tmp.0.join("second/libsbxt-d.so")]
    );
}

/// Each directory of the search list up to the one a library is found in is kept with the
/// name looked for there (what a mount could shadow); the directories after it are not.
#[test]
fn the_directories_searched_up_to_each_library_are_kept() {
    let tmp = TempDir::new();
    tmp.write("second/libsbxt-s.so", &Spec::lib(&[]));
    tmp.write("third/libsbxt-s.so", &Spec::lib(&[]));
    let bin = tmp.write(
        "app",
        &Spec {
            runpath: Some("$ORIGIN/first:$ORIGIN/second:$ORIGIN/third"),
            ..Spec::lib(&["libsbxt-s.so"])
        },
    );
    let name = std::ffi::OsString::from("libsbxt-s.so");
    let searched = resolve(&bin).unwrap().searched;
    let want: Vec<_> = ["first", "second"]
        .map(|d| (tmp.0.join(d), vec![name.clone()]))
        .into();
    assert_eq!(searched, want);
}

/// `$PLATFORM` is searched as the loader searches it (this machine's platform), and each place
/// `$LIB` may stand for is kept as searched, though no library is taken from one: the loader
/// may look elsewhere.
#[test]
fn platform_is_searched_and_lib_places_are_kept_as_searched() {
    let tmp = TempDir::new();
    let platform = if cfg!(target_arch = "x86_64") {
        "x86_64"
    } else {
        "aarch64"
    };
    // Found under `$LIB`'s values too, but taken from `$PLATFORM`'s place, after them.
    for dir in ["lib64", "lib", platform, "last"] {
        tmp.write(&format!("{dir}/libsbxt-p.so"), &Spec::lib(&[]));
    }
    let bin = tmp.write(
        "app",
        &Spec {
            runpath: Some("$ORIGIN/$LIB:$ORIGIN/$PLATFORM:$ORIGIN/last"),
            ..Spec::lib(&["libsbxt-p.so"])
        },
    );
    let deps = resolve(&bin).unwrap();
    assert_eq!(
        deps.libraries,
        vec![tmp.0.join(platform).join("libsbxt-p.so")]
    );
    let searched: Vec<PathBuf> = deps.searched.into_iter().map(|(dir, _)| dir).collect();
    let triplet = format!("lib/{platform}-linux-gnu");
    let mut want: Vec<PathBuf> = [triplet.as_str(), "lib64", "lib", platform]
        .map(|d| tmp.0.join(d))
        .into();
    want.sort();
    assert_eq!(searched, want);
    // Three `$LIB` in one entry stand for too many places to check: refused, not skipped.
    let bin = tmp.write(
        "app-3",
        &Spec {
            runpath: Some("/x/$LIB/$LIB/$LIB:$ORIGIN/last"),
            ..Spec::lib(&["libsbxt-p.so"])
        },
    );
    let e = resolve(&bin).unwrap_err();
    assert!(e.to_string().contains("`$LIB`"), "{e}");
}

#[test]
fn cycles_and_duplicates_load_once() {
    let tmp = TempDir::new();
    tmp.write(
        "libsbxt-e.so",
        &Spec {
            soname: Some("libsbxt-e.so"),
            runpath: Some("$ORIGIN"),
            ..Spec::lib(&["libsbxt-f.so"])
        },
    );
    tmp.write(
        "libsbxt-f.so",
        &Spec {
            runpath: Some("$ORIGIN"),
            ..Spec::lib(&["libsbxt-e.so"])
        },
    );
    let bin = tmp.write(
        "app",
        &Spec {
            runpath: Some("$ORIGIN"),
            ..Spec::lib(&["libsbxt-e.so", "libsbxt-f.so", "libsbxt-e.so"])
        },
    );
    assert_eq!(
        resolve(&bin).unwrap().libraries,
        vec![tmp.0.join("libsbxt-e.so"), tmp.0.join("libsbxt-f.so")]
    );
}

#[test]
fn needed_name_with_slash_is_a_path() {
    let tmp = TempDir::new();
    let lib = tmp.write("sub/libsbxt-g.so", &Spec::lib(&[]));
    let bin = tmp.write("app", &Spec::lib(&["$ORIGIN/sub/libsbxt-g.so"]));
    assert_eq!(resolve(&bin).unwrap().libraries, vec![lib]);
}

#[test]
fn missing_interpreter_is_reported() {
    let tmp = TempDir::new();
    let bin = tmp.write(
        "app",
        &Spec {
            interp: Some("/nonexistent/ld.so"),
            ..Spec::lib(&[])
        },
    );
    assert!(matches!(
        resolve(&bin),
        Err(ElfError::LibraryNotFound { name, .. }) if name == "/nonexistent/ld.so"
    ));
}

/// A hostile binary whose interpreter (or which itself) is a FIFO or a device: nothing is
/// opened for reading or waited on (a FIFO with no writer would block the host forever).
#[test]
fn a_fifo_or_a_device_is_not_read() {
    let tmp = TempDir::new();
    let fifo = tmp.0.join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: c is a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let interp = fifo.to_str().unwrap().to_string();
    let bin = tmp.write(
        "app",
        &Spec {
            interp: Some(&interp),
            ..Spec::lib(&[])
        },
    );
    let err = resolve(&bin).unwrap_err();
    assert!(
        matches!(&err, ElfError::NotRegular(p) if *p == fifo),
        "{err:?}"
    );
    assert!(matches!(resolve(&fifo), Err(ElfError::NotRegular(p)) if p == fifo));
    let tty = Path::new("/dev/tty");
    assert!(matches!(
        resolve(tty),
        Err(ElfError::NotRegular(_) | ElfError::Io { .. })
    ));
}

#[test]
fn non_elf_and_unsupported_files_are_named() {
    let tmp = TempDir::new();
    let script = tmp.0.join("script.sh");
    fs::write(&script, "#!/bin/sh\n").unwrap();
    assert!(matches!(resolve(&script), Err(ElfError::NotElf(p)) if p == script));

    let mut elf32 = Spec::lib(&[]).build();
    elf32[4] = 1;
    let path = tmp.0.join("elf32");
    fs::write(&path, &elf32).unwrap();
    let err = resolve(&path).unwrap_err();
    assert!(matches!(&err, ElfError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("64-bit"), "{err}");

    let mut big_endian = Spec::lib(&[]).build();
    big_endian[5] = 2;
    fs::write(&path, &big_endian).unwrap();
    assert!(matches!(resolve(&path), Err(ElfError::Unsupported { .. })));

    assert!(matches!(
        resolve(&tmp.0.join("missing")),
        Err(ElfError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound
    ));
}

#[test]
fn truncated_headers_are_truncated() {
    let bytes = Spec::lib(&["libc.so.6"]).build();
    assert!(matches!(parse(&bytes[..40]), Err(ParseError::Truncated(_))));
    assert!(matches!(
        parse(&bytes[..100]),
        Err(ParseError::Truncated(_))
    ));
    assert!(matches!(parse(&b"\x7fEL"[..]), Err(ParseError::NotElf)));
}

/// A small deterministic generator for the garbling test.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn garbled_and_truncated_input_never_panics() {
    let mut samples = vec![Spec {
        interp: Some("/lib64/ld-linux-x86-64.so.2"),
        rpath: Some("$ORIGIN"),
        soname: Some("x"),
        ..Spec::lib(&["libc.so.6", "libm.so.6"])
    }
    .build()];
    if let Ok(ls) = fs::read("/bin/ls") {
        samples.push(ls);
    }
    let mut rng = Lcg(0x5eed);
    for sample in &samples {
        for cut in (0..sample.len().min(4096)).step_by(7) {
            let _ = parse(&sample[..cut]);
        }
        for _ in 0..2000 {
            let mut bytes = sample.clone();
            for _ in 0..1 + rng.next() % 8 {
                let at = (rng.next() as usize) % bytes.len().min(8192);
                bytes[at] = rng.next() as u8;
            }
            let _ = parse(&bytes[..]);
        }
    }
}

#[test]
fn parse_reads_what_was_written() {
    let bytes = Spec {
        interp: Some("/lib/ld.so"),
        soname: Some("libme.so.1"),
        rpath: Some("/r"),
        runpath: Some("/rp"),
        ..Spec::lib(&["liba.so", "libb.so"])
    }
    .build();
    let info = parse(&bytes[..]).unwrap();
    assert_eq!(info.machine, EM_X86_64);
    assert_eq!(info.interp.as_deref(), Some(OsStr::new("/lib/ld.so")));
    assert_eq!(
        info.needed,
        vec![OsString::from("liba.so"), OsString::from("libb.so")]
    );
    assert_eq!(info.soname.as_deref(), Some(OsStr::new("libme.so.1")));
    assert_eq!(info.rpath.as_deref(), Some(OsStr::new("/r")));
    assert_eq!(info.runpath.as_deref(), Some(OsStr::new("/rp")));
}

#[test]
fn ld_so_conf_follows_includes_in_order() {
    let tmp = TempDir::new();
    fs::create_dir_all(tmp.0.join("conf.d")).unwrap();
    fs::write(tmp.0.join("conf.d/b.conf"), "/b/lib # comment\n").unwrap();
    fs::write(tmp.0.join("conf.d/a.conf"), "/a/lib\n/a/lib\n").unwrap();
    fs::write(tmp.0.join("conf.d/skip.txt"), "/never\n").unwrap();
    fs::write(tmp.0.join("loop.conf"), "include loop.conf\n/loop\n").unwrap();
    fs::write(
        tmp.0.join("ld.so.conf"),
        "/first\ninclude conf.d/*.conf\ninclude loop.conf\n/last=libc6\nhwcap 0 x\n",
    )
    .unwrap();
    let dirs = ld_so_conf_dirs(&tmp.0.join("ld.so.conf"), &Inputs::default());
    let expected: Vec<PathBuf> = ["/first", "/a/lib", "/b/lib", "/loop", "/last"]
        .map(PathBuf::from)
        .into();
    assert_eq!(dirs, expected);
}

#[test]
fn origin_tokens_expand_and_others_stay() {
    let origin = Path::new("/opt/app/bin");
    let exact = |name: &[u8]| expand_exact(name, origin, NATIVE_MACHINE);
    assert_eq!(
        exact(b"$ORIGIN/../lib"),
        Some(PathBuf::from("/opt/app/bin/../lib"))
    );
    assert_eq!(exact(b"${ORIGIN}"), Some(PathBuf::from("/opt/app/bin")));
    // `$LIB` leaves open which path; an unknown `$` stays, as the loader keeps it.
    assert_eq!(exact(b"/usr/$LIB"), None);
    assert_eq!(exact(b"$ORIGINAL"), Some(PathBuf::from("$ORIGINAL")));
    assert!(wildcard_match("*.conf", "x.conf"));
    assert!(!wildcard_match("*.conf", ".hidden.conf"));
    assert!(!wildcard_match("a*b*c", "abx"));
}

/// Creates the parent directory of a path, for brevity in tests.
trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        fs::create_dir_all(self.parent().unwrap()).unwrap();
        self
    }
}

/// Broad check against `ldd` over every dynamic binary in /usr/bin; slow, so run on demand
/// with `cargo test -p sandbox-runtime --lib elf -- --ignored`.
#[test]
#[ignore]
fn every_usr_bin_matches_ldd() {
    let mut mismatches = Vec::new();
    for entry in fs::read_dir("/usr/bin").unwrap().filter_map(Result::ok) {
        let path = entry.path();
        let Ok(deps) = resolve(&path) else { continue };
        if deps.interpreter.is_none() {
            continue;
        }
        let ours: BTreeSet<PathBuf> = deps.paths().map(Path::to_path_buf).collect();
        let theirs = ldd_paths(path.to_str().unwrap());
        // Through a symlink, `ldd` takes $ORIGIN from the link's directory (it runs the loader
        // on the path) while exec uses the real path; those binaries show "not found" in ldd.
        let ldd_gave_up = theirs.len() < ours.len() && path.is_symlink();
        if ours != theirs && !ldd_gave_up {
            mismatches.push(format!("{}: ours {ours:?} ldd {theirs:?}", path.display()));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Resolves `bin` from the root, noting what it reads in a fresh record.
fn resolve_noting(bin: &Path) -> (Result<ElfDeps, ElfError>, Inputs) {
    let inputs = Inputs::default();
    (resolve_in(Path::new("/"), bin, None, &inputs), inputs)
}

#[test]
fn what_a_resolution_read_shows_every_change_to_it() {
    let tmp = TempDir::new();
    fs::create_dir_all(tmp.0.join("first")).unwrap();
    tmp.write("second/libsbxt-r.so", &Spec::lib(&[]));
    let bin = tmp.write(
        "app",
        &Spec {
            runpath: Some("$ORIGIN/first:$ORIGIN/second"),
            ..Spec::lib(&["libsbxt-r.so"])
        },
    );
    let (deps, inputs) = resolve_noting(&bin);
    assert_eq!(
        deps.unwrap().libraries,
        vec![tmp.0.join("second/libsbxt-r.so")]
    );
    assert!(inputs.unchanged(), "nothing changed yet");
    assert!(inputs.racy(), "files made just now are racy");

    // A library added to a directory searched ahead of the one found.
    let ahead = tmp.write("first/libsbxt-r.so", &Spec::lib(&[]));
    assert!(!inputs.unchanged(), "a library added ahead went unseen");
    let (deps, inputs) = resolve_noting(&bin);
    assert_eq!(deps.unwrap().libraries, vec![ahead.clone()]);

    // A library rewritten in place: it now needs another one, next to it.
    let needs_more = Spec {
        runpath: Some("$ORIGIN"),
        ..Spec::lib(&["libsbxt-s.so"])
    };
    tmp.write("first/libsbxt-r.so", &needs_more);
    assert!(
        !inputs.unchanged(),
        "a library rewritten in place went unseen"
    );
    let (deps, inputs) = resolve_noting(&bin);
    assert!(deps.is_err(), "libsbxt-s.so does not exist: {deps:?}");

    // A missing library that appears.
    tmp.write("first/libsbxt-s.so", &Spec::lib(&[]));
    assert!(!inputs.unchanged(), "a library made since went unseen");
    let (_, inputs) = resolve_noting(&bin);

    // The binary replaced by an identical copy renamed over it.
    let copy = tmp.0.join("app.new");
    fs::copy(&bin, &copy).unwrap();
    fs::rename(&copy, &bin).unwrap();
    assert!(!inputs.unchanged(), "a binary renamed over went unseen");
}

#[test]
fn a_symbolic_link_moved_to_another_copy_changes_what_was_read() {
    let tmp = TempDir::new();
    let a = tmp.write("a/app", &Spec::lib(&[]));
    let b = tmp.0.join("b/app");
    fs::create_dir_all(b.parent().unwrap()).unwrap();
    // A hard link: the same file (device, inode, times) in another directory, so only the
    // canonical path, and with it $ORIGIN, tells the two apart.
    fs::hard_link(&a, &b).unwrap();
    let link = tmp.0.join("app");
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let (_, inputs) = resolve_noting(&link);
    assert!(inputs.unchanged());
    fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&b, &link).unwrap();
    assert!(!inputs.unchanged(), "$ORIGIN moved unseen");
}

#[test]
fn a_remembered_resolution_is_what_resolve_gives() {
    let fresh = resolve(Path::new("/bin/true")).unwrap();
    for _ in 0..3 {
        assert_eq!(
            resolve_remembered(Path::new("/bin/true"), None).unwrap(),
            fresh
        );
    }
    // The system's files changed long ago: the result is kept for the next spawn.
    assert!(remembered::is_remembered(Path::new("/bin/true")));
    // A racy result (files made just now) is resolved afresh each time, changes included.
    let tmp = TempDir::new();
    let bin = tmp.write(
        "app",
        &Spec {
            runpath: Some("$ORIGIN/lib"),
            ..Spec::lib(&["libsbxt-t.so"])
        },
    );
    assert!(resolve_remembered(&bin, None).is_err());
    let lib = tmp.write("lib/libsbxt-t.so", &Spec::lib(&[]));
    assert_eq!(resolve_remembered(&bin, None).unwrap().libraries, vec![lib]);
    assert!(!remembered::is_remembered(&bin), "a racy result was kept");
}

#[test]
fn a_read_failing_for_want_of_resources_is_not_what_the_files_say() {
    let about_the_path = Inputs::default();
    about_the_path.failed(&std::io::Error::from_raw_os_error(libc::ENOENT));
    about_the_path.failed(&std::io::Error::from(std::io::ErrorKind::InvalidData));
    assert!(!about_the_path.racy());
    let out_of_descriptors = Inputs::default();
    out_of_descriptors.failed(&std::io::Error::from_raw_os_error(libc::EMFILE));
    assert!(out_of_descriptors.racy());
}

/// A library needing `needed` (names made at run time).
fn needing<'a>(needed: &'a [&'a str]) -> Spec<'a> {
    Spec {
        machine: EM_X86_64,
        needed,
        dynamic: true,
        ..Spec::default()
    }
}

/// Many `DT_NEEDED` entries naming one long string would each copy it: more than the parser
/// reads is refused at once, and so is a name longer than any path the loader can open.
#[test]
fn needed_names_are_bounded_in_number_and_length() {
    let tmp = TempDir::new();
    let many: Vec<&str> = vec!["libsbxt-same.so"; 1025];
    let bin = tmp.write("many", &needing(&many));
    let e = resolve(&bin).unwrap_err();
    assert!(e.to_string().contains("1025 DT_NEEDED entries"), "{e}");
    let long = "l".repeat(5000);
    let bin = tmp.write("long", &needing(&[long.as_str()]));
    let e = resolve(&bin).unwrap_err();
    assert!(e.to_string().contains("library name of 5000 bytes"), "{e}");
}

/// One library found again at another path (here through `/proc/self/root`) is the same file:
/// loaded once, as the loader, which matches files by device and inode, loads it, but its
/// other path is bound too, since the loader inside opens that path before it knows. (Whether
/// the second path is loaded again does not show in the list: this checks the binding.)
#[test]
fn a_library_found_at_another_path_is_bound_at_both() {
    let tmp = TempDir::new();
    let lib = tmp.write("libsbxt-one.so", &Spec::lib(&[]));
    let again = PathBuf::from(format!("/proc/self/root{}", lib.display()));
    let again_text = again.to_str().unwrap().to_owned();
    let first = lib.to_str().unwrap().to_owned();
    let bin = tmp.write("app", &needing(&[first.as_str(), again_text.as_str()]));
    assert_eq!(resolve(&bin).unwrap().libraries, vec![lib, again]);
}

/// A search path of thousands of directories is looked through in time linear in its length
/// (each directory is looked up once per name, and each look is remembered in constant time),
/// and one longer than 64 KiB is refused.
#[test]
fn a_long_runpath_is_looked_through_in_linear_time() {
    let tmp = TempDir::new();
    let lib = tmp.write("lib/libsbxt-far.so", &Spec::lib(&[]));
    // As many directories as the longest list read holds (64 KiB).
    let dirs: Vec<String> = (0..10_900).map(|i| format!("/{i:x}")).collect();
    let runpath = format!("{}:$ORIGIN/lib", dirs.join(":"));
    let bin = tmp.write(
        "app",
        &Spec {
            runpath: Some(&runpath),
            ..needing(&["libsbxt-far.so"])
        },
    );
    let started = std::time::Instant::now();
    assert_eq!(resolve(&bin).unwrap().libraries, vec![lib]);
    let took = started.elapsed();
    eprintln!("{} directories looked through in {took:?}", dirs.len());
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
}

/// A program header count past the kernel's own bound is refused before anything is read: a
/// sparse file claiming a huge table (`PN_XNUM` with a large `sh_info`) would otherwise have the
/// host allocate and read that much.
#[test]
fn a_huge_program_header_table_is_refused_unread() {
    let tmp = TempDir::new();
    let mut bytes = Spec::lib(&[]).build();
    // e_phnum = PN_XNUM; e_shoff at the end of the file, where section header 0's sh_info
    // (at +44) holds the real count: 2^32 - 1 entries, about 240 GB.
    let shoff = bytes.len() as u64;
    bytes[40..48].copy_from_slice(&shoff.to_le_bytes());
    bytes[56..58].copy_from_slice(&0xffffu16.to_le_bytes());
    bytes.resize(bytes.len() + 64, 0);
    let at = shoff as usize + 44;
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let path = tmp.0.join("xnum");
    fs::write(&path, &bytes).unwrap();
    // Sparse: as long as the table claims, without the disk space.
    let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(300 << 30).unwrap();
    let e = resolve(&path).unwrap_err();
    assert!(e.to_string().contains("program headers"), "{e}");
}

/// An interpreter built for another machine is refused, not bound: the kernel would not run it.
#[test]
fn an_interpreter_for_another_machine_is_refused() {
    let tmp = TempDir::new();
    let interp = tmp.write(
        "ld-other.so",
        &Spec {
            machine: EM_AARCH64,
            ..Spec::lib(&[])
        },
    );
    let interp_text = interp.to_str().unwrap().to_owned();
    let bin = tmp.write(
        "app",
        &Spec {
            interp: Some(&interp_text),
            ..Spec::lib(&[])
        },
    );
    let e = resolve(&bin).unwrap_err();
    assert!(
        e.to_string().contains("interpreter for another machine"),
        "{e}"
    );
}

/// Libraries each found only at the end of a long search list would have the host look up
/// millions of paths: past 2^18 tries (a large program takes a few thousand) the resolution
/// stops with an error.
#[test]
fn the_paths_tried_for_libraries_are_bounded() {
    let tmp = TempDir::new();
    let names: Vec<String> = (0..30).map(|i| format!("libsbxt-n{i}.so")).collect();
    for n in &names {
        tmp.write(&format!("lib/{n}"), &Spec::lib(&[]));
    }
    let needed: Vec<&str> = names.iter().map(String::as_str).collect();
    // A binary needing every name, whose RUNPATH lists `dirs` before the one holding them.
    let refused = |name: &str, dirs: Vec<String>| {
        let runpath = format!("{}:$ORIGIN/lib", dirs.join(":"));
        let bin = tmp.write(
            name,
            &Spec {
                runpath: Some(&runpath),
                ..needing(&needed)
            },
        );
        let e = resolve(&bin).unwrap_err();
        assert!(e.to_string().contains("paths to find"), "{name}: {e}");
    };
    refused("app", (0..10_900).map(|i| format!("/{i:x}")).collect());
    // Places `$LIB` may stand for count too, though no library is taken from them.
    refused(
        "app-lib",
        (0..3_700).map(|i| format!("/{i:x}/$LIB")).collect(),
    );
}

/// Every candidate tried is read, string table and all: a search list of links to one
/// directory holding a large file of another machine under the needed name would have the host
/// read it again for each link. Past 256 MiB read the resolution stops with an error.
#[test]
fn the_bytes_read_for_libraries_are_bounded() {
    let tmp = TempDir::new();
    tmp.write(
        "big/libsbxt-big.so",
        &Spec {
            machine: EM_AARCH64,
            soname: Some("libsbxt-big.so"),
            strtab_pad: (16 << 20) - (64 << 10),
            ..Spec::lib(&[])
        },
    );
    tmp.write("real/libsbxt-big.so", &Spec::lib(&[]));
    let mut runpath = Vec::new();
    for i in 0..20 {
        std::os::unix::fs::symlink("big", tmp.0.join(format!("s{i}"))).unwrap();
        runpath.push(format!("$ORIGIN/s{i}"));
    }
    runpath.push("$ORIGIN/real".into());
    let runpath = runpath.join(":");
    let bin = tmp.write(
        "app",
        &Spec {
            runpath: Some(&runpath),
            ..Spec::lib(&["libsbxt-big.so"])
        },
    );
    let e = resolve(&bin).unwrap_err();
    assert!(e.to_string().contains("MiB of ELF headers"), "{e}");
}

/// An `LD_LIBRARY_PATH` is split at `:` and `;` as the loader splits it; `$ORIGIN` is the
/// executable's directory; relative entries (the program's working directory inside) are left
/// out.
#[test]
fn library_path_entries_are_absolute_or_from_origin() {
    let dirs: Vec<PathBuf> = search::library_path_dirs(
        std::ffi::OsStr::new("rel:/abs:$ORIGIN/x;/semi::${ORIGIN}:$FOO/y"),
        Path::new("/opt/app/bin"),
        NATIVE_MACHINE,
    )
    .unwrap()
    .into_iter()
    .map(|d| d.path)
    .collect();
    let want = ["/abs", "/opt/app/bin/x", "/semi", "/opt/app/bin"].map(PathBuf::from);
    assert_eq!(dirs, want);
}
