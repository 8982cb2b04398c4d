//! Files the command writes after a sandbox has run (`run --report`, `learn`'s policy and its
//! sidecar), written so that the sandbox cannot redirect them; `compile -o` writes the same way.
//!
//! Such a file often sits in a directory the sandbox could write to (a `--rw` bind), where the
//! program may plant a symbolic link under the file's name, or in place of a directory on its
//! path, for the command to follow with its own privileges after the run. So the directory is
//! opened before the sandbox starts, which pins it whatever is renamed later, and the file is
//! written into that open directory: to a temporary file created there under a name the program
//! cannot guess (`O_EXCL`, which never follows a link; a name taken is passed over, so nothing
//! planted keeps the file from being written), then renamed over the name (which replaces a
//! link rather than following it; a directory, refused at the open, that was planted there
//! since is exchanged with the temporary file instead, and left aside under its name). The file is therefore whole or not there at all, and in the directory the path named
//! when the command started. (A link an earlier sandbox left in place of a directory on the
//! path is followed then, as the caller's path says: never give a sandbox write access above
//! where its outputs go.) Read back (`learn --append`), the file is opened in that directory without
//! following a link at its name, and only if it is a regular file.
//!
//! The caller's own standard streams and descriptors (`/dev/stdout`, `/dev/stderr`, `/dev/fd/N`,
//! `/proc/self/fd/N`) are streams: the descriptor itself is duplicated before the sandbox starts
//! (not its path reopened, which fails for a socket and would not share the caller's file offset),
//! and written to as it is; `/dev/null` is opened for appending. So is a FIFO or a character device
//! at the path itself (a link there is not followed), opened without waiting for a reader. Anything
//! else is a file; under `/dev` (but `/dev/shm`) and `/proc`, whose entries are the system's own,
//! no file is made or replaced.

use crate::console::errln;
use nix::fcntl::{open, openat, renameat, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{unlinkat, UnlinkatFlags};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The most [`OutputFile::read_existing`] reads: far above what `learn` writes.
const MAX_READ: u64 = 64 << 20;

/// A file to write later, opened (or its directory opened) now.
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    target: Target,
}

/// Where the text goes.
#[derive(Debug)]
enum Target {
    /// One of the caller's streams, or a FIFO or character device at the path, open for
    /// appending.
    Stream(File),
    /// A regular file `name`, replaced whole in the open directory `dir`, keeping `mode` (the
    /// permission bits of the file there when it was opened, if one was). A directory found at
    /// the name when writing was planted since the open, which refused one: it is set aside.
    Replace {
        dir: OwnedFd,
        name: OsString,
        mode: Option<libc::mode_t>,
    },
}

impl OutputFile {
    /// Opens what `path` names, before the sandbox runs: one of the caller's streams
    /// ([`is_stream`]), or a FIFO or character device at the path itself (not through a link),
    /// for appending; else the directory of a regular file to write. Fails if `path` names no
    /// file in a directory (`/`, `..`, or a path ending in `/`), names a directory, a socket or
    /// a block device, would replace an entry under `/dev` (but `/dev/shm`) or `/proc`, or what
    /// it needs cannot be opened (a FIFO with no reader).
    pub fn open(path: &Path) -> io::Result<OutputFile> {
        let target = if let Some(fd) = callers_descriptor(path) {
            Target::Stream(duplicate(fd)?)
        } else if is_stream(path) {
            let file = std::fs::OpenOptions::new()
                .append(true)
                .custom_flags(libc::O_NOCTTY)
                .open(path)?;
            Target::Stream(file)
        } else {
            open_in_directory(path)?
        };
        Ok(OutputFile {
            path: path.to_path_buf(),
            target,
        })
    }

