//! Command-line arguments, parsed by clap and then turned into validated settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sadoku",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SADOKU_COMMIT"), ")"),
    about = "A paranoid referee for CUDA kernels: verified on fresh inputs, timed honestly against cuBLAS",
    after_help = "Exit status: 0 all candidates accepted, 1 some rejected, 2 usage or environment error."
)]
pub struct Cli {
    /// Add the problems in DIR (a problem directory, or a directory of them) to the library;
    /// also $SADOKU_PROBLEMS, a `:`-separated list.
    #[arg(long, global = true, value_name = "DIR")]
    pub problems: Vec<PathBuf>,
    /// Where the GPU work runs: `cuda`, or `sim` (sadoku-core's simulated device, for testing the
    /// whole CLI without a GPU; workers are told the same). Hidden: no verdict of `sim` is a
    /// kernel's.
    #[arg(long, global = true, hide = true, value_enum, default_value_t = DeviceArg::Cuda)]
    pub device: DeviceArg,
    #[command(subcommand)]
    pub command: Command,
}

/// `--device`: real GPUs, or the simulated one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    Cuda,
    Sim,
}

impl DeviceArg {
    /// As `--device` spells it.
    pub fn name(self) -> &'static str {
        match self {
            DeviceArg::Cuda => "cuda",
            DeviceArg::Sim => "sim",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify and time candidates on the GPU (no files: the embedded seed case from the write-up).
    Review(ReviewArgs),
    /// Validate front matter and compile with NVRTC for an architecture; needs no GPU.
    Check(CheckArgs),
    /// List the problems sadoku can judge.
    Problems(ProblemsArgs),
    /// Compare two recorded runs (`--out` JSON Lines or `--json` reports): speedups with intervals,
    /// FASTER/SLOWER/SAME, verdicts that changed; exit 1 if an accepted candidate is now rejected.
    Compare(CompareArgs),
    /// Write one self-contained HTML page with plots from recorded runs; needs no GPU.
    ///
    /// The runs are `sadoku review --out` JSON Lines or `--json` reports, gzip-compressed or not.
    /// The page has a sortable summary table, a forest plot of speedups with their intervals, the
    /// timing samples against the interleaved baseline's, a roofline of the card's measured
    /// ceilings, speedup against size for size sweeps, every rejection with its evidence, the
    /// environment and the replay command. What a record from an older sadoku lacks is marked
    /// "not recorded".
    Report(ReportArgs),
    /// Join the `--out` files of many shards (`--shard I/N`) or runs into one JSON Lines file,
    /// each review once; `report`, `compare` and `--resume` take it like any `--out` file.
    Merge(MergeArgs),
    /// Work with a problem definition.
    #[command(subcommand)]
    Problem(ProblemCommand),
    /// Show what a candidate's sandbox engages on this machine, and try from inside it what it must
    /// refuse; needs no GPU.
    ///
    /// A process confined as a worker is (Landlock, seccomp, rlimits, dropping root) tries to read
    /// the judge's files, write its caches and results, open a network socket, signal or trace the
    /// judge, start a process and regain root, and does what a review needs (read the CUDA
    /// headers, write its temporary directory). Exit 0 when every attempt ended as it must, 1 when
    /// one did not, 2 when the test could not run.
    Sandbox(SandboxArgs),
    /// Serve the judge over HTTP: one long-lived judge per host, one lane per GPU (`--jobs` each),
    /// warm between reviews; the API is in docs/SERVE.md and at GET /openapi.json.
    ///
    /// Runs the self-test first and refuses to serve if it fails (exit 2). Every verdict is
    /// journaled in --state before it is announced; a restart answers what was judged and queues
    /// again what was not.
    Serve(ServeArgs),
    /// Prove the judge on this machine: the built-in known hacks must be REJECTED (or gain
    /// nothing) and the reference solutions ACCEPTED. Exit 0 when every case is as it must be, 1
    /// when one is not, 2 when the test could not run.
    Selftest(SelftestArgs),
    /// KernelBench problem files from your own checkout (the PyTorch bridge, under way).
    #[command(subcommand)]
    Kernelbench(KernelbenchCommand),
    /// Internal: confine this process as a Python worker, then run the interpreter.
    #[command(hide = true)]
    Pyworker(PyWorkerArgs),
    /// Internal: serve one candidate's GPU work over stdin/stdout for a judging parent.
    #[command(hide = true)]
    Worker(WorkerArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on; a port of 0 takes a free one (see --port-file).
    #[arg(long, default_value = "127.0.0.1:8421", value_name = "ADDR:PORT")]
    pub listen: String,
    /// Write the server's URL to this file once it listens.
    #[arg(long, value_name = "FILE")]
    pub port_file: Option<PathBuf>,
    /// The token every /v1/ request must carry (`Authorization: Bearer`): this file's first line.
    /// Else $SADOKU_TOKEN. Required unless listening on a loopback address.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The state directory: verdicts.jsonl (every verdict), queue.jsonl (every submission taken),
    /// seeds.log, the KernelBench files sent.
    #[arg(long, default_value = "sadoku-serve", value_name = "DIR")]
    pub state: PathBuf,
    /// How many candidates may wait; a submission past it is refused whole (429, Retry-After).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub queue: u32,
    /// The Python interpreter with PyTorch, for KernelBench candidates and PyTorch baselines
    /// (default: $SADOKU_PYTHON, else python3).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Run the self-test from this directory (selftest.toml and its files) instead of the
    /// built-in one.
    #[arg(long, value_name = "DIR")]
    pub selftest_suite: Option<PathBuf>,
    /// Serve without the self-test (/healthz and /metrics say so).
    #[arg(long)]
    pub skip_selftest: bool,
    #[command(flatten)]
    pub judging: JudgingArgs,
}

#[derive(Debug, Args)]
pub struct SelftestArgs {
    /// A suite directory (selftest.toml and its files) instead of the built-in one.
    #[arg(long, value_name = "DIR")]
    pub suite: Option<PathBuf>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// The Python interpreter with PyTorch, for PyTorch baselines (default: $SADOKU_PYTHON, else
    /// python3).
    #[arg(long)]
    pub python: Option<PathBuf>,
    #[command(flatten)]
    pub judging: JudgingArgs,
}

#[derive(Debug, Subcommand)]
pub enum KernelbenchCommand {
    /// Show what a KernelBench problem file defines: inputs (shape, dtype, structure, the
    /// distribution its get_inputs() draws from), scalars, constructor arguments, parameters,
    /// buffers and outputs. The file runs in a Python worker's confinement; needs an interpreter
    /// with PyTorch (--python, SADOKU_PYTHON, else python3), no GPU. Exit 1 when a file is not a
    /// valid problem, 2 when there is no PyTorch.
    Describe(KernelbenchDescribeArgs),
    /// Match a directory of candidates (ModelNew .py, archive .cu) to a directory of problems by
    /// file name: the candidate's name begins with the problem's, or both give the problem's
    /// number (level_1_problem_19_sample_0_kernel.py). Exit 1 when any candidate is unmatched.
    Match(KernelbenchMatchArgs),
    /// Review candidates for KernelBench problems: each candidate (ModelNew .py, archive .cu, or
    /// a sadoku .cu whose front matter names the problem file's stem) is matched to a problem
    /// file by name, judged against the problem's own Model in float64 and timed against it in
    /// eager PyTorch (or under torch.compile). Prints a row per candidate, then per problem and
    /// the fractions of problems with an accepted candidate, and with one at least 1× and 2× as
    /// fast as the baseline.
    Review(Box<KernelbenchReviewArgs>),
}

#[derive(Debug, Args)]
pub struct KernelbenchReviewArgs {
    /// A directory of KernelBench problem files (your checkout's KernelBench/level1, say), or one.
    #[arg(value_name = "PROBLEMS", id = "kernelbench_problems")]
    pub problems: PathBuf,
    /// The Python interpreter with PyTorch (default: $SADOKU_PYTHON, else python3 on PATH).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Time against the Model under torch.compile in MODE (--torch-compile=max-autotune; modes
    /// default, reduce-overhead, max-autotune, max-autotune-no-cudagraphs; alone: default)
    /// instead of eager PyTorch.
    /// It compiles while its process loads it, before any timing; a timed call that compiles
    /// again is refused. The truth stays the Model in float64, eager.
    #[arg(long, value_name = "MODE", num_args = 0..=1, require_equals = true, default_missing_value = "default",
          value_parser = clap::builder::PossibleValuesParser::new(sadoku_core::problem::torch::COMPILE_MODES))]
    pub torch_compile: Option<String>,
    /// Pair a candidate with a problem by the task number in its file name
    /// (`level_1_problem_19_sample_0_kernel.cu` with `19_ReLU.py`) when no problem file's name
    /// begins its own. Off by default: KernelBench has renumbered tasks between versions.
    #[arg(long)]
    pub match_by_number: bool,
    #[command(flatten)]
    pub review: ReviewArgs,
}

