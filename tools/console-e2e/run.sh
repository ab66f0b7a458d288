#!/usr/bin/env bash
# The console in a real browser: Debian's chromium (/usr/bin/chromium) driven by
# playwright-core from npm (no browser download), against `latch serve --cloud memory`.
# Usage: tools/console-e2e/run.sh   (env: LATCH_BIN, else the debug binary cargo built;
# OUT, where the screenshots go: target/console-e2e by default)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "console-e2e: ${CHROMIUM:-/usr/bin/chromium} is missing: apt-get install chromium" >&2
  exit 1
fi
cd "$here"
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
  npm ci --no-audit --no-fund >&2
fi
if [ -z "${LATCH_BIN:-}" ]; then
  target="$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  LATCH_BIN="$target/debug/latch"
fi
export LATCH_BIN
export OUT="${OUT:-$root/target/console-e2e}"
node run.mjs
(cd "$root" && "$LATCH_BIN" scan --format html --out "$OUT/report.html") && REPORT_HTML="$OUT/report.html" exec node report.mjs
