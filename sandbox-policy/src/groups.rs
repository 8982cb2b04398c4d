//! Built-in groups: named sets of rules in the spirit of Sandbox2's `Allow*` helpers, written
//! in the policy language itself (the files in `sandbox-policy/groups/`), so they read like any
//! policy, expand at the position of their `use`, and show up in the disassembly.
//!
//! Safety review, for every group: none allows io_uring, bpf, ptrace, namespace-creating
//! clone/unshare/setns, mount or pivot_root, keyctl/add_key/request_key, perf_event_open,
//! userfaultfd, process_vm_readv/writev, or exec. A test checks this on the compiled programs.

/// A built-in group.
#[derive(Clone, Copy, Debug)]
pub struct Group {
    /// The name used after `use`.
    pub name: &'static str,
    /// One line saying what it is for.
    pub summary: &'static str,
    /// Its rules, in the policy language.
    pub text: &'static str,
}

macro_rules! groups {
    ($($name:literal: $summary:literal),* $(,)?) => {
        /// Every built-in group, sorted by name.
        pub static GROUPS: &[Group] = &[
            $(Group {
                name: $name,
                summary: $summary,
                text: include_str!(concat!("../groups/", $name, ".policy")),
            }),*
        ];
    };
}

groups! {
    "dirs": "list, create and remove directories, and change the working directory",
    "dynamic_startup": "what the dynamic loader and libc run before main: the static startup plus opening and mapping shared libraries",
    "epoll": "epoll instances",
    "eventfd": "eventfd counters",
    "exit": "exit and exit_group",
    "files_read": "open files read-only, read, seek, stat and close them",
    "files_write": "open files for writing (creating, truncating), write, sync, rename and unlink them",
    "futex": "futex waits and wakes (without priority-inheritance requeueing)",
    "getids": "read user and group ids",
    "getpids": "read process, thread, parent and group ids",
    "malloc": "what the C and Rust allocators need: brk, anonymous non-executable mappings, munmap, mremap, madvise",
    "mmap_noexec": "map and protect memory without PROT_EXEC",
    "pipes": "create pipes and duplicate descriptors",
    "poll": "poll and select",
    "random": "getrandom",
    "signals": "install handlers, mask and return from signals, send signals to itself",
    "sleep": "nanosleep and clock_nanosleep",
    "static_startup": "what a static binary's libc runs before main (arch_prctl, set_tid_address, rseq, robust lists, ...)",
    "stdio": "read and write the standard streams and other open descriptors, close them, fstat them",
    "tcgets": "the TCGETS ioctl (isatty) and window-size queries, nothing that writes to a terminal",
    "threads": "create threads (clone with CLONE_THREAD and no namespace flags), and the calls thread libraries make",
    "time": "read clocks",
    "unix_sockets": "create and use AF_UNIX sockets",
}

/// Syscalls no built-in group allows, under any arguments: the calls that reach past what a
/// sandbox holds (new namespaces, mounts, another process's memory, the kernel's keyrings,
/// io_uring and bpf, exec). A test checks every group against it; `sandbox learn` marks a rule
/// that allows one for review.
pub const NEVER_IN_A_GROUP: [&str; 20] = [
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "ptrace",
    "unshare",
    "setns",
    "mount",
    "pivot_root",
    "keyctl",
    "add_key",
    "request_key",
    "perf_event_open",
    "userfaultfd",
    "process_vm_readv",
    "process_vm_writev",
    "execve",
    "execveat",
    "clone3",
    "fsopen",
];

/// The group named `name`.
pub fn find(name: &str) -> Option<&'static Group> {
    GROUPS.iter().find(|g| g.name == name)
}

/// The groups `group` uses in turn, as its text names them.
pub fn uses(group: &Group) -> Vec<String> {
    let (tokens, _) = crate::syntax::lex(crate::diag::SourceId(0), group.text);
    let end = crate::diag::Loc {
        source: crate::diag::SourceId(0),
        start: 0,
        end: 0,
    };
    let (file, _) = crate::syntax::parse(&tokens, end);
    file.items
        .into_iter()
        .filter_map(|item| match item {
            crate::syntax::Item::Use { groups, .. } => Some(groups),
            _ => None,
        })
        .flatten()
        .map(|name| name.text)
        .collect()
}

/// A `use` statement that brings in every group, each once: a group that another uses
/// (`static_startup`, `futex`) comes before that one, since a group used after a group that
/// brought it in is an error.
pub fn use_every_group() -> String {
    fn visit(group: &'static Group, order: &mut Vec<&'static str>) {
        if order.contains(&group.name) {
            return;
        }
        for used in uses(group).iter().filter_map(|name| find(name)) {
            visit(used, order);
        }
        order.push(group.name);
    }
    let mut order = Vec::new();
    for group in GROUPS {
        visit(group, &mut order);
    }
    format!("use {};", order.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compile_text, NoIncludes};

    #[test]
    fn every_group_compiles_and_never_allows_dangerous_calls() {
        let text = format!("default kill;\n{}\n", use_every_group());
        let compilation = compile_text("all-groups", None, &text, &mut NoIncludes);
        let compiled = match compilation.result {
            Ok(c) => c,
            Err(_) => panic!("{}", compilation.render_errors()),
        };
        for checked in &compiled.checked.arches {
            for name in NEVER_IN_A_GROUP {
                let Some(spec) = crate::tables::syscall_by_name(checked.arch, name) else {
                    continue;
                };
                let branches = checked.syscalls.get(&spec.nr).map(Vec::as_slice);
                for b in branches.unwrap_or_default() {
                    assert!(
                        !b.action.permits(),
                        "a group allows {name} on {}",
                        checked.arch
                    );
                }
            }
            // clone is allowed only without namespace flags.
            let clone = crate::tables::syscall_by_name(checked.arch, "clone").map(|s| s.nr);
            for flag in [
                0x0002_0000u64,
                0x1000_0000,
                0x2000_0000,
                0x4000_0000,
                0x0800_0000,
            ] {
                let args = [flag | 0x0001_0000, 0, 0, 0, 0, 0];
                let d = compiled.checked.decide(
                    checked.arch,
                    checked.arch.audit_arch(),
                    clone.unwrap_or(0),
                    &args,
                );
                assert!(!d.verdict.action.permits(), "clone with {flag:#x} allowed");
            }
        }
    }

    #[test]
    fn every_group_is_used_once_each_after_those_it_uses() {
        let text = use_every_group();
        let order: Vec<&str> = text["use ".len()..text.len() - 1].split(", ").collect();
        assert_eq!(order.len(), GROUPS.len(), "{text}");
        for group in GROUPS {
            let at = order.iter().position(|n| *n == group.name).unwrap();
            for used in uses(group) {
                assert!(order[..at].contains(&used.as_str()), "{text}");
            }
        }
        assert_eq!(uses(find("threads").unwrap()), ["futex", "mmap_noexec"]);
    }

    #[test]
    fn the_language_reference_lists_every_group() {
        let doc = include_str!("../LANGUAGE.md");
        for g in GROUPS {
            assert!(
                doc.contains(&format!("| `{}` |", g.name)),
                "LANGUAGE.md does not describe group `{}`",
                g.name
            );
        }
    }
}
