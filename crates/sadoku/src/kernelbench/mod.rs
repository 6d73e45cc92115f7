//! KernelBench problem files (the PyTorch bridge): read from the user's own checkout, run only in
//! a Python worker's confinement. The bridge's Python sources are part of this binary and are
//! written out for each worker, so an installed `sadoku` needs nothing but an interpreter with
//! PyTorch (`--python`, SADOKU_PYTHON, else `python3`; SADOKU_PYTHONPATH adds to its path).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use include_dir::{Dir, include_dir};
use serde_json::Value;

use sadoku_core::candidate::{Candidate, SpecError};
use sadoku_core::problem::torch::ModelKind;
use sadoku_core::problem::{Problem, Registry};
use sadoku_core::report::CandidateReport;

use crate::candidates::Loaded;
use crate::python_sandbox::Lender;
use crate::sandbox::Mode;

mod summary;
pub use summary::*;

static BRIDGE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../python/sadoku_bridge");
const CONFINE: &str = include_str!("../../../../python/sadoku_confine.py");

/// GiB of host memory a process describing a problem file may map (see `python_sandbox`).
pub const DESCRIBE_HOST_GIB: u64 = 48;

/// The bridge's sources, written out where a worker (as `nobody`) can read them.
pub struct Bridge {
    dir: tempfile::TempDir,
}

impl Bridge {
    pub fn write() -> Result<Bridge> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new().prefix("sadoku-bridge-").tempdir()?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let package = dir.path().join("sadoku_bridge");
        std::fs::create_dir(&package)?;
        std::fs::set_permissions(&package, std::fs::Permissions::from_mode(0o755))?;
        for file in BRIDGE.files().filter(|f| f.path().extension().is_some_and(|e| e == "py")) {
            std::fs::write(package.join(file.path()), file.contents())?;
        }
        std::fs::write(dir.path().join("sadoku_confine.py"), CONFINE)?;
        Ok(Bridge { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The interpreter to run Python workers with, as an absolute path.
pub fn python(flag: Option<&Path>) -> PathBuf {
    let named = flag
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("SADOKU_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("python3"));
    if named.components().count() > 1 {
        return named;
    }
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join(&named)).find(|c| c.is_file()))
        .unwrap_or(named)
}

/// How long a describing worker may hold the card it was lent (timings on that card wait for it):
/// KernelBench's largest files were described in 4-10 s on an H100.
pub const LOAN_LIMIT: Duration = Duration::from_secs(60);

/// A worker held its card longer than [`LOAN_LIMIT`] and was stopped.
#[derive(Debug)]
struct Overran;

impl std::fmt::Display for Overran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "it held the GPU it was lent more than {} s, and was stopped", LOAN_LIMIT.as_secs())
    }
}

impl std::error::Error for Overran {}

/// Run `python -m module args` in a Python worker's confinement; its stdout and stderr (the
/// user's file names in place of the copies'), or a one-line error.
fn run_confined(
    python: &Path,
    bridge: &Bridge,
    mode: Mode,
    module: &str,
    args: &[&Path],
    extra: &[String],
    lender: Option<&dyn Lender>,
) -> Result<(String, String)> {
    let temp = tempfile::Builder::new().prefix("sadoku-pyworker-").tempdir()?;
    let mut argv: Vec<std::ffi::OsString> = vec!["-s".into(), "-m".into(), module.into()];
    // The user's files, copied where the worker (perhaps `nobody`) may read them; errors name
    // the user's files, not the copies.
    let mut copies = Vec::new();
    for (i, file) in args.iter().enumerate() {
        let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| format!("file{i}"));
        let copy = temp.path().join(&name);
        std::fs::copy(file, &copy).map_err(|e| anyhow!("{}: {e}", file.display()))?;
        copies.push((copy.display().to_string(), file.display().to_string()));
        argv.push(copy.into_os_string());
    }
    argv.extend(extra.iter().map(Into::into));
    if lender.is_some() {
        argv.push("--lease".into());
    }
    // A problem file's inputs, outputs and weights at full size: KernelBench's largest take
    // about 20 GiB in one process.
    let cmd = crate::python_sandbox::command_with(
        python,
        temp.path(),
        &[bridge.path().to_path_buf()],
        mode,
        &argv,
        crate::python_sandbox::Extensions::Private,
        DESCRIBE_HOST_GIB,
    )?;
    let deadline = Duration::from_secs(300);
    // Host work beside reviews: stopped while a card is timed.
    let ran = match lender {
        Some(lender) => crate::python_sandbox::run_as_host_work_lent(cmd, deadline, lender, LOAN_LIMIT)?,
        None => crate::python_sandbox::run_as_host_work(cmd, deadline)?,
    };
    if ran.loan_overran {
        return Err(anyhow::Error::new(Overran));
    }
    let Some(status) = ran.status else {
        return Err(anyhow!("the Python worker did not finish within {} s", deadline.as_secs()));
    };
    let stderr = ran.stderr;
    let originals = |text: String| copies.iter().fold(text, |t, (copy, original)| t.replace(copy.as_str(), original));
    if status.success() {
        return Ok((ran.stdout, originals(stderr)));
    }
    if stderr.contains("No module named 'torch'") {
        return Err(anyhow!(
            "no PyTorch for {}: install it (pip install torch) or name an interpreter that has it with --python or \
             SADOKU_PYTHON (SADOKU_PYTHONPATH adds to its path); native candidates need none",
            python.display()
        ));
    }
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let why = if last.is_empty() { format!("it ended ({status})") } else { last.to_string() };
    Err(anyhow!("{}", originals(why).trim_start_matches("sadoku: error: ")))
}

