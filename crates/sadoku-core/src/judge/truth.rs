//! The truth: judge-only memory for one size (the fp64 reference, its temporaries, kept outputs,
//! result slots), the reference computed into it, and the calibration of bounds against the
//! baseline.

use super::arena::bind_launches;
use super::{Devices, Prepared, Stop, env};
use crate::candidate::{Candidate, Spec};
use crate::checks::accuracy::{self, Accuracy, ToleranceClass};
use crate::checks::guards::{CANARY, GUARD_BYTES};
use crate::checks::signature;
use crate::compile::CompileRequest;
use crate::device::{
    Buffer, Comparison, DeviceError, DeviceExt, Difference, LibraryOp, PoisonWords, Precision, Work, content_hash,
};
use crate::model::Access;
use crate::problem::ReferenceKernel;
use crate::problem::torch::ModelKind;
use crate::problem::{BufferSpec, Problem, ReferenceSpec, Role, ScaleRule, Sizes};

/// Judge-only memory for one size: the truth, its temporaries, kept outputs, result slots. Never
/// exported, so never in the worker's address space. One per size, shared by every arena of it.
pub(crate) struct Truth {
    pub(super) sizes: Sizes,
    /// The problem's reference kernel, compiled and loaded on the judge's device, when it has one.
    pub(super) reference: Option<Prepared>,
    pub(super) scratch: Vec<Buffer>,
    /// (values, scale) per output, fp64.
    pub(super) outputs: Vec<(Buffer, Buffer)>,
    /// A copy of each output of the last launch that asked to keep it (repeat trials).
    pub(super) kept: Vec<Buffer>,
    /// Each input as the judge drew it, sized as the candidate's view of it: the draw lands here
    /// and is copied into the shared view, and the truth is computed from here, never from
    /// memory the candidate could write (it could change an input during its call and restore it
    /// afterwards).
    pub(super) pristine: Vec<Buffer>,
    pub(super) results: Buffer,
    pub(super) terms: usize,
    /// Key of the input and guard hashes: drawn at run time, never sent to the worker.
    pub(super) key: u64,
    pub(super) canary_hash: u64,
    /// The baseline's error at this size, against this truth (see [`Truth::calibrate`]).
    pub(super) calibration: std::cell::RefCell<Calibration>,
}

/// The baseline run on the inputs of a judged launch, into judge-only buffers, and compared with
/// that launch's truth: the bounds an output is held to ([`accuracy::Bounds`]) are calibrated
/// against what it achieved. A verification trial calibrates on its own inputs; timed launches
/// use the last calibration at their size, or calibrate on the first of them when there is none.
#[derive(Default)]
pub(super) struct Calibration {
    /// The baseline's outputs, allocated on first use; never exported.
    pub(super) outputs: Vec<Buffer>,
    /// Per output, from the last calibrated launch; empty before the first.
    pub(super) outputs_calibrated: Vec<accuracy::Calibrated>,
}

/// Result slots: per input a hash before and after, per guarded buffer two zone hashes, per output
/// a comparison and a difference.
#[derive(Clone, Copy)]
pub(super) struct Slots {
    pub(super) inputs: usize,
    pub(super) buffers: usize,
    pub(super) outputs: usize,
}

impl Slots {
    pub(super) fn before(&self, k: usize) -> usize {
        k
    }
    pub(super) fn after(&self, k: usize) -> usize {
        self.inputs + k
    }
    pub(super) fn zone(&self, buffer: usize, side: usize) -> usize {
        2 * self.inputs + 2 * buffer + side
    }
    pub(super) fn compare(&self, k: usize) -> usize {
        2 * self.inputs + 2 * self.buffers + Comparison::WORDS * k
    }
    pub(super) fn diff(&self, k: usize) -> usize {
        self.compare(self.outputs) + Difference::WORDS * k
    }
    pub(super) fn words(&self) -> usize {
        self.diff(self.outputs)
    }
}

