package provider

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/authproxy/authproxy/sdk"
)

// The story of a connector managed by Terraform: versions keyed with for_each over
// definition files, the primary pointer moved by plan/apply. The test framework's legacy
// state (Check functions, ImportStateVerify) cannot hold for_each instances with string
// keys, so these steps check with plan and state checks, and the API through cxAPI.

const (
	cxPrimary = "authproxy_connector_primary.c"
	cxV1      = `authproxy_connector_version.v["v1"]`
	cxV2      = `authproxy_connector_version.v["v2"]`
)

// Definitions of the story: v1 and v2 differ; v1-reformatted is v1 written as JSON with
// other key order; bad has two mistakes.
var cxStoryFiles = map[string]string{
	"v1.yaml": `# Weather, first version.
display:
  name: Weather
  categories: [weather]
auth: {type: none}
upstream:
  allowedUrls: [https://api.open-meteo.com/v1/]
  timeout: 5s
`,
	"v2.yaml": `display:
  name: Weather
  categories: [weather]
auth: {type: none}
upstream:
  allowedUrls: [https://api.open-meteo.com/v1/]
  timeout: 10s
`,
	"v1-reformatted.json": `{
  "upstream": {"timeout": "5s", "allowedUrls": ["https://api.open-meteo.com/v1/"]},
  "auth": {"type": "none"},
  "display": {"categories": ["weather"], "name": "Weather"}
}
`,
}

func cxWriteFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cxStoryConfig is a namespace, connector "weather", one version per entry of files (key ->
// file name in dir) and the primary pointing at the expression primary ("" for none).
func cxStoryConfig(ns, dir string, files map[string]string, primary, extra string) string {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var m strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&m, "    %s = %q\n", k, files[k])
	}
	cfg := cxBaseConfig(ns, "weather", `labels = { team = "platform" }`) + fmt.Sprintf(`
locals {
  dir = %q
  files = {
%s  }
}

resource "authproxy_connector_version" "v" {
  for_each     = local.files
  connector_id = authproxy_connector.c.id
  definition   = file("${local.dir}/${each.value}")
}
`, dir, m.String())
	if primary != "" {
		cfg += fmt.Sprintf(`
resource "authproxy_connector_primary" "c" {
  connector_id = authproxy_connector.c.id
  version      = %s
}
`, primary)
	}
	return cfg + extra
}

// cxBaseConfig is the provider, namespace ns and connector "c" named name.
func cxBaseConfig(ns, name, connectorBody string) string {
	return fmt.Sprintf(`
provider "authproxy" {}

resource "authproxy_namespace" "ns" {
  path = %q
}

resource "authproxy_connector" "c" {
  namespace = authproxy_namespace.ns.path
  name      = %q
  %s
}
`, ns, name, connectorBody)
}

