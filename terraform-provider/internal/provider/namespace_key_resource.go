package provider

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/sdk/names"
)

var (
	_ resource.Resource                = (*namespaceKeyResource)(nil)
	_ resource.ResourceWithConfigure   = (*namespaceKeyResource)(nil)
	_ resource.ResourceWithImportState = (*namespaceKeyResource)(nil)
)

// NewNamespaceKeyResource returns the authproxy_namespace_key resource.
func NewNamespaceKeyResource() resource.Resource { return &namespaceKeyResource{} }

type namespaceKeyResource struct {
	client *Client
}

type namespaceKeyResourceModel struct {
	ID             types.String `tfsdk:"id"`
	Namespace      types.String `tfsdk:"namespace"`
	KeyID          types.String `tfsdk:"key_id"`
	EffectiveKeyID types.String `tfsdk:"effective_key_id"`
}

func (r *namespaceKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_namespace_key"
}

func (r *namespaceKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Assigns an encryption key (`authproxy_encryption_key`) to a namespace: secrets stored in the namespace, " +
			"and in namespaces below it that have no key of their own, are sealed with that key. A namespace without an " +
			"assignment uses the nearest assigned key up its path, or AuthProxy's global root key.\n\n" +
			"Destroying the resource removes the assignment (the key itself stays). Refer to the key's `id` so that Terraform " +
			"removes the assignment before it deletes the key.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The namespace path (same as `namespace`).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"namespace": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Path of the namespace the key is assigned to. " + nsPathDescription + " Changing it replaces the assignment.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          []validator.String{namespacePathValidator()},
			},
			"key_id": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Id (`key_…`) of the key to use: a key in this namespace or in one of its ancestors. " +
					"Changing it re-assigns in place.",
			},
			"effective_key_id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The key the namespace effectively uses, as AuthProxy reports it (with an assignment, `key_id`).",
			},
		},
	}
}

func (r *namespaceKeyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if c := clientFrom(req.ProviderData, &resp.Diagnostics); c != nil {
		r.client = c
	}
}

// nsKeyFieldMapper maps the API's keyId onto key_id.
func nsKeyFieldMapper(field string) (path.Path, bool) {
	if field == "keyId" {
		return path.Root("key_id"), true
	}
	if field == "path" {
		return path.Root("namespace"), true
	}
	return DefaultFieldMapper(field)
}

func (r *namespaceKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan namespaceKeyResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.doAssign(ctx, &plan, &resp.Diagnostics) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

func (r *namespaceKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan namespaceKeyResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.doAssign(ctx, &plan, &resp.Diagnostics) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

// doAssign PUTs the assignment in plan and fills its computed attributes; false on failure.
func (r *namespaceKeyResource) doAssign(ctx context.Context, plan *namespaceKeyResourceModel, diags *diag.Diagnostics) bool {
	ns, key := plan.Namespace.ValueString(), plan.KeyID.ValueString()
	what := fmt.Sprintf("assign key %q to namespace %q", key, ns)
	out, err := r.client.API.AssignNamespaceKeyWithResponse(ctx, ns, sdk.KeyAssign{KeyId: key})
	if err != nil {
		diags.AddError("Cannot assign key", fmt.Sprintf("Trying to %s failed: %v.", what, unwrapURLError(err)))
		return false
	}
	if out.JSON200 == nil {
		diags.Append(problemDiagnostics(what, out.StatusCode(), out.ApplicationproblemJSONDefault, out.Body, nsKeyFieldMapper)...)
		return false
	}
	nsKeyToState(out.JSON200, plan)
	return true
}

func (r *namespaceKeyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state namespaceKeyResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns := state.Namespace.ValueString()
	out, err := r.client.API.GetNamespaceKeyWithResponse(ctx, ns)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read key assignment", fmt.Sprintf("Reading the key of namespace %q failed: %v.", ns, unwrapURLError(err)))
		return
	}
	if out.StatusCode() == http.StatusNotFound {
		resp.State.RemoveResource(ctx)
		return
	}
	if out.JSON200 == nil {
		resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("read the key of namespace %q", ns), out.StatusCode(),
			out.ApplicationproblemJSONDefault, out.Body, nsKeyFieldMapper)...)
		return
	}
	if out.JSON200.KeyId == nil || *out.JSON200.KeyId == "" {
		// Unassigned outside Terraform: plan to assign again.
		resp.State.RemoveResource(ctx)
		return
	}
	nsKeyToState(out.JSON200, &state)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *namespaceKeyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state namespaceKeyResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns := state.Namespace.ValueString()
	out, err := r.client.API.UnassignNamespaceKeyWithResponse(ctx, ns)
	if err != nil {
		resp.Diagnostics.AddError("Cannot remove key assignment", fmt.Sprintf("Unassigning the key of namespace %q failed: %v.", ns, unwrapURLError(err)))
		return
	}
	switch out.StatusCode() {
	case http.StatusNoContent, http.StatusNotFound:
		return
	}
	resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("unassign the key of namespace %q", ns), out.StatusCode(),
		out.ApplicationproblemJSONDefault, out.Body, nsKeyFieldMapper)...)
}

func (r *namespaceKeyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if err := names.ValidateNamespacePath(req.ID); err != nil {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("The import ID is the namespace path, for example root.tenants.acme: %q %v.", req.ID, err))
		return
	}
	resource.ImportStatePassthroughID(ctx, path.Root("namespace"), req, resp)
}

func nsKeyToState(a *sdk.KeyAssignment, m *namespaceKeyResourceModel) {
	m.Namespace = types.StringValue(a.Namespace)
	m.ID = types.StringValue(a.Namespace)
	if a.KeyId != nil {
		m.KeyID = types.StringValue(*a.KeyId)
	}
	if a.EffectiveKeyId != nil {
		m.EffectiveKeyID = types.StringValue(*a.EffectiveKeyId)
	} else {
		m.EffectiveKeyID = types.StringNull()
	}
}
