#!/usr/bin/env bash
# bench.sh — time whole ferry snapshots against `psql \copy` of the same rows
# into the same table, per input format, and print the ratios with the CPU
# each side used (DESIGN.md, "Quality bar").
#
# Run it under services.sh, which provides MinIO and PostgreSQL:
#
#   integration/services.sh run integration/bench.sh      (or: make bench)
#
# For each run and each format, the loaders take turns (psql, ferry[, ferry2];
# the order is reversed every other run), each into a fresh table, with a
# CHECKPOINT before each timed load. Each load is timed by benchtime
# (integration/benchtime), which also reports the loader's CPU seconds
# (user+sys, the kernel's rusage) and peak RSS (VmHWM), the CPU seconds of
# the PostgreSQL backends serving its connections (found in pg_stat_activity
# by client port while it runs, read from /proc/PID/stat; all of ferry's
# connections summed), and how much of the machine's CPU stayed idle. Wall
# time close to the larger of client and backend CPU means they overlap;
# close to their sum, they take turns.
#
# Formats and their psql baselines (the same rows in every format):
#   csv     ferry loads events.csv from MinIO;    psql \copy FROM the local events.csv
#   csv.gz  ferry loads events.csv.gz from MinIO; psql \copy FROM PROGRAM 'gzip -dc events.csv.gz'
#           (gzip's CPU counts as psql's: psql waits for it)
#   jsonl   ferry loads events.jsonl from MinIO;  psql \copy FROM the local events.csv
#           (psql has no JSON-lines loader: its fastest load of the same rows)
#
# Environment:
#   BENCH_ROWS=2000000    rows in the generated files (about 68 bytes a CSV row)
#   BENCH_RUNS=3          timed runs of each loader per format (the median is
#                         reported)
#   BENCH_FORMATS=csv,csv.gz,jsonl   formats to time (default all three)
#   BENCH_ONLY=psql|ferry time only psql or only ferry (both variants)
#   BENCH_FERRY_BIN=PATH  time that ferry binary instead of building bin/ferry
#   BENCH_FERRY_ARGS="--parse-workers 1"  extra flags for ferry
#   BENCH_FERRY_BIN2=PATH, BENCH_FERRY_ARGS2="..."
#                         when either is set, a second ferry ("ferry2": that
#                         binary, default the first; those flags, default
#                         BENCH_FERRY_ARGS) takes its turn in every run
#                         against the same psql baseline, to compare two
#                         builds or two settings in one go
#   BENCH_DDL="(id bigint PRIMARY KEY, ...)"  the tables' columns (default
#                         the seven columns above, no index); e.g. a primary
#                         key to time --merge-key against appending
#   BENCH_PPROF=PREFIX    ferry writes a CPU profile to PREFIX.LOADER.FORMAT
#                         (e.g. PREFIX.ferry.csv; the last run's stays)
#   BENCH_VERIFY=1        after the runs, check (untimed) that every ferry
#                         table holds exactly the rows of psql's; 0 skips it
#   FERRY_TEST_DATABASE_URL, FERRY_TEST_S3_ENDPOINT, AWS_*  (from services.sh)
#
# The files are generated once per row count into .cache/bench/ and uploaded
# to s3://ferry-bench/FORMAT/ on every run (MinIO starts empty). Tables live
# in a schema of their own, bench_<pid>, dropped at exit, and ferry's state
# under pipelines named after its tables (their ferry.files rows deleted
# before each ferry run and at exit), so runs on a shared server do not
# collide.
# Everything but the final summary goes to stderr with a "bench:" prefix.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ROWS=${BENCH_ROWS:-2000000}
RUNS=${BENCH_RUNS:-3}
ONLY=${BENCH_ONLY:-}
FORMATS=${BENCH_FORMATS:-csv,csv.gz,jsonl}
BUCKET=ferry-bench
GEN_VERSION=v1 # bump when benchgen's output changes, to regenerate cached files
DATA=$ROOT/.cache/bench/events-$GEN_VERSION-$ROWS
DDL=${BENCH_DDL:-'(id bigint, ts timestamptz, user_id int, event text, amount double precision, ok boolean, note text)'}
SCHEMA=bench_$$

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
# median and maxof take one argument: numbers separated by spaces.
median() { tr -s ' ' '\n' <<<"${1% }" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof() { tr -s ' ' '\n' <<<"${1% }" | sort -g | tail -n 1; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROWS must be a positive integer, got ${ROWS@Q}"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, got ${RUNS@Q}"
case $ONLY in "" | psql | ferry) ;; *) die "BENCH_ONLY must be psql or ferry, got ${ONLY@Q}" ;; esac
IFS=, read -r -a FMTS <<<"${FORMATS// /}"
((${#FMTS[@]})) || die "BENCH_FORMATS names no format"
for f in "${FMTS[@]}"; do
	case $f in csv | csv.gz | jsonl) ;; *) die "BENCH_FORMATS: unknown format ${f@Q} (want a comma-separated list of csv, csv.gz, jsonl)" ;; esac
done
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

# The loaders, in the order of odd runs. LBIN and LARGS are ferry's.
LOADERS=()
declare -A LBIN=() LARGS=()
[[ $ONLY == ferry ]] || LOADERS+=(psql)
if [[ $ONLY != psql ]]; then
	[[ -n ${FERRY_TEST_S3_ENDPOINT:-} ]] || die "FERRY_TEST_S3_ENDPOINT is not set; run: integration/services.sh run $0"
	if [[ -n ${BENCH_FERRY_BIN:-} ]]; then
		log "using ferry binary $BENCH_FERRY_BIN"
	else
		log "building bin/ferry"
		go build -o bin/ferry ./cmd/ferry
	fi
	LOADERS+=(ferry)
	LBIN[ferry]=${BENCH_FERRY_BIN:-bin/ferry}
	LARGS[ferry]=${BENCH_FERRY_ARGS:-}
	if [[ -n ${BENCH_FERRY_BIN2:-} || -n ${BENCH_FERRY_ARGS2:-} ]]; then
		LOADERS+=(ferry2)
		LBIN[ferry2]=${BENCH_FERRY_BIN2:-${LBIN[ferry]}}
		LARGS[ferry2]=${BENCH_FERRY_ARGS2:-${LARGS[ferry]}}
	fi
	for l in ferry ferry2; do
		[[ -n ${LBIN[$l]:-} ]] || continue
		[[ -x ${LBIN[$l]} ]] || die "$l: no executable at ${LBIN[$l]}"
		log "$l: ${LBIN[$l]} ${LARGS[$l]}"
	done
fi

mkdir -p .cache/bench .cache/bin
log "building benchgen and benchtime"
go build -o .cache/bin/benchgen ./integration/benchgen
go build -o .cache/bin/benchtime ./integration/benchtime

# The local files: psql loads the CSV (or the gzipped CSV); ferry loads the
# file of its format from MinIO.
need_gz=
need_jsonl=
for f in "${FMTS[@]}"; do
	case $f in csv.gz) need_gz=1 ;; jsonl) [[ $ONLY == psql ]] || need_jsonl=1 ;; esac
