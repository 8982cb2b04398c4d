//! Finds the shared libraries a dynamic ELF binary needs, the way the glibc loader does, so the
//! runtime can bind-mount exactly those files into the sandbox.
//!
//! # What is returned
//!
//! [`resolve`] returns the paths the loader will *open*: the `PT_INTERP` interpreter and, in
//! breadth-first load order, every library reached through `DT_NEEDED`. Paths are absolute
//! but not canonicalised, because the loader opens (and `ldd` prints) the search directory
//! joined with the name. Some are symlinks on the host (`/lib64/ld-linux-x86-64.so.2`, or
//! everything under `/lib` on merged-`/usr` systems); that is fine for the intended use,
//! bind-mounting each path onto the same path in a fresh root: a bind mount follows symlinks
//! in its source, so the destination (created as a plain file, with real directories above
//! it) holds the target's contents at exactly the path the loader asks for.
//!
//! # How libraries are searched
//!
//! For each `DT_NEEDED` name of an object, as `ld.so` does:
//! 1. an already loaded object whose load name or `DT_SONAME` matches satisfies it (this is
//!    how libc's need for `ld-linux-x86-64.so.2` is met by the interpreter);
//! 2. a name containing `/` is used as a path (`$ORIGIN` expanded, relative to the current
//!    directory);
//! 3. otherwise, if the loading object has no `DT_RUNPATH`, the `DT_RPATH` of the loading
//!    object and of each object that loaded it, up to the executable;
//! 4. the `LD_LIBRARY_PATH` the sandbox's program gets, when the caller gives one
//!    ([`resolve_with_library_path`]; its absolute and `$ORIGIN` entries): never the host's own
//!    environment, which should not widen what is mounted;
//! 5. the loading object's `DT_RUNPATH`;
//! 6. the directories of `/etc/ld.so.conf` (following `include`), in place of
//!    `/etc/ld.so.cache`, then `/lib/<multiarch>`, `/usr/lib/<multiarch>`, `/lib`, `/usr/lib`,
//!    `/lib64`, `/usr/lib64`.
//!
//! `$ORIGIN` is expanded to the directory of the executable's canonical path, or of the path
//! a library was found at. A candidate that is not a 64-bit little-endian ELF for the same
//! machine as the binary is skipped, like the loader skips objects of the wrong class.
//! `$PLATFORM` is this machine's `AT_PLATFORM`; `$LIB`, whose value is built into the loader,
//! stands for each usual value (`lib/<multiarch>`, `lib64`, `lib`): those places count as
//! searched (a mount there may not shadow a library found later) but no library is taken from
//! them; a `$` that starts no token stays, as the loader keeps it (module `tokens`).
//! Not modelled: `glibc-hwcaps` and legacy hwcap subdirectories (the spawn checks the usual
//! ones, `loader_subdirs`), `DT_FLAGS_1` `NODEFLIB`, and preloading.
//!
//! The parser is written by hand and bounds-checks every read, so a hostile file yields an error,
//! never a panic. A hostile file cannot make the host read, hold or search without bound either:
//! at most 64 KiB of program headers (the kernel's own bound), 1,024 `DT_NEEDED` entries of at
//! most 4 KiB each, 64 KiB search path lists, 64 MiB of such strings over all objects, 4,096
//! objects, 2^18 paths tried and 256 MiB read from ELF files in all; a file found again at another
//! path (by device and inode, as the loader matches) is not loaded again, its other path returned
//! as a library too, since the loader opens it before it knows; and each path looked at is
//! remembered in constant time.

mod inputs;
mod parse;
mod remembered;
mod search;
mod tokens;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use inputs::Inputs;
use parse::{ElfInfo, FileSource, ParseError};
pub use remembered::resolve_remembered;
use search::SearchDir;

/// Most objects one binary may pull in before resolution stops with an error.
const MAX_OBJECTS: usize = 4096;

/// Most paths one resolution may try for libraries: a hostile binary's libraries could each
/// need a thousand names found only at the end of a search list of thousands of directories.
const MAX_TRIES: usize = 1 << 18;

/// Most bytes one resolution may read from ELF files: every candidate tried is parsed (up to
/// 16 MiB of string table), so a hostile search list of copies of one large file would
/// otherwise read gigabytes.
const MAX_READ: u64 = 256 << 20;

/// Most bytes of names and search paths the loaded objects may hold in all (each object's are
/// bounded by the parser): a hostile binary's libraries could otherwise name gigabytes.
const MAX_STRING_BYTES: usize = 64 << 20;

