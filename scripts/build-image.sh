#!/usr/bin/env bash
# Builds the dockward image (deploy/Dockerfile) from this checkout's build (npm run build) and this
# machine's Node, without pulling anything: Node and the libraries ldd names for it, dist/,
# package.json and the production dependencies package-lock.json lists, as two tarballs the
# Dockerfile ADDs to scratch. Usage: scripts/build-image.sh [TAG] (default dockward:latest);
# DOCKER=PATH picks the docker CLI, DOCKER_HOST the daemon.
set -euo pipefail
die() { echo "build-image: $*" >&2; exit 1; }

tag=${1:-dockward:latest}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
docker=${DOCKER:-docker}
[[ -f $repo/dist/cli/main.js ]] || die "no build in $repo/dist: run npm run build first"
node=$(readlink -f "$(command -v node)") || die "no node on PATH"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/usr/local/bin" "$root/app" "$root/etc" "$root/run" "$ctx/owned/run" "$ctx/owned/etc"
# The listeners' directory is searchable by clients (each socket has its own mode); the PKI is not.
mkdir -m 0755 "$ctx/owned/run/dockward"
mkdir -m 0700 "$ctx/owned/etc/dockward"
mkdir -m 1777 "$root/tmp"
cp "$node" "$root/usr/local/bin/node"
# The dynamic linker and every library it loads for node, at the paths ldd names.
for lib in $(ldd "$node" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp -r "$repo/dist" "$repo/package.json" "$root/app/"
# Production dependencies only: package-lock.json marks the others "dev".
while read -r p; do
  mkdir -p "$root/app/$p"
  cp -a "$repo/$p/." "$root/app/$p/"
done < <(node -e 'const l = require(process.argv[1]); for (const [k, v] of Object.entries(l.packages)) if (k && !v.dev) console.log(k)' "$repo/package-lock.json")
printf 'root:x:0:0::/root:/sbin/nologin\ndockward:x:10001:10001::/tmp:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\ndockward:x:10001:\n' > "$root/etc/group"

tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$ctx/rootfs.tar" .
tar --numeric-owner --owner=10001 --group=10001 --no-recursion -C "$ctx/owned" -cf "$ctx/owned.tar" run/dockward etc/dockward
cp "$repo/deploy/Dockerfile" "$ctx/Dockerfile"
rm -rf "$root" "$ctx/owned"
"$docker" build -t "$tag" "$ctx"
