//! A deterministic generator of synthetic organizations for scale tests
//! (`latch example generate`): organization.json, one GAAD per account, resource policies and
//! an activity plan (activity.json) from which CloudTrail logs can be generated.
//!
//! The same parameters and seed give the same bytes. The mix is shaped like real estates:
//! Identity Center roles, service roles for Lambda/ECS/EC2/Glue with narrow inline policies,
//! CI roles trusting GitHub's OIDC provider, cross-account readers, customer-managed policies,
//! a few users in groups — plus, at low rates, admin roles, zombies (idle longer than the
//! window) and escalation primitives (PassRole into Lambda, PutRolePolicy on itself,
//! UpdateAssumeRolePolicy on an admin role), so that analyses have something to find at scale.
//! Pure: files are handed to a caller-supplied sink.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::account::{
    Account, Group, InlinePolicy, InstanceProfile, ManagedPolicy, PolicyOrigin, ResourceKind,
    ResourcePolicy, Role, RoleLastUsed, Tags, Timestamp, User,
};
use crate::activity::{ActivityPlan, PrincipalActivity};
use crate::credentials::{AccessKey, CredentialReport, CredentialRow};
use crate::document::PolicyDocument;
use crate::error::FormatError;
use crate::gaad::{id_suffix, to_gaad, DocumentStyle};
use crate::org::{ControlPolicy, NodeKind, OrgNode, Organization};
use crate::orgfile::{well_known, FULL_AWS_ACCESS_ID};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Accounts, including the management account (at least 1).
    pub accounts: usize,
    /// Roles per account (at least 4: the fixed Identity Center and org-access roles).
    pub roles_per_account: usize,
    /// The activity window in days; zombies are idle for longer than this.
    pub days: u32,
    /// Seed of the pseudo-random choices.
    pub seed: u64,
    /// People of Identity Center (0: no `identity-center.json`).
    pub people: usize,
    /// Their groups (at least 1 when there are people).
    pub groups: usize,
    /// Permission sets: the three every account has (administrator, power user, read-only)
    /// and team sets beyond them, each provisioned in a fifth of the accounts.
    pub permission_sets: usize,
}

/// The three permission sets every generated account has: name, policy, role-name hash.
const FIXED_SETS: [(&str, &str, &str); 3] = [
    ("AdministratorAccess", ADMIN, "3f9a2b7c1d8e4f60"),
    ("PowerUserAccess", POWER, "5e6f7a8b9c0d1e2f"),
    ("ReadOnlyAccess", READONLY, "c2d4e6f8a0b1c3d5"),
];

/// The team permission sets (beyond the fixed three) provisioned in account `index`.
fn team_sets_in(params: &Params, index: usize) -> impl Iterator<Item = usize> + '_ {
    let teams = if params.people == 0 {
        0
    } else {
        params.permission_sets.saturating_sub(FIXED_SETS.len())
    };
    (0..teams).filter(move |j| (index + j) % 5 == 0)
}

