package integration_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/authproxy/authproxy/sdk"
)

func randomMaterial(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("rand: %v", err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// bodies collects raw response bodies so that a test can assert a secret never appears
// in any of them.
type bodies [][]byte

func (b *bodies) add(r any) { *b = append(*b, bodyOf(r)) }

func (b bodies) wantNone(t testing.TB, secret string) {
	t.Helper()
	for i, body := range b {
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("response body %d holds the key material: %s", i, body)
		}
	}
}

func keyVersionStates(t testing.TB, c *sdk.ClientWithResponses, id string) map[int]string {
	t.Helper()
	vs := call(c.ListKeyVersionsWithResponse(t.Context(), id)).want(t, http.StatusOK).JSON200
	out := map[int]string{}
	for _, v := range vs.Items {
		if v.Id == "" || v.CreatedAt.IsZero() {
			t.Errorf("version %+v lacks id or createdAt", v)
		}
		out[v.Number] = string(v.State)
	}
	return out
}

func TestKeys(t *testing.T) {
	// The env source reads the server's process environment; t.Setenv cannot be used in
	// parallel tests, so the variable has a name no other test uses.
	const envVar = "AUTHPROXY_TEST_KEYS_ENV_KEY"
	envValue := randomMaterial(t, 32)
	if err := os.Setenv(envVar, envValue); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Unsetenv(envVar) })

	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.ka")
		h.mkNamespace(t, "root.ka.child")
		h.mkNamespace(t, "root.kb")
		var seen bodies

		// --- create -------------------------------------------------------------------
		gen := call(h.admin.CreateKeyWithResponse(ctx, sdk.KeyCreate{
			Namespace: "root.ka", Name: "gen", Source: sdk.KeySource{Kind: sdk.KeySourceGenerated},
			Labels: labelsPtr("tier", "gold"), Annotations: annotationsPtr("note", "first"),
		})).want(t, http.StatusCreated)
		seen.add(gen)
		g := *gen.JSON201
		if !strings.HasPrefix(g.Id, "key_") || g.Namespace != "root.ka" || g.Name != "gen" ||
			g.Source.Kind != sdk.KeySourceGenerated || g.CurrentVersion != 1 || g.Labels["tier"] != "gold" ||
			g.Annotations["note"] != "first" || g.CreatedAt.IsZero() || g.UpdatedAt.IsZero() {
			t.Errorf("created generated key = %s", jsonOf(t, g))
		}

		material := randomMaterial(t, 32)
		inl := call(h.admin.CreateKeyWithResponse(ctx, sdk.KeyCreate{
			Namespace: "root.ka", Name: "inl", Source: sdk.KeySource{Kind: sdk.KeySourceInline}, Material: &material,
		})).want(t, http.StatusCreated)
		seen.add(inl)
		in := *inl.JSON201
		if in.Source.Kind != sdk.KeySourceInline || in.CurrentVersion != 1 {
			t.Errorf("created inline key = %s", jsonOf(t, in))
		}
		if bytes.Contains(bodyOf(inl), []byte(`"material"`)) {
			t.Errorf("create response names material: %s", bodyOf(inl))
		}

		// --- get, list, patch -----------------------------------------------------------
		got := call(h.admin.GetKeyWithResponse(ctx, in.Id)).want(t, http.StatusOK)
		seen.add(got)
		if got.JSON200.Id != in.Id || got.JSON200.Name != "inl" {
			t.Errorf("get = %s", jsonOf(t, got.JSON200))
		}
		list := call(h.admin.ListKeysWithResponse(ctx, &sdk.ListKeysParams{Namespace: strPtr("root.ka")})).want(t, http.StatusOK)
		seen.add(list)
		if n := len(list.JSON200.Items); n != 2 {
			t.Errorf("list root.ka: %d keys, want 2: %s", n, bodyOf(list))
		}
		sel := call(h.admin.ListKeysWithResponse(ctx, &sdk.ListKeysParams{LabelSelector: strPtr("tier=gold")})).want(t, http.StatusOK)
		if len(sel.JSON200.Items) != 1 || sel.JSON200.Items[0].Id != g.Id {
			t.Errorf("list tier=gold = %s", bodyOf(sel))
		}
		paged := call(h.admin.ListKeysWithResponse(ctx, &sdk.ListKeysParams{Limit: intPtr(1)})).want(t, http.StatusOK)
		if len(paged.JSON200.Items) != 1 || paged.JSON200.NextCursor == nil {
			t.Errorf("list limit=1 = %s", bodyOf(paged))
		} else {
			next := call(h.admin.ListKeysWithResponse(ctx, &sdk.ListKeysParams{Limit: intPtr(1), Cursor: paged.JSON200.NextCursor})).want(t, http.StatusOK)
			if len(next.JSON200.Items) != 1 || next.JSON200.Items[0].Id == paged.JSON200.Items[0].Id {
				t.Errorf("second page = %s", bodyOf(next))
			}
		}
		upd := call(h.admin.UpdateKeyWithResponse(ctx, in.Id, sdk.KeyUpdate{Labels: labelsPtr("env", "prod")})).want(t, http.StatusOK)
		seen.add(upd)
		if upd.JSON200.Labels["env"] != "prod" || len(upd.JSON200.Labels) != 1 {
			t.Errorf("patched labels = %v", upd.JSON200.Labels)
		}

		// --- rotate, versions, retire ---------------------------------------------------
		rot := call(h.admin.RotateKeyWithResponse(ctx, g.Id, sdk.KeyRotate{})).want(t, http.StatusCreated)
		seen.add(rot)
		if rot.JSON201.Number != 2 || rot.JSON201.State != sdk.KeyVersionStateCurrent {
			t.Errorf("rotated version = %s", jsonOf(t, rot.JSON201))
		}
		if st := keyVersionStates(t, h.admin, g.Id); len(st) != 2 || st[1] != "previous" || st[2] != "current" {
			t.Errorf("versions after rotate = %v, want 1 previous, 2 current", st)
		}
		if k := call(h.admin.GetKeyWithResponse(ctx, g.Id)).want(t, http.StatusOK).JSON200; k.CurrentVersion != 2 {
			t.Errorf("currentVersion = %d, want 2", k.CurrentVersion)
		}
		call(h.admin.RetireKeyVersionWithResponse(ctx, g.Id, 2)).problem(t, http.StatusConflict, "", "current version")
		ret := call(h.admin.RetireKeyVersionWithResponse(ctx, g.Id, 1)).want(t, http.StatusOK)
		if ret.JSON200.State != sdk.KeyVersionStateRetired {
			t.Errorf("retired version = %s", jsonOf(t, ret.JSON200))
		}
		if st := keyVersionStates(t, h.admin, g.Id); st[1] != "retired" || st[2] != "current" {
			t.Errorf("versions after retire = %v", st)
		}
		call(h.admin.RetireKeyVersionWithResponse(ctx, g.Id, 9)).problem(t, http.StatusNotFound, "", "no version 9")

		material2 := randomMaterial(t, 32)
		r2 := call(h.admin.RotateKeyWithResponse(ctx, in.Id, sdk.KeyRotate{Material: &material2})).want(t, http.StatusCreated)
		seen.add(r2)
		call(h.admin.RotateKeyWithResponse(ctx, in.Id, sdk.KeyRotate{})).problem(t, http.StatusBadRequest, "material", "32 bytes")
		call(h.admin.RotateKeyWithResponse(ctx, g.Id, sdk.KeyRotate{Material: &material2})).problem(t, http.StatusBadRequest, "material", "generated key")
		// A rotation without any body works for generated keys.
		resp, body := h.adminDo(t, http.MethodPost, "/api/v1/keys/"+g.Id+"/_rotate", "", nil)
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("rotate without body: %d %s", resp.StatusCode, body)
		}

		// --- external source ------------------------------------------------------------
		envKey := call(h.admin.CreateKeyWithResponse(ctx, sdk.KeyCreate{
			Namespace: "root.ka", Name: "fromenv",
			Source: sdk.KeySource{Kind: sdk.KeySourceEnv, Params: &map[string]string{"var": envVar}},
		})).want(t, http.StatusCreated)
		seen.add(envKey)
		if p := envKey.JSON201.Source.Params; p == nil || (*p)["var"] != envVar {
			t.Errorf("env key source = %s", jsonOf(t, envKey.JSON201.Source))
		}
		call(h.admin.RotateKeyWithResponse(ctx, envKey.JSON201.Id, sdk.KeyRotate{})).problem(t, http.StatusConflict, "", "rotates at its source")
		call(h.admin.CreateKeyWithResponse(ctx, sdk.KeyCreate{
			Namespace: "root.ka", Name: "badenv",
			Source: sdk.KeySource{Kind: sdk.KeySourceEnv, Params: &map[string]string{"bogus": "x"}},
		})).problem(t, http.StatusBadRequest, "source.params", "no parameter")

		// --- assignment -------------------------------------------------------------------
		asg := call(h.admin.AssignNamespaceKeyWithResponse(ctx, "root.ka", sdk.KeyAssign{KeyId: g.Id})).want(t, http.StatusOK)
		if a := asg.JSON200; a.Namespace != "root.ka" || deref(a.KeyId) != g.Id || deref(a.EffectiveKeyId) != g.Id {
			t.Errorf("assign = %s", bodyOf(asg))
		}
		child := call(h.admin.GetNamespaceKeyWithResponse(ctx, "root.ka.child")).want(t, http.StatusOK)
		if a := child.JSON200; a.KeyId != nil || deref(a.EffectiveKeyId) != g.Id {
			t.Errorf("child assignment = %s", bodyOf(child))
		}
		call(h.admin.AssignNamespaceKeyWithResponse(ctx, "root.kb", sdk.KeyAssign{KeyId: g.Id})).problem(t, http.StatusBadRequest, "keyId", "neither")
		call(h.admin.DeleteKeyWithResponse(ctx, g.Id)).problem(t, http.StatusConflict, "", "unassign")
		call(h.admin.UnassignNamespaceKeyWithResponse(ctx, "root.ka")).want(t, http.StatusNoContent)
		call(h.admin.UnassignNamespaceKeyWithResponse(ctx, "root.ka")).problem(t, http.StatusNotFound, "", "no key assigned")
		after := call(h.admin.GetNamespaceKeyWithResponse(ctx, "root.ka.child")).want(t, http.StatusOK)
		if after.JSON200.EffectiveKeyId != nil || !bytes.Contains(bodyOf(after), []byte(`"effectiveKeyId":null`)) {
			t.Errorf("after unassign = %s, want effectiveKeyId null", bodyOf(after))
		}
		call(h.admin.GetNamespaceKeyWithResponse(ctx, "root.nope")).problem(t, http.StatusNotFound, "", "")

		// --- encryption status ------------------------------------------------------------
		for _, params := range []*sdk.GetEncryptionStatusParams{nil, {Namespace: strPtr("root.ka")}} {
			resp, body := h.adminDo(t, http.MethodGet, "/api/v1/encryption/status"+map[bool]string{true: "", false: "?namespace=root.ka"}[params == nil], "", nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status: %d %s", resp.StatusCode, body)
			}
			var st map[string]json.RawMessage
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatalf("status body: %v: %s", err, body)
			}
			var items []map[string]any
			if err := json.Unmarshal(st["items"], &items); err != nil || items == nil {
				t.Errorf("status items = %s, want an array", st["items"])
			}
			for _, it := range items {
				for _, f := range []string{"table", "column", "namespace", "keyVersionId", "count"} {
					if _, ok := it[f]; !ok {
						t.Errorf("status row %v lacks %s", it, f)
					}
				}
			}
			seen = append(seen, body)
		}

		// --- delete -----------------------------------------------------------------------
		call(h.admin.DeleteKeyWithResponse(ctx, in.Id)).want(t, http.StatusNoContent)
		call(h.admin.GetKeyWithResponse(ctx, in.Id)).problem(t, http.StatusNotFound, "", "key not found")
		call(h.admin.DeleteKeyWithResponse(ctx, in.Id)).problem(t, http.StatusNotFound, "", "key not found")

		seen.wantNone(t, material)
		seen.wantNone(t, material2)
		seen.wantNone(t, envValue)
	})
}

