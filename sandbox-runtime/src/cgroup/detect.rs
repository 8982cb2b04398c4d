//! Finds the cgroup hierarchies this process can use, from `/proc/self/mountinfo` and
//! `/proc/self/cgroup`.

use std::path::{Path, PathBuf};

/// Where the memory and pids controllers can be reached: always this process's own group in
/// each hierarchy, so that groups made below it stay under every limit the host itself is under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    /// cgroup v1 (possibly a hybrid host): one hierarchy per controller.
    V1 {
        /// `<mount point>/<own path>` in the v1 `memory` hierarchy.
        memory: Option<PathBuf>,
        /// `<mount point>/<own path>` in the v1 `pids` hierarchy.
        pids: Option<PathBuf>,
    },
    /// cgroup v2: the directory of this process's own cgroup, under which groups are created.
    V2 {
        /// `<mount point>/<own cgroup path>`.
        own: PathBuf,
    },
}

/// One cgroup filesystem mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupMount {
    /// Path inside the hierarchy that is mounted (usually `/`).
    pub root: String,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// `true` for `cgroup2`, `false` for v1 `cgroup`.
    pub v2: bool,
    /// Super-block options; for v1 these name the controllers.
    pub options: Vec<String>,
}

impl CgroupMount {
    /// The directory of the group at `own` (a path in the hierarchy, as `/proc/self/cgroup`
    /// gives it) under this mount, whose root may itself be a group below the hierarchy's root.
    fn directory_of(&self, own: &str) -> PathBuf {
        let relative = own
            .strip_prefix(self.root.as_str())
            .filter(|_| self.root != "/")
            .unwrap_or(own);
        self.mount_point.join(relative.trim_start_matches('/'))
    }
}

/// Chooses a layout: v1 when a v1 memory or pids hierarchy is mounted, else the v2 hierarchy;
/// in either, this process's own group. `proc_cgroup` is the text of `/proc/self/cgroup`. A v1
/// controller whose line is missing there is left out rather than taken at its root, which
/// would put a sandbox outside the host's own limits.
pub(crate) fn choose(mounts: &[CgroupMount], proc_cgroup: &str) -> Option<Layout> {
    let v1_mount = |controller: &str| {
        mounts
            .iter()
            .find(|m| !m.v2 && m.options.iter().any(|o| o == controller))
    };
    let v1_own = |controller: &str| {
        proc_cgroup.lines().find_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            controllers
                .split(',')
                .any(|c| c == controller)
                .then_some(path)
        })
    };
    let v1 = |controller: &str| Some(v1_mount(controller)?.directory_of(v1_own(controller)?));
    if v1_mount("memory").is_some() || v1_mount("pids").is_some() {
        return Some(Layout::V1 {
            memory: v1("memory"),
            pids: v1("pids"),
        });
    }
    let mount = mounts.iter().find(|m| m.v2)?;
    let own = proc_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))?;
    Some(Layout::V2 {
        own: mount.directory_of(own),
    })
}

/// Parses the cgroup mounts out of `/proc/self/mountinfo` text.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

/// `id parent major:minor root mount-point options [optional...] - fstype source super-options`
fn parse_mountinfo_line(line: &str) -> Option<CgroupMount> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split(' ').collect();
    let mut right = right.split(' ');
    let fstype = right.next()?;
    let v2 = match fstype {
        "cgroup2" => true,
        "cgroup" => false,
        _ => return None,
    };
    let _source = right.next();
    let options = right
        .next()
        .unwrap_or("")
        .split(',')
        .map(String::from)
        .collect();
    Some(CgroupMount {
        root: unescape(left.get(3)?),
        mount_point: PathBuf::from(unescape(left.get(4)?)),
        v2,
        options,
    })
}

/// A mountinfo path field as text.
fn unescape(field: &str) -> String {
    String::from_utf8_lossy(&crate::mountinfo::unescape(field.as_bytes())).into_owned()
}

/// The value for `key` in a flat keyed file such as `memory.events` (`key value` per line).
pub(crate) fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Whether a space-separated controller list (`cgroup.controllers`) names `controller`.
pub(crate) fn lists_controller(text: &str, controller: &str) -> bool {
    text.split_whitespace().any(|c| c == controller)
}

/// Reads the current process's mounts and cgroup membership and chooses a layout.
pub(crate) fn detect() -> Result<Layout, String> {
    let mountinfo = read("/proc/self/mountinfo")?;
    let proc_cgroup = read("/proc/self/cgroup")?;
    choose(&parse_mountinfo(&mountinfo), &proc_cgroup).ok_or_else(|| {
        "no cgroup hierarchy with the memory or pids controller is mounted".to_string()
    })
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(Path::new(path)).map_err(|e| format!("read {path}: {e}"))
}
