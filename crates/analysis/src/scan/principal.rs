//! One principal analysed once, for every check: its effective permissions through its whole
//! policy stack, the sensitive actions it holds, their use in three states and its last
//! activity from every source the snapshot has.
//!
//! Each policy document is expanded once and shared by every principal it applies to; the
//! SCPs of one level are combined once per level.

use std::collections::{BTreeMap, HashMap, HashSet};

use latch_model::{CredentialRow, PolicyDocument, Principal, Snapshot};
use latch_trail::{Timestamp, UsageTable};

use super::{Context, PrincipalReport};
use crate::effective::{combine, EffectivePermissions, PolicyActions};
use crate::usage::{last_accessed_advice, three_states, UnknownUsage};
use crate::ActionSet;

/// A principal's policy stack, as keys into [`Stacks`]' per-document cache.
pub(super) struct Stack<'s> {
    principal: Principal<'s>,
    identity: Vec<usize>,
    boundary: Option<usize>,
    scps: Vec<Vec<usize>>,
    unresolved: Vec<&'s str>,
}

/// Every principal's stack, with each document expanded once.
pub(super) struct Stacks<'s> {
    pub principals: Vec<Stack<'s>>,
    documents: HashMap<usize, PolicyActions>,
    levels: HashMap<Vec<usize>, PolicyActions>,
}

impl<'s> Stacks<'s> {
    /// The stacks of every principal of `snapshot`, their documents expanded over the
    /// available cores.
    pub fn of(snapshot: &'s Snapshot) -> Stacks<'s> {
        let mut docs: Vec<&PolicyDocument> = Vec::new();
        let mut listed: HashSet<usize> = HashSet::new();
        let mut key_of = |doc: &'s PolicyDocument| -> usize {
            let key = std::ptr::from_ref(doc) as usize;
            if listed.insert(key) {
                docs.push(doc);
            }
            key
        };
        let mut principals = Vec::new();
        for p in snapshot.principals() {
            let eff = p.effective_policies();
            let identity = eff.identity.iter().map(|s| key_of(s.document)).collect();
            let boundary = eff.boundary.map(|b| key_of(&b.document));
            let scps = eff
                .binding_scps()
                .iter()
                .map(|l| l.policies.iter().map(|c| key_of(&c.document)).collect())
                .collect();
            principals.push(Stack {
                principal: p,
                identity,
                boundary,
                scps,
                unresolved: eff.unresolved,
            });
        }
        let expanded = crate::parallel::in_parallel(&docs, |part| {
            part.iter().map(|d| PolicyActions::of(&d.policy)).collect()
        });
        let documents: HashMap<usize, PolicyActions> = docs
            .iter()
            .map(|d| std::ptr::from_ref(*d) as usize)
            .zip(expanded)
            .collect();
        // The SCPs of one level together, once per level rather than once per principal.
        let mut levels: HashMap<Vec<usize>, PolicyActions> = HashMap::new();
        for stack in &principals {
            for level in &stack.scps {
                if !levels.contains_key(level) {
                    let parts: Vec<&PolicyActions> =
                        level.iter().filter_map(|k| documents.get(k)).collect();
                    levels.insert(level.clone(), PolicyActions::union(&parts));
                }
            }
        }
        Stacks {
            principals,
            documents,
            levels,
        }
    }

    /// Analyses one principal: `admins` are the admin-equivalent principals of the
    /// escalation graph.
    pub fn analyse(
        &self,
        cx: &Context<'s>,
        stack: &Stack<'s>,
        admins: &HashSet<String>,
    ) -> Facts<'s> {
        let p = stack.principal;
        let get = |k: &usize| self.documents.get(k);
        let ids: Vec<&PolicyActions> = stack.identity.iter().filter_map(get).collect();
        let levels: Vec<Vec<&PolicyActions>> = stack
            .scps
            .iter()
            .map(|l| self.levels.get(l).into_iter().collect())
            .collect();
        let eff = combine(&ids, stack.boundary.as_ref().and_then(get), &levels, false);
        let mut held = eff.allowed.clone();
        held.intersect_with(&cx.sensitive);