func TestKeysAuthorization(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.a")
		h.mkNamespace(t, "root.a.x")
		h.mkNamespace(t, "root.b")
		alice := h.mkActor(t, "root.a", "alice", perm("root.a.**", "*", "*"))
		reader := h.mkActor(t, "root.b", "reader", perm("root.b.**", "keys", "get,list"), perm("root.b.**", "namespaces", "get,update"))
		nsOnly := h.mkActor(t, "root.a", "nsonly", perm("root.a.**", "namespaces", "get,update"))

		bKey := *call(h.admin.CreateKeyWithResponse(ctx, sdk.KeyCreate{
			Namespace: "root.b", Name: "bkey", Source: sdk.KeySource{Kind: sdk.KeySourceGenerated},
		})).want(t, http.StatusCreated).JSON201
		aKey := *call(alice.Client.CreateKeyWithResponse(ctx, sdk.KeyCreate{
			Namespace: "root.a", Name: "akey", Source: sdk.KeySource{Kind: sdk.KeySourceGenerated},
		})).want(t, http.StatusCreated).JSON201

		// Key sources that reach into the server (its environment, files, network) are for
		// operators: alice holds everything in root.a and is still refused, nothing written.
		for _, src := range []sdk.KeySource{
			{Kind: sdk.KeySourceEnv, Params: &map[string]string{"var": "HOME"}},
			{Kind: sdk.KeySourceFile, Params: &map[string]string{"path": "/etc/hostname"}},
			{Kind: sdk.KeySourceAWSSecretsManager, Params: &map[string]string{"secret_id": "x", "region": "us-east-1", "endpoint": "http://127.0.0.1:1"}},
		} {
			call(alice.Client.CreateKeyWithResponse(ctx, sdk.KeyCreate{Namespace: "root.a", Name: "server-" + string(src.Kind), Source: src})).
				problem(t, http.StatusForbidden, "source.kind", "only operators")
			list := call(h.admin.ListKeysWithResponse(ctx, &sdk.ListKeysParams{Namespace: strPtr("root.a")})).want(t, http.StatusOK)
			for _, k := range list.JSON200.Items {
				if k.Name == "server-"+string(src.Kind) {
					t.Errorf("refused %s key was created anyway", src.Kind)
				}
			}
		}

		// Another tenant's key does not exist for alice.
		call(alice.Client.GetKeyWithResponse(ctx, bKey.Id)).problem(t, http.StatusNotFound, "", "key not found")
		call(alice.Client.RotateKeyWithResponse(ctx, bKey.Id, sdk.KeyRotate{})).problem(t, http.StatusNotFound, "", "key not found")
		call(alice.Client.DeleteKeyWithResponse(ctx, bKey.Id)).problem(t, http.StatusNotFound, "", "key not found")
		call(alice.Client.ListKeyVersionsWithResponse(ctx, bKey.Id)).problem(t, http.StatusNotFound, "", "key not found")
		call(alice.Client.RetireKeyVersionWithResponse(ctx, bKey.Id, 1)).problem(t, http.StatusNotFound, "", "key not found")
		call(alice.Client.UpdateKeyWithResponse(ctx, bKey.Id, sdk.KeyUpdate{Labels: labelsPtr("a", "b")})).problem(t, http.StatusNotFound, "", "key not found")
		call(alice.Client.CreateKeyWithResponse(ctx, sdk.KeyCreate{
			Namespace: "root.b", Name: "sneaky", Source: sdk.KeySource{Kind: sdk.KeySourceGenerated},
		})).problem(t, http.StatusForbidden, "", "")
		call(alice.Client.AssignNamespaceKeyWithResponse(ctx, "root.b", sdk.KeyAssign{KeyId: aKey.Id})).problem(t, http.StatusNotFound, "", "")
		list := call(alice.Client.ListKeysWithResponse(ctx, nil)).want(t, http.StatusOK).JSON200
		if len(list.Items) != 1 || list.Items[0].Id != aKey.Id {
			t.Errorf("alice lists %s, want only %s", jsonOf(t, list.Items), aKey.Id)
		}
		// alice may use her own key in her subtree.
		call(alice.Client.AssignNamespaceKeyWithResponse(ctx, "root.a.x", sdk.KeyAssign{KeyId: aKey.Id})).want(t, http.StatusOK)
		call(alice.Client.UnassignNamespaceKeyWithResponse(ctx, "root.a.x")).want(t, http.StatusNoContent)

		// A read-only actor sees the key but may not change it.
		call(reader.Client.GetKeyWithResponse(ctx, bKey.Id)).want(t, http.StatusOK)
		call(reader.Client.RotateKeyWithResponse(ctx, bKey.Id, sdk.KeyRotate{})).problem(t, http.StatusForbidden, "", "rotate")
		call(reader.Client.RetireKeyVersionWithResponse(ctx, bKey.Id, 1)).problem(t, http.StatusForbidden, "", "rotate")
		call(reader.Client.DeleteKeyWithResponse(ctx, bKey.Id)).problem(t, http.StatusForbidden, "", "delete")
		call(reader.Client.UpdateKeyWithResponse(ctx, bKey.Id, sdk.KeyUpdate{Labels: labelsPtr("a", "b")})).problem(t, http.StatusForbidden, "", "update")
		call(reader.Client.CreateKeyWithResponse(ctx, sdk.KeyCreate{
			Namespace: "root.b", Name: "nope", Source: sdk.KeySource{Kind: sdk.KeySourceGenerated},
		})).problem(t, http.StatusForbidden, "", "create")
		// Assignment needs update on the namespace and get on the key: the reader has both.
		call(reader.Client.AssignNamespaceKeyWithResponse(ctx, "root.b", sdk.KeyAssign{KeyId: bKey.Id})).want(t, http.StatusOK)
		call(reader.Client.UnassignNamespaceKeyWithResponse(ctx, "root.b")).want(t, http.StatusNoContent)
		// Without get on the key, the key does not exist.
		call(nsOnly.Client.AssignNamespaceKeyWithResponse(ctx, "root.a", sdk.KeyAssign{KeyId: aKey.Id})).problem(t, http.StatusNotFound, "", "key not found")
		// Status needs get on keys: nsonly sees no rows, but the call succeeds.
		st := call(nsOnly.Client.GetEncryptionStatusWithResponse(ctx, nil)).want(t, http.StatusOK)
		if len(st.JSON200.Items) != 0 {
			t.Errorf("status without keys permission = %s", bodyOf(st))
		}
	})
}

func TestKeysBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.kbad")
		post := func(body string) (*http.Response, []byte) {
			return h.adminDo(t, http.MethodPost, "/api/v1/keys", "application/json", []byte(body))
		}

		resp, body := post(`{"namespace":"root.kbad","name":"k","source":{"kind":"bogus"}}`)
		wantProblem(t, resp, body, http.StatusBadRequest, "source.kind", "")

		short := randomMaterial(t, 16)
		resp, body = post(`{"namespace":"root.kbad","name":"k","source":{"kind":"inline"},"material":"` + short + `"}`)
		wantProblem(t, resp, body, http.StatusBadRequest, "material", "32 bytes")
		if bytes.Contains(body, []byte(short)) {
			t.Errorf("error echoes the material: %s", body)
		}
		notB64 := "not-base64-secret-value!!"
		resp, body = post(`{"namespace":"root.kbad","name":"k","source":{"kind":"inline"},"material":"` + notB64 + `"}`)
		wantProblem(t, resp, body, http.StatusBadRequest, "material", "base64")
		if bytes.Contains(body, []byte(notB64)) {
			t.Errorf("error echoes the material: %s", body)
		}
		full := randomMaterial(t, 32)
		resp, body = post(`{"namespace":"root.kbad","name":"k","source":{"kind":"generated"},"material":"` + full + `"}`)
		wantProblem(t, resp, body, http.StatusBadRequest, "material", "only inline")
		if bytes.Contains(body, []byte(full)) {
			t.Errorf("error echoes the material: %s", body)
		}

		resp, body = post(`{"namespace":"root.kbad","name":"k","source":{"kind":"generated"},"bogus":1}`)
		wantProblem(t, resp, body, http.StatusBadRequest, "bogus", "unknown field")
		resp, body = post(`{"namespace":"root.kbad","name":"k","source":{"kind":"generated","extra":"x"}}`)
		wantProblem(t, resp, body, http.StatusBadRequest, "source.extra", "unknown field")
		resp, body = post(`{"namespace":"root.kbad","name":"-bad-","source":{"kind":"generated"}}`)
		wantProblem(t, resp, body, http.StatusBadRequest, "name", "")
		resp, body = post(`{"namespace":"root.missing","name":"k","source":{"kind":"generated"}}`)
		wantProblem(t, resp, body, http.StatusBadRequest, "namespace", "does not exist")
		resp, body = post(`{"namespace":"root.kbad","name":"k","source":{"kind":"env"}}`)
		wantProblem(t, resp, body, http.StatusBadRequest, "source.params", "var")

		call(h.admin.CreateKeyWithResponse(ctx, sdk.KeyCreate{Namespace: "root.kbad", Name: "dup", Source: sdk.KeySource{Kind: sdk.KeySourceGenerated}})).want(t, http.StatusCreated)
		call(h.admin.CreateKeyWithResponse(ctx, sdk.KeyCreate{Namespace: "root.kbad", Name: "dup", Source: sdk.KeySource{Kind: sdk.KeySourceGenerated}})).problem(t, http.StatusConflict, "", "already exists")

		resp, body = h.adminDo(t, http.MethodGet, "/api/v1/keys/not-a-key-id", "", nil)
		wantProblem(t, resp, body, http.StatusBadRequest, "id", "")
		resp, body = h.adminDo(t, http.MethodGet, "/api/v1/keys/key_doesnotexist", "", nil)
		wantProblem(t, resp, body, http.StatusNotFound, "", "key not found")
		resp, body = h.adminDo(t, http.MethodPut, "/api/v1/namespaces/root.kbad/key", "application/json", []byte(`{"keyId":"key_x","more":1}`))
		wantProblem(t, resp, body, http.StatusBadRequest, "more", "unknown field")
	})
}
