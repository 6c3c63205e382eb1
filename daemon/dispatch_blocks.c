/*
 * dispatch_blocks.c - ListBlocks: a pool's live blocks in address order, a
 * page at a time, with what the daemon knows of each: its holders, whether
 * a name holds it, whose quota it counts in.  What an operator asks when a
 * pool fills and nobody knows with what: `poolctl blocks POOL --pid N`.
 *
 * The engine finds the blocks (heap_next_block walks its extents from the
 * offset asked); the pool's block index gives each one's record.  A pool
 * may hold ten million blocks, a filter may keep few of them and a block
 * may have thousands of holders, so a reply looks at no more than
 * BLOCKS_LOOKS extents and holders together (one block's holders are
 * always looked at to their end: at most POOL_MAX_HOLDERS) and lists at
 * most MAX_LISTED_BLOCKS; it says where to go on.  Of 10^6 blocks, a look
 * at each costs a lookup in the block index, a cache miss or two: with
 * 256 looks (128 blocks and their holders) a page that keeps none took
 * 53 us a round trip, a Stats 24 (bench_blocks), and held the other
 * clients back no longer than a page of 128 blocks listed does.  Each
 * request is one short turn of the loop however big the pool; the
 * listing as a whole is as long as the pool's blocks.
 *
 * The walk holds nothing between requests: a page starts from the offset
 * the client gives (the last reply's next), so what changed in between
 * is listed as it is then, and the offsets of one listing only grow.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dispatch_internal.h"
#include "heap.h"
#include "pool.h"
#include "session.h"

#define MAX_LISTED_BLOCKS 128
#define LISTED_HOLDERS 4
#define BLOCKS_LOOKS 256

/*
 * A reply's size: an entry packs to at most 11 bytes a 64-bit field, 6 a
 * 32-bit one and 2 a flag, with its tag; so under 200 bytes with its four
 * holders, and 128 entries under 26 KiB: always one datagram.
 */
_Static_assert(MAX_LISTED_BLOCKS * 200 < PEER_MAX_MESSAGE - 1024,
	       "a page of blocks fits a datagram");

static Poolmgr__BlockInfo block_info[MAX_LISTED_BLOCKS];
static Poolmgr__BlockInfo *block_ptrs[MAX_LISTED_BLOCKS];
static Poolmgr__BlockHolder holder_info[MAX_LISTED_BLOCKS][LISTED_HOLDERS];
static Poolmgr__BlockHolder *holder_ptrs[MAX_LISTED_BLOCKS][LISTED_HOLDERS];
static Poolmgr__ListBlocksReply blocks_reply;

/*
 * Which blocks a request keeps: pid 0, all; else those held by that
 * process's handles (of that number).  Its handles on the pool are found
 * once a request (FILTER_HANDLES of them at most; a process with more is
 * asked of each holder's session instead), from the pool's accounts of
 * its connections (session_pid_handles), not from the pool's handles, of
 * which there may be a million, nor the process's, of which there may be
 * 262,144 on other pools; and judging a holder
 * then compares a pointer and reads neither its handle nor its session:
 * with 10^6 blocks each of those reads is a cache miss, and they took most
 * of a page's time.
 */
#define FILTER_HANDLES 16

struct block_filter {
	uint32_t pid, handle;
	unsigned n;			/* of h; FILTER_HANDLES + 1: more */
	const struct handle *h[FILTER_HANDLES];
};

static bool
filter_keeps(const struct block_filter *f, const struct handle *h)
{
	unsigned i;

	if (f->n > FILTER_HANDLES)
		return h->session && (uint32_t)h->session->pid == f->pid &&
		       (f->handle == 0 || h->id == f->handle);
	for (i = 0; i < f->n; i++)
		if (f->h[i] == h)
			return true;
	return false;
}

/* The filter's handles on p; false if there is none. */
static bool
filter_on_pool(struct block_filter *f, struct dpool *p)
{
	f->n = session_pid_handles(p, (pid_t)f->pid, f->handle, f->h,
				   FILTER_HANDLES);
	return f->n > 0;
}

