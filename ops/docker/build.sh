#!/usr/bin/env bash
# Builds the baton image without a registry: compiles the static binary on
# this machine, stages a minimal build context, and runs docker build on it.
#
#   ops/docker/build.sh               # tags baton:dev
#   ops/docker/build.sh baton:1.2.3   # any tag
#
# GO (default go) and DOCKER (default docker) pick the tools.
set -euo pipefail

tag="${1:-baton:dev}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
GO="${GO:-go}"
DOCKER="${DOCKER:-docker}"

ctx="$(mktemp -d "${TMPDIR:-/tmp}/baton-image.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT

# A static binary is what lets the image start FROM scratch: no libc to load.
(cd "$root" && CGO_ENABLED=0 "$GO" build -trimpath -o "$ctx/baton" ./cmd/baton)
mkdir -p "$ctx/dataroot/data" "$ctx/tmproot/tmp"
chmod 0750 "$ctx/dataroot/data"
chmod 1777 "$ctx/tmproot/tmp"
cp "$here/Dockerfile" "$ctx/Dockerfile"

"$DOCKER" build -q -t "$tag" "$ctx" >/dev/null
echo "$tag"
