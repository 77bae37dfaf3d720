output "namespace" {
  description = "The quickstart namespace."
  value       = authproxy_namespace.quickstart.path
}

output "children" {
  description = "Paths of the direct children of the quickstart namespace, as the server lists them."
  value       = data.authproxy_namespaces.children.paths
}

output "app_actor_id" {
  description = "Id of the application actor (act_…)."
  value       = authproxy_actor.app.id
}

output "app_actor" {
  description = "The application actor as `<namespace>/<external_id>`: the AUTHPROXY_ACTOR (token subject) of the application."
  value       = "${authproxy_actor.app.namespace}/${authproxy_actor.app.external_id}"
}
