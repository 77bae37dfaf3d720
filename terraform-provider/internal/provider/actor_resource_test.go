package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/authproxy/authproxy/sdk"
)

const actAddr = "authproxy_actor.test"

// ---------------------------------------------------------------------------------------
// (a) lifecycle: create, update in place, import both ways, replace on external_id and on
// namespace, and back to a bare actor.

func TestAccActorResource_lifecycle(t *testing.T) {
	api := adminClient(t)
	root := "root." + uniqueSegment("actor")
	other := root + ".other"
	k1, k2 := actNewKey(t), actNewKey(t)
	t.Cleanup(func() { actCleanupNamespace(t, api, other); actCleanupNamespace(t, api, root) })

	idSame := statecheck.CompareValue(compare.ValuesSame())
	idChanges := statecheck.CompareValue(compare.ValuesDiffer())
	id := tfjsonpath.New("id")

	step1 := fmt.Sprintf(`
  name        = "Billing service"
  labels      = { app = "billing", tier = "backend" }
  annotations = { "example.com/owner" = "team-billing" }
  permissions = [
    { namespace = "${local.ns}.**", resources = ["actors"], verbs = ["get", "list"] },
    { namespace = local.ns, resources = ["namespaces"], verbs = ["get"], resource_ids = [local.ns] },
  ]
  public_keys = [%q]
`, k1.pub)
	step2 := fmt.Sprintf(`
  labels      = { app = "billing", tier = "api" }
  permissions = [
    { namespace = local.ns, resources = ["namespaces"], verbs = ["get", "list"] },
    { namespace = "${local.ns}.**", resources = ["actors", "keys"], verbs = ["get", "list", "rotate"] },
  ]
  public_keys = [%q, %q]
`, k1.pub, k2.pub)

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy: resource.ComposeTestCheckFunc(
			actCheckAbsent(api, root, "billing"), actCheckAbsent(api, root, "billing-v2"), actCheckAbsent(api, other, "billing-v2")),
		Steps: []resource.TestStep{
			{
				Config: actLifecycleConfig(root, "authproxy_namespace.root.path", "billing", step1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(actAddr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					idSame.AddStateValue(actAddr, id),
					idChanges.AddStateValue(actAddr, id),
					statecheck.ExpectKnownValue(actAddr, id, knownvalue.StringRegexp(regexp.MustCompile(`^act_[A-Za-z0-9]+$`))),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("created_at"), knownvalue.StringFunc(actCheckRFC3339)),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("name"), knownvalue.StringExact("Billing service")),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{
						"app": knownvalue.StringExact("billing"), "tier": knownvalue.StringExact("backend"),
					})),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("permissions"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"namespace":    knownvalue.StringExact(root + ".**"),
							"resources":    knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("actors")}),
							"verbs":        knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("get"), knownvalue.StringExact("list")}),
							"resource_ids": knownvalue.Null(),
						}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"namespace":    knownvalue.StringExact(root),
							"resources":    knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("namespaces")}),
							"verbs":        knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("get")}),
							"resource_ids": knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(root)}),
						}),
					})),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("public_keys"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact(k1.pub)})),
				},
				Check: actCheckServer(api, root, "billing", func(a *sdk.Actor) error {
					if a.Name != "Billing service" || a.Labels["tier"] != "backend" || a.Annotations["example.com/owner"] != "team-billing" {
						return fmt.Errorf("name/labels/annotations on the server: %q %v %v", a.Name, a.Labels, a.Annotations)
					}
					if got := actPermString(a.Permissions); got != fmt.Sprintf("%s.**:actors:get,list|%s:namespaces:get:%s", root, root, root) {
						return fmt.Errorf("permissions on the server: %s", got)
					}
					if !slices.Equal(a.PublicKeys, []string{k1.pub}) {
						return fmt.Errorf("public keys on the server: %v", a.PublicKeys)
					}
					return nil
				}),
			},
			{
				// Labels, permissions (reordered and changed), keys, name and annotations change in place.
				Config: actLifecycleConfig(root, "authproxy_namespace.root.path", "billing", step2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(actAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					idSame.AddStateValue(actAddr, id),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("name"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("annotations"), knownvalue.Null()),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("permissions").AtSliceIndex(0).AtMapKey("namespace"), knownvalue.StringExact(root)),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("permissions").AtSliceIndex(1).AtMapKey("verbs"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("get"), knownvalue.StringExact("list"), knownvalue.StringExact("rotate")})),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("public_keys"), knownvalue.SetSizeExact(2)),
				},
				Check: actCheckServer(api, root, "billing", func(a *sdk.Actor) error {
					if a.Name != "" || a.Labels["tier"] != "api" || len(a.Annotations) != 0 {
						return fmt.Errorf("name/labels/annotations on the server: %q %v %v", a.Name, a.Labels, a.Annotations)
					}
					if got := actPermString(a.Permissions); got != fmt.Sprintf("%s:namespaces:get,list|%s.**:actors,keys:get,list,rotate", root, root) {
						return fmt.Errorf("permissions on the server (order matters): %s", got)
					}
					if !slices.Equal(a.PublicKeys, []string{k1.pub, k2.pub}) && !slices.Equal(a.PublicKeys, []string{k2.pub, k1.pub}) {
						return fmt.Errorf("public keys on the server: %v", a.PublicKeys)
					}
					return nil
				}),
			},
			{
				ResourceName:      actAddr,
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				ResourceName:      actAddr,
				ImportState:       true,
				ImportStateId:     root + "/billing",
				ImportStateVerify: true,
			},
			{
				ResourceName:  actAddr,
				ImportState:   true,
				ImportStateId: "billing",
				ExpectError:   actPhrase("Invalid import ID", `"billing" is neither an actor id (act_…) nor <namespace>/<external_id>`),
			},
			{
				ResourceName:  actAddr,
				ImportState:   true,
				ImportStateId: root + "/nobody",
				ExpectError:   actPhrase("Cannot import actor "+root+"/nobody", "It does not exist"),
			},
			{
				// A new external_id is a new actor.
				Config: actLifecycleConfig(root, "authproxy_namespace.root.path", "billing-v2", step2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(actAddr, plancheck.ResourceActionReplace)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{idChanges.AddStateValue(actAddr, id)},
				Check: resource.ComposeTestCheckFunc(
					actCheckAbsent(api, root, "billing"),
					actCheckServer(api, root, "billing-v2", nil),
				),
			},
			{
				// So is a new namespace.
				Config: actLifecycleConfig(root, "authproxy_namespace.other.path", "billing-v2", step2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(actAddr, plancheck.ResourceActionReplace)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					idChanges.AddStateValue(actAddr, id),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("namespace"), knownvalue.StringExact(other)),
				},
				Check: resource.ComposeTestCheckFunc(
					actCheckAbsent(api, root, "billing-v2"),
					actCheckServer(api, other, "billing-v2", nil),
				),
			},
			{
				ResourceName:      actAddr,
				ImportState:       true,
				ImportStateId:     other + "/billing-v2",
				ImportStateVerify: true,
			},
			{
				// Dropping every optional attribute clears it on the server and leaves them null.
				Config: actLifecycleConfig(root, "authproxy_namespace.other.path", "billing-v2", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(actAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("labels"), knownvalue.Null()),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("annotations"), knownvalue.Null()),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("permissions"), knownvalue.Null()),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("public_keys"), knownvalue.Null()),
					statecheck.ExpectKnownValue(actAddr, tfjsonpath.New("name"), knownvalue.StringExact("")),
				},
				Check: actCheckServer(api, other, "billing-v2", func(a *sdk.Actor) error {
					if len(a.Labels) != 0 || len(a.Permissions) != 0 || len(a.PublicKeys) != 0 || len(a.Annotations) != 0 {
						return fmt.Errorf("server still holds %v %v %v %v", a.Labels, a.Permissions, a.PublicKeys, a.Annotations)
					}
					return nil
				}),
			},
		},
	})
}

