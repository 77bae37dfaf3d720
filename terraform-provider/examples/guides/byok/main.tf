# Bring your own key: the tenant Acme supplies the key that seals its secrets in AuthProxy.
terraform {
  # Write-only attributes and ephemeral variables: Terraform 1.11+ or OpenTofu 1.11+.
  required_version = ">= 1.11"
  required_providers {
    authproxy = {
      source = "authproxy/authproxy"
    }
  }
}

provider "authproxy" {}

# Acme's key material: standard base64 of exactly 32 random bytes, for example from
# `openssl rand -base64 32`, passed as TF_VAR_tenant_key or -var. Ephemeral: Terraform
# keeps it out of the state and out of saved plan files (give it again to apply a saved plan).
variable "tenant_key" {
  description = "The tenant's key material: standard base64 of 32 bytes."
  type        = string
  sensitive   = true
  ephemeral   = true
}

# Bump together with a new tenant_key to rotate the key to that material.
variable "tenant_key_version" {
  description = "Version of tenant_key: change it whenever tenant_key changes."
  type        = number
  default     = 1
}

resource "authproxy_namespace" "acme" {
  path = "root.acme"
  labels = {
    tenant = "acme"
  }
}

resource "authproxy_encryption_key" "acme" {
  namespace = authproxy_namespace.acme.path
  name      = "acme-byok"

  source = {
    kind = "inline"
  }

  # Write-only: sent to AuthProxy on create and whenever material_wo_version changes, never
  # stored in the plan or the state. AuthProxy stores it wrapped by its root key.
  material_wo         = var.tenant_key
  material_wo_version = var.tenant_key_version

  labels = {
    tenant = "acme"
    byok   = "true"
  }
}

# From now on Acme's namespace (and every namespace below it without a key of its own)
# seals new values with Acme's key, and the server's worker re-encrypts the values stored
# before under it.
resource "authproxy_namespace_key" "acme" {
  namespace = authproxy_namespace.acme.path
  key_id    = authproxy_encryption_key.acme.id
}

output "acme_key_id" {
  description = "The key id, for `authproxy encryption status` and for crypto-shredding."
  value       = authproxy_encryption_key.acme.id
}

output "acme_key_version" {
  description = "The key's current version."
  value       = authproxy_encryption_key.acme.current_version
}
