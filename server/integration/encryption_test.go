package integration_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/testserver"
)

// wrappedKeyTable is the registered column holding the wrapped material of generated and
// inline key versions; its values have no namespace ("") and are always sealed with the
// global root key.
const wrappedKeyTable = "encryption_key_versions"

// How long and how often waitStatus polls.
const (
	statusTimeout = 30 * time.Second
	statusPoll    = 200 * time.Millisecond
)

// --- values in the testserver's encrypted table -------------------------------------------

// secret is a value a test stored in the testserver's encrypted table.
type secret struct{ id, ns, plain string }

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("rand: %v", err)
	}
	return b
}

// putSecrets stores n distinctive plaintexts in namespace ns, in rows "<prefix>-<i>".
func (h *harness) putSecrets(t testing.TB, ns, prefix string, n int) []secret {
	t.Helper()
	out := make([]secret, 0, n)
	for i := range n {
		s := secret{id: fmt.Sprintf("%s-%02d", prefix, i), ns: ns, plain: "plain-secret-" + hex.EncodeToString(randomBytes(t, 16))}
		h.s.PutSecret(t, s.ns, s.id, s.plain)
		out = append(out, s)
	}
	return out
}

// wantSealedWith decrypts every value directly with the server's keys and checks its
// plaintext and the key version that sealed it.
func (h *harness) wantSealedWith(t testing.TB, kv string, secrets ...secret) {
	t.Helper()
	for _, s := range secrets {
		plain, got := h.s.OpenSecret(t, s.id)
		if plain != s.plain {
			t.Errorf("%s (namespace %s) opens to %q, want %q", s.id, s.ns, plain, s.plain)
		}
		if got != kv {
			t.Errorf("%s (namespace %s) is sealed with key version %s, want %s", s.id, s.ns, got, kv)
		}
	}
}

// openFailure runs the testserver's OpenSecret, which fails its test on any error, on row
// id and returns that failure; it fails t when the value still opens.
func (h *harness) openFailure(t testing.TB, id string) string {
	t.Helper()
	rec := &fatalRecorder{TB: t}
	var plain, kv string
	done := make(chan struct{})
	go func() {
		defer close(done)
		plain, kv = h.s.OpenSecret(rec, id)
	}()
	<-done
	if rec.msg == "" {
		t.Errorf("%s still opens (key version %s, plaintext %q)", id, kv, plain)
	}
	return rec.msg
}

// fatalRecorder is a testing.TB whose Fatal and Fatalf record the message and end only
// the calling goroutine, so that a test can watch a helper fail.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatal(args ...any) {
	r.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// --- keys and the encryption status -------------------------------------------------------

// assignNewKey creates a generated key named name in ns through c and assigns it to ns.
func assignNewKey(t testing.TB, c *sdk.ClientWithResponses, ns, name string) sdk.Key {
	t.Helper()
	k := *call(c.CreateKeyWithResponse(t.Context(), sdk.KeyCreate{
		Namespace: ns, Name: name, Source: sdk.KeySource{Kind: sdk.KeySourceGenerated},
	})).want(t, http.StatusCreated).JSON201
	assignKey(t, c, ns, k.Id)
	return k
}

func assignKey(t testing.TB, c *sdk.ClientWithResponses, ns, keyID string) {
	t.Helper()
	a := call(c.AssignNamespaceKeyWithResponse(t.Context(), ns, sdk.KeyAssign{KeyId: keyID})).want(t, http.StatusOK).JSON200
	if deref(a.KeyId) != keyID || deref(a.EffectiveKeyId) != keyID {
		t.Fatalf("assigning %s to %s = %s", keyID, ns, jsonOf(t, a))
	}
}

// keyVersionID returns the id of version number of a key.
func keyVersionID(t testing.TB, c *sdk.ClientWithResponses, keyID string, number int) string {
	t.Helper()
	vs := call(c.ListKeyVersionsWithResponse(t.Context(), keyID)).want(t, http.StatusOK).JSON200
	for _, v := range vs.Items {
		if v.Number == number {
			return v.Id
		}
	}
	t.Fatalf("key %s has no version %d: %s", keyID, number, jsonOf(t, vs.Items))
	return ""
}

