/*
 * pool_check.c - a pool's books against what they sum up (dpool_check,
 * `poolctl check`, after the engine's own heap_check).
 *
 * The counts that the statistics and the quotas read without a walk are
 * recounted here from the blocks: the open handles' cached bytes, the
 * index of blocks, each block's holds and share bit, its names, the
 * references and persist charges per uid, what each uid holds (each
 * block once) and its count of holds on each shared block, its closed
 * handles still dropping references, and the record chunks.  A walk
 * over every block: meant for a check, never for a request's path.  It
 * changes nothing, and reads no page of the share map but blocks' own
 * bits (a read of a page nobody wrote would make the kernel allocate it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "pool.h"
#include "pool_internal.h"
#include "pool_names.h"
#include "session.h"

/* Does any holder of b have its handle open? */
static bool
held_open(struct block *b)
{
	struct hold *hd;

	BLOCK_FOREACH_HOLD(hd, b)
		if (hold_handle(hd)->session)
			return true;
	return false;
}

/*
 * Are b's holds as struct block says: its own held exactly while anyone
 * holds it, nrefs in all, each on a handle of p and marked inline or not
 * as it is?  NULL, or what is wrong.
 */
static const char *
holds_wrong(struct dpool *p, struct block *b)
{
	struct hold *hd;
	uint32_t n = 0;

	if ((b->first.handle_bits != 0) != (b->nrefs != 0))
		return b->nrefs ? "its own hold is empty" :
				  "its own hold is held";
	BLOCK_FOREACH_HOLD(hd, b) {
		if (hold_handle(hd) == NULL || hold_handle(hd)->pool != p)
			return "a hold of no handle of the pool";
		if (((hd->handle_bits & HOLD_INLINE) != 0) != (hd == &b->first))
			return "a hold marked inline where it is not";
		if (hold_block(hd) != b)
			return "a hold of another block";
		n++;
	}
	return n != b->nrefs ? "holds not as many as counted" : NULL;
}

/*
 * Is each uid charged for the persistent blocks it persisted, their number
 * and bytes?  The charges change with them (persist, unpersist, a resize),
 * so only a recount from the blocks can tell that they kept step: the
 * quota reads the bytes.  0, or -EFAULT with the problem; 0 also if there
 * is no memory to count in.
 */
static int
charges_wrong(struct dpool *p, char *problem, size_t len)
{
	struct block_index_iter it;
	struct persist_charge *c;
	struct block *b;
	unsigned i;
	int rc = 0;

	if (!(c = calloc(p->ncharges ? p->ncharges : 1, sizeof(*c))))
		return 0;
	BLOCK_INDEX_FOREACH(b, &p->blocks, &it) {
		if (!block_persistent(b))
			continue;
		i = charge_index(p, b->persister);
		if (i == p->ncharges || p->charges[i].uid != b->persister) {
			snprintf(problem, len, "pool %s: block 0x%llx "
				 "persisted by uid %u, who is charged nothing",
				 p->name,
				 (unsigned long long)b->off,
				 (unsigned)b->persister);
			rc = -EFAULT;
			goto out;
		}
		c[i].blocks++;
		c[i].bytes += b->size;
	}
	for (i = 0; i < p->ncharges; i++) {
		if (c[i].blocks == p->charges[i].blocks &&
		    c[i].bytes == p->charges[i].bytes)
			continue;
		snprintf(problem, len, "pool %s: uid %u persisted %llu block%s "
			 "of %llu bytes, charged for %llu of %llu", p->name,
			 (unsigned)p->charges[i].uid,
			 (unsigned long long)c[i].blocks,
			 log_plural(c[i].blocks),
			 (unsigned long long)c[i].bytes,
			 (unsigned long long)p->charges[i].blocks,
			 (unsigned long long)p->charges[i].bytes);
		rc = -EFAULT;
		break;
	}
out:
	free(c);
	return rc;
}

/*
 * Count b's holds of each uid into its account (check_holds), and b's
 * bytes once into each of those uids' check_bytes if it is not
 * persistent: how many uids hold it.
 */
static uint64_t
recount_uids(struct block *b)
{
	uint64_t stamp = user_stamp_next(), uids = 0;
	struct user_account *u;
	struct hold *hd;

	BLOCK_FOREACH_HOLD(hd, b) {
		u = hold_handle(hd)->user;
		if (u->stamp != stamp) {
			u->stamp = stamp;
			u->check_holds = 0;
			uids++;
			if (!block_persistent(b))
				u->check_bytes += b->size;
		}
		u->check_holds++;
	}
	return uids;
}

/*
 * Does p->uid_holds count each uid's holds on b as they are: an entry of
 * each uid holding b if it has more than one holder, none if not?
 */
