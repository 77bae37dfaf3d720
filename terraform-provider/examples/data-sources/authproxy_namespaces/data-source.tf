# Every namespace directly under root (not grandchildren), whatever its labels.
data "authproxy_namespaces" "top_level" {
  children_of = "root"
}

# Namespaces anywhere in the tree (that the provider's actor may list) matching a
# Kubernetes-style label selector; every comma-separated requirement must hold.
data "authproxy_namespaces" "gold_production" {
  label_selector = "tier=gold,env in (production, prod)"
}

output "top_level_paths" {
  value = data.authproxy_namespaces.top_level.paths
}

# The labels of each match, by path.
output "gold_production_labels" {
  value = { for ns in data.authproxy_namespaces.gold_production.namespaces : ns.path => ns.labels }
}
