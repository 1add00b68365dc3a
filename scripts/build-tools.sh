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

# modversion DIR MODULE: the version of MODULE that the tools module in DIR pins.
modversion() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }

# Stamp real versions: a plain `go build` reports "dev" (compose) and "library-import"
# (dockerd), which scripts parsing `docker version` / `docker compose version` choke on.
step "docker compose plugin"
compose_version=$(modversion "$root/tools/compose" github.com/docker/compose/v2)
(cd "$root/tools/compose" &&
  go build -ldflags "-X github.com/docker/compose/v2/internal.Version=$compose_version" \
    -o "$HOME/.docker/cli-plugins/docker-compose" github.com/docker/compose/v2/cmd)

step "Docker 29 engine (dockerd, docker-proxy, containerd, shim)"
# moby v2 modules carry no Docker release number; call it 29.0.0-dev, naming the module version.
moby_version=$(modversion "$root/tools/engine29" github.com/moby/moby/v2)
(cd "$root/tools/engine29" &&
  go build -ldflags "-X github.com/moby/moby/v2/dockerversion.Version=29.0.0-dev+moby-$moby_version -X github.com/moby/moby/v2/dockerversion.GitCommit=$moby_version" \
    -o "$bin/dockerd" github.com/moby/moby/v2/cmd/dockerd &&
  go build -o "$bin/docker-proxy" github.com/moby/moby/v2/cmd/docker-proxy &&
  go build -o "$bin/containerd" github.com/containerd/containerd/v2/cmd/containerd &&
  go build -o "$bin/containerd-shim-runc-v2" github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2)

step "runc (cgo, seccomp)"
(cd "$root/tools/runc" && CGO_ENABLED=1 go build -tags seccomp -o "$bin/runc" github.com/opencontainers/runc)

"$HOME/.docker/cli-plugins/docker-compose" version
step "tools in $bin"
