//! Files that hold secrets or evidence: written whole or not at all, readable by their owner
//! only.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Write `bytes` to `path`, readable and writable by the owner only (0600 whatever the umask),
/// atomically: into a temporary file in the same folder, renamed into place, so a reader never
/// sees half a file and a failure leaves any previous file as it was. With `replace` false an
/// existing file is an error and is left untouched.
///
/// # Errors
/// The folder cannot be written, the disk is full, or `path` exists and `replace` is false.
pub fn write_private(path: &Path, bytes: &[u8], replace: bool) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".latch-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in `{}`", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making `{}` private", tmp.path().display()))?;
    }
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing `{}`", path.display()))?;
    if replace {
        tmp.persist(path)
            .map_err(|e| e.error)
            .with_context(|| format!("writing `{}`", path.display()))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                anyhow::anyhow!(
                    "`{}` already exists: choose another file (it is not overwritten)",
                    path.display()
                )
            } else {
                anyhow::Error::new(e.error).context(format!("writing `{}`", path.display()))
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[cfg(unix)]
    #[test]
    fn private_whole_and_never_clobbered_unless_asked() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.txt");
        write_private(&path, b"one", false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let err = write_private(&path, b"two", false).unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        // Replacing a file others could read leaves a private one.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"three", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Nothing is left behind in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
