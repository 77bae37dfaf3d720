terraform {
  required_version = ">= 1.6"

  required_providers {
    authproxy = {
      source  = "authproxy/authproxy"
      version = ">= 0.0.1"
    }
  }
}
