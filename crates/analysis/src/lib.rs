//! Analysis of an organization's permissions, built on the policy engine and the catalog.
//!
//! **Architecture invariant:** no IO, no clock. Inputs are parsed policy documents; outputs
//! are data with explanations.

pub mod actionset;
pub mod blast;
pub mod effective;
pub mod escalation;
pub mod guide;
mod parallel;
pub mod report;
pub mod scan;
pub mod usage;

pub use actionset::ActionSet;
pub use effective::{
    combine, effective_permissions, EffectivePermissions, PolicyActions, PrincipalPolicies,
};
pub use escalation::{escalation_paths, EscalationPath, EscalationReport};
pub use usage::{idle_evidence, IdleEvidence, Observability, UnknownReason, UnknownUsage, Usage};
