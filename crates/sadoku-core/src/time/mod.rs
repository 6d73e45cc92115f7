//! Stage 4 of the pipeline: how fast, against the library baseline — and was what ran the work.
//!
//! Every timed launch is judged like a verification trial ([`crate::judge`]), so there is no
//! "check phase" a kernel could count its way out of (docs/THREATS.md), and no launch sees inputs
//! an earlier launch could predict: before each one the judge's GPU draws every input afresh from
//! a seed of its own (times a random sign and power of two), poisons the outputs, and after it
//! compares the output with fp64 truth computed for exactly those inputs. Several input/output
//! sets rotate through the launches, together larger than L2.
//!
//! Each sample is one cold run: L2 flushed, persisting lines reset, then the work between events
//! while the device's activity trace records every kernel. The time is the span of the
//! candidate's kernels when traced (events otherwise); work on another stream or outside the
//! window rejects the candidate. Candidate and baseline samples alternate, in two rounds that
//! must agree; samples taken at a throttled SM clock are dropped.
//!
//! The sampling is `sampler.rs`; what the samples show, and when a claim is disputed, is
//! `dispute.rs`.

mod dispute;
pub mod memo;
mod sampler;

use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::candidate::Candidate;
use crate::checks::accuracy::Tolerance;
use crate::device::{Ceilings, Precision, Work};
use crate::events::Observer;
use crate::judge::{Arena, Devices, Prepared, Stop, Truth};
use crate::problem::Sizes;
use crate::seeds::Seeds;
use crate::stats::Summary;
pub use dispute::ClockCheck;
pub use memo::MemoUse;
use sampler::{Sampler, sample_rounds};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TimingOptions {
    /// Verified but discarded samples before the timed ones, at least this long together.
    pub warmup: Duration,
    pub min_samples: usize,
    pub max_samples: usize,
    /// Stop a round once both series' robust relative spread is below this.
    pub target_noise: f64,
    /// Wall time of the whole time phase (warm-up, at most a quarter of it, and every round),
    /// converged or not: a round stops before a pair of samples that would pass its share of
    /// what is left; it keeps 3 pairs even past it.
    pub budget: Duration,
    /// Independent rounds of sampling; their speedups must agree.
    pub rounds: usize,
    /// A sample whose SM clock is below this fraction of the highest seen is dropped (nvbench: 75 %).
    pub throttle: f64,
    /// Most input/output sets rotated through the timed launches.
    pub max_sets: usize,
    /// The CPUs the candidate's worker and the baseline's process are held on while timed, both
    /// on the same ones (empty: wherever they run). A launch-bound call's time is host time, and
    /// two processes on different cores (one beside a busy sibling, one far from the GPU) were
    /// timed up to 1.7× apart running the same Model.
    #[serde(skip)]
    pub cpus: Vec<usize>,
}

impl Default for TimingOptions {
    fn default() -> Self {
        TimingOptions {
            warmup: Duration::from_millis(200),
            min_samples: 20,
            max_samples: 2000,
            target_noise: 0.01,
            budget: Duration::from_secs(3),
            rounds: 2,
            throttle: 0.75,
            max_sets: 16,
            cpus: Vec::new(),
        }
    }
}

/// What the interval on the speedup allows one to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Call {
    /// The whole 95 % interval is above 1.
    Faster,
    /// The whole interval is below 1.
    Slower,
    /// The interval contains 1: no difference can be claimed.
    Same,
}

impl Call {
    pub fn of(interval: (f64, f64)) -> Call {
        if interval.0 > 1.0 {
            Call::Faster
        } else if interval.1 < 1.0 {
            Call::Slower
        } else {
            Call::Same
        }
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Call::Faster => "FASTER",
            Call::Slower => "SLOWER",
            Call::Same => "SAME",
        })
    }
}

/// One round of sampling.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Round {
    #[serde(default)]
    pub samples: usize,
    /// Against the baseline, when the problem has one.
    #[serde(default)]
    pub speedup: Option<f64>,
    #[serde(default, deserialize_with = "crate::stats::nan_pair_if_null_opt")]
    pub speedup_interval: Option<(f64, f64)>,
    /// The candidate's median time and its 95 % bootstrap interval, ms.
    #[serde(default)]
    pub median_ms: f64,
    #[serde(default, deserialize_with = "crate::stats::nan_pair_if_null")]
    pub median_interval: (f64, f64),
}

impl Round {
    /// What two rounds must agree on: the speedup's interval, or without a baseline the median's.
    fn interval(&self) -> (f64, f64) {
        self.speedup_interval.unwrap_or(self.median_interval)
    }

