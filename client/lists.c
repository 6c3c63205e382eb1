/*
 * lists.c - the listings: the pools (pool_list), the clients that hold
 * them (pool_clients), the uids that persisted blocks in a pool
 * (pool_persisted), who holds what in one, per uid (pool_users), and the
 * names published in one (pool_names, and a page at a time,
 * pool_names_after).
 *
 * Each answer is an array the caller frees.  All but pool_list share one
 * shape (client_list), made from one reply: the daemon leaves out what
 * would not fit in one message and says how many, and each listing's
 * callbacks count and copy its entries.  pool_list asks page after page
 * instead, until it has every pool.  Every entry is checked as it is
 * copied; one the daemon could not have meant is -EPROTO, and nothing is
 * kept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

static int	client_clients(struct pool_conn *, const char *,
		    struct pool_client_info **, size_t *, size_t *);

/*
 * The most pools pool_list takes: 16 times a daemon's most (256), so that
 * a daemon that keeps saying there are more, each page after the last,
 * ends as a lie rather than filling memory.
 */
#define LIST_POOLS_MOST	4096

/*
 * One ListPools page into *s (grown, *have entries so far): its entries
 * must sort after *after (NULL: the first page) and each after the one
 * before, when the listing runs over pages (ordered): else the cursor
 * would not advance, or a pool would come twice.  A single reply from a
 * daemon from before paging is in the order its pools were made.
 * Returns 0, -ENOMEM or -EPROTO.
 */
static int
list_page(const Poolmgr__ListPoolsReply *page, const char *after,
    int ordered, struct pool_stats **s, size_t *have)
{
	struct pool_stats	*grown;
	size_t			 i, n = page->n_pools;
	int			 error;

	if (n > LIST_POOLS_MOST - *have ||
	    page->unlisted > LIST_POOLS_MOST - *have - n)
		return -EPROTO;
	if ((grown = realloc(*s, (*have + n ? *have + n : 1) *
	    sizeof **s)) == NULL)
		return -ENOMEM;
	*s = grown;
	for (i = 0; i < n; i++) {
		if ((error = client_copy_stats(&grown[*have], page->pools[i]))
		    != 0)
			return error;
		if (ordered && after != NULL &&
		    strcmp(grown[*have].name, after) <= 0)
			return -EPROTO;
		after = grown[(*have)++].name;
	}
	return 0;
}

POOL_API int
pool_list(struct pool_conn *c, struct pool_stats **out, size_t *n)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListPools	 lp = POOLMGR__LIST_POOLS__INIT;
	Poolmgr__Reply		*reply;
	Poolmgr__ListPoolsReply	*page;
	struct pool_stats	*s = NULL;
	char			 after[POOL_NAME_MAX + 1] = "";
	size_t			 have = 0;
	int			 error = 0, more;

	conn_forget_refusal();
	if (out == NULL || n == NULL)
		return -EINVAL;
	*out = NULL;
	*n = 0;
	if (c == NULL)
		return -EINVAL;

	/*
	 * Page by page, each from the last name of the one before, until a
	 * page says none is left: a daemon from before paging ignores both
	 * fields and answers everything at once, with unlisted 0.
	 */
	lp.paged = 1;
	lp.after = after;
	req.body_case = POOLMGR__REQUEST__BODY_LIST;
	req.list = &lp;
	do {
		error = conn_call(c, &req, POOLMGR__REPLY__BODY_LIST, &reply,
		    NULL);
		if (error != 0)
			break;
		page = reply->list;
		more = page->unlisted > 0;
		if (more && page->n_pools == 0)
			error = -EPROTO;	/* more, yet none of them */
		else
			error = list_page(page, after[0] ? after : NULL,
			    more || after[0], &s, &have);
		poolmgr__reply__free_unpacked(reply, NULL);
		if (error == 0 && more)
			strcpy(after, s[have - 1].name);
	} while (error == 0 && more);

	/* Never NULL on success, even for no pools: free() it either way. */
	if (error == 0 && s == NULL && (s = malloc(sizeof *s)) == NULL)
		error = -ENOMEM;
	if (error == 0) {
		*out = s;
		*n = have;
	} else
		free(s);
	return error;
}

int	client_pool_list_1(struct pool_conn *, struct pool_stats_1 **,
	    size_t *) CLIENT_STATS_1_API;
CLIENT_STATS_1(client_pool_list_1, pool_list);

