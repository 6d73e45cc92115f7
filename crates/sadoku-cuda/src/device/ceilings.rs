//! The card's ceilings (peak fp32 FMA, TF32 and BF16 tensor-core GEMM, DRAM bandwidth),
//! measured on a judge's device and kept in a sealed cache, one entry per GPU: they bound what a
//! candidate's speed may claim, so a cached figure is used only where it was measured on this
//! model under this driver and its seal holds.

use std::ffi::c_void;

use cudarc::cublas::sys as cublas_sys;
use cudarc::driver::sys;
use sadoku_core::device::{Buffer, Ceilings, DeviceError};
use serde::{Deserialize, Serialize};

use super::errors::{blas, env};
use super::{CudaDevice, Role};

/// FMAs per thread per iteration of `sadoku_fma_peak`.
const FMA_CHAINS: u64 = 8;
/// `sadoku_fma_peak`'s shape: blocks per SM (× SMs) of this many threads, and iterations (~10 ms on
/// an H200).
const FMA_BLOCKS_PER_SM: u32 = 8;
const FMA_THREADS: u32 = 256;
const FMA_ITERS: i32 = 1 << 17;
/// Version of the ceilings cache: 2 adds the DRAM read sweep to the copy.
const CEILINGS_VERSION: u32 = 2;
/// The GEMMs behind the tensor-core ceilings: m = n = k.
const CEILING_GEMM: usize = 8192;
/// The copy behind the DRAM ceiling.
const CEILING_COPY_BYTES: usize = 1 << 30;

/// The ceilings cache file: the figures, and what they are valid for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CeilingsFile {
    /// What was measured: files of another version are measured again.
    #[serde(default)]
    version: u32,
    device: String,
    driver: Option<String>,
    cuda_driver: String,
    ceilings: Ceilings,
}

impl CudaDevice {
    /// C = A·B, all n×n, through cublasGemmEx: `ab` is A's and B's element type, C is fp32.
    fn square_gemm_ex(
        &self,
        n: usize,
        ab: cublas_sys::cudaDataType,
        compute: cublas_sys::cublasComputeType_t,
        bufs: [Buffer; 3],
    ) -> Result<(), DeviceError> {
        let handle = self.cublas_handle()?;
        let (a, b, c) = (self.ptr(bufs[0])?, self.ptr(bufs[1])?, self.ptr(bufs[2])?);
        let (one, zero) = (1.0f32, 0.0f32);
        let n = n as i32;
        let nn = cublas_sys::cublasOperation_t::CUBLAS_OP_N;
        // SAFETY: each buffer holds n×n elements of its type.
        unsafe {
            cublas_sys::cublasGemmEx(
                handle,
                nn,
                nn,
                n,
                n,
                n,
                (&one as *const f32).cast(),
                a as *const c_void,
                ab,
                n,
                b as *const c_void,
                ab,
                n,
                (&zero as *const f32).cast(),
                c as *mut c_void,
                cublas_sys::cudaDataType::CUDA_R_32F,
                n,
                compute,
                cublas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DFALT,
            )
            .result()
        }
        .map_err(blas("GemmEx (ceilings)"))
    }

    /// Measure the card's peak rates (see [`Ceilings`]); every temporary allocation is freed.
    fn measure_ceilings(&mut self) -> Result<Ceilings, DeviceError> {
        let mut temps = Vec::new();
        let measured = self.measure_ceilings_in(&mut temps);
        for b in temps {
            self.free_buffer(b);
        }
        measured
    }

