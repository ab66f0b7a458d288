//! The organization tree: root, organizational units and accounts, with the SCPs and RCPs
//! attached at each node.

use std::collections::HashMap;
use std::sync::OnceLock;

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
    /// The account's tags in AWS Organizations (`ListTagsForResource`), by key; empty for
    /// OUs and the root, and when not collected.
    pub tags: std::collections::BTreeMap<String, String>,
}

/// An AWS Organization.
#[derive(Clone)]
pub struct Organization {
    /// The organization id (`o-...`), when known: the value of `aws:PrincipalOrgID`.
    pub id: Option<String>,
    /// The management account; SCPs do not restrict its principals and RCPs not its resources.
    pub management_account_id: String,
    /// The root node.
    pub root: OrgNode,
    /// Where each account sits (child indices from the root), built on the first lookup so
    /// that finding an account does not walk the whole tree; see [`Organization::path_to`].
    places: OnceLock<HashMap<String, Vec<usize>>>,
}

impl std::fmt::Debug for Organization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Organization")
            .field("id", &self.id)
            .field("management_account_id", &self.management_account_id)
            .field("root", &self.root)
            .finish()
    }
}

impl PartialEq for Organization {
    fn eq(&self, other: &Organization) -> bool {
        self.id == other.id
            && self.management_account_id == other.management_account_id
            && self.root == other.root
    }
}

impl Eq for Organization {}

impl Organization {
    /// An organization with this id, management account and tree.
    pub fn new(id: Option<String>, management_account_id: String, root: OrgNode) -> Organization {
        Organization {
            id,
            management_account_id,
            root,
            places: OnceLock::new(),
        }
    }

    /// The nodes from the root down to the account (root, OUs..., account), or `None` when the
    /// account is not in the organization. The first account with that id, depth first in
    /// file order.
    ///
    /// Looked up in an index of the tree built on the first call (an organization with a
    /// thousand accounts is asked about every principal). The index is checked against the
    /// tree on every lookup, and the tree walked when it does not lead to the account, so a
    /// tree changed after a lookup (its fields are public) is still answered right.
    pub fn path_to(&self, account_id: &str) -> Option<Vec<&OrgNode>> {
        let places = self.places.get_or_init(|| {
            let mut places = HashMap::new();
            index(&self.root, &mut Vec::new(), &mut places);
            places
        });
        if let Some(place) = places.get(account_id) {
            let mut path = Vec::with_capacity(place.len() + 1);
            let mut node = &self.root;
            path.push(node);
            for &i in place {
                match node.children.get(i) {
                    Some(child) => node = child,
                    None => break,
                }
                path.push(node);
            }
            if path.len() == place.len() + 1
                && node.kind == NodeKind::Account
                && node.id == account_id
            {
                return Some(path);
            }
        }
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

/// Records the place of every account under `node` (the first one of each id, depth first).
fn index(node: &OrgNode, at: &mut Vec<usize>, places: &mut HashMap<String, Vec<usize>>) {
    if node.kind == NodeKind::Account && !places.contains_key(&node.id) {
        places.insert(node.id.clone(), at.clone());
    }
    for (i, child) in node.children.iter().enumerate() {
        at.push(i);
        index(child, at, places);
        at.pop();
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

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn node(kind: NodeKind, id: &str, children: Vec<OrgNode>) -> OrgNode {
        OrgNode {
            kind,
            id: id.to_owned(),
            name: id.to_owned(),
            scps: Vec::new(),
            rcps: Vec::new(),
            children,
            tags: std::collections::BTreeMap::new(),
        }
    }

    fn ids(path: Option<Vec<&OrgNode>>) -> Option<Vec<&str>> {
        path.map(|p| p.iter().map(|n| n.id.as_str()).collect())
    }

    fn org() -> Organization {
        Organization::new(
            Some("o-test".to_owned()),
            "111111111111".to_owned(),
            node(
                NodeKind::Root,
                "r-root",
                vec![
                    node(NodeKind::Account, "111111111111", Vec::new()),
                    node(
                        NodeKind::OrganizationalUnit,
                        "ou-prod",
                        vec![
                            node(NodeKind::Account, "222222222222", Vec::new()),
                            node(
                                NodeKind::OrganizationalUnit,
                                "ou-deep",
                                vec![node(NodeKind::Account, "333333333333", Vec::new())],
                            ),
                        ],
                    ),
                ],
            ),
        )
    }

    #[test]
    fn path_to_names_root_ous_and_account() {
        let org = org();
        assert_eq!(
            ids(org.path_to("111111111111")),
            Some(vec!["r-root", "111111111111"])
        );
        assert_eq!(
            ids(org.path_to("333333333333")),
            Some(vec!["r-root", "ou-prod", "ou-deep", "333333333333"])
        );
        assert_eq!(ids(org.path_to("999999999999")), None);
        // An OU id is not an account.
        assert_eq!(ids(org.path_to("ou-prod")), None);
    }

    #[test]
    fn path_to_follows_a_tree_changed_after_the_first_lookup() {
        let mut org = org();
        assert!(org.path_to("222222222222").is_some());
        // Move 333333333333 up to the root, drop 222222222222, add 444444444444.
        let prod = &mut org.root.children[1];
        prod.children.remove(0);
        let deep = prod.children.remove(0);
        org.root.children.extend(deep.children);
        org.root
            .children
            .push(node(NodeKind::Account, "444444444444", Vec::new()));
        assert_eq!(ids(org.path_to("222222222222")), None);
        assert_eq!(
            ids(org.path_to("333333333333")),
            Some(vec!["r-root", "333333333333"])
        );
        assert_eq!(
            ids(org.path_to("444444444444")),
            Some(vec!["r-root", "444444444444"])
        );
    }

    #[test]
    fn equality_ignores_the_index() {
        let looked_up = org();
        assert!(looked_up.path_to("333333333333").is_some());
        assert_eq!(looked_up, org());
        assert_eq!(looked_up.clone(), org());
    }
}
