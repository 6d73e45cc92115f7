//! A Python worker's confinement. Python candidates (the PyTorch bridge) are arbitrary host code,
//! so none of it runs outside the sandbox: `sadoku pyworker` prepares the confinement and becomes
//! the interpreter (exec, same process), which applies it to itself once its CUDA context exists
//! and before it loads the candidate (see `commands::pyworker::run`):
//! - it leads a process group of its own, which it and its children cannot leave (no `setsid`,
//!   no `setpgid`) and which the judge kills whole when the worker ends: nothing it started
//!   outlives it; it dies with the judge;
//! - rlimits, and root dropped to `nobody`, as for a native worker;
//! - Landlock: read (and run) only the interpreter's own directories, the system's libraries and
//!   programs (`/usr`, `/lib*`: compilers for torch extensions), the CUDA toolkit and driver
//!   files, and the files it is given; write only its private temporary directory and the NVIDIA
//!   device nodes. Not the home directory, not the results, not sadoku's caches;
//! - seccomp, in two steps: while the candidate is loaded (building a torch extension runs
//!   nvcc and a C++ compiler), processes are allowed within the group; no network sockets,
//!   ptrace, `process_vm_*`, or signals outside the group. Once loaded, the bridge installs the
//!   stricter filter a native worker has (no fork, no exec), written for it to
//!   `seccomp.bpf` in the temporary directory; filters stack, so nothing is loosened.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};

use crate::sandbox::{self, Mode};

