# A namespace tree for a multi-tenant application: root.tenants holds one namespace per
# customer, and each customer gets a namespace per environment.
resource "authproxy_namespace" "tenants" {
  path = "root.tenants"

  annotations = {
    "example.com/owner" = "platform-team@example.com"
  }
}

# A namespace is created under an existing parent. Building the path from the parent's path
# attribute tells Terraform to create the parent first (and to delete it last).
resource "authproxy_namespace" "acme" {
  path = "${authproxy_namespace.tenants.path}.acme"

  labels = {
    tier   = "gold"
    region = "eu-west-1"
  }
  annotations = {
    "example.com/billing-account" = "ACME-0042"
    description                   = "Acme Corp, signed 2024-05"
  }
}

locals {
  acme_environments = {
    prod    = "production"
    staging = "staging"
  }
}

resource "authproxy_namespace" "acme_env" {
  for_each = local.acme_environments

  path = "${authproxy_namespace.acme.path}.${each.key}"

  labels = {
    tier = authproxy_namespace.acme.labels["tier"]
    env  = each.value
  }
}

output "acme_environment_paths" {
  value = [for ns in authproxy_namespace.acme_env : ns.path]
}
