//! Instruction counts of one EM iteration (fused E-step + M-step from the fixed
//! initial state of docs/design.md, full covariance, f64) under Valgrind's
//! Callgrind: a regression check that does not depend on how busy the machine
//! is. Three shapes, scaled down so that a run takes seconds under Valgrind:
//! `small` (D = 8, K = 4), `seed2d` (D = 2, K = 3: the register-resident path
//! for D <= 4) and `mid` (D = 16, K = 16: the tiled path).
//!
//! Needs valgrind and the runner of the same version as the iai-callgrind
//! dev-dependency:
//!
//! ```text
//! cargo install iai-callgrind-runner --version 0.16.1 --locked
//! cargo bench --bench iai -- --save-baseline=main     # record
//! cargo bench --bench iai -- --baseline=main          # compare with it
//! ```
//!
//! The work runs on a one-thread rayon pool whose worker is the benchmark's own
//! thread (built during setup), so every instruction is counted and the counts
//! do not depend on scheduling. Under Valgrind the CPU reports no AVX-512,
//! so the AVX2 kernels are measured (they give the same bits).

use std::hint::black_box;

use gmm::{DataView, GaussianMixture, Preset, SufficientStats, fixed_init};
use iai_callgrind::{library_benchmark, library_benchmark_group, main};

/// Data, the fixed initial model and a one-thread pool.
struct Input {
    x: Vec<f64>,
    n: usize,
    d: usize,
    model: GaussianMixture,
    pool: rayon::ThreadPool,
}

fn workload(preset: Preset, n: usize) -> Input {
    let (_, d, k) = preset.shape();
    let x = preset.generate(Some(n), 0);
    let model = fixed_init(DataView::new(&x, n, d).unwrap(), k).unwrap();
    // The benchmark's own thread is the pool's only worker: Callgrind counts
    // the thread that calls the benchmark function.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .use_current_thread()
        .build()
        .unwrap();
    Input {
        x,
        n,
        d,
        model,
        pool,
    }
}

#[library_benchmark]
#[bench::small(workload(Preset::Small, 16_384))]
#[bench::seed2d(workload(Preset::Seed2d, 16_384))]
#[bench::mid(workload(Preset::Mid, 4_096))]
fn em_iteration(input: Input) -> GaussianMixture {
    let Input {
        x,
        n,
        d,
        model,
        pool,
    } = &input;
    pool.install(|| {
        let data = DataView::new(x, *n, *d).unwrap();
        let stats = SufficientStats::compute(model, data).unwrap();
        black_box(model.m_step(&stats, 1e-6, 1).unwrap())
    })
}

library_benchmark_group!(name = em; benchmarks = em_iteration);

main!(library_benchmark_groups = em);
