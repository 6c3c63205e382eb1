/*
 * dispatch_admin.c - requests that make, change and end pools: create,
 * destroy and set (admin rights; set also the owner's).  Handles on
 * pools are dispatch_open.c's, what a pool holds dispatch_inspect.c's,
 * trim and check dispatch_upkeep.c's.
 *
 * A destroy that counts live blocks first waits for the pool to settle
 * (wait_settled): work its clients let go of may still be queued
 * (pool_release.c), and no answer should show it half done.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "dispatch_internal.h"
#include "hugepage.h"
#include "journal.h"
#include "log.h"
#include "pool.h"
#include "pool_numa.h"
#include "session.h"

_Static_assert(DPOOL_NUMA_NONE == POOLMGR__NUMA_POLICY__NUMA_NONE &&
	       DPOOL_NUMA_PREFERRED == POOLMGR__NUMA_POLICY__NUMA_PREFERRED &&
	       DPOOL_NUMA_BIND == POOLMGR__NUMA_POLICY__NUMA_BIND &&
	       DPOOL_NUMA_OTHER == POOLMGR__NUMA_POLICY__NUMA_OTHER,
	       "the wire's NUMA policies are the daemon's");

bool
may_admin(const struct session *s)
{
	return session_admin(s, dispatch_cf);
}

static int
check_name(struct call *c, const char *name)
{
	if (!name || strlen(name) > 64)
		return refuse(c, -ENAMETOOLONG, "pool name longer than 64");
	if (!config_valid_pool_name(name))
		return refuse(c, -EINVAL, "pool names are [A-Za-z0-9._-], "
			      "not starting with '.'");
	return 0;
}

/*
 * The kernel would not reserve enough huge pages for the whole pool (the
 * daemon's mapping takes them all at once, pool.c): nothing was made.
 */
static int
huge_refused(struct call *c, const struct dpool_params *pp)
{
	uint64_t page = pp->page_size;
	uint64_t need = (pp->size + page - 1) / page;
	char text[24], knob[128];

	/* vm.nr_hugepages counts the default size's only: 1 GiB pages are
	 * set in their own file. */
	return refuse(c, -ENOMEM, "not enough huge pages: the pool needs "
		      "%llu huge page%s of %s; the system has %llu free "
		      "(%s)", (unsigned long long)need,
		      log_plural(need), hugepage_text(page, text, sizeof(text)),
		      (unsigned long long)hugepage_available(page),
		      hugepage_knob(page, knob, sizeof(knob)));
}

/*
 * What dpool_create's other refusals mean for this name: the checks
 * before it left only these (and the errno of a memfd or mapping).
 */
static int
create_refused(struct call *c, int rc, const char *name)
{
	switch (rc) {
	case -EEXIST:
		return refuse(c, rc, "pool %s exists", name);
	case -ENOSPC:
		return refuse(c, rc, "the daemon has %d pools, the most it "
			      "keeps", POOL_MAX_POOLS);
	case -EMFILE:
	case -ENFILE:
		return refuse(c, rc, "cannot make pool %s: the daemon is out "
			      "of descriptors", name);
	default:
		return refuse(c, rc, "cannot make pool %s: %s", name,
			      strerror(-rc));
	}
}

/*
 * The NUMA policy asked for into pp (its page size already set): none
 * without a node; with one, 0 (unset) is preferred.
 */
static int
create_numa(struct call *c, const Poolmgr__CreatePool *m,
	    struct dpool_params *pp)
{
	if (m->numa_case != POOLMGR__CREATE_POOL__NUMA_NUMA_NODE) {
		if (m->numa_policy != DPOOL_NUMA_NONE)
			return refuse(c, -EINVAL, "a NUMA policy needs a "
				      "NUMA node");
		return 0;
	}
	pp->numa_node = m->numa_node;
	pp->numa_policy = m->numa_policy ? m->numa_policy
			  : DPOOL_NUMA_PREFERRED;
	if (pp->numa_policy != DPOOL_NUMA_PREFERRED &&
	    pp->numa_policy != DPOOL_NUMA_BIND)
		return refuse(c, -EINVAL, "NUMA policy %u is neither "
			      "preferred (1) nor bind (2)", m->numa_policy);
	/*
	 * hugetlbfs keeps no shared policy: mbind on the daemon's mapping
	 * would place only the pages the daemon itself touches, and every
	 * client's faults would go where its CPU is.
	 */
	if (hugepage_is_huge(pp->page_size))
		return refuse(c, -EINVAL, "a NUMA policy needs system pages: "
			      "huge pages go where the process that first "
			      "touches them runs");
	return 0;
}

