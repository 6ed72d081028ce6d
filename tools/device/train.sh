#!/usr/bin/env bash
# The one command to give a lent GPU machine (the device tool's run, with carry [".device"]; see
# the README's "Training on a GPU machine"): trains the full-size model, width 64, with the
# default's recipe (2,500 steps as a plain GAN; 4,000 as an interpretable one from it; 1,500 of the
# tail alone), from the pack of tools/device/pack.sh. Each stage is cut short (SIGTERM: it stops
# after the step in hand with a checkpoint) by its share of the time left, so the whole ends
# within the budget. What comes back, in $OUT (at most 8 files of 16 MiB):
#   checkpoint.part-00, -01, ...   the newest checkpoint, slim (deno task checkpoint:slim), in
#                                  15 MiB parts: cat checkpoint.part-* > <file>.safetensors
#   logs.tar.gz                    this script's log, each stage's output, log.jsonl and samples
# and a last line `{"device": ...}` that sums it up.
#
# Usage: bash tools/device/train.sh [budget-seconds, default 500]
# Rehearsal without a GPU: IGAN_BACKEND=cpu IGAN_DEVICE_NETWORK="--width 8 --target-channels 16"
# IGAN_DEVICE_STEPS="20 30 10" OUT=<folder> bash tools/device/train.sh 300
set -uo pipefail
budget=${1:-500}
end=$((SECONDS + budget))
reserve=40 # seconds kept for the slim copy, the parts and the logs
root=$(pwd)
pack=$root/.device
work=$(mktemp -d /tmp/igan-device.XXXXXX)
out=${OUT:?OUT must name the folder whose files come back}
network=${IGAN_DEVICE_NETWORK:---width 64 --target-channels 128}
read -r steps1 steps2 steps3 <<<"${IGAN_DEVICE_STEPS:-2500 4000 1500}"
mkdir -p "$out"
log() { echo "device: $*" | tee -a "$work/device.log" >&2; }

