//! `sadoku worker` (internal): one candidate's GPU work, in a process of its own, served to the
//! judge that started it (see [`crate::processes`]).

use anyhow::{Result, anyhow};
use sadoku_core::protocol::serve;

use crate::backend::Backend;
use crate::cli::WorkerArgs;
use crate::{processes, sandbox};

/// The worker side of a review: one candidate's GPU work, served to the parent over stdin/stdout.
pub fn run(args: WorkerArgs, backend: &dyn Backend) -> Result<u8> {
    let protocol = processes::take_stdout()?;
    sandbox::die_with_parent();
    // No module cache (see `Backend::open_worker`): the judge keeps the modules its workers compile.
    let mut device = backend.open_worker(args.gpu, args.compile_memory).map_err(|e| anyhow!("{e}"))?;
    // Confined once the CUDA context and NVRTC are loaded, before anything of the candidate's.
    let confinement = if args.sandbox == sandbox::Mode::Off {
        "off: --sandbox off, unconfined".to_string()
    } else {
        let includes = sadoku_cuda::libs::CudaRoot::find().map(|r| r.include_dirs()).unwrap_or_default();
        let engaged = sandbox::confine(&sandbox::Policy::worker(includes, args.temp.clone()), args.cpu_s);
        if args.sandbox == sandbox::Mode::Require && !engaged.complete() {
            return Err(anyhow!("--sandbox require: the sandbox could not engage: {}", engaged.describe()));
        }
        if engaged.complete() { engaged.describe() } else { format!("partial: {}", engaged.describe()) }
    };
    // The judge reads what engaged from the worker's Info, and says it in the verdict.
    device.set_sandbox(confinement);
    let mut out = std::io::BufWriter::new(protocol);
    serve(&mut *device, &mut std::io::stdin().lock(), &mut out)?;
    Ok(0)
}
