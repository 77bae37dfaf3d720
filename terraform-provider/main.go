// Command terraform-provider-authproxy is the Terraform (and OpenTofu) provider for AuthProxy.
package main

import (
	"context"
	"flag"
	"log"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/authproxy/authproxy/terraform-provider/internal/provider"
)

// version is set by goreleaser or -ldflags "-X main.version=…".
var version = "dev"

//go:generate go tool tfplugindocs generate --provider-name authproxy

// quietSDKLogs turns off the plugin SDK's own trace logs unless the user asked for logs.
// Without TF_LOG the CLI discards them anyway, but encoding them cost about a tenth of the
// provider's CPU in a 1,000-resource plan.
func quietSDKLogs() {
	for _, v := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
		if os.Getenv(v) != "" {
			return
		}
	}
	for _, v := range []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
		os.Setenv(v, "off")
	}
}

func main() {
	quietSDKLogs()
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
