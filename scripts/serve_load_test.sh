#!/usr/bin/env bash
# sct serve under load, on loopback, with Debian's wrk posting a PNG: throughput and p50 / p99 latency
# at concurrency 1, 8 and 32, with one task and with eight tasks mixed (requests cycle through them);
# in the same run, serial `sct predict` calls (a process per image) and one server process per task
# (memory: one backbone against eight copies). Bounded: each wrk run lasts --duration seconds, every
# process it starts is stopped at the end, and it stops by itself.
#
# The eight task folders are trained here with sct train (1 epoch on a 12-image folder made from the
# repo's test images: any trained folder serves the same way, and only speed is measured).
# Usage: scripts/serve_load_test.sh [--backbone vitb|pico] [--duration SECONDS] [--out DIR]
#   vitb: ViT-B/16 at 224 px with random weights (seed 42; the tasks are trained on the same)
#   pico: the embedded backbone (models/vit_pico_patch4_32_fractal.safetensors)
# Writes DIR/load.md (the table), DIR/load.csv, and the servers' logs.
set -euo pipefail
cd "$(dirname "$0")/.."

backbone=pico duration=10 out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --backbone) backbone=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "serve_load_test: unknown argument $1" >&2; exit 2 ;;
  esac
done
case $backbone in
  vitb) model=(--model vit_base_patch16_224) ;;
  pico) model=(--model vit_pico_patch4_32 --checkpoint models/vit_pico_patch4_32_fractal.safetensors) ;;
  *) echo "serve_load_test: --backbone is vitb or pico" >&2; exit 2 ;;
