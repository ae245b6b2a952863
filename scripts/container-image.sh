#!/usr/bin/env bash
# Builds the FROM scratch image of build/Containerfile from the linux
# binaries that `make release` left in DIST (`make image` calls it).
#
#   scripts/container-image.sh DIST/switchboard_<version> IMAGE [ARCH...]
#
# ARCH defaults to this machine's (amd64 or arm64); each one needs
# DIST/switchboard_<version>_linux_<ARCH>/switchboard. With several, each
# image is tagged IMAGE-ARCH. Uses podman if installed, else buildah;
# CONTAINER_GLOBAL_FLAGS goes before the subcommand (such as
# "--storage-driver vfs" where overlay mounts are not allowed). No
# intermediate images are kept (--layers=false): the image is one layer.
set -euo pipefail
cd "$(dirname "$0")/.."

if (($# < 2)); then
  echo "usage: $0 DIST/switchboard_<version> IMAGE [ARCH...]" >&2
  exit 2
fi
prefix=$1 image=$2
shift 2
archs=("$@")
if ((${#archs[@]} == 0)); then
  case $(uname -m) in
    x86_64) archs=(amd64) ;;
    aarch64 | arm64) archs=(arm64) ;;
    *) echo "$0: no release binary for $(uname -m); name the ARCH" >&2; exit 2 ;;
  esac
fi
if command -v podman >/dev/null; then
  build=(podman ${CONTAINER_GLOBAL_FLAGS:-} build)
elif command -v buildah >/dev/null; then
  build=(buildah ${CONTAINER_GLOBAL_FLAGS:-} build)
else
  echo "$0: neither podman nor buildah is installed" >&2
  exit 1
fi
certs=/etc/ssl/certs/ca-certificates.crt
[[ -r $certs ]] || { echo "$0: $certs missing (Debian: apt-get install ca-certificates)" >&2; exit 1; }

version=${prefix##*/switchboard_}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$certs" "$ctx/ca-certificates.crt"
for arch in "${archs[@]}"; do
  bin=${prefix}_linux_${arch}/switchboard
  [[ -x $bin ]] || { echo "$0: $bin missing: run make release first" >&2; exit 1; }
  mkdir -p "$ctx/linux_$arch"
  cp "$bin" "$ctx/linux_$arch/switchboard"
done
for arch in "${archs[@]}"; do
  tag=$image
  ((${#archs[@]} == 1)) || tag=$image-$arch
  "${build[@]}" --layers=false --file build/Containerfile --arch "$arch" --build-arg TARGETARCH="$arch" \
    --build-arg VERSION="$version" --tag "$tag" "$ctx"
done
