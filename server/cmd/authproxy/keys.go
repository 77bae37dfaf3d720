package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/authproxy/authproxy/sdk"
)

func newKeys() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage actor key pairs"}
	var out string
	var force bool
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Write a new Ed25519 key pair: the private key (PEM, 0600) and <file>.pub (authorized_keys line)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force {
				for _, p := range []string{out, out + ".pub"} {
					if _, err := os.Stat(p); err == nil {
						return fmt.Errorf("%s exists; pass --force to overwrite it", p)
					} else if !errors.Is(err, os.ErrNotExist) {
						return err
					}
				}
			}
			priv, pub, err := sdk.GenerateKeyPair()
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, priv, 0o600); err != nil {
				return err
			}
			if err := os.Chmod(out, 0o600); err != nil {
				return err
			}
			if err := os.WriteFile(out+".pub", []byte(pub+"\n"), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (private, 0600) and %s.pub; register this public key on the actor:\n", out, out)
			fmt.Fprintln(cmd.OutOrStdout(), pub)
			return nil
		},
	}
	gen.Flags().StringVarP(&out, "out", "o", "authproxy_key", "private key file; the public key goes to <file>.pub")
	gen.Flags().BoolVar(&force, "force", false, "overwrite existing files")
	keys.AddCommand(gen)
	return keys
}
