//! `--device sim`: the review path on sadoku-core's simulated device, for CI without a GPU.
//!
//! The judge's device is a plain `SimDevice` (its truth and baselines are host loops). A worker is
//! still a `sadoku worker` process of its own (`--device sim` passed on), serving a `SimDevice`
//! whose kernels are Rust closures standing in for the kernels of a few examples, by name (the
//! simulated compiler exports each registered kernel whose name the source mentions followed by
//! `(`): honest ones, and cheats that misbehave as the examples do. A source naming none of them
//! compiles to a module without the kernel, which the review reports as for a real compile.
//! Simulated memory cannot be mapped across processes, so the judge's buffers are copied to the
//! worker, as on a machine without CUDA IPC; the verdicts stand either way.

use sadoku_core::compile::ModuleCache;
use sadoku_core::device::sim::{SimCall, SimDevice, SimFault};
use sadoku_core::device::{DeviceError, KernelArg, Launch};

use super::{Backend, JudgeDevice, WorkerDevice};
use crate::cli::DeviceArg;

/// The simulated backend: one simulated GPU.
pub struct Sim;

impl Backend for Sim {
    fn arg(&self) -> DeviceArg {
        DeviceArg::Sim
    }

    /// One simulated GPU, or `$SADOKU_SIM_GPUS` of them (tests of several GPUs' lanes).
    fn device_count(&self) -> Result<usize, DeviceError> {
        Ok(std::env::var("SADOKU_SIM_GPUS").ok().and_then(|n| n.parse().ok()).filter(|&n| n > 0).unwrap_or(1))
    }

    fn open_judge(&self, gpu: usize, _no_cache: bool) -> Result<Box<dyn JudgeDevice>, DeviceError> {
        let mut device = SimDevice::new();
        device.set_ordinal(gpu);
        Ok(Box::new(device))
    }

    fn open_worker(&self, _gpu: usize, _compile_memory_gib: f64) -> Result<Box<dyn WorkerDevice>, DeviceError> {
        let mut device = SimDevice::new();
        // Another process's simulated memory is out of reach: say so at once, and the judge copies.
        device.ipc = false;
        register(&mut device);
        Ok(Box::new(device))
    }

    fn python_device(&self) -> &'static str {
        "cpu"
    }
}

impl JudgeDevice for SimDevice {
    fn measure_sm_clock(&mut self) -> Result<f64, DeviceError> {
        Ok((self.clock)(0).unwrap_or(0.0))
    }

    fn module_cache(&self) -> Option<ModuleCache> {
        None
    }
}

impl WorkerDevice for SimDevice {
    fn set_sandbox(&mut self, description: String) {
        SimDevice::set_sandbox(self, description);
    }
}

/// PTX parameter types of `(const float* A, const float* B, float* C, int N)`.
const TRIMM: [&str; 4] = ["u64", "u64", "u64", "u32"];

/// Kernels of the `trimm` examples (C = tril(A·B), A and B lower-triangular N×N fp32) that
/// compute the answer honestly, one sequential fma chain per element.
const HONEST: [&str; 4] = ["trimm_naive", "trimm_tiled", "trimm_tiled_deep", "trimm_fp32_rb"];

/// The simulated kernels, by the names the examples give them.
fn register(device: &mut SimDevice) {
    for name in HONEST {
        device.kernel(name, &TRIMM, |call| trimm(call, |x| x), cost);
    }
    // examples/adversarial/tf32_operands.cu: operands rounded to TF32 in an fp32 review.
    device.kernel("trimm_tf32", &TRIMM, |call| trimm(call, tf32), cost);
    // examples/adversarial/zeroes_inputs.cu: after the right answer, wipe the inputs.
    device.kernel(
        "wipe",
        &["u64", "u64", "u32"],
        |call| {
            let n = call.int(2).max(0) as usize;
            call.write(0, &vec![0.0; n * n])?;
            call.write(1, &vec![0.0; n * n])
        },
        |_| 0.001,
    );
}

/// C = tril(A·B) with `round` applied to each operand.
fn trimm(call: &mut SimCall, round: fn(f32) -> f32) -> Result<(), SimFault> {
    let (a, b, n) = (call.read(0)?, call.read(1)?, call.int(3).max(0) as usize);
    if a.len() < n * n || b.len() < n * n {
        return Err(SimFault(format!("an input holds fewer than N×N = {} elements", n * n)));
    }
    let mut c = vec![0f32; n * n];
    for i in 0..n {
        for j in 0..=i {
            c[i * n + j] = (j..=i).fold(0f32, |acc, k| round(a[i * n + k]).mul_add(round(b[k * n + j]), acc));
        }
    }
    call.write(2, &c)
}

/// Round to TF32: keep 10 of fp32's 23 mantissa bits, to nearest.
fn tf32(x: f32) -> f32 {
    f32::from_bits((x.to_bits() + (1 << 12)) & !((1 << 13) - 1))
}

/// What a `trimm` kernel pretends to take, ms: 5 µs of launch, then N(N+1)(N+2)/3 flops at
/// 20 TFLOP/s (below the simulated card's fp32 ceiling).
fn cost(launch: &Launch) -> f64 {
    let n = launch
        .args
        .get(3)
        .and_then(|a| match a {
            KernelArg::I32(v) => Some(*v as f64),
            KernelArg::I64(v) => Some(*v as f64),
            KernelArg::Buffer(_) => None,
        })
        .unwrap_or(0.0);
    0.005 + n * (n + 1.0) * (n + 2.0) / 3.0 / 20e9
}
