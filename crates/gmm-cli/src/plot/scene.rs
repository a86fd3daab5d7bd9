//! The 2-D view of a model over its data: a subsample of the rows projected
//! on two axes (the features for D = 2, the data's leading principal axes
//! otherwise), coloured by responsibilities, and each component's mean and
//! covariance projected the same way.

use anyhow::{Result, bail};
use gmm_core::{DataView, GaussianMixture, Rows};
use plotters::style::RGBColor;

use super::{PALETTE, colour};

/// A 2-D view of a model and (a subsample of) its data.
pub struct Scene {
    pub(super) title: String,
    pub(super) axes: [String; 2],
    pub(super) points: Vec<[f64; 2]>,
    pub(super) colours: Vec<RGBColor>,
    pub(super) components: Vec<([f64; 2], [f64; 3], RGBColor)>,
}

impl Scene {
    /// Projects `data` (at most `max_points` rows, evenly spaced) and the
    /// model on the data's two leading principal axes (the features
    /// themselves when `D = 2`); points are coloured by mixing the component
    /// colours with their responsibilities.
    pub fn new<R: Rows>(model: &GaussianMixture, data: &R, max_points: usize) -> Result<Self> {
        let (n, d) = (data.n_samples(), data.n_features());
        if d < 2 {
            bail!("a plot needs at least 2 features; the data has {d}");
        }
        if d != model.n_features() {
            bail!(
                "the data has {d} columns but the model {} features",
                model.n_features()
            );
        }
        if n == 0 {
            bail!("the data has no rows to plot");
        }
        let m = n.min(max_points.max(1));
        let mut x = vec![0.0; m * d];
        for (i, row) in x.chunks_exact_mut(d).enumerate() {
            data.copy_row(i * n / m, row);
        }
        let view = DataView::new(&x, m, d)?;
        let proba = model.predict_proba(view)?;
        let k = model.n_components();
        let colours = proba
            .chunks_exact(k)
            .map(|r| {
                let mut c = [0.0f64; 3];
                for (j, p) in r.iter().enumerate() {
                    let (a, b, e) = PALETTE[j % PALETTE.len()];
                    c[0] += p * a as f64;
                    c[1] += p * b as f64;
                    c[2] += p * e as f64;
                }
                RGBColor(c[0] as u8, c[1] as u8, c[2] as u8)
            })
            .collect();
        // Projection: centre on the subsample mean, two principal axes.
        let mut centre = vec![0.0; d];
        for row in x.chunks_exact(d) {
            for (c, v) in centre.iter_mut().zip(row) {
                *c += v / m as f64;
            }
        }
        let (axes, basis) = if d == 2 {
            (
                ["feature 0".to_string(), "feature 1".to_string()],
                vec![vec![1.0, 0.0], vec![0.0, 1.0]],
            )
        } else {
            centre.iter_mut().for_each(|c| *c = 0.0);
            for row in x.chunks_exact(d) {
                for (c, v) in centre.iter_mut().zip(row) {
                    *c += v / m as f64;
                }
            }
            let mut cov = vec![0.0; d * d];
            for row in x.chunks_exact(d) {
                for a in 0..d {
                    for b in 0..d {
                        cov[a * d + b] += (row[a] - centre[a]) * (row[b] - centre[b]) / m as f64;
                    }
                }
            }
            let basis = leading_eigenvectors(&cov, d, 2);
            (
                [
                    format!("principal axis 1 of the data ({d} features projected)"),
                    "principal axis 2".to_string(),
                ],
                basis,
            )
        };
        let origin: Vec<f64> = if d == 2 { vec![0.0; 2] } else { centre };
        let project = |v: &[f64]| -> [f64; 2] {
            let mut p = [0.0; 2];
            for (pi, axis) in p.iter_mut().zip(&basis) {
                *pi = v
                    .iter()
                    .zip(&origin)
                    .zip(axis)
                    .map(|((x, o), a)| (x - o) * a)
                    .sum();
            }
            p
        };
        let points = x.chunks_exact(d).map(project).collect();
        let components = (0..k)
            .map(|c| {
                let s = model.covariance_matrix(c);
                // 2 x 2 covariance of the projection: B S B^T.
                let mut q = [0.0; 3];
                for a in 0..d {
                    for b in 0..d {
                        q[0] += basis[0][a] * s[a * d + b] * basis[0][b];
                        q[1] += basis[0][a] * s[a * d + b] * basis[1][b];
                        q[2] += basis[1][a] * s[a * d + b] * basis[1][b];
                    }
                }
                (project(model.mean(c)), q, colour(c))
            })
            .collect();
        let title = format!(
            "{k} components, {} covariance, {m} of {n} points{}",
            model.covariance_type(),
            if d > 2 { ", PCA projection" } else { "" }
        );
        Ok(Self {
            title,
            axes,
            points,
            colours,
            components,
        })
    }
}

/// The `r` leading eigenvectors of the symmetric `d x d` matrix `a` by power
/// iteration with deflation (deterministic start), unit length.
fn leading_eigenvectors(a: &[f64], d: usize, r: usize) -> Vec<Vec<f64>> {
    let mut m = a.to_vec();
    let mut out = Vec::with_capacity(r);
    for _ in 0..r {
        let mut v: Vec<f64> = (0..d).map(|i| 1.0 + 0.1 * i as f64).collect();
        let mut lambda = 0.0;
        for _ in 0..500 {
            let mut w = vec![0.0; d];
            for i in 0..d {
                for j in 0..d {
                    w[i] += m[i * d + j] * v[j];
                }
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            lambda = norm;
            v = w.into_iter().map(|x| x / norm).collect();
        }
        for i in 0..d {
            for j in 0..d {
                m[i * d + j] -= lambda * v[i] * v[j];
            }
        }
        out.push(v);
    }
    out
}

/// Points of the `s`-sigma ellipse of the 2 x 2 covariance `q = [a, b, c]`
/// (`[[a, b], [b, c]]`) around `mu`.
pub(super) fn ellipse(mu: [f64; 2], q: [f64; 3], s: f64) -> Vec<(f64, f64)> {
    let (a, b, c) = (q[0], q[1], q[2]);
    let mid = 0.5 * (a + c);
    let rad = (0.25 * (a - c) * (a - c) + b * b).sqrt();
    let (l1, l2) = ((mid + rad).max(0.0), (mid - rad).max(0.0));
    let theta = 0.5 * (2.0 * b).atan2(a - c);
    let (ct, st) = (theta.cos(), theta.sin());
    (0..=120)
        .map(|i| {
            let t = i as f64 / 120.0 * std::f64::consts::TAU;
            let (u, v) = (s * l1.sqrt() * t.cos(), s * l2.sqrt() * t.sin());
            (mu[0] + u * ct - v * st, mu[1] + u * st + v * ct)
        })
        .collect()
}
