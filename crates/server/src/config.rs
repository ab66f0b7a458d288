//! `latch.toml`: the server's configuration.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8080"          # API and Slack endpoints
//! metrics_listen = "127.0.0.1:9090"  # Prometheus, separate listener
//! database = "latch.db"              # or postgres://…; `--database` overrides
//! max_duration = "12h"               # cap for every bundle
//! break_glass = ["alice"]            # people who may break glass
//! max_reason_chars = 1000            # longest reason, comment or revoke reason
//! remind_before = "10m"              # tell a holder this long before a grant ends ("off": never)
//! stuck_after = "2m"                 # alert when an approved grant is still not applied
//! organization = "snapshot/organization.json"   # what `latch collect` wrote: scopes need it
//!
//! [slack]
//! signing_secret_env = "LATCH_SLACK_SIGNING_SECRET"   # or signing_secret = "…"
//! bot_token_env = "LATCH_SLACK_BOT_TOKEN"             # or bot_token = "xoxb-…"
//! approvals_channel = "C0APPROVALS"
//! security_channel = "C0SECURITY"
//!
//! [teams]                                             # Microsoft Teams, through the Bot Framework
//! app_id = "00000000-0000-0000-0000-000000000000"     # the bot's Microsoft App ID
//! tenant = "11111111-1111-1111-1111-111111111111"     # the bot's (and the people's) Entra tenant
//! app_secret_env = "LATCH_TEAMS_APP_SECRET"           # or app_secret = "…"
//! approvals_channel = "19:…@thread.tacv2"             # else each approver in a personal chat
//! security_channel = "19:…@thread.tacv2"
//!
//! [identities.alice]
//! slack = "U01ALICE"
//! teams = "6f1c…"                     # her Entra object id (aadObjectId)
//! aws = "arn:aws:iam::111122223333:role/alice"
//!
//! [groups]
//! security = ["bob", "carol"]
//!
//! [bundles.iam-admin]                 # bundles are defined by the firewall config;
//! max_duration = "1h"                 # this table only adds what approval needs
//! max_total = "3h"                    # with extensions (default: max_duration)
//! self_extend = "30m"                 # more time its holder may take unapproved
//! approvers = ["group:security"]
//! scope = { ous = ["Prod", "Sandbox"] }   # asked for in these accounts only (optional)
//!
//! [[approval]]                        # a richer policy for some bundles (optional)
//! bundles = ["iam-admin"]
//! required_approvals = 2
//! tiers = [ { approvers = ["bob", "carol"], timeout = "15m" },
//!           { approvers = ["dave"], timeout = "30m" } ]
//!
//! [[approval]]                        # in some accounts only: OU ids or names, account ids,
//! bundles = ["iam-admin"]             # account tags (each key narrows the others); the first
//! scope = { ous = ["Sandbox"] }       # scoped rule that covers a request decides it
//! auto_approve = true
//!
//! [aws]                               # where grants land (`latch serve --cloud aws`)
//! region = "us-east-1"                # optional: AWS_REGION, the profile, then us-east-1
//! profile = "latch"                   # optional: the default credential chain otherwise
//! endpoint_url = "http://127.0.0.1:5000"   # optional: an emulator or VPC endpoint
//! member_role = "OrganizationAccountAccessRole"   # assumed in the identity's account
//! member_role_overrides = { "444455556666" = "latch-control-plane" }
//! max_attempts = 5                    # per AWS call, with backoff; 1 = no retries
//!
//! [offers]                            # denial-triggered offers (POST /api/v1/events)
//! firewall_config = "firewall.toml"   # the firewall's latch.toml: bundles and their actions
//! duration = "1h"                     # what the one-click request asks for
//! every = "30m"                       # at most one offer per person and bundle this often
//!
//! [audit]                             # signed checkpoints of the audit log (docs/audit.md)
//! signing_key_file = "audit.key"      # `latch audit keygen --out audit.key`, mode 0600
//! checkpoint_interval = "1h"          # also at start and at shutdown
//! [[audit.publish]]                   # file, slack (the security channel) or s3 (object lock)
//! to = "file"
//! path = "checkpoints.jsonl"
//!
//! [[siem]]                            # stream every audit entry to a SIEM, at least once
//! name = "soc"                        # the cursor's name in the store; a metrics label
//! to = "webhook"                      # or "splunk" (HTTP Event Collector, token_env)
//! url = "https://siem.example.com/latch"
//! secret_env = "LATCH_SIEM_SECRET"    # HMAC-SHA256 key of X-Latch-Signature
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use latch_grant::checkpoint::LockMode;
use latch_grant::{Identity, IdentityKind};
use serde::Deserialize;

use crate::clock::parse_duration;

/// A secret string: never shown by `Debug` or `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that needs it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<empty>"
        } else {
            "<redacted>"
        })
    }
}

/// A database location; `Debug` hides any password in it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseLocation(pub String);

impl fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", latch_grant::redact_location(&self.0))
    }
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {field}: {reason}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// The field (dotted path).
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

// Unknown top-level sections are allowed: the firewall's configuration shares the file.
#[derive(Debug, Deserialize)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    slack: Option<RawSlack>,
    teams: Option<RawTeams>,
    #[serde(default)]
    identities: BTreeMap<String, RawIdentity>,
    #[serde(default)]
    groups: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    bundles: BTreeMap<String, RawBundle>,
    #[serde(default)]
    approval: Vec<RawApproval>,
    aws: Option<RawAws>,
    offers: Option<RawOffers>,
    audit: Option<RawAudit>,
    #[serde(default)]
    siem: Vec<RawSiem>,
    identity_center: Option<RawIdentityCenter>,
    on_call: Option<RawOnCall>,
    web: Option<RawWeb>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeb {
    session_ttl: Option<String>,
    session_key_env: Option<String>,
    public_url: Option<String>,
    posture_dir: Option<String>,
    posture_every: Option<String>,
    oidc: Option<RawOidc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOidc {
    issuer: String,
    client_id: String,
    client_secret_env: String,
    user_claim: Option<String>,
    groups_claim: Option<String>,
    #[serde(default)]
    admin_groups: Vec<String>,
    #[serde(default)]
    approver_groups: Vec<String>,
    #[serde(default)]
    auditor_groups: Vec<String>,
}

/// `[web.oidc]`: signing in to the console through the organization's identity provider
/// (OpenID Connect, authorization code with PKCE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The issuer URL; its discovery document is `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client (application) id registered with the provider.
    pub client_id: String,
    /// The client secret (`client_secret_env`).
    pub client_secret: Secret,
    /// The claim naming the person: an email (matched to a person's email) or a user name
    /// (matched to a person's name). Default `email`.
    pub user_claim: String,
    /// The claim listing the person's groups. Default `groups`.
    pub groups_claim: String,
    /// Groups whose members are admins.
    pub admin_groups: Vec<String>,
    /// Groups whose members are approvers (anyone an approval rule names is one anyway).
    pub approver_groups: Vec<String>,
    /// Groups whose members are auditors (read-only).
    pub auditor_groups: Vec<String>,
}

/// `[web]`: the console at `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    /// How long a session lasts without use (it is renewed while used, up to this long after
    /// the last page).
    pub session_ttl_ms: i64,
    /// The key sessions are signed with (`session_key_env`, at least 32 characters): the same
    /// on every server behind one address. `None`: a random key per process (sessions end at
    /// a restart and hold on this server only).
    pub session_key: Option<Secret>,
    /// The address people open (`https://…`): cookies are then `Secure` and HSTS is sent.
    pub public_url: Option<String>,
    /// Signing in through an OpenID Connect provider, when set.
    pub oidc: Option<OidcConfig>,
    /// A folder the leader reads `scan.json`, `plan.json` (or `plan/plan.json`) and
    /// `prove.json` from for the posture page, besides what `latch report push` sends.
    pub posture_dir: Option<std::path::PathBuf>,
    /// How often it looks at that folder.
    pub posture_every_ms: i64,
}

impl WebConfig {
    /// True when the console is served over HTTPS (by a proxy in front of it).
    #[must_use]
    pub fn secure(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOnCall {
    pagerduty_token_env: Option<String>,
    pagerduty_api: Option<String>,
    opsgenie_key_env: Option<String>,
    opsgenie_api: Option<String>,
    cache: Option<String>,
}

impl fmt::Debug for RawOnCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawOnCall").finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentityCenter {
    instance_arn: Option<String>,
    identity_store_id: Option<String>,
    refresh: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    signing_key_file: Option<String>,
    checkpoint_interval: Option<String>,
    #[serde(default)]
    publish: Vec<RawPublish>,
}

// One flat table per place; which fields apply depends on `to` (checked by hand, so an error
// can name the field that does not belong).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublish {
    to: String,
    path: Option<String>,
    channel: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
    retain: Option<String>,
    mode: Option<String>,
}

// One `[[siem]]` sink; which secret applies depends on `to` (checked by hand, so an error
// can name the field that does not belong).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSiem {
    name: Option<String>,
    to: Option<String>,
    url: Option<String>,
    secret_env: Option<String>,
    token_env: Option<String>,
    max_attempts: Option<i64>,
    batch: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAws {
    region: Option<String>,
    profile: Option<String>,
    endpoint_url: Option<String>,
    member_role: Option<String>,
    #[serde(default)]
    member_role_overrides: BTreeMap<String, String>,
    max_attempts: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffers {
    firewall_config: Option<String>,
    duration: Option<String>,
    every: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    metrics_listen: Option<String>,
    database: Option<String>,
    id: Option<String>,
    max_duration: Option<String>,
    approval_timeout: Option<String>,
    poll_interval: Option<String>,
    reconcile_interval: Option<String>,
    lease_ttl: Option<String>,
    revoke_sessions: Option<bool>,
    remind_before: Option<String>,
    stuck_after: Option<String>,
    #[serde(default)]
    break_glass: Vec<String>,
    max_reason_chars: Option<i64>,
    firewall_config: Option<String>,
    organization: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    signing_secret: Option<String>,
    signing_secret_env: Option<String>,
    bot_token: Option<String>,
    bot_token_env: Option<String>,
    api_base: Option<String>,
    approvals_channel: Option<String>,
    security_channel: Option<String>,
}

impl fmt::Debug for RawSlack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawSlack").finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeams {
    app_id: Option<String>,
    tenant: Option<String>,
    app_secret: Option<String>,
    app_secret_env: Option<String>,
    service_url: Option<String>,
    approvals_channel: Option<String>,
    security_channel: Option<String>,
    openid_metadata_url: Option<String>,
    token_url: Option<String>,
}

impl fmt::Debug for RawTeams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawTeams").finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    slack: Option<String>,
    teams: Option<String>,
    aws: Option<String>,
    kind: Option<IdentityKind>,
    email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawBundle {
    max_duration: Option<String>,
    max_total: Option<String>,
    self_extend: Option<String>,
    on_call: Option<String>,
    #[serde(default)]
    approvers: Vec<String>,
    #[serde(default)]
    auto_approve: bool,
    description: Option<String>,
    scope: Option<RawScope>,
    // The firewall's config also lives here (actions, …); the server ignores it.
    #[serde(flatten)]
    _rest: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    bundles: Vec<String>,
    #[serde(default)]
    auto_approve: bool,
    required_approvals: Option<i32>,
    #[serde(default)]
    tiers: Vec<RawTier>,
    channel: Option<String>,
    scope: Option<RawScope>,
}

/// `scope = { accounts = [..], ous = [..], tags = { KEY = "VALUE" } }`: the accounts named,
/// or under the OUs (by id or name, at any depth), or carrying every tag; each key given
/// narrows the others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    ous: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    approvers: Vec<String>,
    timeout: Option<String>,
}

pub use latch_grant::rules::{ApprovalPolicy, Bundle, Person, Rules, Scope, ScopedPolicy, Tier};

/// Slack settings.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// Request signing secret.
    pub signing_secret: Secret,
    /// Bot token for the Web API.
    pub bot_token: Secret,
    /// Web API base URL (`https://slack.com/api`; tests point it at a fake).
    pub api_base: String,
    /// Default channel for approval messages.
    pub approvals_channel: Option<String>,
    /// Channel told about break-glass grants.
    pub security_channel: Option<String>,
}

