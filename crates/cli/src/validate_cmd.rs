//! `latch validate`: check policy documents before they reach AWS or the engine.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use latch_policy::compile::CPolicy;
use latch_policy::{Layer, Policy};
use serde_json::json;

use crate::diagnostic::{code, Problem};

/// Where a policy will be used: decides which elements it may hold.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LayerArg {
    /// An identity-based policy (user, group or role).
    Identity,
    /// A permissions boundary.
    Boundary,
    /// A session policy.
    Session,
    /// A resource-based policy (bucket, key, queue, role trust policy, ...).
    Resource,
    /// A service control policy.
    Scp,
    /// A resource control policy.
    Rcp,
}

impl LayerArg {
    fn layer(self) -> Layer {
        match self {
            LayerArg::Identity => Layer::Identity,
            LayerArg::Boundary => Layer::PermissionBoundary,
            LayerArg::Session => Layer::SessionPolicy,
            LayerArg::Resource => Layer::Resource,
            LayerArg::Scp => Layer::Scp,
            LayerArg::Rcp => Layer::Rcp,
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Lines for people.
    Table,
    /// One JSON document for machines.
    Json,
}

/// Validate IAM policy documents: syntax (errors name the JSON path), the elements allowed for
/// the policy's use (`--layer`), conditions that cannot be evaluated, and actions the catalog
/// does not know (typos, retired actions). Each problem is shown in place, under its code
/// (`latch::syntax`, `latch::policy::element`, `latch::policy::layer`, `latch::policy::lint`);
/// `--format json` gives the line and column of each.
///
/// Exits 1 when a policy has an error, or — with `--strict` — any warning.
///
/// Examples:
///   latch validate policy.json
///   latch validate --layer scp guardrails/*.json --format json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ValidateArgs {
    /// Policy files (JSON documents).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Where the policies will be used.
    #[arg(long, value_enum, default_value_t = LayerArg::Identity)]
    layer: LayerArg,
    /// Treat warnings as failures.
    #[arg(long)]
    strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

struct Report {
    file: String,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

fn check(path: &Path, layer: Layer) -> anyhow::Result<Report> {
    let text = latch_input::read(path, latch_input::Expected::Json)?;
    let file = path.display().to_string();
    let mut report = Report {
        file: file.clone(),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let lint = |message: String| Problem::in_json_message(code::LINT, &file, &text, message);
    match Policy::from_json_str(&text) {
        Err(e) => report.errors.push(match e.at {
            Some(at) => Problem::at(code::SYNTAX, &file, &text, at, e.to_string()),
            None => Problem::in_json(code::POLICY, &file, &text, &e.path, e.to_string()),
        }),
        Ok(policy) => {
            match CPolicy::compile(&policy, layer) {
                Err(e) => report.errors.push(Problem::in_json(
                    code::LAYER,
                    &file,
                    &text,
                    &e.path,
                    e.to_string(),
                )),
                Ok(compiled) => report
                    .warnings
                    .extend(compiled.lints.iter().cloned().map(lint)),
            }
            report
                .warnings
                .extend(latch_catalog::lint_policy(&policy).into_iter().map(lint));
        }
    }
    Ok(report)
}

/// Runs `latch validate`.
pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let layer = args.layer.layer();
    let reports = args
        .files
        .iter()
        .map(|f| check(f, layer))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let failed = reports
        .iter()
        .any(|r| !r.errors.is_empty() || (args.strict && !r.warnings.is_empty()));
    let mut out = io::stdout().lock();
    match args.format {
        Format::Json => {
            let files: Vec<_> = reports
                .iter()
                .map(|r| {
                    let messages =
                        |ps: &[Problem]| ps.iter().map(|p| p.message.clone()).collect::<Vec<_>>();
                    let located = |ps: &[Problem]| ps.iter().map(Problem::json).collect::<Vec<_>>();
                    json!({
                        "file": r.file,
                        "errors": messages(&r.errors),
                        "warnings": messages(&r.warnings),
                        "error_details": located(&r.errors),
                        "warning_details": located(&r.warnings),
                    })
                })
                .collect();
            serde_json::to_writer_pretty(
                &mut out,
                &json!({"layer": layer.name(), "files": files}),
            )?;
            writeln!(out)?;
        }
        Format::Table => {
            for r in &reports {
                if r.errors.is_empty() && r.warnings.is_empty() {
                    writeln!(out, "ok       {}", r.file)?;
                }
                for e in &r.errors {
                    writeln!(out, "error    {}: {}", r.file, e.message)?;
                    write!(out, "{}", e.render())?;
                }
                for w in &r.warnings {
                    writeln!(out, "warning  {}: {}", r.file, w.message)?;
                    write!(out, "{}", w.render())?;
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
