//! The descriptors a sandbox is given (its standard streams and passed descriptors): which are
//! refused, and what the others let it reach beyond its own file system, which decides whether
//! it gets the set-id guard, the terminal guard (see [`sandbox_policy::host_guard`]) and the
//! Landlock domain that confines reopening (see [`super::reopen`]).

use super::SpawnError;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// What the descriptors a sandbox is given let it reach beyond its own file system.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reach {
    /// A regular file, whose mode the program may change if its host id owns it, or a Unix
    /// socket, through which one may be sent later (`SCM_RIGHTS`): the set-id guard's concern.
    pub host_files: bool,
    /// A file that reopening it by path (`/proc/self/fd/N`, `/dev/stdin`) could make do more
    /// than its descriptor does (a regular file, a named pipe, a device the sandbox does not
    /// have of its own), or a Unix socket, through which one may come: what the whole Landlock
    /// domain is for (else the sandbox gets a lighter one, see [`super::reopen`]). Not an
    /// anonymous pipe, a socket of another family, or one of the memory devices every
    /// sandbox's `/dev` holds anyway (`/dev/null` and the like).
    pub reopenable: bool,
    /// A device other than the memory devices every sandbox has (a terminal, a pseudo-terminal's
    /// master, or whatever else may act as one), or a Unix socket, through which one may be
    /// sent: the terminal guard's concern.
    pub terminal: bool,
}

impl std::ops::BitOr for Reach {
    type Output = Reach;
    fn bitor(self, other: Reach) -> Reach {
        Reach {
            host_files: self.host_files || other.host_files,
            reopenable: self.reopenable || other.reopenable,
            terminal: self.terminal || other.terminal,
        }
    }
}

/// The standard streams 0 to 2, in words.
pub(crate) const STREAM_NAMES: [&str; 3] = ["standard input", "standard output", "standard error"];

/// Refuses a directory (or a symbolic link, opened with `O_PATH | O_NOFOLLOW`) among the
/// descriptors a sandbox is given: its `..`, walked with `O_PATH`, leads up the host's tree,
/// where the program could `connect` to any Unix socket by path and change the metadata of
/// what its host id owns, which no Landlock right covers. A directory is bound instead.
/// Returns what the others let the sandbox reach.
pub(crate) fn examine(
    stdio: [&Option<OwnedFd>; 3],
    passed: &[(OwnedFd, RawFd)],
) -> Result<Reach, SpawnError> {
    let given = stdio
        .into_iter()
        .zip(STREAM_NAMES.map(String::from))
        .filter_map(|(fd, what)| fd.as_ref().map(|fd| (fd, what)))
        .chain(passed.iter().map(|(fd, t)| (fd, format!("descriptor {t}"))));
    let mut reach = Reach::default();
    for (fd, what) in given {
        match reach_of(fd)? {
            Some(one) => reach = reach | one,
            None => return Err(SpawnError::DirectoryDescriptor(what)),
        }
    }
    Ok(reach)
}

/// What one descriptor lets the sandbox reach; `None` for a directory or a symbolic link.
fn reach_of(fd: &OwnedFd) -> Result<Option<Reach>, SpawnError> {
    let st = nix::sys::stat::fstat(fd.as_raw_fd())
        .map_err(|e| SpawnError::os("stat a descriptor", e.into()))?;
    let reopenable = Reach {
        reopenable: true,
        ..Reach::default()
    };
    let file = Reach {
        host_files: true,
        ..reopenable
    };
    let every = Reach {
        terminal: true,
        ..file
    };
    Ok(Some(match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR | libc::S_IFLNK => return Ok(None),
        libc::S_IFREG => file,
        libc::S_IFSOCK if is_unix_socket(fd) => every,
        libc::S_IFSOCK => Reach::default(),
        libc::S_IFIFO if is_anonymous_pipe(fd) => Reach::default(),
        libc::S_IFCHR if SANDBOX_DEVICES.contains(&st.st_rdev) => Reach::default(),
        libc::S_IFCHR => Reach {
            terminal: true,
            ..reopenable
        },
        // A named pipe, a block device, and whatever else a path may name.
        _ => reopenable,
    }))
}

