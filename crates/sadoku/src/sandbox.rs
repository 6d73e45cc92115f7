//! The worker's confinement: what a candidate's process may read, write and do.
//!
//! A worker confines itself once its CUDA context exists (the driver's libraries and device nodes
//! are open by then) and before it serves the judge, that is before it compiles or runs anything
//! of the candidate's:
//! - **Files** (Landlock): read-only the CUDA toolkit's headers (NVRTC's includes), the module
//!   cache, `/sys` and the worker's own `/proc` entries; read-write the NVIDIA device nodes and
//!   one private temporary directory; nothing else. An `#include "/etc/passwd"`, of `../` or of a
//!   device file then fails to open inside NVRTC, whatever macro built the path, and the compile
//!   log cannot echo what it never read. The judge alone writes the module cache.
//! - **System calls** (seccomp, every thread): no sockets but Unix ones, no `ptrace` or
//!   `process_vm_*`, no signals to other processes, no new processes or programs.
//! - **User**: a worker started as root drops to `nobody` (uid and gid 65534, no supplementary
//!   groups) once its device is open, where the host allows it; its temporary directory is
//!   handed to that user. The judge's files (results, caches and their secret) are then out of
//!   reach even where Landlock is not.
//! - **Resources** (rlimits): no core files, bounded file sizes, CPU time and number of
//!   processes. The address space is bounded around each compile (see `Nvrtc::bound_memory`),
//!   not for the whole worker: every device allocation maps as much host address space as it
//!   holds (1 GiB more per GiB, measured on an H200), so a whole-process bound would be a bound
//!   on the problem's size, not on the host memory a candidate can take.
//! - The worker dies with the judge (`PR_SET_PDEATHSIG`), starts with a cleared environment (see
//!   `processes::spawn`) and cannot start processes that could outlive it.
//!
//! Where the kernel lacks Landlock or seccomp, what engaged is said in the environment block, and
//! `--sandbox require` refuses to review.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, LandlockStatus, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, path_beneath_rules,
};
use seccompiler::{
    SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition as Cond, SeccompFilter, SeccompRule,
};
use serde::{Deserialize, Serialize};

/// How much confinement a review insists on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Confine what the machine allows and say what engaged.
    Auto,
    /// Refuse to review unless Landlock and seccomp both engage.
    Require,
    /// No confinement (debugging; the report says so).
    Off,
}

/// What a worker's confinement engaged, as it reports it to the judge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engaged {
    /// "Landlock ABI 7", or why not.
    pub landlock: Result<String, String>,
    pub seccomp: Result<(), String>,
    pub rlimits: Result<(), String>,
    /// The user the worker runs as: "uid 65534" after dropping root, "uid 1000" when not root;
    /// why not when it stayed root.
    pub user: Result<String, String>,
}

/// The unprivileged user a root-started worker becomes.
pub const NOBODY: u32 = 65534;

impl Engaged {
    /// Landlock, seccomp and rlimits engaged (running as root where it cannot be dropped is said,
    /// not refused: the other three hold without it).
    pub fn complete(&self) -> bool {
        self.landlock.is_ok() && self.seccomp.is_ok() && self.rlimits.is_ok()
    }

    /// One line for the environment block: "Landlock ABI 7, seccomp, rlimits" or what failed.
    pub fn describe(&self) -> String {
        let mut on = Vec::new();
        let mut off = Vec::new();
        match &self.landlock {
            Ok(abi) => on.push(abi.clone()),
            Err(why) => off.push(format!("no Landlock: {why}")),
        }
        match &self.seccomp {
            Ok(()) => on.push("seccomp".to_string()),
            Err(why) => off.push(format!("no seccomp: {why}")),
        }
        match &self.rlimits {
            Ok(()) => on.push("rlimits".to_string()),
            Err(why) => off.push(format!("no rlimits: {why}")),
        }
        match &self.user {
            Ok(uid) => on.push(uid.clone()),
            Err(why) => {
                on.push("uid 0".into());
                off.push(format!("root not dropped: {why}"));
            }
        }
        if off.is_empty() { on.join(", ") } else { format!("{} ({})", on.join(", "), off.join("; ")) }
    }
}

