//! The sampler: candidate and baseline samples taken in alternation, each a cold, judged launch
//! on fresh inputs, in rounds that must agree; throttled samples dropped.

use std::time::Instant;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::dispute::{
    CORROBORATED_FRACTION, busy_ms, clock_check, judge_times, kernel_times, median_judge_ms, spans, tally, times,
    uncovered,
};
use super::memo::{self, CHECK_EVERY, MIN_FRESH, MemoUse};
use super::{Call, Round, Timing, TimingOptions};
use crate::candidate::Candidate;
use crate::checks::accuracy::Tolerance;
use crate::checks::poison_nan;
use crate::checks::trace::{self, HiddenWork};
use crate::device::{Buffer, DeviceError, KernelRecord, PoisonWords, Precision, Sample, TimedRun, Work};
use crate::events::{Event, Observer};
pub(super) use crate::judge::Taken;
use crate::judge::{self, Arena, Devices, Plan, Stop, Truth, distributions_text, draws, reject};
use crate::model::Access;
use crate::problem::torch::ModelKind;
use crate::problem::{Dtype, Role, Sizes};
use crate::seeds::Seeds;
use crate::stats::{Summary, speedup_interval};
use crate::verdict::{At, Rejection};

pub(super) fn scale_text(s: f32) -> String {
    format!("×{s}")
}

pub(super) struct Sampler<'c> {
    pub(super) candidate: &'c Candidate,
    /// Why the problem's baseline cannot run here, if it cannot.
    pub(super) baseline_missing: Option<String>,
    pub(super) seeds: Seeds,
    pub(super) sizes: Sizes,
    pub(super) sets: Vec<Arena>,
    pub(super) truth: Truth,
    /// The baseline's outputs, on the judge's device (it reads the current set's inputs).
    pub(super) baseline_outputs: Vec<Buffer>,
    pub(super) precision: Precision,
    pub(super) tolerance: Tolerance,
    pub(super) rng: ChaCha8Rng,
    pub(super) launches: usize,
    pub(super) kernel_names: Vec<String>,
    pub(super) kernels: Vec<(KernelRecord, Vec<f64>)>,
    /// The baseline's traced records, by place in its call, and its busy time per sample.
    pub(super) baseline_kernels: Vec<(KernelRecord, Vec<f64>)>,
    pub(super) baseline_busy_ms: Vec<f64>,
    pub(super) max_clock: f64,
    pub(super) throttle: f64,
    pub(super) throttled: usize,
    /// The candidate's samples dropped at a throttled clock, ms.
    pub(super) throttled_ms: Vec<f64>,
    /// Why the candidate's device could not trace, if it could not.
    pub(super) untraced: Option<String>,
    /// The candidate's samples were traced as Python calls (`Trace::Call`).
    pub(super) call_traced: bool,
    /// The judge's time for each timed launch's truth and comparison, ms.
    pub(super) truth_ms: Vec<f64>,
    pub(super) draw_ms: Vec<f64>,
    pub(super) model_ms: Vec<f64>,
    /// The baseline's samples from an earlier review of this run on this card (`memo`): then
    /// the baseline is only re-checked here.
    pub(super) remembered: Option<Vec<Taken>>,
    /// The baseline's samples taken in this review and kept (set when sampling ends).
    pub(super) fresh_baseline: Vec<Taken>,
}

/// Whose sample it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Candidate,
    Baseline,
}

