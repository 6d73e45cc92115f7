//! Problems: what a candidate must compute, as data. A problem is a directory with a
//! `problem.toml` (see `docs/PROBLEMS.md`): size symbols and cases, named tensors with shapes and
//! input distributions, an fp64 reference (a built-in library operation or a trusted CUDA kernel),
//! the error scale, flop and byte floors, and library baselines. sadoku's own library of problems
//! (`problems/` in the source tree) is built into the binary; `--problems DIR` adds a user's.

pub mod drawn;
pub mod format;
pub mod torch;

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use serde::Serialize;

use crate::device::{Buffer, ConvShape, LibraryOp, PoolShape, Precision, Work};
use crate::spec::LaunchSpec;
pub use crate::vocab::{Distribution, Dtype, Expr, Sizes, ToleranceClass};

pub use format::ProblemError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Input,
    Output,
}

/// A named tensor the candidate reads or writes, at given sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BufferSpec {
    pub name: &'static str,
    pub role: Role,
    pub dtype: Dtype,
    /// Row-major shape, outermost first.
    pub dims: Vec<usize>,
    /// An input whose elements above the diagonal (of its last two dimensions) are zero.
    pub lower_triangular: bool,
}

impl BufferSpec {
    pub fn elements(&self) -> usize {
        self.dims.iter().product()
    }
    pub fn bytes(&self) -> usize {
        self.elements() * self.dtype.bytes()
    }
    /// Length of a row (the last dimension).
    pub fn cols(&self) -> usize {
        self.dims.last().copied().unwrap_or(1)
    }
    /// Row-major coordinates of a flat index, for evidence like "first at (1, 0)".
    pub fn coords(&self, mut index: usize) -> Vec<usize> {
        let mut out = vec![0; self.dims.len()];
        for (slot, &d) in out.iter_mut().zip(&self.dims).rev() {
            *slot = index % d.max(1);
            index /= d.max(1);
        }
        out
    }
}

/// An input's distribution as a problem declares it: `int(lo, hi)`'s bounds may be size
/// expressions (`int(0, C)`), resolved at each case.
#[derive(Debug, Clone, PartialEq)]
pub enum DistributionSpec {
    Fixed(Distribution),
    Int { lo: Expr, hi: Expr },
}

impl DistributionSpec {
    /// `int(lo, hi)` with expressions over the sizes (`expr` parses one), or what
    /// [`Distribution::parse`] reads.
    pub fn parse(text: &str, expr: &dyn Fn(&str) -> Result<Expr, String>) -> Result<DistributionSpec, String> {
        let t = text.trim();
        let Some(args) = t.strip_prefix("int(").and_then(|r| r.strip_suffix(')')) else {
            return Distribution::parse(t).map(DistributionSpec::Fixed);
        };
        // Split at the top-level comma: a bound may itself call max(a, b).
        let mut depth = 0;
        let split = args.char_indices().find(|&(_, c)| {
            depth += (c == '(') as i32 - (c == ')') as i32;
            c == ',' && depth == 0
        });
        let Some((at, _)) = split else { return Err(format!("distribution `{t}`: expected int(lo, hi)")) };
        let (lo, hi) = (expr(&args[..at])?, expr(&args[at + 1..])?);
        Ok(DistributionSpec::Int { lo, hi })
    }

    /// The distribution at `sizes`.
    pub fn at(&self, sizes: &Sizes) -> Result<Distribution, String> {
        match self {
            DistributionSpec::Fixed(d) => Ok(*d),
            DistributionSpec::Int { lo, hi } => {
                let (l, h) = (sizes.eval(lo)?, sizes.eval(hi)?);
                if h <= l {
                    return Err(format!("distribution `{self}` is empty at {sizes} (int({l}, {h}))"));
                }
                Ok(Distribution::Int { lo: l, hi: h })
            }
        }
    }

    pub fn is_int(&self) -> bool {
        matches!(self, DistributionSpec::Int { .. } | DistributionSpec::Fixed(Distribution::Int { .. }))
    }
}

impl fmt::Display for DistributionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DistributionSpec::Fixed(d) => d.fmt(f),
            DistributionSpec::Int { lo, hi } => write!(f, "int({lo}, {hi})"),
        }
    }
}

/// fp64 ground truth for one output, plus the scale its rounding error is measured against.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub values: Vec<f64>,
    /// Per element, the sum of magnitudes of the terms that make it up (|A|·|B| for a product):
    /// the classical bound on any fp32 summation order's error is proportional to it.
    pub scale: Vec<f64>,
    /// Terms summed per element at most (the inner dimension), for that bound.
    pub terms: usize,
}