    fn describe(&self) -> String {
        match (self.speedup, self.speedup_interval) {
            (Some(s), Some((lo, hi))) => format!("speedup {s:.3}× [{lo:.3}, {hi:.3}]"),
            _ => format!(
                "median {:.4} ms [{:.4}, {:.4}]",
                self.median_ms, self.median_interval.0, self.median_interval.1
            ),
        }
    }
}

/// One of the candidate's kernels, over all its timed launches.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct KernelTime {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub grid: [u32; 3],
    #[serde(default)]
    pub block: [u32; 3],
    #[serde(default)]
    pub registers: u32,
    #[serde(default)]
    pub shared_bytes: u32,
    #[serde(default)]
    pub stream: u32,
    #[serde(default)]
    pub median_ms: f64,
}

impl std::fmt::Display for KernelTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [gx, gy, gz] = self.grid;
        let [bx, by, bz] = self.block;
        write!(
            f,
            "{} {:.4} ms: grid {gx}×{gy}×{gz}, block {bx}×{by}×{bz}, {} registers, {} B shared, stream {}",
            self.name, self.median_ms, self.registers, self.shared_bytes, self.stream
        )
    }
}

/// `Timing::baseline_precision` of a record from before it was written: fp32, the default
/// `--precision` (a `--precision tf32` run of then reads back as fp32).
fn unrecorded_precision() -> Precision {
    Precision::F32
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Timing {
    /// What the baseline is, e.g. "cuBLAS SGEMM (TF32 off) + tril".
    #[serde(default)]
    pub baseline_name: String,
    /// The precision the baseline computes in: a candidate is only compared with a baseline of
    /// its own precision or lower.
    #[serde(default = "unrecorded_precision")]
    pub baseline_precision: Precision,
    /// How the times were taken: the trace's kernel span, or events when the device cannot trace.
    #[serde(default)]
    pub method: String,
    pub candidate: Summary,
    /// The candidate's fastest kept sample as measured (its trace's span, or its events), ms:
    /// what the physics check holds against the card's peaks. Where the judge's clock times the
    /// call (`clock.disputed`), `candidate` summarises estimates, each request's round trip less
    /// the baseline's median overhead, which the clock's noise can put below the kernel's own
    /// time; an impossible measurement, though, is the candidate's own. `None` in records from
    /// before it, whose `candidate.min` served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fastest_ms: Option<f64>,
    /// None when the problem has no library baseline: then only time, rates and % of ceiling.
    #[serde(default)]
    pub baseline: Option<Summary>,
    /// median(baseline) / median(candidate).
    #[serde(default)]
    pub speedup: Option<f64>,
    /// 95 % bootstrap interval of the speedup.
    #[serde(default, deserialize_with = "crate::stats::nan_pair_if_null_opt")]
    pub speedup_interval: Option<(f64, f64)>,
    #[serde(default)]
    pub call: Option<Call>,
    /// False when the budget ran out before the noise target was met.
    #[serde(default)]
    pub converged: bool,
    /// True when a round stopped before it had the fewest samples a round converges on
    /// (`TimingOptions::min_samples`): the budget ran out first, so the figure rests on few
    /// samples whatever their spread. False in records from before it.
    #[serde(default)]
    pub few_samples: bool,
    /// False when the rounds disagree or the clocks contradict each other: see `unreliable`.
    #[serde(default)]
    pub reliable: bool,
    #[serde(default)]
    pub unreliable: Option<String>,
    #[serde(default)]
    pub rounds: Vec<Round>,
    /// Input/output sets rotated through the timed launches.
    #[serde(default)]
    pub sets: usize,
    /// Candidate launches judged in full, each on fresh inputs (warm-up and dropped ones too).
    #[serde(default)]
    pub verified_launches: usize,
    /// Samples dropped because the SM clock was throttled.
    #[serde(default)]
    pub throttled: usize,
    /// The candidate's dropped samples, ms (the same clock as `candidate_ms`): shown, marked, in
    /// the report's distributions, never counted.
    #[serde(default)]
    pub throttled_ms: Vec<f64>,
    /// Median SM clock over the candidate's samples, MHz.
    #[serde(default)]
    pub sm_clock_mhz: Option<f64>,
    /// Median host wall time of a candidate sample (cross-check of the device clock), ms.
    #[serde(default)]
    pub wall_ms: f64,
    /// Median round trip of a timed request to the candidate's worker process, on the judge's
    /// own clock (from sending the request to holding the reply), ms; `None` in the judge's
    /// process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_round_trip_ms: Option<f64>,
    /// The same for the baseline, where it runs in a process of its own (the Model's), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_round_trip_ms: Option<f64>,
    /// The candidate's claim held against the judge's clock, where both sides have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockCheck>,
    /// Every kept sample's round trip on the judge's clock, ms, in order (empty in the judge's
    /// process).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub round_trips_ms: Vec<f64>,
    /// The same for the baseline's samples, ms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_round_trips_ms: Vec<f64>,
    /// Median host wall time of the judge's work after each timed launch: the fp64 truth for its
    /// fresh inputs, the comparison and the hashes, ms.
    #[serde(default)]
    pub truth_ms: f64,
    /// Wall time waiting for the card before the time phase could take it (other lanes'
    /// verification, worker starts, descriptions on the card let go first), ms: not the review's
    /// own time, and outside `--time-budget`.
    #[serde(default)]
    pub card_wait_ms: f64,
    /// Wall time the time phase held the card to itself, ms: what `--time-budget` bounds.
    #[serde(default)]
    pub held_ms: f64,
    /// Wall time from taking the card to the first sample (the sets, the truth's buffers, the
    /// baseline's outputs), ms.
    #[serde(default)]
    pub setup_ms: f64,
    /// Wall time of the warm-up (its samples, the baseline's first load and call), ms.
    #[serde(default)]
    pub warmup_ms: f64,
    /// Median host wall time of a timed launch's draw (a KernelBench file's get_inputs() in the
    /// Model's process, the copies, hashes and poison), ms.
    #[serde(default)]
    pub draw_ms: f64,
    /// Median host wall time of a KernelBench Model's float64 run for a timed launch's truth,
    /// in its process, ms (0 without one).
    #[serde(default)]
    pub model_truth_ms: f64,
    #[serde(default)]
    pub kernels: Vec<KernelTime>,
    /// The baseline's kernels, copies and memsets as traced (eager PyTorch's, a library's), each
    /// with its median; empty when untraced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_kernels: Vec<KernelTime>,
    /// Median time the device was busy with the baseline's traced work (the union of its
    /// records), against the span that times it: what is left is the device idle between them,
    /// waiting on the host (eager PyTorch's dispatch between its operations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_busy_ms: Option<f64>,
    #[serde(default)]
    pub candidate_ms: Vec<f64>,
    /// Where the judge's clock disputed the worker's claim (`candidate_ms` then holds the
    /// judge's estimates): the worker's own figure for each sample, ms, in the same order, so
    /// that the record keeps both sides of the dispute. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claimed_ms: Vec<f64>,
    #[serde(default)]
    pub baseline_ms: Vec<f64>,
    /// The problem has a library baseline that this machine cannot run (its library is
    /// missing), and why: then only time, rates and % of ceiling, like a problem without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub baseline_unavailable: Option<String>,
    /// Where the baseline was measured in an earlier review of this run on this card: how many
    /// samples were remembered, how many fresh, how far apart (see `time::memo`). None: all fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_memo: Option<MemoUse>,
}

/// How many input/output sets of `set_bytes` each rotate through timing: at least three, and
/// together at least twice L2, within a quarter of the device's memory.
pub fn set_count(set_bytes: usize, l2_bytes: usize, memory_bytes: usize, max_sets: usize) -> usize {
    let set_bytes = set_bytes.max(1);
    let want = (2 * l2_bytes).div_ceil(set_bytes).max(3).min(max_sets.max(1));
    let fits = (memory_bytes / 4 / set_bytes).max(1);
    want.min(fits)
}

/// Hold the candidate's worker and the Model's process on `cpus` (see [`TimingOptions::cpus`]),
/// or let them go (`None`).
fn pin(devices: &mut Devices, cpus: Option<&[usize]>) {
    devices.candidate.pin(cpus);
    if let Some(m) = devices.model.as_deref_mut() {
        m.pin(cpus);
    }
}

/// Verify and time `candidate` at `sizes` against the baseline at `precision`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn measure(
    devices: &mut Devices,
    candidate: &Candidate,
    prepared: &Prepared,
    seeds: &Seeds,
    sizes: &Sizes,
    precision: Precision,
    tolerance: &Tolerance,
    guards: bool,
    options: &TimingOptions,
    ceilings: &mut Option<Ceilings>,
    observer: &dyn Observer,
) -> Result<Timing, Stop> {
    // Everything from here touches the GPU while it is being timed: nobody else may.
    let asked = std::time::Instant::now();
    let _gpu = devices.exclusive();
    // The budget runs from here: the card is ours.
    let phase = std::time::Instant::now();
    let card_wait_ms = (phase - asked).as_secs_f64() * 1e3;
    // The card's peaks (measured once per card and driver, then cached), with the card held:
    // measured beside other work (another review's, a problem's description) they fall short,
    // and disturb a timing.
    if ceilings.is_none() {
        *ceilings = devices.reference.ceilings().map_err(Stop::Env)?;
    }
    let problem = &*candidate.problem;
    let first = Arena::new(devices, candidate, prepared, sizes, guards)?;
    let set_bytes: usize = first.all().map(|g| g.whole.bytes).sum();
    let info = devices.candidate.info().clone();
    let count = set_count(set_bytes, info.l2_bytes, info.memory_bytes, options.max_sets);
    let truth = match Truth::new(devices, candidate, sizes, seeds.derive(&[&candidate.sha256, "hash key"]), false) {
        Ok(t) => t,
        Err(e) => {
            first.release(devices);
            return Err(Stop::Env(e));
        }
    };
    // The baseline measured on this card earlier in this run, if it was (`memo`).
    let memo = devices.baselines.filter(|_| problem.has_baseline()).map(|m| {
        let key = crate::judge::BaselineKey {
            problem_sha256: problem.sha256.to_string(),
            sizes: sizes.clone(),
            // Timed from its calls' starts against a Python candidate, from its first kernels
            // against a native one (`Sampler::baseline_taken`): two baselines.
            baseline: format!(
                "{}: {} ({precision:?}){}",
                problem.name,
                problem.baseline_name(precision),
                if candidate.is_python() { ", from each call's start" } else { "" }
            ),
        };
        (m, key)
    });
    let remembered = memo.as_ref().and_then(|(m, key)| m.get(key));
    let kernel_names =
        first.work.iter().filter_map(|w| if let Work::Launch(l) = w { Some(l.kernel.clone()) } else { None }).collect();
    let mut sampler = Sampler {
        candidate,
        seeds: *seeds,
        sizes: sizes.clone(),
        sets: vec![first],
        truth,
        baseline_outputs: Vec::new(),
        precision,
        tolerance: *tolerance,
        rng: ChaCha8Rng::seed_from_u64(seeds.derive(&[&candidate.sha256, "timing"])),
        launches: 0,
        kernel_names,
        kernels: Vec::new(),
        baseline_kernels: Vec::new(),
        baseline_busy_ms: Vec::new(),
        max_clock: info.sm_clock_mhz.unwrap_or(0.0),
        throttle: options.throttle,
        throttled: 0,
        throttled_ms: Vec::new(),
        untraced: None,
        call_traced: false,
        truth_ms: Vec::new(),
        draw_ms: Vec::new(),
        model_ms: Vec::new(),
        baseline_missing: None,
        remembered,
        fresh_baseline: Vec::new(),
    };
    let result = (|| {
        sampler.baseline_outputs = sampler.truth.baseline_outputs(devices, problem)?;
        if problem.baseline_in_python() {
            if devices.model.is_none() {
                sampler.baseline_missing = Some(if problem.torch().is_some() {
                    "no Python process with PyTorch for the problem's Model".into()
                } else {
                    "the baseline is eager PyTorch, and no Python with PyTorch was at hand: SADOKU_PYTHON names one \
                     (else python3 on PATH)"
                        .into()
                });
            }
        } else if problem.has_baseline() {
            sampler.baseline_missing = devices.reference.unavailable(&sampler.baseline_work(0));
        }
        while sampler.sets.len() < count {
            let arena = Arena::new(devices, candidate, prepared, sizes, guards)?;
            sampler.sets.push(arena);
        }
        let pinned = !options.cpus.is_empty();
        if pinned {
            pin(devices, Some(&options.cpus));
        }
        let sampled = sample_rounds(devices, &mut sampler, options, phase, observer);
        if pinned {
            pin(devices, None);
        }
        sampled
    })();
    // The truth first: its release has the Model's process let go of every judge buffer it
    // mapped (the sets' and the baseline's too) before the judge frees them.
    sampler.truth.release(devices);
    for set in std::mem::take(&mut sampler.sets) {
        set.release(devices);
    }
    let mut timing = result?;
    timing.card_wait_ms = card_wait_ms;
    timing.held_ms = phase.elapsed().as_secs_f64() * 1e3;
    if let Some((memo, memo_key)) = memo {
        match &timing.baseline_memo {
            // Drifted: set aside, measured in full by the next review.
            Some(m) if !m.used => memo.forget(&memo_key),
            Some(_) => {}
            // Measured in full here: remembered if the rounds agreed and the baseline's own
            // samples are many and quiet enough (the candidate's need not be).
            None if timing.reliable
                && sampler.baseline_missing.is_none()
                && timing.baseline.as_ref().is_some_and(|b| memo::worth_remembering(b, options.target_noise)) =>
            {
                memo.remember(memo_key, std::mem::take(&mut sampler.fresh_baseline));
            }
            None => {}
        }
    }
    timing.baseline_unavailable = sampler.baseline_missing.take();
    timing.baseline_name = problem.baseline_name(precision);
    timing.baseline_precision = problem.baseline_precision(precision);
    Ok(timing)
}

#[cfg(test)]
mod tests;
