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

status=0
for engine in ${DOCKWARD_TEST_ENGINES:-bookworm newest}; do
  if [[ $engine == bookworm ]]; then run=("${files[@]}"); else run=("${engine_files[@]}"); fi
  ((${#run[@]})) || continue
  echo "test: dockerd $engine: ${#run[@]} files"
  DOCKWARD_TEST_ENGINE=$engine node --test --test-concurrency=1 --import tsx "${run[@]}" || status=1
done
exit $status
