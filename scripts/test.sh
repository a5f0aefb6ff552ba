#!/usr/bin/env bash
# The whole test suite: README's test command (`npm test`) and CI's. As root it first installs or
# fetches what the tests need (scripts/engines.sh); otherwise it says what is missing, and the
# engine tests are skipped with the reason (in CI they fail instead).
# Then every test against dockerd 20.10 (bookworm), and at the same time the engine tests against
# the newest dockerd and the body-model tests against Debian stable's (trixie, 26.1).
# DOCKWARD_TEST_ENGINES picks the engines (default "bookworm newest trixie"); arguments, if any,
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
# Tests that start a dockerd: the ones the newest engine is run for.
engine_files=()
for f in "${files[@]}"; do grep -q "harness/engine.js\|gateway/fixture.js" "$f" && engine_files+=("$f"); done
# Any other engine runs only the engine tests that name it on a line `// engines: NAME…`: trixie is
# there for its body models (the tests of bodies against the daemon), not for the whole suite,
# which CI's 20 minutes do not hold a third time.
marked_files() {
  local f
  for f in "${engine_files[@]}"; do grep -qE "^// engines:.* $1( |\$)" "$f" && echo "$f"; done
}

# The engines run side by side (the suite mostly waits on dockerd: one after the other took ~18 of
# CI's 20 minutes), each with its tests one file at a time. Every engine after the first runs in
# a network namespace of its own, so the daemons' host-wide interfaces (a swarm's
# docker_gwbridge, network bridges) and the tests' loopback ports cannot meet; host files a test
# must change are taken in turns (test/harness/host-files.ts). The first engine's output streams
# as it comes, the others' follow it.
outdir=$(mktemp -d)
trap 'rm -rf "$outdir"' EXIT
engines=(${DOCKWARD_TEST_ENGINES:-bookworm newest trixie})
pids=()
for i in "${!engines[@]}"; do
  engine=${engines[$i]}
  case $engine in
    bookworm) run=("${files[@]}") ;;
    newest) run=("${engine_files[@]}") ;;
    *) mapfile -t run < <(marked_files "$engine") ;;
  esac
  : >"$outdir/$engine.tap"
  ((${#run[@]})) || continue
  echo "test: dockerd $engine: ${#run[@]} files"
  cmd=(node --test --test-concurrency=1 --import tsx "${run[@]}")
  if ((i > 0)) && [[ $(id -u) == 0 ]]; then
    cmd=(unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh "${cmd[@]}")
  fi
  if ((i == 0)); then
    (DOCKWARD_TEST_ENGINE=$engine "${cmd[@]}" | tee "$outdir/$engine.tap") &
  else
    (DOCKWARD_TEST_ENGINE=$engine "${cmd[@]}" >"$outdir/$engine.tap" 2>&1) &
  fi
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for engine in "${engines[@]:1}"; do
  echo "test: the output of dockerd $engine's run"
  cat "$outdir/$engine.tap"
done

# Node's runner summarizes each engine run in its own TAP output; the closing lines add them up.
declare -A total=([tests]=0 [pass]=0 [fail]=0 [skipped]=0 [cancelled]=0)
summary=()
for engine in "${engines[@]}"; do
  out=$outdir/$engine.tap
  [[ -s $out ]] || continue
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
