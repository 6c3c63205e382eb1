/*
 * poolctl.c - the command-line tool of poolmgr.
 *
 *	poolctl [--socket PATH] [--json[=pretty|short]] COMMAND [ARGS]
 *
 * Every command is one function that validates its arguments first, then
 * connects (so a usage error is exit 2 even when no daemon runs), asks the
 * daemon through libpoolclient and has poolctl_print.c print the result.
 *
 * Data goes to stdout, diagnostics to stderr as "poolctl: WHAT: WHY".
 * Exit status: 0 success, 1 the operation failed, 2 usage error, 69
 * (EX_UNAVAILABLE) the daemon is unreachable, 77 (EX_NOPERM) permission
 * denied.  See docs/poolctl.md.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <sys/un.h>
#include <unistd.h>

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
 * is a permission problem.  Here strerror speaks better than pool_strerror:
 * -ENOENT from connect means "no socket file", not "no such pool".
 */
static int
ctl_connect(struct ctl *ctl)
{
	int	error;

	error = pool_connect(ctl->socket, &ctl->conn);
	if (error == 0)
		return 0;
	ctl->conn = NULL;
	/*
	 * The socket's errors read best as the C library words them; the
	 * daemon's own refusals (too many clients, a reply that makes no
	 * sense) as the client library does.
	 */
	ctl_warnx("cannot connect to %s: %s", ctl->socket,
	    error == -EUSERS || error == -EPROTO ? pool_strerror(error) :
	    error < 0 ? strerror(-error) : "unknown error");
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
/* Parsing values. */

/*
 * SIZE: decimal bytes, optionally followed by K, M, G, T or KiB, MiB, GiB,
 * TiB (any case), all powers of 1024.  "KB" and friends are refused rather
 * than guessed at, since they usually mean powers of 1000.
 */
static int
parse_size(const char *s, uint64_t *out)
{
	static const char	*units = "KMGT";
	const char		*u;
	char			*end;
	unsigned long long	 v;
	uint64_t		 mult = 1;

	/* strtoull would accept "-1", " 1" and "+1"; a size is digits. */
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		u = strchr(units, toupper((unsigned char)*end));
		if (u == NULL ||
		    (end[1] != '\0' && strcasecmp(end + 1, "iB") != 0))
			return -1;
		mult = (uint64_t)1 << (10 * (u - units + 1));
	}
	if (v > UINT64_MAX / mult)
		return -1;
	*out = (uint64_t)v * mult;
	return 0;
}

/* A decimal number of digits only, at most max. */
static int
parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char		*end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *out > max)
		return -1;
	return 0;
}

/*
 * NODE: a NUMA node's number, decimal, below the kernel's bound (1024);
 * whether the daemon's machine has it, with memory, the daemon says.
 */
