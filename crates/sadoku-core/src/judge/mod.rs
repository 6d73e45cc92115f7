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
//!
//! The buffers the candidate sees are its arena (`arena.rs`), the judge-only memory and the fp64
//! truth computed in it are the truth (`truth.rs`), and the steps above are `launch.rs`.

mod arena;
mod baselines;
mod launch;
mod truth;

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::candidate::Candidate;
use crate::checks::accuracy::Accuracy;
use crate::checks::signature::ParamKind;
use crate::device::{Device, DeviceError, Draw, ModuleHandle, PoisonWords, Sample, mix64};
use crate::problem::{Distribution, Role, Sizes};
use crate::seeds::Seeds;
use crate::verdict::{At, Rejection};

pub(crate) use arena::{Arena, Guarded};
pub(crate) use launch::judge;
pub(crate) use truth::Truth;

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
pub use baselines::Baselines;
pub(crate) use baselines::{BaselineKey, Taken};

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
    /// The baselines already measured on this card in this run (`time::memo`); None: every review
    /// measures its baseline in full.
    pub baselines: Option<&'a Baselines>,
}

impl<'a> Devices<'a> {
    pub fn new(candidate: &'a mut dyn Device, reference: &'a mut dyn Device) -> Devices<'a> {
        Devices { candidate, reference, gate: None, sharing: Sharing::Mapped, model: None, baselines: None }
    }

    /// GPU work that may share the card with other reviews' verification (not with timing).
    pub fn shared(&self) -> Option<RwLockReadGuard<'a, ()>> {
        self.gate.map(GpuGate::shared)
    }

    /// GPU work that needs the card to itself: timing.
    pub fn exclusive(&self) -> Option<Exclusive<'a>> {
        self.gate.map(GpuGate::exclusive)
    }
}

/// When several reviews share one GPU (`--jobs`): their verification may overlap, but a review
/// being timed has the card to itself. Waiting writers hold off new readers, so timing is not
/// starved.
///
/// Host work too long to hold a timing off (a torch extension's build takes minutes) does not
/// take the gate: it is stopped while a timing runs instead ([`Quiet`]).
#[derive(Default)]
pub struct GpuGate {
    lock: RwLock<()>,
    quiet: Option<std::sync::Arc<dyn Quiet>>,
}

/// What stops long host work for the length of a timing, and lets it go on after.
pub trait Quiet: Send + Sync {
    /// A timing starts.
    fn hush(&self);
    /// It ended.
    fn resume(&self);
}

impl std::fmt::Debug for GpuGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuGate").field("quiet", &self.quiet.is_some()).finish()
    }
}

impl GpuGate {
    /// A gate whose timings stop the host work `quiet` knows of while they run.
    pub fn with_quiet(quiet: std::sync::Arc<dyn Quiet>) -> GpuGate {
        GpuGate { lock: RwLock::default(), quiet: Some(quiet) }
    }

    /// Work that may overlap other reviews' verification but never a timing: verification,
    /// compiles, starting workers.
    pub fn shared(&self) -> RwLockReadGuard<'_, ()> {
        self.lock.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The card to itself, for a timing: other reviews' work that holds the gate is done, and
    /// the host work [`Quiet`] knows of is stopped until the returned guard goes.
    pub fn exclusive(&self) -> Exclusive<'_> {
        let lock = self.lock.write().unwrap_or_else(|e| e.into_inner());
        let quiet = self.quiet.as_deref();
        if let Some(q) = quiet {
            q.hush();
        }
        Exclusive { quiet, _lock: lock }
    }
}

/// A timing's hold on its card (see [`GpuGate::exclusive`]): the host work it stopped goes on
/// when it is dropped, then the gate opens.
pub struct Exclusive<'a> {
    quiet: Option<&'a dyn Quiet>,
    _lock: RwLockWriteGuard<'a, ()>,
}

impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        if let Some(q) = self.quiet {
            q.resume();
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
    /// A KernelBench file's draws on the ties grid (see `verify`'s ties trial).
    pub ties: bool,
}

/// What a judged launch showed. Its accuracy is not yet held against the tolerance: see
/// [`Judged::inaccurate`].
pub(crate) struct Judged {
    pub sample: Option<Sample>,
    pub accuracy: Vec<Accuracy>,
    /// Host wall time of step 3: the fp64 truth, the comparison and the hashes, ms.
    pub truth_ms: f64,
    /// Host wall time of step 1: the draw (a KernelBench file's by its get_inputs(), in the
    /// Model's process), the copies, hashes and poison, ms.
    pub draw_ms: f64,
    /// Host wall time of a KernelBench Model's float64 run for this launch's truth, in its
    /// process, ms (0 for a problem without one).
    pub model_ms: f64,
}

impl Judged {
    /// The first output whose accuracy fails its tolerance: a rejection, or, where the problem
    /// cannot be judged in that class ([`crate::checks::accuracy::Accuracy::unjudgeable`]), no
    /// verdict, said in one line.
    pub fn inaccurate(&self, at: &At, problem: &crate::problem::Problem) -> Option<Stop> {
        self.accuracy.iter().find_map(|acc| {
            let evidence = acc.failure()?;
            Some(match acc.unjudgeable(problem) {
                Some(why) => Stop::Env(DeviceError::Environment(format!("{why} (at {at})"))),
                None => reject(Rejection::Inaccurate { at: at.clone(), class: acc.class, evidence }),
            })
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
            rows: spec.rows() as u64,
            structure: spec.structure,
            dtype: spec.dtype,
        })
        .collect()
}

#[cfg(test)]
mod gate_tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicIsize, Ordering};

    use super::*;

    /// Counts the host work stopped: +1 while a timing holds the card.
    #[derive(Default)]
    struct Counted(AtomicIsize, AtomicIsize);

    impl Quiet for Counted {
        fn hush(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            self.1.fetch_add(1, Ordering::SeqCst);
        }
        fn resume(&self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_timing_stops_the_quiet_host_work_for_its_length_and_verification_does_not() {
        let quiet = Arc::new(Counted::default());
        let gate = GpuGate::with_quiet(quiet.clone());
        drop(gate.shared());
        assert_eq!(quiet.1.load(Ordering::SeqCst), 0, "verification stops nothing");
        {
            let _timing = gate.exclusive();
            assert_eq!(quiet.0.load(Ordering::SeqCst), 1, "stopped while the timing runs");
        }
        assert_eq!(quiet.0.load(Ordering::SeqCst), 0, "going on after it");
        // The gate is open again: another timing, then verification, take it at once.
        drop(gate.exclusive());
        drop(gate.shared());
        assert_eq!(quiet.1.load(Ordering::SeqCst), 2);
    }
}
