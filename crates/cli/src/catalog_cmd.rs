//! `latch catalog ...`: look at the offline AWS action catalog.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context};
use latch_catalog::{AccessLevel, ActionInfo, Catalog, Category};
use serde_json::{json, Value};

/// Subcommands of `latch catalog`.
#[derive(Debug, clap::Subcommand)]
pub enum CatalogCommand {
    /// Counts: services, actions, access levels, sensitive actions per category, data date.
    Stats(StatsArgs),
    /// One action: service, access level, resource types with ARN templates, condition keys, sensitivity.
    Show(ShowArgs),
    /// The actions a wildcard pattern such as `iam:Put*`, `*:Get*` or `s3:Get?bject` matches.
    Expand(ExpandArgs),
    /// The actions classified as sensitive, with the reason for each.
    Sensitive(SensitiveArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns, for people.
    #[default]
    Table,
    /// JSON, for programs.
    Json,
}

/// Arguments of `latch catalog stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Arguments of `latch catalog show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The action, e.g. `iam:PassRole` (case does not matter).
    action: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Arguments of `latch catalog expand`.
#[derive(Debug, clap::Args)]
pub struct ExpandArgs {
    /// The pattern, e.g. `iam:Put*`.
    pattern: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Arguments of `latch catalog sensitive`.
#[derive(Debug, clap::Args)]
pub struct SensitiveArgs {
    /// Only this category: privilege-escalation, credential-access,
    /// data-exfiltration, resource-exposure, defense-evasion or destructive.
    #[arg(long, value_parser = parse_category)]
    category: Option<Category>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn parse_category(s: &str) -> Result<Category, String> {
    s.parse::<Category>().map_err(|e| e.to_string())
}

/// Runs a `latch catalog` subcommand.
pub fn run(cmd: CatalogCommand) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::get();
    let out = match cmd {
        CatalogCommand::Stats(args) => stats(catalog, args.format),
        CatalogCommand::Show(args) => show(catalog, &args.action, args.format)?,
        CatalogCommand::Expand(args) => expand(catalog, &args.pattern, args.format)?,
        CatalogCommand::Sensitive(args) => sensitive(catalog, args.category, args.format),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to standard output")?;
    Ok(ExitCode::SUCCESS)
}

fn stats(c: &Catalog, format: Format) -> String {
    let source = c.source();
    let levels: Vec<(AccessLevel, usize)> = AccessLevel::ALL
        .into_iter()
        .map(|l| {
            (
                l,
                c.actions().iter().filter(|a| a.access_level() == l).count(),
            )
        })
        .collect();
    let categories: Vec<(Category, usize)> = Category::ALL
        .into_iter()
        .map(|k| (k, c.sensitive_actions(Some(k)).len()))
        .collect();
    let sensitive = c.sensitive_actions(None).len();
    let resource_types: usize = c.services().iter().map(|s| s.resource_types().len()).sum();
    let condition_keys: usize = c.services().iter().map(|s| s.condition_keys().len()).sum();
    match format {
        Format::Json => to_json(&json!({
            "services": c.services().len(),
            "actions": c.actions().len(),
            "sensitive_actions": sensitive,
            "data_date": source.data_date,
            "source": {
                "package": source.package,
                "version": source.version,
                "license": source.license,
                "updated_at": source.updated_at,
            },
            "access_levels": levels.iter().map(|(l, n)| (l.as_str().to_owned(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "sensitive_by_category": categories.iter().map(|(k, n)| (k.as_str().to_owned(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "resource_types": resource_types,
            "condition_keys": condition_keys,
            "global_condition_keys": c.global_condition_keys().len(),
            "rcp_supported_services": c.rcp_supported_services().len(),
        })),
        Format::Table => {
            let mut rows: Vec<[String; 2]> = vec![
                ["data date".into(), source.data_date.clone()],
                [
                    "source".into(),
                    format!("{}@{} ({})", source.package, source.version, source.license),
                ],
                ["services".into(), c.services().len().to_string()],
                ["actions".into(), c.actions().len().to_string()],
            ];
            rows.extend(
                levels
                    .iter()
                    .map(|(l, n)| [format!("  {l}"), n.to_string()]),
            );
            rows.push(["resource types".into(), resource_types.to_string()]);
            rows.push(["condition keys".into(), condition_keys.to_string()]);
            rows.push([
                "global condition keys".into(),
                c.global_condition_keys().len().to_string(),
            ]);
            rows.push([
                "RCP-supported services".into(),
                c.rcp_supported_services().len().to_string(),
            ]);
            rows.push(["sensitive actions".into(), sensitive.to_string()]);
            rows.extend(
                categories
                    .iter()
                    .map(|(k, n)| [format!("  {k}"), n.to_string()]),
            );
            table(&[], &rows)
        }
    }
}

fn lookup<'c>(c: &'c Catalog, name: &str) -> anyhow::Result<&'c ActionInfo> {
    if let Some(action) = c.action(name) {
        return Ok(action);
    }
    if name.contains(['*', '?']) {
        bail!("`{name}` is a pattern, not an action\n  help: list what it matches with `latch catalog expand '{name}'`");
    }
    let unknown = c.unknown_actions([name]);
    match unknown.first() {
        Some(u) => bail!("{u}"),
        None => bail!("`{name}` is not an action in the catalog"),
    }
}

fn categories_of(c: &Catalog, a: &ActionInfo) -> String {
    let names: Vec<&str> = c
        .classifications(a.id())
        .iter()
        .map(|k| k.category.as_str())
        .collect();
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(",")
    }
}

fn show(c: &Catalog, name: &str, format: Format) -> anyhow::Result<String> {
    let a = lookup(c, name)?;
    let service = c.service_of(a).context("action without a service")?;
    let arn_of = |rt: &str| {
        service
            .resource_types()
            .iter()
            .find(|r| r.name == rt)
            .map(|r| r.arn.clone())
    };
    Ok(match format {
        Format::Json => to_json(&json!({
            "action": a.full_name(),
            "service": service.prefix(),
            "service_name": service.name(),
            "access_level": a.access_level().as_str(),
            "resource_types": a.resource_types().iter().map(|r| json!({
                "name": r.name,
                "required": r.required,
                "arn": arn_of(&r.name),
                "condition_keys": r.condition_keys,
            })).collect::<Vec<_>>(),
            "condition_keys": a.condition_keys(),
            "rcp_supported": service.rcp_supported(),
            "sensitivity": c.classifications(a.id()).iter().map(|k| json!({
                "category": k.category.as_str(),
                "reason": &*k.reason,
                "basis": k.basis.to_string(),
            })).collect::<Vec<_>>(),
        })),
        Format::Table => {
            let mut out = table(
                &[],
                &[
                    ["action".into(), a.full_name().into()],
                    [
                        "service".into(),
                        format!("{} ({})", service.prefix(), service.name()),
                    ],
                    ["access level".into(), a.access_level().to_string()],
                    [
                        "RCP-supported".into(),
                        if service.rcp_supported() { "yes" } else { "no" }.into(),
                    ],
                    [
                        "condition keys".into(),
                        if a.condition_keys().is_empty() {
                            "-".into()
                        } else {
                            a.condition_keys().join(", ")
                        },
                    ],
                ],
            );
            out.push('\n');
            if a.resource_types().is_empty() {
                out.push_str("resource types: none (the action takes \"Resource\": \"*\")\n");
            } else {
                let rows: Vec<[String; 4]> = a
                    .resource_types()
                    .iter()
                    .map(|r| {
                        [
                            r.name.clone(),
                            if r.required { "yes" } else { "no" }.into(),
                            arn_of(&r.name).unwrap_or_else(|| "-".into()),
                            if r.condition_keys.is_empty() {
                                "-".into()
                            } else {
                                r.condition_keys.join(", ")
                            },
                        ]
                    })
                    .collect();
                out.push_str(&table(
                    &["RESOURCE TYPE", "REQUIRED", "ARN", "CONDITION KEYS"],
                    &rows,
                ));
            }
            out.push('\n');
            let classes = c.classifications(a.id());
            if classes.is_empty() {
                out.push_str("sensitivity: none\n");
            } else {
                let rows: Vec<[String; 3]> = classes
                    .iter()
                    .map(|k| {
                        [
                            k.category.to_string(),
                            k.reason.to_string(),
                            k.basis.to_string(),
                        ]
                    })
                    .collect();
                out.push_str(&table(&["CATEGORY", "REASON", "BASIS"], &rows));
            }
            out
        }
    })
}

fn expand(c: &Catalog, pattern: &str, format: Format) -> anyhow::Result<String> {
    let actions = c.expand(pattern);
    if actions.is_empty() {
        match c.unknown_actions([pattern]).first() {
            Some(u) => bail!("{u}"),
            None => bail!("`{pattern}` matches no action"),
        }
    }
    Ok(match format {
        Format::Json => to_json(&json!({
            "pattern": pattern,
            "count": actions.len(),
            "actions": actions.iter().map(|a| json!({
                "action": a.full_name(),
                "access_level": a.access_level().as_str(),
                "sensitivity": c.classifications(a.id()).iter().map(|k| k.category.as_str()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })),
        Format::Table => {
            let rows: Vec<[String; 3]> = actions
                .iter()
                .map(|a| {
                    [
                        a.full_name().to_owned(),
                        a.access_level().to_string(),
                        categories_of(c, a),
                    ]
                })
                .collect();
            let mut out = table(&["ACTION", "ACCESS LEVEL", "SENSITIVITY"], &rows);
            out.push_str(&format!("{} actions match `{pattern}`\n", actions.len()));
            out
        }
    })
}

fn sensitive(c: &Catalog, category: Option<Category>, format: Format) -> String {
    let actions = c.sensitive_actions(category);
    let rows: Vec<(&ActionInfo, Vec<&latch_catalog::Classification>)> = actions
        .iter()
        .map(|a| {
            let classes = c
                .classifications(a.id())
                .iter()
                .filter(|k| category.is_none_or(|want| k.category == want))
                .collect();
            (*a, classes)
        })
        .collect();
    match format {
        Format::Json => to_json(&json!({
            "category": category.map(Category::as_str),
            "count": rows.len(),
            "actions": rows.iter().map(|(a, classes)| json!({
                "action": a.full_name(),
                "access_level": a.access_level().as_str(),
                "classifications": classes.iter().map(|k| json!({
                    "category": k.category.as_str(),
                    "reason": &*k.reason,
                    "basis": k.basis.to_string(),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })),
        Format::Table => {
            let mut lines: Vec<[String; 4]> = Vec::new();
            for (a, classes) in &rows {
                for k in classes {
                    lines.push([
                        a.full_name().to_owned(),
                        a.access_level().to_string(),
                        k.category.to_string(),
                        k.reason.to_string(),
                    ]);
                }
            }
            let mut out = table(&["ACTION", "ACCESS LEVEL", "CATEGORY", "REASON"], &lines);
            out.push_str(&format!("{} sensitive actions", rows.len()));
            if let Some(k) = category {
                out.push_str(&format!(" in {k}"));
            }
            out.push('\n');
            out
        }
    }
}

fn to_json(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".to_owned());
    s.push('\n');
    s
}

/// Left-aligned columns separated by two spaces; the last column is not
/// padded. An empty header prints no header line.
fn table<const N: usize>(header: &[&str], rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for (w, h) in widths.iter_mut().zip(header) {
        *w = h.chars().count();
    }
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.zip(widths).enumerate() {
            if i + 1 < N {
                text.push_str(&format!("{cell:<w$}  "));
            } else {
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    if !header.is_empty() {
        line(&mut header.iter().copied());
    }
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "BB"],
            &[
                ["x".to_owned(), "1".to_owned()],
                ["long".to_owned(), "2".to_owned()],
            ],
        );
        assert_eq!(t, "A     BB\nx     1\nlong  2\n");
    }

    #[test]
    fn stats_json_has_the_documented_fields() {
        let v: Value = serde_json::from_str(&stats(Catalog::get(), Format::Json)).unwrap();
        assert_eq!(v["services"], 456);
        assert_eq!(v["actions"], 22_091);
        assert!(v["sensitive_actions"].as_u64().unwrap() > 0);
        assert_eq!(v["data_date"], "2026-09-26");
    }

    #[test]
    fn unknown_action_is_an_error_with_a_suggestion() {
        let err = show(Catalog::get(), "iam:PasRole", Format::Table)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`iam:PasRole`") && err.contains("`iam:PassRole`"),
            "{err}"
        );
        let err = show(Catalog::get(), "iam:Pass*", Format::Table)
            .unwrap_err()
            .to_string();
        assert!(err.contains("latch catalog expand"), "{err}");
        let err = expand(Catalog::get(), "s3:Nothing*", Format::Json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("matches no action"), "{err}");
    }

    #[test]
    fn category_parsing_names_the_choices() {
        let err = parse_category("sneaky").unwrap_err();
        assert!(err.contains("privilege-escalation"), "{err}");
        assert_eq!(
            parse_category("destructive").unwrap(),
            Category::Destructive
        );
    }
}
