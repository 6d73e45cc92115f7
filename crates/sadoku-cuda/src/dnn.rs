//! cuDNN baselines: convolution, pooling and softmax forward on fp32 NCHW tensors, on the judge's
//! stream. cuDNN is loaded at run time and optional: without it a review gives its verdict and
//! says which baseline was missing and how to get it.
//!
//! Descriptors and the convolution algorithm are chosen once per geometry (the heuristic, as
//! `torch.backends.cudnn.benchmark = False` does) and kept, so that timed baseline samples hold
//! only the library call.

use std::collections::HashMap;
use std::ffi::c_void;

use cudarc::cudnn::sys as dnn;
use cudarc::driver::{result, sys};
use sadoku_core::device::{ConvShape, DeviceError, PoolShape, Precision};

fn check(status: dnn::cudnnStatus_t, what: &str) -> Result<(), DeviceError> {
    if status == dnn::cudnnStatus_t::CUDNN_STATUS_SUCCESS {
        return Ok(());
    }
    Err(DeviceError::Environment(format!("cuDNN {what}: {status:?}")))
}

/// A 4-D fp32 NCHW tensor descriptor.
fn tensor(n: usize, c: usize, h: usize, w: usize) -> Result<dnn::cudnnTensorDescriptor_t, DeviceError> {
    let mut d = std::ptr::null_mut();
    // SAFETY: creates and sets a descriptor this module owns.
    unsafe {
        check(dnn::cudnnCreateTensorDescriptor(&mut d), "creating a tensor descriptor")?;
        check(
            dnn::cudnnSetTensor4dDescriptor(
                d,
                dnn::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW,
                dnn::cudnnDataType_t::CUDNN_DATA_FLOAT,
                n as i32,
                c as i32,
                h as i32,
                w as i32,
            ),
            "setting a tensor descriptor",
        )?;
    }
    Ok(d)
}

enum Plan {
    Conv {
        x: dnn::cudnnTensorDescriptor_t,
        w: dnn::cudnnFilterDescriptor_t,
        conv: dnn::cudnnConvolutionDescriptor_t,
        y: dnn::cudnnTensorDescriptor_t,
        algo: dnn::cudnnConvolutionFwdAlgo_t,
        workspace: usize,
    },
    Pool {
        x: dnn::cudnnTensorDescriptor_t,
        pool: dnn::cudnnPoolingDescriptor_t,
        y: dnn::cudnnTensorDescriptor_t,
    },
    Softmax {
        x: dnn::cudnnTensorDescriptor_t,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Conv(ConvShape, bool),
    Pool(PoolShape, bool),
    Softmax(usize, usize),
}

/// A cuDNN handle on one stream, with its plans and workspace.
pub struct Dnn {
    handle: dnn::cudnnHandle_t,
    plans: HashMap<Key, Plan>,
    workspace: sys::CUdeviceptr,
    workspace_bytes: usize,
}

impl Dnn {
    /// A handle on `stream` (cuDNN must be loadable: see `libs::cudnn`).
    pub fn new(stream: sys::CUstream) -> Result<Dnn, DeviceError> {
        let mut handle = std::ptr::null_mut();
        // SAFETY: the library is loaded; the stream belongs to the caller's live context.
        unsafe {
            check(dnn::cudnnCreate(&mut handle), "creating a handle")?;
            check(dnn::cudnnSetStream(handle, stream as dnn::cudaStream_t), "setting the stream")?;
        }
        Ok(Dnn { handle, plans: HashMap::new(), workspace: 0, workspace_bytes: 0 })
    }

    /// y = conv2d(x, w): FMA math (no TF32) at `F32`, tensor-op math at `Tf32`.
    pub fn conv2d(
        &mut self,
        precision: Precision,
        g: ConvShape,
        x: sys::CUdeviceptr,
        w: sys::CUdeviceptr,
        y: sys::CUdeviceptr,
    ) -> Result<(), DeviceError> {
        let tf32 = precision == Precision::Tf32;
        let key = Key::Conv(g, tf32);
        if !self.plans.contains_key(&key) {
            let plan = self.conv_plan(g, tf32)?;
            self.plans.insert(key, plan);
        }
        let Some(&Plan::Conv { x: xd, w: wd, conv, y: yd, algo, workspace }) = self.plans.get(&key) else {
            unreachable!("a convolution plan was just made")
        };
        self.reserve(workspace)?;
        let (one, zero) = (1.0f32, 0.0f32);
        // SAFETY: descriptors match the buffers' geometry (checked by the problem's lint), the
        // workspace holds what the algorithm asked for.
        check(
            unsafe {
                dnn::cudnnConvolutionForward(
                    self.handle,
                    (&one as *const f32).cast(),
                    xd,
                    x as *const c_void,
                    wd,
                    w as *const c_void,
                    conv,
                    algo,
                    self.workspace as *mut c_void,
                    workspace,
                    (&zero as *const f32).cast(),
                    yd,
                    y as *mut c_void,
                )
            },
            "convolution forward",
        )
    }

