#!/bin/sh
# Sum the results files written by tests/run.sh and print the slowest
# programs ($TEST_SLOWEST of them, default 8) and, with -p, the phases
# timed by `make test` ("PHASE wall user sys" lines), then the closing
# line, last.
# A missing file (the build failed before any test ran) counts as a failure.
# Usage: tests/summary.sh [-p PHASES] RESULTS...
slowest=${TEST_SLOWEST:-8}
if [ "${1:-}" = -p ]; then
	phases=$2
	shift 2
	[ -f "$phases" ] && awk '
		NR == 1 { print "phases (wall s, CPU s):" }
		NF == 4 { printf "%8.1f %8.1f  %s\n", $2, $3 + $4, $1 }' "$phases"
fi
for f in "$@"; do
	if [ -f "$f" ]; then
		# The variant is where the results are: build/asan, build/tsan...
		awk -v d="$(dirname "$f")" '{ print $0, d }' "$f"
	else
		echo "build-of-$(dirname "$f") 0 1 0 0 $(dirname "$f")"
	fi
done | awk -v n="$slowest" '
	{
		p += $2; f += $3; if ($3 > 0) bad = bad " " $1
		wall += $4; cpu += $5
		line[NR] = sprintf("%8.1f %8.1f  %s (%s)", $4, $5, $1, $6)
		w[NR] = $4
	}
	END {
		# The n longest, by a selection: the lists are short.
		if (n > 0 && NR > 0)
			printf "slowest programs (wall s, CPU s; all: %.0f s, %.0f s):\n", wall, cpu
		for (k = 0; k < n && k < NR; k++) {
			best = 0
			for (i = 1; i <= NR; i++)
				if (!(i in done) && (best == 0 || w[i] > w[best]))
					best = i
			done[best] = 1
			print line[best]
		}
		if (bad != "") print "failing:" bad
		printf "%d passed, %d failed\n", p, f
		exit (f > 0)
	}'
