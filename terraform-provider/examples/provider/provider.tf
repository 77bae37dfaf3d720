terraform {
  required_providers {
    authproxy = {
      source  = "authproxy/authproxy"
      version = ">= 0.0.1"
    }
  }
}

# With no arguments the provider reads AUTHPROXY_ADMIN_URL, AUTHPROXY_ACTOR and
# AUTHPROXY_PRIVATE_KEY_FILE (or AUTHPROXY_PRIVATE_KEY), exactly as the dev server prints them.
provider "authproxy" {}

# Or explicitly, for example in CI with the key held in a secret variable:
# provider "authproxy" {
#   endpoint    = "https://authproxy-admin.example.com"
#   actor       = "root.ci/terraform"
#   private_key = var.authproxy_private_key
# }
