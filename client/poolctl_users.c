/*
 * poolctl_users.c - `poolctl users [POOL]`: who holds what in a pool, per
 * uid (pool_users).  Each uid with a handle open on the pool or
 * persistent blocks there: its connections and handles on the pool, the
 * bytes its handles hold, its persistent blocks and their bytes, its user
 * quota in force (the uid's own, an entry of the pool's, or the pool's),
 * and the two together as a share of that quota, which counts them.
 * What an operator reads when a user quota refuses: whose connections
 * hold the room, and whether it is held or left behind.
 *
 * The daemon lists the uids holding most first, at most 1000 per pool;
 * the rows keep its order within a pool, pools by name.  Where a pool had
 * more uids than listed, a warning on stderr says so, and stdout stays
 * the rows listed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "poolctl.h"

struct user_row {
	const char		*pool;
	uint64_t		 user_quota;
	struct pool_user	 u;
};

/*
 * Append pool ps's uids to *rows (*n of them, room for *cap).  A pool
 * destroyed since it was listed has none.  0 or the exit code.
 */
static int
add_users(struct ctl *ctl, const struct pool_stats *ps,
    struct user_row **rows, size_t *n, size_t *cap)
{
	struct pool_user	*pu = NULL;
	struct user_row		*r;
	size_t			 i, got, total;
	int			 error;

	error = pool_users(ctl->conn, ps->name, &pu, &got, &total);
	if (error == -ENOENT)
		return 0;
	if (error == -EOPNOTSUPP)
		return fail_pool(error, "users", ps->name,
		    "this poolmgrd has no user quotas, and cannot list who "
		    "holds what per uid");
	if (error != 0)
		return fail_pool(error, "users", ps->name, NULL);
	if (*n + got > *cap) {
		*cap = *n + got + 16;
		if ((r = reallocarray(*rows, *cap, sizeof **rows)) == NULL) {
			free(pu);
			ctl_warnx("out of memory");
			return EXIT_FAILED;
		}
		*rows = r;
	}
	for (i = 0; i < got; i++) {
		(*rows)[*n].pool = ps->name;
		(*rows)[*n].user_quota = ps->user_quota;
		(*rows)[(*n)++].u = pu[i];
	}
	free(pu);
	if (total > got)
		ctl_warnx("users: %zu of %zu uids of pool %s listed, those "
		    "holding most: one reply holds at most 1000", got, total,
		    safe(ps->name).s);
	return 0;
}

/* What the user quota counts of r: held and persistent bytes. */
static uint64_t
counted(const struct user_row *r)
{
	return r->u.held_bytes + r->u.persisted_bytes;
}

/*
 * The user quota that binds r's uid: its own, or the pool's.  A daemon
 * from before uids' own user quotas says neither in the row: the pool's
 * statistics then say the pool's, which binds every uid.
 */
static uint64_t
bound(const struct user_row *r)
{
	if (r->u.quota_own || r->u.quota != 0)
		return r->u.quota;
	return r->user_quota;
}

/* QUOTA: "8.0 GiB", "-" for none; a trailing "*" for the uid's own. */
struct quota_col {
	char	s[40];
};

static struct quota_col
quota_col(const struct user_row *r)
{
	struct quota_col	q;

	snprintf(q.s, sizeof q.s, "%s%s", bound(r) == 0 ? "-" :
	    human(bound(r)).s, r->u.quota_own ? "*" : "");
	return q;
}

/* "12.5%" of the user quota, or "-" for none. */
struct share {
	char	s[16];
};

static struct share
share_of(const struct user_row *r)
{
	struct share	sh;

	if (bound(r) == 0)
		snprintf(sh.s, sizeof sh.s, "-");
	else
		snprintf(sh.s, sizeof sh.s, "%.1f%%",
		    100.0 * (double)counted(r) / (double)bound(r));
	return sh;
}

/* The uid by name (-n: number), its column as wide as the widest. */
static void
print_users_text(const struct ctl *ctl, const struct user_row *r, size_t n)
{
	size_t	i, w = 4, wu = 10;

	for (i = 0; i < n; i++) {
		if (strlen(r[i].pool) > w)
			w = strlen(r[i].pool);
		if (strlen(id_who(ctl, POOL_ACL_USER, r[i].u.uid).s) > wu)
			wu = strlen(id_who(ctl, POOL_ACL_USER, r[i].u.uid).s);
	}
	printf("%-*s %*s %5s %7s %10s %10s %7s %11s %14s\n", (int)w, "POOL",
	    (int)wu, "UID", "CONNS", "HANDLES", "HELD", "PERSISTENT",
	    "BLOCKS", "QUOTA", "OF USER QUOTA");
	for (i = 0; i < n; i++)
		printf("%-*s %*s %5" PRIu32 " %7" PRIu32 " %10s "
		    "%10s %7" PRIu64 " %11s %14s\n", (int)w, safe(r[i].pool).s,
		    (int)wu, id_who(ctl, POOL_ACL_USER, r[i].u.uid).s,
		    r[i].u.connections, r[i].u.handles,
		    human(r[i].u.held_bytes).s,
		    human(r[i].u.persisted_bytes).s, r[i].u.persisted_blocks,
		    quota_col(&r[i]).s, share_of(&r[i]).s);
}

