#!/usr/bin/env bash
# demo.sh: what `make demo` runs. Packs airpack's demo application (testdata/demo: four services,
# a published port, a mounted config file, an env_file, a .env variable, a named volume) end to
# end with no network and no registry: the images are built from source (testdata/demoapp)
# into an OCI layout, packed with `airpack pack --source oci:DIR`, then verified and inspected.
# Output: out/demo/airpack-demo-1.0.tar. Needs only Go.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=$root/out/demo
bundle=$out/airpack-demo-1.0.tar

say() { printf '\n==> %s\n' "$*"; }

rm -rf "$out"
mkdir -p "$out"

say "build airpack"
go build -o bin/airpack ./cmd/airpack

say "build the demo images from source into an OCI layout ($out/oci)"
go run ./internal/demo/mkimages -o "$out/oci" -version 1.0

say "pack testdata/demo"
(cd testdata/demo && "$root/bin/airpack" pack --source "oci:$out/oci" --version 1.0 -o "$bundle")

say "verify the bundle"
bin/airpack verify "$bundle"

say "inspect the bundle"
bin/airpack inspect "$bundle"

cat <<MSG

The bundle is $bundle ($(du -h "$bundle" | cut -f1)).
Carry it to a host with Docker and Compose v2 (no network needed) and run:

    tar xf $(basename "$bundle") && cd airpack-demo-1.0 && ./load.sh && docker compose up -d
    curl http://localhost:8080/      # config file, .env variable and service-to-service calls

MSG
