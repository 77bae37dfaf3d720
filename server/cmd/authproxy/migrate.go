package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/authproxy/authproxy/server/internal/config"
	"github.com/authproxy/authproxy/server/internal/store"
)

func newMigrate() *cobra.Command {
	var cfgFile string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations (forward only)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgFile)
			if err != nil {
				return err
			}
			if cfg.Dev {
				if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
					return err
				}
			}
			db, err := store.Open(cmd.Context(), cfg.DB)
			if err != nil {
				return err
			}
			if sqlDB, err := db.DB(); err == nil {
				defer sqlDB.Close()
			}
			applied, err := store.Migrate(cmd.Context(), db)
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "schema is up to date")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "applied migrations %v\n", applied)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", os.Getenv("AUTHPROXY_CONFIG"), "configuration file (YAML); omit for the dev database (env AUTHPROXY_CONFIG)")
	return cmd
}
