//! Real programs give the same output inside the sandbox as outside.

mod common;

use sandbox_runtime::Status;
use std::io::Write;
use std::process::Command;

fn compare(program: &str, args: &[&str]) {
    let host = Command::new(program).args(args).output().unwrap();
    let out = common::command(program)
        .args(args)
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Exited(host.status.code().unwrap()),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&host.stdout),
        "{program} {args:?}"
    );
}

#[test]
fn true_echo_sha256sum_python() {
    compare("/bin/true", &[]);
    compare("/bin/echo", &["hello", "world"]);
    compare("/usr/bin/sha256sum", &["/usr/bin/sha256sum"]);
    compare("/usr/bin/python3", &["-c", "print(1)"]);
    compare("/bin/ls", &["/usr"]);
}

#[test]
fn cat_copies_stdin_to_stdout() {
    let mut child = common::command("/bin/cat")
        .stdin(sandbox_runtime::Stdio::Piped)
        .stdout(sandbox_runtime::Stdio::Piped)
        .policy(&common::permissive())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"some bytes\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output();
    assert_eq!(out.outcome.status, Status::Exited(0));
    assert_eq!(out.stdout, b"some bytes\n");
}

#[test]
fn environment_is_empty_unless_set() {
    let out = common::command("/usr/bin/env")
        .env("A", "b")
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"A=b\n");
}

#[test]
fn passed_fd_arrives_at_its_number() {
    let dir = std::env::temp_dir().join(format!("sbx-pass-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f");
    std::fs::write(&path, "passed\n").unwrap();
    let f = std::fs::File::open(&path).unwrap();
    let out = common::command("/bin/cat")
        .arg("/dev/fd/5")
        .pass_fd(f.into(), 5)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Exited(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"passed\n");
}

#[test]
fn rw_bind_and_tmpfs() {
    let dir = std::env::temp_dir().join(format!("sbx-rw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The sandbox user must be able to write: make the directory world-writable for the test.
    Command::new("chmod").arg("777").arg(&dir).status().unwrap();
    let out = common::command("/bin/sh")
        .args([
            "-c",
            "echo x > /out/f && echo y > /scratch/g && cat /scratch/g && ! touch /usr/nope",
        ])
        .mount_rw(&dir, "/out")
        .tmpfs("/scratch", 1 << 20)
        .output()
        .unwrap();
    let written = std::fs::read_to_string(dir.join("f"));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Exited(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"y\n");
    assert_eq!(written.unwrap(), "x\n");
}

/// Signals the host blocked or ignored (Rust ignores SIGPIPE; services block signals in worker
/// threads) do not reach the program: it starts, as after a plain exec from a fresh process,
/// with nothing blocked and nothing ignored, so `yes | head` ends the way it does outside.
#[test]
fn signal_mask_and_ignored_signals_start_clean() {
    // SAFETY: sigset_t is plain old data, filled by sigemptyset/sigaddset before use; the mask
    // applies to this test's thread only and is restored below.
    let old = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        old
    };
    let out = common::command("/bin/grep")
        .args(["-E", "^Sig(Blk|Ign)", "/proc/self/status"])
        .policy(&common::permissive())
        .output()
        .unwrap();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    assert_eq!(out.outcome.status, Status::Exited(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
    // With SIGPIPE ignored, `yes` would outlive `head` and complain of a broken pipe.
    let piped = common::command("/bin/sh")
        .args(["-c", "yes | head -c 4"])
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(piped.outcome.status, Status::Exited(0));
    assert_eq!(piped.stdout, b"y\ny\n");
    assert_eq!(String::from_utf8_lossy(&piped.stderr), "");
}
