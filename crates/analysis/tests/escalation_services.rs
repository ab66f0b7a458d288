//! Escalation rules that reach code running as a role through a service, on small snapshots
//! built in code: each rule's positive fixture (the edge and its actions) and its negative
//! fixtures (an action missing or denied, the role passed to another service, a grant on one
//! named resource, a role trusting another service).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "escalation/fixture.rs"]
#[allow(dead_code, reason = "each test crate uses part of the fixture")]
mod fixture;

use fixture::*;
use latch_analysis::escalation::Technique;

// ---------------------------------------------------------------------------------------------
// update-stack

/// CloudFormation API Reference, "UpdateStack" and "CreateChangeSet": without a role ARN the
/// stack's own service role is used, even when the caller may not pass it.
#[test]
fn update_stack_reuses_the_stack_service_role() {
    let stack = "arn:aws:cloudformation:us-east-1:111111111111:stack/network/1a2b3c4d";
    runs_as_case(
        "cloudformation.amazonaws.com",
        false,
        &["cloudformation:UpdateStack"],
        stack,
        Technique::UpdateStack,
    );
    runs_as_case(
        "cloudformation.amazonaws.com",
        false,
        &[
            "cloudformation:CreateChangeSet",
            "cloudformation:ExecuteChangeSet",
        ],
        stack,
        Technique::UpdateStack,
    );
}

// ---------------------------------------------------------------------------------------------
// sagemaker-presigned-url

/// SageMaker API Reference, "CreatePresignedNotebookInstanceUrl": the URL opens the notebook's
/// Jupyter server, which runs as the notebook's execution role.
#[test]
fn sagemaker_presigned_url_opens_a_notebook_running_as_a_role() {
    runs_as_case(
        "sagemaker.amazonaws.com",
        false,
        &["sagemaker:CreatePresignedNotebookInstanceUrl"],
        "arn:aws:sagemaker:us-east-1:111111111111:notebook-instance/team-a",
        Technique::SageMakerPresignedUrl,
    );
}

// ---------------------------------------------------------------------------------------------
// more ways into the pass-role techniques

/// EC2 API Reference, "RequestSpotInstances": the launch specification names an instance
/// profile, passed to `ec2.amazonaws.com`.
#[test]
fn pass_role_ec2_through_a_spot_request() {
    pass_role_case_with(
        "ec2.amazonaws.com",
        "ec2.amazonaws.com",
        true,
        &["ec2:RequestSpotInstances"],
        Technique::PassRoleEc2,
    );
}

/// Glue: a job started by a trigger, an interactive session (Glue Developer Guide,
/// "Interactive sessions with IAM"), and an existing job given the role (`glue:UpdateJob`).
#[test]
fn pass_role_glue_jobs_triggers_sessions_and_updated_jobs() {
    for actions in [
        &["glue:CreateJob", "glue:CreateTrigger"][..],
        &["glue:CreateSession", "glue:RunStatement"],
        &["glue:UpdateJob", "glue:StartJobRun"],
        &["glue:UpdateJob", "glue:CreateTrigger"],
    ] {
        pass_role_case("glue.amazonaws.com", actions, Technique::PassRoleGlue);
    }
}

/// ECS API Reference, "TaskOverride": `RunTask`/`StartTask` on an existing task definition
/// with `taskRoleArn` overridden; no new task definition.
#[test]
fn pass_role_ecs_with_a_task_role_override() {
    pass_role_case(
        "ecs-tasks.amazonaws.com",
        &["ecs:RunTask"],
        Technique::PassRoleEcs,
    );
    pass_role_case(
        "ecs-tasks.amazonaws.com",
        &["ecs:StartTask"],
        Technique::PassRoleEcs,
    );
}

#[test]
fn pass_role_codebuild_into_an_updated_project() {
    pass_role_case(
        "codebuild.amazonaws.com",
        &["codebuild:UpdateProject", "codebuild:StartBuild"],
        Technique::PassRoleCodeBuild,
    );
    pass_role_case(
        "codebuild.amazonaws.com",
        &["codebuild:UpdateProject", "codebuild:StartBuildBatch"],
        Technique::PassRoleCodeBuild,
    );
}

