#!/bin/sh
# systemd_real.sh - poolmgrd under a real systemd (make test-systemd).
#
# Boots the host's own systemd in a container (systemd-nspawn, from the
# systemd-container package) whose root is a throwaway overlay of the
# host's /, installs poolmgr there with `make install DESTDIR=`, and checks
# what the integration tests can only play with a fake manager:
#
#   - socket activation: poolctl connecting starts the service, which is
#     ready (active) and shows its STATUS= line;
#   - the watchdog (WatchdogSec=3s in a drop-in) is kept fed;
#   - systemctl reload applies the file (a new pool appears, bound to the
#     first NUMA node with memory: the sandbox lets the daemon mbind; where
#     no node has memory, it says SKIP for the binding and makes the pool
#     without);
#   - systemctl restart keeps a client's connections, handles and blocks
#     (one persisted, one retained by its second connection) through the
#     fd store, with IDLE more clients connected (1000 by default), and
#     the store holds only the crash journal and the pools' memfds again
#     after the start;
#   - SIGUSR2 restarts in place under the unit: same pid, unit active;
#   - a crash (SIGSEGV) is restarted by Restart=on-failure with every pool
#     and its persisted block (the crash journal in the fd store), and
#     nothing else: the retained block's room is free again;
#   - systemctl stop and start free everything;
#   - a connection kept for a descriptor its client has not read
#     (sd_unread) is in the store (pushed with FDPOLL=0: shut down, it
#     reads POLLHUP, and systemd would drop it), and after a crash,
#     systemctl restart and SIGUSR2 poolctl status still counts it and
#     the store still holds it, as unread.0 (systemd-analyze fdstore
#     where systemd has it, else the names systemd passed the daemon it
#     started); once its client closes, poolctl status counts none and
#     it leaves the store;
#   - the journal shows no start failure and no call the sandbox refused.
#
# Everything runs under the unit's full sandbox, as shipped.  The
# container's writes go to a tmpfs: the host's files are untouched, and
# the mounts live in a mount namespace of this script's own.  Needs root;
# skips (exit 0, "SKIP:") where the container cannot be booted.
#
#	POOLMGR_BUILD=build sh tests/system/systemd_real.sh
#	SYSTEMD_REAL_IDLE=N	the idle clients across restarts
#	SYSTEMD_REAL_KEEP=1	leave the container running at the end
set -u

build=${POOLMGR_BUILD:-build}
src=$(cd "$(dirname "$0")/../.." && pwd)
idle=${SYSTEMD_REAL_IDLE:-1000}

