//! `problem.toml` as serde reads it, before any checking: the raw shapes [`super::parse`] turns
//! into a [`super::super::Problem`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProblem {
    pub(super) name: Spanned<String>,
    pub(super) summary: String,
    #[serde(default)]
    pub(super) family: String,
    /// e.g. "level 1, task 15 (Matmul_for_lower_triangular_matrices)".
    #[serde(default)]
    pub(super) kernelbench: Option<String>,
    pub(super) sizes: Spanned<RawSizes>,
    #[serde(rename = "tensor")]
    pub(super) tensors: Vec<Spanned<RawTensor>>,
    pub(super) reference: Spanned<RawReference>,
    pub(super) floors: Spanned<RawFloors>,
    #[serde(default, rename = "baseline")]
    pub(super) baselines: Vec<Spanned<RawBaseline>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSizes {
    pub(super) symbols: Vec<String>,
    #[serde(default)]
    pub(super) constraints: Vec<Spanned<String>>,
    pub(super) check: Vec<Spanned<BTreeMap<String, i64>>>,
    pub(super) timed: Vec<Spanned<BTreeMap<String, i64>>>,
    pub(super) small: Spanned<BTreeMap<String, i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTensor {
    pub(super) name: String,
    pub(super) role: String,
    pub(super) dtype: String,
    pub(super) shape: Vec<RawExpr>,
    #[serde(default)]
    pub(super) structure: Option<String>,
    /// Inputs: the distribution of the first verification trial and of timed launches, then the
    /// second trial's. Default: randn(0, 1), then uniform(0, 1).
    #[serde(default)]
    pub(super) distributions: Vec<String>,
    /// Outputs: the precision class they are judged in (default: the review's).
    #[serde(default)]
    pub(super) tolerance: Option<String>,
    /// Inputs: the stress profiles' distributions, one per profile (default: by the problem's
    /// family, see [`family_stress`]).
    #[serde(default)]
    pub(super) stress: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReference {
    /// "gemm": cuBLAS DGEMM on fp64 copies.
    #[serde(default)]
    pub(super) builtin: Option<String>,
    /// A trusted fp64 CUDA file in the problem's directory, with candidate-style front matter.
    #[serde(default)]
    pub(super) kernel: Option<String>,
    #[serde(default)]
    pub(super) gemm: Option<RawGemm>,
    /// Terms summed per output element at most, for the rounding bound.
    pub(super) terms: RawExpr,
    /// "abs": the same reference on the absolute values of the inputs; "kernel": the kernel writes
    /// `<output>_scale` itself.
    #[serde(default)]
    pub(super) scale: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGemm {
    pub(super) a: String,
    pub(super) b: String,
    pub(super) c: String,
    pub(super) m: RawExpr,
    pub(super) n: RawExpr,
    pub(super) k: RawExpr,
    #[serde(default)]
    pub(super) batch: Option<RawExpr>,
    #[serde(default)]
    pub(super) transpose_a: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFloors {
    pub(super) flops: RawExpr,
    pub(super) bytes: RawExpr,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBaseline {
    pub(super) builtin: String,
    #[serde(default)]
    pub(super) gemm: Option<RawGemm>,
    #[serde(default)]
    pub(super) conv2d: Option<RawConv2d>,
    #[serde(default)]
    pub(super) pool2d: Option<RawPool2d>,
    #[serde(default)]
    pub(super) softmax: Option<RawSoftmax>,
    /// `torch`: a Python expression over the problem's inputs (by name), its size symbols (as
    /// integers), `torch`, `F` (torch.nn.functional) and `math`, giving the outputs in order.
    #[serde(default)]
    pub(super) expression: Option<String>,
    /// Work after the library call: "tril".
    #[serde(default)]
    pub(super) post: Option<String>,
    /// What users would run, for the report: "torch.matmul(a, b).tril()".
    #[serde(default)]
    pub(super) like: Option<String>,
}

/// `cudnn.conv2d`: NCHW input [n, c, h, w], filter [k, c / groups, r, s], output [n, k, ho, wo].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConv2d {
    pub(super) input: String,
    pub(super) filter: String,
    pub(super) output: String,
    pub(super) n: RawExpr,
    pub(super) c: RawExpr,
    pub(super) h: RawExpr,
    pub(super) w: RawExpr,
    pub(super) k: RawExpr,
    pub(super) r: RawExpr,
    pub(super) s: RawExpr,
    #[serde(default)]
    pub(super) pad: Option<RawExpr>,
    #[serde(default)]
    pub(super) stride: Option<RawExpr>,
    #[serde(default)]
    pub(super) groups: Option<RawExpr>,
}

/// `cudnn.pool2d`: "max" or "avg" over windows of an NCHW input.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool2d {
    pub(super) input: String,
    pub(super) output: String,
    pub(super) mode: String,
    pub(super) n: RawExpr,
    pub(super) c: RawExpr,
    pub(super) h: RawExpr,
    pub(super) w: RawExpr,
    pub(super) window: RawExpr,
    #[serde(default)]
    pub(super) stride: Option<RawExpr>,
    #[serde(default)]
    pub(super) pad: Option<RawExpr>,
}

/// `cudnn.softmax`: over each row of [rows, cols]; `log` for log-softmax.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSoftmax {
    pub(super) input: String,
    pub(super) output: String,
    pub(super) rows: RawExpr,
    pub(super) cols: RawExpr,
    #[serde(default)]
    pub(super) log: bool,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(super) enum RawExpr {
    Int(i64),
    Text(String),
}
