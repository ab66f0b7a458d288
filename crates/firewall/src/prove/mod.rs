//! Prove it: attack scenarios run by the engine against today's policies and against the
//! plan, on a concrete principal of the snapshot.
//!
//! A [`Scenario`] (a data file under `scenarios/` in the repository, embedded in the binary by
//! [`builtin`]) is a known privilege-escalation, persistence, defense-evasion or tamper
//! technique written as ordered requests; its **last step is the impact step** — the request
//! that, once allowed, gives the attacker what it wanted. [`prove`] picks the attacker (and the
//! principal the attack aims at) in the snapshot, evaluates every step with the engine twice —
//! today's SCPs/RCPs, and today's plus the plan's at their targets with the plan's tags put on
//! the principals — and says which `latch-*` statement denies each step.
//!
//! A scenario is **blocked** when a statement of the plan explicitly denies its impact step
//! (and, for a step with `deny_in`, a statement of each named kind — an SCP *and* an RCP for
//! session tags). A deny that only today's policies give, or a missing Allow, does not count:
//! the point is what the plan guarantees, whatever the attacker holds.
//!
//! Whether the scan **detects** the scenario before enforcement: for a scenario with an
//! escalation `technique`, whether the escalation analysis found that the attacker escalates
//! with it (the caller passes the pairs, [`detected_from`] builds them from
//! `latch_analysis::escalation_paths`); for the others, whether the attacker holds the impact
//! action in its effective permissions (identity ∩ boundary ∩ SCPs, over the catalog).
//!
//! Pure: no IO, no clock. Same inputs, same output.
//!
//! One concern a file: [`scenario`] (the scenario format, its checks and the built-in suite),
//! [`report`] (what a run reports), [`env`] (the evaluation environment: today's and the
//! plan's policies per account, the principals as the engine sees them) and [`run`] (picking
//! the attacker and target, evaluating the steps, judging blocked and detected).

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::Plan;
use crate::simulate::SimulateError;
use latch_analysis::escalation::{EscalationReport, GraphContext, GraphOptions, Technique};
use latch_catalog::Catalog;
use latch_contract::POLICY_NAME_PREFIX;
use latch_model::{ControlPolicy, Principal, Snapshot};
use latch_policy::compile::CPolicy;
use latch_policy::context::Context;
use latch_policy::document::Effect;
use latch_policy::{Decision, Layer, Policy, Request};
use serde::{Deserialize, Serialize};

mod env;
use env::*;
pub mod report;
mod run;
pub mod scenario;

pub use report::*;
pub use run::*;
pub use scenario::*;
