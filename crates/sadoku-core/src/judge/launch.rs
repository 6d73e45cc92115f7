//! Judging one launch: draw, poison, run, compare, check the guards (the steps of
//! [`crate::judge`]), and what is done when a check trips.

use super::truth::Slots;
use super::{
    Arena, Devices, Guarded, HOST_CHECK_ELEMENTS, HOST_CHECK_FLOPS, Judged, Plan, Sharing, Stop, Truth, env,
    launch_failure, reject,
};
use crate::candidate::Candidate;
use crate::checks::accuracy::{self, Accuracy, ToleranceClass};
use crate::checks::guards::{self};
use crate::checks::{determinism, inputs_unchanged, unwritten};
use crate::device::{
    Buffer, Comparison, DeviceError, DeviceExt, Difference, Draw, LibraryOp, PoisonWords, TimedRun, Work, compare_host,
    diff_host, element,
};
use crate::problem::{BufferSpec, Dtype, Problem, Reference, Role, Sizes};
use crate::verdict::{At, Rejection};

/// Draw, poison, run, compare, check the guards.
pub(crate) fn judge(
    devices: &mut Devices,
    arena: &Arena,
    truth: &Truth,
    plan: &Plan,
    candidate: &Candidate,
    review: ToleranceClass,
) -> Result<Judged, Stop> {
    let problem = &*candidate.problem;
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
    let draw_started = std::time::Instant::now();
    let mut before: Vec<Work> = Vec::new();
    let by_file = draw_torch_inputs(devices, problem, &arena.sizes, &truth.inputs(problem), &plan.draws, plan.ties)?;
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
    let draw_ms = draw_started.elapsed().as_secs_f64() * 1e3;

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
    let model_started = std::time::Instant::now();
    truth.torch(devices, problem, &judge_inputs)?;
    let model_ms = if problem.torch().is_some() { model_started.elapsed().as_secs_f64() * 1e3 } else { 0.0 };
    let truth_work = truth.work(problem, &judge_inputs)?;
    // The baseline on these inputs, against this truth: every verification trial, and the first
    // timed launch at a size with no calibration yet.
    if truth.calibrates(problem, review) && (!plan.timed || truth.calibration.borrow().outputs_calibrated.is_empty()) {
        devices.reference.run(&truth_work)?;
        truth.calibrate(devices, problem, &judge_inputs, review)?;
    } else {
        after.extend(truth_work);
    }
    let mut bounds = truth.bounds(problem, review);
    let compare = |k: usize, factor: f64| {
        let (spec, g) = outputs[k];
        let (values, scale) = truth.outputs[k];
        // The shape's elements only: a 16-bit output's padding to a whole word is not judged.
        Work::Library(LibraryOp::Compare {
            got: g.view.view(0, spec.bytes()),
            values,
            scale,
            factor,
            poison: plan.poison[k],
            out: truth.results.view(8 * slots.compare(k), 8 * Comparison::WORDS),
            dtype: spec.dtype,
        })
    };
    for (k, (spec, g)) in outputs.iter().enumerate() {
        let got = g.view.view(0, spec.bytes());
        let (factor, scale) = (bounds[k].factor, truth.outputs[k].1);
        after.push(compare(k, factor));
        if plan.repeat {
            let out = truth.results.view(8 * slots.diff(k), 8 * Difference::WORDS);
            let first = truth.kept[k].view(0, spec.bytes());
            after.push(Work::Library(LibraryOp::Diff { first, second: got, scale, factor, out, dtype: spec.dtype }));
        }
    }
    let truth_started = std::time::Instant::now();
    devices.reference.run(&after)?;
    let mut words = devices.reference.download_u64(truth.results.view(0, 8 * slots.words()))?;
    let truth_ms = truth_started.elapsed().as_secs_f64() * 1e3;
    let compared = |words: &[u64]| -> Vec<Comparison> {
        (0..outputs.len())
            .map(|k| Comparison::from_words(&words[slots.compare(k)..]).judged(truth.terms, outputs[k].0.dtype))
            .collect()
    };
    let judged = |comparisons: &[Comparison], bounds: &[accuracy::Bounds]| -> Vec<Accuracy> {
        (0..outputs.len())
            .map(|k| accuracy::from_comparison(outputs[k].0, &comparisons[k], classes[k]).with_bounds(&bounds[k]))
            .collect()
    };
    let mut comparisons = compared(&words);
    // A timed launch is judged against the calibration of an earlier launch at its size. Where
    // that would reject it, the baseline runs on this launch's own inputs and the launch is
    // judged against that, as every verification trial is: an output whose rounding depends on
    // how much its inputs cancel (the mean of a normalised tensor) is held to what the baseline
    // itself does on them. Nothing else: the bounds stay within their class (or, for a Model
    // outside it, `accuracy::calibrates_beyond_class`), and later launches keep the earlier
    // calibration. The second comparison counts only if it read what the first did (the same
    // squared error, non-finite and unwritten elements, bit for bit): an output that moved after
    // the reply (work the candidate left queued) is judged as first read.
    if plan.timed
        && truth.calibrates(problem, review)
        && judged(&comparisons, &bounds).iter().any(|a| a.failure().is_some())
    {
        let earlier = truth.calibration.borrow().outputs_calibrated.clone();
        truth.calibrate(devices, problem, &judge_inputs, review)?;
        let fresh = truth.bounds(problem, review);
        truth.calibration.borrow_mut().outputs_calibrated = earlier;
        let again: Vec<Work> = (0..outputs.len()).map(|k| compare(k, fresh[k].factor)).collect();
        devices.reference.run(&again)?;
        let again_words = devices.reference.download_u64(truth.results.view(0, 8 * slots.words()))?;
        let again = compared(&again_words);
        let read = |c: &Comparison| (c.err2.to_bits(), c.nonfinite, c.unwritten, c.first_unwritten);
        if comparisons.iter().map(read).eq(again.iter().map(read)) {
            (bounds, comparisons, words) = (fresh, again, again_words);
        }
    }
    let factors: Vec<f64> = bounds.iter().map(|b| b.factor).collect();
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
    let accuracy = judged(&comparisons, &bounds);
    if plan.keep {
        let copies: Vec<Work> = outputs
            .iter()
            .zip(&truth.kept)
            .map(|((_, g), &dst)| Work::Library(LibraryOp::Copy { src: g.view, dst }))
            .collect();
        devices.reference.run(&copies)?;
    }
    Ok(Judged { sample, accuracy, truth_ms, draw_ms, model_ms })
}

