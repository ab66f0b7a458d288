//! Rule `pass-role-apprunner`: `iam:PassRole` into an App Runner service (its instance role).
//!
//! ## What it finds
//! A principal that may `iam:PassRole` a role trusting `tasks.apprunner.amazonaws.com` (the
//! instance role of App Runner services; App Runner checks the pass with
//! `iam:PassedToService` = `apprunner.amazonaws.com`), and may create a service
//! (`apprunner:CreateService`) or reconfigure an existing one (`apprunner:UpdateService`; the
//! snapshot has no service inventory, so this needs the action on every service of the account
//! and the edge says one is assumed to exist).
//!
//! ## Why it is bad
//! The service runs the caller's container image or source code, and the instance role's
//! credentials are what that code gets when it calls AWS: a service whose code prints or
//! forwards them hands the role's permissions to the caller.
//!
//! ## Example
//! A web developer may create App Runner services and pass `role/*` to App Runner;
//! `apprunner-admin` trusts `tasks.apprunner.amazonaws.com` and has AdministratorAccess: a
//! service from a public image that calls IAM escalates the developer.
//!
//! ## How to fix
//! Scope `iam:PassRole` for App Runner (`iam:PassedToService` = `apprunner.amazonaws.com`) to
//! the instance roles of the services a team owns; keep instance roles narrow. (App Runner is
//! closed to new customers; existing accounts keep the service.)
//!
//! ## References
//! - AWS App Runner API Reference, "InstanceConfiguration" (`InstanceRoleArn`: the permissions
//!   the service's code has when it calls AWS APIs), "CreateService" and "UpdateService".
//! - AWS managed policy `AWSAppRunnerFullAccess` (`iam:PassRole` with `iam:PassedToService` =
//!   `apprunner.amazonaws.com`).
//! - AWS re:Post, "App Runner container access to AWS access key id and AWS secret access key"
//!   (instance role trust: `tasks.apprunner.amazonaws.com`).

use super::context::{GraphContext, Need};
use super::pass_role::{pass_role_edges, PassRoleSpec, Profile};
use super::{Edge, Rule, Technique};

const SERVICE: &str = "arn:aws:apprunner:{region}:{account}:service/{name}/{name}";

const SPEC: PassRoleSpec = PassRoleSpec {
    technique: Technique::PassRoleAppRunner,
    service: "tasks.apprunner.amazonaws.com",
    passed_to: Some("apprunner.amazonaws.com"),
    ways: &[
        &[("apprunner:CreateService", SERVICE, Need::Chosen)],
        &[("apprunner:UpdateService", SERVICE, Need::Every)],
    ],
    instance_profile: Profile::Any,
    vehicle: "a new or updated App Runner service as its instance role",
};

/// See the module documentation.
#[derive(Debug)]
pub(super) struct PassRoleAppRunner;

impl Rule for PassRoleAppRunner {
    fn id(&self) -> Technique {
        SPEC.technique
    }

    fn edges(&self, ctx: &GraphContext<'_>) -> Vec<Edge> {
        pass_role_edges(ctx, &SPEC)
    }
}
