#!/bin/sh
# test_docs.sh - the documentation names what the code has, and nothing
# it lacks.  Every list is read from the sources or from the programs
# built, never kept here, so that an option, key, function, field or
# error code added without its words fails here:
#
#   - poolctl: the commands of cmds[] (client/poolctl.c) are those of
#     `poolctl help`, of poolctl(1)'s COMMANDS and of docs/poolctl.md's;
#     each command's synopsis in `poolctl help COMMAND` is its tag in
#     poolctl(1) and its heading in poolctl.md, and names the options
#     poolctl takes for it (asked of poolctl itself: an option it does not
#     take is "does not apply"); every option of longopts[] and every
#     letter of the getopt string has its tag in poolctl(1)'s OPTIONS,
#     whose "For ..." names the commands that take it, and nothing else;
#     every --option poolctl(1) and poolctl.md name is one of longopts[];
#     README.md's summary of poolctl lists every command, with every
#     option of its synopsis, and no option poolctl lacks.
#   - poolmgrd.conf(5): the keys daemon/config.c reads in [daemon]
#     (daemon_key) and in [pool NAME] (pool_key) are the keys each section
#     of the page describes; each [daemon] key's Default: is
#     config_defaults()'s, and the keys the page says take effect on
#     SIGHUP are those a reload's log line names (config_changes.c).
#   - poolctl status: status_fields[] is every member of struct
#     pool_daemon_stats, and poolctl.md names its JSON keys and metrics.
#   - libpoolclient(3): every function client/poolclient.h declares
#     (POOL_API) is in NAME, has the header's prototype in SYNOPSIS and a
#     tag in DESCRIPTION, and the page has no other; every structure
#     and enum it shows has the header's members (types, names, order),
#     and every #define it shows the header's value; pool_daemon_stats's
#     paragraph names every member of its structure, which it does not
#     show, the reserved room too, and no other.
#   - docs/protocol.md: every message and enum of proto/poolmgr.proto is
#     named, and every field: as `Message.field`, in a list
#     `Message{field, ...}` (or a Reply body's, `alloc{offset, ...}`), or
#     as `field` beside its message (in one table row or paragraph); every
#     such name the page gives is the .proto's, and every "(field N)" the
#     page gives is the field's number.
#   - pool_strerror: the codes client/errors.c has its own words for are
#     the codes libpoolclient(3)'s ERRORS describes (none left to the C
#     library's words, which speak of files and devices), and
#     pool_strerror has words (neither empty nor "unknown error") for
#     each.
#
# (poolmgrd's options: test_manpages.sh.)  Reads ${POOLMGR_BUILD:-build}'s
# poolctl and libpoolclient.so.1.0.0; builds nothing of the project.
# Needs mandoc (make test-deps) and cc.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${POOLMGR_BUILD:-build}
case $build in
/*)	;;
*)	build=$src/$build ;;
esac
poolctl=$build/poolctl
lib=$build/libpoolclient.so.1.0.0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/poolmgr-docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

status=0
fail() {
	echo "test_docs: FAIL: $*"
	status=1
}
ok() {
	echo "test_docs: ok: $*"
}
# The lines of file $1 not in file $2, both sorted: what $3 lacks.
lacks() {
	comm -23 "$1" "$2" > "$tmp/lacks"
	if [ -s "$tmp/lacks" ]; then
		fail "$3: $(tr '\n' ' ' < "$tmp/lacks")"
		return 1
	fi
	return 0
}
# Both ways: $1 and $2 hold the same lines; $3 and $4 name them.
same() {
	lacks "$1" "$2" "$4 lacks what $3 has" || { lacks "$2" "$1" "$4 has what $3 lacks"; return 1; }
	lacks "$2" "$1" "$4 has what $3 lacks"
}

command -v mandoc >/dev/null 2>&1 ||
	{ fail "mandoc is not installed; run 'make test-deps'"; exit 1; }
[ -x "$poolctl" ] || { fail "no $poolctl: build first (make)"; exit 1; }
[ -f "$lib" ] || { fail "no $lib: build first (make)"; exit 1; }

# A man page as text, one line a paragraph (no filling at 80 columns).
render() {
	mandoc -T ascii -O width=1000 "$1" | sed 's/.\x08//g'
}
# The lines of section $1 of the rendered page on stdin.
section() {
	awk -v want="$1" '/^[A-Z]/ { on = ($0 == want); next } on'
}

# --- poolctl ----------------------------------------------------------
ctl_c=$src/client/poolctl.c
render "$src/docs/poolctl.1" > "$tmp/poolctl.txt"
section COMMANDS < "$tmp/poolctl.txt" > "$tmp/commands.txt"
section OPTIONS < "$tmp/poolctl.txt" > "$tmp/options.txt"

# longopts[]: "name has-argument value" ('s' for -s, OPT_SIZE for none).
sed -n '/^static const struct option longopts\[\]/,/^};/s/^\t{ "\([a-z-]*\)",[ \t]*\([a-z]*\)_argument,[ \t]*NULL, \([^ ]*\) }.*/\1 \2 \3/p' \
    "$ctl_c" > "$tmp/longopts"
[ "$(wc -l < "$tmp/longopts")" -gt 20 ] ||
	fail "found only $(wc -l < "$tmp/longopts") options in longopts[] of $ctl_c"
cut -d' ' -f1 "$tmp/longopts" | sed 's/^/--/' | sort > "$tmp/long_names"
# The letters of the getopt string, and the long option each stands for.
letters=$(sed -n 's/.*getopt_long(argc, argv, "\([^"]*\)".*/\1/p' "$ctl_c" |
    tr -d -- '-:')
