#!/usr/bin/env bash
# Packs into .device/ (ignored by git) what tools/device/train.sh needs on a lent GPU machine,
# which has no Deno and reaches no registry: this Deno binary (xz), the npm packages the trainer
# imports and a lock file of them alone (so that Deno does not ask for the server's packages), the
# training images (tar, xz) and the Vulkan loader (Debian packages). Then prints what the device tool
# would send, which must stay under 64 MiB: the checkout's files that git tracks or does not ignore,
# plus .device/ (tools/device/aside.sh takes the committed checkpoints and bundle out of the way).
#
# Usage: bash tools/device/pack.sh <image-folder>     e.g. ../shared/data/celeba
set -euo pipefail
data=${1:-}
if [ -z "$data" ] || [ ! -d "$data" ]; then
  echo "error: give the folder of training images, e.g. bash tools/device/pack.sh ../shared/data/celeba" >&2
  exit 2
fi
data=$(cd "$data" && pwd)
cd "$(dirname "$0")/../.."
# The images go where they are here relative to the checkout (../shared/data/celeba), so that the
# runs' configs name a folder that this machine has when their checkpoints come back.
data_path=$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1]))' "$data")
pack=.device
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
rm -rf "$pack"
mkdir -p "$pack/gl"

echo "deno: $(deno --version | head -1), compressing the binary" >&2
xz -T2 -9 -c "$(readlink -f "$(command -v deno)")" >"$pack/deno.xz"

echo "npm packages of the trainer" >&2
DENO_DIR=$scratch/deno-dir deno cache --quiet --lock="$pack/train.lock" training/cli.ts
tar -C "$scratch/deno-dir" -cJf "$pack/deno-dir.tar.xz" npm

echo "images: $data" >&2
tar -C "$(dirname "$data")" -cf - "$(basename "$data")" | xz -T2 -6 >"$pack/data.tar.xz"
echo "$data_path" >"$pack/data-path"

echo "Vulkan loader (Debian, amd64)" >&2
apt=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$scratch/lists")
mkdir -p "$scratch/lists/partial"
apt-get "${apt[@]}" -qq update
(cd "$pack/gl" && apt-get "${apt[@]}" -qq download libvulkan1)

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
packed=$(du -sb "$pack" | cut -f1)
tree=$(git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
  xargs -0 -r du -cb | tail -1 | cut -f1)
total=$((packed + tree))
echo "pack: $(mib "$packed") in $pack; the checkout's files: $(mib "$tree"); together $(mib "$total") of 64 MiB" >&2
if [ "$total" -gt $((64 * 1048576)) ]; then
  echo "over 64 MiB: take the committed checkpoints and bundle aside first (bash tools/device/aside.sh out)" >&2
fi
