//! A typed message channel between the host and the sandboxee over a Unix socketpair.
//!
//! The host creates the pair with [`Comms::pair`], keeps the [`Comms`] end and hands the other
//! end to the spawner, which duplicates it onto [`COMMS_FD`] in the sandboxee. A Rust sandboxee
//! picks its end up with [`Comms::from_sandbox_fd`].
//!
//! # Wire format
//!
//! The socket is `SOCK_STREAM`, so messages are framed explicitly. Each message is
//!
//! ```text
//! +----------------+----------------+-------------------+
//! | tag: u32 LE    | len: u32 LE    | payload: len bytes|
//! +----------------+----------------+-------------------+
//! ```
//!
//! with tags `BYTES = 1`, `STRING = 2` (UTF-8), `U64 = 3` and `I64 = 4` (8 bytes little-endian),
//! `FD = 5` and `FDS = 6`. An `FD` message has a 1-byte payload (`0`) and the descriptor travels
//! in an `SCM_RIGHTS` control message sent with the same `sendmsg` call as the header. An `FDS`
//! message carries up to 253 descriptors ([`Comms::MAX_FDS`]) the same way, its payload being
//! their count (`u32` LE); one that carries another number than it announces is an error.
//! Received descriptors are opened with `MSG_CMSG_CLOEXEC`.
//!
//! # Hostile peers
//!
//! The sandboxee is not trusted. A length above the receiver's maximum
//! ([`DEFAULT_MAX_MESSAGE_LEN`], see [`Comms::set_max_message_len`]) is refused before anything
//! is allocated, and payloads are read in bounded chunks, so memory grows only with bytes that
//! actually arrived. Descriptors that arrive where none was expected are closed, sockets
//! among them without lingering (closing a TCP socket the peer gave a long `SO_LINGER` time
//! would block the receiving thread), and so are those that came with a read the kernel had to
//! cut short (`MSG_CTRUNC`, when this process's descriptor table is full). A descriptor handed
//! out by [`Comms::recv_fd`] is the caller's, lingering included. A peer that stops sending
//! can be bounded with [`Comms::set_timeout`].
//!
//! After [`CommsError::WrongType`] for a known tag within the size limit the unexpected payload
//! has been consumed and the channel stays usable. After any other receive error (unknown tag,
//! [`CommsError::TooLarge`], [`CommsError::BadLength`], truncation, timeout) the stream position
//! is unknown and the channel should be dropped; after [`CommsError::DescriptorsCut`] (the
//! message was read whole) it stays usable.

mod wire;

#[cfg(test)]
mod tests;

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{
    self, sockopt, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};
use nix::sys::stat::{fstat, SFlag};
use nix::sys::time::TimeVal;

pub use wire::Tag;
use wire::{describe_tag, Header, HEADER_LEN};

/// The descriptor number at which the sandboxee finds its end of the channel.
pub const COMMS_FD: RawFd = 1023;

/// Default upper bound on a received payload: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_LEN: u32 = 64 << 20;

/// Payloads are received in chunks of at most this many bytes.
const RECV_CHUNK: usize = 64 << 10;

/// Most descriptors the kernel passes in one `SCM_RIGHTS` message (`SCM_MAX_FD`); the control
/// buffer is sized for all of them so that none is truncated and leaked.
const MAX_FDS_PER_MESSAGE: usize = 253;

/// [`Comms`]'s stored timeout when none is set.
const NO_TIMEOUT: u64 = u64::MAX;

/// Set once [`Comms::from_sandbox_fd`] has taken ownership of [`COMMS_FD`].
static SANDBOX_FD_TAKEN: AtomicBool = AtomicBool::new(false);

