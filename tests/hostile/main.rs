//! Hostile files for every reader (.npy, Parquet, Arrow file and stream,
//! CSV, model JSON), read inside a memory bound.
//!
//! Each test here runs one of the `#[ignore]`d workers below in a child
//! process of this same test binary whose address space is limited to
//! [`BOUND_MIB`] (`ulimit -v`): an allocation a file's header asks for beyond
//! that fails, which aborts the child and fails the test with the case that
//! caused it. A stack overflow, a panic or an abort fails it the same way.
//! The workers assert a typed error or a read consistent with the file for
//! every case.

mod bombs;
mod craft;
mod mutations;

use std::path::Path;
use std::process::Command;

use gmm::io::{ColumnarFile, ColumnarParts};

/// Address space of a worker: a few hundred megabytes of its own (threads,
/// allocator arenas, the test harness) and room for what small files need;
/// every bomb below claims gigabytes or more.
pub const BOUND_MIB: u64 = 1536;

/// Runs the ignored test `name` of this binary in a child limited to
/// [`BOUND_MIB`] of address space, and asserts that it passed.
pub fn bounded(name: &str) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {}; exec \"$0\" \"$@\"",
            BOUND_MIB * 1024
        ))
        .arg(exe)
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the worker {name} failed ({:?}) under a {BOUND_MIB} MiB address space:\n{stdout}\n{stderr}",
        out.status
    );
}

#[test]
fn crafted_bombs_are_refused_within_the_memory_bound() {
    bounded("bombs::worker");
}

#[test]
fn mutated_files_are_refused_or_read_within_the_memory_bound() {
    bounded("mutations::worker");
}

/// The values read from a columnar file, column after column (float32
/// widened).
pub fn values(path: &Path) -> Result<Vec<f64>, String> {
    let f = ColumnarFile::open(path, None).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    match f.parts() {
        ColumnarParts::F64(parts) => {
            for p in parts {
                for c in p.columns() {
                    out.extend_from_slice(c);
                }
            }
        }
        ColumnarParts::F32(parts) => {
            for p in parts {
                for c in p.columns() {
                    out.extend(c.iter().map(|&v| f64::from(v)));
                }
            }
        }
    }
    Ok(out)
}