/// The Identity Center of a generated organization (`identity-center.json`): `people` users
/// (the first ones named as the generated CloudTrail's sessions), each in one or two of
/// `groups` groups, one in a hundred deactivated; every account assigns its permission sets to
/// groups, and a few people directly.
fn identity_center_value(params: &Params) -> Value {
    let instance = format!("ssoins-{:016x}", params.seed);
    let set_arn = |name: &str| format!("arn:aws:sso:::permissionSet/{instance}/ps-{name}");
    let mut sets: Vec<Value> = FIXED_SETS
        .iter()
        .map(|(name, policy, _)| {
            json!({"arn": set_arn(name), "name": name, "session_duration": "PT4H",
                   "aws_managed_policies": [policy]})
        })
        .collect();
    let teams = params.permission_sets.saturating_sub(FIXED_SETS.len());
    sets.extend((0..teams).map(|j| {
        let name = format!("Team{j}");
        json!({"arn": set_arn(&name), "name": name, "session_duration": "PT8H",
               "aws_managed_policies": [READONLY]})
    }));
    let user_name = |k: usize| match PEOPLE.get(k) {
        Some(p) => format!("{p}@example.com"),
        None => format!("user{k}@example.com"),
    };
    let users: Vec<Value> = (0..params.people)
        .map(|k| {
            json!({"id": format!("u-{k:08}"), "user_name": user_name(k),
                   "emails": [user_name(k)], "active": k % 100 != 99})
        })
        .collect();
    let groups_n = params.groups.max(1);
    let groups: Vec<Value> = (0..groups_n)
        .map(|g| {
            let members: Vec<String> = (0..params.people)
                .filter(|k| k % groups_n == g || (k * 7 + 3) % groups_n == g)
                .map(|k| format!("u-{k:08}"))
                .collect();
            json!({"id": format!("g-{g:06}"), "display_name": format!("team-{g}"), "members": members})
        })
        .collect();
    let mut assignments = Vec::new();
    for i in 0..params.accounts {
        let account = account_id(params, i);
        let mut assign = |set: String, kind: &str, id: String| {
            assignments.push(json!({"account": account, "permission_set": set,
                                    "principal_type": kind, "principal_id": id}));
        };
        for (n, (name, _, _)) in FIXED_SETS.iter().enumerate() {
            assign(
                set_arn(name),
                "GROUP",
                format!("g-{:06}", (i + n) % groups_n),
            );
        }
        for j in team_sets_in(params, i) {
            assign(
                set_arn(&format!("Team{j}")),
                "GROUP",
                format!("g-{:06}", (i + j + 3) % groups_n),
            );
        }
        if params.people > 0 {
            assign(
                set_arn("AdministratorAccess"),
                "USER",
                format!("u-{:08}", i % params.people),
            );
        }
    }
    json!({"format": crate::identity_center::FORMAT,
           "instance": {"arn": format!("arn:aws:sso:::instance/{instance}"),
                        "identity_store_id": format!("d-{:010x}", params.seed % 0xff_ffff_ffff),
                        "region": "us-east-1"},
           "permission_sets": sets, "assignments": assignments, "users": users,
           "groups": groups, "not_analysed": []})
}

/// One generated file: its path relative to the snapshot directory and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// e.g. `accounts/700000000001/gaad.json`.
    pub path: String,
    /// The content.
    pub bytes: Vec<u8>,
    /// Which account (0-based) the file belongs to, for progress reports.
    pub account_index: Option<usize>,
}

/// Why generation stopped.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError<E> {
    /// Parameters out of range.
    #[error("{0}")]
    Params(String),
    /// A generated document failed to parse: a bug in the generator.
    #[error("generated an invalid document: {0}")]
    Model(FormatError),
    /// The sink failed (e.g. a write error).
    #[error(transparent)]
    Sink(E),
}

/// The snapshot time generated data is relative to.
pub const SNAPSHOT_TIME: &str = "2026-11-20T00:00:00Z";
const SNAPSHOT_EPOCH_SECS: i64 = 1_795_132_800;

/// A small, fast, well-mixed PRNG (SplitMix64): deterministic across platforms.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        let n64 = u64::try_from(n.max(1)).unwrap_or(u64::MAX);
        usize::try_from(self.next() % n64).unwrap_or(0)
    }
    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

const SERVICES: &[(&str, &[&str])] = &[
    (
        "s3",
        &["GetObject", "PutObject", "ListBucket", "DeleteObject"],
    ),
    (
        "dynamodb",
        &["GetItem", "PutItem", "Query", "Scan", "UpdateItem"],
    ),
    (
        "sqs",
        &[
            "SendMessage",
            "ReceiveMessage",
            "DeleteMessage",
            "GetQueueAttributes",
        ],
    ),
    ("sns", &["Publish", "ListTopics"]),
    (
        "logs",
        &["CreateLogStream", "PutLogEvents", "FilterLogEvents"],
    ),
    ("cloudwatch", &["PutMetricData", "GetMetricData"]),
    ("kms", &["Decrypt", "GenerateDataKey", "Encrypt"]),
    ("secretsmanager", &["GetSecretValue", "DescribeSecret"]),
    (
        "ec2",
        &[
            "DescribeInstances",
            "RunInstances",
            "TerminateInstances",
            "CreateTags",
        ],
    ),
    (
        "lambda",
        &["InvokeFunction", "UpdateFunctionCode", "GetFunction"],
    ),
    (
        "ecr",
        &["GetAuthorizationToken", "BatchGetImage", "PutImage"],
    ),
    ("ecs", &["UpdateService", "DescribeServices", "RunTask"]),
    ("glue", &["StartJobRun", "GetTable", "GetJobRun"]),
    ("athena", &["StartQueryExecution", "GetQueryResults"]),
    (
        "ssm",
        &[
            "GetParameter",
            "GetParameters",
            "DescribeInstanceInformation",
        ],
    ),
];

