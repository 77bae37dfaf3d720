package provider

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// TestAccNamespaceKey_lifecycle assigns a key, re-assigns another in place, imports the
// assignment by namespace path, recreates it after it is removed outside Terraform, and
// destroys it (and the keys) in order.
func TestAccNamespaceKey_lifecycle(t *testing.T) {
	ns := "root." + uniqueSegment("tfacc-nskey")
	const addr = "authproxy_namespace_key.a"

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy:             nsCheckGone(t, ns),
		Steps: []resource.TestStep{
			{
				Config: nsKeyConfig(ns, "one"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "namespace", ns),
					resource.TestCheckResourceAttr(addr, "id", ns),
					resource.TestCheckResourceAttrPair(addr, "key_id", "authproxy_encryption_key.one", "id"),
					resource.TestCheckResourceAttrPair(addr, "effective_key_id", "authproxy_encryption_key.one", "id"),
					nsKeyCheckServer(t, ns, "authproxy_encryption_key.one"),
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Another key: re-assigned in place.
				Config: nsKeyConfig(ns, "two"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrPair(addr, "key_id", "authproxy_encryption_key.two", "id"),
					resource.TestCheckResourceAttrPair(addr, "effective_key_id", "authproxy_encryption_key.two", "id"),
					nsKeyCheckServer(t, ns, "authproxy_encryption_key.two"),
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateId:     ns,
				ImportStateVerify: true,
			},
			{
				ResourceName:  addr,
				ImportState:   true,
				ImportStateId: "root.Not_A_Path",
				ExpectError:   regexp.MustCompile(`(?s)Invalid\s+import\s+ID`),
			},
			{
				// Unassigned outside Terraform: the next plan assigns again.
				PreConfig: func() {
					out, err := adminClient(t).UnassignNamespaceKeyWithResponse(context.Background(), ns)
					if err != nil || out.StatusCode() != http.StatusNoContent {
						t.Fatalf("unassign %s: %v %v", ns, err, out)
					}
				},
				Config: nsKeyConfig(ns, "two"),
				Check:  nsKeyCheckServer(t, ns, "authproxy_encryption_key.two"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Destroying only the assignment leaves the namespace on its inherited key.
				Config: nsKeyConfigNoAssignment(ns),
				Check: func(*terraform.State) error {
					out, err := adminClient(t).GetNamespaceKeyWithResponse(context.Background(), ns)
					if err != nil {
						return err
					}
					if out.JSON200 == nil || out.JSON200.KeyId != nil {
						return fmt.Errorf("namespace %s still has a key assigned: %s", ns, out.Body)
					}
					return nil
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroy)},
				},
			},
		},
	})
}

func nsKeyConfigNoAssignment(ns string) string {
	return fmt.Sprintf(`
provider "authproxy" {}

resource "authproxy_namespace" "ns" {
  path = %q
}

resource "authproxy_encryption_key" "one" {
  namespace = authproxy_namespace.ns.path
  name      = "one"
  source    = { kind = "generated" }
}

resource "authproxy_encryption_key" "two" {
  namespace = authproxy_namespace.ns.path
  name      = "two"
  source    = { kind = "generated" }
}
`, ns)
}

func nsKeyConfig(ns, key string) string {
	return nsKeyConfigNoAssignment(ns) + fmt.Sprintf(`
resource "authproxy_namespace_key" "a" {
  namespace = authproxy_namespace.ns.path
  key_id    = authproxy_encryption_key.%s.id
}
`, key)
}

// nsKeyCheckServer checks through the API that ns has the key of keyAddr assigned.
func nsKeyCheckServer(t *testing.T, ns, keyAddr string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[keyAddr]
		if !ok {
			return fmt.Errorf("%s not in state", keyAddr)
		}
		want := rs.Primary.Attributes["id"]
		out, err := adminClient(t).GetNamespaceKeyWithResponse(context.Background(), ns)
		if err != nil {
			return err
		}
		if out.JSON200 == nil || out.JSON200.KeyId == nil || *out.JSON200.KeyId != want {
			return fmt.Errorf("namespace %s: assignment is not %s: %d %s", ns, want, out.StatusCode(), out.Body)
		}
		if out.JSON200.EffectiveKeyId == nil || *out.JSON200.EffectiveKeyId != want {
			return fmt.Errorf("namespace %s: effective key is not %s: %s", ns, want, out.Body)
		}
		return nil
	}
}
