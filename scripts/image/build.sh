#!/usr/bin/env bash
# Builds pool-boy's image here, FROM the local stand-in for node:24-bookworm-slim (made by
# build-base.sh when absent), and prints its name on stdout; progress goes to stderr.
#
#   scripts/image/build.sh [--tag NAME] [--iidfile FILE] [-- PODMAN-BUILD-OPTIONS]
#                                                # default tag localhost/pool-boy:dev
#
# Then, e.g.:
#   scripts/image/env.sh buildah from --name pb localhost/pool-boy:dev
#   scripts/image/env.sh buildah run pb -- pool-boy --help
#   scripts/image/env.sh buildah rm pb
# (`podman run` does not work on these machines: see env.sh.)
#
# Users with a registry build the real thing with `docker build .` (docs/image.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"

tag=localhost/pool-boy:dev
iidfile=
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --iidfile) iidfile="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--tag NAME] [--iidfile FILE] [-- PODMAN-BUILD-OPTIONS]" >&2; exit 2 ;;
  esac
done

base="$("$here/build-base.sh")"

# The npm registry may be reached through a TLS-intercepting proxy (as on these machines) whose
# CA the host trusts through NODE_EXTRA_CA_CERTS or npm's `cafile`. Give the build stages' npm
# the same file, mounted read-only for the RUN steps; nothing of it lands in the image.
ca_file="${NODE_EXTRA_CA_CERTS:-}"
if [ -z "$ca_file" ] && command -v npm >/dev/null; then
  ca_file="$(npm config get cafile 2>/dev/null || true)"
fi
ca_args=()
if [ -n "$ca_file" ] && [ -r "$ca_file" ]; then
  ca_args=(--volume "$(realpath "$ca_file"):/run/pool-boy-build/extra-ca.crt:ro"
           --build-arg NODE_EXTRA_CA_CERTS=/run/pool-boy-build/extra-ca.crt)
fi

started=$SECONDS
printf 'build: podman build FROM %s -> %s\n' "$base" "$tag" >&2
# --layers keeps every step's result, so an unchanged package-lock.json skips both `npm ci`.
podman build --isolation=chroot --pull=never --layers \
  --build-arg BASE_IMAGE="$base" "${ca_args[@]}" --tag "$tag" ${iidfile:+--iidfile "$iidfile"} \
  "$@" "$root" >&2

size() { podman image inspect --format '{{.Size}}' "$1"; }
image_size="$(size "$tag")"
base_size="$(size "$base")"
printf 'build: %s in %d s: %d MB (base %d MB + pool-boy %d MB)\n' "$tag" "$((SECONDS - started))" \
  "$((image_size / 1000000))" "$((base_size / 1000000))" "$(((image_size - base_size) / 1000000))" >&2
echo "$tag"