[ -n "$letters" ] || fail "no getopt string in $ctl_c"
# A short option as its long name: -n as --numeric.
long_of() {
	case $1 in
	--*)	echo "$1" ;;
	-?)	l=$(awk -v v="'${1#-}'" '$3 == v { print "--" $1 }' \
		    "$tmp/longopts")
		echo "${l:-$1}" ;;
	esac
}
# The options words on stdin name (-n, --format=FMT, [--pid PID ...]),
# as long names, one a line, sorted.
opts_named() {
	grep -oE -- '(^|[][ |,(])--?[a-zA-Z][a-z-]*' | sed 's/^[^-]*//' |
	    while read -r o; do long_of "$o"; done | sort -u
}

sed -n '/^static const struct cmd cmds\[\]/,/^};/s/^\t{ "\([a-z]*\)", cmd_.*/\1/p' \
    "$ctl_c" > "$tmp/cmds_src"
{ cat "$tmp/cmds_src"; echo help; } | sort > "$tmp/cmds"
"$poolctl" help > "$tmp/help"
sed -n '/^Commands:/,/^$/s/^  \([a-z]*\) .*/\1/p' "$tmp/help" | sort \
    > "$tmp/cmds_help"
awk '/^       [a-z]/ { print $1 }' "$tmp/commands.txt" | sort > "$tmp/cmds_man"
# poolctl.md: each command a "### `COMMAND ...`" heading (help has none).
sed -n '/^## COMMANDS/,/^## [^C]/s/^### `\(.*\)`$/\1/p' \
    "$src/docs/poolctl.md" > "$tmp/md_heads"
{ cut -d' ' -f1 "$tmp/md_heads"; echo help; } | sort > "$tmp/cmds_md"
n=$(wc -l < "$tmp/cmds_src")
[ "$n" -gt 10 ] || fail "found only $n commands in cmds[] of $ctl_c"
r=0
same "$tmp/cmds" "$tmp/cmds_help" "cmds[]" "'poolctl help'" || r=1
same "$tmp/cmds" "$tmp/cmds_man" "cmds[]" "poolctl(1) COMMANDS" || r=1
same "$tmp/cmds" "$tmp/cmds_md" "cmds[]" "docs/poolctl.md COMMANDS" || r=1
[ $r = 1 ] || ok "the $n commands of cmds[] are those of 'poolctl help', poolctl(1) and poolctl.md"

# The global options: those of `poolctl help`'s Options and usage line.
sed -n '1p;/^Options/,/^$/p' "$tmp/help" | opts_named > "$tmp/global"
# Whether poolctl takes option $2 (a long name) for command $1: all is
# checked before it connects, and an option the command does not take is
# "does not apply" whatever else is wrong with the line.
takes() {
	a=$(awk -v o="${2#--}" '$1 == o { print $2 }' "$tmp/longopts")
	if [ "$a" = no ]; then
		set -- "$1" "$2"
	else
		set -- "$1" "$2" 1
	fi
	! "$poolctl" -s "$tmp/no-socket" "$@" 2>&1 >/dev/null |
	    grep -q 'does not apply'
}
# Keep "-f|--force" as "--force" (one option, two names): the help's
# synopsis and the pages may say either.
one_name() {
	sed -E 's/(^|[[ ])-[a-zA-Z]\|--/\1--/g'
}
r=0
: > "$tmp/takers"
while read -r cmd; do
	[ "$cmd" = help ] && continue
	syn=$("$poolctl" help "$cmd" | sed -n '1s/^usage: poolctl \[--socket PATH\] \[--json\] //p')
	[ -n "$syn" ] || { fail "'poolctl help $cmd' has no usage line"; r=1; continue; }
	man=$(awk -v c="$cmd" '/^       [a-z]/ && $1 == c {
		s = substr($0, 8); sub(/   .*/, "", s); print s }' \
	    "$tmp/commands.txt")
	md=$(awk -v c="$cmd" '$1 == c' "$tmp/md_heads")
	want=$(echo "$syn" | one_name)
	if [ "$(echo "$man" | one_name)" != "$(echo "$want" | tr '[:upper:]' '[:lower:]')" ]; then
		fail "$cmd: poolctl(1) says '$man', 'poolctl help $cmd' '$syn'"
		r=1
	fi
	if [ "$(echo "$md" | one_name)" != "$want" ]; then
		fail "$cmd: poolctl.md says '$md', 'poolctl help $cmd' '$syn'"
		r=1
	fi
	# The options poolctl takes for it, beyond the global ones.
	: > "$tmp/taken"
	for o in $(cat "$tmp/long_names"); do
		if takes "$cmd" "$o"; then
			echo "$o" >> "$tmp/taken"
			echo "$o $cmd" >> "$tmp/takers"
		elif grep -qxF -- "$o" "$tmp/global"; then
			fail "$cmd: poolctl refuses the global option $o"
			r=1
		fi
	done
	sort "$tmp/taken" | comm -23 - "$tmp/global" > "$tmp/taken_own"
	echo "$syn" | opts_named > "$tmp/syn_opts"
	same "$tmp/taken_own" "$tmp/syn_opts" "what poolctl takes for $cmd" \
	    "'poolctl help $cmd' usage" || r=1
	"$poolctl" help "$cmd" | opts_named > "$tmp/help_opts"
	lacks "$tmp/taken_own" "$tmp/help_opts" \
	    "'poolctl help $cmd' does not explain" || r=1
done < "$tmp/cmds"
[ $r = 1 ] || ok "each command's synopsis is the same in 'poolctl help', poolctl(1) and poolctl.md, and names the options poolctl takes for it"

# poolctl(1)'s OPTIONS: tag lines, then the paragraph; "For A, B and C."
# names the commands a group of options is for, none: global.
awk '
	/^       -/ { if (!tag) n++; tag = 1
		s = substr($0, 8); print "T", n, s; next }
	/^       *[^ ]/ && tag { tag = 0; s = $0; sub(/^ */, "", s)
		if (s ~ /^For /) { sub(/[.:].*/, "", s); print "F", n, s }
		else print "G", n }
	/^       [^ -]/ { tag = 0 }
