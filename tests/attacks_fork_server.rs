//! The attack suite ([`attack_suite`]) with every sandbox cloned by the fork server: the same
//! attacks must fail the same way, and the server must add no way out.

mod attack_suite;

/// Starts the fork server before any test takes a snapshot of host resources, and checks at
/// every test that it still runs: a server that died would let the rest of the suite pass on
/// direct clones.
fn prepare() {
    sandbox_runtime::start_fork_server().expect("the fork server runs");
}
