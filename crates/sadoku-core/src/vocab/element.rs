//! Elements of every judged dtype as raw bits (a `u64` holds any of them): what the generator
//! writes, what the comparator reads. The device helpers implement the same conversions.

use half::{bf16, f16};

use super::Dtype;

/// The value an element's bits hold (NaN and ±∞ as such; integers exactly below 2⁵³).
pub fn value(dtype: Dtype, bits: u64) -> f64 {
    match dtype {
        Dtype::F32 => f32::from_bits(bits as u32) as f64,
        Dtype::F16 => f16::from_bits(bits as u16).to_f64(),
        Dtype::Bf16 => bf16::from_bits(bits as u16).to_f64(),
        Dtype::F64 => f64::from_bits(bits),
        Dtype::I32 => bits as u32 as i32 as f64,
        Dtype::I64 => bits as i64 as f64,
        Dtype::U8 | Dtype::Bool => (bits as u8) as f64,
    }
}

/// The absolute rounding error an output type allows below its normal range, where an honest
/// kernel may flush to zero (FTZ arithmetic, `expf` and `__expf` past their range): half the
/// smallest fp16 subnormal (2⁻²⁵) for f16, whose normal range ends at 6.1e-5, where products of
/// ordinary draws land now and then; the smallest normal number for types with fp32's exponent
/// range (2⁻¹²⁶ for f32 and bf16) and for f64 (2⁻¹⁰²²), which the stress profiles' subnormal and
/// wide draws reach (a sigmoid of −88.7 is 3e-39 exactly, and 0 from `1 / (1 + expf(88.7))`).
/// Every elementwise bound of a floating-point output includes it; integers are exact.
pub fn underflow(dtype: Dtype) -> f64 {
    match dtype {
        Dtype::F16 => 2f64.powi(-25),
        Dtype::F32 | Dtype::Bf16 => 2f64.powi(-126),
        Dtype::F64 => 2f64.powi(-1022),
        _ => 0.0,
    }
}

/// Unit roundoff of a floating-point type's storage (round to nearest): 2⁻²⁴ for f32, 2⁻¹¹ for
/// f16, 2⁻⁸ for bf16, 2⁻⁵³ for f64; 1 for integers (whose underflow term is 0).
pub fn unit_roundoff(dtype: Dtype) -> f64 {
    match dtype {
        Dtype::F32 => 2f64.powi(-24),
        Dtype::F16 => 2f64.powi(-11),
        Dtype::Bf16 => 2f64.powi(-8),
        Dtype::F64 => 2f64.powi(-53),
        _ => 1.0,
    }
}

/// Neither NaN nor infinite (integers always are).
pub fn finite(dtype: Dtype, bits: u64) -> bool {
    !dtype.is_float() || value(dtype, bits).is_finite()
}

pub fn is_nan(dtype: Dtype, bits: u64) -> bool {
    dtype.is_float() && value(dtype, bits).is_nan()
}

/// An fp32 value rounded (to nearest, ties to even) into a floating-point dtype; integers
/// truncate toward zero (only whole numbers are ever converted).
pub fn from_f32(dtype: Dtype, v: f32) -> u64 {
    match dtype {
        Dtype::F32 => v.to_bits() as u64,
        Dtype::F16 => f16::from_f32(v).to_bits() as u64,
        Dtype::Bf16 => bf16::from_f32(v).to_bits() as u64,
        Dtype::F64 => (v as f64).to_bits(),
        Dtype::I32 => v as i32 as u32 as u64,
        Dtype::I64 => v as i64 as u64,
        Dtype::U8 | Dtype::Bool => v as u8 as u64,
    }
}

/// An integer as an element of an integer dtype (two's complement, truncated to its width).
pub fn from_i64(dtype: Dtype, v: i64) -> u64 {
    match dtype.bytes() {
        8 => v as u64,
        4 => v as i32 as u32 as u64,
        2 => v as u16 as u64,
        _ => v as u8 as u64,
    }
}

