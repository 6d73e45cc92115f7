//! How a run's Python workers start: the interpreter, the bridge's sources and the device they
//! use, for a problem's Model and for Python candidates (whose extensions are built once per
//! source into the judge's cache).

use sadoku_core::candidate::Candidate;
use sadoku_core::device::DeviceError;
use sadoku_core::model::ModelWorker;
use sadoku_core::protocol::Timeouts;

use crate::processes;

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

    /// Build a Python candidate's extensions into its cache, in a confined worker of its own as
    /// the review's will be (a load that builds nothing costs a worker's start): what happened,
    /// for the progress line. A failure is left for the review to report.
    pub fn build(&self, candidate: &Candidate, gpu: usize, sandbox: crate::sandbox::Mode) -> String {
        use sadoku_core::device::Device as _;
        let built = (|| -> Result<bool, DeviceError> {
            let mut worker = self.spawn_candidate(gpu, Default::default(), sandbox, &candidate.source, true)?;
            let request = sadoku_core::compile::CompileRequest {
                name: candidate.name(),
                source: candidate.source.clone(),
                arch: worker.info().arch(),
                options: candidate.spec.options.clone(),
            };
            Ok(worker.compile(&request).is_ok())
        })();
        match built {
            Ok(true) => "built".to_string(),
            Ok(false) => "does not build (the review says why)".to_string(),
            Err(e) => format!("not built: {e}"),
        }
    }
}
