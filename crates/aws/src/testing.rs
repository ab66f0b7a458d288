//! Test support (feature `testing`): the moto AWS emulator on loopback, and a fixture
//! organization built through the SDK. Used by this crate's and the CLI's integration tests.
//!
//! [`fake`] is an in-process AWS Organizations (no socket, so a paused clock runs a paced run
//! at once); [`proxy`] sits between the SDK and moto and injects throttling answers and
//! dropped connections, and lets [`access_advisor`] answer the IAM last-accessed operations
//! moto lacks.
//!
//! One moto server per test binary ([`shared`]), on a free port, installed and started by
//! `scripts/moto` and stopped when the test process ends. Tests that share it take
//! [`lock`] and start from [`Moto::reset`].

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_organizations::types::{CreateAccountState, PolicyType};

use crate::connect::retry_config;
use crate::Aws;

pub mod access_advisor;
pub mod fake;
pub mod proxy;

pub use fake::FakeOrganizations;

/// The AWS Organizations operations AWS throttles as policy writes (`X-Amz-Target` suffixes).
pub const POLICY_WRITES: &[&str] = &[
    "CreatePolicy",
    "UpdatePolicy",
    "AttachPolicy",
    "DetachPolicy",
    "DeletePolicy",
];
pub use proxy::{FaultProxy, Faults, ProxyStats, Responder};

/// Access key id every test uses (moto maps it to account 123456789012).
pub const ACCESS_KEY: &str = "testing";
/// The matching secret.
pub const SECRET_KEY: &str = "testing";

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
    /// Server log.
    pub log: PathBuf,
}

/// The repository root (where `scripts/moto` lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn http(port: u16, method: &str, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

impl Moto {
    /// Installs moto if needed (`scripts/moto install`), starts it on a free port and waits
    /// until it answers.
    pub fn start() -> Result<Moto, String> {
        let script = repo_root().join("scripts/moto");
        let install = Command::new(&script)
            .arg("install")
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !install.status.success() {
            return Err(format!("{} install failed", script.display()));
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let log = std::env::temp_dir().join(format!("latch-moto-{port}.log"));
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let err_file = log_file.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&script)
            .args(["serve", &port.to_string(), &std::process::id().to_string()])
            .stdout(log_file)
            .stderr(err_file)
            .spawn()
            .map_err(|e| format!("cannot start moto: {e}"))?;
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(resp) = http(port, "GET", "/moto-api/data.json") {
                if resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200") {
                    return Ok(moto);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "moto did not answer on port {port} within 60 s (log: {})",
            moto.log.display()
        ))
    }

    /// Forgets every resource (`POST /moto-api/reset`).
    pub fn reset(&self) -> Result<(), String> {
        let resp = http(self.port, "POST", "/moto-api/reset").map_err(|e| e.to_string())?;
        if resp.contains(" 200 ") {
            Ok(())
        } else {
            Err(format!("reset failed: {resp}"))
        }
    }

    /// SDK configuration with the test credentials, no retries.
    pub fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "moto",
            )))
            .retry_config(retry_config(1))
            .build()
    }

    /// An [`Aws`] connected to this server.
    pub fn aws(&self) -> Aws {
        Aws::from_sdk_config(self.sdk_config(), true, 4)
    }

    /// Environment for a `latch` child process to reach this server through the default
    /// credential chain.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test binary's moto server, started on first use (stopped by `scripts/moto` when the
/// process ends).
pub fn shared() -> Result<&'static Moto, String> {
    static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();
    MOTO.get_or_init(Moto::start).as_ref().map_err(Clone::clone)
}

/// Serialises the tests of one binary over the shared server.
pub fn lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What [`build_org`] created.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Organization id.
    pub org_id: String,
    /// Management account.
    pub management: String,
    /// Root.
    pub root: String,
    /// OU `Prod` under the root.
    pub prod: String,
    /// OU `Payments` under `Prod`.
    pub payments: String,
    /// OU `Dev` under the root.
    pub dev: String,
    /// Account `app-prod` in `Payments`.
    pub app_prod: String,
    /// Account `app-dev` in `Dev`.
    pub app_dev: String,
    /// Account `sandbox` under the root.
    pub sandbox: String,
    /// Account `closed`, closed (suspended): AWS refuses sessions in it.
    pub closed: String,
    /// Customer SCP `DenyLeaveOrganization`, attached to the root.
    pub deny_leave: String,
    /// SCP named `latch-imposter` **without** Latch's tag, attached to `Dev`.
    pub imposter: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Deny leaving the organization.
pub const DENY_LEAVE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#;
const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const S3_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
const IAM_READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}]}"#;

