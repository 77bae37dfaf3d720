# Look a connector up by namespace and name...
data "authproxy_connector" "github" {
  namespace = "root.integrations"
  name      = "github"
}

# ... or by id.
data "authproxy_connector" "by_id" {
  id = "cxr_3kTMd9pQx2LbW7nZ0aVf"
}

output "github_primary_version" {
  value = data.authproxy_connector.github.primary_version
}