done
if [[ -s $DATA.csv ]]; then
	log "using cached ${DATA#"$ROOT"/}.csv"
else
	log "generating ${DATA#"$ROOT"/}.csv ($ROWS rows)"
	.cache/bin/benchgen -rows "$ROWS" -out "$DATA.csv"
fi
if [[ -n $need_gz ]]; then
	if [[ -s $DATA.csv.gz ]]; then
		log "using cached ${DATA#"$ROOT"/}.csv.gz"
	else
		log "compressing ${DATA#"$ROOT"/}.csv.gz (gzip -6)"
		gzip -6 -c "$DATA.csv" >"$DATA.csv.gz.tmp"
		mv "$DATA.csv.gz.tmp" "$DATA.csv.gz"
	fi
fi
if [[ -n $need_jsonl ]]; then
	if [[ -s $DATA.jsonl ]]; then
		log "using cached ${DATA#"$ROOT"/}.jsonl"
	else
		log "generating ${DATA#"$ROOT"/}.jsonl ($ROWS rows)"
		.cache/bin/benchgen -rows "$ROWS" -format jsonl -out "$DATA.jsonl"
	fi
fi
declare -A SIZE=()
for f in "${FMTS[@]}"; do
	if [[ $ONLY == psql && $f == jsonl ]]; then
		SIZE[$f]=$(stat -c %s "$DATA.csv")
		continue
	fi
	SIZE[$f]=$(stat -c %s "$DATA.$f")
	if [[ $ONLY != psql ]]; then
		.cache/bin/benchgen -upload -file "$DATA.$f" -bucket "$BUCKET" -key "$f/events.$f"
	fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
