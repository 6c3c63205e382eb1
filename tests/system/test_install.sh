#!/bin/sh
# test_install.sh - `make install DESTDIR=...` gives a complete, clean
# install: daemon, CLI, library with soname and only pool_* exported, header
# free of protobuf-c, pkg-config file, man pages (libpoolclient(3) under
# every function's name too), units, the Python binding, poolctl's bash
# completion where bash-completion loads it, the examples with a Makefile
# that builds them (share/doc/poolmgr/examples); a program built
# against the installed copy with pkg-config, one linked statically with
# pkg-config --static (the archive keeps only pool_* global), and a
# Python one, run against the installed daemon; `make uninstall`
# removes every file again.  A stage as a Debian package makes it
# (PREFIX=/usr, the multiarch LIBDIR) puts the library and poolclient.pc
# there, and they, the binding, the man pages and the units name the
# installed paths.
# And an install without DESTDIR runs ldconfig, a staged one does not (a
# stand-in ldconfig, which only says it ran); the binding it installs
# loads LIBDIR's library with no LD_LIBRARY_PATH.
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

# Records its arguments, one call a line: "" for a plain `ldconfig`.
ldconfig_log=$stage/ldconfig.log
printf '#!/bin/sh\necho "$*" >> "%s"\n' "$ldconfig_log" > "$stage/ldconfig"
chmod +x "$stage/ldconfig"

root=$stage/root
pre=$root/usr/local
# Other packages' files beside where ours go, which uninstall must leave.
pyv=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
others="lib/libother.so.1 lib/pkgconfig/other.pc include/other.h
	share/man/man3/other.3 share/doc/poolmgr/changelog.gz
	share/bash-completion/completions/other
	lib/python$pyv/dist-packages/other.py
	lib/python$pyv/dist-packages/__pycache__/other.cpython-0.pyc"
for f in $others; do
	mkdir -p "$(dirname "$pre/$f")"
	echo other > "$pre/$f"
done

# `make` and then `sudo make install`: the install finds all it copies
# made, and writes nothing in $build, where what root wrote would be
# root's, and the next make, or make clean, of the build's owner refused.
# ($build is as make, or the suite's make check-build, left it.)
touch "$stage/built"
make --no-print-directory -s install BUILD="$build" DESTDIR="$root" \
	PREFIX=/usr/local LDCONFIG="$stage/ldconfig" >/dev/null
made=$(find "$build" -maxdepth 1 -newer "$stage/built" -type f \
	! -name 'test-results*'
	find "$build/install" "$build/man" "$build/python" "$build/systemd" \
	-newer "$stage/built" -type f)
[ -z "$made" ] ||
	fail "make install made what make did not (or $build is older than" \
		"its sources: make first): $(echo "$made" | tr '\n' ' ')"
ok "after make, make install writes nothing in $build"
[ ! -e "$ldconfig_log" ] || fail "install with DESTDIR ran ldconfig"
ok "a staged install (DESTDIR) does not run ldconfig"

for f in sbin/poolmgrd bin/poolctl lib/libpoolclient.so.1.0.0 \
	lib/libpoolclient.so.1 lib/libpoolclient.so lib/libpoolclient.a \
	include/poolclient.h lib/pkgconfig/poolclient.pc \
	share/man/man8/poolmgrd.8 share/man/man1/poolctl.1 \
	share/man/man5/poolmgrd.conf.5 share/man/man3/libpoolclient.3 \
	share/bash-completion/completions/poolctl; do
	[ -e "$pre/$f" ] || fail "missing $f"
done
ok "every file is installed under the prefix"

# bash-completion loads completions/NAME when NAME is first completed:
# the installed file must register a completion for poolctl itself.
comp=$pre/share/bash-completion/completions/poolctl
cmp -s client/poolctl.bash "$comp" || fail "$comp is not client/poolctl.bash"
reg=$(bash --norc --noprofile -c '. "$1" && complete -p poolctl' sh "$comp") ||
	fail "sourcing $comp registers no completion of poolctl"
[ "$reg" = "complete -F _poolctl poolctl" ] ||
	fail "$comp registers '$reg'"
ok "bash completion of poolctl in share/bash-completion/completions"

# Under /usr/local, the directories the pages name: the pages as written.
for page in man1/poolctl.1 man3/libpoolclient.3 man5/poolmgrd.conf.5 \
	man8/poolmgrd.8; do
	cmp -s "docs/${page#*/}" "$pre/share/man/$page" ||
		fail "$page is not docs/${page#*/}"
