/*
 * state_save.c - write the daemon's state for a restart in place.
 *
 * Everything the next image needs to go on where this one stops, and
 * nothing it can learn again: a session's credentials are read from its
 * connection anew (they are the connect-time ones either way).  Pools'
 * blocks go by ascending offset, as parallel packed arrays: the engine
 * rebuilds its heap block after block, and the punch of the pages no
 * block touches is one walk.  A handle's holds go in the order of its
 * list, which is the order a close drops them in.
 *
 * Nothing here changes any state: a restart that fails after it has to
 * leave the daemon exactly as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.pb-c.h"

#include "dispatch.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "session.h"
#include "state_save.h"

/* A block and its offset, for the sort. */
struct placed {
	uint64_t key;
	struct block *b;
};

/*
 * Sort by key, least significant 11 bits first: a million blocks in four
 * passes over them, where qsort took several times as long.  Keys are
 * offsets in granules, under 2^44 (POOL_MAX_SIZE over the smallest
 * granule).
 */
static int
placed_sort(struct placed *v, size_t n)
{
	struct placed *tmp, *src = v, *dst;
	size_t count[2048], i, sum;
	unsigned shift;

	if (n < 2)
		return 0;
	if (!(tmp = malloc(n * sizeof(*tmp))))
		return -ENOMEM;
	dst = tmp;
	for (shift = 0; shift < 44; shift += 11) {
		struct placed *t;

		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(src[i].key >> shift) & 2047]++;
		for (sum = 0, i = 0; i < 2048; i++) {
			size_t c = count[i];

			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i].key >> shift) & 2047]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	/* Four passes: the sorted keys are back in v. */
	free(tmp);
	return 0;
}

static void
pool_state_free(Poolmgrd__PoolState *ps)
{
	free(ps->class_allocs);
	free(ps->block_off);
	free(ps->block_size);
	free(ps->block_requested);
	free(ps->block_span);
	free(ps->block_persister);
	free(ps->block_persisted_ns);
	free(ps->named_name);
	free(ps->named_off);
	free(ps->named_publisher);
	free(ps->named_flags);
	free(ps->named_generation);
	free(ps->named_use_order);
	free(ps->acl);
	free(ps->user_quotas);
}

/* The pool's names, by name, and the order of eviction; their bytes are
 * the pool's own (packed before anything changes). */
static int
save_names(struct dpool *p, Poolmgrd__PoolState *ps)
{
	size_t n = p->names.count, i = 0;
	struct block_name *bn;

	ps->name_generation = p->name_generation;
	if (n == 0)
		return 0;
	ps->named_name = calloc(n, sizeof(ProtobufCBinaryData));
	ps->named_off = calloc(n, sizeof(uint64_t));
	ps->named_publisher = calloc(n, sizeof(uint32_t));
	ps->named_flags = calloc(n, sizeof(uint32_t));
	ps->named_generation = calloc(n, sizeof(uint64_t));
	ps->named_use_order = calloc(n, sizeof(uint64_t));
	if (!ps->named_name || !ps->named_off || !ps->named_publisher ||
	    !ps->named_flags || !ps->named_generation || !ps->named_use_order)
		return -ENOMEM;
	evict_rank(p);
	for (bn = block_names_from(&p->names, "", 0); bn && i < n;
	     bn = block_names_next(&p->names, bn), i++) {
		ps->named_name[i].data = (uint8_t *)bn->name;
		ps->named_name[i].len = bn->len;
		ps->named_off[i] = bn->block->off;
		ps->named_publisher[i] = (uint32_t)bn->publisher;
		ps->named_flags[i] = bn->evict ?
				     POOLMGRD__NAMED_FLAG__NAMED_FLAG_EVICTABLE : 0;
		ps->named_generation[i] = bn->generation;
		ps->named_use_order[i] = bn->evict ? bn->evict->rank : 0;
	}
	ps->n_named_name = ps->n_named_off = ps->n_named_publisher = i;
	ps->n_named_flags = i;
	ps->n_named_generation = ps->n_named_use_order = i;
	return i == n ? 0 : -EFAULT;
}