/// Why a comms operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CommsError {
    /// The peer closed the channel cleanly, between two messages.
    #[error("comms peer closed the channel")]
    Closed,
    /// The peer closed the channel in the middle of a message.
    #[error("comms peer closed the channel in the middle of a message")]
    Truncated,
    /// A message is longer than the configured maximum.
    #[error("comms message of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// The length that was announced or asked to be sent.
        len: u64,
        /// The maximum in force.
        max: u32,
    },
    /// A message of another type arrived than the one asked for.
    #[error("comms expected a {expected} message, got {}", describe_tag(*got))]
    WrongType {
        /// The type the caller asked for.
        expected: Tag,
        /// The raw tag that arrived (possibly not a known [`Tag`]).
        got: u32,
    },
    /// A fixed-size message announced the wrong length.
    #[error("comms {tag} message has length {len}, expected {expected}")]
    BadLength {
        /// The message type.
        tag: Tag,
        /// The announced length.
        len: u32,
        /// The length this type always has.
        expected: u32,
    },
    /// A string message is not valid UTF-8.
    #[error("comms string message is not valid UTF-8")]
    BadUtf8,
    /// An fd message arrived without a descriptor attached.
    #[error("comms fd message carries no file descriptor")]
    NoFd,
    /// A descriptors message carried another number of descriptors than it announced.
    #[error("comms fds message announced {announced} descriptors but carried {carried}")]
    FdCount {
        /// How many the message said it carries.
        announced: u32,
        /// How many arrived with it.
        carried: usize,
    },
    /// The kernel could not give this process every descriptor a message carried (its
    /// descriptor table is full, `MSG_CTRUNC`). The message was read whole and the channel
    /// stays in step; the descriptors that did come were closed.
    #[error("comms message's {announced} descriptors did not all fit in the descriptor table")]
    DescriptorsCut {
        /// How many the message said it carries.
        announced: u32,
    },
    /// More descriptors were asked to be sent in one message than the kernel passes.
    #[error("comms cannot send {count} descriptors in one message (at most {max})")]
    TooManyFds {
        /// How many were asked for.
        count: usize,
        /// The most one message carries.
        max: usize,
    },
    /// The sandboxee's comms descriptor cannot be used.
    #[error("comms fd {fd} unavailable: {reason}")]
    NoCommsFd {
        /// The descriptor number looked at.
        fd: RawFd,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// The socket reported an error (a timeout appears as [`io::ErrorKind::TimedOut`]).
    #[error("comms socket: {0}")]
    Io(#[from] io::Error),
}

/// One end of a comms channel.
#[derive(Debug)]
pub struct Comms {
    fd: OwnedFd,
    max_len: u32,
    /// The control area for `recvmsg`, in words so that it is aligned for `cmsghdr`.
    cmsg_buf: Vec<u64>,
    /// What [`Comms::set_timeout`] set, in nanoseconds ([`NO_TIMEOUT`]: none), which also
    /// bounds the retries of an interrupted call. Atomic so that `Comms` stays `Sync`.
    timeout_nanos: AtomicU64,
}

impl Comms {
    /// Creates a connected pair: the host's [`Comms`] end and the raw descriptor that the
    /// spawner duplicates onto [`COMMS_FD`] in the sandboxee. Both ends are close-on-exec.
    pub fn pair() -> io::Result<(Comms, OwnedFd)> {
        let (host, sandboxee) = socket::socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        Ok((Comms::wrap(host), sandboxee))
    }

    /// Wraps an existing descriptor, checking that it is a stream socket.
    pub fn from_fd(fd: OwnedFd) -> Result<Comms, CommsError> {
        check_stream_socket(fd.as_raw_fd())?;
        Ok(Comms::wrap(fd))
    }

    /// Takes the sandboxee's end at [`COMMS_FD`], checking that it is an open stream socket.
    ///
    /// Only the first successful call owns the descriptor; later calls fail so that it cannot
    /// be closed twice.
    pub fn from_sandbox_fd() -> Result<Comms, CommsError> {
        check_stream_socket(COMMS_FD)?;
        if SANDBOX_FD_TAKEN.swap(true, Ordering::SeqCst) {
            return Err(CommsError::NoCommsFd {
                fd: COMMS_FD,
                reason: "already taken by an earlier call",
            });
        }
        // SAFETY: COMMS_FD is open (fstat succeeded) and, guarded by SANDBOX_FD_TAKEN, no other
        // owner is created for it in this process.
        let fd = unsafe { OwnedFd::from_raw_fd(COMMS_FD) };
        Ok(Comms::wrap(fd))
    }

    fn wrap(fd: OwnedFd) -> Comms {
        Comms {
            fd,
            max_len: DEFAULT_MAX_MESSAGE_LEN,
            cmsg_buf: control_area(MAX_FDS_PER_MESSAGE),
            timeout_nanos: AtomicU64::new(NO_TIMEOUT),
        }
    }

    /// Sets the largest payload this end sends or accepts, in bytes.
    pub fn set_max_message_len(&mut self, max: u32) {
        self.max_len = max;
    }

    /// The largest payload this end sends or accepts, in bytes.
    pub fn max_message_len(&self) -> u32 {
        self.max_len
    }

    /// Bounds how long sending or receiving one message may take (`None`: forever). A zero
    /// duration is rounded up to one microsecond, since the kernel reads zero as "no timeout".
    ///
    /// Each system call waits at most the timeout. Once the timeout has passed since a send
    /// began, or since the first byte of a received message came, no call waits any more (nor
    /// is one retried after a signal, which interrupts a wait even under `SA_RESTART`): what
    /// the socket holds is still taken, and the first call that would have to wait fails the
    /// message as timed out. So a call blocks at most about twice the timeout, however the peer
    /// paces its bytes (one every so often, each within the timeout) and however often
    /// signals come (a profiler's timer, say).
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        let tv = match timeout {
            None => TimeVal::new(0, 0),
            Some(d) => {
                let secs = libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX);
                let micros = libc::suseconds_t::from(d.subsec_micros());
                if secs == 0 && micros == 0 {
                    TimeVal::new(0, 1)
                } else {
                    TimeVal::new(secs, micros)
                }
            }
        };
        socket::setsockopt(&self.fd, sockopt::ReceiveTimeout, &tv).map_err(io::Error::from)?;
        socket::setsockopt(&self.fd, sockopt::SendTimeout, &tv).map_err(io::Error::from)?;
        let nanos = timeout.map_or(NO_TIMEOUT, |t| {
            u64::try_from(t.as_nanos()).unwrap_or(NO_TIMEOUT - 1)
        });
        self.timeout_nanos.store(nanos, Ordering::Relaxed);
        Ok(())
    }

    /// What [`Comms::set_timeout`] set.
    fn timeout(&self) -> Option<Duration> {
        let nanos = self.timeout_nanos.load(Ordering::Relaxed);
        (nanos != NO_TIMEOUT).then(|| Duration::from_nanos(nanos))
    }

    /// When a message begun now must be through: the timeout from now, if one is set.
    fn deadline(&self) -> Option<Instant> {
        self.timeout().and_then(|t| Instant::now().checked_add(t))
    }

    /// Whether a system call for a message that must be through by `deadline` may still wait
    /// (else it only takes what is there, `MSG_DONTWAIT`).
    fn in_time(deadline: Option<Instant>) -> bool {
        deadline.is_none_or(|d| Instant::now() < d)
    }

    /// Sends a byte-string message.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), CommsError> {
        self.send_message(Tag::Bytes, bytes, &[])
    }

    /// Receives a byte-string message.
    pub fn recv_bytes(&mut self) -> Result<Vec<u8>, CommsError> {
        Ok(self.recv_message(Tag::Bytes)?.0)
    }

    /// Sends a UTF-8 string message.
    pub fn send_str(&mut self, text: &str) -> Result<(), CommsError> {
        self.send_message(Tag::String, text.as_bytes(), &[])
    }

    /// Receives a UTF-8 string message.
    pub fn recv_string(&mut self) -> Result<String, CommsError> {
        let bytes = self.recv_message(Tag::String)?.0;
        String::from_utf8(bytes).map_err(|_| CommsError::BadUtf8)
    }

    /// Sends an unsigned 64-bit integer.
    pub fn send_u64(&mut self, value: u64) -> Result<(), CommsError> {
        self.send_message(Tag::U64, &value.to_le_bytes(), &[])
    }

    /// Receives an unsigned 64-bit integer.
    pub fn recv_u64(&mut self) -> Result<u64, CommsError> {
        Ok(u64::from_le_bytes(self.recv_fixed8(Tag::U64)?))
    }

    /// Sends a signed 64-bit integer.
    pub fn send_i64(&mut self, value: i64) -> Result<(), CommsError> {
        self.send_message(Tag::I64, &value.to_le_bytes(), &[])
    }

    /// Receives a signed 64-bit integer.
    pub fn recv_i64(&mut self) -> Result<i64, CommsError> {
        Ok(i64::from_le_bytes(self.recv_fixed8(Tag::I64)?))
    }

    /// Sends a duplicate of `fd` to the peer; the caller keeps its own descriptor.
    pub fn send_fd(&mut self, fd: impl AsFd) -> Result<(), CommsError> {
        self.send_message(Tag::Fd, &[0], &[fd.as_fd()])
    }

    /// Receives a descriptor; it is close-on-exec in this process. What the peer sends is
    /// its own choice: a host should check a received descriptor before it trusts it (its type
    /// with `fstat`, a socket's peer). A sandboxee can even send back its own end of this
    /// channel, and while the host holds that, the channel never reports the peer closed: a
    /// read then waits for its timeout, if one is set, instead of failing with
    /// [`CommsError::Closed`]; drop such a descriptor.
    pub fn recv_fd(&mut self) -> Result<OwnedFd, CommsError> {
        // Any descriptor beyond the first is closed on drop, without lingering.
        let mut fds = self.recv_message(Tag::Fd)?.1;
        if fds.cut {
            return Err(CommsError::DescriptorsCut { announced: 1 });
        }
        fds.take_first().ok_or(CommsError::NoFd)
    }

    /// Sends duplicates of `fds` in one message, at most [`Comms::MAX_FDS`] of them; the caller
    /// keeps its own descriptors. One message rather than one per descriptor: a single system
    /// call to send and two to receive, whatever the count.
    pub fn send_fds(&mut self, fds: &[BorrowedFd<'_>]) -> Result<(), CommsError> {
        if fds.len() > Self::MAX_FDS {
            return Err(CommsError::TooManyFds {
                count: fds.len(),
                max: Self::MAX_FDS,
            });
        }
        let count = fds.len() as u32;
        self.send_message(Tag::Fds, &count.to_le_bytes(), fds)
    }

    /// Receives the descriptors of one [`Comms::send_fds`] message, in the order sent; they
    /// are close-on-exec in this process. A message that carries another number than it
    /// announces is an error (and what it did carry is closed).
    pub fn recv_fds(&mut self) -> Result<Vec<OwnedFd>, CommsError> {
        let (payload, fds) = self.recv_message(Tag::Fds)?;
        let announced = payload
            .try_into()
            .map(u32::from_le_bytes)
            .map_err(|_| CommsError::Truncated)?;
        if fds.cut {
            // Read whole, so the channel stays in step; what did come is closed with `fds`.
            return Err(CommsError::DescriptorsCut { announced });
        }
        if fds.fds.len() != announced as usize {
            // What it did carry is closed on drop, without lingering.
            return Err(CommsError::FdCount {
                announced,
                carried: fds.fds.len(),
            });
        }
        Ok(fds.keep())
    }

    /// Makes room for only `fds` descriptors per received message, as a full descriptor table
    /// would leave: more are cut off ([`CommsError::DescriptorsCut`]). For tests elsewhere.
    #[cfg(test)]
    pub(crate) fn with_room_for(&mut self, fds: usize) {
        self.cmsg_buf = control_area(fds);
    }

    /// The most descriptors [`Comms::send_fds`] sends in one message (the kernel's
    /// `SCM_MAX_FD`).
    pub const MAX_FDS: usize = MAX_FDS_PER_MESSAGE;

    fn recv_fixed8(&mut self, tag: Tag) -> Result<[u8; 8], CommsError> {
        let payload = self.recv_message(tag)?.0;
        payload
            .try_into()
            .map_err(|p: Vec<u8>| CommsError::BadLength {
                tag,
                len: u32::try_from(p.len()).unwrap_or(u32::MAX),
                expected: 8,
            })
    }

    fn send_message(
        &mut self,
        tag: Tag,
        payload: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), CommsError> {
        let too_large = || CommsError::TooLarge {
            len: payload.len() as u64,
            max: self.max_len,
        };
        let len = u32::try_from(payload.len()).map_err(|_| too_large())?;
        if len > self.max_len {
            return Err(too_large());
        }
        let header = Header {
            tag: tag as u32,
            len,
        }
        .encode();
        self.send_all(&header, payload, fds)
    }

    /// Sends `header` then `payload`, attaching `fds` to the first `sendmsg` only.
    fn send_all(
        &self,
        header: &[u8],
        payload: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), CommsError> {
        let raw_fds: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let deadline = self.deadline();
        let total = header.len() + payload.len();
        let mut sent = 0;
        while sent < total {
            let late = !Self::in_time(deadline);
            let flags = if late {
                MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT
            } else {
                MsgFlags::MSG_NOSIGNAL
            };
            let iov = remaining_iov(header, payload, sent);
            let cmsgs: &[ControlMessage<'_>] = if sent == 0 && !raw_fds.is_empty() {
                &[ControlMessage::ScmRights(&raw_fds)]
            } else {
                &[]
            };
            match socket::sendmsg::<()>(self.fd.as_raw_fd(), &iov, cmsgs, flags, None) {
                Ok(n) => sent += n,
                Err(Errno::EINTR) if !late => continue,
                Err(Errno::EINTR) => {
                    return Err(CommsError::Io(socket_error(Errno::EAGAIN, "send")))
                }
                Err(Errno::EPIPE | Errno::ECONNRESET) => return Err(CommsError::Closed),
                Err(e) => return Err(CommsError::Io(socket_error(e, "send"))),
            }
        }
        Ok(())
    }

    /// Receives one message of type `expected`, returning its payload and attached descriptors.
    ///
    /// A sender attaches a message's descriptors to the one `sendmsg` that carries its header,
    /// so they arrive with the first read of the header; only those are kept (and only for a
    /// descriptors message). Any that come with a later read are closed at once: a peer that
    /// sends a long message a byte at a time, each byte with descriptors attached, cannot fill
    /// this process's descriptor table.
    fn recv_message(&mut self, expected: Tag) -> Result<(Vec<u8>, Incoming), CommsError> {
        let mut fds = Incoming::default();
        let mut raw = [0u8; HEADER_LEN];
        // The wait for a message to begin is bounded by the socket's own timeout (and its
        // retries after signals by the deadline); the rest of it by a deadline from there.
        let first = self.recv_some(&mut raw, &mut fds, self.deadline())?;
        if first == 0 {
            return Err(CommsError::Closed);
        }
        let deadline = self.deadline();
        if self.recv_exact(&mut raw[first..], deadline)? < HEADER_LEN - first {
            return Err(CommsError::Truncated);
        }
        let header = Header::decode(raw);
        let tag = Tag::from_wire(header.tag).ok_or(CommsError::WrongType {
            expected,
            got: header.tag,
        })?;
        if header.len > self.max_len {
            return Err(CommsError::TooLarge {
                len: u64::from(header.len),
                max: self.max_len,
            });
        }
        if !matches!(tag, Tag::Fd | Tag::Fds) || tag != expected {
            fds.discard(); // descriptors only travel in the messages made for them
        }
        if tag != expected {
            // Consume the unexpected payload (and close any descriptor) to stay in sync.
            self.recv_payload(header.len, deadline)?;
            return Err(CommsError::WrongType {
                expected,
                got: header.tag,
            });
        }
        if let Some(fixed) = tag.fixed_len().filter(|&f| f != header.len) {
            return Err(CommsError::BadLength {
                tag,
                len: header.len,
                expected: fixed,
            });
        }
        let payload = self.recv_payload(header.len, deadline)?;
        Ok((payload, fds))
    }

    /// Reads exactly `len` payload bytes, growing the buffer only as data arrives.
    fn recv_payload(&mut self, len: u32, deadline: Option<Instant>) -> Result<Vec<u8>, CommsError> {
        let len = len as usize;
        let mut out = Vec::with_capacity(len.min(RECV_CHUNK));
        while out.len() < len {
            let start = out.len();
            let want = (len - start).min(RECV_CHUNK);
            out.resize(start + want, 0);
            if self.recv_exact(&mut out[start..], deadline)? < want {
                return Err(CommsError::Truncated);
            }
        }
        Ok(out)
    }

    /// Fills `buf` unless the peer closes first; returns how many bytes were read. Descriptors
    /// that come along are closed as each read brings them.
    fn recv_exact(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<usize, CommsError> {
        let mut done = 0;
        let mut stray = Incoming::default();
        while done < buf.len() {
            let n = self.recv_some(&mut buf[done..], &mut stray, deadline)?;
            stray.discard();
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    /// One `recvmsg` call, retried on `EINTR`; past `deadline` it does not wait (see
    /// [`Comms::set_timeout`]). Every descriptor the kernel installed goes to `fds` before
    /// anything can fail: when they did not all fit (`MSG_CTRUNC`: too many, or this process's
    /// descriptor table is full), those that came are still owned, and `fds` is marked cut (see
    /// [`CommsError::DescriptorsCut`]).
    fn recv_some(
        &mut self,
        buf: &mut [u8],
        fds: &mut Incoming,
        deadline: Option<Instant>,
    ) -> Result<usize, CommsError> {
        loop {
            let flags = if Self::in_time(deadline) {
                libc::MSG_CMSG_CLOEXEC
            } else {
                libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT
            };
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            // SAFETY: an all-zero msghdr is a valid empty one.
            let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
            hdr.msg_iov = &mut iov;
            hdr.msg_iovlen = 1;
            hdr.msg_control = self.cmsg_buf.as_mut_ptr().cast();
            hdr.msg_controllen = (self.cmsg_buf.len() * size_of::<u64>()) as _;
            // SAFETY: hdr points at `iov` (into `buf`) and at `cmsg_buf`, both live and of the
            // lengths given; the kernel writes at most that much.
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut hdr, flags) };
            if n < 0 {
                match Errno::last() {
                    // Retried; past the deadline the retry does not wait.
                    Errno::EINTR => continue,
                    Errno::ECONNRESET => return Ok(0),
                    e => return Err(CommsError::Io(socket_error(e, "receive"))),
                }
            }
            // SAFETY: the kernel has just filled `hdr`'s control area (msg_controllen bytes of
            // `cmsg_buf`) and installed the descriptors it lists in this process.
            unsafe { take_descriptors(&hdr, fds) };
            fds.cut |= hdr.msg_flags & libc::MSG_CTRUNC != 0;
            return Ok(n as usize);
        }
    }
}

/// A zeroed control area for `recvmsg` with room for `fds` descriptors, aligned for
/// `cmsghdr` (whose alignment is that of its `size_t` length).
fn control_area(fds: usize) -> Vec<u64> {
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE((fds * size_of::<RawFd>()) as u32) } as usize;
    vec![0; space.div_ceil(size_of::<u64>())]
}

