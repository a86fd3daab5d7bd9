//! `gmm fit`: parity, determinism, progress, bad input.

use gmm::io::{load_model, write_npy};

use super::{assert_fails, gmm, s};
use crate::common::*;

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
        2,
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