/* The engine's word on each block, by ascending offset. */
static int
save_blocks(struct dpool *p, Poolmgrd__PoolState *ps)
{
	struct block_index_iter it;
	struct heap_block_info bi;
	struct placed *v;
	struct block *b;
	size_t n = block_index_count(&p->blocks), i = 0;
	int rc;

	ps->block_off = calloc(n ? n : 1, sizeof(uint64_t));
	ps->block_size = calloc(n ? n : 1, sizeof(uint64_t));
	ps->block_requested = calloc(n ? n : 1, sizeof(uint64_t));
	ps->block_span = calloc(n ? n : 1, sizeof(protobuf_c_boolean));
	ps->block_persister = calloc(n ? n : 1, sizeof(uint32_t));
	ps->block_persisted_ns = calloc(n ? n : 1, sizeof(uint64_t));
	v = calloc(n ? n : 1, sizeof(*v));
	if (!ps->block_off || !ps->block_size || !ps->block_requested ||
	    !ps->block_span || !ps->block_persister ||
	    !ps->block_persisted_ns || !v) {
		free(v);
		return -ENOMEM;
	}
	BLOCK_INDEX_FOREACH(b, &p->blocks, &it) {
		if (i == n)
			break;
		v[i].key = b->off >> p->granule_shift;
		v[i++].b = b;
	}
	if (i != n || (rc = placed_sort(v, n)) != 0) {
		free(v);
		return i != n ? -EFAULT : rc;
	}
	for (i = 0; i < n; i++) {
		b = v[i].b;
		/* Books and engine must agree: else the state would lie. */
		if (heap_block_info(p->heap, b->off, &bi) != 0 ||
		    bi.size != b->size || b->busy || b->let_go) {
			log_warnx("pool %s: block 0x%llx: the books and the "
				  "engine disagree", p->name,
				  (unsigned long long)b->off);
			free(v);
			return -EFAULT;
		}
		ps->block_off[i] = b->off;
		ps->block_size[i] = bi.size;
		ps->block_requested[i] = bi.requested;
		ps->block_span[i] = bi.span != 0;
		ps->block_persister[i] = (uint32_t)b->persister;
		if (block_persistent(b) &&
		    !persist_times_find(&p->persist_times, b->off,
					&ps->block_persisted_ns[i])) {
			log_warnx("pool %s: persistent block 0x%llx has no "
				  "persist time", p->name,
				  (unsigned long long)b->off);
			free(v);
			return -EFAULT;
		}
	}
	ps->n_block_off = ps->n_block_size = ps->n_block_requested =
	    ps->n_block_span = ps->n_block_persister =
	    ps->n_block_persisted_ns = n;
	free(v);
	return 0;
}

/* The access control list, an entry a word (none: an empty list). */
static int
save_acl(const struct dpool *p, Poolmgrd__PoolState *ps)
{
	uint32_t i;

	if (!p->acl.n)
		return 0;
	if (!(ps->acl = calloc(p->acl.n, sizeof(*ps->acl))))
		return -ENOMEM;
	for (i = 0; i < p->acl.n; i++)
		ps->acl[i] = acl_word(&p->acl.e[i]);
	ps->n_acl = p->acl.n;
	return 0;
}

/* The uids' own user quotas, two words an entry (none: an empty list). */
static int
save_uquotas(const struct dpool *p, Poolmgrd__PoolState *ps)
{
	uint32_t i;

	if (!p->uquotas.n)
		return 0;
	if (!(ps->user_quotas = calloc(2 * p->uquotas.n,
				       sizeof(*ps->user_quotas))))
		return -ENOMEM;
	for (i = 0; i < p->uquotas.n; i++) {
		ps->user_quotas[2 * i] = p->uquotas.e[i].uid;
		ps->user_quotas[2 * i + 1] = p->uquotas.e[i].bytes;
	}
	ps->n_user_quotas = 2 * p->uquotas.n;
	return 0;
}