' "$tmp/options.txt" > "$tmp/opt_groups"
r=0
awk '$1 == "T" { $1 = ""; $2 = ""; print }' "$tmp/opt_groups" |
    opts_named > "$tmp/man_opts"
same "$tmp/long_names" "$tmp/man_opts" "longopts[]" "poolctl(1) OPTIONS" ||
    r=1
# Each group: its options, and the commands it is for.
for g in $(awk '$1 != "T" { print $2 }' "$tmp/opt_groups"); do
	awk -v g="$g" '$1 == "T" && $2 == g { $1 = ""; $2 = ""; print }' \
	    "$tmp/opt_groups" | opts_named > "$tmp/g_opts"
	kind=$(awk -v g="$g" '$1 != "T" && $2 == g { print $1 }' "$tmp/opt_groups")
	if [ "$kind" = G ]; then
		lacks "$tmp/g_opts" "$tmp/global" \
		    "poolctl(1) gives as global what 'poolctl help' does not" || r=1
		continue
	fi
	awk -v g="$g" '$1 == "F" && $2 == g { $1 = ""; $2 = ""; print }' \
	    "$tmp/opt_groups" | tr -s ' ,' '\n' | grep -xF -f "$tmp/cmds" |
	    sort -u > "$tmp/g_for"
	for o in $(cat "$tmp/g_opts"); do
		awk -v o="$o" '$1 == o { print $2 }' "$tmp/takers" | sort \
		    > "$tmp/o_takers"
		same "$tmp/o_takers" "$tmp/g_for" "the commands poolctl takes $o for" \
		    "poolctl(1) OPTIONS' \"For\" of $o" || r=1
	done
done
# Each letter of the getopt string: "-X, --long" in poolctl(1) and in
# some help of poolctl's.
for l in $(echo "$letters" | sed 's/./& /g'); do
	long=$(long_of "-$l")
	case $long in
	--*)	;;
	*)	fail "-$l of the getopt string has no long name in longopts[]"
		r=1; continue ;;
	esac
	if ! grep -qF -- "-$l, $long" "$tmp/options.txt"; then
		fail "poolctl(1) OPTIONS has no '-$l, $long'"
		r=1
	fi
	found=0
	for cmd in $(cat "$tmp/cmds"); do
		"$poolctl" help "$cmd" | grep -qF -- "-$l, $long" && found=1
	done
	if [ $found = 0 ]; then
		fail "no 'poolctl help' says '-$l, $long'"
		r=1
	fi
done
# And no page names an option poolctl lacks; README.md's summary of
# poolctl neither, and it lists every command.
sed -n '/^## poolctl/,/^## /p' "$src/README.md" |
    sed -n '/^```/,/^```/p' > "$tmp/readme_ctl"
awk '/^  [a-z]/ { print $1 }' "$tmp/readme_ctl" | sort > "$tmp/cmds_readme"
same "$tmp/cmds" "$tmp/cmds_readme" "cmds[]" "README.md's poolctl summary" ||
    r=1
# And each command's lines there name every option its synopsis in
# `poolctl help COMMAND` does: a summary that leaves one out reads as a
# command without it.
for cmd in $(cat "$tmp/cmds_src"); do
	"$poolctl" help "$cmd" | sed -n '1s/^usage: poolctl \[--socket PATH\] \[--json\] //p' |
	    opts_named > "$tmp/syn_opts"
	awk -v c="$cmd" '/^  [a-z]/ { on = ($1 == c) } on' "$tmp/readme_ctl" |
	    opts_named > "$tmp/readme_opts"
	lacks "$tmp/syn_opts" "$tmp/readme_opts" \
	    "README.md's poolctl summary of $cmd lacks options of its synopsis" || r=1
done
for page in docs/poolctl.1 docs/poolctl.md README.md; do
	if [ "$page" = README.md ]; then
		cat "$tmp/readme_ctl"
	else
		sed 's/\\-/-/g' "$src/$page"
	fi | grep -oE -- '(^|[^a-z-])--[a-z][a-z-]*' |
	    sed 's/^[^-]*//' | sort -u > "$tmp/page_opts"
	lacks "$tmp/page_opts" "$tmp/long_names" \
	    "$page names options poolctl does not have" || r=1
done
[ $r = 1 ] || ok "every option of longopts[] and -$letters is in poolctl(1)'s OPTIONS, for the commands that take it; the pages and README.md name no other, and README.md every command with its synopsis' options"