impl Truth {
    /// `keeps`: launches at this size keep their outputs for a repeat (verification's
    /// determinism trials); timing's never do, and its size may be the largest the card holds.
    pub fn new(
        devices: &mut Devices,
        candidate: &Candidate,
        sizes: &Sizes,
        key: u64,
        keeps: bool,
    ) -> Result<Truth, DeviceError> {
        let problem = &*candidate.problem;
        let buffers = problem.buffers(sizes);
        let outputs: Vec<&BufferSpec> = buffers.iter().filter(|b| b.role == Role::Output).collect();
        let mut t = Truth {
            sizes: sizes.clone(),
            reference: None,
            scratch: Vec::new(),
            outputs: Vec::new(),
            kept: Vec::new(),
            pristine: Vec::new(),
            results: Buffer { id: 0, offset: 0, bytes: 0 },
            terms: problem.terms(sizes),
            key,
            canary_hash: content_hash(&vec![CANARY; GUARD_BYTES / 4], key),
            calibration: Default::default(),
        };
        let made = (|| {
            for bytes in truth_scratch(problem, sizes) {
                t.scratch.push(devices.reference.alloc(bytes.max(8))?);
            }
            if let ReferenceSpec::Kernel(k) = &problem.reference {
                t.reference = Some(load_reference(devices, problem.name, k)?);
            }
            for spec in buffers.iter().filter(|b| b.role == Role::Input) {
                // The size of the candidate's view (see `share`), so that one copies into the other.
                // A KernelBench file's get_inputs() writes it from the Model's process (shared with
                // that process alone, never with the candidate's).
                let bytes = spec.bytes().max(4).next_multiple_of(4);
                t.pristine.push(if problem.torch().is_some() {
                    devices.reference.alloc_shared(bytes)?
                } else {
                    devices.reference.alloc(bytes)?
                });
            }
            for spec in &outputs {
                let bytes = spec.elements().max(1) * 8;
                // A KernelBench Model's process writes the truth into these: shareable, so whole
                // blocks of their own; judge-only (never exported) otherwise.
                let mut alloc = |bytes| match problem.torch() {
                    Some(_) => devices.reference.alloc_shared(bytes),
                    None => devices.reference.alloc(bytes),
                };
                t.outputs.push((alloc(bytes)?, alloc(bytes)?));
                if keeps {
                    t.kept.push(devices.reference.alloc(spec.bytes().max(4).next_multiple_of(4))?);
                }
            }
            // Every arena of this candidate: its problem's buffers and its scratch buffers.
            let slots = Slots {
                inputs: buffers.len() - outputs.len(),
                buffers: buffers.len() + candidate.spec.scratch.len(),
                outputs: outputs.len(),
            }
            .words();
            t.results = devices.reference.alloc(slots * 8)?;
            Ok(())
        })();
        match made {
            Ok(()) => Ok(t),
            Err(e) => {
                t.release(devices);
                Err(e)
            }
        }
    }

    /// The baseline's output buffers at this size, allocated on first use and freed with this
    /// truth: what the calibration runs the baseline into, and (the same buffers, one
    /// output-sized buffer less on the card) what timing times it into. A Python baseline (a
    /// KernelBench Model's included) writes them from its own process: shareable there,
    /// judge-only else. Whole words: a 16-bit output of odd length is still filled with 32-bit
    /// poison.
    pub(crate) fn baseline_outputs(
        &self,
        devices: &mut Devices,
        problem: &Problem,
    ) -> Result<Vec<Buffer>, DeviceError> {
        if self.calibration.borrow().outputs.is_empty() {
            let mut made = Vec::new();
            for spec in problem.buffers(&self.sizes).iter().filter(|b| b.role == Role::Output) {
                let bytes = spec.bytes().div_ceil(4).max(1) * 4;
                let made_one = if problem.baseline_in_python() || problem.torch().is_some() {
                    devices.reference.alloc_shared(bytes)
                } else {
                    devices.reference.alloc(bytes)
                };
                match made_one {
                    Ok(b) => made.push(b),
                    Err(e) => {
                        for b in made {
                            devices.reference.free(b);
                        }
                        return Err(e);
                    }
                }
            }
            self.calibration.borrow_mut().outputs = made;
        }
        Ok(self.calibration.borrow().outputs.clone())
    }

