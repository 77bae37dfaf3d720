variable "parent" {
  description = "Path of the existing namespace the tenant goes under, for example `root.tenants`."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^root(\\.[a-z0-9_][a-z0-9_-]*)*$", var.parent)) && length(var.parent) <= 240
    error_message = "The parent must be a namespace path such as root or root.tenants: \"root\" then dot-separated segments of lowercase letters, digits, '_' or '-' (not starting with '-')."
  }
}

variable "name" {
  description = "The tenant's namespace segment: the tenant namespace is `<parent>.<name>`."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9_][a-z0-9_-]*$", var.name)) && length(var.name) <= 63
    error_message = "The name must be one namespace segment of at most 63 lowercase letters, digits, '_' or '-', not starting with '-' (for example acme or acme-corp)."
  }
}

variable "children" {
  description = "Segments of child namespaces to create under the tenant namespace, for example `[\"billing\", \"web\"]`."
  type        = set(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for c in var.children : can(regex("^[a-z0-9_][a-z0-9_-]*$", c)) && length(c) <= 63])
    error_message = "Every child must be one namespace segment of at most 63 lowercase letters, digits, '_' or '-', not starting with '-'."
  }
}

variable "labels" {
  description = "Labels for the tenant namespace, its children and the application actor (Kubernetes label rules)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "annotations" {
  description = "Annotations for the tenant namespace."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "app_external_id" {
  description = "External id of the application actor, unique within the tenant namespace."
  type        = string
  default     = "app"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._@+:=-]+$", var.app_external_id)) && length(var.app_external_id) <= 255
    error_message = "The external id must be 1-255 characters of letters, digits and . _ @ + : = -."
  }
}

variable "app_name" {
  description = "Display name of the application actor. Defaults to `<name> application`."
  type        = string
  default     = null
}

variable "app_public_key" {
  description = "Public key of the application actor: an OpenSSH line (`ssh-ed25519 …`, `ecdsa-sha2-nistp256 …`, `ssh-rsa …`) or a PEM `PUBLIC KEY` block. Only the public half: the application keeps the private key."
  type        = string
  nullable    = false

  validation {
    condition = (
      can(regex("^(ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) [A-Za-z0-9+/]+=*( .*)?$", trimspace(var.app_public_key))) ||
      can(regex("^-----BEGIN (RSA )?PUBLIC KEY-----\\n[\\s\\S]+\\n-----END (RSA )?PUBLIC KEY-----$", trimspace(var.app_public_key)))
    )
    error_message = "The public key must be one OpenSSH line starting with ssh-ed25519, ecdsa-sha2-nistp256 or ssh-rsa, or a PEM block (-----BEGIN PUBLIC KEY-----). Never pass a private key."
  }
}

variable "app_permissions" {
  description = <<-EOT
    Permissions of the application actor. `null` (the default) grants everything on the tenant
    subtree: `[{ namespace = "<parent>.<name>.**", resources = ["*"], verbs = ["*"] }]`.
    Namespaces must lie inside the tenant subtree: the server clamps a permission to the
    actor's own subtree.
  EOT
  type = list(object({
    namespace    = string
    resources    = list(string)
    verbs        = list(string)
    resource_ids = optional(list(string))
  }))
  default = null

  validation {
    condition = var.app_permissions == null ? true : alltrue([
      for p in var.app_permissions : length(p.resources) > 0 && alltrue([
        for r in p.resources : contains(["*", "namespaces", "actors", "keys", "connectors", "connections", "request_logs"], r)
      ])
    ])
    error_message = "Every permission needs at least one resource, each one of *, namespaces, actors, keys, connectors, connections, request_logs."
  }

  validation {
    condition = var.app_permissions == null ? true : alltrue([
      for p in var.app_permissions : length(p.verbs) > 0 && alltrue([
        for v in p.verbs : contains(["*", "get", "list", "create", "update", "delete", "promote", "proxy", "rotate", "impersonate"], v)
      ])
    ])
    error_message = "Every permission needs at least one verb, each one of *, get, list, create, update, delete, promote, proxy, rotate, impersonate."
  }

  validation {
    condition = var.app_permissions == null ? true : alltrue([
      for p in var.app_permissions : can(regex("^root(\\.[a-z0-9_][a-z0-9_-]*)*(\\.\\*\\*)?$", p.namespace))
    ])
    error_message = "Every permission namespace must be a namespace path, optionally ending in .** for the whole subtree (for example root.tenants.acme.**)."
  }
}
