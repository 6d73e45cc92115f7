//! The problem format's lint, beyond parsing: every case computable, floors plausible, every
//! library operand the size its geometry says; and the same checks for sizes a user asks for.

use super::{BaselineOp, Dtype, Gemm, Problem, ReferenceSpec, Sizes};

impl Problem {
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

    /// Every input distribution is drawable at `sizes` (int bounds computable, not empty, and
    /// within a u8 or bool tensor's values).
    fn distributions_at(&self, sizes: &Sizes) -> Result<(), String> {
        for t in &self.tensors {
            for d in t.distributions.iter().chain(&t.stress) {
                let d = d.at(sizes).map_err(|m| format!("tensor `{}`: {m}", t.name))?;
                if let Some(why) = d.unfit_for(t.dtype) {
                    return Err(format!("tensor `{}`: {why}", t.name));
                }
            }
        }
        Ok(())
    }

    fn shapes_and_floors(&self, sizes: &Sizes) -> Result<(i64, i64, i64), String> {
        let mut footprint = 0i64;
        for t in &self.tensors {
            let mut n = 1i64;
            let mut dims = Vec::new();
            for e in &t.shape {
                let v = sizes.eval(e).map_err(|m| format!("tensor `{}` shape: {m}", t.name))?;
                if v < 1 {
                    return Err(format!(
                        "tensor `{}`: dimension `{e}` = {v} at {sizes}; it must be at least 1",
                        t.name
                    ));
                }
                n = n.checked_mul(v).ok_or_else(|| format!("tensor `{}` is too large at {sizes}", t.name))?;
                dims.push(v);
            }
            if let Some(why) = t.structure.unfit_for(&dims) {
                return Err(format!("tensor `{}` at {sizes}: {why}", t.name));
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
}