    fn measure_ceilings_in(&mut self, temps: &mut Vec<Buffer>) -> Result<Ceilings, DeviceError> {
        let alloc = |d: &mut Self, temps: &mut Vec<Buffer>, bytes: usize| -> Result<Buffer, DeviceError> {
            let b = d.alloc_plain(bytes)?;
            temps.push(b);
            Ok(b)
        };

        // fp32 FMA on CUDA cores.
        let blocks = self.info.multiprocessors.max(1) * FMA_BLOCKS_PER_SM;
        let out = alloc(self, temps, blocks as usize * FMA_THREADS as usize * 4)?;
        let out_ptr = self.ptr(out)?;
        let ms = self.best_ms("the FMA peak kernel", &|d| {
            d.launch_helper("sadoku_fma_peak", blocks, FMA_THREADS, &[out_ptr, FMA_ITERS as u32 as u64])
        })?;
        let flops = 2.0 * (FMA_CHAINS * FMA_ITERS as u64 * blocks as u64 * FMA_THREADS as u64) as f64;
        let fp32_tflops = flops / (ms * 1e-3) / 1e12;

        // Tensor-core GEMMs, m = n = k. A and B hold small finite numbers in either type
        // (0x3C00 is 2⁻⁷ as a bf16; 0x3C003C00 about 0.0078 as an fp32).
        let n = CEILING_GEMM;
        let (a, b, c) =
            (alloc(self, temps, n * n * 4)?, alloc(self, temps, n * n * 4)?, alloc(self, temps, n * n * 4)?);
        for x in [a, b, c] {
            self.enqueue_fill(x, 0x3C00_3C00, "memset")?;
        }
        let gemm_flops = 2.0 * (n as f64).powi(3);
        use cublas_sys::{cublasComputeType_t as Compute, cudaDataType as Type};
        let ms = self.best_ms("the TF32 GEMM", &|d| {
            d.square_gemm_ex(n, Type::CUDA_R_32F, Compute::CUBLAS_COMPUTE_32F_FAST_TF32, [a, b, c])
        })?;
        let tf32_tflops = gemm_flops / (ms * 1e-3) / 1e12;
        let ms = self.best_ms("the BF16 GEMM", &|d| {
            d.square_gemm_ex(n, Type::CUDA_R_16BF, Compute::CUBLAS_COMPUTE_32F, [a, b, c])
        })?;
        let bf16_tflops = gemm_flops / (ms * 1e-3) / 1e12;
        for x in temps.drain(..) {
            self.free_buffer(x);
        }

        // DRAM: a device-to-device copy reads and writes every byte.
        let bytes = CEILING_COPY_BYTES;
        let (src, dst) = (alloc(self, temps, bytes)?, alloc(self, temps, bytes)?);
        self.enqueue_fill(src, 0x3C00_3C00, "memset")?;
        let (from, to) = (self.ptr(src)?, self.ptr(dst)?);
        let ms = self.best_ms("the DRAM copy", &|d| {
            let stream = d.state()?.stream;
            // SAFETY: both buffers hold `bytes` bytes.
            unsafe { sys::cuMemcpyDtoDAsync_v2(to, from, bytes, stream) }.result().map_err(env("device copy"))
        })?;
        let copy_gbs = 2.0 * bytes as f64 / (ms * 1e-3) / 1e9;
        // And a read-only sweep: a kernel that only reads (a reduction) can stream faster than a
        // copy, whose writes share the bus. The ceiling is the faster of the two.
        let src_ptr = from;
        let words = (bytes / 16) as u64;
        let blocks = self.info.multiprocessors.max(1) * 8;
        let ms = self.best_ms("the DRAM read sweep", &|d| {
            d.launch_helper("sadoku_read_peak", blocks, 512, &[src_ptr, words, to])
        })?;
        let read_gbs = bytes as f64 / (ms * 1e-3) / 1e9;
        Ok(Ceilings { fp32_tflops, tf32_tflops, bf16_tflops, dram_gbs: copy_gbs.max(read_gbs) })
    }

