//! Sums over rows in a fixed order: 8 partial sums, one per row index modulo
//! 8, combined as `((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7))`
//! whatever the vector width, so every instruction set gives the same bits.

use pulp::Simd;

use super::L;

/// `((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7))`: the fixed order in which
/// lane partial sums are combined.
#[inline(always)]
pub(crate) fn hsum(p: &[f64; L]) -> f64 {
    ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]))
}

/// `sum_i v_i` as 8 partial sums (row index modulo 8) combined by [`hsum`],
/// then the rows after the last multiple of 8 in order.
#[inline(always)]
pub(crate) fn lane_sum(v: &[f64]) -> f64 {
    let mut p = [0.0f64; L];
    let chunks = v.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..L {
            p[l] += c[l];
        }
    }
    rest.iter().fold(hsum(&p), |acc, x| acc + x)
}
/// The 8 partial sums of `G` vectors (`G * lanes = 8`), in row order.
#[inline(always)]
pub(crate) fn partials<S: Simd, const G: usize>(acc: &[S::f64s; G]) -> [f64; L] {
    let mut out = [0.0f64; L];
    let (h, _) = S::as_mut_simd_f64s(&mut out);
    h.copy_from_slice(acc);
    out
}

/// [`hsum`] of 8 partial sums held in `G` vectors (`G * lanes = 8`), with
/// the instruction set's own reduction where it adds in `hsum`'s order:
/// pulp halves a vector and adds the halves until one lane is left, which
/// for 8 lanes (one AVX-512 vector, or the lane-wise sum of two AVX2
/// vectors) is `((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7))`. The same
/// bits as `hsum` (tested below), in a few shuffles instead of a round
/// trip through memory.
#[inline(always)]
pub(crate) fn hsum_simd<S: Simd, const G: usize>(simd: S, acc: &[S::f64s; G]) -> f64 {
    match (G, S::F64_LANES) {
        (1, 8) => simd.reduce_sum_f64s(acc[0]),
        (2, 4) => simd.reduce_sum_f64s(simd.add_f64s(acc[0], acc[1])),
        _ => hsum(&partials::<S, G>(acc)),
    }
}

/// `hsum` of the lane-wise sum of two sets of partial sums.
#[inline(always)]
pub(crate) fn hsum2<S: Simd, const G: usize>(simd: S, acc: &[[S::f64s; G]; 2]) -> f64 {
    let both: [S::f64s; G] = std::array::from_fn(|g| simd.add_f64s(acc[0][g], acc[1][g]));
    hsum_simd::<S, G>(simd, &both)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_sums_are_exact_on_integers() {
        let a: [f64; L] = std::array::from_fn(|i| i as f64);
        assert_eq!(hsum(&a), 28.0);
        let v: Vec<f64> = (0..21).map(|i| i as f64).collect();
        assert_eq!(lane_sum(&v), 210.0);
    }

    /// The vector reductions add the 8 partial sums in `hsum`'s order on
    /// every instruction set (values chosen so that another order rounds
    /// differently): `hsum_simd` relies on pulp's halving order.
    #[test]
    fn vector_reductions_add_in_hsum_order() {
        struct Op([f64; L]);
        impl pulp::WithSimd for Op {
            type Output = f64;
            #[inline(always)]
            fn with_simd<S: Simd>(self, simd: S) -> f64 {
                let p = self.0;
                match S::F64_LANES {
                    8 => hsum_simd::<S, 1>(simd, S::as_simd_f64s(&p).0.try_into().unwrap()),
                    4 => hsum_simd::<S, 2>(simd, S::as_simd_f64s(&p).0.try_into().unwrap()),
                    _ => hsum(&p),
                }
            }
        }
        let p = [1.0, 1e-16, -1.0, 3e-16, 1e16, 1.0, -1e16, 0.5];
        let want = hsum(&p);
        // Another order gives other bits: the test can fail.
        let naive: f64 = p.iter().sum();
        assert_ne!(naive.to_bits(), want.to_bits());
        for arch in crate::kernel::test_archs() {
            let got = arch.dispatch(Op(p));
            assert_eq!(got.to_bits(), want.to_bits(), "{arch:?}: {got} vs {want}");
        }
    }
}
