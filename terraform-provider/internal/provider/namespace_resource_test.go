package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/authproxy/authproxy/sdk"
)

// ---- acceptance tests ----

// TestAccNamespaceResource_lifecycle creates a namespace, updates its labels and annotations in
// place (including to an explicit {}), moves it (replace), and imports it.
func TestAccNamespaceResource_lifecycle(t *testing.T) {
	parent := "root." + uniqueSegment("tfacc-ns")
	child := parent + ".app"
	moved := parent + ".app2"
	const addr = "authproxy_namespace.child"

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy:             nsCheckGone(t, parent, child, moved),
		Steps: []resource.TestStep{
			{
				Config: nsConfig(parent, "app", `
  labels = {
    team = "core"
    tier = "gold"
  }
  annotations = {
    "example.com/owner" = "Jane Doe <jane@example.com>"
  }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "path", child),
					resource.TestCheckResourceAttr(addr, "id", child),
					resource.TestCheckResourceAttr(addr, "labels.%", "2"),
					resource.TestCheckResourceAttr(addr, "labels.team", "core"),
					resource.TestCheckResourceAttr(addr, "labels.tier", "gold"),
					resource.TestCheckResourceAttr(addr, "annotations.example.com/owner", "Jane Doe <jane@example.com>"),
					resource.TestCheckResourceAttrWith(addr, "created_at", nsCheckRFC3339),
					resource.TestCheckResourceAttr("authproxy_namespace.parent", "path", parent),
					nsCheckServer(t, child, map[string]string{"team": "core", "tier": "gold"},
						map[string]string{"example.com/owner": "Jane Doe <jane@example.com>"}),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					// Left out in the configuration: null in state, not {}.
					statecheck.ExpectKnownValue("authproxy_namespace.parent", tfjsonpath.New("labels"), knownvalue.Null()),
					statecheck.ExpectKnownValue("authproxy_namespace.parent", tfjsonpath.New("annotations"), knownvalue.Null()),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("authproxy_namespace.parent", plancheck.ResourceActionCreate),
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Change one label, drop the other and all annotations: in place.
				Config: nsConfig(parent, "app", `
  labels = {
    team = "edge"
  }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "labels.%", "1"),
					resource.TestCheckResourceAttr(addr, "labels.team", "edge"),
					resource.TestCheckNoResourceAttr(addr, "annotations.%"),
					nsCheckServer(t, child, map[string]string{"team": "edge"}, map[string]string{}),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("annotations"), knownvalue.Null()),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("authproxy_namespace.parent", plancheck.ResourceActionNoop),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// An explicit empty map stays {} in state, and the next plan is empty.
				Config: nsConfig(parent, "app", `
  labels      = {}
  annotations = { note = "kept" }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "labels.%", "0"),
					resource.TestCheckResourceAttr(addr, "annotations.note", "kept"),
					nsCheckServer(t, child, map[string]string{}, map[string]string{"note": "kept"}),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{})),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// A new path is a new namespace.
				Config: nsConfig(parent, "app2", `
  labels      = { team = "edge" }
  annotations = { note = "moved" }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "path", moved),
					resource.TestCheckResourceAttr(addr, "id", moved),
					resource.TestCheckResourceAttr(addr, "labels.team", "edge"),
					nsCheckServer(t, moved, map[string]string{"team": "edge"}, map[string]string{"note": "moved"}),
					nsCheckAbsent(t, child),
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionReplace),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("created_at")),
						plancheck.ExpectResourceAction("authproxy_namespace.parent", plancheck.ResourceActionNoop),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateId:     moved,
				ImportStateVerify: true,
			},
			{
				// The parent has neither labels nor annotations: imported as null, like its state.
				ResourceName:      "authproxy_namespace.parent",
				ImportState:       true,
				ImportStateId:     parent,
				ImportStateVerify: true,
			},
			{
				// Plannable import (an import block) of the same object: nothing to change.
				ResourceName:    addr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   moved,
			},
			{
				ResourceName:  addr,
				ImportState:   true,
				ImportStateId: "root.Not_A_Path",
				ExpectError:   regexp.MustCompile(`(?s)Invalid\s+import\s+ID.*root\.Not_A_Path`),
			},
			{
				ResourceName:  addr,
				ImportState:   true,
				ImportStateId: parent + ".nope",
				ExpectError:   regexp.MustCompile(`(?i)cannot\s+import\s+non-existent\s+remote\s+object`),
			},
		},
	})
}