/// Passing a role into an existing resource needs the action on every such resource (the
/// snapshot has no inventory of them), and the edge says one is assumed; a grant on one named
/// job or task definition does not count.
#[test]
fn pass_role_into_existing_resources_is_assumed_and_needs_every_resource() {
    let mut fx = Fx::new();
    let glue = fx.admin_role(A, "glue-admin", trust_service("glue.amazonaws.com"));
    let task = fx.admin_role(A, "task-admin", trust_service("ecs-tasks.amazonaws.com"));
    let all = fx.user(
        A,
        "all",
        vec![allow(
            &[
                "iam:PassRole",
                "glue:UpdateJob",
                "glue:StartJobRun",
                "ecs:RunTask",
            ],
            "*",
        )],
    );
    let named = fx.user(
        A,
        "named",
        vec![
            allow(&["iam:PassRole"], "*"),
            allow(
                &["glue:UpdateJob", "glue:StartJobRun"],
                "arn:aws:glue:us-east-1:111111111111:job/etl-1",
            ),
            allow(
                &["ecs:RunTask"],
                "arn:aws:ecs:us-east-1:111111111111:task-definition/web:*",
            ),
        ],
    );
    let r = fx.report();
    for (to, technique, resource) in [
        (
            &glue,
            Technique::PassRoleGlue,
            "arn:aws:glue:us-east-1:111111111111:job/*",
        ),
        (
            &task,
            Technique::PassRoleEcs,
            "arn:aws:ecs:us-east-1:111111111111:task-definition/*:*",
        ),
    ] {
        let e = r
            .edges
            .iter()
            .find(|e| e.from == all && e.to.as_str() == to && e.technique == technique)
            .unwrap_or_else(|| panic!("{technique}: {:#?}", r.edges));
        assert!(
            e.detail.contains(&format!(
                "no inventory of `{resource}`: one such resource is assumed"
            )),
            "{}",
            e.detail
        );
        assert!(!has_edge(&r, &named, to, technique), "{technique}");
    }
}

// ---------------------------------------------------------------------------------------------
// new pass-role techniques

/// App Runner: the instance role trusts `tasks.apprunner.amazonaws.com`; the pass is checked
/// with `iam:PassedToService` = `apprunner.amazonaws.com` (AWS managed policy
/// `AWSAppRunnerFullAccess`).
#[test]
fn pass_role_apprunner() {
    for actions in [&["apprunner:CreateService"], &["apprunner:UpdateService"]] {
        pass_role_case_with(
            "tasks.apprunner.amazonaws.com",
            "apprunner.amazonaws.com",
            false,
            actions,
            Technique::PassRoleAppRunner,
        );
    }
}

/// EC2 Auto Scaling User Guide, "Amazon EC2 Auto Scaling API permissions": a group from a
/// launch template needs `ec2:RunInstances` of the caller too.
#[test]
fn pass_role_autoscaling() {
    for actions in [
        &[
            "autoscaling:CreateLaunchConfiguration",
            "autoscaling:CreateAutoScalingGroup",
        ][..],
        &[
            "ec2:CreateLaunchTemplate",
            "autoscaling:CreateAutoScalingGroup",
            "ec2:RunInstances",
        ],
    ] {
        pass_role_case_with(
            "ec2.amazonaws.com",
            "ec2.amazonaws.com",
            true,
            actions,
            Technique::PassRoleAutoScaling,
        );
    }
}

/// IAM API Reference, "AddRoleToInstanceProfile": the caller needs `iam:PassRole` on the role.
#[test]
fn pass_role_new_instance_profile() {
    for last in ["ec2:RunInstances", "ec2:AssociateIamInstanceProfile"] {
        pass_role_case_with(
            "ec2.amazonaws.com",
            "ec2.amazonaws.com",
            false,
            &[
                "iam:CreateInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                last,
            ],
            Technique::PassRoleNewInstanceProfile,
        );
    }
    // A role that already has a profile is reached by pass-role-ec2 instead.
    let mut fx = Fx::new();
    let fleet = fx.admin_role(A, "fleet", trust_service("ec2.amazonaws.com"));
    fx.profile(A, "fleet");
    let bare = fx.admin_role(A, "bare", trust_service("ec2.amazonaws.com"));
    let agent = fx.user(
        A,
        "agent",
        vec![allow(
            &[
                "iam:PassRole",
                "iam:CreateInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "ec2:RunInstances",
            ],
            "*",
        )],
    );
    let r = fx.report();
    assert!(has_edge(
        &r,
        &agent,
        &bare,
        Technique::PassRoleNewInstanceProfile
    ));
    assert!(!has_edge(&r, &agent, &bare, Technique::PassRoleEc2));
    assert!(has_edge(&r, &agent, &fleet, Technique::PassRoleEc2));
    assert!(!has_edge(
        &r,
        &agent,
        &fleet,
        Technique::PassRoleNewInstanceProfile
    ));
}

/// Bedrock AgentCore Developer Guide, "Resource and session management": the execution role
/// trusts `bedrock-agentcore.amazonaws.com`; the code interpreter assumes it to run code.
#[test]
fn pass_role_code_interpreter() {
    pass_role_case(
        "bedrock-agentcore.amazonaws.com",
        &[
            "bedrock-agentcore:CreateCodeInterpreter",
            "bedrock-agentcore:StartCodeInterpreterSession",
            "bedrock-agentcore:InvokeCodeInterpreter",
        ],
        Technique::PassRoleCodeInterpreter,
    );
}

