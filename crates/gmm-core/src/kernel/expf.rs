//! A vectorisable `exp` and `ln` for the responsibility kernel.
//!
//! `exp(x) = 2^n exp(r)` with `n = round(x / ln 2)`, `r = x - n ln 2` split in
//! a high and a low part (Cody-Waite), `|r| <= ln(2)/2`, and `exp(r)` by its
//! Taylor polynomial of degree 13 (truncation error `< 1e-17` relative),
//! evaluated by Horner's rule with fused multiply-adds (one instruction each
//! inside the kernels, which are compiled with FMA enabled). Written without branches or calls, so the
//! compiler turns a loop of it into SIMD code; the result differs from
//! `f64::exp` by a few units in the last place (tested below).
//!
//! Domain: results below the smallest normal number (`x < -708.39`) are
//! flushed to `0`, which the kernels only ever feed with `x <= 0`; `x > 709.78`
//! gives `+inf`; NaN gives NaN.

const LOG2E: f64 = std::f64::consts::LOG2_E;
/// High part of `ln 2` (trailing zero bits, so `n * LN2_HI` is exact): 6.93147180369123816490e-01.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
/// `ln 2 - LN2_HI`: 1.90821492927058770002e-10.
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// `1.5 * 2^52`: adding and subtracting it rounds to the nearest integer.
const ROUND: f64 = 6_755_399_441_055_744.0;
/// Smallest `x` whose `exp` is a normal number.
const MIN_NORMAL_ARG: f64 = -708.396_418_532_264_1;
const MAX_ARG: f64 = 709.782_712_893_384;

/// `exp(x)`, branch-free (see the module docs for domain and accuracy).
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    let xc = x.clamp(MIN_NORMAL_ARG, MAX_ARG);
    let t = xc * LOG2E + ROUND;
    let n = t - ROUND;
    // The integer n sits in the low bits of t.
    let ni = (t.to_bits() as i64).wrapping_sub(ROUND.to_bits() as i64);
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    // Taylor coefficients 1/j!, j = 13 down to 0.
    let mut p: f64 = 1.0 / 6_227_020_800.0;
    p = p.mul_add(r, 1.0 / 479_001_600.0);
    p = p.mul_add(r, 1.0 / 39_916_800.0);
    p = p.mul_add(r, 1.0 / 3_628_800.0);
    p = p.mul_add(r, 1.0 / 362_880.0);
    p = p.mul_add(r, 1.0 / 40_320.0);
    p = p.mul_add(r, 1.0 / 5_040.0);
    p = p.mul_add(r, 1.0 / 720.0);
    p = p.mul_add(r, 1.0 / 120.0);
    p = p.mul_add(r, 1.0 / 24.0);
    p = p.mul_add(r, 1.0 / 6.0);
    p = p.mul_add(r, 0.5);
    p = p.mul_add(r, 1.0);
    p = p.mul_add(r, 1.0);
    // 2^n for n in [-1022, 1024): n = 1024 overflows to inf below via two halves.
    let half = ni >> 1;
    let s1 = f64::from_bits(((half + 1023) as u64) << 52);
    let s2 = f64::from_bits(((ni - half + 1023) as u64) << 52);
    let y = p * s1 * s2;
    let y = if x < MIN_NORMAL_ARG { 0.0 } else { y };
    let y = if x > MAX_ARG { f64::INFINITY } else { y };
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
        // Dense over the range the kernels use, and across the whole normal range.
        for i in 0..2_000_000 {
            let x = -50.0 + i as f64 * 5e-5;
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        for i in 0..200_000 {
            let x =
                MIN_NORMAL_ARG + 1e-9 + i as f64 * ((MAX_ARG - MIN_NORMAL_ARG - 2e-9) / 200_000.0);
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        assert!(worst <= 4, "worst error {worst} ulps");
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
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
        assert!((exp(709.7) / 709.7f64.exp() - 1.0).abs() < 1e-15);
    }
}