skip() {
	echo "systemd_real: SKIP: $*"
	exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root (to boot a container)"
command -v systemd-nspawn >/dev/null 2>&1 ||
	skip "no systemd-nspawn: apt-get install systemd-container"
command -v unshare >/dev/null 2>&1 || skip "no unshare(1)"
command -v nsenter >/dev/null 2>&1 || skip "no nsenter(1)"
[ -x /lib/systemd/systemd ] || skip "no /lib/systemd/systemd"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
	skip "no overlay file system"
for f in "$build/poolmgrd" "$build/poolctl" "$build/tests/sd_holder" \
    "$build/tests/sd_unread"; do
	[ -x "$f" ] || { echo "systemd_real: FAIL: $f missing"; exit 1; }
done

# The mounts below vanish with this namespace, whatever happens.  Where
# none can be made private (in a chroot, whose / is no mount point,
# unshare says "cannot change root filesystem propagation"), no
# container can be booted either.
if [ -z "${SYSTEMD_REAL_NS:-}" ]; then
	why=$(unshare --mount --propagation private true 2>&1) ||
		skip "no mount namespace of its own here: $why"
	SYSTEMD_REAL_NS=1 exec unshare --mount --propagation private \
		sh "$0" "$@"
fi

work=$(mktemp -d /tmp/poolmgr-systemd.XXXXXX)
root=$work/root
nspawn=
leader=

cleanup() {
	exec 3>&- 4>&-
	if [ -n "$nspawn" ] && [ -z "${SYSTEMD_REAL_KEEP:-}" ]; then
		kill "$nspawn" 2>/dev/null	# nspawn powers the container off
		i=0
		while kill -0 "$nspawn" 2>/dev/null && [ $i -lt 200 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -9 "$nspawn" 2>/dev/null
		wait "$nspawn" 2>/dev/null
	fi
	if [ -n "${SYSTEMD_REAL_KEEP:-}" ]; then
		echo "systemd_real: the container runs on: nsenter -t $leader -a"
		return
	fi
	# Detached at once even if busy; the removal must not reach the
	# overlay (it would only hide files, but hide them it would).
	umount -l "$root" 2>/dev/null
	umount -l "$work/t" 2>/dev/null
	if mountpoint -q "$root" || mountpoint -q "$work/t"; then
		echo "systemd_real: $work is still mounted; not removed"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "systemd_real: FAIL: $*"
	if [ -n "$leader" ]; then
		echo "--- systemctl status poolmgrd; journalctl -u poolmgrd:"
		in_ct systemctl status --no-pager poolmgrd 2>&1 | sed 's/^/    /'
		in_ct journalctl --no-pager -n 40 -u poolmgrd -u poolmgrd.socket \
			2>&1 | sed 's/^/    /'
	fi
	exit 1
}
ok() {
	echo "systemd_real: ok: $*"
}

# A command in the container, in all its namespaces.
in_ct() {
	nsenter -t "$leader" -a "$@"
}

# A unit property, as systemctl show prints its value.
prop() {
	in_ct systemctl show -p "$2" --value "$1"
}

# The daemon's log has a line matching $1 (waiting for journald a while).
journal_has() {
	pattern=$1
	wait_for 50 'in_ct journalctl --no-pager -u poolmgrd | grep -q "$pattern"'
}
# How many lines of the daemon's log match $1.
journal_count() {
	in_ct journalctl --no-pager -u poolmgrd | grep -c "$1"
}

# Wait up to $1 tenths of a second for the command $2 to succeed; $2 is
# evaluated again each time.
wait_for() {
	tries=$1
	while ! eval "$2" >/dev/null 2>&1; do
		tries=$((tries - 1))
		[ $tries -gt 0 ] || return 1
		sleep 0.1
	done
}

# --- the container ---------------------------------------------------

mkdir -p "$work/t" "$root"
mount -t tmpfs -o size=1G,mode=0755 poolmgr-systemd "$work/t" ||
	skip "cannot mount a tmpfs"
mkdir -p "$work/t/upper" "$work/t/work"
mount -t overlay poolmgr-systemd-root -o \
	"lowerdir=/,upperdir=$work/t/upper,workdir=$work/t/work" "$root" ||
	skip "cannot mount an overlay of /"

# Boot only what poolmgrd needs: basic.target (journald, sockets), no
# timers, no multi-user services of the host.
cat > "$root/etc/systemd/system/poolmgr-test.target" <<'EOF'
[Unit]
Description=poolmgr test
Requires=basic.target
After=basic.target
AllowIsolate=yes
EOF
ln -sf poolmgr-test.target "$root/etc/systemd/system/default.target"
ln -sf /dev/null "$root/etc/systemd/system/timers.target"

make -s -C "$src" --no-print-directory BUILD="$build" install \
	DESTDIR="$root" >/dev/null || fail "make install DESTDIR=$root"
install -m 0755 "$build/tests/sd_holder" "$root/usr/local/bin/sd_holder"
install -m 0755 "$build/tests/sd_unread" "$root/usr/local/bin/sd_unread"
sbin=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' \
	"$build/systemd/poolmgrd.service")
poolctl=$(dirname "$(dirname "$sbin")")/bin/poolctl
cat > "$root/etc/poolmgrd.conf" <<EOF
[daemon]
max_connections = $((idle + 16))
max_connections_per_uid = $((idle + 16))

[pool demo]
size = 16M
mode = 0666
EOF
mkdir -p "$root/etc/systemd/system/poolmgrd.service.d"
printf '[Service]\nWatchdogSec=3s\n' \
	> "$root/etc/systemd/system/poolmgrd.service.d/watchdog.conf"
ctl=$root/var/tmp/poolmgr-test
mkdir -p "$ctl"
mkfifo "$ctl/in"

systemd-nspawn --quiet --boot --directory="$root" \
	--machine="poolmgr-test-$$" --register=no --keep-unit \
	--private-network --console=pipe </dev/null >"$work/boot.log" 2>&1 &
nspawn=$!
wait_for 300 'pgrep -P "$nspawn"' ||
	{ cat "$work/boot.log"; skip "systemd-nspawn started no container"; }
leader=$(pgrep -P "$nspawn" | head -n 1)
# A unit of the host's that fails in a container only degrades it.
booted() {
	state=$(in_ct systemctl is-system-running --wait 2>/dev/null)
	[ "$state" = running ] || [ "$state" = degraded ]
}
state=
wait_for 600 booted || {
	cat "$work/boot.log"
	skip "the container's systemd did not come up (${state:-no answer})"
}
ok "booted $(in_ct systemctl --version | head -n 1) in a container"

in_ct systemd-sysusers >/dev/null || fail "systemd-sysusers"
in_ct systemctl daemon-reload
in_ct systemctl start poolmgrd.socket || fail "cannot start poolmgrd.socket"

# --- socket activation, READY=1, STATUS= ------------------------------

[ "$(prop poolmgrd ActiveState)" = inactive ] ||
	fail "poolmgrd.service runs before any client connected"
in_ct "$poolctl" list >/dev/null || fail "poolctl list through the socket"
[ "$(prop poolmgrd ActiveState)" = active ] || fail "not active after READY=1"
pid=$(prop poolmgrd MainPID)
status=$(prop poolmgrd StatusText)
case $status in
*pool*) ;;
*) fail "no STATUS= line in systemctl status: '$status'" ;;
esac
ok "a client started the service (pid $pid); Status: \"$status\""

