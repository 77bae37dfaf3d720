terraform {
  required_version = ">= 1.6"

  required_providers {
    authproxy = {
      # registry.terraform.io/authproxy/authproxy for Terraform,
      # registry.opentofu.org/authproxy/authproxy for OpenTofu:
      # `make provider-install` puts the local build in a mirror under both.
      source  = "authproxy/authproxy"
      version = ">= 0.0.1"
    }
  }
}

# Everything comes from the variables the dev server prints at start-up:
# AUTHPROXY_ADMIN_URL, AUTHPROXY_ACTOR and AUTHPROXY_PRIVATE_KEY_FILE.
provider "authproxy" {}
