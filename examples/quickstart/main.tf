# AuthProxy quickstart: a namespace for a team, a child namespace, and an application actor
# that may work in that subtree and nowhere else. See README.md for the steps.

resource "authproxy_namespace" "quickstart" {
  path = "root.quickstart"

  labels = {
    env   = "dev"
    owner = "platform"
  }
  annotations = {
    "example.com/description" = "Created by examples/quickstart"
  }
}

# The parent must exist first: referring to its path orders the two.
resource "authproxy_namespace" "team_a" {
  path = "${authproxy_namespace.quickstart.path}.team_a"

  labels = {
    env  = "dev"
    team = "a"
  }
}

# The application signs its own tokens with the private half of app.pub. It may read
# namespaces and use connections anywhere under root.quickstart, manage connections in
# team_a only, and nothing else.
resource "authproxy_actor" "app" {
  namespace   = authproxy_namespace.quickstart.path
  external_id = "quickstart-app"
  name        = "Quickstart application"

  labels = {
    kind = "application"
  }

  permissions = [
    {
      namespace = "${authproxy_namespace.quickstart.path}.**"
      resources = ["namespaces"]
      verbs     = ["get", "list"]
    },
    {
      namespace = "${authproxy_namespace.quickstart.path}.**"
      resources = ["connections"]
      verbs     = ["get", "list", "proxy"]
    },
    {
      namespace = "${authproxy_namespace.team_a.path}.**"
      resources = ["connections"]
      verbs     = ["create", "update", "delete"]
    },
  ]

  public_keys = [trimspace(file(var.app_public_key_file))]
}

# Read back what was just created: the children of root.quickstart.
data "authproxy_namespaces" "children" {
  children_of = authproxy_namespace.quickstart.path
  depends_on  = [authproxy_namespace.team_a]
}
