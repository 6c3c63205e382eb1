/*
 * poolctl_show.c - the commands that report on pools: list, stats,
 * clients and persisted; trim and check, which have the daemon work on
 * one pool and report what it gave back or found; and status, which
 * reports on the daemon itself.
 *
 * None of them changes what a pool is or holds (trim gives back only
 * pages no block uses), and they have one shape: check the pool's name if
 * one is given, connect, ask, put the rows in an order that does not
 * depend on the daemon's (pools by name, handles by pool, pid and handle)
 * and hand them to poolctl_print*.c.  Where one reply cannot hold every
 * row, the table on stdout stays what was listed and a warning on stderr
 * says how many were left out.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "poolctl.h"

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

int
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

int
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
		return usage_error("%s: unknown format '%s' "
		    "(text, json, prometheus or kv)", ctl->cmd,
		    ctl->format_arg);
	if (ctl->json && *fmt != FMT_JSON)
		return usage_error("%s: --json conflicts with --format=%s",
		    ctl->cmd, ctl->format_arg);
	return 0;
}

int
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

int
cmd_stats(struct ctl *ctl, int argc, char **argv)
{
	struct pool_stats	 one, *ps = NULL;
	struct ctl_acl		*acls = NULL;
	struct ctl_uquota	*uqs = NULL;
	enum format		 fmt;
	size_t			 n;
	int			 rc;

	if ((rc = parse_format(ctl, &fmt)) != 0 ||
	    (rc = pools_asked(ctl, "stats", argc, argv, &one, &ps, &n)) != 0)
		return rc;
	/* Prometheus has no place for a list: not asked for. */
	if (fmt != FMT_PROMETHEUS)
		rc = acl_of_pools(ctl, ps, n, &acls);
	/*
	 * The uids' own user quotas likewise: the list of every pool counts
	 * them, so that only the pools with some are asked.
	 */
	if (fmt != FMT_PROMETHEUS && rc == 0)
		rc = uquota_of_pools(ctl, ps, n, argc != 1, &uqs);
	if (rc == 0)
		print_stats(ctl, fmt, ps, acls, uqs, n);
	free(uqs);
	free(acls);
	if (ps != &one)
		free(ps);
	return rc;
}

int
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
 * The user quota that binds uid in pool ps: its own entry of uq (nuq of
 * them; 0 its own "none") or else the pool's, as ListUsers' quota says.
 */
static uint64_t
user_quota_bound(const struct pool_stats *ps, uint32_t uid,
    const struct pool_user_quota *uq, int nuq)
{
	int	i;

	for (i = 0; i < nuq; i++)
		if (uq[i].uid == uid)
			return uq[i].bytes;
	return ps->user_quota;
}

/*
 * The uids' own user quotas of pool ps into uq (room for
 * POOL_USER_QUOTA_MAX): their count, 0 for a pool whose statistics count
 * none (no round trip) or whose entries cannot be had now (destroyed,
 * made unreadable, a daemon without them: the pool's bound then stands
 * for every uid, as before entries).
 */
static int
own_user_quotas(struct ctl *ctl, const struct pool_stats *ps,
    struct pool_user_quota *uq)
{
	int	got;

	if (ps->user_quota_entries == 0)
		return 0;
	got = pool_user_quota_get(ctl->conn, ps->name, uq,
	    POOL_USER_QUOTA_MAX);
	return got > 0 ? got : 0;
}

/*
 * Append pool ps's persisting uids to *rows (*n of them, room for *cap).
 * A pool destroyed since it was listed has none.  0 or the exit code.
 */
static int
add_persisted(struct ctl *ctl, const struct pool_stats *ps,
    struct persisted_row **rows, size_t *n, size_t *cap)
{
	struct pool_user_quota	 uq[POOL_USER_QUOTA_MAX];
	struct pool_persisted	*pp = NULL;
	struct persisted_row	*r;
	size_t			 i, got, total;
	int			 error, nuq;

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
	nuq = got > 0 ? own_user_quotas(ctl, ps, uq) : 0;
	for (i = 0; i < got; i++) {
		(*rows)[*n].pool = ps->name;
		(*rows)[*n].quota = ps->quota;
		(*rows)[*n].user_quota = ps->user_quota;
		(*rows)[*n].user_quota_bound = user_quota_bound(ps, pp[i].uid,
		    uq, nuq);
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

int
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

int
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

/*
 * A check's -EAGAIN is the daemon's pacing of a large pool's checks by a
 * user who is no admin, not the waits of a pool that pool_strerror names;
 * the daemon's words follow with when to ask again.  It exits
 * EX_TEMPFAIL, not 1: a script can tell "ask again later" from a check
 * that found a problem.
 */
static const struct why paced = {
	"not now: the checks of large pools are paced", false, NULL
};

int
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
	if (error == -EAGAIN) {
		(void)fail_refusal(error, "check", name, &paced);
		return EX_TEMPFAIL;
	}
	if (error != 0 && error != -EFAULT)
		return fail_pool(error, "check", name, NULL);
	if (error == -EFAULT && msg[0] == '\0')
		strcpy(msg, "invariant check failed");

	print_check(ctl, name, error, msg);
	return error == 0 ? 0 : EXIT_FAILED;
}

int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	struct pool_daemon_stats	 ds;
	enum format			 fmt;
	int				 rc, error;

	(void)argc;
	(void)argv;
	if ((rc = parse_format(ctl, &fmt)) != 0 ||
	    (rc = ctl_connect(ctl)) != 0)
		return rc;
	if ((error = pool_daemon_stats(ctl->conn, &ds)) != 0)
		return fail(error, "status");
	print_status(ctl, fmt, &ds);
	return 0;
}
