terraform {
  required_version = ">= 1.11"

  required_providers {
    authproxy = {
      source  = "authproxy/authproxy"
      version = ">= 0.0.1"
    }
  }
}

# Configured from AUTHPROXY_ADMIN_URL, AUTHPROXY_ACTOR and AUTHPROXY_PRIVATE_KEY_FILE.
provider "authproxy" {}
