//! Physics: no kernel computes faster than the card can (docs/THREATS.md). A candidate whose
//! achieved rate beats the card's measured peak by more than a margin did not do the work.

use serde::Serialize;

use super::accuracy::PrecisionClass;
use crate::device::Ceilings;

/// How far above a measured peak a rate may be before it is called impossible: the peaks are
/// measured with good but not perfect kernels.
pub const MARGIN: f64 = 1.10;

/// What a rate is compared with.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CeilingUse {
    /// e.g. "fp32 SIMT" or "fp32-class (3×TF32)".
    #[serde(default)]
    pub what: String,
    /// Why that ceiling: what the kernel's PTX can execute.
    #[serde(default)]
    pub why: String,
    #[serde(default)]
    pub achieved: f64,
    #[serde(default)]
    pub ceiling: f64,
    /// "TFLOP/s" or "GB/s".
    #[serde(default)]
    pub unit: String,
    /// achieved / ceiling, in percent.
    #[serde(default)]
    pub percent: f64,
}

/// The tensor-core instructions a module's PTX contains: what its kernels can execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TensorUse {
    /// `mma`, `wmma` or `wgmma` on TF32 operands.
    pub tf32: bool,
    /// On fp16 or bf16 operands.
    pub half: bool,
    /// On anything else (fp64, int8, fp8, ...).
    pub other: bool,
}

impl TensorUse {
    pub fn any(&self) -> bool {
        self.tf32 || self.half || self.other
    }
}

/// Scan PTX for tensor-core instructions (`mma.sync`, `wmma.mma.sync`, `wgmma.mma_async`) and
/// their operand types.
pub fn tensor_use(ptx: &str) -> TensorUse {
    let mut t = TensorUse::default();
    for line in ptx.lines() {
        let mut op = line.trim_start();
        // A predicate guard: "@%p1 mma.sync...".
        if op.starts_with('@') {
            op = op.split_once(char::is_whitespace).map_or("", |(_, rest)| rest.trim_start());
        }
        let opcode = op.split_whitespace().next().unwrap_or("");
        if !(opcode.starts_with("mma.") || opcode.starts_with("wmma.mma") || opcode.starts_with("wgmma.mma_async")) {
            continue;
        }
        let types: Vec<&str> = opcode.split('.').collect();
        // wmma on fp16 operands names only the result and accumulator types (`.f32.f32`, `.f16.f32`):
        // every other operand type is spelled out.
        let explicit = ["tf32", "bf16", "f64", "s8", "u8", "s4", "u4", "b1", "e4m3", "e5m2"];
        let wmma_f16 = opcode.starts_with("wmma.mma") && !types.iter().any(|t| explicit.contains(t));
        if types.contains(&"tf32") {
            t.tf32 = true;
        } else if types.contains(&"f16") || types.contains(&"bf16") || wmma_f16 {
            t.half = true;
        } else {
            t.other = true;
        }
    }
    t
}