/// The files a dynamic binary needs at load time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfDeps {
    /// The program interpreter (`PT_INTERP`), `None` for static binaries.
    pub interpreter: Option<PathBuf>,
    /// Shared libraries in load order, deduplicated, excluding the interpreter.
    pub libraries: Vec<PathBuf>,
    /// Whether a library was found in an `ld.so.conf` directory the loader does not search by
    /// default (`/usr/local/lib`, say): the loader finds it there through `/etc/ld.so.cache`
    /// only, which must then be visible to it too.
    pub needs_ld_so_cache: bool,
    /// Where the loader looks for each library it finds through a search list: every
    /// directory of the list up to and including the one it finds the library in, with the
    /// name it looks for (the loader also looks in some subdirectories of each first: the
    /// `glibc-hwcaps` ones, `tls` and the platform's). A mount that shows another file of
    /// that name at one of these places, before the library's own, would be loaded instead.
    /// Each directory once, with every name looked for in it.
    pub searched: Vec<(PathBuf, Vec<OsString>)>,
}

impl ElfDeps {
    /// The interpreter (if any) followed by the libraries: every path to make visible.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.interpreter
            .iter()
            .chain(self.libraries.iter())
            .map(PathBuf::as_path)
    }
}

/// Why the dependencies of a binary could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// The file does not start with the ELF magic.
    #[error("{0}: not an ELF file")]
    NotElf(PathBuf),
    /// A header, table or string points outside the file or is malformed.
    #[error("{path}: truncated or malformed ELF ({what})")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The structure that did not fit.
        what: &'static str,
    },
    /// A valid ELF of a kind we do not handle (32-bit, big-endian, not executable).
    #[error("{path}: unsupported ELF: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is unsupported.
        reason: String,
    },
    /// The path names something other than a regular file (a FIFO, a device, a directory),
    /// which is neither opened for reading nor waited on.
    #[error("{}: not a regular file", .0.display())]
    NotRegular(PathBuf),
    /// No search directory holds a suitable library of this name.
    #[error("library {name} needed by {} not found", needed_by.display())]
    LibraryNotFound {
        /// The `DT_NEEDED` name (or interpreter path).
        name: String,
        /// The object that needs it.
        needed_by: PathBuf,
    },
    /// Reading a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// Resolves the interpreter and shared libraries `binary` needs, like the loader would.
pub fn resolve(binary: &Path) -> Result<ElfDeps, ElfError> {
    resolve_in(&current_dir(), binary, None, &Inputs::default())
}

/// [`resolve`] for a program whose environment holds `LD_LIBRARY_PATH=library_path`.
pub fn resolve_with_library_path(binary: &Path, library_path: &OsStr) -> Result<ElfDeps, ElfError> {
    resolve_in(
        &current_dir(),
        binary,
        Some(library_path),
        &Inputs::default(),
    )
}

/// The subdirectories of a search directory the loader looks in before the directory itself,
/// for this machine: the `glibc-hwcaps` ones of its CPU levels (glibc 2.33+) and the legacy
/// `tls` and platform ones (before glibc 2.37). Where the CPU lacks a level the loader passes
/// it over; counting it anyway only checks more places.
pub(crate) fn loader_subdirs() -> &'static [&'static str] {
    #[cfg(target_arch = "x86_64")]
    const SUBDIRS: &[&str] = &[
        "glibc-hwcaps/x86-64-v4",
        "glibc-hwcaps/x86-64-v3",
        "glibc-hwcaps/x86-64-v2",
        "tls/x86_64/x86_64",
        "tls/x86_64",
        "tls",
        "x86_64/x86_64",
        "x86_64",
    ];
    #[cfg(target_arch = "aarch64")]
    const SUBDIRS: &[&str] = &["tls/aarch64", "tls", "aarch64"];
    SUBDIRS
}

/// Checks that `binary` is a program this machine runs as far as its ELF header tells: a
/// 64-bit little-endian executable or shared object (what the kernel refuses otherwise with
/// `ENOEXEC`) of this machine's type. [`ElfError::NotElf`] and [`ElfError::Unsupported`] say
/// which it is not; other errors are about reading it.
pub fn check_runnable(binary: &Path) -> Result<(), ElfError> {
    let info = read_elf(binary, &Inputs::default())?;
    if info.machine != search::NATIVE_MACHINE {
        return Err(ElfError::Unsupported {
            path: binary.to_path_buf(),
            reason: format!(
                "built for another machine (e_machine {}, where this one's is {})",
                info.machine,
                search::NATIVE_MACHINE
            ),
        });
    }
    Ok(())
}

