//! A uniform view over users and roles, and the policies that apply to each: what the analysis
//! iterates.

use latch_policy::compile::{CPolicy, CompileError};
use latch_policy::context::Context;
use latch_policy::{Layer, PolicySet};

use crate::account::{Account, ManagedPolicy, Role, Tags, Timestamp, User};
use crate::document::PolicyDocument;
use crate::org::{ControlPolicy, NodeKind, OrgNode};
use crate::snapshot::Snapshot;

/// A user or a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind<'a> {
    /// An IAM user.
    User(&'a User),
    /// An IAM role.
    Role(&'a Role),
}

/// A principal together with its account and snapshot, so that every policy that applies to it
/// can be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal<'a> {
    /// The snapshot it belongs to.
    pub snapshot: &'a Snapshot,
    /// Its account.
    pub account: &'a Account,
    /// The user or role.
    pub kind: PrincipalKind<'a>,
}

/// Where an identity policy of a principal comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource<'a> {
    /// An inline policy of the principal itself.
    Inline {
        /// `PolicyName`.
        name: &'a str,
    },
    /// A managed policy attached to the principal.
    Managed {
        /// The policy.
        policy: &'a ManagedPolicy,
    },
    /// An inline policy of a group the user belongs to.
    GroupInline {
        /// The group's name.
        group: &'a str,
        /// `PolicyName`.
        name: &'a str,
    },
    /// A managed policy attached to a group the user belongs to.
    GroupManaged {
        /// The group's name.
        group: &'a str,
        /// The policy.
        policy: &'a ManagedPolicy,
    },
}

impl PolicySource<'_> {
    /// A short label for explanations: `inline:NAME`, the managed policy's ARN,
    /// `group:G/inline:NAME` or `group:G/ARN`.
    pub fn label(&self) -> String {
        match self {
            PolicySource::Inline { name } => format!("inline:{name}"),
            PolicySource::Managed { policy } => policy.arn.clone(),
            PolicySource::GroupInline { group, name } => format!("group:{group}/inline:{name}"),
            PolicySource::GroupManaged { group, policy } => format!("group:{group}/{}", policy.arn),
        }
    }
}

/// A policy document with where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcedPolicy<'a> {
    /// Its origin.
    pub source: PolicySource<'a>,
    /// The document.
    pub document: &'a PolicyDocument,
}

/// One level of the organization above (and including) an account, with its SCPs or RCPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgLevel<'a> {
    /// The root, OU or account node.
    pub node: &'a OrgNode,
    /// The control policies attached at this level.
    pub policies: &'a [ControlPolicy],
}

/// Everything that decides what a principal may do, except resource policies and session
/// policies: what `latch_policy::PolicySet` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicies<'a> {
    /// Identity policies: inline, attached managed, and (users) group inline and group managed.
    pub identity: Vec<SourcedPolicy<'a>>,
    /// The permissions boundary, when set and resolved.
    pub boundary: Option<&'a ManagedPolicy>,
    /// SCPs per level, root first; `None` outside an organization (no SCPs apply).
    pub scps: Option<Vec<OrgLevel<'a>>>,
    /// RCPs per level, root first; `None` outside an organization.
    pub rcps: Option<Vec<OrgLevel<'a>>>,
    /// The organization's management account, whose principals SCPs do not restrict.
    pub management_account: Option<&'a str>,
    /// Whether SCPs restrict the principal at all ([`Principal::scps_apply`]: not in the
    /// management account, not a service-linked role).
    pub scps_bind: bool,
    /// Managed-policy ARNs the principal references (attached, via a group, or as boundary)
    /// that the snapshot cannot resolve: its permissions are only partly known.
    pub unresolved: Vec<&'a str>,
}

/// A policy that the engine refused to compile for its layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {error}")]
pub struct PolicyCompileError {
    /// Which policy: a source label, `boundary:ARN` or `scp:LEVEL:ID` / `rcp:LEVEL:ID`.
    pub place: String,
    /// The engine's error.
    pub error: CompileError,
}

impl<'a> EffectivePolicies<'a> {
    /// The SCP levels that restrict the principal, root first: none outside an organization,
    /// in the management account or for a service-linked role. The one place that decides
    /// which SCPs bind a principal, for every analysis that reads them.
    pub fn binding_scps(&self) -> &[OrgLevel<'a>] {
        match &self.scps {
            Some(levels) if self.scps_bind => levels,
            _ => &[],
        }
    }