/* A limit no pool of size bytes and granules of g may have. */
static int
limit_refused(struct call *c, uint64_t limit, uint64_t size, uint64_t g)
{
	if (limit && limit > size)
		return refuse(c, -EINVAL, "a limit above the pool's size: "
			      "%llu of %llu bytes", (unsigned long long)limit,
			      (unsigned long long)size);
	if (!dpool_limit_valid(limit, size, g))
		return refuse(c, -EINVAL, "a limit below a granule: %llu of "
			      "%llu bytes", (unsigned long long)limit,
			      (unsigned long long)g);
	return 0;
}

/*
 * The owner and group asked for into pp, else the creator's.  Only admins
 * get this far, and they may give a pool away as SetPool lets them: made
 * so at once, the journal has it in the pool's one record.
 */
static int
create_owner(struct call *c, const Poolmgr__CreatePool *m,
	     struct dpool_params *pp)
{
	pp->uid = c->s->uid;
	pp->gid = c->s->gid;
	if (m->owner_uid_case == POOLMGR__CREATE_POOL__OWNER_UID_UID) {
		if (m->uid == (uint32_t)-1)
			return refuse(c, -EINVAL, "uid %u is nobody's",
				      (unsigned)m->uid);
		pp->uid = m->uid;
	}
	if (m->owner_gid_case == POOLMGR__CREATE_POOL__OWNER_GID_GID) {
		if (m->gid == (uint32_t)-1)
			return refuse(c, -EINVAL, "gid %u is no group",
				      (unsigned)m->gid);
		pp->gid = m->gid;
	}
	return 0;
}

/*
 * pp's limit against the pool it makes: its size rounded up to the page,
 * its granule (16 if not given); the engine checks those itself later.
 */
static int
create_limit(struct call *c, const struct dpool_params *pp)
{
	uint64_t page = pp->page_size, g = pp->granularity ? pp->granularity
							    : 16;
	uint64_t size = (pp->size + page - 1) & ~(page - 1);

	return limit_refused(c, pp->limit, size, g);
}

/* Is name a pool of the file in force?  Then the file owns its settings. */
static bool
file_pool(const char *name)
{
	unsigned i;

	if (!dispatch_cf)
		return false;
	for (i = 0; i < dispatch_cf->npools; i++)
		if (strcmp(dispatch_cf->pools[i].name, name) == 0)
			return true;
	return false;
}

