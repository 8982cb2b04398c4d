mod common;
use sandbox_runtime::Status;

#[test]
fn true_exits_zero() {
    let out = common::command("/bin/true").output().unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Exited(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn echo_under_policy() {
    let out = common::command("/bin/echo")
        .arg("hi")
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Exited(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"hi\n");
}
