/*
 * poolctl.c - the command-line tool of poolmgr.
 *
 *	poolctl [--socket PATH] [--json[=pretty|short]] COMMAND [ARGS]
 *
 * Every command is one function that validates its arguments first, then
 * connects (so a usage error is exit 2 even when no daemon runs), asks the
 * daemon through libpoolclient and has poolctl_print*.c print the result.
 *
 * Data goes to stdout, diagnostics to stderr as "poolctl: WHAT: WHY".
 * Exit status: 0 success, 1 the operation failed, 2 usage error, 69
 * (EX_UNAVAILABLE) the daemon is unreachable, 75 (EX_TEMPFAIL) a check
 * paced, to ask again later, 77 (EX_NOPERM) permission denied.  See
 * docs/poolctl.md.
 *
 * This file owns the command line as a whole: the options, the table of
 * commands and their help, matching the words given against that table,
 * and the connection every command makes once its arguments are good.  The
 * commands are in poolctl_admin.c (create, destroy, set), poolctl_show.c
 * (list, stats, clients, persisted, trim, check, status), poolctl_names.c
 * (names, wait, unpublish), poolctl_blocks.c (blocks), poolctl_free.c
 * (free) and poolctl_acl.c (acl), the readers of
 * their values in poolctl_parse.c:
 * a new command is a function in one of those, declared in poolctl.h, and
 * a row of cmds[] here.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/un.h>

#include <json-c/json.h>

#include "poolctl.h"

#ifndef POOLCTL_VERSION
#define POOLCTL_VERSION "0.1.0"
#endif

/* Per-command options, as bits: a command lists the ones it accepts. */
#define O_SIZE		0x01
#define O_GRANULARITY	0x02
#define O_MODE		0x04
#define O_QUOTA		0x08
#define O_FORCE		0x10
#define O_FORMAT	0x20
#define O_RETAIN	0x40
#define O_NUMA_NODE	0x80
#define O_NUMA_POLICY	0x100
#define O_PAGE_SIZE	0x200
#define O_TIMEOUT	0x400
#define O_OWNER		0x800
#define O_GROUP		0x1000
#define O_LIMIT		0x2000
#define O_PID		0x4000
#define O_HANDLE	0x8000
#define O_BY_SIZE	0x10000
#define O_OLDER_THAN	0x20000
#define O_DRY_RUN	0x40000
#define O_USER_QUOTA	0x80000
#define O_ACL		0x100000	/* create, set --acl */
#define O_MODIFY	0x200000	/* acl -m */
#define O_REMOVE	0x400000	/* acl -x */
#define O_SET_ACL	0x800000	/* acl --set */
#define O_NUMERIC	0x1000000	/* -n: uids and gids as numbers */

/* getopt_long values of the long-only options. */
enum {
	OPT_SIZE = 256,
	OPT_GRANULARITY,
	OPT_MODE,
	OPT_QUOTA,
	OPT_FORMAT,
	OPT_RETAIN,
	OPT_PAGE_SIZE,
	OPT_NUMA_NODE,
	OPT_NUMA_POLICY,
	OPT_TIMEOUT,
	OPT_OWNER,
	OPT_GROUP,
	OPT_LIMIT,
	OPT_BY_SIZE,
	OPT_PID,
	OPT_HANDLE,
	OPT_OLDER_THAN,
	OPT_DRY_RUN,
	OPT_USER_QUOTA,
	OPT_ACL,
	OPT_SET_ACL,
};

struct cmd {
	const char	*name;
	int		(*fn)(struct ctl *, int, char **);
	int		 minargs, maxargs;
	unsigned	 opts;		/* O_* accepted */
	const char	*synopsis;	/* after "poolctl [GLOBAL] NAME " */
	const char	*summary;	/* one line for the global help */
	const char	*help;		/* details for "poolctl help NAME" */
};

/* ---------------------------------------------------------------------- */
/* Connecting. */

/*
 * Connect lazily, once the arguments are known to be good.  Any failure to
 * reach the daemon is EX_UNAVAILABLE, except that a socket we may not open
 * is a permission problem (fail_connect says which).
 */
int
ctl_connect(struct ctl *ctl)
{
	int	error;

	error = pool_connect(ctl->socket, &ctl->conn);
	if (error == 0)
		return 0;
	ctl->conn = NULL;
	fail_connect(error, ctl->socket);
	if (error == -EACCES || error == -EPERM)
		return EX_NOPERM;
	return EX_UNAVAILABLE;
}

/*
 * A socket's path must fit a socket address (sun_path, with its NUL): a
 * longer one can never be connected to, which is the command line's fault
 * (or the environment's), not an unreachable daemon's.
 */
