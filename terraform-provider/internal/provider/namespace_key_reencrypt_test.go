package provider

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/authproxy/authproxy/sdk"
)

// How long a test waits for the server's worker to re-encrypt, and how often it asks.
const (
	reencDeadline = 30 * time.Second
	reencInterval = 200 * time.Millisecond
)

// TestAccTenantKeyReencryption follows a tenant's stored values through key changes made
// with Terraform, as the server's re-encryption worker re-seals them: values first sealed
// with the global root key move to a generated tenant key when it is assigned, to its new
// version when it is rotated (after which the old version can be retired), to a key the
// tenant brings (inline material, write-only) when that is assigned to a child namespace
// and rotated, and back to the root key when the assignments are removed. Every value
// keeps its plaintext throughout, and the inline material never reaches the state or a
// plan.
func TestAccTenantKeyReencryption(t *testing.T) {
	seg := uniqueSegment("byok")
	tenant := "root.tenants." + seg
	child := tenant + ".eu"
	m1, raw1 := keyTestMaterial(t)
	m2, raw2 := keyTestMaterial(t)
	secrets := [][]byte{[]byte(m1), raw1, []byte(hex.EncodeToString(raw1)), []byte(m2), raw2, []byte(hex.EncodeToString(raw2))}

	// The stored values, by row id, and the namespace each lives in.
	values := map[string]reencValue{}
	for i := 1; i <= 3; i++ {
		values[fmt.Sprintf("%s-tenant-%d", seg, i)] = reencValue{ns: tenant, plaintext: fmt.Sprintf("tenant secret %d of %s", i, seg)}
	}
	for i := 1; i <= 2; i++ {
		values[fmt.Sprintf("%s-eu-%d", seg, i)] = reencValue{ns: child, plaintext: fmt.Sprintf("eu secret %d of %s", i, seg)}
	}
	var rootVersion, tenantKey, byokKey string

	// The whole state and every plan (input variables included: the material comes from an
	// ephemeral variable) must be free of the material, and so must every attribute.
	noMaterial := resource.ConfigPlanChecks{
		PreApply:             []plancheck.PlanCheck{keyWholePlanJSONHasNo{secrets: secrets}},
		PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), keyWholePlanJSONHasNo{secrets: secrets}},
	}
	noMaterialState := []statecheck.StateCheck{keyStateJSONHasNo{secrets: secrets}}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			nsCheckGone(t, child, tenant),
			keyCheckGone(t, &tenantKey),
			keyCheckGone(t, &byokKey),
		),
		Steps: []resource.TestStep{
			{
				// The tenant and its child namespace, under a shared root.tenants.
				PreConfig: func() { reencEnsureNamespace(t, "root.tenants") },
				Config:    reencConfig(tenant, reencOpts{}),
			},
			{
				// Values stored before any tenant key exists are sealed with the root key;
				// assigning a generated key to the tenant moves them (the child's too, as
				// it inherits the key) to that key's current version.
				PreConfig: func() {
					for id, v := range values {
						accServer.PutSecret(t, v.ns, id, v.plaintext)
					}
					rootVersion = reencSameVersion(t, values)
				},
				Config: reencConfig(tenant, reencOpts{tenantKey: true, assignTenant: true}),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("authproxy_encryption_key.tenant", "current_version", "1"),
					keyCaptureID("authproxy_encryption_key.tenant", &tenantKey),
					reencCheckValues(t, values, map[string]reencTarget{
						tenant: {key: &tenantKey, version: 1},
						child:  {key: &tenantKey, version: 1},
					}),
				),
			},
			{
				// Rotating the tenant key re-seals every value with version 2; version 1
				// then seals nothing and can be retired.
				Config: reencConfig(tenant, reencOpts{tenantKey: true, assignTenant: true, trigger: "2026-q2"}),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("authproxy_encryption_key.tenant", "current_version", "2"),
					keyCheckSameID("authproxy_encryption_key.tenant", &tenantKey),
					reencCheckValues(t, values, map[string]reencTarget{
						tenant: {key: &tenantKey, version: 2},
						child:  {key: &tenantKey, version: 2},
					}),
					reencCheckRetire(t, &tenantKey, 1),
				),
			},
			{
				// Bring your own key: inline material for the child namespace, assigned to
				// it. The child's values move to it; the tenant's stay on the tenant key.
				Config:          reencConfig(tenant, reencOpts{tenantKey: true, assignTenant: true, trigger: "2026-q2", byokVersion: 1, assignChild: true}),
				ConfigVariables: config.Variables{"tenant_key": config.StringVariable(m1)},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("authproxy_encryption_key.byok", "source.kind", "inline"),
					resource.TestCheckResourceAttr("authproxy_encryption_key.byok", "current_version", "1"),
					resource.TestCheckNoResourceAttr("authproxy_encryption_key.byok", "material_wo"),
					keyCheckStateHasNo(secrets),
					keyCaptureID("authproxy_encryption_key.byok", &byokKey),
					reencCheckValues(t, values, map[string]reencTarget{
						tenant: {key: &tenantKey, version: 2},
						child:  {key: &byokKey, version: 1},
					}),
				),
				ConfigStateChecks: noMaterialState,
				ConfigPlanChecks:  noMaterial,
			},
			{
				// Rotating the brought key to new material: bump material_wo_version.
				Config:          reencConfig(tenant, reencOpts{tenantKey: true, assignTenant: true, trigger: "2026-q2", byokVersion: 2, assignChild: true}),
				ConfigVariables: config.Variables{"tenant_key": config.StringVariable(m2)},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("authproxy_encryption_key.byok", "current_version", "2"),
					keyCheckSameID("authproxy_encryption_key.byok", &byokKey),
					keyCheckStateHasNo(secrets),
					reencCheckValues(t, values, map[string]reencTarget{
						tenant: {key: &tenantKey, version: 2},
						child:  {key: &byokKey, version: 2},
					}),
				),
				ConfigStateChecks: noMaterialState,
				ConfigPlanChecks:  noMaterial,
			},
			{
				// Without assignments every value goes back to the root key, so that the
				// keys seal nothing and the final destroy may delete them.
				Config:          reencConfig(tenant, reencOpts{tenantKey: true, trigger: "2026-q2", byokVersion: 2}),
				ConfigVariables: config.Variables{"tenant_key": config.StringVariable(m2)},
				Check: resource.ComposeTestCheckFunc(
					keyCheckStateHasNo(secrets),
					reencCheckValues(t, values, map[string]reencTarget{
						tenant: {root: &rootVersion},
						child:  {root: &rootVersion},
					}),
				),
				ConfigStateChecks: noMaterialState,
				ConfigPlanChecks:  noMaterial,
			},
		},
	})
}

