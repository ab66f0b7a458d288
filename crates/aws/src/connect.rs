//! Connecting to AWS with the standard conventions: the default credential chain
//! (environment, shared config and credentials files with `--profile`, SSO, container and
//! instance roles), `--region`, `--endpoint-url`, retries with backoff, and assuming a role
//! in member accounts.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};

use crate::error::{call_err, AwsError, Result};
use crate::pacing::{Family, Pacer, RetryPolicy};

/// The role Latch assumes in member accounts unless told otherwise: the one AWS Organizations
/// creates in every account it creates.
pub const DEFAULT_ROLE_NAME: &str = "OrganizationAccountAccessRole";

/// Region used when none is configured: Organizations and IAM are global services served
/// from `us-east-1` in the commercial partition.
pub const FALLBACK_REGION: &str = "us-east-1";

/// How to reach AWS, as the AWS CLI's options say it.
#[derive(Debug, Clone)]
pub struct AwsOptions {
    /// Named profile from `~/.aws/config` (`--profile`); `None` follows `AWS_PROFILE` and the
    /// rest of the default chain.
    pub profile: Option<String>,
    /// Region (`--region`); `None` follows `AWS_REGION` and the profile, then `us-east-1`.
    pub region: Option<String>,
    /// Endpoint for every service (`--endpoint-url`): emulators, VPC endpoints. Also switches
    /// S3 to path-style addressing.
    pub endpoint_url: Option<String>,
    /// Attempts per call, with exponential backoff on throttling and transient errors;
    /// 1 disables retries (tests against an emulator).
    pub max_attempts: u32,
    /// Accounts worked on at once.
    pub concurrency: usize,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            profile: None,
            region: None,
            endpoint_url: None,
            max_attempts: 5,
            concurrency: 8,
        }
    }
}

/// The retry policy for `max_attempts` (standard mode: exponential backoff with jitter,
/// retrying throttling and transient errors).
pub fn retry_config(max_attempts: u32) -> RetryConfig {
    if max_attempts <= 1 {
        RetryConfig::disabled()
    } else {
        RetryConfig::standard()
            .with_max_attempts(max_attempts)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(20))
    }
}

/// A connection to an AWS organization: the base configuration (the caller's credentials,
/// normally in the management account) and how to reach member accounts. Its clones share
/// one [`Pacer`]: every AWS Organizations policy write goes through [`Aws::org_write`].
#[derive(Debug, Clone)]
pub struct Aws {
    base: SdkConfig,
    path_style_s3: bool,
    concurrency: usize,
    pacer: Arc<Pacer>,
    /// The account the base credentials act in: the one AWS throttles their writes in.
    account: Arc<tokio::sync::OnceCell<String>>,
}

/// The retry policy of paced writes for `max_attempts` (1: none).
fn write_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: max_attempts.max(1),
        ..RetryPolicy::default()
    }
}

/// Who the base credentials are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The caller's account.
    pub account: String,
    /// The caller's ARN.
    pub arn: String,
    /// The partition (`aws`, `aws-us-gov`, `aws-cn`), from the ARN.
    pub partition: String,
}

