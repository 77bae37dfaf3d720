#!/usr/bin/env bash
# End-to-end check of the Terraform surface against a real dev-mode server:
#
#   1. build and start `authproxy serve` in dev mode in a temporary directory, on free
#      loopback ports, and wait for /readyz;
#   2. export the variables its banner prints (and nothing else) for the provider;
#   3. `provider-install` (the local filesystem mirror and its CLI config file);
#   4. for each CLI: examples/quickstart (copied to a temporary directory) init, apply,
#      a second plan that must be empty, destroy; then `test` of modules/tenant and
#      modules/connector; before that, once, examples/go-app (SDK + proxy) and
#      examples/host-app (delegated session + marketplace);
#   5. stop the server.
#
# Environment:
#   E2E_CLI    the CLIs to run, space-separated (default: TOFU, plus TERRAFORM when set)
#   TOFU       OpenTofu binary (default <repo>/bin/tofu, built by `make tofu`)
#   TERRAFORM  Terraform binary (default: `terraform` on PATH, if any; empty to skip)
#   KEEP=1     keep the temporary directory (server log, states) for debugging
#   BIN, GO, PROVIDER_VERSION as for provider-install.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=devserver.sh
. "$root/terraform-provider/scripts/devserver.sh"
GO=${GO:-go}
export BIN=${BIN:-$root/bin} GO PROVIDER_VERSION=${PROVIDER_VERSION:-0.0.1}
TOFU=${TOFU:-$root/bin/tofu}
TERRAFORM=${TERRAFORM-$(command -v terraform 2>/dev/null || true)}
if [ -n "${E2E_CLI:-}" ]; then
	read -r -a clis <<<"$E2E_CLI"
else
	clis=("$TOFU")
	[ -n "$TERRAFORM" ] && clis+=("$TERRAFORM")
fi
for c in "${clis[@]}"; do
	command -v "$c" >/dev/null 2>&1 || { echo "e2e: CLI '$c' not found (make tofu builds ./bin/tofu)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/authproxy-e2e.XXXXXX")
server_pid=
cleanup() {
	local rc=$?
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [ "$rc" -ne 0 ] && [ -f "$tmp/server.log" ]; then
		echo "--- last lines of the server log ($tmp/server.log)" >&2
		tail -n 40 "$tmp/server.log" >&2 || true
	fi
	if [ "${KEEP:-}" = 1 ] || [ "$rc" -ne 0 ]; then
		echo "e2e: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	if [ "$rc" -eq 0 ]; then echo "e2e: PASS"; else echo "e2e: FAIL (exit $rc)" >&2; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_all=$SECONDS
declare -a timings=()
step() { printf '\n=== %s\n' "$*"; }
# timed NAME CMD...: runs CMD, records its wall time under NAME.
timed() {
	local name=$1 t0=$SECONDS
	shift
	"$@"
	timings+=("$(printf '%-44s %4ds' "$name" $((SECONDS - t0)))")
}

# --- 1. the dev-mode server ----------------------------------------------------------------
step "build and start the dev-mode server"
start_dev_server "$tmp" e2e

# --- 2. the provider mirror and its CLI configuration ---------------------------------------
step "provider-install"
export_line=$("$root/terraform-provider/scripts/provider-install.sh" | tail -n 1)
case $export_line in
export\ TF_CLI_CONFIG_FILE=*) export TF_CLI_CONFIG_FILE=${export_line#export TF_CLI_CONFIG_FILE=} ;;
*) echo "e2e: provider-install printed '$export_line', not an export line" >&2; exit 1 ;;
esac
[ -f "$TF_CLI_CONFIG_FILE" ] || { echo "e2e: $TF_CLI_CONFIG_FILE missing" >&2; exit 1; }
echo "  TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE"
# No network: nothing but the mirror; no version checks, no plugin cache, no stray CLI args.
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR TF_CLI_ARGS TF_WORKSPACE TF_LOG
for v in $(compgen -e | grep -E '^TF_CLI_ARGS_|^TF_VAR_' || true); do unset "$v"; done