/// |x|: the sign bit cleared for floats, the magnitude for integers (wrapping at the minimum).
pub fn abs(dtype: Dtype, bits: u64) -> u64 {
    match dtype {
        Dtype::F32 => bits & 0x7FFF_FFFF,
        Dtype::F16 | Dtype::Bf16 => bits & 0x7FFF,
        Dtype::F64 => bits & 0x7FFF_FFFF_FFFF_FFFF,
        Dtype::I32 => (bits as u32 as i32).wrapping_abs() as u32 as u64,
        Dtype::I64 => (bits as i64).wrapping_abs() as u64,
        Dtype::U8 | Dtype::Bool => bits,
    }
}

/// The elements of a little-endian byte buffer (a trailing partial element is ignored).
pub fn read(dtype: Dtype, bytes: &[u8]) -> Vec<u64> {
    let w = dtype.bytes();
    bytes
        .chunks_exact(w)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..w].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect()
}

/// Elements back to little-endian bytes.
pub fn write(dtype: Dtype, elements: &[u64]) -> Vec<u8> {
    let w = dtype.bytes();
    let mut out = Vec::with_capacity(elements.len() * w);
    for e in elements {
        out.extend_from_slice(&e.to_le_bytes()[..w]);
    }
    out
}

/// An element for evidence: "1.5", "NaN", "7" (integers as integers).
pub fn text(dtype: Dtype, bits: u64) -> String {
    show(dtype, value(dtype, bits))
}

/// A value of `dtype` (exactly representable in it) as that type prints it: the shortest
/// decimal that reads back to it, so that an fp32 0.1 shows as "0.1", not as its fp64 expansion.
pub fn show(dtype: Dtype, v: f64) -> String {
    match dtype {
        Dtype::F32 => format!("{}", v as f32),
        Dtype::F16 => format!("{}", f16::from_f64(v)),
        Dtype::Bf16 => format!("{}", bf16::from_f64(v)),
        Dtype::F64 => format!("{v}"),
        _ => format!("{}", v as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_to_nearest_even_and_read_back() {
        // bf16 keeps 8 significant bits: 1 + 2⁻⁸ is a tie, rounded to even (1); 1 + 3·2⁻⁹ rounds up.
        assert_eq!(value(Dtype::Bf16, from_f32(Dtype::Bf16, 1.0 + 1.0 / 256.0)), 1.0);
        assert_eq!(value(Dtype::Bf16, from_f32(Dtype::Bf16, 1.0 + 3.0 / 512.0)), 1.0 + 1.0 / 128.0);
        assert_eq!(value(Dtype::F16, from_f32(Dtype::F16, 65504.0)), 65504.0);
        assert!(value(Dtype::F16, from_f32(Dtype::F16, 1e6)).is_infinite(), "fp16 overflows to ∞");
        assert_eq!(value(Dtype::F16, from_f32(Dtype::F16, 2f32.powi(-24))), 2f64.powi(-24), "subnormals kept");
        assert_eq!(value(Dtype::I64, from_i64(Dtype::I64, -3)), -3.0);
        assert_eq!(value(Dtype::I32, from_i64(Dtype::I32, -3)), -3.0);
        assert_eq!(abs(Dtype::Bf16, from_f32(Dtype::Bf16, -2.5)), from_f32(Dtype::Bf16, 2.5));
        assert_eq!(abs(Dtype::I32, from_i64(Dtype::I32, -7)), 7);
        assert!(!finite(Dtype::Bf16, 0x7FC0) && is_nan(Dtype::Bf16, 0x7FC0) && !is_nan(Dtype::F16, 0x7C00));
        assert!(finite(Dtype::I64, u64::MAX));
        let e = vec![1, 0xFFFF, 0x8000];
        assert_eq!(read(Dtype::F16, &write(Dtype::F16, &e)), e);
        assert_eq!(text(Dtype::I64, from_i64(Dtype::I64, 12)), "12");
        assert_eq!(show(Dtype::F32, 0.1f32 as f64), "0.1");
        assert_eq!(text(Dtype::Bf16, from_f32(Dtype::Bf16, 0.1)), "0.100097656");
    }
}
