//! A CUDA GPU behind `sadoku_core::device::Device`, on the driver API.
//!
//! One stream, explicit allocations, cuBLAS for references and baselines, and a small helper
//! module (tril, SM clock, the input generator, poison patterns, content hashes, the comparators,
//! trace markers, an FMA peak kernel). Allocations are shared with a candidate's worker process
//! through CUDA IPC ([`Device::export`], [`Device::import`]). Timed samples are traced with CUPTI
//! when it is available ([`crate::trace`]). After a kernel fault the CUDA context is unusable
//! ("sticky" errors), so the device refuses further work with `DeviceError::ContextLost`.
//!
//! This file holds the [`CudaDevice`] type, its context state and its [`Device`] impl, which
//! hands each concern to a submodule: `memory` (allocations and buffer ids), `ipc` (sharing
//! them with a worker), `library` (the judge's library work: cuBLAS, cuDNN, the helpers),
//! `helpers` (sadoku's own kernels, from `kernels/helpers.cu`), `timing` (timed samples and
//! the SM clock), `ceilings` (the card's peak rates and their cache) and `errors`.

mod ceilings;
mod errors;
mod helpers;
mod ipc;
mod library;
mod memory;
mod timing;

use std::collections::HashMap;
use std::ffi::{CString, c_void};
use std::path::PathBuf;

use cudarc::cublas::{result as cublas, sys as cublas_sys};
use cudarc::driver::{DriverError, result, sys};
use sadoku_core::compile::{CompileError, CompileRequest, CompiledModule, Compiler};
use sadoku_core::device::{
    Buffer, Ceilings, Device, DeviceError, DeviceInfo, KernelArg, Launch, LibraryOp, ModuleHandle, Sample,
    SharedHandle, TimedRun, Work,
};

use self::errors::{blas, code, env, message};
use self::helpers::PARTIAL_WORDS;
use self::memory::Allocation;
use crate::nvrtc::Nvrtc;
use crate::{libs, trace};

/// Shared memory a block gets without opting in.
const DEFAULT_SHARED_LIMIT: u32 = 48 << 10;

/// A loaded module and its kernels; dropping it unloads the module.
struct Loaded {
    module: sys::CUmodule,
    functions: HashMap<String, sys::CUfunction>,
}

impl Drop for Loaded {
    fn drop(&mut self) {
        // SAFETY: a Loaded is made only by `load`, around a module of the current context, and is
        // dropped once: when its module is unloaded (no work of it queued: the judge unloads a
        // reference kernel after its last synchronised run) or the device goes, before the context.
        let _ = unsafe { result::module::unload(self.module) };
    }
}

