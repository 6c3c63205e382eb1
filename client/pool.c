/*
 * pool.c - libpoolclient's API: connections, pools and blocks.
 *
 * Every call is one request and one reply (conn.c), except the small
 * allocations and frees that the handle's cache serves (cache.c); a
 * request through a caching handle carries the cache's size, so the
 * daemon's statistics can tell cached bytes from bytes in use.  The daemon is the
 * authority on every rule, so arguments are checked here only where a bad
 * one could not be sent (a NULL pointer, an overflowing size, a name too
 * long for the message) or where the header defines the answer.  What the
 * daemon says is checked in turn: a reply that lacks its body or names
 * bytes outside the pool is -EPROTO, never a wild pointer.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "client_internal.h"

/*
 * The mapping's base is aligned to the largest power of two up to this that
 * is not larger than the pool, so that an offset aligned by
 * pool_alloc_aligned is an equally aligned address (mmap alone gives only
 * pages) and the kernel can use huge pages.
 */
#define CLIENT_MAP_ALIGN_MAX	((size_t)1 << 30)

/*
 * The public structures are part of libpoolclient.so.1's ABI (pool_list and
 * pool_clients return arrays of them): a new field takes the place of a
 * reserved one, and these sizes never change within the soname.
 */
_Static_assert(sizeof(struct pool_create_opts) == 64, "ABI: create opts");
_Static_assert(sizeof(struct pool_stats) == 320, "ABI: pool_stats");
_Static_assert(sizeof(struct pool_client_info) == 208, "ABI: client info");

/* Reallocs to this size or more that must move are moved by the library. */
#define CLIENT_MOVE_MIN		((size_t)1 << 20)

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif

static int	client_check_name(const char *);
static int	client_check_fd(int, uint64_t, int);
static uint8_t	*client_map(int, uint64_t, int);
static void	client_release(struct pool_conn *, uint32_t);
static int	client_open(struct pool_conn *, const char *, int,
		    struct pool **);
static int	client_destroy(struct pool_conn *, const char *, int);
static int	client_check_block(struct pool *, const Poolmgr__AllocReply *,
		    uint64_t, uint64_t);
static int	client_alloc(struct pool *, uint64_t, uint64_t, int, uint64_t,
		    pool_off_t *);
static int	client_block_op(struct pool *, Poolmgr__Request__BodyCase,
		    pool_off_t);
static int	client_copy_name(char *, size_t, const char *);
static int	client_copy_stats(struct pool_stats *,
		    const Poolmgr__PoolStats *);
static int	client_stats(struct pool_conn *, Poolmgr__PoolRef *,
		    struct pool_stats *);
static int	client_trim(struct pool_conn *, Poolmgr__PoolRef *,
		    uint64_t *);

/*
 * A pool name must be given and fit the protocol.  The daemon checks the
 * characters; the length is checked here too so that a huge string never
 * makes a message the daemon would drop the connection for.
 */
static int
client_check_name(const char *name)
{
	if (name == NULL)
		return -EINVAL;
	if (strnlen(name, POOL_NAME_MAX + 1) > POOL_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* A request about handle p: with its cache's report, if it has a cache. */
static int
client_call(struct pool *p, Poolmgr__Request *req,
    Poolmgr__Reply__BodyCase want, Poolmgr__Reply **replyp)
{
	if (p->cache != NULL) {
		req->cache_handle = p->handle;
		req->cache_bytes = cache_bytes(p);
	}
	return conn_call(p->conn, req, want, replyp, NULL);
}

/*
 * Check the share map before mapping it: sealed against writing (so that
 * no other client can set or clear a bit), shrinking and growing, and as
 * long as the daemon says.
 */
static int
client_check_share_fd(int fd, uint64_t size)
{
	struct stat	st;
	int		seals, need;

	need = F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_FUTURE_WRITE;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals == -1 || (seals & need) != need)
		return -EPROTO;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size < 0 || (uint64_t)st.st_size != size)
		return -EPROTO;
	return 0;
}

/*
 * Map the share map and start the cache.  Without them the handle works
 * as well, only without a cache: nothing here fails the open.
 */
static void
client_start_cache(struct pool *p, int fd, uint64_t size)
{
	void		*m;

	uint64_t	 bits = (p->size + p->granularity - 1) / p->granularity;

	/* The bits, rounded up to pages, then the page of the state word. */
	if (fd == -1 || size > SIZE_MAX || p->page_size == 0 ||
	    size < (bits + 7) / 8 + p->page_size ||
	    size % p->page_size != 0 ||
	    client_check_share_fd(fd, size) != 0)
		return;
	m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return;
	p->share_map = m;
	p->share_size = size;
	if (cache_create(p, p->share_map, size, cache_env_budget()) != 0) {
		munmap(m, size);
		p->share_map = NULL;
		p->share_size = 0;
	}
}

/*
 * Check the memfd before mapping it: sealed against shrinking and growing
 * (else another process could shrink it and make our accesses SIGBUS), the
 * size the daemon announced, and opened for what we will map.
 */
