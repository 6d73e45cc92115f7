//! Judging one launch: the one shape that verification and timing share.
//!
//! 1. **Draw**: the judge's GPU fills every input with a fresh draw ([`crate::generate`]), seeded
//!    for this launch alone, into judge-only memory, copies it into the buffer the candidate
//!    maps and hashes that; outputs and scratch are poisoned.
//! 2. **Run**: the candidate's worker runs (or times) its launches on buffers it maps from the
//!    judge (CUDA IPC): inputs, outputs, scratch, never anything else.
//! 3. **Compare**: on the judge's GPU, in the judge's own context, the fp64 truth is computed from
//!    the judge's own copy of the inputs (never from memory the candidate could have written
//!    during its call and put back since), a comparator reduces the output against it ([`crate::device::compare`]), the
//!    inputs are hashed again and the guard zones around every buffer are hashed. One small
//!    summary comes back to the host; evidence is downloaded only when something failed.
//!
//! The truth never exists in the worker's process: it lives in judge-only allocations that are
//! never exported. At small sizes the host recomputes the truth and the comparison independently
//! and the two paths must agree, so that the comparator is itself under test on every review.
//!
//! Where buffers cannot be shared (no CUDA IPC on the machine, or a worker under
//! compute-sanitizer, whose memcheck must see the candidate's allocations as its own), the worker
//! holds copies and the contents cross the worker's pipe before and after each launch; the truth
//! still stays with the judge.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::candidate::{Candidate, ResolvedArg, ResolvedLaunch, Spec};
use crate::checks::accuracy::{self, Accuracy, ToleranceClass};
use crate::checks::guards::{self, CANARY, GUARD_BYTES, Side};
use crate::checks::signature;
use crate::checks::signature::ParamKind;
use crate::checks::{determinism, inputs_unchanged, unwritten};
use crate::compile::CompileRequest;
use crate::device::{
    Buffer, Comparison, Device, DeviceError, DeviceExt, Difference, Draw, KernelArg, Launch, LibraryOp, ModuleHandle,
    PoisonWords, Precision, Sample, TimedRun, Work, compare_host, content_hash, diff_host, element, mix64,
};
use crate::model::Access;
use crate::problem::ReferenceKernel;
use crate::problem::torch::ModelKind;
use crate::problem::{BufferSpec, Distribution, Dtype, Problem, Reference, ReferenceSpec, Role, ScaleRule, Sizes};
use crate::seeds::Seeds;
use crate::verdict::{At, Rejection};

/// Largest output (elements) whose verification trials are also checked on the host.
pub const HOST_CHECK_ELEMENTS: usize = 1 << 20;
/// Most work (the problem's flop floor) a host cross-check may recompute: plain loops must stay
/// cheap (trimm at N = 1000 is 0.67 GFLOP).
pub const HOST_CHECK_FLOPS: f64 = 2e9;

/// A candidate compiled, loaded, and its arguments checked: ready to launch.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub module: ModuleHandle,
    /// How each argument of each launch is passed.
    pub kinds: Vec<Vec<ParamKind>>,
}

/// Why judging stopped early.
pub(crate) enum Stop {
    Reject(Box<Rejection>),
    Env(DeviceError),
}

pub(crate) fn reject(r: Rejection) -> Stop {
    Stop::Reject(Box::new(r))
}

impl From<DeviceError> for Stop {
    fn from(e: DeviceError) -> Stop {
        Stop::Env(e)
    }
}

fn env(message: String) -> Stop {
    Stop::Env(DeviceError::Environment(message))
}

/// Map a failed candidate launch to a verdict; anything else ends the run.
pub(crate) fn launch_failure(e: DeviceError, at: At) -> Stop {
    let message = e.to_string();
    match e {
        DeviceError::LaunchRefused { .. } => reject(Rejection::LaunchRefused { at, message }),
        DeviceError::KernelFault { .. } | DeviceError::ModuleLoad { .. } => {
            reject(Rejection::KernelFault { at, message })
        }
        DeviceError::Timeout { .. } => reject(Rejection::Timeout { at, message }),
        DeviceError::WorkerDied { .. } => reject(Rejection::WorkerDied { at, message }),
        DeviceError::Refused { reason, evidence, .. } => reject(Rejection::Refused { at, reason, evidence }),
        e => Stop::Env(e),
    }
}

pub use crate::device::Sharing;

/// The GPU work of a review, split so that the answer never exists where the candidate runs: the
/// candidate's launches go to `candidate` (a worker process of its own, in production), fresh
/// inputs, the fp64 truth, the comparison and the library baseline to `reference`, the judge.
pub struct Devices<'a> {
    pub candidate: &'a mut dyn Device,
    pub reference: &'a mut dyn Device,
    /// Shared with the other reviews running on the same GPU, if any.
    pub gate: Option<&'a GpuGate>,
    /// Mapped unless mapping failed once (then copied for the rest of the review) or was not
    /// wanted.
    pub sharing: Sharing,
    /// For a KernelBench problem: the process serving its own Model (truth and baseline).
    pub model: Option<&'a mut crate::model::ModelWorker>,
}

impl<'a> Devices<'a> {
    pub fn new(candidate: &'a mut dyn Device, reference: &'a mut dyn Device) -> Devices<'a> {
        Devices { candidate, reference, gate: None, sharing: Sharing::Mapped, model: None }
    }

    /// GPU work that may share the card with other reviews' verification (not with timing).
    pub fn shared(&self) -> Option<RwLockReadGuard<'a, ()>> {
        self.gate.map(GpuGate::shared)
    }

    /// GPU work that needs the card to itself: timing.
    pub fn exclusive(&self) -> Option<RwLockWriteGuard<'a, ()>> {
        self.gate.map(|g| g.0.write().unwrap_or_else(|e| e.into_inner()))
    }
}

/// When several reviews share one GPU (`--jobs`): their verification may overlap, but a review
/// being timed has the card to itself. Waiting writers hold off new readers, so timing is not
/// starved.
#[derive(Debug, Default)]
pub struct GpuGate(RwLock<()>);

impl GpuGate {
    /// Work that may overlap other reviews' verification but never a timing: verification,
    /// compiles (a torch extension's build keeps every core busy), starting workers.
    pub fn shared(&self) -> RwLockReadGuard<'_, ()> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// A buffer as the candidate sees it, inside an allocation with a guard zone on each side. The
/// judge owns the allocation; the worker maps it or holds a copy.
pub(crate) struct Guarded {
    pub name: String,
    /// The whole allocation on the judge's device, guards included.
    pub whole: Buffer,
    /// What the kernel is given, on the judge's device.
    pub view: Buffer,
    /// The whole allocation as the worker sees it.
    pub remote: Buffer,
}

impl Guarded {
    fn guard(&self) -> usize {
        self.view.offset - self.whole.offset
    }

    /// The kernel's view, on the worker's side.
    pub fn remote_view(&self) -> Buffer {
        self.remote.view(self.guard(), self.view.bytes)
    }

