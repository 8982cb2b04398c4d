//! `include` and `use` are expanded within a bound on the whole expansion, not just on cycles:
//! a few tiny files that each include the next one twice would otherwise expand 2^N times.
//! The files live in memory, so no test touches the file system.

use sandbox_policy::resolve::{MAX_EXPANDED_BYTES, MAX_INCLUDES};
use sandbox_policy::{compile_text, groups, Compilation, Diagnostic, Loader};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Policy files by name, all in one directory (`/in-memory`), counting every read.
#[derive(Default)]
struct MemLoader {
    files: HashMap<String, String>,
    loads: usize,
}

impl MemLoader {
    fn with(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.files.insert(name.into(), text.into());
        self
    }
}

impl Loader for MemLoader {
    fn load(&mut self, name: &str, dir: Option<&Path>) -> Result<(PathBuf, String), String> {
        self.loads += 1;
        let path = dir.unwrap_or(Path::new("/in-memory")).join(name);
        match self.files.get(name) {
            Some(text) => Ok((path, text.clone())),
            None => Err("No such file or directory".to_string()),
        }
    }
}

fn compile(text: &str, loader: &mut MemLoader) -> Compilation {
    compile_text("root.policy", None, text, loader)
}

/// The only error of a compilation that must fail.
fn only_error(c: &Compilation) -> &Diagnostic {
    match &c.result {
        Ok(_) => panic!("compiled, but should have failed"),
        Err(errors) => {
            assert_eq!(errors.len(), 1, "{}", c.render_errors());
            &errors[0]
        }
    }
}

/// The text an error points at.
fn pointed_at<'a>(c: &'a Compilation, d: &Diagnostic) -> &'a str {
    match &c.sources.get(d.loc.source).text {
        sandbox_policy::diag::SourceText::Text(t) => &t[d.loc.start as usize..d.loc.end as usize],
        other => panic!("not a text source: {other:?}"),
    }
}

/// y0 … y{n}: each file but the last includes the next one twice, so y0 alone expands to
/// 2^(n+1) - 2 includes.
fn doubling(n: usize) -> MemLoader {
    let mut loader = MemLoader::default();
    for i in 0..n {
        let next = format!("include \"y{}.policy\";\n", i + 1);
        loader = loader.with(format!("y{i}.policy"), next.repeat(2));
    }
    loader.with(format!("y{n}.policy"), "allow read if fd == 0;\n")
}

/// c1 … c{n}: each includes the next; the last holds a rule with the deepest condition the
/// parser accepts (64 levels of nesting, 256 comparisons), which it parses at the bottom of the
/// chain's recursion.
fn chain(n: usize) -> MemLoader {
    let mut loader = MemLoader::default();
    for i in 1..n {
        loader = loader.with(
            format!("c{i}.policy"),
            format!("include \"c{}.policy\";\n", i + 1),
        );
    }
    let deepest = format!("{}!(fd == 0){}", "(".repeat(62), ")".repeat(62));
    let condition = vec![deepest.as_str(); 256].join(" || ");
    loader.with(
        format!("c{n}.policy"),
        format!("allow read if {condition};\n"),
    )
}

/// Runs `f` on a thread with a 2 MiB stack, a test thread's (smaller than rustc's, where
/// `policy!` expands): a stack overflow would abort the whole test binary.
fn on_a_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn doubling_includes_fail_fast_at_the_include_limit() {
    let mut loader = doubling(40);
    let started = Instant::now();
    let c = compile("default kill;\ninclude \"y0.policy\";\n", &mut loader);
    let elapsed = started.elapsed();
    let d = only_error(&c);
    assert!(
        d.message
            .contains(&format!("the limit of {MAX_INCLUDES} `include`s")),
        "{}",
        c.render_errors()
    );
    assert!(d.message.starts_with("cannot include `y"), "{}", d.message);
    // The span is the file name of the include that crossed the limit.
    assert!(
        pointed_at(&c, d).starts_with("\"y"),
        "{}",
        c.render_errors()
    );
    assert!(
        c.render_errors().contains("= help: "),
        "{}",
        c.render_errors()
    );
    // The work is bounded: the include over the limit is not even read.
    assert_eq!(loader.loads, MAX_INCLUDES, "files read");
    assert_eq!(c.included_files.len(), MAX_INCLUDES);
    // Without the limit, 2^41 - 1 includes: a hang guard, not a benchmark.
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
}

