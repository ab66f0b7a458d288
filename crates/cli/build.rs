//! Build script of the `latch` binary: embeds the example organization (`examples/org`), so
//! that `latch scan` works from any folder, and names the commit it was built from in
//! `latch --version`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    embed_example(&manifest, &out)?;
    version(&manifest);
    Ok(())
}

/// Writes `example_org.rs`: every file of `examples/org` (its path relative to that folder,
/// with `/`, and its bytes through `include_bytes!`), sorted by path, and a hash of them all
/// that names the folder the binary writes them to. The generated CloudTrail a folder may hold
/// (`examples/org/cloudtrail`) and hidden files are left out.
fn embed_example(manifest: &Path, out: &Path) -> Result<()> {
    let root = manifest
        .join("../../examples/org")
        .canonicalize()
        .map_err(|e| {
            format!("the example organization `examples/org` is needed to build latch: {e}")
        })?;
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, "", &mut files)?;
    files.sort();
    // FNV-1a over each path and its contents.
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut fnv = |bytes: &[u8]| {
        for b in bytes {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    let mut code = String::from(
        "/// Every file of the example organization: its path under `examples/org` and its bytes.\n\
         pub(crate) static FILES: &[(&str, &[u8])] = &[\n",
    );
    for (rel, path) in &files {
        let bytes = std::fs::read(path)?;
        fnv(rel.as_bytes());
        fnv(&[0]);
        fnv(&(bytes.len() as u64).to_le_bytes());
        fnv(&bytes);
        let path = path.to_str().ok_or("a path of examples/org is not UTF-8")?;
        writeln!(code, "    ({rel:?}, include_bytes!({path:?})),")?;
    }
    code.push_str("];\n\n");
    writeln!(
        code,
        "/// A hash of [`FILES`]: a new version of the example goes to a new folder.\n\
         pub(crate) const HASH: u64 = {hash:#018x};"
    )?;
    std::fs::write(out.join("example_org.rs"), code)?;
    Ok(())
}

fn walk(dir: &Path, prefix: &str, files: &mut Vec<(String, PathBuf)>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| format!("a file name of examples/org is not UTF-8: {n:?}"))?;
        if name.starts_with('.') || (prefix.is_empty() && name == "cloudtrail") {
            continue;
        }
        let rel = format!("{prefix}{name}");
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), &format!("{rel}/"), files)?;
        } else if kind.is_file() {
            files.push((rel, entry.path()));
        }
    }
    Ok(())
}

/// Sets `LATCH_VERSION`: `0.1.0 (commit 29975d6, 2026-12-07)`, or `0.1.0 (commit unknown)`
/// outside a git checkout, and asks cargo to run again when the checkout's HEAD moves.
fn version(manifest: &Path) {
    let pkg = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(manifest)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    let commit = git(&["rev-parse", "--short=7", "HEAD"]);
    let date = git(&["log", "-1", "--format=%cd", "--date=short", "HEAD"]);
    let version = match (commit, date) {
        (Some(commit), Some(date)) => format!("{pkg} (commit {commit}, {date})"),
        (Some(commit), None) => format!("{pkg} (commit {commit})"),
        _ => format!("{pkg} (commit unknown)"),
    };
    println!("cargo:rustc-env=LATCH_VERSION={version}");

    // The files that change when HEAD moves: HEAD itself (another branch checked out), the
    // branch's loose ref (a commit) or, for a packed ref, the folder it will be written to,
    // and packed-refs. Only existing paths: cargo reruns the script every time for a missing one.
    let mut watch = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch.push(git(&["rev-parse", "--git-path", &branch]));
        watch.push(git(&["rev-parse", "--git-path", "packed-refs"]));
        if let Some(reference) = git(&["rev-parse", "--git-path", &branch]) {
            let reference = manifest.join(reference);
            if !reference.exists() {
                watch.push(reference.parent().map(|p| p.display().to_string()));
            }
        }
    }
    for path in watch.into_iter().flatten() {
        let path = manifest.join(path);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