    fn zones(&self) -> [(Side, Buffer); 2] {
        let g = self.guard();
        [(Side::Before, self.whole.view(0, g)), (Side::After, self.whole.view(g + self.view.bytes, g))]
    }
}

/// Allocate a guarded buffer on the judge and hand it to the worker: whole 2 MiB blocks of its
/// own ([`Device::alloc_shared`]), so that the worker's mapping reaches nothing of the judge's.
fn share(devices: &mut Devices, name: &str, bytes: usize, guard: usize) -> Result<Guarded, DeviceError> {
    // Never a zero-byte view: its pointer would alias the guard.
    let bytes = bytes.max(4).next_multiple_of(4);
    let whole = devices.reference.alloc_shared(bytes + 2 * guard)?;
    let give = |devices: &mut Devices| -> Result<Buffer, DeviceError> {
        if guard > 0 {
            devices.reference.run(&[Work::Library(LibraryOp::Fill { buffer: whole, word: CANARY })])?;
        }
        if devices.sharing == Sharing::Mapped {
            let mapped = devices.reference.export(whole).and_then(|h| devices.candidate.import(&h));
            match mapped {
                Ok(remote) => return Ok(remote),
                // The worker is gone or hung: that is the candidate's doing, not a sharing problem.
                // Judge-only memory asked to leave is a bug to report, never a reason to copy.
                Err(e) if e.is_candidates_fault() || matches!(e, DeviceError::NotShareable(_)) => return Err(e),
                Err(e) => {
                    devices.sharing = Sharing::Copied(format!("the worker could not map the judge's buffers: {e}"))
                }
            }
        }
        devices.candidate.alloc(whole.bytes)
    };
    match give(devices) {
        Ok(remote) => Ok(Guarded { name: name.to_string(), whole, view: whole.view(guard, bytes), remote }),
        Err(e) => {
            devices.reference.free(whole);
            Err(e)
        }
    }
}

/// Device buffers for one size, shared with the worker, and the candidate's launches bound to
/// them.
pub(crate) struct Arena {
    pub sizes: Sizes,
    pub buffers: Vec<(BufferSpec, Guarded)>,
    pub scratch: Vec<Guarded>,
    /// The candidate's launches, addressing the worker's side of the buffers.
    pub work: Vec<Work>,
}

impl Arena {
    pub fn new(
        devices: &mut Devices,
        candidate: &Candidate,
        prepared: &Prepared,
        sizes: &Sizes,
        guards: bool,
    ) -> Result<Arena, Stop> {
        let launches = candidate
            .spec
            .resolve(sizes)
            .map_err(|(_, message)| reject(Rejection::LaunchConfig { sizes: sizes.clone(), message }))?;
        let scratch_sizes = candidate
            .spec
            .scratch_bytes(sizes)
            .map_err(|message| reject(Rejection::LaunchConfig { sizes: sizes.clone(), message }))?;
        let mut arena = Arena { sizes: sizes.clone(), buffers: Vec::new(), scratch: Vec::new(), work: Vec::new() };
        let guard = if guards { GUARD_BYTES } else { 0 };
        let result = arena.allocate(devices, candidate, &scratch_sizes, guard).and_then(|()| {
            let named: Vec<(String, Buffer)> = arena.all().map(|g| (g.name.clone(), g.remote_view())).collect();
            bind_launches(launches, prepared, &named, sizes)
        });
        match result {
            Ok(work) => {
                arena.work = work;
                Ok(arena)
            }
            Err(stop) => {
                arena.release(devices);
                Err(stop)
            }
        }
    }

    fn allocate(
        &mut self,
        devices: &mut Devices,
        candidate: &Candidate,
        scratch: &[(String, usize)],
        guard: usize,
    ) -> Result<(), Stop> {
        for spec in candidate.problem.buffers(&self.sizes) {
            let g = share(devices, spec.name, spec.bytes(), guard)?;
            self.buffers.push((spec, g));
        }
        for (name, bytes) in scratch {
            // A scratch buffer the device cannot hold is the candidate's demand, not a fault of ours.
            let g = share(devices, name, *bytes, guard).map_err(|e| {
                if e.is_candidates_fault() {
                    return Stop::Env(e);
                }
                reject(Rejection::LaunchConfig {
                    sizes: self.sizes.clone(),
                    message: format!("scratch buffer `{name}` of {bytes} bytes cannot be allocated: {e}"),
                })
            })?;
            self.scratch.push(g);
        }
        Ok(())
    }

    pub fn all(&self) -> impl Iterator<Item = &Guarded> {
        self.buffers.iter().map(|(_, g)| g).chain(&self.scratch)
    }

    pub fn of_role(&self, role: Role) -> impl Iterator<Item = (&BufferSpec, &Guarded)> {
        self.buffers.iter().filter(move |(s, _)| s.role == role).map(|(s, g)| (s, g))
    }

    /// The judge's views of the inputs (for the baseline and the truth).
    pub fn inputs(&self) -> Vec<Buffer> {
        // The shape's elements only: a 16-bit input's view is padded to a whole word.
        self.of_role(Role::Input).map(|(spec, g)| g.view.view(0, spec.bytes().min(g.view.bytes))).collect()
    }

    pub fn release(self, devices: &mut Devices) {
        for g in self.all() {
            devices.candidate.free(g.remote);
            devices.reference.free(g.whole);
        }
    }

    /// Copied sharing: the judge's contents to the worker before a launch.
    fn push(&self, devices: &mut Devices) -> Result<(), DeviceError> {
        for g in self.all() {
            let mut bytes = vec![0u8; g.whole.bytes];
            devices.reference.download(g.whole, &mut bytes)?;
            devices.candidate.upload(g.remote, &bytes)?;
        }
        Ok(())
    }

