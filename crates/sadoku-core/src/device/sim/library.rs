//! The simulated library: cuBLAS, cuDNN and the device helpers (fill, generate, compare, hash)
//! as plain host loops over the simulated device's memory.

use super::SimDevice;
use crate::device::{
    Comparison, Device, DeviceError, Difference, LibraryOp, Precision, compare_host, content_hash, diff_host, element,
    pattern_element,
};
use crate::vocab::Dtype;

/// Where window element (r, t) of output (oh, ow) falls in an h×w plane padded by `pad` (row-major
/// offset), or `None` in the padding: what cuDNN's convolution and pooling read.
#[allow(clippy::too_many_arguments)]
fn window_at(oh: usize, ow: usize, r: usize, t: usize, stride: usize, pad: usize, h: usize, w: usize) -> Option<usize> {
    let ih = (oh * stride + r).checked_sub(pad).filter(|&i| i < h)?;
    let iw = (ow * stride + t).checked_sub(pad).filter(|&i| i < w)?;
    Some(ih * w + iw)
}

impl SimDevice {
    pub(super) fn library(&mut self, op: &LibraryOp) -> Result<(), DeviceError> {
        self.library_log.push(op.clone());
        match *op {
            LibraryOp::Gemm { precision: Precision::F64, m, n, k, a, b, c, transpose_a, batch } => {
                let (a, b) = (self.f64s(a)?, self.f64s(b)?);
                let mut out = vec![0f64; batch * m * n];
                for p in 0..batch {
                    let (a, b) = (&a[p * m * k..], &b[p * k * n..]);
                    let at = |i: usize, l: usize| if transpose_a { a[l * m + i] } else { a[i * k + l] };
                    let c = &mut out[p * m * n..];
                    for i in 0..m {
                        for l in 0..k {
                            let x = at(i, l);
                            for j in 0..n {
                                c[i * n + j] += x * b[l * n + j];
                            }
                        }
                    }
                }
                self.store(c, &out, f64::to_le_bytes)
            }
            LibraryOp::Gemm { precision, m, n, k, a, b, c, transpose_a, batch } => {
                // fp32 accumulation (of TF32-rounded operands for Tf32), the result stored in the
                // operands' type.
                let dtype = match precision {
                    Precision::Bf16 => Dtype::Bf16,
                    Precision::F16 => Dtype::F16,
                    _ => Dtype::F32,
                };
                let round = |x: f32| {
                    if precision == Precision::Tf32 {
                        f32::from_bits((x.to_bits() + (1 << 12)) & !((1 << 13) - 1))
                    } else {
                        x
                    }
                };
                let read = |v: Vec<u64>| v.into_iter().map(|e| element::value(dtype, e) as f32).collect::<Vec<f32>>();
                let (a, b) = (read(self.elements(a, dtype)?), read(self.elements(b, dtype)?));
                let mut out = vec![0u64; batch * m * n];
                for p in 0..batch {
                    let (a, b) = (&a[p * m * k..], &b[p * k * n..]);
                    let at = |i: usize, l: usize| if transpose_a { a[l * m + i] } else { a[i * k + l] };
                    for i in 0..m {
                        for j in 0..n {
                            let acc = (0..k).fold(0f32, |acc, l| round(at(i, l)).mul_add(round(b[l * n + j]), acc));
                            out[p * m * n + i * n + j] = element::from_f32(dtype, acc);
                        }
                    }
                }
                self.upload(c, &element::write(dtype, &out))
            }
            LibraryOp::Conv2d { x, w, y, shape: g, .. } => {
                let (x, w) = (self.f32s(x)?, self.f32s(w)?);
                let (ho, wo) = g.output_hw();
                let (cpg, kpg) = (g.c / g.groups, g.k / g.groups);
                let mut out = vec![0f32; g.n * g.k * ho * wo];
                for (i, o) in out.iter_mut().enumerate() {
                    let (n, k, oh, ow) = (i / (g.k * ho * wo), i / (ho * wo) % g.k, i / wo % ho, i % wo);
                    let group = k / kpg;
                    let mut acc = 0f32;
                    for cc in 0..cpg {
                        let c = group * cpg + cc;
                        for r in 0..g.r {
                            for t in 0..g.s {
                                let Some(at) = window_at(oh, ow, r, t, g.stride, g.pad, g.h, g.w) else { continue };
                                let xv = x[(n * g.c + c) * g.h * g.w + at];
                                acc = xv.mul_add(w[((k * cpg + cc) * g.r + r) * g.s + t], acc);
                            }
                        }
                    }
                    *o = acc;
                }
                self.store(y, &out, f32::to_le_bytes)
            }
            LibraryOp::Pool2d { x, y, shape: g, max } => {
                let x = self.f32s(x)?;
                let (ho, wo) = g.output_hw();
                let mut out = vec![0f32; g.n * g.c * ho * wo];
                for (i, o) in out.iter_mut().enumerate() {
                    let (nc, oh, ow) = (i / (ho * wo), i / wo % ho, i % wo);
                    let (mut best, mut sum) = (f32::NEG_INFINITY, 0f32);
                    for r in 0..g.window {
                        for t in 0..g.window {
                            let Some(at) = window_at(oh, ow, r, t, g.stride, g.pad, g.h, g.w) else { continue };
                            let v = x[nc * g.h * g.w + at];
                            best = best.max(v);
                            sum += v;
                        }
                    }
                    *o = if max { best } else { sum / (g.window * g.window) as f32 };
                }
                self.store(y, &out, f32::to_le_bytes)
            }
            LibraryOp::Softmax { x, y, rows, cols, log } => {
                let x = self.f32s(x)?;
                let mut out = vec![0f32; rows * cols];
                for (row, o) in x.chunks(cols.max(1)).zip(out.chunks_mut(cols.max(1))).take(rows) {
                    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let sum: f32 = row.iter().map(|v| (v - m).exp()).sum();
                    for (o, v) in o.iter_mut().zip(row) {
                        *o = if log { v - m - sum.ln() } else { (v - m).exp() / sum };
                    }
                }
                self.store(y, &out, f32::to_le_bytes)
            }
            LibraryOp::TrilF32 { c, n } => {
                let mut v = self.f32s(c)?;
                for i in 0..n {
                    for j in i + 1..n {
                        v[i * n + j] = 0.0;
                    }
                }
                self.store(c, &v, f32::to_le_bytes)
            }
            LibraryOp::Generate { buffer, draw } => {
                let mut v = crate::generate::elements(&draw, buffer.bytes / draw.dtype.bytes());
                if let Some(tweak) = self.generate_tweak.as_mut() {
                    tweak(&mut v);
                }
                self.upload(buffer, &element::write(draw.dtype, &v))
            }
            LibraryOp::Upcast { src, dst, abs, dtype } => {
                let v: Vec<f64> = self
                    .elements(src, dtype)?
                    .into_iter()
                    .map(|e| element::value(dtype, if abs { element::abs(dtype, e) } else { e }))
                    .collect();
                self.store(dst, &v, f64::to_le_bytes)
            }
            LibraryOp::Abs { src, dst, dtype } => {
                let v: Vec<u64> = self.elements(src, dtype)?.into_iter().map(|e| element::abs(dtype, e)).collect();
                self.upload(dst, &element::write(dtype, &v))
            }
            LibraryOp::Fill { buffer, word } => self.fill_u32(buffer, word),
            LibraryOp::Pattern { buffer, seed, dtype } => {
                let n = (buffer.bytes / dtype.bytes()) as u64;
                let e: Vec<u64> = (0..n).map(|i| pattern_element(seed, i, dtype)).collect();
                self.upload(buffer, &element::write(dtype, &e))
            }
            LibraryOp::Copy { src, dst } => {
                let bytes = self.bytes(src)?;
                let n = bytes.len().min(dst.bytes);
                self.upload(dst, &bytes[..n])
            }
            LibraryOp::Hash { buffer, key, out } => {
                let h = content_hash(&self.u32s(buffer)?, key);
                self.store(out, &[h], u64::to_le_bytes)
            }
            LibraryOp::Compare { got, values, scale, factor, poison, out, dtype } => {
                let got = self.elements(got, dtype)?;
                let (values, scale) = (self.f64s(values)?, self.f64s(scale)?);
                let n = got.len();
                let mut c = compare_host(dtype, &got, &values[..n], &scale[..n], factor, poison);
                if let Some(tweak) = self.compare_tweak.as_mut() {
                    tweak(&mut c);
                }
                debug_assert_eq!(out.bytes, 8 * Comparison::WORDS);
                self.store(out, &c.to_words(), u64::to_le_bytes)
            }
            LibraryOp::Diff { first, second, scale, factor, out, dtype } => {
                let d = diff_host(
                    dtype,
                    &self.elements(first, dtype)?,
                    &self.elements(second, dtype)?,
                    &self.f64s(scale)?,
                    factor,
                );
                debug_assert_eq!(out.bytes, 8 * Difference::WORDS);
                self.store(out, &d.to_words(), u64::to_le_bytes)
            }
        }
    }
}
