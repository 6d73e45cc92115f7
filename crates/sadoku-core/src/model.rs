//! The problem's own `Model`, for a KernelBench problem file (`ReferenceSpec::Torch`): a Python
//! process, trusted as the problem is and apart from the candidate's, that computes the float64
//! truth into the judge's buffers and runs the eager baseline on the judge's inputs.
//!
//! It speaks the worker protocol (`python/sadoku_bridge/worker.py`, kinds `truth` and
//! `reference`), so here it is a [`Device`]. The judge's buffers reach it mapped over CUDA IPC, or
//! as copies that cross its pipe before and after each call where mapping is not possible (a
//! worker on the CPU, in CI).

use std::collections::HashMap;

use crate::compile::{CompileError, CompileRequest};
use crate::device::{
    Buffer, Device, DeviceError, DeviceInfo, KernelArg, Launch, ModuleHandle, Sample, Sharing, TimedRun, Work,
};
use crate::problem::torch::ModelKind;
use crate::problem::{Problem, Sizes};

/// Whether a call reads a judge buffer or writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A Python process serving one problem's Model.
pub struct ModelWorker {
    device: Box<dyn Device>,
    /// The problem and sizes it was loaded for, and its loaded calls by kind and TF32 setting.
    problem: Option<(&'static str, String)>,
    modules: Vec<((ModelKind, bool), ModuleHandle)>,
    /// Judge allocation → the whole allocation as mapped here.
    mapped: HashMap<u64, Buffer>,
    /// Judge view (allocation, offset, bytes) → its copy here.
    copies: HashMap<(u64, usize, usize), Buffer>,
    sharing: Sharing,
}

impl ModelWorker {
    pub fn new(device: Box<dyn Device>) -> ModelWorker {
        ModelWorker {
            device,
            problem: None,
            modules: Vec::new(),
            mapped: HashMap::new(),
            copies: HashMap::new(),
            sharing: Sharing::Mapped,
        }
    }

    /// The process as it describes itself: which PyTorch, CUDA and cuDNN computed the truth and
    /// the baseline.
    pub fn info(&self) -> &DeviceInfo {
        self.device.info()
    }

    fn module(
        &mut self,
        problem: &Problem,
        sizes: &Sizes,
        kind: ModelKind,
        tf32: bool,
    ) -> Result<ModuleHandle, DeviceError> {
        let key = (problem.name, sizes.to_string());
        if self.problem.as_ref() != Some(&key) {
            // Another problem or size: nothing loaded so far applies.
            self.modules.clear();
            self.problem = Some(key);
        }
        if let Some((_, h)) = self.modules.iter().find(|(k, _)| *k == (kind, tf32)) {
            return Ok(*h);
        }
        let what = match (kind, problem.torch().and_then(|t| t.compile.as_deref())) {
            (ModelKind::Truth, _) => "float64 truth".to_string(),
            (ModelKind::Inputs, _) => "get_inputs()".to_string(),
            (_, Some(mode)) => format!("torch.compile ({mode}) baseline"),
            _ => "eager baseline".to_string(),
        };
        let (request, label) = if let Some(torch) = problem.torch() {
            let request = CompileRequest {
                name: format!("{} ({what})", problem.name),
                source: torch.source.clone(),
                arch: self.device.info().arch(),
                options: vec![torch.option(problem, sizes, kind, tf32)],
            };
            (request, format!("the Model of `{}` ({what})", torch.file))
        } else if let (Some(expression), ModelKind::Eager) = (problem.torch_baseline(), kind) {
            let request = CompileRequest {
                name: format!("{} (PyTorch baseline)", problem.name),
                source: expression.to_string(),
                arch: self.device.info().arch(),
                options: vec![crate::problem::torch::expression_option(problem, sizes, expression, tf32)],
            };
            (request, format!("the PyTorch baseline of `{}` ({expression})", problem.name))
        } else {
            return Err(DeviceError::Environment(format!("problem `{}` has no PyTorch Model", problem.name)));
        };
        let env = |m: String| DeviceError::Environment(format!("{label}: {m}"));
        let module = self.device.compile(&request).map_err(|e| match e {
            CompileError::Rejected { log } => env(format!("does not load: {log}")),
            CompileError::CallFailed { message, .. } => env(format!("cannot be called: {message}")),
            CompileError::Unavailable(m) => env(m),
        })?;
        let handle = self.device.load(&module).map_err(|e| env(e.to_string()))?;
        self.modules.push(((kind, tf32), handle));
        Ok(handle)
    }

