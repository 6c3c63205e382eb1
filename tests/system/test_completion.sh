#!/bin/bash
# test_completion.sh - client/poolctl.bash, sourced in a clean `bash
# --norc' with no bash-completion package loaded, completes poolctl's
# commands, options and option values, pool names from a real poolmgrd
# (by --socket on the line and by $POOLMGRD_SOCKET) and block names
# published there, and nothing, silently, when the daemon is not there.
# And it cannot fall behind poolctl: every command of `poolctl help' and
# every option of `poolctl help COMMAND' must be offered, and every option
# offered must be one poolctl takes for that command.
# It needs bash (printf %q, arrays); run by `sh', it hands itself to bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -eu

build=${POOLMGR_BUILD:-build}
script=$PWD/client/poolctl.bash
bindir=$(cd "$build" && pwd)
poolctl=$bindir/poolctl
stage=$(mktemp -d /tmp/poolmgr-completion.XXXXXX)
daemon_pid=
cleanup() {
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null || true
	fi
	rm -rf "$stage"
}
trap cleanup EXIT

fail() {
	echo "test_completion: FAIL: $*"
	exit 1
}
ok() {
	echo "test_completion: ok: $*"
}

[ -f "$script" ] || fail "no $script"
nosock=$stage/nosock

# In a new `bash --norc': COMP_* set as bash sets them for the line given
# (COMP_WORDS split at blanks and at runs of '=' and ':', which are words
# of their own, the cursor at the end), _poolctl called, COMPREPLY printed
# one word a line, sorted, into got_lines; and as one line of words
# separated by blanks into got.  poolctl is found in PATH, as a user's is.
# Anything on stderr fails the test.  compopt, which works only while
# readline completes, is a function there that writes its arguments to
# comp.opts: spaceless reads it.
comp() {
	: > "$stage/comp.opts"
	PATH=$bindir:$PATH bash --norc --noprofile -c '
		opts=$3
		compopt() { printf "%s\n" "$*" >> "$opts"; }
		. "$1" || exit 1
		line=$2 w="" i=0 ch=""
		COMP_WORDS=()
		for ((i = 0; i < ${#line}; i++)); do
			ch=${line:i:1}
			case $ch in
			" ")
				[[ -n $w ]] && COMP_WORDS+=("$w")
				w="" ;;
			[=:])
				if [[ -n $w && $w != [=:]* ]]; then
					COMP_WORDS+=("$w")
					w=""
				fi
				w+=$ch ;;
			*)
				if [[ $w == [=:]* ]]; then
					COMP_WORDS+=("$w")
					w=""
				fi
				w+=$ch ;;
			esac
		done
		if [[ -n $w ]]; then
			COMP_WORDS+=("$w")
		else
			COMP_WORDS+=("")
		fi
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE=$line
		COMP_POINT=${#line}
		_poolctl
		((${#COMPREPLY[@]} == 0)) || printf "%s\n" "${COMPREPLY[@]}"
	' comp "$script" "$1" "$stage/comp.opts" > "$stage/comp.out" \
		2> "$stage/comp.err" ||
		fail "completing '$1' failed: $(cat "$stage/comp.err")"
	[ ! -s "$stage/comp.err" ] ||
		fail "completing '$1' wrote to stderr: $(cat "$stage/comp.err")"
	got_lines=$(LC_ALL=C sort "$stage/comp.out")
	got=$(echo "$got_lines" | tr '\n' ' ' | sed 's/ $//')
}
# Whether the last completion asked that no space follow its words
# (compopt -o nospace): a word offered is then a part, more to come.
spaceless() {
	grep -qxF -- '-o nospace' "$stage/comp.opts"
}
# The words given, sorted, on one line.
sorted() {
	printf '%s\n' "$@" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}
# Completing the line $1 gives the words after it, no more, no fewer.
expect() {
	local l=$1
	comp "$l"
	shift
	[ "$got" = "$(sorted "$@")" ] ||
		fail "completing '$l' gave '$got', not '$(sorted "$@")'"
}

# --- Words known without the daemon ---------------------------------------
line='poolctl '
cmds=$("$poolctl" help | sed -n '/^Commands:/,/^$/s/^  \([a-z]*\) .*/\1/p')
[ -n "$cmds" ] || fail "no commands in 'poolctl help'"
# shellcheck disable=SC2086
expect "$line" $cmds
line='poolctl c'
expect "$line" create clients check
line='poolctl help '
# shellcheck disable=SC2086
expect "$line" $cmds
line='poolctl help st'
expect "$line" stats status
line='poolctl status --f'
expect "$line" --format
ok "commands from an empty word and a prefix, and after help"

line='poolctl create pool --'
expect "$line" --socket --json --json=pretty --json=short --help --version \
	--size --granularity --mode --owner --group --acl --quota --user-quota \
	--limit --retain --page-size --numa-node --numa-policy
line='poolctl create pool --size 1M --mode 0600 --gr'
expect "$line" --granularity --group
line='poolctl create pool --size 1M --mode 0600 --m'
expect "$line"
line='poolctl destroy -'
expect "$line" -s --socket -j --json --json=pretty --json=short -h --help \
	-V --version -f --force
ok "options of create and destroy; a value option given is not offered again"

line='poolctl list --json='
expect "$line" pretty short
line='poolctl --json=s'
expect "$line" short
line='poolctl stats --format='
expect "$line" text json prometheus kv
line='poolctl persisted --format=p'
expect "$line" prometheus
line='poolctl stats --format '
expect "$line" text json prometheus kv
line='poolctl create p --size 1M --numa-node 0 --numa-policy '
expect "$line" preferred bind
line='poolctl create p --size 1M --numa-node 0 --numa-policy=b'
expect "$line" bind
: > "$stage/sock-here"
line="poolctl --socket $stage/sock-h"
expect "$line" "$stage/sock-here"
line="poolctl list --socket=$stage/sock-h"
expect "$line" "$stage/sock-here"
ok "values of --json=, --format, --numa-policy and --socket"

line='poolctl acl pool --format='
expect "$line" text json kv
line='poolctl acl pool -m '
expect "$line" user: group:
line='poolctl acl pool --set '
expect "$line" none user: group:
# What follows the last ':' is what readline replaces.
line='poolctl create pool --size 1M --acl=user:0:rw,g'
expect "$line" rw,group:
line='poolctl acl pool -m user:root:'
expect "$line" rw r w -
line='poolctl acl pool --modify u:0:r,user:0:r'
expect "$line" r rw
comp 'poolctl acl pool -m user:roo'
[ "$got" = "root:" ] || fail "completing a user of -m gave '$got', not 'root:'"
spaceless || fail "completing a user of -m: a space after 'root:'"
comp 'poolctl create pool --size 1M --acl g:roo'
[ "$got" = "root:" ] ||
	fail "completing a group of --acl gave '$got', not 'root:'"
spaceless || fail "completing a group of --acl: a space after 'root:'"
comp 'poolctl acl pool -x u:1,user:roo'
[ "$got" = "root" ] || fail "completing a user of -x gave '$got', not 'root'"
# What poolctl would refuse beside what is given is not offered: --set
# with -m or -x, -n with a change, and --format but for json with one.
line='poolctl acl pool -m u:1:r -'
expect "$line" -s --socket -j --json --json=pretty --json=short -h --help \
	-V --version -x --remove --format
line='poolctl acl pool --set none -'
expect "$line" -s --socket -j --json --json=pretty --json=short -h --help \
	-V --version --format
line='poolctl acl pool -m u:1:r --format='
expect "$line" json
line='poolctl acl pool --set none --format '
expect "$line" json
line='poolctl acl pool --format=kv -'
expect "$line" -s --socket -j --json --json=pretty --json=short -h --help \
	-V --version -n --numeric
line='poolctl acl pool --format json -'
expect "$line" -s --socket -j --json --json=pretty --json=short -h --help \
	-V --version -n --numeric --set -m --modify -x --remove
line='poolctl acl pool -n -'
expect "$line" -s --socket -j --json --json=pretty --json=short -h --help \
	-V --version --format
line='poolctl users -n -'
expect "$line" -s --socket -j --json --json=pretty --json=short -h --help \
	-V --version --format
ok "access control entries: kinds, names, rights; -m and -x as their long names"

# --user-quota: before '=', the pool's none or a uid's own entry, whose
# USER is a user of the system (as compgen -u gives them; a name with a
# '=' could not be given) offered with its '=' and no space after, the
# size still to come; after it, none, and default for set.
# shellcheck disable=SC2207
users=($(compgen -u | grep -v = | sed 's/$/=/'))
line='poolctl create pool --size 1M --user-quota '
expect "$line" none "${users[@]}"
spaceless || fail "completing '$line': a space after each user's '='"
line='poolctl set pool --user-quota roo'
expect "$line" root=
spaceless || fail "completing '$line': a space after 'root='"
line='poolctl set pool --user-quota=roo'
expect "$line" root=
spaceless || fail "completing '$line': a space after 'root='"
line='poolctl create pool --size 1M --user-quota root='
expect "$line" none
line='poolctl set pool --user-quota=root='
expect "$line" none default
# A whole word, no user's name beginning so: the space after it.
if [ -z "$(compgen -u -- none)" ]; then
	line='poolctl set pool --user-quota no'
	comp "$line"
	[[ " $got " == *" none "* ]] ||
		fail "completing '$line' gave '$got', without none"
	line='poolctl set pool --user-quota none'
	expect "$line" none
	! spaceless || fail "completing '$line': no space after none"
fi
ok "--user-quota: the system's users before '=', without a space; none and default after it"

# --- Nothing, and silently, without a daemon ------------------------------
for line in "poolctl --socket $nosock stats " "poolctl -s $nosock wait " \
	"poolctl --socket=$nosock trim " "poolctl -s $nosock wait pool "; do
	expect "$line"
done
line='poolctl check '
POOLMGRD_SOCKET=$nosock comp "$line"
[ -z "$got" ] || fail "POOLMGRD_SOCKET=$nosock: '$line' gave '$got'"
ok "no daemon: nothing completed, nothing on stderr"

# --- Pools and names of a real daemon -------------------------------------
sock=$stage/poolmgrd.sock
: > "$stage/poolmgrd.conf"
"$bindir/poolmgrd" --socket "$sock" --config "$stage/poolmgrd.conf" \
	2> "$stage/daemon.log" &
daemon_pid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$sock" ] || fail "poolmgrd did not start: $(cat "$stage/daemon.log")"
"$poolctl" -s "$sock" create alpha --size 1M >/dev/null || fail "create alpha"
"$poolctl" -s "$sock" create beta --size 1M >/dev/null || fail "create beta"

# Where --socket is not on the line, $POOLMGRD_SOCKET names no daemon:
# the pools must come from the socket the line gives.
export POOLMGRD_SOCKET=$nosock
line="poolctl --socket $sock stats "
expect "$line" alpha beta
line="poolctl -s $sock destroy a"
expect "$line" alpha
line="poolctl trim --socket=$sock "
expect "$line" alpha beta
line="poolctl --json -s$sock check "
expect "$line" alpha beta
line="poolctl --socket $sock create "
expect "$line"
line="poolctl --socket $sock trim alpha "
expect "$line"
line='poolctl clients '
POOLMGRD_SOCKET=$sock comp "$line"
[ "$got" = "alpha beta" ] ||
	fail "POOLMGRD_SOCKET=$sock: '$line' gave '$got', not 'alpha beta'"
line='poolctl names b'
POOLMGRD_SOCKET=$sock comp "$line"
[ "$got" = "beta" ] || fail "POOLMGRD_SOCKET=$sock: '$line' gave '$got'"
ok "pool names from the daemon, by --socket/-s on the line and by \$POOLMGRD_SOCKET"

# A name the shell would split or expand is offered quoted, and a name
# that is a command substitution is never run.
ran=$stage/ran
odd="\$(touch $ran)"
for name in frame-1 frame-2 "two words" "$odd"; do
	POOLMGRD_SOCKET=$sock "$bindir/examples/producer" -n "$name" alpha text \
		>/dev/null ||
		fail "producer -n '$name' alpha"
done
POOLMGRD_SOCKET=$sock "$bindir/examples/producer" -n other beta text \
	>/dev/null ||
	fail "producer -n other beta"
q_two=$(printf %q "two words")
q_odd=$(printf %q "$odd")
line="poolctl -s $sock wait alpha "
expect "$line" frame-1 frame-2 "$q_two" "$q_odd"
[ ! -e "$ran" ] || fail "completing a block name ran a command substitution"
line="poolctl -s $sock unpublish alpha fr"
expect "$line" frame-1 frame-2
line="poolctl -s $sock wait alpha two"
expect "$line" "$q_two"
line="poolctl -s $sock unpublish beta "
expect "$line" other
line="poolctl -s $sock names alpha frame-2"
expect "$line" frame-2
line="poolctl -s $sock wait alpha frame-1 "
expect "$line"
[ "$(eval "printf %s $q_two")" = "two words" ] ||
	fail "$q_two is not the name 'two words' to the shell"
ok "block names for wait and unpublish, quoted for the shell where needed"

kill "$daemon_pid"
wait "$daemon_pid" || fail "poolmgrd did not stop cleanly"
daemon_pid=
unset POOLMGRD_SOCKET

# --- Drift: poolctl's help against the script -----------------------------
# The options a help text names: --long, -s and --opt=a|b|c / --opt[=a|b]
# forms (whose values must then be offered after --opt=).
help_opts() {
	grep -oE '(^|[][ ,])(-[a-zA-Z]|--[a-z][a-z-]*(\[?=[a-z|]+)?)' |
		sed -E 's/^[][ ,]//; s/\[=/=/'
}
# A sample of each placeholder of a synopsis, one poolctl takes.
sample() {
	case $1 in
	SIZE) echo 1M ;;
	N) echo 16 ;;
	MODE) echo 0600 ;;
	USER | GROUP | NODE) echo 0 ;;
	POLICY) echo preferred ;;
	SECONDS) echo 1 ;;
	PID | HANDLE) echo 1 ;;
	OFFSET | OFFSET...) echo 0x10 ;;
	ENTRIES) echo user:0:rw ;;
	NAMES) echo user:0 ;;
	*) echo x ;;
	esac
}
# Whether poolctl takes the line: all arguments are checked before it
# connects, so a line it takes ends in exit 69 at $nosock (0 for help).
accepts() {
	rc=0
	"$poolctl" -s "$nosock" "$@" >/dev/null 2> "$stage/take.err" || rc=$?
	[ "$rc" -eq 69 ] || [ "$rc" -eq 0 ]
}
takes() {
	accepts "$@" ||
		fail "'poolctl $*' exits $rc: $(head -n 1 "$stage/take.err")"
}

