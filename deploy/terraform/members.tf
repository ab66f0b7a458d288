# The member role in every account of member_role_targets (new accounts included): the very
# template ../cloudformation/member-stackset.yaml, through a service-managed StackSet. A
# service-managed StackSet never deploys to the management account: there, Latch acts with the
# control-plane role itself (aws_iam_role.control_plane holds the same account permissions).

resource "aws_cloudformation_stack_set" "member_role" {
  count            = length(var.member_role_targets) > 0 ? 1 : 0
  name             = "latch-member-role"
  description      = "Latch member role (reads, latch:* tags, session cut-off)"
  permission_model = "SERVICE_MANAGED"
  capabilities     = ["CAPABILITY_NAMED_IAM"]
  template_body    = file("${path.module}/../cloudformation/member-stackset.yaml")
  parameters = {
    ControlPlaneAccountId = local.account_id
  }
  auto_deployment {
    enabled                          = true
    retain_stacks_on_account_removal = false
  }
  operation_preferences {
    failure_tolerance_percentage = 10
    max_concurrent_percentage    = 25
  }
  lifecycle {
    ignore_changes = [administration_role_arn]
  }
}

resource "aws_cloudformation_stack_set_instance" "member_role" {
  count          = length(var.member_role_targets) > 0 ? 1 : 0
  stack_set_name = aws_cloudformation_stack_set.member_role[0].name
  region         = var.stackset_region
  deployment_targets {
    organizational_unit_ids = var.member_role_targets
  }
}
