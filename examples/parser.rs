//! Parsing untrusted input in a sandboxed function of the host binary: the host sends the raw
//! bytes over comms, the sandboxee parses them as `key=value` lines and sends back either the
//! pairs or why the input was rejected. A bug in the parser then costs a sandbox, not the host.
//!
//! ```text
//! cargo run --example parser                       # parses a built-in good and bad input
//! cargo run --example parser -- 'name=demo\nsize=3' # parses the argument (\n is a newline)
//! ```
//!
//! Prints one line per pair (`key = value`) or `rejected: REASON`; exits 0 when the sandbox
//! ran cleanly, whatever the verdict on the input.

use sandbox_runtime::comms::Comms;
use sandbox_runtime::{dispatch, Limits, SandboxedFunction, Status};
use sandbox_suite::parse_key_values;
use std::process::ExitCode;
use std::time::Duration;

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    use dynamic_startup, malloc, exit, signals;
    // What Rust's runtime and glibc do before main (see examples/crc4.rs).
    allow poll if nfds == 3 && timeout == 0;
    allow sched_getaffinity, gettid;
    // The comms channel.
    allow recvfrom, recvmsg, sendto, sendmsg, getsockopt if sockfd == 1023;
    allow fcntl if fd == 1023 && cmd == F_GETFD;
};

/// The sandboxee. Reply: `0`, the number of pairs, then key and value strings; or `1` and the
/// reason.
fn parse_server(mut comms: Comms) -> i32 {
    let Ok(input) = comms.recv_bytes() else {
        return 2;
    };
    let sent = match parse_key_values(&input) {
        Ok(pairs) => comms.send_u64(0).and_then(|()| {
            comms.send_u64(pairs.len() as u64)?;
            pairs.iter().try_for_each(|(k, v)| {
                comms.send_str(k)?;
                comms.send_str(v)
            })
        }),
        Err(reason) => comms.send_u64(1).and_then(|()| comms.send_str(&reason)),
    };
    i32::from(sent.is_err())
}

/// What the host learns: the pairs or the reason, read with a bound on the number of pairs so
/// a compromised sandboxee cannot make the host loop or allocate without end.
fn parse_sandboxed(input: &[u8]) -> Result<Result<Vec<(String, String)>, String>, String> {
    let (mut child, mut comms) = SandboxedFunction::new("parse")
        .policy(&POLICY)
        .limits(Limits {
            wall_time: Some(Duration::from_secs(10)),
            address_space: Some(1 << 30),
            ..Limits::default()
        })
        .spawn()
        .map_err(|e| format!("cannot start the sandbox: {e}"))?;
    comms.set_timeout(Some(Duration::from_secs(10))).ok();
    comms.set_max_message_len(1 << 20);
    let reply = (|| -> Result<Result<Vec<(String, String)>, String>, String> {
        comms.send_bytes(input).map_err(|e| e.to_string())?;
        match comms.recv_u64().map_err(|e| e.to_string())? {
            0 => {
                let n = comms.recv_u64().map_err(|e| e.to_string())?;
                if n > 10_000 {
                    return Err(format!("the sandboxee claims {n} pairs"));
                }
                let mut pairs = Vec::new();
                for _ in 0..n {
                    let k = comms.recv_string().map_err(|e| e.to_string())?;
                    let v = comms.recv_string().map_err(|e| e.to_string())?;
                    pairs.push((k, v));
                }
                Ok(Ok(pairs))
            }
            1 => Ok(Err(comms.recv_string().map_err(|e| e.to_string())?)),
            other => Err(format!("the sandboxee sent verdict {other}")),
        }
    })();
    drop(comms);
    let outcome = child.wait();
    match (&outcome.status, reply) {
        (Status::Exited(0), Ok(r)) => Ok(r),
        (_, r) => Err(format!("{outcome}; reply: {r:?}")),
    }
}

fn main() -> ExitCode {
    dispatch(&[("parse", parse_server)]);
    // While the process is small: every sandbox is cloned from this copy of it, so start-up
    // and each sandbox's memory stay small however much the host grows later.
    if let Err(e) = sandbox_runtime::start_fork_server() {
        eprintln!("fork server: {e} (sandboxes are cloned directly)");
    }

    let inputs: Vec<Vec<u8>> = match std::env::args().nth(1) {
        Some(a) => vec![a.replace("\\n", "\n").into_bytes()],
        None => vec![
            b"# a config\nname = demo\nsize=3\n".to_vec(),
            b"name=demo\nthis line has no equals sign\n".to_vec(),
        ],
    };
    for input in inputs {
        println!("input: {:?}", String::from_utf8_lossy(&input));
        match parse_sandboxed(&input) {
            Ok(Ok(pairs)) => pairs.iter().for_each(|(k, v)| println!("  {k} = {v}")),
            Ok(Err(reason)) => println!("  rejected: {reason}"),
            Err(e) => {
                eprintln!("parser: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
