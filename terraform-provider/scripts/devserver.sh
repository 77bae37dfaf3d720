# shellcheck shell=bash
# Sourced by e2e.sh and scale.sh: start a dev-mode AuthProxy on free loopback ports and
# export the variables its banner prints, exactly as a user would paste them.
#
# start_dev_server DIR PROG: builds the binary into DIR, runs `authproxy serve all` in
# DIR/server with its log in DIR/server.log, sets server_pid, exports the banner's
# AUTHPROXY_* variables and waits for /readyz. PROG prefixes error messages. Needs $root and
# $GO. The caller's EXIT trap stops the server (kill -TERM "$server_pid").
start_dev_server() {
	local dir=$1 prog=$2 v line name
	(cd "$root" && CGO_ENABLED=0 "$GO" build -o "$dir/authproxy" ./server/cmd/authproxy)
	mkdir -p "$dir/server"
	# Dev mode only: no configuration file, no settings file, nothing inherited that points
	# at another database or Redis. Port 0 picks free loopback ports; the banner prints them.
	(
		cd "$dir/server"
		for v in $(compgen -e | grep '^AUTHPROXY_' || true); do unset "$v"; done
		export AUTHPROXY_SETTINGS_FILE=$dir/server/no-settings.yaml
		export AUTHPROXY_LISTEN_PUBLIC=127.0.0.1:0 AUTHPROXY_LISTEN_API=127.0.0.1:0
		export AUTHPROXY_LISTEN_ADMIN=127.0.0.1:0 AUTHPROXY_LISTEN_WORKER=127.0.0.1:0
		exec "$dir/authproxy" serve all
	) >"$dir/server.log" 2>&1 &
	server_pid=$!

	local banner_ok=
	for _ in $(seq 1 300); do
		if [ "$(grep -cE '^ *export AUTHPROXY_[A-Z_]+=' "$dir/server.log" || true)" -ge 5 ]; then banner_ok=1; break; fi
		kill -0 "$server_pid" 2>/dev/null || { echo "$prog: the server exited before printing its banner" >&2; return 1; }
		sleep 0.1
	done
	[ -n "$banner_ok" ] || { echo "$prog: no banner within 30 s" >&2; return 1; }

	for v in $(compgen -e | grep '^AUTHPROXY_' || true); do unset "$v"; done
	while read -r line; do
		name=${line%%=*}
		export "$name=${line#*=}"
	done < <(sed -nE 's/^ *export (AUTHPROXY_[A-Z_]+=.*)$/\1/p' "$dir/server.log")
	for v in AUTHPROXY_ADMIN_URL AUTHPROXY_PUBLIC_URL AUTHPROXY_ACTOR AUTHPROXY_PRIVATE_KEY_FILE; do
		[ -n "${!v:-}" ] || { echo "$prog: the banner did not set $v" >&2; return 1; }
		echo "  $v=${!v}"
	done
	case $AUTHPROXY_ADMIN_URL in
	http://127.* | http://localhost:* | http://\[::1\]:*) ;;
	*) echo "$prog: AUTHPROXY_ADMIN_URL=$AUTHPROXY_ADMIN_URL is not a loopback address" >&2; return 1 ;;
	esac

	local ready=
	for _ in $(seq 1 300); do
		if curl -fsS -o /dev/null "$AUTHPROXY_ADMIN_URL/readyz" 2>/dev/null; then ready=1; break; fi
		kill -0 "$server_pid" 2>/dev/null || { echo "$prog: the server exited" >&2; return 1; }
		sleep 0.1
	done
	[ -n "$ready" ] || { echo "$prog: $AUTHPROXY_ADMIN_URL/readyz not ready within 30 s" >&2; return 1; }
	echo "  $AUTHPROXY_ADMIN_URL/readyz: ready"
}
