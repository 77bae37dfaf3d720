package config

import (
	"strings"
	"testing"
	"time"
)

func TestMarketplaceValidate(t *testing.T) {
	ok := Marketplace{LoginURL: "https://app.example.com/login", FrameAncestors: []string{"https://app.example.com", "http://127.0.0.1:8090", "'self'"},
		SessionTTL: Duration{Duration: time.Hour}, Theme: Theme{Accent: "#abc", Mode: "dark", LogoURL: "/logo.svg"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid settings refused: %v", err)
	}
	for _, tc := range []struct {
		m    Marketplace
		want string
	}{
		{Marketplace{LoginURL: "app.example.com/login"}, "marketplace.loginUrl"},
		{Marketplace{LoginURL: "javascript:alert(1)"}, "marketplace.loginUrl"},
		{Marketplace{FrameAncestors: []string{"*"}}, "frameAncestors entry \"*\""},
		{Marketplace{FrameAncestors: []string{"https://a.example.com; script-src *"}}, "frameAncestors entry"},
		{Marketplace{SessionTTL: Duration{Duration: 48 * time.Hour}}, "sessionTtl"},
		{Marketplace{Theme: Theme{Accent: "red; background: url(x)"}}, "theme.accent"},
		{Marketplace{Theme: Theme{Mode: "neon"}}, "theme.mode"},
		{Marketplace{Theme: Theme{LogoURL: "javascript:alert(1)"}}, "theme.logoUrl"},
	} {
		if err := tc.m.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %q", tc.m, err, tc.want)
		}
	}
}

func TestMarketplaceEnv(t *testing.T) {
	var cfg Config
	env := map[string]string{"AUTHPROXY_MARKETPLACE_FRAME_ANCESTORS": "https://a.example.com, https://b.example.com", "AUTHPROXY_MARKETPLACE_LOGIN_URL": "https://a.example.com/in"}
	if err := applyEnv(&cfg, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Marketplace.FrameAncestors, " "); got != "https://a.example.com https://b.example.com" || cfg.Marketplace.LoginURL != "https://a.example.com/in" {
		t.Fatalf("from the environment: %q %q", got, cfg.Marketplace.LoginURL)
	}
}
