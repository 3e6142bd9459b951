#!/usr/bin/env bash
# sct against eager PyTorch 1.13 on the same machine, in one run: ViT training and inference throughput
# and peak RSS, fp32 and bf16 (sct --precision bf16 / the peer's torch.autocast). Each measurement is a
# process of its own, so that peak RSS is its own.
#
#   bench/side_by_side.sh [MODEL] [METHOD] [BATCHES] [STEPS]
#   bench/side_by_side.sh vit_base_patch16_224 sct "16 64" 3
#
# Prints a Markdown table; the raw JSON lines go to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-vit_base_patch16_224}
method=${2:-sct}
batches=${3:-"16 64"}
steps=${4:-3}
threads=$(nproc)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
isa=$(grep -m1 -o -w 'amx_bf16\|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ' || true)
echo "$model, method $method, $threads threads, $cpu (native bf16: ${isa:-none}), $(date -u +%F)"
echo
echo "| batch | precision | impl | train img/s | infer img/s | peak RSS (MiB) |"
echo "|---|---|---|---|---|---|"
field() { python3 -c "import json,sys; print(round(json.loads(sys.argv[1])[sys.argv[2]], 2))" "$1" "$2"; }
for b in $batches; do
  for p in fp32 bf16; do
    ours=$(build/sct bench --model "$model" --method "$method" --batch "$b" --steps "$steps" --precision "$p" \
           --threads "$threads" --json 2>/dev/null)
    peer_flag=(); [ "$p" = bf16 ] && peer_flag=(--bf16)
    peer=$(/usr/bin/python3 bench/pytorch_bench.py --model "$model" --method "$method" --batch "$b" --steps "$steps" \
           --threads "$threads" "${peer_flag[@]}")
    echo "$ours" >&2; echo "$peer" >&2
    for impl in sct pytorch; do
      j=$ours; [ $impl = pytorch ] && j=$peer
      echo "| $b | $p | $impl | $(field "$j" train_img_per_s) | $(field "$j" infer_img_per_s) | $(field "$j" peak_rss_mb) |"
    done
  done
done
