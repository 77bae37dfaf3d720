package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/sdk/names"
)

// Plan-time validation, so a typo fails at `plan` with the attribute named instead of at
// `apply`. The server stays authoritative and checks everything again.

// checkLabelKey applies the contract's label key rules (sdk/names).
func checkLabelKey(k string) error {
	if msg := names.LabelKeyProblem(k); msg != "" {
		return fmt.Errorf("key %q: %s", k, msg)
	}
	return nil
}

func checkLabelValue(k, v string) error {
	if msg := names.LabelValueProblem(v); msg != "" {
		return fmt.Errorf("value %q of %q %s", v, k, msg)
	}
	return nil
}

type stringCheck struct {
	desc  string
	check func(string) error
}

func (v stringCheck) Description(context.Context) string         { return v.desc }
func (v stringCheck) MarkdownDescription(context.Context) string { return v.desc }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+v.desc, fmt.Sprintf("%q %v.", req.ConfigValue.ValueString(), err))
	}
}

// namespacePathValidator accepts a namespace path such as root.tenants.acme.
func namespacePathValidator() validator.String {
	return stringCheck{desc: "namespace path", check: names.ValidateNamespacePath}
}

// permissionNamespaceValidator accepts a namespace path, optionally ending in ".**" for the
// whole subtree.
func permissionNamespaceValidator() validator.String {
	return stringCheck{desc: "permission namespace", check: func(s string) error {
		if strings.Contains(strings.TrimSuffix(s, ".**"), "*") {
			return fmt.Errorf("may only end in \".**\" (the namespace and everything below it); other wildcards are not supported")
		}
		return names.ValidateNamespacePath(strings.TrimSuffix(s, ".**"))
	}}
}

type mapCheck struct {
	desc   string
	values bool
}

func (v mapCheck) Description(context.Context) string         { return v.desc }
func (v mapCheck) MarkdownDescription(context.Context) string { return v.desc }

func (v mapCheck) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for k, e := range req.ConfigValue.Elements() {
		at := req.Path.AtMapKey(k)
		if err := checkLabelKey(k); err != nil {
			resp.Diagnostics.AddAttributeError(at, "Invalid "+v.desc, err.Error()+".")
			continue
		}
		if !v.values || e.IsNull() || e.IsUnknown() {
			continue
		}
		if s, ok := e.(interface{ ValueString() string }); ok {
			if err := checkLabelValue(k, s.ValueString()); err != nil {
				resp.Diagnostics.AddAttributeError(at, "Invalid "+v.desc, err.Error()+".")
			}
		}
	}
}

// labelsValidator checks label keys and values (Kubernetes rules).
func labelsValidator() validator.Map { return mapCheck{desc: "label", values: true} }

// annotationsValidator checks annotation keys (values are free-form).
func annotationsValidator() validator.Map { return mapCheck{desc: "annotation key"} }

// resourceNames and verbNames come from the contract's enums (the generated SDK).
func resourceNames() []string {
	return []string{string(sdk.ResourceAsterisk), string(sdk.ResourceNamespaces), string(sdk.ResourceActors), string(sdk.ResourceKeys),
		string(sdk.ResourceConnectors), string(sdk.ResourceConnections), string(sdk.ResourceRequestLogs)}
}

func verbNames() []string {
	return []string{string(sdk.VerbAsterisk), string(sdk.VerbGet), string(sdk.VerbList), string(sdk.VerbCreate), string(sdk.VerbUpdate),
		string(sdk.VerbDelete), string(sdk.VerbPromote), string(sdk.VerbProxy), string(sdk.VerbRotate), string(sdk.VerbImpersonate)}
}

// resourceValidator and verbValidator reject unknown permission vocabulary at plan time.
func resourceValidator() validator.String { return stringvalidator.OneOf(resourceNames()...) }
func verbValidator() validator.String     { return stringvalidator.OneOf(verbNames()...) }
