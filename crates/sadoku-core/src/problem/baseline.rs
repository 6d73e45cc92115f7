//! Baseline lowering: a problem's declared library baseline as the device work that runs it, the
//! precision it computes in, and the name a report gives it.

use super::{BaselineOp, Dtype, Expr, Gemm, Post, Problem, Role, Sizes};
use crate::device::{Buffer, LibraryOp, Precision, Work};

impl Problem {
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
            // Not library work on the judge: the Model's process runs it (`time/`).
            BaselineOp::Torch(_) => Vec::new(),
        };
        if let (Some(Post::Tril), BaselineOp::Gemm(g)) = (b.post, &b.op) {
            let n = sizes.eval(&g.n).unwrap_or(0).max(0) as usize;
            work.push(Work::Library(LibraryOp::TrilF32 { c: output(g.c), n }));
        }
        work
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
