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

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::candidate::Candidate;
use crate::checks::accuracy::Tolerance;
use crate::checks::poison_nan;
use crate::checks::trace::{self, HiddenWork};
use crate::device::{Buffer, DeviceError, KernelRecord, PoisonWords, Precision, Sample, TimedRun, Work};
use crate::events::{Event, Observer};
use crate::judge::{self, Arena, Devices, Plan, Prepared, Stop, Truth, distributions_text, draws, reject};
use crate::model::Access;
use crate::problem::torch::ModelKind;
use crate::problem::{Dtype, Role, Sizes};
use crate::seeds::Seeds;
use crate::stats::{Summary, speedup_interval};
use crate::verdict::{At, Rejection};

#[derive(Debug, Clone, PartialEq)]
pub struct TimingOptions {
    /// Verified but discarded samples before the timed ones, at least this long together.
    pub warmup: Duration,
    pub min_samples: usize,
    pub max_samples: usize,
    /// Stop a round once both series' robust relative spread is below this.
    pub target_noise: f64,
    /// Sampling wall time for all rounds together, converged or not.
    pub budget: Duration,
    /// Independent rounds of sampling; their speedups must agree.
    pub rounds: usize,
    /// A sample whose SM clock is below this fraction of the highest seen is dropped (nvbench: 75 %).
    pub throttle: f64,
    /// Most input/output sets rotated through the timed launches.
    pub max_sets: usize,
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
        }
    }
}

/// What the interval on the speedup allows one to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Round {
    pub samples: usize,
    /// Against the baseline, when the problem has one.
    pub speedup: Option<f64>,
    pub speedup_interval: Option<(f64, f64)>,
    /// The candidate's median time and its 95 % bootstrap interval, ms.
    pub median_ms: f64,
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KernelTime {
    pub name: String,
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub registers: u32,
    pub shared_bytes: u32,
    pub stream: u32,
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// What the baseline is, e.g. "cuBLAS SGEMM (TF32 off) + tril".
    pub baseline_name: String,
    /// The precision the baseline computes in: a candidate is only compared with a baseline of
    /// its own precision or lower.
    pub baseline_precision: Precision,
    /// How the times were taken: the trace's kernel span, or events when the device cannot trace.
    pub method: String,
    pub candidate: Summary,
    /// None when the problem has no library baseline: then only time, rates and % of ceiling.
    pub baseline: Option<Summary>,
    /// median(baseline) / median(candidate).
    pub speedup: Option<f64>,
    /// 95 % bootstrap interval of the speedup.
    pub speedup_interval: Option<(f64, f64)>,
    pub call: Option<Call>,
    /// False when the budget ran out before the noise target was met.
    pub converged: bool,
    /// False when the rounds disagree or the clocks contradict each other: see `unreliable`.
    pub reliable: bool,
    pub unreliable: Option<String>,
    pub rounds: Vec<Round>,
    /// Input/output sets rotated through the timed launches.
    pub sets: usize,
    /// Candidate launches judged in full, each on fresh inputs (warm-up and dropped ones too).
    pub verified_launches: usize,
    /// Samples dropped because the SM clock was throttled.
    pub throttled: usize,
    /// The candidate's dropped samples, ms (the same clock as `candidate_ms`): shown, marked, in
    /// the report's distributions, never counted.
    #[serde(default)]
    pub throttled_ms: Vec<f64>,
    /// Median SM clock over the candidate's samples, MHz.
    pub sm_clock_mhz: Option<f64>,
    /// Median host wall time of a candidate sample (cross-check of the device clock), ms.
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
    pub truth_ms: f64,
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
    pub candidate_ms: Vec<f64>,
    pub baseline_ms: Vec<f64>,
    /// The problem has a library baseline that this machine cannot run (its library is
    /// missing), and why: then only time, rates and % of ceiling, like a problem without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_unavailable: Option<String>,
}

fn scale_text(s: f32) -> String {
    format!("×{s}")
}

struct Sampler<'c> {
    candidate: &'c Candidate,
    /// Why the problem's baseline cannot run here, if it cannot.
    baseline_missing: Option<String>,
    seeds: Seeds,
    sizes: Sizes,
    sets: Vec<Arena>,
    truth: Truth,
    /// The baseline's outputs, on the judge's device (it reads the current set's inputs).
    baseline_outputs: Vec<Buffer>,
    precision: Precision,
    tolerance: Tolerance,
    rng: ChaCha8Rng,
    launches: usize,
    kernel_names: Vec<String>,
    kernels: Vec<(KernelRecord, Vec<f64>)>,
    /// The baseline's traced records, by place in its call, and its busy time per sample.
    baseline_kernels: Vec<(KernelRecord, Vec<f64>)>,
    baseline_busy_ms: Vec<f64>,
    max_clock: f64,
    throttle: f64,
    throttled: usize,
    /// The candidate's samples dropped at a throttled clock, ms.
    throttled_ms: Vec<f64>,
    /// Why the candidate's device could not trace, if it could not.
    untraced: Option<String>,
    /// The candidate's samples were traced as Python calls (`Trace::Call`).
    call_traced: bool,
    /// The judge's time for each timed launch's truth and comparison, ms.
    truth_ms: Vec<f64>,
}

