#!/bin/sh
# test_manpages.sh - the four man pages are clean: `mandoc -T lint -W
# warning` prints nothing, `groff -ww -z -man` prints nothing (when groff is
# installed), and `man -l` renders each page without a word on stderr.
# mandoc is required (make test-deps installs it); groff and man are not.
#
# And they agree with the programs: poolmgrd(8) and poolctl(1) show what
# --version prints (when $POOLMGR_BUILD, default build, has the programs),
# poolmgrd(8) what its --restart-probe prints,
# and poolctl(1) lists every JSON key and Prometheus metric that
# poolctl prints (client/poolctl_print*.c, and poolctl_status.c for
# `status`), under the command that prints it.
# And the configuration files shown (poolmgrd.conf(5)'s example, README.md's)
# load: `poolmgrd --check-config` takes them.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
pages="docs/poolmgrd.8 docs/poolctl.1 docs/poolmgrd.conf.5 docs/libpoolclient.3"
errs=$(mktemp /tmp/poolmgr-manpages.XXXXXX)
trap 'rm -f "$errs"' EXIT

if ! command -v mandoc >/dev/null 2>&1; then
	echo "test_manpages: FAIL: mandoc is not installed; run 'make test-deps'" \
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

# The paragraph of poolctl(1)'s JSON OUTPUT whose tag begins with the word
# $1, with the escapes undone so that a key reads as itself.
json_para() {
	awk -v want="$1" '
		/^\.SH / { sec = ($0 ~ /^\.SH JSON OUTPUT/); on = 0; next }
		!sec { next }
		/^\.TP/ { tag = 1; on = 0; next }
		tag { tag = 0; split($0, w, /[ ,]+/); on = (w[2] == want) }
		on { print }
	' "$root/docs/poolctl.1" | sed -e 's/\\(dq/"/g' -e 's/\\//g'
}

# Does the text on stdin hold word $1, not as part of a longer key?
has_word() {
	grep -Eq "(^|[^A-Za-z0-9_])$1([^A-Za-z0-9_]|\$)"
}

page=docs/poolctl.1
ok=1
# Function and key of every JSON member poolctl prints: the stat_fields[]
# keys (SF) are json_stats', the others the function's they are added in.
# Each command's result is printed in one of the poolctl_print*.c.
keys=$(awk '
	/^[a-z_]+\(/ { fn = substr($0, 1, index($0, "(") - 1) }
	/^\tSF\(/ { k = $0; sub(/^\tSF\(/, "", k); sub(/,.*/, "", k)
		print "json_stats", k }
	/json_object_object_add\([a-z]+, "/ { match($0, /"[a-z_]+"/)
		print fn, substr($0, RSTART + 1, RLENGTH - 2) }
' "$root"/client/poolctl_print*.c)
if [ -z "$keys" ]; then
	echo "test_manpages: FAIL: found no JSON keys in" \
	    "client/poolctl_print*.c"
	ok=0
fi
# (The loop runs in a subshell: its exit status carries the verdict.)
echo "$keys" | {
	bad=0
	while read -r fn key; do
		case $fn in
		json_stats)	cmd=list ;;
		json_client)	cmd=clients ;;
		json_persisted)	cmd=persisted ;;
		json_add_name)	cmd=names ;;	# and wait's
		print_*)	cmd=${fn#print_} ;;
		*)		echo "test_manpages: FAIL: JSON key $key is" \
				    "added in $fn(), which is no command's"
				bad=1
				continue ;;
		esac
		if ! json_para "$cmd" | has_word "$key"; then
			echo "test_manpages: FAIL: $page: JSON OUTPUT of" \
			    "$cmd lacks $key"
			bad=1
		fi
	done
	exit $bad
} || ok=0
# And `status`'s: every DF() key of client/poolctl_status.c, and server.
for key in server $(sed -n 's/^\tDF(\([a-z_]*\),.*/\1/p' \
    "$root/client/poolctl_status.c"); do
	if ! json_para status | has_word "$key"; then
		echo "test_manpages: FAIL: $page: JSON OUTPUT of status lacks $key"
		ok=0
	fi
done
for m in $(cat "$root"/client/poolctl_print*.c \
    "$root/client/poolctl_status.c" |
    grep -o '"poolmgr_\(pool\|daemon\)_[a-z_]*' | tr -d '"' | sort -u); do
	if ! sed -n '/^\.SH PROMETHEUS OUTPUT/,/^\.SH /p' "$root/$page" |
	    has_word "$m"; then
		echo "test_manpages: FAIL: $page: PROMETHEUS OUTPUT lacks $m"
		ok=0
	fi
done

