//! The Latch control plane: permissions on demand.
//!
//! A person or pipeline asks for a bundle for a bounded time; an approval policy decides
//! (auto-approve, named approvers in tiers with escalation, a second approver, break-glass);
//! the scheduler applies the grant through a [`CloudAdapter`] and removes it exactly
//! when due — also after a crash or restart — and a reconciler removes `latch:*` grant tags no
//! live grant explains. Everything lands in the store's hash-chained audit log.
//!
//! - [`service`]: the core that commits what `latch_grant::workflow` decides, and talks to the
//!   chats;
//! - [`scheduler`]: the only caller of the cloud, one leader at a time;
//! - [`http`], [`slack`], [`teams`], [`openapi`], [`metrics`]: the edges; [`api`]: the wire types
//!   of `/api/v1`, shared with the `latch` client;
//! - [`notify`]: the seam every chat platform implements ([`slack`] and [`teams`] do);
//! - [`chat`]: what every chat platform shares (commands, their answers);
//! - [`offers`]: denial-triggered offers (CloudTrail denials in, one-click chat requests out);
//! - [`checkpoint`]: signed checkpoints of the audit log, published outside the database;
//! - [`siem`]: every audit entry streamed to SIEM sinks, at least once, in order.
//!
//! Tests and embedders start a server with [`launch_with_tcp_listener`] on a listener they
//! bound (`127.0.0.1:0`).

use std::future::Future;
use std::sync::Arc;

use latch_grant::checkpoint::CheckpointPublisher;
use latch_grant::directory::DirectorySource;
use latch_grant::{CloudAdapter, Store};
use tokio::net::TcpListener;

pub mod api;
pub mod chat;
pub mod checkpoint;
pub mod clock;
pub mod config;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod offers;
pub mod oncall;
pub mod openapi;
pub mod people;
pub mod posture;
pub mod scheduler;
pub mod service;
pub mod siem;
pub mod slack;
pub mod teams;
pub mod web;

pub use clock::{Clock, ManualClock, SystemClock};

pub use config::Config;
pub use service::Core;

