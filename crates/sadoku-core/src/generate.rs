//! Fresh inputs, drawn on the device by sadoku's own generator: a counter-based RNG
//! (Philox4x32-10, Salmon et al., SC'11), so that element `i` of every draw is a pure function of
//! the draw's seed and `i`. The judge's GPU computes the same numbers as [`value`] does here (the
//! simulated device uses this function directly; a GPU test compares the two), each launch gets a
//! seed derived from the run's master seed, and a seed never reaches a candidate's process.

use serde::{Deserialize, Serialize};

pub use crate::vocab::dtype::max_exponent;
use crate::vocab::{Distribution, Dtype, Structure, element};

/// One draw of one input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Draw {
    pub distribution: Distribution,
    /// Philox key: drawn from the run's master seed for this launch and this input.
    pub seed: u64,
    /// Every value is multiplied by this: a sign and a power of two drawn per launch, so that
    /// magnitudes move too (an extra; freshness comes from the seed).
    pub scale: f32,
    /// Row length (the last dimension), for the structure, `sorted` and `zero_rows` (0: a flat
    /// vector).
    pub cols: u64,
    /// Rows of each matrix (the second-to-last dimension; 1 for a vector), for the structure: the
    /// matrices of a batched input follow one another.
    pub rows: u64,
    /// What every matrix of the draw keeps ([`source`]).
    pub structure: Structure,
    /// The element type written: a float draw is made in fp32 and rounded to it (to nearest,
    /// ties to even); an integer draw is exact.
    pub dtype: Dtype,
}

