#!/usr/bin/env bash
# bench_leases.sh — scale-out benchmark of `ferry replicate` against MinIO
# and PostgreSQL: files per second with 1, 2 and 3 processes polling the
# same bucket, without hash-range leases (every process lists, looks up
# and claims every file; the per-file claim decides who loads it) and with
# --lease-ranges (each process only the keys of the ranges it holds),
# alternating, over several runs; then, with three processes and
# --lease-ranges, how long after a kill -9 the other two hold the killed
# process's ranges, and how long a fourth process that joins takes to get
# ranges and its share. The measuring is part 7 (leases) of
# integration/benchrep (see its doc comment).
#
# On one machine more processes add no CPU: the point is that the shared
# bucket and the claims do not make N processes slower than one, and what
# leases save (lookups of files other processes load, claims lost).
#
# Run it under services.sh, which provides MinIO and PostgreSQL:
#
#   integration/services.sh run integration/bench_leases.sh   (or: make bench-leases)
#
# Environment:
#   BENCHREP_LEASE_FILES=3000         4 KiB CSV files, uploaded before ferry starts
#   BENCHREP_LEASE_PROCS=1,2,3        process counts tried
#   BENCHREP_LEASE_RUNS=3             runs; each tries every count, both ways
#   BENCHREP_LEASE_RANGES=64          --lease-ranges
#   BENCHREP_LEASE_EXPIRIES=6s,30s    --lease-expiry values of the takeover runs
#   BENCHREP_FERRY_BIN=PATH           benchmark that ferry binary instead of
#                                     building bin/ferry
#   BENCHREP_KEEP=1                   keep the bucket, tables, state rows and logs
#   FERRY_TEST_DATABASE_URL, FERRY_TEST_S3_ENDPOINT, AWS_*  (from services.sh)
#
# Progress goes to stderr with a "bench:" or "benchrep:" prefix; the report
# goes to stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ -n ${FERRY_TEST_DATABASE_URL:-} ]] || die "FERRY_TEST_DATABASE_URL is not set; run: integration/services.sh run $0"
[[ -n ${FERRY_TEST_S3_ENDPOINT:-} ]] || die "FERRY_TEST_S3_ENDPOINT is not set; run: integration/services.sh run $0"

if [[ -n ${BENCHREP_FERRY_BIN:-} ]]; then
	log "using ferry binary $BENCHREP_FERRY_BIN"
else
	log "building bin/ferry"
	go build -o bin/ferry ./cmd/ferry
fi
mkdir -p .cache/bin
log "building benchrep"
go build -o .cache/bin/benchrep ./integration/benchrep

if [[ -n ${BENCHREP_FERRY_BIN:-} ]]; then
	echo "ferry $BENCHREP_FERRY_BIN (built $(date -u -r "$BENCHREP_FERRY_BIN" +%FT%TZ))"
else
	rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [[ $rev != unknown && -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
		rev+=" (with uncommitted changes)"
	fi
	echo "ferry $rev"
fi
BENCHREP_PARTS=leases exec .cache/bin/benchrep -ferry "${BENCHREP_FERRY_BIN:-bin/ferry}"
