package provider

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// ---- acceptance tests ----

// TestAccEncryptionKey_generated creates a generated key, updates its labels in place,
// rotates it through rotation_trigger and imports it.
func TestAccEncryptionKey_generated(t *testing.T) {
	ns := "root." + uniqueSegment("tfacc-key")
	const addr = "authproxy_encryption_key.k"
	var keyID string

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy:             keyCheckGone(t, &keyID),
		Steps: []resource.TestStep{
			{
				Config: keyConfig(ns, `
  source = { kind = "generated" }
  labels = { team = "core" }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr(addr, "id", regexp.MustCompile(`^key_`)),
					resource.TestCheckResourceAttr(addr, "namespace", ns),
					resource.TestCheckResourceAttr(addr, "name", "main"),
					resource.TestCheckResourceAttr(addr, "source.kind", "generated"),
					resource.TestCheckResourceAttr(addr, "current_version", "1"),
					resource.TestCheckResourceAttr(addr, "labels.team", "core"),
					resource.TestCheckResourceAttrWith(addr, "created_at", nsCheckRFC3339),
					keyCaptureID(addr, &keyID),
					keyCheckVersions(t, &keyID, 1),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("annotations"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("source").AtMapKey("params"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("material_wo"), knownvalue.Null()),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Labels and annotations change in place; no rotation.
				Config: keyConfig(ns, `
  source      = { kind = "generated" }
  labels      = { team = "edge" }
  annotations = { note = "hello" }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "labels.team", "edge"),
					resource.TestCheckResourceAttr(addr, "annotations.note", "hello"),
					resource.TestCheckResourceAttr(addr, "current_version", "1"),
					keyCheckSameID(addr, &keyID),
					keyCheckVersions(t, &keyID, 1),
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("current_version"), knownvalue.Int64Exact(1)),
					},
				},
			},
			{
				// A new rotation_trigger rotates in place.
				Config: keyConfig(ns, `
  source           = { kind = "generated" }
  labels           = { team = "edge" }
  annotations      = { note = "hello" }
  rotation_trigger = "2026-q1"`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "current_version", "2"),
					resource.TestCheckResourceAttr(addr, "rotation_trigger", "2026-q1"),
					keyCheckSameID(addr, &keyID),
					keyCheckVersions(t, &keyID, 2),
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("current_version")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"rotation_trigger", "material_wo", "material_wo_version"},
			},
			{
				ResourceName:  addr,
				ImportState:   true,
				ImportStateId: "root.not-a-key",
				ExpectError:   regexp.MustCompile(`(?s)Invalid\s+import\s+ID.*key_`),
			},
		},
	})
}