/// A KernelBench problem file as data: its inputs (shape, dtype, structure, distribution),
/// scalars, constructor arguments, parameters, buffers and outputs. Described on a GPU that
/// `lender` lends when it does (KernelBench's largest level-1 files: 4-5 s on an H100, 15-46 s on
/// the CPU), else on the CPU; `described_on` says which.
pub fn describe(
    file: &Path,
    python: &Path,
    bridge: &Bridge,
    mode: Mode,
    seed: u64,
    lender: Option<&dyn Lender>,
) -> Result<Value> {
    if !file.is_file() {
        return Err(anyhow!("{}: no such file", file.display()));
    }
    let seed = ["--seed".to_string(), seed.to_string()];
    let module = "sadoku_bridge.describe";
    let (out, said) = match run_confined(python, bridge, mode, module, &[file], &seed, lender) {
        // Stopped for holding its card too long: described again on the CPU, as host work.
        Err(e) if e.downcast_ref::<Overran>().is_some() => {
            let (out, said) = run_confined(python, bridge, mode, module, &[file], &seed, None)?;
            (out, format!("{said}\n{}{FELL_BACK}{e}", file.display()))
        }
        ran => ran?,
    };
    let last = out.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut v: Value = serde_json::from_str(last.trim()).map_err(|e| anyhow!("unreadable description: {e}"))?;
    v["file"] = Value::String(file.display().to_string());
    // Lent a card and described on the CPU all the same: why, as the worker said it.
    if let Some(why) = fell_back(&said) {
        v["described_on_cpu_because"] = Value::String(why);
    }
    Ok(v)
}

/// How a candidate file was matched to a problem file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Matched {
    pub candidate: PathBuf,
    pub problem: Option<PathBuf>,
    /// "name" (the candidate's file name starts with the problem's), "number" (the problem's
    /// number, with `--match-by-number`: `level_1_problem_19_sample_0_kernel.py`,
    /// `19_relu_fast.cu`), or why none.
    pub how: String,
}

/// A problem file's number: the digits before the first `_` (`19_ReLU.py`: 19).
fn number(stem: &str) -> Option<u32> {
    let digits: String = stem.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty() && stem[digits.len()..].starts_with('_')).then(|| digits.parse().ok()).flatten()
}

/// The problem number a candidate's file name gives: after `problem_` or `problem`
/// (KernelBench's runs, the archive's `Task_ID`), else its own leading number.
fn candidate_number(stem: &str) -> Option<u32> {
    let lower = stem.to_ascii_lowercase();
    if let Some(at) = lower.find("problem") {
        let rest = lower[at + "problem".len()..].trim_start_matches(['_', '-']);
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() {
            return digits.parse().ok();
        }
    }
    number(stem)
}

