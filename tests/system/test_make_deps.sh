#!/bin/sh
# test_make_deps.sh - make without root on a machine that lacks packages:
# it names them, prints the one command that installs them as root and
# the make to run again, and stops before building.  A fresh Debian has
# sudo only where it was set up at install, so without sudo on the PATH
# the command is su's, and with it sudo's; either fetches the package
# lists first.  Run as nobody when root (make as root would install);
# the PATH holds only what the recipe runs, with or without a sudo that
# records being run (make must only print it).
set -eu

user=nobody
stage=
cleanup() {
	[ -n "$stage" ] && rm -rf "$stage"
}
trap cleanup EXIT
fail() {
	echo "test_make_deps: FAIL: $*"
	[ -n "$stage" ] && [ -f "$stage/out" ] && sed 's/^/  /' "$stage/out"
	exit 1
}
ok() {
	echo "test_make_deps: ok: $*"
}

make=$(command -v make) || fail "no make"
stage=$(mktemp -d /tmp/poolmgr-deps.XXXXXX)
chmod 0755 "$stage"
mkdir "$stage/docs"
cp Makefile "$stage/"
cp docs/libpoolclient.3 "$stage/docs/"	# the Makefile reads its names
mkdir "$stage/bin" "$stage/sudo"
for c in dpkg-query grep id sed find; do
	ln -s "$(command -v "$c")" "$stage/bin/$c" || fail "no $c"
done
# A sudo that leaves a mark if make runs it, and fails.
printf '#!/bin/sh\ntouch %s/sudo-ran\nexit 1\n' "$stage" > "$stage/sudo/sudo"
chmod 0755 "$stage/sudo/sudo"
chmod -R a+rX "$stage"
# Writable by nobody, so that a make that went on to build could.
chmod a+w "$stage"

# dpkg is on every Debian; the other name is on none.
absent=poolmgr-test-no-such-package
make_run() {
	path=$1
	rc=0
	if [ "$(id -u)" = 0 ]; then
		(cd "$stage" && runuser -u "$user" -- env -u SUDO_UID \
			-u SUDO_USER -u SUDO_GID PATH="$path" \
			"$make" --no-print-directory run \
			DEB_PKGS="dpkg $absent") > "$stage/out" 2>&1 || rc=$?
	else
		(cd "$stage" && env -u SUDO_UID -u SUDO_USER -u SUDO_GID \
			PATH="$path" "$make" --no-print-directory run \
			DEB_PKGS="dpkg $absent") > "$stage/out" 2>&1 || rc=$?
	fi
	[ $rc != 0 ] || fail "make run exited 0 with $absent missing"
	[ ! -e "$stage/build" ] || fail "make run built with $absent missing"
}

make_run "$stage/bin"
grep -qx "missing packages: $absent" "$stage/out" ||
	fail "the missing package is not named alone"
grep -qx "install them as root, then run 'make run' again:" "$stage/out" ||
	fail "the make to run again is not named"
grep -qx "  su -c 'apt-get update && apt-get install -y $absent'" \
	"$stage/out" || fail "without sudo, no su command to install it"
if grep -q sudo "$stage/out"; then
	fail "sudo named where there is none"
fi
ok "without sudo: su's command, and the make to run again"

make_run "$stage/sudo:$stage/bin"
grep -qx "  sudo apt-get update && sudo apt-get install -y $absent" \
	"$stage/out" || fail "with sudo, no sudo command to install it"
[ ! -e "$stage/sudo-ran" ] || fail "make ran sudo itself"
ok "with sudo: sudo's command, printed, not run"