# --- poolmgrd.conf(5) ---------------------------------------------------
r=0
for pair in "daemon_key:THE [daemon] SECTION" "pool_key:THE [pool NAME] SECTION"; do
	fn=${pair%%:*} sec=${pair#*:}
	awk -v fn="$fn" '$0 ~ "^" fn "\\(" { on = 1 } on && /^}/ { on = 0 } on' \
	    "$src/daemon/config.c" | grep -o 'strcmp(key, "[a-z_]*")' |
	    sed 's/.*"\(.*\)")/\1/' | sort > "$tmp/keys_src"
	n=$(wc -l < "$tmp/keys_src")
	[ "$n" -gt 5 ] || { fail "found only $n keys in $fn() of daemon/config.c"; r=1; }
	awk -v want=".SH $sec" '/^\.SH / { on = ($0 == want); next }
		on && /^\.TP/ { getline; print $2 }' "$src/docs/poolmgrd.conf.5" |
	    sort > "$tmp/keys_man"
	same "$tmp/keys_src" "$tmp/keys_man" "$fn() of daemon/config.c" \
	    "poolmgrd.conf(5) $sec" || r=1
done
[ $r = 1 ] || ok "the keys config.c reads are the keys poolmgrd.conf(5) describes, section by section"

# The [daemon] keys a reload applies are those whose changes its log line
# names (daemon/config_changes.c), and the page's paragraph of the keys
# that take effect on SIGHUP names those and no other: one left out reads
# as needing a restart.
r=0
awk '$0 ~ "^daemon_key\\(" { on = 1 } on && /^}/ { on = 0 } on' \
    "$src/daemon/config.c" | grep -o 'strcmp(key, "[a-z_]*")' |
    sed 's/.*"\(.*\)")/\1/' | sort > "$tmp/daemon_keys"
render "$src/docs/poolmgrd.conf.5" | { grep 'takes effect on SIGHUP too' || :; } \
    > "$tmp/reload_para"
[ "$(wc -l < "$tmp/reload_para")" = 1 ] ||
	{ fail "poolmgrd.conf(5) has no one paragraph of the [daemon] keys that 'takes effect on SIGHUP too'"; r=1; }
: > "$tmp/reload_src"
: > "$tmp/reload_man"
while read -r key; do
	grep -qw "$key" "$src/daemon/config_changes.c" && echo "$key" >> "$tmp/reload_src"
	grep -qw "$key" "$tmp/reload_para" && echo "$key" >> "$tmp/reload_man"
done < "$tmp/daemon_keys"
[ "$(wc -l < "$tmp/reload_src")" -gt 5 ] ||
	{ fail "found only $(wc -l < "$tmp/reload_src") keys in daemon/config_changes.c"; r=1; }
same "$tmp/reload_src" "$tmp/reload_man" "daemon/config_changes.c (a reload's changes)" \
    "poolmgrd.conf(5)'s keys that take effect on SIGHUP" || r=1
[ $r = 1 ] || ok "the [daemon] keys a reload applies are those poolmgrd.conf(5) says take effect on SIGHUP"

# Each [daemon] key's "Default:" in the page is what config_defaults()
# gives it (a number, a size with its suffix, an octal mode, the socket's
# path), a constant of daemon/config.h read through its #define.
r=0
awk '/^config_defaults\(/ { on = 1 } on && /^}/ { on = 0 }
	on && /^\tcf->[a-z_]* = / { k = $1; sub(/^cf->/, "", k); v = $0
	    sub(/^[^=]*= /, "", v); sub(/;.*/, "", v); print k, v }
	on && /"\/[^"]*"\);/ { match($0, /"\/[^"]*"/)
	    print "socket", substr($0, RSTART + 1, RLENGTH - 2) }' \
    "$src/daemon/config.c" |
    while read -r k v; do
	case $v in
	CONFIG_*) v=$(sed -n "s/^#define $v \([0-9]*\).*/\1/p" \
		"$src/daemon/config.h") ;;
	"1ull << "*) v=$((1 << ${v#1ull << })) ;;
	esac
	echo "$k $v"
    done > "$tmp/defaults_src0"
# admin_group has no value to set: none, as the memset leaves it.
{ cat "$tmp/defaults_src0"; echo "admin_group none"; } | sort > "$tmp/defaults_src"
[ "$(wc -l < "$tmp/defaults_src")" -gt 10 ] ||
	{ fail "found only $(wc -l < "$tmp/defaults_src") defaults in config_defaults()"; r=1; }
render "$src/docs/poolmgrd.conf.5" | section 'THE [daemon] SECTION' |
    awk '/^       [a-z_]+ = / { k = $1; next }
	k != "" && /Default: / { v = $0; sub(/.*Default: /, "", v)
	    sub(/[.,;]? .*/, "", v); sub(/[.,;]$/, "", v); print k, v; k = "" }' |
    while read -r k v; do
	case $v in
	*[0-9]K) v=$((${v%K} << 10)) ;;
	*[0-9]M) v=$((${v%M} << 20)) ;;
	*[0-9]G) v=$((${v%G} << 30)) ;;
	esac
	echo "$k $v"
    done | sort > "$tmp/defaults_man"
same "$tmp/defaults_src" "$tmp/defaults_man" "config_defaults() of daemon/config.c" \
    "poolmgrd.conf(5)'s Default: of the [daemon] keys" || r=1
[ $r = 1 ] || ok "each [daemon] key's default in poolmgrd.conf(5) is config_defaults()'s"

# --- poolctl status -------------------------------------------------------
# Its figures are status_fields[] (client/poolctl_status.c: DF and DFK
# lines, the DF macro's own body aside), server aside:
# every member of struct pool_daemon_stats but the reserved room, the keys
# poolctl.md gives its JSON, and each metric among the Prometheus families
# it lists (poolctl(1)'s: test_manpages.sh).
r=0
sed -n '/^#define DF(/,/K_ALWAYS)$/d; s/^[ \t]*DFK\{0,1\}(\([a-z_]*\),.*/\1/p' "$src/client/poolctl_status.c" |
    sort > "$tmp/status_src"
[ "$(wc -l < "$tmp/status_src")" -gt 10 ] ||
	{ fail "found only $(wc -l < "$tmp/status_src") figures in status_fields[]"; r=1; }
