package encrypt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

const (
	fakeAccessKey = "AKIDAUTHPROXYTEST"
	fakeSecretKey = "fake-secret-access-key"
)

// fakeSecretsManager speaks the part of the Secrets Manager JSON 1.1 protocol
// the source uses: POST / with X-Amz-Target: secretsmanager.GetSecretValue,
// selecting a version by VersionId and/or VersionStage (AWSCURRENT when
// neither is given). It checks every request's SigV4 signature against the
// fake credentials.
type fakeSecretsManager struct {
	t  *testing.T
	mu sync.Mutex
	// secrets by name, each with all its versions.
	secrets  map[string][]*fakeSecretVersion
	requests []fakeRequest
}

type fakeSecretVersion struct {
	id     string
	str    *string
	binary []byte
	stages []string // staging labels; put manages AWSCURRENT and AWSPREVIOUS
}

type fakeRequest struct {
	Target, Region             string
	SecretID, Stage, VersionID string
	SignatureChecked           bool
}

func newFakeSecretsManager(t *testing.T) (*fakeSecretsManager, *httptest.Server) {
	f := &fakeSecretsManager{t: t, secrets: map[string][]*fakeSecretVersion{}}
	srv := httptest.NewServer(f) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return f, srv
}

// put adds v as the secret's AWSCURRENT version, as PutSecretValue does:
// the old AWSCURRENT version becomes AWSPREVIOUS, and the old AWSPREVIOUS
// version loses that label. Labels already in v.stages are kept.
func (f *fakeSecretsManager) put(name string, v fakeSecretVersion) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, old := range f.secrets[name] {
		old.stages = slices.DeleteFunc(old.stages, func(s string) bool { return s == "AWSPREVIOUS" })
		if i := slices.Index(old.stages, "AWSCURRENT"); i >= 0 {
			old.stages[i] = "AWSPREVIOUS"
		}
	}
	v.stages = append(slices.Clone(v.stages), "AWSCURRENT")
	f.secrets[name] = append(f.secrets[name], &v)
}

// find returns the version with this id and/or label; both, when given,
// must name the same version. Without either it is the AWSCURRENT version.
func (f *fakeSecretsManager) find(name, id, stage string) (fakeSecretVersion, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" && stage == "" {
		stage = "AWSCURRENT"
	}
	for _, v := range f.secrets[name] {
		if (id == "" || v.id == id) && (stage == "" || slices.Contains(v.stages, stage)) {
			c := *v
			c.stages = slices.Clone(v.stages)
			return c, true
		}
	}
	return fakeSecretVersion{}, false
}

func (f *fakeSecretsManager) lastRequest() fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		f.t.Fatal("no request reached the fake server")
	}
	return f.requests[len(f.requests)-1]
}

