#!/bin/sh
# test_units.sh - the systemd units as built: `systemd-analyze verify`
# accepts both, the service's exposure score from `systemd-analyze security
# --offline` is at most 2.0, the socket is the SOCK_SEQPACKET one at the
# daemon's default path, both units start only once the configuration
# file the service passes with --config exists, and the sysusers.d file
# creates the user and group the units run as.  The service's descriptor
# limit can take back what its fd store holds, and the FDSTORE= it sets
# for systemd before 254 is the store's size.
#
# No running systemd is needed.  verify loads each unit with everything it
# depends on (sysinit.target, sockets.target, ...) and checks that every
# Exec*= binary exists, but poolmgrd is only at its ExecStart= path after
# `make install`.  So the units are checked in a throwaway root (--root=):
# the units in ROOT/etc/systemd/system, the built poolmgrd at the path
# ExecStart= names, the host's copy of any other Exec*= binary (/bin/kill),
# the host's unit directory for the targets, and the man pages from docs/
# on MANPATH for Documentation=.  Any message from verify is a failure.
#
# Reads the units from ${POOLMGR_BUILD:-build}/systemd/; builds nothing.
set -eu

build=${POOLMGR_BUILD:-build}
src=$(cd "$(dirname "$0")/../.." && pwd)
service=$build/systemd/poolmgrd.service
socket=$build/systemd/poolmgrd.socket
max_exposure=2.0

fail() {
	echo "test_units: FAIL: $*"
	exit 1
}
ok() {
	echo "test_units: ok: $*"
}

command -v systemd-analyze >/dev/null 2>&1 ||
	fail "systemd-analyze not found: install systemd (make test-deps)"
command -v systemd-sysusers >/dev/null 2>&1 ||
	fail "systemd-sysusers not found: install systemd (make test-deps)"
for f in "$service" "$socket" "$build/poolmgrd"; do
	[ -f "$f" ] || fail "$f missing: run make $f first"
done

root=$(mktemp -d /tmp/poolmgr-units.XXXXXX)
trap 'rm -rf "$root"' EXIT

# The value of KEY= in unit file FILE (the last one, as systemd reads it).
unit_get() {
	sed -n "s/^$2=//p" "$1" | tail -n 1
}

# The binary of an Exec*= value: its first word without the -@:+! prefixes.
exec_binary() {
	echo "$1" | sed 's/^[-@:+!]*//; s/[[:space:]].*//'
}

# Stage ROOT: units, binaries, the host's units, the man pages.
stage_root() {
	mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd"
	cp "$service" "$socket" "$root/etc/systemd/system/"

	daemon=$(exec_binary "$(unit_get "$service" ExecStart)")
	case $daemon in
	/*/poolmgrd) ;;
	*) fail "ExecStart= does not run an absolute path to poolmgrd: $daemon" ;;
	esac
	mkdir -p "$root$(dirname "$daemon")"
	cp "$build/poolmgrd" "$root$daemon"
	for key in ExecStartPre ExecStartPost ExecReload ExecStop ExecStopPost; do
		bin=$(exec_binary "$(unit_get "$service" "$key")")
		[ -n "$bin" ] || continue
		[ -x "$bin" ] || fail "$key= runs $bin, which this host lacks"
		mkdir -p "$root$(dirname "$bin")"
		cp "$bin" "$root$bin"
	done

	hostunits=
	for d in /usr/lib/systemd/system /lib/systemd/system; do
		if [ -f "$d/sysinit.target" ]; then
			hostunits=$d
			break
		fi
	done
	[ -n "$hostunits" ] || fail "no systemd unit directory on this host"
	cp -R "$hostunits" "$root/usr/lib/systemd/system"

	for page in "$src"/docs/*.[1-8]; do
		[ -f "$page" ] || continue
		section=${page##*.}
		mkdir -p "$root/man/man$section"
		cp "$page" "$root/man/man$section/"
	done
}

run_verify() {
	if command -v man >/dev/null 2>&1; then
		MANPATH=$root/man systemd-analyze verify --root="$root" \
			poolmgrd.service poolmgrd.socket 2>&1
	else
		echo "(no man(1) here: Documentation= not checked)" >&2
		systemd-analyze verify --man=no --root="$root" \
			poolmgrd.service poolmgrd.socket 2>&1
	fi
}

stage_root
echo "test_units: verifying $service and $socket in a staged root"
if ! out=$(run_verify); then
	echo "$out"
	fail "systemd-analyze verify failed"
fi
[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify complained"; }
ok "systemd-analyze verify: both units load, binaries and man pages exist"

# The staging must not hide problems: without the daemon, verify objects.
mv "$root$daemon" "$root$daemon.away"
if run_verify >/dev/null; then
	fail "verify accepts a missing ExecStart= binary: the check is void"
fi
mv "$root$daemon.away" "$root$daemon"
ok "verify does notice a missing ExecStart= binary in this setup"

out=$(systemd-analyze security --offline=true --root="$root" --no-pager \
	poolmgrd.service 2>&1) || { echo "$out"; fail "systemd-analyze security failed"; }
score=$(echo "$out" |
	sed -n 's/.*Overall exposure level for poolmgrd\.service: *\([0-9][0-9.]*\).*/\1/p')
[ -n "$score" ] || { echo "$out"; fail "no 'Overall exposure level' line"; }
echo "test_units: exposure $score (at most $max_exposure); what remains:"
echo "$out" | awk '$NF ~ /^[0-9]+\.[0-9]+$/ && $NF != "0.0" { print "    " $0 }'
awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s + 0 <= m + 0) }' ||
	fail "exposure $score is above $max_exposure"
