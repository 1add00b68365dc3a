#!/usr/bin/env bash
# engine.sh: run ONE Docker engine for airpack's end-to-end tests on the default socket
# /var/run/docker.sock (see docs/test-engines.md).
#
#   scripts/engine.sh start 20|29   start an engine, wait until `docker info` answers and check
#                                   its image store:
#                                     20 = Debian's docker.io (Docker 20.10, classic store)
#                                     29 = Docker 29 from .tools/bin (scripts/build-tools.sh),
#                                          containerd image store
#   scripts/engine.sh stop          stop the engine this script started (fine when none runs)
#   scripts/engine.sh status        say which engine runs; exit 0 if one answers, 3 if none
#
# Each engine gets its own containerd (with its own config, root, state and socket) and its own
# dockerd data root, exec root and config file, all under the run dir, so the two never share
# state and nothing from /etc/docker, /etc/containerd or /var/lib/docker is used:
#   $AIRPACK_ENGINE_RUN (default /tmp/airpack-engine)/
#     engine                 which engine runs now ("20" or "29")
#     <20|29>/dockerd.{pid,launched,log}  daemon.json  data/  exec/
#     <20|29>/containerd.{pid,log}  containerd.toml  ctr-root/  ctr-state/  ctr.sock
# Environment: AIRPACK_ENGINE_FRESH=1 wipes the engine's data (images, containers) on start;
# AIRPACK_TOOLS_BIN (default .tools/bin) is where engine 29's binaries are.
# Needs root.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
run=${AIRPACK_ENGINE_RUN:-/tmp/airpack-engine}
tools_bin=${AIRPACK_TOOLS_BIN:-$root/.tools/bin}
sock=/var/run/docker.sock
start_timeout=60 # seconds to wait for `docker info`
stop_timeout=60  # seconds to wait for dockerd to exit after SIGTERM (it stops containers first)

# The CLI checks below talk to exactly this socket, whatever the caller's Docker context.
export DOCKER_HOST=unix://$sock
unset DOCKER_CONTEXT
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

log() { printf 'engine: %s\n' "$*" >&2; }
die() {
	printf 'engine: ERROR: %s\n' "$*" >&2
	exit 1
}

# alive PID NAME: true if PID is a live (non-zombie) process whose command name is NAME.
alive() {
	local pid=$1 name=$2 stat
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]] || return 1
	stat=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ $stat != Z ]]
}

# running PID: true if PID is a live (non-zombie) process; for children just started, whose
# command name may still be bash or setsid for a moment.
running() {
	local stat
	stat=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $stat && $stat != Z ]]
}

# pidof_file FILE: the pid stored in FILE, or nothing.
pidof_file() { if [[ -s $1 ]]; then tr -dc '0-9' <"$1"; fi; }

# kill_wait PIDFILE NAME TIMEOUT: SIGTERM the process, wait, SIGKILL if it lingers.
kill_wait() {
	local pidfile=$1 name=$2 timeout=$3 pid i
	pid=$(pidof_file "$pidfile")
	if alive "$pid" "$name"; then
		log "stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < timeout * 10; i++)); do
			alive "$pid" "$name" || break
			sleep 0.1
		done
		if alive "$pid" "$name"; then
			log "$name (pid $pid) still running after ${timeout}s; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			for ((i = 0; i < 100; i++)); do
				alive "$pid" "$name" || break
				sleep 0.1
			done
			alive "$pid" "$name" && die "$name (pid $pid) survives SIGKILL"
		fi
	fi
	rm -f "$pidfile"
}

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

show_logs() {
	local f
	for f in "$@"; do
		[[ -f $f ]] || continue
		printf '\n----- last 40 lines of %s -----\n' "$f" >&2
		tail -n 40 "$f" >&2
	done
}

# Bridges the running engine created (docker0 and one per bridge network). Stale bridges
# left by one engine would clash with the same subnets allocated by the other engine.
engine_bridges() {
	local id
	for id in $(timeout 10 docker network ls -q --filter driver=bridge 2>/dev/null); do
		timeout 10 docker network inspect -f \
			'{{with index .Options "com.docker.network.bridge.name"}}{{.}}{{else}}br-{{printf "%.12s" $.ID}}{{end}}' \
			"$id" 2>/dev/null || true
	done
}