# --- a client that holds blocks ----------------------------------------

exec 3<>"$ctl/in"
in_ct /usr/local/bin/sd_holder demo "$idle" <"$ctl/in" >"$ctl/out" 2>&1 &
holder=$!

lines() {
	wc -l <"$ctl/out"
}
# Send a command to the holder, print its answer.
holder_do() {
	n=$(lines)
	echo "$1" >&3
	wait_for 300 '[ "$(lines)" -gt "$n" ]' || { echo "no answer"; return; }
	tail -n 1 "$ctl/out"
}
holder_ok() {
	r=$(holder_do check)
	[ "$r" = ok ] || fail "$1: the client says: $r ($(cat "$ctl/out"))"
}

wait_for 600 'grep -q "ready\|fail" "$ctl/out"' || fail "the client did not start"
grep -q ready "$ctl/out" || fail "the client: $(cat "$ctl/out")"
holder_ok "before any restart"
ok "a client holds a persisted and a retained block, $idle more connected"

# --- the watchdog ------------------------------------------------------

sleep 8
[ "$(prop poolmgrd NRestarts)" = 0 ] && [ "$(prop poolmgrd MainPID)" = "$pid" ] ||
	fail "the service was restarted within 8 s of WatchdogSec=3s"
journal_has "watchdog: pinging" ||
	fail "the daemon does not say it pings the watchdog"
ok "the watchdog (3 s) kept fed for 8 s"

# --- reload ------------------------------------------------------------

# The first node with memory (N_MEMORY): node 0 need not have any.
node=$(sed -n 's/^\([0-9][0-9]*\).*/\1/p' \
	/sys/devices/system/node/has_memory 2>/dev/null)
# Pool second is bound to it, and keeps the binding through what follows.
numa_ok() {
	[ -z "$node" ] && return 0
	kv=$(in_ct "$poolctl" stats second --format=kv) &&
	printf '%s\n' "$kv" | grep -qx "second numa_policy bind" &&
	printf '%s\n' "$kv" | grep -qx "second numa_node $node"
}
if [ -n "$node" ]; then
	printf '\n[pool second]\nsize = 4M\nmode = 0666\n%s\n%s\n' \
		"numa_node = $node" "numa_policy = bind" \
		>> "$root/etc/poolmgrd.conf"
	bound="bound to NUMA node $node"
else
	echo "systemd_real: SKIP: no NUMA node has memory: pool second" \
	    "is made without a NUMA policy"
	printf '\n[pool second]\nsize = 4M\nmode = 0666\n' \
		>> "$root/etc/poolmgrd.conf"
	bound="without a NUMA policy"
fi
in_ct systemctl reload poolmgrd || fail "systemctl reload"
in_ct "$poolctl" list | grep -q "^second " || fail "reload did not add a pool"
numa_ok ||
	fail "pool second is not bound to node $node: $(in_ct "$poolctl" stats second)"
[ "$(prop poolmgrd MainPID)" = "$pid" ] || fail "reload changed the pid"
ok "systemctl reload added a pool, $bound; same pid"

# --- systemctl restart through the fd store ---------------------------

in_ct systemctl restart poolmgrd || fail "systemctl restart"
npid=$(prop poolmgrd MainPID)
[ "$npid" != "$pid" ] && [ "$npid" != 0 ] || fail "restart: pid $pid -> $npid"
# What the stop pushed is taken out; what stays is the crash journal and
# each pool's keep.<n>: 2 pools here.
wait_for 100 '[ "$(prop poolmgrd NFileDescriptorStore)" = 3 ]' ||
	fail "the fd store holds $(prop poolmgrd NFileDescriptorStore) descriptors after the start, not the journal and 2 pools'"
