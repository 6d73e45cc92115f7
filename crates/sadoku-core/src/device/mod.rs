//! The one narrow interface between sadoku's judgement and a GPU.
//!
//! Everything that decides a verdict talks to a [`Device`]; the real one lives in `sadoku-cuda`,
//! the simulated one in [`sim`] lets CI exercise every check without a GPU.

pub mod compare;
pub mod sim;

pub use crate::vocab::element;
pub use compare::{Comparison, Difference, compare_host, diff_host};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::compile::{CompileError, CompileRequest, CompiledModule};

/// A device allocation, or a byte range of one (a view). Opaque to everything but the device
/// that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Buffer {
    pub id: u64,
    /// Start of the view within the allocation.
    pub offset: usize,
    pub bytes: usize,
}

impl Buffer {
    /// `bytes` bytes starting `offset` bytes into this buffer.
    pub fn view(&self, offset: usize, bytes: usize) -> Buffer {
        debug_assert!(offset + bytes <= self.bytes, "a view stays inside its buffer");
        Buffer { id: self.id, offset: self.offset + offset, bytes }
    }
}

/// A loaded module, ready to launch kernels from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModuleHandle(pub u64);

/// One kernel argument as it is passed to the launch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum KernelArg {
    Buffer(Buffer),
    I32(i32),
    I64(i64),
}

/// One kernel launch, fully resolved to numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Launch {
    pub module: ModuleHandle,
    pub kernel: String,
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub shared_mem: u32,
    pub args: Vec<KernelArg>,
}

/// Element type of a library operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// IEEE fp64 throughout: ground truth.
    F64,
    /// fp32 operands and accumulation, tensor-core TF32 disabled.
    F32,
    /// fp32 storage, TF32 tensor-core math.
    Tf32,
    /// bf16 operands and result, fp32 accumulation.
    Bf16,
    /// fp16 operands and result, fp32 accumulation.
    F16,
}

impl Precision {
    /// Bytes of one element of the operands.
    pub fn element_bytes(self) -> usize {
        match self {
            Precision::F64 => 8,
            Precision::F32 | Precision::Tf32 => 4,
            Precision::Bf16 | Precision::F16 => 2,
        }
    }
}

/// Work done by a trusted library (cuBLAS, sadoku's own helper kernels) in the judge's context:
/// fresh inputs, poison, fp64 truth, comparison, baselines. A candidate's worker refuses all of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LibraryOp {
    /// Row-major C[m×n] = op(A) · B[k×n], elements of `precision`'s storage type; op(A) is
    /// A[m×k], or the transpose of A[k×m] when `transpose_a`. `batch` such products, each operand's
    /// matrices one after another (strided batched; 1: one product).
    Gemm {
        precision: Precision,
        m: usize,
        n: usize,
        k: usize,
        a: Buffer,
        b: Buffer,
        c: Buffer,
        transpose_a: bool,
        batch: usize,
    },
    /// cuDNN convolution forward on fp32 NCHW tensors, no bias: FMA math (TF32 off) at `F32`,
    /// tensor-op math at `Tf32`.
    Conv2d { precision: Precision, x: Buffer, w: Buffer, y: Buffer, shape: ConvShape },
    /// cuDNN pooling forward on fp32 NCHW tensors: max, or average counting padding.
    Pool2d { x: Buffer, y: Buffer, shape: PoolShape, max: bool },
    /// cuDNN softmax (or log-softmax) forward over each row of an fp32 [rows, cols] matrix.
    Softmax { x: Buffer, y: Buffer, rows: usize, cols: usize, log: bool },
    /// Zero the strict upper triangle of a row-major n×n fp32 matrix (what `torch.tril` does).
    TrilF32 { c: Buffer, n: usize },
    /// Fresh inputs: element `i` of `buffer` is [`generate::element`]`(draw, i)`, a
    /// counter-based (Philox4x32-10) draw keyed by `draw.seed`, in `draw.dtype`.
    Generate { buffer: Buffer, draw: Draw },
    /// `dst[i] = src[i]` (or `|src[i]|`) widened from `dtype` to fp64.
    Upcast { src: Buffer, dst: Buffer, abs: bool, dtype: Dtype },
    /// `dst[i] = |src[i]|` in `dtype` ([`element::abs`]).
    Abs { src: Buffer, dst: Buffer, dtype: Dtype },
    /// Fill with one repeated 32-bit word (NaN poison, guard canaries).
    Fill { buffer: Buffer, word: u32 },
    /// Fill with the elements [`pattern_element`]`(seed, i, dtype)` (random-bits poison).
    Pattern { buffer: Buffer, seed: u64, dtype: Dtype },
    /// Copy `src` to `dst` (same size).
    Copy { src: Buffer, dst: Buffer },
    /// Write [`content_hash`] of `buffer`'s 32-bit words with `key` to the u64 at `out`.
    Hash { buffer: Buffer, key: u64, out: Buffer },
    /// Compare a candidate's output (elements of `dtype`) with the fp64 truth; writes a
    /// [`Comparison`] (as [`Comparison::WORDS`] u64 words) to `out`. See [`compare_host`] for the
    /// exact rules.
    Compare { got: Buffer, values: Buffer, scale: Buffer, factor: f64, poison: PoisonWords, out: Buffer, dtype: Dtype },
    /// Compare two outputs (elements of `dtype`) for the same inputs; writes a [`Difference`] to
    /// `out`. See [`diff_host`].
    Diff { first: Buffer, second: Buffer, scale: Buffer, factor: f64, out: Buffer, dtype: Dtype },
}

