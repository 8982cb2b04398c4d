//! The attack suite ([`attack_suite`]) with every sandbox cloned directly from the test process.

mod attack_suite;

/// Nothing to prepare: without a fork server, sandboxes are cloned directly.
fn prepare() {}
