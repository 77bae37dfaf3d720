package integration_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/authproxy/authproxy/sdk"
)

// connectorSecretTable is the registered table holding the sealed OAuth2 client secrets of
// connector versions (column client_secret).
const connectorSecretTable = "connector_versions"

// --- definitions --------------------------------------------------------------------------

// noAuthDefinition is a valid definition without credentials (so without a client secret);
// name, its display name, makes definitions differ.
func noAuthDefinition(name string) string {
	return "display:\n" +
		"  name: " + name + "\n" +
		"auth:\n" +
		"  type: none\n" +
		"upstream:\n" +
		"  allowedUrls: [https://api.example.com/v1/]\n"
}

// oauthDefinition is a valid OAuth2 definition whose client secret comes with the version
// (clientSecretRef: version). Its tokenUrl is on line 11.
const oauthDefinition = `display:
  name: Example CRM
  description: Contacts and deals.
auth:
  type: oauth2
  oauth2:
    clientId: crm-client
    clientSecretRef: version
    tokenEndpointAuthMethod: client_secret_post
    authorizeUrl: https://login.crm.example/oauth/authorize
    tokenUrl: https://login.crm.example/oauth/token
    scopes:
      - {name: contacts.read, reason: Read your contacts.}
upstream:
  allowedUrls: [https://api.crm.example/v2/]
`

// oauthDefinitionJSON is oauthDefinition written as JSON.
const oauthDefinitionJSON = `{
  "upstream": {"allowedUrls": ["https://api.crm.example/v2/"]},
  "auth": {
    "type": "oauth2",
    "oauth2": {
      "scopes": [{"reason": "Read your contacts.", "name": "contacts.read"}],
      "tokenUrl": "https://login.crm.example/oauth/token",
      "authorizeUrl": "https://login.crm.example/oauth/authorize",
      "tokenEndpointAuthMethod": "client_secret_post",
      "clientSecretRef": "version",
      "clientId": "crm-client"
    }
  },
  "display": {"description": "Contacts and deals.", "name": "Example CRM"}
}`

// oauthDefinitionReformatted is oauthDefinition with other key order, block and flow
// styles swapped, quoting, indentation and comments.
const oauthDefinitionReformatted = `# The same definition, written differently.
upstream:
    allowedUrls:
        - "https://api.crm.example/v2/"
auth:
    oauth2: {tokenUrl: 'https://login.crm.example/oauth/token', authorizeUrl: "https://login.crm.example/oauth/authorize",
        clientSecretRef: version, clientId: "crm-client", tokenEndpointAuthMethod: client_secret_post,
        scopes: [{reason: "Read your contacts.", name: contacts.read}]}
    type: "oauth2"   # trailing comment
display: {name: 'Example CRM', description: Contacts and deals.}
`

// newClientSecret returns a distinctive client secret.
func newClientSecret(t testing.TB) string {
	t.Helper()
	return "client-secret-" + hex.EncodeToString(randomBytes(t, 16))
}

