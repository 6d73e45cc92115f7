//! The whole pipeline for one candidate: compile → verify → time → verdict.

use std::time::Instant;

use crate::candidate::Candidate;
use crate::checks::accuracy::Tolerance;
use crate::checks::{ceiling, signature};
use crate::compile::{CompileError, CompileRequest};
use crate::device::{DeviceError, Precision};
use crate::events::{Event, Observer};
use crate::judge::{self, Devices, Prepared, Sharing, Stop};
use crate::problem::Sizes;
use crate::report::{CandidateReport, CaseTiming, CompileRecord, Findings};
use crate::seeds::Seeds;
use crate::time::{self, TimingOptions};
use crate::verdict::{At, Rejection, Verdict};
use crate::verify::{self, VerifyOptions};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ReviewOptions {
    /// The precision reviewed for: the accuracy required and the baseline compared with.
    pub precision: Precision,
    pub verify: VerifyOptions,
    pub timing: TimingOptions,
    /// Time at these sizes instead of the problem's own timed size.
    pub timed_sizes: Option<Sizes>,
    /// Stop after verification: a candidate that passes is accepted untimed (a sanitizer run, or
    /// one already condemned by the sanitizer).
    pub skip_timing: bool,
}

impl Default for ReviewOptions {
    fn default() -> Self {
        ReviewOptions {
            precision: Precision::F32,
            verify: VerifyOptions::default(),
            timing: TimingOptions::default(),
            timed_sizes: None,
            skip_timing: false,
        }
    }
}

impl ReviewOptions {
    /// Review for TF32 precision: TF32-class answers pass, the baseline is cuBLAS with TF32 math.
    pub fn for_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self.verify.tolerance = match precision {
            Precision::Tf32 => Tolerance::TF32,
            _ => Tolerance::FP32,
        };
        self
    }

    pub fn timed_sizes(&self, candidate: &Candidate) -> Sizes {
        self.timed_sizes.clone().unwrap_or_else(|| candidate.problem.timed_sizes())
    }

    /// Every size timed: the override, or each of the problem's timed cases (the first is the
    /// headline; several are summarised by the geometric mean of their speedups).
    pub fn timed_cases(&self, candidate: &Candidate) -> Vec<Sizes> {
        match &self.timed_sizes {
            Some(s) => vec![s.clone()],
            None => candidate.problem.timed.clone(),
        }
    }

    /// Verification options that always include the size that will be timed: nothing is timed
    /// that was not verified.
    fn verify_for(&self, candidate: &Candidate) -> VerifyOptions {
        let mut v = self.verify.clone();
        if v.sizes.is_empty() {
            v.sizes = candidate.problem.check_sizes();
        }
        for timed in self.timed_cases(candidate).into_iter().rev() {
            if !v.sizes.contains(&timed) {
                v.sizes.insert(0, timed);
            }
        }
        v
    }
}

