//! The crate's only IO: reading a `cloudtrail/` directory into a [`UsageTable`] and writing
//! generated logs.
//!
//! Layout (as CloudTrail writes it to S3, any prefix above `AWSLogs/`):
//! `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz`,
//! and for organization trails `AWSLogs/<org-id>/<account>/CloudTrail/…`. Every `.json.gz`
//! and `.json` file under the directory is read, except those under `CloudTrail-Digest`
//! (integrity digests) and `CloudTrail-Insight` (insight events), which are not API calls.
//! Gzip is recognised by its magic bytes, not by the name.
//!
//! Files are read by a fixed number of threads, one file at a time each (memory is bounded
//! by the largest file times the thread count), each into its own [`Aggregator`]; the tables
//! are merged at the end, so the result does not depend on the order files are read in.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use flate2::read::MultiGzDecoder;

use crate::generate::{ActivityError, GeneratedFile, Options, Plan, Summary};
use crate::ingest::{Aggregator, ParseError, Window};
use crate::time::{Date, Timestamp, DAY};
use crate::usage::UsageTable;

/// Errors of the IO edge.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// The directory to read does not exist or cannot be listed.
    #[error("cannot read directory `{path}`: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A log file cannot be opened: missing, a folder, a symbolic link loop (the error names
    /// the file).
    #[error(transparent)]
    Input(#[from] latch_input::InputError),
    /// A log file cannot be read or decompressed.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A log file's content is not a CloudTrail log.
    #[error("`{path}`: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What and where.
        source: ParseError,
    },
    /// A generated file cannot be written.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The activity document is invalid.
    #[error(transparent)]
    Activity(#[from] ActivityError),
}

/// What to do with a file that cannot be read or parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnBadFile {
    /// List it in [`LoadReport::skipped`] and go on (the default). Nothing of it is counted.
    #[default]
    Skip,
    /// Stop and return its error.
    Fail,
}

/// How to load a directory.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Only events inside this window count.
    pub window: Window,
    /// The current time, from the caller: events later than it (by more than
    /// [`crate::evidence::TOLERANCE`]) are not believed. Events outside their file's day
    /// folder are not believed either ([`crate::evidence::event_bound`]). `None`: no clock
    /// bound.
    pub now: Option<Timestamp>,
    /// Worker threads; 0 means one per available core.
    pub threads: usize,
    /// What to do with bad files.
    pub on_bad_file: OnBadFile,
}

/// Progress, reported after each file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Files finished (read, skipped as bad, or failed).
    pub files_done: u64,
    /// Files to read (after the window pruned whole days).
    pub files_total: u64,
    /// Bytes on disk of the files finished.
    pub bytes_done: u64,
    /// Bytes on disk of all files to read.
    pub bytes_total: u64,
    /// Events inside the window so far.
    pub events: u64,
}

/// A file that was not counted, and why.
#[derive(Debug)]
pub struct SkippedFile {
    /// The file.
    pub path: PathBuf,
    /// Why (names the record when the problem is inside one).
    pub error: TrailError,
}

/// The result of loading a directory.
#[derive(Debug)]
pub struct LoadReport {
    /// The usage.
    pub usage: UsageTable,
    /// Log files found under the directory.
    pub files_found: u64,
    /// Files not opened because their day folder is outside the window.
    pub files_pruned: u64,
    /// Files read and counted.
    pub files_read: u64,
    /// Records read in counted files, inside the window or not.
    pub records: u64,
    /// Uncompressed bytes parsed.
    pub bytes_parsed: u64,
    /// Files that could not be read or parsed, sorted by path. Never silently dropped.
    pub skipped: Vec<SkippedFile>,
    /// Events ignored because their time lies outside what their file can hold
    /// ([`crate::evidence::event_bound`]).
    pub events_out_of_bounds: u64,
    /// The files that held such events, with how many, sorted by path.
    pub out_of_bounds: Vec<OutOfBounds>,
}

impl LoadReport {
    /// The numbers of this load.
    #[must_use]
    pub fn reading(&self) -> crate::evidence::Reading {
        crate::evidence::Reading {
            files_read: self.files_read,
            files_skipped: self.skipped.len() as u64,
            events_out_of_bounds: self.events_out_of_bounds,
        }
    }
}