static int
save_pool(struct dpool *p, Poolmgrd__PoolState *ps)
{
	struct heap_events ev;
	struct heap_stats st;
	int rc;

	poolmgrd__pool_state__init(ps);
	heap_get_stats(p->heap, &st);
	heap_events_save(p->heap, &ev);
	ps->name = p->name;
	ps->size = p->size;
	ps->granularity = (uint32_t)st.granularity;
	ps->page_size = (uint32_t)st.page_size;
	ps->uid = p->uid;
	ps->gid = p->gid;
	ps->mode = p->mode;
	ps->quota = p->quota;
	ps->user_quota = p->user_quota;
	ps->limit = p->limit;
	ps->retain = p->retain;
	ps->allocs = ev.allocs;
	ps->frees = ev.frees;
	ps->cache_hits = ev.cache_hits;
	if (!(ps->class_allocs = malloc(sizeof(ev.class_allocs))))
		return -ENOMEM;
	memcpy(ps->class_allocs, ev.class_allocs, sizeof(ev.class_allocs));
	ps->n_class_allocs = HEAP_NCLASSES;
	/* As `poolctl stats` shows them (dispatch_inspect.c's fill_stats). */
	ps->failed_allocs = dpool_failed_allocs(p);
	ps->invalid_frees = st.invalid_frees + p->invalid_frees;
	ps->released_bytes = st.released_bytes + p->released_before;
	ps->trimmed_bytes = p->trimmed_bytes;
	ps->evictions = p->evict.evictions;
	ps->evicted_bytes = p->evict.evicted_bytes;
	ps->quota_refusals = p->quota_refusals;
	ps->user_quota_refusals = p->user_quota_refusals;
	if ((rc = save_acl(p, ps)) != 0 || (rc = save_uquotas(p, ps)) != 0 ||
	    (rc = save_blocks(p, ps)) != 0)
		return rc;
	return save_names(p, ps);
}

/* Where pool p is in the registry, which is the state's order. */
static uint32_t
pool_index(const struct dpool *p)
{
	struct dpool *q;
	uint32_t i = 0;

	for (q = dpool_first(); q != p; q = dpool_next(q))
		i++;
	return i;
}

static int
save_handle(struct handle *h, Poolmgrd__HandleState *hs)
{
	struct hold *hd;
	size_t i = 0;

	poolmgrd__handle_state__init(hs);
	hs->id = h->id;
	hs->pool = pool_index(h->pool);
	hs->read_only = h->read_only;
	hs->cached_bytes = h->cached_bytes;
	if (!(hs->holds = calloc(h->nrefs ? h->nrefs : 1, sizeof(uint64_t))))
		return -ENOMEM;
	LIST_FOREACH(hd, &h->refs, by_handle) {
		if (i == h->nrefs)
			return -EFAULT;
		hs->holds[i++] = hold_block(hd)->off;
	}
	hs->n_holds = i;
	return i == h->nrefs ? 0 : -EFAULT;
}

static void
session_state_free(Poolmgrd__SessionState *ss)
{
	size_t i;

	for (i = 0; i < ss->n_handles; i++) {
		free(ss->handles[i]->holds);
		free(ss->handles[i]);
	}
	free(ss->handles);
	free(ss->handle_rank);
	free(ss->unsent);
	free(ss->unsent_nfds);
	free(ss->unsent_fd_kind);
	free(ss->unsent_fd_ref);
}

/*
 * The files the pools' descriptors are, sorted, so that a descriptor an
 * unsent reply passes is known for the pool's own by what it is, not by
 * its number: a destroyed pool's memfd is no other pool's, even one that
 * took its name and its number since.
 */
struct known_file {
	dev_t dev;
	ino_t ino;
	uint32_t pool;
	Poolmgrd__CarriedFd kind;	/* _POOL or _SHARE_MAP */
};

/* A descriptor passed as "reply.<i>", by its file and access mode. */
struct passed_file {
	dev_t dev;
	ino_t ino;
	int mode;
};

/* What saving the unsent replies of every session needs. */
struct unsent_save {
	struct known_file *known;
	size_t nknown;
	struct passed_file *passed;	/* fds->nreplies of them */
	size_t room;
	struct state_fds *fds;
	Poolmgrd__SessionState *ss;
	size_t nfds;
	int rc;
};

static int
known_cmp(const void *a, const void *b)
{
	const struct known_file *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return 0;
}

static int
known_add(struct unsent_save *us, int fd, uint32_t pool,
	  Poolmgrd__CarriedFd kind)
{
	struct known_file *k = &us->known[us->nknown];
	struct stat sb;

	if (fstat(fd, &sb) == -1)
		return -errno;
	k->dev = sb.st_dev;
	k->ino = sb.st_ino;
	k->pool = pool;
	k->kind = kind;
	us->nknown++;
	return 0;
}