    /// Compiles everything into an engine `PolicySet` (no session or resource policy), with
    /// the services RCPs govern taken from the catalog.
    pub fn to_policy_set(&self) -> Result<PolicySet, PolicyCompileError> {
        let compile = |doc: &PolicyDocument, layer: Layer, place: &dyn Fn() -> String| {
            CPolicy::compile(&doc.policy, layer).map_err(|error| PolicyCompileError {
                place: place(),
                error,
            })
        };
        let identity = self
            .identity
            .iter()
            .map(|p| compile(p.document, Layer::Identity, &|| p.source.label()))
            .collect::<Result<Vec<_>, _>>()?;
        let boundary = self
            .boundary
            .map(|b| {
                compile(&b.document, Layer::PermissionBoundary, &|| {
                    format!("boundary:{}", b.arn)
                })
            })
            .transpose()?;
        let levels = |levels: &Option<Vec<OrgLevel<'_>>>, layer: Layer, tag: &str| {
            levels
                .as_ref()
                .map(|levels| {
                    levels
                        .iter()
                        .enumerate()
                        .map(|(i, level)| {
                            level
                                .policies
                                .iter()
                                .map(|cp| {
                                    compile(&cp.document, layer, &|| format!("{tag}:{i}:{}", cp.id))
                                })
                                .collect::<Result<Vec<_>, _>>()
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
        };
        Ok(PolicySet {
            identity,
            boundary,
            session: None,
            resource: None,
            scps: levels(&self.scps, Layer::Scp, "scp")?,
            rcps: levels(&self.rcps, Layer::Rcp, "rcp")?,
            management_account: self.management_account.map(str::to_owned),
            rcp_services: latch_catalog::Catalog::get().rcp_services(),
        })
    }
}

impl<'a> Principal<'a> {
    /// The ARN.
    pub fn arn(&self) -> &'a str {
        match self.kind {
            PrincipalKind::User(u) => &u.arn,
            PrincipalKind::Role(r) => &r.arn,
        }
    }

    /// The user or role name.
    pub fn name(&self) -> &'a str {
        match self.kind {
            PrincipalKind::User(u) => &u.name,
            PrincipalKind::Role(r) => &r.name,
        }
    }

    /// The unique id (`AIDA...` / `AROA...`).
    pub fn id(&self) -> &'a str {
        match self.kind {
            PrincipalKind::User(u) => &u.id,
            PrincipalKind::Role(r) => &r.id,
        }
    }

