//! `problem.toml`: a problem as data. Parsing and the lint (every symbol declared, constraints
//! hold at every case, floors no larger than the footprint), with the file and line of each
//! mistake. See `docs/PROBLEMS.md` for the format.

mod raw;

use std::collections::BTreeMap;
use std::ops::Range;

use sha2::Digest as _;
use toml::Spanned;

use super::{
    Baseline, BaselineOp, Constraint, Conv2d, Distribution, DistributionSpec, Dtype, Gemm, Pool2d, Post, Problem,
    ReferenceKernel, ReferenceSpec, Role, ScaleRule, Sizes, Softmax, Structure, Tensor,
};
use crate::spec::{ArgSpec, Spec, is_identifier};
use crate::vocab::{Expr, ToleranceClass};
use raw::{RawExpr, RawGemm, RawProblem};

/// A mistake in a problem definition: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ProblemError {
    pub origin: String,
    pub line: Option<usize>,
    pub message: String,
}

/// The stress profiles a float input drawn by default gets, by the problem's family: chosen so
/// that a numerically careless kernel of the family fails while an honest, numerically safe one
/// (and the fp64 truth) does not. See `docs/PROBLEMS.md`.
pub fn family_stress(family: &str) -> Vec<Distribution> {
    use Distribution::*;
    match family {
        // Logits far from zero with a narrow spread: every exp of an unshifted argument overflows
        // (e^100) or underflows (e^-120) in fp32, while x − max stays exact (Sterbenz: every value
        // of a row within a factor of two of the max).
        "softmax" | "loss" => vec![Randn { mean: 100.0, std: 2.0 }, Randn { mean: -120.0, std: 2.0 }],
        // Magnitudes from 2^-40 to 2^40, and subnormals: within every library function's domain.
        "elementwise" => vec![Exp2 { lo: -40, hi: 40 }, Subnormal],
        // Exact ties for arg-reductions, maxima and scans; rows of zeros where a zero row is
        // harmless (not for a norm without eps, whose truth is then 0/0).
        "reduction" | "scan" | "gemm" | "conv" | "pooling" => vec![Ties { k: 4 }, ZeroRows { p: 0.25 }],
        "attention" => vec![ZeroRows { p: 0.25 }],
        _ => vec![Ties { k: 4 }],
    }
}

