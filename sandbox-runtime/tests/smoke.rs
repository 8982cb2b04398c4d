mod common;

#[test]
fn true_exits_zero() {
    let out = common::command("/bin/true").output().unwrap();
    common::assert_exited_0(&out);
}

#[test]
fn echo_under_policy() {
    let out = common::command("/bin/echo")
        .arg("hi")
        .policy(&common::permissive())
        .output()
        .unwrap();
    common::assert_exited_0(&out);
    assert_eq!(out.stdout, b"hi\n");
}