/// A relation the sizes must satisfy, e.g. `K % 8 == 0` or `N >= 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    text: String,
    left: Expr,
    op: &'static str,
    right: Expr,
}

impl Constraint {
    const OPS: [&'static str; 6] = ["==", "!=", ">=", "<=", ">", "<"];

    /// `left op right`, each side an expression `expr` parses; `None` without a comparison.
    fn parse<E>(text: &str, expr: &dyn Fn(&str) -> Result<Expr, E>) -> Option<Result<Constraint, E>> {
        let op = Self::OPS.into_iter().find(|op| text.contains(op))?;
        let (l, r) = text.split_once(op)?;
        Some((|| Ok(Constraint { text: text.trim().into(), left: expr(l)?, op, right: expr(r)? }))())
    }

    /// Ok when it holds at `sizes`; why not otherwise.
    pub fn holds(&self, sizes: &Sizes) -> Result<(), String> {
        let (l, r) = (sizes.eval(&self.left)?, sizes.eval(&self.right)?);
        let ok = match self.op {
            "==" => l == r,
            "!=" => l != r,
            ">=" => l >= r,
            "<=" => l <= r,
            ">" => l > r,
            _ => l < r,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("constraint `{}` does not hold ({l} {} {r} is false)", self.text, self.op))
        }
    }
}

/// A declared tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: &'static str,
    pub role: Role,
    pub dtype: Dtype,
    pub shape: Vec<Expr>,
    pub lower: bool,
    /// Inputs: the distribution of the first trial and of timing, then the second trial's.
    pub distributions: Vec<DistributionSpec>,
    /// Outputs: the tolerance class declared, if any (see [`Tensor::tolerance`]).
    pub tolerance: Option<ToleranceClass>,
    /// Inputs: the stress profiles' distributions, one per profile (cycled when shorter than the
    /// problem's list); empty: the first trial's distribution in every profile.
    pub stress: Vec<DistributionSpec>,
}

impl Tensor {
    /// The class this output is judged in: declared, else its dtype's default, else the review's.
    pub fn tolerance(&self, review: ToleranceClass) -> ToleranceClass {
        self.tolerance.or(self.dtype.default_tolerance()).map_or(review, |c| c.under(review))
    }
}

/// A (batched) row-major matrix product, C[b] = op(A[b]) · B[b], op transposing A when asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Gemm {
    pub a: &'static str,
    pub b: &'static str,
    pub c: &'static str,
    pub m: Expr,
    pub n: Expr,
    pub k: Expr,
    pub batch: Expr,
    pub transpose_a: bool,
}

/// How the error scale of each output element is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleRule {
    /// The same reference on the absolute values of the inputs (Σ|a·b| for a sum of products).
    Abs,
    /// The reference kernel writes `<output>_scale` itself.
    Kernel,
}

/// A trusted fp64 CUDA reference: candidate-style front matter whose launches name the inputs,
/// the outputs (fp64 there) and, with `scale = "kernel"`, `<output>_scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceKernel {
    pub file: String,
    pub source: String,
    pub launches: Vec<LaunchSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReferenceSpec {
    /// cuBLAS DGEMM on fp64 copies of the inputs.
    Gemm(Gemm),
    Kernel(ReferenceKernel),
    /// A KernelBench file's own `Model`, in a Python process of its own: its float64 truth, and
    /// eagerly in its own dtypes the baseline.
    Torch(Box<torch::TorchReference>),
}

/// Work after a baseline's library call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Post {
    Tril,
}

/// A library baseline, computed at the precision the review is for.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub op: BaselineOp,
    pub post: Option<Post>,
    /// What users would run, for the report.
    pub like: Option<String>,
}

/// The library call a baseline makes.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineOp {
    /// cuBLAS (strided batched) GEMM.
    Gemm(Gemm),
    /// cuDNN convolution forward, NCHW.
    Conv2d(Conv2d),
    /// cuDNN pooling forward, NCHW.
    Pool2d(Pool2d),
    /// cuDNN softmax forward over the last dimension.
    Softmax(Softmax),
    /// Eager PyTorch, for a problem no single library call does (norms, scans, losses): an
    /// expression the Model's Python process evaluates on the judge's buffers. It is checked
    /// once against the truth in every timed review before it is timed.
    Torch(TorchBaseline),
}

/// A PyTorch expression over the problem's inputs (by name) and size symbols, giving its
/// outputs: `F.layer_norm(x, (D,), weight, bias, 1e-5)`.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchBaseline {
    pub expression: &'static str,
}