/// A convolution's geometry: input [n, c, h, w], filter [k, c / groups, r, s].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConvShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub r: usize,
    pub s: usize,
    pub pad: usize,
    pub stride: usize,
    pub groups: usize,
}

impl ConvShape {
    /// The output's height and width.
    pub fn output_hw(&self) -> (usize, usize) {
        ((self.h + 2 * self.pad - self.r) / self.stride + 1, (self.w + 2 * self.pad - self.s) / self.stride + 1)
    }
}

/// A pooling's geometry: input [n, c, h, w], square windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PoolShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub window: usize,
    pub stride: usize,
    pub pad: usize,
}

impl PoolShape {
    pub fn output_hw(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.pad - self.window) / self.stride + 1,
            (self.w + 2 * self.pad - self.window) / self.stride + 1,
        )
    }
}

/// The poison an output held before a launch, as the comparator regenerates it element by element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoisonWords {
    /// The buffer filled with one repeated 32-bit word: every element the same.
    Word(u32),
    /// Element `i` held [`pattern_element`]`(seed, i, dtype)`.
    Pattern(u64),
}

impl PoisonWords {
    /// Element `i`'s bits, for elements of `dtype`.
    pub fn element(&self, i: u64, dtype: Dtype) -> u64 {
        match *self {
            PoisonWords::Word(w) => repeat_word(w, dtype),
            PoisonWords::Pattern(seed) => pattern_element(seed, i, dtype),
        }
    }
}

/// An element of a buffer filled with the 32-bit word `w` (a 16-bit element is its low half,
/// which the poison words repeat in both halves).
pub const fn repeat_word(w: u32, dtype: Dtype) -> u64 {
    match dtype.bytes() {
        8 => (w as u64) << 32 | w as u64,
        4 => w as u64,
        2 => (w & 0xFFFF) as u64,
        _ => (w & 0xFF) as u64,
    }
}

pub use crate::generate::Draw;
use crate::vocab::Dtype;

/// One step of device work, in stream order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Work {
    Launch(Launch),
    Library(LibraryOp),
}

