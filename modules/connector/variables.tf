variable "namespace" {
  description = "Path of the existing namespace the connector lives in, for example `root` or `root.platform`."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^root(\\.[a-z0-9_][a-z0-9_-]*)*$", var.namespace))
    error_message = "The namespace must be a path such as root or root.platform."
  }
}

variable "name" {
  description = "The connector's name, unique in its namespace (lower-case letters, digits, '-', '_', '.')."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$", var.name))
    error_message = "The name must be 1-63 lower-case letters, digits, '-', '_' or '.', starting and ending with a letter or digit."
  }
}

variable "labels" {
  description = "Labels of the connector."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "definitions_dir" {
  description = "Directory of versioned definition files (`*.yaml`, `*.yml`, `*.json`). Each file is one immutable connector version, keyed by its file name without the extension (for example `v1`, `v2`): never edit a file that has been applied; add a new one."
  type        = string
  nullable    = false
}

variable "primary" {
  description = "Key (file name without extension) of the version to make primary, for example `v2`. Changing it and applying is the promotion; pointing back is the rollback. null leaves the connector without a primary version."
  type        = string
  default     = null
}

variable "client_secret" {
  description = "OAuth2 client secret for the versions whose definition says `clientSecretRef: version`. Sent write-only: it is never stored in state or shown in plans."
  type        = string
  default     = null
  sensitive   = true
}

variable "client_secret_version" {
  description = "Bump to send a new client_secret. Versions are immutable, so a bump replaces every version that takes the secret: do it together with a new definition file rather than on a version that is primary."
  type        = number
  default     = 1
  nullable    = false
}
