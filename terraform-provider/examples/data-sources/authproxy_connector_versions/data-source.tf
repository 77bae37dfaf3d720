# The versions that still serve connections after a promotion.
data "authproxy_connector_versions" "github_active" {
  connector_id = data.authproxy_connector.github.id
  state        = "active"
}

output "github_active_versions" {
  value = [for v in data.authproxy_connector_versions.github_active.versions : v.version]
}
