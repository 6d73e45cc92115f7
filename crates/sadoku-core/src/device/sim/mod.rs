//! A simulated GPU: host memory that is recycled without clearing (like a caching allocator),
//! kernels written as Rust closures, cuBLAS replaced by plain loops. It lets CI drive every
//! check and the whole review pipeline with kernels that misbehave on purpose.

mod library;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::{
    Buffer, Ceilings, Comparison, Device, DeviceError, DeviceInfo, KernelArg, KernelRecord, Launch, LibraryOp,
    ModuleHandle, SHARE_BLOCK, Sample, SharedHandle, TimedRun, Trace, Work, element,
};
use crate::compile::{CompileError, CompileRequest, CompiledModule, Compiler, Entry, Param};
use crate::vocab::Dtype;

/// One simulated allocation; shared (like CUDA IPC) when another device imports it.
type Memory = Arc<Mutex<Vec<u8>>>;

fn lock(m: &Memory) -> MutexGuard<'_, Vec<u8>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Exported allocations of every simulated device in this process, by handle.
fn exported() -> &'static Mutex<HashMap<u64, Memory>> {
    static EXPORTED: OnceLock<Mutex<HashMap<u64, Memory>>> = OnceLock::new();
    EXPORTED.get_or_init(|| Mutex::new(HashMap::new()))
}

struct Alloc {
    data: Memory,
    /// Mapped from another device: freeing it unmaps, the owner keeps the memory.
    imported: bool,
    /// Made with `alloc_shared` (its memory is whole [`SHARE_BLOCK`]s): the only kind `export`
    /// hands out.
    shareable: bool,
    /// The bytes asked for (or, imported, that its handle claims). A kernel's access beyond them
    /// is an illegal address, as compute-sanitizer's memcheck sees it, even inside the blocks.
    bytes: usize,
}

/// What a simulated kernel sees: its launch and the device memory.
pub struct SimCall<'a> {
    pub launch: &'a Launch,
    memory: &'a mut HashMap<u64, Alloc>,
}

/// A simulated kernel fault (an illegal address, say).
#[derive(Debug, Clone, PartialEq)]
pub struct SimFault(pub String);

