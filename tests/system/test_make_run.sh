#!/bin/sh
# test_make_run.sh - `sudo make run` in a user's own checkout: root installs
# what is missing, and the build and the daemon are the user's, as `make run`
# makes them once the packages are there.  So the quick start's clients, run
# as that user, reach the daemon and its pool; nothing in the checkout is
# left root's, for the user's next `make` to be refused; and the daemon does
# not warn of a socket's directory that its own user owns.  The same by
# su, where there is no sudo: root's make without sudo's variables runs
# the daemon as the checkout's owner.  Run as root,
# with the variables sudo sets for its caller (nobody here, whose copy of
# the checkout it is); says SKIP: where it is not root.  The copy takes the
# build's programs along, so that only what is stale is made again.
set -eu

build=${POOLMGR_BUILD:-build}
user=nobody
stage=
make_pid=
daemon_pid=
cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
	[ -n "$make_pid" ] && wait "$make_pid" 2>/dev/null || true
	[ -n "$stage" ] && rm -rf "$stage"
}
trap cleanup EXIT
fail() {
	echo "test_make_run: FAIL: $*"
	[ -n "$stage" ] && [ -f "$stage/log" ] && sed 's/^/  /' "$stage/log"
	exit 1
}
ok() {
	echo "test_make_run: ok: $*"
}

if [ "$(id -u)" != 0 ]; then
	echo "test_make_run: SKIP: sudo's caller is tried only as root"
	exit 0
fi
uid=$(id -u "$user") || fail "no user $user"
gid=$(id -g "$user")

stage=$(mktemp -d /tmp/poolmgr-run.XXXXXX)
chmod 0755 "$stage"
co=$stage/checkout
mkdir "$co"
# The sources as a clone has them, and what make run builds with their
# times, so that make finds them up to date (only that: the suite's other
# programs write their logs and trees beside it meanwhile).
tar -cf - --exclude=./.git --exclude=./build --exclude='./build-*' \
	--exclude=./run . | tar -C "$co" -xf -
case $build in
/*) cobuild=build ;;
*)
	cobuild=$build
	mkdir -p "$co/$build"
	made=
	for f in "$build"/poolmgrd "$build"/poolctl "$build"/lib* \
		"$build"/paths.stamp "$build"/poolclient.pc "$build"/daemon \
		"$build"/client "$build"/proto "$build"/pic "$build"/examples \
		"$build"/systemd; do
		[ -e "$f" ] && made="$made ${f#"$build"/}"
	done
	# shellcheck disable=SC2086 # the names have no blanks
	[ -z "$made" ] || tar -C "$build" -cf - $made | tar -C "$co/$build" -xf -
	;;
esac
chown -R "$uid:$gid" "$co"

sock=$co/run/poolmgrd.sock
# `sudo make run` in the copy, in the background; back once the daemon
# listens or make has exited (as long as it builds: what is stale is made
# first).  With su, root's make has none of sudo's variables.
sudo_make_run() {
	(cd "$co" && SUDO_USER=$user SUDO_UID=$uid SUDO_GID=$gid \
		exec make --no-print-directory run BUILD="$cobuild") \
		> "$stage/log" 2>&1 &
	make_pid=$!
	wait_listening
}
su_make_run() {
	(cd "$co" && exec env -u SUDO_USER -u SUDO_UID -u SUDO_GID \
		make --no-print-directory run BUILD="$cobuild") \
		> "$stage/log" 2>&1 &
	make_pid=$!
	wait_listening
}
wait_listening() {
	while [ ! -S "$sock" ] && kill -0 "$make_pid" 2>/dev/null; do
		sleep 0.1
	done
}

sudo_make_run
[ -S "$sock" ] || fail "make run did not start the daemon"

status=$(POOLMGRD_SOCKET=$sock "$co/$cobuild/poolctl" status --format=kv) ||
	fail "poolctl status as root"
daemon_pid=$(echo "$status" | awk '$1 == "pid" { print $2 }')
daemon_uid=$(echo "$status" | awk '$1 == "uid" { print $2 }')
[ -n "$daemon_pid" ] || fail "no pid in poolctl status: $status"
[ "$daemon_uid" = "$uid" ] ||
	fail "the daemon's uid is $daemon_uid, not $user's ($uid)"
ok "sudo make run starts the daemon as its caller, $user"

rc=0
runuser -u "$user" -- env POOLMGRD_SOCKET="$sock" \
	"$co/$cobuild/poolctl" stats default > "$stage/stats" 2>&1 || rc=$?
[ $rc = 0 ] || fail "poolctl stats default as $user: exit $rc: $(cat "$stage/stats")"
ok "the quick start's poolctl, run as $user, reaches the pool"

if grep -q "could put a socket of their own" "$stage/log"; then
	fail "the daemon warned of its socket's directory"
fi
ok "no warning of the socket's directory, $user's own"

kill "$daemon_pid"
daemon_pid=
rc=0
wait "$make_pid" || rc=$?
make_pid=
[ $rc = 0 ] || fail "make run exited $rc after the daemon's SIGTERM"
left=$(find "$co" ! -user "$uid" | head -5)
[ -z "$left" ] || fail "left in the checkout, not $user's: $left"
ok "nothing in the checkout is root's after"

# Where there is no sudo, the same by su: the daemon is the checkout's
# owner's, not root's, whose socket would keep the owner's clients out.
su_make_run
[ -S "$sock" ] || fail "su's make run did not start the daemon"
status=$(POOLMGRD_SOCKET=$sock "$co/$cobuild/poolctl" status --format=kv) ||
	fail "poolctl status as root, after su's make run"
daemon_pid=$(echo "$status" | awk '$1 == "pid" { print $2 }')
daemon_uid=$(echo "$status" | awk '$1 == "uid" { print $2 }')
[ -n "$daemon_pid" ] || fail "no pid in poolctl status: $status"
[ "$daemon_uid" = "$uid" ] ||
	fail "after su's make run the daemon's uid is $daemon_uid," \
		"not the checkout owner's ($uid)"
kill "$daemon_pid"
daemon_pid=
rc=0
wait "$make_pid" || rc=$?
make_pid=
[ $rc = 0 ] || fail "su's make run exited $rc after the daemon's SIGTERM"
left=$(find "$co" ! -user "$uid" | head -5)
[ -z "$left" ] || fail "left in the checkout by su's make run: $left"
ok "su's make run starts the daemon as the checkout's owner, $user"

# A build of root's in the way (an earlier `sudo make`): said, and nothing
# started, rather than a build refused half way or a daemon of root's.
mkdir "$co/$cobuild/made-by-root"
sudo_make_run
if [ -S "$sock" ]; then
	status=$(POOLMGRD_SOCKET=$sock "$co/$cobuild/poolctl" status --format=kv)
	daemon_pid=$(echo "$status" | awk '$1 == "pid" { print $2 }')
	fail "make run started a daemon over a build of root's"
fi
rc=0
wait "$make_pid" || rc=$?
make_pid=
[ $rc != 0 ] || fail "make run over a build of root's exited 0"
grep -q "made-by-root is not $user's" "$stage/log" ||
	fail "make run did not name what is root's"
ok "a build of root's in the way is named, and nothing started"