static int
client_check_fd(int fd, uint64_t size, int read_only)
{
	struct stat	st;
	int		seals, flags, need;

	need = F_SEAL_SHRINK|F_SEAL_GROW;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals == -1 || (seals & need) != need)
		return -EPROTO;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size < 0 || (uint64_t)st.st_size != size)
		return -EPROTO;
	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return -EPROTO;
	if ((flags & O_ACCMODE) == O_WRONLY)
		return -EPROTO;
	if (!read_only && (flags & O_ACCMODE) != O_RDWR)
		return -EPROTO;
	return 0;
}

/*
 * Map the whole pool, shared, at an aligned address (see
 * CLIENT_MAP_ALIGN_MAX): reserve enough address space to find an aligned
 * start in, give back the slack on both sides, then map the memfd over the
 * rest.  Returns MAP_FAILED with errno set on failure.
 */
static uint8_t *
client_map(int fd, uint64_t size, int prot)
{
	size_t		 page, align, msize, span;
	uint8_t		*r, *a, *p;
	int		 saved;

	page = (size_t)sysconf(_SC_PAGESIZE);
	align = page;
	while (align < CLIENT_MAP_ALIGN_MAX && align * 2 <= size)
		align *= 2;

	if (size > SIZE_MAX - 2 * align) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	msize = (size + page - 1) & ~(page - 1);
	span = msize + align - page;

	r = mmap(NULL, span, PROT_NONE,
	    MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return MAP_FAILED;
	a = (uint8_t *)(((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1));
	if (a != r)
		munmap(r, a - r);
	if (r + span != a + msize)
		munmap(a + msize, (r + span) - (a + msize));

	/* MAP_FIXED replaces only our own reservation. */
	p = mmap(a, size, prot, MAP_SHARED|MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		saved = errno;
		munmap(a, msize);
		errno = saved;
	}
	return p;
}

/* Give a handle back to the daemon; if the connection is gone, so is it. */
static void
client_release(struct pool_conn *c, uint32_t handle)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__ClosePool	cp = POOLMGR__CLOSE_POOL__INIT;

	cp.handle = handle;
	req.body_case = POOLMGR__REQUEST__BODY_CLOSE;
	req.close = &cp;
	conn_call(c, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL, NULL);
}

/* Open a pool, check what came back, and map it. */
static int
client_open(struct pool_conn *c, const char *name, int read_only,
    struct pool **out)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool	 op = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__Reply		*reply;
	Poolmgr__OpenReply	*or;
	struct pool		*p = NULL;
	uint8_t			*base = MAP_FAILED;
	struct conn_fds		 fds;
	int			 error, fd;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (c == NULL)
		return -EINVAL;
	if ((error = client_check_name(name)) != 0)
		return error;

	op.name = (char *)name;
	op.read_only = read_only;
	op.want_share_map = !read_only;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &op;
	error = conn_call(c, &req, POOLMGR__REPLY__BODY_OPEN, &reply, &fds);
	if (error != 0)
		return error;
	or = reply->open;
	fd = fds.fd[0];

	/*
	 * Handle 0 would be taken for "by name" in a PoolRef, so the daemon
	 * never gives it out.  A handle that was given must be given back
	 * if anything below fails, or it would hold the pool open.
	 */
	if (fd == -1 && fds.dropped)
		error = -EMFILE;	/* ours to fix, not the daemon's */
	else if (or->handle == 0 || fd == -1 || or->max_size == 0 ||
	    or->max_size > SIZE_MAX / 2 || !or->read_only != !read_only)
		error = -EPROTO;
	else
		error = client_check_fd(fd, or->max_size, read_only);
	if (error == 0 && (p = calloc(1, sizeof *p)) == NULL)
		error = -ENOMEM;
	if (error == 0) {
		base = client_map(fd, or->max_size,
		    read_only ? PROT_READ : PROT_READ|PROT_WRITE);
		if (base == MAP_FAILED)
			error = (errno == ENOMEM) ? -ENOMEM : -EPROTO;
	}
	if (error != 0) {
		/* The mapping keeps the memory; the fds are not needed. */
		conn_fds_close(&fds);
		free(p);
		if (or->handle != 0)
			client_release(c, or->handle);
		poolmgr__reply__free_unpacked(reply, NULL);
		return error;
	}

	p->conn = c;
	p->handle = or->handle;
	p->read_only = read_only;
	p->base = base;
	p->size = or->max_size;
	p->granularity = or->granularity;
	p->page_size = or->page_size;
	p->quota = or->quota;
	if (!read_only)
		client_start_cache(p, fds.fd[1], or->share_map_size);
	conn_fds_close(&fds);
	poolmgr__reply__free_unpacked(reply, NULL);

	pthread_mutex_lock(&c->lock);
	TAILQ_INSERT_TAIL(&c->pools, p, entry);
	pthread_mutex_unlock(&c->lock);

	*out = p;
	return 0;
}