// TestAccNamespaceResource_drift changes and deletes namespaces behind Terraform's back.
func TestAccNamespaceResource_drift(t *testing.T) {
	parent := "root." + uniqueSegment("tfacc-drift")
	child := parent + ".svc"
	const addr = "authproxy_namespace.child"
	config := nsConfig(parent, "svc", `
  labels      = { env = "prod" }
  annotations = { owner = "ops" }`)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy:             nsCheckGone(t, parent, child),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check:  nsCheckServer(t, child, map[string]string{"env": "prod"}, map[string]string{"owner": "ops"}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Someone edits the labels and annotations: the plan puts them back.
				PreConfig: func() {
					nsPatch(t, child, &sdk.Labels{"env": "dev", "stray": "x"}, &sdk.Annotations{"owner": "someone-else"})
				},
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "labels.%", "1"),
					resource.TestCheckResourceAttr(addr, "labels.env", "prod"),
					nsCheckServer(t, child, map[string]string{"env": "prod"}, map[string]string{"owner": "ops"}),
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("labels"),
							knownvalue.MapExact(map[string]knownvalue.Check{"env": knownvalue.StringExact("prod")})),
						plancheck.ExpectResourceAction("authproxy_namespace.parent", plancheck.ResourceActionNoop),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Labels added where the configuration has none are removed again, and the
				// attribute stays null.
				PreConfig: func() { nsPatch(t, parent, &sdk.Labels{"stray": "y"}, &sdk.Annotations{"note": "z"}) },
				Config:    config,
				Check:     nsCheckServer(t, parent, map[string]string{}, map[string]string{}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("authproxy_namespace.parent", tfjsonpath.New("labels"), knownvalue.Null()),
					statecheck.ExpectKnownValue("authproxy_namespace.parent", tfjsonpath.New("annotations"), knownvalue.Null()),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("authproxy_namespace.parent", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionNoop),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Deleted outside Terraform: planned for creation again.
				PreConfig: func() {
					out, err := adminClient(t).DeleteNamespaceWithResponse(context.Background(), child)
					if err != nil {
						t.Fatalf("delete %s outside Terraform: %v", child, err)
					}
					if out.StatusCode() != http.StatusNoContent {
						t.Fatalf("delete %s outside Terraform: %d %s", child, out.StatusCode(), out.Body)
					}
				},
				Config: config,
				Check:  nsCheckServer(t, child, map[string]string{"env": "prod"}, map[string]string{"owner": "ops"}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
						plancheck.ExpectResourceAction("authproxy_namespace.parent", plancheck.ResourceActionNoop),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// TestAccNamespaceResource_invalidPath fails at plan, naming the attribute, and creates nothing.
func TestAccNamespaceResource_invalidPath(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: `
provider "authproxy" {}

resource "authproxy_namespace" "bad" {
  path = "root.Bad"
}
`,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)Invalid\s+namespace\s+path.*authproxy_namespace\.bad.*path\s+=\s+"root\.Bad".*segment\s+2\s+"Bad"\s+has\s+'B'.*only\s+a-z`),
		}},
	})
	// root.Bad is no valid path, so the server cannot even be asked for it: check that no
	// child of root of that name (in any case) was created.
	nsCheckNotListed(t, "root", "root.bad")
}

// TestAccNamespaceResource_root refuses to manage the root namespace, at plan.
func TestAccNamespaceResource_root(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: `
provider "authproxy" {}

resource "authproxy_namespace" "root" {
  path = "root"
}
`,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)Invalid\s+namespace\s+path.*path\s+=\s+"root".*is\s+the\s+root\s+namespace`),
		}},
	})
}

// TestAccNamespaceResource_missingParent plans fine but fails at apply with a message about the
// parent, and creates nothing.
func TestAccNamespaceResource_missingParent(t *testing.T) {
	missing := "root." + uniqueSegment("tfacc") + "-missing"
	child := missing + ".child"
	config := fmt.Sprintf(`
provider "authproxy" {}

resource "authproxy_namespace" "orphan" {
  path   = %q
  labels = { app = "x" }
}
`, child)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{
			{
				// The plan succeeds: the server decides.
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config,
				ExpectError: regexp.MustCompile(`(?s)Cannot\s+create\s+namespace.*path\s+=\s+"` + regexp.QuoteMeta(child) +
					`".*parent\s+namespace\s+"` + regexp.QuoteMeta(missing) + `"\s+does\s+not\s+exist.*create\s+the\s+parent\s+first`),
			},
		},
	})
	nsCheckAbsentNow(t, child)
	nsCheckAbsentNow(t, missing)
}