awk '/^struct pool_daemon_stats \{/ { on = 1; next } on && /^};/ { on = 0 }
	on && /^\t[a-z]/ { sub(/;.*/, ""); sub(/^\t[a-z0-9_]+ /, "")
	    n = split($0, m, /, */); for (i = 1; i <= n; i++) print m[i] }' \
    "$src/client/poolclient.h" | sed 's/\[.*//' |
    grep -v -e '^server$' -e '^reserved$' -e '^reserved32$' | sort > "$tmp/status_struct"
same "$tmp/status_struct" "$tmp/status_src" "struct pool_daemon_stats" \
    "status_fields[] of poolctl_status.c" || r=1
awk '/^- \*\*`status`\*\*/ { on = 1 } on && /^- \*\*`/ && !/`status`/ { on = 0 }
	on' "$src/docs/poolctl.md" | { grep -o '`[a-z_]*`' || :; } | tr -d '`' |
    sort -u > "$tmp/status_json_md"
comm -12 "$tmp/status_json_md" "$tmp/status_src" > "$tmp/status_json_md_known"
same "$tmp/status_src" "$tmp/status_json_md_known" "status_fields[]" \
    "poolctl.md's status JSON" || r=1
grep -o '"poolmgr_daemon_[a-z_]*"' "$src/client/poolctl_status.c" | tr -d '"' |
    sort -u > "$tmp/status_metrics"
grep -o 'poolmgr_daemon_[a-z_]*' "$src/docs/poolctl.md" | sort -u > "$tmp/metrics_md"
lacks "$tmp/status_metrics" "$tmp/metrics_md" "poolctl.md lacks metrics of poolctl_status.c" || r=1
[ $r = 1 ] || ok "poolctl status shows every member of struct pool_daemon_stats, and poolctl.md names each of its JSON keys and metrics"

# --- libpoolclient(3) ---------------------------------------------------
page=$src/docs/libpoolclient.3
header=$src/client/poolclient.h
r=0
grep '^POOL_API' "$header" | sed -e 's/(.*//' -e 's/.*[ *]//' | sort \
    > "$tmp/declared"
n=$(wc -l < "$tmp/declared")
[ "$n" -gt 30 ] || { fail "only $n declarations found in $header"; r=1; }
sed -n '/^\.SH NAME/,/^\\-/{/^\.SH/d;/^\\-/d;s/,/ /g;p;}' "$page" |
    tr ' ' '\n' | grep . | grep -vx libpoolclient | sort > "$tmp/name_sec"
same "$tmp/declared" "$tmp/name_sec" "client/poolclient.h" \
    "libpoolclient(3) NAME" || r=1
# Prototypes, one a line, blanks as one: the header's and SYNOPSIS's.
awk '/^POOL_API/ { on = 1; s = "" } on { s = s " " $0 } on && /;/ { on = 0; print s }' \
    "$header" | sed -e 's/POOL_API//' > "$tmp/protos_h"
sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$page" | grep '^\.BI' |
    sed -e 's/^\.BI //' -e 's/"//g' -e 's/\\-/-/g' |
    awk '{ s = s " " $0 } /;/ { print s; s = "" }' > "$tmp/protos_m"
for f in protos_h protos_m; do
	sed -e 's/[[:space:]]\{1,\}/ /g' -e 's/^ //' -e 's/ *\([(),;]\) */\1/g' \
	    -e 's/,/, /g' -e 's/\* /*/g' "$tmp/$f" | sort > "$tmp/$f.n"
done
same "$tmp/protos_h.n" "$tmp/protos_m.n" "client/poolclient.h's prototypes" \
    "libpoolclient(3) SYNOPSIS" || r=1
sed -n '/^\.SH DESCRIPTION/,/^\.SH /p' "$page" |
    awk '/^\.T[PQ]/ { getline; print }' |
    sed -n 's/^\.BR \(pool_[a-z_]*\) ()$/\1/p' | sort -u > "$tmp/described"
same "$tmp/declared" "$tmp/described" "client/poolclient.h" \
    "libpoolclient(3) DESCRIPTION's tags" || r=1
[ $r = 1 ] || ok "the $n functions of poolclient.h are in libpoolclient(3)'s NAME, SYNOPSIS (as declared) and DESCRIPTION, and no other"

# The structures, enums and constants libpoolclient(3) shows (its .EX
# examples and its .nf blocks of .B lines) are the header's: each member
# of a structure shown, its type and its order, each name of an enum,
# and each #define's value.  A field added to the header and not to the
# page, or renamed in one of them, fails here.
r=0
# The C text of the page: its examples, and its .B lines kept unfilled.
awk '
	/^\.EX/ { ex = 1; next } /^\.EE/ { ex = 0; next }
	/^\.nf/ { nf = 1; next } /^\.fi/ { nf = 0; next }
	ex && !/^\./ { print; next }
	nf && /^\.B / { s = substr($0, 4); gsub(/^"|"$/, "", s); print s }
' "$page" | sed -e 's/\\-/-/g' -e 's/\\(dq/"/g' -e 's/\\e/\\/g' \
    > "$tmp/page_c"
# "struct NAME|TYPE|DECLARATOR" per member, "enum NAME|NAME" per name,
# "#define NAME|VALUE" per constant: comments out, blanks as one.
cat > "$tmp/decls.awk" <<'AWK'
{ t = t $0 "\n" }
END {
	while ((i = index(t, "/*")) > 0) {
		rest = substr(t, i + 2)
		if ((e = index(rest, "*/")) == 0)
			break
		t = substr(t, 1, i - 1) " " substr(rest, e + 2)
	}
	n = split(t, line, "\n")
	for (i = 1; i <= n; i++) {
		l = line[i]
		if (!on && l ~ /^(struct|enum) [a-z_]+ \{/) {
			split(l, w, " "); name = w[1] " " w[2]; on = 1
			body = ""; continue
		}
		if (on && l ~ /^\};/) { emit(name, body); on = 0; continue }
		if (on) { body = body " " l; continue }
		if (l ~ /^#define POOL_[A-Z_]+[ \t]/) {
			split(l, w, /[ \t]+/); print "#define " w[2] "|" w[3]
		}
	}
}
function emit(name, body,   is_enum, k, m, i, d, nw, w, type, j, decl, nd) {
	is_enum = name ~ /^enum /
	gsub(/[ \t]+/, " ", body)
	k = split(body, m, is_enum ? "," : ";")
	for (i = 1; i <= k; i++) {
		d = m[i]; sub(/^ /, "", d); sub(/ $/, "", d)
		if (d == "")
			continue
		if (is_enum) { sub(/ *=.*/, "", d); print name "|" d; continue }
		nw = split(d, w, " "); j = 1; type = ""
		if (w[j] == "const") type = w[j++] " "
		if (w[j] == "struct" || w[j] == "enum") type = type w[j++] " "
		type = type w[j++]
		decl = ""
		for (; j <= nw; j++) decl = decl w[j]
		nd = split(decl, dd, ",")
		for (j = 1; j <= nd; j++) print name "|" type "|" dd[j]
	}
}
AWK
awk -f "$tmp/decls.awk" "$header" > "$tmp/decls_h"
awk -f "$tmp/decls.awk" "$tmp/page_c" > "$tmp/decls_m"
shown=$(cut -d'|' -f1 "$tmp/decls_m" | grep -v '^#define' | sort -u)
[ "$(echo "$shown" | wc -l)" -gt 8 ] ||
	{ fail "found only $(echo "$shown" | wc -l) structures in libpoolclient(3)"; r=1; }
for what in $(echo "$shown" | tr ' ' '@'); do
	what=$(echo "$what" | tr '@' ' ')
	awk -F'|' -v w="$what" '$1 == w' "$tmp/decls_h" > "$tmp/one_h"
	awk -F'|' -v w="$what" '$1 == w' "$tmp/decls_m" > "$tmp/one_m"
	if [ ! -s "$tmp/one_h" ]; then
		fail "libpoolclient(3) shows $what, which client/poolclient.h lacks"
		r=1
	elif ! cmp -s "$tmp/one_h" "$tmp/one_m"; then
		fail "libpoolclient(3) shows $what otherwise than client/poolclient.h (<: the header's, >: the page's): $(diff "$tmp/one_h" "$tmp/one_m" | sed -n 's/^\([<>]\) [^|]*|/\1 /p' | tr '|\n' ' ;')"
		r=1
	fi
done
# Each constant the page defines has the header's value.
grep '^#define ' "$tmp/decls_m" | sort -u > "$tmp/defs_m"
sort -u "$tmp/decls_h" | grep '^#define ' > "$tmp/defs_h"
lacks "$tmp/defs_m" "$tmp/defs_h" \
    "libpoolclient(3) defines otherwise than client/poolclient.h" || r=1
[ $r = 1 ] || ok "the $(echo "$shown" | wc -l) structures and enums and the $(wc -l < "$tmp/defs_m") constants libpoolclient(3) shows are client/poolclient.h's"

# struct pool_daemon_stats, not shown, is told of in pool_daemon_stats's
# paragraph, each member named in italics: every member, the reserved
# room too (what a program finds there), and nothing else (*out aside).
r=0
awk 'prev == ".TP" && $0 == ".BR pool_daemon_stats ()" { on = 1 }
	{ prev = $0 }
	!on { next }
	/^\.TP/ { exit }
	/^\.I / { print $2 }
	/^\.(IR|RI) / { for (i = $1 == ".IR" ? 2 : 3; i <= NF; i += 2) print $i }' \
    "$page" | grep -v '^\*' | sort -u > "$tmp/dstats_page"
awk '/^struct pool_daemon_stats \{/ { on = 1; next } on && /^};/ { on = 0 }
	on && /^\t[a-z]/ { sub(/;.*/, ""); sub(/^\t[a-z0-9_]+ /, "")
	    n = split($0, m, /, */); for (i = 1; i <= n; i++) print m[i] }' \
    "$header" | sed 's/\[.*//' | sort -u > "$tmp/dstats_h"
[ "$(wc -l < "$tmp/dstats_h")" -gt 20 ] ||
	{ fail "found only $(wc -l < "$tmp/dstats_h") members of struct pool_daemon_stats"; r=1; }
same "$tmp/dstats_h" "$tmp/dstats_page" "struct pool_daemon_stats" \
    "libpoolclient(3)'s pool_daemon_stats" || r=1
[ $r = 1 ] || ok "libpoolclient(3)'s pool_daemon_stats names each member of struct pool_daemon_stats, the reserved room too, and no other"

# --- pool_strerror and ERRORS -----------------------------------------------
r=0
sed -n '/^static const struct client_error client_errors\[\]/,/^};/s/^\t{ -\(E[A-Z0-9]*\),.*/\1/p' \
    "$src/client/errors.c" | sort -u > "$tmp/codes_src"
n=$(wc -l < "$tmp/codes_src")
[ "$n" -gt 20 ] || { fail "found only $n codes in client/errors.c"; r=1; }
sed -n '/^\.SH ERRORS/,/^\.SH /p' "$page" | awk '/^\.TP/ { getline; print }' |
    sed -n 's/^\.B \\-\(E[A-Z0-9]*\)$/\1/p' | sort -u > "$tmp/codes_man"
lacks "$tmp/codes_src" "$tmp/codes_man" \
    "libpoolclient(3) ERRORS does not describe" || r=1
# pool_strerror of every code ERRORS describes, one a line.
{
	echo '#include <errno.h>'
	echo '#include <stdio.h>'
	echo '#include "poolclient.h"'
	echo 'int main(void)'
	echo '{'
	sed 's/.*/	printf("&\\t%s\\n", pool_strerror(-&));/' "$tmp/codes_man"
	echo '	return 0;'
	echo '}'
} > "$tmp/words.c"
if ! cc -I"$src/client" -o "$tmp/words" "$tmp/words.c" "$lib" \
    > "$tmp/cc.out" 2>&1; then
	sed 's/^/    /' "$tmp/cc.out"
	fail "codes of libpoolclient(3) ERRORS that are no errno names"
	r=1
else
	# (A sanitizer's library, of an ASan tree, loads its runtime late.)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    LD_LIBRARY_PATH=$build "$tmp/words" > "$tmp/words.out"
	awk -F '\t' '$2 == "" || $2 == "unknown error" { print $1 }' \
	    "$tmp/words.out" > "$tmp/wordless"
	if [ -s "$tmp/wordless" ]; then
		fail "pool_strerror has no words for $(tr '\n' ' ' < "$tmp/wordless")"
		r=1
	fi
	libc=$(comm -13 "$tmp/codes_src" "$tmp/codes_man" | tr '\n' ' ')
	if [ -n "$libc" ]; then
		fail "pool_strerror has only the C library's words for $libc(client/errors.c)"
		r=1
	fi
fi
[ $r = 1 ] || ok "the $n codes errors.c has words for are in libpoolclient(3)'s ERRORS, and pool_strerror has words for each code there"

# --- docs/protocol.md -------------------------------------------------
cat > "$tmp/proto.awk" <<'EOF'
# First file: the .proto, its messages, enums and fields.  Second:
# protocol.md, a unit (a table row, or a paragraph) at a time.  Prints
# what is wrong, one line each.
FNR == 1 { file++ }
file == 1 { proto_line(); next }
file == 2 { md_line(); next }
END { if (unit != "") check_unit(unit); report() }

function proto_line(   line, n, w) {
	line = $0
	sub(/\/\/.*/, "", line)
	if (line ~ /^[ \t]*(message|enum)[ \t]/) {
		n = split(line, w, /[ \t{]+/)
		if (w[1] == "") { w[1] = w[2]; w[2] = w[3] }
		depth++; kind[depth] = w[1]; owner[depth] = w[2]
		msg[w[2]] = w[1]; msgs[++nmsgs] = w[2]
		return
	}
	if (line ~ /^[ \t]*oneof[ \t]/) {
		depth++; kind[depth] = "oneof"; owner[depth] = owner[depth - 1]
		return
	}
	if (line ~ /}/) { depth--; return }
	if (depth == 0 || line !~ /=[ \t]*[0-9]+/ || line ~ /^[ \t]*reserved/)
		return
	gsub(/\[[^]]*\]/, "", line); sub(/;.*/, "", line)
	n = split(line, w, /[ \t=]+/)
	if (kind[depth] == "enum") { enumval[owner[depth] "." w[n - 1]] = 1; return }
	num[owner[depth] "." w[n - 1]] = w[n]
	bynum[owner[depth], w[n]] = w[n - 2]
	fields[++nfields] = owner[depth] "." w[n - 1]
	if (kind[depth] == "oneof" && owner[depth] ~ /^(Request|Reply)$/)
		body[owner[depth] "." w[n - 1]] = w[n - 2]
}

function md_line() {
	if ($0 ~ /^\|/ || $0 ~ /^#/ || $0 ~ /^[ \t]*$/) {
		if (unit != "") check_unit(unit)
		unit = ""
		if ($0 ~ /^\|/) check_unit($0)
		return
	}
	unit = unit " " $0
}

function bad(what) { bads[++nbad] = what }

# The message a list HEAD{...} is of: HEAD, or the type of the body HEAD
# of Request or of Reply that has every item (hello{...} is either).
function brace_type(head, items, n,   i, t, c, ok) {
	if (head in msg) return head
	for (c = 1; c <= 2; c++) {
		via = (c == 1 ? "Request" : "Reply") "." head
		if (!(via in body)) continue
		t = body[via]; ok = 1
		for (i = 1; i <= n; i++)
			if (!((t "." items[i]) in num)) ok = 0
		if (ok) { named_field[via] = 1; return t }
	}
	return ""
}

# `HEAD{a, b[], c = 1, d{...}, ...}`: each item a field of HEAD's message.
function brace(s,   head, inner, i, d, ch, item, n, raw, items, t) {
	head = substr(s, 1, index(s, "{") - 1)
	inner = substr(s, index(s, "{") + 1)
	sub(/}[^}]*$/, "", inner)
	n = 0; d = 0; item = ""
	for (i = 1; i <= length(inner) + 1; i++) {
		ch = i <= length(inner) ? substr(inner, i, 1) : ","
		if (ch == "{") d++
		if (ch == "}") d--
		if (ch == "," && d == 0) { raw[++n] = item; item = ""; continue }
		item = item ch
	}
	t = 0
	for (i = 1; i <= n; i++) {
		item = raw[i]
		sub(/\{.*/, "", item); sub(/=.*/, "", item); gsub(/[][ ]/, "", item)
		if (item != "" && item != "...") items[++t] = item
	}
	n = t
	t = brace_type(head, items, n)
	if (t == "") {
		bad("`" s "`: " head " is no message, nor a body of Request or Reply with these fields")
		return
	}
	named_msg[t] = 1; unit_msgs[t] = 1
	for (i = 1; i <= n; i++) {
		if ((t "." items[i]) in num) named_field[t "." items[i]] = 1
		else bad("`" s "`: " t " has no field " items[i])
	}
	for (i = 1; i in raw; i++)
		if (raw[i] ~ /\{/) { sub(/^ */, "", raw[i]); brace(raw[i]) }
}

function check_unit(u,   rest, s, m, f, nb, bare, i, k) {
	split("", unit_msgs)
	rest = u; nb = 0
	while (match(rest, /`[^`]*`/)) {
		s = substr(rest, RSTART + 1, RLENGTH - 2)
		rest = substr(rest, RSTART + RLENGTH)
		if (s ~ /^[A-Za-z_]+\{.*}$/) { brace(s); continue }
		if ((s in msg) && s ~ /^[A-Z]/) {
			named_msg[s] = 1; unit_msgs[s] = 1; continue
		}
		if (s ~ /^[A-Z][A-Za-z0-9]*\.[a-z_0-9]+$/) {
			m = s; sub(/\..*/, "", m); f = s; sub(/^[^.]*\./, "", f)
			if (!(m in msg)) continue
			named_msg[m] = 1; unit_msgs[m] = 1
			if (msg[m] == "enum") {
				if (!((m "." f) in enumval))
					bad("`" s "`: the enum " m " has no " f)
			} else if ((m "." f) in num)
				named_field[m "." f] = 1
			else
				bad("`" s "`: " m " has no field " f)
			continue
		}
		if (s ~ /^[A-Z][A-Z0-9_]*$/) {
			for (k in msg)
				if ((k "." s) in enumval) { named_msg[k] = 1; named_field[k "." s] = 1 }
			continue
		}
		if (s ~ /^[a-z_][a-z_0-9]*$/) bare[++nb] = s
	}
	for (i = 1; i <= nb; i++)
		for (k in unit_msgs)
			if ((k "." bare[i]) in num) named_field[k "." bare[i]] = 1
	check_numbers(u)
	check_row(u)
}

