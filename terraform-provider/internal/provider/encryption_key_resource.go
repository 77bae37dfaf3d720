package provider

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/authproxy/authproxy/sdk"
)

var (
	_ resource.Resource                   = (*encryptionKeyResource)(nil)
	_ resource.ResourceWithConfigure      = (*encryptionKeyResource)(nil)
	_ resource.ResourceWithImportState    = (*encryptionKeyResource)(nil)
	_ resource.ResourceWithValidateConfig = (*encryptionKeyResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*encryptionKeyResource)(nil)
)

// NewEncryptionKeyResource returns the authproxy_encryption_key resource.
func NewEncryptionKeyResource() resource.Resource { return &encryptionKeyResource{} }

type encryptionKeyResource struct {
	client *Client
}

type encryptionKeyResourceModel struct {
	ID                types.String    `tfsdk:"id"`
	Namespace         types.String    `tfsdk:"namespace"`
	Name              types.String    `tfsdk:"name"`
	Source            *keySourceModel `tfsdk:"source"`
	Labels            types.Map       `tfsdk:"labels"`
	Annotations       types.Map       `tfsdk:"annotations"`
	MaterialWO        types.String    `tfsdk:"material_wo"`
	MaterialWOVersion types.Int64     `tfsdk:"material_wo_version"`
	RotationTrigger   types.String    `tfsdk:"rotation_trigger"`
	CurrentVersion    types.Int64     `tfsdk:"current_version"`
	CreatedAt         types.String    `tfsdk:"created_at"`
}

type keySourceModel struct {
	Kind   types.String `tfsdk:"kind"`
	Params types.Map    `tfsdk:"params"`
}

func keySourceKinds() []string {
	return []string{string(sdk.KeySourceGenerated), string(sdk.KeySourceInline), string(sdk.KeySourceEnv),
		string(sdk.KeySourceFile), string(sdk.KeySourceAWSSecretsManager)}
}

func (r *encryptionKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_encryption_key"
}

func (r *encryptionKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An encryption key: AuthProxy seals the secrets of a namespace (connection credentials and the like) " +
			"with the key assigned to it (see `authproxy_namespace_key`) or to its nearest ancestor. A key has numbered versions; " +
			"rotating adds a new current version and the previous ones keep opening what they sealed.\n\n" +
			"The key material comes from `source`: `generated` (AuthProxy makes it), `inline` (you supply it in `material_wo`, " +
			"a write-only attribute that is sent to AuthProxy and never stored in the plan or state; needs Terraform or OpenTofu 1.11 or later), " +
			"or an external source (`env`, `file`, `aws_secrets_manager`) that AuthProxy reads itself and that you rotate at the source.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The key id (`key_…`), given by AuthProxy.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"namespace": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Path of the namespace the key lives in. " + nsPathDescription + " Changing it replaces the key.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          []validator.String{namespacePathValidator()},
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the key, unique within its namespace. Changing it replaces the key.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"source": schema.SingleNestedAttribute{
				Required:            true,
				MarkdownDescription: "Where the key material comes from. Changing any part of it replaces the key.",
				Attributes: map[string]schema.Attribute{
					"kind": schema.StringAttribute{
						Required: true,
						MarkdownDescription: "One of `generated` (AuthProxy generates the material, and again on each rotation), " +
							"`inline` (the material is `material_wo`), `env` (an environment variable of the AuthProxy server), " +
							"`file` (a file on the AuthProxy server) or `aws_secrets_manager`.",
						PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
						Validators:    []validator.String{stringvalidator.OneOf(keySourceKinds()...)},
					},
					"params": schema.MapAttribute{
						Optional:    true,
						ElementType: types.StringType,
						MarkdownDescription: "Source parameters: `env` takes `var`; `file` takes `path`; `aws_secrets_manager` takes " +
							"`secret_id` and optionally `region`, `endpoint`, `version_stage`, `json_key`. None for `generated` and `inline`.",
						PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
					},
				},
			},
			"labels": schema.MapAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: nsLabelsDescription + " Updated in place; labels set outside Terraform are removed on the next apply.",
				Validators:          []validator.Map{labelsValidator()},
			},
			"annotations": schema.MapAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: nsAnnotationsDescription + " Updated in place; annotations set outside Terraform are removed on the next apply.",
				Validators:          []validator.Map{annotationsValidator()},
			},
			"material_wo": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				WriteOnly: true,
				MarkdownDescription: "Key material for `inline` keys: standard base64 of exactly 32 bytes. Write-only: sent to AuthProxy " +
					"when the key is created and when `material_wo_version` changes, never stored in the plan or state, and never returned " +
					"by AuthProxy. Required when creating an `inline` key; not allowed for other kinds. Because Terraform cannot see it, " +
					"changing only this value does nothing: change `material_wo_version` too to rotate to the new material.",
				Validators: []validator.String{keyMaterialValidator()},
			},
			"material_wo_version": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "For `inline` keys: bump it (to any other value) together with a new `material_wo` to rotate the key " +
					"to that material in place; the new material becomes a new current version.",
			},
			"rotation_trigger": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "For `generated` keys: setting it to a new value rotates the key in place (AuthProxy generates a new " +
					"current version), for example a date (`\"2026-q1\"`). Removing it does not rotate.",
			},
			"current_version": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "The number of the key's current version (1 when created, plus one per rotation).",
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"created_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When the key was created (RFC 3339, UTC).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

