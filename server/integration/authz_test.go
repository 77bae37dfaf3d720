package integration_test

// Authorization end to end. The contract (openapi info.description, "Permissions"):
//
//   - a direct get of an invisible resource answers 404: a resource the caller may not see is
//     reported exactly as if it did not exist (same status, same body shape), so existence
//     does not leak across tenants; the same holds for writes to it (patch, delete);
//   - a write the caller may not make on a resource it can see answers 403;
//   - creating without permission answers 403 (there is no existing resource to hide);
//   - lists silently contain only what the caller may list (the `list` verb);
//   - an actor may only grant permissions it holds itself (403 naming permissions[i]);
//   - a permission never reaches outside its actor's own namespace subtree (400);
//   - a token's `permissions` claim narrows the actor's permissions, never widens them.

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authproxy/authproxy/sdk"
)

// sameProblemShape checks two problem bodies are identical once the per-request members
// (requestId, instance) are dropped and, in a's detail, aSubject is replaced by bSubject.
func sameProblemShape(t testing.TB, a, b []byte, aSubject, bSubject string) {
	t.Helper()
	norm := func(body []byte, from, to string) string {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("problem is not JSON: %v: %s", err, body)
		}
		delete(m, "requestId")
		delete(m, "instance")
		if d, ok := m["detail"].(string); ok && from != "" {
			m["detail"] = strings.ReplaceAll(d, from, to)
		}
		return jsonOf(t, m)
	}
	if na, nb := norm(a, aSubject, bSubject), norm(b, "", ""); na != nb {
		t.Errorf("the problem for an invisible resource differs from the one for a missing resource:\ninvisible %s\n  missing %s", a, b)
	}
}

