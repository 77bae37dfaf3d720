package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
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
	_ resource.Resource                = (*namespaceResource)(nil)
	_ resource.ResourceWithConfigure   = (*namespaceResource)(nil)
	_ resource.ResourceWithImportState = (*namespaceResource)(nil)
)

// NewNamespaceResource returns the authproxy_namespace resource.
func NewNamespaceResource() resource.Resource { return &namespaceResource{} }

type namespaceResource struct {
	client *Client
}

type namespaceResourceModel struct {
	ID          types.String `tfsdk:"id"`
	Path        types.String `tfsdk:"path"`
	Labels      types.Map    `tfsdk:"labels"`
	Annotations types.Map    `tfsdk:"annotations"`
	CreatedAt   types.String `tfsdk:"created_at"`
}

// Attribute descriptions shared by the resource and the data sources.
const (
	nsPathDescription = "Dot-separated path of the namespace, starting at `root`, for example `root.tenants.acme`. " +
		"Segments are lowercase letters, digits, `_` or `-` (not starting with `-`), at most 63 characters; " +
		"a path has at most 16 segments and 253 characters."
	nsLabelsDescription = "Kubernetes-style labels: keys are `[prefix/]name` (name at most 63 alphanumerics, `-`, `_` or `.`, " +
		"starting and ending with an alphanumeric; prefix a lowercase DNS subdomain), values at most 63 such characters or empty. " +
		"Label selectors (see the `authproxy_namespaces` data source) match on them."
	nsAnnotationsDescription = "Free-form annotations: keys follow the label key rules, values are arbitrary strings " +
		"(at most 256 KiB in total). Not used for selection."
	nsCreatedAtDescription = "When the namespace was created (RFC 3339, UTC)."
)

func (r *namespaceResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_namespace"
}

func (r *namespaceResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A namespace: one node of AuthProxy's namespace tree. Every actor, connector and connection " +
			"lives in a namespace, and permissions are granted on namespaces or whole subtrees (`root.tenants.**`).\n\n" +
			"A namespace is created under an existing parent, so create parents first: refer to the parent resource's " +
			"`path` when building the child's (`\"${authproxy_namespace.tenants.path}.acme\"`) and Terraform orders them for you. " +
			"A namespace is only deleted once it has no child namespaces and holds no resources.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The namespace path (same as `path`).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"path": schema.StringAttribute{
				Required: true,
				MarkdownDescription: nsPathDescription + " The parent (the path without its last segment) must already exist; " +
					"`root` itself always exists and cannot be managed. Changing the path replaces the namespace.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{namespacePathValidator(), nsNotRootValidator()},
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
			"created_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: nsCreatedAtDescription,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *namespaceResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if c := clientFrom(req.ProviderData, &resp.Diagnostics); c != nil {
		r.client = c
	}
}

func (r *namespaceResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan namespaceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	body := sdk.NamespaceCreate{Path: plan.Path.ValueString()}
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
	out, err := r.client.API.CreateNamespaceWithResponse(ctx, body)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create namespace", fmt.Sprintf("Creating namespace %q failed: %v.", body.Path, unwrapURLError(err)))
		return
	}
	if out.JSON201 == nil {
		resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("create namespace %q", body.Path), out.StatusCode(),
			nsCreateProblem(out.ApplicationproblemJSONDefault), out.Body, DefaultFieldMapper)...)
		return
	}
	state := plan
	resp.Diagnostics.Append(nsToState(ctx, out.JSON201, &state)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *namespaceResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state namespaceResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p := state.Path.ValueString()
	out, err := r.client.API.GetNamespaceWithResponse(ctx, p)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read namespace", fmt.Sprintf("Reading namespace %q failed: %v.", p, unwrapURLError(err)))
		return
	}
	if out.StatusCode() == http.StatusNotFound {
		// Deleted outside Terraform (or no longer visible): plan to create it again.
		resp.State.RemoveResource(ctx)
		return
	}
	if out.JSON200 == nil {
		resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("read namespace %q", p), out.StatusCode(),
			out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
		return
	}
	resp.Diagnostics.Append(nsToState(ctx, out.JSON200, &state)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *namespaceResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan namespaceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	labels, annotations, d := patchMaps(ctx, plan.Labels, plan.Annotations)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	p := plan.Path.ValueString()
	out, err := r.client.API.UpdateNamespaceWithResponse(ctx, p, sdk.NamespaceUpdate{Labels: &labels, Annotations: &annotations})
	if err != nil {
		resp.Diagnostics.AddError("Cannot update namespace", fmt.Sprintf("Updating namespace %q failed: %v.", p, unwrapURLError(err)))
		return
	}
	if out.JSON200 == nil {
		resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("update namespace %q", p), out.StatusCode(),
			out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
		return
	}
	state := plan
	resp.Diagnostics.Append(nsToState(ctx, out.JSON200, &state)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *namespaceResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state namespaceResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p := state.Path.ValueString()
	out, err := r.client.API.DeleteNamespaceWithResponse(ctx, p)
	if err != nil {
		resp.Diagnostics.AddError("Cannot delete namespace", fmt.Sprintf("Deleting namespace %q failed: %v.", p, unwrapURLError(err)))
		return
	}
	switch out.StatusCode() {
	case http.StatusNoContent, http.StatusNotFound:
		// Gone already counts as deleted.
		return
	case http.StatusConflict:
		// The shared 409 hint is about creating; a delete conflict means the namespace is not empty.
		resp.Diagnostics.AddAttributeError(path.Root("path"), fmt.Sprintf("Cannot delete namespace %q", p),
			fmt.Sprintf("AuthProxy refused: %s. Delete its child namespaces and the resources it holds first; "+
				"when Terraform manages them, make them refer to this namespace (for example through its path) so they are destroyed before it.",
				strings.TrimSuffix(problemDetail(out.ApplicationproblemJSONDefault, out.Body), ".")))
		return
	}
	resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("delete namespace %q", p), out.StatusCode(),
		out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
}

func (r *namespaceResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if err := names.ValidateNamespacePath(req.ID); err != nil {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("The import ID is the namespace path, for example root.tenants.acme: %q %v.", req.ID, err))
		return
	}
	resource.ImportStatePassthroughID(ctx, path.Root("path"), req, resp)
}