// waitStatus polls the encryption status as c sees it until no re-encryption job is
// pending or running and settled holds, and returns that status. A failed job, or a status
// that does not settle within statusTimeout, fails t with the last status seen.
func waitStatus(t testing.TB, c *sdk.ClientWithResponses, what string, settled func(sdk.EncryptionStatus) bool) sdk.EncryptionStatus {
	t.Helper()
	deadline := time.Now().Add(statusTimeout)
	for {
		st := *call(c.GetEncryptionStatusWithResponse(t.Context(), nil)).want(t, http.StatusOK).JSON200
		job := st.Reencryption
		if job != nil && job.State == sdk.ReencryptionJobFailed {
			t.Fatalf("waiting for %s: re-encryption job %s failed: %s", what, job.Id, deref(job.Error))
		}
		busy := job != nil && (job.State == sdk.ReencryptionJobPending || job.State == sdk.ReencryptionJobRunning)
		if !busy && settled(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not reached within %s; last status: %s", what, statusTimeout, jsonOf(t, st))
		}
		time.Sleep(statusPoll)
	}
}

// settledAny accepts any status: waitStatus then only waits for the job to finish.
func settledAny(sdk.EncryptionStatus) bool { return true }

// statusCounts maps the key versions sealing the values of table in namespace ns to their
// counts.
func statusCounts(st sdk.EncryptionStatus, table, ns string) map[string]int64 {
	out := map[string]int64{}
	for _, r := range st.Items {
		if r.Table == table && r.Namespace == ns {
			out[r.KeyVersionId] += r.Count
		}
	}
	return out
}

// onlyVersion reports whether exactly n values, all sealed with kv, are counted.
func onlyVersion(counts map[string]int64, kv string, n int) bool {
	return len(counts) == 1 && counts[kv] == int64(n)
}

func statusTotal(st sdk.EncryptionStatus) int64 {
	var n int64
	for _, r := range st.Items {
		n += r.Count
	}
	return n
}

// within reports whether namespace ns is top or below it.
func within(ns, top string) bool {
	return ns == top || strings.HasPrefix(ns, top+".")
}

// --- tests --------------------------------------------------------------------------------

// TestTenantKeyReencryption: assigning a tenant's own key moves the tenant's stored values
// (its namespace and those below) onto that key in the background, and nothing else.
func TestTenantKeyReencryption(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		for _, p := range []string{"root.tenants", "root.tenants.acme", "root.tenants.acme.child", "root.tenants.other"} {
			h.mkNamespace(t, p)
		}
		acme := slices.Concat(h.putSecrets(t, "root.tenants.acme", "acme", 4), h.putSecrets(t, "root.tenants.acme.child", "acme-child", 2))
		other := h.putSecrets(t, "root.tenants.other", "other", 3)
		_, rootKV := h.s.OpenSecret(t, other[0].id)
		h.wantSealedWith(t, rootKV, slices.Concat(acme, other)...)

		// The tenant creates and assigns its key itself.
		owner := h.mkActor(t, "root.tenants.acme", "owner", perm("root.tenants.acme.**", "keys,namespaces", "*"))
		key := assignNewKey(t, owner.Client, "root.tenants.acme", "tenant")
		if key.CurrentVersion != 1 {
			t.Fatalf("new key = %s, want current version 1", jsonOf(t, key))
		}
		v1 := keyVersionID(t, owner.Client, key.Id, 1)

		st := waitStatus(t, h.admin, "acme's values under "+v1, func(st sdk.EncryptionStatus) bool {
			return onlyVersion(statusCounts(st, testserver.SecretTable, "root.tenants.acme"), v1, 4) &&
				onlyVersion(statusCounts(st, testserver.SecretTable, "root.tenants.acme.child"), v1, 2)
		})
		job := st.Reencryption
		if job == nil {
			t.Fatalf("status shows the admin no re-encryption job: %s", jsonOf(t, st))
		}
		if !strings.HasPrefix(job.Id, "rej_") || job.State != sdk.ReencryptionJobDone || job.Rewritten != int64(len(acme)) ||
			job.Unreadable != 0 || job.Error != nil || job.StartedAt == nil || job.FinishedAt == nil ||
			job.Table != nil || !containsFold(job.Reason, "root.tenants.acme") {
			t.Errorf("re-encryption job = %s, want done, started and finished, %d values rewritten, none unreadable, "+
				"no table, a reason naming root.tenants.acme", jsonOf(t, job), len(acme))
		}
		if total := statusTotal(st); job.Total != total || job.Scanned != total {
			t.Errorf("job scanned %d of a total of %d values, want all %d stored values", job.Scanned, job.Total, total)
		}
		if got := statusCounts(st, testserver.SecretTable, "root.tenants.other"); !onlyVersion(got, rootKV, len(other)) {
			t.Errorf("values of root.tenants.other per key version = %v, want all %d under the root key %s", got, len(other), rootKV)
		}
		// The tenant key's material is wrapped by the root key, whichever namespace it serves.
		if got := statusCounts(st, wrappedKeyTable, ""); !onlyVersion(got, rootKV, 1) {
			t.Errorf("wrapped key material per key version = %v, want one value under the root key %s", got, rootKV)
		}
		h.wantSealedWith(t, v1, acme...)
		h.wantSealedWith(t, rootKV, other...)
	})
}

