/*
 * dispatch_admin.c - requests on pools as a whole: create, destroy and
 * set (admin rights; set also the owner's), open and close (a handle,
 * within the pool's mode), a handle's share map after a restart in place,
 * and the inspections: stats, list, trim, check, clients and persisted.
 *
 * Those that read a pool's state (stats, list, check, trim, persisted,
 * and a destroy that counts live blocks) first wait for the pool to settle
 * (wait_settled): work its clients let go of may still be queued
 * (pool_release.c), and no answer should show it half done.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dispatch.h"
#include "dispatch_internal.h"
#include "hugepage.h"
#include "journal.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "pool_numa.h"
#include "records.h"
#include "session.h"

#define MAX_LISTED_CLIENTS 400
/* Entries of a ListPersisted reply: 1000 of at most 32 bytes fit one. */
#define MAX_LISTED_PERSISTERS 1000
/* The clients listed in one reply: a datagram, less the reply's fields. */
#define CLIENTS_REPLY_MAX (PEER_MAX_MESSAGE - 1024)
/*
 * A ListPools page (ListPools.paged).  An entry packs to at most 851
 * bytes (every field at its largest, a 64-byte name and a full access
 * control list), so 64 of them, each with its tag and length, take 64 x
 * 854 = 54,656 bytes, 54,678 in a Reply (itest_list packs them): a page
 * always fits LIST_REPLY_MAX (64,512).
 */
#define LIST_POOLS_PAGE 64
/* The pools listed in one reply: a datagram, less the reply's fields. */
#define LIST_REPLY_MAX (PEER_MAX_MESSAGE - 1024)
/* An entry's tag (1 byte) and length (at most 3 for a datagram's size). */
#define LIST_ENTRY_FRAME 4

_Static_assert(DPOOL_NUMA_NONE == POOLMGR__NUMA_POLICY__NUMA_NONE &&
	       DPOOL_NUMA_PREFERRED == POOLMGR__NUMA_POLICY__NUMA_PREFERRED &&
	       DPOOL_NUMA_BIND == POOLMGR__NUMA_POLICY__NUMA_BIND &&
	       DPOOL_NUMA_OTHER == POOLMGR__NUMA_POLICY__NUMA_OTHER,
	       "the wire's NUMA policies are the daemon's");

static bool
may_admin(const struct session *s)
{
	return session_admin(s, dispatch_cf);
}

