//! Small snapshots built in code for the escalation rule tests.

use std::collections::BTreeMap;

use latch_analysis::escalation::{
    escalation_paths, Edge, EscalationPath, EscalationReport, Technique,
};
use latch_model::{
    Account, ControlPolicy, Group, InlinePolicy, InstanceProfile, ManagedPolicy, NodeKind, OrgNode,
    Organization, PolicyDocument, PolicyOrigin, PolicyVersion, Role, Snapshot, User,
};
use serde_json::{json, Value};

pub const A: &str = "111111111111";
pub const B: &str = "222222222222";
const MANAGEMENT: &str = "999999999999";

pub fn allow(actions: &[&str], resource: &str) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": resource})
}

pub fn deny(actions: &[&str], resource: &str) -> Value {
    json!({"Effect": "Deny", "Action": actions, "Resource": resource})
}

pub fn trust_service(service: &str) -> Value {
    json!({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})
}

pub fn trust_aws(principal: &str) -> Value {
    json!({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"})
}

pub fn root(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

pub fn role_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}

pub fn user_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user/{name}")
}

fn doc(statements: Vec<Value>) -> PolicyDocument {
    PolicyDocument::from_json(
        json!({"Version": "2012-10-17", "Statement": statements}),
        "fixture",
    )
    .unwrap()
}

/// A snapshot under construction.
#[derive(Default)]
pub struct Fx {
    accounts: BTreeMap<String, Account>,
    scps: Vec<Value>,
}

impl Fx {
    pub fn new() -> Fx {
        Fx::default()
    }

    fn account(&mut self, id: &str) -> &mut Account {
        self.accounts
            .entry(id.to_owned())
            .or_insert_with(|| Account {
                id: id.to_owned(),
                name: id.to_owned(),
                resource_policies: Some(Vec::new()),
                credential_report: None,
                workloads: None,
                ..Account::default()
            })
    }

    /// A role with a trust policy (one statement) and one inline policy (if any statement).
    pub fn role(
        &mut self,
        account: &str,
        name: &str,
        trust: Value,
        statements: Vec<Value>,
    ) -> String {
        self.role_on_path(account, "/", name, trust, statements)
    }

    /// [`Fx::role`] on an IAM path (`/aws-service-role/ecs.amazonaws.com/`), part of its ARN.
    pub fn role_on_path(
        &mut self,
        account: &str,
        path: &str,
        name: &str,
        trust: Value,
        statements: Vec<Value>,
    ) -> String {
        let arn = format!("arn:aws:iam::{account}:role{path}{name}");
        let inline = if statements.is_empty() {
            Vec::new()
        } else {
            vec![InlinePolicy {
                name: "inline".to_owned(),
                document: doc(statements),
            }]
        };
        let role = Role {
            arn: arn.clone(),
            name: name.to_owned(),
            path: path.to_owned(),
            id: format!("AROA{}", name.to_uppercase()),
            create_date: None,
            tags: BTreeMap::new(),
            trust_policy: doc(vec![trust]),
            inline_policies: inline,
            attached_policies: Vec::new(),
            permissions_boundary: None,
            last_used: None,
            instance_profiles: Vec::new(),
        };
        self.account(account).roles.insert(name.to_owned(), role);
        arn
    }

    /// A role holding `*` on `*`.
    pub fn admin_role(&mut self, account: &str, name: &str, trust: Value) -> String {
        self.role(account, name, trust, vec![allow(&["*"], "*")])
    }

    /// Gives a role an instance profile of the same name.
    pub fn profile(&mut self, account: &str, role: &str) {
        if let Some(r) = self.account(account).roles.get_mut(role) {
            r.instance_profiles.push(InstanceProfile {
                name: role.to_owned(),
                arn: format!("arn:aws:iam::{account}:instance-profile/{role}"),
            });
        }
    }

    /// The account's inventory of resources that run as roles: `kinds` listed completely,
    /// `items` as (kind, resource ARN, role name).
    pub fn workloads(
        &mut self,
        account: &str,
        kinds: &[latch_model::workloads::WorkloadKind],
        items: &[(latch_model::workloads::WorkloadKind, &str, &str)],
    ) {
        let w = latch_model::workloads::Workloads {
            inventoried: kinds.iter().copied().collect(),
            regions: vec!["us-east-1".to_owned()],
            items: items
                .iter()
                .map(|(kind, arn, role)| latch_model::workloads::Workload {
                    kind: *kind,
                    arn: (*arn).to_owned(),
                    role_arn: role_arn(account, role),
                    instance_profile_arn: None,
                })
                .collect(),
        };
        self.account(account).workloads = Some(w);
    }

    /// A user with one inline policy (if any statement).
    pub fn user(&mut self, account: &str, name: &str, statements: Vec<Value>) -> String {
        let arn = user_arn(account, name);
        let inline = if statements.is_empty() {
            Vec::new()
        } else {
            vec![InlinePolicy {
                name: "inline".to_owned(),
                document: doc(statements),
            }]
        };
        let user = User {
            arn: arn.clone(),
            name: name.to_owned(),
            path: "/".to_owned(),
            id: format!("AIDA{}", name.to_uppercase()),
            create_date: None,
            tags: BTreeMap::new(),
            inline_policies: inline,
            attached_policies: Vec::new(),
            permissions_boundary: None,
            groups: Vec::new(),
        };
        self.account(account).users.insert(name.to_owned(), user);
        arn
    }

    /// A customer-managed policy.
    pub fn managed(&mut self, account: &str, name: &str, statements: Vec<Value>) -> String {
        let arn = format!("arn:aws:iam::{account}:policy/{name}");
        let policy = ManagedPolicy {
            arn: arn.clone(),
            name: name.to_owned(),
            id: None,
            path: "/".to_owned(),
            default_version_id: "v1".to_owned(),
            document: doc(statements),
            other_versions: Vec::new(),
            origin: PolicyOrigin::Synthetic,
        };
        self.account(account)
            .managed_policies
            .insert(arn.clone(), policy);
        arn
    }

    /// An AWS managed policy (`arn:aws:iam::aws:policy/NAME`), as the bundled copy would add
    /// it to the account.
    pub fn aws_managed(&mut self, account: &str, name: &str, statements: Vec<Value>) -> String {
        let arn = format!("arn:aws:iam::aws:policy/{name}");
        let policy = ManagedPolicy {
            arn: arn.clone(),
            name: name.to_owned(),
            id: None,
            path: "/".to_owned(),
            default_version_id: "v1".to_owned(),
            document: doc(statements),
            other_versions: Vec::new(),
            origin: PolicyOrigin::Bundled,
        };
        self.account(account)
            .managed_policies
            .insert(arn.clone(), policy);
        arn
    }

    /// Stores another (non-default) version of a managed policy of the account.
    pub fn version(&mut self, account: &str, policy_arn: &str, id: &str, statements: Vec<Value>) {
        let policy = self
            .account(account)
            .managed_policies
            .get_mut(policy_arn)
            .unwrap_or_else(|| panic!("no managed policy `{policy_arn}`"));
        policy.other_versions.push(PolicyVersion {
            id: id.to_owned(),
            create_date: None,
            document: doc(statements),
        });
    }

    /// Attaches a managed policy to a user or role (by name).
    pub fn attach(&mut self, account: &str, principal: &str, policy_arn: &str) {
        let acct = self.account(account);
        if let Some(r) = acct.roles.get_mut(principal) {
            r.attached_policies.push(policy_arn.to_owned());
        } else if let Some(u) = acct.users.get_mut(principal) {
            u.attached_policies.push(policy_arn.to_owned());
        } else if let Some(g) = acct.groups.get_mut(principal) {
            g.attached_policies.push(policy_arn.to_owned());
        } else {
            panic!("no principal or group `{principal}`");
        }
    }

    /// Sets a managed policy (created here) as the permissions boundary of a user or role.
    pub fn boundary(&mut self, account: &str, principal: &str, statements: Vec<Value>) {
        let arn = self.managed(account, &format!("{principal}-boundary"), statements);
        let acct = self.account(account);
        if let Some(r) = acct.roles.get_mut(principal) {
            r.permissions_boundary = Some(arn);
        } else if let Some(u) = acct.users.get_mut(principal) {
            u.permissions_boundary = Some(arn);
        }
    }

    /// A group with one inline policy (if any statement).
    pub fn group(&mut self, account: &str, name: &str, statements: Vec<Value>) -> String {
        let arn = format!("arn:aws:iam::{account}:group/{name}");
        let inline = if statements.is_empty() {
            Vec::new()
        } else {
            vec![InlinePolicy {
                name: "inline".to_owned(),
                document: doc(statements),
            }]
        };
        let group = Group {
            arn: arn.clone(),
            name: name.to_owned(),
            path: "/".to_owned(),
            id: format!("AGPA{}", name.to_uppercase()),
            create_date: None,
            inline_policies: inline,
            attached_policies: Vec::new(),
        };
        self.account(account).groups.insert(name.to_owned(), group);
        arn
    }

    /// Puts a user into a group.
    pub fn join(&mut self, account: &str, user: &str, group: &str) {
        if let Some(u) = self.account(account).users.get_mut(user) {
            u.groups.push(group.to_owned());
        }
    }

    /// Adds an SCP statement at the root (next to FullAWSAccess): the snapshot then has an
    /// organization whose management account holds no principal.
    pub fn scp(&mut self, statement: Value) {
        self.scps.push(statement);
    }

    pub fn snapshot(&self) -> Snapshot {
        let organization = (!self.scps.is_empty()).then(|| {
            let full = ControlPolicy {
                id: "p-FullAWSAccess".to_owned(),
                name: "FullAWSAccess".to_owned(),
                document: doc(vec![allow(&["*"], "*")]),
            };
            let node = |kind, id: &str, scps: Vec<ControlPolicy>, children| OrgNode {
                kind,
                id: id.to_owned(),
                name: id.to_owned(),
                scps,
                rcps: Vec::new(),
                children,
                tags: std::collections::BTreeMap::new(),
            };
            let mut ids: Vec<&str> = self.accounts.keys().map(String::as_str).collect();
            ids.push(MANAGEMENT);
            let children = ids
                .into_iter()
                .map(|id| node(NodeKind::Account, id, vec![full.clone()], Vec::new()))
                .collect();
            let root_scps = vec![
                full.clone(),
                ControlPolicy {
                    id: "p-fixture".to_owned(),
                    name: "fixture".to_owned(),
                    document: doc(self.scps.clone()),
                },
            ];
            Organization::new(
                Some("o-fixture".to_owned()),
                MANAGEMENT.to_owned(),
                node(NodeKind::Root, "r-root", root_scps, children),
            )
        });
        Snapshot {
            organization,
            accounts: self.accounts.clone(),
            not_analysed: Vec::new(),
            trails: None,
            identity_center: None,
        }
    }

    /// The escalation report of the snapshot; every action its edges name is checked against
    /// the catalog.
    pub fn report(&self) -> EscalationReport {
        let r = escalation_paths(&self.snapshot());
        assert_known_actions(&r);
        r
    }
}

/// Every action an edge names is one the catalog knows. The engine matches action names as
/// text (and `*` allows any), so a rule asking about a misspelt or retired action would still
/// find edges in fixtures; this makes such a rule fail its tests.
pub fn assert_known_actions(r: &EscalationReport) {
    let catalog = latch_catalog::Catalog::get();
    for e in &r.edges {
        for a in &e.actions {
            assert!(
                catalog.resolve(a).is_some(),
                "{}: `{a}` is not an action of the catalog",
                e.technique
            );
        }
    }
}

/// Whether the report has an edge `from` → `to` (an ARN or `admin`) by `technique`.
pub fn has_edge(r: &EscalationReport, from: &str, to: &str, technique: Technique) -> bool {
    r.edges
        .iter()
        .any(|e| e.from == from && e.to.as_str() == to && e.technique == technique)
}

/// The edge `from` → `to` (an ARN or `admin`) by `technique`; panics when there is none.
pub fn edge<'r>(r: &'r EscalationReport, from: &str, to: &str, technique: Technique) -> &'r Edge {
    r.edges
        .iter()
        .find(|e| e.from == from && e.to.as_str() == to && e.technique == technique)
        .unwrap_or_else(|| panic!("no {technique} edge {from} -> {to}: {:#?}", r.edges))
}