// keyMaterialValidator accepts standard base64 of exactly 32 bytes. It never echoes the value.
func keyMaterialValidator() validator.String { return keyMaterialCheck{} }

type keyMaterialCheck struct{}

func (keyMaterialCheck) Description(context.Context) string {
	return "standard base64 of exactly 32 bytes"
}
func (v keyMaterialCheck) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (keyMaterialCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	b, err := base64.StdEncoding.DecodeString(req.ConfigValue.ValueString())
	switch {
	case err != nil:
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid key material",
			"material_wo is not standard base64 (the value is not shown because it is secret).")
	case len(b) != 32:
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid key material",
			fmt.Sprintf("material_wo decodes to %d bytes; it must be exactly 32 (for example the output of `openssl rand -base64 32`).", len(b)))
	}
}

func (r *encryptionKeyResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var kind, material types.String
	var version types.Int64
	var trigger types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("source").AtName("kind"), &kind)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("material_wo"), &material)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("material_wo_version"), &version)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("rotation_trigger"), &trigger)...)
	if resp.Diagnostics.HasError() || kind.IsNull() || kind.IsUnknown() {
		return
	}
	k := kind.ValueString()
	if k != string(sdk.KeySourceInline) {
		if !material.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("material_wo"), "material_wo is only for inline keys",
				fmt.Sprintf("material_wo supplies the material of an inline key, but source.kind is %q. Remove material_wo, or use source.kind = \"inline\".", k))
		}
		if !version.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("material_wo_version"), "material_wo_version is only for inline keys",
				fmt.Sprintf("material_wo_version rotates the material of an inline key, but source.kind is %q. Remove it.", k))
		}
	}
	if k != string(sdk.KeySourceGenerated) && !trigger.IsNull() {
		hint := "Rotate inline keys by changing material_wo and material_wo_version."
		if k != string(sdk.KeySourceInline) {
			hint = "Keys of an external source rotate at the source."
		}
		resp.Diagnostics.AddAttributeError(path.Root("rotation_trigger"), "rotation_trigger is only for generated keys",
			fmt.Sprintf("source.kind is %q. %s", k, hint))
	}
}

// ModifyPlan requires the material when an inline key is created or rotated, and marks
// current_version unknown when the apply will rotate.
func (r *encryptionKeyResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	// Attribute by attribute: the source object may still be unknown at plan time.
	var kind, material types.String
	var plan, state keyRotation
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("source").AtName("kind"), &kind)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("material_wo"), &material)...)
	resp.Diagnostics.Append(plan.get(ctx, req.Plan)...)
	if resp.Diagnostics.HasError() || kind.IsNull() || kind.IsUnknown() {
		return
	}
	inline := kind.ValueString() == string(sdk.KeySourceInline)
	if req.State.Raw.IsNull() {
		if inline && material.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("material_wo"), "Missing key material",
				"An inline key needs material_wo (standard base64 of 32 bytes) when it is created.")
		}
		return
	}
	var priorKind types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("source").AtName("kind"), &priorKind)...)
	resp.Diagnostics.Append(state.get(ctx, req.State)...)
	if resp.Diagnostics.HasError() || !kind.Equal(priorKind) {
		return // replaced: a new key, version 1
	}
	if !keyRotates(kind.ValueString(), plan, state) {
		return
	}
	if inline && material.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("material_wo"), "Missing key material",
			"material_wo_version changed, which rotates the inline key to the material in material_wo, but material_wo is not set.")
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("current_version"), types.Int64Unknown())...)
}