/// Builds an organization through the SDK:
///
/// ```text
/// Root (DenyLeaveOrganization)            management 123456789012: user admin
/// ├── Prod
/// │   └── Payments
/// │       └── app-prod: role deployer (inline s3:*, managed iam-read, tag team=payments),
/// │                     user alice in group devs (managed iam-read), user bob
/// ├── Dev (latch-imposter, not Latch's)
/// │   └── app-dev: role builder
/// ├── sandbox
/// └── closed (suspended)
/// ```
pub async fn build_org(aws: &Aws) -> Result<Fixture, BoxError> {
    let org = aws.organizations();
    let created = org
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await?;
    let o = created.organization().ok_or("no organization")?;
    let org_id = o.id().unwrap_or_default().to_owned();
    let management = o.master_account_id().unwrap_or_default().to_owned();
    let roots = org.list_roots().send().await?;
    let root = roots
        .roots()
        .first()
        .and_then(|r| r.id())
        .ok_or("no root")?
        .to_owned();
    let ou = |parent: String, name: &'static str| {
        let org = org.clone();
        async move {
            let out = org
                .create_organizational_unit()
                .parent_id(parent)
                .name(name)
                .send()
                .await?;
            Ok::<_, BoxError>(
                out.organizational_unit()
                    .and_then(|u| u.id())
                    .ok_or("no OU id")?
                    .to_owned(),
            )
        }
    };
    let prod = ou(root.clone(), "Prod").await?;
    let payments = ou(prod.clone(), "Payments").await?;
    let dev = ou(root.clone(), "Dev").await?;
    let account = |name: &'static str, parent: Option<String>| {
        let org = org.clone();
        let root = root.clone();
        async move {
            let out = org
                .create_account()
                .account_name(name)
                .email(format!("aws+{name}@example.com"))
                .send()
                .await?;
            let status = out.create_account_status().ok_or("no status")?;
            if status.state() != Some(&CreateAccountState::Succeeded) {
                return Err(format!("account {name} not created: {status:?}").into());
            }
            let id = status.account_id().ok_or("no account id")?.to_owned();
            if let Some(p) = parent {
                org.move_account()
                    .account_id(&id)
                    .source_parent_id(&root)
                    .destination_parent_id(p)
                    .send()
                    .await?;
            }
            Ok::<_, BoxError>(id)
        }
    };
    let app_prod = account("app-prod", Some(payments.clone())).await?;
    let app_dev = account("app-dev", Some(dev.clone())).await?;
    let sandbox = account("sandbox", None).await?;
    let closed = account("closed", None).await?;
    org.close_account().account_id(&closed).send().await?;

    let policy = |name: &'static str, content: &'static str, target: String| {
        let org = org.clone();
        async move {
            let out = org
                .create_policy()
                .name(name)
                .description(format!("{name} (fixture)"))
                .r#type(PolicyType::ServiceControlPolicy)
                .content(content)
                .send()
                .await?;
            let id = out
                .policy()
                .and_then(|p| p.policy_summary())
                .and_then(|s| s.id())
                .ok_or("no policy id")?
                .to_owned();
            org.attach_policy()
                .policy_id(&id)
                .target_id(target)
                .send()
                .await?;
            Ok::<_, BoxError>(id)
        }
    };
    let deny_leave = policy("DenyLeaveOrganization", DENY_LEAVE, root.clone()).await?;
    let imposter = policy("latch-imposter", DENY_LEAVE, dev.clone()).await?;

    let caller = aws.caller_identity().await?;
    let iam_mgmt = Aws::iam(aws.sdk_config());
    iam_mgmt.create_user().user_name("admin").send().await?;

    let cfg = aws
        .config_for_account(&caller, &app_prod, crate::DEFAULT_ROLE_NAME, "fixture")
        .await?;
    let iam = Aws::iam(&cfg);
    let read = iam
        .create_policy()
        .policy_name("iam-read")
        .policy_document(IAM_READ)
        .send()
        .await?;
    let read_arn = read
        .policy()
        .and_then(|p| p.arn())
        .ok_or("no policy arn")?
        .to_owned();
    let team = aws_sdk_iam::types::Tag::builder()
        .key("team")
        .value("payments")
        .build()?;
    iam.create_role()
        .role_name("deployer")
        .assume_role_policy_document(TRUST_EC2)
        .tags(team)
        .send()
        .await?;
    iam.put_role_policy()
        .role_name("deployer")
        .policy_name("s3-all")
        .policy_document(S3_ALL)
        .send()
        .await?;
    iam.attach_role_policy()
        .role_name("deployer")
        .policy_arn(&read_arn)
        .send()
        .await?;
    iam.create_group().group_name("devs").send().await?;
    iam.attach_group_policy()
        .group_name("devs")
        .policy_arn(&read_arn)
        .send()
        .await?;
    iam.create_user().user_name("alice").send().await?;
    iam.create_user().user_name("bob").send().await?;
    iam.add_user_to_group()
        .group_name("devs")
        .user_name("alice")
        .send()
        .await?;

    let cfg = aws
        .config_for_account(&caller, &app_dev, crate::DEFAULT_ROLE_NAME, "fixture")
        .await?;
    Aws::iam(&cfg)
        .create_role()
        .role_name("builder")
        .assume_role_policy_document(TRUST_EC2)
        .send()
        .await?;

    Ok(Fixture {
        org_id,
        management,
        root,
        prod,
        payments,
        dev,
        app_prod,
        app_dev,
        sandbox,
        closed,
        deny_leave,
        imposter,
    })
}

/// An IAM client acting in `account` (through the default role).
pub async fn iam_in(aws: &Aws, account: &str) -> Result<aws_sdk_iam::Client, BoxError> {
    let caller = aws.caller_identity().await?;
    let cfg = aws
        .config_for_account(&caller, account, crate::DEFAULT_ROLE_NAME, "fixture")
        .await?;
    Ok(Aws::iam(&cfg))
}

/// The targets a policy is attached to, sorted.
pub async fn targets_of(aws: &Aws, policy_id: &str) -> Result<Vec<String>, BoxError> {
    let out = aws
        .organizations()
        .list_targets_for_policy()
        .policy_id(policy_id)
        .send()
        .await?;
    let mut t: Vec<String> = out
        .targets()
        .iter()
        .filter_map(|t| t.target_id().map(str::to_owned))
        .collect();
    t.sort();
    Ok(t)
}
