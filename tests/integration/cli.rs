//! The `gmm` binary end to end.

use std::path::Path;
use std::process::{Command, Output};

use gmm::io::{Dataset, load_model, write_npy};

use crate::common::*;

fn gmm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gmm"))
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// stderr is a single `error: ...` line, the exit code is `code`.
fn assert_fails(out: &Output, code: i32, needle: &str) {
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

#[test]
fn fit_with_init_reproduces_scikit_learn() {
    let dir = tempfile::tempdir().unwrap();
    // The covariance type comes from the --init file when --covariance is absent.
    for (data_name, ct) in FIXTURES
        .iter()
        .flat_map(|n| gmm::CovarianceType::ALL.map(|t| (*n, t)))
    {
        let name = &stem(data_name, ct);
        let out = dir.path().join(format!("{name}.json"));
        let report = dir.path().join(format!("{name}.report.json"));
        let data = fixture_path(&format!("{data_name}.npy"));
        let init = fixture_path(&format!("{name}.init.json"));
        let k = load_model(&init).unwrap().n_components().to_string();
        let o = gmm(&[
            "fit",
            s(&data),
            "--components",
            &k,
            "--init",
            s(&init),
            "--tol",
            "0",
            "--max-iter",
            "50",
            "--out",
            s(&out),
            "--report",
            s(&report),
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            o.stderr.is_empty(),
            "--quiet printed {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let e = load_expected(name);
        let m = load_model(&out).unwrap();
        assert!(max_rel_err(m.weights(), &flat(&e["weights"]), 1e-3) < 1e-8);
        assert!(max_rel_err(m.means(), &flat(&e["means"]), 1e-3) < 1e-8);
        assert!(max_rel_err(m.covariances(), &flat(&e["covariances"]), 1e-3) < 1e-8);
        let text = std::fs::read_to_string(&out).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["format"], "gmm-model");
        assert_eq!(json["version"], 1);
        assert_eq!(json["n_iter"], 50);
        assert_eq!(json["converged"], false);
        let lb = e["lower_bound"].as_f64().unwrap();
        assert!(((json["lower_bound"].as_f64().unwrap() - lb) / lb).abs() < 1e-8);
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        for key in [
            "n_iter",
            "converged",
            "lower_bound",
            "lower_bounds",
            "fit_seconds",
            "iteration_seconds",
            "n_samples",
            "n_features",
            "n_components",
            "covariance_type",
            "threads",
        ] {
            assert!(r.get(key).is_some(), "report lacks {key}");
        }
        assert_eq!(r["lower_bounds"].as_array().unwrap().len(), 50);
        assert_eq!(r["covariance_type"], ct.as_str());
        assert_eq!(json["covariance_type"], ct.as_str());
        assert_eq!(m.covariance_type(), ct);
    }
}

#[test]
fn fit_output_is_identical_across_thread_counts_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("x.npy");
    let o = gmm(&[
        "generate",
        "--preset",
        "small",
        "--n",
        "30000",
        "--seed",
        "4",
        "--out",
        s(&data),
    ]);
    assert!(o.status.success());
    let mut texts = Vec::new();
    for threads in ["1", "2", "1"] {
        let out = dir.path().join(format!("m{}.json", texts.len()));
        let o = gmm(&[
            "fit",
            s(&data),
            "-k",
            "4",
            "--threads",
            threads,
            "--max-iter",
            "10",
            "--out",
            s(&out),
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        texts.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(texts[0], texts[1]);
    assert_eq!(texts[0], texts[2]);
}

#[test]
fn fit_prints_progress_and_model_to_stdout_without_out() {
    let data = fixture_path("seed2d.npy");
    let o = gmm(&["fit", s(&data), "-k", "3"]);
    assert!(o.status.success());
    let stdout = String::from_utf8(o.stdout).unwrap();
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["n_components"], 3);
    let stderr = String::from_utf8(o.stderr).unwrap();
    // Not a terminal: no per-iteration lines, one summary line.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("converged after"), "{stderr}");
}

#[test]
fn bad_input_exits_non_zero_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.json");
    let o = s(&out);
    // NaN in the data.
    let nan = dir.path().join("nan.npy");
    let mut x = vec![1.0; 40];
    x[2 * 7 + 1] = f64::NAN;
    write_npy(&nan, &x, &[20, 2]).unwrap();
    assert_fails(&gmm(&["fit", s(&nan), "-k", "2", "--out", o]), 1, "row 7");
    // K > N, k = 0.
    let small = dir.path().join("small.npy");
    write_npy(&small, &[1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    assert_fails(
        &gmm(&["fit", s(&small), "-k", "3", "--out", o]),
        1,
        "exceeds the number of rows",
    );
    assert_fails(
        &gmm(&["fit", s(&small), "-k", "0", "--out", o]),
        1,
        "n_components",
    );
    // d = 0 and n = 0.
    let nocols = dir.path().join("nocols.npy");
    write_npy::<f64>(&nocols, &[], &[5, 0]).unwrap();
    assert_fails(
        &gmm(&["fit", s(&nocols), "-k", "1", "--out", o]),
        1,
        "no columns",
    );
    let norows = dir.path().join("norows.npy");
    write_npy::<f64>(&norows, &[], &[0, 3]).unwrap();
    assert_fails(
        &gmm(&["fit", s(&norows), "-k", "1", "--out", o]),
        1,
        "no rows",
    );
    // Hostile files.
    let empty = dir.path().join("empty.npy");
    std::fs::write(&empty, b"").unwrap();
    assert_fails(&gmm(&["fit", s(&empty), "-k", "1", "--out", o]), 1, "empty");
    let junk = dir.path().join("junk.npy");
    std::fs::write(&junk, b"hello, world, this is not numpy").unwrap();
    assert_fails(&gmm(&["fit", s(&junk), "-k", "1", "--out", o]), 1, "magic");
    let truncated = dir.path().join("trunc.npy");
    let bytes = std::fs::read(fixture_path("seed2d.npy")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 5]).unwrap();
    assert_fails(
        &gmm(&["fit", s(&truncated), "-k", "1", "--out", o]),
        1,
        "truncated",
    );
    let strings = dir.path().join("strings.npy");
    let mut bytes = gmm::io::header_bytes("<U3", &[2]);
    bytes.extend_from_slice(&[0u8; 24]);
    std::fs::write(&strings, bytes).unwrap();
    assert_fails(
        &gmm(&["fit", s(&strings), "-k", "1", "--out", o]),
        1,
        "'<U3' (strings)",
    );
    assert_fails(
        &gmm(&["fit", "/nonexistent/x.npy", "-k", "1", "--out", o]),
        1,
        "/nonexistent/x.npy",
    );
    // Bad parameters.
    let data = fixture_path("seed2d.npy");
    assert_fails(
        &gmm(&["fit", s(&data), "-k", "3", "--tol", "-1", "--out", o]),
        1,
        "tol",
    );
    assert_fails(
        &gmm(&["fit", s(&data), "-k", "3", "--reg-covar", "-1", "--out", o]),
        1,
        "reg_covar",
    );
    assert_fails(
        &gmm(&[
            "fit",
            s(&data),
            "-k",
            "3",
            "--covariance",
            "round",
            "--out",
            o,
        ]),
        1,
        "covariance_type",
    );
    assert_fails(
        &gmm(&["fit", s(&data), "-k", "3", "--init", "nonsense", "--out", o]),
        1,
        "neither a method",
    );
    // An init that disagrees with the data or K, or is not a valid model.
    let init = fixture_path("aniso5d.init.json");
    assert_fails(
        &gmm(&["fit", s(&data), "-k", "4", "--init", s(&init), "--out", o]),
        1,
        "features",
    );
    assert_fails(
        &gmm(&["fit", s(&data), "-k", "3", "--init", s(&init), "--out", o]),
        1,
        "components",
    );
    let bad_init = dir.path().join("bad.json");
    std::fs::write(
        &bad_init,
        r#"{"weights": [1.0], "means": [[0.0, 0.0]], "covariances": [[[1.0, 2.0], [2.0, 1.0]]]}"#,
    )
    .unwrap();
    assert_fails(
        &gmm(&[
            "fit",
            s(&data),
            "-k",
            "1",
            "--init",
            s(&bad_init),
            "--out",
            o,
        ]),
        1,
        "positive definite",
    );
    let nan_init = dir.path().join("nan.json");
    std::fs::write(
        &nan_init,
        r#"{"weights": [1.0], "means": [[0.0, NaN]], "covariances": [[[1.0, 0.0], [0.0, 1.0]]]}"#,
    )
    .unwrap();
    assert_fails(
        &gmm(&[
            "fit",
            s(&data),
            "-k",
            "1",
            "--init",
            s(&nan_init),
            "--out",
            o,
        ]),
        1,
        "invalid model file",
    );
    // Singular covariance during EM.
    let dup = dir.path().join("dup.npy");
    let mut x = vec![0.0; 40];
    x.extend((0..40).map(|i| 10.0 + i as f64 * 0.1));
    write_npy(&dup, &x, &[80, 1]).unwrap();
    let init = dir.path().join("dup_init.json");
    std::fs::write(
        &init,
        r#"{"weights": [0.5, 0.5], "means": [[0.0], [12.0]], "covariances": [[[1.0]], [[4.0]]]}"#,
    )
    .unwrap();
    assert_fails(
        &gmm(&[
            "fit",
            s(&dup),
            "-k",
            "2",
            "--init",
            s(&init),
            "--reg-covar",
            "0",
            "--tol",
            "0",
            "--out",
            o,
        ]),
        1,
        "component 0 became singular",
    );
    assert!(!out.exists(), "an output was written despite errors");
    // Usage errors exit 2, also with one line.
    assert_fails(&gmm(&["fit", s(&data)]), 2, "--components");
    assert_fails(
        &gmm(&["fit", s(&data), "-k", "3", "--max-iter", "-1"]),
        2,
        "--max-iter",
    );
    assert_fails(
        &gmm(&["fit", s(&data), "-k", "3", "--threads", "0"]),
        2,
        "--threads",
    );
    assert_fails(&gmm(&["fit", s(&data), "-k", "3", "--bogus"]), 2, "--bogus");
    assert_fails(&gmm(&["frobnicate"]), 2, "frobnicate");
    let help = gmm(&["fit", "--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Example:"));
}

#[test]
fn outputs_are_atomic_and_never_overwrite_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("x.npy");
    std::fs::copy(fixture_path("seed2d.npy"), &data).unwrap();
    let before = std::fs::read(&data).unwrap();
    assert_fails(
        &gmm(&["fit", s(&data), "-k", "3", "--out", s(&data)]),
        1,
        "over an input",
    );
    assert_eq!(std::fs::read(&data).unwrap(), before);
    // An existing output is replaced whole, and a failed run leaves it as it was.
    let out = dir.path().join("m.json");
    std::fs::write(&out, "previous").unwrap();
    assert_fails(
        &gmm(&["fit", s(&data), "-k", "3", "--tol", "-1", "--out", s(&out)]),
        1,
        "tol",
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous");
    let o = gmm(&["fit", s(&data), "-k", "3", "--out", s(&out), "--quiet"]);
    assert!(o.status.success());
    assert!(load_model(&out).is_ok());
    // Unwritable output directory: one line, exit 1.
    assert_fails(
        &gmm(&[
            "fit",
            s(&data),
            "-k",
            "3",
            "--out",
            "/nonexistent-dir/m.json",
            "--quiet",
        ]),
        1,
        "nonexistent-dir",
    );
    // No temporary files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn info_describes_mapped_and_converted_files() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.npy");
    write_npy(&f, &[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]).unwrap();
    let o = gmm(&["info", s(&f)]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    for needle in [
        "3 rows x 2 columns",
        "float64 ('<f8')",
        "little",
        "layout      C",
        "memory-mapped",
    ] {
        assert!(text.contains(needle), "{text} lacks {needle}");
    }
    let i = dir.path().join("i.npy");
    write_npy::<i64>(&i, &[1, 2, 3, 4], &[2, 2]).unwrap();
    let text = String::from_utf8(gmm(&["info", s(&i)]).stdout).unwrap();
    assert!(
        text.contains("copied into memory (int64 converted to float64)"),
        "{text}"
    );
    // Integer data fits like the same values as floats.
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    let fi = dir.path().join("fi.npy");
    let ints: Vec<i64> = (0..200).map(|v| (v * 37) % 23).collect();
    write_npy::<i64>(&fi, &ints, &[100, 2]).unwrap();
    let ff = dir.path().join("ff.npy");
    write_npy::<f64>(
        &ff,
        &ints.iter().map(|v| *v as f64).collect::<Vec<_>>(),
        &[100, 2],
    )
    .unwrap();
    assert!(
        gmm(&["fit", s(&fi), "-k", "2", "--out", s(&a), "--quiet"])
            .status
            .success()
    );
    assert!(
        gmm(&["fit", s(&ff), "-k", "2", "--out", s(&b), "--quiet"])
            .status
            .success()
    );
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_fails(&gmm(&["info", "/nonexistent.npy"]), 1, "nonexistent.npy");
}

#[test]
fn convert_turns_csv_into_npy_and_names_bad_cells() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("d.csv");
    std::fs::write(&csv, "x,y\n1,2\n3,4\n5,6\n").unwrap();
    let out = dir.path().join("d.npy");
    let o = gmm(&["convert", s(&csv), s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("3 rows x 2 columns"));
    let ds = Dataset::open(&out).unwrap();
    assert_eq!((ds.n_samples(), ds.n_features()), (3, 2));
    let tsv = dir.path().join("d.tsv");
    std::fs::write(&tsv, "1\t2\n3\toops\n").unwrap();
    let bad = dir.path().join("bad.npy");
    assert_fails(
        &gmm(&[
            "convert",
            s(&tsv),
            s(&bad),
            "--delimiter",
            "tab",
            "--no-header",
        ]),
        1,
        "line 2, column 2: 'oops'",
    );
    assert!(!bad.exists());
    assert_fails(&gmm(&["convert", s(&csv), s(&csv)]), 1, "over an input");
    assert_fails(
        &gmm(&["convert", s(&csv), s(&bad), "--delimiter", "ab"]),
        1,
        "one ASCII character",
    );
}

#[test]
fn a_directory_of_shards_fits_like_the_concatenated_file() {
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000;
    let d = 8;
    let x = gmm::Preset::Small.generate(Some(n), 21);
    let whole = dir.path().join("whole.npy");
    write_npy(&whole, &x, &[n, d]).unwrap();
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    // Name order, not creation order; a non-.npy file is ignored.
    for (name, lo, hi) in [
        ("part-2.npy", 12_345, n),
        ("part-0.npy", 0, 5_000),
        ("part-1.npy", 5_000, 12_345),
    ] {
        write_npy(&shards.join(name), &x[lo * d..hi * d], &[hi - lo, d]).unwrap();
    }
    std::fs::write(shards.join("README.txt"), "not data").unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    assert!(
        gmm(&[
            "fit",
            s(&whole),
            "-k",
            "4",
            "--max-iter",
            "10",
            "--out",
            s(&a),
            "--quiet"
        ])
        .status
        .success()
    );
    let o = gmm(&[
        "fit",
        s(&shards),
        "-k",
        "4",
        "--max-iter",
        "10",
        "--out",
        s(&b),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let text = String::from_utf8(gmm(&["info", s(&shards)]).stdout).unwrap();
    assert!(
        text.contains("3 shards") && text.contains("20000 rows x 8 columns"),
        "{text}"
    );
    // Shards that disagree, and an empty directory.
    write_npy(&shards.join("part-3.npy"), &[1.0f64; 6], &[2, 3]).unwrap();
    assert_fails(
        &gmm(&["fit", s(&shards), "-k", "4", "--out", s(&b)]),
        1,
        "same width and dtype",
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_fails(
        &gmm(&["fit", s(&empty), "-k", "1", "--out", s(&b)]),
        1,
        "no .npy files",
    );
}

#[test]
fn sample_weights_count_rows_and_bad_weights_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (x, d) = problem(41, 600);
    let n = 600;
    let counts: Vec<i64> = (0..n as i64).map(|i| (i * 5) % 3).collect();
    let mut repeated = Vec::new();
    for (row, c) in x.chunks_exact(d).zip(&counts) {
        for _ in 0..*c {
            repeated.extend_from_slice(row);
        }
    }
    let data = dir.path().join("x.npy");
    let rep = dir.path().join("rep.npy");
    let w = dir.path().join("w.npy");
    write_npy(&data, &x, &[n, d]).unwrap();
    write_npy(&rep, &repeated, &[repeated.len() / d, d]).unwrap();
    // Integer dtype, converted to f64 on reading.
    write_npy(&w, &counts, &[n]).unwrap();
    let init = dir.path().join("init.json");
    let start = crate::weights::unit_model(gmm::CovarianceType::Diag, x[..3 * d].to_vec(), 3, d);
    gmm::io::save_model(&init, &start).unwrap();
    let fit = |data: &Path, extra: &[&str], out: &Path| {
        let mut args = vec![
            "fit",
            s(data),
            "-k",
            "3",
            "--init",
            s(&init),
            "--tol",
            "0",
            "--max-iter",
            "25",
            "--quiet",
            "--out",
            s(out),
        ];
        args.extend_from_slice(extra);
        gmm(&args)
    };
    let (mw, mr) = (dir.path().join("mw.json"), dir.path().join("mr.json"));
    let o = fit(&data, &["--sample-weight", s(&w)], &mw);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(fit(&rep, &[], &mr).status.success());
    let (a, b) = (load_model(&mw).unwrap(), load_model(&mr).unwrap());
    assert_eq!(a.covariance_type(), gmm::CovarianceType::Diag);
    assert!(max_rel_err(a.means(), b.means(), 1e-3) < 1e-10);
    assert!(max_rel_err(a.covariances(), b.covariances(), 1e-3) < 1e-10);
    assert!(max_rel_err(a.weights(), b.weights(), 1e-3) < 1e-10);
    // Bad weights: one line, exit 1, no model written.
    let out = dir.path().join("never.json");
    let bad = dir.path().join("bad.npy");
    let mut neg = vec![1.0f64; n];
    neg[4] = -2.0;
    for (values, shape, needle) in [
        (neg, vec![n], "row 4 is -2"),
        (vec![1.0; n - 1], vec![n - 1], "599 weights for 600 rows"),
        (vec![0.0; n], vec![n], "all weights are zero"),
        (vec![1.0; 2 * n], vec![n, 2], "2 columns"),
    ] {
        write_npy(&bad, &values, &shape).unwrap();
        assert_fails(&fit(&data, &["--sample-weight", s(&bad)], &out), 1, needle);
        assert!(!out.exists());
    }
    let missing = dir.path().join("missing.npy");
    assert_fails(
        &fit(&data, &["--sample-weight", s(&missing)], &out),
        1,
        "--sample-weight",
    );
    // --covariance that contradicts the --init file is refused.
    assert_fails(
        &fit(&data, &["--covariance", "full"], &out),
        1,
        "covariance type 'diag'",
    );
    assert!(!out.exists());
}

#[test]
fn select_prints_a_table_marks_the_best_and_writes_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("x.npy");
    let x = gmm::Preset::Seed2d.generate(Some(4000), 6);
    write_npy(&data, &x, &[4000, 2]).unwrap();
    let best = dir.path().join("best.json");
    let report = dir.path().join("sel.json");
    let o = gmm(&[
        "select",
        s(&data),
        "--components",
        "1..4",
        "--covariance",
        "full,spherical",
        "--out",
        s(&best),
        "--report",
        s(&report),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stderr.is_empty());
    let table = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 1 + 8 + 1, "{table}");
    assert!(lines[0].contains("BIC") && lines[0].contains("AIC"));
    let marked: Vec<&&str> = lines.iter().filter(|l| l.starts_with(" *")).collect();
    assert_eq!(marked.len(), 1, "{table}");
    assert!(marked[0].contains(" 3  spherical"), "{table}");
    assert_eq!(lines[9], "best by BIC: K = 3, covariance spherical");
    let m = load_model(&best).unwrap();
    assert_eq!(m.n_components(), 3);
    assert_eq!(m.covariance_type(), gmm::CovarianceType::Spherical);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["candidates"].as_array().unwrap().len(), 8);
    assert_eq!(r["criterion"], "bic");
    assert_eq!(r["best"], 5);
    // Bad requests: one line, exit 1, nothing written.
    let never = dir.path().join("never.json");
    for (args, needle) in [
        (vec!["--components", "5..2"], "empty range"),
        (vec!["--components", "a,b"], "not a range"),
        (vec!["--components", "0..3"], "includes 0"),
        (vec!["--covariance", "full,round"], "covariance_type"),
        (vec!["--criterion", "mdl"], "criterion"),
        (vec!["--init", s(&best)], "must be a method"),
    ] {
        let mut full = vec!["select", s(&data), "--out", s(&never)];
        full.extend(args);
        assert_fails(&gmm(&full), 1, needle);
        assert!(!never.exists());
    }
}

#[test]
fn predict_score_and_sample_agree_with_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture_path("aniso5d.npy");
    let model_path = fixture_path("aniso5d.diag.init.json");
    let model = load_model(&model_path).unwrap();
    let (x, n, d) = load_data("aniso5d");
    let view = gmm::DataView::new(&x, n, d).unwrap();
    // Labels (int64) and responsibilities (float64 N x K).
    let labels = dir.path().join("labels.npy");
    let proba = dir.path().join("proba.npy");
    let o = gmm(&["predict", s(&model_path), s(&data), "--out", s(&labels)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ds = Dataset::open(&labels).unwrap();
    assert_eq!(ds.info().source_dtype, "int64");
    assert_eq!(ds.info().shape, vec![n]);
    let got: Vec<usize> = match ds.view() {
        gmm::io::DatasetView::F64(v) => v.as_slice().iter().map(|l| *l as usize).collect(),
        _ => unreachable!(),
    };
    assert_eq!(got, model.predict(view).unwrap());
    let o = gmm(&[
        "predict",
        s(&model_path),
        s(&data),
        "--proba",
        "--out",
        s(&proba),
        "--threads",
        "1",
    ]);
    assert!(o.status.success());
    let ds = Dataset::open(&proba).unwrap();
    assert_eq!((ds.n_samples(), ds.n_features()), (n, model.n_components()));
    match ds.view() {
        gmm::io::DatasetView::F64(v) => {
            assert_eq!(v.as_slice(), model.predict_proba(view).unwrap().as_slice())
        }
        _ => unreachable!(),
    }
    // Score: a number, or JSON with BIC and AIC.
    let o = gmm(&["score", s(&model_path), s(&data)]);
    assert!(o.status.success());
    let mean: f64 = String::from_utf8(o.stdout).unwrap().trim().parse().unwrap();
    assert_eq!(mean, model.score(view).unwrap());
    let o = gmm(&["score", s(&model_path), s(&data), "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["n_samples"], n);
    assert!(
        (j["bic"].as_f64().unwrap() - model.bic(view).unwrap()).abs()
            < 1e-9 * j["bic"].as_f64().unwrap().abs()
    );
    assert!(
        (j["aic"].as_f64().unwrap() - model.aic(view).unwrap()).abs()
            < 1e-9 * j["aic"].as_f64().unwrap().abs()
    );
    assert_eq!(j["mean_log_likelihood"].as_f64().unwrap(), mean);
    // Sample: seeded, rows and labels as the library draws them.
    let xs = dir.path().join("xs.npy");
    let zs = dir.path().join("zs.npy");
    let o = gmm(&[
        "sample",
        s(&model_path),
        "--n",
        "500",
        "--seed",
        "9",
        "--out",
        s(&xs),
        "--labels",
        s(&zs),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (want_x, want_z) = model.sample(500, 9);
    match Dataset::open(&xs).unwrap().view() {
        gmm::io::DatasetView::F64(v) => {
            assert_eq!((v.n_samples(), v.n_features()), (500, d));
            assert_eq!(v.as_slice(), want_x.as_slice());
        }
        _ => unreachable!(),
    }
    assert_eq!(Dataset::open(&zs).unwrap().n_samples(), want_z.len());
    // Bad input: one line, exit 1, nothing written.
    let never = dir.path().join("never.npy");
    let wrong = fixture_path("seed2d.npy");
    assert_fails(
        &gmm(&["predict", s(&model_path), s(&wrong), "--out", s(&never)]),
        1,
        "n_features",
    );
    assert_fails(
        &gmm(&["score", s(&data), s(&data)]),
        1,
        "cannot use the model",
    );
    assert_fails(
        &gmm(&["sample", s(&model_path), "--n", "0", "--out", s(&never)]),
        1,
        "--n must be at least 1",
    );
    assert_fails(
        &gmm(&["predict", s(&model_path), s(&data), "--out", s(&data)]),
        1,
        "over an input",
    );
    assert!(!never.exists());
}

#[test]
fn ctrl_c_stops_the_fit_and_still_writes_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("x.npy");
    let n = 200_000;
    let x = gmm::Preset::Small.generate(Some(n), 1);
    write_npy(&data, &x, &[n, 8]).unwrap();
    let out = dir.path().join("m.json");
    let report = dir.path().join("r.json");
    let child = Command::new(env!("CARGO_BIN_EXE_gmm"))
        .args([
            "fit",
            s(&data),
            "-k",
            "4",
            "--init",
            "random-from-data",
            "--tol",
            "0",
            "--max-iter",
            "1000000",
            "--out",
            s(&out),
            "--report",
            s(&report),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let it start iterating, then interrupt it as a terminal would.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: wrote the best model so far"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(json["converged"], false);
    let n_iter = json["n_iter"].as_u64().unwrap();
    assert!((1..1_000_000).contains(&n_iter));
    let m = load_model(&out).unwrap();
    assert_eq!(m.n_components(), 4);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["stopped"], true);
    assert_eq!(r["n_iter"].as_u64(), Some(n_iter));
}

/// Decodes a PNG and returns (width, height, number of distinct colours).
fn decode_png(path: &Path) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = &buf[..info.buffer_size()];
    let step = info.color_type.samples();
    let colours: std::collections::HashSet<&[u8]> = px.chunks_exact(step).collect();
    (info.width, info.height, colours.len())
}

#[test]
fn plot_fit_select_and_demo_draw_pictures_that_decode() {
    let dir = tempfile::tempdir().unwrap();
    // demo: the README's main command, on fewer points.
    let out_dir = dir.path().join("demo");
    let o = gmm(&["demo", "--out-dir", s(&out_dir), "--n", "30000"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert!(
        stdout.contains("w true") && stdout.contains("w fit"),
        "{stdout}"
    );
    let model = out_dir.join("model.json");
    assert_eq!(load_model(&model).unwrap().n_components(), 3);
    let (w, h, colours) = decode_png(&out_dir.join("fit.png"));
    assert_eq!((w, h), (1500, 700));
    assert!(colours > 50, "a picture, not a blank: {colours} colours");
    // plot: PNG and SVG of a model over 5-D data (PCA projection).
    let data = fixture_path("aniso5d.npy");
    let m5 = fixture_path("aniso5d.init.json");
    let png_out = dir.path().join("p.png");
    let svg_out = dir.path().join("p.svg");
    assert!(
        gmm(&["plot", s(&m5), s(&data), "--out", s(&png_out)])
            .status
            .success()
    );
    let (w, h, colours) = decode_png(&png_out);
    assert_eq!((w, h), (900, 750));
    assert!(colours > 50);
    assert!(
        gmm(&[
            "plot",
            s(&m5),
            s(&data),
            "--out",
            s(&svg_out),
            "--max-points",
            "300"
        ])
        .status
        .success()
    );
    let svg = std::fs::read_to_string(&svg_out).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(
        svg.contains("PCA projection"),
        "the picture says it is projected"
    );
    assert!(svg.matches("<circle").count() >= 300);
    // fit --plot and select --plot.
    let seed = fixture_path("seed2d.npy");
    let fit_png = dir.path().join("fit.png");
    let o = gmm(&[
        "fit",
        s(&seed),
        "-k",
        "3",
        "--quiet",
        "--out",
        s(&dir.path().join("m.json")),
        "--plot",
        s(&fit_png),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(decode_png(&fit_png).0, 1500);
    let sel_svg = dir.path().join("sel.svg");
    let o = gmm(&[
        "select",
        s(&seed),
        "-k",
        "1..3",
        "--covariance",
        "full,diag",
        "--quiet",
        "--plot",
        s(&sel_svg),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read_to_string(&sel_svg)
            .unwrap()
            .contains("BIC against K")
    );
    // Bad requests: one line, exit 1, nothing written.
    let bad = dir.path().join("p.jpg");
    assert_fails(
        &gmm(&["plot", s(&m5), s(&data), "--out", s(&bad)]),
        1,
        "name it .png or .svg",
    );
    assert_fails(
        &gmm(&[
            "fit",
            s(&seed),
            "-k",
            "2",
            "--plot",
            s(&bad),
            "--out",
            s(&dir.path().join("x.json")),
        ]),
        1,
        "name it .png or .svg",
    );
    assert!(!dir.path().join("x.json").exists());
    assert_fails(
        &gmm(&["plot", s(&m5), s(&seed), "--out", s(&png_out)]),
        1,
        "columns",
    );
    let one = dir.path().join("one.npy");
    write_npy(&one, &[1.0, 2.0, 3.0], &[3, 1]).unwrap();
    let m1 = dir.path().join("m1.json");
    std::fs::write(
        &m1,
        r#"{"weights": [1.0], "means": [[0.0]], "covariances": [[[1.0]]]}"#,
    )
    .unwrap();
    assert_fails(
        &gmm(&[
            "plot",
            s(&m1),
            s(&one),
            "--out",
            s(&dir.path().join("q.png")),
        ]),
        1,
        "at least 2 features",
    );
    assert!(!bad.exists() && !dir.path().join("q.png").exists());
}

#[test]
fn generate_writes_each_workload_seeded() {
    let dir = tempfile::tempdir().unwrap();
    for preset in ["seed2d", "small", "mid", "wide", "tall"] {
        let (a, b, c) = (
            dir.path().join(format!("{preset}.a.npy")),
            dir.path().join(format!("{preset}.b.npy")),
            dir.path().join(format!("{preset}.c.npy")),
        );
        for (path, seed) in [(&a, "1"), (&b, "1"), (&c, "2")] {
            let o = gmm(&[
                "generate",
                "--preset",
                preset,
                "--n",
                "500",
                "--seed",
                seed,
                "--out",
                s(path),
            ]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let p: gmm::Preset = preset.parse().unwrap();
        let ds = Dataset::open(&a).unwrap();
        assert_eq!(
            (ds.n_samples(), ds.n_features()),
            (500, p.shape().1),
            "{preset}"
        );
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{preset}: same seed"
        );
        assert_ne!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&c).unwrap(),
            "{preset}: seeds differ"
        );
    }
    let out = dir.path().join("never.npy");
    assert_fails(
        &gmm(&["generate", "--preset", "huge", "--out", s(&out)]),
        1,
        "huge",
    );
    assert_fails(
        &gmm(&[
            "generate",
            "--preset",
            "small",
            "--n",
            "0",
            "--out",
            s(&out),
        ]),
        1,
        "--n",
    );
    assert!(!out.exists());
}