/// What the device says about itself; shown in every report's environment block. The default is
/// a device that has said nothing yet (every number zero, every version absent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub ordinal: usize,
    /// Compute capability, e.g. (9, 0).
    #[serde(default)]
    pub compute_capability: (u32, u32),
    #[serde(default)]
    pub multiprocessors: u32,
    #[serde(default)]
    pub l2_bytes: usize,
    #[serde(default)]
    pub memory_bytes: usize,
    /// Largest dynamic shared memory a block may opt into.
    #[serde(default)]
    pub max_shared_per_block_optin: usize,
    /// Kernel driver version, e.g. "580.159.04", when the OS tells.
    #[serde(default)]
    pub driver: Option<String>,
    /// CUDA driver API version, e.g. "13.0".
    #[serde(default)]
    pub cuda_driver: String,
    #[serde(default)]
    pub nvrtc: Option<String>,
    #[serde(default)]
    pub cublas: Option<String>,
    /// cuDNN's version, or why it is not there (a judge without it has no cuDNN baselines).
    #[serde(default)]
    pub cudnn: Option<String>,
    /// PyTorch, for a Python worker: its version and the CUDA and cuDNN it was built with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torch: Option<String>,
    /// How candidates' workers were confined on this machine (set by the review, not the device).
    #[serde(default)]
    pub sandbox: Option<String>,
    /// SM clock measured by a calibration kernel (clock64 cycles over globaltimer ns).
    #[serde(default)]
    pub sm_clock_mhz: Option<f64>,
    /// The card's measured peak rates, once known.
    #[serde(default)]
    pub ceilings: Option<Ceilings>,
}

impl DeviceInfo {
    /// The NVRTC/ptxas target for this device, e.g. "sm_90".
    pub fn arch(&self) -> String {
        format!("sm_{}{}", self.compute_capability.0, self.compute_capability.1)
    }
}

/// How device work failed. The split matters: a candidate's failure is a verdict, the
/// environment's failure ends the run.
#[derive(Debug, Clone, PartialEq, Error, Serialize, Deserialize)]
pub enum DeviceError {
    /// A candidate launch could not start (bad configuration, too many resources, ...).
    #[error("launch of `{kernel}` refused: {code}: {message}")]
    LaunchRefused { kernel: String, code: String, message: String },
    /// A candidate launch started and faulted (illegal address, trap, timeout, ...).
    /// Such errors are sticky: afterwards the device answers everything with `ContextLost`.
    #[error("`{kernel}` faulted: {code}: {message}")]
    KernelFault { kernel: String, code: String, message: String },
    /// Loading the candidate's module failed (bad image, missing symbol).
    #[error("module load failed: {code}: {message}")]
    ModuleLoad { code: String, message: String },
    /// The work did not finish in time; the worker running it was killed.
    #[error("{what} did not finish within {seconds} s; the worker was killed")]
    Timeout { what: String, seconds: f64 },
    /// The worker process running the candidate died.
    #[error("the worker process died ({status}){}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    WorkerDied { status: String, stderr: String },
    /// The device context is gone after an earlier fault; this process can do no more GPU work.
    #[error("the GPU context was lost after an earlier kernel fault ({0})")]
    ContextLost(String),
    /// A Python worker refused what a call did (returned an input or a lazy tensor, left threads
    /// running, replaced a timer, left its output unwritten): the candidate's doing, with evidence.
    #[error("`{kernel}` refused: {reason}: {evidence}")]
    Refused { kernel: String, reason: String, evidence: String },
    /// Judge-only memory (not made with [`Device::alloc_shared`]) was asked to be exported: a bug
    /// in sadoku, never the candidate's doing, and never a reason to fall back to copies.
    #[error(
        "buffer {0} is judge-only memory and is never exported (only alloc_shared memory is): a bug in sadoku, \
         please report it"
    )]
    NotShareable(u64),
    /// Anything else: out of memory, a library failure, a driver problem. Not the candidate's fault.
    #[error("{0}")]
    Environment(String),
}