// TestAccEncryptionKey_inlineWriteOnly creates an inline key from write-only material, rotates
// it to new material by bumping material_wo_version, and checks that neither material (nor
// its decoded bytes) ever appears in a plan or in state.
func TestAccEncryptionKey_inlineWriteOnly(t *testing.T) {
	ns := "root." + uniqueSegment("tfacc-key")
	const addr = "authproxy_encryption_key.k"
	m1, raw1 := keyTestMaterial(t)
	m2, raw2 := keyTestMaterial(t)
	secrets := [][]byte{[]byte(m1), raw1, []byte(hex.EncodeToString(raw1)), []byte(m2), raw2, []byte(hex.EncodeToString(raw2))}
	var keyID string
	cfg := func(version int) string {
		return keyConfig(ns, fmt.Sprintf(`
  source              = { kind = "inline" }
  material_wo         = var.tenant_key_b64
  material_wo_version = %d`, version)) + `
variable "tenant_key_b64" {
  type      = string
  sensitive = true
}
`
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy:             keyCheckGone(t, &keyID),
		Steps: []resource.TestStep{
			{
				Config:          cfg(1),
				ConfigVariables: keyVars(m1),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "source.kind", "inline"),
					resource.TestCheckResourceAttr(addr, "current_version", "1"),
					resource.TestCheckResourceAttr(addr, "material_wo_version", "1"),
					resource.TestCheckNoResourceAttr(addr, "material_wo"),
					keyCaptureID(addr, &keyID),
					keyCheckVersions(t, &keyID, 1),
					keyCheckStateHasNo(secrets),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("material_wo"), knownvalue.Null()),
					keyStateJSONHasNo{secrets: secrets},
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
						keyPlanJSONHasNo{secrets: secrets},
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// New material alone is invisible to Terraform: nothing to do.
				Config:          cfg(1),
				ConfigVariables: keyVars(m2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: keyCheckVersions(t, &keyID, 1),
			},
			{
				// Bumping material_wo_version rotates to the new material in place.
				Config:          cfg(2),
				ConfigVariables: keyVars(m2),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "current_version", "2"),
					resource.TestCheckResourceAttr(addr, "material_wo_version", "2"),
					keyCheckSameID(addr, &keyID),
					keyCheckVersions(t, &keyID, 2),
					keyCheckStateHasNo(secrets),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("material_wo"), knownvalue.Null()),
					keyStateJSONHasNo{secrets: secrets},
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("current_version")),
						keyPlanJSONHasNo{secrets: secrets},
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// A version bump without material fails at plan, naming material_wo.
				Config: keyConfig(ns, `
  source              = { kind = "inline" }
  material_wo_version = 3`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Missing\s+key\s+material.*material_wo_version\s+changed`),
			},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"material_wo", "material_wo_version", "rotation_trigger"},
				ConfigVariables:         keyVars(m2),
				Config:                  cfg(2),
			},
		},
	})
}

// TestAccEncryptionKey_invalid checks the plan-time errors.
func TestAccEncryptionKey_invalid(t *testing.T) {
	m, _ := keyTestMaterial(t)
	bad := func(body string) string {
		return fmt.Sprintf(`
provider "authproxy" {}

resource "authproxy_encryption_key" "bad" {
  namespace = "root.tfacc-invalid"
  name      = "bad"
%s
}
`, body)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{
			{
				Config: bad(fmt.Sprintf(`
  source      = { kind = "generated" }
  material_wo = %q`, m)),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)material_wo\s+is\s+only\s+for\s+inline\s+keys.*material_wo`),
			},
			{
				Config:      bad(`  source = { kind = "hsm" }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)source\.kind.*value\s+must\s+be\s+one\s+of.*generated`),
			},
			{
				Config:      bad(`  source = { kind = "inline" }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Missing\s+key\s+material.*material_wo`),
			},
			{
				Config: bad(`
  source      = { kind = "inline" }
  material_wo = "c2hvcnQ="`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid\s+key\s+material.*decodes\s+to\s+5\s+bytes`),
			},
			{
				Config: bad(`
  source           = { kind = "env", params = { var = "X" } }
  rotation_trigger = "now"`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)rotation_trigger\s+is\s+only\s+for\s+generated\s+keys`),
			},
		},
	})
}

// ---- unit tests ----

func TestKeyMaterialValidator(t *testing.T) {
	good, _ := keyTestMaterial(t)
	for _, tc := range []struct {
		in   string
		want string
	}{
		{good, ""},
		{"not base64!", "not standard base64"},
		{base64.StdEncoding.EncodeToString(make([]byte, 16)), "decodes to 16 bytes"},
	} {
		var resp validator.StringResponse
		keyMaterialValidator().ValidateString(context.Background(), validator.StringRequest{
			Path: path.Root("material_wo"), ConfigValue: types.StringValue(tc.in)}, &resp)
		got := ""
		for _, d := range resp.Diagnostics {
			got += d.Detail()
			if strings.Contains(d.Detail(), tc.in) {
				t.Errorf("diagnostic echoes the material: %s", d.Detail())
			}
		}
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// ---- helpers ----

func keyConfig(ns, body string) string {
	return fmt.Sprintf(`
provider "authproxy" {}

resource "authproxy_namespace" "ns" {
  path = %q
}

resource "authproxy_encryption_key" "k" {
  namespace = authproxy_namespace.ns.path
  name      = "main"
%s
}
`, ns, body)
}

func keyVars(m string) config.Variables {
	return config.Variables{"tenant_key_b64": config.StringVariable(m)}
}

func keyTestMaterial(t *testing.T) (string, []byte) {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw), raw
}

func keyCaptureID(addr string, id *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[addr]
		if !ok {
			return fmt.Errorf("%s not in state", addr)
		}
		*id = rs.Primary.Attributes["id"]
		return nil
	}
}

func keyCheckSameID(addr string, id *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[addr]
		if !ok {
			return fmt.Errorf("%s not in state", addr)
		}
		if got := rs.Primary.Attributes["id"]; got != *id {
			return fmt.Errorf("key was replaced: id %s, was %s", got, *id)
		}
		return nil
	}
}

// keyCheckVersions checks through the API that the key has n versions, the newest current.
func keyCheckVersions(t *testing.T, id *string, n int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		c := adminClient(t)
		out, err := c.ListKeyVersionsWithResponse(context.Background(), *id)
		if err != nil {
			return err
		}
		if out.JSON200 == nil {
			return fmt.Errorf("list versions of %s: %d %s", *id, out.StatusCode(), out.Body)
		}
		if len(out.JSON200.Items) != n {
			return fmt.Errorf("key %s has %d versions, want %d", *id, len(out.JSON200.Items), n)
		}
		k, err := c.GetKeyWithResponse(context.Background(), *id)
		if err != nil {
			return err
		}
		if k.JSON200 == nil || k.JSON200.CurrentVersion != n {
			return fmt.Errorf("key %s: current version not %d: %s", *id, n, k.Body)
		}
		return nil
	}
}

