# Test helper: reads a tenant back through the data sources, so the tests check what the
# server holds, not only what the module's resources remember.

terraform {
  required_providers {
    authproxy = {
      source = "authproxy/authproxy"
    }
  }
}

variable "namespace" {
  type = string
}

variable "app_external_id" {
  type = string
}

variable "app_actor_id" {
  description = "The id the module reported, to look the actor up by id as well."
  type        = string
}

data "authproxy_namespace" "tenant" {
  path = var.namespace
}

data "authproxy_namespaces" "children" {
  children_of = var.namespace
}

data "authproxy_namespaces" "gold" {
  label_selector = "tier=gold"
}

data "authproxy_actor" "app" {
  namespace   = var.namespace
  external_id = var.app_external_id
}

data "authproxy_actor" "app_by_id" {
  id = var.app_actor_id
}

output "labels" {
  value = data.authproxy_namespace.tenant.labels
}

output "children" {
  value = data.authproxy_namespaces.children.paths
}

output "gold" {
  value = data.authproxy_namespaces.gold.paths
}

output "app" {
  value = data.authproxy_actor.app
}

output "app_by_id" {
  value = data.authproxy_actor.app_by_id
}
