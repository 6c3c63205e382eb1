/*
 * dispatch_uquota.c - uids' own user quotas on the wire: CreatePool's and
 * SetPool's entries read and checked into the pool's parameters, and the
 * list PoolStats answers (the rules themselves: pool_uquota.c).
 */
#include <errno.h>
#include <string.h>

#include "dispatch_internal.h"
#include "pool.h"
#include "pool_uquota.h"

/*
 * m's n entries into e (room for UQUOTA_MAX): 0, or refused with -ENOSPC
 * for more than a list may hold (said before anything is copied).
 */
static int
entries_from_msg(struct call *c, Poolmgr__UserQuota *const *m, size_t n,
		 struct uquota_entry *e)
{
	size_t i;

	if (n > UQUOTA_MAX)
		return refuse(c, -ENOSPC, "a pool holds at most %d user quota "
			      "entries, not %zu", UQUOTA_MAX, n);
	for (i = 0; i < n; i++) {
		e[i].uid = m[i]->uid;
		e[i].bytes = m[i]->bytes;
	}
	return 0;
}

int
dispatch_create_uquotas(struct call *c, const Poolmgr__CreatePool *m,
			struct dpool_params *pp)
{
	struct uquota_entry e[UQUOTA_MAX];
	char why[160];
	int rc;

	if ((rc = entries_from_msg(c, m->user_quotas, m->n_user_quotas, e)))
		return rc;
	if ((rc = uquota_build(&pp->uquotas, e, m->n_user_quotas, why,
			       sizeof(why))))
		return refuse(c, rc, "%s", why);
	return 0;
}

int
dispatch_set_uquotas(struct call *c, const Poolmgr__SetPool *m,
		     const struct dpool *p, struct dpool_params *pp)
{
	struct uquota_entry add[UQUOTA_MAX];
	char why[160];
	int rc;

	pp->uquotas = p->uquotas;
	if (!m->n_user_quota_modify && !m->n_user_quota_remove)
		return 0;
	if ((rc = entries_from_msg(c, m->user_quota_modify,
				   m->n_user_quota_modify, add)))
		return rc;
	if ((rc = uquota_modify(&pp->uquotas, &p->uquotas, add,
				m->n_user_quota_modify, m->user_quota_remove,
				m->n_user_quota_remove, why, sizeof(why))))
		return refuse(c, rc, "%s", why);
	return 0;
}

void
dispatch_fill_uquotas(Poolmgr__PoolStats *ps, const struct dpool *p,
		      struct stats_uquotas *room)
{
	uint32_t i;

	ps->n_user_quotas = 0;
	ps->user_quotas = NULL;
	if (p->uquotas.n == 0)
		return;
	for (i = 0; i < p->uquotas.n; i++) {
		poolmgr__user_quota__init(&room->e[i]);
		room->e[i].uid = p->uquotas.e[i].uid;
		room->e[i].bytes = p->uquotas.e[i].bytes;
		room->ptr[i] = &room->e[i];
	}
	ps->n_user_quotas = p->uquotas.n;
	ps->user_quotas = room->ptr;
}