static int
uid_holds_wrong(struct dpool *p, struct block *b, char *problem, size_t len)
{
	struct user_account *u;
	struct hold *hd;
	uint32_t counted;

	BLOCK_FOREACH_HOLD(hd, b) {
		u = hold_handle(hd)->user;
		counted = uid_holds_count(&p->uid_holds, b, (uint32_t)u->uid);
		if (counted == (b->nrefs > 1 ? u->check_holds : 0))
			continue;
		snprintf(problem, len, "pool %s: block 0x%llx of %u holder%s: "
			 "uid %u holds it %u time%s, counted %u", p->name,
			 (unsigned long long)b->off, b->nrefs,
			 log_plural(b->nrefs), (unsigned)u->uid,
			 u->check_holds, log_plural(u->check_holds), counted);
		return -EFAULT;
	}
	return 0;
}

/*
 * Is each uid's account charged what its handles hold, open or closing,
 * each block once, and the growth of its open handles' blocks being
 * moved?  The user quota reads it; holds come and go, blocks grow and
 * become persistent or cease to, a closed handle's references go a step
 * at a time: only a recount from the blocks can tell that it kept step.
 * And are the counts of each uid's holds on shared blocks right, and no
 * more of them than of such uids, in a table as uid_holds.c keeps it?
 */
static int
uid_charges_wrong(struct dpool *p, char *problem, size_t len)
{
	struct block_index_iter it;
	struct user_account *u;
	struct handle *h;
	struct hold *hd;
	struct block *b;
	uint64_t entries = 0, uids;
	char why[200];

	if (uid_holds_check(&p->uid_holds, why, sizeof(why))) {
		snprintf(problem, len, "pool %s: %s", p->name, why);
		return -EFAULT;
	}
	USER_ACCOUNT_FOREACH(u, p)
		u->check_bytes = 0;
	LIST_FOREACH(h, &p->handles, in_pool)
		h->user->check_bytes += h->moving;
	BLOCK_INDEX_FOREACH(b, &p->blocks, &it) {
		BLOCK_FOREACH_HOLD(hd, b)
			if (!hold_handle(hd)->user) {
				snprintf(problem, len, "pool %s: block 0x%llx "
					 "is held by a handle of no uid's "
					 "account", p->name,
					 (unsigned long long)b->off);
				return -EFAULT;
			}
		uids = recount_uids(b);
		if (b->nrefs > 1)
			entries += uids;
		if (uid_holds_wrong(p, b, problem, len))
			return -EFAULT;
	}
	if (entries != p->uid_holds.count) {
		snprintf(problem, len, "pool %s: %llu uid%s hold%s shared "
			 "blocks, counted %llu", p->name,
			 (unsigned long long)entries, log_plural(entries),
			 entries == 1 ? "s" : "",
			 (unsigned long long)p->uid_holds.count);
		return -EFAULT;
	}
	USER_ACCOUNT_FOREACH(u, p)
		if (u->bytes != u->check_bytes) {
			snprintf(problem, len, "pool %s: uid %u holds %llu "
				 "bytes (each block once), its account says "
				 "%llu", p->name, (unsigned)u->uid,
				 (unsigned long long)u->check_bytes,
				 (unsigned long long)u->bytes);
			return -EFAULT;
		}
	return 0;
}

/*
 * Is each closed handle still dropping references counted where it
 * should be: on the account of a uid of the pool, by that uid's count of
 * closing handles and the pool's?  An account counting one too many
 * would never go, and a refusal of its uid's user quota would wait for
 * drops that never come; one too few would go with references left.
 */
static int
closing_wrong(struct dpool *p, char *problem, size_t len)
{
	uint64_t stamp = user_stamp_next();
	const void *at = NULL;
	struct user_account *u;
	struct handle *h;
	uint32_t n = 0;

	USER_ACCOUNT_FOREACH(u, p) {
		u->stamp = stamp;
		u->check_closing = 0;
	}
	while ((h = dpool_closing_next(p, &at))) {
		if (h->session || !h->nrefs || !h->user ||
		    h->user->stamp != stamp) {
			snprintf(problem, len, "pool %s: a closed handle "
				 "dropping %llu reference%s counts on %s",
				 p->name, (unsigned long long)h->nrefs,
				 log_plural(h->nrefs), h->session ?
				 "a session still" : "no uid's account of "
				 "the pool");
			return -EFAULT;
		}
		h->user->check_closing++;
		n++;
	}
	if (n != p->closing) {
		snprintf(problem, len, "pool %s: %u closed handle%s dropping "
			 "references, the books say %u", p->name, n,
			 log_plural(n), p->closing);
		return -EFAULT;
	}
	USER_ACCOUNT_FOREACH(u, p)
		if (u->nclosing != u->check_closing) {
			snprintf(problem, len, "pool %s: uid %u has %u closed "
				 "handle%s dropping references, its account "
				 "counts %u", p->name, (unsigned)u->uid,
				 u->check_closing,
				 log_plural(u->check_closing), u->nclosing);
			return -EFAULT;
		}
	return 0;
}

