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
//! | 4     | a stress profile         | random finite bits | accuracy                      |
//!
//! and after every launch: every output element written, every input bit unchanged, every guard
//! zone intact.
//!
//! Trial 4 draws the inputs with structure (`problem.toml`'s `stress`, by default its family's:
//! offset logits, ties, zero rows, huge and subnormal magnitudes); which of the problem's
//! profiles each size gets is drawn from the run's seed, and the trial's label names it.
//!
//! The sizes are the published ones (the timed cases, then the check cases) and one more drawn
//! at run time from the run's seed ([`crate::problem::drawn`]): a kernel right only at the sizes
//! anyone can read in `problem.toml` is caught there. Progress shows that size only as "a size
//! drawn at run time"; the report records it after the verdict, and `--seed` replays it.
//!
//! Every launch's inputs have a seed of their own, from the run's seed, the candidate, the
//! problem, the case, the sizes and the trial ([`crate::judge::launch_seed`]).

use serde::Serialize;

use crate::candidate::Candidate;
use crate::checks::accuracy::{Accuracy, PrecisionClass, Tolerance};
use crate::checks::{PoisonKind, poison_nan};
use crate::device::{DeviceError, PoisonWords};
use crate::events::{Event, Observer};
use crate::judge::{self, Arena, Devices, Plan, Prepared, Stop, Truth, distributions_text, draws_of};
use crate::problem::{Dtype, Role, Sizes};
use crate::seeds::Seeds;
use crate::verdict::{At, Rejection};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VerifyOptions {
    /// Sizes to verify at; the problem's own list when empty.
    pub sizes: Vec<Sizes>,
    pub tolerance: Tolerance,
    /// Guard zones around every buffer. Off under compute-sanitizer, whose memcheck must see an
    /// out-of-bounds access leave the allocation.
    pub guards: bool,
    /// Also verify at a size drawn at run time (within the range of `sizes`, or of the problem's
    /// own cases when `sizes` is empty).
    pub drawn_size: bool,
    /// Run a stress trial (trial 4) at every size, when the problem has stress profiles.
    pub stress: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions { sizes: Vec::new(), tolerance: Tolerance::FP32, guards: true, drawn_size: true, stress: true }
    }
}

struct TrialPlan {
    /// Which of each input's distributions: 0 the zero-mean one (also timing's), 1 the second,
    /// [`STRESS_KIND`] a stress profile.
    kind: usize,
    poison: PoisonKind,
    /// Reuse the inputs of this earlier trial and require the same results.
    repeat_of: Option<usize>,
    /// How a KernelBench file's own draws are shaped in this trial.
    draws: FileDraws,
}

/// A KernelBench file's `get_inputs()` draws as written, or shaped where they are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileDraws {
    AsWritten,
    /// The wide trial: its normal draws scaled by ±[`WIDE_SCALE`] ([`WIDE`]).
    Wide,
    /// The ties trial: its normal and uniform draws on a coarse grid ([`TIES`]).
    Ties,
}

const TRIALS: [TrialPlan; 3] = [
    TrialPlan { kind: 0, poison: PoisonKind::Nan, repeat_of: None, draws: FileDraws::AsWritten },
    TrialPlan { kind: 1, poison: PoisonKind::Random, repeat_of: None, draws: FileDraws::AsWritten },
    TrialPlan { kind: 1, poison: PoisonKind::Random, repeat_of: Some(1), draws: FileDraws::AsWritten },
];

/// A KernelBench file's inputs are its own `get_inputs()`'s, whose domain the judge keeps; but
/// under them an output can be degenerate, alike for every answer, right or wrong (a product of
/// 256 standard normal values is zero in float32 almost everywhere: three archive kernels that
/// read the wrong rows were accepted so on an H100). The wide trial draws them again with every
/// normal draw the file makes scaled by ±2, where it is drawn, before the file's own code uses
/// it: any real value is a possible normal draw, and what the file does to its draws (normalises
/// rows, takes signs) it still does. If the problem's own Model cannot be judged on those
/// inputs (its float32 run overflows, it raises), the trial is skipped and says why: the wide
/// inputs can only reject a candidate, never leave one unreviewed.
const WIDE: TrialPlan = TrialPlan { kind: 0, poison: PoisonKind::Random, repeat_of: None, draws: FileDraws::Wide };

/// Under a file's continuous draws two equal values almost never meet, so a kernel that breaks a
/// tie against its Model's rule (`torch.argmin`'s first index) or relies on values being
/// distinct is right almost everywhere: an archive argmin kernel whose tree reduction keeps the
/// lower thread's index, not the lower element's, was caught on an H100 by one tie in 16
/// launches. The ties trial draws the file's `get_inputs()` again with every normal and uniform
/// draw its code makes put on a coarse grid where it is drawn (a standard normal on the odd
/// multiples of 1/4, a uniform in the middle of one of 8 steps of its range: never 0, never a
/// bound), so that equal values are common. Any such value is a possible draw, and what the file
/// does to its draws it still does. As for the wide trial, inputs the problem's own Model cannot
/// be judged on skip it with the reason.
const TIES: TrialPlan = TrialPlan { kind: 0, poison: PoisonKind::Random, repeat_of: None, draws: FileDraws::Ties };

