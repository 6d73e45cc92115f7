//! A KernelBench problem file as a [`Problem`]: its reference is the file's own `Model`, run in a
//! Python process of its own (see `crate::model`), never in sadoku's or the candidate's.
//!
//! Built from the file's description (`python -m sadoku_bridge.describe`, run confined):
//!
//! - **Sizes.** The file's module-level integer constants are the size symbols (a native
//!   candidate's grid says `cdiv(BATCH * DIM, 256)`), at the one size the file defines.
//! - **Tensors.** The forward's tensor arguments, then the Model's floating-point parameters and
//!   buffers (dots in their names become `_`: `fc.weight` is `fc_weight`), all inputs the judge
//!   draws fresh for every launch; then the outputs `out0`, `out1`, ...
//! - **Distributions.** A forward argument is drawn by the file's own `get_inputs()`, in the
//!   Model's process, under a fresh seed for every judged launch (`ModelKind::Inputs`), so the
//!   domain the file declares is kept: softmax-normalised rows still sum to one, ±1 targets stay
//!   ±1, in every trial and every timed launch alike, and never rescaled. (The distribution the
//!   description records, the range `get_inputs()` drew, only names the inputs in reports.) A
//!   parameter is drawn by the judge uniformly over the range of its initial values, widened to
//!   half and one and a half times a constant one (BatchNorm's weight of 1) and to ±0.1 around a
//!   zero one, in both trials, never rescaled either.
//! - **Structure.** The structure the description found in a forward argument (lower or upper
//!   triangular, symmetric) is the tensor's: its `get_inputs()` keeps it in every draw, and a
//!   symmetric one must be square. A diagonal input is refused (the judge has no diagonal draw).
//! - **Element types.** Every input type is judged, u8 and bool masks included (drawn by
//!   `get_inputs()`); u8 and bool outputs are refused.
//! - **Error scale.** Per element, |t_i| plus the mean of |t| over the output, written by the
//!   truth process (the Σ|terms| rule holds for multilinear operations only); the terms are the
//!   largest dimension of any input, a bound on the length of any one reduction over them.
//! - **Floors.** No arithmetic floor (the Model is opaque); the bytes floor is the outputs', which
//!   every correct kernel must write.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::Digest as _;

use super::{Distribution, DistributionSpec, Dtype, Problem, ReferenceSpec, Role, ScaleRule, Sizes, Structure, Tensor};
use crate::spec::is_identifier;
use crate::vocab::Expr;

/// A problem whose truth and baseline are its own PyTorch `Model`.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchReference {
    /// The file as the user named it.
    pub file: String,
    /// Its text: sent to each worker, which reads nothing of the judge's.
    pub source: String,
    /// `get_init_inputs()` as the description gave it (JSON).
    pub init_inputs: Value,
    /// Non-tensor forward arguments: `{"index", "value"}`.
    pub scalars: Value,
    /// The seed the Model is built with (its parameters are then the judge's).
    pub seed: u64,
    /// Per tensor of the problem, in declaration order: how the Model knows it.
    pub bindings: Vec<Binding>,
    /// The baseline is the Model under `torch.compile` in this mode (`default`, `max-autotune`,
    /// ...), compiled while its process loads it; `None`: eager PyTorch.
    pub compile: Option<String>,
}

/// The modes `torch.compile` takes.
pub const COMPILE_MODES: [&str; 4] = ["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"];

/// What a problem tensor is to the Model.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The Model's own name: `x`, `fc.weight`, `out0`.
    pub model_name: String,
    pub kind: BindingKind,
    /// The Model's own shape: `[]` for a 0-dimensional tensor (a loss), which the problem holds
    /// as one element.
    pub dims: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    /// A forward argument, at this position among all of them.
    Input {
        index: usize,
    },
    /// A parameter or buffer, copied into the Model by name before each call.
    Parameter,
    /// A buffer the Model's own forward changes (a training-mode BatchNorm's running
    /// statistics): its state, not an input. Copied into the Model by name before each call like
    /// a parameter; a candidate that takes it as an argument (an archive kernel) gets a copy of
    /// its own for each call, so that updating it in place, as the Model does, leaves the judge's
    /// buffer as drawn. What a candidate leaves in its copy is not judged: the Model's outputs
    /// are, as for a `ModelNew`, whose layers keep their own copies.
    State,
    Output,
}