/// One kept sample: event time, traced span, wall time.
#[derive(Debug, Clone, Copy)]
struct Taken {
    event_ms: f64,
    span_ms: Option<f64>,
    wall_ms: f64,
    clock: Option<f64>,
    /// The judge's clock around the request, for a device in another process.
    judge_ms: Option<f64>,
}

impl Taken {
    fn of(sample: &Sample, span_ms: Option<f64>) -> Taken {
        Taken {
            event_ms: sample.ms,
            span_ms,
            wall_ms: sample.wall_ms,
            clock: sample.sm_clock_mhz,
            judge_ms: sample.judge_ms,
        }
    }
}

impl Sampler<'_> {
    fn at(&self, launch: usize, set: usize, what: &str) -> At {
        At {
            sizes: self.sizes.clone(),
            trial: format!("timed launch {launch} (set {} of {}{what})", set + 1, self.sets.len()),
            timed_launch: Some(launch),
        }
    }

    /// One judged, traced candidate launch on fresh inputs.
    fn candidate_sample(&mut self, devices: &mut Devices) -> Result<Taken, Stop> {
        self.launches += 1;
        let launch = self.launches;
        let r = (launch - 1) % self.sets.len();
        let inputs = self.sets[r].of_role(Role::Input).count();
        // A fresh draw for every input, and as an extra a sign and power of two of its own; never
        // for a KernelBench file, whose inputs keep the domain it declares (rows that sum to one,
        // ±1 targets, a positive variance): fresh draws of its own get_inputs(), parameters
        // within their initial range.
        let keep_domain = self.candidate.problem.torch().is_some();
        let scales: Vec<f32> = (0..inputs)
            .map(|_| {
                let magnitude = [0.5f32, 1.0, 2.0][self.rng.random_range(0..3)];
                let signed = if self.rng.random_bool(0.5) { -magnitude } else { magnitude };
                if keep_domain { 1.0 } else { signed }
            })
            .collect();
        let nan = launch.is_multiple_of(2);
        let dtypes: Vec<Dtype> = self.sets[r].of_role(Role::Output).map(|(s, _)| s.dtype).collect();
        let poison: Vec<PoisonWords> = dtypes
            .iter()
            .map(|&d| if nan { PoisonWords::Word(poison_nan(d)) } else { PoisonWords::Pattern(self.rng.random()) })
            .collect();
        let what = format!(
            ", {} inputs {}, {}",
            distributions_text(&self.candidate.problem.input_distributions(0, &self.sizes)),
            scales.iter().map(|&s| scale_text(s)).collect::<Vec<_>>().join(" and "),
            if nan { "NaN poison" } else { "random-bits poison" }
        );
        let at = self.at(launch, r, &what);
        let base = judge::launch_seed(&self.seeds, self.candidate, "timed launch", &self.sizes, launch);
        let plan = Plan {
            at: at.clone(),
            draws: draws(self.candidate, &self.sizes, 0, base, &scales),
            poison,
            scratch_seed: self.rng.random(),
            timed: true,
            keep: false,
            repeat: false,
            host_check: false,
        };
        let judged = judge::judge(devices, &self.sets[r], &self.truth, &plan, self.candidate, self.tolerance.class)?;
        if let Some(r) = judged.inaccurate(&at) {
            return Err(reject(r));
        }
        self.truth_ms.push(judged.truth_ms);
        let sample = judged
            .sample
            .ok_or_else(|| Stop::Env(DeviceError::Environment("a timed launch without a sample".into())))?;
        if let crate::device::Trace::Unavailable { why } = &sample.trace {
            self.untraced.get_or_insert_with(|| why.clone());
        }
        self.call_traced |= matches!(sample.trace, crate::device::Trace::Call { .. });
        let names: Vec<&str> = self.kernel_names.iter().map(String::as_str).collect();
        let traced = trace::check(&sample.trace, &names)
            .map_err(|evidence: HiddenWork| reject(Rejection::HiddenWork { at, evidence }))?;
        let span = traced.as_ref().map(|t| t.span_ms);
        if let Some(t) = traced {
            tally(&mut self.kernels, t.kernels);
        }
        Ok(Taken::of(&sample, span))
    }

    /// Keep what the baseline's sample traced: its records, and how long the device was busy.
    fn baseline_taken(&mut self, sample: &Sample) -> Taken {
        // A Python call's trace without the worker's delivery of the result, as a candidate's.
        let sample = &Sample { trace: trace::undelivered(&sample.trace), ..sample.clone() };
        if let crate::device::Trace::Traced { kernels, .. } | crate::device::Trace::Call { kernels, .. } = &sample.trace
        {
            if !kernels.is_empty() {
                let mut ordered = kernels.clone();
                ordered.sort_by_key(|k| (k.start_ns, k.end_ns));
                self.baseline_busy_ms.push(busy_ms(&ordered));
                tally(&mut self.baseline_kernels, ordered);
            }
        }
        Taken::of(sample, sample.trace.span_ms())
    }

    fn baseline_sample(&mut self, devices: &mut Devices, index: usize) -> Result<Taken, Stop> {
        let r = index % self.sets.len();
        if self.candidate.problem.baseline_in_python() {
            // Eager PyTorch: the problem's own Model (or its PyTorch baseline expression) in its
            // own process, on this set's inputs.
            let sample = self
                .python_baseline(devices, r, true)?
                .ok_or_else(|| Stop::Env(DeviceError::Environment("a timed call without a sample".into())))?;
            return Ok(self.baseline_taken(&sample));
        }
        let work = self.baseline_work(r);
        let sample = devices.reference.time(&TimedRun::plain(&work))?;
        // The baseline is trusted library work: its trace gives its span, nothing more.
        Ok(self.baseline_taken(&sample))
    }

    /// The baseline in the Model's Python process on set `r`'s inputs, into the baseline's
    /// outputs; timed when asked.
    fn python_baseline(&self, devices: &mut Devices, r: usize, timed: bool) -> Result<Option<Sample>, DeviceError> {
        let Some(model) = devices.model.as_deref_mut() else {
            return Err(DeviceError::Environment("no process for the problem's Model".into()));
        };
        let mut args: Vec<(Buffer, Access)> = self.sets[r].inputs().into_iter().map(|b| (b, Access::Read)).collect();
        args.extend(self.baseline_outputs.iter().map(|&b| (b, Access::Write)));
        let tf32 = self.precision == Precision::Tf32;
        let problem = self.candidate.problem;
        model.call(&mut *devices.reference, problem, &self.sizes, ModelKind::Eager, tf32, &args, timed)
    }

    /// Run the PyTorch baseline expression once on the inputs of the last verified launch and
    /// compare what it wrote with that launch's truth. A baseline that fails, or disagrees, is
    /// not timed: `baseline_missing` says why (the problem's fault, not the candidate's).
    fn check_torch_baseline(&mut self, devices: &mut Devices) -> Result<(), Stop> {
        let problem = self.candidate.problem;
        let Some(expression) = problem.torch_baseline() else { return Ok(()) };
        let r = (self.launches.max(1) - 1) % self.sets.len();
        // Poisoned first, so that an output the expression leaves unwritten is seen.
        let specs: Vec<_> = problem.buffers(&self.sizes).into_iter().filter(|b| b.role == Role::Output).collect();
        let words: Vec<u32> = specs.iter().map(|s| poison_nan(s.dtype)).collect();
        let fills: Vec<Work> = specs
            .iter()
            .zip(&self.baseline_outputs)
            .zip(&words)
            .map(|((spec, b), &word)| {
                Work::Library(crate::device::LibraryOp::Fill { buffer: b.view(0, spec.bytes().div_ceil(4) * 4), word })
            })
            .collect();
        devices.reference.run(&fills)?;
        if let Err(e) = self.python_baseline(devices, r, false) {
            self.baseline_missing = Some(format!("the PyTorch baseline `{expression}` failed: {e}"));
            return Ok(());
        }
        let poison: Vec<PoisonWords> = words.into_iter().map(PoisonWords::Word).collect();
        let accuracy = self.truth.check(devices, problem, &self.baseline_outputs, &poison, self.tolerance.class)?;
        if let Some(why) = accuracy.iter().find_map(|a| a.failure().map(|f| format!("{}: {f}", a.buffer))) {
            self.baseline_missing = Some(format!(
                "the PyTorch baseline `{expression}` disagrees with the truth ({why}); fix the problem's [[baseline]]"
            ));
        }
        Ok(())
    }

    /// Library work producing the outputs from set `r`'s inputs, on the judge's device.
    fn baseline_work(&self, r: usize) -> Vec<Work> {
        self.candidate.problem.baseline(&self.sizes, &self.sets[r].inputs(), &self.baseline_outputs, self.precision)
    }

    /// False when this sample ran at a throttled SM clock (it is then not kept).
    fn keep(&mut self, t: &Taken) -> bool {
        let Some(clock) = t.clock else { return true };
        self.max_clock = self.max_clock.max(clock);
        if clock < self.max_clock * self.throttle {
            self.throttled += 1;
            return false;
        }
        true
    }
}