/// Microsoft Teams settings (`[teams]`).
#[derive(Debug, Clone)]
pub struct TeamsConfig {
    /// The bot's Microsoft App ID: the audience of inbound tokens and the client id of
    /// outbound ones.
    pub app_id: String,
    /// The Entra ID tenant the bot and Latch's people belong to; activities from any other
    /// tenant are refused.
    pub tenant: String,
    /// The bot's client secret.
    pub app_secret: Secret,
    /// Where proactive messages go (the Bot Connector service of the tenant's region).
    pub service_url: String,
    /// Channel (conversation id) for approval cards; without one, each approver is asked in
    /// a personal chat.
    pub approvals_channel: Option<String>,
    /// Channel told about break-glass grants.
    pub security_channel: Option<String>,
    /// The Bot Framework's OpenID metadata (overridden only by tests).
    pub openid_metadata_url: String,
    /// The tenant's token endpoint (overridden only by tests).
    pub token_url: String,
}

/// `[aws]`: how the server reaches AWS to apply grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// Region; `None` follows `AWS_REGION` and the profile, then `us-east-1`.
    pub region: Option<String>,
    /// Named profile; `None` follows the default credential chain.
    pub profile: Option<String>,
    /// Endpoint for every service (emulators, VPC endpoints).
    pub endpoint_url: Option<String>,
    /// Role assumed in the account of an identity outside the caller's account.
    pub member_role: String,
    /// Per-account exceptions to `member_role`.
    pub member_role_overrides: BTreeMap<String, String>,
    /// Attempts per AWS call (1 = no retries).
    pub max_attempts: u32,
}

/// The role assumed in member accounts unless `[aws] member_role` says otherwise (the one AWS
/// Organizations creates in every account it creates).
pub const DEFAULT_MEMBER_ROLE: &str = "OrganizationAccountAccessRole";

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            region: None,
            profile: None,
            endpoint_url: None,
            member_role: DEFAULT_MEMBER_ROLE.to_owned(),
            member_role_overrides: BTreeMap::new(),
            max_attempts: 5,
        }
    }
}

/// `[identity_center]`: the people, their groups and their roles come from IAM Identity
/// Center, read every `refresh` by the leading server (wired in by the binary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCenterConfig {
    /// The instance (`arn:aws:sso:::instance/ssoins-…`); `None`: the organization's one.
    pub instance_arn: Option<String>,
    /// Its identity store (`d-…`); `None`: the instance's.
    pub identity_store_id: Option<String>,
    /// Seconds between syncs.
    pub refresh_secs: i64,
}

/// An on-call schedule a bundle trusts (`on_call = "pagerduty:PABC123"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Schedule {
    /// A PagerDuty schedule, by id.
    PagerDuty(String),
    /// An Opsgenie schedule, by name.
    Opsgenie(String),
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::PagerDuty(id) => write!(f, "pagerduty:{id}"),
            Schedule::Opsgenie(name) => write!(f, "opsgenie:{name}"),
        }
    }
}

/// `[on_call]`: how to ask PagerDuty and Opsgenie who is on call.
#[derive(Debug, Clone)]
pub struct OnCallConfig {
    /// PagerDuty REST API token (from `pagerduty_token_env`).
    pub pagerduty_token: Option<Secret>,
    /// PagerDuty REST API base (`https://api.pagerduty.com`).
    pub pagerduty_api: String,
    /// Opsgenie API key (from `opsgenie_key_env`).
    pub opsgenie_key: Option<Secret>,
    /// Opsgenie API base (`https://api.opsgenie.com`; `https://api.eu.opsgenie.com` in the EU).
    pub opsgenie_api: String,
    /// How long an answer is trusted, ms.
    pub cache_ms: i64,
}

/// Default `[identity_center] refresh`.
pub const DEFAULT_DIRECTORY_REFRESH_SECS: i64 = 900;

/// The prefix of an approver reference to an Identity Center group (by display name).
pub const DIRECTORY_GROUP_PREFIX: &str = "ic-group:";

/// `[offers]`: denial-triggered offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffersConfig {
    /// The firewall configuration whose bundles say which actions each bundle holds (a path
    /// relative to the server's configuration file is resolved against its folder).
    pub firewall_config: std::path::PathBuf,
    /// The duration the one-click request asks for, seconds.
    pub duration_secs: i64,
    /// At most one offer per person and bundle in this many seconds.
    pub every_secs: i64,
    /// Which actions each bundle holds (lower-cased `service:action`), read from
    /// `firewall_config` by whoever starts the server (the binary); empty after [`Config::parse`].
    pub bundle_actions: BTreeMap<String, BTreeSet<String>>,
}

/// `[audit]`: signed checkpoints of the audit log.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The Ed25519 key file (`latch audit keygen`); a relative path is resolved against the
    /// configuration file's folder.
    pub signing_key_file: std::path::PathBuf,
    /// The key itself, read from `signing_key_file` by whoever starts the server
    /// ([`AuditConfig::load_signing_key`]); `None` after [`Config::parse`]. `Debug` shows only
    /// its public key.
    pub signing_key: Option<latch_grant::checkpoint::SigningKey>,
    /// Seconds between checkpoints (one is also written at start and at shutdown).
    pub checkpoint_interval_secs: i64,
    /// Where each checkpoint goes (at least one place).
    pub publish: Vec<CheckpointTarget>,
}

/// One place checkpoints are published to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointTarget {
    /// Append one JSON line per checkpoint (the file is created mode 0600).
    File {
        /// The file (relative: against the configuration file's folder).
        path: std::path::PathBuf,
    },
    /// Post each checkpoint to a Slack channel (by default `[slack] security_channel`).
    Slack {
        /// Channel id.
        channel: String,
    },
    /// Put each checkpoint as an S3 object under object lock (wired in by the binary).
    S3 {
        /// Bucket (created with object lock enabled).
        bucket: String,
        /// Key prefix.
        prefix: String,
        /// Seconds each object stays locked.
        retain_secs: i64,
        /// Lock mode.
        mode: LockMode,
    },
}

/// Default `[audit] checkpoint_interval`.
pub const DEFAULT_CHECKPOINT_INTERVAL_SECS: i64 = 3600;

impl AuditConfig {
    /// Read `signing_key_file` into `signing_key`. The file must be readable by its owner only
    /// (on Unix), as for SSH keys.
    ///
    /// # Errors
    /// Unreadable or too open a file, or not a key (the error never quotes the file).
    pub fn load_signing_key(&mut self) -> Result<(), ConfigError> {
        let path = &self.signing_key_file;
        let err = |reason: String| ConfigError {
            file: path.display().to_string(),
            field: "audit.signing_key_file".into(),
            reason,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(err(format!(
                    "the key file is mode {mode:03o}: others may read it; make it readable by its owner only (chmod 600)"
                )));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let key = latch_grant::checkpoint::SigningKey::from_file_text(&text).map_err(err)?;
        self.signing_key = Some(key);
        Ok(())
    }
}

/// The whole configuration, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// API listen address.
    pub listen: String,
    /// Metrics listen address (none = no metrics listener).
    pub metrics_listen: Option<String>,
    /// Database location.
    pub database: DatabaseLocation,
    /// This server's name (leases, logs).
    pub server_id: String,
    /// Global cap on grant durations, seconds.
    pub max_duration_secs: i64,
    /// How often the scheduler polls the store, ms.
    pub poll_interval_ms: i64,
    /// How often the reconciler runs, ms.
    pub reconcile_interval_ms: i64,
    /// Leadership lease (SQLite), ms.
    pub lease_ttl_ms: i64,
    /// Cut off sessions issued before a revocation by default.
    pub revoke_sessions: bool,
    /// A grant approved this long ago and still not applied is alerted on, ms (0: never).
    pub stuck_after_ms: i64,
    /// What the workflow decides by: people, bundles and their approval policies, who may
    /// break glass, how long a reason may be.
    pub rules: Rules,
    /// The Slack channel of each bundle whose `[[approval]]` names one.
    pub approval_channels: BTreeMap<String, String>,
    /// Slack, when configured.
    pub slack: Option<SlackConfig>,
    /// Microsoft Teams, when configured.
    pub teams: Option<TeamsConfig>,
    /// `[aws]`, when present.
    pub aws: Option<AwsConfig>,
    /// `[offers]`, when present.
    pub offers: Option<OffersConfig>,
    /// `[server] firewall_config`: the firewall configuration whose bundles the applied SCPs
    /// honour (resolved against the server configuration's folder). `None`: the firewall's
    /// default bundles, what `latch plan` uses without `--config`.
    pub firewall_config: Option<std::path::PathBuf>,
    /// `[audit]`, when present: signed checkpoints.
    pub audit: Option<AuditConfig>,
    /// `[[siem]]`: the SIEM sinks every audit entry is streamed to (none: no streaming).
    pub siem: Vec<SiemSink>,
    /// `[identity_center]`, when present: people and groups from IAM Identity Center.
    pub identity_center: Option<IdentityCenterConfig>,
    /// `[on_call]`, when present.
    pub on_call: Option<OnCallConfig>,
    /// The on-call schedule of each bundle that names one.
    pub on_call_schedules: BTreeMap<String, Schedule>,
    /// `[web]`, with its defaults when absent.
    pub web: WebConfig,
}