/// What the interpreter reads to start: its prefixes and the directories on its path, asked of it
/// before anything of a candidate's is loaded.
pub(crate) fn interpreter_dirs(python: &Path) -> Result<Vec<PathBuf>> {
    let script = "import json, os, sys\n\
        dirs = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,\n\
                os.path.dirname(os.path.realpath(sys.executable))] + sys.path\n\
        print(json.dumps([os.path.realpath(d) for d in dirs if d and os.path.exists(d)]))";
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .output()
        .map_err(|e| anyhow!("cannot run the Python interpreter {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(anyhow!(
            "the Python interpreter {} failed ({}): {}",
            python.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let dirs: Vec<PathBuf> =
        serde_json::from_slice(&out.stdout).map_err(|e| anyhow!("unreadable answer from {}: {e}", python.display()))?;
    let mut all = vec![python.to_path_buf()];
    all.extend(dirs);
    Ok(all)
}

/// Everything a Python worker may read besides its own files.
pub(crate) fn system_read() -> Vec<PathBuf> {
    let mut read: Vec<PathBuf> =
        ["/usr", "/lib", "/lib64", "/bin", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d"]
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect();
    read.extend(["/dev/urandom", "/dev/zero"].iter().map(PathBuf::from));
    if let Some(root) = sadoku_cuda::libs::CudaRoot::find() {
        read.push(root.root.clone());
    }
    // Where the judge found CUDA's libraries (the driver's own are under /usr or /lib).
    if let Some(v) = std::env::var_os("LD_LIBRARY_PATH") {
        read.extend(std::env::split_paths(&v).filter(|p| p.is_absolute() && p.exists()));
    }
    // The programs on PATH, whole prefixes (`/opt/gcc` for `/opt/gcc/bin`: a compiler needs its
    // libexec and headers): building a torch extension runs the C++ compiler, nvcc and ninja.
    // Never anything under the judging user's home (credentials live there: ~/.cargo, ~/.ssh).
    let home = std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.parent().is_some());
    if let Some(v) = std::env::var_os("PATH") {
        let outside_home = |p: &PathBuf| home.as_ref().is_none_or(|h| !p.starts_with(h));
        for dir in std::env::split_paths(&v).filter(|p| p.is_absolute() && p.exists()).filter(outside_home) {
            let prefix = if dir.ends_with("bin") { dir.parent().map(Path::to_path_buf) } else { None };
            read.push(prefix.filter(|p| p.parent().is_some()).unwrap_or(dir));
        }
    }
    read
}

/// The judge's side: the command that starts a confined Python worker running `args` with
/// `python`, with a cleared environment pointed at `temp`, the directories of `read` on its
/// Python path. The worker leads its process group:
/// kill it with [`crate::child::kill_group`].
pub fn command(
    python: &Path,
    temp: &Path,
    read: &[PathBuf],
    mode: Mode,
    args: &[OsString],
) -> Result<std::process::Command> {
    command_with(python, temp, read, mode, args, Extensions::Private, WORKER_HOST_GIB)
}

/// GiB of host memory a Python worker may map beyond what it holds when it confines itself.
pub const WORKER_HOST_GIB: u64 = 16;

/// Where a Python worker's torch extensions are: the judge's cache for its candidate's source
/// (see [`extension_cache`]), or the worker's own temporary directory.
#[derive(Debug, Clone, Copy)]
pub enum Extensions<'a> {
    /// Built in the worker's own directory, and gone with it.
    Private,
    /// The cache entry, which this worker builds into: a build ahead of the review (see
    /// `lanes::build`), in a process of its own.
    Build(&'a Path),
    /// The cache entry, built ahead of the review: read-only to the worker, which loads what is
    /// there and builds nothing (`SADOKU_PREBUILT`, see the bridge's `prebuilt.py`). A candidate
    /// under review can write no cache.
    Prebuilt(&'a Path),
    /// The extension store (`backend::store`), read-only: what it holds is imported, what it
    /// lacks is written down as build records in `records` (a directory the worker may write),
    /// before the candidate's review.
    Record { store: &'a Path, records: &'a Path },
    /// The extension store, read-only, for the candidate's review: nothing is built.
    Store(&'a Path),
}

/// [`command`], with the worker's torch extensions where `extensions` says, and `host_gib` GiB
/// of host memory (a candidate's worker: [`WORKER_HOST_GIB`]; one describing a KernelBench file,
/// which holds its inputs and outputs at full size, more).
pub fn command_with(
    python: &Path,
    temp: &Path,
    read: &[PathBuf],
    mode: Mode,
    args: &[OsString],
    extensions: Extensions,
    host_gib: u64,
) -> Result<std::process::Command> {
    let exe = std::env::current_exe().map_err(|e| anyhow!("cannot find sadoku itself: {e}"))?;
    sandbox::prepare_temp(temp)?;
    let mut cmd = std::process::Command::new(exe);
    let mode = match mode {
        Mode::Auto => "auto",
        Mode::Require => "require",
        Mode::Off => "off",
    };
    cmd.args(["pyworker", "--sandbox", mode, "--host-gib", &host_gib.to_string(), "--temp"]).arg(temp);
    for r in read {
        cmd.arg("--read").arg(r);
    }
    match extensions {
        Extensions::Private => {}
        Extensions::Build(e) => {
            cmd.arg("--write").arg(e);
        }
        Extensions::Prebuilt(e) | Extensions::Store(e) => {
            cmd.arg("--read").arg(e);
        }
        Extensions::Record { store, records } => {
            cmd.arg("--read").arg(store).arg("--write").arg(records);
        }
    }
    cmd.arg("--").arg(python).args(args);
    // Its own process group from the start (the worker makes it so itself too), so that it can
    // be stopped whole as host work (`crate::host_work`) from the moment it runs.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    crate::child::clear_env(&mut cmd, temp);
    // Python and the libraries it loads keep their caches in the worker's own directory.
    for var in [
        "HOME",
        "TORCH_EXTENSIONS_DIR",
        "TRITON_CACHE_DIR",
        "TORCHINDUCTOR_CACHE_DIR",
        "CUDA_CACHE_PATH",
        "XDG_CACHE_HOME",
    ] {
        cmd.env(var, temp);
    }
    match extensions {
        Extensions::Private => {}
        Extensions::Build(e) => {
            cmd.env("TORCH_EXTENSIONS_DIR", e);
        }
        Extensions::Prebuilt(e) => {
            cmd.env("TORCH_EXTENSIONS_DIR", e).env("SADOKU_PREBUILT", "1");
        }
        Extensions::Record { store, records } => {
            cmd.env("SADOKU_EXTENSIONS", "record")
                .env("SADOKU_EXTENSION_STORE", store)
                .env("SADOKU_EXTENSION_RECORDS", records.join(RECORDS));
        }
        Extensions::Store(store) => {
            cmd.env("SADOKU_EXTENSIONS", "load").env("SADOKU_EXTENSION_STORE", store);
        }
    }
    cmd.env("PYTHONNOUSERSITE", "1").env("PYTHONDONTWRITEBYTECODE", "1");
    // The bridge's own sources first, then where the user keeps PyTorch if not in the interpreter's
    // own site-packages (SADOKU_PYTHONPATH).
    let mut path: Vec<PathBuf> = read.iter().filter(|p| p.is_dir()).cloned().collect();
    if let Some(p) = std::env::var_os("SADOKU_PYTHONPATH") {
        path.extend(std::env::split_paths(&p));
    }
    if !path.is_empty() {
        cmd.env("PYTHONPATH", std::env::join_paths(path)?);
    }
    Ok(cmd)
}

/// sadoku's tracer library for Python workers: $SADOKU_TRACE_LIB, else `libsadoku_trace.so`
/// next to sadoku (where `cargo build --release` puts both). `None`: the workers say they could
/// not trace, and their calls are timed by events.
pub fn trace_library() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SADOKU_TRACE_LIB").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let beside = std::env::current_exe().ok()?.with_file_name("libsadoku_trace.so");
    beside.is_file().then_some(beside)
}

/// The directory where torch builds the extensions of one candidate source, kept from review to
/// review: a re-review of the same source loads what it built instead of building again (a minute
/// of nvcc and a C++ compiler). One directory per source and interpreter, and a worker may write
/// only its own (Landlock), so a candidate can plant nothing in another's; the parent is the
/// judge's, traversable but not listable, under the system's temporary directory (a worker that
/// runs as `nobody` cannot reach the judging user's home).
pub fn extension_cache(python: &Path, source: &str) -> Result<PathBuf> {
    use sha2::Digest as _;
    use std::os::unix::fs::PermissionsExt as _;
    let root = extension_root()?;
    let key = sha2::Sha256::new()
        .chain_update(python.as_os_str().as_encoded_bytes())
        .chain_update(b"\0")
        .chain_update(source)
        .finalize();
    let dir = root.join(&hex::encode(key)[..32]);
    std::fs::create_dir_all(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    sandbox::prepare_temp(&dir)?;
    Ok(dir)
}

/// The judge's directory for torch extensions (per-source entries and the store), made if
/// missing: under the system's temporary directory, this user's, traversable but not listable.
pub fn extension_root() -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let root = std::env::temp_dir().join(format!("sadoku-extensions-{uid}"));
    std::fs::create_dir_all(&root)?;
    let meta = std::fs::symlink_metadata(&root)?;
    if !meta.is_dir() || std::os::unix::fs::MetadataExt::uid(&meta) != uid {
        return Err(anyhow!("{}: not a directory of this user's; remove it", root.display()));
    }
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o711))?;
    Ok(root)
}

/// The file, in the directory [`Extensions::Record`] names, where a recording worker writes its
/// build records.
pub const RECORDS: &str = "records.jsonl";

/// Run `cmd` (and everything it starts: a build's compilers) `nice` steps nicer than the judge
/// (0: as the judge).
pub fn niced(cmd: &mut std::process::Command, nice: i32) {
    if nice == 0 {
        return;
    }
    // SAFETY: between fork and exec, one system call on the child itself (async-signal-safe);
    // its failure leaves the child at the judge's priority, which is only slower for the others.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, move || {
            libc::nice(nice);
            Ok(())
        });
    }
}

