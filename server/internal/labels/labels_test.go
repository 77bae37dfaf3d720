package labels

import (
	"reflect"
	"strings"
	"testing"
)

const (
	msgName   = "name must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric"
	msgValue  = "must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric"
	msgPrefix = "prefix must be a DNS subdomain: lowercase alphanumerics, '-' or '.', " +
		"with each dot-separated part starting and ending with an alphanumeric"
)

func TestValidateLabelKeys(t *testing.T) {
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	tests := []struct {
		key  string
		want string // expected message, "" if valid
	}{
		{"a", ""},
		{"app", ""},
		{"App_Name-1.x", ""},
		{"9", ""},
		{long("a", 63), ""},
		{"example.com/app", ""},
		{"a-b.c-d.example/x", ""},
		{"k8s.io/Name", ""},
		{long("a", 253) + "/x", ""},
		{"Foo Bar", `label key "Foo Bar": ` + msgName},
		{"", `label key "": name must not be empty`},
		{"-a", `label key "-a": ` + msgName},
		{"a-", `label key "a-": ` + msgName},
		{"_a", `label key "_a": ` + msgName},
		{"a.", `label key "a.": ` + msgName},
		{"é", `label key "é": ` + msgName},
		{"a=b", `label key "a=b": ` + msgName},
		{long("a", 64), `label key "` + long("a", 64) + `": name must be no more than 63 characters (got 64)`},
		{"example.com/", `label key "example.com/": name must not be empty`},
		{"/a", `label key "/a": prefix must not be empty when "/" is present`},
		{"a/b/c", `label key "a/b/c": key must contain at most one "/", separating prefix and name`},
		{"Example.com/a", `label key "Example.com/a": ` + msgPrefix},
		{"exa_mple.com/a", `label key "exa_mple.com/a": ` + msgPrefix},
		{"-example.com/a", `label key "-example.com/a": ` + msgPrefix},
		{"example-.com/a", `label key "example-.com/a": ` + msgPrefix},
		{"example..com/a", `label key "example..com/a": ` + msgPrefix},
		{".example.com/a", `label key ".example.com/a": ` + msgPrefix},
		{"example.com./a", `label key "example.com./a": ` + msgPrefix},
		{long("a", 254) + "/x", `label key ` + show(long("a", 254)+"/x") + `: prefix must be no more than 253 characters (got 254)`},
	}
	for _, tt := range tests {
		got := ValidateLabels(map[string]string{tt.key: "v"})
		var want []Violation
		if tt.want != "" {
			want = []Violation{{tt.key, tt.want}}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ValidateLabels(%q: v)\n got %q\nwant %q", tt.key, got, want)
		}
	}
}

func TestValidateLabelValues(t *testing.T) {
	tests := []struct {
		value string
		want  string
	}{
		{"", ""},
		{"v", ""},
		{"V1.2_3-x", ""},
		{strings.Repeat("z", 63), ""},
		{"a b", `label "k": value "a b" ` + msgValue},
		{"-a", `label "k": value "-a" ` + msgValue},
		{"a.", `label "k": value "a." ` + msgValue},
		{"a/b", `label "k": value "a/b" ` + msgValue},
		{"ü", `label "k": value "ü" ` + msgValue},
		{strings.Repeat("z", 64), `label "k": value "` + strings.Repeat("z", 64) + `" must be no more than 63 characters (got 64)`},
	}
	for _, tt := range tests {
		got := ValidateLabels(map[string]string{"k": tt.value})
		var want []Violation
		if tt.want != "" {
			want = []Violation{{"k", tt.want}}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ValidateLabels(k: %q)\n got %q\nwant %q", tt.value, got, want)
		}
	}
}

func TestValidateLabelsSortedAndComplete(t *testing.T) {
	m := map[string]string{"z z": "ok", "b": "bad value", "a": "fine", "c c": "-"}
	want := []Violation{
		{"b", `label "b": value "bad value" ` + msgValue},
		{"c c", `label key "c c": ` + msgName},
		{"c c", `label "c c": value "-" ` + msgValue},
		{"z z", `label key "z z": ` + msgName},
	}
	for range 10 { // map order varies between runs
		if got := ValidateLabels(m); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %q\nwant %q", got, want)
		}
	}
	if got := ValidateLabels(nil); got != nil {
		t.Errorf("ValidateLabels(nil) = %q", got)
	}
}

func TestShowTruncatesLongStrings(t *testing.T) {
	s := strings.Repeat("é", 100) // 200 bytes
	got := show(s)
	if !strings.HasSuffix(got, `"... (200 bytes)`) || len(got) > 100 || strings.Contains(got, `\x`) {
		t.Errorf("show(200 bytes) = %s", got)
	}
}

func TestValidateAnnotations(t *testing.T) {
	big := strings.Repeat("x", maxAnnotationsSize-1)
	tests := []struct {
		name string
		m    map[string]string
		want []Violation
	}{
		{"nil", nil, nil},
		{"free-form values", map[string]string{"example.com/desc": "Any text, even = and (parens)!\n", "a": ""}, nil},
		{"exactly the limit", map[string]string{"a": big}, nil},
		{"bad keys", map[string]string{"b b": "x", "a/": "y", "ok": "z"}, []Violation{
			{"a/", `annotation key "a/": name must not be empty`},
			{"b b", `annotation key "b b": ` + msgName},
		}},
		{"over the limit", map[string]string{"a": big, "b": "", "C C": "1"}, []Violation{
			{"", "annotations are 262149 bytes in total (keys plus values); the limit is 262144 bytes (256 KiB)"},
			{"C C", `annotation key "C C": ` + msgName},
		}},
	}
	for _, tt := range tests {
		if got := ValidateAnnotations(tt.m); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
