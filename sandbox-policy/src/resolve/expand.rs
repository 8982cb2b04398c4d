//! Expansion: `include` and `use` are replaced, at their position, by the statements they bring
//! in, giving one flat list of rules in the order they apply. Include cycles, missing files,
//! unknown groups and expansions over the limits of [`super::limits`] are reported here.

use super::limits::{Budget, ExpansionLimit};
use crate::diag::{Diagnostic, Loc, Source, SourceId, SourceMap, SourceText, MAX_ERRORS};
use crate::groups;
use crate::syntax::{self, ActionSpec, Item, Rule};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Reads included files. The compiler itself touches no file system: the front end decides
/// where relative names are looked up.
pub trait Loader {
    /// Reads `name` as written in an `include`, relative to the directory of the including
    /// file (`None` for the top-level source: the loader's own base). Returns the resolved path
    /// and the text, or a message saying why it cannot (e.g. "No such file or directory").
    fn load(
        &mut self,
        name: &str,
        including_dir: Option<&Path>,
    ) -> Result<(PathBuf, String), String>;
}

/// A [`Loader`] that reads from the file system, resolving top-level includes against `base`.
#[derive(Clone, Debug)]
pub struct FsLoader {
    /// The directory for includes of a source that has no file of its own (e.g. `policy!`,
    /// whose includes are relative to the crate's manifest directory).
    pub base: PathBuf,
}

impl Loader for FsLoader {
    fn load(
        &mut self,
        name: &str,
        including_dir: Option<&Path>,
    ) -> Result<(PathBuf, String), String> {
        let path = including_dir.unwrap_or(&self.base).join(name);
        match read_policy_text(&path) {
            Ok(text) => Ok((path, text)),
            Err(e) => Err(format!("cannot read `{}`: {e}", path.display())),
        }
    }
}

/// The largest policy file read, in bytes: far above any real policy (the Docker-sized one is
/// under 4 KiB), and small enough that a wrong path fails at once.
pub const MAX_POLICY_FILE: u64 = 16 << 20;

/// Reads the policy file at `path`: only a regular file (a FIFO or a device such as
/// `/dev/zero` would block or never end), of at most [`MAX_POLICY_FILE`] bytes.
pub fn read_policy_text(path: &Path) -> std::io::Result<String> {
    use std::io::{Error, Read};
    let too_large = || Error::other(format!("larger than {MAX_POLICY_FILE} bytes"));
    if !std::fs::metadata(path)?.is_file() {
        return Err(Error::other("not a regular file"));
    }
    // Checked again on the file opened, which is opened without blocking in case the path was
    // swapped for a FIFO since.
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, O_NONBLOCK);
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Error::other("not a regular file"));
    }
    if meta.len() > MAX_POLICY_FILE {
        return Err(too_large());
    }
    let mut text = String::new();
    file.take(MAX_POLICY_FILE + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_POLICY_FILE {
        return Err(too_large());
    }
    Ok(text)
}

/// Linux's `O_NONBLOCK` on x86-64 and aarch64, the hosts this compiler builds on for Linux (the
/// crate has no libc dependency; on another host a path swapped since the look may block).
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
const O_NONBLOCK: i32 = 0o4000;

/// A [`Loader`] that refuses every include (for sources that must be self-contained).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoIncludes;

impl Loader for NoIncludes {
    fn load(&mut self, name: &str, _: Option<&Path>) -> Result<(PathBuf, String), String> {
        Err(format!("`include \"{name}\"` is not available here"))
    }
}

/// A rule after expansion, with where it came from.
#[derive(Clone, Debug)]
pub struct FlatRule {
    /// The rule as parsed.
    pub rule: Rule,
    /// The group it came from, if any.
    pub group: Option<&'static str>,
}

/// The flat form of a policy.
#[derive(Clone, Debug, Default)]
pub struct Expanded {
    /// Every `default` statement found (exactly one is valid).
    pub defaults: Vec<(ActionSpec, Loc)>,
    /// Every rule, in the order they apply.
    pub rules: Vec<FlatRule>,
    /// Files read through `include`, in the order they were read.
    pub files: Vec<PathBuf>,
}

/// Walks the statements of `root`, expanding includes and groups.
pub struct Expander<'a> {
    sources: &'a mut SourceMap,
    loader: &'a mut dyn Loader,
    errors: &'a mut Vec<Diagnostic>,
    out: Expanded,
    /// Files and groups being expanded, to catch cycles.
    stack: Vec<String>,
    /// What the expansion has spent of its limits.
    budget: Budget,
    /// Each group expanded so far, with where it was first used.
    used: Vec<FirstUse>,
    /// The group the policy's own text named whose expansion is under way, if any.
    named_by_policy: Option<&'static str>,
    /// The path each included file was first read under, by its key: a file included again
    /// under another spelling (`b/../a/x.policy`, a link) is named as it was first, so that its
    /// rules' places are the same each time and a copy is seen as such. Its own includes are
    /// still looked up beside the spelling that reached it.
    first_spelling: HashMap<String, PathBuf>,
}

