//! Which role a call passed: CloudTrail never records `iam:PassRole` (AWS checks it inside the
//! call that hands a role to a service), but the calls that pass a role name it in their
//! `requestParameters` — an execution role, a task role, a service role, an instance profile.
//! Reading it there tells the firewall which roles an identity really passes, so that protect
//! mode can keep `iam:PassRole` on those roles only.
//!
//! Pure: bytes in, names out.

/// Actions in which AWS checks `iam:PassRole` for a role named in the request. Sources: AWS
/// IAM User Guide, "Grant a user permissions to pass a role to an AWS service", and each
/// service's API reference for the role parameter. (The firewall checks that the catalog knows
/// every one.)
pub const ROLE_PASSING_ACTIONS: &[&str] = &[
    "apprunner:CreateService",
    "apprunner:UpdateService",
    "batch:CreateComputeEnvironment",
    "batch:RegisterJobDefinition",
    "cloudformation:CreateChangeSet",
    "cloudformation:CreateStack",
    "cloudformation:CreateStackSet",
    "cloudformation:UpdateStack",
    "cloudformation:UpdateStackSet",
    "codebuild:CreateProject",
    "codebuild:UpdateProject",
    "codepipeline:CreatePipeline",
    "codepipeline:UpdatePipeline",
    "datapipeline:CreatePipeline",
    "datapipeline:PutPipelineDefinition",
    "ec2:AssociateIamInstanceProfile",
    "ec2:ReplaceIamInstanceProfileAssociation",
    "ec2:RequestSpotInstances",
    "ec2:RunInstances",
    "ecs:CreateService",
    "ecs:RegisterTaskDefinition",
    "ecs:RunTask",
    "ecs:StartTask",
    "elasticmapreduce:RunJobFlow",
    "events:PutTargets",
    "glue:CreateCrawler",
    "glue:CreateDevEndpoint",
    "glue:CreateJob",
    "glue:CreateSession",
    "glue:UpdateCrawler",
    "glue:UpdateDevEndpoint",
    "glue:UpdateJob",
    "lambda:CreateFunction",
    "lambda:UpdateFunctionConfiguration",
    "sagemaker:CreateModel",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:UpdateNotebookInstance",
    "scheduler:CreateSchedule",
    "scheduler:UpdateSchedule",
    "states:CreateStateMachine",
    "states:UpdateStateMachine",
];

/// Whether AWS checks `iam:PassRole` inside this action (`service:Name`, any case).
#[must_use]
pub fn passes_role(action: &str) -> bool {
    ROLE_PASSING_ACTIONS
        .iter()
        .any(|a| a.eq_ignore_ascii_case(action))
}

/// The prefix that marks an instance profile (by name or ARN) among passed roles: the
/// profile's role is found in the snapshot.
pub const INSTANCE_PROFILE_PREFIX: &str = "instance-profile:";

/// The roles named in a call's `requestParameters` (raw JSON): values of members whose name
/// ends with `role` or `rolearn` (any case: `role`, `roleArn`, `roleARN`, `serviceRole`,
/// `taskRoleArn`, `executionRoleArn`, …) anywhere in the object, and instance profiles
/// (`iamInstanceProfile` with `arn` or `name`) as `instance-profile:<arn or name>`. Role names
/// and ARNs are returned as written. Sorted, without duplicates; empty when the parameters are
/// `null`, not JSON, or name no role.
#[must_use]
pub fn passed_roles(request_parameters: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(request_parameters) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(&v, 0, &mut out);
    out.sort();
    out.dedup();
    out
}

fn walk(v: &serde_json::Value, depth: usize, out: &mut Vec<String>) {
    if depth > 8 {
        return;
    }
    match v {
        serde_json::Value::Object(m) => {
            for (k, val) in m {
                let key = k.to_ascii_lowercase();
                if key == "iaminstanceprofile" {
                    if let Some(p) = val
                        .get("arn")
                        .or_else(|| val.get("Arn"))
                        .or_else(|| val.get("name"))
                        .or_else(|| val.get("Name"))
                        .and_then(serde_json::Value::as_str)
                    {
                        out.push(format!("{INSTANCE_PROFILE_PREFIX}{p}"));
                    }
                } else if key.ends_with("role") || key.ends_with("rolearn") {
                    if let Some(s) = val.as_str().filter(|s| !s.is_empty()) {
                        out.push(s.to_owned());
                    } else {
                        walk(val, depth + 1, out);
                    }
                } else {
                    walk(val, depth + 1, out);
                }
            }
        }
        serde_json::Value::Array(a) => {
            for x in a {
                walk(x, depth + 1, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_roles_in_the_shapes_services_use() {
        // Lambda CreateFunction: `role` is the execution role's ARN.
        assert_eq!(
            passed_roles(
                br#"{"functionName":"f","role":"arn:aws:iam::1:role/exec","runtime":"python3.12"}"#
            ),
            ["arn:aws:iam::1:role/exec"]
        );
        // EC2 RunInstances: an instance profile, by ARN or by name.
        assert_eq!(
            passed_roles(br#"{"instancesSet":{"items":[{"imageId":"ami-1"}]},"iamInstanceProfile":{"arn":"arn:aws:iam::1:instance-profile/web"}}"#),
            ["instance-profile:arn:aws:iam::1:instance-profile/web"]
        );
        assert_eq!(
            passed_roles(br#"{"iamInstanceProfile":{"name":"web"}}"#),
            ["instance-profile:web"]
        );
        // ECS RegisterTaskDefinition: two roles; CloudFormation: roleARN; nested members.
        assert_eq!(
            passed_roles(br#"{"family":"x","taskRoleArn":"arn:aws:iam::1:role/t","executionRoleArn":"arn:aws:iam::1:role/e"}"#),
            ["arn:aws:iam::1:role/e", "arn:aws:iam::1:role/t"]
        );
        assert_eq!(
            passed_roles(br#"{"stackName":"s","roleARN":"arn:aws:iam::1:role/cfn"}"#),
            ["arn:aws:iam::1:role/cfn"]
        );
        assert_eq!(
            passed_roles(br#"{"Targets":[{"Id":"1","RoleArn":"arn:aws:iam::1:role/ev"}]}"#),
            ["arn:aws:iam::1:role/ev"]
        );
        // Glue takes a role name.
        assert_eq!(
            passed_roles(br#"{"name":"job","role":"glue-etl"}"#),
            ["glue-etl"]
        );
    }

    #[test]
    fn nothing_when_no_role_is_named() {
        assert!(passed_roles(b"null").is_empty());
        assert!(passed_roles(br#"{"name":"x","roleSessionName":"s"}"#).is_empty());
        assert!(passed_roles(br#"{"role":""}"#).is_empty());
        assert!(passed_roles(b"{not json").is_empty());
    }

    #[test]
    fn recognises_role_passing_actions_in_any_case() {
        assert!(passes_role("ec2:RunInstances"));
        assert!(passes_role("LAMBDA:createfunction"));
        assert!(!passes_role("lambda:InvokeFunction"));
    }
}