/// A file holding events whose time lies outside what the file can hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfBounds {
    /// The file.
    pub path: PathBuf,
    /// Events of it that were ignored.
    pub events: u64,
}

/// A log file found by [`discover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// Its path.
    pub path: PathBuf,
    /// Its size on disk.
    pub size: u64,
    /// The day folder it is in (`…/YYYY/MM/DD/`), if the path has one.
    pub day: Option<Date>,
}

/// Lists the log files under `dir`, sorted by path.
///
/// # Errors
/// `dir` or a folder under it cannot be listed.
pub fn discover(dir: &Path) -> Result<Vec<LogFile>, TrailError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| TrailError::Dir {
            path: d.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| TrailError::Dir {
                path: d.clone(),
                source,
            })?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ft = entry.file_type().map_err(|source| TrailError::Dir {
                path: path.clone(),
                source,
            })?;
            if ft.is_dir() {
                if name != "CloudTrail-Digest" && name != "CloudTrail-Insight" {
                    stack.push(path);
                }
            } else if name.ends_with(".json.gz") || name.ends_with(".json") {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                let day = day_of(&path);
                out.push(LogFile { path, size, day });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The `YYYY/MM/DD` folders directly above a file.
fn day_of(path: &Path) -> Option<Date> {
    let mut parts = path.parent()?.iter().rev().map(|s| s.to_str());
    let d = parts.next()??;
    let m = parts.next()??;
    let y = parts.next()??;
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    Date::parse(&format!("{y}-{m}-{d}"))
}

/// Whether a file in day folder `day` can hold events inside `window`. CloudTrail files in a
/// day folder hold events of that day and, near midnight, a few minutes either side: a day
/// of slack on each side keeps every such event.
fn day_may_overlap(day: Date, window: &Window) -> bool {
    let start = day.start().0 - DAY;
    let end = day.start().0 + 2 * DAY;
    window.since.is_none_or(|s| end > s.0) && window.until.is_none_or(|u| start < u.0)
}

/// Reads every log file under `dir` into a usage table, in parallel.
///
/// `progress` is called (from worker threads) after each file.
///
/// # Errors
/// `dir` cannot be listed; with [`OnBadFile::Fail`], the first bad file (by path order among
/// those read before the stop).
pub fn load_dir(
    dir: &Path,
    opts: &LoadOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<LoadReport, TrailError> {
    let found = discover(dir)?;
    let files_found = found.len() as u64;
    let files: Vec<LogFile> = found
        .into_iter()
        .filter(|f| f.day.is_none_or(|d| day_may_overlap(d, &opts.window)))
        .collect();
    let files_pruned = files_found - files.len() as u64;
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.threads
    }
    .clamp(1, files.len().max(1));

    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let files_done = AtomicU64::new(0);
    let bytes_done = AtomicU64::new(0);
    let events = AtomicU64::new(0);
    let bytes_total: u64 = files.iter().map(|f| f.size).sum();
    let skipped = Mutex::new(Vec::new());
    let out_of_bounds = Mutex::new(Vec::new());

    struct WorkerResult {
        usage: UsageTable,
        files_read: u64,
        records: u64,
        bytes_parsed: u64,
    }

    let results: Vec<WorkerResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut agg = Aggregator::new();
                    let mut buf = Vec::new();
                    let mut r = WorkerResult {
                        usage: UsageTable::new(),
                        files_read: 0,
                        records: 0,
                        bytes_parsed: 0,
                    };
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else {
                            break;
                        };
                        let before = agg.events();
                        let bound = crate::evidence::event_bound(file.day, opts.now);
                        match read_file(&file.path, &mut buf).and_then(|()| {
                            agg.add_log_within(&buf, &opts.window, &bound)
                                .map_err(|source| TrailError::Parse {
                                    path: file.path.clone(),
                                    source,
                                })
                        }) {
                            Ok(stats) => {
                                r.files_read += 1;
                                r.records += stats.records;
                                r.bytes_parsed += buf.len() as u64;
                                if stats.out_of_bounds > 0 {
                                    if let Ok(mut o) = out_of_bounds.lock() {
                                        o.push(OutOfBounds {
                                            path: file.path.clone(),
                                            events: stats.out_of_bounds,
                                        });
                                    }
                                }
                            }
                            Err(error) => {
                                if opts.on_bad_file == OnBadFile::Fail {
                                    stop.store(true, Ordering::Relaxed);
                                }
                                if let Ok(mut s) = skipped.lock() {
                                    s.push(SkippedFile {
                                        path: file.path.clone(),
                                        error,
                                    });
                                }
                            }
                        }
                        let p = Progress {
                            files_done: files_done.fetch_add(1, Ordering::Relaxed) + 1,
                            files_total: files.len() as u64,
                            bytes_done: bytes_done.fetch_add(file.size, Ordering::Relaxed)
                                + file.size,
                            bytes_total,
                            events: events.fetch_add(agg.events() - before, Ordering::Relaxed)
                                + (agg.events() - before),
                        };
                        progress(&p);
                    }
                    r.usage = agg.into_table();
                    r
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });

    let mut skipped = skipped.into_inner().unwrap_or_default();
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    if opts.on_bad_file == OnBadFile::Fail && !skipped.is_empty() {
        let first = skipped.remove(0);
        return Err(first.error);
    }
    let mut out_of_bounds = out_of_bounds.into_inner().unwrap_or_default();
    out_of_bounds.sort_by(|a, b| a.path.cmp(&b.path));
    let mut report = LoadReport {
        usage: UsageTable::new(),
        files_found,
        files_pruned,
        files_read: 0,
        records: 0,
        bytes_parsed: 0,
        skipped,
        events_out_of_bounds: out_of_bounds.iter().map(|o| o.events).sum(),
        out_of_bounds,
    };
    for r in results {
        report.usage.merge(r.usage);
        report.files_read += r.files_read;
        report.records += r.records;
        report.bytes_parsed += r.bytes_parsed;
    }
    Ok(report)
}

