/*
 * dispatch_users.c - ListUsers: who holds what in a pool, per uid.  What
 * an operator asks when a user quota refuses, or a pool fills and its
 * blocks are spread over many connections: `poolctl users POOL`.
 *
 * A uid is listed if it has a handle open on the pool (its user account,
 * session.h, kept up as its handles' holds come and go, each block
 * counted once) or
 * persistent blocks there (its charge, pool_hold.c, kept as blocks are
 * persisted, grown and freed); both are kept as they change, so a reply
 * walks one entry per uid and no block or handle.  The charges are sorted
 * by uid, so each account finds its uid's charge by a binary search; each
 * listed uid's user quota in force (its own entry's, or the pool's) is
 * found by one more in the pool's entries (pool_uquota.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "dispatch_internal.h"
#include "pool.h"
#include "session.h"

#define MAX_LISTED_USERS 1000
/* The entries listed in one reply: a datagram, less the reply's fields. */
#define USERS_REPLY_MAX (PEER_MAX_MESSAGE - 1024)
/* An entry's tag (1 byte) and length (1: an entry packs to under 128). */
#define USERS_ENTRY_FRAME 2

static Poolmgr__UserUsage users[MAX_LISTED_USERS];
static Poolmgr__UserUsage *user_ptrs[MAX_LISTED_USERS];
static Poolmgr__ListUsersReply users_reply;

/* The most bytes counted first, then by uid: the order of the listing. */
static int
cmp_usage(const void *a, const void *b)
{
	const Poolmgr__UserUsage *x = a, *y = b;
	uint64_t tx = x->held_bytes + x->persisted_bytes;
	uint64_t ty = y->held_bytes + y->persisted_bytes;

	if (tx != ty)
		return tx > ty ? -1 : 1;
	return (x->uid > y->uid) - (x->uid < y->uid);
}

/* Every persisting uid's entry, in uid order (the charges' own). */
static size_t
usage_of_charges(const struct dpool *p, Poolmgr__UserUsage *u)
{
	for (unsigned i = 0; i < p->ncharges; i++) {
		poolmgr__user_usage__init(&u[i]);
		u[i].uid = p->charges[i].uid;
		u[i].persisted_blocks = p->charges[i].blocks;
		u[i].persisted_bytes = p->charges[i].bytes;
	}
	return p->ncharges;
}

/* The entry of a's uid among the first ncharges (uid order), or NULL. */
static Poolmgr__UserUsage *
charged_entry(Poolmgr__UserUsage *u, size_t ncharges, uid_t uid)
{
	size_t lo = 0, hi = ncharges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ncharges && u[lo].uid == uid ? &u[lo] : NULL;
}

/* Every uid's entry, unsorted: n of them into *out (free it). */
static int
usage_of_pool(const struct dpool *p, Poolmgr__UserUsage **out, size_t *n)
{
	const struct user_account *a;
	Poolmgr__UserUsage *u, *e;
	size_t naccounts = 0, ncharges;

	USER_ACCOUNT_FOREACH(a, p)
		naccounts++;
	if (!(u = calloc(p->ncharges + naccounts + 1, sizeof(*u))))
		return -ENOMEM;
	ncharges = usage_of_charges(p, u);
	*n = ncharges;
	USER_ACCOUNT_FOREACH(a, p) {
		if (!(e = charged_entry(u, ncharges, a->uid))) {
			e = &u[(*n)++];
			poolmgr__user_usage__init(e);
			e->uid = a->uid;
		}
		e->connections = a->naccounts;
		e->handles = a->nhandles;
		e->held_bytes = a->bytes;
	}
	*out = u;
	return 0;
}

/*
 * The first of u (sorted) into the reply, each with its user quota in
 * force: at most MAX_LISTED_USERS, and, since a uid's own quota makes an
 * entry longer, no more than fit a datagram.  How many.
 */
static size_t
users_listed(const struct dpool *p, const Poolmgr__UserUsage *u, size_t n)
{
	size_t i, bytes = 0;
	bool own;

	for (i = 0; i < n && i < MAX_LISTED_USERS; i++) {
		users[i] = u[i];
		users[i].quota = dpool_user_bound(p, u[i].uid, &own);
		users[i].quota_own = own;
		bytes += poolmgr__user_usage__get_packed_size(&users[i]) +
			 USERS_ENTRY_FRAME;
		if (bytes > USERS_REPLY_MAX)
			break;
		user_ptrs[i] = &users[i];
	}
	return i;
}

int
do_users(struct call *c, const Poolmgr__ListUsers *m)
{
	Poolmgr__UserUsage *u;
	struct dpool *p;
	size_t n, listed;
	int rc;

	if (!(p = get_pool(c, m->pool, false, &rc)))
		return rc;
	if ((rc = wait_settled(c, p)))
		return rc;
	if (usage_of_pool(p, &u, &n))
		return refuse(c, -ENOMEM, "out of memory");
	qsort(u, n, sizeof(*u), cmp_usage);
	listed = users_listed(p, u, n);
	free(u);
	poolmgr__list_users_reply__init(&users_reply);
	users_reply.n_users = listed;
	users_reply.users = user_ptrs;
	users_reply.unlisted = (uint32_t)(n - listed);
	c->rep->body_case = POOLMGR__REPLY__BODY_USERS;
	c->rep->users = &users_reply;
	return 0;
}