static int
client_destroy(struct pool_conn *c, const char *name, int force)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__DestroyPool	dp = POOLMGR__DESTROY_POOL__INIT;
	int			error;

	if (c == NULL)
		return -EINVAL;
	if ((error = client_check_name(name)) != 0)
		return error;

	dp.name = (char *)name;
	dp.force = force;
	req.body_case = POOLMGR__REQUEST__BODY_DESTROY;
	req.destroy = &dp;
	return conn_call(c, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL, NULL);
}

/*
 * Check a block the daemon handed out: inside the pool, at least want
 * bytes, and aligned as asked.  Anything else would let pool_ptr point
 * outside the mapping.
 */
static int
client_check_block(struct pool *p, const Poolmgr__AllocReply *a,
    uint64_t want, uint64_t align)
{
	if (a->offset >= p->size || a->usable_size > p->size - a->offset)
		return -EPROTO;
	if (a->usable_size < want || a->usable_size == 0)
		return -EPROTO;
	if (align != 0 && (a->offset & (align - 1)) != 0)
		return -EPROTO;
	if (a->usable_size > SIZE_MAX)
		return -EPROTO;
	return 0;
}

/*
 * Alloc{size, align, zero, nmemb}.  nmemb is 1 for a plain allocation: the
 * daemon multiplies it only with zero, but 1 reads right either way.
 */
static int
client_alloc_once(struct pool *p, uint64_t size, uint64_t align, int zero,
    uint64_t nmemb, int retry, pool_off_t *out, uint64_t *usable)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc		 al = POOLMGR__ALLOC__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	al.handle = p->handle;
	al.size = size;
	al.align = align;
	al.zero = zero;
	al.nmemb = nmemb;
	al.retry_follows = retry;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &al;
	error = client_call(p, &req, POOLMGR__REPLY__BODY_ALLOC, &reply);
	if (error != 0)
		return error;

	/* The caller checked that size * nmemb does not overflow. */
	error = client_check_block(p, reply->alloc, size * nmemb, align);
	if (error == 0) {
		*out = reply->alloc->offset;
		*usable = reply->alloc->usable_size;
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

/*
 * Out of room: give back what the cache holds and the slack of blocks it
 * served from larger ones; true if that was anything, so a retry may pass.
 */
static int
client_flush_for(struct pool *p, int error)
{
	uint64_t	flushed;

	if (error != -ENOMEM && error != -EDQUOT)
		return 0;
	flushed = cache_flush(p);
	return flushed + cache_give_slack(p) > 0;
}

/*
 * Will a request refused for want of room be tried again?  Whenever the
 * handle has a cache: even one empty now may hold blocks by the time the
 * refusal comes back (other threads free into it), and a retry is only
 * one more round trip on a path that is slow anyway.  The request then
 * says so (retry_follows), so that the daemon does not count a refusal
 * the program never sees.
 */
static int
client_will_retry(struct pool *p)
{
	return p->cache != NULL;
}

/*
 * After a refusal: give the cache back, and whether to try again: if that
 * freed anything, and always when the request said a retry follows.
 */
static int
client_retry(struct pool *p, int error, int promised)
{
	int	flushed = client_flush_for(p, error);

	return flushed ||
	    (promised && (error == -ENOMEM || error == -EDQUOT));
}

/*
 * An allocation: from the cache when it can serve it, else from the daemon
 * (after flushing the cache, if the daemon finds no room), and then known
 * to the cache so that its free can be kept.
 */
static int
client_alloc(struct pool *p, uint64_t size, uint64_t align, int zero,
    uint64_t nmemb, pool_off_t *out)
{
	uint64_t	usable;
	int		error, retry;

	if (align <= p->granularity && nmemb == 1 &&
	    (error = cache_alloc(p, size, zero, out)) != 0)
		return error > 0 ? 0 : error;
	retry = client_will_retry(p);
	error = client_alloc_once(p, size, align, zero, nmemb, retry, out,
	    &usable);
	if (error != 0 && client_retry(p, error, retry))
		error = client_alloc_once(p, size, align, zero, nmemb, 0, out,
		    &usable);
	if (error == 0)
		cache_track(p, *out, usable);
	return error;
}

/* Free, Retain and Persist: the same fields, no reply body. */
static int
client_block_op(struct pool *p, Poolmgr__Request__BodyCase body,
    pool_off_t off)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__Free		fr = POOLMGR__FREE__INIT;
	Poolmgr__Retain		rt = POOLMGR__RETAIN__INIT;
	Poolmgr__Persist	ps = POOLMGR__PERSIST__INIT;

	req.body_case = body;
	switch (body) {
	case POOLMGR__REQUEST__BODY_FREE:
		fr.handle = p->handle;
		fr.offset = off;
		req.free = &fr;
		break;
	case POOLMGR__REQUEST__BODY_RETAIN:
		rt.handle = p->handle;
		rt.offset = off;
		req.retain = &rt;
		break;
	case POOLMGR__REQUEST__BODY_PERSIST:
		ps.handle = p->handle;
		ps.offset = off;
		req.persist = &ps;
		break;
	default:
		return -EINVAL;
	}
	return client_call(p, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL);
}

