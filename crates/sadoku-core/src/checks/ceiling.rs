//! Physics: no kernel computes faster than the card can (HACKS.md #14). A candidate whose
//! achieved rate beats the card's measured peak by more than a margin did not do the work.

use serde::Serialize;

use super::accuracy::PrecisionClass;
use crate::device::Ceilings;

/// How far above a measured peak a rate may be before it is called impossible: the peaks are
/// measured with good but not perfect kernels.
pub const MARGIN: f64 = 1.10;

/// What a rate is compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CeilingUse {
    /// e.g. "fp32 (CUDA cores, or 3×TF32 on tensor cores)".
    pub what: String,
    pub achieved: f64,
    pub ceiling: f64,
    /// "TFLOP/s" or "GB/s".
    pub unit: String,
    /// achieved / ceiling, in percent.
    pub percent: f64,
}

/// The compute ceiling for a precision class: the fastest way any kernel of that class could
/// compute. An fp32-class result may come from 3×TF32 (three tensor-core products per product).
pub fn compute_ceiling(class: PrecisionClass, c: &Ceilings) -> (f64, &'static str) {
    match class {
        PrecisionClass::Fp32 => {
            if c.tf32_tflops / 3.0 > c.fp32_tflops {
                (c.tf32_tflops / 3.0, "fp32-class (3×TF32 on tensor cores)")
            } else {
                (c.fp32_tflops, "fp32 (CUDA-core FMA)")
            }
        }
        PrecisionClass::Tf32 => (c.tf32_tflops, "TF32 tensor-core"),
        PrecisionClass::Bf16 | PrecisionClass::Wrong => (c.bf16_tflops, "BF16 tensor-core"),
    }
}

/// Rates of a run that took `ms` for at least `flops` and `bytes`: the one nearest its ceiling.
pub fn assess(class: PrecisionClass, flops: f64, bytes: f64, ms: f64, c: &Ceilings) -> CeilingUse {
    let seconds = ms * 1e-3;
    let (peak, what) = compute_ceiling(class, c);
    let tflops = flops / seconds / 1e12;
    let compute = CeilingUse {
        what: what.into(),
        achieved: tflops,
        ceiling: peak,
        unit: "TFLOP/s".into(),
        percent: 100.0 * tflops / peak,
    };
    let gbs = bytes / seconds / 1e9;
    let memory = CeilingUse {
        what: "DRAM bandwidth".into(),
        achieved: gbs,
        ceiling: c.dram_gbs,
        unit: "GB/s".into(),
        percent: 100.0 * gbs / c.dram_gbs,
    };
    if memory.percent > compute.percent { memory } else { compute }
}

impl CeilingUse {
    pub fn impossible(&self) -> bool {
        self.achieved > self.ceiling * MARGIN
    }
}

impl std::fmt::Display for CeilingUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} on a card that peaks at {} (measured; {:.0}% of peak)",
            rate(self.achieved, &self.unit),
            self.what,
            rate(self.ceiling, &self.unit),
            self.percent
        )
    }
}

/// 3600 TFLOP/s as "3.6 PFLOP/s", 67 as "67.0 TFLOP/s".
fn rate(value: f64, unit: &str) -> String {
    match unit {
        "TFLOP/s" if value >= 1000.0 => format!("{:.1} PFLOP/s", value / 1000.0),
        "GB/s" if value >= 1000.0 => format!("{:.2} TB/s", value / 1000.0),
        _ => format!("{value:.1} {unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H200: Ceilings = Ceilings { fp32_tflops: 60.0, tf32_tflops: 400.0, bf16_tflops: 800.0, dram_gbs: 4300.0 };

    #[test]
    fn the_write_ups_kernel_is_impossible() {
        // N = 4096 trimm: 22.9 GFLOP "done" in the 6.4 µs the write-up's kernel reported.
        let n = 4096f64;
        let flops = n * (n + 1.0) * (n + 2.0) / 3.0;
        let got = assess(PrecisionClass::Fp32, flops, 4.0 * n * (n + 1.0), 0.0064, &H200);
        assert!(got.impossible());
        assert!(got.to_string().starts_with("3.6 PFLOP/s of fp32-class"), "{got}");
    }

    #[test]
    fn an_honest_kernel_near_cublas_is_possible() {
        let n = 4096f64;
        let flops = n * (n + 1.0) * (n + 2.0) / 3.0;
        let got = assess(PrecisionClass::Fp32, flops, 4.0 * n * (n + 1.0), 1.466, &H200);
        assert!(!got.impossible());
        assert!((got.percent - 100.0 * flops / 1.466e-3 / 1e12 / (400.0 / 3.0)).abs() < 1e-9);
    }

    #[test]
    fn class_picks_the_ceiling() {
        assert_eq!(compute_ceiling(PrecisionClass::Tf32, &H200).0, 400.0);
        let slow_tensor = Ceilings { tf32_tflops: 100.0, ..H200 };
        assert_eq!(compute_ceiling(PrecisionClass::Fp32, &slow_tensor), (60.0, "fp32 (CUDA-core FMA)"));
    }

    #[test]
    fn a_copy_faster_than_dram_is_impossible() {
        // 1 GB read in 0.1 ms = 10 TB/s, with almost no flops.
        let got = assess(PrecisionClass::Fp32, 1.0, 1e9, 0.1, &H200);
        assert_eq!(got.unit, "GB/s");
        assert!(got.impossible(), "{got}");
    }
}