impl Config {
    /// Read and check a file.
    ///
    /// # Errors
    /// Unreadable file (missing, a folder, a link loop, not UTF-8, UTF-16, empty), bad TOML,
    /// or a field that does not make sense (named).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text =
            latch_input::read(path, latch_input::Expected::Toml).map_err(|e| ConfigError {
                file: file.clone(),
                field: "(file)".into(),
                reason: e.problem.to_string(),
            })?;
        Config::parse(&text, &file, &|name| std::env::var(name).ok())
    }

    /// Parse and check text; `env` looks up `*_env` secrets.
    ///
    /// # Errors
    /// Bad TOML, or a field that does not make sense (named).
    pub fn parse(
        text: &str,
        file: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let err = |field: &str, reason: String| ConfigError {
            file: file.to_owned(),
            field: field.to_owned(),
            reason,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_owned();
            let at = e
                .span()
                .map(|s| {
                    let line = text.get(..s.start).map_or(0, |p| p.lines().count().max(1));
                    format!("line {line}")
                })
                .unwrap_or_else(|| "(document)".to_owned());
            err(&at, msg)
        })?;
        let dur = |field: &str, v: &Option<String>, default: i64| -> Result<i64, ConfigError> {
            match v {
                Some(s) => parse_duration(s).map_err(|e| err(field, e)),
                None => Ok(default),
            }
        };
        let s = &raw.server;
        let max_duration_secs = dur("server.max_duration", &s.max_duration, 12 * 3600)?;
        let approval_timeout = dur("server.approval_timeout", &s.approval_timeout, 3600)?;

        // People.
        let mut people = BTreeMap::new();
        let mut chat_ids: BTreeMap<(&str, String), String> = BTreeMap::new();
        for (name, p) in &raw.identities {
            let field = format!("identities.{name}");
            let aws = match &p.aws {
                None if raw.identity_center.is_some() => None,
                None => {
                    return Err(err(
                        &format!("{field}.aws"),
                        "missing: name the role or user ARN (or the aws:userid) their grants land on; only with [identity_center] may a person's grants land on the Identity Center role of the account each request names".into(),
                    ))
                }
                Some(aws) => Some(Identity {
                    kind: match p.kind {
                        Some(k) => k,
                        None if aws.starts_with("arn:aws") && aws.contains(":role/") => {
                            IdentityKind::Role
                        }
                        None if aws.starts_with("arn:aws") && aws.contains(":user/") => {
                            IdentityKind::User
                        }
                        None => {
                            return Err(err(
                                &format!("{field}.aws"),
                                format!(
                                    "`{aws}` is neither a role nor a user ARN: set `kind = \"identity_center\"` for an aws:userid"
                                ),
                            ))
                        }
                    },
                    id: aws.clone(),
                }),
            };
            for (platform, label, id) in [
                ("slack", "Slack user", &p.slack),
                ("teams", "Teams user", &p.teams),
            ] {
                let Some(id) = id else { continue };
                if id.trim().is_empty() {
                    return Err(err(
                        &format!("{field}.{platform}"),
                        "empty (leave the key out instead)".into(),
                    ));
                }
                if let Some(other) = chat_ids.insert((platform, id.clone()), name.clone()) {
                    return Err(err(
                        &format!("{field}.{platform}"),
                        format!("{label} `{id}` is already mapped to `{other}`"),
                    ));
                }
            }
            people.insert(
                name.clone(),
                Person {
                    name: name.clone(),
                    aws,
                    roles: Vec::new(),
                    groups: BTreeSet::new(),
                    email: p.email.clone(),
                    chat: [
                        (crate::slack::PLATFORM, &p.slack),
                        (crate::teams::PLATFORM, &p.teams),
                    ]
                    .into_iter()
                    .filter_map(|(platform, id)| Some((platform.to_owned(), id.clone()?)))
                    .collect(),
                },
            );
        }

        // Approver references: a person, `group:NAME` or `ic-group:NAME` (an Identity Center
        // group, whose members are known only once the directory is read).
        let expand = |field: &str,
                      names: &[String]|
         -> Result<(Vec<String>, Vec<String>), ConfigError> {
            let mut out = BTreeSet::new();
            let mut directory_groups = BTreeSet::new();
            for n in names {
                if let Some(group) = n.strip_prefix(DIRECTORY_GROUP_PREFIX) {
                    if raw.identity_center.is_none() {
                        return Err(err(
                            field,
                            format!("`{n}` names an Identity Center group: configure [identity_center] too"),
                        ));
                    }
                    if group.trim().is_empty() {
                        return Err(err(field, format!("`{n}` names no group")));
                    }
                    directory_groups.insert(group.to_owned());
                } else if let Some(group) = n.strip_prefix("group:") {
                    let members = raw.groups.get(group).ok_or_else(|| {
                        err(
                            field,
                            format!("unknown group `{group}` (define it under [groups])"),
                        )
                    })?;
                    for m in members {
                        if !people.contains_key(m) {
                            return Err(err(
                                &format!("groups.{group}"),
                                format!("unknown person `{m}` (define it under [identities])"),
                            ));
                        }
                        out.insert(m.clone());
                    }
                } else if people.contains_key(n) {
                    out.insert(n.clone());
                } else {
                    return Err(err(
                        field,
                        format!(
                            "unknown approver `{n}` (a name from [identities], `group:NAME` or `{DIRECTORY_GROUP_PREFIX}NAME`)"
                        ),
                    ));
                }
            }
            Ok((
                out.into_iter().collect(),
                directory_groups.into_iter().collect(),
            ))
        };

        // The organization, for scopes: which accounts an OU or a tag covers.
        let organization = match &s.organization {
            None => None,
            Some(f) if f.trim().is_empty() => {
                return Err(err(
                    "server.organization",
                    "empty (name the organization.json that `latch collect` wrote)".into(),
                ))
            }
            Some(f) => {
                let path = beside(file, f);
                let text = latch_input::read(&path, latch_input::Expected::Json).map_err(|e| {
                    err(
                        "server.organization",
                        format!("{}: {}", path.display(), e.problem),
                    )
                })?;
                Some(
                    latch_model::orgfile::parse_organization_str(&text).map_err(|e| {
                        err("server.organization", format!("{}: {e}", path.display()))
                    })?,
                )
            }
        };
        let resolve = |field: &str, raw: &RawScope| -> Result<Scope, ConfigError> {
            let org = organization.as_ref().ok_or_else(|| {
                err(
                    field,
                    "a scope needs the organization: set [server] organization to the organization.json `latch collect` wrote".into(),
                )
            })?;
            resolve_scope(org, raw).map_err(|reason| err(field, reason))
        };

        // Bundles and their policies: one [[approval]] without a scope replaces a bundle's
        // own approvers; those with a scope decide the requests in their accounts, the first
        // that covers them in file order.
        let mut overrides: BTreeMap<String, (usize, &RawApproval)> = BTreeMap::new();
        let mut scoped_rules: BTreeMap<String, Vec<(usize, &RawApproval)>> = BTreeMap::new();
        for (i, a) in raw.approval.iter().enumerate() {
            for b in &a.bundles {
                if !raw.bundles.contains_key(b) {
                    return Err(err(
                        &format!("approval[{i}].bundles"),
                        format!("unknown bundle `{b}` (define it under [bundles.{b}])"),
                    ));
                }
                if a.scope.is_some() {
                    if a.channel.is_some() {
                        return Err(err(
                            &format!("approval[{i}].channel"),
                            "a bundle's approval channel is set on its [[approval]] without a scope, for every request".into(),
                        ));
                    }
                    scoped_rules.entry(b.clone()).or_default().push((i, a));
                } else if overrides.insert(b.clone(), (i, a)).is_some() {
                    return Err(err(
                        &format!("approval[{i}].bundles"),
                        format!("bundle `{b}` already has an [[approval]] policy without a scope (give this one a `scope`, or merge them)"),
                    ));
                }
            }
        }
        let policy_of = |afield: &str, a: &RawApproval| -> Result<ApprovalPolicy, ConfigError> {
            let mut tiers = Vec::new();
            for (t, tier) in a.tiers.iter().enumerate() {
                let tf = format!("{afield}.tiers[{t}]");
                let (approvers, directory_groups) =
                    expand(&format!("{tf}.approvers"), &tier.approvers)?;
                tiers.push(Tier {
                    approvers,
                    directory_groups,
                    timeout_secs: dur(&format!("{tf}.timeout"), &tier.timeout, approval_timeout)?,
                });
            }
            Ok(ApprovalPolicy {
                auto_approve: a.auto_approve,
                required_approvals: a.required_approvals.unwrap_or(1),
                tiers,
            })
        };
        let mut bundles = BTreeMap::new();
        let mut approval_channels = BTreeMap::new();
        let mut on_call_schedules = BTreeMap::new();
        for (name, b) in &raw.bundles {
            let field = format!("bundles.{name}");
            let max = dur(
                &format!("{field}.max_duration"),
                &b.max_duration,
                max_duration_secs,
            )?;
            if max > max_duration_secs {
                return Err(err(
                    &format!("{field}.max_duration"),
                    format!("longer than server.max_duration ({max_duration_secs}s)"),
                ));
            }
            let (rule, policy) = if let Some((i, a)) = overrides.get(name) {
                if let Some(c) = &a.channel {
                    approval_channels.insert(name.clone(), c.clone());
                }
                let afield = format!("approval[{i}]");
                (afield.clone(), policy_of(&afield, a)?)
            } else {
                let (approvers, directory_groups) =
                    expand(&format!("{field}.approvers"), &b.approvers)?;
                (
                    field.clone(),
                    ApprovalPolicy {
                        auto_approve: b.auto_approve,
                        required_approvals: 1,
                        tiers: if approvers.is_empty() && directory_groups.is_empty() {
                            Vec::new()
                        } else {
                            vec![Tier {
                                approvers,
                                directory_groups,
                                timeout_secs: approval_timeout,
                            }]
                        },
                    },
                )
            };
            let scope = match &b.scope {
                Some(r) => Some(resolve(&format!("{field}.scope"), r)?),
                None => None,
            };
            let mut scoped = Vec::new();
            for (i, a) in scoped_rules.get(name).into_iter().flatten() {
                let afield = format!("approval[{i}]");
                let Some(raw_scope) = &a.scope else { continue };
                let mut rule_scope = resolve(&format!("{afield}.scope"), raw_scope)?;
                if let Some(bundle_scope) = &scope {
                    rule_scope.accounts.retain(|acc| bundle_scope.covers(acc));
                    if rule_scope.accounts.is_empty() {
                        return Err(err(
                            &format!("{afield}.scope"),
                            format!(
                                "covers no account bundle `{name}` may be asked for in ({} against the bundle's {}): it would never decide anything",
                                rule_scope.said, bundle_scope.said
                            ),
                        ));
                    }
                }
                if let Some(earlier) = scoped
                    .iter()
                    .find(|p: &&ScopedPolicy| rule_scope.accounts.is_subset(&p.scope.accounts))
                {
                    return Err(err(
                        &format!("{afield}.scope"),
                        format!(
                            "every account it covers for bundle `{name}` is covered by {} before it: it would never decide anything",
                            earlier.rule
                        ),
                    ));
                }
                scoped.push(ScopedPolicy {
                    rule: afield.clone(),
                    scope: rule_scope,
                    policy: policy_of(&afield, a)?,
                });
            }
            for (rule, policy) in std::iter::once((rule.as_str(), &policy))
                .chain(scoped.iter().map(|p| (p.rule.as_str(), &p.policy)))
            {
                check_policy(name, policy).map_err(|reason| err(rule, reason))?;
            }
            let max_total = dur(&format!("{field}.max_total"), &b.max_total, max)?;
            if max_total < max || max_total > max_duration_secs {
                return Err(err(
                    &format!("{field}.max_total"),
                    format!(
                        "{} must be between the bundle's max_duration ({}) and server.max_duration ({}): it is how long a grant may last with its extensions",
                        workflow_duration(max_total),
                        workflow_duration(max),
                        workflow_duration(max_duration_secs)
                    ),
                ));
            }
            let on_call = match &b.on_call {
                None => None,
                Some(v) => {
                    let schedule = match v.split_once(':') {
                        Some(("pagerduty", id)) if !id.trim().is_empty() => {
                            Schedule::PagerDuty(id.to_owned())
                        }
                        Some(("opsgenie", name)) if !name.trim().is_empty() => {
                            Schedule::Opsgenie(name.to_owned())
                        }
                        _ => {
                            return Err(err(
                                &format!("{field}.on_call"),
                                format!("`{v}` is not `pagerduty:<schedule id>` or `opsgenie:<schedule name>`"),
                            ))
                        }
                    };
                    let o = raw.on_call.as_ref();
                    let (provider, key, var) = match &schedule {
                        Schedule::PagerDuty(_) => (
                            "PagerDuty",
                            o.and_then(|o| o.pagerduty_token_env.as_ref()),
                            "pagerduty_token_env",
                        ),
                        Schedule::Opsgenie(_) => (
                            "Opsgenie",
                            o.and_then(|o| o.opsgenie_key_env.as_ref()),
                            "opsgenie_key_env",
                        ),
                    };
                    if key.is_none() {
                        return Err(err(
                            &format!("{field}.on_call"),
                            format!("{provider} is not configured: name its credential in [on_call] {var}"),
                        ));
                    }
                    on_call_schedules.insert(name.clone(), schedule.clone());
                    Some(schedule.to_string())
                }
            };
            let self_extend = dur(&format!("{field}.self_extend"), &b.self_extend, 0)?;
            if self_extend < 0 || self_extend > max_total {
                return Err(err(
                    &format!("{field}.self_extend"),
                    format!(
                        "{} is more than the bundle's max_total ({})",
                        workflow_duration(self_extend),
                        workflow_duration(max_total)
                    ),
                ));
            }
            bundles.insert(
                name.clone(),
                Bundle {
                    name: name.clone(),
                    max_duration_secs: max,
                    max_total_secs: max_total,
                    self_extend_secs: self_extend,
                    on_call,
                    policy,
                    scoped,
                    scope,
                    description: b.description.clone(),
                },
            );
        }

        let mut break_glass = BTreeSet::new();
        for p in &s.break_glass {
            if !people.contains_key(p) {
                return Err(err(
                    "server.break_glass",
                    format!("unknown person `{p}` (define it under [identities])"),
                ));
            }
            break_glass.insert(p.clone());
        }

        let secret =
            |field: &str, direct: &Option<String>, var: &Option<String>| match (direct, var) {
                (Some(v), _) => Ok(Secret::new(v.clone())),
                (None, Some(var)) => env(var)
                    .map(Secret::new)
                    .ok_or_else(|| err(field, format!("environment variable `{var}` is not set"))),
                (None, None) => Err(err(
                    field,
                    "missing (set it, or name an environment variable with the `_env` form)".into(),
                )),
            };
        let web = match &raw.web {
            None => WebConfig {
                session_ttl_ms: 8 * 3600 * 1000,
                session_key: None,
                public_url: None,
                oidc: None,
                posture_dir: None,
                posture_every_ms: 60_000,
            },
            Some(w) => {
                let ttl = dur("web.session_ttl", &w.session_ttl, 8 * 3600)?;
                if !(60..=7 * 24 * 3600).contains(&ttl) {
                    return Err(err(
                        "web.session_ttl",
                        "between 1m and 7d: how long a session lasts without use".into(),
                    ));
                }
                let session_key = match &w.session_key_env {
                    None => None,
                    Some(var) => {
                        let key = env(var).ok_or_else(|| {
                            err(
                                "web.session_key_env",
                                format!("environment variable `{var}` is not set"),
                            )
                        })?;
                        if key.chars().count() < 32 {
                            return Err(err(
                                "web.session_key_env",
                                format!("`{var}` holds fewer than 32 characters: use a long random value (e.g. `openssl rand -hex 32`)"),
                            ));
                        }
                        Some(Secret::new(key))
                    }
                };
                if let Some(u) = &w.public_url {
                    if !(u.starts_with("https://") || u.starts_with("http://")) {
                        return Err(err(
                            "web.public_url",
                            format!("`{u}` is not an http:// or https:// address"),
                        ));
                    }
                }
                let oidc = match &w.oidc {
                    None => None,
                    Some(o) => {
                        if w.public_url.is_none() {
                            return Err(err(
                                "web.public_url",
                                "missing: OpenID Connect sends people back to {public_url}/login/callback (register that address with the provider)".into(),
                            ));
                        }
                        if !(o.issuer.starts_with("https://") || o.issuer.starts_with("http://")) {
                            return Err(err(
                                "web.oidc.issuer",
                                format!("`{}` is not an http(s) URL", o.issuer),
                            ));
                        }
                        let client_secret = env(&o.client_secret_env).ok_or_else(|| {
                            err(
                                "web.oidc.client_secret_env",
                                format!(
                                    "environment variable `{}` is not set",
                                    o.client_secret_env
                                ),
                            )
                        })?;
                        Some(OidcConfig {
                            issuer: o.issuer.trim_end_matches('/').to_owned(),
                            client_id: o.client_id.clone(),
                            client_secret: Secret::new(client_secret),
                            user_claim: o.user_claim.clone().unwrap_or_else(|| "email".into()),
                            groups_claim: o.groups_claim.clone().unwrap_or_else(|| "groups".into()),
                            admin_groups: o.admin_groups.clone(),
                            approver_groups: o.approver_groups.clone(),
                            auditor_groups: o.auditor_groups.clone(),
                        })
                    }
                };
                let posture_dir = match &w.posture_dir {
                    None => None,
                    Some(d) if d.trim().is_empty() => {
                        return Err(err(
                            "web.posture_dir",
                            "empty (name the folder `latch scan`, `latch plan` and `latch prove` write to)".into(),
                        ))
                    }
                    Some(d) => {
                        let dir = beside(file, d);
                        if !dir.is_dir() {
                            return Err(err(
                                "web.posture_dir",
                                format!("`{}` is not a folder", dir.display()),
                            ));
                        }
                        Some(dir)
                    }
                };
                let every = dur("web.posture_every", &w.posture_every, 60)?;
                if !(1..=24 * 3600).contains(&every) {
                    return Err(err(
                        "web.posture_every",
                        "between 1s and 24h: how often the posture folder is read".into(),
                    ));
                }
                WebConfig {
                    session_ttl_ms: ttl.saturating_mul(1000),
                    session_key,
                    public_url: w.public_url.clone(),
                    oidc,
                    posture_dir,
                    posture_every_ms: every.saturating_mul(1000),
                }
            }
        };
        let slack = match &raw.slack {
            None => None,
            Some(sl) => Some(SlackConfig {
                signing_secret: secret(
                    "slack.signing_secret",
                    &sl.signing_secret,
                    &sl.signing_secret_env,
                )?,
                bot_token: secret("slack.bot_token", &sl.bot_token, &sl.bot_token_env)?,
                api_base: sl
                    .api_base
                    .clone()
                    .unwrap_or_else(|| "https://slack.com/api".to_owned())
                    .trim_end_matches('/')
                    .to_owned(),
                approvals_channel: sl.approvals_channel.clone(),
                security_channel: sl.security_channel.clone(),
            }),
        };
        let teams = match &raw.teams {
            None => None,
            Some(t) => Some(parse_teams(
                t,
                secret("teams.app_secret", &t.app_secret, &t.app_secret_env)?,
                &err,
            )?),
        };

        let aws = match &raw.aws {
            None => None,
            Some(a) => Some(parse_aws(a, &err)?),
        };
        let offers = match &raw.offers {
            None => None,
            Some(o) => {
                let path = match (&o.firewall_config, &s.firewall_config) {
                    (Some(f), _) if f.trim().is_empty() => {
                        return Err(err(
                            "offers.firewall_config",
                            "empty (name the firewall's configuration file)".into(),
                        ))
                    }
                    (Some(f), _) => beside(file, f),
                    (None, Some(f)) if !f.trim().is_empty() => beside(file, f),
                    (None, _) => {
                        return Err(err(
                            "offers",
                            "offers need the firewall's configuration (which actions each bundle holds): set [server] firewall_config".into(),
                        ))
                    }
                };
                let duration_secs = dur("offers.duration", &o.duration, 3600)?;
                if duration_secs > max_duration_secs {
                    return Err(err(
                        "offers.duration",
                        format!("longer than server.max_duration ({max_duration_secs}s)"),
                    ));
                }
                if raw.slack.is_none() && raw.teams.is_none() {
                    return Err(err(
                        "offers",
                        "offers are chat messages: configure [slack] or [teams] too".into(),
                    ));
                }
                Some(OffersConfig {
                    firewall_config: path,
                    duration_secs,
                    every_secs: dur("offers.every", &o.every, 1800)?,
                    bundle_actions: BTreeMap::new(),
                })
            }
        };

        let ms = |field: &str, v: &Option<String>, default_ms: i64| -> Result<i64, ConfigError> {
            match v {
                Some(_) => Ok(dur(field, v, 0)?.saturating_mul(1000)),
                None => Ok(default_ms),
            }
        };
        let max_reason_chars = max_reason_chars(s.max_reason_chars, &err)?;
        let poll_interval_ms = ms("server.poll_interval", &s.poll_interval, 500)?;
        let lease_ttl_ms = ms("server.lease_ttl", &s.lease_ttl, 15_000)?;
        // The leader renews its lease once per poll: a lease shorter than two polls lapses
        // between renewals, and leadership (with the cloud calls) flaps between servers.
        if lease_ttl_ms < poll_interval_ms.saturating_mul(2) {
            return Err(err(
                "server.lease_ttl",
                format!(
                    "{}s is shorter than two polls (server.poll_interval = {}s): the leader's lease would lapse between renewals",
                    lease_ttl_ms / 1000,
                    poll_interval_ms / 1000
                ),
            ));
        }
        let firewall_config = match &s.firewall_config {
            Some(f) if f.trim().is_empty() => {
                return Err(err(
                    "server.firewall_config",
                    "empty (name the firewall's configuration file, or leave the key out to use the default bundles)".into(),
                ))
            }
            Some(f) => Some(beside(file, f)),
            None => None,
        };
        if let Some(id) = &s.id {
            latch_grant::workflow::check_name(
                "server.id",
                id,
                latch_grant::workflow::MAX_NAME_CHARS,
            )
            .map_err(|e| err("server.id", e.message))?;
        }
        let audit = match &raw.audit {
            None => None,
            Some(a) => Some(parse_audit(a, file, slack.as_ref(), &err)?),
        };
        let siem = parse_siem(&raw.siem, env, &err)?;
        let on_call = match &raw.on_call {
            None => None,
            Some(o) => {
                let cred =
                    |field: &str, var: &Option<String>| -> Result<Option<Secret>, ConfigError> {
                        match var {
                            None => Ok(None),
                            Some(v) => env(v).map(|s| Some(Secret::new(s))).ok_or_else(|| {
                                err(field, format!("environment variable `{v}` is not set"))
                            }),
                        }
                    };
                let base = |field: &str,
                            v: &Option<String>,
                            default: &str|
                 -> Result<String, ConfigError> {
                    let url = v.clone().unwrap_or_else(|| default.to_owned());
                    if !(url.starts_with("https://")
                        || url.starts_with("http://127.0.0.1")
                        || url.starts_with("http://localhost"))
                    {
                        return Err(err(field, format!("`{url}` is not an https:// URL (plain http is allowed to 127.0.0.1 and localhost only)")));
                    }
                    Ok(url.trim_end_matches('/').to_owned())
                };
                Some(OnCallConfig {
                    pagerduty_token: cred("on_call.pagerduty_token_env", &o.pagerduty_token_env)?,
                    pagerduty_api: base(
                        "on_call.pagerduty_api",
                        &o.pagerduty_api,
                        "https://api.pagerduty.com",
                    )?,
                    opsgenie_key: cred("on_call.opsgenie_key_env", &o.opsgenie_key_env)?,
                    opsgenie_api: base(
                        "on_call.opsgenie_api",
                        &o.opsgenie_api,
                        "https://api.opsgenie.com",
                    )?,
                    cache_ms: dur("on_call.cache", &o.cache, 60)?.saturating_mul(1000),
                })
            }
        };
        let identity_center = match &raw.identity_center {
            None => None,
            Some(ic) => {
                if let Some(arn) = &ic.instance_arn {
                    if !arn.starts_with("arn:aws") || !arn.contains(":instance/ssoins-") {
                        return Err(err(
                            "identity_center.instance_arn",
                            format!("`{arn}` is not an Identity Center instance ARN (arn:aws:sso:::instance/ssoins-…)"),
                        ));
                    }
                }
                if let Some(id) = &ic.identity_store_id {
                    if !id.starts_with("d-") {
                        return Err(err(
                            "identity_center.identity_store_id",
                            format!("`{id}` is not an identity store id (d-…)"),
                        ));
                    }
                }
                let refresh_secs = dur(
                    "identity_center.refresh",
                    &ic.refresh,
                    DEFAULT_DIRECTORY_REFRESH_SECS,
                )?;
                if refresh_secs < 60 {
                    return Err(err(
                        "identity_center.refresh",
                        "shorter than a minute: every sync lists every user, group and assignment"
                            .into(),
                    ));
                }
                Some(IdentityCenterConfig {
                    instance_arn: ic.instance_arn.clone(),
                    identity_store_id: ic.identity_store_id.clone(),
                    refresh_secs,
                })
            }
        };
        Ok(Config {
            listen: s
                .listen
                .clone()
                .unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
            metrics_listen: s.metrics_listen.clone(),
            database: DatabaseLocation(s.database.clone().unwrap_or_else(|| "latch.db".to_owned())),
            server_id: s.id.clone().unwrap_or_else(default_server_id),
            max_duration_secs,
            poll_interval_ms,
            reconcile_interval_ms: ms("server.reconcile_interval", &s.reconcile_interval, 300_000)?,
            lease_ttl_ms,
            revoke_sessions: s.revoke_sessions.unwrap_or(true),
            stuck_after_ms: match s.stuck_after.as_deref() {
                Some("off") => 0,
                _ => dur("server.stuck_after", &s.stuck_after, 120)?.saturating_mul(1000),
            },
            rules: Rules {
                people,
                bundles,
                break_glass,
                max_reason_chars,
                remind_before_secs: match s.remind_before.as_deref() {
                    Some("off") => 0,
                    _ => dur("server.remind_before", &s.remind_before, 600)?,
                },
            },
            approval_channels,
            slack,
            teams,
            aws,
            offers,
            firewall_config,
            audit,
            identity_center,
            siem,
            on_call,
            on_call_schedules,
            web,
        })
    }

    /// The person a Slack user id maps to.
    #[must_use]
    pub fn person_by_slack(&self, slack_user: &str) -> Option<&Person> {
        self.person_by_chat(crate::slack::PLATFORM, slack_user)
    }

    /// The person whose id on chat `platform` is `id`.
    #[must_use]
    pub fn person_by_chat(&self, platform: &str, id: &str) -> Option<&Person> {
        self.rules.person_by_chat(platform, id)
    }

    /// The chat platforms configured, by platform name.
    #[must_use]
    pub fn chat_platforms(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.slack.is_some() {
            out.push(crate::slack::PLATFORM);
        }
        if self.teams.is_some() {
            out.push(crate::teams::PLATFORM);
        }
        out
    }
}

