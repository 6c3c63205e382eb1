#!/bin/sh
# test_manpages.sh - the four man pages are clean: `mandoc -T lint -W
# warning` prints nothing, `groff -ww -z -man` prints nothing (when groff is
# installed), and `man -l` renders each page without a word on stderr.
# mandoc is required (make deps installs it); groff and man are not.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
pages="docs/poolmgrd.8 docs/poolctl.1 docs/poolmgrd.conf.5 docs/libpoolclient.3"
errs=$(mktemp /tmp/poolmgr-manpages.XXXXXX)
trap 'rm -f "$errs"' EXIT

if ! command -v mandoc >/dev/null 2>&1; then
	echo "test_manpages: FAIL: mandoc is not installed; run 'make deps'" \
	    "(or apt-get install mandoc)"
	exit 1
fi
have_groff=0
if command -v groff >/dev/null 2>&1; then
	have_groff=1
else
	echo "test_manpages: note: groff is not installed; skipping the groff check"
fi
have_man=0
if command -v man >/dev/null 2>&1; then
	have_man=1
else
	echo "test_manpages: note: man is not installed; skipping the man -l check"
fi

# Run a command; its stderr (and, with "all", its stdout) must be empty and
# its status 0.  Prints what it said and returns 1 otherwise.
quiet() {
	what=$1 out=$2
	shift 2
	rc=0
	if [ "$out" = all ]; then
		"$@" >"$errs" 2>&1 || rc=$?
	else
		"$@" 2>"$errs" >/dev/null || rc=$?
	fi
	if [ "$rc" -ne 0 ] || [ -s "$errs" ]; then
		echo "test_manpages: FAIL: $page: $what (exit $rc):"
		sed 's/^/    /' "$errs"
		return 1
	fi
	return 0
}

status=0
for page in $pages; do
	file=$root/$page
	if [ ! -f "$file" ]; then
		echo "test_manpages: FAIL: $page: missing"
		status=1
		continue
	fi
	ok=1
	checks="mandoc lint"
	quiet "mandoc -T lint -W warning" all \
	    mandoc -T lint -W warning "$file" || ok=0
	if [ "$have_groff" = 1 ]; then
		checks="$checks, groff -ww"
		quiet "groff -ww -z -man" all groff -ww -z -man "$file" || ok=0
	fi
	if [ "$have_man" = 1 ]; then
		checks="$checks, man -l"
		quiet "man -l" stderr env MANWIDTH=80 man -l "$file" || ok=0
	fi
	if [ "$ok" = 1 ]; then
		echo "test_manpages: ok: $page ($checks)"
	else
		status=1
	fi
done
exit $status
