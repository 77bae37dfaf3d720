package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/authproxy/authproxy/sdk"
)

// Plan-time validation, so a typo fails at `plan` with the attribute named instead of at
// `apply`. The server stays authoritative and checks everything again.

var (
	namespaceSegment = regexp.MustCompile(`^[a-z0-9_][a-z0-9_-]*$`)
	labelName        = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	dnsLabel         = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

const (
	maxNamespacePath   = 253
	maxNamespaceDepth  = 16
	maxSegmentLength   = 63
	maxLabelNameLength = 63
)

// checkNamespacePath mirrors the server's rules for a namespace path.
func checkNamespacePath(p string) error {
	if p == "" {
		return fmt.Errorf("must not be empty")
	}
	if len(p) > maxNamespacePath {
		return fmt.Errorf("is %d characters long; the limit is %d", len(p), maxNamespacePath)
	}
	segs := strings.Split(p, ".")
	if segs[0] != "root" {
		return fmt.Errorf("must start with \"root\", for example root.tenants.acme")
	}
	if len(segs) > maxNamespaceDepth {
		return fmt.Errorf("has %d segments; the limit is %d", len(segs), maxNamespaceDepth)
	}
	for _, s := range segs[1:] {
		if len(s) > maxSegmentLength {
			return fmt.Errorf("segment %q is longer than %d characters", s, maxSegmentLength)
		}
		if !namespaceSegment.MatchString(s) {
			return fmt.Errorf("segment %q must be lowercase letters, digits, '_' or '-', and not start with '-'", s)
		}
	}
	return nil
}

// checkLabelKey mirrors Kubernetes label key rules: [prefix/]name.
func checkLabelKey(k string) error {
	name := k
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		prefix := k[:i]
		name = k[i+1:]
		if prefix == "" || len(prefix) > 253 {
			return fmt.Errorf("key %q: the prefix must be a DNS subdomain of at most 253 characters", k)
		}
		for _, part := range strings.Split(prefix, ".") {
			if !dnsLabel.MatchString(part) {
				return fmt.Errorf("key %q: the prefix must be a lowercase DNS subdomain such as example.com", k)
			}
		}
	}
	if name == "" || len(name) > maxLabelNameLength || !labelName.MatchString(name) {
		return fmt.Errorf("key %q: the name must be 1-63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric", k)
	}
	return nil
}

func checkLabelValue(k, v string) error {
	if v == "" {
		return nil
	}
	if len(v) > maxLabelNameLength || !labelName.MatchString(v) {
		return fmt.Errorf("value %q of %q must be at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric", v, k)
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
	return stringCheck{desc: "namespace path", check: checkNamespacePath}
}

// permissionNamespaceValidator accepts a namespace path, optionally ending in ".**" for the
// whole subtree.
func permissionNamespaceValidator() validator.String {
	return stringCheck{desc: "permission namespace", check: func(s string) error {
		if strings.Contains(strings.TrimSuffix(s, ".**"), "*") {
			return fmt.Errorf("may only end in \".**\" (the namespace and everything below it); other wildcards are not supported")
		}
		return checkNamespacePath(strings.TrimSuffix(s, ".**"))
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
