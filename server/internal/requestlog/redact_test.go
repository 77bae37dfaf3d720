package requestlog

import (
	"strings"
	"testing"
	"time"
)

func TestRedactRawURL(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		extra          []string
	}{
		{"no query", "https://api.example.com/v1/items", "https://api.example.com/v1/items", nil},
		{"harmless params kept", "https://x.test/a?page=2&sort=name", "https://x.test/a?page=2&sort=name", nil},
		{"api_key", "https://x.test/a?api_key=s3cr3t&page=2", "https://x.test/a?api_key=REDACTED&page=2", nil},
		{"case and dashes", "https://x.test/a?API-Key=s3cr3t&Access_Token=t0k", "https://x.test/a?API-Key=REDACTED&Access_Token=REDACTED", nil},
		{"token secret password", "https://x.test/?token=a&client_secret=b&password=c&passwd=d", "https://x.test/?token=REDACTED&client_secret=REDACTED&password=REDACTED&passwd=REDACTED", nil},
		{"signature and sig", "https://x.test/?X-Amz-Signature=a&sig=b&X-Amz-Credential=c", "https://x.test/?X-Amz-Signature=REDACTED&sig=REDACTED&X-Amz-Credential=REDACTED", nil},
		{"auth and code", "https://x.test/cb?code=abc&state=xyz&authorization=q", "https://x.test/cb?code=REDACTED&state=REDACTED&authorization=REDACTED", nil},
		{"connector's own param", "https://x.test/?k=live&q=1", "https://x.test/?k=REDACTED&q=1", []string{"k"}},
		{"connector's param any case", "https://x.test/?APPID=live", "https://x.test/?APPID=REDACTED", []string{"appid"}},
		{"repeated", "https://x.test/?key=a&key=b&x=1", "https://x.test/?key=REDACTED&key=REDACTED&x=1", nil},
		{"encoded name", "https://x.test/?api%5Fkey=s3cr3t", "https://x.test/?api%5Fkey=REDACTED", nil},
		{"name without value", "https://x.test/?token&x=1", "https://x.test/?token&x=1", nil},
		{"undecodable name", "https://x.test/?%zzkey=s3cr3t&x=1", "https://x.test/?REDACTED&x=1", nil},
		{"user info dropped", "https://user:pw@x.test/a", "https://x.test/a", nil},
		{"fragment dropped", "https://x.test/a#token=abc", "https://x.test/a", nil},
		{"unparseable dropped", "http://[::1%zz/", "", nil},
		{"monkey is over-redacted, safely", "https://x.test/?monkey=1", "https://x.test/?monkey=REDACTED", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RedactRawURL(tc.in, tc.extra...)
			if got != tc.want {
				t.Fatalf("RedactRawURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
			for _, secret := range []string{"s3cr3t", "live", "t0k", "pw@"} {
				if strings.Contains(got, secret) {
					t.Fatalf("%q still holds %q", got, secret)
				}
			}
		})
	}
}

func TestNewIDIsTimeOrdered(t *testing.T) {
	now := time.Now()
	prev := ""
	for i := 0; i < 1000; i++ {
		id := NewID(now) // same instant: still strictly increasing
		if id <= prev {
			t.Fatalf("id %d %q is not after %q", i, id, prev)
		}
		if !strings.HasPrefix(id, "rlg_") || len(id) != 4+idWidth+8 {
			t.Fatalf("id %q has the wrong shape", id)
		}
		prev = id
	}
	if later := NewID(now.Add(time.Hour)); later <= prev || later < idAt(now.Add(time.Hour)) {
		t.Fatalf("an hour later %q sorts before %q", later, prev)
	}
	if idAt(time.Unix(0, 0).Add(-time.Hour)) != "rlg_0000000000000000000" {
		t.Fatalf("times before 1970 clamp to zero: %q", idAt(time.Unix(0, 0).Add(-time.Hour)))
	}
}