// TestAccNamespaceResource_invalidLabelKey fails at plan, naming the label.
func TestAccNamespaceResource_invalidLabelKey(t *testing.T) {
	p := "root." + uniqueSegment("tfacc-badlabel")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "authproxy" {}

resource "authproxy_namespace" "bad" {
  path   = %q
  labels = { "Bad Key" = "x" }
}
`, p),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)Invalid\s+label.*authproxy_namespace\.bad.*labels.*key\s+"Bad\s+Key"`),
		}},
	})
	nsCheckAbsentNow(t, p)
}

// TestAccNamespaceDataSource_byPath reads a namespace by path.
func TestAccNamespaceDataSource_byPath(t *testing.T) {
	parent := "root." + uniqueSegment("tfacc-ds")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy:             nsCheckGone(t, parent),
		Steps: []resource.TestStep{
			{
				Config: fmt.Sprintf(`
provider "authproxy" {}

resource "authproxy_namespace" "parent" {
  path        = %q
  labels      = { tier = "gold" }
  annotations = { "example.com/contact" = "ops@example.com" }
}

resource "authproxy_namespace" "bare" {
  path = "${authproxy_namespace.parent.path}.bare"
}

data "authproxy_namespace" "parent" {
  path = authproxy_namespace.parent.path
}

data "authproxy_namespace" "bare" {
  path = authproxy_namespace.bare.path
}
`, parent),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("data.authproxy_namespace.parent", "path", parent),
					resource.TestCheckResourceAttr("data.authproxy_namespace.parent", "id", parent),
					resource.TestCheckResourceAttr("data.authproxy_namespace.parent", "labels.%", "1"),
					resource.TestCheckResourceAttr("data.authproxy_namespace.parent", "labels.tier", "gold"),
					resource.TestCheckResourceAttr("data.authproxy_namespace.parent", "annotations.example.com/contact", "ops@example.com"),
					resource.TestCheckResourceAttrPair("data.authproxy_namespace.parent", "created_at", "authproxy_namespace.parent", "created_at"),
					resource.TestCheckResourceAttr("data.authproxy_namespace.bare", "path", parent+".bare"),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					// The data source reports no labels as {}, never null.
					statecheck.ExpectKnownValue("data.authproxy_namespace.bare", tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{})),
					statecheck.ExpectKnownValue("data.authproxy_namespace.bare", tfjsonpath.New("annotations"), knownvalue.MapExact(map[string]knownvalue.Check{})),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				Config: fmt.Sprintf(`
provider "authproxy" {}

data "authproxy_namespace" "missing" {
  path = %q
}
`, parent+".does-not-exist"),
				ExpectError: regexp.MustCompile(`(?s)Namespace\s+not\s+found.*does\s+not\s+exist`),
			},
		},
	})
}

