# Bring your own key for one tenant: Acme supplies 32 bytes of key material (base64), and
# AuthProxy seals Acme's secrets with it. The material goes in the write-only material_wo
# attribute (Terraform or OpenTofu 1.11 or later): it is sent to AuthProxy but never written
# to the plan or the state. Making the variable ephemeral keeps it out of saved plan files too
# (supply it again when applying a saved plan).
variable "tenant_key_b64" {
  description = "Acme's key material: standard base64 of 32 bytes (for example `openssl rand -base64 32`)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

resource "authproxy_encryption_key" "acme_byok" {
  namespace = "root.tenants.acme"
  name      = "acme-byok"

  source = {
    kind = "inline"
  }

  material_wo = var.tenant_key_b64
  # Terraform cannot see material_wo, so it cannot tell when it changes. To rotate to new
  # material, set tenant_key_b64 to it and bump this number: AuthProxy adds a new current
  # version, and the old versions keep opening what they sealed.
  material_wo_version = 1

  labels = {
    tenant = "acme"
    byok   = "true"
  }
}

# A key AuthProxy generates for itself, rotated whenever rotation_trigger changes.
resource "authproxy_encryption_key" "tenants" {
  namespace = "root.tenants"
  name      = "tenants-default"

  source = {
    kind = "generated"
  }

  rotation_trigger = "2026-q1"

  annotations = {
    "example.com/owner" = "platform-team@example.com"
  }
}

# Keys do nothing until a namespace uses them: see authproxy_namespace_key.
resource "authproxy_namespace_key" "acme" {
  namespace = authproxy_encryption_key.acme_byok.namespace
  key_id    = authproxy_encryption_key.acme_byok.id
}