/// How many input/output sets of `set_bytes` each rotate through timing: at least three, and
/// together at least twice L2, within a quarter of the device's memory.
pub fn set_count(set_bytes: usize, l2_bytes: usize, memory_bytes: usize, max_sets: usize) -> usize {
    let set_bytes = set_bytes.max(1);
    let want = (2 * l2_bytes).div_ceil(set_bytes).max(3).min(max_sets.max(1));
    let fits = (memory_bytes / 4 / set_bytes).max(1);
    want.min(fits)
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
    observer: &dyn Observer,
) -> Result<Timing, Stop> {
    // Everything from here touches the GPU while it is being timed: nobody else may.
    let _gpu = devices.exclusive();
    let problem = candidate.problem;
    let first = Arena::new(devices, candidate, prepared, sizes, guards)?;
    let set_bytes: usize = first.all().map(|g| g.whole.bytes).sum();
    let info = devices.candidate.info().clone();
    let count = set_count(set_bytes, info.l2_bytes, info.memory_bytes, options.max_sets);
    let truth = match Truth::new(devices, candidate, sizes, seeds.derive(&[&candidate.sha256, "hash key"])) {
        Ok(t) => t,
        Err(e) => {
            first.release(devices);
            return Err(Stop::Env(e));
        }
    };
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
        baseline_missing: None,
    };
    let result = (|| {
        for spec in problem.buffers(sizes).iter().filter(|b| b.role == Role::Output) {
            // Whole words: a 16-bit output of odd length is still filled with 32-bit poison.
            let bytes = spec.bytes().div_ceil(4).max(1) * 4;
            // A Python baseline writes them from its own process: shareable there, judge-only else.
            let b = if problem.baseline_in_python() {
                devices.reference.alloc_shared(bytes)?
            } else {
                devices.reference.alloc(bytes)?
            };
            sampler.baseline_outputs.push(b);
        }
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
        sample_rounds(devices, &mut sampler, options, observer)
    })();
    // The truth first: its release has the Model's process let go of every judge buffer it
    // mapped (the sets' and the baseline's too) before the judge frees them.
    sampler.truth.release(devices);
    for set in std::mem::take(&mut sampler.sets) {
        set.release(devices);
    }
    for b in std::mem::take(&mut sampler.baseline_outputs) {
        devices.reference.free(b);
    }
    let mut timing = result?;
    timing.baseline_unavailable = sampler.baseline_missing.take();
    timing.baseline_name = problem.baseline_name(precision);
    timing.baseline_precision = problem.baseline_precision(precision);
    Ok(timing)
}