// TestRotationRetire: a rotated version cannot be retired while values still use it; once
// the background re-encryption has moved them, it can, and every value still opens.
func TestRotationRetire(t *testing.T) {
	// Retiring version 1 straight after the rotation races the worker re-encrypting its
	// values. The worker needs at least one queue poll to start, so it practically always
	// loses; the test insists the refusal was seen on at least one backend.
	var refused atomic.Int32
	t.Cleanup(func() {
		if !t.Failed() && refused.Load() == 0 {
			t.Errorf("retiring version 1 right after the rotation was never refused with 409 on any backend")
		}
	})
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		h.mkNamespace(t, "root.tenants")
		h.mkNamespace(t, "root.tenants.acme")
		key := assignNewKey(t, h.admin, "root.tenants.acme", "tenant")
		v1 := keyVersionID(t, h.admin, key.Id, 1)
		waitStatus(t, h.admin, "the assignment's re-encryption", settledAny)
		values := h.putSecrets(t, "root.tenants.acme", "acme", 12)
		h.wantSealedWith(t, v1, values...)

		rot := call(h.admin.RotateKeyWithResponse(ctx, key.Id, sdk.KeyRotate{})).want(t, http.StatusCreated).JSON201
		v2 := rot.Id
		if rot.Number != 2 || v2 == v1 {
			t.Fatalf("rotated version = %s", jsonOf(t, rot))
		}
		r := call(h.admin.RetireKeyVersionWithResponse(ctx, key.Id, 1)).get(t)
		switch r.StatusCode() {
		case http.StatusConflict:
			refused.Add(1)
			p := call(r, nil).problem(t, http.StatusConflict, "", "still seals")
			m := regexp.MustCompile(`still seals (\d+) stored value`).FindStringSubmatch(deref(p.Detail))
			if m == nil {
				t.Errorf("409 detail %q does not name how many values still use version 1", deref(p.Detail))
			} else if n, _ := strconv.Atoi(m[1]); n < 1 || n > len(values) {
				t.Errorf("409 detail %q: %d values still use version 1, want 1 to %d", deref(p.Detail), n, len(values))
			}
		case http.StatusOK:
			// The worker was faster: retiring was right only if no value uses version 1.
			st := call(h.admin.GetEncryptionStatusWithResponse(ctx, nil)).want(t, http.StatusOK).JSON200
			if n := statusCounts(*st, testserver.SecretTable, "root.tenants.acme")[v1]; n != 0 {
				t.Errorf("version 1 was retired while %d values still use it", n)
			}
			t.Logf("the worker re-encrypted before the retire request; no 409 on this backend")
		default:
			t.Fatalf("retire right after rotate: status %d, want 409 (or 200 once re-encrypted); body: %s", r.StatusCode(), r.Body)
		}

		st := waitStatus(t, h.admin, "no value under version 1", func(st sdk.EncryptionStatus) bool {
			return onlyVersion(statusCounts(st, testserver.SecretTable, "root.tenants.acme"), v2, len(values))
		})
		if job := st.Reencryption; job == nil || job.State != sdk.ReencryptionJobDone || job.Rewritten != int64(len(values)) || job.Unreadable != 0 {
			t.Errorf("re-encryption job after the rotation = %s, want done with %d values rewritten", jsonOf(t, job), len(values))
		}
		ret := call(h.admin.RetireKeyVersionWithResponse(ctx, key.Id, 1)).want(t, http.StatusOK).JSON200
		if ret.State != sdk.KeyVersionStateRetired || ret.Number != 1 || ret.Id != v1 {
			t.Errorf("retired version = %s, want version 1 (%s) retired", jsonOf(t, ret), v1)
		}
		if st := keyVersionStates(t, h.admin, key.Id); len(st) != 2 || st[1] != "retired" || st[2] != "current" {
			t.Errorf("versions after retire = %v, want 1 retired, 2 current", st)
		}
		h.wantSealedWith(t, v2, values...)
	})
}

