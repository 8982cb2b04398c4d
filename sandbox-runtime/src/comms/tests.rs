//! Channel tests over socketpairs, including peers that misbehave on purpose.

use super::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::Instant;

fn comms_pair() -> (Comms, Comms) {
    let (host, raw) = Comms::pair().expect("socketpair");
    (host, Comms::from_fd(raw).expect("socket"))
}

/// A host end and a raw stream the test writes arbitrary bytes into.
fn hostile_pair() -> (Comms, UnixStream) {
    let (host, raw) = Comms::pair().expect("socketpair");
    (host, UnixStream::from(raw))
}

fn header(tag: u32, len: u32) -> [u8; HEADER_LEN] {
    Header { tag, len }.encode()
}

/// Writes one message of `tag` with `payload` from `peer`, with a pipe's write end attached
/// (then closed here), and returns the pipe's read end: reading it to its end at once shows
/// that the receiver closed the descriptor rather than kept it.
fn send_with_a_pipe_end(peer: &UnixStream, tag: Tag, payload: &[u8]) -> OwnedFd {
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    let fds = [write_end.as_raw_fd()];
    let head = header(tag as u32, payload.len() as u32);
    let iov = [IoSlice::new(&head), IoSlice::new(payload)];
    socket::sendmsg::<()>(
        peer.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .unwrap();
    read_end
}

/// Whether the pipe behind `read_end` has no writer left (its read ends at once, empty).
fn writer_closed(read_end: OwnedFd) -> bool {
    let mut rest = Vec::new();
    std::fs::File::from(read_end)
        .read_to_end(&mut rest)
        .unwrap();
    rest.is_empty()
}

#[test]
fn every_type_round_trips() {
    let (mut a, mut b) = comms_pair();
    a.send_bytes(b"\x00\x01binary").unwrap();
    a.send_str("héllo").unwrap();
    a.send_u64(u64::MAX).unwrap();
    a.send_i64(-42).unwrap();
    a.send_bytes(b"").unwrap();
    assert_eq!(b.recv_bytes().unwrap(), b"\x00\x01binary");
    assert_eq!(b.recv_string().unwrap(), "héllo");
    assert_eq!(b.recv_u64().unwrap(), u64::MAX);
    assert_eq!(b.recv_i64().unwrap(), -42);
    assert_eq!(b.recv_bytes().unwrap(), b"");
}

#[test]
fn large_payload_crosses_in_chunks() {
    let (mut a, mut b) = comms_pair();
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let sender = thread::spawn(move || a.send_bytes(&data));
    assert_eq!(b.recv_bytes().unwrap(), expected);
    sender.join().unwrap().unwrap();
}

#[test]
fn clean_close_between_messages_is_closed() {
    let (mut a, mut b) = comms_pair();
    a.send_u64(7).unwrap();
    drop(a);
    assert_eq!(b.recv_u64().unwrap(), 7);
    assert!(matches!(b.recv_u64(), Err(CommsError::Closed)));
}

#[test]
fn send_to_closed_peer_is_closed_not_sigpipe() {
    let (mut a, b) = comms_pair();
    drop(b);
    assert!(matches!(a.send_str("x"), Err(CommsError::Closed)));
}

#[test]
fn close_mid_header_is_truncated() {
    let (mut host, mut peer) = hostile_pair();
    peer.write_all(&[2, 0, 0]).unwrap();
    drop(peer);
    assert!(matches!(host.recv_string(), Err(CommsError::Truncated)));
}

#[test]
fn close_mid_payload_is_truncated() {
    let (mut host, mut peer) = hostile_pair();
    peer.write_all(&header(Tag::Bytes as u32, 100)).unwrap();
    peer.write_all(&[7; 10]).unwrap();
    drop(peer);
    assert!(matches!(host.recv_bytes(), Err(CommsError::Truncated)));
}

#[test]
fn garbage_header_is_an_unknown_tag() {
    let (mut host, mut peer) = hostile_pair();
    peer.write_all(&[0xff; 64]).unwrap();
    let err = host.recv_bytes().unwrap_err();
    assert!(
        matches!(
            err,
            CommsError::WrongType {
                expected: Tag::Bytes,
                got: 0xffff_ffff
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "comms expected a bytes message, got unknown tag 4294967295"
    );
}

#[test]
fn huge_length_is_refused_before_allocating() {
    let (mut host, mut peer) = hostile_pair();
    peer.write_all(&header(Tag::Bytes as u32, u32::MAX))
        .unwrap();
    let err = host.recv_bytes().unwrap_err();
    assert!(
        matches!(err, CommsError::TooLarge { len, max } if len == u64::from(u32::MAX) && max == DEFAULT_MAX_MESSAGE_LEN),
        "{err:?}"
    );
}

#[test]
fn configured_maximum_applies_both_ways() {
    let (mut a, mut b) = comms_pair();
    a.set_max_message_len(4);
    assert!(matches!(
        a.send_bytes(b"12345"),
        Err(CommsError::TooLarge { len: 5, max: 4 })
    ));
    b.set_max_message_len(4);
    a.set_max_message_len(100);
    a.send_bytes(b"12345").unwrap();
    assert!(matches!(
        b.recv_bytes(),
        Err(CommsError::TooLarge { len: 5, max: 4 })
    ));
}

#[test]
fn wrong_type_is_reported_and_skipped() {
    let (mut a, mut b) = comms_pair();
    a.send_str("not a number").unwrap();
    a.send_u64(5).unwrap();
    let err = b.recv_u64().unwrap_err();
    assert!(
        matches!(
            err,
            CommsError::WrongType {
                expected: Tag::U64,
                got: 2
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        b.recv_u64().unwrap(),
        5,
        "channel stays in sync after a known wrong type"
    );
}

#[test]
fn fixed_size_with_wrong_length_is_bad_length() {
    let (mut host, mut peer) = hostile_pair();
    peer.write_all(&header(Tag::U64 as u32, 4)).unwrap();
    peer.write_all(&[1, 2, 3, 4]).unwrap();
    assert!(matches!(
        host.recv_u64(),
        Err(CommsError::BadLength {
            tag: Tag::U64,
            len: 4,
            expected: 8
        })
    ));
}

#[test]
fn invalid_utf8_is_bad_utf8() {
    let (mut host, mut peer) = hostile_pair();
    peer.write_all(&header(Tag::String as u32, 2)).unwrap();
    peer.write_all(&[0xc3, 0x28]).unwrap();
    assert!(matches!(host.recv_string(), Err(CommsError::BadUtf8)));
}

#[test]
fn fd_message_without_descriptor_is_no_fd() {
    let (mut host, mut peer) = hostile_pair();
    peer.write_all(&header(Tag::Fd as u32, 1)).unwrap();
    peer.write_all(&[0]).unwrap();
    assert!(matches!(host.recv_fd(), Err(CommsError::NoFd)));
}

#[test]
fn pipe_end_passes_and_is_readable_and_cloexec() {
    let (mut a, mut b) = comms_pair();
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    a.send_fd(read_end.as_fd()).unwrap();
    drop(read_end);
    let received = b.recv_fd().unwrap();
    let flags = nix::fcntl::fcntl(received.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
    assert_ne!(
        flags & libc::FD_CLOEXEC,
        0,
        "received fd must be close-on-exec"
    );
    std::fs::File::from(write_end)
        .write_all(b"through the pipe")
        .unwrap();
    let mut text = String::new();
    std::fs::File::from(received)
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "through the pipe");
}

#[test]
fn descriptors_pass_in_one_message_in_order_and_cloexec() {
    let (mut a, mut b) = comms_pair();
    let pipes: Vec<_> = (0..5).map(|_| nix::unistd::pipe().unwrap()).collect();
    let read_ends: Vec<_> = pipes.iter().map(|(r, _)| r.as_fd()).collect();
    a.send_fds(&read_ends).unwrap();
    a.send_fds(&[]).unwrap();
    drop(read_ends);
    let received = b.recv_fds().unwrap();
    assert_eq!(received.len(), 5);
    assert!(b.recv_fds().unwrap().is_empty());
    // Every pipe gets its number and loses its writer before any is read, so each read ends,
    // whatever order the descriptors came in.
    for (i, (read_end, write_end)) in pipes.into_iter().enumerate() {
        drop(read_end);
        std::fs::File::from(write_end)
            .write_all(format!("pipe {i}").as_bytes())
            .unwrap();
    }
    for (i, got) in received.into_iter().enumerate() {
        let flags = nix::fcntl::fcntl(got.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0, "fd {i} must be close-on-exec");
        let mut text = String::new();
        std::fs::File::from(got).read_to_string(&mut text).unwrap();
        assert_eq!(
            text,
            format!("pipe {i}"),
            "the descriptors came out of order"
        );
    }
}

#[test]
fn a_descriptors_message_must_carry_the_count_it_announces() {
    let (mut host, peer) = hostile_pair();
    let read_end = send_with_a_pipe_end(&peer, Tag::Fds, &3u32.to_le_bytes());
    assert!(matches!(
        host.recv_fds(),
        Err(CommsError::FdCount {
            announced: 3,
            carried: 1
        })
    ));
    // The one that did come was closed, not kept.
    assert!(writer_closed(read_end));
}

#[test]
fn more_descriptors_than_one_message_carries_are_refused() {
    let (mut a, _b) = comms_pair();
    let (read_end, _write_end) = nix::unistd::pipe().unwrap();
    let many = vec![read_end.as_fd(); Comms::MAX_FDS + 1];
    assert!(matches!(
        a.send_fds(&many),
        Err(CommsError::TooManyFds { count, max }) if count == Comms::MAX_FDS + 1 && max == Comms::MAX_FDS
    ));
    let all = vec![read_end.as_fd(); Comms::MAX_FDS];
    a.send_fds(&all).unwrap();
}

#[test]
fn stray_descriptor_on_a_bytes_message_is_closed() {
    let (mut host, peer) = hostile_pair();
    let read_end = send_with_a_pipe_end(&peer, Tag::Bytes, b"abc");
    assert_eq!(host.recv_bytes().unwrap(), b"abc");
    // Had the receiver kept the smuggled write end, this read would block instead of ending.
    assert!(writer_closed(read_end));
}

#[test]
fn silent_peer_times_out() {
    let (mut a, _b) = comms_pair();
    a.set_timeout(Some(Duration::from_millis(50))).unwrap();
    let start = Instant::now();
    let err = a.recv_u64().unwrap_err();
    assert!(
        matches!(&err, CommsError::Io(e) if e.kind() == io::ErrorKind::TimedOut),
        "{err:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    a.set_timeout(None).unwrap();
}

/// With a timeout set, a signal interrupts the wait even under `SA_RESTART`: a receive
/// interrupted every few milliseconds (as by a profiler's timer) must still end with the
/// timeout rather than wait on forever, retried from scratch each time.
#[test]
fn signals_do_not_keep_a_timed_receive_waiting() {
    extern "C" fn nothing(_: libc::c_int) {}
    // SAFETY: installs a handler that does nothing for SIGUSR2, which nothing else here uses.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = nothing as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()),
            0
        );
    }
    let (mut a, _b) = comms_pair();
    a.set_timeout(Some(Duration::from_millis(100))).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let receiver = thread::spawn(move || {
        // SAFETY: no arguments.
        tx.send(unsafe { libc::pthread_self() }).unwrap();
        let began = Instant::now();
        let result = a.recv_u64();
        (result, began.elapsed())
    });
    let thread = rx.recv().unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !receiver.is_finished() && Instant::now() < deadline {
        // SAFETY: the receiving thread has not been joined, so its id is still valid.
        unsafe { libc::pthread_kill(thread, libc::SIGUSR2) };
        thread::sleep(Duration::from_millis(5));
    }
    assert!(
        receiver.is_finished(),
        "a receive interrupted every 5 ms is still waiting after 3 s"
    );
    let (result, took) = receiver.join().unwrap();
    assert!(
        matches!(&result, Err(CommsError::Io(e)) if e.kind() == io::ErrorKind::TimedOut),
        "{result:?}"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn threads_exchange_request_and_reply() {
    let (mut host, mut sandboxee) = comms_pair();
    let worker = thread::spawn(move || -> Result<(), CommsError> {
        let n = sandboxee.recv_u64()?;
        sandboxee.send_str(&format!("got {n}"))
    });
    host.send_u64(9).unwrap();
    assert_eq!(host.recv_string().unwrap(), "got 9");
    worker.join().unwrap().unwrap();
}

#[test]
fn from_fd_rejects_non_sockets() {
    let (read_end, _write_end) = nix::unistd::pipe().unwrap();
    assert!(matches!(
        Comms::from_fd(read_end),
        Err(CommsError::NoCommsFd {
            reason: "not a socket",
            ..
        })
    ));
}

#[test]
fn sandbox_fd_is_taken_once() {
    let (mut host, raw) = Comms::pair().unwrap();
    nix::unistd::dup2(raw.as_raw_fd(), COMMS_FD).unwrap();
    drop(raw);
    let mut sandboxee = Comms::from_sandbox_fd().expect("fd 1023 is a socket");
    assert!(matches!(
        Comms::from_sandbox_fd(),
        Err(CommsError::NoCommsFd {
            reason: "already taken by an earlier call",
            ..
        })
    ));
    sandboxee.send_str("hi").unwrap();
    assert_eq!(host.recv_string().unwrap(), "hi");
}

/// Whether every writer of the pipe behind `read_end` is gone within `limit` (the read end
/// hangs up), without reading it.
fn writers_gone_within(read_end: &OwnedFd, limit: Duration) -> bool {
    let mut p = libc::pollfd {
        fd: read_end.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd.
    let r = unsafe { libc::poll(&mut p, 1, limit.as_millis() as libc::c_int) };
    r == 1 && p.revents & libc::POLLHUP != 0
}

/// A hostile peer sends a bytes message a piece at a time, a descriptor attached to a piece
/// after the header: the receiver closes it as that piece arrives, before the message is
/// complete, so such a peer cannot pile descriptors up in the receiver.
#[test]
fn a_descriptor_on_a_later_piece_is_closed_as_it_arrives() {
    let (mut host, peer) = hostile_pair();
    let receiver = thread::spawn(move || host.recv_bytes());
    let mut head = header(Tag::Bytes as u32, 3).to_vec();
    head.push(b'a');
    (&peer).write_all(&head).unwrap();
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    let fds = [write_end.as_raw_fd()];
    socket::sendmsg::<()>(
        peer.as_raw_fd(),
        &[IoSlice::new(b"b")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .unwrap();
    drop(write_end);
    let closed_early = writers_gone_within(&read_end, Duration::from_secs(2));
    (&peer).write_all(b"c").unwrap();
    assert_eq!(receiver.join().unwrap().unwrap(), b"abc");
    assert!(
        closed_early,
        "the descriptor was kept until the message was complete"
    );
}

#[test]
fn a_channel_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Comms>();
}

/// A host end whose control area holds only `fds` descriptors, and a raw peer stream: a
/// message with more is cut off (`MSG_CTRUNC`), as when this process's descriptor table is
/// full.
fn pair_with_room_for(fds: usize) -> (Comms, UnixStream) {
    let (mut host, raw) = hostile_pair();
    host.cmsg_buf = control_area(fds);
    (host, raw)
}

/// Descriptors the kernel installed before it had to cut the rest off are closed with the
/// failed read, not left open in the host for good.
#[test]
fn descriptors_of_a_cut_off_message_are_closed() {
    let (mut host, peer) = pair_with_room_for(2);
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    let copies = [write_end.as_raw_fd(); 10];
    let head = header(Tag::Fds as u32, 4);
    let count = 10u32.to_le_bytes();
    let iov = [IoSlice::new(&head), IoSlice::new(&count)];
    socket::sendmsg::<()>(
        peer.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&copies)],
        MsgFlags::empty(),
        None,
    )
    .unwrap();
    drop(write_end);
    let got = host.recv_fds();
    assert!(
        matches!(&got, Err(CommsError::DescriptorsCut { announced: 10 })),
        "{got:?}"
    );
    assert!(
        writers_gone_within(&read_end, Duration::from_secs(2)),
        "descriptors that came with the cut-off message are still open"
    );
    // The message was read whole: the next one reads as sent.
    let next = header(Tag::Fds as u32, 4);
    let none = 0u32.to_le_bytes();
    let iov = [IoSlice::new(&next), IoSlice::new(&none)];
    socket::sendmsg::<()>(peer.as_raw_fd(), &iov, &[], MsgFlags::empty(), None).unwrap();
    assert_eq!(host.recv_fds().unwrap().len(), 0);
}

/// A TCP socket whose unsent data cannot leave (its peer, returned with it, never reads) and
/// whose linger time is an hour: closing its last reference would block for that long.
fn lingering_socket() -> (std::net::TcpStream, std::net::TcpStream) {
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let sender = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (receiver, _) = listener.accept().unwrap();
    sender.set_nonblocking(true).unwrap();
    let chunk = [0u8; 65536];
    while (&sender).write(&chunk).is_ok() {}
    let long = libc::linger {
        l_onoff: 1,
        l_linger: 3600,
    };
    // SAFETY: a live socket and a live linger of the size given.
    let r = unsafe {
        libc::setsockopt(
            sender.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&long as *const libc::linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
    (sender, receiver)
}

/// Sends one message of `tag` with `payload` and `fds` attached from `peer`.
fn send_with(peer: &UnixStream, tag: Tag, payload: &[u8], fds: &[RawFd]) {
    let head = header(tag as u32, payload.len() as u32);
    let iov = [IoSlice::new(&head), IoSlice::new(payload)];
    socket::sendmsg::<()>(
        peer.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(fds)],
        MsgFlags::empty(),
        None,
    )
    .unwrap();
}

/// Runs `receive` on the host end on a thread of its own; its result, unless it takes more
/// than 5 s.
fn within_5_s<T: Send + 'static>(
    mut host: Comms,
    receive: impl FnOnce(&mut Comms) -> T + Send + 'static,
) -> Option<T> {
    let (done_tx, done) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = done_tx.send(receive(&mut host));
    });
    done.recv_timeout(Duration::from_secs(5)).ok()
}

/// A lingering socket attached where the receiver keeps no descriptor is closed without
/// lingering, and the receive returns at once: a message that carries none (a stray), an `FD`
/// message's descriptors beyond the first, and those of an `FDS` message with the wrong count.
#[test]
fn a_lingering_socket_the_receiver_does_not_keep_does_not_block_it() {
    for case in [
        "stray",
        "second of an fd message",
        "fds message with a wrong count",
    ] {
        let (sender, _receiver) = lingering_socket();
        let (host, peer) = hostile_pair();
        let (pipe_read, _pipe_write) = nix::unistd::pipe().unwrap();
        match case {
            "stray" => send_with(&peer, Tag::Bytes, b"hi", &[sender.as_raw_fd()]),
            "second of an fd message" => send_with(
                &peer,
                Tag::Fd,
                &[0],
                &[pipe_read.as_raw_fd(), sender.as_raw_fd()],
            ),
            _ => send_with(&peer, Tag::Fds, &3u32.to_le_bytes(), &[sender.as_raw_fd()]),
        }
        // The host's copy is now the last.
        drop(sender);
        let got = within_5_s(host, move |host| match case {
            "stray" => host.recv_bytes().map(|b| b == b"hi"),
            "second of an fd message" => host.recv_fd().map(|_| true),
            _ => host
                .recv_fds()
                .map(|_| false)
                .or_else(|e| Ok(matches!(e, CommsError::FdCount { .. }))),
        });
        assert!(
            matches!(got, Some(Ok(true))),
            "{case}: the receive did not return in 5 s, or not as expected: {got:?}"
        );
    }
}

/// A peer that sends a message a byte at a time, each byte well within the timeout, cannot
/// stretch one receive beyond about twice the timeout: the timeout bounds the message.
#[test]
fn a_trickling_peer_cannot_stretch_a_timed_receive() {
    let (host, peer) = hostile_pair();
    host.set_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut host = host;
    let writer = thread::spawn(move || {
        let mut message = header(Tag::Bytes as u32, 20).to_vec();
        message.extend_from_slice(&[b'x'; 20]);
        for byte in message {
            if (&peer).write_all(&[byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    let started = Instant::now();
    let got = host.recv_bytes();
    let took = started.elapsed();
    assert!(
        matches!(&got, Err(CommsError::Io(e)) if e.kind() == io::ErrorKind::TimedOut),
        "{got:?} after {took:?}"
    );
    // 28 bytes a tenth of a second apart would take 2.8 s.
    assert!(took < Duration::from_millis(900), "{took:?}");
    drop(host);
    writer.join().unwrap();
}

/// Past the deadline a receive still takes what the socket holds: with a zero timeout, a
/// message that is all there is read whole, and only one that is not fails as timed out.
#[test]
fn a_message_already_there_is_taken_whatever_the_timeout() {
    let (mut host, mut peer) = comms_pair();
    host.set_timeout(Some(Duration::ZERO)).unwrap();
    peer.send_bytes(&[7; 1024]).unwrap();
    assert_eq!(host.recv_bytes().unwrap(), vec![7; 1024]);
    let got = host.recv_bytes();
    assert!(
        matches!(&got, Err(CommsError::Io(e)) if e.kind() == io::ErrorKind::TimedOut),
        "{got:?}"
    );
}
