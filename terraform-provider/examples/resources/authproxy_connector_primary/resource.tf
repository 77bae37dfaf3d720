# The version new connections use. Changing the key below and applying is the promotion
# (the plan shows `~ version = 1 -> 2`); pointing back at the old file is the rollback.
resource "authproxy_connector_primary" "github" {
  connector_id = authproxy_connector.github.id
  version      = authproxy_connector_version.github["v2.yaml"].version
}
