# A service actor that may read namespaces and use connections in its team's subtree, and
# manage connections in one child namespace only. It signs its own tokens with the private
# half of app.pub (generated with `ssh-keygen -t ed25519 -f app`); only the public key is
# registered, and the private key never reaches Terraform.
resource "authproxy_actor" "billing" {
  namespace   = "root.tenants.acme"
  external_id = "billing-service"
  name        = "Billing service"

  labels = {
    team = "billing"
    kind = "service"
  }
  annotations = {
    "example.com/runbook" = "https://wiki.example.com/billing"
  }

  # Permissions are kept in this order. Each stays within root.tenants.acme, and the
  # provider's actor must hold every permission it grants.
  permissions = [
    {
      namespace = "root.tenants.acme.**"
      resources = ["namespaces"]
      verbs     = ["get", "list"]
    },
    {
      namespace = "root.tenants.acme.**"
      resources = ["connections"]
      verbs     = ["get", "list", "proxy"]
    },
    {
      namespace = "root.tenants.acme.billing"
      resources = ["connections"]
      verbs     = ["create", "update", "delete"]
    },
  ]

  # OpenSSH authorized_keys lines or PEM public keys. The trailing newline file() keeps is
  # ignored.
  public_keys = [file("${path.module}/app.pub")]
}

# The token subject the service uses: AUTHPROXY_ACTOR=root.tenants.acme/billing-service
output "billing_actor" {
  value = "${authproxy_actor.billing.namespace}/${authproxy_actor.billing.external_id}"
}
