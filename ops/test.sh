#!/usr/bin/env bash
# The test command: static checks, then every test (unit, fuzz seeds, and the
# end-to-end tests that build the binary and run real agents).
set -euo pipefail
cd "$(dirname "$0")/.."

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