/*
 * Does the filter keep b: does one of the filter's handles hold it?  Each
 * holder looked at takes one of *looks, as far as there are any.
 */
static bool
filter_holds(const struct block_filter *f, struct block *b, unsigned *looks)
{
	struct hold *hd;

	if (f->pid == 0)
		return true;
	BLOCK_FOREACH_HOLD(hd, b) {
		if (*looks)
			--*looks;
		if (filter_keeps(f, hold_handle(hd)))
			return true;
	}
	return false;
}

/*
 * e's first holders: open handles only (a closed one's references are on
 * their way out).
 */
static void
list_holders(Poolmgr__BlockInfo *e, size_t k, struct block *b,
	     unsigned *looks)
{
	struct hold *hd;

	BLOCK_FOREACH_HOLD(hd, b) {
		const struct handle *h = hold_handle(hd);
		Poolmgr__BlockHolder *bh;

		if (e->n_first_holders == LISTED_HOLDERS)
			break;
		if (*looks)
			--*looks;
		if (!h->session)
			continue;
		bh = &holder_info[k][e->n_first_holders];
		poolmgr__block_holder__init(bh);
		bh->pid = (uint32_t)h->session->pid;
		bh->uid = h->session->uid;
		bh->handle = h->id;
		holder_ptrs[k][e->n_first_holders++] = bh;
	}
}

/* Entry k for b; false if the filter does not keep it. */
static bool
list_block(const struct dpool *p, size_t k, struct block *b,
	   uint64_t requested, const struct block_filter *f, unsigned *looks)
{
	Poolmgr__BlockInfo *e = &block_info[k];

	if (!filter_holds(f, b, looks))
		return false;
	poolmgr__block_info__init(e);
	e->first_holders = holder_ptrs[k];
	list_holders(e, k, b, looks);
	e->offset = b->off;
	e->usable_size = b->size;
	e->requested = requested;
	e->holders = b->nrefs;
	e->named = b->named;
	e->evictable = b->evictable;
	e->persistent = block_persistent(b);
	e->persister = e->persistent ? b->persister : 0;
	e->persisted_ms = dpool_persisted_for(p, b) / 1000000u;
	e->busy = b->busy;
	block_ptrs[k] = e;
	return true;
}

static int
refuse_filter(struct call *c, const struct block_filter *f,
	      const struct dpool *p)
{
	if (f->handle)
		return refuse(c, -ESRCH, "process %u has no handle %u on pool %s",
			      f->pid, f->handle, p->name);
	return refuse(c, -ESRCH, "process %u has no handle on pool %s", f->pid,
		      p->name);
}

int
do_list_blocks(struct call *c, const Poolmgr__ListBlocks *m)
{
	struct block_filter f = {.pid = m->pid, .handle = m->handle};
	unsigned looks = BLOCKS_LOOKS;
	struct heap_block_info bi;
	uint64_t at = m->from;
	struct dpool *p;
	size_t k = 0;
	int rc, found = 0;

	if (!(p = get_pool(c, m->pool, false, &rc)))
		return rc;
	if (f.handle && !f.pid)
		return refuse(c, -EINVAL, "a handle to list by needs its pid");
	if (f.pid && !filter_on_pool(&f, p))
		return refuse_filter(c, &f, p);
	while (k < MAX_LISTED_BLOCKS && looks > 0 &&
	       (found = heap_next_block(p->heap, &at, &looks)) == 1) {
		struct block *b = dpool_block(p, at);

		/* Live in the engine: its info cannot fail. */
		if (heap_block_info(p->heap, at, &bi) != 0) {
			assert(!"heap_next_block gave no live block");
			break;
		}
		/* None to list: a move's new place, or a block let go. */
		if (b && list_block(p, k, b, bi.requested, &f, &looks))
			k++;
		at += bi.size;
	}
	poolmgr__list_blocks_reply__init(&blocks_reply);
	blocks_reply.n_blocks = k;
	blocks_reply.blocks = block_ptrs;
	blocks_reply.next = at;
	blocks_reply.done = found == 0;
	c->rep->body_case = POOLMGR__REPLY__BODY_BLOCKS;
	c->rep->blocks = &blocks_reply;
	return 0;
}