int
do_create(struct call *c, const Poolmgr__CreatePool *m)
{
	struct dpool_params pp = {0};
	char bounds[DPOOL_BOUNDS_TEXT_MAX], acl[ACL_TEXT_MAX + 8];
	struct dpool *p;
	int rc;

	if (!may_admin(c->s))
		return refuse(c, -EPERM, "creating pools needs admin rights");
	if ((rc = check_name(c, m->name)))
		return rc;
	if (m->mode & ~0777u)
		return refuse(c, -EINVAL, "mode 0%03o has bits beyond 0777",
			      m->mode);
	if (m->max_size == 0 || m->max_size > POOL_MAX_SIZE)
		return refuse(c, -EINVAL, "size must be 1 byte to 64 TiB");
	if (!(pp.page_size = hugepage_valid(m->page_size)))
		return refuse(c, -EINVAL, "page size %llu is neither the "
			      "system page nor a huge page size the kernel "
			      "offers (" HUGEPAGE_SYSFS ")",
			      (unsigned long long)m->page_size);
	pp.size = m->max_size;
	pp.granularity = m->granularity;
	pp.mode = m->mode;
	pp.quota = m->quota;
	pp.user_quota = m->user_quota;
	pp.limit = m->limit;
	if (m->retention_case == POOLMGR__CREATE_POOL__RETENTION_RETAIN)
		pp.retain = m->retain ? m->retain : DPOOL_RETAIN_NONE;
	if ((rc = create_numa(c, m, &pp)))
		return rc;
	if ((rc = create_owner(c, m, &pp)))
		return rc;
	if ((rc = create_limit(c, &pp)))
		return rc;
	if ((rc = dispatch_create_acl(c, m, &pp)))
		return rc;
	if ((rc = dispatch_create_uquotas(c, m, &pp)))
		return rc;
	rc = dpool_create(m->name, &pp, &p);
	if (rc == -EINVAL)
		return refuse(c, rc, "granularity must be a power of two from "
			      "8 to the page size");
	if (rc == -ENODEV)
		return refuse(c, rc, "NUMA node %u does not exist, has no "
			      "memory or is outside poolmgrd's cpuset",
			      pp.numa_node);
	if (rc == -EOPNOTSUPP)
		return refuse(c, rc, "no NUMA policies: the kernel has none, "
			      "or a system-call filter refuses mbind");
	if (rc == -ENOMEM && hugepage_is_huge(pp.page_size))
		return huge_refused(c, &pp);
	if (rc)
		return create_refused(c, rc, m->name);
	/*
	 * A pool of the file, destroyed since and made again here: the file
	 * owns its settings (SetPool is -EROFS) and the next reload gives
	 * them back, as to any pool the file comes to define.  Made, rather
	 * than refused, for the admins who may not reload the daemon.
	 */
	if (file_pool(p->name))
		log_info("pool %s: the configuration file defines it: its "
			 "settings are the file's again from the next reload",
			 p->name);
	dpool_bounds_text(p, bounds, sizeof(bounds));
	dpool_acl_made_text(p, acl, sizeof(acl));
	if (pp.numa_policy != DPOOL_NUMA_NONE)
		log_info("pool %s created by uid %u: %llu bytes, mode %04o, "
			 "owner %u:%u%s, pages of %llu, NUMA %s:%u%s", p->name,
			 (unsigned)c->s->uid, (unsigned long long)p->size,
			 p->mode, (unsigned)p->uid, (unsigned)p->gid, acl,
			 (unsigned long long)p->page_size,
			 dpool_numa_name(pp.numa_policy), pp.numa_node,
			 bounds);
	else
		log_info("pool %s created by uid %u: %llu bytes, mode %04o, "
			 "owner %u:%u%s, pages of %llu%s", p->name,
			 (unsigned)c->s->uid, (unsigned long long)p->size,
			 p->mode, (unsigned)p->uid, (unsigned)p->gid, acl,
			 (unsigned long long)p->page_size, bounds);
	return 0;
}

static uint64_t
live_blocks(struct dpool *p)
{
	struct heap_stats st;

	heap_get_stats(p->heap, &st);
	return st.live_blocks;
}

/*
 * What a destroy takes from under the pool's holders, for its log line:
 * " by force: 2 open handles closed, 9 live blocks ended", or "" for a
 * pool that had neither.
 */
static const char *
forced_text(struct dpool *p, char *buf, size_t len)
{
	uint64_t live = live_blocks(p);
	size_t n;

	buf[0] = '\0';
	if (!p->nhandles && !live)
		return buf;
	n = (size_t)snprintf(buf, len, " by force:");
	if (p->nhandles && n < len)
		n += (size_t)snprintf(buf + n, len - n, " %u open handle%s "
				      "closed%s", p->nhandles,
				      log_plural(p->nhandles),
				      live ? "," : "");
	if (live && n < len)
		snprintf(buf + n, len - n, " %llu live block%s ended",
			 (unsigned long long)live, log_plural(live));
	return buf;
}

