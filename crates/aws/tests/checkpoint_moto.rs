//! Audit checkpoints into S3 under object lock, against the moto emulator (`scripts/moto`).
//!
//! What moto (5.2) enforces and these tests rely on: a bucket created with object lock
//! enabled; a put carrying `ObjectLockMode`/`ObjectLockRetainUntilDate` needs a checksum header
//! and is refused on a bucket without object lock; `GetObject` reports the mode and date;
//! deleting a locked version is refused (a plain delete only adds a delete marker, the locked
//! version stays). Moto does not answer `GetObjectRetention` (it returns the object instead)
//! and does not check that the date is in the future.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use latch_aws::checkpoint::S3CheckpointPublisher;
use latch_aws::testing;
use latch_grant::checkpoint::CheckpointPublisher;
use latch_grant::checkpoint::LockMode;
use latch_grant::checkpoint::{parse_checkpoints, Checkpoint, SigningKey};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn checkpoints_land_in_s3_under_object_lock() {
    let _guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let aws = moto.aws();
    let s3 = aws.s3();
    rt().block_on(async {
        s3.create_bucket()
            .bucket("latch-audit")
            .object_lock_enabled_for_bucket(true)
            .send()
            .await
            .unwrap();
        s3.create_bucket().bucket("no-lock").send().await.unwrap();

        let key = SigningKey::generate().unwrap();
        let at: i64 = 4_102_444_800_000; // 2100-01-01, so the lock is still on when checked
        let cp = key.sign(&Checkpoint {
            count: 42,
            head_hash: "ab".repeat(32),
            at,
            server_id: "latch-1/pod 7".into(),
        });
        let publisher = S3CheckpointPublisher::new(
            &aws,
            "latch-audit".into(),
            "audit/".into(),
            400 * 86_400,
            LockMode::Compliance,
        );
        assert_eq!(publisher.describe(), "s3://latch-audit/audit/");
        publisher.publish(&cp).await.unwrap();

        let object_key = "audit/4102444800000-000000000042-latch-1_pod_7.json";
        assert_eq!(publisher.object_key(&cp), object_key);
        let got = s3
            .get_object()
            .bucket("latch-audit")
            .key(object_key)
            .send()
            .await
            .unwrap();
        let version = got.version_id().unwrap().to_owned();
        assert_eq!(
            got.object_lock_mode().map(|m| m.as_str().to_owned()),
            Some("COMPLIANCE".to_owned())
        );
        let until = got.object_lock_retain_until_date().unwrap();
        assert_eq!(until.secs(), at / 1000 + 400 * 86_400);
        let body = got.body.collect().await.unwrap().into_bytes();
        let back = parse_checkpoints(std::str::from_utf8(&body).unwrap()).unwrap();
        assert_eq!(back, vec![cp.clone()]);
        back[0].verify(&[key.public_key()]).unwrap();

        // The locked version cannot be deleted.
        let err = s3
            .delete_object()
            .bucket("latch-audit")
            .key(object_key)
            .version_id(&version)
            .send()
            .await
            .unwrap_err();
        let text = format!("{:?}", err.into_service_error());
        assert!(text.contains("AccessDenied"), "{text}");

        // A bucket without object lock refuses the put; the error says which object.
        let unlocked = S3CheckpointPublisher::new(
            &aws,
            "no-lock".into(),
            String::new(),
            86_400,
            LockMode::Governance,
        );
        let err = unlocked.publish(&cp).await.unwrap_err();
        assert!(
            err.contains("s3:PutObject s3://no-lock/4102444800000-000000000042-latch-1_pod_7.json"),
            "{err}"
        );
    });
}
