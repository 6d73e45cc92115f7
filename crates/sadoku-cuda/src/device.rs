//! A CUDA GPU behind `sadoku_core::device::Device`, on the driver API.
//!
//! One stream, explicit allocations, cuBLAS for references and baselines, and a small helper
//! module (tril, SM clock). After a kernel fault the CUDA context is unusable ("sticky" errors), so
//! the device refuses further work with `DeviceError::ContextLost`.

use std::collections::HashMap;
use std::ffi::{CString, c_void};
use std::time::Duration;

use cudarc::cublas::{result as cublas, sys as cublas_sys};
use cudarc::driver::{DriverError, result, sys};
use sadoku_core::compile::{CompileError, CompileRequest, CompiledModule, Compiler};
use sadoku_core::device::{
    Buffer, Device, DeviceError, DeviceInfo, KernelArg, Launch, LibraryOp, ModuleHandle, Precision, Sample, Work,
};

use crate::libs;
use crate::nvrtc::Nvrtc;

/// Shared memory a block gets without opting in.
const DEFAULT_SHARED_LIMIT: u32 = 48 << 10;

const HELPERS: &str = r#"
extern "C" __global__ void sadoku_tril_f32(float* c, long long n) {
    // Out of place in torch, in place here: every element read and written, as torch's tril does.
    for (long long i = blockIdx.y; i < n; i += gridDim.y)
        for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < n; j += (long long)gridDim.x * blockDim.x) {
            float v = c[i * n + j];
            c[i * n + j] = j <= i ? v : 0.0f;
        }
}

extern "C" __global__ void sadoku_sm_clock(unsigned long long* out, unsigned long long spin_ns) {
    unsigned long long t0, t1;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    long long c0 = clock64();
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1)); } while (t1 - t0 < spin_ns);
    long long c1 = clock64();
    if (threadIdx.x == 0) { out[0] = (unsigned long long)(c1 - c0); out[1] = t1 - t0; }
}
"#;

fn code(e: &DriverError) -> String {
    e.error_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|_| format!("CUDA error {}", e.0 as i32))
}

fn message(e: &DriverError) -> String {
    e.error_string().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

fn env(what: &str) -> impl Fn(DriverError) -> DeviceError + '_ {
    move |e| DeviceError::Environment(format!("{what}: {}: {}", code(&e), message(&e)))
}

fn blas(what: &str) -> impl Fn(cublas::CublasError) -> DeviceError + '_ {
    move |e| DeviceError::Environment(format!("cuBLAS {what}: {e:?}"))
}

struct Loaded {
    module: sys::CUmodule,
    functions: HashMap<String, sys::CUfunction>,
}

/// Everything that lives in the CUDA context, rebuilt after a reset.
struct State {
    stream: sys::CUstream,
    /// Only on a reference device: a candidate's process never loads cuBLAS.
    cublas: Option<cublas_sys::cublasHandle_t>,
    start: sys::CUevent,
    stop: sys::CUevent,
    flush: sys::CUdeviceptr,
    flush_words: usize,
    helpers: Loaded,
    buffers: HashMap<u64, sys::CUdeviceptr>,
    modules: HashMap<u64, Loaded>,
}

/// What a device is for: the judge's reference work, or one candidate's launches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// fp64 truth and baselines: cuBLAS and sadoku's helpers.
    Reference,
    /// A candidate's kernels only; library work is refused.
    Candidate,
}

pub struct CudaDevice {
    dev: sys::CUdevice,
    role: Role,
    nvrtc: Nvrtc,
    info: DeviceInfo,
    helper_image: CompiledModule,
    state: Option<State>,
    /// Why `state` is gone, once it is.
    lost: String,
    next_id: u64,
}

/// How many CUDA GPUs this process can see.
pub fn device_count() -> Result<usize, DeviceError> {
    libs::driver().map_err(|e| DeviceError::Environment(e.to_string()))?;
    result::init()
        .map_err(|e| DeviceError::Environment(format!("no usable CUDA GPU: cuInit failed with {}", code(&e))))?;
    Ok(result::device::get_count().map_err(env("cuDeviceGetCount"))? as usize)
}

