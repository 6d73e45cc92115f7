//! sadoku: a paranoid referee for GPU kernels. Everything but argument parsing is in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    sadoku::run(sadoku::cli::Cli::parse())
}
