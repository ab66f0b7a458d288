//! The resources of one account that run as an IAM role, for `accounts/<id>/workloads.json`
//! (`latch.workloads/v1`, docs/snapshot-format.md): Lambda functions, EC2 instances,
//! CloudFormation stacks, CodeBuild projects, Glue jobs and dev endpoints, SageMaker notebook
//! instances and ECS task definitions, in every region asked for.
//!
//! A kind is marked inventoried only when it was listed completely in every region; one failed
//! call (access denied, a service not offered in a region) leaves the whole kind out, with the
//! reason, and the escalation graph keeps assuming its resources exist.

use std::collections::{BTreeMap, BTreeSet};

use aws_config::Region;
use aws_config::SdkConfig;
use latch_model::workloads::{Workload, WorkloadKind, Workloads};
use serde_json::Value;

use crate::error::{call_err, Result};

/// The listing of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// What goes into workloads.json.
    pub workloads: Workloads,
    /// Kinds that could not be listed completely, with why (first failure).
    pub failures: Vec<(WorkloadKind, String)>,
}

/// Instance-profile ARN → role ARN, from the account's GAAD pages (`RoleDetailList[]
/// .InstanceProfileList[]`).
pub fn instance_profile_roles(pages: &[Value]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for page in pages {
        let roles = page.get("RoleDetailList").and_then(Value::as_array);
        for role in roles.into_iter().flatten() {
            let Some(role_arn) = role.get("Arn").and_then(Value::as_str) else {
                continue;
            };
            let profiles = role.get("InstanceProfileList").and_then(Value::as_array);
            for p in profiles.into_iter().flatten() {
                if let Some(arn) = p.get("Arn").and_then(Value::as_str) {
                    out.insert(arn.to_owned(), role_arn.to_owned());
                }
            }
        }
    }
    out
}

/// Role name → role ARN (with its path), from the account's GAAD pages.
fn role_arns_by_name(pages: &[Value]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for page in pages {
        let roles = page.get("RoleDetailList").and_then(Value::as_array);
        for role in roles.into_iter().flatten() {
            if let (Some(name), Some(arn)) = (
                role.get("RoleName").and_then(Value::as_str),
                role.get("Arn").and_then(Value::as_str),
            ) {
                out.insert(name.to_owned(), arn.to_owned());
            }
        }
    }
    out
}

/// Where a listing runs and what it needs to name resources.
struct Scope<'a> {
    config: SdkConfig,
    region: &'a str,
    account: &'a str,
    partition: &'a str,
    profiles: &'a BTreeMap<String, String>,
    roles: &'a BTreeMap<String, String>,
}

impl Scope<'_> {
    fn role(&self, role: &str) -> String {
        // Glue takes a role name as well as an ARN; names are unique in an account, whatever
        // the path.
        if role.starts_with("arn:") {
            role.to_owned()
        } else if let Some(arn) = self.roles.get(role) {
            arn.clone()
        } else {
            format!("arn:{}:iam::{}:role/{role}", self.partition, self.account)
        }
    }

    fn item(&self, kind: WorkloadKind, arn: String, role: &str) -> Workload {
        Workload {
            kind,
            arn,
            role_arn: self.role(role),
            instance_profile_arn: None,
        }
    }

    fn call(&self, op: &str) -> String {
        format!("{op} ({} {})", self.account, self.region)
    }
}

/// Stops a paginated listing that hands back the token it was given.
fn next(token: Option<&str>, previous: &Option<String>) -> Option<String> {
    token
        .filter(|t| !t.is_empty() && Some(*t) != previous.as_deref())
        .map(str::to_owned)
}

async fn lambda_functions(s: &Scope<'_>) -> Result<Vec<Workload>> {
    let client = aws_sdk_lambda::Client::new(&s.config);
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let page = client
            .list_functions()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| call_err(s.call("lambda:ListFunctions"), e))?;
        for f in page.functions() {
            if let (Some(arn), Some(role)) = (f.function_arn(), f.role()) {
                out.push(s.item(WorkloadKind::LambdaFunction, arn.to_owned(), role));
            }
        }
        match next(page.next_marker(), &marker) {
            Some(m) => marker = Some(m),
            None => return Ok(out),
        }
    }
}

