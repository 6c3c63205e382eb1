#!/bin/sh
# test_lint.sh - static analysis of the shipped code and the tests with
# cppcheck (warning, portability and performance checks): must be clean.
#
# cppcheck does not read system headers (it would choke on glibc's), so the
# few whose macros change the meaning of our code - libbsd's tree.h and
# queue.h, protobuf-c's header - are offered to it through a shim include
# directory.  The benchmark is left out: it is not shipped and cppcheck
# misreads its long printf tables.
set -eu

command -v cppcheck >/dev/null 2>&1 ||
	{ echo "test_lint: FAIL: cppcheck not installed (run 'make test-deps')"; exit 1; }
build=${POOLMGR_BUILD:-build}
[ -f "$build/proto/poolmgr.pb-c.h" ] ||
	make --no-print-directory -s BUILD="$build" "$build/proto/poolmgr.pb-c.h"

shim=$(mktemp -d /tmp/poolmgr-lint.XXXXXX)
trap 'rm -rf "$shim"' EXIT
mkdir -p "$shim/bsd/sys"
ln -s /usr/include/bsd/sys/tree.h /usr/include/bsd/sys/queue.h "$shim/bsd/sys/"
ln -s /usr/include/protobuf-c "$shim/protobuf-c"

if cppcheck --quiet --enable=warning,portability,performance --std=c11 \
	-D_GNU_SOURCE -DHAVE_SYSTEMD -Idaemon -Iclient -I"$build/proto" \
	-I"$shim" --suppress=missingIncludeSystem --suppress=missingInclude \
	--inline-suppr --error-exitcode=1 -j2 \
	daemon client tests/unit tests/integration tests/fuzz 2>"$shim/out"; then
	echo "test_lint: ok: cppcheck clean over daemon/, client/ and the tests"
else
	cat "$shim/out"
	echo "test_lint: FAIL: cppcheck found problems"
	exit 1
fi
