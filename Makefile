# Baton's everyday commands. `make demo` and `make test` are the two set-up
# commands in the README; everything else is for development.
GO ?= go
BIN := bin/baton

.PHONY: demo test build generate lint fuzz bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/baton

# A dev agent plus the example workflow; Ctrl-C stops the agent.
demo: build
	./ops/demo.sh $(BIN)

# Everything CI runs: formatting, vet, proto lint, generated code up to date, all tests.
test:
	./ops/test.sh

generate:
	$(GO) tool buf generate

lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) tool buf lint

# Fuzz every target: the definition parser, SEL, cron expressions, the FSM
# command decoder and snapshots. The list and each target's executions are in
# ops/test.sh, which make test runs once (about 15 s a target on 2 vCPUs);
# make fuzz runs FUZZSCALE times as many (default 2; FUZZSCALE=40 for a long
# session).
FUZZSCALE ?= 2
fuzz:
	FUZZSCALE=$(FUZZSCALE) GO=$(GO) ./ops/test.sh fuzz

bench:
	$(GO) test -run='^$$' -bench=. -benchtime=1x -timeout=30m ./test/bench

# The chaos suite (docs/RELIABILITY.md): the short pass make test also runs,
# with its summary table; and the long pass, 100 leader kills, 20 partitions
# and 20 zombie-leader pauses under load (CHAOS_FLAGS e.g. -chaos.seed=N).
.PHONY: chaos chaos-long
chaos:
	$(GO) test -count=1 -v -timeout=30m ./test/chaos $(CHAOS_FLAGS)
chaos-long:
	BATON_CHAOS_LONG=1 $(GO) test -count=1 -v -timeout=0 -run=TestLongPass ./test/chaos $(CHAOS_FLAGS)

clean:
	rm -rf bin