/// A Python worker run to its end (or its deadline), its process group then killed.
pub struct Ran {
    /// How it ended; `None` when it was still running at the deadline.
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    /// Processes of its group still alive when it ended (children it left behind).
    pub left_running: usize,
    /// Processes of its group alive after the judge killed the group: none, unless one escaped.
    pub alive_after_kill: usize,
    /// It held a GPU lent to it longer than the loan's limit, and was killed for it
    /// ([`run_as_host_work_lent`]).
    pub loan_overran: bool,
}

/// Start `cmd` (from [`command`]), wait at most `deadline`, then kill its whole process group.
pub fn run_to_end(cmd: std::process::Command, deadline: std::time::Duration) -> Result<Ran> {
    run(cmd, deadline, false, None, std::time::Duration::MAX)
}

/// [`run_to_end`] for host work that may go on beside reviews (a build, describing a problem):
/// its process group is stopped while any card is timed (see [`crate::host_work`]).
pub fn run_as_host_work(cmd: std::process::Command, deadline: std::time::Duration) -> Result<Ran> {
    run(cmd, deadline, true, None, std::time::Duration::MAX)
}

/// [`run_as_host_work`] for a worker that may ask for a GPU (`python -m sadoku_bridge.describe
/// --lease`): a line [`ASK`] on its stdout is answered on its stdin with what `lender` lends
/// (`DEVICE SHARE`, or `cpu`), held until the worker says [`DONE`] or ends. Those two lines are
/// not part of [`Ran::stdout`]. A worker that holds its loan longer than `limit` (its file's code
/// looping on the card, say: timings on that card wait for it) is killed, and
/// [`Ran::loan_overran`] says so.
pub fn run_as_host_work_lent(
    cmd: std::process::Command,
    deadline: std::time::Duration,
    lender: &dyn Lender,
    limit: std::time::Duration,
) -> Result<Ran> {
    run(cmd, deadline, true, Some(lender), limit)
}

