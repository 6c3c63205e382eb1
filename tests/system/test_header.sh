#!/bin/sh
# test_header.sh - the public header and the library agree, and the header
# serves every compiler it promises (docs/libpoolclient.3, "STANDARDS").
#
#   - every function client/poolclient.h declares (its POOL_API lines) is
#     exported by libpoolclient.so, and nothing else is: a function added
#     to the header but missing from libpoolclient.sym, or exported by
#     mistake, fails here rather than at a user's link;
#   - every exported function has a version node, the one that names it
#     in libpoolclient.sym (no pattern catches a forgotten one);
#   - a program that includes the header (first, and twice) and takes the
#     address of every declared function compiles without a warning and
#     links against the library: as C99 and C11 with -pedantic, and as
#     C++11 and C++17 with -pedantic (the header's extern "C" block).
#
# Reads ${POOLMGR_BUILD:-build}/libpoolclient.so.1.0.0; builds nothing of
# the project.  Needs cc and c++ (build-essential, which make deps installs).
set -eu

build=${POOLMGR_BUILD:-build}
src=$(cd "$(dirname "$0")/../.." && pwd)
header=$src/client/poolclient.h
lib=$build/libpoolclient.so.1.0.0

fail() {
	echo "test_header: FAIL: $*"
	exit 1
}
ok() {
	echo "test_header: ok: $*"
}

[ -f "$lib" ] || fail "no $lib: build first (make)"
command -v nm >/dev/null 2>&1 || fail "nm not found: install binutils"
command -v c++ >/dev/null 2>&1 || fail "c++ not found: install g++ (make deps)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/poolmgr-header.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# The functions declared: "POOL_API type name(...", the name before "(".
grep '^POOL_API' "$header" |
	sed -e 's/(.*//' -e 's/.*[ *]//' | sort > "$tmp/declared"
n=$(wc -l < "$tmp/declared")
[ "$n" -gt 30 ] || fail "only $n declarations found in $header"

# The functions exported, with their version nodes: one name for a
# function kept at an older node beside its default (pool_stats).
nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' > "$tmp/versioned"
sed 's/@.*//' "$tmp/versioned" | sort -u > "$tmp/exported"
if ! cmp -s "$tmp/declared" "$tmp/exported"; then
	echo "declared in the header (<) against exported by the library (>):"
	diff "$tmp/declared" "$tmp/exported" || true
	fail "the header and the library's exports differ"
fi
ok "the $n functions the header declares are what the library exports"

unversioned=$(grep -v '@@*LIBPOOLCLIENT_' "$tmp/versioned" || true)
[ -z "$unversioned" ] ||
	fail "exported without a version node: $unversioned"
ok "every export has a LIBPOOLCLIENT_ version node"

# The node a function is exported at (name@@NODE) is the one that names
# it in libpoolclient.sym, by its name: no pattern puts a function the
# script forgot into LIBPOOLCLIENT_1.
awk '/^[A-Za-z_][A-Za-z0-9_.]* *[{]/ { node = $1 }
	/^[ \t]+[a-z_][a-z0-9_]*;[ \t]*$/ {
		sub(/^[ \t]+/, ""); sub(/;.*/, ""); print $0 "@@" node
	}' "$src/client/libpoolclient.sym" | sort > "$tmp/named"
grep '@@' "$tmp/versioned" | sort > "$tmp/defaults"
if ! cmp -s "$tmp/named" "$tmp/defaults"; then
	echo "named in libpoolclient.sym (<) against exported at (>):"
	diff "$tmp/named" "$tmp/defaults" || true
	fail "a function is exported at a node that does not name it"
fi
ok "each of the $(wc -l < "$tmp/defaults") functions is exported at the node" \
	"that names it in libpoolclient.sym"

# A program that names every declared function.  Casts between function
# pointer types are valid C and C++; object pointers would not be.
{
	echo '#include "poolclient.h"'
	echo '#include "poolclient.h"	/* the include guard */'
	echo 'typedef void (*any_fn)(void);'
	echo 'static const any_fn every_function[] = {'
	sed 's/.*/	(any_fn)&,/' "$tmp/declared"
	echo '};'
	echo 'int main(void)'
	echo '{'
	echo '	return every_function[0] == 0;'
	echo '}'
} > "$tmp/every.c"
cp "$tmp/every.c" "$tmp/every.cpp"

for std in c99 c11; do
	cc -std=$std -pedantic -Wall -Wextra -Werror -Wstrict-prototypes \
	    -Wmissing-prototypes -I"$src/client" -o "$tmp/every-$std" \
	    "$tmp/every.c" "$lib" > "$tmp/cc.out" 2>&1 ||
		{ cat "$tmp/cc.out"; fail "the header as $std"; }
	ok "$std -pedantic: every function declared, named and linked"
done
for std in c++11 c++17; do
	c++ -std=$std -pedantic -Wall -Wextra -Werror -I"$src/client" \
	    -o "$tmp/every-$std" "$tmp/every.cpp" "$lib" > "$tmp/cc.out" 2>&1 ||
		{ cat "$tmp/cc.out"; fail "the header as $std"; }
	ok "$std -pedantic: every function declared, named and linked"
done
echo "test_header: all passed"
