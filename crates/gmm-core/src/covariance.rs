//! Covariance structures and their precision Cholesky factors.
//!
//! A component's density is evaluated through the upper-triangular factor `U`
//! of its precision matrix, `Sigma^{-1} = U U^T`, exactly as scikit-learn's
//! `precisions_cholesky_`: with `L L^T = Sigma` (Cholesky, lower),
//! `U = L^{-T}`. Then
//!
//! ```text
//! log N(x | mu, Sigma) = -1/2 (D log(2 pi) + ||(x - mu) U||^2) + sum_j log U_jj
//! ```

use std::fmt;
use std::str::FromStr;

use faer::linalg::solvers::Llt;
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Mat, MatRef, Par, Side};
use serde::{Deserialize, Serialize};

/// `log(2 pi)`.
pub(crate) const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// The structure of the component covariances (scikit-learn's four types).
///
/// One enum through the whole engine: the kernels dispatch on it instead of
/// being copied per structure. The shapes of a model's `covariances` (and of
/// its precision factors) follow scikit-learn:
///
/// | type | covariances | precision factor |
/// |---|---|---|
/// | `Full` | `K x D x D` | upper-triangular `U_k`, `K x D x D` |
/// | `Tied` | `D x D` (shared) | upper-triangular `U`, `D x D` |
/// | `Diag` | `K x D` (variances) | `1 / sqrt(variance)`, `K x D` |
/// | `Spherical` | `K` (one variance each) | `1 / sqrt(variance)`, `K` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CovarianceType {
    /// Each component has its own general (symmetric positive definite) covariance.
    #[default]
    Full,
    /// All components share one general covariance.
    Tied,
    /// Each component has its own diagonal covariance.
    Diag,
    /// Each component has its own single variance (a multiple of the identity).
    Spherical,
}

impl CovarianceType {
    /// The four types, in scikit-learn's order of documentation.
    pub const ALL: [CovarianceType; 4] = [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ];

    /// The name used on the command line and in model files (`"full"`,
    /// `"tied"`, `"diag"`, `"spherical"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            CovarianceType::Full => "full",
            CovarianceType::Tied => "tied",
            CovarianceType::Diag => "diag",
            CovarianceType::Spherical => "spherical",
        }
    }

    /// Number of free covariance parameters for `k` components in `d` dimensions,
    /// as scikit-learn counts them for BIC/AIC.
    pub fn n_covariance_parameters(&self, k: usize, d: usize) -> usize {
        match self {
            CovarianceType::Full => k * d * (d + 1) / 2,
            CovarianceType::Tied => d * (d + 1) / 2,
            CovarianceType::Diag => k * d,
            CovarianceType::Spherical => k,
        }
    }

    /// Number of values of a model's `covariances` (and precision factors):
    /// `K D D`, `D D`, `K D` or `K`.
    pub fn covariances_len(&self, k: usize, d: usize) -> usize {
        match self {
            CovarianceType::Full => k * d * d,
            CovarianceType::Tied => d * d,
            CovarianceType::Diag => k * d,
            CovarianceType::Spherical => k,
        }
    }

    /// Number of values of the centred scatter in the sufficient statistics:
    /// full matrices per component (`K D D`), one pooled matrix (`D D`) for
    /// tied, diagonals per component (`K D`) for diag and spherical.
    pub fn scatter_len(&self, k: usize, d: usize) -> usize {
        match self {
            CovarianceType::Full => k * d * d,
            CovarianceType::Tied => d * d,
            CovarianceType::Diag | CovarianceType::Spherical => k * d,
        }
    }

    /// Where component `k`'s matrix starts in a full or tied array of
    /// matrices of `len` values each: `k * len` for full, `0` for tied (one
    /// shared matrix).
    pub(crate) fn matrix_start(&self, k: usize, len: usize) -> usize {
        if *self == CovarianceType::Full {
            k * len
        } else {
            0
        }
    }

    /// The shape of `covariances` in words, for error messages.
    pub(crate) fn shape_words(&self) -> &'static str {
        match self {
            CovarianceType::Full => "K * D * D",
            CovarianceType::Tied => "D * D",
            CovarianceType::Diag => "K * D",
            CovarianceType::Spherical => "K",
        }
    }
}