/// Byte offsets in the TOML text to lines.
struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn of(&self, span: Range<usize>) -> usize {
        1 + self.0.as_bytes()[..span.start.min(self.0.len())].iter().filter(|&&b| b == b'\n').count()
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Parse `problem.toml` (its text) and, for a kernel reference, `read` the file it names.
pub fn parse(origin: &str, text: &str, read: &dyn Fn(&str) -> Result<String, String>) -> Result<Problem, ProblemError> {
    let lines = Lines(text);
    let err = |line: Option<usize>, message: String| ProblemError {
        origin: origin.to_string(),
        line,
        message: message.replace('\n', " "),
    };
    let raw: RawProblem =
        toml::from_str(text).map_err(|e| err(e.span().map(|s| lines.of(s)), e.message().trim().into()))?;
    let name_line = lines.of(raw.name.span());
    let name = raw.name.into_inner();
    if !is_identifier(&name) {
        return Err(err(Some(name_line), format!("problem name `{name}` is not an identifier")));
    }

    // Sizes.
    let sizes_line = lines.of(raw.sizes.span());
    let rs = raw.sizes.into_inner();
    for s in &rs.symbols {
        if !is_identifier(s) {
            return Err(err(Some(sizes_line), format!("size symbol `{s}` is not an identifier")));
        }
    }
    let symbols: Vec<&'static str> = rs.symbols.iter().map(|s| leak(s.clone())).collect();
    let expr_at = |raw: &RawExpr, line: usize, what: &str| -> Result<Expr, ProblemError> {
        let e = match raw {
            RawExpr::Int(v) => Expr::constant(*v),
            RawExpr::Text(t) => Expr::parse(t).map_err(|e| err(Some(line), format!("{what}: {e}")))?,
        };
        if let Some(s) = e.symbols().into_iter().find(|s| !symbols.contains(&s.as_str())) {
            return Err(err(
                Some(line),
                format!("{what}: unknown size symbol `{s}` in `{e}` (sizes: {})", symbols.join(", ")),
            ));
        }
        Ok(e)
    };
    let mut constraints = Vec::new();
    for c in &rs.constraints {
        let line = lines.of(c.span());
        let parsed = Constraint::parse(c.get_ref(), &|t| expr_at(&RawExpr::Text(t.into()), line, "constraint"));
        constraints.push(parsed.ok_or_else(|| {
            err(Some(line), format!("constraint `{}`: expected a comparison (==, !=, >=, <=, >, <)", c.get_ref()))
        })??);
    }
    let case = |c: &Spanned<BTreeMap<String, i64>>, kind: &str| -> Result<Sizes, ProblemError> {
        let line = lines.of(c.span());
        let map = c.get_ref();
        for s in &symbols {
            if !map.contains_key(*s) {
                return Err(err(Some(line), format!("{kind} case {}: no value for size `{s}`", show(map))));
            }
        }
        if let Some(k) = map.keys().find(|k| !symbols.contains(&k.as_str())) {
            return Err(err(Some(line), format!("{kind} case {}: `{k}` is not a size symbol", show(map))));
        }
        let sizes = Sizes(map.clone());
        for c in &constraints {
            c.holds(&sizes).map_err(|m| err(Some(line), format!("{kind} case {sizes}: {m}")))?;
        }
        Ok(sizes)
    };
    let timed: Vec<Sizes> = rs.timed.iter().map(|c| case(c, "timed")).collect::<Result<_, _>>()?;
    let check: Vec<Sizes> = rs.check.iter().map(|c| case(c, "check")).collect::<Result<_, _>>()?;
    let small = case(&rs.small, "small")?;
    if timed.is_empty() {
        return Err(err(Some(sizes_line), "no timed case: say which sizes speed is measured at".into()));
    }

    // Tensors.
    let mut tensors = Vec::new();
    for t in &raw.tensors {
        let line = lines.of(t.span());
        let r = t.get_ref();
        let what = |m: String| err(Some(line), format!("tensor `{}`: {m}", r.name));
        if !is_identifier(&r.name) || symbols.contains(&r.name.as_str()) {
            return Err(what("the name must be an identifier unlike every size symbol".into()));
        }
        if tensors.iter().any(|x: &Tensor| x.name == r.name) {
            return Err(what("declared twice".into()));
        }
        let role = match r.role.as_str() {
            "input" => Role::Input,
            "output" => Role::Output,
            other => return Err(what(format!("role `{other}`: expected `input` or `output`"))),
        };
        let dtype =
            Dtype::parse(&r.dtype).ok_or_else(|| what(format!("dtype `{}` unknown ({})", r.dtype, Dtype::NAMES)))?;
        if role == Role::Output && !dtype.judged_output() {
            return Err(what(format!(
                "{} outputs are not judged yet (outputs: {}; u8 and bool tensors may be inputs)",
                r.dtype,
                Dtype::JUDGED_OUTPUTS
            )));
        }
        let shape = r
            .shape
            .iter()
            .map(|e| expr_at(e, line, &format!("tensor `{}` shape", r.name)))
            .collect::<Result<Vec<_>, _>>()?;
        if shape.is_empty() {
            return Err(what("empty shape".into()));
        }
        let structure = match r.structure.as_deref().map(|s| (s, Structure::parse(s))) {
            None => Structure::Dense,
            Some((name, None)) => {
                return Err(what(format!("structure `{name}`: expected `lower`, `upper` or `symmetric`")));
            }
            Some((_, Some(s))) if s != Structure::Dense && shape.len() < 2 => {
                return Err(what(format!("structure `{s}` is for matrices: the tensor needs at least two dimensions")));
            }
            // A symmetric one is square at every case: the lint evaluates its shape at each.
            Some((_, Some(s))) => s,
        };
        let distributions = if role == Role::Input {
            let expr =
                |t: &str| expr_at(&RawExpr::Text(t.trim().into()), line, "distribution bound").map_err(|e| e.message);
            let mut d: Vec<DistributionSpec> = r
                .distributions
                .iter()
                .map(|s| DistributionSpec::parse(s, &expr).map_err(&what))
                .collect::<Result<_, _>>()?;
            if d.len() > 2 {
                return Err(what(
                    "at most two distributions: the first trial's and timing's, then the second's".into(),
                ));
            }
            if d.is_empty() {
                d.push(DistributionSpec::Fixed(Distribution::STANDARD_NORMAL));
            }
            if d.len() == 1 {
                // An integer input keeps its one distribution; a float one gets rand second.
                let second =
                    if d[0].is_int() { d[0].clone() } else { DistributionSpec::Fixed(Distribution::UNIT_UNIFORM) };
                d.push(second);
            }
            if !dtype.is_float() {
                if r.distributions.is_empty() {
                    return Err(what("an integer input needs its distribution, e.g. int(0, C)".into()));
                }
                if let Some(bad) = d.iter().find(|d| !d.is_int()) {
                    return Err(what(format!("distribution `{bad}` for an integer tensor: use int(lo, hi)")));
                }
            }
            d
        } else {
            if !r.distributions.is_empty() {
                return Err(what("outputs are poisoned, never drawn: no distributions".into()));
            }
            Vec::new()
        };
        let stress = match (&r.stress, role) {
            (Some(_), Role::Output) => return Err(what("outputs are poisoned, never drawn: no stress".into())),
            (None, Role::Output) => Vec::new(),
            (Some(list), Role::Input) => {
                let expr =
                    |t: &str| expr_at(&RawExpr::Text(t.trim().into()), line, "stress bound").map_err(|e| e.message);
                let specs: Vec<DistributionSpec> = list
                    .iter()
                    .map(|s| {
                        DistributionSpec::parse(s, &expr).map_err(|m| what(m.replacen("distribution", "stress", 1)))
                    })
                    .collect::<Result<_, _>>()?;
                if !dtype.is_float()
                    && let Some(bad) = specs.iter().find(|d| !d.is_int())
                {
                    return Err(what(format!("stress `{bad}` for an integer tensor: use int(lo, hi)")));
                }
                specs
            }
            // A float input drawn by default gets its family's profiles; one whose first
            // distribution was chosen (a layer norm's weight) and integer inputs keep theirs.
            (None, Role::Input) => match distributions.first() {
                Some(DistributionSpec::Fixed(d)) if dtype.is_float() && *d == Distribution::STANDARD_NORMAL => {
                    family_stress(&raw.family).iter().map(|s| DistributionSpec::Fixed(*s)).collect()
                }
                _ => Vec::new(),
            },
        };
        for spec in distributions.iter().chain(&stress) {
            if let DistributionSpec::Fixed(d) = spec
                && let Some(why) = d.unfit_for(dtype)
            {
                return Err(what(why));
            }
        }
        let tolerance = match &r.tolerance {
            None => None,
            Some(_) if role == Role::Input => return Err(what("inputs are drawn, never judged: no tolerance".into())),
            Some(t) => {
                let class = ToleranceClass::parse(t)
                    .ok_or_else(|| what(format!("tolerance `{t}` unknown ({})", ToleranceClass::NAMES)))?;
                if !dtype.is_float() && class != ToleranceClass::Exact {
                    return Err(what(format!("tolerance `{t}` for an integer output: integers are exact")));
                }
                Some(class)
            }
        };
        if structure != Structure::Dense && !(dtype.is_float() && role == Role::Input) {
            return Err(what(format!("structure `{structure}` is for floating-point input matrices")));
        }
        tensors.push(Tensor {
            name: leak(r.name.clone()),
            role,
            dtype,
            shape,
            structure,
            distributions,
            tolerance,
            stress,
        });
    }
    if !tensors.iter().any(|t| t.role == Role::Input) || !tensors.iter().any(|t| t.role == Role::Output) {
        return Err(err(None, "a problem needs at least one input and one output tensor".into()));
    }

    // Reference.
    let ref_line = lines.of(raw.reference.span());
    let rr = raw.reference.into_inner();
    let terms = expr_at(&rr.terms, ref_line, "reference terms")?;
    let scale = match rr.scale.as_deref() {
        None | Some("abs") => ScaleRule::Abs,
        Some("kernel") => ScaleRule::Kernel,
        Some(other) => {
            return Err(err(Some(ref_line), format!("reference scale `{other}`: expected `abs` or `kernel`")));
        }
    };
    let gemm = |g: &RawGemm, line: usize, what: &str| -> Result<Gemm, ProblemError> {
        for n in [&g.a, &g.b, &g.c] {
            if !tensors.iter().any(|t| t.name == n.as_str()) {
                return Err(err(Some(line), format!("{what}: no tensor `{n}`")));
            }
        }
        Ok(Gemm {
            a: leak(g.a.clone()),
            b: leak(g.b.clone()),
            c: leak(g.c.clone()),
            m: expr_at(&g.m, line, what)?,
            n: expr_at(&g.n, line, what)?,
            k: expr_at(&g.k, line, what)?,
            batch: g.batch.as_ref().map(|b| expr_at(b, line, what)).transpose()?.unwrap_or(Expr::constant(1)),
            transpose_a: g.transpose_a,
        })
    };
    let reference = match (rr.builtin.as_deref(), &rr.kernel) {
        (Some("gemm"), None) => {
            let g =
                rr.gemm.as_ref().ok_or_else(|| err(Some(ref_line), "builtin gemm needs [reference.gemm]".into()))?;
            if scale != ScaleRule::Abs {
                return Err(err(Some(ref_line), "builtin gemm's scale is always `abs`".into()));
            }
            ReferenceSpec::Gemm(gemm(g, ref_line, "reference gemm")?)
        }
        (None, Some(file)) => {
            let source = read(file).map_err(|m| err(Some(ref_line), format!("reference kernel `{file}`: {m}")))?;
            let spec = Spec::parse(&source).map_err(|(line, m)| ProblemError {
                origin: format!("{origin} ({file})"),
                line,
                message: m,
            })?;
            let mut kernel = ReferenceKernel { file: file.clone(), source, launches: spec.launches };
            kernel
                .check_names(&tensors, &symbols, scale)
                .map_err(|m| err(Some(ref_line), format!("reference kernel `{file}`: {m}")))?;
            ReferenceSpec::Kernel(kernel)
        }
        (Some(other), None) => {
            return Err(err(Some(ref_line), format!("builtin reference `{other}`: expected `gemm`")));
        }
        _ => return Err(err(Some(ref_line), "the reference is either `builtin` or `kernel`".into())),
    };

    // Floors.
    let floors_line = lines.of(raw.floors.span());
    let rf = raw.floors.into_inner();
    let flops = expr_at(&rf.flops, floors_line, "flops floor")?;
    let bytes = expr_at(&rf.bytes, floors_line, "bytes floor")?;

    // Baselines.
    let mut baselines = Vec::new();
    for b in &raw.baselines {
        let line = lines.of(b.span());
        let rb = b.get_ref();
        let post = match rb.post.as_deref() {
            None => None,
            Some("tril") => Some(Post::Tril),
            Some(other) => return Err(err(Some(line), format!("baseline post `{other}`: expected `tril`"))),
        };
        let tensor = |name: &str| -> Result<&'static str, ProblemError> {
            if tensors.iter().any(|t| t.name == name) {
                Ok(leak(name.to_string()))
            } else {
                Err(err(Some(line), format!("baseline {}: no tensor `{name}`", rb.builtin)))
            }
        };
        let x = |e: &RawExpr| expr_at(e, line, &format!("baseline {}", rb.builtin));
        let or = |e: &Option<RawExpr>, default: i64| e.as_ref().map_or(Ok(Expr::constant(default)), &x);
        let needs = |what: &str| err(Some(line), format!("baseline {} needs its [baseline.{what}]", rb.builtin));
        let given = [
            rb.gemm.is_some(),
            rb.conv2d.is_some(),
            rb.pool2d.is_some(),
            rb.softmax.is_some(),
            rb.expression.is_some(),
        ];
        if given.iter().filter(|&&g| g).count() > 1 {
            return Err(err(
                Some(line),
                "a baseline is one library call: give one of gemm, conv2d, pool2d, softmax, expression".into(),
            ));
        }
        if post.is_some() && rb.builtin != "cublas.gemm" {
            return Err(err(Some(line), "`post` follows a cublas.gemm baseline only".into()));
        }
        let op = match rb.builtin.as_str() {
            "cublas.gemm" => {
                BaselineOp::Gemm(gemm(rb.gemm.as_ref().ok_or_else(|| needs("gemm"))?, line, "baseline gemm")?)
            }
            "cudnn.conv2d" => {
                let c = rb.conv2d.as_ref().ok_or_else(|| needs("conv2d"))?;
                BaselineOp::Conv2d(Conv2d {
                    input: tensor(&c.input)?,
                    filter: tensor(&c.filter)?,
                    output: tensor(&c.output)?,
                    dims: [
                        x(&c.n)?,
                        x(&c.c)?,
                        x(&c.h)?,
                        x(&c.w)?,
                        x(&c.k)?,
                        x(&c.r)?,
                        x(&c.s)?,
                        or(&c.pad, 0)?,
                        or(&c.stride, 1)?,
                        or(&c.groups, 1)?,
                    ],
                })
            }
            "cudnn.pool2d" => {
                let p = rb.pool2d.as_ref().ok_or_else(|| needs("pool2d"))?;
                let max = match p.mode.as_str() {
                    "max" => true,
                    "avg" => false,
                    other => {
                        return Err(err(
                            Some(line),
                            format!("baseline pool2d mode `{other}`: expected `max` or `avg`"),
                        ));
                    }
                };
                let window = x(&p.window)?;
                let stride = p.stride.as_ref().map_or(Ok(window.clone()), &x)?;
                BaselineOp::Pool2d(Pool2d {
                    input: tensor(&p.input)?,
                    output: tensor(&p.output)?,
                    max,
                    dims: [x(&p.n)?, x(&p.c)?, x(&p.h)?, x(&p.w)?, window, stride, or(&p.pad, 0)?],
                })
            }
            "cudnn.softmax" => {
                let m = rb.softmax.as_ref().ok_or_else(|| needs("softmax"))?;
                BaselineOp::Softmax(Softmax {
                    input: tensor(&m.input)?,
                    output: tensor(&m.output)?,
                    log: m.log,
                    rows: x(&m.rows)?,
                    cols: x(&m.cols)?,
                })
            }
            "torch" => {
                let expression = rb.expression.as_deref().map(str::trim).unwrap_or_default();
                if expression.is_empty() {
                    return Err(err(
                        Some(line),
                        "baseline torch needs its `expression` (e.g. \"F.layer_norm(x, (D,), weight, bias, 1e-5)\")"
                            .into(),
                    ));
                }
                if rb.like.is_some() {
                    return Err(err(Some(line), "a torch baseline is what users run: it takes no `like`".into()));
                }
                BaselineOp::Torch(super::TorchBaseline { expression: leak(expression.to_string()) })
            }
            other => {
                return Err(err(
                    Some(line),
                    format!(
                        "baseline `{other}`: expected `cublas.gemm`, `cudnn.conv2d`, `cudnn.pool2d`, `cudnn.softmax` \
                         or `torch`"
                    ),
                ));
            }
        };
        if rb.expression.is_some() && !matches!(op, BaselineOp::Torch(_)) {
            return Err(err(Some(line), format!("baseline {}: `expression` is for torch baselines", rb.builtin)));
        }
        if matches!(op, BaselineOp::Torch(_))
            && baselines.iter().any(|b: &Baseline| !matches!(b.op, BaselineOp::Torch(_)))
        {
            return Err(err(Some(line), "a torch baseline comes first, or alone".into()));
        }
        baselines.push(Baseline { op, post, like: rb.like.clone() });
    }

    let mut digest = sha2::Sha256::new();
    sha2::Digest::update(&mut digest, text.as_bytes());
    if let ReferenceSpec::Kernel(k) = &reference {
        sha2::Digest::update(&mut digest, k.source.as_bytes());
    }
    let sha256 = leak(hex::encode(sha2::Digest::finalize(digest)));
    let problem = Problem {
        sha256,
        name: leak(name),
        summary: leak(raw.summary),
        family: leak(raw.family),
        kernelbench: raw.kernelbench.map(leak),
        origin: leak(origin.to_string()),
        symbols: Box::leak(symbols.into_boxed_slice()),
        constraints,
        check,
        timed,
        small,
        tensors,
        reference,
        scale,
        terms,
        flops,
        bytes,
        baselines,
    };
    problem.lint().map_err(|m| err(None, m))?;
    Ok(problem)
}

