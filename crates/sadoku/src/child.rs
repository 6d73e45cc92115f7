//! What every process the judge starts begins with: an environment cleared of all but what a
//! worker needs, and a process group of its own, killed whole.

use std::process::Command;

/// Variables a worker keeps from the judge's environment: where CUDA and sadoku's cache are, and
/// which GPUs it may see. Everything else (tokens, proxies, LD_PRELOAD, ...) is cleared.
const KEPT_ENV: [&str; 10] = [
    "LD_LIBRARY_PATH",
    "CUDA_HOME",
    "CUDA_PATH",
    "CUDA_VISIBLE_DEVICES",
    "SADOKU_CACHE_DIR",
    "SADOKU_NO_CUPTI",
    // How long a worker keeps its core busy before a timed call (`worker.py`'s HOST_WARM_MS):
    // the same for the candidate's and the baseline's processes.
    "SADOKU_HOST_WARM_MS",
    "XDG_CACHE_HOME",
    "HOME",
    "PATH",
];

/// A worker's environment: [`KEPT_ENV`] and `NVIDIA_*` from the judge's, and `TMPDIR` = `temp`.
pub fn clear_env(cmd: &mut Command, temp: &std::path::Path) {
    cmd.env_clear();
    for (k, v) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| KEPT_ENV.contains(&k) || k.starts_with("NVIDIA_")) {
            cmd.env(k, v);
        }
    }
    cmd.env("TMPDIR", temp);
}

/// Kill a worker's whole process group: the worker and everything it started.
pub fn kill_group(leader: u32) {
    // SAFETY: a signal to a process group the judge made.
    unsafe { libc::kill(-(leader as i32), libc::SIGKILL) };
}