#[test]
fn a_chain_of_exactly_the_include_limit_compiles_and_one_more_does_not() {
    on_a_small_stack(|| {
        let mut loader = chain(MAX_INCLUDES);
        let c = compile("default kill;\ninclude \"c1.policy\";\n", &mut loader);
        assert!(c.result.is_ok(), "{}", c.render_errors());
        assert_eq!(c.included_files.len(), MAX_INCLUDES);

        let mut loader = chain(MAX_INCLUDES + 1);
        let c = compile("default kill;\ninclude \"c1.policy\";\n", &mut loader);
        let d = only_error(&c);
        assert!(
            d.message.starts_with(&format!(
                "cannot include `c{}.policy`: it would be `include` number {}",
                MAX_INCLUDES + 1,
                MAX_INCLUDES + 1
            )),
            "{}",
            d.message
        );
        assert_eq!(
            pointed_at(&c, d),
            format!("\"c{}.policy\"", MAX_INCLUDES + 1)
        );
    });
}

/// A file included twice says its `use` again, which is no error; two files that each use the
/// same group at the same place in their text are two uses, and the second is one.
#[test]
fn a_group_two_files_use_is_an_error_at_the_second() {
    let mut loader = MemLoader::default()
        .with("a.policy", "use futex;\nallow write if fd == 1;\n")
        .with("b.policy", "use futex;\nallow write if fd == 2;\n");
    let c = compile(
        "default kill;\ninclude \"a.policy\";\ninclude \"b.policy\";\n",
        &mut loader,
    );
    let d = only_error(&c);
    assert_eq!(
        d.message,
        "group `futex` is already used (/in-memory/a.policy:1:5)"
    );
    assert_eq!(c.sources.get(d.loc.source).name, "/in-memory/b.policy");
}

/// A rule that never applies, in a file included twice, is warned about once: its copy is the
/// same statement.
#[test]
fn a_dead_rule_in_a_file_included_twice_is_one_warning() {
    let mut loader = MemLoader::default()
        .with("a.policy", "include \"shared.policy\";\n")
        .with("b.policy", "include \"shared.policy\";\n")
        .with(
            "shared.policy",
            "allow read if fd < 10;\nkill read if fd == 5;\n",
        );
    let c = compile(
        "default kill;\ninclude \"a.policy\";\ninclude \"b.policy\";\n",
        &mut loader,
    );
    assert!(c.result.is_ok(), "{}", c.render_errors());
    assert_eq!(c.warnings.len(), 1, "{}", c.render_warnings());
    assert!(c
        .render_warnings()
        .contains("shared.policy:2:6: warning: this rule never applies"));
}

/// So is any other warning on a rule in such a file: a comparison that always holds, say.
#[test]
fn a_fixed_comparison_in_a_file_included_twice_is_one_warning() {
    let mut loader = MemLoader::default()
        .with("a.policy", "include \"shared.policy\";\n")
        .with("b.policy", "include \"shared.policy\";\n")
        .with("shared.policy", "allow read if fd & 0xff <= 0xff;\n");
    let c = compile(
        "default kill;\ninclude \"a.policy\";\ninclude \"b.policy\";\n",
        &mut loader,
    );
    assert!(c.result.is_ok(), "{}", c.render_errors());
    assert_eq!(c.warnings.len(), 1, "{}", c.render_warnings());
    assert!(c.render_warnings().contains("is always true"));
}

#[test]
fn a_diamond_includes_the_shared_file_from_both_sides() {
    let mut loader = MemLoader::default()
        .with(
            "a.policy",
            "allow write if fd == 1;\ninclude \"common.policy\";\n",
        )
        .with(
            "b.policy",
            "allow write if fd == 2;\ninclude \"common.policy\";\n",
        )
        .with(
            "common.policy",
            "use futex;\nallow read if fd == 0;\nerrno(EPERM) ptrace;\n",
        );
    let c = compile(
        "default kill;\ninclude \"a.policy\";\ninclude \"b.policy\";\n",
        &mut loader,
    );
    let compiled = c
        .result
        .as_ref()
        .unwrap_or_else(|_| panic!("{}", c.render_errors()));
    let names: Vec<String> = c
        .included_files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "/in-memory/a.policy",
            "/in-memory/common.policy",
            "/in-memory/b.policy",
            "/in-memory/common.policy"
        ]
    );
    let texts: Vec<&str> = compiled.policy.rules.iter().map(|r| &*r.text).collect();
    assert!(texts.contains(&"allow write if fd == 2"), "{texts:?}");
    // The shared file's rules, said twice, are not warned about as rules that never apply,
    // nor its unconditional one refused as shadowed by itself: each is the same rule, written
    // once.
    assert!(c.warnings.is_empty(), "{}", c.render_warnings());
}

