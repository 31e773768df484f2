#!/usr/bin/env bash
# bench.sh — time a whole ferry snapshot against `psql \copy` of the same CSV
# into the same table, and print the ratio (DESIGN.md, "Quality bar").
#
# Run it under services.sh, which provides MinIO and PostgreSQL:
#
#   integration/services.sh run integration/bench.sh      (or: make bench)
#
# Environment:
#   BENCH_ROWS=2000000   rows in the generated CSV (about 68 bytes a row)
#   BENCH_RUNS=3         timed runs of each loader (psql then ferry, per run)
#   BENCH_PPROF=FILE     pass --cpuprofile FILE to ferry (the last run's stays)
#   BENCH_ONLY=psql|ferry  time only one of the two
#   BENCH_FERRY_ARGS="--parse-workers 1"  extra ferry flags
#   BENCH_FERRY_BIN=PATH  time that ferry binary instead of building bin/ferry
#                        (to compare two builds side by side)
#   BENCH_VERIFY=1       after the runs, check (untimed) that bench_ferry holds
#                        exactly the rows of bench_psql; 0 skips it
#   FERRY_TEST_DATABASE_URL, FERRY_TEST_S3_ENDPOINT, AWS_*  (from services.sh)
#
# The CSV is generated once per row count into .cache/bench/ and uploaded to
# s3://ferry-bench/events/events.csv on every run (MinIO starts empty).
# Everything but the final summary goes to stderr with a "bench:" prefix.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ROWS=${BENCH_ROWS:-2000000}
RUNS=${BENCH_RUNS:-3}
ONLY=${BENCH_ONLY:-}
BUCKET=ferry-bench
KEY=events/events.csv
GEN_VERSION=v1 # bump when benchgen's output changes, to regenerate cached files
DATA=$ROOT/.cache/bench/events-$GEN_VERSION-$ROWS.csv
DDL='(id bigint, ts timestamptz, user_id int, event text, amount double precision, ok boolean, note text)'

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROWS must be a positive integer, got ${ROWS@Q}"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, got ${RUNS@Q}"
case $ONLY in "" | psql | ferry) ;; *) die "BENCH_ONLY must be psql or ferry, got ${ONLY@Q}" ;; esac
[[ -n ${FERRY_TEST_DATABASE_URL:-} ]] || die "FERRY_TEST_DATABASE_URL is not set; run: integration/services.sh run $0"
command -v psql >/dev/null || die "psql not found (apt-get install postgresql-client)"
DB=$FERRY_TEST_DATABASE_URL

run_psql() { PGOPTIONS='-c client_min_messages=warning' psql "$DB" -X -v ON_ERROR_STOP=1 -q "$@"; }
count_rows() { run_psql -At -c "select count(*) from $1"; }