    /// This process's view of a judge buffer.
    fn remote(&mut self, reference: &mut dyn Device, judge: Buffer) -> Result<Buffer, DeviceError> {
        if self.sharing == Sharing::Mapped {
            if let Some(whole) = self.mapped.get(&judge.id) {
                return Ok(whole.view(judge.offset, judge.bytes));
            }
            match reference.export(judge).and_then(|h| self.device.import(&h)) {
                Ok(whole) => {
                    self.mapped.insert(judge.id, whole);
                    return Ok(whole.view(judge.offset, judge.bytes));
                }
                // Judge-only memory asked to leave: a bug to report, never a reason to copy.
                Err(e @ DeviceError::NotShareable(_)) => return Err(e),
                Err(e) => {
                    self.sharing =
                        Sharing::Copied(format!("the Model's process could not map the judge's buffers: {e}"))
                }
            }
        }
        let key = (judge.id, judge.offset, judge.bytes);
        if let Some(b) = self.copies.get(&key) {
            return Ok(*b);
        }
        let b = self.device.alloc(judge.bytes)?;
        self.copies.insert(key, b);
        Ok(b)
    }

    /// Call the Model as `kind` on judge buffers `args` (in the order of the problem's tensors,
    /// then, for the truth, each output's scale); timed when asked. Any failure is the
    /// problem's or sadoku's, never the candidate's.
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &mut self,
        reference: &mut dyn Device,
        problem: &Problem,
        sizes: &Sizes,
        kind: ModelKind,
        tf32: bool,
        args: &[(Buffer, Access)],
        timed: bool,
    ) -> Result<Option<Sample>, DeviceError> {
        let env = |e: DeviceError| match e {
            DeviceError::Environment(m) => DeviceError::Environment(m),
            other => DeviceError::Environment(format!("the Model of problem `{}` failed: {other}", problem.name)),
        };
        let module = self.module(problem, sizes, kind, tf32)?;
        let mut remote = Vec::with_capacity(args.len());
        for &(b, _) in args {
            remote.push(self.remote(reference, b).map_err(env)?);
        }
        let copied = self.sharing != Sharing::Mapped;
        if copied {
            for (&(judge, access), &r) in args.iter().zip(&remote) {
                if access == Access::Read {
                    let mut bytes = vec![0u8; judge.bytes];
                    reference.download(judge, &mut bytes)?;
                    self.device.upload(r, &bytes).map_err(env)?;
                }
            }
        }
        let launch = Launch {
            module,
            kernel: "forward".into(),
            grid: [1, 1, 1],
            block: [1, 1, 1],
            shared_mem: 0,
            args: remote.iter().map(|&b| KernelArg::Buffer(b)).collect(),
        };
        let work = [Work::Launch(launch)];
        let sample = if timed {
            let sample = self.device.time(&TimedRun::plain(&work)).map_err(env)?;
            // The Model's process is trusted: its trace and checks at once.
            Some(match self.device.collect().map_err(env)? {
                Some(whole) => whole,
                None => sample,
            })
        } else {
            self.device.run(&work).map_err(env)?;
            None
        };
        if copied {
            for (&(judge, access), &r) in args.iter().zip(&remote) {
                if access == Access::Write {
                    let mut bytes = vec![0u8; judge.bytes];
                    self.device.download(r, &mut bytes).map_err(env)?;
                    reference.upload(judge, &bytes)?;
                }
            }
        }
        Ok(sample)
    }

