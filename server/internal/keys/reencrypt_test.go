package keys_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/keys"
)

// runJob starts (or joins) a re-encryption and runs it to the end.
func (e *env) runJob(t *testing.T) *keys.Job {
	t.Helper()
	j, err := e.keys.StartReencryption(e.ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.keys.RunReencryption(e.ctx, j.ID); err != nil {
		t.Fatalf("run %s: %v", j.ID, err)
	}
	j, err = e.keys.GetJob(e.ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != keys.JobDone {
		t.Fatalf("job %+v", j)
	}
	return j
}

// debtOf sums the debt rows of one namespace of the test table per key version.
func (e *env) debtOf(t *testing.T, ns string) map[string]int64 {
	t.Helper()
	rows, err := e.keys.Debt(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		if r.Table == "keys_test_secrets" && r.Namespace == ns {
			out[r.KeyVersionID] += r.Count
		}
	}
	return out
}

func currentVersionID(t *testing.T, e *env, keyID string) string {
	t.Helper()
	vs, err := e.keys.Versions(e.ctx, keyID)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.State == keys.VersionCurrent {
			return v.ID
		}
	}
	t.Fatalf("key %s has no current version", keyID)
	return ""
}

func TestReencryptAfterAssignment(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		plain := map[string]string{}
		for i := 0; i < 12; i++ {
			id, ns := fmt.Sprintf("t1-%02d", i), "root.t1"
			if i%3 == 0 {
				ns = "root.t1.sub"
			}
			if i%4 == 0 {
				ns = "root.t2"
			}
			plain[id] = "secret " + id
			e.put(t, id, ns, plain[id])
		}
		var notified []string
		e.keys.Notify = func(_ context.Context, jobID string) { notified = append(notified, jobID) }
		tenant := e.create(t, "root.t1", "tenant", "generated", nil, nil)
		if err := e.keys.Assign(e.ctx, "root.t1", tenant.ID); err != nil {
			t.Fatal(err)
		}
		if len(notified) != 1 {
			t.Fatalf("assignment notified %v", notified)
		}
		pending, err := e.keys.CurrentJob(e.ctx)
		if err != nil || pending == nil || pending.State != keys.JobPending || pending.ID != notified[0] {
			t.Fatalf("current job %+v %v", pending, err)
		}
		// A second trigger joins the pending job.
		again, err := e.keys.StartReencryption(e.ctx, "again")
		if err != nil || again.ID != pending.ID {
			t.Fatalf("second trigger: %+v %v", again, err)
		}
		j := e.runJob(t)
		tv := currentVersionID(t, e, tenant.ID)
		rootID := e.keys.Root.Version.ID
		for ns, want := range map[string]string{"root.t1": tv, "root.t1.sub": tv, "root.t2": rootID} {
			d := e.debtOf(t, ns)
			if len(d) != 1 || d[want] == 0 {
				t.Fatalf("%s debt %v, want everything under %s", ns, d, want)
			}
		}
		for id, p := range plain {
			if got := e.get(t, id); got != p {
				t.Fatalf("%s opened to %q", id, got)
			}
		}
		// 9 tenant values moved; root.t2's stayed; the tenant key's own wrapped material
		// was already under the root key.
		if j.Rewritten != 9 || j.Unreadable != 0 || j.Scanned != 13 || j.Total != 13 {
			t.Fatalf("job counts %+v", j)
		}
		// Running it again rewrites nothing.
		if j2 := e.runJob(t); j2.Rewritten != 0 || j2.Scanned != 13 {
			t.Fatalf("second run %+v", j2)
		}
	})
}

func TestReencryptRotationThenRetire(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		k := e.create(t, "root.t1", "tenant", "generated", nil, nil)
		if err := e.keys.Assign(e.ctx, "root.t1", k.ID); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 7; i++ {
			e.put(t, fmt.Sprintf("r%d", i), "root.t1", fmt.Sprintf("value %d", i))
		}
		v1 := currentVersionID(t, e, k.ID)
		v2, err := e.keys.Rotate(e.ctx, k.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.keys.RetireVersion(e.ctx, k.ID, 1, nil)
		wantProblem(t, err, http.StatusConflict, "still seals 7 stored value(s)")
		e.runJob(t)
		if d := e.debtOf(t, "root.t1"); len(d) != 1 || d[v2.ID] != 7 {
			t.Fatalf("debt after re-encryption %v (v1 %s, v2 %s)", d, v1, v2.ID)
		}
		if n, err := e.keys.VersionDebt(e.ctx, v1); err != nil || n != 0 {
			t.Fatalf("v1 debt %d %v", n, err)
		}
		if _, err := e.keys.RetireVersion(e.ctx, k.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 7; i++ {
			if got := e.get(t, fmt.Sprintf("r%d", i)); got != fmt.Sprintf("value %d", i) {
				t.Fatalf("r%d opened to %q", i, got)
			}
		}
	})
}

