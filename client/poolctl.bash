# poolctl.bash - bash completion of poolctl(1).
#
# Installed as $(BASHCOMPDIR)/poolctl, where bash-completion loads it the
# first time poolctl is completed; or source it from ~/.bashrc.  Only bash
# builtins are used (complete, compgen, compopt, printf), none of
# bash-completion's helpers, so that it works the same where that package
# is missing.
#
# It completes the commands and `help COMMAND', the global options
# anywhere on the line, each command's own options (those already given
# are not offered again: poolctl refuses a value given twice), the values
# of options whose set is known (--format, --numa-policy, --json=, users,
# groups, the socket's file name), access control entries (user: and
# group:, then a user's or group's name, then the rights), the entries
# of --user-quota (a user's name and '=', then none or default), pool
# names and block names.  --user-quota is offered again: its USER=SIZE
# form repeats.
#
# Pool and block names come from the daemon, by running poolctl itself
# with the --socket/-s given earlier on the line (else poolctl reads
# $POOLMGRD_SOCKET as always), its stderr discarded and under `timeout 2'
# where coreutils has it: an unreachable or stuck daemon completes
# nothing, quietly.  tests/system/test_completion.sh checks every command
# and option of `poolctl help' against this file.

# Every long option poolctl takes, for getopt_long's unique prefixes.
_poolctl_long_opts=(--socket --json --help --version --force --size
	--granularity --mode --quota --user-quota --retain --page-size
	--numa-node --numa-policy --format --timeout --owner --group --limit
	--pid --handle --by-size --older-than --dry-run --acl --modify --remove
	--set --numeric)
# Those whose value is the next word when not given after '='.
_poolctl_value_opts=' --socket --size --granularity --mode --quota
	--user-quota --retain --page-size --numa-node --numa-policy --format
	--timeout --owner --group --limit --pid --handle --older-than --acl
	--modify --remove --set '
_poolctl_commands=(list stats status create destroy set acl clients
	persisted users names wait unpublish blocks free sweep trim check help)
_poolctl_global_opts=(-s --socket -j --json --json=pretty --json=short -h
	--help -V --version)

# The options of command $1 (after the global ones), into the array opts.
_poolctl_cmd_opts()
{
	case $1 in
	stats | persisted | users)
		opts=(-n --numeric --format) ;;
	status)
		opts=(-n --numeric --format) ;;
	create)
		opts=(--size --granularity --mode --owner --group --acl --quota
		    --user-quota --limit --retain --page-size --numa-node
		    --numa-policy) ;;
	destroy)
		opts=(-f --force) ;;
	set)
		opts=(--mode --owner --group --acl --quota --user-quota --retain
		    --limit) ;;
	acl)
		opts=(-n --numeric --format -m --modify -x --remove --set) ;;
	clients | names)
		opts=(-n --numeric) ;;
	wait)
		opts=(--timeout) ;;
	blocks)
		opts=(-n --numeric --pid --handle --by-size --format) ;;
	free)
		opts=(--older-than) ;;
	sweep)
		opts=(-n --numeric --older-than --dry-run) ;;
	*)
		opts=() ;;
	esac
}

# The long option a word names, as getopt_long reads it: the word itself,
# or the one option it is a prefix of ("--sock" is --socket); the word
# unchanged when it names none or several.
_poolctl_long()
{
	local o found=''

	long=$1
	for o in "${_poolctl_long_opts[@]}"; do
		[[ $o == "$1" ]] && return
		if [[ $o == "$1"* ]]; then
			[[ -n $found ]] && return
			found=$o
		fi
	done
	[[ -n $found ]] && long=$found
}

