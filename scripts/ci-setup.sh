#!/usr/bin/env bash
# ci-setup.sh: make this Debian 12 machine ready for `make test` (CI runs it on a fresh machine;
# safe to re-run):
#   1. apt-get install the Debian packages the tests use: Docker 20.10 (docker.io, with
#      containerd 1.6, runc 1.1, iptables), docker-registry, shellcheck, busybox, dash, zstd,
#      openssh-client (ssh-keygen), and
#      what runc's cgo build needs (gcc, libseccomp-dev, pkg-config). Package scripts are kept
#      from starting services (dockerd, docker-registry): scripts/engine.sh runs the engines.
#   2. scripts/build-tools.sh: the docker compose plugin and the Docker 29 engine (.tools/bin),
#      skipped when they are newer than their inputs (AIRPACK_REBUILD_TOOLS=1 forces a build).
#   3. also installs the compose plugin system-wide (/usr/local/lib/docker/cli-plugins), so
#      `docker compose` works with any DOCKER_CONFIG, as on real hosts.
#   4. checks that every binary is there and runs; lists whatever is missing and fails.
# Needs root and Go (go.mod's version; GOTOOLCHAIN fetches a newer one through the proxy).
# AIRPACK_SKIP_APT=1 skips step 1 (offline machines that already have the packages).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools_bin=${AIRPACK_TOOLS_BIN:-$root/.tools/bin}
compose_plugin=$HOME/.docker/cli-plugins/docker-compose
system_plugin=/usr/local/lib/docker/cli-plugins/docker-compose
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then PATH=/usr/local/go/bin:$PATH; fi

packages=(
	docker.io containerd runc iptables iproute2 # engine 20 and what it runs
	docker-registry shellcheck busybox dash zstd xz-utils
	gcc libc6-dev libseccomp-dev pkg-config # runc for engine 29 (cgo, seccomp)
	make curl ca-certificates git procps util-linux
	openssl perl # load.sh tests: openssl dgst and shasum (perl) as checksum tools
	openssh-client # ssh-keygen: the signature tests (bundle, cmd/airpack, load.sh)
	time # /usr/bin/time: peak memory in scripts/bench.sh
)

step() { printf '\n==> ci-setup: %s\n' "$*"; }
die() {
	printf 'ci-setup: ERROR: %s\n' "$*" >&2
	exit 1
}

[[ $(id -u) == 0 ]] || die "must run as root (apt-get, and the engines need it)"
command -v go >/dev/null || die "Go is not installed (need the version in go.mod; see go.dev/dl)"

# --- 1. Debian packages -------------------------------------------------------------------
if [[ ${AIRPACK_SKIP_APT:-} == 1 ]]; then
	step "AIRPACK_SKIP_APT=1: not installing Debian packages"
else
	step "Debian packages: ${packages[*]}"
	policy=/usr/sbin/policy-rc.d
	if [[ ! -e $policy ]]; then
		# Exit code 101 = "action forbidden": postinst scripts then do not start dockerd or the
		# registry, which would take /var/run/docker.sock and port 5000.
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
	apt-get update
	apt-get install -y "${packages[@]}"
fi

# --- 2. tools built from Go modules -----------------------------------------------------------
outputs=("$compose_plugin" "$tools_bin"/{dockerd,docker-proxy,containerd,containerd-shim-runc-v2,runc})
tools_up_to_date() {
	local out newer
	[[ ${AIRPACK_REBUILD_TOOLS:-} == 1 ]] && return 1
	for out in "${outputs[@]}"; do
		[[ -x $out ]] || return 1
		newer=$(find "$root"/tools/*/go.mod "$root"/tools/*/go.sum "$root/scripts/build-tools.sh" \
			-newer "$out" -print -quit)
		[[ -z $newer ]] || return 1
	done
}

mkdir -p "$root/.tools"
exec 9>"$root/.tools/build.lock"
flock 9 # one build at a time, among ci-setup runs
# A build started by hand does not take the lock: wait for it too.
waited=0
while pgrep -f 'build-tools\.sh' >/dev/null; do
	((waited % 60 == 0)) && echo "ci-setup: waiting for a running scripts/build-tools.sh (${waited}s)"
	((waited < 3600)) || die "scripts/build-tools.sh is still running after an hour"
	sleep 5
	waited=$((waited + 5))