/* Every pool's memfd and share map, in the state's order of pools. */
static int
known_build(struct unsent_save *us)
{
	struct dpool *p;
	uint32_t i = 0;
	int rc;

	us->known = calloc(2 * (size_t)dpool_count() + 1,
			   sizeof(*us->known));
	if (!us->known)
		return -ENOMEM;
	for (p = dpool_first(); p; p = dpool_next(p), i++) {
		if ((rc = known_add(us, p->memfd, i,
				    POOLMGRD__CARRIED_FD__CARRIED_FD_POOL)) ||
		    (p->share_fd >= 0 && (rc = known_add(us, p->share_fd, i,
		     POOLMGRD__CARRIED_FD__CARRIED_FD_SHARE_MAP))))
			return rc;
	}
	qsort(us->known, us->nknown, sizeof(*us->known), known_cmp);
	return 0;
}

/*
 * The index of fd among those passed as "reply.<i>", added if no other
 * is the same file opened the same way: one descriptor for all the
 * replies that pass it (systemd's store would keep only one anyway).
 */
static int
passed_index(struct unsent_save *us, int fd, const struct stat *sb,
	     int mode, uint32_t *index)
{
	struct state_fds *fds = us->fds;
	size_t i;

	for (i = 0; i < fds->nreplies; i++)
		if (us->passed[i].ino == sb->st_ino &&
		    us->passed[i].dev == sb->st_dev &&
		    us->passed[i].mode == mode) {
			*index = (uint32_t)i;
			return 0;
		}
	if (fds->nreplies == us->room) {
		size_t room = us->room ? 2 * us->room : 8;
		struct passed_file *pf;
		int *r;

		if (!(pf = realloc(us->passed, room * sizeof(*pf))))
			return -ENOMEM;
		us->passed = pf;
		if (!(r = realloc(fds->reply, room * sizeof(*r))))
			return -ENOMEM;
		fds->reply = r;
		us->room = room;
	}
	us->passed[i].dev = sb->st_dev;
	us->passed[i].ino = sb->st_ino;
	us->passed[i].mode = mode;
	fds->reply[i] = fd;
	fds->nreplies++;
	*index = (uint32_t)i;
	return 0;
}

/* What the descriptor fd of an unsent reply is: a pool's, or passed. */
static int
carried_fd(struct unsent_save *us, int fd, Poolmgrd__CarriedFd *kind,
	   uint32_t *ref)
{
	struct known_file key = {0}, *k;
	struct stat sb;
	int mode;

	if (fstat(fd, &sb) == -1 || (mode = fcntl(fd, F_GETFL)) == -1)
		return -errno;
	mode &= O_ACCMODE;
	key.dev = sb.st_dev;
	key.ino = sb.st_ino;
	k = bsearch(&key, us->known, us->nknown, sizeof(*us->known),
		    known_cmp);
	if (!k || (k->kind == POOLMGRD__CARRIED_FD__CARRIED_FD_SHARE_MAP &&
		   mode != O_RDWR)) {
		*kind = POOLMGRD__CARRIED_FD__CARRIED_FD_PASSED;
		return passed_index(us, fd, &sb, mode, ref);
	}
	*ref = k->pool;
	*kind = k->kind;
	if (k->kind == POOLMGRD__CARRIED_FD__CARRIED_FD_POOL &&
	    mode == O_RDONLY)
		*kind = POOLMGRD__CARRIED_FD__CARRIED_FD_POOL_READ_ONLY;
	else if (k->kind == POOLMGRD__CARRIED_FD__CARRIED_FD_POOL &&
		 mode != O_RDWR)
		return passed_index(us, fd, &sb, mode, ref);
	return 0;
}

static void
count_unsent(const void *buf, size_t len, const struct peer_fds *fds,
	     void *arg)
{
	struct unsent_save *us = arg;

	(void)buf;
	(void)len;
	us->ss->n_unsent++;
	us->nfds += (size_t)fds->n;
}