/// Takes ownership of the descriptors of every `SCM_RIGHTS` message in `hdr`'s control area.
///
/// # Safety
/// `hdr` must be a `msghdr` just filled by `recvmsg`, whose control area is still live, and
/// the descriptors it lists must be owned by nothing else.
unsafe fn take_descriptors(hdr: &libc::msghdr, fds: &mut Incoming) {
    let header_len = libc::CMSG_LEN(0) as usize;
    // SAFETY (whole block): CMSG_FIRSTHDR and CMSG_NXTHDR stay within msg_controllen bytes of
    // msg_control, which is aligned for cmsghdr (`control_area`), and return null at the end;
    // the descriptors after a header need not be aligned for reading, so they (and, alike,
    // the header) are read unaligned.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        while !cmsg.is_null() {
            let c = std::ptr::read_unaligned(cmsg);
            if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SCM_RIGHTS {
                let count = (c.cmsg_len as usize).saturating_sub(header_len) / size_of::<RawFd>();
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for i in 0..count {
                    let raw = std::ptr::read_unaligned(data.add(i));
                    fds.fds.push(OwnedFd::from_raw_fd(raw));
                }
            }
            cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
        }
    }
}

/// Descriptors that came in with a read and are not handed out yet. Those not kept are closed
/// without lingering: a socket among them gets `SO_LINGER` with a zero time first, since
/// closing the last reference to a TCP socket whose data is still unsent and whose linger time
/// is long blocks the closing thread, and a sandboxee can attach such a socket to any message.
#[derive(Default)]
struct Incoming {
    fds: Vec<OwnedFd>,
    /// Whether the kernel had to leave some of the message's descriptors out (`MSG_CTRUNC`).
    cut: bool,
}