/// What a Python worker is to do with the problem's Model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// float64, writing each output's values and error scale: the truth.
    Truth,
    /// In its own dtypes, eager: the baseline.
    Eager,
    /// A KernelBench `ModelNew` file, the candidate.
    ModelNew,
    /// An archive kernel (`.cu` with `PYBIND11_MODULE` exporting `forward`), the candidate.
    Archive,
    /// The file's own `get_inputs()` under a seed, written into the judge's input buffers: the
    /// forward arguments of one judged launch.
    Inputs,
}

impl ModelKind {
    fn name(self) -> &'static str {
        match self {
            ModelKind::Truth => "truth",
            ModelKind::Eager => "reference",
            ModelKind::ModelNew => "modelnew",
            ModelKind::Archive => "archive",
            ModelKind::Inputs => "inputs",
        }
    }
}

/// The option a Python worker's `Compile` carries: what to load and the tensors its `forward`
/// takes, in the order of the launch's arguments (see `python/sadoku_bridge/worker.py`).
pub const OPTION: &str = "--sadoku-torch=";

impl TorchReference {
    /// Per input of the problem (forward arguments, then parameters), whether the file's
    /// `get_inputs()` draws it ([`ModelKind::Inputs`]) rather than the judge's generator.
    pub fn drawn_by_file(&self) -> Vec<bool> {
        let inputs = self.bindings.iter().filter(|b| b.kind != BindingKind::Output);
        inputs.map(|b| matches!(b.kind, BindingKind::Input { .. })).collect()
    }

    /// The worker's option for `kind` at `sizes` (`tf32`: the eager baseline may use TF32).
    pub fn option(&self, problem: &Problem, sizes: &Sizes, kind: ModelKind, tf32: bool) -> String {
        let mut args = Vec::new();
        let mut scales = Vec::new();
        for (spec, b) in problem.buffers(sizes).iter().zip(&self.bindings) {
            // What get_inputs() draws: the forward's tensor arguments, nothing else.
            if kind == ModelKind::Inputs && !matches!(b.kind, BindingKind::Input { .. }) {
                continue;
            }
            let (role, dtype) = match b.kind {
                BindingKind::Input { .. } => ("input", spec.dtype.name()),
                BindingKind::Parameter | BindingKind::State => ("parameter", spec.dtype.name()),
                BindingKind::Output if kind == ModelKind::Truth => ("output", "f64"),
                BindingKind::Output => ("output", spec.dtype.name()),
            };
            let mut arg = serde_json::json!({"name": b.model_name, "dtype": dtype, "shape": b.dims, "role": role});
            if let BindingKind::Input { index } = b.kind {
                arg["index"] = index.into();
            }
            if b.kind == BindingKind::State {
                arg["updated"] = true.into();
            }
            // A worker's warm-up call draws inputs of its own: with the file's structure, so that
            // a kernel relying on it (a Cholesky of a symmetric A) is not failed on other inputs.
            if spec.structure != Structure::Dense {
                arg["structure"] = spec.structure.name().into();
            }
            args.push(arg);
            if kind == ModelKind::Truth && b.kind == BindingKind::Output {
                scales.push(serde_json::json!({"name": format!("{}_scale", b.model_name), "dtype": "f64", "shape": b.dims, "role": "scale"}));
            }
        }
        args.extend(scales);
        let mut spec = serde_json::json!({
            "kind": kind.name(),
            "problem": self.file,
            "problem_source": self.source,
            "init_inputs": self.init_inputs,
            "scalars": self.scalars,
            "seed": self.seed,
            "tf32": tf32,
            "args": args,
        });
        if let (ModelKind::Eager, Some(mode)) = (kind, &self.compile) {
            spec["compile"] = mode.as_str().into();
        }
        format!("{OPTION}{spec}")
    }
}

/// `problem` (from a KernelBench file) timed against its Model under `torch.compile` in `mode`
/// instead of eager PyTorch. Its identity changes with the mode, so that `--resume` does not take
/// a verdict timed against the other baseline for this one.
pub fn with_compile(mut problem: Problem, mode: &str) -> Result<Problem, String> {
    if !COMPILE_MODES.contains(&mode) {
        return Err(format!("torch.compile has no mode `{mode}` (modes: {})", COMPILE_MODES.join(", ")));
    }
    let ReferenceSpec::Torch(t) = &mut problem.reference else {
        return Err(format!("problem `{}` is not a KernelBench file: it has no Model to compile", problem.name));
    };
    t.compile = Some(mode.to_string());
    problem.sha256 = leak(compiled_identity(problem.sha256, mode));
    Ok(problem)
}