// TestDestroyKey: destroying a key is confirmed, can be previewed, needs keys:delete, and
// crypto-shreds: what the key sealed stays stored but never opens again.
func TestDestroyKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		for _, p := range []string{"root.tenants", "root.tenants.doomed", "root.tenants.doomed.child", "root.tenants.other"} {
			h.mkNamespace(t, p)
		}
		key := assignNewKey(t, h.admin, "root.tenants.doomed", "doomed")
		spare := *call(h.admin.CreateKeyWithResponse(ctx, sdk.KeyCreate{
			Namespace: "root.tenants.doomed", Name: "spare", Source: sdk.KeySource{Kind: sdk.KeySourceGenerated},
		})).want(t, http.StatusCreated).JSON201
		v1 := keyVersionID(t, h.admin, key.Id, 1)
		shredded := slices.Concat(h.putSecrets(t, "root.tenants.doomed", "doomed", 3), h.putSecrets(t, "root.tenants.doomed.child", "doomed-child", 2))
		other := h.putSecrets(t, "root.tenants.other", "other", 2)
		_, rootKV := h.s.OpenSecret(t, other[0].id)
		h.wantSealedWith(t, v1, shredded...)
		waitStatus(t, h.admin, "the assignment's re-encryption", settledAny)

		raw := map[string]string{}
		for _, s := range shredded {
			raw[s.id] = h.s.RawSecret(t, s.id)
		}
		before := *call(h.admin.GetKeyWithResponse(ctx, key.Id)).want(t, http.StatusOK).JSON200
		wantUnreadable := jsonOf(t, []sdk.EncryptionStatusRow{
			{Table: testserver.SecretTable, Column: "secret", Namespace: "root.tenants.doomed", KeyVersionId: v1, Count: 3},
			{Table: testserver.SecretTable, Column: "secret", Namespace: "root.tenants.doomed.child", KeyVersionId: v1, Count: 2},
		})
		unchanged := func(after string) {
			t.Helper()
			if now := call(h.admin.GetKeyWithResponse(ctx, key.Id)).want(t, http.StatusOK).JSON200; jsonOf(t, *now) != jsonOf(t, before) {
				t.Errorf("%s changed the key:\n got %s\nwant %s", after, jsonOf(t, *now), jsonOf(t, before))
			}
			if a := call(h.admin.GetNamespaceKeyWithResponse(ctx, "root.tenants.doomed")).want(t, http.StatusOK).JSON200; deref(a.KeyId) != key.Id {
				t.Errorf("%s changed the assignment of root.tenants.doomed: %s", after, jsonOf(t, a))
			}
			h.wantSealedWith(t, v1, shredded...)
		}

		// A dry run reports and changes nothing.
		dry := call(h.admin.DestroyKeyWithResponse(ctx, key.Id, sdk.KeyDestroy{Confirm: key.Id, DryRun: new(true)})).want(t, http.StatusOK).JSON200
		if dry.Destroyed || dry.Key.State != sdk.KeyStateActive || dry.Key.CurrentVersion != 1 || dry.UnreadableTotal != 5 ||
			jsonOf(t, dry.Unreadable) != wantUnreadable {
			t.Errorf("dry run = %s, want not destroyed, the key active at version 1, unreadable %s (5 in all)", jsonOf(t, dry), wantUnreadable)
		}
		unchanged("a dry run")

		// The confirmation must repeat the key's own id.
		for _, confirm := range []string{spare.Id, "", strings.ToUpper(key.Id)} {
			call(h.admin.DestroyKeyWithResponse(ctx, key.Id, sdk.KeyDestroy{Confirm: confirm})).problem(t, http.StatusBadRequest, "confirm", "")
		}
		call(h.admin.DestroyKeyWithResponse(ctx, key.Id, sdk.KeyDestroy{Confirm: spare.Id})).problem(t, http.StatusBadRequest, "confirm", "must repeat the key id")
		unchanged("a wrong confirmation")

		// keys:delete is needed: without it a visible key is forbidden, an invisible one absent.
		keeper := h.mkActor(t, "root.tenants.doomed", "keeper", perm("root.tenants.doomed.**", "keys", "get,list,create,update,rotate"))
		stranger := h.mkActor(t, "root.tenants.other", "stranger", perm("root.tenants.other.**", "keys", "*"))
		for _, dryRun := range []bool{false, true} {
			body := sdk.KeyDestroy{Confirm: key.Id, DryRun: new(dryRun)}
			call(keeper.Client.DestroyKeyWithResponse(ctx, key.Id, body)).problem(t, http.StatusForbidden, "", "not permitted to delete keys")
			call(stranger.Client.DestroyKeyWithResponse(ctx, key.Id, body)).problem(t, http.StatusNotFound, "", "key not found")
		}
		unchanged("refused callers")

		// The real thing.
		rep := call(h.admin.DestroyKeyWithResponse(ctx, key.Id, sdk.KeyDestroy{Confirm: key.Id})).want(t, http.StatusOK).JSON200
		if !rep.Destroyed || rep.Key.State != sdk.KeyStateDestroyed || rep.Key.CurrentVersion != 0 || rep.UnreadableTotal != 5 ||
			jsonOf(t, rep.Unreadable) != wantUnreadable {
			t.Errorf("destroy = %s, want destroyed, the key destroyed at version 0, unreadable %s (5 in all)", jsonOf(t, rep), wantUnreadable)
		}
		if k := call(h.admin.GetKeyWithResponse(ctx, key.Id)).want(t, http.StatusOK).JSON200; k.State != sdk.KeyStateDestroyed || k.CurrentVersion != 0 {
			t.Errorf("destroyed key = %s, want state destroyed, currentVersion 0", jsonOf(t, k))
		}
		if st := keyVersionStates(t, h.admin, key.Id); len(st) != 1 || st[1] != "destroyed" {
			t.Errorf("versions of the destroyed key = %v, want 1 destroyed", st)
		}
		for _, ns := range []string{"root.tenants.doomed", "root.tenants.doomed.child"} {
			a := call(h.admin.GetNamespaceKeyWithResponse(ctx, ns)).want(t, http.StatusOK).JSON200
			if a.KeyId != nil || a.EffectiveKeyId != nil {
				t.Errorf("key assignment of %s after the destroy = %s, want none (the root key)", ns, jsonOf(t, a))
			}
		}
		for _, s := range shredded {
			if got := h.s.RawSecret(t, s.id); got != raw[s.id] {
				t.Errorf("stored value of %s changed by the destroy:\n got %s\nwant %s", s.id, got, raw[s.id])
			}
			if msg := h.openFailure(t, s.id); msg != "" && (!containsFold(msg, "open "+s.id) || !containsFold(msg, v1)) {
				t.Errorf("%s does not open, but not for its destroyed key version %s: %s", s.id, v1, msg)
			}
		}
		h.wantSealedWith(t, rootKV, other...)
		// The namespace now falls back to the root key.
		fresh := h.putSecrets(t, "root.tenants.doomed", "fresh", 1)
		h.wantSealedWith(t, rootKV, fresh...)

		// The worker cannot open them either: a re-encryption counts them unreadable and
		// leaves them where they are.
		job := call(h.admin.StartReencryptionWithResponse(ctx)).want(t, http.StatusAccepted).JSON202
		st := waitStatus(t, h.admin, "the re-encryption after the destroy", func(st sdk.EncryptionStatus) bool {
			return st.Reencryption != nil && st.Reencryption.Id == job.Id
		})
		if j := st.Reencryption; j.State != sdk.ReencryptionJobDone || j.Unreadable != int64(len(shredded)) || j.Rewritten != 0 {
			t.Errorf("re-encryption after the destroy = %s, want done, %d unreadable, none rewritten", jsonOf(t, j), len(shredded))
		}
		if got := statusCounts(st, testserver.SecretTable, "root.tenants.doomed"); len(got) != 2 || got[v1] != 3 || got[rootKV] != 1 {
			t.Errorf("values of root.tenants.doomed per key version = %v, want 3 under the destroyed %s, 1 under the root key", got, v1)
		}

		call(h.admin.RotateKeyWithResponse(ctx, key.Id, sdk.KeyRotate{})).problem(t, http.StatusConflict, "", "destroyed")
		call(h.admin.AssignNamespaceKeyWithResponse(ctx, "root.tenants.doomed", sdk.KeyAssign{KeyId: key.Id})).problem(t, http.StatusConflict, "", "destroyed")
		call(h.admin.DestroyKeyWithResponse(ctx, key.Id, sdk.KeyDestroy{Confirm: key.Id})).problem(t, http.StatusConflict, "", "already destroyed")
		call(h.admin.DeleteKeyWithResponse(ctx, key.Id)).want(t, http.StatusNoContent)
		call(h.admin.GetKeyWithResponse(ctx, key.Id)).problem(t, http.StatusNotFound, "", "key not found")
	})
}

