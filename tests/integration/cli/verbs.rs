//! The other verbs: select, predict/score/sample, Ctrl-C, pictures, generate.

use std::path::Path;
use std::process::Command;

use gmm::io::{Dataset, load_model, write_npy};

use super::{assert_fails, gmm, s};
use crate::common::*;

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
    // Bad requests: one line, exit 2 for a bad flag value (usage), 1 for
    // an init that cannot serve, nothing written.
    let never = dir.path().join("never.json");
    for (args, needle, code) in [
        (vec!["--components", "5..2"], "empty range", 2),
        (vec!["--components", "a,b"], "not a range", 2),
        (vec!["--components", "0..3"], "includes 0", 2),
        (vec!["--covariance", "full,round"], "covariance_type", 2),
        (vec!["--criterion", "mdl"], "criterion", 2),
        (vec!["--init", s(&best)], "must be a method", 1),
    ] {
        let mut full = vec!["select", s(&data), "--out", s(&never)];
        full.extend(args);
        assert_fails(&gmm(&full), code, needle);
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
        "the data has 2 columns but the model was fitted on 5",
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
        2,
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