func TestReencryptCrashMidBatchResumes(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		const n = 25
		for i := 0; i < n; i++ {
			e.put(t, fmt.Sprintf("c%02d", i), "root.t1", fmt.Sprintf("crash %d", i))
		}
		k := e.create(t, "root.t1", "tenant", "generated", nil, nil)
		if err := e.keys.Assign(e.ctx, "root.t1", k.ID); err != nil {
			t.Fatal(err)
		}
		e.keys.ReencryptBatch = 4
		crash := errors.New("killed mid-batch")
		batches := 0
		keys.SetBatchHook(e.keys, func(table string, _ int) error {
			// Batches 1 and 2 of the test table commit 8 values; batch 3 is killed after
			// writing, so its writes roll back with its cursor.
			if table != "keys_test_secrets" {
				return nil
			}
			batches++
			if batches == 3 {
				return crash
			}
			return nil
		})
		j, err := e.keys.CurrentJob(e.ctx)
		if err != nil || j == nil {
			t.Fatalf("job %+v %v", j, err)
		}
		if err := e.keys.RunReencryption(e.ctx, j.ID); !errors.Is(err, crash) {
			t.Fatalf("run: %v", err)
		}
		mid, _ := e.keys.GetJob(e.ctx, j.ID)
		if mid.State != keys.JobRunning || mid.Rewritten != 8 || mid.Scanned != 9 {
			t.Fatalf("after crash %+v", mid)
		}
		tv := currentVersionID(t, e, k.ID)
		if d := e.debtOf(t, "root.t1"); d[tv] != 8 || d[e.keys.Root.Version.ID] != n-8 {
			t.Fatalf("debt after crash %v", d)
		}
		for i := 0; i < n; i++ { // readable mid-way
			if got := e.get(t, fmt.Sprintf("c%02d", i)); got != fmt.Sprintf("crash %d", i) {
				t.Fatalf("c%02d opened to %q mid-way", i, got)
			}
		}
		keys.SetBatchHook(e.keys, func(string, int) error { return nil })
		// The crashed run released its lease, so a restart resumes at once.
		if err := e.keys.RunReencryption(e.ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		done, _ := e.keys.GetJob(e.ctx, j.ID)
		// Each value rewritten exactly once: 25 test values, and the wrapped material was
		// already under the root key.
		if done.State != keys.JobDone || done.Rewritten != n || done.Unreadable != 0 {
			t.Fatalf("after restart %+v", done)
		}
		if d := e.debtOf(t, "root.t1"); len(d) != 1 || d[tv] != n {
			t.Fatalf("debt after restart %v", d)
		}
		for i := 0; i < n; i++ {
			// A value sealed twice would open to an envelope, not to the plaintext.
			if got := e.get(t, fmt.Sprintf("c%02d", i)); got != fmt.Sprintf("crash %d", i) {
				t.Fatalf("c%02d opened to %q", i, got)
			}
		}
		if err := e.keys.RunReencryption(e.ctx, j.ID); !errors.Is(err, keys.ErrJobNotClaimed) {
			t.Fatalf("finished job claimed again: %v", err)
		}
	})
}

func TestReencryptSkipsChangedAndUnreadable(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.put(t, "ok", "root.t1", "fine")
		e.put(t, "swapped", "root.t1", "moved")
		// A value copied from another row does not authenticate: counted, left alone.
		if err := e.db.Exec("UPDATE keys_test_secrets SET secret = (SELECT secret FROM keys_test_secrets WHERE id = 'ok') WHERE id = 'swapped'").Error; err != nil {
			t.Fatal(err)
		}
		if err := e.db.Exec("INSERT INTO keys_test_secrets (id, namespace, secret) VALUES ('junk', 'root.t1', 'not an envelope')").Error; err != nil {
			t.Fatal(err)
		}
		k := e.create(t, "root.t1", "tenant", "generated", nil, nil)
		if err := e.keys.Assign(e.ctx, "root.t1", k.ID); err != nil {
			t.Fatal(err)
		}
		j := e.runJob(t)
		if j.Rewritten != 1 || j.Unreadable != 2 {
			t.Fatalf("job %+v", j)
		}
		var junk string
		e.db.Raw("SELECT secret FROM keys_test_secrets WHERE id = 'junk'").Scan(&junk)
		if junk != "not an envelope" {
			t.Fatalf("unreadable value changed to %q", junk)
		}
	})
}