    /// Copied sharing: the worker's contents back to the judge after a launch.
    fn pull(&self, devices: &mut Devices) -> Result<(), DeviceError> {
        for g in self.all() {
            let mut bytes = vec![0u8; g.whole.bytes];
            devices.candidate.download(g.remote, &mut bytes)?;
            devices.reference.upload(g.whole, &bytes)?;
        }
        Ok(())
    }
}

/// The launches with their arguments turned into device pointers and integers of the right width.
fn bind_launches(
    launches: Vec<ResolvedLaunch>,
    prepared: &Prepared,
    named: &[(String, Buffer)],
    sizes: &Sizes,
) -> Result<Vec<Work>, Stop> {
    let mut work = Vec::new();
    for (launch, kinds) in launches.into_iter().zip(&prepared.kinds) {
        let mut args = Vec::with_capacity(kinds.len());
        for (arg, kind) in launch.args.iter().zip(kinds) {
            args.push(match (arg, kind) {
                (ResolvedArg::Buffer(name), _) => {
                    KernelArg::Buffer(
                        named.iter().find(|(n, _)| n == name).map(|(_, b)| *b).ok_or_else(|| {
                            reject(Rejection::Signature { message: format!("unknown buffer `{name}`") })
                        })?,
                    )
                }
                (ResolvedArg::Int(v), ParamKind::I32) => KernelArg::I32(i32::try_from(*v).map_err(|_| {
                    reject(Rejection::LaunchConfig {
                        sizes: sizes.clone(),
                        message: format!("argument value {v} does not fit the kernel's 32-bit parameter"),
                    })
                })?),
                (ResolvedArg::Int(v), _) => KernelArg::I64(*v),
            });
        }
        work.push(Work::Launch(Launch {
            module: prepared.module,
            kernel: launch.kernel,
            grid: launch.grid,
            block: launch.block,
            shared_mem: launch.shared_mem,
            args,
        }));
    }
    Ok(work)
}

/// Judge-only memory for one size: the truth, its temporaries, kept outputs, result slots. Never
/// exported, so never in the worker's address space. One per size, shared by every arena of it.
pub(crate) struct Truth {
    sizes: Sizes,
    /// The problem's reference kernel, compiled and loaded on the judge's device, when it has one.
    reference: Option<Prepared>,
    scratch: Vec<Buffer>,
    /// (values, scale) per output, fp64.
    outputs: Vec<(Buffer, Buffer)>,
    /// A copy of each output of the last launch that asked to keep it (repeat trials).
    kept: Vec<Buffer>,
    /// Each input as the judge drew it, sized as the candidate's view of it: the draw lands here
    /// and is copied into the shared view, and the truth is computed from here, never from
    /// memory the candidate could write (it could change an input during its call and restore it
    /// afterwards).
    pristine: Vec<Buffer>,
    results: Buffer,
    terms: usize,
    /// Key of the input and guard hashes: drawn at run time, never sent to the worker.
    key: u64,
    canary_hash: u64,
    /// The baseline's error at this size, against this truth (see [`Truth::calibrate`]).
    calibration: std::cell::RefCell<Calibration>,
}

/// The baseline run on the inputs of a judged launch, into judge-only buffers, and compared with
/// that launch's truth: the bounds an output is held to ([`accuracy::Bounds`]) are calibrated
/// against what it achieved. A verification trial calibrates on its own inputs; timed launches
/// use the last calibration at their size, or calibrate on the first of them when there is none.
#[derive(Default)]
struct Calibration {
    /// The baseline's outputs, allocated on first use; never exported.
    outputs: Vec<Buffer>,
    /// Per output, from the last calibrated launch; empty before the first.
    outputs_calibrated: Vec<accuracy::Calibrated>,
}

/// Result slots: per input a hash before and after, per guarded buffer two zone hashes, per output
/// a comparison and a difference.
#[derive(Clone, Copy)]
struct Slots {
    inputs: usize,
    buffers: usize,
    outputs: usize,
}

impl Slots {
    fn before(&self, k: usize) -> usize {
        k
    }
    fn after(&self, k: usize) -> usize {
        self.inputs + k
    }
    fn zone(&self, buffer: usize, side: usize) -> usize {
        2 * self.inputs + 2 * buffer + side
    }
    fn compare(&self, k: usize) -> usize {
        2 * self.inputs + 2 * self.buffers + Comparison::WORDS * k
    }
    fn diff(&self, k: usize) -> usize {
        self.compare(self.outputs) + Difference::WORDS * k
    }
    fn words(&self) -> usize {
        self.diff(self.outputs)
    }
}

impl Truth {
    pub fn new(devices: &mut Devices, candidate: &Candidate, sizes: &Sizes, key: u64) -> Result<Truth, DeviceError> {
        let problem = candidate.problem;
        let buffers = problem.buffers(sizes);
        let outputs: Vec<&BufferSpec> = buffers.iter().filter(|b| b.role == Role::Output).collect();
        let mut t = Truth {
            sizes: sizes.clone(),
            reference: None,
            scratch: Vec::new(),
            outputs: Vec::new(),
            kept: Vec::new(),
            pristine: Vec::new(),
            results: Buffer { id: 0, offset: 0, bytes: 0 },
            terms: problem.terms(sizes),
            key,
            canary_hash: content_hash(&vec![CANARY; GUARD_BYTES / 4], key),
            calibration: Default::default(),
        };
        let made = (|| {
            for bytes in truth_scratch(problem, sizes) {
                t.scratch.push(devices.reference.alloc(bytes.max(8))?);
            }
            if let ReferenceSpec::Kernel(k) = &problem.reference {
                t.reference = Some(load_reference(devices, problem.name, k)?);
            }
            for spec in buffers.iter().filter(|b| b.role == Role::Input) {
                // The size of the candidate's view (see `share`), so that one copies into the other.
                // A KernelBench file's get_inputs() writes it from the Model's process (shared with
                // that process alone, never with the candidate's).
                let bytes = spec.bytes().max(4).next_multiple_of(4);
                t.pristine.push(if problem.torch().is_some() {
                    devices.reference.alloc_shared(bytes)?
                } else {
                    devices.reference.alloc(bytes)?
                });
            }
            for spec in &outputs {
                let bytes = spec.elements().max(1) * 8;
                // A KernelBench Model's process writes the truth into these: shareable, so whole
                // blocks of their own; judge-only (never exported) otherwise.
                let mut alloc = |bytes| match problem.torch() {
                    Some(_) => devices.reference.alloc_shared(bytes),
                    None => devices.reference.alloc(bytes),
                };
                t.outputs.push((alloc(bytes)?, alloc(bytes)?));
                t.kept.push(devices.reference.alloc(spec.bytes().max(4).next_multiple_of(4))?);
            }
            // Every arena of this candidate: its problem's buffers and its scratch buffers.
            let slots = Slots {
                inputs: buffers.len() - outputs.len(),
                buffers: buffers.len() + candidate.spec.scratch.len(),
                outputs: outputs.len(),
            }
            .words();
            t.results = devices.reference.alloc(slots * 8)?;
            Ok(())
        })();
        match made {
            Ok(()) => Ok(t),
            Err(e) => {
                t.release(devices);
                Err(e)
            }
        }
    }

