// Command authproxy runs the AuthProxy services and helps humans talk to them.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errInvalid) { // already reported line by line
			fmt.Fprintln(os.Stderr, "authproxy:", err)
		}
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "authproxy",
		Short:         "AuthProxy: an authenticating proxy that keeps third-party credentials out of applications",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServe(), newMigrate(), newVersion(), newToken(), newKeys(), newEncryption(isTerminal), newConnectors())
	return root
}
