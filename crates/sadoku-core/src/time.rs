//! Stage 4 of the pipeline: how fast, against the library baseline — and was what ran the work.
//!
//! Every timed launch is verified, so there is no "check phase" a kernel could count its way out
//! of (HACKS.md #4–#6):
//! - several input sets rotate through the launches, together larger than L2, each verified in
//!   full (against fp64) on its first launch;
//! - before every later launch the set's inputs are rescaled by powers of two (signs too), so no
//!   launch sees inputs it has seen before, and the outputs are poisoned (NaN or random bits);
//! - after every launch the device hashes outputs and inputs; the judge compares each hash with
//!   the verified outputs rescaled exactly. A mismatch gets a full check (a kernel that sums in a
//!   varying order differs in the last bits and is fine), and a failure names the launch.
//!
//! Each sample is one cold run: L2 flushed, persisting lines reset, then the work between events
//! while the device's activity trace records every kernel. The time is the span of the
//! candidate's kernels when traced (events otherwise); work on another stream or outside the
//! window rejects the candidate. Candidate and baseline samples alternate, in two rounds that
//! must agree; samples taken at a throttled SM clock are dropped.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::candidate::Candidate;
use crate::checks::accuracy::{self, Tolerance};
use crate::checks::trace::{self, HiddenWork};
use crate::checks::{POISON_NAN, Poison, inputs_unchanged, unwritten};
use crate::device::{
    Buffer, DeviceError, DeviceExt, KernelRecord, Precision, Prep, Sample, TimedRun, Work, content_hash_scaled,
    pattern_word,
};
use crate::problem::{Distribution, Reference, Role, Sizes};
use crate::review::{Event, Observer};
use crate::seeds::Seeds;
use crate::stats::{Summary, speedup_interval};
use crate::verdict::{At, Rejection};
use crate::verify::{Bound, Devices, Prepared, Stop, launch_failure, reject};

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
    pub speedup: f64,
    pub speedup_interval: (f64, f64),
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
    pub baseline: Summary,
    /// median(baseline) / median(candidate).
    pub speedup: f64,
    /// 95 % bootstrap interval of the speedup.
    pub speedup_interval: (f64, f64),
    pub call: Call,
    /// False when the budget ran out before the noise target was met.
    pub converged: bool,
    /// False when the rounds disagree or the clocks contradict each other: see `unreliable`.
    pub reliable: bool,
    pub unreliable: Option<String>,
    pub rounds: Vec<Round>,
    /// Input/output sets rotated through the timed launches.
    pub sets: usize,
    /// Candidate launches whose outputs and inputs were checked (warm-up and dropped ones too).
    pub verified_launches: usize,
    /// Of those, launches whose outputs differed from the first launch's in some bits but passed
    /// the full check (a varying summation order).
    pub inexact_launches: usize,
    /// Whether inputs were rescaled between launches (the problem allows it).
    pub rescaled: bool,
    /// Samples dropped because the SM clock was throttled.
    pub throttled: usize,
    /// Median SM clock over the candidate's samples, MHz.
    pub sm_clock_mhz: Option<f64>,
    /// Median host wall time of a candidate sample (cross-check of the device clock), ms.
    pub wall_ms: f64,
    pub kernels: Vec<KernelTime>,
    pub candidate_ms: Vec<f64>,
    pub baseline_ms: Vec<f64>,
}

/// One input/output set on the candidate's device, verified on its first launch.
struct Set {
    bound: Bound,
    /// Pristine inputs, as generated.
    inputs: Vec<Vec<f32>>,
    truth: Vec<Reference>,
    /// The verified outputs of the first launch.
    outputs: Vec<Vec<u32>>,
    /// Current scale of each input on the device: (sign, power of two).
    scale: Vec<(bool, i32)>,
    /// The baseline's copies of the inputs and its outputs, on the reference device.
    baseline_buffers: Vec<Buffer>,
    baseline: Vec<Work>,
}

fn scale_value((negative, exp): (bool, i32)) -> f64 {
    let v = 2f64.powi(exp);
    if negative { -v } else { v }
}

fn scale_text(s: (bool, i32)) -> String {
    format!("×{}", scale_value(s))
}