impl CudaDevice {
    /// Open GPU `ordinal`, with NVRTC to build sadoku's helper kernels.
    pub fn open(ordinal: usize, nvrtc: Nvrtc, role: Role) -> Result<CudaDevice, DeviceError> {
        let lib = |e: libs::LibraryError| DeviceError::Environment(e.to_string());
        libs::driver().map_err(lib)?;
        if role == Role::Reference {
            libs::cublas().map_err(lib)?;
        }
        result::init().map_err(|e| {
            DeviceError::Environment(format!("no usable CUDA GPU: cuInit failed with {}: {}", code(&e), message(&e)))
        })?;
        let count = result::device::get_count().map_err(env("cuDeviceGetCount"))? as usize;
        if ordinal >= count {
            return Err(DeviceError::Environment(format!(
                "GPU {ordinal} does not exist: this machine has {count} CUDA device(s)"
            )));
        }
        let dev = result::device::get(ordinal as i32).map_err(env("cuDeviceGet"))?;
        let attr = |a: sys::CUdevice_attribute| -> Result<i32, DeviceError> {
            // SAFETY: `dev` came from cuDeviceGet.
            unsafe { result::device::get_attribute(dev, a) }.map_err(env("cuDeviceGetAttribute"))
        };
        use sys::CUdevice_attribute::*;
        let cc = (
            attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)? as u32,
            attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)? as u32,
        );
        let mut driver_version = 0;
        // SAFETY: plain out-parameter.
        unsafe { sys::cuDriverGetVersion(&mut driver_version) }.result().map_err(env("cuDriverGetVersion"))?;
        let info = DeviceInfo {
            name: result::device::get_name(dev).map_err(env("cuDeviceGetName"))?,
            ordinal,
            compute_capability: cc,
            multiprocessors: attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)? as u32,
            l2_bytes: attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)? as usize,
            // SAFETY: as above.
            memory_bytes: unsafe { result::device::total_mem(dev) }.map_err(env("cuDeviceTotalMem"))?,
            max_shared_per_block_optin: attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)? as usize,
            driver: kernel_driver_version(),
            cuda_driver: format!("{}.{}", driver_version / 1000, driver_version % 1000 / 10),
            nvrtc: Some(nvrtc.version()),
            cublas: None,
            sm_clock_mhz: None,
        };
        let helper_image = nvrtc
            .compile(&CompileRequest {
                name: "sadoku_helpers.cu".into(),
                source: HELPERS.into(),
                arch: info.arch(),
                options: vec![],
            })
            .map_err(|e| DeviceError::Environment(format!("building sadoku's helper kernels: {e}")))?;
        let mut device =
            CudaDevice { dev, role, nvrtc, info, helper_image, state: None, lost: String::new(), next_id: 1 };
        device.state = Some(device.create_state()?);
        if let Some(handle) = device.state()?.cublas {
            let mut version = 0;
            // SAFETY: the handle was just created.
            unsafe { cublas_sys::cublasGetVersion_v2(handle, &mut version) }.result().map_err(blas("version"))?;
            device.info.cublas = Some(format!("{}.{}.{}", version / 10000, version % 10000 / 100, version % 100));
        }
        Ok(device)
    }

    fn create_state(&self) -> Result<State, DeviceError> {
        // SAFETY: `dev` came from cuDeviceGet; every handle below is owned by the new State.
        unsafe {
            let ctx = result::primary_ctx::retain(self.dev).map_err(env("cuDevicePrimaryCtxRetain"))?;
            result::ctx::set_current(ctx).map_err(env("cuCtxSetCurrent"))?;
            let stream =
                result::stream::create(result::stream::StreamKind::NonBlocking).map_err(env("cuStreamCreate"))?;
            let handle = match self.role {
                Role::Candidate => None,
                Role::Reference => {
                    let handle = cublas::create_handle().map_err(blas("create"))?;
                    cublas::set_stream(handle, stream as _).map_err(blas("set stream"))?;
                    // Plain fp32: no TF32 tensor cores unless a baseline asks for them.
                    cublas_sys::cublasSetMathMode(handle, cublas_sys::cublasMath_t::CUBLAS_DEFAULT_MATH)
                        .result()
                        .map_err(blas("set math mode"))?;
                    Some(handle)
                }
            };
            let event = || result::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT).map_err(env("cuEventCreate"));
            let (start, stop) = (event()?, event()?);
            // Twice L2, so that a flush evicts everything whatever the replacement policy.
            let flush_words = (2 * self.info.l2_bytes).max(1 << 20) / 4;
            let flush = result::malloc_sync(flush_words * 4).map_err(env("allocating the L2 flush buffer"))?;
            let helpers = load(&self.helper_image).map_err(env("loading sadoku's helper kernels"))?;
            Ok(State {
                stream,
                cublas: handle,
                start,
                stop,
                flush,
                flush_words,
                helpers,
                buffers: HashMap::new(),
                modules: HashMap::new(),
            })
        }
    }

    fn state(&self) -> Result<&State, DeviceError> {
        self.state.as_ref().ok_or_else(|| DeviceError::ContextLost(self.lost.clone()))
    }

    /// The device address of a buffer, or of a view into one.
    fn ptr(&self, b: Buffer) -> Result<sys::CUdeviceptr, DeviceError> {
        self.state()?.buffers.get(&b.id).map(|base| base + b.offset as u64).ok_or_else(|| {
            DeviceError::Environment(format!("buffer {} is not allocated (lost in a context reset?)", b.id))
        })
    }

    fn sync(&self) -> Result<(), DriverError> {
        // SAFETY: the stream belongs to the live state.
        unsafe { result::stream::synchronize(self.state.as_ref().map_or(std::ptr::null_mut(), |s| s.stream)) }
    }

    fn enqueue_launch(&self, l: &Launch) -> Result<(), DeviceError> {
        let state = self.state()?;
        let refused =
            |code: String, message: String| DeviceError::LaunchRefused { kernel: l.kernel.clone(), code, message };
        let f = *state
            .modules
            .get(&l.module.0)
            .and_then(|m| m.functions.get(&l.kernel))
            .ok_or_else(|| refused("CUDA_ERROR_NOT_FOUND".into(), "no such kernel in the loaded module".into()))?;
        if l.shared_mem > DEFAULT_SHARED_LIMIT {
            let limit = self.info.max_shared_per_block_optin;
            // SAFETY: `f` is a live function of a loaded module.
            unsafe {
                result::function::set_function_attribute(
                    f,
                    sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    l.shared_mem as i32,
                )
            }
            .map_err(|e| {
                refused(
                    code(&e),
                    format!("{} bytes of dynamic shared memory; this GPU allows {limit} per block", l.shared_mem),
                )
            })?;
        }
        let mut values: Vec<u64> = Vec::with_capacity(l.args.len());
        for a in &l.args {
            values.push(match a {
                KernelArg::Buffer(b) => self.ptr(*b)?,
                KernelArg::I32(v) => *v as u32 as u64,
                KernelArg::I64(v) => *v as u64,
            });
        }
        // Each parameter points at its own 8-byte slot; a 4-byte parameter reads the low half
        // (little-endian), which holds the i32.
        let mut params: Vec<*mut c_void> = values.iter_mut().map(|v| (v as *mut u64).cast()).collect();
        let grid = (l.grid[0], l.grid[1], l.grid[2]);
        let block = (l.block[0], l.block[1], l.block[2]);
        // SAFETY: `params` matches the kernel's signature (checked against its PTX beforehand),
        // buffers are live allocations of this context.
        unsafe { result::launch_kernel(f, grid, block, l.shared_mem, state.stream, &mut params) }
            .map_err(|e| refused(code(&e), message(&e)))
    }

    fn enqueue_library(&self, op: &LibraryOp) -> Result<(), DeviceError> {
        let state = self.state()?;
        let Some(handle) = state.cublas else {
            return Err(DeviceError::Environment(
                "a candidate device runs candidate kernels only, never library work".into(),
            ));
        };
        match *op {
            LibraryOp::Gemm { precision, m, n, k, a, b, c } => {
                let (a, b, c) = (self.ptr(a)?, self.ptr(b)?, self.ptr(c)?);
                let (m, n, k) = (m as i32, n as i32, k as i32);
                let nn = cublas_sys::cublasOperation_t::CUBLAS_OP_N;
                // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: swap the operands.
                // SAFETY: pointers are live allocations sized by the problem for m, n, k.
                unsafe {
                    match precision {
                        Precision::F64 => cublas::dgemm(
                            handle,
                            nn,
                            nn,
                            n,
                            m,
                            k,
                            &1.0,
                            b as *const f64,
                            n,
                            a as *const f64,
                            k,
                            &0.0,
                            c as *mut f64,
                            n,
                        ),
                        Precision::F32 => cublas::sgemm(
                            handle,
                            nn,
                            nn,
                            n,
                            m,
                            k,
                            &1.0,
                            b as *const f32,
                            n,
                            a as *const f32,
                            k,
                            &0.0,
                            c as *mut f32,
                            n,
                        ),
                        Precision::Tf32 => {
                            let (one, zero) = (1.0f32, 0.0f32);
                            let r32 = cublas_sys::cudaDataType::CUDA_R_32F;
                            cublas_sys::cublasGemmEx(
                                handle,
                                nn,
                                nn,
                                n,
                                m,
                                k,
                                (&one as *const f32).cast(),
                                b as *const c_void,
                                r32,
                                n,
                                a as *const c_void,
                                r32,
                                k,
                                (&zero as *const f32).cast(),
                                c as *mut c_void,
                                r32,
                                n,
                                cublas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_TF32,
                                cublas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DFALT,
                            )
                            .result()
                        }
                    }
                }
                .map_err(blas("GEMM"))
            }
            LibraryOp::TrilF32 { c, n } => {
                let f = state.helpers.functions["sadoku_tril_f32"];
                let mut ptr = self.ptr(c)?;
                let mut n64 = n as i64;
                let mut params: Vec<*mut c_void> = vec![(&mut ptr as *mut u64).cast(), (&mut n64 as *mut i64).cast()];
                let grid = ((n as u32).div_ceil(256).clamp(1, 64), (n as u32).clamp(1, 65_535), 1);
                // SAFETY: matches the helper's signature (float*, long long).
                unsafe { result::launch_kernel(f, grid, (256, 1, 1), 0, state.stream, &mut params) }
                    .map_err(env("tril launch"))
            }
        }
    }

    /// Measure the SM clock now: clock64 cycles over globaltimer nanoseconds while spinning.
    pub fn measure_sm_clock(&mut self) -> Result<f64, DeviceError> {
        let out = self.alloc(16)?;
        let result = (|| {
            let state = self.state()?;
            let f = state.helpers.functions["sadoku_sm_clock"];
            let mut ptr = self.ptr(out)?;
            let mut spin: u64 = Duration::from_millis(20).as_nanos() as u64;
            let mut params: Vec<*mut c_void> = vec![(&mut ptr as *mut u64).cast(), (&mut spin as *mut u64).cast()];
            // SAFETY: matches the helper's signature.
            unsafe { result::launch_kernel(f, (1, 1, 1), (32, 1, 1), 0, state.stream, &mut params) }
                .map_err(env("clock launch"))?;
            self.sync().map_err(env("clock kernel"))?;
            let mut words = [0u64; 2];
            // SAFETY: `ptr` holds 16 bytes.
            unsafe { result::memcpy_dtoh_sync(&mut words, ptr) }.map_err(env("reading the clock"))?;
            Ok(words[0] as f64 / words[1].max(1) as f64 * 1e3)
        })();
        self.free(out);
        let mhz = result?;
        self.info.sm_clock_mhz = Some(mhz);
        Ok(mhz)
    }

    /// A kernel fault is sticky: CUDA documents that the context, and in practice the process,
    /// cannot run anything again (seen here: even cuDevicePrimaryCtxRetain after a reset returns
    /// the fault). The device refuses all further work, saying why.
    fn fault(&mut self, kernel: &str, e: DriverError) -> DeviceError {
        let err = DeviceError::KernelFault { kernel: kernel.to_string(), code: code(&e), message: message(&e) };
        // The dead context's handles cannot be released; they go with the process.
        std::mem::forget(self.state.take());
        self.lost = format!("`{kernel}` faulted with {}; a CUDA process cannot run GPU work after that", code(&e));
        err
    }
}