/*
 * pool_list for a program that steps through *out 320 bytes at a time:
 * the current entries moved down into the old layout, in place, in
 * order: old entry i starts no later than current entry i, so it covers
 * only entries already moved and i's own start (hence the copy first).
 */
int
client_pool_list_1(struct pool_conn *c, struct pool_stats_1 **out, size_t *n)
{
	struct pool_stats	*s;
	struct pool_stats_1	 old;
	size_t			 i;
	int			 error;

	if (out == NULL || n == NULL)
		return pool_list(c, NULL, NULL);
	if ((error = pool_list(c, &s, n)) != 0) {
		*out = NULL;
		return error;
	}
	for (i = 0; i < *n; i++) {
		client_stats_to_1(&old, &s[i]);
		memcpy((struct pool_stats_1 *)(void *)s + i, &old, sizeof old);
	}
	*out = (struct pool_stats_1 *)(void *)s;
	return 0;
}

POOL_API int
pool_clients(struct pool_conn *c, const char *pool,
    struct pool_client_info **out, size_t *n)
{
	size_t	total;

	return client_clients(c, pool, out, n, &total);
}

POOL_API int
pool_clients_total(struct pool_conn *c, const char *pool,
    struct pool_client_info **out, size_t *n, size_t *total)
{
	return client_clients(c, pool, out, n, total);
}

/*
 * What the listings by pool share, pool_clients', pool_persisted's,
 * pool_users' and pool_names', once the places for their answers are
 * known: the thread's words forgotten (a failure found here has none of
 * the daemon's), the counts zeroed, then the connection and the name
 * checked.  any: a NULL name is every pool (pool_clients'), not a name
 * missing.
 */
static int
client_list_begin(struct pool_conn *c, const char *name, int any,
    size_t *n, size_t *total)
{
	conn_forget_refusal();
	*n = 0;
	*total = 0;
	if (c == NULL)
		return -EINVAL;
	if (any && name == NULL)
		return 0;
	/* On the wire "" is every pool: here, as elsewhere, no pool's name. */
	if (any && name != NULL && *name == '\0') {
		conn_note_words(-ENOENT, "no pool has an empty name (NULL "
		    "lists the handles of every pool)");
		return -ENOENT;
	}
	return client_check_name(name);
}

/*
 * One listing's reply: its entries, and how many it left out; entry i
 * copied to item (0, or -EPROTO if the daemon sent nonsense).
 */
struct client_listing {
	size_t	  size;			/* bytes of an element of the array */
	void	(*count)(const Poolmgr__Reply *, size_t *, uint64_t *);
	int	(*copy)(const Poolmgr__Reply *, size_t, void *);
};

/*
 * Send req for a reply of body want, and copy its entries into a new
 * array, in *items; its entries in *n, and those with the unlisted ones
 * in *total.  Nothing is kept on an error.  A daemon that does not say
 * what it left out sends no unlisted, which reads as 0: then the list is
 * taken as whole.
 */
