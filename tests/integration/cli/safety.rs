//! What a careless user must not be able to do: destroy an input, lose an
//! output with exit code 0, leave half-written files, or kill the process
//! without a word. Files are built in each test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gmm::io::{Dataset, load_model};

use super::signals::{signal, spawn};
use super::{assert_fails, gmm, s};

pub(super) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_gmm")
}

/// A directory with `a.npy` (20,000 rows of seed2d) and `shards/{a,b}.npy`.
fn workspace() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.npy");
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    for (path, n, seed) in [
        (a.clone(), "20000", "0"),
        (shards.join("a.npy"), "9000", "1"),
        (shards.join("b.npy"), "7000", "2"),
    ] {
        let o = gmm(&[
            "generate",
            "--preset",
            "seed2d",
            "--n",
            n,
            "--seed",
            seed,
            "--out",
            s(&path),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    (dir, a, shards)
}

fn fit_model(data: &Path, out: &Path) {
    let o = gmm(&["fit", s(data), "-k", "3", "--out", s(out), "-q"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

pub(super) fn temporaries(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with(".gmm-") {
            found.push(name);
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(temporaries(&e.path()));
        }
    }
    found
}

fn bytes_of(paths: &[&Path]) -> Vec<Vec<u8>> {
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn no_output_of_any_verb_replaces_an_input_through_any_path() {
    let (dir, a, shards) = workspace();
    let d = dir.path();
    let model = d.join("m.json");
    fit_model(&a, &model);
    let (sa, sb) = (shards.join("a.npy"), shards.join("b.npy"));
    std::fs::hard_link(&sa, d.join("hard.npy")).unwrap();
    std::os::unix::fs::symlink(&sb, d.join("link.npy")).unwrap();
    let inputs = [&a, &sa, &sb, &model];
    let before = bytes_of(&inputs.map(PathBuf::as_path));
    let dotdot = shards.join("..").join("shards").join("b.npy");
    let hard = d.join("hard.npy");
    let link = d.join("link.npy");
    let aliases = [s(&sb), s(&dotdot), s(&hard), s(&link)];
    for alias in aliases {
        for args in [
            vec!["fit", s(&shards), "-k", "2", "--out", alias, "-q"],
            vec![
                "fit",
                s(&shards),
                "-k",
                "2",
                "--report",
                alias,
                "-q",
                "--out",
                "/dev/null",
            ],
            vec![
                "fit",
                s(&shards),
                "-k",
                "2",
                "--out",
                "/dev/null",
                "--plot",
                alias,
            ],
            vec!["select", s(&shards), "-k", "1..2", "--out", alias, "-q"],
            vec!["select", s(&shards), "-k", "1..2", "--report", alias, "-q"],
            vec!["predict", s(&model), s(&shards), "--out", alias],
            vec!["predict", s(&model), s(&shards), "--proba", "--out", alias],
            vec!["plot", s(&model), s(&shards), "--out", alias],
        ] {
            let o = gmm(&args);
            // A picture path must end in .png/.svg, which is checked too.
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success(), "{args:?} succeeded");
            assert!(
                err.contains("over an input") || err.contains(".png"),
                "{args:?}: {err}"
            );
        }
    }
    for args in [
        vec!["sample", s(&model), "--n", "10", "--out", s(&model)],
        vec![
            "sample",
            s(&model),
            "--n",
            "10",
            "--out",
            s(&d.join("x.npy")),
            "--labels",
            s(&model),
        ],
        vec![
            "fit",
            s(&a),
            "-k",
            "3",
            "--init",
            s(&model),
            "--out",
            s(&model),
        ],
    ] {
        assert_fails(&gmm(&args), 1, "over an input");
    }
    assert_eq!(bytes_of(&inputs.map(PathBuf::as_path)), before);
    assert!(temporaries(d).is_empty(), "{:?}", temporaries(d));
}

#[test]
fn two_outputs_of_one_path_are_refused() {
    let (dir, a, _) = workspace();
    let m = dir.path().join("m.json");
    let dot = dir.path().join(".").join("m.json");
    let o = gmm(&["fit", s(&a), "-k", "3", "--out", s(&m), "--report", s(&dot)]);
    assert_fails(&o, 1, "same file");
    assert!(!m.exists());
    let o = gmm(&["sample", s(&m), "--n", "3", "--out", "-", "--labels", "-"]);
    assert_fails(&o, 1, "standard output is given for two outputs");
}

#[test]
fn every_output_path_is_checked_before_the_first_pass() {
    let (dir, a, _) = workspace();
    let d = dir.path();
    let m = d.join("m.json");
    for (bad, needle) in [
        (
            vec!["--report", "/nonexistent-dir/r.json"],
            "does not exist",
        ),
        (vec!["--plot", "/nonexistent-dir/p.png"], "does not exist"),
        (vec!["--plot", "picture.gif"], ".png"),
    ] {
        let mut args = vec!["fit", s(&a), "-k", "3", "--out", s(&m), "-q"];
        args.extend(bad);
        assert_fails(&gmm(&args), 1, needle);
        assert!(!m.exists(), "the model was written although {args:?} fails");
    }
    // An output that is a directory.
    assert_fails(
        &gmm(&["fit", s(&a), "-k", "3", "--out", s(d), "-q"]),
        1,
        "directory",
    );
    assert!(temporaries(d).is_empty());
}

#[test]
fn devices_and_fifos_are_written_through_and_a_full_disk_is_an_error() {
    let (dir, a, _) = workspace();
    let d = dir.path();
    let m = d.join("m.json");
    fit_model(&a, &m);
    let o = gmm(&["fit", s(&a), "-k", "3", "--out", "/dev/null", "-q"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = gmm(&["predict", s(&m), s(&a), "--out", "/dev/null"]);
    assert!(o.status.success());
    use std::os::unix::fs::FileTypeExt;
    let null = std::fs::metadata("/dev/null").unwrap();
    assert!(null.file_type().is_char_device(), "/dev/null was replaced");
    if rustix_is_root() {
        eprintln!("running as root: /dev/null survives a write by root");
    } else {
        eprintln!(
            "not root: /dev/null cannot be replaced by this user anyway; the check that \
             root's write goes through (not a rename in /dev) needs root"
        );
    }
    let in_dev = std::fs::read_dir("/dev")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".gmm-"))
        .count();
    assert_eq!(in_dev, 0, "temporary files left in /dev");
    if Path::new("/dev/full").exists() {
        assert_fails(
            &gmm(&["fit", s(&a), "-k", "3", "--out", "/dev/full", "-q"]),
            1,
            "the disk is full",
        );
        assert_fails(
            &gmm(&["predict", s(&m), s(&a), "--out", "/dev/full"]),
            1,
            "the disk is full",
        );
    }
    // A FIFO: written through to its reader, never replaced.
    let fifo = d.join("pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let o = gmm(&["predict", s(&m), s(&a), "--out", s(&fifo)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let through = reader.join().unwrap();
    let file = d.join("labels.npy");
    assert!(
        gmm(&["predict", s(&m), s(&a), "--out", s(&file)])
            .status
            .success()
    );
    assert_eq!(through, std::fs::read(&file).unwrap());
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

fn rustix_is_root() -> bool {
    // The owner of a file we just created is our effective user.
    use std::os::unix::fs::MetadataExt;
    let f = tempfile::NamedTempFile::new().unwrap();
    f.as_file().metadata().unwrap().uid() == 0
}

#[test]
fn dash_is_standard_output_and_a_closed_one_is_an_error() {
    let (dir, a, _) = workspace();
    let d = dir.path();
    let m = d.join("m.json");
    fit_model(&a, &m);
    let file = d.join("p.npy");
    assert!(
        gmm(&["predict", s(&m), s(&a), "--proba", "--out", s(&file)])
            .status
            .success()
    );
    let o = gmm(&["predict", s(&m), s(&a), "--proba", "--out", "-"]);
    assert!(o.status.success());
    assert_eq!(o.stdout, std::fs::read(&file).unwrap());
    let o = gmm(&["fit", s(&a), "-k", "3", "-q", "--out", "-"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"format\""));
    // Standard output closed, no --out: the model would be lost.
    let o = Command::new("sh")
        .args(["-c", "exec \"$0\" fit \"$1\" -k 3 -q >&-", bin(), s(&a)])
        .output()
        .unwrap();
    assert_fails(&o, 1, "standard output is closed");
    let o = Command::new("sh")
        .args([
            "-c",
            "exec \"$0\" fit \"$1\" -k 3 -q --out - >&-",
            bin(),
            s(&a),
        ])
        .output()
        .unwrap();
    assert_fails(&o, 1, "standard output is closed");
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let (dir, a, _) = workspace();
    let m = dir.path().join("m.json");
    fit_model(&a, &m);
    // 20,000 x 3 responsibilities: far more than a pipe holds.
    let o = Command::new("bash")
        .args([
            "-c",
            "\"$0\" predict \"$1\" \"$2\" --proba --out - | head -c 10 > /dev/null; \
             exit ${PIPESTATUS[0]}",
            bin(),
            s(&m),
            s(&a),
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn sizes_are_checked_before_anything_is_allocated() {
    let (dir, a, _) = workspace();
    let d = dir.path();
    let m = d.join("m.json");
    fit_model(&a, &m);
    let out = d.join("x.npy");
    let max = u64::MAX.to_string();
    assert_fails(
        &gmm(&["sample", s(&m), "--n", &max, "--out", s(&out)]),
        1,
        "more than 2^64 bytes",
    );
    // 1e15 rows: 16 PB, more than any disk.
    assert_fails(
        &gmm(&["sample", s(&m), "--n", "1000000000000000", "--out", s(&out)]),
        1,
        "are free on the disk",
    );
    assert_fails(
        &gmm(&[
            "generate",
            "--preset",
            "seed2d",
            "--n",
            "1000000000000000",
            "--out",
            s(&out),
        ]),
        1,
        "are free on the disk",
    );
    assert!(!out.exists());
    let range = format!("1..{max}");
    assert_fails(
        &gmm(&["select", s(&a), "--components", &range]),
        2,
        "candidates",
    );
    // 2 rows of 100,000 features: one full covariance is 80 GB.
    let wide = d.join("wide.npy");
    let x: Vec<f64> = (0..200_000).map(|i| (i % 7) as f64).collect();
    gmm::io::write_npy(&wide, &x, &[2, 100_000]).unwrap();
    assert_fails(
        &gmm(&["fit", s(&wide), "-k", "1", "--out", s(&m)]),
        1,
        "GB of memory",
    );
    // --n-init far beyond what will ever run: it runs (restart after
    // restart) until stopped, as any long fit.
    let child = spawn(&[
        "fit",
        s(&a),
        "-k",
        "3",
        "--n-init",
        &max,
        "--out",
        s(&m),
        "-q",
    ]);
    std::thread::sleep(Duration::from_millis(1000));
    signal(&child, "-TERM");
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(load_model(&m).is_ok());
}

#[test]
fn predict_streams_its_output_block_by_block() {
    let (dir, a, shards) = workspace();
    let d = dir.path();
    let m = d.join("m.json");
    fit_model(&a, &m);
    // Streamed outputs hold exactly what the library computes at once.
    let (p, l) = (d.join("p.npy"), d.join("l.npy"));
    assert!(
        gmm(&["predict", s(&m), s(&shards), "--proba", "--out", s(&p)])
            .status
            .success()
    );
    assert!(
        gmm(&["predict", s(&m), s(&shards), "--out", s(&l)])
            .status
            .success()
    );
    let model = load_model(&m).unwrap();
    let src = gmm::io::DataSource::open(&shards).unwrap();
    let gmm::io::SourceRows::F64(rows) = src.rows() else {
        panic!("f64 shards")
    };
    let want = model.predict_proba(&rows).unwrap();
    let ds = Dataset::open(&p).unwrap();
    let gmm::io::DatasetView::F64(got) = ds.view() else {
        panic!("f64")
    };
    assert_eq!(got.as_slice(), want.as_slice());
    let labels = model.predict(&rows).unwrap();
    let bytes = std::fs::read(&l).unwrap();
    let got: Vec<i64> = bytes[bytes.len() - 8 * labels.len()..]
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(got, labels.iter().map(|&c| c as i64).collect::<Vec<_>>());
    // sample --labels: the same draws as the library's sample.
    let (x, lab) = (d.join("x.npy"), d.join("lab.npy"));
    let o = gmm(&[
        "sample",
        s(&m),
        "--n",
        "70000",
        "--seed",
        "4",
        "--out",
        s(&x),
        "--labels",
        s(&lab),
    ]);
    assert!(o.status.success());
    let (want_x, want_l) = model.sample(70_000, 4);
    let ds = Dataset::open(&x).unwrap();
    let gmm::io::DatasetView::F64(got) = ds.view() else {
        panic!("f64")
    };
    assert_eq!(got.as_slice(), want_x.as_slice());
    let bytes = std::fs::read(&lab).unwrap();
    assert_eq!(bytes.len() - 8 * want_l.len(), 128);
}

#[test]
fn a_dangling_symlink_among_the_shards_is_an_error() {
    let (_dir, _, shards) = workspace();
    std::os::unix::fs::symlink("/nonexistent/c.npy", shards.join("c.npy")).unwrap();
    assert_fails(
        &gmm(&["fit", s(&shards), "-k", "2", "--out", "/dev/null"]),
        1,
        "symbolic link",
    );
    assert_fails(&gmm(&["info", s(&shards)]), 1, "c.npy");
}

#[test]
fn hostile_files_get_messages_that_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let magic = d.join("magic.npy");
    std::fs::write(&magic, b"\x93NUMPY").unwrap();
    assert_fails(&gmm(&["info", s(&magic)]), 1, "truncated");
    let neg = d.join("neg.npy");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (-3, 2), }";
    let header = format!("{header}{}\n", " ".repeat(63 - (10 + header.len()) % 64));
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    std::fs::write(&neg, &bytes).unwrap();
    assert_fails(&gmm(&["info", s(&neg)]), 1, "shape entry -3 is negative");
    // Binary junk given to convert.
    let junk = d.join("junk.csv");
    let noise: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&junk, noise).unwrap();
    let o = gmm(&["convert", s(&junk), s(&d.join("j.npy"))]);
    assert_fails(&o, 1, "is this a CSV file?");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("Utf8 {"));
}

#[test]
fn a_csv_of_one_very_long_line_is_converted_in_constant_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, npy) = (dir.path().join("one.csv"), dir.path().join("one.npy"));
    // 3 million cells, 30 MB, on one line.
    let line: Vec<String> = (0..3_000_000)
        .map(|i| format!("{}.{:06}", i % 100, i % 999_983))
        .collect();
    std::fs::write(&csv, line.join(",") + "\n").unwrap();
    // Under a 200 MB address-space limit (the file is 30 MB, the output 24 MB):
    // a converter that holds the line as a record of strings does not fit.
    let o = Command::new("sh")
        .args([
            "-c",
            "ulimit -v 200000 && exec \"$0\" convert \"$1\" \"$2\"",
            bin(),
            s(&csv),
            s(&npy),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ds = Dataset::open(&npy).unwrap();
    assert_eq!((ds.n_samples(), ds.n_features()), (1, 3_000_000));
}
