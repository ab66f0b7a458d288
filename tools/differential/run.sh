#!/usr/bin/env bash
# Differential test: Latch's policy engine vs @cloud-copilot/iam-simulate on generated cases.
# Usage: tools/differential/run.sh [--seed S] [--count N] [--show N]
# Env: LATCH_BIN=path/to/latch (else it is built with cargo, honouring CARGO_TARGET_DIR).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seed="latch-differential-1"
count=2000
show=5
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seed="$2"; shift 2 ;;
    --count) count="$2"; shift 2 ;;
    --show) show="$2"; shift 2 ;;
    *) echo "run.sh: unknown argument $1 (use --seed S, --count N, --show N)" >&2; exit 2 ;;
  esac
done

cd "$here"
if [ ! -d node_modules/@cloud-copilot/iam-simulate ]; then
  npm ci --no-audit --no-fund >&2
fi

if [ -z "${LATCH_BIN:-}" ]; then
  (cd "$root" && cargo build --release -q -p latch-cli) >&2
  LATCH_BIN="${CARGO_TARGET_DIR:-$root/target}/release/latch"
fi
if [ ! -x "$LATCH_BIN" ]; then
  echo "run.sh: latch binary not found at $LATCH_BIN" >&2
  exit 2
fi

out="$here/out"
mkdir -p "$out"
start=$(date +%s%N)
node generate.mjs --seed "$seed" --count "$count" > "$out/cases.jsonl"
# Both sides exit non-zero when some case has an error; compare.mjs reports those lines.
node simulate.mjs "$out/cases.jsonl" > "$out/iam-simulate.jsonl" || true
"$LATCH_BIN" eval --cases "$out/cases.jsonl" > "$out/latch.jsonl" 2> "$out/latch.stderr" || true
set +e
node compare.mjs --cases "$out/cases.jsonl" --reference "$out/iam-simulate.jsonl" \
  --latch "$out/latch.jsonl" --known known-differences.json --seed "$seed" \
  --latch-bin "$LATCH_BIN" --show "$show" --report "$out/report.json"
status=$?
set -e
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "seed $seed, $count cases, ${ms} ms; details in $out/report.json"
exit $status
