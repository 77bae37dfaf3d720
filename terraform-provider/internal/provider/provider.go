// Package provider implements the AuthProxy Terraform provider on terraform-plugin-framework.
// It talks to the AuthProxy admin API only through the generated Go SDK.
package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/authproxy/authproxy/sdk"
)

// Address is the provider's registry address. OpenTofu resolves the same source under its
// own registry host (registry.opentofu.org/authproxy/authproxy).
const Address = "registry.terraform.io/authproxy/authproxy"

// Environment variables the provider falls back to.
const (
	EnvAdminURL       = "AUTHPROXY_ADMIN_URL"
	EnvActor          = "AUTHPROXY_ACTOR"
	EnvPrivateKeyFile = "AUTHPROXY_PRIVATE_KEY_FILE"
	EnvPrivateKey     = "AUTHPROXY_PRIVATE_KEY"
)

// New returns a constructor of the provider at version.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &authproxyProvider{version: version} }
}

type authproxyProvider struct {
	version string
}

var _ provider.Provider = (*authproxyProvider)(nil)

type providerModel struct {
	Endpoint       types.String `tfsdk:"endpoint"`
	Actor          types.String `tfsdk:"actor"`
	PrivateKeyFile types.String `tfsdk:"private_key_file"`
	PrivateKey     types.String `tfsdk:"private_key"`
}

// Client is what resources and data sources receive from Configure.
type Client struct {
	API *sdk.ClientWithResponses
	// Endpoint is the admin URL, for messages.
	Endpoint string
}

func (p *authproxyProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "authproxy"
	resp.Version = p.version
}

func (p *authproxyProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manage [AuthProxy](https://github.com/authproxy/authproxy) namespaces, actors and permissions. " +
			"The provider signs a short-lived JWT for every request with the private key of an actor that has " +
			"permissions on the namespaces it manages. The key is read at run time and never stored in state.\n\n" +
			"Every setting falls back to an environment variable, so a dev-mode server's banner is all you need:\n\n" +
			"```sh\nexport AUTHPROXY_ADMIN_URL=http://127.0.0.1:8082\nexport AUTHPROXY_ACTOR=root/admin\n" +
			"export AUTHPROXY_PRIVATE_KEY_FILE=$PWD/.authproxy/admin_key\n```",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "URL of the AuthProxy admin service, for example `http://127.0.0.1:8082`. Defaults to `$" + EnvAdminURL + "`.",
			},
			"actor": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "The actor the provider acts as: its id (`act_…`) or `<namespace>/<external_id>`, for example `root/admin`. Defaults to `$" + EnvActor + "`.",
			},
			"private_key_file": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Path of the actor's private key (PEM or OpenSSH; Ed25519, ECDSA P-256 or RSA). Defaults to `$" + EnvPrivateKeyFile + "`. Conflicts with `private_key`.",
			},
			"private_key": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "The actor's private key itself (PEM or OpenSSH), for CI systems that hold it in a secret. Defaults to `$" + EnvPrivateKey + "`. Conflicts with `private_key_file`.",
			},
		},
	}
}

