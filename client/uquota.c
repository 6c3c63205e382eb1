/*
 * uquota.c - uids' own user quotas: reading a pool's entries
 * (pool_user_quota_get), changing some in one request, alone
 * (pool_user_quota_modify) or with other settings
 * (pool_set_user_quotas), making a pool with them
 * (pool_create_user_quotas), and the checks of the entries a request
 * carries and a reply brings, which the statistics' copy shares
 * (stats.c).  The requests themselves are made in admin.c, with the
 * settings they go beside.
 *
 * The daemon is the authority on the rules, but the library refuses
 * here what it can tell alone (a uid of nobody, a uid twice, a reserved
 * word), so that nothing is sent that the daemon could only refuse, and
 * sends nothing to a daemon without HelloReply.features bit 11: one
 * would skip the entries unread and answer as if it had made them.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "client_internal.h"

/*
 * The uid's own quota took reserved room: the structure and every field
 * before it stay where programs built before it have them.
 */
_Static_assert(sizeof(struct pool_user) == 72 &&
    offsetof(struct pool_user, persisted_bytes) == 32 &&
    offsetof(struct pool_user, quota) == 40 &&
    offsetof(struct pool_user, quota_own) == 48,
    "ABI: struct pool_user");
_Static_assert(sizeof(struct pool_stats) == 384 &&
    offsetof(struct pool_stats, user_quota_entries) ==
    offsetof(struct pool_stats, acl_entries) + 4 &&
    offsetof(struct pool_stats, reserved) ==
    offsetof(struct pool_stats, acl_entries) + 8,
    "ABI: struct pool_stats");
_Static_assert(offsetof(struct pool_user_quota, bytes) == 8,
    "ABI: struct pool_user_quota");

/* Nobody's uid: no entry may name it (the daemon's rule too). */
#define UQUOTA_NOBODY	((uint32_t)-1)

/* Is uid among the first n entries of e (of the uids u, below)? */
static int
uquota_in_entries(const struct pool_user_quota *e, size_t n, uint32_t uid)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (e[i].uid == uid)
			return 1;
	return 0;
}

static int
uquota_in_uids(const uint32_t *u, size_t n, uint32_t uid)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (u[i] == uid)
			return 1;
	return 0;
}

/*
 * Quadratic, but over at most 32 and 32: a uid twice is refused here
 * because which of its two bounds was meant only the caller knows.
 */
int
client_uquota_check(const struct pool_user_quota *e, size_t n,
    const uint32_t *rm, size_t nrm)
{
	size_t	i;

	if ((n > 0 && e == NULL) || (nrm > 0 && rm == NULL))
		return -EINVAL;
	if (n > POOL_USER_QUOTA_MAX)
		return -ENOSPC;
	if (nrm > POOL_USER_QUOTA_MAX)
		return -EINVAL;
	for (i = 0; i < nrm; i++)
		if (rm[i] == UQUOTA_NOBODY || uquota_in_uids(rm, i, rm[i]))
			return -EINVAL;
	for (i = 0; i < n; i++) {
		if (e[i].uid == UQUOTA_NOBODY || e[i].reserved != 0)
			return -EINVAL;
		if (uquota_in_entries(e, i, e[i].uid) ||
		    uquota_in_uids(rm, nrm, e[i].uid))
			return -EINVAL;
	}
	return 0;
}

Poolmgr__UserQuota **
client_uquota_encode(struct client_uquota_msg *m,
    const struct pool_user_quota *e, size_t n)
{
	size_t	i;

	for (i = 0; i < n && i < POOL_USER_QUOTA_MAX; i++) {
		poolmgr__user_quota__init(&m->e[i]);
		m->e[i].uid = e[i].uid;
		m->e[i].bytes = e[i].bytes;
		m->ptr[i] = &m->e[i];
	}
	return i > 0 ? m->ptr : NULL;
}

/*
 * The daemon keeps a pool's entries sorted by uid, one per uid, at most
 * 32, and none of nobody's uid: a reply otherwise is not a daemon's.
 */
int
client_uquota_reply(const Poolmgr__PoolStats *m)
{
	size_t	i;

	if (m->n_user_quotas > POOL_USER_QUOTA_MAX)
		return -EPROTO;
	/* The count (a list's alone) is as far bounded, and the entries'. */
	if (m->user_quota_entries > POOL_USER_QUOTA_MAX ||
	    (m->n_user_quotas > 0 && m->user_quota_entries != 0 &&
	    m->user_quota_entries != m->n_user_quotas))
		return -EPROTO;
	for (i = 0; i < m->n_user_quotas; i++) {
		if (m->user_quotas[i] == NULL ||
		    m->user_quotas[i]->uid == UQUOTA_NOBODY)
			return -EPROTO;
		if (i > 0 && m->user_quotas[i]->uid <=
		    m->user_quotas[i - 1]->uid)
			return -EPROTO;
	}
	return 0;
}

POOL_API int
pool_create_user_quotas(struct pool_conn *c, const char *name,
    const struct pool_create_opts *o, const struct pool_set_opts *s,
    const struct pool_user_quota *uq, size_t nuq)
{
	return client_create(c, name, o, s, uq, nuq);
}

POOL_API int
pool_user_quota_get(struct pool_conn *c, const char *name,
    struct pool_user_quota *out, size_t max)
{
	Poolmgr__Reply		*reply;
	const Poolmgr__PoolStats *ps;
	size_t			 i, n;
	int			 error;

	conn_forget_refusal();
	if (c == NULL || (out == NULL && max > 0))
		return -EINVAL;
	error = client_stats_reply(c, name, CONN_FEATURE_USER_QUOTAS, &reply);
	if (error != 0)
		return error;
	ps = reply->stats;
	if (ps == NULL || client_uquota_reply(ps) != 0) {
		poolmgr__reply__free_unpacked(reply, NULL);
		return -EPROTO;
	}
	n = ps->n_user_quotas;
	for (i = 0; i < n && i < max; i++) {
		memset(&out[i], 0, sizeof out[i]);
		out[i].uid = ps->user_quotas[i]->uid;
		out[i].bytes = ps->user_quotas[i]->bytes;
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return (int)n;
}

POOL_API int
pool_set_user_quotas(struct pool_conn *c, const char *name,
    const struct pool_set_opts *o, const struct pool_user_quota *set,
    size_t nset, const uint32_t *remove_uids, size_t nremove)
{
	if (o == NULL) {
		conn_forget_refusal();
		return -EINVAL;
	}
	return client_set(c, name, o, set, nset, remove_uids, nremove, 0);
}

POOL_API int
pool_user_quota_modify(struct pool_conn *c, const char *name,
    const struct pool_user_quota *set, size_t nset,
    const uint32_t *remove_uids, size_t nremove)
{
	return client_set(c, name, NULL, set, nset, remove_uids, nremove, 1);
}
