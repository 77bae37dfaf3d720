# A connector is imported by its id.
terraform import authproxy_connector.github cxr_3kTMd9pQx2LbW7nZ0aVf
