// Package web serves the pages people use in a browser: the marketplace on the public
// service, where end users connect their accounts, and the admin pages on the admin
// service. Pages are server-rendered with html/template; styles and the little JavaScript
// they use are embedded with go:embed, so `go build` alone makes the complete binary.
//
// Sessions start from a delegated token (package session): the host application signs it
// for its user and sends the browser to /marketplace?token=… (or /admin?token=…). Every
// mutating request carries the session's CSRF token.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/authproxy/authproxy/server/internal/config"
	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/connector"
	"github.com/authproxy/authproxy/server/internal/requestlog"
	"github.com/authproxy/authproxy/server/internal/session"
)

//go:embed templates/*.gohtml
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Theme is how the marketplace looks inside the host's product (config.Theme).
type Theme = config.Theme

// Site serves the pages.
type Site struct {
	Broker      *session.Broker
	Sessions    *session.Store
	Connectors  *connector.Service
	Connections *connection.Service
	Connecting  Connecting
	Logger      *slog.Logger
	// Secure marks cookies Secure (and uses the __Host- prefix); off only in dev mode over
	// plain http.
	Secure bool
	// LoginURL is where a browser with an expired, replayed or invalid hand-off goes: the
	// host application's sign-in page. Without it such a browser gets a 401 page.
	LoginURL string
	// FrameAncestors are the origins that may frame the marketplace (CSP frame-ancestors);
	// none means it may not be framed. When set, the session cookie is SameSite=None
	// (Secure, Partitioned) so that it works inside the host's iframe.
	FrameAncestors []string
	Theme          Theme

	tmpl *template.Template
}

// Init parses the templates; call it once before serving.
func (s *Site) Init() error {
	if err := (config.Marketplace{FrameAncestors: s.FrameAncestors, Theme: s.Theme}).Validate(); err != nil {
		return err
	}
	t, err := template.New("").Funcs(template.FuncMap{
		"markdown": renderMarkdown,
		"ago":      ago,
		"httpURL":  httpURL,
		"stateList": func() []string {
			return []string{connection.Setup, connection.Ready, connection.Failed, connection.Disconnecting, connection.Disconnected}
		},
		"healthList": func() []string {
			return []string{connection.HealthUnknown, connection.HealthHealthy, connection.HealthUnhealthy}
		},
		"kindList": func() []string { return []string{requestlog.KindProxy, requestlog.KindProbe, requestlog.KindToken} },
	}).ParseFS(templateFS, "templates/*.gohtml")
	if err != nil {
		return fmt.Errorf("web: parse templates: %w", err)
	}
	s.tmpl = t
	return nil
}

func (s *Site) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Site) title() string {
	if s.Theme.Title != "" {
		return s.Theme.Title
	}
	return "Connections"
}

// headers sets what every page answers with: no caching, no sniffing, no referrer (page
// URLs may hold a hand-off token), and a CSP that allows only this origin's scripts and
// styles, and framing only by the configured ancestors.
func (s *Site) headers(w http.ResponseWriter, framable bool) {
	h := w.Header()
	ancestors := "'none'"
	if framable && len(s.FrameAncestors) > 0 {
		ancestors = strings.Join(s.FrameAncestors, " ")
	}
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "+
		"connect-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors "+ancestors)
	if !framable || len(s.FrameAncestors) == 0 {
		h.Set("X-Frame-Options", "DENY")
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// page is what every template gets.
type page struct {
	Title   string
	Site    string
	Theme   Theme
	Base    string // "/marketplace" or "/admin"
	Session *session.Session
	CSRF    string
	Flash   string
	Error   string
	Data    any
}

func (s *Site) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Site = s.title()
	p.Theme = s.Theme
	if p.Theme.Mode == "" {
		p.Theme.Mode = "auto"
	}
	if p.Session != nil {
		p.CSRF = p.Session.CSRF
	}
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, p); err != nil {
		s.logger().ErrorContext(r.Context(), "web: render", "template", name, "error", err)
		s.headers(w, false)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	s.headers(w, p.Base == marketplaceBase)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// message renders a page with just a heading and a sentence.
func (s *Site) message(w http.ResponseWriter, r *http.Request, status int, base, title, text string) {
	s.render(w, r, status, "message", page{Title: title, Base: base, Data: text})
}

// static serves the embedded styles and scripts.
func (s *Site) static(prefix string) http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fsrv := http.StripPrefix(prefix, http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fsrv.ServeHTTP(w, r)
	})
}

// themeCSS is the accent colour as a stylesheet (inline styles are refused by the CSP).
func (s *Site) themeCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	accent := s.Theme.Accent
	if accent == "" { // validated by config.Marketplace.Validate otherwise
		accent = "#2f6feb"
	}
	fmt.Fprintf(w, ":root { --accent: %s; }\n", accent)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return t.UTC().Format("2006-01-02")
}

// httpURL keeps only http(s) URLs (for links and images from connector definitions).
func httpURL(u string) string {
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return u
	}
	return ""
}
