terraform {
  # Write-only attributes (client_secret_wo) need Terraform >= 1.11 or OpenTofu >= 1.11.
  required_version = ">= 1.11"

  required_providers {
    authproxy = {
      source  = "authproxy/authproxy"
      version = ">= 0.0.1"
    }
  }
}