/*
 * Are the counts the statistics read without a walk (nrefs, the charges'
 * blocks) what the blocks say?  0, or -EFAULT with the problem.
 */
static int
counts_wrong(struct dpool *p, char *problem, size_t len)
{
	struct block_index_iter it;
	struct block *b;
	uint64_t refs = 0, charged = 0;

	BLOCK_INDEX_FOREACH(b, &p->blocks, &it)
		refs += b->nrefs ? b->nrefs - 1 : 0;
	for (unsigned i = 0; i < p->ncharges; i++)
		charged += p->charges[i].blocks;
	if (refs == p->nrefs && charged == p->persistent_blocks)
		return charges_wrong(p, problem, len);
	snprintf(problem, len, "pool %s: %llu ref%s and %llu persistent "
		 "block%s charged, the books say %llu and %llu", p->name,
		 (unsigned long long)refs, log_plural(refs),
		 (unsigned long long)charged, log_plural(charged),
		 (unsigned long long)p->nrefs,
		 (unsigned long long)p->persistent_blocks);
	return -EFAULT;
}

int
dpool_check(struct dpool *p, char *problem, size_t len)
{
	struct block_index_stats st;
	struct block_index_iter it;
	const struct handle *h;
	struct block *b;
	uint64_t cached = 0, named = 0, since;
	uint32_t n = 0;
	char why[192];

	if (acl_check(&p->acl, why, sizeof(why)) != 0 ||
	    uquota_check(&p->uquotas, why, sizeof(why)) != 0) {
		snprintf(problem, len, "pool %s: %s", p->name, why);
		return -EFAULT;
	}
	LIST_FOREACH(h, &p->handles, in_pool) {
		cached += handle_cached(h);
		n++;
	}
	if (n != p->nhandles || cached != p->client_cached) {
		snprintf(problem, len, "pool %s: %u open handle%s with %llu "
			 "bytes cached, the books say %u with %llu", p->name,
			 n, log_plural(n), (unsigned long long)cached,
			 p->nhandles,
			 (unsigned long long)p->client_cached);
		return -EFAULT;
	}
	if (block_index_check(&p->blocks, &st, why, sizeof(why)) != 0) {
		snprintf(problem, len, "pool %s: its index of blocks: %s",
			 p->name, why);
		return -EFAULT;
	}
	BLOCK_INDEX_FOREACH(b, &p->blocks, &it) {
		const char *wrong = holds_wrong(p, b);

		if (wrong) {
			snprintf(problem, len, "pool %s: block 0x%llx of %u "
				 "holder%s: %s", p->name,
				 (unsigned long long)b->off, b->nrefs,
				 log_plural(b->nrefs), wrong);
			return -EFAULT;
		}
		if (share_bit_wrong(p, b)) {
			snprintf(problem, len, "pool %s: block 0x%llx of %u "
				 "holder%s%s: its share bit is %s, the map's "
				 "%s", p->name, (unsigned long long)b->off,
				 b->nrefs, log_plural(b->nrefs),
				 block_persistent(b) ?
				 ", persistent" : "", b->shared ? "set" :
				 "clear", share_bit_get(p, b->off) ? "set" :
				 "clear");
			return -EFAULT;
		}
		/* Its first hold or last release would find no name. */
		if (b->evictable && !b->named) {
			snprintf(problem, len, "pool %s: block 0x%llx is "
				 "marked evictable, but no name holds it",
				 p->name, (unsigned long long)b->off);
			return -EFAULT;
		}
		if (b->let_go && (block_persistent(b) || held_open(b))) {
			snprintf(problem, len, "pool %s: block 0x%llx taken "
				 "for let go, but it is %s", p->name,
				 (unsigned long long)b->off,
				 block_persistent(b) ? "persistent" :
				 "held through an open handle");
			return -EFAULT;
		}
		if (block_persistent(b) && !persist_times_find(
		    &p->persist_times, b->off, &since)) {
			snprintf(problem, len, "pool %s: persistent block "
				 "0x%llx has no persist time", p->name,
				 (unsigned long long)b->off);
			return -EFAULT;
		}
		named += b->named;
	}
	/* Each persistent block has one: any more are of no block. */
	if (p->persist_times.count != p->persistent_blocks) {
		snprintf(problem, len, "pool %s: %llu persist times for %llu "
			 "persistent blocks", p->name,
			 (unsigned long long)p->persist_times.count,
			 (unsigned long long)p->persistent_blocks);
		return -EFAULT;
	}
	if (dpool_names_check(p, named, problem, len) ||
	    counts_wrong(p, problem, len) ||
	    closing_wrong(p, problem, len) ||
	    uid_charges_wrong(p, problem, len) ||
	    records_check(&block_records, problem, len) ||
	    records_check(&ref_records, problem, len) ||
	    records_check(&persist_time_records, problem, len))
		return -EFAULT;
	return session_check_pool(p, problem, len);
}