/// A 2-D convolution, NCHW input [n, c, h, w], filter [k, c / groups, r, s], output
/// [n, k, ho, wo] with ho = (h + 2·pad − r) / stride + 1 (and wo likewise); no bias.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    pub input: &'static str,
    pub filter: &'static str,
    pub output: &'static str,
    /// n, c, h, w, k, r, s, pad, stride, groups.
    pub dims: [Expr; 10],
}

/// 2-D max or average pooling (average counting padding, as torch's default), NCHW.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool2d {
    pub input: &'static str,
    pub output: &'static str,
    pub max: bool,
    /// n, c, h, w, window, stride, pad.
    pub dims: [Expr; 7],
}

/// Softmax (or log-softmax) over each row of a [rows, cols] matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Softmax {
    pub input: &'static str,
    pub output: &'static str,
    pub log: bool,
    pub rows: Expr,
    pub cols: Expr,
}

fn eval_all<const N: usize>(sizes: &Sizes, dims: &[Expr; N]) -> Result<[usize; N], String> {
    let mut out = [0usize; N];
    for (o, e) in out.iter_mut().zip(dims) {
        *o = sizes.eval(e)?.max(0) as usize;
    }
    Ok(out)
}

impl Conv2d {
    pub fn shape(&self, sizes: &Sizes) -> Result<ConvShape, String> {
        let [n, c, h, w, k, r, s, pad, stride, groups] = eval_all(sizes, &self.dims)?;
        Ok(ConvShape { n, c, h, w, k, r, s, pad, stride, groups })
    }
}

impl Pool2d {
    pub fn shape(&self, sizes: &Sizes) -> Result<PoolShape, String> {
        let [n, c, h, w, window, stride, pad] = eval_all(sizes, &self.dims)?;
        Ok(PoolShape { n, c, h, w, window, stride, pad })
    }
}

/// One problem, as its `problem.toml` declares it.
#[derive(Debug)]
pub struct Problem {
    pub name: &'static str,
    pub summary: &'static str,
    pub family: &'static str,
    pub kernelbench: Option<&'static str>,
    /// Where it was defined: `library` or its directory.
    pub origin: &'static str,
    /// Hex SHA-256 of its definition (`problem.toml`, then the reference kernel's source): a
    /// review depends on it as much as on the candidate.
    pub sha256: &'static str,
    pub symbols: &'static [&'static str],
    pub constraints: Vec<Constraint>,
    pub check: Vec<Sizes>,
    pub timed: Vec<Sizes>,
    pub small: Sizes,
    pub tensors: Vec<Tensor>,
    pub reference: ReferenceSpec,
    pub scale: ScaleRule,
    pub terms: Expr,
    pub flops: Expr,
    pub bytes: Expr,
    pub baselines: Vec<Baseline>,
}

