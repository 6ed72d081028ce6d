#!/usr/bin/env bash
# The one command to give a lent GPU machine (the device tool's run, with carry [".device"]; see
# the README's "Training on a GPU machine"): trains the full-size model, width 64, with the
# default's recipe (2,500 steps as a plain GAN; 4,000 as an interpretable one from it; 1,500 of the
# tail alone), from the pack of tools/device/pack.sh. Each stage is cut short (SIGTERM: it stops
# after the step in hand with a checkpoint) at its share of the time left, so the whole ends within
# the budget; a stage cut short still hands on to the next, and the summary says so. The runs go to
# runs/gpu-<time>/ (as here: the configs name paths relative to the checkout). After each stage,
# $OUT holds what comes back (at most 8 files of 16 MiB), replacing the stage before's:
#   step-NNNNNN.safetensors.part-00, -01, ...   the newest checkpoint, slim (deno task
#                              checkpoint:slim), in 15 MiB parts
#   logs.tar.gz                runs/gpu-<time>/: this script's log, each stage's output, and each
#                              run folder (config.json, log.jsonl, samples) without its checkpoints
# and the last line, `{"device": ...}`, sums it up (README: joining the parts into a run folder).
#
# Usage: OUT=<folder> bash tools/device/train.sh [budget-seconds, default 500]
# Rehearsal without a GPU: IGAN_BACKEND=cpu IGAN_DEVICE_NETWORK="--width 8 --target-channels 32"
# IGAN_DEVICE_STEPS="20 30 10" OUT=<folder> bash tools/device/train.sh 300
# (IGAN_DEVICE_RESERVE, seconds kept for the last copy [40], and IGAN_DEVICE_PART_KIB, the parts'
# size [15360], are for tests.)
set -uo pipefail
budget=${1:-500}
end=$((SECONDS + budget))
reserve=${IGAN_DEVICE_RESERVE:-40}
part_kib=${IGAN_DEVICE_PART_KIB:-15360}
network=${IGAN_DEVICE_NETWORK:---width 64 --target-channels 128}
read -r steps1 steps2 steps3 <<<"${IGAN_DEVICE_STEPS:-2500 4000 1500}"
if [ -z "${OUT:-}" ]; then
  echo "error: OUT must name the folder whose files come back" >&2
  exit 2
fi
mkdir -p "$OUT" && out=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/../.."
pack=.device
runs=runs/gpu-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$runs/stages"
work=$(mktemp -d /tmp/igan-device.XXXXXX)
trap 'rm -rf "$work"' EXIT
log() { echo "device: $*" | tee -a "$runs/device.log" >&2; }
fail() {
  echo "error: $*" | tee -a "$runs/device.log" >&2
  exit 1
}

final=""     # the newest checkpoint of the last stage that wrote one
stages=()    # what each stage reached, as JSON
stage_pid="" # the stage in hand's timeout process

