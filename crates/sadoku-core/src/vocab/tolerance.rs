use serde::{Deserialize, Serialize};

/// The precision an output is judged in: declared per output in a problem (`tolerance = "bf16"`),
/// else its dtype's (f16, bf16, exact for integers), else the review's (`--precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToleranceClass {
    /// Integers, indices: every element equal to the truth.
    Exact,
    /// fp64 arithmetic throughout (the default for f64 outputs).
    Fp64,
    /// fp32 arithmetic throughout.
    Fp32,
    /// fp32 accumulation, the result stored in fp16.
    Fp16,
    /// Operands rounded to TF32 (`--precision tf32`).
    Tf32,
    /// fp32 accumulation, the result stored in bf16.
    Bf16,
}

impl ToleranceClass {
    pub const NAMES: &'static str = "fp64, fp32, tf32, fp16, bf16, exact";

    pub fn parse(s: &str) -> Option<ToleranceClass> {
        Some(match s {
            "fp64" => ToleranceClass::Fp64,
            "fp32" => ToleranceClass::Fp32,
            "tf32" => ToleranceClass::Tf32,
            "fp16" => ToleranceClass::Fp16,
            "bf16" => ToleranceClass::Bf16,
            "exact" => ToleranceClass::Exact,
            _ => return None,
        })
    }

    /// This class in a review for `review`: a review looser than fp32 (`--precision tf32`)
    /// loosens a floating-point class to its own where that is looser (each class's bound contains
    /// the ones before it); exact stays exact, and an fp32 review loosens nothing.
    pub fn under(self, review: ToleranceClass) -> ToleranceClass {
        if self == ToleranceClass::Exact || review <= ToleranceClass::Fp32 { self } else { self.max(review) }
    }
}

impl std::fmt::Display for ToleranceClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ToleranceClass::Exact => "exact",
            ToleranceClass::Fp64 => "fp64",
            ToleranceClass::Fp32 => "fp32",
            ToleranceClass::Fp16 => "fp16",
            ToleranceClass::Tf32 => "tf32",
            ToleranceClass::Bf16 => "bf16",
        })
    }
}
