//! The `latch` binary.
mod catalog_cmd;

use std::process::ExitCode;

use clap::Parser;

/// Latch: a permissions firewall for AWS Organizations.
#[derive(Debug, Parser)]
#[command(name = "latch", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// The offline catalog of AWS actions: stats, lookup, wildcard expansion, sensitivity.
    Catalog {
        #[command(subcommand)]
        cmd: catalog_cmd::CatalogCommand,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Catalog { cmd } => catalog_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            #[expect(
                clippy::print_stderr,
                reason = "the binary's top level reports errors to the user"
            )]
            {
                eprintln!("error: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}
