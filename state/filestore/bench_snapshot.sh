#!/usr/bin/env bash
# bench_snapshot.sh [BEFORE_REV] — end-to-end cost of the .ferry directory
# state: `ferry snapshot` of N one-row CSV files from a local directory into
# a JSON lines file, state in .ferry (the default), with ferry built at
# BEFORE_REV (default main) and at the working tree, alternating, median of
# RUNS. Prints every run, then the medians and after/before.
#
#   N="2000 4000" RUNS=3 state/filestore/bench_snapshot.sh main
#
# Everything lives in a fresh temporary directory (removed at exit), so
# runs in parallel with other work do not share binaries or outputs. The
# machine may be noisy: compare the two side by side, in one run.
set -euo pipefail
before_rev=${1:-main}
sizes=${N:-2000 4000}
runs=${RUNS:-3}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-state.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir "$work/before-src"
git -C "$root" archive "$before_rev" | tar -x -C "$work/before-src"
(cd "$work/before-src" && go build -o "$work/ferry-before" ./cmd/ferry)
(cd "$root" && go build -o "$work/ferry-after" ./cmd/ferry)

for n in $sizes; do
	mkdir "$work/in$n"
	for i in $(seq -w 1 "$n"); do
		printf 'id,name\n%s,row%s\n' "$i" "$i" >"$work/in$n/f$i.csv"
	done
done

times=$work/times
: >"$times"
for run in $(seq 1 "$runs"); do
	for n in $sizes; do
		for bin in before after; do
			cwd=$(mktemp -d "$work/cwd.XXXXXX")
			t0=$(date +%s.%N)
			(cd "$cwd" && "$work/ferry-$bin" snapshot --source "$work/in$n" --target "file:$cwd/out.jsonl" >/dev/null 2>"$cwd/err") ||
				{ echo "$bin $n failed:" >&2; cat "$cwd/err" >&2; exit 1; }
			t1=$(date +%s.%N)
			rows=$(wc -l <"$cwd/out.jsonl")
			echo "run $run $bin files=$n $(echo "$t1 - $t0" | bc) s rows=$rows" | tee -a "$times"
			rm -rf "$cwd"
		done
	done
done
for n in $sizes; do
	median() { awk -v b="$1" -v n="files=$n" '$3 == b && $4 == n { print $5 }' "$times" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
	b=$(median before)
	a=$(median after)
	echo "files=$n median before ${b} s, after ${a} s, after/before $(echo "scale=3; $a / $b" | bc)"
done