func (f *fakeSecretsManager) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func (f *fakeSecretsManager) fail(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func (f *fakeSecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Amzn-RequestId", "00000000-0000-4000-8000-000000000001")
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		f.fail(w, 404, "UnknownOperationException", "not found")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		f.fail(w, 400, "SerializationException", "content type "+ct)
		return
	}
	req := fakeRequest{Target: r.Header.Get("X-Amz-Target")}
	region, err := verifySigV4(r, body)
	if err != nil {
		f.fail(w, 403, "InvalidSignatureException", err.Error())
		return
	}
	req.Region, req.SignatureChecked = region, true

	var in struct {
		SecretID     string `json:"SecretId"`
		VersionID    string `json:"VersionId"`
		VersionStage string `json:"VersionStage"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		f.fail(w, 400, "SerializationException", err.Error())
		return
	}
	req.SecretID, req.Stage, req.VersionID = in.SecretID, in.VersionStage, in.VersionID
	f.mu.Lock()
	f.requests = append(f.requests, req)
	_, exists := f.secrets[in.SecretID]
	f.mu.Unlock()

	if req.Target != "secretsmanager.GetSecretValue" {
		f.fail(w, 400, "UnknownOperationException", "unsupported operation "+req.Target)
		return
	}
	if !exists {
		f.fail(w, 400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	v, ok := f.find(in.SecretID, in.VersionID, in.VersionStage)
	if !ok {
		what := "staging label: " + in.VersionStage
		if in.VersionID != "" {
			what = "VersionId: " + in.VersionID
		}
		f.fail(w, 400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for "+what)
		return
	}
	out := map[string]any{
		"ARN":           "arn:aws:secretsmanager:" + region + ":123456789012:secret:" + in.SecretID + "-AbCdEf",
		"Name":          in.SecretID,
		"VersionId":     v.id,
		"VersionStages": v.stages,
		"CreatedDate":   1.7e9,
	}
	if v.str != nil {
		out["SecretString"] = *v.str
	}
	if v.binary != nil {
		out["SecretBinary"] = v.binary // []byte marshals as base64, as the protocol wants
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}

// verifySigV4 recomputes the request's SigV4 signature with the fake
// credentials over the headers it claims to sign and returns the region of
// its credential scope.
func verifySigV4(r *http.Request, body []byte) (region string, err error) {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return "", fmt.Errorf("request is not SigV4-signed (Authorization %q)", auth)
	}
	var cred, signed string
	for _, part := range strings.Split(strings.TrimPrefix(auth, algo), ", ") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		}
	}
	scope := strings.Split(cred, "/") // key/date/region/service/aws4_request
	if len(scope) != 5 || scope[0] != fakeAccessKey || scope[3] != "secretsmanager" {
		return "", fmt.Errorf("unexpected credential scope %q", cred)
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "", fmt.Errorf("bad X-Amz-Date: %v", err)
	}
	sum := sha256.Sum256(body)
	re, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	re.ContentLength = int64(len(body))
	for _, h := range strings.Split(signed, ";") {
		if h != "host" && h != "content-length" {
			re.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	re.Header.Del("Authorization")
	creds := aws.Credentials{AccessKeyID: fakeAccessKey, SecretAccessKey: fakeSecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, re, hex.EncodeToString(sum[:]), "secretsmanager", scope[2], when); err != nil {
		return "", err
	}
	if got := re.Header.Get("Authorization"); got != auth {
		return "", fmt.Errorf("signature mismatch:\n got  %s\n want %s", auth, got)
	}
	return scope[2], nil
}

func testSMClient(srv *httptest.Server, region string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(fakeAccessKey, fakeSecretKey, ""),
		BaseEndpoint:     aws.String(srv.URL),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
	})
}

func TestAWSSecretsManagerSource(t *testing.T) {
	ctx := context.Background()
	fake, srv := newFakeSecretsManager(t)
	client := testSMClient(srv, "eu-central-1")
	key2 := bytes.Repeat([]byte{0x5A}, KeySize)

	fake.put("authproxy/root", fakeSecretVersion{id: "v-1", str: ptr(sourceKeyB64)})
	fake.put("authproxy/bin", fakeSecretVersion{id: "b-1", binary: sourceKey})
	fake.put("authproxy/kv", fakeSecretVersion{id: "j-1", str: ptr(`{"key":"` + sourceKeyHex + `","other":"x"}`)})
	fake.put("authproxy/short", fakeSecretVersion{id: "s-1", str: ptr(base64.StdEncoding.EncodeToString(sourceKey[:16]))})
	fake.put("authproxy/badbin", fakeSecretVersion{id: "bb-1", binary: sourceKey[:31]})

	t.Run("SecretString", func(t *testing.T) {
		src := &AWSSecretsManagerSource{SecretID: "authproxy/root", Client: client}
		m, err := src.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Key, sourceKey) || m.Version != "v-1" {
			t.Fatalf("Load = %d bytes, version %q", len(m.Key), m.Version)
		}
		req := fake.lastRequest()
		if req.Target != "secretsmanager.GetSecretValue" || req.SecretID != "authproxy/root" || req.Stage != "" ||
			!req.SignatureChecked || req.Region != "eu-central-1" {
			t.Fatalf("request %+v", req)
		}

		// Rotation: a new AWSCURRENT shows up as a new Version.
		fake.put("authproxy/root", fakeSecretVersion{id: "v-2", str: ptr(hex.EncodeToString(key2))})
		m2, err := src.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m2.Version != "v-2" || !bytes.Equal(m2.Key, key2) {
			t.Fatalf("after rotation: version %q (was %q), new key: %v", m2.Version, m.Version, bytes.Equal(m2.Key, key2))
		}

		prev, err := (&AWSSecretsManagerSource{SecretID: "authproxy/root", VersionStage: "AWSPREVIOUS", Client: client}).Load(ctx)
		if err != nil || prev.Version != "v-1" || !bytes.Equal(prev.Key, sourceKey) {
			t.Fatalf("AWSPREVIOUS = %q, %v", prev.Version, err)
		}
		if req := fake.lastRequest(); req.Stage != "AWSPREVIOUS" {
			t.Fatalf("VersionStage not sent: %+v", req)
		}
	})

	t.Run("the fake checks signatures", func(t *testing.T) {
		bad := secretsmanager.New(secretsmanager.Options{
			Region:           "eu-central-1",
			Credentials:      credentials.NewStaticCredentialsProvider(fakeAccessKey, "not-the-secret-key", ""),
			BaseEndpoint:     aws.String(srv.URL),
			RetryMaxAttempts: 1,
		})
		_, err := (&AWSSecretsManagerSource{SecretID: "authproxy/root", Client: bad}).Load(ctx)
		if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
			t.Fatalf("err = %v, want the fake to refuse a bad signature", err)
		}
	})

	t.Run("SecretBinary", func(t *testing.T) {
		m, err := (&AWSSecretsManagerSource{SecretID: "authproxy/bin", Client: client}).Load(ctx)
		if err != nil || !bytes.Equal(m.Key, sourceKey) || m.Version != "b-1" {
			t.Fatalf("Load = %q, %v", m.Version, err)
		}
	})

	t.Run("json_key", func(t *testing.T) {
		m, err := (&AWSSecretsManagerSource{SecretID: "authproxy/kv", JSONKey: "key", Client: client}).Load(ctx)
		if err != nil || !bytes.Equal(m.Key, sourceKey) {
			t.Fatalf("Load: %v", err)
		}
		_, err = (&AWSSecretsManagerSource{SecretID: "authproxy/kv", JSONKey: "nope", Client: client}).Load(ctx)
		if err == nil || !strings.Contains(err.Error(), `no string member "nope"`) {
			t.Fatalf("err = %v", err)
		}
		assertNoLeak(t, err)
		_, err = (&AWSSecretsManagerSource{SecretID: "authproxy/root", JSONKey: "key", Client: client}).Load(ctx)
		if err == nil || !strings.Contains(err.Error(), "not a JSON object") {
			t.Fatalf("err = %v", err)
		}
	})

	for _, tc := range []struct {
		name, secret, want string
		check              func(error) bool
	}{
		{"unknown secret", "authproxy/missing", "ResourceNotFoundException", func(err error) bool {
			var nf *types.ResourceNotFoundException
			return errors.As(err, &nf)
		}},
		{"short key", "authproxy/short", "decodes to 16 bytes", nil},
		{"short binary", "authproxy/badbin", "SecretBinary is not 32 raw bytes", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := (&AWSSecretsManagerSource{SecretID: tc.secret, Client: client}).Load(ctx)
			if err == nil || m.Key != nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.secret) {
				t.Fatalf("err = %v; want it to contain %q and the secret id", err, tc.want)
			}
			if tc.check != nil && !tc.check(err) {
				t.Fatalf("error type: %#v", err)
			}
			assertNoLeak(t, err)
			t.Logf("error reads: %v", err)
		})
	}
}

func TestAWSSecretsManagerSourcePrevious(t *testing.T) {
	ctx := context.Background()
	fake, srv := newFakeSecretsManager(t)
	client := testSMClient(srv, "eu-central-1")
	short := base64.StdEncoding.EncodeToString(sourceKey[:16])

	fake.put("one", fakeSecretVersion{id: "o-1", str: ptr(sourceKeyB64)})
	fake.put("two", fakeSecretVersion{id: "t-1", str: ptr(sourceKeyHex)})
	fake.put("two", fakeSecretVersion{id: "t-2", str: ptr(hex.EncodeToString(rotatedKey))})
	fake.put("three", fakeSecretVersion{id: "r-1", binary: bytes.Repeat([]byte{1}, KeySize)})
	fake.put("three", fakeSecretVersion{id: "r-2", binary: sourceKey, stages: []string{"blue"}})
	fake.put("three", fakeSecretVersion{id: "r-3", str: ptr(sourceKeyB64)})
	fake.put("badprev", fakeSecretVersion{id: "bp-1", str: ptr(short)})
	fake.put("badprev", fakeSecretVersion{id: "bp-2", str: ptr(sourceKeyB64)})

	for _, tc := range []struct {
		name, secret, stage string
		wantOK              bool
		wantVersion         string
		wantErr             string
		noRequest           bool
	}{
		{"two versions", "two", "", true, "t-1", "", false},
		{"AWSCURRENT is the default", "two", "AWSCURRENT", true, "t-1", "", false},
		{"label moved on rotation", "three", "", true, "r-2", "", false},
		{"one version", "one", "", false, "", "", false},
		{"unknown secret", "missing", "", false, "", "", false},
		{"explicit stage has no previous", "three", "blue", false, "", "", true},
		{"explicit AWSPREVIOUS has no previous", "two", "AWSPREVIOUS", false, "", "", true},
		{"malformed previous", "badprev", "", false, "", `"badprev" stage AWSPREVIOUS version "bp-1": SecretString decodes to 16 bytes`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := fake.requestCount()
			src := &AWSSecretsManagerSource{SecretID: tc.secret, VersionStage: tc.stage, Client: client}
			m, ok, err := src.LoadPrevious(ctx)
			if tc.wantOK {
				if err != nil || !ok || !bytes.Equal(m.Key, sourceKey) || m.Version != tc.wantVersion {
					t.Fatalf("LoadPrevious = version %q, ok %v, %v; want %q", m.Version, ok, err, tc.wantVersion)
				}
			} else {
				checkLoadPrevious(t, m, ok, err, false, tc.wantErr)
			}
			if err != nil {
				assertNoLeak(t, err, short)
				t.Logf("error reads: %v", err)
			}
			if sent := fake.requestCount() > before; sent == tc.noRequest {
				t.Fatalf("request sent: %v", sent)
			}
			if !tc.noRequest {
				if req := fake.lastRequest(); req.Stage != "AWSPREVIOUS" || req.SecretID != tc.secret || !req.SignatureChecked {
					t.Fatalf("request %+v", req)
				}
			}
		})
	}

	t.Run("the fake selects versions like AWS", func(t *testing.T) {
		for _, tc := range []struct {
			id, stage, want string
		}{
			{"", "", "r-3"},
			{"", "AWSPREVIOUS", "r-2"},
			{"", "blue", "r-2"},
			{"r-1", "", "r-1"},
			{"r-2", "AWSPREVIOUS", "r-2"},
			{"r-1", "AWSCURRENT", ""}, // both must name the same version
			{"r-9", "", ""},
			{"", "AWSPENDING", ""},
		} {
			in := &secretsmanager.GetSecretValueInput{SecretId: aws.String("three")}
			if tc.id != "" {
				in.VersionId = aws.String(tc.id)
			}
			if tc.stage != "" {
				in.VersionStage = aws.String(tc.stage)
			}
			out, err := client.GetSecretValue(ctx, in)
			var nf *types.ResourceNotFoundException
			if tc.want == "" {
				if !errors.As(err, &nf) {
					t.Fatalf("%+v: err = %v, want ResourceNotFoundException", tc, err)
				}
				continue
			}
			if err != nil || aws.ToString(out.VersionId) != tc.want {
				t.Fatalf("%+v: got %v, %v", tc, out, err)
			}
			if tc.stage != "" && !slices.Contains(out.VersionStages, tc.stage) {
				t.Fatalf("%+v: stages %v", tc, out.VersionStages)
			}
		}
	})
}

func TestAWSSecretsManagerLoadVersionRotation(t *testing.T) {
	fake, srv := newFakeSecretsManager(t)
	fake.put("authproxy/root", fakeSecretVersion{id: "v-1", str: ptr(sourceKeyB64)})
	src, err := ParseSourceConfig("aws_secrets_manager", map[string]string{"secret_id": "authproxy/root"})
	if err != nil {
		t.Fatal(err)
	}
	src.(*AWSSecretsManagerSource).Client = testSMClient(srv, "eu-central-1")
	checkRotation(t, src, "v-3", func() {
		fake.put("authproxy/root", fakeSecretVersion{id: "v-2", binary: rotatedKey})
	})
}

// TestAWSSecretsManagerSourceBuildsClient covers the configuration path the
// server uses: no Client, region and endpoint from config, credentials from
// the default chain (here the environment).
func TestAWSSecretsManagerSourceBuildsClient(t *testing.T) {
	fake, srv := newFakeSecretsManager(t)
	fake.put("authproxy/root", fakeSecretVersion{id: "v-9", str: ptr(sourceKeyB64)})

	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", fakeAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", fakeSecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "us-west-2") // overridden by Region
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "")

	src, err := ParseSourceConfig("aws_secrets_manager", map[string]string{
		"secret_id": "authproxy/root", "region": "ap-southeast-2", "endpoint": srv.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 { // concurrent first loads share one lazily built client
		wg.Go(func() {
			m, err := src.Load(context.Background())
			if err != nil {
				t.Error(err)
			} else if !bytes.Equal(m.Key, sourceKey) || m.Version != "v-9" {
				t.Errorf("Load = version %q", m.Version)
			}
		})
	}
	wg.Wait()
	if req := fake.lastRequest(); req.Region != "ap-southeast-2" || !req.SignatureChecked {
		t.Fatalf("request %+v", req)
	}
}

// TestAWSSecretsManagerLive reads a real secret. It runs only with AWS
// credentials in the environment and AUTHPROXY_TEST_AWS_SECRET_ID naming a
// secret holding a 32-byte key (base64 or hex SecretString, or SecretBinary);
// AUTHPROXY_TEST_AWS_JSON_KEY selects a member of a JSON SecretString.
func TestAWSSecretsManagerLive(t *testing.T) {
	secretID := os.Getenv("AUTHPROXY_TEST_AWS_SECRET_ID")
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" || secretID == "" {
		t.Skip("set AWS_ACCESS_KEY_ID (and the rest of the AWS credentials) and AUTHPROXY_TEST_AWS_SECRET_ID to run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src := &AWSSecretsManagerSource{SecretID: secretID, JSONKey: os.Getenv("AUTHPROXY_TEST_AWS_JSON_KEY")}
	m, err := src.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Key) != KeySize || m.Version == "" {
		t.Fatalf("Load = %d bytes, version %q", len(m.Key), m.Version)
	}
	again, err := src.Load(ctx)
	if err != nil || again.Version != m.Version || !bytes.Equal(again.Key, m.Key) {
		t.Fatalf("second Load differs: version %q vs %q, %v", again.Version, m.Version, err)
	}
	t.Logf("loaded secret %q version %q (fingerprint %s)", secretID, m.Version, Fingerprint(m.Key))
}