    pub fn release(self, devices: &mut Devices) {
        // The Model's process lets go of the judge's buffers before the judge frees them.
        if let Some(m) = devices.model.as_deref_mut() {
            m.forget();
        }
        if let Some(r) = &self.reference {
            devices.reference.unload(r.module);
        }
        for b in self.scratch.iter().chain(&self.kept).chain(&self.pristine).chain(&self.calibration.borrow().outputs) {
            devices.reference.free(*b);
        }
        for (v, s) in &self.outputs {
            devices.reference.free(*v);
            devices.reference.free(*s);
        }
        if self.results.bytes > 0 {
            devices.reference.free(self.results);
        }
    }
}

/// Bytes of each judge-only temporary the truth needs: fp64 copies of a GEMM's operands and of
/// their absolute values, or |x| copies of each input for a reference kernel whose scale is the
/// same kernel on absolute values.
pub(super) fn truth_scratch(problem: &Problem, sizes: &Sizes) -> Vec<usize> {
    let buffers = problem.buffers(sizes);
    let bytes_of = |name: &str| buffers.iter().find(|b| b.name == name).map_or(8, |b| b.elements().max(1));
    match &problem.reference {
        ReferenceSpec::Gemm(g) => {
            let (a, b) = (bytes_of(g.a) * 8, bytes_of(g.b) * 8);
            vec![a, b, a, b]
        }
        ReferenceSpec::Kernel(_) if problem.scale_rule() == ScaleRule::Abs => {
            buffers.iter().filter(|b| b.role == Role::Input).map(|b| b.bytes().max(4)).collect()
        }
        ReferenceSpec::Kernel(_) | ReferenceSpec::Torch(_) => Vec::new(),
    }
}

/// Compile a problem's reference kernel for the judge's device, check its launches' arguments
/// against its PTX, and load it.
pub(super) fn load_reference(
    devices: &mut Devices,
    problem: &str,
    k: &ReferenceKernel,
) -> Result<Prepared, DeviceError> {
    let env =
        |m: String| DeviceError::Environment(format!("the reference kernel of problem `{problem}` ({}) {m}", k.file));
    let request = CompileRequest {
        name: k.file.clone(),
        source: k.source.clone(),
        arch: devices.reference.info().arch(),
        options: Vec::new(),
    };
    let module = devices.reference.compile(&request).map_err(|e| env(format!("does not compile: {e}")))?;
    let mut kinds = Vec::new();
    for launch in &k.launches {
        kinds.push(signature::check(launch, &module).map_err(|m| env(format!("does not match its launches: {m}")))?);
    }
    let handle = devices.reference.load(&module).map_err(|e| env(format!("does not load: {e}")))?;
    Ok(Prepared { module: handle, kinds })
}

impl Truth {
    /// `got` (one buffer per output, in order) against the truth the last judged launch left in
    /// this size's value buffers, each output in its class for a review in `review`; `poison`, the
    /// word `got` was filled with before it was written. For a baseline that is checked, not
    /// trusted (a PyTorch baseline expression).
    pub(crate) fn check(
        &self,
        devices: &mut Devices,
        problem: &Problem,
        got: &[Buffer],
        poison: &[PoisonWords],
        review: ToleranceClass,
    ) -> Result<Vec<Accuracy>, DeviceError> {
        let specs: Vec<BufferSpec> =
            problem.buffers(&self.sizes).into_iter().filter(|b| b.role == Role::Output).collect();
        let classes = problem.output_tolerances(review);
        let got: Vec<Buffer> = specs.iter().zip(got).map(|(spec, g)| g.view(0, spec.bytes())).collect();
        let factors: Vec<f64> = classes.iter().map(|c| c.tolerance().elementwise_factor(self.terms)).collect();
        let comparisons = self.compare_with(devices, &specs, &got, poison, &factors)?;
        Ok(specs
            .iter()
            .zip(&comparisons)
            .zip(classes)
            .map(|((spec, c), class)| accuracy::from_comparison(spec, c, class))
            .collect())
    }

