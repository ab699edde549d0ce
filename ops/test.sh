#!/usr/bin/env bash
# The test command: static checks, then every test (unit, fuzz seeds, and the
# end-to-end tests that build the binary and run real agents), then each fuzz
# target for a bounded time.
#
#   ops/test.sh          # everything (make test, and CI through .ci/run)
#   ops/test.sh fuzz     # only the bounded fuzzing (make fuzz)
#
# FUZZTIME (default 15s) is how long each fuzz target runs; FUZZMINIMIZE
# (default 2s) bounds how long the fuzzer shrinks each new input before it
# goes on; GO (default go) is the go command the fuzzing runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# The fuzz targets, as "package target". `go test -fuzz` takes one package and
# one target per run, and its pattern must match exactly one target.
fuzz_targets=(
  "./workflow FuzzParse"
  "./workflow/sel FuzzParseEval"
  "./workflow/timetrigger FuzzParseCron"
  "./fsm FuzzDecode"
  "./fsm FuzzReadSnapshot"
)

fuzz() {
  local fuzztime="${FUZZTIME:-15s}" minimize="${FUZZMINIMIZE:-2s}" started total=0 target pkg name secs
  echo "== fuzz: ${#fuzz_targets[@]} targets, $fuzztime each"
  for target in "${fuzz_targets[@]}"; do
    read -r pkg name <<<"$target"
    echo "-- ${GO:-go} test -run='^\$' -fuzz='^$name\$' -fuzztime=$fuzztime -fuzzminimizetime=$minimize $pkg"
    started=$SECONDS
    # Go's default lets the fuzzer spend up to a minute shrinking each new
    # input it finds: with a fresh cache and a large seed (a whole snapshot)
    # that left FuzzReadSnapshot a handful of inputs in 15 s.
    # A failing input is written under the package's testdata/fuzz/$name and
    # printed by go test; commit it once fixed, so it stays a seed.
    "${GO:-go}" test -run='^$' -fuzz="^$name\$" -fuzztime="$fuzztime" -fuzzminimizetime="$minimize" "$pkg"
    secs=$((SECONDS - started))
    total=$((total + secs))
    echo "-- $pkg $name: no failure in $fuzztime of fuzzing (${secs}s with the build)"
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
