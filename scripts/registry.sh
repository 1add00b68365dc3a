#!/usr/bin/env bash
# registry.sh: run a throw-away local image registry (Debian's docker-registry, i.e. CNCF
# Distribution 2.8) for development, demos and tests; also the reference registry config.
#
#   scripts/registry.sh start PORT DIR   serve http://127.0.0.1:PORT, everything under DIR:
#                                          DIR/config.yml     the registry config (written here)
#                                          DIR/storage/       blobs and manifests
#                                          DIR/registry.log   its log
#                                          DIR/registry.pid   its pid
#                                        returns once /v2/ answers
#   scripts/registry.sh stop DIR         stop it (fine when it does not run)
#   scripts/registry.sh status DIR       exit 0 if it runs, 3 if not
#
# Plain HTTP on 127.0.0.1: Docker treats 127.0.0.0/8 registries as insecure-allowed, so no TLS
# and no daemon configuration are needed to push to it.
set -euo pipefail

start_timeout=20 # seconds to wait for /v2/

log() { printf 'registry: %s\n' "$*" >&2; }
die() {
	printf 'registry: ERROR: %s\n' "$*" >&2
	exit 1
}
usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

# running PID: a live (non-zombie) docker-registry process.
running() {
	local pid=$1 stat
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == docker-registry ]] || return 1
	stat=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ $stat != Z ]]
}

pid_in() { if [[ -s $1/registry.pid ]]; then tr -dc '0-9' <"$1/registry.pid"; fi; }

# answers PORT: true if GET /v2/ on 127.0.0.1:PORT returns HTTP 200.
answers() {
	local port=$1 status
	if command -v curl >/dev/null; then
		status=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/v2/" || true)
	else
		status=$({
			exec 3<>"/dev/tcp/127.0.0.1/$port" &&
				printf 'GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
				timeout 2 head -n 1 <&3 | cut -d' ' -f2
		} 2>/dev/null) || true
	fi
	[[ $status == 200 ]]
}

start() {
	local port=$1 dir=$2 pid i
	if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then die "bad port: $port"; fi
	command -v docker-registry >/dev/null ||
		die "docker-registry not found; apt-get install docker-registry (scripts/ci-setup.sh)"
	mkdir -p "$dir/storage"
	dir=$(cd "$dir" && pwd)

	pid=$(pid_in "$dir")
	if running "$pid"; then
		if grep -qx "  addr: 127.0.0.1:$port" "$dir/config.yml" && answers "$port"; then
			log "already running on 127.0.0.1:$port (pid $pid)"
			return 0
		fi
		die "a registry from $dir already runs (pid $pid) with another port; stop it first"
	fi
	rm -f "$dir/registry.pid"
	if answers "$port"; then
		die "something else already serves a registry on 127.0.0.1:$port"
	fi

	cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  headers:
    X-Content-Type-Options: [nosniff]
EOF

	setsid docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/registry.pid"
	for ((i = 0; i < start_timeout * 10; i++)); do
		answers "$port" && break
		if [[ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" =~ ^(Z|)$ ]]; then
			break # exited
		fi
		sleep 0.1
	done
	if ! answers "$port"; then
		printf '\n----- last 40 lines of %s -----\n' "$dir/registry.log" >&2
		tail -n 40 "$dir/registry.log" >&2
		stop "$dir"
		die "registry did not answer on http://127.0.0.1:$port/v2/ within ${start_timeout}s"
	fi
	log "running on 127.0.0.1:$port (pid $pid), storage $dir/storage, log $dir/registry.log"
}

stop() {
	local dir=$1 pid i
	pid=$(pid_in "$dir")
	if running "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			running "$pid" || break
			sleep 0.1
		done
		if running "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
		fi
		running "$pid" && die "registry (pid $pid) does not exit"
		log "stopped (pid $pid)"
	fi
	rm -f "$dir/registry.pid"
}

case ${1:-} in
start)
	[[ $# == 3 ]] || usage
	start "$2" "$3"
	;;
stop)
	[[ $# == 2 ]] || usage
	stop "$2"
	;;
status)
	[[ $# == 2 ]] || usage
	pid=$(pid_in "$2")
	if running "$pid"; then
		echo "registry from $2 runs (pid $pid), $(grep -m1 'addr:' "$2/config.yml" | tr -d ' ')"
	else
		echo "no registry from $2 runs"
		exit 3
	fi
	;;
*) usage ;;
esac
