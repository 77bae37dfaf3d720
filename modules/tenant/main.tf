# Onboards one tenant: its namespace under var.parent, optional child namespaces, and an
# application actor with a public key and permissions scoped to the tenant's subtree.

locals {
  path = "${var.parent}.${var.name}"

  default_permissions = [{
    namespace    = "${local.path}.**"
    resources    = ["*"]
    verbs        = ["*"]
    resource_ids = null
  }]
}

resource "authproxy_namespace" "tenant" {
  path        = local.path
  labels      = var.labels
  annotations = var.annotations
}

resource "authproxy_namespace" "child" {
  for_each = var.children

  path   = "${authproxy_namespace.tenant.path}.${each.key}"
  labels = var.labels
}

resource "authproxy_actor" "app" {
  namespace   = authproxy_namespace.tenant.path
  external_id = var.app_external_id
  name        = coalesce(var.app_name, "${var.name} application")
  labels      = var.labels
  permissions = var.app_permissions == null ? local.default_permissions : var.app_permissions
  public_keys = [trimspace(var.app_public_key)]

  # Permissions may name the children, which must exist first.
  depends_on = [authproxy_namespace.child]
}