fn sample_rounds(
    devices: &mut Devices,
    s: &mut Sampler,
    options: &TimingOptions,
    observer: &dyn Observer,
) -> Result<Timing, Stop> {
    // Warm-up: clocks ramp, caches of the driver fill. Verified like every other launch.
    let start = Instant::now();
    let mut warm = 0;
    if s.candidate.problem.torch_baseline().is_some() && s.baseline_missing.is_none() {
        // A baseline expression is the problem author's, not a library's: once, on the inputs
        // of a verified launch, its outputs must match the truth before it is timed.
        s.candidate_sample(devices)?;
        warm += 1;
        s.check_torch_baseline(devices)?;
    }
    let with_baseline = s.candidate.problem.has_baseline() && s.baseline_missing.is_none();
    while warm < 3 || start.elapsed() < options.warmup {
        s.candidate_sample(devices)?;
        if with_baseline {
            s.baseline_sample(devices, warm)?;
        }
        warm += 1;
    }
    let rounds = options.rounds.max(1);
    let round_budget = options.budget / rounds as u32;
    let round_max = (options.max_samples / rounds).max(3);
    let start = Instant::now();
    let (mut c, mut b): (Vec<Vec<Taken>>, Vec<Vec<Taken>>) = (vec![Vec::new(); rounds], vec![Vec::new(); rounds]);
    let mut converged = true;
    let mut index = warm;
    for round in 0..rounds {
        let round_start = Instant::now();
        let mut attempts = 0usize;
        let quiet = loop {
            attempts += 1;
            let ct = s.candidate_sample(devices)?;
            if s.keep(&ct) {
                c[round].push(ct);
            } else {
                s.throttled_ms.push(ct.span_ms.unwrap_or(ct.event_ms));
            }
            if with_baseline {
                let bt = s.baseline_sample(devices, index)?;
                if s.keep(&bt) {
                    b[round].push(bt);
                }
            }
            index += 1;
            let n = if with_baseline { c[round].len().min(b[round].len()) } else { c[round].len() };
            let noise =
                |t: &[Taken]| Summary::of(&times(t, spans(&c[round], &b[round]))).map_or(f64::INFINITY, |s| s.noise);
            let (cn, bn) = (noise(&c[round]), if with_baseline { noise(&b[round]) } else { 0.0 });
            let total: usize = c.iter().map(Vec::len).sum();
            observer.event(Event::Sample {
                samples: total,
                noise: cn,
                elapsed: start.elapsed(),
                budget: options.budget,
            });
            if n >= options.min_samples && cn < options.target_noise && bn < options.target_noise {
                break true;
            }
            if attempts >= round_max || (n >= options.min_samples.min(3) && round_start.elapsed() >= round_budget) {
                break false;
            }
            // Every sample throttled for a long while: give up on this round rather than spin.
            if attempts >= round_max * 4 {
                break false;
            }
        };
        converged &= quiet;
    }
    let all_c: Vec<Taken> = c.iter().flatten().copied().collect();
    let all_b: Vec<Taken> = b.iter().flatten().copied().collect();
    if all_c.len() < 3 || (with_baseline && all_b.len() < 3) {
        return Err(Stop::Env(DeviceError::Environment(format!(
            "too few samples kept ({} candidate, {} baseline; {} dropped at a throttled SM clock)",
            all_c.len(),
            all_b.len(),
            s.throttled
        ))));
    }
    let mut use_spans = spans(&all_c, &all_b);
    let uncovered = if use_spans && s.call_traced { uncovered(&all_c, &all_b) } else { None };
    if let Some(why) = &uncovered {
        use_spans = false;
        s.untraced = Some(why.clone());
    }
    // A Python call's figures all come from the candidate's own process: held against the
    // judge's clock around each request, against the baseline's in its own process.
    let clock = if s.call_traced { clock_check(&all_c, &all_b, use_spans) } else { None };
    let dispute = clock.filter(|c| c.disputed);
    let candidate_times = |t: &[Taken]| match &dispute {
        Some(d) => judge_times(t, d.baseline_overhead_ms),
        None => times(t, use_spans),
    };
    let (cms, bms) = (candidate_times(&all_c), times(&all_b, use_spans));
    let cs = Summary::of(&cms).expect("sampled");
    let bs = Summary::of(&bms);
    let interval = bs.as_ref().map(|_| speedup_interval(&bms, &cms, s.rng.random()));
    let mut round_records = Vec::new();
    for (rc, rb) in c.iter().zip(&b) {
        let (rcm, rbm) = (candidate_times(rc), times(rb, use_spans));
        if let Some(x) = Summary::of(&rcm) {
            let y = Summary::of(&rbm);
            round_records.push(Round {
                samples: rcm.len(),
                speedup: y.as_ref().map(|y| y.median / x.median),
                speedup_interval: y.as_ref().map(|_| speedup_interval(&rbm, &rcm, s.rng.random())),
                median_ms: x.median,
                median_interval: crate::stats::median_interval(&rcm, s.rng.random()),
            });
        }
    }
    let mut unreliable = None;
    for (i, x) in round_records.iter().enumerate() {
        for y in &round_records[i + 1..] {
            let (a, b) = (x.interval(), y.interval());
            if !(a.0 <= b.1 && b.0 <= a.1) {
                unreliable = Some(format!("the rounds disagree: {} then {}", x.describe(), y.describe()));
            }
        }
    }
    let wall: Vec<f64> = all_c.iter().map(|t| t.wall_ms).collect();
    let wall_ms = Summary::of(&wall).map_or(0.0, |w| w.median);
    // The device cannot take longer than the host saw pass.
    let event_median = Summary::of(&all_c.iter().map(|t| t.event_ms).collect::<Vec<_>>()).map_or(0.0, |e| e.median);
    if event_median > wall_ms * 1.05 + 0.05 {
        unreliable.get_or_insert(format!(
            "the device's events report {event_median:.4} ms but only {wall_ms:.4} ms passed on the host"
        ));
    }
    // The device work's span cannot exceed the events around it.
    if use_spans {
        let span_median =
            Summary::of(&all_c.iter().filter_map(|t| t.span_ms).collect::<Vec<_>>()).map_or(0.0, |e| e.median);
        if span_median > event_median * 1.05 + 0.05 {
            unreliable.get_or_insert(format!(
                "the trace's span is {span_median:.4} ms but the events around it only {event_median:.4} ms"
            ));
        }
    }
    let clocks: Vec<f64> = all_c.iter().filter_map(|t| t.clock).collect();
    let method = if let Some(d) = &dispute {
        format!(
            "the judge's clock around each request, less the baseline's median round trip beyond its own time \
             ({:.4} ms), because the worker's claim ({:.4} ms) disagrees with the judge's clock ({:.4} ms)",
            d.baseline_overhead_ms, d.claimed_ms, d.judged_ms
        )
    } else if use_spans && s.call_traced {
        let mut m = "span of every kernel, copy and memset the call caused, on any stream, in the worker's own \
                     activity trace (CUPTI)"
            .to_string();
        if let Some(k) = &clock {
            m += &format!(
                "; the judge's clock agrees to within {:.4} ms ({:+.4} ms beyond the baseline's overhead)",
                k.allowance_ms, k.excess_ms
            );
            if k.allowance_ms > CORROBORATED_FRACTION * k.claimed_ms {
                m += &format!(
                    ", which cannot tell this {:.4} ms call's time to {:.0} %: the figure is the worker's",
                    k.claimed_ms,
                    CORROBORATED_FRACTION * 100.0
                );
            }
        }
        m
    } else if use_spans {
        "span of the candidate's kernels in the device's activity trace (CUPTI)".to_string()
    } else {
        let why = s.untraced.clone().unwrap_or_else(|| "the baseline's device could not trace".into());
        format!("CUDA events around the work and the host wall clock; no activity trace ({why})")
    };
    let kernels = kernel_times(&s.kernels);
    let (baseline_kernels, baseline_busy_ms) = match bs {
        Some(_) => (kernel_times(&s.baseline_kernels), Summary::of(&s.baseline_busy_ms).map(|b| b.median)),
        None => (Vec::new(), None),
    };
    Ok(Timing {
        baseline_name: String::new(),
        baseline_precision: Precision::F32,
        method,
        speedup: bs.as_ref().map(|b| b.median / cs.median),
        speedup_interval: interval,
        call: interval.map(Call::of),
        candidate: cs,
        baseline: bs,
        converged,
        reliable: unreliable.is_none(),
        unreliable,
        rounds: round_records,
        sets: s.sets.len(),
        verified_launches: s.launches,
        throttled: s.throttled,
        throttled_ms: std::mem::take(&mut s.throttled_ms),
        sm_clock_mhz: Summary::of(&clocks).map(|s| s.median),
        wall_ms,
        judge_round_trip_ms: median_judge_ms(&all_c),
        baseline_round_trip_ms: median_judge_ms(&all_b),
        clock,
        round_trips_ms: all_c.iter().filter_map(|t| t.judge_ms).collect(),
        baseline_round_trips_ms: all_b.iter().filter_map(|t| t.judge_ms).collect(),
        truth_ms: Summary::of(&s.truth_ms).map_or(0.0, |t| t.median),
        kernels,
        baseline_kernels,
        baseline_busy_ms,
        candidate_ms: cms,
        baseline_ms: bms,
        baseline_unavailable: None,
    })
}

