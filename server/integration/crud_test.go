package integration_test

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/authproxy/authproxy/sdk"
)

func TestNamespaceCRUD(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		admin := h.admin

		// Create root.a and root.a.b with labels and annotations.
		a := call(admin.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{
			Path:        "root.a",
			Labels:      labelsPtr("env", "prod", "tier", "gold"),
			Annotations: annotationsPtr("note", "hello, world!", "example.com/owner", "team a"),
		})).want(t, http.StatusCreated).JSON201
		if a.Path != "root.a" || a.Labels["env"] != "prod" || a.Labels["tier"] != "gold" || len(a.Labels) != 2 {
			t.Errorf("created root.a = %+v", a)
		}
		if a.Annotations["note"] != "hello, world!" || a.Annotations["example.com/owner"] != "team a" || len(a.Annotations) != 2 {
			t.Errorf("created root.a annotations = %v", a.Annotations)
		}
		if a.CreatedAt.IsZero() || a.UpdatedAt.Before(a.CreatedAt) {
			t.Errorf("created root.a timestamps: created %v updated %v", a.CreatedAt, a.UpdatedAt)
		}
		b := call(admin.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{
			Path: "root.a.b", Labels: labelsPtr("env", "dev"),
		})).want(t, http.StatusCreated).JSON201
		if b.Path != "root.a.b" || b.Labels["env"] != "dev" || len(b.Annotations) != 0 || b.Annotations == nil {
			t.Errorf("created root.a.b = %+v (annotations must be an empty object)", b)
		}

		// Get.
		got := call(admin.GetNamespaceWithResponse(ctx, "root.a")).want(t, http.StatusOK).JSON200
		if jsonOf(t, got) != jsonOf(t, a) {
			t.Errorf("get root.a = %s, want %s", jsonOf(t, got), jsonOf(t, a))
		}

		// Patch labels: they are replaced as a whole; annotations are left alone.
		p := call(admin.UpdateNamespaceWithResponse(ctx, "root.a", sdk.UpdateNamespaceJSONRequestBody{
			Labels: labelsPtr("env", "staging"),
		})).want(t, http.StatusOK).JSON200
		if len(p.Labels) != 1 || p.Labels["env"] != "staging" {
			t.Errorf("labels after patch = %v, want {env: staging}", p.Labels)
		}
		if len(p.Annotations) != 2 || p.Annotations["note"] != "hello, world!" {
			t.Errorf("annotations after a labels-only patch = %v, want them unchanged", p.Annotations)
		}
		if !p.CreatedAt.Equal(a.CreatedAt) || p.UpdatedAt.Before(a.UpdatedAt) {
			t.Errorf("timestamps after patch: created %v (was %v), updated %v (was %v)", p.CreatedAt, a.CreatedAt, p.UpdatedAt, a.UpdatedAt)
		}
		// Patch annotations: replaced as a whole; labels are left alone.
		p = call(admin.UpdateNamespaceWithResponse(ctx, "root.a", sdk.UpdateNamespaceJSONRequestBody{
			Annotations: annotationsPtr("other", "x"),
		})).want(t, http.StatusOK).JSON200
		if len(p.Annotations) != 1 || p.Annotations["other"] != "x" {
			t.Errorf("annotations after patch = %v, want {other: x}", p.Annotations)
		}
		if len(p.Labels) != 1 || p.Labels["env"] != "staging" {
			t.Errorf("labels after an annotations-only patch = %v, want {env: staging}", p.Labels)
		}
		// Both persisted.
		got = call(admin.GetNamespaceWithResponse(ctx, "root.a")).want(t, http.StatusOK).JSON200
		if jsonOf(t, got) != jsonOf(t, p) {
			t.Errorf("get after patch = %s, want %s", jsonOf(t, got), jsonOf(t, p))
		}
		// Empty labels clear them.
		p = call(admin.UpdateNamespaceWithResponse(ctx, "root.a", sdk.UpdateNamespaceJSONRequestBody{
			Labels: labelsPtr(),
		})).want(t, http.StatusOK).JSON200
		if len(p.Labels) != 0 || p.Labels == nil {
			t.Errorf("labels after patching {} = %v, want an empty object", p.Labels)
		}
		// Patching a missing namespace is a 404.
		call(admin.UpdateNamespaceWithResponse(ctx, "root.nope", sdk.UpdateNamespaceJSONRequestBody{Labels: labelsPtr("a", "b")})).
			problem(t, http.StatusNotFound, "", `namespace "root.nope" not found`)
		h.wantNoNamespace(t, "root.nope")

		// childrenOf lists direct children only.
		kids := allNamespaces(t, admin, sdk.ListNamespacesParams{ChildrenOf: strPtr("root")})
		if !slices.Contains(paths(kids), "root.a") || slices.Contains(paths(kids), "root.a.b") || slices.Contains(paths(kids), "root") {
			t.Errorf("childrenOf=root = %v, want root.a but neither root nor root.a.b", paths(kids))
		}
		kids = allNamespaces(t, admin, sdk.ListNamespacesParams{ChildrenOf: strPtr("root.a")})
		if !slices.Equal(paths(kids), []string{"root.a.b"}) {
			t.Errorf("childrenOf=root.a = %v, want [root.a.b]", paths(kids))
		}
		kids = allNamespaces(t, admin, sdk.ListNamespacesParams{ChildrenOf: strPtr("root.a.b")})
		if len(kids) != 0 {
			t.Errorf("childrenOf=root.a.b = %v, want none", paths(kids))
		}

		// Delete a leaf.
		call(admin.DeleteNamespaceWithResponse(ctx, "root.a.b")).want(t, http.StatusNoContent)
		call(admin.GetNamespaceWithResponse(ctx, "root.a.b")).problem(t, http.StatusNotFound, "", `namespace "root.a.b" not found`)
		if kids := allNamespaces(t, admin, sdk.ListNamespacesParams{ChildrenOf: strPtr("root.a")}); len(kids) != 0 {
			t.Errorf("childrenOf=root.a after delete = %v, want none", paths(kids))
		}
		call(admin.DeleteNamespaceWithResponse(ctx, "root.a.b")).problem(t, http.StatusNotFound, "", `namespace "root.a.b" not found`)
		// Its labels went with it: a re-created root.a.b starts without any.
		re := call(admin.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: "root.a.b"})).want(t, http.StatusCreated).JSON201
		if len(re.Labels) != 0 {
			t.Errorf("re-created root.a.b has labels %v of its deleted predecessor", re.Labels)
		}

		// A namespace with a child is not deleted.
		before := *h.wantNamespace(t, "root.a")
		call(admin.DeleteNamespaceWithResponse(ctx, "root.a")).problem(t, http.StatusConflict, "", "child")
		h.wantNamespaceUnchanged(t, before)
		h.wantNamespace(t, "root.a.b")

		// A namespace holding an actor is not deleted.
		h.mkNamespace(t, "root.d")
		holder := h.mkActor(t, "root.d", "holder")
		before = *h.wantNamespace(t, "root.d")
		call(admin.DeleteNamespaceWithResponse(ctx, "root.d")).problem(t, http.StatusConflict, "", "actor")
		h.wantNamespaceUnchanged(t, before)
		h.wantActorUnchanged(t, holder.Actor)
		// Once empty it is.
		call(admin.DeleteActorWithResponse(ctx, holder.Id)).want(t, http.StatusNoContent)
		call(admin.DeleteNamespaceWithResponse(ctx, "root.d")).want(t, http.StatusNoContent)
		h.wantNoNamespace(t, "root.d")

		// The root is never deleted.
		call(admin.DeleteNamespaceWithResponse(ctx, "root")).problem(t, http.StatusConflict, "", "root")
		h.wantNamespace(t, "root")
	})
}

