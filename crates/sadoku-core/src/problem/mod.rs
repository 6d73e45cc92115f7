//! Problems: what a candidate must compute, how to make inputs, the fp64 ground truth, and the
//! library baseline a speedup is measured against.

mod trimm;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::device::{Buffer, Precision, Work};

pub use trimm::Trimm;

/// Values of a problem's size symbols, e.g. {N: 4096}.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Sizes(pub BTreeMap<String, i64>);

impl Sizes {
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, i64)>) -> Sizes {
        Sizes(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
    pub fn get(&self, symbol: &str) -> Option<i64> {
        self.0.get(symbol).copied()
    }
    /// The value of a symbol the problem itself declared; absent only through a programming error.
    pub fn of(&self, symbol: &str) -> usize {
        self.get(symbol).map_or(0, |v| v.max(0) as usize)
    }
}

impl fmt::Display for Sizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        f.write_str(&parts.join(", "))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Input,
    Output,
}

/// A named fp32 tensor the candidate reads or writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BufferSpec {
    pub name: &'static str,
    pub role: Role,
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
        self.elements() * 4
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

/// Input distributions; a problem draws every trial's inputs from one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    /// Standard normal: zero mean, so sums cancel and precision loss shows (what Sakana's run used).
    Randn,
    /// Uniform on [0, 1): what today's KernelBench draws.
    Rand,
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Distribution::Randn => "randn",
            Distribution::Rand => "rand",
        })
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

pub trait Problem: Sync {
    fn name(&self) -> &'static str;
    fn summary(&self) -> &'static str;
    fn size_symbols(&self) -> &'static [&'static str];
    fn buffers(&self, sizes: &Sizes) -> Vec<BufferSpec>;
    /// The size speed is measured (and claimed) at.
    fn timed_sizes(&self) -> Sizes;
    /// Every size verified, the timed one first, then awkward ones that are not tile multiples.
    fn check_sizes(&self) -> Vec<Sizes>;
    /// A small awkward size, for slow instrumented runs (compute-sanitizer).
    fn small_sizes(&self) -> Sizes;
    fn distributions(&self) -> &'static [Distribution];
    /// The least arithmetic any correct kernel must do.
    fn min_flops(&self, sizes: &Sizes) -> f64;
    /// The fewest bytes any correct kernel must move through DRAM after an L2 flush, within the
    /// timed window.
    fn min_bytes(&self, sizes: &Sizes) -> f64;
    /// Terms summed per output element at most (the inner dimension), for the rounding bound.
    fn terms(&self, sizes: &Sizes) -> usize;
    /// Bytes of each judge-only temporary the truth needs (fp64 copies of the inputs, say).
    fn truth_scratch(&self, sizes: &Sizes) -> Vec<usize>;
    /// Trusted work, on the judge's device, that computes each output's fp64 truth and error scale
    /// (the sum of magnitudes of the terms of each element: |A|·|B| for a product) from the
    /// inputs as the candidate saw them: `outputs[k]` is (values, scale) of output k, fp64.
    fn truth(&self, sizes: &Sizes, inputs: &[Buffer], scratch: &[Buffer], outputs: &[(Buffer, Buffer)]) -> Vec<Work>;
    /// The same truth computed on the host, independently (plain loops in fp64): the cross-check
    /// of the device path at small sizes.
    fn reference_host(&self, sizes: &Sizes, inputs: &[Vec<f32>]) -> Vec<Reference>;
    /// Library work producing the outputs at `precision`: what users would otherwise run.
    fn baseline(&self, sizes: &Sizes, inputs: &[Buffer], outputs: &[Buffer], precision: Precision) -> Vec<Work>;
    fn baseline_name(&self, precision: Precision) -> String;
}

static TRIMM: Trimm = Trimm;

/// Every problem sadoku knows.
pub fn all() -> [&'static dyn Problem; 1] {
    [&TRIMM]
}

pub fn find(name: &str) -> Option<&'static dyn Problem> {
    all().into_iter().find(|p| p.name() == name)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|p| p.name()).collect()
}
