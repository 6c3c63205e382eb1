/*
 * dispatch_inspect.c - what a pool holds, and who: stats, list (the pools
 * the caller may read, a page at a time), clients (the handles open on
 * them) and persisted (the uids whose persistent blocks a pool keeps).
 * None changes anything.
 *
 * Those that read a pool's state (stats, list, persisted) first wait for
 * the pool to settle (wait_settled): work its clients let go of may still
 * be queued (pool_release.c), and no answer should show it half done.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch_internal.h"
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
		return refuse_no_pool(c, want);
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