/// Match each candidate (`.py` ModelNew files, `.cu` archive kernels) to one problem (`.py`) by
/// file name: the candidate's name begins with the problem's (case and trailing `_` aside), else
/// both name the same problem number. Several problems with that number, or none: unmatched, said.
///
/// By name always: the candidate's file name begins with the problem file's (the longest such
/// name). By the task number in the candidate's name only with `by_number`
/// (`--match-by-number`): KernelBench has renumbered tasks between versions, so a number can name
/// another problem than the one a candidate was written for, and nothing in the pair shows it.
pub fn match_files(problems: &[PathBuf], candidates: &[PathBuf], by_number: bool) -> Vec<Matched> {
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let norm = |s: &str| s.to_ascii_lowercase().trim_end_matches('_').to_string();
    candidates
        .iter()
        .map(|c| {
            let cs = norm(&stem(c));
            let by_name: Vec<&PathBuf> = problems.iter().filter(|p| cs.starts_with(&norm(&stem(p)))).collect();
            // The longest name wins (`1_Square` against `11_Square...`: the prefix must be whole).
            let by_name = by_name.into_iter().max_by_key(|p| stem(p).len());
            if let Some(p) = by_name {
                return Matched { candidate: c.clone(), problem: Some(p.clone()), how: "name".into() };
            }
            let Some(n) = candidate_number(&stem(c)) else {
                return Matched {
                    candidate: c.clone(),
                    problem: None,
                    how: "no problem name or number in its file name".into(),
                };
            };
            if !by_number {
                return Matched {
                    candidate: c.clone(),
                    problem: None,
                    how: format!(
                        "no problem file's name begins its name; it names task {n} (--match-by-number pairs by number)"
                    ),
                };
            }
            let same: Vec<&PathBuf> = problems.iter().filter(|p| number(&stem(p)) == Some(n)).collect();
            match same.as_slice() {
                [p] => Matched { candidate: c.clone(), problem: Some((*p).clone()), how: "number".into() },
                [] => Matched { candidate: c.clone(), problem: None, how: format!("no problem numbered {n}") },
                several => Matched {
                    candidate: c.clone(),
                    problem: None,
                    how: format!(
                        "{} problems numbered {n}: {}",
                        several.len(),
                        several.iter().map(|p| stem(p)).collect::<Vec<_>>().join(", ")
                    ),
                },
            }
        })
        .collect()
}

pub fn files_in(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e)))
        .collect();
    files.sort();
    Ok(files)
}

/// A KernelBench file's problem, registered under its file's stem, or why it cannot be judged;
/// timed against its Model under `torch.compile` in `compile`'s mode when given.
pub fn load_problem(
    registry: &mut Registry,
    file: &Path,
    python: &Path,
    bridge: &Bridge,
    mode: Mode,
    compile: Option<&str>,
) -> Result<Arc<Problem>> {
    Ok(registry.add(prepare_problem(file, python, bridge, mode, compile, None)?.problem))
}

/// How the describing worker says that it was lent a card and described on the CPU all the same
/// (`sadoku_bridge.describe`), before the reason.
const FELL_BACK: &str = ": described on the CPU: ";

/// Why a describing worker lent a card described on the CPU all the same, from its stderr.
fn fell_back(stderr: &str) -> Option<String> {
    stderr.lines().find_map(|l| l.split_once(FELL_BACK).map(|(_, why)| why.trim().to_string()))
}

/// What [`prepare_problem`] gives: the problem, and where it was described.
pub struct Prepared {
    pub problem: Problem,
    /// Whether it was described on a GPU (lent), not the CPU.
    pub on_gpu: bool,
    /// Why not, where a card was lent and the description failed there.
    pub fell_back: Option<String>,
}

/// A KernelBench file's problem, described (in a confined Python process) but not registered.
pub fn prepare_problem(
    file: &Path,
    python: &Path,
    bridge: &Bridge,
    mode: Mode,
    compile: Option<&str>,
    lender: Option<&dyn Lender>,
) -> Result<Prepared> {
    let source = std::fs::read_to_string(file).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let description = describe(file, python, bridge, mode, 0, lender)?;
    let on_gpu = description["described_on"] == "cuda";
    let fell_back = description["described_on_cpu_because"].as_str().map(str::to_string);
    let mut problem = sadoku_core::problem::torch::from_description(&file.display().to_string(), source, &description)
        .map_err(|m| anyhow!("{m}"))?;
    if let Some(c) = compile {
        problem = sadoku_core::problem::torch::with_compile(problem, c).map_err(|m| anyhow!("{m}"))?;
    }
    Ok(Prepared { problem, on_gpu, fell_back })
}