const TRUSTED_SERVICES: &[(&str, &str)] = &[
    ("lambda.amazonaws.com", "fn"),
    ("ecs-tasks.amazonaws.com", "task"),
    ("ec2.amazonaws.com", "instance"),
    ("glue.amazonaws.com", "etl"),
    ("codebuild.amazonaws.com", "build"),
];

const WORDS: &[&str] = &[
    "orders",
    "billing",
    "search",
    "checkout",
    "catalog",
    "ledger",
    "ingest",
    "reports",
    "payments",
    "identity",
    "inventory",
    "shipping",
    "pricing",
    "notify",
    "analytics",
    "audit",
];

const PEOPLE: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
];

const OUS: &[(&str, &str)] = &[
    ("ou-gen0-security", "Security"),
    ("ou-gen0-prod0000", "Prod"),
    ("ou-gen0-dev00000", "Dev"),
    ("ou-gen0-sandbox0", "Sandbox"),
];

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const POWER: &str = "arn:aws:iam::aws:policy/PowerUserAccess";
const READONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const LAMBDA_BASIC: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
const SSM_CORE: &str = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";

/// The id of account `index` (0 = management).
pub fn account_id(params: &Params, index: usize) -> String {
    let base = 700_000_000_000_u64 + (params.seed % 1_000) * 100_000;
    format!("{:012}", base + u64::try_from(index).unwrap_or(0))
}

fn doc(value: Value) -> Result<PolicyDocument, FormatError> {
    PolicyDocument::from_json(value, "")
}

fn date(days_ago: u64) -> Option<Timestamp> {
    let secs = SNAPSHOT_EPOCH_SECS - i64::try_from(days_ago).unwrap_or(0) * 86_400;
    Some(Timestamp {
        epoch_millis: secs * 1000,
        text: latch_time::Timestamp(secs).to_string(),
    })
}

fn control(id: &str, name: &str, value: Value) -> Result<ControlPolicy, FormatError> {
    Ok(ControlPolicy {
        id: id.to_owned(),
        name: name.to_owned(),
        document: doc(value)?,
    })
}

fn full_access() -> Result<ControlPolicy, FormatError> {
    well_known(FULL_AWS_ACCESS_ID)
        .ok_or_else(|| FormatError::new("$", "FullAWSAccess is not a well-known policy"))
}

fn rcp_defaults() -> Vec<ControlPolicy> {
    well_known(crate::orgfile::RCP_FULL_AWS_ACCESS_ID)
        .into_iter()
        .collect()
}

/// The organization: management account under the root, the others spread round-robin over
/// the Security, Prod, Dev and Sandbox OUs.
pub fn organization(params: &Params) -> Result<Organization, FormatError> {
    let account_node = |i: usize| -> Result<OrgNode, FormatError> {
        let id = account_id(params, i);
        Ok(OrgNode {
            kind: NodeKind::Account,
            name: if i == 0 {
                "management".to_owned()
            } else {
                format!("workload-{i:04}")
            },
            id,
            scps: vec![full_access()?],
            rcps: rcp_defaults(),
            children: Vec::new(),
            tags: std::collections::BTreeMap::new(),
        })
    };
    let mut ous = Vec::new();
    for (k, (id, name)) in OUS.iter().enumerate() {
        let mut scps = vec![full_access()?];
        if *name == "Sandbox" {
            scps.push(control(
                "p-gensandboxrg",
                "SandboxRegionRestriction",
                json!({"Version": "2012-10-17", "Statement": [{
                    "Effect": "Deny",
                    "NotAction": ["iam:*", "organizations:*", "sts:*", "support:*"],
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}}]}),
            )?);
        }
        let mut children = Vec::new();
        for i in (1..params.accounts).filter(|i| (i - 1) % OUS.len() == k) {
            children.push(account_node(i)?);
        }
        ous.push(OrgNode {
            kind: NodeKind::OrganizationalUnit,
            id: (*id).to_owned(),
            name: (*name).to_owned(),
            scps,
            rcps: rcp_defaults(),
            children,
            tags: std::collections::BTreeMap::new(),
        });
    }
    let mut root_children = vec![account_node(0)?];
    root_children.extend(ous);
    Ok(Organization::new(
        Some(format!("o-gen{:07}", params.seed % 10_000_000)),
        account_id(params, 0),
        OrgNode {
            kind: NodeKind::Root,
            id: "r-gen0".to_owned(),
            name: "Root".to_owned(),
            scps: vec![
                full_access()?,
                control(
                    "p-genleaveorg",
                    "DenyLeaveOrganization",
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
                           "Action": "organizations:LeaveOrganization", "Resource": "*"}]}),
                )?,
            ],
            rcps: rcp_defaults(),
            children: root_children,
            tags: std::collections::BTreeMap::new(),
        },
    ))
}

