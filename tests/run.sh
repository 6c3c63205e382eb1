#!/bin/sh
# Run test programs; keep each one's output in BUILD/logs/NAME[TAG].log and
# print it.  Writes "NAME[TAG] passed failed wall cpu" lines to
# BUILD/test-results[TAG].txt, wall and CPU (user + system, the program's
# and its waited-for children's, such as the daemon it started) in
# seconds.  TAG (from $TEST_TAG, may be empty) names a second run of the
# same programs in another setting, such as "-nocache".
#
# $TEST_JOBS programs (default 2, or 1 on one CPU) run at a time: most
# spend their time waiting on their own daemon, each on a socket of its
# own.  Those named in $TEST_ALONE (file names, such as itest_release)
# run by themselves, before the others: they count what other clients
# get done while the daemon works in steps, or time a real systemd.
# Those named in $TEST_WAITING, which mostly sleep (out a daemon's
# timers, a rate limit's window, a bound), run in $TEST_WAIT_JOBS lanes
# of their own (default 2; 0 where TEST_JOBS is 1) beside the TEST_JOBS
# busy ones, which take them too once none of their own are left: using
# little CPU, two of them fit beside the busy ones.  In each lane, those
# named in $TEST_FIRST start first, in its order (the longest: the
# others fill the CPUs meanwhile).  The outputs are printed,
# and the results written, in the order given, as each program and all
# before it are done.
#
# Each program runs for at most $TEST_TIMEOUT seconds (default 900, far
# above the slowest under ASan) and is then sent SIGTERM, and SIGKILL
# 30 s later: a hung one counts as failed instead of hanging the run.
# Usage: tests/run.sh BUILD PROGRAM...
build=$1; shift
tag=${TEST_TAG:-}
limit=${TEST_TIMEOUT:-900}

# One program: its log, LOG.res (its results line) and LOG.rc (its exit
# code), the last written last.  The runner below starts each one as
# `tests/run.sh BUILD --one PROGRAM`.
run_one() {
	prog=$1
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
	echo "$name $passed $failed ${spent:-0 0}" > "$log.res"
	# Whole or not there: the printer below reads it once it exists.
	echo "$rc" > "$log.rc.new" && mv "$log.rc.new" "$log.rc"
}

if [ "${1:-}" = --one ]; then
	run_one "$2"
	exit 0
fi

# Whether the list $1 names the program $2.
named() {
	for a in $1; do
		[ "$a" = "${2##*/}" ] && return 0
	done
	return 1
}

jobs=${TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
case $jobs in
''|*[!0-9]*|0*)
	echo "run.sh: TEST_JOBS=$jobs: a number of programs at once, 1 or more" >&2
	exit 2 ;;
esac
[ -n "${TEST_JOBS:-}" ] || [ "$jobs" -le 2 ] || jobs=2
if [ "$jobs" -gt 1 ]; then
	wjobs=${TEST_WAIT_JOBS:-2}
else
	wjobs=${TEST_WAIT_JOBS:-0}
fi
case $wjobs in
''|*[!0-9]*|0?*)
	echo "run.sh: TEST_WAIT_JOBS=$wjobs: a number of waiting programs" \
	    "at once, 0 or more" >&2
	exit 2 ;;
esac
mkdir -p "$build/logs"
results="$build/test-results$tag.txt"
: > "$results"
done="$build/logs/.ran$tag"
rm -f "$done"
for prog in "$@"; do
	log="$build/logs/$(basename "$prog")$tag.log"
	rm -f "$log.res" "$log.rc" "$log.rc.new"
done

# The lanes' queues, newline-separated: first those named in TEST_FIRST,
# in its order, then the others in the order given.
nl='
'
busyq= waitq=
queue() {
	named "${TEST_ALONE:-}" "$1" && return
	if named "${TEST_WAITING:-}" "$1"; then
		waitq=$waitq$1$nl
	else
		busyq=$busyq$1$nl
	fi
}
for first in ${TEST_FIRST:-}; do
	for prog in "$@"; do
		[ "$first" = "${prog##*/}" ] && queue "$prog"
	done
done
for prog in "$@"; do
	named "${TEST_FIRST:-}" "$prog" || queue "$prog"
done

# Start the program $1 in the background; its lane, $2, is written to
# the lanes' pipe (descriptor 3) when it ends.  The program does not
# inherit the pipe: a daemon takes descriptors from 3 on as systemd's.
start() {
	{ sh "$0" "$build" --one "$1" 3>&-; echo "$2" >&3; } &
}

# The runner: the lone ones one by one, then the others, $jobs busy ones
# and $wjobs waiting ones at a time.  Lone ones first, so that the
# outputs of the rest can be printed as they come.  Each program's end
# is a line in a pipe, which the runner reads to start the next.
lanes="$build/logs/.lanes$tag"
rm -f "$lanes"
mkfifo "$lanes" || exit 2
export TEST_TAG TEST_TIMEOUT
(
	for prog in "$@"; do
		named "${TEST_ALONE:-}" "$prog" &&
		    sh "$0" "$build" --one "$prog"
	done
	# Read and written here: opening it so never blocks.
	exec 3<>"$lanes"
	busy=0 waiting=0
	while :; do
		while [ "$busy" -lt "$jobs" ] && [ -n "$busyq" ]; do
			start "${busyq%%"$nl"*}" busy
			busyq=${busyq#*"$nl"}
			busy=$((busy + 1))
		done
		while [ "$waiting" -lt "$wjobs" ] && [ -n "$waitq" ]; do
			start "${waitq%%"$nl"*}" waiting
			waitq=${waitq#*"$nl"}
			waiting=$((waiting + 1))
		done
		# A busy lane with nothing of its own left takes a waiting one.
		while [ "$busy" -lt "$jobs" ] && [ -n "$waitq" ]; do
			start "${waitq%%"$nl"*}" busy
			waitq=${waitq#*"$nl"}
			busy=$((busy + 1))
		done
		[ $((busy + waiting)) -gt 0 ] || break
		lane=
		read -r lane <&3
		case $lane in
		busy) busy=$((busy - 1)) ;;
		waiting) waiting=$((waiting - 1)) ;;
		esac
	done
	exec 3>&-
	touch "$done"
) &
runner=$!

status=0
for prog in "$@"; do
	name=$(basename "$prog")$tag
	log="$build/logs/$name.log"
	while [ ! -f "$log.rc" ] && [ ! -f "$done" ]; do
		sleep 0.2
	done
	if [ ! -f "$log.rc" ]; then
		echo "$name: never ran (the runner ended first)" >> "$log"
		echo "$name 0 1 0 0" > "$log.res"
		echo 1 > "$log.rc"
	fi
	cat "$log"
	cat "$log.res" >> "$results"
	[ "$(cat "$log.rc")" -ne 0 ] && status=1
done
wait "$runner"
rm -f "$lanes"
exit $status