// TestStartReencryptionAuthorization: a re-encryption spans every namespace, so only an
// operator (keys:rotate on root) starts one and only callers who may get root's keys see
// the job; everyone sees the status of the namespaces whose keys they may get.
func TestStartReencryptionAuthorization(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		for _, p := range []string{"root.tenants", "root.tenants.acme", "root.other"} {
			h.mkNamespace(t, p)
		}
		h.putSecrets(t, "root.tenants.acme", "acme", 2)
		h.putSecrets(t, "root.other", "other", 2)
		h.putSecrets(t, "root", "top", 1)
		// Its wrapped material is counted as root's: a tenant must not see that row.
		call(h.admin.CreateKeyWithResponse(ctx, sdk.KeyCreate{
			Namespace: "root.tenants.acme", Name: "tenant", Source: sdk.KeySource{Kind: sdk.KeySourceGenerated},
		})).want(t, http.StatusCreated)
		ops := h.mkActor(t, "root.tenants", "ops", perm("root.tenants.**", "keys", "*"))
		auditor := h.mkActor(t, "root", "auditor", perm("root.**", "keys", "get,list"))

		job := call(h.admin.StartReencryptionWithResponse(ctx)).want(t, http.StatusAccepted).JSON202
		if !strings.HasPrefix(job.Id, "rej_") || job.Reason == "" ||
			!slices.Contains([]sdk.ReencryptionJobState{sdk.ReencryptionJobPending, sdk.ReencryptionJobRunning, sdk.ReencryptionJobDone}, job.State) {
			t.Errorf("started job = %s", jsonOf(t, job))
		}
		admin := waitStatus(t, h.admin, "the started job", func(st sdk.EncryptionStatus) bool {
			return st.Reencryption != nil && st.Reencryption.Id == job.Id
		})
		if admin.Reencryption.State != sdk.ReencryptionJobDone {
			t.Errorf("started job ended as %s", jsonOf(t, admin.Reencryption))
		}

		// ops may not even see root's keys: told what is needed. The auditor sees them but
		// may not rotate: told what is missing.
		call(ops.Client.StartReencryptionWithResponse(ctx)).problem(t, http.StatusForbidden, "", "needs keys:rotate on \"root\"")
		call(auditor.Client.StartReencryptionWithResponse(ctx)).problem(t, http.StatusForbidden, "", "not permitted to rotate keys")
		after := call(h.admin.GetEncryptionStatusWithResponse(ctx, nil)).want(t, http.StatusOK).JSON200
		if after.Reencryption == nil || after.Reencryption.Id != job.Id || after.Reencryption.State != sdk.ReencryptionJobDone {
			t.Errorf("after the refused requests the current job is %s, want %s still done", jsonOf(t, after.Reencryption), job.Id)
		}

		var tenantRows []sdk.EncryptionStatusRow
		for _, r := range admin.Items {
			if within(r.Namespace, "root.tenants") {
				tenantRows = append(tenantRows, r)
			}
		}
		if len(tenantRows) == 0 || len(tenantRows) == len(admin.Items) {
			t.Fatalf("fixture: the admin's status %s should hold rows inside and outside root.tenants", jsonOf(t, admin.Items))
		}
		r := call(ops.Client.GetEncryptionStatusWithResponse(ctx, nil)).want(t, http.StatusOK)
		if r.JSON200.Reencryption != nil || bytes.Contains(r.Body, []byte(`"reencryption"`)) {
			t.Errorf("ops (keys:* on root.tenants.**) sees the re-encryption job: %s", r.Body)
		}
		for _, row := range r.JSON200.Items {
			if !within(row.Namespace, "root.tenants") {
				t.Errorf("ops (keys:* on root.tenants.**) sees a status row of namespace %q: %s", row.Namespace, jsonOf(t, row))
			}
		}
		if got, want := jsonOf(t, r.JSON200.Items), jsonOf(t, tenantRows); got != want {
			t.Errorf("ops's status rows:\n got %s\nwant %s", got, want)
		}

		a := call(auditor.Client.GetEncryptionStatusWithResponse(ctx, nil)).want(t, http.StatusOK).JSON200
		if a.Reencryption == nil || a.Reencryption.Id != job.Id {
			t.Errorf("auditor (keys:get on root.**) sees job %s, want %s", jsonOf(t, a.Reencryption), job.Id)
		}
		if got, want := jsonOf(t, a.Items), jsonOf(t, admin.Items); got != want {
			t.Errorf("auditor's status rows:\n got %s\nwant %s", got, want)
		}
	})
}

