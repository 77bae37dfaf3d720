# Look an actor up by namespace and external id...
data "authproxy_actor" "billing" {
  namespace   = "root.tenants.acme"
  external_id = "billing-service"
}

# ...or by id (exactly one of the two ways).
data "authproxy_actor" "admin" {
  id = "act_2f9cQx7LkP3mZ"
}

output "billing_permissions" {
  value = data.authproxy_actor.billing.permissions
}

output "billing_public_keys" {
  value = data.authproxy_actor.billing.public_keys
}
