//! How a run's Python workers start: the interpreter, the bridge's sources and the device they
//! use, for a problem's Model and for Python candidates (whose extensions are built ahead of
//! their review: into the judge's store, once per build record, or once per source).

use sadoku_core::candidate::Candidate;
use sadoku_core::device::{Device, DeviceError};
use sadoku_core::model::ModelWorker;
use sadoku_core::protocol::Timeouts;

use super::store::Store;
use crate::processes;
use crate::python_sandbox::Extensions;

/// Where a Python candidate's worker finds its torch extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// Built in the worker's own directory (`--no-cache`, or no build ahead of the review).
    Private,
    /// Built into the judge's cache entry for the source: only by a build ahead of the review.
    Build,
    /// Loaded, read-only, from the entry a build ahead of the review filled.
    Prebuilt,
    /// Loaded, read-only, from the judge's extension store (see [`super::store`]), which holds
    /// everything the candidate asked for when it was recorded.
    Store,
}

/// How a build ahead of the review went: where the review finds the candidate's extensions
/// (`None`: it builds them itself), and what to say of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub cache: Option<Cache>,
    pub said: String,
}

/// A candidate recorded this many times, the store filling between, still asking for extensions
/// it lacks: it asks for something new each time; it is built the old way.
const RECORDING_ROUNDS: usize = 4;

/// A recording worker started before its candidate is known (a server's builder keeps one while
/// it waits): the store read-only, a directory of its own for the records. The thread that
/// starts it must be the one that uses it (a worker dies with the thread that started it).
pub struct Recorder {
    worker: sadoku_core::protocol::RemoteDevice,
    records: tempfile::TempDir,
}

