package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
)

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		name                                 string
		scanned, total, rewritten, unreadble int64
		done                                 bool
		want                                 string
	}{
		{"zero", 0, 10000, 0, 0, false, "[--------------------]   0%  0/10000 values  (rewritten 0, unreadable 0)"},
		{"partial", 5200, 10000, 5100, 0, false, "[##########----------]  52%  5200/10000 values  (rewritten 5100, unreadable 0)"},
		{"rounds down", 9999, 10000, 9999, 0, false, "[###################-]  99%  9999/10000 values  (rewritten 9999, unreadable 0)"},
		{"full", 10000, 10000, 9990, 10, false, "[####################] 100%  10000/10000 values  (rewritten 9990, unreadable 10)"},
		{"total 0 pending", 0, 0, 0, 0, false, "[--------------------]   0%  0/0 values  (rewritten 0, unreadable 0)"},
		{"total 0 done", 0, 0, 0, 0, true, "[####################] 100%  0/0 values  (rewritten 0, unreadable 0)"},
		{"scanned beyond total", 12000, 10000, 11000, 3, false, "[####################] 100%  12000/10000 values  (rewritten 11000, unreadable 3)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := progressLine(tc.scanned, tc.total, tc.rewritten, tc.unreadble, tc.done); got != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func strp(s string) *string { return &s }

func TestWriteStatusText(t *testing.T) {
	st := &sdk.EncryptionStatus{
		Items: []sdk.EncryptionStatusRow{
			{Namespace: "", Table: "encryption_key_versions", Column: "wrapped_material", KeyVersionId: "kv_root", Count: 2},
			{Namespace: "root.acme", Table: "connections", Column: "token", KeyVersionId: "kv_1", Count: 7},
			{Namespace: "root.acme", Table: "connections", Column: "token", KeyVersionId: "", Count: 1},
		},
		Reencryption: &sdk.ReencryptionJob{Id: "rej_1", State: sdk.ReencryptionJobFailed, Reason: "key rotated",
			Scanned: 3, Total: 10, Error: strp("database\nwent away")},
	}
	var b bytes.Buffer
	if err := writeStatusText(&b, st); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"NAMESPACE", "TABLE.COLUMN", "KEY VERSION", "VALUES",
		"(root key)", "encryption_key_versions.wrapped_material", "kv_root",
		"root.acme", "connections.token", "(not an envelope)",
		"re-encryption rej_1: failed (key rotated)", "error: database went away",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "[") {
		t.Errorf("a failed job has no progress bar:\n%s", out)
	}
	b.Reset()
	writeStatusText(&b, &sdk.EncryptionStatus{Items: []sdk.EncryptionStatusRow{}})
	if !strings.Contains(b.String(), "(no encrypted values)") {
		t.Errorf("empty status:\n%s", b.String())
	}
}

func TestResponseError(t *testing.T) {
	err := responseError(401, &sdk.Problem{Status: 401, Title: "Unauthorized", Detail: strp("unknown actor root/nobody")}, nil)
	if got := err.Error(); got != "admin service answered 401 Unauthorized: unknown actor root/nobody (check the actor and its private key file)" {
		t.Fatalf("401: %q", got)
	}
	err = responseError(403, &sdk.Problem{Status: 403, Title: "Forbidden"}, nil)
	if got := err.Error(); got != "admin service answered 403 Forbidden: Forbidden" {
		t.Fatalf("403 without detail: %q", got)
	}
	err = responseError(502, nil, []byte("<html>\n<body>Bad gateway</body>\n</html>"))
	if got := err.Error(); strings.Contains(got, "\n") || !strings.Contains(got, "502 Bad Gateway: <html> <body>Bad gateway") {
		t.Fatalf("502 html: %q", got)
	}
}

// fakeFetch returns the statuses in order, repeating the last one.
func fakeFetch(sts ...*sdk.EncryptionStatus) func(context.Context) (*sdk.EncryptionStatus, error) {
	i := 0
	return func(ctx context.Context) (*sdk.EncryptionStatus, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st := sts[min(i, len(sts)-1)]
		i++
		return st, nil
	}
}

func jobStatus(state sdk.ReencryptionJobState, scanned, total int64) *sdk.EncryptionStatus {
	return &sdk.EncryptionStatus{
		Items: []sdk.EncryptionStatusRow{{Namespace: "root", Table: "connections", Column: "token", KeyVersionId: "kv_2", Count: scanned}},
		Reencryption: &sdk.ReencryptionJob{Id: "rej_1", State: state, Reason: "key rotated",
			Scanned: scanned, Rewritten: scanned, Total: total},
	}
}

func TestWatchStatus(t *testing.T) {
	seq := []*sdk.EncryptionStatus{
		jobStatus(sdk.ReencryptionJobPending, 0, 100),
		jobStatus(sdk.ReencryptionJobRunning, 50, 100),
		jobStatus(sdk.ReencryptionJobRunning, 50, 100), // unchanged: no new line
		jobStatus(sdk.ReencryptionJobDone, 100, 100),
	}

	t.Run("pipe", func(t *testing.T) {
		var b bytes.Buffer
		if err := watchStatus(context.Background(), statusWriter{out: &b}, fakeFetch(seq...), time.Millisecond); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if strings.ContainsAny(out, "\r\x1b") {
			t.Fatalf("control characters in piped output: %q", out)
		}
		if n := strings.Count(out, "values  (rewritten"); n != 2 {
			t.Fatalf("want one progress line per change (2), got %d:\n%s", n, out)
		}
		for _, want := range []string{"rej_1: pending", "  0%", "rej_1: running", " 50%", "NAMESPACE", "re-encryption rej_1: done (key rotated)  scanned 100"} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %q in\n%s", want, out)
			}
		}
	})

	t.Run("terminal", func(t *testing.T) {
		var b bytes.Buffer
		if err := watchStatus(context.Background(), statusWriter{out: &b, tty: true}, fakeFetch(seq...), time.Millisecond); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if n := strings.Count(out, "\r"); n != 3 {
			t.Fatalf("want the progress line redrawn in place 3 times, got %d:\n%q", n, out)
		}
		progress, final, ok := strings.Cut(out, "\n")
		if !ok || strings.Contains(final, "\r") || !strings.Contains(progress, " 50%") {
			t.Fatalf("progress then final state:\n%q", out)
		}
	})

	t.Run("failed", func(t *testing.T) {
		failed := jobStatus(sdk.ReencryptionJobFailed, 40, 100)
		failed.Reencryption.Error = strp("disk full")
		var b bytes.Buffer
		err := watchStatus(context.Background(), statusWriter{out: &b}, fakeFetch(seq[1], failed), time.Millisecond)
		if err == nil || err.Error() != "re-encryption rej_1 failed: disk full" {
			t.Fatalf("failed job: %v", err)
		}
		if !strings.Contains(b.String(), "error: disk full") {
			t.Fatalf("final state of a failed job:\n%s", b.String())
		}
	})

	t.Run("json", func(t *testing.T) {
		var b bytes.Buffer
		if err := watchStatus(context.Background(), statusWriter{out: &b, json: true, tty: true}, fakeFetch(seq...), time.Millisecond); err != nil {
			t.Fatal(err)
		}
		var st sdk.EncryptionStatus
		if err := json.Unmarshal(b.Bytes(), &st); err != nil || st.Reencryption == nil || st.Reencryption.State != sdk.ReencryptionJobDone {
			t.Fatalf("json watch prints only the final state: %v\n%s", err, b.String())
		}
	})

	t.Run("no job", func(t *testing.T) {
		var b bytes.Buffer
		st := &sdk.EncryptionStatus{Items: []sdk.EncryptionStatusRow{}}
		if err := watchStatus(context.Background(), statusWriter{out: &b, tty: true}, fakeFetch(st), time.Hour); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), "\r") || !strings.Contains(b.String(), "NAMESPACE") {
			t.Fatalf("no job: %q", b.String())
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var b syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- watchStatus(ctx, statusWriter{out: &b, tty: true}, fakeFetch(seq[1]), time.Hour)
		}()
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(b.String(), " 50%"); {
			if time.Now().After(deadline) {
				t.Fatal("no progress line")
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("interrupted watch: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("watch did not stop on cancellation")
		}
		if !strings.HasSuffix(b.String(), "\n") {
			t.Fatalf("the redrawn line is ended: %q", b.String())
		}
	})

	t.Run("fetch error", func(t *testing.T) {
		boom := errors.New("admin service answered 403 Forbidden: no")
		calls := 0
		fetch := func(context.Context) (*sdk.EncryptionStatus, error) {
			calls++
			if calls == 1 {
				return seq[1], nil
			}
			return nil, boom
		}
		var b bytes.Buffer
		if err := watchStatus(context.Background(), statusWriter{out: &b, tty: true}, fetch, time.Millisecond); !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
		if !strings.HasSuffix(b.String(), "\n") {
			t.Fatalf("the redrawn line is ended before the error: %q", b.String())
		}
	})
}

