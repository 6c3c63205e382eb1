/*
 * server_pools.c - the configuration file's pools: made at a start or a
 * reload where they do not exist yet, given the file's settings where
 * they do, and what the file no longer has said.
 *
 * Apart from server.c: the engine's pools, their NUMA policies, huge
 * pages and journal records are none of the event loop's business; it
 * calls apply_config with the file it loaded, and forgotten_pools at a
 * reload.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "hugepage.h"
#include "journal.h"
#include "log.h"
#include "pool.h"
#include "pool_numa.h"
#include "server_internal.h"

_Static_assert(CONFIG_MAX_POOL_SIZE == POOL_MAX_SIZE,
	       "the file refuses the pools the daemon would");
_Static_assert(CONFIG_RETAIN_NONE == DPOOL_RETAIN_NONE,
	       "a pool section's retain = 0 must reach the engine as none");

/* A pool section's NUMA policy, as DPOOL_NUMA_*. */
static uint32_t
config_numa_policy(const struct config_pool *cp)
{
	if (!cp->has_numa_node)
		return DPOOL_NUMA_NONE;
	return cp->numa_policy ? cp->numa_policy : DPOOL_NUMA_PREFERRED;
}

/* A NUMA policy for the log: "default", or "preferred:0". */
static const char *
numa_text(uint32_t policy, uint32_t node, char *buf, size_t len)
{
	if (policy == DPOOL_NUMA_NONE)
		return dpool_numa_name(policy);
	snprintf(buf, len, "%s:%u", dpool_numa_name(policy), node);
	return buf;
}

/* ", NUMA preferred:0 -> bind:0" after what, if the file's differs. */
static void
numa_kept(const struct dpool *p, const struct config_pool *cp, char *what,
	  size_t len)
{
	uint32_t policy, node, want = config_numa_policy(cp);
	uint32_t want_node = want != DPOOL_NUMA_NONE ? cp->numa_node : 0;
	char a[32], b[32];

	dpool_numa_get(p->map, &policy, &node);
	if (policy == want && node == want_node)
		return;
	snprintf(what + strlen(what), len - strlen(what), ", NUMA %s -> %s",
		 numa_text(policy, node, a, sizeof(a)),
		 numa_text(want, want_node, b, sizeof(b)));
}

/*
 * ", pages of 2097152, NUMA bind:0" for a pool made on huge pages or
 * with a policy (pp's), as CreatePool's line says them: the file's line
 * said neither, so its log did not tell what the pool was made with.
 */
static const char *
placed_text(const struct dpool *p, const struct dpool_params *pp, char *buf,
	    size_t len)
{
	char numa[32];
	int n = 0;

	buf[0] = '\0';
	if (p->huge)
		n = snprintf(buf, len, ", pages of %llu",
			     (unsigned long long)p->page_size);
	if (pp->numa_policy != DPOOL_NUMA_NONE && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", NUMA %s",
			 numa_text(pp->numa_policy, pp->numa_node, numa,
				   sizeof(numa)));
	return buf;
}

/*
 * The size, granularity and NUMA policy of a live pool cannot change (its
 * memfd is sealed, the engine's granularity fixed, the pages already
 * placed): say so if the file changed them, so that an operator does not
 * think them applied.
 */
static void
warn_kept(const struct dpool *p, const struct config_pool *cp)
{
	uint64_t page = hugepage_valid(cp->page_size);
	uint64_t size = (cp->size + page - 1) / page * page;
	uint32_t g = cp->granularity ? cp->granularity : 16;
	char what[240] = "";

	if (size != p->size)
		snprintf(what, sizeof(what), ", size %llu -> %llu",
			 (unsigned long long)p->size, (unsigned long long)size);
	if (g != 1u << p->granule_shift)
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
			 ", granularity %u -> %u", 1u << p->granule_shift, g);
	if (page != p->page_size)
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
			 ", page size %llu -> %llu",
			 (unsigned long long)p->page_size,
			 (unsigned long long)page);
	numa_kept(p, cp, what, sizeof(what));
	if (*what)
		log_warnx("pool %s: %s in the file, not applied: a live pool "
			  "keeps its size, granularity, page size and NUMA "
			  "policy (destroy it to have it made anew)", p->name,
			  what + 2);
}

