// Package integration_test is the end-to-end API test suite: every test starts a complete
// in-process AuthProxy (testserver) per backend and talks to it over loopback HTTP, through
// the SDK or through hand-built requests.
package integration_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/testserver"
)

// eachBackend runs fn once per backend (SQLite always, PostgreSQL when configured), each in a
// parallel subtest with its own server. Subtests fn starts share that server.
func eachBackend(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Helper()
	t.Parallel()
	for _, b := range testserver.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := testserver.Start(t, b)
			// Cleanups run last-in first-out: before the server shuts down, drop idle client
			// connections, or a connection dialled but never used keeps Shutdown waiting
			// for its 5 s grace period.
			t.Cleanup(closeIdleConnections)
			signer, err := sdk.NewSigner(s.AdminActor, s.AdminKey)
			if err != nil {
				t.Fatalf("admin signer: %v", err)
			}
			fn(t, &harness{s: s, admin: s.AdminClient(t), adminSigner: signer})
		})
	}
}

// harness is one running server with its bootstrap admin.
type harness struct {
	s           *testserver.Server
	admin       *sdk.ClientWithResponses
	adminSigner *sdk.Signer
}

// principal is an actor created for a test, with the means to act as it.
type principal struct {
	sdk.Actor
	PrivatePEM    []byte
	AuthorizedKey string
	Signer        *sdk.Signer
	// Client calls the admin service signed as this actor (subject "<namespace>/<externalId>").
	Client *sdk.ClientWithResponses
}

// --- permissions --------------------------------------------------------------------------

// perm builds a permission; resources and verbs are comma-separated lists.
func perm(ns, resources, verbs string, ids ...string) sdk.Permission {
	p := sdk.Permission{Namespace: ns}
	for _, r := range strings.Split(resources, ",") {
		p.Resources = append(p.Resources, sdk.Resource(r))
	}
	for _, v := range strings.Split(verbs, ",") {
		p.Verbs = append(p.Verbs, sdk.Verb(v))
	}
	if len(ids) > 0 {
		p.ResourceIds = &ids
	}
	return p
}

func perms(ps ...sdk.Permission) *[]sdk.Permission {
	if ps == nil {
		ps = []sdk.Permission{}
	}
	return &ps
}

// permKey renders a permission canonically (lists sorted) for comparisons.
func permKey(p sdk.Permission) string {
	var rs, vs, ids []string
	for _, r := range p.Resources {
		rs = append(rs, string(r))
	}
	for _, v := range p.Verbs {
		vs = append(vs, string(v))
	}
	if p.ResourceIds != nil {
		ids = slices.Clone(*p.ResourceIds)
	}
	slices.Sort(rs)
	slices.Sort(vs)
	slices.Sort(ids)
	return fmt.Sprintf("%s %v %v %v", p.Namespace, rs, vs, ids)
}

func permKeys(ps []sdk.Permission) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, permKey(p))
	}
	slices.Sort(out)
	return out
}

func wantPermissions(t testing.TB, what string, got, want []sdk.Permission) {
	t.Helper()
	if g, w := permKeys(got), permKeys(want); !slices.Equal(g, w) {
		t.Errorf("%s permissions = %q, want %q", what, g, w)
	}
}

func labelsPtr(kv ...string) *sdk.Labels {
	l := sdk.Labels{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return &l
}

func annotationsPtr(kv ...string) *sdk.Annotations {
	a := sdk.Annotations{}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i]] = kv[i+1]
	}
	return &a
}

func strPtr(s string) *string { return &s }
func intPtr(i int) *int       { return &i }

// --- responses ----------------------------------------------------------------------------

type apiResponse interface{ StatusCode() int }

// result pairs a generated client's response with its transport error, so that a call reads
// call(c.X(ctx, …)).want(t, 200).
type result[R apiResponse] struct {
	r   R
	err error
}

func call[R apiResponse](r R, err error) result[R] { return result[R]{r, err} }

// want fails t unless the request succeeded with status code.
func (x result[R]) want(t testing.TB, code int) R {
	t.Helper()
	if x.err != nil {
		t.Fatalf("request failed: %v", x.err)
	}
	if got := x.r.StatusCode(); got != code {
		t.Fatalf("status %d, want %d; body: %s", got, code, bodyOf(x.r))
	}
	return x.r
}

