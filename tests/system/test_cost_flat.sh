#!/bin/sh
# test_cost_flat.sh - rule 9 of the engine: the cost of an operation does not
# grow with the number of live blocks.
#
# The cost is counted, not timed: callgrind counts the instructions of the
# steady loop of tests/system/cost_driver.c (random free + alloc pairs, setup
# excluded) at 10^3 .. 10^7 live 64 B blocks, and at 10^3 .. 10^6 live blocks
# of 16..512 B replaced by plain, aligned and zeroed allocations and by
# reallocs.  For each workload the largest count per pair must be within
# 1.5 times the smallest.  An operation that walked all blocks, or a list
# growing with them, would multiply its count by 10 at each step.  What the
# count cannot see, the caches and the TLB, is measured by `make bench` and
# recorded in docs/PERFORMANCE.md.  Needs valgrind (`make deps`).
set -eu

cd "$(dirname "$0")/../.."
b=${POOLMGR_BUILD:-build}
driver=$b/tests/cost_driver
pairs=20000
limit=1.5
run_limit=600	# seconds per run; 10^7 blocks take about 50 here
tmp=$(mktemp -d /tmp/poolmgr-cost.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# To stderr: per_pair runs in a command substitution, which keeps stdout.
fail() {
	printf '\ntest_cost_flat: FAIL: %s\n' "$*" >&2
	exit 1
}

command -v valgrind >/dev/null 2>&1 ||
	fail "valgrind not found (run 'make deps', or apt-get install valgrind)"
[ -x "$driver" ] || fail "$driver not built"

# Instructions per pair of one workload at one number of live blocks.
per_pair() {
	out=$tmp/cg.$1.$2
	rc=0
	timeout "$run_limit" valgrind --tool=callgrind \
		--callgrind-out-file="$out" --toggle-collect=steady_loop \
		"$driver" "$1" "$2" "$pairs" > "$tmp/log" 2>&1 || rc=$?
	[ "$rc" -ne 124 ] || fail "$1 at $2 live blocks took over" \
		"$run_limit s under callgrind: setup and teardown cost grows" \
		"with the number of blocks (or the machine is very slow)"
	[ "$rc" -eq 0 ] ||
		fail "$driver $1 $2 $pairs failed: $(tail -n 3 "$tmp/log")"
	total=$(sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$out" |
		head -n 1)
	[ -n "$total" ] || fail "no instruction count in $out"
	echo "$total $pairs" | awk '{ printf "%.1f", $1 / $2 }'
}

status=0
for work in "fixed 1000 10000 100000 1000000 10000000" \
	    "mixed 1000 10000 100000 1000000" \
	    "varied 1000 10000 100000 1000000"; do
	set -- $work
	name=$1
	shift
	min= max=
	printf '%s:' "$name"
	for live in "$@"; do
		c=$(per_pair "$name" "$live")
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
done
[ "$status" -eq 0 ] && echo "test_cost_flat: ok: instructions per pair" \
			    "flat within $limit times"
exit "$status"
