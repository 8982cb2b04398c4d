//! Examples and integration/attack test suites for the sandbox workspace.
