//! End-to-end tests of the `gmm` binary, one behaviour per test, grouped by verb.

mod animate;
mod data;
mod fit;
mod hostile;
mod safety;
mod signals;
mod verbs;

use std::path::Path;
use std::process::{Command, Output};

pub(crate) fn gmm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gmm"))
        .args(args)
        .output()
        .unwrap()
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// stderr is a single `error: ...` line, the exit code is `code`.
pub(crate) fn assert_fails(out: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "more than one line: {err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}
