# A version is imported as <connector_id>/<version>. Its definition is then AuthProxy's
# normalised JSON, which matches a configured YAML or JSON text of the same definition.
# The write-only client secret is not read back: set client_secret_wo_version again.
terraform import 'authproxy_connector_version.github["v1.yaml"]' cxr_3kTMd9pQx2LbW7nZ0aVf/1