int
do_destroy(struct call *c, const Poolmgr__DestroyPool *m)
{
	char forced[96];
	struct dpool *p;
	bool unmapped;
	int rc;

	if (!may_admin(c->s))
		return refuse(c, -EPERM, "destroying pools needs admin rights");
	if ((rc = check_name_length(c, m->name)))
		return rc;
	if (!m->name || !(p = dpool_find(m->name)))
		return refuse_no_pool(c, m->name);
	/* Blocks freed but still held for their release are not live. */
	if (!m->force && (rc = wait_settled(c, p)))
		return rc;
	if (!m->force && (p->nhandles || live_blocks(p)))
		return refuse(c, -EBUSY, "pool %s has %u open handle%s and "
			      "%llu live block%s", p->name, p->nhandles,
			      log_plural(p->nhandles),
			      (unsigned long long)live_blocks(p),
			      log_plural(live_blocks(p)));
	/*
	 * A reload makes the file's pools again: the operator reading the
	 * log then should see why the pool came back, empty.  A forced
	 * destroy says what it took from under its holders, whose programs
	 * now fail with EBADF.
	 */
	log_info("pool %s destroyed by uid %u%s%s", p->name,
		 (unsigned)c->s->uid, forced_text(p, forced, sizeof(forced)),
		 file_pool(p->name) ? " (the configuration file defines it: "
		 "a reload or start makes it again, empty)" : "");
	unmapped = p->nhandles == 0;
	journal_pool_gone(p);
	if (!unmapped)
		dpool_mark_destroyed(p);
	lookup_waits_pool_gone(p);
	room_waits_pool_gone(p);
	session_close_pool_handles(p);
	dpool_destroy(p, unmapped);
	return 0;
}

/*
 * Admins may change every setting.  The owner may change the mode and the
 * access control list, and the group to one it is in, as chmod, setfacl
 * and chgrp let a file's owner: who may use the pool is the owner's to
 * say.  The owner, quotas, limit and
 * retain spend or give away what is the daemon's: those stay the admins'.
 */
static int
set_allowed(struct call *c, const Poolmgr__SetPool *m, const struct dpool *p)
{
	if (may_admin(c->s))
		return 0;
	if (c->s->uid != p->uid)
		return refuse(c, -EPERM, "changing pool %s needs admin rights "
			      "or its ownership", p->name);
	if (m->set_uid_case != POOLMGR__SET_POOL__SET_UID__NOT_SET ||
	    m->set_quota_case != POOLMGR__SET_POOL__SET_QUOTA__NOT_SET ||
	    m->set_user_quota_case !=
	    POOLMGR__SET_POOL__SET_USER_QUOTA__NOT_SET ||
	    m->set_retain_case != POOLMGR__SET_POOL__SET_RETAIN__NOT_SET ||
	    m->set_limit_case != POOLMGR__SET_POOL__SET_LIMIT__NOT_SET ||
	    m->n_user_quota_modify || m->n_user_quota_remove)
		return refuse(c, -EPERM, "the owner of pool %s may change its "
			      "mode, access control list and group; its "
			      "owner, quotas, limit and retain need admin "
			      "rights", p->name);
	if (m->set_gid_case == POOLMGR__SET_POOL__SET_GID_GID &&
	    m->gid != p->gid && !session_in_group(c->s, m->gid))
		return refuse(c, -EPERM, "uid %u is not in group %u",
			      (unsigned)c->s->uid, (unsigned)m->gid);
	return 0;
}

/* p's settings with those m gives over them, into pp: all checked. */
static int
set_params(struct call *c, const Poolmgr__SetPool *m, const struct dpool *p,
	   struct dpool_params *pp)
{
	int rc;