static int
client_list(struct pool_conn *c, Poolmgr__Request *req,
    Poolmgr__Reply__BodyCase want, const struct client_listing *l,
    void **items, size_t *n, size_t *total)
{
	Poolmgr__Reply	*reply;
	uint64_t	 unlisted;
	size_t		 count, i;
	char		*a;
	int		 error;

	if ((error = conn_call(c, req, want, &reply, NULL)) != 0)
		return error;
	l->count(reply, &count, &unlisted);
	if ((a = calloc(count ? count : 1, l->size)) == NULL)
		error = -ENOMEM;
	for (i = 0; error == 0 && i < count; i++)
		error = l->copy(reply, i, a + i * l->size);
	if (error == 0) {
		*items = a;
		*n = count;
		*total = count + (size_t)unlisted;
	} else
		free(a);
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

static void
clients_count(const Poolmgr__Reply *reply, size_t *n, uint64_t *unlisted)
{
	*n = reply->clients->n_clients;
	*unlisted = reply->clients->unlisted;
}

static int
clients_copy(const Poolmgr__Reply *reply, size_t i, void *item)
{
	const Poolmgr__ClientInfo	*m = reply->clients->clients[i];
	struct pool_client_info		*ci = item;

	if (m == NULL)
		return -EPROTO;
	ci->pid = m->pid;
	ci->uid = m->uid;
	ci->gid = m->gid;
	/* A client names itself: cut a long name, it is only shown. */
	snprintf(ci->name, sizeof ci->name, "%s",
	    m->name != NULL ? m->name : "");
	ci->handle = m->handle;
	ci->read_only = m->read_only ? 1 : 0;
	ci->blocks = m->blocks;
	ci->bytes = m->bytes;
	ci->cached_bytes = m->cached_bytes;
	return client_copy_name(ci->pool, sizeof ci->pool, m->pool);
}

static const struct client_listing clients_listing = {
	sizeof(struct pool_client_info), clients_count, clients_copy
};

static int
client_clients(struct pool_conn *c, const char *pool,
    struct pool_client_info **out, size_t *n, size_t *total)
{
	Poolmgr__Request		 req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListClients		 lc = POOLMGR__LIST_CLIENTS__INIT;
	void				*items;
	int				 error;

	if (out == NULL || n == NULL || total == NULL)
		return conn_local_failure(-EINVAL);
	*out = NULL;
	if ((error = client_list_begin(c, pool, 1, n, total)) != 0)
		return error;
	if (pool != NULL)
		lc.pool = (char *)pool;

	req.body_case = POOLMGR__REQUEST__BODY_CLIENTS;
	req.clients = &lc;
	if ((error = client_list(c, &req, POOLMGR__REPLY__BODY_CLIENTS,
	    &clients_listing, &items, n, total)) == 0)
		*out = items;
	return error;
}

static void
persisted_count(const Poolmgr__Reply *reply, size_t *n, uint64_t *unlisted)
{
	*n = reply->persisted->n_uids;
	*unlisted = reply->persisted->unlisted;
}

static int
persisted_copy(const Poolmgr__Reply *reply, size_t i, void *item)
{
	const Poolmgr__PersistedBy	*u = reply->persisted->uids[i];
	struct pool_persisted		*pp = item;

	if (u == NULL)
		return -EPROTO;
	pp->uid = u->uid;
	pp->blocks = u->blocks;
	pp->bytes = u->bytes;
	return 0;
}

static const struct client_listing persisted_listing = {
	sizeof(struct pool_persisted), persisted_count, persisted_copy
};

POOL_API int
pool_persisted(struct pool_conn *c, const char *name,
    struct pool_persisted **out, size_t *n, size_t *total)
{
	Poolmgr__Request		 req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListPersisted		 lp = POOLMGR__LIST_PERSISTED__INIT;
	Poolmgr__PoolRef		 ref = POOLMGR__POOL_REF__INIT;
	void				*items;
	int				 error;

	if (out == NULL || n == NULL || total == NULL)
		return conn_local_failure(-EINVAL);
	*out = NULL;
	if ((error = client_list_begin(c, name, 0, n, total)) != 0)
		return error;

	ref.name = (char *)name;
	lp.pool = &ref;
	req.body_case = POOLMGR__REQUEST__BODY_PERSISTED;
	req.persisted = &lp;
	if ((error = client_list(c, &req, POOLMGR__REPLY__BODY_PERSISTED,
	    &persisted_listing, &items, n, total)) == 0)
		*out = items;
	return error;
}

static void
users_count(const Poolmgr__Reply *reply, size_t *n, uint64_t *unlisted)
{
	*n = reply->users->n_users;
	*unlisted = reply->users->unlisted;
}

static int
users_copy(const Poolmgr__Reply *reply, size_t i, void *item)
{
	const Poolmgr__UserUsage	*u = reply->users->users[i];
	struct pool_user		*pu = item;

	if (u == NULL)
		return -EPROTO;
	pu->uid = u->uid;
	pu->connections = u->connections;
	pu->handles = u->handles;
	pu->held_bytes = u->held_bytes;
	pu->persisted_blocks = u->persisted_blocks;
	pu->persisted_bytes = u->persisted_bytes;
	pu->quota = u->quota;
	pu->quota_own = u->quota_own ? 1 : 0;
	return 0;
}

static const struct client_listing users_listing = {
	sizeof(struct pool_user), users_count, users_copy
};

POOL_API int
pool_users(struct pool_conn *c, const char *name, struct pool_user **out,
    size_t *n, size_t *total)
{
	Poolmgr__Request		 req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListUsers		 lu = POOLMGR__LIST_USERS__INIT;
	Poolmgr__PoolRef		 ref = POOLMGR__POOL_REF__INIT;
	void				*items;
	int				 error;

	if (out == NULL || n == NULL || total == NULL)
		return conn_local_failure(-EINVAL);
	*out = NULL;
	if ((error = client_list_begin(c, name, 0, n, total)) != 0)
		return error;
	if ((c->features & CONN_FEATURE_USER_QUOTA) == 0)
		return -EOPNOTSUPP;

	ref.name = (char *)name;
	lu.pool = &ref;
	req.body_case = POOLMGR__REQUEST__BODY_USERS;
	req.users = &lu;
	if ((error = client_list(c, &req, POOLMGR__REPLY__BODY_USERS,
	    &users_listing, &items, n, total)) == 0)
		*out = items;
	return error;
}

static void
names_count(const Poolmgr__Reply *reply, size_t *n, uint64_t *unlisted)
{
	*n = reply->names->n_names;
	*unlisted = reply->names->unlisted;
}

static int
names_copy(const Poolmgr__Reply *reply, size_t i, void *item)
{
	const Poolmgr__NamedBlock	*nb = reply->names->names[i];
	struct pool_named		*pn = item;

	/* A name with a NUL inside could not be told apart. */
	if (nb == NULL || nb->name.len == 0 ||
	    nb->name.len > POOL_BLOCK_NAME_MAX ||
	    memchr(nb->name.data, '\0', nb->name.len) != NULL)
		return -EPROTO;
	memcpy(pn->name, nb->name.data, nb->name.len);
	pn->offset = nb->offset;
	pn->usable_size = nb->usable_size;
	pn->publisher = nb->publisher;
	pn->evictable = nb->evictable;
	pn->generation = nb->generation;
	return 0;
}

static const struct client_listing names_listing = {
	sizeof(struct pool_named), names_count, names_copy
};

/*
 * A page's names, each after the one before and the first after after
 * (NULL: the first page): else a caller paging on from the last would
 * not advance, or would be given a name twice.  0 or -EPROTO.
 */
static int
names_in_order(const struct pool_named *pn, size_t n, const char *after)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (after != NULL && strcmp(pn[i].name, after) <= 0)
			return -EPROTO;
		after = pn[i].name;
	}
	return 0;
}