int
client_alloc_batch(struct pool *p, size_t n, const uint64_t *sizes,
    int retry, uint64_t *out, uint64_t *usable)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__AllocBatch	 ab = POOLMGR__ALLOC_BATCH__INIT;
	Poolmgr__Reply		*reply;
	size_t			 i;
	int			 error;

	ab.handle = p->handle;
	ab.n_sizes = n;
	ab.sizes = (uint64_t *)sizes;
	ab.retry_follows = retry;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC_BATCH;
	req.alloc_batch = &ab;
	error = client_call(p, &req, POOLMGR__REPLY__BODY_ALLOC_BATCH, &reply);
	if (error != 0)
		return error;
	/* Every block must be where a block can be, as for pool_alloc. */
	if (reply->alloc_batch->n_offsets != n ||
	    reply->alloc_batch->n_usable_sizes != n)
		error = -EPROTO;
	for (i = 0; error == 0 && i < n; i++) {
		Poolmgr__AllocReply a = POOLMGR__ALLOC_REPLY__INIT;

		a.offset = reply->alloc_batch->offsets[i];
		a.usable_size = reply->alloc_batch->usable_sizes[i];
		error = client_check_block(p, &a, sizes[i], 0);
	}
	for (i = 0; error == 0 && i < n; i++) {
		out[i] = reply->alloc_batch->offsets[i];
		usable[i] = reply->alloc_batch->usable_sizes[i];
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

int
client_free_batch(struct pool *p, size_t n, const uint64_t *offs)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__FreeBatch	 fb = POOLMGR__FREE_BATCH__INIT;

	fb.handle = p->handle;
	fb.n_offsets = n;
	fb.offsets = (uint64_t *)offs;
	req.body_case = POOLMGR__REQUEST__BODY_FREE_BATCH;
	req.free_batch = &fb;
	return client_call(p, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL);
}

/* Copy a pool name from a reply; one that cannot be a pool name is a lie. */
static int
client_copy_name(char *dst, size_t len, const char *src)
{
	if (src == NULL || strlen(src) >= len)
		return -EPROTO;
	strcpy(dst, src);
	return 0;
}

static int
client_copy_stats(struct pool_stats *s, const Poolmgr__PoolStats *m)
{
	memset(s, 0, sizeof *s);
	if (m == NULL || client_copy_name(s->name, sizeof s->name,
	    m->name) != 0)
		return -EPROTO;
	s->max_size = m->max_size;
	s->committed_bytes = m->committed_bytes;
	s->allocated_bytes = m->allocated_bytes;
	s->requested_bytes = m->requested_bytes;
	s->free_bytes = m->free_bytes;
	s->largest_free = m->largest_free;
	s->live_blocks = m->live_blocks;
	s->clients = m->clients;
	s->allocs = m->allocs;
	s->frees = m->frees;
	s->failed_allocs = m->failed_allocs;
	s->invalid_frees = m->invalid_frees;
	s->cached_bytes = m->cached_bytes;
	s->metadata_bytes = m->metadata_bytes;
	s->released_bytes = m->released_bytes;
	s->client_cached_bytes = m->client_cached_bytes;
	s->persistent_blocks = m->persistent_blocks;
	s->granularity = m->granularity;
	s->page_size = m->page_size;
	s->mode = m->mode;
	s->uid = m->uid;
	s->gid = m->gid;
	s->quota = m->quota;
	s->retain_bytes = m->retain_bytes;
	s->free_resident_bytes = m->free_resident_bytes;
	return 0;
}

static int
client_stats(struct pool_conn *c, Poolmgr__PoolRef *ref, struct pool_stats *out)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = ref;
	error = conn_call(c, &req, POOLMGR__REPLY__BODY_STATS, &reply, NULL);
	if (error != 0)
		return error;
	error = client_copy_stats(out, reply->stats);
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

static int
client_trim(struct pool_conn *c, Poolmgr__PoolRef *ref, uint64_t *released)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Trim		 tr = POOLMGR__TRIM__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	tr.pool = ref;
	req.body_case = POOLMGR__REQUEST__BODY_TRIM;
	req.trim = &tr;
	error = conn_call(c, &req, POOLMGR__REPLY__BODY_TRIM, &reply, NULL);
	if (error != 0)
		return error;
	if (released != NULL)
		*released = reply->trim->released_bytes;
	poolmgr__reply__free_unpacked(reply, NULL);
	return 0;
}

POOL_API int
pool_connect(const char *socket_path, struct pool_conn **out)
{
	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (socket_path == NULL) {
		socket_path = getenv("POOLMGRD_SOCKET");
		if (socket_path == NULL || *socket_path == '\0')
			socket_path = POOL_DEFAULT_SOCKET;
	}
	return conn_open(socket_path, out);
}

