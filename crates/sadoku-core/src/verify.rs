//! Stage 3 of the pipeline: prove the candidate computes the right answer on fresh inputs.
//!
//! For every size (the timed one first, then awkward ones) the candidate runs three trials, each
//! judged as every launch is ([`crate::judge`]): inputs drawn fresh on the judge's GPU, outputs
//! poisoned, the answer compared there with fp64 truth.
//!
//! | trial | inputs                   | output poison      | then                          |
//! |-------|--------------------------|--------------------|-------------------------------|
//! | 1     | randn (zero mean)        | NaN                | accuracy, precision class     |
//! | 2     | rand (KernelBench today) | random finite bits | accuracy                      |
//! | 3     | trial 2's again          | other random bits  | must agree with trial 2       |
//!
//! and after every launch: every output element written, every input bit unchanged, every guard
//! zone intact.

use serde::Serialize;

use crate::candidate::Candidate;
use crate::checks::accuracy::{Accuracy, PrecisionClass, Tolerance};
use crate::checks::{PoisonKind, poison_nan};
use crate::device::{DeviceError, PoisonWords};
use crate::events::{Event, Observer};
use crate::judge::{self, Arena, Devices, Plan, Prepared, Stop, Truth, distributions_text, draws};
use crate::problem::{Dtype, Role, Sizes};
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

struct TrialPlan {
    /// Which of each input's distributions: 0 the zero-mean one (also timing's), 1 the second.
    kind: usize,
    poison: PoisonKind,
    /// Reuse the inputs of this earlier trial and require the same results.
    repeat_of: Option<usize>,
}

const TRIALS: [TrialPlan; 3] = [
    TrialPlan { kind: 0, poison: PoisonKind::Nan, repeat_of: None },
    TrialPlan { kind: 1, poison: PoisonKind::Random, repeat_of: None },
    TrialPlan { kind: 1, poison: PoisonKind::Random, repeat_of: Some(1) },
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
        match verify_size(devices, candidate, prepared, sizes, seeds, options, observer, &mut out.trials) {
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

#[allow(clippy::too_many_arguments)]
fn verify_size(
    devices: &mut Devices,
    candidate: &Candidate,
    prepared: &Prepared,
    sizes: &Sizes,
    seeds: &Seeds,
    options: &VerifyOptions,
    observer: &dyn Observer,
    records: &mut Vec<TrialRecord>,
) -> Result<(), Stop> {
    let arena = Arena::new(devices, candidate, prepared, sizes, options.guards)?;
    let truth = match Truth::new(devices, candidate, sizes, seeds.derive(&[&candidate.sha256, "hash key"])) {
        Ok(t) => t,
        Err(e) => {
            arena.release(devices);
            return Err(Stop::Env(e));
        }
    };
    let result = trials(devices, candidate, &arena, &truth, sizes, seeds, options, observer, records);
    truth.release(devices);
    arena.release(devices);
    result
}

#[allow(clippy::too_many_arguments)]
fn trials(
    devices: &mut Devices,
    candidate: &Candidate,
    arena: &Arena,
    truth: &Truth,
    sizes: &Sizes,
    seeds: &Seeds,
    options: &VerifyOptions,
    observer: &dyn Observer,
    records: &mut Vec<TrialRecord>,
) -> Result<(), Stop> {
    let size_label = sizes.to_string();
    let outputs: Vec<Dtype> = arena.of_role(Role::Output).map(|(s, _)| s.dtype).collect();
    for (index, plan) in TRIALS.iter().enumerate() {
        let trial = format!(
            "trial {} ({} inputs{}, {})",
            index + 1,
            distributions_text(&candidate.problem.input_distributions(plan.kind, sizes)),
            plan.repeat_of.map_or(String::new(), |t| format!(" of trial {}", t + 1)),
            plan.poison
        );
        observer.event(Event::Trial { sizes, trial: &trial });
        let base =
            seeds.derive(&[&candidate.sha256, &size_label, &format!("inputs {}", plan.repeat_of.unwrap_or(index))]);
        let poison = (outputs.iter().enumerate())
            .map(|(k, &dtype)| match plan.poison {
                PoisonKind::Nan => PoisonWords::Word(poison_nan(dtype)),
                PoisonKind::Random => PoisonWords::Pattern(seeds.derive(&[
                    &candidate.sha256,
                    &size_label,
                    &format!("poison {index} {k}"),
                ])),
            })
            .collect();
        let judged = judge::judge(
            devices,
            arena,
            truth,
            &Plan {
                at: At::new(sizes, trial.clone()),
                draws: draws(candidate, sizes, plan.kind, base, &[]),
                poison,
                scratch_seed: seeds.derive(&[&candidate.sha256, &size_label, &format!("scratch {index}")]),
                timed: false,
                keep: TRIALS.iter().any(|p| p.repeat_of == Some(index)),
                repeat: plan.repeat_of.is_some(),
            },
            candidate,
            options.tolerance.class,
        );
        let record = |accuracy: Vec<Accuracy>| TrialRecord {
            sizes: sizes.clone(),
            trial: trial.clone(),
            input_seed: base.to_string(),
            accuracy,
        };
        let at = At::new(sizes, trial.clone());
        match judged {
            Ok(j) => {
                let failed = j.inaccurate(&at);
                records.push(record(j.accuracy));
                if let Some(r) = failed {
                    return Err(judge::reject(r));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
