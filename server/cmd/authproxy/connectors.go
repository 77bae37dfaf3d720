package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
)

// errInvalid makes the command exit 1 after it has printed the problems itself.
var errInvalid = errors.New("invalid connector definition(s)")

func newConnectors() *cobra.Command {
	c := &cobra.Command{Use: "connectors", Short: "Work with connector definitions"}
	validate := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check connector definitions (YAML or JSON) offline",
		Long: `Check each file against the connector definition schema and its cross-field rules,
without contacting a server. Every problem is printed as FILE:LINE: FIELD: MESSAGE; the
exit code is 1 when any file is invalid.`,
		Args:          cobra.MinimumNArgs(1),
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, files []string) error {
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			bad := 0
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					fmt.Fprintf(errOut, "%s: %v\n", f, err)
					bad++
					continue
				}
				p, errs := definition.Parse(src)
				if len(errs) > 0 {
					bad++
					for _, e := range errs {
						loc := f
						if e.Line > 0 {
							loc = fmt.Sprintf("%s:%d", f, e.Line)
						}
						if e.Field != "" {
							fmt.Fprintf(errOut, "%s: %s: %s\n", loc, e.Field, e.Message)
						} else {
							fmt.Fprintf(errOut, "%s: %s\n", loc, e.Message)
						}
					}
					continue
				}
				fmt.Fprintf(out, "%s: ok (%s, %s)\n", f, p.Definition.Display.Name, p.Hash)
			}
			if bad > 0 {
				fmt.Fprintf(errOut, "%d of %d file(s) invalid\n", bad, len(files))
				return errInvalid
			}
			return nil
		},
	}
	c.AddCommand(validate)
	return c
}