fn show(map: &BTreeMap<String, i64>) -> String {
    let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

impl ReferenceKernel {
    /// Every buffer argument names an input, an output, or (scale = "kernel") an output's
    /// `<name>_scale`; everything else is a size expression.
    /// A size symbol named as an argument becomes its value.
    fn check_names(&mut self, tensors: &[Tensor], symbols: &[&str], scale: ScaleRule) -> Result<(), String> {
        let mut known: Vec<String> = tensors.iter().map(|t| t.name.to_string()).collect();
        if scale == ScaleRule::Kernel {
            known.extend(tensors.iter().filter(|t| t.role == Role::Output).map(|t| format!("{}_scale", t.name)));
        }
        for l in &mut self.launches {
            let kernel = l.kernel.clone();
            for a in &mut l.args {
                match a {
                    ArgSpec::Buffer(n) if known.contains(n) => {}
                    ArgSpec::Buffer(n) if symbols.contains(&n.as_str()) => {
                        *a = ArgSpec::Int(Expr::parse(n).map_err(|e| e.to_string())?);
                    }
                    ArgSpec::Buffer(n) => {
                        return Err(format!(
                            "launch `{kernel}`: unknown argument `{n}` (buffers: {}; sizes: {})",
                            known.join(", "),
                            symbols.join(", ")
                        ));
                    }
                    ArgSpec::Int(e) => {
                        if let Some(s) = e.symbols().into_iter().find(|s| !symbols.contains(&s.as_str())) {
                            return Err(format!("launch `{kernel}`: unknown size symbol `{s}`"));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