    pub fn release(self, devices: &mut Devices) {
        // The Model's process lets go of the judge's buffers before the judge frees them.
        if let Some(m) = devices.model.as_deref_mut() {
            m.forget();
        }
        if let Some(r) = &self.reference {
            devices.reference.unload(r.module);
        }
        for b in self.scratch.iter().chain(&self.kept).chain(&self.pristine).chain(&self.calibration.borrow().outputs) {
            devices.reference.free(*b);
        }
        for (v, s) in &self.outputs {
            devices.reference.free(*v);
            devices.reference.free(*s);
        }
        if self.results.bytes > 0 {
            devices.reference.free(self.results);
        }
    }
}

/// One launch to judge.
pub(crate) struct Plan {
    pub at: At,
    /// One per input.
    pub draws: Vec<Draw>,
    /// One per output.
    pub poison: Vec<PoisonWords>,
    pub scratch_seed: u64,
    /// Timed (traced, L2 flushed) rather than simply run.
    pub timed: bool,
    /// Keep a copy of the outputs for a later repeat.
    pub keep: bool,
    /// The inputs are those of the kept launch: the outputs must match it up to rounding.
    pub repeat: bool,
    /// At small sizes, recompute the truth and the comparison on the host too (verification).
    pub host_check: bool,
}

/// What a judged launch showed. Its accuracy is not yet held against the tolerance: see
/// [`Judged::inaccurate`].
pub(crate) struct Judged {
    pub sample: Option<Sample>,
    pub accuracy: Vec<Accuracy>,
    /// Host wall time of step 3: the fp64 truth, the comparison and the hashes, ms.
    pub truth_ms: f64,
}

impl Judged {
    /// The first output whose accuracy fails its tolerance, as a rejection.
    pub fn inaccurate(&self, at: &At) -> Option<Rejection> {
        self.accuracy.iter().find_map(|acc| {
            acc.failure().map(|evidence| Rejection::Inaccurate { at: at.clone(), class: acc.class, evidence })
        })
    }
}

/// "randn", or "randn and uniform(0, 4)" when the inputs' distributions differ.
pub(crate) fn distributions_text(d: &[Distribution]) -> String {
    let mut names: Vec<String> = d.iter().map(|x| x.to_string()).collect();
    names.dedup();
    names.join(" and ")
}

/// The seed of one launch's inputs: the run's seed, the candidate, the problem (its name and
/// definition), the case (`trial`, `stress`, `timed launch`), the sizes and the launch's index
/// within its case, so that no two launches of a run share a stream or a prefix of one.
pub(crate) fn launch_seed(seeds: &Seeds, candidate: &Candidate, case: &str, sizes: &Sizes, index: usize) -> u64 {
    seeds.launch(&candidate.sha256, candidate.problem.name, candidate.problem.sha256, case, &sizes.to_string(), index)
}

/// Input `k`'s seed within a launch whose inputs have seed `base`.
pub(crate) fn input_seed(base: u64, k: usize) -> u64 {
    mix64(base ^ mix64(k as u64 + 1))
}

/// Fresh draws for every input of a problem at `sizes`.
pub(crate) fn draws(candidate: &Candidate, sizes: &Sizes, kind: usize, base: u64, scales: &[f32]) -> Vec<Draw> {
    draws_of(candidate, sizes, &candidate.problem.input_distributions(kind, sizes), base, scales)
}

/// Fresh draws for every input of a problem at `sizes`, from the given distributions (one per
/// input, in declaration order).
pub(crate) fn draws_of(
    candidate: &Candidate,
    sizes: &Sizes,
    distributions: &[Distribution],
    base: u64,
    scales: &[f32],
) -> Vec<Draw> {
    candidate
        .problem
        .buffers(sizes)
        .iter()
        .filter(|b| b.role == Role::Input)
        .enumerate()
        .map(|(k, spec)| Draw {
            distribution: distributions[k],
            seed: input_seed(base, k),
            scale: scales.get(k).copied().unwrap_or(1.0),
            cols: spec.cols() as u64,
            lower: spec.lower_triangular,
            dtype: spec.dtype,
        })
        .collect()
}

/// Draw, poison, run, compare, check the guards.
pub(crate) fn judge(
    devices: &mut Devices,
    arena: &Arena,
    truth: &Truth,
    plan: &Plan,
    candidate: &Candidate,
    review: ToleranceClass,
) -> Result<Judged, Stop> {
    let problem = candidate.problem;
    let at = &plan.at;
    let inputs: Vec<(&BufferSpec, &Guarded)> = arena.of_role(Role::Input).collect();
    let outputs: Vec<(&BufferSpec, &Guarded)> = arena.of_role(Role::Output).collect();
    let slots = Slots { inputs: inputs.len(), buffers: arena.all().count(), outputs: outputs.len() };
    if slots.words() * 8 > truth.results.bytes {
        return Err(env(format!("{} result slots needed, {} allocated", slots.words(), truth.results.bytes / 8)));
    }
    let slot = |i: usize| truth.results.view(8 * i, 8);
    let hash_inputs = |after: bool| {
        inputs.iter().enumerate().map(move |(k, (_, g))| {
            let out = slot(if after { slots.after(k) } else { slots.before(k) });
            Work::Library(LibraryOp::Hash { buffer: g.view, key: truth.key, out })
        })
    };

    // 1. Draw into judge-only memory (a KernelBench file's forward arguments by its own
    // get_inputs(), in the Model's process), copy into the candidate's view, hash, poison: on the
    // judge.
    if truth.pristine.len() != inputs.len() {
        return Err(env(format!("{} judge-only inputs allocated, {} needed", truth.pristine.len(), inputs.len())));
    }
    let mut before: Vec<Work> = Vec::new();
    let by_file = draw_torch_inputs(devices, problem, &arena.sizes, &truth.inputs(problem), &plan.draws)?;
    for ((((_, g), draw), &pristine), by_file) in inputs.iter().zip(&plan.draws).zip(&truth.pristine).zip(by_file) {
        if !by_file {
            before.push(Work::Library(LibraryOp::Generate { buffer: pristine, draw: *draw }));
        }
        before.push(Work::Library(LibraryOp::Copy { src: pristine, dst: g.view }));
    }
    before.extend(hash_inputs(false));
    for ((spec, g), poison) in outputs.iter().zip(&plan.poison) {
        before.push(Work::Library(match *poison {
            PoisonWords::Word(word) => LibraryOp::Fill { buffer: g.view, word },
            PoisonWords::Pattern(seed) => LibraryOp::Pattern { buffer: g.view, seed, dtype: spec.dtype },
        }));
    }
    for (k, g) in arena.scratch.iter().enumerate() {
        let seed = crate::device::mix64(plan.scratch_seed ^ k as u64);
        before.push(Work::Library(LibraryOp::Pattern { buffer: g.view, seed, dtype: Dtype::F32 }));
    }
    devices.reference.run(&before)?;
    if devices.sharing != Sharing::Mapped {
        arena.push(devices)?;
    }

    // 2. Run: in the worker.
    let sample = if plan.timed {
        Some(
            devices
                .candidate
                .time(&TimedRun { work: arena.work.clone() })
                .map_err(|e| launch_failure(e, at.clone()))?,
        )
    } else {
        devices.candidate.run(&arena.work).map_err(|e| launch_failure(e, at.clone()))?;
        None
    };
    if devices.sharing != Sharing::Mapped {
        arena.pull(devices)?;
    }

    // 3. Truth and comparison: on the judge, in its own context.
    // Each output in its own class: declared, its dtype's, or the review's.
    let classes = problem.output_tolerances(review);
    let mut after: Vec<Work> = hash_inputs(true).collect();
    for (b, g) in arena.all().enumerate() {
        if g.guard() > 0 {
            for (side, (_, zone)) in g.zones().into_iter().enumerate() {
                after.push(Work::Library(LibraryOp::Hash {
                    buffer: zone,
                    key: truth.key,
                    out: slot(slots.zone(b, side)),
                }));
            }
        }
    }
    // The truth from the judge's own copy of the inputs, never from the shared buffers.
    let judge_inputs = truth.inputs(problem);
    truth.torch(devices, problem, &judge_inputs)?;
    let truth_work = truth.work(problem, &judge_inputs)?;
    // The baseline on these inputs, against this truth: every verification trial, and the first
    // timed launch at a size with no calibration yet.
    if truth.calibrates(problem, review) && (!plan.timed || truth.calibration.borrow().outputs_calibrated.is_empty()) {
        devices.reference.run(&truth_work)?;
        truth.calibrate(devices, problem, &judge_inputs, review)?;
    } else {
        after.extend(truth_work);
    }
    let bounds = truth.bounds(problem, review);
    let factors: Vec<f64> = bounds.iter().map(|b| b.factor).collect();
    for (k, ((spec, g), &(values, scale))) in outputs.iter().zip(&truth.outputs).enumerate() {
        let out = truth.results.view(8 * slots.compare(k), 8 * Comparison::WORDS);
        // The shape's elements only: a 16-bit output's padding to a whole word is not judged.
        let got = g.view.view(0, spec.bytes());
        let factor = factors[k];
        after.push(Work::Library(LibraryOp::Compare {
            got,
            values,
            scale,
            factor,
            poison: plan.poison[k],
            out,
            dtype: spec.dtype,
        }));
        if plan.repeat {
            let out = truth.results.view(8 * slots.diff(k), 8 * Difference::WORDS);
            let first = truth.kept[k].view(0, spec.bytes());
            after.push(Work::Library(LibraryOp::Diff { first, second: got, scale, factor, out, dtype: spec.dtype }));
        }
    }
    let truth_started = std::time::Instant::now();
    devices.reference.run(&after)?;
    let words = devices.reference.download_u64(truth.results.view(0, 8 * slots.words()))?;
    let truth_ms = truth_started.elapsed().as_secs_f64() * 1e3;
    // The output is compared (the candidate's worker stopped since its reply): now the rest of a
    // pending sample, the worker's trace and its checks.
    let sample = match sample {
        Some(s) if s.pending => Some(
            devices
                .candidate
                .collect()
                .map_err(|e| launch_failure(e, at.clone()))?
                .ok_or_else(|| env("a timed launch's sample was answered pending and never collected".into()))?,
        ),
        s => s,
    };

    // 4. The checks, in order: guards, unwritten elements, inputs, determinism, accuracy.
    for (b, g) in arena.all().enumerate() {
        for (side, (which, zone)) in g.zones().into_iter().enumerate() {
            if g.guard() == 0 || words[slots.zone(b, side)] == truth.canary_hash {
                continue;
            }
            let mut bytes = vec![0u8; zone.bytes];
            devices.reference.download(zone, &mut bytes)?;
            return match guards::check(&g.name, which, &bytes) {
                Some(evidence) => Err(reject(Rejection::OutOfBounds { at: at.clone(), evidence })),
                None => Err(env(format!("the device's hash of a guard zone of {} disagrees with the host's", g.name))),
            };
        }
    }
    let comparisons: Vec<Comparison> = (0..outputs.len())
        .map(|k| Comparison::from_words(&words[slots.compare(k)..]).judged(truth.terms, outputs[k].0.dtype))
        .collect();
    let differences: Vec<Difference> = if plan.repeat {
        (0..outputs.len()).map(|k| Difference::from_words(&words[slots.diff(k)..])).collect()
    } else {
        Vec::new()
    };
    let intact: Vec<bool> = (0..inputs.len()).map(|k| words[slots.before(k)] == words[slots.after(k)]).collect();
    let small = outputs.iter().chain(&inputs).all(|(s, _)| s.elements() <= HOST_CHECK_ELEMENTS)
        && problem.min_flops(&arena.sizes) <= HOST_CHECK_FLOPS;
    // Verification trials at small sizes; timed launches never wait for the host.
    if small && !plan.timed && plan.host_check {
        cross_check(devices, arena, truth, plan, candidate, &comparisons, &differences, &intact, &factors)?;
    }
    for (((spec, _), c), &poison) in outputs.iter().zip(&comparisons).zip(&plan.poison) {
        if let Some(evidence) = unwritten::from_comparison(spec, c, poison) {
            return Err(reject(Rejection::Unwritten { at: at.clone(), evidence }));
        }
    }
    for (k, (spec, g)) in inputs.iter().enumerate() {
        if !intact[k] {
            return Err(inputs_modified(devices, truth, spec, g, at, k));
        }
    }
    for ((spec, _), d) in outputs.iter().zip(&differences) {
        if let Some(evidence) = determinism::from_difference(spec, d) {
            return Err(reject(Rejection::Nondeterministic { at: at.clone(), evidence }));
        }
    }
    let accuracy: Vec<Accuracy> = outputs
        .iter()
        .zip(&comparisons)
        .zip(&classes)
        .zip(&bounds)
        .map(|((((spec, _), c), &class), b)| accuracy::from_comparison(spec, c, class).with_bounds(b))
        .collect();
    if plan.keep {
        let copies: Vec<Work> = outputs
            .iter()
            .zip(&truth.kept)
            .map(|((_, g), &dst)| Work::Library(LibraryOp::Copy { src: g.view, dst }))
            .collect();
        devices.reference.run(&copies)?;
    }
    Ok(Judged { sample, accuracy, truth_ms })
}

/// Per input of `problem`, whether the file's own `get_inputs()` draws it (a KernelBench file's
/// forward arguments) rather than the judge's generator.
fn drawn_by_file(problem: &Problem) -> Vec<bool> {
    match problem.torch() {
        Some(t) => t.drawn_by_file(),
        None => vec![false; problem.tensors.iter().filter(|t| t.role == Role::Input).count()],
    }
}

/// A KernelBench file's forward arguments for one launch, drawn by its own `get_inputs()` in the
/// Model's process under the seed of the launch's first such input (a fresh one per launch, the
/// same for a repeat), into `targets` (every input's buffer, in order; only those the file draws
/// are written, and they must be shareable). Says which inputs it drew: none for other problems.
fn draw_torch_inputs(
    devices: &mut Devices,
    problem: &'static Problem,
    sizes: &Sizes,
    targets: &[Buffer],
    draws: &[Draw],
) -> Result<Vec<bool>, Stop> {
    let by_file = drawn_by_file(problem);
    let Some(first) = by_file.iter().position(|&b| b) else { return Ok(by_file) };
    let Some(model) = devices.model.as_deref_mut() else {
        return Err(env(format!(
            "problem `{}` is a KernelBench file: its inputs are drawn by its get_inputs(), which needs a Python \
             process with PyTorch, and none was started",
            problem.name
        )));
    };
    let mine: Vec<Buffer> = targets.iter().zip(&by_file).filter(|(_, b)| **b).map(|(t, _)| *t).collect();
    model.draw_inputs(&mut *devices.reference, problem, sizes, draws[first].seed, &mine)?;
    Ok(by_file)
}

/// The inputs' hashes moved: find what changed, against the judge's own copy of the draw (which
/// the candidate's process never maps).
fn inputs_modified(devices: &mut Devices, truth: &Truth, spec: &BufferSpec, g: &Guarded, at: &At, k: usize) -> Stop {
    let found = (|| -> Result<Option<Rejection>, DeviceError> {
        let after = devices.reference.download_elements(g.view, spec.dtype)?;
        let pristine = devices.reference.download_elements(truth.pristine[k], spec.dtype)?;
        Ok(inputs_unchanged::check(spec, &pristine, &after)
            .map(|evidence| Rejection::InputsModified { at: at.clone(), evidence }))
    })();
    match found {
        Ok(Some(r)) => reject(r),
        Ok(None) => env(format!("the device's hash of input {} moved, but its contents did not", spec.name)),
        Err(e) => Stop::Env(e),
    }
}

/// At small sizes, recompute everything on the host and demand agreement: the fp64 truth by plain
/// loops against cuBLAS's, and the comparison by [`compare_host`] against the device's. A
/// disagreement is sadoku's fault, never the candidate's: it ends the run.
#[allow(clippy::too_many_arguments)]
fn cross_check(
    devices: &mut Devices,
    arena: &Arena,
    truth: &Truth,
    plan: &Plan,
    candidate: &Candidate,
    comparisons: &[Comparison],
    differences: &[Difference],
    intact: &[bool],
    factors: &[f64],
) -> Result<(), Stop> {
    // The judge's own copy of the inputs, from which the device computed the truth.
    let mut inputs: Vec<Vec<u64>> = Vec::new();
    for ((spec, _), &pristine) in arena.of_role(Role::Input).zip(&truth.pristine) {
        inputs.push(devices.reference.download_elements(pristine, spec.dtype)?);
    }
    // The generator too: the device's draw must be the host's, to the last bit for uniform and
    // integer draws and within one unit in the last place for normal ones (the device's log and
    // cos round differently from the host's now and then; rounding to a 16-bit type can carry
    // that unit into its last place).
    // A KernelBench file's forward arguments are its get_inputs()'s: no host twin of those.
    let by_file = drawn_by_file(candidate.problem);
    for ((((spec, _), (draw, got)), &intact), by_file) in
        arena.of_role(Role::Input).zip(plan.draws.iter().zip(&inputs)).zip(intact).zip(by_file)
    {
        if !intact || by_file {
            continue;
        }
        for (i, &x) in got.iter().enumerate() {
            let want = crate::generate::element(draw, i as u64);
            if !crate::generate::same_draw(draw, x, want) {
                return Err(env(format!(
                    "the device's generator disagrees with the host's: input {} element {i} is {}, expected {}",
                    spec.name,
                    element::text(spec.dtype, x),
                    element::text(spec.dtype, want)
                )));
            }
        }
    }
    let values: Vec<Vec<f64>> = arena
        .of_role(Role::Input)
        .zip(&inputs)
        .map(|((spec, _), e)| e[..spec.elements()].iter().map(|&x| element::value(spec.dtype, x)).collect())
        .collect();
    let host = candidate.problem.reference_host(&arena.sizes, &values);
    for (k, ((spec, g), &(values, scale))) in arena.of_role(Role::Output).zip(&truth.outputs).enumerate() {
        let device = Reference {
            values: devices.reference.download_f64(values)?[..spec.elements()].to_vec(),
            scale: devices.reference.download_f64(scale)?[..spec.elements()].to_vec(),
            terms: truth.terms,
        };
        // A built-in reference has a host twin; a problem's own fp64 kernel is trusted as written.
        if let Some(h) = host.as_ref().map(|h| &h[k]) {
            for i in 0..spec.elements() {
                let slack = 1e-12 * h.scale[i] + f64::MIN_POSITIVE;
                if (device.values[i] - h.values[i]).abs() > slack || (device.scale[i] - h.scale[i]).abs() > slack {
                    return Err(env(format!(
                        "the device's fp64 truth disagrees with the host's at {} of {}: {:e} (scale {:e}) against {:e} (scale {:e})",
                        crate::checks::coords_text(&spec.coords(i)),
                        spec.name,
                        device.values[i],
                        device.scale[i],
                        h.values[i],
                        h.scale[i]
                    )));
                }
            }
        }
        let got = devices.reference.download_elements(g.view, spec.dtype)?;
        let factor = factors[k];
        let c =
            compare_host(spec.dtype, &got[..spec.elements()], &device.values, &device.scale, factor, plan.poison[k]);
        let d = &comparisons[k];
        let same_sums = |a: f64, b: f64| a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
        let agree = c.over_bound == d.over_bound
            && c.nonfinite == d.nonfinite
            && c.unwritten == d.unwritten
            && c.first_unwritten == d.first_unwritten
            && c.worst_index == d.worst_index
            && c.worst_ratio.to_bits() == d.worst_ratio.to_bits()
            && c.worst_got == d.worst_got
            && same_sums(c.err2, d.err2)
            && same_sums(c.ref2, d.ref2)
            && same_sums(c.scale2, d.scale2);
        if !agree {
            return Err(env(format!(
                "the device's comparator disagrees with the host's for {} at {}: {d:?} against {c:?}",
                spec.name, arena.sizes
            )));
        }
        if let Some(d) = differences.get(k) {
            let kept = devices.reference.download_elements(truth.kept[k], spec.dtype)?;
            let n = spec.elements();
            let h = diff_host(spec.dtype, &kept[..n], &got[..n], &device.scale, factor);
            if h != *d {
                return Err(env(format!(
                    "the device's difference of two runs disagrees with the host's for {} at {}: {d:?} against {h:?}",
                    spec.name, arena.sizes
                )));
            }
        }
    }
    Ok(())
}

/// Bytes of each judge-only temporary the truth needs: fp64 copies of a GEMM's operands and of
/// their absolute values, or |x| copies of each input for a reference kernel whose scale is the
/// same kernel on absolute values.
fn truth_scratch(problem: &Problem, sizes: &Sizes) -> Vec<usize> {
    let buffers = problem.buffers(sizes);
    let bytes_of = |name: &str| buffers.iter().find(|b| b.name == name).map_or(8, |b| b.elements().max(1));
    match &problem.reference {
        ReferenceSpec::Gemm(g) => {
            let (a, b) = (bytes_of(g.a) * 8, bytes_of(g.b) * 8);
            vec![a, b, a, b]
        }
        ReferenceSpec::Kernel(_) if problem.scale_rule() == ScaleRule::Abs => {
            buffers.iter().filter(|b| b.role == Role::Input).map(|b| b.bytes().max(4)).collect()
        }
        ReferenceSpec::Kernel(_) | ReferenceSpec::Torch(_) => Vec::new(),
    }
}

/// Compile a problem's reference kernel for the judge's device, check its launches' arguments
/// against its PTX, and load it.
fn load_reference(devices: &mut Devices, problem: &str, k: &ReferenceKernel) -> Result<Prepared, DeviceError> {
    let env =
        |m: String| DeviceError::Environment(format!("the reference kernel of problem `{problem}` ({}) {m}", k.file));
    let request = CompileRequest {
        name: k.file.clone(),
        source: k.source.clone(),
        arch: devices.reference.info().arch(),
        options: Vec::new(),
    };
    let module = devices.reference.compile(&request).map_err(|e| env(format!("does not compile: {e}")))?;
    let mut kinds = Vec::new();
    for launch in &k.launches {
        kinds.push(signature::check(launch, &module).map_err(|m| env(format!("does not match its launches: {m}")))?);
    }
    let handle = devices.reference.load(&module).map_err(|e| env(format!("does not load: {e}")))?;
    Ok(Prepared { module: handle, kinds })
}

impl Truth {
    /// `got` (one buffer per output, in order) against the truth the last judged launch left in
    /// this size's value buffers, each output in its class for a review in `review`; `poison`, the
    /// word `got` was filled with before it was written. For a baseline that is checked, not
    /// trusted (a PyTorch baseline expression).
    pub(crate) fn check(
        &self,
        devices: &mut Devices,
        problem: &Problem,
        got: &[Buffer],
        poison: &[PoisonWords],
        review: ToleranceClass,
    ) -> Result<Vec<Accuracy>, DeviceError> {
        let specs: Vec<BufferSpec> =
            problem.buffers(&self.sizes).into_iter().filter(|b| b.role == Role::Output).collect();
        let classes = problem.output_tolerances(review);
        let got: Vec<Buffer> = specs.iter().zip(got).map(|(spec, g)| g.view(0, spec.bytes())).collect();
        let factors: Vec<f64> = classes.iter().map(|c| c.tolerance().elementwise_factor(self.terms)).collect();
        let comparisons = self.compare_with(devices, &specs, &got, poison, &factors)?;
        Ok(specs
            .iter()
            .zip(&comparisons)
            .zip(classes)
            .map(|((spec, c), class)| accuracy::from_comparison(spec, c, class))
            .collect())
    }

