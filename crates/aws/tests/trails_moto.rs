//! `latch collect` records every trail's event selectors (trails.json), against the moto AWS
//! emulator: an organization trail with basic selectors and an account trail with advanced
//! ones come back in the `latch.trails/v1` file, which the snapshot loads and reads as what
//! CloudTrail records.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType,
};
use latch_aws::testing::{self, build_org};
use latch_aws::{collect, CollectConfig, Silent, WorkloadRegions};
use latch_model::Gap;

async fn bucket(s3: &aws_sdk_s3::Client, name: &str) {
    s3.create_bucket().bucket(name).send().await.unwrap();
}

#[test]
fn collect_writes_the_trails_and_their_selectors() {
    let _guard = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(scenario(moto.aws()));
}

async fn scenario(aws: latch_aws::Aws) {
    let fx = build_org(&aws).await.unwrap();

    // The organization trail, in the management account: management events and every S3
    // object, through basic selectors.
    let s3 = aws.s3();
    bucket(&s3, "org-trail-logs").await;
    let ct = aws_sdk_cloudtrail::Client::new(aws.sdk_config());
    ct.create_trail()
        .name("org-trail")
        .s3_bucket_name("org-trail-logs")
        .is_multi_region_trail(true)
        .is_organization_trail(true)
        .send()
        .await
        .unwrap();
    ct.put_event_selectors()
        .trail_name("org-trail")
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(true)
                .data_resources(
                    DataResource::builder()
                        .r#type("AWS::S3::Object")
                        .values("arn:aws:s3")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();

    // An account trail in app-prod: DynamoDB reads through an advanced selector, and one the
    // file keeps but Latch does not interpret (a filter on eventName).
    let caller = aws.caller_identity().await.unwrap();
    let member = aws
        .config_for_account(&caller, &fx.app_prod, latch_aws::DEFAULT_ROLE_NAME, "test")
        .await
        .unwrap();
    let member_s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&member)
            .force_path_style(true)
            .build(),
    );
    bucket(&member_s3, "app-prod-trail").await;
    let mct = aws_sdk_cloudtrail::Client::new(&member);
    mct.create_trail()
        .name("app-trail")
        .s3_bucket_name("app-prod-trail")
        .is_multi_region_trail(true)
        .send()
        .await
        .unwrap();
    let field = |f: &str, v: &str| {
        AdvancedFieldSelector::builder()
            .field(f)
            .equals(v)
            .build()
            .unwrap()
    };
    mct.put_event_selectors()
        .trail_name("app-trail")
        .advanced_event_selectors(
            AdvancedEventSelector::builder()
                .name("table reads")
                .field_selectors(field("eventCategory", "Data"))
                .field_selectors(field("resources.type", "AWS::DynamoDB::Table"))
                .field_selectors(field("readOnly", "true"))
                .build()
                .unwrap(),
        )
        .advanced_event_selectors(
            AdvancedEventSelector::builder()
                .name("publish only")
                .field_selectors(field("eventCategory", "Data"))
                .field_selectors(field("resources.type", "AWS::SNS::Topic"))
                .field_selectors(field("eventName", "Publish"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap");
    let mut config = CollectConfig::new(&out);
    config.workloads = WorkloadRegions::Skip;
    let report = collect(&aws, &config, &Silent).await.unwrap();
    assert_eq!(report.trails_error, None, "{report:?}");

    let text = std::fs::read_to_string(out.join("trails.json")).unwrap();
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["format"], "latch.trails/v1");
    let trails = file["trails"].as_array().unwrap();
    let org = trails.iter().find(|t| t["name"] == "org-trail").unwrap();
    assert_eq!(org["account"], fx.management.as_str());
    assert_eq!(org["organization_trail"], true);
    assert_eq!(org["multi_region"], true);
    assert_eq!(
        org["event_selectors"][0]["DataResources"][0]["Type"],
        "AWS::S3::Object"
    );
    let app = trails.iter().find(|t| t["name"] == "app-trail").unwrap();
    assert_eq!(app["account"], fx.app_prod.as_str());
    assert_eq!(
        app["advanced_event_selectors"][0]["Name"], "table reads",
        "{app}"
    );
    // The organization trail is listed once, by the account that owns it.
    assert_eq!(
        trails.iter().filter(|t| t["name"] == "org-trail").count(),
        1,
        "{text}"
    );

    // The snapshot loads it, and it decides what is unknown.
    let snapshot = latch_model::load::snapshot(&out).unwrap();
    let v = snapshot.visibility();
    let c = latch_catalog::Catalog::get();
    let id = |n: &str| c.resolve(n).unwrap();
    for account in [&fx.management, &fx.app_prod, &fx.app_dev] {
        assert_eq!(v.gap(account, id("s3:GetObject")), None);
        assert_eq!(v.gap(account, id("iam:CreateRole")), None);
    }
    assert_eq!(v.gap(&fx.app_prod, id("dynamodb:GetItem")), None);
    assert_eq!(
        v.gap(&fx.app_prod, id("dynamodb:PutItem")),
        Some(Gap::DataEventsNotLogged)
    );
    assert_eq!(
        v.gap(&fx.app_dev, id("dynamodb:GetItem")),
        Some(Gap::DataEventsNotLogged)
    );
    assert_eq!(
        v.gap(&fx.app_prod, id("sns:Publish")),
        Some(Gap::DataEventsNotLogged)
    );
    assert!(
        v.notes()
            .iter()
            .any(|n| n.contains("`publish only`") && n.contains("eventName")),
        "{:?}",
        v.notes()
    );
}
