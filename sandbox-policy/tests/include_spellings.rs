//! One file included under two spellings (`b/../a/x.policy`, a link to its directory) is one
//! file: its rules said twice are copies, as in a diamond that spells it the same way both
//! times, and its mistakes are still found. These tests need real files, since a spelling is
//! told apart from another file only by the file system.

use sandbox_policy::compile_file;
use std::fs;
use std::path::{Path, PathBuf};

/// A directory of its own under the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    /// Makes the directory, with `one/`, `two/` and `link`, a link to `one`.
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "sandbox-policy-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("one")).unwrap();
        fs::create_dir_all(dir.join("two")).unwrap();
        std::os::unix::fs::symlink("one", dir.join("link")).unwrap();
        Scratch(dir)
    }

    /// Writes `text` to `name` (relative to the directory); returns its path.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The spellings of `one/shared.policy` a policy in the scratch directory may use.
const SPELLINGS: [&str; 3] = [
    "one/shared.policy",
    "two/../one/shared.policy",
    "link/shared.policy",
];

/// Compiles a policy that includes `first`, then `second`, after writing `shared` to
/// `one/shared.policy`; returns its warnings, or its errors after `error: `.
fn compile_including(s: &Scratch, shared: &str, first: &str, second: &str) -> String {
    s.write("one/shared.policy", shared);
    let root = s.write(
        "root.policy",
        &format!("default kill;\ninclude \"{first}\";\ninclude \"{second}\";\n"),
    );
    let c = compile_file(Path::new(&root)).unwrap();
    match &c.result {
        Ok(_) => c.render_warnings(),
        Err(_) => format!("error: {}", c.render_errors()),
    }
}

/// Each spelling's rules are copies of the other's: neither an error nor a warning.
#[test]
fn a_file_included_under_two_spellings_is_one_file() {
    let s = Scratch::new("spellings");
    let shared = "use futex;\nerrno(EPERM) ptrace;\nallow read if fd == 0;\n";
    for first in SPELLINGS {
        for second in SPELLINGS {
            let shown = compile_including(&s, shared, first, second);
            // No error (its unconditional rule is no shadow of itself), no warning (its
            // conditional rule is not dead behind its own copy).
            assert_eq!(shown, "", "{first} then {second}");
        }
    }
}

/// A rule dead in the file is reported once, not once per spelling.
#[test]
fn a_dead_rule_in_a_file_included_under_two_spellings_is_one_warning() {
    let s = Scratch::new("dead");
    let shared = "allow read if fd < 10;\nkill read if fd == 5;\n";
    let shown = compile_including(&s, shared, SPELLINGS[0], SPELLINGS[1]);
    assert_eq!(
        shown.matches("warning: this rule never applies").count(),
        1,
        "{shown}"
    );
}

/// A rule the file's own rule shadows is still found.
#[test]
fn a_rule_shadowed_in_a_file_included_under_two_spellings_is_still_an_error() {
    let s = Scratch::new("shadowed");
    let shared = "allow ptrace;\nerrno(EPERM) ptrace;\n";
    let shown = compile_including(&s, shared, SPELLINGS[0], SPELLINGS[2]);
    assert!(
        shown.starts_with("error: ") && shown.contains("already decided unconditionally"),
        "{shown}"
    );
}

/// A file's relative includes are looked up beside the file as its `include` spelled it, the
/// same whichever spelling came first: `two/shared.policy`, a link to `../one/shared.policy`,
/// includes `two/near.policy` however `one/shared.policy` was included before it.
#[test]
fn a_file_reached_through_a_link_includes_beside_the_link_whatever_came_first() {
    let s = Scratch::new("beside");
    s.write("one/shared.policy", "include \"near.policy\";\n");
    s.write("one/near.policy", "allow read;\n");
    s.write("two/near.policy", "allow no_such_call;\n");
    std::os::unix::fs::symlink("../one/shared.policy", s.0.join("two/shared.policy")).unwrap();
    for includes in [
        &["two/shared.policy"][..],
        &["one/shared.policy", "two/shared.policy"][..],
    ] {
        let text: String = includes
            .iter()
            .map(|i| format!("include \"{i}\";\n"))
            .collect();
        let root = s.write("root.policy", &format!("default kill;\n{text}"));
        let c = compile_file(Path::new(&root)).unwrap();
        let shown = match &c.result {
            Ok(_) => "compiled".to_string(),
            Err(_) => c.render_errors(),
        };
        assert!(
            shown.contains("no_such_call") && shown.contains("two/near.policy"),
            "{includes:?}: {shown}"
        );
        // The chain names the spelling whose directory the lookup used.
        let note = shown
            .lines()
            .find(|l| l.contains("brought in at") && l.contains("shared.policy"))
            .unwrap_or_else(|| panic!("{includes:?}: {shown}"));
        assert!(note.contains("two/shared.policy"), "{includes:?}: {note}");
    }
}
