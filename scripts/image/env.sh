#!/usr/bin/env bash
# podman/buildah settings for pool-boy's image work, kept here rather than in /etc.
#
#   . scripts/image/env.sh                 # in a shell, then podman/buildah as usual
#   scripts/image/env.sh podman images     # or run one command with them
#
# - storage: scripts/image/storage.conf (its own graphroot, overlay driver)
# - isolation: chroot. These machines' OCI runtime cannot set rlimits, so `podman run` and the
#   default (oci) isolation of `podman build`/`buildah run` fail; chroot isolation works, with
#   the host's network (RUN steps reach the npm registry and Debian's mirror; `buildah run`
#   reaches servers on the host's 127.0.0.1).
_pool_boy_image_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CONTAINERS_STORAGE_CONF="${CONTAINERS_STORAGE_CONF:-$_pool_boy_image_dir/storage.conf}"
export BUILDAH_ISOLATION=chroot
unset _pool_boy_image_dir

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ $# -gt 0 ]; then
  exec "$@"
fi
