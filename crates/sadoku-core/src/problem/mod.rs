//! Problems: what a candidate must compute, as data. A problem is a directory with a
//! `problem.toml` (see `docs/PROBLEMS.md`): size symbols and cases, named tensors with shapes and
//! input distributions, an fp64 reference (a built-in library operation or a trusted CUDA kernel),
//! the error scale, flop and byte floors, and library baselines. sadoku's own library of problems
//! (`problems/` in the source tree) is built into the binary; `--problems DIR` adds a user's.
//! Which problems a run knows is a [`Registry`] value (`registry.rs`); the types are here, the
//! format's lint in `lint.rs`, the host's fp64 truth in `host.rs` and baseline lowering in
//! `baseline.rs`.

mod baseline;
pub mod drawn;
pub mod format;
mod host;
mod lint;
mod registry;
pub mod torch;

use std::fmt;

use serde::Serialize;

use crate::device::{ConvShape, PoolShape};
use crate::spec::LaunchSpec;
pub use crate::vocab::{Distribution, Dtype, Expr, Sizes, Structure, ToleranceClass};

pub use format::ProblemError;
pub use registry::{Registry, load_dir};

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
    /// What every matrix (the last two dimensions) of an input keeps in each draw: a zero
    /// triangle, or a symmetry; outputs are dense.
    pub structure: Structure,
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
    /// Rows of each matrix (the second-to-last dimension; 1 for a vector).
    pub fn rows(&self) -> usize {
        if self.dims.len() >= 2 { self.dims[self.dims.len() - 2] } else { 1 }
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
    /// Inputs: what every draw keeps within each matrix (see [`BufferSpec::structure`]).
    pub structure: Structure,
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
                structure: t.structure,
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

    pub fn scale_rule(&self) -> ScaleRule {
        self.scale
    }

    /// The PyTorch reference, for a KernelBench problem file.
    pub fn torch(&self) -> Option<&torch::TorchReference> {
        match &self.reference {
            ReferenceSpec::Torch(t) => Some(t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