// get returns the response whatever its status; only a transport error fails t.
func (x result[R]) get(t testing.TB) R {
	t.Helper()
	if x.err != nil {
		t.Fatalf("request failed: %v", x.err)
	}
	return x.r
}

// problem fails t unless the response is a problem with status; see wantProblem.
func (x result[R]) problem(t testing.TB, status int, field, substr string) sdk.Problem {
	t.Helper()
	if x.err != nil {
		t.Fatalf("request failed: %v", x.err)
	}
	hr, _ := fieldOf(x.r, "HTTPResponse").(*http.Response)
	return wantProblem(t, hr, bodyOf(x.r), status, field, substr)
}

func fieldOf(r any, name string) any {
	v := reflect.ValueOf(r)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	f := v.FieldByName(name)
	if !f.IsValid() {
		return nil
	}
	return f.Interface()
}

func bodyOf(r any) []byte {
	b, _ := fieldOf(r, "Body").([]byte)
	return b
}

// wantProblem checks an RFC 9457 problem response: the status line, the content type, the
// status and title in the body and, when field is set, an errors[] entry for that field whose
// message contains substr; otherwise the detail contains substr. Comparisons of substr are
// case-insensitive.
func wantProblem(t testing.TB, hr *http.Response, body []byte, status int, field, substr string) sdk.Problem {
	t.Helper()
	if hr == nil {
		t.Fatalf("no HTTP response")
	}
	if hr.StatusCode != status {
		t.Fatalf("status %d, want %d; body: %s", hr.StatusCode, status, body)
	}
	if mt, _, _ := mime.ParseMediaType(hr.Header.Get("Content-Type")); mt != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", hr.Header.Get("Content-Type"))
	}
	var p sdk.Problem
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body is not JSON: %v; body: %s", err, body)
	}
	if p.Status != status {
		t.Errorf("problem status %d, want %d", p.Status, status)
	}
	if p.Title != http.StatusText(status) {
		t.Errorf("problem title %q, want %q", p.Title, http.StatusText(status))
	}
	if p.Type == "" {
		t.Errorf("problem has no type")
	}
	if p.RequestId != nil && *p.RequestId != hr.Header.Get("X-Request-Id") {
		t.Errorf("problem requestId %q differs from the X-Request-Id header %q", *p.RequestId, hr.Header.Get("X-Request-Id"))
	}
	if field != "" {
		fe := findField(p, field)
		if fe == nil {
			t.Errorf("problem has no error for field %q; errors: %s", field, fieldList(p))
		} else if !containsFold(fe.Message, substr) {
			t.Errorf("message for field %q = %q, want it to contain %q", field, fe.Message, substr)
		}
	} else if !containsFold(deref(p.Detail), substr) {
		t.Errorf("problem detail %q, want it to contain %q", deref(p.Detail), substr)
	}
	return p
}

func findField(p sdk.Problem, field string) *sdk.FieldError {
	if p.Errors == nil {
		return nil
	}
	for i := range *p.Errors {
		if (*p.Errors)[i].Field == field {
			return &(*p.Errors)[i]
		}
	}
	return nil
}