/// Snapshots what an edge tells people (technique, the actions it needs, the detail naming the
/// policies and resources) under `technique`-`actions`: reviewed once, then held. Update with
/// `INSTA_UPDATE=always cargo test -p latch-analysis`.
pub fn snapshot_edge(e: &Edge, case: &str) {
    let name = format!(
        "{}-{}",
        e.technique.id(),
        case.replace([':', '*', '/'], "_")
    );
    let text = format!(
        "technique: {}\nactions: {}\ndetail: {}\n",
        e.technique.id(),
        e.actions.join(", "),
        e.detail
    );
    insta::assert_snapshot!(name, text);
}

/// Whether the report has any edge of `technique`.
pub fn any_edge(r: &EscalationReport, technique: Technique) -> bool {
    r.edges.iter().any(|e| e.technique == technique)
}

/// The path `from` → `to`, if reported.
pub fn path<'r>(r: &'r EscalationReport, from: &str, to: &str) -> Option<&'r EscalationPath> {
    r.paths.iter().find(|p| p.from == from && p.to == to)
}

/// The techniques of a path's steps.
pub fn techniques(p: &EscalationPath) -> Vec<Technique> {
    p.steps.iter().map(|s| s.technique).collect()
}

/// A pass-role rule, as [`pass_role_case_with`] for a role without an instance profile, passed
/// to the service it trusts.
pub fn pass_role_case(service: &str, actions: &[&str], technique: Technique) {
    pass_role_case_with(service, service, false, actions, technique);
}