func TestTenantIsolation(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		for _, p := range []string{"root.a", "root.b", "root.a.x"} {
			h.mkNamespace(t, p, "tenant", strings.TrimPrefix(p, "root."))
		}
		alice := h.mkActor(t, "root.a", "alice", perm("root.a.**", "*", "*"))
		bob := h.mkActor(t, "root.b", "bob", perm("root.b.**", "*", "*"))
		xavier := h.mkActor(t, "root.a.x", "xavier")
		A := alice.Client
		rootB := *h.wantNamespace(t, "root.b")

		t.Run("get invisible namespace is 404 like a missing one", func(t *testing.T) {
			rb := call(A.GetNamespaceWithResponse(ctx, "root.b"))
			rb.problem(t, http.StatusNotFound, "", `namespace "root.b" not found`)
			missing := call(A.GetNamespaceWithResponse(ctx, "root.a.nope"))
			missing.problem(t, http.StatusNotFound, "", `namespace "root.a.nope" not found`)
			sameProblemShape(t, rb.r.Body, missing.r.Body, "root.b", "root.a.nope")
			// Missing inside the other tenant, and the root above A.
			call(A.GetNamespaceWithResponse(ctx, "root.b.nope")).problem(t, http.StatusNotFound, "", `namespace "root.b.nope" not found`)
			rr := call(A.GetNamespaceWithResponse(ctx, "root"))
			rr.problem(t, http.StatusNotFound, "", `namespace "root" not found`)
			sameProblemShape(t, rr.r.Body, missing.r.Body, `"root"`, `"root.a.nope"`)
			// A sees its own subtree.
			call(A.GetNamespaceWithResponse(ctx, "root.a")).want(t, http.StatusOK)
			call(A.GetNamespaceWithResponse(ctx, "root.a.x")).want(t, http.StatusOK)
		})

		t.Run("lists contain only the own subtree", func(t *testing.T) {
			if got := paths(allNamespaces(t, A, sdk.ListNamespacesParams{})); !slices.Equal(got, []string{"root.a", "root.a.x"}) {
				t.Errorf("A lists namespaces %v, want [root.a root.a.x]", got)
			}
			if got := paths(allNamespaces(t, A, sdk.ListNamespacesParams{ChildrenOf: strPtr("root")})); !slices.Equal(got, []string{"root.a"}) {
				t.Errorf("A lists children of root %v, want [root.a]", got)
			}
			if got := allNamespaces(t, A, sdk.ListNamespacesParams{ChildrenOf: strPtr("root.b")}); len(got) != 0 {
				t.Errorf("A lists children of root.b %v, want none", paths(got))
			}
			if got := allNamespaces(t, A, sdk.ListNamespacesParams{LabelSelector: strPtr("tenant=b")}); len(got) != 0 {
				t.Errorf("A lists tenant=b namespaces %v, want none", paths(got))
			}
			want := []string{alice.Id, xavier.Id}
			slices.Sort(want)
			if got := actorIDs(allActors(t, A, sdk.ListActorsParams{})); !slices.Equal(got, want) {
				t.Errorf("A lists actors %v, want %v (alice, xavier)", got, want)
			}
			if got := allActors(t, A, sdk.ListActorsParams{Namespace: strPtr("root.b")}); len(got) != 0 {
				t.Errorf("A lists actors of root.b %v, want none", actorIDs(got))
			}
			if got := allActors(t, A, sdk.ListActorsParams{Namespace: strPtr("root")}); len(got) != 0 {
				t.Errorf("A lists actors of root %v, want none (not even the admin)", actorIDs(got))
			}
		})

		t.Run("get invisible actor is 404 like a missing one", func(t *testing.T) {
			byID := call(A.GetActorWithResponse(ctx, bob.Id))
			byID.problem(t, http.StatusNotFound, "", "actor not found")
			missingID := call(A.GetActorWithResponse(ctx, "act_doesnotexist"))
			missingID.problem(t, http.StatusNotFound, "", "actor not found")
			sameProblemShape(t, byID.r.Body, missingID.r.Body, "", "")

			byExt := call(A.GetActorByExternalIdWithResponse(ctx, "root.b", "bob"))
			byExt.problem(t, http.StatusNotFound, "", "actor not found")
			missingExt := call(A.GetActorByExternalIdWithResponse(ctx, "root.a", "nobody"))
			missingExt.problem(t, http.StatusNotFound, "", "actor not found")
			sameProblemShape(t, byExt.r.Body, missingExt.r.Body, "", "")

			call(A.GetActorWithResponse(ctx, h.s.AdminID)).problem(t, http.StatusNotFound, "", "actor not found")
			call(A.GetActorWithResponse(ctx, xavier.Id)).want(t, http.StatusOK)
		})

		t.Run("writes to invisible resources are 404 and change nothing", func(t *testing.T) {
			call(A.UpdateNamespaceWithResponse(ctx, "root.b", sdk.UpdateNamespaceJSONRequestBody{Labels: labelsPtr("owned", "yes")})).
				problem(t, http.StatusNotFound, "", `namespace "root.b" not found`)
			call(A.DeleteNamespaceWithResponse(ctx, "root.b")).problem(t, http.StatusNotFound, "", `namespace "root.b" not found`)
			h.wantNamespaceUnchanged(t, rootB)

			upd := sdk.UpdateActorJSONRequestBody{Name: strPtr("pwned"), PublicKeys: &[]string{alice.AuthorizedKey}}
			call(A.UpdateActorWithResponse(ctx, bob.Id, upd)).problem(t, http.StatusNotFound, "", "actor not found")
			call(A.UpdateActorByExternalIdWithResponse(ctx, "root.b", "bob", upd)).problem(t, http.StatusNotFound, "", "actor not found")
			// Even a patch granting what A lacks is hidden as a 404, not a 403.
			call(A.UpdateActorWithResponse(ctx, bob.Id, sdk.UpdateActorJSONRequestBody{Permissions: perms(perm("root.b.**", "*", "*"))})).
				problem(t, http.StatusNotFound, "", "actor not found")
			call(A.DeleteActorWithResponse(ctx, bob.Id)).problem(t, http.StatusNotFound, "", "actor not found")
			call(A.DeleteActorByExternalIdWithResponse(ctx, "root.b", "bob")).problem(t, http.StatusNotFound, "", "actor not found")
			call(A.DeleteActorWithResponse(ctx, h.s.AdminID)).problem(t, http.StatusNotFound, "", "actor not found")
			h.wantActorUnchanged(t, bob.Actor)
			// Bob still authenticates with his own key.
			call(bob.Client.WhoamiWithResponse(ctx)).want(t, http.StatusOK)
		})

		t.Run("creating outside the subtree is 403 and creates nothing", func(t *testing.T) {
			call(A.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: "root.b.y"})).
				problem(t, http.StatusForbidden, "", `not permitted to create namespace "root.b.y"`)
			h.wantNoNamespace(t, "root.b.y")
			call(A.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: "root.c"})).
				problem(t, http.StatusForbidden, "", `not permitted to create namespace "root.c"`)
			h.wantNoNamespace(t, "root.c")
			// A missing parent in the other tenant answers the same 403, not "does not exist".
			call(A.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: "root.b.nope.y"})).
				problem(t, http.StatusForbidden, "", "not permitted")
			h.wantNoNamespace(t, "root.b.nope.y")

			call(A.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{Namespace: "root.b", ExternalId: "mole"})).
				problem(t, http.StatusForbidden, "", `not permitted to create actors in namespace "root.b"`)
			h.wantNoActor(t, "root.b", "mole")
			call(A.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{Namespace: "root", ExternalId: "mole"})).
				problem(t, http.StatusForbidden, "", "not permitted")
			h.wantNoActor(t, "root", "mole")
		})

		t.Run("granting a subset is allowed", func(t *testing.T) {
			a := call(A.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{
				Namespace: "root.a", ExternalId: "deputy", Permissions: perms(perm("root.a.**", "*", "*")),
			})).want(t, http.StatusCreated).JSON201
			wantPermissions(t, "deputy", a.Permissions, []sdk.Permission{perm("root.a.**", "*", "*")})
			call(A.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{
				Namespace: "root.a.x", ExternalId: "helper", Permissions: perms(perm("root.a.x", "namespaces", "get"), perm("root.a.x.**", "actors", "get,list", xavier.Id)),
			})).want(t, http.StatusCreated)
			// A permission beyond the new actor's subtree is malformed (400 naming it) before it
			// is a grant question.
			call(A.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{
				Namespace: "root.a", ExternalId: "usurper", Permissions: perms(perm("root.**", "*", "*")),
			})).problem(t, http.StatusBadRequest, "permissions[0].namespace", "outside the actor's namespace")
			h.wantNoActor(t, "root.a", "usurper")
		})

		t.Run("granting what the caller lacks is 403 naming the permission", func(t *testing.T) {
			g := h.mkActor(t, "root.a", "granter", perm("root.a.**", "actors", "get,list,create"), perm("root.a.**", "namespaces", "get"))
			call(g.Client.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{
				Namespace: "root.a", ExternalId: "ok-grant", Permissions: perms(perm("root.a.x", "namespaces", "get")),
			})).want(t, http.StatusCreated)

			call(g.Client.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{
				Namespace: "root.a", ExternalId: "bad-grant-1", Permissions: perms(perm("root.a.x", "namespaces", "update")),
			})).problem(t, http.StatusForbidden, "permissions[0]", "grants more than the calling actor holds")
			h.wantNoActor(t, "root.a", "bad-grant-1")

			p := call(g.Client.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{
				Namespace: "root.a", ExternalId: "bad-grant-2", Permissions: perms(
					perm("root.a.x", "namespaces", "get"),
					perm("root.a.**", "actors", "get,list"),
					perm("root.a.**", "*", "get"), // keys, connectors… are not held
					perm("root.a", "actors", "*"), // update, delete, impersonate… are not held
				),
			})).problem(t, http.StatusForbidden, "permissions[2]", "grants more than")
			if findField(p, "permissions[3]") == nil || findField(p, "permissions[0]") != nil || findField(p, "permissions[1]") != nil {
				t.Errorf("errors = %s, want exactly permissions[2] and permissions[3]", fieldList(p))
			}
			h.wantNoActor(t, "root.a", "bad-grant-2")

			// The same holds for a patch: an updater without delete cannot hand out delete.
			u := h.mkActor(t, "root.a", "updater", perm("root.a.**", "actors", "get,update"))
			call(u.Client.UpdateActorWithResponse(ctx, xavier.Id, sdk.UpdateActorJSONRequestBody{
				Permissions: perms(perm("root.a.x", "actors", "delete")),
			})).problem(t, http.StatusForbidden, "permissions[0]", "grants more than")
			h.wantActorUnchanged(t, xavier.Actor)
			call(u.Client.UpdateActorWithResponse(ctx, xavier.Id, sdk.UpdateActorJSONRequestBody{
				Permissions: perms(perm("root.a.x", "actors", "get")),
			})).want(t, http.StatusOK)
		})
	})
}