/* A name to look up: too long is its own error, else any is looked up. */
static int
check_name_length(struct call *c, const char *name)
{
	if (name && strlen(name) > 64)
		return refuse(c, -ENAMETOOLONG, "pool name longer than 64");
	return 0;
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
 * Every refusal by a pool's mode says the same: the pool, its mode, what
 * was missing and for whom, whatever the request.  A pool with an access
 * control list says which of its rules decided, since the mode alone may
 * seem to allow what an entry refuses.  want: the rights asked for (4
 * read, 2 write; a read-write open asks both, its mapping being readable).
 */
static int
refuse_access(struct call *c, const struct dpool *p, unsigned want)
{
	struct acl_caller who = session_caller(c->s);
	bool unwritable = (want & 2) && !session_may_access(c->s, p, 2);
	bool unreadable = (want & 4) && !session_may_access(c->s, p, 4);
	const char *what = unwritable ? "writable" : "readable";
	const char *rw = !unwritable && (want & 2) ? " (a read-write handle "
						      "reads too)" : "";
	size_t n;

	/*
	 * Read by one group's entry and write by another's: each right
	 * alone is granted, so "not readable" would be untrue.
	 */
	if (want == 6 && !unwritable && !unreadable) {
		what = "readable and writable by one rule";
		rw = " (a read-write open needs both from one entry or the "
		     "group bits)";
	}

	if (p->acl.n == 0)
		return refuse(c, -EACCES, "pool %s (mode 0%03o) is not %s "
			      "for uid %u%s", p->name, p->mode, what,
			      (unsigned)c->s->uid, rw);
	/*
	 * The rule in the room the message has left, so that acl_decider
	 * rather than the message's end decides where its words stop: cut
	 * there, an entry would read as another's.
	 */
	refuse(c, -EACCES, "pool %s (mode 0%03o, with an access control "
	       "list) is not %s for uid %u%s: ", p->name, p->mode, what,
	       (unsigned)c->s->uid, rw);
	n = strlen(c->msg);
	if (n + 1 < sizeof(c->msg))
		acl_decider(&p->acl, p->uid, p->gid, p->mode, &who,
			    c->msg + n, sizeof(c->msg) - n);
	return -EACCES;
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
		return refuse(c, -ENOENT, "no pool %s", m->name ? m->name : "");
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
		return refuse(c, -ENOENT, "no pool %s", m->name ? m->name : "");
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

/*
 * A descriptor of fd for a reply to pass, its own: taken here, before the
 * request changes anything, so that a daemon out of descriptors refuses
 * the one request that needs one.  peer_send, left to take it, could only
 * drop the connection.  read_only: a new open file description that only
 * allows reading, not a duplicate.
 */
static int
reply_fd(struct call *c, int fd, bool read_only, int *out)
{
	char path[64];

	if (read_only) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		*out = open(path, O_RDONLY | O_CLOEXEC);
	} else {
		*out = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	}
	if (*out >= 0)
		return 0;
	if (errno == EMFILE || errno == ENFILE)
		return refuse(c, -errno, "the daemon is out of descriptors");
	return refuse(c, -errno, read_only ? "cannot reopen pool read-only" :
		      "cannot pass the pool's memory");
}

/*
 * An open refused -EMFILE: which of its two bounds was reached, since the
 * code alone reads as the daemon's descriptors (reply_fd says those in
 * words of their own), and only the first goes away with a close.
 */
static int
refuse_handles(struct call *c)
{
	if (c->s->next_handle == 0)
		return refuse(c, -EMFILE, "this connection has opened %u pool "
			      "handles, as many as there are numbers for: "
			      "connect again", UINT32_MAX);
	return refuse(c, -EMFILE, "this connection has %u pool handles open, "
		      "the most it may: close one first", c->s->nhandles);
}

/* The descriptors of c's reply, closed: the request was refused. */
static void
reply_fds_close(struct call *c)
{
	int i;

	for (i = 0; i < c->fds.n; i++)
		close(c->fds.fd[i]);
	c->fds.n = 0;
}

int
do_open(struct call *c, const Poolmgr__OpenPool *m)
{
	static Poolmgr__OpenReply orep;
	struct heap_stats st;
	struct dpool *p;
	struct handle *h;
	bool share;
	int rc;

	if ((rc = check_name_length(c, m->name)))
		return rc;
	if (!m->name || !(p = dpool_find(m->name)))
		return refuse(c, -ENOENT, "no pool %s", m->name ? m->name : "");
	/*
	 * A read-write handle maps the pool readable too: it needs both
	 * rights, as shm_open(O_RDWR) does, or a write right alone would
	 * read every byte.
	 */
	if (!session_may_access(c->s, p, m->read_only ? 4 : 6))
		return refuse_access(c, p, m->read_only ? 4 : 6);
	/* The share map is for clients that cache, so for writers only. */
	share = m->want_share_map && !m->read_only && p->share_fd >= 0;
	if ((rc = reply_fd(c, p->memfd, m->read_only, &c->fds.fd[0])))
		return rc;
	c->fds.close[0] = true;
	c->fds.n = 1;
	if (share) {
		if ((rc = reply_fd(c, p->share_fd, false, &c->fds.fd[1]))) {
			reply_fds_close(c);
			return rc;
		}
		c->fds.close[1] = true;
		c->fds.n = 2;
	}
	if (!(h = session_open(c->s, p, m->read_only))) {
		int err = errno;

		reply_fds_close(c);
		if (err == ENOMEM)
			return refuse(c, -ENOMEM, "out of memory");
		return refuse_handles(c);
	}
	heap_get_stats(p->heap, &st);
	poolmgr__open_reply__init(&orep);
	orep.handle = h->id;
	orep.max_size = p->size;
	orep.granularity = (uint32_t)st.granularity;
	orep.page_size = (uint32_t)st.page_size;
	orep.read_only = m->read_only;
	orep.quota = handle_quota_share(h);
	orep.limit = p->limit;
	if (share)
		orep.share_map_size = p->share_size;
	c->rep->body_case = POOLMGR__REPLY__BODY_OPEN;
	c->rep->open = &orep;
	return 0;
}

int
do_close(struct call *c, const Poolmgr__ClosePool *m)
{
	int err;
	struct handle *h = get_handle(c, m->handle, false, &err);

	if (!h)
		return err;
	room_kept_closed(c->s, h->id);
	session_close(c->s, h);
	return 0;
}

/*
 * The pool's share map now, as OpenPool sends it: after a restart in place
 * a handle's map is frozen, and its client asks for this one.  Nothing is
 * noted: any handle may ask any time.
 */
int
do_share_map(struct call *c, const Poolmgr__ShareMap *m)
{
	static Poolmgr__ShareMapReply srep;
	struct handle *h;
	int err;

	/* As OpenPool: the map is for clients that cache, writers only. */
	if (!(h = get_handle(c, m->handle, true, &err)))
		return err;
	if (h->pool->share_fd < 0)
		return refuse(c, -ENODEV, "pool %s has no share map",
			      h->pool->name);
	if ((err = reply_fd(c, h->pool->share_fd, false, &c->fds.fd[0])))
		return err;
	c->fds.close[0] = true;
	c->fds.n = 1;
	poolmgr__share_map_reply__init(&srep);
	srep.share_map_size = h->pool->share_size;
	c->rep->body_case = POOLMGR__REPLY__BODY_SHARE_MAP;
	c->rep->share_map = &srep;
	return 0;
}

struct dpool *
get_pool(struct call *c, const Poolmgr__PoolRef *ref, bool write, int *err)
{
	struct dpool *p;
	struct handle *h;

	if (!ref) {
		*err = refuse(c, -EINVAL, "no pool named");
		return NULL;
	}
	if (ref->handle) {
		h = get_handle(c, ref->handle, write, err);
		return h ? h->pool : NULL;
	}
	if ((*err = check_name_length(c, ref->name)))
		return NULL;
	if (!ref->name || !(p = dpool_find(ref->name))) {
		*err = refuse(c, -ENOENT, "no pool %s",
			      ref->name ? ref->name : "");
		return NULL;
	}
	if (!session_may_access(c->s, p, write ? 2 : 4)) {
		*err = refuse_access(c, p, write ? 2 : 4);
		return NULL;
	}
	return p;
}

/*
 * The daemon memory of p's books (PoolStats.books_bytes): metadata (the
 * engine's and the share map's), a record per live block (all in its
 * index) and per struct ref, at the bytes each takes in its chunk, the
 * index's tables, the table of uids' holds on shared blocks, the names'
 * records (as malloc'd) and the evictable ones' links, the persisting
 * uids' table and the pool's own struct.
 * Each is a count kept as it changes: no walk.  What the record chunks
 * hold beyond the records in use (their room not carved or given back,
 * the spare) is the daemon's, shared by every pool: no pool's.  Handles
 * are their sessions'.
 */
static uint64_t
books_bytes(const struct dpool *p, uint64_t metadata)
{
	return metadata + sizeof(*p) +
	       block_index_count(&p->blocks) *
	       records_stride(sizeof(struct block)) +
	       p->nrefs * records_stride(sizeof(struct ref)) +
	       p->blocks.bytes + p->uid_holds.bytes + p->names.bytes +
	       persist_times_bytes(&p->persist_times) +
	       (uint64_t)p->evict.count * sizeof(struct evict_link) +
	       (uint64_t)p->charges_cap * sizeof(*p->charges);
}

/*
 * After wait_settled: no statistic shows work queued before the request
 * under way.  (Work others queued after it may show, if it waited
 * settle_wait_ms for it: a block still being released counts as allocated.)
 */
static void
fill_stats(Poolmgr__PoolStats *ps, struct dpool *p, struct stats_acl *acl)
{
	struct heap_stats st;

	heap_get_stats(p->heap, &st);
	poolmgr__pool_stats__init(ps);
	ps->name = p->name;
	ps->max_size = st.max_size;
	ps->committed_bytes = dpool_committed(p);
	ps->allocated_bytes = st.allocated_bytes;
	ps->requested_bytes = st.requested_bytes;
	ps->free_bytes = st.free_bytes;
	ps->largest_free = st.largest_free;
	ps->live_blocks = st.live_blocks;
	ps->clients = p->nhandles;
	ps->allocs = st.allocs;
	ps->frees = st.frees;
	ps->failed_allocs = dpool_failed_allocs(p);
	ps->invalid_frees = st.invalid_frees + p->invalid_frees;
	ps->cached_bytes = st.cached_bytes;
	ps->metadata_bytes = st.metadata_bytes + dpool_share_resident(p);
	ps->books_bytes = books_bytes(p, ps->metadata_bytes);
	ps->client_cached_bytes = p->client_cached;
	ps->granularity = (uint32_t)st.granularity;
	ps->page_size = (uint32_t)st.page_size;
	ps->mode = p->mode;
	dispatch_fill_acl(ps, p, acl);
	/* The count alone, on every path: do_stats adds the entries. */
	ps->user_quota_entries = p->uquotas.n;
	ps->uid = p->uid;
	ps->gid = p->gid;
	ps->quota = p->quota;
	ps->user_quota = p->user_quota;
	ps->limit = p->limit;
	ps->alloc_waits = room_waits_in(p);
	ps->persistent_blocks = p->persistent_blocks;
	ps->named_blocks = p->names.count;
	ps->evictions = p->evict.evictions;
	ps->evicted_bytes = p->evict.evicted_bytes;
	ps->quota_refusals = p->quota_refusals;
	ps->user_quota_refusals = p->user_quota_refusals;
	ps->released_bytes = st.released_bytes + p->released_before;
	ps->retain_bytes = st.retain_bytes;
	ps->release_steps = p->release_steps;
	ps->retain_steps = p->retain_steps;
	/* The kernel's, not a copy: it moves with the memfd. */
	dpool_numa_get(p->map, &ps->numa_policy, &ps->numa_node);
	/*
	 * The engine counts the pages it handed out, some of which nobody
	 * wrote (a client cache's refill): what the memfd holds bounds it.
	 */
	ps->free_resident_bytes = st.free_resident_bytes < ps->committed_bytes
				  ? st.free_resident_bytes : ps->committed_bytes;
}

static Poolmgr__PoolStats one_stats;
static struct stats_acl one_acl;
static struct stats_uquotas one_uquotas;

int
do_stats(struct call *c, const Poolmgr__PoolRef *m)
{
	struct dpool *p;
	int rc;

	if (!(p = get_pool(c, m, false, &rc)))
		return rc;
	if ((rc = wait_settled(c, p)))
		return rc;
	fill_stats(&one_stats, p, &one_acl);
	/* Here alone: a ListPools page of them all would pass a datagram. */
	dispatch_fill_uquotas(&one_stats, p, &one_uquotas);
	c->rep->body_case = POOLMGR__REPLY__BODY_STATS;
	c->rep->stats = &one_stats;
	return 0;
}

static Poolmgr__ListPoolsReply list_reply;
static Poolmgr__PoolStats list_stats[POOL_MAX_POOLS];
static struct stats_acl list_acls[POOL_MAX_POOLS];
static Poolmgr__PoolStats *list_ptrs[POOL_MAX_POOLS];
static struct dpool *list_pools[POOL_MAX_POOLS];

static int
cmp_pool_names(const void *a, const void *b)
{
	const struct dpool *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/*
 * The pools the caller may read whose names sort after after (NULL or
 * "": every one), into list_pools in name order: how many.  The registry
 * keeps them in the order they were made, so a page's place is a name.
 */
static size_t
list_candidates(const struct session *s, const char *after)
{
	struct dpool *p;
	size_t n = 0;

	for (p = dpool_first(); p && n < POOL_MAX_POOLS; p = dpool_next(p))
		if (session_may_access(s, p, 4) &&
		    (!after || strcmp(p->name, after) > 0))
			list_pools[n++] = p;
	qsort(list_pools, n, sizeof(*list_pools), cmp_pool_names);
	return n;
}

/*
 * A page is at most LIST_POOLS_PAGE entries (when asked for), and every
 * reply, paged or not (an older client's), is cut where the datagram is
 * full rather than refused with -EMSGSIZE: 256 pools of large counters
 * do not fit one.  unlisted counts the rest, for the client to ask again
 * from the last name.  Only the pools this reply may list wait to settle.
 */
int
do_list(struct call *c)
{
	const Poolmgr__ListPools *m = c->req->list;
	const char *after = m && m->after && m->after[0] ? m->after : NULL;
	size_t i, cand, n = 0, bytes = 0;
	size_t most = m && m->paged ? LIST_POOLS_PAGE : POOL_MAX_POOLS;
	int rc;

	cand = list_candidates(c->s, after);
	/* Only those this reply may list: the rest settle for their page. */
	for (i = 0; i < cand && i < most; i++)
		if ((rc = wait_settled(c, list_pools[i])))
			return rc;
	for (i = 0; i < cand && n < most; i++) {
		fill_stats(&list_stats[n], list_pools[i], &list_acls[n]);
		bytes += poolmgr__pool_stats__get_packed_size(&list_stats[n]) +
			 LIST_ENTRY_FRAME;
		if (bytes > LIST_REPLY_MAX)
			break;
		list_ptrs[n] = &list_stats[n];
		n++;
	}
	poolmgr__list_pools_reply__init(&list_reply);
	list_reply.n_pools = n;
	list_reply.pools = list_ptrs;
	list_reply.unlisted = (uint32_t)(cand - n);
	c->rep->body_case = POOLMGR__REPLY__BODY_LIST;
	c->rep->list = &list_reply;
	return 0;
}

/*
 * Settled first (stage 0), then trimmed in steps while the client waits
 * (stage 1), to the end: nothing is left to do at once in the reply's
 * turn.  The reply counts what trims of the pool gave back meanwhile
 * (this one, and any it joined), not the releases of others' frees.
 */
int
do_trim(struct call *c, const Poolmgr__Trim *m)
{
	static Poolmgr__TrimReply tr;
	struct dpool *p;
	uint64_t now;
	int rc;

	if (!(p = get_pool(c, m->pool, true, &rc)))
		return rc;
	if ((rc = wait_settled(c, p)))
		return rc;
	if (c->stage == 0) {
		c->stage = 1;
		c->note = p->trimmed_bytes;
		if (dpool_trim_begin(p))
			return HELD;
	} else if (p->trimming) {
		return HELD;
	}
	now = p->trimmed_bytes;
	poolmgr__trim_reply__init(&tr);
	/* (A pool destroyed and made again meanwhile starts from 0.) */
	tr.released_bytes = now > c->note ? now - c->note : 0;
	c->rep->body_case = POOLMGR__REPLY__BODY_TRIM;
	c->rep->trim = &tr;
	return 0;
}

/*
 * The checks that are not an admin's, of pools whose check is costly,
 * take at most a tenth of the daemon's time per uid: each walks every
 * block on its only thread (0.6 s for a million), and a writer sent 64 in
 * one read batch, served one after another while nobody else was (34 s),
 * as often as it liked.  So such a check within nine times the length of
 * its uid's last costly one after its end is refused (-EAGAIN), or of an
 * earlier one whose window ends later (check_done: a check that ran as
 * cheap and was found costly shortens no window).  Costly:
 * CHECK_FREE_BLOCKS blocks or more, or a last check of the pool that took
 * CHECK_FREE_NS or more (a check's cost grows with the blocks' sizes too:
 * 4000 blocks of 1 GiB took 20 ms).  A cheap pool's check is never
 * refused.
 *
 * The window is each uid's: one shared by all let one writer's checks
 * keep every other user's refused.  So n uids' checks may take n tenths
 * of the daemon's time together.  A window is kept only while it is open
 * (check_windows_prune, at the next costly check), one per uid, also
 * after the uid's connections close, or closing one would let it check
 * again at once.  However many uids check, few are open at once: the
 * checks run one after another, so an open window's check took more than
 * a ninth of all those that ended after it; of checks of one length, at
 * most nine windows are open, and some 200 if they range from 10 us to
 * an hour.  A window there is no memory for is kept in checks_free_at,
 * which every uid's checks wait out, as all did once.
 */
#define CHECK_FREE_BLOCKS 4096
#define CHECK_FREE_NS	  1000000u

struct check_window {
	LIST_ENTRY(check_window) entry;
	uid_t uid;
	uint64_t free_at;	/* dispatch_now_ns */
};

static LIST_HEAD(, check_window) check_windows =
    LIST_HEAD_INITIALIZER(check_windows);
static uint64_t checks_free_at;	/* the windows without memory of their own */

static bool
check_costly(const struct dpool *p)
{
	return block_index_count(&p->blocks) >= CHECK_FREE_BLOCKS ||
	       p->check_ns >= CHECK_FREE_NS;
}

/* Drop the windows closed by now; uid's open one, if it has one. */
static struct check_window *
check_windows_prune(uid_t uid, uint64_t now)
{
	struct check_window *w, *next, *found = NULL;

	for (w = LIST_FIRST(&check_windows); w; w = next) {
		next = LIST_NEXT(w, entry);
		if (w->free_at <= now) {
			LIST_REMOVE(w, entry);
			free(w);
		} else if (w->uid == uid) {
			found = w;
		}
	}
	return found;
}

static int
check_paced(struct call *c, const struct dpool *p)
{
	uint64_t now = dispatch_now_ns(), free_at = checks_free_at;
	struct check_window *w;

	if (may_admin(c->s) || !check_costly(p))
		return 0;
	if ((w = check_windows_prune(c->s->uid, now)) && w->free_at > free_at)
		free_at = w->free_at;
	if (now >= free_at)
		return 0;
	return refuse(c, -EAGAIN, "pool %s: checks of large pools take at "
		      "most a tenth of the daemon's time per user: again in "
		      "%llu ms", p->name,
		      (unsigned long long)((free_at - now) / 1000000 + 1));
}

static void
check_done(struct call *c, struct dpool *p, uint64_t began)
{
	uint64_t now = dispatch_now_ns(), free_at;
	struct check_window *w;

	p->check_ns = now - began;
	if (may_admin(c->s) || !check_costly(p))
		return;
	free_at = now + 9 * (now - began);
	if (!(w = check_windows_prune(c->s->uid, now)) &&
	    (w = malloc(sizeof(*w)))) {
		w->uid = c->s->uid;
		w->free_at = 0;
		LIST_INSERT_HEAD(&check_windows, w, entry);
	}
	/*
	 * The later end: a check that ran as cheap (under CHECK_FREE_BLOCKS,
	 * its last one quick) and was found costly was not paced, and its
	 * uid may have a longer window open.
	 */
	if (w && free_at > w->free_at)
		w->free_at = free_at;
	else if (!w && free_at > checks_free_at)
		checks_free_at = free_at;
}

int
do_check(struct call *c, const Poolmgr__Check *m)
{
	static Poolmgr__CheckReply cr;
	static char problem[256];
	struct dpool *p;
	uint64_t began;
	int rc;

	/*
	 * Write permission, as for Trim: the check walks every block on the
	 * daemon's only thread, so it is not for every reader to ask for,
	 * and a writer's is paced (check_paced).
	 */
	if (!(p = get_pool(c, m->pool, true, &rc)))
		return rc;
	if ((rc = wait_settled(c, p)))
		return rc;
	if ((rc = check_paced(c, p)))
		return rc;
	began = dispatch_now_ns();
	if ((rc = heap_check(p->heap, problem, sizeof(problem))) == -ENOMEM) {
		check_done(c, p, began);
		return refuse(c, rc, "out of memory for the check");
	}
	poolmgr__check_reply__init(&cr);
	cr.ok = rc == 0 && dpool_check(p, problem, sizeof(problem)) == 0 &&
		dispatch_wait_check(p, problem, sizeof(problem)) == 0 &&
		dispatch_room_check(p, problem, sizeof(problem)) == 0;
	check_done(c, p, began);
	cr.problem = problem;
	if (!cr.ok)
		log_msg(LOG_PRI_ERR, "pool %s: check failed: %s", p->name,
			problem);
	c->rep->body_case = POOLMGR__REPLY__BODY_CHECK;
	c->rep->check = &cr;
	return 0;
}

static Poolmgr__ClientInfo client_info[MAX_LISTED_CLIENTS];
static Poolmgr__ClientInfo *client_ptrs[MAX_LISTED_CLIENTS];
static Poolmgr__ListClientsReply clients_reply;

static void
client_entry(Poolmgr__ClientInfo *ci, struct dpool *p, const struct handle *h)
{
	poolmgr__client_info__init(ci);
	ci->pid = (uint32_t)h->session->pid;
	ci->uid = h->session->uid;
	ci->gid = h->session->gid;
	ci->name = h->session->name;
	ci->pool = p->name;
	ci->handle = h->id;
	ci->read_only = h->read_only;
	ci->blocks = h->nrefs;
	ci->bytes = h->bytes;
	ci->cached_bytes = handle_cached(h);
}

/*
 * List p's handles from entry *n on, while the reply has room: at most
 * MAX_LISTED_CLIENTS entries, and no more than fit one datagram (400 with
 * long names and large counters would not; *bytes counts each entry's
 * bytes, its tag and its length).  False once it is full.
 */
static bool
list_handles(struct dpool *p, size_t *n, size_t *bytes)
{
	const struct handle *h;

	LIST_FOREACH(h, &p->handles, in_pool) {
		Poolmgr__ClientInfo *ci = &client_info[*n];

		if (*n == MAX_LISTED_CLIENTS)
			return false;
		client_entry(ci, p, h);
		*bytes += poolmgr__client_info__get_packed_size(ci) + 4;
		if (*bytes > CLIENTS_REPLY_MAX)
			return false;
		client_ptrs[(*n)++] = ci;
	}
	return true;
}

/*
 * The reply is cut where it is full, rather than refused with -EMSGSIZE:
 * a daemon with thousands of handles still answers, and says how many it
 * left out.
 */
int
do_clients(struct call *c, const Poolmgr__ListClients *m)
{
	const char *want = m->pool && m->pool[0] ? m->pool : NULL;
	struct dpool *p;
	size_t n = 0, bytes = 0;
	uint64_t open = 0;
	bool room = true;
	int rc;

	if ((rc = check_name_length(c, want)))
		return rc;
	if (want && !(p = dpool_find(want)))
		return refuse(c, -ENOENT, "no pool %s", want);
	if (want && !session_may_access(c->s, p, 4))
		return refuse_access(c, p, 4);
	for (p = dpool_first(); p; p = dpool_next(p)) {
		if ((want && strcmp(p->name, want) != 0) ||
		    !session_may_access(c->s, p, 4))
			continue;
		open += p->nhandles;
		if (room)
			room = list_handles(p, &n, &bytes);
	}
	poolmgr__list_clients_reply__init(&clients_reply);
	clients_reply.n_clients = n;
	clients_reply.clients = client_ptrs;
	clients_reply.unlisted = (uint32_t)(open - n);
	c->rep->body_case = POOLMGR__REPLY__BODY_CLIENTS;
	c->rep->clients = &clients_reply;
	return 0;
}

static Poolmgr__PersistedBy persisted_by[MAX_LISTED_PERSISTERS];
static Poolmgr__PersistedBy *persisted_ptrs[MAX_LISTED_PERSISTERS];
static Poolmgr__ListPersistedReply persisted_reply;

/* The most bytes first, then by uid: the order ListPersisted lists in. */
static int
cmp_charges(const void *a, const void *b)
{
	const struct persist_charge *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return (x->uid > y->uid) - (x->uid < y->uid);
}

/*
 * The pool keeps its persisting uids' counts as blocks are persisted and
 * freed (pool_hold.c's charges), so this sorts a copy of them, one per uid,
 * and walks no block.
 */
int
do_persisted(struct call *c, const Poolmgr__ListPersisted *m)
{
	struct persist_charge *sorted = NULL;
	struct dpool *p;
	size_t i, n;
	int rc;

	if (!(p = get_pool(c, m->pool, false, &rc)))
		return rc;
	if ((rc = wait_settled(c, p)))
		return rc;
	if (p->ncharges && !(sorted = calloc(p->ncharges, sizeof(*sorted))))
		return refuse(c, -ENOMEM, "out of memory");
	if (p->ncharges) {
		memcpy(sorted, p->charges, p->ncharges * sizeof(*sorted));
		qsort(sorted, p->ncharges, sizeof(*sorted), cmp_charges);
	}
	n = p->ncharges < MAX_LISTED_PERSISTERS ? p->ncharges :
						  MAX_LISTED_PERSISTERS;
	for (i = 0; i < n; i++) {
		poolmgr__persisted_by__init(&persisted_by[i]);
		persisted_by[i].uid = sorted[i].uid;
		persisted_by[i].blocks = sorted[i].blocks;
		persisted_by[i].bytes = sorted[i].bytes;
		persisted_ptrs[i] = &persisted_by[i];
	}
	free(sorted);
	poolmgr__list_persisted_reply__init(&persisted_reply);
	persisted_reply.n_uids = n;
	persisted_reply.uids = persisted_ptrs;
	persisted_reply.unlisted = (uint32_t)(p->ncharges - n);
	c->rep->body_case = POOLMGR__REPLY__BODY_PERSISTED;
	c->rep->persisted = &persisted_reply;
	return 0;
}
