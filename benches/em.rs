//! Criterion benchmarks for regression tracking:
//!
//! - `em_iteration/<workload>`: one EM iteration (fused E-step pass + M-step)
//!   from the fixed initial state, full covariance, for every workload of
//!   docs/design.md with N scaled down so criterion can take many samples; on
//!   `small`, also the naive reference (the seed algorithm) as the baseline;
//! - `em_iteration_types/<type>`: the same on `small` for each covariance type;
//! - `steps/<workload>/e_step`: the E-step pass alone (log-densities, responsibilities,
//!   statistics);
//! - `steps/<workload>/m_step`: the M-step alone (new parameters and the Cholesky
//!   factor of every covariance);
//! - `init/<method>/K=<k>`: the initialisation alone (`max_iter(0)`) on 200,000
//!   seed2d rows: k-means++ seeding and the k-means default (seeding + Lloyd)
//!   at K = 8, 64, 400.
//!
//! ```text
//! cargo bench --bench em                              # everything
//! cargo bench --bench em -- em_iteration/small        # a filter
//! cargo bench --bench em -- --save-baseline main      # record a baseline
//! cargo bench --bench em -- --baseline main           # compare against it
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gmm::reference::ReferenceModel;
use gmm::{
    CovarianceType, DataView, GaussianMixture, GaussianMixtureParams, Init, Preset,
    SufficientStats, fixed_init,
};

/// Rows used per workload: small at full size, the others scaled down.
fn rows(preset: Preset) -> usize {
    match preset {
        Preset::Small => 100_000,
        Preset::Seed2d => 200_000,
        Preset::Mid => 50_000,
        Preset::Wide => 20_000,
        Preset::Tall => 500_000,
    }
}

const WORKLOADS: [Preset; 5] = [
    Preset::Small,
    Preset::Seed2d,
    Preset::Mid,
    Preset::Wide,
    Preset::Tall,
];

fn setup(preset: Preset) -> (Vec<f64>, usize, usize, usize) {
    let (_, d, k) = preset.shape();
    let n = rows(preset);
    (preset.generate(Some(n), 0), n, d, k)
}

/// The fixed initial state converted to another covariance type.
fn init_of(ct: CovarianceType, full: &GaussianMixture) -> GaussianMixture {
    let (k, d) = (full.n_components(), full.n_features());
    let cov = match ct {
        CovarianceType::Full => full.covariances().to_vec(),
        CovarianceType::Tied => full.covariance_matrix(0),
        CovarianceType::Diag => (0..k)
            .flat_map(|c| {
                let m = full.covariance_matrix(c);
                (0..d).map(move |j| m[j * d + j])
            })
            .collect(),
        _ => (0..k).map(|c| full.covariance_matrix(c)[0]).collect(),
    };
    GaussianMixture::from_parameters(
        ct,
        k,
        d,
        full.weights().to_vec(),
        full.means().to_vec(),
        cov,
    )
    .unwrap()
}

fn em_iteration(c: &mut Criterion) {
    for preset in WORKLOADS {
        let (x, n, d, k) = setup(preset);
        let data = DataView::new(&x, n, d).unwrap();
        let init = fixed_init(data, k).unwrap();
        let mut group = c.benchmark_group(format!("em_iteration/{preset}"));
        group.sample_size(10);
        group.bench_function("fast", |b| {
            b.iter(|| {
                let stats = SufficientStats::compute(&init, black_box(data)).unwrap();
                black_box(init.m_step(&stats, 1e-6, 1).unwrap())
            })
        });
        if preset == Preset::Small {
            let naive = ReferenceModel::from(&init);
            group.bench_function("naive_reference", |b| {
                b.iter(|| black_box(naive.step(black_box(data), 1e-6)))
            });
        }
        group.finish();
    }
}

fn em_iteration_types(c: &mut Criterion) {
    let (x, n, d, k) = setup(Preset::Small);
    let data = DataView::new(&x, n, d).unwrap();
    let full = fixed_init(data, k).unwrap();
    let mut group = c.benchmark_group("em_iteration_types/small");
    group.sample_size(10);
    for ct in CovarianceType::ALL {
        let init = init_of(ct, &full);
        group.bench_function(ct.as_str(), |b| {
            b.iter(|| {
                let stats = SufficientStats::compute(&init, black_box(data)).unwrap();
                black_box(init.m_step(&stats, 1e-6, 1).unwrap())
            })
        });
    }
    group.finish();
}

fn e_and_m_steps(c: &mut Criterion) {
    for preset in WORKLOADS {
        let (x, n, d, k) = setup(preset);
        let data = DataView::new(&x, n, d).unwrap();
        let init = fixed_init(data, k).unwrap();
        let stats = SufficientStats::compute(&init, data).unwrap();
        let mut group = c.benchmark_group(format!("steps/{preset}"));
        group.sample_size(10);
        group.bench_function("e_step", |b| {
            b.iter(|| black_box(SufficientStats::compute(&init, black_box(data)).unwrap()))
        });
        group.bench_function("m_step", |b| {
            b.iter(|| black_box(init.m_step(black_box(&stats), 1e-6, 1).unwrap()))
        });
        group.finish();
    }
}

fn initialisation(c: &mut Criterion) {
    let (x, n, d, _) = setup(Preset::Seed2d);
    let data = DataView::new(&x, n, d).unwrap();
    for (name, init) in [
        ("k-means++", Init::KMeansPlusPlus),
        ("kmeans", Init::KMeans),
    ] {
        let mut group = c.benchmark_group(format!("init/{name}"));
        group.sample_size(10);
        for k in [8, 64, 400] {
            let params = GaussianMixtureParams::new(k).init(init.clone()).max_iter(0);
            group.bench_function(format!("K={k}"), |b| {
                b.iter(|| black_box(params.fit(black_box(data)).unwrap()))
            });
        }
        group.finish();
    }
}

criterion_group!(
    benches,
    em_iteration,
    em_iteration_types,
    e_and_m_steps,
    initialisation
);
criterion_main!(benches);