/// The current directory, which a relative binary, and relative `DT_RPATH` and `DT_RUNPATH`
/// entries, are taken against; `.` where it has no name (removed, or a parent unreadable), so
/// that only what is looked up in it fails, as it would for the loader.
fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// [`resolve`] with `cwd` as the current directory, noting in `inputs` every path it reads or
/// looks for.
fn resolve_in(
    cwd: &Path,
    binary: &Path,
    library_path: Option<&OsStr>,
    inputs: &Inputs,
) -> Result<ElfDeps, ElfError> {
    let path = cwd.join(binary);
    let info = read_elf(&path, inputs)?;
    let canonical = inputs.canonicalize(&path).map_err(|source| ElfError::Io {
        path: path.clone(),
        source,
    })?;
    let origin = canonical.parent().unwrap_or(Path::new("/")).to_path_buf();
    let too_long = |list: &&OsStr| list.len() > parse::MAX_PATH_LIST_LEN;
    if let Some(list) = library_path.filter(too_long) {
        return Err(ElfError::Unsupported {
            path,
            reason: format!(
                "an LD_LIBRARY_PATH of {} bytes (at most {} are read)",
                list.len(),
                parse::MAX_PATH_LIST_LEN
            ),
        });
    }
    let mut resolver = Resolver {
        cwd: cwd.to_path_buf(),
        library_path: library_path
            .map(|list| search::library_path_dirs(list, &origin, info.machine))
            .transpose()
            .map_err(|_| too_many_lib_tokens(&path))?
            .unwrap_or_default(),
        system_dirs: search::system_dirs(info.machine, inputs),
        machine: info.machine,
        objects: Vec::new(),
        names: HashSet::new(),
        paths: HashSet::new(),
        files: HashSet::new(),
        aliases: Vec::new(),
        string_bytes: 0,
        tries: std::cell::Cell::new(0),
        searched: HashMap::new(),
        inputs,
    };
    resolver.add(path.clone(), origin, info, None, None);
    let interpreter = resolver.load_interpreter(&path)?;
    resolver.load_all()?;
    let defaults = search::default_dirs(resolver.machine);
    let from_conf_only = |p: &PathBuf| {
        p.parent().is_some_and(|dir| {
            !defaults.iter().any(|d| d == dir) && resolver.system_dirs.iter().any(|d| d == dir)
        })
    };
    let libraries: Vec<PathBuf> = resolver
        .objects
        .into_iter()
        .skip(1)
        .map(|o| o.path)
        .filter(|p| Some(p) != interpreter.as_ref())
        .chain(resolver.aliases)
        .collect();
    let needs_ld_so_cache = libraries.iter().any(from_conf_only);
    Ok(ElfDeps {
        interpreter,
        libraries,
        needs_ld_so_cache,
        searched: in_order(resolver.searched),
    })
}

/// The error for a search list entry holding more `$LIB` than the resolver follows.
fn too_many_lib_tokens(binary: &Path) -> ElfError {
    ElfError::Unsupported {
        path: binary.to_path_buf(),
        reason: format!(
            "a library search list entry with more than {} `$LIB` (the places the loader may look are too many to check)",
            tokens::MOST_LIB_TOKENS
        ),
    }
}

/// The directories searched, each with its names, sorted (hashed while resolving: a hostile
/// binary's search lists hold long paths that share long beginnings, slow to keep in order).
fn in_order(searched: HashMap<PathBuf, HashSet<OsString>>) -> Vec<(PathBuf, Vec<OsString>)> {
    let mut dirs: Vec<(PathBuf, Vec<OsString>)> = searched
        .into_iter()
        .map(|(dir, names)| {
            let mut names: Vec<OsString> = names.into_iter().collect();
            names.sort();
            (dir, names)
        })
        .collect();
    dirs.sort();
    dirs
}

/// One loaded object.
struct Object {
    path: PathBuf,
    origin: PathBuf,
    info: ElfInfo,
    /// Index of the object whose `DT_NEEDED` loaded this one.
    loader: Option<usize>,
}

