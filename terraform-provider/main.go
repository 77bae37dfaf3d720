// Command terraform-provider-authproxy is the Terraform (and OpenTofu) provider for AuthProxy.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/authproxy/authproxy/terraform-provider/internal/provider"
)

// version is set by goreleaser or -ldflags "-X main.version=…".
var version = "dev"

//go:generate go tool tfplugindocs generate --provider-name authproxy

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run with support for debuggers such as delve")
	flag.Parse()
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: provider.Address,
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