    /// Whether `path` lies under `/dev` (but `/dev/shm`, where files are made) or `/proc`,
    /// whose entries are the system's own, the caller's streams among them (`/dev/stdout`,
    /// `/dev/fd/N`, ...): never a file made beside others, and a link there (`/dev/stdin`) must
    /// not be replaced by a file.
    pub fn is_system_path(path: &Path) -> bool {
        let clean: PathBuf = path.components().collect();
        (clean.starts_with("/dev") && !clean.starts_with("/dev/shm")) || clean.starts_with("/proc")
    }

    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether writing would change the file `other` names (its links followed, as a reader of
    /// `other` does): the stream is that file, or the entry the write replaces is (the same
    /// path, or a hard link to it). A link at the name is replaced, not followed, so it is not
    /// the file it points to; but when `other` is that very link, replacing it changes what
    /// `other` names, so it counts. `false` when either is missing.
    pub fn names(&self, other: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let theirs: Vec<(u64, u64)> = [std::fs::metadata(other), std::fs::symlink_metadata(other)]
            .into_iter()
            .flatten()
            .map(|m| (m.dev(), m.ino()))
            .collect();
        let ours = match &self.target {
            Target::Stream(file) => file.metadata().map(|m| (m.dev(), m.ino())).ok(),
            Target::Replace { dir, name, .. } => {
                let no_follow = nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
                nix::sys::stat::fstatat(Some(dir.as_raw_fd()), name.as_os_str(), no_follow)
                    .map(|st| (st.st_dev, st.st_ino))
                    .ok()
            }
        };
        ours.is_some_and(|o| theirs.contains(&o))
    }

    /// What the file holds now, read in the directory opened at [`OutputFile::open`] without
    /// following a link at its name; `None` if there is no such file (or it is a stream).
    /// Anything there but a regular file is an error.
    pub fn read_existing(&self) -> io::Result<Option<String>> {
        let Target::Replace { dir, name, .. } = &self.target else {
            return Ok(None);
        };
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let fd = match openat(
            Some(dir.as_raw_fd()),
            name.as_os_str(),
            flags,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // SAFETY: `openat` just returned this descriptor and nothing else owns it.
        let mut file = unsafe { File::from_raw_fd(fd) };
        if !file.metadata()?.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        let mut text = String::new();
        io::Read::read_to_string(&mut io::Read::take(&mut file, MAX_READ + 1), &mut text)?;
        if text.len() as u64 > MAX_READ {
            return Err(io::Error::other(format!("larger than {MAX_READ} bytes")));
        }
        Ok(Some(text))
    }

    /// Writes `contents`: appended to a stream; for a file, as the whole file, to a new
    /// temporary file in the directory then renamed over the name, so that on a failure nothing
    /// is left but what was there before. The new file keeps the read and write bits of the one
    /// it replaces (a private `0600` report stays private), but never more than a new file gets
    /// (`0666` less the umask): a file an earlier sandbox left open to all does not make the
    /// report so.
    pub fn write(&self, contents: impl AsRef<[u8]>) -> io::Result<()> {
        let contents = contents.as_ref();
        let (dir, name, mode) = match &self.target {
            Target::Stream(file) => {
                let _blocking = Blocking::set(file);
                return (&*file).write_all(contents);
            }
            Target::Replace { dir, name, mode } => (dir.as_raw_fd(), name, *mode),
        };
        let tags = std::iter::repeat_with(random_tag).take(TEMPORARY_NAME_TRIES);
        // Created with the bits kept, which the umask narrows as for any new file.
        let mode = mode.unwrap_or(0o666) & 0o666;
        let (tmp, mut file) = create_temporary(dir, name, mode, tags)?;
        let written = file.write_all(contents).and_then(|()| {
            let (tmp, name) = (tmp.as_os_str(), name.as_os_str());
            match renameat(Some(dir), tmp, Some(dir), name) {
                // A directory planted at the name (by a sandbox that could write here) takes
                // the temporary name instead, in one step: left aside, never written into.
                Err(nix::errno::Errno::EISDIR) => {
                    let exchange = nix::fcntl::RenameFlags::RENAME_EXCHANGE;
                    nix::fcntl::renameat2(Some(dir), tmp, Some(dir), name, exchange)?;
                    let aside = self.path.with_file_name(tmp);
                    errln!(
                        "sandbox: a directory was made at `{}` since the command started; it is \
                         kept, untouched, as `{}`",
                        self.path.display(),
                        aside.display()
                    );
                    Ok(())
                }
                r => r.map_err(io::Error::from),
            }
        });
        if written.is_err() {
            let _ = unlinkat(Some(dir), tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
        written
    }
}

/// Opens the directory of the file `path` names and looks at what is at the name there (not
/// following a link): a FIFO or a character device is a stream ([`open_node`]); a regular file,
/// a link or nothing is a file to replace, but not under `/dev` or `/proc`
/// ([`OutputFile::is_system_path`]); anything else, a directory among them, is refused.
fn open_in_directory(path: &Path) -> io::Result<Target> {
    // `Path::file_name` reads `a/.` as `a`; the system reads it as the directory `a`, so a path
    // ending in `/`, `.` or `..` names no file to write.
    let last = path
        .as_os_str()
        .as_encoded_bytes()
        .rsplit(|b| *b == b'/')
        .next();
    let name = path
        .file_name()
        .filter(|_| !matches!(last, Some(b"" | b"." | b"..")))
        .ok_or_else(|| io::Error::other("the path names no file"))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let dir = open(parent, flags, Mode::empty()).map_err(io::Error::from)?;
    // SAFETY: `open` just returned this descriptor and nothing else owns it.
    let dir = unsafe { OwnedFd::from_raw_fd(dir) };
    let no_follow = nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
    let at = nix::sys::stat::fstatat(Some(dir.as_raw_fd()), name, no_follow);
    match at.ok().map(|st| st.st_mode & libc::S_IFMT) {
        Some(libc::S_IFIFO | libc::S_IFCHR) => Ok(Target::Stream(open_node(&dir, name)?)),
        Some(libc::S_IFDIR) => Err(io::Error::other("it is a directory; name a file")),
        Some(libc::S_IFREG | libc::S_IFLNK) | None if OutputFile::is_system_path(path) => {
            Err(io::Error::other(
                "it would replace an entry of /dev or /proc; name one of the caller's streams \
                 (/dev/stdout, /dev/stderr, /dev/fd/N) or a file elsewhere",
            ))
        }
        Some(libc::S_IFREG | libc::S_IFLNK) | None => {
            // Said now rather than after the run: the write makes a file in this directory,
            // which must still be in the tree (a removed one, a deleted working directory, takes
            // no new file).
            let write = nix::unistd::AccessFlags::W_OK;
            let effective = nix::fcntl::AtFlags::AT_EACCESS;
            nix::unistd::faccessat(Some(dir.as_raw_fd()), ".", write, effective)
                .map_err(io::Error::from)?;
            if nix::sys::stat::fstat(dir.as_raw_fd())?.st_nlink == 0 {
                return Err(io::Error::other("its directory has been removed"));
            }
            // The permission bits of a regular file there, which the new one keeps.
            let mode = at
                .ok()
                .filter(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG)
                .map(|st| st.st_mode & 0o777);
            Ok(Target::Replace {
                dir,
                name: name.to_os_string(),
                mode,
            })
        }
        Some(_) => Err(io::Error::other(
            "not a regular file, a FIFO or a character device",
        )),
    }
}

/// Opens the FIFO or character device `name` in `dir` for appending, not following a link and
/// not waiting for a FIFO's reader (an error if there is none), then lets writes block again.
fn open_node(dir: &OwnedFd, name: &OsStr) -> io::Result<File> {
    let flags = OFlag::O_WRONLY
        | OFlag::O_APPEND
        | OFlag::O_NOCTTY
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_CLOEXEC;
    let fd = openat(Some(dir.as_raw_fd()), name, flags, Mode::empty()).map_err(|e| match e {
        // What ENXIO means here ("No such device or address" says nothing of it).
        nix::errno::Errno::ENXIO => io::Error::other(
            "no process reads it (a FIFO without a reader), or no device is behind it",
        ),
        e => io::Error::from(e),
    })?;
    // SAFETY: `openat` just returned this descriptor and nothing else owns it.
    let file = unsafe { File::from_raw_fd(fd) };
    let blocking = OFlag::O_WRONLY | OFlag::O_APPEND;
    nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(blocking))
        .map_err(io::Error::from)?;
    Ok(file)
}

/// Whether `path` is one of the caller's own streams: `/dev/stdout`, `/dev/stderr`,
/// `/dev/null`, `/dev/fd/N` or `/proc/self/fd/N` (the links among them followed, unlike any
/// other link).
fn is_stream(path: &Path) -> bool {
    callers_descriptor(path).is_some() || path == Path::new("/dev/null")
}

/// The descriptor `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` or `/proc/self/fd/N` names.
fn callers_descriptor(path: &Path) -> Option<std::os::fd::RawFd> {
    let text = path.to_str()?;
    match text {
        "/dev/stdout" => Some(1),
        "/dev/stderr" => Some(2),
        _ => text
            .strip_prefix("/dev/fd/")
            .or_else(|| text.strip_prefix("/proc/self/fd/"))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok()),
    }
}

/// A close-on-exec duplicate of the caller's descriptor `fd`: EBADF if it is not open, and an
/// error if it is not open for writing.
fn duplicate(fd: std::os::fd::RawFd) -> io::Result<File> {
    // SAFETY: fcntl with integer arguments.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_PATH != 0 || flags & libc::O_ACCMODE == libc::O_RDONLY {
        return Err(io::Error::other("the descriptor is not open for writing"));
    }
    // SAFETY: fcntl with integer arguments; a returned descriptor is fresh and ours.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    Ok(unsafe { File::from_raw_fd(new) })
}

/// Writes to a stream made blocking for as long as this lives, then put back as they were. A
/// duplicated descriptor shares its flags with the sandboxed program's copy, which may have set
/// `O_NONBLOCK` and filled a pipe: the report would then fail with EAGAIN. Set after the run,
/// when no sandboxed process is left to set it again; put back because the open file is also
/// the caller's (its standard output, say), whose flags are not this command's to keep.
struct Blocking<'f> {
    file: &'f File,
    /// The flags to put back, when they had `O_NONBLOCK`.
    before: Option<libc::c_int>,
}

