package oauth2

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
)

// Hand-written token endpoint, for faults only.

const (
	faultRefresh = "refresh-token-secret-4242"
	faultSecret  = "client-secret-9999"
)

func faultServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func faultDef(base string) *definition.OAuth2 {
	return &definition.OAuth2{
		Grant: definition.GrantAuthorizationCode, ClientID: "cid", TokenEndpointAuthMethod: definition.ClientSecretBasic,
		AuthorizeURL: base + "/authorize", TokenURL: base + "/token", RevocationURL: base + "/revoke",
	}
}

func reply(status int, ctype, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func TestTokenEndpointFaults(t *testing.T) {
	const js = "application/json"
	cases := []struct {
		name      string
		h         http.HandlerFunc
		code      string
		status    int
		permanent bool
	}{
		{"503 html", reply(503, "text/html", "<html>down for maintenance</html>"), CodeHTTP, 503, false},
		{"500 server_error", reply(500, js, `{"error":"server_error"}`), "server_error", 500, false},
		{"429", reply(429, js, `{"error":"slow_down"}`), "slow_down", 429, false},
		{"400 temporarily_unavailable", reply(400, js, `{"error":"temporarily_unavailable"}`), "temporarily_unavailable", 400, false},
		{"invalid_grant", reply(400, js, `{"error":"invalid_grant","error_description":"refresh token `+faultRefresh+` was revoked"}`), "invalid_grant", 400, true},
		{"invalid_client", reply(401, js, `{"error":"invalid_client"}`), "invalid_client", 401, true},
		{"unauthorized_client", reply(400, js, `{"error":"unauthorized_client"}`), "unauthorized_client", 400, true},
		{"empty 401", reply(401, "", ""), "invalid_client", 401, true},
		{"error in a 200", reply(200, js, `{"error":"invalid_grant"}`), "invalid_grant", 200, true},
		{"malformed json", reply(200, js, `{"access_token": "at-`+faultRefresh), CodeMalformed, 0, false},
		{"no access_token", reply(200, js, `{"token_type":"bearer"}`), CodeMalformed, 0, false},
		{"html 200", reply(200, "text/html", "<html>login</html>"), CodeMalformed, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := faultServer(t, tc.h)
			c := mustClient(t, faultDef(srv.URL), faultSecret)
			_, err := c.RefreshToken(context.Background(), faultRefresh)
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("not an *Error: %T %v", err, err)
			}
			if oe.Code != tc.code || oe.Status != tc.status || oe.Permanent != tc.permanent || IsPermanent(err) != tc.permanent || IsTransient(err) == tc.permanent {
				t.Fatalf("got code=%q status=%d permanent=%v; want %q %d %v (%s)", oe.Code, oe.Status, oe.Permanent, tc.code, tc.status, tc.permanent, err)
			}
			msg := err.Error()
			for _, s := range []string{faultRefresh, faultSecret, "<html>"} {
				if strings.Contains(msg, s) {
					t.Fatalf("message leaks %q: %s", s, msg)
				}
			}
			if oe.Op != "refresh_token" || !strings.Contains(msg, oe.Code) {
				t.Fatalf("unclear message: %s", msg)
			}
		})
	}
}

