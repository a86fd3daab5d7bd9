//! A vectorisable `exp` for the responsibility kernel.
//!
//! `exp(x) = 2^n exp(r)` with `n = round(x / ln 2)`, `r = x - n ln 2` split in
//! a high and a low part (Cody-Waite), `|r| <= ln(2)/2`, and `exp(r)` by its
//! Taylor polynomial of degree 13 (truncation error `< 1e-17` relative),
//! evaluated by Horner's rule. Written without branches or calls, so the
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
    let mut p = 1.0 / 6_227_020_800.0;
    p = p * r + 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // 2^n for n in [-1022, 1024): n = 1024 overflows to inf below via two halves.
    let half = ni >> 1;
    let s1 = f64::from_bits(((half + 1023) as u64) << 52);
    let s2 = f64::from_bits(((ni - half + 1023) as u64) << 52);
    let y = p * s1 * s2;
    let y = if x < MIN_NORMAL_ARG { 0.0 } else { y };
    let y = if x > MAX_ARG { f64::INFINITY } else { y };
    if x.is_nan() { x } else { y }
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