impl Incoming {
    /// Hands the descriptors out; the caller owns them from now on.
    fn keep(mut self) -> Vec<OwnedFd> {
        std::mem::take(&mut self.fds)
    }

    /// Hands the first descriptor out, if any; the rest stay here.
    fn take_first(&mut self) -> Option<OwnedFd> {
        (!self.fds.is_empty()).then(|| self.fds.remove(0))
    }

    /// Closes every descriptor held, without lingering.
    fn discard(&mut self) {
        let abort = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        for fd in self.fds.drain(..) {
            // SAFETY: a valid descriptor and a live linger of the size given. On anything but a
            // socket the call fails (ENOTSOCK) and changes nothing.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&abort as *const libc::linger).cast(),
                    size_of::<libc::linger>() as libc::socklen_t,
                )
            };
        }
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        self.discard();
    }
}

impl AsFd for Comms {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Comms {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<Comms> for OwnedFd {
    fn from(comms: Comms) -> OwnedFd {
        comms.fd
    }
}

/// The parts of `header` + `payload` not yet sent, as an iovec.
fn remaining_iov<'a>(header: &'a [u8], payload: &'a [u8], sent: usize) -> Vec<IoSlice<'a>> {
    let mut iov = Vec::with_capacity(2);
    if sent < header.len() {
        iov.push(IoSlice::new(&header[sent..]));
        iov.push(IoSlice::new(payload));
    } else {
        iov.push(IoSlice::new(&payload[sent - header.len()..]));
    }
    iov
}

/// Converts a socket errno, naming timeouts as such.
fn socket_error(errno: Errno, op: &str) -> io::Error {
    if errno == Errno::EAGAIN {
        io::Error::new(io::ErrorKind::TimedOut, format!("comms {op} timed out"))
    } else {
        io::Error::from(errno)
    }
}

/// Checks that `fd` is open and is a stream socket.
fn check_stream_socket(fd: RawFd) -> Result<(), CommsError> {
    let stat = fstat(fd).map_err(|_| CommsError::NoCommsFd {
        fd,
        reason: "not an open descriptor",
    })?;
    if SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFSOCK {
        return Err(CommsError::NoCommsFd {
            fd,
            reason: "not a socket",
        });
    }
    // SAFETY: fstat just confirmed `fd` is open; the borrow does not outlive this call.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    match socket::getsockopt(&borrowed, sockopt::SockType) {
        Ok(SockType::Stream) => Ok(()),
        _ => Err(CommsError::NoCommsFd {
            fd,
            reason: "not a stream socket",
        }),
    }
}