func TestNamespaceLabelSelector(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.mkNamespace(t, "root.sel", "app", "web") // the parent matches, but childrenOf excludes it
		h.mkNamespace(t, "root.sel.c1", "app", "web", "env", "prod")
		h.mkNamespace(t, "root.sel.c2", "app", "api", "env", "dev")
		h.mkNamespace(t, "root.sel.c3", "app", "web")
		h.mkNamespace(t, "root.sel.c4")
		h.mkNamespace(t, "root.sel.c5", "example.com/team", "core", "env", "")

		cases := []struct {
			selector string
			want     []string
		}{
			{"env=prod", []string{"c1"}},
			{"env==prod", []string{"c1"}},
			{"env = prod", []string{"c1"}},
			{"env!=prod", []string{"c2", "c3", "c4", "c5"}}, // holds when the key is absent
			{"env=", []string{"c5"}},
			{"app in (web,api)", []string{"c1", "c2", "c3"}},
			{"app in (web)", []string{"c1", "c3"}},
			{"app notin (web)", []string{"c2", "c4", "c5"}}, // holds when the key is absent
			{"app notin (web,api)", []string{"c4", "c5"}},
			{"env", []string{"c1", "c2", "c5"}},
			{"!env", []string{"c3", "c4"}},
			{"!app", []string{"c4", "c5"}},
			{"app=web,env=prod", []string{"c1"}},
			{"app=web,!env", []string{"c3"}},
			{"app in (web,api),env notin (prod)", []string{"c2", "c3"}},
			{"example.com/team=core", []string{"c5"}},
			{"nosuchkey", nil},
			{"", []string{"c1", "c2", "c3", "c4", "c5"}},
		}
		for _, c := range cases {
			var want []string
			for _, w := range c.want {
				want = append(want, "root.sel."+w)
			}
			got := paths(allNamespaces(t, h.admin, sdk.ListNamespacesParams{ChildrenOf: strPtr("root.sel"), LabelSelector: strPtr(c.selector)}))
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("labelSelector %q = %v, want %v", c.selector, got, want)
			}
		}
		// Without childrenOf the selector applies to the whole tree.
		got := paths(allNamespaces(t, h.admin, sdk.ListNamespacesParams{LabelSelector: strPtr("app=web")}))
		if want := []string{"root.sel", "root.sel.c1", "root.sel.c3"}; !slices.Equal(got, want) {
			t.Errorf("labelSelector app=web over the tree = %v, want %v", got, want)
		}
	})
}