/// What a worker asking for a GPU writes on a line of its stdout.
pub const ASK: &str = "sadoku-describe: lease a GPU?";
/// What it writes when it no longer touches the GPU.
pub const DONE: &str = "sadoku-describe: done with the GPU";

/// A GPU lent to a worker for part of its work: the device as PyTorch names it, the share of
/// its memory set aside, and what holds the card meanwhile (its memory admitted, its timings
/// held off) until the loan is dropped.
pub struct Loan<'a> {
    pub device: String,
    pub share: f64,
    pub held: Box<dyn Held + 'a>,
}

/// Anything a [`Loan`] keeps until it is dropped (guards, tickets).
pub trait Held {}
impl<T> Held for T {}

/// Who lends GPUs to workers that ask ([`run_as_host_work_lent`]).
pub trait Lender: Sync {
    /// A GPU now or after a bounded wait, or none (the worker works on the CPU).
    fn lend(&self) -> Option<Loan<'_>>;
}

fn run(
    mut cmd: std::process::Command,
    deadline: std::time::Duration,
    host_work: bool,
    lender: Option<&dyn Lender>,
    limit: std::time::Duration,
) -> Result<Ran> {
    use std::io::Read;
    if lender.is_some() {
        cmd.stdin(std::process::Stdio::piped());
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| anyhow!("cannot start a Python worker: {e}"))?;
    let leader = child.id();
    let registered = host_work.then(|| crate::host_work::register(leader));
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    // Since when the worker has held a loan, if it holds one.
    let lent = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        let lent = &lent;
        // One reader per pipe: a worker that fills one while the other is read cannot block.
        let stdout = scope.spawn(move || answer_lines(stdout, stdin, lender, lent));
        let stderr = scope.spawn(move || {
            let mut bytes = Vec::new();
            let _ = stderr.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        });
        let until = std::time::Instant::now() + deadline;
        let mut status = None;
        let mut lost = None;
        let mut loan_overran = false;
        while std::time::Instant::now() < until {
            let since: Option<std::time::Instant> = *lent.lock().unwrap_or_else(|e| e.into_inner());
            if since.is_some_and(|t| t.elapsed() > limit) {
                loan_overran = true;
                break;
            }
            match child.try_wait() {
                Ok(Some(s)) => {
                    status = Some(s);
                    break;
                }
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(10)),
                // Killed and reaped below; the readers end with it.
                Err(e) => {
                    lost = Some(e);
                    break;
                }
            }
        }
        drop(registered);
        let left_running = crate::placement::group_members(leader).len();
        crate::child::kill_group(leader);
        let _ = child.wait();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let alive_after_kill = crate::placement::group_members(leader).len();
        let text = |h: std::thread::ScopedJoinHandle<'_, String>| h.join().unwrap_or_default();
        let (stdout, stderr) = (text(stdout), text(stderr));
        if let Some(e) = lost {
            return Err(anyhow!("lost track of a Python worker: {e}"));
        }
        Ok(Ran { status, stdout, stderr, left_running, alive_after_kill, loan_overran })
    })
}

