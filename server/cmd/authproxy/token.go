package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/authproxy/authproxy/sdk"
)

func newToken() *cobra.Command {
	var (
		flags     settings
		audience  []string
		ttl       time.Duration
		permsFile string
		singleUse bool
	)
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a JWT signed with the configured actor's private key",
		Long: `Print a JWT for the configured actor, for curl and friends:

  curl -H "Authorization: Bearer $(authproxy token)" $AUTHPROXY_ADMIN_URL/api/v1/whoami

The actor and key come from --actor/--private-key-file, else AUTHPROXY_ACTOR and
AUTHPROXY_PRIVATE_KEY_FILE, else ~/.authproxy.yaml (actor, privateKeyFile).
--permissions names a JSON or YAML list of permissions that narrows the token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := resolve(flags)
			if err != nil {
				return err
			}
			if err := requireSigner(s); err != nil {
				return err
			}
			signer, err := sdk.NewSignerFromFile(s.Actor, s.PrivateKeyFile)
			if err != nil {
				return err
			}
			opts := sdk.TokenOptions{Audience: audience, TTL: ttl, SingleUse: singleUse}
			if permsFile != "" {
				b, err := os.ReadFile(permsFile)
				if err != nil {
					return fmt.Errorf("permissions: %w", err)
				}
				if err := yaml.UnmarshalStrict(b, &opts.Permissions); err != nil {
					return fmt.Errorf("permissions %s: want a list of {namespace, resources, verbs, resourceIds}: %w", permsFile, err)
				}
				if opts.Permissions == nil {
					opts.Permissions = []sdk.Permission{}
				}
			}
			tok, err := signer.Token(opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	addSignerFlags(cmd, &flags)
	f.StringSliceVar(&audience, "audience", []string{sdk.AudienceAdmin}, "services the token is for (admin, api, public)")
	f.DurationVar(&ttl, "ttl", 5*time.Minute, "lifetime; the server refuses more than its maximum (1h by default)")
	f.StringVar(&permsFile, "permissions", "", "JSON or YAML file with permissions that narrow the token")
	f.BoolVar(&singleUse, "single-use", false, "add a jti so the server accepts the token once")
	return cmd
}
