//! Reading the files people hand to Latch.
//!
//! Every loader (the snapshot's files, the plan directory, CloudTrail log files, the server and
//! firewall configurations, audit exports, evaluation cases) reads its file through this crate,
//! so a bad file gets the same message everywhere, naming the file and the problem:
//!
//! | what is at the path | message after the file name |
//! |---|---|
//! | nothing | `missing: no such file` |
//! | a directory | `a folder, not a file` |
//! | a file where a directory is expected ([`folder`]) | `a file, not a folder` |
//! | a symbolic link that never reaches a file | `a symbolic link loop: …` |
//! | a symbolic link to nothing | ``a symbolic link to `T`, which does not exist`` |
//! | UTF-16 or UTF-32 text | `UTF-16 text (little-endian byte-order mark FF FE): save it as UTF-8` |
//! | other bytes that are not UTF-8 | `not UTF-8: invalid byte 0xFF at byte offset 17 (line 2); save it as UTF-8` |
//! | nothing but white space | `empty: expected a JSON document` (what the loader expects) |
//!
//! A UTF-8 byte-order mark at the start is skipped: RFC 8259 lets a JSON parser ignore it,
//! TOML and CSV carry no meaning in it, and editors on Windows write one.
//!
//! [`decode`] and [`check_start`] are pure (bytes in, text or a [`Problem`] out), for parsers
//! and fuzz targets; [`read`], [`read_optional`], [`read_from`] and [`open`] do the IO.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The UTF-8 byte-order mark (U+FEFF encoded).
pub const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// What a file should hold. Names it in the "empty" message, and says whether an empty file
/// is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// One JSON document.
    Json,
    /// JSON Lines: one JSON document per line.
    JsonLines,
    /// A TOML document that must say something.
    Toml,
    /// A TOML document in which every key has a default: an empty file is valid.
    TomlOrEmpty,
    /// CSV with a header line.
    Csv,
}

impl Expected {
    /// "a JSON document", "CSV with a header line", …
    pub fn describe(self) -> &'static str {
        match self {
            Expected::Json => "a JSON document",
            Expected::JsonLines => "JSON Lines (one JSON document per line)",
            Expected::Toml | Expected::TomlOrEmpty => "a TOML document",
            Expected::Csv => "CSV with a header line",
        }
    }

    fn empty_ok(self) -> bool {
        matches!(self, Expected::TomlOrEmpty)
    }
}

/// What is wrong with a file.
#[derive(Debug)]
#[non_exhaustive]
pub enum Problem {
    /// Nothing at the path.
    Missing,
    /// A directory.
    Folder,
    /// A file where a directory was expected.
    NotAFolder,
    /// A symbolic link that resolves to itself (directly or through other links).
    LinkLoop,
    /// A symbolic link whose target does not exist.
    BrokenLink {
        /// Where the link points.
        target: PathBuf,
    },
    /// UTF-16 or UTF-32 text.
    WideText {
        /// `UTF-16` or `UTF-32`.
        encoding: &'static str,
        /// Big-endian (otherwise little-endian).
        big_endian: bool,
        /// Whether the file starts with a byte-order mark (otherwise NUL bytes between the
        /// characters gave it away).
        bom: bool,
    },
    /// Bytes that are not UTF-8.
    NotUtf8 {
        /// Offset of the first bad byte from the start of the file, 0-based.
        offset: usize,
        /// Its line, 1-based.
        line: usize,
        /// The byte.
        byte: u8,
    },
    /// Nothing but white space.
    Empty(Expected),
    /// Any other error of the operating system (permissions, a device error, …).
    Io(io::Error),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("missing: no such file"),
            Problem::Folder => f.write_str("a folder, not a file"),
            Problem::NotAFolder => f.write_str("a file, not a folder"),
            Problem::LinkLoop => {
                f.write_str("a symbolic link loop: following its links never reaches a file")
            }
            Problem::BrokenLink { target } => write!(
                f,
                "a symbolic link to `{}`, which does not exist",
                target.display()
            ),
            Problem::WideText {
                encoding,
                big_endian,
                bom,
            } => {
                let order = if *big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                };
                let how = match (bom, big_endian) {
                    (true, _) if *encoding == "UTF-32" && *big_endian => {
                        " byte-order mark 00 00 FE FF"
                    }
                    (true, _) if *encoding == "UTF-32" => " byte-order mark FF FE 00 00",
                    (true, true) => " byte-order mark FE FF",
                    (true, false) => " byte-order mark FF FE",
                    (false, _) => ", no byte-order mark: NUL bytes between the characters",
                };
                write!(f, "{encoding} text ({order}{how}): save it as UTF-8")
            }
            Problem::NotUtf8 { offset, line, byte } => write!(
                f,
                "not UTF-8: invalid byte 0x{byte:02X} at byte offset {offset} (line {line}); \
                 save it as UTF-8"
            ),
            Problem::Empty(expected) => write!(f, "empty: expected {}", expected.describe()),
            Problem::Io(e) => write!(f, "cannot read: {e}"),
        }
    }
}

