package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/authproxy/authproxy/sdk"
)

var (
	_ resource.Resource                = (*connectorResource)(nil)
	_ resource.ResourceWithConfigure   = (*connectorResource)(nil)
	_ resource.ResourceWithImportState = (*connectorResource)(nil)
)

// NewConnectorResource returns the authproxy_connector resource.
func NewConnectorResource() resource.Resource { return &connectorResource{} }

type connectorResource struct {
	client *Client
}

type connectorResourceModel struct {
	ID          types.String `tfsdk:"id"`
	Namespace   types.String `tfsdk:"namespace"`
	Name        types.String `tfsdk:"name"`
	Labels      types.Map    `tfsdk:"labels"`
	Annotations types.Map    `tfsdk:"annotations"`
}

// Attribute descriptions shared by the connector resources and data sources.
const (
	cxNameDescription = "Name of the connector, unique in its namespace: 1-63 lowercase letters, digits, `-`, `_` or `.`, " +
		"starting and ending with a letter or digit, for example `github`."
	cxIDDescription        = "The connector id (`cxr_…`)."
	cxConnectorIDReference = "Id (`cxr_…`) of the connector, usually `authproxy_connector.<name>.id`."
	cxStateDescription     = "The version's lifecycle state: `draft` (created, never primary), `primary` (offered for new " +
		"connections; at most one per connector), `active` (was primary, still serves its connections) or `archived`."
)

func (r *connectorResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_connector"
}

func (r *connectorResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A connector: how to authenticate to one third-party system. The connector itself holds only a " +
			"name, labels and annotations; what it does is in its numbered, immutable versions " +
			"(`authproxy_connector_version`), and which version new connections use is `authproxy_connector_primary`. " +
			"See the *Connector versions* guide for the idiom.\n\n" +
			"A connector is only deleted once all its versions are archived: when Terraform manages them, they refer to " +
			"the connector's `id`, so Terraform archives them first.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: cxIDDescription,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"namespace": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Path of the namespace the connector lives in. " + nsPathDescription + " Changing it replaces the connector.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          []validator.String{namespacePathValidator()},
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: cxNameDescription + " Changing it replaces the connector.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"labels": schema.MapAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: nsLabelsDescription + " Labels set outside Terraform are removed on the next apply.",
				Validators:          []validator.Map{labelsValidator()},
			},
			"annotations": schema.MapAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: nsAnnotationsDescription + " Annotations set outside Terraform are removed on the next apply.",
				Validators:          []validator.Map{annotationsValidator()},
			},
		},
	}
}

func (r *connectorResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if c := clientFrom(req.ProviderData, &resp.Diagnostics); c != nil {
		r.client = c
	}
}

func (r *connectorResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan connectorResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	body := sdk.ConnectorCreate{Namespace: plan.Namespace.ValueString(), Name: plan.Name.ValueString()}
	if !plan.Labels.IsNull() {
		l, d := nsStringMap(ctx, plan.Labels)
		resp.Diagnostics.Append(d...)
		body.Labels = (*sdk.Labels)(&l)
	}
	if !plan.Annotations.IsNull() {
		a, d := nsStringMap(ctx, plan.Annotations)
		resp.Diagnostics.Append(d...)
		body.Annotations = (*sdk.Annotations)(&a)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	what := fmt.Sprintf("create connector %q in namespace %q", body.Name, body.Namespace)
	out, err := r.client.API.CreateConnectorWithResponse(ctx, body)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create connector", fmt.Sprintf("Trying to %s failed: %v.", what, unwrapURLError(err)))
		return
	}
	if out.JSON201 == nil {
		resp.Diagnostics.Append(problemDiagnostics(what, out.StatusCode(), out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
		return
	}
	state := plan
	resp.Diagnostics.Append(cxToState(ctx, out.JSON201, &state)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *connectorResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state connectorResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, found := getConnector(ctx, r.client, state.ID.ValueString(), &resp.Diagnostics)
	if !found {
		if !resp.Diagnostics.HasError() {
			resp.State.RemoveResource(ctx)
		}
		return
	}
	resp.Diagnostics.Append(cxToState(ctx, c, &state)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *connectorResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, prior connectorResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	labels, annotations, d := patchMaps(ctx, plan.Labels, plan.Annotations)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := prior.ID.ValueString()
	out, err := r.client.API.UpdateConnectorWithResponse(ctx, id, sdk.ConnectorUpdate{Labels: &labels, Annotations: &annotations})
	if err != nil {
		resp.Diagnostics.AddError("Cannot update connector", fmt.Sprintf("Updating connector %q failed: %v.", id, unwrapURLError(err)))
		return
	}
	if out.JSON200 == nil {
		resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("update connector %q", id), out.StatusCode(),
			out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
		return
	}
	state := plan
	resp.Diagnostics.Append(cxToState(ctx, out.JSON200, &state)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *connectorResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state connectorResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	out, err := r.client.API.DeleteConnectorWithResponse(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Cannot delete connector", fmt.Sprintf("Deleting connector %q failed: %v.", id, unwrapURLError(err)))
		return
	}
	switch out.StatusCode() {
	case http.StatusNoContent, http.StatusNotFound:
		return
	case http.StatusConflict:
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot delete connector %q", id),
			fmt.Sprintf("AuthProxy refused: %s. When Terraform manages the versions (authproxy_connector_version) and the "+
				"primary (authproxy_connector_primary), make them refer to this connector's id so they are removed first.",
				strings.TrimSuffix(problemDetail(out.ApplicationproblemJSONDefault, out.Body), ".")))
		return
	}
	resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("delete connector %q", id), out.StatusCode(),
		out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
}

func (r *connectorResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !validConnectorID(req.ID) {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("The import ID is the connector id (cxr_…), as AuthProxy lists it: %q.", req.ID))
		return
	}
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}

func validConnectorID(s string) bool {
	return strings.HasPrefix(s, "cxr_") && len(s) > len("cxr_") && !strings.ContainsAny(s, "/ ")
}

// getConnector reads a connector; found is false (without a diagnostic) when it does not
// exist or the provider's actor may not see it.
func getConnector(ctx context.Context, c *Client, id string, diags *diag.Diagnostics) (con *sdk.Connector, found bool) {
	out, err := c.API.GetConnectorWithResponse(ctx, id)
	if err != nil {
		diags.AddError("Cannot read connector", fmt.Sprintf("Reading connector %q failed: %v.", id, unwrapURLError(err)))
		return nil, false
	}
	if out.StatusCode() == http.StatusNotFound {
		return nil, false
	}
	if out.JSON200 == nil {
		diags.Append(problemDiagnostics(fmt.Sprintf("read connector %q", id), out.StatusCode(),
			out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
		return nil, false
	}
	return out.JSON200, true
}

// cxToState copies a connector the API returned into m (maps as nsToState does).
func cxToState(ctx context.Context, c *sdk.Connector, m *connectorResourceModel) diag.Diagnostics {
	var diags, d diag.Diagnostics
	m.ID = types.StringValue(c.Id)
	m.Namespace = types.StringValue(c.Namespace)
	m.Name = types.StringValue(c.Name)
	m.Labels, d = nsMapValue(ctx, m.Labels, c.Labels)
	diags.Append(d...)
	m.Annotations, d = nsMapValue(ctx, m.Annotations, c.Annotations)
	diags.Append(d...)
	return diags
}