/// Where a group was first brought in.
#[derive(Debug)]
struct FirstUse {
    group: &'static str,
    /// The `use` that brought it in, in the policy's text or in a group's.
    at: Loc,
    /// That `use` as a place in its file (the file's key, the byte offset), the same each time
    /// the file is included: a file included twice (a diamond) says the same `use` again.
    statement: (String, u32),
    /// The group the policy named that used it in turn, if the policy did not name it itself.
    through: Option<&'static str>,
}

impl<'a> Expander<'a> {
    /// Creates an expander that adds included sources to `sources`.
    pub fn new(
        sources: &'a mut SourceMap,
        loader: &'a mut dyn Loader,
        errors: &'a mut Vec<Diagnostic>,
    ) -> Self {
        Expander {
            sources,
            loader,
            errors,
            out: Expanded::default(),
            stack: Vec::new(),
            budget: Budget::default(),
            used: Vec::new(),
            named_by_policy: None,
            first_spelling: HashMap::new(),
        }
    }

    /// Expands a parsed source and returns the flat policy.
    pub fn run(mut self, root: SourceId, file: syntax::File) -> Expanded {
        let key = self.source_key(root);
        self.stack.push(key);
        self.items(root, file, None);
        self.out
    }

    fn source_key(&self, id: SourceId) -> String {
        let source = self.sources.get(id);
        source
            .path
            .as_ref()
            .map(|p| {
                p.canonicalize()
                    .unwrap_or_else(|_| p.clone())
                    .display()
                    .to_string()
            })
            .unwrap_or_else(|| source.name.clone())
    }

    fn items(&mut self, source: SourceId, file: syntax::File, group: Option<&'static str>) {
        for item in file.items {
            match item {
                Item::Default { action, loc } => {
                    if let Some(g) = group {
                        self.errors.push(Diagnostic::new(
                            loc,
                            format!("group `{g}` may not set the default action"),
                        ));
                    } else {
                        self.out.defaults.push((action, loc));
                    }
                }
                Item::Rule(rule) => self.out.rules.push(FlatRule { rule, group }),
                Item::Use { groups, .. } => {
                    for name in groups {
                        self.use_group(&name.text, name.loc, group.is_none());
                    }
                }
                Item::Include {
                    path,
                    path_loc,
                    loc,
                } => {
                    if let Some(g) = group {
                        self.errors.push(Diagnostic::new(
                            loc,
                            format!("group `{g}` may not include files"),
                        ));
                        continue;
                    }
                    self.include(source, &path, path_loc);
                }
            }
        }
    }

