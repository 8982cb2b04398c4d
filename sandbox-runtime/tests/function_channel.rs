//! A sandboxed function's channel reports the sandbox's end, whatever the sandboxee did with
//! its own end of it. Not a libtest harness: the binary's `main` must dispatch the functions it
//! runs in sandboxes, then runs the checks and exits non-zero on a failure.

use sandbox_runtime::comms::{Comms, CommsError};
use sandbox_runtime::{dispatch, SandboxedFunction, Status};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Sends its own end of the channel to the host, attached to a message the host never reads,
/// then exits: that reference in flight would keep the channel open for good.
fn send_own_end(mut comms: Comms) -> i32 {
    let own = comms.as_raw_fd();
    // SAFETY: `own` is `comms`' descriptor, open for as long as `comms` lives; the kernel
    // sends a new reference to it.
    let own = unsafe { std::os::fd::BorrowedFd::borrow_raw(own) };
    match comms.send_fd(own) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// Exits without a word.
fn quiet(_comms: Comms) -> i32 {
    0
}

/// Spawns `name`, waits for its end, then sends 4 MiB on the channel: the send must fail with
/// `Closed` within 5 s rather than block.
fn send_after_the_end(name: &str) -> Result<(), String> {
    let (mut child, mut comms) = SandboxedFunction::new(name)
        .spawn()
        .map_err(|e| format!("{name}: spawn: {e}"))?;
    let outcome = child.wait();
    if outcome.status != Status::Exited(0) {
        return Err(format!("{name}: {outcome}"));
    }
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(comms.send_bytes(&vec![0u8; 4 << 20]));
    });
    match done.recv_timeout(Duration::from_secs(5)) {
        Ok(Err(CommsError::Closed)) => Ok(()),
        Ok(other) => Err(format!("{name}: a send after the end gave {other:?}")),
        Err(_) => Err(format!(
            "{name}: a send after the end still blocks after 5 s"
        )),
    }
}

fn main() {
    dispatch(&[("send-own-end", send_own_end), ("quiet", quiet)]);
    let mut failed = false;
    for name in ["quiet", "send-own-end"] {
        match send_after_the_end(name) {
            Ok(()) => println!("test {name} ... ok"),
            Err(e) => {
                println!("test {name} ... FAILED: {e}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