// TestNoPlaintextAtRest: after values are sealed, keys rotated and values re-encrypted,
// neither the plaintexts nor inline key material appear anywhere in what the database
// stores, in any usual encoding.
func TestNoPlaintextAtRest(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		for _, p := range []string{"root.np", "root.np.inline", "root.np.gen"} {
			h.mkNamespace(t, p)
		}
		m1, m2 := randomBytes(t, 32), randomBytes(t, 32)
		inl := *call(h.admin.CreateKeyWithResponse(ctx, sdk.KeyCreate{
			Namespace: "root.np.inline", Name: "inline", Source: sdk.KeySource{Kind: sdk.KeySourceInline},
			Material: strPtr(base64.StdEncoding.EncodeToString(m1)),
		})).want(t, http.StatusCreated).JSON201
		assignKey(t, h.admin, "root.np.inline", inl.Id)
		gen := assignNewKey(t, h.admin, "root.np.gen", "gen")
		inlValues := h.putSecrets(t, "root.np.inline", "inline", 4)
		genValues := h.putSecrets(t, "root.np.gen", "gen", 4)
		rootValues := h.putSecrets(t, "root.np", "np", 2)

		i2 := call(h.admin.RotateKeyWithResponse(ctx, inl.Id, sdk.KeyRotate{Material: strPtr(base64.StdEncoding.EncodeToString(m2))})).want(t, http.StatusCreated).JSON201.Id
		g2 := call(h.admin.RotateKeyWithResponse(ctx, gen.Id, sdk.KeyRotate{})).want(t, http.StatusCreated).JSON201.Id
		waitStatus(t, h.admin, "values under the rotated versions", func(st sdk.EncryptionStatus) bool {
			return onlyVersion(statusCounts(st, testserver.SecretTable, "root.np.inline"), i2, len(inlValues)) &&
				onlyVersion(statusCounts(st, testserver.SecretTable, "root.np.gen"), g2, len(genValues))
		})
		h.wantSealedWith(t, i2, inlValues...)
		h.wantSealedWith(t, g2, genValues...)
		all := slices.Concat(inlValues, genValues, rootValues)

		stored := h.atRest(t)
		// The search must be able to fail: what is stored in the clear is found.
		for _, n := range []needle{
			{"the namespace path root.np.inline", []byte("root.np.inline")},
			{"the stored envelope of " + inlValues[0].id, []byte(h.s.RawSecret(t, inlValues[0].id))},
		} {
			if len(stored.find(n.b)) == 0 {
				t.Errorf("%s is not found in %s: the search does not see what is stored", n.what, stored.places())
			}
		}

		var secrets []needle
		for _, s := range all {
			secrets = append(secrets, encodings("the plaintext of "+s.id, []byte(s.plain))...)
		}
		secrets = append(secrets, encodings("inline key material (version 1)", m1)...)
		secrets = append(secrets, encodings("inline key material (version 2)", m2)...)
		// In dev mode the root key is a file of 32 raw bytes in the data dir.
		if rk, err := os.ReadFile(filepath.Join(h.s.DataDir, "root_key")); err == nil && len(rk) == 32 {
			secrets = append(secrets, encodings("the root key", rk)...)
		} else {
			t.Logf("no 32-byte root key file in the data dir (%v); not searching for it", err)
		}
		for _, n := range secrets {
			if at := stored.find(n.b); len(at) > 0 {
				t.Errorf("%s is stored at rest: %s", n.what, strings.Join(at, "; "))
			}
		}
	})
}

