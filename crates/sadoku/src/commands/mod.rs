//! One module per subcommand.

pub mod check;
pub mod compare;
pub mod kernelbench;
pub mod problem;
pub mod problems;
pub mod pyworker;
pub mod report;
pub mod review;
pub mod sandbox;
pub mod worker;

use anyhow::Result;

use crate::backend;
use crate::cli::{Cli, Command, KernelbenchCommand, ProblemCommand};

/// Run the command `cli` names, after `--problems` and $SADOKU_PROBLEMS joined the library; its
/// exit status.
pub fn run(cli: Cli) -> Result<u8> {
    crate::registry::add_user_dirs(&cli.problems)?;
    let backend = backend::select(cli.device);
    match cli.command {
        Command::Review(args) => review::run(args, backend),
        Command::Check(args) => check::run(args, &cli.problems),
        Command::Problems(args) => problems::run(args),
        Command::Compare(args) => compare::run(&args.old, &args.new),
        Command::Report(args) => report::run(&args.files, args.output.as_deref()),
        Command::Problem(ProblemCommand::Check(args)) => problem::check(args, backend),
        Command::Sandbox(args) => sandbox::run(args),
        Command::Kernelbench(KernelbenchCommand::Describe(args)) => kernelbench::describe(args),
        Command::Kernelbench(KernelbenchCommand::Match(args)) => kernelbench::matching(args),
        Command::Kernelbench(KernelbenchCommand::Review(args)) => kernelbench::review(*args, backend),
        Command::Pyworker(args) => pyworker::run(args),
        Command::Worker(args) => worker::run(args, backend),
    }
}