/// Review one candidate. `Err` only when the environment fails (no compiler, out of memory, a
/// library error); everything the candidate does wrong is in the report's verdict.
pub fn review_candidate(
    devices: &mut Devices,
    candidate: &Candidate,
    seeds: &Seeds,
    options: &ReviewOptions,
    observer: &dyn Observer,
) -> Result<CandidateReport, DeviceError> {
    let started = Instant::now();
    let mut findings = Findings::default();
    let verdict = match review_inner(devices, candidate, seeds, options, observer, &mut findings) {
        Ok(v) => v,
        // The worker hung, died or reported a failure outside a launch (while copying, say):
        // still the candidate's doing.
        Err(e) if e.is_candidates_fault() => {
            let at = At::new(&options.timed_sizes(candidate), "between launches");
            match judge::launch_failure(e, at) {
                Stop::Reject(r) => Verdict::Rejected(*r),
                Stop::Env(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    // Whatever the verdict, the record says when the worker held copies instead of mappings.
    if let Sharing::Copied(why) = &devices.sharing {
        findings.sharing = Some(why.clone());
    }
    // And how the candidate's worker was confined, as it said itself.
    findings.sandbox = devices.candidate.info().sandbox.clone();
    let mut report = CandidateReport::new(candidate, verdict, findings, started.elapsed().as_secs_f64());
    report.timed_sizes = options.timed_sizes(candidate);
    observer.event(Event::Verdict { name: &report.name, verdict: &report.verdict });
    Ok(report)
}

fn review_inner(
    devices: &mut Devices,
    candidate: &Candidate,
    seeds: &Seeds,
    options: &ReviewOptions,
    observer: &dyn Observer,
    report: &mut Findings,
) -> Result<Verdict, DeviceError> {
    observer.event(Event::Stage { name: "compiling" });
    let arch = devices.candidate.info().arch() + if candidate.spec.arch_specific { "a" } else { "" };
    let request = CompileRequest {
        name: candidate.name(),
        source: candidate.source.clone(),
        arch: arch.clone(),
        options: candidate.spec.options.clone(),
    };
    let compile_started = Instant::now();
    // Never while another review is timed: building a torch extension keeps every core busy.
    let host = devices.shared();
    let module = devices.candidate.compile(&request);
    drop(host);
    report.phases.compile_s = compile_started.elapsed().as_secs_f64();
    let module = match module {
        Ok(m) => m,
        Err(CompileError::Rejected { log }) => return Ok(Verdict::Rejected(Rejection::Compile { log })),
        Err(CompileError::CallFailed { message, log }) => {
            return Ok(Verdict::Rejected(Rejection::CallFailed { message, log }));
        }
        Err(CompileError::Unavailable(msg)) => return Err(DeviceError::Environment(msg)),
    };
    report.compile =
        Some(CompileRecord { arch, ms: module.compile_ms, cache_hit: module.cache_hit, log: module.log.clone() });
    let mut kinds = Vec::new();
    for launch in &candidate.spec.launches {
        match signature::check(launch, &module) {
            Ok(k) => kinds.push(k),
            Err(message) => return Ok(Verdict::Rejected(Rejection::Signature { message })),
        }
    }
    let handle = match devices.candidate.load(&module) {
        Ok(h) => h,
        Err(e) if e.is_candidates_fault() => {
            return Ok(Verdict::Rejected(Rejection::ModuleLoad { message: e.to_string() }));
        }
        Err(e) => return Err(e),
    };
    let prepared = Prepared { module: handle, kinds };

    let tensor = ceiling::tensor_use(&module.ptx);
    observer.event(Event::Stage { name: "verifying" });
    let verify_started = Instant::now();
    let verification = verify::verify(devices, candidate, &prepared, seeds, &options.verify_for(candidate), observer);
    report.phases.verify_s = verify_started.elapsed().as_secs_f64();
    let verification = verification?;
    report.trials = verification.trials.clone();
    match &verification.drawn {
        Some(Ok(sizes)) => report.drawn_sizes = Some(sizes.clone()),
        Some(Err(why)) => report.drawn_note = Some(why.clone()),
        None => {}
    }
    report.error = verification.worst().cloned();
    if let Some(r) = verification.rejection {
        return Ok(Verdict::Rejected(r));
    }

    if options.skip_timing {
        return Ok(Verdict::Accepted { class: verification.class() });
    }
    observer.event(Event::Stage { name: "timing" });
    let time_started = Instant::now();
    // The cases' waits for the card, which is not timing: its own phase.
    let mut waited_s = 0.0;
    let class = verification.class();
    // The card's peaks: read by the first timing, with the card held.
    let mut ceilings = None;
    let cases = options.timed_cases(candidate);
    // The budget is the whole time phase's: each timed size gets its share.
    let timing = TimingOptions { budget: options.timing.budget / cases.len().max(1) as u32, ..options.timing.clone() };
    for (i, sizes) in cases.iter().enumerate() {
        let measured = time::measure(
            devices,
            candidate,
            &prepared,
            seeds,
            sizes,
            options.precision,
            &options.verify.tolerance,
            options.verify.guards,
            &timing,
            &mut ceilings,
            observer,
        );
        if let Ok(t) = &measured {
            waited_s += t.card_wait_ms / 1e3;
        }
        report.phases.card_wait_s = waited_s;
        report.phases.time_s = (time_started.elapsed().as_secs_f64() - waited_s).max(0.0);
        let timing = match measured {
            Ok(timing) => timing,
            Err(Stop::Reject(r)) => return Ok(Verdict::Rejected(*r)),
            Err(Stop::Env(e)) => return Err(e),
        };
        let (flops, bytes) = (candidate.problem.min_flops(sizes), candidate.problem.min_bytes(sizes));
        let tflops = flops / (timing.candidate.median * 1e-3) / 1e12;
        let mut ceiling_use = None;
        if let Some(mut held) = ceilings {
            // The fastest verified launch as measured (never a judge's-clock estimate, which its
            // noise can put below the kernel's own time): one impossible launch is enough, against
            // the card's peaks measured again now (with the card held) should the cached ones say so.
            let fastest_ms = timing.fastest_ms.unwrap_or(timing.candidate.min);
            let mut fastest = ceiling::assess(class, tensor, flops, bytes, fastest_ms, &held);
            if fastest.impossible() {
                let asked = Instant::now();
                let _card = devices.exclusive();
                waited_s += asked.elapsed().as_secs_f64();
                report.phases.card_wait_s = waited_s;
                if let Some(again) = devices.reference.ceilings_again()? {
                    (held, ceilings) = (again, Some(again));
                    fastest = ceiling::assess(class, tensor, flops, bytes, fastest_ms, &held);
                }
            }
            if fastest.impossible() {
                report.timing = Some(timing);
                return Ok(Verdict::Rejected(Rejection::Impossible { sizes: sizes.clone(), evidence: fastest }));
            }
            ceiling_use = Some(ceiling::assess(class, tensor, flops, bytes, timing.candidate.median, &held));
        }
        if i == 0 {
            report.tflops = Some(tflops);
            report.floors = Some(crate::report::Floors { flops, bytes });
            report.ceiling = ceiling_use.clone();
            report.timing = Some(timing.clone());
        }
        if cases.len() > 1 {
            report.cases.push(CaseTiming { sizes: sizes.clone(), timing, tflops, ceiling: ceiling_use });
        }
    }
    let speedups: Option<Vec<f64>> = report.cases.iter().map(|c| c.timing.speedup).collect();
    if let Some(s) = speedups.filter(|s| s.len() > 1) {
        report.speedup_geomean = Some((s.iter().map(|x| x.ln()).sum::<f64>() / s.len() as f64).exp());
    }
    Ok(Verdict::Accepted { class })
}
