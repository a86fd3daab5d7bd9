//! `mpirun -np P gmm-mpi fit` against `gmm fit`: the same model bytes for
//! P = 1..4, every init method and covariance type, weights, float32, uneven
//! shards; one message for an error on one process; a killed process and
//! Ctrl-C.
//!
//! Needs `mpirun` (Open MPI), the `gmm` binary built beside `gmm-mpi` and
//! the `in_memory` example (`bash tests/run-all` builds them); a missing one
//! fails the tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gmm_core::distributed::GROUP_ROWS;
use gmm_core::{DataView, Preset};

fn gmm_mpi() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gmm-mpi"))
}

/// `gmm`, built beside `gmm-mpi` (same target directory and profile).
fn gmm() -> PathBuf {
    let p = gmm_mpi().with_file_name("gmm");
    assert!(
        p.is_file(),
        "{} is missing: build it first with the profile of this test (tests/run-all: cargo test --profile ci)",
        p.display()
    );
    p
}

fn mpirun(np: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["-q", "--allow-run-as-root", "--oversubscribe", "-np"])
        .arg(np.to_string())
        .arg(gmm_mpi())
        .arg("fit");
    c
}

fn run(mut c: Command) -> Output {
    c.output()
        .expect("cannot run the command (is mpirun on PATH?)")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Fits with `gmm fit` and with `gmm-mpi fit` on each of `nps` processes
/// and compares the model files byte for byte.
fn same_bytes(dir: &Path, data: &Path, args: &[&str], nps: &[usize]) {
    let expected = dir.join("expected.json");
    let out = run({
        let mut c = Command::new(gmm());
        c.arg("fit")
            .arg(data)
            .args(args)
            .arg("--out")
            .arg(&expected)
            .arg("-q");
        c
    });
    assert!(
        out.status.success(),
        "gmm fit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = std::fs::read(&expected).unwrap();
    for &np in nps {
        let got_path = dir.join(format!("got-{np}.json"));
        let out = run({
            let mut c = mpirun(np);
            c.arg(data).args(args).arg("--out").arg(&got_path).arg("-q");
            c
        });
        assert!(
            out.status.success(),
            "gmm-mpi -np {np} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = std::fs::read(&got_path).unwrap();
        assert!(
            got == want,
            "-np {np} {args:?}: the model differs from gmm fit's"
        );
    }
}

/// seed2d rows over 5 and a half groups, so that 4 processes all hold rows.
fn data(dir: &Path) -> (PathBuf, Vec<f64>) {
    let n = 5 * GROUP_ROWS + GROUP_ROWS / 2;
    let x = Preset::Seed2d.generate(Some(n), 7);
    let path = dir.join("x.npy");
    gmm_io::write_view(&path, DataView::new(&x, n, 2).unwrap()).unwrap();
    (path, x)
}

#[test]
fn any_number_of_processes_writes_the_bytes_of_gmm_fit() {
    let dir = tempfile::tempdir().unwrap();
    let (x, _) = data(dir.path());
    same_bytes(dir.path(), &x, &["-k", "3"], &[1, 2, 3, 4]);
    same_bytes(
        dir.path(),
        &x,
        &["-k", "4", "--n-init", "2", "--seed", "5"],
        &[2, 3],
    );
}

#[test]
fn every_init_method_and_covariance_type_writes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (x, _) = data(dir.path());
    // A model file to start from.
    let start = dir.path().join("start.json");
    for ct in ["full", "tied", "diag", "spherical"] {
        let out = run({
            let mut c = Command::new(gmm());
            c.arg("fit")
                .arg(&x)
                .args(["-k", "3", "--max-iter", "2", "--covariance", ct]);
            c.arg("--out").arg(&start).arg("-q");
            c
        });
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for init in [
            "kmeans",
            "k-means++",
            "random-from-data",
            "random",
            s(&start),
        ] {
            let args = [
                "-k",
                "3",
                "--covariance",
                ct,
                "--init",
                init,
                "--max-iter",
                "30",
            ];
            same_bytes(dir.path(), &x, &args, &[3]);
        }
    }
}

#[test]
fn weights_float32_and_uneven_shards_write_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (x, values) = data(dir.path());
    let n = values.len() / 2;
    let w: Vec<f64> = (0..n).map(|i| ((i * 31) % 9) as f64 * 0.5).collect();
    let wpath = dir.path().join("w.npy");
    gmm_io::write_npy(&wpath, &w, &[n]).unwrap();
    for init in ["kmeans", "random-from-data"] {
        let args = ["-k", "3", "--init", init, "--sample-weight", s(&wpath)];
        same_bytes(dir.path(), &x, &args, &[2, 3]);
    }
    // Float32 shards cut off the groups: 100,000 / 350,000 / the rest.
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    let x32: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let cuts = [0, 100_000, 450_000, n];
    for (i, c) in cuts.windows(2).enumerate() {
        let part = DataView::new(&x32[c[0] * 2..c[1] * 2], c[1] - c[0], 2).unwrap();
        gmm_io::write_view(&shards.join(format!("part-{i}.npy")), part).unwrap();
    }
    same_bytes(
        dir.path(),
        &shards,
        &["-k", "3", "--covariance", "diag"],
        &[1, 4],
    );
}

#[test]
fn the_report_and_plot_come_from_process_0() {
    let dir = tempfile::tempdir().unwrap();
    let (x, _) = data(dir.path());
    let (model, report, plot) = (
        dir.path().join("m.json"),
        dir.path().join("r.json"),
        dir.path().join("p.png"),
    );
    let out = run({
        let mut c = mpirun(2);
        c.arg(&x)
            .args(["-k", "3", "--out", s(&model), "--report", s(&report)]);
        c.args(["--plot", s(&plot)]);
        c
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("converged after").count(),
        1,
        "one summary: {stderr}"
    );
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["n_samples"], 5 * GROUP_ROWS + GROUP_ROWS / 2);
    assert!(r["lower_bounds"].as_array().unwrap().len() >= 2);
    assert!(std::fs::read(&plot).unwrap().starts_with(b"\x89PNG"));
    assert!(model.is_file());
}

#[test]
fn bad_data_on_one_process_is_one_message_naming_it_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3 * GROUP_ROWS;
    let mut x = Preset::Seed2d.generate(Some(n), 1);
    let bad = 2 * GROUP_ROWS + 99;
    x[bad * 2] = f64::INFINITY;
    let path = dir.path().join("bad.npy");
    gmm_io::write_view(&path, DataView::new(&x, n, 2).unwrap()).unwrap();
    let model = dir.path().join("m.json");
    let out = run({
        let mut c = mpirun(3);
        c.arg(&path).args(["-k", "3", "--out", s(&model)]);
        c
    });
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("process 2") && errors[0].contains(&format!("row {bad}")),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "something was written"
    );
    // An output that cannot be written fails on process 0 before any pass.
    let out = run({
        let mut c = mpirun(2);
        c.arg(&path)
            .args(["-k", "3", "--out", "/nonexistent/m.json"]);
        c
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("does not exist"), "{stderr}");
}