impl Aws {
    /// Loads the configuration through the default chain, with `options` on top.
    pub async fn connect(options: &AwsOptions) -> Result<Aws> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry_config(options.max_attempts));
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &options.endpoint_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(AwsError::Config(format!(
                    "endpoint URL `{url}` must start with http:// or https://"
                )));
            }
            loader = loader.endpoint_url(url);
        }
        let mut config = loader.load().await;
        if config.region().is_none() {
            config = config
                .into_builder()
                .region(Region::new(FALLBACK_REGION))
                .build();
        }
        Ok(Aws {
            base: config,
            path_style_s3: options.endpoint_url.is_some(),
            concurrency: options.concurrency.max(1),
            pacer: Arc::new(Pacer::new(write_retry(options.max_attempts))),
            account: Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    /// Wraps an already built SDK configuration (tests, embedding). `path_style_s3` should be
    /// true for emulators.
    /// Paced writes are retried as [`RetryPolicy::default`] says.
    pub fn from_sdk_config(config: SdkConfig, path_style_s3: bool, concurrency: usize) -> Aws {
        Aws {
            base: config,
            path_style_s3,
            concurrency: concurrency.max(1),
            pacer: Arc::new(Pacer::default()),
            account: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The same connection with another pacer (tests, benchmarks, a lower rate).
    #[must_use]
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Aws {
        self.pacer = pacer;
        self
    }

    /// The same connection, told which account its credentials act in (saves the
    /// `sts:GetCallerIdentity` that otherwise names the account writes are paced in).
    #[must_use]
    pub fn with_account(mut self, account: &str) -> Aws {
        self.account = Arc::new(tokio::sync::OnceCell::new_with(Some(account.to_owned())));
        self
    }

    /// The pacer of this connection's AWS Organizations writes.
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// Organizations client for the writes [`Aws::org_write`] sends: the SDK does not retry
    /// them (the pacer does, taking a token for every attempt).
    pub fn organizations_writes(&self) -> aws_sdk_organizations::Client {
        let conf = aws_sdk_organizations::config::Builder::from(&self.base)
            .retry_config(RetryConfig::disabled())
            .build();
        aws_sdk_organizations::Client::from_conf(conf)
    }

    /// The one entry point of AWS Organizations writes: `op` (given a client from
    /// [`Aws::organizations_writes`]) is sent when the rate of `family` allows in the
    /// credentials' account, and retried on throttling as [`Pacer::call`] says.
    ///
    /// # Errors
    /// `sts:GetCallerIdentity` failed (the account is needed to pace), or the call failed
    /// for good.
    pub async fn org_write<T, E, R, F, Fut>(&self, family: Family, call: &str, op: F) -> Result<T>
    where
        F: Fn(aws_sdk_organizations::Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let account = self
            .account
            .get_or_try_init(|| async { self.caller_identity().await.map(|c| c.account) })
            .await?;
        let client = self.organizations_writes();
        self.pacer
            .call(account, family, call, || op(client.clone()))
            .await
    }

    /// The base SDK configuration.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.base
    }

    /// Accounts worked on at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Organizations client with the base credentials.
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(&self.base)
    }

    /// STS client with the base credentials.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.base)
    }

    /// IAM client for `config` (the base one or an assumed role's).
    pub fn iam(config: &SdkConfig) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(config)
    }

    /// S3 client with the base credentials.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.base)
            .force_path_style(self.path_style_s3)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// `sts:GetCallerIdentity` with the base credentials.
    pub async fn caller_identity(&self) -> Result<CallerIdentity> {
        let out = self
            .sts()
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| call_err("sts:GetCallerIdentity", e))?;
        let account = out.account().unwrap_or_default().to_owned();
        let arn = out.arn().unwrap_or_default().to_owned();
        let partition = arn.split(':').nth(1).unwrap_or("aws").to_owned();
        Ok(CallerIdentity {
            account,
            arn,
            partition,
        })
    }

    /// The configuration to act in `account`: the base one when the caller is already there,
    /// otherwise credentials from `sts:AssumeRole` into `role_name` of that account.
    pub async fn config_for_account(
        &self,
        caller: &CallerIdentity,
        account: &str,
        role_name: &str,
        session_name: &str,
    ) -> Result<SdkConfig> {
        if account == caller.account {
            return Ok(self.base.clone());
        }
        let role_arn = format!("arn:{}:iam::{account}:role/{role_name}", caller.partition);
        let out = self
            .sts()
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name(session_name)
            .send()
            .await
            .map_err(|e| call_err(format!("sts:AssumeRole {role_arn}"), e))?;
        let creds = out.credentials().ok_or_else(|| AwsError::Call {
            call: format!("sts:AssumeRole {role_arn}"),
            code: None,
            message: "the response holds no credentials".to_owned(),
        })?;
        let expiry = std::time::SystemTime::try_from(*creds.expiration()).ok();
        let credentials = Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_owned()),
            expiry,
            "latch-assume-role",
        );
        Ok(self
            .base
            .clone()
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build())
    }
}
