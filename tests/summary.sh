#!/bin/sh
# Sum the results files written by tests/run.sh and print the closing line.
# A missing file (the build failed before any test ran) counts as a failure.
# Usage: tests/summary.sh RESULTS...
for f in "$@"; do
	if [ -f "$f" ]; then cat "$f"; else echo "build-of-$(dirname "$f") 0 1"; fi
done | awk '
	{ p += $2; f += $3; if ($3 > 0) bad = bad " " $1 }
	END {
		if (bad != "") print "failing:" bad
		printf "%d passed, %d failed\n", p, f
		exit (f > 0)
	}'