    /// The judge-only copies of the inputs of the last judged launch, each the shape's elements
    /// only (in declaration order): what the truth is computed from.
    pub(crate) fn inputs(&self, problem: &Problem) -> Vec<Buffer> {
        let specs = problem.buffers(&self.sizes).into_iter().filter(|b| b.role == Role::Input);
        specs.zip(&self.pristine).map(|(spec, b)| b.view(0, spec.bytes().min(b.bytes))).collect()
    }

    /// Whether any output's bounds are calibrated against the baseline in a review in `review`.
    pub(super) fn calibrates(&self, problem: &Problem, review: ToleranceClass) -> bool {
        let classes = problem.output_tolerances(review);
        let specs = problem.buffers(&self.sizes).into_iter().filter(|b| b.role == Role::Output);
        specs.zip(classes).any(|(spec, class)| {
            let (elementwise, normwise) = accuracy::calibrates(problem, class, spec.dtype, review);
            elementwise || normwise
        })
    }

    /// Each output's bounds in a review in `review`, from the last calibration at this size.
    pub(super) fn bounds(&self, problem: &Problem, review: ToleranceClass) -> Vec<accuracy::Bounds> {
        let classes = problem.output_tolerances(review);
        let specs = problem.buffers(&self.sizes).into_iter().filter(|b| b.role == Role::Output);
        let calibration = self.calibration.borrow();
        specs
            .zip(classes)
            .enumerate()
            .map(|(k, (spec, class))| {
                let wanted = accuracy::calibrates(problem, class, spec.dtype, review);
                let c = calibration.outputs_calibrated.get(k).unwrap_or(&accuracy::Calibrated::NotWanted);
                accuracy::Bounds::of(class, spec.dtype, self.terms, wanted, c)
            })
            .collect()
    }

    /// Run the baseline on `inputs` (the judge's views of a judged launch's inputs, whose truth
    /// is in this size's value buffers) into judge-only buffers poisoned with NaN, and compare it
    /// with the truth: its normwise error and its worst error over scale (the comparator with
    /// factor 1) per output. A baseline that cannot run, fails, leaves an element unwritten or
    /// non-finite, or is itself outside its output's class calibrates nothing (but a KernelBench
    /// Model's fp32 output, within `accuracy::calibrates_beyond_class`): the uncalibrated bounds
    /// apply and the record says why.
    pub(super) fn calibrate(
        &self,
        devices: &mut Devices,
        problem: &Problem,
        inputs: &[Buffer],
        review: ToleranceClass,
    ) -> Result<(), Stop> {
        let specs: Vec<BufferSpec> =
            problem.buffers(&self.sizes).into_iter().filter(|b| b.role == Role::Output).collect();
        let classes = problem.output_tolerances(review);
        let outputs = self.baseline_outputs(devices, problem).map_err(Stop::Env)?;
        let words: Vec<u32> = specs.iter().map(|s| crate::checks::poison_nan(s.dtype)).collect();
        let fills: Vec<Work> = outputs
            .iter()
            .zip(&words)
            .map(|(&buffer, &word)| Work::Library(LibraryOp::Fill { buffer, word }))
            .collect();
        devices.reference.run(&fills)?;
        let ran: Result<(), String> = if problem.baseline_in_python() {
            match devices.model.as_deref_mut() {
                None => Err("the baseline is PyTorch, and no Python process with PyTorch was started".into()),
                Some(model) => {
                    let mut args: Vec<(Buffer, Access)> = inputs.iter().map(|&b| (b, Access::Read)).collect();
                    args.extend(outputs.iter().map(|&b| (b, Access::Write)));
                    let tf32 = review == ToleranceClass::Tf32;
                    model
                        .call(&mut *devices.reference, problem, &self.sizes, ModelKind::Eager, tf32, &args, false)
                        .map(|_| ())
                        .map_err(|e| format!("the baseline failed: {e}"))
                }
            }
        } else {
            let precision = if review == ToleranceClass::Tf32 { Precision::Tf32 } else { Precision::F32 };
            let work = problem.baseline(&self.sizes, inputs, &outputs, precision);
            match devices.reference.unavailable(&work) {
                _ if work.is_empty() => Err("the problem has no library baseline".into()),
                Some(why) => Err(format!("the baseline cannot run here: {why}")),
                None => Ok(devices.reference.run(&work)?),
            }
        };
        let calibrated: Vec<accuracy::Calibrated> = match ran {
            Err(why) => specs.iter().map(|_| accuracy::Calibrated::Unavailable(why.clone())).collect(),
            Ok(()) => {
                let poison: Vec<PoisonWords> = words.iter().map(|&w| PoisonWords::Word(w)).collect();
                let got: Vec<Buffer> = outputs.iter().zip(&specs).map(|(b, spec)| b.view(0, spec.bytes())).collect();
                let comparisons = self.compare_with(devices, &specs, &got, &poison, &vec![1.0; specs.len()])?;
                comparisons
                    .iter()
                    .zip(&specs)
                    .zip(&classes)
                    .map(|((c, spec), class)| {
                        let normwise = c.normwise();
                        if c.nonfinite > 0 {
                            accuracy::Calibrated::Unavailable(format!(
                                "{} {} elements of {} non-finite",
                                accuracy::BASELINE_NONFINITE,
                                c.nonfinite,
                                spec.name
                            ))
                        } else if normwise > class.tolerance().normwise
                            && !accuracy::calibrates_beyond_class(problem, *class, normwise)
                        {
                            accuracy::Calibrated::Unavailable(format!(
                                "{} {normwise:.2e} in {} is outside the {class} class",
                                accuracy::BASELINE_OUTSIDE,
                                spec.name
                            ))
                        } else {
                            accuracy::Calibrated::Baseline(accuracy::BaselineError {
                                normwise,
                                worst: c.worst_ratio.max(0.0),
                            })
                        }
                    })
                    .collect()
            }
        };
        self.calibration.borrow_mut().outputs_calibrated = calibrated;
        Ok(())
    }