async fn ec2_instances(s: &Scope<'_>) -> Result<Vec<Workload>> {
    let client = aws_sdk_ec2::Client::new(&s.config);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .describe_instances()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| call_err(s.call("ec2:DescribeInstances"), e))?;
        for i in page.reservations().iter().flat_map(|r| r.instances()) {
            let terminated = i
                .state()
                .and_then(|st| st.name())
                .is_some_and(|n| n.as_str() == "terminated");
            let (Some(id), Some(profile)) = (
                i.instance_id(),
                i.iam_instance_profile().and_then(|p| p.arn()),
            ) else {
                continue;
            };
            if terminated {
                continue;
            }
            // The profile's role comes from the GAAD; a profile it does not list (deleted, or
            // its role removed) runs as no role.
            let Some(role) = s.profiles.get(profile) else {
                continue;
            };
            out.push(Workload {
                kind: WorkloadKind::Ec2Instance,
                arn: format!(
                    "arn:{}:ec2:{}:{}:instance/{id}",
                    s.partition, s.region, s.account
                ),
                role_arn: role.clone(),
                instance_profile_arn: Some(profile.to_owned()),
            });
        }
        match next(page.next_token(), &token) {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

async fn cloudformation_stacks(s: &Scope<'_>) -> Result<Vec<Workload>> {
    let client = aws_sdk_cloudformation::Client::new(&s.config);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .describe_stacks()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| call_err(s.call("cloudformation:DescribeStacks"), e))?;
        for st in page.stacks() {
            if let (Some(id), Some(role)) = (st.stack_id(), st.role_arn()) {
                out.push(s.item(WorkloadKind::CloudFormationStack, id.to_owned(), role));
            }
        }
        match next(page.next_token(), &token) {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

async fn codebuild_projects(s: &Scope<'_>) -> Result<Vec<Workload>> {
    let client = aws_sdk_codebuild::Client::new(&s.config);
    let mut names: Vec<String> = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_projects()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| call_err(s.call("codebuild:ListProjects"), e))?;
        names.extend(page.projects().iter().cloned());
        match next(page.next_token(), &token) {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let mut out = Vec::new();
    // BatchGetProjects takes at most 100 names.
    for chunk in names.chunks(100) {
        let got = client
            .batch_get_projects()
            .set_names(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| call_err(s.call("codebuild:BatchGetProjects"), e))?;
        for p in got.projects() {
            if let (Some(arn), Some(role)) = (p.arn(), p.service_role()) {
                out.push(s.item(WorkloadKind::CodeBuildProject, arn.to_owned(), role));
            }
        }
    }
    Ok(out)
}

async fn glue_jobs(s: &Scope<'_>) -> Result<Vec<Workload>> {
    let client = aws_sdk_glue::Client::new(&s.config);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .get_jobs()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| call_err(s.call("glue:GetJobs"), e))?;
        for j in page.jobs() {
            if let (Some(name), Some(role)) = (j.name(), j.role()) {
                let arn = format!(
                    "arn:{}:glue:{}:{}:job/{name}",
                    s.partition, s.region, s.account
                );
                out.push(s.item(WorkloadKind::GlueJob, arn, role));
            }
        }
        match next(page.next_token(), &token) {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

async fn glue_dev_endpoints(s: &Scope<'_>) -> Result<Vec<Workload>> {
    let client = aws_sdk_glue::Client::new(&s.config);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .get_dev_endpoints()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| call_err(s.call("glue:GetDevEndpoints"), e))?;
        for d in page.dev_endpoints() {
            if let (Some(name), Some(role)) = (d.endpoint_name(), d.role_arn()) {
                let arn = format!(
                    "arn:{}:glue:{}:{}:devEndpoint/{name}",
                    s.partition, s.region, s.account
                );
                out.push(s.item(WorkloadKind::GlueDevEndpoint, arn, role));
            }
        }
        match next(page.next_token(), &token) {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

async fn sagemaker_notebooks(s: &Scope<'_>) -> Result<Vec<Workload>> {
    let client = aws_sdk_sagemaker::Client::new(&s.config);
    let mut names: Vec<String> = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_notebook_instances()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| call_err(s.call("sagemaker:ListNotebookInstances"), e))?;
        for n in page.notebook_instances() {
            if let Some(name) = n.notebook_instance_name() {
                names.push(name.to_owned());
            }
        }
        match next(page.next_token(), &token) {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let mut out = Vec::new();
    for name in names {
        let d = client
            .describe_notebook_instance()
            .notebook_instance_name(&name)
            .send()
            .await
            .map_err(|e| {
                call_err(
                    s.call(&format!("sagemaker:DescribeNotebookInstance {name}")),
                    e,
                )
            })?;
        if let (Some(arn), Some(role)) = (d.notebook_instance_arn(), d.role_arn()) {
            out.push(s.item(WorkloadKind::SageMakerNotebook, arn.to_owned(), role));
        }
    }
    Ok(out)
}

async fn ecs_task_definitions(s: &Scope<'_>) -> Result<Vec<Workload>> {
    let client = aws_sdk_ecs::Client::new(&s.config);
    let mut arns: Vec<String> = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_task_definitions()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| call_err(s.call("ecs:ListTaskDefinitions"), e))?;
        arns.extend(page.task_definition_arns().iter().cloned());
        match next(page.next_token(), &token) {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let mut out = Vec::new();
    for arn in arns {
        let d = client
            .describe_task_definition()
            .task_definition(&arn)
            .send()
            .await
            .map_err(|e| call_err(s.call(&format!("ecs:DescribeTaskDefinition {arn}")), e))?;
        if let Some(role) = d.task_definition().and_then(|t| t.task_role_arn()) {
            out.push(s.item(WorkloadKind::EcsTaskDefinition, arn, role));
        }
    }
    Ok(out)
}

async fn list(kind: WorkloadKind, s: &Scope<'_>) -> Result<Vec<Workload>> {
    match kind {
        WorkloadKind::LambdaFunction => lambda_functions(s).await,
        WorkloadKind::Ec2Instance => ec2_instances(s).await,
        WorkloadKind::CloudFormationStack => cloudformation_stacks(s).await,
        WorkloadKind::CodeBuildProject => codebuild_projects(s).await,
        WorkloadKind::GlueJob => glue_jobs(s).await,
        WorkloadKind::GlueDevEndpoint => glue_dev_endpoints(s).await,
        WorkloadKind::SageMakerNotebook => sagemaker_notebooks(s).await,
        WorkloadKind::EcsTaskDefinition => ecs_task_definitions(s).await,
    }
}

/// The regions enabled for the account (`ec2:DescribeRegions`), sorted.
pub async fn enabled_regions(config: &SdkConfig, account: &str) -> Result<Vec<String>> {
    let out = aws_sdk_ec2::Client::new(config)
        .describe_regions()
        .send()
        .await
        .map_err(|e| call_err(format!("ec2:DescribeRegions ({account})"), e))?;
    let mut regions: Vec<String> = out
        .regions()
        .iter()
        .filter_map(|r| r.region_name().map(str::to_owned))
        .collect();
    regions.sort();
    regions.dedup();
    Ok(regions)
}

/// Lists every kind in every region of `regions` with the account's credentials (`config`).
/// `pages` are the account's GAAD pages (for the roles of instance profiles); `partition` is
/// that of the account's ARNs (`aws`).
pub async fn inventory(
    config: &SdkConfig,
    account: &str,
    partition: &str,
    regions: &[String],
    pages: &[Value],
) -> Inventory {
    let profiles = instance_profile_roles(pages);
    let roles = role_arns_by_name(pages);
    let mut items: Vec<Workload> = Vec::new();
    let mut failures: BTreeMap<WorkloadKind, String> = BTreeMap::new();
    for region in regions {
        let scope = Scope {
            config: config
                .to_builder()
                .region(Region::new(region.clone()))
                .build(),
            region,
            account,
            partition,
            profiles: &profiles,
            roles: &roles,
        };
        for kind in WorkloadKind::ALL {
            if failures.contains_key(&kind) {
                continue;
            }
            match list(kind, &scope).await {
                Ok(found) => items.extend(found),
                Err(e) => {
                    failures.insert(kind, e.to_string());
                }
            }
        }
    }
    items.retain(|w| !failures.contains_key(&w.kind));
    items.sort_by(|a, b| a.arn.cmp(&b.arn));
    items.dedup_by(|a, b| a.arn == b.arn);
    let inventoried: BTreeSet<WorkloadKind> = WorkloadKind::ALL
        .into_iter()
        .filter(|k| !failures.contains_key(k))
        .collect();
    Inventory {
        workloads: Workloads {
            inventoried,
            regions: regions.to_vec(),
            items,
        },
        failures: failures.into_iter().collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn instance_profiles_map_to_their_roles_across_pages() {
        let pages = vec![
            json!({"RoleDetailList": [{"Arn": "arn:aws:iam::111122223333:role/batch",
                "InstanceProfileList": [{"Arn": "arn:aws:iam::111122223333:instance-profile/batch"}]}]}),
            json!({"RoleDetailList": [{"Arn": "arn:aws:iam::111122223333:role/web",
                "InstanceProfileList": []}]}),
        ];
        let m = instance_profile_roles(&pages);
        assert_eq!(m.len(), 1);
        assert_eq!(
            m["arn:aws:iam::111122223333:instance-profile/batch"],
            "arn:aws:iam::111122223333:role/batch"
        );
    }

    #[test]
    fn a_repeated_token_ends_the_listing() {
        assert_eq!(next(Some("a"), &None), Some("a".to_owned()));
        assert_eq!(next(Some("a"), &Some("a".to_owned())), None);
        assert_eq!(next(Some(""), &None), None);
        assert_eq!(next(None, &None), None);
    }
}
