#!/usr/bin/env bash
# bench_merge.sh: what --merge-key costs. The benchmark CSV (integration/
# benchgen, BENCH_ROWS rows, unique ids) is loaded from MinIO by bin/ferry
# four ways, alternating, BENCH_RUNS times each, every load timed by
# integration/benchtime (ferry's CPU, its PostgreSQL backends' CPU):
#
#   append      into a table without index (ferry's usual load)
#   append+pk   into a table whose id is the primary key
#   merge-new   --merge-key id into an empty table (every record inserted)
#   merge-upd   --merge-key id again, the table full (every record updates)
#
# and prints the medians and each one's ratio to append (CPU sum).
# Run: integration/services.sh run integration/bench_merge.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ROWS=${BENCH_ROWS:-1000000}
RUNS=${BENCH_RUNS:-3}
DB=${FERRY_TEST_DATABASE_URL:?run under integration/services.sh}
SCHEMA=benchmerge_$$
DDL='(id bigint, ts timestamptz, user_id int, event text, amount double precision, ok boolean, note text)'
DATA=.cache/bench/events-v1-$ROWS.csv
log() { echo "bench_merge: $*" >&2; }
psqlq() { psql "$DB" -X -q -v ON_ERROR_STOP=1 "$@"; }

mkdir -p .cache/bin .cache/bench
go build -o bin/ferry ./cmd/ferry
go build -o .cache/bin/benchgen ./integration/benchgen
go build -o .cache/bin/benchtime ./integration/benchtime
[[ -s $DATA ]] || .cache/bin/benchgen -rows "$ROWS" -out "$DATA"
.cache/bin/benchgen -upload -file "$DATA" -bucket ferry-bench-merge -key csv/events.csv
psqlq -c "CREATE SCHEMA $SCHEMA"
trap 'psqlq -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; DELETE FROM ferry.files WHERE pipeline LIKE '"'"'$SCHEMA%'"'"'" >/dev/null 2>&1 || true' EXIT

declare -A CPU=() BCPU=()
load() { # load NAME TABLE PIPELINE [FLAGS...]
	local name=$1 t=$2 p=$3
	shift 3
	psqlq -c CHECKPOINT >/dev/null 2>&1 || true
	.cache/bin/benchtime -db "$DB" -out /tmp/bench_merge.$$ -- bin/ferry snapshot --source s3://ferry-bench-merge/csv/ --s3-path-style \
		--target "$DB" --table "$SCHEMA.$t" --pipeline "$p" --progress none --log-level warn "$@" >/dev/null
	local c b
	c=$(sed -n 's/^cpu_s=//p' /tmp/bench_merge.$$)
	b=$(sed -n 's/^backend_cpu_s=//p' /tmp/bench_merge.$$)
	CPU[$name]+="$c " BCPU[$name]+="$b "
	log "$(printf '%-10s client CPU %6.3f s  backend CPU %6.3f s  wall %s s' "$name" "$c" "$b" "$(sed -n 's/^wall_s=//p' /tmp/bench_merge.$$)")"
	[[ $(psql "$DB" -X -At -c "SELECT count(*) FROM $SCHEMA.$t") == "$ROWS" ]] || { log "$name: wrong row count"; exit 1; }
}
for ((run = 1; run <= RUNS; run++)); do
	psqlq -c "DROP TABLE IF EXISTS $SCHEMA.a, $SCHEMA.k, $SCHEMA.m; CREATE TABLE $SCHEMA.a $DDL; CREATE TABLE $SCHEMA.k $DDL; ALTER TABLE $SCHEMA.k ADD PRIMARY KEY (id); CREATE TABLE $SCHEMA.m $DDL; ALTER TABLE $SCHEMA.m ADD PRIMARY KEY (id)" >/dev/null
	order=(a k m)
	((run % 2 == 0)) && order=(m k a)
	for o in "${order[@]}"; do
		case $o in
		a) load append a "${SCHEMA}_a$run" ;;
		k) load append+pk k "${SCHEMA}_k$run" ;;
		m)
			load merge-new m "${SCHEMA}_m$run" --merge-key id
			load merge-upd m "${SCHEMA}_u$run" --merge-key id
			;;
		esac
	done
done
rm -f /tmp/bench_merge.$$
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
base=$(awk -v a="$(median "${CPU[append]}")" -v b="$(median "${BCPU[append]}")" 'BEGIN { print a + b }')
echo "bench_merge: $ROWS rows, $RUNS runs, medians (CPU seconds); ratio = (client + backend) / append's"
printf '%-10s %9s %10s %8s %6s\n' load "client s" "backend s" "sum s" ratio
for n in append append+pk merge-new merge-upd; do
	c=$(median "${CPU[$n]}") b=$(median "${BCPU[$n]}")
	printf '%-10s %9.3f %10.3f %8.3f %6.2f\n' "$n" "$c" "$b" "$(awk -v a="$c" -v b="$b" 'BEGIN { print a + b }')" "$(awk -v a="$c" -v b="$b" -v s="$base" 'BEGIN { print (a + b) / s }')"
done