func TestNamespacePagination(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.pg")
		var want []string
		for i := range 7 {
			p := fmt.Sprintf("root.pg.p%02d", 6-i) // created in reverse order
			h.mkNamespace(t, p, "even", fmt.Sprint(i%2 == 0))
			want = append(want, p)
		}
		sort.Strings(want)

		// limit=2 over 7 items: pages of 2, 2, 2, 1; the last has no cursor.
		params := sdk.ListNamespacesParams{ChildrenOf: strPtr("root.pg"), Limit: intPtr(2)}
		var got []string
		var sizes []int
		for range 20 {
			l := call(h.admin.ListNamespacesWithResponse(ctx, &params)).want(t, http.StatusOK).JSON200
			got = append(got, paths(l.Items)...)
			sizes = append(sizes, len(l.Items))
			if l.NextCursor == nil {
				break
			}
			if *l.NextCursor == "" {
				t.Fatalf("nextCursor is present but empty")
			}
			params.Cursor = l.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged childrenOf=root.pg = %v, want %v (each exactly once, ordered by path)", got, want)
		}
		if !slices.Equal(sizes, []int{2, 2, 2, 1}) {
			t.Errorf("page sizes = %v, want [2 2 2 1]", sizes)
		}

		// An exact multiple of the limit: the last full page has no cursor, and no empty page follows.
		sel := sdk.ListNamespacesParams{ChildrenOf: strPtr("root.pg"), LabelSelector: strPtr("even=true"), Limit: intPtr(2)}
		sizes = nil
		got = nil
		for range 20 {
			l := call(h.admin.ListNamespacesWithResponse(ctx, &sel)).want(t, http.StatusOK).JSON200
			got = append(got, paths(l.Items)...)
			sizes = append(sizes, len(l.Items))
			if l.NextCursor == nil {
				break
			}
			sel.Cursor = l.NextCursor
		}
		if !slices.Equal(got, []string{"root.pg.p00", "root.pg.p02", "root.pg.p04", "root.pg.p06"}) || !slices.Equal(sizes, []int{2, 2}) {
			t.Errorf("paged even=true = %v in pages %v, want [p00 p02 p04 p06] in pages [2 2]", got, sizes)
		}

		// The whole tree, paged by 2, equals one big page, and is ordered by path.
		all := paths(allNamespaces(t, h.admin, sdk.ListNamespacesParams{Limit: intPtr(2)}))
		one := call(h.admin.ListNamespacesWithResponse(ctx, &sdk.ListNamespacesParams{Limit: intPtr(500)})).want(t, http.StatusOK).JSON200
		if one.NextCursor != nil {
			t.Errorf("a page holding everything has nextCursor %q", *one.NextCursor)
		}
		if !slices.Equal(all, paths(one.Items)) {
			t.Errorf("paged tree %v != single page %v", all, paths(one.Items))
		}
		if !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != len(all) {
			t.Errorf("tree listing is not strictly ordered by path: %v", all)
		}
		if len(all) != 9 || all[0] != "root" {
			t.Errorf("tree listing = %v, want root, root.pg and its 7 children", all)
		}
		// The default page size is 50.
		for i := range 50 {
			h.mkNamespace(t, fmt.Sprintf("root.pg.q%02d", i))
		}
		def := call(h.admin.ListNamespacesWithResponse(ctx, &sdk.ListNamespacesParams{})).want(t, http.StatusOK).JSON200
		if len(def.Items) != 50 || def.NextCursor == nil {
			t.Errorf("default page: %d items, cursor %v; want 50 and a cursor", len(def.Items), def.NextCursor)
		}
	})
}

