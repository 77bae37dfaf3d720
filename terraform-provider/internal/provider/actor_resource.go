package provider

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"golang.org/x/crypto/ssh"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/sdk/names"
)

// actorIDPattern is the contract's ActorId pattern.
var actorIDPattern = regexp.MustCompile(`^act_[A-Za-z0-9]+$`)

// externalIDPattern is the contract's ExternalId pattern.
var externalIDPattern = regexp.MustCompile(`^[A-Za-z0-9._@+:=-]+$`)

const externalIDRules = "must be 1-255 characters of letters, digits and . _ @ + : = - " +
	"(no spaces or slashes), for example \"billing-service\" or \"alice@example.com\""

// NewActorResource returns the authproxy_actor resource.
func NewActorResource() resource.Resource { return &actorResource{} }

type actorResource struct {
	client *Client
}

var (
	_ resource.Resource                   = (*actorResource)(nil)
	_ resource.ResourceWithConfigure      = (*actorResource)(nil)
	_ resource.ResourceWithImportState    = (*actorResource)(nil)
	_ resource.ResourceWithValidateConfig = (*actorResource)(nil)
)

// actorModel is the state of authproxy_actor (and of the data source of the same name).
type actorModel struct {
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

type permissionModel struct {
	Namespace   types.String `tfsdk:"namespace"`
	Resources   types.List   `tfsdk:"resources"`
	Verbs       types.List   `tfsdk:"verbs"`
	ResourceIDs types.List   `tfsdk:"resource_ids"`
}

var permissionAttrTypes = map[string]attr.Type{
	"namespace":    types.StringType,
	"resources":    types.ListType{ElemType: types.StringType},
	"verbs":        types.ListType{ElemType: types.StringType},
	"resource_ids": types.ListType{ElemType: types.StringType},
}

var permissionObjectType = types.ObjectType{AttrTypes: permissionAttrTypes}

// Descriptions shared by the resource and the data source.
const (
	descActorID          = "The actor's id (`act_…`), assigned by AuthProxy. Tokens may name the actor by it or by `<namespace>/<external_id>`."
	descActorNamespace   = "The namespace the actor lives in, for example `root.tenants.acme`. The actor's permissions can never reach outside this namespace's subtree."
	descActorExternalID  = "Your id for the actor, unique within its namespace: 1-255 letters, digits and `. _ @ + : = -`, for example `billing-service` or `alice@example.com`. Tokens name the actor as `<namespace>/<external_id>`."
	descActorName        = "A human-readable display name."
	descActorLabels      = "Kubernetes-style labels (key `[prefix/]name`, name and value at most 63 characters), for selecting actors."
	descActorAnnotations = "Free-form annotations (Kubernetes key rules; values up to 256 KiB in total)."
	descActorPermissions = "What the actor may do, in the order given. Each permission allows `verbs` on `resources` in `namespace` " +
		"(an exact path, or `path.**` for the path and everything below it), optionally only on `resource_ids`. " +
		"A permission never reaches outside the actor's own namespace subtree, and the provider's actor can only grant permissions it holds itself."
	descPermNamespace   = "An exact namespace path (`root.a`) or a subtree (`root.a.**`, which includes `root.a` itself). It must lie within the actor's namespace."
	descPermResources   = "Resources: `namespaces`, `actors`, `keys`, `connectors`, `connections`, `request_logs`, or `*` for all."
	descPermVerbs       = "Verbs: `get`, `list`, `create`, `update`, `delete`, plus `promote` (connectors), `proxy` (connections), `rotate` (keys) and `impersonate` (actors), or `*` for all."
	descPermResourceIDs = "When set, only these resource ids (actor ids for `actors`, namespace paths for `namespaces`); omit to allow any id."
	descActorPublicKeys = "Public keys the actor signs its tokens with: OpenSSH `authorized_keys` lines (`ssh-ed25519 AAAA… comment`) or PEM `PUBLIC KEY` blocks; " +
		"Ed25519, ECDSA P-256 or RSA (2048-8192 bits). They are public, so `file(\"app.pub\")` is fine; surrounding whitespace such as a trailing newline is ignored " +
		"(the server stores keys trimmed; right after an import, a key read with `file()` shows one in-place update that changes nothing, unless you wrap it in `trimspace()`). " +
		"Never put a private key here."
	descActorCreatedAt = "When the actor was created (RFC 3339)."
)

func (r *actorResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_actor"
}

func (r *actorResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	stringList := func(desc string, required bool, elem ...validator.String) schema.ListAttribute {
		return schema.ListAttribute{
			ElementType:         types.StringType,
			Required:            required,
			Optional:            !required,
			MarkdownDescription: desc,
			Validators: []validator.List{
				listvalidator.SizeAtLeast(1),
				listvalidator.UniqueValues(),
				listvalidator.ValueStringsAre(elem...),
			},
		}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An AuthProxy actor: a user, service or agent that signs its own short-lived tokens with a private key whose " +
			"public half is registered here, and holds permissions within its namespace. Changing `namespace` or `external_id` replaces the " +
			"actor (it gets a new id); everything else is updated in place.\n\n" +
			"The provider never sees the actor's private key: generate the key pair outside Terraform (`ssh-keygen -t ed25519`) and register only the public key.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: descActorID,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"namespace": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: descActorNamespace + " Changing it replaces the actor.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          []validator.String{namespacePathValidator()},
			},
			"external_id": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: descActorExternalID + " Changing it replaces the actor.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators: []validator.String{
					stringvalidator.LengthBetween(1, 255),
					stringvalidator.RegexMatches(externalIDPattern, externalIDRules),
				},
			},
			"name": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
				MarkdownDescription: descActorName + " Defaults to `\"\"`.",
				Validators:          []validator.String{stringvalidator.LengthAtMost(255)},
			},
			"labels": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: descActorLabels,
				Validators:          []validator.Map{labelsValidator()},
			},
			"annotations": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: descActorAnnotations,
				Validators:          []validator.Map{annotationsValidator()},
			},
			"permissions": schema.ListNestedAttribute{
				Optional:            true,
				MarkdownDescription: descActorPermissions,
				Validators:          []validator.List{listvalidator.SizeAtMost(1000)},
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"namespace": schema.StringAttribute{
							Required:            true,
							MarkdownDescription: descPermNamespace,
							Validators:          []validator.String{permissionNamespaceValidator()},
						},
						"resources":    stringList(descPermResources, true, resourceValidator()),
						"verbs":        stringList(descPermVerbs, true, verbValidator()),
						"resource_ids": stringList(descPermResourceIDs, false, stringvalidator.LengthBetween(1, 255)),
					},
				},
			},
			"public_keys": schema.SetAttribute{
				ElementType:         publicKeyType{},
				Optional:            true,
				MarkdownDescription: descActorPublicKeys,
				Validators:          []validator.Set{publicKeysValidator{}},
			},
			"created_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: descActorCreatedAt,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *actorResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if c := clientFrom(req.ProviderData, &resp.Diagnostics); c != nil {
		r.client = c
	}
}

