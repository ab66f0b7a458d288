//! [`S3CheckpointPublisher`]: the server's signed audit checkpoints as S3 objects under object
//! lock (`[[audit.publish]] to = "s3"`).
//!
//! Each checkpoint is one object, `{prefix}{at:013}-{count:012}-{server}.json`, holding the
//! checkpoint's JSON line. It is written with `ObjectLockMode` and `ObjectLockRetainUntilDate`
//! (the checkpoint's time plus `retain`), so until then nobody can delete or overwrite that
//! version — in compliance mode not even the account's root user. The bucket must have been
//! created with object lock enabled; S3 refuses the put otherwise, and the server reports it.
//! Keys sort by time, so `aws s3 cp --recursive` and `cat` give a file that
//! `latch audit verify --checkpoint` reads.

use async_trait::async_trait;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{ChecksumAlgorithm, ObjectLockMode};
use latch_grant::checkpoint::CheckpointPublisher;
use latch_grant::checkpoint::LockMode;
use latch_grant::checkpoint::SignedCheckpoint;

use crate::error::call_err;
use crate::Aws;

/// Puts each checkpoint into an S3 bucket under object lock.
#[derive(Debug, Clone)]
pub struct S3CheckpointPublisher {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    retain_secs: i64,
    mode: LockMode,
}

impl S3CheckpointPublisher {
    /// A publisher into `bucket` under `prefix`, each object locked for `retain_secs` in `mode`.
    pub fn new(
        aws: &Aws,
        bucket: String,
        prefix: String,
        retain_secs: i64,
        mode: LockMode,
    ) -> Self {
        S3CheckpointPublisher {
            client: aws.s3(),
            bucket,
            prefix,
            retain_secs,
            mode,
        }
    }

    /// The object key of a checkpoint: sortable by time, then count; the server id is kept to
    /// letters, digits, `.`, `_` and `-`.
    pub fn object_key(&self, cp: &SignedCheckpoint) -> String {
        let server: String = cp
            .server_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "{}{:013}-{:012}-{server}.json",
            self.prefix,
            cp.at.max(0),
            cp.count
        )
    }

    /// When the object's lock runs out: the checkpoint's time plus the retention.
    pub fn retain_until(&self, cp: &SignedCheckpoint) -> DateTime {
        DateTime::from_secs((cp.at / 1000).saturating_add(self.retain_secs))
    }
}

#[async_trait]
impl CheckpointPublisher for S3CheckpointPublisher {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    async fn publish(&self, checkpoint: &SignedCheckpoint) -> Result<(), String> {
        let key = self.object_key(checkpoint);
        let body = format!("{}\n", checkpoint.to_json_line());
        let mode = match self.mode {
            LockMode::Compliance => ObjectLockMode::Compliance,
            LockMode::Governance => ObjectLockMode::Governance,
        };
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(ByteStream::from(body.into_bytes()))
            .content_type("application/json")
            // S3 requires an integrity checksum on a put that sets a retention.
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .object_lock_mode(mode)
            .object_lock_retain_until_date(self.retain_until(checkpoint))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                call_err(format!("s3:PutObject s3://{}/{key}", self.bucket), e).to_string()
            })
    }
}