unmount_under() {
	local dir=$1 m
	# Deepest mounts first; findmnt escapes odd characters, the run dir has none.
	while read -r m; do
		[[ -n $m ]] || continue
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
	done < <(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r)
}

stop_engine() {
	local e bridges=() b pid
	if docker_answers && [[ -n $(running_engine) ]]; then
		mapfile -t bridges < <(engine_bridges)
	fi
	for e in 20 29; do
		kill_wait "$run/$e/dockerd.launched" dockerd "$stop_timeout"
		kill_wait "$run/$e/dockerd.pid" dockerd "$stop_timeout"
		kill_wait "$run/$e/containerd.pid" containerd 30
		# Shims of containers that outlived their daemons (only after an unclean stop).
		# Kill their containers (the shim's children) first, then the shim.
		for pid in $(pgrep -f -- "-address $run/$e/ctr.sock" || true); do
			log "killing leftover shim $pid and its containers"
			pkill -KILL -P "$pid" 2>/dev/null || true
			kill -KILL "$pid" 2>/dev/null || true
		done
		unmount_under "$run/$e"
		rm -f "$run/$e/ctr.sock" "$run/$e/ctr.sock.ttrpc"
	done
	# dockerd removes its socket when it exits cleanly; drop a stale one nobody answers on.
	if [[ -S $sock ]] && ! docker_answers; then
		rm -f "$sock"
	fi
	for b in "${bridges[@]}"; do
		if ip link show dev "$b" >/dev/null 2>&1; then
			ip link delete "$b" 2>/dev/null || log "could not delete bridge $b"
		fi
	done
	rm -f "$run/engine"
}

# dockerd_pid ENGINE: the pid of the engine's dockerd, if it runs. Two records: the pid file
# dockerd writes (-p) and ours, written at launch, before dockerd gets to write its own.
dockerd_pid() {
	local f pid
	for f in "$run/$1/dockerd.launched" "$run/$1/dockerd.pid"; do
		pid=$(pidof_file "$f")
		if alive "$pid" dockerd; then
			echo "$pid"
			return 0
		fi
	done
}

running_engine() {
	local e
	for e in 20 29; do
		if [[ -n $(dockerd_pid "$e") ]]; then
			echo "$e"
			return 0
		fi
	done
}

write_configs() {
	local e=$1 dir=$run/$1 containerd=$2 version disabled
	# The config version this containerd writes itself (2 for 1.6, 4 for 2.4).
	# Captured whole, then searched: `cmd | grep -m 1` under pipefail fails when cmd gets SIGPIPE.
	version=$("$containerd" config default) || die "$containerd config default failed"
	version=$(grep -m 1 '^version' <<<"$version") || die "$containerd config default printed no version"
	# No Kubernetes CRI: dockerd does not use it.
	disabled='"io.containerd.grpc.v1.cri"'
	if [[ $e == 29 ]]; then
		disabled+=', "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"'
		disabled+=', "io.containerd.podsandbox.controller.v1.podsandbox"'
	fi
	# root, state and the socket are given as flags: their config keys differ between versions.
	cat >"$dir/containerd.toml" <<EOF
$version
disabled_plugins = [$disabled]

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/ctr-opt"
EOF
	# Nothing from /etc/docker/daemon.json; engine 29 uses the containerd store by default.
	printf '{}\n' >"$dir/daemon.json"
}