struct Sampler<'c> {
    candidate: &'c Candidate,
    sizes: Sizes,
    sets: Vec<Set>,
    tolerance: Tolerance,
    rescale: bool,
    rng: ChaCha8Rng,
    hash_key: u64,
    /// Host hashes of expected contents, by (set, buffer index in check order, scale).
    memo: HashMap<(usize, usize, u64), u64>,
    launches: usize,
    inexact: usize,
    kernel_names: Vec<String>,
    kernels: Vec<(KernelRecord, Vec<f64>)>,
    max_clock: f64,
    throttle: f64,
    throttled: usize,
    /// Why the candidate's device could not trace, if it could not.
    untraced: Option<String>,
}

/// One kept sample: event time, traced span, wall time.
#[derive(Debug, Clone, Copy)]
struct Taken {
    event_ms: f64,
    span_ms: Option<f64>,
    wall_ms: f64,
    clock: Option<f64>,
}

impl Taken {
    fn of(sample: &Sample, span_ms: Option<f64>) -> Taken {
        Taken { event_ms: sample.ms, span_ms, wall_ms: sample.wall_ms, clock: sample.sm_clock_mhz }
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

    /// One verified, traced candidate launch.
    fn candidate_sample(&mut self, devices: &mut Devices) -> Result<Taken, Stop> {
        self.launches += 1;
        let launch = self.launches;
        let r = (launch - 1) % self.sets.len();
        let mut prepare = Vec::new();
        // Fresh inputs: each input rescaled to a new sign and power of two.
        let inputs: Vec<Buffer> = self.sets[r].bound.of_role(Role::Input).map(|(_, b)| b).collect();
        if self.rescale {
            // New scales for every input, and a product unlike the last one: the expected output
            // changes from one launch on a set to the next, so a stale answer is always wrong.
            let old = self.sets[r].scale.clone();
            let product = |s: &[(bool, i32)]| s.iter().map(|&x| scale_value(x)).product::<f64>();
            let mut new = old.clone();
            while new.iter().zip(&old).any(|(a, b)| a == b) || product(&new) == product(&old) {
                for s in new.iter_mut() {
                    *s = (self.rng.random_bool(0.5), self.rng.random_range(-1..=1));
                }
            }
            for ((&buffer, n), o) in inputs.iter().zip(&new).zip(&old) {
                let factor = scale_value(*n) / scale_value(*o);
                prepare.push(Prep::Scale { buffer, factor: factor as f32 });
            }
            self.sets[r].scale = new;
        }
        let nan = launch.is_multiple_of(2);
        let outputs: Vec<Buffer> = self.sets[r].bound.of_role(Role::Output).map(|(_, b)| b).collect();
        let mut patterns = Vec::new();
        for &buffer in &outputs {
            if nan {
                prepare.push(Prep::Fill { buffer, word: POISON_NAN });
                patterns.push(None);
            } else {
                let seed = self.rng.random();
                prepare.push(Prep::Pattern { buffer, seed });
                patterns.push(Some(seed));
            }
        }
        for g in &self.sets[r].bound.scratch {
            prepare.push(Prep::Pattern { buffer: g.view, seed: self.rng.random() });
        }
        let scales = self.sets[r].scale.clone();
        let what = if self.rescale {
            format!(
                ", inputs {}, {}",
                scales.iter().map(|s| scale_text(*s)).collect::<Vec<_>>().join(" and "),
                if nan { "NaN poison" } else { "random-bits poison" }
            )
        } else {
            format!(", {}", if nan { "NaN poison" } else { "random-bits poison" })
        };
        let at = self.at(launch, r, &what);
        let check: Vec<Buffer> = outputs.iter().chain(&inputs).copied().collect();
        let run =
            TimedRun { prepare, work: self.sets[r].bound.work.clone(), check: check.clone(), hash_key: self.hash_key };
        let sample = devices.candidate.time(&run).map_err(|e| launch_failure(e, at.clone()))?;
        if sample.hashes.len() != check.len() {
            return Err(Stop::Env(DeviceError::Environment(format!(
                "the device hashed {} buffers, {} were asked for",
                sample.hashes.len(),
                check.len()
            ))));
        }
        let input_scales: Vec<f64> = scales.iter().map(|s| scale_value(*s)).collect();
        let output_scales = if self.rescale {
            self.candidate.problem.output_scales(&input_scales).unwrap_or_else(|| vec![1.0; outputs.len()])
        } else {
            vec![1.0; outputs.len()]
        };
        // Inputs first: a kernel that changed them is not judged on its outputs.
        for (k, &buffer) in inputs.iter().enumerate() {
            let expected = self.expected_hash(r, outputs.len() + k, input_scales[k]);
            if sample.hashes[outputs.len() + k] != expected {
                let after = devices.candidate.download_f32(buffer)?;
                let want: Vec<f32> = self.sets[r].inputs[k].iter().map(|x| x * input_scales[k] as f32).collect();
                let spec = self.sets[r].bound.of_role(Role::Input).nth(k).map(|(s, _)| s.clone()).expect("input");
                return match inputs_unchanged::check(&spec, &want, &after) {
                    Some(evidence) => Err(reject(Rejection::InputsModified { at, evidence })),
                    // Same bits, different hashes: sadoku's device and host hashes disagree.
                    None => Err(Stop::Env(DeviceError::Environment(format!(
                        "the device's hash of input {} disagrees with the host's for the same contents",
                        spec.name
                    )))),
                };
            }
        }
        for (k, &buffer) in outputs.iter().enumerate() {
            let factor = output_scales[k];
            let expected = self.expected_hash(r, k, factor);
            if sample.hashes[k] == expected {
                continue;
            }
            // Not the verified bits: check this launch in full.
            let bits = devices.candidate.download_u32(buffer)?;
            let spec = self.sets[r].bound.of_role(Role::Output).nth(k).map(|(s, _)| s.clone()).expect("output");
            let poison = match patterns[k] {
                None => Poison::Nan,
                Some(seed) => Poison::Pattern((0..bits.len() as u64).map(|i| pattern_word(seed, i)).collect()),
            };
            let truth = &self.sets[r].truth[k];
            let scaled = Reference {
                values: truth.values.iter().map(|v| v * factor).collect(),
                scale: truth.scale.iter().map(|v| v * factor.abs()).collect(),
                terms: truth.terms,
            };
            let acceptable = accuracy::acceptable(&scaled, &self.tolerance);
            if let Some(evidence) = unwritten::check(&spec, &bits, &poison, &acceptable) {
                return Err(reject(Rejection::Unwritten { at, evidence }));
            }
            let got: Vec<f32> = bits.into_iter().map(f32::from_bits).collect();
            let acc = accuracy::assess(&spec, &got, &scaled, &self.tolerance);
            if let Some(evidence) = acc.failure(&self.tolerance) {
                return Err(reject(Rejection::Inaccurate { at, class: acc.class, evidence }));
            }
            self.inexact += 1;
        }
        if let crate::device::Trace::Unavailable { why } = &sample.trace {
            self.untraced.get_or_insert_with(|| why.clone());
        }
        let names: Vec<&str> = self.kernel_names.iter().map(String::as_str).collect();
        let traced = trace::check(&sample.trace, &names)
            .map_err(|evidence: HiddenWork| reject(Rejection::HiddenWork { at, evidence }))?;
        let span = traced.as_ref().map(|t| t.span_ms);
        if let Some(t) = traced {
            for (i, k) in t.kernels.into_iter().enumerate() {
                let ms = (k.end_ns - k.start_ns) as f64 / 1e6;
                match self.kernels.get_mut(i) {
                    Some((_, times)) => times.push(ms),
                    None => self.kernels.push((k, vec![ms])),
                }
            }
        }
        Ok(Taken::of(&sample, span))
    }

    /// The host hash of a set's `k`-th checked buffer (outputs, then inputs) scaled by `factor`,
    /// computed once.
    fn expected_hash(&mut self, r: usize, k: usize, factor: f64) -> u64 {
        let key = (r, k, factor.to_bits());
        if let Some(h) = self.memo.get(&key) {
            return *h;
        }
        let set = &self.sets[r];
        let h = match set.outputs.get(k) {
            Some(words) => content_hash_scaled(words, factor as f32, self.hash_key),
            None => {
                let input = &set.inputs[k - set.outputs.len()];
                content_hash_scaled(crate::device::as_words(input), factor as f32, self.hash_key)
            }
        };
        self.memo.insert(key, h);
        h
    }

    fn baseline_sample(&mut self, devices: &mut Devices, index: usize) -> Result<Taken, Stop> {
        let r = index % self.sets.len();
        let sample = devices.reference.time(&TimedRun::plain(&self.sets[r].baseline))?;
        // The baseline is trusted library work: its trace gives its span, nothing more.
        Ok(Taken::of(&sample, sample.trace.span_ms()))
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
    let first = Bound::new(devices.candidate, candidate, prepared, sizes, guards)?;
    let set_bytes: usize = first.all().map(|g| g.whole.bytes).sum();
    let info = devices.candidate.info().clone();
    let count = set_count(set_bytes, info.l2_bytes, info.memory_bytes, options.max_sets);
    let mut rng = ChaCha8Rng::seed_from_u64(seeds.derive(&[&candidate.sha256, "timing"]));
    let mut sampler = Sampler {
        candidate,
        sizes: sizes.clone(),
        sets: Vec::new(),
        tolerance: *tolerance,
        rescale: problem.output_scales(&vec![1.0; first.of_role(Role::Input).count()]).is_some(),
        hash_key: rng.random(),
        rng,
        memo: HashMap::new(),
        launches: 0,
        inexact: 0,
        kernel_names: first
            .work
            .iter()
            .filter_map(|w| if let Work::Launch(l) = w { Some(l.kernel.clone()) } else { None })
            .collect(),
        kernels: Vec::new(),
        max_clock: info.sm_clock_mhz.unwrap_or(0.0),
        throttle: options.throttle,
        throttled: 0,
        untraced: None,
    };
    let mut pending = Some(first);
    let result = (|| {
        for r in 0..count {
            let bound = match pending.take() {
                Some(b) => b,
                None => Bound::new(devices.candidate, candidate, prepared, sizes, guards)?,
            };
            let mut baseline_buffers = Vec::new();
            let verified = first_launch(
                devices,
                candidate,
                seeds,
                sizes,
                precision,
                tolerance,
                &bound,
                r,
                count,
                &mut baseline_buffers,
            );
            match verified {
                Ok(v) => sampler.sets.push(Set {
                    scale: vec![(false, 0); v.inputs.len()],
                    bound,
                    inputs: v.inputs,
                    truth: v.truth,
                    outputs: v.outputs,
                    baseline_buffers,
                    baseline: v.baseline,
                }),
                Err(stop) => {
                    release(devices, (bound, baseline_buffers));
                    return Err(stop);
                }
            }
        }
        // The first launches of the sets were launches 1..=count.
        sampler.launches = count;
        sample_rounds(devices, &mut sampler, options, observer)
    })();
    if let Some(b) = pending {
        b.release(devices.candidate);
    }
    // An out-of-bounds write during timing shows in a guard zone.
    let mut guard_hit = None;
    for set in &sampler.sets {
        if guard_hit.is_none() {
            if let Ok(Some(found)) = set.bound.check_guards(devices.candidate) {
                guard_hit = Some(found);
            }
        }
    }
    for set in std::mem::take(&mut sampler.sets) {
        release(devices, (set.bound, set.baseline_buffers));
    }
    let mut timing = result?;
    if let Some(evidence) = guard_hit {
        return Err(reject(Rejection::OutOfBounds { at: At::new(sizes, "timed launches"), evidence }));
    }
    timing.baseline_name = problem.baseline_name(precision);
    timing.baseline_precision = precision;
    Ok(timing)
}

fn release(devices: &mut Devices, (bound, baseline): (Bound, Vec<Buffer>)) {
    bound.release(devices.candidate);
    for b in baseline {
        devices.reference.free(b);
    }
}

/// A set's contents, once its first launch is verified.
struct Verified {
    inputs: Vec<Vec<f32>>,
    truth: Vec<Reference>,
    outputs: Vec<Vec<u32>>,
    baseline: Vec<Work>,
}

/// A new set: fresh inputs, its first launch checked in full against fp64, the baseline's copies
/// (allocated into `baseline_buffers`, which the caller frees).
#[allow(clippy::too_many_arguments)]
fn first_launch(
    devices: &mut Devices,
    candidate: &Candidate,
    seeds: &Seeds,
    sizes: &Sizes,
    precision: Precision,
    tolerance: &Tolerance,
    bound: &Bound,
    r: usize,
    count: usize,
    baseline_buffers: &mut Vec<Buffer>,
) -> Result<Verified, Stop> {
    let problem = candidate.problem;
    let at = At {
        sizes: sizes.clone(),
        trial: format!("timed launch {} (set {} of {count}, its first: randn inputs, NaN poison)", r + 1, r + 1),
        timed_launch: Some(r + 1),
    };
    let seed = seeds.derive(&[&candidate.sha256, "timing set", &r.to_string()]);
    let inputs = problem.generate(sizes, Distribution::Randn, seed);
    let mut baseline_inputs = Vec::new();
    for ((_, buf), data) in bound.of_role(Role::Input).zip(&inputs) {
        devices.candidate.upload_f32(buf, data)?;
        let b = devices.reference.alloc(buf.bytes)?;
        baseline_buffers.push(b);
        devices.reference.upload_f32(b, data)?;
        baseline_inputs.push(b);
    }
    let mut baseline_outputs = Vec::new();
    for (spec, buf) in bound.of_role(Role::Output) {
        devices.candidate.fill_u32(buf, POISON_NAN)?;
        let b = devices.reference.alloc(spec.bytes().max(4))?;
        baseline_buffers.push(b);
        baseline_outputs.push(b);
    }
    for (k, g) in bound.scratch.iter().enumerate() {
        let seed = seeds.derive(&[&candidate.sha256, "timing scratch", &format!("{r} {k}")]);
        if let Poison::Pattern(words) = Poison::pattern(g.view.bytes / 4, seed) {
            devices.candidate.upload(g.view, crate::device::as_bytes(&words))?;
        }
    }
    devices.candidate.run(&bound.work).map_err(|e| launch_failure(e, at.clone()))?;
    if let Some(evidence) = bound.check_guards(devices.candidate)? {
        return Err(reject(Rejection::OutOfBounds { at, evidence }));
    }
    let mut outputs = Vec::new();
    for (spec, buf) in bound.of_role(Role::Output) {
        let bits = devices.candidate.download_u32(buf)?;
        // NaN poison: never a right answer, nothing to excuse.
        if let Some(evidence) = unwritten::check(spec, &bits, &Poison::Nan, &|_, _| false) {
            return Err(reject(Rejection::Unwritten { at, evidence }));
        }
        outputs.push(bits);
    }
    for ((spec, buf), pristine) in bound.of_role(Role::Input).zip(&inputs) {
        let after = devices.candidate.download_f32(buf)?;
        if let Some(evidence) = inputs_unchanged::check(spec, pristine, &after) {
            return Err(reject(Rejection::InputsModified { at, evidence }));
        }
    }
    let truth = problem.reference(devices.reference, sizes, &inputs)?;
    for (((spec, _), bits), t) in bound.of_role(Role::Output).zip(&outputs).zip(&truth) {
        let got: Vec<f32> = bits.iter().map(|w| f32::from_bits(*w)).collect();
        let acc = accuracy::assess(spec, &got, t, tolerance);
        if let Some(evidence) = acc.failure(tolerance) {
            return Err(reject(Rejection::Inaccurate { at, class: acc.class, evidence }));
        }
    }
    let baseline = problem.baseline(sizes, &baseline_inputs, &baseline_outputs, precision);
    Ok(Verified { inputs, truth, outputs, baseline })
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
    while warm < 3 || start.elapsed() < options.warmup {
        s.candidate_sample(devices)?;
        s.baseline_sample(devices, warm)?;
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
            let bt = s.baseline_sample(devices, index)?;
            index += 1;
            if s.keep(&ct) {
                c[round].push(ct);
            }
            if s.keep(&bt) {
                b[round].push(bt);
            }
            let n = c[round].len().min(b[round].len());
            let noise =
                |t: &[Taken]| Summary::of(&times(t, spans(&c[round], &b[round]))).map_or(f64::INFINITY, |s| s.noise);
            let (cn, bn) = (noise(&c[round]), noise(&b[round]));
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
    if all_c.len() < 3 || all_b.len() < 3 {
        return Err(Stop::Env(DeviceError::Environment(format!(
            "too few samples kept ({} candidate, {} baseline; {} dropped at a throttled SM clock)",
            all_c.len(),
            all_b.len(),
            s.throttled
        ))));
    }
    let use_spans = spans(&all_c, &all_b);
    let (cms, bms) = (times(&all_c, use_spans), times(&all_b, use_spans));
    let (cs, bs) = (Summary::of(&cms).expect("sampled"), Summary::of(&bms).expect("sampled"));
    let interval = speedup_interval(&bms, &cms, s.rng.random());
    let mut round_records = Vec::new();
    for (rc, rb) in c.iter().zip(&b) {
        let (rcm, rbm) = (times(rc, use_spans), times(rb, use_spans));
        if let (Some(x), Some(y)) = (Summary::of(&rcm), Summary::of(&rbm)) {
            round_records.push(Round {
                samples: rcm.len(),
                speedup: y.median / x.median,
                speedup_interval: speedup_interval(&rbm, &rcm, s.rng.random()),
            });
        }
    }
    let mut unreliable = None;
    for (i, x) in round_records.iter().enumerate() {
        for y in &round_records[i + 1..] {
            let overlap = x.speedup_interval.0 <= y.speedup_interval.1 && y.speedup_interval.0 <= x.speedup_interval.1;
            if !overlap {
                unreliable = Some(format!(
                    "the rounds disagree: speedup {:.3}× [{:.3}, {:.3}] then {:.3}× [{:.3}, {:.3}]",
                    x.speedup,
                    x.speedup_interval.0,
                    x.speedup_interval.1,
                    y.speedup,
                    y.speedup_interval.0,
                    y.speedup_interval.1
                ));
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
    let clocks: Vec<f64> = all_c.iter().filter_map(|t| t.clock).collect();
    let method = if use_spans {
        "span of the candidate's kernels in the device's activity trace (CUPTI)".to_string()
    } else {
        let why = s.untraced.clone().unwrap_or_else(|| "the baseline's device could not trace".into());
        format!("CUDA events around the work and the host wall clock; no activity trace ({why})")
    };
    let kernels = s
        .kernels
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
        .collect();
    Ok(Timing {
        baseline_name: String::new(),
        baseline_precision: Precision::F32,
        method,
        speedup: bs.median / cs.median,
        speedup_interval: interval,
        call: Call::of(interval),
        candidate: cs,
        baseline: bs,
        converged,
        reliable: unreliable.is_none(),
        unreliable,
        rounds: round_records,
        sets: s.sets.len(),
        verified_launches: s.launches,
        inexact_launches: s.inexact,
        rescaled: s.rescale,
        throttled: s.throttled,
        sm_clock_mhz: Summary::of(&clocks).map(|s| s.median),
        wall_ms,
        kernels,
        candidate_ms: cms,
        baseline_ms: bms,
    })
}

/// Whether both series were traced: then spans are compared, otherwise events.
fn spans(c: &[Taken], b: &[Taken]) -> bool {
    !c.is_empty() && c.iter().chain(b).all(|t| t.span_ms.is_some())
}

fn times(t: &[Taken], use_spans: bool) -> Vec<f64> {
    t.iter().map(|t| if use_spans { t.span_ms.unwrap_or(t.event_ms) } else { t.event_ms }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn scaled_hashes_are_the_hashes_of_the_scaled_words() {
        let words: Vec<u32> = [1.5f32, -3.25, 0.0, 1e-3].iter().map(|x| x.to_bits()).collect();
        let scaled: Vec<u32> = words.iter().map(|&w| (f32::from_bits(w) * -4.0).to_bits()).collect();
        assert_eq!(content_hash_scaled(&words, -4.0, 9), crate::device::content_hash(&scaled, 9));
        // 0 × −4 = −0.0 hashes like the literal 0.0 a kernel writes above the diagonal.
        assert_eq!(content_hash_scaled(&words, -4.0, 9), content_hash_scaled(&scaled, 1.0, 9));
    }
}