#[derive(Debug, Args)]
pub struct KernelbenchMatchArgs {
    /// A directory of KernelBench problem files (your checkout's KernelBench/level1, say).
    #[arg(value_name = "PROBLEMS", id = "kernelbench_problems")]
    pub problems: PathBuf,
    /// A directory of candidates.
    pub candidates: PathBuf,
    /// Print the matches as JSON.
    #[arg(long)]
    pub json: bool,
    /// Pair by the task number in a candidate's file name too (see `kernelbench review`).
    #[arg(long)]
    pub match_by_number: bool,
}

#[derive(Debug, Args)]
pub struct KernelbenchDescribeArgs {
    /// KernelBench-format problem files (class Model, get_inputs, get_init_inputs).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print the descriptions as JSON.
    #[arg(long)]
    pub json: bool,
    /// The Python interpreter (default: $SADOKU_PYTHON, else python3 on PATH).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Seed for get_init_inputs() and get_inputs().
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How the worker is confined (a problem file is code too).
    #[arg(long, value_enum, default_value = "require")]
    pub sandbox: crate::sandbox::Mode,
}

#[derive(Debug, Args)]
pub struct PyWorkerArgs {
    #[arg(long, value_enum, default_value = "require")]
    pub sandbox: crate::sandbox::Mode,
    /// The worker's private temporary directory (the judge makes and removes it).
    #[arg(long)]
    pub temp: PathBuf,
    /// Files and directories it may read besides the interpreter's and the system's.
    #[arg(long)]
    pub read: Vec<PathBuf>,
    /// Directories it may write besides its temporary one: its own source's build cache.
    #[arg(long)]
    pub write: Vec<PathBuf>,
    /// CPU seconds it may use.
    #[arg(long, default_value_t = 3600)]
    pub cpu_s: u64,
    /// GiB of host memory it may map beyond what it holds when it confines itself.
    #[arg(long, default_value_t = crate::python_sandbox::WORKER_HOST_GIB)]
    pub host_gib: u64,
    /// Diagnosis: leave out one part of the confinement (landlock, seccomp, user).
    #[arg(long, hide = true)]
    pub without: Vec<String>,
    /// The interpreter and its arguments.
    #[arg(last = true, required = true)]
    pub program: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Also run these Python files (attacks) in a Python worker's confinement, one worker each,
    /// and check that what they attempt is refused or contained.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub python_attack: Vec<PathBuf>,
    /// The interpreter for --python-attack.
    #[arg(long, default_value = "python3")]
    pub python: PathBuf,
    /// Print the attempts as JSON.
    #[arg(long)]
    pub json: bool,
    /// A file the sandbox must keep the candidate from reading (default: the judge's cache secret,
    /// made if missing, and /etc/passwd).
    #[arg(long, value_name = "FILE")]
    pub secret: Vec<PathBuf>,
    /// Internal: the confined side.
    #[arg(long, hide = true)]
    pub child: bool,
    #[arg(long, hide = true)]
    pub temp: Option<PathBuf>,
    #[arg(long, hide = true)]
    pub writable: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The earlier run.
    pub old: PathBuf,
    /// The later run.
    pub new: PathBuf,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Each FILE gets its own section, in the order given (its plots' ids are forest, distributions, \
roofline and sweep for the first file, with -2, -3, ... appended for the others). The page has no \
network access: inline CSS and SVG, and one small script that sorts the summary tables (readable \
without it)."
)]
pub struct ReportArgs {
    /// Recorded runs: `sadoku review --out` JSON Lines or `--json` output, optionally `.gz`.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write the page here (default: stdout).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// `--out` JSON Lines files (or `--json` reports), optionally `.gz`.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write the merged records here (default: stdout).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProblemsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProblemCommand {
    /// Lint problem directories (symbols, constraints at every case, floors) and compile each
    /// reference kernel with NVRTC, checking its launches' arguments; needs no GPU.
    Check(ProblemCheckArgs),
}

