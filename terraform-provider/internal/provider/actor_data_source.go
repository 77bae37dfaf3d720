package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/authproxy/authproxy/sdk"
)

// NewActorDataSource returns the authproxy_actor data source.
func NewActorDataSource() datasource.DataSource { return &actorDataSource{} }

type actorDataSource struct {
	client *Client
}

var (
	_ datasource.DataSource                     = (*actorDataSource)(nil)
	_ datasource.DataSourceWithConfigure        = (*actorDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*actorDataSource)(nil)
)

func (d *actorDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_actor"
}

func (d *actorDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	strs := func(desc string) schema.ListAttribute {
		return schema.ListAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up an AuthProxy actor, either by `id` or by `namespace` and `external_id` (exactly one of the two ways). " +
			"The provider's actor must be allowed to `get` it; an actor it may not see is reported as not found.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: descActorID + " Set it to look the actor up by id; conflicts with `namespace` and `external_id`.",
				Validators:          []validator.String{stringvalidator.RegexMatches(actorIDPattern, "must be an actor id such as act_2Xb…")},
			},
			"namespace": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: descActorNamespace + " Set it together with `external_id` to look the actor up by its external id.",
				Validators:          []validator.String{namespacePathValidator()},
			},
			"external_id": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: descActorExternalID + " Set it together with `namespace`.",
				Validators: []validator.String{
					stringvalidator.LengthBetween(1, 255),
					stringvalidator.RegexMatches(externalIDPattern, externalIDRules),
				},
			},
			"name": schema.StringAttribute{Computed: true, MarkdownDescription: descActorName},
			"labels": schema.MapAttribute{
				ElementType: types.StringType, Computed: true, MarkdownDescription: descActorLabels,
			},
			"annotations": schema.MapAttribute{
				ElementType: types.StringType, Computed: true, MarkdownDescription: descActorAnnotations,
			},
			"permissions": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The actor's permissions, in their stored order. Each allows `verbs` on `resources` in `namespace`, optionally only on `resource_ids`.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"namespace":    schema.StringAttribute{Computed: true, MarkdownDescription: descPermNamespace},
						"resources":    strs(descPermResources),
						"verbs":        strs(descPermVerbs),
						"resource_ids": strs(descPermResourceIDs + " Null when the permission applies to any id."),
					},
				},
			},
			"public_keys": schema.SetAttribute{
				ElementType:         types.StringType,
				Computed:            true,
				MarkdownDescription: "The actor's registered public keys (OpenSSH `authorized_keys` lines or PEM), as stored: trimmed of surrounding whitespace.",
			},
			"created_at": schema.StringAttribute{Computed: true, MarkdownDescription: descActorCreatedAt},
		},
	}
}

// ConfigValidators allow exactly one way of looking the actor up.
func (d *actorDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("id"), path.MatchRoot("external_id")),
		datasourcevalidator.Conflicting(path.MatchRoot("id"), path.MatchRoot("namespace")),
		datasourcevalidator.RequiredTogether(path.MatchRoot("namespace"), path.MatchRoot("external_id")),
	}
}

func (d *actorDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if c := clientFrom(req.ProviderData, &resp.Diagnostics); c != nil {
		d.client = c
	}
}

func (d *actorDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg actorDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var (
		a       *sdk.Actor
		status  int
		problem *sdk.Problem
		body    []byte
		what    string
		err     error
	)
	if id := cfg.ID.ValueString(); id != "" {
		what = "actor " + id
		var res *sdk.GetActorResponse
		res, err = d.client.API.GetActorWithResponse(ctx, id)
		if err == nil {
			a, status, problem, body = res.JSON200, res.StatusCode(), res.ApplicationproblemJSONDefault, res.Body
		}
	} else {
		ns, ext := cfg.Namespace.ValueString(), cfg.ExternalID.ValueString()
		what = fmt.Sprintf("actor %s/%s", ns, ext)
		var res *sdk.GetActorByExternalIdResponse
		res, err = d.client.API.GetActorByExternalIdWithResponse(ctx, ns, ext)
		if err == nil {
			a, status, problem, body = res.JSON200, res.StatusCode(), res.ApplicationproblemJSONDefault, res.Body
		}
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read "+what, fmt.Sprintf("Calling AuthProxy at %s failed: %v.", d.client.Endpoint, unwrapURLError(err)))
		return
	}
	if a == nil {
		if status == http.StatusNotFound {
			resp.Diagnostics.AddError("Actor not found",
				fmt.Sprintf("No %s exists, or the provider's actor may not get it: %s.", what, strings.TrimSuffix(problemDetail(problem, body), ".")))
			return
		}
		resp.Diagnostics.Append(problemDiagnostics("read "+what, status, problem, body, DefaultFieldMapper)...)
		return
	}
	out, diags := actorDataFromAPI(ctx, a)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &out)...)
}

// actorDataModel is actorModel with plain strings as public keys: nothing is configured, so
// there is no spelling to preserve.
type actorDataModel struct {
	ID          types.String `tfsdk:"id"`
	Namespace   types.String `tfsdk:"namespace"`
	ExternalID  types.String `tfsdk:"external_id"`
	Name        types.String `tfsdk:"name"`
	Labels      types.Map    `tfsdk:"labels"`
	Annotations types.Map    `tfsdk:"annotations"`
	Permissions types.List   `tfsdk:"permissions"`
	PublicKeys  types.Set    `tfsdk:"public_keys"`
	CreatedAt   types.String `tfsdk:"created_at"`
}

// actorDataFromAPI converts an actor for the data source: collections are always known, empty
// rather than null when the actor has none.
func actorDataFromAPI(ctx context.Context, a *sdk.Actor) (actorDataModel, diag.Diagnostics) {
	var m actorModel
	m.Labels = types.MapValueMust(types.StringType, map[string]attr.Value{})
	m.Annotations = m.Labels
	m.Permissions = types.ListValueMust(permissionObjectType, []attr.Value{})
	m.PublicKeys = types.SetValueMust(publicKeyType{}, []attr.Value{})
	diags := actorToState(ctx, a, &m)
	keys := make([]attr.Value, 0, len(a.PublicKeys))
	for _, k := range a.PublicKeys {
		keys = append(keys, types.StringValue(k))
	}
	pk, d := types.SetValue(types.StringType, keys)
	diags.Append(d...)
	return actorDataModel{
		ID: m.ID, Namespace: m.Namespace, ExternalID: m.ExternalID, Name: m.Name, Labels: m.Labels,
		Annotations: m.Annotations, Permissions: m.Permissions, PublicKeys: pk, CreatedAt: m.CreatedAt,
	}, diags
}
