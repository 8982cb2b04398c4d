//! Where the tests find a sandbox's cgroups on the host.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;

/// The directories of the groups `/proc/PID/cgroup` names, one per mounted hierarchy, with
/// the group's path.
fn groups_of(pid: u32) -> Vec<(PathBuf, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mut dirs = Vec::new();
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let roots: Vec<String> = if controllers.is_empty() {
            vec!["/sys/fs/cgroup".into(), "/sys/fs/cgroup/unified".into()]
        } else {
            controllers
                .split(',')
                .map(|c| format!("/sys/fs/cgroup/{c}"))
                .collect()
        };
        for root in roots {
            let dir = PathBuf::from(format!("{root}{path}"));
            if dir.is_dir() {
                dirs.push((dir, path.to_string()));
            }
        }
    }
    dirs
}

/// The sandbox's cgroups (those of its init named by `/proc/PID/cgroup`, under the runtime's
/// own parent), as directories of the mounted hierarchies.
pub fn of(pid: u32) -> Vec<PathBuf> {
    groups_of(pid)
        .into_iter()
        .filter(|(_, path)| path.contains("sandbox-runtime"))
        .map(|(dir, _)| dir)
        .collect()
}

/// The groups host process `host` has made for its sandboxes (named `<pidns>-<pid>-<counter>`
/// below its own groups' `sandbox-runtime`), whether or not a process is in them yet.
pub fn made_by(host: u32) -> Vec<PathBuf> {
    let mut made = Vec::new();
    for (dir, _) in groups_of(host) {
        let Ok(entries) = std::fs::read_dir(dir.join("sandbox-runtime")) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let by_host = name
                .to_str()
                .and_then(|n| n.split('-').nth(1))
                .is_some_and(|p| p == host.to_string());
            if by_host {
                made.push(entry.path());
            }
        }
    }
    made
}
