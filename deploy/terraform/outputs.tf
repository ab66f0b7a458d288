output "control_plane_role_arn" {
  description = "Latch's role: assume it to run Latch. [control_plane] role_arn of the firewall configuration names it in every account (arn:aws:iam::*:role/latch-control-plane)."
  value       = aws_iam_role.control_plane.arn
}

output "member_role_name" {
  description = "The role Latch assumes in member accounts (latch --role, [aws] member_role)."
  value       = local.role_name
}

output "member_role_stack_set" {
  description = "The StackSet deploying the member role, when member_role_targets is set."
  value       = one(aws_cloudformation_stack_set.member_role[*].name)
}

output "denial_bus_arn" {
  description = "The organization's Latch event bus, when the denial pipeline is built."
  value       = one(aws_cloudwatch_event_bus.denials[*].arn)
}
