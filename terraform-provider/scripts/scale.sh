#!/usr/bin/env bash
# Scale benchmark of the Terraform provider against a real dev-mode server:
#
#   1. build and start `authproxy serve all` in dev mode in a temporary directory, on free
#      loopback ports, export the variables its banner prints, and wait for /readyz;
#   2. `provider-install` (the local filesystem mirror and its CLI config file);
#   3. generate a configuration of 1 parent namespace (root.scale), N child namespaces
#      (root.scale.ns-<i>, 2 labels each) and N actors (one per child namespace, 2
#      permissions, 2 labels, 1 Ed25519 public key): 2N+1 resources;
#   4. with one CLI: init, then a timed apply, a timed no-change plan (-detailed-exitcode),
#      and a timed destroy, counting the admin service's HTTP requests
#      (authproxy_http_requests_total{service="admin"} on /metrics) around each;
#   5. print a summary table, stop the server.
#
# It fails when the no-change plan is not empty, takes SCALE_PLAN_LIMIT seconds or more,
# or makes more than one admin API call per resource plus 5.
#
# Environment:
#   SCALE_N            number of child namespaces and of actors (default 500)
#   SCALE_CLI          the CLI to run (default <repo>/bin/tofu, built by `make tofu`);
#                      for example SCALE_CLI=terraform
#   SCALE_PARALLELISM  -parallelism of apply, plan and destroy (default 10)
#   SCALE_PLAN_LIMIT   the no-change plan must finish in under this many seconds (default 30)
#   KEEP=1             keep the temporary directory (server log, configuration, CLI logs)
#   BIN, GO, PROVIDER_VERSION as for provider-install.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=devserver.sh
. "$root/terraform-provider/scripts/devserver.sh"
GO=${GO:-go}
export BIN=${BIN:-$root/bin} GO PROVIDER_VERSION=${PROVIDER_VERSION:-0.0.1}
N=${SCALE_N:-500}
CLI=${SCALE_CLI:-$root/bin/tofu}
PARALLELISM=${SCALE_PARALLELISM:-10}
PLAN_LIMIT=${SCALE_PLAN_LIMIT:-30}
for v in N PARALLELISM PLAN_LIMIT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "scale: SCALE_$v='${!v}' is not a positive integer" >&2; exit 2; }
done
command -v "$CLI" >/dev/null 2>&1 || { echo "scale: CLI '$CLI' not found (make tofu builds ./bin/tofu)" >&2; exit 1; }
command -v ssh-keygen >/dev/null 2>&1 || { echo "scale: ssh-keygen not found (apt-get install openssh-client)" >&2; exit 1; }
command -v curl >/dev/null 2>&1 || { echo "scale: curl not found" >&2; exit 1; }
RESOURCES=$((2 * N + 1))

tmp=$(mktemp -d "${TMPDIR:-/tmp}/authproxy-scale.XXXXXX")
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
		tail -n 20 "$tmp/server.log" >&2 || true
	fi
	if [ "${KEEP:-}" = 1 ] || [ "$rc" -ne 0 ]; then
		echo "scale: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	if [ "$rc" -eq 0 ]; then echo "scale: PASS"; else echo "scale: FAIL (exit $rc)" >&2; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step() { printf '\n=== %s\n' "$*"; }
# load: the 1, 5 and 15 minute load averages.
load() { uptime | sed -E 's/.*load averages?: *//'; }
# now: seconds since the epoch, to the microsecond.
now() { echo "$EPOCHREALTIME"; }
# elapsed T0: seconds since T0, to the hundredth.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# per A B: A / B to the hundredth.
per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# --- 1. the dev-mode server ----------------------------------------------------------------
step "build and start the dev-mode server"
echo "  load average: $(load) ($(nproc) cores)"
start_dev_server "$tmp" scale