holder_ok "after systemctl restart"
journal_has "$((idle + 2)) clients to keep in systemd's fd store" ||
	fail "the stop did not say it pushed $((idle + 2)) clients to the store"
journal_has "systemd's fd store holds them" ||
	fail "the stop did not say the store holds them"
journal_has "restored from systemd's fd store: " ||
	fail "the start did not say it restored from the store"
pid=$npid
ok "systemctl restart (new pid $pid) kept $((idle + 2)) clients and their blocks; store back to the journal and 2 pools"

# --- SIGUSR2 -----------------------------------------------------------

n=$(journal_count "restarted in place")
in_ct systemctl kill -s USR2 poolmgrd || fail "systemctl kill -s USR2"
wait_for 100 '[ "$(journal_count "restarted in place")" -gt "$n" ]' ||
	fail "no 'restarted in place' after SIGUSR2"
[ "$(prop poolmgrd MainPID)" = "$pid" ] || fail "SIGUSR2 changed the pid"
[ "$(prop poolmgrd ActiveState)" = active ] || fail "not active after SIGUSR2"
holder_ok "after SIGUSR2"
ok "SIGUSR2 restarted in place: same pid $pid, unit active, client served"

# --- a crash -----------------------------------------------------------

in_ct systemctl kill -s SEGV poolmgrd
wait_for 100 '[ "$(prop poolmgrd NRestarts)" = 1 ]' ||
	fail "Restart=on-failure did not restart the crashed daemon"
wait_for 100 '[ "$(prop poolmgrd ActiveState)" = active ]' ||
	fail "not active after the crash"
# The client's old mapping shows the retained block's pages given back
# (they read zero) before its first request finds the connection lost.
r=$(holder_do check)
case $r in
*"connection to poolmgrd lost"* | "fail retained block"*) ;;
*) fail "after a crash the client says: $r" ;;
esac
journal_has "after a crash: 2 pools and 1 persistent block" ||
	fail "no recovery logged after the crash"
in_ct "$poolctl" list | grep -q "^demo .* 1 *0$" ||
	fail "not just the persisted block after a crash: $(in_ct "$poolctl" list)"
numa_ok || fail "pool second lost its NUMA policy in the crash"
r=$(holder_do recovered)
[ "$r" = ok ] || fail "after the crash: $r"
pid=$(prop poolmgrd MainPID)
ok "SIGSEGV: restarted (pid $pid), the client told; both pools and the persisted block kept, the rest freed"
echo quit >&3
wait "$holder"

# --- stop, start -------------------------------------------------------

: > "$ctl/out"
in_ct /usr/local/bin/sd_holder demo 0 <"$ctl/in" >"$ctl/out" 2>&1 &
holder=$!
wait_for 300 'grep -q "ready\|fail" "$ctl/out"' && grep -q ready "$ctl/out" ||
	fail "the client did not start: $(cat "$ctl/out")"
in_ct systemctl stop poolmgrd 2>/dev/null
[ "$(prop poolmgrd NFileDescriptorStore)" = 0 ] ||
	fail "a stop left descriptors in the store"
r=$(holder_do check)
case $r in
*"connection to poolmgrd lost"*) ;;
*) fail "after a stop the client says: $r" ;;
esac
in_ct systemctl start poolmgrd || fail "systemctl start"
in_ct "$poolctl" list | grep -q "^demo .* 0 *0$" ||
	fail "pools not fresh after stop and start: $(in_ct "$poolctl" list)"
ok "systemctl stop freed everything, start began fresh"
echo quit >&3
wait "$holder"

# --- a kept connection ------------------------------------------------

# The crashes and restarts below are more starts than the unit's start
# limit lets in 10 s, with those above.
in_ct systemctl reset-failed poolmgrd
# The crash journal and the 2 pools' keep.<n>.
base=$(prop poolmgrd NFileDescriptorStore)
[ "$base" = 3 ] || fail "the fd store holds $base descriptors after a fresh start, not the journal and 2 pools'"
restarts=$(prop poolmgrd NRestarts)
mkfifo "$ctl/unread_in"
exec 4<>"$ctl/unread_in"
in_ct /usr/local/bin/sd_unread demo <"$ctl/unread_in" >"$ctl/unread_out" 2>&1 &
unread=$!
wait_for 300 'grep -q "kept\|fail" "$ctl/unread_out"' &&
	grep -q kept "$ctl/unread_out" ||
	fail "no kept connection: $(cat "$ctl/unread_out")"

