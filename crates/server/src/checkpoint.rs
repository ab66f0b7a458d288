//! Signed checkpoints of the audit log (`[audit]`): at start, every `checkpoint_interval` and
//! at shutdown, the server verifies the log up to its head, signs (entry count, head hash,
//! time, server id) with its Ed25519 key and publishes the checkpoint to every place
//! `[[audit.publish]]` names: a file, the Slack security channel, and S3 under object lock
//! (that publisher lives in `latch-aws` and is handed in by the binary).
//!
//! A log that does not verify is never signed: the server logs the problem and counts it
//! (`latch_audit_checkpoints_total{result="log_broken"}`) instead. Every server of a shared
//! database writes its own checkpoints; they all describe the one log.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use latch_grant::audit::{self, GENESIS_HASH};
use latch_grant::checkpoint::{Checkpoint, CheckpointPublisher, SignedCheckpoint, SigningKey};
use latch_grant::Store;

use crate::clock::{rfc3339, Clock};
use crate::config::{AuditConfig, CheckpointTarget};
use crate::service::Core;
use crate::slack::SlackClient;

/// Appends each checkpoint as one JSON line to a file, created mode 0600 whatever the umask.
#[derive(Debug, Clone)]
pub struct FilePublisher {
    path: PathBuf,
}

impl FilePublisher {
    /// A publisher appending to `path`.
    #[must_use]
    pub fn new(path: PathBuf) -> Self {
        FilePublisher { path }
    }
}

/// Append `line` and a newline to `path` in one write, creating the file mode 0600 (set
/// explicitly after creation, so the umask cannot loosen or tighten it) and syncing it.
///
/// # Errors
/// The file cannot be created, opened or written.
pub fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(f) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
            f
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::OpenOptions::new().append(true).open(path)?
        }
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    file.write_all(&bytes)?;
    file.sync_data()
}

#[async_trait]
impl CheckpointPublisher for FilePublisher {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    async fn publish(&self, checkpoint: &SignedCheckpoint) -> Result<(), String> {
        let path = self.path.clone();
        let line = checkpoint.to_json_line();
        tokio::task::spawn_blocking(move || append_line(&path, &line))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }
}

/// Posts each checkpoint to a Slack channel (the security channel unless configured
/// otherwise), through the same Web API client as the server's security notices.
#[derive(Debug, Clone)]
pub struct SlackPublisher {
    client: SlackClient,
    channel: String,
}

impl SlackPublisher {
    /// A publisher posting to `channel`.
    #[must_use]
    pub fn new(client: SlackClient, channel: String) -> Self {
        SlackPublisher { client, channel }
    }
}

/// The Slack message for a checkpoint: a line for people, then the checkpoint itself, which
/// `latch audit verify --checkpoint` reads once copied into a file.
#[must_use]
pub fn slack_text(cp: &SignedCheckpoint) -> String {
    format!(
        ":lock: Audit checkpoint from `{}`: the log held {} entries at {}, head `{}`.\n```{}```",
        cp.server_id,
        cp.count,
        rfc3339(cp.at),
        cp.head_hash,
        cp.to_json_line()
    )
}

#[async_trait]
impl CheckpointPublisher for SlackPublisher {
    fn describe(&self) -> String {
        format!("slack {}", self.channel)
    }

