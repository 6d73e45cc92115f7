//! Where a review's GPU work runs: the judge's own device, the candidates' worker processes and a
//! KernelBench problem's Model process. [`Cuda`] on real GPUs; [`Sim`] on sadoku-core's simulated
//! device (the hidden `--device sim`), so that the whole review path (lanes, `--jobs`, the
//! journal, `--resume`, exports) runs end to end in CI, worker processes included.

mod python;
mod sim;
pub mod store;

use sadoku_core::compile::ModuleCache;
use sadoku_core::device::{Device, DeviceError};
use sadoku_core::model::ModelWorker;
use sadoku_core::protocol::{RemoteDevice, Timeouts};
use sadoku_cuda::{CudaDevice, Nvrtc, Role};

pub use python::{Built, Cache, PythonPlan, Recorder};
pub use sim::Sim;

use crate::cli::DeviceArg;
use crate::processes::{self, Sanitizer};
use crate::sandbox::Mode;

/// The judge's own device: fresh inputs, the fp64 truth, comparisons and baselines.
pub trait JudgeDevice: Device {
    /// Measure the SM clock now (said in the report's environment).
    fn measure_sm_clock(&mut self) -> Result<f64, DeviceError>;
    /// The judge's module cache, to keep what its workers compile (a worker keeps none).
    fn module_cache(&self) -> Option<ModuleCache>;
}

/// The device a `sadoku worker` serves to its judge.
pub trait WorkerDevice: Device {
    /// Say how the worker's process is confined; the judge reads it from the worker's Info.
    fn set_sandbox(&mut self, description: String);
}

/// Opens devices and starts the processes of a review. One value serves every lane (`Sync`).
pub trait Backend: Sync {
    /// What `--device` names it; the workers it starts are told the same.
    fn arg(&self) -> DeviceArg;
    /// How many GPUs this machine has.
    fn device_count(&self) -> Result<usize, DeviceError>;
    /// The judge's device on GPU `gpu` (`no_cache`: without the module cache).
    fn open_judge(&self, gpu: usize, no_cache: bool) -> Result<Box<dyn JudgeDevice>, DeviceError>;
    /// In a `sadoku worker` process: the device it serves, its compiles bounded to
    /// `compile_memory_gib` GiB.
    fn open_worker(&self, gpu: usize, compile_memory_gib: f64) -> Result<Box<dyn WorkerDevice>, DeviceError>;
    /// The device a Python worker's PyTorch runs on (`cuda`; `cpu` where there is no GPU).
    fn python_device(&self) -> &'static str;

    /// Start a candidate's worker process on GPU `gpu` (under compute-sanitizer when asked) and
    /// connect to it; see [`processes::spawn`].
    fn spawn_worker(
        &self,
        gpu: usize,
        timeouts: Timeouts,
        sanitizer: Option<Sanitizer>,
        sandbox: Mode,
        compile_memory_gib: f64,
    ) -> Result<RemoteDevice, DeviceError> {
        processes::spawn(gpu, timeouts, sanitizer, sandbox, compile_memory_gib, self.arg())
    }

    /// Start the process of a KernelBench problem's own Model (or of a library problem's PyTorch
    /// baseline) on GPU `gpu`.
    fn spawn_model(
        &self,
        python: &PythonPlan,
        gpu: usize,
        timeouts: Timeouts,
        sandbox: Mode,
    ) -> Result<ModelWorker, DeviceError> {
        python.spawn_model(gpu, timeouts, sandbox)
    }
}

/// The backend `--device` names.
pub fn select(device: DeviceArg) -> &'static dyn Backend {
    match device {
        DeviceArg::Cuda => &Cuda,
        DeviceArg::Sim => &Sim,
    }
}

/// NVRTC with the module cache, or without it.
pub fn nvrtc(no_cache: bool) -> Result<Nvrtc, DeviceError> {
    Nvrtc::new(if no_cache { None } else { Nvrtc::default_cache_dir() })
        .map_err(|e| DeviceError::Environment(e.to_string()))
}

/// `gib` GiB in bytes.
pub fn gib(gib: f64) -> u64 {
    (gib * (1u64 << 30) as f64) as u64
}

/// Real GPUs through the CUDA driver (sadoku-cuda).
pub struct Cuda;

impl Backend for Cuda {
    fn arg(&self) -> DeviceArg {
        DeviceArg::Cuda
    }

    fn device_count(&self) -> Result<usize, DeviceError> {
        sadoku_cuda::device_count()
    }

    fn open_judge(&self, gpu: usize, no_cache: bool) -> Result<Box<dyn JudgeDevice>, DeviceError> {
        Ok(Box::new(CudaDevice::open(gpu, nvrtc(no_cache)?, Role::Reference)?))
    }

    fn open_worker(&self, gpu: usize, compile_memory_gib: f64) -> Result<Box<dyn WorkerDevice>, DeviceError> {
        // No module cache: a worker could plant a module in one for the next review to load. The
        // judge keeps the modules its workers compile.
        let mut nvrtc = nvrtc(true)?;
        nvrtc.bound_memory(Some(gib(compile_memory_gib)));
        Ok(Box::new(CudaDevice::open(gpu, nvrtc, Role::Candidate)?))
    }

    fn python_device(&self) -> &'static str {
        "cuda"
    }
}

impl JudgeDevice for CudaDevice {
    fn measure_sm_clock(&mut self) -> Result<f64, DeviceError> {
        CudaDevice::measure_sm_clock(self)
    }

    fn module_cache(&self) -> Option<ModuleCache> {
        CudaDevice::module_cache(self)
    }
}

impl WorkerDevice for CudaDevice {
    fn set_sandbox(&mut self, description: String) {
        CudaDevice::set_sandbox(self, description);
    }
}