static void
add_unsent(const void *buf, size_t len, const struct peer_fds *fds,
	   void *arg)
{
	struct unsent_save *us = arg;
	Poolmgrd__SessionState *ss = us->ss;
	int i, rc;

	ss->unsent[ss->n_unsent].data = (uint8_t *)buf;
	ss->unsent[ss->n_unsent++].len = len;
	if (!ss->unsent_nfds)
		return;
	ss->unsent_nfds[ss->n_unsent_nfds++] = (uint32_t)fds->n;
	for (i = 0; i < fds->n && us->rc == 0; i++) {
		rc = carried_fd(us, fds->fd[i],
				&ss->unsent_fd_kind[ss->n_unsent_fd_kind],
				&ss->unsent_fd_ref[ss->n_unsent_fd_ref]);
		if (rc)
			us->rc = rc;
		ss->n_unsent_fd_kind++;
		ss->n_unsent_fd_ref++;
	}
}

/*
 * The replies the client has not read yet, as they are queued: the
 * bytes stay the peer's (nothing changes before the state is written),
 * and so do the descriptors passed for them.
 */
static int
save_unsent(struct unsent_save *us, const struct peer *pe,
	    Poolmgrd__SessionState *ss)
{
	size_t n;

	us->ss = ss;
	us->nfds = 0;
	peer_unsent_each(pe, count_unsent, us);
	if ((n = ss->n_unsent) == 0)
		return 0;
	ss->n_unsent = 0;
	if (!(ss->unsent = calloc(n, sizeof(*ss->unsent))))
		return -ENOMEM;
	if (us->nfds && (!(ss->unsent_nfds = calloc(n, sizeof(uint32_t))) ||
	    !(ss->unsent_fd_kind = calloc(us->nfds,
					  sizeof(*ss->unsent_fd_kind))) ||
	    !(ss->unsent_fd_ref = calloc(us->nfds, sizeof(uint32_t)))))
		return -ENOMEM;
	peer_unsent_each(pe, add_unsent, us);
	return us->rc;
}

static int
save_session(struct session *s, Poolmgrd__SessionState *ss)
{
	struct handle *h;
	int rc;

	poolmgrd__session_state__init(ss);
	ss->greeted = s->greeted;
	if (!s->greeted)
		ss->hello_deadline_ns = s->hello_deadline_ns;
	ss->name = s->name;
	ss->next_handle = s->next_handle;
	if (!(ss->handles = calloc(s->nhandles ? s->nhandles : 1,
				   sizeof(*ss->handles))) ||
	    !(ss->handle_rank = calloc(s->nhandles ? s->nhandles : 1,
				       sizeof(*ss->handle_rank))))
		return -ENOMEM;
	LIST_FOREACH(h, &s->handles, in_session) {
		Poolmgrd__HandleState *hs = malloc(sizeof(*hs));

		if (!hs)
			return -ENOMEM;
		ss->handle_rank[ss->n_handle_rank++] = h->rank;
		ss->handles[ss->n_handles++] = hs;
		hs->holds = NULL;
		if ((rc = save_handle(h, hs)) != 0)
			return rc;
	}
	return 0;
}

/*
 * Each handle's place in its pool's list, the order ListClients answers
 * in: one walk of each list, not one per handle.
 */
static void
rank_handles(void)
{
	struct handle *h;
	struct dpool *p;
	uint32_t r;

	for (p = dpool_first(); p; p = dpool_next(p)) {
		r = 0;
		LIST_FOREACH(h, &p->handles, in_pool)
			h->rank = r++;
	}
}

static void
state_free(Poolmgrd__State *st)
{
	size_t i;

	for (i = 0; i < st->n_pools; i++) {
		pool_state_free(st->pools[i]);
		free(st->pools[i]);
	}
	free(st->pools);
	for (i = 0; i < st->n_sessions; i++) {
		session_state_free(st->sessions[i]);
		free(st->sessions[i]);
	}
	free(st->sessions);
}

