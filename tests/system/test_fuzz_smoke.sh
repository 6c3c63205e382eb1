#!/bin/sh
# test_fuzz_smoke.sh - the libFuzzer harnesses build, pass their committed
# seed corpora, and survive a short fuzzing run each.
#
#   tests/fuzz/fuzz_engine.c    the allocator engine fed operation streams
#   tests/fuzz/fuzz_dispatch.c  the daemon's decoder and dispatch fed datagrams
#   tests/fuzz/fuzz_restore.c   a restart in place's restore fed states
#   tests/fuzz/fuzz_recover.c   a crash's recovery fed journals and keeps
#   tests/fuzz/fuzz_client.c    the client library fed a fake daemon's
#                               replies
#
# Every seed in tests/fuzz/corpus/NAME/ must run clean (-runs=0), and
# fuzz_dispatch's seed evict_refused must meet, replayed alone, the one
# change a refused request may make (names evicted for it, then refused
# all the same: docs/protocol.md, "Eviction"), so that the harness's
# allowance for it is used, not only written; then each
# fuzzer runs for FUZZ_SMOKE_SECONDS (default 10: a smoke test; `make fuzz`
# runs long) on a temporary copy of its seeds, so the repository is not
# modified.  A crash fails the test; its input is kept as
# BUILD/fuzz/smoke-NAME-crash-* and the end of the fuzzer's output is
# printed.  Needs clang and its fuzzer runtime (Debian:
# clang, libclang-rt-14-dev; `make test-deps` installs them).
set -eu

cd "$(dirname "$0")/../.."
b=${POOLMGR_BUILD:-build}
cc=${FUZZ_CC:-clang}
seconds=${FUZZ_SMOKE_SECONDS:-10}
fuzzers="fuzz_engine fuzz_dispatch fuzz_restore fuzz_recover fuzz_client"
tmp=$(mktemp -d /tmp/poolmgr-fuzz.XXXXXX)
pids=
trap 'kill $pids 2>/dev/null || :; rm -rf "$tmp"' EXIT

fail() {
	echo "test_fuzz_smoke: FAIL: $*"
	exit 1
}

# The toolchain: clang, and a program built with -fsanitize=fuzzer links.
command -v "$cc" >/dev/null 2>&1 ||
	fail "$cc not found: the fuzzers need clang (run 'make test-deps', or" \
	     "apt-get install clang libclang-rt-14-dev)"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' \
	> "$tmp/probe.c"
"$cc" -fsanitize=fuzzer,address,undefined -o "$tmp/probe" "$tmp/probe.c" \
	> "$tmp/probe.log" 2>&1 ||
	fail "$cc cannot link a libFuzzer program: the fuzzer runtime is" \
	     "missing (Debian: libclang-rt-14-dev; 'make test-deps'):" \
	     "$(head -n 3 "$tmp/probe.log")"

# Side by side: each one compiles the daemon's (or the library's)
# sources with clang.
make --no-print-directory -s -j"$(nproc 2>/dev/null || echo 1)" BUILD="$b" \
	"$b/fuzz/fuzz_engine" "$b/fuzz/fuzz_dispatch" "$b/fuzz/fuzz_restore" \
	"$b/fuzz/fuzz_recover" "$b/fuzz/fuzz_client" \
	> "$tmp/build.log" 2>&1 ||
	fail "cannot build the fuzzers: $(tail -n 20 "$tmp/build.log")"

# A value from libFuzzer's final statistics (stat::NAME: VALUE).
stat() {
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

# How many files a directory holds.
count() {
	find "$1" -type f | wc -l
}

# cov: and ft: of the last status line.
coverage() {
	grep -E '^#[0-9]+' "$1" | tail -n 1 |
		sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1, ft \2/p'
}

for f in $fuzzers; do
	bin=$b/fuzz/$f
	seeds=tests/fuzz/corpus/$f
	log=$tmp/$f-seeds.log
	n=$(count "$seeds")
	[ "$n" -gt 0 ] || fail "$f: no seeds in $seeds"
	if ! "$bin" -runs=0 "$seeds" > "$log" 2>&1; then
		tail -n 40 "$log"
		fail "$f: a committed seed crashes it"
	fi
	echo "test_fuzz_smoke: ok: $f passes its $n seeds ($(coverage "$log"))"
done

# fuzz_dispatch says at exit how many refusals changed only names evicted
# for them, and how many of those had their replies never read (excused
# unseen): the seed's must have been seen to say -ENOMEM or -EDQUOT.
seed=tests/fuzz/corpus/fuzz_dispatch/evict_refused
log=$tmp/evict_refused.log
if ! "$b/fuzz/fuzz_dispatch" -runs=0 "$seed" > "$log" 2>&1; then
	tail -n 40 "$log"
	fail "fuzz_dispatch: $seed crashes it"
fi
line=$(grep '^fuzz_dispatch: .* of them changed only names' "$log" |
	tail -n 1)
excused=$(echo "$line" | sed -n 's/.* \([0-9]*\) of them changed.*/\1/p')
unread=$(echo "$line" | sed -n 's/.*(\([0-9]*\) with their replies.*/\1/p')
if [ $(( ${excused:-0} - ${unread:-0} )) -le 0 ]; then
	tail -n 5 "$log"
	fail "fuzz_dispatch: no refusal of $seed evicted names and was" \
	     "refused all the same, its reply read"
fi
echo "test_fuzz_smoke: ok: fuzz_dispatch: $excused refusals of $seed" \
     "changed only names evicted for them, ${unread:-0} of them unread"

# All fuzzers at once: each is one process (on fewer CPUs than fuzzers,
# each gets a share of the executions in the same time).
for f in $fuzzers; do
	bin=$b/fuzz/$f
	corpus=$tmp/corpus-$f
	mkdir -p "$corpus"
	cp "tests/fuzz/corpus/$f/"* "$corpus/"
	"$bin" -max_total_time="$seconds" -print_final_stats=1 \
	    -artifact_prefix="$b/fuzz/smoke-$f-" "$corpus" \
	    > "$tmp/$f-fuzz.log" 2>&1 &
	eval "pid_$f=\$!"
	pids="$pids $!"
done

for f in $fuzzers; do
	corpus=$tmp/corpus-$f
	log=$tmp/$f-fuzz.log
	rc=0
	eval "wait \$pid_$f" || rc=$?
	if [ "$rc" -ne 0 ]; then
		tail -n 60 "$log"
		fail "$f crashed (input kept as $b/fuzz/smoke-$f-*)"
	fi
	runs=$(stat number_of_executed_units "$log")
	rate=$(stat average_exec_per_sec "$log")
	[ -n "$runs" ] || fail "$f: no final statistics: $(tail -n 5 "$log")"
	echo "test_fuzz_smoke: ok: $f: ${seconds}s, $runs executions" \
	     "($rate/s), $(coverage "$log"), corpus $(count "$corpus")"
done