impl DeviceError {
    /// True when the candidate caused it (so it becomes a verdict, not an abort).
    pub fn is_candidates_fault(&self) -> bool {
        matches!(
            self,
            DeviceError::LaunchRefused { .. }
                | DeviceError::KernelFault { .. }
                | DeviceError::ModuleLoad { .. }
                | DeviceError::Timeout { .. }
                | DeviceError::WorkerDied { .. }
                | DeviceError::Refused { .. }
        )
    }
}

/// One timed sample: flush L2 (untimed), then time `work` between device events while tracing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimedRun {
    pub work: Vec<Work>,
}

impl TimedRun {
    pub fn plain(work: &[Work]) -> TimedRun {
        TimedRun { work: work.to_vec() }
    }
}

/// Granularity of what another process can read once it maps an exported allocation: 2 MiB.
///
/// Legacy CUDA IPC (`cuIpcGetMemHandle`/`cuIpcOpenMemHandle`) maps the whole 2 MiB block (or
/// blocks) behind an allocation, so an importer reads every neighbour the driver placed in the
/// same block: a candidate's kernel that scans around its buffers would find the judge's truth.
/// Every allocation that is ever exported is therefore made with [`Device::alloc_shared`]: a whole
/// number of 2 MiB blocks, starting on a block boundary, zeroed beyond what was asked (no stale
/// judge data from memory the allocator recycled), and judge-only memory ([`Device::alloc`]) is
/// never exported. The cost is at most one block per exported buffer; timing's buffer sets
/// (at most `max_sets` arenas of a few buffers each) stay within a few hundred MiB.
pub const SHARE_BLOCK: usize = 2 << 20;

/// A device allocation made shareable with another process (CUDA IPC), as the judge hands it to
/// a candidate's worker: only the inputs, outputs and scratch the candidate needs, never the truth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedHandle {
    /// The opaque handle (a `CUipcMemHandle`'s 64 bytes on CUDA).
    pub handle: Vec<u8>,
    /// Size of the whole allocation.
    pub bytes: usize,
}

/// One kernel that ran inside a timed sample, as the device's activity trace (CUPTI) saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelRecord {
    pub name: String,
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub registers: u32,
    /// Static plus dynamic shared memory per block.
    pub shared_bytes: u32,
    /// Device timestamps, nanoseconds.
    pub start_ns: u64,
    pub end_ns: u64,
    pub stream: u32,
}

#[cfg(test)]
impl KernelRecord {
    /// A record of `name` from `start_ns` to `end_ns` on `stream`, with a plain launch
    /// configuration (unit tests).
    pub(crate) fn at(name: &str, start_ns: u64, end_ns: u64, stream: u32) -> KernelRecord {
        KernelRecord {
            name: name.into(),
            grid: [1, 1, 1],
            block: [32, 1, 1],
            registers: 32,
            shared_bytes: 0,
            start_ns,
            end_ns,
            stream,
        }
    }
}

/// What the device's activity trace saw during one timed sample: every kernel but sadoku's own
/// helpers, on any stream of the process, between two marker kernels that bracket the timing events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Trace {
    Traced {
        /// The stream the work was launched on.
        stream: u32,
        /// End of the marker before the start event, start of the marker after the stop event.
        window_ns: (u64, u64),
        kernels: Vec<KernelRecord>,
    },
    /// No tracing on this device (CUPTI missing, or another profiler holds it): events and the
    /// host wall clock only.
    Unavailable { why: String },
    /// Every kernel, copy and memset a Python call caused, on any stream, from the process's own
    /// CUPTI tracer. A Python worker synchronises the whole device before its stop event, so
    /// every stream belongs to the call; `window_ns` runs from the end of the worker's marker
    /// memset before the call to the start of its marker after the stop event completed (device
    /// timestamps), and nothing of the call may lie outside it.
    /// Copies and memsets are records named `[memcpy DtoD, N B]`, `[memset, N B]`.
    ///
    /// `started_ns`: the end of a memset the worker issues and waits for just before it calls
    /// (after the window opened), so that the device is idle when the call begins: the call's
    /// time counts from it, so that the host time a call spends before its first device work
    /// (PyTorch's dispatch, a launch's own set-up) counts as the host time between its kernels
    /// does, for a candidate and the eager baseline alike.
    /// `None` (or a start outside the window, no mark of this call's): the call has no span the
    /// judge can hold against the baseline's, whose host time before its first kernel counts; it
    /// is timed by its events (see [`Trace::unstarted`]). Counting from its first record instead
    /// would leave out just the host time that a worker which drops its start would want left
    /// out, and did so silently when the worker's own merge of a sample's calls dropped it.
    Call {
        window_ns: (u64, u64),
        kernels: Vec<KernelRecord>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        started_ns: Option<u64>,
    },
}