// ValidateConfig catches, at plan time, permissions the server would refuse for their shape:
// a namespace outside the actor's subtree, or a resource-specific verb without its resource.
func (r *actorResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var ns types.String
	var perms types.List
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("namespace"), &ns)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("permissions"), &perms)...)
	if resp.Diagnostics.HasError() || perms.IsNull() || perms.IsUnknown() {
		return
	}
	for i, e := range perms.Elements() {
		obj, ok := e.(types.Object)
		if !ok || obj.IsNull() || obj.IsUnknown() {
			continue
		}
		at := path.Root("permissions").AtListIndex(i)
		attrs := obj.Attributes()
		if pns, ok := attrs["namespace"].(types.String); ok && !pns.IsNull() && !pns.IsUnknown() && !ns.IsNull() && !ns.IsUnknown() {
			target := strings.TrimSuffix(pns.ValueString(), ".**")
			if names.ValidateNamespacePath(target) == nil && names.ValidateNamespacePath(ns.ValueString()) == nil && !names.IsWithin(target, ns.ValueString()) {
				resp.Diagnostics.AddAttributeError(at.AtName("namespace"), "Permission outside the actor's namespace",
					fmt.Sprintf("permissions[%d].namespace: %q is outside the actor's namespace %q. A permission never reaches outside its actor's "+
						"own namespace subtree; use %q, a namespace below it, or %q for the whole subtree (or move the actor higher up).",
						i, pns.ValueString(), ns.ValueString(), ns.ValueString(), ns.ValueString()+".**"))
			}
		}
		resources, rok := knownStrings(attrs["resources"])
		verbs, vok := knownStrings(attrs["verbs"])
		if !rok || !vok {
			continue
		}
		for j, v := range verbs {
			want, special := specialVerbResource[v]
			if special && !contains(resources, want) && !contains(resources, "*") {
				resp.Diagnostics.AddAttributeError(at.AtName("verbs").AtListIndex(j), "Verb does not apply to these resources",
					fmt.Sprintf("permissions[%d].verbs[%d]: verb %q applies only to %s, which resources does not include; add %q to resources or remove the verb.",
						i, j, v, want, want))
			}
		}
	}
}