static struct json_object *
json_user(const struct user_row *r)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "pool", json_object_new_string(r->pool));
	json_object_object_add(o, "uid", json_object_new_uint64(r->u.uid));
	json_object_object_add(o, "user", id_json(POOL_ACL_USER, r->u.uid));
	json_object_object_add(o, "connections",
	    json_object_new_uint64(r->u.connections));
	json_object_object_add(o, "handles",
	    json_object_new_uint64(r->u.handles));
	json_object_object_add(o, "held_bytes",
	    json_object_new_uint64(r->u.held_bytes));
	json_object_object_add(o, "persisted_blocks",
	    json_object_new_uint64(r->u.persisted_blocks));
	json_object_object_add(o, "persisted_bytes",
	    json_object_new_uint64(r->u.persisted_bytes));
	json_object_object_add(o, "user_quota",
	    json_object_new_uint64(r->user_quota));
	/* The bound in force, and whether it is the uid's own. */
	json_object_object_add(o, "quota", json_object_new_uint64(bound(r)));
	json_object_object_add(o, "quota_own",
	    json_object_new_boolean(r->u.quota_own != 0));
	return o;
}

/* The figures of a row, in the order the kv and Prometheus forms list. */
static const struct user_figure {
	const char	*key;		/* kv: "POOL KEY.UID N" */
	const char	*metric;	/* Prometheus, by pool and uid */
	const char	*help;
} user_figures[] = {
	{ "user_connections", "poolmgr_pool_user_connections",
	  "Connections of a uid with handles open on the pool." },
	{ "user_handles", "poolmgr_pool_user_handles",
	  "Handles a uid's connections have open on the pool." },
	{ "user_held_bytes", "poolmgr_pool_user_held_bytes",
	  "Bytes of the blocks a uid's handles hold: with its persistent "
	  "bytes, what its user quota counts." },
	{ "user_persisted_blocks", "poolmgr_pool_user_persisted_blocks",
	  "Persistent blocks a uid made so." },
	{ "user_persisted_bytes", "poolmgr_pool_user_persisted_bytes",
	  "Bytes of the persistent blocks a uid made so." },
	{ "user_quota_bound", "poolmgr_pool_user_quota_bound_bytes",
	  "The user quota that binds a uid, its own or the pool's; 0: none." },
	{ "user_quota_own", "poolmgr_pool_user_quota_own",
	  "1 when a uid's user quota is its own, not the pool's." },
};

#define NFIGURES	(sizeof user_figures / sizeof user_figures[0])

static uint64_t
figure(const struct user_row *r, size_t f)
{
	switch (f) {
	case 0:
		return r->u.connections;
	case 1:
		return r->u.handles;
	case 2:
		return r->u.held_bytes;
	case 3:
		return r->u.persisted_blocks;
	case 4:
		return r->u.persisted_bytes;
	case 5:
		return bound(r);
	default:
		return r->u.quota_own;
	}
}

static void
print_users(const struct ctl *ctl, enum format fmt,
    const struct user_row *r, size_t n)
{
	struct json_object	*a;
	size_t			 i, f;

	switch (fmt) {
	case FMT_JSON:
		a = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_user(&r[i]));
		json_print(ctl, a);
		break;
	case FMT_PROMETHEUS:
		for (f = 0; f < NFIGURES; f++) {
			prom_family(user_figures[f].metric, "gauge",
			    user_figures[f].help);
			for (i = 0; i < n; i++) {
				printf("%s{pool=\"", user_figures[f].metric);
				prom_label(r[i].pool);
				printf("\",uid=\"%" PRIu32 "\"} %" PRIu64 "\n",
				    r[i].u.uid, figure(&r[i], f));
			}
		}
		break;
	case FMT_KV:
		for (i = 0; i < n; i++)
			for (f = 0; f < NFIGURES; f++)
				printf("%s %s.%" PRIu32 " %" PRIu64 "\n",
				    r[i].pool, user_figures[f].key,
				    r[i].u.uid, figure(&r[i], f));
		break;
	case FMT_TEXT:
		print_users_text(ctl, r, n);
		break;
	}
}

int
cmd_users(struct ctl *ctl, int argc, char **argv)
{
	struct pool_stats	 one, *ps = NULL;
	struct user_row		*rows = NULL;
	enum format		 fmt;
	size_t			 i, n = 0, nrows = 0, cap = 0;
	int			 rc;

	/* The pools' stats say their user quotas. */
	if ((rc = parse_format(ctl, &fmt)) != 0 ||
	    (rc = pools_asked(ctl, "users", argc, argv, &one, &ps, &n)) != 0)
		return rc;
	for (i = 0; rc == 0 && i < n; i++)
		rc = add_users(ctl, &ps[i], &rows, &nrows, &cap);
	if (rc == 0)
		print_users(ctl, fmt, rows, nrows);
	free(rows);
	if (ps != &one)
		free(ps);
	return rc;
}
