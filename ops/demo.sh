#!/usr/bin/env bash
# Starts a dev agent, runs the example workflow on it, shows the result, and
# keeps the agent running until Ctrl-C so you can try the CLI against it.
set -euo pipefail
cd "$(dirname "$0")/.."
BATON="${1:-bin/baton}"
export BATON_ADDR="${BATON_ADDR:-http://127.0.0.1:7420}"

"$BATON" agent -dev 2> >(sed -u 's/^/[agent] /' >&2) &
agent=$!
stop() { kill -TERM "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; }
trap stop EXIT
# Ctrl-C is how the demo ends, not a failure.
trap 'echo; echo "stopping the agent"; stop; trap - EXIT; exit 0' INT TERM

for _ in $(seq 1 100); do
  if "$BATON" status >/dev/null 2>&1; then break; fi
  if ! kill -0 "$agent" 2>/dev/null; then echo "the agent exited; see its log above" >&2; exit 1; fi
  sleep 0.1
done
# Wait for the single node to elect itself.
for _ in $(seq 1 100); do
  if "$BATON" status -o json 2>/dev/null | grep -q '"leader_id"'; then break; fi
  sleep 0.1
done

echo
echo "== baton workflow push examples/diamond.yaml"
"$BATON" workflow push examples/diamond.yaml
echo
echo "== baton instance start diamond -p base=20 --wait"
id=$("$BATON" instance start diamond -p base=20 --wait)
echo "instance $id"
echo
echo "== baton instance get diamond $id"
"$BATON" instance get diamond "$id"
echo
echo "The agent is still running at $BATON_ADDR; try 'bin/baton instance list diamond'."
echo "Press Ctrl-C to stop it."
wait $agent
