//! Bounds on one expansion as a whole. Cycles are caught by the expander, but a file may be
//! included from many places, and each time its text is expanded again: a few tiny files that
//! each include the next one twice would make the compiler expand 2^N copies. These limits
//! bound the work and the memory of an expansion whatever the [`super::Loader`], so the
//! `sandbox` tool and `policy!` both stop at once.

use super::MAX_POLICY_FILE;
use std::fmt;

/// The most `include` statements one compilation acts on, counting a file again each time it
/// is included (and an include that fails to load too). Real policies have a handful. Also the
/// deepest chain of includes: expansion recurses once per level, and 256 levels leave room on a
/// 2 MiB stack (a test thread's, in a debug build) for the deepest condition the parser accepts.
pub const MAX_INCLUDES: usize = 256;

/// The most bytes of text `include` and `use` bring into one compilation, counting a file or
/// group again each time it is brought in: as much as one policy file may hold, so that the
/// expansion costs no more than the largest file the compiler reads.
pub const MAX_EXPANDED_BYTES: u64 = MAX_POLICY_FILE;

/// A limit of [`MAX_INCLUDES`] or [`MAX_EXPANDED_BYTES`] that an `include` or `use` would pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpansionLimit {
    /// One `include` more than [`MAX_INCLUDES`].
    Includes,
    /// More than [`MAX_EXPANDED_BYTES`] bytes of expanded text.
    Bytes {
        /// The total the expansion would reach.
        total: u64,
    },
}

impl ExpansionLimit {
    /// How to stay under the limit.
    pub fn help(self) -> &'static str {
        match self {
            ExpansionLimit::Includes => {
                "a file is expanded again each time it is included; include a shared file once, \
                 from the top-level policy, rather than from every file that needs it"
            }
            ExpansionLimit::Bytes { .. } => {
                "a file or group is expanded again each time it is included or used; include or \
                 use each one once"
            }
        }
    }
}

impl fmt::Display for ExpansionLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpansionLimit::Includes => write!(
                f,
                "it would be `include` number {}, over the limit of {MAX_INCLUDES} `include`s \
                 in one policy",
                MAX_INCLUDES + 1
            ),
            ExpansionLimit::Bytes { total } => write!(
                f,
                "`include` and `use` would bring in {total} bytes of text, over the limit of \
                 {MAX_EXPANDED_BYTES} bytes ({} MiB) in one policy",
                MAX_EXPANDED_BYTES >> 20
            ),
        }
    }
}

impl std::error::Error for ExpansionLimit {}

/// What an expansion has spent of its limits. Once a limit is passed the budget is exhausted:
/// the expander stops expanding, and reports only that first error (the includes and uses left
/// would each pass it again).
#[derive(Clone, Debug, Default)]
pub(super) struct Budget {
    includes: usize,
    bytes: u64,
    exhausted: bool,
}

impl Budget {
    /// Whether a limit has been passed.
    pub(super) fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Counts one more `include`, before its file is read.
    pub(super) fn include(&mut self) -> Result<(), ExpansionLimit> {
        if self.includes >= MAX_INCLUDES {
            return self.exhaust(ExpansionLimit::Includes);
        }
        self.includes += 1;
        Ok(())
    }

    /// Counts `len` more bytes of text, before they are parsed.
    pub(super) fn text(&mut self, len: usize) -> Result<(), ExpansionLimit> {
        let total = self.bytes.saturating_add(len as u64);
        if total > MAX_EXPANDED_BYTES {
            return self.exhaust(ExpansionLimit::Bytes { total });
        }
        self.bytes = total;
        Ok(())
    }

    fn exhaust(&mut self, limit: ExpansionLimit) -> Result<(), ExpansionLimit> {
        self.exhausted = true;
        Err(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_allows_up_to_each_limit_and_is_spent_after() {
        let mut budget = Budget::default();
        for _ in 0..MAX_INCLUDES {
            budget.include().unwrap();
        }
        budget.text(MAX_EXPANDED_BYTES as usize).unwrap();
        assert!(!budget.exhausted());
        assert_eq!(
            budget.text(1),
            Err(ExpansionLimit::Bytes {
                total: MAX_EXPANDED_BYTES + 1
            })
        );
        assert!(budget.exhausted());
        assert_eq!(budget.include(), Err(ExpansionLimit::Includes));
    }

    #[test]
    fn messages_name_the_limit_and_its_value() {
        let includes = ExpansionLimit::Includes.to_string();
        assert!(includes.contains("limit of 256 `include`s"), "{includes}");
        let bytes = ExpansionLimit::Bytes { total: 20 << 20 }.to_string();
        assert!(
            bytes.contains("limit of 16777216 bytes (16 MiB)"),
            "{bytes}"
        );
    }
}
