//! Helpers shared by the integration tests: compiled policies and a command with the host's
//! program directories bound read-only.

#![allow(dead_code)]

use sandbox_policy::{compile_text, NoIncludes};
use sandbox_runtime::{Policy, SandboxCommand};

/// A compiled policy that allows everything except the listed syscalls, each killed by its own
/// rule (`kill NAME`, tag = index + 1). The numbers document the x86-64 call the tests make;
/// the compiler looks the names up itself.
pub fn kill_only(syscalls: &[(&'static str, u32)]) -> Policy {
    let mut text = String::from("default allow;\n");
    for (name, _) in syscalls {
        text.push_str(&format!("kill {name};\n"));
    }
    let c = compile_text("test.policy", None, &text, &mut NoIncludes);
    match c.result {
        Ok(compiled) => compiled.policy,
        Err(_) => panic!("{}", c.render_errors()),
    }
}

/// Allows everything (foreign architectures and x32 numbers are still killed).
pub fn permissive() -> Policy {
    kill_only(&[])
}

/// A command for `program` with /bin, /usr, /lib, /lib64 (and /etc/alternatives when present)
/// bound read-only.
pub fn command(program: &str) -> SandboxCommand {
    let mut c = SandboxCommand::new(program);
    for d in ["/bin", "/usr", "/lib", "/lib64", "/sbin"] {
        if std::path::Path::new(d).exists() {
            c.mount_ro(d, d);
        }
    }
    c
}

/// Every child of this process, over all its threads (pids as text).
pub fn children() -> Vec<String> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("children");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        out.extend(text.split_whitespace().map(str::to_string));
    }
    out
}

/// Whether a process `pid` exists (running or a zombie).
pub fn process_exists(pid: impl std::fmt::Display) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}
