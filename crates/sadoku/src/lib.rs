//! sadoku: a paranoid referee for GPU kernels. The command line's library: `main.rs` parses the
//! arguments and calls [`run`].
//!
//! - [`commands`]: one module per subcommand;
//! - [`review`]: a review's orchestration (lanes over the GPUs, the journal, the report), shared by
//!   `review`, `kernelbench review` and `problem check --prove`;
//! - [`backend`]: where the GPU work runs (CUDA, or the simulated device of `--device sim`);
//! - [`lanes`], [`processes`], [`sandbox`], [`python_sandbox`]: reviewing on a GPU, the worker
//!   processes, and how they are confined;
//! - [`output`], [`records`]: the table, JSON, exports and the HTML page; recorded runs read back;
//! - [`serve`], [`selftest`]: the judge as a long-lived HTTP service, and the proof it gives of
//!   itself before it serves.

pub mod admission;
pub mod backend;
pub mod batch;
pub mod candidates;
pub mod child;
pub mod cli;
pub mod commands;
pub mod host_work;
pub mod journal;
pub mod kernelbench;
pub mod lanes;
pub mod output;
pub mod placement;
pub mod processes;
pub mod progress;
pub mod python_sandbox;
pub mod records;
pub mod registry;
pub mod review;
pub mod sandbox;
pub mod selftest;
pub mod serve;
pub mod shard;

use std::process::ExitCode;

/// sadoku's version, with the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SADOKU_COMMIT"), ")");

/// Run the command `cli` names; exit 0 when all is well, 1 when a verdict or check says no, 2 on
/// a usage or environment error (said on stderr in one line).
pub fn run(cli: cli::Cli) -> ExitCode {
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("sadoku: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
