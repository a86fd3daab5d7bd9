//! Helpers shared by the integration tests.

use std::path::PathBuf;

use gmm::io::{Dataset, DatasetView};
use gmm::{CovarianceType, GaussianMixture, Preset};
use serde_json::Value;

pub const FIXTURES: [&str; 3] = ["seed2d", "aniso5d", "overlap3d"];

/// The fixture file stem of `name` fitted with `covariance_type`
/// (`seed2d` for full, `seed2d.diag` for diag...).
pub fn stem(name: &str, covariance_type: CovarianceType) -> String {
    match covariance_type {
        CovarianceType::Full => name.to_string(),
        other => format!("{name}.{other}"),
    }
}

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/fixtures")
        .join(name)
}

pub fn load_data(name: &str) -> (Vec<f64>, usize, usize) {
    let ds = Dataset::open(&fixture_path(&format!("{name}.npy"))).unwrap();
    match ds.view() {
        DatasetView::F64(v) => (v.as_slice().to_vec(), v.n_samples(), v.n_features()),
        _ => panic!("fixtures are f64, row-major"),
    }
}

pub fn load_expected(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_path(&format!("{name}.expected.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not numeric: {other}"),
    }
}

/// Max over elements of |a - b| / max(|b|, floor): relative error with a floor
/// for entries that are (near) zero, where relative error is meaningless.
pub fn max_rel_err(a: &[f64], b: &[f64], floor: f64) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(floor))
        .fold(0.0, f64::max)
}

/// A random well-posed problem: `n` rows of a `k`-component mixture in `d` dims.
pub fn problem(seed: u64, n: usize) -> (Vec<f64>, usize) {
    let d = Preset::Small.shape().1;
    (Preset::Small.generate(Some(n), seed), d)
}

pub fn model(k: usize, d: usize) -> GaussianMixture {
    let mut cov = vec![0.0; k * d * d];
    for c in 0..k {
        for i in 0..d {
            cov[c * d * d + i * d + i] = 1.0;
        }
    }
    GaussianMixture::from_parameters(
        CovarianceType::Full,
        k,
        d,
        vec![1.0 / k as f64; k],
        (0..k * d).map(|i| i as f64).collect(),
        cov,
    )
    .unwrap()
}

/// `f` run in a pool of `threads` rayon workers.
pub fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}
