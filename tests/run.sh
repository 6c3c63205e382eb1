#!/bin/sh
# Run test programs; keep each one's output in BUILD/logs/NAME[TAG].log and
# print it.  Writes "NAME[TAG] passed failed wall cpu" lines to
# BUILD/test-results[TAG].txt, wall and CPU (user + system, the program's
# and its waited-for children's, such as the daemon it started) in
# seconds.  TAG (from $TEST_TAG, may be empty) names a second run of the
# same programs in another setting, such as "-nocache".
# Each program runs for at most $TEST_TIMEOUT seconds (default 900, far
# above the slowest under ASan) and is then sent SIGTERM, and SIGKILL
# 30 s later: a hung one counts as failed instead of hanging the run.
# Usage: tests/run.sh BUILD PROGRAM...
build=$1; shift
tag=${TEST_TAG:-}
limit=${TEST_TIMEOUT:-900}
mkdir -p "$build/logs"
results="$build/test-results$tag.txt"
: > "$results"
status=0
for prog in "$@"; do
	name=$(basename "$prog")$tag
	log="$build/logs/$name.log"
	times="$build/logs/$name.time"
	start=$(date +%s)
	/usr/bin/time -q -o "$times" -f '%e %U %S' \
	    timeout --verbose --kill-after=30 "$limit" "$prog" > "$log" 2>&1
	rc=$?
	# 124: timed out and ended by SIGTERM; 137 at the limit: by SIGKILL.
	if [ "$rc" -eq 124 ] ||
	   { [ "$rc" -eq 137 ] && [ $(($(date +%s) - start)) -ge "$limit" ]; }; then
		echo "$name: TIMED OUT after $limit s (TEST_TIMEOUT), killed;" \
		    "counted as failed" >> "$log"
	fi
	cat "$log"
	passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	failed=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	if [ -z "$passed$failed" ]; then
		# Not a cmocka program (a shell test): one test, by exit code.
		if [ "$rc" -eq 0 ]; then passed=1; failed=0; else passed=0; failed=1; fi
	fi
	passed=${passed:-0}
	failed=${failed:-0}
	# A program that died or exited non-zero without reporting counts as failed.
	if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
	spent=$(awk 'NF == 3 { printf "%.1f %.1f", $1, $2 + $3 }' "$times")
	echo "$name $passed $failed ${spent:-0 0}" >> "$results"
	[ "$rc" -ne 0 ] && status=1
done
exit $status