impl Trace {
    /// First kernel's start to last kernel's end, milliseconds, whatever a Python call's worker
    /// marked as its start: how a Python baseline is timed against a native candidate, whose
    /// launch's host time no trace holds. `None` untraced or empty.
    pub fn kernel_span_ms(&self) -> Option<f64> {
        let (Trace::Traced { kernels, .. } | Trace::Call { kernels, .. }) = self else { return None };
        span_ms(kernels, None)
    }

    /// First kernel's start (a Python call's own start, as its worker marked it) to last
    /// kernel's end, milliseconds; `None` untraced, empty, or a Python call without its start
    /// ([`Trace::unstarted`]).
    pub fn span_ms(&self) -> Option<f64> {
        match self {
            Trace::Traced { kernels, .. } => span_ms(kernels, None),
            Trace::Call { window_ns, kernels, started_ns } => {
                span_ms(kernels, Some(call_start(*window_ns, *started_ns)?))
            }
            Trace::Unavailable { .. } => None,
        }
    }

    /// Why a Python call's trace gives no span: it holds no mark of the call's start inside its
    /// window. `None` for any other trace.
    pub fn unstarted(&self) -> Option<String> {
        let Trace::Call { window_ns, started_ns, .. } = self else { return None };
        call_start(*window_ns, *started_ns).is_none().then(|| match started_ns {
            None => "the call's trace holds no mark of the call's start: timed by events".to_string(),
            Some(s) => format!(
                "the call's trace marks the call's start at {s} ns, outside its window ({} to {} ns): timed by events",
                window_ns.0, window_ns.1
            ),
        })
    }
}

/// From `started` (or the first record's start, if earlier or without it) to the last record's
/// end, milliseconds; `None` without records.
pub(crate) fn span_ms(kernels: &[KernelRecord], started: Option<u64>) -> Option<f64> {
    let first = kernels.iter().map(|k| k.start_ns).min()?;
    let end = kernels.iter().map(|k| k.end_ns).max()?;
    let start = started.map_or(first, |s| first.min(s));
    Some(end.saturating_sub(start) as f64 / 1e6)
}

/// A Python call's start as its worker marked it, where the mark lies inside the call's window
/// (within 2 µs, the markers' precision); one outside it is no mark of this call's.
pub fn call_start(window_ns: (u64, u64), started_ns: Option<u64>) -> Option<u64> {
    started_ns.filter(|&s| s + 2_000 >= window_ns.0 && s <= window_ns.1)
}

/// One timed sample of a work list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Device time between events recorded just before and just after the work, milliseconds.
    pub ms: f64,
    /// Host wall clock from just before the start event to the stop event's completion.
    pub wall_ms: f64,
    /// SM clock measured right after the sample (clock64 over globaltimer), when the device can.
    pub sm_clock_mhz: Option<f64>,
    pub trace: Trace,
    /// For a device in another process: the judge's own clock around the whole request, from
    /// sending it to holding the reply, ms. Set by the judge's side of the pipe (any value the
    /// worker sends is overwritten); `None` for a device in the judge's own process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_ms: Option<f64>,
    /// The worker answered the timed call before its trace and its checks (a Python worker, so
    /// that the judge's clock holds the call alone): the rest comes from [`Device::collect`],
    /// which the judge asks for once it has compared the output.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

