//! Signals and files changing under a running command: a data file
//! truncated mid-fit, SIGTERM and SIGINT while outputs are being written,
//! Ctrl-C during a long initialisation. Each ends with one line and nothing
//! half-written.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::safety::{bin, temporaries};
use super::{assert_fails, gmm, s};
use gmm::io::load_model;

/// Starts `gmm args...` with stderr captured.
pub(super) fn spawn(args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(super) fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// A data file big enough that a fit with `--tol 0` runs for many seconds.
fn big_data(dir: &Path) -> PathBuf {
    let p = dir.join("big.npy");
    let o = gmm(&[
        "generate",
        "--preset",
        "mid",
        "--n",
        "200000",
        "--out",
        s(&p),
    ]);
    assert!(o.status.success());
    p
}

#[test]
fn a_data_file_truncated_during_a_fit_is_a_one_line_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = big_data(dir.path());
    let (m, r) = (dir.path().join("m.json"), dir.path().join("r.json"));
    let child = spawn(&[
        "fit",
        s(&data),
        "-k",
        "8",
        "--tol",
        "0",
        "--max-iter",
        "100000",
        "--out",
        s(&m),
        "--report",
        s(&r),
        "-q",
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&data)
        .unwrap()
        .set_len(4096)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_fails(&out, 1, "changed size while being read");
    assert!(String::from_utf8_lossy(&out.stderr).contains("big.npy"));
    assert!(!m.exists() && !r.exists());
    assert!(
        temporaries(dir.path()).is_empty(),
        "{:?}",
        temporaries(dir.path())
    );
}

#[test]
fn sigterm_and_sigint_remove_temporary_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = big_data(d);
    let m = d.join("m.json");
    let o = gmm(&[
        "fit",
        s(&data),
        "-k",
        "8",
        "--max-iter",
        "3",
        "--out",
        s(&m),
        "-q",
    ]);
    assert!(o.status.success());
    // --labels is a FIFO nobody reads: opening it waits, with the temporary
    // file of --out already made. The signal comes while it exists.
    let fifo = d.join("labels.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (sig, code) in [("-TERM", 143), ("-INT", 130)] {
        let out = d.join("s.npy");
        let child = spawn(&[
            "sample",
            s(&m),
            "--n",
            "1000",
            "--out",
            s(&out),
            "--labels",
            s(&fifo),
        ]);
        let mut waited = 0;
        while temporaries(d).is_empty() && waited < 20_000 {
            std::thread::sleep(Duration::from_millis(20));
            waited += 20;
        }
        assert_eq!(temporaries(d).len(), 1, "no temporary file to clean up");
        signal(&child, sig);
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!out.exists());
        assert!(temporaries(d).is_empty(), "{sig}: {:?}", temporaries(d));
    }
    // SIGTERM during a fit: as Ctrl-C, the best model so far, exit 143.
    let m2 = d.join("m2.json");
    let child = spawn(&[
        "fit",
        s(&data),
        "-k",
        "8",
        "--tol",
        "0",
        "--max-iter",
        "100000",
        "--out",
        s(&m2),
        "-q",
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, "-TERM");
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(load_model(&m2).is_ok());
    let text = std::fs::read_to_string(&m2).unwrap();
    assert!(text.contains("\"converged\": false"), "{text}");
    assert!(temporaries(d).is_empty());
}

#[test]
fn ctrl_c_during_a_long_initialisation_stops_at_once_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, m) = (dir.path().join("x.npy"), dir.path().join("m.json"));
    let o = gmm(&[
        "generate",
        "--preset",
        "seed2d",
        "--n",
        "200000",
        "--out",
        s(&data),
    ]);
    assert!(o.status.success());
    // k-means++ with K = 3000 on 200,000 rows takes many seconds.
    let child = spawn(&["fit", s(&data), "-k", "3000", "--out", s(&m), "-q"]);
    std::thread::sleep(Duration::from_millis(1000));
    let t = std::time::Instant::now();
    signal(&child, "-INT");
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("no model yet, nothing was written"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(!m.exists());
    assert!(temporaries(dir.path()).is_empty());
}
