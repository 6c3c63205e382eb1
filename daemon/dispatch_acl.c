/*
 * dispatch_acl.c - a pool's access control list on the wire: CreatePool's
 * and SetPool's lists read and checked into the pool's parameters, and
 * the list PoolStats answers (the rules themselves: pool_acl.c).
 */
#include <errno.h>
#include <string.h>

#include "dispatch_internal.h"
#include "pool.h"
#include "pool_acl.h"

/*
 * m's entries into e (room for ACL_MAX), *n of them: 0, or refused with
 * -ENOSPC for more than a list may hold, -EINVAL for a kind, an id or
 * rights no entry may have (what acl_build would say, said before the
 * 32-bit fields are narrowed).
 */
static int
entries_from_msg(struct call *c, const Poolmgr__Acl *m,
		 struct acl_entry *e, size_t *n, bool rights_matter)
{
	size_t i;

	*n = 0;
	if (!m)
		return 0;
	if (m->n_entries > ACL_MAX)
		return refuse(c, -ENOSPC, "an access control list holds at "
			      "most %d entries, not %zu", ACL_MAX,
			      m->n_entries);
	for (i = 0; i < m->n_entries; i++) {
		const Poolmgr__AclEntry *me = m->entries[i];

		if (me->kind != ACL_USER && me->kind != ACL_GROUP)
			return refuse(c, -EINVAL, "an access control entry of "
				      "kind %u: neither a user (1) nor a "
				      "group (2)", (unsigned)me->kind);
		if (rights_matter && (me->rights & ~ACL_RIGHTS))
			return refuse(c, -EINVAL, "%s %u: rights %#x beyond "
				      "read (4) and write (2)",
				      me->kind == ACL_USER ? "user" : "group",
				      (unsigned)me->id, (unsigned)me->rights);
		e[i].kind = (uint8_t)me->kind;
		e[i].id = me->id;
		e[i].rights = rights_matter ? (uint8_t)me->rights : 0;
	}
	*n = m->n_entries;
	return 0;
}

int
dispatch_create_acl(struct call *c, const Poolmgr__CreatePool *m,
		    struct dpool_params *pp)
{
	struct acl_entry e[ACL_MAX];
	char why[160];
	size_t n;
	int rc;

	if ((rc = entries_from_msg(c, m->acl, e, &n, true)))
		return rc;
	if ((rc = acl_build(&pp->acl, e, n, why, sizeof(why))))
		return refuse(c, rc, "%s", why);
	return 0;
}

int
dispatch_set_acl(struct call *c, const Poolmgr__SetPool *m,
		 const struct dpool *p, struct dpool_params *pp)
{
	struct acl_entry add[ACL_MAX], rm[ACL_MAX];
	size_t nadd, nrm;
	char why[160];
	int rc;

	pp->acl = p->acl;
	if (m->acl && (m->acl_modify || m->acl_remove))
		return refuse(c, -EINVAL, "an access control list is either "
			      "replaced whole or modified, not both at once");
	if (m->acl) {
		if ((rc = entries_from_msg(c, m->acl, add, &nadd, true)))
			return rc;
		if ((rc = acl_build(&pp->acl, add, nadd, why, sizeof(why))))
			return refuse(c, rc, "%s", why);
		return 0;
	}
	if (!m->acl_modify && !m->acl_remove)
		return 0;
	if ((rc = entries_from_msg(c, m->acl_modify, add, &nadd, true)) ||
	    (rc = entries_from_msg(c, m->acl_remove, rm, &nrm, false)))
		return rc;
	if ((rc = acl_modify(&pp->acl, &p->acl, add, nadd, rm, nrm, why,
			     sizeof(why))))
		return refuse(c, rc, "%s", why);
	return 0;
}

void
dispatch_fill_acl(Poolmgr__PoolStats *ps, const struct dpool *p,
		  struct stats_acl *room)
{
	uint32_t i;

	ps->acl = NULL;
	if (p->acl.n == 0)
		return;
	poolmgr__acl__init(&room->acl);
	for (i = 0; i < p->acl.n; i++) {
		poolmgr__acl_entry__init(&room->e[i]);
		room->e[i].kind = p->acl.e[i].kind;
		room->e[i].id = p->acl.e[i].id;
		room->e[i].rights = p->acl.e[i].rights;
		room->ptr[i] = &room->e[i];
	}
	room->acl.n_entries = p->acl.n;
	room->acl.entries = room->ptr;
	ps->acl = &room->acl;
}