/// The compute ceiling for a precision class and the instructions a kernel can execute: the
/// fastest way any such kernel could compute. A kernel without tensor-core instructions is held to
/// the CUDA cores' FMA rate whatever its class; an fp32-class result on tensor cores may come from
/// a split-precision method (3×TF32: three tensor-core products per product).
pub fn compute_ceiling(class: PrecisionClass, c: &Ceilings, tensor: TensorUse) -> (f64, String, String) {
    if !tensor.any() {
        return (c.fp32_tflops, "fp32 SIMT".into(), "its PTX has no mma, wmma or wgmma instructions".into());
    }
    let found = [(tensor.tf32, "TF32"), (tensor.half, "FP16/BF16"), (tensor.other, "other")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(" and ");
    let why = format!("its PTX has {found} tensor-core instructions");
    let mut options: Vec<(f64, String)> = vec![(c.fp32_tflops, "fp32 SIMT".into())];
    match class {
        // fp64 tensor cores (DMMA) are "other" instructions: the split-precision options cover them.
        PrecisionClass::Fp32 | PrecisionClass::Fp64 => {
            // A split-precision method: three tensor-core products per product.
            if tensor.tf32 || tensor.other {
                options.push((c.tf32_tflops / 3.0, "fp32-class (3×TF32)".into()));
            }
            if tensor.half || tensor.other {
                options.push((c.bf16_tflops / 3.0, "fp32-class (3×BF16)".into()));
            }
        }
        PrecisionClass::Tf32 => {
            if tensor.tf32 || tensor.other {
                options.push((c.tf32_tflops, "TF32 tensor-core".into()));
            }
            if tensor.half || tensor.other {
                options.push((c.bf16_tflops, "FP16/BF16 tensor-core".into()));
            }
        }
        // Exact answers (indices, integers) may come from any unit: the most permissive.
        PrecisionClass::Bf16 | PrecisionClass::Exact | PrecisionClass::Wrong => {
            if tensor.tf32 {
                options.push((c.tf32_tflops, "TF32 tensor-core".into()));
            }
            if tensor.half || tensor.other {
                options.push((c.bf16_tflops, "BF16 tensor-core".into()));
            }
        }
    }
    let (peak, what) = options.into_iter().max_by(|a, b| a.0.total_cmp(&b.0)).expect("the SIMT option is always there");
    (peak, what, why)
}

/// Rates of a run that took `ms` for at least `flops` and `bytes`: the one nearest its ceiling.
pub fn assess(class: PrecisionClass, tensor: TensorUse, flops: f64, bytes: f64, ms: f64, c: &Ceilings) -> CeilingUse {
    let seconds = ms * 1e-3;
    let (peak, what, why) = compute_ceiling(class, c, tensor);
    let tflops = flops / seconds / 1e12;
    let compute = CeilingUse {
        what,
        why,
        achieved: tflops,
        ceiling: peak,
        unit: "TFLOP/s".into(),
        percent: 100.0 * tflops / peak,
    };
    let gbs = bytes / seconds / 1e9;
    let memory = CeilingUse {
        what: "DRAM bandwidth".into(),
        why: "the problem's fewest bytes, read after an L2 flush".into(),
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
            "{} of {} on a card that peaks at {} (measured; {:.0}% of peak; that ceiling because {})",
            rate(self.achieved, &self.unit),
            self.what,
            rate(self.ceiling, &self.unit),
            self.percent,
            self.why
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
        let got = assess(PrecisionClass::Fp32, TF32_MMA, flops, 4.0 * n * (n + 1.0), 0.0064, &H200);
        assert!(got.impossible());
        assert!(got.to_string().starts_with("3.6 PFLOP/s of fp32-class (3×TF32)"), "{got}");
        assert!(got.to_string().ends_with("because its PTX has TF32 tensor-core instructions)"), "{got}");
    }

    #[test]
    fn an_honest_kernel_near_cublas_is_possible() {
        let n = 4096f64;
        let flops = n * (n + 1.0) * (n + 2.0) / 3.0;
        let got = assess(PrecisionClass::Fp32, TensorUse::default(), flops, 4.0 * n * (n + 1.0), 1.466, &H200);
        assert!(!got.impossible());
        assert!((got.percent - 100.0 * flops / 1.466e-3 / 1e12 / 60.0).abs() < 1e-9);
    }

    const TF32_MMA: TensorUse = TensorUse { tf32: true, half: false, other: false };

    #[test]
    fn class_and_instructions_pick_the_ceiling() {
        assert_eq!(compute_ceiling(PrecisionClass::Tf32, &H200, TF32_MMA).0, 400.0);
        assert_eq!(compute_ceiling(PrecisionClass::Fp32, &H200, TF32_MMA).0, 400.0 / 3.0);
        let slow_tensor = Ceilings { tf32_tflops: 100.0, ..H200 };
        assert_eq!(compute_ceiling(PrecisionClass::Fp32, &slow_tensor, TF32_MMA).0, 60.0);
        // No tensor-core instructions: the SIMT peak, whatever the class.
        for class in [PrecisionClass::Fp32, PrecisionClass::Tf32, PrecisionClass::Bf16] {
            let (peak, what, why) = compute_ceiling(class, &H200, TensorUse::default());
            assert_eq!((peak, what.as_str()), (60.0, "fp32 SIMT"));
            assert_eq!(why, "its PTX has no mma, wmma or wgmma instructions");
        }
        let half = TensorUse { half: true, ..TensorUse::default() };
        assert_eq!(compute_ceiling(PrecisionClass::Bf16, &H200, half).0, 800.0);
        assert_eq!(compute_ceiling(PrecisionClass::Tf32, &H200, half).0, 800.0);
    }

    /// The paced cache: 85 TFLOP/s from a kernel without mma passed under the 3×TF32
    /// ceiling; under the SIMT peak it is impossible.
    #[test]
    fn a_simt_kernel_faster_than_simt_is_impossible() {
        let n = 4096f64;
        let flops = n * (n + 1.0) * (n + 2.0) / 3.0;
        let ms = flops / 85e12 * 1e3;
        let bytes = 4.0 * n * (n + 1.0);
        assert!(!assess(PrecisionClass::Fp32, TF32_MMA, flops, bytes, ms, &H200).impossible());
        assert!(assess(PrecisionClass::Fp32, TensorUse::default(), flops, bytes, ms, &H200).impossible());
    }

    #[test]
    fn tensor_instructions_are_found_in_ptx() {
        let ptx = "\t@%p1 mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%f1, %f2}, {%r1}, {%r2}, {%f3};\n";
        assert_eq!(tensor_use(ptx), TF32_MMA);
        let w = "\twgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%f1}, %rd1, %rd2, p, 1, 1, 0, 0;";
        assert_eq!(tensor_use(w), TensorUse { half: true, ..TensorUse::default() });
        // wmma on fp16 names only the result and accumulator types; other operand types are spelled.
        let wm = "\twmma.mma.sync.aligned.row.col.m16n16k16.f32.f32 {%f1}, {%r1}, {%r2}, {%f2};";
        assert_eq!(tensor_use(wm), TensorUse { half: true, ..TensorUse::default() });
        let wb = "\twmma.mma.sync.aligned.row.col.m16n16k16.f32.bf16.bf16.f32 {%f1}, {%r1}, {%r2}, {%f2};";
        assert_eq!(tensor_use(wb), TensorUse { half: true, ..TensorUse::default() });
        let wi = "\twmma.mma.sync.aligned.row.col.m16n16k16.s32.s8.s8.s32 {%r1}, {%r2}, {%r3}, {%r4};";
        assert_eq!(tensor_use(wi), TensorUse { other: true, ..TensorUse::default() });
        let none = "\tfma.rn.f32 %f1, %f2, %f3, %f1;\n\t// mma.sync in a comment\n\tld.global.f32 %f4, [%rd1];";
        assert!(!tensor_use(none).any());
    }

    #[test]
    fn a_copy_faster_than_dram_is_impossible() {
        // 1 GB read in 0.1 ms = 10 TB/s, with almost no flops.
        let got = assess(PrecisionClass::Fp32, TensorUse::default(), 1.0, 1e9, 0.1, &H200);
        assert_eq!(got.unit, "GB/s");
        assert!(got.impossible(), "{got}");
    }
}
