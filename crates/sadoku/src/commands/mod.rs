//! One module per subcommand.

pub mod check;
pub mod compare;
pub mod kernelbench;
pub mod merge;
pub mod problem;
pub mod problems;
pub mod pyworker;
pub mod report;
pub mod review;
pub mod sandbox;
pub mod selftest;
pub mod worker;

use anyhow::Result;

use crate::backend;
use crate::cli::{Cli, Command, KernelbenchCommand, ProblemCommand};

/// Run the command `cli` names, with the problems of the library, $SADOKU_PROBLEMS and
/// `--problems`; its exit status.
pub fn run(cli: Cli) -> Result<u8> {
    let mut registry = crate::registry::load(&cli.problems)?;
    let registry = &mut registry;
    let backend = backend::select(cli.device);
    match cli.command {
        Command::Review(args) => review::run(registry, args, backend),
        Command::Check(args) => check::run(registry, args, &cli.problems),
        Command::Problems(args) => problems::run(registry, args),
        Command::Compare(args) => compare::run(&args.old, &args.new),
        Command::Report(args) => report::run(&args.files, args.output.as_deref()),
        Command::Merge(args) => merge::run(&args.files, args.output.as_deref()),
        Command::Problem(ProblemCommand::Check(args)) => problem::check(registry, args, backend),
        Command::Sandbox(args) => sandbox::run(args),
        Command::Serve(args) => crate::serve::run(registry, args, backend),
        Command::Selftest(args) => selftest::run(registry, args, backend),
        Command::Kernelbench(KernelbenchCommand::Describe(args)) => kernelbench::describe(args),
        Command::Kernelbench(KernelbenchCommand::Match(args)) => kernelbench::matching(args),
        Command::Kernelbench(KernelbenchCommand::Review(args)) => kernelbench::review(registry, *args, backend),
        Command::Pyworker(args) => pyworker::run(args),
        Command::Worker(args) => worker::run(args, backend),
    }
}
