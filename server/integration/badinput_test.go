package integration_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authproxy/authproxy/sdk"
)

// badInput is one refused request: status (400 unless noted), the errors[].field named (or ""
// to check the detail) and a substring of its message.
type badInput struct {
	name   string
	method string
	path   string
	ct     string // Content-Type; application/json when empty and there is a body, none when "-"
	body   string
	status int
	field  string
	substr string
}

func nsBody(path string, extra ...string) string {
	b, _ := json.Marshal(path)
	return `{"path":` + string(b) + strings.Join(extra, "") + `}`
}

func actorBody(ns, ext string, extra ...string) string {
	n, _ := json.Marshal(ns)
	e, _ := json.Marshal(ext)
	return `{"namespace":` + string(n) + `,"externalId":` + string(e) + strings.Join(extra, "") + `}`
}

func TestBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		// Fixtures the cases collide with.
		h.mkNamespace(t, "root.bad")
		h.mkNamespace(t, "root.bad.child")
		dup := h.mkActor(t, "root.bad", "dup")

		seg := func(n int) string { return strings.Repeat("s", n) }
		deep := "root" + strings.Repeat(".s", 16) // 17 segments
		long := "root." + seg(63) + "." + seg(63) + "." + seg(63) + "." + seg(60)
		rsa1024 := newRSAKey(t, 1024)
		rsa1024Line, err := sdk.AuthorizedKey(&rsa1024.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		privPEM, goodKey, err := sdk.GenerateKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		keys := func(ks ...string) string {
			b, _ := json.Marshal(ks)
			return `,"publicKeys":` + string(b)
		}
		permJSON := func(p string) string { return `,"permissions":[` + p + `]` }
		bigAnnotation := strings.Repeat("v", 256<<10)
		const post, get, patch, del = http.MethodPost, http.MethodGet, http.MethodPatch, http.MethodDelete
		const nsURL, actorsURL = "/api/v1/namespaces", "/api/v1/actors"

		cases := []badInput{
			// Namespace paths.
			{name: "path uppercase", method: post, path: nsURL, body: nsBody("root.A"), field: "path", substr: `segment 2 "A" has 'A'; only a-z, 0-9, '_' and '-' are allowed`},
			{name: "path empty segment", method: post, path: nsURL, body: nsBody("root..a"), field: "path", substr: "segment 2 is empty"},
			{name: "path trailing dot", method: post, path: nsURL, body: nsBody("root.a."), field: "path", substr: "segment 3 is empty"},
			{name: "path leading dash", method: post, path: nsURL, body: nsBody("root.-a"), field: "path", substr: `"-a" must not start with '-'`},
			{name: "path not under root", method: post, path: nsURL, body: nsBody("tenants.a"), field: "path", substr: `must start with "root"`},
			{name: "path rootx", method: post, path: nsURL, body: nsBody("rootx"), field: "path", substr: `must start with "root"`},
			{name: "path 17 segments", method: post, path: nsURL, body: nsBody(deep), field: "path", substr: "has 17 segments; the limit is 16"},
			{name: "path over 253 characters", method: post, path: nsURL, body: nsBody(long), field: "path", substr: "253"},
			{name: "path segment over 63 characters", method: post, path: nsURL, body: nsBody("root." + seg(64)), field: "path", substr: "is 64 characters long; the limit is 63"},
			{name: "path with a space", method: post, path: nsURL, body: nsBody("root.a b"), field: "path", substr: "only a-z"},
			{name: "path with a non-ASCII letter", method: post, path: nsURL, body: nsBody("root.é"), field: "path", substr: "only a-z"},
			{name: "path with a wildcard", method: post, path: nsURL, body: nsBody("root.**"), field: "path", substr: "only a-z"},
			{name: "path empty", method: post, path: nsURL, body: nsBody(""), field: "path", substr: "minimum string length is 1"},
			{name: "path missing", method: post, path: nsURL, body: `{}`, field: "path", substr: `"path" is missing`},
			{name: "parent missing", method: post, path: nsURL, body: nsBody("root.missing.child"), field: "path", substr: `parent namespace "root.missing" does not exist`},
			{name: "namespace exists", method: post, path: nsURL, body: nsBody("root.bad"), status: http.StatusConflict, substr: `namespace "root.bad" already exists`},
			{name: "root exists", method: post, path: nsURL, body: nsBody("root"), status: http.StatusConflict, substr: "already exists"},
			{name: "path param uppercase", method: get, path: nsURL + "/root.A", field: "path", substr: "only a-z"},
			{name: "path param not under root", method: del, path: nsURL + "/tenants", field: "path", substr: `must start with "root"`},

			// Labels and annotations.
			{name: "label key with a space", method: post, path: nsURL, body: nsBody("root.l", `,"labels":{"Bad Key":"v"}`), field: "labels.Bad Key", substr: "name must consist of alphanumerics"},
			{name: "label key leading dash", method: post, path: nsURL, body: nsBody("root.l", `,"labels":{"-x":"v"}`), field: "labels.-x", substr: "start and end with an alphanumeric"},
			{name: "label key 64 characters", method: post, path: nsURL, body: nsBody("root.l", `,"labels":{"`+seg(64)+`":"v"}`), field: "labels." + seg(64), substr: "no more than 63 characters (got 64)"},
			{name: "label key two slashes", method: post, path: nsURL, body: nsBody("root.l", `,"labels":{"a/b/c":"v"}`), field: "labels.a/b/c", substr: `at most one "/"`},
			{name: "label key empty name", method: post, path: nsURL, body: nsBody("root.l", `,"labels":{"example.com/":"v"}`), field: "labels.example.com/", substr: "name must not be empty"},
			{name: "label key bad prefix", method: post, path: nsURL, body: nsBody("root.l", `,"labels":{"Example.com/x":"v"}`), field: "labels.Example.com/x", substr: "prefix must be a DNS subdomain"},
			{name: "label key empty", method: post, path: nsURL, body: nsBody("root.l", `,"labels":{"":"v"}`), field: "labels", substr: "name must not be empty"},
			{name: "label value 64 characters", method: post, path: nsURL, body: nsBody("root.l", `,"labels":{"k":"`+seg(64)+`"}`), field: "labels.k", substr: "no more than 63 characters (got 64)"},
			{name: "label value leading dash", method: post, path: nsURL, body: nsBody("root.l", `,"labels":{"k":"-v"}`), field: "labels.k", substr: "start and end with an alphanumeric"},
			{name: "label value with a space", method: post, path: nsURL, body: nsBody("root.l", `,"labels":{"k":"a b"}`), field: "labels.k", substr: "must consist of alphanumerics"},
			{name: "annotation key invalid", method: post, path: nsURL, body: nsBody("root.l", `,"annotations":{"bad key":"free text is fine"}`), field: "annotations.bad key", substr: "annotation key"},
			{name: "annotations over 256 KiB", method: post, path: nsURL, body: nsBody("root.l", `,"annotations":{"k":"`+bigAnnotation+`"}`), field: "annotations", substr: "256 KiB"},
			{name: "patch namespace with a bad label", method: patch, path: nsURL + "/root.bad", body: `{"labels":{"-x":"v"}}`, field: "labels.-x", substr: "alphanumeric"},
			{name: "patch namespace with a bad label value", method: patch, path: nsURL + "/root.bad", body: `{"labels":{"ok":"` + seg(64) + `"}}`, field: "labels.ok", substr: "63"},
			{name: "actor with a bad label", method: post, path: actorsURL, body: actorBody("root.bad", "l", `,"labels":{"Bad Key":"v"}`), field: "labels.Bad Key", substr: "alphanumerics"},
			{name: "patch actor with a bad label", method: patch, path: actorsURL + "/" + dup.Id, body: `{"labels":{"a/b/c":"v"}}`, field: "labels.a/b/c", substr: `at most one "/"`},

			// Label selectors.
			{name: "selector in without parentheses", method: get, path: nsURL + "?labelSelector=" + url.QueryEscape("a in b"), field: "labelSelector", substr: `expected "(" after "in"`},
			{name: "selector without key", method: get, path: nsURL + "?labelSelector=" + url.QueryEscape("=b"), field: "labelSelector", substr: `unexpected "=" at position 0; expected a key`},
			{name: "selector empty requirement", method: get, path: nsURL + "?labelSelector=" + url.QueryEscape("a,,b"), field: "labelSelector", substr: `unexpected "," at position 2`},
			{name: "selector lone !", method: get, path: nsURL + "?labelSelector=" + url.QueryEscape("!"), field: "labelSelector", substr: `expected a key after "!"`},
			{name: "selector empty set", method: get, path: nsURL + "?labelSelector=" + url.QueryEscape("a in ()"), field: "labelSelector", substr: "empty set"},
			{name: "selector bad key", method: get, path: nsURL + "?labelSelector=" + url.QueryEscape("-a=b"), field: "labelSelector", substr: "invalid key"},
			{name: "selector bad value", method: get, path: nsURL + "?labelSelector=" + url.QueryEscape("a=-b"), field: "labelSelector", substr: "invalid value"},
			{name: "selector unclosed set", method: get, path: nsURL + "?labelSelector=" + url.QueryEscape("a in (x"), field: "labelSelector", substr: "unexpected end of input"},
			{name: "actors selector", method: get, path: actorsURL + "?labelSelector=" + url.QueryEscape("a in b"), field: "labelSelector", substr: `expected "(" after "in"`},
			{name: "actors selector lone !", method: get, path: actorsURL + "?labelSelector=" + url.QueryEscape("!"), field: "labelSelector", substr: `expected a key after "!"`},

			// Unknown fields and wrong types.
			{name: "unknown field", method: post, path: nsURL, body: nsBody("root.u", `,"color":"red"`), field: "color", substr: "unknown field"},
			{name: "unknown field on patch", method: patch, path: nsURL + "/root.bad", body: `{"path":"root.renamed"}`, field: "path", substr: "unknown field"},
			{name: "unknown field in a permission", method: post, path: actorsURL, body: actorBody("root.bad", "u", permJSON(`{"namespace":"root.bad","resources":["*"],"verbs":["get"],"resourceIDs":["x"]}`)), field: "permissions[0].resourceIDs", substr: "unknown field"},
			{name: "unknown field on an actor", method: post, path: actorsURL, body: actorBody("root.bad", "u", `,"id":"act_mine"`), field: "id", substr: "unknown field"},
			{name: "labels a string", method: post, path: nsURL, body: nsBody("root.u", `,"labels":"x"`), field: "labels", substr: "value must be an object"},
			{name: "label value a number", method: post, path: nsURL, body: nsBody("root.u", `,"labels":{"a":5}`), field: "labels.a", substr: "value must be a string"},
			{name: "path a number", method: post, path: nsURL, body: `{"path":3}`, field: "path", substr: "value must be a string"},
			{name: "path null", method: post, path: nsURL, body: `{"path":null}`, field: "path", substr: "not nullable"},
			{name: "verbs a number", method: post, path: actorsURL, body: actorBody("root.bad", "u", permJSON(`{"namespace":"root.bad","resources":["*"],"verbs":[1]}`)), field: "permissions[0].verbs[0]", substr: "allowed values"},
			{name: "verbs a string", method: post, path: actorsURL, body: actorBody("root.bad", "u", permJSON(`{"namespace":"root.bad","resources":["*"],"verbs":"get"}`)), field: "permissions[0].verbs", substr: "must be an array"},
			{name: "permissions an object", method: post, path: actorsURL, body: actorBody("root.bad", "u", `,"permissions":{"namespace":"root.bad"}`), field: "permissions", substr: "must be an array"},
			{name: "publicKeys a string", method: post, path: actorsURL, body: actorBody("root.bad", "u", `,"publicKeys":"`+goodKey+`"`), field: "publicKeys", substr: "must be an array"},
			{name: "body an array", method: post, path: nsURL, body: `[]`, field: "body", substr: "must be an object"},

			// Syntax and framing.
			{name: "invalid JSON", method: post, path: nsURL, body: `{"path":`, field: "body", substr: "not valid JSON"},
			{name: "invalid JSON on patch", method: patch, path: nsURL + "/root.bad", body: `{"labels":{`, field: "body", substr: "not valid JSON"},
			{name: "trailing data after the JSON", method: post, path: nsURL, body: `{"path":"root.trail"}xyz`, field: "body", substr: "not valid JSON"},
			{name: "a second JSON value", method: post, path: nsURL, body: `{"path":"root.trail2"} {"path":"root.trail3"}`, field: "body", substr: "not valid JSON"},
			{name: "empty body", method: post, path: nsURL, body: ``, ct: "application/json", field: "body", substr: "required"},
			{name: "Content-Type text/plain", method: post, path: nsURL, ct: "text/plain", body: nsBody("root.ct"), field: "body", substr: `Content-Type has unexpected value "text/plain"`},
			{name: "Content-Type form", method: post, path: nsURL, ct: "application/x-www-form-urlencoded", body: "path=root.ct", field: "body", substr: "Content-Type"},
			{name: "no Content-Type", method: post, path: nsURL, ct: "-", body: nsBody("root.ct"), field: "body", substr: "Content-Type"},
			{name: "body over 1 MiB", method: post, path: nsURL, body: nsBody("root.big", `,"annotations":{"k":"`+strings.Repeat("v", 1<<20)+`"}`), status: http.StatusRequestEntityTooLarge, substr: "exceeds 1048576 bytes"},

			// Actors.
			{name: "actor in a missing namespace", method: post, path: actorsURL, body: actorBody("root.missing", "a"), field: "namespace", substr: `namespace "root.missing" does not exist`},
			{name: "actor namespace invalid", method: post, path: actorsURL, body: actorBody("root.Bad", "a"), field: "namespace", substr: "only a-z"},
			{name: "duplicate externalId", method: post, path: actorsURL, body: actorBody("root.bad", "dup"), status: http.StatusConflict, substr: `an actor with externalId "dup" already exists in namespace "root.bad"`},
			{name: "externalId with a space", method: post, path: actorsURL, body: actorBody("root.bad", "a b"), field: "externalId", substr: "regular expression"},
			{name: "externalId with a slash", method: post, path: actorsURL, body: actorBody("root.bad", "a/b"), field: "externalId", substr: "regular expression"},
			{name: "externalId over 255 characters", method: post, path: actorsURL, body: actorBody("root.bad", seg(256)), field: "externalId", substr: "255"},
			{name: "externalId missing", method: post, path: actorsURL, body: `{"namespace":"root.bad"}`, field: "externalId", substr: "missing"},
			{name: "name over 255 characters", method: post, path: actorsURL, body: actorBody("root.bad", "n", `,"name":"`+seg(256)+`"`), field: "name", substr: "255"},
			{name: "invalid public key", method: post, path: actorsURL, body: actorBody("root.bad", "k", keys("not a key")), field: "publicKeys[0]", substr: "not an OpenSSH public key or PEM block"},
			{name: "second public key invalid", method: post, path: actorsURL, body: actorBody("root.bad", "k", keys(goodKey, "ssh-ed25519 AAAAbroken")), field: "publicKeys[1]", substr: "not an OpenSSH public key"},
			{name: "empty public key", method: post, path: actorsURL, body: actorBody("root.bad", "k", keys("")), field: "publicKeys[0]", substr: "minimum string length is 1"},
			{name: "RSA-1024 PEM key", method: post, path: actorsURL, body: actorBody("root.bad", "k", keys(pkixPEM(t, &rsa1024.PublicKey))), field: "publicKeys[0]", substr: "RSA key is 1024 bits; at least 2048 are required"},
			{name: "RSA-1024 authorized_keys line", method: post, path: actorsURL, body: actorBody("root.bad", "k", keys(rsa1024Line)), field: "publicKeys[0]", substr: "RSA key is 1024 bits"},
			{name: "ECDSA P-384 key", method: post, path: actorsURL, body: actorBody("root.bad", "k", keys(pkixPEM(t, &p384.PublicKey))), field: "publicKeys[0]", substr: "P-384 is not supported"},
			{name: "private key as public key", method: post, path: actorsURL, body: actorBody("root.bad", "k", keys(string(privPEM))), field: "publicKeys[0]", substr: "private key"},
			{name: "two PEM blocks in one key", method: post, path: actorsURL, body: actorBody("root.bad", "k", keys(pkixPEM(t, &p384.PublicKey)+pkixPEM(t, &p384.PublicKey))), field: "publicKeys[0]", substr: "single public key"},
			{name: "duplicate public key", method: post, path: actorsURL, body: actorBody("root.bad", "k", keys(goodKey, goodKey+" with a comment")), field: "publicKeys[1]", substr: "the same key as publicKeys[0]"},
			{name: "patch with an invalid public key", method: patch, path: actorsURL + "/" + dup.Id, body: `{"publicKeys":["nope"]}`, field: "publicKeys[0]", substr: "not an OpenSSH public key"},

			// Permissions.
			{name: "unknown verb", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"namespace":"root.bad","resources":["*"],"verbs":["fly"]}`)), field: "permissions[0].verbs[0]", substr: "allowed values"},
			{name: "unknown resource", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"namespace":"root.bad","resources":["planets"],"verbs":["get"]}`)), field: "permissions[0].resources[0]", substr: "allowed values"},
			{name: "no resources", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"namespace":"root.bad","resources":[],"verbs":["get"]}`)), field: "permissions[0].resources", substr: "minimum number of items is 1"},
			{name: "namespace missing in a permission", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"resources":["*"],"verbs":["get"]}`)), field: "permissions[0].namespace", substr: "missing"},
			{name: "wildcard segment", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"namespace":"root.*","resources":["*"],"verbs":["get"]}`)), field: "permissions[0].namespace", substr: `a wildcard may only be a final ".**"`},
			{name: "bad permission namespace", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"namespace":"root.bad.X","resources":["*"],"verbs":["get"]}`)), field: "permissions[0].namespace", substr: "not valid"},
			{name: "resource-specific verb on another resource", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"namespace":"root.bad","resources":["actors"],"verbs":["proxy"]}`)), field: "permissions[0].verbs[0]", substr: `verb "proxy" applies only to connections`},
			{name: "duplicate verb", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"namespace":"root.bad","resources":["actors"],"verbs":["get","get"]}`)), field: "permissions[0].verbs[1]", substr: "duplicate"},
			{name: "wildcard with other verbs", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"namespace":"root.bad","resources":["actors"],"verbs":["*","get"]}`)), field: "permissions[0].verbs[0]", substr: "list it alone"},
			{name: "empty resourceIds", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"namespace":"root.bad","resources":["actors"],"verbs":["get"],"resourceIds":[]}`)), field: "permissions[0].resourceIds", substr: "at least one id"},
			{name: "empty resourceIds on patch", method: patch, path: actorsURL + "/" + dup.Id, body: `{"permissions":[{"namespace":"root.bad","resources":["actors"],"verbs":["get"],"resourceIds":[]}]}`, field: "permissions[0].resourceIds", substr: "at least one id"},
			{name: "empty resource id", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"namespace":"root.bad","resources":["actors"],"verbs":["get"],"resourceIds":[""]}`)), field: "permissions[0].resourceIds[0]", substr: "minimum string length is 1"},
			{name: "duplicate resource id", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"namespace":"root.bad","resources":["actors"],"verbs":["get"],"resourceIds":["a","a"]}`)), field: "permissions[0].resourceIds[1]", substr: "duplicate"},
			{name: "second permission invalid", method: post, path: actorsURL, body: actorBody("root.bad", "p", permJSON(`{"namespace":"root.bad","resources":["*"],"verbs":["get"]},{"namespace":"root.bad..x","resources":["*"],"verbs":["get"]}`)), field: "permissions[1].namespace", substr: "is empty"},
			{name: "permissions null", method: post, path: actorsURL, body: actorBody("root.bad", "p", `,"permissions":null`), field: "permissions", substr: "not nullable"},

			// Query and path parameters.
			{name: "limit 0", method: get, path: nsURL + "?limit=0", field: "limit", substr: "at least 1"},
			{name: "limit 501", method: get, path: nsURL + "?limit=501", field: "limit", substr: "at most 500"},
			{name: "limit negative", method: get, path: actorsURL + "?limit=-1", field: "limit", substr: "at least 1"},
			{name: "limit not a number", method: get, path: actorsURL + "?limit=ten", field: "limit", substr: "invalid integer"},
			{name: "actors limit 501", method: get, path: actorsURL + "?limit=501", field: "limit", substr: "at most 500"},
			{name: "bad cursor", method: get, path: nsURL + "?cursor=" + url.QueryEscape("!!!"), field: "cursor", substr: "cursor is not valid"},
			{name: "bad actors cursor", method: get, path: actorsURL + "?cursor=" + url.QueryEscape("not base64!"), field: "cursor", substr: "cursor is not valid"},
			{name: "cursor too long", method: get, path: nsURL + "?cursor=" + strings.Repeat("A", 1025), field: "cursor", substr: "1024"},
			{name: "childrenOf invalid", method: get, path: nsURL + "?childrenOf=root.A", field: "childrenOf", substr: "only a-z"},
			{name: "actors namespace invalid", method: get, path: actorsURL + "?namespace=tenants", field: "namespace", substr: `must start with "root"`},
			{name: "actor id malformed", method: get, path: actorsURL + "/not-an-id", field: "id", substr: "regular expression"},
			{name: "externalId param malformed", method: get, path: nsURL + "/root.bad/actors/a%20b", field: "externalId", substr: "regular expression"},

			// Deletes.
			{name: "delete a namespace with a child", method: del, path: nsURL + "/root.bad", status: http.StatusConflict, substr: `namespace "root.bad" has 1 child namespace(s)`},
			{name: "delete the root", method: del, path: nsURL + "/root", status: http.StatusConflict, substr: "root namespace cannot be deleted"},
		}

		for _, c := range cases {
			// Sequential: each case compares the whole store before and after.
			t.Run(c.name, func(t *testing.T) {
				before := h.snapshot(t)
				var body []byte
				ct := c.ct
				if c.body != "" || ct != "" {
					body = []byte(c.body)
					if ct == "" {
						ct = "application/json"
					}
				}
				if ct == "-" {
					ct = ""
				}
				status := c.status
				if status == 0 {
					status = http.StatusBadRequest
				}
				resp, rb := h.adminDo(t, c.method, c.path, ct, body)
				if len(rb) > 2000 {
					rb = append(rb[:2000:2000], "…"...)
				}
				wantProblem(t, resp, rb, status, c.field, c.substr)
				if after := h.snapshot(t); after != before {
					t.Errorf("the refused request changed the store:\nbefore %s\n after %s", clip(before), clip(after))
				}
			})
		}
	})
}

