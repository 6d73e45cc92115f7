//! `sadoku pyworker` (internal): a Python worker's side of its confinement; see
//! `python_sandbox` for what the confinement is.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use anyhow::{Result, anyhow};

use crate::cli::PyWorkerArgs;
use crate::python_sandbox::{interpreter_dirs, system_read};
use crate::sandbox::{self, Children, Mode, Policy};

/// The worker's side: lead a process group, die with the judge, write down the confinement the
/// interpreter applies to itself (`confine.json` and the seccomp programs, in its temporary
/// directory), then become `program`.
///
/// The interpreter confines itself (`python/sadoku_confine.py`) once PyTorch has made its CUDA
/// context and before any candidate code runs, as a native worker does: the CUDA driver does not
/// initialise inside the confinement (measured on an H200: with Landlock alone, seccomp alone or
/// as `nobody` alone, `cuInit` fails with error 304), and it keeps working once initialised.
pub fn run(args: PyWorkerArgs) -> Result<u8> {
    sandbox::die_with_parent();
    // SAFETY: a plain system call on this process: it leads a new process group.
    if unsafe { libc::setpgid(0, 0) } != 0 {
        return Err(anyhow!("cannot lead a process group: {}", std::io::Error::last_os_error()));
    }
    let (python, rest) = args.program.split_first().ok_or_else(|| anyhow!("pyworker: no program to run after `--`"))?;
    let python = PathBuf::from(python);
    let mut cmd = std::process::Command::new(&python);
    cmd.args(rest);
    if args.sandbox == Mode::Off {
        cmd.env("SADOKU_SANDBOX", "off: --sandbox off, unconfined").env_remove("SADOKU_CONFINE");
    } else {
        let mut read = interpreter_dirs(&python)?;
        read.extend(system_read());
        read.extend(args.read.iter().cloned());
        read.push(PathBuf::from(format!("/proc/{}", std::process::id())));
        read.push(PathBuf::from("/proc/driver/nvidia"));
        read.push(PathBuf::from("/sys"));
        read.retain(|p| p.exists());
        let mut policy = Policy::worker(Vec::new(), Some(args.temp.clone()));
        policy.read.extend(read);
        policy.write.extend(args.write.iter().cloned());
        let programs = |children| -> Result<Vec<u8>> {
            // Each program: its instruction count (u32, little-endian), then its instructions.
            let mut bytes = Vec::new();
            for program in sandbox::filters(children).map_err(|e| anyhow!("seccomp: {e}"))? {
                bytes.extend((program.len() as u32).to_le_bytes());
                for f in &program {
                    bytes.extend(f.code.to_le_bytes());
                    bytes.push(f.jt);
                    bytes.push(f.jf);
                    bytes.extend(f.k.to_le_bytes());
                }
            }
            Ok(bytes)
        };
        std::fs::write(args.temp.join("seccomp-load.bpf"), programs(Children::InGroup)?)?;
        std::fs::write(args.temp.join("seccomp.bpf"), programs(Children::Refused)?)?;
        let (handled, read_access, write_access) = sandbox::landlock_masks();
        let rules: Vec<(String, u64)> = policy
            .read
            .iter()
            .map(|p| (p.display().to_string(), read_access))
            .chain(policy.write.iter().map(|p| (p.display().to_string(), write_access)))
            .collect();
        let without = |part: &str| args.without.iter().any(|w| w == part);
        let plan = serde_json::json!({
            "require": args.sandbox == Mode::Require,
            "landlock": if without("landlock") { serde_json::Value::Null } else {
                serde_json::json!({ "handled": handled, "rules": rules })
            },
            "seccomp": if without("seccomp") { serde_json::Value::Null } else {
                serde_json::Value::String(args.temp.join("seccomp-load.bpf").display().to_string())
            },
            "rlimits": { "cpu_s": args.cpu_s, "file_bytes": 1u64 << 30, "tasks": sandbox::MAX_TASKS, "host_bytes": args.host_gib << 30 },
            "drop_to": if without("user") { serde_json::Value::Null } else { sandbox::NOBODY.into() },
            "judge": std::os::unix::process::parent_id(),
        });
        let path = args.temp.join("confine.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&plan)?)?;
        cmd.env("SADOKU_CONFINE", path);
    }
    let err = cmd.exec();
    Err(anyhow!("cannot run {}: {err}", python.display()))
}