#[derive(Debug, Args)]
pub struct ProblemCheckArgs {
    /// Problem directories (each holding a problem.toml), or directories of them.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Target architecture for the reference kernels.
    #[arg(long, default_value = "sm_90")]
    pub arch: String,
    /// Also prove each problem on the GPU: verify its solutions, found in SOLUTIONS/<problem>/
    /// (`honest*.cu` and `correct*.cu` must be accepted, `wrong*.cu` rejected). The library's are in
    /// examples/problems.
    #[arg(long, value_name = "SOLUTIONS")]
    pub prove: Option<PathBuf>,
    /// The GPU to prove on.
    #[arg(long, default_value_t = 0)]
    pub gpu: usize,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[arg(long, default_value_t = 0)]
    pub gpu: usize,
    /// Address space a compile may add, GiB.
    #[arg(long, default_value_t = 4.0, value_parser = parse_positive)]
    pub compile_memory: f64,
    /// How the worker confines itself.
    #[arg(long, value_enum, default_value = "auto")]
    pub sandbox: crate::sandbox::Mode,
    /// The worker's private temporary directory (the judge makes and removes it).
    #[arg(long)]
    pub temp: Option<PathBuf>,
    /// CPU seconds the worker may use.
    #[arg(long, default_value_t = 3600)]
    pub cpu_s: u64,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Candidate files or directories of them: for `review`, .cu files (none: the seed case); for
    /// `kernelbench review`, ModelNew .py files and archive or sadoku .cu files.
    pub candidates: Vec<PathBuf>,
    /// Show every column of the table (error, baseline time, TFLOP/s), as wide as the terminal.
    #[arg(long)]
    pub wide: bool,
    /// Also write the results as a Markdown table (for pull requests).
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,
    /// Also write the results as CSV (for spreadsheets).
    #[arg(long, value_name = "FILE")]
    pub export_csv: Option<PathBuf>,
    /// Also write the results as a self-contained HTML report with plots (as `sadoku report`).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print one JSON document with everything instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Replay a run: the master seed its report printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Time at this size instead of the problem's, e.g. `--size N=8192`.
    #[arg(long, value_name = "SYM=VALUE", value_parser = parse_size)]
    pub size: Vec<(String, i64)>,
    /// Append every verdict to this JSON Lines file as soon as it exists.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Review only shard I of N (1-based) of the candidates, chosen by each file's content, so that
    /// N jobs split a batch with no coordination; `sadoku merge` joins their --out files.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::shard::Shard>,
    /// Skip candidates already judged in --out's file (same source, same options).
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// How each candidate is judged: GPUs, lanes, timing, timeouts, sandbox, precision.
    #[command(flatten)]
    pub judging: JudgingArgs,
}

