//! The naive reference against the fast path, per workload of docs/design.md:
//! seconds per EM iteration (one E-step + M-step from the fixed initial state,
//! full covariance, f64, all cores for the fast path), speed-up, and the
//! difference of the lower bounds the two compute for that iteration.
//!
//! ```text
//! cargo bench --bench compare                        # all workloads, full size
//! cargo bench --bench compare -- --scale 0.1         # N scaled down
//! cargo bench --bench compare -- --only mid,tall     # some workloads
//! ```
//!
//! Times are medians of repeated runs measured in the same process, so the
//! ratio is meaningful on a noisy machine even when the absolute figures move.

use std::hint::black_box;
use std::time::Instant;

use gmm::reference::ReferenceModel;
use gmm::{DataView, Preset, SufficientStats, fixed_init};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<R>(reps: usize, mut f: impl FnMut() -> R) -> f64 {
    let mut secs = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        black_box(f());
        secs.push(t.elapsed().as_secs_f64());
    }
    median(secs)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let scale: f64 = value("--scale")
        .map(|s| s.parse().expect("--scale takes a number such as 0.1"))
        .unwrap_or(1.0);
    let only: Option<Vec<String>> =
        value("--only").map(|s| s.split(',').map(str::to_string).collect());
    println!(
        "one EM iteration (E + M) from the fixed init, full covariance, f64, {} threads; medians",
        rayon::current_num_threads()
    );
    println!(
        "{:<8} {:>10} {:>4} {:>4} {:>12} {:>12} {:>9} {:>14}",
        "workload", "N", "D", "K", "naive s/it", "fast s/it", "speed-up", "|d lower bd|"
    );
    for preset in [
        Preset::Small,
        Preset::Seed2d,
        Preset::Mid,
        Preset::Wide,
        Preset::Tall,
    ] {
        if let Some(o) = &only
            && !o.iter().any(|n| n == preset.name())
        {
            continue;
        }
        let (n0, d, k) = preset.shape();
        let n = ((n0 as f64 * scale) as usize).max(k);
        let x = preset.generate(Some(n), 0);
        let data = DataView::new(&x, n, d).unwrap();
        let init = fixed_init(data, k).unwrap();
        let naive = ReferenceModel::from(&init);
        let fast_step = || {
            let stats = SufficientStats::compute(&init, data).unwrap();
            let lb = stats.mean_log_likelihood();
            (init.m_step(&stats, 1e-6, 1).unwrap(), lb)
        };
        let fast_lb = fast_step().1;
        let fast = time(7, fast_step);
        let (_, naive_lb) = naive.step(data, 1e-6);
        let slow = time(3, || naive.step(data, 1e-6));
        let diff = if naive_lb.is_finite() {
            format!("{:.2e}", (naive_lb - fast_lb).abs())
        } else {
            "naive: -inf".to_string()
        };
        println!(
            "{:<8} {:>10} {:>4} {:>4} {:>12.4} {:>12.4} {:>8.1}x {:>14}",
            preset.name(),
            n,
            d,
            k,
            slow,
            fast,
            slow / fast,
            diff
        );
    }
}
