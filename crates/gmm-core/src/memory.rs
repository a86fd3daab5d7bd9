//! How much memory a fit needs, checked before anything is allocated.
//!
//! A fit holds, besides the data, about ten copies of one set of covariance
//! parameters (the model's covariances, precisions and their factors, the
//! kernels' layout, the statistics and the next M-step's parameters) and one
//! set of scatter statistics per block being reduced (at most 64 at a time),
//! plus per-thread chunk buffers. When that exceeds the memory the system
//! reports available, the fit is refused with an error that says how much it
//! would take, instead of aborting on a failed allocation.

use crate::blocks::{BLOCK_ROWS, CHUNK_ROWS};
use crate::covariance::CovarianceType;
use crate::error::{ErrorKind, Result};

/// Block statistics held at once by a reduction.
const PARTIALS: u64 = 64;

/// Bytes of the working set of a fit of `k` components of `d` features on
/// `n` rows (the data excluded), or `None` beyond `u64`.
pub(crate) fn fit_bytes(ct: CovarianceType, k: usize, d: usize, n: usize) -> Option<u64> {
    let (k, d) = (k as u64, d as u64);
    let cov = match ct {
        CovarianceType::Full => k.checked_mul(d)?.checked_mul(d)?,
        CovarianceType::Tied => d.checked_mul(d)?.checked_add(k.checked_mul(d)?)?,
        CovarianceType::Diag => k.checked_mul(d)?,
        CovarianceType::Spherical => k,
    };
    // Means, weights and sums beside the covariance parameters.
    let set = cov
        .checked_add(k.checked_mul(d)?)?
        .checked_add(k)?
        .checked_mul(8)?;
    let partials = PARTIALS.min((n as u64).div_ceil(BLOCK_ROWS as u64).max(1));
    let threads = rayon::current_num_threads() as u64;
    let chunk = (CHUNK_ROWS as u64)
        .checked_mul(d.checked_add(k)?.checked_mul(8 * 2)?)?
        .checked_mul(threads)?;
    set.checked_mul(10 + partials)?.checked_add(chunk)
}

/// Memory the system can give without swapping out others, in bytes
/// (`MemAvailable` plus free swap, on Linux); `None` where unknown. The
/// bound that fits are checked against before they allocate, and that
/// readers hold what a file asks them to allocate to.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        kb.checked_mul(1024)
    };
    Some(field("MemAvailable:")?.saturating_add(field("SwapFree:").unwrap_or(0)))
}

/// Refuses a fit whose working set exceeds the memory available.
pub(crate) fn check_fit_memory(ct: CovarianceType, k: usize, d: usize, n: usize) -> Result<()> {
    let needed = fit_bytes(ct, k, d, n);
    let available = available_memory();
    match (needed, available) {
        (Some(need), Some(have)) if need <= have => Ok(()),
        (Some(_), None) => Ok(()),
        (need, have) => Err(ErrorKind::OutOfMemory {
            what: format!(
                "a fit of {k} {} covariance component{} on {d} features",
                ct.as_str(),
                if k == 1 { "" } else { "s" }
            ),
            needed: need,
            available: have,
        }
        .into()),
    }
}

/// `bytes` in a short human-readable form (powers of 1000), as the engine's
/// messages give sizes.
///
/// ```
/// assert_eq!(gmm_core::human_bytes(999), "999 bytes");
/// assert_eq!(gmm_core::human_bytes(80_000_000_000), "80.0 GB");
/// ```
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_working_set_grows_with_the_covariance_structure() {
        let full = fit_bytes(CovarianceType::Full, 1, 100_000, 2).unwrap();
        let diag = fit_bytes(CovarianceType::Diag, 1, 100_000, 2).unwrap();
        // One full 1e5 x 1e5 covariance is 80 GB; eleven sets of them here.
        assert!(full > 11 * 80_000_000_000, "{full}");
        // Diagonal: the chunk buffers (256 rows of 1e5 features per thread) dominate.
        assert!(diag < 2_000_000_000 && diag * 100 < full, "{diag}");
        assert!(fit_bytes(CovarianceType::Full, usize::MAX, usize::MAX, 2).is_none());
    }

    #[test]
    fn a_fit_beyond_the_machine_is_refused_with_its_size() {
        let e = check_fit_memory(CovarianceType::Full, 1, 100_000, 2).unwrap_err();
        let msg = e.to_string();
        if available_memory().is_some() {
            assert!(
                msg.contains("880.") && msg.contains("GB of memory"),
                "{msg}"
            );
        }
        assert!(check_fit_memory(CovarianceType::Full, 3, 2, 1000).is_ok());
    }
}