        let usage = cx.usage_of(p.account_id());
        let window_start_s = cx.window_start_s;
        let pu = usage.and_then(|u| u.principals.get(p.arn()));
        let mut used = ActionSet::empty();
        if let Some(pu) = pu {
            for (name, au) in &pu.actions {
                let recent = au
                    .last_seen
                    .is_some_and(|t| t.seconds() >= window_start_s && au.count > 0);
                if recent {
                    if let Some(id) = cx.catalog.resolve(name) {
                        used.insert(id);
                    }
                }
            }
            // CloudTrail never records `iam:PassRole`, but a role-passing call that named a
            // role (`ec2:RunInstances` with an instance profile, `lambda:CreateFunction`, ...)
            // shows it was used: AWS checked it inside that call.
            let passed = pu.passed_roles.values().flatten().any(|(role, au)| {
                !role.is_empty()
                    && au.count > 0
                    && au.last_seen.is_some_and(|t| t.seconds() >= window_start_s)
            });
            if passed {
                if let Some(id) = cx.catalog.resolve("iam:PassRole") {
                    used.insert(id);
                }
            }
        }
        let role_last = p
            .as_role()
            .and_then(|r| r.last_used.as_ref())
            .and_then(|l| l.date.as_ref())
            .map(|t| t.epoch_millis);
        let trail_last = pu.and_then(|u| u.last_activity).map(|t| t.seconds() * 1000);
        // A user's credential report says when its password or keys were last used.
        let credentials = p.as_user().and_then(|_| {
            cx.snapshot
                .account(p.account_id())
                .and_then(|a| a.credential_report.as_ref())
                .and_then(|r| r.row(p.arn()))
        });
        let credential_last = credentials.and_then(CredentialRow::last_used);
        // IAM's last-accessed report of the identity: a second source of use.
        let advice = cx
            .snapshot
            .account(p.account_id())
            .and_then(|a| a.last_accessed.as_ref())
            .and_then(|l| l.principals.get(p.arn()))
            .map(|access| last_accessed_advice(access, window_start_s * 1000, cx.opts.now_millis));
        let advised_last = advice.as_ref().and_then(|a| a.last_activity_ms);
        let last_ms = role_last
            .max(trail_last)
            .max(credential_last)
            .max(advised_last);

        // Three states: used; not used where the trails would have shown a call; unknown where
        // they would not (data events not logged, ...) or never do (`iam:PassRole`). IAM's
        // last-accessed data, when the snapshot has it, settles some of the unknown ones
        // (`crate::usage::last_accessed_advice`).
        let states = usage.map(|_| {
            let states = three_states(&cx.obs, p.account_id(), &held, &used, advice.as_ref());
            States {
                unknown: cx.obs.explain(p.account_id(), &states.unknown),
                used: states.used,
                unused: states.unused,
                from_last_accessed: states.from_last_accessed,
            }
        });
        Facts {
            principal: p,
            admin_equivalent: admins.contains(p.arn()),
            eff,
            held,
            usage,
            states,
            last_ms,
            credentials,
            unresolved: stack.unresolved.clone(),
        }
    }
}

/// What the analysis of one principal established, for the checks to read.
pub(super) struct Facts<'s> {
    pub principal: Principal<'s>,
    /// Its effective permissions.
    pub eff: EffectivePermissions,
    /// The sensitive actions among what it may do.
    pub held: ActionSet,
    /// Admin-equivalent, by the escalation graph.
    pub admin_equivalent: bool,
    /// The usage of its account, when it counts.
    pub usage: Option<&'s UsageTable>,
    /// Its held actions in three states (`None` when usage was not analysed).
    pub states: Option<States>,
    /// Its last activity from every source, in milliseconds.
    pub last_ms: Option<i64>,
    /// Its row of the credential report (users).
    pub credentials: Option<&'s CredentialRow>,
    /// The managed policies of its stack the snapshot could not resolve.
    pub unresolved: Vec<&'s str>,
}

/// The held actions, used, unused and of unknown use.
pub(super) struct States {
    pub used: ActionSet,
    pub unused: ActionSet,
    pub unknown: Vec<UnknownUsage>,
    /// Of `used` and `unused`, those whose state rests on IAM's last-accessed data.
    pub from_last_accessed: ActionSet,
}

impl Facts<'_> {
    /// The principal's row of the report; `blast` maps principals to the accounts they can act
    /// in.
    pub fn row(&self, blast: &BTreeMap<String, Vec<String>>) -> PrincipalReport {
        let p = &self.principal;
        let names =
            |s: &ActionSet| -> Vec<String> { s.names().iter().map(|x| (*x).to_owned()).collect() };
        PrincipalReport {
            arn: p.arn().to_owned(),
            account: p.account_id().to_owned(),
            kind: if p.as_user().is_some() {
                "user"
            } else {
                "role"
            },
            sensitive_actions: names(&self.held),
            used: self.states.as_ref().map(|s| names(&s.used)),
            unused: self.states.as_ref().map(|s| names(&s.unused)),
            unknown: self.states.as_ref().map(|s| s.unknown.clone()),
            from_last_accessed: self
                .states
                .as_ref()
                .map(|s| names(&s.from_last_accessed))
                .unwrap_or_default(),
            unconditional_actions: self.eff.unconditional.len(),
            allowed_actions: self.eff.allowed.len(),
            admin_equivalent: self.admin_equivalent,
            last_activity: self
                .last_ms
                .map(|ms| Timestamp::from_millis(ms).to_string()),
            blast_radius: blast
                .get(p.arn())
                .cloned()
                .unwrap_or_else(|| vec![p.account_id().to_owned()]),
        }
    }
}
