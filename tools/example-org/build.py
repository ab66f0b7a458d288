#!/usr/bin/env python3
"""Writes the built-in example organization (examples/org/) as a Latch snapshot directory.

Run by hand after changing it:  python3 tools/example-org/build.py examples/org
The output is deterministic. Every file it writes is in a real AWS export format
(get-account-authorization-details) or in Latch's documented formats (docs/snapshot-format.md).
PLANTED.md beside the output documents the planted escalation paths; keep it in step.
"""

import datetime
import json
import os
import shutil
import sys
import urllib.parse

ORG_ID = "o-a1b2c3d4e5"
MGMT = "100000000001"
SECURITY = "200000000002"
LOGS = "200000000003"
PROD_APP = "300000000004"
PROD_DATA = "300000000005"
DEV = "400000000006"
SANDBOX = "500000000007"
EXTERNAL = "999988887777"  # a vendor's account, outside the organization

# The snapshot was taken at 2026-11-20T00:00:00Z; dates below are relative to it.
RECENT = "2026-11-19T16:42:10+00:00"
YESTERDAY = "2026-11-18T09:12:55+00:00"
LAST_MONTH = "2026-10-25T11:03:00+00:00"
STALE = "2026-03-02T08:15:31+00:00"  # 263 days before the snapshot

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
POWER = "arn:aws:iam::aws:policy/PowerUserAccess"
READONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
VIEWONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
AUDIT = "arn:aws:iam::aws:policy/SecurityAudit"
LAMBDA_BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
GLUE = "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"
SSO_SLR = "arn:aws:iam::aws:policy/aws-service-role/AWSSSOServiceRolePolicy"
ECR_POWER = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"

SSO_PATH = "/aws-reserved/sso.amazonaws.com/"

# Who signs in through Identity Center, per account (session names of the SSO roles).
SSO_PEOPLE = {
    MGMT: ["maria@acme.example", "tom@acme.example"],
    SECURITY: ["sec-oncall@acme.example", "tom@acme.example"],
    LOGS: ["sec-oncall@acme.example"],
    PROD_APP: ["priya@acme.example", "sam@acme.example"],
    PROD_DATA: ["lena@acme.example"],
    DEV: ["carol@acme.example", "dave@acme.example", "priya@acme.example"],
    SANDBOX: ["bob@acme.example", "dave@acme.example"],
}


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resources="*", **extra):
    s = {"Effect": "Allow", "Action": actions, "Resource": resources}
    s.update(extra)
    return s


def deny(actions, resources="*", **extra):
    s = {"Effect": "Deny", "Action": actions, "Resource": resources}
    s.update(extra)
    return s