/// Everything that lives in the CUDA context, rebuilt after a reset.
///
/// Allocations and modules free themselves when dropped; the handles (stream, cuBLAS, events) and
/// the context are released in order by [`CudaDevice`]'s `Drop`. After a fault the whole state is
/// forgotten, never dropped (see [`CudaDevice::fault`]).
struct State {
    stream: sys::CUstream,
    /// Only on a reference device: a candidate's process never loads cuBLAS.
    cublas: Option<cublas_sys::cublasHandle_t>,
    start: sys::CUevent,
    stop: sys::CUevent,
    flush: Allocation,
    flush_words: usize,
    helpers: Loaded,
    buffers: HashMap<u64, Allocation>,
    modules: HashMap<u64, Loaded>,
    /// The per-sample SM clock probe's two words.
    scratch: Allocation,
    /// The comparators' per-block partial summaries: [`PARTIAL_WORDS`] u64 words for each of the
    /// most blocks [`CudaDevice::spread`] gives. One set serves every comparison: they run in
    /// stream order.
    partials: Allocation,
    /// CUPTI's id of this context, to pick its records from the process's trace.
    trace_context: Option<u32>,
    /// cuDNN on this stream, made on a judge's first cuDNN baseline.
    dnn: std::cell::RefCell<Option<crate::dnn::Dnn>>,
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
    /// Measured (or read from the cache file) once per device.
    ceilings: Option<Ceilings>,
    /// Where measured ceilings are kept, one file per GPU (none: always measure).
    ceilings_dir: Option<PathBuf>,
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
            cudnn: None,
            torch: None,
            sandbox: None,
            sm_clock_mhz: None,
            ceilings: None,
        };
        let helper_image = nvrtc
            .compile(&helpers::request(info.arch()))
            .map_err(|e| DeviceError::Environment(format!("building sadoku's helper kernels: {e}")))?;
        // Before the context exists, so that CUPTI sees all of it; failure only means no traces.
        let _ = trace::init();
        let mut device = CudaDevice {
            dev,
            role,
            nvrtc,
            info,
            helper_image,
            state: None,
            lost: String::new(),
            next_id: 1,
            ceilings: None,
            ceilings_dir: crate::nvrtc::cache_root().map(|d| d.join("ceilings")),
        };
        device.state = Some(device.create_state()?);
        if let Some(handle) = device.state()?.cublas {
            let mut version = 0;
            // SAFETY: the handle was just created.
            unsafe { cublas_sys::cublasGetVersion_v2(handle, &mut version) }.result().map_err(blas("version"))?;
            device.info.cublas = Some(format!("{}.{}.{}", version / 10000, version % 10000 / 100, version % 100));
            device.info.cudnn = Some(match libs::cudnn() {
                Ok(()) => crate::dnn::version(),
                Err(why) => format!("not found: no cuDNN baselines ({why})"),
            });
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
            let flush = Allocation::new(flush_words * 4, "allocating the L2 flush buffer")?;
            let helpers = load(&self.helper_image).map_err(env("loading sadoku's helper kernels"))?;
            let scratch = Allocation::new(16, "allocating the SM clock probe's result slots")?;
            let partials = Allocation::new(
                self.max_spread() as usize * PARTIAL_WORDS * 8,
                "allocating the comparators' partial results",
            )?;
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
                scratch,
                partials,
                trace_context: trace::context_id(ctx),
                dnn: std::cell::RefCell::new(None),
            })
        }
    }

    fn state(&self) -> Result<&State, DeviceError> {
        self.state.as_ref().ok_or_else(|| DeviceError::ContextLost(self.lost.clone()))
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

    /// Say how this device's process is confined (a worker's sandbox), in its [`DeviceInfo`].
    pub fn set_sandbox(&mut self, description: String) {
        self.info.sandbox = Some(description);
    }

    /// This device's compiler's module cache (a judge's), to keep what its workers compile.
    pub fn module_cache(&self) -> Option<sadoku_core::compile::ModuleCache> {
        self.nvrtc.module_cache().cloned()
    }

    /// Where [`Device::ceilings`] keeps its measurements (default: `ceilings` under
    /// [`crate::nvrtc::cache_root`]); `None` measures every time.
    pub fn set_ceilings_cache_dir(&mut self, dir: Option<PathBuf>) {
        self.ceilings_dir = dir;
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
        self.alloc_plain(bytes)
    }

    fn alloc_shared(&mut self, bytes: usize) -> Result<Buffer, DeviceError> {
        self.alloc_blocks(bytes)
    }

    fn free(&mut self, buffer: Buffer) {
        self.free_buffer(buffer)
    }

    fn upload(&mut self, buffer: Buffer, data: &[u8]) -> Result<(), DeviceError> {
        self.upload_to(buffer, data)
    }

    fn download(&mut self, buffer: Buffer, out: &mut [u8]) -> Result<(), DeviceError> {
        self.download_from(buffer, out)
    }

    fn fill_u32(&mut self, buffer: Buffer, word: u32) -> Result<(), DeviceError> {
        self.fill_words(buffer, word)
    }

    fn load(&mut self, module: &CompiledModule) -> Result<ModuleHandle, DeviceError> {
        self.state()?;
        let loaded = load(module).map_err(|e| DeviceError::ModuleLoad { code: code(&e), message: message(&e) })?;
        let id = self.next_id;
        self.next_id += 1;
        self.state.as_mut().ok_or_else(|| DeviceError::ContextLost(self.lost.clone()))?.modules.insert(id, loaded);
        Ok(ModuleHandle(id))
    }

    fn unload(&mut self, module: ModuleHandle) {
        // Dropping it unloads it: no work of it is queued (the judge unloads a reference kernel
        // after its last synchronised run).
        drop(self.state.as_mut().and_then(|s| s.modules.remove(&module.0)));
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

    fn time(&mut self, run: &TimedRun) -> Result<Sample, DeviceError> {
        self.time_sample(run)
    }

    fn export(&mut self, buffer: Buffer) -> Result<SharedHandle, DeviceError> {
        self.export_ipc(buffer)
    }

    fn import(&mut self, shared: &SharedHandle) -> Result<Buffer, DeviceError> {
        self.import_ipc(shared)
    }

    fn unavailable(&mut self, work: &[Work]) -> Option<String> {
        let cudnn = work.iter().any(|w| {
            matches!(w, Work::Library(LibraryOp::Conv2d { .. } | LibraryOp::Pool2d { .. } | LibraryOp::Softmax { .. }))
        });
        if cudnn { libs::cudnn().err() } else { None }
    }

    fn ceilings(&mut self) -> Result<Option<Ceilings>, DeviceError> {
        self.cached_ceilings()
    }

    fn ceilings_again(&mut self) -> Result<Option<Ceilings>, DeviceError> {
        self.ceilings_measured_again()
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            let _ = self.sync();
            // cuDNN's handle and plans first, while the context lives.
            drop(state.dnn.into_inner());
            // Allocations free themselves and modules unload themselves when dropped: buffers, then
            // sadoku's own memory, then the modules and the helpers, all while the context lives.
            let State {
                buffers, flush, scratch, partials, modules, helpers, cublas: handle, start, stop, stream, ..
            } = state;
            drop(buffers);
            drop([flush, scratch, partials]);
            drop(modules);
            drop(helpers);
            // SAFETY: handles of the live state, each destroyed once; the context is released last.
            unsafe {
                if let Some(handle) = handle {
                    let _ = cublas::destroy_handle(handle);
                }
                let _ = result::event::destroy(start);
                let _ = result::event::destroy(stop);
                let _ = result::stream::destroy(stream);
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

    /// The helper kernels (the generator among them) compile with NVRTC, where it can be loaded:
    /// no GPU is needed to find a mistake in their source.
    #[test]
    fn the_helpers_compile_with_nvrtc() {
        use sadoku_core::compile::Compiler;
        let Ok(nvrtc) = crate::nvrtc::Nvrtc::new(None) else { return };
        nvrtc.compile(&super::helpers::request("sm_90".into())).unwrap_or_else(|e| panic!("{e}"));
    }
}
