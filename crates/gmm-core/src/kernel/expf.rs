//! A vectorisable `exp` and `ln` for the responsibility kernel.
//!
//! `exp(x) = 2^n exp(r)` with `n = round(x / ln 2)`, `r = x - n ln 2` split in
//! a high and a low part (Cody-Waite), `|r| <= ln(2)/2`, and `exp(r)` by its
//! minimax polynomial of degree 11 (relative error `3.1e-18`; the Taylor
//! polynomial needs degree 13 for the same), evaluated by Horner's rule with
//! fused multiply-adds (one instruction each inside the kernels, which are
//! compiled with FMA enabled). Written without branches or calls, so the
//! compiler turns a loop of it into SIMD code; the result differs from
//! `f64::exp` by a few units in the last place (tested below).
//!
//! Domain: `x <= 0`, the only arguments the kernels have (`lp_ik - max_k lp_ik`),
//! so that `2^n` is one normal power of two (`-1022 <= n <= 0`) and the
//! scaling is one multiply. Results below the smallest normal number
//! (`x < -708.39`) are flushed to `0`; NaN gives NaN; positive `x` are clamped
//! to `0` (give `1`).

const LOG2E: f64 = std::f64::consts::LOG2_E;
/// High part of `ln 2` (trailing zero bits, so `n * LN2_HI` is exact): 6.93147180369123816490e-01.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
/// `ln 2 - LN2_HI`: 1.90821492927058770002e-10.
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// `1.5 * 2^52`: adding and subtracting it rounds to the nearest integer.
const ROUND: f64 = 6_755_399_441_055_744.0;
/// Smallest `x` whose `exp` is a normal number.
const MIN_NORMAL_ARG: f64 = -708.396_418_532_264_1;

/// The minimax polynomial of degree 11 for `exp(r)` on `|r| <= ln(2)/2`
/// (relative error `3.1e-18`; Remez exchange in 60-digit arithmetic, rounded
/// to the nearest `f64`), highest degree first.
const EXP_POLY: [f64; 12] = [
    f64::from_bits(0x3e5a_d661_d8a9_9f75), // c11
    f64::from_bits(0x3e92_8b31_1c4a_bb3b), // c10
    f64::from_bits(0x3ec7_1df4_5201_00a1), // c9
    f64::from_bits(0x3efa_0199_2d10_2296), // c8
    f64::from_bits(0x3f2a_01a0_1105_76fc), // c7
    f64::from_bits(0x3f56_c16c_1878_1105), // c6
    f64::from_bits(0x3f81_1111_1113_0dd5), // c5
    f64::from_bits(0x3fa5_5555_5554_f370), // c4
    f64::from_bits(0x3fc5_5555_5555_54a2), // c3
    f64::from_bits(0x3fe0_0000_0000_0010), // c2
    1.0,                                   // c1
    1.0,                                   // c0
];

/// `exp(x)` for `x <= 0`, branch-free (see the module docs for domain and
/// accuracy).
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    let xc = x.clamp(MIN_NORMAL_ARG, 0.0);
    let t = xc * LOG2E + ROUND;
    let n = t - ROUND;
    // The integer n sits in the low bits of t.
    let ni = (t.to_bits() as i64).wrapping_sub(ROUND.to_bits() as i64);
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let mut p = EXP_POLY[0];
    for c in &EXP_POLY[1..] {
        p = p.mul_add(r, *c);
    }
    // 2^n for n in [-1022, 0]: a normal number, so `p * 2^n` is rounded once
    // (to a subnormal when `p < 1` and `n = -1022`).
    let s = f64::from_bits(((ni + 1023) as u64) << 52);
    let y = p * s;
    let y = if x < MIN_NORMAL_ARG { 0.0 } else { y };
    if x.is_nan() { x } else { y }
}

/// High part of `ln 2` for [`ln`] (fdlibm's `ln2_hi`).
const LN2_HI_LOG: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
/// Low part of `ln 2` for [`ln`] (fdlibm's `ln2_lo`).
const LN2_LO_LOG: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
// fdlibm's minimax coefficients of `(log(1+f) - f + f^2/2) / s` in `s^2`.
const LG1: f64 = f64::from_bits(0x3fe5_5555_5555_5593);
const LG2: f64 = f64::from_bits(0x3fd9_9999_9997_fa04);
const LG3: f64 = f64::from_bits(0x3fd2_4924_9422_9359);
const LG4: f64 = f64::from_bits(0x3fcc_71c5_1d8e_78af);
const LG5: f64 = f64::from_bits(0x3fc7_4664_96cb_03de);
const LG6: f64 = f64::from_bits(0x3fc3_9a09_d078_c69f);
const LG7: f64 = f64::from_bits(0x3fc2_f112_df3e_5244);