/// A policy that could not work: too many or too few approvals, nobody to approve, or a
/// tier too small — and the approver whose own requests could only expire.
fn check_policy(bundle: &str, policy: &ApprovalPolicy) -> Result<(), String> {
    if !(1..=2).contains(&policy.required_approvals) {
        return Err("required_approvals must be 1 or 2 (a second approver)".into());
    }
    if !policy.auto_approve && policy.tiers.is_empty() {
        return Err("no approvers and not auto-approved: nobody could ever grant it".into());
    }
    let required = usize::try_from(policy.required_approvals).unwrap_or(1);
    for (t, tier) in policy.tiers.iter().enumerate() {
        // A directory group's size is known only once the directory is read.
        if tier.directory_groups.is_empty() && tier.approvers.len() < required {
            return Err(format!(
                "tier {t} has {} approver(s) but {} approvals are required",
                tier.approvers.len(),
                policy.required_approvals
            ));
        }
    }
    // An approver's own request needs that many approvals from the others: with too few of
    // them (over every tier it escalates through), it could only expire.
    if required > 1 && policy.tiers.iter().all(|t| t.directory_groups.is_empty()) {
        let everyone: BTreeSet<&str> = policy
            .tiers
            .iter()
            .flat_map(|t| t.approvers.iter().map(String::as_str))
            .collect();
        if let Some(p) = everyone.iter().find(|_| everyone.len() <= required) {
            let others: Vec<&str> = everyone.iter().copied().filter(|o| o != p).collect();
            return Err(format!(
                "`{p}`'s own requests for `{bundle}` could never be approved: {required} approvals are required and, besides `{p}`, only {} may approve in any tier; add approvers or require one approval",
                if others.is_empty() {
                    "nobody".to_owned()
                } else {
                    others
                        .iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ));
        }
    }
    Ok(())
}

/// The accounts of `org` a scope covers: those named, under an OU named (by id or name, at
/// any depth), carrying every tag named; each key given narrows the others.
///
/// # Errors
/// An empty scope, an account or OU the organization does not have, or a scope that covers
/// no account (with what it said).
fn resolve_scope(org: &latch_model::Organization, raw: &RawScope) -> Result<Scope, String> {
    let mut said = Vec::new();
    let quoted = |list: &[String]| {
        list.iter()
            .map(|x| format!("\"{x}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !raw.accounts.is_empty() {
        said.push(format!("accounts = [{}]", quoted(&raw.accounts)));
    }
    if !raw.ous.is_empty() {
        said.push(format!("ous = [{}]", quoted(&raw.ous)));
    }
    if !raw.tags.is_empty() {
        said.push(format!(
            "tags = {{ {} }}",
            raw.tags
                .iter()
                .map(|(k, v)| format!("{k} = \"{v}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if said.is_empty() {
        return Err(
            "an empty scope: name `accounts`, `ous` (ids or names) or account `tags`".into(),
        );
    }
    let said = said.join(", ");
    for a in &raw.accounts {
        if !org.contains_account(a) {
            return Err(format!("account `{a}` is not in the organization"));
        }
    }
    let ous = org.organizational_units();
    for o in &raw.ous {
        if !ous.iter().any(|n| n.id == *o || n.name == *o) {
            let names: Vec<&str> = ous.iter().map(|n| n.name.as_str()).collect();
            return Err(format!(
                "the organization has no OU `{o}` (its OUs: {})",
                names.join(", ")
            ));
        }
    }
    let accounts: BTreeSet<String> = org
        .accounts()
        .into_iter()
        .filter(|acc| raw.accounts.is_empty() || raw.accounts.contains(&acc.id))
        .filter(|acc| {
            raw.ous.is_empty()
                || org.path_to(&acc.id).is_some_and(|path| {
                    path.iter().any(|n| {
                        n.kind == latch_model::NodeKind::OrganizationalUnit
                            && raw.ous.iter().any(|o| *o == n.id || *o == n.name)
                    })
                })
        })
        .filter(|acc| {
            raw.tags
                .iter()
                .all(|(k, v)| acc.tags.get(k).is_some_and(|have| have == v))
        })
        .map(|acc| acc.id.clone())
        .collect();
    if accounts.is_empty() {
        return Err(format!(
            "matches no account of the organization ({said}): a rule that covers nothing is a mistake"
        ));
    }
    Ok(Scope { said, accounts })
}

/// A duration for people (`1h30m`).
fn workflow_duration(secs: i64) -> String {
    latch_grant::workflow::format_duration(secs)
}

/// Check `server.max_reason_chars`.
fn max_reason_chars(
    v: Option<i64>,
    err: &dyn Fn(&str, String) -> ConfigError,
) -> Result<usize, ConfigError> {
    use latch_grant::workflow::{DEFAULT_MAX_REASON_CHARS, MAX_REASON_CHARS_CEILING};
    let Some(n) = v else {
        return Ok(DEFAULT_MAX_REASON_CHARS);
    };
    match usize::try_from(n) {
        Ok(n) if (1..=MAX_REASON_CHARS_CEILING).contains(&n) => Ok(n),
        _ => Err(err(
            "server.max_reason_chars",
            format!("`{n}` is not between 1 and {MAX_REASON_CHARS_CEILING} (characters)"),
        )),
    }
}

/// A path from the configuration, relative ones against the configuration file's folder.
fn config_relative(file: &str, value: &str) -> std::path::PathBuf {
    let path = std::path::PathBuf::from(value);
    match Path::new(file).parent() {
        Some(dir) if path.is_relative() && !dir.as_os_str().is_empty() => dir.join(path),
        _ => path,
    }
}

/// Check `[audit]`.
fn parse_audit(
    a: &RawAudit,
    file: &str,
    slack: Option<&SlackConfig>,
    err: &dyn Fn(&str, String) -> ConfigError,
) -> Result<AuditConfig, ConfigError> {
    let key = match &a.signing_key_file {
        Some(k) if !k.trim().is_empty() => config_relative(file, k),
        _ => return Err(err(
            "audit.signing_key_file",
            "missing: checkpoints are signed (create a key with `latch audit keygen --out FILE`)"
                .into(),
        )),
    };
    let interval = match &a.checkpoint_interval {
        Some(v) => parse_duration(v).map_err(|e| err("audit.checkpoint_interval", e))?,
        None => DEFAULT_CHECKPOINT_INTERVAL_SECS,
    };
    if !(60..=7 * 86_400).contains(&interval) {
        return Err(err(
            "audit.checkpoint_interval",
            "must be between 1m and 7d".into(),
        ));
    }
    if a.publish.is_empty() {
        return Err(err(
            "audit.publish",
            "name at least one place for checkpoints ([[audit.publish]] to = \"file\", \"slack\" or \"s3\"): one kept only in the database anchors nothing"
                .into(),
        ));
    }
    let mut publish = Vec::new();
    for (i, p) in a.publish.iter().enumerate() {
        let field = |name: &str| format!("audit.publish[{i}].{name}");
        let given: [(&str, bool); 6] = [
            ("path", p.path.is_some()),
            ("channel", p.channel.is_some()),
            ("bucket", p.bucket.is_some()),
            ("prefix", p.prefix.is_some()),
            ("retain", p.retain.is_some()),
            ("mode", p.mode.is_some()),
        ];
        let allowed: &[&str] = match p.to.as_str() {
            "file" => &["path"],
            "slack" => &["channel"],
            "s3" => &["bucket", "prefix", "retain", "mode"],
            other => {
                return Err(err(
                    &field("to"),
                    format!("`{other}` is not a place checkpoints go (file, slack or s3)"),
                ))
            }
        };
        if let Some((name, _)) = given
            .iter()
            .find(|(name, set)| *set && !allowed.contains(name))
        {
            return Err(err(
                &field(name),
                format!("does not apply to `to = \"{}\"`", p.to),
            ));
        }
        let required = |name: &str, v: &Option<String>| -> Result<String, ConfigError> {
            match v {
                Some(v) if !v.trim().is_empty() => Ok(v.clone()),
                _ => Err(err(&field(name), "missing".into())),
            }
        };
        publish.push(match p.to.as_str() {
            "file" => CheckpointTarget::File {
                path: config_relative(file, &required("path", &p.path)?),
            },
            "slack" => {
                let Some(sl) = slack else {
                    return Err(err(
                        &field("to"),
                        "checkpoints go to Slack through [slack]: configure it too".into(),
                    ));
                };
                let channel = p
                    .channel
                    .clone()
                    .or_else(|| sl.security_channel.clone())
                    .filter(|c| !c.trim().is_empty())
                    .ok_or_else(|| {
                        err(
                            &field("channel"),
                            "missing, and [slack] has no security_channel".into(),
                        )
                    })?;
                CheckpointTarget::Slack { channel }
            }
            _ => {
                let bucket = required("bucket", &p.bucket)?;
                let retain_secs = parse_duration(&required("retain", &p.retain)?)
                    .map_err(|e| err(&field("retain"), e))?;
                if retain_secs <= 0 {
                    return Err(err(&field("retain"), "must be longer than zero".into()));
                }
                let mode = match required("mode", &p.mode)?.as_str() {
                    "compliance" => LockMode::Compliance,
                    "governance" => LockMode::Governance,
                    other => {
                        return Err(err(
                            &field("mode"),
                            format!(
                                "`{other}` is not an object lock mode (compliance or governance)"
                            ),
                        ))
                    }
                };
                CheckpointTarget::S3 {
                    bucket,
                    prefix: p
                        .prefix
                        .clone()
                        .unwrap_or_else(|| "latch/checkpoints/".to_owned()),
                    retain_secs,
                    mode,
                }
            }
        });
    }
    Ok(AuditConfig {
        signing_key_file: key,
        signing_key: None,
        checkpoint_interval_secs: interval,
        publish,
    })
}

/// `[[siem]]`: one SIEM sink every audit entry is streamed to, at least once and in order
/// (`crate::siem`).
#[derive(Debug, Clone)]
pub struct SiemSink {
    /// Its name: the key of its cursor in the store, the `sink` label of its metrics.
    pub name: String,
    /// What it is, with its secret.
    pub target: SiemTarget,
    /// Where events are posted (Splunk: the HTTP Event Collector's base URL; events go to
    /// `/services/collector/event` under it).
    pub url: String,
    /// How many times the sink may refuse one entry (a 4xx that says nothing about the sink's
    /// availability) before the entry becomes a dead letter and delivery moves on.
    pub max_attempts: i32,
    /// Entries per request, at most [`MAX_SIEM_BATCH`].
    pub batch: i64,
    /// The wait after a first failure, ms; doubled after each further one, up to
    /// `retry_max_ms`.
    pub retry_min_ms: u64,
    /// The longest wait between attempts, ms.
    pub retry_max_ms: u64,
    /// How long one request may take, ms.
    pub timeout_ms: u64,
}

/// What a `[[siem]]` sink is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiemTarget {
    /// A JSON array of events POSTed, signed with HMAC-SHA256 (`X-Latch-Signature`).
    Webhook {
        /// The HMAC key (`secret_env`).
        secret: Secret,
    },
    /// Splunk's HTTP Event Collector.
    Splunk {
        /// The HEC token (`token_env`).
        token: Secret,
    },
}

/// Default `[[siem]] max_attempts`.
pub const DEFAULT_SIEM_MAX_ATTEMPTS: i32 = 10;
/// Default and largest `[[siem]] batch`.
pub const MAX_SIEM_BATCH: i64 = 100;

/// Check `[[siem]]`.
fn parse_siem(
    raw: &[RawSiem],
    env: &dyn Fn(&str) -> Option<String>,
    err: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Vec<SiemSink>, ConfigError> {
    let mut sinks: Vec<SiemSink> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let field = |name: &str| format!("siem[{i}].{name}");
        let required = |name: &str, v: &Option<String>| -> Result<String, ConfigError> {
            match v {
                Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
                _ => Err(err(&field(name), "missing".into())),
            }
        };
        let name = required("name", &r.name)?;
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || name.len() > 64
        {
            return Err(err(
                &field("name"),
                format!("`{name}` must be letters, digits, `-`, `_` and `.`, at most 64"),
            ));
        }
        if sinks.iter().any(|s| s.name == name) {
            return Err(err(
                &field("name"),
                format!("`{name}` names another sink too: each sink has its own cursor"),
            ));
        }
        let to = required("to", &r.to)?;
        let (secret_field, wrong_field, wrong) = match to.as_str() {
            "webhook" => ("secret_env", "token_env", &r.token_env),
            "splunk" => ("token_env", "secret_env", &r.secret_env),
            other => {
                return Err(err(
                    &field("to"),
                    format!("`{other}` is not a kind of sink (webhook or splunk)"),
                ))
            }
        };
        if wrong.is_some() {
            return Err(err(
                &field(wrong_field),
                format!("does not apply to `to = \"{to}\"` (use {secret_field})"),
            ));
        }
        let var = required(
            secret_field,
            if to == "webhook" {
                &r.secret_env
            } else {
                &r.token_env
            },
        )?;
        let secret = match env(&var) {
            Some(v) if !v.trim().is_empty() => Secret::new(v.trim()),
            Some(_) => {
                return Err(err(
                    &field(secret_field),
                    format!("environment variable `{var}` is empty"),
                ))
            }
            None => {
                return Err(err(
                    &field(secret_field),
                    format!("environment variable `{var}` is not set"),
                ))
            }
        };
        let url = required("url", &r.url)?;
        check_siem_url(&url).map_err(|e| err(&field("url"), e))?;
        let max_attempts = match r.max_attempts {
            None => DEFAULT_SIEM_MAX_ATTEMPTS,
            Some(n) => i32::try_from(n)
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| err(&field("max_attempts"), "must be between 1 and 1000".into()))?,
        };
        let batch = r.batch.unwrap_or(MAX_SIEM_BATCH);
        if !(1..=MAX_SIEM_BATCH).contains(&batch) {
            return Err(err(
                &field("batch"),
                format!("must be between 1 and {MAX_SIEM_BATCH}"),
            ));
        }
        sinks.push(SiemSink {
            name,
            target: if to == "webhook" {
                SiemTarget::Webhook { secret }
            } else {
                SiemTarget::Splunk { token: secret }
            },
            url: url.trim_end_matches('/').to_owned(),
            max_attempts,
            batch,
            retry_min_ms: 1_000,
            retry_max_ms: 300_000,
            timeout_ms: 10_000,
        });
    }
    Ok(sinks)
}

/// A sink's URL: https, or plain http to this machine only (tests, a local forwarder); no
/// credentials in it (they would be logged with it: secrets go in `secret_env`/`token_env`).
fn check_siem_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" => {
            if !matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
                return Err(format!(
                    "`{url}`: plain http is allowed only to 127.0.0.1 or localhost; use https"
                ));
            }
        }
        other => return Err(format!("`{url}`: `{other}` is not http or https")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "credentials do not belong in the URL (it is logged): use secret_env or token_env"
                .into(),
        );
    }
    Ok(())
}

/// Check `[aws]`.
fn parse_aws(
    a: &RawAws,
    err: &dyn Fn(&str, String) -> ConfigError,
) -> Result<AwsConfig, ConfigError> {
    let non_empty = |field: &str, v: &Option<String>| -> Result<Option<String>, ConfigError> {
        match v {
            Some(s) if s.trim().is_empty() => {
                Err(err(field, "empty (leave it out for the default)".into()))
            }
            other => Ok(other.clone()),
        }
    };
    let endpoint_url = non_empty("aws.endpoint_url", &a.endpoint_url)?;
    if let Some(url) = &endpoint_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(err(
                "aws.endpoint_url",
                format!("`{url}` must start with http:// or https://"),
            ));
        }
    }
    let role_name_ok = |r: &str| {
        !r.is_empty()
            && r.len() <= 64
            && r.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    };
    let member_role = a
        .member_role
        .clone()
        .unwrap_or_else(|| DEFAULT_MEMBER_ROLE.to_owned());
    if !role_name_ok(&member_role) {
        return Err(err(
            "aws.member_role",
            format!("`{member_role}` is not an IAM role name (a name, not an ARN: letters, digits and +=,.@_-, at most 64)"),
        ));
    }
    for (account, role) in &a.member_role_overrides {
        let field = format!("aws.member_role_overrides.{account}");
        if account.len() != 12 || !account.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err(
                &field,
                format!("`{account}` is not a 12-digit account id"),
            ));
        }
        if !role_name_ok(role) {
            return Err(err(&field, format!("`{role}` is not an IAM role name")));
        }
    }
    let max_attempts = a.max_attempts.unwrap_or(5);
    if !(1..=20).contains(&max_attempts) {
        return Err(err("aws.max_attempts", "must be between 1 and 20".into()));
    }
    Ok(AwsConfig {
        region: non_empty("aws.region", &a.region)?,
        profile: non_empty("aws.profile", &a.profile)?,
        endpoint_url,
        member_role,
        member_role_overrides: a.member_role_overrides.clone(),
        max_attempts,
    })
}

