//! Stage 3 of the pipeline: prove the candidate computes the right answer on fresh inputs.
//!
//! For every size (the timed one first, then awkward ones) the candidate runs three trials:
//!
//! | trial | inputs                   | output poison      | then                          |
//! |-------|--------------------------|--------------------|-------------------------------|
//! | 1     | randn (zero mean)        | NaN                | accuracy, precision class     |
//! | 2     | rand (KernelBench today) | random finite bits | accuracy                      |
//! | 3     | trial 2's again          | other random bits  | must agree with trial 2       |
//!
//! and after every launch: every output element written, every input bit unchanged. The fp64
//! truth is computed after the candidate's launch, from the pristine host copy of the inputs.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::Serialize;

use crate::candidate::{Candidate, ResolvedArg, ResolvedLaunch};
use crate::checks::accuracy::{self, Accuracy, PrecisionClass, Tolerance};
use crate::checks::guards::{self, GUARD_BYTES, OutOfBounds, Side};
use crate::checks::signature::ParamKind;
use crate::checks::{Poison, PoisonKind, determinism, inputs_unchanged, unwritten};
use crate::device::{Buffer, Device, DeviceError, DeviceExt, KernelArg, Launch, ModuleHandle, Work};
use crate::problem::{BufferSpec, Distribution, Reference, Role, Sizes};
use crate::review::{Event, Observer};
use crate::seeds::Seeds;
use crate::verdict::{At, Rejection};

#[derive(Debug, Clone, PartialEq)]
pub struct VerifyOptions {
    /// Sizes to verify at; the problem's own list when empty.
    pub sizes: Vec<Sizes>,
    pub tolerance: Tolerance,
    /// Guard zones around every buffer. Off under compute-sanitizer, whose memcheck must see an
    /// out-of-bounds access leave the allocation.
    pub guards: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions { sizes: Vec::new(), tolerance: Tolerance::FP32, guards: true }
    }
}

/// A candidate compiled, loaded, and its arguments checked: ready to launch.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub module: ModuleHandle,
    /// How each argument of each launch is passed.
    pub kinds: Vec<Vec<ParamKind>>,
}

struct TrialPlan {
    distribution: Distribution,
    poison: PoisonKind,
    /// Reuse the inputs of this earlier trial and require the same results.
    repeat_of: Option<usize>,
}

const TRIALS: [TrialPlan; 3] = [
    TrialPlan { distribution: Distribution::Randn, poison: PoisonKind::Nan, repeat_of: None },
    TrialPlan { distribution: Distribution::Rand, poison: PoisonKind::Random, repeat_of: None },
    TrialPlan { distribution: Distribution::Rand, poison: PoisonKind::Random, repeat_of: Some(1) },
];

/// What one trial showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialRecord {
    pub sizes: Sizes,
    pub trial: String,
    /// Seed of the inputs, so that a single trial can be replayed.
    pub input_seed: String,
    pub accuracy: Vec<Accuracy>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verification {
    pub trials: Vec<TrialRecord>,
    pub rejection: Option<Rejection>,
}

impl Verification {
    /// The least accurate output over every trial: the one that decides the precision class.
    pub fn worst(&self) -> Option<&Accuracy> {
        self.trials
            .iter()
            .flat_map(|t| &t.accuracy)
            .max_by(|a, b| a.class.cmp(&b.class).then(a.normwise.total_cmp(&b.normwise)))
    }

    pub fn class(&self) -> PrecisionClass {
        self.worst().map_or(PrecisionClass::Wrong, |a| a.class)
    }
}

/// Why verification stopped early.
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

/// A buffer as the candidate sees it, inside an allocation with a guard zone on each side.
pub(crate) struct Guarded {
    pub name: String,
    /// The whole allocation, guards included.
    pub whole: Buffer,
    /// What the kernel is given.
    pub view: Buffer,
}