def trust_service(service):
    return doc({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def trust_aws(arn, condition=None):
    s = {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}
    if condition:
        s["Condition"] = condition
    return doc(s)


def trust_sso(account, hexid):
    return doc(
        {
            "Effect": "Allow",
            "Principal": {
                "Federated": f"arn:aws:iam::{account}:saml-provider/AWSSSO_{hexid}_DO_NOT_DELETE"
            },
            "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
            "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
        }
    )


class Account:
    def __init__(self, account_id, encode=False, pages=1):
        self.id = account_id
        self.encode = encode  # URL-encode documents, as the IAM API returns them
        self.pages = pages  # write the GAAD as this many pages (the paginated form)
        self.users, self.groups, self.roles, self.policies = [], [], [], []
        self.resource_policies = None
        self.credentials = []
        self.root_keys = []  # (created, last used or None) of root access keys

    def d(self, document):
        if self.encode:
            return urllib.parse.quote(json.dumps(document, separators=(",", ":")), safe="")
        return document

    def uid(self, prefix, name):
        # Stable ids of the real shapes (AIDA/AGPA/AROA/ANPA + 17 characters).
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        h = 1469598103934665603
        for ch in f"{self.id}/{prefix}/{name}":
            h = ((h ^ ord(ch)) * 1099511628211) % (1 << 64)
        out = ""
        for _ in range(17):
            out += alphabet[h % 32]
            h //= 32
            if h == 0:
                h = 1469598103934665603 + len(out)
        return prefix + out

    def inline(self, policies):
        return [{"PolicyName": n, "PolicyDocument": self.d(p)} for n, p in policies]

    def attached(self, arns):
        return [{"PolicyName": a.rsplit("/", 1)[1], "PolicyArn": a} for a in arns]

    def user(self, name, created, attached=(), inline=(), groups=(), tags=None, boundary=None,
             password=None, extra_keys=(), key=True):
        # Credentials (the credential report): `password` is the console password's last use
        # ("never" for an unused one), key 1 is what the user's API calls are made with (its
        # last use follows activity.json) and `extra_keys` are (created, last used or None).
        self.credentials.append({"name": name, "created": created, "password": password,
                                 "key": key, "extra_keys": list(extra_keys)})
        u = {
            "Path": "/",
            "UserName": name,
            "UserId": self.uid("AIDA", name),
            "Arn": f"arn:aws:iam::{self.id}:user/{name}",
            "CreateDate": created,
            "UserPolicyList": self.inline(inline),
            "GroupList": list(groups),
            "AttachedManagedPolicies": self.attached(attached),
            "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        }
        if boundary:
            u["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": boundary,
            }
        self.users.append(u)

    def group(self, name, created, attached=(), inline=()):
        self.groups.append(
            {
                "Path": "/",
                "GroupName": name,
                "GroupId": self.uid("AGPA", name),
                "Arn": f"arn:aws:iam::{self.id}:group/{name}",
                "CreateDate": created,
                "GroupPolicyList": self.inline(inline),
                "AttachedManagedPolicies": self.attached(attached),
            }
        )

    def role(self, name, created, trust, attached=(), inline=(), path="/", tags=None,
             last_used=None, region="us-east-1", profile=None, boundary=None):
        arn = f"arn:aws:iam::{self.id}:role{path}{name}"
        r = {
            "Path": path,
            "RoleName": name,
            "RoleId": self.uid("AROA", name),
            "Arn": arn,
            "CreateDate": created,
            "AssumeRolePolicyDocument": self.d(trust),
            "InstanceProfileList": [],
            "RolePolicyList": self.inline(inline),
            "AttachedManagedPolicies": self.attached(attached),
            "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
            "RoleLastUsed": {"LastUsedDate": last_used, "Region": region} if last_used else {},
        }
        if profile:
            r["InstanceProfileList"].append(
                {
                    "Path": "/",
                    "InstanceProfileName": profile,
                    "InstanceProfileId": self.uid("AIPA", profile),
                    "Arn": f"arn:aws:iam::{self.id}:instance-profile/{profile}",
                    "CreateDate": created,
                    "Roles": [{k: r[k] for k in ("Path", "RoleName", "RoleId", "Arn", "CreateDate")}],
                }
            )
        if boundary:
            r["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": boundary,
            }
        self.roles.append(r)
        return arn

    def sso_role(self, permission_set, hexid, attached=(), inline=(), last_used=RECENT):
        return self.role(
            f"AWSReservedSSO_{permission_set}_{hexid}",
            "2023-04-11T10:20:31+00:00",
            trust_sso(self.id, "7a1c0e2b9d4f6a35"),
            attached=attached,
            inline=[("AwsSSOInlinePolicy", p) for p in inline],
            path=SSO_PATH,
            last_used=last_used,
        )

    def org_access_role(self, last_used=LAST_MONTH):
        return self.role(
            "OrganizationAccountAccessRole",
            "2022-01-17T09:00:00+00:00",
            trust_aws(f"arn:aws:iam::{MGMT}:root"),
            attached=[ADMIN],
            last_used=last_used,
        )

    def policy(self, name, document, created, omit_name=False, description=None):
        arn = f"arn:aws:iam::{self.id}:policy/{name}"
        p = {
            "PolicyName": name,
            "PolicyId": self.uid("ANPA", name),
            "Arn": arn,
            "Path": "/",
            "DefaultVersionId": "v2",
            "AttachmentCount": 1,
            "PermissionsBoundaryUsageCount": 0,
            "IsAttachable": True,
            "CreateDate": created,
            "UpdateDate": created,
            "PolicyVersionList": [
                {"Document": self.d(document), "VersionId": "v2", "IsDefaultVersion": True,
                 "CreateDate": created},
                {"Document": self.d(doc(allow("s3:ListAllMyBuckets"))), "VersionId": "v1",
                 "IsDefaultVersion": False, "CreateDate": created},
            ],
        }
        if description:
            p["Description"] = description
        if omit_name:  # some exporters (and emulators) leave these out
            del p["PolicyName"]
            del p["PolicyId"]
        self.policies.append(p)
        return arn

    def gaad(self):
        lists = {
            "UserDetailList": self.users,
            "GroupDetailList": self.groups,
            "RoleDetailList": self.roles,
            "Policies": self.policies,
        }
        if self.pages == 1:
            return dict(lists, IsTruncated=False)
        pages = []
        for i in range(self.pages):
            page = {k: v[i :: self.pages] for k, v in lists.items()}
            last = i == self.pages - 1
            page["IsTruncated"] = not last
            if not last:
                page["Marker"] = f"page-{i + 1}-marker"
            pages.append(page)
        return pages


def bucket_arn(name):
    return f"arn:aws:s3:::{name}"


def build():
    activity = {}

    def uses(arn, actions, daily_calls, last_active_days_ago=0, denied=(), regions=(), passes=None):
        entry = {
            "actions": sorted(actions),
            "daily_calls": daily_calls,
            "last_active_days_ago": last_active_days_ago,
        }
        if passes:
            # The role each role-passing call names in its request (CloudTrail requestParameters).
            entry["passes"] = dict(sorted(passes.items()))
        if denied:
            entry["denied_actions"] = sorted(denied)
        if "/AWSReservedSSO_" in arn:
            entry["sessions"] = SSO_PEOPLE.get(arn.split(":")[4], ["ops@acme.example"])
        if regions:
            entry["regions"] = list(regions)
        activity[arn] = entry

    accounts = {}

    # ---------------------------------------------------------------- management
    m = Account(MGMT)
    accounts[MGMT] = m
    a = m.sso_role("AdministratorAccess", "3f9a2b7c1d8e4f60", attached=[ADMIN])
    uses(a, ["organizations:ListAccounts", "organizations:DescribePolicy", "sso:ListPermissionSets",
             "organizations:ListPoliciesForTarget", "iam:ListRoles"], 40, 1)
    a = m.sso_role("ReadOnlyAccess", "c2d4e6f8a0b1c3d5", attached=[READONLY])
    uses(a, ["organizations:ListAccounts", "ce:GetCostAndUsage", "cloudtrail:LookupEvents"], 25)
    m.role("AWSServiceRoleForSSO", "2023-04-11T10:18:02+00:00", trust_service("sso.amazonaws.com"),
           attached=[SSO_SLR], path="/aws-service-role/sso.amazonaws.com/", last_used=RECENT)
    a = m.user("breakglass", "2021-06-01T12:00:00+00:00", attached=[ADMIN],
               tags={"purpose": "break-glass", "owner": "security-team"}, password="never", key=False)
    uses(f"arn:aws:iam::{MGMT}:user/breakglass", [], 0, 400)
    billing = m.policy("billing-reports", doc(allow(["ce:Get*", "ce:Describe*", "cur:DescribeReportDefinitions",
                                                      "budgets:ViewBudget"])),
                       "2022-02-03T08:00:00+00:00", omit_name=True)
    a = m.user("finance-reports", "2022-02-03T08:05:00+00:00", attached=[billing],
               tags={"team": "finance"})
    uses(f"arn:aws:iam::{MGMT}:user/finance-reports", ["ce:GetCostAndUsage", "budgets:ViewBudget"], 12)
    # The management account's GAAD also carries the AWS managed policies it uses (as an
    # unfiltered GAAD does), so both resolution routes are exercised.
    m.aws_managed_inline = [ADMIN]

    # ---------------------------------------------------------------- security
    s = Account(SECURITY)
    accounts[SECURITY] = s
    s.org_access_role(last_used=LAST_MONTH)
    a = s.sso_role("SecurityAudit", "a7b9c1d3e5f70812", attached=[AUDIT, VIEWONLY])
    uses(a, ["securityhub:GetFindings", "guardduty:ListFindings", "guardduty:GetFindings",
             "config:DescribeComplianceByConfigRule", "iam:GetAccountAuthorizationDetails"], 60)
    a = s.sso_role("AdministratorAccess", "3f9a2b7c1d8e4f60", attached=[ADMIN], last_used=YESTERDAY)
    uses(a, ["guardduty:UpdateDetector", "securityhub:BatchUpdateFindings", "iam:GetRole"], 8, 1)
    # (i) external trust: a vendor's account outside the organization.
    a = s.role("ThirdPartyCSPMRole", "2024-09-09T14:00:00+00:00",
               trust_aws(f"arn:aws:iam::{EXTERNAL}:root",
                         {"StringEquals": {"sts:ExternalId": "cspm-7f3a9c21"}}),
               attached=[AUDIT], tags={"vendor": "cspm-saas"}, last_used=RECENT)
    uses(a, ["iam:GetAccountAuthorizationDetails", "s3:GetBucketPolicy", "ec2:DescribeSecurityGroups",
             "kms:GetKeyPolicy"], 200)
    a = s.role("security-scanner", "2023-05-05T09:30:00+00:00",
               trust_aws(f"arn:aws:iam::{SECURITY}:root"),
               attached=[AUDIT], last_used=RECENT)
    uses(a, ["iam:ListRoles", "iam:GetRolePolicy", "organizations:ListAccounts", "s3:GetBucketPolicy"], 90)

    # ---------------------------------------------------------------- log archive
    lg = Account(LOGS)
    accounts[LOGS] = lg
    lg.org_access_role(last_used=None)
    a = lg.sso_role("ReadOnlyAccess", "c2d4e6f8a0b1c3d5", attached=[READONLY], last_used=LAST_MONTH)
    uses(a, ["s3:ListBucket", "s3:GetObject"], 5, 26)
    trail_bucket = "acme-org-cloudtrail-200000000003"
    lg.resource_policies = [
        {
            "resource_arn": bucket_arn(trail_bucket),
            "kind": "s3-bucket",
            "document": doc(
                {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow",
                 "Principal": {"Service": "cloudtrail.amazonaws.com"},
                 "Action": "s3:GetBucketAcl", "Resource": bucket_arn(trail_bucket)},
                {"Sid": "AWSCloudTrailWrite", "Effect": "Allow",
                 "Principal": {"Service": "cloudtrail.amazonaws.com"},
                 "Action": "s3:PutObject", "Resource": f"{bucket_arn(trail_bucket)}/AWSLogs/{ORG_ID}/*",
                 "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
                {"Sid": "SecurityReads", "Effect": "Allow",
                 "Principal": {"AWS": f"arn:aws:iam::{SECURITY}:role/security-scanner"},
                 "Action": ["s3:GetObject", "s3:ListBucket"],
                 "Resource": [bucket_arn(trail_bucket), f"{bucket_arn(trail_bucket)}/*"]},
                {"Sid": "DenyDelete", "Effect": "Deny", "Principal": "*",
                 "Action": ["s3:DeleteObject", "s3:DeleteBucket", "s3:PutLifecycleConfiguration"],
                 "Resource": [bucket_arn(trail_bucket), f"{bucket_arn(trail_bucket)}/*"]},
            ),
        }
    ]

    # ---------------------------------------------------------------- prod-app
    p = Account(PROD_APP)
    accounts[PROD_APP] = p
    p.org_access_role(last_used=None)
    a = p.sso_role("AdministratorAccess", "3f9a2b7c1d8e4f60", attached=[ADMIN], last_used=LAST_MONTH)
    uses(a, ["ecs:UpdateService", "logs:FilterLogEvents"], 3, 25)
    a = p.sso_role("PowerUserAccess", "5e6f7a8b9c0d1e2f", attached=[POWER])
    uses(a, ["ecs:DescribeServices", "ecs:UpdateService", "logs:FilterLogEvents", "cloudwatch:GetMetricData",
             "dynamodb:Query"], 80)
    a = p.sso_role("ReadOnlyAccess", "c2d4e6f8a0b1c3d5", attached=[READONLY])
    uses(a, ["logs:FilterLogEvents", "cloudwatch:GetMetricData", "ecs:DescribeServices"], 50)
    # (f) SSM into an instance whose profile is admin.
    a = p.sso_role("SupportOps", "9d8c7b6a5f4e3d2c", inline=[doc(
        allow(["ec2:DescribeInstances", "ssm:DescribeInstanceInformation", "ssm:ListCommandInvocations"]),
        allow(["ssm:SendCommand", "ssm:StartSession"],
              [f"arn:aws:ec2:*:{PROD_APP}:instance/*", "arn:aws:ssm:*::document/AWS-RunShellScript",
               "arn:aws:ssm:*::document/SSM-SessionManagerRunShell"]),
    )])
    uses(a, ["ec2:DescribeInstances", "ssm:DescribeInstanceInformation", "ssm:StartSession"], 15)
    a = p.role("app-ec2-admin-role", "2022-08-14T10:00:00+00:00", trust_service("ec2.amazonaws.com"),
               attached=[ADMIN, SSM_CORE], profile="app-ec2-admin-profile", last_used=RECENT,
               tags={"app": "legacy-batch"})
    uses(a, ["s3:GetObject", "s3:PutObject", "ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel",
             "ec2messages:GetMessages", "dynamodb:PutItem"], 1500)
    # (c) a CI role that can create access keys for an admin user.
    a = p.role("github-actions-deploy", "2024-02-20T16:30:00+00:00", doc({
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{PROD_APP}:oidc-provider/token.actions.githubusercontent.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
            "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/storefront:ref:refs/heads/main"},
        },
    }), attached=[ECR_POWER], inline=[("deploy", doc(
        allow(["ecs:UpdateService", "ecs:DescribeServices", "ecs:RegisterTaskDefinition"]),
        allow(["s3:PutObject", "s3:GetObject"], "arn:aws:s3:::acme-prod-artifacts/*"),
        allow("iam:PassRole", f"arn:aws:iam::{PROD_APP}:role/storefront-task-role"),
        {"Sid": "RotateOpsKeys", "Effect": "Allow",
         "Action": ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys"],
         "Resource": f"arn:aws:iam::{PROD_APP}:user/ops-admin"},
    ))], last_used=RECENT)
    uses(a, ["ecr:GetAuthorizationToken", "ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
             "ecr:CompleteLayerUpload", "ecs:RegisterTaskDefinition", "ecs:UpdateService", "ecs:DescribeServices",
             "s3:PutObject", "iam:PassRole"], 120,
         passes={"ecs:RegisterTaskDefinition": f"arn:aws:iam::{PROD_APP}:role/storefront-task-role"})
    a = p.role("storefront-task-role", "2024-02-20T16:35:00+00:00", trust_service("ecs-tasks.amazonaws.com"),
               inline=[("app", doc(allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
                                         f"arn:aws:dynamodb:us-east-1:{PROD_APP}:table/orders")))],
               last_used=RECENT)
    uses(a, ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], 5000)
    # (j) ops-admin's second access key, made in 2024 and never used since.
    p.user("ops-admin", "2020-11-02T09:00:00+00:00", attached=[ADMIN], tags={"team": "ops"},
           extra_keys=[("2024-04-16T13:20:00+00:00", None)])
    uses(f"arn:aws:iam::{PROD_APP}:user/ops-admin", ["ec2:DescribeInstances", "cloudwatch:GetMetricData"], 6, 12)
    # (e) target of the role chain from sandbox.
    p.role("ProdDeployAdmin", "2023-07-07T07:07:07+00:00",
           trust_aws([f"arn:aws:iam::{SANDBOX}:role/sandbox-automation",
                      f"arn:aws:iam::{PROD_APP}:role/aws-reserved/sso.amazonaws.com/"
                      "AWSReservedSSO_AdministratorAccess_3f9a2b7c1d8e4f60"]),
           attached=[ADMIN], last_used=YESTERDAY)
    uses(f"arn:aws:iam::{PROD_APP}:role/ProdDeployAdmin", ["cloudformation:DescribeStacks",
                                                           "cloudformation:UpdateStack"], 4, 2)
    # (h) a zombie admin role: unused for 263 days.
    p.role("legacy-migration-admin", "2021-03-15T12:00:00+00:00", trust_aws(f"arn:aws:iam::{PROD_APP}:root"),
           attached=[ADMIN], last_used=STALE, tags={"project": "dc-migration-2021"})
    uses(f"arn:aws:iam::{PROD_APP}:role/legacy-migration-admin", ["s3:GetObject", "ec2:DescribeInstances"], 30, 263)
    p.resource_policies = [
        {
            "resource_arn": "arn:aws:s3:::acme-prod-artifacts",
            "kind": "s3-bucket",
            "document": doc(
                {"Sid": "DevBuildsRead", "Effect": "Allow",
                 "Principal": {"AWS": f"arn:aws:iam::{DEV}:role/dev-ci-build"},
                 "Action": ["s3:GetObject", "s3:PutObject"],
                 "Resource": "arn:aws:s3:::acme-prod-artifacts/*"},
                {"Sid": "TLSOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": ["arn:aws:s3:::acme-prod-artifacts", "arn:aws:s3:::acme-prod-artifacts/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            ),
        }
    ]

    # ---------------------------------------------------------------- prod-data (URL-encoded documents)
    d = Account(PROD_DATA, encode=True)
    accounts[PROD_DATA] = d
    d.org_access_role(last_used=None)
    a = d.sso_role("AdministratorAccess", "3f9a2b7c1d8e4f60", attached=[ADMIN], last_used=YESTERDAY)
    uses(a, ["glue:StartJobRun", "athena:StartQueryExecution", "iam:GetRole"], 10, 1)
    a = d.sso_role("ReadOnlyAccess", "c2d4e6f8a0b1c3d5", attached=[READONLY])
    uses(a, ["athena:StartQueryExecution", "athena:GetQueryResults", "glue:GetTables"], 70)
    a = d.role("glue-etl-role", "2023-01-09T10:00:00+00:00", trust_service("glue.amazonaws.com"),
               attached=[GLUE], inline=[("data-lake", doc(
                   allow(["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                         ["arn:aws:s3:::acme-data-lake", "arn:aws:s3:::acme-data-lake/*"]),
                   allow("secretsmanager:GetSecretValue",
                         f"arn:aws:secretsmanager:us-east-1:{PROD_DATA}:secret:prod/warehouse/password-AbCdEf"),
                   allow(["kms:Decrypt", "kms:GenerateDataKey"],
                         f"arn:aws:kms:us-east-1:{PROD_DATA}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
               ))], last_used=RECENT)
    uses(a, ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "glue:GetTable", "secretsmanager:GetSecretValue",
             "kms:Decrypt", "logs:PutLogEvents"], 900)
    # (b) a role allowed to put an inline policy on itself.
    a = d.role("data-pipeline-runner", "2023-06-01T10:00:00+00:00", trust_service("ecs-tasks.amazonaws.com"),
               inline=[("pipeline", doc(
                   allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::acme-data-lake/*"),
                   {"Sid": "SelfTune", "Effect": "Allow",
                    "Action": ["iam:PutRolePolicy", "iam:GetRolePolicy"],
                    "Resource": f"arn:aws:iam::{PROD_DATA}:role/data-pipeline-runner"},
               ))], last_used=RECENT)
    uses(a, ["s3:GetObject", "s3:PutObject"], 2500)
    # (d) a role that can rewrite an admin role's trust policy.
    a = d.role("data-platform-automation", "2023-06-15T10:00:00+00:00", trust_service("lambda.amazonaws.com"),
               attached=[LAMBDA_BASIC], inline=[("platform", doc(
                   allow(["iam:GetRole", "iam:UpdateAssumeRolePolicy"], f"arn:aws:iam::{PROD_DATA}:role/data-admin"),
                   allow(["glue:StartCrawler", "glue:GetCrawler"]),
               ))], last_used=RECENT)
    uses(a, ["glue:StartCrawler", "glue:GetCrawler", "logs:CreateLogStream", "logs:PutLogEvents"], 48)
    d.role("data-admin", "2023-06-15T10:05:00+00:00",
           trust_aws(f"arn:aws:iam::{PROD_DATA}:role/aws-reserved/sso.amazonaws.com/"
                     "AWSReservedSSO_AdministratorAccess_3f9a2b7c1d8e4f60"),
           attached=[ADMIN], last_used=LAST_MONTH)
    uses(f"arn:aws:iam::{PROD_DATA}:role/data-admin", ["glue:UpdateJob", "s3:PutBucketPolicy"], 2, 26)
    d.resource_policies = [
        {
            "resource_arn": f"arn:aws:kms:us-east-1:{PROD_DATA}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "kind": "kms-key",
            "document": doc(
                {"Sid": "EnableIAMUserPermissions", "Effect": "Allow",
                 "Principal": {"AWS": f"arn:aws:iam::{PROD_DATA}:root"}, "Action": "kms:*", "Resource": "*"},
                {"Sid": "AnalyticsDecrypt", "Effect": "Allow",
                 "Principal": {"AWS": f"arn:aws:iam::{PROD_APP}:role/storefront-task-role"},
                 "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"},
            ),
        },
        {
            "resource_arn": f"arn:aws:secretsmanager:us-east-1:{PROD_DATA}:secret:prod/warehouse/password-AbCdEf",
            "kind": "secretsmanager-secret",
            # get-resource-policy returns the policy as JSON text
            "document": json.dumps(doc(
                {"Sid": "OnlyGlue", "Effect": "Deny", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
                 "Resource": "*",
                 "Condition": {"StringNotEquals": {"aws:PrincipalArn": [
                     f"arn:aws:iam::{PROD_DATA}:role/glue-etl-role"]}}},
            )),
        },
        {
            "resource_arn": f"arn:aws:sqs:us-east-1:{PROD_DATA}:ingest-events",
            "kind": "sqs-queue",
            "document": doc(
                {"Sid": "AppSends", "Effect": "Allow",
                 "Principal": {"AWS": f"arn:aws:iam::{PROD_APP}:role/storefront-task-role"},
                 "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:us-east-1:{PROD_DATA}:ingest-events"},
            ),
        },
    ]

    # ---------------------------------------------------------------- dev (paginated GAAD)
    v = Account(DEV, pages=2)
    accounts[DEV] = v
    v.org_access_role(last_used=None)
    a = v.sso_role("AdministratorAccess", "3f9a2b7c1d8e4f60", attached=[ADMIN], last_used=YESTERDAY)
    uses(a, ["cloudformation:CreateStack", "cloudformation:DescribeStacks", "iam:CreateRole"], 6, 1)
    a = v.sso_role("PowerUserAccess", "5e6f7a8b9c0d1e2f", attached=[POWER])
    uses(a, ["lambda:UpdateFunctionCode", "lambda:InvokeFunction", "logs:FilterLogEvents",
             "dynamodb:Scan", "s3:GetObject"], 150)
    v.group("developers", "2022-05-01T10:00:00+00:00", attached=[READONLY],
            inline=[("dev-sandbox-tools", doc(allow(["cloudshell:*"])))])
    # (a) PassRole + Lambda create/invoke, with an admin execution role in the account.
    v.user("dev-carol", "2023-03-03T10:00:00+00:00", groups=["developers"],
           password=days_before_snapshot(2), inline=[("lambda-dev", doc(
        allow(["lambda:CreateFunction", "lambda:InvokeFunction", "lambda:GetFunction", "lambda:ListFunctions"]),
        allow("iam:PassRole", f"arn:aws:iam::{DEV}:role/*"),
        allow(["iam:ListRoles"]),
    ))], tags={"team": "payments"})
    uses(f"arn:aws:iam::{DEV}:user/dev-carol", ["lambda:ListFunctions", "lambda:GetFunction",
                                                "lambda:InvokeFunction", "logs:FilterLogEvents"], 35,
         denied=["iam:AttachUserPolicy"])
    v.role("lambda-admin-exec", "2022-09-09T10:00:00+00:00", trust_service("lambda.amazonaws.com"),
           attached=[ADMIN], last_used=LAST_MONTH, tags={"created-by": "hackathon-2022"})
    uses(f"arn:aws:iam::{DEV}:role/lambda-admin-exec", ["logs:PutLogEvents", "s3:ListAllMyBuckets"], 20, 26)
    # (g) PassRole in one attached policy, RunInstances in another.
    pass_ec2 = v.policy("pass-ec2-roles", doc(
        allow("iam:PassRole", f"arn:aws:iam::{DEV}:role/ec2-*",
              Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
        allow(["iam:ListInstanceProfiles", "iam:GetInstanceProfile"]),
    ), "2023-08-08T10:00:00+00:00", description="Pass EC2 roles (no compute rights)")
    run_ec2 = v.policy("ec2-launch", doc(
        allow(["ec2:RunInstances", "ec2:Describe*", "ec2:CreateTags", "ec2:TerminateInstances"]),
    ), "2023-08-08T10:01:00+00:00", description="Launch instances (no IAM rights)")
    v.role("dev-build-agent", "2023-08-08T10:05:00+00:00", trust_aws(f"arn:aws:iam::{DEV}:root"),
           attached=[pass_ec2, run_ec2], last_used=RECENT)
    uses(f"arn:aws:iam::{DEV}:role/dev-build-agent", ["ec2:DescribeInstances", "ec2:RunInstances",
                                                      "ec2:CreateTags", "ec2:TerminateInstances", "iam:PassRole"], 60,
         passes={"ec2:RunInstances": f"arn:aws:iam::{DEV}:instance-profile/ec2-build-worker"})
    # What dev-build-agent really launches: build workers with a narrow role.
    v.role("ec2-build-worker", "2023-08-08T10:06:00+00:00", trust_service("ec2.amazonaws.com"),
           inline=[("build-worker", doc(
               allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::acme-prod-artifacts/*"),
               allow(["logs:CreateLogStream", "logs:PutLogEvents"]),
           ))], profile="ec2-build-worker", last_used=RECENT)
    uses(f"arn:aws:iam::{DEV}:role/ec2-build-worker", ["s3:GetObject", "s3:PutObject", "logs:CreateLogStream",
                                                       "logs:PutLogEvents"], 200)
    v.role("ec2-fleet-admin", "2022-10-10T10:00:00+00:00", trust_service("ec2.amazonaws.com"),
           attached=[ADMIN], profile="ec2-fleet-admin", last_used=RECENT)
    uses(f"arn:aws:iam::{DEV}:role/ec2-fleet-admin", ["s3:GetObject", "ec2:DescribeTags"], 300)
    # Negative controls: PassRole only to a low-privilege role; a narrow, fully used role.
    v.role("dev-ci-build", "2023-02-02T10:00:00+00:00", trust_service("codebuild.amazonaws.com"),
           inline=[("build", doc(
               allow(["lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:InvokeFunction"],
                     f"arn:aws:lambda:us-east-1:{DEV}:function:ci-*"),
               allow("iam:PassRole", f"arn:aws:iam::{DEV}:role/lambda-basic-exec"),
               allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::acme-prod-artifacts/*"),
               allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]),
           ))], last_used=RECENT)
    uses(f"arn:aws:iam::{DEV}:role/dev-ci-build", ["lambda:CreateFunction", "lambda:UpdateFunctionCode",
                                                   "lambda:InvokeFunction", "iam:PassRole", "s3:GetObject",
                                                   "s3:PutObject", "logs:CreateLogGroup", "logs:CreateLogStream",
                                                   "logs:PutLogEvents"], 80,
         passes={"lambda:CreateFunction": f"arn:aws:iam::{DEV}:role/lambda-basic-exec"})
    v.role("lambda-basic-exec", "2023-02-02T10:01:00+00:00", trust_service("lambda.amazonaws.com"),
           attached=[LAMBDA_BASIC], last_used=RECENT)
    uses(f"arn:aws:iam::{DEV}:role/lambda-basic-exec", ["logs:CreateLogStream", "logs:PutLogEvents"], 400)
    v.role("metrics-exporter", "2024-04-04T10:00:00+00:00", trust_service("lambda.amazonaws.com"),
           attached=[LAMBDA_BASIC], inline=[("read-metrics", doc(
               allow(["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"]),
               allow("s3:PutObject", "arn:aws:s3:::acme-dev-metrics/exports/*"),
           ))], last_used=RECENT)
    uses(f"arn:aws:iam::{DEV}:role/metrics-exporter", ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics",
                                                       "s3:PutObject", "logs:CreateLogStream",
                                                       "logs:PutLogEvents"], 288)
    v.resource_policies = []

    # ---------------------------------------------------------------- sandbox
    b = Account(SANDBOX)
    # (k) the sandbox's root user still has the access key someone made when the account was new.
    b.root_keys = [("2022-05-10T14:02:00+00:00", "2025-01-09T17:45:00+00:00")]
    accounts[SANDBOX] = b
    b.org_access_role(last_used=None)
    a = b.sso_role("AdministratorAccess", "3f9a2b7c1d8e4f60", attached=[ADMIN])
    uses(a, ["ec2:RunInstances", "ec2:DescribeInstances", "s3:CreateBucket", "iam:CreateRole"], 20)
    b.user("sandbox-bob", "2024-01-15T10:00:00+00:00", attached=[POWER], tags={"team": "research"})
    uses(f"arn:aws:iam::{SANDBOX}:user/sandbox-bob", ["ec2:RunInstances", "ec2:DescribeInstances",
                                                      "sagemaker:CreateNotebookInstance", "sts:AssumeRole"], 25, 3,
         denied=["iam:CreateRole"], regions=["us-east-1", "eu-west-1"])
    # (e) the first hop of the cross-account chain into prod.
    b.role("sandbox-automation", "2023-07-07T07:00:00+00:00", trust_aws(f"arn:aws:iam::{SANDBOX}:root"),
           inline=[("promote", doc(
               allow("sts:AssumeRole", f"arn:aws:iam::{PROD_APP}:role/ProdDeployAdmin"),
               allow(["cloudformation:ValidateTemplate", "s3:GetObject"]),
           ))], last_used=YESTERDAY)
    uses(f"arn:aws:iam::{SANDBOX}:role/sandbox-automation", ["cloudformation:ValidateTemplate",
                                                             "s3:GetObject", "sts:AssumeRole"], 10, 2)

    for acc in (m, s, b):
        acc.resource_policies = []
    return accounts, activity


def control(pid, name, document=None):
    p = {"id": pid, "name": name}
    if document is not None:
        p["document"] = document
    return p


FULL = control("p-FullAWSAccess", "FullAWSAccess")


def organization():
    deny_leave = control("p-1leaveorg0", "DenyLeaveOrganization", doc(
        {"Sid": "NoLeaving", "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}))
    protect_trail = control("p-2protecttrl", "ProtectSecurityServices", doc(
        {"Sid": "ProtectAuditTrail", "Effect": "Deny",
         "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "cloudtrail:UpdateTrail",
                    "guardduty:DeleteDetector", "guardduty:DisassociateFromMasterAccount",
                    "config:StopConfigurationRecorder", "config:DeleteConfigurationRecorder"],
         "Resource": "*",
         "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/OrganizationAccountAccessRole"}}}))
    deny_root = control("p-3denyroot0", "DenyRootUser", doc(
        {"Sid": "NoRootUser", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}}))
    region = control("p-4sandboxrg", "SandboxRegionRestriction", doc(
        {"Sid": "OnlyTwoRegions", "Effect": "Deny",
         "NotAction": ["iam:*", "organizations:*", "sts:*", "support:*", "cloudfront:*", "route53:*",
                       "budgets:*", "ce:*", "health:*", "sso:*", "account:*"],
         "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}}))
    perimeter = control("p-5perimeter", "DataPerimeterS3KMS", doc(
        {"Sid": "EnforceOrgIdentities", "Effect": "Deny", "Principal": "*",
         "Action": ["s3:*", "kms:*"], "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG_ID},
                       "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}))

    def acct(aid, name):
        return {"type": "account", "id": aid, "name": name, "scps": [FULL]}

    def ou(oid, name, children, extra=()):
        return {"type": "ou", "id": oid, "name": name, "scps": [FULL, *extra], "children": children}

    return {
        "format": "latch.organization/v1",
        "id": ORG_ID,
        "management_account_id": MGMT,
        "root": {
            "id": "r-x1y2",
            "name": "Root",
            "scps": [FULL, deny_leave, protect_trail],
            "rcps": [control("p-RCPFullAWSAccess", "RCPFullAWSAccess"), perimeter],
            "children": [
                acct(MGMT, "management"),
                ou("ou-x1y2-security1", "Security", [acct(SECURITY, "security-tooling"),
                                                     acct(LOGS, "log-archive")]),
                ou("ou-x1y2-prod00001", "Prod", [acct(PROD_APP, "prod-app"), acct(PROD_DATA, "prod-data")],
                   [deny_root]),
                ou("ou-x1y2-dev000001", "Dev", [acct(DEV, "dev")]),
                ou("ou-x1y2-sandbox01", "Sandbox", [acct(SANDBOX, "sandbox")], [region]),
            ],
        },
    }


SNAPSHOT_DAY = datetime.datetime(2026, 11, 20, tzinfo=datetime.timezone.utc)


def days_before_snapshot(days, hour=9):
    t = SNAPSHOT_DAY - datetime.timedelta(days=days) + datetime.timedelta(hours=hour)
    return t.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def credential_report(acc, activity):
    """The account's IAM credential report, as `aws iam get-credential-report` returns it
    (base64-decoded CSV, AWS's column order)."""
    header = ("user,arn,user_creation_time,password_enabled,password_last_used,"
              "password_last_changed,password_next_rotation,mfa_active,"
              "access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,"
              "access_key_1_last_used_region,access_key_1_last_used_service,"
              "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
              "access_key_2_last_used_region,access_key_2_last_used_service,"
              "cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated")

    def key_cols(k):
        if k is None:
            return ["false", "N/A", "N/A", "N/A", "N/A"]
        created, used, service = k
        return ["true", created, used or "N/A", "us-east-1" if used else "N/A",
                service if used else "N/A"]

    rows = [header]
    root_keys = [(c, u, "iam") for c, u in acc.root_keys] + [None, None]
    rows.append(",".join(["<root_account>", f"arn:aws:iam::{acc.id}:root", "2021-01-04T10:00:00+00:00",
                          "not_supported", days_before_snapshot(40), "not_supported", "not_supported",
                          "true"] + key_cols(root_keys[0]) + key_cols(root_keys[1])
                         + ["false", "N/A", "false", "N/A"]))
    for c in acc.credentials:
        arn = f"arn:aws:iam::{acc.id}:user/{c['name']}"
        act = activity.get(arn, {})
        keys = []
        if c["key"]:
            used = None
            if act.get("daily_calls", 0) > 0:
                used = days_before_snapshot(act.get("last_active_days_ago", 0), hour=8)
            service = (act.get("actions") or ["iam:x"])[0].split(":")[0]
            keys.append((c["created"], used, service))
        keys += [(created, used, "s3") for created, used in c["extra_keys"]]
        keys += [None, None]
        pw = c["password"]
        rows.append(",".join([c["name"], arn, c["created"],
                              "true" if pw else "false",
                              "N/A" if pw in (None, "never") else pw,
                              "N/A", "N/A", "true" if pw else "false"]
                             + key_cols(keys[0]) + key_cols(keys[1])
                             + ["false", "N/A", "false", "N/A"]))
    return "\n".join(rows) + "\n"


def trails():
    """The organization trail the generated CloudTrail stands for: every region, management
    events and the data events the trail generator writes (S3 objects, Lambda functions,
    DynamoDB tables). The same as `latch_model::trails::generated_trails_value`."""
    mgmt = "100000000001"
    return {
        "format": "latch.trails/v1",
        "trails": [{
            "name": "org-trail",
            "arn": f"arn:aws:cloudtrail:us-east-1:{mgmt}:trail/org-trail",
            "account": mgmt,
            "home_region": "us-east-1",
            "organization_trail": True,
            "multi_region": True,
            "event_selectors": [{
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "ExcludeManagementEventSources": [],
                "DataResources": [
                    {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]},
                    {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
                    {"Type": "AWS::DynamoDB::Table", "Values": ["arn:aws:dynamodb"]},
                ],
            }],
        }],
    }


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "examples/org"
    shutil.rmtree(os.path.join(out, "accounts"), ignore_errors=True)
    accounts, activity = build()
    here = os.path.dirname(os.path.abspath(__file__))
    bundle = json.load(open(os.path.join(here, "../../crates/model/data/aws-managed-policies.json")))
    by_arn = {p["arn"]: p for p in bundle["policies"]}
    for aid, acc in accounts.items():
        for arn in getattr(acc, "aws_managed_inline", []):
            bp = by_arn[arn]
            acc.policies.append({
                "PolicyName": bp["name"], "PolicyId": "ANPAIWMBCKSKIEE64ZLYK", "Arn": arn, "Path": "/",
                "DefaultVersionId": bp["version_id"], "AttachmentCount": 1, "PermissionsBoundaryUsageCount": 0,
                "IsAttachable": True, "CreateDate": "2015-02-06T18:39:46+00:00",
                "UpdateDate": "2015-02-06T18:39:46+00:00",
                "PolicyVersionList": [{"Document": acc.d(bp["document"]), "VersionId": bp["version_id"],
                                       "IsDefaultVersion": True, "CreateDate": "2015-02-06T18:39:46+00:00"}],
            })
        write_json(os.path.join(out, "accounts", aid, "gaad.json"), acc.gaad())
        with open(os.path.join(out, "accounts", aid, "credential-report.csv"), "w") as f:
            f.write(credential_report(acc, activity))
        if acc.resource_policies is not None:
            write_json(os.path.join(out, "accounts", aid, "resource-policies.json"),
                       {"format": "latch.resource-policies/v1", "policies": acc.resource_policies})
    write_json(os.path.join(out, "organization.json"), organization())
    write_json(os.path.join(out, "activity.json"), dict(sorted(activity.items())))
    write_json(os.path.join(out, "trails.json"), trails())


if __name__ == "__main__":
    main()