impl SimCall<'_> {
    fn buffer_arg(&self, index: usize) -> Result<Buffer, SimFault> {
        match self.launch.args.get(index) {
            Some(KernelArg::Buffer(b)) => Ok(*b),
            other => Err(SimFault(format!("argument {index} is not a buffer: {other:?}"))),
        }
    }

    pub fn int(&self, index: usize) -> i64 {
        match self.launch.args.get(index) {
            Some(KernelArg::I32(v)) => *v as i64,
            Some(KernelArg::I64(v)) => *v,
            _ => 0,
        }
    }

    pub fn read(&self, index: usize) -> Result<Vec<f32>, SimFault> {
        let b = self.buffer_arg(index)?;
        let alloc = self.memory.get(&b.id).ok_or_else(|| SimFault("CUDA_ERROR_ILLEGAL_ADDRESS".into()))?;
        let bytes = lock(&alloc.data);
        let view =
            bytes.get(b.offset..b.offset + b.bytes).ok_or_else(|| SimFault("CUDA_ERROR_ILLEGAL_ADDRESS".into()))?;
        Ok(view.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    }

    pub fn write(&mut self, index: usize, values: &[f32]) -> Result<(), SimFault> {
        self.write_at(index, 0, values)
    }

    /// An argument's elements of `dtype`, as bits.
    pub fn read_elements(&self, index: usize, dtype: Dtype) -> Result<Vec<u64>, SimFault> {
        let b = self.buffer_arg(index)?;
        let alloc = self.memory.get(&b.id).ok_or_else(|| SimFault("CUDA_ERROR_ILLEGAL_ADDRESS".into()))?;
        let bytes = lock(&alloc.data);
        let view =
            bytes.get(b.offset..b.offset + b.bytes).ok_or_else(|| SimFault("CUDA_ERROR_ILLEGAL_ADDRESS".into()))?;
        Ok(element::read(dtype, view))
    }

    /// Write elements of `dtype` (bits) starting at element `offset` (which may be negative) of an
    /// argument; outside the argument but inside its allocation it corrupts the neighbours, as
    /// [`SimCall::write_at`] does.
    pub fn write_elements_at(
        &mut self,
        index: usize,
        offset: isize,
        dtype: Dtype,
        elements: &[u64],
    ) -> Result<(), SimFault> {
        let b = self.buffer_arg(index)?;
        let alloc = self.memory.get(&b.id).ok_or_else(|| SimFault("CUDA_ERROR_ILLEGAL_ADDRESS".into()))?;
        let mut bytes = lock(&alloc.data);
        let w = dtype.bytes() as isize;
        let start = b.offset as isize + offset * w;
        let end = start + elements.len() as isize * w;
        if start < 0 || end as usize > bytes.len().min(alloc.bytes) {
            return Err(SimFault("CUDA_ERROR_ILLEGAL_ADDRESS".into()));
        }
        bytes[start as usize..end as usize].copy_from_slice(&element::write(dtype, elements));
        Ok(())
    }

    /// Write fp64 values (a simulated reference kernel's truth).
    pub fn write_f64(&mut self, index: usize, values: &[f64]) -> Result<(), SimFault> {
        let b = self.buffer_arg(index)?;
        let alloc = self.memory.get(&b.id).ok_or_else(|| SimFault("CUDA_ERROR_ILLEGAL_ADDRESS".into()))?;
        let mut bytes = lock(&alloc.data);
        let end = b.offset + values.len() * 8;
        if values.len() * 8 > b.bytes || end > bytes.len().min(alloc.bytes) {
            return Err(SimFault("CUDA_ERROR_ILLEGAL_ADDRESS".into()));
        }
        for (chunk, v) in bytes[b.offset..end].chunks_exact_mut(8).zip(values) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        Ok(())
    }

    /// Write `values` starting at element `offset` (which may be negative) of an argument. Like a
    /// real GPU, writing outside the argument but inside its allocation silently corrupts the
    /// neighbouring bytes; outside the allocation it is an illegal address.
    pub fn write_at(&mut self, index: usize, offset: isize, values: &[f32]) -> Result<(), SimFault> {
        let b = self.buffer_arg(index)?;
        let alloc = self.memory.get(&b.id).ok_or_else(|| SimFault("CUDA_ERROR_ILLEGAL_ADDRESS".into()))?;
        let mut bytes = lock(&alloc.data);
        let start = b.offset as isize + offset * 4;
        let end = start + values.len() as isize * 4;
        if start < 0 || end as usize > bytes.len().min(alloc.bytes) {
            return Err(SimFault("CUDA_ERROR_ILLEGAL_ADDRESS".into()));
        }
        for (chunk, v) in bytes[start as usize..end as usize].chunks_exact_mut(4).zip(values) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        Ok(())
    }
}

type KernelFn = Box<dyn FnMut(&mut SimCall) -> Result<(), SimFault>>;
type CostFn = Box<dyn Fn(&Launch) -> f64>;
/// Corrupts a comparator's summary or a generator's draw (a broken device helper).
pub type CompareTweak = Box<dyn FnMut(&mut Comparison) + Send>;
/// Corrupts a draw: its elements' bits.
pub type GenerateTweak = Box<dyn FnMut(&mut Vec<u64>) + Send>;
/// Rewrites a sample's trace (kernels, window): device work a real kernel could hide.
pub type TraceTweak = Box<dyn FnMut(&mut Vec<KernelRecord>, (u64, u64))>;

/// The stream a simulated device launches on.
pub const SIM_STREAM: u32 = 7;

struct SimKernel {
    params: Vec<Param>,
    run: KernelFn,
    cost_ms: CostFn,
}