# The words of the line up to the cursor, into words and cword.  bash
# splits COMP_WORDS at the characters of COMP_WORDBREAKS too, so that
# "--format=te" comes as "--format" "=" "te"; the words are glued back
# where the line has no blank between them, as the shell reads them.
_poolctl_words()
{
	local line=${COMP_LINE-} point=${COMP_POINT-} pos=0 start blank rest i w

	words=()
	cword=0
	for ((i = 0; i <= COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]-}
		rest=${line:pos}
		blank=${rest%%[![:space:]]*}
		start=$((pos + ${#blank}))
		if [[ ${line:start} != "$w"* ]]; then
			# Not the line bash split (no COMP_LINE): take its words.
			words=("${COMP_WORDS[@]:0:COMP_CWORD+1}")
			cword=$COMP_CWORD
			return
		fi
		pos=$((start + ${#w}))
		if ((i == COMP_CWORD)); then
			[[ -n $point ]] || point=${#line}
			if ((point <= start)); then
				w=''
			elif ((point < pos)); then
				w=${w:0:point-start}
			fi
		fi
		if ((i > 0 && ${#blank} == 0)); then
			words[cword]+=$w
		else
			words+=("$w")
			cword=$((${#words[@]} - 1))
		fi
	done
}

# poolctl's standard output for the arguments given, or nothing.  A
# daemon that does not answer the connection is given up after 2 s by the
# library itself (POOLMGR_CONNECT_TIMEOUT), where no timeout(1) is there
# to bound the whole call.
_poolctl_query()
{
	local -a run=("$bin")

	[[ -n $socket ]] && run+=(--socket "$socket")
	type -P timeout >/dev/null 2>&1 && run=(timeout 2 "${run[@]}")
	POOLMGR_CONNECT_TIMEOUT=2 "${run[@]}" "$@" </dev/null 2>/dev/null
}

# The words given that begin with cur, into COMPREPLY.  Never compgen -W
# for words from the daemon: compgen expands its word list, and a block
# named "$(...)" would run.
_poolctl_add()
{
	local c

	for c in "$@"; do
		[[ $c == "$cur"* ]] && COMPREPLY+=("$c")
	done
}

# The lines compgen gives for its arguments, into COMPREPLY (read as
# lines: a file name may hold blanks).
_poolctl_compgen()
{
	local c

	while IFS= read -r c; do
		COMPREPLY+=("$c")
	done < <(compgen "$@" 2>/dev/null)
}

# Pool names, from `stats --format=kv' ("POOL KEY VALUE" lines, a pool's
# together; pool names hold no blanks).  One that begins with '-' is read
# by poolctl as an option unless "--" came before: not offered then.
_poolctl_pools()
{
	local out pool last=''
	local -a pools=()

	out=$(_poolctl_query stats --format=kv) || [[ -n $out ]] || return
	while read -r pool _; do
		[[ -z $pool || $pool == "$last" ]] && continue
		last=$pool
		[[ -z $dashdash && $pool == -* ]] && continue
		pools+=("$pool")
	done <<<"$out"
	_poolctl_add "${pools[@]}"
}

# Block names of pool $1, from the first column of `names POOL [PREFIX]'
# under its header.  poolctl writes a blank, a backslash and every byte
# outside printable ASCII as \xHH; a name is offered as the shell must be
# given it: its bytes back (printf %b), quoted (printf %q), so that "a b"
# is offered as a\ b and a name holding $ or ; stays one word.  It matches
# the word typed either as that quoted text or, when the word holds no
# quoting, as the name itself.  The word typed goes to the daemon as the
# prefix when it is the name's own bytes, so that only the names that
# match are asked for, not every name of the pool.
_poolctl_blocks()
{
	local pool=$1 prefix='' out name dec q first=1

	# Not a pool name poolctl would take: no names to ask for.
	[[ -n $pool && $pool != *[!A-Za-z0-9._-]* && $pool != .* ]] || return
	[[ $cur != *[!A-Za-z0-9._/:@%+,=-]* ]] && prefix=$cur
	out=$(_poolctl_query names -- "$pool" "$prefix") || [[ -n $out ]] ||
		return
	while read -r name _; do
		if [[ -n $first ]]; then
			first=''
			continue
		fi
		[[ -z $name ]] && continue
		printf -v dec '%b' "$name"
		[[ -z $dashdash && $dec == -* ]] && continue
		printf -v q '%q' "$dec"
		if [[ $q == "$cur"* ]] ||
		    { [[ $cur != *[\\\'\"\$]* ]] && [[ $dec == "$cur"* ]]; }; then
			COMPREPLY+=("$q")
		fi
	done <<<"$out"
}

# The access control entries that complete the word typed: ENTRIES of
# option $1, separated by commas, the last one completed as a kind
# (user: or group:), then a name from the system's users or groups, then
# the rights; --remove's entries have no rights.  The entries before the
# last comma stay as they are.  Nothing but a whole entry ends the word.
_poolctl_entries()
{
	local head='' e=$cur kind who c
	local -a names=()

	if [[ $cur == *,* ]]; then
		head=${cur%,*},
		e=${cur##*,}
	fi
	compopt -o nospace 2>/dev/null
	if [[ $e != *:* ]]; then
		[[ -z $head && ($1 == --set || $1 == --acl) ]] &&
			_poolctl_add none
		_poolctl_add "${head}user:" "${head}group:"
		return
	fi
	kind=${e%%:*}
	who=${e#*:}
	if [[ $who != *:* ]]; then
		case $kind in
		user | u) mapfile -t names < <(compgen -u -- "$who") ;;
		group | g) mapfile -t names < <(compgen -g -- "$who") ;;
		*) return ;;
		esac
		for c in "${names[@]}"; do
			if [[ $1 == --remove ]]; then
				COMPREPLY+=("$head$kind:$c")
			else
				COMPREPLY+=("$head$kind:$c:")
			fi
		done
		return
	fi
	[[ $1 == --remove ]] && return
	who=${who%%:*}
	_poolctl_add "$head$kind:$who:rw" "$head$kind:$who:r" \
		"$head$kind:$who:w" "$head$kind:$who:-"
}

# The values of option $1 that begin with the word typed.
_poolctl_values()
{
	case $1 in
	--socket)
		compopt -o filenames 2>/dev/null
		_poolctl_compgen -f -- "$cur" ;;
	--format)
		# blocks streams its rows, acl lists words: no Prometheus;
		# beside an acl change, json alone (it is --json there).
		if [[ $cmd == acl && ($seen == *" --modify "* ||
		    $seen == *" --remove "* || $seen == *" --set "*) ]]; then
			_poolctl_add json
		elif [[ $cmd == blocks || $cmd == acl ]]; then
			_poolctl_add text json kv
		else
			_poolctl_add text json prometheus kv
		fi ;;
	--numa-policy)
		_poolctl_add preferred bind ;;
	--json)
		_poolctl_add pretty short ;;
	--owner)
		_poolctl_compgen -u -- "$cur" ;;
	--group)
		_poolctl_compgen -g -- "$cur" ;;
	--acl | --modify | --remove | --set)
		_poolctl_entries "$1" ;;
	--user-quota)
		_poolctl_user_quota ;;
	esac
}

# The value of --user-quota: the pool's (none, or a size typed), or a
# uid's own entry, USER=SIZE: a user of the system (compgen -u, as for
# --owner) with its '=' and no space after, the size still to come; then
# none, and for set default (the entry taken out).  poolctl reads USER up
# to the first '=': a name that holds one could not be given, and is not
# offered.
_poolctl_user_quota()
{
	local who c part=''
	local -a names=()

	if [[ $cur != *=* ]]; then
		_poolctl_add none
		mapfile -t names < <(compgen -u -- "$cur")
		for c in "${names[@]}"; do
			[[ $c == *=* ]] && continue
			COMPREPLY+=("$c=")
			part=1
		done
		# "none" alone is a whole word, and gets its space.
		if [[ -n $part ]]; then
			compopt -o nospace 2>/dev/null
		fi
		return
	fi
	who=${cur%%=*}
	_poolctl_add "$who=none"
	[[ $cmd == set ]] && _poolctl_add "$who=default"
}

# The options of the command (the global ones before one is given), but
# not those on the line already.
# Whether an option already on the line rules out the long option $1:
# poolctl would refuse the two together (exit 2).  acl's --set replaces
# the whole list, not with -m or -x; its --numeric is for a listing, not
# with a change, and so is --format but for json (--json).
_poolctl_ruled_out()
{
	local change=0 listing=0

	[[ $cmd == acl ]] || return 1
	[[ $seen == *" --modify "* || $seen == *" --remove "* ]] && change=1
	[[ $seen == *" --numeric "* ]] && listing=1
	[[ $seen == *" --format "* && $format != json ]] && listing=1
	case $1 in
	--set)
		((change || listing)) ;;
	--modify | --remove)
		((listing)) || [[ $seen == *" --set "* ]] ;;
	--numeric)
		((change)) || [[ $seen == *" --set "* ]] ;;
	*)
		return 1 ;;
	esac
}

_poolctl_options()
{
	local o long
	local -a opts offer=()

	_poolctl_cmd_opts "$cmd"
	for o in "${_poolctl_global_opts[@]}" "${opts[@]}"; do
		case $o in
		-s) long=--socket ;;
		-j | --json=*) long=--json ;;
		-h) long=--help ;;
		-V) long=--version ;;
		-f) long=--force ;;
		-m) long=--modify ;;
		-x) long=--remove ;;
		-n) long=--numeric ;;
		*) long=$o ;;
		esac
		# --user-quota USER=SIZE repeats: always offered.
		[[ $long != --user-quota && $seen == *" $long "* ]] ||
			_poolctl_ruled_out "$long" || offer+=("$o")
	done
	_poolctl_add "${offer[@]}"
}

