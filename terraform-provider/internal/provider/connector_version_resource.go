package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/authproxy/authproxy/sdk"
)

var (
	_ resource.Resource                = (*connectorVersionResource)(nil)
	_ resource.ResourceWithConfigure   = (*connectorVersionResource)(nil)
	_ resource.ResourceWithImportState = (*connectorVersionResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*connectorVersionResource)(nil)
)

// NewConnectorVersionResource returns the authproxy_connector_version resource.
func NewConnectorVersionResource() resource.Resource { return &connectorVersionResource{} }

type connectorVersionResource struct {
	client *Client
}

type connectorVersionResourceModel struct {
	ID                    types.String     `tfsdk:"id"`
	ConnectorID           types.String     `tfsdk:"connector_id"`
	Definition            definitionValueT `tfsdk:"definition"`
	ClientSecretWO        types.String     `tfsdk:"client_secret_wo"`
	ClientSecretWOVersion types.Int64      `tfsdk:"client_secret_wo_version"`
	Version               types.Int64      `tfsdk:"version"`
	State                 types.String     `tfsdk:"state"`
	DefinitionHash        types.String     `tfsdk:"definition_hash"`
	HasClientSecret       types.Bool       `tfsdk:"has_client_secret"`
}

func (r *connectorVersionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_connector_version"
}

func (r *connectorVersionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "One numbered, immutable version of a connector's definition. Creating it adds a `draft`; it only " +
			"serves new connections once `authproxy_connector_primary` points at it. Every argument forces a new version, " +
			"so changing a definition in place is impossible by design: write the change as a new version (a new `for_each` " +
			"key, a new file) and move the primary to it in a later, reviewed change. See the *Connector versions* guide.\n\n" +
			"Destroying the resource **archives** the version (it stays in the connector's history). Archiving the primary " +
			"is refused: point `authproxy_connector_primary` at another version first.\n\n" +
			"The definition is checked by AuthProxy at `plan`, so a mistake fails the plan naming the field and line.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<connector_id>/<version>`, for example `cxr_0123/2`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"connector_id": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: cxConnectorIDReference + " Changing it creates a version of the other connector.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"definition": schema.StringAttribute{
				Required:   true,
				CustomType: definitionType{},
				MarkdownDescription: "The definition as YAML or JSON text, usually `file(\"connectors/github/v3.yaml\")` or " +
					"`jsonencode({...})`, described by the JSON Schema AuthProxy serves at `/schemas/connector-definition.json`. " +
					"Changes of formatting only (indentation, key order, comments, YAML versus JSON) are not changes; " +
					"any other change creates a new version. An OAuth2 client secret never goes here: set " +
					"`auth.oauth2.clientSecretRef: version` and pass the secret in `client_secret_wo`.",
				PlanModifiers: []planmodifier.String{sameDefinitionKeepsState(), stringplanmodifier.RequiresReplace()},
			},
			"client_secret_wo": schema.StringAttribute{
				Optional:  true,
				WriteOnly: true,
				Sensitive: true,
				MarkdownDescription: "The OAuth2 client secret of this version, required when the definition's " +
					"`auth.oauth2.clientSecretRef` is `version` and refused otherwise. Write-only: sent when the version is " +
					"created, stored encrypted by AuthProxy, never kept in Terraform state or plans. Requires " +
					"`client_secret_wo_version`; since a version is immutable, rolling out a new secret means a new version: " +
					"change `client_secret_wo_version`.",
				Validators: []validator.String{
					stringvalidator.LengthBetween(1, 4096),
					stringvalidator.AlsoRequires(path.MatchRoot("client_secret_wo_version")),
				},
			},
			"client_secret_wo_version": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "Any number that identifies the value of `client_secret_wo` (Terraform cannot see " +
					"write-only values, so it compares this instead). Changing it creates a new version with the secret " +
					"currently in `client_secret_wo`. Setting it on an imported version, which has none in state, only records it.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplaceIf(
					func(_ context.Context, req planmodifier.Int64Request, resp *int64planmodifier.RequiresReplaceIfFuncResponse) {
						resp.RequiresReplace = !req.StateValue.IsNull()
					},
					"Changing it creates a new version (setting it where state has none, after an import, does not).",
					"Changing it creates a new version (setting it where state has none, after an import, does not).",
				)},
			},
			"version": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "The version's number: one more than the connector's latest version when it was created.",
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"state": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: cxStateDescription + " It changes when `authproxy_connector_primary` moves; Terraform " +
					"reads it and never plans to change it.",
			},
			"definition_hash": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`sha256:` and the hex SHA-256 of the normalised definition: equal hashes mean equal definitions.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"has_client_secret": schema.BoolAttribute{
				Computed:            true,
				MarkdownDescription: "Whether AuthProxy holds a client secret for this version (the secret itself is never returned).",
				PlanModifiers:       []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *connectorVersionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if c := clientFrom(req.ProviderData, &resp.Diagnostics); c != nil {
		r.client = c
	}
}

