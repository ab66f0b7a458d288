//! The `latch` binary: a thin command-line layer over the library crates.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod catalog_cmd;
mod eval_cmd;
mod example_cmd;
mod plan_cmd;
mod prove_cmd;
mod scan_cmd;
mod scan_render;
mod trail_cmd;
mod validate_cmd;

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
    /// Scan an organization: standing privilege, zombies, external trust, unused services.
    Scan(scan_cmd::ScanArgs),
    /// Evaluate authorization cases with the IAM policy engine ("would AWS allow this call?").
    Eval(eval_cmd::EvalArgs),
    /// Validate policy documents: syntax, elements allowed where they are used, unknown actions.
    Validate(validate_cmd::ValidateArgs),
    /// The offline catalog of AWS actions: stats, lookup, wildcard expansion, sensitivity.
    Catalog {
        #[command(subcommand)]
        cmd: catalog_cmd::CatalogCommand,
    },
    /// Read CloudTrail logs: usage per principal and action, denied attempts.
    Trail(trail_cmd::TrailArgs),
    /// Example data: synthetic organizations and their CloudTrail.
    Example {
        #[command(subcommand)]
        cmd: example_cmd::ExampleCommand,
    },
    /// Write a commented starter firewall configuration (latch.toml).
    Init(plan_cmd::InitArgs),
    /// Generate the firewall (SCPs, RCPs, tags) and replay observed usage against it.
    Plan(plan_cmd::PlanArgs),
    // No doc comment here: clap then takes the about and the long help (with examples) from
    // `ProveArgs`; a doc comment on the variant would hide them from `latch prove --help`.
    Prove(prove_cmd::ProveArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Eval(args) => eval_cmd::run(&args),
        Command::Scan(args) => scan_cmd::run(&args),
        Command::Trail(args) => trail_cmd::run(&args),
        Command::Catalog { cmd } => catalog_cmd::run(cmd),
        Command::Validate(args) => validate_cmd::run(&args),
        Command::Example { cmd } => example_cmd::run(cmd),
        Command::Init(args) => plan_cmd::run_init(&args),
        Command::Plan(args) => plan_cmd::run_plan(&args),
        Command::Prove(args) => prove_cmd::run(&args),
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
