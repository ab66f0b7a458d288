//! The example organization (`examples/org`), built into the binary so that `latch scan`
//! works from any folder: written out once to a cache folder when the current folder has none.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

include!(concat!(env!("OUT_DIR"), "/example_org.rs"));

/// The folder `latch scan` reads by default, relative to the current folder.
pub(crate) const DEFAULT: &str = "examples/org";

/// `examples/org` when the current folder has it; otherwise the built-in copy, written out
/// under the system's temporary directory (where the example's generated CloudTrail is cached
/// too) on first use, with one line on standard error saying so.
pub(crate) fn default_snapshot() -> anyhow::Result<PathBuf> {
    let local = PathBuf::from(DEFAULT);
    if local.is_dir() {
        return Ok(local);
    }
    let dir = write_out(&std::env::temp_dir())?;
    #[expect(clippy::print_stderr, reason = "say which snapshot is scanned")]
    {
        eprintln!(
            "no {DEFAULT} in the current folder: using the built-in example organization ({})",
            dir.display()
        );
    }
    Ok(dir)
}

/// Writes the example under `cache` (once per version of it) and returns its folder, whose
/// path ends in `examples/org` as the repository's does.
fn write_out(cache: &Path) -> anyhow::Result<PathBuf> {
    let root = cache.join(format!("latch-example-org-{HASH:016x}"));
    let dir = root.join(DEFAULT);
    if dir.is_dir() {
        return Ok(dir);
    }
    // Written beside it and moved in place whole, so a reader never sees half of it.
    let partial = cache.join(format!(
        "latch-example-org-{HASH:016x}.partial-{}",
        std::process::id()
    ));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("cannot clear `{}`", partial.display()))?;
    }
    for (name, bytes) in FILES {
        let path = name
            .split('/')
            .fold(partial.join(DEFAULT), |p, part| p.join(part));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::write(&path, bytes)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    if let Err(e) = std::fs::rename(&partial, &root) {
        // Another latch wrote it at the same time: theirs is as good.
        let _ = std::fs::remove_dir_all(&partial);
        if !dir.is_dir() {
            return Err(e)
                .with_context(|| format!("cannot move the example to `{}`", root.display()));
        }
    }
    Ok(dir)
}
