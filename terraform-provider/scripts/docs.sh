#!/usr/bin/env bash
# Generates terraform-provider/docs with tfplugindocs (a Go tool of terraform-provider/go.mod).
#
# tfplugindocs normally builds the provider and runs `terraform init` + `providers schema`
# itself, downloading Terraform when none is on PATH, and its unqualified provider address
# only resolves under Terraform's registry host (not OpenTofu's). To stay offline and work with
# either CLI, this script produces the schema itself with a local CLI and a plugin directory,
# under the fully qualified address tfplugindocs looks up
# (registry.terraform.io/hashicorp/authproxy), and hands it over with --providers-schema.
#
# Environment: DOCS_CLI (the CLI to use), else TERRAFORM / `terraform` on PATH, else TOFU
# (default <repo>/bin/tofu). GO (default go).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
GO=${GO:-go}
cli=${DOCS_CLI:-${TERRAFORM:-$(command -v terraform 2>/dev/null || true)}}
cli=${cli:-${TOFU:-$root/bin/tofu}}
if ! command -v "$cli" >/dev/null 2>&1; then
	echo "docs: no Terraform or OpenTofu CLI found (tried '$cli'); run 'make tofu' or install terraform" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

read -r goos goarch < <("$GO" env GOOS GOARCH | paste -sd' ')
plugin_dir=$work/plugins/registry.terraform.io/hashicorp/authproxy/0.0.1/${goos}_${goarch}
mkdir -p "$plugin_dir"
(cd "$root/terraform-provider" && CGO_ENABLED=0 "$GO" build -trimpath -buildvcs=false \
	-o "$plugin_dir/terraform-provider-authproxy_v0.0.1" .)

cat >"$work/main.tf" <<'EOF'
terraform {
  required_providers {
    authproxy = { source = "registry.terraform.io/hashicorp/authproxy" }
  }
}
EOF
# A CLI configuration of our own: the machine's TF_CLI_CONFIG_FILE may name a missing file.
echo 'disable_checkpoint = true' >"$work/cli.tfrc"
export TF_CLI_CONFIG_FILE=$work/cli.tfrc
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR

echo "docs: provider schema from $cli" >&2
"$cli" -chdir="$work" init -input=false -no-color -backend=false -plugin-dir="$work/plugins" >"$work/init.log" 2>&1 ||
	{ cat "$work/init.log" >&2; exit 1; }
"$cli" -chdir="$work" providers schema -json >"$work/schema.json"

cd "$root/terraform-provider"
"$GO" tool tfplugindocs generate --provider-name authproxy --providers-schema "$work/schema.json"