impl fmt::Display for CovarianceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CovarianceType {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(CovarianceType::Full),
            "tied" => Ok(CovarianceType::Tied),
            "diag" => Ok(CovarianceType::Diag),
            "spherical" => Ok(CovarianceType::Spherical),
            other => Err(crate::Error::invalid(
                "covariance_type",
                format!("'{other}'"),
                "one of full, tied, diag, spherical",
            )),
        }
    }
}

/// Precision factors and `log det` of the precision factor of every component
/// for covariances shaped as `covariance_type` says (see [`CovarianceType`]).
/// `Err(component)` names the first covariance that is not positive definite
/// (component 0 for the shared tied covariance).
pub(crate) fn precisions(
    covariance_type: CovarianceType,
    covariances: &[f64],
    k: usize,
    d: usize,
) -> Result<(Vec<f64>, Vec<f64>), usize> {
    let mut prec = vec![0.0; covariance_type.covariances_len(k, d)];
    let mut log_det = vec![0.0; k];
    let inv_sqrt = |v: f64| -> Option<f64> {
        let p = 1.0 / v.sqrt();
        (v > 0.0 && p.is_finite() && p > 0.0).then_some(p)
    };
    match covariance_type {
        CovarianceType::Full => {
            let dd = d * d;
            for c in 0..k {
                log_det[c] = precision_cholesky_into(
                    &covariances[c * dd..(c + 1) * dd],
                    d,
                    &mut prec[c * dd..(c + 1) * dd],
                )
                .ok_or(c)?;
            }
        }
        CovarianceType::Tied => {
            let ld = precision_cholesky_into(covariances, d, &mut prec).ok_or(0usize)?;
            log_det.fill(ld);
        }
        CovarianceType::Diag => {
            for c in 0..k {
                let mut ld = 0.0;
                for j in 0..d {
                    let p = inv_sqrt(covariances[c * d + j]).ok_or(c)?;
                    prec[c * d + j] = p;
                    ld += p.ln();
                }
                log_det[c] = ld;
            }
        }
        CovarianceType::Spherical => {
            for c in 0..k {
                let p = inv_sqrt(covariances[c]).ok_or(c)?;
                prec[c] = p;
                log_det[c] = d as f64 * p.ln();
            }
        }
    }
    Ok((prec, log_det))
}

/// The dense `d x d` covariance of component `c` (row-major) from covariances
/// shaped as `covariance_type` says.
pub(crate) fn dense_covariance(
    covariance_type: CovarianceType,
    covariances: &[f64],
    c: usize,
    d: usize,
) -> Vec<f64> {
    match covariance_type {
        CovarianceType::Full => covariances[c * d * d..(c + 1) * d * d].to_vec(),
        CovarianceType::Tied => covariances.to_vec(),
        CovarianceType::Diag | CovarianceType::Spherical => {
            let mut out = vec![0.0; d * d];
            for j in 0..d {
                out[j * d + j] = if covariance_type == CovarianceType::Diag {
                    covariances[c * d + j]
                } else {
                    covariances[c]
                };
            }
            out
        }
    }
}