    /// The file's own `get_inputs()` under `seed` (`torch.manual_seed`), written into `targets`:
    /// the judge's buffers of the forward's tensor arguments, in order. A tensor of another shape
    /// or dtype than the problem's is the file's fault: an environment error naming it. `(normal,
    /// ties)`: the factor of every normal draw the file's code makes, where it is drawn (not 1:
    /// see `crate::verify`'s wide trial), and whether its normal and uniform draws land on a
    /// coarse grid (its ties trial).
    pub fn draw_inputs(
        &mut self,
        reference: &mut dyn Device,
        problem: &Problem,
        sizes: &Sizes,
        seed: u64,
        (normal, ties): (f64, bool),
        targets: &[Buffer],
    ) -> Result<(), DeviceError> {
        let env = |e: DeviceError| match e {
            DeviceError::Environment(m) => DeviceError::Environment(m),
            other => DeviceError::Environment(format!("get_inputs() of problem `{}` failed: {other}", problem.name)),
        };
        let module = self.module(problem, sizes, ModelKind::Inputs, false)?;
        let mut args = Vec::with_capacity(targets.len() + 1);
        for &b in targets {
            args.push(KernelArg::Buffer(self.remote(reference, b).map_err(env)?));
        }
        // The seed travels after the buffers (its 64 bits, as an i64); then, unless 1 and no ties,
        // the factor of the file's normal draws (an f64's bits); then, for ties, a 1.
        args.push(KernelArg::I64(seed as i64));
        if normal != 1.0 || ties {
            args.push(KernelArg::I64(normal.to_bits() as i64));
        }
        if ties {
            args.push(KernelArg::I64(1));
        }
        let launch = Launch { module, kernel: "forward".into(), grid: [1; 3], block: [1; 3], shared_mem: 0, args };
        self.device.run(&[Work::Launch(launch.clone())]).map_err(env)?;
        if self.sharing != Sharing::Mapped {
            for (&judge, arg) in targets.iter().zip(&launch.args) {
                let KernelArg::Buffer(r) = *arg else { continue };
                let mut bytes = vec![0u8; judge.bytes];
                self.device.download(r, &mut bytes).map_err(env)?;
                reference.upload(judge, &bytes)?;
            }
        }
        Ok(())
    }

    /// Hold the Model's process on `cpus`, or let it run where it could before (`None`): see
    /// [`Device::pin`].
    pub fn pin(&mut self, cpus: Option<&[usize]>) {
        self.device.pin(cpus);
    }

    /// A review that uses the Model starts now: its process counts the review's deadline from
    /// here (it is kept from review to review; see [`Device::start_review`]).
    pub fn start_review(&mut self) {
        self.device.start_review();
    }

    /// Let go of every judge buffer: before the judge frees them (a mapping must close first).
    pub fn forget(&mut self) {
        for (_, b) in self.mapped.drain() {
            self.device.free(b);
        }
        for (_, b) in self.copies.drain() {
            self.device.free(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::sim::SimDevice;

    #[test]
    fn the_models_process_maps_shareable_memory_and_never_judge_only_memory() {
        let mut judge = SimDevice::new();
        let mut model = ModelWorker::new(Box::new(SimDevice::new()));
        let input = judge.alloc_shared(4096).unwrap();
        let mapped = model.remote(&mut judge, input.view(64, 128)).unwrap();
        assert_eq!((mapped.offset, mapped.bytes), (64, 128));
        // Judge-only memory asked of the Model: refused outright, not quietly copied instead.
        let truth = judge.alloc(4096).unwrap();
        assert_eq!(model.remote(&mut judge, truth), Err(DeviceError::NotShareable(truth.id)));
        assert_eq!(model.sharing, Sharing::Mapped, "no fallback to copies");
        model.forget();
        judge.free(input);
        judge.free(truth);
    }
}