/// Where the worker may read and write.
pub struct Policy {
    /// Read-only directories and files.
    pub read: Vec<PathBuf>,
    /// Read-write directories and files (device nodes, the private temporary directory).
    pub write: Vec<PathBuf>,
}

impl Policy {
    /// NVRTC's include directories, /sys, this process's own /proc entries and the NVIDIA
    /// driver's; read-write the NVIDIA device nodes and `temp`. No cache: the judge keeps those.
    pub fn worker(includes: Vec<PathBuf>, temp: Option<PathBuf>) -> Policy {
        let mut read = includes;
        read.push(PathBuf::from("/sys"));
        read.push(PathBuf::from(format!("/proc/{}", std::process::id())));
        read.push(PathBuf::from("/proc/driver/nvidia"));
        let mut write: Vec<PathBuf> = std::fs::read_dir("/dev")
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("nvidia")))
                    .collect()
            })
            .unwrap_or_default();
        write.push(PathBuf::from("/dev/null"));
        write.extend(temp);
        Policy { read, write }
    }
}

/// Landlock's access masks, as the kernel's bits: what is handled (everything, so anything not
/// granted is refused), what reading grants (read, list, execute) and what writing grants.
pub fn landlock_masks() -> (u64, u64, u64) {
    let abi = ABI::V5;
    (AccessFs::from_all(abi).bits(), AccessFs::from_read(abi).bits(), AccessFs::from_all(abi).bits())
}

/// Landlock: `policy`'s paths and nothing else, for this thread and whatever it starts.
fn landlock(policy: &Policy) -> Result<String, String> {
    let abi = ABI::V5;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(&policy.read, AccessFs::from_read(abi))))
        .and_then(|r| r.add_rules(path_beneath_rules(&policy.write, AccessFs::from_all(abi))))
        .and_then(|r| r.restrict_self())
        .map_err(|e| e.to_string())?;
    let kernel = match status.landlock {
        LandlockStatus::Available { effective_abi, kernel_abi } => {
            kernel_abi.map_or_else(|| format!("{}", effective_abi as i32), |k| k.to_string())
        }
        LandlockStatus::NotEnabled => return Err("Landlock is not enabled in this kernel".into()),
        LandlockStatus::NotImplemented => return Err("Landlock is not built into this kernel".into()),
    };
    match status.ruleset {
        RulesetStatus::FullyEnforced => Ok(format!("Landlock ABI {kernel}")),
        RulesetStatus::PartiallyEnforced => {
            Ok(format!("Landlock ABI {kernel} (partly: an older ABI lacks some rights)"))
        }
        RulesetStatus::NotEnforced => Err(format!("Landlock ABI {kernel} did not enforce the rules")),
    }
}

/// seccomp, on every thread of the process (the CUDA driver's too).
fn seccomp() -> Result<(), String> {
    for f in filters(Children::Refused)? {
        seccompiler::apply_filter_all_threads(&f).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The filters a confined process installs, in order: [`filter`], and, when it may start no
/// process, one that answers `clone3` with ENOSYS, so that glibc creates threads with `clone(2)`,
/// whose flags the first filter can read (an EPERM would fail every new thread: OpenMP's, say).
pub fn filters(children: Children) -> Result<Vec<seccompiler::BpfProgram>, String> {
    let mut all = vec![filter(children)?];
    let answer = |call: i64, errno: i32| -> Result<seccompiler::BpfProgram, String> {
        let arch = std::env::consts::ARCH.try_into().map_err(|e: seccompiler::BackendError| e.to_string())?;
        let rules: BTreeMap<i64, Vec<SeccompRule>> = [(call, vec![])].into_iter().collect();
        let f = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno as u32), arch)
            .map_err(|e| e.to_string())?;
        f.try_into().map_err(|e: seccompiler::BackendError| e.to_string())
    };
    match children {
        Children::Refused => all.push(answer(libc::SYS_clone3, libc::ENOSYS)?),
        // setpgid does nothing and reports success: a build tool that gives each job a group of
        // its own (ninja does, through posix_spawn) keeps working, and every process stays in the
        // worker's group, which the judge kills whole. (Once loaded, the filter of `Refused`,
        // installed later, answers EPERM: the newest filter's answer wins.)
        Children::InGroup => all.push(answer(libc::SYS_setpgid, 0)?),
    }
    Ok(all)
}