/// A file that cannot be used, and why. Displays as `FILE: PROBLEM`.
#[derive(Debug)]
pub struct InputError {
    /// The file as given (`stdin` for standard input).
    pub file: PathBuf,
    /// What is wrong with it.
    pub problem: Problem,
}

impl InputError {
    /// `problem` in `file`.
    pub fn new(file: impl Into<PathBuf>, problem: Problem) -> InputError {
        InputError {
            file: file.into(),
            problem,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.problem)
    }
}

// No `source()`: the message already holds the OS error, and error chains would print it twice.
impl std::error::Error for InputError {}

/// Checks the start of a file's bytes without validating all of it as UTF-8: UTF-16/UTF-32
/// text and (unless `expected` allows it) an empty file are problems; a UTF-8 byte-order mark
/// is skipped. Returns the bytes after the mark.
///
/// For parsers that validate UTF-8 themselves as they go (the CloudTrail scanner); others use
/// [`decode`].
///
/// # Errors
/// [`Problem::WideText`] or [`Problem::Empty`].
pub fn check_start(bytes: &[u8], expected: Expected) -> Result<&[u8], Problem> {
    if let Some(p) = wide_text(bytes) {
        return Err(p);
    }
    let rest = bytes.strip_prefix(&UTF8_BOM[..]).unwrap_or(bytes);
    if !expected.empty_ok() && rest.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::Empty(expected));
    }
    Ok(rest)
}

/// Turns a file's bytes into text: [`check_start`], then the whole file must be UTF-8. The
/// UTF-8 byte-order mark, if any, is not part of the text.
///
/// # Errors
/// [`Problem::WideText`], [`Problem::Empty`] or [`Problem::NotUtf8`].
pub fn decode(bytes: Vec<u8>, expected: Expected) -> Result<String, Problem> {
    let bom = bytes.len() - check_start(&bytes, expected)?.len();
    let mut text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        not_utf8(e.as_bytes(), at)
    })?;
    text.drain(..bom);
    Ok(text)
}

/// [`Problem::NotUtf8`] for the byte at `offset` of `bytes`.
pub fn not_utf8(bytes: &[u8], offset: usize) -> Problem {
    let before = bytes.get(..offset).unwrap_or(bytes);
    Problem::NotUtf8 {
        offset,
        line: 1 + before.iter().filter(|&&b| b == b'\n').count(),
        byte: bytes.get(offset).copied().unwrap_or(0),
    }
}

/// UTF-16 or UTF-32 text, recognised by its byte-order mark or, without one, by a NUL byte
/// among the first two (never valid in JSON, TOML or CSV text).
fn wide_text(b: &[u8]) -> Option<Problem> {
    let (encoding, big_endian, bom) = match b {
        [0xFF, 0xFE, 0, 0, ..] => ("UTF-32", false, true),
        [0, 0, 0xFE, 0xFF, ..] => ("UTF-32", true, true),
        [0xFF, 0xFE, ..] => ("UTF-16", false, true),
        [0xFE, 0xFF, ..] => ("UTF-16", true, true),
        [a, 0, 0, 0, ..] if *a != 0 => ("UTF-32", false, false),
        [0, 0, 0, a, ..] if *a != 0 => ("UTF-32", true, false),
        [a, 0, ..] if *a != 0 => ("UTF-16", false, false),
        [0, a, ..] if *a != 0 => ("UTF-16", true, false),
        _ => return None,
    };
    Some(Problem::WideText {
        encoding,
        big_endian,
        bom,
    })
}

/// What an error of the operating system on `path` means for the person who named it:
/// missing, a folder, a link loop, a broken link, or the OS error itself.
pub fn io_problem(path: &Path, error: io::Error) -> Problem {
    if error.kind() == io::ErrorKind::NotFound {
        return match fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => Problem::BrokenLink {
                target: fs::read_link(path).unwrap_or_default(),
            },
            _ => Problem::Missing,
        };
    }
    if error.kind() == io::ErrorKind::IsADirectory || fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Problem::Folder;
    }
    if is_link_loop(&error) {
        return Problem::LinkLoop;
    }
    Problem::Io(error)
}