/// Add one sample's records, in order, to the times of the records at their places.
fn tally(into: &mut Vec<(KernelRecord, Vec<f64>)>, records: Vec<KernelRecord>) {
    for (i, k) in records.into_iter().enumerate() {
        let ms = k.end_ns.saturating_sub(k.start_ns) as f64 / 1e6;
        match into.get_mut(i) {
            Some((_, times)) => times.push(ms),
            None => into.push((k, vec![ms])),
        }
    }
}

fn kernel_times(records: &[(KernelRecord, Vec<f64>)]) -> Vec<KernelTime> {
    records
        .iter()
        .map(|(k, times)| KernelTime {
            name: k.name.clone(),
            grid: k.grid,
            block: k.block,
            registers: k.registers,
            shared_bytes: k.shared_bytes,
            stream: k.stream,
            median_ms: Summary::of(times).map_or(0.0, |s| s.median),
        })
        .collect()
}

/// How long the device was busy with `records` (sorted by start): the length of the union of
/// their intervals, milliseconds.
fn busy_ms(records: &[KernelRecord]) -> f64 {
    let mut busy = 0u64;
    let mut current: Option<(u64, u64)> = None;
    for k in records {
        current = match current {
            Some((a, b)) if k.start_ns <= b => Some((a, b.max(k.end_ns))),
            Some((a, b)) => {
                busy += b - a;
                Some((k.start_ns, k.end_ns.max(k.start_ns)))
            }
            None => Some((k.start_ns, k.end_ns.max(k.start_ns))),
        };
    }
    if let Some((a, b)) = current {
        busy += b - a;
    }
    busy as f64 / 1e6
}