/// The factor of the wide trial's normal draws, its sign drawn from the run's seed.
const WIDE_SCALE: f32 = 2.0;

/// Each input's scale in a wide trial: `scale` for what the file's `get_inputs()` draws (the
/// factor of its normal draws), 1 for the parameters the judge draws, which keep their range
/// (a variance stays positive).
fn wide_scales(problem: &crate::problem::Problem, scale: f32) -> Vec<f32> {
    let by_file = problem.torch().map(|t| t.drawn_by_file()).unwrap_or_default();
    by_file.iter().map(|&drawn| if drawn { scale } else { 1.0 }).collect()
}

/// `TrialPlan::kind` of the stress trial: the inputs of one of the problem's stress profiles.
const STRESS_KIND: usize = 2;

/// Trial 4, after the others at every size where the problem has stress profiles.
const STRESS: TrialPlan =
    TrialPlan { kind: STRESS_KIND, poison: PoisonKind::Random, repeat_of: None, draws: FileDraws::AsWritten };

/// What one trial showed.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TrialRecord {
    #[serde(default)]
    pub sizes: Sizes,
    #[serde(default)]
    pub trial: String,
    /// Seed of the inputs, so that a single trial can be replayed.
    #[serde(default)]
    pub input_seed: String,
    #[serde(default)]
    pub accuracy: Vec<Accuracy>,
    /// At the size drawn at run time (not one `problem.toml` lists).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[serde(default)]
    pub drawn: bool,
    /// Why this trial judged nothing: a wide or ties trial whose inputs the problem's own Model
    /// cannot be judged on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verification {
    pub trials: Vec<TrialRecord>,
    pub rejection: Option<Rejection>,
    /// The size drawn at run time, or why none could be.
    pub drawn: Option<Result<Sizes, String>>,
}