/// The identity (`Problem::sha256`) of the problem a KernelBench file's text `source` describes,
/// timed against its Model under torch.compile in `compile` if given: what [`from_description`]
/// and [`with_compile`] give it, known from the file alone, before describing it (`--resume`
/// skips a candidate judged in an earlier run without describing its problem).
pub fn identity(source: &str, compile: Option<&str>) -> String {
    let sha = hex::encode(sha2::Sha256::digest(source.as_bytes()));
    match compile {
        Some(mode) => compiled_identity(&sha, mode),
        None => sha,
    }
}

fn compiled_identity(sha256: &str, mode: &str) -> String {
    hex::encode(sha2::Sha256::digest(format!("{sha256}\ntorch.compile mode={mode}").as_bytes()))
}

/// The worker option that loads a PyTorch baseline expression (`[[baseline]] builtin = "torch"`)
/// of a library problem: its inputs then its outputs, by name, at `sizes`, and the size symbols'
/// values, which the expression may use.
pub fn expression_option(problem: &Problem, sizes: &Sizes, expression: &str, tf32: bool) -> String {
    let buffers = problem.buffers(sizes);
    let mut args = Vec::new();
    for role in [crate::problem::Role::Input, crate::problem::Role::Output] {
        for b in buffers.iter().filter(|b| b.role == role) {
            let role = if role == crate::problem::Role::Input { "input" } else { "output" };
            args.push(serde_json::json!({"name": b.name, "dtype": b.dtype.name(), "shape": b.dims, "role": role}));
        }
    }
    let spec = serde_json::json!({
        "kind": "expression",
        "problem": problem.name,
        "expression": expression,
        "sizes": sizes.0,
        "seed": 0,
        "tf32": tf32,
        "args": args,
    });
    format!("{OPTION}{spec}")
}