// ModifyPlan checks a definition that is about to become a new version with AuthProxy, so
// that a mistake fails the plan naming the field, and checks that a client secret is given
// exactly when the definition takes one.
func (r *connectorVersionResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan connectorVersionResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var secret types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("client_secret_wo"), &secret)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !req.State.Raw.IsNull() {
		var prior connectorVersionResourceModel
		resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
		if resp.Diagnostics.HasError() {
			return
		}
		replaced := !plan.Definition.Equal(prior.Definition) || !plan.ConnectorID.Equal(prior.ConnectorID) ||
			(!prior.ClientSecretWOVersion.IsNull() && !plan.ClientSecretWOVersion.Equal(prior.ClientSecretWOVersion))
		if !replaced {
			// The same version: its state is whatever the last read found, not unknown
			// (the framework marks computed attributes unknown when any text changed,
			// such as a reformatted definition that sameDefinitionKeepsState put back).
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("state"), prior.State)...)
			return
		}
	}
	if r.client == nil || plan.Definition.IsUnknown() || plan.Definition.IsNull() {
		return
	}
	src := plan.Definition.ValueString()
	out, err := r.client.API.ValidateConnectorDefinitionWithResponse(ctx, sdk.ConnectorDefinitionInput{Definition: src})
	if err != nil {
		resp.Diagnostics.AddError("Cannot validate connector definition",
			fmt.Sprintf("Asking AuthProxy to validate the definition failed: %v.", unwrapURLError(err)))
		return
	}
	if out.JSON200 == nil {
		resp.Diagnostics.Append(problemDiagnostics("validate the connector definition", out.StatusCode(),
			out.ApplicationproblemJSONDefault, out.Body, cvFieldMapper)...)
		return
	}
	if !out.JSON200.Valid {
		for _, e := range out.JSON200.Errors {
			resp.Diagnostics.AddAttributeError(path.Root("definition"), "Invalid connector definition", definitionErrorText(e)+".")
		}
		return
	}
	needs := definitionTakesClientSecret(src)
	switch {
	case needs && secret.IsNull():
		resp.Diagnostics.AddAttributeError(path.Root("client_secret_wo"), "Missing client secret",
			"The definition's auth.oauth2.clientSecretRef is \"version\": set client_secret_wo (and client_secret_wo_version) "+
				"to the OAuth2 client secret, for example from an ephemeral variable.")
	case !needs && !secret.IsNull():
		resp.Diagnostics.AddAttributeError(path.Root("client_secret_wo"), "Unexpected client secret",
			"The definition takes no client secret (auth.oauth2.clientSecretRef is not \"version\"): remove client_secret_wo "+
				"and client_secret_wo_version, or set clientSecretRef: version in the definition.")
	}
}

// definitionErrorText renders one error of a definition: "field (line N): message".
func definitionErrorText(e sdk.DefinitionError) string {
	where := e.Field
	if where == "" {
		where = "the definition"
	}
	if e.Line != nil && *e.Line > 0 {
		where += fmt.Sprintf(" (line %d)", *e.Line)
	}
	return where + ": " + strings.TrimSuffix(e.Message, ".")
}

// definitionTakesClientSecret says whether a (valid) definition's OAuth2 client secret comes
// with the version.
func definitionTakesClientSecret(src string) bool {
	n, err := normalizeDefinition(src)
	if err != nil {
		return false
	}
	var d struct {
		Auth struct {
			OAuth2 *struct {
				ClientSecretRef string `json:"clientSecretRef"`
			} `json:"oauth2"`
		} `json:"auth"`
	}
	if json.Unmarshal(n, &d) != nil || d.Auth.OAuth2 == nil {
		return false
	}
	return d.Auth.OAuth2.ClientSecretRef == "version"
}

// cvFieldMapper maps the API's fields onto attributes: definition.<path> is the definition
// (the path stays in the message), clientSecret is client_secret_wo.
func cvFieldMapper(field string) (path.Path, bool) {
	switch {
	case field == "clientSecret":
		return path.Root("client_secret_wo"), true
	case field == "definition" || strings.HasPrefix(field, "definition."):
		return path.Root("definition"), true
	}
	return DefaultFieldMapper(field)
}

// cvProblem keeps the definition's field path in the message of each error on it, since
// the diagnostic names the definition attribute only.
func cvProblem(p *sdk.Problem) *sdk.Problem {
	if p == nil || p.Errors == nil {
		return p
	}
	cp := *p
	errs := make([]sdk.FieldError, len(*p.Errors))
	copy(errs, *p.Errors)
	for i, fe := range errs {
		if f, ok := strings.CutPrefix(fe.Field, "definition."); ok {
			errs[i].Message = f + ": " + fe.Message
		}
	}
	cp.Errors = &errs
	return &cp
}

