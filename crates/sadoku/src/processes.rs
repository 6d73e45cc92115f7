//! Worker processes: one per candidate, each with its own CUDA context, so that a candidate can
//! neither see the answer nor take the judge down with it.
//!
//! The worker is this same binary (`sadoku worker`): the judge starts it with piped stdin and
//! stdout for the protocol, and keeps the tail of its stderr as evidence.

use std::collections::VecDeque;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use sadoku_core::device::DeviceError;
use sadoku_core::protocol::{RemoteDevice, Timeouts, Worker};

/// Bytes of a worker's stderr kept for the evidence.
const STDERR_TAIL: usize = 4096;

struct ProcessWorker {
    child: Child,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    /// The worker's private temporary directory, removed with it.
    _temp: Option<tempfile::TempDir>,
    /// It leads a process group of its own (a Python worker): killed whole.
    group: bool,
    /// May be stopped between requests: not under compute-sanitizer, whose front end would be
    /// stopped instead of the worker it watches.
    stoppable: bool,
}

impl ProcessWorker {
    /// Send `sig` to the worker: its whole process group when it leads one.
    fn signal(&self, sig: i32) {
        let pid = self.child.id() as i32;
        // SAFETY: a signal to a process (group) the judge started and has not yet reaped.
        unsafe { libc::kill(if self.group { -pid } else { pid }, sig) };
    }
}