impl Sampler<'_> {
    pub(super) fn at(&self, launch: usize, set: usize, what: &str) -> At {
        At {
            sizes: self.sizes.clone(),
            trial: format!("timed launch {launch} (set {} of {}{what})", set + 1, self.sets.len()),
            timed_launch: Some(launch),
        }
    }

    /// One judged, traced candidate launch on fresh inputs.
    pub(super) fn candidate_sample(&mut self, devices: &mut Devices) -> Result<Taken, Stop> {
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
            ties: false,
        };
        let judged = judge::judge(devices, &self.sets[r], &self.truth, &plan, self.candidate, self.tolerance.class)?;
        if let Some(stop) = judged.inaccurate(&at, &self.candidate.problem) {
            return Err(stop);
        }
        self.truth_ms.push(judged.truth_ms);
        self.draw_ms.push(judged.draw_ms);
        self.model_ms.push(judged.model_ms);
        let sample = judged
            .sample
            .ok_or_else(|| Stop::Env(DeviceError::Environment("a timed launch without a sample".into())))?;
        if let crate::device::Trace::Unavailable { why } = &sample.trace {
            self.untraced.get_or_insert_with(|| why.clone());
        }
        if let Some(why) = sample.trace.unstarted() {
            self.untraced.get_or_insert(why);
        }
        self.call_traced |= matches!(sample.trace, crate::device::Trace::Call { .. });
        let names: Vec<&str> = self.kernel_names.iter().map(String::as_str).collect();
        let traced = trace::check(&sample.trace, &names)
            .map_err(|evidence: HiddenWork| reject(Rejection::HiddenWork { at, evidence }))?;
        let span = traced.as_ref().and_then(|t| t.span_ms);
        if let Some(t) = traced {
            tally(&mut self.kernels, t.kernels);
        }
        Ok(Taken::of(&sample, span))
    }

    /// Keep what the baseline's sample traced: its records, and how long the device was busy.
    pub(super) fn baseline_taken(&mut self, sample: &Sample) -> Taken {
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
        let python = self.candidate.is_python();
        if let Some(why) = sample.trace.unstarted().filter(|_| python) {
            self.untraced.get_or_insert(format!("the baseline: {why}"));
        }
        Taken::of(sample, baseline_span(&sample.trace, python))
    }

    /// Whether the next pair's baseline sample comes before its candidate sample: at random,
    /// once every set has been drawn (before that, a set's inputs are the judge's alone to
    /// draw). Neither side always follows the same work (the judge's comparison, the Model's
    /// float64 truth in the baseline's own process), and what one sample leaves behind (a core
    /// at a high clock, a warm cache) falls on both sides alike.
    pub(super) fn baseline_first(&mut self) -> bool {
        self.launches >= self.sets.len() && self.rng.random_bool(0.5)
    }

    /// One candidate sample and, with `baseline_too`, the baseline's `index`-th, in the order
    /// [`Sampler::baseline_first`] draws, which they are returned in.
    pub(super) fn pair(
        &mut self,
        devices: &mut Devices,
        index: usize,
        baseline_too: bool,
    ) -> Result<Vec<(Side, Taken)>, Stop> {
        let mut taken = Vec::with_capacity(2);
        let first = baseline_too && self.baseline_first();
        if first {
            taken.push((Side::Baseline, self.baseline_sample(devices, index)?));
        }
        taken.push((Side::Candidate, self.candidate_sample(devices)?));
        if baseline_too && !first {
            taken.push((Side::Baseline, self.baseline_sample(devices, index)?));
        }
        Ok(taken)
    }

    pub(super) fn baseline_sample(&mut self, devices: &mut Devices, index: usize) -> Result<Taken, Stop> {
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
    pub(super) fn python_baseline(
        &self,
        devices: &mut Devices,
        r: usize,
        timed: bool,
    ) -> Result<Option<Sample>, DeviceError> {
        let Some(model) = devices.model.as_deref_mut() else {
            return Err(DeviceError::Environment("no process for the problem's Model".into()));
        };
        let mut args: Vec<(Buffer, Access)> = self.sets[r].inputs().into_iter().map(|b| (b, Access::Read)).collect();
        args.extend(self.baseline_outputs.iter().map(|&b| (b, Access::Write)));
        let tf32 = self.precision == Precision::Tf32;
        let problem = &*self.candidate.problem;
        model.call(&mut *devices.reference, problem, &self.sizes, ModelKind::Eager, tf32, &args, timed)
    }

    /// Run the PyTorch baseline expression once on the inputs of the last verified launch and
    /// compare what it wrote with that launch's truth. A baseline that fails, or disagrees, is
    /// not timed: `baseline_missing` says why (the problem's fault, not the candidate's).
    pub(super) fn check_torch_baseline(&mut self, devices: &mut Devices) -> Result<(), Stop> {
        let problem = &*self.candidate.problem;
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
    pub(super) fn baseline_work(&self, r: usize) -> Vec<Work> {
        self.candidate.problem.baseline(&self.sizes, &self.sets[r].inputs(), &self.baseline_outputs, self.precision)
    }

    /// False when this sample ran at a throttled SM clock (it is then not kept).
    pub(super) fn keep(&mut self, t: &Taken) -> bool {
        let Some(clock) = t.clock else { return true };
        self.max_clock = self.max_clock.max(clock);
        if clock < self.max_clock * self.throttle {
            self.throttled += 1;
            return false;
        }
        true
    }
}

pub(super) fn sample_rounds(
    devices: &mut Devices,
    s: &mut Sampler,
    options: &TimingOptions,
    phase: Instant,
    observer: &dyn Observer,
) -> Result<Timing, Stop> {
    // The budget bounds the whole time phase from `phase` (the card taken, the sets drawn),
    // warm-up included. Warm-up: clocks ramp, caches of the driver fill; verified like every
    // other launch, at most a quarter of the budget.
    let start = Instant::now();
    let setup_ms = (start - phase).as_secs_f64() * 1e3;
    let mut warm = 0;
    if s.candidate.problem.torch_baseline().is_some() && s.baseline_missing.is_none() {
        // A baseline expression is the problem author's, not a library's: once, on the inputs
        // of a verified launch, its outputs must match the truth before it is timed.
        s.candidate_sample(devices)?;
        warm += 1;
        s.check_torch_baseline(devices)?;
    }
    let with_baseline = s.candidate.problem.has_baseline() && s.baseline_missing.is_none();
    // A baseline remembered from an earlier review is only re-checked: a few fresh samples.
    let remembered = if with_baseline { s.remembered.take().filter(|r| r.len() >= MIN_FRESH) } else { None };
    while warm < 3 || start.elapsed() < options.warmup.min(options.budget / 4) {
        s.pair(devices, warm, with_baseline && (remembered.is_none() || warm < 2))?;
        warm += 1;
    }
    let rounds = options.rounds.max(1);
    let round_max = (options.max_samples / rounds).max(3);
    let warmup_ms = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    let (mut c, mut b): (Vec<Vec<Taken>>, Vec<Vec<Taken>>) = (vec![Vec::new(); rounds], vec![Vec::new(); rounds]);
    let mut converged = true;
    let mut few_samples = false;
    let mut index = warm;
    for round in 0..rounds {
        let round_start = Instant::now();
        // This round's share of what is left of the budget.
        let share = options.budget.saturating_sub(phase.elapsed()) / (rounds - round) as u32;
        let mut attempts = 0usize;
        let quiet = loop {
            attempts += 1;
            // With a remembered baseline: one fresh sample in CHECK_EVERY, and at least MIN_FRESH.
            let check =
                remembered.is_none() || b[round].len() < MIN_FRESH || (attempts - 1).is_multiple_of(CHECK_EVERY);
            // Each judged against the fastest clock seen before it, in the order taken.
            for (side, t) in s.pair(devices, index, with_baseline && check)? {
                match (side, s.keep(&t)) {
                    (Side::Candidate, true) => c[round].push(t),
                    (Side::Candidate, false) => s.throttled_ms.push(t.span_ms.unwrap_or(t.event_ms)),
                    (Side::Baseline, true) => b[round].push(t),
                    (Side::Baseline, false) => {}
                }
            }
            index += 1;
            let n = match (&remembered, with_baseline) {
                (None, true) => c[round].len().min(b[round].len()),
                (Some(_), true) => c[round].len().min(b[round].len() * CHECK_EVERY),
                _ => c[round].len(),
            };
            let noise =
                |t: &[Taken]| Summary::of(&times(t, spans(&c[round], &b[round]))).map_or(f64::INFINITY, |s| s.noise);
            // A remembered baseline converged when it was measured: the candidate's noise decides.
            let (cn, bn) =
                (noise(&c[round]), if with_baseline && remembered.is_none() { noise(&b[round]) } else { 0.0 });
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
            // Another pair would take about what the pairs so far took each: stop before it would
            // pass the round's share (each round keeps 3 pairs, past the budget if it must), and
            // after `round_max` attempts however many were throttled.
            let per_attempt = round_start.elapsed() / attempts as u32;
            let out_of_time = round_start.elapsed() + per_attempt > share;
            if attempts >= round_max || (n >= options.min_samples.min(3) && out_of_time) {
                few_samples |= n < options.min_samples;
                break false;
            }
        };
        converged &= quiet;
    }
    let all_c: Vec<Taken> = c.iter().flatten().copied().collect();
    let fresh: Vec<Taken> = b.iter().flatten().copied().collect();
    s.fresh_baseline.clone_from(&fresh);
    // The remembered samples count only if the fresh ones agree with them.
    let memo_use = remembered.as_ref().filter(|_| fresh.len() >= MIN_FRESH).map(|r| {
        let both = spans(&all_c, &fresh) && spans(&all_c, r);
        let median = |t: &[Taken]| Summary::of(&times(t, both)).map_or(f64::NAN, |s| s.median);
        let drift = median(&fresh) / median(r) - 1.0;
        let limit = memo::drift_limit(options.target_noise);
        MemoUse { remembered: r.len(), fresh: fresh.len(), drift, limit, used: drift.abs() <= limit }
    });
    let mut all_b: Vec<Taken> = fresh;
    if let Some(r) = remembered.as_ref().filter(|_| memo_use.as_ref().is_some_and(|m| m.used)) {
        for round in &mut b {
            round.extend_from_slice(r);
        }
        all_b.extend_from_slice(r);
    }
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
    if let Some(why) = inconsistent(&all_c, use_spans) {
        unreliable.get_or_insert(why);
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
        fastest_ms: fastest_measured(&all_c, use_spans),
        baseline: bs,
        converged,
        few_samples,
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
        draw_ms: Summary::of(&s.draw_ms).map_or(0.0, |t| t.median),
        card_wait_ms: 0.0,
        held_ms: 0.0,
        setup_ms,
        warmup_ms,
        model_truth_ms: Summary::of(&s.model_ms).map_or(0.0, |t| t.median),
        kernels,
        baseline_kernels,
        baseline_busy_ms,
        candidate_ms: cms,
        claimed_ms: if dispute.is_some() { times(&all_c, use_spans) } else { Vec::new() },
        baseline_ms: bms,
        baseline_unavailable: None,
        baseline_memo: memo_use,
    })
}