cleanup() {
	run_psql -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
	run_psql -c "DELETE FROM ferry.files WHERE starts_with(pipeline, '$SCHEMA.')" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
run_psql -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA" >/dev/null

# ----------------------------------------------------------------- the runs

# Per "FORMAT LOADER": space-separated figures, one per run.
declare -A WALL=() CPU=() BCPU=() RSS=() IDLE=()

# tname FORMAT LOADER: the loader's table for the format.
tname() { printf '%s.%s_%s' "$SCHEMA" "$2" "${1//./_}"; }

# timed FORMAT LOADER CMD...: runs CMD under benchtime and records its
# figures.
timed() {
	local f=$1 l=$2 rc=0
	shift 2
	.cache/bin/benchtime -db "$DB" -out "$TMP/m.txt" -- "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	if ((rc != 0)); then
		log "$l ($f) failed with status $rc; its output:"
		sed 's/^/bench:   | /' "$TMP/out" "$TMP/err" >&2
		exit 1
	fi
	[[ ! -s $TMP/err ]] || sed "s/^/bench: $l: /" "$TMP/err" >&2
	local wall cpu bcpu nb rss idle
	wall=$(sed -n 's/^wall_s=//p' "$TMP/m.txt")
	cpu=$(sed -n 's/^cpu_s=//p' "$TMP/m.txt")
	bcpu=$(sed -n 's/^backend_cpu_s=//p' "$TMP/m.txt")
	nb=$(sed -n 's/^backends=//p' "$TMP/m.txt")
	rss=$(sed -n 's/^maxrss_kib=//p' "$TMP/m.txt")
	idle=$(sed -n 's/^idle_pct=//p' "$TMP/m.txt")
	local k="$f $l"
	WALL[$k]+="$wall "
	CPU[$k]+="$cpu "
	BCPU[$k]+="$bcpu "
	RSS[$k]+="$rss "
	IDLE[$k]+="$idle "
	log "$(printf 'run %d %-6s %-6s wall %6.3f s  client CPU %6.3f s  backend CPU %6.3f s (%d backend(s))  peak RSS %6.1f MiB  machine idle %s%%' \
		"$run" "$f" "$l" "$wall" "$cpu" "$bcpu" "$nb" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$idle")"
	((nb > 0)) || log "warning: found no backend of $l ($f): backend CPU is missing"
}

load_psql() {
	local f=$1 t n src
	t=$(tname "$f" psql)
	recreate "$t"
	case $f in
	csv.gz) src="PROGRAM 'gzip -dc $DATA.csv.gz'" ;;
	*) src="'$DATA.csv'" ;;
	esac
	timed "$f" psql env PGOPTIONS='-c client_min_messages=warning' psql "$DB" -X -v ON_ERROR_STOP=1 -q \
		-c "\\copy $t FROM $src WITH (FORMAT csv, HEADER true)"
	n=$(count_rows "$t")
	[[ $n == "$ROWS" ]] || die "psql ($f) run $run: $t has $n rows, want $ROWS"
}

