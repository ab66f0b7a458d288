//! The shape of the organization as the planner needs it: nodes, parents, children, and the
//! control policies already attached (which count against the per-node limits,
//! [`latch_catalog::Limits::per_target`]).

use std::collections::BTreeMap;

use latch_contract::{POLICY_NAME_PREFIX, UNKNOWN_ROOT};
use latch_model::{NodeKind, OrgNode, Snapshot};

/// One node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeShape {
    /// `r-…`, `ou-…` or the account id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Root, OU or account.
    pub kind: NodeKind,
    /// The parent's id (`None` for the root).
    pub parent: Option<String>,
    /// Children ids in file order.
    pub children: Vec<String>,
    /// Names of SCPs attached that are not Latch's.
    pub existing_scps: Vec<String>,
    /// Names of RCPs attached that are not Latch's (including `RCPFullAWSAccess`).
    pub existing_rcps: Vec<String>,
}

/// The organization tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgShape {
    /// The root's id.
    pub root_id: String,
    /// The management account, when known.
    pub management_account: Option<String>,
    /// Every node by id.
    pub nodes: BTreeMap<String, NodeShape>,
    /// True when the snapshot had no organization.json and the tree was made up: accounts
    /// directly under a root holding only `FullAWSAccess` / `RCPFullAWSAccess`.
    pub synthesized: bool,
}

fn not_latch(name: &str) -> bool {
    !name.starts_with(POLICY_NAME_PREFIX)
}

impl OrgShape {
    /// The tree of a snapshot (made up when it has no organization).
    pub fn from_snapshot(s: &Snapshot) -> OrgShape {
        let mut nodes = BTreeMap::new();
        match &s.organization {
            Some(org) => {
                add(&org.root, None, &mut nodes);
                OrgShape {
                    root_id: org.root.id.clone(),
                    management_account: Some(org.management_account_id.clone()),
                    nodes,
                    synthesized: false,
                }
            }
            None => {
                let children: Vec<String> = s.accounts.keys().cloned().collect();
                for a in s.accounts.values() {
                    nodes.insert(
                        a.id.clone(),
                        NodeShape {
                            id: a.id.clone(),
                            name: a.name.clone(),
                            kind: NodeKind::Account,
                            parent: Some(UNKNOWN_ROOT.to_owned()),
                            children: Vec::new(),
                            existing_scps: vec!["FullAWSAccess".to_owned()],
                            existing_rcps: vec!["RCPFullAWSAccess".to_owned()],
                        },
                    );
                }
                nodes.insert(
                    UNKNOWN_ROOT.to_owned(),
                    NodeShape {
                        id: UNKNOWN_ROOT.to_owned(),
                        name: "Root".to_owned(),
                        kind: NodeKind::Root,
                        parent: None,
                        children,
                        existing_scps: vec!["FullAWSAccess".to_owned()],
                        existing_rcps: vec!["RCPFullAWSAccess".to_owned()],
                    },
                );
                OrgShape {
                    root_id: UNKNOWN_ROOT.to_owned(),
                    management_account: None,
                    nodes,
                    synthesized: true,
                }
            }
        }
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&NodeShape> {
        self.nodes.get(id)
    }

    /// Node ids from the root down to `id` (inclusive); empty when unknown.
    pub fn path_to(&self, id: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = self.nodes.get(id);
        while let Some(n) = cur {
            out.push(n.id.clone());
            cur = n.parent.as_ref().and_then(|p| self.nodes.get(p));
        }
        out.reverse();
        out
    }

    /// Account ids at or under a node, sorted.
    pub fn accounts_under(&self, id: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![id.to_owned()];
        while let Some(n) = stack.pop() {
            if let Some(node) = self.nodes.get(&n) {
                if node.kind == NodeKind::Account {
                    out.push(node.id.clone());
                }
                stack.extend(node.children.iter().cloned());
            }
        }
        out.sort();
        out
    }

    /// Whether `id` is the management account (which SCPs and RCPs do not govern).
    pub fn is_management(&self, id: &str) -> bool {
        self.management_account.as_deref() == Some(id)
    }

    /// A short label for a node: `prod-app (300000000004)`, `Prod (ou-…)`, `Root (r-…)`.
    pub fn label(&self, id: &str) -> String {
        match self.nodes.get(id) {
            Some(n) if n.name != n.id => format!("{} `{}` ({})", n.kind.name(), n.id, n.name),
            Some(n) => format!("{} `{}`", n.kind.name(), n.id),
            None => format!("`{id}`"),
        }
    }
}

fn add(node: &OrgNode, parent: Option<&str>, out: &mut BTreeMap<String, NodeShape>) {
    out.insert(
        node.id.clone(),
        NodeShape {
            id: node.id.clone(),
            name: node.name.clone(),
            kind: node.kind,
            parent: parent.map(str::to_owned),
            children: node.children.iter().map(|c| c.id.clone()).collect(),
            existing_scps: node
                .scps
                .iter()
                .map(|p| p.name.clone())
                .filter(|n| not_latch(n))
                .collect(),
            existing_rcps: node
                .rcps
                .iter()
                .map(|p| p.name.clone())
                .filter(|n| not_latch(n))
                .collect(),
        },
    );
    for c in &node.children {
        add(c, Some(&node.id), out);
    }
}