    /// The judge-only copies of the inputs of the last judged launch, each the shape's elements
    /// only (in declaration order): what the truth is computed from.
    pub(crate) fn inputs(&self, problem: &Problem) -> Vec<Buffer> {
        let specs = problem.buffers(&self.sizes).into_iter().filter(|b| b.role == Role::Input);
        specs.zip(&self.pristine).map(|(spec, b)| b.view(0, spec.bytes().min(b.bytes))).collect()
    }

    /// Whether any output's bounds are calibrated against the baseline in a review in `review`.
    fn calibrates(&self, problem: &Problem, review: ToleranceClass) -> bool {
        let classes = problem.output_tolerances(review);
        let specs = problem.buffers(&self.sizes).into_iter().filter(|b| b.role == Role::Output);
        specs.zip(classes).any(|(spec, class)| {
            let (elementwise, normwise) = accuracy::calibrates(problem, class, spec.dtype, review);
            elementwise || normwise
        })
    }

    /// Each output's bounds in a review in `review`, from the last calibration at this size.
    fn bounds(&self, problem: &Problem, review: ToleranceClass) -> Vec<accuracy::Bounds> {
        let classes = problem.output_tolerances(review);
        let specs = problem.buffers(&self.sizes).into_iter().filter(|b| b.role == Role::Output);
        let calibration = self.calibration.borrow();
        specs
            .zip(classes)
            .enumerate()
            .map(|(k, (spec, class))| {
                let wanted = accuracy::calibrates(problem, class, spec.dtype, review);
                let c = calibration.outputs_calibrated.get(k).unwrap_or(&accuracy::Calibrated::NotWanted);
                accuracy::Bounds::of(class, spec.dtype, self.terms, wanted, c)
            })
            .collect()
    }

