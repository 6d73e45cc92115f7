//! How a run's Python workers start: the interpreter, the bridge's sources and the device they
//! use, for a problem's Model and for Python candidates (whose extensions are built once per
//! source into the judge's cache).

use sadoku_core::candidate::Candidate;
use sadoku_core::device::DeviceError;
use sadoku_core::model::ModelWorker;
use sadoku_core::protocol::Timeouts;

use crate::processes;
use crate::progress::Progress;

/// How Python workers are started.
pub struct PythonPlan {
    pub python: std::path::PathBuf,
    pub bridge: std::path::PathBuf,
    pub device: String,
}

impl PythonPlan {
    /// Loading may build a torch extension (nvcc and a C++ compiler): minutes, not seconds.
    const LOAD: std::time::Duration = std::time::Duration::from_secs(600);

    fn spawn(
        &self,
        gpu: usize,
        base: Timeouts,
        sandbox: crate::sandbox::Mode,
        extensions: Option<&std::path::Path>,
    ) -> Result<sadoku_core::protocol::RemoteDevice, DeviceError> {
        let timeouts = Timeouts { compile: base.compile.max(Self::LOAD), ..base };
        processes::spawn_python(gpu, timeouts, &self.python, &self.bridge, sandbox, &self.device, extensions)
    }

    /// The process of a KernelBench problem's own Model.
    pub fn spawn_model(
        &self,
        gpu: usize,
        base: Timeouts,
        sandbox: crate::sandbox::Mode,
    ) -> Result<ModelWorker, DeviceError> {
        Ok(ModelWorker::new(Box::new(self.spawn(gpu, base, sandbox, None)?)))
    }

    /// A Python candidate's worker; its extensions built once per source into the judge's cache
    /// (`cache` false: every time, in the worker's own directory).
    pub fn spawn_candidate(
        &self,
        gpu: usize,
        base: Timeouts,
        sandbox: crate::sandbox::Mode,
        source: &str,
        cache: bool,
    ) -> Result<sadoku_core::protocol::RemoteDevice, DeviceError> {
        let dir = if cache {
            Some(crate::python_sandbox::extension_cache(&self.python, source).map_err(|e| {
                DeviceError::Environment(format!("the extension cache: {e} (--no-cache builds without it)"))
            })?)
        } else {
            None
        };
        let mut device = self.spawn(gpu, base, sandbox, dir.as_deref())?;
        // Whatever a candidate's worker reports is the candidate's; it runs only while the judge
        // waits on it.
        device.mark_untrusted();
        Ok(device)
    }

    /// Build every Python candidate's extensions into its cache before the reviews start, several at
    /// once: a build keeps the host busy for a minute, and no build may overlap a timing (see
    /// `GpuGate`), so built during the reviews they would hold each other up. Only the candidates
    /// about to be reviewed (not those `--resume` skips). Each build runs in a
    /// confined worker of its own, as the review's will; a failure is left for the review to report.
    pub fn prebuild(&self, candidates: &[&Candidate], gpu: usize, sandbox: crate::sandbox::Mode, progress: &Progress) {
        use sadoku_core::device::Device as _;
        if candidates.is_empty() {
            return;
        }
        let queue = std::sync::Mutex::new(candidates.iter().copied().collect::<std::collections::VecDeque<_>>());
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get() / 2).clamp(1, 8).min(candidates.len());
        progress
            .line(&format!("  building the extensions of {} Python candidate(s), {threads} at once", candidates.len()));
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    while let Some(c) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                        let started = std::time::Instant::now();
                        let built = (|| -> Result<bool, DeviceError> {
                            let mut worker = self.spawn_candidate(gpu, Default::default(), sandbox, &c.source, true)?;
                            let request = sadoku_core::compile::CompileRequest {
                                name: c.name(),
                                source: c.source.clone(),
                                arch: worker.info().arch(),
                                options: c.spec.options.clone(),
                            };
                            Ok(worker.compile(&request).is_ok())
                        })();
                        let what = match built {
                            Ok(true) => "built".to_string(),
                            Ok(false) => "does not build (the review says why)".to_string(),
                            Err(e) => format!("not built: {e}"),
                        };
                        progress.line(&format!("  {} {what} ({:.1} s)", c.name(), started.elapsed().as_secs_f64()));
                    }
                });
            }
        });
    }
}
