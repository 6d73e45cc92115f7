//! The judge's library work ([`LibraryOp`]): references and baselines through cuBLAS and cuDNN,
//! and the work sadoku's helper kernels do (inputs, poison, hashes, the comparators). All of it
//! is refused on a candidate's device: fresh inputs, poison, truth and comparisons are the
//! judge's alone.

use std::ffi::c_void;

use cudarc::cublas::{result as cublas, sys as cublas_sys};
use cudarc::driver::{result, sys};
use sadoku_core::device::{Comparison, DeviceError, Difference, LibraryOp, PoisonWords, Precision};
use sadoku_core::problem::Distribution;

use super::errors::{blas, env};
use super::helpers::{HELPER_THREADS, type_code};
use super::{CudaDevice, Role};
use crate::libs;

/// What a candidate's device says to library work.
fn refused() -> DeviceError {
    DeviceError::Environment("a candidate device runs candidate kernels only, never library work".into())
}

/// cublasGemmEx's storage and compute types: fp32 with TF32 tensor cores, or bf16 / fp16
/// operands and result with fp32 accumulation (what torch.matmul does for them).
fn ex_types(precision: Precision) -> (cublas_sys::cudaDataType, cublas_sys::cublasComputeType_t) {
    use cublas_sys::cublasComputeType_t::{CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32};
    use cublas_sys::cudaDataType::{CUDA_R_16BF, CUDA_R_16F, CUDA_R_32F};
    match precision {
        Precision::Bf16 => (CUDA_R_16BF, CUBLAS_COMPUTE_32F),
        Precision::F16 => (CUDA_R_16F, CUBLAS_COMPUTE_32F),
        _ => (CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32),
    }
}

impl CudaDevice {
    /// The device's cuBLAS handle: a reference device's only.
    pub(super) fn cublas_handle(&self) -> Result<cublas_sys::cublasHandle_t, DeviceError> {
        self.state()?.cublas.ok_or_else(refused)
    }

