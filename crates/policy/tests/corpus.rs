//! Runs the hand-written evaluation corpus (`tests/corpus/*.json`) through the engine.
//!
//! Every entry is `{"name", "rule", "case", "expect": {"decision", "decided_by"?,
//! "refused_by"?}}`, or `"expect": {"rejected_at": PATH}` for a case the engine must refuse to
//! parse, naming that JSON path; the rule sentence cites the AWS documentation page it tests (see
//! `docs/evaluation-rules.md`). `refused_by` names the protection of
//! `latch_policy::protected` that must refuse the request; without it, none may.
//! All failures are collected and reported together, then the test fails once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

const MIN_CASES: usize = 300;
const DECISIONS: [&str; 3] = ["Allow", "ExplicitDeny", "ImplicitDeny"];
const LAYERS: [&str; 6] = [
    "scp",
    "rcp",
    "identity",
    "resource",
    "permission_boundary",
    "session_policy",
];

struct Entry {
    file: String,
    name: String,
    rule: String,
    case: Value,
    /// The decision, or `rejected` when the case must fail to parse.
    decision: String,
    decided_by: Option<String>,
    /// For a rejected case: the JSON path the error must name.
    rejected_at: Option<String>,
    /// The protection that must refuse the request (`refused_by` in the result), if any.
    refused_by: Option<String>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

/// Loads and validates the shape of every corpus file. Shape errors are collected in `errors`.
fn load(errors: &mut Vec<String>) -> Vec<Entry> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no corpus files in {}",
        corpus_dir().display()
    );

    let mut entries = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("readable corpus file");
        let doc: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!("{file}: not valid JSON: {e}"));
                continue;
            }
        };
        let Some(items) = doc.as_array() else {
            errors.push(format!("{file}: top level must be a JSON array"));
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let at = format!("{file}[{i}]");
            let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                errors.push(format!(
                    "{at}: `name` must be a non-empty kebab-case string"
                ));
                continue;
            }
            if let Some(other) = seen.insert(name.to_owned(), file.clone()) {
                errors.push(format!("{at}: duplicate name `{name}` (also in {other})"));
            }
            let rule = item.get("rule").and_then(Value::as_str).unwrap_or_default();
            if rule.trim().is_empty() {
                errors.push(format!("{at} `{name}`: `rule` is missing or empty"));
            } else if !(rule.contains("citation:") && rule.contains("https://docs.aws.amazon.com/"))
            {
                errors.push(format!(
                    "{at} `{name}`: `rule` must cite an AWS documentation page (`citation: Title (https://docs.aws.amazon.com/...)`)"
                ));
            }
            let Some(case) = item.get("case").filter(|c| c.is_object()) else {
                errors.push(format!("{at} `{name}`: `case` must be an object"));
                continue;
            };
            let expect = item.get("expect");
            if let Some(path) = expect.and_then(|e| e.get("rejected_at")) {
                let Some(path) = path.as_str().filter(|a| !a.is_empty()) else {
                    errors.push(format!(
                        "{at} `{name}`: expect.rejected_at must be the JSON path of the error"
                    ));
                    continue;
                };
                entries.push(Entry {
                    file: file.clone(),
                    name: name.to_owned(),
                    rule: rule.to_owned(),
                    case: case.clone(),
                    decision: "rejected".to_owned(),
                    decided_by: None,
                    rejected_at: Some(path.to_owned()),
                    refused_by: None,
                });
                continue;
            }
            let decision = expect
                .and_then(|e| e.get("decision"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !DECISIONS.contains(&decision) {
                errors.push(format!(
                    "{at} `{name}`: expect.decision must be one of {DECISIONS:?}"
                ));
                continue;
            }
            let decided_by = match expect.and_then(|e| e.get("decided_by")) {
                None => None,
                Some(v) => match v.as_str() {
                    Some(l) if LAYERS.contains(&l) => Some(l.to_owned()),
                    _ => {
                        errors.push(format!(
                            "{at} `{name}`: expect.decided_by must be one of {LAYERS:?}"
                        ));
                        continue;
                    }
                },
            };
            let refused_by = match expect.and_then(|e| e.get("refused_by")) {
                None => None,
                Some(v) => match v.as_str() {
                    Some(n)
                        if latch_policy::protected::PROTECTIONS
                            .iter()
                            .any(|p| p.name == n) =>
                    {
                        Some(n.to_owned())
                    }
                    _ => {
                        errors.push(format!(
                            "{at} `{name}`: expect.refused_by must name a protection of latch_policy::protected::PROTECTIONS"
                        ));
                        continue;
                    }
                },
            };
            entries.push(Entry {
                file: file.clone(),
                name: name.to_owned(),
                rule: rule.to_owned(),
                case: case.clone(),
                decision: decision.to_owned(),
                decided_by,
                rejected_at: None,
                refused_by,
            });
        }
    }
    entries
}