/// Reads a file, decompressing gzip (recognised by its magic bytes), into `buf`.
fn read_file(path: &Path, buf: &mut Vec<u8>) -> Result<(), TrailError> {
    let err = |source| TrailError::Read {
        path: path.to_path_buf(),
        source,
    };
    buf.clear();
    let mut f = latch_input::open(path)?;
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut f, &mut magic).map_err(err)?;
    let head = magic.get(..n).unwrap_or_default();
    if head == [0x1f, 0x8b] {
        let mut d = MultiGzDecoder::new(io::Cursor::new(head).chain(f));
        d.read_to_end(buf).map_err(err)?;
    } else {
        buf.extend_from_slice(head);
        f.read_to_end(buf).map_err(err)?;
    }
    Ok(())
}

fn read_up_to(r: &mut impl Read, out: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < out.len() {
        match r.read(out.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Generates logs for `activity` under `out_dir/cloudtrail/`, gzip-compressed, days in
/// parallel. Returns what was written and the usage table it must read back into.
///
/// `progress` is called with `(days done, days total)`.
///
/// # Errors
/// An invalid activity document, or a file that cannot be written.
pub fn write_generated(
    out_dir: &Path,
    activity: &crate::generate::Activity,
    opts: &Options,
    threads: usize,
    progress: &(dyn Fn(u32, u32) + Sync),
) -> Result<Summary, TrailError> {
    let plan = Plan::new(activity)?;
    let root = out_dir.join("cloudtrail");
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    }
    .clamp(1, (opts.days as usize).max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Vec<Result<Summary, TrailError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut summary = Summary::default();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Ok(day) = u32::try_from(i) else { break };
                        if day >= opts.days {
                            break;
                        }
                        match plan.day(day, opts, &mut |f| write_gz(&root, &f)) {
                            Ok(s) => summary.merge(s),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                        let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                        progress(u32::try_from(d).unwrap_or(u32::MAX), opts.days);
                    }
                    Ok(summary)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut summary = Summary::default();
    for r in results {
        summary.merge(r?);
    }
    Ok(summary)
}

fn write_gz(root: &Path, f: &GeneratedFile) -> Result<(), TrailError> {
    use std::io::Write;
    let path = root.join(&f.path);
    let err = |source| TrailError::Write {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let file = std::fs::File::create(&path).map_err(err)?;
    let mut gz =
        flate2::write::GzEncoder::new(io::BufWriter::new(file), flate2::Compression::fast());
    gz.write_all(&f.json).map_err(err)?;
    gz.finish().and_then(|mut w| w.flush()).map_err(err)?;
    Ok(())
}
