//! Sizes no one can read: besides the sizes `problem.toml` publishes, every review verifies one
//! drawn at run time from the run's seed, so that a kernel right only at the published sizes
//! (a branch on `N == 4096`, a tile that divides every listed dimension) has nowhere to hide.
//!
//! Each symbol is drawn from the range its verified cases span (a symbol every case holds fixed
//! stays fixed), log-uniformly so that small sizes are as likely as large ones, then moved, by a
//! coin of the same seed, to a prime, an odd number or one off a multiple of 32: the sizes tiled
//! kernels get wrong. A draw is kept when every constraint holds, every shape and floor is
//! computable (`validate_sizes`), it is not a published case, and it stays cheap to verify: at
//! most [`ELEMENTS`] elements in all its tensors and [`FLOPS`] flops by the problem's floor.
//! After [`ATTEMPTS`] draws that fail, the review goes on at the published sizes and says why.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Problem, Sizes};

/// The most elements a drawn size's tensors hold together (64 MiB of fp32).
pub const ELEMENTS: i64 = 1 << 24;

/// The most flops a drawn size's floor counts: a 500³ GEMM, a lower-triangular product at
/// N ≈ 900.
pub const FLOPS: i64 = 1 << 28;

/// Draws tried before giving up.
pub const ATTEMPTS: usize = 512;

/// A size drawn from `seed` within the span of `around` (the sizes verified anyway), or why none
/// could be.
pub fn draw_sizes(problem: &Problem, around: &[Sizes], seed: u64) -> Result<Sizes, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let published: Vec<&Sizes> =
        problem.check.iter().chain(&problem.timed).chain([&problem.small]).chain(around).collect();
    let ranges: Vec<(&str, i64, i64)> = problem
        .symbols
        .iter()
        .map(|&s| {
            let span: Vec<&Sizes> = if around.is_empty() { published.clone() } else { around.iter().collect() };
            let values = || span.iter().filter_map(|c| c.get(s));
            let lo = values().min().unwrap_or(1).max(1);
            let hi = values().max().unwrap_or(1).max(lo);
            (s, lo, hi)
        })
        .collect();
    for _ in 0..ATTEMPTS {
        let sizes = Sizes(ranges.iter().map(|&(s, lo, hi)| (s.to_string(), pick(&mut rng, lo, hi))).collect());
        if published.contains(&&sizes) || problem.validate_sizes(&sizes).is_err() {
            continue;
        }
        let elements: i64 = problem.buffers(&sizes).iter().map(|b| b.elements() as i64).sum();
        if elements <= ELEMENTS && sizes.eval(&problem.flops).is_ok_and(|f| f <= FLOPS) {
            return Ok(sizes);
        }
    }
    Err(format!(
        "no size drawn at run time: {ATTEMPTS} draws within the verified cases' span all failed a constraint, \
         were published, or exceeded {ELEMENTS} elements or {FLOPS} flops; verified at the published sizes only"
    ))
}

/// One symbol's value in [lo, hi]: log-uniform, then nudged off the tile sizes.
fn pick(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> i64 {
    if lo >= hi {
        return lo;
    }
    let (a, b) = ((lo as f64).ln(), ((hi + 1) as f64).ln());
    let x = (rng.random_range(a..b).exp().floor() as i64).clamp(lo, hi);
    let nudged = match rng.random_range(0..4) {
        0 => x,
        1 => next_prime(x),
        2 => x | 1,
        _ => {
            let m = (x + 16) / 32 * 32;
            if rng.random_bool(0.5) { m + 1 } else { m - 1 }
        }
    };
    if (lo..=hi).contains(&nudged) { nudged } else { x }
}

/// The least prime at or above `x` (2 for x <= 2).
fn next_prime(x: i64) -> i64 {
    let prime = |n: i64| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0);
    (x.max(2)..).find(|&n| prime(n)).unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem;

    #[test]
    fn primes() {
        assert_eq!([0, 2, 3, 4, 14, 90, 1000].map(next_prime), [2, 2, 3, 5, 17, 97, 1009]);
    }

    #[test]
    fn every_library_problem_gets_a_valid_unpublished_cheap_size() {
        let registry = problem::Registry::library();
        let library: Vec<_> = registry.all().iter().filter(|p| p.origin.starts_with("library")).collect();
        assert!(library.len() >= 30, "{}", library.len());
        for p in library {
            let published = p.check_sizes();
            for seed in 0..20u64 {
                let s = draw_sizes(p, &published, seed).unwrap_or_else(|e| panic!("{}: {e}", p.name));
                p.validate_sizes(&s).unwrap_or_else(|e| panic!("{} at {s}: {e}", p.name));
                assert!(!published.contains(&s) && s != p.small, "{} drew a published size {s}", p.name);
                let elements: i64 = p.buffers(&s).iter().map(|b| b.elements() as i64).sum();
                assert!(elements <= ELEMENTS && p.min_flops(&s) <= FLOPS as f64, "{} at {s}", p.name);
                for sym in p.symbols {
                    let v = s.get(sym).unwrap();
                    let max = published.iter().filter_map(|c| c.get(sym)).max().unwrap();
                    assert!(v >= 1 && v <= max, "{} {sym} = {v} outside 1..={max}", p.name);
                }
            }
        }
    }

    #[test]
    fn a_draw_replays_per_seed_differs_across_seeds_and_avoids_tile_multiples() {
        let library = problem::Registry::library();
        let p = library.find("gemm_square").unwrap();
        let published = p.check_sizes();
        assert_eq!(draw_sizes(p, &published, 7), draw_sizes(p, &published, 7));
        let drawn: Vec<i64> = (0..200).map(|seed| draw_sizes(p, &published, seed).unwrap().get("N").unwrap()).collect();
        let mut distinct = drawn.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 50, "{} distinct sizes in 200 draws", distinct.len());
        let off_tile = drawn.iter().filter(|&&n| n % 8 != 0).count();
        assert!(off_tile > 170, "{off_tile} of 200 draws are no multiple of 8");
        let primes = drawn.iter().filter(|&&n| n > 2 && next_prime(n) == n).count();
        assert!(primes > 40, "{primes} primes");
        assert!(drawn.iter().any(|&n| n > 64), "large sizes too: {drawn:?}");
    }

    #[test]
    fn constraints_are_respected_and_a_fixed_symbol_stays_fixed() {
        // avgpool2d: H and W even and at least 2.
        let library = problem::Registry::library();
        let p = library.find("avgpool2d").unwrap();
        for seed in 0..50 {
            let s = draw_sizes(p, &p.check_sizes(), seed).unwrap();
            assert!(s.get("H").unwrap() % 2 == 0 && s.get("W").unwrap() % 2 == 0, "{s}");
        }
        // Within the span of the sizes given: a test's small ones keep the draw small.
        let trimm = library.find("trimm").unwrap();
        let small: Vec<Sizes> = [1, 17, 40].iter().map(|&n| Sizes::new([("N", n)])).collect();
        for seed in 0..50 {
            let n = draw_sizes(trimm, &small, seed).unwrap().get("N").unwrap();
            assert!((1..=40).contains(&n) && ![1, 17, 40].contains(&n), "{n}");
        }
    }
}
