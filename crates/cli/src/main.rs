//! The `latch` binary: a thin command-line layer over the library crates.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod eval_cmd;
mod trail_cmd;

/// Latch: a permissions firewall for AWS Organizations.
///
/// Denies sensitive permissions org-wide by default and grants them on demand.
#[derive(Debug, Parser)]
#[command(name = "latch", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate authorization cases with the IAM policy engine ("would AWS allow this call?").
    Eval(eval_cmd::EvalArgs),
    /// Read CloudTrail logs: usage per principal and action, denied attempts.
    Trail(trail_cmd::TrailArgs),
    /// Write example data.
    Example(ExampleArgs),
}

#[derive(Debug, clap::Args)]
struct ExampleArgs {
    #[command(subcommand)]
    command: ExampleCommand,
}

#[derive(Debug, Subcommand)]
enum ExampleCommand {
    /// Realistic CloudTrail logs for an activity document.
    Trail(trail_cmd::ExampleTrailArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Eval(args) => eval_cmd::run(&args),
        Command::Trail(args) => trail_cmd::run(&args),
        Command::Example(ExampleArgs {
            command: ExampleCommand::Trail(args),
        }) => trail_cmd::run_example(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            #[expect(clippy::print_stderr, reason = "the binary reports its own errors")]
            {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}
