//! The attack suite ([`attack_suite`]) with every sandbox cloned by the fork server: the same
//! attacks must fail the same way, and the server must add no way out.

mod attack_suite;

/// Starts the fork server before any test takes a snapshot of host resources.
fn prepare() {
    static SERVER: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| sandbox_runtime::start_fork_server().expect("the fork server starts"));
}