/// `ln(x)` for finite positive normal `x`, branch-free (fdlibm's algorithm:
/// `x = 2^k (1 + f)` with `sqrt(2)/2 <= 1 + f < sqrt(2)`, `s = f / (2 + f)`
/// and a degree-14 minimax polynomial in `s`); within a unit or two in the
/// last place of `f64::ln` (tested below). Zero, negative, subnormal,
/// infinite and NaN inputs give meaningless values: the kernel only calls it
/// on sums of exponentials that are at least 1.
#[inline(always)]
pub(crate) fn ln(x: f64) -> f64 {
    // Move the mantissa into [sqrt(2)/2, sqrt(2)) and adjust the exponent.
    let ix = x
        .to_bits()
        .wrapping_add(0x3ff0_0000_0000_0000 - 0x3fe6_a09e_0000_0000);
    let k = ((ix >> 52) as i64 - 1023) as f64;
    let m = f64::from_bits((ix & 0x000f_ffff_ffff_ffff) + 0x3fe6_a09e_0000_0000);
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    k * LN2_HI_LOG - ((hfsq - (s * (hfsq + r) + k * LN2_LO_LOG)) - f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn agrees_with_std_to_a_few_ulps() {
        let mut worst = 0;
        // Dense over the range the kernels use, and across the whole domain.
        for i in 0..2_000_000 {
            let x = -100.0 + i as f64 * 5e-5;
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        for i in 0..200_000 {
            let x = MIN_NORMAL_ARG + 1e-9 + i as f64 * ((-MIN_NORMAL_ARG - 1e-9) / 200_000.0);
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        assert!(worst <= 4, "worst error {worst} ulps");
    }

    /// The form for the whole range, which scales by `2^n` in two halves so
    /// that `n = 1024` overflows to `inf` (the kernel's form until its domain
    /// became `x <= 0`).
    fn exp_two_halves(x: f64) -> f64 {
        const MAX_ARG: f64 = 709.782_712_893_384;
        let xc = x.clamp(MIN_NORMAL_ARG, MAX_ARG);
        let t = xc * LOG2E + ROUND;
        let n = t - ROUND;
        let ni = (t.to_bits() as i64).wrapping_sub(ROUND.to_bits() as i64);
        let r = (xc - n * LN2_HI) - n * LN2_LO;
        let mut p = EXP_POLY[0];
        for c in &EXP_POLY[1..] {
            p = p.mul_add(r, *c);
        }
        let half = ni >> 1;
        let s1 = f64::from_bits(((half + 1023) as u64) << 52);
        let s2 = f64::from_bits(((ni - half + 1023) as u64) << 52);
        let y = p * s1 * s2;
        let y = if x < MIN_NORMAL_ARG { 0.0 } else { y };
        let y = if x > MAX_ARG { f64::INFINITY } else { y };
        if x.is_nan() { x } else { y }
    }

    /// On its domain the one-multiply scaling gives the bits of the
    /// two-halves form (both round `p * 2^n` once), subnormal results included.
    #[test]
    fn one_scaling_gives_the_bits_of_two_halves() {
        for i in 0..2_000_000 {
            let x = -(i as f64) * 3.6e-4;
            assert_eq!(exp(x).to_bits(), exp_two_halves(x).to_bits(), "x = {x}");
        }
        for i in 0..100_000 {
            let x = MIN_NORMAL_ARG - 0.5 + i as f64 * 1e-5;
            assert_eq!(exp(x).to_bits(), exp_two_halves(x).to_bits(), "x = {x}");
        }
    }

    #[test]
    fn ln_agrees_with_std_to_a_few_ulps() {
        let mut worst = 0;
        // Dense over [1, 64] (sums of K exponentials), then across the normal range.
        for i in 0..2_000_000 {
            let x = 1.0 + i as f64 * 3.15e-5;
            worst = worst.max(ulps(ln(x), x.ln()));
        }
        for i in 0..200_000 {
            let x = 2f64.powf(-1021.0 + i as f64 * (2044.0 / 200_000.0));
            worst = worst.max(ulps(ln(x), x.ln()));
        }
        assert!(worst <= 2, "worst error {worst} ulps");
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(std::f64::consts::E), 1.0);
    }

    #[test]
    fn edges() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(-1000.0), 0.0);
        assert_eq!(exp(-0.0), 1.0);
        assert!(exp(f64::NAN).is_nan());
        // Outside the domain: clamped to 0.
        assert_eq!(exp(1.0), 1.0);
        assert_eq!(exp(f64::INFINITY), 1.0);
    }
}