done

# Every function libpoolclient(3) names has a page that sources it.
names=$(sed -n '/^\.SH NAME/,/^\\-/p' "$pre/share/man/man3/libpoolclient.3" |
	sed -e '/^\./d' -e '/^\\-/d' | tr ',' ' ')
[ -n "$names" ] || fail "no names in the NAME section of libpoolclient.3"
n=0
for name in $names; do
	[ "$name" = libpoolclient ] && continue
	page=$pre/share/man/man3/$name.3
	[ -f "$page" ] || fail "no man page alias $name.3"
	[ "$(cat "$page")" = ".so man3/libpoolclient.3" ] ||
		fail "$name.3 is not '.so man3/libpoolclient.3': $(cat "$page")"
	n=$((n + 1))
done
[ "$n" -ge 30 ] || fail "only $n aliases of libpoolclient.3"
if command -v man >/dev/null 2>&1; then
	for name in pool_alloc pool_strerror; do
		MANWIDTH=80 man -M "$pre/share/man" 3 "$name" 2>/dev/null |
			grep -q '^LIBPOOLCLIENT(3)' ||
			fail "man $name does not show libpoolclient(3)"
	done
	ok "$n aliases of libpoolclient(3); man pool_alloc and man pool_strerror show it"
else
	ok "$n aliases of libpoolclient(3) (no man(1) here to read them)"
fi

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

# The installed examples, with their Makefile, build as they are, in a
# copy (the documentation directory is not the reader's to write in).
ex=$pre/share/doc/poolmgr/examples
for f in producer.c consumer.c frames.c workers.py Makefile; do
	cmp -s "client/examples/$f" "$ex/$f" || fail "$ex/$f is not client/examples/$f"
done
cp -r "$ex" "$stage/examples"
make --no-print-directory -s -C "$stage/examples" >"$stage/examples.log" 2>&1 ||
	fail "make in a copy of $ex: $(cat "$stage/examples.log")"
for prog in producer consumer frames; do
	[ -x "$stage/examples/$prog" ] || fail "make in $ex made no $prog"
done
ok "the examples in share/doc/poolmgr/examples build with their Makefile"
# And with a reader's strict flags: the examples ask for POSIX themselves.
for std in c99 c11; do
	make --no-print-directory -s -C "$stage/examples" clean all \
		CFLAGS="-std=$std -pedantic -Wall -Wextra -Werror" \
		>"$stage/examples.log" 2>&1 ||
		fail "make CFLAGS='-std=$std -pedantic ...' in a copy of $ex:" \
			"$(cat "$stage/examples.log")"
done
ok "the examples build as C99 and C11 with -pedantic -Wall -Wextra -Werror"

# Statically, as libpoolclient(3) says (pkg-config --static), a program
# whose own functions are named as the library's internal ones are: the
# installed archive keeps only pool_* global, as the shared library
# exports only pool_*, so neither clashes nor replaces the other.
bad=$(nm -g --defined-only "$pre/lib/libpoolclient.a" |
	awk 'NF == 3 && $3 !~ /^pool_/ { print $3 }')
[ -z "$bad" ] || fail "libpoolclient.a defines beyond pool_*:" \
	"$(echo "$bad" | head -n 5 | tr '\n' ' ')..."
cat > "$stage/own.c" <<'EOF'
#include <poolclient.h>
#include <stdio.h>
#include <string.h>

/* The program's own, named as libpoolclient names internal ones. */
int conn_open(const char *path);
int cache_create(void);

int conn_open(const char *path) { return path != NULL ? 7 : 0; }
int cache_create(void) { return 11; }

int main(int argc, char **argv)
{
	static const char text[] = "statically linked";
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	if (argc != 2 || conn_open(argv[1]) != 7 || cache_create() != 11 ||
	    pool_connect(NULL, &c) != 0)
		return 1;
	if (pool_open(c, argv[1], &p) != 0 ||
	    pool_alloc(p, sizeof text, &off) != 0)
		return 2;
	memcpy(pool_ptr(p, off), text, sizeof text);
	if (pool_persist(p, off) != 0)
		return 3;
	printf("0x%llx\n", (unsigned long long)off);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}
EOF
# glibc warns of getpwnam_r and the like in a static program: not errors.
# shellcheck disable=SC2046
cc -static -std=c11 -Wall -Wextra -Werror -pedantic -o "$stage/own" \
	"$stage/own.c" $(pkg-config --static --cflags --libs poolclient) \
	> "$stage/own.log" 2>&1 ||
	fail "cc -static with pkg-config --static:" \
		"$(grep -v 'statically linked' "$stage/own.log")"
