output "namespace" {
  description = "Path of the tenant namespace (`<parent>.<name>`)."
  value       = authproxy_namespace.tenant.path
}

output "child_namespaces" {
  description = "Paths of the child namespaces, keyed by segment."
  value       = { for k, ns in authproxy_namespace.child : k => ns.path }
}

output "child_paths" {
  description = "Paths of the child namespaces, sorted."
  value       = sort([for ns in authproxy_namespace.child : ns.path])
}

output "app_actor_id" {
  description = "Id of the application actor (`act_…`)."
  value       = authproxy_actor.app.id
}

output "app_actor" {
  description = "The application actor as `<namespace>/<external_id>`, the subject (AUTHPROXY_ACTOR) the application signs its tokens for."
  value       = "${authproxy_actor.app.namespace}/${authproxy_actor.app.external_id}"
}