/// The fastest of `t` as measured (spans or events, whatever the judge's clock says): see
/// [`Timing::fastest_ms`].
pub(super) fn fastest_measured(t: &[Taken], use_spans: bool) -> Option<f64> {
    Summary::of(&times(t, use_spans)).map(|s| s.min)
}

/// A baseline sample's time: a Python candidate's call counts from its start (the host time
/// before its first device work), and so does the baseline's call; a native candidate's launch is
/// timed from its first kernel (no trace holds a launch's host time), and so is the baseline then.
pub(super) fn baseline_span(trace: &crate::device::Trace, python_candidate: bool) -> Option<f64> {
    if python_candidate { trace.span_ms() } else { trace.kernel_span_ms() }
}

/// What the candidate's samples say that cannot be: the device's events longer than the host saw
/// pass around the call, or the trace's span longer than that. The span begins when the device
/// was idle before the call (a Python call's host time before its first device work counts),
/// the events only when the device reached the start event, which the driver may hold back until
/// the call's first kernel: a span may exceed its events by the call's host time, never the
/// host's own clock around it.
pub(super) fn inconsistent(c: &[Taken], use_spans: bool) -> Option<String> {
    let median = |v: Vec<f64>| Summary::of(&v).map_or(0.0, |s| s.median);
    let wall_ms = median(c.iter().map(|t| t.wall_ms).collect());
    let event_ms = median(c.iter().map(|t| t.event_ms).collect());
    let beyond = |ms: f64| ms > wall_ms * 1.05 + 0.05;
    if beyond(event_ms) {
        return Some(format!(
            "the device's events report {event_ms:.4} ms but only {wall_ms:.4} ms passed on the host"
        ));
    }
    let span_ms = median(c.iter().filter_map(|t| t.span_ms).collect());
    (use_spans && beyond(span_ms)).then(|| {
        format!("the trace's span is {span_ms:.4} ms but only {wall_ms:.4} ms passed on the host around the call")
    })
}
