package encrypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestGenerateWrapUnwrap(t *testing.T) {
	ctx := context.Background()
	parent, err := GenerateKeyVersion(NewKeyVersionID())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(parent.ID, "kv_") || len(parent.Material) != KeySize {
		t.Fatalf("parent %q with %d bytes", parent.ID, len(parent.Material))
	}
	child, _ := GenerateKeyVersion(NewKeyVersionID())
	other, _ := GenerateKeyVersion("kv_other")
	if bytes.Equal(parent.Material, child.Material) || bytes.Equal(child.Material, make([]byte, KeySize)) {
		t.Fatal("generated material is not random")
	}

	wrapped, err := Wrap(parent, child)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(wrapped, string(child.Material)) {
		t.Fatal("wrapped form contains the material")
	}
	if id, _ := KeyIDOf(wrapped); id != parent.ID {
		t.Fatalf("wrapped under %q, want the parent %q", id, parent.ID)
	}
	keys := StaticKeys(parent, other)

	got, err := Unwrap(ctx, keys, child.ID, wrapped)
	if err != nil || got.ID != child.ID || !bytes.Equal(got.Material, child.Material) {
		t.Fatalf("Unwrap = %q, %v", got.ID, err)
	}

	// A wrapped key is bound to its id: it cannot be passed off as another.
	if _, err := Unwrap(ctx, keys, other.ID, wrapped); !errors.Is(err, ErrNotAuthentic) {
		t.Fatalf("Unwrap under another id: %v", err)
	}
	// ...and a regular value sealed with the parent is not a wrapped key.
	s := mustSeal(t, parent, string(child.Material), rowAAD)
	if _, err := Unwrap(ctx, keys, child.ID, s); !errors.Is(err, ErrNotAuthentic) {
		t.Fatalf("Unwrap of a column value: %v", err)
	}
	if _, err := Unwrap(ctx, StaticKeys(other), child.ID, wrapped); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Unwrap without the parent: %v", err)
	}
	// Material of the wrong size is refused even if it authenticates.
	short, _ := Seal(parent, child.Material[:16], WrappedKeyAAD(child.ID))
	if _, err := Unwrap(ctx, keys, child.ID, short); err == nil || !strings.Contains(err.Error(), "16 bytes") {
		t.Fatalf("Unwrap of 16 bytes: %v", err)
	}

	// The unwrapped key works.
	v := mustSeal(t, got, secret, rowAAD)
	if p, err := Open(ctx, StaticKeys(child), v, rowAAD); err != nil || string(p) != secret {
		t.Fatalf("Open with the unwrapped key: %v", err)
	}
}

func TestGenerateRejectsBadInput(t *testing.T) {
	if _, err := GenerateKeyVersion(""); err == nil {
		t.Fatal("GenerateKeyVersion accepted an empty id")
	}
	if _, err := GenerateKeyVersion("kv bad"); err == nil {
		t.Fatal("GenerateKeyVersion accepted an id with a space")
	}
	if _, err := Wrap(keyA, KeyVersion{ID: "kv_c", Material: make([]byte, 16)}); err == nil {
		t.Fatal("Wrap accepted a 16-byte child")
	}
	if _, err := Wrap(keyA, KeyVersion{ID: "", Material: make([]byte, KeySize)}); err == nil {
		t.Fatal("Wrap accepted an empty child id")
	}
	if _, err := Unwrap(context.Background(), StaticKeys(keyA), "", "x"); err == nil {
		t.Fatal("Unwrap accepted an empty child id")
	}
}

func TestKeyFormattingRedactsMaterial(t *testing.T) {
	kv := KeyVersion{ID: "kv_print", Material: []byte("PRINTABLE-KEY-MATERIAL-32-BYTES!")}
	m := Material{Key: kv.Material, Version: "v1"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		for _, v := range []any{kv, m, &kv, []KeyVersion{kv}} {
			out := fmt.Sprintf(format, v)
			if strings.Contains(out, "PRINTABLE") || strings.Contains(out, "80 82 73") {
				t.Fatalf("%s of %T prints the material: %s", format, v, out)
			}
		}
	}
	for _, v := range []any{kv, m, map[string]any{"k": &kv}} {
		out, err := json.Marshal(v)
		if err != nil || strings.Contains(string(out), base64.StdEncoding.EncodeToString(kv.Material)[:12]) || !strings.Contains(string(out), "redacted") {
			t.Fatalf("JSON of %T: %s, %v", v, out, err)
		}
	}
}