impl Problem {
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn summary(&self) -> &'static str {
        self.summary
    }

    pub fn size_symbols(&self) -> &'static [&'static str] {
        self.symbols
    }

    /// Every tensor at `sizes`, in declaration order.
    pub fn buffers(&self, sizes: &Sizes) -> Vec<BufferSpec> {
        self.tensors
            .iter()
            .map(|t| BufferSpec {
                name: t.name,
                role: t.role,
                dtype: t.dtype,
                dims: t.shape.iter().map(|e| sizes.eval(e).map_or(0, |v| v.max(0) as usize)).collect(),
                lower_triangular: t.lower,
            })
            .collect()
    }

    /// The size speed is measured (and claimed) at: the first timed case.
    pub fn timed_sizes(&self) -> Sizes {
        self.timed[0].clone()
    }

    /// Every size verified: the timed cases first, then the check cases.
    pub fn check_sizes(&self) -> Vec<Sizes> {
        let mut all = self.timed.clone();
        for c in &self.check {
            if !all.contains(c) {
                all.push(c.clone());
            }
        }
        all
    }

    /// A small awkward size, for slow instrumented runs (compute-sanitizer).
    pub fn small_sizes(&self) -> Sizes {
        self.small.clone()
    }

    /// The distribution of each input for trial kind `kind` at `sizes`: 0 the first trial's and
    /// timing's (zero mean by default), 1 the second trial's.
    pub fn input_distributions(&self, kind: usize, sizes: &Sizes) -> Vec<Distribution> {
        self.tensors
            .iter()
            .filter(|t| t.role == Role::Input)
            // The lint evaluated every bound at every case; a user's --size is validated likewise.
            .map(|t| t.distributions[kind.min(1)].at(sizes).unwrap_or(Distribution::Int { lo: 0, hi: 1 }))
            .collect()
    }

    /// How many stress profiles the problem has (0: none, as for a KernelBench file's inputs).
    pub fn stress_profiles(&self) -> usize {
        self.tensors.iter().filter(|t| t.role == Role::Input).map(|t| t.stress.len()).max().unwrap_or(0)
    }

    /// The distribution of each input in stress profile `profile` at `sizes`: its own entry of
    /// that profile, cycling through a shorter list, or its first trial's distribution.
    pub fn stress_distributions(&self, profile: usize, sizes: &Sizes) -> Vec<Distribution> {
        self.tensors
            .iter()
            .filter(|t| t.role == Role::Input)
            .map(|t| {
                let spec = if t.stress.is_empty() { &t.distributions[0] } else { &t.stress[profile % t.stress.len()] };
                // Linted at every case like the distributions.
                spec.at(sizes).unwrap_or(Distribution::Int { lo: 0, hi: 1 })
            })
            .collect()
    }

    /// Each output's tolerance class in a review for `review`, in declaration order.
    pub fn output_tolerances(&self, review: ToleranceClass) -> Vec<ToleranceClass> {
        self.tensors.iter().filter(|t| t.role == Role::Output).map(|t| t.tolerance(review)).collect()
    }

    /// Sizes a user asked to time at (`--size`): every symbol known, every constraint holding,
    /// every shape and floor computable.
    pub fn validate_sizes(&self, sizes: &Sizes) -> Result<(), String> {
        for s in self.symbols {
            if sizes.get(s).is_none() {
                return Err(format!("problem `{}` needs a value for size `{s}`", self.name));
            }
        }
        for c in &self.constraints {
            c.holds(sizes)?;
        }
        self.shapes_and_floors(sizes).map(drop)?;
        self.distributions_at(sizes)
    }

    /// Every input distribution is drawable at `sizes` (int bounds computable and not empty).
    fn distributions_at(&self, sizes: &Sizes) -> Result<(), String> {
        for t in &self.tensors {
            for d in t.distributions.iter().chain(&t.stress) {
                d.at(sizes).map_err(|m| format!("tensor `{}`: {m}", t.name))?;
            }
        }
        Ok(())
    }

    fn shapes_and_floors(&self, sizes: &Sizes) -> Result<(i64, i64, i64), String> {
        let mut footprint = 0i64;
        for t in &self.tensors {
            let mut n = 1i64;
            for e in &t.shape {
                let v = sizes.eval(e).map_err(|m| format!("tensor `{}` shape: {m}", t.name))?;
                if v < 1 {
                    return Err(format!(
                        "tensor `{}`: dimension `{e}` = {v} at {sizes}; it must be at least 1",
                        t.name
                    ));
                }
                n = n.checked_mul(v).ok_or_else(|| format!("tensor `{}` is too large at {sizes}", t.name))?;
            }
            footprint = footprint.saturating_add(n.saturating_mul(t.dtype.bytes() as i64));
        }
        let flops = sizes.eval(&self.flops).map_err(|m| format!("flops floor: {m}"))?;
        let bytes = sizes.eval(&self.bytes).map_err(|m| format!("bytes floor: {m}"))?;
        Ok((flops, bytes, footprint))
    }

    /// The format's lint, beyond parsing: every case computable, floors plausible.
    pub fn lint(&self) -> Result<(), String> {
        for sizes in self.check_sizes().iter().chain([&self.small]) {
            let (flops, bytes, footprint) = self.shapes_and_floors(sizes).map_err(|m| format!("at {sizes}: {m}"))?;
            if flops < 0 || bytes < 0 {
                return Err(format!("at {sizes}: negative floor (flops {flops}, bytes {bytes})"));
            }
            if bytes > footprint {
                return Err(format!(
                    "at {sizes}: the bytes floor ({bytes}) exceeds what the tensors hold ({footprint}); a floor must be a lower bound"
                ));
            }
            self.distributions_at(sizes).map_err(|m| format!("at {sizes}: {m}"))?;
            let terms = sizes.eval(&self.terms).map_err(|m| format!("at {sizes}: reference terms: {m}"))?;
            if terms < 1 {
                return Err(format!("at {sizes}: reference terms = {terms}; at least 1"));
            }
        }
        if let ReferenceSpec::Gemm(g) = &self.reference {
            self.check_gemm(g, "reference gemm")?;
        }
        for b in &self.baselines {
            match &b.op {
                BaselineOp::Gemm(g) => self.check_gemm(g, "baseline gemm")?,
                op => self.check_cudnn(op)?,
            }
        }
        Ok(())
    }

    /// A GEMM's operands hold exactly batch × m × k, batch × k × n and batch × m × n elements at
    /// every case.
    fn check_gemm(&self, g: &Gemm, what: &str) -> Result<(), String> {
        let dtype = self.gemm_dtype(g);
        for name in [g.a, g.b, g.c] {
            let t = self.tensors.iter().find(|t| t.name == name).map(|t| t.dtype);
            if t != Some(dtype) || !matches!(dtype, Dtype::F32 | Dtype::F16 | Dtype::Bf16) {
                return Err(format!("{what}: `{}`, `{}` and `{}` must all be f32, all f16 or all bf16", g.a, g.b, g.c));
            }
        }
        for sizes in self.check_sizes().iter().chain([&self.small]) {
            let (m, n, k, batch) = g.dims(sizes)?;
            let elements =
                |name: &str| self.buffers(sizes).into_iter().find(|b| b.name == name).map_or(0, |b| b.elements());
            for (name, want) in [(g.a, batch * m * k), (g.b, batch * k * n), (g.c, batch * m * n)] {
                if elements(name) != want {
                    return Err(format!(
                        "at {sizes}: {what}: `{name}` holds {} elements, the product needs {want}",
                        elements(name)
                    ));
                }
            }
        }
        Ok(())
    }

    /// A cuDNN baseline's tensors are f32 and hold exactly what its geometry says at every case.
    fn check_cudnn(&self, op: &BaselineOp) -> Result<(), String> {
        for sizes in self.check_sizes().iter().chain([&self.small]) {
            let want: Vec<(&str, usize)> = match op {
                BaselineOp::Gemm(_) | BaselineOp::Torch(_) => return Ok(()),
                BaselineOp::Conv2d(c) => {
                    let s = c.shape(sizes)?;
                    if s.groups == 0 || s.stride == 0 || s.c % s.groups != 0 || s.k % s.groups != 0 {
                        return Err(format!(
                            "at {sizes}: baseline conv2d: groups ({}) must divide c ({}) and k ({}), stride ({}) be at least 1",
                            s.groups, s.c, s.k, s.stride
                        ));
                    }
                    if s.h + 2 * s.pad < s.r || s.w + 2 * s.pad < s.s {
                        return Err(format!("at {sizes}: baseline conv2d: the filter is larger than the padded input"));
                    }
                    let (ho, wo) = s.output_hw();
                    vec![
                        (c.input, s.n * s.c * s.h * s.w),
                        (c.filter, s.k * (s.c / s.groups) * s.r * s.s),
                        (c.output, s.n * s.k * ho * wo),
                    ]
                }
                BaselineOp::Pool2d(p) => {
                    let s = p.shape(sizes)?;
                    if s.stride == 0 || s.window == 0 || s.h + 2 * s.pad < s.window || s.w + 2 * s.pad < s.window {
                        return Err(format!(
                            "at {sizes}: baseline pool2d: window larger than the padded input, or zero"
                        ));
                    }
                    let (ho, wo) = s.output_hw();
                    vec![(p.input, s.n * s.c * s.h * s.w), (p.output, s.n * s.c * ho * wo)]
                }
                BaselineOp::Softmax(m) => {
                    let (r, c) = (sizes.eval(&m.rows)?.max(0) as usize, sizes.eval(&m.cols)?.max(0) as usize);
                    vec![(m.input, r * c), (m.output, r * c)]
                }
            };
            let buffers = self.buffers(sizes);
            for (name, elements) in want {
                let Some(b) = buffers.iter().find(|b| b.name == name) else {
                    return Err(format!("baseline: no tensor `{name}`"));
                };
                if b.dtype != Dtype::F32 {
                    return Err(format!("baseline: `{name}` is {}; cuDNN baselines take f32 tensors", b.dtype));
                }
                if b.elements() != elements {
                    return Err(format!(
                        "at {sizes}: baseline: `{name}` holds {} elements, the library call reads or writes {elements}",
                        b.elements()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The element type of a GEMM's operands (its A's).
    pub fn gemm_dtype(&self, g: &Gemm) -> Dtype {
        self.tensors.iter().find(|t| t.name == g.a).map_or(Dtype::F32, |t| t.dtype)
    }

    /// The least arithmetic any correct kernel must do.
    pub fn min_flops(&self, sizes: &Sizes) -> f64 {
        sizes.eval(&self.flops).unwrap_or(0) as f64
    }

    /// The fewest bytes any correct kernel must move through DRAM after an L2 flush, within the
    /// timed window.
    pub fn min_bytes(&self, sizes: &Sizes) -> f64 {
        sizes.eval(&self.bytes).unwrap_or(0) as f64
    }

    /// Terms summed per output element at most, for the rounding bound.
    pub fn terms(&self, sizes: &Sizes) -> usize {
        sizes.eval(&self.terms).map_or(1, |v| v.max(1) as usize)
    }

    /// fp32 tensors as the host reads them, by name.
    fn index_of(&self, name: &str, role: Role) -> usize {
        self.tensors.iter().filter(|t| t.role == role).position(|t| t.name == name).unwrap_or(0)
    }

    /// The host's independent fp64 truth, where sadoku has one (built-in references): plain loops.
    /// `inputs` are the inputs' values, in declaration order.
    pub fn reference_host(&self, sizes: &Sizes, inputs: &[Vec<f64>]) -> Option<Vec<Reference>> {
        let ReferenceSpec::Gemm(g) = &self.reference else { return None };
        let (m, n, k, batch) = g.dims(sizes).ok()?;
        let (a, b) = (&inputs[self.index_of(g.a, Role::Input)], &inputs[self.index_of(g.b, Role::Input)]);
        let mut values = vec![0f64; batch * m * n];
        let mut scale = vec![0f64; batch * m * n];
        use rayon::prelude::*;
        values.par_chunks_mut(n.max(1)).zip(scale.par_chunks_mut(n.max(1))).enumerate().for_each(|(row, (v, s))| {
            let (p, i) = (row / m.max(1), row % m.max(1));
            // Row i of C as a sum of rows of B, in order of l: contiguous, and zeros of A (half of a
            // triangular one) skipped.
            for l in 0..k {
                let av = if g.transpose_a { a[p * k * m + l * m + i] } else { a[p * m * k + i * k + l] };
                if av == 0.0 {
                    continue;
                }
                let b_row = &b[p * k * n + l * n..p * k * n + (l + 1) * n];
                for ((x, y), &bv) in v.iter_mut().zip(s.iter_mut()).zip(b_row) {
                    let t = av * bv;
                    *x += t;
                    *y += t.abs();
                }
            }
        });
        Some(vec![Reference { values, scale, terms: self.terms(sizes) }])
    }

    /// The precision the baseline computes in for a review at `review`: a GEMM of bf16 or fp16
    /// operands is always that (with fp32 accumulation, as torch.matmul does), an fp32 one the
    /// review's (TF32 tensor cores only under `--precision tf32`).
    pub fn baseline_precision(&self, review: Precision) -> Precision {
        if self.baseline_in_python() {
            // Eager PyTorch in the problem's own dtypes; TF32 only when the review is for it.
            return review;
        }
        match self.baselines.first().map(|b| &b.op) {
            Some(BaselineOp::Gemm(g)) => match self.gemm_dtype(g) {
                Dtype::Bf16 => Precision::Bf16,
                Dtype::F16 => Precision::F16,
                _ => review,
            },
            // A convolution may use TF32 tensor cores when the review allows them.
            Some(BaselineOp::Conv2d(_)) => review,
            // Pooling and softmax have no tensor-core path: fp32 whatever the review.
            _ => Precision::F32,
        }
    }

    /// Library work producing the outputs for a review at `review` (see
    /// [`Problem::baseline_precision`]): what users would otherwise run. `inputs` and `outputs`
    /// in declaration order within their role.
    pub fn baseline(&self, sizes: &Sizes, inputs: &[Buffer], outputs: &[Buffer], review: Precision) -> Vec<Work> {
        let Some(b) = self.baselines.first() else { return Vec::new() };
        let precision = self.baseline_precision(review);
        let input = |name: &str| inputs[self.index_of(name, Role::Input)];
        let output = |name: &str| outputs[self.index_of(name, Role::Output)];
        // The lint evaluated every baseline's geometry at every case, and --size is validated.
        let mut work = match &b.op {
            BaselineOp::Gemm(g) => {
                g.work(sizes, precision, input(g.a), input(g.b), output(g.c), precision.element_bytes())
            }
            BaselineOp::Conv2d(c) => c.shape(sizes).map_or_else(
                |_| Vec::new(),
                |shape| {
                    vec![Work::Library(LibraryOp::Conv2d {
                        precision,
                        x: input(c.input),
                        w: input(c.filter),
                        y: output(c.output),
                        shape,
                    })]
                },
            ),
            BaselineOp::Pool2d(p) => p.shape(sizes).map_or_else(
                |_| Vec::new(),
                |shape| {
                    vec![Work::Library(LibraryOp::Pool2d { x: input(p.input), y: output(p.output), shape, max: p.max })]
                },
            ),
            BaselineOp::Softmax(m) => {
                let (rows, cols) =
                    (sizes.eval(&m.rows).unwrap_or(0) as usize, sizes.eval(&m.cols).unwrap_or(0) as usize);
                vec![Work::Library(LibraryOp::Softmax {
                    x: input(m.input),
                    y: output(m.output),
                    rows,
                    cols,
                    log: m.log,
                })]
            }
            // Not library work on the judge: the Model's process runs it (`time.rs`).
            BaselineOp::Torch(_) => Vec::new(),
        };
        if let (Some(Post::Tril), BaselineOp::Gemm(g)) = (b.post, &b.op) {
            let n = sizes.eval(&g.n).unwrap_or(0).max(0) as usize;
            work.push(Work::Library(LibraryOp::TrilF32 { c: output(g.c), n }));
        }
        work
    }

    pub fn scale_rule(&self) -> ScaleRule {
        self.scale
    }

    pub fn has_baseline(&self) -> bool {
        !self.baselines.is_empty() || self.torch().is_some()
    }

    /// A PyTorch baseline expression (`[[baseline]] builtin = "torch"`), if the first baseline is one.
    pub fn torch_baseline(&self) -> Option<&'static str> {
        match self.baselines.first().map(|b| &b.op) {
            Some(BaselineOp::Torch(t)) => Some(t.expression),
            _ => None,
        }
    }

    /// Whether the baseline runs in the Model's Python process: a KernelBench file's own Model,
    /// or a PyTorch baseline expression.
    pub fn baseline_in_python(&self) -> bool {
        self.torch().is_some() || self.torch_baseline().is_some()
    }

    /// The PyTorch reference, for a KernelBench problem file.
    pub fn torch(&self) -> Option<&torch::TorchReference> {
        match &self.reference {
            ReferenceSpec::Torch(t) => Some(t),
            _ => None,
        }
    }

    pub fn baseline_name(&self, review: Precision) -> String {
        if let Some(t) = self.torch() {
            let tf32 = if review == Precision::Tf32 {
                "TF32 on for matmul and cuDNN"
            } else {
                "TF32 off for matmul and cuDNN"
            };
            return match &t.compile {
                Some(mode) => {
                    format!("torch.compile (mode {mode}), the problem's own Model ({tf32}; compiled before timing)")
                }
                None => format!("eager PyTorch, the problem's own Model ({tf32})"),
            };
        }
        let Some(b) = self.baselines.first() else { return "none".into() };
        let precision = self.baseline_precision(review);
        let what = match (&b.op, precision) {
            (BaselineOp::Gemm(_), Precision::Tf32) => "cuBLAS GEMM (TF32 tensor cores)".to_string(),
            (BaselineOp::Gemm(_), Precision::Bf16) => {
                "cuBLAS GEMM (bf16 operands and result, fp32 accumulation)".to_string()
            }
            (BaselineOp::Gemm(_), Precision::F16) => {
                "cuBLAS GEMM (fp16 operands and result, fp32 accumulation)".to_string()
            }
            (BaselineOp::Gemm(_), _) => "cuBLAS SGEMM (TF32 off)".to_string(),
            (BaselineOp::Conv2d(c), p) => format!(
                "cuDNN convolution forward ({}{})",
                if p == Precision::Tf32 { "TF32 tensor-op math" } else { "fp32, FMA math: TF32 off" },
                if c.dims[9] != Expr::constant(1) { ", grouped" } else { "" }
            ),
            (BaselineOp::Pool2d(p), _) => {
                format!("cuDNN {} pooling forward (fp32)", if p.max { "max" } else { "average" })
            }
            (BaselineOp::Softmax(m), _) => {
                format!("cuDNN {}softmax forward (fp32, accurate, per row)", if m.log { "log-" } else { "" })
            }
            (BaselineOp::Torch(t), p) => {
                format!("eager PyTorch: {}{}", t.expression, if p == Precision::Tf32 { " (TF32 on)" } else { "" })
            }
        };
        let batched = match &b.op {
            BaselineOp::Gemm(g) if g.batch != Expr::constant(1) => ", strided batched",
            _ => "",
        };
        let post = if b.post == Some(Post::Tril) { " + tril" } else { "" };
        let like = b.like.as_deref().map_or(String::new(), |l| {
            format!(", as {l}{}", if precision == Precision::Tf32 { " with TF32 on" } else { "" })
        });
        format!("{what}{batched}{post}{like}")
    }
}

impl Gemm {
    /// (m, n, k, batch) at `sizes`.
    pub fn dims(&self, sizes: &Sizes) -> Result<(usize, usize, usize, usize), String> {
        let v = |e: &Expr| sizes.eval(e).map(|v| v.max(0) as usize);
        Ok((v(&self.m)?, v(&self.n)?, v(&self.k)?, v(&self.batch)?))
    }

    /// The product as one (strided batched) library call on `a`, `b`, `c`, whose elements are
    /// `element` bytes.
    pub fn work(
        &self,
        sizes: &Sizes,
        precision: Precision,
        a: Buffer,
        b: Buffer,
        c: Buffer,
        element: usize,
    ) -> Vec<Work> {
        let Ok((m, n, k, batch)) = self.dims(sizes) else { return Vec::new() };
        vec![Work::Library(LibraryOp::Gemm {
            precision,
            m,
            n,
            k,
            a: a.view(0, batch * m * k * element),
            b: b.view(0, batch * k * n * element),
            c: c.view(0, batch * m * n * element),
            transpose_a: self.transpose_a,
            batch,
        })]
    }
}

/// sadoku's library of problems, built into the binary.
static LIBRARY: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/../../problems");

/// Every problem known: the library's, then those added with [`add_dir`].
fn registry() -> &'static Mutex<Vec<&'static Problem>> {
    static REGISTRY: OnceLock<Mutex<Vec<&'static Problem>>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut all = Vec::new();
        for dir in LIBRARY.dirs() {
            let Some(toml) = dir.get_file(dir.path().join("problem.toml")) else { continue };
            let origin = format!("library:{}", dir.path().display());
            let text = toml.contents_utf8().unwrap_or_default();
            let read = |file: &str| {
                dir.get_file(dir.path().join(file))
                    .and_then(|f| f.contents_utf8())
                    .map(str::to_string)
                    .ok_or_else(|| "not in the library".to_string())
            };
            match format::parse(&origin, text, &read) {
                Ok(p) => all.push(&*Box::leak(Box::new(p))),
                // The library is tested in CI: a broken entry is a build defect, said loudly.
                Err(e) => eprintln!("sadoku: library problem is invalid and skipped: {e}"),
            }
        }
        all.sort_by_key(|p| p.name);
        Mutex::new(all)
    })
}

/// Load a problem directory (its `problem.toml`).
pub fn load_dir(dir: &Path) -> Result<Problem, ProblemError> {
    let toml_path = dir.join("problem.toml");
    let origin = toml_path.display().to_string();
    let text = std::fs::read_to_string(&toml_path).map_err(|e| ProblemError {
        origin: origin.clone(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    let read = |file: &str| {
        if file.contains("..") || Path::new(file).is_absolute() {
            return Err("must be a file in the problem's directory".to_string());
        }
        std::fs::read_to_string(dir.join(file)).map_err(|e| e.to_string())
    };
    format::parse(&origin, &text, &read)
}

/// Add a directory of problems (one sub-directory each) or a single problem directory; a problem
/// of the same name as a library one replaces it. Returns the names added.
pub fn add_dir(dir: &Path) -> Result<Vec<&'static str>, ProblemError> {
    let mut found = Vec::new();
    if dir.join("problem.toml").is_file() {
        found.push(load_dir(dir)?);
    } else {
        let entries = std::fs::read_dir(dir).map_err(|e| ProblemError {
            origin: dir.display().to_string(),
            line: None,
            message: format!("cannot read the problems directory: {e}"),
        })?;
        let mut dirs: Vec<_> =
            entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("problem.toml").is_file()).collect();
        dirs.sort();
        for d in dirs {
            found.push(load_dir(&d)?);
        }
    }
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    let mut names = Vec::new();
    for p in found {
        let p: &'static Problem = Box::leak(Box::new(p));
        reg.retain(|q| q.name != p.name);
        reg.push(p);
        names.push(p.name);
    }
    reg.sort_by_key(|p| p.name);
    Ok(names)
}

/// Add a problem built elsewhere (a KernelBench file's); one of the same name is replaced.
pub fn add(problem: Problem) -> &'static Problem {
    let p: &'static Problem = Box::leak(Box::new(problem));
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    reg.retain(|q| q.name != p.name);
    reg.push(p);
    reg.sort_by_key(|p| p.name);
    p
}

/// Every problem sadoku knows.
pub fn all() -> Vec<&'static Problem> {
    registry().lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A problem by name.
pub fn find(name: &str) -> Option<&'static Problem> {
    all().into_iter().find(|p| p.name == name)
}

/// For an unknown name: the nearest known one, and where to see them all.
pub fn suggest(name: &str) -> String {
    let names = names();
    let nearest =
        names.iter().map(|n| (strsim::levenshtein(name, n), *n)).filter(|(d, n)| *d <= 2.max(n.len() / 3)).min();
    let all = format!("`sadoku problems` lists all {}; `--problems DIR` adds your own", names.len());
    match nearest {
        Some((_, n)) => format!("did you mean `{n}`? {all}"),
        None => all,
    }
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|p| p.name).collect()
}

#[cfg(test)]
mod tests;