/// How candidates are judged, the same for `review`, `kernelbench review` and `serve`.
#[derive(Debug, Clone, Args)]
pub struct JudgingArgs {
    /// GPU ordinal.
    #[arg(long, default_value_t = 0)]
    pub gpu: usize,
    /// Review on several GPUs at once, each timing on its own card: `all` or a list like `0,2`.
    #[arg(long, value_name = "all|LIST")]
    pub gpus: Option<String>,
    /// Candidates in flight on each GPU: compile and verify overlap, timing has the GPU alone.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Python candidates' extensions built at once, ahead of their reviews (never while a GPU is
    /// timed); KernelBench problems described at once (at most 4: each holds its full-size inputs
    /// in host memory). Default: the machine's cores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub build_jobs: Option<u16>,
    /// Wall-clock bound on each candidate's time phase (warm-up and every round), in seconds.
    #[arg(long, default_value_t = 3.0, value_parser = parse_positive)]
    pub time_budget: f64,
    /// Stop sampling once both series' relative noise is below this.
    #[arg(long, default_value_t = 0.01, value_parser = parse_positive)]
    pub target_noise: f64,
    /// Do not read or write the compiled-module cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Seconds NVRTC may take for one candidate.
    #[arg(long, default_value_t = 60.0, value_parser = parse_positive)]
    pub compile_timeout: f64,
    /// Memory NVRTC may take for one candidate's compile, GiB (a compile-time memory bomb runs
    /// NVRTC out of memory, not the machine).
    #[arg(long, default_value_t = 4.0, value_name = "GIB", value_parser = parse_positive)]
    pub compile_memory: f64,
    /// Seconds one run of a candidate's launches may take before its worker is killed.
    #[arg(long, default_value_t = 10.0, value_parser = parse_positive)]
    pub launch_timeout: f64,
    /// Seconds the whole review of one candidate may take.
    #[arg(long, default_value_t = 600.0, value_parser = parse_positive)]
    pub candidate_timeout: f64,
    /// Also run each candidate under compute-sanitizer (memcheck, racecheck, initcheck,
    /// synccheck) at a small size; its findings reject a candidate the answer checks accepted.
    #[arg(long)]
    pub sanitize: bool,
    /// Confine every worker (Landlock, seccomp, rlimits, a cleared environment): `auto` engages
    /// what the machine allows and says what, `require` refuses to review without Landlock and
    /// seccomp, `off` runs workers unconfined.
    #[arg(long, value_enum, default_value = "auto")]
    pub sandbox: crate::sandbox::Mode,
    /// The precision to review for: fp32 (TF32-class answers are wrong) or tf32 (TF32-class
    /// answers pass, and every speedup is against cuBLAS with TF32 tensor cores).
    #[arg(long, value_enum, default_value_t = PrecisionArg::Fp32)]
    pub precision: PrecisionArg,
    /// Which `<torch/extension.h>` Python candidates' extensions are built with: `lean` (the
    /// tensor API and its Python bindings, not the C++ frontend: a third to a half of a build),
    /// PyTorch's own for a source that needs more; `full`: PyTorch's own only. Each has its own
    /// store of builds.
    #[arg(long, value_enum, default_value_t)]
    pub torch_headers: TorchHeaders,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Candidate .cu files or directories of them.
    #[arg(required = true)]
    pub candidates: Vec<PathBuf>,
    /// Target architecture, e.g. sm_90 (sm_90a for wgmma).
    #[arg(long, default_value = "sm_90")]
    pub arch: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Do not read or write the compiled-module cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Seconds a candidate's compile may take before it is reported as timed out (a compile-time
    /// bomb).
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = parse_positive)]
    pub compile_timeout: f64,
    /// GiB of address space a candidate's compile process may use (a memory bomb runs NVRTC out
    /// of memory instead of the machine).
    #[arg(long, default_value_t = 4.0, value_name = "GIB", value_parser = parse_positive)]
    pub compile_memory: f64,
    /// Compile in this process, without a deadline (what each candidate's compile process runs).
    #[arg(long, hide = true)]
    pub in_process: bool,
}

fn parse_size(s: &str) -> Result<(String, i64), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected SYMBOL=VALUE, e.g. N=4096"))?;
    let v: i64 = v.trim().parse().map_err(|_| format!("`{s}`: `{v}` is not an integer"))?;
    if v < 1 {
        return Err(format!("`{s}`: sizes must be at least 1"));
    }
    Ok((k.trim().to_string(), v))
}

fn parse_positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("`{s}` is not a positive number")),
    }
}

/// Which `<torch/extension.h>` an extension is built with (`--torch-headers`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TorchHeaders {
    /// The judge's lean stand-in first (the tensor API and its Python bindings, not the C++
    /// frontend's nn, optim, data, serialize and jit), PyTorch's own where a source does not build
    /// with it (`sadoku_bridge.build_extension.LEAN_EXTENSION_H`).
    #[default]
    Lean,
    /// PyTorch's own only.
    Full,
}

impl TorchHeaders {
    /// The builder's `--torch-headers` value: the same name as sadoku's own flag takes.
    pub fn name(self) -> String {
        use clap::ValueEnum as _;
        self.to_possible_value().expect("every variant has a name").get_name().to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionArg {
    Fp32,
    Tf32,
}