// TestEncryptionStatusCommand runs the command against a dev-mode server.
func TestEncryptionStatusCommand(t *testing.T) {
	dir := devEnv(t)
	vars, cancel, done := startDev(t)
	defer func() { cancel(); <-done }()
	ctx := context.Background()
	for _, k := range []string{"AUTHPROXY_ADMIN_URL", "AUTHPROXY_ACTOR", "AUTHPROXY_PRIVATE_KEY_FILE"} {
		t.Setenv(k, vars[k])
	}

	c, err := sdk.NewClientFromKeyFile(vars["AUTHPROXY_ADMIN_URL"], vars["AUTHPROXY_ACTOR"], vars["AUTHPROXY_PRIVATE_KEY_FILE"], sdk.AudienceAdmin)
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateKeyWithResponse(ctx, sdk.KeyCreate{Name: "cli-status", Namespace: "root", Source: sdk.KeySource{Kind: sdk.KeySourceGenerated}})
	if err != nil || k.JSON201 == nil {
		t.Fatalf("create key: %v %d %s", err, k.StatusCode(), k.Body)
	}

	out, stderr, err := run(t, ctx, "encryption", "status")
	if err != nil {
		t.Fatalf("encryption status: %v %s", err, stderr)
	}
	if !strings.Contains(out, "NAMESPACE") || !strings.Contains(out, "KEY VERSION") {
		t.Fatalf("no table header:\n%s", out)
	}
	if n := strings.Count(out, "encryption_key_versions.wrapped_material"); n < 1 {
		t.Fatalf("no key material rows:\n%s", out)
	}
	if strings.ContainsAny(out, "\r\x1b") {
		t.Fatalf("control characters in piped output: %q", out)
	}

	out, stderr, err = run(t, ctx, "encryption", "status", "--output", "json")
	if err != nil {
		t.Fatalf("encryption status -o json: %v %s", err, stderr)
	}
	var st sdk.EncryptionStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	found := false
	for _, r := range st.Items {
		if r.Table == "encryption_key_versions" && r.Column == "wrapped_material" && r.Count > 0 && r.KeyVersionId != "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("json has no key material row:\n%s", out)
	}

	// With no job running, --watch prints the state and exits.
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	out, stderr, err = run(t, wctx, "encryption", "status", "--watch", "--interval", "50ms")
	if err != nil || wctx.Err() != nil || !strings.Contains(out, "encryption_key_versions.wrapped_material") {
		t.Fatalf("watch: %v %v %s\n%s", err, wctx.Err(), stderr, out)
	}

	// A namespace filter is passed to the server.
	out, stderr, err = run(t, ctx, "encryption", "status", "--namespace", "root.nowhere")
	if err != nil || strings.Contains(out, "wrapped_material") {
		t.Fatalf("namespace filter: %v %s\n%s", err, stderr, out)
	}

	keyPEM, err := os.ReadFile(vars["AUTHPROXY_PRIVATE_KEY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	noSecrets := func(t *testing.T, msg string) {
		t.Helper()
		if strings.Contains(msg, "PRIVATE KEY") || strings.Contains(msg, strings.TrimSpace(string(keyPEM))) || strings.Contains(msg, "eyJ") {
			t.Fatalf("error message leaks a secret: %q", msg)
		}
		if strings.Contains(msg, "\n") {
			t.Fatalf("error is not one line: %q", msg)
		}
	}

	// Bad key file.
	bad := filepath.Join(dir, "bad_key")
	os.WriteFile(bad, []byte("not a key\n"), 0o600)
	_, _, err = run(t, ctx, "encryption", "status", "--private-key-file", bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "no PEM private key") {
		t.Fatalf("bad key file: %v", err)
	}
	noSecrets(t, err.Error())

	// Missing key file.
	_, _, err = run(t, ctx, "encryption", "status", "--private-key-file", filepath.Join(dir, "missing"))
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing key file: %v", err)
	}

	// Wrong actor: the server refuses the signature.
	_, _, err = run(t, ctx, "encryption", "status", "--actor", "root/nobody")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong actor: %v", err)
	}
	noSecrets(t, err.Error())

	// A key that is not the actor's.
	other := filepath.Join(dir, "other")
	if _, _, err := run(t, ctx, "keys", "generate", "--out", other); err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, ctx, "encryption", "status", "--private-key-file", other)
	if err == nil || !strings.Contains(err.Error(), "admin service answered 401") {
		t.Fatalf("wrong key: %v", err)
	}
	noSecrets(t, err.Error())

	// Unreachable server.
	_, _, err = run(t, ctx, "encryption", "status", "--admin-url", "http://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "cannot reach the admin service at http://127.0.0.1:1") {
		t.Fatalf("unreachable: %v", err)
	}
	noSecrets(t, err.Error())

	// Flag validation.
	if _, _, err := run(t, ctx, "encryption", "status", "--output", "yaml"); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Fatalf("bad output: %v", err)
	}
}