# admin_requests: the admin service's request counter, summed over method and status. The
# scrape itself is counted too, once it has answered: a later scrape sees it.
admin_requests() {
	local m
	m=$(curl -fsS "$AUTHPROXY_ADMIN_URL/metrics") || { echo "scale: cannot read $AUTHPROXY_ADMIN_URL/metrics" >&2; return 1; }
	awk '/^authproxy_http_requests_total\{/ && /service="admin"/ { s += $NF; n++ }
		END { if (!n) exit 1; printf "%.0f\n", s }' <<<"$m" ||
		{ echo "scale: no authproxy_http_requests_total{service=\"admin\"} on /metrics" >&2; return 1; }
}
# calls_since BEFORE: admin requests since the scrape that read BEFORE, that scrape excluded.
calls_since() {
	local c
	c=$(admin_requests) || return 1
	echo $((c - $1 - 1))
}
# The counting itself must be exact: two scrapes in a row differ by the first one.
c0=$(admin_requests)
c1=$(calls_since "$c0")
[ "$c1" -eq 0 ] || { echo "scale: the admin request counter moved by $c1 between two scrapes; cannot count API calls" >&2; exit 1; }

# --- 2. the provider mirror and its CLI configuration ---------------------------------------
step "provider-install"
export_line=$("$root/terraform-provider/scripts/provider-install.sh" | tail -n 1)
case $export_line in
export\ TF_CLI_CONFIG_FILE=*) export TF_CLI_CONFIG_FILE=${export_line#export TF_CLI_CONFIG_FILE=} ;;
*) echo "scale: provider-install printed '$export_line', not an export line" >&2; exit 1 ;;
esac
[ -f "$TF_CLI_CONFIG_FILE" ] || { echo "scale: $TF_CLI_CONFIG_FILE missing" >&2; exit 1; }
echo "  TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE"
# No network: nothing but the mirror; no version checks, no plugin cache, no stray CLI args.
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR TF_CLI_ARGS TF_WORKSPACE TF_LOG TF_LOG_PATH
for v in $(compgen -e | grep -E '^TF_CLI_ARGS_|^TF_VAR_' || true); do unset "$v"; done

# --- 3. the configuration -------------------------------------------------------------------
step "generate the configuration: 1 + $N namespaces, $N actors ($RESOURCES resources)"
cfg=$tmp/config
mkdir -p "$cfg"
ssh-keygen -q -t ed25519 -N '' -C scale@authproxy -f "$tmp/scale_key" >/dev/null
cp "$tmp/scale_key.pub" "$cfg/scale.pub"

cat >"$cfg/versions.tf" <<EOF
terraform {
  required_providers {
    authproxy = {
      source  = "authproxy/authproxy"
      version = "$PROVIDER_VERSION"
    }
  }
}

# AUTHPROXY_ADMIN_URL, AUTHPROXY_ACTOR and AUTHPROXY_PRIVATE_KEY_FILE from the dev server.
provider "authproxy" {}
EOF

# The names are written out (rather than range()d) so that any N works.
{
	printf '{\n  "locals": {\n    "names": [\n'
	for ((i = 0; i < N; i++)); do
		sep=,
		[ "$i" -eq $((N - 1)) ] && sep=
		printf '      "ns-%d"%s\n' "$i" "$sep"
	done
	printf '    ]\n  }\n}\n'
} >"$cfg/names.tf.json"

cat >"$cfg/main.tf" <<'EOF'
# Generated by terraform-provider/scripts/scale.sh.
locals {
  public_key = trimspace(file("${path.module}/scale.pub"))
}

resource "authproxy_namespace" "parent" {
  path = "root.scale"

  labels = {
    purpose = "scale"
  }
}

resource "authproxy_namespace" "ns" {
  for_each = toset(local.names)

  path = "${authproxy_namespace.parent.path}.${each.key}"

  labels = {
    tenant = each.key
    tier   = "bench"
  }
}

resource "authproxy_actor" "app" {
  for_each = authproxy_namespace.ns

  namespace   = each.value.path
  external_id = "app-${each.key}"
  name        = "Scale actor ${each.key}"

  labels = {
    kind   = "application"
    tenant = each.key
  }

  permissions = [
    {
      namespace = "${each.value.path}.**"
      resources = ["namespaces"]
      verbs     = ["get", "list"]
    },
    {
      namespace = each.value.path
      resources = ["connections"]
      verbs     = ["get", "list", "proxy"]
    },
  ]

  public_keys = [local.public_key]
}
EOF
echo "  $cfg: $(wc -l <"$cfg/names.tf.json") lines of names, main.tf, versions.tf"

# --- 4. the CLI -----------------------------------------------------------------------------
cli_name=$(basename "$CLI")
cli_version=$("$CLI" version)
cli_version=${cli_version%%$'\n'*}
tf() { "$CLI" -chdir="$cfg" "$@"; }
# run LOG CMD...: runs CMD with its output in LOG; on failure shows the end of LOG.
run() {
	local log=$1 rc=0
	shift
	"$@" >"$log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "--- last lines of $log" >&2
		tail -n 30 "$log" >&2
	fi
	return "$rc"
}