impl Guarded {
    fn new(device: &mut dyn Device, name: &str, bytes: usize, guard: usize) -> Result<Guarded, DeviceError> {
        // Never a zero-byte view: its pointer would alias the guard.
        let bytes = bytes.max(4);
        let whole = device.alloc(bytes + 2 * guard)?;
        let g = Guarded { name: name.to_string(), whole, view: whole.view(guard, bytes) };
        if guard == 0 {
            return Ok(g);
        }
        let canary = guards::canary(guard);
        let filled = device.upload(g.before(), &canary).and_then(|_| device.upload(g.after(), &canary));
        if let Err(e) = filled {
            device.free(whole);
            return Err(e);
        }
        Ok(g)
    }

    fn guard(&self) -> usize {
        self.view.offset - self.whole.offset
    }

    fn before(&self) -> Buffer {
        self.whole.view(0, self.guard())
    }

    fn after(&self) -> Buffer {
        self.whole.view(self.guard() + self.view.bytes, self.guard())
    }

    /// The first guard a launch wrote into, if any.
    fn check(&self, device: &mut dyn Device) -> Result<Option<OutOfBounds>, DeviceError> {
        if self.guard() == 0 {
            return Ok(None);
        }
        let mut zone = vec![0u8; self.guard()];
        for (side, buffer) in [(Side::Before, self.before()), (Side::After, self.after())] {
            device.download(buffer, &mut zone)?;
            if let Some(found) = guards::check(&self.name, side, &zone) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

/// Device buffers for one size and the candidate's launches bound to them.
pub(crate) struct Bound {
    pub buffers: Vec<(BufferSpec, Guarded)>,
    pub scratch: Vec<Guarded>,
    pub work: Vec<Work>,
}

impl Bound {
    pub fn new(
        device: &mut dyn Device,
        candidate: &Candidate,
        prepared: &Prepared,
        sizes: &Sizes,
        guards: bool,
    ) -> Result<Bound, Stop> {
        let launches = candidate
            .spec
            .resolve(sizes)
            .map_err(|(_, message)| reject(Rejection::LaunchConfig { sizes: sizes.clone(), message }))?;
        let scratch_sizes = candidate
            .spec
            .scratch_bytes(sizes)
            .map_err(|message| reject(Rejection::LaunchConfig { sizes: sizes.clone(), message }))?;
        let mut bound = Bound { buffers: Vec::new(), scratch: Vec::new(), work: Vec::new() };
        let guard = if guards { GUARD_BYTES } else { 0 };
        let result = bound.allocate(device, candidate, sizes, &scratch_sizes, guard).and_then(|()| {
            let named: Vec<(String, Buffer)> = bound.all().map(|g| (g.name.clone(), g.view)).collect();
            bind_launches(launches, prepared, &named, sizes)
        });
        match result {
            Ok(work) => {
                bound.work = work;
                Ok(bound)
            }
            Err(stop) => {
                bound.release(device);
                Err(stop)
            }
        }
    }

    fn allocate(
        &mut self,
        device: &mut dyn Device,
        candidate: &Candidate,
        sizes: &Sizes,
        scratch: &[(String, usize)],
        guard: usize,
    ) -> Result<(), Stop> {
        for spec in candidate.problem.buffers(sizes) {
            let g = Guarded::new(device, spec.name, spec.bytes(), guard)?;
            self.buffers.push((spec, g));
        }
        for (name, bytes) in scratch {
            // A scratch buffer the device cannot hold is the candidate's demand, not a fault of ours.
            let g = Guarded::new(device, name, *bytes, guard).map_err(|e| {
                reject(Rejection::LaunchConfig {
                    sizes: sizes.clone(),
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

    pub fn of_role(&self, role: Role) -> impl Iterator<Item = (&BufferSpec, Buffer)> {
        self.buffers.iter().filter(move |(s, _)| s.role == role).map(|(s, g)| (s, g.view))
    }

    /// The first out-of-bounds write any launch so far left in a guard zone.
    pub fn check_guards(&self, device: &mut dyn Device) -> Result<Option<OutOfBounds>, DeviceError> {
        for g in self.all() {
            if let Some(found) = g.check(device)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    pub fn release(self, device: &mut dyn Device) {
        for g in self.all() {
            device.free(g.whole);
        }
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
        e => Stop::Env(e),
    }
}

/// The GPU work of a review, split so that the answer never exists where the candidate runs: the
/// candidate's launches go to `candidate` (a worker process of its own, in production), the fp64
/// truth and the library baseline to `reference`.
pub struct Devices<'a> {
    pub candidate: &'a mut dyn Device,
    pub reference: &'a mut dyn Device,
    /// Shared with the other reviews running on the same GPU, if any.
    pub gate: Option<&'a GpuGate>,
}

impl<'a> Devices<'a> {
    pub fn new(candidate: &'a mut dyn Device, reference: &'a mut dyn Device) -> Devices<'a> {
        Devices { candidate, reference, gate: None }
    }

    /// GPU work that may share the card with other reviews' verification (not with timing).
    pub fn shared(&self) -> Option<RwLockReadGuard<'a, ()>> {
        self.gate.map(|g| g.0.read().unwrap_or_else(|e| e.into_inner()))
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

/// Run every trial at every size. `Err` only when the environment fails; a candidate's failure
/// is in `Verification::rejection`.
pub fn verify(
    devices: &mut Devices,
    candidate: &Candidate,
    prepared: &Prepared,
    seeds: &Seeds,
    options: &VerifyOptions,
    observer: &dyn Observer,
) -> Result<Verification, DeviceError> {
    let sizes_list = if options.sizes.is_empty() { candidate.problem.check_sizes() } else { options.sizes.clone() };
    let mut out = Verification::default();
    for sizes in &sizes_list {
        let _gpu = devices.shared();
        let bound = match Bound::new(devices.candidate, candidate, prepared, sizes, options.guards) {
            Ok(b) => b,
            Err(Stop::Reject(r)) => {
                out.rejection = Some(*r);
                return Ok(out);
            }
            Err(Stop::Env(e)) => return Err(e),
        };
        let result = verify_size(devices, candidate, &bound, sizes, seeds, options, observer, &mut out.trials);
        bound.release(devices.candidate);
        match result {
            Ok(()) => {}
            Err(Stop::Reject(r)) => {
                out.rejection = Some(*r);
                return Ok(out);
            }
            Err(Stop::Env(e)) => return Err(e),
        }
    }
    Ok(out)
}

struct TrialData {
    inputs: Vec<Vec<f32>>,
    outputs: Vec<Vec<f32>>,
    truth: Vec<Reference>,
}

#[allow(clippy::too_many_arguments)]
fn verify_size(
    devices: &mut Devices,
    candidate: &Candidate,
    bound: &Bound,
    sizes: &Sizes,
    seeds: &Seeds,
    options: &VerifyOptions,
    observer: &dyn Observer,
    records: &mut Vec<TrialRecord>,
) -> Result<(), Stop> {
    let problem = candidate.problem;
    let size_label = sizes.to_string();
    let device = &mut *devices.candidate;
    let mut done: Vec<TrialData> = Vec::new();
    for (index, plan) in TRIALS.iter().enumerate() {
        let trial = format!(
            "trial {} ({} inputs{}, {})",
            index + 1,
            plan.distribution,
            plan.repeat_of.map_or(String::new(), |t| format!(" of trial {}", t + 1)),
            plan.poison
        );
        observer.event(Event::Trial { sizes, trial: &trial });
        let at = At::new(sizes, trial.clone());
        let input_seed =
            seeds.derive(&[&candidate.sha256, &size_label, &format!("inputs {}", plan.repeat_of.unwrap_or(index))]);
        let inputs = match plan.repeat_of {
            Some(t) => done[t].inputs.clone(),
            None => problem.generate(sizes, plan.distribution, input_seed),
        };
        for ((_, buf), data) in bound.of_role(Role::Input).zip(&inputs) {
            device.upload_f32(buf, data)?;
        }
        let mut poisons = Vec::new();
        for (k, (spec, buf)) in bound.of_role(Role::Output).enumerate() {
            let poison = match plan.poison {
                PoisonKind::Nan => {
                    device.fill_u32(buf, crate::checks::POISON_NAN)?;
                    Poison::Nan
                }
                PoisonKind::Random => {
                    let seed = seeds.derive(&[&candidate.sha256, &size_label, &format!("poison {index} {k}")]);
                    let p = Poison::pattern(spec.elements(), seed);
                    if let Poison::Pattern(words) = &p {
                        device.upload(buf, crate::device::as_bytes(words))?;
                    }
                    p
                }
            };
            poisons.push(poison);
        }
        for (k, g) in bound.scratch.iter().enumerate() {
            let seed = seeds.derive(&[&candidate.sha256, &size_label, &format!("scratch {index} {k}")]);
            if let Poison::Pattern(words) = Poison::pattern(g.view.bytes / 4, seed) {
                device.upload(g.view, crate::device::as_bytes(&words))?;
            }
        }

        device.run(&bound.work).map_err(|e| launch_failure(e, at.clone()))?;
        if let Some(evidence) = bound.check_guards(device)? {
            return Err(reject(Rejection::OutOfBounds { at, evidence }));
        }

        // On the reference device, from the pristine host copy, after the candidate ran.
        let truth = match plan.repeat_of {
            Some(t) => done[t].truth.clone(),
            None => problem.reference(devices.reference, sizes, &inputs)?,
        };
        let mut outputs = Vec::new();
        for (((spec, buf), poison), t) in bound.of_role(Role::Output).zip(&poisons).zip(&truth) {
            let bits = device.download_u32(buf)?;
            if let Some(evidence) = unwritten::check(spec, &bits, poison, &accuracy::acceptable(t, &options.tolerance))
            {
                return Err(reject(Rejection::Unwritten { at, evidence }));
            }
            outputs.push(bits.into_iter().map(f32::from_bits).collect::<Vec<f32>>());
        }
        for ((spec, buf), pristine) in bound.of_role(Role::Input).zip(&inputs) {
            let after = device.download_f32(buf)?;
            if let Some(evidence) = inputs_unchanged::check(spec, pristine, &after) {
                return Err(reject(Rejection::InputsModified { at, evidence }));
            }
        }
        // A repeat that moved is a race or a call counter, whether or not it is also wrong: say so.
        if let Some(t) = plan.repeat_of {
            for (((spec, _), (first, second)), truth) in
                bound.of_role(Role::Output).zip(done[t].outputs.iter().zip(&outputs)).zip(&truth)
            {
                if let Some(evidence) = determinism::check(spec, first, second, truth, &options.tolerance) {
                    return Err(reject(Rejection::Nondeterministic { at, evidence }));
                }
            }
        }
        let mut record = TrialRecord {
            sizes: sizes.clone(),
            trial: trial.clone(),
            input_seed: input_seed.to_string(),
            accuracy: Vec::new(),
        };
        for (((spec, _), got), t) in bound.of_role(Role::Output).zip(&outputs).zip(&truth) {
            let acc = accuracy::assess(spec, got, t, &options.tolerance);
            let failure = acc.failure(&options.tolerance);
            let class = acc.class;
            record.accuracy.push(acc);
            if let Some(evidence) = failure {
                records.push(record);
                return Err(reject(Rejection::Inaccurate { at, class, evidence }));
            }
        }
        records.push(record);
        done.push(TrialData { inputs, outputs, truth });
    }
    Ok(())
}