    async fn publish(&self, checkpoint: &SignedCheckpoint) -> Result<(), String> {
        self.client
            .post_message(&self.channel, &slack_text(checkpoint), None)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The publishers the server itself can build from `[audit] publish` (file and Slack); S3
/// targets are left to the caller, who passes their publishers to [`run`].
#[must_use]
pub fn local_publishers(
    audit: &AuditConfig,
    slack: Option<&SlackClient>,
) -> Vec<Arc<dyn CheckpointPublisher>> {
    let mut out: Vec<Arc<dyn CheckpointPublisher>> = Vec::new();
    for target in &audit.publish {
        match target {
            CheckpointTarget::File { path } => {
                out.push(Arc::new(FilePublisher::new(path.clone())));
            }
            CheckpointTarget::Slack { channel } => {
                if let Some(client) = slack {
                    out.push(Arc::new(SlackPublisher::new(
                        client.clone(),
                        channel.clone(),
                    )));
                }
            }
            CheckpointTarget::S3 { .. } => {}
        }
    }
    out
}

/// Takes checkpoints: verifies the log once in full, then each time only the entries added
/// since the last checkpoint, and signs the head.
#[derive(Debug)]
pub struct Checkpointer {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    key: SigningKey,
    server_id: String,
    /// The head verified so far (`seq`, `hash`).
    head: Option<(i64, String)>,
}

impl Checkpointer {
    /// A checkpointer over `store`.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        key: SigningKey,
        server_id: String,
    ) -> Self {
        Checkpointer {
            store,
            clock,
            key,
            server_id,
            head: None,
        }
    }

    /// Verify the log up to its head and sign a checkpoint of it.
    ///
    /// # Errors
    /// The store fails, or the log does not verify (then nothing is signed, now or later).
    pub async fn take(&mut self) -> Result<SignedCheckpoint, String> {
        let head = match &self.head {
            None => {
                let (records, v) = self.store.audit_check().await.map_err(|e| e.to_string())?;
                if !v.is_intact() {
                    return Err(describe_broken(&v));
                }
                records
                    .last()
                    .map_or((0, GENESIS_HASH.to_owned()), |r| (r.seq, r.hash.clone()))
            }
            Some((seq, hash)) => {
                let new = self.store.audit(*seq, 0).await.map_err(|e| e.to_string())?;
                let v = audit::verify_after(Some((*seq, hash)), &new);
                if !v.is_intact() {
                    return Err(describe_broken(&v));
                }
                new.last()
                    .map_or((*seq, hash.clone()), |r| (r.seq, r.hash.clone()))
            }
        };
        let at = self.clock.now();
        self.head = Some(head.clone());
        Ok(self.key.sign(&Checkpoint {
            count: u64::try_from(head.0).unwrap_or(0),
            head_hash: head.1,
            at,
            server_id: self.server_id.clone(),
        }))
    }
}

fn describe_broken(v: &audit::Verification) -> String {
    let mut parts: Vec<String> = v
        .breaks
        .iter()
        .map(|b| format!("seq {}: {}", b.seq, b.problem))
        .collect();
    parts.extend(v.problems.iter().cloned());
    format!(
        "the audit log does not verify, so no checkpoint is signed: {}",
        parts.join("; ")
    )
}

/// Take one checkpoint and publish it everywhere; failures are logged and counted.
async fn checkpoint_once(
    core: &Core,
    checkpointer: &mut Checkpointer,
    publishers: &[Arc<dyn CheckpointPublisher>],
    broken: &mut bool,
) {
    if *broken {
        // Once the log failed to verify, nothing is signed again until a restart.
        core.metrics
            .inc(&crate::metrics::AUDIT_CHECKPOINTS, "result=\"log_broken\"");
        tracing::error!("audit log does not verify: no checkpoint signed (see the first error)");
        return;
    }
    let cp = match checkpointer.take().await {
        Ok(cp) => cp,
        Err(e) => {
            if e.starts_with("the audit log does not verify") {
                *broken = true;
                core.metrics
                    .set_gauge(&crate::metrics::AUDIT_LOG_INTACT, "", 0);
                core.metrics
                    .inc(&crate::metrics::AUDIT_CHECKPOINTS, "result=\"log_broken\"");
            } else {
                core.metrics
                    .inc(&crate::metrics::AUDIT_CHECKPOINTS, "result=\"store_error\"");
            }
            tracing::error!(error = %e, "audit checkpoint not taken");
            return;
        }
    };
    core.metrics
        .set_gauge(&crate::metrics::AUDIT_LOG_INTACT, "", 1);
    for p in publishers {
        match p.publish(&cp).await {
            Ok(()) => {
                core.metrics
                    .inc(&crate::metrics::AUDIT_CHECKPOINTS, "result=\"published\"");
                tracing::info!(to = %p.describe(), count = cp.count, head = %cp.head_hash, "audit checkpoint published");
            }
            Err(e) => {
                core.metrics.inc(
                    &crate::metrics::AUDIT_CHECKPOINTS,
                    "result=\"publish_failed\"",
                );
                tracing::error!(to = %p.describe(), error = %e, "audit checkpoint not published");
            }
        }
    }
}

/// Write checkpoints until `shutdown` resolves: one now, one every interval, one at the end.
/// Without `[audit]`, waits for `shutdown` and does nothing.
pub async fn run(
    core: Arc<Core>,
    publishers: Vec<Arc<dyn CheckpointPublisher>>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let Some(audit) = core.config.audit.clone() else {
        shutdown.await;
        return;
    };
    let Some(key) = audit.signing_key.clone() else {
        tracing::error!("[audit] is configured but its signing key was not loaded: no checkpoints");
        shutdown.await;
        return;
    };
    let mut checkpointer = Checkpointer::new(
        Arc::clone(core.store()),
        Arc::clone(&core.clock),
        key,
        core.config.server_id.clone(),
    );
    let interval_ms = audit.checkpoint_interval_secs.saturating_mul(1000);
    let mut broken = false;
    let mut shutdown = std::pin::pin!(shutdown);
    // On a fixed schedule from the start (not from when the last one finished); after a
    // pause longer than an interval, the next one is taken at once.
    let mut next = core.now();
    loop {
        checkpoint_once(&core, &mut checkpointer, &publishers, &mut broken).await;
        next = next.saturating_add(interval_ms).max(core.now());
        let clock = Arc::clone(&core.clock);
        tokio::select! {
            () = &mut shutdown => break,
            () = clock.sleep_until(next) => {}
        }
    }
    checkpoint_once(&core, &mut checkpointer, &publishers, &mut broken).await;
}
