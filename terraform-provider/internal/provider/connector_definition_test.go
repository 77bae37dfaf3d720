package provider

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/testserver"
)

// exampleDefinitions reads examples/connectors/* of the repository: name -> text.
func exampleDefinitions(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../../../examples/connectors/*")
	if err != nil || len(files) < 6 {
		t.Fatalf("example definitions: %v %v", files, err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}

// TestDefinitionHashMatchesServer creates a version of every example definition on a real
// server and compares its definitionHash (and normalised definition) with the provider's.
func TestDefinitionHashMatchesServer(t *testing.T) {
	api := accServerOrStart(t)
	ctx := context.Background()
	ns := "root." + uniqueSegment("defhash")
	nsCreate(t, api, ns)
	for name, src := range exampleDefinitions(t) {
		c, err := api.CreateConnectorWithResponse(ctx, sdk.ConnectorCreate{Namespace: ns, Name: strings.TrimSuffix(strings.TrimSuffix(name, ".yaml"), ".json")})
		if err != nil || c.JSON201 == nil {
			t.Fatalf("%s: create connector: %v %s", name, err, c.Body)
		}
		body := sdk.ConnectorVersionCreate{Definition: src}
		if definitionTakesClientSecret(src) {
			s := "not-a-real-secret"
			body.ClientSecret = &s
		}
		v, err := api.CreateConnectorVersionWithResponse(ctx, c.JSON201.Id, body)
		if err != nil || v.JSON201 == nil {
			t.Fatalf("%s: create version: %v %s", name, err, v.Body)
		}
		want, err := definitionHash(src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v.JSON201.DefinitionHash != want {
			t.Errorf("%s: server hash %s, provider %s", name, v.JSON201.DefinitionHash, want)
		}
		back, err := definitionFromBody(v.Body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if h, _ := definitionHash(back); h != want {
			t.Errorf("%s: the server's normalised definition hashes to %s, want %s", name, h, want)
		}
		if !definitionsEquivalent(src, back) {
			t.Errorf("%s: source and the server's JSON are not equivalent", name)
		}
	}
}

// accServerOrStart is an SDK client of the acceptance server, or of a server of the test's
// own when acceptance tests are off.
func accServerOrStart(t *testing.T) *sdk.ClientWithResponses {
	t.Helper()
	if accServer != nil {
		return accServer.AdminClient(t)
	}
	return testserver.Start(t, testserver.Options{}).AdminClient(t)
}

func TestNormalizeDefinition(t *testing.T) {
	yamlSrc := `# comment
upstream:
  timeout: 5s
  allowedUrls: ["https://a.example/?x=1&y=<2>"]
auth: {type: none}
n: 0x10
f: 1.50
big: 12345678901234
b: yes
t: 2024-01-02
"1": one
nul: ~
`
	got, err := normalizeDefinition(yamlSrc)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"1":"one","auth":{"type":"none"},"b":"yes","big":12345678901234,"f":1.5,"n":16,"nul":null,"t":"2024-01-02","upstream":{"allowedUrls":["https://a.example/?x=1&y=<2>"],"timeout":"5s"}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// JSON text (as jsonencode writes it, HTML characters escaped) is the same definition.
	jsonSrc := `{"upstream":{"timeout":"5s","allowedUrls":["https://a.example/?x=1\u0026y=\u003c2\u003e"]},"auth":{"type":"none"},` +
		`"n":16,"f":1.5,"big":12345678901234,"b":"yes","t":"2024-01-02","1":"one","nul":null}`
	if !definitionsEquivalent(yamlSrc, jsonSrc) {
		t.Error("YAML and JSON of the same definition differ")
	}
	if definitionsEquivalent(yamlSrc, strings.Replace(yamlSrc, "5s", "6s", 1)) {
		t.Error("different definitions are equivalent")
	}
	for _, bad := range []string{"", "a: 1\n---\nb: 2\n", "- 1\n", "a: &x 1\nb: *x\n", "a: .inf\n", "a: [\n", "a: 1\na: 2\n"} {
		if _, err := normalizeDefinition(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if definitionsEquivalent("a: [", "a: [ ") {
		t.Error("unparsable texts that differ are equivalent")
	}
}

func TestDefinitionTakesClientSecret(t *testing.T) {
	defs := exampleDefinitions(t)
	for name, want := range map[string]bool{"github.yaml": true, "slack.yaml": true, "stripe.yaml": false, "open-meteo.json": false} {
		if got := definitionTakesClientSecret(defs[name]); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
}

func TestDefinitionSemanticEquality(t *testing.T) {
	ctx := context.Background()
	a := newDefinitionValue("auth:\n  type: none\n")
	b := newDefinitionValue(`{"auth": {"type": "none"}}`)
	c := newDefinitionValue(`{"auth": {"type": "api_key"}}`)
	if eq, _ := a.StringSemanticEquals(ctx, b); !eq {
		t.Error("YAML and JSON differ")
	}
	if eq, _ := a.StringSemanticEquals(ctx, c); eq {
		t.Error("different definitions are equal")
	}
	if a.Equal(b) {
		t.Error("Equal must stay exact")
	}

	// The plan modifier keeps the prior text for a reformatted definition only.
	m := sameDefinitionKeepsState()
	for _, tc := range []struct {
		state, plan types.String
		want        string
	}{
		{types.StringValue("auth: {type: none}"), types.StringValue("auth:\n  type: none\n"), "auth: {type: none}"},
		{types.StringValue("auth: {type: none}"), types.StringValue("auth: {type: api_key}"), "auth: {type: api_key}"},
		{types.StringNull(), types.StringValue("auth: {type: none}"), "auth: {type: none}"},
	} {
		resp := &planmodifier.StringResponse{PlanValue: tc.plan}
		m.PlanModifyString(ctx, planmodifier.StringRequest{StateValue: tc.state, PlanValue: tc.plan}, resp)
		if resp.PlanValue.ValueString() != tc.want {
			t.Errorf("state %s plan %s: planned %s, want %s", tc.state, tc.plan, resp.PlanValue, tc.want)
		}
	}
}

func TestDefinitionErrorText(t *testing.T) {
	line := 12
	for _, tc := range []struct {
		in   sdk.DefinitionError
		want string
	}{
		{sdk.DefinitionError{Field: "auth.oauth2.tokenUrl", Line: &line, Message: "is required"}, "auth.oauth2.tokenUrl (line 12): is required"},
		{sdk.DefinitionError{Message: "definition is empty."}, "the definition: definition is empty"},
	} {
		if got := definitionErrorText(tc.in); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestCvProblem(t *testing.T) {
	errs := []sdk.FieldError{{Field: "definition.auth.type", Message: "line 3: is required"}, {Field: "clientSecret", Message: "is required"}}
	p := cvProblem(&sdk.Problem{Title: "invalid", Errors: &errs})
	got := *p.Errors
	if got[0].Message != "auth.type: line 3: is required" || got[1].Message != "is required" {
		t.Errorf("%+v", got)
	}
	if errs[0].Message != "line 3: is required" {
		t.Error("the original problem was changed")
	}
	for field, want := range map[string]string{"clientSecret": "client_secret_wo", "definition.auth.type": "definition", "definition": "definition"} {
		if at, ok := cvFieldMapper(field); !ok || at.String() != want {
			t.Errorf("%s: %v %v", field, at, ok)
		}
	}
}
