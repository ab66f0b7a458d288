//! `latch eval`: decisions of the policy engine for JSON cases.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::diagnostic::{self, code};
use anyhow::bail;
use clap::Args;
use latch_input::{Expected, InputError, Problem};
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

/// Name of standard input in messages.
const STDIN: &str = "stdin";

/// One case: the whole file (or standard input) as JSON text.
fn read_case(path: &Path) -> anyhow::Result<String> {
    Ok(if path.as_os_str() == "-" {
        latch_input::read_from(&mut io::stdin().lock(), STDIN, Expected::Json)?
    } else {
        latch_input::read(path, Expected::Json)?
    })
}

/// `path` as errors name it.
fn input_name(path: &Path) -> PathBuf {
    if path.as_os_str() == "-" {
        PathBuf::from(STDIN)
    } else {
        path.to_owned()
    }
}

/// A read of `path` (`-`: standard input) failed.
fn read_error(path: &Path, e: io::Error) -> InputError {
    if path.as_os_str() == "-" {
        InputError::new(STDIN, Problem::Io(e))
    } else {
        InputError::new(path, latch_input::io_problem(path, e))
    }
}

/// The JSON Lines input, positioned after a UTF-8 byte-order mark; UTF-16 is refused here
/// (every line would be undecodable).
fn open_cases(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    let mut reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(io::BufReader::new(io::stdin()))
    } else {
        Box::new(io::BufReader::new(latch_input::open(path)?))
    };
    let head = reader.fill_buf().map_err(|e| read_error(path, e))?;
    // The start only: whether the input is empty is known at its end.
    let rest = latch_input::check_start(head, Expected::TomlOrEmpty)
        .map_err(|p| InputError::new(input_name(path), p))?
        .len();
    let bom = head.len() - rest;
    reader.consume(bom);
    Ok(reader)
}

/// One line of `--cases`, as text: the bytes before `\n` (and a `\r` before it).
fn line_text(bytes: &[u8], n: usize) -> Result<&str, String> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        format!(
            "line {n}: not UTF-8: invalid byte 0x{:02X} at byte offset {at} of the line; save \
             the file as UTF-8",
            bytes.get(at).copied().unwrap_or(0)
        )
    })
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

/// Evaluates line `n` of `--cases` and writes its result (or `{"error"}`); 1 if it failed.
fn write_case_result(
    out: &mut impl Write,
    bytes: &[u8],
    n: usize,
    repeat: u64,
) -> anyhow::Result<usize> {
    let result = line_text(bytes, n).and_then(|text| {
        latch_policy::document::parse_json(text)
            .map_err(|e| match e.path.as_str() {
                "$" => format!("line {n}: {}", e.reason),
                _ => format!("line {n}: {e}"),
            })
            .and_then(|v| evaluate_value(&v, repeat).map_err(|e| format!("line {n}: {e}")))
    });
    let (value, failed) = match result {
        Ok(v) => (v, 0),
        Err(e) => (json!({ "error": e }), 1),
    };
    serde_json::to_writer(&mut *out, &value)?;
    writeln!(out)?;
    Ok(failed)
}

/// Runs `latch eval`.
pub fn run(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if let Some(path) = &args.case {
        let text = read_case(path)?;
        let v: Value = latch_policy::document::parse_json(&text).map_err(|e| {
            let file = path.display().to_string();
            let problem = match e.at {
                Some(at) => diagnostic::Problem::at(code::SYNTAX, &file, &text, at, e.to_string()),
                None => {
                    diagnostic::Problem::in_json(code::POLICY, &file, &text, &e.path, e.to_string())
                }
            };
            anyhow::anyhow!(
                "`{file}` is not a valid case: {e}\n{}",
                problem.render().trim_end()
            )
        })?;
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
    let mut reader = open_cases(path)?;
    let mut failed = 0usize;
    let mut line = Vec::new();
    // Blank lines before the first case, held back: an input with nothing else is empty.
    let mut leading_blank: Vec<Vec<u8>> = Vec::new();
    let mut seen_case = false;
    let mut n = 0usize;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| read_error(path, e))?;
        if read == 0 {
            break;
        }
        if !seen_case {
            if line.iter().all(u8::is_ascii_whitespace) {
                leading_blank.push(line.clone());
                continue;
            }
            seen_case = true;
            for blank in std::mem::take(&mut leading_blank) {
                n += 1;
                failed += write_case_result(&mut out, &blank, n, args.repeat)?;
            }
        }
        n += 1;
        failed += write_case_result(&mut out, &line, n, args.repeat)?;
    }
    if !seen_case {
        return Err(InputError::new(input_name(path), Problem::Empty(Expected::JsonLines)).into());
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