# recreate TABLE: a fresh, empty table, and a checkpoint so that the previous
# load's dirty pages are not flushed during the next timed load.
recreate() {
	run_psql -c "DROP TABLE IF EXISTS $1; CREATE TABLE $1 $DDL" >/dev/null
	run_psql -c 'CHECKPOINT' >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- preparation

TIME_V=
if [[ $ONLY != psql ]]; then
	[[ -n ${FERRY_TEST_S3_ENDPOINT:-} ]] || die "FERRY_TEST_S3_ENDPOINT is not set; run: integration/services.sh run $0"
	if [[ -n ${BENCH_FERRY_BIN:-} ]]; then
		log "using ferry binary $BENCH_FERRY_BIN"
	else
		log "building bin/ferry"
		go build -o bin/ferry ./cmd/ferry
	fi
	if [[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
		TIME_V=/usr/bin/time
	else
		log "warning: GNU /usr/bin/time not found (apt-get install time); ferry's peak RSS will not be measured"
	fi
fi

mkdir -p .cache/bench .cache/bin
log "building benchgen"
go build -o .cache/bin/benchgen ./integration/benchgen
if [[ -s $DATA ]]; then
	log "using cached ${DATA#"$ROOT"/}"
else
	log "generating ${DATA#"$ROOT"/} ($ROWS rows)"
	.cache/bin/benchgen -rows "$ROWS" -out "$DATA"
fi
SIZE=$(stat -c %s "$DATA")
if [[ $ONLY != psql ]]; then
	.cache/bin/benchgen -upload -file "$DATA" -bucket "$BUCKET" -key "$KEY"
fi
log "$ROWS rows, $SIZE bytes ($(awk -v s="$SIZE" 'BEGIN { printf "%.1f", s / 1e6 }') MB)"

# ----------------------------------------------------------------- the runs

declare -a PSQL_T=() FERRY_T=() FERRY_RSS=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

bench_psql() {
	local run=$1 t0 t1 n
	recreate bench_psql
	t0=$(now)
	run_psql -c "\\copy bench_psql FROM '$DATA' WITH (FORMAT csv, HEADER true)" >/dev/null
	t1=$(now)
	n=$(count_rows bench_psql)
	[[ $n == "$ROWS" ]] || die "psql run $run: bench_psql has $n rows, want $ROWS"
	PSQL_T+=("$(elapsed "$t0" "$t1")")
	log "run $run: psql  \\copy  ${PSQL_T[-1]} s"
}

bench_ferry() {
	local run=$1 t0 t1 n rc=0 rss=
	local -a cmd=("${BENCH_FERRY_BIN:-bin/ferry}" snapshot --source "s3://$BUCKET/${KEY%/*}/" --s3-path-style
		--target "$DB" --table bench_ferry --log-level warn)
	[[ -z ${BENCH_PPROF:-} ]] || cmd+=(--cpuprofile "$BENCH_PPROF")
	# shellcheck disable=SC2206 # word splitting wanted: extra flags
	[[ -z ${BENCH_FERRY_ARGS:-} ]] || cmd+=($BENCH_FERRY_ARGS)
	recreate bench_ferry
	run_psql -c 'DROP SCHEMA IF EXISTS ferry CASCADE' >/dev/null
	if [[ -n $TIME_V ]]; then
		cmd=("$TIME_V" -v -o "$TMP/time.txt" "${cmd[@]}")
	fi
	t0=$(now)
	"${cmd[@]}" >"$TMP/ferry.out" 2>"$TMP/ferry.err" || rc=$?
	t1=$(now)
	if ((rc != 0)); then
		log "ferry run $run failed with status $rc; its output:"
		sed 's/^/bench:   | /' "$TMP/ferry.out" "$TMP/ferry.err" >&2
		[[ ! -s $TMP/time.txt ]] || sed 's/^/bench:   | /' "$TMP/time.txt" >&2
		exit 1
	fi
	[[ ! -s $TMP/ferry.err ]] || sed 's/^/bench: ferry: /' "$TMP/ferry.err" >&2
	n=$(count_rows bench_ferry)
	[[ $n == "$ROWS" ]] || die "ferry run $run: bench_ferry has $n rows, want $ROWS"
	FERRY_T+=("$(elapsed "$t0" "$t1")")
	if [[ -n $TIME_V ]]; then
		rss=$(awk -F': *' '/Maximum resident set size/ { print $2 }' "$TMP/time.txt")
		FERRY_RSS+=("$rss")
		log "run $run: ferry snapshot  ${FERRY_T[-1]} s  (peak RSS $(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }') MB)"
	else
		log "run $run: ferry snapshot  ${FERRY_T[-1]} s"
	fi
}

for ((run = 1; run <= RUNS; run++)); do
	[[ $ONLY == ferry ]] || bench_psql "$run"
	[[ $ONLY == psql ]] || bench_ferry "$run"
done

if [[ -z $ONLY && ${BENCH_VERIFY:-1} != 0 ]]; then
	log "verifying that bench_ferry and bench_psql hold the same rows"
	diff=$(run_psql -At -c 'select (select count(*) from (select * from bench_psql except all select * from bench_ferry) a)
		+ (select count(*) from (select * from bench_ferry except all select * from bench_psql) b)')
	[[ $diff == 0 ]] || die "bench_ferry and bench_psql differ in $diff row(s); compare them: select * from bench_psql except all select * from bench_ferry"
fi

# ------------------------------------------------------------------ summary

mb=$(awk -v s="$SIZE" 'BEGIN { printf "%.1f", s / 1e6 }')
echo "bench: $ROWS rows, $mb MB CSV, $RUNS run(s)"
if ((${#PSQL_T[@]})); then
	echo "psql \\copy (local file)  runs: ${PSQL_T[*]}  median: $(median "${PSQL_T[@]}") s"
fi
if ((${#FERRY_T[@]})); then
	echo "ferry snapshot (MinIO)    runs: ${FERRY_T[*]}  median: $(median "${FERRY_T[@]}") s"
	if ((${#FERRY_RSS[@]})); then
		max_rss=$(printf '%s\n' "${FERRY_RSS[@]}" | sort -g | tail -n 1)
		echo "ferry peak RSS: $(awk -v k="$max_rss" 'BEGIN { printf "%.1f", k / 1024 }') MB"
	fi
fi
if ((${#PSQL_T[@]} && ${#FERRY_T[@]})); then
	echo "ratio ferry/psql: $(awk -v f="$(median "${FERRY_T[@]}")" -v p="$(median "${PSQL_T[@]}")" 'BEGIN { printf "%.2f", f / p }')"
fi