type reencValue struct{ ns, plaintext string }

// reencTarget names the key version a namespace's values must end up sealed with: version
// of *key, or the root key version *root.
type reencTarget struct {
	key     *string
	version int
	root    *string
}

type reencOpts struct {
	tenantKey, assignTenant bool
	trigger                 string
	byokVersion             int // 0: no brought key
	assignChild             bool
}

// reencConfig is the tenant namespace with its child "eu", and as opts says: a generated
// tenant key (rotated by trigger) assigned to the tenant, and an inline key of the child
// (material from the ephemeral variable tenant_key) assigned to the child.
func reencConfig(tenant string, o reencOpts) string {
	var b strings.Builder
	fmt.Fprintf(&b, `
provider "authproxy" {}

resource "authproxy_namespace" "tenant" {
  path = %q
}

resource "authproxy_namespace" "child" {
  path = "${authproxy_namespace.tenant.path}.eu"
}
`, tenant)
	if o.tenantKey {
		trigger := ""
		if o.trigger != "" {
			trigger = fmt.Sprintf("\n  rotation_trigger = %q", o.trigger)
		}
		fmt.Fprintf(&b, `
resource "authproxy_encryption_key" "tenant" {
  namespace = authproxy_namespace.tenant.path
  name      = "tenant"
  source    = { kind = "generated" }%s
}
`, trigger)
	}
	if o.assignTenant {
		b.WriteString(`
resource "authproxy_namespace_key" "tenant" {
  namespace = authproxy_namespace.tenant.path
  key_id    = authproxy_encryption_key.tenant.id
}
`)
	}
	if o.byokVersion > 0 {
		fmt.Fprintf(&b, `
variable "tenant_key" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "authproxy_encryption_key" "byok" {
  namespace           = authproxy_namespace.child.path
  name                = "byok"
  source              = { kind = "inline" }
  material_wo         = var.tenant_key
  material_wo_version = %d
}
`, o.byokVersion)
	}
	if o.assignChild {
		b.WriteString(`
resource "authproxy_namespace_key" "child" {
  namespace = authproxy_namespace.child.path
  key_id    = authproxy_encryption_key.byok.id
}
`)
	}
	return b.String()
}

