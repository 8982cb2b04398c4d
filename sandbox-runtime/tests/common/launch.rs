//! The three ways a sandbox is started, for tests that must hold on each: cloned by the test's
//! own process, cloned by the fork server for the request, or served by the spare the server
//! made ahead of time (whose init ran before the request came).

use sandbox_runtime::{start_fork_server, SandboxCommand, SandboxOutput, Stdio};
use std::time::Duration;

/// How a sandbox is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// Cloned by the calling process.
    Direct,
    /// Cloned by the fork server for the request.
    Served,
    /// Served by the spare the fork server made after the sandbox before.
    Spare,
}

impl Way {
    /// In the order a test takes them: a spare follows a served sandbox of the same
    /// configuration.
    pub const ALL: [Way; 3] = [Way::Direct, Way::Served, Way::Spare];
}

/// Longer than the fork server's idle wait plus a spare's set-up, with a wide margin.
const LET_THE_SPARE_BE_MADE: Duration = Duration::from_millis(400);

/// Runs `cmd` to its end the given way (starting the fork server first if needed, and giving
/// it time to make a spare for [`Way::Spare`]), with its output piped. Panics, naming the way,
/// if the spawn fails or the sandbox's init was made ahead when it should not be, or the other
/// way round.
pub fn output_by(mut cmd: SandboxCommand, way: Way) -> SandboxOutput {
    if way != Way::Direct {
        start_fork_server().expect("the fork server starts");
    }
    if way == Way::Spare {
        std::thread::sleep(LET_THE_SPARE_BE_MADE);
    }
    cmd.use_fork_server(way != Way::Direct)
        .stdout(Stdio::Piped)
        .stderr(Stdio::Piped);
    let at = super::uptime();
    let child = cmd.spawn().unwrap_or_else(|e| panic!("{way:?}: {e}"));
    // A freshly cloned init starts within the spawn; a spare's well before it.
    let made_ahead = super::age_at(child.id(), at) > 0.1;
    assert_eq!(made_ahead, way == Way::Spare, "{way:?}: init made ahead");
    child.wait_with_output()
}