    /// Run the baseline on `inputs` (the judge's views of a judged launch's inputs, whose truth
    /// is in this size's value buffers) into judge-only buffers poisoned with NaN, and compare it
    /// with the truth: its normwise error and its worst error over scale (the comparator with
    /// factor 1) per output. A baseline that cannot run, fails, leaves an element unwritten or
    /// non-finite, or is itself outside its output's class calibrates nothing: the uncalibrated
    /// bounds apply and the record says why.
    fn calibrate(
        &self,
        devices: &mut Devices,
        problem: &'static Problem,
        inputs: &[Buffer],
        review: ToleranceClass,
    ) -> Result<(), Stop> {
        let specs: Vec<BufferSpec> =
            problem.buffers(&self.sizes).into_iter().filter(|b| b.role == Role::Output).collect();
        let classes = problem.output_tolerances(review);
        if self.calibration.borrow().outputs.is_empty() {
            let mut made = Vec::new();
            for spec in &specs {
                // A KernelBench Model writes them from its own process: shareable with it alone.
                let bytes = spec.bytes().div_ceil(4).max(1) * 4;
                let made_one = if problem.torch().is_some() {
                    devices.reference.alloc_shared(bytes)
                } else {
                    devices.reference.alloc(bytes)
                };
                match made_one {
                    Ok(b) => made.push(b),
                    Err(e) => {
                        for b in made {
                            devices.reference.free(b);
                        }
                        return Err(Stop::Env(e));
                    }
                }
            }
            self.calibration.borrow_mut().outputs = made;
        }
        let outputs = self.calibration.borrow().outputs.clone();
        let words: Vec<u32> = specs.iter().map(|s| crate::checks::poison_nan(s.dtype)).collect();
        let fills: Vec<Work> = outputs
            .iter()
            .zip(&words)
            .map(|(&buffer, &word)| Work::Library(LibraryOp::Fill { buffer, word }))
            .collect();
        devices.reference.run(&fills)?;
        let ran: Result<(), String> = if problem.baseline_in_python() {
            match devices.model.as_deref_mut() {
                None => Err("the baseline is PyTorch, and no Python process with PyTorch was started".into()),
                Some(model) => {
                    let mut args: Vec<(Buffer, Access)> = inputs.iter().map(|&b| (b, Access::Read)).collect();
                    args.extend(outputs.iter().map(|&b| (b, Access::Write)));
                    let tf32 = review == ToleranceClass::Tf32;
                    model
                        .call(&mut *devices.reference, problem, &self.sizes, ModelKind::Eager, tf32, &args, false)
                        .map(|_| ())
                        .map_err(|e| format!("the baseline failed: {e}"))
                }
            }
        } else {
            let precision = if review == ToleranceClass::Tf32 { Precision::Tf32 } else { Precision::F32 };
            let work = problem.baseline(&self.sizes, inputs, &outputs, precision);
            match devices.reference.unavailable(&work) {
                _ if work.is_empty() => Err("the problem has no library baseline".into()),
                Some(why) => Err(format!("the baseline cannot run here: {why}")),
                None => Ok(devices.reference.run(&work)?),
            }
        };
        let calibrated: Vec<accuracy::Calibrated> = match ran {
            Err(why) => specs.iter().map(|_| accuracy::Calibrated::Unavailable(why.clone())).collect(),
            Ok(()) => {
                let poison: Vec<PoisonWords> = words.iter().map(|&w| PoisonWords::Word(w)).collect();
                let got: Vec<Buffer> = outputs.iter().zip(&specs).map(|(b, spec)| b.view(0, spec.bytes())).collect();
                let comparisons = self.compare_with(devices, &specs, &got, &poison, &vec![1.0; specs.len()])?;
                comparisons
                    .iter()
                    .zip(&specs)
                    .zip(&classes)
                    .map(|((c, spec), class)| {
                        let normwise = c.normwise();
                        if c.nonfinite > 0 {
                            accuracy::Calibrated::Unavailable(format!(
                                "the baseline left {} elements of {} non-finite",
                                c.nonfinite, spec.name
                            ))
                        } else if normwise > class.tolerance().normwise {
                            accuracy::Calibrated::Unavailable(format!(
                                "the baseline's own normwise error {normwise:.2e} in {} is outside the {class} class",
                                spec.name
                            ))
                        } else {
                            accuracy::Calibrated::Baseline(accuracy::BaselineError {
                                normwise,
                                worst: c.worst_ratio.max(0.0),
                            })
                        }
                    })
                    .collect()
            }
        };
        self.calibration.borrow_mut().outputs_calibrated = calibrated;
        Ok(())
    }

