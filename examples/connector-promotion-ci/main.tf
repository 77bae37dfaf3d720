# One connector per directory under connectors/; each file in it is an immutable version.
# Promotion and rollback are one-line changes to `primary`.
module "github" {
  source          = "../../modules/connector"
  namespace       = "root"
  name            = "github"
  definitions_dir = "${path.module}/connectors/github"
  primary         = var.github_primary
  client_secret   = var.github_client_secret
}

variable "github_primary" {
  description = "Which file under connectors/github is the primary version."
  type        = string
  default     = "v1"
}

variable "github_client_secret" {
  description = "The GitHub OAuth app's client secret (from the CI secret store; write-only, never in state)."
  type        = string
  sensitive   = true
}

output "github" {
  value = {
    connector_id    = module.github.connector_id
    versions        = module.github.versions
    primary_version = module.github.primary_version
  }
}