/// How Python workers are started.
pub struct PythonPlan {
    pub python: std::path::PathBuf,
    pub bridge: std::path::PathBuf,
    pub device: String,
    /// Which `<torch/extension.h>` the store's builder uses (`--torch-headers`).
    pub headers: super::store::TorchHeaders,
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
            Cache::Store => {
                dir = self.store()?.dir().to_path_buf();
                Extensions::Store(&dir)
            }
        };
        let mut device = self.spawn(gpu, base, sandbox, extensions)?;
        // Whatever a candidate's worker reports is the candidate's; it runs only while the judge
        // waits on it.
        device.mark_untrusted();
        Ok(device)
    }

    /// A worker for any candidate whose extensions are all in the store: the same for every such
    /// candidate until it loads one (a server's idle lane keeps one started).
    pub fn spawn_store_worker(
        &self,
        gpu: usize,
        base: Timeouts,
        sandbox: crate::sandbox::Mode,
    ) -> Result<sadoku_core::protocol::RemoteDevice, DeviceError> {
        self.spawn_candidate(gpu, base, sandbox, "", Cache::Store)
    }

    /// A [`Recorder`] for the next candidate to build.
    pub fn recorder(&self, gpu: usize, sandbox: crate::sandbox::Mode) -> Result<Recorder, String> {
        let store = self.store().map_err(|e| e.to_string())?;
        let records = tempfile::Builder::new()
            .prefix("sadoku-records-")
            .tempdir()
            .map_err(|e| format!("cannot make a directory for records: {e}"))?;
        crate::sandbox::prepare_temp(records.path()).map_err(|e| e.to_string())?;
        let extensions = Extensions::Record { store: store.dir(), records: records.path() };
        let mut worker = self.spawn(gpu, Default::default(), sandbox, extensions).map_err(|e| e.to_string())?;
        worker.mark_untrusted();
        Ok(Recorder { worker, records })
    }

    fn store(&self) -> Result<Store, DeviceError> {
        Store::open(&self.python, self.headers)
            .map_err(|e| DeviceError::Environment(format!("the extension store: {e} (--no-cache builds without it)")))
    }

    /// Build a Python candidate's extensions ahead of its review: into the store (see
    /// [`super::store`]) when it can hold them, else into the candidate's cache entry, in a
    /// confined worker of its own (the only kind that may write the entry). A failure is left for
    /// the review to report: it builds again, privately.
    ///
    /// `host` holds timings off (see `lanes::Gates::host`) while a worker runs the candidate's
    /// Python (a recording, or a build by loading it); a recorder's start and the store's builder
    /// run no candidate code and are stopped while a card is timed instead (see
    /// [`crate::host_work`]). `recorder`, if started already, records the candidate first.
    pub fn build<G>(
        &self,
        candidate: &Candidate,
        gpu: usize,
        sandbox: crate::sandbox::Mode,
        host: impl Fn() -> G,
        recorder: Option<Recorder>,
        nice: i32,
    ) -> Built {
        let why = match self.build_into_store(candidate, gpu, sandbox, &host, recorder, nice) {
            // The build failed in the judge's own builder: a build the way before the store
            // would only fail again (a minute of every core, per failure).
            Err(NotStored::DoesNotBuild(why)) => {
                return Built {
                    cache: None,
                    said: format!("does not build (its review builds it again and says why): {why}"),
                };
            }
            Err(NotStored::Other(why)) => why,
            Ok((0, _)) => return Built { cache: Some(Cache::Store), said: "in the store".to_string() },
            Ok((n, fallbacks)) => {
                let mut said = format!("built {n} into the store");
                if !fallbacks.is_empty() {
                    said.push_str(&format!(
                        " ({} with PyTorch's own <torch/extension.h>, the lean one failing: {})",
                        fallbacks.len(),
                        fallbacks.join("; ")
                    ));
                }
                return Built { cache: Some(Cache::Store), said };
            }
        };
        let held = host();
        let (cache, said) = self.build_for_source(candidate, gpu, sandbox);
        drop(held);
        Built { cache, said: format!("{said}; not in the store: {why}") }
    }

    /// Record what the candidate asks for, build what the store lacks, and again, until a
    /// recording finds everything in the store: how many were built (and why the lean header
    /// failed for each built with PyTorch's own), or why the store cannot hold them.
    fn build_into_store<G>(
        &self,
        candidate: &Candidate,
        gpu: usize,
        sandbox: crate::sandbox::Mode,
        host: &impl Fn() -> G,
        mut recorder: Option<Recorder>,
        nice: i32,
    ) -> Result<(usize, Vec<String>), NotStored> {
        let store = self.store().map_err(|e| e.to_string())?;
        let mut built = 0;
        let mut fallbacks = Vec::new();
        for _ in 0..RECORDING_ROUNDS {
            let Recorder { mut worker, records } = match recorder.take() {
                Some(r) => r,
                None => self.recorder(gpu, sandbox)?,
            };
            // Whether it loads is for its review to say: a stand-in for what is not built yet
            // raises when called. The candidate's code (and the GPU work it queues) holds timings
            // off.
            let held = host();
            // A recorder may have waited for its candidate (a server's spare): the deadline is
            // this recording's.
            worker.start_review();
            load(&mut worker, candidate);
            drop(worker);
            drop(held);
            let text = std::fs::read_to_string(records.path().join(crate::python_sandbox::RECORDS)).unwrap_or_default();
            let records = super::store::read_records(&text)?;
            if records.is_empty() {
                return Ok((built, fallbacks));
            }
            for (key, record) in records {
                record.supported()?;
                if store.has(&key) {
                    continue;
                }
                if let Some(why) = self.build_record(&store, &key, &record, gpu, sandbox, nice)? {
                    fallbacks.push(format!("`{}`: {why}", record.name));
                }
                built += 1;
            }
        }
        Err(NotStored::Other(format!("it asked for extensions the store lacked {RECORDING_ROUNDS} times")))
    }

    /// Build one record in a confined builder that runs none of the candidate's Python, and put
    /// it in the store under `key` (computed by the judge from `record`); why the lean
    /// `<torch/extension.h>` failed, where the builder fell back to PyTorch's own.
    fn build_record(
        &self,
        store: &Store,
        key: &str,
        record: &super::store::Record,
        gpu: usize,
        sandbox: crate::sandbox::Mode,
        nice: i32,
    ) -> Result<Option<String>, NotStored> {
        let staging = store.staging(key).map_err(|e| format!("cannot make a build directory: {e}"))?;
        let temp = tempfile::Builder::new()
            .prefix("sadoku-builder-")
            .tempdir()
            .map_err(|e| format!("cannot make a builder's directory: {e}"))?;
        crate::sandbox::prepare_temp(temp.path()).map_err(|e| e.to_string())?;
        let file = temp.path().join("record.json");
        std::fs::write(&file, serde_json::to_vec(record).expect("a record serializes"))
            .map_err(|e| format!("cannot write the record: {e}"))?;
        let device = processes::python_device(&self.device, gpu);
        let args: Vec<std::ffi::OsString> = vec![
            "-s".into(),
            "-m".into(),
            "sadoku_bridge.build_extension".into(),
            "--device".into(),
            device.into(),
            "--torch-headers".into(),
            self.headers.name().into(),
            file.into(),
            staging.path().into(),
        ];
        let mut cmd = crate::python_sandbox::command_with(
            &self.python,
            temp.path(),
            std::slice::from_ref(&self.bridge),
            sandbox,
            &args,
            Extensions::Build(staging.path()),
            crate::python_sandbox::WORKER_HOST_GIB,
        )
        .map_err(|e| e.to_string())?;
        crate::python_sandbox::niced(&mut cmd, nice);
        // Minutes of every core: host work, stopped while a card is timed rather than holding
        // timings off.
        let ran = crate::python_sandbox::run_as_host_work(cmd, Self::LOAD).map_err(|e| format!("the builder: {e}"))?;
        if !ran.status.is_some_and(|s| s.success()) {
            let said = ran.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
            let how = ran.status.map_or("ran out of time".to_string(), |s| s.to_string());
            let why = format!("`{}` {how}: {said}", record.name);
            // The builder's exit and last line for a build that failed (a Python crash exits 1
            // too, and says otherwise).
            let refused = ran.status.and_then(|s| s.code()) == Some(1) && said.starts_with("does not build: ");
            return Err(if refused { NotStored::DoesNotBuild(why) } else { NotStored::Other(why) });
        }
        let lean_failed = super::store::lean_failed(staging.path());
        store.publish(staging, key).map_err(|e| format!("cannot put `{}` in the store: {e}", record.name))?;
        Ok(lean_failed)
    }

    /// Build the candidate's extensions into its cache entry by loading it (the way before the
    /// store, for what the store cannot hold).
    fn build_for_source(
        &self,
        candidate: &Candidate,
        gpu: usize,
        sandbox: crate::sandbox::Mode,
    ) -> (Option<Cache>, String) {
        let built = (|| -> Result<bool, DeviceError> {
            let mut worker = self.spawn_candidate(gpu, Default::default(), sandbox, &candidate.source, Cache::Build)?;
            Ok(load(&mut worker, candidate))
        })();
        match built {
            Ok(true) => (Some(Cache::Prebuilt), "built".to_string()),
            Ok(false) => (None, "does not build (its review builds it again and says why)".to_string()),
            Err(e) => (None, format!("not built: {e}")),
        }
    }
}

/// Why a candidate's extensions are not in the store.
enum NotStored {
    /// The judge's builder ran PyTorch's build of the record and it failed (in practice the
    /// compiler refusing the source, whose first error the builder says last): a build the way
    /// before the store would build the same sources with the same compiler, so none is tried;
    /// the review builds it again and says why.
    DoesNotBuild(String),
    /// Anything else (a record the store cannot hold, a builder that could not run, ...): built
    /// the way before the store.
    Other(String),
}

impl From<String> for NotStored {
    fn from(why: String) -> NotStored {
        NotStored::Other(why)
    }
}

/// Load `candidate` in its worker as its review will (its compile request): whether it loaded.
fn load(worker: &mut sadoku_core::protocol::RemoteDevice, candidate: &Candidate) -> bool {
    use sadoku_core::device::Device as _;
    let request = sadoku_core::compile::CompileRequest {
        name: candidate.name(),
        source: candidate.source.clone(),
        arch: worker.info().arch(),
        options: candidate.spec.options.clone(),
    };
    worker.compile(&request).is_ok()
}