    /// The comparator's summaries of `got` (one buffer per output, the shape's bytes) against this
    /// size's truth, with elementwise factors `factors`.
    fn compare_with(
        &self,
        devices: &mut Devices,
        specs: &[BufferSpec],
        got: &[Buffer],
        poison: &[PoisonWords],
        factors: &[f64],
    ) -> Result<Vec<Comparison>, DeviceError> {
        let out = devices.reference.alloc(8 * Comparison::WORDS * specs.len().max(1))?;
        let work: Vec<Work> = specs
            .iter()
            .enumerate()
            .map(|(k, spec)| {
                Work::Library(LibraryOp::Compare {
                    got: got[k],
                    values: self.outputs[k].0,
                    scale: self.outputs[k].1,
                    factor: factors[k],
                    poison: poison[k],
                    out: out.view(8 * Comparison::WORDS * k, 8 * Comparison::WORDS),
                    dtype: spec.dtype,
                })
            })
            .collect();
        let words = devices.reference.run(&work).and_then(|()| devices.reference.download_u64(out));
        devices.reference.free(out);
        let words = words?;
        Ok((0..specs.len())
            .map(|k| Comparison::from_words(&words[k * Comparison::WORDS..]).judged(self.terms, specs[k].dtype))
            .collect())
    }