/// The Bot Connector service's global address: proactive messages to any tenant's region.
pub const TEAMS_SERVICE_URL: &str = "https://smba.trafficmanager.net/teams/";

fn parse_teams(
    t: &RawTeams,
    app_secret: Secret,
    err: &dyn Fn(&str, String) -> ConfigError,
) -> Result<TeamsConfig, ConfigError> {
    // Both are GUIDs: Teams names the tenant of every activity by its GUID, and an activity
    // is accepted only from this one (a domain name here would refuse them all).
    let guid = |field: &str, v: &Option<String>, what: &str| -> Result<String, ConfigError> {
        let v = v.as_deref().map(str::trim).unwrap_or_default();
        if v.is_empty() {
            return Err(err(field, "missing".into()));
        }
        let groups: Vec<&str> = v.split('-').collect();
        let ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
        if !ok {
            return Err(err(
                field,
                format!(
                    "`{v}` is not {what} (a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47)"
                ),
            ));
        }
        Ok(v.to_ascii_lowercase())
    };
    let app_id = guid("teams.app_id", &t.app_id, "an app id")?;
    let tenant = guid("teams.tenant", &t.tenant, "a tenant id")?;
    if app_secret.is_empty() {
        return Err(err("teams.app_secret", "empty".into()));
    }
    let url = |field: &str, v: &Option<String>, default: String| -> Result<String, ConfigError> {
        let v = v.clone().unwrap_or(default);
        if !(v.starts_with("https://") || v.starts_with("http://")) {
            return Err(err(
                field,
                format!("`{v}` must start with https:// (or http:// on loopback, for tests)"),
            ));
        }
        Ok(v)
    };
    let channel = |field: &str, v: &Option<String>| -> Result<Option<String>, ConfigError> {
        match v {
            Some(c) if c.trim().is_empty() => Err(err(field, "empty (leave it out)".into())),
            other => Ok(other.clone()),
        }
    };
    Ok(TeamsConfig {
        service_url: url(
            "teams.service_url",
            &t.service_url,
            TEAMS_SERVICE_URL.to_owned(),
        )?,
        openid_metadata_url: url(
            "teams.openid_metadata_url",
            &t.openid_metadata_url,
            crate::teams::auth::OPENID_METADATA_URL.to_owned(),
        )?,
        token_url: url(
            "teams.token_url",
            &t.token_url,
            crate::teams::connector::token_url(&tenant),
        )?,
        approvals_channel: channel("teams.approvals_channel", &t.approvals_channel)?,
        security_channel: channel("teams.security_channel", &t.security_channel)?,
        app_id,
        tenant,
        app_secret,
    })
}