fn load(image: &CompiledModule) -> Result<Loaded, DriverError> {
    // SAFETY: the image is a cubin produced by NVRTC for this device's architecture.
    let module = unsafe { result::module::load_data(image.image.as_ptr().cast()) }?;
    let mut functions = HashMap::new();
    for e in &image.entries {
        let name = CString::new(e.name.as_str()).expect("PTX entry names have no NUL");
        // SAFETY: `module` was just loaded.
        functions.insert(e.name.clone(), unsafe { result::module::get_function(module, name) }?);
    }
    Ok(Loaded { module, functions })
}

/// "580.159.04" from the kernel module's banner ("NVRM version: NVIDIA UNIX Open Kernel Module for
/// x86_64  580.159.04  Release Build ..."), when the OS says.
fn kernel_driver_version() -> Option<String> {
    let text = std::fs::read_to_string("/proc/driver/nvidia/version").ok()?;
    parse_driver_banner(text.lines().next()?)
}

fn parse_driver_banner(line: &str) -> Option<String> {
    line.split_whitespace()
        .find(|w| w.contains('.') && w.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        .map(str::to_string)
}

impl Device for CudaDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn compile(&mut self, request: &CompileRequest) -> Result<CompiledModule, CompileError> {
        self.nvrtc.compile(request)
    }

    fn alloc(&mut self, bytes: usize) -> Result<Buffer, DeviceError> {
        self.state()?;
        // SAFETY: plain allocation in the current context.
        let ptr = unsafe { result::malloc_sync(bytes.max(1)) }.map_err(|e| {
            DeviceError::Environment(format!(
                "allocating {} MiB on the GPU: {}: {}",
                bytes >> 20,
                code(&e),
                message(&e)
            ))
        })?;
        let id = self.next_id;
        self.next_id += 1;
        self.state.as_mut().ok_or_else(|| DeviceError::ContextLost(self.lost.clone()))?.buffers.insert(id, ptr);
        Ok(Buffer { id, offset: 0, bytes })
    }

    fn free(&mut self, buffer: Buffer) {
        if let Some(ptr) = self.state.as_mut().and_then(|s| s.buffers.remove(&buffer.id)) {
            // SAFETY: `ptr` was allocated by malloc_sync in this context and is freed once.
            let _ = unsafe { result::free_sync(ptr) };
        }
    }

    fn upload(&mut self, buffer: Buffer, data: &[u8]) -> Result<(), DeviceError> {
        let ptr = self.ptr(buffer)?;
        if data.len() > buffer.bytes {
            return Err(DeviceError::Environment("upload larger than its buffer".into()));
        }
        // SAFETY: `ptr` holds at least `data.len()` bytes.
        unsafe { result::memcpy_htod_sync(ptr, data) }.map_err(env("copy to GPU"))
    }

    fn download(&mut self, buffer: Buffer, out: &mut [u8]) -> Result<(), DeviceError> {
        let ptr = self.ptr(buffer)?;
        if out.len() > buffer.bytes {
            return Err(DeviceError::Environment("download larger than its buffer".into()));
        }
        // SAFETY: `ptr` holds at least `out.len()` bytes.
        unsafe { result::memcpy_dtoh_sync(out, ptr) }.map_err(env("copy from GPU"))
    }

    fn fill_u32(&mut self, buffer: Buffer, word: u32) -> Result<(), DeviceError> {
        let ptr = self.ptr(buffer)?;
        let stream = self.state()?.stream;
        // SAFETY: `ptr` holds buffer.bytes bytes.
        unsafe { sys::cuMemsetD32Async(ptr, word, buffer.bytes / 4, stream) }.result().map_err(env("memset"))?;
        self.sync().map_err(env("memset"))
    }

    fn load(&mut self, module: &CompiledModule) -> Result<ModuleHandle, DeviceError> {
        self.state()?;
        let loaded = load(module).map_err(|e| DeviceError::ModuleLoad { code: code(&e), message: message(&e) })?;
        let id = self.next_id;
        self.next_id += 1;
        self.state.as_mut().ok_or_else(|| DeviceError::ContextLost(self.lost.clone()))?.modules.insert(id, loaded);
        Ok(ModuleHandle(id))
    }

    fn run(&mut self, work: &[Work]) -> Result<(), DeviceError> {
        for w in work {
            match w {
                Work::Launch(l) => {
                    self.enqueue_launch(l)?;
                    // Wait for each candidate launch, so that a fault names the launch that caused it.
                    if let Err(e) = self.sync() {
                        return Err(self.fault(&l.kernel, e));
                    }
                }
                Work::Library(op) => self.enqueue_library(op)?,
            }
        }
        self.sync().map_err(env("library work"))
    }

    fn time(&mut self, work: &[Work]) -> Result<Sample, DeviceError> {
        let state = self.state()?;
        let (stream, start, stop) = (state.stream, state.start, state.stop);
        // SAFETY: handles of the live state; the flush buffer holds flush_words words.
        unsafe {
            // A persisting-L2 window would survive the flush.
            sys::cuCtxResetPersistingL2Cache().result().map_err(env("resetting persisting L2"))?;
            sys::cuMemsetD32Async(state.flush, 0, state.flush_words, stream).result().map_err(env("L2 flush"))?;
            result::event::record(start, stream).map_err(env("event record"))?;
        }
        for w in work {
            match w {
                Work::Launch(l) => self.enqueue_launch(l)?,
                Work::Library(op) => self.enqueue_library(op)?,
            }
        }
        // SAFETY: as above.
        unsafe { result::event::record(stop, stream) }.map_err(env("event record"))?;
        if let Err(e) = unsafe { result::event::synchronize(stop) } {
            let kernel = work.iter().find_map(|w| if let Work::Launch(l) = w { Some(l.kernel.clone()) } else { None });
            return Err(match kernel {
                Some(k) => self.fault(&format!("{k} (timed run)"), e),
                None => env("timed library work")(e),
            });
        }
        // SAFETY: both events have completed.
        let ms = unsafe { result::event::elapsed(start, stop) }.map_err(env("event elapsed"))?;
        Ok(Sample { ms: ms as f64 })
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            let _ = self.sync();
            // SAFETY: handles of the live state, each destroyed once; the context is released last.
            unsafe {
                for b in state.buffers.values().chain([&state.flush]) {
                    let _ = result::free_sync(*b);
                }
                for m in state.modules.values().chain([&state.helpers]) {
                    let _ = result::module::unload(m.module);
                }
                if let Some(handle) = state.cublas {
                    let _ = cublas::destroy_handle(handle);
                }
                let _ = result::event::destroy(state.start);
                let _ = result::event::destroy(state.stop);
                let _ = result::stream::destroy(state.stream);
                let _ = result::primary_ctx::release(self.dev);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_driver_version_from_either_banner() {
        let open = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (dvs-builder@U22)  Thu";
        let closed = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024";
        assert_eq!(super::parse_driver_banner(open).as_deref(), Some("580.159.04"));
        assert_eq!(super::parse_driver_banner(closed).as_deref(), Some("550.54.15"));
        assert_eq!(super::parse_driver_banner("garbage"), None);
    }
}