# copy_config SRC DST: the configuration files of SRC, without local state or lock files.
copy_config() {
	mkdir -p "$2"
	(cd "$1" && tar --exclude=.terraform --exclude='*.tfstate*' --exclude=.terraform.lock.hcl -cf - .) | (cd "$2" && tar -xf -)
}

# --- 3. every CLI ---------------------------------------------------------------------------
step "fmt -check: examples, modules, provider examples"
"${clis[0]}" fmt -check -recursive -diff "$root/examples" "$root/modules" "$root/terraform-provider/examples" ||
	{ echo "e2e: run '$(basename "${clis[0]}") fmt -recursive' on the files above" >&2; exit 1; }

step "examples/go-app: an API-key connection to a local demo upstream, called through the proxy"
timed "go-app" "$GO" run "$root/examples/go-app"

step "examples/host-app: a host web app signs a user in to the embedded marketplace and connects through it"
timed "host-app" "$GO" run "$root/examples/host-app" -check -addr 127.0.0.1:0

for cli in "${clis[@]}"; do
	name=$(basename "$cli")
	echo
	version=$("$cli" version)
	echo "${version%%$'\n'*}"

	qs=$tmp/$name/quickstart
	copy_config "$root/examples/quickstart" "$qs"
	tf() { "$cli" -chdir="$qs" "$@"; }

	step "$name: examples/quickstart init"
	timed "$name quickstart init" tf init -input=false -no-color
	grep -q 'registry\.[a-z.]*/authproxy/authproxy' "$qs/.terraform.lock.hcl" ||
		{ echo "e2e: no authproxy/authproxy in the lock file" >&2; exit 1; }

	step "$name: examples/quickstart apply"
	timed "$name quickstart apply" tf apply -auto-approve -input=false -no-color

	got=$(tf output -raw namespace)
	[ "$got" = root.quickstart ] || { echo "e2e: output namespace = '$got', want root.quickstart" >&2; exit 1; }
	got=$(tf output -raw app_actor_id)
	[[ $got == act_* ]] || { echo "e2e: output app_actor_id = '$got', want act_…" >&2; exit 1; }

	step "$name: examples/quickstart plan (must be empty)"
	t0=$SECONDS
	set +e
	tf plan -detailed-exitcode -input=false -no-color >"$tmp/$name/plan.txt" 2>&1
	rc=$?
	set -e
	timings+=("$(printf '%-44s %4ds' "$name quickstart plan" $((SECONDS - t0)))")
	cat "$tmp/$name/plan.txt"
	case $rc in
	0) echo "  empty plan" ;;
	2) echo "e2e: $name plans changes right after apply (see above)" >&2; exit 1 ;;
	*) echo "e2e: $name plan failed (exit $rc)" >&2; exit 1 ;;
	esac

	step "$name: examples/quickstart destroy"
	timed "$name quickstart destroy" tf destroy -auto-approve -input=false -no-color
	left=$(tf state list)
	[ -z "$left" ] || { echo "e2e: resources left in state after destroy: $left" >&2; exit 1; }

	mod=$tmp/$name/tenant
	copy_config "$root/modules/tenant" "$mod"
	step "$name: modules/tenant init + test"
	timed "$name modules/tenant init" "$cli" -chdir="$mod" init -input=false -no-color
	timed "$name modules/tenant test" "$cli" -chdir="$mod" test -no-color

	mod=$tmp/$name/connector
	copy_config "$root/modules/connector" "$mod"
	step "$name: modules/connector init + test"
	timed "$name modules/connector init" "$cli" -chdir="$mod" init -input=false -no-color
	timed "$name modules/connector test" "$cli" -chdir="$mod" test -no-color
done

step "wall times"
printf '  %s\n' "${timings[@]}"
printf '  %-44s %4ds\n' "total (including builds and server start)" $((SECONDS - start_all))