func TestReencryptLeaseFencesSecondWorker(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.put(t, "a", "root.t1", "x")
		j, err := e.keys.StartReencryption(e.ctx, "test")
		if err != nil {
			t.Fatal(err)
		}
		// A worker holds the job: running, lease in the future.
		if err := e.db.Exec("UPDATE reencryption_jobs SET state = 'running', lease_until = ? WHERE id = ?",
			time.Now().UTC().Add(time.Hour), j.ID).Error; err != nil {
			t.Fatal(err)
		}
		if err := e.keys.RunReencryption(e.ctx, j.ID); !errors.Is(err, keys.ErrJobNotClaimed) {
			t.Fatalf("second worker: %v", err)
		}
		if ids, err := e.keys.ResumableJobs(e.ctx); err != nil || len(ids) != 0 {
			t.Fatalf("held job resumable: %v %v", ids, err)
		}
		// Its worker died: once the lease expires the sweep hands it out and it finishes.
		if err := e.db.Exec("UPDATE reencryption_jobs SET lease_until = ? WHERE id = ?",
			time.Now().UTC().Add(-time.Minute), j.ID).Error; err != nil {
			t.Fatal(err)
		}
		if ids, err := e.keys.ResumableJobs(e.ctx); err != nil || len(ids) != 1 || ids[0] != j.ID {
			t.Fatalf("resumable %v %v", ids, err)
		}
		if err := e.keys.RunReencryption(e.ctx, j.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDestroy(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		k := e.create(t, "root.t1", "doomed", "generated", nil, nil)
		if err := e.keys.Assign(e.ctx, "root.t1", k.ID); err != nil {
			t.Fatal(err)
		}
		e.put(t, "d1", "root.t1", "shred me")
		e.put(t, "d2", "root.t1.sub", "shred me too")
		e.put(t, "keep", "root.t2", "keep me")

		_, err := e.keys.Destroy(e.ctx, k.ID, "yes", false)
		wantProblem(t, err, http.StatusBadRequest, "must repeat the key id")
		dry, err := e.keys.Destroy(e.ctx, k.ID, k.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if dry.Destroyed || dry.Total != 2 || len(dry.Unreadable) != 2 || dry.Key.State != keys.StateActive {
			t.Fatalf("dry run %+v", dry)
		}
		if e.get(t, "d1") != "shred me" {
			t.Fatal("dry run destroyed something")
		}
		rep, err := e.keys.Destroy(e.ctx, k.ID, k.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Destroyed || rep.Total != 2 || rep.Key.State != keys.StateDestroyed || rep.Key.CurrentVersion != 0 {
			t.Fatalf("report %+v", rep)
		}
		var d1 string
		e.db.Raw("SELECT secret FROM keys_test_secrets WHERE id = 'd1'").Scan(&d1)
		if _, err := e.keys.Open(e.ctx, secrets, "d1", d1); !errors.Is(err, encrypt.ErrUnknownKey) {
			t.Fatalf("destroyed key still opens: %v", err)
		}
		var wrapped int64
		e.db.Raw("SELECT COUNT(*) FROM encryption_key_versions WHERE key_id = ? AND wrapped_material IS NOT NULL", k.ID).Scan(&wrapped)
		if wrapped != 0 {
			t.Fatalf("%d wrapped versions left", wrapped)
		}
		if _, ok, _ := e.keys.Assigned(e.ctx, "root.t1"); ok {
			t.Fatal("assignment kept")
		}
		if e.get(t, "keep") != "keep me" {
			t.Fatal("other values harmed")
		}
		_, err = e.keys.Destroy(e.ctx, k.ID, k.ID, false)
		wantProblem(t, err, http.StatusConflict, "already destroyed")
		_, err = e.keys.Rotate(e.ctx, k.ID, nil)
		wantProblem(t, err, http.StatusConflict, "is destroyed")
		wantProblem(t, e.keys.Assign(e.ctx, "root.t1", k.ID), http.StatusConflict, "is destroyed")
		// Re-encryption leaves the shredded values alone and counts them.
		if j := e.runJob(t); j.Unreadable != 2 || j.Rewritten != 0 {
			t.Fatalf("job %+v", j)
		}
		if err := e.keys.Delete(e.ctx, k.ID); err != nil {
			t.Fatalf("delete destroyed key: %v", err)
		}
	})
}

func TestSyncExternalRotation(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		oldKey, newKey := randomKey(t), randomKey(t)
		path := keyFile(t, oldKey)
		prev := path + ".previous"
		k := e.create(t, "root.t1", "byok", "file", map[string]string{"path": path, "previous_path": prev}, nil)
		if err := e.keys.Assign(e.ctx, "root.t1", k.ID); err != nil {
			t.Fatal(err)
		}
		e.put(t, "s1", "root.t1", "before rotation")
		e.runJob(t) // the assignment's job
		if added, err := e.keys.Sync(e.ctx); err != nil || len(added) != 0 {
			t.Fatalf("sync without change: %v %v", added, err)
		}
		// The operator rotates at the source: new material in path, old in previous_path.
		if err := os.WriteFile(prev, oldKey, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, newKey, 0o600); err != nil {
			t.Fatal(err)
		}
		e.keys.Keyring.Purge()
		added, err := e.keys.Sync(e.ctx)
		if err != nil || len(added) != 1 || added[0].Number != 2 {
			t.Fatalf("sync after rotation: %+v %v", added, err)
		}
		if e.get(t, "s1") != "before rotation" {
			t.Fatal("old version unreadable through previous_path")
		}
		j, err := e.keys.CurrentJob(e.ctx)
		if err != nil || j == nil || j.State != keys.JobPending || !strings.Contains(j.Reason, "sync") {
			t.Fatalf("sync did not start a re-encryption: %+v %v", j, err)
		}
		e.runJob(t)
		if d := e.debtOf(t, "root.t1"); len(d) != 1 || d[added[0].ID] != 1 {
			t.Fatalf("debt %v", d)
		}
		if _, err := e.keys.RetireVersion(e.ctx, k.ID, 1, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(prev); err != nil {
			t.Fatal(err)
		}
		e.keys.Keyring.Purge()
		if e.get(t, "s1") != "before rotation" {
			t.Fatal("value unreadable after rotation completed")
		}
	})
}

func TestRootKeyRotation(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		k := e.create(t, "root.t1", "tenant", "generated", nil, nil)
		if err := e.keys.Assign(e.ctx, "root.t1", k.ID); err != nil {
			t.Fatal(err)
		}
		e.put(t, "t", "root.t1", "tenant value")
		e.put(t, "r", "root.t2", "root value")
		oldRoot := e.keys.Root.Version
		e.runJob(t)

		// Restart with a new root key, the old one still available as previous.
		newRaw := randomKey(t)
		dir := t.TempDir()
		if err := os.WriteFile(dir+"/new", newRaw, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+"/old", e.root, 0o600); err != nil {
			t.Fatal(err)
		}
		root, err := keys.LoadRootKey(e.ctx, encrypt.FileSource{Path: dir + "/new", PreviousPath: dir + "/old"})
		if err != nil {
			t.Fatal(err)
		}
		if root.Previous == nil || root.Previous.ID != oldRoot.ID || root.Version.ID == oldRoot.ID {
			t.Fatalf("root %v previous %v", root.Version, root.Previous)
		}
		e.keys = keys.New(e.db, root)
		if e.get(t, "t") != "tenant value" || e.get(t, "r") != "root value" {
			t.Fatal("values unreadable before re-encryption")
		}
		j := e.runJob(t)
		if j.Rewritten != 2 { // the tenant key's wrapped material and root.t2's value
			t.Fatalf("job %+v", j)
		}
		debt, err := e.keys.Debt(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range debt {
			if d.KeyVersionID == oldRoot.ID {
				t.Fatalf("old root key still seals %+v", d)
			}
		}
		// Without the previous key everything still opens.
		only, err := keys.LoadRootKey(e.ctx, encrypt.FileSource{Path: dir + "/new"})
		if err != nil {
			t.Fatal(err)
		}
		e.keys = keys.New(e.db, only)
		if e.get(t, "t") != "tenant value" || e.get(t, "r") != "root value" {
			t.Fatal("values unreadable after root rotation")
		}
	})
}