func TestReadOnlyActor(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.a")
		h.mkNamespace(t, "root.a.x")
		h.mkNamespace(t, "root.b")
		xavier := h.mkActor(t, "root.a.x", "xavier")
		r := h.mkActor(t, "root.a", "reader", perm("root.a.**", "*", "get,list"))
		R := r.Client
		rootA := *h.wantNamespace(t, "root.a")
		rootAX := *h.wantNamespace(t, "root.a.x")

		call(R.GetNamespaceWithResponse(ctx, "root.a")).want(t, http.StatusOK)
		if got := paths(allNamespaces(t, R, sdk.ListNamespacesParams{})); !slices.Equal(got, []string{"root.a", "root.a.x"}) {
			t.Errorf("reader lists %v", got)
		}
		call(R.GetActorWithResponse(ctx, xavier.Id)).want(t, http.StatusOK)

		call(R.UpdateNamespaceWithResponse(ctx, "root.a", sdk.UpdateNamespaceJSONRequestBody{Labels: labelsPtr("x", "y")})).
			problem(t, http.StatusForbidden, "", `not permitted to update namespaces in namespace "root.a"`)
		call(R.DeleteNamespaceWithResponse(ctx, "root.a.x")).
			problem(t, http.StatusForbidden, "", `not permitted to delete namespaces in namespace "root.a.x"`)
		h.wantNamespaceUnchanged(t, rootA)
		h.wantNamespaceUnchanged(t, rootAX)
		call(R.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: "root.a.r"})).
			problem(t, http.StatusForbidden, "", "not permitted to create")
		h.wantNoNamespace(t, "root.a.r")

		upd := sdk.UpdateActorJSONRequestBody{Name: strPtr("renamed")}
		call(R.UpdateActorWithResponse(ctx, xavier.Id, upd)).problem(t, http.StatusForbidden, "", "not permitted to update actors")
		call(R.UpdateActorByExternalIdWithResponse(ctx, "root.a.x", "xavier", upd)).problem(t, http.StatusForbidden, "", "not permitted to update actors")
		call(R.DeleteActorWithResponse(ctx, xavier.Id)).problem(t, http.StatusForbidden, "", "not permitted to delete actors")
		call(R.DeleteActorByExternalIdWithResponse(ctx, "root.a.x", "xavier")).problem(t, http.StatusForbidden, "", "not permitted to delete actors")
		h.wantActorUnchanged(t, xavier.Actor)
		// The reader may not even change itself.
		call(R.UpdateActorWithResponse(ctx, r.Id, sdk.UpdateActorJSONRequestBody{Permissions: perms(perm("root.a.**", "*", "*"))})).
			problem(t, http.StatusForbidden, "", "not permitted to update actors")
		h.wantActorUnchanged(t, r.Actor)
		call(R.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{Namespace: "root.a", ExternalId: "new"})).
			problem(t, http.StatusForbidden, "", "not permitted to create actors")
		h.wantNoActor(t, "root.a", "new")

		// Outside its subtree the reader sees nothing, so writes there are 404, not 403.
		rootB := *h.wantNamespace(t, "root.b")
		call(R.UpdateNamespaceWithResponse(ctx, "root.b", sdk.UpdateNamespaceJSONRequestBody{Labels: labelsPtr("x", "y")})).
			problem(t, http.StatusNotFound, "", `namespace "root.b" not found`)
		call(R.DeleteNamespaceWithResponse(ctx, "root.b")).problem(t, http.StatusNotFound, "", `namespace "root.b" not found`)
		h.wantNamespaceUnchanged(t, rootB)
	})
}

