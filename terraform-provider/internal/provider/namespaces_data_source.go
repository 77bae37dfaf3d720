package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/authproxy/authproxy/sdk"
)

var (
	_ datasource.DataSource              = (*namespacesDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*namespacesDataSource)(nil)
)

// namespacesPageSize is the page size asked for; the contract's maximum.
const namespacesPageSize = 500

// maxNamespacePages stops a server that keeps answering with a cursor.
const maxNamespacePages = 10000

// NewNamespacesDataSource returns the authproxy_namespaces data source.
func NewNamespacesDataSource() datasource.DataSource { return &namespacesDataSource{} }

type namespacesDataSource struct {
	client *Client
}

type namespacesDataSourceModel struct {
	ChildrenOf    types.String          `tfsdk:"children_of"`
	LabelSelector types.String          `tfsdk:"label_selector"`
	Namespaces    []namespacesItemModel `tfsdk:"namespaces"`
	Paths         []types.String        `tfsdk:"paths"`
}

type namespacesItemModel struct {
	Path        types.String `tfsdk:"path"`
	Labels      types.Map    `tfsdk:"labels"`
	Annotations types.Map    `tfsdk:"annotations"`
}

func (d *namespacesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_namespaces"
}

func (d *namespacesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the namespaces the provider's actor may list, ordered by path, optionally only the direct " +
			"children of one namespace and only those matching a label selector. Every page is read.",
		Attributes: map[string]schema.Attribute{
			"children_of": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Only the direct children of this namespace path, for example `root.tenants` " +
					"(not grandchildren, nor the namespace itself). Omit to list every namespace the actor may list.",
				Validators: []validator.String{namespacePathValidator()},
			},
			"label_selector": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Kubernetes-style label selector; every comma-separated requirement must hold: " +
					"`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a` (has the label), `!a` (lacks it). " +
					"For example `tier=gold,env in (prod,staging)`.",
				Validators: []validator.String{stringvalidator.LengthAtMost(4096)},
			},
			"namespaces": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The matching namespaces, ordered by path.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"path": schema.StringAttribute{
							Computed:            true,
							MarkdownDescription: "The namespace path.",
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
					},
				},
			},
			"paths": schema.ListAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "The paths of the matching namespaces, ordered by path (the same order as `namespaces`).",
			},
		},
	}
}

func (d *namespacesDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if c := clientFrom(req.ProviderData, &resp.Diagnostics); c != nil {
		d.client = c
	}
}

func (d *namespacesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m namespacesDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit := namespacesPageSize
	params := sdk.ListNamespacesParams{Limit: &limit}
	if v := m.ChildrenOf.ValueString(); v != "" {
		params.ChildrenOf = &v
	}
	if v := m.LabelSelector.ValueString(); v != "" {
		params.LabelSelector = &v
	}
	items, diags := listAllNamespaces(ctx, d.client.API, params)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.Namespaces = make([]namespacesItemModel, 0, len(items))
	m.Paths = make([]types.String, 0, len(items))
	for _, n := range items {
		l, d := nsMapOrEmpty(ctx, n.Labels)
		resp.Diagnostics.Append(d...)
		a, d := nsMapOrEmpty(ctx, n.Annotations)
		resp.Diagnostics.Append(d...)
		m.Namespaces = append(m.Namespaces, namespacesItemModel{Path: types.StringValue(n.Path), Labels: l, Annotations: a})
		m.Paths = append(m.Paths, types.StringValue(n.Path))
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// namespaceLister is the one SDK call listAllNamespaces needs (an interface, for unit tests).
type namespaceLister interface {
	ListNamespacesWithResponse(ctx context.Context, params *sdk.ListNamespacesParams, reqEditors ...sdk.RequestEditorFn) (*sdk.ListNamespacesResponse, error)
}

// listAllNamespaces follows nextCursor through every page.
func listAllNamespaces(ctx context.Context, api namespaceLister, params sdk.ListNamespacesParams) ([]sdk.Namespace, diag.Diagnostics) {
	return listPages("namespaces", func(cursor *string) ([]sdk.Namespace, *string, diag.Diagnostics) {
		var diags diag.Diagnostics
		p := params
		p.Cursor = cursor
		out, err := api.ListNamespacesWithResponse(ctx, &p)
		if err != nil {
			diags.AddError("Cannot list namespaces", fmt.Sprintf("Listing namespaces failed: %v.", unwrapURLError(err)))
			return nil, nil, diags
		}
		if out.JSON200 == nil {
			diags.Append(problemDiagnostics("list namespaces", out.StatusCode(), out.ApplicationproblemJSONDefault, out.Body, DefaultFieldMapper)...)
			return nil, nil, diags
		}
		return out.JSON200.Items, out.JSON200.NextCursor, diags
	})
}

// listPages collects the items of every page of a listing: fetch returns one page (the
// first for a nil cursor) and the next page's cursor (nil or empty after the last). A
// server that repeats a cursor, or never stops, is refused instead of listed forever.
func listPages[T any](what string, fetch func(cursor *string) ([]T, *string, diag.Diagnostics)) ([]T, diag.Diagnostics) {
	var diags diag.Diagnostics
	var all []T
	var cursor *string
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page >= maxNamespacePages {
			diags.AddError("Cannot list "+what, fmt.Sprintf("Gave up after %d pages of %s; AuthProxy kept answering with a next cursor.", page, what))
			return nil, diags
		}
		items, next, d := fetch(cursor)
		diags.Append(d...)
		if diags.HasError() {
			return nil, diags
		}
		all = append(all, items...)
		if next == nil || *next == "" {
			return all, diags
		}
		if seen[*next] {
			diags.AddError("Cannot list "+what, fmt.Sprintf("AuthProxy answered the same next cursor %q twice; stopping to avoid an endless listing.", *next))
			return nil, diags
		}
		seen[*next] = true
		c := *next
		cursor = &c
	}
}