# The names just before "(field N)": `a`, `b` and `c` (fields ...).
function names_before(pre, out,   t, n, tmp, i) {
	t = pre; sub(/[^`]*$/, "", t)
	if (length(pre) - length(t) > 12) return 0
	n = 0
	while (match(t, /`[^`]*`$/)) {
		tmp[++n] = substr(t, RSTART + 1, RLENGTH - 2)
		t = substr(t, 1, RSTART - 1)
		if (t ~ /(, and |, | and )$/) sub(/(, and |, | and )$/, "", t)
		else break
	}
	for (i = 1; i <= n; i++) out[i] = tmp[n + 1 - i]
	return n
}

# "" if s (M.f, or f of a message the unit names) is field number nr.
function not_field(s, nr,   m, f, k, seen) {
	if (s ~ /\./) {
		m = s; sub(/\..*/, "", m); f = s; sub(/^[^.]*\./, "", f)
		if (!((m "." f) in num)) return "no such field"
		return num[m "." f] == nr ? "" : "it is field " num[m "." f]
	}
	seen = ""
	for (k in unit_msgs)
		if ((k "." s) in num) {
			if (num[k "." s] == nr) return ""
			seen = seen ", " k "." s " is field " num[k "." s]
		}
	return seen == "" ? "no message named beside it has it" : substr(seen, 3)
}

function check_numbers(u,   rest, pre, spec, side, nrs, n, names, nn, i, why, w) {
	rest = u
	while (match(rest, /\((request |reply )?fields? [0-9]+(( and | to )[0-9]+)?/)) {
		pre = substr(rest, 1, RSTART - 1)
		spec = substr(rest, RSTART + 1, RLENGTH - 1)
		rest = substr(rest, RSTART + RLENGTH)
		side = ""
		if (spec ~ /^(request|reply) /) {
			side = spec; sub(/ .*/, "", side); sub(/^[a-z]+ /, "", spec)
		}
		sub(/^fields? /, "", spec)
		split(spec, w, / /)
		n = 0; split("", nrs)
		if (w[2] == "to") { for (i = w[1]; i <= w[3]; i++) nrs[++n] = i }
		else { nrs[++n] = w[1]; if (w[2] == "and") nrs[++n] = w[3] }
		split("", names); nn = names_before(pre, names)
		if (nn == 0) continue
		if (side != "") {
			why = side == "request" ? "Request" : "Reply"
			sub(/\{.*/, "", names[nn])
			if (bynum[why, nrs[1]] != names[nn])
				bad("`" names[nn] "` (" side " field " nrs[1] "): that field of " why " is " (bynum[why, nrs[1]] == "" ? "none" : "a " bynum[why, nrs[1]]))
			continue
		}
		if (nn == 1 && (names[1] in msg)) {
			for (i = 1; i <= n; i++)
				if (!((names[1] SUBSEP nrs[i]) in bynum))
					bad("`" names[1] "` (field " nrs[i] "): " names[1] " has no field " nrs[i])
			continue
		}
		if (nn < n) { bad("(fields " spec "): " n " numbers for `" names[nn] "` alone"); continue }
		for (i = 1; i <= n; i++) {
			why = not_field(names[nn - n + i], nrs[i])
			if (why != "") bad("`" names[nn - n + i] "` (field " nrs[i] "): " why)
		}
	}
}

# A table row whose first cell is a number N: every `M.f` in it is field N.
function check_row(u,   nr, rest, s) {
	if (u !~ /^\| *[0-9]+ *\|/) return
	nr = u; sub(/^\| */, "", nr); sub(/ *\|.*/, "", nr)
	rest = u
	while (match(rest, /`[A-Z][A-Za-z0-9]*\.[a-z_0-9]+`/)) {
		s = substr(rest, RSTART + 1, RLENGTH - 2)
		rest = substr(rest, RSTART + RLENGTH)
		if ((s in num) && num[s] != nr)
			bad("`" s "` in the row of field " nr ": it is field " num[s])
	}
}

function report(   i) {
	if (nmsgs < 30 || nfields < 100)
		print "found only " nmsgs " messages and " nfields " fields in the .proto"
	for (i = 1; i <= nmsgs; i++)
		if (!(msgs[i] in named_msg)) print "names no " msg[msgs[i]] " " msgs[i]
	for (i = 1; i <= nfields; i++)
		if (!(fields[i] in named_field))
			print "names no field " fields[i] " (" num[fields[i]] ")"
	for (i = 1; i <= nbad; i++) print bads[i]
}
EOF
awk -f "$tmp/proto.awk" "$src/proto/poolmgr.proto" "$src/docs/protocol.md" \
    > "$tmp/proto.out"
if [ -s "$tmp/proto.out" ]; then
	sed 's/^/test_docs: FAIL: docs\/protocol.md: /' "$tmp/proto.out"
	status=1
else
	ok "docs/protocol.md names every message, enum and field of proto/poolmgr.proto, with the right numbers, and no other"
fi

[ $status = 0 ] && echo "test_docs: all passed"
exit $status