    /// Expands group `name` here. `by_policy` says the policy's own text names it, rather
    /// than a group's.
    fn use_group(&mut self, name: &str, at: Loc, by_policy: bool) {
        let Some(group) = groups::find(name) else {
            // Up to the bound the other stages keep: a hostile policy may name one a million
            // times.
            if self.errors.len() >= MAX_ERRORS {
                return;
            }
            self.errors.push(
                Diagnostic::new(at, format!("unknown group `{name}`"))
                    .suggest(name, groups::GROUPS.iter().map(|g| g.name))
                    .or_help(format!(
                        "the groups are: {}",
                        groups::GROUPS
                            .iter()
                            .map(|g| g.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
            );
            return;
        };
        if self.budget.exhausted() {
            return;
        }
        let key = format!("group {}", group.name);
        if self.stack.contains(&key) {
            self.errors.push(Diagnostic::new(
                at,
                format!(
                    "group `{name}` uses itself (through {})",
                    self.stack.join(" -> ")
                ),
            ));
            return;
        }
        if self.used_again(group.name, at, by_policy) {
            return;
        }
        if let Err(limit) = self.budget.text(group.text.len()) {
            self.over_limit(at, format!("cannot use group `{name}`"), limit);
            return;
        }
        let id = self.sources.add(Source {
            name: format!("group {}", group.name),
            path: None,
            text: SourceText::Text(group.text.to_string()),
            included_at: Some(at),
            reached_as: None,
        });
        let file = self.parse(id, group.text);
        self.used.push(FirstUse {
            group: group.name,
            at,
            statement: self.statement(at),
            through: self.named_by_policy,
        });
        if by_policy {
            self.named_by_policy = Some(group.name);
        }
        self.stack.push(key);
        self.items(id, file, Some(group.name));
        self.stack.pop();
        if by_policy {
            self.named_by_policy = None;
        }
    }

    /// The place `at` as its file's key and a byte offset.
    fn statement(&self, at: Loc) -> (String, u32) {
        (self.source_key(at.source), at.start)
    }

    /// Whether `group` was expanded before, so that this use must not expand it again. A
    /// second copy of a group's rules never applies: each is decided by the same rule of the
    /// first copy. So a second use the policy writes is an error, like any rule of its own that
    /// never applies; one that a group makes (`threads` uses `futex`), or the same `use` again
    /// in a file included twice, is left out quietly.
    fn used_again(&mut self, group: &'static str, at: Loc, by_policy: bool) -> bool {
        let Some(first) = self.used.iter().position(|u| u.group == group) else {
            return false;
        };
        let first = &self.used[first];
        let again = first.through.is_none()
            && first.at.start == at.start
            && first.statement == self.statement(at);
        // Each repeat is an error of its own, up to the bound the other stages keep.
        if by_policy && !again && self.errors.len() < MAX_ERRORS {
            let (message, help) = match first.through {
                None => (
                    format!(
                        "group `{group}` is already used ({})",
                        self.sources.describe(first.at)
                    ),
                    "a group's rules apply where it is first used; remove this use".to_string(),
                ),
                Some(outer) => (
                    format!("group `{group}` is already used, by group `{outer}`"),
                    format!(
                        "`{outer}` uses `{group}`, and a group's rules apply where it is first \
                         used; remove this use, or move it above the `use` of `{outer}`"
                    ),
                ),
            };
            self.errors
                .push(Diagnostic::new(at, message).with_help(help));
        }
        true
    }

    fn include(&mut self, from: SourceId, name: &str, at: Loc) {
        if self.budget.exhausted() {
            return;
        }
        if let Err(limit) = self.budget.include() {
            self.over_limit(at, format!("cannot include `{name}`"), limit);
            return;
        }
        let dir = self
            .sources
            .get(from)
            .path
            .as_ref()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        let (path, text) = match self.loader.load(name, dir.as_deref()) {
            Ok(found) => found,
            Err(why) => {
                self.errors.push(Diagnostic::new(
                    at,
                    format!("cannot include `{name}`: {why}"),
                ));
                return;
            }
        };
        let key = path
            .canonicalize()
            .unwrap_or_else(|_| path.clone())
            .display()
            .to_string();
        if self.stack.contains(&key) {
            self.errors.push(Diagnostic::new(
                at,
                format!(
                    "include cycle: `{name}` is already being included ({})",
                    self.stack.join(" -> ")
                ),
            ));
            return;
        }
        if let Err(limit) = self.budget.text(text.len()) {
            self.over_limit(at, format!("cannot include `{name}`"), limit);
            return;
        }
        self.out.files.push(path.clone());
        // Named as first spelled, so its rules' places are the same each time; looked in (for
        // its own relative includes) where this `include` spelled it, whatever came first.
        let first = self
            .first_spelling
            .entry(key.clone())
            .or_insert_with(|| path.clone());
        let reached_as = (*first != path).then(|| path.clone());
        let id = self.sources.add(Source {
            name: first.display().to_string(),
            path: Some(path),
            text: SourceText::Text(text.clone()),
            included_at: Some(at),
            reached_as,
        });
        let file = self.parse(id, &text);
        self.stack.push(key);
        self.items(id, file, None);
        self.stack.pop();
    }

    /// Reports the `include` or `use` at `at` that would pass an expansion limit.
    fn over_limit(&mut self, at: Loc, what: String, limit: ExpansionLimit) {
        self.errors
            .push(Diagnostic::new(at, format!("{what}: {limit}")).with_help(limit.help()));
    }

    /// Lexes and parses a text source; syntax errors are recorded and what parsed is kept.
    fn parse(&mut self, id: SourceId, text: &str) -> syntax::File {
        let (tokens, lex_errors) = syntax::lex(id, text);
        let end = Loc {
            source: id,
            start: text.len() as u32,
            end: text.len() as u32,
        };
        let (file, parse_errors) = syntax::parse(&tokens, end);
        self.errors.extend(lex_errors);
        self.errors.extend(parse_errors);
        file
    }
}

#[cfg(test)]
mod loader_tests {
    use super::{FsLoader, Loader};
    use std::path::PathBuf;

    /// A device or a FIFO named by an `include` is refused, not read: `/dev/zero` would never
    /// end, a FIFO would block.
    #[test]
    fn an_include_of_something_not_a_regular_file_is_an_error() {
        let mut loader = FsLoader {
            base: PathBuf::from("/"),
        };
        for name in ["/dev/zero", "/dev/null", "/"] {
            let err = loader.load(name, None).unwrap_err();
            assert!(err.contains("not a regular file"), "{name}: {err}");
        }
    }
}