/// `path` as written in the configuration `file`: a relative path is resolved against the
/// file's folder.
fn beside(file: &str, path: &str) -> std::path::PathBuf {
    let path = std::path::PathBuf::from(path);
    match Path::new(file).parent() {
        Some(dir) if path.is_relative() && !dir.as_os_str().is_empty() => dir.join(path),
        _ => path,
    }
}

/// The server id when `[server] id` is not set: the host name, the same after a restart so
/// the restarted server resumes its own scheduler lease at once (see `Store::try_lead`).
/// Servers sharing a database on one host need distinct ids in their configurations.
fn default_server_id() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "latch".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const GOOD: &str = r#"
[server]
max_duration = "12h"
break_glass = ["alice"]
database = "postgres://latch:hunter2@db/latch"

[slack]
signing_secret_env = "SIGNING"
bot_token = "xoxb-1"
api_base = "http://127.0.0.1:9/api/"

[identities.alice]
slack = "UALICE"
aws = "arn:aws:iam::111122223333:role/alice"
[identities.bob]
slack = "UBOB"
aws = "arn:aws:iam::111122223333:user/bob"
[identities.carol]
aws = "AROAEXAMPLE:carol@example.com"
kind = "identity_center"

[groups]
sec = ["bob", "carol"]

[bundles.read-logs]
auto_approve = true
max_duration = "4h"
actions = ["logs:Get*"]

[bundles.iam-admin]
max_duration = "1h"
approvers = ["group:sec"]

[bundles.prod-db]
approvers = ["bob"]

[[approval]]
bundles = ["prod-db"]
required_approvals = 2
tiers = [ { approvers = ["bob", "carol"], timeout = "15m" }, { approvers = ["alice", "bob"] } ]
"#;

    fn env(name: &str) -> Option<String> {
        (name == "SIGNING").then(|| "s3cret".to_owned())
    }

    #[test]
    fn the_file_is_named_with_its_problem() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("latch.toml");
        let text = "[identities.alice]\naws = \"arn:aws:iam::111122223333:role/alice\"\n";
        std::fs::write(&f, format!("\u{FEFF}{text}")).unwrap();
        assert!(Config::load(&f).unwrap().rules.people.contains_key("alice"));
        let name = f.display().to_string();
        let says = |problem: &str| {
            let e = Config::load(&f).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{name}: (file): ")) && e.contains(problem),
                "{e}"
            );
        };
        let mut utf16 = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        std::fs::write(&f, utf16).unwrap();
        says("UTF-16 text (little-endian byte-order mark FF FE): save it as UTF-8");
        std::fs::write(&f, b"[server]\nlisten = \"\xFF\"\n").unwrap();
        says("not UTF-8: invalid byte 0xFF at byte offset 19 (line 2)");
        std::fs::write(&f, "\n").unwrap();
        says("empty: expected a TOML document");
        std::fs::remove_file(&f).unwrap();
        says("missing");
        std::fs::create_dir(&f).unwrap();
        says("a folder, not a file");
    }

    /// An organization for scope tests: Prod (two accounts, one tagged `tier = "1"`) and
    /// Sandbox (one), plus the management account at the root.
    pub(crate) const SCOPE_ORG: &str = r#"{"format": "latch.organization/v1",
      "management_account_id": "100000000001",
      "root": {"id": "r-ab12", "name": "Root", "scps": [{"id": "p-FullAWSAccess"}], "children": [
        {"type": "account", "id": "100000000001", "name": "management", "scps": [{"id": "p-FullAWSAccess"}]},
        {"type": "ou", "id": "ou-ab12-prod0001", "name": "Prod", "scps": [{"id": "p-FullAWSAccess"}], "children": [
          {"type": "account", "id": "111111111111", "name": "prod-app", "scps": [{"id": "p-FullAWSAccess"}], "tags": {"env": "prod", "tier": "1"}},
          {"type": "account", "id": "222222222222", "name": "prod-data", "scps": [{"id": "p-FullAWSAccess"}], "tags": {"env": "prod"}}]},
        {"type": "ou", "id": "ou-ab12-sand0001", "name": "Sandbox", "scps": [{"id": "p-FullAWSAccess"}], "children": [
          {"type": "account", "id": "333333333333", "name": "sandbox-1", "scps": [{"id": "p-FullAWSAccess"}], "tags": {"env": "sandbox"}}]}]}}"#;

    #[test]
    fn bundles_and_approval_rules_are_scoped_by_account_ou_and_tag() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("organization.json"), SCOPE_ORG).unwrap();
        let file = dir.path().join("latch.toml").display().to_string();
        let base = r#"
