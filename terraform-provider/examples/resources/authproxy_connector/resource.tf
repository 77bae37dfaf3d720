# A connector: its name, labels and annotations. What it does lives in its versions
# (authproxy_connector_version), and which version is live in authproxy_connector_primary.
resource "authproxy_connector" "github" {
  namespace = "root.integrations"
  name      = "github"

  labels = {
    team = "platform"
  }

  annotations = {
    "example.com/owner" = "platform-team@example.com"
  }
}