struct Builder<'p> {
    params: &'p Params,
    id: String,
    rng: Rng,
    account: Account,
    activity: ActivityPlan,
}

impl Builder<'_> {
    fn arn(&self, kind: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}/{name}", self.id)
    }

    fn last_active(&mut self) -> (u32, Option<RoleLastUsed>) {
        let window = u64::from(self.params.days.max(1));
        let idle = if self.rng.chance(50) {
            window + 1 + self.rng.next() % 300
        } else if self.rng.chance(120) {
            4 + self.rng.next() % window
        } else {
            self.rng.next() % 4
        };
        let last = RoleLastUsed {
            date: date(idle),
            region: Some("us-east-1".to_owned()),
        };
        (u32::try_from(idle).unwrap_or(u32::MAX), Some(last))
    }

    fn uses(&mut self, arn: &str, granted: &[String], idle: u32) {
        let mut actions: Vec<String> = granted
            .iter()
            .filter(|_| self.rng.chance(700))
            .cloned()
            .collect();
        if actions.is_empty() {
            actions.extend(granted.first().cloned());
        }
        actions.sort();
        actions.dedup();
        let daily_calls = 1 + u32::try_from(self.rng.next() % 2000).unwrap_or(0);
        let denied_actions = if self.rng.chance(50) {
            vec!["iam:CreateUser".to_owned()]
        } else {
            Vec::new()
        };
        let sessions = if arn.contains(":role/aws-reserved/sso.amazonaws.com/") {
            (0..1 + self.rng.below(3))
                .map(|_| {
                    let who = self.rng.pick(PEOPLE).copied().unwrap_or("person");
                    format!("{who}@example.com")
                })
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        } else {
            Vec::new()
        };
        self.activity.insert(
            arn.to_owned(),
            PrincipalActivity {
                actions,
                daily_calls,
                last_active_days_ago: idle,
                denied_actions,
                sessions,
                regions: Vec::new(),
            },
        );
    }

    /// A few specific actions of 1–3 services, and the inline policy granting them.
    fn app_policy(
        &mut self,
        resource_prefix: &str,
    ) -> Result<(Vec<String>, PolicyDocument), FormatError> {
        let mut granted = Vec::new();
        let mut statements = Vec::new();
        for _ in 0..1 + self.rng.below(3) {
            let Some((service, actions)) = self.rng.pick(SERVICES) else {
                continue;
            };
            let mut chosen: Vec<String> = actions
                .iter()
                .filter(|_| self.rng.chance(600))
                .map(|a| format!("{service}:{a}"))
                .collect();
            if chosen.is_empty() {
                chosen.extend(actions.first().map(|a| format!("{service}:{a}")));
            }
            let resource = match *service {
                "s3" => format!("arn:aws:s3:::{resource_prefix}-{}/*", self.id),
                "dynamodb" => format!(
                    "arn:aws:dynamodb:us-east-1:{}:table/{resource_prefix}",
                    self.id
                ),
                "sqs" => format!("arn:aws:sqs:us-east-1:{}:{resource_prefix}", self.id),
                _ => "*".to_owned(),
            };
            statements.push(json!({"Effect": "Allow", "Action": chosen, "Resource": resource}));
            granted.extend(chosen);
        }
        Ok((
            granted,
            doc(json!({"Version": "2012-10-17", "Statement": statements}))?,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn role(
        &mut self,
        name: String,
        path: &str,
        trust: Value,
        attached: Vec<String>,
        inline: Vec<InlinePolicy>,
        last_used: Option<RoleLastUsed>,
        profile: bool,
    ) -> Result<String, FormatError> {
        let arn = format!("arn:aws:iam::{}:role{path}{name}", self.id);
        let mut tags = Tags::new();
        if self.rng.chance(500) {
            tags.insert(
                "team".to_owned(),
                self.rng.pick(WORDS).copied().unwrap_or("core").to_owned(),
            );
        }
        let role = Role {
            id: format!("AROA{}", id_suffix(&arn)),
            create_date: date(400 + self.rng.next() % 1200),
            trust_policy: doc(trust)?,
            instance_profiles: if profile {
                vec![InstanceProfile {
                    name: name.clone(),
                    arn: format!("arn:aws:iam::{}:instance-profile/{name}", self.id),
                }]
            } else {
                Vec::new()
            },
            arn: arn.clone(),
            name: name.clone(),
            path: path.to_owned(),
            tags,
            inline_policies: inline,
            attached_policies: attached,
            permissions_boundary: None,
            last_used,
        };
        self.account.roles.insert(name, role);
        Ok(arn)
    }

    fn trust_service(service: &str) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
               "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
    }

    fn trust_account(account: &str) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
               "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "sts:AssumeRole"}]})
    }

    fn build(mut self, index: usize) -> Result<(Account, ActivityPlan), FormatError> {
        let mgmt = account_id(self.params, 0);
        let id = self.id.clone();
        // Fixed roles: org access and three Identity Center permission sets.
        self.role(
            "OrganizationAccountAccessRole".to_owned(),
            "/",
            Self::trust_account(&mgmt),
            vec![ADMIN.to_owned()],
            Vec::new(),
            Some(RoleLastUsed::default()),
            false,
        )?;
        let teams: Vec<(String, &str, String)> = team_sets_in(self.params, index)
            .map(|j| {
                (
                    format!("Team{j}"),
                    READONLY,
                    format!("{:016x}", 0x7ea0_0000_u64 + u64::try_from(j).unwrap_or(0)),
                )
            })
            .collect();
        for (set, policy, hex) in FIXED_SETS
            .iter()
            .map(|(s, p, h)| ((*s).to_owned(), *p, (*h).to_owned()))
            .chain(teams)
        {
            let (idle, last) = self.last_active();
            let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Federated": format!("arn:aws:iam::{id}:saml-provider/AWSSSO_7a1c0e2b9d4f6a35_DO_NOT_DELETE")},
                "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}}]});
            let arn = self.role(
                format!("AWSReservedSSO_{set}_{hex}"),
                "/aws-reserved/sso.amazonaws.com/",
                trust,
                vec![policy.to_owned()],
                Vec::new(),
                last,
                false,
            )?;
            let pool: Vec<String> = SERVICES
                .iter()
                .flat_map(|(s, a)| a.iter().map(move |a| format!("{s}:{a}")))
                .collect();
            self.uses(&arn, &pool, idle);
        }
        // Customer-managed policies shared by some roles.
        let mut managed = Vec::new();
        for k in 0..3 {
            let word = self.rng.pick(WORDS).copied().unwrap_or("app");
            let (granted, document) = self.app_policy(word)?;
            let name = format!("{word}-access-{k}");
            let arn = self.arn("policy", &name);
            self.account.managed_policies.insert(
                arn.clone(),
                ManagedPolicy {
                    id: Some(format!("ANPA{}", id_suffix(&arn))),
                    arn: arn.clone(),
                    name,
                    path: "/".to_owned(),
                    default_version_id: "v1".to_owned(),
                    document,
                    other_versions: Vec::new(),
                    origin: PolicyOrigin::Synthetic,
                },
            );
            managed.push((arn, granted));
        }
        // The rest: a realistic mix.
        for n in 4..self.params.roles_per_account {
            let word = self.rng.pick(WORDS).copied().unwrap_or("app");
            let (idle, last) = self.last_active();
            let roll = self.rng.below(1000);
            let (service, suffix) = self
                .rng
                .pick(TRUSTED_SERVICES)
                .copied()
                .unwrap_or(("lambda.amazonaws.com", "fn"));
            let name = format!("{word}-{suffix}-{n:04}");
            let (mut granted, document) = self.app_policy(word)?;
            let mut inline = vec![InlinePolicy {
                name: "app".to_owned(),
                document,
            }];
            let mut attached = Vec::new();
            let mut trust = Self::trust_service(service);
            let mut profile = service == "ec2.amazonaws.com";
            if profile {
                attached.push(SSM_CORE.to_owned());
            }
            if service == "lambda.amazonaws.com" {
                attached.push(LAMBDA_BASIC.to_owned());
            }
            match roll {
                // Admin roles (some of them instance or Lambda roles: escalation targets).
                0..=19 => {
                    attached.push(ADMIN.to_owned());
                    granted.extend(["iam:CreateRole", "ec2:RunInstances"].map(str::to_owned));
                }
                // PassRole into Lambda with create/invoke.
                20..=29 => {
                    inline.push(InlinePolicy {
                        name: "deployer".to_owned(),
                        document: doc(json!({"Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"},
                            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": format!("arn:aws:iam::{id}:role/*")}]}))?,
                    });
                    granted.push("lambda:InvokeFunction".to_owned());
                }
                // PutRolePolicy on itself.
                30..=34 => {
                    let me = format!("arn:aws:iam::{id}:role/{name}");
                    inline.push(InlinePolicy {
                        name: "self-manage".to_owned(),
                        document: doc(json!({"Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": ["iam:PutRolePolicy", "iam:GetRolePolicy"], "Resource": me}]}))?,
                    });
                }
                // UpdateAssumeRolePolicy on the org access role (admin).
                35..=39 => {
                    inline.push(InlinePolicy {
                        name: "trust-admin".to_owned(),
                        document: doc(json!({"Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": "iam:UpdateAssumeRolePolicy",
                             "Resource": format!("arn:aws:iam::{id}:role/OrganizationAccountAccessRole")}]}))?,
                    });
                }
                // Cross-account readers trusted by another account of the organization.
                40..=139 if self.params.accounts > 1 => {
                    let other = 1 + self.rng.below(self.params.accounts - 1);
                    trust = Self::trust_account(&account_id(self.params, other));
                    profile = false;
                    attached.retain(|a| a != SSM_CORE && a != LAMBDA_BASIC);
                }
                // A role trusting an account outside the organization.
                140..=144 => {
                    trust = Self::trust_account("999988887777");
                    profile = false;
                    attached.retain(|a| a != SSM_CORE && a != LAMBDA_BASIC);
                }
                // Customer-managed policies instead of inline.
                145..=399 => {
                    if let Some((arn, g)) = self.rng.pick(&managed).cloned() {
                        attached.push(arn);
                        granted.extend(g);
                    }
                }
                _ => {}
            }
            let arn = self.role(name, "/", trust, attached, inline, last, profile)?;
            self.uses(&arn, &granted, idle);
        }
        // Users: one per 20 roles, in a developers group.
        let users = (self.params.roles_per_account / 20).max(1);
        let group_arn = self.arn("group", "developers");
        self.account.groups.insert(
            "developers".to_owned(),
            Group {
                id: format!("AGPA{}", id_suffix(&group_arn)),
                arn: group_arn,
                name: "developers".to_owned(),
                path: "/".to_owned(),
                create_date: date(900),
                inline_policies: Vec::new(),
                attached_policies: vec![READONLY.to_owned()],
            },
        );
        // Credentials come from their own stream, so adding them left every other draw as it was.
        let mut creds = Rng::new(
            self.params.seed,
            1_000_003 + u64::try_from(index).unwrap_or(0),
        );
        let window = u64::from(self.params.days.max(1));
        let mut rows = vec![CredentialRow {
            user: crate::credentials::ROOT_USER.to_owned(),
            arn: format!("arn:aws:iam::{id}:root"),
            created: date(1500),
            password_enabled: true,
            password_last_used: if creds.chance(300) {
                date(creds.next() % window)
            } else {
                None
            },
            mfa_active: !creds.chance(50),
            // A root access key: rare, and never a good idea.
            access_keys: if creds.chance(10) {
                vec![AccessKey {
                    slot: 1,
                    active: true,
                    last_rotated: date(1400),
                    last_used: None,
                    last_used_service: None,
                }]
            } else {
                Vec::new()
            },
        }];
        for u in 0..users {
            let word = self.rng.pick(WORDS).copied().unwrap_or("dev");
            let name = format!("{word}-user-{u:03}");
            let arn = self.arn("user", &name);
            let (granted, document) = self.app_policy(word)?;
            let (idle, _) = self.last_active();
            let created = date(500 + self.rng.next() % 900);
            self.account.users.insert(
                name.clone(),
                User {
                    id: format!("AIDA{}", id_suffix(&arn)),
                    arn: arn.clone(),
                    name: name.clone(),
                    path: "/".to_owned(),
                    create_date: created.clone(),
                    tags: Tags::new(),
                    inline_policies: vec![InlinePolicy {
                        name: "work".to_owned(),
                        document,
                    }],
                    attached_policies: Vec::new(),
                    permissions_boundary: None,
                    groups: vec!["developers".to_owned()],
                },
            );
            self.uses(&arn, &granted, idle);
            // Key 1 is what the user's calls are made with; now and then a second key was
            // created and forgotten (an unused access key).
            let mut access_keys = vec![AccessKey {
                slot: 1,
                active: true,
                last_rotated: created.clone(),
                last_used: date(u64::from(idle)),
                last_used_service: granted
                    .first()
                    .and_then(|a| a.split(':').next())
                    .map(str::to_owned),
            }];
            if creds.chance(80) {
                access_keys.push(AccessKey {
                    slot: 2,
                    active: true,
                    last_rotated: date(window + 30 + creds.next() % 400),
                    last_used: None,
                    last_used_service: None,
                });
            }
            let password_enabled = creds.chance(300);
            rows.push(CredentialRow {
                user: name,
                arn,
                created,
                password_enabled,
                password_last_used: if password_enabled {
                    date(u64::from(idle) + creds.next() % 10)
                } else {
                    None
                },
                mfa_active: password_enabled && creds.chance(700),
                access_keys,
            });
        }
        self.account.credential_report = Some(CredentialReport { rows });
        // One bucket policy per account, granting a reader role of the next account.
        let next = account_id(self.params, (index + 1) % self.params.accounts.max(1));
        let bucket = format!("arn:aws:s3:::gen-data-{id}");
        self.account.resource_policies = Some(vec![ResourcePolicy {
            resource_arn: bucket.clone(),
            kind: ResourceKind::S3Bucket,
            document: doc(json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{next}:root")},
                "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [bucket.clone(), format!("{bucket}/*")]}]}))?,
        }]);
        self.account.workloads = Some(workloads(&self.account));
        Ok((self.account, self.activity))
    }
}

/// A complete inventory of the account: one resource running as each role a service trusts
/// (a function, task definition, Glue job or CodeBuild project; an instance for each role with
/// an instance profile).
fn workloads(account: &Account) -> crate::workloads::Workloads {
    use crate::workloads::{Workload, WorkloadKind as K, Workloads};
    let id = &account.id;
    let mut items = Vec::new();
    for (n, role) in account.roles.values().enumerate() {
        let trust = role.trust_policy.json();
        let name = &role.name;
        let (kind, arn) = if trust.contains("lambda.amazonaws.com") {
            (
                K::LambdaFunction,
                format!("arn:aws:lambda:us-east-1:{id}:function:{name}"),
            )
        } else if trust.contains("ecs-tasks.amazonaws.com") {
            (
                K::EcsTaskDefinition,
                format!("arn:aws:ecs:us-east-1:{id}:task-definition/{name}:1"),
            )
        } else if trust.contains("glue.amazonaws.com") {
            (
                K::GlueJob,
                format!("arn:aws:glue:us-east-1:{id}:job/{name}"),
            )
        } else if trust.contains("codebuild.amazonaws.com") {
            (
                K::CodeBuildProject,
                format!("arn:aws:codebuild:us-east-1:{id}:project/{name}"),
            )
        } else if trust.contains("ec2.amazonaws.com") && !role.instance_profiles.is_empty() {
            (
                K::Ec2Instance,
                format!("arn:aws:ec2:us-east-1:{id}:instance/i-{n:017x}"),
            )
        } else {
            continue;
        };
        items.push(Workload {
            kind,
            arn,
            role_arn: role.arn.clone(),
            instance_profile_arn: (kind == K::Ec2Instance)
                .then(|| role.instance_profiles.first().map(|p| p.arn.clone()))
                .flatten(),
        });
    }
    items.sort_by(|a, b| a.arn.cmp(&b.arn));
    Workloads {
        inventoried: K::ALL.into_iter().collect(),
        regions: vec!["us-east-1".to_owned()],
        items,
    }
}

/// The IAM contents of account `index` and the activity of its principals.
pub fn account(params: &Params, index: usize) -> Result<(Account, ActivityPlan), FormatError> {
    let id = account_id(params, index);
    let builder = Builder {
        params,
        rng: Rng::new(params.seed, u64::try_from(index).unwrap_or(0) + 1),
        account: Account {
            id: id.clone(),
            name: id.clone(),
            ..Account::default()
        },
        id,
        activity: ActivityPlan::new(),
    };
    builder.build(index)
}

fn to_bytes(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Generates a whole snapshot directory's files, handing each to `sink` in a fixed order:
/// organization.json, then per account gaad.json, credential-report.csv, workloads.json and
/// resource-policies.json, then trails.json (the organization trail the generated CloudTrail
/// stands for) and activity.json.
pub fn generate<E>(
    params: &Params,
    mut sink: impl FnMut(File) -> Result<(), E>,
) -> Result<(), GenerateError<E>> {
    if params.accounts == 0 {
        return Err(GenerateError::Params(
            "--accounts must be at least 1".to_owned(),
        ));
    }
    if params.roles_per_account < 4 {
        return Err(GenerateError::Params(
            "--roles-per-account must be at least 4 (org access and three Identity Center roles)"
                .to_owned(),
        ));
    }
    let org = organization(params).map_err(GenerateError::Model)?;
    sink(File {
        path: "organization.json".to_owned(),
        bytes: to_bytes(&crate::orgfile::to_value(&org)),
        account_index: None,
    })
    .map_err(GenerateError::Sink)?;
    let mut activity = BTreeMap::new();
    for i in 0..params.accounts {
        let (acct, plan) = account(params, i).map_err(GenerateError::Model)?;
        activity.extend(plan);
        let dir = format!("accounts/{}", acct.id);
        sink(File {
            path: format!("{dir}/gaad.json"),
            bytes: to_bytes(&to_gaad(&acct, DocumentStyle::Object)),
            account_index: Some(i),
        })
        .map_err(GenerateError::Sink)?;
        if let Some(report) = &acct.credential_report {
            sink(File {
                path: format!("{dir}/credential-report.csv"),
                bytes: crate::credentials::to_csv(report).into_bytes(),
                account_index: Some(i),
            })
            .map_err(GenerateError::Sink)?;
        }
        if let Some(w) = &acct.workloads {
            sink(File {
                path: format!("{dir}/workloads.json"),
                bytes: to_bytes(&crate::workloads::to_value(w)),
                account_index: Some(i),
            })
            .map_err(GenerateError::Sink)?;
        }
        sink(File {
            path: format!("{dir}/resource-policies.json"),
            bytes: to_bytes(&crate::resources::to_value(
                acct.resource_policies.as_deref().unwrap_or_default(),
            )),
            account_index: Some(i),
        })
        .map_err(GenerateError::Sink)?;
    }
    sink(File {
        path: crate::load::TRAILS_FILE.to_owned(),
        bytes: to_bytes(&crate::trails::generated_trails_value(&account_id(
            params, 0,
        ))),
        account_index: None,
    })
    .map_err(GenerateError::Sink)?;
    if params.people > 0 {
        sink(File {
            path: crate::load::IDENTITY_CENTER_FILE.to_owned(),
            bytes: to_bytes(&identity_center_value(params)),
            account_index: None,
        })
        .map_err(GenerateError::Sink)?;
    }
    sink(File {
        path: "activity.json".to_owned(),
        bytes: to_bytes(&crate::activity::to_value(&activity)),
        account_index: None,
    })
    .map_err(GenerateError::Sink)?;
    Ok(())
}
