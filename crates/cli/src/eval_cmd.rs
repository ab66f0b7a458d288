//! `latch eval`: decisions of the policy engine for JSON cases.

use std::fs;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Args;
use latch_policy::case::{evaluation_json, Case};
use latch_policy::Policy;
use serde_json::{json, Value};

/// Evaluate one case (`--case`) or many (`--cases`, JSON Lines) and print decisions as JSON.
///
/// A case is a request (principal, action, resource, context) plus the policies that apply:
/// identity policies, permissions boundary, session policy, resource-based policy, and SCPs /
/// RCPs per organization level. See docs/eval-cases.md for the format.
///
/// Examples:
///   latch eval --case examples/eval/s3-delete-denied-by-scp.json
///   latch eval --cases examples/eval/cases.jsonl
///   latch eval --cases big.jsonl --repeat 1000 > /dev/null   # time the engine alone
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct EvalArgs {
    /// A file holding one case as a JSON document (`-` for stdin).
    #[arg(long, conflicts_with = "cases", required_unless_present = "cases")]
    case: Option<PathBuf>,
    /// A JSON Lines file, one case per line (`-` for stdin); one result line per input line.
    #[arg(long)]
    cases: Option<PathBuf>,
    /// Evaluate each case N times after parsing it once (for timing); results print once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
}

fn read_input(path: &PathBuf) -> anyhow::Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::BufReader::new(io::stdin())));
    }
    let f = fs::File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    Ok(Box::new(io::BufReader::new(f)))
}

/// Unknown actions in every policy of a case (the catalog half of the policy validator).
fn catalog_lints(case: &Value) -> Vec<String> {
    let mut places: Vec<(String, &Value)> = Vec::new();
    for key in ["permission_boundary", "session_policy", "resource_policy"] {
        if let Some(p) = case.get(key) {
            places.push((key.to_owned(), p));
        }
    }
    for (i, p) in case
        .get("identity_policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        places.push((format!("identity_policies[{i}]"), p));
    }
    for key in ["scps", "rcps"] {
        let levels = case
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for (l, level) in levels.enumerate() {
            for (i, p) in level.as_array().into_iter().flatten().enumerate() {
                places.push((format!("{key}[{l}][{i}]"), p));
            }
        }
    }
    let mut out = Vec::new();
    for (place, value) in places {
        if let Ok(policy) = Policy::from_value(value, "") {
            out.extend(
                latch_catalog::lint_policy(&policy)
                    .into_iter()
                    .map(|f| format!("{place}.{f}")),
            );
        }
    }
    out
}

fn evaluate_value(v: &Value, repeat: u64) -> Result<Value, String> {
    let case = Case::from_value_with(v, &latch_catalog::Catalog::get().rcp_services())
        .map_err(|e| e.to_string())?;
    let mut lints = case.policies.lints();
    lints.extend(catalog_lints(v));
    for _ in 1..repeat {
        std::hint::black_box(case.evaluate());
    }
    Ok(evaluation_json(&case.evaluate(), &lints))
}

/// Runs `latch eval`.
pub fn run(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if let Some(path) = &args.case {
        let mut text = String::new();
        read_input(path)?.read_to_string(&mut text)?;
        let v: Value = latch_policy::document::parse_json(&text)
            .with_context(|| format!("`{}` is not a valid case", path.display()))?;
        return match evaluate_value(&v, args.repeat) {
            Ok(result) => {
                serde_json::to_writer_pretty(&mut out, &result)?;
                writeln!(out)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => bail!("`{}`: {e}", path.display()),
        };
    }
    let Some(path) = &args.cases else {
        bail!("give --case FILE or --cases FILE");
    };
    let mut failed = 0usize;
    for (i, line) in read_input(path)?.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read `{}`", path.display()))?;
        let n = i + 1;
        let result = latch_policy::document::parse_json(&line)
            .map_err(|e| match e.path.as_str() {
                "$" => format!("line {n}: {}", e.reason),
                _ => format!("line {n}: {e}"),
            })
            .and_then(|v| evaluate_value(&v, args.repeat).map_err(|e| format!("line {n}: {e}")));
        let value = match result {
            Ok(v) => v,
            Err(e) => {
                failed += 1;
                json!({ "error": e })
            }
        };
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
    }
    out.flush()?;
    if failed > 0 {
        #[expect(clippy::print_stderr, reason = "summary of failed lines for the user")]
        {
            eprintln!("error: {failed} case(s) could not be evaluated (see their \"error\" lines)");
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
