package provider

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/testserver"
)

// The acceptance tests run the real CLI (OpenTofu from `make tofu`, or the binary named by
// TF_ACC_TERRAFORM_PATH) against one in-process AuthProxy on SQLite and miniredis. They run
// when TF_ACC is set (`make testacc`); each test works in namespaces of its own.

var (
	accServer *testserver.Server
	// accDir holds the CLI config file and the server's files.
	accDir string
)

// protoV6 serves the provider in-process to the CLI.
var protoV6 = map[string]func() (tfprotov6.ProviderServer, error){
	"authproxy": providerserver.NewProtocol6WithError(New("test")()),
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("TF_ACC") == "" {
		return m.Run()
	}
	var err error
	accDir, err = os.MkdirTemp("", "authproxy-acc-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(accDir)
	// The machine's TF_CLI_CONFIG_FILE may name a missing file, which makes the CLI print a
	// warning where the test framework expects its version: use a config file of our own.
	cliConfig := filepath.Join(accDir, "cli.tfrc")
	if err := os.WriteFile(cliConfig, []byte("# CLI configuration written by the acceptance tests\n"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("TF_CLI_CONFIG_FILE", cliConfig)
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		if tofu, err := filepath.Abs("../../../bin/tofu"); err == nil {
			if _, err := os.Stat(tofu); err == nil {
				os.Setenv("TF_ACC_TERRAFORM_PATH", tofu)
			}
		}
	}
	if strings.HasSuffix(os.Getenv("TF_ACC_TERRAFORM_PATH"), "tofu") && os.Getenv("TF_ACC_PROVIDER_HOST") == "" {
		os.Setenv("TF_ACC_PROVIDER_HOST", "registry.opentofu.org")
	}
	fmt.Fprintf(os.Stderr, "acceptance tests: CLI %s (provider host %s)\n", os.Getenv("TF_ACC_TERRAFORM_PATH"), os.Getenv("TF_ACC_PROVIDER_HOST"))
	accServer, err = testserver.New(filepath.Join(accDir, "server"), testserver.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start AuthProxy:", err)
		return 1
	}
	defer accServer.Close()
	os.Setenv(EnvAdminURL, accServer.AdminURL)
	os.Setenv(EnvActor, accServer.AdminActor)
	os.Setenv(EnvPrivateKeyFile, accServer.AdminKeyFile)
	os.Unsetenv(EnvPrivateKey)
	return m.Run()
}

// adminClient is an SDK client of the acceptance server, for checks and for drift made
// outside Terraform.
func adminClient(t *testing.T) *sdk.ClientWithResponses {
	t.Helper()
	if accServer == nil {
		t.Skip("acceptance tests need TF_ACC=1")
	}
	return accServer.AdminClient(t)
}

// uniqueSegment returns a namespace segment no other test uses.
func uniqueSegment(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}