impl Sample {
    /// A sample with nothing but an event time (simulations, tests).
    pub fn events_only(ms: f64) -> Sample {
        Sample {
            ms,
            wall_ms: ms,
            sm_clock_mhz: None,
            trace: Trace::Unavailable { why: "not traced".into() },
            judge_ms: None,
            pending: false,
        }
    }
}

/// SplitMix64's finaliser: a strong 64-bit mix, cheap on a GPU.
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Word `i` of the random-bits poison pattern with `seed`; the device helper computes the same.
/// Always a finite fp32 value: an all-ones exponent is flipped, so that the pattern is never NaN
/// or infinite and a NaN-scrubbing kernel gains nothing.
pub const fn pattern_word(seed: u64, i: u64) -> u32 {
    pattern_element(seed, i, Dtype::F32) as u32
}

/// Element `i` of the random-bits poison pattern with `seed` for elements of `dtype`: the top
/// bits of one mix, and for floating-point types never NaN or infinite (an all-ones exponent has
/// its lowest bit flipped). The device helper computes the same.
pub const fn pattern_element(seed: u64, i: u64, dtype: Dtype) -> u64 {
    let m = mix64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let (bits, exponent): (u64, u64) = match dtype {
        Dtype::F32 => (m >> 32, 0x7F80_0000),
        Dtype::I32 => (m >> 32, 0),
        Dtype::F16 => (m >> 48, 0x7C00),
        Dtype::Bf16 => (m >> 48, 0x7F80),
        Dtype::F64 => (m, 0x7FF0_0000_0000_0000),
        Dtype::I64 => (m, 0),
        Dtype::U8 | Dtype::Bool => (m >> 56, 0),
    };
    let lowest = exponent & exponent.wrapping_neg();
    if exponent != 0 && bits & exponent == exponent { bits ^ lowest } else { bits }
}

/// Order-independent hash of 32-bit words, bit for bit (−0.0 and +0.0 differ): the sum (mod 2⁶⁴)
/// of mix(key, i, word). The device helper computes the same with atomics. A key drawn at run time
/// and never sent to a worker keeps a kernel from aiming at a collision.
pub fn content_hash(words: &[u32], key: u64) -> u64 {
    use rayon::prelude::*;
    words.par_iter().enumerate().map(|(i, &w)| hash_term(key, i as u64, w)).reduce(|| 0u64, u64::wrapping_add)
}

/// One word's term of [`content_hash`].
pub const fn hash_term(key: u64, i: u64, word: u32) -> u64 {
    mix64(key ^ mix64(i ^ ((word as u64) << 32)))
}

/// Measured peak rates of a card: what no honest kernel can exceed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ceilings {
    /// fp32 FMA on CUDA cores (a calibrated kernel), TFLOP/s.
    pub fp32_tflops: f64,
    /// Dense TF32 tensor-core GEMM (cuBLAS), TFLOP/s.
    pub tf32_tflops: f64,
    /// Dense BF16 tensor-core GEMM (cuBLAS), TFLOP/s.
    pub bf16_tflops: f64,
    /// A large device-to-device copy, counting bytes read and written, GB/s.
    pub dram_gbs: f64,
}

impl Ceilings {
    /// Each rate the higher of the two: two measurements of one card's peaks, each of which can
    /// only fall short of them.
    pub fn higher(&self, other: &Ceilings) -> Ceilings {
        Ceilings {
            fp32_tflops: self.fp32_tflops.max(other.fp32_tflops),
            tf32_tflops: self.tf32_tflops.max(other.tf32_tflops),
            bf16_tflops: self.bf16_tflops.max(other.bf16_tflops),
            dram_gbs: self.dram_gbs.max(other.dram_gbs),
        }
    }
}