/// A pass-role rule: `iam:PassRole` (conditioned on `iam:PassedToService` = `passed_to`) and
/// `actions`, all on `*`, make an edge to a role trusting `service` (with an instance profile
/// when `profile`), whose actions are `iam:PassRole` then `actions`. Dropping any action,
/// denying one, passing the role to another service, or a role trusting another service makes
/// none.
pub fn pass_role_case_with(
    service: &str,
    passed_to: &str,
    profile: bool,
    actions: &[&str],
    technique: Technique,
) {
    let pass_to = |svc: &str| {
        json!({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
               "Condition": {"StringEquals": {"iam:PassedToService": svc}}})
    };
    let mut fx = Fx::new();
    let target = fx.admin_role(A, "svc-admin", trust_service(service));
    let other = fx.admin_role(A, "other-admin", trust_service("states.amazonaws.com"));
    if profile {
        fx.profile(A, "svc-admin");
        fx.profile(A, "other-admin");
    }
    let full = fx.user(A, "full", vec![pass_to(passed_to), allow(actions, "*")]);
    let mut blocked = Vec::new();
    for (i, missing) in actions.iter().enumerate() {
        let rest: Vec<&str> = actions.iter().copied().filter(|a| a != missing).collect();
        let statements = if rest.is_empty() {
            vec![pass_to(passed_to)]
        } else {
            vec![pass_to(passed_to), allow(&rest, "*")]
        };
        blocked.push(fx.user(A, &format!("missing-{i}"), statements));
        blocked.push(fx.user(
            A,
            &format!("denied-{i}"),
            vec![
                pass_to(passed_to),
                allow(actions, "*"),
                deny(&[missing], "*"),
            ],
        ));
    }
    blocked.push(fx.user(A, "no-pass", vec![allow(actions, "*")]));
    blocked.push(fx.user(
        A,
        "wrong-service",
        vec![pass_to("states.amazonaws.com"), allow(actions, "*")],
    ));
    let r = fx.report();
    assert!(path(&r, &full, &target).is_some(), "{technique}");
    let e = edge(&r, &full, &target, technique);
    let mut expected = vec!["iam:PassRole"];
    expected.extend_from_slice(actions);
    assert_eq!(e.actions, expected, "{technique}");
    snapshot_edge(e, &format!("{passed_to}-{}", actions.join("+")));
    assert!(!has_edge(&r, &full, &other, technique), "{technique}");
    for u in &blocked {
        assert!(
            !has_edge(&r, u, &target, technique),
            "{technique}: {u} should have no edge: {:#?}",
            r.edges
        );
    }
}

