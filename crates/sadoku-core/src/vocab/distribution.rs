use std::fmt;

use serde::{Deserialize, Serialize};

use super::Dtype;

/// How an input is drawn, per element. Besides the plain distributions, the stress profiles
/// (`ties`, `sorted`, `zero_rows`, `exp2`, `subnormal`) give inputs the structure a numerically
/// careless kernel trips on; every one is still a pure function of the seed and the element's
/// index (and the row length), so the judge's GPU and the host draw the same numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    /// Normal: zero mean by default, so sums cancel and precision loss shows.
    Randn { mean: f64, std: f64 },
    /// Uniform on [lo, hi): (0, 1) is what today's KernelBench draws.
    Uniform { lo: f64, hi: f64 },
    /// Uniform integers in [lo, hi): class labels, indices, and integer-valued floats with ties.
    Int { lo: i64, hi: i64 },
    /// `ties(k)`: k distinct values, j − (k − 1)/2 for j uniform in [0, k): many exact ties, and
    /// for even k never zero (a norm's row is never all zeros).
    Ties { k: i64 },
    /// `sorted(lo, hi)`: nondecreasing along each row (the last dimension) from lo towards hi, or
    /// nonincreasing when hi < lo: column c of a row of n is lo + (hi − lo)·(c + u)/n, u uniform.
    Sorted { lo: f64, hi: f64 },
    /// `zero_rows(p)`: each row (last dimension) exactly zero with probability p, chosen by a hash
    /// of the row; the other rows standard normal.
    #[serde(rename = "zero_rows")]
    ZeroRows { p: f64 },
    /// `exp2(lo, hi)`: ±m·2^e, e uniform among the integers in [lo, hi], m uniform in [1, 2): many
    /// orders of magnitude at once, up to near the type's overflow.
    Exp2 { lo: i64, hi: i64 },
    /// `subnormal`: `exp2` over the element type's subnormal range and its smallest normals.
    Subnormal,
}

impl Distribution {
    pub const STANDARD_NORMAL: Distribution = Distribution::Randn { mean: 0.0, std: 1.0 };
    pub const UNIT_UNIFORM: Distribution = Distribution::Uniform { lo: 0.0, hi: 1.0 };

    const EXPECTED: &'static str = "randn(mean, std), uniform(lo, hi), randn, rand, ties(k), sorted(lo, hi), \
                                    zero_rows(p), exp2(lo, hi) or subnormal";

    /// `randn(mean, std)`, `uniform(lo, hi)`, `randn` / `rand` for the standard ones, or a stress
    /// profile: `ties(k)`, `sorted(lo, hi)`, `zero_rows(p)`, `exp2(lo, hi)`, `subnormal`.
    pub fn parse(text: &str) -> Result<Distribution, String> {
        let t = text.trim();
        match t {
            "randn" => return Ok(Distribution::STANDARD_NORMAL),
            "rand" => return Ok(Distribution::UNIT_UNIFORM),
            "subnormal" => return Ok(Distribution::Subnormal),
            _ => {}
        }
        let bad = || format!("distribution `{t}`: expected {}", Self::EXPECTED);
        let (name, rest) = t.split_once('(').ok_or_else(bad)?;
        let args = rest.strip_suffix(')').ok_or_else(bad)?;
        let nums: Vec<f64> =
            args.split(',').map(|a| a.trim().parse::<f64>()).collect::<Result<_, _>>().map_err(|_| bad())?;
        if !nums.iter().all(|x| x.is_finite()) {
            return Err(bad());
        }
        let integer = |x: f64| x.fract() == 0.0 && x.abs() < 1e15;
        match (name.trim(), &nums[..]) {
            ("randn", &[a, b]) if b > 0.0 => Ok(Distribution::Randn { mean: a, std: b }),
            ("uniform", &[a, b]) if b > a => Ok(Distribution::Uniform { lo: a, hi: b }),
            ("randn", [_, _]) => Err(format!("distribution `{t}`: std must be positive")),
            ("uniform", [_, _]) => Err(format!("distribution `{t}`: lo must be below hi")),
            ("ties", &[k]) if integer(k) && (2.0..=1048576.0).contains(&k) => Ok(Distribution::Ties { k: k as i64 }),
            ("ties", [_]) => Err(format!("distribution `{t}`: k must be an integer from 2 to 2^20")),
            ("sorted", &[a, b]) if a != b => Ok(Distribution::Sorted { lo: a, hi: b }),
            ("sorted", [_, _]) => Err(format!("distribution `{t}`: lo and hi must differ")),
            ("zero_rows", &[p]) if p > 0.0 && p <= 1.0 => Ok(Distribution::ZeroRows { p }),
            ("zero_rows", [_]) => Err(format!("distribution `{t}`: p must be in (0, 1]")),
            ("exp2", &[a, b]) if integer(a) && integer(b) && -1074.0 <= a && a <= b && b <= 1022.0 => {
                Ok(Distribution::Exp2 { lo: a as i64, hi: b as i64 })
            }
            ("exp2", [_, _]) => Err(format!("distribution `{t}`: integers -1074 <= lo <= hi <= 1022")),
            _ => Err(bad()),
        }
    }

    /// Whether it is one of the stress profiles' own shapes (rather than a plain distribution).
    pub fn is_stress_shape(&self) -> bool {
        matches!(
            self,
            Distribution::Ties { .. }
                | Distribution::Sorted { .. }
                | Distribution::ZeroRows { .. }
                | Distribution::Exp2 { .. }
                | Distribution::Subnormal
        )
    }

    /// Why it cannot be drawn into an element of `dtype`, if it cannot: a real-valued draw into
    /// an integer tensor, integers outside a u8's [0, 256) or a bool's [0, 2), or magnitudes past
    /// the type's overflow.
    pub fn unfit_for(&self, dtype: Dtype) -> Option<String> {
        if !dtype.is_float() {
            let Distribution::Int { lo, hi } = *self else {
                return Some(format!("distribution `{self}` for an integer tensor: use int(lo, hi)"));
            };
            let top = match dtype {
                Dtype::Bool => 2,
                Dtype::U8 => 256,
                _ => return None,
            };
            return (lo < 0 || hi > top).then(|| {
                format!(
                    "distribution `{self}` for a {dtype} tensor: its values are in [0, {top}), int(0, {top}) at most"
                )
            });
        }
        let max = super::dtype::max_exponent(dtype);
        match *self {
            Distribution::Exp2 { hi, .. } if hi > max - 1 => {
                Some(format!("distribution `{self}` overflows {dtype}: its largest exponent is {}", max - 1))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            d if d == Distribution::STANDARD_NORMAL => f.write_str("randn"),
            d if d == Distribution::UNIT_UNIFORM => f.write_str("rand"),
            Distribution::Randn { mean, std } => write!(f, "randn({mean}, {std})"),
            Distribution::Uniform { lo, hi } => write!(f, "uniform({lo}, {hi})"),
            Distribution::Int { lo, hi } => write!(f, "int({lo}, {hi})"),
            Distribution::Ties { k } => write!(f, "ties({k})"),
            Distribution::Sorted { lo, hi } => write!(f, "sorted({lo}, {hi})"),
            Distribution::ZeroRows { p } => write!(f, "zero_rows({p})"),
            Distribution::Exp2 { lo, hi } => write!(f, "exp2({lo}, {hi})"),
            Distribution::Subnormal => f.write_str("subnormal"),
        }
    }
}
