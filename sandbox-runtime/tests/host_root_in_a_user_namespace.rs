//! A host that is root in a user namespace of its own: the ids its sandboxes run as outside.
//! Where the namespace maps 65534 and allows `setgroups`, 65534, as for root on the host; where
//! it maps only the host's own ids, with `setgroups` denied (as `unshare --map-root-user` makes
//! one), those ids, as for an unprivileged host, unless they are root's outside, where no
//! sandbox starts.

mod common;

use common::UserNamespace;
use sandbox_runtime::SpawnError;
use std::os::unix::fs::MetadataExt;

/// The caller's uid in the parent namespace, from the first line of `/proc/self/uid_map`.
fn own_uid_outside() -> u64 {
    let map = std::fs::read_to_string("/proc/self/uid_map").expect("read uid_map");
    let fields: Vec<&str> = map.split_whitespace().collect();
    assert_eq!(
        (fields.len(), fields[0]),
        (3, "0"),
        "root of one range: {map}"
    );
    fields[1].parse().unwrap()
}

/// Runs a sandbox that prints its ids and makes a file in a writable bind; returns the ids it
/// printed and the owner of its file, as this process sees them, or the spawn's error.
fn ids_of_a_sandbox() -> Result<(String, (u32, u32)), SpawnError> {
    let scratch = common::ScratchDir::new("root-in-userns");
    std::fs::set_permissions(
        scratch.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let out = common::command("/bin/sh")
        .args(["-c", "id -u; id -g; echo x > /data/made"])
        .mount_rw(scratch.path(), "/data")
        .policy(&common::permissive())
        .output()?;
    common::assert_exited_0(&out);
    let made = std::fs::metadata(scratch.path().join("made")).expect("the sandbox's file");
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    Ok((printed, (made.uid(), made.gid())))
}

#[test]
fn root_of_its_own_ids_alone_gives_the_sandbox_those_unless_they_are_root_outside() {
    if common::user_namespace_of_this_rerun().is_none() {
        return common::rerun_in_a_user_namespace(
            "root_of_its_own_ids_alone_gives_the_sandbox_those_unless_they_are_root_outside",
            UserNamespace::CallersIdsOnly,
        );
    }
    let result = ids_of_a_sandbox();
    if own_uid_outside() == 0 {
        // Made by root: the host's own ids are root's outside.
        let error = result.expect_err("a sandbox started as root outside");
        assert!(matches!(error, SpawnError::NoUnprivilegedIds), "{error}");
        assert!(error.to_string().contains("65534"), "{error}");
    } else {
        let (printed, owner) = result.expect("the sandbox starts");
        assert_eq!(printed, "1000\n1000\n");
        assert_eq!(owner, (0, 0), "the sandbox's file is not the host's own");
    }
}

#[test]
fn root_of_a_namespace_that_maps_nobody_gives_the_sandbox_nobody() {
    let name = "root_of_a_namespace_that_maps_nobody_gives_the_sandbox_nobody";
    if common::user_namespace_of_this_rerun().is_none() {
        if nix::unistd::geteuid().is_root() {
            return common::rerun_in_a_user_namespace(name, UserNamespace::HostIdsFrom100000);
        }
        // Unprivileged, the host can never be root of such a namespace it made: the kernel
        // refuses it a map of more than its own ids (CI's run as root checks the sandbox).
        let refused = common::try_rerun_in_a_user_namespace(name, UserNamespace::HostIdsFrom100000)
            .expect_err("an unprivileged process mapped 65,536 ids");
        assert_eq!(refused.raw_os_error(), Some(libc::EPERM), "{refused}");
        return;
    }
    let (printed, owner) = ids_of_a_sandbox().expect("the sandbox starts");
    assert_eq!(printed, "1000\n1000\n");
    assert_eq!(owner, (65534, 65534), "the sandbox's file is not nobody's");
}
