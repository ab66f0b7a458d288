//! `latch collect` inventories the resources that run as roles (accounts/<id>/workloads.json),
//! against the moto AWS emulator: resources created through the SDK in a member account come
//! back with the roles they run as, and a kind that cannot be listed is left out with why,
//! never reported as empty.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;

use latch_aws::testing::{self, build_org};
use latch_aws::workloads::enabled_regions;
use latch_aws::{collect, Aws, CollectConfig, Silent, WorkloadRegions};
use latch_model::workloads::WorkloadKind;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","ec2.amazonaws.com","cloudformation.amazonaws.com","codebuild.amazonaws.com","glue.amazonaws.com","sagemaker.amazonaws.com","ecs-tasks.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;

/// A minimal zip archive (one empty file), enough for `lambda:CreateFunction`.
fn zip() -> Vec<u8> {
    let mut v = Vec::new();
    // Local file header, central directory and end record for an empty file `a`.
    v.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00a");
    v.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00a");
    v.extend_from_slice(
        b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00\x2f\x00\x00\x00\x1f\x00\x00\x00\x00\x00",
    );
    v
}

struct Created {
    /// kind → (resource ARN suffix it must end with, role name)
    expected: Vec<(WorkloadKind, String, &'static str)>,
}

async fn create_workloads(cfg: &aws_config::SdkConfig, account: &str) -> Created {
    let iam = Aws::iam(cfg);
    let mut roles = BTreeMap::new();
    for name in [
        "fn-runner",
        "batch",
        "stack-admin",
        "builder",
        "etl",
        "notebook",
        "task",
    ] {
        let r = iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(TRUST)
            .send()
            .await
            .unwrap();
        roles.insert(name, r.role().unwrap().arn().to_owned());
    }
    // An instance profile holding `batch`, and one holding no role.
    let profile = iam
        .create_instance_profile()
        .instance_profile_name("batch")
        .send()
        .await
        .unwrap();
    let profile_arn = profile.instance_profile().unwrap().arn().to_owned();
    iam.add_role_to_instance_profile()
        .instance_profile_name("batch")
        .role_name("batch")
        .send()
        .await
        .unwrap();

    let mut expected = Vec::new();
    let lambda = aws_sdk_lambda::Client::new(cfg);
    lambda
        .create_function()
        .function_name("etl-loader")
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .handler("a.handler")
        .role(&roles["fn-runner"])
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(zip().into())
                .build(),
        )
        .send()
        .await
        .unwrap();
    expected.push((
        WorkloadKind::LambdaFunction,
        format!(":{account}:function:etl-loader"),
        "fn-runner",
    ));