/*
 * Create the pools of the configuration that do not exist yet, and give
 * those that do the file's owner, group, mode, ACL, quotas, limit and retain:
 * the file describes the pool, whether the file or poolctl created it, as
 * a restart would make it.
 */
void
apply_config(const struct config *cf)
{
	char changed[1600 + 2 * UQUOTA_TEXT_MAX], bounds[DPOOL_BOUNDS_TEXT_MAX];
	char acl[ACL_TEXT_MAX + 8], placed[80];
	unsigned i;

	for (i = 0; i < cf->npools; i++) {
		const struct config_pool *cp = &cf->pools[i];
		struct dpool_params pp = {
			.size = cp->size, .granularity = cp->granularity,
			.page_size = cp->page_size, .uid = cp->uid, .gid = cp->gid, .mode = cp->mode,
			.acl = cp->acl,
			.quota = cp->quota, .user_quota = cp->user_quota,
			.uquotas = cp->uquotas,
			.limit = cp->limit,
			.retain = cp->retain, .numa_policy = config_numa_policy(cp),
			.numa_node = cp->numa_node,
		};
		uint64_t page = hugepage_valid(cp->page_size);
		char knob[128];
		struct dpool *p;
		int rc;

		if ((p = dpool_find(cp->name))) {
			uint64_t limit = p->limit, user_quota = p->user_quota;
			struct acl acl_was = p->acl;
			struct uquota uq_was = p->uquotas;

			warn_kept(p, cp);
			if (!dpool_limit_valid(pp.limit, p->size,
					       1ull << p->granule_shift)) {
				log_warnx("pool %s: limit %llu is above its "
					  "size or below a granule: kept at "
					  "%llu", p->name,
					  (unsigned long long)pp.limit,
					  (unsigned long long)limit);
				pp.limit = limit;
			}
			dpool_apply_settings(p, &pp, changed, sizeof(changed));
			if (*changed) {
				journal_pool_set(p, p->limit != limit ||
						 p->user_quota != user_quota,
						 !acl_equal(&p->acl,
							    &acl_was),
						 !uquota_equal(&p->uquotas,
							       &uq_was));
				if (p->limit != limit)
					dpool_evict_to_limit(p, changed,
							     sizeof(changed));
				log_info("pool %s: %s", p->name, changed);
			}
			continue;
		}
		/* Size and granularity were checked with the file. */
		rc = dpool_create(cp->name, &pp, &p);
		if (rc == -ENOMEM && hugepage_is_huge(page))
			log_warnx("pool %s: cannot create: not enough free huge "
				  "pages to reserve (%llu free; %s)", cp->name,
				  (unsigned long long)hugepage_available(page),
				  hugepage_knob(page, knob, sizeof(knob)));
		else if (rc == -ENODEV)
			log_warnx("pool %s: cannot create: NUMA node %u does "
				  "not exist, has no memory or is outside the "
				  "daemon's cpuset", cp->name, cp->numa_node);
		else if (rc == -EOPNOTSUPP)
			log_warnx("pool %s: cannot create: no NUMA policies "
				  "(the kernel has none, or a system-call "
				  "filter refuses mbind)", cp->name);
		else if (rc)
			log_warnx("pool %s: cannot create: %s", cp->name,
				  strerror(-rc));
		else
			log_info("pool %s: %llu bytes, mode %04o, owner "
				 "%u:%u%s%s%s", p->name,
				 (unsigned long long)p->size, p->mode,
				 (unsigned)p->uid, (unsigned)p->gid,
				 dpool_acl_made_text(p, acl, sizeof(acl)),
				 placed_text(p, &pp, placed, sizeof(placed)),
				 dpool_bounds_text(p, bounds, sizeof(bounds)));
	}
}

/* Live pools the old file had and the new one has not: they stay. */
void
forgotten_pools(const struct config *old, const struct config *cf)
{
	unsigned i, j;

	for (i = 0; i < old->npools; i++) {
		for (j = 0; j < cf->npools; j++)
			if (strcmp(old->pools[i].name, cf->pools[j].name) == 0)
				break;
		if (j == cf->npools && dpool_find(old->pools[i].name))
			log_info("pool %s: no longer in the file; it lives on "
				 "until destroyed (poolctl destroy)",
				 old->pools[i].name);
	}
}
