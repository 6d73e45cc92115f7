//! sadoku's own kernels: the CUDA C++ source (`kernels/helpers.cu`, compiled with NVRTC when a
//! device opens), the element-type numbers and launch shapes they expect, and how they are
//! launched. Their work must match the host's bit for bit (the source says against what), so
//! the source is a file of its own, never edited with the Rust around it.

use std::ffi::c_void;

use cudarc::driver::{result, sys};
use sadoku_core::compile::CompileRequest;
use sadoku_core::device::{Buffer, DeviceError};
use sadoku_core::problem::Dtype;

use super::CudaDevice;
use super::errors::{code, message};

/// The helpers' CUDA C++ source: tril, the SM clock, the input generator, poison patterns,
/// content hashes, the comparators, trace markers, the ceiling kernels.
const HELPERS: &str = include_str!("../kernels/helpers.cu");

/// The NVRTC request that builds the helpers for `arch`.
pub(super) fn request(arch: String) -> CompileRequest {
    CompileRequest { name: "sadoku_helpers.cu".into(), source: HELPERS.into(), arch, options: vec![] }
}

/// The helpers' number for an element type (`SADOKU_F32` ...).
pub(super) fn type_code(dtype: Dtype) -> Result<u64, DeviceError> {
    match dtype {
        Dtype::F32 => Ok(0),
        Dtype::F16 => Ok(1),
        Dtype::Bf16 => Ok(2),
        Dtype::I32 => Ok(3),
        Dtype::I64 => Ok(4),
        Dtype::F64 => Ok(5),
        Dtype::U8 => Ok(6),
        Dtype::Bool => Ok(7),
    }
}

/// Threads per block of the element-wise helpers (a multiple of 32: sadoku_hash reduces warps; and
/// exactly SADOKU_THREADS of the helper source: the comparators reduce over blocks of that size).
pub(super) const HELPER_THREADS: u32 = 256;
/// Blocks per SM, at most, of an element-wise helper (see [`CudaDevice::spread`]).
const HELPER_BLOCKS_PER_SM: u32 = 16;
/// u64 words of one block's partial summary in the comparators' first pass.
pub(super) const PARTIAL_WORDS: usize = 9;

impl CudaDevice {
    /// Launch one of sadoku's helper kernels on the device's stream. Each argument is one 8-byte
    /// slot; 4-byte parameters (int, float) read its low half.
    pub(super) fn launch_helper(&self, name: &str, grid: u32, block: u32, args: &[u64]) -> Result<(), DeviceError> {
        let state = self.state()?;
        let f = *state.helpers.functions.get(name).ok_or_else(|| {
            DeviceError::Environment(format!("sadoku's helper kernel `{name}` is missing from its module"))
        })?;
        let mut values = args.to_vec();
        let mut params: Vec<*mut c_void> = values.iter_mut().map(|v| (v as *mut u64).cast()).collect();
        // SAFETY: every helper's parameters are 8-byte slots or 4-byte values in the low half of
        // one, as built by the callers below; pointers are live allocations of this context.
        unsafe { result::launch_kernel(f, (grid, 1, 1), (block, 1, 1), 0, state.stream, &mut params) }.map_err(|e| {
            DeviceError::Environment(format!(
                "sadoku's helper kernel `{name}` failed to launch: {}: {}",
                code(&e),
                message(&e)
            ))
        })
    }

    /// The most blocks an element-wise helper is launched with: enough to fill the GPU.
    pub(super) fn max_spread(&self) -> u32 {
        self.info.multiprocessors.max(1) * HELPER_BLOCKS_PER_SM
    }

    /// Blocks for an element-wise helper over `n` elements: enough to fill the GPU, no more. A
    /// function of `n` (and the GPU) alone, so that the comparators always reduce in one order.
    pub(super) fn spread(&self, n: u64) -> u32 {
        n.div_ceil(HELPER_THREADS as u64).clamp(1, self.max_spread() as u64) as u32
    }

    /// A buffer's address, for a helper that reads or writes it as elements of `align` bytes.
    pub(super) fn aligned_ptr(&self, b: Buffer, align: u64, what: &str) -> Result<sys::CUdeviceptr, DeviceError> {
        let ptr = self.ptr(b)?;
        if ptr % align != 0 {
            return Err(DeviceError::Environment(format!(
                "{what}: buffer {} at offset {} is not aligned to {align} bytes",
                b.id, b.offset
            )));
        }
        Ok(ptr)
    }

    /// Check that a buffer holds `n` elements of `size` bytes.
    pub(super) fn holds(&self, b: Buffer, n: u64, size: u64, what: &str) -> Result<(), DeviceError> {
        if (b.bytes as u64) < n * size {
            return Err(DeviceError::Environment(format!(
                "{what}: buffer {} holds {} bytes, not the {n} elements of {size} bytes needed",
                b.id, b.bytes
            )));
        }
        Ok(())
    }
}