func (r *connectorVersionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan connectorVersionResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var secret types.String
	// Write-only: only the configuration holds it.
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("client_secret_wo"), &secret)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cid := plan.ConnectorID.ValueString()
	body := sdk.ConnectorVersionCreate{Definition: plan.Definition.ValueString()}
	if !secret.IsNull() && !secret.IsUnknown() {
		s := secret.ValueString()
		body.ClientSecret = &s
	}
	what := fmt.Sprintf("create a version of connector %q", cid)
	out, err := r.client.API.CreateConnectorVersionWithResponse(ctx, cid, body)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create connector version", fmt.Sprintf("Trying to %s failed: %v.", what, unwrapURLError(err)))
		return
	}
	if out.JSON201 == nil {
		resp.Diagnostics.Append(problemDiagnostics(what, out.StatusCode(), cvProblem(out.ApplicationproblemJSONDefault), out.Body, cvFieldMapper)...)
		return
	}
	state := plan
	cvToState(out.JSON201, &state)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *connectorVersionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state connectorVersionResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cid, n := state.ConnectorID.ValueString(), int(state.Version.ValueInt64())
	out, err := r.client.API.GetConnectorVersionWithResponse(ctx, cid, n)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read connector version", fmt.Sprintf("Reading version %d of connector %q failed: %v.", n, cid, unwrapURLError(err)))
		return
	}
	if out.StatusCode() == http.StatusNotFound {
		resp.State.RemoveResource(ctx)
		return
	}
	if out.JSON200 == nil {
		resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("read version %d of connector %q", n, cid), out.StatusCode(),
			out.ApplicationproblemJSONDefault, out.Body, cvFieldMapper)...)
		return
	}
	// The configured text stays in state while it is the definition AuthProxy holds (a
	// version's definition never changes once published; a draft can be edited through the
	// API, and then the server's definition shows as a change to plan).
	if h, err := definitionHash(state.Definition.ValueString()); state.Definition.IsNull() || err != nil || h != out.JSON200.DefinitionHash {
		def, err := definitionFromBody(out.Body)
		if err != nil {
			resp.Diagnostics.AddError("Unexpected answer from AuthProxy", fmt.Sprintf("Version %d of connector %q: %v.", n, cid, err))
			return
		}
		state.Definition = newDefinitionValue(def)
	}
	cvToState(out.JSON200, &state)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update only records client_secret_wo_version where state had none (after an import):
// every other change replaces the version.
func (r *connectorVersionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state connectorVersionResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	state.ClientSecretWOVersion = plan.ClientSecretWOVersion
	state.ClientSecretWO = types.StringNull()
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Delete archives the version; AuthProxy refuses to archive the primary.
func (r *connectorVersionResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state connectorVersionResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cid, n := state.ConnectorID.ValueString(), int(state.Version.ValueInt64())
	out, err := r.client.API.ArchiveConnectorVersionWithResponse(ctx, cid, n)
	if err != nil {
		resp.Diagnostics.AddError("Cannot archive connector version", fmt.Sprintf("Archiving version %d of connector %q failed: %v.", n, cid, unwrapURLError(err)))
		return
	}
	switch {
	case out.JSON200 != nil, out.StatusCode() == http.StatusNotFound:
		return
	case out.StatusCode() == http.StatusConflict:
		// The server's message says what to do ("version N is primary; point
		// authproxy_connector_primary at another version first"): show it as it is.
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot archive version %d of connector %s", n, cid),
			problemDetail(out.ApplicationproblemJSONDefault, out.Body))
		return
	}
	resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("archive version %d of connector %q", n, cid), out.StatusCode(),
		out.ApplicationproblemJSONDefault, out.Body, cvFieldMapper)...)
}

func (r *connectorVersionResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	cid, num, ok := strings.Cut(req.ID, "/")
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n < 1 || !validConnectorID(cid) {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("The import ID is <connector_id>/<version>, for example cxr_0123abcd/2: %q.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("connector_id"), cid)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("version"), n)...)
}

// cvToState copies a version the API returned into m; the definition text, the secret and
// its version are the configuration's and are left alone.
func cvToState(v *sdk.ConnectorVersion, m *connectorVersionResourceModel) {
	m.ID = types.StringValue(fmt.Sprintf("%s/%d", v.ConnectorId, v.Version))
	m.ConnectorID = types.StringValue(v.ConnectorId)
	m.Version = types.Int64Value(int64(v.Version))
	m.State = types.StringValue(string(v.State))
	m.DefinitionHash = types.StringValue(v.DefinitionHash)
	m.HasClientSecret = types.BoolValue(v.HasClientSecret)
	m.ClientSecretWO = types.StringNull()
}