/// CloudFormation User Guide, "Grant self-managed permissions": the administration role
/// (trusting CloudFormation) assumes the execution role the stack set names, in each target
/// account; the template deploys with the execution role.
#[test]
fn pass_role_stackset_reaches_the_execution_roles_the_administration_role_may_assume() {
    let mut fx = Fx::new();
    let execution_b = role_arn(B, "AWSCloudFormationStackSetExecutionRole");
    let execution_a = role_arn(A, "AWSCloudFormationStackSetExecutionRole");
    let admin = fx.role(
        A,
        "AWSCloudFormationStackSetAdministrationRole",
        trust_service("cloudformation.amazonaws.com"),
        vec![allow(
            &["sts:AssumeRole"],
            "arn:aws:iam::*:role/AWSCloudFormationStackSetExecutionRole",
        )],
    );
    fx.admin_role(
        B,
        "AWSCloudFormationStackSetExecutionRole",
        trust_aws(&root(A)),
    );
    fx.admin_role(
        A,
        "AWSCloudFormationStackSetExecutionRole",
        trust_aws(&root(A)),
    );
    // An administrator role of B that does not trust A: not reachable.
    let closed = fx.admin_role(B, "closed", trust_aws(&root(B)));
    let stack_sets = [
        "cloudformation:CreateStackSet",
        "cloudformation:CreateStackInstances",
    ];
    let mut all = vec!["iam:PassRole"];
    all.extend(stack_sets);
    let deployer = fx.user(A, "deployer", vec![allow(&all, "*")]);
    let updater = fx.user(
        A,
        "updater",
        vec![allow(
            &["iam:PassRole", "cloudformation:UpdateStackSet"],
            "*",
        )],
    );
    let no_pass = fx.user(A, "no-pass", vec![allow(&stack_sets, "*")]);
    let no_instances = fx.user(
        A,
        "no-instances",
        vec![allow(
            &["iam:PassRole", "cloudformation:CreateStackSet"],
            "*",
        )],
    );
    let pass_elsewhere = fx.user(
        A,
        "pass-elsewhere",
        vec![
            serde_json::json!({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}),
            allow(&stack_sets, "*"),
        ],
    );
    let denied = fx.user(
        A,
        "denied",
        vec![
            allow(&all, "*"),
            deny(&["cloudformation:CreateStackInstances"], "*"),
        ],
    );
    let r = fx.report();
    for execution in [&execution_a, &execution_b] {
        let p = path(&r, &deployer, execution).unwrap_or_else(|| panic!("{:#?}", r.edges));
        assert_eq!(techniques(p), [Technique::PassRoleStackSet]);
        assert_eq!(p.steps[0].actions, all);
        assert!(p.steps[0].detail.contains(&admin), "{}", p.steps[0].detail);
    }
    let e = r
        .edges
        .iter()
        .find(|e| e.from == updater && e.to.as_str() == execution_b)
        .unwrap_or_else(|| panic!("{:#?}", r.edges));
    assert_eq!(e.actions, ["iam:PassRole", "cloudformation:UpdateStackSet"]);
    assert!(e.detail.contains("assumed to exist"), "{}", e.detail);
    assert!(!has_edge(
        &r,
        &deployer,
        &closed,
        Technique::PassRoleStackSet
    ));
    // The administration role itself is a vehicle, not a target.
    assert!(!has_edge(
        &r,
        &deployer,
        &admin,
        Technique::PassRoleStackSet
    ));
    for u in [&no_pass, &no_instances, &pass_elsewhere, &denied] {
        assert!(
            !r.edges
                .iter()
                .any(|e| &e.from == u && e.technique == Technique::PassRoleStackSet),
            "{u}: {:#?}",
            r.edges
        );
    }
}

// ---------------------------------------------------------------------------------------------
// resources that already run as a role: codebuild-start-build, code-interpreter-session

/// CodeBuild API Reference, "StartBuild": `buildspecOverride` runs the caller's commands with
/// the project's service role, for that build only.
#[test]
fn codebuild_start_build_with_a_buildspec_override() {
    let project = "arn:aws:codebuild:us-east-1:111111111111:project/deploy-prod";
    runs_as_case(
        "codebuild.amazonaws.com",
        false,
        &["codebuild:StartBuild"],
        project,
        Technique::CodeBuildStartBuild,
    );
    runs_as_case(
        "codebuild.amazonaws.com",
        false,
        &["codebuild:StartBuildBatch"],
        project,
        Technique::CodeBuildStartBuild,
    );
}

/// Bedrock AgentCore Developer Guide, "Creating an AgentCore Code Interpreter": the code
/// interpreter assumes its execution role when it runs code.
#[test]
fn code_interpreter_session_runs_code_as_the_execution_role() {
    runs_as_case(
        "bedrock-agentcore.amazonaws.com",
        false,
        &[
            "bedrock-agentcore:StartCodeInterpreterSession",
            "bedrock-agentcore:InvokeCodeInterpreter",
        ],
        "arn:aws:bedrock-agentcore:us-east-1:111111111111:code-interpreter-custom/analysis-x1",
        Technique::CodeInterpreterSession,
    );
}