// nsNotRootValidator refuses "root": it always exists and is not Terraform's to create or delete.
func nsNotRootValidator() validator.String {
	return stringCheck{desc: "namespace path", check: func(p string) error {
		if p == "root" {
			return fmt.Errorf("is the root namespace, which always exists and cannot be created or deleted; " +
				"manage namespaces below it (root.<name>), and read root with the authproxy_namespace data source if you need it")
		}
		return nil
	}}
}

// nsCreateProblem adds what to do to the server's "parent namespace ... does not exist".
func nsCreateProblem(p *sdk.Problem) *sdk.Problem {
	if p == nil || p.Errors == nil {
		return p
	}
	cp := *p
	errs := make([]sdk.FieldError, len(*p.Errors))
	copy(errs, *p.Errors)
	for i, fe := range errs {
		if fe.Field == "path" && strings.HasPrefix(fe.Message, "parent namespace") && strings.HasSuffix(fe.Message, "does not exist") {
			errs[i].Message = fe.Message + "; create the parent first (for example with its own authproxy_namespace resource, " +
				"and build this path from that resource's path attribute so Terraform creates the parent before the child)"
		}
	}
	cp.Errors = &errs
	return &cp
}

// nsToState copies a namespace the API returned into m. A map the API returns empty stays
// null when m had it null (the user left the attribute out) and becomes {} otherwise.
func nsToState(ctx context.Context, n *sdk.Namespace, m *namespaceResourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	m.Path = types.StringValue(n.Path)
	m.ID = types.StringValue(n.Path)
	m.CreatedAt = types.StringValue(nsTime(n.CreatedAt))
	var d diag.Diagnostics
	m.Labels, d = nsMapValue(ctx, m.Labels, n.Labels)
	diags.Append(d...)
	m.Annotations, d = nsMapValue(ctx, m.Annotations, n.Annotations)
	diags.Append(d...)
	return diags
}

// nsMapValue is the state value of a map attribute whose prior (or planned) value was prior
// and whose value on the server is got.
func nsMapValue(ctx context.Context, prior types.Map, got map[string]string) (types.Map, diag.Diagnostics) {
	if len(got) == 0 {
		if prior.IsNull() || prior.IsUnknown() {
			return types.MapNull(types.StringType), nil
		}
		return types.MapValueMust(types.StringType, map[string]attr.Value{}), nil
	}
	return types.MapValueFrom(ctx, types.StringType, got)
}

// patchMaps reads the labels and annotations attributes for a PATCH, which replaces each
// map given: both are always sent, so an attribute left out clears its map.
func patchMaps(ctx context.Context, labels, annotations types.Map) (sdk.Labels, sdk.Annotations, diag.Diagnostics) {
	l, diags := nsStringMap(ctx, labels)
	a, d := nsStringMap(ctx, annotations)
	diags.Append(d...)
	return sdk.Labels(l), sdk.Annotations(a), diags
}

// nsStringMap reads a map attribute; null and unknown give an empty (non-nil) map.
func nsStringMap(ctx context.Context, m types.Map) (map[string]string, diag.Diagnostics) {
	out := map[string]string{}
	if m.IsNull() || m.IsUnknown() {
		return out, nil
	}
	diags := m.ElementsAs(ctx, &out, false)
	return out, diags
}

// nsTime renders a server timestamp for state: RFC 3339 in UTC, to the second.
func nsTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