/// Per input of `problem`, whether the file's own `get_inputs()` draws it (a KernelBench file's
/// forward arguments) rather than the judge's generator.
pub(super) fn drawn_by_file(problem: &Problem) -> Vec<bool> {
    match problem.torch() {
        Some(t) => t.drawn_by_file(),
        None => vec![false; problem.tensors.iter().filter(|t| t.role == Role::Input).count()],
    }
}

/// A KernelBench file's forward arguments for one launch, drawn by its own `get_inputs()` in the
/// Model's process under the seed of the launch's first such input (a fresh one per launch, the
/// same for a repeat), into `targets` (every input's buffer, in order; only those the file draws
/// are written, and they must be shareable). Says which inputs it drew: none for other problems.
pub(super) fn draw_torch_inputs(
    devices: &mut Devices,
    problem: &Problem,
    sizes: &Sizes,
    targets: &[Buffer],
    draws: &[Draw],
    ties: bool,
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
    // A draw's scale is the factor of the file's normal draws (see `verify`'s wide trial).
    let normal = f64::from(draws[first].scale);
    model.draw_inputs(&mut *devices.reference, problem, sizes, draws[first].seed, (normal, ties), &mine)?;
    Ok(by_file)
}

/// The inputs' hashes moved: find what changed, against the judge's own copy of the draw (which
/// the candidate's process never maps).
pub(super) fn inputs_modified(
    devices: &mut Devices,
    truth: &Truth,
    spec: &BufferSpec,
    g: &Guarded,
    at: &At,
    k: usize,
) -> Stop {
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
pub(super) fn cross_check(
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
    let by_file = drawn_by_file(&candidate.problem);
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
