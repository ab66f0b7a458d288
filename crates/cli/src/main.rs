//! The `latch` binary: a thin command-line layer over the library crates.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod catalog_cmd;
mod eval_cmd;
mod example_cmd;
mod server_cmd;
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
    /// Evaluate authorization cases with the IAM policy engine ("would AWS allow this call?").
    Eval(eval_cmd::EvalArgs),
    /// Validate policy documents: syntax, elements allowed where they are used, unknown actions.
    Validate(validate_cmd::ValidateArgs),
    /// The offline catalog of AWS actions: stats, lookup, wildcard expansion, sensitivity.
    Catalog {
        #[command(subcommand)]
        cmd: catalog_cmd::CatalogCommand,
    },
    /// Example organizations: generate synthetic snapshots for scale tests.
    Example {
        #[command(subcommand)]
        cmd: example_cmd::ExampleCommand,
    },
    /// Permissions on demand: serve, request, approve, deny, grants, revoke, audit, token.
    #[command(flatten)]
    Server(server_cmd::ServerCommand),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Eval(args) => eval_cmd::run(&args),
        Command::Catalog { cmd } => catalog_cmd::run(cmd),
        Command::Validate(args) => validate_cmd::run(&args),
        Command::Example { cmd } => example_cmd::run(cmd),
        Command::Server(cmd) => server_cmd::run(cmd),
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