func TestActorCRUD(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		admin := h.admin
		h.mkNamespace(t, "root.team")
		h.mkNamespace(t, "root.team.sub")

		edPriv, edPub, err := sdk.GenerateKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		ecKey := newECDSAKey(t)
		ecPub := pkixPEM(t, &ecKey.PublicKey)
		rsaKey := newRSAKey(t, 2048)
		rsaPub := pkixPEM(t, &rsaKey.PublicKey)

		stored := []sdk.Permission{
			perm("root.team.**", "namespaces,actors", "get,list"),
			perm("root.team.sub", "actors", "update", "act_x1", "act_x2"),
		}
		created := call(admin.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{
			Namespace:   "root.team",
			ExternalId:  "svc-1@example.com",
			Name:        strPtr("Service One"),
			Permissions: &stored,
			PublicKeys:  &[]string{edPub, ecPub, rsaPub},
			Labels:      labelsPtr("role", "svc", "tier", "1"),
			Annotations: annotationsPtr("purpose", "integration test"),
		})).want(t, http.StatusCreated).JSON201
		if !strings.HasPrefix(created.Id, "act_") || created.Namespace != "root.team" || created.ExternalId != "svc-1@example.com" ||
			created.Name != "Service One" || created.Labels["role"] != "svc" || created.Annotations["purpose"] != "integration test" {
			t.Errorf("created actor = %s", jsonOf(t, created))
		}
		wantPermissions(t, "created actor", created.Permissions, stored)
		if want := []string{edPub, strings.TrimSpace(ecPub), strings.TrimSpace(rsaPub)}; !slices.Equal(trimAll(created.PublicKeys), want) {
			t.Errorf("created publicKeys = %q, want %q", created.PublicKeys, want)
		}

		// Get by id and by (namespace, externalId).
		byID := call(admin.GetActorWithResponse(ctx, created.Id)).want(t, http.StatusOK).JSON200
		if jsonOf(t, byID) != jsonOf(t, created) {
			t.Errorf("get by id = %s, want %s", jsonOf(t, byID), jsonOf(t, created))
		}
		byExt := call(admin.GetActorByExternalIdWithResponse(ctx, "root.team", "svc-1@example.com")).want(t, http.StatusOK).JSON200
		if jsonOf(t, byExt) != jsonOf(t, created) {
			t.Errorf("get by externalId = %s, want %s", jsonOf(t, byExt), jsonOf(t, created))
		}
		call(admin.GetActorByExternalIdWithResponse(ctx, "root.team.sub", "svc-1@example.com")).problem(t, http.StatusNotFound, "", "actor not found")
		call(admin.GetActorWithResponse(ctx, "act_doesnotexist")).problem(t, http.StatusNotFound, "", "actor not found")

		// Each registered key authenticates the actor.
		for _, k := range []struct {
			name string
			priv []byte
		}{{"EdDSA", edPriv}, {"ES256", pkcs8PEM(t, ecKey)}, {"RS256", pkcs8PEM(t, rsaKey)}} {
			c := h.clientFor(t, newSigner(t, "root.team/svc-1@example.com", k.priv))
			w := call(c.WhoamiWithResponse(ctx)).want(t, http.StatusOK).JSON200
			if w.Actor.Id != created.Id {
				t.Errorf("%s whoami = %s, want %s", k.name, w.Actor.Id, created.Id)
			}
			wantPermissions(t, k.name+" whoami", w.Permissions, stored)
		}

		// Patch by (namespace, externalId): name and labels; the rest stays.
		p := call(admin.UpdateActorByExternalIdWithResponse(ctx, "root.team", "svc-1@example.com", sdk.UpdateActorByExternalIdJSONRequestBody{
			Name: strPtr("Service 1"), Labels: labelsPtr("role", "worker"),
		})).want(t, http.StatusOK).JSON200
		if p.Name != "Service 1" || len(p.Labels) != 1 || p.Labels["role"] != "worker" || p.Annotations["purpose"] != "integration test" {
			t.Errorf("after patch by externalId: %s", jsonOf(t, p))
		}
		wantPermissions(t, "after a name/labels patch", p.Permissions, stored)
		if len(p.PublicKeys) != 3 {
			t.Errorf("publicKeys after a name/labels patch = %d keys, want 3", len(p.PublicKeys))
		}

		// Patch by id replaces permissions and publicKeys as a whole.
		newPerms := []sdk.Permission{perm("root.team", "actors", "get")}
		p = call(admin.UpdateActorWithResponse(ctx, created.Id, sdk.UpdateActorJSONRequestBody{
			Permissions: &newPerms, PublicKeys: &[]string{ecPub},
		})).want(t, http.StatusOK).JSON200
		wantPermissions(t, "after replacing permissions", p.Permissions, newPerms)
		if !slices.Equal(trimAll(p.PublicKeys), []string{strings.TrimSpace(ecPub)}) {
			t.Errorf("publicKeys after replace = %q, want only the ECDSA key", p.PublicKeys)
		}
		got := call(admin.GetActorWithResponse(ctx, created.Id)).want(t, http.StatusOK).JSON200
		if jsonOf(t, got) != jsonOf(t, p) {
			t.Errorf("get after patch = %s, want %s", jsonOf(t, got), jsonOf(t, p))
		}
		// The removed Ed25519 key no longer authenticates; the kept ECDSA key does, with the new permissions.
		edClient := h.clientFor(t, newSigner(t, "root.team/svc-1@example.com", edPriv))
		call(edClient.WhoamiWithResponse(ctx)).problem(t, http.StatusUnauthorized, "", "not registered")
		ecClient := h.clientFor(t, newSigner(t, created.Id, pkcs8PEM(t, ecKey)))
		w := call(ecClient.WhoamiWithResponse(ctx)).want(t, http.StatusOK).JSON200
		wantPermissions(t, "whoami after replace", w.Permissions, newPerms)
		// An empty list removes every permission.
		p = call(admin.UpdateActorWithResponse(ctx, created.Id, sdk.UpdateActorJSONRequestBody{Permissions: perms()})).want(t, http.StatusOK).JSON200
		if len(p.Permissions) != 0 || p.Permissions == nil {
			t.Errorf("permissions after patching [] = %v, want an empty array", p.Permissions)
		}

		// More actors for listing.
		var teamIDs []string
		teamIDs = append(teamIDs, created.Id)
		for i := range 5 {
			role := "svc"
			if i%2 == 1 {
				role = "human"
			}
			a := call(admin.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{
				Namespace: "root.team", ExternalId: fmt.Sprintf("member-%d", i), Labels: labelsPtr("role", role),
			})).want(t, http.StatusCreated).JSON201
			if len(a.PublicKeys) != 0 || a.PublicKeys == nil || len(a.Permissions) != 0 || a.Permissions == nil {
				t.Errorf("actor without keys or permissions = %s, want empty arrays", jsonOf(t, a))
			}
			teamIDs = append(teamIDs, a.Id)
		}
		sub := h.mkActor(t, "root.team.sub", "member-0") // same externalId, another namespace
		slices.Sort(teamIDs)

		// List by namespace, paged by 2: every actor of root.team exactly once, ordered by id, no others.
		var pages []int
		var listed []string
		params := sdk.ListActorsParams{Namespace: strPtr("root.team"), Limit: intPtr(2)}
		for range 20 {
			l := call(admin.ListActorsWithResponse(ctx, &params)).want(t, http.StatusOK).JSON200
			listed = append(listed, actorIDs(l.Items)...)
			pages = append(pages, len(l.Items))
			if l.NextCursor == nil {
				break
			}
			params.Cursor = l.NextCursor
		}
		if !slices.Equal(listed, teamIDs) {
			t.Errorf("paged actors of root.team = %v, want %v", listed, teamIDs)
		}
		if !slices.Equal(pages, []int{2, 2, 2}) {
			t.Errorf("page sizes = %v, want [2 2 2]", pages)
		}
		// Label selectors.
		humans := allActors(t, admin, sdk.ListActorsParams{Namespace: strPtr("root.team"), LabelSelector: strPtr("role=human")})
		if len(humans) != 2 {
			t.Errorf("role=human = %v, want member-1 and member-3", actorIDs(humans))
		}
		for _, a := range humans {
			if a.Labels["role"] != "human" {
				t.Errorf("role=human listed %s with labels %v", a.ExternalId, a.Labels)
			}
		}
		notSvc := allActors(t, admin, sdk.ListActorsParams{Namespace: strPtr("root.team"), LabelSelector: strPtr("role notin (svc,worker)")})
		if len(notSvc) != 2 {
			t.Errorf("role notin (svc,worker) = %d actors, want 2", len(notSvc))
		}
		workers := allActors(t, admin, sdk.ListActorsParams{LabelSelector: strPtr("role=worker")})
		if !slices.Equal(actorIDs(workers), []string{created.Id}) {
			t.Errorf("role=worker over all namespaces = %v, want [%s]", actorIDs(workers), created.Id)
		}
		subs := allActors(t, admin, sdk.ListActorsParams{Namespace: strPtr("root.team.sub")})
		if !slices.Equal(actorIDs(subs), []string{sub.Id}) {
			t.Errorf("actors of root.team.sub = %v, want [%s]", actorIDs(subs), sub.Id)
		}
		everyone := actorIDs(allActors(t, admin, sdk.ListActorsParams{Limit: intPtr(3)}))
		if !slices.IsSorted(everyone) || len(everyone) != len(teamIDs)+2 { // + admin + sub
			t.Errorf("all actors = %v, want %d ordered ids", everyone, len(teamIDs)+2)
		}

		// Duplicate (namespace, externalId) is a conflict, and there is still exactly one.
		call(admin.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{Namespace: "root.team", ExternalId: "member-0"})).
			problem(t, http.StatusConflict, "", "member-0")
		n := 0
		for _, a := range allActors(t, admin, sdk.ListActorsParams{Namespace: strPtr("root.team")}) {
			if a.ExternalId == "member-0" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d actors member-0 in root.team after a refused duplicate, want 1", n)
		}

		// Delete by (namespace, externalId) and by id.
		call(admin.DeleteActorByExternalIdWithResponse(ctx, "root.team", "svc-1@example.com")).want(t, http.StatusNoContent)
		call(admin.GetActorWithResponse(ctx, created.Id)).problem(t, http.StatusNotFound, "", "actor not found")
		call(admin.DeleteActorByExternalIdWithResponse(ctx, "root.team", "svc-1@example.com")).problem(t, http.StatusNotFound, "", "actor not found")
		// A deleted actor cannot authenticate any more.
		call(ecClient.WhoamiWithResponse(ctx)).problem(t, http.StatusUnauthorized, "", "unknown actor")

		call(admin.DeleteActorWithResponse(ctx, sub.Id)).want(t, http.StatusNoContent)
		call(admin.GetActorByExternalIdWithResponse(ctx, "root.team.sub", "member-0")).problem(t, http.StatusNotFound, "", "actor not found")
		call(admin.DeleteActorWithResponse(ctx, sub.Id)).problem(t, http.StatusNotFound, "", "actor not found")
		if a := h.actorByExternalID(t, "root.team", "member-0"); a == nil {
			t.Errorf("deleting root.team.sub/member-0 also deleted root.team/member-0")
		}
		// The externalId is free again once deleted.
		call(admin.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{Namespace: "root.team", ExternalId: "svc-1@example.com"})).
			want(t, http.StatusCreated)
	})
}