func actLifecycleConfig(root, nsRef, externalID, body string) string {
	return fmt.Sprintf(`
resource "authproxy_namespace" "root" {
  path = %q
}

resource "authproxy_namespace" "other" {
  path = "${authproxy_namespace.root.path}.other"
}

locals {
  ns = %s
}

resource "authproxy_actor" "test" {
  namespace   = local.ns
  external_id = %q
%s
}
`, root, nsRef, externalID, body)
}

// TestAccActorResource_publicKeyFiles registers keys read with file(), trailing newline and
// all, in both formats: the plan after apply is empty and the server holds them trimmed.
func TestAccActorResource_publicKeyFiles(t *testing.T) {
	api := adminClient(t)
	ns := actNamespace(t, api)
	k := actNewKey(t)
	dir := t.TempDir()
	sshFile := filepath.Join(dir, "app.pub")
	if err := os.WriteFile(sshFile, []byte(k.pub+" app@example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pemPub := actPEMPublicKey(t)
	pemFile := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(pemFile, []byte(pemPub+"\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`
resource "authproxy_actor" "test" {
  namespace   = %q
  external_id = "files"
  public_keys = [file(%q), file(%q)]
}
`, ns, sshFile, pemFile)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: actCheckServer(api, ns, "files", func(a *sdk.Actor) error {
					want := []string{k.pub + " app@example", pemPub}
					got := slices.Clone(a.PublicKeys)
					slices.Sort(got)
					slices.Sort(want)
					if !slices.Equal(got, want) {
						return fmt.Errorf("public keys on the server: %q", a.PublicKeys)
					}
					return nil
				}),
			},
			{
				// A second plan, refresh included, stays empty.
				Config:   config,
				PlanOnly: true,
			},
		},
	})
}

// ---------------------------------------------------------------------------------------
// (b) drift: changes made outside Terraform are planned back; a deleted actor is recreated.

func TestAccActorResource_drift(t *testing.T) {
	api := adminClient(t)
	ns := actNamespace(t, api)
	k := actNewKey(t)
	config := fmt.Sprintf(`
resource "authproxy_actor" "test" {
  namespace   = %q
  external_id = "drifty"
  labels      = { app = "drift" }
  permissions = [
    { namespace = "%s.**", resources = ["actors"], verbs = ["get"] },
  ]
  public_keys = [%q]
}
`, ns, ns, k.pub)
	restored := actCheckServer(api, ns, "drifty", func(a *sdk.Actor) error {
		if len(a.Labels) != 1 || a.Labels["app"] != "drift" {
			return fmt.Errorf("labels not restored: %v", a.Labels)
		}
		if got := actPermString(a.Permissions); got != ns+".**:actors:get" {
			return fmt.Errorf("permissions not restored: %s", got)
		}
		if !slices.Equal(a.PublicKeys, []string{k.pub}) {
			return fmt.Errorf("public keys not restored: %v", a.PublicKeys)
		}
		return nil
	})
	idChanges := statecheck.CompareValue(compare.ValuesDiffer())
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy:             actCheckAbsent(api, ns, "drifty"),
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{idChanges.AddStateValue(actAddr, tfjsonpath.New("id"))},
				Check:             restored,
			},
			{
				PreConfig: func() {
					a := actMustGet(t, api, ns, "drifty")
					perms := []sdk.Permission{{Namespace: ns + ".**", Resources: []sdk.Resource{sdk.ResourceAsterisk}, Verbs: []sdk.Verb{sdk.VerbAsterisk}}}
					labels := sdk.Labels{"app": "changed", "extra": "x"}
					keys := []string{}
					res, err := api.UpdateActorWithResponse(context.Background(), a.Id, sdk.ActorUpdate{Permissions: &perms, Labels: &labels, PublicKeys: &keys})
					if err != nil || res.JSON200 == nil {
						t.Fatalf("drift the actor: %v %s", err, actBody(res))
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(actAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(actAddr, tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"app": knownvalue.StringExact("drift")})),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: restored,
			},
			{
				PreConfig: func() {
					a := actMustGet(t, api, ns, "drifty")
					res, err := api.DeleteActorWithResponse(context.Background(), a.Id)
					if err != nil || res.StatusCode() != http.StatusNoContent {
						t.Fatalf("delete the actor: %v %s", err, actBody(res))
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(actAddr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{idChanges.AddStateValue(actAddr, tfjsonpath.New("id"))},
				Check:             restored,
			},
		},
	})
}

// ---------------------------------------------------------------------------------------
// (c) errors: each names what is wrong, and nothing is created.

func TestAccActorResource_unknownVerb(t *testing.T) {
	api := adminClient(t)
	ns := actNamespace(t, api)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
resource "authproxy_actor" "test" {
  namespace   = %q
  external_id = "typo"
  permissions = [{ namespace = "%s.**", resources = ["actors"], verbs = ["rea"] }]
}
`, ns, ns),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)permissions\[0\]\.verbs.*"rea"`),
		}},
	})
	actAssertAbsent(t, api, ns, "typo")
}

func TestAccActorResource_malformedPublicKey(t *testing.T) {
	api := adminClient(t)
	ns := actNamespace(t, api)
	k := actNewKey(t)
	cfg := func(key string) string {
		return fmt.Sprintf(`
resource "authproxy_actor" "test" {
  namespace   = %q
  external_id = "badkey"
  public_keys = [%q]
}
`, ns, key)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{
			{
				Config:      cfg("ssh-ed25519 not-really-a-key laptop"),
				PlanOnly:    true,
				ExpectError: actPhrase(`public_keys: the key "ssh-ed25519 not-really-a-key" is not an OpenSSH public key`),
			},
			{
				// A private key pasted by mistake is refused, without being echoed back.
				Config:      cfg(string(k.privPEM)),
				PlanOnly:    true,
				ExpectError: actPhrase(`public_keys: entry 1 is a private key; register only the public key`),
			},
		},
	})
	actAssertAbsent(t, api, ns, "badkey")
}

func TestAccActorResource_permissionOutsideNamespace(t *testing.T) {
	api := adminClient(t)
	ns := actNamespace(t, api)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
resource "authproxy_actor" "test" {
  namespace   = %q
  external_id = "escape"
  permissions = [{ namespace = "root.other.**", resources = ["*"], verbs = ["get"] }]
}
`, ns),
			PlanOnly:    true,
			ExpectError: actPhrase(`permissions[0].namespace: "root.other.**" is outside the actor's namespace`),
		}},
	})
	actAssertAbsent(t, api, ns, "escape")
}

