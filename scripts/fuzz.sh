#!/usr/bin/env bash
# Fuzzes every parser (fuzz/*_fuzz.cpp) with libFuzzer under ASan + UBSan for SECONDS each (default 60),
# starting from the seeds of fuzz/seeds.txt, and prints executions, coverage and findings per target.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (targets: safetensors npz image list_file ...)
# Builds build-fuzz/ with clang first (a build of its own, about as long as the library's). Corpora grow
# in build-fuzz/corpus/<target>; crashing inputs land in build-fuzz/findings/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true

scripts/setup.sh --packages-only
missing=()
for p in clang libclang-rt-14-dev; do  # clang and its libFuzzer / sanitizer runtimes
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCT_BUILD_FUZZ=ON \
  -DSCT_BUILD_TESTS=OFF -DSCT_BUILD_BENCH=OFF >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/*_fuzz.cpp; do t=$(basename "$f" _fuzz.cpp); targets+=("$t"); done
fi
cmake --build build-fuzz --target "${targets[@]/%/_fuzz}" >/dev/null

# LibTorch is not instrumented and keeps its allocations until exit: leaks are not ours to judge here.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:detect_odr_violation=0
export UBSAN_OPTIONS=print_stacktrace=1
printf '%-12s %12s %8s %8s %s\n' target executions cov ft findings
status=0
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$t findings=build-fuzz/findings/$t
  mkdir -p "$corpus" "$findings"
  while read -r target pattern; do
    [ "$target" = "$t" ] || continue
    for f in tests/fixtures/$pattern; do [ -f "$f" ] && cp -n "$f" "$corpus/" 2>/dev/null || true; done
  done < <(grep -v '^#' fuzz/seeds.txt)
  log=build-fuzz/$t.log
  set +e
  build-fuzz/fuzz/${t}_fuzz "$corpus" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 \
    -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  # crash-, timeout-, leak- and oom- files are findings; slow-unit- files (over 10 s, as happens on a
  # loaded machine) are listed apart.
  found=$(find "$findings" -type f ! -name 'slow-unit-*' | wc -l)
  slow=$(find "$findings" -type f -name 'slow-unit-*' | wc -l)
  printf '%-12s %12s %8s %8s %s%s\n' "$t" "$execs" "$cov" "$ft" "$found" "$([ "$slow" -gt 0 ] && echo " ($slow slow units)")"
  if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then status=1; echo "  see $log and $findings/"; fi
done
exit $status