// TestAccConnector_versionStory: v1 primary; add v2 (one create); promote (one in-place
// update of the pointer); rollback; a reformatted definition plans nothing; a promotion
// outside Terraform is drift that apply undoes; destroying the primary's version is refused;
// removing a version archives it; data sources; destroying everything in Terraform's order.
func TestAccConnector_versionStory(t *testing.T) {
	ns := "root." + uniqueSegment("tfacc-cx")
	dir := cxWriteFiles(t, cxStoryFiles)
	one := map[string]string{"v1": "v1.yaml"}
	two := map[string]string{"v1": "v1.yaml", "v2": "v2.yaml"}
	twoReformatted := map[string]string{"v1": "v1-reformatted.json", "v2": "v2.yaml"}
	onlyV1 := map[string]string{"v1": "v1-reformatted.json"}
	onV1 := `authproxy_connector_version.v["v1"].version`
	onV2 := `authproxy_connector_version.v["v2"].version`
	var connectorID string

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{
			{
				// 1. The connector, v1 and the pointer: v1 is primary.
				Config: cxStoryConfig(ns, dir, one, onV1, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(cxV1, plancheck.ResourceActionCreate),
						plancheck.ExpectResourceAction(cxPrimary, plancheck.ResourceActionCreate),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					cxCapture("authproxy_connector.c", "id", &connectorID),
					statecheck.ExpectKnownValue(cxV1, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					// The version's state in Terraform's state is the one it was created with
					// (draft) until the next refresh; the API says primary.
					statecheck.ExpectKnownValue(cxV1, tfjsonpath.New("definition_hash"), knownvalue.StringRegexp(regexp.MustCompile(`^sha256:[0-9a-f]{64}$`))),
					statecheck.ExpectKnownValue(cxPrimary, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.CompareValuePairs(cxPrimary, tfjsonpath.New("id"), "authproxy_connector.c", tfjsonpath.New("id"), compare.ValuesSame()),
					cxExpectStates(t, &connectorID, 1, map[int]string{1: "primary"}),
				},
			},
			{
				// 2. Add v2: exactly one create, nothing else; v2 is a draft, v1 still primary.
				Config: cxStoryConfig(ns, dir, two, onV1, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(cxV2, plancheck.ResourceActionCreate),
						cxExpectNoOtherChange(cxV2),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(cxV2, tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(cxV2, tfjsonpath.New("state"), knownvalue.StringExact("draft")),
					cxExpectStates(t, &connectorID, 1, map[int]string{1: "primary", 2: "draft"}),
				},
			},
			{
				// 3. Promote: one in-place update of the pointer, 1 -> 2, and no replace.
				Config: cxStoryConfig(ns, dir, two, onV2, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(cxPrimary, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(cxPrimary, tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
						cxExpectNoOtherChange(cxPrimary),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					cxExpectStates(t, &connectorID, 2, map[int]string{1: "active", 2: "primary"}),
				},
			},
			{
				// 4. Rollback is pointing back.
				Config: cxStoryConfig(ns, dir, two, onV1, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(cxPrimary, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(cxPrimary, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
						cxExpectNoOtherChange(cxPrimary),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					cxExpectStates(t, &connectorID, 1, map[int]string{1: "primary", 2: "active"}),
				},
			},
			{
				// 5. The same definition reformatted (YAML -> JSON, other key order): nothing to do.
				Config: cxStoryConfig(ns, dir, twoReformatted, onV1, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// 6. A promotion outside Terraform is drift on the pointer...
				PreConfig:          func() { cxPromote(t, connectorID, 2) },
				Config:             cxStoryConfig(ns, dir, twoReformatted, onV1, ""),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// 7. ... which apply undoes.
				Config: cxStoryConfig(ns, dir, twoReformatted, onV1, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(cxPrimary, plancheck.ResourceActionUpdate),
						cxExpectNoOtherChange(cxPrimary),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					cxExpectStates(t, &connectorID, 1, map[int]string{1: "primary", 2: "active"}),
				},
			},
			{
				// 8. Removing the primary's version while the pointer (a literal) still names it
				// is refused by AuthProxy, with what to do.
				Config:      cxStoryConfig(ns, dir, map[string]string{"v2": "v2.yaml"}, "1", ""),
				ExpectError: regexp.MustCompile(`version\s+1\s+is\s+primary;\s+point\s+authproxy_connector_primary\s+at\s+another\s+version\s+first`),
			},
			{
				// Back to the full configuration: v1 was not archived.
				Config: cxStoryConfig(ns, dir, twoReformatted, onV1, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					cxExpectStates(t, &connectorID, 1, map[int]string{1: "primary", 2: "active"}),
				},
			},
			{
				// 9. Removing a version that is not primary archives it.
				Config: cxStoryConfig(ns, dir, onlyV1, onV1, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(cxV2, plancheck.ResourceActionDestroy),
						cxExpectNoOtherChange(cxV2),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					cxExpectStates(t, &connectorID, 1, map[int]string{1: "primary", 2: "archived"}),
				},
			},
			{
				// 10. The data sources.
				Config: cxStoryConfig(ns, dir, onlyV1, onV1, `
data "authproxy_connector" "by_name" {
  namespace  = authproxy_connector.c.namespace
  name       = authproxy_connector.c.name
  depends_on = [authproxy_connector_primary.c]
}

data "authproxy_connector" "by_id" {
  id         = authproxy_connector.c.id
  depends_on = [authproxy_connector_primary.c]
}

data "authproxy_connector_versions" "all" {
  connector_id = authproxy_connector.c.id
  depends_on   = [authproxy_connector_primary.c]
}

data "authproxy_connector_versions" "archived" {
  connector_id = authproxy_connector.c.id
  state        = "archived"
  depends_on   = [authproxy_connector_primary.c]
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs("data.authproxy_connector.by_name", tfjsonpath.New("id"), "authproxy_connector.c", tfjsonpath.New("id"), compare.ValuesSame()),
					statecheck.ExpectKnownValue("data.authproxy_connector.by_name", tfjsonpath.New("primary_version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("data.authproxy_connector.by_name", tfjsonpath.New("latest_version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("data.authproxy_connector.by_name", tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"team": knownvalue.StringExact("platform")})),
					statecheck.ExpectKnownValue("data.authproxy_connector.by_id", tfjsonpath.New("name"), knownvalue.StringExact("weather")),
					statecheck.ExpectKnownValue("data.authproxy_connector.by_id", tfjsonpath.New("namespace"), knownvalue.StringExact(ns)),
					statecheck.ExpectKnownValue("data.authproxy_connector_versions.all", tfjsonpath.New("versions"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"version": knownvalue.Int64Exact(2), "state": knownvalue.StringExact("archived"), "published_at": knownvalue.NotNull()}),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"version": knownvalue.Int64Exact(1), "state": knownvalue.StringExact("primary"), "published_at": knownvalue.NotNull()}),
					})),
					statecheck.CompareValuePairs("data.authproxy_connector_versions.all", tfjsonpath.New("versions").AtSliceIndex(1).AtMapKey("definition_hash"),
						cxV1, tfjsonpath.New("definition_hash"), compare.ValuesSame()),
					statecheck.ExpectKnownValue("data.authproxy_connector_versions.archived", tfjsonpath.New("versions"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"version": knownvalue.Int64Exact(2)}),
					})),
				},
			},
			{
				// 11. Destroying the whole configuration in Terraform's own order: the pointer
				// (demote), the version (archive), the connector, the namespace.
				Config: `provider "authproxy" {}`,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(cxPrimary, plancheck.ResourceActionDestroy),
						plancheck.ExpectResourceAction(cxV1, plancheck.ResourceActionDestroy),
						plancheck.ExpectResourceAction("authproxy_connector.c", plancheck.ResourceActionDestroy),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{cxExpectGone(t, &connectorID)},
			},
		},
	})
}

// TestAccConnectorVersion_clientSecret creates an OAuth2 version with a write-only client
// secret, rolls out a new secret as a new version (create_before_destroy moves the pointer
// before the old version is archived), checks that no secret is in state or plan, and imports
// the three resources.
func TestAccConnectorVersion_clientSecret(t *testing.T) {
	ns := "root." + uniqueSegment("tfacc-cxs")
	github, err := filepath.Abs("../../../examples/connectors/github.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s1 := "gh-secret-" + hex.EncodeToString([]byte(uniqueSegment("one")))
	s2 := "gh-secret-" + hex.EncodeToString([]byte(uniqueSegment("two")))
	secrets := [][]byte{[]byte(s1), []byte(s2)}
	const addr = "authproxy_connector_version.gh"
	var connectorID string
	cfg := func(woVersion int) string {
		return cxBaseConfig(ns, "github", "") + fmt.Sprintf(`
variable "client_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "authproxy_connector_version" "gh" {
  connector_id             = authproxy_connector.c.id
  definition               = file(%q)
  client_secret_wo         = var.client_secret
  client_secret_wo_version = %d

  lifecycle {
    create_before_destroy = true
  }
}

resource "authproxy_connector_primary" "c" {
  connector_id = authproxy_connector.c.id
  version      = authproxy_connector_version.gh.version
}
`, github, woVersion)
	}
	vars := func(s string) config.Variables { return config.Variables{"client_secret": config.StringVariable(s)} }

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{
			{
				Config:          cfg(1),
				ConfigVariables: vars(s1),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "version", "1"),
					resource.TestCheckResourceAttr(addr, "has_client_secret", "true"),
					resource.TestCheckResourceAttr(addr, "client_secret_wo_version", "1"),
					resource.TestCheckNoResourceAttr(addr, "client_secret_wo"),
					keyCheckStateHasNo(secrets),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					cxCapture("authproxy_connector.c", "id", &connectorID),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("client_secret_wo"), knownvalue.Null()),
					keyStateJSONHasNo{secrets: secrets},
					cxExpectStates(t, &connectorID, 1, map[int]string{1: "primary"}),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{keyWholePlanJSONHasNo{secrets: secrets}},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), keyWholePlanJSONHasNo{secrets: secrets}},
				},
			},
			{
				// A new secret alone is invisible to Terraform: nothing to do.
				Config:          cfg(1),
				ConfigVariables: vars(s2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Bumping client_secret_wo_version makes version 2 with the new secret, moves the
				// pointer to it, and archives version 1.
				Config:          cfg(2),
				ConfigVariables: vars(s2),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "version", "2"),
					resource.TestCheckResourceAttr(addr, "has_client_secret", "true"),
					resource.TestCheckResourceAttr("authproxy_connector_primary.c", "version", "2"),
					keyCheckStateHasNo(secrets),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					keyStateJSONHasNo{secrets: secrets},
					cxExpectStates(t, &connectorID, 2, map[int]string{1: "archived", 2: "primary"}),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreateBeforeDestroy),
						plancheck.ExpectResourceAction("authproxy_connector_primary.c", plancheck.ResourceActionUpdate),
						keyWholePlanJSONHasNo{secrets: secrets},
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), keyWholePlanJSONHasNo{secrets: secrets}},
				},
			},
			{
				ResourceName:      "authproxy_connector.c",
				ImportState:       true,
				ImportStateVerify: true,
				ConfigVariables:   vars(s2),
			},
			{
				// The imported definition is the server's normalised JSON: the same definition.
				ResourceName:            addr,
				ImportState:             true,
				ImportStateIdFunc:       func(*terraform.State) (string, error) { return connectorID + "/2", nil },
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"definition", "client_secret_wo", "client_secret_wo_version", "state"},
				ImportStateCheck:        cxImportedDefinitionIs(github),
				ConfigVariables:         vars(s2),
			},
			{
				ResourceName:      "authproxy_connector_primary.c",
				ImportState:       true,
				ImportStateIdFunc: func(*terraform.State) (string, error) { return connectorID, nil },
				ImportStateVerify: true,
				ConfigVariables:   vars(s2),
			},
			{
				ResourceName:    addr,
				ImportState:     true,
				ImportStateId:   "cxr_x/two",
				ConfigVariables: vars(s2),
				ExpectError:     regexp.MustCompile(`(?s)Invalid\s+import\s+ID.*<connector_id>/<version>`),
			},
		},
	})
}

// TestAccConnectorVersion_invalid: a definition with mistakes, and an OAuth2 definition
// without its client secret, fail at plan naming the field; nothing is written.
func TestAccConnectorVersion_invalid(t *testing.T) {
	ns := "root." + uniqueSegment("tfacc-cxi")
	github, err := os.ReadFile("../../../examples/connectors/github.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := cxWriteFiles(t, map[string]string{
		"v1.yaml": cxStoryFiles["v1.yaml"],
		"bad.yaml": `display:
  name: Weather
auth: {type: none}
upstream:
  allowedUrls: [https://api.open-meteo.com/v1/]
  timeout: soon
`,
		"github.yaml": string(github),
	})
	var connectorID string
	version := func(name, file string) string {
		return fmt.Sprintf(`
resource "authproxy_connector_version" %q {
  connector_id = authproxy_connector.c.id
  definition   = file(%q)
}
`, name, filepath.Join(dir, file))
	}
	base := cxBaseConfig(ns, "weather", "") + version("v1", "v1.yaml")
	with := func(file string) string { return base + version("next", file) }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{
			{
				Config:            base,
				ConfigStateChecks: []statecheck.StateCheck{cxCapture("authproxy_connector.c", "id", &connectorID)},
			},
			{
				Config:      with("bad.yaml"),
				ExpectError: regexp.MustCompile(`(?s)Invalid\s+connector\s+definition.*upstream\.timeout\s+\(line\s+6\)`),
			},
			{
				Config:      with("github.yaml"),
				ExpectError: regexp.MustCompile(`(?s)Missing\s+client\s+secret.*clientSecretRef\s+is\s+"version"`),
			},
			{
				// Nothing was written: the connector still has one version.
				Config:            base,
				ConfigStateChecks: []statecheck.StateCheck{cxExpectStates(t, &connectorID, 0, map[int]string{1: "draft"})},
			},
		},
	})
}

// ---- helpers ----

// cxCapture stores a resource's string attribute from the state JSON into *into.
func cxCapture(addr, attr string, into *string) statecheck.StateCheck {
	return cxStateCheck(func(req statecheck.CheckStateRequest) error {
		if req.State == nil || req.State.Values == nil || req.State.Values.RootModule == nil {
			return fmt.Errorf("no state")
		}
		for _, r := range req.State.Values.RootModule.Resources {
			if r.Address == addr {
				s, ok := r.AttributeValues[attr].(string)
				if !ok || s == "" {
					return fmt.Errorf("%s.%s is %v", addr, attr, r.AttributeValues[attr])
				}
				*into = s
				return nil
			}
		}
		return fmt.Errorf("%s not in state", addr)
	})
}

type cxStateCheck func(statecheck.CheckStateRequest) error

func (f cxStateCheck) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = f(req)
}

// cxExpectStates checks through the API the states of the connector's versions (exactly
// those) and its primary version (0 for none).
func cxExpectStates(t *testing.T, id *string, primary int, want map[int]string) statecheck.StateCheck {
	return cxStateCheck(func(statecheck.CheckStateRequest) error {
		api, ctx := adminClient(t), context.Background()
		c, err := api.GetConnectorWithResponse(ctx, *id)
		if err != nil || c.JSON200 == nil {
			return fmt.Errorf("get connector %s: %v %s", *id, err, c.Body)
		}
		got := 0
		if c.JSON200.PrimaryVersion != nil {
			got = *c.JSON200.PrimaryVersion
		}
		if got != primary {
			return fmt.Errorf("connector %s: primary version %d, want %d", *id, got, primary)
		}
		if c.JSON200.LatestVersion != len(want) {
			return fmt.Errorf("connector %s: latest version %d, want %d", *id, c.JSON200.LatestVersion, len(want))
		}
		vs, err := api.ListConnectorVersionsWithResponse(ctx, *id, &sdk.ListConnectorVersionsParams{})
		if err != nil || vs.JSON200 == nil {
			return fmt.Errorf("list versions of %s: %v %s", *id, err, vs.Body)
		}
		states := map[int]string{}
		for _, v := range vs.JSON200.Items {
			states[v.Version] = string(v.State)
		}
		if fmt.Sprint(states) != fmt.Sprint(want) {
			return fmt.Errorf("connector %s: versions %v, want %v", *id, states, want)
		}
		return nil
	})
}

// cxExpectGone checks through the API that the connector no longer exists.
func cxExpectGone(t *testing.T, id *string) statecheck.StateCheck {
	return cxStateCheck(func(statecheck.CheckStateRequest) error {
		c, err := adminClient(t).GetConnectorWithResponse(context.Background(), *id)
		if err != nil {
			return err
		}
		if c.StatusCode() != http.StatusNotFound {
			return fmt.Errorf("connector %s still exists (%d)", *id, c.StatusCode())
		}
		return nil
	})
}

// cxPromote promotes a version outside Terraform.
func cxPromote(t *testing.T, id string, n int) {
	t.Helper()
	out, err := adminClient(t).PromoteConnectorVersionWithResponse(context.Background(), id, n)
	if err != nil || out.JSON200 == nil {
		t.Fatalf("promote %s version %d: %v %s", id, n, err, out.Body)
	}
}

// cxExpectNoOtherChange fails when the plan changes any resource but addr.
func cxExpectNoOtherChange(addr string) plancheck.PlanCheck { return cxOnlyChange(addr) }

type cxOnlyChange string

func (c cxOnlyChange) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address == string(c) || rc.Change == nil || rc.Change.Actions.NoOp() || rc.Change.Actions.Read() {
			continue
		}
		resp.Error = fmt.Errorf("plan changes %s (%v) besides %s", rc.Address, rc.Change.Actions, string(c))
		return
	}
}

// cxImportedDefinitionIs checks that the imported definition is the same definition as the
// file's (formatted differently: it is the server's JSON).
func cxImportedDefinitionIs(file string) resource.ImportStateCheckFunc {
	return func(states []*terraform.InstanceState) error {
		src, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		for _, s := range states {
			def := s.Attributes["definition"]
			if def == "" {
				continue
			}
			if def == string(src) || !definitionsEquivalent(def, string(src)) {
				return fmt.Errorf("imported definition %.60q… is not the server's JSON of %s", def, file)
			}
			return nil
		}
		return fmt.Errorf("no imported definition")
	}
}
