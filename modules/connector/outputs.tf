output "connector_id" {
  description = "The connector's id (cxr_…)."
  value       = authproxy_connector.this.id
}

output "versions" {
  description = "Version number of each definition file, by key."
  value       = { for k, v in authproxy_connector_version.this : k => v.version }
}

output "primary_version" {
  description = "The number of the primary version, or null."
  value       = var.primary == null ? null : authproxy_connector_primary.this[0].version
}