/// A worker's stdout, read to its end; with a lender, [`ASK`] lines answered and the loan held
/// until [`DONE`] (or the end).
fn answer_lines(
    stdout: std::process::ChildStdout,
    mut stdin: Option<std::process::ChildStdin>,
    lender: Option<&dyn Lender>,
    lent: &std::sync::Mutex<Option<std::time::Instant>>,
) -> String {
    use std::io::{BufRead, Write};
    let mut reader = std::io::BufReader::new(stdout);
    let mut text = Vec::new();
    let mut line = Vec::new();
    let mut loan = None;
    let held = |since: Option<std::time::Instant>| *lent.lock().unwrap_or_else(|e| e.into_inner()) = since;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let said = String::from_utf8_lossy(&line);
        match (lender, said.trim_end()) {
            (Some(lender), ASK) => {
                drop(loan.take());
                held(None);
                loan = lender.lend();
                if loan.is_some() {
                    held(Some(std::time::Instant::now()));
                }
                let answer = loan.as_ref().map_or_else(|| "cpu".to_string(), |l| format!("{} {}", l.device, l.share));
                if let Some(pipe) = stdin.as_mut() {
                    // A worker that has gone reads nothing: its end is seen on stdout.
                    let _ = writeln!(pipe, "{answer}").and_then(|()| pipe.flush());
                }
            }
            (Some(_), DONE) => {
                loan = None;
                held(None);
            }
            _ => text.extend_from_slice(&line),
        }
    }
    drop(loan);
    held(None);
    String::from_utf8_lossy(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::CommandExt as _;

    use super::*;

    #[test]
    fn each_source_builds_in_a_directory_of_its_own_under_a_parent_no_one_can_list() {
        let python = Path::new("/usr/bin/python3");
        let a = extension_cache(python, "source a").unwrap();
        assert_eq!(a, extension_cache(python, "source a").unwrap(), "the same source: the same cache");
        let b = extension_cache(python, "source b").unwrap();
        assert_ne!(a, b);
        assert_ne!(a, extension_cache(Path::new("/opt/other/python3"), "source a").unwrap(), "per interpreter");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(a.parent().unwrap()), 0o711, "traversable, not listable");
        assert_eq!(mode(&a), 0o700);
    }

    /// A loan's limit no test worker comes near.
    const LONG: std::time::Duration = std::time::Duration::from_secs(60);

    #[test]
    fn a_worker_that_holds_its_loan_past_the_limit_is_stopped_and_one_done_with_it_in_time_is_not() {
        use std::sync::atomic::Ordering::SeqCst;
        let limit = std::time::Duration::from_millis(300);
        // Asks, is lent, and works on the card for 20 s (its file's code looping, say).
        let stub = Stub::new(true);
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", &format!("echo '{ASK}'; read answer; sleep 20; echo '{DONE}'")]).process_group(0);
        let started = std::time::Instant::now();
        let ran = run_as_host_work_lent(cmd, std::time::Duration::from_secs(30), &stub, limit).unwrap();
        assert!(ran.loan_overran && ran.status.is_none());
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "stopped at the limit, not the deadline");
        assert!(!stub.held.load(SeqCst), "and the card given back");
        // Done with the card at once, then a second on the CPU: within its limit.
        let stub = Stub::new(true);
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", &format!("echo '{ASK}'; read answer; echo '{DONE}'; sleep 1; echo out")]).process_group(0);
        let ran = run_as_host_work_lent(cmd, std::time::Duration::from_secs(30), &stub, limit).unwrap();
        assert!(!ran.loan_overran && ran.status.is_some_and(|s| s.success()), "{}", ran.stderr);
        assert_eq!(ran.stdout, "out\n");
    }

    /// Lends `cuda:7` (or nothing) and records what the worker did while the loan was held.
    struct Stub {
        lend: bool,
        lent: std::sync::atomic::AtomicUsize,
        held: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl Stub {
        fn new(lend: bool) -> Stub {
            Stub { lend, lent: Default::default(), held: Default::default() }
        }
    }

    struct Holding(std::sync::Arc<std::sync::atomic::AtomicBool>);

    impl Drop for Holding {
        fn drop(&mut self) {
            self.0.store(false, std::sync::atomic::Ordering::SeqCst);
        }
    }

    impl Lender for Stub {
        fn lend(&self) -> Option<Loan<'_>> {
            self.lent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.lend.then(|| {
                self.held.store(true, std::sync::atomic::Ordering::SeqCst);
                Loan { device: "cuda:7".into(), share: 0.4, held: Box::new(Holding(self.held.clone())) }
            })
        }
    }

    /// A worker (here a shell) that asks, says what it got and whether the loan is held while
    /// it works (a file the test watches), says it is done, then works on and writes its result.
    fn asking_worker(dir: &Path) -> std::process::Command {
        let script = format!(
            "echo 'printed by the file'; echo '{ASK}'; read answer; echo \"got $answer\"; \
             touch {dir}/working; sleep 0.3; echo '{DONE}'; sleep 0.3; touch {dir}/after; sleep 0.3; echo '{{\"ok\": 1}}'",
            dir = dir.display()
        );
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", &script]).process_group(0);
        cmd
    }

    #[test]
    fn a_worker_that_asks_is_lent_a_gpu_until_it_says_it_is_done_and_the_protocol_is_not_its_output() {
        use std::sync::atomic::Ordering::SeqCst;
        let dir = tempfile::tempdir().unwrap();
        let stub = Stub::new(true);
        let watch = |name: &str| {
            let path = dir.path().join(name);
            let held = stub.held.clone();
            std::thread::spawn(move || {
                let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while !path.exists() && std::time::Instant::now() < until {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                held.load(SeqCst)
            })
        };
        let (working, after) = (watch("working"), watch("after"));
        let ran =
            run_as_host_work_lent(asking_worker(dir.path()), std::time::Duration::from_secs(20), &stub, LONG).unwrap();
        assert!(ran.status.unwrap().success(), "{}", ran.stderr);
        assert_eq!(ran.stdout, "printed by the file\ngot cuda:7 0.4\n{\"ok\": 1}\n", "the two protocol lines left out");
        assert_eq!(stub.lent.load(SeqCst), 1);
        assert!(working.join().unwrap(), "the loan is held while the worker works on the GPU");
        assert!(!after.join().unwrap(), "and given back when it says it is done, before it ends");
        assert!(!stub.held.load(SeqCst));
    }

    #[test]
    fn a_loan_ends_with_a_worker_that_never_says_it_is_done_or_is_killed_at_its_deadline() {
        use std::sync::atomic::Ordering::SeqCst;
        for (script, deadline) in [
            // Asks, is lent, ends without a word.
            (format!("echo '{ASK}'; read answer; exit 3"), 20),
            // Asks, is lent, then hangs until the judge kills its group at the deadline.
            (format!("echo '{ASK}'; read answer; sleep 30"), 1),
        ] {
            let stub = Stub::new(true);
            let mut cmd = std::process::Command::new("/bin/sh");
            cmd.args(["-c", &script]).process_group(0);
            let started = std::time::Instant::now();
            let ran = run_as_host_work_lent(cmd, std::time::Duration::from_secs(deadline), &stub, LONG).unwrap();
            assert_eq!(stub.lent.load(SeqCst), 1, "{script}");
            assert!(!stub.held.load(SeqCst), "the loan outlived its worker: {script}");
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "{script}");
            assert_eq!(ran.status.is_none(), deadline == 1, "{script}");
        }
    }

    #[test]
    fn a_niced_command_and_what_it_starts_run_at_that_niceness_and_zero_leaves_the_judges() {
        let niceness = |nice: i32| -> String {
            let mut cmd = std::process::Command::new("/bin/sh");
            // The shell's child reports its own: inherited, as a build's compilers inherit it.
            cmd.args(["-c", "sh -c 'cut -d\" \" -f19 /proc/self/stat'"]);
            niced(&mut cmd, nice);
            String::from_utf8(cmd.output().unwrap().stdout).unwrap().trim().to_string()
        };
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        let own = own.rsplit(')').next().unwrap().split_whitespace().nth(16).unwrap().to_string();
        assert_eq!(niceness(0), own);
        let expected = (own.parse::<i32>().unwrap() + 10).min(19);
        assert_eq!(niceness(10), expected.to_string());
    }

    #[test]
    fn the_bridges_describe_worker_speaks_the_same_two_lines() {
        let bridge = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/sadoku_bridge/describe.py");
        let source = std::fs::read_to_string(bridge).unwrap();
        assert!(source.contains(&format!("ASK = \"{ASK}\"")), "describe.py's ASK differs from {ASK:?}");
        assert!(source.contains(&format!("DONE = \"{DONE}\"")), "describe.py's DONE differs from {DONE:?}");
    }

    #[test]
    fn a_worker_that_asks_when_nothing_can_be_lent_is_told_cpu_and_one_that_does_not_ask_is_lent_nothing() {
        use std::sync::atomic::Ordering::SeqCst;
        let dir = tempfile::tempdir().unwrap();
        let stub = Stub::new(false);
        let ran =
            run_as_host_work_lent(asking_worker(dir.path()), std::time::Duration::from_secs(20), &stub, LONG).unwrap();
        assert!(ran.stdout.contains("got cpu\n"), "{}", ran.stdout);
        assert_eq!(stub.lent.load(SeqCst), 1);
        let lend = Stub::new(true);
        let mut quiet = std::process::Command::new("/bin/sh");
        quiet.args(["-c", "echo done"]).process_group(0);
        let ran = run_as_host_work_lent(quiet, std::time::Duration::from_secs(20), &lend, LONG).unwrap();
        assert_eq!((ran.stdout.as_str(), lend.lent.load(SeqCst)), ("done\n", 0));
    }
}