impl Drop for ProcessWorker {
    fn drop(&mut self) {
        // Nothing a Python worker started outlives it.
        if self.group {
            crate::child::kill_group(self.child.id());
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

impl Worker for ProcessWorker {
    fn kill(&mut self) {
        // SIGKILL ends stopped processes as well as running ones.
        if self.group {
            crate::child::kill_group(self.child.id());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn status(&mut self) -> String {
        match self.child.wait() {
            Ok(s) => match (s.code(), s.signal()) {
                (Some(code), _) => format!("exit status {code}"),
                (None, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig)),
                _ => s.to_string(),
            },
            Err(e) => format!("status unknown: {e}"),
        }
    }

    fn suspend(&mut self) {
        if self.stoppable {
            self.signal(libc::SIGSTOP);
        }
    }

    fn resume(&mut self) {
        if self.stoppable {
            self.signal(libc::SIGCONT);
        }
    }

    fn pin(&mut self, cpus: Option<&[usize]>) {
        crate::placement::pin(self.child.id(), self.group, cpus.unwrap_or(crate::placement::allowed()));
    }

    fn stderr_tail(&mut self) -> String {
        // Give the drain thread a moment to collect the last words of a dying process.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let tail = self.stderr.lock().map(|t| t.iter().copied().collect::<Vec<u8>>()).unwrap_or_default();
        String::from_utf8_lossy(&tail).trim().replace('\n', " | ")
    }
}

/// compute-sanitizer wrapped around a worker: which tool, and where its report goes.
pub struct Sanitizer<'a> {
    pub program: &'a Path,
    pub tool: &'a str,
    pub log: &'a Path,
}

/// compute-sanitizer from PATH, $CUDA_HOME/bin or /usr/local/cuda/bin.
pub fn find_sanitizer() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(std::env::var_os("CUDA_HOME").map(|h| PathBuf::from(h).join("bin")))
        .chain([PathBuf::from("/usr/local/cuda/bin")])
        .map(|d| d.join("compute-sanitizer"))
        .find(|p| p.is_file())
}

/// Start a worker on GPU `gpu` (under compute-sanitizer when asked), serving `device`'s kind of
/// device, and connect to it. It starts
/// with a cleared environment and a private temporary directory, and confines itself as
/// `sandbox` says (see `sandbox.rs`).
pub fn spawn(
    gpu: usize,
    timeouts: Timeouts,
    sanitizer: Option<Sanitizer>,
    sandbox: crate::sandbox::Mode,
    compile_memory_gib: f64,
    device: crate::cli::DeviceArg,
) -> Result<RemoteDevice, DeviceError> {
    let exe =
        std::env::current_exe().map_err(|e| DeviceError::Environment(format!("cannot find sadoku itself: {e}")))?;
    let mut cmd = match &sanitizer {
        Some(s) => {
            let mut c = Command::new(s.program);
            c.args(["--tool", s.tool, "--print-limit", "20", "--log-file"]).arg(s.log).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    // A worker keeps no module cache: the judge does (see `RemoteDevice::cache_modules`).
    cmd.args(["worker", "--gpu", &gpu.to_string(), "--compile-memory", &compile_memory_gib.to_string()]);
    // A worker serves the judge's kind of device (the simulated one under `--device sim`).
    if device != crate::cli::DeviceArg::Cuda {
        cmd.args(["--device", device.name()]);
    }
    let temp = tempfile::Builder::new()
        .prefix("sadoku-worker-")
        .tempdir()
        .map_err(|e| DeviceError::Environment(format!("cannot make a worker's temporary directory: {e}")))?;
    // A root judge's worker drops to an unprivileged user, whose directory this becomes.
    if sandbox != crate::sandbox::Mode::Off {
        crate::sandbox::prepare_temp(temp.path())
            .map_err(|e| DeviceError::Environment(format!("cannot hand the worker its temporary directory: {e}")))?;
    }
    let mode = match sandbox {
        crate::sandbox::Mode::Auto => "auto",
        crate::sandbox::Mode::Require => "require",
        crate::sandbox::Mode::Off => "off",
    };
    cmd.args(["--sandbox", mode]).arg("--temp").arg(temp.path());
    // Not under compute-sanitizer, which passes its own variables to the program it wraps.
    if sanitizer.is_none() {
        crate::child::clear_env(&mut cmd, temp.path());
    }
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| DeviceError::Environment(format!("cannot start a worker process: {e}")))?;
    let stoppable = sanitizer.is_none();
    let mut device = connect(child, Some(temp), false, stoppable, timeouts)?;
    // A native worker only ever serves a candidate.
    device.mark_untrusted();
    Ok(device)
}

/// Start a Python worker (`python/sadoku_bridge/worker.py`) on GPU `gpu`, confined by `sadoku
/// pyworker` as `sandbox` says, and connect to it: the worker of a Python candidate, or the
/// process of a KernelBench problem's own Model.
///
/// Its start (the interpreter, PyTorch's import, the CUDA context: seconds of a core, before any
/// candidate code) is host work, stopped while a card is timed (see [`crate::host_work`]),
/// unless the caller holds timings off meanwhile (`lanes::Gates::host`), as a lane starting the
/// worker of its next candidate does.
pub fn spawn_python(
    gpu: usize,
    timeouts: Timeouts,
    python: &Path,
    bridge: &Path,
    sandbox: crate::sandbox::Mode,
    device: &str,
    extensions: crate::python_sandbox::Extensions,
) -> Result<RemoteDevice, DeviceError> {
    let env = |m: String| DeviceError::Environment(m);
    let temp = tempfile::Builder::new()
        .prefix("sadoku-pyworker-")
        .tempdir()
        .map_err(|e| env(format!("cannot make a worker's temporary directory: {e}")))?;
    let device = python_device(device, gpu);
    let args: Vec<std::ffi::OsString> =
        ["-s", "-m", "sadoku_bridge.worker", "--device", &device].iter().map(Into::into).collect();
    let mut cmd = crate::python_sandbox::command_with(
        python,
        temp.path(),
        &[bridge.to_path_buf()],
        sandbox,
        &args,
        extensions,
        crate::python_sandbox::WORKER_HOST_GIB,
    )
    .map_err(|e| env(e.to_string()))?;
    // A worker on a GPU traces its timed calls with sadoku's CUPTI tracer (`sadoku_bridge.tracing`).
    if let Some(lib) = crate::python_sandbox::trace_library().filter(|_| device.starts_with("cuda")) {
        cmd.env("SADOKU_TRACE_LIB", lib);
    }
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| env(format!("cannot start a Python worker: {e}")))?;
    let starting = crate::host_work::register(child.id());
    let connected = connect(child, Some(temp), true, true, timeouts);
    drop(starting);
    connected.map_err(|e| match e {
        DeviceError::Environment(m) if m.contains("No module named 'torch'") => env(format!(
            "no PyTorch for {}: install it (pip install torch) or name an interpreter that has it with --python or \
             SADOKU_PYTHON (SADOKU_PYTHONPATH adds to its path); native candidates need none",
            python.display()
        )),
        other => other,
    })
}

/// The device a Python process on GPU `gpu` is told to use: `cuda:N` for a run's `cuda`, else
/// the run's own (`cpu`).
pub fn python_device(device: &str, gpu: usize) -> String {
    if device == "cuda" { format!("cuda:{gpu}") } else { device.to_string() }
}

/// Connect to a started worker, keeping the tail of its stderr as evidence.
fn connect(
    mut child: Child,
    temp: Option<tempfile::TempDir>,
    group: bool,
    stoppable: bool,
    timeouts: Timeouts,
) -> Result<RemoteDevice, DeviceError> {
    let (Some(stdin), Some(stdout), Some(mut stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(DeviceError::Environment("worker started without its pipes".into()));
    };
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
    let sink = tail.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut t) = sink.lock() {
                t.extend(&buf[..n]);
                let excess = t.len().saturating_sub(STDERR_TAIL);
                t.drain(..excess);
            }
        }
    });
    let worker = ProcessWorker { child, stderr: tail, _temp: temp, group, stoppable };
    RemoteDevice::connect(Box::new(stdout), Box::new(stdin), Box::new(worker), timeouts).map_err(|e| match e {
        DeviceError::WorkerDied { status, stderr } => {
            DeviceError::Environment(format!("the worker process could not start ({status}): {stderr}"))
        }
        other => other,
    })
}