# Whether the option o (or --opt=value) is one of the list of want.
wanted() {
	local w
	echo "$want" | grep -qxF -- "$1" && return 0
	[[ $1 == --*=* ]] || return 1
	for w in $(echo "$want" | grep -E -- "^${1%%=*}=" | sed 's/^[^=]*=//'); do
		case "|$w|" in
		*"|${1#*=}|"*) return 0 ;;
		esac
	done
	return 1
}

global=$("$poolctl" help | sed -n '/^Options/,/^$/p;/^usage:/p' | help_opts)
nopts=0
for cmd in $cmds; do
	# The synopsis after the command: its required words make the base
	# line; each option's value (a sample of its placeholder) is kept,
	# and the option it needs when within another's brackets
	# ([--numa-node NODE [--numa-policy POLICY]]).
	base=() outer=() depth=0 last='' first=''
	declare -A arg=() needs=()
	usage=$("$poolctl" help "$cmd" | sed -n 1p)
	syn=()
	[ "$cmd" = help ] || read -ra syn <<< "${usage#*] "$cmd"}"
	for tok in "${syn[@]}"; do
		open=${tok%%[!\[]*}
		word=${tok#"$open"}
		close=${word##*[!\]]}
		word=${word%"$close"}
		depth=$((depth + ${#open}))
		if [[ $word == -* ]]; then
			last=${word%%=*}
			first=${first:-$last}
			outer[depth]=$last
			if ((depth > 1)); then
				needs[$last]=${outer[depth - 1]}
			fi
			if [[ $word == *=* ]]; then
				v=${word#*=}
				arg[$last]=${v%%|*}
			fi
			if ((depth == 0)); then
				base+=("$word")
			fi
		elif [[ -n $last && -z ${arg[$last]-} ]]; then
			arg[$last]=$(sample "$word")
			if ((depth == 0)); then
				base+=("${arg[$last]}")
			fi
		elif ((depth == 0)); then
			base+=("$(sample "$word")")
		fi
		depth=$((depth - ${#close}))
	done
	# A command that needs some option (set: something to change) gets
	# its first.
	if ! accepts "$cmd" "${base[@]}" && [[ -n $first ]]; then
		base+=("$first" "${arg[$first]}")
	fi
	takes "$cmd" "${base[@]}"

	comp "poolctl $cmd -"
	offered=$got_lines
	want=$({ printf '%s\n' "$global"; "$poolctl" help "$cmd" | help_opts; } |
		LC_ALL=C sort -u)
	for o in $want; do
		if [[ $o == --*=* ]]; then
			# Its values, after the option and '='.
			comp "poolctl $cmd ${o%%=*}="
			vals=" $got "
			for v in $(echo "${o#*=}" | tr '|' ' '); do
				[[ $vals == *" $v "* ]] ||
					fail "$cmd: ${o%%=*}= offers '$vals', not $v"
			done
		elif ! echo "$offered" | grep -qxF -- "$o"; then
			fail "$cmd: option $o of 'poolctl help $cmd' is not offered"
		fi
	done
	for o in $offered; do
		wanted "$o" ||
			fail "$cmd: $o offered, not in 'poolctl help $cmd'"
		# poolctl takes it for this command, with a value if it has one.
		case $o in
		-s | --socket) continue ;;
		-f) name=--force ;;
		-m) name=--modify ;;
		-x) name=--remove ;;
		*) name=$o ;;
		esac
		run=("$cmd" "${base[@]}")
		if [[ " ${base[*]} " != *" $name "* ]]; then
			if [[ -n ${needs[$name]-} ]]; then
				run+=("${needs[$name]}" "${arg[${needs[$name]}]}")
			fi
			run+=("$o")
			if [[ -n ${arg[$name]-} ]]; then
				run+=("${arg[$name]}")
			fi
		fi
		takes "${run[@]}"
		nopts=$((nopts + 1))
		# And every value it offers after '=' (but the socket's files,
		# the system's users and groups, and access control entries,
		# which it offers a part at a time).  A word that ends in '='
		# or ':' with no space after it (--user-quota's "root=") is a
		# part: the words that complete it are taken instead, of its
		# first four (the users' are all of one form, and a directory
		# may list thousands).
		case $o in
		--owner | --group | --acl | --modify | --remove | --set | --*=*)
			continue ;;
		--*) ;;
		*) continue ;;
		esac
		[[ " ${base[*]} " != *" $o "* ]] || continue
		comp "poolctl $cmd $o="
		parts=0 nospace=''
		spaceless && nospace=1
		for v in $got; do
			run=("$cmd" "${base[@]}")
			if [[ -n ${needs[$o]-} ]]; then
				run+=("${needs[$o]}" "${arg[${needs[$o]}]}")
			fi
			if [[ -z $nospace || $v != *[=:] ]]; then
				takes "${run[@]}" "$o=$v"
				nopts=$((nopts + 1))
				continue
			fi
			parts=$((parts + 1))
			((parts <= 4)) || continue
			comp "poolctl $cmd $o=$v"
			[ -n "$got" ] || fail "$cmd: $o=$v completes to nothing"
			for w in $got; do
				takes "${run[@]}" "$o=$v$w"
				nopts=$((nopts + 1))
			done
		done
	done
	unset arg needs
done
ok "every command of 'poolctl help' and every option of 'poolctl help COMMAND' offered; poolctl takes all $nopts options and values offered"
echo "test_completion: all passed"