    /// The comparator's summaries of `got` (one buffer per output, the shape's bytes) against this
    /// size's truth, with elementwise factors `factors`.
    pub(super) fn compare_with(
        &self,
        devices: &mut Devices,
        specs: &[BufferSpec],
        got: &[Buffer],
        poison: &[PoisonWords],
        factors: &[f64],
    ) -> Result<Vec<Comparison>, DeviceError> {
        let out = devices.reference.alloc(8 * Comparison::WORDS * specs.len().max(1))?;
        let work: Vec<Work> = specs
            .iter()
            .enumerate()
            .map(|(k, spec)| {
                Work::Library(LibraryOp::Compare {
                    got: got[k],
                    values: self.outputs[k].0,
                    scale: self.outputs[k].1,
                    factor: factors[k],
                    poison: poison[k],
                    out: out.view(8 * Comparison::WORDS * k, 8 * Comparison::WORDS),
                    dtype: spec.dtype,
                })
            })
            .collect();
        let words = devices.reference.run(&work).and_then(|()| devices.reference.download_u64(out));
        devices.reference.free(out);
        let words = words?;
        Ok((0..specs.len())
            .map(|k| Comparison::from_words(&words[k * Comparison::WORDS..]).judged(self.terms, specs[k].dtype))
            .collect())
    }

