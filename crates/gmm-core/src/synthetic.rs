//! The benchmark workloads of the design (seeded synthetic mixtures) and the
//! fixed initial state every engine is timed from.
//!
//! | preset | N | D | K |
//! |---|---|---|---|
//! | `small` | 100,000 | 8 | 4 |
//! | `seed2d` | 1,000,000 | 2 | 3 |
//! | `mid` | 1,000,000 | 16 | 16 |
//! | `wide` | 200,000 | 64 | 8 |
//! | `tall` | 10,000,000 | 4 | 8 |
//!
//! `seed2d` is the seeds' data: 60% `N(0, 4I)`, 30% `N((5,5), I)`, 10%
//! `N((0,5), 0.25 I)`. The others: `K` means uniform in `[-10, 10]^D`,
//! covariances `A A^T / D + 0.1 I` with `A` standard normal, weights
//! Dirichlet(5). Each row draws its component independently, so rows are not
//! grouped by component.

use std::fmt;
use std::str::FromStr;

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Gamma, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::blocks::derive_seed;
use crate::covariance::{CovarianceType, cholesky_lower};
use crate::data::DataView;
use crate::error::{Error, Result};
use crate::model::GaussianMixture;

/// A named workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// 100,000 x 8, K = 4.
    Small,
    /// 1,000,000 x 2, K = 3: the seeds' three clusters.
    Seed2d,
    /// 1,000,000 x 16, K = 16.
    Mid,
    /// 200,000 x 64, K = 8.
    Wide,
    /// 10,000,000 x 4, K = 8.
    Tall,
}

impl Preset {
    /// All presets.
    pub const ALL: [Preset; 5] = [
        Preset::Small,
        Preset::Seed2d,
        Preset::Mid,
        Preset::Wide,
        Preset::Tall,
    ];

    /// `(N, D, K)` of the workload.
    pub fn shape(self) -> (usize, usize, usize) {
        match self {
            Preset::Small => (100_000, 8, 4),
            Preset::Seed2d => (1_000_000, 2, 3),
            Preset::Mid => (1_000_000, 16, 16),
            Preset::Wide => (200_000, 64, 8),
            Preset::Tall => (10_000_000, 4, 8),
        }
    }

    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Small => "small",
            Preset::Seed2d => "seed2d",
            Preset::Mid => "mid",
            Preset::Wide => "wide",
            Preset::Tall => "tall",
        }
    }

    /// The true mixture the workload is drawn from.
    pub fn truth(self, seed: u64) -> GaussianMixture {
        let (_, d, k) = self.shape();
        if self == Preset::Seed2d {
            return GaussianMixture::from_parameters(
                CovarianceType::Full,
                3,
                2,
                vec![0.6, 0.3, 0.1],
                vec![0.0, 0.0, 5.0, 5.0, 0.0, 5.0],
                vec![4.0, 0.0, 0.0, 4.0, 1.0, 0.0, 0.0, 1.0, 0.25, 0.0, 0.0, 0.25],
            )
            .expect("the seed2d mixture is valid");
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive_seed(seed, u64::MAX));
        let means: Vec<f64> = (0..k * d).map(|_| rng.random_range(-10.0..10.0)).collect();
        let mut covariances = vec![0.0; k * d * d];
        for c in 0..k {
            let a: Vec<f64> = (0..d * d)
                .map(|_| StandardNormal.sample(&mut rng))
                .collect();
            let cov = &mut covariances[c * d * d..(c + 1) * d * d];
            for i in 0..d {
                for j in 0..d {
                    let dot: f64 = (0..d).map(|m| a[i * d + m] * a[j * d + m]).sum();
                    cov[i * d + j] = dot / d as f64 + if i == j { 0.1 } else { 0.0 };
                }
            }
        }
        let gamma = Gamma::new(5.0, 1.0).expect("valid gamma");
        let g: Vec<f64> = (0..k).map(|_| gamma.sample(&mut rng)).collect();
        let total: f64 = g.iter().sum();
        let weights = g.iter().map(|x| x / total).collect();
        GaussianMixture::from_parameters(CovarianceType::Full, k, d, weights, means, covariances)
            .expect("generated mixtures are valid")
    }

    /// Generates `n` rows (default: the preset's N), row-major, seeded.
    /// Parallel and deterministic: row `i` depends only on `seed` and `i / 4096`.
    pub fn generate(self, n: Option<usize>, seed: u64) -> Vec<f64> {
        let (default_n, d, _) = self.shape();
        let n = n.unwrap_or(default_n);
        let mut x = Vec::with_capacity(n * d);
        let r: Result<(), std::convert::Infallible> = self.generate_streamed(n, seed, |rows| {
            x.extend_from_slice(rows);
            Ok(())
        });
        let Ok(()) = r;
        x
    }

    /// [`Preset::generate`] of `n` rows handed to `sink` in pieces of at most
    /// 262,144 rows, in order: the same values for any `n`, with memory for
    /// one piece. An error from `sink` stops the generation and is returned.
    pub fn generate_streamed<E>(
        self,
        n: usize,
        seed: u64,
        mut sink: impl FnMut(&[f64]) -> Result<(), E>,
    ) -> Result<(), E> {
        const ROWS: usize = 4096;
        const PIECE_BLOCKS: usize = 64;
        let (_, d, _) = self.shape();
        let truth = self.truth(seed);
        let k = truth.n_components();
        let factors: Vec<Vec<f64>> = (0..k)
            .map(|c| cholesky_lower(&truth.covariance_matrix(c), d).expect("positive definite"))
            .collect();
        let mut cumulative = Vec::with_capacity(k);
        let mut acc = 0.0;
        for w in truth.weights() {
            acc += w;
            cumulative.push(acc);
        }
        let n_blocks = n.div_ceil(ROWS);
        let mut x = Vec::new();
        let mut first = 0;
        while first < n_blocks {
            let last = (first + PIECE_BLOCKS).min(n_blocks);
            let rows = (last * ROWS).min(n) - first * ROWS;
            x.clear();
            x.resize(rows * d, 0.0);
            x.par_chunks_mut(ROWS * d).enumerate().for_each(|(i, out)| {
                let b = first + i;
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive_seed(seed, b as u64));
                let mut z = vec![0.0; d];
                for row in out.chunks_exact_mut(d) {
                    let u: f64 = rng.random::<f64>() * acc;
                    let c = cumulative.iter().position(|&p| u < p).unwrap_or(k - 1);
                    for v in z.iter_mut() {
                        *v = StandardNormal.sample(&mut rng);
                    }
                    let l = &factors[c];
                    let mu = truth.mean(c);
                    for i in 0..d {
                        let lz: f64 = (0..=i).map(|j| l[i * d + j] * z[j]).sum();
                        row[i] = mu[i] + lz;
                    }
                }
            });
            sink(&x)?;
            first = last;
        }
        Ok(())
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "preset",
                    format!("'{s}'"),
                    "one of small, seed2d, mid, wide, tall",
                )
            })
    }
}

/// The fixed initial state of the benchmarks: means at rows
/// `i * floor(N / K)` for `i = 0..K`, identity covariances, equal weights.
pub fn fixed_init(data: DataView<'_, f64>, k: usize) -> Result<GaussianMixture> {
    let (n, d) = (data.n_samples(), data.n_features());
    if k == 0 || k > n {
        return Err(Error::invalid(
            "n_components",
            k,
            "between 1 and the number of rows",
        ));
    }
    let step = n / k;
    let means: Vec<f64> = (0..k).flat_map(|i| data.row(i * step).to_vec()).collect();
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
        means,
        cov,
    )
}
