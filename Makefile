# ferry — build, test and benchmark entry points.
#
#   make test         unit tests, then integration tests (what CI runs: .ci/run)
#   make unit         go vet + race-enabled unit tests (no services needed)
#   make integration  tests tagged `integration` against MinIO and PostgreSQL,
#                     started (and stopped) by integration/services.sh
#   make bench        whole-run benchmark: ferry snapshot vs psql \copy per
#                     format (CSV, CSV.gz, JSON lines), with both sides' CPU
#                     (BENCH_ROWS, BENCH_RUNS, BENCH_FORMATS, BENCH_FERRY_BIN2,
#                     ...: see integration/bench.sh)
#   make bench-replicate  ferry replicate: latency, small files/s, big-file RSS,
#                     via SQS notifications/s and latency, and small files
#                     against a fetch-only baseline
#                     (BENCHREP_PARTS, BENCHREP_*: see integration/bench_replicate.sh)
#   make bench-small  only that last part: snapshot, polling and SQS
#                     replication of 3,000 small files vs list+GET
#   make bench-leases scale-out: files/s of 1, 2 and 3 replicate processes
#                     on one bucket, without and with --lease-ranges, and
#                     the takeover time after a kill -9
#                     (BENCHREP_LEASE_*: see integration/bench_leases.sh)
#   make bench-merge  what --merge-key costs: appending vs merging the
#                     benchmark CSV (inserts, then updates), ferry's and
#                     the backends' CPU (BENCH_ROWS, BENCH_RUNS)
#   make build        bin/ferry
#   make fuzz         every Fuzz* under FUZZ_PKGS for FUZZTIME each
#   make minio        build/cache the pinned MinIO binary in .cache/bin
#   make lint         gofmt + go vet (also with the integration tag)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

GO        ?= go
FUZZTIME  ?= 30s
FUZZ_PKGS ?= ./source/format/... ./state/filestore/...
INTEGRATION_TIMEOUT ?= 30m

.PHONY: test unit integration bench bench-replicate bench-small bench-leases bench-merge build fuzz minio lint clean

test: unit integration

unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	# The memory tests the race build skips (it slows them tenfold), without it.
	$(GO) test -count=1 -run '^TestMemory$$' ./source/format/parquet/

integration:
	integration/services.sh run $(GO) test -race -count=1 -tags integration -timeout $(INTEGRATION_TIMEOUT) ./integration/... ./source/s3/...

bench:
	integration/services.sh run integration/bench.sh

bench-replicate:
	integration/services.sh run integration/bench_replicate.sh

bench-small:
	BENCHREP_PARTS=small integration/services.sh run integration/bench_replicate.sh

bench-leases:
	integration/services.sh run integration/bench_leases.sh

bench-merge:
	integration/services.sh run integration/bench_merge.sh

build:
	$(GO) build -o bin/ferry ./cmd/ferry

# One `go test -fuzz` per fuzz function: -fuzz accepts a single target.
fuzz:
	@n=0; \
	for pkg in $$($(GO) list $(FUZZ_PKGS)); do \
		fns=$$($(GO) test -list 'Fuzz.*' "$$pkg"); \
		for fn in $$(grep '^Fuzz' <<<"$$fns" || true); do \
			echo "fuzz: $$pkg $$fn for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) "$$pkg"; \
			n=$$((n + 1)); \
		done; \
	done; \
	echo "fuzz: ran $$n fuzz target(s) under $(FUZZ_PKGS)"

minio:
	integration/services.sh minio-bin

lint:
	@files=$$(find . -name '*.go' -not -path './.cache/*' -not -path './bin/*' -not -path '*/node_modules/*' -not -path './.git/*'); \
	unformatted=$$(gofmt -l $$files); \
	if [[ -n $$unformatted ]]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...

clean:
	rm -rf bin