! readelf -d "$stage/own" | grep -q 'NEEDED.*libpoolclient' ||
	fail "the static program needs libpoolclient.so"
ok "cc -static app.c \$(pkg-config --static --cflags --libs poolclient)," \
	"with only pool_* global in libpoolclient.a"

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
out=$("$stage/examples/producer" shared "from the installed examples" |
	"$stage/examples/consumer" shared)
[ "$out" = "from the installed examples" ] ||
	fail "the installed examples' consumer printed '$out'"
out=$("$stage/own" shared | "$stage/consumer" shared)
[ "$out" = "statically linked" ] ||
	fail "consumer printed '$out' of the static program's block"
# The binding where python3 looks under the prefix, naming the installed
# library's directory; here (a stage) the loader finds the library.
pyd=$(dirname "$(find "$pre/lib" -path '*/dist-packages/poolclient.py')")
[ -f "$pyd/poolclient_lib.py" ] || fail "Python binding not installed"
grep -qx '_LIBDIR = "/usr/local/lib"' "$pyd/poolclient_lib.py" ||
	fail "installed poolclient_lib.py does not name LIBDIR"
offs=$(PYTHONPATH=$pyd python3 -c '
import poolclient
with poolclient.connect() as c, c.open("shared") as p:
    off = p.alloc(32)
    p.buffer(off, 14)[:] = b"from Python 3\0"
    p.persist(off)
    print(off)
maps = open("/proc/self/maps").read()
assert "'"$pre"'/lib/libpoolclient.so.1" in maps, "another libpoolclient"
') || fail "the installed Python binding failed"
out=$(echo "$offs" | "$stage/consumer" shared)
[ "$out" = "from Python 3" ] || fail "consumer printed '$out' of Python's block"
"$pre/bin/poolctl" check shared >/dev/null || fail "installed poolctl check"
kill "$daemon_pid"
wait "$daemon_pid" || fail "installed daemon did not stop cleanly"
daemon_pid=
ok "installed daemon, library, poolctl, examples, a static program and the Python binding work together"

# The staging pkg-config settings would move the unit directory: drop them.
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
make --no-print-directory -s uninstall BUILD="$build" DESTDIR="$root" \
	PREFIX=/usr/local >/dev/null
left=$(cd "$pre" && find . -type f -o -type l | sed 's|^\./||' | sort)
want=$(for f in $others; do echo "$f"; done | sort)
[ "$left" = "$want" ] ||
	fail "after uninstall, under the prefix: $(echo "$left" | tr '\n' ' ')" \
		"(others' only: $(echo "$want" | tr '\n' ' '))"
[ -z "$(cd "$root" && find . ! -path './usr/local/*' \( -type f -o -type l \))" ] ||
	fail "uninstall left files outside the prefix"
ok "uninstall removes every file it installed and no other"

# The installs below name other directories, so what names them (units,
# poolclient.pc, the binding, two man pages) is made again: in a build
# directory of the stage's, not in $build, which the suite's other tests
# read meanwhile.  It holds copies of $build's programs and libraries,
# which make takes as they are (-o), not having their objects.
own=$stage/build
mkdir -p "$own/install"
cp -p "$build/poolmgrd" "$build/poolctl" "$build/libpoolclient.so.1.0.0" \
	"$own/"
cp -p "$build/install/libpoolclient.a" "$own/install/"
as_built="BUILD=$own -o $own/poolmgrd -o $own/poolctl
	-o $own/libpoolclient.so.1.0.0 -o $own/install/libpoolclient.a"

# As a Debian package is staged: PREFIX=/usr and the multiarch LIBDIR.
# The libraries and poolclient.pc go to LIBDIR, and the .pc and the
# binding name it; the binding goes where Debian's python3 looks.
ma=$(cc -print-multiarch 2>/dev/null || true)
ma=${ma:-x86_64-linux-gnu}
deb=$stage/deb
usr="PREFIX=/usr LIBDIR=/usr/lib/$ma"
# shellcheck disable=SC2086
make --no-print-directory -s install $as_built DESTDIR="$deb" $usr \
	>/dev/null
for f in "lib/$ma/libpoolclient.so.1.0.0" "lib/$ma/libpoolclient.so" \
	"lib/$ma/libpoolclient.a" "lib/$ma/pkgconfig/poolclient.pc" \
	include/poolclient.h sbin/poolmgrd bin/poolctl \
	lib/python3/dist-packages/poolclient.py; do
	[ -e "$deb/usr/$f" ] || fail "$usr: missing usr/$f"
done
v=$(PKG_CONFIG_PATH=$deb/usr/lib/$ma/pkgconfig pkg-config \
	--variable=libdir poolclient)
[ "$v" = "/usr/lib/$ma" ] || fail "$usr: poolclient.pc's libdir is '$v'"
v=$(PKG_CONFIG_PATH=$deb/usr/lib/$ma/pkgconfig pkg-config \
	--variable=includedir poolclient)
[ "$v" = /usr/include ] || fail "$usr: poolclient.pc's includedir is '$v'"
grep -qx "_LIBDIR = \"/usr/lib/$ma\"" \
	"$deb/usr/lib/python3/dist-packages/poolclient_lib.py" ||
	fail "$usr: poolclient_lib.py does not name /usr/lib/$ma"
# The pages' FILES name the directories of this install, not /usr/local's.
man=$deb/usr/share/man
! grep -n /usr/local "$man/man1/poolctl.1" "$man/man3/libpoolclient.3" ||
	fail "$usr: man pages name /usr/local (above)"
grep -qxF '.I /usr/share/bash\-completion/completions/poolctl' \
	"$man/man1/poolctl.1" || fail "$usr: poolctl(1) names no completion"
grep -qxF '.I /usr/share/doc/poolmgr/examples' "$man/man3/libpoolclient.3" ||
	fail "$usr: libpoolclient(3) does not name the examples' directory"
unit=$(find "$deb" -name poolmgrd.service)
grep -qx 'ExecStart=/usr/sbin/poolmgrd --config /etc/poolmgrd.conf' "$unit" ||
	fail "$usr: $unit: $(grep '^ExecStart=' "$unit")"
# shellcheck disable=SC2086
make --no-print-directory -s uninstall $as_built DESTDIR="$deb" $usr \
	>/dev/null
left=$(find "$deb" -type f -o -type l)
[ -z "$left" ] || fail "$usr: uninstall left: $left"
ok "$usr: the library, poolclient.pc, the binding, the man pages and" \
	"the units name the paths installed to; uninstall removes them"

# Without DESTDIR, as `sudo make install` does, but into the stage: a
# prefix of one's own, with no unit or sysusers directory given, puts
# those under it too, so that nothing lands outside it.
sys=$stage/sys
dirs="PREFIX=$sys/usr/local"
# shellcheck disable=SC2086
make --no-print-directory -s install $as_built $dirs \
	LDCONFIG="$stage/ldconfig" >/dev/null
[ -f "$sys/usr/local/lib/libpoolclient.so.1.0.0" ] ||
	fail "install without DESTDIR did not install the library"
[ -f "$ldconfig_log" ] || fail "install without DESTDIR did not run ldconfig"
for f in lib/systemd/system/poolmgrd.service lib/systemd/system/poolmgrd.socket \
	lib/sysusers.d/poolmgrd.conf; do
	[ -f "$sys/usr/local/$f" ] ||
		fail "an install to a prefix of one's own did not put $f under it"
done
[ "$(head -n 1 "$ldconfig_log")" = "" ] ||
	fail "install ran 'ldconfig $(head -n 1 "$ldconfig_log")', not 'ldconfig'"
# Installed so, the binding loads the library from LIBDIR by itself: no
# LD_LIBRARY_PATH, no POOLCLIENT_LIB, run outside the source tree.
pyd=$(dirname "$(find "$sys/usr/local/lib" -path '*/dist-packages/poolclient.py')")
loaded=$(cd "$stage" && env -u LD_LIBRARY_PATH -u POOLCLIENT_LIB \
	PYTHONPATH="$pyd" python3 -c '
import poolclient
print(*[l.split()[-1] for l in open("/proc/self/maps") if "libpoolclient" in l][:1])
') || fail "the binding installed without DESTDIR does not import"
[ "$loaded" = "$sys/usr/local/lib/libpoolclient.so.1.0.0" ] ||
	fail "the binding installed without DESTDIR loaded '$loaded'"
# shellcheck disable=SC2086
make --no-print-directory -s uninstall $as_built $dirs >/dev/null
left=$(find "$sys" -type f -o -type l)
[ -z "$left" ] || fail "uninstall left: $left"
ok "an install without DESTDIR runs ldconfig; its Python binding loads" \
	"LIBDIR's library without LD_LIBRARY_PATH"
echo "test_install: all passed"