/// The services RCPs govern, from the catalog's data (the single source; `latch eval` hands
/// the same list to the engine).
fn rcp_services() -> latch_policy::RcpServices {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalog/data/catalog.json");
    let text = std::fs::read_to_string(&path).expect("the catalog data is readable");
    let data: Value = serde_json::from_str(&text).expect("the catalog data is JSON");
    let list = data["rcp_supported_services"]
        .as_array()
        .expect("rcp_supported_services is a list");
    latch_policy::RcpServices::new(list.iter().map(|s| s.as_str().expect("a service prefix")))
}

fn explanation(result: &Value) -> String {
    let mut out = String::new();
    if let Some(r) = result.get("reason").and_then(Value::as_str) {
        let _ = write!(out, "reason: {r}");
    }
    if let Some(s) = result.get("statements") {
        let _ = write!(out, "; statements: {s}");
    }
    if let Some(w) = result.get("warnings") {
        let _ = write!(out, "; warnings: {w}");
    }
    out
}

#[test]
fn corpus_matches_aws_documented_behaviour() {
    let mut errors = Vec::new();
    let entries = load(&mut errors);
    let mut failures = Vec::new();
    let rcp = rcp_services();
    for e in &entries {
        let result = latch_policy::case::evaluate_json_with(&e.case, &rcp);
        if let Some(at) = &e.rejected_at {
            match result {
                Err(err) if err.path == *at => {}
                Err(err) => failures.push(format!(
                    "{} ({}):\n    rule: {}\n    expected: rejected at {at}\n    got: error: {err}",
                    e.name, e.file, e.rule
                )),
                Ok(r) => failures.push(format!(
                    "{} ({}):\n    rule: {}\n    expected: rejected at {at}\n    got: {}",
                    e.name,
                    e.file,
                    e.rule,
                    r.get("decision")
                        .and_then(Value::as_str)
                        .unwrap_or("<none>")
                )),
            }
            continue;
        }
        let result = match result {
            Ok(r) => r,
            Err(err) => {
                failures.push(format!(
                    "{} ({}):\n    rule: {}\n    expected: {}\n    got: error: {err}",
                    e.name, e.file, e.rule, e.decision
                ));
                continue;
            }
        };
        let got = result
            .get("decision")
            .and_then(Value::as_str)
            .unwrap_or("<none>");
        let got_by = result.get("decided_by").and_then(Value::as_str);
        let decision_ok = got == e.decision;
        let layer_ok = e
            .decided_by
            .as_deref()
            .is_none_or(|want| got_by == Some(want));
        let got_refused = result.get("refused_by").and_then(Value::as_str);
        let refused_ok = got_refused == e.refused_by.as_deref();
        if !(decision_ok && layer_ok && refused_ok) {
            let mut want = match &e.decided_by {
                Some(l) => format!("{} by {l}", e.decision),
                None => e.decision.clone(),
            };
            match &e.refused_by {
                Some(p) => want.push_str(&format!(", refused by protection `{p}`")),
                None if got_refused.is_some() => want.push_str(", no protection"),
                None => {}
            }
            failures.push(format!(
                "{} ({}):\n    rule: {}\n    expected: {want}\n    got: {got} by {}\n    {}",
                e.name,
                e.file,
                e.rule,
                got_by.unwrap_or("<none>"),
                explanation(&result)
            ));
        }
    }
    let mut report = String::new();
    if !errors.is_empty() {
        let _ = writeln!(report, "{} malformed corpus entries:", errors.len());
        for err in &errors {
            let _ = writeln!(report, "  {err}");
        }
    }
    if !failures.is_empty() {
        let _ = writeln!(
            report,
            "{} of {} corpus cases disagree with the engine:",
            failures.len(),
            entries.len()
        );
        for f in &failures {
            let _ = writeln!(report, "  {f}");
        }
    }
    if !report.is_empty() {
        eprintln!("{report}");
        panic!(
            "corpus: {} malformed entries, {} failing cases (details above)",
            errors.len(),
            failures.len()
        );
    }
    println!("corpus: {} cases pass", entries.len());
}

#[test]
fn corpus_is_large_enough_and_well_formed() {
    let mut errors = Vec::new();
    let entries = load(&mut errors);
    assert!(
        errors.is_empty(),
        "malformed corpus entries:\n{}",
        errors.join("\n")
    );
    assert!(
        entries.len() >= MIN_CASES,
        "corpus holds {} cases; at least {MIN_CASES} required",
        entries.len()
    );
    for want in DECISIONS {
        assert!(
            entries.iter().any(|e| e.decision == want),
            "no corpus case expects {want}"
        );
    }
}
