use std::fmt;

use serde::{Deserialize, Serialize};

use super::ToleranceClass;

/// Element types a tensor may declare. Every one is drawn as an input (u8 and bool as integers,
/// one byte each: a mask is `int(0, 2)`); f32, f16, bf16, f64, i32 and i64 outputs are judged, and
/// a u8 or bool output gets a clear error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    F32,
    F16,
    Bf16,
    F64,
    I32,
    I64,
    U8,
    Bool,
}

impl Dtype {
    /// f32, as a function (serde's default for records from before dtypes were written).
    pub fn f32() -> Dtype {
        Dtype::F32
    }

    pub const NAMES: &'static str = "f32, f16, bf16, f64, i32, i64, u8, bool";

    pub fn parse(s: &str) -> Option<Dtype> {
        Some(match s {
            "f32" => Dtype::F32,
            "f16" => Dtype::F16,
            "bf16" => Dtype::Bf16,
            "f64" => Dtype::F64,
            "i32" => Dtype::I32,
            "i64" => Dtype::I64,
            "u8" => Dtype::U8,
            "bool" => Dtype::Bool,
            _ => return None,
        })
    }

    /// The element types this build judges as outputs.
    pub const JUDGED_OUTPUTS: &'static str = "f32, f16, bf16, f64, i32 and i64";

    /// Whether an output of this type is judged: u8 and bool outputs are not yet (their poison
    /// is one byte, which an honest result matches by chance every 256 or 2 elements, and
    /// PyTorch's bool holds 0 or 1 only). Every type is drawn as an input.
    pub fn judged_output(self) -> bool {
        !matches!(self, Dtype::U8 | Dtype::Bool)
    }

    pub const fn bytes(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::U8 | Dtype::Bool => 1,
        }
    }

    /// Floating point (rather than integer or boolean).
    pub fn is_float(self) -> bool {
        matches!(self, Dtype::F32 | Dtype::F16 | Dtype::Bf16 | Dtype::F64)
    }

    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
            Dtype::F64 => "f64",
            Dtype::I32 => "i32",
            Dtype::I64 => "i64",
            Dtype::U8 => "u8",
            Dtype::Bool => "bool",
        }
    }

    /// The tolerance class an output of this type is judged in unless it declares one: the
    /// storage format's own for f16, bf16 and f64, exact for integers, the review's for f32
    /// (`None`).
    pub fn default_tolerance(self) -> Option<ToleranceClass> {
        match self {
            Dtype::F16 => Some(ToleranceClass::Fp16),
            Dtype::Bf16 => Some(ToleranceClass::Bf16),
            Dtype::F64 => Some(ToleranceClass::Fp64),
            Dtype::I32 | Dtype::I64 | Dtype::U8 | Dtype::Bool => Some(ToleranceClass::Exact),
            Dtype::F32 => None,
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The largest binary exponent of a finite value of `dtype` (its largest finite value is just
/// under 2^(max + 1)).
pub fn max_exponent(dtype: Dtype) -> i64 {
    match dtype {
        Dtype::F16 => 15,
        Dtype::F64 => 1023,
        _ => 127,
    }
}