	pp->uid = p->uid;
	pp->gid = p->gid;
	pp->mode = p->mode;
	pp->quota = p->quota;
	pp->user_quota = p->user_quota;
	pp->limit = p->limit;
	pp->retain = p->retain;
	if (m->set_mode_case == POOLMGR__SET_POOL__SET_MODE_MODE) {
		/* Create reads 0 as 0600: here it could only be a mistake. */
		if (m->mode == 0 || (m->mode & ~0777u))
			return refuse(c, -EINVAL, "mode 0%03o is not 1 to 0777",
				      m->mode);
		pp->mode = m->mode;
	}
	if (m->set_uid_case == POOLMGR__SET_POOL__SET_UID_UID) {
		if (m->uid == (uint32_t)-1)
			return refuse(c, -EINVAL, "uid %u is nobody's",
				      (unsigned)m->uid);
		pp->uid = m->uid;
	}
	if (m->set_gid_case == POOLMGR__SET_POOL__SET_GID_GID) {
		if (m->gid == (uint32_t)-1)
			return refuse(c, -EINVAL, "gid %u is no group",
				      (unsigned)m->gid);
		pp->gid = m->gid;
	}
	if (m->set_quota_case == POOLMGR__SET_POOL__SET_QUOTA_QUOTA)
		pp->quota = m->quota;
	if (m->set_user_quota_case ==
	    POOLMGR__SET_POOL__SET_USER_QUOTA_USER_QUOTA)
		pp->user_quota = m->user_quota;
	if (m->set_limit_case == POOLMGR__SET_POOL__SET_LIMIT_LIMIT) {
		if ((rc = limit_refused(c, m->limit, p->size,
					1ull << p->granule_shift)))
			return rc;
		pp->limit = m->limit;
	}
	if (m->set_retain_case == POOLMGR__SET_POOL__SET_RETAIN_RETAIN)
		pp->retain = m->retain ? m->retain : DPOOL_RETAIN_NONE;
	if (m->set_retain_case ==
	    POOLMGR__SET_POOL__SET_RETAIN_RETAIN_DEFAULT) {
		if (!m->retain_default)
			return refuse(c, -EINVAL, "retain_default is only "
				      "ever true");
		pp->retain = 0;
	}
	if ((rc = dispatch_set_uquotas(c, m, p, pp)))
		return rc;
	return dispatch_set_acl(c, m, p, pp);
}

/*
 * A change is said.  An admin's always: admins are trusted.  An owner's
 * is a client's like any other, which may flip its pool's mode as often
 * as it likes: rate-limited, as every line a client can cause at will,
 * or it could flood the journal, whose own limit would then drop the
 * daemon's other lines.
 */
static void
log_set(struct call *c, const struct dpool *p, const char *changed)
{
	static struct log_limit lim;

	if (may_admin(c->s))
		log_info("pool %s set by uid %u: %s", p->name,
			 (unsigned)c->s->uid, changed);
	else
		log_limited(&lim, LOG_PRI_INFO, "pool %s set by uid %u: %s",
			    p->name, (unsigned)c->s->uid, changed);
}

/*
 * Through the reload's own path: the journal and a restart in place carry
 * the change as they carry the file's, and it holds as a reload's does
 * (handles keep the access they were opened with; a lowered quota takes
 * nothing back).  Everything is checked before anything changes.
 */
int
do_set(struct call *c, const Poolmgr__SetPool *m)
{
	struct dpool_params pp = {0};
	char changed[1600 + 2 * UQUOTA_TEXT_MAX];
	struct dpool *p;
	uint64_t limit, user_quota;
	struct acl acl_was;
	struct uquota uq_was;
	int rc;

	if ((rc = check_name_length(c, m->name)))
		return rc;
	if (!m->name || !(p = dpool_find(m->name)))
		return refuse_no_pool(c, m->name);
	if ((rc = set_allowed(c, m, p)))
		return rc;
	if (file_pool(p->name))
		return refuse(c, -EROFS, "pool %s is defined in the "
			      "configuration file: change it there and reload",
			      p->name);
	if ((rc = set_params(c, m, p, &pp)))
		return rc;
	limit = p->limit;
	user_quota = p->user_quota;
	acl_was = p->acl;
	uq_was = p->uquotas;
	dpool_apply_settings(p, &pp, changed, sizeof(changed));
	if (*changed) {
		journal_pool_set(p, p->limit != limit ||
				 p->user_quota != user_quota,
				 !acl_equal(&p->acl, &acl_was),
				 !uquota_equal(&p->uquotas, &uq_was));
		if (p->limit != limit)
			dpool_evict_to_limit(p, changed, sizeof(changed));
		log_set(c, p, changed);
	}
	return 0;
}