/// The sadoku name of a Model tensor: its dots made underscores.
pub fn tensor_name(model_name: &str) -> String {
    model_name.replace('.', "_")
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn distribution(d: &Value, what: &str) -> Result<Distribution, String> {
    let f = |k: &str| d[k].as_f64().ok_or_else(|| format!("{what}: distribution without `{k}`"));
    match d["kind"].as_str() {
        Some("uniform") => Ok(Distribution::Uniform { lo: f("lo")?, hi: f("hi")? }),
        Some("normal") => Ok(Distribution::Randn { mean: f("mean")?, std: f("std")? }),
        Some("int") => Ok(Distribution::Int { lo: f("lo")? as i64, hi: (f("hi")? as i64).max(f("lo")? as i64 + 1) }),
        // What get_inputs() drew, again as a uniform over its range.
        Some("empirical") => {
            let (lo, hi) = (f("min")?, f("max")?);
            Ok(if hi > lo { Distribution::Uniform { lo, hi } } else { widened(lo) })
        }
        other => Err(format!("{what}: unknown distribution {other:?}")),
    }
}

/// Fresh values around a constant: half to one and a half times it, ±0.1 around zero.
fn widened(c: f64) -> Distribution {
    if c == 0.0 {
        Distribution::Uniform { lo: -0.1, hi: 0.1 }
    } else {
        let (a, b) = (0.5 * c, 1.5 * c);
        Distribution::Uniform { lo: a.min(b), hi: a.max(b) }
    }
}

/// The problem a KernelBench file describes (`description`: the JSON of
/// `sadoku_bridge.describe`), named after its file's stem.
pub fn from_description(file: &str, source: String, description: &Value) -> Result<Problem, String> {
    let stem = std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .ok_or_else(|| format!("{file}: no file name"))?;
    let mut sizes = BTreeMap::new();
    if let Some(constants) = description["constants"].as_object() {
        for (name, v) in constants {
            if let (true, Some(n)) = (is_identifier(name), v.as_i64()) {
                sizes.insert(name.clone(), n);
            }
        }
    }
    let symbols: Vec<&'static str> = sizes.keys().map(|k| leak(k.clone())).collect();
    let sizes = Sizes(sizes);
    let shape = |v: &Value, what: &str| -> Result<Vec<Expr>, String> {
        let dims = v.as_array().ok_or_else(|| format!("{what}: no shape"))?;
        let dims: Vec<Expr> = dims
            .iter()
            .map(|d| d.as_i64().filter(|&n| n >= 1).map(Expr::constant))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("{what}: a dimension is not a positive integer ({v})"))?;
        // A 0-dimensional tensor holds one element.
        Ok(if dims.is_empty() { vec![Expr::constant(1)] } else { dims })
    };
    let dims = |v: &Value| -> Vec<usize> {
        v.as_array().map(|a| a.iter().filter_map(|d| d.as_u64()).map(|d| d as usize).collect()).unwrap_or_default()
    };
    let dtype = |v: &Value, what: &str| -> Result<Dtype, String> {
        let name = v.as_str().unwrap_or_default();
        Dtype::parse(name).ok_or_else(|| format!("{what}: dtype `{name}` is not one sadoku knows"))
    };
    let mut tensors = Vec::new();
    let mut bindings = Vec::new();
    let mut terms = 1i64;
    let mut names = std::collections::HashSet::new();
    let mut add = |t: Tensor, b: Binding, tensors: &mut Vec<Tensor>, bindings: &mut Vec<Binding>| {
        if !names.insert(t.name) {
            return Err(format!("{file}: two tensors are both called `{}` once dots are underscores", t.name));
        }
        tensors.push(t);
        bindings.push(b);
        Ok(())
    };
    for input in description["inputs"].as_array().into_iter().flatten() {
        let name = input["name"].as_str().unwrap_or("input");
        let what = format!("{file}: input `{name}`");
        let found = input["structure"].as_str().unwrap_or("dense");
        let structure = Structure::parse(found).ok_or_else(|| {
            format!(
                "{what} is {found}; sadoku keeps dense, lower- and upper-triangular and symmetric inputs only, so \
                 this problem cannot be judged yet"
            )
        })?;
        if let Some(why) = structure.unfit_for(&dims(&input["shape"]).iter().map(|&d| d as i64).collect::<Vec<_>>()) {
            return Err(format!("{what}: {why}"));
        }
        let dt = dtype(&input["dtype"], &what)?;
        let own = distribution(&input["distribution"], &what)?;
        // Drawn by get_inputs() in every trial (see the module's doc): the file's own domain.
        let second = own;
        let shape = shape(&input["shape"], &what)?;
        for d in &shape {
            terms = terms.max(sizes.eval(d).unwrap_or(1));
        }
        let t = Tensor {
            name: leak(tensor_name(name)),
            role: Role::Input,
            dtype: dt,
            shape,
            structure,
            distributions: vec![DistributionSpec::Fixed(own), DistributionSpec::Fixed(second)],
            tolerance: None,
            stress: Vec::new(),
        };
        let index = input["index"].as_u64().unwrap_or(0) as usize;
        let b = Binding { model_name: name.into(), kind: BindingKind::Input { index }, dims: dims(&input["shape"]) };
        add(t, b, &mut tensors, &mut bindings)?;
    }
    for key in ["parameters", "buffers"] {
        for p in description[key].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap_or("parameter");
            let what = format!("{file}: {} `{name}`", &key[..key.len() - 1]);
            let dt = dtype(&p["dtype"], &what);
            // Integer buffers (BatchNorm's num_batches_tracked) are bookkeeping, not data.
            let Ok(dt) = dt.and_then(|d| if d.is_float() { Ok(d) } else { Err(String::new()) }) else {
                if key == "buffers" {
                    continue;
                }
                return Err(format!("{what}: only floating-point parameters are judged"));
            };
            let (lo, hi) = (p["init"]["min"].as_f64().unwrap_or(-0.1), p["init"]["max"].as_f64().unwrap_or(0.1));
            let d = if hi > lo { Distribution::Uniform { lo, hi } } else { widened(lo) };
            let t = Tensor {
                name: leak(tensor_name(name)),
                role: Role::Input,
                dtype: dt,
                shape: shape(&p["shape"], &what)?,
                structure: Structure::Dense,
                distributions: vec![DistributionSpec::Fixed(d), DistributionSpec::Fixed(d)],
                tolerance: None,
                stress: Vec::new(),
            };
            // A buffer the description saw the forward change is the Model's state.
            let kind = if p["updated"].as_bool() == Some(true) { BindingKind::State } else { BindingKind::Parameter };
            let b = Binding { model_name: name.into(), kind, dims: dims(&p["shape"]) };
            add(t, b, &mut tensors, &mut bindings)?;
        }
    }
    let mut out_bytes = 0i64;
    for o in description["outputs"].as_array().into_iter().flatten() {
        let name = o["name"].as_str().unwrap_or("out");
        let what = format!("{file}: output `{name}`");
        let dt = dtype(&o["dtype"], &what)?;
        if !dt.judged_output() {
            return Err(format!("{what}: {dt} outputs are not judged yet (outputs: {})", Dtype::JUDGED_OUTPUTS));
        }
        let shape = shape(&o["shape"], &what)?;
        let elements: i64 = shape.iter().map(|d| sizes.eval(d).unwrap_or(1)).product();
        out_bytes += elements * dt.bytes() as i64;
        let t = Tensor {
            name: leak(tensor_name(name)),
            role: Role::Output,
            dtype: dt,
            shape,
            structure: Structure::Dense,
            distributions: Vec::new(),
            tolerance: None,
            stress: Vec::new(),
        };
        let b = Binding { model_name: name.into(), kind: BindingKind::Output, dims: dims(&o["shape"]) };
        add(t, b, &mut tensors, &mut bindings)?;
    }
    if !tensors.iter().any(|t| t.role == Role::Output) {
        return Err(format!("{file}: the Model returns no tensor"));
    }
    if !tensors.iter().any(|t| t.role == Role::Input) {
        return Err(format!("{file}: the Model takes no tensor"));
    }
    let sha256 = identity(&source, None);
    let summary = format!("KernelBench problem file {file}");
    let reference = TorchReference {
        file: file.to_string(),
        source,
        init_inputs: description["init_inputs"].clone(),
        scalars: description["scalars"].clone(),
        seed: description["seed"].as_u64().unwrap_or(0),
        bindings,
        compile: None,
    };
    Ok(Problem {
        name: leak(stem),
        summary: leak(summary),
        family: "kernelbench",
        kernelbench: Some(leak(file.to_string())),
        origin: leak(file.to_string()),
        sha256: leak(sha256),
        symbols: Box::leak(symbols.into_boxed_slice()),
        constraints: Vec::new(),
        check: Vec::new(),
        timed: vec![sizes.clone()],
        small: sizes,
        tensors,
        reference: ReferenceSpec::Torch(Box::new(reference)),
        scale: ScaleRule::Kernel,
        terms: Expr::constant(terms),
        flops: Expr::constant(0),
        bytes: Expr::constant(out_bytes),
        baselines: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn description() -> Value {
        serde_json::json!({
            "problem": "layer", "seed": 3,
            "constants": {"BATCH": 8, "IN": 16, "OUT": 4, "scale": 0.5, "bad name": 2},
            "inputs": [{"name": "x", "index": 0, "dtype": "f32", "shape": [8, 16], "structure": "dense",
                        "distribution": {"kind": "empirical", "min": -2.0, "max": 3.0, "mean": 0.4, "std": 1.1}}],
            "scalars": [{"name": "alpha", "index": 1, "value": 0.5}],
            "init_inputs": [16, 4],
            "parameters": [{"name": "fc.weight", "dtype": "f32", "shape": [4, 16], "init": {"min": -0.25, "max": 0.25}},
                           {"name": "norm.weight", "dtype": "f32", "shape": [4], "init": {"min": 1.0, "max": 1.0}}],
            "buffers": [{"name": "norm.steps", "dtype": "i64", "shape": []}],
            "outputs": [{"name": "out0", "dtype": "f32", "shape": [8, 4]}]
        })
    }

    #[test]
    fn a_failing_output_is_unjudgeable_only_where_the_models_own_float32_run_is_outside_the_class() {
        use crate::checks::accuracy::{Accuracy, BASELINE_NONFINITE, BASELINE_OUTSIDE, BASELINE_RANDOM, UNJUDGEABLE};
        let p = from_description("kb/24_net.py", "source".into(), &description()).unwrap();
        let accuracy = |normwise: f64, uncalibrated: Option<String>| -> Accuracy {
            serde_json::from_value(serde_json::json!({
                "buffer": "out0", "tolerance": "fp32", "normwise": normwise, "class": "wrong",
                "over_bound": if normwise > 1e-5 { 2000 } else { 0 }, "nonfinite": 0,
                "normwise_limit": 1e-5, "factor": 3e-5, "uncalibrated": uncalibrated,
            }))
            .unwrap()
        };
        let outside = Some(format!("{BASELINE_OUTSIDE} 4.46e-1 in out0 is outside the fp32 class"));
        // The Model's own float32 run 4.46e-1 from its truth, the candidate's too: no verdict.
        let why = accuracy(0.446, outside.clone()).unjudgeable(&p).expect("unjudgeable");
        assert!(why.starts_with(&format!("`24_net` {UNJUDGEABLE} fp32 class: {BASELINE_OUTSIDE} 4.46e-1")), "{why}");
        assert!(
            why.ends_with("the candidate's error was 4.46e-1 with 0 non-finite values") && !why.contains('\n'),
            "{why}"
        );
        // The Model's own float32 run overflowed where the truth is finite: no verdict either.
        let overflowed = Some(format!("{BASELINE_NONFINITE} 37803 elements of out0 non-finite"));
        assert!(accuracy(0.446, overflowed).unjudgeable(&p).is_some_and(|w| w.contains("37803 elements")));
        // A candidate within the class there is judged (accepted), never excused.
        assert_eq!(accuracy(1e-6, outside.clone()).unjudgeable(&p), None);
        // A wrong candidate where the Model is within its class (calibrated or not) is rejected.
        assert_eq!(accuracy(0.446, None).unjudgeable(&p), None);
        // The Model answers differently on the same inputs (its bridge refused it as a baseline).
        let random = Some(format!(
            "the baseline failed: the Model of `24_net.py` (eager): does not load: {BASELINE_RANDOM} \
             (out0 differs by 2.4e-1 normwise between two calls): it draws random numbers"
        ));
        let why = accuracy(0.236, random.clone()).unjudgeable(&p).expect("unjudgeable");
        assert!(why.starts_with(&format!("`24_net` {UNJUDGEABLE} fp32 class: the baseline failed")), "{why}");
        assert!(why.contains(BASELINE_RANDOM) && why.ends_with("error was 2.36e-1 with 0 non-finite values"), "{why}");
        assert_eq!(accuracy(1e-6, random).unjudgeable(&p), None, "a candidate within the class is judged");
        let other = Some("the baseline failed: it raised".to_string());
        assert_eq!(accuracy(0.446, other).unjudgeable(&p), None);
        // A problem without a Model (a library baseline outside its class): rejected as before.
        let registry = crate::problem::Registry::library();
        let native = registry.find("trimm").unwrap();
        assert_eq!(accuracy(0.446, outside).unjudgeable(native), None);
    }

    #[test]
    fn constants_become_sizes_and_parameters_inputs_drawn_near_their_initial_values() {
        let p = from_description("kb/12_layer.py", "source".into(), &description()).unwrap();
        assert_eq!(p.name, "12_layer");
        assert_eq!(p.symbols, &["BATCH", "IN", "OUT"], "integer constants with identifier names");
        let names: Vec<&str> = p.tensors.iter().map(|t| t.name).collect();
        assert_eq!(names, ["x", "fc_weight", "norm_weight", "out0"]);
        let at = p.timed_sizes();
        let d = |i: usize, k: usize| p.tensors[i].distributions[k].at(&at).unwrap();
        assert_eq!(d(0, 0), Distribution::Uniform { lo: -2.0, hi: 3.0 }, "the file's own range");
        assert_eq!(d(0, 1), Distribution::Uniform { lo: -2.0, hi: 3.0 }, "get_inputs() draws every trial");
        assert_eq!(d(1, 1), Distribution::Uniform { lo: -0.25, hi: 0.25 });
        assert_eq!(d(2, 0), Distribution::Uniform { lo: 0.5, hi: 1.5 }, "a constant 1 is widened, not kept");
        assert_eq!(p.terms(&at), 16, "the largest input dimension");
        assert_eq!(p.min_bytes(&at), 8.0 * 4.0 * 4.0, "the outputs' bytes");
        assert!(p.lint().is_ok(), "{:?}", p.lint());
        let t = p.torch().unwrap();
        assert_eq!(t.bindings[1].model_name, "fc.weight");
        assert_eq!(t.bindings[0].kind, BindingKind::Input { index: 0 });
        // What the truth worker is told: float64 outputs, then a scale for each.
        let option = t.option(&p, &at, ModelKind::Truth, false);
        let spec: Value = serde_json::from_str(option.strip_prefix(OPTION).unwrap()).unwrap();
        let roles: Vec<(&str, &str)> = spec["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["role"].as_str().unwrap(), a["dtype"].as_str().unwrap()))
            .collect();
        assert_eq!(
            roles,
            [("input", "f32"), ("parameter", "f32"), ("parameter", "f32"), ("output", "f64"), ("scale", "f64")]
        );
        assert_eq!(spec["kind"], "truth");
        assert_eq!(spec["problem_source"], "source");
        // get_inputs() draws the forward's arguments, the judge the parameters.
        assert_eq!(t.drawn_by_file(), [true, false, false]);
        let inputs: Value =
            serde_json::from_str(t.option(&p, &at, ModelKind::Inputs, false).strip_prefix(OPTION).unwrap()).unwrap();
        assert_eq!(inputs["kind"], "inputs");
        let args: Vec<(&str, &str, u64)> = inputs["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["name"].as_str().unwrap(), a["role"].as_str().unwrap(), a["index"].as_u64().unwrap()))
            .collect();
        assert_eq!(args, [("x", "input", 0)], "the forward's tensors only, at their places");
        let eager: Value =
            serde_json::from_str(t.option(&p, &at, ModelKind::Eager, true).strip_prefix(OPTION).unwrap()).unwrap();
        assert_eq!((eager["kind"].as_str(), eager["tf32"].as_bool()), (Some("reference"), Some(true)));
        assert!(eager.get("compile").is_none(), "eager unless asked");
        assert!(p.baseline_name(crate::device::Precision::F32).starts_with("eager PyTorch"));
        // Under torch.compile: the baseline's option says the mode, the truth's does not.
        let compiled =
            with_compile(from_description("kb/12_layer.py", "source".into(), &description()).unwrap(), "max-autotune")
                .unwrap();
        assert_ne!(compiled.sha256, p.sha256, "another baseline, another review for --resume");
        // Known from the file alone, as `--resume` predicts it before describing.
        let source = p.torch().unwrap().source.clone();
        assert_eq!(identity(&source, None), p.sha256);
        assert_eq!(identity(&source, Some("max-autotune")), compiled.sha256);
        let unknown =
            with_compile(from_description("kb/12_layer.py", "source".into(), &description()).unwrap(), "fast");
        assert!(unknown.unwrap_err().contains("no mode `fast`"));
        let t = compiled.torch().unwrap();
        let spec = |kind| -> Value {
            serde_json::from_str(t.option(&compiled, &at, kind, false).strip_prefix(OPTION).unwrap()).unwrap()
        };
        assert_eq!(spec(ModelKind::Eager)["compile"], "max-autotune");
        assert!(spec(ModelKind::Truth).get("compile").is_none(), "the truth is never compiled");
        assert!(compiled.baseline_name(crate::device::Precision::F32).starts_with("torch.compile (mode max-autotune)"));
    }

    /// A buffer the Model's forward changed (a training-mode BatchNorm's running mean) is its
    /// state: still an input the judge draws and checks unchanged, but the worker is told, so that
    /// a candidate taking it as an argument updates a copy of its own. A buffer the forward left
    /// alone stays a plain parameter, which a candidate may not change.
    #[test]
    fn a_buffer_the_models_forward_updates_is_its_state_and_one_it_leaves_alone_is_not() {
        let mut d = description();
        d["buffers"] = serde_json::json!([
            {"name": "norm.running_mean", "dtype": "f32", "shape": [4], "init": {"min": 0.0, "max": 0.0}, "updated": true},
            {"name": "norm.mask", "dtype": "f32", "shape": [4], "init": {"min": 1.0, "max": 1.0}},
            {"name": "norm.num_batches_tracked", "dtype": "i64", "shape": [], "updated": true}
        ]);
        let p = from_description("kb/12_layer.py", "source".into(), &d).unwrap();
        let names: Vec<(&str, Role)> = p.tensors.iter().map(|t| (t.name, t.role)).collect();
        assert_eq!(
            names,
            [
                ("x", Role::Input),
                ("fc_weight", Role::Input),
                ("norm_weight", Role::Input),
                ("norm_running_mean", Role::Input),
                ("norm_mask", Role::Input),
                ("out0", Role::Output)
            ],
            "the integer counter is bookkeeping, not data"
        );
        let t = p.torch().unwrap();
        let kinds: Vec<BindingKind> = t.bindings.iter().map(|b| b.kind).collect();
        assert_eq!(kinds[3..5], [BindingKind::State, BindingKind::Parameter]);
        assert_eq!(t.drawn_by_file(), [true, false, false, false, false], "the judge draws both");
        for kind in [ModelKind::Archive, ModelKind::ModelNew, ModelKind::Truth, ModelKind::Eager] {
            let at = p.timed_sizes();
            let spec: Value =
                serde_json::from_str(t.option(&p, &at, kind, false).strip_prefix(OPTION).unwrap()).unwrap();
            let updated: Vec<(&str, &str, bool)> = spec["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a["name"].as_str().unwrap(), a["role"].as_str().unwrap(), a["updated"] == true))
                .collect();
            assert_eq!(
                updated[3..5],
                [("norm.running_mean", "parameter", true), ("norm.mask", "parameter", false)],
                "{kind:?}"
            );
        }
    }

    /// The description's input `x` as a square matrix of `structure`.
    fn square(structure: &str) -> Value {
        let mut d = description();
        d["inputs"][0]["shape"] = serde_json::json!([16, 16]);
        d["inputs"][0]["structure"] = structure.into();
        d
    }

    #[test]
    fn triangular_and_symmetric_inputs_keep_their_structure_and_masks_are_inputs() {
        for (name, structure) in [
            ("dense", Structure::Dense),
            ("lower", Structure::Lower),
            ("upper", Structure::Upper),
            ("symmetric", Structure::Symmetric),
        ] {
            let p = from_description("p.py", String::new(), &square(name)).unwrap();
            assert_eq!(p.tensors[0].structure, structure, "{name}");
            // Told to the candidate's worker, whose warm-up call draws inputs of its own.
            let option = p.torch().unwrap().option(&p, &p.timed_sizes(), ModelKind::ModelNew, false);
            let spec: Value = serde_json::from_str(option.strip_prefix(OPTION).unwrap()).unwrap();
            let told = spec["args"][0].get("structure").and_then(Value::as_str);
            assert_eq!(told, (structure != Structure::Dense).then_some(name), "{name}");
            let spec = &p.buffers(&p.timed_sizes())[0];
            assert_eq!((spec.structure, spec.rows(), spec.cols()), (structure, 16, 16), "{name}");
            assert!(p.tensors[1..].iter().all(|t| t.structure == Structure::Dense), "parameters and outputs are dense");
        }
        // A batch of square matrices is symmetric matrix by matrix.
        let mut d = square("symmetric");
        d["inputs"][0]["shape"] = serde_json::json!([3, 16, 16]);
        assert_eq!(from_description("p.py", String::new(), &d).unwrap().tensors[0].structure, Structure::Symmetric);
        // A bool mask (drawn by get_inputs(), as int(0, 2)) is an input like any other.
        let mut d = description();
        d["inputs"][0]["dtype"] = "bool".into();
        d["inputs"][0]["distribution"] = serde_json::json!({"kind": "int", "lo": 0, "hi": 2});
        let p = from_description("p.py", String::new(), &d).unwrap();
        assert_eq!((p.tensors[0].dtype, p.tensors[0].role), (Dtype::Bool, Role::Input));
        let drawn = p.tensors[0].distributions[0].at(&p.timed_sizes()).unwrap();
        assert_eq!(drawn, Distribution::Int { lo: 0, hi: 2 });
        assert_eq!(drawn.unfit_for(Dtype::Bool), None);
        assert!(p.lint().is_ok(), "{:?}", p.lint());
    }

    #[test]
    fn what_cannot_be_judged_is_said() {
        // One line each, naming the input and why.
        let e = from_description("p.py", String::new(), &square("diagonal")).unwrap_err();
        assert!(e.contains("input `x` is diagonal") && e.contains("cannot be judged yet"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let mut d = square("symmetric");
        d["inputs"][0]["shape"] = serde_json::json!([8, 16]);
        let e = from_description("p.py", String::new(), &d).unwrap_err();
        assert!(e.contains("input `x`") && e.contains("square") && e.contains("8 × 16"), "{e}");
        assert!(!e.contains('\n'), "{e}");

        let mut d = description();
        d["outputs"] = serde_json::json!([]);
        assert!(from_description("p.py", String::new(), &d).unwrap_err().contains("returns no tensor"));

        let mut d = description();
        d["outputs"][0]["dtype"] = "bool".into();
        let e = from_description("p.py", String::new(), &d).unwrap_err();
        assert!(e.contains("output `out0`: bool outputs are not judged yet"), "{e}");

        let mut d = description();
        d["parameters"][1]["name"] = "fc_weight".into();
        let e = from_description("p.py", String::new(), &d).unwrap_err();
        assert!(e.contains("two tensors") && e.contains("fc_weight"), "{e}");

        let mut d = description();
        d["inputs"][0]["shape"] = serde_json::json!([8, 0]);
        assert!(from_description("p.py", String::new(), &d).unwrap_err().contains("not a positive integer"));
    }
}