const M0: u64 = 0xD251_1F53;
const M1: u64 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Philox4x32 with 10 rounds (Random123's `philox4x32_10`).
pub const fn philox4x32_10(mut c: [u32; 4], mut k: [u32; 2]) -> [u32; 4] {
    let mut round = 0;
    while round < 10 {
        let p0 = M0 * c[0] as u64;
        let p1 = M1 * c[2] as u64;
        c = [(p1 >> 32) as u32 ^ c[1] ^ k[0], p1 as u32, (p0 >> 32) as u32 ^ c[3] ^ k[1], p0 as u32];
        k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        round += 1;
    }
    c
}

/// 2π, as the device helper spells it.
#[allow(clippy::approx_constant)]
const TWO_PI: f64 = 6.283_185_307_179_586;

/// Element `i` of a draw as fp32 (before rounding to the draw's dtype). The device helper mirrors
/// this line for line.
pub fn value(draw: &Draw, i: u64) -> f32 {
    value64(draw, i) as f32
}

/// The element whose draw element `i` holds: `i` itself, except that in every matrix (rows ×
/// cols, row r = (i / cols) mod rows, column c = i mod cols) a triangular draw's zero triangle
/// holds none (an exact zero: lower, c > r; upper, c < r) and a symmetric draw's element above the
/// diagonal (c > r) holds element (c, r) of the same matrix, i + (c − r)·(cols − 1), so that
/// everything drawn for it (Philox's counter, a zero row, a sorted column) is that element's. The
/// device helper computes the same.
pub fn source(draw: &Draw, i: u64) -> Option<u64> {
    if draw.structure == Structure::Dense || draw.cols == 0 || draw.rows == 0 {
        return Some(i);
    }
    let (r, c) = ((i / draw.cols) % draw.rows, i % draw.cols);
    match draw.structure {
        Structure::Lower if c > r => None,
        Structure::Upper if c < r => None,
        Structure::Symmetric if c > r => Some(i + (c - r) * (draw.cols - 1)),
        _ => Some(i),
    }
}

/// Element `i` of a draw in fp64, before any rounding: what an f64 tensor holds.
pub fn value64(draw: &Draw, i: u64) -> f64 {
    let Some(i) = source(draw, i) else { return 0.0 };
    if let Distribution::ZeroRows { p } = draw.distribution
        && zero_row(draw.seed, i / draw.cols.max(1), zero_row_threshold(p))
    {
        return 0.0;
    }
    let [r0, r1, r2, r3] =
        philox4x32_10([i as u32, (i >> 32) as u32, 0, 0], [draw.seed as u32, (draw.seed >> 32) as u32]);
    let normal = |mean: f64, std: f64| {
        // Box–Muller in fp64: u1 in (0, 1], u2 in [0, 1), 53 random bits each.
        let u1 = (((((r0 as u64) << 32) | r1 as u64) >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
        let u2 = ((((r2 as u64) << 32) | r3 as u64) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let z = (-2.0 * u1.ln()).sqrt() * (TWO_PI * u2).cos();
        z * std + mean
    };
    // 24 random bits: exactly representable, in [0, 1).
    let u24 = |r: u32| (r >> 8) as f64 * (1.0 / (1u32 << 24) as f64);
    let v = match draw.distribution {
        Distribution::Randn { mean, std } => normal(mean, std),
        Distribution::ZeroRows { .. } => normal(0.0, 1.0),
        Distribution::Uniform { lo, hi } => lo + (hi - lo) * u24(r0),
        Distribution::Int { lo, hi } => integer(lo, hi, r0, r1) as f64,
        Distribution::Ties { k } => integer(0, k, r0, r1) as f64 + ties_offset(k),
        Distribution::Sorted { lo, hi } => {
            // (c + u) / n grows with c and u, and every rounding below is monotone.
            let n = draw.cols.max(1);
            let t = ((i % n) as f64 + u24(r0)) / n as f64;
            lo + (hi - lo) * t
        }
        Distribution::Exp2 { .. } | Distribution::Subnormal => {
            let (lo, hi) = exp2_range(draw);
            let e = lo + (r1 as u64 % (hi - lo + 1) as u64) as i64;
            let m = (1.0 + u24(r2)) * pow2(e);
            if r0 >> 31 == 1 { -m } else { m }
        }
    };
    v * draw.scale as f64
}

/// `ties(k)`'s offset: its values are j − (k − 1)/2, j in [0, k).
pub fn ties_offset(k: i64) -> f64 {
    -((k - 1) as f64) / 2.0
}

/// `zero_rows(p)`: a row is zero when its hash is below this (out of 2^32).
pub fn zero_row_threshold(p: f64) -> u64 {
    (p * 4_294_967_296.0).floor() as u64
}

/// Whether row `row` of a `zero_rows` draw with seed `seed` is zero: Philox on the row's own
/// counter (third word 1, unlike any element's).
pub fn zero_row(seed: u64, row: u64, threshold: u64) -> bool {
    let [h, ..] = philox4x32_10([row as u32, (row >> 32) as u32, 1, 0], [seed as u32, (seed >> 32) as u32]);
    (h as u64) < threshold
}

/// Exact 2^e for -1074 <= e <= 1023, by its bits (subnormal below 2^-1022).
pub fn pow2(e: i64) -> f64 {
    if e >= -1022 { f64::from_bits(((e + 1023) as u64) << 52) } else { f64::from_bits(1u64 << (e + 1074)) }
}

/// The exponents an `exp2` or `subnormal` draw spans: its own, or from the type's smallest
/// subnormal to just above its smallest normal.
pub fn exp2_range(draw: &Draw) -> (i64, i64) {
    match draw.distribution {
        Distribution::Exp2 { lo, hi } => (lo, hi),
        _ => match draw.dtype {
            Dtype::F16 => (-24, -13),
            Dtype::Bf16 => (-133, -125),
            Dtype::F64 => (-1074, -1021),
            _ => (-149, -125),
        },
    }
}

/// Uniform in [lo, hi) from 64 random bits (a modulo bias below 2⁻³² for any range sadoku draws).
const fn integer(lo: i64, hi: i64, r0: u32, r1: u32) -> i64 {
    let range = hi.wrapping_sub(lo) as u64;
    lo.wrapping_add(((((r0 as u64) << 32) | r1 as u64) % range) as i64)
}

/// Element `i` of a draw, as the bits of its dtype: what the judge's generator writes.
pub fn element(draw: &Draw, i: u64) -> u64 {
    if draw.dtype == Dtype::F64 {
        return value64(draw, i).to_bits();
    }
    if draw.dtype.is_float() {
        return element::from_f32(draw.dtype, value(draw, i));
    }
    let Distribution::Int { lo, hi } = draw.distribution else {
        // The format refuses a real-valued distribution for an integer tensor.
        return element::from_f32(draw.dtype, value(draw, i));
    };
    let Some(i) = source(draw, i) else { return 0 };
    let [r0, r1, _, _] =
        philox4x32_10([i as u32, (i >> 32) as u32, 0, 0], [draw.seed as u32, (draw.seed >> 32) as u32]);
    element::from_i64(draw.dtype, integer(lo, hi, r0, r1))
}

/// Whether `got` (bits of the draw's dtype) is the element `want` as a device computes it: bit
/// for bit for uniform and integer draws, within what the device's `log` and `cos` may differ
/// from the host's for normal ones: one unit in the last place of a 16- or 32-bit element, and
/// for fp64, whose draw no rounding to a narrower type absorbs, 16 units of fp64 relative to the
/// draw's magnitude before its mean is added.
pub fn same_draw(draw: &Draw, got: u64, want: u64) -> bool {
    let mean = match draw.distribution {
        Distribution::Randn { mean, .. } => mean,
        Distribution::ZeroRows { .. } => 0.0,
        _ => return got == want,
    };
    if draw.dtype == Dtype::F64 {
        let (g, w) = (f64::from_bits(got), f64::from_bits(want));
        let magnitude = w.abs() + (mean * draw.scale as f64).abs();
        return g == w || (g - w).abs() <= 16.0 * f64::EPSILON / 2.0 * magnitude;
    }
    (got as i64).wrapping_sub(want as i64).unsigned_abs() <= 1
}

/// A whole draw of `elements` elements (the simulated device's generator, and tests').
pub fn elements(draw: &Draw, elements: usize) -> Vec<u64> {
    use rayon::prelude::*;
    (0..elements as u64).into_par_iter().map(|i| element(draw, i)).collect()
}

/// A whole fp32 draw (tests).
pub fn values(draw: &Draw, elements: usize) -> Vec<f32> {
    use rayon::prelude::*;
    (0..elements as u64).into_par_iter().map(|i| value(draw, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_matches_random123s_known_answers() {
        assert_eq!(philox4x32_10([0; 4], [0; 2]), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]);
        assert_eq!(philox4x32_10([u32::MAX; 4], [u32::MAX; 2]), [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]);
        assert_eq!(
            philox4x32_10([0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], [0xa409_3822, 0x299f_31d0]),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    fn draw(distribution: Distribution, seed: u64) -> Draw {
        Draw { distribution, seed, scale: 1.0, cols: 0, rows: 0, structure: Structure::Dense, dtype: Dtype::F32 }
    }

    fn moments(v: &[f32]) -> (f64, f64, f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let m = |p: i32| v.iter().map(|&x| (x as f64 - mean).powi(p)).sum::<f64>() / n;
        let var = m(2);
        (mean, var, m(3) / var.powf(1.5), m(4) / (var * var))
    }

    #[test]
    fn randn_has_the_moments_of_a_standard_normal() {
        let n = 1 << 20;
        let (mean, var, skew, kurt) = moments(&values(&draw(Distribution::STANDARD_NORMAL, 11), n));
        // Standard errors at n = 2^20: mean 0.001, variance 0.0014, skewness 0.0024, kurtosis 0.0048.
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((var - 1.0).abs() < 0.007, "variance {var}");
        assert!(skew.abs() < 0.012, "skewness {skew}");
        assert!((kurt - 3.0).abs() < 0.025, "kurtosis {kurt}");
    }

    #[test]
    fn rand_is_uniform_on_the_unit_interval() {
        let v = values(&draw(Distribution::UNIT_UNIFORM, 12), 1 << 20);
        assert!(v.iter().all(|&x| (0.0..1.0).contains(&x)));
        let (mean, var, skew, _) = moments(&v);
        assert!((mean - 0.5).abs() < 0.002, "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.001, "variance {var}");
        assert!(skew.abs() < 0.01, "skewness {skew}");
        // Deciles hold a tenth each.
        let mut counts = [0usize; 10];
        for x in &v {
            counts[(x * 10.0) as usize] += 1;
        }
        for c in counts {
            assert!((c as f64 / v.len() as f64 - 0.1).abs() < 0.002, "{counts:?}");
        }
    }

    #[test]
    fn streams_replay_per_seed_and_differ_per_seed_and_element() {
        let a = values(&draw(Distribution::STANDARD_NORMAL, 5), 4096);
        assert_eq!(a, values(&draw(Distribution::STANDARD_NORMAL, 5), 4096), "a seed replays");
        let b = values(&draw(Distribution::STANDARD_NORMAL, 6), 4096);
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert_eq!(same, 0, "another seed shares no element");
        let mut sorted = a.clone();
        sorted.sort_by(f32::total_cmp);
        sorted.dedup();
        assert_eq!(sorted.len(), a.len(), "no repeated values within a draw");
        // Neighbouring seeds (launch k and k+1) are as unrelated as any two.
        let c = values(&draw(Distribution::STANDARD_NORMAL, 5 ^ 1), 4096);
        let corr = a.iter().zip(&c).map(|(x, y)| (*x as f64) * (*y as f64)).sum::<f64>() / 4096.0;
        assert!(corr.abs() < 0.06, "correlation {corr}");
    }

    #[test]
    fn parameters_shift_and_stretch() {
        let base = values(&draw(Distribution::STANDARD_NORMAL, 21), 1000);
        let shifted = values(&draw(Distribution::Randn { mean: 3.0, std: 0.5 }, 21), 1000);
        for (z, x) in base.iter().zip(&shifted) {
            assert!((*x as f64 - (3.0 + 0.5 * *z as f64)).abs() < 1e-6, "{z} {x}");
        }
        let u = values(&draw(Distribution::Uniform { lo: -2.0, hi: 6.0 }, 22), 1 << 16);
        assert!(u.iter().all(|&x| (-2.0..6.0).contains(&x)));
        let mean = u.iter().map(|&x| x as f64).sum::<f64>() / u.len() as f64;
        assert!((mean - 2.0).abs() < 0.05, "{mean}");
    }

    #[test]
    fn structure_and_scale_apply() {
        let d = Draw {
            distribution: Distribution::STANDARD_NORMAL,
            seed: 3,
            scale: -0.5,
            cols: 5,
            rows: 5,
            structure: Structure::Lower,
            dtype: Dtype::F32,
        };
        let plain = Draw { scale: 1.0, structure: Structure::Dense, ..d };
        for i in 0..25u64 {
            let (row, col) = (i / 5, i % 5);
            if col > row {
                assert_eq!(value(&d, i), 0.0);
            } else {
                assert_eq!(value(&d, i), value(&plain, i) * -0.5, "a power of two scales exactly");
                assert_ne!(value(&d, i), 0.0);
            }
        }
    }

    /// A batched draw of `batch` matrices of rows × cols, as values of its dtype, matrix by matrix.
    fn matrices(d: &Draw, batch: usize) -> Vec<Vec<Vec<f64>>> {
        let (rows, cols) = (d.rows as usize, d.cols as usize);
        let e = elements(d, batch * rows * cols);
        let v: Vec<f64> = e.iter().map(|&x| element::value(d.dtype, x)).collect();
        v.chunks(rows * cols).map(|m| m.chunks(cols).map(<[f64]>::to_vec).collect()).collect()
    }

    fn batched(structure: Structure, rows: u64, cols: u64) -> Draw {
        Draw { rows, cols, structure, ..draw(Distribution::STANDARD_NORMAL, 17) }
    }

    #[test]
    fn triangles_are_zero_in_every_matrix_of_a_batch() {
        for dtype in FLOATS {
            for (structure, zero) in
                [(Structure::Lower, (|r, c| c > r) as fn(usize, usize) -> bool), (Structure::Upper, |r, c| c < r)]
            {
                // Square and not, and more matrices than one: the row within its matrix decides.
                for (rows, cols) in [(7, 7), (5, 9), (9, 5)] {
                    let d = Draw { dtype, ..batched(structure, rows, cols) };
                    for (b, m) in matrices(&d, 4).iter().enumerate() {
                        for (r, row) in m.iter().enumerate() {
                            for (c, &x) in row.iter().enumerate() {
                                let what = format!("{dtype} {structure} {rows}×{cols}, matrix {b} ({r}, {c})");
                                if zero(r, c) {
                                    assert!(x == 0.0 && x.is_sign_positive(), "{what}: {x}");
                                } else {
                                    assert_ne!(x, 0.0, "{what}");
                                }
                            }
                        }
                    }
                }
            }
        }
        // What the global row index got wrong: matrix 1 of a lower draw has its upper triangle
        // zero too, and the kept elements are the dense draw's.
        let (lower, dense) = (batched(Structure::Lower, 4, 4), batched(Structure::Dense, 4, 4));
        let i = 16 + 1; // matrix 1, row 0, column 1
        assert_eq!(value(&lower, i), 0.0);
        assert_ne!(value(&dense, i), 0.0);
        assert_eq!(value(&lower, 16 + 4), value(&dense, 16 + 4), "row 1, column 0 of matrix 1 is kept");
    }

    #[test]
    fn a_symmetric_draw_is_its_own_transpose_in_every_matrix_of_a_batch() {
        for dtype in FLOATS {
            for distribution in [
                Distribution::STANDARD_NORMAL,
                Distribution::UNIT_UNIFORM,
                Distribution::ZeroRows { p: 0.3 },
                Distribution::Exp2 { lo: -4, hi: 4 },
            ] {
                let d = Draw { dtype, distribution, ..batched(Structure::Symmetric, 6, 6) };
                let e = elements(&d, 3 * 36);
                for b in 0..3 {
                    for r in 0..6 {
                        for c in 0..6 {
                            let (x, y) = (e[b * 36 + r * 6 + c], e[b * 36 + c * 6 + r]);
                            assert_eq!(x, y, "{dtype} {distribution}: matrix {b} ({r}, {c}), bit for bit");
                        }
                    }
                }
                // The diagonal and below are the dense draw itself; matrices differ.
                let dense = Draw { structure: Structure::Dense, ..d };
                for i in [0u64, 6, 7, 13, 36 + 30, 72 + 35] {
                    assert_eq!(element(&d, i), element(&dense, i), "{dtype} {distribution}: element {i}");
                }
                if distribution == Distribution::STANDARD_NORMAL {
                    assert_ne!(e[..36], e[36..72], "{dtype}: each matrix its own draw");
                }
            }
        }
        // A dense draw is not symmetric: the test above would notice one that is not.
        let dense = matrices(&batched(Structure::Dense, 6, 6), 1);
        assert_ne!(dense[0][0][1], dense[0][1][0]);
        // Integers mirror alike.
        let d = Draw { dtype: Dtype::I32, ..batched(Structure::Symmetric, 5, 5) };
        let d = Draw { distribution: Distribution::Int { lo: -50, hi: 50 }, ..d };
        let e = elements(&d, 2 * 25);
        assert!((0..2).all(|b| (0..5).all(|r| (0..5).all(|c| e[b * 25 + r * 5 + c] == e[b * 25 + c * 5 + r]))));
    }

    #[test]
    fn bool_and_u8_draws_are_their_bytes() {
        for (dtype, hi) in [(Dtype::Bool, 2), (Dtype::U8, 256)] {
            let d = Draw { dtype, ..draw(Distribution::Int { lo: 0, hi }, 5) };
            let e = elements(&d, 20_000);
            assert!(e.iter().all(|&x| x < hi as u64), "{dtype}: one byte, in range");
            let ones = e.iter().filter(|&&x| x == 1).count();
            let expect = 20_000 / hi as usize;
            assert!(ones.abs_diff(expect) < expect / 5 + 50, "{dtype}: {ones} ones");
            let bytes = element::write(dtype, &e);
            assert_eq!(bytes.len(), 20_000, "{dtype}: a byte an element");
        }
    }

    #[test]
    fn integers_are_uniform_in_their_range_and_dtypes_round_the_fp32_draw() {
        let d = Draw { dtype: Dtype::I64, ..draw(Distribution::Int { lo: -3, hi: 5 }, 9) };
        let e = elements(&d, 80_000);
        let mut counts = [0usize; 8];
        for &x in &e {
            let v = x as i64;
            assert!((-3..5).contains(&v), "{v}");
            counts[(v + 3) as usize] += 1;
        }
        for c in counts {
            assert!((c as f64 / 10_000.0 - 1.0).abs() < 0.05, "{counts:?}");
        }
        // The same draw into i32 holds the same integers.
        let narrow = elements(&Draw { dtype: Dtype::I32, ..d }, 100);
        assert!(narrow.iter().zip(&e).all(|(&a, &b)| a as u32 as i32 as i64 == b as i64));
        // Integer-valued floats: ties on purpose, scaled like any float draw.
        let f = Draw { dtype: Dtype::F32, scale: 2.0, ..d };
        assert!((0..100).all(|i| value(&f, i) == 2.0 * e[i as usize] as i64 as f32));
        // bf16 and f16: the fp32 draw rounded to nearest.
        let n = draw(Distribution::STANDARD_NORMAL, 4);
        for dtype in [Dtype::Bf16, Dtype::F16] {
            let r = Draw { dtype, ..n };
            for i in 0..1000 {
                let (x, got) = (value(&n, i), element(&r, i));
                assert_eq!(got, element::from_f32(dtype, x));
                let back = element::value(dtype, got);
                let u = if dtype == Dtype::Bf16 { 1.0 / 256.0 } else { 1.0 / 2048.0 };
                assert!((back - x as f64).abs() <= u * (x as f64).abs().max(6.1e-5), "{x} {back}");
            }
        }
    }

    #[test]
    fn the_device_may_differ_from_the_host_only_as_its_libm_does() {
        let n = Draw { dtype: Dtype::F64, ..draw(Distribution::STANDARD_NORMAL, 1) };
        let w = element(&n, 7);
        let x = f64::from_bits(w);
        assert!(same_draw(&n, w, w) && same_draw(&n, w + 3, w), "a few units of fp64 are libm's");
        assert!(!same_draw(&n, (x * (1.0 + 1e-12)).to_bits(), w), "1e-12 relative is not");
        let u = Draw { dtype: Dtype::F64, ..draw(Distribution::UNIT_UNIFORM, 1) };
        assert!(!same_draw(&u, element(&u, 7) + 1, element(&u, 7)), "uniform draws are exact");
        let f = draw(Distribution::STANDARD_NORMAL, 1);
        let e = element(&f, 3);
        assert!(same_draw(&f, e + 1, e) && !same_draw(&f, e + 2, e), "one fp32 unit, no more");
    }

    fn rows(d: &Draw, rows: usize) -> Vec<Vec<f64>> {
        let cols = d.cols as usize;
        let e = elements(d, rows * cols);
        e.chunks(cols).map(|r| r.iter().map(|&x| element::value(d.dtype, x)).collect()).collect()
    }

    const FLOATS: [Dtype; 4] = [Dtype::F32, Dtype::F16, Dtype::Bf16, Dtype::F64];

    #[test]
    fn ties_draw_k_values_never_zero_for_even_k() {
        for dtype in FLOATS {
            let d = Draw { dtype, cols: 64, ..draw(Distribution::Ties { k: 4 }, 31) };
            let mut seen: Vec<f64> = rows(&d, 64).concat();
            seen.sort_by(f64::total_cmp);
            seen.dedup();
            assert_eq!(seen, [-1.5, -0.5, 0.5, 1.5], "{dtype}");
        }
        let odd = elements(&draw(Distribution::Ties { k: 3 }, 2), 1000);
        let mut v: Vec<f32> = odd.iter().map(|&x| f32::from_bits(x as u32)).collect();
        v.sort_by(f32::total_cmp);
        v.dedup();
        assert_eq!(v, [-1.0, 0.0, 1.0]);
    }

    #[test]
    fn zero_rows_are_whole_rows_chosen_by_row_and_seed() {
        for dtype in FLOATS {
            let d = Draw { dtype, cols: 33, ..draw(Distribution::ZeroRows { p: 0.25 }, 41) };
            let r = rows(&d, 400);
            let zero = r.iter().filter(|row| row.iter().all(|&x| x == 0.0 && x.is_sign_positive())).count();
            assert!((60..140).contains(&zero), "{dtype}: {zero} of 400 rows zero");
            // Every other row is a normal draw: no zeros in it at all.
            assert!(r.iter().all(|row| row.iter().all(|&x| x == 0.0) || row.iter().all(|&x| x != 0.0)), "{dtype}");
            // The same element of a row that is not zero is the standard normal draw.
            let n = Draw { distribution: Distribution::STANDARD_NORMAL, ..d };
            let i = r.iter().position(|row| row[0] != 0.0).unwrap() as u64 * 33 + 5;
            assert_eq!(element(&d, i), element(&n, i));
        }
        let other = Draw { seed: 42, cols: 33, ..draw(Distribution::ZeroRows { p: 0.25 }, 41) };
        let d = Draw { cols: 33, ..draw(Distribution::ZeroRows { p: 0.25 }, 41) };
        let pattern = |d: &Draw| rows(d, 400).iter().map(|r| r[0] == 0.0).collect::<Vec<_>>();
        assert_ne!(pattern(&d), pattern(&other), "another seed zeroes other rows");
        let all = Draw { distribution: Distribution::ZeroRows { p: 1.0 }, ..d };
        assert!(rows(&all, 5).concat().iter().all(|&x| x == 0.0));
    }

    #[test]
    fn sorted_rows_are_monotone_in_every_type() {
        for dtype in FLOATS {
            for (lo, hi) in [(-3.0, 5.0), (2.0, -2.0), (100.0, 100.5)] {
                let d = Draw { dtype, cols: 1000, ..draw(Distribution::Sorted { lo, hi }, 7) };
                for row in rows(&d, 3) {
                    let ok = row.windows(2).all(|w| if hi > lo { w[0] <= w[1] } else { w[0] >= w[1] });
                    assert!(ok, "{dtype} sorted({lo}, {hi})");
                    let (a, b) = (lo.min(hi), lo.max(hi));
                    assert!(row.iter().all(|&x| a - 0.01 * b.abs() <= x && x <= b + 0.01 * b.abs()), "{dtype}");
                    assert!(row.first() != row.last());
                }
            }
        }
        // A row of one holds one draw; rows of any length restart at lo.
        let d = Draw { cols: 10, ..draw(Distribution::Sorted { lo: 0.0, hi: 1.0 }, 8) };
        let r = rows(&d, 2);
        assert!(r[1][0] < r[0][9], "each row starts again at lo");
    }

    #[test]
    fn exp2_spans_its_exponents_with_both_signs() {
        let d = Draw { cols: 1, ..draw(Distribution::Exp2 { lo: -40, hi: 40 }, 9) };
        let v = values(&d, 20_000);
        let mut exponents: Vec<i32> = v.iter().map(|x| x.abs().log2().floor() as i32).collect();
        assert!(exponents.iter().all(|e| (-40..=40).contains(e)));
        exponents.sort();
        exponents.dedup();
        assert_eq!(exponents.len(), 81, "every exponent drawn");
        let negative = v.iter().filter(|x| **x < 0.0).count();
        assert!((9_000..11_000).contains(&negative), "{negative}");
        // Near the top of a type: finite still.
        for (dtype, hi) in [(Dtype::F32, 126), (Dtype::Bf16, 126), (Dtype::F16, 14), (Dtype::F64, 1022)] {
            let d = Draw { dtype, ..draw(Distribution::Exp2 { lo: hi - 2, hi }, 10) };
            let e = elements(&d, 10_000);
            assert!(e.iter().all(|&x| element::value(dtype, x).is_finite()), "{dtype}");
            assert!(Distribution::Exp2 { lo: 0, hi: hi + 1 }.unfit_for(dtype).is_some(), "{dtype}");
            assert_eq!(Distribution::Exp2 { lo: 0, hi }.unfit_for(dtype), None, "{dtype}");
        }
    }

    #[test]
    fn subnormal_draws_are_subnormal_or_the_smallest_normals_of_their_type() {
        let f32_min = f32::MIN_POSITIVE as f64;
        let types = [
            (Dtype::F32, f32_min),
            (Dtype::F16, 6.103515625e-5),
            (Dtype::Bf16, f32_min),
            (Dtype::F64, f64::MIN_POSITIVE),
        ];
        for (dtype, min_normal) in types {
            let d = Draw { dtype, ..draw(Distribution::Subnormal, 12) };
            let v: Vec<f64> = elements(&d, 10_000).iter().map(|&x| element::value(dtype, x)).collect();
            let sub = v.iter().filter(|x| x.abs() < min_normal && **x != 0.0).count();
            assert!(v.iter().all(|x| x.abs() <= 4.0 * min_normal), "{dtype}");
            assert!(sub > 5_000, "{dtype}: {sub} subnormals of 10000");
            assert!(v.iter().filter(|x| **x == 0.0).count() < 500, "{dtype}: a few round to zero, no more");
        }
    }

    #[test]
    fn a_timed_launch_at_two_sizes_draws_unrelated_values() {
        use crate::seeds::Seeds;
        let s = Seeds { master: 3 };
        let seed = |sizes: &str, k: usize| s.launch("cand", "softmax", "def", "timed launch", sizes, k);
        let small = values(&draw(Distribution::STANDARD_NORMAL, seed("N = 17", 4)), 17);
        let large = values(&draw(Distribution::STANDARD_NORMAL, seed("N = 40", 4)), 40);
        assert!(small.iter().zip(&large).all(|(a, b)| a != b), "launch 4 at N = 17 is no prefix of it at N = 40");
        assert_ne!(seed("N = 17", 4), seed("N = 17", 5), "launches differ");
        assert_ne!(seed("N = 17", 4), s.launch("cand", "softmax", "def", "trial", "N = 17", 4), "cases differ");
        assert_ne!(seed("N = 17", 4), s.launch("cand", "log_softmax", "def", "timed launch", "N = 17", 4));
    }
}
