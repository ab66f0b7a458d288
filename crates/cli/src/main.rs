//! The `latch` binary: a thin command-line layer over the library crates.

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

/// mimalloc rather than the system allocator: a scan of a large organization allocates and
/// frees millions of small strings and sets across threads, where glibc's malloc spent a fifth
/// of the time and kept freed memory from the escalation graph out of later stages' reach.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod aws_cmd;
mod backup_cmd;
mod catalog_cmd;
mod diagnostic;
mod doctor_cmd;
mod eval_cmd;
mod example_cmd;
mod example_org;
mod files;
mod install_cmd;
mod json_out;
mod plan_cmd;
mod progress;
mod prove_cmd;
mod scan_cmd;
mod scan_render;
mod server_cmd;
mod trail_cmd;
mod validate_cmd;

/// Latch: a permissions firewall for AWS Organizations.
///
/// Denies sensitive permissions org-wide by default and grants them on demand.
#[derive(Debug, Parser)]
#[command(name = "latch", version = env!("LATCH_VERSION"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    // Commands whose arguments struct carries the documentation (with examples) have no doc
    // comment here: one on the variant would replace it in `latch <command> --help`.
    Scan(scan_cmd::ScanArgs),
    Eval(eval_cmd::EvalArgs),
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
    Init(plan_cmd::InitArgs),
    Plan(plan_cmd::PlanArgs),
    /// Read a live organization (tree, SCPs/RCPs, every account's IAM, CloudTrail) into a snapshot.
    Collect(aws_cmd::CollectArgs),
    /// Make the organization match a firewall plan (diff, confirm, apply in a safe order).
    Apply(aws_cmd::ApplyArgs),
    /// Compare the organization with the plan; exit 1 on drift; --repair restores it.
    Drift(aws_cmd::DriftArgs),
    /// Break-glass: detach every Latch policy now (they stay, for `latch resync`).
    EmergencyStop(aws_cmd::StopArgs),
    /// Re-apply the plan after an emergency stop (the same as `latch apply`).
    Resync(aws_cmd::ApplyArgs),
    Prove(prove_cmd::ProveArgs),
    Doctor(doctor_cmd::DoctorArgs),
    Completions(install_cmd::CompletionsArgs),
    Man(install_cmd::ManArgs),
    /// Permissions on demand: serve, request, approve, deny, grants, revoke, audit, token.
    #[command(flatten)]
    Server(server_cmd::ServerCommand),
}

fn main() -> ExitCode {
    // No transparent huge pages for this process. mimalloc asks for them on its arenas, and a
    // scan of a large organization then spent a third of its CPU time in the kernel zeroing
    // 2 MiB pages, most of them barely used: with them off, the 1,000-account scan's system
    // time fell from 9.6 s to 4.2 s and its peak memory by 130 MB (docs/benchmarks.md). Only
    // a hint to the kernel: if it is refused, nothing else changes.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let result = match Cli::parse().command {
        Command::Eval(args) => eval_cmd::run(&args),
        Command::Scan(args) => scan_cmd::run(&args),
        Command::Trail(args) => trail_cmd::run(&args),
        Command::Catalog { cmd } => catalog_cmd::run(cmd),
        Command::Validate(args) => validate_cmd::run(&args),
        Command::Example { cmd } => example_cmd::run(cmd),
        Command::Init(args) => plan_cmd::run_init(&args),
        Command::Plan(args) => plan_cmd::run_plan(&args),
        Command::Collect(args) => aws_cmd::run_collect(&args),
        Command::Apply(args) => aws_cmd::run_apply(&args, "apply"),
        Command::Drift(args) => aws_cmd::run_drift(&args),
        Command::EmergencyStop(args) => aws_cmd::run_stop(&args),
        Command::Resync(args) => aws_cmd::run_apply(&args, "resync"),
        Command::Prove(args) => prove_cmd::run(&args),
        Command::Doctor(args) => doctor_cmd::run(&args),
        Command::Completions(args) => install_cmd::run_completions(&args, Cli::command()),
        Command::Man(args) => install_cmd::run_man(&args, Cli::command()),
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
