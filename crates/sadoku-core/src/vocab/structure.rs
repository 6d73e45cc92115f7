use std::fmt;

use serde::{Deserialize, Serialize};

/// How the elements of an input relate within each of its matrices (its last two dimensions,
/// rows × cols): what the generator keeps in every draw, so that a kernel written for the
/// structure (one that skips a zero triangle, or reads a symmetric A as Aᵀ) is judged on inputs
/// that have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Structure {
    /// Every element drawn.
    #[default]
    Dense,
    /// Elements above the diagonal (column > row) are exactly zero.
    Lower,
    /// Elements below the diagonal (column < row) are exactly zero.
    Upper,
    /// Square matrices equal to their transpose: element (r, c) above the diagonal is element
    /// (c, r), bit for bit.
    Symmetric,
}

impl Structure {
    pub const NAMES: &'static str = "dense, lower, upper, symmetric";

    pub fn parse(s: &str) -> Option<Structure> {
        Some(match s {
            "dense" => Structure::Dense,
            "lower" => Structure::Lower,
            "upper" => Structure::Upper,
            "symmetric" => Structure::Symmetric,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Structure::Dense => "dense",
            Structure::Lower => "lower",
            Structure::Upper => "upper",
            Structure::Symmetric => "symmetric",
        }
    }

    /// The number the device generator knows it by (`sadoku_generate`'s `structure`).
    pub const fn code(self) -> u64 {
        match self {
            Structure::Dense => 0,
            Structure::Lower => 1,
            Structure::Upper => 2,
            Structure::Symmetric => 3,
        }
    }

    /// Why a tensor of `dims` (outermost first) cannot have this structure, if it cannot: a
    /// triangle or a symmetry needs a matrix, and a symmetry a square one.
    pub fn unfit_for(self, dims: &[i64]) -> Option<String> {
        if self == Structure::Dense {
            return None;
        }
        let [.., rows, cols] = dims else {
            return Some(format!("structure `{self}` is for matrices (at least two dimensions), not a vector"));
        };
        (self == Structure::Symmetric && rows != cols).then(|| {
            format!("structure `symmetric` needs square matrices, and the last two dimensions are {rows} × {cols}")
        })
    }
}

impl fmt::Display for Structure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_shapes_are_checked() {
        for s in [Structure::Dense, Structure::Lower, Structure::Upper, Structure::Symmetric] {
            assert_eq!(Structure::parse(s.name()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(Structure::parse("diagonal"), None);
        assert_eq!(Structure::Symmetric.unfit_for(&[3, 5, 5]), None, "batched square matrices");
        let e = Structure::Symmetric.unfit_for(&[4, 5]).unwrap();
        assert!(e.contains("square") && e.contains("4 × 5"), "{e}");
        assert_eq!(Structure::Upper.unfit_for(&[4, 5]), None, "a triangle of any matrix");
        assert!(Structure::Lower.unfit_for(&[9]).unwrap().contains("not a vector"));
        assert_eq!(Structure::Dense.unfit_for(&[9]), None);
    }
}
