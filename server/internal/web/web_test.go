package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestSessionCookie(t *testing.T) {
	for _, tc := range []struct {
		name      string
		site      Site
		rl        realm
		cookie    string
		secure    bool
		sameSite  http.SameSite
		partition bool
	}{
		{"dev over http", Site{}, marketplaceRealm, "authproxy_marketplace", false, http.SameSiteLaxMode, false},
		{"production", Site{Secure: true}, marketplaceRealm, "__Host-authproxy_marketplace", true, http.SameSiteLaxMode, false},
		{"production, framed", Site{Secure: true, FrameAncestors: []string{"https://app.example.com"}}, marketplaceRealm,
			"__Host-authproxy_marketplace", true, http.SameSiteNoneMode, true},
		{"admin is never framed", Site{Secure: true, FrameAncestors: []string{"https://app.example.com"}}, adminRealm,
			"__Host-authproxy_admin", true, http.SameSiteLaxMode, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tc.site.setCookie(w, tc.rl, "value", 60)
			cs := w.Result().Cookies()
			if len(cs) != 1 {
				t.Fatalf("cookies: %v", cs)
			}
			c := cs[0]
			if c.Name != tc.cookie || !c.HttpOnly || c.Secure != tc.secure || c.SameSite != tc.sameSite || c.Partitioned != tc.partition ||
				c.Path != "/" || c.Domain != "" || c.MaxAge != 60 {
				t.Fatalf("cookie = %+v", c)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	s := &Site{FrameAncestors: []string{"https://app.example.com", "'self'"}}
	w := httptest.NewRecorder()
	s.headers(w, true)
	h := w.Header()
	if csp := h.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors https://app.example.com 'self'") ||
		!strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("framable CSP = %q", csp)
	}
	if h.Get("X-Frame-Options") != "" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("framable headers = %v", h)
	}
	w = httptest.NewRecorder()
	s.headers(w, false)
	if csp := w.Header().Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors 'none'") || w.Header().Get("X-Frame-Options") != "DENY" {
		t.Fatalf("unframable headers = %v", w.Header())
	}
}

var attrRe = regexp.MustCompile(`(href|src)="([^"]*)"`)

func TestMarkdownIsInert(t *testing.T) {
	for _, src := range []string{
		"[x](javascript:alert(1))", "[x](JAVASCRIPT:alert(1))", "[x]( javascript:alert(1))", "<script>alert(1)</script>",
		"<img src=x onerror=alert(1)>", "[x](vbscript:msgbox(1))", "![x](javascript:alert(1))", "<a href=\"javascript:alert(1)\">x</a>",
		"<javascript:alert(1)>", "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
	} {
		out := strings.ToLower(string(renderMarkdown(src)))
		for _, bad := range []string{"<script", "onerror", "<img src=x"} {
			if strings.Contains(out, bad) {
				t.Errorf("%q renders %q", src, out)
			}
		}
		// Text may mention a scheme; no link or image may point at one.
		for _, m := range attrRe.FindAllStringSubmatch(out, -1) {
			if v := strings.TrimSpace(m[2]); strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "vbscript:") || strings.HasPrefix(v, "data:text/html") {
				t.Errorf("%q renders %s=%q", src, m[1], v)
			}
		}
	}
	if got := string(renderMarkdown("**bold** [docs](https://example.com/x)")); !strings.Contains(got, "<strong>bold</strong>") || !strings.Contains(got, `href="https://example.com/x"`) {
		t.Errorf("markdown: %s", got)
	}
}

func TestThemeCSS(t *testing.T) {
	w := httptest.NewRecorder()
	(&Site{Theme: Theme{Accent: "#6d28d9"}}).themeCSS(w, httptest.NewRequest(http.MethodGet, "/marketplace/theme.css", nil))
	if body := w.Body.String(); !strings.Contains(body, "--accent: #6d28d9;") || w.Header().Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("theme.css = %q", body)
	}
}
