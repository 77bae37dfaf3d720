# The primary pointer is imported by the connector's id.
terraform import authproxy_connector_primary.github cxr_3kTMd9pQx2LbW7nZ0aVf
