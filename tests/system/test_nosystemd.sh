#!/bin/sh
# test_nosystemd.sh - the daemon builds without libsystemd (make SYSTEMD=0)
# and behaves the same minus systemd: it binds its own socket, serves
# clients, and stops cleanly.
set -eu

build=${POOLMGR_BUILD:-build}
out=$build/nosd
stage=$(mktemp -d /tmp/poolmgr-nosd.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -rf "$stage"
}
trap cleanup EXIT
fail() {
	echo "test_nosystemd: FAIL: $*"
	exit 1
}

make --no-print-directory -s -j"$(nproc 2>/dev/null || echo 1)" \
	"$out/poolmgrd" BUILD="$out" SYSTEMD=0 >/dev/null ||
	fail "cannot build with SYSTEMD=0"
if ldd "$out/poolmgrd" | grep -q libsystemd; then
	fail "the SYSTEMD=0 daemon still links libsystemd"
fi
echo "test_nosystemd: ok: builds without libsystemd"

printf '[pool p]\nsize = 1M\n' > "$stage/conf"
# NOTIFY_SOCKET is ignored by this build: nothing may be sent there.
NOTIFY_SOCKET=$stage/notify "$out/poolmgrd" --socket "$stage/sock" \
	--config "$stage/conf" 2> "$stage/log" &
pid=$!
i=0
while [ ! -S "$stage/sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$stage/sock" ] || fail "daemon did not start: $(cat "$stage/log")"
POOLMGRD_SOCKET=$stage/sock "$build/poolctl" create q --size 64K ||
	fail "poolctl create"
POOLMGRD_SOCKET=$stage/sock "$build/poolctl" check p >/dev/null ||
	fail "poolctl check"
kill "$pid"
wait "$pid" || fail "daemon did not stop cleanly: $(cat "$stage/log")"
pid=
[ ! -S "$stage/sock" ] || fail "socket left behind"
echo "test_nosystemd: ok: serves clients and stops cleanly"