/// A GPU, or a simulation of one, or a worker process driving one.
pub trait Device {
    fn info(&self) -> &DeviceInfo;
    /// Compile for this device's architecture (the request names it).
    fn compile(&mut self, request: &CompileRequest) -> Result<CompiledModule, CompileError>;
    /// Judge-only memory: never exported ([`Device::export`] refuses it).
    fn alloc(&mut self, bytes: usize) -> Result<Buffer, DeviceError>;
    /// Memory that may be exported to another process: whole [`SHARE_BLOCK`]s of its own, zeroed
    /// beyond `bytes`, so that whoever maps it sees nothing but it. See [`SHARE_BLOCK`].
    fn alloc_shared(&mut self, bytes: usize) -> Result<Buffer, DeviceError>;
    /// Free the allocation a buffer (or a view of it) belongs to.
    fn free(&mut self, buffer: Buffer);
    fn upload(&mut self, buffer: Buffer, data: &[u8]) -> Result<(), DeviceError>;
    fn download(&mut self, buffer: Buffer, out: &mut [u8]) -> Result<(), DeviceError>;
    /// Fill a buffer with one repeated 32-bit word.
    fn fill_u32(&mut self, buffer: Buffer, word: u32) -> Result<(), DeviceError>;
    fn load(&mut self, module: &CompiledModule) -> Result<ModuleHandle, DeviceError>;
    /// Unload a module this device loaded (the judge's reference kernels, after each use).
    fn unload(&mut self, _module: ModuleHandle) {}
    /// Hold the process behind this device (every thread of it, and of the processes it
    /// started) on `cpus`, or let it run where it could before (`None`): a timing puts both
    /// sides of its comparison on the same cores. No-op by default (the judge's own device).
    fn pin(&mut self, _cpus: Option<&[usize]>) {}
    /// A review that uses this device starts now: a process behind it counts the review's
    /// deadline from here, not from when it started (a process kept from review to review, or
    /// started ahead, would otherwise run out of time in a later one). No-op by default.
    fn start_review(&mut self) {}
    /// Run the work in order and wait for it; every launch's status is checked.
    fn run(&mut self, work: &[Work]) -> Result<(), DeviceError>;
    /// Flush L2 (untimed), then time the work between device events while tracing it.
    fn time(&mut self, run: &TimedRun) -> Result<Sample, DeviceError>;
    /// The whole of the last timed sample, where [`Device::time`] answered it `pending`: its trace
    /// and the worker's checks. `None` when nothing waits (every device in the judge's process,
    /// and native workers).
    fn collect(&mut self) -> Result<Option<Sample>, DeviceError> {
        Ok(None)
    }
    /// Make an allocation (the whole of it, whatever view `buffer` is) mappable by another process.
    /// Only an allocation made with [`Device::alloc_shared`]: any other is refused with
    /// [`DeviceError::NotShareable`].
    fn export(&mut self, buffer: Buffer) -> Result<SharedHandle, DeviceError>;
    /// Map an allocation another process exported; freeing the returned buffer unmaps it.
    fn import(&mut self, shared: &SharedHandle) -> Result<Buffer, DeviceError>;
    /// Why this device cannot run `work` (a library it needs is missing), if it cannot: a
    /// baseline that cannot run is left out with the reason, the verdict stands.
    fn unavailable(&mut self, _work: &[Work]) -> Option<String> {
        None
    }
    /// The card's measured peak rates; a reference device measures them (once, cached), a
    /// candidate's device need not know. The caller holds the card (no other work on it).
    fn ceilings(&mut self) -> Result<Option<Ceilings>, DeviceError> {
        Ok(None)
    }
    /// The card's peak rates measured again now (the caller holds the card), each the higher of
    /// this measurement and what [`Device::ceilings`] held, and kept so: a measurement can only
    /// fall short of a peak (work of another process beside it, a clock still rising), so a speed
    /// is called impossible only against this.
    fn ceilings_again(&mut self) -> Result<Option<Ceilings>, DeviceError> {
        self.ceilings()
    }
}