// fakeAdmin serves /api/v1/encryption/status from handler; the token is not checked.
func fakeAdmin(t *testing.T, handler http.HandlerFunc) (url, keyFile string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/encryption/status" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	t.Setenv("AUTHPROXY_SETTINGS_FILE", filepath.Join(dir, "none.yaml"))
	for _, v := range []string{"AUTHPROXY_ACTOR", "AUTHPROXY_PRIVATE_KEY_FILE", "AUTHPROXY_ADMIN_URL"} {
		t.Setenv(v, "")
	}
	keyFile = filepath.Join(dir, "key")
	priv, _, err := sdk.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL, keyFile
}

// TestEncryptionStatusWatchTerminal drives --watch through the SDK against a fake admin
// service with the terminal check injected.
func TestEncryptionStatusWatchTerminal(t *testing.T) {
	var (
		mu    sync.Mutex
		calls int
		ns    []string
	)
	url, keyFile := fakeAdmin(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		ns = append(ns, r.URL.Query().Get("namespace"))
		st := jobStatus(sdk.ReencryptionJobRunning, int64(calls*25), 100)
		if calls >= 4 {
			st = jobStatus(sdk.ReencryptionJobDone, 100, 100)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	})
	for _, tty := range []bool{true, false} {
		mu.Lock()
		calls, ns = 0, nil
		mu.Unlock()
		var checked io.Writer
		cmd := newEncryption(func(w io.Writer) bool { checked = w; return tty })
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(io.Discard)
		cmd.SetArgs([]string{"status", "--watch", "--interval", "10ms", "--namespace", "root.acme",
			"--admin-url", url, "--actor", "root/admin", "--private-key-file", keyFile})
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("tty=%v: %v", tty, err)
		}
		if checked != &out {
			t.Fatalf("the terminal check was given %T, not the command's output", checked)
		}
		got := out.String()
		if tty != strings.Contains(got, "\r") {
			t.Fatalf("tty=%v: carriage returns in %q", tty, got)
		}
		for _, want := range []string{" 25%", " 50%", " 75%", "re-encryption rej_1: done (key rotated)"} {
			if !strings.Contains(got, want) {
				t.Fatalf("tty=%v: missing %q in %q", tty, want, got)
			}
		}
		if ns[0] != "root.acme" {
			t.Fatalf("namespace parameter %q", ns[0])
		}
	}
}

func TestEncryptionStatusProblem(t *testing.T) {
	url, keyFile := fakeAdmin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"type":"about:blank","title":"Forbidden","status":403,"detail":"needs keys:get on \"root\""}`))
	})
	t.Setenv("AUTHPROXY_ADMIN_URL", url)
	t.Setenv("AUTHPROXY_ACTOR", "root/ci")
	t.Setenv("AUTHPROXY_PRIVATE_KEY_FILE", keyFile)
	_, _, err := run(t, context.Background(), "encryption", "status")
	if err == nil || err.Error() != `admin service answered 403 Forbidden: needs keys:get on "root"` {
		t.Fatalf("403: %v", err)
	}
}