pub struct SimDevice {
    info: DeviceInfo,
    live: HashMap<u64, Alloc>,
    /// Freed allocations, contents intact, handed out again to a request of the same size.
    freed: Vec<Vec<u8>>,
    next_id: u64,
    kernels: HashMap<String, SimKernel>,
    modules: HashMap<u64, Vec<String>>,
    /// Simulated fp32 GEMM rate, for baseline timings.
    pub gemm_tflops: f64,
    /// Relative jitter of simulated timings.
    pub jitter: f64,
    /// How long compiling pretends to take (a compiler that hangs on some source).
    pub compile_delay: std::time::Duration,
    tick: u64,
    /// Every launch, in order: what ran.
    pub launches: Vec<Launch>,
    /// Set by a kernel fault: like a real context, the device then refuses all work.
    lost: Option<String>,
    /// Peak rates it claims; `None` like a device that cannot measure them.
    pub ceilings: Option<Ceilings>,
    /// What measuring them again finds (`Device::ceilings_again`); `None`: the same.
    pub ceilings_measured_again: Option<Ceilings>,
    /// Whether timed samples are traced (like CUPTI) or only timed with events.
    pub tracing: bool,
    /// Traced as a Python worker traces its calls (`Trace::Call`: every stream, a clock window)
    /// rather than between marker kernels.
    pub calls: bool,
    /// With `calls`: the trace holds no mark of the call's start (as a worker's merge of a
    /// sample's calls once dropped it).
    pub unmarked_calls: bool,
    pub trace_tweak: Option<TraceTweak>,
    /// SM clock of sample number `tick`, MHz.
    pub clock: Box<dyn FnMut(u64) -> Option<f64>>,
    /// Device time, nanoseconds: advances with every timed sample.
    now_ns: u64,
    /// Whether `import` works (false: like a machine without CUDA IPC).
    pub ipc: bool,
    /// Every allocation exported to another device, and every piece of library work, in order:
    /// what the judge shared and what it computed.
    pub exports: Vec<Buffer>,
    pub library_log: Vec<LibraryOp>,
    /// Corrupts what the comparator reports (a broken device helper, for the cross-check's tests).
    pub compare_tweak: Option<CompareTweak>,
    /// Corrupts the generator's draws likewise.
    pub generate_tweak: Option<GenerateTweak>,
    /// Like a machine without cuDNN: its baselines are unavailable, for this reason.
    pub no_cudnn: Option<String>,
}

impl Default for SimDevice {
    fn default() -> Self {
        Self::new()
    }
}

impl SimDevice {
    pub fn new() -> SimDevice {
        SimDevice {
            info: DeviceInfo {
                name: "sadoku simulated GPU".into(),
                ordinal: 0,
                compute_capability: (9, 0),
                multiprocessors: 132,
                l2_bytes: 50 << 20,
                memory_bytes: 80 << 30,
                max_shared_per_block_optin: 227 << 10,
                cuda_driver: "simulated".into(),
                ..DeviceInfo::default()
            },
            live: HashMap::new(),
            freed: Vec::new(),
            next_id: 1,
            kernels: HashMap::new(),
            modules: HashMap::new(),
            gemm_tflops: 50.0,
            jitter: 0.002,
            compile_delay: std::time::Duration::ZERO,
            tick: 0,
            launches: Vec::new(),
            lost: None,
            ceilings: Some(Ceilings { fp32_tflops: 60.0, tf32_tflops: 400.0, bf16_tflops: 800.0, dram_gbs: 4000.0 }),
            ceilings_measured_again: None,
            tracing: true,
            calls: false,
            unmarked_calls: false,
            trace_tweak: None,
            clock: Box::new(|_| Some(1980.0)),
            now_ns: 1_000_000,
            ipc: true,
            exports: Vec::new(),
            library_log: Vec::new(),
            compare_tweak: None,
            generate_tweak: None,
            no_cudnn: None,
        }
    }

    fn alive(&self) -> Result<(), DeviceError> {
        self.lost.clone().map_or(Ok(()), |why| Err(DeviceError::ContextLost(why)))
    }

    /// Register a kernel: its PTX-like parameter list (e.g. `["u64", "u64", "u64", "u32"]`),
    /// what it does, and how long it pretends to take.
    pub fn kernel(
        &mut self,
        name: &str,
        params: &[&str],
        run: impl FnMut(&mut SimCall) -> Result<(), SimFault> + 'static,
        cost_ms: impl Fn(&Launch) -> f64 + 'static,
    ) -> &mut Self {
        let params = params
            .iter()
            .map(|ty| Param { ty: ty.to_string(), bytes: ty[1..].parse::<usize>().unwrap_or(32) / 8 })
            .collect();
        self.kernels.insert(name.to_string(), SimKernel { params, run: Box::new(run), cost_ms: Box::new(cost_ms) });
        self
    }

    /// A compiler whose modules export the registered kernels that the source mentions.
    pub fn compiler(&self) -> SimCompiler {
        SimCompiler {
            entries: self
                .kernels
                .iter()
                .map(|(name, k)| Entry { name: name.clone(), params: k.params.clone() })
                .collect(),
        }
    }