impl Verification {
    /// The least accurate output over every trial judged (a skipped one is not): the one that
    /// decides the precision class.
    pub fn worst(&self) -> Option<&Accuracy> {
        self.trials
            .iter()
            .filter(|t| t.skipped.is_none())
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
    let problem = &*candidate.problem;
    let sizes_list = if options.sizes.is_empty() { problem.check_sizes() } else { options.sizes.clone() };
    let mut out = Verification::default();
    // A KernelBench file's Model fixes its own shapes: no size is drawn for it.
    let mut all: Vec<(Sizes, bool)> = sizes_list.iter().map(|s| (s.clone(), false)).collect();
    if options.drawn_size && problem.torch().is_none() {
        let seed = seeds.derive(&[problem.name, problem.sha256, "drawn size"]);
        let drawn = crate::problem::drawn::draw_sizes(problem, &sizes_list, seed);
        if let Ok(s) = &drawn {
            all.push((s.clone(), true));
        }
        out.drawn = Some(drawn);
    }
    for (sizes, drawn) in &all {
        let _gpu = devices.shared();
        let plan = SizePlan { sizes, drawn: *drawn };
        match verify_size(devices, candidate, prepared, &plan, seeds, options, observer, &mut out.trials) {
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

/// One size to verify at, and whether it was drawn at run time.
struct SizePlan<'a> {
    sizes: &'a Sizes,
    drawn: bool,
}

#[allow(clippy::too_many_arguments)]
fn verify_size(
    devices: &mut Devices,
    candidate: &Candidate,
    prepared: &Prepared,
    plan: &SizePlan,
    seeds: &Seeds,
    options: &VerifyOptions,
    observer: &dyn Observer,
    records: &mut Vec<TrialRecord>,
) -> Result<(), Stop> {
    let sizes = plan.sizes;
    let arena = Arena::new(devices, candidate, prepared, sizes, options.guards)?;
    let truth = match Truth::new(devices, candidate, sizes, seeds.derive(&[&candidate.sha256, "hash key"]), true) {
        Ok(t) => t,
        Err(e) => {
            arena.release(devices);
            return Err(Stop::Env(e));
        }
    };
    let result = trials(devices, candidate, &arena, &truth, plan, seeds, options, observer, records);
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
    size_plan: &SizePlan,
    seeds: &Seeds,
    options: &VerifyOptions,
    observer: &dyn Observer,
    records: &mut Vec<TrialRecord>,
) -> Result<(), Stop> {
    let sizes = size_plan.sizes;
    let problem = &*candidate.problem;
    let size_label = sizes.to_string();
    let outputs: Vec<Dtype> = arena.of_role(Role::Output).map(|(s, _)| s.dtype).collect();
    let profiles = problem.stress_profiles();
    let stress = (options.stress && profiles > 0).then(|| {
        let pick = seeds.derive(&[problem.name, problem.sha256, &size_label, "stress profile"]);
        (pick % profiles as u64) as usize
    });
    // A KernelBench file's wide and ties trials, the wide one's sign drawn from the run's seed.
    let file = problem.torch().is_some();
    let sign = seeds.derive(&[problem.name, problem.sha256, &size_label, "wide sign"]) % 2;
    let wide = if sign == 0 { WIDE_SCALE } else { -WIDE_SCALE };
    let plans = TRIALS
        .iter()
        .chain(file.then_some([&WIDE, &TIES]).into_iter().flatten())
        .chain(stress.is_some().then_some(&STRESS));
    for (index, plan) in plans.enumerate() {
        let scale = (plan.draws == FileDraws::Wide).then_some(wide);
        let (distributions, stress_label) = match (plan.kind, stress) {
            (STRESS_KIND, Some(profile)) => {
                (problem.stress_distributions(profile, sizes), format!("stress profile {}: ", profile + 1))
            }
            _ => (problem.input_distributions(plan.kind, sizes), String::new()),
        };
        let trial = format!(
            "trial {} ({stress_label}{} inputs{}{}, {})",
            index + 1,
            distributions_text(&distributions),
            match plan.draws {
                FileDraws::AsWritten => String::new(),
                FileDraws::Wide => format!(", the file's normal draws ×{wide}"),
                FileDraws::Ties => ", the file's draws on a coarse grid (ties)".to_string(),
            },
            plan.repeat_of.map_or(String::new(), |t| format!(" of trial {}", t + 1)),
            plan.poison
        );
        if size_plan.drawn {
            // Neither the size nor a distribution bound that may name it shows before the verdict.
            let hidden = format!("trial {}", index + 1);
            observer.event(Event::Trial { sizes: &Sizes::default(), trial: &hidden });
        } else {
            observer.event(Event::Trial { sizes, trial: &trial });
        }
        let case = match (plan.kind, plan.draws) {
            (STRESS_KIND, _) => "stress trial",
            (_, FileDraws::Wide) => "wide trial",
            (_, FileDraws::Ties) => "ties trial",
            (_, FileDraws::AsWritten) => "trial",
        };
        let base = judge::launch_seed(seeds, candidate, case, sizes, plan.repeat_of.unwrap_or(index));
        let scales = scale.map_or_else(Vec::new, |s| wide_scales(problem, s));
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
                draws: draws_of(candidate, sizes, &distributions, base, &scales),
                poison,
                scratch_seed: seeds.derive(&[&candidate.sha256, &size_label, &format!("scratch {index}")]),
                timed: false,
                keep: TRIALS.iter().any(|p| p.repeat_of == Some(index)),
                repeat: plan.repeat_of.is_some(),
                // The host's recomputation tests sadoku's own truth and comparator, which the
                // published small sizes already do: a drawn size (up to 2^28 flops) skips it.
                host_check: !size_plan.drawn,
                ties: plan.draws == FileDraws::Ties,
            },
            candidate,
            options.tolerance.class,
        );
        let record = |accuracy: Vec<Accuracy>| TrialRecord {
            sizes: sizes.clone(),
            trial: trial.clone(),
            input_seed: base.to_string(),
            accuracy,
            drawn: size_plan.drawn,
            skipped: None,
        };
        let at = At::new(sizes, trial.clone());
        let (accuracy, stop) = match judged {
            Ok(j) => {
                let stop = j.inaccurate(&at, &candidate.problem);
                (Some(j.accuracy), stop)
            }
            Err(stop) => (None, Some(stop)),
        };
        match stop {
            // The wide or ties inputs cannot be judged (the Model's own run): they say nothing
            // of the candidate.
            Some(Stop::Env(e)) if plan.draws != FileDraws::AsWritten => {
                records.push(TrialRecord { skipped: Some(e.to_string()), ..record(accuracy.unwrap_or_default()) });
            }
            stop => {
                records.extend(accuracy.map(record));
                if let Some(stop) = stop {
                    return Err(stop);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_trial_scales_what_the_file_draws_and_no_parameter() {
        let description = serde_json::json!({
            "problem": "layer", "seed": 3, "constants": {"BATCH": 8, "IN": 16, "OUT": 4},
            "inputs": [{"name": "x", "index": 0, "dtype": "f32", "shape": [8, 16], "structure": "dense",
                        "distribution": {"kind": "empirical", "min": -2.0, "max": 3.0, "mean": 0.4, "std": 1.1}}],
            "scalars": [], "init_inputs": [16, 4],
            "parameters": [{"name": "fc.weight", "dtype": "f32", "shape": [4, 16], "init": {"min": -0.25, "max": 0.25}},
                           {"name": "norm.running_var", "dtype": "f32", "shape": [4], "init": {"min": 1.0, "max": 1.0}}],
            "buffers": [],
            "outputs": [{"name": "out0", "dtype": "f32", "shape": [8, 4]}]
        });
        let p = crate::problem::torch::from_description("kb/layer.py", "source".into(), &description).unwrap();
        assert_eq!(wide_scales(&p, -2.0), [-2.0, 1.0, 1.0]);
        assert!(wide_scales(crate::problem::Registry::library().find("trimm").unwrap(), 2.0).is_empty());
    }
}