/// `ELOOP` (and Windows' "the name of the file cannot be resolved by the system").
fn is_link_loop(error: &io::Error) -> bool {
    let code = if cfg!(any(target_os = "linux", target_os = "android")) {
        Some(40)
    } else if cfg!(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    )) {
        Some(62)
    } else if cfg!(windows) {
        Some(1921)
    } else {
        None
    };
    code.is_some() && error.raw_os_error() == code
}

/// Opens a file for reading; a folder, a link loop or nothing at `path` is an error.
///
/// # Errors
/// An [`InputError`] naming `path`.
pub fn open(path: &Path) -> Result<fs::File, InputError> {
    let file = fs::File::open(path).map_err(|e| InputError::new(path, io_problem(path, e)))?;
    match file.metadata() {
        Ok(m) if m.is_dir() => Err(InputError::new(path, Problem::Folder)),
        _ => Ok(file),
    }
}

/// Reads a text file: see the [crate] documentation for what is checked.
///
/// # Errors
/// An [`InputError`] naming `path`.
pub fn read(path: &Path, expected: Expected) -> Result<String, InputError> {
    let mut file = open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| InputError::new(path, io_problem(path, e)))?;
    decode(bytes, expected).map_err(|p| InputError::new(path, p))
}

/// Reads an optional text file: `None` when there is nothing at all at `path` (a broken
/// symbolic link or a link loop is something, and an error).
///
/// # Errors
/// An [`InputError`] naming `path`.
pub fn read_optional(path: &Path, expected: Expected) -> Result<Option<String>, InputError> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        _ => read(path, expected).map(Some),
    }
}

/// Checks that `path` is a directory (following symbolic links).
///
/// # Errors
/// An [`InputError`] naming `path`: missing, a link loop or a broken link, or
/// [`Problem::NotAFolder`].
pub fn folder(path: &Path) -> Result<(), InputError> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(InputError::new(path, Problem::NotAFolder)),
        Err(e) => Err(InputError::new(path, io_problem(path, e))),
    }
}