// keyRotation holds the attributes that trigger a rotation.
type keyRotation struct {
	MaterialWOVersion types.Int64
	RotationTrigger   types.String
}

func (k *keyRotation) get(ctx context.Context, from interface {
	GetAttribute(context.Context, path.Path, interface{}) diag.Diagnostics
}) diag.Diagnostics {
	diags := from.GetAttribute(ctx, path.Root("material_wo_version"), &k.MaterialWOVersion)
	diags.Append(from.GetAttribute(ctx, path.Root("rotation_trigger"), &k.RotationTrigger)...)
	return diags
}

// keyRotates says whether going from state to plan rotates a key of this kind: a new
// non-null material_wo_version (inline) or rotation_trigger (generated).
func keyRotates(kind string, plan, state keyRotation) bool {
	switch kind {
	case string(sdk.KeySourceInline):
		return !plan.MaterialWOVersion.IsNull() && !plan.MaterialWOVersion.IsUnknown() && !plan.MaterialWOVersion.Equal(state.MaterialWOVersion)
	case string(sdk.KeySourceGenerated):
		return !plan.RotationTrigger.IsNull() && !plan.RotationTrigger.IsUnknown() && !plan.RotationTrigger.Equal(state.RotationTrigger)
	}
	return false
}

func (r *encryptionKeyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if c := clientFrom(req.ProviderData, &resp.Diagnostics); c != nil {
		r.client = c
	}
}

// keyFieldMapper maps the API's fields onto attributes: material is material_wo.
func keyFieldMapper(field string) (path.Path, bool) {
	if field == "material" {
		return path.Root("material_wo"), true
	}
	return DefaultFieldMapper(field)
}

