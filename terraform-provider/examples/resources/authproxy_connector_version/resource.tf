# One immutable version per definition file: connectors/github/v1.yaml, v2.yaml, ...
# Adding a file adds a draft version; nothing else changes until the primary moves.
resource "authproxy_connector_version" "github" {
  for_each     = fileset("${path.module}/connectors/github", "*.yaml")
  connector_id = authproxy_connector.github.id
  definition   = file("${path.module}/connectors/github/${each.value}")

  # GitHub's definition says `clientSecretRef: version`: the OAuth client secret goes in the
  # write-only client_secret_wo (Terraform or OpenTofu 1.11 or later), never into state.
  # To roll out a new secret, change the variable and bump client_secret_wo_version: that
  # makes new versions carrying it.
  client_secret_wo         = var.github_client_secret
  client_secret_wo_version = 1
}

variable "github_client_secret" {
  description = "The GitHub OAuth app's client secret."
  type        = string
  sensitive   = true
  ephemeral   = true
}

# A definition can also be written inline with jsonencode.
resource "authproxy_connector" "weather" {
  namespace = "root.integrations"
  name      = "weather"
}

resource "authproxy_connector_version" "weather" {
  connector_id = authproxy_connector.weather.id
  definition = jsonencode({
    display  = { name = "Weather", categories = ["weather"] }
    auth     = { type = "none" }
    upstream = { allowedUrls = ["https://api.open-meteo.com/v1/"], timeout = "5s" }
  })
}