    let ec2 = aws_sdk_ec2::Client::new(cfg);
    let run = ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .min_count(1)
        .max_count(1)
        .iam_instance_profile(
            aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                .arn(&profile_arn)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let id = run.instances()[0].instance_id().unwrap().to_owned();
    // An instance without a profile runs as no role and is not listed.
    ec2.run_instances()
        .image_id("ami-12c6146b")
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    expected.push((
        WorkloadKind::Ec2Instance,
        format!(":{account}:instance/{id}"),
        "batch",
    ));

    let cfn = aws_sdk_cloudformation::Client::new(cfg);
    cfn.create_stack()
        .stack_name("network")
        .template_body(
            r#"{"Resources":{"Q":{"Type":"AWS::SQS::Queue","Properties":{"QueueName":"q1"}}}}"#,
        )
        .role_arn(&roles["stack-admin"])
        .send()
        .await
        .unwrap();
    // A stack without a service role runs with its caller's permissions: not listed.
    cfn.create_stack()
        .stack_name("plain")
        .template_body(
            r#"{"Resources":{"Q":{"Type":"AWS::SQS::Queue","Properties":{"QueueName":"q2"}}}}"#,
        )
        .send()
        .await
        .unwrap();
    expected.push((
        WorkloadKind::CloudFormationStack,
        ":stack/network/".to_owned(),
        "stack-admin",
    ));

    let cb = aws_sdk_codebuild::Client::new(cfg);
    use aws_sdk_codebuild::types as cbt;
    cb.create_project()
        .name("release")
        .service_role(&roles["builder"])
        .source(
            cbt::ProjectSource::builder()
                .r#type(cbt::SourceType::S3)
                .location("sources/release.zip")
                .build()
                .unwrap(),
        )
        .artifacts(
            cbt::ProjectArtifacts::builder()
                .r#type(cbt::ArtifactsType::NoArtifacts)
                .build()
                .unwrap(),
        )
        .environment(
            cbt::ProjectEnvironment::builder()
                .r#type(cbt::EnvironmentType::LinuxContainer)
                .image("aws/codebuild/standard:7.0")
                .compute_type(cbt::ComputeType::BuildGeneral1Small)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    expected.push((
        WorkloadKind::CodeBuildProject,
        format!(":{account}:project/release"),
        "builder",
    ));

    let glue = aws_sdk_glue::Client::new(cfg);
    glue.create_job()
        .name("nightly")
        // Glue takes a role name as well as an ARN.
        .role("etl")
        .command(
            aws_sdk_glue::types::JobCommand::builder()
                .name("glueetl")
                .script_location("s3://scripts/nightly.py")
                .build(),
        )
        .send()
        .await
        .unwrap();
    expected.push((
        WorkloadKind::GlueJob,
        format!(":{account}:job/nightly"),
        "etl",
    ));

    let sm = aws_sdk_sagemaker::Client::new(cfg);
    sm.create_notebook_instance()
        .notebook_instance_name("research")
        .instance_type(aws_sdk_sagemaker::types::InstanceType::MlT2Medium)
        .role_arn(&roles["notebook"])
        .send()
        .await
        .unwrap();
    expected.push((
        WorkloadKind::SageMakerNotebook,
        format!(":{account}:notebook-instance/research"),
        "notebook",
    ));

    let ecs = aws_sdk_ecs::Client::new(cfg);
    ecs.register_task_definition()
        .family("worker")
        .task_role_arn(&roles["task"])
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("w")
                .image("busybox")
                .memory(128)
                .build(),
        )
        .send()
        .await
        .unwrap();
    expected.push((
        WorkloadKind::EcsTaskDefinition,
        format!(":{account}:task-definition/worker:1"),
        "task",
    ));
    Created { expected }
}

#[test]
fn collect_inventories_what_runs_as_which_role() {
    let _g = testing::lock();
    let moto = testing::shared().expect("moto starts");
    moto.reset().unwrap();
    let aws = moto.aws();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fx = rt.block_on(build_org(&aws)).unwrap();
    let created = rt.block_on(async {
        let caller = aws.caller_identity().await.unwrap();
        let cfg = aws
            .config_for_account(
                &caller,
                &fx.app_prod,
                latch_aws::DEFAULT_ROLE_NAME,
                "fixture",
            )
            .await
            .unwrap();
        // The emulator, like AWS, lists more than one enabled region.
        assert!(enabled_regions(&cfg, &fx.app_prod).await.unwrap().len() > 1);
        create_workloads(&cfg, &fx.app_prod).await
    });

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("snap");
    let mut config = CollectConfig::new(&out);
    config.workloads =
        WorkloadRegions::Listed(vec!["us-east-1".to_owned(), "eu-west-1".to_owned()]);
    let report = rt.block_on(collect(&aws, &config, &Silent)).unwrap();
    let app = report
        .accounts
        .iter()
        .find(|a| a.account_id == fx.app_prod)
        .unwrap();
    assert_eq!(app.status, "collected", "{app:?}");

    let snap = latch_model::load::snapshot(&out).unwrap();
    let w = snap.accounts[&fx.app_prod].workloads.as_ref().unwrap();
    assert_eq!(w.regions, ["us-east-1", "eu-west-1"]);
    let role = |name: &str| format!("arn:aws:iam::{}:role/{name}", fx.app_prod);
    for (kind, suffix, role_name) in &created.expected {
        if !w.knows(*kind) {
            // A kind the emulator cannot list is left out, and the report says why.
            assert!(
                app.detail
                    .contains(&format!("{} not inventoried", kind.plural())),
                "{kind:?}: {}",
                app.detail
            );
            continue;
        }
        let found: Vec<_> = w.of(*kind).collect();
        assert_eq!(found.len(), 1, "{kind:?}: {found:?}");
        assert!(
            found[0].arn.contains(suffix.as_str()),
            "{kind:?}: {found:?}"
        );
        assert_eq!(found[0].role_arn, role(role_name), "{kind:?}");
    }
    // The kinds every real collection needs are listed by the emulator too.
    for kind in [
        WorkloadKind::LambdaFunction,
        WorkloadKind::Ec2Instance,
        WorkloadKind::CloudFormationStack,
    ] {
        assert!(w.knows(kind), "{kind:?} not inventoried: {}", app.detail);
    }
    let instance = w.of(WorkloadKind::Ec2Instance).next().unwrap();
    assert_eq!(
        instance.instance_profile_arn.as_deref(),
        Some(format!("arn:aws:iam::{}:instance-profile/batch", fx.app_prod).as_str())
    );
    // Another account has none of them, and says so (an empty, complete inventory).
    let sandbox = snap.accounts[&fx.sandbox].workloads.as_ref().unwrap();
    assert!(sandbox.items.is_empty());
    assert!(sandbox.knows(WorkloadKind::LambdaFunction));

    // Without an inventory, nothing is written and the snapshot says what that means.
    let out2 = tmp.path().join("snap2");
    let mut config = CollectConfig::new(&out2);
    config.workloads = WorkloadRegions::Skip;
    rt.block_on(collect(&aws, &config, &Silent)).unwrap();
    let snap2 = latch_model::load::snapshot(&out2).unwrap();
    assert!(snap2.accounts[&fx.app_prod].workloads.is_none());
    assert!(snap2
        .not_analysed
        .iter()
        .any(|n| n.contains(&fx.app_prod) && n.contains("no workloads.json")));
}