func (r *encryptionKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan encryptionKeyResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var material types.String
	// Write-only: only the configuration holds it.
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("material_wo"), &material)...)
	if resp.Diagnostics.HasError() {
		return
	}
	body := sdk.KeyCreate{
		Namespace: plan.Namespace.ValueString(),
		Name:      plan.Name.ValueString(),
		Source:    sdk.KeySource{Kind: sdk.KeySourceKind(plan.Source.Kind.ValueString())},
	}
	if !plan.Source.Params.IsNull() {
		p, d := nsStringMap(ctx, plan.Source.Params)
		resp.Diagnostics.Append(d...)
		body.Source.Params = &p
	}
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
	if !material.IsNull() && !material.IsUnknown() {
		m := material.ValueString()
		body.Material = &m
	}
	if resp.Diagnostics.HasError() {
		return
	}
	what := fmt.Sprintf("create key %q in namespace %q", body.Name, body.Namespace)
	out, err := r.client.API.CreateKeyWithResponse(ctx, body)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create key", fmt.Sprintf("Trying to %s failed: %v.", what, unwrapURLError(err)))
		return
	}
	if out.JSON201 == nil {
		resp.Diagnostics.Append(problemDiagnostics(what, out.StatusCode(), out.ApplicationproblemJSONDefault, out.Body, keyFieldMapper)...)
		return
	}
	state := plan
	resp.Diagnostics.Append(keyToState(ctx, out.JSON201, &state)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *encryptionKeyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state encryptionKeyResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	out, err := r.client.API.GetKeyWithResponse(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read key", fmt.Sprintf("Reading key %q failed: %v.", id, unwrapURLError(err)))
		return
	}
	if out.StatusCode() == http.StatusNotFound {
		resp.State.RemoveResource(ctx)
		return
	}
	if out.JSON200 == nil {
		resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("read key %q", id), out.StatusCode(),
			out.ApplicationproblemJSONDefault, out.Body, keyFieldMapper)...)
		return
	}
	resp.Diagnostics.Append(keyToState(ctx, out.JSON200, &state)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *encryptionKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, prior encryptionKeyResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	var material types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("material_wo"), &material)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := prior.ID.ValueString()
	labels, annotations, d := patchMaps(ctx, plan.Labels, plan.Annotations)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	out, err := r.client.API.UpdateKeyWithResponse(ctx, id, sdk.KeyUpdate{Labels: &labels, Annotations: &annotations})
	if err != nil {
		resp.Diagnostics.AddError("Cannot update key", fmt.Sprintf("Updating key %q failed: %v.", id, unwrapURLError(err)))
		return
	}
	if out.JSON200 == nil {
		resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("update key %q", id), out.StatusCode(),
			out.ApplicationproblemJSONDefault, out.Body, keyFieldMapper)...)
		return
	}
	state := plan
	resp.Diagnostics.Append(keyToState(ctx, out.JSON200, &state)...)
	if keyRotates(plan.Source.Kind.ValueString(),
		keyRotation{MaterialWOVersion: plan.MaterialWOVersion, RotationTrigger: plan.RotationTrigger},
		keyRotation{MaterialWOVersion: prior.MaterialWOVersion, RotationTrigger: prior.RotationTrigger}) {
		var body sdk.KeyRotate
		if plan.Source.Kind.ValueString() == string(sdk.KeySourceInline) {
			if material.IsNull() || material.IsUnknown() {
				resp.Diagnostics.AddAttributeError(path.Root("material_wo"), "Missing key material",
					"material_wo_version changed, which rotates the inline key to the material in material_wo, but material_wo is not set.")
				return
			}
			m := material.ValueString()
			body.Material = &m
		}
		rot, err := r.client.API.RotateKeyWithResponse(ctx, id, body)
		if err != nil {
			resp.Diagnostics.AddError("Cannot rotate key", fmt.Sprintf("Rotating key %q failed: %v.", id, unwrapURLError(err)))
			return
		}
		if rot.JSON201 == nil {
			resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("rotate key %q", id), rot.StatusCode(),
				rot.ApplicationproblemJSONDefault, rot.Body, keyFieldMapper)...)
			return
		}
		state.CurrentVersion = types.Int64Value(int64(rot.JSON201.Number))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *encryptionKeyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state encryptionKeyResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	out, err := r.client.API.DeleteKeyWithResponse(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Cannot delete key", fmt.Sprintf("Deleting key %q failed: %v.", id, unwrapURLError(err)))
		return
	}
	switch out.StatusCode() {
	case http.StatusNoContent, http.StatusNotFound:
		return
	case http.StatusConflict:
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot delete key %q", id),
			fmt.Sprintf("AuthProxy refused: %s. A key is only deleted once no namespace is assigned it and no stored value is sealed with it; "+
				"when Terraform manages the assignment (authproxy_namespace_key), make it refer to this key's id so it is removed first.",
				strings.TrimSuffix(problemDetail(out.ApplicationproblemJSONDefault, out.Body), ".")))
		return
	}
	resp.Diagnostics.Append(problemDiagnostics(fmt.Sprintf("delete key %q", id), out.StatusCode(),
		out.ApplicationproblemJSONDefault, out.Body, keyFieldMapper)...)
}

func (r *encryptionKeyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !strings.HasPrefix(req.ID, "key_") {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("The import ID is the key id (key_…), as AuthProxy lists it: %q.", req.ID))
		return
	}
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}

// keyToState copies a key the API returned into m (maps as nsToState does). material_wo,
// material_wo_version and rotation_trigger are the configuration's and are left alone.
func keyToState(ctx context.Context, k *sdk.Key, m *encryptionKeyResourceModel) diag.Diagnostics {
	var diags, d diag.Diagnostics
	m.ID = types.StringValue(k.Id)
	m.Namespace = types.StringValue(k.Namespace)
	m.Name = types.StringValue(k.Name)
	m.CurrentVersion = types.Int64Value(int64(k.CurrentVersion))
	m.CreatedAt = types.StringValue(nsTime(k.CreatedAt))
	priorParams := types.MapNull(types.StringType)
	if m.Source != nil {
		priorParams = m.Source.Params
	}
	var params map[string]string
	if k.Source.Params != nil {
		params = *k.Source.Params
	}
	src := &keySourceModel{Kind: types.StringValue(string(k.Source.Kind))}
	src.Params, d = nsMapValue(ctx, priorParams, params)
	diags.Append(d...)
	m.Source = src
	m.Labels, d = nsMapValue(ctx, m.Labels, k.Labels)
	diags.Append(d...)
	m.Annotations, d = nsMapValue(ctx, m.Annotations, k.Annotations)
	diags.Append(d...)
	m.MaterialWO = types.StringNull()
	return diags
}