/// A Python call runs in the process that traces it, so it could switch CUPTI's recording off
/// around part of its work: its trace would then cover less of the call than its events did.
/// Some of that is the call's own host time before its first device work (PyTorch's dispatch), as
/// much for the eager baseline as for a candidate: a candidate's median events-minus-span beyond
/// the baseline's by more than 0.05 ms and a quarter of its events is said, and the review is then
/// timed by events, which see all of the call's device work whatever CUPTI recorded.
fn uncovered(c: &[Taken], b: &[Taken]) -> Option<String> {
    let gap = |t: &[Taken]| {
        Summary::of(&t.iter().filter_map(|t| t.span_ms.map(|s| t.event_ms - s)).collect::<Vec<_>>()).map(|s| s.median)
    };
    let events = Summary::of(&c.iter().map(|t| t.event_ms).collect::<Vec<_>>())?.median;
    let (gc, gb) = (gap(c)?, gap(b).unwrap_or(0.0));
    (gc > gb + UNCOVERED_MS + UNCOVERED_FRACTION * events).then(|| {
        format!(
            "the calls' traces leave {gc:.4} ms of their {events:.4} ms events uncovered, the eager baseline's \
             {gb:.4} ms: timed by events"
        )
    })
}

/// See [`uncovered`].
const UNCOVERED_MS: f64 = 0.05;
const UNCOVERED_FRACTION: f64 = 0.25;
/// A claim the judge's clock corroborates to within this fraction of itself is a figure the judge
/// stands behind; a looser one is said to be the worker's.
const CORROBORATED_FRACTION: f64 = 0.03;

/// A worker's claim held against the judge's clock (see [`clock_check`]), as the report gives it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClockCheck {
    /// The baseline's median round trip beyond its own claimed time, ms (its process is the
    /// problem's Model's, never the candidate's).
    pub baseline_overhead_ms: f64,
    /// The candidate's median claimed time, ms.
    pub claimed_ms: f64,
    /// The candidate's median round trip beyond its claim, less the baseline's, ms: its own host
    /// time outside its trace's span, the clock's noise, and whatever its claim left out.
    pub excess_ms: f64,
    /// How much excess the claim may carry and still stand, ms: 0.05 ms or a quarter of the
    /// claim (a call's own host time, e.g. a Python launcher's), whichever is more, plus three
    /// standard errors of the difference of the two medians, from the baseline's spread alone.
    /// The judge's clock corroborates the claim to within this, no closer.
    pub allowance_ms: f64,
    /// The candidate's median on the judge's clock, less the baseline's overhead, ms.
    pub judged_ms: f64,
    /// Whether the excess went beyond the allowance: the judge's clock is then the time.
    pub disputed: bool,
}

