#!/bin/sh
# test_make_deps.sh - make without root on a machine that lacks packages:
# it names them, prints the one command that installs them as root and
# the make to run again, and stops before building.  A fresh Debian has
# sudo only where it was set up at install, so without sudo on the PATH
# the command is su's, and with it sudo's; either fetches the package
# lists first.  Run as nobody when root (make as root would install);
# the PATH holds only what the recipe runs, with or without a sudo that
# records being run (make must only print it).
#
# What make asks for is split: `make run` and `make deps` want only the
# build's packages, `make test` and the other test targets the tests'
# too, in one command.  A stand-in dpkg-query takes every package for
# installed but those it is told are missing: with only the tests' tools
# missing, make deps and make run ask for nothing; make test-deps, make
# test and each test target ask for exactly those; with some of the
# build's missing too, make run asks for those alone, make test for all.
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
# A dpkg-query that answers as dpkg-query -W -f='${Status}\n' NAME does,
# for a machine that has every package but those named in missing.
mkdir "$stage/dpkg"
cat > "$stage/dpkg/dpkg-query" <<EOF
#!/bin/sh
for name; do :; done
if grep -qxF -- "\$name" "$stage/missing"; then
	echo "dpkg-query: no packages found matching \$name" >&2
	exit 1
fi
echo 'install ok installed'
EOF
chmod 0755 "$stage/dpkg/dpkg-query"
: > "$stage/missing"
chmod -R a+rX "$stage"
# Writable by nobody, so that a make that went on to build could.
chmod a+w "$stage"

# make in the stage as a user without root, on the PATH $1, with the
# arguments that follow: its exit status in rc, its output in out.
make_as_user() {
	path=$1
	shift
	rc=0
	if [ "$(id -u)" = 0 ]; then
		(cd "$stage" && runuser -u "$user" -- env -u SUDO_UID \
			-u SUDO_USER -u SUDO_GID PATH="$path" \
			"$make" --no-print-directory "$@") > "$stage/out" 2>&1 ||
			rc=$?
	else
		(cd "$stage" && env -u SUDO_UID -u SUDO_USER -u SUDO_GID \
			PATH="$path" "$make" --no-print-directory "$@") \
			> "$stage/out" 2>&1 || rc=$?
	fi
}

# dpkg is on every Debian; the other name is on none.
absent=poolmgr-test-no-such-package
make_run() {
	make_as_user "$1" run DEB_PKGS="dpkg $absent"
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

# The packages make named as missing, sorted, on one line.
asked() {
	sed -n 's/^missing packages: //p' "$stage/out" | tr ' ' '\n' |
		sort | tr '\n' ' '
}
sorted() {
	printf '%s\n' "$@" | sort | tr '\n' ' '
}
# make GOAL stops before building, names exactly the packages that
# follow, and prints one command that installs them all and the make to
# run again.
asks_for() {
	goal=$1
	shift
	make_as_user "$stage/dpkg:$stage/bin" "$goal"
	[ $rc != 0 ] || fail "make $goal exited 0 with $* missing"
	[ ! -e "$stage/build" ] || fail "make $goal built with $* missing"
	[ "$(asked)" = "$(sorted "$@")" ] ||
		fail "make $goal asked for '$(asked)', not '$(sorted "$@")'"
	list=$(sed -n 's/^missing packages://p' "$stage/out")
	grep -qx "  su -c 'apt-get update && apt-get install -y$list'" \
		"$stage/out" || fail "make $goal: not one command for$list"
	grep -qx "install them as root, then run 'make $goal' again:" \
		"$stage/out" || fail "make $goal: not the make to run again"
}

# The machine of one who runs poolmgr: the build's packages are there,
# none of the tools that only the tests use.
tests_only="systemd systemd-container mandoc clang libclang-rt-14-dev
cppcheck valgrind time procps"
printf '%s\n' $tests_only > "$stage/missing"

make_as_user "$stage/dpkg:$stage/bin" deps
[ $rc = 0 ] || fail "make deps failed with only the tests' tools missing"
[ ! -s "$stage/out" ] || fail "make deps said something without the tests' tools"
ok "make deps: nothing missing without the tests' tools"

# make run goes on to build, which fails here, where there is no source.
make_as_user "$stage/dpkg:$stage/bin" run
if grep -q 'missing packages' "$stage/out"; then
	fail "make run asked for packages with only the tests' tools missing"
fi
grep -q 'No rule to make target' "$stage/out" ||
	fail "make run did not go on to build"
rm -rf "$stage/build" "$stage/run"
ok "make run: nothing missing without the tests' tools"

for goal in test-deps test check-build check-suite check-tsan fuzzers \
	lint test-systemd; do
	# shellcheck disable=SC2086
	asks_for $goal $tests_only
done
ok "make test and each test target: the tests' tools, in one command"

# Two of the build's packages missing too.
printf '%s\n' libevent-dev protobuf-c-compiler cppcheck > "$stage/missing"
asks_for run libevent-dev protobuf-c-compiler
ok "make run: only the build's missing packages"
asks_for test libevent-dev protobuf-c-compiler cppcheck
ok "make test: the build's and the tests' missing packages, together"

# A make of build and test goals at once (make -j2 all test) installs
# once: its build goals ask for the tests' tools too.  Two recipes side
# by side would meet on apt's lock as root, and ask twice without it.
make_as_user "$stage/dpkg:$stage/bin" -j2 all test
[ $rc != 0 ] || fail "make -j2 all test exited 0 with packages missing"
n=$(grep -c '^missing packages:' "$stage/out" || true)
[ "$n" = 1 ] || fail "make -j2 all test asked $n times, not once"
[ "$(asked)" = "$(sorted libevent-dev protobuf-c-compiler cppcheck)" ] ||
	fail "make -j2 all test asked for '$(asked)'"
ok "make -j2 all test: one command for all that is missing"