load_ferry() {
	local f=$1 l=$2 t n
	t=$(tname "$f" "$l")
	local -a cmd=("${LBIN[$l]}" snapshot --source "s3://$BUCKET/$f/" --s3-path-style
		--target "$DB" --table "$t" --pipeline "$t" --progress none --log-level warn)
	[[ -z ${BENCH_PPROF:-} ]] || cmd+=(--cpuprofile "$BENCH_PPROF.$l.$f")
	# shellcheck disable=SC2206 # word splitting wanted: extra flags
	[[ -z ${LARGS[$l]} ]] || cmd+=(${LARGS[$l]})
	run_psql -c "DELETE FROM ferry.files WHERE pipeline = '$t'" >/dev/null 2>&1 || true
	recreate "$t"
	timed "$f" "$l" "${cmd[@]}"
	n=$(count_rows "$t")
	[[ $n == "$ROWS" ]] || die "$l ($f) run $run: $t has $n rows, want $ROWS"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "$ROWS rows; formats ${FMTS[*]}; loaders ${LOADERS[*]}; $RUNS run(s); load average $LOAD_START"
for ((run = 1; run <= RUNS; run++)); do
	order=("${LOADERS[@]}")
	if ((run % 2 == 0)); then
		order=()
		for ((i = ${#LOADERS[@]} - 1; i >= 0; i--)); do order+=("${LOADERS[i]}"); done
	fi
	for f in "${FMTS[@]}"; do
		for l in "${order[@]}"; do
			if [[ $l == psql ]]; then load_psql "$f"; else load_ferry "$f" "$l"; fi
		done
	done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

if [[ -z $ONLY && ${BENCH_VERIFY:-1} != 0 ]]; then
	for f in "${FMTS[@]}"; do
		p=$(tname "$f" psql)
		for l in "${LOADERS[@]}"; do
			[[ $l != psql ]] || continue
			t=$(tname "$f" "$l")
			log "verifying that $t holds the rows of $p"
			diff=$(run_psql -At -c "select (select count(*) from (select * from $p except all select * from $t) a)
				+ (select count(*) from (select * from $t except all select * from $p) b)")
			[[ $diff == 0 ]] || die "$t and $p differ in $diff row(s); compare them: select * from $p except all select * from $t"
		done
	done
fi

# ------------------------------------------------------------------ summary

echo "bench: $ROWS rows, $RUNS run(s); load average at start and end: $LOAD_START / $LOAD_END"
for l in "${LOADERS[@]}"; do
	case $l in
	psql) echo "  psql:  psql \\copy of the local file (csv.gz: FROM PROGRAM 'gzip -dc'; jsonl: the CSV of the same rows)" ;;
	*) echo "  $l: ${LBIN[$l]} snapshot from MinIO${LARGS[$l]:+ ${LARGS[$l]}}" ;;
	esac
done
echo "  medians over the runs; client = the loader process's CPU (user+sys), backend = its PostgreSQL backends' CPU (sum); RSS = the largest peak"
printf '%-7s %-6s %9s %8s %9s %9s %9s %9s %9s %6s\n' format loader "wall s" ratio "client s" "backend s" "sum s" "max s" "RSS MiB" "idle %"
for f in "${FMTS[@]}"; do
	p_wall=
	[[ -z ${WALL["$f psql"]:-} ]] || p_wall=$(median "${WALL["$f psql"]}")
	for l in "${LOADERS[@]}"; do
		k="$f $l"
		wall=$(median "${WALL[$k]}")
		cpu=$(median "${CPU[$k]}")
		bcpu=$(median "${BCPU[$k]}")
		rss=$(maxof "${RSS[$k]}")
		idle=$(median "${IDLE[$k]}")
		ratio=-
		[[ $l == psql || -z $p_wall ]] || ratio=$(awk -v a="$wall" -v b="$p_wall" 'BEGIN { printf "%.2f", a / b }')
		printf '%-7s %-6s %9.3f %8s %9.3f %9.3f %9.3f %9.3f %9.1f %6.0f\n' "$f" "$l" "$wall" "$ratio" "$cpu" "$bcpu" \
			"$(awk -v a="$cpu" -v b="$bcpu" 'BEGIN { print a + b }')" \
			"$(awk -v a="$cpu" -v b="$bcpu" 'BEGIN { print (a > b ? a : b) }')" \
			"$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$idle"
	done
done
for f in "${FMTS[@]}"; do
	printf '  %s: %s MB; runs (wall s):' "$f" "$(mb "${SIZE[$f]}")"
	for l in "${LOADERS[@]}"; do printf ' %s %s;' "$l" "${WALL["$f $l"]% }"; done
	echo
done
echo "  ratio = loader wall / psql wall (goal: ferry <= 0.8); wall near 'max s' = client and server overlap, near 'sum s' = they take turns;"
echo "  idle % = the machine's CPU left idle during the load (low idle with wall far above 'sum s': other work shared the machine)"
