//! The host sends bytes over comms to a sandboxed function of this same binary, which returns
//! their CRC-32. Like Sandbox2's crc4 example.
//!
//! ```text
//! cargo run --example crc4 -- [DATA]        # prints the checksum
//! cargo run --example crc4 -- --misbehave   # the sandboxee opens /etc/passwd to write: killed
//! ```
//!
//! The sandboxee may only do what the Rust runtime needs to start and exit, and talk over the
//! comms descriptor (1023). With `--misbehave` the example exits 0 after printing
//! `violation caught: ...` when the policy stopped the sandboxee, and 1 otherwise.

use sandbox_runtime::comms::Comms;
use sandbox_runtime::{dispatch, Limits, SandboxedFunction, Status};
use std::process::ExitCode;
use std::time::Duration;

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    use dynamic_startup, malloc, exit, signals;
    // Rust's runtime checks, before main, that descriptors 0 to 2 are open: one poll that
    // does not wait.
    allow poll if nfds == 3 && timeout == 0;
    // (glibc's malloc seeds its heap hardening with getrandom, which `malloc` allows.)
    // glibc sizes its malloc arenas by the CPUs the process may run on (read-only).
    allow sched_getaffinity;
    // Rust's runtime locates the main thread's stack (pthread_getattr_np asks for the tid).
    allow gettid;
    // The comms channel, and nothing else (taking it checks that it is a stream socket).
    allow recvfrom, recvmsg, sendto, sendmsg, getsockopt if sockfd == 1023;
    // Debug builds of Rust's standard library check that a descriptor is open before closing it.
    allow fcntl if fd == 1023 && cmd == F_GETFD;
};

/// The sandboxee: one message in, its CRC-32 out. Asked to misbehave by a first byte of 0xff
/// followed by "misbehave", it tries to open /etc/passwd for writing. (Opening it read-only is
/// not a violation: the loader's read-only opens are part of `dynamic_startup`, and the file
/// simply is not there, since the sandbox's file system holds only this binary and its
/// libraries.)
fn crc_server(mut comms: Comms) -> i32 {
    let Ok(data) = comms.recv_bytes() else {
        return 2;
    };
    if data == b"\xffmisbehave" {
        let _ = std::fs::OpenOptions::new().append(true).open("/etc/passwd");
    }
    match comms.send_u64(u64::from(sandbox_suite::crc32(&data))) {
        Ok(()) => 0,
        Err(_) => 3,
    }
}

fn main() -> ExitCode {
    dispatch(&[("crc", crc_server)]);

    let arg = std::env::args().nth(1);
    let misbehave = arg.as_deref() == Some("--misbehave");
    let data: Vec<u8> = match (&arg, misbehave) {
        (_, true) => b"\xffmisbehave".to_vec(),
        (Some(a), false) => a.clone().into_bytes(),
        (None, false) => b"The quick brown fox jumps over the lazy dog".to_vec(),
    };

    let spawned = SandboxedFunction::new("crc")
        .policy(&POLICY)
        .limits(Limits {
            wall_time: Some(Duration::from_secs(10)),
            ..Limits::default()
        })
        .spawn();
    let (mut child, mut comms) = match spawned {
        Ok(x) => x,
        Err(e) => {
            eprintln!("crc4: cannot start the sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    comms.set_timeout(Some(Duration::from_secs(10))).ok();
    let sent = comms.send_bytes(&data);
    let reply = sent.and_then(|()| comms.recv_u64());
    drop(comms);
    let outcome = child.wait();

    match (&outcome.status, reply, misbehave) {
        (Status::Violation(v), _, true) if v.syscall.starts_with("open") => {
            println!("violation caught: {outcome}");
            ExitCode::SUCCESS
        }
        (Status::Exited(0), Ok(crc), false) => {
            println!("crc32 = {crc:08x}");
            ExitCode::SUCCESS
        }
        (_, reply, _) => {
            eprintln!("crc4: unexpected end: {outcome}; reply: {reply:?}");
            ExitCode::FAILURE
        }
    }
}
