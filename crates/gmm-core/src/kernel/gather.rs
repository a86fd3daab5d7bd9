//! Gathering the sparse rows of one component into whole strips, centred,
//! so that the `O(D^2)` scatter runs over them only.

use super::L;
use super::accumulate::AccumulateWork;
use super::layout::{padded_features, strip_len};

/// Whether gathering `nr` active rows (spread over `na` strips of 8) into
/// whole strips before the full scatter costs less than scattering the `na`
/// strips in place: a gathered row costs about `D` stores, a strip of the
/// scatter about `Dp^2 / 4 + 2 Dp` cycles (its multiply-adds at two a cycle).
/// Depends on the responsibilities only, never on the machine.
#[inline(always)]
pub(super) fn gather_pays(d: usize, na: usize, nr: usize) -> bool {
    let dp = padded_features(d);
    let strip = dp * dp / 4 + 2 * dp;
    nr * (L * d + strip) < na * L * strip
}

/// Copies the rows of the chunk with nonzero responsibilities in the `na`
/// active strips of `s.active` (of the chunk `xt`), centred on `mu`, into `s.cx` (the `j`-th
/// such row at strip `j / 8`, lane `j % 8`) and their responsibilities
/// `resp` into `s.rc`, filling the last strip with rows of responsibility
/// zero; returns the number of strips. Each value is the same `x - mu` that
/// the scatter would form from `xt`, so only the order of the partial sums
/// differs from scattering the chunk in place.
#[inline(always)]
pub(super) fn gather(
    s: &mut AccumulateWork,
    xt: &[f64],
    d: usize,
    na: usize,
    mu: &[f64],
    resp: &[f64],
) -> usize {
    let stride = strip_len(padded_features(d));
    // `rows` holds each row's offset in `xt`, `rc` its responsibility.
    let mut n = 0;
    for &t in &s.active[..na] {
        for l in 0..L {
            let i = t * L + l;
            s.rows[n] = t * stride + l;
            s.rc[n] = resp[i];
            n += usize::from(resp[i] != 0.0);
        }
    }
    let nc = n.div_ceil(L);
    // Rows after the last, up to a whole strip: any finite values with a
    // zero responsibility add zero (the first row's, here).
    for j in n..nc * L {
        s.rows[j] = s.rows[0];
        s.rc[j] = 0.0;
    }
    let cx = &mut s.cx[..];
    for (js, from) in s.rows[..nc * L].chunks_exact(L).enumerate() {
        let mut from: [usize; L] = from.try_into().expect("a strip");
        let strip = &mut cx[js * stride..js * stride + d * L];
        for (dst, m) in strip.chunks_exact_mut(L).zip(mu) {
            let dst: &mut [f64; L] = dst.try_into().expect("a vector");
            for l in 0..L {
                dst[l] = xt[from[l]] - m;
                from[l] += L;
            }
        }
    }
    nc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two sparse patterns take the paths they are meant to test.
    #[test]
    fn sparse_responsibilities_are_gathered() {
        for d in [3, 11, 13, 64] {
            // ZeroStrips: 2 of 3 strips active, all their rows.
            assert!(!gather_pays(d, 16, 128), "d = {d}");
            // Sparse: ~1.6 active rows per strip.
            assert!(gather_pays(d, 25, 40), "d = {d}");
        }
    }
}