func fieldList(p sdk.Problem) string {
	if p.Errors == nil {
		return "none"
	}
	b, _ := json.Marshal(*p.Errors)
	return string(b)
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// --- raw HTTP -----------------------------------------------------------------------------

var httpClient = &http.Client{Timeout: 30 * time.Second}

// closeIdleConnections closes the idle keep-alive connections of the clients the tests use
// (the raw client and the SDK's default transport).
func closeIdleConnections() {
	httpClient.CloseIdleConnections()
	if tr, ok := http.DefaultTransport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
}

// rawDo sends a request as is: auth is the whole Authorization header value (none when
// empty), contentType the Content-Type (none when empty).
func rawDo(t testing.TB, method, url, auth, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, b
}

// bearer is a request editor replacing the Authorization header.
func bearer(token string) sdk.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// adminToken is a fresh admin-audience token of the bootstrap admin.
func (h *harness) adminToken(t testing.TB) string {
	t.Helper()
	tok, err := h.adminSigner.Token(sdk.TokenOptions{Audience: []string{sdk.AudienceAdmin}})
	if err != nil {
		t.Fatalf("admin token: %v", err)
	}
	return tok
}

// adminDo sends a raw request to the admin service as the bootstrap admin.
func (h *harness) adminDo(t testing.TB, method, path, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	return rawDo(t, method, h.s.AdminURL+path, "Bearer "+h.adminToken(t), contentType, body)
}

// --- fixtures -----------------------------------------------------------------------------

func (h *harness) mkNamespace(t testing.TB, path string, labels ...string) sdk.Namespace {
	t.Helper()
	body := sdk.CreateNamespaceJSONRequestBody{Path: path}
	if len(labels) > 0 {
		body.Labels = labelsPtr(labels...)
	}
	return *call(h.admin.CreateNamespaceWithResponse(t.Context(), body)).want(t, http.StatusCreated).JSON201
}

// mkActor creates an actor with a fresh Ed25519 key through the admin client and returns it
// with a client signed as it.
func (h *harness) mkActor(t testing.TB, ns, externalID string, ps ...sdk.Permission) *principal {
	t.Helper()
	priv, pub, err := sdk.GenerateKeyPair()
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	body := sdk.CreateActorJSONRequestBody{Namespace: ns, ExternalId: externalID, PublicKeys: &[]string{pub}}
	if ps != nil {
		body.Permissions = &ps
	}
	a := *call(h.admin.CreateActorWithResponse(t.Context(), body)).want(t, http.StatusCreated).JSON201
	p := &principal{Actor: a, PrivatePEM: priv, AuthorizedKey: pub}
	p.Signer = newSigner(t, ns+"/"+externalID, priv)
	p.Client = h.clientFor(t, p.Signer)
	return p
}

func newSigner(t testing.TB, subject string, privPEM []byte) *sdk.Signer {
	t.Helper()
	s, err := sdk.NewSigner(subject, privPEM)
	if err != nil {
		t.Fatalf("signer for %s: %v", subject, err)
	}
	return s
}

// clientFor returns an admin-service client whose tokens are minted by signer.
func (h *harness) clientFor(t testing.TB, signer *sdk.Signer) *sdk.ClientWithResponses {
	t.Helper()
	c, err := sdk.NewAuthenticatedClient(h.s.AdminURL, signer, sdk.AudienceAdmin)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

// narrowedClient returns an admin-service client whose tokens carry a permissions claim.
func (h *harness) narrowedClient(t testing.TB, signer *sdk.Signer, claim []sdk.Permission) *sdk.ClientWithResponses {
	t.Helper()
	c, err := sdk.NewClientWithResponses(h.s.AdminURL, sdk.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		tok, err := signer.Token(sdk.TokenOptions{Audience: []string{sdk.AudienceAdmin}, Permissions: claim})
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		return nil
	}))
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

// --- admin-side checks that nothing was written --------------------------------------------

// namespace returns the namespace as the admin sees it, or nil when it does not exist.
func (h *harness) namespace(t testing.TB, path string) *sdk.Namespace {
	t.Helper()
	r, err := h.admin.GetNamespaceWithResponse(t.Context(), path)
	if err != nil {
		t.Fatalf("admin get namespace %s: %v", path, err)
	}
	switch r.StatusCode() {
	case http.StatusOK:
		return r.JSON200
	case http.StatusNotFound:
		return nil
	}
	t.Fatalf("admin get namespace %s: status %d: %s", path, r.StatusCode(), r.Body)
	return nil
}

func (h *harness) wantNoNamespace(t testing.TB, path string) {
	t.Helper()
	if n := h.namespace(t, path); n != nil {
		t.Errorf("namespace %s exists, but it must not have been created", path)
	}
}

func (h *harness) wantNamespace(t testing.TB, path string) *sdk.Namespace {
	t.Helper()
	n := h.namespace(t, path)
	if n == nil {
		t.Fatalf("namespace %s does not exist, but it must", path)
	}
	return n
}

// actor returns the actor as the admin sees it, or nil when it does not exist.
func (h *harness) actor(t testing.TB, id string) *sdk.Actor {
	t.Helper()
	r, err := h.admin.GetActorWithResponse(t.Context(), id)
	if err != nil {
		t.Fatalf("admin get actor %s: %v", id, err)
	}
	switch r.StatusCode() {
	case http.StatusOK:
		return r.JSON200
	case http.StatusNotFound:
		return nil
	}
	t.Fatalf("admin get actor %s: status %d: %s", id, r.StatusCode(), r.Body)
	return nil
}

func (h *harness) actorByExternalID(t testing.TB, ns, ext string) *sdk.Actor {
	t.Helper()
	r, err := h.admin.GetActorByExternalIdWithResponse(t.Context(), ns, ext)
	if err != nil {
		t.Fatalf("admin get actor %s/%s: %v", ns, ext, err)
	}
	switch r.StatusCode() {
	case http.StatusOK:
		return r.JSON200
	case http.StatusNotFound:
		return nil
	}
	t.Fatalf("admin get actor %s/%s: status %d: %s", ns, ext, r.StatusCode(), r.Body)
	return nil
}

func (h *harness) wantNoActor(t testing.TB, ns, ext string) {
	t.Helper()
	if a := h.actorByExternalID(t, ns, ext); a != nil {
		t.Errorf("actor %s/%s exists (%s), but it must not have been created", ns, ext, a.Id)
	}
}

// wantActorUnchanged checks the actor is still stored exactly as before.
func (h *harness) wantActorUnchanged(t testing.TB, before sdk.Actor) {
	t.Helper()
	now := h.actor(t, before.Id)
	if now == nil {
		t.Errorf("actor %s was deleted, but it must not have been", before.Id)
		return
	}
	if !reflect.DeepEqual(jsonOf(t, *now), jsonOf(t, before)) {
		t.Errorf("actor %s changed:\n got %s\nwant %s", before.Id, jsonOf(t, *now), jsonOf(t, before))
	}
}

// wantNamespaceUnchanged checks the namespace is still stored exactly as before.
func (h *harness) wantNamespaceUnchanged(t testing.TB, before sdk.Namespace) {
	t.Helper()
	now := h.namespace(t, before.Path)
	if now == nil {
		t.Errorf("namespace %s was deleted, but it must not have been", before.Path)
		return
	}
	if jsonOf(t, *now) != jsonOf(t, before) {
		t.Errorf("namespace %s changed:\n got %s\nwant %s", before.Path, jsonOf(t, *now), jsonOf(t, before))
	}
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// allNamespaces pages through every namespace c may list.
func allNamespaces(t testing.TB, c *sdk.ClientWithResponses, params sdk.ListNamespacesParams) []sdk.Namespace {
	t.Helper()
	var out []sdk.Namespace
	for range 1000 {
		l := call(c.ListNamespacesWithResponse(t.Context(), &params)).want(t, http.StatusOK).JSON200
		out = append(out, l.Items...)
		if l.NextCursor == nil {
			return out
		}
		params.Cursor = l.NextCursor
	}
	t.Fatalf("listing namespaces does not end")
	return nil
}

// allActors pages through every actor c may list.
func allActors(t testing.TB, c *sdk.ClientWithResponses, params sdk.ListActorsParams) []sdk.Actor {
	t.Helper()
	var out []sdk.Actor
	for range 1000 {
		l := call(c.ListActorsWithResponse(t.Context(), &params)).want(t, http.StatusOK).JSON200
		out = append(out, l.Items...)
		if l.NextCursor == nil {
			return out
		}
		params.Cursor = l.NextCursor
	}
	t.Fatalf("listing actors does not end")
	return nil
}

func paths(ns []sdk.Namespace) []string {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.Path)
	}
	return out
}

func actorIDs(as []sdk.Actor) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.Id)
	}
	return out
}

// snapshot renders everything the admin can see, to show that a refused request wrote
// nothing.
func (h *harness) snapshot(t testing.TB) string {
	t.Helper()
	ns := allNamespaces(t, h.admin, sdk.ListNamespacesParams{Limit: intPtr(500)})
	as := allActors(t, h.admin, sdk.ListActorsParams{Limit: intPtr(500)})
	return jsonOf(t, ns) + "\n" + jsonOf(t, as)
}

// --- keys ---------------------------------------------------------------------------------

func pkixPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func pkcs8PEM(t testing.TB, priv crypto.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatalf("marshal private key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func newECDSAKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate ECDSA key: %v", err)
	}
	return k
}

func newRSAKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatalf("generate RSA key: %v", err)
	}
	return k
}