/// A Python candidate's time, its trace and its events are all taken inside its own process, by
/// code it can reach: its claim is testimony. The judge's own clock around each timed request
/// (`judge_ms`, from sending it to holding the reply) is evidence, and so is the same clock
/// around the baseline's requests to its own process (the Model's), which pay the same pipe,
/// the same marshalling and the same synchronisation. Each side's overhead is its median
/// judge-clock-minus-claim. When the candidate's exceeds the baseline's by more than the
/// allowance (0.05 ms or a quarter of the candidate's claimed median, whichever is more, the
/// shape of [`uncovered`], plus three standard errors of the difference, so that the clock's own
/// noise disputes no honest claim), the claim is disputed: each of the candidate's samples is
/// then its judge-clock time less the baseline's median overhead. The noise is the baseline's
/// spread, never anything measured through the candidate's process, which can answer as slowly
/// or as erratically as it likes. Where either side has no judge's clock (the baseline runs in
/// the judge's own process) nothing is subtracted and nothing is disputed.
fn clock_check(c: &[Taken], b: &[Taken], use_spans: bool) -> Option<ClockCheck> {
    let overheads = |t: &[Taken]| -> Option<Summary> {
        let gaps: Option<Vec<f64>> =
            t.iter().zip(times(t, use_spans)).map(|(t, claimed)| t.judge_ms.map(|j| j - claimed)).collect();
        Summary::of(&gaps?)
    };
    let claimed_ms = Summary::of(&times(c, use_spans))?.median;
    let (oc, ob) = (overheads(c)?, overheads(b)?);
    // The median's standard error is 1.2533 σ/√n for normal data; σ from the baseline's IQR.
    let sigma = (ob.q3 - ob.q1) / 1.349;
    let standard_error = 1.2533 * sigma * (1.0 / oc.samples as f64 + 1.0 / ob.samples as f64).sqrt();
    let allowance_ms = UNCOVERED_MS.max(UNCOVERED_FRACTION * claimed_ms) + 3.0 * standard_error;
    let excess_ms = oc.median - ob.median;
    let judged_ms = Summary::of(&judge_times(c, ob.median))?.median;
    Some(ClockCheck {
        baseline_overhead_ms: ob.median,
        claimed_ms,
        excess_ms,
        allowance_ms,
        judged_ms,
        disputed: excess_ms > allowance_ms,
    })
}

/// Each sample on the judge's clock, less `overhead_ms` (never below zero).
fn judge_times(t: &[Taken], overhead_ms: f64) -> Vec<f64> {
    t.iter().map(|t| (t.judge_ms.unwrap_or(t.event_ms) - overhead_ms).max(0.0)).collect()
}

/// The median of the judge's clock over samples that have it.
fn median_judge_ms(t: &[Taken]) -> Option<f64> {
    Summary::of(&t.iter().filter_map(|t| t.judge_ms).collect::<Vec<_>>()).map(|s| s.median)
}

/// Whether both series (or the candidate's alone) were traced: then spans are compared, otherwise
/// events.
fn spans(c: &[Taken], b: &[Taken]) -> bool {
    !c.is_empty() && c.iter().chain(b).all(|t| t.span_ms.is_some())
}