    /// The trusted work that writes each output's fp64 values and error scale from `inputs` (the
    /// judge's views, in declaration order).
    pub(super) fn work(&self, problem: &Problem, inputs: &[Buffer]) -> Result<Vec<Work>, Stop> {
        let sizes = &self.sizes;
        let names: Vec<&'static str> =
            problem.tensors.iter().filter(|t| t.role == Role::Input).map(|t| t.name).collect();
        let input = |name: &str| names.iter().position(|n| *n == name).map(|i| inputs[i]);
        let outputs: Vec<&'static str> =
            problem.tensors.iter().filter(|t| t.role == Role::Output).map(|t| t.name).collect();
        match &problem.reference {
            ReferenceSpec::Gemm(g) => {
                let (Some(a), Some(b)) = (input(g.a), input(g.b)) else {
                    return Err(env(format!("the reference gemm of `{}` names no such input", problem.name)));
                };
                let &[a64, b64, abs_a, abs_b] = &self.scratch[..] else {
                    return Err(env("the gemm reference's temporaries are missing".into()));
                };
                let out = outputs.iter().position(|n| *n == g.c).unwrap_or(0);
                let (values, scale) = self.outputs[out];
                let dtype = problem.gemm_dtype(g);
                let up = |src, dst, abs| Work::Library(LibraryOp::Upcast { src, dst, abs, dtype });
                let mut work = vec![up(a, a64, false), up(b, b64, false), up(a, abs_a, true), up(b, abs_b, true)];
                work.extend(g.work(sizes, Precision::F64, a64, b64, values, 8));
                work.extend(g.work(sizes, Precision::F64, abs_a, abs_b, scale, 8));
                Ok(work)
            }
            ReferenceSpec::Kernel(k) => {
                let prepared =
                    self.reference.as_ref().ok_or_else(|| env("the reference kernel is not loaded".into()))?;
                let spec = Spec::of_launches(k.launches.clone());
                let resolve = || {
                    spec.resolve(sizes)
                        .map_err(|(_, m)| env(format!("the reference kernel of `{}` at {sizes}: {m}", problem.name)))
                };
                let mut named: Vec<(String, Buffer)> =
                    names.iter().zip(inputs).map(|(n, b)| (n.to_string(), *b)).collect();
                for (n, (values, scale)) in outputs.iter().zip(&self.outputs) {
                    named.push((n.to_string(), *values));
                    named.push((format!("{n}_scale"), *scale));
                }
                let mut work = bind_launches(resolve()?, prepared, &named, sizes)?;
                if problem.scale_rule() == ScaleRule::Abs {
                    // The same kernel on |inputs|, into the scale buffers.
                    let mut abs_named = Vec::new();
                    let dtypes = problem.tensors.iter().filter(|t| t.role == Role::Input).map(|t| t.dtype);
                    for (((n, b), copy), dtype) in names.iter().zip(inputs).zip(&self.scratch).zip(dtypes) {
                        let copy = copy.view(0, b.bytes);
                        work.push(Work::Library(LibraryOp::Abs { src: *b, dst: copy, dtype }));
                        abs_named.push((n.to_string(), copy));
                    }
                    for (n, (_, scale)) in outputs.iter().zip(&self.outputs) {
                        abs_named.push((n.to_string(), *scale));
                    }
                    work.extend(bind_launches(resolve()?, prepared, &abs_named, sizes)?);
                }
                Ok(work)
            }
            // Not device work of the judge's: see `Truth::torch`.
            ReferenceSpec::Torch(_) => Ok(Vec::new()),
        }
    }

    /// A KernelBench problem's truth: its Model in float64, in the Model's own process, writes
    /// each output's values and error scale into the judge's buffers.
    pub(super) fn torch(&self, devices: &mut Devices, problem: &Problem, inputs: &[Buffer]) -> Result<(), Stop> {
        if problem.torch().is_none() {
            return Ok(());
        }
        let Some(model) = devices.model.as_deref_mut() else {
            return Err(env(format!(
                "problem `{}` is a KernelBench file: its truth needs a Python process with PyTorch, and none was started",
                problem.name
            )));
        };
        let mut args: Vec<(Buffer, Access)> = inputs.iter().map(|&b| (b, Access::Read)).collect();
        let buffers = problem.buffers(&self.sizes);
        let outputs = buffers.iter().filter(|b| b.role == Role::Output);
        for (spec, (values, _)) in outputs.clone().zip(&self.outputs) {
            args.push((values.view(0, spec.elements() * 8), Access::Write));
        }
        for (spec, (_, scale)) in outputs.zip(&self.outputs) {
            args.push((scale.view(0, spec.elements() * 8), Access::Write));
        }
        model.call(&mut *devices.reference, problem, &self.sizes, ModelKind::Truth, false, &args, false)?;
        Ok(())
    }
}