start_engine() {
	local e=$1 dir=$run/$1 path pid cpid i b store want cur containerd
	[[ $(id -u) == 0 ]] || die "must run as root (dockerd needs it)"
	command -v docker >/dev/null || die "no docker CLI on PATH (run scripts/ci-setup.sh)"

	cur=$(running_engine)
	if [[ -n $cur ]]; then
		log "engine $cur is running; stopping it first"
		stop_engine
	fi
	# Anything else on the socket is not ours to stop.
	if docker_answers; then
		die "a Docker engine not started by engine.sh answers on $sock; stop it first (e.g. /etc/init.d/docker stop)"
	fi
	for pid in $(pgrep -x dockerd || true); do
		# Zombies stay around where PID 1 does not reap orphans; they are harmless.
		running "$pid" && die "a dockerd not started by engine.sh is running (pid $pid); stop it first"
	done
	stop_engine # clears stale pid files, sockets, mounts and shims of an unclean previous run

	if [[ $e == 29 ]]; then
		for b in dockerd docker-proxy containerd containerd-shim-runc-v2 runc; do
			[[ -x $tools_bin/$b ]] || die "$tools_bin/$b is missing; run scripts/build-tools.sh (or make setup)"
		done
		path=$tools_bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
	else
		for b in /usr/sbin/dockerd /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/sbin/runc; do
			[[ -x $b ]] || die "$b is missing; install Debian's docker.io (scripts/ci-setup.sh)"
		done
		# Debian's binaries only: containerd 1.6, its shim and runc 1.1 (never .tools/bin).
		path=/usr/sbin:/usr/bin:/sbin:/bin
	fi

	if [[ ${AIRPACK_ENGINE_FRESH:-} == 1 && -d $dir ]]; then
		log "AIRPACK_ENGINE_FRESH=1: wiping $dir"
		if [[ $(findmnt -rn -o TARGET) == *"$dir/"* ]]; then
			die "mounts remain under $dir; not wiping it"
		fi
		rm -rf "$dir"
	fi
	mkdir -p "$dir"
	: >"$dir/containerd.log"
	: >"$dir/dockerd.log"
	containerd=$(PATH=$path command -v containerd)
	write_configs "$e" "$containerd"

	log "starting containerd for engine $e"
	PATH=$path setsid "$containerd" --config "$dir/containerd.toml" \
		--root "$dir/ctr-root" --state "$dir/ctr-state" --address "$dir/ctr.sock" \
		>>"$dir/containerd.log" 2>&1 </dev/null &
	cpid=$!
	echo "$cpid" >"$dir/containerd.pid"
	for ((i = 0; i < 300; i++)); do
		[[ -S $dir/ctr.sock ]] && break
		running "$cpid" || break
		sleep 0.1
	done
	if ! [[ -S $dir/ctr.sock ]] || ! running "$cpid"; then
		show_logs "$dir/containerd.log"
		stop_engine
		die "containerd for engine $e did not come up"
	fi

	log "starting dockerd $e"
	PATH=$path setsid "$(PATH=$path command -v dockerd)" \
		--config-file "$dir/daemon.json" \
		--containerd "$dir/ctr.sock" \
		--data-root "$dir/data" \
		--exec-root "$dir/exec" \
		-p "$dir/dockerd.pid" \
		-H "unix://$sock" \
		>>"$dir/dockerd.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/dockerd.launched"
	echo "$e" >"$run/engine"
	for ((i = 0; i < start_timeout; i++)); do
		docker_answers && break
		if ! running "$pid"; then
			show_logs "$dir/dockerd.log" "$dir/containerd.log"
			stop_engine
			die "dockerd $e exited during start-up"
		fi
		sleep 1
	done
	if ! docker_answers; then
		show_logs "$dir/dockerd.log" "$dir/containerd.log"
		stop_engine
		die "dockerd $e did not answer within ${start_timeout}s"
	fi
	store=$(docker info --format '{{json .DriverStatus}}')
	if [[ $e == 29 ]]; then want=yes; else want=no; fi
	if [[ $store == *io.containerd.snapshotter.v1* ]]; then cur=yes; else cur=no; fi
	if [[ $want != "$cur" ]]; then
		stop_engine
		die "engine $e came up with the wrong image store (driver status: $store)"
	fi
	log "engine $e is up"
	status_line | sed 's/^/engine:   /' >&2
}

status_line() {
	docker version --format 'server {{.Server.Version}} (API {{.Server.APIVersion}}), client {{.Client.Version}}' 2>/dev/null || true
	docker info --format 'storage driver {{.Driver}} {{json .DriverStatus}}' 2>/dev/null || true
}

status_engine() {
	local e
	e=$(running_engine)
	if [[ -z $e ]]; then
		echo "no engine started by engine.sh is running"
		return 3
	fi
	if ! docker_answers; then
		echo "engine $e: dockerd runs (pid $(dockerd_pid "$e")) but $sock does not answer"
		return 1
	fi
	echo "engine $e: dockerd pid $(dockerd_pid "$e"), run dir $run/$e"
	status_line
}

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

case ${1:-} in
start)
	[[ ${2:-} == 20 || ${2:-} == 29 ]] || usage
	mkdir -p "$run"
	start_engine "$2"
	;;
stop)
	[[ $(id -u) == 0 ]] || die "must run as root"
	stop_engine
	log "stopped"
	;;
status) status_engine ;;
*) usage ;;
esac
