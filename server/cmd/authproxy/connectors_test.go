package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConnectorsValidate(t *testing.T) {
	examples, err := filepath.Glob("../../../examples/connectors/*")
	if err != nil || len(examples) < 6 {
		t.Fatalf("examples %v %v", examples, err)
	}
	out, errOut, err := run(t, context.Background(), append([]string{"connectors", "validate"}, examples...)...)
	if err != nil || errOut != "" {
		t.Fatalf("examples invalid: %v\n%s", err, errOut)
	}
	if n := strings.Count(out, ": ok ("); n != len(examples) {
		t.Fatalf("%d ok lines for %d files:\n%s", n, len(examples), out)
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("display:\n  name: X\nauth:\n  type: api_key\n  apiKey: {placement: header}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := examples[0]
	out, errOut, err = run(t, context.Background(), "connectors", "validate", good, bad, filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, errInvalid) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{
		bad + ":5: auth.apiKey.headerName: is required for placement header",
		bad + ":1: upstream.allowedUrls: is required when credentials are injected",
		"missing.yaml: open ",
		"2 of 3 file(s) invalid",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, good+": ok") {
		t.Errorf("good file not reported ok:\n%s", out)
	}
	if _, _, err := run(t, context.Background(), "connectors", "validate"); err == nil {
		t.Fatal("no files accepted")
	}
}
