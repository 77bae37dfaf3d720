# An assignment is imported by the path of its namespace:
terraform import authproxy_namespace_key.tenants root.tenants
