//! How a run's Python workers start: the interpreter, the bridge's sources and the device they
//! use, for a problem's Model and for Python candidates (whose extensions are built once per
//! source into the judge's cache).

use sadoku_core::candidate::Candidate;
use sadoku_core::device::DeviceError;
use sadoku_core::model::ModelWorker;
use sadoku_core::protocol::Timeouts;

use crate::processes;

/// Where a Python candidate's worker finds its torch extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// Built in the worker's own directory (`--no-cache`, or no build ahead of the review).
    Private,
    /// Built into the judge's cache entry for the source: only by a build ahead of the review.
    Build,
    /// Loaded, read-only, from the entry a build ahead of the review filled.
    Prebuilt,
}

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
        extensions: crate::python_sandbox::Extensions,
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
        Ok(ModelWorker::new(Box::new(self.spawn(gpu, base, sandbox, crate::python_sandbox::Extensions::Private)?)))
    }

    /// A Python candidate's worker, its extensions where `cache` says (see [`Cache`]).
    pub fn spawn_candidate(
        &self,
        gpu: usize,
        base: Timeouts,
        sandbox: crate::sandbox::Mode,
        source: &str,
        cache: Cache,
    ) -> Result<sadoku_core::protocol::RemoteDevice, DeviceError> {
        use crate::python_sandbox::Extensions;
        let entry = || {
            crate::python_sandbox::extension_cache(&self.python, source).map_err(|e| {
                DeviceError::Environment(format!("the extension cache: {e} (--no-cache builds without it)"))
            })
        };
        let dir;
        let extensions = match cache {
            Cache::Private => Extensions::Private,
            Cache::Build => {
                dir = entry()?;
                Extensions::Build(&dir)
            }
            Cache::Prebuilt => {
                dir = entry()?;
                Extensions::Prebuilt(&dir)
            }
        };
        let mut device = self.spawn(gpu, base, sandbox, extensions)?;
        // Whatever a candidate's worker reports is the candidate's; it runs only while the judge
        // waits on it.
        device.mark_untrusted();
        Ok(device)
    }

    /// Build a Python candidate's extensions into its cache entry, in a confined worker of its own
    /// (the only kind that may write the entry): whether it loaded, and what happened, for the
    /// progress line. A failure is left for the review to report: it builds again, privately.
    pub fn build(&self, candidate: &Candidate, gpu: usize, sandbox: crate::sandbox::Mode) -> (bool, String) {
        use sadoku_core::device::Device as _;
        let built = (|| -> Result<bool, DeviceError> {
            let mut worker = self.spawn_candidate(gpu, Default::default(), sandbox, &candidate.source, Cache::Build)?;
            let request = sadoku_core::compile::CompileRequest {
                name: candidate.name(),
                source: candidate.source.clone(),
                arch: worker.info().arch(),
                options: candidate.spec.options.clone(),
            };
            Ok(worker.compile(&request).is_ok())
        })();
        match built {
            Ok(true) => (true, "built".to_string()),
            Ok(false) => (false, "does not build (its review builds it again and says why)".to_string()),
            Err(e) => (false, format!("not built: {e}")),
        }
    }
}