func TestPermissionWildcards(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.a")
		h.mkNamespace(t, "root.a.x")
		xavier := h.mkActor(t, "root.a.x", "xavier")

		t.Run("resources [actors] only", func(t *testing.T) {
			c := h.mkActor(t, "root.a", "actors-only", perm("root.a.**", "actors", "*")).Client
			call(c.GetNamespaceWithResponse(ctx, "root.a")).problem(t, http.StatusNotFound, "", `namespace "root.a" not found`)
			call(c.GetNamespaceWithResponse(ctx, "root.a.x")).problem(t, http.StatusNotFound, "", "not found")
			if got := allNamespaces(t, c, sdk.ListNamespacesParams{}); len(got) != 0 {
				t.Errorf("actors-only lists namespaces %v", paths(got))
			}
			before := *h.wantNamespace(t, "root.a.x")
			call(c.UpdateNamespaceWithResponse(ctx, "root.a.x", sdk.UpdateNamespaceJSONRequestBody{Labels: labelsPtr("a", "b")})).
				problem(t, http.StatusNotFound, "", "not found")
			call(c.DeleteNamespaceWithResponse(ctx, "root.a.x")).problem(t, http.StatusNotFound, "", "not found")
			h.wantNamespaceUnchanged(t, before)
			call(c.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: "root.a.n"})).
				problem(t, http.StatusForbidden, "", "not permitted")
			h.wantNoNamespace(t, "root.a.n")

			call(c.GetActorWithResponse(ctx, xavier.Id)).want(t, http.StatusOK)
			if got := actorIDs(allActors(t, c, sdk.ListActorsParams{Namespace: strPtr("root.a.x")})); !slices.Equal(got, []string{xavier.Id}) {
				t.Errorf("actors-only lists %v, want [%s]", got, xavier.Id)
			}
			made := call(c.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{Namespace: "root.a.x", ExternalId: "made"})).
				want(t, http.StatusCreated).JSON201
			call(c.UpdateActorWithResponse(ctx, made.Id, sdk.UpdateActorJSONRequestBody{Name: strPtr("Made")})).want(t, http.StatusOK)
			call(c.DeleteActorWithResponse(ctx, made.Id)).want(t, http.StatusNoContent)
			if h.actor(t, made.Id) != nil {
				t.Errorf("actor %s survived its delete", made.Id)
			}
		})

		t.Run("resources [namespaces] only", func(t *testing.T) {
			c := h.mkActor(t, "root.a", "ns-only", perm("root.a.**", "namespaces", "*")).Client
			call(c.GetActorWithResponse(ctx, xavier.Id)).problem(t, http.StatusNotFound, "", "actor not found")
			call(c.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{Namespace: "root.a", ExternalId: "nope"})).
				problem(t, http.StatusForbidden, "", "not permitted")
			h.wantNoActor(t, "root.a", "nope")
			call(c.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: "root.a.ns"})).want(t, http.StatusCreated)
			call(c.DeleteNamespaceWithResponse(ctx, "root.a.ns")).want(t, http.StatusNoContent)
			h.wantNoNamespace(t, "root.a.ns")
		})

		t.Run("resources and verbs [*]", func(t *testing.T) {
			c := h.mkActor(t, "root.a", "all", perm("root.a.**", "*", "*")).Client
			call(c.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: "root.a.all"})).want(t, http.StatusCreated)
			call(c.UpdateNamespaceWithResponse(ctx, "root.a.all", sdk.UpdateNamespaceJSONRequestBody{Labels: labelsPtr("k", "v")})).want(t, http.StatusOK)
			call(c.DeleteNamespaceWithResponse(ctx, "root.a.all")).want(t, http.StatusNoContent)
			call(c.UpdateActorWithResponse(ctx, xavier.Id, sdk.UpdateActorJSONRequestBody{Name: strPtr("X")})).want(t, http.StatusOK)
		})

		t.Run("exact namespace, not subtree", func(t *testing.T) {
			c := h.mkActor(t, "root.a", "exact", perm("root.a", "namespaces", "get,list")).Client
			call(c.GetNamespaceWithResponse(ctx, "root.a")).want(t, http.StatusOK)
			call(c.GetNamespaceWithResponse(ctx, "root.a.x")).problem(t, http.StatusNotFound, "", "not found")
			if got := paths(allNamespaces(t, c, sdk.ListNamespacesParams{})); !slices.Equal(got, []string{"root.a"}) {
				t.Errorf("exact lists %v, want [root.a]", got)
			}
		})
	})
}

