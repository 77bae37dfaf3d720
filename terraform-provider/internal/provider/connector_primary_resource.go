package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ resource.Resource                = (*connectorPrimaryResource)(nil)
	_ resource.ResourceWithConfigure   = (*connectorPrimaryResource)(nil)
	_ resource.ResourceWithImportState = (*connectorPrimaryResource)(nil)
)

// NewConnectorPrimaryResource returns the authproxy_connector_primary resource.
func NewConnectorPrimaryResource() resource.Resource { return &connectorPrimaryResource{} }

type connectorPrimaryResource struct {
	client *Client
}

type connectorPrimaryResourceModel struct {
	ID          types.String `tfsdk:"id"`
	ConnectorID types.String `tfsdk:"connector_id"`
	Version     types.Int64  `tfsdk:"version"`
}

func (r *connectorPrimaryResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_connector_primary"
}

func (r *connectorPrimaryResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Which version of a connector is primary: the one offered for new connections. Changing " +
			"`version` and applying **is** the promotion (the plan shows `~ version = 1 -> 2`); the previous primary becomes " +
			"`active` and keeps serving its connections. Pointing back is the rollback. Use one per connector.\n\n" +
			"Terraform reads the connector's real primary, so a promotion made outside Terraform shows as a change to plan. " +
			"Destroying the resource demotes the primary (the connector then offers no new connections), so destroying a " +
			"whole configuration works in Terraform's own order: this pointer, then the versions (archived), then the connector.\n\n" +
			"Refer to the version resource (`authproxy_connector_version.v[\"v2\"].version`) rather than writing the number, " +
			"so that Terraform creates a version before pointing at it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The connector id (same as `connector_id`).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"connector_id": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: cxConnectorIDReference + " Changing it replaces the resource (demoting the old connector's primary).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"version": schema.Int64Attribute{
				Required: true,
				MarkdownDescription: "Number of the version to make primary, usually `authproxy_connector_version.<name>.version`. " +
					"It must be a `draft` or `active` version (an archived one cannot be promoted). Changing it promotes " +
					"the new version in place.",
				Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
		},
	}
}

func (r *connectorPrimaryResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if c := clientFrom(req.ProviderData, &resp.Diagnostics); c != nil {
		r.client = c
	}
}

func (r *connectorPrimaryResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan connectorPrimaryResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !resp.Diagnostics.HasError() && r.promote(ctx, &plan, &resp.Diagnostics) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

func (r *connectorPrimaryResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan connectorPrimaryResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !resp.Diagnostics.HasError() && r.promote(ctx, &plan, &resp.Diagnostics) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

// promote makes the planned version primary and fills plan's computed id; false on failure.
func (r *connectorPrimaryResource) promote(ctx context.Context, plan *connectorPrimaryResourceModel, diags *diag.Diagnostics) bool {
	cid, n := plan.ConnectorID.ValueString(), int(plan.Version.ValueInt64())
	what := fmt.Sprintf("promote version %d of connector %q", n, cid)
	out, err := r.client.API.PromoteConnectorVersionWithResponse(ctx, cid, n)
	if err != nil {
		diags.AddError("Cannot promote connector version", fmt.Sprintf("Trying to %s failed: %v.", what, unwrapURLError(err)))
		return false
	}
	if out.JSON200 == nil {
		if out.StatusCode() == http.StatusConflict {
			diags.AddAttributeError(path.Root("version"), "Cannot "+what,
				fmt.Sprintf("AuthProxy refused: %s.", strings.TrimSuffix(problemDetail(out.ApplicationproblemJSONDefault, out.Body), ".")))
			return false
		}
		diags.Append(problemDiagnostics(what, out.StatusCode(), out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
		return false
	}
	plan.ID = types.StringValue(cid)
	plan.Version = types.Int64Value(int64(out.JSON200.Version))
	return true
}

func (r *connectorPrimaryResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state connectorPrimaryResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, found := getConnector(ctx, r.client, state.ConnectorID.ValueString(), &resp.Diagnostics)
	if !found || c.PrimaryVersion == nil {
		// The connector is gone, or has no primary (demoted outside Terraform): plan to promote again.
		if !resp.Diagnostics.HasError() {
			resp.State.RemoveResource(ctx)
		}
		return
	}
	// The server's primary, whoever made it: a promotion outside Terraform shows as a change.
	state.ID = types.StringValue(c.Id)
	state.ConnectorID = types.StringValue(c.Id)
	state.Version = types.Int64Value(int64(*c.PrimaryVersion))
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Delete demotes the primary: the connector offers no new connections until a version is
// promoted again, and every version can then be archived.
func (r *connectorPrimaryResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state connectorPrimaryResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cid := state.ConnectorID.ValueString()
	out, err := r.client.API.DemoteConnectorWithResponse(ctx, cid)
	if err != nil {
		resp.Diagnostics.AddError("Cannot demote connector", fmt.Sprintf("Demoting the primary of connector %q failed: %v.", cid, unwrapURLError(err)))
		return
	}
	if out.JSON200 != nil || out.StatusCode() == http.StatusNotFound {
		return
	}
	resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("demote the primary of connector %q", cid), out.StatusCode(),
		out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
}

func (r *connectorPrimaryResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !validConnectorID(req.ID) {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("The import ID is the connector id (cxr_…), as AuthProxy lists it: %q.", req.ID))
		return
	}
	resource.ImportStatePassthroughID(ctx, path.Root("connector_id"), req, resp)
}