POOL_API void
pool_disconnect(struct pool_conn *c)
{
	struct pool	*p;

	if (c == NULL)
		return;

	/*
	 * Close each pool with a round trip rather than leaving it to the
	 * socket's close: when this returns the daemon has released the
	 * handles, so a destroy that follows does not find them busy.
	 */
	for (;;) {
		pthread_mutex_lock(&c->lock);
		p = TAILQ_FIRST(&c->pools);
		pthread_mutex_unlock(&c->lock);
		if (p == NULL)
			break;
		pool_close(p);
	}
	conn_free(c);
}

POOL_API int
pool_create(struct pool_conn *c, const char *name,
    const struct pool_create_opts *o)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool	cp = POOLMGR__CREATE_POOL__INIT;
	int			error;

	if (c == NULL || o == NULL || o->max_size == 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
		if (o->reserved[i] != 0)
			return -EINVAL;
	if ((error = client_check_name(name)) != 0)
		return error;

	cp.name = (char *)name;
	cp.max_size = o->max_size;
	cp.granularity = o->granularity;
	cp.mode = o->mode;
	cp.quota = o->quota;
	if (o->retain != 0) {
		cp.retention_case = POOLMGR__CREATE_POOL__RETENTION_RETAIN;
		cp.retain = o->retain == POOL_RETAIN_NONE ? 0 : o->retain;
	}
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &cp;
	return conn_call(c, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL, NULL);
}

POOL_API int
pool_destroy(struct pool_conn *c, const char *name)
{
	return client_destroy(c, name, 0);
}

POOL_API int
pool_destroy_force(struct pool_conn *c, const char *name)
{
	return client_destroy(c, name, 1);
}

POOL_API int
pool_open(struct pool_conn *c, const char *name, struct pool **out)
{
	return client_open(c, name, 0, out);
}

POOL_API int
pool_open_readonly(struct pool_conn *c, const char *name, struct pool **out)
{
	return client_open(c, name, 1, out);
}

POOL_API void
pool_close(struct pool *p)
{
	struct pool_conn	*c;

	if (p == NULL)
		return;
	c = p->conn;

	pthread_mutex_lock(&c->lock);
	TAILQ_REMOVE(&c->pools, p, entry);
	pthread_mutex_unlock(&c->lock);

	/*
	 * Fails harmlessly on a dead connection: its handles died with it.
	 * Cached blocks need no frees: they are the handle's, and go with it.
	 */
	client_release(c, p->handle);
	cache_destroy(p);
	if (p->share_map != NULL)
		munmap((void *)p->share_map, p->share_size);
	munmap(p->base, p->size);
	free(p);
}

POOL_API int
pool_set_cache(struct pool *p, size_t budget)
{
	if (p == NULL)
		return -EINVAL;
	if (p->cache == NULL)
		return budget == 0 ? 0 : -EOPNOTSUPP;
	cache_set_budget(p, budget);
	return 0;
}

POOL_API int
pool_flush(struct pool *p)
{
	if (p == NULL)
		return -EINVAL;
	cache_flush(p);
	return 0;
}

POOL_API int
pool_alloc(struct pool *p, size_t size, pool_off_t *out)
{
	if (out == NULL)
		return -EINVAL;
	*out = POOL_OFF_NONE;
	if (p == NULL || size == 0)
		return -EINVAL;
	return client_alloc(p, size, 0, 0, 1, out);
}

POOL_API int
pool_alloc_aligned(struct pool *p, size_t size, size_t align,
    pool_off_t *out)
{
	if (out == NULL)
		return -EINVAL;
	*out = POOL_OFF_NONE;
	if (p == NULL || size == 0)
		return -EINVAL;
	if (align == 0 || (align & (align - 1)) != 0)
		return -EINVAL;
	return client_alloc(p, size, align, 0, 1, out);
}

POOL_API int
pool_calloc(struct pool *p, size_t nmemb, size_t size, pool_off_t *out)
{
	if (out == NULL)
		return -EINVAL;
	*out = POOL_OFF_NONE;
	if (p == NULL || nmemb == 0 || size == 0)
		return -EINVAL;
	/* Checked here as well: client_alloc multiplies them. */
	if (nmemb > UINT64_MAX / size)
		return -EOVERFLOW;
	/* One size for the cache; the daemon checks nmemb * size itself. */
	if (nmemb == 1 || nmemb * size <= CACHE_MAX_BLOCK)
		return client_alloc(p, nmemb * size, 0, 1, 1, out);
	return client_alloc(p, size, 0, 1, nmemb, out);
}

