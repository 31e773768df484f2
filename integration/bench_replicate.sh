#!/usr/bin/env bash
# bench_replicate.sh — benchmark `ferry replicate` against MinIO, fauxqs
# (SQS) and PostgreSQL: latency from upload to visible row, files per second
# for many small files, peak RSS and speed for one big file, and, following
# S3 event notifications on SQS (--sqs-queue-url), notifications per second
# for many small gzip JSON-lines files and latency from notification to
# visible row; and, for many small CSV files, ferry snapshot, polling
# replicate and SQS replicate each against the time it takes just to list
# and GET the same objects (8 at a time), in the same run, alternating
# (part small: the ratios of issue 10's goals). The measuring is done by
# integration/benchrep (see its doc comment for the details).
#
# Run it under services.sh, which provides MinIO, fauxqs and PostgreSQL:
#
#   integration/services.sh run integration/bench_replicate.sh   (or: make bench-replicate)
#
# Environment:
#   BENCHREP_PARTS=latency,files,big,sqs-files,sqs-latency,small
#                                     parts to run (default all)
#   BENCHREP_LATENCY_FILES=200        files uploaded one at a time (part 1)
#   BENCHREP_FILES=10000              4 KiB files (part 2)
#   BENCHREP_WORKERS=2,8              --workers values tried in parts 2 and 4
#   BENCHREP_BIG_MB=2048              size in MiB of the big file (part 3);
#                                     needs that much free space in TMPDIR
#   BENCHREP_SQS_FILES=1000           gzip JSON-lines files, one notification
#                                     each, sent before ferry starts (part 4)
#   BENCHREP_SQS_LATENCY_FILES=200    files uploaded and announced one at a
#                                     time (part 5)
#   BENCHREP_SMALL_FILES=3000         CSV files of part small (6)
#   BENCHREP_SMALL_ROWS=40            rows in each of them
#   BENCHREP_SMALL_RUNS=3             runs of part small; each times, per
#                                     mode, fetch-only then ferry
#   BENCHREP_SMALL_MODES=snapshot,polling,sqs
#                                     part small's ferry modes
#   BENCHREP_FERRY_BIN=PATH           benchmark that ferry binary instead of
#                                     building bin/ferry (to compare builds)
#   BENCHREP_KEEP=1                   keep the buckets, queues, tables,
#                                     ferry.files rows and ferry's logs
#                                     (default: removed after each part; a
#                                     log with a warning or error is kept)
#   FERRY_TEST_DATABASE_URL, FERRY_TEST_S3_ENDPOINT, AWS_*  (from services.sh)
#   FERRY_TEST_SQS_ENDPOINT           (from services.sh; parts 4 and 5 only)
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
parts=,${BENCHREP_PARTS:-all},
parts=${parts// /}
modes=,${BENCHREP_SMALL_MODES:-sqs},
modes=${modes// /}
if [[ $parts == ,all, || $parts == *,sqs-* || ($parts == *,small,* && $modes == *,sqs,*) ]]; then
	[[ -n ${FERRY_TEST_SQS_ENDPOINT:-} ]] || die "FERRY_TEST_SQS_ENDPOINT is not set (needed by the parts sqs-files and sqs-latency, and small's sqs mode); run: integration/services.sh run $0"
fi

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
exec .cache/bin/benchrep -ferry "${BENCHREP_FERRY_BIN:-bin/ferry}"