/// The memory devices every sandbox's `/dev` holds, bound from the host's (`/dev/null`,
/// `/dev/zero`, `/dev/full`, `/dev/random`, `/dev/urandom`; see `DEVICES` in
/// [`super::mounts`]), by their fixed numbers: reopening one of them gives the sandbox nothing
/// it could not open by its own path.
const SANDBOX_DEVICES: [libc::dev_t; 5] = [
    libc::makedev(1, 3),
    libc::makedev(1, 5),
    libc::makedev(1, 7),
    libc::makedev(1, 8),
    libc::makedev(1, 9),
];

/// Whether pipe `fd` is an anonymous pipe (no path names it), not a named pipe (FIFO) of a
/// file system; unknown counts as named. The kernel's anonymous pipes all live on one internal
/// file system, whose device a pipe made once per process shows (a file system's reported type
/// would not do: a network file system may report what its server says).
fn is_anonymous_pipe(fd: &OwnedFd) -> bool {
    static PIPES_DEVICE: crate::first_use::OnceBox<Option<libc::dev_t>> =
        crate::first_use::OnceBox::new();
    let device = |fd: libc::c_int| nix::sys::stat::fstat(fd).ok().map(|st| st.st_dev);
    let pipes = *PIPES_DEVICE.get_or_init(|| {
        // Close-on-exec: a program another thread of the host starts meanwhile gets neither end.
        let made = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok();
        Box::new(made.and_then(|(r, _w)| device(r.as_raw_fd())))
    });
    pipes.is_some() && device(fd.as_raw_fd()) == pipes
}

/// Whether socket `fd` is a Unix socket (one that can carry descriptors); unknown counts as
/// one.
fn is_unix_socket(fd: &OwnedFd) -> bool {
    let mut domain: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: reads one int into a live local of the length given.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_DOMAIN,
            (&mut domain as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    r != 0 || domain == libc::AF_UNIX
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn reach(fd: OwnedFd) -> Option<Reach> {
        reach_of(&fd).expect("stat")
    }

    fn open(path: &str) -> OwnedFd {
        std::fs::File::open(path)
            .unwrap_or_else(|e| panic!("open {path}: {e}"))
            .into()
    }

    const NOTHING: Reach = Reach {
        host_files: false,
        reopenable: false,
        terminal: false,
    };

    #[test]
    fn pipes_other_sockets_and_the_sandboxs_own_devices_reach_nothing() {
        let (r, w) = nix::unistd::pipe().expect("pipe");
        assert_eq!(reach(r), Some(NOTHING));
        assert_eq!(reach(w), Some(NOTHING));
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
        assert_eq!(reach(udp.into()), Some(NOTHING));
        for device in [
            "/dev/null",
            "/dev/zero",
            "/dev/full",
            "/dev/random",
            "/dev/urandom",
        ] {
            assert_eq!(reach(open(device)), Some(NOTHING), "{device}");
        }
    }

    #[test]
    fn files_and_unix_sockets_reach_host_files_and_are_confined() {
        let file = Reach {
            host_files: true,
            reopenable: true,
            terminal: false,
        };
        assert_eq!(reach(open("/proc/self/exe")), Some(file));
        // A Unix socket may bring a terminal as well.
        let (a, _b) = UnixStream::pair().expect("socketpair");
        let every = Reach {
            terminal: true,
            ..file
        };
        assert_eq!(reach(a.into()), Some(every));
    }

    #[test]
    fn named_pipes_and_other_devices_are_confined_and_devices_may_be_terminals() {
        let dir = std::env::temp_dir().join(format!("given-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        // Read and write, so that the open does not wait for a peer.
        let named: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .expect("open the fifo")
            .into();
        std::fs::remove_dir_all(&dir).expect("rm");
        let reopenable = Reach {
            host_files: false,
            reopenable: true,
            terminal: false,
        };
        assert_eq!(reach(named), Some(reopenable));
        // A terminal's multiplexer, a device no sandbox has of its own, and its terminal.
        let ptmx: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/ptmx")
            .expect("open /dev/ptmx")
            .into();
        let terminal = Reach {
            terminal: true,
            ..reopenable
        };
        assert_eq!(reach(ptmx), Some(terminal));
    }

    #[test]
    fn directories_and_links_are_refused() {
        assert_eq!(reach(open("/")), None);
        let link = nix::fcntl::open(
            "/proc/self/exe",
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_NOFOLLOW,
            nix::sys::stat::Mode::empty(),
        )
        .expect("open the link");
        // SAFETY: a descriptor just opened, owned here.
        let link = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(link) };
        assert_eq!(reach(link), None);
    }
}