/// Whether describing failed for want of Python or PyTorch: then no problem can be judged.
pub fn fatal(error: &str) -> bool {
    error.starts_with("no PyTorch") || error.starts_with("cannot run the Python interpreter")
}

/// KernelBench problems described ahead of the candidates that need them: `jobs` confined Python
/// processes at once, in the order the candidates come, each as host work (stopped while a GPU is
/// timed: [`crate::host_work`]). A candidate's review waits only for its own problem.
///
/// Lazily: a file is described only once a candidate has asked for its problem, or for one at most
/// [`Describer::AHEAD`] files before it. A batch of many candidates a problem (an archive) then
/// describes the few problems its first builds and reviews need, not every problem it has, while
/// those builds share the machine's cores and the first reviews its card.
pub struct Describer<'a> {
    files: Vec<PathBuf>,
    state: std::sync::Mutex<Described>,
    changed: std::sync::Condvar,
    registry: &'a std::sync::Mutex<&'a mut Registry>,
    python: &'a Path,
    bridge: &'a Bridge,
    mode: Mode,
    compile: Option<&'a str>,
    /// The GPUs a problem may be described on.
    lender: Option<&'a dyn Lender>,
}

#[derive(Default)]
struct Described {
    /// The next file no describer has taken.
    next: usize,
    /// How many files, from the first, a candidate has asked for (the last one it asked for and
    /// every one before it).
    asked: usize,
    done: Vec<Option<std::result::Result<Arc<Problem>, String>>>,
    stopped: bool,
}

/// What a describer may do next.
#[derive(Debug, PartialEq, Eq)]
enum Turn {
    /// Describe file `i`.
    Describe(usize),
    /// Wait: the next file is further ahead of what candidates asked for than [`Describer::AHEAD`].
    Wait,
    /// Nothing is left (or the describer stopped).
    Done,
}

impl Described {
    /// The next file to describe, if candidates asked for it or one at most `ahead` files after it.
    fn turn(&mut self, ahead: usize) -> Turn {
        if self.stopped || self.next >= self.done.len() {
            return Turn::Done;
        }
        if self.next >= self.asked + ahead {
            return Turn::Wait;
        }
        self.next += 1;
        Turn::Describe(self.next - 1)
    }
}

impl<'a> Describer<'a> {
    /// How many files past the last one a candidate asked for may be described before it is
    /// asked for: one for each describer (at most four run), so that the next problems are ready
    /// when their candidates come.
    pub const AHEAD: usize = 4;