func (p *authproxyProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for name, v := range map[string]types.String{"endpoint": m.Endpoint, "actor": m.Actor, "private_key_file": m.PrivateKeyFile, "private_key": m.PrivateKey} {
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(name), "Unknown provider setting",
				"The provider's "+name+" is not known until apply; set it from a value known at plan time.")
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	endpoint := pick(m.Endpoint, EnvAdminURL)
	actor := pick(m.Actor, EnvActor)
	keyFile := pick(m.PrivateKeyFile, EnvPrivateKeyFile)
	key := pick(m.PrivateKey, EnvPrivateKey)

	if endpoint == "" {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Missing AuthProxy endpoint",
			"Set endpoint in the provider block or "+EnvAdminURL+" to the admin service URL, for example http://127.0.0.1:8082.")
	} else if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid AuthProxy endpoint",
			fmt.Sprintf("%q is not an http(s) URL such as http://127.0.0.1:8082.", endpoint))
	}
	if actor == "" {
		resp.Diagnostics.AddAttributeError(path.Root("actor"), "Missing actor",
			"Set actor in the provider block or "+EnvActor+" to the actor id (act_…) or <namespace>/<external_id>, for example root/admin.")
	}
	switch {
	case key != "" && keyFile != "" && !m.PrivateKey.IsNull() && !m.PrivateKeyFile.IsNull():
		resp.Diagnostics.AddAttributeError(path.Root("private_key"), "Conflicting private keys",
			"Set either private_key or private_key_file, not both.")
	case key == "" && keyFile == "":
		resp.Diagnostics.AddAttributeError(path.Root("private_key_file"), "Missing private key",
			"Set private_key_file (or "+EnvPrivateKeyFile+") to the actor's private key file, or private_key (or "+EnvPrivateKey+") to the key itself.")
	}
	if resp.Diagnostics.HasError() {
		return
	}
	var signer *sdk.Signer
	var err error
	keyAttr := path.Root("private_key_file")
	if key != "" && (keyFile == "" || !m.PrivateKey.IsNull()) {
		keyAttr = path.Root("private_key")
		signer, err = sdk.NewSigner(actor, []byte(key))
	} else {
		signer, err = sdk.NewSignerFromFile(actor, keyFile)
	}
	if err != nil {
		resp.Diagnostics.AddAttributeError(keyAttr, "Unusable private key", err.Error())
		return
	}
	httpClient := &http.Client{Timeout: 60 * time.Second}
	api, err := sdk.NewAuthenticatedClient(strings.TrimRight(endpoint, "/"), signer, sdk.AudienceAdmin,
		sdk.WithHTTPClient(httpClient), sdk.WithRequestEditorFn(userAgent(p.version)))
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid AuthProxy endpoint", err.Error())
		return
	}
	// One call up front turns an unreachable server or a rejected key into one clear
	// diagnostic instead of one per resource.
	who, err := api.WhoamiWithResponse(ctx)
	switch {
	case err != nil:
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Cannot reach AuthProxy",
			fmt.Sprintf("Calling %s failed: %v. Check that the admin service is running and that endpoint (or %s) points at it.", endpoint, unwrapURLError(err), EnvAdminURL))
		return
	case who.StatusCode() == http.StatusUnauthorized:
		resp.Diagnostics.AddAttributeError(keyAttr, "AuthProxy rejected the provider's credentials",
			fmt.Sprintf("The server refused the token signed for actor %q: %s. Check that the actor exists and that the private key's public half is registered on it.", actor, problemDetail(who.ApplicationproblemJSONDefault, who.Body)))
		return
	case who.JSON200 == nil:
		resp.Diagnostics.AddError("Unexpected answer from AuthProxy",
			fmt.Sprintf("GET /api/v1/whoami at %s answered %d: %s. Is endpoint the admin service?", endpoint, who.StatusCode(), problemDetail(who.ApplicationproblemJSONDefault, who.Body)))
		return
	}
	c := &Client{API: api, Endpoint: endpoint}
	resp.ResourceData = c
	resp.DataSourceData = c
}

// clientFrom returns the client the provider configured for resources and data sources, or
// nil before the provider is configured (during validation).
func clientFrom(data any, diags *diag.Diagnostics) *Client {
	if data == nil {
		return nil
	}
	c, ok := data.(*Client)
	if !ok {
		diags.AddError("Unexpected provider data",
			fmt.Sprintf("Expected *provider.Client, got %T. This is a bug in the provider; please report it.", data))
		return nil
	}
	return c
}

func pick(v types.String, env string) string {
	if !v.IsNull() && !v.IsUnknown() && v.ValueString() != "" {
		return v.ValueString()
	}
	return os.Getenv(env)
}

func userAgent(version string) sdk.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("User-Agent", "terraform-provider-authproxy/"+version)
		return nil
	}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (p *authproxyProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewNamespaceResource,
		NewActorResource,
		NewEncryptionKeyResource,
		NewNamespaceKeyResource,
		NewConnectorResource,
		NewConnectorVersionResource,
		NewConnectorPrimaryResource,
	}
}

func (p *authproxyProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewNamespaceDataSource,
		NewNamespacesDataSource,
		NewActorDataSource,
		NewConnectorDataSource,
		NewConnectorVersionsDataSource,
	}
}
