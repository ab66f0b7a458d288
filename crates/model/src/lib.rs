//! The organization snapshot: the org tree with its SCPs and RCPs, every account's users,
//! groups, roles and policies, and resource-based policies — and parsers for the AWS exports
//! they come from.
//!
//! Start at [`Snapshot`]: [`Snapshot::principals`] yields every user and role as a
//! [`Principal`], whose [`Principal::effective_policies`] gathers the identity policies
//! (inline, attached, via groups), the permissions boundary and the SCP/RCP chain from the root
//! to its account, ready for the engine ([`EffectivePolicies::to_policy_set`]).
//!
//! **Architecture invariant:** everything here is pure (text and JSON in, values out) except
//! the [`load`] module, the crate's one IO edge, which reads a snapshot directory. Nothing reads
//! the clock or the network.

pub mod account;
pub mod activity;
pub mod assemble;
pub mod credentials;
pub mod document;
pub mod error;
pub mod gaad;
pub mod generate;
pub mod identity_center;
mod json;
pub mod last_accessed;
pub mod load;
pub mod managed;
pub mod org;
pub mod orgfile;
pub mod principal;
pub mod resources;
pub mod snapshot;
pub mod trails;
pub mod workloads;

pub use account::{
    Account, Group, InlinePolicy, InstanceProfile, ManagedPolicy, PolicyOrigin, PolicyVersion,
    ResourceKind, ResourcePolicy, Role, RoleLastUsed, Tags, Timestamp, User,
};
pub use credentials::{AccessKey, CredentialReport, CredentialRow};
pub use document::PolicyDocument;
pub use error::FormatError;
pub use identity_center::IdentityCenter;
pub use org::{ControlPolicy, NodeKind, OrgNode, Organization};
pub use principal::{
    EffectivePolicies, OrgLevel, PolicySource, Principal, PrincipalKind, SourcedPolicy,
};
pub use snapshot::{Counts, Snapshot};
pub use trails::{Gap, Trails, Visibility};