// specialVerbResource mirrors the contract: the resource-specific verbs and their resource.
var specialVerbResource = map[string]string{
	string(sdk.VerbPromote):     string(sdk.ResourceConnectors),
	string(sdk.VerbProxy):       string(sdk.ResourceConnections),
	string(sdk.VerbRotate):      string(sdk.ResourceKeys),
	string(sdk.VerbImpersonate): string(sdk.ResourceActors),
}

func knownStrings(v attr.Value) ([]string, bool) {
	l, ok := v.(types.List)
	if !ok || l.IsNull() || l.IsUnknown() {
		return nil, false
	}
	out := make([]string, 0, len(l.Elements()))
	for _, e := range l.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsUnknown() || s.IsNull() {
			return nil, false
		}
		out = append(out, s.ValueString())
	}
	return out, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (r *actorResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan actorModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	body := sdk.ActorCreate{Namespace: plan.Namespace.ValueString(), ExternalId: plan.ExternalID.ValueString()}
	if name := plan.Name.ValueString(); name != "" {
		body.Name = &name
	}
	perms, d := permissionsToAPI(ctx, plan.Permissions)
	resp.Diagnostics.Append(d...)
	keys, d := publicKeysToAPI(ctx, plan.PublicKeys)
	resp.Diagnostics.Append(d...)
	labels, d := stringMapToAPI(ctx, plan.Labels)
	resp.Diagnostics.Append(d...)
	annotations, d := stringMapToAPI(ctx, plan.Annotations)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.Permissions.IsNull() {
		body.Permissions = &perms
	}
	if !plan.PublicKeys.IsNull() {
		body.PublicKeys = &keys
	}
	if labels != nil {
		l := sdk.Labels(labels)
		body.Labels = &l
	}
	if annotations != nil {
		a := sdk.Annotations(annotations)
		body.Annotations = &a
	}
	res, err := r.client.API.CreateActorWithResponse(ctx, body)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create actor", r.transportError(err))
		return
	}
	if res.JSON201 == nil {
		resp.Diagnostics.Append(actorProblemDiagnostics("create actor", res.StatusCode(), res.ApplicationproblemJSONDefault, res.Body, perms, keys)...)
		return
	}
	resp.Diagnostics.Append(actorToState(ctx, res.JSON201, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *actorResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state actorModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	res, err := r.client.API.GetActorWithResponse(ctx, state.ID.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot read actor", r.transportError(err))
		return
	}
	if res.StatusCode() == http.StatusNotFound {
		// Deleted outside Terraform (or no longer visible): plan to create it again.
		resp.State.RemoveResource(ctx)
		return
	}
	if res.JSON200 == nil {
		resp.Diagnostics.Append(problemDiagnostics("read actor "+state.ID.ValueString(), res.StatusCode(), res.ApplicationproblemJSONDefault, res.Body, DefaultFieldMapper)...)
		return
	}
	resp.Diagnostics.Append(actorToState(ctx, res.JSON200, &state)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *actorResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state actorModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Send only what changed: every field given replaces the stored one whole, and sending
	// unchanged permissions would needlessly require the provider's actor to hold them all.
	var body sdk.ActorUpdate
	var perms []sdk.Permission
	var keys []string
	if !plan.Name.Equal(state.Name) {
		name := plan.Name.ValueString()
		body.Name = &name
	}
	if !plan.Permissions.Equal(state.Permissions) {
		var d diag.Diagnostics
		perms, d = permissionsToAPI(ctx, plan.Permissions)
		resp.Diagnostics.Append(d...)
		body.Permissions = &perms
	}
	if !plan.PublicKeys.Equal(state.PublicKeys) {
		var d diag.Diagnostics
		keys, d = publicKeysToAPI(ctx, plan.PublicKeys)
		resp.Diagnostics.Append(d...)
		body.PublicKeys = &keys
	}
	if !plan.Labels.Equal(state.Labels) {
		m, d := stringMapToAPI(ctx, plan.Labels)
		resp.Diagnostics.Append(d...)
		l := sdk.Labels(m)
		if l == nil {
			l = sdk.Labels{}
		}
		body.Labels = &l
	}
	if !plan.Annotations.Equal(state.Annotations) {
		m, d := stringMapToAPI(ctx, plan.Annotations)
		resp.Diagnostics.Append(d...)
		a := sdk.Annotations(m)
		if a == nil {
			a = sdk.Annotations{}
		}
		body.Annotations = &a
	}
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	var got *sdk.Actor
	if body == (sdk.ActorUpdate{}) {
		// Nothing to send (for example only whitespace around a public key changed): refresh.
		res, err := r.client.API.GetActorWithResponse(ctx, id)
		if err != nil {
			resp.Diagnostics.AddError("Cannot read actor", r.transportError(err))
			return
		}
		if res.JSON200 == nil {
			resp.Diagnostics.Append(problemDiagnostics("read actor "+id, res.StatusCode(), res.ApplicationproblemJSONDefault, res.Body, DefaultFieldMapper)...)
			return
		}
		got = res.JSON200
	} else {
		res, err := r.client.API.UpdateActorWithResponse(ctx, id, body)
		if err != nil {
			resp.Diagnostics.AddError("Cannot update actor", r.transportError(err))
			return
		}
		if res.JSON200 == nil {
			resp.Diagnostics.Append(actorProblemDiagnostics("update actor "+id, res.StatusCode(), res.ApplicationproblemJSONDefault, res.Body, perms, keys)...)
			return
		}
		got = res.JSON200
	}
	plan.ID = state.ID
	resp.Diagnostics.Append(actorToState(ctx, got, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *actorResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state actorModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	res, err := r.client.API.DeleteActorWithResponse(ctx, state.ID.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot delete actor", r.transportError(err))
		return
	}
	switch res.StatusCode() {
	case http.StatusNoContent, http.StatusOK, http.StatusNotFound:
		return
	}
	resp.Diagnostics.Append(problemDiagnostics("delete actor "+state.ID.ValueString(), res.StatusCode(), res.ApplicationproblemJSONDefault, res.Body, DefaultFieldMapper)...)
}

// ImportState accepts the actor id (act_…) or <namespace>/<external_id>.
func (r *actorResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := strings.TrimSpace(req.ID)
	if ns, ext, ok := strings.Cut(id, "/"); ok {
		if err := names.ValidateNamespacePath(ns); err != nil || ext == "" || !externalIDPattern.MatchString(ext) {
			resp.Diagnostics.AddError("Invalid import ID",
				fmt.Sprintf("%q is not <namespace>/<external_id> (for example root.tenants.acme/billing-service) nor an actor id (act_…).", req.ID))
			return
		}
		if r.client == nil {
			resp.Diagnostics.AddError("Provider not configured", "The provider must be configured to import by <namespace>/<external_id>.")
			return
		}
		res, err := r.client.API.GetActorByExternalIdWithResponse(ctx, ns, ext)
		if err != nil {
			resp.Diagnostics.AddError("Cannot import actor", r.transportError(err))
			return
		}
		if res.JSON200 == nil {
			resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("import actor %s/%s", ns, ext), res.StatusCode(), res.ApplicationproblemJSONDefault, res.Body, nil)...)
			return
		}
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), res.JSON200.Id)...)
		return
	}
	if !strings.HasPrefix(id, "act_") {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("%q is neither an actor id (act_…) nor <namespace>/<external_id> (for example root.tenants.acme/billing-service).", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
}

func (r *actorResource) transportError(err error) string {
	return fmt.Sprintf("Calling AuthProxy at %s failed: %v.", r.client.Endpoint, unwrapURLError(err))
}

// actorToState copies an API actor into m. Collections the configuration leaves out (null in
// m) stay null while the server holds none, so an omitted attribute never shows a diff.
func actorToState(ctx context.Context, a *sdk.Actor, m *actorModel) diag.Diagnostics {
	var diags diag.Diagnostics
	m.ID = types.StringValue(a.Id)
	m.Namespace = types.StringValue(a.Namespace)
	m.ExternalID = types.StringValue(a.ExternalId)
	m.Name = types.StringValue(a.Name)
	m.CreatedAt = types.StringValue(a.CreatedAt.UTC().Format(time.RFC3339))
	var d diag.Diagnostics
	m.Labels, d = stringMapFromAPI(ctx, a.Labels, m.Labels)
	diags.Append(d...)
	m.Annotations, d = stringMapFromAPI(ctx, a.Annotations, m.Annotations)
	diags.Append(d...)
	m.Permissions, d = permissionsFromAPI(ctx, a.Permissions, m.Permissions)
	diags.Append(d...)
	m.PublicKeys, d = publicKeysFromAPI(a.PublicKeys, m.PublicKeys)
	diags.Append(d...)
	return diags
}

func stringMapToAPI(ctx context.Context, m types.Map) (map[string]string, diag.Diagnostics) {
	if m.IsNull() || m.IsUnknown() {
		return nil, nil
	}
	out := map[string]string{}
	diags := m.ElementsAs(ctx, &out, false)
	return out, diags
}

func stringMapFromAPI(ctx context.Context, m map[string]string, prior types.Map) (types.Map, diag.Diagnostics) {
	if len(m) == 0 && (prior.IsNull() || prior.IsUnknown()) {
		return types.MapNull(types.StringType), nil
	}
	if m == nil {
		m = map[string]string{}
	}
	return types.MapValueFrom(ctx, types.StringType, m)
}

func stringsFromList(ctx context.Context, l types.List) ([]string, diag.Diagnostics) {
	if l.IsNull() || l.IsUnknown() {
		return nil, nil
	}
	var out []string
	diags := l.ElementsAs(ctx, &out, false)
	return out, diags
}

func permissionsToAPI(ctx context.Context, l types.List) ([]sdk.Permission, diag.Diagnostics) {
	out := []sdk.Permission{}
	if l.IsNull() || l.IsUnknown() {
		return out, nil
	}
	var ms []permissionModel
	diags := l.ElementsAs(ctx, &ms, false)
	if diags.HasError() {
		return out, diags
	}
	for _, m := range ms {
		p := sdk.Permission{Namespace: m.Namespace.ValueString(), Resources: []sdk.Resource{}, Verbs: []sdk.Verb{}}
		rs, d := stringsFromList(ctx, m.Resources)
		diags.Append(d...)
		for _, r := range rs {
			p.Resources = append(p.Resources, sdk.Resource(r))
		}
		vs, d := stringsFromList(ctx, m.Verbs)
		diags.Append(d...)
		for _, v := range vs {
			p.Verbs = append(p.Verbs, sdk.Verb(v))
		}
		if !m.ResourceIDs.IsNull() && !m.ResourceIDs.IsUnknown() {
			ids, d := stringsFromList(ctx, m.ResourceIDs)
			diags.Append(d...)
			if ids == nil {
				ids = []string{}
			}
			p.ResourceIds = &ids
		}
		out = append(out, p)
	}
	return out, diags
}

// permissionsFromAPI keeps the server's order, which is the order the permissions were given.
func permissionsFromAPI(ctx context.Context, ps []sdk.Permission, prior types.List) (types.List, diag.Diagnostics) {
	if len(ps) == 0 && (prior.IsNull() || prior.IsUnknown()) {
		return types.ListNull(permissionObjectType), nil
	}
	var diags diag.Diagnostics
	elems := make([]attr.Value, 0, len(ps))
	for _, p := range ps {
		rs := make([]string, 0, len(p.Resources))
		for _, r := range p.Resources {
			rs = append(rs, string(r))
		}
		vs := make([]string, 0, len(p.Verbs))
		for _, v := range p.Verbs {
			vs = append(vs, string(v))
		}
		resources, d := types.ListValueFrom(ctx, types.StringType, rs)
		diags.Append(d...)
		verbs, d := types.ListValueFrom(ctx, types.StringType, vs)
		diags.Append(d...)
		ids := types.ListNull(types.StringType)
		if p.ResourceIds != nil && len(*p.ResourceIds) > 0 {
			ids, d = types.ListValueFrom(ctx, types.StringType, *p.ResourceIds)
			diags.Append(d...)
		}
		obj, d := types.ObjectValue(permissionAttrTypes, map[string]attr.Value{
			"namespace": types.StringValue(p.Namespace), "resources": resources, "verbs": verbs, "resource_ids": ids,
		})
		diags.Append(d...)
		elems = append(elems, obj)
	}
	l, d := types.ListValue(permissionObjectType, elems)
	diags.Append(d...)
	return l, diags
}

// publicKeysToAPI trims each key: the server stores keys trimmed, and file() leaves a
// trailing newline.
func publicKeysToAPI(ctx context.Context, s types.Set) ([]string, diag.Diagnostics) {
	out := []string{}
	if s.IsNull() || s.IsUnknown() {
		return out, nil
	}
	var diags diag.Diagnostics
	for _, e := range s.Elements() {
		v, ok := e.(basetypes.StringValuable)
		if !ok {
			diags.AddAttributeError(path.Root("public_keys"), "Unexpected public key value", fmt.Sprintf("Got %T. This is a bug in the provider.", e))
			continue
		}
		sv, d := v.ToStringValue(ctx)
		diags.Append(d...)
		out = append(out, strings.TrimSpace(sv.ValueString()))
	}
	return out, diags
}

// publicKeysFromAPI builds the set the server holds; semantic equality then keeps the
// configured spelling of keys that differ only in surrounding whitespace.
func publicKeysFromAPI(keys []string, prior types.Set) (types.Set, diag.Diagnostics) {
	if len(keys) == 0 && (prior.IsNull() || prior.IsUnknown()) {
		return types.SetNull(publicKeyType{}), nil
	}
	elems := make([]attr.Value, 0, len(keys))
	for _, k := range keys {
		elems = append(elems, publicKeyValue{StringValue: types.StringValue(k)})
	}
	return types.SetValue(publicKeyType{}, elems)
}

// actorProblemDiagnostics is problemDiagnostics with two actor-specific refinements: a
// permission the provider's actor may not grant is explained as such, and a public key is
// reported on public_keys by a short, safe description (a set has no stable index).
func actorProblemDiagnostics(action string, status int, p *sdk.Problem, body []byte, sentPerms []sdk.Permission, sentKeys []string) diag.Diagnostics {
	var diags diag.Diagnostics
	if p == nil || p.Errors == nil || len(*p.Errors) == 0 {
		return problemDiagnostics(action, status, p, body, DefaultFieldMapper)
	}
	summary := "Cannot " + action
	var rest []sdk.FieldError
	for _, fe := range *p.Errors {
		if i, ok := indexedField(fe.Field, "permissions"); ok && status == http.StatusForbidden {
			server := ""
			if !strings.Contains(fe.Message, "grants more than") {
				server = " (AuthProxy: " + strings.TrimSuffix(fe.Message, ".") + ")"
			}
			diags.AddAttributeError(path.Root("permissions").AtListIndex(i), summary,
				fmt.Sprintf("permissions[%d]%s grants more than the provider's actor holds%s. An actor can only grant permissions it holds itself: "+
					"grant the provider's actor that permission first (or a broader one covering it), or configure the provider with an actor that has it.",
					i, describePermission(sentPerms, i), server))
			continue
		}
		if i, ok := indexedField(fe.Field, "publicKeys"); ok {
			diags.AddAttributeError(path.Root("public_keys"), summary,
				fmt.Sprintf("public_keys: the key %s: %s. Each entry must be one OpenSSH authorized_keys line (the content of a .pub file, "+
					"such as \"ssh-ed25519 AAAA… comment\") or one PEM \"PUBLIC KEY\" block, of type Ed25519, ECDSA P-256 or RSA (2048-8192 bits).",
					describeKey(sentKeys, i), fe.Message))
			continue
		}
		rest = append(rest, fe)
	}
	if len(rest) > 0 {
		cp := *p
		cp.Errors = &rest
		diags.Append(problemDiagnostics(action, status, &cp, body, DefaultFieldMapper)...)
	}
	return diags
}

// indexedField matches "name[i]" exactly and returns i.
func indexedField(field, name string) (int, bool) {
	rest, ok := strings.CutPrefix(field, name+"[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return 0, false
	}
	var i int
	if _, err := fmt.Sscanf(rest, "%d]", &i); err != nil || fmt.Sprintf("%d]", i) != rest {
		return 0, false
	}
	return i, true
}

func describePermission(ps []sdk.Permission, i int) string {
	if i < 0 || i >= len(ps) {
		return ""
	}
	p := ps[i]
	rs := make([]string, len(p.Resources))
	for j, r := range p.Resources {
		rs[j] = string(r)
	}
	vs := make([]string, len(p.Verbs))
	for j, v := range p.Verbs {
		vs[j] = string(v)
	}
	s := fmt.Sprintf(" (%s on %s in %s", strings.Join(vs, ", "), strings.Join(rs, ", "), p.Namespace)
	if p.ResourceIds != nil {
		s += " for ids " + strings.Join(*p.ResourceIds, ", ")
	}
	return s + ")"
}

// describeKey names a submitted key without quoting more than its harmless start: the key
// type and the first characters of an OpenSSH line, or the PEM header.
func describeKey(keys []string, i int) string {
	if i < 0 || i >= len(keys) {
		return fmt.Sprintf("number %d", i+1)
	}
	return keyPreview(keys[i])
}

func keyPreview(k string) string {
	k = strings.TrimSpace(k)
	if strings.HasPrefix(k, "-----BEGIN ") {
		line, _, _ := strings.Cut(k, "\n")
		if strings.Contains(line, "PRIVATE KEY") {
			return "that is a PEM private key"
		}
		return fmt.Sprintf("%q", strings.TrimSpace(line)+"…")
	}
	f := strings.Fields(k)
	switch {
	case len(f) == 0:
		return `""`
	case len(f) == 1:
		return fmt.Sprintf("%q", truncateRunes(f[0], 24))
	default:
		return fmt.Sprintf("%q", f[0]+" "+truncateRunes(f[1], 16))
	}
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// checkPublicKey is the plan-time check of one public key. It mirrors the server closely
// enough to catch pasting mistakes, and never quotes the input (it might be a private key).
func checkPublicKey(s string) error {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return fmt.Errorf("is empty")
	case len(s) > 16<<10:
		return fmt.Errorf("is %d bytes long; a public key is at most 16384", len(s))
	case strings.Contains(s, "PRIVATE KEY"):
		return fmt.Errorf("is a private key; register only the public key (the .pub file, or `ssh-keygen -y -f <key>`), and keep the private key out of Terraform")
	case strings.HasPrefix(s, "-----BEGIN "):
		block, rest := pem.Decode([]byte(s))
		if block == nil {
			return fmt.Errorf("is not a well-formed PEM block")
		}
		if len(strings.TrimSpace(string(rest))) != 0 {
			return fmt.Errorf("has data after the PEM block; give one key per entry")
		}
		switch block.Type {
		case "PUBLIC KEY":
			if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
				return fmt.Errorf("is a malformed or unsupported PEM public key")
			}
		case "RSA PUBLIC KEY":
			if _, err := x509.ParsePKCS1PublicKey(block.Bytes); err != nil {
				return fmt.Errorf("is a malformed PKCS#1 RSA public key")
			}
		default:
			return fmt.Errorf("is a PEM %q block; expected \"PUBLIC KEY\" or \"RSA PUBLIC KEY\"", truncateRunes(block.Type, 40))
		}
		return nil
	case strings.ContainsAny(s, "\r\n"):
		return fmt.Errorf("has several lines; give one authorized_keys line per entry")
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return fmt.Errorf("is not an OpenSSH public key (\"ssh-ed25519 AAAA… comment\") or a PEM public key")
	}
	switch t := k.Type(); t {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSA:
		return nil
	default:
		return fmt.Errorf("has key type %q; use Ed25519, ECDSA P-256 or RSA", t)
	}
}

