#!/bin/sh
# bench_instr.sh - instructions per operation of bench_engine's steady loops,
# the engine beside glibc, jemalloc and mimalloc, counted by callgrind.
#
# Timings on a shared machine move by 10 % from run to run; instruction
# counts do not move at all, so a change to the engine shows here exactly
# (docs/PERFORMANCE.md quotes this table).  Each cell is one run of
# `bench_engine --quick --count W A` under callgrind with collection off
# until the steady loop starts: the setup, the final frees and the process
# around them are not counted; the benchmark's own work in the loop (its
# PRNG, the calls through its allocator table, and for the yardsticks the
# byte it writes into every block) is, for every allocator alike.
# (d) counts per realloc, the others per alloc+free pair.  Needs valgrind.
#
# Usage: tests/bench/bench_instr.sh [workloads]   (default: a b c d e)
set -eu

b=${POOLMGR_BUILD:-build}
bin=$b/bench/bench_engine
works=${*:-a b c d e}
allocs="poolmgr glibc jemalloc mimalloc"

command -v valgrind >/dev/null 2>&1 || {
	echo "bench_instr: valgrind not found (make bench-deps installs it)" >&2
	exit 2
}
[ -x "$bin" ] || {
	echo "bench_instr: $bin not built (make bench builds it)" >&2
	exit 2
}
tmp=$(mktemp -d /tmp/poolmgr-instr.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# jemalloc needs static TLS room when loaded with dlopen; bench_engine would
# start itself again to get it, which callgrind would not follow.
GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.rtld.optional_static_tls=16384
export GLIBC_TUNABLES

# Instructions per operation of one cell, or n/a.
count() {
	out=$tmp/cg.$1.$2
	if ! valgrind --tool=callgrind --collect-atstart=no \
		--callgrind-out-file="$out" "$bin" --quick --count "$1" "$2" \
		> "$tmp/stdout" 2> "$tmp/stderr"; then
		echo "n/a"
		return
	fi
	ops=$(awk -F '\t' '$1 == "count" { print $4 }' "$tmp/stdout")
	total=$(sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$out" |
		head -n 1)
	if [ -z "$ops" ] || [ -z "$total" ] || [ "$ops" -eq 0 ]; then
		echo "n/a"
		return
	fi
	echo "$total $ops" | awk '{ printf "%.1f", $1 / $2 }'
}

label() {
	case $1 in
	a) echo "(a) uniform 16-512" ;;
	b) echo "(b) mixed 16B-64KiB" ;;
	c) echo "(c) tree 64/448" ;;
	d) echo "(d) growing realloc" ;;
	e) echo "(e) 1e6 live 64B" ;;
	esac
}

echo "Instructions per pair ((d): per realloc), callgrind, steady loop only"
echo "(bench_engine --quick sizes, seed 42); lower is better"
printf '%-24s %10s %10s %10s %10s %14s\n' workload poolmgr glibc \
	jemalloc mimalloc "poolmgr/glibc"
for w in $works; do
	case $w in
	a | b | c | d | e) ;;
	*)
		echo "bench_instr: no workload $w (a-e)" >&2
		exit 2
		;;
	esac
	line=$(printf '%-24s' "$(label "$w")")
	for a in $allocs; do
		n=$(count "$w" "$a")
		eval "n_$a=\$n"
		line=$(printf '%s %10s' "$line" "$n")
	done
	ratio=$(echo "$n_poolmgr $n_glibc" |
		awk '$1 + 0 > 0 && $2 + 0 > 0 { printf "%.2fx", $1 / $2; next }
		     { print "n/a" }')
	printf '%s %14s\n' "$line" "$ratio"
done
echo "  poolmgr never touches pool memory and its realloc copies nothing; the"
echo "  others write a byte into every block and copy on realloc."
