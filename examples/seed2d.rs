//! The main job on its embedded default: the seeds' three-cluster data
//! (1,000,000 points: 60% N(0, 4I), 30% N((5,5), I), 10% N((0,5), 0.25I)),
//! fitted with K = 3 from a k-means start; prints true against fitted
//! parameters and the time per EM iteration.
//!
//! `cargo run --release --example seed2d [N]`

use std::time::Instant;

use gmm::{DataView, GaussianMixtureParams, Preset};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(s) => s
            .parse()
            .map_err(|_| format!("N must be a positive integer, got '{s}'"))?,
        None => Preset::Seed2d.shape().0,
    };
    let t = Instant::now();
    let x = Preset::Seed2d.generate(Some(n), 0);
    let data = DataView::new(&x, n, 2)?;
    println!("generated {n} points in {:.2} s", t.elapsed().as_secs_f64());
    let fit = GaussianMixtureParams::new(3).seed(0).fit(data)?;
    let r = &fit.report;
    let mut secs = r.iteration_seconds.clone();
    secs.sort_by(f64::total_cmp);
    println!(
        "{} after {} iterations, lower bound {:.6}, {:.2} s in all (init {:.2} s, median {:.4} s per iteration, {} threads)",
        if r.converged { "converged" } else { "stopped" },
        r.n_iter,
        r.lower_bound,
        r.fit_seconds,
        r.init_seconds,
        secs.get(secs.len() / 2).copied().unwrap_or(f64::NAN),
        r.threads
    );
    let truth = Preset::Seed2d.truth(0);
    let m = &fit.model;
    println!(
        "{:<10} {:>8} {:>8}  {:>18} {:>18}  {:>28} {:>28}",
        "component", "w true", "w fit", "mean true", "mean fit", "cov true", "cov fit"
    );
    for c in 0..3 {
        // Match each true component to the nearest fitted mean.
        let tm = truth.mean(c);
        let f = (0..3)
            .min_by(|&a, &b| dist(tm, m.mean(a)).total_cmp(&dist(tm, m.mean(b))))
            .unwrap();
        println!(
            "{:<10} {:>8.4} {:>8.4}  {:>18} {:>18}  {:>28} {:>28}",
            c,
            truth.weights()[c],
            m.weights()[f],
            fmt(tm),
            fmt(m.mean(f)),
            fmt(&truth.covariance_matrix(c)),
            fmt(&m.covariance_matrix(f))
        );
    }
    Ok(())
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

fn fmt(v: &[f64]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|x| format!("{x:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