esac
command -v wrk > /dev/null || { echo "serve_load_test: wrk is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
[[ -x build/sct ]] || { echo "serve_load_test: build/sct is missing (scripts/setup.sh sct)" >&2; exit 1; }
out=${out:-runs/serve-load-$backbone-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; wait 2> /dev/null || true; }
trap cleanup EXIT

# --- eight task folders -------------------------------------------------------------------------------
data=$out/data
images=(tests/fixtures/images/*.png)
for c in 0 1 2; do
  mkdir -p "$data/class$c"
  for i in 0 1 2 3; do cp "${images[$((c * 4 + i))]}" "$data/class$c/"; done
done
image=$(pwd)/tests/fixtures/images/palette_33x21.png
methods=(sct sct sct sct sct sct lora linear)
tasks=()
for t in 0 1 2 3 4 5 6 7; do
  if [[ ! -f $out/run$t/task/adapter_config.json ]]; then
    build/sct train "${model[@]}" --method "${methods[$t]}" --data "$data" --split-fractions 0.5 0.25 0.25 \
      --split-seed "$t" --epochs 1 --set warmup_epochs=0 --set batch_size=2 --recipe none --method-recipe none \
      --out "$out/run$t" > "$out/train$t.log" 2>&1 || { echo "training task $t failed:" >&2; tail "$out/train$t.log" >&2; exit 1; }
  fi
  tasks+=(--task "t$t=$out/run$t/task")
done
echo "serve_load_test: 8 task folders in $out/run*/task ($(du -sh "$out/run0/task" | cut -f1) each for sct)"

# --- helpers ------------------------------------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
isa=$(grep -o -m1 -w 'amx_bf16\|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_server LOG TASK... -> sets $port and $server_pid once the server is listening
start_server() {
  local log=$1; shift
  port=$(free_port)
  build/sct serve "${model[@]}" --port "$port" --max-batch 32 --max-wait-ms 5 "$@" > "$log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 600); do
    grep -q "listening on" "$log" && return 0
    kill -0 "$server_pid" 2> /dev/null || { echo "server failed:" >&2; tail "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "server did not start in 60 s" >&2; exit 1
}
stop_server() { kill -TERM "$1"; wait "$1" 2> /dev/null || true; }
rss_mb() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

cat > "$out/post.lua" << EOF
-- Posts the PNG to the tasks named in TASKS (space-separated), one after another.
local f = assert(io.open("$image", "rb"))
local body = f:read("*all")
f:close()
local tasks = {}
for t in string.gmatch(os.getenv("TASKS"), "%S+") do tasks[#tasks + 1] = t end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/tasks/" .. tasks[(n % #tasks) + 1] .. "/predict",
                    {["Content-Type"] = "image/png"}, body)
end
EOF

echo "setting,concurrency,images_per_s,p50_ms,p99_ms,errors,server_peak_rss_mb" > "$out/load.csv"
# run_wrk LABEL CONCURRENCY TASKS
run_wrk() {
  local label=$1 c=$2 names=$3 threads=$(( $2 < 2 ? $2 : 2 ))
  local log=$out/wrk-$label-c$c.log
  TASKS=$names wrk -t "$threads" -c "$c" -d "${duration}s" --timeout 60s --latency -s "$out/post.lua" \
    "http://127.0.0.1:$port" > "$log" 2>&1
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$log")
  p50=$(awk '$1 == "50%" {print $2}' "$log")
  p99=$(awk '$1 == "99%" {print $2}' "$log")
  errors=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {for (i = 4; i <= NF; i += 2) n += $i} END {print n + 0}' "$log")
  to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.1f", v / 1000; else if (v ~ /ms$/) printf "%.1f", v + 0;
                                   else if (v ~ /m$/) printf "%.0f", v * 60000; else printf "%.0f", v * 1000 }'; }
  echo "$label,$c,$rps,$(to_ms "$p50"),$(to_ms "$p99"),$errors,$(rss_mb "$server_pid")" >> "$out/load.csv"
  echo "  $label concurrency $c: $rps images/s, p50 $p50, p99 $p99, errors $errors"
}

# --- one server, one task and eight tasks -------------------------------------------------------------
start_server "$out/serve-8tasks.log" "${tasks[@]}"
curl -sf -H 'Content-Type: image/png' --data-binary @"$image" "http://127.0.0.1:$port/v1/tasks/t0/predict" > /dev/null
for c in 1 8 32; do run_wrk one-task "$c" "t0"; done
for c in 1 8 32; do run_wrk eight-tasks "$c" "t0 t1 t2 t3 t4 t5 t6 t7"; done
curl -sf "http://127.0.0.1:$port/metrics" > "$out/metrics.txt"
one_server_rss=$(rss_mb "$server_pid")
stop_server "$server_pid"

# --- serial sct predict: a process (and a backbone load) per image -------------------------------------
calls=5
lat=()
start=$(date +%s%N)
for i in $(seq $calls); do
  s=$(date +%s%N)
  build/sct predict "${model[@]:2}" --task-dir "$out/run0/task" "$image" > /dev/null 2>&1
  lat+=($(( ($(date +%s%N) - s) / 1000000 )))
done
total_ms=$(( ($(date +%s%N) - start) / 1000000 ))
predict_rps=$(awk -v n=$calls -v ms=$total_ms 'BEGIN {printf "%.2f", n * 1000 / ms}')
predict_p50=$(printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR] = $1} END {printf "%.0f", a[int((NR + 1) / 2)]}')
echo "serial-predict,1,$predict_rps,$predict_p50,,0," >> "$out/load.csv"
echo "  serial sct predict: $predict_rps images/s, p50 ${predict_p50} ms per call"

# --- one server process per task: memory ------------------------------------------------------------
per_task_rss=0
per_task_pids=()
for t in 0 1 2 3 4 5 6 7; do
  start_server "$out/serve-t$t.log" --task "t$t=$out/run$t/task"
  curl -sf -H 'Content-Type: image/png' --data-binary @"$image" "http://127.0.0.1:$port/v1/tasks/t$t/predict" > /dev/null
  per_task_pids+=("$server_pid")
done
for p in "${per_task_pids[@]}"; do per_task_rss=$((per_task_rss + $(rss_mb "$p"))); done
for p in "${per_task_pids[@]}"; do stop_server "$p"; done

# --- the table --------------------------------------------------------------------------------------
{
  echo "sct serve load test, backbone $backbone, $(nproc) cores of $cpu ($isa), $(date -u +%Y-%m-%d)."
  echo "wrk on loopback, ${duration} s per row, one PNG; server: --max-batch 32 --max-wait-ms 5."
  echo
  echo "| setting | concurrency | images/s | p50 ms | p99 ms | errors |"
  echo "|---|---:|---:|---:|---:|---:|"
  tail -n +2 "$out/load.csv" | while IFS=, read -r label c rps p50 p99 errors rss; do
    echo "| $label | $c | $rps | $p50 | ${p99:--} | $errors |"
  done
  echo
  echo "Peak RSS: one server with 8 tasks **${one_server_rss} MiB**; 8 servers with one task each **${per_task_rss} MiB** in all."
} | tee "$out/load.md"
