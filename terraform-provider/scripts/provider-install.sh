#!/usr/bin/env bash
# Builds terraform-provider-authproxy and installs it into a filesystem mirror inside the
# repository, under both registry hosts (registry.terraform.io for Terraform,
# registry.opentofu.org for OpenTofu: each CLI resolves `source = "authproxy/authproxy"`
# to its own host), then writes a CLI configuration file that installs authproxy/* from
# that mirror only and everything else as usual.
#
# A mirror (unlike dev_overrides) works with `init`, lock files and `tofu test`, offline.
#
# Environment: BIN (default <repo>/bin), PROVIDER_VERSION (default 0.0.1), GO (default go).
# The last line of output is the `export TF_CLI_CONFIG_FILE=…` to run.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
GO=${GO:-go}
BIN=${BIN:-$root/bin}
PROVIDER_VERSION=${PROVIDER_VERSION:-0.0.1}
mkdir -p "$BIN"
BIN=$(cd "$BIN" && pwd)
plugins=$BIN/plugins
tfrc=$BIN/authproxy.tfrc

read -r goos goarch < <("$GO" env GOOS GOARCH | paste -sd' ')
hosts=(registry.terraform.io registry.opentofu.org)

# -trimpath and -buildvcs=false keep the binary (and so the h1: hash recorded in lock files)
# identical across rebuilds of unchanged code.
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
(cd "$root/terraform-provider" && CGO_ENABLED=0 "$GO" build -trimpath -buildvcs=false \
	-ldflags "-s -w -X main.version=$PROVIDER_VERSION" -o "$build/terraform-provider-authproxy" .)

for host in "${hosts[@]}"; do
	dir=$plugins/$host/authproxy/authproxy/$PROVIDER_VERSION/${goos}_${goarch}
	mkdir -p "$dir"
	# Replace, never rewrite in place: a running provider keeps its old inode.
	install -m 0755 "$build/terraform-provider-authproxy" "$dir/.terraform-provider-authproxy.tmp"
	mv -f "$dir/.terraform-provider-authproxy.tmp" "$dir/terraform-provider-authproxy_v$PROVIDER_VERSION"
	echo "installed $dir/terraform-provider-authproxy_v$PROVIDER_VERSION" >&2
done

cat >"$tfrc.tmp" <<EOF
# Written by \`make provider-install\`: install authproxy/authproxy from the local mirror,
# every other provider from its registry as usual.
disable_checkpoint = true

provider_installation {
  filesystem_mirror {
    path    = "$plugins"
    include = ["registry.terraform.io/authproxy/*", "registry.opentofu.org/authproxy/*"]
  }
  direct {
    exclude = ["registry.terraform.io/authproxy/*", "registry.opentofu.org/authproxy/*"]
  }
}
EOF
mv -f "$tfrc.tmp" "$tfrc"
echo "wrote $tfrc (provider authproxy/authproxy $PROVIDER_VERSION, ${goos}_${goarch})" >&2
echo "export TF_CLI_CONFIG_FILE=$tfrc"
