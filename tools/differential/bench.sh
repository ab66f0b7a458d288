#!/usr/bin/env bash
# Benchmark: the same case files through iam-simulate (in-process, fastest entry point) and
# through `latch eval --cases FILE --repeat N` (timed from outside, wall clock, nothing
# subtracted; N is chosen so that latch runs for about BENCH_SECONDS, making startup negligible).
# Usage: tools/differential/bench.sh [CASES.jsonl ...]   (default: cases/bench-*.jsonl)
# Env: LATCH_BIN (else built with cargo --release), BENCH_SECONDS (default 3).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
secs="${BENCH_SECONDS:-3}"
cd "$here"
if [ ! -d node_modules/@cloud-copilot/iam-simulate ]; then
  npm ci --no-audit --no-fund >&2
fi
if [ -z "${LATCH_BIN:-}" ]; then
  (cd "$root" && cargo build --release -q -p latch-cli) >&2
  LATCH_BIN="${CARGO_TARGET_DIR:-$root/target}/release/latch"
fi
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(cases/bench-simple.jsonl cases/bench-realistic.jsonl)

now_ns() { date +%s%N; }
# wall-clock seconds of: latch eval --cases FILE --repeat N
time_latch() {
  local t0 t1
  t0=$(now_ns)
  "$LATCH_BIN" eval --cases "$1" --repeat "$2" > /dev/null
  t1=$(now_ns)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'
}

status=0
printf '%-28s %8s %16s %16s %10s\n' "case file" "cases" "iam-simulate/s" "latch/s" "ratio"
for f in "${files[@]}"; do
  n=$(grep -c . "$f")
  sim=$(node bench-iam-simulate.mjs "$f" --seconds "$secs")
  sim_rate=$(node -e 'console.log(JSON.parse(process.argv[1]).per_second.toFixed(0))' "$sim")
  sim_dec=$(node -e 'console.log(JSON.parse(process.argv[1]).decisions.join(" "))' "$sim")
  latch_dec=$("$LATCH_BIN" eval --cases "$f" | node -e '
    const ls = require("fs").readFileSync(0, "utf8").trim().split("\n").map(JSON.parse);
    console.log(ls.map((l) => l.decision ?? "error").join(" "))')
  if [ "$sim_dec" != "$latch_dec" ]; then
    echo "$f: decisions differ: iam-simulate [$sim_dec] latch [$latch_dec]" >&2
    status=1
  fi
  # calibrate N: grow it until one run takes >= 0.3 s, then scale to about $secs seconds
  reps=1000
  while :; do
    t=$(time_latch "$f" "$reps")
    if awk -v t="$t" 'BEGIN { exit !(t >= 0.3) }'; then break; fi
    reps=$((reps * 10))
  done
  reps=$(awk -v r="$reps" -v t="$t" -v s="$secs" 'BEGIN { x = int(r * s / t); print (x < r ? r : x) }')
  t=$(time_latch "$f" "$reps")
  latch_rate=$(awk -v n="$n" -v r="$reps" -v t="$t" 'BEGIN { printf "%.0f", n * r / t }')
  ratio=$(awk -v a="$latch_rate" -v b="$sim_rate" 'BEGIN { printf "%.1f", a / b }')
  printf '%-28s %8s %16s %16s %9sx\n' "$(basename "$f")" "$n" "$sim_rate" "$latch_rate" "$ratio"
  echo "  decisions: $latch_dec; latch: $n cases x $reps repeats in ${t}s (wall, incl. startup); iam-simulate: $(node -e 'const j=JSON.parse(process.argv[1]); console.log(`${j.entry}, ${j.evaluations} evaluations in ${j.seconds.toFixed(2)}s; runUnsafeSimulation ${j.unsafe_per_second === null ? "n/a" : j.unsafe_per_second.toFixed(0) + "/s"}`)' "$sim")"
done
exit $status