// needsClientSecret reports whether a definition's client secret comes with the version.
func needsClientSecret(t testing.TB, src []byte) bool {
	t.Helper()
	var doc struct {
		Auth struct {
			OAuth2 *struct {
				ClientSecretRef string `json:"clientSecretRef"`
			} `json:"oauth2"`
		} `json:"auth"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatalf("decode definition: %v", err)
	}
	return doc.Auth.OAuth2 != nil && doc.Auth.OAuth2.ClientSecretRef == "version"
}

// --- fixtures and checks ------------------------------------------------------------------

func mkConnector(t testing.TB, c *sdk.ClientWithResponses, ns, name string) sdk.Connector {
	t.Helper()
	return *call(c.CreateConnectorWithResponse(t.Context(), sdk.ConnectorCreate{Namespace: ns, Name: name})).want(t, http.StatusCreated).JSON201
}

func mkConnectorVersion(t testing.TB, c *sdk.ClientWithResponses, id, def string, clientSecret *string) sdk.ConnectorVersion {
	t.Helper()
	return *call(c.CreateConnectorVersionWithResponse(t.Context(), id, sdk.ConnectorVersionCreate{Definition: def, ClientSecret: clientSecret})).
		want(t, http.StatusCreated).JSON201
}

// versionStates renders the states of a connector's versions, oldest first, such as
// "1:primary 2:active".
func versionStates(t testing.TB, c *sdk.ClientWithResponses, id string) string {
	t.Helper()
	vs := call(c.ListConnectorVersionsWithResponse(t.Context(), id, nil)).want(t, http.StatusOK).JSON200.Items
	slices.SortFunc(vs, func(a, b sdk.ConnectorVersion) int { return a.Version - b.Version })
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%d:%s", v.Version, v.State)
	}
	return strings.Join(parts, " ")
}

func wantStates(t testing.TB, c *sdk.ClientWithResponses, id, want string) {
	t.Helper()
	if got := versionStates(t, c, id); got != want {
		t.Errorf("versions of %s = %q, want %q", id, got, want)
	}
}

// wantConnector checks a connector's primaryVersion (0: absent from the body) and
// latestVersion, and returns it.
func wantConnector(t testing.TB, c *sdk.ClientWithResponses, id string, primary, latest int) sdk.Connector {
	t.Helper()
	r := call(c.GetConnectorWithResponse(t.Context(), id)).want(t, http.StatusOK)
	got := *r.JSON200
	p := 0
	if got.PrimaryVersion != nil {
		p = *got.PrimaryVersion
	}
	if p != primary || got.LatestVersion != latest {
		t.Errorf("connector %s: primaryVersion %d, latestVersion %d; want %d and %d", id, p, got.LatestVersion, primary, latest)
	}
	if primary == 0 && bytes.Contains(r.Body, []byte(`"primaryVersion"`)) {
		t.Errorf("connector %s has no primary, but its body names primaryVersion: %s", id, r.Body)
	}
	return got
}

// wantVersion checks a version's number and state, that publishedAt is set exactly when
// published and archivedAt exactly when archived.
func wantVersion(t testing.TB, v sdk.ConnectorVersion, number int, state sdk.ConnectorVersionState, published bool) {
	t.Helper()
	if v.Version != number || v.State != state || (v.PublishedAt != nil) != published ||
		(v.ArchivedAt != nil) != (state == sdk.ConnectorVersionArchived) {
		t.Errorf("version = %s, want number %d, state %s, published %v, archivedAt set only when archived",
			jsonOf(t, v), number, state, published)
	}
}

// wantDetail checks a problem's detail word for word.
func wantDetail(t testing.TB, p sdk.Problem, want string) {
	t.Helper()
	if got := deref(p.Detail); got != want {
		t.Errorf("problem detail = %q, want %q", got, want)
	}
}

// --- tests --------------------------------------------------------------------------------

// TestConnectorLifecycle walks a connector through every allowed version transition and
// every refused one, then deletes it.
func TestConnectorLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.cl")

		// --- the connector itself -------------------------------------------------------
		cr := call(h.admin.CreateConnectorWithResponse(ctx, sdk.ConnectorCreate{
			Namespace: "root.cl", Name: "weather", Labels: labelsPtr("tier", "gold"), Annotations: annotationsPtr("note", "first"),
		})).want(t, http.StatusCreated)
		c := *cr.JSON201
		if !strings.HasPrefix(c.Id, "cxr_") || c.Namespace != "root.cl" || c.Name != "weather" || c.LatestVersion != 0 ||
			c.PrimaryVersion != nil || c.Labels["tier"] != "gold" || c.Annotations["note"] != "first" || c.CreatedAt.IsZero() {
			t.Errorf("created connector = %s", cr.Body)
		}
		call(h.admin.CreateConnectorWithResponse(ctx, sdk.ConnectorCreate{Namespace: "root.cl", Name: "weather"})).
			problem(t, http.StatusConflict, "", `a connector named "weather" already exists in namespace "root.cl"`)
		empty := mkConnector(t, h.admin, "root.cl", "empty")

		list := call(h.admin.ListConnectorsWithResponse(ctx, &sdk.ListConnectorsParams{Namespace: strPtr("root.cl")})).want(t, http.StatusOK).JSON200
		if len(list.Items) != 2 {
			t.Errorf("list root.cl = %s, want 2 connectors", jsonOf(t, list))
		}
		sel := call(h.admin.ListConnectorsWithResponse(ctx, &sdk.ListConnectorsParams{LabelSelector: strPtr("tier=gold")})).want(t, http.StatusOK).JSON200
		if len(sel.Items) != 1 || sel.Items[0].Id != c.Id {
			t.Errorf("list tier=gold = %s, want only %s", jsonOf(t, sel), c.Id)
		}
		first := call(h.admin.ListConnectorsWithResponse(ctx, &sdk.ListConnectorsParams{Limit: intPtr(1)})).want(t, http.StatusOK).JSON200
		if len(first.Items) != 1 || first.NextCursor == nil {
			t.Errorf("list limit=1 = %s", jsonOf(t, first))
		} else {
			second := call(h.admin.ListConnectorsWithResponse(ctx, &sdk.ListConnectorsParams{Limit: intPtr(1), Cursor: first.NextCursor})).want(t, http.StatusOK).JSON200
			if len(second.Items) != 1 || second.Items[0].Id == first.Items[0].Id || second.NextCursor != nil {
				t.Errorf("second page = %s", jsonOf(t, second))
			}
		}
		upd := call(h.admin.UpdateConnectorWithResponse(ctx, c.Id, sdk.ConnectorUpdate{Labels: labelsPtr("env", "prod")})).want(t, http.StatusOK).JSON200
		if len(upd.Labels) != 1 || upd.Labels["env"] != "prod" || upd.Annotations["note"] != "first" {
			t.Errorf("patched labels: %s, want labels {env: prod} and the annotation kept", jsonOf(t, upd))
		}
		upd = call(h.admin.UpdateConnectorWithResponse(ctx, c.Id, sdk.ConnectorUpdate{Annotations: annotationsPtr("note", "second")})).want(t, http.StatusOK).JSON200
		if upd.Labels["env"] != "prod" || len(upd.Annotations) != 1 || upd.Annotations["note"] != "second" {
			t.Errorf("patched annotations: %s, want the labels kept and annotations {note: second}", jsonOf(t, upd))
		}

		// --- v1: draft → primary, promoting it again is a no-op --------------------------
		v1 := mkConnectorVersion(t, h.admin, c.Id, noAuthDefinition("Weather v1"), nil)
		wantVersion(t, v1, 1, sdk.ConnectorVersionDraft, false)
		if v1.ConnectorId != c.Id || v1.Namespace != "root.cl" || v1.HasClientSecret || len(v1.DefinitionHash) != len("sha256:")+64 ||
			!strings.HasPrefix(v1.DefinitionHash, "sha256:") || v1.Definition["display"] == nil {
			t.Errorf("created version = %s", jsonOf(t, v1))
		}
		wantConnector(t, h.admin, c.Id, 0, 1)
		p1 := *call(h.admin.PromoteConnectorVersionWithResponse(ctx, c.Id, 1)).want(t, http.StatusOK).JSON200
		wantVersion(t, p1, 1, sdk.ConnectorVersionPrimary, true)
		wantConnector(t, h.admin, c.Id, 1, 1)
		again := *call(h.admin.PromoteConnectorVersionWithResponse(ctx, c.Id, 1)).want(t, http.StatusOK).JSON200
		wantVersion(t, again, 1, sdk.ConnectorVersionPrimary, true)
		if !again.PublishedAt.Equal(*p1.PublishedAt) {
			t.Errorf("promoting the primary again moved publishedAt from %v to %v", p1.PublishedAt, again.PublishedAt)
		}

		// --- v2: promoting it makes v1 active; promoting v1 back is the rollback ----------
		mkConnectorVersion(t, h.admin, c.Id, noAuthDefinition("Weather v2"), nil)
		wantStates(t, h.admin, c.Id, "1:primary 2:draft")
		p2 := *call(h.admin.PromoteConnectorVersionWithResponse(ctx, c.Id, 2)).want(t, http.StatusOK).JSON200
		wantVersion(t, p2, 2, sdk.ConnectorVersionPrimary, true)
		wantStates(t, h.admin, c.Id, "1:active 2:primary")
		wantConnector(t, h.admin, c.Id, 2, 2)
		back := *call(h.admin.PromoteConnectorVersionWithResponse(ctx, c.Id, 1)).want(t, http.StatusOK).JSON200
		wantVersion(t, back, 1, sdk.ConnectorVersionPrimary, true)
		if !back.PublishedAt.Equal(*p1.PublishedAt) {
			t.Errorf("the rollback moved v1's publishedAt from %v to %v; it is when v1 first became primary", p1.PublishedAt, back.PublishedAt)
		}
		wantStates(t, h.admin, c.Id, "1:primary 2:active")
		wantConnector(t, h.admin, c.Id, 1, 2)

		// --- archive v2 (active); archived cannot come back, published cannot change -----
		a2 := *call(h.admin.ArchiveConnectorVersionWithResponse(ctx, c.Id, 2)).want(t, http.StatusOK).JSON200
		wantVersion(t, a2, 2, sdk.ConnectorVersionArchived, true)
		a2again := *call(h.admin.ArchiveConnectorVersionWithResponse(ctx, c.Id, 2)).want(t, http.StatusOK).JSON200
		if a2again.State != sdk.ConnectorVersionArchived || !a2again.ArchivedAt.Equal(*a2.ArchivedAt) {
			t.Errorf("archiving again = %s, want a no-op keeping archivedAt %v", jsonOf(t, a2again), a2.ArchivedAt)
		}
		wantDetail(t, call(h.admin.PromoteConnectorVersionWithResponse(ctx, c.Id, 2)).problem(t, http.StatusConflict, "", ""),
			"version 2 is archived and cannot be promoted; create a new version with its definition")
		wantDetail(t, call(h.admin.UpdateConnectorVersionWithResponse(ctx, c.Id, 1, sdk.ConnectorVersionCreate{Definition: noAuthDefinition("Changed")})).
			problem(t, http.StatusConflict, "", ""),
			"version 1 was published (it has been primary): its definition never changes; create a new version")
		wantDetail(t, call(h.admin.UpdateConnectorVersionWithResponse(ctx, c.Id, 2, sdk.ConnectorVersionCreate{Definition: noAuthDefinition("Changed")})).
			problem(t, http.StatusConflict, "", ""),
			"version 2 was published (it has been primary): its definition never changes; create a new version")
		if got := *call(h.admin.GetConnectorVersionWithResponse(ctx, c.Id, 1)).want(t, http.StatusOK).JSON200; got.DefinitionHash != v1.DefinitionHash {
			t.Errorf("refused PUT changed v1's hash from %s to %s", v1.DefinitionHash, got.DefinitionHash)
		}
		wantStates(t, h.admin, c.Id, "1:primary 2:archived")

		// --- v3: a draft's definition can be replaced ------------------------------------
		v3 := mkConnectorVersion(t, h.admin, c.Id, noAuthDefinition("Weather v3"), nil)
		put := *call(h.admin.UpdateConnectorVersionWithResponse(ctx, c.Id, 3, sdk.ConnectorVersionCreate{Definition: noAuthDefinition("Weather v3 fixed")})).
			want(t, http.StatusOK).JSON200
		wantVersion(t, put, 3, sdk.ConnectorVersionDraft, false)
		if put.DefinitionHash == v3.DefinitionHash || !strings.HasPrefix(put.DefinitionHash, "sha256:") {
			t.Errorf("PUT v3: hash %s, want a new sha256 hash (was %s)", put.DefinitionHash, v3.DefinitionHash)
		}
		if d, _ := put.Definition["display"].(map[string]any); d == nil || d["name"] != "Weather v3 fixed" {
			t.Errorf("PUT v3: definition %s, want the new display name", jsonOf(t, put.Definition))
		}
		if got := *call(h.admin.GetConnectorVersionWithResponse(ctx, c.Id, 3)).want(t, http.StatusOK).JSON200; got.DefinitionHash != put.DefinitionHash {
			t.Errorf("GET v3 hash %s, want the replaced %s", got.DefinitionHash, put.DefinitionHash)
		}
		wantConnector(t, h.admin, c.Id, 1, 3)
		call(h.admin.UpdateConnectorVersionWithResponse(ctx, c.Id, 9, sdk.ConnectorVersionCreate{Definition: noAuthDefinition("X")})).
			problem(t, http.StatusNotFound, "", "has no version 9")
		call(h.admin.PromoteConnectorVersionWithResponse(ctx, c.Id, 9)).problem(t, http.StatusNotFound, "", "has no version 9")
		call(h.admin.ArchiveConnectorVersionWithResponse(ctx, c.Id, 9)).problem(t, http.StatusNotFound, "", "has no version 9")
		call(h.admin.GetConnectorVersionWithResponse(ctx, c.Id, 9)).problem(t, http.StatusNotFound, "", "has no version 9")

		// --- the primary cannot be archived, nor a connector with live versions deleted --
		before := wantConnector(t, h.admin, c.Id, 1, 3)
		wantDetail(t, call(h.admin.ArchiveConnectorVersionWithResponse(ctx, c.Id, 1)).problem(t, http.StatusConflict, "", ""),
			"version 1 is primary; point authproxy_connector_primary at another version first")
		p := call(h.admin.DeleteConnectorWithResponse(ctx, c.Id)).problem(t, http.StatusConflict, "", "")
		wantDetail(t, p, fmt.Sprintf("connector %s still has 2 version(s) that are not archived ([1 3]); archive them first (demote the primary, then archive)", c.Id))
		wantStates(t, h.admin, c.Id, "1:primary 2:archived 3:draft")
		if now := wantConnector(t, h.admin, c.Id, 1, 3); jsonOf(t, now) != jsonOf(t, before) {
			t.Errorf("refused requests changed the connector:\n got %s\nwant %s", jsonOf(t, now), jsonOf(t, before))
		}

		// --- demote: no primary; v1 active, still published ------------------------------
		dem := call(h.admin.DemoteConnectorWithResponse(ctx, c.Id)).want(t, http.StatusOK)
		if dem.JSON200.PrimaryVersion != nil || bytes.Contains(dem.Body, []byte(`"primaryVersion"`)) || dem.JSON200.LatestVersion != 3 {
			t.Errorf("demote = %s, want no primaryVersion and latestVersion 3", dem.Body)
		}
		wantConnector(t, h.admin, c.Id, 0, 3)
		wantStates(t, h.admin, c.Id, "1:active 2:archived 3:draft")
		call(h.admin.DemoteConnectorWithResponse(ctx, c.Id)).want(t, http.StatusOK)
		wantStates(t, h.admin, c.Id, "1:active 2:archived 3:draft")
		wantDetail(t, call(h.admin.UpdateConnectorVersionWithResponse(ctx, c.Id, 1, sdk.ConnectorVersionCreate{Definition: noAuthDefinition("Changed")})).
			problem(t, http.StatusConflict, "", ""),
			"version 1 was published (it has been primary): its definition never changes; create a new version")

		// --- archive everything: a draft (never published) and an active version --------
		a3 := *call(h.admin.ArchiveConnectorVersionWithResponse(ctx, c.Id, 3)).want(t, http.StatusOK).JSON200
		wantVersion(t, a3, 3, sdk.ConnectorVersionArchived, false)
		wantDetail(t, call(h.admin.UpdateConnectorVersionWithResponse(ctx, c.Id, 3, sdk.ConnectorVersionCreate{Definition: noAuthDefinition("Changed")})).
			problem(t, http.StatusConflict, "", ""),
			"version 3 is archived: only drafts can be edited; create a new version")
		wantDetail(t, call(h.admin.PromoteConnectorVersionWithResponse(ctx, c.Id, 3)).problem(t, http.StatusConflict, "", ""),
			"version 3 is archived and cannot be promoted; create a new version with its definition")
		a1 := *call(h.admin.ArchiveConnectorVersionWithResponse(ctx, c.Id, 1)).want(t, http.StatusOK).JSON200
		wantVersion(t, a1, 1, sdk.ConnectorVersionArchived, true)
		wantStates(t, h.admin, c.Id, "1:archived 2:archived 3:archived")
		archived := sdk.ConnectorVersionArchived
		if l := call(h.admin.ListConnectorVersionsWithResponse(ctx, c.Id, &sdk.ListConnectorVersionsParams{State: &archived})).want(t, http.StatusOK).JSON200; len(l.Items) != 3 {
			t.Errorf("versions in state archived = %s, want 3", jsonOf(t, l))
		}
		draft := sdk.ConnectorVersionDraft
		if l := call(h.admin.ListConnectorVersionsWithResponse(ctx, c.Id, &sdk.ListConnectorVersionsParams{State: &draft})).want(t, http.StatusOK).JSON200; len(l.Items) != 0 {
			t.Errorf("versions in state draft = %s, want none", jsonOf(t, l))
		}
		wantConnector(t, h.admin, c.Id, 0, 3)

		// --- delete ----------------------------------------------------------------------
		call(h.admin.DeleteConnectorWithResponse(ctx, c.Id)).want(t, http.StatusNoContent)
		call(h.admin.GetConnectorWithResponse(ctx, c.Id)).problem(t, http.StatusNotFound, "", "connector not found")
		call(h.admin.GetConnectorVersionWithResponse(ctx, c.Id, 1)).problem(t, http.StatusNotFound, "", "connector not found")
		call(h.admin.ListConnectorVersionsWithResponse(ctx, c.Id, nil)).problem(t, http.StatusNotFound, "", "connector not found")
		call(h.admin.DeleteConnectorWithResponse(ctx, c.Id)).problem(t, http.StatusNotFound, "", "connector not found")
		call(h.admin.CreateConnectorVersionWithResponse(ctx, c.Id, sdk.ConnectorVersionCreate{Definition: noAuthDefinition("Late")})).
			problem(t, http.StatusNotFound, "", "connector not found")
		// A connector without versions is deleted at once; the name is free again.
		call(h.admin.DeleteConnectorWithResponse(ctx, empty.Id)).want(t, http.StatusNoContent)
		if l := call(h.admin.ListConnectorsWithResponse(ctx, &sdk.ListConnectorsParams{Namespace: strPtr("root.cl")})).want(t, http.StatusOK).JSON200; len(l.Items) != 0 {
			t.Errorf("after deleting both, root.cl lists %s", jsonOf(t, l))
		}
		reborn := mkConnector(t, h.admin, "root.cl", "weather")
		if reborn.Id == c.Id {
			t.Errorf("a new connector reuses the deleted id %s", c.Id)
		}
		wantConnector(t, h.admin, reborn.Id, 0, 0)
	})
}

// TestConnectorDefinitions: formatting does not change a definition's hash; every example
// is accepted; bad definitions and misplaced client secrets are refused with the field and
// line, writing nothing; the client secret is never returned and is stored sealed.
func TestConnectorDefinitions(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.cd")
		var seen bodies
		var secrets []string
		sealed := 0 // versions holding a client secret in root.cd
		withSecret := func(id, def string) sdk.ConnectorVersion {
			t.Helper()
			s := newClientSecret(t)
			secrets = append(secrets, s)
			sealed++
			r := call(h.admin.CreateConnectorVersionWithResponse(ctx, id, sdk.ConnectorVersionCreate{Definition: def, ClientSecret: &s})).want(t, http.StatusCreated)
			seen.add(r)
			if !r.JSON201.HasClientSecret || bytes.Contains(r.Body, []byte(`"clientSecret"`)) {
				t.Errorf("version with a client secret = %s, want hasClientSecret and no clientSecret field", r.Body)
			}
			return *r.JSON201
		}

		// --- one definition, three spellings, one hash ---------------------------------
		c := mkConnector(t, h.admin, "root.cd", "spellings")
		yamlV := withSecret(c.Id, oauthDefinition)
		jsonV := withSecret(c.Id, oauthDefinitionJSON)
		reformV := withSecret(c.Id, oauthDefinitionReformatted)
		if yamlV.DefinitionHash != jsonV.DefinitionHash || yamlV.DefinitionHash != reformV.DefinitionHash {
			t.Errorf("hashes: YAML %s, JSON %s, reformatted YAML %s; want one hash", yamlV.DefinitionHash, jsonV.DefinitionHash, reformV.DefinitionHash)
		}
		if d := jsonOf(t, yamlV.Definition); d != jsonOf(t, jsonV.Definition) || d != jsonOf(t, reformV.Definition) {
			t.Errorf("normalised definitions differ:\n%s\n%s\n%s", jsonOf(t, yamlV.Definition), jsonOf(t, jsonV.Definition), jsonOf(t, reformV.Definition))
		}
		// The hash is the SHA-256 of the definition as canonical JSON (sorted keys, no
		// whitespace), which the served definition is.
		canon := new(bytes.Buffer)
		enc := json.NewEncoder(canon)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(yamlV.Definition); err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(bytes.TrimSuffix(canon.Bytes(), []byte("\n"))); yamlV.DefinitionHash != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Errorf("hash %s is not the SHA-256 of the canonical JSON %s", yamlV.DefinitionHash, canon.Bytes())
		}
		other := withSecret(c.Id, strings.Replace(oauthDefinition, "clientId: crm-client", "clientId: crm-other", 1))
		if other.DefinitionHash == yamlV.DefinitionHash {
			t.Errorf("another client id gives the same hash %s", other.DefinitionHash)
		}
		for _, src := range []string{oauthDefinition, oauthDefinitionJSON, oauthDefinitionReformatted} {
			v := call(h.admin.ValidateConnectorDefinitionWithResponse(ctx, sdk.ConnectorDefinitionInput{Definition: src})).want(t, http.StatusOK)
			if !v.JSON200.Valid || v.JSON200.Errors == nil || len(v.JSON200.Errors) != 0 {
				t.Errorf("_validate = %s, want valid with errors []", v.Body)
			}
		}

		// --- every example is accepted --------------------------------------------------
		files, err := filepath.Glob(filepath.Join("..", "..", "examples", "connectors", "*"))
		if err != nil {
			t.Fatal(err)
		}
		var examples int
		for _, f := range files {
			ext := filepath.Ext(f)
			if ext != ".yaml" && ext != ".yml" && ext != ".json" {
				continue
			}
			examples++
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			v := call(h.admin.ValidateConnectorDefinitionWithResponse(ctx, sdk.ConnectorDefinitionInput{Definition: string(src)})).want(t, http.StatusOK)
			if !v.JSON200.Valid || len(v.JSON200.Errors) != 0 {
				t.Errorf("%s: _validate = %s", f, v.Body)
			}
			ec := mkConnector(t, h.admin, "root.cd", strings.TrimSuffix(filepath.Base(f), ext))
			var ev sdk.ConnectorVersion
			if needsClientSecret(t, src) {
				ev = withSecret(ec.Id, string(src))
			} else {
				r := call(h.admin.CreateConnectorVersionWithResponse(ctx, ec.Id, sdk.ConnectorVersionCreate{Definition: string(src)})).want(t, http.StatusCreated)
				seen.add(r)
				ev = *r.JSON201
				if ev.HasClientSecret {
					t.Errorf("%s: version without a client secret has hasClientSecret", f)
				}
			}
			wantVersion(t, ev, 1, sdk.ConnectorVersionDraft, false)
			var want map[string]any
			if err := yaml.Unmarshal(src, &want); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if jsonOf(t, ev.Definition) != jsonOf(t, want) {
				t.Errorf("%s: stored definition %s, want the example as JSON %s", f, jsonOf(t, ev.Definition), jsonOf(t, want))
			}
			call(h.admin.PromoteConnectorVersionWithResponse(ctx, ec.Id, 1)).want(t, http.StatusOK)
		}
		if examples < 6 {
			t.Errorf("found %d examples in examples/connectors, want at least 6", examples)
		}

		// --- bad definitions: 400 naming field and line; nothing written ----------------
		bad := mkConnector(t, h.admin, "root.cd", "bad")
		created := mkConnectorVersion(t, h.admin, bad.Id, noAuthDefinition("Draft"), nil)
		draft := *call(h.admin.GetConnectorVersionWithResponse(ctx, bad.Id, 1)).want(t, http.StatusOK).JSON200
		if jsonOf(t, created) != jsonOf(t, draft) {
			t.Errorf("the created version differs from what a GET returns right after:\ncreated %s\n    GET %s", jsonOf(t, created), jsonOf(t, draft))
		}
		// Each bad definition with the field error the API must answer, written as
		// "<field>: line <n>: <start of the message>".
		badDefinitions := map[string]string{
			"display: [1,\n":        "definition: line 1: not valid YAML or JSON",
			"- a\n- b\n":            "definition: line 1: a definition is a mapping (an object) at the top level",
			"auth:\n  type: none\n": "definition.display: line 1: is required",
			"display:\n  name: X\n  colour: red\nauth:\n  type: none\n":                                         "definition.display.colour: line 3: unknown field",
			"display:\n  name: X\nauth:\n  type: magic\n":                                                       "definition.auth.type: line 4: value must be one of 'oauth2', 'api_key', 'none'",
			noAuthDefinition("X") + "auth:\n  type: none\n":                                                     "definition.auth: line 7: defined twice",
			noAuthDefinition("X") + "  timeout: soon\n":                                                         "definition.upstream.timeout: line 7: 'soon' does not match pattern",
			noAuthDefinition("X") + "probes:\n  - name: p\n    url: https://evil.example/x\n":                   `definition.probes[0].url: line 9: "https://evil.example/x" is not under any of upstream.allowedUrls`,
			strings.Replace(oauthDefinition, "https://login.crm.example/oauth/token", "/token", 1):              `definition.auth.oauth2.tokenUrl: line 11: "/token" must be an absolute http or https URL`,
			strings.Replace(oauthDefinition, "https://login.crm.example/", "https://u:p@login.crm.example/", 1): "definition.auth.oauth2.authorizeUrl: line 10: URL must not carry credentials",
		}
		for src, want := range badDefinitions {
			field, message, _ := strings.Cut(want, ": ")
			var line int
			if _, err := fmt.Sscanf(message, "line %d: ", &line); err != nil {
				t.Fatalf("bad want %q: %v", want, err)
			}
			for what, r := range map[string]result[apiResponse]{
				"create": asResult(h.admin.CreateConnectorVersionWithResponse(ctx, bad.Id, sdk.ConnectorVersionCreate{Definition: src})),
				"PUT":    asResult(h.admin.UpdateConnectorVersionWithResponse(ctx, bad.Id, 1, sdk.ConnectorVersionCreate{Definition: src})),
			} {
				p := r.problem(t, http.StatusBadRequest, field, "")
				if fe := findField(p, field); fe != nil && !strings.HasPrefix(fe.Message, message) {
					t.Errorf("%s of %q: message %q, want it to start with %q", what, src, fe.Message, message)
				}
			}
			// _validate names the field within the definition, the line apart.
			v := call(h.admin.ValidateConnectorDefinitionWithResponse(ctx, sdk.ConnectorDefinitionInput{Definition: src})).want(t, http.StatusOK).JSON200
			inner := strings.TrimPrefix(strings.TrimPrefix(field, "definition"), ".")
			rest := strings.TrimPrefix(message, fmt.Sprintf("line %d: ", line))
			found := false
			for _, e := range v.Errors {
				found = found || (e.Field == inner && e.Line != nil && *e.Line == line && strings.HasPrefix(e.Message, rest))
			}
			if v.Valid || !found {
				t.Errorf("_validate %q = %s, want invalid with field %q, line %d, message starting %q", src, jsonOf(t, v), inner, line, rest)
			}
		}
		wantConnector(t, h.admin, bad.Id, 0, 1)
		if got := *call(h.admin.GetConnectorVersionWithResponse(ctx, bad.Id, 1)).want(t, http.StatusOK).JSON200; jsonOf(t, got) != jsonOf(t, draft) {
			t.Errorf("refused PUTs changed the draft:\n got %s\nwant %s", jsonOf(t, got), jsonOf(t, draft))
		}

		// Malformed requests, not definitions.
		for _, tc := range []struct{ method, path, body, field, msg string }{
			{http.MethodPost, "/versions", `{"definition":"auth: {type: none}","bogus":1}`, "bogus", "unknown field"},
			{http.MethodPost, "/versions", `{}`, "definition", ""},
			{http.MethodPut, "/versions/1", `{"definition":1}`, "definition", ""},
			{http.MethodGet, "/versions/one", "", "version", ""},
		} {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			resp, b := h.adminDo(t, tc.method, "/api/v1/connectors/"+bad.Id+tc.path, "application/json", body)
			wantProblem(t, resp, b, http.StatusBadRequest, tc.field, tc.msg)
		}
		resp, b := h.adminDo(t, http.MethodPost, "/api/v1/connectors/_validate", "application/json", []byte(`{"definition":"x","more":1}`))
		wantProblem(t, resp, b, http.StatusBadRequest, "more", "unknown field")
		wantConnector(t, h.admin, bad.Id, 0, 1)

		// --- the client secret: required exactly when the definition says so -----------
		given := newClientSecret(t)
		secrets = append(secrets, given)
		for _, body := range []sdk.ConnectorVersionCreate{
			{Definition: oauthDefinition},
			{Definition: oauthDefinition, ClientSecret: strPtr("")},
		} {
			p := call(h.admin.CreateConnectorVersionWithResponse(ctx, bad.Id, body)).problem(t, http.StatusBadRequest, "clientSecret", "is required")
			seen = append(seen, []byte(jsonOf(t, p)))
		}
		for _, def := range []string{noAuthDefinition("No secret"), strings.Replace(oauthDefinition, "clientSecretRef: version\n    tokenEndpointAuthMethod: client_secret_post", "tokenEndpointAuthMethod: none", 1)} {
			r := call(h.admin.CreateConnectorVersionWithResponse(ctx, bad.Id, sdk.ConnectorVersionCreate{Definition: def, ClientSecret: &given})).get(t)
			call(r, nil).problem(t, http.StatusBadRequest, "clientSecret", "takes no client secret")
			seen.add(r)
			r2 := call(h.admin.UpdateConnectorVersionWithResponse(ctx, bad.Id, 1, sdk.ConnectorVersionCreate{Definition: def, ClientSecret: &given})).get(t)
			call(r2, nil).problem(t, http.StatusBadRequest, "clientSecret", "takes no client secret")
			seen.add(r2)
		}
		call(h.admin.UpdateConnectorVersionWithResponse(ctx, bad.Id, 1, sdk.ConnectorVersionCreate{Definition: oauthDefinition})).
			problem(t, http.StatusBadRequest, "clientSecret", "is required")
		wantConnector(t, h.admin, bad.Id, 0, 1)
		if got := *call(h.admin.GetConnectorVersionWithResponse(ctx, bad.Id, 1)).want(t, http.StatusOK).JSON200; jsonOf(t, got) != jsonOf(t, draft) {
			t.Errorf("refused requests changed the draft:\n got %s\nwant %s", jsonOf(t, got), jsonOf(t, draft))
		}
		// A draft can take a secret with a new definition, and lose it again.
		put := call(h.admin.UpdateConnectorVersionWithResponse(ctx, bad.Id, 1, sdk.ConnectorVersionCreate{Definition: oauthDefinition, ClientSecret: &given})).want(t, http.StatusOK)
		seen.add(put)
		sealed++
		if !put.JSON200.HasClientSecret {
			t.Errorf("PUT with a client secret = %s, want hasClientSecret", put.Body)
		}

		// --- never returned, stored sealed ----------------------------------------------
		for _, cid := range []string{c.Id, bad.Id} {
			lr := call(h.admin.ListConnectorVersionsWithResponse(ctx, cid, nil)).want(t, http.StatusOK)
			seen.add(lr)
			for _, v := range lr.JSON200.Items {
				seen.add(call(h.admin.GetConnectorVersionWithResponse(ctx, cid, v.Version)).want(t, http.StatusOK))
			}
		}
		st := call(h.admin.GetEncryptionStatusWithResponse(ctx, &sdk.GetEncryptionStatusParams{Namespace: strPtr("root.cd")})).want(t, http.StatusOK)
		seen.add(st)
		var rows int64
		for _, r := range st.JSON200.Items {
			if r.Table == connectorSecretTable {
				if r.Column != "client_secret" || r.Namespace != "root.cd" || r.KeyVersionId == "" {
					t.Errorf("status row %s, want column client_secret of root.cd under a key version", jsonOf(t, r))
				}
				rows += r.Count
			}
		}
		if rows != int64(sealed) {
			t.Errorf("status counts %d sealed client secrets in root.cd, want %d: %s", rows, sealed, st.Body)
		}
		put = call(h.admin.UpdateConnectorVersionWithResponse(ctx, bad.Id, 1, sdk.ConnectorVersionCreate{Definition: noAuthDefinition("Draft")})).want(t, http.StatusOK)
		if put.JSON200.HasClientSecret || put.JSON200.DefinitionHash != draft.DefinitionHash {
			t.Errorf("PUT back without a client secret = %s, want no client secret and the first hash", put.Body)
		}
		after := call(h.admin.GetEncryptionStatusWithResponse(ctx, &sdk.GetEncryptionStatusParams{Namespace: strPtr("root.cd")})).want(t, http.StatusOK).JSON200
		if n := statusCounts(*after, connectorSecretTable, "root.cd"); sumCounts(n) != int64(sealed-1) {
			t.Errorf("after the draft dropped its secret the status counts %v, want %d", n, sealed-1)
		}
		for _, s := range secrets {
			seen.wantNone(t, s)
		}
	})
}

func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, c := range m {
		n += c
	}
	return n
}

// asResult erases a response's type, so that one table can hold different calls.
func asResult[R apiResponse](r R, err error) result[apiResponse] { return result[apiResponse]{r, err} }

// TestConnectorSecretTenantKey extends the tenant-key test to connector client secrets:
// sealed with the root key at first, they move to the tenant's key once it is assigned and
// the worker has run; new ones are sealed with it at once; other tenants' stay put; no
// plaintext is stored.
func TestConnectorSecretTenantKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		for _, p := range []string{"root.tenants", "root.tenants.acme", "root.tenants.other"} {
			h.mkNamespace(t, p)
		}
		var clientSecrets []string
		add := func(id string) {
			t.Helper()
			s := newClientSecret(t)
			clientSecrets = append(clientSecrets, s)
			mkConnectorVersion(t, h.admin, id, oauthDefinition, &s)
		}
		acme := mkConnector(t, h.admin, "root.tenants.acme", "crm")
		add(acme.Id)
		add(acme.Id)
		mkConnectorVersion(t, h.admin, acme.Id, noAuthDefinition("No secret"), nil)
		other := mkConnector(t, h.admin, "root.tenants.other", "crm")
		add(other.Id)

		st := *call(h.admin.GetEncryptionStatusWithResponse(ctx, nil)).want(t, http.StatusOK).JSON200
		otherRows := statusCounts(st, connectorSecretTable, "root.tenants.other")
		if len(otherRows) != 1 || sumCounts(otherRows) != 1 {
			t.Fatalf("client secrets of root.tenants.other per key version = %v, want one", otherRows)
		}
		var rootKV string
		for kv := range otherRows {
			rootKV = kv
		}
		if got := statusCounts(st, connectorSecretTable, "root.tenants.acme"); !onlyVersion(got, rootKV, 2) {
			t.Errorf("client secrets of root.tenants.acme per key version = %v, want 2 under the root key %s", got, rootKV)
		}

		key := assignNewKey(t, h.admin, "root.tenants.acme", "tenant")
		v1 := keyVersionID(t, h.admin, key.Id, 1)
		st = waitStatus(t, h.admin, "acme's client secrets under "+v1, func(st sdk.EncryptionStatus) bool {
			return onlyVersion(statusCounts(st, connectorSecretTable, "root.tenants.acme"), v1, 2)
		})
		if job := st.Reencryption; job == nil || job.State != sdk.ReencryptionJobDone || job.Unreadable != 0 || job.Rewritten < 2 {
			t.Errorf("re-encryption job = %s, want done, at least the 2 client secrets rewritten, none unreadable", jsonOf(t, job))
		}
		if got := statusCounts(st, connectorSecretTable, "root.tenants.other"); !onlyVersion(got, rootKV, 1) {
			t.Errorf("client secrets of root.tenants.other per key version = %v, want 1 under the root key %s", got, rootKV)
		}

		// Sealed with the tenant key from the start.
		add(acme.Id)
		st = *call(h.admin.GetEncryptionStatusWithResponse(ctx, nil)).want(t, http.StatusOK).JSON200
		if got := statusCounts(st, connectorSecretTable, "root.tenants.acme"); !onlyVersion(got, v1, 3) {
			t.Errorf("after a new version, client secrets of root.tenants.acme per key version = %v, want 3 under %s", got, v1)
		}
		// The tenant sees its rows.
		owner := h.mkActor(t, "root.tenants.acme", "owner", perm("root.tenants.acme.**", "keys,connectors", "get,list"))
		ost := call(owner.Client.GetEncryptionStatusWithResponse(ctx, nil)).want(t, http.StatusOK)
		if got := statusCounts(*ost.JSON200, connectorSecretTable, "root.tenants.acme"); !onlyVersion(got, v1, 3) {
			t.Errorf("the tenant's status shows its client secrets as %v, want 3 under %s", got, v1)
		}
		if got := statusCounts(*ost.JSON200, connectorSecretTable, "root.tenants.other"); len(got) != 0 {
			t.Errorf("the tenant's status shows another tenant's client secrets: %v", got)
		}
		vs := call(owner.Client.ListConnectorVersionsWithResponse(ctx, acme.Id, nil)).want(t, http.StatusOK)
		if len(vs.JSON200.Items) != 4 {
			t.Errorf("acme's versions = %s, want 4", vs.Body)
		}
		for _, v := range vs.JSON200.Items {
			if v.HasClientSecret != (v.Version != 3) {
				t.Errorf("version %d: hasClientSecret %v", v.Version, v.HasClientSecret)
			}
		}

		stored := h.atRest(t)
		if len(stored.find([]byte(acme.Id))) == 0 {
			t.Fatalf("connector id %s is not found in %s: the search does not see what is stored", acme.Id, stored.places())
		}
		for _, s := range clientSecrets {
			bodies{ost.Body, vs.Body}.wantNone(t, s)
			for _, n := range encodings("client secret "+s, []byte(s)) {
				if at := stored.find(n.b); len(at) > 0 {
					t.Errorf("%s is stored at rest: %s", n.what, strings.Join(at, "; "))
				}
			}
		}
	})
}

// TestConnectorConcurrency: concurrent version creation numbers versions 1..n without gaps
// or repeats; concurrent promotions of different versions leave exactly one primary and
// every other promoted version active; a promotion racing an archival of the same version
// never leaves an archived primary.
func TestConnectorConcurrency(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		const n = 8
		h.mkNamespace(t, "root.cc")
		c := mkConnector(t, h.admin, "root.cc", "race")

		codes, bodies := parallelDo(n, func(i int) (int, []byte) {
			r, err := h.admin.CreateConnectorVersionWithResponse(ctx, c.Id, sdk.ConnectorVersionCreate{Definition: noAuthDefinition(fmt.Sprintf("Racer %d", i))})
			if err != nil {
				return 0, []byte(err.Error())
			}
			return r.StatusCode(), r.Body
		})
		if m := countCodes(codes); m[http.StatusCreated] != n {
			t.Fatalf("concurrent version creation: %v, want %d 201; bodies %q", m, n, bodies)
		}
		hashes := map[int]string{}
		names := map[string]int{}
		for _, b := range bodies {
			var v sdk.ConnectorVersion
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("version body: %v: %s", err, b)
			}
			if _, dup := hashes[v.Version]; dup {
				t.Errorf("version number %d given twice", v.Version)
			}
			hashes[v.Version] = v.DefinitionHash
			d, _ := v.Definition["display"].(map[string]any)
			name, _ := d["name"].(string)
			names[name] = v.Version
		}
		for i := 1; i <= n; i++ {
			if _, ok := hashes[i]; !ok {
				t.Errorf("concurrent creation numbered the versions %v, want 1 to %d", slices.Sorted(maps.Keys(hashes)), n)
				break
			}
		}
		if len(names) != n {
			t.Errorf("concurrent creation kept %d distinct definitions, want %d: %v", len(names), n, names)
		}
		wantConnector(t, h.admin, c.Id, 0, n)

		// Rounds of promotions of every version at once: drafts first, then active ones.
		outcomes := map[string]int{}
		for round := range 4 {
			codes, bodies := parallelDo(n, func(i int) (int, []byte) {
				r, err := h.admin.PromoteConnectorVersionWithResponse(ctx, c.Id, i+1)
				if err != nil {
					return 0, []byte(err.Error())
				}
				return r.StatusCode(), r.Body
			})
			outcomes[fmt.Sprint(countCodes(codes))]++
			promoted := map[int]bool{}
			for i, code := range codes {
				switch code {
				case http.StatusOK:
					promoted[i+1] = true
					var v sdk.ConnectorVersion
					if err := json.Unmarshal(bodies[i], &v); err != nil || v.Version != i+1 || v.PublishedAt == nil ||
						(v.State != sdk.ConnectorVersionPrimary && v.State != sdk.ConnectorVersionActive) {
						t.Errorf("round %d: promote %d = %s, want version %d, published, primary (or already active again)", round, i+1, bodies[i], i+1)
					} else if v.State != sdk.ConnectorVersionPrimary {
						outcomes["a 200 promotion answered state active"]++
					}
				case http.StatusConflict:
					var p sdk.Problem
					if err := json.Unmarshal(bodies[i], &p); err != nil || !containsFold(deref(p.Detail), "try again") {
						t.Errorf("round %d: promote %d refused with %s, want a problem saying to try again", round, i+1, bodies[i])
					}
					outcomes["a promotion refused with 409"]++
				default:
					t.Errorf("round %d: promote %d answered %d: %s", round, i+1, code, bodies[i])
				}
			}
			vs := call(h.admin.ListConnectorVersionsWithResponse(ctx, c.Id, nil)).want(t, http.StatusOK).JSON200.Items
			var primaries []int
			for _, v := range vs {
				switch {
				case v.State == sdk.ConnectorVersionPrimary:
					primaries = append(primaries, v.Version)
					if !promoted[v.Version] {
						t.Errorf("round %d: version %d is primary though its promotion was refused", round, v.Version)
					}
				case promoted[v.Version] && v.State != sdk.ConnectorVersionActive:
					t.Errorf("round %d: version %d was promoted, is not primary, and is %s, want active", round, v.Version, v.State)
				case !promoted[v.Version] && round == 0 && v.State != sdk.ConnectorVersionDraft:
					t.Errorf("round %d: version %d's promotion was refused, yet it is %s, want draft", round, v.Version, v.State)
				}
				if v.DefinitionHash != hashes[v.Version] {
					t.Errorf("round %d: version %d's hash changed from %s to %s", round, v.Version, hashes[v.Version], v.DefinitionHash)
				}
			}
			if len(vs) != n || len(primaries) != 1 {
				t.Fatalf("round %d: %d versions, primaries %v; want %d versions and exactly one primary: %s", round, len(vs), primaries, n, versionStates(t, h.admin, c.Id))
			}
			wantConnector(t, h.admin, c.Id, primaries[0], n)
		}

		// A promotion racing an archival of the same draft.
		for i := range 6 {
			v := mkConnectorVersion(t, h.admin, c.Id, noAuthDefinition(fmt.Sprintf("Contested %d", i)), nil).Version
			codes, bodies := parallelDo(2, func(j int) (int, []byte) {
				var r apiResponse
				var err error
				if j == 0 {
					r, err = h.admin.PromoteConnectorVersionWithResponse(ctx, c.Id, v)
				} else {
					r, err = h.admin.ArchiveConnectorVersionWithResponse(ctx, c.Id, v)
				}
				if err != nil {
					return 0, []byte(err.Error())
				}
				return r.StatusCode(), bodyOf(r)
			})
			got := *call(h.admin.GetConnectorVersionWithResponse(ctx, c.Id, v)).want(t, http.StatusOK).JSON200
			outcomes[fmt.Sprintf("promote %d, archive %d → %s", codes[0], codes[1], got.State)]++
			switch {
			case codes[0] == http.StatusOK && codes[1] == http.StatusConflict && got.State == sdk.ConnectorVersionPrimary:
			case codes[0] == http.StatusConflict && codes[1] == http.StatusOK && got.State == sdk.ConnectorVersionArchived:
			default:
				t.Errorf("promote and archive of version %d at once: %d %s / %d %s, ending %s; want exactly one to succeed and its state to hold",
					v, codes[0], bodies[0], codes[1], bodies[1], got.State)
			}
			primary := sdk.ConnectorVersionPrimary
			if ps := call(h.admin.ListConnectorVersionsWithResponse(ctx, c.Id, &sdk.ListConnectorVersionsParams{State: &primary})).want(t, http.StatusOK).JSON200.Items; len(ps) != 1 {
				t.Errorf("after the race on version %d: %d primaries, want 1", v, len(ps))
			}
		}
		t.Logf("outcomes: %v", outcomes)
	})
}

// TestConnectorsAuthorization: another tenant's connector does not exist for an actor; a
// visible connector is read-only without update, unpromotable without promote; listing
// shows only what the caller may list.
func TestConnectorsAuthorization(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		for _, p := range []string{"root.tenants", "root.tenants.a", "root.tenants.a.x", "root.tenants.b"} {
			h.mkNamespace(t, p)
		}
		ctx := t.Context()
		aConn := mkConnector(t, h.admin, "root.tenants.a", "crm")
		mkConnectorVersion(t, h.admin, aConn.Id, noAuthDefinition("A v1"), nil)
		call(h.admin.PromoteConnectorVersionWithResponse(ctx, aConn.Id, 1)).want(t, http.StatusOK)
		mkConnectorVersion(t, h.admin, aConn.Id, noAuthDefinition("A v2"), nil)
		axConn := mkConnector(t, h.admin, "root.tenants.a.x", "crm")
		bConn := mkConnector(t, h.admin, "root.tenants.b", "crm")
		mkConnectorVersion(t, h.admin, bConn.Id, noAuthDefinition("B v1"), nil)
		call(h.admin.PromoteConnectorVersionWithResponse(ctx, bConn.Id, 1)).want(t, http.StatusOK)
		mkConnectorVersion(t, h.admin, bConn.Id, noAuthDefinition("B v2"), nil)

		reader := h.mkActor(t, "root.tenants.a", "reader", perm("root.tenants.a.**", "connectors", "get,list"))
		editor := h.mkActor(t, "root.tenants.a", "editor", perm("root.tenants.a.**", "connectors", "get,list,update"))
		promoter := h.mkActor(t, "root.tenants.a", "promoter", perm("root.tenants.a.**", "connectors", "get,promote"))
		// Everything on connectors, but this token is narrowed to reading.
		owner := h.mkActor(t, "root.tenants.a", "owner", perm("root.tenants.a.**", "connectors", "*"))
		narrowed := h.narrowedClient(t, owner.Signer, []sdk.Permission{perm("root.tenants.a.**", "connectors", "get,list")})
		def := sdk.ConnectorVersionCreate{Definition: noAuthDefinition("Sneaky")}

		// Another tenant's connector does not exist, whatever the verb.
		for who, c := range map[string]*sdk.ClientWithResponses{"reader": reader.Client, "editor": editor.Client, "promoter": promoter.Client, "owner": owner.Client} {
			t.Run("invisible/"+who, func(t *testing.T) {
				call(c.GetConnectorWithResponse(ctx, bConn.Id)).problem(t, http.StatusNotFound, "", "connector not found")
				call(c.ListConnectorVersionsWithResponse(ctx, bConn.Id, nil)).problem(t, http.StatusNotFound, "", "connector not found")
				call(c.GetConnectorVersionWithResponse(ctx, bConn.Id, 1)).problem(t, http.StatusNotFound, "", "connector not found")
				call(c.CreateConnectorVersionWithResponse(ctx, bConn.Id, def)).problem(t, http.StatusNotFound, "", "connector not found")
				call(c.UpdateConnectorVersionWithResponse(ctx, bConn.Id, 2, def)).problem(t, http.StatusNotFound, "", "connector not found")
				call(c.PromoteConnectorVersionWithResponse(ctx, bConn.Id, 2)).problem(t, http.StatusNotFound, "", "connector not found")
				call(c.ArchiveConnectorVersionWithResponse(ctx, bConn.Id, 2)).problem(t, http.StatusNotFound, "", "connector not found")
				call(c.DemoteConnectorWithResponse(ctx, bConn.Id)).problem(t, http.StatusNotFound, "", "connector not found")
				call(c.UpdateConnectorWithResponse(ctx, bConn.Id, sdk.ConnectorUpdate{Labels: labelsPtr("a", "b")})).problem(t, http.StatusNotFound, "", "connector not found")
				call(c.DeleteConnectorWithResponse(ctx, bConn.Id)).problem(t, http.StatusNotFound, "", "connector not found")
				call(c.CreateConnectorWithResponse(ctx, sdk.ConnectorCreate{Namespace: "root.tenants.b", Name: "sneaky"})).
					problem(t, http.StatusForbidden, "", `not permitted to create connectors in namespace "root.tenants.b"`)
				list := call(c.ListConnectorsWithResponse(ctx, &sdk.ListConnectorsParams{Namespace: strPtr("root.tenants.b")})).want(t, http.StatusOK)
				if len(list.JSON200.Items) != 0 {
					t.Errorf("lists root.tenants.b as %s, want nothing", list.Body)
				}
			})
		}
		wantStates(t, h.admin, bConn.Id, "1:primary 2:draft")
		bAfter := wantConnector(t, h.admin, bConn.Id, 1, 2)
		if len(bAfter.Labels) != 0 {
			t.Errorf("b's connector got labels %v", bAfter.Labels)
		}

		// The reader sees a's connectors and changes nothing.
		const noUpdate = `not permitted to update connectors in namespace "root.tenants.a"`
		const noPromote = `not permitted to promote connectors in namespace "root.tenants.a"`
		call(reader.Client.GetConnectorWithResponse(ctx, aConn.Id)).want(t, http.StatusOK)
		call(reader.Client.GetConnectorVersionWithResponse(ctx, aConn.Id, 1)).want(t, http.StatusOK)
		call(reader.Client.CreateConnectorVersionWithResponse(ctx, aConn.Id, def)).problem(t, http.StatusForbidden, "", noUpdate)
		call(reader.Client.UpdateConnectorVersionWithResponse(ctx, aConn.Id, 2, def)).problem(t, http.StatusForbidden, "", noUpdate)
		call(reader.Client.ArchiveConnectorVersionWithResponse(ctx, aConn.Id, 2)).problem(t, http.StatusForbidden, "", noUpdate)
		call(reader.Client.UpdateConnectorWithResponse(ctx, aConn.Id, sdk.ConnectorUpdate{Labels: labelsPtr("a", "b")})).problem(t, http.StatusForbidden, "", noUpdate)
		call(reader.Client.PromoteConnectorVersionWithResponse(ctx, aConn.Id, 2)).problem(t, http.StatusForbidden, "", noPromote)
		call(reader.Client.DemoteConnectorWithResponse(ctx, aConn.Id)).problem(t, http.StatusForbidden, "", noPromote)
		call(reader.Client.DeleteConnectorWithResponse(ctx, aConn.Id)).problem(t, http.StatusForbidden, "", `not permitted to delete connectors in namespace "root.tenants.a"`)
		call(reader.Client.CreateConnectorWithResponse(ctx, sdk.ConnectorCreate{Namespace: "root.tenants.a", Name: "new"})).
			problem(t, http.StatusForbidden, "", `not permitted to create connectors in namespace "root.tenants.a"`)
		// So does the owner with a token narrowed to reading.
		call(narrowed.CreateConnectorVersionWithResponse(ctx, aConn.Id, def)).problem(t, http.StatusForbidden, "", noUpdate)
		call(narrowed.PromoteConnectorVersionWithResponse(ctx, aConn.Id, 2)).problem(t, http.StatusForbidden, "", noPromote)
		call(narrowed.DemoteConnectorWithResponse(ctx, aConn.Id)).problem(t, http.StatusForbidden, "", noPromote)
		wantStates(t, h.admin, aConn.Id, "1:primary 2:draft")
		aAfter := wantConnector(t, h.admin, aConn.Id, 1, 2)
		if len(aAfter.Labels) != 0 {
			t.Errorf("a's connector got labels %v", aAfter.Labels)
		}
		if l := call(h.admin.ListConnectorsWithResponse(ctx, &sdk.ListConnectorsParams{Namespace: strPtr("root.tenants.a")})).want(t, http.StatusOK).JSON200; len(l.Items) != 1 {
			t.Errorf("root.tenants.a holds %s, want only %s", jsonOf(t, l.Items), aConn.Id)
		}

		// The list is filtered to what the caller may list, through every page.
		for _, limit := range []*int{nil, intPtr(1)} {
			var ids []string
			params := sdk.ListConnectorsParams{Limit: limit}
			for range 10 {
				l := call(reader.Client.ListConnectorsWithResponse(ctx, &params)).want(t, http.StatusOK).JSON200
				for _, it := range l.Items {
					ids = append(ids, it.Id)
				}
				if l.NextCursor == nil {
					break
				}
				params.Cursor = l.NextCursor
			}
			slices.Sort(ids)
			want := []string{aConn.Id, axConn.Id}
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Errorf("reader lists %v (limit %v), want %v", ids, limit, want)
			}
		}
		// promoter holds get and promote, not list.
		if l := call(promoter.Client.ListConnectorsWithResponse(ctx, nil)).want(t, http.StatusOK).JSON200; len(l.Items) != 0 {
			t.Errorf("promoter (no list) lists %s", jsonOf(t, l.Items))
		}

		// update without promote: versions yes, promotion no.
		v3 := *call(editor.Client.CreateConnectorVersionWithResponse(ctx, aConn.Id, def)).want(t, http.StatusCreated).JSON201
		call(editor.Client.UpdateConnectorVersionWithResponse(ctx, aConn.Id, v3.Version, sdk.ConnectorVersionCreate{Definition: noAuthDefinition("Edited")})).want(t, http.StatusOK)
		call(editor.Client.PromoteConnectorVersionWithResponse(ctx, aConn.Id, v3.Version)).problem(t, http.StatusForbidden, "", noPromote)
		call(editor.Client.DemoteConnectorWithResponse(ctx, aConn.Id)).problem(t, http.StatusForbidden, "", noPromote)
		call(editor.Client.ArchiveConnectorVersionWithResponse(ctx, aConn.Id, v3.Version)).want(t, http.StatusOK)
		call(editor.Client.DeleteConnectorWithResponse(ctx, aConn.Id)).problem(t, http.StatusForbidden, "", `not permitted to delete connectors`)
		wantStates(t, h.admin, aConn.Id, "1:primary 2:draft 3:archived")

		// promote without update: promotion and demotion yes, versions no.
		call(promoter.Client.CreateConnectorVersionWithResponse(ctx, aConn.Id, def)).problem(t, http.StatusForbidden, "", noUpdate)
		call(promoter.Client.ArchiveConnectorVersionWithResponse(ctx, aConn.Id, 1)).problem(t, http.StatusForbidden, "", noUpdate)
		call(promoter.Client.PromoteConnectorVersionWithResponse(ctx, aConn.Id, 2)).want(t, http.StatusOK)
		wantStates(t, h.admin, aConn.Id, "1:active 2:primary 3:archived")
		call(promoter.Client.DemoteConnectorWithResponse(ctx, aConn.Id)).want(t, http.StatusOK)
		wantConnector(t, h.admin, aConn.Id, 0, 3)

		// Validating a definition needs only to be authenticated.
		call(reader.Client.ValidateConnectorDefinitionWithResponse(ctx, sdk.ConnectorDefinitionInput{Definition: noAuthDefinition("X")})).want(t, http.StatusOK)
		resp, body := rawDo(t, http.MethodPost, h.s.AdminURL+"/api/v1/connectors/_validate", "", "application/json", []byte(`{"definition":"auth: {type: none}"}`))
		wantProblem(t, resp, body, http.StatusUnauthorized, "", "")
	})
}

// TestConnectorDefinitionSchema: the definition's JSON Schema is served without
// authentication by the admin and api services, as it is in the repository.
func TestConnectorDefinitionSchema(t *testing.T) {
	repo, err := os.ReadFile(filepath.Join("..", "..", "openapi", "connector-definition.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(repo, &want); err != nil {
		t.Fatalf("repository schema: %v", err)
	}
	eachBackend(t, func(t *testing.T, h *harness) {
		for service, base := range map[string]string{"admin": h.s.AdminURL, "api": h.s.APIURL} {
			resp, body := rawDo(t, http.MethodGet, base+"/schemas/connector-definition.json", "", "", nil)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s: status %d: %s", service, resp.StatusCode, body)
				continue
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/schema+json") {
				t.Errorf("%s: Content-Type %q, want application/schema+json", service, resp.Header.Get("Content-Type"))
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Errorf("%s: schema is not JSON: %v", service, err)
				continue
			}
			if s, _ := got["$schema"].(string); !strings.HasPrefix(s, "https://json-schema.org/") {
				t.Errorf("%s: $schema = %v, want a JSON Schema dialect", service, got["$schema"])
			}
			if jsonOf(t, got) != jsonOf(t, want) {
				t.Errorf("%s: the served schema differs from openapi/connector-definition.schema.json:\n%s", service, strings.Join(jsonDiff("", want, got), "\n"))
			}
		}
	})
}
