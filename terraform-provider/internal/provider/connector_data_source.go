package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/authproxy/authproxy/sdk"
)

var (
	_ datasource.DataSource                     = (*connectorDataSource)(nil)
	_ datasource.DataSourceWithConfigure        = (*connectorDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*connectorDataSource)(nil)
)

// NewConnectorDataSource returns the authproxy_connector data source.
func NewConnectorDataSource() datasource.DataSource { return &connectorDataSource{} }

type connectorDataSource struct {
	client *Client
}

type connectorDataSourceModel struct {
	ID             types.String `tfsdk:"id"`
	Namespace      types.String `tfsdk:"namespace"`
	Name           types.String `tfsdk:"name"`
	Labels         types.Map    `tfsdk:"labels"`
	Annotations    types.Map    `tfsdk:"annotations"`
	PrimaryVersion types.Int64  `tfsdk:"primary_version"`
	LatestVersion  types.Int64  `tfsdk:"latest_version"`
}

func (d *connectorDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_connector"
}

func (d *connectorDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads one existing connector, by `id` or by `namespace` and `name`, for example to add " +
			"versions to a connector another configuration owns.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: cxIDDescription + " Set it, or `namespace` and `name`.",
			},
			"namespace": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: "Path of the connector's namespace; with `name`, instead of `id`.",
				Validators:          []validator.String{namespacePathValidator()},
			},
			"name": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: cxNameDescription + " With `namespace`, instead of `id`.",
			},
			"labels": schema.MapAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "The connector's labels (an empty map when it has none).",
			},
			"annotations": schema.MapAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "The connector's annotations (an empty map when it has none).",
			},
			"primary_version": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "Number of the primary version; null when no version is primary.",
			},
			"latest_version": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "The highest version number (0 before the first version).",
			},
		},
	}
}

func (d *connectorDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("id"), path.MatchRoot("name")),
		datasourcevalidator.RequiredTogether(path.MatchRoot("namespace"), path.MatchRoot("name")),
		datasourcevalidator.Conflicting(path.MatchRoot("id"), path.MatchRoot("namespace")),
	}
}

func (d *connectorDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if c := clientFrom(req.ProviderData, &resp.Diagnostics); c != nil {
		d.client = c
	}
}

func (d *connectorDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m connectorDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var c *sdk.Connector
	if id := m.ID.ValueString(); id != "" {
		got, found := getConnector(ctx, d.client, id, &resp.Diagnostics)
		if !found && !resp.Diagnostics.HasError() {
			resp.Diagnostics.AddAttributeError(path.Root("id"), "Connector not found",
				fmt.Sprintf("Connector %q does not exist, or the provider's actor may not see it.", id))
		}
		c = got
	} else {
		c = d.findByName(ctx, m.Namespace.ValueString(), m.Name.ValueString(), &resp.Diagnostics)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	m.ID = types.StringValue(c.Id)
	m.Namespace = types.StringValue(c.Namespace)
	m.Name = types.StringValue(c.Name)
	m.LatestVersion = types.Int64Value(int64(c.LatestVersion))
	m.PrimaryVersion = types.Int64Null()
	if c.PrimaryVersion != nil {
		m.PrimaryVersion = types.Int64Value(int64(*c.PrimaryVersion))
	}
	var diags diag.Diagnostics
	m.Labels, diags = nsMapOrEmpty(ctx, c.Labels)
	resp.Diagnostics.Append(diags...)
	m.Annotations, diags = nsMapOrEmpty(ctx, c.Annotations)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// findByName lists the connectors of a namespace for the one named name.
func (d *connectorDataSource) findByName(ctx context.Context, ns, name string, diags *diag.Diagnostics) *sdk.Connector {
	limit := namespacesPageSize
	items, ds := listPages("connectors", func(cursor *string) ([]sdk.Connector, *string, diag.Diagnostics) {
		var ds diag.Diagnostics
		out, err := d.client.API.ListConnectorsWithResponse(ctx, &sdk.ListConnectorsParams{Namespace: &ns, Limit: &limit, Cursor: cursor})
		if err != nil {
			ds.AddError("Cannot list connectors", fmt.Sprintf("Listing the connectors of namespace %q failed: %v.", ns, unwrapURLError(err)))
			return nil, nil, ds
		}
		if out.JSON200 == nil {
			ds.Append(problemDiagnostics(fmt.Sprintf("list the connectors of namespace %q", ns), out.StatusCode(),
				out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
			return nil, nil, ds
		}
		return out.JSON200.Items, out.JSON200.NextCursor, ds
	})
	diags.Append(ds...)
	if diags.HasError() {
		return nil
	}
	for i := range items {
		if items[i].Name == name {
			return &items[i]
		}
	}
	diags.AddAttributeError(path.Root("name"), "Connector not found",
		fmt.Sprintf("Namespace %q has no connector named %q that the provider's actor may see.", ns, name))
	return nil
}
