# A namespace is imported by its path:
terraform import authproxy_namespace.acme root.tenants.acme