impl<'f> Blocking<'f> {
    fn set(file: &'f File) -> Blocking<'f> {
        // SAFETY: fcntl with integer arguments on our own descriptor.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        let before = (flags >= 0 && flags & libc::O_NONBLOCK != 0).then_some(flags);
        if let Some(flags) = before {
            // SAFETY: as above.
            unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) };
        }
        Blocking { file, before }
    }
}

impl Drop for Blocking<'_> {
    fn drop(&mut self) {
        if let Some(flags) = self.before {
            // SAFETY: fcntl with integer arguments on our own descriptor.
            unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_SETFL, flags) };
        }
    }
}

/// The longest file name the kernel takes (`NAME_MAX`).
const NAME_MAX: usize = 255;

/// How many temporary names [`OutputFile::write`] tries before it gives up.
const TEMPORARY_NAME_TRIES: usize = 16;

/// Creates a new file, with `mode` less the umask, at the first free temporary name for `name`
/// in `dir`, one per tag ([`temporary_name`]); never follows a link, nor opens what is there
/// already. Only a name taken (`EEXIST`) moves on to the next tag: a program that could write
/// the directory during the run may have planted something at a name it guessed, which must
/// neither receive the file nor keep it from being written.
fn create_temporary(
    dir: std::os::fd::RawFd,
    name: &OsStr,
    mode: libc::mode_t,
    tags: impl Iterator<Item = u64>,
) -> io::Result<(OsString, File)> {
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mode = Mode::from_bits_truncate(mode);
    for tag in tags {
        let tmp = temporary_name(name, tag);
        match openat(Some(dir), tmp.as_os_str(), flags, mode) {
            // SAFETY: `openat` just returned this descriptor and nothing else owns it.
            Ok(fd) => return Ok((tmp, unsafe { File::from_raw_fd(fd) })),
            Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Every name tried was taken.
    Err(nix::errno::Errno::EEXIST.into())
}

/// A tag no one can guess, from the kernel's random source (the time, should it fail).
fn random_tag() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most `b.len()` bytes into the live buffer.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n == b.len() as isize {
        return u64::from_ne_bytes(b);
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `.NAME.PID.TAG.tmp`: hidden, and this process's own (two commands writing the same file do
/// not share it), with a tag that a program that can write the directory cannot guess. NAME is
/// cut short where the whole would be longer than [`NAME_MAX`].
fn temporary_name(name: &OsStr, tag: u64) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    let suffix = format!(".{}.{tag:016x}.tmp", std::process::id());
    let room = NAME_MAX - 1 - suffix.len();
    let bytes = name.as_bytes();
    let mut tmp = OsString::from(".");
    tmp.push(OsStr::from_bytes(&bytes[..bytes.len().min(room)]));
    tmp.push(suffix);
    tmp
}

#[cfg(test)]
mod tests {
    use super::{create_temporary, temporary_name, OutputFile};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("output-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A host file holding "secret" in `dir`, for a planted link to point at.
    fn victim_in(dir: &std::path::Path) -> PathBuf {
        let victim = dir.join("victim");
        std::fs::write(&victim, "secret").unwrap();
        victim
    }

    #[test]
    fn a_link_planted_under_the_name_is_replaced_not_followed() {
        let dir = scratch("link");
        let victim = victim_in(&dir);
        let out = OutputFile::open(&dir.join("report.json")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("report.json")).unwrap();
        out.write("report").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret");
        let meta = std::fs::symlink_metadata(dir.join("report.json")).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(
            std::fs::read_to_string(dir.join("report.json")).unwrap(),
            "report"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_swapped_for_a_link_after_the_open_is_not_followed() {
        let dir = scratch("dir");
        let elsewhere = dir.join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::create_dir(dir.join("out")).unwrap();
        let out = OutputFile::open(&dir.join("out/report.json")).unwrap();
        std::fs::rename(dir.join("out"), dir.join("moved")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.join("out")).unwrap();
        out.write("report").unwrap();
        assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none());
        let written = std::fs::read_to_string(dir.join("moved/report.json")).unwrap();
        assert_eq!(written, "report");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_planted_temporary_name_is_passed_over_and_left_alone() {
        let dir = scratch("tmp");
        let victim = victim_in(&dir);
        let name = std::ffi::OsStr::new("report.json");
        let planted = dir.join(temporary_name(name, 1));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let opened = std::fs::File::open(&dir).unwrap();
        let (tmp, mut file) =
            create_temporary(opened.as_raw_fd(), name, 0o600, [1, 2].into_iter()).unwrap();
        assert_eq!(tmp, temporary_name(name, 2));
        std::io::Write::write_all(&mut file, b"report").unwrap();
        assert_eq!(std::fs::read_to_string(dir.join(&tmp)).unwrap(), "report");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret");
        assert!(std::fs::symlink_metadata(&planted).unwrap().is_symlink());
        // Every name taken: an error that says so, and nothing written through a link.
        let e = create_temporary(opened.as_raw_fd(), name, 0o600, [1].into_iter()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What a program that could write the directory during the run can guess (a tag-less
    /// name, or one of this process's pid) keeps no report from replacing the one it forged.
    #[test]
    fn a_forged_file_and_guessed_temporary_names_do_not_stop_the_write() {
        let dir = scratch("forged");
        let victim = victim_in(&dir);
        let out = OutputFile::open(&dir.join("report.json")).unwrap();
        for guess in [
            format!(".report.json.{}.tmp", std::process::id()),
            ".report.json.tmp".to_string(),
        ] {
            std::os::unix::fs::symlink(&victim, dir.join(guess)).unwrap();
        }
        std::fs::write(dir.join("report.json"), "forged").unwrap();
        out.write("report").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("report.json")).unwrap(),
            "report"
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_path_naming_no_file_or_a_missing_directory_is_refused_at_once() {
        assert!(OutputFile::open(std::path::Path::new("/")).is_err());
        assert!(OutputFile::open(std::path::Path::new("/tmp/")).is_err());
        // `keep/.` is the directory `keep` (or nothing, for a file): never the file `keep`.
        let dir = scratch("dot");
        std::fs::write(dir.join("keep"), "precious").unwrap();
        for end in ["keep/.", "keep/..", "new/.", "."] {
            let e = OutputFile::open(&dir.join(end)).unwrap_err();
            assert!(e.to_string().contains("names no file"), "{end}: {e}");
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("keep")).unwrap(),
            "precious"
        );
        assert!(!dir.join("new").exists());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(OutputFile::open(std::path::Path::new("/no-such-dir-here/report.json")).is_err());
        assert!(OutputFile::open(std::path::Path::new("report.json")).is_ok());
    }

    #[test]
    fn a_directory_planted_after_the_open_is_set_aside_not_written_into() {
        let dir = scratch("planted-dir");
        let path = dir.join("report.json");
        let out = OutputFile::open(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), "planted").unwrap();
        out.write("{}").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
        // The planted directory is still there, whole, under another name.
        let aside: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        let inside = std::fs::read_to_string(aside[0].join("inside")).unwrap();
        assert_eq!(inside, "planted");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_at_the_path_is_refused_at_once() {
        let dir = scratch("is-dir");
        std::fs::create_dir(dir.join("sub")).unwrap();
        let refused = OutputFile::open(&dir.join("sub")).unwrap_err();
        assert!(refused.to_string().contains("directory"), "{refused}");
        assert!(std::fs::metadata(dir.join("sub")).unwrap().is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A file name as long as the kernel takes is written: the temporary name stays within it.
    #[test]
    fn a_name_of_the_longest_length_is_written() {
        let dir = scratch("long");
        let name = "n".repeat(super::NAME_MAX);
        OutputFile::open(&dir.join(&name))
            .unwrap()
            .write("report")
            .unwrap();
        assert_eq!(std::fs::read_to_string(dir.join(&name)).unwrap(), "report");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A directory the command cannot write to is refused when the file is opened, before any
    /// run, not when it is written: one without write permission, or (as root, whom permissions
    /// do not stop) a read-only bind of it.
    #[test]
    fn an_unwritable_directory_is_refused_at_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("ro");
        let ro = dir.join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        // SAFETY: geteuid cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let c = std::ffi::CString::new(ro.as_os_str().as_encoded_bytes()).unwrap();
        if root {
            // In a mount namespace of this thread's own, undone with it.
            // SAFETY: c is a NUL-terminated path; the other pointers are null or literals.
            let bound = unsafe {
                let (none, no_data) = (std::ptr::null(), std::ptr::null());
                let private = libc::MS_REC | libc::MS_PRIVATE;
                let read_only = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
                libc::unshare(libc::CLONE_NEWNS) == 0
                    && libc::mount(none, c"/".as_ptr(), none, private, no_data) == 0
                    && libc::mount(c.as_ptr(), c.as_ptr(), none, libc::MS_BIND, no_data) == 0
                    && libc::mount(none, c.as_ptr(), none, read_only, no_data) == 0
            };
            assert!(
                bound,
                "as root this test makes a read-only bind in a mount namespace of its own, \
                 which needs CAP_SYS_ADMIN: {}",
                std::io::Error::last_os_error()
            );
        }
        let e = OutputFile::open(&ro.join("report.json")).unwrap_err();
        let expected = if root { libc::EROFS } else { libc::EACCES };
        assert_eq!(e.raw_os_error(), Some(expected), "{e}");
        if root {
            // SAFETY: as above.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A removed directory (a deleted working directory, here reached through a link to a
    /// descriptor of it) takes no new file: refused when the file is opened, before any run.
    #[test]
    fn a_removed_directory_is_refused_at_once() {
        let dir = scratch("removed");
        let gone = dir.join("gone");
        std::fs::create_dir(&gone).unwrap();
        let held = std::fs::File::open(&gone).unwrap();
        std::fs::remove_dir(&gone).unwrap();
        let link = dir.join("link");
        let target = format!("/proc/self/fd/{}", held.as_raw_fd());
        std::os::unix::fs::symlink(target, &link).unwrap();
        let e = OutputFile::open(&link.join("report.json")).unwrap_err();
        assert!(e.to_string().contains("removed"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The file written in place of one that was there keeps its permission bits, but never
    /// more than a new file gets (0666 less the umask): an earlier sandbox that could write
    /// the directory may have left a file there open to all, or executable. A new file takes
    /// 0666 less the umask.
    #[test]
    fn a_replaced_file_keeps_its_permission_bits_but_never_more_than_a_new_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("mode");
        let mode_of = |name: &str| {
            let meta = std::fs::metadata(dir.join(name)).unwrap();
            meta.permissions().mode() & 0o7777
        };
        // Read, not set: the umask is the whole process's, tests running beside this one too.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let umask = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .map(|v| u32::from_str_radix(v.trim(), 8).unwrap())
            .unwrap();
        let new = 0o666 & !umask;
        for mode in [
            0o600, 0o604, 0o640, 0o400, 0o666, 0o755, 0o777, 0o4755, 0o2777,
        ] {
            let name = format!("report-{mode:o}.json");
            let path = dir.join(&name);
            std::fs::write(&path, "old").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            OutputFile::open(&path).unwrap().write("new").unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
            assert_eq!(mode_of(&name), mode & new, "{mode:o}");
        }
        OutputFile::open(&dir.join("new.json"))
            .unwrap()
            .write("new")
            .unwrap();
        assert_eq!(mode_of("new.json"), new);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `/dev/fd/N` is the caller's descriptor itself, duplicated: a socket (which cannot be
    /// reopened by path) works, and a descriptor that is not open is an error at once.
    #[test]
    fn a_callers_descriptor_is_duplicated_not_reopened() {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let path = format!("/dev/fd/{}", ours.as_raw_fd());
        let out = OutputFile::open(std::path::Path::new(&path)).unwrap();
        drop(ours);
        out.write("report").unwrap();
        drop(out);
        let mut got = String::new();
        theirs.read_to_string(&mut got).unwrap();
        assert_eq!(got, "report");
        let closed = OutputFile::open(std::path::Path::new("/proc/self/fd/987654")).unwrap_err();
        assert_eq!(closed.raw_os_error(), Some(libc::EBADF), "{closed}");
        // One open for reading only is refused at once, not when the report is written.
        let input = std::fs::File::open("/dev/null").unwrap();
        let path = format!("/dev/fd/{}", input.as_raw_fd());
        let e = OutputFile::open(std::path::Path::new(&path)).unwrap_err();
        assert!(e.to_string().contains("not open for writing"), "{e}");
    }

    /// A pipe the sandboxed program made non-blocking and filled (it shares the descriptor's
    /// flags) still gets the whole report, once its reader drains it; its flags are put back
    /// after (they are the caller's too).
    #[test]
    fn a_stream_left_non_blocking_and_full_still_gets_the_report() {
        use std::io::{Read, Write};
        use std::os::fd::AsRawFd;
        let (reader, writer) = nix::unistd::pipe().unwrap();
        let (mut reader, mut writer) = (std::fs::File::from(reader), std::fs::File::from(writer));
        let path = format!("/dev/fd/{}", writer.as_raw_fd());
        let out = OutputFile::open(std::path::Path::new(&path)).unwrap();
        // SAFETY: fcntl with integer arguments on our own descriptor.
        unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        let mut filled = 0;
        while let Ok(n) = writer.write(&[b'x'; 4096]) {
            filled += n;
        }
        let callers = writer.try_clone().unwrap();
        drop(writer);
        let drain = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            let mut all = Vec::new();
            reader.read_to_end(&mut all).unwrap();
            all
        });
        out.write("report").unwrap();
        drop(out);
        // SAFETY: fcntl with integer arguments on our own descriptor.
        let flags = unsafe { libc::fcntl(callers.as_raw_fd(), libc::F_GETFL) };
        assert_ne!(
            flags & libc::O_NONBLOCK,
            0,
            "the caller's flags were not put back"
        );
        drop(callers);
        let all = drain.join().unwrap();
        assert_eq!(all.len(), filled + "report".len());
        assert!(all.ends_with(b"report"));
    }

    #[test]
    fn names_is_the_file_the_write_would_change() {
        let dir = scratch("names");
        let victim = victim_in(&dir);
        let same = OutputFile::open(&dir.join("./victim")).unwrap();
        assert!(same.names(&victim));
        let other = OutputFile::open(&dir.join("other")).unwrap();
        assert!(!other.names(&victim));
        // A link at the name is replaced, not followed: the file it points to is safe.
        std::os::unix::fs::symlink(&victim, dir.join("link")).unwrap();
        let link = OutputFile::open(&dir.join("link")).unwrap();
        assert!(!link.names(&victim));
        // But when the link is the name the other was given, replacing it changes what that
        // name shows.
        assert!(link.names(&dir.join("link")));
        assert!(!same.names(&dir.join("missing")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_the_callers_own_streams_are_streams() {
        for s in [
            "/dev/stdout",
            "/dev/stderr",
            "/dev/null",
            "/dev/fd/3",
            "/proc/self/fd/12",
        ] {
            assert!(super::is_stream(std::path::Path::new(s)), "{s}");
        }
        for f in [
            "/dev/shm/r.json",
            "/dev/fd/",
            "/dev/fd/3x",
            "/proc/1/fd/3",
            "/dev/mem",
        ] {
            assert!(!super::is_stream(std::path::Path::new(f)), "{f}");
        }
    }

    #[test]
    fn a_file_is_read_back_without_following_a_link() {
        let dir = scratch("read");
        let victim = victim_in(&dir);
        let out = OutputFile::open(&dir.join("side.json")).unwrap();
        assert_eq!(out.read_existing().unwrap(), None);
        std::os::unix::fs::symlink(&victim, dir.join("side.json")).unwrap();
        assert!(out.read_existing().is_err());
        std::fs::remove_file(dir.join("side.json")).unwrap();
        out.write("mine").unwrap();
        assert_eq!(out.read_existing().unwrap().as_deref(), Some("mine"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fifo_or_a_device_at_the_path_is_a_stream_and_system_entries_are_left_alone() {
        let dir = scratch("fifo");
        let fifo = dir.join("out.fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: c is a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No reader yet: refused at once rather than waited on, saying why.
        let e = OutputFile::open(&fifo).err().unwrap().to_string();
        assert!(e.contains("a FIFO without a reader"), "{e}");
        let reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let out = OutputFile::open(&fifo).unwrap();
        out.write("report").unwrap();
        drop(out);
        let mut got = String::new();
        std::io::Read::read_to_string(&mut &reader, &mut got).unwrap();
        assert_eq!(got, "report");
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
        for refused in ["/dev/stdin", "/dev/new-file", "/proc/self/x"] {
            assert!(
                OutputFile::open(std::path::Path::new(refused)).is_err(),
                "{refused}"
            );
        }
        assert!(OutputFile::open(std::path::Path::new("/dev/./null")).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_path_under_dev_is_a_stream_written_as_it_is() {
        let out = OutputFile::open(std::path::Path::new("/dev/null")).unwrap();
        out.write("report").unwrap();
        assert!(std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
    }
}