ok "systemd-analyze security --offline: exposure $score"

# What the daemon relies on.
[ "$(unit_get "$service" Type)" = notify ] || fail "service is not Type=notify"
[ -n "$(unit_get "$service" WatchdogSec)" ] || fail "service has no WatchdogSec="
listen=$(unit_get "$socket" ListenSequentialPacket)
[ "$listen" = /run/poolmgrd/poolmgrd.sock ] ||
	fail "socket is not ListenSequentialPacket=/run/poolmgrd/poolmgrd.sock"
[ "$(unit_get "$socket" Accept)" = no ] || fail "socket is not Accept=no"
[ "$(unit_get "$socket" SocketMode)" = 0660 ] || fail "socket is not mode 0660"
ok "Type=notify, WatchdogSec=, a SOCK_SEQPACKET socket at the default path, 0660"

# A start given back the fd store's descriptors gets them at 3, 4, ...
# under the unit's own descriptor limit: systemd 252 fails such a start
# (status=202/FDS) from a few hundred descriptors on with a soft limit of
# 1024, as they sit anywhere in PID 1.  So the soft limit must leave
# plenty of room above what the store may hold.
store=$(unit_get "$service" FileDescriptorStoreMax)
case $store in
''|*[!0-9]*) fail "service has no numeric FileDescriptorStoreMax=" ;;
esac
nofile=$(unit_get "$service" LimitNOFILE)
soft=${nofile%%:*}
case $soft in
''|*[!0-9]*) fail "service has no numeric LimitNOFILE= (soft limit: '$soft')" ;;
esac
[ "$soft" -ge $((4 * store)) ] ||
	fail "LimitNOFILE= soft limit $soft is under 4 x FileDescriptorStoreMax=$store"
ok "LimitNOFILE=$nofile leaves room to pass back FileDescriptorStoreMax=$store"

# systemd before 254 does not export $FDSTORE, so the unit sets it by
# hand, and the daemon trusts it to know how many descriptors the store
# takes: a larger value would let it push more than systemd keeps (the
# rest dropped without a word), a smaller one would make it refuse a
# store it could have used.
fdstore=$(sed -n 's/^Environment=\(.*[[:space:]]\)\{0,1\}FDSTORE=\([0-9]*\).*/\2/p' \
	"$service" | tail -n 1)
[ "$fdstore" = "$store" ] ||
	fail "Environment=FDSTORE=${fdstore:-(none)} is not FileDescriptorStoreMax=$store"
ok "Environment=FDSTORE=$fdstore matches FileDescriptorStoreMax="

# The daemon does not start without the file ExecStart= gives it, so
# neither unit may start without it: a service started by hand would
# otherwise exit 1 and be restarted until its start limit.
conf=$(unit_get "$service" ExecStart |
	sed -n 's/.*--config[= ]\([^[:space:]]*\).*/\1/p')
[ -n "$conf" ] || fail "ExecStart= passes no --config FILE"
for u in "$service" "$socket"; do
	[ "$(unit_get "$u" ConditionPathExists)" = "$conf" ] ||
		fail "$(basename "$u") has no ConditionPathExists=$conf"
done
ok "both units have ConditionPathExists=$conf, the file ExecStart= reads"

# The user and groups the units name are the ones sysusers.d creates.
systemd-sysusers --root="$root" "$src/systemd/poolmgrd.sysusers" >/dev/null 2>&1 ||
	fail "systemd-sysusers rejects systemd/poolmgrd.sysusers"
for u in "$(unit_get "$service" User)" "$(unit_get "$socket" SocketUser)"; do
	[ -n "$u" ] || continue
	uid=$(awk -F: -v u="$u" '$1 == u { print $3 }' "$root/etc/passwd")
	[ -n "$uid" ] || fail "sysusers.d does not create user $u"
	[ "$uid" -lt 1000 ] || fail "user $u is not a system user (uid $uid)"
done
for g in "$(unit_get "$service" Group)" "$(unit_get "$socket" SocketGroup)"; do
	[ -n "$g" ] || fail "service Group= or socket SocketGroup= is empty"
	grep -q "^$g:" "$root/etc/group" || fail "sysusers.d does not create group $g"
done
ok "sysusers.d creates $(unit_get "$service" User):$(unit_get "$service" Group), the units' user and group"

echo "test_units: all checks passed"