done
if tools_up_to_date; then
	step "tools: up to date (AIRPACK_REBUILD_TOOLS=1 rebuilds)"
else
	step "tools: scripts/build-tools.sh (a cold build takes ~10 min on 2 cores)"
	t0=$SECONDS
	AIRPACK_TOOLS_BIN=$tools_bin "$root/scripts/build-tools.sh"
	echo "ci-setup: tools built in $((SECONDS - t0))s"
fi
exec 9>&-

# --- 3. compose plugin for every Docker config ------------------------------------------------
if [[ -x $compose_plugin ]]; then
	install -D -m 0755 "$compose_plugin" "$system_plugin"
fi

# --- 4. checks --------------------------------------------------------------------------------
step "checking the tools"
problems=()
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || problems+=("command not found: $c")
	done
}
# check DESCRIPTION CMD...: CMD must succeed; its first output line with a digit is shown.
check() {
	local what=$1 out line
	shift
	if out=$("$@" 2>&1); then
		line=$(grep -m 1 '[0-9]' <<<"$out" || head -n 1 <<<"$out")
		printf '  %-28s %s\n' "$what" "$(tr -s ' \t' ' ' <<<"$line")"
	else
		problems+=("$what does not work: $* -> $(head -n 1 <<<"$out")")
	fi
}

# Output is captured whole before it is searched: under pipefail, `cmd | grep -m 1` fails when
# grep stops reading first and cmd dies of SIGPIPE.
shim_version() {
	local out
	out=$("$tools_bin/containerd-shim-runc-v2" -v) || return
	grep -m 1 Version <<<"$out"
}
cgroup_mount() { awk '$3 ~ /^cgroup2?$/ {print $3, $2; found = 1; exit} END {exit !found}' /proc/mounts; }

need_cmd go docker dockerd containerd runc docker-registry shellcheck busybox dash zstd openssl shasum ssh-keygen \
	pkg-config gcc make curl iptables ip pgrep findmnt setsid flock
for f in "${outputs[@]}"; do
	[[ -x $f ]] || problems+=("missing: $f (scripts/build-tools.sh did not build it)")
done
if ((${#problems[@]} == 0)); then
	check "go" go version
	check "docker CLI ($(command -v docker))" docker --version
	check "docker compose" docker compose version
	check "compose for any config" env DOCKER_CONFIG=/nonexistent docker compose version
	check "engine 20: dockerd" dockerd --version
	check "engine 20: containerd" containerd --version
	check "engine 20: runc" runc --version
	check "engine 29: dockerd" "$tools_bin/dockerd" --version
	check "engine 29: containerd" "$tools_bin/containerd" --version
	check "engine 29: shim" shim_version
	check "engine 29: runc" "$tools_bin/runc" --version
	check "docker-registry" docker-registry --version
	check "shellcheck" shellcheck --version
	check "busybox" busybox
	check "zstd" zstd --version
	check "libseccomp (pkg-config)" pkg-config --modversion libseccomp
	# What the engines need from the kernel.
	check "iptables (nat table)" sh -c 'iptables -t nat -L -n >/dev/null && iptables --version'
	check "overlay filesystem" grep -w overlay /proc/filesystems
	check "cgroups" cgroup_mount
	check "bridge devices" sh -c 'ip link add airpack-probe0 type bridge && ip link delete airpack-probe0 && echo ok'
	if [[ $(dockerd --version) != *' 20.10.'* ]]; then
		problems+=("dockerd on PATH is not Docker 20.10: $(dockerd --version)")
	fi
	if [[ $("$tools_bin/runc" --version) != *seccomp* ]]; then
		problems+=("$tools_bin/runc was built without seccomp")
	fi
fi

if ((${#problems[@]})); then
	printf '\nci-setup: FAILED, the machine is not ready:\n' >&2
	printf '  - %s\n' "${problems[@]}" >&2
	exit 1
fi
step "ready"