// TestAccNamespacesDataSource_filters lists children and label selections.
func TestAccNamespacesDataSource_filters(t *testing.T) {
	parent := "root." + uniqueSegment("tfacc-list")
	suite := uniqueSegment("s")
	config := fmt.Sprintf(`
provider "authproxy" {}

resource "authproxy_namespace" "parent" {
  path = %[1]q
}

resource "authproxy_namespace" "a" {
  path   = "${authproxy_namespace.parent.path}.a"
  labels = { tier = "gold", suite = %[2]q }
}

resource "authproxy_namespace" "b" {
  path   = "${authproxy_namespace.parent.path}.b"
  labels = { tier = "silver" }
}

resource "authproxy_namespace" "c" {
  path        = "${authproxy_namespace.parent.path}.c"
  labels      = { tier = "gold", env = "prod" }
  annotations = { note = "c" }
}

# A grandchild: not a direct child of parent.
resource "authproxy_namespace" "ax" {
  path   = "${authproxy_namespace.a.path}.x"
  labels = { tier = "gold", suite = %[2]q }
}

locals {
  all = [authproxy_namespace.a, authproxy_namespace.b, authproxy_namespace.c, authproxy_namespace.ax]
}

data "authproxy_namespaces" "children" {
  children_of = authproxy_namespace.parent.path
  depends_on  = [authproxy_namespace.a, authproxy_namespace.b, authproxy_namespace.c, authproxy_namespace.ax]
}

data "authproxy_namespaces" "gold_children" {
  children_of    = authproxy_namespace.parent.path
  label_selector = "tier=gold"
  depends_on     = [authproxy_namespace.a, authproxy_namespace.b, authproxy_namespace.c, authproxy_namespace.ax]
}

data "authproxy_namespaces" "gold_prod" {
  children_of    = authproxy_namespace.parent.path
  label_selector = "tier in (gold, platinum), env=prod"
  depends_on     = [authproxy_namespace.a, authproxy_namespace.b, authproxy_namespace.c, authproxy_namespace.ax]
}

data "authproxy_namespaces" "not_gold" {
  children_of    = authproxy_namespace.parent.path
  label_selector = "tier!=gold"
  depends_on     = [authproxy_namespace.a, authproxy_namespace.b, authproxy_namespace.c, authproxy_namespace.ax]
}

# No children_of: the whole tree, narrowed by a label only this test uses.
data "authproxy_namespaces" "suite" {
  label_selector = "suite=%[2]s"
  depends_on     = [authproxy_namespace.a, authproxy_namespace.b, authproxy_namespace.c, authproxy_namespace.ax]
}

data "authproxy_namespaces" "none" {
  children_of = authproxy_namespace.b.path
  depends_on  = [authproxy_namespace.a, authproxy_namespace.b, authproxy_namespace.c, authproxy_namespace.ax]
}
`, parent, suite)
	a, b, c, ax := parent+".a", parent+".b", parent+".c", parent+".a.x"

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy:             nsCheckGone(t, parent, a, b, c, ax),
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				nsExpectPaths("data.authproxy_namespaces.children", a, b, c),
				nsExpectPaths("data.authproxy_namespaces.gold_children", a, c),
				nsExpectPaths("data.authproxy_namespaces.gold_prod", c),
				nsExpectPaths("data.authproxy_namespaces.not_gold", b),
				nsExpectPaths("data.authproxy_namespaces.suite", a, ax),
				nsExpectPaths("data.authproxy_namespaces.none"),
				statecheck.ExpectKnownValue("data.authproxy_namespaces.gold_prod", tfjsonpath.New("namespaces"),
					knownvalue.ListExact([]knownvalue.Check{knownvalue.ObjectExact(map[string]knownvalue.Check{
						"path": knownvalue.StringExact(c),
						"labels": knownvalue.MapExact(map[string]knownvalue.Check{
							"tier": knownvalue.StringExact("gold"), "env": knownvalue.StringExact("prod"),
						}),
						"annotations": knownvalue.MapExact(map[string]knownvalue.Check{"note": knownvalue.StringExact("c")}),
					})})),
				statecheck.ExpectKnownValue("data.authproxy_namespaces.not_gold", tfjsonpath.New("namespaces").AtSliceIndex(0).AtMapKey("annotations"),
					knownvalue.MapExact(map[string]knownvalue.Check{})),
			},
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
		}},
	})
}

