//! The installed binary: `latch scan` from any folder (the built-in example organization),
//! `latch --version`, `latch completions` and `latch man`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::Command;

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Runs latch in `cwd` with the system's temporary directory (where latch caches the example)
/// and HOME pointed at `cache` and `home`.
fn latch_in(cwd: &Path, cache: &Path, home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .current_dir(cwd)
        .env("TMPDIR", cache)
        .env("HOME", home)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn latch(args: &[&str]) -> (i32, String, String) {
    let tmp = std::env::temp_dir();
    latch_in(Path::new(REPO), &tmp, &tmp, args)
}

#[test]
fn scan_without_arguments_outside_the_repository_scans_the_built_in_example() {
    let cwd = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();

    let (code, out, err) = latch_in(cwd.path(), cache.path(), home.path(), &["scan"]);
    assert_eq!(code, 0, "{err}");
    // One line says where the example came from.
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("built-in example organization"))
        .collect();
    assert_eq!(said.len(), 1, "{err}");
    let copy = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("latch-example-org-")
        })
        .expect("the example is written under the temporary directory");
    let copy = copy.join("examples/org");
    assert!(said[0].contains(&copy.display().to_string()), "{err}");
    assert!(copy.join("organization.json").is_file());
    assert!(copy.join("accounts/100000000001/gaad.json").is_file());
    // Nothing written into the current folder.
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);

    // The example's findings, with its generated CloudTrail.
    assert!(
        out.contains("7 accounts, 4 OUs, 5 users, 40 roles"),
        "{out}"
    );
    assert!(out.contains("CloudTrail: 711 files"), "{out}");
    assert!(out.contains("user/breakglass"), "{out}");
    assert!(out.contains("escalation-path"), "{out}");

    // The same report as a scan of the repository's examples/org (reading the CloudTrail the
    // first run generated into the same cache).
    let (code, in_repo, err) = latch_in(Path::new(REPO), cache.path(), home.path(), &["scan"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("built-in"), "{err}");
    assert_eq!(out, in_repo);
}

#[test]
fn an_explicit_missing_snapshot_is_an_error_naming_it() {
    let cwd = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (code, out, err) = latch_in(
        cwd.path(),
        cache.path(),
        cache.path(),
        &["scan", "--snapshot", "examples/org"],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("snapshot directory `examples/org` does not exist"),
        "{err}"
    );
    assert!(!err.contains("built-in"), "{err}");
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
}

#[test]
fn version_names_the_commit() {
    let (code, out, err) = latch(&["--version"]);
    assert_eq!(code, 0, "{err}");
    let (code, short, _) = latch(&["-V"]);
    assert_eq!(code, 0);
    assert_eq!(out, short);
    let line = out.trim_end();
    let rest = line
        .strip_prefix(concat!("latch ", env!("CARGO_PKG_VERSION"), " (commit "))
        .unwrap_or_else(|| panic!("{line}"));
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(REPO)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_owned());
    match head {
        Some(head) => {
            let (commit, date) = rest
                .strip_suffix(')')
                .and_then(|r| r.split_once(", "))
                .unwrap_or_else(|| panic!("{line}"));
            assert!(commit.len() >= 7, "{line}");
            assert!(commit.chars().all(|c| c.is_ascii_hexdigit()), "{line}");
            assert!(head.starts_with(commit), "{line} is not HEAD {head}");
            let date: Vec<&str> = date.split('-').collect();
            assert_eq!(
                date.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [4, 2, 2],
                "{line}"
            );
        }
        None => assert_eq!(rest, "unknown)", "{line}"),
    }
}

#[test]
fn completions_print_a_script_for_each_shell() {
    let (code, bash, err) = latch(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    assert!(bash.contains("_latch()"), "{bash}");
    assert!(bash.contains("complete -F _latch"), "{bash}");
    assert!(bash.contains("scan"), "{bash}");
    let (code, zsh, err) = latch(&["completions", "zsh"]);
    assert_eq!(code, 0, "{err}");
    assert!(zsh.starts_with("#compdef latch"), "{zsh}");
    for shell in ["fish", "elvish", "powershell"] {
        let (code, out, err) = latch(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains("latch"), "{shell}: {out}");
    }
    let (code, _, err) = latch(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{err}");
    let (code, help, _) = latch(&["completions", "--help"]);
    assert_eq!(code, 0);
    assert!(help.contains("latch completions bash >"), "{help}");
    assert!(help.contains("latch completions zsh >"), "{help}");
}

#[test]
fn man_prints_the_page_of_latch() {
    let (code, out, err) = latch(&["man"]);
    assert_eq!(code, 0, "{err}");
    // Before the title, only roff's definition of the apostrophe.
    let lines: Vec<&str> = out.lines().collect();
    let title = lines
        .iter()
        .position(|l| l.starts_with(".TH "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        lines[..title]
            .iter()
            .all(|l| l.starts_with(".ie ") || l.starts_with(".el ")),
        "{out}"
    );
    assert!(lines[title].starts_with(".TH latch 1"), "{out}");
    assert!(out.contains("scan"), "{out}");
}

#[test]
fn man_out_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let (code, out, err) = latch(&["man", "--out", pages.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("manual pages"), "{out}");
    for (file, title) in [
        ("latch.1", ".TH latch 1"),
        ("latch-scan.1", ".TH latch-scan 1"),
        ("latch-catalog-show.1", ".TH latch-catalog-show 1"),
    ] {
        let text =
            std::fs::read_to_string(pages.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(text.contains(title), "{file}: {text}");
    }
    assert!(pages.join("latch-completions.1").is_file());
    assert!(!pages.join("latch-help.1").exists());
}

/// The subcommands a `--help` lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A description that wraps goes on indented further.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command's `--help`, walked from `latch --help` down: its examples are shown one per
/// line, as written (not run together into one paragraph), so that each can be copied.
#[test]
fn every_help_shows_its_examples_one_per_line() {
    let mut todo: Vec<Vec<String>> = vec![Vec::new()];
    let mut seen = 0;
    let mut with_examples = 0;
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let (code, help, err) = latch(&args);
        assert_eq!(code, 0, "latch {}: {err}", args.join(" "));
        seen += 1;
        for line in help.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("Example") {
                assert!(
                    trimmed.matches("latch ").count() <= 1,
                    "latch {}: examples run together: {line}",
                    args.join(" ")
                );
            }
        }
        if help.contains("Example") {
            with_examples += 1;
        }
        for sub in subcommands(&help) {
            let mut next = path.clone();
            next.push(sub);
            todo.push(next);
        }
    }
    assert!(seen > 30, "only {seen} commands walked");
    assert!(
        with_examples > 20,
        "only {with_examples} commands have examples"
    );
}