static int
parse_numa_node(const char *s, uint32_t *out)
{
	unsigned long	 v;

	if (parse_count(s, 1023, &v) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/*
 * SECONDS: a whole number of them, as wait's --timeout takes it, in ms
 * (the library's int).
 */
static int
parse_timeout(const char *s, int *ms)
{
	unsigned long	 v;

	if (parse_count(s, INT_MAX / 1000, &v) != 0)
		return -1;
	*ms = (int)v * 1000;
	return 0;
}

/* MODE: octal permission bits, as chmod takes them, 1 to 0777. */
static int
parse_mode(const char *s, uint32_t *out)
{
	unsigned long	v = 0;
	const char	*p;

	if (*s == '\0' || strlen(s) > 4)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '7')
			return -1;
		v = v * 8 + (unsigned long)(*p - '0');
	}
	if (v > 0777)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/*
 * USER and GROUP: a name the system knows, or a number.  The daemon takes
 * numbers only: it need not know our names, nor we its users by name.
 * (uint32_t)-1 is "no change" to chown, never an owner.
 */
static int
parse_uid(const char *s, uint32_t *out)
{
	struct passwd	*pw;
	unsigned long	 v;

	if (parse_count(s, UINT32_MAX - 1, &v) == 0) {
		*out = (uint32_t)v;
		return 0;
	}
	if ((pw = getpwnam(s)) == NULL)
		return -1;
	*out = (uint32_t)pw->pw_uid;
	return 0;
}

static int
parse_gid(const char *s, uint32_t *out)
{
	struct group	*gr;
	unsigned long	 v;

	if (parse_count(s, UINT32_MAX - 1, &v) == 0) {
		*out = (uint32_t)v;
		return 0;
	}
	if ((gr = getgrnam(s)) == NULL)
		return -1;
	*out = (uint32_t)gr->gr_gid;
	return 0;
}

/*
 * A pool name, by the daemon's rule (config_valid_pool_name): 1 to
 * POOL_NAME_MAX bytes of [A-Za-z0-9._-], not starting with '.'.  No pool
 * can have another name, so refusing one here loses nothing and keeps the
 * promise that every argument is checked before we connect.  Spelled out
 * rather than isalnum, which a locale could widen.
 */
static int
check_pool_name(const char *cmd, const char *name)
{
	const char	*p;
	size_t		 n = strlen(name);

	if (n == 0)
		return usage_error("%s: empty pool name", cmd);
	if (n > POOL_NAME_MAX)
		return usage_error("%s: pool name longer than %d bytes", cmd,
		    POOL_NAME_MAX);
	if (*name == '.')
		return usage_error("%s: pool name '%s' starts with '.'", cmd,
		    safe(name).s);
	for (p = name; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("._-", *p) != NULL)
			continue;
		return usage_error("%s: pool name '%s' has a character "
		    "other than A-Z, a-z, 0-9, '.', '_' and '-'", cmd,
		    safe(name).s);
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The pools and their clients, in a stable order. */

static int
cmp_stats(const void *a, const void *b)
{
	const struct pool_stats	*x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int
cmp_clients(const void *a, const void *b)
{
	const struct pool_client_info	*x = a, *y = b;
	int				 c;

	if ((c = strcmp(x->pool, y->pool)) != 0)
		return c;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->handle != y->handle)
		return x->handle < y->handle ? -1 : 1;
	/*
	 * One process's connections each number their handles from 1: the
	 * rest of the row decides, so that equal rows alone may swap.
	 */
	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	if (x->blocks != y->blocks)
		return x->blocks < y->blocks ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? -1 : 1;
	if (x->cached_bytes != y->cached_bytes)
		return x->cached_bytes < y->cached_bytes ? -1 : 1;
	return (int)x->read_only - (int)y->read_only;
}

/* The pools, sorted by name so the output is stable. */
static int
get_pools(struct ctl *ctl, struct pool_stats **ps, size_t *n)
{
	int	error;

	error = pool_list(ctl->conn, ps, n);
	if (error != 0)
		return fail(error, "list pools");
	if (*n > 0)
		qsort(*ps, *n, sizeof **ps, cmp_stats);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The commands. */

static int
cmd_list(struct ctl *ctl, int argc, char **argv)
{
	struct pool_stats	*ps = NULL;
	size_t			 n;
	int			 rc;

	(void)argc;
	(void)argv;
	if ((rc = ctl_connect(ctl)) != 0 || (rc = get_pools(ctl, &ps, &n)) != 0)
		return rc;
	print_list(ctl, ps, n);
	free(ps);
	return 0;
}

/* --format=FMT (or --json) of stats and persisted; 0 or the exit code. */
static int
parse_format(const struct ctl *ctl, enum format *fmt)
{
	*fmt = ctl->json ? FMT_JSON : FMT_TEXT;
	if (ctl->format_arg == NULL)
		return 0;
	if (strcmp(ctl->format_arg, "text") == 0)
		*fmt = FMT_TEXT;
	else if (strcmp(ctl->format_arg, "json") == 0)
		*fmt = FMT_JSON;
	else if (strcmp(ctl->format_arg, "prometheus") == 0)
		*fmt = FMT_PROMETHEUS;
	else if (strcmp(ctl->format_arg, "kv") == 0)
		*fmt = FMT_KV;
	else
		return usage_error("unknown format '%s' "
		    "(text, json, prometheus or kv)", ctl->format_arg);
	if (ctl->json && *fmt != FMT_JSON)
		return usage_error("--json conflicts with --format=%s",
		    ctl->format_arg);
	return 0;
}

/*
 * The stats of the pool a command names (argv[0], in *one), or of every
 * pool when it names none (*ps then malloc'd): connects first.
 */
static int
pools_asked(struct ctl *ctl, const char *cmd, int argc, char **argv,
    struct pool_stats *one, struct pool_stats **ps, size_t *n)
{
	int	 rc, error;

	if (argc == 1 && (rc = check_pool_name(cmd, argv[0])) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if (argc != 1)
		return get_pools(ctl, ps, n);
	if ((error = pool_stats_by_name(ctl->conn, argv[0], one)) != 0)
		return fail_pool(error, cmd, argv[0], NULL);
	*ps = one;
	*n = 1;
	return 0;
}

static int
cmd_stats(struct ctl *ctl, int argc, char **argv)
{
	struct pool_stats	 one, *ps = NULL;
	enum format		 fmt;
	size_t			 n;
	int			 rc;

	if ((rc = parse_format(ctl, &fmt)) != 0 ||
	    (rc = pools_asked(ctl, "stats", argc, argv, &one, &ps, &n)) != 0)
		return rc;
	print_stats(ctl, fmt, ps, n);
	if (ps != &one)
		free(ps);
	return 0;
}

/*
 * What the daemon's refusal of a create means.  The name, mode, granularity
 * and a size of 0 were checked here, so -EINVAL is what only the daemon
 * knows: a size above its largest pool, a granularity above its page size,
 * a page size the kernel does not offer...; its words say which, and the
 * list is for a daemon that gives none.  pool_strerror's texts would speak
 * of blocks and runs, or of block names.
 */
static struct why
create_why(int error, const struct pool_create_opts *o, uint64_t limit)
{
	struct why	w = { NULL, true, NULL };

	switch (error) {
	case -EINVAL:
		w.text = "invalid size or option";
		w.whole = false;
		w.bare = "invalid size or option (a pool is at most 64 TiB, "
		    "its granularity at most the page size, its page size "
		    "one in /sys/kernel/mm/hugepages, a NUMA policy only on "
		    "system pages, its limit a granule to its size)";
		break;
	case -EEXIST:
		w.text = "a pool with that name exists";
		break;
	case -ENOMEM:
		if (o->page_size == 0) {
			w.text = "out of memory";
			break;
		}
		/* The daemon's words count the pages needed and free. */
		w.text = "cannot reserve the pool's huge pages";
		w.whole = false;
		w.bare = "not enough huge pages: the kernel has too few free "
		    "to reserve the whole pool (vm.nr_hugepages)";
		break;
	case -EPERM:
		w.text = "not permitted (only the daemon's uid, root and its "
		    "admin group may create pools)";
		break;
	case -ENODEV:
		w.text = "no such NUMA node: it does not exist on the daemon's "
		    "machine, has no memory, or is outside the daemon's "
		    "cpuset";
		break;
	case -EOPNOTSUPP:
		if (limit != 0)
			w.text = "not supported: the daemon is too old for a "
			    "limit";
		else
			w.text = "not supported: the daemon's kernel has no "
			    "NUMA policies, or its system-call filter refuses "
			    "mbind";
		break;
	default:
		w.whole = false;
		break;
	}
	return w;
}

/* --numa-node N [--numa-policy preferred|bind] into o. */
static int
numa_opts(const struct ctl *ctl, struct pool_create_opts *o)
{
	if (ctl->numa_node_arg == NULL) {
		if (ctl->numa_policy_arg != NULL)
			return usage_error("create: --numa-policy needs "
			    "--numa-node");
		return 0;
	}
	if (parse_numa_node(ctl->numa_node_arg, &o->numa_node) != 0)
		return usage_error("create: bad NUMA node '%s' (a number "
		    "below 1024)", ctl->numa_node_arg);
	/* hugetlbfs keeps no policy for the pages other processes touch. */
	if (o->page_size > (uint64_t)sysconf(_SC_PAGESIZE))
		return usage_error("create: --numa-node needs system pages, "
		    "not --page-size %s", ctl->page_size_arg);
	if (ctl->numa_policy_arg == NULL ||
	    strcmp(ctl->numa_policy_arg, "preferred") == 0)
		o->numa_policy = POOL_NUMA_PREFERRED;
	else if (strcmp(ctl->numa_policy_arg, "bind") == 0)
		o->numa_policy = POOL_NUMA_BIND;
	else
		return usage_error("create: bad NUMA policy '%s' (preferred "
		    "or bind)", ctl->numa_policy_arg);
	return 0;
}

/* --owner and --group into o, names resolved here as set resolves them. */
static int
owner_opts(const struct ctl *ctl, struct pool_create_opts *o)
{
	if (ctl->owner_arg != NULL) {
		if (parse_uid(ctl->owner_arg, &o->uid) != 0)
			return usage_error("create: no such user '%s'",
			    safe(ctl->owner_arg).s);
		o->flags |= POOL_CREATE_OWNER;
	}
	if (ctl->group_arg != NULL) {
		if (parse_gid(ctl->group_arg, &o->gid) != 0)
			return usage_error("create: no such group '%s'",
			    safe(ctl->group_arg).s);
		o->flags |= POOL_CREATE_GROUP;
	}
	return 0;
}

/* --limit into o: a size, 0 or "none" for no limit. */
static int
limit_opt(const struct ctl *ctl, const char *cmd, struct pool_set_opts *o)
{
	if (ctl->limit_arg == NULL)
		return 0;
	if (strcmp(ctl->limit_arg, "none") == 0)
		o->limit = 0;
	else if (parse_size(ctl->limit_arg, &o->limit) != 0)
		return usage_error("%s: bad limit '%s'", cmd, ctl->limit_arg);
	o->which |= POOL_SET_LIMIT;
	return 0;
}

static int
cmd_create(struct ctl *ctl, int argc, char **argv)
{
	struct pool_create_opts	 o;
	struct pool_set_opts	 s;
	struct why		 why;
	const char		*name = argv[0];
	uint64_t		 v;
	long			 pagesize;
	int			 rc, error;

	(void)argc;
	memset(&o, 0, sizeof o);
	if ((rc = check_pool_name("create", name)) != 0)
		return rc;
	if (ctl->size_arg == NULL)
		return usage_error("create: --size is required");
	if (parse_size(ctl->size_arg, &o.max_size) != 0 || o.max_size == 0)
		return usage_error("create: bad size '%s'", ctl->size_arg);
	if (ctl->granularity_arg != NULL) {
		/* The daemon checks too; refusing here makes it exit 2. */
		pagesize = sysconf(_SC_PAGESIZE);
		if (parse_size(ctl->granularity_arg, &v) != 0 || v < 8 ||
		    (v & (v - 1)) != 0 || (pagesize > 0 &&
		    v > (uint64_t)pagesize))
			return usage_error("create: bad granularity '%s' "
			    "(a power of two from 8 to the page size)",
			    ctl->granularity_arg);
		o.granularity = (uint32_t)v;
	}
	if (ctl->mode_arg != NULL) {
		/* The protocol reads mode 0 as "default 0600": refuse it. */
		if (parse_mode(ctl->mode_arg, &o.mode) != 0 || o.mode == 0)
			return usage_error("create: bad mode '%s' (octal, "
			    "0001 to 0777)", ctl->mode_arg);
	}
	if (ctl->quota_arg != NULL &&
	    parse_size(ctl->quota_arg, &o.quota) != 0)
		return usage_error("create: bad quota '%s'", ctl->quota_arg);
	if (ctl->retain_arg != NULL) {
		if (parse_size(ctl->retain_arg, &o.retain) != 0)
			return usage_error("create: bad retain '%s'",
			    ctl->retain_arg);
		if (o.retain == 0)
			o.retain = POOL_RETAIN_NONE;
	}
	if (ctl->page_size_arg != NULL) {
		/* Which huge pages there are, only the daemon's kernel says. */
		pagesize = sysconf(_SC_PAGESIZE);
		if (parse_size(ctl->page_size_arg, &o.page_size) != 0 ||
		    o.page_size == 0 || (o.page_size & (o.page_size - 1)) ||
		    (pagesize > 0 && o.page_size < (uint64_t)pagesize))
			return usage_error("create: bad page size '%s' (the "
			    "system page, or a huge page size such as 2M or "
			    "1G)", ctl->page_size_arg);
	}
	if ((rc = numa_opts(ctl, &o)) != 0 || (rc = owner_opts(ctl, &o)) != 0)
		return rc;
	memset(&s, 0, sizeof s);
	if ((rc = limit_opt(ctl, "create", &s)) != 0)
		return rc;

	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if ((error = pool_create_set(ctl->conn, name, &o, &s)) != 0) {
		why = create_why(error, &o, s.limit);
		return fail_refusal(error, "cannot create pool", name, &why);
	}

	print_create(ctl, name, &o, &s);
	return 0;
}

static int
cmd_destroy(struct ctl *ctl, int argc, char **argv)
{
	const char		*name = argv[0];
	struct why		 why = { NULL, false, NULL };
	int			 rc, error;

	(void)argc;
	if ((rc = check_pool_name("destroy", name)) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if (ctl->force)
		error = pool_destroy_force(ctl->conn, name);
	else
		error = pool_destroy(ctl->conn, name);
	/*
	 * pool_strerror's -EBUSY also speaks of blocks that cannot move; the
	 * daemon's words count the pool's handles and blocks.
	 */
	if (error == -EBUSY)
		why.text = "it has live blocks or open handles (use --force "
		    "to destroy it anyway)";
	else if (error == -EPERM) {
		why.text = "not permitted (only the daemon's uid, root and "
		    "its admin group may destroy pools)";
		why.whole = true;
	}
	if (error != 0)
		return fail_refusal(error, "cannot destroy pool", name, &why);

	print_destroy(ctl, name);
	return 0;
}

/*
 * What the daemon's refusal of a set means.  Every value was checked here
 * but whether the daemon's system knows a uid or gid, and whether a limit
 * fits the pool: the daemon's words say which, and which of the rules of
 * permission the caller met; the lists are for a daemon that gives none.
 */
static struct why
set_why(int error)
{
	struct why	w = { NULL, true, NULL };

	switch (error) {
	case -EPERM:
		w.text = "not permitted";
		w.whole = false;
		w.bare = "not permitted (the daemon's uid, root and its admin "
		    "group may change a pool; its owner only its mode, and "
		    "its group to one of the owner's)";
		break;
	case -EROFS:
		w.text = "the daemon's configuration file defines it: change "
		    "the pool there and reload the daemon";
		break;
	case -EINVAL:
		w.text = "invalid setting";
		w.whole = false;
		w.bare = "invalid setting (a uid or gid the daemon does not "
		    "know, or a limit below a granule or above the pool's "
		    "size)";
		break;
	case -EOPNOTSUPP:
		w.text = "not supported: the daemon is too old for a limit";
		break;
	default:
		w.whole = false;
		break;
	}
	return w;
}

/* --mode, --owner and --group into o, as create reads a mode. */
static int
set_access_opts(const struct ctl *ctl, struct pool_set_opts *o)
{
	if (ctl->mode_arg != NULL) {
		if (parse_mode(ctl->mode_arg, &o->mode) != 0 || o->mode == 0)
			return usage_error("set: bad mode '%s' (octal, "
			    "0001 to 0777)", ctl->mode_arg);
		o->which |= POOL_SET_MODE;
	}
	if (ctl->owner_arg != NULL) {
		if (parse_uid(ctl->owner_arg, &o->uid) != 0)
			return usage_error("set: no such user '%s'",
			    safe(ctl->owner_arg).s);
		o->which |= POOL_SET_OWNER;
	}
	if (ctl->group_arg != NULL) {
		if (parse_gid(ctl->group_arg, &o->gid) != 0)
			return usage_error("set: no such group '%s'",
			    safe(ctl->group_arg).s);
		o->which |= POOL_SET_GROUP;
	}
	return 0;
}

/* --quota and --retain into o, as create reads them ("default" too). */
static int
set_room_opts(const struct ctl *ctl, struct pool_set_opts *o)
{
	if (ctl->quota_arg != NULL) {
		if (parse_size(ctl->quota_arg, &o->quota) != 0)
			return usage_error("set: bad quota '%s'",
			    ctl->quota_arg);
		o->which |= POOL_SET_QUOTA;
	}
	if (ctl->retain_arg != NULL) {
		if (strcmp(ctl->retain_arg, "default") == 0)
			o->retain = 0;
		else if (parse_size(ctl->retain_arg, &o->retain) != 0)
			return usage_error("set: bad retain '%s'",
			    ctl->retain_arg);
		else if (o->retain == 0)
			o->retain = POOL_RETAIN_NONE;
		o->which |= POOL_SET_RETAIN;
	}
	return 0;
}

static int
cmd_set(struct ctl *ctl, int argc, char **argv)
{
	struct pool_set_opts	 o;
	struct why		 why;
	const char		*name = argv[0];
	int			 rc, error;

	(void)argc;
	memset(&o, 0, sizeof o);
	if ((rc = check_pool_name("set", name)) != 0)
		return rc;
	if ((rc = set_access_opts(ctl, &o)) != 0 ||
	    (rc = set_room_opts(ctl, &o)) != 0 ||
	    (rc = limit_opt(ctl, "set", &o)) != 0)
		return rc;
	if (o.which == 0)
		return usage_error("set: nothing to change (--mode, --owner, "
		    "--group, --quota, --retain or --limit)");

	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if ((error = pool_set(ctl->conn, name, &o)) != 0) {
		why = set_why(error);
		return fail_refusal(error, "cannot set pool", name, &why);
	}

	print_set(ctl, name, &o);
	return 0;
}

static int
cmd_clients(struct ctl *ctl, int argc, char **argv)
{
	struct pool_client_info	*ci = NULL;
	const char		*pool = argc > 0 ? argv[0] : NULL;
	size_t			 n = 0, total = 0;
	int			 rc, error;

	if (pool != NULL && (rc = check_pool_name("clients", pool)) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	error = pool_clients_total(ctl->conn, pool, &ci, &n, &total);
	if (error != 0 && pool != NULL)
		return fail_pool(error, "clients", pool, NULL);
	if (error != 0)
		return fail(error, "clients");
	if (n > 0)
		qsort(ci, n, sizeof *ci, cmp_clients);

	print_clients(ctl, ci, n);
	free(ci);
	/* On stderr: stdout stays the table, or a JSON array, of those listed. */
	if (total > n)
		ctl_warnx("clients: %zu of %zu open handles listed: one reply "
		    "holds at most 400, fewer with long names", n, total);
	return 0;
}

/*
 * Append pool ps's persisting uids to *rows (*n of them, room for *cap).
 * A pool destroyed since it was listed has none.  0 or the exit code.
 */
static int
add_persisted(struct ctl *ctl, const struct pool_stats *ps,
    struct persisted_row **rows, size_t *n, size_t *cap)
{
	struct pool_persisted	*pp = NULL;
	struct persisted_row	*r;
	size_t			 i, got, total;
	int			 error;

	error = pool_persisted(ctl->conn, ps->name, &pp, &got, &total);
	if (error == -ENOENT)
		return 0;
	if (error != 0)
		return fail_pool(error, "persisted", ps->name, NULL);
	if (*n + got > *cap) {
		*cap = *n + got + 16;
		if ((r = reallocarray(*rows, *cap, sizeof **rows)) == NULL) {
			free(pp);
			ctl_warnx("out of memory");
			return EXIT_FAILED;
		}
		*rows = r;
	}
	for (i = 0; i < got; i++) {
		(*rows)[*n].pool = ps->name;
		(*rows)[*n].quota = ps->quota;
		(*rows)[(*n)++].by = pp[i];
	}
	free(pp);
	/* On stderr: stdout stays the table, or the data, of those listed. */
	if (total > got)
		ctl_warnx("persisted: %zu of %zu uids of pool %s listed, "
		    "those persisting most: one reply holds at most 1000",
		    got, total, safe(ps->name).s);
	return 0;
}

static int
cmd_persisted(struct ctl *ctl, int argc, char **argv)
{
	struct pool_stats	 one, *ps = NULL;
	struct persisted_row	*rows = NULL;
	enum format		 fmt;
	size_t			 i, n = 0, nrows = 0, cap = 0;
	int			 rc;

	/* The pools' stats say their quotas. */
	if ((rc = parse_format(ctl, &fmt)) != 0 ||
	    (rc = pools_asked(ctl, "persisted", argc, argv, &one, &ps, &n)) != 0)
		return rc;

	for (i = 0; rc == 0 && i < n; i++)
		rc = add_persisted(ctl, &ps[i], &rows, &nrows, &cap);
	if (rc == 0)
		print_persisted(ctl, fmt, rows, nrows);
	free(rows);
	if (ps != &one)
		free(ps);
	return rc;
}

/* A block's name as the protocol takes it: 1 to 255 bytes. */
static int
check_block_name(const char *cmd, const char *name)
{
	if (*name == '\0')
		return usage_error("%s: empty block name", cmd);
	if (strlen(name) > POOL_BLOCK_NAME_MAX)
		return usage_error("%s: block name longer than %d bytes", cmd,
		    POOL_BLOCK_NAME_MAX);
	return 0;
}

static int
cmd_names(struct ctl *ctl, int argc, char **argv)
{
	struct pool_named	*pn = NULL;
	const char		*pool = argv[0];
	const char		*prefix = argc > 1 ? argv[1] : NULL;
	size_t			 n = 0, total = 0;
	int			 rc, error;

	if ((rc = check_pool_name("names", pool)) != 0)
		return rc;
	if (prefix != NULL && strlen(prefix) > POOL_BLOCK_NAME_MAX)
		return usage_error("names: prefix longer than %d bytes",
		    POOL_BLOCK_NAME_MAX);
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if ((error = pool_names(ctl->conn, pool, prefix, &pn, &n, &total)) != 0)
		return fail_pool(error, "names", pool, NULL);

	print_names(ctl, pool, pn, n);
	free(pn);
	/* On stderr: stdout stays the table, or a JSON array, of those listed. */
	if (total > n)
		ctl_warnx("names: %zu of %zu names listed: one reply holds at "
		    "most 1000, fewer with long names (give a prefix)", n,
		    total);
	return 0;
}

/*
 * Why a wait failed, in its words.  The pool was opened: -ENOENT is the
 * name when the call did not wait, and the pool destroyed meanwhile when
 * it did.
 */
static int
wait_failed(int error, const char *pool, const char *name, int ms)
{
	char	why[sizeof("no such name: ") + sizeof(struct safe)];

	switch (error) {
	case -ETIMEDOUT:
		ctl_warnx("wait: %s was not published in %s within %d s",
		    safe(name).s, pool, ms / 1000);
		return EXIT_FAILED;
	case -EOPNOTSUPP:
		return fail_pool(error, "wait", pool, "poolmgrd is older than "
		    "lookups that wait: only --timeout 0 works");
	case -ENOENT:
		if (ms != 0)
			break;
		snprintf(why, sizeof why, "no such name: %s", safe(name).s);
		return fail_pool(error, "wait", pool, why);
	}
	return fail_pool(error, "wait", pool, NULL);
}

/*
 * Wait on a read-only handle: reading is all a lookup needs, and the
 * block is not held (as `names`, it only says where the name is).
 */
static int
cmd_wait(struct ctl *ctl, int argc, char **argv)
{
	struct pool		*p;
	const char		*pool = argv[0], *name = argv[1];
	pool_off_t		 off;
	size_t			 usable = 0;
	uint64_t		 gen = 0;
	int			 rc, error, ms = -1;

	(void)argc;
	if ((rc = check_pool_name("wait", pool)) != 0 ||
	    (rc = check_block_name("wait", name)) != 0)
		return rc;
	if (ctl->timeout_arg != NULL && parse_timeout(ctl->timeout_arg,
	    &ms) != 0)
		return usage_error("wait: bad --timeout '%s' (whole seconds, "
		    "at most %d)", ctl->timeout_arg, INT_MAX / 1000);
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if ((error = pool_open_readonly(ctl->conn, pool, &p)) != 0)
		return fail_pool(error, "wait", pool, NULL);
	/* --timeout 0 looks once: the name as it is, or no such name. */
	error = pool_lookup_wait(p, name, 0, ms, 0, &off, &usable, &gen);
	pool_close(p);
	if (error != 0)
		return wait_failed(error, pool, name, ms);
	print_wait(ctl, pool, name, off, usable, gen);
	return 0;
}

static int
cmd_unpublish(struct ctl *ctl, int argc, char **argv)
{
	struct pool		*p;
	char			 why[sizeof("no such name: ") + sizeof(struct safe)];
	const char		*pool = argv[0], *name = argv[1];
	int			 rc, error;

	(void)argc;
	if ((rc = check_pool_name("unpublish", pool)) != 0 ||
	    (rc = check_block_name("unpublish", name)) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	/* Unpublish is a write, through a handle of the pool. */
	if ((error = pool_open(ctl->conn, pool, &p)) != 0)
		return fail_pool(error, "unpublish", pool, NULL);
	error = pool_unpublish(p, name);
	pool_close(p);
	/*
	 * The pool was opened, so -ENOENT is the name: neither fail_pool's
	 * "no such pool" nor pool_strerror's text, which names both.
	 */
	if (error == -ENOENT)
		snprintf(why, sizeof why, "no such name: %s", safe(name).s);
	if (error != 0)
		return fail_pool(error, "unpublish", pool,
		    error == -ENOENT ? why : NULL);
	return 0;
}

static int
cmd_trim(struct ctl *ctl, int argc, char **argv)
{
	const char		*name = argv[0];
	uint64_t		 released = 0;
	int			 rc, error;

	(void)argc;
	if ((rc = check_pool_name("trim", name)) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if ((error = pool_trim_by_name(ctl->conn, name, &released)) != 0)
		return fail_pool(error, "trim", name, NULL);

	print_trim(ctl, name, released);
	return 0;
}

static int
cmd_check(struct ctl *ctl, int argc, char **argv)
{
	const char		*name = argv[0];
	char			 msg[1024];
	int			 rc, error;

	(void)argc;
	if ((rc = check_pool_name("check", name)) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	msg[0] = '\0';
	error = pool_check_by_name(ctl->conn, name, msg, sizeof msg);
	if (error != 0 && error != -EFAULT)
		return fail_pool(error, "check", name, NULL);
	if (error == -EFAULT && msg[0] == '\0')
		strcpy(msg, "invariant check failed");

	print_check(ctl, name, error, msg);
	return error == 0 ? 0 : EXIT_FAILED;
}

/* ---------------------------------------------------------------------- */
/* Help. */

static const struct cmd cmds[] = {
	{ "list", cmd_list, 0, 0, 0, "",
	  "one line per pool: size, use, blocks, clients",
	  "List every pool the caller may read, one line each: name, size,\n"
	  "bytes in live blocks, percent used, live blocks and open\n"
	  "handles.\n" },
	{ "stats", cmd_stats, 0, 1, O_FORMAT,
	  "[POOL] [--format=text|json|prometheus|kv]",
	  "every statistic of one pool, or of all",
	  "Print every statistic of POOL (of every pool if none is given),\n"
	  "with sizes in KiB/MiB/GiB, plus two derived figures:\n"
	  "  used           allocated_bytes / size\n"
	  "  fragmentation  1 - largest_free / free_bytes (0 if none free)\n"
	  "\n"
	  "  --format=FMT   text (default), json (as --json), prometheus\n"
	  "                 (the text exposition format, for node_exporter's\n"
	  "                 textfile collector) or kv (one 'POOL KEY VALUE'\n"
	  "                 line per statistic: the JSON keys, plain numbers)\n" },
	{ "create", cmd_create, 1, 1,
	  O_SIZE | O_GRANULARITY | O_MODE | O_QUOTA | O_RETAIN | O_PAGE_SIZE |
	  O_NUMA_NODE | O_NUMA_POLICY | O_OWNER | O_GROUP | O_LIMIT,
	  "NAME --size SIZE [--granularity N] [--mode MODE] [--owner USER]"
	  " [--group GROUP] [--quota SIZE] [--limit SIZE] [--retain SIZE]"
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
	  "  --quota SIZE     bytes each connection may hold (default: no quota)\n"
	  "  --limit SIZE     bytes the pool's live blocks may hold together\n"
	  "                   (default, 0 or none: no limit, the size bounds\n"
	  "                   it); `set --limit` raises or lowers it live\n"
	  "  --retain SIZE    free memory of small blocks kept for reuse\n"
	  "                   before it goes back to the OS (default 1M, or\n"
	  "                   a quarter of the live pages if more); 0: none\n"
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
	  O_MODE | O_OWNER | O_GROUP | O_QUOTA | O_RETAIN | O_LIMIT,
	  "NAME [--mode MODE] [--owner USER] [--group GROUP] [--quota SIZE]"
	  " [--retain SIZE] [--limit SIZE]",
	  "change a live pool's mode, owner, group, quota, retain or limit",
	  "Change the settings given of the live pool NAME, all or none;\n"
	  "its blocks and handles stay.  Needs the daemon's uid, root or the\n"
	  "admin group; the pool's owner may change its mode, and its group\n"
	  "to one of its own.  A pool the daemon's configuration file\n"
	  "defines is changed there (and the daemon reloaded): exit 1.\n"
	  "Handles opened before keep the access they were opened with; a\n"
	  "quota lowered below what a client holds takes nothing back; a\n"
	  "limit lowered below what the pool holds takes no live block back\n"
	  "but evicts unheld evictable names down to it.\n"
	  "\n"
	  "  --mode MODE      octal permission bits, 0001 to 0777\n"
	  "  --owner USER     the owner: a user name or a uid\n"
	  "  --group GROUP    the group: a group name or a gid\n"
	  "  --quota SIZE     bytes each connection may hold; 0: no quota\n"
	  "  --retain SIZE    free memory of small blocks kept for reuse\n"
	  "                   (as create's); 0: none; the word 'default':\n"
	  "                   the daemon's default again\n"
	  "  --limit SIZE     bytes the pool's live blocks may hold together\n"
	  "                   (admins only); 0 or none: no limit\n"
	  "\n"
	  "SIZE is a number of bytes, optionally followed by K, M, G or T\n"
	  "(or KiB, MiB, GiB, TiB): powers of 1024.\n" },
	{ "clients", cmd_clients, 0, 1, 0, "[POOL]",
	  "open handles: who holds what",
	  "List the open handles of POOL (of every pool if none is given):\n"
	  "pid, uid and gid of the process, the name it gave, the pool, the\n"
	  "handle, read-only or read-write, the blocks and bytes it holds\n"
	  "references to, and the bytes of those its client cache keeps.\n" },
	{ "persisted", cmd_persisted, 0, 1, O_FORMAT,
	  "[POOL] [--format=text|json|prometheus|kv]",
	  "persistent blocks by the uid that persisted them",
	  "List the uids with persistent blocks in POOL (in every pool if\n"
	  "none is given), the most bytes first: the pool, the uid, its\n"
	  "persistent blocks and their bytes, and those bytes as a share of\n"
	  "the pool's quota, against which they count for each of the uid's\n"
	  "connections (\"-\": no quota).  Persistent blocks outlive every\n"
	  "handle: here is who leaves them.  At most 1000 uids per pool,\n"
	  "those persisting most (a warning on stderr says when more were\n"
	  "left out).\n"
	  "\n"
	  "  --format=FMT   text (default), json (as --json), prometheus\n"
	  "                 (poolmgr_pool_persisted_bytes and _blocks, by pool\n"
	  "                 and uid) or kv ('POOL persisted_bytes.UID N' and\n"
	  "                 'POOL persisted_blocks.UID N' lines)\n" },
	{ "names", cmd_names, 1, 2, 0, "POOL [PREFIX]",
	  "named blocks: name, offset, size, publisher, generation, evictable",
	  "List the named blocks of POOL (those whose names begin with\n"
	  "PREFIX, if given), in byte order of their names: the name, the\n"
	  "block's offset (hexadecimal) and usable size, the uid that\n"
	  "published it, the name's generation (the pool's count of\n"
	  "publishes when it was last published or replaced), and whether\n"
	  "it is evictable (EVICT: the daemon may unpublish it to make room\n"
	  "while no handle holds its block).  Needs read permission.\n"
	  "A name holds the pool's reference of its block: the block lives\n"
	  "until the name is removed.  One reply holds at most 1000 names,\n"
	  "fewer when they are long (a warning on stderr says how many were\n"
	  "left out).  Bytes of a name that are not printable ASCII show as\n"
	  "'?' in the table; --json gives them as they are.\n" },
	{ "wait", cmd_wait, 2, 2, O_TIMEOUT, "POOL NAME [--timeout SECONDS]",
	  "wait until a block has the name",
	  "Wait until NAME is published in POOL (read permission), for at\n"
	  "most SECONDS if --timeout is given, and print the named block on\n"
	  "one line: the name, offset (hexadecimal), usable size (as `names`\n"
	  "shows it) and generation.  A name there already is printed at\n"
	  "once.  Exit 1 if the time runs out (or the pool is destroyed\n"
	  "meanwhile); --timeout 0 looks once.\n"
	  "  --timeout SECONDS  give up after this many (whole) seconds\n" },
	{ "unpublish", cmd_unpublish, 2, 2, 0, "POOL NAME",
	  "remove a block's name",
	  "Remove NAME from POOL and drop the reference it holds: the block\n"
	  "is freed unless a handle still holds it.  Needs write permission\n"
	  "on the pool.\n" },
	{ "trim", cmd_trim, 1, 1, 0, "POOL",
	  "give a pool's free pages back to the OS",
	  "Give every free page of POOL back to the OS now and print how many\n"
	  "bytes were released.  Needs write permission on the pool.\n" },
	{ "check", cmd_check, 1, 1, 0, "POOL",
	  "run the daemon's invariant check on a pool",
	  "Run the daemon's invariant check on POOL.  Prints \"ok\", or the\n"
	  "problem found and exits 1.  Needs write permission on the pool\n"
	  "(the check holds up the daemon: about 15 ms per million blocks).\n" },
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static const char exit_status_help[] =
    "Exit status:\n"
    "  0   success\n"
    "  1   the operation failed (no such pool, pool busy, check failed...)\n"
    "  2   usage error\n"
    "  69  the daemon is unreachable (no socket, connection refused or\n"
    "      lost)\n"
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
	default:
		return "--format";
	}
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
	while ((ch = getopt_long(argc, argv, "-:s:j::hVf", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 1:
			pos[(*npos)++] = optarg;
			break;
		case 's':
			if (*optarg == '\0')
				return usage_error("--socket: empty path");
			ctl->socket = optarg;
			break;
		case 'j':
			ctl->json = 1;
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
		case OPT_SIZE:
			ctl->size_arg = optarg;
			ctl->opts |= O_SIZE;
			break;
		case OPT_GRANULARITY:
			ctl->granularity_arg = optarg;
			ctl->opts |= O_GRANULARITY;
			break;
		case OPT_MODE:
			ctl->mode_arg = optarg;
			ctl->opts |= O_MODE;
			break;
		case OPT_QUOTA:
			ctl->quota_arg = optarg;
			ctl->opts |= O_QUOTA;
			break;
		case OPT_LIMIT:
			ctl->limit_arg = optarg;
			ctl->opts |= O_LIMIT;
			break;
		case OPT_RETAIN:
			ctl->retain_arg = optarg;
			ctl->opts |= O_RETAIN;
			break;
		case OPT_PAGE_SIZE:
			ctl->page_size_arg = optarg;
			ctl->opts |= O_PAGE_SIZE;
			break;
		case OPT_NUMA_NODE:
			ctl->numa_node_arg = optarg;
			ctl->opts |= O_NUMA_NODE;
			break;
		case OPT_TIMEOUT:
			ctl->timeout_arg = optarg;
			ctl->opts |= O_TIMEOUT;
			break;
		case OPT_OWNER:
			ctl->owner_arg = optarg;
			ctl->opts |= O_OWNER;
			break;
		case OPT_GROUP:
			ctl->group_arg = optarg;
			ctl->opts |= O_GROUP;
			break;
		case OPT_NUMA_POLICY:
			ctl->numa_policy_arg = optarg;
			ctl->opts |= O_NUMA_POLICY;
			break;
		case OPT_FORMAT:
			ctl->format_arg = optarg;
			ctl->opts |= O_FORMAT;
			break;
		case ':':
			return usage_error("option '%s' needs an argument",
			    argv[optind - 1]);
		default:
			if (optopt != 0 && optopt < 256)
				return usage_error("unknown option '-%c'",
				    optopt);
			return usage_error("unknown option '%s'",
			    argv[optind - 1]);
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