static int
client_realloc_once(struct pool *p, pool_off_t off, size_t size, int in_place,
    int retry, pool_off_t *out, uint64_t *usable)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Realloc	 ra = POOLMGR__REALLOC__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	ra.handle = p->handle;
	ra.offset = off;
	ra.size = size;
	ra.in_place = in_place;
	ra.retry_follows = retry;
	req.body_case = POOLMGR__REQUEST__BODY_REALLOC;
	req.realloc = &ra;
	error = client_call(p, &req, POOLMGR__REPLY__BODY__NOT_SET, &reply);
	if (error != 0)
		return error;

	/* Size 0 freed the block: the offset in the reply, if any, is NONE. */
	if (size == 0) {
		*out = POOL_OFF_NONE;
		*usable = 0;

	} else if (reply->body_case != POOLMGR__REPLY__BODY_ALLOC ||
	    reply->alloc == NULL)
		error = -EPROTO;
	else if ((error = client_check_block(p, reply->alloc, size, 0)) == 0) {
		*out = reply->alloc->offset;
		*usable = reply->alloc->usable_size;
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

/* Give back a block's slack: a realloc that must stay in place. */
int
client_shrink(struct pool *p, uint64_t off, uint64_t size, uint64_t *usable)
{
	pool_off_t	noff;
	int		error;

	error = client_realloc_once(p, off, size, 0, 0, &noff, usable);
	if (error == 0 && noff != off)
		error = -EPROTO;	/* a shrink never moves */
	return error;
}

/*
 * A big block that must move is moved here, in the calling process:
 * allocated anew, copied through this mapping, the old one freed.  The
 * daemon could copy it too, but megabytes copied on its only thread would
 * keep every other client waiting (a second for 256 MiB).  When the new
 * block does not fit beside the old one (the quota counts both for a
 * moment, the daemon's move only the growth), the daemon moves it after
 * all.
 */
static int
client_move(struct pool *p, pool_off_t off, size_t size, int retry,
    pool_off_t *out, uint64_t *usable)
{
	size_t		old;
	int		error;

	if ((error = pool_usable_size(p, off, &old)) != 0)
		return error;
	/* Refused for want of room, the daemon's move follows. */
	error = client_alloc_once(p, size, 0, 0, 1, 1, out, usable);
	if (error == -EDQUOT || error == -ENOMEM)
		return client_realloc_once(p, off, size, 0, retry, out,
		    usable);
	if (error != 0)
		return error;
	memcpy(p->base + *out, p->base + off, old < size ? old : size);
	if ((error = client_block_op(p, POOLMGR__REQUEST__BODY_FREE,
	    off)) != 0) {
		/* Ours a moment ago: leave the old block as it was. */
		(void)client_block_op(p, POOLMGR__REQUEST__BODY_FREE, *out);
		return error;
	}
	return 0;
}

POOL_API int
pool_realloc(struct pool *p, pool_off_t off, size_t size, pool_off_t *out)
{
	pool_off_t	noff;
	uint64_t	usable;
	int		error, retry;

	/* *out is left alone on failure: it may be the caller's only copy. */
	if (p == NULL || out == NULL)
		return -EINVAL;
	if (off == POOL_OFF_NONE && size != 0) {
		if ((error = client_alloc(p, size, 0, 0, 1, &noff)) == 0)
			*out = noff;
		return error;
	}
	/*
	 * Forgotten before the request, not after: once the daemon has the
	 * old block free, another thread may get (and track) its offset.  A
	 * failed realloc leaves the block live but unknown to the cache,
	 * whose free then goes to the daemon: safe, if not cached.
	 */
	if (off != POOL_OFF_NONE) {
		(void)cache_known(p, off);
		cache_untrack(p, off);
	}

	retry = client_will_retry(p);
	if (off != POOL_OFF_NONE && size >= CLIENT_MOVE_MIN) {
		error = client_realloc_once(p, off, size, 1, retry, &noff,
		    &usable);
		if (error == -EAGAIN)
			error = client_move(p, off, size, retry, &noff,
			    &usable);
	} else {
		error = client_realloc_once(p, off, size, 0, retry, &noff,
		    &usable);
	}
	if (error != 0 && client_retry(p, error, retry))
		error = client_realloc_once(p, off, size, 0, 0, &noff,
		    &usable);
	if (error != 0)
		return error;
	if (noff != POOL_OFF_NONE)
		cache_track(p, noff, usable);
	*out = noff;
	return 0;
}

POOL_API int
pool_free(struct pool *p, pool_off_t off)
{
	int	error;

	if (p == NULL)
		return -EINVAL;
	if (off == POOL_OFF_NONE)
		return 0;
	if ((error = cache_free(p, off)) != 0)
		return error > 0 ? 0 : error;
	return client_block_op(p, POOLMGR__REQUEST__BODY_FREE, off);
}

POOL_API int
pool_alloc_batch(struct pool *p, size_t n, const size_t *sizes,
    pool_off_t *out)
{
	uint64_t	*wire, *usable;
	size_t		 i;
	int		 error, retry;

	if (p == NULL || sizes == NULL || out == NULL || n == 0)
		return -EINVAL;
	if (n > POOL_BATCH_MAX)
		return -E2BIG;
	for (i = 0; i < n; i++)
		if (sizes[i] == 0)
			return -EINVAL;
	/* On the heap: 64 KiB at most, too much for a small thread stack. */
	if ((wire = malloc(2 * n * sizeof *wire)) == NULL)
		return -ENOMEM;
	usable = wire + n;
	for (i = 0; i < n; i++)
		wire[i] = sizes[i];
	retry = client_will_retry(p);
	error = client_alloc_batch(p, n, wire, retry, out, usable);
	if (error != 0 && client_retry(p, error, retry))
		error = client_alloc_batch(p, n, wire, 0, out, usable);
	for (i = 0; error == 0 && i < n; i++)
		cache_track(p, out[i], usable[i]);
	free(wire);
	return error;
}

POOL_API int
pool_free_batch(struct pool *p, size_t n, const pool_off_t *offs)
{
	size_t	i;

	if (p == NULL || (offs == NULL && n != 0))
		return -EINVAL;
	if (n > POOL_BATCH_MAX)
		return -E2BIG;
	if (n == 0)
		return 0;
	/* Forgotten first, as in pool_realloc: after, they may be others'. */
	for (i = 0; i < n; i++)
		if (offs[i] != POOL_OFF_NONE) {
			(void)cache_known(p, offs[i]);
			cache_untrack(p, offs[i]);
		}
	return client_free_batch(p, n, offs);
}

POOL_API int
pool_retain(struct pool *p, pool_off_t off)
{
	int	error;

	if (p == NULL || off == POOL_OFF_NONE)
		return -EINVAL;
	(void)cache_known(p, off);
	/* A retain counts against the quota: the cache gives way first. */
	error = client_block_op(p, POOLMGR__REQUEST__BODY_RETAIN, off);
	if (error != 0 && client_flush_for(p, error))
		error = client_block_op(p, POOLMGR__REQUEST__BODY_RETAIN, off);
	return error;
}

POOL_API int
pool_persist(struct pool *p, pool_off_t off)
{
	if (p == NULL || off == POOL_OFF_NONE)
		return -EINVAL;
	(void)cache_known(p, off);
	return client_block_op(p, POOLMGR__REQUEST__BODY_PERSIST, off);
}

POOL_API int
pool_usable_size(struct pool *p, pool_off_t off, size_t *out)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__UsableSize	 us = POOLMGR__USABLE_SIZE__INIT;
	Poolmgr__Reply		*reply;
	uint64_t		 usable;
	int			 error;

	if (p == NULL || out == NULL || off == POOL_OFF_NONE)
		return -EINVAL;
	/* A block this handle holds alone is known here, size and all. */
	if ((usable = cache_known(p, off)) != 0) {
		*out = usable;
		return 0;
	}

	us.handle = p->handle;
	us.offset = off;
	req.body_case = POOLMGR__REQUEST__BODY_USABLE_SIZE;
	req.usable_size = &us;
	error = client_call(p, &req, POOLMGR__REPLY__BODY_ALLOC, &reply);
	if (error != 0)
		return error;

	/* The answer must be about the block we asked about. */
	if (reply->alloc->offset != off)
		error = -EPROTO;
	else if ((error = client_check_block(p, reply->alloc, 1, 0)) == 0)
		*out = reply->alloc->usable_size;
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

POOL_API void *
pool_ptr(struct pool *p, pool_off_t off)
{
	if (p == NULL || off == POOL_OFF_NONE || off >= p->size)
		return NULL;
	return p->base + off;
}

POOL_API pool_off_t
pool_offset_of(struct pool *p, const void *ptr)
{
	uintptr_t	a = (uintptr_t)ptr, base;

	if (p == NULL || ptr == NULL)
		return POOL_OFF_NONE;
	base = (uintptr_t)p->base;
	if (a < base || a - base >= p->size)
		return POOL_OFF_NONE;
	return a - base;
}

POOL_API uint64_t
pool_size(struct pool *p)
{
	if (p == NULL)
		return 0;
	return p->size;
}

POOL_API int
pool_stats(struct pool *p, struct pool_stats *out)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef	 ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	if (p == NULL || out == NULL)
		return -EINVAL;
	ref.handle = p->handle;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	/* The request carries our cache's size: the answer is exact for us. */
	error = client_call(p, &req, POOLMGR__REPLY__BODY_STATS, &reply);
	if (error != 0)
		return error;
	error = client_copy_stats(out, reply->stats);
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

POOL_API int
pool_stats_by_name(struct pool_conn *c, const char *name,
    struct pool_stats *out)
{
	Poolmgr__PoolRef	ref = POOLMGR__POOL_REF__INIT;
	int			error;

	if (c == NULL || out == NULL)
		return -EINVAL;
	if ((error = client_check_name(name)) != 0)
		return error;
	ref.name = (char *)name;
	return client_stats(c, &ref, out);
}

POOL_API int
pool_trim(struct pool *p)
{
	Poolmgr__PoolRef	ref = POOLMGR__POOL_REF__INIT;

	if (p == NULL)
		return -EINVAL;
	/* Every free page: those our cache holds first go back. */
	cache_flush(p);
	ref.handle = p->handle;
	return client_trim(p->conn, &ref, NULL);
}

POOL_API int
pool_trim_by_name(struct pool_conn *c, const char *name, uint64_t *released)
{
	Poolmgr__PoolRef	ref = POOLMGR__POOL_REF__INIT;
	int			error;

	if (released != NULL)
		*released = 0;
	if (c == NULL)
		return -EINVAL;
	if ((error = client_check_name(name)) != 0)
		return error;
	ref.name = (char *)name;
	return client_trim(c, &ref, released);
}

POOL_API int
pool_check_by_name(struct pool_conn *c, const char *name, char *msg,
    size_t msglen)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Check		 ck = POOLMGR__CHECK__INIT;
	Poolmgr__PoolRef	 ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply		*reply;
	const char		*problem;
	int			 error;

	if (msg != NULL && msglen != 0)
		*msg = '\0';
	if (c == NULL)
		return -EINVAL;
	if ((error = client_check_name(name)) != 0)
		return error;

	ref.name = (char *)name;
	ck.pool = &ref;
	req.body_case = POOLMGR__REQUEST__BODY_CHECK;
	req.check = &ck;
	error = conn_call(c, &req, POOLMGR__REPLY__BODY_CHECK, &reply, NULL);
	if (error != 0)
		return error;

	if (!reply->check->ok) {
		problem = reply->check->problem;
		if (problem == NULL || *problem == '\0')
			problem = "invariant check failed";
		if (msg != NULL && msglen != 0)
			snprintf(msg, msglen, "%s", problem);
		error = -EFAULT;
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

POOL_API int
pool_list(struct pool_conn *c, struct pool_stats **out, size_t *n)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListPools	 lp = POOLMGR__LIST_POOLS__INIT;
	Poolmgr__Reply		*reply;
	Poolmgr__ListPoolsReply	*list;
	struct pool_stats	*s;
	size_t			 i;
	int			 error = 0;

	if (out == NULL || n == NULL)
		return -EINVAL;
	*out = NULL;
	*n = 0;
	if (c == NULL)
		return -EINVAL;

	req.body_case = POOLMGR__REQUEST__BODY_LIST;
	req.list = &lp;
	error = conn_call(c, &req, POOLMGR__REPLY__BODY_LIST, &reply, NULL);
	if (error != 0)
		return error;
	list = reply->list;

	/* Never NULL on success, even for no pools: free() it either way. */
	if ((s = calloc(list->n_pools ? list->n_pools : 1, sizeof *s)) == NULL)
		error = -ENOMEM;
	for (i = 0; error == 0 && i < list->n_pools; i++)
		error = client_copy_stats(&s[i], list->pools[i]);
	if (error == 0) {
		*out = s;
		*n = list->n_pools;
	} else
		free(s);
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

POOL_API int
pool_clients(struct pool_conn *c, const char *pool,
    struct pool_client_info **out, size_t *n)
{
	Poolmgr__Request		 req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListClients		 lc = POOLMGR__LIST_CLIENTS__INIT;
	Poolmgr__Reply			*reply;
	Poolmgr__ListClientsReply	*list;
	Poolmgr__ClientInfo		*m;
	struct pool_client_info		*ci;
	size_t				 i;
	int				 error;

	if (out == NULL || n == NULL)
		return -EINVAL;
	*out = NULL;
	*n = 0;
	if (c == NULL)
		return -EINVAL;
	if (pool != NULL) {
		if ((error = client_check_name(pool)) != 0)
			return error;
		lc.pool = (char *)pool;
	}

	req.body_case = POOLMGR__REQUEST__BODY_CLIENTS;
	req.clients = &lc;
	error = conn_call(c, &req, POOLMGR__REPLY__BODY_CLIENTS, &reply, NULL);
	if (error != 0)
		return error;
	list = reply->clients;

	if ((ci = calloc(list->n_clients ? list->n_clients : 1,
	    sizeof *ci)) == NULL)
		error = -ENOMEM;
	for (i = 0; error == 0 && i < list->n_clients; i++) {
		if ((m = list->clients[i]) == NULL) {
			error = -EPROTO;
			break;
		}
		ci[i].pid = m->pid;
		ci[i].uid = m->uid;
		ci[i].gid = m->gid;
		/* A client names itself: cut a long name, it is only shown. */
		snprintf(ci[i].name, sizeof ci[i].name, "%s",
		    m->name != NULL ? m->name : "");
		error = client_copy_name(ci[i].pool, sizeof ci[i].pool,
		    m->pool);
		ci[i].handle = m->handle;
		ci[i].read_only = m->read_only ? 1 : 0;
		ci[i].blocks = m->blocks;
		ci[i].bytes = m->bytes;
		ci[i].cached_bytes = m->cached_bytes;
	}
	if (error == 0) {
		*out = ci;
		*n = list->n_clients;
	} else
		free(ci);
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}