func TestWhoami(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		w := call(h.admin.WhoamiWithResponse(ctx)).want(t, http.StatusOK).JSON200
		if w.Actor.Id != h.s.AdminID || w.Actor.Namespace != "root" || w.Actor.ExternalId != "admin" {
			t.Errorf("admin whoami actor = %s", jsonOf(t, w.Actor))
		}
		wantPermissions(t, "admin whoami", w.Permissions, []sdk.Permission{perm("root.**", "*", "*")})

		h.mkNamespace(t, "root.w")
		ps := []sdk.Permission{perm("root.w.**", "actors", "get,list"), perm("root.w", "namespaces", "get")}
		a := h.mkActor(t, "root.w", "me", ps...)
		w = call(a.Client.WhoamiWithResponse(ctx)).want(t, http.StatusOK).JSON200
		if jsonOf(t, w.Actor) != jsonOf(t, a.Actor) {
			t.Errorf("whoami actor = %s, want %s", jsonOf(t, w.Actor), jsonOf(t, a.Actor))
		}
		wantPermissions(t, "whoami", w.Permissions, ps)

		// By id as the subject too, and on the api service with the api audience.
		byID := h.clientFor(t, newSigner(t, a.Id, a.PrivatePEM))
		if w := call(byID.WhoamiWithResponse(ctx)).want(t, http.StatusOK).JSON200; w.Actor.Id != a.Id {
			t.Errorf("whoami by id = %s, want %s", w.Actor.Id, a.Id)
		}
		api, err := sdk.NewAuthenticatedClient(h.s.APIURL, a.Signer, sdk.AudienceAPI)
		if err != nil {
			t.Fatal(err)
		}
		if w := call(api.WhoamiWithResponse(ctx)).want(t, http.StatusOK).JSON200; w.Actor.Id != a.Id {
			t.Errorf("whoami on the api service = %s, want %s", w.Actor.Id, a.Id)
		}

		// An actor without permissions still sees itself.
		none := h.mkActor(t, "root.w", "nobody")
		w = call(none.Client.WhoamiWithResponse(ctx)).want(t, http.StatusOK).JSON200
		if w.Actor.Id != none.Id || len(w.Permissions) != 0 || w.Permissions == nil {
			t.Errorf("whoami of an actor without permissions = %s", jsonOf(t, w))
		}
	})
}

func trimAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimSpace(s)
	}
	return out
}
