# nightshift — build, test, demo and benchmark entry points.
# Every target installs what it needs (pinned) into .tools/ (git-ignored).

SHELL := /bin/bash
GO    ?= go
BIN   := bin/nightshift
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Seconds each fuzz target runs inside `make test` (longer runs: make fuzz).
FUZZTIME ?= 5s

.PHONY: all build test test-short e2e demo bench bench-sched lint proto fuzz tools image clean

all: build

## build: the static nightshift binary in bin/
build:
	CGO_ENABLED=0 GOEXPERIMENT=simd $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/nightshift

## test: vet, race-enabled tests against a real MinIO, then a short fuzz pass
test:
	FUZZTIME=$(FUZZTIME) scripts/test.sh

## test-short: unit tests without MinIO (S3 suites skip with a message)
test-short:
	$(GO) test ./...

## e2e: 3 coordinators + 2 workers as processes (deploy/config) and on Docker (deploy/compose), leader killed mid-score
e2e: build
	scripts/e2e/cluster.sh
	scripts/e2e/docker.sh

## demo: the main job end to end on the embedded local store
demo: build
	$(BIN) demo --data .demo

## bench: shard ingest/read throughput against a local MinIO, next to raw GET
bench: build
	scripts/bench/shard.sh

## bench-sched: scheduling overhead, 10,000 no-op tasks on a 3-voter cluster with 4 workers
bench-sched:
	$(GO) test ./cmd/nightshift/internal/cluster/ -run '^$$' -bench Schedule10k -benchtime 3x -count 3

## lint: gofmt, go vet and staticcheck (pinned)
lint:
	scripts/lint.sh

## proto: regenerate protobuf code with pinned protoc plugins
proto:
	scripts/proto.sh

## fuzz: every fuzz target for FUZZTIME each (default 60s here)
fuzz:
	FUZZTIME=$${FUZZTIME:-60s} scripts/fuzz.sh

## tools: install pinned tools (MinIO, staticcheck, protoc plugins) into .tools/
tools:
	scripts/tools.sh

## image: the FROM-scratch container image nightshift:dev (needs a Docker engine)
image: build
	docker build -f deploy/Dockerfile -t nightshift:dev .

clean:
	rm -rf bin .demo .scratch
