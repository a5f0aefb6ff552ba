#!/usr/bin/env bash
# The whole test suite: README's test command (`npm test`) and CI's. As root it first installs or
# fetches what the tests need (scripts/engines.sh); otherwise it says what is missing, and the
# engine tests are skipped with the reason (in CI they fail instead).
# Then every test against dockerd 20.10 (bookworm), and the engine tests again against the newest
# dockerd. DOCKWARD_TEST_ENGINES picks the engines (default "bookworm newest"); arguments, if any,
# are the test files to run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) == 0 ]]; then
  bash scripts/engines.sh
else
  bash scripts/engines.sh --check || echo "test: not root, so nothing is installed; engine tests will be skipped" >&2
fi
npm run build --silent

files=("$@")
# Tests mirror src/ folder for folder, at any depth (test/api/gojson/…).
shopt -s globstar
((${#files[@]})) || files=(test/**/*.test.ts)
# Tests that start a dockerd: the ones the second engine is run for.
engine_files=()
for f in "${files[@]}"; do grep -q "harness/engine.js\|gateway/fixture.js" "$f" && engine_files+=("$f"); done

# Node's runner summarizes each engine run in its own TAP output; the closing lines add them up.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
declare -A total=([tests]=0 [pass]=0 [fail]=0 [skipped]=0 [cancelled]=0)
summary=()
for engine in ${DOCKWARD_TEST_ENGINES:-bookworm newest}; do
  if [[ $engine == bookworm ]]; then run=("${files[@]}"); else run=("${engine_files[@]}"); fi
  ((${#run[@]})) || continue
  echo "test: dockerd $engine: ${#run[@]} files"
  DOCKWARD_TEST_ENGINE=$engine node --test --test-concurrency=1 --import tsx "${run[@]}" | tee "$out" || status=1
  line="dockerd $engine:"
  for k in tests pass fail skipped cancelled; do
    n=$(grep -E "^# $k [0-9]+$" "$out" | tail -1 | awk '{print $3}')
    total[$k]=$((total[$k] + ${n:-0}))
    line+=" $k ${n:-?}"
  done
  summary+=("$line")
  while read -r failed; do summary+=("  failed on $engine: ${failed#not ok * - }"); done < <(grep -E '^not ok ' "$out")
done
for line in "${summary[@]}"; do echo "test: $line"; done
verdict=$([[ $status == 0 ]] && echo PASS || echo FAIL)
echo "test: total: tests ${total[tests]} pass ${total[pass]} fail ${total[fail]} skipped ${total[skipped]} cancelled ${total[cancelled]}: $verdict"
echo "test: ${total[pass]} passed, ${total[fail]} failed, ${total[skipped]} skipped"
exit $status
