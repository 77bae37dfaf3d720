# Every tenant below root.tenants uses the generated tenants key, except Acme, which brings
# its own (see authproxy_encryption_key). A namespace without an assignment uses the nearest
# key assigned up its path, or AuthProxy's global root key.
resource "authproxy_encryption_key" "tenants" {
  namespace = "root.tenants"
  name      = "tenants-default"
  source = {
    kind = "generated"
  }
}

resource "authproxy_namespace_key" "tenants" {
  namespace = "root.tenants"
  # Referring to the key's id makes Terraform remove the assignment before deleting the key.
  key_id = authproxy_encryption_key.tenants.id
}

# A namespace may use a key of an ancestor too.
resource "authproxy_namespace_key" "acme_staging" {
  namespace = "root.tenants.acme.staging"
  key_id    = authproxy_encryption_key.tenants.id
}

output "acme_staging_key" {
  value = authproxy_namespace_key.acme_staging.effective_key_id
}