func keyCheckGone(t *testing.T, id *string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if *id == "" {
			return nil
		}
		out, err := adminClient(t).GetKeyWithResponse(context.Background(), *id)
		if err != nil {
			return err
		}
		if out.StatusCode() != http.StatusNotFound {
			return fmt.Errorf("key %s still exists (%d)", *id, out.StatusCode())
		}
		return nil
	}
}

// keyCheckStateHasNo fails when any attribute of any resource in state holds a secret.
func keyCheckStateHasNo(secrets [][]byte) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for addr, rs := range s.RootModule().Resources {
			for k, v := range rs.Primary.Attributes {
				if err := keyNoSecret(fmt.Sprintf("state %s.%s", addr, k), []byte(v), secrets); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

func keyNoSecret(where string, b []byte, secrets [][]byte) error {
	for _, s := range secrets {
		if len(s) > 0 && strings.Contains(string(b), string(s)) {
			return fmt.Errorf("%s contains key material", where)
		}
	}
	return nil
}

// keyStateJSONHasNo checks the whole state, as the CLI shows it in JSON (sensitive values
// included), for the material.
type keyStateJSONHasNo struct{ secrets [][]byte }

func (c keyStateJSONHasNo) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	b, err := json.Marshal(req.State)
	if err != nil {
		resp.Error = err
		return
	}
	resp.Error = keyNoSecret("state JSON", b, c.secrets)
}

// keyPlanJSONHasNo checks what the plan holds of resources (prior state, planned values and
// resource changes) for the material. The plan's input variables are left out: a plan file
// stores the (sensitive, non-ephemeral) variable the configuration passes in, which is the
// user's value, not the provider's doing.
type keyPlanJSONHasNo struct{ secrets [][]byte }

func (c keyPlanJSONHasNo) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	b, err := json.Marshal([]any{req.Plan.PriorState, req.Plan.PlannedValues, req.Plan.ResourceChanges,
		req.Plan.ResourceDrift, req.Plan.OutputChanges})
	if err != nil {
		resp.Error = err
		return
	}
	resp.Error = keyNoSecret("plan JSON", b, c.secrets)
}

// TestAccEncryptionKey_inlineEphemeralVariable passes the material through an ephemeral
// variable, as the documentation example does: then not even the plan's input variables hold
// it, so the whole plan JSON (and the state) must be free of it.
func TestAccEncryptionKey_inlineEphemeralVariable(t *testing.T) {
	ns := "root." + uniqueSegment("tfacc-key")
	const addr = "authproxy_encryption_key.k"
	m1, raw1 := keyTestMaterial(t)
	m2, raw2 := keyTestMaterial(t)
	secrets := [][]byte{[]byte(m1), raw1, []byte(hex.EncodeToString(raw1)), []byte(m2), raw2, []byte(hex.EncodeToString(raw2))}
	var keyID string
	cfg := func(version int) string {
		return keyConfig(ns, fmt.Sprintf(`
  source              = { kind = "inline" }
  material_wo         = var.tenant_key_b64
  material_wo_version = %d`, version)) + `
variable "tenant_key_b64" {
  type      = string
  sensitive = true
  ephemeral = true
}
`
	}
	step := func(version int, m string) resource.TestStep {
		return resource.TestStep{
			Config:          cfg(version),
			ConfigVariables: keyVars(m),
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "current_version", fmt.Sprint(version)),
				keyCaptureID(addr, &keyID),
				keyCheckVersions(t, &keyID, version),
				keyCheckStateHasNo(secrets),
			),
			ConfigStateChecks: []statecheck.StateCheck{keyStateJSONHasNo{secrets: secrets}},
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply:             []plancheck.PlanCheck{keyWholePlanJSONHasNo{secrets: secrets}},
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), keyWholePlanJSONHasNo{secrets: secrets}},
			},
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy:             keyCheckGone(t, &keyID),
		Steps:                    []resource.TestStep{step(1, m1), step(2, m2)},
	})
}

// keyWholePlanJSONHasNo checks the entire plan JSON, input variables included.
type keyWholePlanJSONHasNo struct{ secrets [][]byte }

func (c keyWholePlanJSONHasNo) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	b, err := json.Marshal(req.Plan)
	if err != nil {
		resp.Error = err
		return
	}
	resp.Error = keyNoSecret("plan JSON", b, c.secrets)
}