fn times(t: &[Taken], use_spans: bool) -> Vec<f64> {
    t.iter().map(|t| if use_spans { t.span_ms.unwrap_or(t.event_ms) } else { t.event_ms }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(event_ms: f64, span_ms: f64) -> Taken {
        Taken { event_ms, span_ms: Some(span_ms), wall_ms: event_ms, clock: None, judge_ms: None }
    }

    fn judged(span_ms: f64, judge_ms: f64) -> Taken {
        Taken { judge_ms: Some(judge_ms), ..taken(span_ms, span_ms) }
    }

    fn disputed(c: &[Taken], b: &[Taken], use_spans: bool) -> Option<ClockCheck> {
        clock_check(c, b, use_spans).filter(|k| k.disputed)
    }

    /// Samples whose round trips are `claim + overhead + jitter`, the jitter cycling through
    /// `jitter` (ms).
    fn jittered(claim: f64, overhead: f64, jitter: &[f64], n: usize) -> Vec<Taken> {
        (0..n).map(|i| judged(claim, claim + overhead + jitter[i % jitter.len()])).collect()
    }

    /// An honest call's claim stands (its round trip is the baseline's, or a little more); a
    /// claim ten times below the judge's clock is disputed, and the candidate is then timed by
    /// the judge's clock less the baseline's overhead alone.
    #[test]
    fn a_claim_far_below_the_judges_clock_is_disputed() {
        let baseline = vec![judged(2.0, 2.3); 5];
        assert_eq!(disputed(&vec![judged(1.0, 1.32); 5], &baseline, true), None);
        // Memory-bound and short: 0.04 ms more bookkeeping than the baseline's, within 0.05 ms.
        assert_eq!(disputed(&vec![judged(0.02, 0.36); 5], &baseline, true), None);
        let d = disputed(&vec![judged(0.7, 7.3); 5], &baseline, true).expect("disputed");
        assert!((d.baseline_overhead_ms - 0.3).abs() < 1e-9, "{d:?}");
        assert!((d.claimed_ms - 0.7).abs() < 1e-9 && (d.judged_ms - 7.0).abs() < 1e-9, "{d:?}");
        // Nothing to calibrate against: nothing disputed.
        assert_eq!(disputed(&vec![judged(0.7, 7.3); 5], &vec![taken(2.0, 2.0); 5], true), None);
        assert_eq!(disputed(&vec![taken(0.7, 0.7); 5], &baseline, true), None);
    }

    /// The clock's noise disputes no honest claim: with the baseline's round trips spread by
    /// ±0.15 ms (as a 0.18 ms call's were on an H100), an honest candidate's median that lands
    /// 0.1 ms above the baseline's by chance stands, and the check says how close it could look.
    /// A claim shrunk by far more than the noise is disputed all the same. The allowance comes
    /// from the baseline's spread alone: a candidate that answers erratically widens nothing.
    #[test]
    fn the_clocks_noise_disputes_no_honest_claim_and_hides_no_large_lie() {
        let spread = [-0.15, -0.05, 0.0, 0.05, 0.15, -0.1, 0.1];
        let baseline = jittered(0.18, 0.9, &spread, 6);
        let unlucky = jittered(0.18, 1.0, &spread, 6);
        let check = clock_check(&unlucky, &baseline, true).expect("both sides timed by the judge");
        assert!(!check.disputed, "{check:?}");
        assert!((check.excess_ms - 0.1).abs() < 1e-9, "{check:?}");
        assert!(check.allowance_ms > 0.1 && check.allowance_ms < 0.4, "{check:?}");
        // A claim of 0.02 ms for a call the judge's clock sees take 0.5 ms more.
        let shrunk = jittered(0.02, 0.9 + 0.66, &spread, 6);
        assert!(clock_check(&shrunk, &baseline, true).expect("timed").disputed);
        // Erratic answers from the candidate's process leave the allowance as it was.
        let erratic = jittered(0.18, 1.0, &[-0.9, 0.9, 0.0], 6);
        let e = clock_check(&erratic, &baseline, true).expect("timed");
        assert!((e.allowance_ms - check.allowance_ms).abs() < 1e-12, "{e:?} {check:?}");
        // More samples, a tighter allowance: the same excess, seen in 60 samples a side, is beyond it.
        let (baseline, unlucky) = (jittered(0.18, 0.9, &spread, 60), jittered(0.18, 1.0, &spread, 60));
        let many = clock_check(&unlucky, &baseline, true).expect("timed");
        assert!(many.allowance_ms < check.allowance_ms, "{many:?}");
    }

    fn record(name: &str, start_ns: u64, end_ns: u64) -> KernelRecord {
        KernelRecord::at(name, start_ns, end_ns, 7)
    }

    #[test]
    fn a_baselines_busy_time_is_the_union_of_its_records_and_its_kernels_are_kept_by_place() {
        // Eager l2norm as the H200 traced it while CUPTI took up its buffers inside the call: a
        // norm, 0.33 ms idle, a division; and a copy overlapping a kernel on another stream.
        let records =
            vec![record("norm", 0, 84_000), record("div", 414_000, 622_000), record("copy", 500_000, 700_000)];
        assert!((busy_ms(&records) - (0.084 + 0.286)).abs() < 1e-12, "{}", busy_ms(&records));
        assert_eq!(busy_ms(&[]), 0.0);
        let mut places = Vec::new();
        tally(&mut places, records[..2].to_vec());
        tally(&mut places, vec![record("norm", 0, 86_000), record("div", 90_000, 300_000)]);
        let times = kernel_times(&places);
        assert_eq!(times.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["norm", "div"]);
        assert!((times[0].median_ms - 0.085).abs() < 1e-12);
        assert!((times[1].median_ms - 0.209).abs() < 1e-12);
    }

    #[test]
    fn a_call_whose_trace_covers_much_less_than_its_events_is_timed_by_events() {
        // Eager PyTorch: 0.07 ms of host dispatch before its kernel (measured on the H200).
        let eager = vec![taken(0.197, 0.127); 5];
        // An honest ModelNew: a little more dispatch, within the allowance.
        assert_eq!(uncovered(&vec![taken(0.225, 0.127); 5], &eager), None);
        // A call that switched CUPTI off around its kernel: the trace saw only a 2 µs copy.
        let hidden = vec![taken(0.210, 0.002); 5];
        let why = uncovered(&hidden, &eager).expect("uncovered");
        assert!(why.contains("leave 0.2080 ms of their 0.2100 ms events uncovered"), "{why}");
        // Host work between two copies is inside the span: covered.
        assert_eq!(uncovered(&vec![taken(376.0, 300.0); 5], &eager), None);
        // Without a baseline the allowance alone.
        assert!(uncovered(&hidden, &[]).is_some());
    }

    #[test]
    fn calls_follow_the_interval() {
        assert_eq!(Call::of((1.01, 1.2)), Call::Faster);
        assert_eq!(Call::of((0.5, 0.99)), Call::Slower);
        assert_eq!(Call::of((0.99, 1.01)), Call::Same);
        assert_eq!(Call::of((1.0, 1.3)), Call::Same, "an interval touching 1 claims nothing");
    }

    #[test]
    fn sets_exceed_l2_together() {
        // N = 4096 trimm: three 64 MiB buffers per set, 60 MB L2.
        assert_eq!(set_count(192 << 20, 60_000_000, 140 << 30, 16), 3);
        // N = 1024: 12 MiB per set needs ten sets for 2 × L2.
        let n = set_count(12 << 20, 60_000_000, 140 << 30, 16);
        assert!(n * (12 << 20) >= 120_000_000 && n <= 16, "{n}");
        // Never more than a quarter of memory, never fewer than one.
        assert_eq!(set_count(1 << 30, 60_000_000, 2 << 30, 16), 1);
    }
}