/// A rule on existing resources that run as a role: `actions` on `*` (no `iam:PassRole`) make
/// an edge to a role trusting `service` (with an instance profile when `profile`), whose detail
/// says the resources are assumed. Dropping any action, denying one, holding them on the one
/// resource `one` only, or a role trusting another service makes none.
pub fn runs_as_case(
    service: &str,
    profile: bool,
    actions: &[&str],
    one: &str,
    technique: Technique,
) {
    let mut fx = Fx::new();
    let target = fx.admin_role(A, "svc-admin", trust_service(service));
    let other = fx.admin_role(A, "other-admin", trust_service("states.amazonaws.com"));
    if profile {
        fx.profile(A, "svc-admin");
        fx.profile(A, "other-admin");
    }
    let full = fx.user(A, "full", vec![allow(actions, "*")]);
    let mut blocked = Vec::new();
    for (i, missing) in actions.iter().enumerate() {
        let rest: Vec<&str> = actions.iter().copied().filter(|a| a != missing).collect();
        let statements = if rest.is_empty() {
            Vec::new()
        } else {
            vec![allow(&rest, "*")]
        };
        blocked.push(fx.user(A, &format!("missing-{i}"), statements));
        blocked.push(fx.user(
            A,
            &format!("denied-{i}"),
            vec![allow(actions, "*"), deny(&[missing], "*")],
        ));
    }
    blocked.push(fx.user(A, "one", vec![allow(actions, one)]));
    let r = fx.report();
    assert!(path(&r, &full, &target).is_some(), "{technique}");
    let e = edge(&r, &full, &target, technique);
    assert_eq!(e.actions, actions, "{technique}");
    snapshot_edge(e, &actions.join("+"));
    assert!(!has_edge(&r, &full, &other, technique), "{technique}");
    for u in &blocked {
        assert!(
            !has_edge(&r, u, &target, technique),
            "{technique}: {u} should have no edge: {:#?}",
            r.edges
        );
    }
}
