# Latch control plane: the role `latch collect`, `latch apply`, `latch drift`,
# `latch emergency-stop` and `latch serve` act as, in the management account (or the delegated
# administrator account of AWS Organizations). The same permissions as
# ../cloudformation/management.yaml, statement for statement (a test compares them).

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  # The name the firewall's tamper protection spares ([control_plane] role_arn,
  # arn:aws:iam::*:role/latch-control-plane): the same name in every account.
  role_name = "latch-control-plane"
  scp_and_rcp = {
    "organizations:PolicyType" = ["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"]
  }
  latch_tag_keys = {
    "ForAllValues:StringLike" = { "aws:TagKeys" = "latch:*" }
    "Null"                    = { "aws:TagKeys" = "false" }
  }

  organization_statements = concat([
    {
      Sid    = "ReadOrganization"
      Effect = "Allow"
      Action = [
        "organizations:DescribeOrganization",
        "organizations:DescribePolicy",
        "organizations:ListAccounts",
        "organizations:ListAccountsForParent",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListPolicies",
        "organizations:ListPoliciesForTarget",
        "organizations:ListRoots",
        "organizations:ListTagsForResource",
        "organizations:ListTargetsForPolicy",
      ]
      Resource = "*"
    },
    {
      Sid       = "EnableScpAndRcp"
      Effect    = "Allow"
      Action    = "organizations:EnablePolicyType"
      Resource  = "arn:${local.partition}:organizations::*:root/o-*/r-*"
      Condition = { StringEquals = local.scp_and_rcp }
    },
    # Latch creates its SCPs and RCPs tagged latch:managed=true, and changes only those
    # (organizations:PolicyType keeps it off every other kind of policy).
    {
      Sid    = "CreateLatchPolicies"
      Effect = "Allow"
      Action = "organizations:CreatePolicy"
      Resource = [
        "arn:${local.partition}:organizations::*:policy/o-*/service_control_policy/*",
        "arn:${local.partition}:organizations::*:policy/o-*/resource_control_policy/*",
      ]
      Condition = {
        StringEquals = merge({ "aws:RequestTag/latch:managed" = "true" }, local.scp_and_rcp)
      }
    },
    {
      Sid    = "ChangeScpAndRcp"
      Effect = "Allow"
      Action = [
        "organizations:AttachPolicy",
        "organizations:DeletePolicy",
        "organizations:DetachPolicy",
        "organizations:UpdatePolicy",
      ]
      Resource = [
        "arn:${local.partition}:organizations::*:policy/o-*/service_control_policy/p-*",
        "arn:${local.partition}:organizations::*:policy/o-*/resource_control_policy/p-*",
        "arn:${local.partition}:organizations::*:root/o-*/r-*",
        "arn:${local.partition}:organizations::*:ou/o-*/ou-*",
        "arn:${local.partition}:organizations::*:account/o-*/*",
      ]
      Condition = { StringEquals = local.scp_and_rcp }
    },
    {
      Sid    = "LatchTagsOnScpAndRcp"
      Effect = "Allow"
      Action = ["organizations:TagResource", "organizations:UntagResource"]
      Resource = [
        "arn:${local.partition}:organizations::*:policy/o-*/service_control_policy/*",
        "arn:${local.partition}:organizations::*:policy/o-*/resource_control_policy/*",
      ]
      Condition = local.latch_tag_keys
    },
    {
      Sid      = "WhoAmI"
      Effect   = "Allow"
      Action   = "sts:GetCallerIdentity"
      Resource = "*"
    },
    {
      Sid      = "MemberRole"
      Effect   = "Allow"
      Action   = "sts:AssumeRole"
      Resource = "arn:${local.partition}:iam::*:role/${local.role_name}"
    },
    {
      Sid      = "ProbeDenialPipeline"
      Effect   = "Allow"
      Action   = "events:PutEvents"
      Resource = "arn:${local.partition}:events:*:${local.account_id}:event-bus/latch-denials"
    },
    {
      Sid    = "ReadIdentityCenter"
      Effect = "Allow"
      Action = [
        "identitystore:ListGroupMemberships",
        "identitystore:ListGroups",
        "identitystore:ListUsers",
        "sso:DescribePermissionSet",
        "sso:GetInlinePolicyForPermissionSet",
        "sso:GetPermissionsBoundaryForPermissionSet",
        "sso:ListAccountAssignments",
        "sso:ListCustomerManagedPolicyReferencesInPermissionSet",
        "sso:ListInstances",
        "sso:ListManagedPoliciesInPermissionSet",
        "sso:ListPermissionSets",
      ]
      Resource = "*"
    },
    ], var.cloudtrail_bucket == "" ? [] : [
    {
      Sid      = "ListCloudTrailLogs"
      Effect   = "Allow"
      Action   = "s3:ListBucket"
      Resource = "arn:${local.partition}:s3:::${var.cloudtrail_bucket}"
    },
    {
      Sid      = "ReadCloudTrailLogs"
      Effect   = "Allow"
      Action   = "s3:GetObject"
      Resource = "arn:${local.partition}:s3:::${var.cloudtrail_bucket}/*"
    },
    ], var.checkpoint_bucket == "" ? [] : [
    {
      Sid      = "PublishAuditCheckpoints"
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:PutObjectRetention"]
      Resource = "arn:${local.partition}:s3:::${var.checkpoint_bucket}/*"
    },
  ])

  # What the member role (../cloudformation/member-stackset.yaml) may do in each member
  # account, here in this account, which Latch reaches with the control plane's own
  # credentials.
  account_statements = [
    {
      Sid    = "ReadAccount"
      Effect = "Allow"
      Action = [
        "cloudformation:DescribeStacks",
        "cloudtrail:DescribeTrails",
        "cloudtrail:GetEventSelectors",
        "codebuild:BatchGetProjects",
        "codebuild:ListProjects",
        "ec2:DescribeInstances",
        "ec2:DescribeRegions",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions",
        "glue:GetDevEndpoints",
        "glue:GetJobs",
        "iam:GenerateCredentialReport",
        "iam:GenerateServiceLastAccessedDetails",
        "iam:GetAccountAuthorizationDetails",
        "iam:GetCredentialReport",
        "iam:GetRolePolicy",
        "iam:GetServiceLastAccessedDetails",
        "iam:GetUserPolicy",
        "iam:ListRoleTags",
        "iam:ListRoles",
        "iam:ListUserTags",
        "lambda:ListFunctions",
        "sagemaker:DescribeNotebookInstance",
        "sagemaker:ListNotebookInstances",
      ]
      Resource = "*"
    },
    {
      Sid    = "LatchTagsOnUsersAndRoles"
      Effect = "Allow"
      Action = ["iam:TagRole", "iam:TagUser", "iam:UntagRole", "iam:UntagUser"]
      Resource = [
        "arn:${local.partition}:iam::${local.account_id}:role/*",
        "arn:${local.partition}:iam::${local.account_id}:user/*",
      ]
      Condition = local.latch_tag_keys
    },
    # The latch-session-cutoff inline policy. IAM has no condition key for an inline
    # policy's name (PutRolePolicy knows iam:PermissionsBoundary and iam:RoleTemplateARN
    # only), so this is scoped by resource; the control-plane role itself is excluded below.
    {
      Sid    = "SessionCutoff"
      Effect = "Allow"
      Action = ["iam:PutRolePolicy", "iam:PutUserPolicy"]
      Resource = [
        "arn:${local.partition}:iam::${local.account_id}:role/*",
        "arn:${local.partition}:iam::${local.account_id}:user/*",
      ]
    },
    {
      Sid    = "NeverChangeItself"
      Effect = "Deny"
      Action = [
        "iam:AttachRolePolicy",
        "iam:DeleteRole",
        "iam:DeleteRolePermissionsBoundary",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePermissionsBoundary",
        "iam:PutRolePolicy",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:UpdateRole",
      ]
      Resource = "arn:${local.partition}:iam::${local.account_id}:role/${local.role_name}"
    },
  ]
}

resource "aws_iam_role" "control_plane" {
  name                 = local.role_name
  description          = "Latch control plane (organization policies, latch:* tags, grants)"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "LatchRunsAsThisRole"
        Effect    = "Allow"
        Principal = { AWS = var.latch_principal_arn }
        Action    = "sts:AssumeRole"
      },
    ]
  })
}

resource "aws_iam_role_policy" "organization" {
  name   = "LatchOrganization"
  role   = aws_iam_role.control_plane.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.organization_statements })
}

resource "aws_iam_role_policy" "account" {
  name   = "LatchAccount"
  role   = aws_iam_role.control_plane.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.account_statements })
}