    pub fn new(
        files: Vec<PathBuf>,
        registry: &'a std::sync::Mutex<&'a mut Registry>,
        python: &'a Path,
        bridge: &'a Bridge,
        mode: Mode,
        compile: Option<&'a str>,
        lender: Option<&'a dyn Lender>,
    ) -> Describer<'a> {
        let done = vec![None; files.len()];
        Describer {
            files,
            state: std::sync::Mutex::new(Described { done, ..Described::default() }),
            changed: std::sync::Condvar::new(),
            registry,
            python,
            bridge,
            mode,
            compile,
            lender,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Described> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Describe files until none is left (or [`Describer::stop`]).
    pub fn work(&self, progress: &crate::progress::Progress) {
        while self.describe_next(progress) {}
    }

    /// Describe the next file no describer has taken; false when there is none (or the describer
    /// stopped).
    pub fn describe_next(&self, progress: &crate::progress::Progress) -> bool {
        let i = {
            let mut state = self.lock();
            loop {
                match state.turn(Self::AHEAD) {
                    Turn::Describe(i) => break i,
                    Turn::Done => return false,
                    Turn::Wait => state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
                }
            }
        };
        let file = &self.files[i];
        let started = std::time::Instant::now();
        let prepared = prepare_problem(file, self.python, self.bridge, self.mode, self.compile, self.lender);
        let result = match prepared {
            Ok(Prepared { problem, on_gpu, fell_back }) => {
                let on = match (on_gpu, fell_back) {
                    (true, _) => ", on a GPU".to_string(),
                    (false, Some(why)) => format!(", on the CPU: {why}"),
                    (false, None) => String::new(),
                };
                let seconds = started.elapsed().as_secs_f64();
                progress.line(&format!("  described {} ({seconds:.1} s{on})", file.display()));
                Ok(self.registry.lock().unwrap_or_else(|e| e.into_inner()).add(problem))
            }
            // No Python or no PyTorch: said once, by the caller.
            Err(e) if fatal(&e.to_string()) => Err(e.to_string()),
            Err(e) => {
                progress.line(&format!("sadoku: {e}"));
                Err(e.to_string())
            }
        };
        self.lock().done[i] = Some(result);
        self.changed.notify_all();
        true
    }

    /// `file`'s problem, waiting for it to be described; None when the describer stopped first.
    pub fn problem(&self, file: &Path) -> Option<std::result::Result<Arc<Problem>, String>> {
        let i = self.files.iter().position(|f| f == file)?;
        let mut state = self.lock();
        if state.asked <= i {
            state.asked = i + 1;
            self.changed.notify_all();
        }
        loop {
            if let Some(r) = &state.done[i] {
                return Some(r.clone());
            }
            if state.stopped {
                return None;
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The first file's description, if it is done.
    pub fn first(&self) -> Option<std::result::Result<Arc<Problem>, String>> {
        self.lock().done.first().cloned().flatten()
    }

    /// No more descriptions: those under way finish, no new one starts.
    pub fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }
}

/// What the summary calls the baseline.
pub fn baseline_label(compile: Option<&str>) -> String {
    match compile {
        Some(mode) => format!("torch.compile ({mode})"),
        None => "eager PyTorch".to_string(),
    }
}

/// A candidate file for `problem`: a sadoku `.cu` (front matter), an archive `.cu`, or a
/// `ModelNew` `.py`; not reviewed if it cannot be read.
pub fn load_candidate(registry: &mut Registry, file: &Path, problem: &Arc<Problem>) -> Loaded {
    let bytes = match crate::candidates::read(file, problem.name) {
        Ok(bytes) => bytes,
        Err(unread) => return Loaded::Unreviewed(unread),
    };
    let origin = file.display().to_string();
    let is_cu = file.extension().is_some_and(|e| e == "cu");
    let loaded = match sadoku_core::candidate::utf8(&origin, &bytes) {
        Ok(source) if is_cu && source.trim_start().starts_with("/* sadoku") => {
            Candidate::from_file(registry, file, &bytes)
        }
        Ok(source) => {
            let kind = if is_cu { ModelKind::Archive } else { ModelKind::ModelNew };
            Candidate::python(origin, source, Arc::clone(problem), kind)
        }
        Err(e) => Err(e),
    };
    match loaded {
        Ok(c) => Loaded::Valid(c),
        Err(e) => invalid_text(&bytes, problem.name, &e),
    }
}

/// With `--resume`: each matched candidate whose review `earlier` (the keys of `--out`'s file)
/// holds, known from its file's text and its problem file's alone (see
/// [`sadoku_core::problem::torch::identity`]; `key` makes the review's key of the two, the
/// candidate's first), so that the run neither loads it nor describes its problem. A file that cannot
/// be read is left to the review, which says why. Empty when `earlier` is (nothing to skip).
pub fn judged_before(
    matched: &[Matched],
    earlier: &std::collections::HashMap<String, bool>,
    compile: Option<&str>,
    key: impl Fn(&str, &str) -> String,
) -> Vec<Option<crate::candidates::Judged>> {
    use sha2::Digest as _;
    if earlier.is_empty() {
        return Vec::new();
    }
    let mut problems: std::collections::HashMap<&Path, Option<String>> = std::collections::HashMap::new();
    matched
        .iter()
        .map(|m| {
            let p = m.problem.as_deref()?;
            let problem = problems
                .entry(p)
                .or_insert_with(|| {
                    let source = std::fs::read_to_string(p).ok()?;
                    Some(sadoku_core::problem::torch::identity(&source, compile))
                })
                .as_deref()?;
            let sha256 = hex::encode(sha2::Sha256::digest(std::fs::read(&m.candidate).ok()?));
            let key = key(&sha256, problem);
            earlier.contains_key(&key).then(|| crate::candidates::Judged {
                origin: m.candidate.display().to_string(),
                problem: stem(p),
                sha256,
                key,
            })
        })
        .collect()
}

/// A candidate file judged before any GPU work, for `problem`: why it cannot be reviewed.
pub fn invalid(file: &Path, problem: &str, error: &SpecError) -> Loaded {
    invalid_text(&std::fs::read(file).unwrap_or_default(), problem, error)
}

/// A candidate file's `bytes` judged invalid for `problem`.
fn invalid_text(bytes: &[u8], problem: &str, error: &SpecError) -> Loaded {
    let mut r = CandidateReport::invalid(error, bytes);
    r.problem = problem.to_string();
    Loaded::Invalid(Box::new(r))
}

pub fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn why_a_problem_lent_a_card_was_described_on_the_cpu_is_read_from_the_workers_line() {
        // As `sadoku_bridge.describe` says it (python/tests/test_kernelbench.py checks that side).
        let said = "printed by the file\n/k/23_Softmax.py: described on the CPU: on cuda:0 it raised \
                    OutOfMemoryError('CUDA out of memory.')\n";
        assert_eq!(fell_back(said).as_deref(), Some("on cuda:0 it raised OutOfMemoryError('CUDA out of memory.')"));
        assert_eq!(fell_back("printed by the file\n"), None);
    }

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(|n| PathBuf::from(format!("/kb/{n}"))).collect()
    }

    /// Problems are described as their candidates come, never all at once: a file is taken only
    /// once a candidate asked for it or for one at most `ahead` files before it.
    #[test]
    fn a_problem_is_described_only_when_a_candidate_comes_near_it() {
        let mut d = Described { done: vec![None; 10], ..Described::default() };
        assert_eq!(d.turn(2), Turn::Describe(0), "the first at once: a missing PyTorch is said first");
        assert_eq!(d.turn(2), Turn::Describe(1));
        assert_eq!(d.turn(2), Turn::Wait, "nothing asked for yet: two ahead is the most");
        // A candidate asks for file 4's problem: files up to 6, two past it, may be described now.
        d.asked = 5;
        let taken: Vec<Turn> = (0..5).map(|_| d.turn(2)).collect();
        assert_eq!(taken, [2, 3, 4, 5, 6].map(Turn::Describe));
        assert_eq!(d.turn(2), Turn::Wait);
        d.asked = 10;
        let rest: Vec<Turn> = (0..4).map(|_| d.turn(2)).collect();
        assert_eq!(rest, [Turn::Describe(7), Turn::Describe(8), Turn::Describe(9), Turn::Done]);
        let mut stopped = Described { done: vec![None; 3], stopped: true, ..Described::default() };
        assert_eq!(stopped.turn(2), Turn::Done);
    }

    #[test]
    fn candidates_match_problems_by_name_then_by_number() {
        let problems =
            paths(&["1_Square_matrix_multiplication_.py", "11_4D_tensor_matrix_multiplication.py", "19_ReLU.py"]);
        let candidates = paths(&[
            "19_ReLU.py",
            "19_relu_fast.cu",
            "1_Square_matrix_multiplication_block_size_optimized.cu",
            "11_4D_tensor_matrix_multiplication_tiled.py",
            "level_1_problem_19_sample_0_kernel.py",
            "level_1_problem_11_sample_3_kernel.py",
            "level_1_problem_7_sample_0_kernel.py",
            "fast_kernel.py",
        ]);
        let m = match_files(&problems, &candidates, true);
        let got: Vec<(String, String)> = m
            .iter()
            .map(|m| {
                let p = m.problem.as_ref().map(|p| p.file_name().unwrap().to_string_lossy().to_string());
                (p.unwrap_or_default(), m.how.clone())
            })
            .collect();
        assert_eq!(got[0], ("19_ReLU.py".into(), "name".into()));
        assert_eq!(got[1], ("19_ReLU.py".into(), "name".into()), "case aside");
        assert_eq!(got[2], ("1_Square_matrix_multiplication_.py".into(), "name".into()), "not 11_...");
        assert_eq!(got[3], ("11_4D_tensor_matrix_multiplication.py".into(), "name".into()));
        assert_eq!(got[4], ("19_ReLU.py".into(), "number".into()));
        assert_eq!(got[5], ("11_4D_tensor_matrix_multiplication.py".into(), "number".into()));
        assert_eq!(got[6], (String::new(), "no problem numbered 7".into()));
        assert_eq!(got[7], (String::new(), "no problem name or number in its file name".into()));
        // Without --match-by-number a number pairs nothing, and says so; names pair as before.
        let m = match_files(&problems, &candidates, false);
        assert_eq!(m[0].how, "name");
        assert_eq!(m[4].problem, None);
        assert!(m[4].how.contains("it names task 19 (--match-by-number"), "{}", m[4].how);
    }

    #[test]
    fn the_summary_counts_every_problem_given_and_the_best_accepted_candidate_of_each() {
        let row = |name: &str, problem: &str, accepted: bool, speedup: Option<f64>| Row {
            origin: format!("/c/{name}"),
            name: name.into(),
            problem: problem.into(),
            accepted,
            speedup,
            interval: speedup.map(|x| (x * 0.95, x * 1.05)),
        };
        let problems: Vec<String> = ["a", "b", "c", "d", "e", "f"].iter().map(|s| s.to_string()).collect();
        let rows = [
            row("a_fast.cu", "a", true, Some(2.5)),
            row("a_slow.py", "a", true, Some(0.5)),
            // A rejected candidate's speed counts for nothing, however high.
            row("b_cheat.py", "b", false, Some(150.0)),
            row("b_ok.py", "b", true, Some(1.2)),
            row("c_cheat.py", "c", false, None),
            row("d_untimed.py", "d", true, None),
            // A tie within the noise is not faster, though its median is above 1.
            Row { interval: Some((0.99, 1.02)), ..row("f_tie.cu", "f", true, Some(1.004)) },
        ];
        let s = summarise_rows(&problems, &rows, "eager PyTorch");
        assert_eq!((s.problems, s.accepted, s.faster, s.twice), (6, 4, 2, 1));
        assert_eq!(s.per_problem[5].interval, Some((0.99, 1.02)));
        assert_eq!(s.per_problem[0].best.as_deref(), Some("a_fast.cu"));
        assert_eq!(s.per_problem[1].best.as_deref(), Some("b_ok.py"));
        assert_eq!(s.per_problem[2].best, None);
        let text = summary_text(&s);
        assert!(text.contains("none accepted of 1"), "{text}");
        assert!(text.contains("d_untimed.py (not timed against eager PyTorch)"), "{text}");
        assert!(text.contains("e                                no candidate"), "{text}");
        assert!(text.contains("f_tie.cu at 1.00× (0.99–1.02)"), "{text}");
        assert!(
            text.contains(
                "6 problem(s): 4 with an accepted candidate (67%), 2 at least 1× eager PyTorch (33%), 1 at least 2× (17%), \
                 by the speedup's 95% interval"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_resumed_run_counts_what_the_earlier_run_judged() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let line = |origin: &str, verdict: &str, speedup: f64| {
            serde_json::json!({"origin": origin, "name": "x", "problem": "p", "verdict": verdict,
                               "timing": {"speedup": speedup, "speedup_interval": [speedup * 0.9, speedup * 1.1]}})
            .to_string()
        };
        let text =
            [line("/c/a.py", "REJECTED", 0.0), line("/c/a.py", "ACCEPTED", 2.5), line("/c/gone.py", "ACCEPTED", 9.0)]
                .join("\n");
        std::fs::write(&out, text + "\n{torn").unwrap();
        let rows = earlier_rows(&out, &["/c/a.py".to_string()]);
        assert_eq!(rows.len(), 1, "only this run's candidates, the last record of each");
        assert!(rows[0].accepted && rows[0].speedup == Some(2.5));
        assert_eq!(rows[0].interval, Some((2.5 * 0.9, 2.5 * 1.1)));
        let s = summarise_rows(&["p".to_string()], &rows, "eager PyTorch");
        assert_eq!((s.accepted, s.twice), (1, 1));
        // Under --torch-compile the figures name their baseline.
        let s = summarise_rows(&["p".to_string()], &rows, &baseline_label(Some("max-autotune")));
        let text = summary_text(&s);
        assert!(text.contains("speedup over torch.compile (max-autotune)"), "{text}");
        assert!(text.contains("1 at least 1× torch.compile (max-autotune) (100%)"), "{text}");
        assert_eq!(serde_json::to_value(&s).unwrap()["baseline"], "torch.compile (max-autotune)");
    }

    #[test]
    fn two_problems_with_one_number_are_said_not_guessed() {
        let problems = paths(&["3_Batched_matmul.py", "3_Other.py"]);
        let m = match_files(&problems, &paths(&["level_1_problem_3_sample_0_kernel.py"]), true);
        assert_eq!(m[0].problem, None);
        assert!(m[0].how.starts_with("2 problems numbered 3"), "{}", m[0].how);
    }
}