    /// The trusted work that writes each output's fp64 values and error scale from `inputs` (the
    /// judge's views, in declaration order).
    fn work(&self, problem: &Problem, inputs: &[Buffer]) -> Result<Vec<Work>, Stop> {
        let sizes = &self.sizes;
        let names: Vec<&'static str> =
            problem.tensors.iter().filter(|t| t.role == Role::Input).map(|t| t.name).collect();
        let input = |name: &str| names.iter().position(|n| *n == name).map(|i| inputs[i]);
        let outputs: Vec<&'static str> =
            problem.tensors.iter().filter(|t| t.role == Role::Output).map(|t| t.name).collect();
        match &problem.reference {
            ReferenceSpec::Gemm(g) => {
                let (Some(a), Some(b)) = (input(g.a), input(g.b)) else {
                    return Err(env(format!("the reference gemm of `{}` names no such input", problem.name)));
                };
                let &[a64, b64, abs_a, abs_b] = &self.scratch[..] else {
                    return Err(env("the gemm reference's temporaries are missing".into()));
                };
                let out = outputs.iter().position(|n| *n == g.c).unwrap_or(0);
                let (values, scale) = self.outputs[out];
                let dtype = problem.gemm_dtype(g);
                let up = |src, dst, abs| Work::Library(LibraryOp::Upcast { src, dst, abs, dtype });
                let mut work = vec![up(a, a64, false), up(b, b64, false), up(a, abs_a, true), up(b, abs_b, true)];
                work.extend(g.work(sizes, Precision::F64, a64, b64, values, 8));
                work.extend(g.work(sizes, Precision::F64, abs_a, abs_b, scale, 8));
                Ok(work)
            }
            ReferenceSpec::Kernel(k) => {
                let prepared =
                    self.reference.as_ref().ok_or_else(|| env("the reference kernel is not loaded".into()))?;
                let spec = Spec::of_launches(k.launches.clone());
                let resolve = || {
                    spec.resolve(sizes)
                        .map_err(|(_, m)| env(format!("the reference kernel of `{}` at {sizes}: {m}", problem.name)))
                };
                let mut named: Vec<(String, Buffer)> =
                    names.iter().zip(inputs).map(|(n, b)| (n.to_string(), *b)).collect();
                for (n, (values, scale)) in outputs.iter().zip(&self.outputs) {
                    named.push((n.to_string(), *values));
                    named.push((format!("{n}_scale"), *scale));
                }
                let mut work = bind_launches(resolve()?, prepared, &named, sizes)?;
                if problem.scale_rule() == ScaleRule::Abs {
                    // The same kernel on |inputs|, into the scale buffers.
                    let mut abs_named = Vec::new();
                    let dtypes = problem.tensors.iter().filter(|t| t.role == Role::Input).map(|t| t.dtype);
                    for (((n, b), copy), dtype) in names.iter().zip(inputs).zip(&self.scratch).zip(dtypes) {
                        let copy = copy.view(0, b.bytes);
                        work.push(Work::Library(LibraryOp::Abs { src: *b, dst: copy, dtype }));
                        abs_named.push((n.to_string(), copy));
                    }
                    for (n, (_, scale)) in outputs.iter().zip(&self.outputs) {
                        abs_named.push((n.to_string(), *scale));
                    }
                    work.extend(bind_launches(resolve()?, prepared, &abs_named, sizes)?);
                }
                Ok(work)
            }
            // Not device work of the judge's: see `Truth::torch`.
            ReferenceSpec::Torch(_) => Ok(Vec::new()),
        }
    }

    /// A KernelBench problem's truth: its Model in float64, in the Model's own process, writes
    /// each output's values and error scale into the judge's buffers.
    fn torch(&self, devices: &mut Devices, problem: &'static Problem, inputs: &[Buffer]) -> Result<(), Stop> {
        if problem.torch().is_none() {
            return Ok(());
        }
        let Some(model) = devices.model.as_deref_mut() else {
            return Err(env(format!(
                "problem `{}` is a KernelBench file: its truth needs a Python process with PyTorch, and none was started",
                problem.name
            )));
        };
        let mut args: Vec<(Buffer, Access)> = inputs.iter().map(|&b| (b, Access::Read)).collect();
        let buffers = problem.buffers(&self.sizes);
        let outputs = buffers.iter().filter(|b| b.role == Role::Output);
        for (spec, (values, _)) in outputs.clone().zip(&self.outputs) {
            args.push((values.view(0, spec.elements() * 8), Access::Write));
        }
        for (spec, (_, scale)) in outputs.zip(&self.outputs) {
            args.push((scale.view(0, spec.elements() * 8), Access::Write));
        }
        model.call(&mut *devices.reference, problem, &self.sizes, ModelKind::Truth, false, &args, false)?;
        Ok(())
    }
}
