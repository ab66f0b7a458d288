variable "latch_principal_arn" {
  description = "The IAM role or user that runs Latch: the only principal that may assume the control-plane role."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", var.latch_principal_arn))
    error_message = "An IAM role or user ARN."
  }
}

variable "cloudtrail_bucket" {
  description = "The bucket holding the organization trail's log files (latch collect --cloudtrail-bucket); empty for none."
  type        = string
  default     = ""
}

variable "checkpoint_bucket" {
  description = "The bucket (with S3 Object Lock) the server publishes signed audit checkpoints to; empty for none."
  type        = string
  default     = ""
}

variable "member_role_targets" {
  description = "Organization root or OU ids the member role is deployed to (a service-managed StackSet, new accounts included). Empty: no member role."
  type        = list(string)
  default     = []
}

variable "stackset_region" {
  description = "The region the member role's StackSet instances are created in (IAM roles are global: one region is enough)."
  type        = string
  default     = "us-east-1"
}

variable "denial_pipeline" {
  description = "Whether to build the denial pipeline: the organization's Latch event bus, the API destination to latch serve, and a rule in every account of member_role_targets."
  type        = bool
  default     = false
}

variable "organization_id" {
  description = "The organization (o-...) whose accounts may put denials on the bus (denial pipeline)."
  type        = string
  default     = ""
}

variable "latch_url" {
  description = "The base URL of latch serve, reachable from EventBridge (https://...) (denial pipeline)."
  type        = string
  default     = ""
}

variable "ingest_token" {
  description = "The secret of an ingest token (latch token create --role ingest) (denial pipeline)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "denial_regions" {
  description = "Regions whose denials are forwarded (IAM, Organizations and STS denials arrive in us-east-1)."
  type        = list(string)
  default     = ["us-east-1"]
}

variable "invocations_per_second" {
  description = "At most this many posts a second to latch serve."
  type        = number
  default     = 10
}
