package blob

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	isolateAWSEnv(t)
	dir := filepath.Join(t.TempDir(), "blobs")
	st, err := Open(Config{Dir: dir})
	if err != nil || st != (Local{Dir: dir}) {
		t.Errorf("Open(dir only) = %#v, %v; want Local{%q}", st, err, dir)
	}
	st, err = Open(Config{Driver: "local", Dir: dir})
	if err != nil || st != (Local{Dir: dir}) {
		t.Errorf("Open(local) = %#v, %v; want Local{%q}", st, err, dir)
	}
	st, err = Open(Config{Driver: "s3", Bucket: "b", Prefix: "p/", Region: "us-east-2"})
	if s, ok := st.(*S3); err != nil || !ok || s.Bucket != "b" || s.Prefix != "p/" || s.Client == nil {
		t.Errorf("Open(s3) = %#v, %v", st, err)
	}
}

func TestOpenErrors(t *testing.T) {
	isolateAWSEnv(t)
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "blob: driver local: no directory (set blob.dir)"},
		{Config{Driver: "local"}, "blob: driver local: no directory (set blob.dir)"},
		{Config{Driver: "local", Dir: "d", Bucket: "b"}, "blob: driver local: bucket, prefix, region, endpoint, pathStyle and credentials apply only to driver s3"},
		{Config{Dir: "d", PathStyle: true}, "blob: driver local: bucket, prefix, region, endpoint, pathStyle and credentials apply only to driver s3"},
		{Config{Driver: "s3"}, "blob: driver s3: no bucket (set blob.bucket)"},
		{Config{Driver: "s3", Region: "eu-west-1", Endpoint: "http://127.0.0.1:9"}, "blob: driver s3: no bucket (set blob.bucket)"},
		{Config{Driver: "s3", Bucket: "b", Dir: "d"}, "blob: driver s3: dir applies only to driver local"},
		{Config{Driver: "s3", Bucket: "b", Region: "r", AccessKeyID: "AKID"}, "blob: driver s3: accessKeyId and secretAccessKey must be set together"},
		{Config{Driver: "s3", Bucket: "b", Region: "r", SecretAccessKey: "s3cr3t"}, "blob: driver s3: accessKeyId and secretAccessKey must be set together"},
		{Config{Driver: "s3", Bucket: "b", Region: "r", Prefix: "../up"}, `blob: driver s3: prefix: blob: invalid key "../up": has a ".." segment`},
		{Config{Driver: "s3", Bucket: "b", Region: "r", Prefix: "/abs"}, `blob: driver s3: prefix: blob: invalid key "/abs": starts with '/'`},
		{Config{Driver: "s3", Bucket: "b"}, "blob: driver s3: no region (set blob.region or AWS_REGION)"},
		{Config{Driver: "S3", Bucket: "b"}, `blob: unknown driver "S3" (want "local" or "s3")`},
		{Config{Driver: "gcs", Bucket: "b"}, `blob: unknown driver "gcs" (want "local" or "s3")`},
	} {
		st, err := Open(c.cfg)
		if st != nil || err == nil || err.Error() != c.want {
			t.Errorf("Open(%v) = %v, %v; want error %q", c.cfg, st, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Open(%v) error carries the secret", c.cfg)
		}
	}
}

func TestConfigStringRedactsSecret(t *testing.T) {
	c := Config{Driver: "s3", Bucket: "b", AccessKeyID: "AKID", SecretAccessKey: "s3cr3t"}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprint(&c)} {
		if strings.Contains(s, "s3cr3t") || !strings.Contains(s, `AccessKeyID:"AKID"`) || !strings.Contains(s, `SecretAccessKey:"<redacted>"`) {
			t.Errorf("formatted config %s: secret not redacted", s)
		}
	}
	if s := (Config{}).String(); !strings.Contains(s, `SecretAccessKey:""`) {
		t.Errorf("empty secret shown as %s", s)
	}
}
