//! Usage from CloudTrail: which principal used which IAM action, when, and how often —
//! and which attempts were denied.
//!
//! - [`ingest`] parses log files (`{"Records": [...]}`) into an [`Aggregator`] and then a
//!   [`UsageTable`]. Pure: bytes in, table out.
//! - [`mapping`] is the one table from `eventSource`/`eventName`/`errorCode` to IAM actions
//!   and denials; [`record`] says who the caller was (the role, not the session; the person
//!   behind an Identity Center role as a separate dimension).
//! - [`passrole`] reads which role a call passed (CloudTrail never records `iam:PassRole`).
//! - [`resources`] reads which resource a call acted on, where its request names it (the
//!   role assumed, the Lambda function called), so that exemptions keep only those.
//! - [`usage`] is the table itself: mergeable, serialisable, sorted.
//! - [`evidence`] says what the table can be trusted for: the bound on an event's time (its
//!   file's day folder and the current time), and the per-account floor.
//! - [`generate`] synthesises realistic CloudTrail for a set of principals (seeded,
//!   deterministic), for the example organization and scale tests.
//! - [`fs`] is this crate's only IO: walking a `cloudtrail/` directory in the layout
//!   CloudTrail writes, decompressing and parsing files in parallel, and writing generated
//!   logs.
//!
//! The pure modules never read the clock: windows and end dates come in as arguments.

pub mod evidence;
pub mod fs;
pub mod generate;
pub mod ingest;
pub mod mapping;
pub mod passrole;
pub mod record;
pub mod resources;
mod scan;
pub mod time;
pub mod usage;

pub use ingest::{parse_log, Aggregator, FileStats, ParseError, Window};
pub use record::PrincipalKind;
pub use time::{Date, Timestamp};
pub use usage::{ActionUsage, Outcome, PrincipalUsage, UsageTable};
