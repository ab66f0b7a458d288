# The denial pipeline (var.denial_pipeline): the organization's Latch event bus in this account
# and region, an API destination posting every denial to latch serve (POST /api/v1/events) with
# an ingest token, and in every account of member_role_targets, for each of denial_regions, the
# rule of ../cloudformation/denial-pipeline.yaml forwarding denied CloudTrail management events
# to the bus. The same resources as ../cloudformation/denial-central.yaml.

data "aws_region" "current" {}

locals {
  denials = var.denial_pipeline ? 1 : 0
}

resource "aws_cloudwatch_event_bus" "denials" {
  count = local.denials
  name  = "latch-denials"
}

resource "aws_cloudwatch_event_bus_policy" "organization_may_put" {
  count          = local.denials
  event_bus_name = aws_cloudwatch_event_bus.denials[0].name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OrganizationAccountsPutDenials"
      Effect    = "Allow"
      Principal = "*"
      Action    = "events:PutEvents"
      Resource  = aws_cloudwatch_event_bus.denials[0].arn
      Condition = { StringEquals = { "aws:PrincipalOrgID" = var.organization_id } }
    }]
  })
}

resource "aws_cloudwatch_event_connection" "ingest" {
  count              = local.denials
  name               = "latch-ingest"
  description        = "Latch's ingest token, sent as a bearer token"
  authorization_type = "API_KEY"
  auth_parameters {
    api_key {
      key   = "Authorization"
      value = "Bearer ${var.ingest_token}"
    }
  }
}

resource "aws_cloudwatch_event_api_destination" "latch" {
  count                            = local.denials
  name                             = "latch-events"
  description                      = "latch serve, POST /api/v1/events"
  connection_arn                   = aws_cloudwatch_event_connection.ingest[0].arn
  invocation_endpoint              = "${var.latch_url}/api/v1/events"
  http_method                      = "POST"
  invocation_rate_limit_per_second = var.invocations_per_second
}

resource "aws_iam_role" "invoke_latch" {
  count       = local.denials
  name_prefix = "latch-invoke-"
  description = "Lets EventBridge call Latch's API destination"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "invoke_latch" {
  count = local.denials
  name  = "InvokeLatch"
  role  = aws_iam_role.invoke_latch[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "events:InvokeApiDestination"
      Resource = aws_cloudwatch_event_api_destination.latch[0].arn
    }]
  })
}

resource "aws_cloudwatch_event_rule" "to_latch" {
  count          = local.denials
  name           = "latch-denials-to-latch"
  description    = "Every denial the organization forwards, to latch serve"
  event_bus_name = aws_cloudwatch_event_bus.denials[0].name
  event_pattern  = jsonencode({ "detail-type" = ["AWS API Call via CloudTrail"] })
}

resource "aws_cloudwatch_event_target" "to_latch" {
  count          = local.denials
  rule           = aws_cloudwatch_event_rule.to_latch[0].name
  event_bus_name = aws_cloudwatch_event_bus.denials[0].name
  target_id      = "latch-serve"
  arn            = aws_cloudwatch_event_api_destination.latch[0].arn
  role_arn       = aws_iam_role.invoke_latch[0].arn
  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }
}

resource "aws_cloudformation_stack_set" "denial_rule" {
  count            = var.denial_pipeline && length(var.member_role_targets) > 0 ? 1 : 0
  name             = "latch-denial-rule"
  description      = "Latch denial pipeline: denied CloudTrail management events to the organization's Latch bus"
  permission_model = "SERVICE_MANAGED"
  capabilities     = ["CAPABILITY_IAM"]
  template_body    = file("${path.module}/../cloudformation/denial-pipeline.yaml")
  parameters = {
    CentralEventBusArn = aws_cloudwatch_event_bus.denials[0].arn
  }
  auto_deployment {
    enabled                          = true
    retain_stacks_on_account_removal = false
  }
  lifecycle {
    ignore_changes = [administration_role_arn]
  }
}

resource "aws_cloudformation_stack_set_instance" "denial_rule" {
  for_each       = var.denial_pipeline && length(var.member_role_targets) > 0 ? toset(var.denial_regions) : toset([])
  stack_set_name = aws_cloudformation_stack_set.denial_rule[0].name
  region         = each.value
  deployment_targets {
    organizational_unit_ids = var.member_role_targets
  }
}