    fn conv_plan(&mut self, g: ConvShape, tf32: bool) -> Result<Plan, DeviceError> {
        let (ho, wo) = g.output_hw();
        let (x, y) = (tensor(g.n, g.c, g.h, g.w)?, tensor(g.n, g.k, ho, wo)?);
        let (mut w, mut conv) = (std::ptr::null_mut(), std::ptr::null_mut());
        let math = if tf32 { dnn::cudnnMathType_t::CUDNN_TENSOR_OP_MATH } else { dnn::cudnnMathType_t::CUDNN_FMA_MATH };
        // SAFETY: creates and sets descriptors this module owns.
        unsafe {
            check(dnn::cudnnCreateFilterDescriptor(&mut w), "creating a filter descriptor")?;
            check(
                dnn::cudnnSetFilter4dDescriptor(
                    w,
                    dnn::cudnnDataType_t::CUDNN_DATA_FLOAT,
                    dnn::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW,
                    g.k as i32,
                    (g.c / g.groups) as i32,
                    g.r as i32,
                    g.s as i32,
                ),
                "setting a filter descriptor",
            )?;
            check(dnn::cudnnCreateConvolutionDescriptor(&mut conv), "creating a convolution descriptor")?;
            check(
                dnn::cudnnSetConvolution2dDescriptor(
                    conv,
                    g.pad as i32,
                    g.pad as i32,
                    g.stride as i32,
                    g.stride as i32,
                    1,
                    1,
                    dnn::cudnnConvolutionMode_t::CUDNN_CROSS_CORRELATION,
                    dnn::cudnnDataType_t::CUDNN_DATA_FLOAT,
                ),
                "setting a convolution descriptor",
            )?;
            check(dnn::cudnnSetConvolutionGroupCount(conv, g.groups as i32), "setting the group count")?;
            check(dnn::cudnnSetConvolutionMathType(conv, math), "setting the math type")?;
        }
        let mut perf: [dnn::cudnnConvolutionFwdAlgoPerf_t; 8] = unsafe { std::mem::zeroed() };
        let mut returned = 0;
        // SAFETY: `perf` holds 8 results.
        check(
            unsafe {
                dnn::cudnnGetConvolutionForwardAlgorithm_v7(
                    self.handle,
                    x,
                    w,
                    conv,
                    y,
                    perf.len() as i32,
                    &mut returned,
                    perf.as_mut_ptr(),
                )
            },
            "choosing a convolution algorithm",
        )?;
        // The heuristic's first usable choice; at fp32 one that keeps to FMA math.
        let choice = perf[..returned.max(0) as usize].iter().find(|p| {
            p.status == dnn::cudnnStatus_t::CUDNN_STATUS_SUCCESS
                && (tf32 || p.mathType == dnn::cudnnMathType_t::CUDNN_FMA_MATH)
        });
        let Some(p) = choice else {
            return Err(DeviceError::Environment(format!(
                "cuDNN offers no convolution algorithm for {g:?} with {math:?}"
            )));
        };
        Ok(Plan::Conv { x, w, conv, y, algo: p.algo, workspace: p.memory })
    }

    /// y = max or average pooling of x (average counting padding, as torch's default).
    pub fn pool2d(
        &mut self,
        g: PoolShape,
        max: bool,
        x: sys::CUdeviceptr,
        y: sys::CUdeviceptr,
    ) -> Result<(), DeviceError> {
        let key = Key::Pool(g, max);
        if let std::collections::hash_map::Entry::Vacant(e) = self.plans.entry(key) {
            let (ho, wo) = g.output_hw();
            let (xd, yd) = (tensor(g.n, g.c, g.h, g.w)?, tensor(g.n, g.c, ho, wo)?);
            let mut pool = std::ptr::null_mut();
            let mode = if max {
                dnn::cudnnPoolingMode_t::CUDNN_POOLING_MAX
            } else {
                dnn::cudnnPoolingMode_t::CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
            };
            // SAFETY: creates and sets a descriptor this module owns.
            unsafe {
                check(dnn::cudnnCreatePoolingDescriptor(&mut pool), "creating a pooling descriptor")?;
                check(
                    dnn::cudnnSetPooling2dDescriptor(
                        pool,
                        mode,
                        dnn::cudnnNanPropagation_t::CUDNN_PROPAGATE_NAN,
                        g.window as i32,
                        g.window as i32,
                        g.pad as i32,
                        g.pad as i32,
                        g.stride as i32,
                        g.stride as i32,
                    ),
                    "setting a pooling descriptor",
                )?;
            }
            e.insert(Plan::Pool { x: xd, pool, y: yd });
        }
        let Some(&Plan::Pool { x: xd, pool, y: yd }) = self.plans.get(&key) else { unreachable!("made above") };
        let (one, zero) = (1.0f32, 0.0f32);
        // SAFETY: descriptors match the buffers' geometry (the problem's lint).
        check(
            unsafe {
                dnn::cudnnPoolingForward(
                    self.handle,
                    pool,
                    (&one as *const f32).cast(),
                    xd,
                    x as *const c_void,
                    (&zero as *const f32).cast(),
                    yd,
                    y as *mut c_void,
                )
            },
            "pooling forward",
        )
    }

