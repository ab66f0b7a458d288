//! The organization tree: root, organizational units and accounts, with the SCPs and RCPs
//! attached at each node.

use crate::document::PolicyDocument;

/// What a node of the organization tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeKind {
    /// The root (`r-...`).
    Root,
    /// An organizational unit (`ou-...`).
    OrganizationalUnit,
    /// A member (or the management) account.
    Account,
}

impl NodeKind {
    /// The name used in organization.json (`root`, `ou`, `account`).
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Root => "root",
            NodeKind::OrganizationalUnit => "ou",
            NodeKind::Account => "account",
        }
    }
}

/// A service or resource control policy attached to a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPolicy {
    /// Policy id (`p-...`; `p-FullAWSAccess` and `p-RCPFullAWSAccess` for AWS's own).
    pub id: String,
    /// Policy name.
    pub name: String,
    /// The document.
    pub document: PolicyDocument,
}

/// A node of the organization tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgNode {
    /// Root, OU or account.
    pub kind: NodeKind,
    /// `r-...`, `ou-...` or the 12-digit account id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// SCPs attached directly to this node.
    pub scps: Vec<ControlPolicy>,
    /// RCPs attached directly to this node (always including `RCPFullAWSAccess`, which AWS
    /// attaches everywhere implicitly).
    pub rcps: Vec<ControlPolicy>,
    /// Child OUs and accounts (empty for accounts), in file order.
    pub children: Vec<OrgNode>,
}

/// An AWS Organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// The organization id (`o-...`), when known: the value of `aws:PrincipalOrgID`.
    pub id: Option<String>,
    /// The management account; SCPs do not restrict its principals and RCPs not its resources.
    pub management_account_id: String,
    /// The root node.
    pub root: OrgNode,
}

impl Organization {
    /// The nodes from the root down to the account (root, OUs..., account), or `None` when the
    /// account is not in the organization.
    pub fn path_to(&self, account_id: &str) -> Option<Vec<&OrgNode>> {
        let mut path = Vec::new();
        if find(&self.root, account_id, &mut path) {
            Some(path)
        } else {
            None
        }
    }

    /// Every account node, depth first in file order.
    pub fn accounts(&self) -> Vec<&OrgNode> {
        let mut out = Vec::new();
        collect(&self.root, &mut |n| n.kind == NodeKind::Account, &mut out);
        out
    }

    /// Every organizational unit, depth first in file order.
    pub fn organizational_units(&self) -> Vec<&OrgNode> {
        let mut out = Vec::new();
        collect(
            &self.root,
            &mut |n| n.kind == NodeKind::OrganizationalUnit,
            &mut out,
        );
        out
    }

    /// The account node with this id.
    pub fn account(&self, account_id: &str) -> Option<&OrgNode> {
        self.path_to(account_id).and_then(|p| p.last().copied())
    }

    /// Whether the account belongs to the organization.
    pub fn contains_account(&self, account_id: &str) -> bool {
        self.path_to(account_id).is_some()
    }

    /// The OU (or root) directly holding the account.
    pub fn parent_of(&self, account_id: &str) -> Option<&OrgNode> {
        let path = self.path_to(account_id)?;
        path.len().checked_sub(2).and_then(|i| path.get(i).copied())
    }
}

fn find<'a>(node: &'a OrgNode, account_id: &str, path: &mut Vec<&'a OrgNode>) -> bool {
    path.push(node);
    if node.kind == NodeKind::Account && node.id == account_id {
        return true;
    }
    for child in &node.children {
        if find(child, account_id, path) {
            return true;
        }
    }
    path.pop();
    false
}

fn collect<'a>(
    node: &'a OrgNode,
    want: &mut dyn FnMut(&OrgNode) -> bool,
    out: &mut Vec<&'a OrgNode>,
) {
    if want(node) {
        out.push(node);
    }
    for child in &node.children {
        collect(child, want, out);
    }
}