build=${POOLMGR_BUILD:-build}
case $build in
/*)	;;
*)	build=$root/$build ;;
esac

# The configuration files shown, the first example of poolmgrd.conf(5)'s
# EXAMPLES and README.md's ```ini block, load: `poolmgrd --check-config`
# takes them.  The users and groups they name are an installed system's
# (poolmgr, video, ...), which this one need not have: they are read as
# this process's uid and gid.
conf=$(mktemp /tmp/poolmgr-manpages-conf.XXXXXX)
trap 'rm -f "$errs" "$conf"' EXIT
check_conf() {
	sed -i -E -e "s/^(owner *= *)[^ ;]+/\\1$(id -u)/" \
	    -e "s/^((admin_)?group *= *)[^ ;]+/\\1$(id -g)/" "$conf"
	if [ ! -s "$conf" ]; then
		echo "test_manpages: FAIL: no configuration found in $1"
		ok=0
	elif [ ! -x "$build/poolmgrd" ]; then
		echo "test_manpages: note: no $build/poolmgrd; not loading" \
		    "the configuration of $1"
	elif ! "$build/poolmgrd" --check-config --config "$conf" \
	    > "$errs" 2>&1; then
		echo "test_manpages: FAIL: the configuration of $1 does not load:"
		sed 's/^/    /' "$errs"
		ok=0
	fi
}
awk '/^\.SH / { sec = ($0 ~ /^\.SH EXAMPLES/); next }
	sec && /^\.EX/ && !done { on = 1; next }
	on && /^\.EE/ { on = 0; done = 1 }
	on' "$root/docs/poolmgrd.conf.5" | sed 's/\\//g' > "$conf"
check_conf docs/poolmgrd.conf.5
awk '/^```ini/ { on = 1; next } /^```/ { on = 0 } on' "$root/README.md" \
    > "$conf"
check_conf README.md

# poolmgrd's options: the ones getopt_long takes, the usage lines of
# --help, its option list, and poolmgrd(8)'s SYNOPSIS and OPTIONS name the
# same ones.  Each is read as its long name, through the pairs
# ("-s, --socket") of the option list.
opt_words() {
	sed 's/\\-/-/g' | grep -Eo -- '(^|[^A-Za-z0-9-])--?[a-z][a-z-]*' |
	    sed 's/^[^-]*//' | sort -u
}
long_names() {
	while read -r o; do
		case $o in
		--*)	echo "$o" ;;
		*)	l=$(printf '%s\n' "$help" |
			    sed -n "s/^ *$o, \(--[a-z-]*\).*/\1/p")
			echo "${l:-$o (no long name in --help)}" ;;
		esac
	done | sort -u
}
same_opts() {
	if [ "$2" != "$4" ]; then
		echo "test_manpages: FAIL: poolmgrd's options differ:"
		echo "    $1: $(echo $2)"
		echo "    $3: $(echo $4)"
		ok=0
	fi
}
if [ -x "$build/poolmgrd" ]; then
	help=$("$build/poolmgrd" --help)
	usage=$(printf '%s\n' "$help" | sed '/^$/q' | opt_words | long_names)
	table=$(printf '%s\n' "$help" | sed '1,/^$/d' | grep -E '^ +-' |
	    sed 's/^ *//; s/ [A-Z]\{2,\}.*//; s/  .*//' | opt_words | long_names)
	synopsis=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' \
	    "$root/docs/poolmgrd.8" | opt_words | long_names)
	options=$(awk '/^\.SH / { sec = ($0 ~ /^\.SH OPTIONS/); next }
		sec && /^\.TP/ { getline; print }' "$root/docs/poolmgrd.8" |
	    opt_words | long_names)
	# And the options getopt_long takes (opts[] of daemon/poolmgrd.c,
	# and the letters of its string) are those --help lists.
	src_c=$root/daemon/poolmgrd.c
	getopt=$( {
		sed -n '/struct option opts\[\] = {/,/};/s/^[^"]*{"\([a-z-]*\)",.*/--\1/p' \
		    "$src_c"
		sed -n 's/.*getopt_long(argc, argv, "\([^"]*\)".*/\1/p' "$src_c" |
		    tr -d ':' | sed 's/./-& /g'
	} | tr ' ' '\n' | grep . | long_names)
	same_opts "--help's usage lines" "$usage" "its option list" "$table"
	same_opts "getopt_long's options (daemon/poolmgrd.c)" "$getopt" \
	    "--help's option list" "$table"
	same_opts "--help's option list" "$table" \
	    "docs/poolmgrd.8 SYNOPSIS" "$synopsis"
	same_opts "--help's option list" "$table" \
	    "docs/poolmgrd.8 OPTIONS" "$options"
fi

for pair in poolmgrd:docs/poolmgrd.8 poolctl:docs/poolctl.1; do
	prog=${pair%%:*} page=${pair#*:}
	if [ ! -x "$build/$prog" ]; then
		echo "test_manpages: note: no $build/$prog; not comparing" \
		    "its --version with $page"
		continue
	fi
	version=$("$build/$prog" --version)
	if ! grep -qxF ".B $version" "$root/$page"; then
		echo "test_manpages: FAIL: $page does not show" \
		    "\"$version\", what $prog --version prints"
		ok=0
	fi
done
# And the state versions --restart-probe prints, which poolmgrd(8) quotes.
if [ -x "$build/poolmgrd" ]; then
	probe=$("$build/poolmgrd" --restart-probe)
	if ! grep -qxF ".I \"$probe\"" "$root/docs/poolmgrd.8"; then
		echo "test_manpages: FAIL: docs/poolmgrd.8 does not show" \
		    "\"$probe\", what poolmgrd --restart-probe prints"
		ok=0
	fi
fi
if [ "$ok" = 1 ]; then
	echo "test_manpages: ok: the pages agree with the programs"
else
	status=1
fi
exit $status