    /// Say how this device's process is confined (a simulated worker's sandbox, under `sadoku
    /// --device sim`), in its [`DeviceInfo`], as `CudaDevice::set_sandbox` does.
    /// The GPU ordinal this simulated device says it is (a machine of several simulated GPUs).
    pub fn set_ordinal(&mut self, ordinal: usize) {
        self.info.ordinal = ordinal;
    }

    pub fn set_sandbox(&mut self, description: String) {
        self.info.sandbox = Some(description);
    }

    /// How many allocations are live (tests check nothing leaks).
    pub fn live_buffers(&self) -> usize {
        self.live.len()
    }

    /// Every byte of the memory behind a buffer (a mapping reads all of it, not only what was
    /// asked for): what a kernel scanning around an imported buffer could see.
    pub fn mapped_bytes(&self, buffer: Buffer) -> Option<Vec<u8>> {
        self.live.get(&buffer.id).map(|a| lock(&a.data).clone())
    }

    fn memory(&self, b: Buffer) -> Result<&Memory, DeviceError> {
        self.live
            .get(&b.id)
            .map(|a| &a.data)
            .ok_or_else(|| DeviceError::Environment(format!("buffer {} is not allocated", b.id)))
    }

    /// A copy of a view's bytes.
    fn bytes(&self, b: Buffer) -> Result<Vec<u8>, DeviceError> {
        let all = lock(self.memory(b)?);
        all.get(b.offset..b.offset + b.bytes)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| DeviceError::Environment("view outside its buffer".into()))
    }

    fn f32s(&self, b: Buffer) -> Result<Vec<f32>, DeviceError> {
        Ok(self.bytes(b)?.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    }

    fn u32s(&self, b: Buffer) -> Result<Vec<u32>, DeviceError> {
        Ok(self.bytes(b)?.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    }

    /// A view's elements of `dtype`, as bits.
    fn elements(&self, b: Buffer, dtype: Dtype) -> Result<Vec<u64>, DeviceError> {
        Ok(element::read(dtype, &self.bytes(b)?))
    }

    fn f64s(&self, b: Buffer) -> Result<Vec<f64>, DeviceError> {
        Ok(self.bytes(b)?.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect())
    }

    fn store<T: Copy, const W: usize>(
        &mut self,
        b: Buffer,
        v: &[T],
        to: impl Fn(T) -> [u8; W],
    ) -> Result<(), DeviceError> {
        let bytes: Vec<u8> = v.iter().flat_map(|&x| to(x)).collect();
        self.upload(b, &bytes)
    }

    fn launch(&mut self, launch: &Launch) -> Result<(), DeviceError> {
        let exported = self.modules.get(&launch.module.0).is_some_and(|names| names.contains(&launch.kernel));
        let kernel =
            self.kernels.get_mut(&launch.kernel).filter(|_| exported).ok_or_else(|| DeviceError::LaunchRefused {
                kernel: launch.kernel.clone(),
                code: "CUDA_ERROR_NOT_FOUND".into(),
                message: "named symbol not found".into(),
            })?;
        self.launches.push(launch.clone());
        let mut call = SimCall { launch, memory: &mut self.live };
        (kernel.run)(&mut call).map_err(|SimFault(code)| {
            // Like a sticky CUDA error: the context and everything in it are gone for good.
            self.live.clear();
            self.freed.clear();
            self.modules.clear();
            self.lost = Some(format!("`{}` faulted with {code}", launch.kernel));
            DeviceError::KernelFault { kernel: launch.kernel.clone(), code, message: "simulated fault".into() }
        })
    }

    fn cost_ms(&mut self, work: &Work) -> f64 {
        match work {
            Work::Launch(l) => self.kernels.get(&l.kernel).map_or(0.0, |k| (k.cost_ms)(l)),
            Work::Library(LibraryOp::Gemm { m, n, k, batch, .. }) => {
                2.0 * (*batch * *m * *n * *k) as f64 / (self.gemm_tflops * 1e12) * 1e3
            }
            Work::Library(LibraryOp::TrilF32 { n, .. }) => (*n * *n * 8) as f64 / 3e12 * 1e3,
            Work::Library(_) => 0.001,
        }
    }
}

impl Device for SimDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn compile(&mut self, request: &CompileRequest) -> Result<CompiledModule, CompileError> {
        std::thread::sleep(self.compile_delay);
        self.compiler().compile(request)
    }

    fn alloc(&mut self, bytes: usize) -> Result<Buffer, DeviceError> {
        self.alive()?;
        let data = match self.freed.iter().position(|f| f.len() == bytes) {
            Some(i) => self.freed.swap_remove(i),
            None => vec![0u8; bytes],
        };
        let id = self.next_id;
        self.next_id += 1;
        self.live.insert(id, Alloc { data: Arc::new(Mutex::new(data)), imported: false, shareable: false, bytes });
        Ok(Buffer { id, offset: 0, bytes })
    }

    /// Like the CUDA device: whole 2 MiB blocks, fresh and zeroed (never memory the judge freed,
    /// which the recycling of `alloc` would hand back with its contents).
    fn alloc_shared(&mut self, bytes: usize) -> Result<Buffer, DeviceError> {
        self.alive()?;
        let whole = bytes.max(1).next_multiple_of(SHARE_BLOCK);
        let id = self.next_id;
        self.next_id += 1;
        let data = Arc::new(Mutex::new(vec![0u8; whole]));
        self.live.insert(id, Alloc { data, imported: false, shareable: true, bytes });
        Ok(Buffer { id, offset: 0, bytes })
    }

    fn free(&mut self, buffer: Buffer) {
        if let Some(alloc) = self.live.remove(&buffer.id) {
            let key = Arc::as_ptr(&alloc.data) as u64;
            if !alloc.imported {
                exported().lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                // Recycled with its contents, like a caching allocator, once no one maps it.
                if let (Ok(m), false) = (Arc::try_unwrap(alloc.data), alloc.shareable) {
                    self.freed.push(m.into_inner().unwrap_or_else(|e| e.into_inner()));
                }
            }
        }
    }

    fn upload(&mut self, buffer: Buffer, data: &[u8]) -> Result<(), DeviceError> {
        self.alive()?;
        let mut all = lock(self.memory(buffer)?);
        let dst = all
            .get_mut(buffer.offset..buffer.offset + buffer.bytes)
            .ok_or_else(|| DeviceError::Environment("view outside its buffer".into()))?;
        if data.len() > dst.len() {
            return Err(DeviceError::Environment("upload larger than the buffer".into()));
        }
        dst[..data.len()].copy_from_slice(data);
        Ok(())
    }

    fn download(&mut self, buffer: Buffer, out: &mut [u8]) -> Result<(), DeviceError> {
        self.alive()?;
        let src = self.bytes(buffer)?;
        let n = out.len().min(src.len());
        out[..n].copy_from_slice(&src[..n]);
        Ok(())
    }

    fn fill_u32(&mut self, buffer: Buffer, word: u32) -> Result<(), DeviceError> {
        self.alive()?;
        let words = vec![word; buffer.bytes / 4];
        self.store(buffer, &words, u32::to_le_bytes)
    }

    fn export(&mut self, buffer: Buffer) -> Result<SharedHandle, DeviceError> {
        self.alive()?;
        let data = self.memory(buffer)?.clone();
        // Judge-only memory never leaves: CI catches judge code that would export it.
        let Some(bytes) = self.live.get(&buffer.id).filter(|a| a.shareable).map(|a| a.bytes) else {
            return Err(DeviceError::NotShareable(buffer.id));
        };
        let key = Arc::as_ptr(&data) as u64;
        exported().lock().unwrap_or_else(|e| e.into_inner()).insert(key, data);
        self.exports.push(buffer);
        Ok(SharedHandle { handle: key.to_le_bytes().to_vec(), bytes })
    }

    fn import(&mut self, shared: &SharedHandle) -> Result<Buffer, DeviceError> {
        self.alive()?;
        if !self.ipc {
            return Err(DeviceError::Environment("simulated device without IPC".into()));
        }
        let key = u64::from_le_bytes(
            shared
                .handle
                .as_slice()
                .try_into()
                .map_err(|_| DeviceError::Environment("not a simulated device's handle".into()))?,
        );
        let data = exported()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned()
            .ok_or_else(|| DeviceError::Environment("no such exported allocation".into()))?;
        let id = self.next_id;
        self.next_id += 1;
        self.live.insert(id, Alloc { data, imported: true, shareable: false, bytes: shared.bytes });
        Ok(Buffer { id, offset: 0, bytes: shared.bytes })
    }

    fn load(&mut self, module: &CompiledModule) -> Result<ModuleHandle, DeviceError> {
        self.alive()?;
        let id = self.next_id;
        self.next_id += 1;
        self.modules.insert(id, module.entries.iter().map(|e| e.name.clone()).collect());
        Ok(ModuleHandle(id))
    }

    fn unload(&mut self, module: ModuleHandle) {
        self.modules.remove(&module.0);
    }

    fn run(&mut self, work: &[Work]) -> Result<(), DeviceError> {
        self.alive()?;
        for w in work {
            match w {
                Work::Launch(l) => self.launch(l)?,
                Work::Library(op) => self.library(op)?,
            }
        }
        Ok(())
    }

    fn time(&mut self, run: &TimedRun) -> Result<Sample, DeviceError> {
        self.alive()?;
        self.run(&run.work)?;
        self.tick += 1;
        // Deterministic jitter in [-1, 1), scrambled so that samples do not trend.
        let wobble = ((self.tick.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as f64 / (1u64 << 24) as f64) * 2.0 - 1.0;
        let scale = 1.0 + self.jitter * wobble;
        // A launch gap of 2 µs between kernels, as on a real GPU.
        let window_start = self.now_ns;
        let mut t = window_start + 2_000;
        let mut kernels = Vec::new();
        for w in &run.work {
            let ns = (self.cost_ms(w) * scale * 1e6) as u64;
            let (name, grid, block, shared_bytes) = match w {
                Work::Launch(l) => (l.kernel.clone(), l.grid, l.block, l.shared_mem),
                Work::Library(LibraryOp::Gemm { .. }) => ("sim_gemm".to_string(), [1, 1, 1], [128, 1, 1], 0),
                Work::Library(LibraryOp::TrilF32 { .. }) => ("sadoku_tril_f32".to_string(), [1, 1, 1], [256, 1, 1], 0),
                Work::Library(_) => ("sadoku_helper".to_string(), [1, 1, 1], [256, 1, 1], 0),
            };
            kernels.push(KernelRecord {
                name,
                grid,
                block,
                registers: 32,
                shared_bytes,
                start_ns: t,
                end_ns: t + ns,
                stream: SIM_STREAM,
            });
            t += ns + 2_000;
        }
        let window = (window_start, t);
        self.now_ns = t + 1_000_000;
        if let Some(tweak) = self.trace_tweak.as_mut() {
            tweak(&mut kernels, window);
        }
        let ms = (t - window_start) as f64 / 1e6;
        let trace = if self.tracing && self.calls {
            // The worker's start mark: the end of its memset, just as the call's first kernel
            // starts (a call without host time before it).
            let started_ns = (!self.unmarked_calls).then_some(window_start + 2_000);
            Trace::Call { window_ns: window, kernels, started_ns }
        } else if self.tracing {
            Trace::Traced { stream: SIM_STREAM, window_ns: window, kernels }
        } else {
            Trace::Unavailable { why: "simulated device without tracing".into() }
        };
        Ok(Sample {
            ms,
            wall_ms: ms + 0.01,
            sm_clock_mhz: (self.clock)(self.tick),
            trace,
            judge_ms: None,
            pending: false,
        })
    }

    fn unavailable(&mut self, work: &[Work]) -> Option<String> {
        let cudnn = work.iter().any(|w| {
            matches!(w, Work::Library(LibraryOp::Conv2d { .. } | LibraryOp::Pool2d { .. } | LibraryOp::Softmax { .. }))
        });
        if cudnn { self.no_cudnn.clone() } else { None }
    }

    fn ceilings(&mut self) -> Result<Option<Ceilings>, DeviceError> {
        Ok(self.ceilings)
    }

    fn ceilings_again(&mut self) -> Result<Option<Ceilings>, DeviceError> {
        if let (Some(held), Some(again)) = (self.ceilings, self.ceilings_measured_again) {
            self.ceilings = Some(held.higher(&again));
        }
        Ok(self.ceilings)
    }
}

/// Stands in for NVRTC: a module exports each registered kernel its source mentions. An `#error`
/// line does not compile; a `#pragma sim_call_fails MESSAGE` line stands for a Python candidate
/// that loads but whose first call raises MESSAGE.
pub struct SimCompiler {
    entries: Vec<Entry>,
}

impl Compiler for SimCompiler {
    fn identity(&self) -> String {
        "sim".into()
    }

    fn compile(&self, request: &CompileRequest) -> Result<CompiledModule, CompileError> {
        if let Some(line) = request.source.lines().position(|l| l.trim_start().starts_with("#error")) {
            return Err(CompileError::Rejected {
                log: format!("{}({}): error: #error directive", request.name, line + 1),
            });
        }
        if let Some(message) =
            request.source.lines().find_map(|l| l.trim_start().strip_prefix("#pragma sim_call_fails "))
        {
            return Err(CompileError::CallFailed {
                message: message.trim().into(),
                log: format!("{}: loaded", request.name),
            });
        }
        let entries =
            self.entries.iter().filter(|e| request.source.contains(&format!("{}(", e.name))).cloned().collect();
        Ok(CompiledModule {
            arch: request.arch.clone(),
            image: request.source.as_bytes().to_vec(),
            ptx: String::new(),
            log: String::new(),
            entries,
            cache_hit: false,
            compile_ms: 0.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceExt;

    #[test]
    fn judge_only_memory_is_never_exported() {
        let mut judge = SimDevice::new();
        let truth = judge.alloc(4096).unwrap();
        assert_eq!(judge.export(truth), Err(DeviceError::NotShareable(truth.id)));
        assert_eq!(judge.export(truth.view(1024, 64)), Err(DeviceError::NotShareable(truth.id)), "nor a view of it");
        let input = judge.alloc_shared(4096).unwrap();
        assert_eq!(input.bytes, 4096, "the buffer is what was asked for");
        let shared = judge.export(input.view(1024, 64)).unwrap();
        assert_eq!(shared.bytes, 4096, "the whole allocation as asked, whatever the view");
        assert_eq!(judge.exports, vec![input.view(1024, 64)]);
        judge.free(input);
        judge.free(truth);
        assert_eq!(judge.live_buffers(), 0);
    }

    #[test]
    fn shareable_memory_is_whole_fresh_blocks_with_nothing_of_the_judges() {
        let mut judge = SimDevice::new();
        // Judge-only memory with a pattern, freed: `alloc` recycles it with its contents.
        let secret: Vec<u32> =
            (0..SHARE_BLOCK as u32 / 4).map(|i| 0x7FC0_0000 ^ i.wrapping_mul(2_654_435_761)).collect();
        let truth = judge.alloc(SHARE_BLOCK).unwrap();
        judge.upload(truth, crate::device::as_bytes(&secret)).unwrap();
        judge.free(truth);
        let kept = judge.alloc(4096).unwrap();
        judge.fill_u32(kept, 0x7FC0_0001).unwrap();

        let mut worker = SimDevice::new();
        for asked in [4, 4096, SHARE_BLOCK - 64, SHARE_BLOCK, SHARE_BLOCK + 4] {
            let b = judge.alloc_shared(asked).unwrap();
            judge.fill_u32(b.view(0, asked / 4 * 4), 0x3F80_0000).unwrap();
            let all = judge.mapped_bytes(b).unwrap();
            assert_eq!(all.len(), asked.next_multiple_of(SHARE_BLOCK), "whole blocks for {asked} bytes");
            // What a kernel in the worker could scan: the whole mapping.
            let remote = worker.import(&judge.export(b).unwrap()).unwrap();
            let seen = worker.mapped_bytes(remote).unwrap();
            assert_eq!(seen.len(), all.len());
            let words: Vec<u32> = seen.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
            let (ours, beyond) = words.split_at(asked / 4);
            assert!(ours.iter().all(|&w| w == 0x3F80_0000), "the buffer's own words");
            assert!(beyond.iter().all(|&w| w == 0), "zeros beyond what was asked, for {asked} bytes");
            assert!(!words.iter().any(|w| *w == 0x7FC0_0001 || secret[..64].contains(w)), "nothing of the judge's");
            worker.free(remote);
            judge.free(b);
        }
        // The recycled judge memory is still there, judge-only: it was never handed out.
        let again = judge.alloc(SHARE_BLOCK).unwrap();
        assert_eq!(judge.download_u32(again).unwrap(), secret);
        judge.free(again);
        judge.free(kept);
    }
}
