#!/bin/sh
# test_cost_flat.sh - rule 9 of the engine: the cost of an operation does not
# grow with the number of live blocks.
#
# The cost is counted, not timed: callgrind counts the instructions of the
# steady loop of tests/system/cost_driver.c (random free + alloc pairs; setup
# excluded, and not even instrumented: the driver turns callgrind's
# instrumentation on around the loop) at 10^3 .. 10^7 live 64 B blocks, and
# at 10^3 .. 10^6 live blocks of 16..512 B replaced by plain, aligned and
# zeroed allocations and by reallocs, or freed and made again where they
# were by heap_reserve (the daemon's rebuild of a heap after a restart in
# place).  For each workload the largest count per pair must be within 1.5
# times the smallest.  An operation that walked all blocks, or a list
# growing with them, would multiply its count by 10 at each step.  What the
# count cannot see, the caches and the TLB, is measured by `make bench` and
# recorded in docs/PERFORMANCE.md.  Needs valgrind (`make test-deps`).
set -eu

cd "$(dirname "$0")/../.."
b=${POOLMGR_BUILD:-build}
driver=$b/tests/cost_driver
pairs=20000
limit=1.5
run_limit=600	# seconds per run; 10^7 blocks take about 50 here
if [ -n "${POOLMGR_COST_TMP:-}" ]; then
	tmp=$POOLMGR_COST_TMP	# a cell run by the parent below
else
	tmp=$(mktemp -d /tmp/poolmgr-cost.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
fi

# To stderr: per_pair runs in a command substitution, which keeps stdout.
fail() {
	printf '\ntest_cost_flat: FAIL: %s\n' "$*" >&2
	exit 1
}

command -v valgrind >/dev/null 2>&1 ||
	fail "valgrind not found (run 'make test-deps', or apt-get install valgrind)"
[ -x "$driver" ] || fail "$driver not built"

# Instructions per pair of one workload at one number of live blocks.
per_pair() {
	out=$tmp/cg.$1.$2
	rc=0
	timeout "$run_limit" valgrind --tool=callgrind --instr-atstart=no \
		--callgrind-out-file="$out" --toggle-collect=steady_loop \
		"$driver" "$1" "$2" "$pairs" > "$tmp/log.$1.$2" 2>&1 || rc=$?
	[ "$rc" -ne 124 ] || fail "$1 at $2 live blocks took over" \
		"$run_limit s under callgrind: setup and teardown cost grows" \
		"with the number of blocks (or the machine is very slow)"
	[ "$rc" -eq 0 ] ||
		fail "$driver $1 $2 $pairs failed: $(tail -n 3 "$tmp/log.$1.$2")"
	# totals: summary reads 0 when instrumentation starts late.
	total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out" | head -n 1)
	[ -n "$total" ] || fail "no instruction count in $out"
	echo "$total $pairs" | awk '{ printf "%.1f", $1 / $2 }'
}

works="fixed 1000 10000 100000 1000000 10000000
mixed 1000 10000 100000 1000000
varied 1000 10000 100000 1000000
restore 1000 10000 100000 1000000"

# One cell: its count into $tmp/cell.NAME.LIVE, or its failure into
# $tmp/fail.NAME.LIVE.  The cells are independent and callgrind counts the
# same alone or beside another, so they run as many at a time as there are
# CPUs (at most 4): the 10^7 cell alone takes most of a minute, so the
# largest start first and the small ones fill the other CPUs meanwhile.
if [ "${1:-}" = --cell ]; then
	c=$( (per_pair "$2" "$3") 2> "$tmp/fail.$2.$3") && echo "$c" > "$tmp/cell.$2.$3"
	exit 0
fi
jobs=$(nproc 2>/dev/null || echo 1)
[ "$jobs" -le 4 ] || jobs=4
echo "$works" | while read -r name lives; do
	for live in $lives; do
		echo "$name $live"
	done
done | sort -s -k2,2nr |
	POOLMGR_COST_TMP=$tmp xargs -P "$jobs" -n 2 sh "$0" --cell

status=0
while read -r name lives; do
	min= max=
	printf '%s:' "$name"
	for live in $lives; do
		[ -s "$tmp/cell.$name.$live" ] || {
			echo
			cat "$tmp/fail.$name.$live" >&2
			fail "$name at $live live blocks: no count"
		}
		c=$(cat "$tmp/cell.$name.$live")
		printf ' %s live %s instr/pair;' "$live" "$c"
		min=$(echo "$c ${min:-$c}" | awk '{ print ($1 < $2) ? $1 : $2 }')
		max=$(echo "$c ${max:-$c}" | awk '{ print ($1 > $2) ? $1 : $2 }')
	done
	ratio=$(echo "$max $min" | awk '{ printf "%.3f", $1 / $2 }')
	echo " largest/smallest $ratio"
	if echo "$ratio $limit" | awk '{ exit !($1 > $2) }'; then
		echo "test_cost_flat: FAIL: $name: cost grows $ratio times" \
		     "(limit $limit)"
		status=1
	fi
done <<EOF_WORKS
$works
EOF_WORKS
[ "$status" -eq 0 ] && echo "test_cost_flat: ok: instructions per pair" \
			    "flat within $limit times"
exit "$status"