// --- searching what is stored --------------------------------------------------------------

// needle is a byte string to look for, with what it is.
type needle struct {
	what string
	b    []byte
}

// encodings returns b as is and in the encodings a leak would most likely take.
func encodings(what string, b []byte) []needle {
	return []needle{
		{what, b},
		{what + " in base64", []byte(base64.StdEncoding.EncodeToString(b))},
		{what + " in unpadded base64", []byte(base64.RawStdEncoding.EncodeToString(b))},
		{what + " in base64url", []byte(base64.RawURLEncoding.EncodeToString(b))},
		{what + " in hex", []byte(hex.EncodeToString(b))},
		{what + " in upper-case hex", []byte(strings.ToUpper(hex.EncodeToString(b)))},
	}
}

// storedBytes is what a database holds, by where it was read from.
type storedBytes map[string][]byte

// find lists where needle occurs ("<place> at byte <offset>").
func (s storedBytes) find(needle []byte) []string {
	var at []string
	for _, place := range s.places() {
		data := s[place]
		for off := 0; ; {
			i := bytes.Index(data[off:], needle)
			if i < 0 {
				break
			}
			at = append(at, fmt.Sprintf("%s at byte %d", place, off+i))
			off += i + 1
		}
	}
	return at
}

func (s storedBytes) places() []string {
	out := make([]string, 0, len(s))
	for p := range s {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// atRest reads what the server's database stores: on SQLite the database file with its
// -wal and -shm files, on PostgreSQL a pg_dump of its schema.
func (h *harness) atRest(t testing.TB) storedBytes {
	t.Helper()
	out := storedBytes{}
	if f := h.s.DatabaseFile(); f != "" {
		for _, p := range []string{f, f + "-wal", f + "-shm"} {
			b, err := os.ReadFile(p)
			if os.IsNotExist(err) && p != f {
				continue
			}
			if err != nil {
				t.Fatalf("read %s: %v", p, err)
			}
			out[p] = b
		}
		return out
	}
	dsn := h.s.PostgresDSN()
	if dsn == "" {
		t.Fatalf("the server is on neither SQLite nor PostgreSQL")
	}
	conn, schema := splitSearchPath(t, dsn)
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		bin = "/usr/bin/pg_dump"
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), bin, "--dbname="+conn, "--schema="+schema, "--no-owner", "--no-privileges")
	cmd.Stderr = &stderr
	dump, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump of schema %s: %v: %s", schema, err, stderr.Bytes())
	}
	out["pg_dump of schema "+schema] = dump
	return out
}

// splitSearchPath takes the search_path out of a PostgreSQL DSN (URL or key=value form):
// libpq, and so pg_dump, does not know it as a connection parameter.
func splitSearchPath(t testing.TB, dsn string) (conn, schema string) {
	t.Helper()
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		schema = q.Get("search_path")
		q.Del("search_path")
		u.RawQuery = q.Encode()
		conn = u.String()
	} else {
		var rest []string
		for _, f := range strings.Fields(dsn) {
			if v, ok := strings.CutPrefix(f, "search_path="); ok {
				schema = v
			} else {
				rest = append(rest, f)
			}
		}
		conn = strings.Join(rest, " ")
	}
	if schema == "" {
		t.Fatalf("the server's PostgreSQL DSN names no search_path")
	}
	return conn, schema
}