// reencEnsureNamespace creates namespace p (its parent must exist) unless it exists.
func reencEnsureNamespace(t *testing.T, p string) {
	t.Helper()
	out, err := adminClient(t).CreateNamespaceWithResponse(context.Background(), sdk.NamespaceCreate{Path: p})
	if err != nil {
		t.Fatalf("create namespace %s: %v", p, err)
	}
	if out.StatusCode() != http.StatusCreated && out.StatusCode() != http.StatusConflict {
		t.Fatalf("create namespace %s: %d %s", p, out.StatusCode(), out.Body)
	}
}

// reencSameVersion opens every value and returns the one key version that seals them all.
func reencSameVersion(t *testing.T, values map[string]reencValue) string {
	t.Helper()
	seen := map[string]bool{}
	for id, v := range values {
		plain, kv := accServer.OpenSecret(t, id)
		if plain != v.plaintext {
			t.Fatalf("value %s opens to %q, want %q", id, plain, v.plaintext)
		}
		seen[kv] = true
	}
	if len(seen) != 1 {
		t.Fatalf("values are sealed with %d key versions, want 1 (the root key's): %v", len(seen), seen)
	}
	for kv := range seen {
		return kv
	}
	return ""
}

// reencVersionID returns the id of version number n of key id, which must be its current
// version.
func reencVersionID(ctx context.Context, c *sdk.ClientWithResponses, id string, n int) (string, error) {
	out, err := c.ListKeyVersionsWithResponse(ctx, id)
	if err != nil {
		return "", err
	}
	if out.JSON200 == nil {
		return "", fmt.Errorf("list versions of key %s: %d %s", id, out.StatusCode(), out.Body)
	}
	for _, v := range out.JSON200.Items {
		if v.Number == n {
			if v.State != sdk.KeyVersionStateCurrent {
				return "", fmt.Errorf("version %d of key %s is %s, want current", n, id, v.State)
			}
			return v.Id, nil
		}
	}
	return "", fmt.Errorf("key %s has no version %d: %s", id, n, out.Body)
}

// reencCheckValues waits until re-encryption has moved every value of each namespace of
// want to its target key version, then opens every value directly with the server's keys:
// the plaintext is unchanged, the sealing version is the target, and the stored envelope
// does not hold the plaintext.
func reencCheckValues(t *testing.T, values map[string]reencValue, want map[string]reencTarget) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		c := adminClient(t)
		target := map[string]string{}
		for ns, w := range want {
			if w.root != nil {
				target[ns] = *w.root
				continue
			}
			kv, err := reencVersionID(ctx, c, *w.key, w.version)
			if err != nil {
				return err
			}
			target[ns] = kv
		}
		counts := map[string]int64{}
		for _, v := range values {
			counts[v.ns]++
		}
		if err := reencWait(ctx, c, target, counts); err != nil {
			return err
		}
		ids := make([]string, 0, len(values))
		for id := range values {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			v := values[id]
			plain, kv := accServer.OpenSecret(t, id)
			if plain != v.plaintext {
				return fmt.Errorf("value %s opens to %q, want %q", id, plain, v.plaintext)
			}
			if kv != target[v.ns] {
				return fmt.Errorf("value %s (namespace %s) is sealed with %s, want %s", id, v.ns, kv, target[v.ns])
			}
			if strings.Contains(accServer.RawSecret(t, id), v.plaintext) {
				return fmt.Errorf("value %s is stored in the clear", id)
			}
		}
		return nil
	}
}