func TestResourceIDs(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.a")
		h.mkNamespace(t, "root.a.x")
		x := h.mkActor(t, "root.a", "x")
		y := h.mkActor(t, "root.a", "y")
		b := h.mkActor(t, "root.a", "b", perm("root.a.**", "actors", "get,update", x.Id))
		B := b.Client

		call(B.GetActorWithResponse(ctx, x.Id)).want(t, http.StatusOK)
		call(B.GetActorByExternalIdWithResponse(ctx, "root.a", "x")).want(t, http.StatusOK)
		patched := call(B.UpdateActorWithResponse(ctx, x.Id, sdk.UpdateActorJSONRequestBody{Name: strPtr("X"), Labels: labelsPtr("seen", "b")})).
			want(t, http.StatusOK).JSON200
		if patched.Name != "X" || patched.Labels["seen"] != "b" {
			t.Errorf("patched x = %s", jsonOf(t, patched))
		}
		if got := h.actor(t, x.Id); got == nil || got.Name != "X" {
			t.Errorf("x after B's patch = %v", got)
		}

		// Y is invisible: 404 for reads and writes, nothing changes.
		call(B.GetActorWithResponse(ctx, y.Id)).problem(t, http.StatusNotFound, "", "actor not found")
		call(B.GetActorByExternalIdWithResponse(ctx, "root.a", "y")).problem(t, http.StatusNotFound, "", "actor not found")
		call(B.UpdateActorWithResponse(ctx, y.Id, sdk.UpdateActorJSONRequestBody{Name: strPtr("Y")})).problem(t, http.StatusNotFound, "", "actor not found")
		call(B.DeleteActorWithResponse(ctx, y.Id)).problem(t, http.StatusNotFound, "", "actor not found")
		h.wantActorUnchanged(t, y.Actor)
		// X is visible but B may not delete it.
		xNow := *h.actor(t, x.Id)
		call(B.DeleteActorWithResponse(ctx, x.Id)).problem(t, http.StatusForbidden, "", "not permitted to delete actors")
		h.wantActorUnchanged(t, xNow)
		// B may not create actors: a create has no resource id.
		call(B.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{Namespace: "root.a", ExternalId: "z"})).
			problem(t, http.StatusForbidden, "", "not permitted")
		h.wantNoActor(t, "root.a", "z")

		// Without the list verb, a list is empty (not an error).
		l := call(B.ListActorsWithResponse(ctx, &sdk.ListActorsParams{})).want(t, http.StatusOK).JSON200
		if len(l.Items) != 0 || l.NextCursor != nil {
			t.Errorf("B without list lists %v", actorIDs(l.Items))
		}
		// With list limited to X, it lists exactly X.
		call(h.admin.UpdateActorWithResponse(ctx, b.Id, sdk.UpdateActorJSONRequestBody{Permissions: perms(
			perm("root.a.**", "actors", "get,update", x.Id),
			perm("root.a.**", "actors", "list", x.Id),
		)})).want(t, http.StatusOK)
		if got := actorIDs(allActors(t, B, sdk.ListActorsParams{})); !slices.Equal(got, []string{x.Id}) {
			t.Errorf("B lists %v, want exactly [%s]", got, x.Id)
		}
		if got := actorIDs(allActors(t, B, sdk.ListActorsParams{Namespace: strPtr("root.a"), Limit: intPtr(1)})); !slices.Equal(got, []string{x.Id}) {
			t.Errorf("B lists root.a %v, want exactly [%s]", got, x.Id)
		}

		// resourceIds of namespaces are paths.
		n := h.mkActor(t, "root.a", "ns-ids", perm("root.a.**", "namespaces", "get,list", "root.a.x")).Client
		call(n.GetNamespaceWithResponse(ctx, "root.a.x")).want(t, http.StatusOK)
		call(n.GetNamespaceWithResponse(ctx, "root.a")).problem(t, http.StatusNotFound, "", "not found")
		if got := paths(allNamespaces(t, n, sdk.ListNamespacesParams{})); !slices.Equal(got, []string{"root.a.x"}) {
			t.Errorf("ns-ids lists %v, want [root.a.x]", got)
		}
	})
}