/// Whether a confined process may start processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Children {
    /// No fork, no exec: a native worker, or a Python worker once its candidate is loaded.
    Refused,
    /// Fork and exec allowed, within the process's own process group, which it cannot leave (no
    /// setsid, no setpgid) and which the judge kills whole: a Python worker while it loads its
    /// candidate (building a torch extension runs compilers). Signals reach only that group.
    InGroup,
}

/// The system calls a confined process is refused (EPERM): see the module's documentation.
fn filter(children: Children) -> Result<seccompiler::BpfProgram, String> {
    let pid = std::process::id() as u64;
    let rule = |conds: Vec<Cond>| SeccompRule::new(conds).map_err(|e| e.to_string());
    let cond = |arg: u8, op: Op, value: u64| Cond::new(arg, Len::Qword, op, value).map_err(|e| e.to_string());
    let dword = |arg: u8, op: Op, value: u64| Cond::new(arg, Len::Dword, op, value).map_err(|e| e.to_string());
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    // Refused outright (an empty rule list matches every call).
    let mut refused = vec![libc::SYS_ptrace, libc::SYS_process_vm_readv, libc::SYS_process_vm_writev, libc::SYS_setsid];
    if children == Children::Refused {
        // clone3 is answered ENOSYS by a second filter (see `filters`): glibc then uses clone(2).
        // setpgid: while loading, a second filter answers it with a success that does nothing.
        refused.extend([libc::SYS_fork, libc::SYS_vfork, libc::SYS_execve, libc::SYS_execveat, libc::SYS_setpgid]);
    }
    for call in refused {
        rules.insert(call, vec![]);
    }
    // Sockets other than Unix ones.
    rules.insert(libc::SYS_socket, vec![rule(vec![dword(0, Op::Ne, libc::AF_UNIX as u64)?])?]);
    match children {
        Children::Refused => {
            // clone(2) that makes a process rather than a thread.
            rules.insert(libc::SYS_clone, vec![rule(vec![cond(0, Op::MaskedEq(libc::CLONE_THREAD as u64), 0)?])?]);
            // Signals to any process but this one (kill(0, …) would reach the judge's process group).
            rules.insert(libc::SYS_kill, vec![rule(vec![dword(0, Op::Ne, pid)?])?]);
        }
        Children::InGroup => {
            // Signals to this process, its own group (0) or that group by number (-pid), which it
            // leads and cannot leave; nothing else.
            let group = (pid as u32).wrapping_neg() as u64;
            rules.insert(
                libc::SYS_kill,
                vec![rule(vec![dword(0, Op::Ne, pid)?, dword(0, Op::Ne, 0)?, dword(0, Op::Ne, group)?])?],
            );
        }
    }
    rules.insert(libc::SYS_tgkill, vec![rule(vec![dword(0, Op::Ne, pid)?])?]);
    let arch = std::env::consts::ARCH.try_into().map_err(|e: seccompiler::BackendError| e.to_string())?;
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), arch)
        .map_err(|e| e.to_string())?;
    filter.try_into().map_err(|e: seccompiler::BackendError| e.to_string())
}