// TestAccActorResource_forbidden uses a provider actor that may only read its namespace.
func TestAccActorResource_forbidden(t *testing.T) {
	api := adminClient(t)
	ns := actNamespace(t, api)
	limited := actCreateProviderActor(t, api, ns, "limited",
		sdk.Permission{Namespace: ns + ".**", Resources: []sdk.Resource{sdk.ResourceAsterisk}, Verbs: []sdk.Verb{sdk.VerbGet, sdk.VerbList}})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "authproxy" {
  actor            = "%s/limited"
  private_key_file = %q
}

resource "authproxy_actor" "test" {
  namespace   = %q
  external_id = "not-allowed"
}
`, ns, limited.privFile, ns),
			ExpectError: actPhrase(`Cannot create actor`, `not permitted to create actors in namespace`, `The provider's actor lacks the permission`),
		}},
	})
	actAssertAbsent(t, api, ns, "not-allowed")
}

// TestAccActorResource_grantMoreThanHeld uses a provider actor that may manage actors but not
// namespaces, and asks it to hand out a namespace permission.
func TestAccActorResource_grantMoreThanHeld(t *testing.T) {
	api := adminClient(t)
	ns := actNamespace(t, api)
	granter := actCreateProviderActor(t, api, ns, "granter",
		sdk.Permission{Namespace: ns + ".**", Resources: []sdk.Resource{sdk.ResourceActors}, Verbs: []sdk.Verb{sdk.VerbAsterisk}})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "authproxy" {
  actor            = "%s/granter"
  private_key_file = %q
}

resource "authproxy_actor" "test" {
  namespace   = %q
  external_id = "greedy"
  permissions = [
    { namespace = "%s.**", resources = ["actors"], verbs = ["get"] },
    { namespace = "%s.**", resources = ["namespaces"], verbs = ["get"] },
  ]
}
`, ns, granter.privFile, ns, ns, ns),
			ExpectError: actPhrase(`permissions[1] (get on namespaces in`, `grants more than the provider's actor holds`,
				`grant the provider's actor that permission first`),
		}},
	})
	actAssertAbsent(t, api, ns, "greedy")
}

