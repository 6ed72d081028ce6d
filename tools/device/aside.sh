#!/usr/bin/env bash
# The device tool sends the checkout's tracked and unignored files, at most 64 MiB with what it
# carries; the committed checkpoints and default bundle (about 76 MB) would take it over. `out`
# moves them beside the checkout (../igan-aside/) and out of git's index, so that neither counts;
# `back` puts both back as they were. Training on the device needs neither. In between, commit
# nothing: the index records them as deleted (`back` refuses if HEAD moved).
#
# Usage: bash tools/device/aside.sh out|back
set -euo pipefail
cd "$(dirname "$0")/../.."
paths=(checkpoints model/default)
aside=../igan-aside
case "${1:-}" in
out)
  if [ -e "$aside" ]; then
    echo "error: $aside exists: put it back first (bash tools/device/aside.sh back)" >&2
    exit 1
  fi
  if ! git diff --quiet HEAD -- "${paths[@]}"; then
    echo "error: ${paths[*]} have changes that are not committed; commit them first" >&2
    exit 1
  fi
  for p in "${paths[@]}"; do
    mkdir -p "$aside/$(dirname "$p")"
    mv "$p" "$aside/$p"
  done
  git rm -r -q --cached -- "${paths[@]}"
  git rev-parse HEAD >"$aside/HEAD"
  echo "moved ${paths[*]} to $aside; commit nothing until: bash tools/device/aside.sh back" >&2
  ;;
back)
  if [ ! -d "$aside" ]; then
    echo "error: nothing is aside ($aside does not exist)" >&2
    exit 1
  fi
  if [ "$(git rev-parse HEAD)" != "$(cat "$aside/HEAD")" ]; then
    echo "error: HEAD moved since ${paths[*]} went aside (at $(cat "$aside/HEAD")): restore them" \
      "from $aside by hand (git checkout <that commit> -- ${paths[*]} if a commit deleted them)" >&2
    exit 1
  fi
  for p in "${paths[@]}"; do
    if [ -e "$p" ]; then
      echo "error: $p exists again; move it elsewhere, then run this again" >&2
      exit 1
    fi
  done
  for p in "${paths[@]}"; do mv "$aside/$p" "$p"; done
  git reset -q -- "${paths[@]}"
  if ! git diff --quiet HEAD -- "${paths[@]}"; then
    echo "error: ${paths[*]} are back but differ from HEAD (git status shows how); $aside is kept" >&2
    exit 1
  fi
  rm -rf "$aside"
  echo "${paths[*]} are back, unchanged" >&2
  ;;
*)
  echo "error: usage: bash tools/device/aside.sh out|back" >&2
  exit 2
  ;;
esac