# What poolctl status says of the kept connections (its kv key, which
# scripts read: the text's labels are for people).
kept_said() {
	in_ct "$poolctl" status --format=kv | sed -n 's/^kept_connections //p'
}
# The names systemd's store holds, one a line: systemd-analyze fdstore
# (systemd 254 on); else, only at a start, what systemd passed the
# daemon it started (LISTEN_FDNAMES).
fdstore_names() {
	if in_ct systemd-analyze fdstore poolmgrd >/dev/null 2>&1; then
		in_ct systemd-analyze fdstore --no-legend poolmgrd |
			awk '{ print $1 }'
	else
		in_ct cat "/proc/$(prop poolmgrd MainPID)/environ" |
			tr '\0' '\n' | sed -n 's/^LISTEN_FDNAMES=//p' |
			tr ':' '\n'
	fi
}
# After $1: poolctl status counts the kept connection, the store holds
# it beside the journal and the keeps, under its name when that can be
# read (started: $2 is "start", the daemon was started by systemd).
kept_ok() {
	wait_for 100 '[ "$(kept_said)" = 1 ]' ||
		fail "$1: poolctl status says kept_connections '$(kept_said)', not 1"
	n=$(prop poolmgrd NFileDescriptorStore)
	[ "$n" = $((base + 1)) ] ||
		fail "$1: the fd store holds $n descriptors, not $((base + 1)) (the journal, 2 pools and the kept connection)"
	if [ "${2:-}" = start ] || in_ct systemd-analyze fdstore poolmgrd >/dev/null 2>&1; then
		fdstore_names | grep -qx "unread.0" ||
			fail "$1: no unread.0 in systemd's store: $(fdstore_names | tr '\n' ' ')"
	fi
}
kept_ok "kept"
ok "a connection kept for a descriptor its client has not read is in the store"

in_ct systemctl kill -s SEGV poolmgrd
wait_for 100 '[ "$(prop poolmgrd NRestarts)" = $((restarts + 1)) ]' ||
	fail "Restart=on-failure did not restart the crashed daemon"
wait_for 100 '[ "$(prop poolmgrd ActiveState)" = active ]' ||
	fail "not active after the crash"
kept_ok "after a crash" start
ok "SIGSEGV: the daemon after the crash counts the kept connection, still in the store"

in_ct systemctl restart poolmgrd || fail "systemctl restart"
kept_ok "after systemctl restart" start
ok "systemctl restart: counted, and in the store"

n=$(journal_count "restarted in place")
in_ct systemctl kill -s USR2 poolmgrd || fail "systemctl kill -s USR2"
wait_for 100 '[ "$(journal_count "restarted in place")" -gt "$n" ]' ||
	fail "no 'restarted in place' after SIGUSR2"
kept_ok "after SIGUSR2"
ok "SIGUSR2: counted, and in the store"

echo close >&4
wait "$unread" || fail "the kept connection's client: $(cat "$ctl/unread_out")"
wait_for 100 '[ "$(kept_said)" = 0 ]' ||
	fail "its client closed: poolctl status says kept_connections '$(kept_said)', not 0"
wait_for 100 '[ "$(prop poolmgrd NFileDescriptorStore)" = "$base" ]' ||
	fail "its client closed: the fd store holds $(prop poolmgrd NFileDescriptorStore) descriptors, not $base"
# Gone by name too: the start after a crash is not handed it.
restarts=$(prop poolmgrd NRestarts)
in_ct systemctl kill -s SEGV poolmgrd
wait_for 100 '[ "$(prop poolmgrd NRestarts)" = $((restarts + 1)) ]' &&
	wait_for 100 '[ "$(prop poolmgrd ActiveState)" = active ]' ||
	fail "not restarted after the last crash"
! fdstore_names | grep -q "^unread\." ||
	fail "its client closed: still in systemd's store: $(fdstore_names | tr '\n' ' ')"
[ "$(kept_said)" = 0 ] || fail "after the last crash: kept_connections '$(kept_said)'"
ok "its client closed: out of the store (back to $base), kept connections 0"

# --- the journal -------------------------------------------------------

bad=$(in_ct journalctl --no-pager -u poolmgrd -u poolmgrd.socket |
	grep -i "status=202\|operation not permitted\|seccomp\|SIGSYS\|bad system call\|start-limit\|too many open files")
[ -z "$bad" ] || fail "the journal says: $bad"
ok "no sandbox refusal or failed start in the journal"

echo "systemd_real: all checks passed"
