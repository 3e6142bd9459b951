#!/usr/bin/env bash
# The demo: Salient Channel Tuning against a linear probe, on sct's embedded fractal-pretrained
# backbone (models/, docs/pretraining.md) and fashion-mnist-1k (1,000 real Fashion-MNIST training
# images, 100 per class; the 10,000 official test images). Each step is a plain sct command:
#   1. sct select   one frozen pass over the training images, channel scores, heatmap PNG
#   2. sct compare  sct train for SCT (12 blocks x 12x12 maps + head) and for the linear probe (head
#                   only), each followed by its test accuracy, then one table of both
# Usage: scripts/demo.sh [OUT_DIR]   (default: runs/demo-<date>; an existing folder is never reused)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/demo-$(date +%Y%m%d-%H%M%S)}"
if [[ -e "$out" ]]; then
  echo "demo: $out already exists; give another folder" >&2
  exit 1
fi
mkdir -p "$out"
backbone=(--model vit_pico_patch4_32 --checkpoint models/vit_pico_patch4_32_fractal.safetensors)
task=(--task fashion-mnist-1k)

build/sct select "${task[@]}" "${backbone[@]}" --out "$out/selection.json" --heatmap "$out/selection.png"
# The reference's recipe (AdamW, cosine schedule, label smoothing 0.1) at the offline suite's length
# (30 epochs, 5 of them warm-up), with each method's lr from configs/methods/vit_pico_patch4_32.json
# (1e-2 for both).
build/sct compare --methods sct,linear --out "$out" "${task[@]}" "${backbone[@]}" \
  --selection "$out/selection.json" --epochs 30 --set warmup_epochs=5
echo "channel-selection heatmap: $out/selection.png"