func TestNarrowedToken(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.a")
		h.mkNamespace(t, "root.a.x")
		h.mkNamespace(t, "root.b")
		n := h.mkActor(t, "root.a", "n", perm("root.a.**", "*", "*"))

		t.Run("narrower claim", func(t *testing.T) {
			claim := []sdk.Permission{perm("root.a.x", "namespaces", "get")}
			c := h.narrowedClient(t, n.Signer, claim)
			call(c.GetNamespaceWithResponse(ctx, "root.a.x")).want(t, http.StatusOK)
			call(c.GetNamespaceWithResponse(ctx, "root.a")).problem(t, http.StatusNotFound, "", `namespace "root.a" not found`)
			call(c.GetActorWithResponse(ctx, n.Id)).problem(t, http.StatusNotFound, "", "actor not found")
			if got := allNamespaces(t, c, sdk.ListNamespacesParams{}); len(got) != 0 {
				t.Errorf("narrowed (no list) lists %v", paths(got))
			}
			call(c.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: "root.a.x.y"})).
				problem(t, http.StatusForbidden, "", "not permitted")
			h.wantNoNamespace(t, "root.a.x.y")
			before := *h.wantNamespace(t, "root.a.x")
			call(c.UpdateNamespaceWithResponse(ctx, "root.a.x", sdk.UpdateNamespaceJSONRequestBody{Labels: labelsPtr("k", "v")})).
				problem(t, http.StatusForbidden, "", "not permitted to update")
			h.wantNamespaceUnchanged(t, before)
			call(c.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{Namespace: "root.a", ExternalId: "via-narrow"})).
				problem(t, http.StatusForbidden, "", "not permitted")
			h.wantNoActor(t, "root.a", "via-narrow")

			w := call(c.WhoamiWithResponse(ctx)).want(t, http.StatusOK).JSON200
			if w.Actor.Id != n.Id {
				t.Errorf("whoami actor %s, want %s", w.Actor.Id, n.Id)
			}
			wantPermissions(t, "narrowed whoami", w.Permissions, claim)
			wantPermissions(t, "stored (unchanged by narrowing)", w.Actor.Permissions, []sdk.Permission{perm("root.a.**", "*", "*")})
		})

		t.Run("a wider claim gives no more than the actor", func(t *testing.T) {
			c := h.narrowedClient(t, n.Signer, []sdk.Permission{perm("root.**", "*", "*")})
			call(c.GetNamespaceWithResponse(ctx, "root.b")).problem(t, http.StatusNotFound, "", `namespace "root.b" not found`)
			call(c.GetNamespaceWithResponse(ctx, "root")).problem(t, http.StatusNotFound, "", "not found")
			call(c.GetNamespaceWithResponse(ctx, "root.a")).want(t, http.StatusOK)
			call(c.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: "root.b.z"})).
				problem(t, http.StatusForbidden, "", "not permitted")
			h.wantNoNamespace(t, "root.b.z")
			call(c.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{
				Namespace: "root.b", ExternalId: "escalated", Permissions: perms(perm("root.b.**", "*", "*")),
			})).problem(t, http.StatusForbidden, "", `not permitted to create actors in namespace "root.b"`)
			h.wantNoActor(t, "root.b", "escalated")
			if got := paths(allNamespaces(t, c, sdk.ListNamespacesParams{})); !slices.Equal(got, []string{"root.a", "root.a.x"}) {
				t.Errorf("widened lists %v, want [root.a root.a.x]", got)
			}
			w := call(c.WhoamiWithResponse(ctx)).want(t, http.StatusOK).JSON200
			wantPermissions(t, "widened whoami", w.Permissions, []sdk.Permission{perm("root.a.**", "*", "*")})
		})

		t.Run("a partly foreign claim keeps only the overlap", func(t *testing.T) {
			c := h.narrowedClient(t, n.Signer, []sdk.Permission{perm("root.b.**", "*", "*"), perm("root.a.x.**", "namespaces", "get,list")})
			w := call(c.WhoamiWithResponse(ctx)).want(t, http.StatusOK).JSON200
			wantPermissions(t, "overlap whoami", w.Permissions, []sdk.Permission{perm("root.a.x.**", "namespaces", "get,list")})
			if got := paths(allNamespaces(t, c, sdk.ListNamespacesParams{})); !slices.Equal(got, []string{"root.a.x"}) {
				t.Errorf("overlap lists %v, want [root.a.x]", got)
			}
		})

		t.Run("an empty claim narrows to nothing", func(t *testing.T) {
			c := h.narrowedClient(t, n.Signer, []sdk.Permission{})
			call(c.GetNamespaceWithResponse(ctx, "root.a")).problem(t, http.StatusNotFound, "", "not found")
			w := call(c.WhoamiWithResponse(ctx)).want(t, http.StatusOK).JSON200
			if len(w.Permissions) != 0 {
				t.Errorf("empty claim whoami permissions = %v, want none", permKeys(w.Permissions))
			}
		})
	})
}