func TestAccActorResource_unreachableEndpoint(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: `
provider "authproxy" {
  endpoint = "http://127.0.0.1:1"
}

resource "authproxy_actor" "a" {
  namespace   = "root"
  external_id = "never-a"
}

resource "authproxy_actor" "b" {
  namespace   = "root"
  external_id = "never-b"
}

data "authproxy_actor" "c" {
  namespace   = "root"
  external_id = "admin"
}
`,
			ExpectError: actExactlyOneError("Cannot reach AuthProxy"),
		}},
	})
}

func TestAccActorResource_unregisteredKey(t *testing.T) {
	api := adminClient(t)
	stranger := actNewKey(t)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "authproxy" {
  private_key_file = %q
}

resource "authproxy_actor" "a" {
  namespace   = "root"
  external_id = "never-a"
}

resource "authproxy_actor" "b" {
  namespace   = "root"
  external_id = "never-b"
}
`, stranger.privFile),
			ExpectError: actExactlyOneError("AuthProxy rejected the provider's credentials"),
		}},
	})
	actAssertAbsent(t, api, "root", "never-a")
}

// ---------------------------------------------------------------------------------------
// (d) secrets: the provider's private key never reaches the state.

func TestAccActorResource_privateKeyNotInState(t *testing.T) {
	api := adminClient(t)
	ns := actNamespace(t, api)
	deployer := actCreateProviderActor(t, api, ns, "deployer",
		sdk.Permission{Namespace: ns + ".**", Resources: []sdk.Resource{sdk.ResourceAsterisk}, Verbs: []sdk.Verb{sdk.VerbAsterisk}})
	app := actNewKey(t)
	workDir := t.TempDir()
	resourceBlock := fmt.Sprintf(`
resource "authproxy_actor" "test" {
  namespace   = %q
  external_id = "app"
  permissions = [{ namespace = %q, resources = ["connections"], verbs = ["proxy"] }]
  public_keys = [%q]
}
`, ns, ns, app.pub)
	withKey := fmt.Sprintf(`
provider "authproxy" {
  actor       = "%s/deployer"
  private_key = file(%q)
}
`, ns, deployer.privFile) + resourceBlock
	withKeyFile := fmt.Sprintf(`
provider "authproxy" {
  actor            = "%s/deployer"
  private_key_file = %q
}
`, ns, deployer.privFile) + resourceBlock
	noSecret := actCheckNoSecret(deployer.privPEM, workDir)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		WorkingDir:               workDir,
		CheckDestroy:             actCheckAbsent(api, ns, "app"),
		Steps: []resource.TestStep{
			{
				Config: withKey,
				Check:  resource.ComposeTestCheckFunc(noSecret, actCheckServer(api, ns, "app", nil)),
			},
			{
				Config: withKeyFile,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: noSecret,
			},
			{
				// Change something so the provider configured with the key itself writes state again.
				Config: strings.Replace(withKey, `verbs = ["proxy"]`, `verbs = ["proxy", "get"]`, 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(actAddr, plancheck.ResourceActionUpdate)},
				},
				Check: noSecret,
			},
		},
	})
}

// actCheckNoSecret fails if the private key, its base64 body or any line of it shows up in
// the state handed to checks or in any file of the test's working directories (the raw
// terraform.tfstate among them).
func actCheckNoSecret(privPEM []byte, workDir string) resource.TestCheckFunc {
	body := strings.TrimSpace(string(privPEM))
	body = strings.TrimPrefix(body, "-----BEGIN PRIVATE KEY-----")
	body = strings.TrimSuffix(body, "-----END PRIVATE KEY-----")
	lines := strings.Fields(body)
	needles := append([]string{strings.TrimSpace(string(privPEM)), strings.Join(lines, "")}, lines...)
	find := func(s string) string {
		for _, n := range needles {
			if len(n) >= 16 && strings.Contains(s, n) {
				return n[:8] + "…"
			}
		}
		return ""
	}
	return func(s *terraform.State) error {
		checked := 0
		for _, m := range s.Modules {
			for addr, r := range m.Resources {
				if r.Primary == nil {
					continue
				}
				for k, v := range r.Primary.Attributes {
					checked++
					if n := find(v); n != "" {
						return fmt.Errorf("private key material (%s) in state attribute %s.%s", n, addr, k)
					}
				}
			}
		}
		if checked == 0 {
			return fmt.Errorf("no state attributes to check")
		}
		stateFiles := 0
		err := filepath.WalkDir(workDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			if strings.HasPrefix(d.Name(), "terraform.tfstate") {
				stateFiles++
			}
			if n := find(string(data)); n != "" {
				return fmt.Errorf("private key material (%s) in %s", n, p)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if stateFiles == 0 {
			return fmt.Errorf("found no terraform.tfstate under %s to check", workDir)
		}
		return nil
	}
}

// ---------------------------------------------------------------------------------------
// (e) the data source, by id and by namespace/external_id.

func TestAccActorDataSource_lookups(t *testing.T) {
	api := adminClient(t)
	ns := actNamespace(t, api)
	k := actNewKey(t)
	config := fmt.Sprintf(`
resource "authproxy_actor" "test" {
  namespace   = %q
  external_id = "looked-up"
  name        = "Looked up"
  labels      = { app = "lookup" }
  permissions = [{ namespace = "%s.**", resources = ["actors"], verbs = ["get"], resource_ids = ["act_x1"] }]
  public_keys = [%q]
}

data "authproxy_actor" "by_id" {
  id = authproxy_actor.test.id
}

data "authproxy_actor" "by_external_id" {
  namespace   = authproxy_actor.test.namespace
  external_id = authproxy_actor.test.external_id
}
`, ns, ns, k.pub)
	var checks []resource.TestCheckFunc
	for _, ds := range []string{"data.authproxy_actor.by_id", "data.authproxy_actor.by_external_id"} {
		for _, attr := range []string{"id", "namespace", "external_id", "name", "created_at", "labels.%", "labels.app",
			"permissions.#", "permissions.0.namespace", "permissions.0.verbs.0", "permissions.0.resource_ids.0", "public_keys.#"} {
			checks = append(checks, resource.TestCheckResourceAttrPair(ds, attr, actAddr, attr))
		}
		checks = append(checks,
			resource.TestCheckResourceAttr(ds, "annotations.%", "0"),
			resource.TestCheckTypeSetElemAttr(ds, "public_keys.*", k.pub))
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy:             actCheckAbsent(api, ns, "looked-up"),
		Steps: []resource.TestStep{
			// The failing lookups come first, so that the post-test destroy runs on a valid configuration.
			{
				Config: `
data "authproxy_actor" "both" {
  id          = "act_abc"
  namespace   = "root"
  external_id = "admin"
}
`,
				ExpectError: regexp.MustCompile(`Invalid Attribute Combination`),
			},
			{
				Config: `
data "authproxy_actor" "half" {
  namespace = "root"
}
`,
				ExpectError: regexp.MustCompile(`Invalid Attribute Combination`),
			},
			{
				Config: fmt.Sprintf(`
data "authproxy_actor" "missing" {
  namespace   = %q
  external_id = "nobody"
}
`, ns),
				ExpectError: actPhrase("Actor not found", "No actor "+ns+"/nobody exists"),
			},
			{Config: config, Check: resource.ComposeAggregateTestCheckFunc(checks...)},
		},
	})
}

// ---------------------------------------------------------------------------------------
// Unit tests (no TF_ACC needed).

func TestActorExternalIDPattern(t *testing.T) {
	for _, ok := range []string{"a", "billing-service", "alice@example.com", "x:y=z+1_2.3"} {
		if !externalIDPattern.MatchString(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "a b", "a/b", "é"} {
		if externalIDPattern.MatchString(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestActorSchemaDescriptions makes sure the generated docs describe every attribute.
func TestActorSchemaDescriptions(t *testing.T) {
	ctx := context.Background()
	var rs fwresource.SchemaResponse
	NewActorResource().Schema(ctx, fwresource.SchemaRequest{}, &rs)
	var ds datasource.SchemaResponse
	NewActorDataSource().Schema(ctx, datasource.SchemaRequest{}, &ds)
	if rs.Schema.MarkdownDescription == "" || ds.Schema.MarkdownDescription == "" {
		t.Error("schema without description")
	}
	type described interface{ GetMarkdownDescription() string }
	var walk func(prefix string, attrs map[string]described, nested func(string) map[string]described)
	walk = func(prefix string, attrs map[string]described, nested func(string) map[string]described) {
		for name, a := range attrs {
			if a.GetMarkdownDescription() == "" {
				t.Errorf("%s%s has no MarkdownDescription", prefix, name)
			}
			if sub := nested(name); sub != nil {
				walk(prefix+name+".", sub, func(string) map[string]described { return nil })
			}
		}
	}
	ra := map[string]described{}
	for k, v := range rs.Schema.Attributes {
		ra[k] = v
	}
	walk("resource.", ra, func(name string) map[string]described {
		n, ok := rs.Schema.Attributes[name].(rschema.ListNestedAttribute)
		if !ok {
			return nil
		}
		out := map[string]described{}
		for k, v := range n.NestedObject.Attributes {
			out[k] = v
		}
		return out
	})
	da := map[string]described{}
	for k, v := range ds.Schema.Attributes {
		da[k] = v
	}
	walk("data.", da, func(name string) map[string]described {
		n, ok := ds.Schema.Attributes[name].(dschema.ListNestedAttribute)
		if !ok {
			return nil
		}
		out := map[string]described{}
		for k, v := range n.NestedObject.Attributes {
			out[k] = v
		}
		return out
	})
	if len(ra) != 9 || len(da) != 9 {
		t.Errorf("attribute counts: resource %d, data source %d", len(ra), len(da))
	}
}

func TestActorCheckPublicKey(t *testing.T) {
	priv, pub, err := sdk.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{pub, pub + " me@host\n", "  " + pub, actPEMPublicKey(t)} {
		if err := checkPublicKey(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for in, want := range map[string]string{
		"":                           "empty",
		"ssh-ed25519 AAAA":           "not an OpenSSH public key",
		string(priv):                 "private key",
		pub + "\n" + pub:             "several lines",
		"-----BEGIN PUBLIC KEY-----": "PEM",
	} {
		err := checkPublicKey(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.20q: got %v, want %q", in, err, want)
		}
		if err != nil && len(in) > 20 && strings.Contains(err.Error(), in) {
			t.Errorf("error quotes the input: %v", err)
		}
	}
}

func TestActorPublicKeySemanticEquality(t *testing.T) {
	a := publicKeyValue{StringValue: types.StringValue("ssh-ed25519 AAAA x\n")}
	b := publicKeyValue{StringValue: types.StringValue("ssh-ed25519 AAAA x")}
	c := publicKeyValue{StringValue: types.StringValue("ssh-ed25519 AAAB x")}
	if eq, _ := a.StringSemanticEquals(context.Background(), b); !eq {
		t.Error("trailing newline makes a difference")
	}
	if eq, _ := a.StringSemanticEquals(context.Background(), c); eq {
		t.Error("different keys are equal")
	}
	if a.Equal(b) {
		t.Error("Equal must stay exact")
	}
}

func TestActorProblemDiagnostics(t *testing.T) {
	detail := "x"
	p := &sdk.Problem{Status: 403, Title: "Forbidden", Detail: &detail, Errors: &[]sdk.FieldError{
		{Field: "permissions[1]", Message: "grants more than the calling actor holds; an actor can only grant permissions it has"},
	}}
	perms := []sdk.Permission{{Namespace: "root.a"}, {Namespace: "root.a.**", Resources: []sdk.Resource{"namespaces"}, Verbs: []sdk.Verb{"get"}}}
	diags := actorProblemDiagnostics("create actor", 403, p, nil, perms, nil)
	if len(diags) != 1 {
		t.Fatalf("%d diagnostics: %v", len(diags), diags)
	}
	d, ok := diags[0].(interface{ Path() path.Path })
	if !ok || !d.Path().Equal(path.Root("permissions").AtListIndex(1)) {
		t.Errorf("diagnostic not on permissions[1]: %v", diags[0])
	}
	if s := diags[0].Detail(); !strings.Contains(s, "get on namespaces in root.a.**") || !strings.Contains(s, "grant the provider's actor that permission first") {
		t.Errorf("detail: %s", s)
	}

	p = &sdk.Problem{Status: 400, Title: "Bad Request", Errors: &[]sdk.FieldError{
		{Field: "publicKeys[0]", Message: "RSA key is 1024 bits; at least 2048 are required"},
		{Field: "permissions[0].resourceIds[1]", Message: "duplicate resource id"},
		{Field: "labels.app", Message: "bad value"},
	}}
	diags = actorProblemDiagnostics("create actor", 400, p, nil, nil, []string{"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ comment"})
	if len(diags) != 3 {
		t.Fatalf("%d diagnostics: %v", len(diags), diags)
	}
	wantPaths := []path.Path{
		path.Root("public_keys"),
		path.Root("permissions").AtListIndex(0).AtName("resource_ids").AtListIndex(1),
		path.Root("labels").AtMapKey("app"),
	}
	for i, want := range wantPaths {
		d, ok := diags[i].(interface{ Path() path.Path })
		if !ok || !d.Path().Equal(want) {
			t.Errorf("diagnostic %d: want path %s, got %v", i, want, diags[i])
		}
	}
	if s := diags[0].Detail(); !strings.Contains(s, `"ssh-rsa AAAAB3NzaC1yc2EA…"`) || !strings.Contains(s, "1024 bits") {
		t.Errorf("public key detail: %s", s)
	}

	diags = actorProblemDiagnostics("create actor", 409, &sdk.Problem{Status: 409, Title: "Conflict", Detail: &detail}, nil, nil, nil)
	if len(diags) != 1 || !strings.Contains(diags[0].Detail(), "Import the existing object") {
		t.Errorf("conflict: %v", diags)
	}
}

func TestActorIndexedField(t *testing.T) {
	for in, want := range map[string]int{"permissions[0]": 0, "permissions[12]": 12} {
		if got, ok := indexedField(in, "permissions"); !ok || got != want {
			t.Errorf("%s: %d %v", in, got, ok)
		}
	}
	for _, in := range []string{"permissions", "permissions[0].verbs", "permissions[x]", "publicKeys[1]", "permissions[1]]"} {
		if _, ok := indexedField(in, "permissions"); ok {
			t.Errorf("%s matched", in)
		}
	}
}

func TestActorExactlyOneErrorRegexp(t *testing.T) {
	re := actExactlyOneError("Cannot reach AuthProxy")
	for _, ok := range []string{
		"Error running pre-apply plan: exit status 1\n\nError: Cannot reach AuthProxy\n\n  with provider[\"x\"],\n\nCalling failed. Errors: none. Err Erro Error Error:x EError:Error",
		"Error: Cannot reach AuthProxy",
		"ErrorError: Cannot reach AuthProxy\nErro",
	} {
		if !re.MatchString(ok) {
			t.Errorf("no match: %q", ok)
		}
	}
	for _, bad := range []string{
		"Error: Cannot reach AuthProxy\n\nError: Cannot reach AuthProxy",
		"Error: Something else\nError: Cannot reach AuthProxy",
		"EError: x\nError: Cannot reach AuthProxy",
		"Error: Cannot reach AuthProxy Error: ",
		"Cannot reach AuthProxy",
	} {
		if re.MatchString(bad) {
			t.Errorf("matched: %q", bad)
		}
	}
}

// ---------------------------------------------------------------------------------------
// Helpers.

type actKey struct {
	privPEM  []byte
	pub      string
	privFile string
}

// actNewKey generates an Ed25519 key pair and writes the private key to a temporary file.
func actNewKey(t *testing.T) actKey {
	t.Helper()
	priv, pub, err := sdk.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(f, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	return actKey{privPEM: priv, pub: pub, privFile: f}
}

// actPEMPublicKey returns a fresh Ed25519 public key as a PEM "PUBLIC KEY" block.
func actPEMPublicKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
}

// actNamespace creates root.<unique> through the admin API and removes it (and the actors in
// it) when the test ends.
func actNamespace(t *testing.T, api *sdk.ClientWithResponses) string {
	t.Helper()
	ns := "root." + uniqueSegment("actor")
	res, err := api.CreateNamespaceWithResponse(context.Background(), sdk.NamespaceCreate{Path: ns})
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create namespace %s: %v %s", ns, err, actBody(res))
	}
	t.Cleanup(func() { actCleanupNamespace(t, api, ns) })
	return ns
}

func actCleanupNamespace(t *testing.T, api *sdk.ClientWithResponses, ns string) {
	ctx := context.Background()
	res, err := api.ListActorsWithResponse(ctx, &sdk.ListActorsParams{Namespace: &ns})
	if err == nil && res.JSON200 != nil {
		for _, a := range res.JSON200.Items {
			_, _ = api.DeleteActorWithResponse(ctx, a.Id)
		}
	}
	if del, err := api.DeleteNamespaceWithResponse(ctx, ns); err == nil && del.StatusCode() != http.StatusNoContent && del.StatusCode() != http.StatusNotFound {
		t.Logf("cleanup: delete namespace %s: %d %s", ns, del.StatusCode(), string(del.Body))
	}
}

// actCreateProviderActor creates, through the admin API, an actor the provider can act as,
// holding perms, with its private key in a file.
func actCreateProviderActor(t *testing.T, api *sdk.ClientWithResponses, ns, externalID string, perms ...sdk.Permission) actKey {
	t.Helper()
	k := actNewKey(t)
	keys := []string{k.pub}
	res, err := api.CreateActorWithResponse(context.Background(), sdk.ActorCreate{
		Namespace: ns, ExternalId: externalID, Permissions: &perms, PublicKeys: &keys,
	})
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create actor %s/%s: %v %s", ns, externalID, err, actBody(res))
	}
	return k
}

type bodied interface {
	StatusCode() int
	GetBody() []byte
}

func actBody[R bodied](res R) string {
	var zero R
	if any(res) == any(zero) {
		return ""
	}
	return fmt.Sprintf("%d %s", res.StatusCode(), strings.TrimSpace(string(res.GetBody())))
}

// actGet returns the actor, or nil when the server answers 404.
func actGet(api *sdk.ClientWithResponses, ns, externalID string) (*sdk.Actor, error) {
	res, err := api.GetActorByExternalIdWithResponse(context.Background(), ns, externalID)
	if err != nil {
		return nil, err
	}
	if res.StatusCode() == http.StatusNotFound {
		return nil, nil
	}
	if res.JSON200 == nil {
		return nil, fmt.Errorf("get actor %s/%s: %s", ns, externalID, actBody(res))
	}
	return res.JSON200, nil
}

func actMustGet(t *testing.T, api *sdk.ClientWithResponses, ns, externalID string) *sdk.Actor {
	t.Helper()
	a, err := actGet(api, ns, externalID)
	if err != nil || a == nil {
		t.Fatalf("actor %s/%s: %v (missing: %v)", ns, externalID, err, a == nil)
	}
	return a
}

// actCheckServer checks the actor as the server holds it.
func actCheckServer(api *sdk.ClientWithResponses, ns, externalID string, check func(*sdk.Actor) error) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		a, err := actGet(api, ns, externalID)
		if err != nil {
			return err
		}
		if a == nil {
			return fmt.Errorf("actor %s/%s does not exist on the server", ns, externalID)
		}
		if rs, ok := s.RootModule().Resources[actAddr]; ok && rs.Primary != nil && rs.Primary.ID != a.Id && rs.Primary.Attributes["external_id"] == externalID {
			return fmt.Errorf("state id %s, server id %s", rs.Primary.ID, a.Id)
		}
		if check != nil {
			return check(a)
		}
		return nil
	}
}

func actCheckAbsent(api *sdk.ClientWithResponses, ns, externalID string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		a, err := actGet(api, ns, externalID)
		if err != nil {
			return err
		}
		if a != nil {
			return fmt.Errorf("actor %s/%s (%s) still exists", ns, externalID, a.Id)
		}
		return nil
	}
}

func actAssertAbsent(t *testing.T, api *sdk.ClientWithResponses, ns, externalID string) {
	t.Helper()
	if err := actCheckAbsent(api, ns, externalID)(nil); err != nil {
		t.Error(err)
	}
}

// actPermString renders permissions compactly: ns:resources:verbs[:ids]|…
func actPermString(ps []sdk.Permission) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		rs := make([]string, len(p.Resources))
		for i, r := range p.Resources {
			rs[i] = string(r)
		}
		vs := make([]string, len(p.Verbs))
		for i, v := range p.Verbs {
			vs[i] = string(v)
		}
		s := p.Namespace + ":" + strings.Join(rs, ",") + ":" + strings.Join(vs, ",")
		if p.ResourceIds != nil {
			s += ":" + strings.Join(*p.ResourceIds, ",")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "|")
}

func actCheckRFC3339(v string) error {
	_, err := time.Parse(time.RFC3339, v)
	return err
}

// actPhrase matches the phrases in order, whatever the CLI's line wrapping does to the spaces
// between their words.
func actPhrase(phrases ...string) *regexp.Regexp {
	parts := make([]string, len(phrases))
	for i, p := range phrases {
		words := strings.Fields(p)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		parts[i] = strings.Join(words, `[\s│]+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, ".*"))
}

// actExactlyOneError matches CLI output that holds exactly one diagnostic ("Error: " appears
// once), and that one is summary. RE2 has no lookahead, so "text without `Error: `" is spelled
// out: runs of characters that are not 'E', or an 'E' that a mismatching character ends
// before "Error: " completes, or partial prefixes of it followed by another 'E'.
func actExactlyOneError(summary string) *regexp.Regexp {
	const (
		// te: an 'E' starting "Error: " that breaks off at a character other than 'E'.
		te = `E(?:[^rE]|r(?:[^rE]|r(?:[^oE]|o(?:[^rE]|r(?:[^:E]|:[^ E])))))`
		// pe: an 'E' starting "Error: " cut short by the next 'E' or the end of the text.
		pe = `E(?:r(?:r(?:o(?:r:?)?)?)?)?`
	)
	noError := `(?:[^E]|` + te + `|(?:` + pe + `)+` + te + `)*(?:` + pe + `)*`
	return regexp.MustCompile(`\A` + noError + regexp.QuoteMeta("Error: "+summary) + noError + `\z`)
}
