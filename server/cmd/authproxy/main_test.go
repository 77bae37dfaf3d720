package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func run(t *testing.T, ctx context.Context, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRoot()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// devEnv isolates a dev-mode run: its own directory, loopback ports chosen by the kernel
// and no settings file.
func devEnv(t *testing.T) string {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, s := range []string{"PUBLIC", "API", "ADMIN", "WORKER"} {
		t.Setenv("AUTHPROXY_LISTEN_"+s, "127.0.0.1:0")
	}
	for _, v := range []string{"AUTHPROXY_CONFIG", "AUTHPROXY_ACTOR", "AUTHPROXY_PRIVATE_KEY_FILE", "AUTHPROXY_DATABASE_DRIVER", "AUTHPROXY_DATABASE_DSN", "AUTHPROXY_REDIS_ADDR"} {
		t.Setenv(v, "")
	}
	t.Setenv("AUTHPROXY_SETTINGS_FILE", filepath.Join(dir, "no-settings.yaml"))
	return dir
}

var exportRE = regexp.MustCompile(`export (AUTHPROXY_[A-Z_]+)=(\S+)`)

// startDev runs `authproxy serve` in dev mode and returns the banner's variables.
func startDev(t *testing.T) (map[string]string, context.CancelFunc, <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		cmd := newRoot()
		cmd.SetArgs([]string{"serve"})
		cmd.SetOut(out)
		cmd.SetErr(io.Discard)
		done <- cmd.ExecuteContext(ctx)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := exportRE.FindAllStringSubmatch(out.String(), -1); len(m) == 5 {
			vars := map[string]string{}
			for _, kv := range m {
				vars[kv[1]] = kv[2]
			}
			return vars, cancel, done
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("no banner within 30s:\n%s", out.String())
	return nil, nil, nil
}

func TestDevModeBannerTokenAndWhoami(t *testing.T) {
	dir := devEnv(t)
	vars, cancel, done := startDev(t)
	defer func() { cancel(); <-done }()

	keyFile := vars["AUTHPROXY_PRIVATE_KEY_FILE"]
	if want := filepath.Join(dir, ".authproxy", "admin_key"); !sameFile(keyFile, want) {
		t.Fatalf("key file %s, want %s", keyFile, want)
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin key mode: %v %v", fi, err)
	}
	if vars["AUTHPROXY_ACTOR"] != "root/admin" {
		t.Fatalf("actor %q", vars["AUTHPROXY_ACTOR"])
	}
	// The banner's variables are all the token command needs.
	t.Setenv("AUTHPROXY_ACTOR", vars["AUTHPROXY_ACTOR"])
	t.Setenv("AUTHPROXY_PRIVATE_KEY_FILE", keyFile)
	tok, stderr, err := run(t, context.Background(), "token", "--ttl", "2m")
	if err != nil {
		t.Fatalf("token: %v %s", err, stderr)
	}
	req, _ := http.NewRequest(http.MethodGet, vars["AUTHPROXY_ADMIN_URL"]+"/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"externalId":"admin"`) {
		t.Fatalf("whoami: %d %s", resp.StatusCode, body)
	}
	// The SDK works from the same variables.
	c, err := sdk.NewClientFromKeyFile(vars["AUTHPROXY_API_URL"], vars["AUTHPROXY_ACTOR"], keyFile, sdk.AudienceAPI)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.WhoamiWithResponse(context.Background())
	if err != nil || w.JSON200 == nil {
		t.Fatalf("sdk whoami on api: %v %s", err, w.Body)
	}
	// A token for the admin audience is refused by the api service.
	req, _ = http.NewRequest(http.MethodGet, vars["AUTHPROXY_API_URL"]+"/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("admin token on api service: %d, want 401", resp.StatusCode)
	}
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// TestGracefulShutdown cancels the server (what SIGTERM does) while a request is still
// sending its body; the request must complete successfully before serve returns.
func TestGracefulShutdown(t *testing.T) {
	devEnv(t)
	vars, cancel, done := startDev(t)
	defer cancel()
	signer, err := sdk.NewSignerFromFile(vars["AUTHPROXY_ACTOR"], vars["AUTHPROXY_PRIVATE_KEY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signer.Token(sdk.TokenOptions{Audience: []string{sdk.AudienceAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, vars["AUTHPROXY_ADMIN_URL"]+"/api/v1/namespaces", pr)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{status: resp.StatusCode, body: string(b)}
	}()
	if _, err := pw.Write([]byte(`{"path":"root.`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the request is now in flight
	cancel()                           // what SIGTERM does
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("serve returned with a request in flight: %v", err)
	default:
	}
	if _, err := pw.Write([]byte(`inflight"}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-res
	if r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("in-flight request: status %d err %v body %s", r.status, r.err, r.body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after the in-flight request finished")
	}
}

func TestKeysGenerateAndToken(t *testing.T) {
	dir := devEnv(t)
	out, stderr, err := run(t, context.Background(), "keys", "generate", "--out", filepath.Join(dir, "k"))
	if err != nil {
		t.Fatalf("keys generate: %v %s", err, stderr)
	}
	if !strings.HasPrefix(out, "ssh-ed25519 ") {
		t.Fatalf("public key line %q", out)
	}
	fi, err := os.Stat(filepath.Join(dir, "k"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", fi, err)
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "k.pub"))
	if strings.TrimSpace(string(pub)) != strings.TrimSpace(out) {
		t.Fatalf("k.pub %q differs from printed %q", pub, out)
	}
	if _, _, err := run(t, context.Background(), "keys", "generate", "--out", filepath.Join(dir, "k")); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("overwrite without --force: %v", err)
	}
	// Settings file as the last fallback.
	settings := filepath.Join(dir, "settings.yaml")
	if err := os.WriteFile(settings, []byte(fmt.Sprintf("actor: root/ci\nprivateKeyFile: %s\n", filepath.Join(dir, "k"))), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHPROXY_SETTINGS_FILE", settings)
	perms := filepath.Join(dir, "perms.yaml")
	os.WriteFile(perms, []byte("- namespace: root.a\n  resources: [namespaces]\n  verbs: [get]\n"), 0o600)
	tok, stderr, err := run(t, context.Background(), "token", "--audience", "api", "--permissions", perms, "--single-use")
	if err != nil {
		t.Fatalf("token: %v %s", err, stderr)
	}
	if strings.Count(strings.TrimSpace(tok), ".") != 2 {
		t.Fatalf("not a JWT: %q", tok)
	}
	os.WriteFile(perms, []byte("- namespace: root.a\n  resourcez: [namespaces]\n"), 0o600)
	if _, _, err := run(t, context.Background(), "token", "--permissions", perms); err == nil || !strings.Contains(err.Error(), "resourcez") {
		t.Fatalf("bad permissions file: %v", err)
	}
	t.Setenv("AUTHPROXY_SETTINGS_FILE", filepath.Join(dir, "none.yaml"))
	if _, _, err := run(t, context.Background(), "token"); err == nil || !strings.Contains(err.Error(), "AUTHPROXY_ACTOR") {
		t.Fatalf("no actor: %v", err)
	}
}

func TestServeRejectsUnknownService(t *testing.T) {
	devEnv(t)
	if _, _, err := run(t, context.Background(), "serve", "gateway"); err == nil || !strings.Contains(err.Error(), `unknown service "gateway"`) {
		t.Fatalf("got %v", err)
	}
}

func TestMigrateDevDatabase(t *testing.T) {
	devEnv(t)
	out, _, err := run(t, context.Background(), "migrate")
	// Every migration applies, in order, starting at 1; new ones only lengthen the list.
	if err != nil || !regexp.MustCompile(`applied migrations \[1 2( \d+)*\]`).MatchString(out) {
		t.Fatalf("first migrate: %v %q", err, out)
	}
	out, _, err = run(t, context.Background(), "migrate")
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: %v %q", err, out)
	}
	out, _, _ = run(t, context.Background(), "version")
	if !strings.HasPrefix(out, "authproxy ") {
		t.Fatalf("version: %q", out)
	}
}