/* The encoded state in a new memfd, sealed: fd or -errno. */
static int
state_write(const Poolmgrd__State *st)
{
	size_t len = poolmgrd__state__get_packed_size(st);
	void *m;
	int fd, err;

	fd = memfd_create("poolmgrd-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd == -1)
		return -errno;
	if (ftruncate(fd, (off_t)len) == -1)
		goto fail;
	if (len) {
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			goto fail;
		poolmgrd__state__pack(st, m);
		munmap(m, len);
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_WRITE | F_SEAL_SEAL) == -1)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

void
state_fds_free(struct state_fds *fds)
{
	free(fds->pool);
	free(fds->conn);
	free(fds->reply);
	memset(fds, 0, sizeof(*fds));
}

/* The daemon's totals (DaemonStats), for the new image to count on. */
static void
save_totals(Poolmgrd__DaemonTotals *dt)
{
	struct daemon_totals t;

	dispatch_status_totals(&t);
	dt->started = t.started;
	dt->started_ns = t.started_ns;
	dt->restarts = t.restarts;
	dt->connections = t.connections;
	dt->connections_refused = t.connections_refused;
	dt->hello_timeouts = t.hello_timeouts;
	dt->requests = t.requests;
	dt->requests_refused = t.requests_refused;
	dt->bad_messages = t.bad_messages;
	dt->log_lines_left_out = t.log_lines_left_out;
}

unsigned
state_version_needed(const char **why)
{
	unsigned v = POOLMGRD__STATE_VERSION__STATE_VERSION_THIRD;
	struct dpool *p;

	for (p = dpool_first(); p; p = dpool_next(p)) {
		if (p->uquotas.n) {
			if (why)
				*why = p->name;
			return POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT;
		}
		if (p->acl.n && v < POOLMGRD__STATE_VERSION__STATE_VERSION_FOURTH) {
			if (why)
				*why = p->name;
			v = POOLMGRD__STATE_VERSION__STATE_VERSION_FOURTH;
		}
	}
	return v;
}

const char *
state_version_carries(unsigned version)
{
	if (version == POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT)
		return "the user quotas of uids";
	if (version == POOLMGRD__STATE_VERSION__STATE_VERSION_FOURTH)
		return "the access control lists";
	return "what the pools have";
}

int
state_save(bool socket_activated, const char *socket_path, bool from_store,
	   uint64_t saved_at_ns, unsigned version, struct state_fds *fds)
{
	Poolmgrd__State st = POOLMGRD__STATE__INIT;
	Poolmgrd__DaemonTotals dt = POOLMGRD__DAEMON_TOTALS__INIT;
	struct unsent_save us = {.fds = fds};
	struct dpool *p;
	struct peer *pe;
	unsigned npeers = 0;
	int rc = -ENOMEM;

	memset(fds, 0, sizeof(*fds));
	st.version = version;
	st.socket_activated = socket_activated;
	st.socket_path = (char *)socket_path;
	st.saved_at_ns = saved_at_ns;
	st.from_store = from_store;
	save_totals(&dt);
	st.totals = &dt;
	for (pe = peer_first(); pe; pe = peer_next(pe))
		npeers++;
	st.pools = calloc(dpool_count() + 1, sizeof(*st.pools));
	st.sessions = calloc(npeers + 1, sizeof(*st.sessions));
	fds->pool = calloc(dpool_count() + 1, sizeof(int));
	fds->conn = calloc(npeers + 1, sizeof(int));
	if (!st.pools || !st.sessions || !fds->pool || !fds->conn)
		goto out;
	for (p = dpool_first(); p; p = dpool_next(p)) {
		Poolmgrd__PoolState *ps = calloc(1, sizeof(*ps));

		if (!ps)
			goto out;
		st.pools[st.n_pools++] = ps;
		if ((rc = save_pool(p, ps)) != 0)
			goto out;
		fds->pool[fds->npools++] = p->memfd;
		fds->nblocks += ps->n_block_off;
	}
	if ((rc = known_build(&us)) != 0)
		goto out;
	rc = -ENOMEM;
	rank_handles();
	for (pe = peer_first(); pe; pe = peer_next(pe)) {
		Poolmgrd__SessionState *ss = calloc(1, sizeof(*ss));

		if (!ss)
			goto out;
		st.sessions[st.n_sessions++] = ss;
		if ((rc = save_session(peer_arg(pe), ss)) != 0 ||
		    (rc = save_unsent(&us, pe, ss)) != 0)
			goto out;
		fds->conn[fds->nsessions++] = peer_fd(pe);
	}
	rc = state_write(&st);
out:
	state_free(&st);
	free(us.known);
	free(us.passed);
	if (rc < 0)
		state_fds_free(fds);
	return rc;
}
