# `tofu test` (or `terraform test`) against a running AuthProxy: the provider reads
# AUTHPROXY_ADMIN_URL, AUTHPROXY_ACTOR and AUTHPROXY_PRIVATE_KEY_FILE, as printed by the dev
# server (`make run`). `make e2e` starts one and runs this. The apply run creates
# root.tftest_tenant and its children and destroys them at the end.

variables {
  parent         = "root"
  name           = "tftest_tenant"
  children       = ["billing", "web"]
  labels         = { tier = "gold" }
  app_public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE+7v+GPOEuPXkllLQ20phY3zjQZN+A6QIljGQvw2QO6 tenant-test"
}

# --- input validation: fails at plan, before anything reaches the server --------------------

run "name_must_be_one_segment" {
  command = plan
  variables {
    name = "acme.corp"
  }
  expect_failures = [var.name]
}

run "name_must_be_lowercase" {
  command = plan
  variables {
    name = "Acme"
  }
  expect_failures = [var.name]
}

run "name_must_not_start_with_dash" {
  command = plan
  variables {
    name = "-acme"
  }
  expect_failures = [var.name]
}

run "parent_must_start_at_root" {
  command = plan
  variables {
    parent = "tenants"
  }
  expect_failures = [var.parent]
}

run "parent_must_not_end_with_dot" {
  command = plan
  variables {
    parent = "root.tenants."
  }
  expect_failures = [var.parent]
}

run "children_must_be_segments" {
  command = plan
  variables {
    children = ["web", "Billing"]
  }
  expect_failures = [var.children]
}

run "public_key_must_be_public" {
  command = plan
  variables {
    app_public_key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
  }
  expect_failures = [var.app_public_key]
}

run "public_key_type_must_be_supported" {
  command = plan
  variables {
    app_public_key = "ssh-dss AAAAB3NzaC1kc3MAAACBAP tenant-test"
  }
  expect_failures = [var.app_public_key]
}

run "permission_verbs_must_exist" {
  command = plan
  variables {
    app_permissions = [{ namespace = "root.tftest_tenant.**", resources = ["connections"], verbs = ["write"] }]
  }
  expect_failures = [var.app_permissions]
}

run "permission_resources_must_exist" {
  command = plan
  variables {
    app_permissions = [{ namespace = "root.tftest_tenant.**", resources = ["users"], verbs = ["get"] }]
  }
  expect_failures = [var.app_permissions]
}

run "permission_namespace_must_be_a_path" {
  command = plan
  variables {
    app_permissions = [{ namespace = "root.tftest_tenant.*", resources = ["*"], verbs = ["get"] }]
  }
  expect_failures = [var.app_permissions]
}

# --- the real thing ----------------------------------------------------------------------------

run "onboard" {
  command = apply

  assert {
    condition     = output.namespace == "root.tftest_tenant"
    error_message = "namespace output is ${output.namespace}"
  }
  assert {
    condition     = output.child_paths == tolist(["root.tftest_tenant.billing", "root.tftest_tenant.web"])
    error_message = "child_paths output is ${jsonencode(output.child_paths)}"
  }
  assert {
    condition     = output.child_namespaces["web"] == "root.tftest_tenant.web"
    error_message = "child_namespaces output is ${jsonencode(output.child_namespaces)}"
  }
  assert {
    condition     = startswith(output.app_actor_id, "act_")
    error_message = "app_actor_id output is ${output.app_actor_id}, not an actor id"
  }
  assert {
    condition     = output.app_actor == "root.tftest_tenant/app"
    error_message = "app_actor output is ${output.app_actor}"
  }
  assert {
    condition     = authproxy_namespace.tenant.labels["tier"] == "gold" && authproxy_namespace.child["web"].labels["tier"] == "gold"
    error_message = "labels were not applied to the namespaces"
  }
  assert {
    condition     = authproxy_actor.app.name == "tftest_tenant application"
    error_message = "actor name is ${authproxy_actor.app.name}"
  }
  assert {
    condition = (
      length(authproxy_actor.app.permissions) == 1 &&
      authproxy_actor.app.permissions[0].namespace == "root.tftest_tenant.**" &&
      authproxy_actor.app.permissions[0].resources == tolist(["*"]) &&
      authproxy_actor.app.permissions[0].verbs == tolist(["*"])
    )
    error_message = "default permissions are ${jsonencode(authproxy_actor.app.permissions)}"
  }
  assert {
    condition     = length(authproxy_actor.app.public_keys) == 1
    error_message = "the actor has ${length(authproxy_actor.app.public_keys)} public keys"
  }
}

# What the server holds, read through the data sources.
run "read_back" {
  command = apply
  module {
    source = "./tests/read"
  }
  variables {
    namespace       = run.onboard.namespace
    app_external_id = "app"
    app_actor_id    = run.onboard.app_actor_id
  }

  assert {
    condition     = output.labels == tomap({ tier = "gold" })
    error_message = "the tenant namespace's labels are ${jsonencode(output.labels)}"
  }
  assert {
    condition     = output.children == tolist(["root.tftest_tenant.billing", "root.tftest_tenant.web"])
    error_message = "the server lists children ${jsonencode(output.children)}"
  }
  assert {
    condition     = contains(output.gold, "root.tftest_tenant") && contains(output.gold, "root.tftest_tenant.web")
    error_message = "label selector tier=gold found ${jsonencode(output.gold)}"
  }
  assert {
    condition     = output.app.id == var.app_actor_id && output.app_by_id.external_id == "app"
    error_message = "actor read back as ${jsonencode(output.app)}"
  }
  assert {
    condition     = output.app.permissions[0].namespace == "root.tftest_tenant.**" && length(output.app.public_keys) == 1
    error_message = "actor read back as ${jsonencode(output.app)}"
  }
}

# Narrower permissions plan as an in-place update of the same actor.
run "custom_permissions" {
  command = plan
  variables {
    app_permissions = [
      { namespace = "root.tftest_tenant.web.**", resources = ["connections"], verbs = ["get", "list", "proxy"] },
      { namespace = "root.tftest_tenant", resources = ["namespaces"], verbs = ["get"], resource_ids = ["root.tftest_tenant"] },
    ]
  }

  assert {
    condition     = length(authproxy_actor.app.permissions) == 2 && authproxy_actor.app.permissions[0].namespace == "root.tftest_tenant.web.**"
    error_message = "planned permissions are ${jsonencode(authproxy_actor.app.permissions)}"
  }
  assert {
    condition     = authproxy_actor.app.permissions[1].resource_ids == tolist(["root.tftest_tenant"])
    error_message = "planned resource_ids are ${jsonencode(authproxy_actor.app.permissions[1].resource_ids)}"
  }
}