/// Breadth-first loading state.
struct Resolver<'a> {
    cwd: PathBuf,
    /// The directories of the program's `LD_LIBRARY_PATH`, if it gets one.
    library_path: Vec<SearchDir>,
    system_dirs: Vec<PathBuf>,
    machine: u16,
    objects: Vec<Object>,
    /// Load names and sonames of loaded objects.
    names: HashSet<OsString>,
    /// Paths of loaded objects, and of the other paths they were found at (`aliases`).
    paths: HashSet<PathBuf>,
    /// Device and inode of each loaded object: the loader loads a file once, whatever path
    /// it is found at.
    files: HashSet<(u64, u64)>,
    /// Paths at which an object already loaded was found again: bound too (the loader inside
    /// opens them before it sees the file is loaded), but not read again.
    aliases: Vec<PathBuf>,
    /// Bytes of strings the loaded objects hold (see [`MAX_STRING_BYTES`]).
    string_bytes: usize,
    /// Paths tried for libraries so far (see [`MAX_TRIES`]).
    tries: std::cell::Cell<usize>,
    /// See [`ElfDeps::searched`].
    searched: HashMap<PathBuf, HashSet<OsString>>,
    /// Where every path read or looked for is noted.
    inputs: &'a Inputs,
}

impl Resolver<'_> {
    fn add(
        &mut self,
        path: PathBuf,
        origin: PathBuf,
        info: ElfInfo,
        name: Option<&OsStr>,
        loader: Option<usize>,
    ) {
        self.names.extend(name.map(OsStr::to_os_string));
        self.names.extend(info.soname.clone());
        self.names.insert(path.clone().into_os_string());
        self.paths.insert(path.clone());
        self.files.extend(info.file_id);
        self.string_bytes += info.string_bytes();
        self.objects.push(Object {
            path,
            origin,
            info,
            loader,
        });
    }

    /// Registers the interpreter as loaded, as the kernel maps it before any library.
    fn load_interpreter(&mut self, binary: &Path) -> Result<Option<PathBuf>, ElfError> {
        let Some(interp) = self.objects.first().and_then(|o| o.info.interp.clone()) else {
            return Ok(None);
        };
        let path = self.cwd.join(&interp);
        if self.inputs.note(&path).is_none() {
            return Err(ElfError::LibraryNotFound {
                name: interp.to_string_lossy().into_owned(),
                needed_by: binary.to_path_buf(),
            });
        }
        let info = read_elf(&path, self.inputs)?;
        // The kernel runs no interpreter of another machine: neither is it bound.
        if info.machine != self.machine {
            return Err(ElfError::Unsupported {
                path,
                reason: format!(
                    "an interpreter for another machine (e_machine {}, the program's is {})",
                    info.machine, self.machine
                ),
            });
        }
        let origin = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        self.add(path.clone(), origin, info, None, Some(0));
        Ok(Some(path))
    }

    /// Loads every `DT_NEEDED` breadth-first, starting from the executable.
    fn load_all(&mut self) -> Result<(), ElfError> {
        let mut next = 0;
        while next < self.objects.len() {
            let needed = self.objects[next].info.needed.clone();
            for name in needed {
                self.load_needed(&name, next)?;
            }
            next += 1;
        }
        Ok(())
    }

    fn load_needed(&mut self, name: &OsStr, loader: usize) -> Result<(), ElfError> {
        if self.names.contains(name) {
            return Ok(());
        }
        let (path, info, searched) = self.find(name, loader)?;
        // One name per path tried: as many as MAX_TRIES at most; each directory kept once.
        for dir in searched {
            self.searched
                .entry(dir)
                .or_default()
                .insert(name.to_os_string());
        }
        if self.paths.contains(&path) {
            self.names.insert(name.to_os_string());
            return Ok(());
        }
        let too_much = |reason: String| ElfError::Unsupported {
            path: self.objects[0].path.clone(),
            reason,
        };
        if self.objects.len() + self.aliases.len() >= MAX_OBJECTS {
            return Err(too_much(format!("more than {MAX_OBJECTS} shared objects")));
        }
        if info.file_id.is_some_and(|id| self.files.contains(&id)) {
            self.names.insert(name.to_os_string());
            self.paths.insert(path.clone());
            self.aliases.push(path);
            return Ok(());
        }
        if self.string_bytes + info.string_bytes() > MAX_STRING_BYTES {
            return Err(too_much(format!(
                "its libraries name more than {} MiB of libraries and search paths",
                MAX_STRING_BYTES >> 20
            )));
        }
        let origin = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        self.add(path, origin, info, Some(name), Some(loader));
        Ok(())
    }

    /// Finds the file the loader would open for `name` needed by object `loader`, with the
    /// directories searched up to and including the one it is in (none for a name with a
    /// `/`, which is opened as it is).
    fn find(
        &self,
        name: &OsStr,
        loader: usize,
    ) -> Result<(PathBuf, ElfInfo, Vec<PathBuf>), ElfError> {
        let not_found = || ElfError::LibraryNotFound {
            name: name.to_string_lossy().into_owned(),
            needed_by: self.objects[loader].path.clone(),
        };
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(name);
        if bytes.contains(&b'/') {
            let origin = &self.objects[loader].origin;
            let path = search::expand_exact(bytes, origin, self.machine).ok_or_else(not_found)?;
            let path = self.cwd.join(path);
            return self
                .candidate(&path)
                .map(|i| (path, i, Vec::new()))
                .ok_or_else(not_found);
        }
        let dirs = self
            .search_dirs(loader)
            .map_err(|_| too_many_lib_tokens(&self.objects[0].path))?;
        for (at, dir) in dirs.iter().enumerate() {
            // Every place counts against the budget, also those no library is taken from.
            self.tries.set(self.tries.get() + 1);
            if let Some(reason) = self.worn_out() {
                return Err(ElfError::Unsupported {
                    path: self.objects[0].path.clone(),
                    reason,
                });
            }
            // A place `$LIB` may stand for is searched (a mount may not shadow what is found
            // later) but no library is taken from it: the loader may not look there.
            if !dir.sure {
                continue;
            }
            let path = dir.path.join(name);
            if let Some(info) = self.candidate(&path) {
                let searched = dirs.into_iter().take(at + 1).map(|d| d.path).collect();
                return Ok((path, info, searched));
            }
        }
        Err(not_found())
    }

    /// Why the resolution must stop here, if it must: too many paths tried, or too much read.
    fn worn_out(&self) -> Option<String> {
        if self.tries.get() > MAX_TRIES {
            return Some(format!(
                "its libraries take more than {MAX_TRIES} paths to find"
            ));
        }
        (self.inputs.read_so_far() > MAX_READ).then(|| {
            format!(
                "its libraries take more than {} MiB of ELF headers to find",
                MAX_READ >> 20
            )
        })
    }

    /// The directories searched for a name needed by object `loader`, in order.
    fn search_dirs(&self, loader: usize) -> Result<Vec<SearchDir>, tokens::TooManyLibTokens> {
        let mut dirs = Vec::new();
        let runpath = self.objects[loader].info.runpath.as_ref();
        let list = |list, origin| search::expand_path_list(list, origin, &self.cwd, self.machine);
        if runpath.is_none() {
            let mut current = Some(loader);
            while let Some(index) = current {
                let object = &self.objects[index];
                if let (Some(rpath), None) = (&object.info.rpath, &object.info.runpath) {
                    dirs.extend(list(rpath, &object.origin)?);
                }
                current = object.loader;
            }
        }
        dirs.extend(self.library_path.iter().cloned());
        if let Some(runpath) = runpath {
            dirs.extend(list(runpath, &self.objects[loader].origin)?);
        }
        dirs.extend(self.system_dirs.iter().map(|path| SearchDir {
            path: path.clone(),
            sure: true,
        }));
        Ok(dirs)
    }

    /// The parsed object at `path` if the loader would accept it: a readable ELF of our machine.
    fn candidate(&self, path: &Path) -> Option<ElfInfo> {
        let info = read_elf(path, self.inputs).ok()?;
        (info.machine == self.machine).then_some(info)
    }
}

