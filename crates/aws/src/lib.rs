//! Latch's adapter to AWS — the only crate of the workspace that talks to AWS (through the
//! official AWS SDK for Rust).
//!
//! - [`collect()`]: read the organization (tree, SCPs/RCPs), every member account's IAM
//!   (`GetAccountAuthorizationDetails`, through an assumed role) and CloudTrail log files from
//!   S3, and write a snapshot directory that `latch_model::load::snapshot` reads; with
//!   [`identity_center`], IAM Identity Center's permission sets, assignments and people.
//! - [`apply`]: make the organization match a firewall plan (`plan.json`,
//!   `latch.plan/v1`): [`apply::plan_changes`] computes the diff in a safe order,
//!   [`apply::execute`] carries it out and records it in `applied.json`.
//! - [`drift`]: compare the organization with the plan and the known grants, repair it;
//!   the emergency stop that detaches every Latch policy.
//! - [`grants`]: the IAM operations behind a permissions-on-demand grant (grant tags, session
//!   cut-off); [`userid`]: grants to Identity Center users (`aws:userid` exemptions in the
//!   applied Latch SCPs); [`AwsCloud`] offers both to the control plane as its `CloudAdapter`.
//! - [`directory`]: IAM Identity Center's people, groups and the `AWSReservedSSO_*` roles
//!   they reach, as the control plane's `DirectorySource` ([`IdentityCenterDirectory`]).
//! - [`checkpoint`]: the server's signed audit checkpoints as S3 objects under object lock.
//!
//! Conventions: the default credential chain, `--profile`, `--region`, `--endpoint-url`
//! ([`AwsOptions`]); bounded concurrency across accounts; retries with exponential backoff on
//! throttling (disabled with `max_attempts = 1`); AWS Organizations policy writes paced to
//! AWS's published rate through one entry point ([`pacing`], [`Aws::org_write`]); progress
//! through [`Progress`], never printed here; one unreachable account is reported, never fatal.
//!
//! Latch only ever changes policies named `latch-*` **and** tagged `latch:managed=true`, and
//! only `latch:*` tags on users and roles.

pub mod apply;
pub mod calls;
pub mod checkpoint;
pub mod cloud;
pub mod cloudtrail;
pub mod collect;
pub mod connect;
pub mod credential_report;
pub mod directory;
pub mod drift;
pub mod error;
pub mod gaad;
pub mod grants;
pub mod identity_center;
pub mod last_accessed;
pub mod org;
pub mod pacing;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod userid;
pub mod workloads;

pub use apply::{AccountAccess, Change};
pub use cloud::AwsCloud;
pub use cloudtrail::CloudTrailSource;
pub use collect::{collect, CollectConfig, CollectReport, WorkloadRegions};
pub use connect::{Aws, AwsOptions, DEFAULT_ROLE_NAME};
pub use directory::IdentityCenterDirectory;
pub use error::AwsError;
pub use plan::Plan;
pub use progress::{Progress, ProgressEvent, Silent};
pub use state::AppliedState;