final=""       # the newest checkpoint of the last stage that wrote one
stages_done="" # the stages that wrote one
summary() {
  local parts=0 step=null
  if [ -n "$final" ]; then
    step=$((10#$(basename "$final" | tr -dc 0-9)))
    if "${deno[@]}" training/slim.ts --checkpoint "$final" --out "$work/slim.safetensors" \
      2>>"$work/device.log"; then
      split -b 15M -d -a 2 "$work/slim.safetensors" "$out/checkpoint.part-"
      parts=$(find "$out" -name 'checkpoint.part-*' | wc -l)
    else
      log "the slim copy of $final failed"
    fi
  fi
  (cd "$work" && find runs -name log.jsonl -o -name '*.png' 2>/dev/null |
    tar -czf "$out/logs.tar.gz" device.log stages -T -)
  echo "{\"device\":{\"stages\":\"$stages_done\",\"step\":$step,\"parts\":$parts,\"seconds\":$SECONDS}}"
}

# Deno, the npm packages and the images from the pack.
if [ ! -f "$pack/deno.xz" ]; then
  log "error: $pack/deno.xz is missing: run bash tools/device/pack.sh <images> here first and carry .device"
  exit 1
fi
python3 - "$pack" "$work" <<'EOF' || exit 1
import lzma, os, shutil, sys, tarfile
pack, work = sys.argv[1:]
with lzma.open(f"{pack}/deno.xz") as src, open(f"{work}/deno", "wb") as dst:
    shutil.copyfileobj(src, dst)
os.chmod(f"{work}/deno", 0o755)
def extract(archive, into):
    with tarfile.open(archive) as tar:
        try:
            tar.extractall(into, filter="data")
        except TypeError:  # a Python before 3.12
            tar.extractall(into)
extract(f"{pack}/deno-dir.tar.xz", f"{work}/deno-dir")
extract(f"{pack}/data.tar.xz", work)
EOF
data=$work/$(cat "$pack/data-folder")
mkdir -p "$work/stages" "$work/xdg" && chmod 700 "$work/xdg"
export DENO_DIR=$work/deno-dir XDG_RUNTIME_DIR=$work/xdg NO_COLOR=1
export IGAN_BACKEND=${IGAN_BACKEND:-webgpu}
deno=("$work/deno" run -A --cached-only --frozen "--lock=$pack/train.lock")
log "$("$work/deno" --version | head -1); $(find "$data" -type f | wc -l) files in $data"

if [ "$IGAN_BACKEND" = webgpu ]; then
  export IGAN_ADAPTER=${IGAN_ADAPTER:-hardware}
  if ! ldconfig -p | grep -q libvulkan.so.1; then
    for f in "$pack"/gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  # The adapter the trainer will get (it sets the same Vulkan preference); the NVIDIA driver's
  # Vulkan file by hand when the system lists none.
  probe() {
    DENO_WEBGPU_BACKEND=vulkan "$work/deno" eval 'const a = await navigator.gpu?.requestAdapter(
      { powerPreference: "high-performance" }); console.log(a ? a.info.description || a.info.device : "none")' \
      2>&1 | tail -1
  }
  adapter=$(probe)
  nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if echo "$adapter" | grep -qiE "^none$|llvmpipe|lavapipe|error" && [ -f "$nvidia_icd" ]; then
    export VK_DRIVER_FILES=$nvidia_icd
    adapter="$(probe) (VK_DRIVER_FILES=$nvidia_icd)"
  fi
  gpu=$(command -v nvidia-smi >/dev/null &&
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)
  log "WebGPU adapter: $adapter; GPU: ${gpu:-no nvidia-smi}"
fi

# Runs stage $1 (its name) with weight $2 of the time left (the weights of it and the stages after
# it sum to $3) and the trainer's flags after them; sets final to its newest checkpoint.
stage() {
  local name=$1 weight=$2 rest=$3 seconds
  shift 3
  seconds=$(((end - reserve - SECONDS) * weight / rest))
  if [ "$seconds" -lt 30 ]; then
    log "$name: skipped, ${seconds}s left for it"
    return 1
  fi
  log "$name: up to ${seconds}s: train $*"
  timeout -s TERM -k 30 "$seconds" "${deno[@]}" training/cli.ts "$@" --out "$work/runs" \
    --name "$name" --cache-dir "$work/cache" >"$work/stages/$name.log" 2>&1
  local status=$?
  grep -E "^(adapter|generator|run|finished|interrupted|error|warning|note)" \
    "$work/stages/$name.log" | sed "s/^/device: $name: /" | tee -a "$work/device.log" >&2
  local newest
  newest=$(find "$work/runs" -path "*-$name/checkpoints/step-*.safetensors" | sort | tail -1)
  log "$name: exit status $status after ${SECONDS}s in all; newest checkpoint ${newest:-none}"
  [ -n "$newest" ] || return 1
  final=$newest
  stages_done="$stages_done $name"
}

common=(--data "$data" $network --batch 32 --checkpoint-every 250 --keep-checkpoints 2
  --sample-every 500)
# The stages' expected costs: an interpretable step costs about 1.6 plain ones, a tail step 0.7.
w1=$steps1 w2=$((steps2 * 16 / 10)) w3=$((steps3 * 7 / 10))
if stage w64-baseline "$w1" $((w1 + w2 + w3)) "${common[@]}" --steps "$steps1" &&
  stage w64-parts "$w2" $((w2 + w3)) "${common[@]}" --interpretable --groups 32 \
    --energy-every-step --energy-pool 1 --energy-normalize --other-groups mean --lambda1 2 \
    --lambda2-g 1 --init-from "$final" --init-discriminator --r1 0.002 --steps "$steps2"; then
  stage w64-tail "$w3" "$w3" --resume "$final" --freeze-head \
    --steps $((10#$(basename "$final" | tr -dc 0-9) + steps3)) --checkpoint-every 250 \
    --keep-checkpoints 2 --sample-every 500 --data "$data"
fi
summary