// publicKeysValidator runs checkPublicKey on every configured key and reports on public_keys
// itself: a set element's path would carry the whole value.
type publicKeysValidator struct{}

func (publicKeysValidator) Description(context.Context) string {
	return "each entry is an OpenSSH authorized_keys line or a PEM public key"
}

func (v publicKeysValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (publicKeysValidator) ValidateSet(ctx context.Context, req validator.SetRequest, resp *validator.SetResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for n, e := range req.ConfigValue.Elements() {
		if e.IsNull() {
			resp.Diagnostics.AddAttributeError(req.Path, "Invalid public key", "public_keys: entries must not be null.")
			continue
		}
		if e.IsUnknown() {
			continue
		}
		sv, ok := e.(basetypes.StringValuable)
		if !ok {
			continue
		}
		s, d := sv.ToStringValue(ctx)
		resp.Diagnostics.Append(d...)
		if err := checkPublicKey(s.ValueString()); err != nil {
			what := "entry " + fmt.Sprint(n+1)
			if !strings.Contains(s.ValueString(), "PRIVATE KEY") {
				what = "the key " + keyPreview(s.ValueString())
			}
			resp.Diagnostics.AddAttributeError(req.Path, "Invalid public key",
				fmt.Sprintf("public_keys: %s %v. Each entry must be one OpenSSH authorized_keys line (the content of a .pub file) "+
					"or one PEM \"PUBLIC KEY\" block, of type Ed25519, ECDSA P-256 or RSA.", what, err))
		}
	}
}

// publicKeyType is a string whose values are equal when they differ only in surrounding
// whitespace, so file("app.pub") with its trailing newline matches the key the server stores
// trimmed.
type publicKeyType struct {
	basetypes.StringType
}

var (
	_ basetypes.StringTypable                    = publicKeyType{}
	_ basetypes.StringValuableWithSemanticEquals = publicKeyValue{}
)

func (t publicKeyType) String() string { return "provider.publicKeyType" }

func (t publicKeyType) Equal(o attr.Type) bool {
	_, ok := o.(publicKeyType)
	return ok
}

func (t publicKeyType) ValueType(context.Context) attr.Value { return publicKeyValue{} }

func (t publicKeyType) ValueFromString(_ context.Context, in basetypes.StringValue) (basetypes.StringValuable, diag.Diagnostics) {
	return publicKeyValue{StringValue: in}, nil
}

func (t publicKeyType) ValueFromTerraform(ctx context.Context, in tftypes.Value) (attr.Value, error) {
	v, err := t.StringType.ValueFromTerraform(ctx, in)
	if err != nil {
		return nil, err
	}
	sv, ok := v.(basetypes.StringValue)
	if !ok {
		return nil, fmt.Errorf("unexpected value type %T", v)
	}
	return publicKeyValue{StringValue: sv}, nil
}

type publicKeyValue struct {
	basetypes.StringValue
}

func (v publicKeyValue) Type(context.Context) attr.Type { return publicKeyType{} }

func (v publicKeyValue) Equal(o attr.Value) bool {
	other, ok := o.(publicKeyValue)
	return ok && v.StringValue.Equal(other.StringValue)
}

func (v publicKeyValue) StringSemanticEquals(_ context.Context, newValuable basetypes.StringValuable) (bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	nv, ok := newValuable.(publicKeyValue)
	if !ok {
		diags.AddError("Semantic equality check error", fmt.Sprintf("Expected a public key value, got %T. This is a bug in the provider.", newValuable))
		return false, diags
	}
	if v.IsNull() || v.IsUnknown() || nv.IsNull() || nv.IsUnknown() {
		return false, diags
	}
	return strings.TrimSpace(v.ValueString()) == strings.TrimSpace(nv.ValueString()), diags
}
