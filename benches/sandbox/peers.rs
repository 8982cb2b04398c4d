//! The baseline and the peers, run through `std::process::Command`: plain fork+exec,
//! util-linux `unshare`, bubblewrap with isolation equivalent to ours, and firejail.

use std::process::{Command, Stdio};

/// A top-level directory programs under `/usr` expect (`/bin`, `/lib`, `/lib64`): on a
/// merged-`/usr` system a symbolic link into `/usr`, elsewhere a directory to bind.
pub struct TopLevel {
    /// The absolute path, e.g. `/lib`.
    pub path: String,
    /// The link's target when it is a symbolic link, e.g. `usr/lib`.
    pub link: Option<String>,
}

/// The top-level directories of this host that exist, each as a link or a directory.
pub fn top_level() -> Vec<TopLevel> {
    ["/bin", "/lib", "/lib64"]
        .iter()
        .filter(|p| std::path::Path::new(p).exists())
        .map(|p| TopLevel {
            path: p.to_string(),
            link: std::fs::read_link(p)
                .ok()
                .map(|t| t.to_string_lossy().into_owned()),
        })
        .collect()
}

/// A peer program: how to build its command line around a program to run.
#[derive(Clone, Copy, Debug)]
pub enum Peer {
    /// `program args` by fork+exec (`std::process::Command`), no isolation.
    Bare,
    /// `unshare -Urmpiu[n] --fork program args`: user, mount, pid, IPC, UTS (and network)
    /// namespaces, no new root file system, no filter.
    Unshare {
        /// Whether a network namespace is created (`-n`).
        net: bool,
    },
    /// `bwrap --unshare-all` (or `--unshare-all --share-net`) with `/usr` and the `/lib`,
    /// `/lib64` and `/bin` links bound read-only, a fresh `/proc` and `/dev`.
    Bwrap {
        /// Whether a network namespace is created.
        net: bool,
    },
    /// `firejail --noprofile --net=none --ipc-namespace --private-dev --seccomp
    /// --caps.drop=all --nonewprivs`: mount, pid, network and IPC namespaces, a minimal `/dev`,
    /// its default filter; the host's root file system (firejail builds no private root), and,
    /// as root, the host's user namespace.
    Firejail,
}

/// Sandboxes the benchmark would compare but cannot run: printed as a notice.
pub fn announce_missing() {
    for (program, peer) in [("nsjail", "nsjail"), ("minijail0", "minijail")] {
        let found = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).exists()));
        if found {
            println!("  NOTICE: {peer} is installed but this benchmark has no rows for it yet");
        } else {
            println!("  NOTICE: {peer} is not installed (Debian 12 does not package it); no rows");
        }
    }
}

/// How long a peer may take to run `/bin/true` once before it is counted as not usable here
/// (a peer that hangs on some machine must not hang the benchmark).
const AVAILABILITY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Peer {
    /// Runs `/bin/true` under this peer once, killing it after [`AVAILABILITY_TIMEOUT`].
    fn try_true(&self) -> Result<(), String> {
        let mut child = self
            .command(&["/bin/true"])
            .spawn()
            .map_err(|e| format!("cannot start: {e}"))?;
        let start = std::time::Instant::now();
        loop {
            match child.try_wait().map_err(|e| format!("wait: {e}"))? {
                Some(status) if status.success() => return Ok(()),
                Some(status) => return Err(format!("ended with {status}")),
                None if start.elapsed() > AVAILABILITY_TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("no answer in {AVAILABILITY_TIMEOUT:?}"));
                }
                None => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
    }

    /// The row label.
    pub fn name(&self) -> String {
        match self {
            Peer::Bare => "fork+exec (std::process::Command)".into(),
            Peer::Unshare { net: false } => "unshare -Urmpiu --fork".into(),
            Peer::Unshare { net: true } => "unshare -Urmpiun --fork".into(),
            Peer::Bwrap { net: true } => "bwrap --unshare-all".into(),
            Peer::Bwrap { net: false } => "bwrap --unshare-all --share-net".into(),
            Peer::Firejail => "firejail --noprofile --net=none".into(),
        }
    }

    /// The command running `argv` under this peer, with an empty environment, cwd `/` and
    /// standard streams on `/dev/null` (as in our sandbox's runs).
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut c = match self {
            Peer::Bare => Command::new(argv[0]),
            Peer::Unshare { net } => {
                let mut c = Command::new("unshare");
                c.arg(if *net { "-Urmpiun" } else { "-Urmpiu" })
                    .arg("--fork");
                c.arg(argv[0]);
                c
            }
            Peer::Bwrap { net } => {
                let mut c = Command::new("bwrap");
                c.arg("--unshare-all");
                if !net {
                    c.arg("--share-net");
                }
                c.args(["--die-with-parent", "--new-session"])
                    .args(["--ro-bind", "/usr", "/usr"]);
                for top in top_level() {
                    match &top.link {
                        Some(target) => c.args(["--symlink", target, &top.path]),
                        None => c.args(["--ro-bind", &top.path, &top.path]),
                    };
                }
                c.args(["--proc", "/proc", "--dev", "/dev"]);
                c.arg(argv[0]);
                c
            }
            Peer::Firejail => {
                let mut c = Command::new("firejail");
                c.args([
                    "--quiet",
                    "--noprofile",
                    "--net=none",
                    "--ipc-namespace",
                    "--private-dev",
                    "--seccomp",
                    "--caps.drop=all",
                    "--nonewprivs",
                    "--",
                ]);
                c.arg(argv[0]);
                c
            }
        };
        c.args(&argv[1..])
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// Runs `argv` to completion; `Err` unless it exits with one of `ok_codes`. With `drain`,
    /// standard output is a pipe this process reads to its end (so a program cannot tell
    /// that its output is discarded, as GNU tar does on `/dev/null`).
    pub fn run(&self, argv: &[&str], ok_codes: &[i32], drain: bool) -> Result<(), String> {
        let mut cmd = self.command(argv);
        if drain {
            cmd.stdout(Stdio::piped());
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
        if let Some(mut out) = child.stdout.take() {
            std::io::copy(&mut out, &mut std::io::sink()).map_err(|e| format!("read: {e}"))?;
        }
        let status = child.wait().map_err(|e| format!("wait: {e}"))?;
        match status.code() {
            Some(c) if ok_codes.contains(&c) => Ok(()),
            _ => Err(format!("ended with {status}")),
        }
    }

    /// Whether this peer can run `/bin/true` here, within [`AVAILABILITY_TIMEOUT`]; prints a
    /// notice naming the peer and the reason when it cannot (its rows are then skipped, never
    /// silently).
    pub fn available(&self) -> bool {
        match self.try_true() {
            Ok(()) => true,
            Err(e) => {
                println!(
                    "  NOTICE: {} is not usable here ({e}); its rows are skipped",
                    self.name()
                );
                false
            }
        }
    }
}
