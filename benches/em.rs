//! One EM iteration on the `small` workload of DESIGN.md (100,000 x 8, K = 4,
//! full covariance, from the fixed initial state): the fast path (one fused
//! parallel pass + M-step) against the naive reference (the seed algorithm).
//!
//! Run: `cargo bench --bench em` (add `-- --save-baseline NAME` /
//! `-- --baseline NAME` to track regressions).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gmm::reference::ReferenceModel;
use gmm::{DataView, Preset, SufficientStats, fixed_init};

fn em_iteration(c: &mut Criterion) {
    let preset = Preset::Small;
    let (n, d, k) = preset.shape();
    let x = preset.generate(None, 0);
    let data = DataView::new(&x, n, d).unwrap();
    let init = fixed_init(data, k).unwrap();
    let naive = ReferenceModel::from(&init);

    let mut group = c.benchmark_group(format!("em_iteration/{preset}"));
    group.sample_size(20);
    group.bench_function("fast", |b| {
        b.iter(|| {
            let stats = SufficientStats::compute(&init, black_box(data)).unwrap();
            black_box(init.m_step(&stats, 1e-6, 1).unwrap())
        })
    });
    group.bench_function("naive_reference", |b| {
        b.iter(|| black_box(naive.step(black_box(data), 1e-6)))
    });
    group.finish();
}

criterion_group!(benches, em_iteration);
criterion_main!(benches);
