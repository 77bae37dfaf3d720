# `tofu test` (or `terraform test`) against a running AuthProxy (the provider reads
# AUTHPROXY_ADMIN_URL, AUTHPROXY_ACTOR and AUTHPROXY_PRIVATE_KEY_FILE); `make e2e` starts a
# dev server and runs this. It publishes tests/definitions/v1.json and v2.json as versions
# of one connector, promotes one, then the other, rolls back, and destroys everything.

variables {
  namespace       = "root"
  name            = "tftest-weather"
  definitions_dir = "./tests/definitions"
  labels          = { team = "platform" }
}

run "name_must_be_valid" {
  command = plan
  variables {
    name = "Weather API"
  }
  expect_failures = [var.name]
}

run "primary_must_name_a_file" {
  command = plan
  variables {
    primary = "v9"
  }
  expect_failures = [authproxy_connector.this]
}

run "publish_v1" {
  variables {
    primary = "v1"
  }
  assert {
    condition     = length(output.versions) == 2
    error_message = "every definition file should be a version"
  }
  assert {
    condition     = output.primary_version == output.versions["v1"]
    error_message = "v1 should be primary"
  }
  # (A version's `state` attribute is refreshed on the next plan, so right after the apply
  # that moves the pointer it still says "draft"; the pointer is the source of truth.)
}

run "promote_v2" {
  variables {
    primary = "v2"
  }
  assert {
    condition     = output.primary_version == output.versions["v2"]
    error_message = "v2 should be primary after the promotion"
  }
}

run "roll_back_to_v1" {
  variables {
    primary = "v1"
  }
  assert {
    condition     = output.primary_version == output.versions["v1"]
    error_message = "pointing back at v1 should make it primary again"
  }
}