/// rlimits: no core files, files of at most 1 GiB, `cpu_s` seconds of CPU time, and at most
/// [`MAX_TASKS`] processes and threads of the worker's user.
fn rlimits(cpu_s: u64) -> Result<(), String> {
    let set = |what: libc::__rlimit_resource_t, name: &str, value: u64| {
        let limit = libc::rlimit { rlim_cur: value, rlim_max: value };
        // SAFETY: a plain system call on this process.
        if unsafe { libc::setrlimit(what, &limit) } == 0 {
            Ok(())
        } else {
            Err(format!("{name}: {}", std::io::Error::last_os_error()))
        }
    };
    set(libc::RLIMIT_CORE, "RLIMIT_CORE", 0)?;
    set(libc::RLIMIT_FSIZE, "RLIMIT_FSIZE", 1 << 30)?;
    set(libc::RLIMIT_CPU, "RLIMIT_CPU", cpu_s)?;
    set(libc::RLIMIT_NPROC, "RLIMIT_NPROC", MAX_TASKS)
}

/// Processes and threads a worker's user may have (the CUDA driver starts a few dozen threads per
/// worker; new processes are refused outright by seccomp).
pub const MAX_TASKS: u64 = 4096;

/// Die when the judge dies.
pub fn die_with_parent() {
    // SAFETY: plain prctl on this process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
}

/// Run as [`NOBODY`] when started as root: no supplementary groups, then gid, then uid, each for
/// real, effective and saved ids so that nothing can be regained.
fn drop_root() -> Result<String, String> {
    // SAFETY: plain credential system calls on this process; each result is checked.
    unsafe {
        if libc::geteuid() != 0 {
            return Ok(format!("uid {}", libc::geteuid()));
        }
        let parent = libc::getppid();
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(format!("setgroups: {}", std::io::Error::last_os_error()));
        }
        if libc::setresgid(NOBODY, NOBODY, NOBODY) != 0 {
            return Err(format!("setresgid: {}", std::io::Error::last_os_error()));
        }
        if libc::setresuid(NOBODY, NOBODY, NOBODY) != 0 {
            return Err(format!("setresuid: {}", std::io::Error::last_os_error()));
        }
        // A change of credentials clears the parent-death signal: set it again, and make sure the
        // judge did not die in between.
        die_with_parent();
        if libc::getppid() != parent {
            libc::_exit(1);
        }
        if libc::setuid(0) == 0 {
            return Err("root could be regained after dropping it".into());
        }
        Ok(format!("uid {NOBODY}"))
    }
}

/// Confine this process as `policy` says, as far as the machine allows.
pub fn confine(policy: &Policy, cpu_s: u64) -> Engaged {
    let user = drop_root();
    let rlimits = rlimits(cpu_s);
    let landlock = landlock(policy);
    let seccomp = seccomp();
    Engaged { landlock, seccomp, rlimits, user }
}

/// What the judge does for a worker it is about to start: when the judge is root, the worker will
/// drop to [`NOBODY`], so its private temporary directory becomes that user's.
pub fn prepare_temp(temp: &Path) -> std::io::Result<()> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(temp, Some(NOBODY), Some(NOBODY))?;
    }
    Ok(())
}

/// Landlock and seccomp on the calling thread only (both confine threads): for `sadoku check`,
/// whose NVRTC compiles run on a thread of their own that may read the toolkit's headers and do
/// none of what a worker may not (the process that started it keeps the module cache). Returns
/// what engaged.
pub fn confine_thread(includes: &[PathBuf]) -> Result<String, String> {
    let landlock = landlock(&Policy { read: includes.to_vec(), write: vec![PathBuf::from("/dev/null")] })?;
    for f in filters(Children::Refused)? {
        seccompiler::apply_filter(&f).map_err(|e| e.to_string())?;
    }
    Ok(format!("{landlock}, seccomp"))
}

/// The kernel's Landlock ABI (landlock_create_ruleset's version query), 0 without Landlock.
fn landlock_abi() -> i64 {
    // SAFETY: a query that creates nothing.
    let abi =
        unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<libc::c_void>(), 0usize, 1u32) };
    abi.max(0)
}

