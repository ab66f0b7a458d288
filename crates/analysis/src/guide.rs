//! What each finding and escalation technique means for the people who must act on it: what
//! it finds, why it is bad, an example, how to fix it, references.
//!
//! The text has one home: the module documentation of the rule or check that finds it, written
//! in fixed sections (`## What it finds`, `## Why it is bad`, `## Example`, `## How to fix`,
//! `## References`). It is embedded from those files at compile time and read here, so what a
//! reviewer reads in the code is what the console, the HTML report and SARIF show.

use serde::Serialize;

/// The guidance of one technique or kind of finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Guide {
    /// What it finds.
    pub finds: String,
    /// Why it is bad.
    pub why: String,
    /// An example, when the file gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// How to fix it.
    pub fix: String,
    /// Where to read more.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

/// Reads the guide out of a Rust source file's module documentation (`//!` lines). Text
/// before the first heading counts as "what it finds" when there is no such section. Rustdoc
/// links (``[`x`]``) are written as plain code spans; paragraphs are separated by a blank line.
pub(crate) fn parse(source: &str) -> Guide {
    let mut sections: Vec<(String, Vec<String>)> = vec![(String::new(), Vec::new())];
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("//!") else {
            if line.trim().is_empty() {
                continue;
            }
            break;
        };
        let text = rest.strip_prefix(' ').unwrap_or(rest);
        if let Some(heading) = text.strip_prefix("## ") {
            sections.push((heading.trim().to_ascii_lowercase(), Vec::new()));
        } else if let Some((_, lines)) = sections.last_mut() {
            lines.push(text.to_owned());
        }
    }
    let section = |name: &str| {
        sections
            .iter()
            .find(|(h, _)| h == name)
            .map(|(_, lines)| lines.as_slice())
    };
    let finds = section("what it finds").map(paragraphs).unwrap_or_else(|| {
        sections
            .first()
            .map(|(_, l)| paragraphs(l))
            .unwrap_or_default()
    });
    Guide {
        finds,
        why: section("why it is bad").map(paragraphs).unwrap_or_default(),
        example: section("example").map(paragraphs).filter(|e| !e.is_empty()),
        fix: section("how to fix").map(paragraphs).unwrap_or_default(),
        references: section("references").map(items).unwrap_or_default(),
    }
}

/// Lines joined into paragraphs: a blank line ends one.
fn paragraphs(lines: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in lines {
        let line = line.trim();
        if line.is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    plain(&out.join("\n\n"))
}

/// A Markdown list as its items, continuation lines joined to their item.
fn items(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        let trimmed = line.trim();
        if let Some(item) = trimmed.strip_prefix("- ") {
            out.push(item.to_owned());
        } else if !trimmed.is_empty() {
            if let Some(last) = out.last_mut() {
                last.push(' ');
                last.push_str(trimmed);
            } else {
                out.push(trimmed.to_owned());
            }
        }
    }
    out.iter()
        .map(|i| plain(i.trim_start_matches('<').trim_end_matches(['>', '.'])))
        .map(|i| i.replace(" <http", " http").replace(">;", ";"))
        .collect()
}

/// Rustdoc's intra-doc links (``[`a::B`]``) as code spans (`` `a::B` ``).
fn plain(text: &str) -> String {
    text.replace("[`", "`").replace("`]", "`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_read_in_any_order_with_paragraphs_and_items() {
        let g = parse(
            "//! Rule `x`: one line.\n//!\n//! ## What it finds\n//! A principal that\n//! may [`Act`].\n//!\n//! Second.\n//!\n//! ## How to fix\n//! Deny it.\n//!\n//! ## Why it is bad\n//! Because.\n//!\n//! ## References\n//! - One,\n//!   continued <https://example.com/a>.\n//! - Two.\n\nuse x;\n//! not docs\n",
        );
        assert_eq!(g.finds, "A principal that may `Act`.\n\nSecond.");
        assert_eq!(g.why, "Because.");
        assert_eq!(g.fix, "Deny it.");
        assert_eq!(g.example, None);
        assert_eq!(
            g.references,
            vec!["One, continued https://example.com/a", "Two"]
        );
    }

    #[test]
    fn without_a_finds_heading_the_preamble_is_what_it_finds() {
        let g = parse(
            "//! Unused keys: a key\n//! not used.\n//!\n//! ## How to fix\n//! Delete it.\n",
        );
        assert_eq!(g.finds, "Unused keys: a key not used.");
        assert_eq!(g.fix, "Delete it.");
        assert!(g.why.is_empty());
    }

    #[test]
    fn every_technique_and_kind_says_what_it_finds_why_it_is_bad_and_how_to_fix_it() {
        use crate::escalation::Technique;
        use crate::scan::FindingKind;
        for t in Technique::ALL {
            let g = t.guide();
            assert!(!g.finds.is_empty(), "{t}: no `What it finds`");
            assert!(!g.why.is_empty(), "{t}: no `Why it is bad`");
            assert!(!g.fix.is_empty(), "{t}: no `How to fix`");
            assert!(g.example.is_some(), "{t}: no `Example`");
            assert!(!g.references.is_empty(), "{t}: no `References`");
        }
        for k in FindingKind::ALL {
            let g = k.guide();
            let id = k.id();
            assert!(!g.finds.is_empty(), "{id}: no `What it finds`");
            assert!(!g.why.is_empty(), "{id}: no `Why it is bad`");
            assert!(!g.fix.is_empty(), "{id}: no `How to fix`");
        }
        // Each guide is its own file's: two rules with the same fix text would be a copy.
        assert_ne!(
            Technique::UpdateTrust.guide().fix,
            Technique::AssumeRole.guide().fix
        );
        assert!(Technique::UpdateTrust
            .guide()
            .fix
            .contains("iam:UpdateAssumeRolePolicy"));
        assert!(FindingKind::ZombieIdentity
            .guide()
            .fix
            .contains("quarantine"));
    }
}