static int
check_socket(const struct ctl *ctl)
{
	struct sockaddr_un	sun;

	if (strlen(ctl->socket) >= sizeof sun.sun_path)
		return usage_error("socket path longer than %zu bytes: %s",
		    sizeof sun.sun_path - 1, safe(ctl->socket).s);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Help. */

static const struct cmd cmds[] = {
	{ "list", cmd_list, 0, 0, 0, "",
	  "one line per pool: size, use, blocks, clients",
	  "List every pool the caller may read, one line each: name, mode\n"
	  "(a + after it: the pool has an access control list, as ls marks\n"
	  "a file with one), size, bytes in live blocks, percent used, live\n"
	  "blocks and open handles.\n" },
	{ "stats", cmd_stats, 0, 1, O_FORMAT | O_NUMERIC,
	  "[POOL] [-n] [--format=text|json|prometheus|kv]",
	  "every statistic of one pool, or of all",
	  "Print every statistic of POOL (of every pool if none is given),\n"
	  "with sizes in KiB/MiB/GiB, plus two derived figures:\n"
	  "  used           allocated_bytes / size\n"
	  "  fragmentation  1 - largest_free / free_bytes (0 if none free)\n"
	  "The owner and group are named where the password and group\n"
	  "databases have them, as ls names them, else numbered.\n"
	  "\n"
	  "  -n, --numeric  the owner and group as numbers (text), as ls -n\n"
	  "  --format=FMT   text (default), json (as --json: \"uid\" and\n"
	  "                 \"gid\", with \"user\" and \"group\" their names,\n"
	  "                 null for none), prometheus (the text exposition\n"
	  "                 format, for node_exporter's textfile collector)\n"
	  "                 or kv (one 'POOL KEY VALUE' line per statistic:\n"
	  "                 the JSON keys, plain numbers)\n"
	  "\n"
	  "Where the daemon has access control lists, the pool's list too\n"
	  "(see acl): 'access control list' in words with names, kv's 'acl'\n"
	  "with numbers (user:1001:r,group:27:rw, or none), JSON's \"acl\"\n"
	  "an array.  Where the daemon has uids' own user quotas (see\n"
	  "set), their entries: 'user quotas' in words with names\n"
	  "(alice:8.0 GiB, backup:none), kv's 'user_quotas' with numbers\n"
	  "(1000:8589934592,1005:0), both only for a pool with entries;\n"
	  "JSON's \"user_quotas\" an array of {uid, user, bytes} (of every\n"
	  "pool, only for those with some).  acl_entries and\n"
	  "user_quota_entries count them (kv, JSON, and Prometheus gauges).\n" },
	{ "status", cmd_status, 0, 0, O_FORMAT | O_NUMERIC,
	  "[-n] [--format=text|json|prometheus|kv]",
	  "the daemon's own statistics: uptime, connections, requests",
	  "Print the daemon's own statistics: its version, pid, user and\n"
	  "group (named where the password and group databases have them),\n"
	  "when it started and how long it has run, its restarts in place,\n"
	  "the connections open now (this one among them) and the limits\n"
	  "(max_connections, the places of it reserved for admins, the most\n"
	  "of one uid), the connections kept, which count in those, for the\n"
	  "descriptors their clients have not read, the connections\n"
	  "accepted and refused, the Hello timeouts, the requests answered\n"
	  "and refused, the undecodable messages, the requests held now\n"
	  "(waiting for a pool to settle, for a name or for room), the\n"
	  "pools you may read with their live blocks and bytes (sums over\n"
	  "those pools), its resident memory, the log lines its rate limits\n"
	  "left out and its feature bits.\n"
	  "Totals count since the daemon started: a restart in place keeps\n"
	  "them, a start after a crash does not.  Anyone who may connect\n"
	  "may ask.\n"
	  "\n"
	  "  -n, --numeric  the user and group as numbers (text), as ls -n\n"
	  "  --format=FMT   text (default), json (as --json: \"uid\" and\n"
	  "                 \"gid\", with \"user\" and \"group\" their names,\n"
	  "                 null for none), prometheus\n"
	  "                 (poolmgr_daemon_* metrics, counters ending in\n"
	  "                 _total) or kv (one 'KEY VALUE' line per figure:\n"
	  "                 the JSON keys, plain numbers)\n" },
	{ "create", cmd_create, 1, 1,
	  O_SIZE | O_GRANULARITY | O_MODE | O_QUOTA | O_RETAIN | O_PAGE_SIZE |
	  O_NUMA_NODE | O_NUMA_POLICY | O_OWNER | O_GROUP | O_LIMIT |
	  O_USER_QUOTA | O_ACL,
	  "NAME --size SIZE [--granularity N] [--mode MODE] [--owner USER]"
	  " [--group GROUP] [--acl ENTRIES] [--quota SIZE] [--user-quota SIZE]"
	  " [--user-quota USER=SIZE ...] [--limit SIZE] [--retain SIZE]"
	  " [--page-size SIZE] [--numa-node NODE [--numa-policy POLICY]]",
	  "create a pool",
	  "Create the pool NAME (1-64 of [A-Za-z0-9._-], not starting with\n"
	  "'.').  Needs the daemon's uid, root or the admin group.\n"
	  "\n"
	  "  --size SIZE      size of the pool, rounded up to pages\n"
	  "                   (required)\n"
	  "  --granularity N  allocation granularity: a power of two from 8\n"
	  "                   to the page size (default 16)\n"
	  "  --mode MODE      octal permission bits (default 0600)\n"
	  "  --owner USER     the owner: a user name or a uid (default: the\n"
	  "                   caller's uid)\n"
	  "  --group GROUP    the group: a group name or a gid (default: the\n"
	  "                   caller's gid)\n"
	  "  --acl ENTRIES    the pool's access control list from the start\n"
	  "                   (see acl; default: none), so that no process\n"
	  "                   opens it before its list holds\n"
	  "  --quota SIZE     bytes each connection may hold (default, 0 or\n"
	  "                   none: no quota)\n"
	  "  --user-quota SIZE\n"
	  "                   bytes all connections of one uid may hold\n"
	  "                   together, with the blocks it made persistent\n"
	  "                   (default, 0 or none: no user quota)\n"
	  "  --user-quota USER=SIZE\n"
	  "                   USER's own user quota, in place of the pool's\n"
	  "                   (USER a name or a uid; SIZE 0 or none: no\n"
	  "                   user quota for USER); repeatable, at most 32\n"
	  "  --limit SIZE     bytes the pool's live blocks may hold together\n"
	  "                   (default, 0 or none: no limit, the size bounds\n"
	  "                   it); `set --limit` raises or lowers it live\n"
	  "  --retain SIZE    free memory of small blocks kept for reuse\n"
	  "                   before it goes back to the OS (default 1M, or\n"
	  "                   a quarter of the live pages if more); 0 or\n"
	  "                   none: none\n"
	  "  --page-size SIZE huge pages of that size (2M, 1G: as the kernel\n"
	  "                   offers in /sys/kernel/mm/hugepages), all of the\n"
	  "                   pool's reserved now and kept for its life;\n"
	  "                   the size rounds up to them (default: the\n"
	  "                   system page)\n"
	  "  --numa-node NODE the NUMA node the pool's pages go to, for\n"
	  "                   every process that maps it (default: no\n"
	  "                   policy, the node of the CPU that first\n"
	  "                   touches a page)\n"
	  "  --numa-policy POLICY\n"
	  "                   preferred (default): NODE while it has free\n"
	  "                   memory, else another; bind: NODE only (when\n"
	  "                   it is full, the kernel reclaims there or\n"
	  "                   calls its OOM killer: no other node)\n"
	  "\n"
	  "SIZE is a number of bytes, optionally followed by K, M, G or T\n"
	  "(or KiB, MiB, GiB, TiB): powers of 1024.\n" },
	{ "destroy", cmd_destroy, 1, 1, O_FORCE, "NAME [--force]",
	  "destroy a pool",
	  "Destroy the pool NAME.  A pool with live blocks or open handles is\n"
	  "busy (exit 1) unless --force is given.\n"
	  "\n"
	  "  -f, --force  destroy even a pool that is in use\n" },
	{ "set", cmd_set, 1, 1,
	  O_MODE | O_OWNER | O_GROUP | O_QUOTA | O_RETAIN | O_LIMIT |
	  O_USER_QUOTA | O_ACL,
	  "NAME [--mode MODE] [--owner USER] [--group GROUP] [--acl ENTRIES]"
	  " [--quota SIZE] [--user-quota SIZE] [--user-quota USER=SIZE ...]"
	  " [--retain SIZE] [--limit SIZE]",
	  "change a live pool's mode, owner, group, quotas, retain or limit",
	  "Change the settings given of the live pool NAME, all or none;\n"
	  "its blocks and handles stay.  Needs the daemon's uid, root or the\n"
	  "admin group; the pool's owner may change its mode and its access\n"
	  "control list, and its group to one of its own.  A pool the daemon's configuration file\n"
	  "defines is changed there (and the daemon reloaded): exit 1.\n"
	  "Handles opened before keep the access they were opened with; a\n"
	  "quota or user quota lowered below what a client or a uid holds\n"
	  "takes nothing back (what passes it is refused from then on); a\n"
	  "limit lowered below what the pool holds takes no live block back\n"
	  "but evicts unheld evictable names down to it.\n"
	  "\n"
	  "  --mode MODE      octal permission bits, 0001 to 0777\n"
	  "  --owner USER     the owner: a user name or a uid\n"
	  "  --group GROUP    the group: a group name or a gid\n"
	  "  --acl ENTRIES    replace the access control list whole (see\n"
	  "                   acl); none: no entries\n"
	  "  --quota SIZE     bytes each connection may hold; 0 or none: no\n"
	  "                   quota\n"
	  "  --user-quota SIZE\n"
	  "                   bytes all connections of one uid may hold\n"
	  "                   together, with the blocks it made persistent\n"
	  "                   (admins only); 0 or none: no user quota\n"
	  "  --user-quota USER=SIZE\n"
	  "                   USER's own user quota, in place of the pool's\n"
	  "                   (admins only; USER a name or a uid; SIZE 0 or\n"
	  "                   none: no user quota for USER; the word\n"
	  "                   'default': take the entry out, USER bound by\n"
	  "                   the pool's again); repeatable: every entry and\n"
	  "                   setting given is one change, all or none; the\n"
	  "                   other entries stay; a pool holds at most 32\n"
	  "                   entries\n"
	  "  --retain SIZE    free memory of small blocks kept for reuse\n"
	  "                   (as create's); 0 or none: none; the word\n"
	  "                   'default': the daemon's default again\n"
	  "  --limit SIZE     bytes the pool's live blocks may hold together\n"
	  "                   (admins only); 0 or none: no limit\n"
	  "\n"
	  "SIZE is a number of bytes, optionally followed by K, M, G or T\n"
	  "(or KiB, MiB, GiB, TiB): powers of 1024.\n" },
	{ "acl", cmd_acl, 1, 1,
	  O_FORMAT | O_NUMERIC | O_MODIFY | O_REMOVE | O_SET_ACL,
	  "POOL [-n] [--format=text|json|kv] [--modify ENTRIES] "
	  "[--remove NAMES] [--set ENTRIES]",
	  "a pool's access control list: list it, change it",
	  "List the access control list of POOL as getfacl does (read\n"
	  "permission): the owner, the group, the owner's rights from the\n"
	  "mode (user::), each user entry, the group's rights (group::), each\n"
	  "group entry and the others' (other::), names where the password\n"
	  "and group databases have them (an entry's number where its name\n"
	  "would not read back as it).  Or change it (its owner, the\n"
	  "daemon's uid, root and the admin group may): -m and -x together\n"
	  "are one request, all or nothing.  An entry that changes nothing\n"
	  "(a user entry for root, the daemon's uid or the pool's owner) is\n"
	  "sent all the same, with a note on stderr saying why.\n"
	  "\n"
	  "Who may what, the first rule that applies: the owner has the\n"
	  "owner's bits; a user entry naming the caller, its rights; else the\n"
	  "group's bits and the entries of the groups the caller is in (its\n"
	  "primary and supplementary groups) grant if one of them grants\n"
	  "all that is asked, and refuse if the caller is in any of them\n"
	  "and none does; else the others' bits.  Root and the daemon's uid\n"
	  "may do all.  Opening read-write needs r and w (from one rule);\n"
	  "read-only, stats and this list, r.\n"
	  "A pool's list holds at most 32 entries.\n"
	  "\n"
	  "ENTRIES: user:WHO:RIGHTS or group:WHO:RIGHTS (u: and g: too),\n"
	  "separated by commas or blanks; WHO a name or a number; RIGHTS\n"
	  "rw, r, w or - (none: an entry that refuses), or getfacl's\n"
	  "three letters (rw-, r--, ---).\n"
	  "\n"
	  "  -n, --numeric      users and groups as numbers, as getfacl -n\n"
	  "  --format=FMT       text (default), json (as --json: the pool,\n"
	  "                     owner, uid, group, gid, mode and an \"acl\"\n"
	  "                     array of {kind, id, name, rights}) or kv\n"
	  "                     ('POOL uid N', gid, mode, then 'POOL\n"
	  "                     user.UID RIGHTS' and 'POOL group.GID RIGHTS'\n"
	  "                     per entry)\n"
	  "  -m, --modify ENTRIES\n"
	  "                     set these entries, in place of those of the\n"
	  "                     same user or group; the others stay\n"
	  "  -x, --remove NAMES\n"
	  "                     take out the entries of these users and\n"
	  "                     groups: user:WHO or group:WHO, no rights\n"
	  "                     (one not there: no error)\n"
	  "  --set ENTRIES      replace the whole list; none: no entries\n"
	  "\n"
	  "A change prints nothing; --json prints the pool and what it gave\n"
	  "(\"modified\" and \"removed\", or \"acl\" for --set).\n" },
	{ "clients", cmd_clients, 0, 1, O_NUMERIC, "[POOL] [-n]",
	  "open handles: who holds what",
	  "List the open handles of POOL (of every pool if none is given):\n"
	  "pid, user and group of the process (UID and GID: names where the\n"
	  "password and group databases have them, else numbers), the name\n"
	  "it gave, the pool, the handle, read-only or read-write, the\n"
	  "blocks it holds references to and their bytes (less persistent\n"
	  "and named blocks': those count for the uid that persisted them,\n"
	  "see persisted), and the bytes of those its client cache keeps.\n"
	  "--json gives \"uid\" and \"gid\", with \"user\" and \"group\"\n"
	  "their names (null for none).\n"
	  "\n"
	  "  -n, --numeric  users and groups as numbers, as ls -n\n" },
	{ "persisted", cmd_persisted, 0, 1, O_FORMAT | O_NUMERIC,
	  "[POOL] [-n] [--format=text|json|prometheus|kv]",
	  "persistent blocks by the uid that persisted them",
	  "List the uids with persistent blocks in POOL (in every pool if\n"
	  "none is given), the most bytes first: the pool, the uid (by its\n"
	  "name where the password database has one), its persistent\n"
	  "blocks and their bytes, and those bytes as a share of the pool's\n"
	  "quota, against which they count for each of the uid's\n"
	  "connections, and of its user quota, against which they count\n"
	  "with all that the uid's connections hold (\"-\": no such quota).\n"
	  "Persistent blocks outlive every handle: here is who leaves them.\n"
	  "At most 1000 uids per pool, those persisting most (a warning on\n"
	  "stderr says when more were left out).\n"
	  "\n"
	  "  -n, --numeric  uids as numbers (text), as ls -n\n"
	  "  --format=FMT   text (default), json (as --json: \"uid\", and\n"
	  "                 \"user\" its name or null), prometheus\n"
	  "                 (poolmgr_pool_persisted_bytes and _blocks, by pool\n"
	  "                 and uid) or kv ('POOL persisted_bytes.UID N' and\n"
	  "                 'POOL persisted_blocks.UID N' lines)\n" },
	{ "users", cmd_users, 0, 1, O_FORMAT | O_NUMERIC,
	  "[POOL] [-n] [--format=text|json|prometheus|kv]",
	  "who holds what, per uid, against the user quota",
	  "List the uids with handles open on POOL or persistent blocks\n"
	  "there (in every pool if none is given), those holding most first:\n"
	  "the pool, the uid (by its name where the password database has\n"
	  "one), its connections with handles on the pool and those\n"
	  "handles, the bytes of the blocks its handles hold (each once\n"
	  "per holding handle, blocks their client caches keep too), its\n"
	  "persistent blocks' bytes and their number, its user quota in\n"
	  "force (QUOTA: a trailing * marks the uid's own, an entry set\n"
	  "with set's USER=SIZE, in place of the pool's; \"-\": none) and\n"
	  "the held and persistent bytes together as a share of it, which\n"
	  "counts them (\"-\": no user quota).  When the user quota\n"
	  "refuses, here is whose connections hold the room.  At most 1000\n"
	  "uids per pool (a warning on stderr says when more were left out).\n"
	  "\n"
	  "  -n, --numeric  uids as numbers (text), as ls -n\n"
	  "  --format=FMT   text (default), json (as --json: \"uid\", and\n"
	  "                 \"user\" its name or null, \"quota\" and\n"
	  "                 \"quota_own\"), prometheus\n"
	  "                 (poolmgr_pool_user_held_bytes, _persisted_bytes,\n"
	  "                 _persisted_blocks, _connections, _handles,\n"
	  "                 _quota_bound_bytes and _quota_own, by pool and\n"
	  "                 uid) or kv ('POOL user_held_bytes.UID N' lines\n"
	  "                 and the like)\n" },
	{ "names", cmd_names, 1, 2, O_NUMERIC, "POOL [PREFIX] [-n]",
	  "named blocks: name, offset, size, publisher, generation, evictable",
	  "List the named blocks of POOL (those whose names begin with\n"
	  "PREFIX, if given), in byte order of their names: the name, the\n"
	  "block's offset (hexadecimal) and usable size, the uid that\n"
	  "published it (by its name where the password database has one),\n"
	  "the name's generation (the pool's count of publishes when it was\n"
	  "last published or replaced), and whether\n"
	  "it is evictable (EVICT: the daemon may unpublish it to make room\n"
	  "while no handle holds its block).  Needs read permission.\n"
	  "A name holds the pool's reference of its block: the block lives\n"
	  "until the name is removed.  One reply holds at most 1000 names,\n"
	  "fewer when they are long (a warning on stderr says how many were\n"
	  "left out).  A name is one field: a blank, a backslash and bytes\n"
	  "that are not printable ASCII show as \\xHH (printf '%b' reads\n"
	  "them back); --json gives a name that is UTF-8 as it is, else\n"
	  "with U+FFFD and its bytes in name_hex, and \"publisher\" with\n"
	  "\"publisher_user\" its name (null for none).\n"
	  "\n"
	  "  -n, --numeric  the publisher as a number, as ls -n\n" },
	{ "wait", cmd_wait, 2, 2, O_TIMEOUT, "POOL NAME [--timeout SECONDS]",
	  "wait until a block has the name",
	  "Wait until NAME is published in POOL (read permission), for at\n"
	  "most SECONDS if --timeout is given, and print the named block on\n"
	  "one line: the name, offset (hexadecimal), usable size (in bytes)\n"
	  "and generation, the name written as names writes it.  A name\n"
	  "there already is printed at once.\n"
	  "Exit 1 if the time runs out (or the pool is destroyed\n"
	  "meanwhile); --timeout 0 looks once.\n"
	  "  --timeout SECONDS  give up after this many (whole) seconds\n" },
	{ "unpublish", cmd_unpublish, 2, 2, 0, "POOL NAME",
	  "remove a block's name",
	  "Remove NAME from POOL and drop the reference it holds: the block\n"
	  "is freed unless a handle still holds it.  Needs write permission\n"
	  "on the pool.\n" },
	{ "blocks", cmd_blocks, 1, 1,
	  O_PID | O_HANDLE | O_FORMAT | O_BY_SIZE | O_NUMERIC,
	  "POOL [--pid PID [--handle HANDLE]] [--by-size] [-n] "
	  "[--format=text|json|kv]",
	  "live blocks: offset, size, holders, flags; by process or handle",
	  "List the live blocks of POOL in address order (read permission),\n"
	  "page after page as the daemon sends them (a pool may hold millions:\n"
	  "nothing is gathered first).  Each block's offset (hexadecimal),\n"
	  "usable size, the bytes asked for (REQUESTED), the references\n"
	  "handles hold to it (HOLDERS), its flags, the uid whose quota a\n"
	  "persistent block counts in (PERSISTER: by its name where the\n"
	  "password database has one that fits the column's 9 places, else\n"
	  "its number, as ps names users), for how long it has been\n"
	  "persistent (PERSISTED: 850ms, 42s, 3m05s, 2h10m, 4d03h;\n"
	  "the age `free` and `sweep` go by), and its first\n"
	  "holders (at most 4) as PID:HANDLE, \"+N\" for the others (\"-\":\n"
	  "none).\n"
	  "FLAGS are letters, \"-\" for none:\n"
	  "  N  named: a name holds it (see names)\n"
	  "  E  the name is evictable\n"
	  "  P  persistent: it outlives its holders (persisted, or named)\n"
	  "  B  busy: being moved or zeroed by the daemon\n"
	  "To find a leak, `poolctl clients POOL` says which processes hold\n"
	  "how much, `poolctl blocks POOL --pid PID` lists what one holds,\n"
	  "and --by-size sums it up by the size asked for.\n"
	  "Exit 1 if the process has no (such) handle on the pool.\n"
	  "\n"
	  "  --pid PID        only the blocks a handle of process PID holds\n"
	  "  --handle HANDLE  ... and of those, only the handles numbered\n"
	  "                   HANDLE (as clients lists them: one for each\n"
	  "                   connection of the process; needs --pid)\n"
	  "  --by-size        instead of the blocks, one line per size asked\n"
	  "                   for (REQUESTED): how many blocks, their usable\n"
	  "                   BYTES, the most bytes first, then the total;\n"
	  "                   kv: 'POOL REQUESTED blocks|bytes N' and\n"
	  "                   'POOL total blocks|bytes N'; json: one object,\n"
	  "                   the sizes in an array\n"
	  "  -n, --numeric    the persister as a number, as ls -n\n"
	  "  --format=FMT     text (default), json (as --json: an array of\n"
	  "                   one object per block, \"persister_user\" and\n"
	  "                   each holder's \"user\" the names of the uids\n"
	  "                   or null) or kv (one 'POOL OFFSET\n"
	  "                   KEY VALUE' line per field: the JSON keys, plain\n"
	  "                   numbers, a 'holder PID:HANDLE' line per holder\n"
	  "                   listed)\n" },
	{ "free", cmd_free, 2, 4097, O_OLDER_THAN,
	  "POOL OFFSET... [--older-than SECONDS]",
	  "end blocks by offset: what a crashed program left persistent",
	  "Free the blocks of POOL that start at each OFFSET (0x and\n"
	  "hexadecimal, as blocks prints them, or decimal), one after the\n"
	  "other.  Needs write permission on the pool.  A persistent block\n"
	  "(see persisted: one a program persisted, or allocated persistent,\n"
	  "and never handed on) is ended: gone unless a handle still holds\n"
	  "it.  A block that handles hold and that is not persistent is\n"
	  "theirs to free, and a named one is its name's (see unpublish):\n"
	  "both are refused.  Every offset is tried, each refusal said on\n"
	  "stderr; the exit status is the last refusal's.  Prints 'freed N\n"
	  "blocks' if it ended any; --json prints {\"pool\", \"freed\": [the\n"
	  "offsets freed]}.  To find what a program left: `poolctl blocks\n"
	  "POOL` (flag P, PERSISTER its uid, PERSISTED for how long).  A\n"
	  "block listed may be freed by its consumer meanwhile and its place\n"
	  "taken by a new one; with --older-than only blocks persistent for\n"
	  "at least SECONDS are ended, so a new one at the same offset is\n"
	  "refused, untouched, while it is younger than SECONDS: give the\n"
	  "age listed, in whole seconds rounded down (3m05s is 185), and\n"
	  "free before that many seconds have passed since the listing.\n"
	  "See also sweep.\n"
	  "  --older-than SECONDS  end only blocks persistent this long\n"
	  "                        (whole seconds)\n" },
	{ "sweep", cmd_sweep, 1, 1, O_OLDER_THAN | O_DRY_RUN | O_NUMERIC,
	  "POOL --older-than SECONDS [--dry-run] [-n]",
	  "end every block left persistent at least SECONDS ago",
	  "End every persistent block of POOL, without a name and held by\n"
	  "no handle, that has been persistent for at least SECONDS (what\n"
	  "a crashed program left), each as free --older-than would\n"
	  "with the age the listing gave it: the sweep a timer can run\n"
	  "where producers may die between making a block and handing it\n"
	  "on.  Needs write permission on the pool.  A block that changed\n"
	  "between the listing and its free (its consumer freed it, a new\n"
	  "one took its place, a name took it) is passed over.  Prints\n"
	  "'freed N blocks (SIZE)'; --json prints {\"pool\", \"freed\":\n"
	  "[the offsets], \"bytes\"}.\n"
	  "  --older-than SECONDS  the age of what was left behind (whole\n"
	  "                        seconds; required)\n"
	  "  --dry-run             end nothing: list each block it would\n"
	  "                        end (OFFSET SIZE user PERSISTER AGE, the\n"
	  "                        persister by name where the password\n"
	  "                        database has one), then 'would free N\n"
	  "                        blocks (SIZE)' (JSON: \"would_free\");\n"
	  "                        read permission is enough\n"
	  "  -n, --numeric         the persister as a number, as ls -n\n" },
	{ "trim", cmd_trim, 1, 1, 0, "POOL",
	  "give a pool's free pages back to the OS",
	  "Give every free page of POOL back to the OS now, those past its\n"
	  "last live block that mappings' reads or stray writes made resident\n"
	  "too, and print how many bytes were released.  Needs write\n"
	  "permission on the pool.\n" },
	{ "check", cmd_check, 1, 1, 0, "POOL",
	  "run the daemon's invariant check on a pool",
	  "Run the daemon's invariant check on POOL.  Prints \"ok\", or the\n"
	  "problem found and exits 1.  Needs write permission on the pool\n"
	  "(the check holds up the daemon: about 0.6 s per million blocks).\n"
	  "A user who is no admin may be told to ask again later: exit 75.\n" },
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static const char exit_status_help[] =
    "Exit status:\n"
    "  0   success\n"
    "  1   the operation failed (no such pool, pool busy, check failed...)\n"
    "  2   usage error\n"
    "  69  the daemon is unreachable (no socket, connection refused or\n"
    "      lost), or at a connection limit (max_connections...)\n"
    "  75  try again later: a check of a large pool is paced\n"
    "  77  permission denied (by the daemon, or on the socket)\n";

static void
usage(void)
{
	size_t	i;

	printf("usage: poolctl [--socket PATH] [--json[=pretty|short]] "
	    "COMMAND [ARGS]\n"
	    "\n"
	    "Manage the pools of poolmgrd.\n"
	    "\n"
	    "Commands:\n");
	for (i = 0; i < NCMDS; i++)
		printf("  %-9s %s\n", cmds[i].name, cmds[i].summary);
	printf("  %-9s %s\n", "help", "this text, or a command's");
	printf("\n"
	    "Options (anywhere on the line):\n"
	    "  -s, --socket PATH   the daemon's socket (default: "
	    "$POOLMGRD_SOCKET,\n"
	    "                      else " POOL_DEFAULT_SOCKET ")\n"
	    "  -j, --json[=FMT]    print the data as JSON, pretty (default) "
	    "or short\n"
	    "  -h, --help          show help; after a command, that "
	    "command's\n"
	    "  -V, --version       show the version\n"
	    "An option that takes a value may be given once.\n"
	    "\n"
	    "Run 'poolctl help COMMAND' for a command's arguments.\n"
	    "\n%s", exit_status_help);
}

static void
cmd_usage(const struct cmd *cmd)
{
	printf("usage: poolctl [--socket PATH] [--json] %s%s%s\n\n%s\n%s",
	    cmd->name, cmd->synopsis[0] != '\0' ? " " : "", cmd->synopsis,
	    cmd->help, exit_status_help);
}

static const struct cmd *
find_cmd(const char *name)
{
	size_t	i;

	for (i = 0; i < NCMDS; i++) {
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	}
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Command line. */

static const struct option longopts[] = {
	{ "socket",	 required_argument,	NULL, 's' },
	{ "json",	 optional_argument,	NULL, 'j' },
	{ "help",	 no_argument,		NULL, 'h' },
	{ "version",	 no_argument,		NULL, 'V' },
	{ "force",	 no_argument,		NULL, 'f' },
	{ "size",	 required_argument,	NULL, OPT_SIZE },
	{ "granularity", required_argument,	NULL, OPT_GRANULARITY },
	{ "mode",	 required_argument,	NULL, OPT_MODE },
	{ "quota",	 required_argument,	NULL, OPT_QUOTA },
	{ "retain",	 required_argument,	NULL, OPT_RETAIN },
	{ "page-size",	 required_argument,	NULL, OPT_PAGE_SIZE },
	{ "numa-node",	 required_argument,	NULL, OPT_NUMA_NODE },
	{ "numa-policy", required_argument,	NULL, OPT_NUMA_POLICY },
	{ "format",	 required_argument,	NULL, OPT_FORMAT },
	{ "timeout",	 required_argument,	NULL, OPT_TIMEOUT },
	{ "owner",	 required_argument,	NULL, OPT_OWNER },
	{ "group",	 required_argument,	NULL, OPT_GROUP },
	{ "limit",	 required_argument,	NULL, OPT_LIMIT },
	{ "user-quota",	 required_argument,	NULL, OPT_USER_QUOTA },
	{ "pid",	 required_argument,	NULL, OPT_PID },
	{ "handle",	 required_argument,	NULL, OPT_HANDLE },
	{ "by-size",	 no_argument,		NULL, OPT_BY_SIZE },
	{ "older-than",	 required_argument,	NULL, OPT_OLDER_THAN },
	{ "dry-run",	 no_argument,		NULL, OPT_DRY_RUN },
	{ "acl",	 required_argument,	NULL, OPT_ACL },
	{ "modify",	 required_argument,	NULL, 'm' },
	{ "remove",	 required_argument,	NULL, 'x' },
	{ "set",	 required_argument,	NULL, OPT_SET_ACL },
	{ "numeric",	 no_argument,		NULL, 'n' },
	{ NULL,		 0,			NULL, 0 }
};

static const char *
opt_name(unsigned bit)
{
	switch (bit) {
	case O_SIZE:
		return "--size";
	case O_GRANULARITY:
		return "--granularity";
	case O_MODE:
		return "--mode";
	case O_QUOTA:
		return "--quota";
	case O_USER_QUOTA:
		return "--user-quota";
	case O_FORCE:
		return "--force";
	case O_RETAIN:
		return "--retain";
	case O_PAGE_SIZE:
		return "--page-size";
	case O_NUMA_NODE:
		return "--numa-node";
	case O_NUMA_POLICY:
		return "--numa-policy";
	case O_TIMEOUT:
		return "--timeout";
	case O_OWNER:
		return "--owner";
	case O_GROUP:
		return "--group";
	case O_LIMIT:
		return "--limit";
	case O_PID:
		return "--pid";
	case O_HANDLE:
		return "--handle";
	case O_BY_SIZE:
		return "--by-size";
	case O_OLDER_THAN:
		return "--older-than";
	case O_DRY_RUN:
		return "--dry-run";
	case O_ACL:
		return "--acl";
	case O_MODIFY:
		return "--modify";
	case O_REMOVE:
		return "--remove";
	case O_SET_ACL:
		return "--set";
	case O_NUMERIC:
		return "--numeric";
	default:
		return "--format";
	}
}

/*
 * An option given again is two answers to one question, and the last one
 * silently winning would hide a script's mistake (a --mode from a default
 * and another from the caller): run() refuses the first one repeated,
 * once the command is known and help has had its say.  Flags (--force,
 * --help) say the same thing each time and may repeat.
 */
static void
note_twice(struct ctl *ctl, bool again, const char *name)
{
	if (again && ctl->twice == NULL)
		ctl->twice = name;
}

/* The value of an option of a command: once only (note_twice). */
static void
take_value(struct ctl *ctl, unsigned bit, const char **arg)
{
	note_twice(ctl, (ctl->opts & bit) != 0, opt_name(bit));
	ctl->opts |= bit;
	*arg = optarg;
}

/*
 * --user-quota SIZE is the pool's user quota, once; --user-quota
 * USER=SIZE an entry of a uid's own, as many as the command gives (the
 * command reads them: poolctl_uquota.c).
 */
static void
user_quota_word(struct ctl *ctl)
{
	ctl->opts |= O_USER_QUOTA;
	if (strchr(optarg, '=') == NULL) {
		note_twice(ctl, ctl->user_quota_arg != NULL, "--user-quota");
		ctl->user_quota_arg = optarg;
		return;
	}
	if (ctl->nuq_words == CTL_UQ_WORDS)
		ctl->uq_too_many = true;
	else
		ctl->uq_words[ctl->nuq_words++] = optarg;
}

/*
 * The long option that name[0..len) stands for, whole or, as getopt_long
 * takes it, abbreviated to a prefix of one option alone; else NULL.
 */
static const struct option *
long_option(const char *name, size_t len)
{
	const struct option	*o, *found = NULL;

	for (o = longopts; o->name != NULL; o++) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		if (o->name[len] == '\0')
			return o;
		if (found != NULL)
			return NULL;	/* ambiguous */
		found = o;
	}
	return found;
}

/*
 * The words for what getopt_long refused (word, the argument it was on).
 * A long option that takes no value given one ("--force=1") comes back
 * with optopt its short letter, which it was not written as.
 */
static int
unknown_option(const char *word)
{
	const struct option	*o;
	size_t			 len;

	if (strncmp(word, "--", 2) != 0 || word[2] == '\0') {
		if (optopt != 0 && optopt < 256)
			return usage_error("unknown option '-%c'", optopt);
		return usage_error("unknown option '%s'", word);
	}
	len = strcspn(word + 2, "=");
	if (word[2 + len] == '=' && (o = long_option(word + 2, len)) != NULL &&
	    o->has_arg == no_argument)
		return usage_error("option '--%s' takes no value", o->name);
	return usage_error("unknown option '%.*s'", (int)(len + 2), word);
}

/*
 * One getopt_long pass over the whole line.  The leading '-' in optstring
 * hands back the words that are not options in order (as code 1), so the
 * options may come before or after the command without depending on
 * POSIXLY_CORRECT; words after "--" are never options (a pool name may
 * begin with '-').  The leading ':' lets us word the errors ourselves.
 */
static int
parse_args(struct ctl *ctl, int argc, char **argv, char **pos, int *npos)
{
	const char	*json_arg = NULL;
	int		 ch;

	opterr = 0;
	*npos = 0;
	while ((ch = getopt_long(argc, argv, "-:s:j::hVfm:x:n", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 1:
			pos[(*npos)++] = optarg;
			break;
		case 's':
			if (*optarg == '\0')
				return usage_error("--socket: empty path");
			note_twice(ctl, ctl->socket != NULL, "--socket");
			ctl->socket = optarg;
			break;
		case 'j':
			/* --json twice is the same word twice; not a FMT. */
			note_twice(ctl, ctl->json && (json_arg != NULL ||
			    optarg != NULL), "--json");
			ctl->json = 1;
			if (optarg != NULL)
				json_arg = optarg;
			break;
		case 'h':
			ctl->help = true;
			break;
		case 'V':
			ctl->version = true;
			break;
		case 'f':
			ctl->force = true;
			ctl->opts |= O_FORCE;
			break;
		case 'n':
			ctl->numeric = true;
			ctl->opts |= O_NUMERIC;
			break;
		case OPT_SIZE:
			take_value(ctl, O_SIZE, &ctl->size_arg);
			break;
		case OPT_GRANULARITY:
			take_value(ctl, O_GRANULARITY, &ctl->granularity_arg);
			break;
		case OPT_MODE:
			take_value(ctl, O_MODE, &ctl->mode_arg);
			break;
		case OPT_QUOTA:
			take_value(ctl, O_QUOTA, &ctl->quota_arg);
			break;
		case OPT_USER_QUOTA:
			user_quota_word(ctl);
			break;
		case OPT_LIMIT:
			take_value(ctl, O_LIMIT, &ctl->limit_arg);
			break;
		case OPT_RETAIN:
			take_value(ctl, O_RETAIN, &ctl->retain_arg);
			break;
		case OPT_PAGE_SIZE:
			take_value(ctl, O_PAGE_SIZE, &ctl->page_size_arg);
			break;
		case OPT_NUMA_NODE:
			take_value(ctl, O_NUMA_NODE, &ctl->numa_node_arg);
			break;
		case OPT_TIMEOUT:
			take_value(ctl, O_TIMEOUT, &ctl->timeout_arg);
			break;
		case OPT_OWNER:
			take_value(ctl, O_OWNER, &ctl->owner_arg);
			break;
		case OPT_GROUP:
			take_value(ctl, O_GROUP, &ctl->group_arg);
			break;
		case OPT_PID:
			take_value(ctl, O_PID, &ctl->pid_arg);
			break;
		case OPT_HANDLE:
			take_value(ctl, O_HANDLE, &ctl->handle_arg);
			break;
		case OPT_OLDER_THAN:
			take_value(ctl, O_OLDER_THAN, &ctl->older_than_arg);
			break;
		case OPT_BY_SIZE:
			ctl->by_size = true;
			ctl->opts |= O_BY_SIZE;
			break;
		case OPT_DRY_RUN:
			ctl->dry_run = true;
			ctl->opts |= O_DRY_RUN;
			break;
		case OPT_NUMA_POLICY:
			take_value(ctl, O_NUMA_POLICY, &ctl->numa_policy_arg);
			break;
		case OPT_FORMAT:
			take_value(ctl, O_FORMAT, &ctl->format_arg);
			break;
		case OPT_ACL:
			take_value(ctl, O_ACL, &ctl->acl_arg);
			break;
		case 'm':
			take_value(ctl, O_MODIFY, &ctl->modify_arg);
			break;
		case 'x':
			take_value(ctl, O_REMOVE, &ctl->remove_arg);
			break;
		case OPT_SET_ACL:
			take_value(ctl, O_SET_ACL, &ctl->set_acl_arg);
			break;
		case ':':
			return usage_error("option '%s' needs an argument",
			    argv[optind - 1]);
		default:
			return unknown_option(argv[optind - 1]);
		}
	}
	while (optind < argc)
		pos[(*npos)++] = argv[optind++];

	ctl->json_flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE;
	if (json_arg != NULL) {
		if (strcmp(json_arg, "short") == 0)
			ctl->json_flags = JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE;
		else if (strcmp(json_arg, "pretty") != 0)
			/* Not "--json=%s": -j=short gives us "=short". */
			return usage_error("bad JSON format '%s' (pretty or "
			    "short: --json=short, -jshort)", json_arg);
	}
	return 0;
}

/*
 * A usage error found as the line was read comes after the command when
 * the first word that is no option was read before it and names one:
 * the hint then points at that command's help, which lists its options.
 */
static void
note_cmd(struct ctl *ctl, char **pos, int npos)
{
	const struct cmd	*cmd;

	if (npos > 0 && (cmd = find_cmd(pos[0])) != NULL)
		ctl->cmd = cmd->name;
}

/* Flush stdout and turn a failed write (a full disk, a closed pipe) into
 * exit 1 rather than a silent success. */
static int
finish(struct ctl *ctl, int rc)
{
	if (ctl->conn != NULL)
		pool_disconnect(ctl->conn);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "poolctl: write error on stdout: %s\n",
		    strerror(errno));
		if (rc == 0)
			rc = EXIT_FAILED;
	}
	return rc;
}

/*
 * The word of a synopsis that names its argument i (from 0): the
 * arguments a command must have come first in its synopsis.
 */
static const char *
synopsis_word(const char *synopsis, int i)
{
	const char	*p = synopsis;

	for (; i > 0 && *p != '\0'; i--) {
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	return p;
}

/*
 * Pick the command and check its arguments; rc is the exit status.  Help
 * wins over every other complaint, so "poolctl create --size x --help"
 * shows the help.
 */
static int
run(struct ctl *ctl, int npos, char **pos)
{
	const struct cmd	*cmd;
	const char		*missing;
	unsigned		 bad;
	int			 rc;

	if (ctl->version) {
		printf("poolctl %s\n", POOLCTL_VERSION);
		return 0;
	}
	if (npos == 0) {
		if (!ctl->help)
			return usage_error("no command given");
		usage();
		return 0;
	}

	if (strcmp(pos[0], "help") == 0) {
		if (npos > 2)
			return usage_error("help: too many arguments");
		if (npos == 1 || strcmp(pos[1], "help") == 0) {
			usage();
			return 0;
		}
		if ((cmd = find_cmd(pos[1])) == NULL)
			return usage_error("unknown command '%s'", pos[1]);
		cmd_usage(cmd);
		return 0;
	}
	if ((cmd = find_cmd(pos[0])) == NULL)
		return usage_error("unknown command '%s'", pos[0]);
	ctl->cmd = cmd->name;
	if (ctl->help) {
		cmd_usage(cmd);
		return 0;
	}

	if ((bad = ctl->opts & ~cmd->opts) != 0)
		return usage_error("%s: option %s does not apply",
		    cmd->name, opt_name(bad & -bad));
	if (ctl->twice != NULL)
		return usage_error("%s: option %s given twice", cmd->name,
		    ctl->twice);
	if (npos - 1 < cmd->minargs) {
		missing = synopsis_word(cmd->synopsis, npos - 1);
		return usage_error("%s: missing %.*s", cmd->name,
		    (int)strcspn(missing, " "), missing);
	}
	if (npos - 1 > cmd->maxargs)
		return usage_error("%s: unexpected argument '%s'", cmd->name,
		    pos[1 + cmd->maxargs]);
	if ((rc = check_socket(ctl)) != 0)
		return rc;

	return cmd->fn(ctl, npos - 1, pos + 1);
}

int
main(int argc, char **argv)
{
	struct ctl	  ctl;
	char		**pos;
	const char	 *env;
	int		  npos, rc;

	memset(&ctl, 0, sizeof ctl);
	/* Room for every word: the positional arguments are at most argc. */
	if ((pos = calloc((size_t)argc + 1, sizeof *pos)) == NULL) {
		ctl_warnx("out of memory");
		return EXIT_FAILED;
	}
	rc = parse_args(&ctl, argc, argv, pos, &npos);
	if (rc == EXIT_USAGE)
		note_cmd(&ctl, pos, npos);
	if (rc == 0) {
		if (ctl.socket == NULL) {
			env = getenv("POOLMGRD_SOCKET");
			ctl.socket = (env != NULL && *env != '\0') ? env :
			    POOL_DEFAULT_SOCKET;
		}
		rc = run(&ctl, npos, pos);
	}
	if (rc == EXIT_USAGE)
		usage_hint(ctl.cmd);
	rc = finish(&ctl, rc);
	free(pos);
	return rc;
}
