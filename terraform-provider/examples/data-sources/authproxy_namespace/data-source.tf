# Read a namespace this configuration does not manage, for example one another team's
# configuration creates. The root namespace always exists.
data "authproxy_namespace" "root" {
  path = "root"
}

output "root_namespace" {
  value = {
    path        = data.authproxy_namespace.root.path
    labels      = data.authproxy_namespace.root.labels
    annotations = data.authproxy_namespace.root.annotations
    created_at  = data.authproxy_namespace.root.created_at
  }
}