/// Typed helpers over the byte interface.
pub trait DeviceExt: Device {
    fn upload_f32(&mut self, buffer: Buffer, data: &[f32]) -> Result<(), DeviceError> {
        self.upload(buffer, as_bytes(data))
    }
    fn upload_f64(&mut self, buffer: Buffer, data: &[f64]) -> Result<(), DeviceError> {
        self.upload(buffer, as_bytes(data))
    }
    fn download_f32(&mut self, buffer: Buffer) -> Result<Vec<f32>, DeviceError> {
        let mut out = vec![0f32; buffer.bytes / 4];
        self.download(buffer, as_bytes_mut(&mut out))?;
        Ok(out)
    }
    fn download_u32(&mut self, buffer: Buffer) -> Result<Vec<u32>, DeviceError> {
        let mut out = vec![0u32; buffer.bytes / 4];
        self.download(buffer, as_bytes_mut(&mut out))?;
        Ok(out)
    }
    fn download_u64(&mut self, buffer: Buffer) -> Result<Vec<u64>, DeviceError> {
        let mut out = vec![0u64; buffer.bytes / 8];
        self.download(buffer, as_bytes_mut(&mut out))?;
        Ok(out)
    }
    /// A view's elements of `dtype`, as bits.
    fn download_elements(&mut self, buffer: Buffer, dtype: Dtype) -> Result<Vec<u64>, DeviceError> {
        let mut bytes = vec![0u8; buffer.bytes];
        self.download(buffer, &mut bytes)?;
        Ok(element::read(dtype, &bytes))
    }
    fn download_f64(&mut self, buffer: Buffer) -> Result<Vec<f64>, DeviceError> {
        let mut out = vec![0f64; buffer.bytes / 8];
        self.download(buffer, as_bytes_mut(&mut out))?;
        Ok(out)
    }
}

impl<D: Device + ?Sized> DeviceExt for D {}

/// Plain-old-data element types that may be viewed as bytes.
pub trait Pod: Copy + 'static {}
impl Pod for f32 {}
impl Pod for f64 {}
impl Pod for u32 {}
impl Pod for u8 {}
impl Pod for u64 {}

pub fn as_bytes<T: Pod>(data: &[T]) -> &[u8] {
    // SAFETY: `Pod` types have no padding and every bit pattern is a valid u8.
    unsafe { std::slice::from_raw_parts(data.as_ptr().cast(), std::mem::size_of_val(data)) }
}

pub fn as_bytes_mut<T: Pod>(data: &mut [T]) -> &mut [u8] {
    // SAFETY: as above, and every byte pattern is a valid f32/f64/u32/u8.
    unsafe { std::slice::from_raw_parts_mut(data.as_mut_ptr().cast(), std::mem::size_of_val(data)) }
}

/// How the candidate's worker reaches the judge's buffers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sharing {
    /// The worker maps the judge's allocations (CUDA IPC): nothing is copied.
    Mapped,
    /// The worker holds copies that cross its pipe before and after every launch (why).
    Copied(String),
}

#[cfg(test)]
mod ceilings_tests {
    use super::Ceilings;

    /// A cached figure is read back exactly (an H100's DRAM peak came back one bit off without
    /// serde_json's exact float parsing, and the cache was not the measurement).
    #[test]
    fn ceilings_come_back_from_json_exactly_and_the_higher_of_two_is_each_rates_higher() {
        let c = Ceilings {
            fp32_tflops: 64.29358628315576,
            tf32_tflops: 455.2586615281116,
            bf16_tflops: 866.8164812029997,
            dram_gbs: 3141.2125519271162,
        };
        let back: Ceilings = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let other = Ceilings { fp32_tflops: 60.0, tf32_tflops: 500.0, bf16_tflops: 800.0, dram_gbs: 3300.0 };
        let h = c.higher(&other);
        assert_eq!(
            (h.fp32_tflops, h.tf32_tflops, h.bf16_tflops, h.dram_gbs),
            (c.fp32_tflops, 500.0, c.bf16_tflops, 3300.0)
        );
    }
}
