locals {
  # One version per definition file, keyed by the file name without its extension.
  files = {
    for f in fileset(var.definitions_dir, "*.{yaml,yml,json}") :
    replace(f, "/\\.(ya?ml|json)$/", "") => "${var.definitions_dir}/${f}"
  }
  # Which definitions take the client secret given with the version.
  needs_secret = {
    for k, path in local.files :
    k => try(yamldecode(file(path)).auth.oauth2.clientSecretRef, null) == "version"
  }
}

resource "authproxy_connector" "this" {
  namespace = var.namespace
  name      = var.name
  labels    = var.labels

  lifecycle {
    precondition {
      condition     = var.primary == null || contains(keys(local.files), coalesce(var.primary, "-"))
      error_message = "var.primary must name one of the definition files in ${var.definitions_dir} (without extension): ${join(", ", sort(keys(local.files)))}."
    }
  }
}

resource "authproxy_connector_version" "this" {
  for_each = local.files

  connector_id             = authproxy_connector.this.id
  definition               = file(each.value)
  client_secret_wo         = local.needs_secret[each.key] ? var.client_secret : null
  client_secret_wo_version = local.needs_secret[each.key] ? var.client_secret_version : null

  lifecycle {
    precondition {
      condition     = !local.needs_secret[each.key] || var.client_secret != null
      error_message = "The definition ${each.value} takes a client secret (clientSecretRef: version): set var.client_secret."
    }
  }
}

resource "authproxy_connector_primary" "this" {
  count = var.primary == null ? 0 : 1

  connector_id = authproxy_connector.this.id
  version      = authproxy_connector_version.this[var.primary].version
}
