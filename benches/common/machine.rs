//! What machine a benchmark ran on, printed in its header: wall-clock figures (above all the
//! kernel's per-call cost of a seccomp filter) differ between CPU models and their
//! mitigations, so a table is only comparable with one from the same kind of machine.

/// One line naming the CPU (model name, family and model numbers), the kernel's release and
/// its mitigations of speculative returns and indirect branches, each read from `/proc` or
/// `/sys`; a field that cannot be read is given as `?`.
pub fn describe() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(key, _)| key.trim() == name)
            .map_or_else(|| "?".to_string(), |(_, value)| value.trim().to_string())
    };
    let read = |path: &str| {
        std::fs::read_to_string(path).map_or_else(|_| "?".to_string(), |s| s.trim().to_string())
    };
    let vulnerability =
        |name: &str| read(&format!("/sys/devices/system/cpu/vulnerabilities/{name}"));
    format!(
        "CPU {} (family {}, model {}); kernel {}; spectre_v2: {}; spec_rstack_overflow: {}",
        field("model name"),
        field("cpu family"),
        field("model"),
        read("/proc/sys/kernel/osrelease"),
        vulnerability("spectre_v2"),
        vulnerability("spec_rstack_overflow"),
    )
}