/// In the worker: give the protocol the real stdout, and send everything else that would write
/// there (a kernel's printf, a library's chatter) to stderr.
pub fn take_stdout() -> std::io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain descriptor calls on this process's own stdout/stderr; the duplicate is owned
    // by the File returned.
    unsafe {
        let protocol = libc::dup(libc::STDOUT_FILENO);
        if protocol < 0 || libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(std::fs::File::from_raw_fd(protocol))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::time::Duration;

    /// A process group whose leader and its child each count, into a file of their own, every
    /// 10 ms: as a Python worker's threads or the processes it started would act between requests.
    fn counting(dir: &Path) -> ProcessWorker {
        let script = "(while :; do i=$((i+1)); echo $i > child; sleep 0.01; done) & \
                      while :; do j=$((j+1)); echo $j > leader; sleep 0.01; done";
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        ProcessWorker { child, stderr: Arc::default(), _temp: None, group: true, stoppable: true }
    }

    fn count(dir: &Path, which: &str) -> u64 {
        std::fs::read_to_string(dir.join(which)).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }

    /// Whether `cond` holds within 10 s, polled: a loaded machine (CI's two cores, compiling) may
    /// take a while to schedule the counters, and a file read while `echo` rewrites it is empty.
    fn eventually(cond: impl Fn() -> bool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Between the judge's requests a candidate's process group does nothing: neither the worker
    /// nor anything it started advances while suspended; it goes on once resumed; a suspended
    /// group is still killed at once.
    #[test]
    fn a_suspended_worker_group_does_not_advance_and_still_dies() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = counting(dir.path());
        assert!(eventually(|| count(dir.path(), "leader") > 0 && count(dir.path(), "child") > 0), "it runs");
        w.suspend();
        // A write in flight when the signal came may still land.
        std::thread::sleep(Duration::from_millis(50));
        let (leader, child) = (count(dir.path(), "leader"), count(dir.path(), "child"));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(count(dir.path(), "leader"), leader, "the leader ran while stopped");
        assert_eq!(count(dir.path(), "child"), child, "a process it started ran while stopped");
        w.resume();
        assert!(
            eventually(|| count(dir.path(), "leader") > leader && count(dir.path(), "child") > child),
            "it runs again"
        );
        w.suspend();
        let started = std::time::Instant::now();
        w.kill();
        assert!(started.elapsed() < Duration::from_secs(2), "a stopped group is killed without waiting");
        assert_eq!(w.status(), "killed by signal 9 (SIGKILL)");
    }
}