# The step of checkpoint file $1 (runs/.../step-000250.safetensors: 250).
step_of() { echo $((10#$(basename "$1" | tr -dc 0-9))); }

# Puts the newest checkpoint (slim, in parts) and the logs in $OUT, in place of earlier ones.
publish() {
  rm -f "$out"/step-*.safetensors.part-* "$out/logs.tar.gz" "$work/slim.safetensors"
  if [ -n "$final" ]; then
    if "${deno[@]}" training/slim.ts --checkpoint "$final" --out "$work/slim.safetensors" \
      2>>"$runs/device.log"; then
      split -b "${part_kib}K" -d -a 2 "$work/slim.safetensors" "$out/$(basename "$final").part-"
    else
      log "the slim copy of $final failed"
    fi
  fi
  find "$runs" \( -name config.json -o -name log.jsonl -o -name '*.png' -o -name '*.log' \) |
    tar -czf "$out/logs.tar.gz" -T -
}

summary() {
  local file="" run="" step=null
  if [ -n "$final" ]; then
    file=$(basename "$final")
    run=$(basename "$(dirname "$(dirname "$final")")")
    step=$(step_of "$final")
  fi
  local parts list
  parts=$(find "$out" -name 'step-*.safetensors.part-*' | wc -l)
  list=$(
    IFS=,
    echo "${stages[*]}"
  )
  echo "{\"device\":{\"runs\":\"$runs\",\"run\":\"$run\",\"checkpoint\":\"$file\",\"step\":$step,\"parts\":$parts,\"stages\":[$list],\"seconds\":$SECONDS}}"
}

# A signal (the device tool's limit, Ctrl-C) stops the stage in hand as its budget would, and
# returns what there is.
on_signal() {
  log "stopped by a signal"
  if [ -n "$stage_pid" ]; then
    kill -TERM "$stage_pid" 2>/dev/null
    wait "$stage_pid"
    newest_of "$current"
  fi
  publish
  summary
  exit 143
}
trap on_signal TERM INT

# Deno, the npm packages and the images from the pack.
[ -f "$pack/deno.xz" ] ||
  fail "$pack/deno.xz is missing: run bash tools/device/pack.sh <images> here first and carry .device"
# The images go where pack.sh found them relative to the checkout (its data-path).
data=$(cat "$pack/data-path")
mkdir -p "$(dirname "$data")"
python3 - "$pack" "$work" "$(dirname "$data")" <<'EOF' || fail "the pack could not be unpacked"
import lzma, os, shutil, sys, tarfile
pack, work, images = sys.argv[1:]
def extract(archive, into):
    with tarfile.open(archive) as tar:
        try:
            tar.extractall(into, filter="data")
        except TypeError:  # a Python before 3.12
            tar.extractall(into)
try:
    with lzma.open(f"{pack}/deno.xz") as src, open(f"{work}/deno", "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.chmod(f"{work}/deno", 0o755)
    extract(f"{pack}/deno-dir.tar.xz", f"{work}/deno-dir")
    extract(f"{pack}/data.tar.xz", images)
except (OSError, EOFError, lzma.LZMAError, tarfile.TarError) as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(1)
EOF
mkdir -p "$work/xdg" && chmod 700 "$work/xdg"
export DENO_DIR=$work/deno-dir XDG_RUNTIME_DIR=$work/xdg NO_COLOR=1
export IGAN_BACKEND=${IGAN_BACKEND:-webgpu}
deno=("$work/deno" run -A --cached-only --frozen "--lock=$pack/train.lock")
log "$("$work/deno" --version | head -1); $(find "$data" -type f | wc -l) files in $data"

if [ "$IGAN_BACKEND" = webgpu ]; then
  export IGAN_ADAPTER=${IGAN_ADAPTER:-hardware}
  # The pack's Vulkan loader, beside the system rather than over it, when the system has none.
  if ! grep -q libvulkan.so.1 < <(ldconfig -p); then
    for f in "$pack"/gl/*.deb; do dpkg -x "$f" "$work/gl"; done
    export LD_LIBRARY_PATH=$work/gl/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    log "Vulkan loader from the pack"
  fi
  # The adapter the trainer will get (it sets the same Vulkan preference); the NVIDIA driver's
  # Vulkan file by hand when the system lists none.
  probe() {
    DENO_WEBGPU_BACKEND=vulkan timeout 60 "$work/deno" eval 'const a = await navigator.gpu
      ?.requestAdapter({ powerPreference: "high-performance" });
      console.log(a ? a.info.description || a.info.device : "none")' 2>&1 | tail -1
  }
  adapter=$(probe)
  nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if echo "$adapter" | grep -qiE "^none$|llvmpipe|lavapipe|error" && [ -f "$nvidia_icd" ]; then
    export VK_DRIVER_FILES=$nvidia_icd VK_ICD_FILENAMES=$nvidia_icd
    adapter="$(probe) (VK_DRIVER_FILES=$nvidia_icd)"
  fi
  gpu=$(command -v nvidia-smi >/dev/null && timeout 30 nvidia-smi \
    --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)
  log "WebGPU adapter: $adapter; GPU: ${gpu:-no nvidia-smi}"
fi

# Sets final to stage $1's newest checkpoint, if it wrote one, and records the stage.
newest_of() {
  local newest status=${2:-}
  newest=$(find "$runs" -path "*-$1/checkpoints/step-*.safetensors" | sort | tail -1)
  [ -n "$newest" ] || return 1
  final=$newest
  stages+=("{\"stage\":\"$1\",\"step\":$(step_of "$newest"),\"status\":${status:-null}}")
}

# Runs stage $1 (its name) with weight $2 of the time left (the weights of it and the stages after
# it sum to $3) and the trainer's flags after them; then publishes its newest checkpoint.
stage() {
  current=$1
  local weight=$2 rest=$3 seconds status
  shift 3
  seconds=$(((end - reserve - SECONDS) * weight / rest))
  if [ "$seconds" -lt 10 ]; then
    log "$current: skipped, ${seconds}s left for it"
    return 1
  fi
  log "$current: up to ${seconds}s: train $*"
  timeout -s TERM -k 30 "$seconds" "${deno[@]}" training/cli.ts "$@" --out "$runs" \
    --name "$current" --cache-dir "$work/cache" >"$runs/stages/$current.log" 2>&1 &
  stage_pid=$!
  wait "$stage_pid"
  status=$?
  stage_pid=""
  grep -E "^(adapter|generator|run|finished|interrupted|error|warning|note)" \
    "$runs/stages/$current.log" | sed "s/^/device: $current: /" | tee -a "$runs/device.log" >&2
  log "$current: exit status $status (124: its time ran out) after ${SECONDS}s in all"
  newest_of "$current" "$status" || return 1
  publish
}

# What every stage shares: its checkpoints and samples, and the images.
schedule=(--checkpoint-every 250 --keep-checkpoints 2 --sample-every 500 --data "$data")
common=($network --batch 32 "${schedule[@]}")
# The stages' expected costs: an interpretable step costs about 1.6 plain ones, a tail step 0.7.
w1=$((steps1 > 0 ? steps1 : 1)) w2=$((steps2 * 16 / 10 + 1)) w3=$((steps3 * 7 / 10 + 1))
if stage w64-baseline "$w1" $((w1 + w2 + w3)) "${common[@]}" --steps "$steps1" &&
  stage w64-parts "$w2" $((w2 + w3)) "${common[@]}" --interpretable --groups 32 \
    --energy-every-step --energy-pool 1 --energy-normalize --other-groups mean --lambda1 2 \
    --lambda2-g 1 --init-from "$final" --init-discriminator --r1 0.002 --steps "$steps2"; then
  stage w64-tail "$w3" "$w3" --resume "$final" --freeze-head \
    --steps $(($(step_of "$final") + steps3)) "${schedule[@]}"
fi
[ -n "$final" ] || publish # the logs, when no stage wrote a checkpoint
summary
