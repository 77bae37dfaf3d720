package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authproxy/authproxy/server/internal/app"
	"github.com/authproxy/authproxy/server/internal/config"
)

func newServe() *cobra.Command {
	var cfgFile string
	cmd := &cobra.Command{
		Use:   "serve [all|public|api|admin|worker]...",
		Short: "Run one or more services (all by default); without --config, dev mode with embedded defaults",
		Long: `Run AuthProxy services: public (8080), api (8081), admin (8082), worker (8083).

Without --config the server runs in dev mode: SQLite and keys under ./.authproxy/, an
in-process Redis, and a bootstrap admin actor whose private key is written to
./.authproxy/admin_key. SIGTERM or Ctrl-C lets in-flight requests finish, then exits.`,
		ValidArgs: append([]string{"all"}, app.AllServices...),
		RunE: func(cmd *cobra.Command, args []string) error {
			services, err := parseServices(args)
			if err != nil {
				return err
			}
			cfg, err := config.Load(cfgFile)
			if err != nil {
				return err
			}
			logger := newLogger(cfg.Log, cmd.ErrOrStderr())
			ctx := cmd.Context()
			a, err := app.New(ctx, cfg, logger)
			if err != nil {
				return err
			}
			defer a.Close()
			ls, err := a.Listen(services)
			if err != nil {
				return err
			}
			if cfg.Dev {
				keyFile, err := filepath.Abs(filepath.Join(cfg.DataDir, "admin_key"))
				if err != nil {
					return err
				}
				if _, err := a.Bootstrap(ctx, keyFile); err != nil {
					return fmt.Errorf("bootstrap admin: %w", err)
				}
				printBanner(cmd.OutOrStdout(), cfg, ls, keyFile)
			}
			logger.Info("serving", "services", services)
			err = a.Serve(ctx, ls)
			logger.Info("stopped")
			return err
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", os.Getenv("AUTHPROXY_CONFIG"), "configuration file (YAML); omit for dev mode (env AUTHPROXY_CONFIG)")
	return cmd
}

func parseServices(args []string) ([]string, error) {
	if len(args) == 0 {
		return app.AllServices, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range args {
		if a == "all" {
			return app.AllServices, nil
		}
		ok := false
		for _, s := range app.AllServices {
			ok = ok || s == a
		}
		if !ok {
			return nil, fmt.Errorf("unknown service %q (use all, %s)", a, strings.Join(app.AllServices, ", "))
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out, nil
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func printBanner(w io.Writer, cfg config.Config, ls []app.Listener, keyFile string) {
	urls := map[string]string{}
	fmt.Fprintf(w, "\nAuthProxy (%s) in dev mode (SQLite, in-process Redis, data in %s)\n\n", version(), cfg.DataDir)
	for _, l := range ls {
		u := "http://" + l.Addr().String()
		urls[l.Service] = u
		fmt.Fprintf(w, "  %-7s %s\n", l.Service, u)
	}
	fmt.Fprintf(w, "\nExport these for the CLI, the Go SDK and the Terraform provider:\n\n")
	if u, ok := urls[app.Admin]; ok {
		fmt.Fprintf(w, "  export AUTHPROXY_ADMIN_URL=%s\n", u)
	}
	if u, ok := urls[app.API]; ok {
		fmt.Fprintf(w, "  export AUTHPROXY_API_URL=%s\n", u)
	}
	if u, ok := urls[app.Public]; ok {
		fmt.Fprintf(w, "  export AUTHPROXY_PUBLIC_URL=%s\n", u)
	}
	fmt.Fprintf(w, "  export AUTHPROXY_ACTOR=%s\n", app.AdminSubject)
	fmt.Fprintf(w, "  export AUTHPROXY_PRIVATE_KEY_FILE=%s\n\n", keyFile)
}