[server]
organization = "organization.json"
[identities.alice]
aws = "arn:aws:iam::111111111111:role/alice"
[identities.bob]
aws = "arn:aws:iam::111111111111:role/bob"
[identities.carol]
aws = "arn:aws:iam::111111111111:role/carol"
[groups]
security = ["bob", "carol"]
[bundles.iam-admin]
max_duration = "1h"
approvers = ["bob"]
scope = { ous = ["Prod", "ou-ab12-sand0001"] }
"#;
        let rules = r#"
[[approval]]
bundles = ["iam-admin"]
scope = { ous = ["Prod"] }
required_approvals = 2
tiers = [{ approvers = ["group:security", "alice"] }]
[[approval]]
bundles = ["iam-admin"]
scope = { tags = { env = "sandbox" } }
auto_approve = true
"#;
        let c = Config::parse(&format!("{base}{rules}"), &file, &env).unwrap();
        let b = &c.rules.bundles["iam-admin"];
        assert_eq!(
            b.scope
                .as_ref()
                .unwrap()
                .accounts
                .iter()
                .collect::<Vec<_>>(),
            vec!["111111111111", "222222222222", "333333333333"]
        );
        // Prod: two approvers; the sandbox: at once; both need one rule.
        assert_eq!(
            b.policy_for(&[Some("222222222222")])
                .unwrap()
                .required_approvals,
            2
        );
        assert!(b.policy_for(&[Some("333333333333")]).unwrap().auto_approve);
        let mixed = b
            .policy_for(&[Some("111111111111"), Some("333333333333")])
            .unwrap_err();
        assert!(mixed.contains("approval[0] and approval[1]"), "{mixed}");
        assert!(b.policy_for(&[None]).is_err());

        let fails = |text: String| Config::parse(&text, &file, &env).unwrap_err();
        // A rule that matches nothing is refused at load, with the reason.
        let e = fails(format!(
            "{base}{}",
            rules.replace(r#"env = "sandbox""#, r#"env = "staging""#)
        ));
        assert_eq!(e.field, "approval[1].scope", "{e}");
        assert!(e.reason.contains("matches no account"), "{e}");
        assert!(e.reason.contains(r#"tags = { env = "staging" }"#), "{e}");
        let e = fails(format!(
            "{base}{}",
            rules.replace(r#"ous = ["Prod"]"#, r#"ous = ["Staging"]"#)
        ));
        assert!(e.reason.contains("no OU `Staging`"), "{e}");
        assert!(e.reason.contains("Prod, Sandbox"), "{e}");
        let e = fails(format!(
            "{base}{}",
            rules.replace(r#"ous = ["Prod"]"#, r#"accounts = ["999999999999"]"#)
        ));
        assert!(
            e.reason
                .contains("`999999999999` is not in the organization"),
            "{e}"
        );
        // Both keys narrow: Prod accounts tagged env = sandbox are none.
        let e = fails(format!(
            "{base}{}",
            rules.replace(
                r#"ous = ["Prod"]"#,
                r#"ous = ["Prod"], tags = { env = "sandbox" }"#
            )
        ));
        assert!(e.reason.contains("matches no account"), "{e}");
        // A rule outside the bundle's own scope, and one an earlier rule shadows.
        let e = fails(format!(
            "{}{}",
            base.replace(r#"ous = ["Prod", "ou-ab12-sand0001"]"#, r#"ous = ["Prod"]"#),
            rules
        ));
        assert_eq!(e.field, "approval[1].scope", "{e}");
        assert!(
            e.reason
                .contains("covers no account bundle `iam-admin` may be asked for in"),
            "{e}"
        );
        let e = fails(format!(
            "{base}{}",
            rules.replace(r#"tags = { env = "sandbox" }"#, r#"tags = { tier = "1" }"#)
        ));
        assert!(e.reason.contains("covered by approval[0] before it"), "{e}");
        // The unsatisfiable-rule check covers scoped rules too.
        let e = fails(format!(
            "{base}{}",
            rules.replace(r#"["group:security", "alice"]"#, r#"["bob", "alice"]"#)
        ));
        assert_eq!(e.field, "approval[0]", "{e}");
        assert!(e.reason.contains("could never be approved"), "{e}");
        // A scope needs the organization; an empty scope says nothing.
        let e = fails(format!(
            "{}{rules}",
            base.replace("organization = \"organization.json\"\n", "")
        ));
        assert!(e.reason.contains("set [server] organization"), "{e}");
        let e = fails(format!(
            "{base}{}",
            rules.replace(r#"scope = { ous = ["Prod"] }"#, "scope = {}")
        ));
        assert!(e.reason.contains("an empty scope"), "{e}");
        let e = fails(base.replace("organization.json\"", "missing.json\""));
        assert_eq!(e.field, "server.organization", "{e}");
    }

    #[test]
    fn parses_a_full_config() {
        let c = Config::parse(GOOD, "latch.toml", &env).unwrap();
        assert_eq!(
            c.rules.people["bob"].aws.as_ref().unwrap().kind,
            IdentityKind::User
        );
        assert_eq!(
            c.rules.people["carol"].aws.as_ref().unwrap().kind,
            IdentityKind::IdentityCenter
        );
        assert_eq!(
            c.rules.bundles["iam-admin"].policy.tiers[0].approvers,
            vec!["bob", "carol"]
        );
        assert_eq!(c.rules.bundles["iam-admin"].max_duration_secs, 3600);
        assert!(c.rules.bundles["read-logs"].policy.auto_approve);
        let p = &c.rules.bundles["prod-db"].policy;
        assert_eq!(p.required_approvals, 2);
        assert_eq!(p.tiers.len(), 2);
        assert_eq!(p.tiers[0].timeout_secs, 900);
        assert_eq!(p.tiers[1].timeout_secs, 3600);
        let slack = c.slack.as_ref().unwrap();
        assert_eq!(slack.api_base, "http://127.0.0.1:9/api");
        assert_eq!(c.person_by_slack("UBOB").unwrap().name, "bob");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret") && !dbg.contains("xoxb-1"), "{dbg}");
        assert!(
            !dbg.contains("hunter2") && dbg.contains("postgres://latch:***@db/latch"),
            "{dbg}"
        );
        assert_eq!(c.database.0, "postgres://latch:hunter2@db/latch");
    }

    #[test]
    fn errors_name_the_field() {
        let bad = GOOD.replace(
            "approvers = [\"group:sec\"]",
            "approvers = [\"group:nope\"]",
        );
        let e = Config::parse(&bad, "latch.toml", &env).unwrap_err();
        assert_eq!(e.field, "bundles.iam-admin.approvers");
        assert!(e.to_string().contains("unknown group `nope`"), "{e}");

        let bad = GOOD.replace("max_duration = \"1h\"", "max_duration = \"13h\"");
        let e = Config::parse(&bad, "latch.toml", &env).unwrap_err();
        assert_eq!(e.field, "bundles.iam-admin.max_duration");

        let e = Config::parse(GOOD, "latch.toml", &|_| None).unwrap_err();
        assert!(e.to_string().contains("`SIGNING` is not set"), "{e}");

        let e = Config::parse("[server]\nlisten = 3\n", "x.toml", &env).unwrap_err();
        assert!(e.to_string().starts_with("x.toml: line 2"), "{e}");

        let bad = GOOD.replace(
            "[bundles.prod-db]\napprovers = [\"bob\"]",
            "[bundles.prod-db]",
        );
        let bad = bad.replace("required_approvals = 2\n", "");
        let bad = bad.replace("tiers = [ { approvers = [\"bob\", \"carol\"], timeout = \"15m\" }, { approvers = [\"alice\", \"bob\"] } ]", "");
        let e = Config::parse(&bad, "latch.toml", &env).unwrap_err();
        assert!(e.reason.contains("nobody could ever grant it"), "{e}");

        // Extensions: max_total between max_duration and server.max_duration, self_extend
        // within it.
        let with = |extra: &str| {
            GOOD.replace(
                "[bundles.iam-admin]\nmax_duration = \"1h\"",
                &format!("[bundles.iam-admin]\nmax_duration = \"1h\"\n{extra}"),
            )
        };
        let e = Config::parse(&with("max_total = \"30m\""), "latch.toml", &env).unwrap_err();
        assert_eq!(e.field, "bundles.iam-admin.max_total");
        let e = Config::parse(&with("max_total = \"13h\""), "latch.toml", &env).unwrap_err();
        assert_eq!(e.field, "bundles.iam-admin.max_total");
        let e = Config::parse(&with("self_extend = \"2h\""), "latch.toml", &env).unwrap_err();
        assert_eq!(e.field, "bundles.iam-admin.self_extend");
        let c = Config::parse(
            &with("max_total = \"3h\"\nself_extend = \"30m\""),
            "latch.toml",
            &env,
        )
        .unwrap();
        let b = &c.rules.bundles["iam-admin"];
        assert_eq!((b.max_total_secs, b.self_extend_secs), (3 * 3600, 1800));

        // On-call approval needs the provider's credential, and a schedule it can name.
        let e =
            Config::parse(&with("on_call = \"pagerduty:PSEC\""), "latch.toml", &env).unwrap_err();
        assert_eq!(e.field, "bundles.iam-admin.on_call");
        assert!(e.reason.contains("[on_call] pagerduty_token_env"), "{e}");
        let e = Config::parse(&with("on_call = \"victorops:x\""), "latch.toml", &env).unwrap_err();
        assert!(e.reason.contains("is not `pagerduty:"), "{e}");
        let on_call = format!(
            "{}\n[on_call]\nopsgenie_key_env = \"SIGNING\"\n",
            with("on_call = \"opsgenie:Security Primary\"")
        );
        let c = Config::parse(&on_call, "latch.toml", &env).unwrap();
        assert_eq!(
            c.on_call_schedules["iam-admin"],
            Schedule::Opsgenie("Security Primary".into())
        );
        assert_eq!(c.on_call.unwrap().opsgenie_api, "https://api.opsgenie.com");

        // Two approvals, and over every tier only bob and carol: each one's own requests could
        // only expire. The rule and the person are named.
        let bad = GOOD.replace(
            "{ approvers = [\"alice\", \"bob\"] }",
            "{ approvers = [\"carol\", \"bob\"] }",
        );
        let e = Config::parse(&bad, "latch.toml", &env).unwrap_err();
        assert_eq!(e.field, "approval[0]");
        assert!(
            e.reason.starts_with(
                "`bob`'s own requests for `prod-db` could never be approved: 2 approvals are required and, besides `bob`, only `carol` may approve"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_teams_section_is_checked_and_its_secret_never_shown() {
        let teams = "[teams]\napp_id = \"00000000-0000-0000-0000-00000000b07a\"\n\
                     tenant = \"11111111-1111-1111-1111-111111111111\"\n\
                     app_secret_env = \"TEAMS\"\napprovals_channel = \"19:abc@thread.tacv2\"\n";
        let people = "[identities.alice]\naws = \"arn:aws:iam::111122223333:role/alice\"\n\
                      teams = \"aad-alice\"\n\
                      [identities.bob]\naws = \"arn:aws:iam::111122223333:role/bob\"\nteams = \"aad-bob\"\n";
        let env = |n: &str| (n == "TEAMS").then(|| "teams-s3cret".to_owned());
        let c = Config::parse(&format!("{teams}{people}"), "t.toml", &env).unwrap();
        let t = c.teams.as_ref().unwrap();
        assert_eq!(t.service_url, TEAMS_SERVICE_URL);
        assert_eq!(
            t.token_url,
            "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/oauth2/v2.0/token"
        );
        assert_eq!(
            t.openid_metadata_url,
            crate::teams::auth::OPENID_METADATA_URL
        );
        assert_eq!(t.app_secret.expose(), "teams-s3cret");
        assert!(!format!("{c:?}").contains("teams-s3cret"));
        assert_eq!(c.person_by_chat("teams", "aad-bob").unwrap().name, "bob");
        assert_eq!(c.chat_platforms(), vec!["teams"]);

        let fails = |text: String, field: &str, says: &str| {
            let e = Config::parse(&text, "t.toml", &env).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.reason.contains(says), "{e}");
        };
        fails(
            format!("{teams}{}", people.replace("aad-bob", "aad-alice")),
            "identities.bob.teams",
            "Teams user `aad-alice` is already mapped to `alice`",
        );
        fails(
            format!("{}{people}", teams.replace("TEAMS", "NOPE")),
            "teams.app_secret",
            "`NOPE` is not set",
        );
        fails(
            format!(
                "{}{people}",
                teams.replace("app_id = \"00000000-0000-0000-0000-00000000b07a\"\n", "")
            ),
            "teams.app_id",
            "missing",
        );
        fails(
            format!(
                "{}{people}",
                teams.replace(
                    "11111111-1111-1111-1111-111111111111",
                    "contoso.onmicrosoft.com"
                )
            ),
            "teams.tenant",
            "not a tenant id",
        );
        fails(
            format!("{teams}service_url = \"ftp://x\"\n{people}"),
            "teams.service_url",
            "must start with https://",
        );
        fails(
            format!("{teams}{}", people.replace("\"aad-bob\"", "\" \"")),
            "identities.bob.teams",
            "empty",
        );
    }

    #[test]
    fn operator_traps_are_refused_or_explained() {
        let with = |keys: &str| GOOD.replacen("[server]\n", &format!("[server]\n{keys}\n"), 1);
        // A lease that lapses between two renewals.
        let e = Config::parse(
            &with("poll_interval = \"10s\"\nlease_ttl = \"15s\""),
            "latch.toml",
            &env,
        )
        .unwrap_err();
        assert_eq!(e.field, "server.lease_ttl", "{e}");
        assert!(e.reason.contains("shorter than two polls"), "{e}");
        let c = Config::parse(
            &with("poll_interval = \"5s\"\nlease_ttl = \"10s\""),
            "latch.toml",
            &env,
        )
        .unwrap();
        assert_eq!((c.poll_interval_ms, c.lease_ttl_ms), (5000, 10_000));
        // The default lease outlasts the default poll many times over.
        let c = Config::parse(GOOD, "latch.toml", &env).unwrap();
        assert!(c.lease_ttl_ms >= 2 * c.poll_interval_ms);
        // The default id survives a restart (a new process): it is not made of the pid.
        assert_eq!(c.server_id, default_server_id());
        assert!(!c.server_id.contains(&std::process::id().to_string()) || c.server_id == "latch");
        for bad in ["id = \"\"", "id = \" a\"", "id = \"a\\nb\""] {
            let e = Config::parse(&with(bad), "latch.toml", &env).unwrap_err();
            assert_eq!(e.field, "server.id", "{bad}: {e}");
        }
        // The firewall configuration, read beside this file; [offers] uses it unless told.
        let c = Config::parse(
            &format!("{}\n[offers]\n", with("firewall_config = \"fw.toml\"")),
            "/etc/latch/latch.toml",
            &env,
        )
        .unwrap();
        let fw = std::path::PathBuf::from("/etc/latch/fw.toml");
        assert_eq!(c.firewall_config.as_ref(), Some(&fw));
        assert_eq!(c.offers.unwrap().firewall_config, fw);
        let e = Config::parse(&format!("{GOOD}\n[offers]\n"), "latch.toml", &env).unwrap_err();
        assert_eq!(e.field, "offers", "{e}");
        assert!(e.reason.contains("[server] firewall_config"), "{e}");
        let e = Config::parse(&with("firewall_config = \"\""), "latch.toml", &env).unwrap_err();
        assert_eq!(e.field, "server.firewall_config", "{e}");
    }

    #[test]
    fn aws_and_offers_sections() {
        let c = Config::parse(GOOD, "latch.toml", &env).unwrap();
        assert!(c.aws.is_none() && c.offers.is_none());

        let text = format!(
            "{GOOD}\n[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"http://127.0.0.1:5000\"\nmember_role = \"latch-cp\"\nmember_role_overrides = {{ \"444455556666\" = \"other\" }}\nmax_attempts = 1\n\n[offers]\nfirewall_config = \"fw.toml\"\nduration = \"30m\"\nevery = \"10m\"\n"
        );
        let c = Config::parse(&text, "/etc/latch/latch.toml", &env).unwrap();
        let aws = c.aws.unwrap();
        assert_eq!(aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(aws.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(aws.member_role, "latch-cp");
        assert_eq!(aws.member_role_overrides["444455556666"], "other");
        assert_eq!(aws.max_attempts, 1);
        assert_eq!(aws.profile, None);
        let offers = c.offers.unwrap();
        assert_eq!(
            offers.firewall_config,
            std::path::PathBuf::from("/etc/latch/fw.toml")
        );
        assert_eq!((offers.duration_secs, offers.every_secs), (1800, 600));

        // An empty [aws] means the defaults: the credential chain and the organization's role.
        let c = Config::parse(&format!("{GOOD}\n[aws]\n"), "latch.toml", &env).unwrap();
        assert_eq!(c.aws.unwrap(), AwsConfig::default());
        let c = Config::parse(
            &format!("{GOOD}\n[offers]\nfirewall_config = \"fw.toml\"\n"),
            "latch.toml",
            &env,
        )
        .unwrap();
        let offers = c.offers.unwrap();
        assert_eq!(offers.firewall_config, std::path::PathBuf::from("fw.toml"));
        assert_eq!((offers.duration_secs, offers.every_secs), (3600, 1800));

        for (section, field, says) in [
            (
                "[aws]\nendpoint_url = \"localhost:5000\"",
                "aws.endpoint_url",
                "must start with http://",
            ),
            (
                "[aws]\nmember_role = \"arn:aws:iam::1:role/x\"",
                "aws.member_role",
                "not an IAM role name",
            ),
            (
                "[aws]\nmember_role_overrides = { \"12\" = \"x\" }",
                "aws.member_role_overrides.12",
                "12-digit",
            ),
            (
                "[aws]\nmax_attempts = 0",
                "aws.max_attempts",
                "between 1 and 20",
            ),
            ("[aws]\nregion = \"\"", "aws.region", "empty"),
            (
                "[offers]\nfirewall_config = \"fw.toml\"\nduration = \"13h\"",
                "offers.duration",
                "longer than server.max_duration",
            ),
            (
                "[offers]\nfirewall_config = \"fw.toml\"\nevery = \"soon\"",
                "offers.every",
                "",
            ),
            (
                "[offers]\nfirewall_config = \" \"",
                "offers.firewall_config",
                "empty",
            ),
        ] {
            let e = Config::parse(&format!("{GOOD}\n{section}\n"), "latch.toml", &env).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.reason.contains(says), "{e}");
        }
        // Unknown keys are named.
        let e = Config::parse(
            &format!("{GOOD}\n[aws]\nregoin = \"x\"\n"),
            "latch.toml",
            &env,
        )
        .unwrap_err();
        assert!(e.reason.contains("regoin"), "{e}");
    }

    #[test]
    fn audit_section() {
        let c = Config::parse(GOOD, "latch.toml", &env).unwrap();
        assert!(c.audit.is_none());
        let text = format!(
            "{GOOD}\n[audit]\nsigning_key_file = \"audit.key\"\n\
             [[audit.publish]]\nto = \"file\"\npath = \"/var/lib/latch/checkpoints.jsonl\"\n\
             [[audit.publish]]\nto = \"slack\"\n\
             [[audit.publish]]\nto = \"s3\"\nbucket = \"audit\"\nretain = \"400d\"\nmode = \"compliance\"\n"
        );
        // Slack publishing needs a channel: [slack] security_channel by default.
        let e = Config::parse(&text, "/etc/latch/latch.toml", &env).unwrap_err();
        assert_eq!(e.field, "audit.publish[1].channel", "{e}");
        let text = text.replace(
            "api_base = \"http://127.0.0.1:9/api/\"",
            "api_base = \"http://127.0.0.1:9/api/\"\nsecurity_channel = \"CSEC\"",
        );
        let c = Config::parse(&text, "/etc/latch/latch.toml", &env).unwrap();
        let a = c.audit.unwrap();
        assert_eq!(
            a.signing_key_file,
            std::path::PathBuf::from("/etc/latch/audit.key")
        );
        assert!(a.signing_key.is_none(), "read by whoever starts the server");
        assert_eq!(a.checkpoint_interval_secs, 3600);
        assert_eq!(
            a.publish,
            vec![
                CheckpointTarget::File {
                    path: "/var/lib/latch/checkpoints.jsonl".into()
                },
                CheckpointTarget::Slack {
                    channel: "CSEC".into()
                },
                CheckpointTarget::S3 {
                    bucket: "audit".into(),
                    prefix: "latch/checkpoints/".into(),
                    retain_secs: 400 * 86_400,
                    mode: LockMode::Compliance,
                },
            ]
        );

        let base = "[audit]\nsigning_key_file = \"k\"\n";
        let file = "[[audit.publish]]\nto = \"file\"\npath = \"c.jsonl\"\n";
        for (section, field, says) in [
            (format!("[audit]\n{file}"), "audit.signing_key_file", "latch audit keygen"),
            (base.to_owned(), "audit.publish", "at least one place"),
            (
                format!("{base}checkpoint_interval = \"10s\"\n{file}"),
                "audit.checkpoint_interval",
                "between 1m and 7d",
            ),
            (
                format!("{base}[[audit.publish]]\nto = \"email\"\n"),
                "audit.publish[0].to",
                "file, slack or s3",
            ),
            (
                format!("{base}[[audit.publish]]\nto = \"file\"\nbucket = \"b\"\npath = \"p\"\n"),
                "audit.publish[0].bucket",
                "does not apply",
            ),
            (
                format!("{base}[[audit.publish]]\nto = \"file\"\n"),
                "audit.publish[0].path",
                "missing",
            ),
            (
                format!("{base}[[audit.publish]]\nto = \"s3\"\nbucket = \"b\"\nretain = \"1d\"\nmode = \"strict\"\n"),
                "audit.publish[0].mode",
                "compliance or governance",
            ),
            (
                format!("{base}[[audit.publish]]\nto = \"s3\"\nbucket = \"b\"\nmode = \"governance\"\n"),
                "audit.publish[0].retain",
                "missing",
            ),
        ] {
            let e = Config::parse(&format!("{GOOD}\n{section}"), "latch.toml", &env).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.reason.contains(says), "{e}");
        }
        // Unknown keys are named.
        let e = Config::parse(
            &format!("{GOOD}\n{base}{file}signing_key = \"x\"\n"),
            "latch.toml",
            &env,
        )
        .unwrap_err();
        assert!(e.reason.contains("signing_key"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn the_signing_key_is_read_from_an_owner_only_file_and_never_shown() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let key = latch_grant::checkpoint::SigningKey::generate().unwrap();
        let text = key.to_file_text();
        std::fs::write(&path, &text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut audit = AuditConfig {
            signing_key_file: path.clone(),
            signing_key: None,
            checkpoint_interval_secs: 3600,
            publish: Vec::new(),
        };
        let e = audit.load_signing_key().unwrap_err();
        assert!(
            e.reason.contains("mode 644") && e.reason.contains("chmod 600"),
            "{e}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        audit.load_signing_key().unwrap();
        let secret = text.lines().last().unwrap();
        let shown = format!("{audit:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains(&key.public_key().to_string()), "{shown}");

        std::fs::write(&path, "not a key\n").unwrap();
        let e = audit.load_signing_key().unwrap_err();
        assert!(e.reason.contains("not an audit signing key"), "{e}");
    }

    #[test]
    fn max_reason_chars_has_a_default_and_bounds() {
        let c = Config::parse(GOOD, "latch.toml", &env).unwrap();
        assert_eq!(c.rules.max_reason_chars, 1000);
        let with = |v: &str| {
            GOOD.replace(
                "break_glass = [\"alice\"]",
                &format!("break_glass = [\"alice\"]\nmax_reason_chars = {v}"),
            )
        };
        let c = Config::parse(&with("280"), "latch.toml", &env).unwrap();
        assert_eq!(c.rules.max_reason_chars, 280);
        for bad in ["0", "-1", "2001"] {
            let e = Config::parse(&with(bad), "latch.toml", &env).unwrap_err();
            assert_eq!(e.field, "server.max_reason_chars", "{bad}");
            assert!(e.reason.contains("between 1 and 2000"), "{e}");
        }
    }
}