/// What this machine's kernel offers, without confining anything: for the environment block.
pub fn probe() -> String {
    let abi = landlock_abi();
    let landlock = if abi > 0 { format!("Landlock ABI {abi}") } else { "no Landlock".to_string() };
    // The "Seccomp" line appears when the kernel has seccomp.
    let seccomp = std::fs::read_to_string("/proc/self/status")
        .map(|s| if s.lines().any(|l| l.starts_with("Seccomp:")) { "seccomp" } else { "no seccomp" })
        .unwrap_or("seccomp unknown");
    format!("{landlock}, {seccomp}, rlimits")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel offers Landlock and seccomp filters (else these tests say so and stop).
    fn offered() -> bool {
        let p = probe();
        let ok = p.starts_with("Landlock ABI") && p.contains(", seccomp,");
        if !ok {
            eprintln!("skipped: this kernel offers {p}");
        }
        ok
    }

    /// A confined thread reads the headers it is given and nothing else, opens no network socket
    /// and starts no process; the rest of the process is not confined.
    #[test]
    fn a_confined_thread_reads_only_its_headers_and_reaches_nothing() {
        if !offered() {
            return;
        }
        let headers = tempfile::tempdir().unwrap();
        std::fs::write(headers.path().join("ok.h"), "#define OK 1\n").unwrap();
        let secret_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(secret_file.path(), "a token\n").unwrap();
        let (h, s) = (headers.path().to_path_buf(), secret_file.path().to_path_buf());
        let seen = std::thread::spawn(move || {
            let engaged = confine_thread(std::slice::from_ref(&h)).unwrap();
            let header = std::fs::read_to_string(h.join("ok.h")).is_ok();
            let secret = std::fs::read_to_string(&s).map_err(|e| e.kind());
            // SAFETY: plain system calls; a refused fork returns -1 and makes no process.
            let (inet, unix, fork) = unsafe {
                let inet = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
                let inet_errno = std::io::Error::last_os_error().raw_os_error();
                let unix = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                if unix >= 0 {
                    libc::close(unix);
                }
                let pid = libc::fork();
                if pid == 0 {
                    libc::_exit(0);
                }
                ((inet, inet_errno), unix, pid)
            };
            (engaged, header, secret, inet, unix, fork)
        })
        .join()
        .unwrap();
        let (engaged, header, secret, inet, unix, fork) = seen;
        assert!(engaged.starts_with("Landlock ABI") && engaged.ends_with("seccomp"), "{engaged}");
        assert!(header, "the headers are readable");
        assert_eq!(secret, Err(std::io::ErrorKind::PermissionDenied), "another file is not");
        assert_eq!(inet, (-1, Some(libc::EPERM)), "no network socket");
        assert!(unix >= 0, "a Unix socket is allowed");
        assert_eq!(fork, -1, "no new process");
        // The test's own thread was never confined.
        assert_eq!(std::fs::read_to_string(secret_file.path()).unwrap(), "a token\n");
    }

    #[test]
    fn what_engaged_is_said_in_one_line() {
        let all = Engaged {
            landlock: Ok("Landlock ABI 7".into()),
            seccomp: Ok(()),
            rlimits: Ok(()),
            user: Ok("uid 65534".into()),
        };
        assert!(all.complete());
        assert_eq!(all.describe(), "Landlock ABI 7, seccomp, rlimits, uid 65534");
        let root = Engaged { user: Err("setresuid: Operation not permitted".into()), ..all.clone() };
        assert!(root.complete(), "staying root is said, not refused");
        assert_eq!(
            root.describe(),
            "Landlock ABI 7, seccomp, rlimits, uid 0 (root not dropped: setresuid: Operation not permitted)"
        );
        let partial = Engaged { landlock: Err("Landlock is not built into this kernel".into()), ..all };
        assert!(!partial.complete());
        assert!(
            partial.describe().contains("(no Landlock: Landlock is not built into this kernel)"),
            "{}",
            partial.describe()
        );
    }
}