/// The `gmm-mpi` processes started by the mpirun of pid `parent`.
fn ranks_of(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = &stat[stat.find('(').unwrap() + 1..close];
        let ppid: u32 = stat[close + 2..]
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        if ppid == parent && comm == "gmm-mpi" {
            pids.push(pid);
        }
    }
    pids
}

/// A long fit on two processes, started in the background.
fn long_fit(dir: &Path, model: &Path, report: &Path) -> std::process::Child {
    let n = 2 * GROUP_ROWS;
    let x = Preset::Mid.generate(Some(n), 1);
    let path = dir.join("mid.npy");
    gmm_io::write_view(&path, DataView::new(&x, n, 16).unwrap()).unwrap();
    let mut c = mpirun(2);
    c.arg(&path)
        .args(["-k", "16", "--init", "random-from-data", "--tol", "0"])
        .args([
            "--max-iter",
            "100000",
            "--out",
            s(model),
            "--report",
            s(report),
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    c.spawn().unwrap()
}

fn wait_for_ranks(mpirun: &std::process::Child) -> Vec<u32> {
    let t = Instant::now();
    loop {
        let r = ranks_of(mpirun.id());
        if r.len() == 2 || t.elapsed() > Duration::from_secs(30) {
            return r;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_killed_process_ends_the_job_with_no_model_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let (model, report) = (dir.path().join("m.json"), dir.path().join("r.json"));
    let child = long_fit(dir.path(), &model, &report);
    let ranks = wait_for_ranks(&child);
    assert_eq!(ranks.len(), 2, "the two processes did not start");
    std::thread::sleep(Duration::from_secs(3));
    let killed = Command::new("kill")
        .args(["-9", &ranks[1].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "mpirun exited 0 after a process was killed"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f != "mid.npy")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn ctrl_c_to_mpirun_writes_the_best_model_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let (model, report) = (dir.path().join("m.json"), dir.path().join("r.json"));
    let child = long_fit(dir.path(), &model, &report);
    assert_eq!(
        wait_for_ranks(&child).len(),
        2,
        "the two processes did not start"
    );
    std::thread::sleep(Duration::from_secs(4));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["stopped"], true, "{stderr}");
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    assert_eq!(m["converged"], false);
    assert_eq!(
        stderr.matches("wrote the best model so far").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_usage_error_is_one_line() {
    let out = run({
        let mut c = mpirun(2);
        c.arg("x.npy");
        c
    });
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{stderr}"
    );
}

#[test]
fn the_library_fit_of_rows_held_in_memory_is_the_single_process_fit() {
    let example = gmm_mpi().with_file_name("examples").join("in_memory");
    assert!(
        example.is_file(),
        "{} is missing: build it first with the profile of this test (tests/run-all: cargo build --profile ci -p gmm-mpi --example in_memory)",
        example.display()
    );
    let n = 4 * GROUP_ROWS + 1234;
    let x = Preset::Seed2d.generate(Some(n), 11);
    let alone = gmm_core::GaussianMixtureParams::new(3)
        .fit(DataView::new(&x, n, 2).unwrap())
        .unwrap();
    let want = gmm_io::model_to_json(&alone.model);
    for np in [1, 3] {
        let out = run({
            let mut c = Command::new("mpirun");
            c.args(["-q", "--allow-run-as-root", "--oversubscribe", "-np"])
                .arg(np.to_string())
                .arg(&example)
                .args([n.to_string(), "3".to_string()]);
            c
        });
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8(out.stdout).unwrap();
        assert_eq!(got.trim_end(), want.trim_end(), "-np {np}");
    }
}
