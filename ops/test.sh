#!/usr/bin/env bash
# The test command: static checks, then every test (unit, fuzz seeds, and the
# end-to-end tests that build the binary and run real agents), then each fuzz
# target for a bounded time.
#
#   ops/test.sh          # everything (make test, and CI through .ci/run)
#   ops/test.sh fuzz     # only the bounded fuzzing (make fuzz)
#
# Each fuzz target runs for a number of executions (about 15 s each on 2
# vCPUs), FUZZSCALE (default 1) times it; FUZZTIME, when set, replaces every
# target's budget (a count such as 500000x, or a duration). FUZZMINIMIZE
# (default 2s) bounds how long the fuzzer shrinks each new input before it
# goes on; GO (default go) is the go command the fuzzing runs.
#
# A count, not a duration: with a duration, Go 1.26's fuzzing coordinator can
# fail a target with a bare "context deadline exceeded" as the time runs out
# (go.dev/issue/75804, fixed in Go 1.27), though no input failed. A count
# never arms that deadline.
set -euo pipefail
cd "$(dirname "$0")/.."

# The fuzz targets, as "package target executions". `go test -fuzz` takes one
# package and one target per run, and its pattern must match exactly one
# target. The executions are what each did in 15 s in CI on 2 vCPUs.
fuzz_targets=(
  "./workflow FuzzParse 150000"
  "./workflow/sel FuzzParseEval 350000"
  "./workflow/timetrigger FuzzParseCron 400000"
  "./fsm FuzzDecode 200000"
  "./fsm FuzzReadSnapshot 100000"
)

fuzz() {
  local scale="${FUZZSCALE:-1}" minimize="${FUZZMINIMIZE:-2s}" started total=0 target pkg name execs budget secs
  echo "== fuzz: ${#fuzz_targets[@]} targets, ${FUZZTIME:-their executions × $scale} each"
  for target in "${fuzz_targets[@]}"; do
    read -r pkg name execs <<<"$target"
    budget="${FUZZTIME:-$((execs * scale))x}"
    echo "-- ${GO:-go} test -run='^\$' -fuzz='^$name\$' -fuzztime=$budget -fuzzminimizetime=$minimize $pkg"
    started=$SECONDS
    # Go's default lets the fuzzer spend up to a minute shrinking each new
    # input it finds: with a fresh cache and a large seed (a whole snapshot)
    # that left FuzzReadSnapshot a handful of inputs in 15 s.
    # A failing input is written under the package's testdata/fuzz/$name and
    # printed by go test; commit it once fixed, so it stays a seed.
    "${GO:-go}" test -run='^$' -fuzz="^$name\$" -fuzztime="$budget" -fuzzminimizetime="$minimize" "$pkg"
    secs=$((SECONDS - started))
    total=$((total + secs))
    echo "-- $pkg $name: no failure in $budget of fuzzing (${secs}s with the build)"
  done
  echo "== fuzz: ${#fuzz_targets[@]} targets passed in ${total}s"
}

if [ "${1:-}" = "fuzz" ]; then
  fuzz
  exit 0
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet ./...
echo "== buf lint"
go tool buf lint
echo "== generated code is up to date"
go tool buf generate
if ! git diff --quiet -- rpc/gen fsm/statepb; then
  echo "generated code differs from the .proto files: run 'make generate' and commit"
  git --no-pager diff --stat -- rpc/gen fsm/statepb
  exit 1
fi
echo "== go test"
go test -count=1 -timeout=20m ./...
fuzz
