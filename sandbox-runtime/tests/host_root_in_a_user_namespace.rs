//! A host that is root in a user namespace mapping only its own ids, with `setgroups` denied (as
//! `unshare --map-root-user` makes one), cannot give its sandboxes 65534 outside: they run, as
//! an unprivileged host's do, as its own ids there.

mod common;

use std::os::unix::fs::MetadataExt;

#[test]
fn a_host_root_in_a_user_namespace_of_its_own_runs_sandboxes_as_its_own_ids() {
    if !common::in_a_user_namespace_of_its_own() {
        return common::rerun_in_a_user_namespace_of_its_own(
            "a_host_root_in_a_user_namespace_of_its_own_runs_sandboxes_as_its_own_ids",
        );
    }
    let map = std::fs::read_to_string("/proc/self/uid_map").expect("read uid_map");
    let fields: Vec<&str> = map.split_whitespace().collect();
    assert_eq!(
        (fields.len(), fields[0], fields[2]),
        (3, "0", "1"),
        "one id mapped, as root: {map}"
    );
    let scratch = common::ScratchDir::new("root-in-userns");
    let out = common::command("/bin/sh")
        .args(["-c", "id -u; id -g; echo x > /data/made"])
        .mount_rw(scratch.path(), "/data")
        .policy(&common::permissive())
        .output()
        .expect("the sandbox starts");
    common::assert_exited_0(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1000\n1000\n");
    let made = std::fs::metadata(scratch.path().join("made")).expect("the sandbox's file");
    assert_eq!(
        (made.uid(), made.gid()),
        (0, 0),
        "the sandbox's file is the host's"
    );
}
