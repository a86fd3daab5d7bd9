//! Data and outputs: atomic writes, info, convert, shards, sample weights.

use std::path::Path;

use gmm::io::{Dataset, load_model, write_npy};

use super::{assert_fails, gmm, s};
use crate::common::*;

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
        2,
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
        "holds no .npy, .arrow, .feather or .parquet files",
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