    /// Enqueue one piece of library work on the device's stream. A candidate's device refuses all
    /// of it: fresh inputs, poison, truth and comparisons are the judge's alone.
    pub(super) fn enqueue_library(&self, op: &LibraryOp) -> Result<(), DeviceError> {
        let state = self.state()?;
        if self.role == Role::Candidate {
            return Err(refused());
        }
        let stream = state.stream;
        match *op {
            LibraryOp::Gemm { precision, m, n, k, a, b, c, transpose_a, batch } => {
                let handle = self.cublas_handle()?;
                let (a, b, c) = (self.ptr(a)?, self.ptr(b)?, self.ptr(c)?);
                let (m, n, k) = (m as i32, n as i32, k as i32);
                let nn = cublas_sys::cublasOperation_t::CUBLAS_OP_N;
                // Row-major C = op(A)·B is column-major Cᵀ = Bᵀ·op(A)ᵀ: swap the operands. A
                // row-major A[m×k] is column-major Aᵀ (leading dimension k); a row-major A[k×m] to
                // be transposed is column-major Aᵀ[m×k] read transposed (leading dimension m).
                let (op_a, lda) = if transpose_a { (cublas_sys::cublasOperation_t::CUBLAS_OP_T, m) } else { (nn, k) };
                if batch > 1 {
                    // One strided batched call, as torch.bmm makes: products one after another.
                    let (sa, sb, sc) = (m as i64 * k as i64, k as i64 * n as i64, m as i64 * n as i64);
                    let count = batch as i32;
                    let (one, zero) = (1.0f32, 0.0f32);
                    // SAFETY: each view holds `batch` matrices of its operand's size (checked by ptr()).
                    return unsafe {
                        match precision {
                            Precision::F64 => cublas::dgemm_strided_batched(
                                handle,
                                nn,
                                op_a,
                                n,
                                m,
                                k,
                                &1.0,
                                b as *const f64,
                                n,
                                sb,
                                a as *const f64,
                                lda,
                                sa,
                                &0.0,
                                c as *mut f64,
                                n,
                                sc,
                                count,
                            ),
                            Precision::F32 => cublas::sgemm_strided_batched(
                                handle,
                                nn,
                                op_a,
                                n,
                                m,
                                k,
                                &1.0,
                                b as *const f32,
                                n,
                                sb,
                                a as *const f32,
                                lda,
                                sa,
                                &0.0,
                                c as *mut f32,
                                n,
                                sc,
                                count,
                            ),
                            Precision::Tf32 | Precision::Bf16 | Precision::F16 => {
                                let (ty, compute) = ex_types(precision);
                                cublas::gemm_strided_batched_ex(
                                    handle,
                                    nn,
                                    op_a,
                                    n,
                                    m,
                                    k,
                                    (&one as *const f32).cast(),
                                    b as *const c_void,
                                    ty,
                                    n,
                                    sb,
                                    a as *const c_void,
                                    ty,
                                    lda,
                                    sa,
                                    (&zero as *const f32).cast(),
                                    c as *mut c_void,
                                    ty,
                                    n,
                                    sc,
                                    count,
                                    compute,
                                    cublas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DFALT,
                                )
                            }
                        }
                    }
                    .map_err(blas("strided batched GEMM"));
                }
                // SAFETY: pointers are live allocations sized by the problem for m, n, k.
                unsafe {
                    match precision {
                        Precision::F64 => cublas::dgemm(
                            handle,
                            nn,
                            op_a,
                            n,
                            m,
                            k,
                            &1.0,
                            b as *const f64,
                            n,
                            a as *const f64,
                            lda,
                            &0.0,
                            c as *mut f64,
                            n,
                        ),
                        Precision::F32 => cublas::sgemm(
                            handle,
                            nn,
                            op_a,
                            n,
                            m,
                            k,
                            &1.0,
                            b as *const f32,
                            n,
                            a as *const f32,
                            lda,
                            &0.0,
                            c as *mut f32,
                            n,
                        ),
                        Precision::Tf32 | Precision::Bf16 | Precision::F16 => {
                            let (one, zero) = (1.0f32, 0.0f32);
                            let (ty, compute) = ex_types(precision);
                            cublas_sys::cublasGemmEx(
                                handle,
                                nn,
                                op_a,
                                n,
                                m,
                                k,
                                (&one as *const f32).cast(),
                                b as *const c_void,
                                ty,
                                n,
                                a as *const c_void,
                                ty,
                                lda,
                                (&zero as *const f32).cast(),
                                c as *mut c_void,
                                ty,
                                n,
                                compute,
                                cublas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DFALT,
                            )
                            .result()
                        }
                    }
                }
                .map_err(blas("GEMM"))
            }
            LibraryOp::Conv2d { precision, x, w, y, shape } => {
                let (x, w, y) = (self.ptr(x)?, self.ptr(w)?, self.ptr(y)?);
                self.with_dnn(|d| d.conv2d(precision, shape, x, w, y))
            }
            LibraryOp::Pool2d { x, y, shape, max } => {
                let (x, y) = (self.ptr(x)?, self.ptr(y)?);
                self.with_dnn(|d| d.pool2d(shape, max, x, y))
            }
            LibraryOp::Softmax { x, y, rows, cols, log } => {
                let (x, y) = (self.ptr(x)?, self.ptr(y)?);
                self.with_dnn(|d| d.softmax(rows, cols, log, x, y))
            }
            LibraryOp::TrilF32 { c, n } => {
                let f = state.helpers.functions["sadoku_tril_f32"];
                let mut ptr = self.ptr(c)?;
                let mut n64 = n as i64;
                let mut params: Vec<*mut c_void> = vec![(&mut ptr as *mut u64).cast(), (&mut n64 as *mut i64).cast()];
                let grid = ((n as u32).div_ceil(256).clamp(1, 64), (n as u32).clamp(1, 65_535), 1);
                // SAFETY: matches the helper's signature (float*, long long).
                unsafe { result::launch_kernel(f, grid, (256, 1, 1), 0, state.stream, &mut params) }
                    .map_err(env("tril launch"))
            }
            LibraryOp::Generate { buffer, draw } => {
                let size = draw.dtype.bytes();
                let ptr = self.aligned_ptr(buffer, size as u64, "generating an input")?;
                use sadoku_core::generate::{exp2_range, ties_offset, zero_row_threshold};
                let (dist, a, b, lo, hi) = match draw.distribution {
                    Distribution::Randn { mean, std } => (0u64, mean, std, 0, 1),
                    Distribution::Uniform { lo, hi } => (1, lo, hi, 0, 1),
                    Distribution::Int { lo, hi } => (2, 0.0, 0.0, lo, hi),
                    Distribution::Ties { k } => (2, ties_offset(k), 0.0, 0, k),
                    Distribution::Sorted { lo, hi } => (3, lo, hi, 0, 1),
                    Distribution::ZeroRows { p } => (4, 0.0, 1.0, zero_row_threshold(p) as i64, 1),
                    Distribution::Exp2 { .. } | Distribution::Subnormal => {
                        let (lo, hi) = exp2_range(&draw);
                        (5, 0.0, 0.0, lo, hi)
                    }
                };
                let n = (buffer.bytes / size) as u64;
                if n == 0 {
                    return Ok(());
                }
                let args = [
                    ptr,
                    n,
                    draw.seed,
                    dist,
                    a.to_bits(),
                    b.to_bits(),
                    draw.scale.to_bits() as u64,
                    draw.cols,
                    draw.rows,
                    draw.structure.code(),
                    type_code(draw.dtype)?,
                    lo as u64,
                    hi as u64,
                ];
                self.launch_helper("sadoku_generate", self.spread(n), HELPER_THREADS, &args)
            }
            LibraryOp::Abs { src, dst, dtype } => {
                let size = dtype.bytes() as u64;
                let from = self.aligned_ptr(src, size, "taking absolute values")?;
                let to = self.aligned_ptr(dst, size, "taking absolute values")?;
                let n = src.bytes as u64 / size;
                self.holds(dst, n, size, "taking absolute values: the destination")?;
                if n == 0 {
                    return Ok(());
                }
                let args = [from, to, n, type_code(dtype)?];
                self.launch_helper("sadoku_abs", self.spread(n), HELPER_THREADS, &args)
            }
            LibraryOp::Upcast { src, dst, abs, dtype } => {
                let size = dtype.bytes() as u64;
                let from = self.aligned_ptr(src, size, "widening to fp64")?;
                let to = self.aligned_ptr(dst, 8, "widening to fp64")?;
                let n = src.bytes as u64 / size;
                self.holds(dst, n, 8, "widening to fp64: the fp64 destination")?;
                if n == 0 {
                    return Ok(());
                }
                let args = [from, to, n, abs as u64, type_code(dtype)?];
                self.launch_helper("sadoku_upcast", self.spread(n), HELPER_THREADS, &args)
            }
            LibraryOp::Fill { buffer, word } => {
                self.aligned_ptr(buffer, 4, "filling a buffer")?;
                if buffer.bytes < 4 {
                    return Ok(());
                }
                self.enqueue_fill(buffer, word, "filling a buffer (memset)")
            }
            LibraryOp::Pattern { buffer, seed, dtype } => {
                let size = dtype.bytes() as u64;
                let ptr = self.aligned_ptr(buffer, size, "filling a buffer with a pattern")?;
                let n = buffer.bytes as u64 / size;
                if n == 0 {
                    return Ok(());
                }
                let args = [ptr, n, seed, type_code(dtype)?];
                self.launch_helper("sadoku_pattern", self.spread(n), HELPER_THREADS, &args)
            }
            LibraryOp::Copy { src, dst } => {
                let (from, to) = (self.ptr(src)?, self.ptr(dst)?);
                let bytes = src.bytes.min(dst.bytes);
                if bytes == 0 {
                    return Ok(());
                }
                // SAFETY: both hold at least `bytes` bytes.
                unsafe { sys::cuMemcpyDtoDAsync_v2(to, from, bytes, stream) }.result().map_err(env("device copy"))
            }
            LibraryOp::Hash { buffer, key, out } => {
                let ptr = self.aligned_ptr(buffer, 4, "hashing a buffer")?;
                let slot = self.aligned_ptr(out, 8, "hashing a buffer: the result")?;
                self.holds(out, 1, 8, "hashing a buffer: the result")?;
                // SAFETY: `slot` holds a u64.
                unsafe { sys::cuMemsetD8Async(slot, 0, 8, stream) }.result().map_err(env("clearing a hash slot"))?;
                let n = (buffer.bytes / 4) as u64;
                if n == 0 {
                    return Ok(());
                }
                self.launch_helper("sadoku_hash", self.spread(n), HELPER_THREADS, &[ptr, n, key, slot])
            }
            LibraryOp::Compare { got, values, scale, factor, poison, out, dtype } => {
                let what = "comparing an output with the truth";
                let size = dtype.bytes() as u64;
                let n = got.bytes as u64 / size;
                let got = self.aligned_ptr(got, size, what)?;
                let ty = type_code(dtype)?;
                let (values_ptr, scale_ptr) = (self.aligned_ptr(values, 8, what)?, self.aligned_ptr(scale, 8, what)?);
                let out_ptr = self.aligned_ptr(out, 8, what)?;
                self.holds(values, n, 8, "comparing an output with the truth: the values")?;
                self.holds(scale, n, 8, "comparing an output with the truth: the scales")?;
                self.holds(out, Comparison::WORDS as u64, 8, "comparing an output with the truth: the result")?;
                let (kind, word) = match poison {
                    PoisonWords::Word(w) => (0u64, w as u64),
                    PoisonWords::Pattern(seed) => (1, seed),
                };
                let blocks = self.spread(n);
                let partials = state.partials.ptr;
                let args = [got, values_ptr, scale_ptr, n, factor.to_bits(), kind, word, partials, ty];
                self.launch_helper("sadoku_compare", blocks, HELPER_THREADS, &args)?;
                let args = [got, values_ptr, n, partials, blocks as u64, out_ptr, ty];
                self.launch_helper("sadoku_compare_finish", 1, HELPER_THREADS, &args)
            }
            LibraryOp::Diff { first, second, scale, factor, out, dtype } => {
                let what = "comparing two outputs";
                let size = dtype.bytes() as u64;
                let n = first.bytes as u64 / size;
                let ty = type_code(dtype)?;
                let (a, b) = (self.aligned_ptr(first, size, what)?, self.aligned_ptr(second, size, what)?);
                let (scale_ptr, out_ptr) = (self.aligned_ptr(scale, 8, what)?, self.aligned_ptr(out, 8, what)?);
                self.holds(second, n, size, "comparing two outputs: the second")?;
                self.holds(scale, n, 8, "comparing two outputs: the scales")?;
                self.holds(out, Difference::WORDS as u64, 8, "comparing two outputs: the result")?;
                let blocks = self.spread(n);
                let partials = state.partials.ptr;
                self.launch_helper(
                    "sadoku_diff",
                    blocks,
                    HELPER_THREADS,
                    &[a, b, scale_ptr, n, factor.to_bits(), partials, ty],
                )?;
                let args = [a, b, partials, blocks as u64, out_ptr, ty];
                self.launch_helper("sadoku_diff_finish", 1, HELPER_THREADS, &args)
            }
        }
    }

    /// Run `f` with this device's cuDNN handle, made on first use.
    fn with_dnn(&self, f: impl FnOnce(&mut crate::dnn::Dnn) -> Result<(), DeviceError>) -> Result<(), DeviceError> {
        let state = self.state()?;
        libs::cudnn().map_err(DeviceError::Environment)?;
        let mut dnn = state.dnn.borrow_mut();
        if dnn.is_none() {
            *dnn = Some(crate::dnn::Dnn::new(state.stream)?);
        }
        f(dnn.as_mut().expect("made above"))
    }
}
