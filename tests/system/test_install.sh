#!/bin/sh
# test_install.sh - `make install DESTDIR=...` gives a complete, clean
# install: daemon, CLI, library with soname and only pool_* exported, header
# free of protobuf-c, pkg-config file, man pages, units; a program built
# against the installed copy with pkg-config runs against the installed
# daemon; `make uninstall` removes every file again.
set -eu

build=${POOLMGR_BUILD:-build}
stage=$(mktemp -d /tmp/poolmgr-install.XXXXXX)
daemon_pid=
cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
	rm -rf "$stage"
}
trap cleanup EXIT

fail() {
	echo "test_install: FAIL: $*"
	exit 1
}
ok() {
	echo "test_install: ok: $*"
}

root=$stage/root
make --no-print-directory -s install BUILD="$build" DESTDIR="$root" \
	PREFIX=/usr/local >/dev/null
pre=$root/usr/local

for f in sbin/poolmgrd bin/poolctl lib/libpoolclient.so.1.0.0 \
	lib/libpoolclient.so.1 lib/libpoolclient.so lib/libpoolclient.a \
	include/poolclient.h lib/pkgconfig/poolclient.pc \
	share/man/man8/poolmgrd.8 share/man/man1/poolctl.1 \
	share/man/man5/poolmgrd.conf.5 share/man/man3/libpoolclient.3; do
	[ -e "$pre/$f" ] || fail "missing $f"
done
ok "every file is installed under the prefix"

# Outside the prefix: only the systemd unit and sysusers directories.
stray=$(cd "$root" && find . -type f | grep -v '^\./usr/local/' |
	grep -v -e '/systemd/system/poolmgrd\.' -e '/sysusers\.d/poolmgrd\.conf$' || true)
[ -z "$stray" ] || fail "files outside the prefix: $stray"
find "$root" -name 'poolmgrd.service' | grep -q . || fail "no poolmgrd.service"
find "$root" -name 'poolmgrd.socket' | grep -q . || fail "no poolmgrd.socket"
ok "nothing outside the prefix but units and sysusers.d"

soname=$(readelf -d "$pre/lib/libpoolclient.so.1.0.0" |
	sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libpoolclient.so.1" ] || fail "soname is '$soname'"
[ "$(readlink "$pre/lib/libpoolclient.so")" = libpoolclient.so.1 ] ||
	fail "libpoolclient.so does not point at the soname"
ok "soname libpoolclient.so.1"

exported=$(nm -D --defined-only "$pre/lib/libpoolclient.so.1.0.0" |
	awk '$2 != "A" { print $3 }' | sed 's/@.*//')
[ -n "$exported" ] || fail "no exported symbols"
bad=$(echo "$exported" | grep -v '^pool_' || true)
[ -z "$bad" ] || fail "exported beyond pool_*: $bad"
echo "$exported" | grep -qx pool_connect || fail "pool_connect not exported"
ok "$(echo "$exported" | wc -l) symbols exported, all pool_*"

grep -qi protobuf "$pre/include/poolclient.h" && fail "protobuf in the header"
grep -q '^Requires.private:.*libprotobuf-c' "$pre/lib/pkgconfig/poolclient.pc" ||
	fail "protobuf-c not in Requires.private"
ok "protobuf-c only in Requires.private"

# Build the examples against the installed copy, as a user would.
export PKG_CONFIG_PATH="$pre/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs poolclient)
for prog in producer consumer; do
	# shellcheck disable=SC2086
	cc -o "$stage/$prog" "client/examples/$prog.c" $flags ||
		fail "cannot build $prog against the installed library"
done
ok "examples build with: cc app.c \$(pkg-config --cflags --libs poolclient)"

sock=$stage/poolmgrd.sock
printf '[pool shared]\nsize = 1M\n' > "$stage/poolmgrd.conf"
"$pre/sbin/poolmgrd" --socket "$sock" --config "$stage/poolmgrd.conf" \
	2> "$stage/daemon.log" &
daemon_pid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$sock" ] || fail "installed daemon did not start: $(cat "$stage/daemon.log")"
export POOLMGRD_SOCKET="$sock"
export LD_LIBRARY_PATH="$pre/lib"
ldd "$stage/producer" | grep -q "$pre/lib/libpoolclient.so.1" ||
	fail "producer does not load the installed library"
offs=$("$stage/producer" shared "installed and working")
out=$(echo "$offs" | "$stage/consumer" shared)
[ "$out" = "installed and working" ] || fail "consumer printed '$out'"
"$pre/bin/poolctl" check shared >/dev/null || fail "installed poolctl check"
kill "$daemon_pid"
wait "$daemon_pid" || fail "installed daemon did not stop cleanly"
daemon_pid=
ok "installed daemon, library, poolctl and examples work together"

# The staging pkg-config settings would move the unit directory: drop them.
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
make --no-print-directory -s uninstall BUILD="$build" DESTDIR="$root" \
	PREFIX=/usr/local >/dev/null
left=$(find "$root" -type f -o -type l)
[ -z "$left" ] || fail "uninstall left: $left"
ok "uninstall removes every file"
echo "test_install: all passed"