step "$cli_version: init"
t0=$(now)
run "$tmp/init.log" tf init -input=false -no-color
init_s=$(elapsed "$t0")
echo "  ${init_s}s"

apply_load=$(load)
step "$cli_name: apply -parallelism=$PARALLELISM ($RESOURCES resources; load $apply_load)"
c0=$(admin_requests)
t0=$(now)
run "$tmp/apply.log" tf apply -auto-approve -input=false -no-color -parallelism="$PARALLELISM"
apply_s=$(elapsed "$t0")
apply_calls=$(calls_since "$c0")
grep -E '^Apply complete!' "$tmp/apply.log" | sed 's/^/  /'
echo "  ${apply_s}s, $apply_calls admin API calls"
in_state=$(tf state list | wc -l)
[ "$in_state" -eq "$RESOURCES" ] || { echo "scale: $in_state resources in state after apply, want $RESOURCES" >&2; exit 1; }

step "$cli_name: no-change plan -detailed-exitcode (load $(load))"
c0=$(admin_requests)
t0=$(now)
plan_rc=0
tf plan -detailed-exitcode -input=false -no-color -parallelism="$PARALLELISM" >"$tmp/plan.log" 2>&1 || plan_rc=$?
plan_s=$(elapsed "$t0")
plan_calls=$(calls_since "$c0")
plan_load=$(load)
case $plan_rc in
0) plan_result="empty" ;;
2) plan_result="CHANGES"; grep -E '^ *# |^Plan:' "$tmp/plan.log" | head -n 40 >&2 ;;
*) plan_result="FAILED (exit $plan_rc)"; tail -n 30 "$tmp/plan.log" >&2 ;;
esac
echo "  $plan_result, ${plan_s}s, $plan_calls admin API calls"

step "$cli_name: destroy -parallelism=$PARALLELISM (load $(load))"
c0=$(admin_requests)
t0=$(now)
run "$tmp/destroy.log" tf destroy -auto-approve -input=false -no-color -parallelism="$PARALLELISM"
destroy_s=$(elapsed "$t0")
destroy_calls=$(calls_since "$c0")
grep -E '^Destroy complete!' "$tmp/destroy.log" | sed 's/^/  /'
left=$(tf state list | wc -l)
[ "$left" -eq 0 ] || { echo "scale: $left resources left in state after destroy" >&2; exit 1; }

# --- 5. summary -----------------------------------------------------------------------------
step "summary"
row() { printf '  %-34s %s\n' "$1" "$2"; }
row "N" "$N"
row "CLI" "$cli_version"
row "resources" "$RESOURCES (1 + $N namespaces, $N actors)"
row "parallelism" "$PARALLELISM"
row "init wall time" "${init_s}s"
row "apply wall time" "${apply_s}s"
row "apply API calls (per resource)" "$apply_calls ($(per "$apply_calls" "$RESOURCES"))"
row "no-change plan" "$plan_result"
row "no-change plan wall time" "${plan_s}s (limit < ${PLAN_LIMIT}s)"
row "plan API calls (per resource)" "$plan_calls ($(per "$plan_calls" "$RESOURCES"); limit $((RESOURCES + 5)))"
row "destroy wall time" "${destroy_s}s"
row "destroy API calls (per resource)" "$destroy_calls ($(per "$destroy_calls" "$RESOURCES"))"
row "load average before apply" "$apply_load ($(nproc) cores)"
row "load average after plan" "$plan_load"
row "load average at the end" "$(load)"

fail=0
if [ "$plan_rc" -ne 0 ]; then
	echo "scale: the no-change plan is not empty: $plan_result (see $tmp/plan.log)" >&2
	fail=1
fi
if awk -v s="$plan_s" -v l="$PLAN_LIMIT" 'BEGIN { exit !(s >= l) }'; then
	echo "scale: the no-change plan took ${plan_s}s, not under ${PLAN_LIMIT}s" >&2
	fail=1
fi
if [ "$plan_calls" -gt $((RESOURCES + 5)) ]; then
	echo "scale: the no-change plan made $plan_calls admin API calls, more than $RESOURCES resources + 5" >&2
	fail=1
fi
exit "$fail"