/// Everything a server needs.
#[derive(Debug)]
pub struct Settings {
    /// Configuration.
    pub config: Config,
    /// Storage (already opened and migrated).
    pub store: Arc<dyn Store>,
    /// The cloud.
    pub cloud: Arc<dyn CloudAdapter>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Where to serve metrics; when `None`, `config.metrics_listen` is bound if set.
    pub metrics_listener: Option<TcpListener>,
    /// Checkpoint publishers for the `[[audit.publish]]` places the server cannot reach itself
    /// (S3: `latch-aws` provides them); file and Slack ones are built from the configuration.
    pub checkpoint_publishers: Vec<Arc<dyn CheckpointPublisher>>,
    /// Where `[identity_center]` people come from (`latch-aws` reads IAM Identity Center);
    /// `None` without that section.
    pub directory: Option<Arc<dyn DirectorySource>>,
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listener could not be bound or served.
    #[error("{what} `{addr}`: {reason}")]
    Listen {
        /// Which listener.
        what: &'static str,
        /// Address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// `[audit]` cannot work as configured.
    #[error("[audit]: {0}")]
    Audit(String),
}

/// Build the shared core.
#[must_use]
pub fn core(settings: &Settings) -> Arc<Core> {
    let slack = settings
        .config
        .slack
        .as_ref()
        .map(|s| slack::SlackClient::new(&s.api_base, s.bot_token.clone()));
    let teams = settings
        .config
        .teams
        .as_ref()
        .map(|t| Arc::new(teams::TeamsBot::new(t)));
    let mut notifiers: Vec<Arc<dyn notify::Notifier>> = Vec::new();
    if let Some(n) = slack
        .clone()
        .and_then(|c| slack::SlackNotifier::new(&settings.config, c))
    {
        notifiers.push(Arc::new(n));
    }
    if let Some(bot) = &teams {
        notifiers.push(Arc::new(teams::TeamsNotifier::new(
            Arc::clone(bot),
            Arc::clone(&settings.clock),
        )));
    }
    Arc::new(Core::new(
        settings.config.clone(),
        Arc::clone(&settings.store),
        Arc::clone(&settings.cloud),
        Arc::clone(&settings.clock),
        service::Chats {
            slack,
            teams,
            notifiers,
        },
        settings.directory.clone(),
    ))
}

/// Serve the API (and Slack endpoints) on `listener`, metrics on their own listener, and run
/// the scheduler, until `shutdown` resolves.
///
/// # Errors
/// A listener fails.
pub async fn launch_with_tcp_listener(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let metrics_listener = match settings.metrics_listener {
        Some(l) => Some(l),
        None => match &settings.config.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| ServerError::Listen {
                        what: "metrics listener",
                        addr: addr.clone(),
                        reason: e.to_string(),
                    })?,
            ),
            None => None,
        },
    };
    let mut publishers = settings.checkpoint_publishers;
    let core = core(&Settings {
        metrics_listener: None,
        checkpoint_publishers: Vec::new(),
        ..settings
    });
    if core.has_directory() {
        // People as last synced, before the first request is served.
        if let Err(e) = core.load_directory().await {
            tracing::warn!(error = %e, "directory: the stored directory could not be loaded");
        }
    }
    if let Some(audit) = &core.config.audit {
        if audit.signing_key.is_none() {
            return Err(ServerError::Audit(format!(
                "the signing key `{}` was not loaded",
                audit.signing_key_file.display()
            )));
        }
        let s3_targets = audit
            .publish
            .iter()
            .filter(|t| matches!(t, config::CheckpointTarget::S3 { .. }))
            .count();
        if publishers.len() != s3_targets {
            return Err(ServerError::Audit(format!(
                "{s3_targets} S3 place(s) configured but {} S3 publisher(s) given",
                publishers.len()
            )));
        }
        let mut local = checkpoint::local_publishers(audit, core.slack.as_ref());
        local.append(&mut publishers);
        publishers = local;
    }
    let (tx, rx) = tokio::sync::watch::channel(());
    let stopped = |mut rx: tokio::sync::watch::Receiver<()>| async move {
        let _ = rx.changed().await;
    };
    let api_addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(addr = %api_addr, server = %core.config.server_id, backend = core.view().backend(), "latch server listening");
    let api = axum::serve(listener, http::router(Arc::clone(&core)))
        .with_graceful_shutdown(stopped(rx.clone()));
    let metrics_core = Arc::clone(&core);
    let metrics_stop = stopped(rx.clone());
    let metrics = async move {
        match metrics_listener {
            Some(l) => {
                let app = axum::Router::new().route(
                    "/metrics",
                    axum::routing::get(move || {
                        let c = Arc::clone(&metrics_core);
                        async move {
                            (
                                [(
                                    axum::http::header::CONTENT_TYPE,
                                    "text/plain; version=0.0.4",
                                )],
                                c.metrics.render(),
                            )
                        }
                    }),
                );
                axum::serve(l, app)
                    .with_graceful_shutdown(metrics_stop)
                    .await
            }
            None => Ok(()),
        }
    };
    let checkpoints = checkpoint::run(Arc::clone(&core), publishers, stopped(rx.clone()));
    let siem = siem::run(Arc::clone(&core), stopped(rx.clone()));
    let scheduler = scheduler::run(Arc::clone(&core), stopped(rx));
    let signal = async move {
        shutdown.await;
        let _ = tx.send(());
    };
    let (api_result, metrics_result, (), (), (), ()) =
        tokio::join!(api, metrics, scheduler, checkpoints, siem, signal);
    api_result.map_err(|e| ServerError::Listen {
        what: "API listener",
        addr: api_addr,
        reason: e.to_string(),
    })?;
    metrics_result.map_err(|e| ServerError::Listen {
        what: "metrics listener",
        addr: String::new(),
        reason: e.to_string(),
    })?;
    Ok(())
}