    /// Softmax (or log-softmax) of each row of a [rows, cols] matrix.
    pub fn softmax(
        &mut self,
        rows: usize,
        cols: usize,
        log: bool,
        x: sys::CUdeviceptr,
        y: sys::CUdeviceptr,
    ) -> Result<(), DeviceError> {
        let key = Key::Softmax(rows, cols);
        if let std::collections::hash_map::Entry::Vacant(e) = self.plans.entry(key) {
            e.insert(Plan::Softmax { x: tensor(rows, cols, 1, 1)? });
        }
        let Some(&Plan::Softmax { x: d }) = self.plans.get(&key) else { unreachable!("made above") };
        let algo = if log {
            dnn::cudnnSoftmaxAlgorithm_t::CUDNN_SOFTMAX_LOG
        } else {
            dnn::cudnnSoftmaxAlgorithm_t::CUDNN_SOFTMAX_ACCURATE
        };
        let (one, zero) = (1.0f32, 0.0f32);
        // SAFETY: one descriptor serves input and output (same shape).
        check(
            unsafe {
                dnn::cudnnSoftmaxForward(
                    self.handle,
                    algo,
                    dnn::cudnnSoftmaxMode_t::CUDNN_SOFTMAX_MODE_INSTANCE,
                    (&one as *const f32).cast(),
                    d,
                    x as *const c_void,
                    (&zero as *const f32).cast(),
                    d,
                    y as *mut c_void,
                )
            },
            "softmax forward",
        )
    }

    /// A workspace of at least `bytes`, kept for later calls.
    fn reserve(&mut self, bytes: usize) -> Result<(), DeviceError> {
        if bytes <= self.workspace_bytes {
            return Ok(());
        }
        // SAFETY: the old workspace is no longer in use once the stream has caught up.
        unsafe {
            if self.workspace != 0 {
                let _ = result::free_sync(self.workspace);
            }
            self.workspace = result::malloc_sync(bytes)
                .map_err(|e| DeviceError::Environment(format!("allocating {bytes} bytes of cuDNN workspace: {e}")))?;
        }
        self.workspace_bytes = bytes;
        Ok(())
    }
}

impl Drop for Dnn {
    fn drop(&mut self) {
        // SAFETY: every descriptor and the handle are this module's, destroyed once.
        unsafe {
            for plan in self.plans.values() {
                match *plan {
                    Plan::Conv { x, w, conv, y, .. } => {
                        dnn::cudnnDestroyTensorDescriptor(x);
                        dnn::cudnnDestroyFilterDescriptor(w);
                        dnn::cudnnDestroyConvolutionDescriptor(conv);
                        dnn::cudnnDestroyTensorDescriptor(y);
                    }
                    Plan::Pool { x, pool, y } => {
                        dnn::cudnnDestroyTensorDescriptor(x);
                        dnn::cudnnDestroyPoolingDescriptor(pool);
                        dnn::cudnnDestroyTensorDescriptor(y);
                    }
                    Plan::Softmax { x } => {
                        dnn::cudnnDestroyTensorDescriptor(x);
                    }
                }
            }
            if self.workspace != 0 {
                let _ = result::free_sync(self.workspace);
            }
            dnn::cudnnDestroy(self.handle);
        }
    }
}

/// cuDNN's version, e.g. "9.14.0", once the library is loaded.
pub fn version() -> String {
    // SAFETY: the caller checked that cuDNN is loadable.
    let v = unsafe { dnn::cudnnGetVersion() };
    format!("{}.{}.{}", v / 10000, v / 100 % 100, v % 100)
}