// TestAccNamespacesDataSource_pages follows nextCursor past the 500-item page limit.
func TestAccNamespacesDataSource_pages(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 501 namespaces")
	}
	api := adminClient(t)
	ctx := context.Background()
	parent := "root." + uniqueSegment("tfacc-pages")
	nsCreate(t, api, parent)
	const n = namespacesPageSize + 1
	var want []string
	for i := range n {
		p := fmt.Sprintf("%s.n%04d", parent, i)
		nsCreate(t, api, p)
		want = append(want, p)
	}
	t.Cleanup(func() {
		for _, p := range append(slices.Clone(want), parent) {
			_, _ = api.DeleteNamespaceWithResponse(ctx, p)
		}
	})
	checks := make([]knownvalue.Check, len(want))
	for i, p := range want {
		checks[i] = knownvalue.StringExact(p)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "authproxy" {}

data "authproxy_namespaces" "many" {
  children_of = %q
}
`, parent),
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("data.authproxy_namespaces.many", "paths.#", fmt.Sprint(n)),
				resource.TestCheckResourceAttr("data.authproxy_namespaces.many", "namespaces.#", fmt.Sprint(n)),
			),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.authproxy_namespaces.many", tfjsonpath.New("paths"), knownvalue.ListExact(checks)),
			},
		}},
	})
}

// TestAccNamespacesDataSource_badSelector names label_selector in the error.
func TestAccNamespacesDataSource_badSelector(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{
			{
				Config: `
provider "authproxy" {}

data "authproxy_namespaces" "bad" {
  children_of    = "root"
  label_selector = "tier in (gold"
}
`,
				ExpectError: regexp.MustCompile(`(?s)Cannot\s+list\s+namespaces.*data\.authproxy_namespaces\.bad.*label_selector\s+=\s+"tier\s+in\s+\(gold"`),
			},
			{
				Config: `
provider "authproxy" {}

data "authproxy_namespaces" "bad" {
  children_of = "root.Upper"
}
`,
				ExpectError: regexp.MustCompile(`(?s)Invalid\s+namespace\s+path.*children_of`),
			},
		},
	})
}

// ---- unit tests of the helpers ----

func TestNsMapValue(t *testing.T) {
	ctx := context.Background()
	null := types.MapNull(types.StringType)
	empty := types.MapValueMust(types.StringType, map[string]attr.Value{})
	some, _ := types.MapValueFrom(ctx, types.StringType, map[string]string{"a": "1"})

	for name, tc := range map[string]struct {
		prior types.Map
		got   map[string]string
		want  types.Map
	}{
		"omitted stays null":           {null, map[string]string{}, null},
		"omitted, nil from server":     {null, nil, null},
		"unknown becomes null":         {types.MapUnknown(types.StringType), nil, null},
		"explicit empty stays empty":   {empty, map[string]string{}, empty},
		"values replace empty":         {empty, map[string]string{"a": "1"}, some},
		"values appear where null was": {null, map[string]string{"a": "1"}, some},
		"emptied on server":            {some, map[string]string{}, empty},
	} {
		got, diags := nsMapValue(ctx, tc.prior, tc.got)
		if diags.HasError() {
			t.Errorf("%s: %v", name, diags)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
}

func TestNsStringMap(t *testing.T) {
	ctx := context.Background()
	for _, m := range []types.Map{types.MapNull(types.StringType), types.MapUnknown(types.StringType)} {
		got, diags := nsStringMap(ctx, m)
		if diags.HasError() || got == nil || len(got) != 0 {
			t.Errorf("%v: got %#v %v, want an empty non-nil map", m, got, diags)
		}
	}
	v, _ := types.MapValueFrom(ctx, types.StringType, map[string]string{"a": "1", "b": ""})
	got, diags := nsStringMap(ctx, v)
	if diags.HasError() || !maps.Equal(got, map[string]string{"a": "1", "b": ""}) {
		t.Errorf("got %#v %v", got, diags)
	}
}

func TestNsCreateProblem(t *testing.T) {
	orig := []sdk.FieldError{
		{Field: "path", Message: `parent namespace "root.x" does not exist`},
		{Field: "labels.a b", Message: "bad key"},
	}
	p := &sdk.Problem{Status: 400, Title: "Bad Request", Errors: &orig}
	got := nsCreateProblem(p)
	errs := *got.Errors
	if !strings.Contains(errs[0].Message, "create the parent first") {
		t.Errorf("no tip: %q", errs[0].Message)
	}
	if errs[1].Message != "bad key" {
		t.Errorf("other field changed: %q", errs[1].Message)
	}
	if orig[0].Message != `parent namespace "root.x" does not exist` {
		t.Errorf("input modified: %q", orig[0].Message)
	}
	if nsCreateProblem(nil) != nil {
		t.Error("nil problem")
	}
	// Through the shared renderer: on attribute path, with the tip.
	diags := problemDiagnostics("create namespace", 400, got, nil, DefaultFieldMapper)
	if len(diags) != 2 || !strings.Contains(diags[0].Detail(), `parent namespace "root.x" does not exist; create the parent first`) {
		t.Errorf("diagnostics: %v", diags)
	}
}

func TestNsTime(t *testing.T) {
	ts := time.Date(2025, 3, 4, 5, 6, 7, 890, time.FixedZone("x", 3600))
	if got := nsTime(ts); got != "2025-03-04T04:06:07Z" {
		t.Errorf("got %q", got)
	}
	if nsTime(time.Time{}) != "" {
		t.Error("zero time")
	}
}

// fakeLister serves pages of namespaces keyed by cursor ("" is the first page).
type fakeLister struct {
	pages map[string]sdk.NamespaceList
	calls []sdk.ListNamespacesParams
	fail  error
}

func (f *fakeLister) ListNamespacesWithResponse(_ context.Context, params *sdk.ListNamespacesParams, _ ...sdk.RequestEditorFn) (*sdk.ListNamespacesResponse, error) {
	f.calls = append(f.calls, *params)
	if f.fail != nil {
		return nil, f.fail
	}
	cursor := ""
	if params.Cursor != nil {
		cursor = *params.Cursor
	}
	page, ok := f.pages[cursor]
	if !ok {
		detail := "bad cursor"
		return &sdk.ListNamespacesResponse{HTTPResponse: &http.Response{StatusCode: 400},
			ApplicationproblemJSONDefault: &sdk.Problem{Status: 400, Title: "Bad Request", Detail: &detail,
				Errors: &[]sdk.FieldError{{Field: "labelSelector", Message: "unexpected end"}}}}, nil
	}
	return &sdk.ListNamespacesResponse{HTTPResponse: &http.Response{StatusCode: 200}, JSON200: &page}, nil
}

func nsItems(paths ...string) []sdk.Namespace {
	out := make([]sdk.Namespace, len(paths))
	for i, p := range paths {
		out[i] = sdk.Namespace{Path: p}
	}
	return out
}

func TestListAllNamespaces(t *testing.T) {
	ctx := context.Background()
	c1, c2 := "c1", "c2"
	sel := "tier=gold"
	f := &fakeLister{pages: map[string]sdk.NamespaceList{
		"":   {Items: nsItems("root.a", "root.b"), NextCursor: &c1},
		"c1": {Items: nsItems("root.c"), NextCursor: &c2},
		"c2": {Items: nsItems("root.d")},
	}}
	limit := namespacesPageSize
	got, diags := listAllNamespaces(ctx, f, sdk.ListNamespacesParams{LabelSelector: &sel, Limit: &limit})
	if diags.HasError() {
		t.Fatal(diags)
	}
	var paths []string
	for _, n := range got {
		paths = append(paths, n.Path)
	}
	if !slices.Equal(paths, []string{"root.a", "root.b", "root.c", "root.d"}) {
		t.Errorf("paths %v", paths)
	}
	if len(f.calls) != 3 {
		t.Fatalf("%d calls", len(f.calls))
	}
	for i, c := range f.calls {
		if c.LabelSelector == nil || *c.LabelSelector != sel || c.Limit == nil || *c.Limit != namespacesPageSize {
			t.Errorf("call %d lost its parameters: %+v", i, c)
		}
	}
	if f.calls[0].Cursor != nil || *f.calls[1].Cursor != "c1" || *f.calls[2].Cursor != "c2" {
		t.Errorf("cursors not followed")
	}

	// A server repeating its cursor does not loop forever.
	loop := &fakeLister{pages: map[string]sdk.NamespaceList{"": {Items: nsItems("root.a"), NextCursor: &c1}, "c1": {Items: nsItems("root.b"), NextCursor: &c1}}}
	if _, diags := listAllNamespaces(ctx, loop, sdk.ListNamespacesParams{}); !diags.HasError() || len(loop.calls) != 2 {
		t.Errorf("repeated cursor: %v after %d calls", diags, len(loop.calls))
	}

	// A problem names the attribute.
	bad := &fakeLister{pages: map[string]sdk.NamespaceList{}}
	_, diags = listAllNamespaces(ctx, bad, sdk.ListNamespacesParams{})
	if !diags.HasError() || !strings.Contains(fmt.Sprint(diags), "label_selector") {
		t.Errorf("problem: %v", diags)
	}

	// A transport error is reported.
	down := &fakeLister{fail: errors.New("connection refused")}
	if _, diags := listAllNamespaces(ctx, down, sdk.ListNamespacesParams{}); !diags.HasError() || !strings.Contains(diags[0].Detail(), "connection refused") {
		t.Errorf("transport error: %v", diags)
	}
}

// ---- helpers ----

// nsConfig is a parent namespace and one child named seg with the given body.
func nsConfig(parent, seg, childBody string) string {
	return fmt.Sprintf(`
provider "authproxy" {}

resource "authproxy_namespace" "parent" {
  path = %q
}

resource "authproxy_namespace" "child" {
  path = "${authproxy_namespace.parent.path}.%s"
%s
}
`, parent, seg, childBody)
}

func nsCheckRFC3339(v string) error {
	if _, err := time.Parse(time.RFC3339, v); err != nil {
		return fmt.Errorf("created_at %q is not RFC 3339: %w", v, err)
	}
	return nil
}

func nsGet(t *testing.T, p string) (*sdk.GetNamespaceResponse, error) {
	t.Helper()
	return adminClient(t).GetNamespaceWithResponse(context.Background(), p)
}

func nsCreate(t *testing.T, api *sdk.ClientWithResponses, p string) {
	t.Helper()
	out, err := api.CreateNamespaceWithResponse(context.Background(), sdk.NamespaceCreate{Path: p})
	if err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
	if out.JSON201 == nil {
		t.Fatalf("create %s: %d %s", p, out.StatusCode(), out.Body)
	}
}

func nsPatch(t *testing.T, p string, l *sdk.Labels, a *sdk.Annotations) {
	t.Helper()
	out, err := adminClient(t).UpdateNamespaceWithResponse(context.Background(), p, sdk.NamespaceUpdate{Labels: l, Annotations: a})
	if err != nil {
		t.Fatalf("update %s outside Terraform: %v", p, err)
	}
	if out.JSON200 == nil {
		t.Fatalf("update %s outside Terraform: %d %s", p, out.StatusCode(), out.Body)
	}
}

// nsCheckServer checks a namespace's labels and annotations on the server.
func nsCheckServer(t *testing.T, p string, labels, annotations map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		out, err := nsGet(t, p)
		if err != nil {
			return err
		}
		if out.JSON200 == nil {
			return fmt.Errorf("namespace %s: %d %s", p, out.StatusCode(), out.Body)
		}
		if got := map[string]string(out.JSON200.Labels); !maps.Equal(got, labels) {
			return fmt.Errorf("namespace %s has labels %v on the server, want %v", p, got, labels)
		}
		if got := map[string]string(out.JSON200.Annotations); !maps.Equal(got, annotations) {
			return fmt.Errorf("namespace %s has annotations %v on the server, want %v", p, got, annotations)
		}
		return nil
	}
}

func nsCheckAbsent(t *testing.T, paths ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, p := range paths {
			out, err := nsGet(t, p)
			if err != nil {
				return err
			}
			if out.StatusCode() != http.StatusNotFound {
				return fmt.Errorf("namespace %s: got %d, want 404", p, out.StatusCode())
			}
		}
		return nil
	}
}

// nsCheckGone is a CheckDestroy: every path is gone.
func nsCheckGone(t *testing.T, paths ...string) resource.TestCheckFunc {
	return nsCheckAbsent(t, paths...)
}

func nsCheckAbsentNow(t *testing.T, p string) {
	t.Helper()
	if err := nsCheckAbsent(t, p)(nil); err != nil {
		t.Error(err)
	}
}

// nsCheckNotListed fails the test if a child of parent equals p, ignoring case.
func nsCheckNotListed(t *testing.T, parent, p string) {
	t.Helper()
	items, diags := listAllNamespaces(context.Background(), adminClient(t), sdk.ListNamespacesParams{ChildrenOf: &parent})
	if diags.HasError() {
		t.Fatalf("list children of %s: %v", parent, diags)
	}
	for _, n := range items {
		if strings.EqualFold(n.Path, p) {
			t.Errorf("namespace %s exists", n.Path)
		}
	}
}

// nsExpectPaths checks a namespaces data source's paths, exactly and in order.
func nsExpectPaths(addr string, paths ...string) statecheck.StateCheck {
	checks := make([]knownvalue.Check, len(paths))
	for i, p := range paths {
		checks[i] = knownvalue.StringExact(p)
	}
	return statecheck.ExpectKnownValue(addr, tfjsonpath.New("paths"), knownvalue.ListExact(checks))
}
