//! Small snapshots built in code for the escalation rule tests.

use std::collections::BTreeMap;

use latch_analysis::escalation::{escalation_paths, EscalationPath, EscalationReport, Technique};
use latch_model::{
    Account, ControlPolicy, Group, InlinePolicy, InstanceProfile, ManagedPolicy, NodeKind, OrgNode,
    Organization, PolicyDocument, PolicyOrigin, Role, Snapshot, User,
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
            origin: PolicyOrigin::Bundled,
        };
        self.account(account)
            .managed_policies
            .insert(arn.clone(), policy);
        arn
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
        }
    }

    pub fn report(&self) -> EscalationReport {
        escalation_paths(&self.snapshot())
    }
}

/// Whether the report has an edge `from` → `to` (an ARN or `admin`) by `technique`.
pub fn has_edge(r: &EscalationReport, from: &str, to: &str, technique: Technique) -> bool {
    r.edges
        .iter()
        .any(|e| e.from == from && e.to.as_str() == to && e.technique == technique)
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