func clip(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

// TestEmptyResourceIDsNeverWiden: "resourceIds, when present, limits the permission to those
// resource ids". An empty list must therefore never mean "any id".
func TestEmptyResourceIDsNeverWiden(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.a")
		victim := h.mkActor(t, "root.a", "victim")

		t.Run("stored permission", func(t *testing.T) {
			priv, pub, err := sdk.GenerateKeyPair()
			if err != nil {
				t.Fatal(err)
			}
			r := call(h.admin.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{
				Namespace: "root.a", ExternalId: "empty-ids", PublicKeys: &[]string{pub},
				Permissions: perms(sdk.Permission{Namespace: "root.a.**", Resources: []sdk.Resource{"actors"}, Verbs: []sdk.Verb{"get", "list"}, ResourceIds: &[]string{}}),
			}))
			if r.err == nil && r.r.StatusCode() == http.StatusCreated {
				// Show what the widened permission grants before failing.
				stored := r.r.JSON201
				c := h.clientFor(t, newSigner(t, stored.Id, priv))
				g, _ := c.GetActorWithResponse(ctx, victim.Id)
				t.Errorf("BUG: an actor with resourceIds [] was created, stored as %s, and it can get actor %s (status %d)",
					jsonOf(t, stored.Permissions), victim.Id, g.StatusCode())
				return
			}
			r.problem(t, http.StatusBadRequest, "permissions[0].resourceIds", "at least one id")
			h.wantNoActor(t, "root.a", "empty-ids")
		})

		t.Run("token claim", func(t *testing.T) {
			n := h.mkActor(t, "root.a", "n", perm("root.a.**", "*", "*"))
			c := h.narrowedClient(t, n.Signer, []sdk.Permission{{
				Namespace: "root.a.**", Resources: []sdk.Resource{"namespaces", "actors"}, Verbs: []sdk.Verb{"get"}, ResourceIds: &[]string{},
			}})
			// Either the claim is refused (401) or it narrows to no id at all (404); never 200.
			for _, r := range []apiResponse{
				call(c.GetNamespaceWithResponse(ctx, "root.a")).get(t),
				call(c.GetActorWithResponse(ctx, victim.Id)).get(t),
			} {
				if s := r.StatusCode(); s != http.StatusNotFound && s != http.StatusUnauthorized {
					t.Errorf("BUG: a token narrowed to resourceIds [] still reads: status %d: %s", s, bodyOf(r))
				}
			}
			w := call(c.WhoamiWithResponse(ctx)).get(t)
			if w.StatusCode() == http.StatusOK {
				for _, p := range w.JSON200.Permissions {
					if p.ResourceIds == nil || len(*p.ResourceIds) == 0 {
						t.Errorf("BUG: whoami shows the [] narrowing as %s (no id limit)", permKey(p))
					}
				}
			}
		})
	})
}