# The argument of the command at position n (from 1).
_poolctl_args()
{
	case $cmd,$n in
	,0)
		_poolctl_add "${_poolctl_commands[@]}" ;;
	help,1)
		_poolctl_add "${_poolctl_commands[@]}" ;;
	stats,1 | clients,1 | persisted,1 | users,1 | destroy,1 | set,1 | \
	acl,1 | \
	names,1 | \
	wait,1 | unpublish,1 | blocks,1 | free,1 | sweep,1 | trim,1 | \
	check,1)
		_poolctl_pools ;;
	names,2 | wait,2 | unpublish,2)
		_poolctl_blocks "${args[1]}" ;;
	esac
}

# COMPREPLY holds words that begin with the whole word typed, but readline
# replaces only what follows its last word break (the value after
# "--format="): that much is taken off each.
_poolctl_trim()
{
	local breaks=${COMP_WORDBREAKS-} set='' head i

	# Of the breaks, those a word of ours may hold unquoted.
	[[ $breaks == *=* ]] && set+='='
	[[ $breaks == *:* ]] && set+=':'
	[[ $breaks == *@* ]] && set+='@'
	[[ -n $set ]] || return
	head=${cur%"${cur##*["$set"]}"}
	[[ -n $head ]] || return
	for i in "${!COMPREPLY[@]}"; do
		COMPREPLY[i]=${COMPREPLY[i]#"$head"}
	done
}

_poolctl()
{
	local -a words=() args=()
	local cword cur bin w long expect='' dashdash='' socket='' seen=' '
	local format=''
	local cmd='' n j c

	COMPREPLY=()
	_poolctl_words
	cur=${words[cword]}
	bin=${words[0]}
	[[ $bin == \~/* ]] && bin=$HOME/${bin#\~/}
	type -P "$bin" >/dev/null 2>&1 || bin=poolctl

	# The words before the cursor as poolctl's getopt_long reads them.
	for ((j = 1; j < cword; j++)); do
		w=${words[j]}
		if [[ -n $expect ]]; then
			[[ $expect == --socket ]] && socket=$w
			[[ $expect == --format ]] && format=$w
			expect=''
		elif [[ -n $dashdash || $w == - || $w != -* ]]; then
			args+=("$w")
		elif [[ $w == -- ]]; then
			dashdash=1
		elif [[ $w == --* ]]; then
			_poolctl_long "${w%%=*}"
			seen+="$long "
			if [[ $w == *=* ]]; then
				[[ $long == --socket ]] && socket=${w#*=}
				[[ $long == --format ]] && format=${w#*=}
			elif [[ $_poolctl_value_opts == *[[:space:]]"$long"[[:space:]]* ]]
			then
				expect=$long
			fi
		else
			# Short options, together: -fs PATH, -sPATH, -jshort.
			for ((c = 1; c < ${#w}; c++)); do
				case ${w:c:1} in
				s)
					seen+='--socket '
					socket=${w:c+1}
					[[ -z $socket ]] && expect=--socket
					break ;;
				m | x)
					# -mENTRIES, or the next word.
					[[ ${w:c:1} == m ]] && long=--modify ||
						long=--remove
					seen+="$long "
					[[ -z ${w:c+1} ]] && expect=$long
					break ;;
				j)
					seen+='--json '
					break ;;
				h) seen+='--help ' ;;
				V) seen+='--version ' ;;
				f) seen+='--force ' ;;
				n) seen+='--numeric ' ;;
				esac
			done
		fi
	done
	# The socket's word as the shell gives it to poolctl, for the plain
	# forms: ~/ and one pair of quotes around it.
	case $socket in
	\'*\') socket=${socket:1:${#socket}-2} ;;
	\"*\") socket=${socket:1:${#socket}-2} ;;
	\~/*) socket=$HOME/${socket#\~/} ;;
	esac
	cmd=${args[0]-}
	n=${#args[@]}

	if [[ -n $expect ]]; then
		_poolctl_values "$expect"
	elif [[ -z $dashdash && $cur == --*=* ]]; then
		_poolctl_long "${cur%%=*}"
		local opt=${cur%%=*}= value=${cur#*=}
		cur=$value
		_poolctl_values "$long"
		cur=$opt$value
		for j in "${!COMPREPLY[@]}"; do
			COMPREPLY[j]=$opt${COMPREPLY[j]}
		done
	elif [[ -z $dashdash && $cur == -* ]]; then
		_poolctl_options
	else
		_poolctl_args
	fi
	_poolctl_trim
	return 0
}

complete -F _poolctl poolctl