func TestPermissionsClampedToSubtree(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.a")
		h.mkNamespace(t, "root.b")
		for i, p := range []sdk.Permission{
			perm("root.b.**", "*", "*"),
			perm("root.**", "*", "*"),
			perm("root", "namespaces", "get"),
			perm("root.ab.**", "*", "*"), // a sibling sharing a prefix is outside too
		} {
			ext := "clamped-" + string(rune('0'+i))
			call(h.admin.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{
				Namespace: "root.a", ExternalId: ext, Permissions: perms(perm("root.a.**", "*", "*"), p),
			})).problem(t, http.StatusBadRequest, "permissions[1].namespace", "outside the actor's namespace")
			h.wantNoActor(t, "root.a", ext)
		}
		// In the own namespace and below is fine, also for an actor deeper down.
		call(h.admin.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{
			Namespace: "root.a", ExternalId: "inside", Permissions: perms(perm("root.a", "*", "*"), perm("root.a.deeper.**", "actors", "get")),
		})).want(t, http.StatusCreated)

		// A patch cannot move permissions outside either.
		a := h.mkActor(t, "root.a", "patched", perm("root.a.**", "*", "*"))
		call(h.admin.UpdateActorWithResponse(ctx, a.Id, sdk.UpdateActorJSONRequestBody{Permissions: perms(perm("root.b.**", "*", "*"))})).
			problem(t, http.StatusBadRequest, "permissions[0].namespace", "outside the actor's namespace")
		h.wantActorUnchanged(t, a.Actor)
		call(a.Client.GetNamespaceWithResponse(ctx, "root.b")).problem(t, http.StatusNotFound, "", "not found")
	})
}