/// Opens and parses one ELF file (noted in `inputs` first), naming it in any error.
fn read_elf(path: &Path, inputs: &Inputs) -> Result<ElfInfo, ElfError> {
    let io_error = |source| ElfError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mode = inputs.note(path);
    let failed = |e: io::Error| {
        inputs.failed(&e);
        io_error(e)
    };
    // A FIFO or a device named by a hostile binary (as its interpreter, say) must not hang the
    // host or open the device for reading: only a regular file is opened, and without blocking
    // or taking a terminal, in case the path was swapped since the look.
    if mode.is_some() && !inputs::is_regular_file(mode) {
        return Err(ElfError::NotRegular(path.to_path_buf()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(failed)?;
    if !file.metadata().map_err(failed)?.is_file() {
        return Err(ElfError::NotRegular(path.to_path_buf()));
    }
    let file_id = {
        use std::os::unix::fs::MetadataExt;
        file.metadata().map(|m| (m.dev(), m.ino())).ok()
    };
    let source = FileSource::new(file).map_err(failed)?;
    let parsed = parse::parse(&source);
    inputs.count_read(source.read());
    let mut info = parsed.map_err(|e| match e {
        ParseError::NotElf => ElfError::NotElf(path.to_path_buf()),
        ParseError::Truncated(what) => ElfError::Truncated {
            path: path.to_path_buf(),
            what,
        },
        ParseError::Unsupported(reason) => ElfError::Unsupported {
            path: path.to_path_buf(),
            reason,
        },
        ParseError::Io(source) => failed(source),
    })?;
    info.file_id = file_id;
    Ok(info)
}