func TestTokenEndpointTimeoutAndNetwork(t *testing.T) {
	release := make(chan struct{})
	srv, _ := faultServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	t.Run("client timeout", func(t *testing.T) {
		c, _ := NewClient(faultDef(srv.URL), faultSecret, nil, &http.Client{Timeout: 100 * time.Millisecond})
		start := time.Now()
		_, err := c.RefreshToken(context.Background(), faultRefresh)
		var oe *Error
		if !errors.As(err, &oe) || oe.Code != CodeTimeout || oe.Permanent || time.Since(start) > 5*time.Second {
			t.Fatalf("timeout: %v", err)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		c := mustClient(t, faultDef(srv.URL), faultSecret)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Exchange(ctx, "the-code-123", "https://app/cb", "the-verifier-123")
		var oe *Error
		if !errors.As(err, &oe) || oe.Code != CodeTimeout || oe.Permanent || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("deadline: %v", err)
		}
		if strings.Contains(err.Error(), "the-code-123") || strings.Contains(err.Error(), "the-verifier-123") {
			t.Fatalf("leak: %s", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		url := dead.URL
		dead.Close()
		c := mustClient(t, faultDef(url), faultSecret)
		_, err := c.RefreshToken(context.Background(), faultRefresh)
		var oe *Error
		if !errors.As(err, &oe) || oe.Code != CodeNetwork || oe.Permanent {
			t.Fatalf("refused: %v", err)
		}
		if err := c.Revoke(context.Background(), faultRefresh, "refresh_token"); !IsTransient(err) {
			t.Fatalf("revoke refused: %v", err)
		}
	})
}

func TestRefreshKeepsRefreshTokenWhenOmitted(t *testing.T) {
	// Many providers do not rotate: the answer has no refresh_token and the old one stays.
	srv, _ := faultServer(t, reply(200, "application/json", `{"access_token":"at-new","token_type":"bearer","expires_in":3600,"scope":"read"}`))
	c := mustClient(t, faultDef(srv.URL), faultSecret)
	tok, err := c.RefreshToken(context.Background(), faultRefresh)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "at-new" || tok.RefreshToken != faultRefresh || tok.Scope != "read" || !tok.ValidFor(50*time.Minute) {
		t.Fatalf("%v", tok)
	}
	if _, err := c.RefreshToken(context.Background(), ""); !IsPermanent(err) {
		t.Fatalf("empty refresh token: %v", err)
	}
}

func TestRevokeFaults(t *testing.T) {
	srv, _ := faultServer(t, reply(503, "application/json", `{"error":"temporarily_unavailable"}`))
	c := mustClient(t, faultDef(srv.URL), faultSecret)
	if err := c.Revoke(context.Background(), faultRefresh, "refresh_token"); !IsTransient(err) || strings.Contains(err.Error(), faultRefresh) {
		t.Fatalf("503: %v", err)
	}
	var got http.Header
	var form string
	srv2, _ := faultServer(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		r.ParseForm()
		form = r.PostForm.Encode()
	})
	c2 := mustClient(t, faultDef(srv2.URL), faultSecret)
	if err := c2.Revoke(context.Background(), "tok-1", "access_token"); err != nil {
		t.Fatal(err)
	}
	if u, p, ok := (&http.Request{Header: got}).BasicAuth(); !ok || u != "cid" || p != faultSecret || form != "token=tok-1&token_type_hint=access_token" {
		t.Fatalf("basic revoke: %q", form)
	}
}

func TestTokenRedaction(t *testing.T) {
	tok := &Token{AccessToken: "access-secret-1", RefreshToken: "refresh-secret-2", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour), Scope: "read"}
	var buf bytes.Buffer
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&buf, f+"\n", tok)
		fmt.Fprintf(&buf, f+"\n", *tok)
	}
	j, _ := json.Marshal(map[string]any{"t": tok, "v": *tok})
	buf.Write(j)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "tok", tok, "val", *tok)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "tok", tok, "val", *tok)
	out := buf.String()
	if strings.Contains(out, "access-secret-1") || strings.Contains(out, "refresh-secret-2") || !strings.Contains(out, "[redacted]") {
		t.Fatalf("token printed:\n%s", out)
	}
	b, err := tok.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalToken(b)
	if err != nil || back.AccessToken != tok.AccessToken || back.RefreshToken != tok.RefreshToken || !back.Expiry.Equal(tok.Expiry) || back.Scope != "read" {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := UnmarshalToken([]byte(`{"access_token":"leak-me`)); err == nil || strings.Contains(err.Error(), "leak-me") {
		t.Fatalf("bad input: %v", err)
	}
	if (&Token{AccessToken: "a"}).ValidFor(time.Hour) != true || (&Token{AccessToken: "a", Expiry: time.Now().Add(time.Minute)}).ValidFor(5*time.Minute) {
		t.Fatal("ValidFor")
	}
}
