//! Our sandbox, configured like the peers: the program and its libraries (or `/usr`) bound
//! read-only, every namespace, a compiled filter and the monitor.

use crate::peers::{drain_until, top_level, LOADER_CACHE, RUN_TIMEOUT};
use sandbox_runtime::{Limits, Policy, SandboxCommand, Status, Stdio};

/// The program the start-up and throughput comparisons run.
pub const TRUE: &[&str] = &["/bin/true"];

/// The smallest realistic policy for `/bin/true` (and any program that only starts and exits).
pub const TRUE_POLICY: &str = "default kill;\nuse dynamic_startup, malloc, exit;\n";

/// A policy allowing everything: the filter and monitor are in place but never object.
pub const ALLOW_ALL_POLICY: &str = "default allow;\n";

/// Compiles policy text (the benchmarks' own policies; a failure is a bug here).
pub fn compile(name: &str, text: &str) -> Policy {
    let out = sandbox_policy::compile_text(name, None, text, &mut sandbox_policy::NoIncludes);
    match out.result {
        Ok(c) => c.policy,
        Err(_) => panic!(
            "benchmark policy {name} does not compile:\n{}",
            out.render_errors()
        ),
    }
}

/// How one of our sandboxes is set up.
#[derive(Clone, Copy)]
pub struct Setup<'a> {
    /// The policy, or none (namespaces and mounts only, no filter, no notification).
    pub policy: Option<&'a Policy>,
    /// Whether the host's network namespace is shared (no new one is created).
    pub share_network: bool,
    /// Whether `/usr` (and the `/lib`, `/lib64`, `/bin` links, and the loader's cache) are
    /// bound, as for real programs (the program and its libraries must then be among them);
    /// otherwise only the program and the libraries it loads.
    pub bind_usr: bool,
    /// Whether the sandbox is cloned by the fork server (started at the top of `main`) rather
    /// than directly from this process.
    pub fork_server: bool,
}

impl<'a> Setup<'a> {
    /// Only the program and the libraries it loads bound, every namespace, cloned directly.
    pub fn program_only(policy: Option<&'a Policy>) -> Self {
        Setup {
            policy,
            share_network: false,
            bind_usr: false,
            fork_server: false,
        }
    }

    /// `/usr`, the top-level links and the loader's cache bound, as real programs need; every
    /// namespace, cloned directly.
    pub fn with_usr(policy: Option<&'a Policy>) -> Self {
        Setup {
            bind_usr: true,
            ..Setup::program_only(policy)
        }
    }

    /// The same, cloned by the fork server.
    pub fn served(self) -> Self {
        Setup {
            fork_server: true,
            ..self
        }
    }

    /// The same, sharing the host's network namespace.
    pub fn sharing_network(self) -> Self {
        Setup {
            share_network: true,
            ..self
        }
    }

    /// The command running `argv` in this setup, with standard streams on `/dev/null` and a
    /// wall-time limit far above any run here, so that a run that hangs ends the benchmark
    /// with a failure instead of hanging it.
    pub fn command(&self, argv: &[&str]) -> SandboxCommand {
        let mut c = SandboxCommand::new(argv[0]);
        c.args(&argv[1..])
            .limits(Limits {
                wall_time: Some(RUN_TIMEOUT),
                ..Limits::default()
            })
            .stdin(Stdio::Null)
            .stdout(Stdio::Null)
            .stderr(Stdio::Null)
            .share_network(self.share_network)
            .use_fork_server(self.fork_server);
        if self.bind_usr {
            c.mount_ro("/usr", "/usr");
            for top in top_level() {
                match &top.link {
                    Some(target) => c.symlink(target, &top.path),
                    None => c.mount_ro(&top.path, &top.path),
                };
            }
            if std::path::Path::new(LOADER_CACHE).exists() {
                c.mount_ro(LOADER_CACHE, LOADER_CACHE);
            }
        } else {
            c.add_program_with_libraries(argv[0]);
        }
        if let Some(p) = self.policy {
            c.policy(p);
        }
        c
    }

    /// Runs `argv` to completion; `Err` unless it exits with one of `ok_codes`. With `drain`,
    /// standard output is a pipe this process reads to its end (`spawn`, then `wait`);
    /// without, the run is `status()`, the call for running a program to its end.
    pub fn run(&self, argv: &[&str], ok_codes: &[i32], drain: bool) -> Result<(), String> {
        if drain {
            return self.run_pid(argv, ok_codes, drain).map(drop);
        }
        let outcome = self
            .command(argv)
            .status()
            .map_err(|e| format!("cannot spawn: {e}"))?;
        match outcome.status {
            Status::Exited(c) if ok_codes.contains(&c) => Ok(()),
            s => Err(format!("ended with {s:?}")),
        }
    }

    /// [`Setup::run`] through `spawn` and `wait` (drained or not), returning the pid the
    /// sandbox's init had.
    pub fn run_pid(&self, argv: &[&str], ok_codes: &[i32], drain: bool) -> Result<u32, String> {
        let mut cmd = self.command(argv);
        if drain {
            cmd.stdout(Stdio::Piped);
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot spawn: {e}"))?;
        if let Some(mut out) = child.stdout.take() {
            // Read as the peers' output is (see `drain_until`).
            drain_until(&mut out, std::time::Instant::now() + RUN_TIMEOUT)
                .map_err(|e| format!("{e} (limit {RUN_TIMEOUT:?})"))?;
        }
        match child.wait().status {
            Status::Exited(c) if ok_codes.contains(&c) => Ok(child.id()),
            s => Err(format!("ended with {s:?}")),
        }
    }
}
