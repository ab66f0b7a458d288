//! The firewall planner: from a snapshot, CloudTrail usage and `latch.toml` to the native AWS
//! guardrails — SCPs, RCPs and tags — packed within AWS's limits, with a replay of observed
//! activity that shows what the plan would break before anything is enforced.
//!
//! The pipeline ([`plan::build`]):
//! 1. [`config`] — the configuration, validated against the catalog (errors name the key);
//! 2. [`generate`] — the intent: rules of each layer ([`intent::Rule`]: tamper protection,
//!    zombie quarantine, permission bundles, region restriction, service quarantine), the
//!    tags to put on identities and every exemption with why (protect mode keeps what was used);
//! 3. [`pack`] — merge, compress, fill policies up to the character limit of their type and
//!    place at most the per-target limit of each type on a node (AWS's quotas,
//!    [`latch_catalog::Limits`], or lower ones from the configuration), pushing down to
//!    children when a node is full;
//! 4. [`simulate`] — every observed call replayed by the engine against today's and the
//!    planned policies;
//! 5. [`plan`] — the `latch.plan/v1` document the AWS adapter applies (docs/plan-format.md);
//!    [`terraform`] renders it as Terraform.
//!
//! **Architecture invariant:** no IO and no clock: the snapshot, the usage table and the as-of
//! date come in as arguments; the same inputs give the same bytes.

pub mod config;
pub mod generate;
pub mod intent;
pub mod org;
pub mod pack;
pub mod plan;
pub mod prove;
pub mod simulate;
pub mod terraform;

pub use config::{Config, ConfigError, Mode};
pub use generate::{generate, IdentityCenterGrant, Intent, PlanInput, UsageWindow};
pub use latch_catalog::Limits;
pub use pack::{pack, PackError, PackedPolicy};
pub use plan::{build, Built, Plan, PlanError};
pub use simulate::{simulate, BrokenCall, Simulation};