    /// The GPU's UUID as nvidia-smi shows it ("GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx").
    fn uuid(&self) -> Option<String> {
        let mut uuid = sys::CUuuid_st { bytes: [0; 16] };
        // SAFETY: `dev` came from cuDeviceGet; plain out-parameter.
        unsafe { sys::cuDeviceGetUuid_v2(&mut uuid, self.dev) }.result().ok()?;
        let hex: String = uuid.bytes.iter().map(|&b| format!("{:02x}", b as u8)).collect();
        Some(format!("GPU-{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
    }

    /// The sealed store of measured ceilings and this GPU's entry in it (its cache file), when
    /// there is a cache directory and a UUID.
    fn ceilings_store(&self) -> Option<(sadoku_core::cache::Sealed, String)> {
        let dir = self.ceilings_dir.as_ref()?;
        let name = format!("{}.json", self.uuid()?);
        match sadoku_core::cache::Sealed::open(dir) {
            Ok(store) => Some((store, name)),
            Err(why) => {
                eprintln!("sadoku: note: measured ceilings are not cached: {why}");
                None
            }
        }
    }

    /// Cached ceilings, if a judge measured them on this GPU model under this driver and the
    /// entry's seal holds (a doctored ceiling would let impossible speeds pass).
    fn read_ceilings(&self, store: &sadoku_core::cache::Sealed, name: &str) -> Option<Ceilings> {
        let bytes = match store.get(name) {
            sadoku_core::cache::Lookup::Hit(bytes) => bytes,
            sadoku_core::cache::Lookup::Miss => return None,
            sadoku_core::cache::Lookup::Broken(why) => {
                eprintln!("sadoku: warning: cached ceilings were ignored and will be measured again: {why}");
                return None;
            }
        };
        let file: CeilingsFile = serde_json::from_slice(&bytes).ok()?;
        let c = file.ceilings;
        let plausible =
            [c.fp32_tflops, c.tf32_tflops, c.bf16_tflops, c.dram_gbs].iter().all(|x| x.is_finite() && *x > 0.0);
        (file.version == CEILINGS_VERSION
            && file.device == self.info.name
            && file.driver == self.info.driver
            && file.cuda_driver == self.info.cuda_driver
            && plausible)
            .then_some(c)
    }

    /// Best effort: a cache that cannot be written only costs a measurement next time.
    fn write_ceilings(&self, store: &sadoku_core::cache::Sealed, name: &str, ceilings: Ceilings) {
        let file = CeilingsFile {
            version: CEILINGS_VERSION,
            device: self.info.name.clone(),
            driver: self.info.driver.clone(),
            cuda_driver: self.info.cuda_driver.clone(),
            ceilings,
        };
        if let Ok(text) = serde_json::to_string_pretty(&file) {
            store.put(name, (text + "\n").as_bytes());
        }
    }

    /// [`sadoku_core::device::Device::ceilings`]: none on a candidate's device; else measured once
    /// per device, or read from the cache.
    pub(super) fn cached_ceilings(&mut self) -> Result<Option<Ceilings>, DeviceError> {
        if self.role == Role::Candidate {
            return Ok(None);
        }
        if let Some(c) = self.ceilings {
            return Ok(Some(c));
        }
        self.state()?;
        let store = self.ceilings_store();
        let c = match store.as_ref().and_then(|(s, name)| self.read_ceilings(s, name)) {
            Some(c) => c,
            None => {
                let c = self.measure_ceilings()?;
                if let Some((s, name)) = &store {
                    self.write_ceilings(s, name, c);
                }
                c
            }
        };
        self.ceilings = Some(c);
        Ok(Some(c))
    }

    /// The ceilings measured again, each the higher of that and what was held (see
    /// `Device::ceilings_again`), kept in memory and in the cache.
    pub(super) fn ceilings_measured_again(&mut self) -> Result<Option<Ceilings>, DeviceError> {
        let Some(held) = self.cached_ceilings()? else { return Ok(None) };
        let c = held.higher(&self.measure_ceilings()?);
        if c != held
            && let Some((s, name)) = self.ceilings_store()
        {
            self.write_ceilings(&s, &name, c);
        }
        self.ceilings = Some(c);
        Ok(Some(c))
    }
}
