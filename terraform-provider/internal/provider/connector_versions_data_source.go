package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/authproxy/authproxy/sdk"
)

var (
	_ datasource.DataSource              = (*connectorVersionsDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*connectorVersionsDataSource)(nil)
)

// NewConnectorVersionsDataSource returns the authproxy_connector_versions data source.
func NewConnectorVersionsDataSource() datasource.DataSource { return &connectorVersionsDataSource{} }

type connectorVersionsDataSource struct {
	client *Client
}

type connectorVersionsDataSourceModel struct {
	ConnectorID types.String                `tfsdk:"connector_id"`
	State       types.String                `tfsdk:"state"`
	Versions    []connectorVersionItemModel `tfsdk:"versions"`
}

type connectorVersionItemModel struct {
	Version        types.Int64  `tfsdk:"version"`
	State          types.String `tfsdk:"state"`
	DefinitionHash types.String `tfsdk:"definition_hash"`
	PublishedAt    types.String `tfsdk:"published_at"`
}

func (d *connectorVersionsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_connector_versions"
}

func (d *connectorVersionsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the versions of a connector, newest first, optionally only those in one state " +
			"(for example the `active` versions that still serve connections).",
		Attributes: map[string]schema.Attribute{
			"connector_id": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: cxConnectorIDReference,
			},
			"state": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Only versions in this state: `draft`, `primary`, `active` or `archived`. Omit for all.",
				Validators: []validator.String{stringvalidator.OneOf(string(sdk.ConnectorVersionDraft), string(sdk.ConnectorVersionPrimary),
					string(sdk.ConnectorVersionActive), string(sdk.ConnectorVersionArchived))},
			},
			"versions": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The matching versions, newest first.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"version": schema.Int64Attribute{
							Computed:            true,
							MarkdownDescription: "The version's number.",
						},
						"state": schema.StringAttribute{
							Computed:            true,
							MarkdownDescription: cxStateDescription,
						},
						"definition_hash": schema.StringAttribute{
							Computed:            true,
							MarkdownDescription: "`sha256:` and the hex SHA-256 of the normalised definition.",
						},
						"published_at": schema.StringAttribute{
							Computed:            true,
							MarkdownDescription: "When the version first became primary (RFC 3339, UTC); null for a version never promoted.",
						},
					},
				},
			},
		},
	}
}

func (d *connectorVersionsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if c := clientFrom(req.ProviderData, &resp.Diagnostics); c != nil {
		d.client = c
	}
}

func (d *connectorVersionsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m connectorVersionsDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cid := m.ConnectorID.ValueString()
	var params sdk.ListConnectorVersionsParams
	if s := m.State.ValueString(); s != "" {
		st := sdk.ConnectorVersionState(s)
		params.State = &st
	}
	out, err := d.client.API.ListConnectorVersionsWithResponse(ctx, cid, &params)
	if err != nil {
		resp.Diagnostics.AddError("Cannot list connector versions", fmt.Sprintf("Listing the versions of connector %q failed: %v.", cid, unwrapURLError(err)))
		return
	}
	if out.JSON200 == nil {
		resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("list the versions of connector %q", cid), out.StatusCode(),
			out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
		return
	}
	m.Versions = make([]connectorVersionItemModel, 0, len(out.JSON200.Items))
	for _, v := range out.JSON200.Items {
		item := connectorVersionItemModel{
			Version:        types.Int64Value(int64(v.Version)),
			State:          types.StringValue(string(v.State)),
			DefinitionHash: types.StringValue(v.DefinitionHash),
			PublishedAt:    types.StringNull(),
		}
		if v.PublishedAt != nil {
			item.PublishedAt = types.StringValue(nsTime(*v.PublishedAt))
		}
		m.Versions = append(m.Versions, item)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
