#!/usr/bin/env bash
# bench_replicate.sh — benchmark `ferry replicate` against MinIO and
# PostgreSQL: latency from upload to visible row, files per second for many
# small files, and peak RSS and speed for one big file. The measuring is done
# by integration/benchrep (see its doc comment for the details).
#
# Run it under services.sh, which provides MinIO and PostgreSQL:
#
#   integration/services.sh run integration/bench_replicate.sh   (or: make bench-replicate)
#
# Environment:
#   BENCHREP_PARTS=latency,files,big  parts to run (default all)
#   BENCHREP_LATENCY_FILES=200        files uploaded one at a time (part 1)
#   BENCHREP_FILES=10000              4 KiB files (part 2)
#   BENCHREP_WORKERS=2,8              --workers values tried in part 2
#   BENCHREP_BIG_MB=2048              size in MiB of the big file (part 3);
#                                     needs that much free space in TMPDIR
#   BENCHREP_KEEP=1                   keep the buckets, tables and ferry.files
#                                     rows (default: removed after each part)
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

log "building bin/ferry"
go build -o bin/ferry ./cmd/ferry
mkdir -p .cache/bin
log "building benchrep"
go build -o .cache/bin/benchrep ./integration/benchrep

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $rev != unknown && -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	rev+=" (with uncommitted changes)"
fi
echo "ferry $rev"
exec .cache/bin/benchrep -ferry bin/ferry
