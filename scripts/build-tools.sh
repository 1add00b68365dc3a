#!/usr/bin/env bash
# Builds the test tools that Debian does not package, from their Go modules:
#   - the docker compose v2 plugin  -> ~/.docker/cli-plugins/docker-compose
#   - Docker 29 (moby v2) dockerd, docker-proxy, containerd, containerd-shim-runc-v2, runc
#     -> $AIRPACK_TOOLS_BIN (default .tools/bin), used by scripts/engine.sh for engine "29"
# Each tools module pins its versions in tools/*/go.mod; the Go build cache makes re-runs fast.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${AIRPACK_TOOLS_BIN:-$root/.tools/bin}
mkdir -p "$bin" "$HOME/.docker/cli-plugins"

step() { printf '==> %s\n' "$*"; }

step "docker compose plugin"
(cd "$root/tools/compose" && go build -o "$HOME/.docker/cli-plugins/docker-compose" github.com/docker/compose/v2/cmd)

step "Docker 29 engine (dockerd, docker-proxy, containerd, shim)"
(cd "$root/tools/engine29" &&
  go build -o "$bin/dockerd" github.com/moby/moby/v2/cmd/dockerd &&
  go build -o "$bin/docker-proxy" github.com/moby/moby/v2/cmd/docker-proxy &&
  go build -o "$bin/containerd" github.com/containerd/containerd/v2/cmd/containerd &&
  go build -o "$bin/containerd-shim-runc-v2" github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2)

step "runc (cgo, seccomp)"
(cd "$root/tools/runc" && CGO_ENABLED=1 go build -tags seccomp -o "$bin/runc" github.com/opencontainers/runc)

"$HOME/.docker/cli-plugins/docker-compose" version
step "tools in $bin"