/// Reads text from a stream (standard input); errors name it `name`.
///
/// # Errors
/// An [`InputError`] naming `name`.
pub fn read_from(
    reader: &mut dyn Read,
    name: &str,
    expected: Expected,
) -> Result<String, InputError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::new(name, Problem::Io(e)))?;
    decode(bytes, expected).map_err(|p| InputError::new(name, p))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn problem(bytes: &[u8], expected: Expected) -> String {
        decode(bytes.to_vec(), expected).unwrap_err().to_string()
    }

    #[test]
    fn a_utf8_byte_order_mark_is_skipped() {
        assert_eq!(
            decode(b"\xEF\xBB\xBF{}".to_vec(), Expected::Json).unwrap(),
            "{}"
        );
        assert_eq!(
            check_start(b"\xEF\xBB\xBF{}", Expected::Json).unwrap(),
            b"{}"
        );
        assert_eq!(decode(b"{}".to_vec(), Expected::Json).unwrap(), "{}");
        // Only at the start.
        assert_eq!(
            decode(b"{}\xEF\xBB\xBF".to_vec(), Expected::Json).unwrap(),
            "{}\u{FEFF}"
        );
    }

    #[test]
    fn wide_text_is_named_with_its_byte_order() {
        let le = problem(b"\xFF\xFE{\0}\0", Expected::Json);
        assert_eq!(
            le,
            "UTF-16 text (little-endian byte-order mark FF FE): save it as UTF-8"
        );
        assert!(problem(b"\xFE\xFF\0{\0}", Expected::Json).contains("UTF-16 text (big-endian"));
        assert!(problem(b"{\0}\0", Expected::Json).contains("UTF-16 text (little-endian, no"));
        assert!(problem(b"\0{\0}", Expected::Json).contains("UTF-16 text (big-endian, no"));
        assert!(problem(b"\xFF\xFE\0\0{\0\0\0", Expected::Json)
            .contains("UTF-32 text (little-endian byte-order mark FF FE 00 00)"));
        assert!(problem(b"\0\0\xFE\xFF", Expected::Json).contains("UTF-32 text (big-endian"));
        assert!(problem(b"{\0\0\0", Expected::Json).contains("UTF-32 text (little-endian, no"));
    }

    #[test]
    fn bad_bytes_name_offset_and_line() {
        assert_eq!(
            problem(b"{\n\"a\": \"\xC3\x28\"}", Expected::Json),
            "not UTF-8: invalid byte 0xC3 at byte offset 8 (line 2); save it as UTF-8"
        );
        // Offsets count the byte-order mark: they are offsets in the file.
        assert!(problem(b"\xEF\xBB\xBF\xFF", Expected::Json).contains("byte offset 3 (line 1)"));
        // A character cut at the end of the file.
        assert!(problem(b"ab\xE2\x82", Expected::Json).contains("0xE2 at byte offset 2"));
    }

    #[test]
    fn empty_depends_on_what_is_expected() {
        assert_eq!(
            problem(b"", Expected::Json),
            "empty: expected a JSON document"
        );
        assert_eq!(
            problem(b"\xEF\xBB\xBF \n\t\r\n", Expected::JsonLines),
            "empty: expected JSON Lines (one JSON document per line)"
        );
        assert_eq!(
            problem(b"", Expected::Csv),
            "empty: expected CSV with a header line"
        );
        assert_eq!(
            problem(b"\n", Expected::Toml),
            "empty: expected a TOML document"
        );
        assert_eq!(decode(Vec::new(), Expected::TomlOrEmpty).unwrap(), "");
        assert_eq!(
            decode(b"\xEF\xBB\xBF\n".to_vec(), Expected::TomlOrEmpty).unwrap(),
            "\n"
        );
    }

    #[test]
    fn files_name_what_is_at_the_path() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nope.json");
        let e = read(&missing, Expected::Json).unwrap_err();
        assert!(matches!(e.problem, Problem::Missing), "{e}");
        assert_eq!(
            e.to_string(),
            format!("{}: missing: no such file", missing.display())
        );
        assert!(read_optional(&missing, Expected::Json).unwrap().is_none());
        let e = read(&d.path().join("no/such/dir/x.json"), Expected::Json).unwrap_err();
        assert!(matches!(e.problem, Problem::Missing), "{e}");

        let e = read(d.path(), Expected::Json).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: a folder, not a file", d.path().display())
        );
        let e = read_optional(d.path(), Expected::Json).unwrap_err();
        assert!(matches!(e.problem, Problem::Folder), "{e}");
        assert!(matches!(
            open(d.path()).unwrap_err().problem,
            Problem::Folder
        ));

        let f = d.path().join("ok.json");
        fs::write(&f, "\u{FEFF}{\"a\": 1}").unwrap();
        assert_eq!(read(&f, Expected::Json).unwrap(), "{\"a\": 1}");
        assert_eq!(
            read_optional(&f, Expected::Json).unwrap().as_deref(),
            Some("{\"a\": 1}")
        );
        let e = folder(&f).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: a file, not a folder", f.display())
        );
        assert!(matches!(
            folder(&missing).unwrap_err().problem,
            Problem::Missing
        ));
        fs::write(&f, "").unwrap();
        let e = read(&f, Expected::Json).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: empty: expected a JSON document", f.display())
        );
    }

    #[cfg(unix)]
    #[test]
    fn links_that_lead_nowhere_are_named() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.json");
        let b = d.path().join("b.json");
        symlink(&b, &a).unwrap();
        symlink(&a, &b).unwrap();
        for e in [
            read(&a, Expected::Json).unwrap_err(),
            read_optional(&a, Expected::Json).unwrap_err(),
            open(&a).unwrap_err(),
        ] {
            assert!(matches!(e.problem, Problem::LinkLoop), "{e}");
            assert!(e
                .to_string()
                .starts_with(&format!("{}: a symbolic link loop", a.display())));
        }
        let dangling = d.path().join("dangling.json");
        symlink("gone.json", &dangling).unwrap();
        let e = read_optional(&dangling, Expected::Json).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: a symbolic link to `gone.json`, which does not exist",
                dangling.display()
            )
        );
        assert!(matches!(folder(&a).unwrap_err().problem, Problem::LinkLoop));
        // A link to a folder is a folder.
        let to_dir = d.path().join("dir.json");
        symlink(d.path(), &to_dir).unwrap();
        assert!(matches!(
            read(&to_dir, Expected::Json).unwrap_err().problem,
            Problem::Folder
        ));
    }

    #[test]
    fn a_stream_is_named_as_given() {
        let e = read_from(&mut &b"\xFF"[..], "stdin", Expected::Json).unwrap_err();
        assert!(e.to_string().starts_with("stdin: not UTF-8"), "{e}");
        assert_eq!(
            read_from(&mut &b"[1]"[..], "stdin", Expected::Json).unwrap(),
            "[1]"
        );
    }
}