#[test]
fn a_rule_of_a_file_included_twice_shadowed_by_another_rule_is_still_an_error() {
    let mut loader = MemLoader::default()
        .with("a.policy", "include \"common.policy\";\n")
        .with("common.policy", "errno(EPERM) ptrace;\n");
    let c = compile(
        "default kill;\nallow ptrace;\ninclude \"a.policy\";\ninclude \"common.policy\";\n",
        &mut loader,
    );
    let Err(errors) = &c.result else {
        panic!("a shadowed rule compiled");
    };
    assert!(
        errors.iter().all(|e| e
            .message
            .contains("already decided unconditionally by `allow ptrace`")),
        "{}",
        c.render_errors()
    );
}

#[test]
fn included_text_may_total_the_byte_limit_but_not_one_byte_more() {
    let half = MAX_EXPANDED_BYTES as usize / 2;
    // A comment of `len` bytes, newline included.
    let filler = |len: usize| format!("//{}\n", "x".repeat(len - 3));
    let root = "default kill;\ninclude \"a.policy\";\ninclude \"b.policy\";\n";
    let mut loader = MemLoader::default()
        .with("a.policy", filler(half))
        .with("b.policy", filler(half));
    let c = compile(root, &mut loader);
    assert!(c.result.is_ok(), "{}", c.render_errors());

    let mut loader = MemLoader::default()
        .with("a.policy", filler(half))
        .with("b.policy", filler(half + 1));
    let c = compile(root, &mut loader);
    let d = only_error(&c);
    assert!(
        d.message.starts_with(&format!(
            "cannot include `b.policy`: `include` and `use` would bring in {} bytes of text, \
             over the limit of {MAX_EXPANDED_BYTES} bytes",
            MAX_EXPANDED_BYTES + 1
        )),
        "{}",
        d.message
    );
    assert_eq!(pointed_at(&c, d), "\"b.policy\"");
}

#[test]
fn groups_count_against_the_byte_limit_with_included_files() {
    // Each group a policy uses brings in its text (once: a group is used once). Here an
    // included file leaves room for exactly two groups, and the third is refused.
    let len = |name: &str| groups::find(name).unwrap().text.len();
    let (first, second, third) = (len("files_write"), len("files_read"), len("dirs"));
    let filler = format!(
        "//{}\n",
        "x".repeat(MAX_EXPANDED_BYTES as usize - first - second - 3)
    );
    let mut loader = MemLoader::default().with("filler.policy", filler);
    let text = "default kill;\ninclude \"filler.policy\";\n\
                use files_write, files_read;\nuse dirs;\n";
    let c = compile(text, &mut loader);
    let d = only_error(&c);
    assert!(
        d.message.starts_with(&format!(
            "cannot use group `dirs`: `include` and `use` would bring in {} bytes of text, over \
             the limit of {MAX_EXPANDED_BYTES} bytes",
            MAX_EXPANDED_BYTES + third as u64
        )),
        "{}",
        d.message
    );
    // The span is the third use, on the last line.
    assert_eq!(pointed_at(&c, d), "dirs");
    assert_eq!(c.sources.line_col(d.loc).line, 4);
    let expanded = c
        .sources
        .iter()
        .filter(|(_, s)| s.name.starts_with("group "))
        .count();
    assert_eq!(expanded, 2);
}

#[test]
fn includes_that_fail_to_load_count_against_the_limit() {
    // Each missing file is an error of its own, but the loader is asked no more than the limit.
    let text = format!(
        "default kill;\n{}",
        "include \"missing.policy\";\n".repeat(MAX_INCLUDES + 10)
    );
    let mut loader = MemLoader::default();
    let c = compile(&text, &mut loader);
    let Err(errors) = &c.result else {
        panic!("compiled")
    };
    assert_eq!(loader.loads, MAX_INCLUDES);
    assert_eq!(
        errors.len(),
        MAX_INCLUDES + 1,
        "one per load, and the limit once"
    );
    assert!(errors.iter().any(|d| d
        .message
        .contains(&format!("the limit of {MAX_INCLUDES} `include`s"))));
}