/*
 * pool_names and pool_names_after: after NULL sends none, as a daemon
 * from before paging takes it; paged, the page is checked as one of a
 * walk (names_in_order), and one that says more are left but lists none
 * is a lie that would keep its caller asking.
 */
static int
client_names(struct pool_conn *c, const char *name, const char *prefix,
    const char *after, int paged, struct pool_named **out, size_t *n,
    size_t *total)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListNames	 ln = POOLMGR__LIST_NAMES__INIT;
	Poolmgr__PoolRef	 ref = POOLMGR__POOL_REF__INIT;
	void			*items;
	int			 error;

	if (out == NULL || n == NULL || total == NULL)
		return conn_local_failure(-EINVAL);
	*out = NULL;
	if ((error = client_list_begin(c, name, 0, n, total)) != 0)
		return error;
	if (prefix != NULL &&
	    strnlen(prefix, POOL_BLOCK_NAME_MAX + 1) > POOL_BLOCK_NAME_MAX)
		return -ENAMETOOLONG;
	if (after != NULL &&
	    strnlen(after, POOL_BLOCK_NAME_MAX + 1) > POOL_BLOCK_NAME_MAX)
		return -ENAMETOOLONG;
	if (paged && (c->features & CONN_FEATURE_NAMES_AFTER) == 0)
		return -EOPNOTSUPP;

	ref.name = (char *)name;
	ln.pool = &ref;
	if (prefix != NULL) {
		ln.prefix.data = (uint8_t *)prefix;
		ln.prefix.len = strlen(prefix);
	}
	if (after != NULL && after[0] != '\0') {
		ln.after.data = (uint8_t *)after;
		ln.after.len = strlen(after);
	} else
		after = NULL;
	req.body_case = POOLMGR__REQUEST__BODY_NAMES;
	req.names = &ln;
	if ((error = client_list(c, &req, POOLMGR__REPLY__BODY_NAMES,
	    &names_listing, &items, n, total)) != 0)
		return error;
	if (paged && ((*n == 0 && *total > 0) ||
	    names_in_order(items, *n, after) != 0)) {
		free(items);
		*n = 0;
		*total = 0;
		return -EPROTO;
	}
	*out = items;
	return 0;
}

POOL_API int
pool_names(struct pool_conn *c, const char *name, const char *prefix,
    struct pool_named **out, size_t *n, size_t *total)
{
	return client_names(c, name, prefix, NULL, 0, out, n, total);
}

POOL_API int
pool_names_after(struct pool_conn *c, const char *name, const char *prefix,
    const char *after, struct pool_named **out, size_t *n, size_t *total)
{
	return client_names(c, name, prefix, after, 1, out, n, total);
}