/// Computes the upper-triangular precision factor `U = L^{-T}` of the symmetric
/// `d x d` row-major matrix `cov` (only its lower triangle is read), into `u`
/// (row-major, zeros below the diagonal). Returns `sum_j log U_jj`, or `None`
/// if `cov` is not numerically positive definite or not finite.
pub(crate) fn precision_cholesky_into(cov: &[f64], d: usize, u: &mut [f64]) -> Option<f64> {
    debug_assert_eq!(cov.len(), d * d);
    debug_assert_eq!(u.len(), d * d);
    if cov.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let a = MatRef::from_row_major_slice(cov, d, d);
    let llt = Llt::new(a, Side::Lower).ok()?;
    let l = llt.L();
    // A pivot that is rounding noise next to its variance (the column is a
    // linear combination of the previous ones to working precision) is
    // singular, whatever its sign happens to be.
    let noise = 16.0 * d as f64 * f64::EPSILON;
    for j in 0..d {
        let p = l[(j, j)];
        if !(p > 0.0 && p.is_finite() && p * p > noise * cov[j * d + j]) {
            return None;
        }
    }
    let mut z = Mat::<f64>::identity(d, d);
    // z = L^{-1} (lower triangular); U = z^T.
    solve_lower_triangular_in_place(l, z.as_mut(), Par::Seq);
    let mut log_det = 0.0;
    for i in 0..d {
        for j in 0..d {
            u[i * d + j] = if j >= i { z[(j, i)] } else { 0.0 };
        }
        log_det += u[i * d + i].ln();
    }
    if !log_det.is_finite() || u.iter().any(|v| !v.is_finite()) {
        return None;
    }
    Some(log_det)
}

/// Lower Cholesky factor `L` of the row-major `d x d` matrix `cov` (`L L^T = cov`),
/// row-major with zeros above the diagonal, or `None` if not positive definite.
pub(crate) fn cholesky_lower(cov: &[f64], d: usize) -> Option<Vec<f64>> {
    if cov.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let a = MatRef::from_row_major_slice(cov, d, d);
    let llt = Llt::new(a, Side::Lower).ok()?;
    let l = llt.L();
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            out[i * d + j] = l[(i, j)];
        }
    }
    Some(out)
}

/// True if the row-major `d x d` matrix is symmetric to a relative tolerance
/// of `1e-8` of its largest magnitude (the tolerance of `numpy.allclose` on
/// well-scaled matrices).
pub(crate) fn is_symmetric(a: &[f64], d: usize) -> bool {
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = 1e-8 * scale.max(f64::MIN_POSITIVE);
    (0..d).all(|i| (0..i).all(|j| (a[i * d + j] - a[j * d + i]).abs() <= tol))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_factor_inverts_covariance() {
        let d = 3;
        let cov = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let mut u = vec![0.0; 9];
        let log_det = precision_cholesky_into(&cov, d, &mut u).unwrap();
        // U U^T Sigma = I
        for i in 0..d {
            for j in 0..d {
                let mut s = 0.0;
                for m in 0..d {
                    let p: f64 = (0..d).map(|q| u[i * d + q] * u[m * d + q]).sum();
                    s += p * cov[m * d + j];
                }
                let expect = if i == j { 1.0 } else { 0.0 };
                assert!((s - expect).abs() < 1e-13, "({i},{j}) = {s}");
            }
        }
        // log det(U) = -1/2 log det(Sigma); det(Sigma) computed by cofactors.
        let det = cov[0] * (cov[4] * cov[8] - cov[5] * cov[7])
            - cov[1] * (cov[3] * cov[8] - cov[5] * cov[6])
            + cov[2] * (cov[3] * cov[7] - cov[4] * cov[6]);
        assert!((log_det + 0.5 * det.ln()).abs() < 1e-13);
    }

    #[test]
    fn rejects_indefinite_and_nan() {
        let mut u = vec![0.0; 4];
        assert!(precision_cholesky_into(&[1.0, 2.0, 2.0, 1.0], 2, &mut u).is_none());
        assert!(precision_cholesky_into(&[0.0, 0.0, 0.0, 0.0], 2, &mut u).is_none());
        assert!(precision_cholesky_into(&[f64::NAN, 0.0, 0.0, 1.0], 2, &mut u).is_none());
    }

    #[test]
    fn parses_names() {
        assert_eq!(
            "full".parse::<CovarianceType>().unwrap(),
            CovarianceType::Full
        );
        for t in CovarianceType::ALL {
            assert_eq!(t.as_str().parse::<CovarianceType>().unwrap(), t);
        }
        assert!("diagonal".parse::<CovarianceType>().is_err());
    }
}
