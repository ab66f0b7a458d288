//! `latch example generate`: synthetic organizations for scale tests.

use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use latch_model::generate::{self, GenerateError, Params};

/// Work with example organizations.
#[derive(Debug, Subcommand)]
pub enum ExampleCommand {
    /// Write a synthetic organization snapshot (deterministic for a given seed).
    Generate(GenerateArgs),
    /// Realistic CloudTrail logs for an activity document.
    Trail(crate::trail_cmd::ExampleTrailArgs),
}

/// Write a synthetic organization: organization.json, accounts/<id>/gaad.json and
/// resource-policies.json, and activity.json (the usage plan CloudTrail is generated from).
///
/// Examples:
///   latch example generate --accounts 100 --roles-per-account 200 --days 90 --out /tmp/big
///   latch example generate --accounts 5 --roles-per-account 20 --seed 7 --out /tmp/small
///   latch example generate --accounts 100 --people 5000 --groups 300 --permission-sets 40 --out /tmp/ic
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct GenerateArgs {
    /// Accounts, including the management account.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    accounts: u32,
    /// Roles per account (at least 4).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(4..=5_000))]
    roles_per_account: u32,
    /// Activity window in days; zombies are idle for longer.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3_650))]
    days: u32,
    /// Seed of the pseudo-random choices: the same seed writes the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// People of IAM Identity Center: with any, `identity-center.json` is written (users, one
    /// in a hundred deactivated; groups; permission sets assigned in every account).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    people: u32,
    /// Groups of those people.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    groups: u32,
    /// Permission sets: the three of every account and team sets, each provisioned in a fifth
    /// of the accounts (with people only).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(3..=1_000))]
    permission_sets: u32,
    /// Output directory; must not exist or be empty.
    #[arg(long)]
    out: PathBuf,
}

/// Runs an `example` subcommand.
pub fn run(cmd: ExampleCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ExampleCommand::Generate(args) => run_generate(&args),
        ExampleCommand::Trail(args) => crate::trail_cmd::run_example(&args),
    }
}

fn run_generate(args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    if args.out.exists()
        && fs::read_dir(&args.out)
            .with_context(|| format!("cannot read `{}`", args.out.display()))?
            .next()
            .is_some()
    {
        bail!(
            "`{}` is not empty; choose a new directory so no old files mix in",
            args.out.display()
        );
    }
    let params = Params {
        accounts: usize::try_from(args.accounts)?,
        roles_per_account: usize::try_from(args.roles_per_account)?,
        days: args.days,
        seed: args.seed,
        people: usize::try_from(args.people)?,
        groups: usize::try_from(args.groups)?,
        permission_sets: usize::try_from(args.permission_sets)?,
    };
    let total = params.accounts;
    let bar = crate::progress::Bar::new("generating", false);
    let mut bytes_written: u64 = 0;
    let mut stderr = std::io::stderr();
    let result = generate::generate(&params, |file| -> anyhow::Result<()> {
        let path = args.out.join(&file.path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        fs::write(&path, &file.bytes)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        bytes_written += u64::try_from(file.bytes.len()).unwrap_or(0);
        if let Some(i) = file.account_index {
            if file.path.ends_with("resource-policies.json") {
                // On a terminal only: a log gets the summary line, not one line per step.
                bar.draw(
                    u64::try_from(i + 1).unwrap_or(u64::MAX),
                    u64::try_from(total).unwrap_or(u64::MAX),
                    &format!("accounts ({:.1} MB)", mb(bytes_written)),
                );
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(GenerateError::Sink(e)) => return Err(e),
        Err(e) => bail!("{e}"),
    }
    let _ = writeln!(
        stderr,
        "wrote a snapshot of {} accounts x {} roles to `{}` ({:.1} MB) in {:.1} s; CloudTrail \
         for {} days is generated from its activity.json",
        params.accounts,
        params.roles_per_account,
        args.out.display(),
        mb(bytes_written),
        bar.elapsed().as_secs_f64(),
        params.days
    );
    Ok(ExitCode::SUCCESS)
}

fn mb(bytes: u64) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "a progress figure")]
    let b = bytes as f64;
    b / 1_000_000.0
}