// reencWait polls the encryption status until the re-encryption job is done and, for each
// namespace of target, the status counts exactly counts[ns] values, all sealed with
// target[ns]. A failed job, or the deadline, is an error that says what was last seen.
func reencWait(ctx context.Context, c *sdk.ClientWithResponses, target map[string]string, counts map[string]int64) error {
	ctx, cancel := context.WithTimeout(ctx, reencDeadline)
	defer cancel()
	tick := time.NewTicker(reencInterval)
	defer tick.Stop()
	last := "no status yet"
	for {
		out, err := c.GetEncryptionStatusWithResponse(ctx, nil)
		switch {
		case err != nil && ctx.Err() == nil:
			return fmt.Errorf("encryption status: %w", err)
		case err == nil && out.JSON200 == nil:
			return fmt.Errorf("encryption status: %d %s", out.StatusCode(), out.Body)
		case err == nil:
			st := out.JSON200
			if j := st.Reencryption; j != nil && j.State == sdk.ReencryptionJobFailed {
				return fmt.Errorf("re-encryption job %s (%s) failed: %s", j.Id, j.Reason, reencDeref(j.Error))
			}
			done, summary := reencSettled(st, target, counts)
			if done {
				return nil
			}
			last = summary
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("values not re-encrypted within %s: %s", reencDeadline, last)
		case <-tick.C:
		}
	}
}

// reencSettled says whether st shows a finished job and every namespace of target holding
// exactly its count of values, all under its target version; summary describes st.
func reencSettled(st *sdk.EncryptionStatus, target map[string]string, counts map[string]int64) (bool, string) {
	var b strings.Builder
	settled := true
	if j := st.Reencryption; j == nil {
		settled = false
		b.WriteString("no re-encryption job")
	} else {
		if j.State != sdk.ReencryptionJobDone {
			settled = false
		}
		fmt.Fprintf(&b, "job %s %s (%s; scanned %d, rewritten %d, unreadable %d)", j.Id, j.State, j.Reason, j.Scanned, j.Rewritten, j.Unreadable)
	}
	got := map[string]int64{}
	for _, r := range st.Items {
		want, ok := target[r.Namespace]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "; %s %s.%s %s×%d", r.Namespace, r.Table, r.Column, r.KeyVersionId, r.Count)
		if r.KeyVersionId != want {
			settled = false
		}
		got[r.Namespace] += r.Count
	}
	for ns, n := range counts {
		if got[ns] != n {
			settled = false
			fmt.Fprintf(&b, "; %s holds %d values, want %d", ns, got[ns], n)
		}
	}
	return settled, b.String()
}

// reencCheckRetire retires version n of *key (no value is sealed with it any more) and
// checks that the current version cannot be retired.
func reencCheckRetire(t *testing.T, key *string, n int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		c := adminClient(t)
		out, err := c.RetireKeyVersionWithResponse(ctx, *key, n)
		if err != nil {
			return err
		}
		if out.JSON200 == nil || out.JSON200.State != sdk.KeyVersionStateRetired {
			return fmt.Errorf("retire version %d of key %s: %d %s", n, *key, out.StatusCode(), out.Body)
		}
		k, err := c.GetKeyWithResponse(ctx, *key)
		if err != nil {
			return err
		}
		if k.JSON200 == nil {
			return fmt.Errorf("get key %s: %d %s", *key, k.StatusCode(), k.Body)
		}
		cur, err := c.RetireKeyVersionWithResponse(ctx, *key, k.JSON200.CurrentVersion)
		if err != nil {
			return err
		}
		if cur.StatusCode() != http.StatusConflict {
			return fmt.Errorf("retiring the current version %d of key %s: got %d, want 409: %s", k.JSON200.CurrentVersion, *key, cur.StatusCode(), cur.Body)
		}
		vs, err := c.ListKeyVersionsWithResponse(ctx, *key)
		if err != nil {
			return err
		}
		if vs.JSON200 == nil {
			return fmt.Errorf("list versions of key %s: %d %s", *key, vs.StatusCode(), vs.Body)
		}
		for _, v := range vs.JSON200.Items {
			if v.Number == n && v.State != sdk.KeyVersionStateRetired {
				return fmt.Errorf("version %d of key %s is %s after retiring it", n, *key, v.State)
			}
		}
		return nil
	}
}

func reencDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
