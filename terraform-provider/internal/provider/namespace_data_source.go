package provider

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/authproxy/authproxy/sdk"
)

var (
	_ datasource.DataSource              = (*namespaceDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*namespaceDataSource)(nil)
)

// NewNamespaceDataSource returns the authproxy_namespace data source.
func NewNamespaceDataSource() datasource.DataSource { return &namespaceDataSource{} }

type namespaceDataSource struct {
	client *Client
}

type namespaceDataSourceModel struct {
	ID          types.String `tfsdk:"id"`
	Path        types.String `tfsdk:"path"`
	Labels      types.Map    `tfsdk:"labels"`
	Annotations types.Map    `tfsdk:"annotations"`
	CreatedAt   types.String `tfsdk:"created_at"`
}

func (d *namespaceDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_namespace"
}

func (d *namespaceDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads one existing namespace by path, for example one created outside this configuration.",
		Attributes: map[string]schema.Attribute{
			"path": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: nsPathDescription + " The namespace must exist and be visible to the provider's actor.",
				Validators:          []validator.String{namespacePathValidator()},
			},
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The namespace path (same as `path`).",
			},
			"labels": schema.MapAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "The namespace's labels (an empty map when it has none).",
			},
			"annotations": schema.MapAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "The namespace's annotations (an empty map when it has none).",
			},
			"created_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: nsCreatedAtDescription,
			},
		},
	}
}

func (d *namespaceDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if c := clientFrom(req.ProviderData, &resp.Diagnostics); c != nil {
		d.client = c
	}
}

func (d *namespaceDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m namespaceDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p := m.Path.ValueString()
	out, err := d.client.API.GetNamespaceWithResponse(ctx, p)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read namespace", fmt.Sprintf("Reading namespace %q failed: %v.", p, unwrapURLError(err)))
		return
	}
	if out.JSON200 == nil {
		if out.StatusCode() == http.StatusNotFound {
			resp.Diagnostics.AddAttributeError(path.Root("path"), "Namespace not found",
				fmt.Sprintf("Namespace %q does not exist, or the provider's actor may not see it. Check the path; "+
					"if this configuration creates the namespace, refer to the authproxy_namespace resource instead of this data source.", p))
			return
		}
		resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("read namespace %q", p), out.StatusCode(),
			out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
		return
	}
	resp.Diagnostics.Append(nsToDataModel(ctx, out.JSON200, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func nsToDataModel(ctx context.Context, n *sdk.Namespace, m *namespaceDataSourceModel) diag.Diagnostics {
	var diags diag.Diagnostics
	m.ID = types.StringValue(n.Path)
	m.Path = types.StringValue(n.Path)
	m.CreatedAt = types.StringValue(nsTime(n.CreatedAt))
	var d diag.Diagnostics
	m.Labels, d = nsMapOrEmpty(ctx, n.Labels)
	diags.Append(d...)
	m.Annotations, d = nsMapOrEmpty(ctx, n.Annotations)
	diags.Append(d...)
	return diags
}

// nsMapOrEmpty is a known map value, {} for nil.
func nsMapOrEmpty(ctx context.Context, m map[string]string) (types.Map, diag.Diagnostics) {
	if m == nil {
		m = map[string]string{}
	}
	return types.MapValueFrom(ctx, types.StringType, m)
}