    /// The IAM path.
    pub fn path(&self) -> &'a str {
        match self.kind {
            PrincipalKind::User(u) => &u.path,
            PrincipalKind::Role(r) => &r.path,
        }
    }

    /// The principal's tags.
    pub fn tags(&self) -> &'a Tags {
        match self.kind {
            PrincipalKind::User(u) => &u.tags,
            PrincipalKind::Role(r) => &r.tags,
        }
    }

    /// When it was created.
    pub fn create_date(&self) -> Option<&'a Timestamp> {
        match self.kind {
            PrincipalKind::User(u) => u.create_date.as_ref(),
            PrincipalKind::Role(r) => r.create_date.as_ref(),
        }
    }

    /// Its account's id.
    pub fn account_id(&self) -> &'a str {
        &self.account.id
    }

    /// The user, if it is one.
    pub fn as_user(&self) -> Option<&'a User> {
        match self.kind {
            PrincipalKind::User(u) => Some(u),
            PrincipalKind::Role(_) => None,
        }
    }

    /// The role, if it is one.
    pub fn as_role(&self) -> Option<&'a Role> {
        match self.kind {
            PrincipalKind::Role(r) => Some(r),
            PrincipalKind::User(_) => None,
        }
    }

    /// A service-linked role (SCPs do not restrict it).
    pub fn is_service_linked(&self) -> bool {
        self.as_role().is_some_and(Role::is_service_linked)
    }

    /// Whether the principal lives in the organization's management account (SCPs do not
    /// restrict it).
    pub fn in_management_account(&self) -> bool {
        self.snapshot.management_account_id() == Some(self.account_id())
    }

    /// Whether SCPs restrict the principal: the one rule every action-level analysis applies.
    /// They do not restrict users or roles in the management account, nor service-linked
    /// roles (AWS Organizations User Guide, "Service control policies (SCPs)": SCPs don't
    /// affect users or roles in the management account, and they do not affect
    /// service-linked roles). The engine applies the same rule to each request.
    pub fn scps_apply(&self) -> bool {
        !self.in_management_account() && !self.is_service_linked()
    }

    /// The role's trust policy (`None` for users).
    pub fn trust_policy(&self) -> Option<&'a PolicyDocument> {
        self.as_role().map(|r| &r.trust_policy)
    }

    /// The permissions boundary's ARN, when one is set.
    pub fn permissions_boundary_arn(&self) -> Option<&'a str> {
        match self.kind {
            PrincipalKind::User(u) => u.permissions_boundary.as_deref(),
            PrincipalKind::Role(r) => r.permissions_boundary.as_deref(),
        }
    }

    /// The permissions boundary, when set and resolved.
    pub fn permissions_boundary(&self) -> Option<&'a ManagedPolicy> {
        self.permissions_boundary_arn()
            .and_then(|arn| self.account.managed_policy(arn))
    }

    /// Every identity policy that applies: own inline, own attached managed, and for users the
    /// inline and attached policies of each group they belong to. Unresolvable managed ARNs are
    /// left out here and listed by [`Principal::unresolved_policies`].
    pub fn identity_policies(&self) -> Vec<SourcedPolicy<'a>> {
        let account = self.account;
        let (inline, attached, groups): (_, &'a [String], &'a [String]) = match self.kind {
            PrincipalKind::User(u) => (&u.inline_policies, &u.attached_policies, &u.groups),
            PrincipalKind::Role(r) => (&r.inline_policies, &r.attached_policies, &[]),
        };
        let mut out: Vec<SourcedPolicy<'a>> = inline
            .iter()
            .map(|p| SourcedPolicy {
                source: PolicySource::Inline { name: &p.name },
                document: &p.document,
            })
            .collect();
        out.extend(attached.iter().filter_map(|arn| {
            account.managed_policy(arn).map(|policy| SourcedPolicy {
                source: PolicySource::Managed { policy },
                document: &policy.document,
            })
        }));
        for group in groups.iter().filter_map(|g| account.groups.get(g)) {
            out.extend(group.inline_policies.iter().map(|p| SourcedPolicy {
                source: PolicySource::GroupInline {
                    group: &group.name,
                    name: &p.name,
                },
                document: &p.document,
            }));
            out.extend(group.attached_policies.iter().filter_map(|arn| {
                account.managed_policy(arn).map(|policy| SourcedPolicy {
                    source: PolicySource::GroupManaged {
                        group: &group.name,
                        policy,
                    },
                    document: &policy.document,
                })
            }));
        }
        out
    }

    /// Managed-policy ARNs (attached, via groups, or the boundary) and group names that the
    /// snapshot cannot resolve.
    pub fn unresolved_policies(&self) -> Vec<&'a str> {
        let account = self.account;
        let mut out = Vec::new();
        let (attached, groups): (&'a [String], &'a [String]) = match self.kind {
            PrincipalKind::User(u) => (&u.attached_policies, &u.groups),
            PrincipalKind::Role(r) => (&r.attached_policies, &[]),
        };
        let boundary = match self.kind {
            PrincipalKind::User(u) => u.permissions_boundary.as_ref(),
            PrincipalKind::Role(r) => r.permissions_boundary.as_ref(),
        };
        let mut wanted: Vec<&'a String> = attached.iter().chain(boundary).collect();
        for g in groups {
            match account.groups.get(g) {
                Some(group) => wanted.extend(&group.attached_policies),
                None => out.push(g.as_str()),
            }
        }
        out.extend(
            wanted
                .into_iter()
                .filter(|arn| account.managed_policy(arn).is_none())
                .map(String::as_str),
        );
        out
    }

    /// The SCPs from the root down to the principal's account, one entry per level; `None`
    /// when the snapshot has no organization.
    pub fn scp_chain(&self) -> Option<Vec<OrgLevel<'a>>> {
        self.chain(|n| &n.scps)
    }

    /// The RCPs from the root down to the principal's account; `None` without organization.
    pub fn rcp_chain(&self) -> Option<Vec<OrgLevel<'a>>> {
        self.chain(|n| &n.rcps)
    }

    fn chain(&self, pick: fn(&'a OrgNode) -> &'a Vec<ControlPolicy>) -> Option<Vec<OrgLevel<'a>>> {
        let org = self.snapshot.organization.as_ref()?;
        let path = org.path_to(self.account_id())?;
        Some(
            path.into_iter()
                .map(|node| OrgLevel {
                    node,
                    policies: pick(node),
                })
                .collect(),
        )
    }

    /// The request context keys that come from the principal and its place in the
    /// organization, for requests it makes: `aws:PrincipalTag/<key>` for each tag,
    /// `aws:PrincipalOrgID` and `aws:PrincipalOrgPaths` (`o-id/r-root/ou-.../`) when the
    /// organization and its id are known. The engine derives the rest from the ARN
    /// (`latch_policy::Request::new`).
    pub fn request_context(&self) -> Context {
        let mut ctx = Context::default();
        for (k, v) in self.tags() {
            ctx.insert(&format!("aws:PrincipalTag/{k}"), vec![v.clone()], false);
        }
        if let Some(org) = &self.snapshot.organization {
            if let (Some(id), Some(path)) = (&org.id, org.path_to(self.account_id())) {
                ctx.insert("aws:PrincipalOrgID", vec![id.clone()], false);
                let mut org_path = format!("{id}/");
                for node in path.iter().filter(|n| n.kind != NodeKind::Account) {
                    org_path.push_str(&node.id);
                    org_path.push('/');
                }
                ctx.insert("aws:PrincipalOrgPaths", vec![org_path], true);
            }
        }
        ctx
    }

    /// Identity policies, boundary, SCP and RCP chains and the management account in one
    /// value, ready for [`EffectivePolicies::to_policy_set`].
    pub fn effective_policies(&self) -> EffectivePolicies<'a> {
        EffectivePolicies {
            identity: self.identity_policies(),
            boundary: self.permissions_boundary(),
            scps: self.scp_chain(),
            rcps: self.rcp_chain(),
            management_account: self.snapshot.management_account_id(),
            scps_bind: self.scps_apply(),
            unresolved: self.unresolved_policies(),
        }
    }
}
