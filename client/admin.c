/*
 * admin.c - libpoolclient's connections, and pools as wholes.
 *
 * Connecting and disconnecting; creating and destroying pools; opening a
 * pool, which checks and maps its memfd (and, for a read-write handle, the
 * share map that starts the handle's cache, cache.c), and closing it; and
 * the questions about a whole pool: its statistics, a trim, the daemon's
 * invariant check, the list of pools, of the clients that hold them and
 * of the uids that persisted blocks in it.
 * The blocks of an open pool are pool.c's.
 *
 * As in pool.c, the daemon is the authority on every rule: arguments are
 * checked here only where a bad one could not be sent (a NULL pointer, a
 * name too long for the message) or where the header defines the answer.
 * What the daemon hands over is checked in turn: a descriptor that is not
 * sealed and sized as announced, or a reply that names no pool, is
 * -EPROTO, never a wild pointer.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
_Static_assert(sizeof(struct pool_set_opts) == 64, "ABI: set opts");
_Static_assert(sizeof(struct pool_stats) == 320, "ABI: pool_stats");
_Static_assert(sizeof(struct pool_client_info) == 208, "ABI: client info");
_Static_assert(sizeof(struct pool_persisted) == 40, "ABI: persisted");
_Static_assert(sizeof(struct pool_named) == 296, "ABI: named");
_Static_assert((int)POOL_NUMA_NONE == POOLMGR__NUMA_POLICY__NUMA_NONE &&
    (int)POOL_NUMA_PREFERRED == POOLMGR__NUMA_POLICY__NUMA_PREFERRED &&
    (int)POOL_NUMA_BIND == POOLMGR__NUMA_POLICY__NUMA_BIND &&
    (int)POOL_NUMA_OTHER == POOLMGR__NUMA_POLICY__NUMA_OTHER,
    "the library's NUMA policies are the wire's");

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif

static int	client_check_name(const char *);
static int	client_check_fd(int, uint64_t, int);
static uint8_t	*client_map(int, uint64_t, uint64_t, int);
static void	client_release(struct pool_conn *, uint32_t);
static int	client_open(struct pool_conn *, const char *, int,
		    struct pool **);
static int	client_destroy(struct pool_conn *, const char *, int);
static int	client_copy_name(char *, size_t, const char *);
static int	client_copy_stats(struct pool_stats *,
		    const Poolmgr__PoolStats *);
static int	client_stats(struct pool_conn *, Poolmgr__PoolRef *,
		    uint32_t, uint64_t, struct pool_stats *);
static int	client_trim(struct pool_conn *, Poolmgr__PoolRef *,
		    uint64_t *);
static int	client_clients(struct pool_conn *, const char *,
		    struct pool_client_info **, size_t *, size_t *);

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

/* The cache divides and masks by these: a lie must not reach it. */
static int
client_pow2(uint32_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/*
 * Map the share map and start the cache.  Without them the handle works
 * as well, only without a cache: nothing here fails the open.
 */
static void
client_start_cache(struct pool *p, int fd, uint64_t size)
{
	void		*m;

	if (client_share_check(p, fd, size) != 0)
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
 * A memfd from the daemon, before it is mapped: sealed with at least
 * need, and a regular file of size bytes, what the daemon announced.
 * The pool's memfd and the share map (share.c) are both checked so.
 */
int
client_memfd_check(int fd, int need, uint64_t size)
{
	struct stat	st;
	int		seals;

	seals = fcntl(fd, F_GET_SEALS);
	if (seals == -1 || (seals & need) != need)
		return -EPROTO;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size < 0 || (uint64_t)st.st_size != size)
		return -EPROTO;
	return 0;
}

/*
 * Check the memfd before mapping it: sealed against shrinking and growing
 * (else another process could shrink it and make our accesses SIGBUS), the
 * size the daemon announced, and opened for what we will map.
 */
static int
client_check_fd(int fd, uint64_t size, int read_only)
{
	int		flags;

	if (client_memfd_check(fd, F_SEAL_SHRINK|F_SEAL_GROW, size) != 0)
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
 * rest.  A pool on huge pages (pool_page, its page size) can only be
 * mapped at an address aligned to one, and is at least one long.  Returns
 * MAP_FAILED with errno set on failure.
 */
static uint8_t *
client_map(int fd, uint64_t size, uint64_t pool_page, int prot)
{
	size_t		 page, align, msize, span;
	uint8_t		*r, *a, *p;
	int		 saved;

	page = (size_t)sysconf(_SC_PAGESIZE);
	align = pool_page > page ? (size_t)pool_page : page;
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
	struct timespec		ts = {0, 1000000};
	int			error, tries, cancel;

	cp.handle = handle;
	req.body_case = POOLMGR__REQUEST__BODY_CLOSE;
	req.close = &cp;
	/*
	 * A ClosePool the kernel would not take (no buffer or memory:
	 * nothing sent) would leave the handle, and every block it holds,
	 * with the daemon until the connection closes: try again, waiting
	 * 1, 2, 4 ... ms, about a quarter of a second in all.  The waits
	 * are no cancellation point: no call of the library is one.
	 */
	cancel = client_nocancel();
	for (tries = 1;; tries++) {
		error = conn_call(c, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL,
		    NULL);
		if ((error != -ENOBUFS && error != -ENOMEM) || tries == 8)
			break;
		nanosleep(&ts, NULL);
		ts.tv_nsec *= 2;
	}
	client_cancel_restore(cancel);
}

static int	client_open_once(struct pool_conn *, const char *, int,
		    struct pool **);

/* Open a pool: never cancelled halfway (see client_nocancel). */
static int
client_open(struct pool_conn *c, const char *name, int read_only,
    struct pool **out)
{
	int	cancel = client_nocancel(), error;

	error = client_open_once(c, name, read_only, out);
	client_cancel_restore(cancel);
	return error;
}

/* Open a pool, check what came back, and map it. */
static int
client_open_once(struct pool_conn *c, const char *name, int read_only,
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

	conn_forget_refusal();
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
	    or->max_size > SIZE_MAX / 2 || !or->read_only != !read_only ||
	    !client_pow2(or->granularity) || !client_pow2(or->page_size) ||
	    or->max_size % or->page_size != 0)
		error = -EPROTO;
	else
		error = client_check_fd(fd, or->max_size, read_only);
	if (error == 0 && (p = calloc(1, sizeof *p)) == NULL)
		error = -ENOMEM;
	if (error == 0) {
		base = client_map(fd, or->max_size, or->page_size,
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
	/* Checked by client_check_name: it fits. */
	snprintf(p->name, sizeof p->name, "%s", name);
	p->read_only = read_only;
	p->base = base;
	p->size = or->max_size;
	p->granularity = or->granularity;
	p->page_size = or->page_size;
	p->quota = or->quota;
	p->limit = or->limit;
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

	conn_forget_refusal();
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
	s->books_bytes = m->books_bytes;
	s->named_blocks = m->named_blocks;
	s->release_steps = m->release_steps;
	s->retain_steps = m->retain_steps;
	s->numa_policy = m->numa_policy;
	s->numa_node = m->numa_node;
	s->evictions = m->evictions;
	s->evicted_bytes = m->evicted_bytes;
	s->limit = m->limit;
	return 0;
}

static int
client_stats(struct pool_conn *c, Poolmgr__PoolRef *ref, uint32_t cache_handle,
    uint64_t cached, struct pool_stats *out)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = ref;
	req.cache_handle = cache_handle;
	req.cache_bytes = cached;
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
	int	cancel, error;

	conn_forget_refusal();
	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (socket_path == NULL) {
		socket_path = getenv("POOLMGRD_SOCKET");
		if (socket_path == NULL || *socket_path == '\0')
			socket_path = POOL_DEFAULT_SOCKET;
	}
	cancel = client_nocancel();
	error = conn_open(socket_path, out);
	client_cancel_restore(cancel);
	return error;
}

POOL_API void
pool_disconnect(struct pool_conn *c)
{
	struct pool	*p;
	int		 cancel;

	if (c == NULL)
		return;
	cancel = client_nocancel();

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
	client_cancel_restore(cancel);
}

#define CLIENT_CREATE_ALL	(POOL_CREATE_OWNER | POOL_CREATE_GROUP)

/*
 * o's checks that need no daemon.  A uid or gid not given must be zero,
 * as a reserved word: a later library may give them a meaning alone.
 */
static int
client_check_create(const struct pool_create_opts *o)
{
	if (o->max_size == 0 || (o->flags & ~CLIENT_CREATE_ALL) != 0)
		return -EINVAL;
	if ((!(o->flags & POOL_CREATE_OWNER) && o->uid != 0) ||
	    (!(o->flags & POOL_CREATE_GROUP) && o->gid != 0))
		return -EINVAL;
	for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
		if (o->reserved[i] != 0)
			return -EINVAL;
	if (o->numa_policy > POOL_NUMA_BIND || (o->numa_policy ==
	    POOL_NUMA_NONE && o->numa_node != 0))
		return -EINVAL;
	return 0;
}

#define CLIENT_SET_ALL	(POOL_SET_MODE | POOL_SET_OWNER | POOL_SET_GROUP | \
			 POOL_SET_QUOTA | POOL_SET_RETAIN | POOL_SET_LIMIT)

/* o's checks that need no daemon: those a later library may relax. */
static int
client_check_set(const struct pool_set_opts *o)
{
	if ((o->which & ~CLIENT_SET_ALL) != 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
		if (o->reserved[i] != 0)
			return -EINVAL;
	return 0;
}

/*
 * A daemon without the feature ignores a limit (protobuf skips fields it
 * does not know): a pool it made or set would have none, silently.
 */
static int
client_check_limit(struct pool_conn *c, int given)
{
	if (given && (c->features & CONN_FEATURE_POOL_LIMIT) == 0)
		return -EOPNOTSUPP;
	return 0;
}

/*
 * The settings s gives, in SetPool's fields: the one encoding of what
 * they mean, which CreatePool takes too (client_create_take).  Each
 * overwrites what an earlier encoding into sp said of the same setting.
 */
static void
client_encode_settings(Poolmgr__SetPool *sp, const struct pool_set_opts *s)
{
	if (s->which & POOL_SET_MODE) {
		sp->set_mode_case = POOLMGR__SET_POOL__SET_MODE_MODE;
		sp->mode = s->mode;
	}
	if (s->which & POOL_SET_OWNER) {
		sp->set_uid_case = POOLMGR__SET_POOL__SET_UID_UID;
		sp->uid = s->uid;
	}
	if (s->which & POOL_SET_GROUP) {
		sp->set_gid_case = POOLMGR__SET_POOL__SET_GID_GID;
		sp->gid = s->gid;
	}
	if (s->which & POOL_SET_QUOTA) {
		sp->set_quota_case = POOLMGR__SET_POOL__SET_QUOTA_QUOTA;
		sp->quota = s->quota;
	}
	/* The wire's retain 0 is "none": the default is said apart. */
	if ((s->which & POOL_SET_RETAIN) && s->retain == 0) {
		sp->set_retain_case =
		    POOLMGR__SET_POOL__SET_RETAIN_RETAIN_DEFAULT;
		sp->retain_default = 1;
	} else if (s->which & POOL_SET_RETAIN) {
		sp->set_retain_case = POOLMGR__SET_POOL__SET_RETAIN_RETAIN;
		sp->retain = s->retain == POOL_RETAIN_NONE ? 0 : s->retain;
	}
	if (s->which & POOL_SET_LIMIT) {
		sp->set_limit_case = POOLMGR__SET_POOL__SET_LIMIT_LIMIT;
		sp->limit = s->limit;
	}
}

/*
 * The settings of o that pool_set could change later, as pool_set_opts:
 * mode, quota and retain always (their 0 means the daemon's default
 * there too), the owner and group when given.
 */
static struct pool_set_opts
client_create_given(const struct pool_create_opts *o)
{
	struct pool_set_opts g = {
		.which = POOL_SET_MODE | POOL_SET_QUOTA | POOL_SET_RETAIN,
		.mode = o->mode, .uid = o->uid, .gid = o->gid,
		.quota = o->quota, .retain = o->retain,
	};

	if (o->flags & POOL_CREATE_OWNER)
		g.which |= POOL_SET_OWNER;
	if (o->flags & POOL_CREATE_GROUP)
		g.which |= POOL_SET_GROUP;
	return g;
}

/*
 * What sp sets, moved into CreatePool's fields, where mode, quota and
 * limit are plain numbers and an absent retain is the default.
 */
static void
client_create_take(Poolmgr__CreatePool *cp, const Poolmgr__SetPool *sp)
{
	if (sp->set_mode_case == POOLMGR__SET_POOL__SET_MODE_MODE)
		cp->mode = sp->mode;
	if (sp->set_uid_case == POOLMGR__SET_POOL__SET_UID_UID) {
		cp->owner_uid_case = POOLMGR__CREATE_POOL__OWNER_UID_UID;
		cp->uid = sp->uid;
	}
	if (sp->set_gid_case == POOLMGR__SET_POOL__SET_GID_GID) {
		cp->owner_gid_case = POOLMGR__CREATE_POOL__OWNER_GID_GID;
		cp->gid = sp->gid;
	}
	if (sp->set_quota_case == POOLMGR__SET_POOL__SET_QUOTA_QUOTA)
		cp->quota = sp->quota;
	if (sp->set_retain_case == POOLMGR__SET_POOL__SET_RETAIN_RETAIN) {
		cp->retention_case = POOLMGR__CREATE_POOL__RETENTION_RETAIN;
		cp->retain = sp->retain;
	}
	if (sp->set_limit_case == POOLMGR__SET_POOL__SET_LIMIT_LIMIT)
		cp->limit = sp->limit;
}

/* A mode of 0 would read as 0600 in CreatePool: pool_set refuses it too. */
static int
client_check_create_mode(const struct pool_set_opts *s)
{
	if ((s->which & POOL_SET_MODE) &&
	    (s->mode == 0 || (s->mode & ~0777u) != 0))
		return -EINVAL;
	return 0;
}

POOL_API int
pool_create(struct pool_conn *c, const char *name,
    const struct pool_create_opts *o)
{
	return pool_create_set(c, name, o, NULL);
}

POOL_API int
pool_create_set(struct pool_conn *c, const char *name,
    const struct pool_create_opts *o, const struct pool_set_opts *s)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool	cp = POOLMGR__CREATE_POOL__INIT;
	Poolmgr__SetPool	settings = POOLMGR__SET_POOL__INIT;
	struct pool_set_opts	given;
	int			error;

	conn_forget_refusal();
	if (c == NULL || o == NULL)
		return -EINVAL;
	if ((error = client_check_create(o)) != 0)
		return error;
	if (s != NULL && (error = client_check_set(s)) != 0)
		return error;
	if ((error = client_check_name(name)) != 0)
		return error;
	if (s != NULL && (error = client_check_create_mode(s)) != 0)
		return error;

	cp.name = (char *)name;
	cp.max_size = o->max_size;
	cp.granularity = o->granularity;
	cp.page_size = o->page_size;
	if (o->numa_policy != POOL_NUMA_NONE) {
		cp.numa_case = POOLMGR__CREATE_POOL__NUMA_NUMA_NODE;
		cp.numa_node = o->numa_node;
		cp.numa_policy = o->numa_policy;
	}
	given = client_create_given(o);
	client_encode_settings(&settings, &given);
	if (s != NULL)
		client_encode_settings(&settings, s);
	client_create_take(&cp, &settings);
	if ((error = client_check_limit(c, cp.limit != 0)) != 0)
		return error;
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &cp;
	return conn_call(c, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL, NULL);
}

POOL_API int
pool_set(struct pool_conn *c, const char *name, const struct pool_set_opts *o)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool	sp = POOLMGR__SET_POOL__INIT;
	int			error;

	conn_forget_refusal();
	if (c == NULL || o == NULL)
		return -EINVAL;
	if ((error = client_check_set(o)) != 0)
		return error;
	if ((error = client_check_name(name)) != 0)
		return error;
	if ((error = client_check_limit(c, o->which & POOL_SET_LIMIT)) != 0)
		return error;

	sp.name = (char *)name;
	client_encode_settings(&sp, o);
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &sp;
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
pool_stats(struct pool *p, struct pool_stats *out)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef	 ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply		*reply;
	int			 error;

	conn_forget_refusal();
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

/*
 * The cache reports of c's handles open on pool name, as pool_stats sends
 * its handle's: their handles and cached bytes into arrays made here (one
 * allocation, *cached to free), and how many.  Read under the
 * connection's lock, which a closing handle takes before its cache goes.
 * 0 when there is none, or no memory for them: the stats then go without,
 * as the caller's cached bytes as of its last request.
 */
static size_t
client_cache_reports(struct pool_conn *c, const char *name,
    uint32_t **handles, uint64_t **cached)
{
	struct pool	*p;
	size_t		 n = 0, max = 0;
	void		*mem;

	pthread_mutex_lock(&c->lock);
	TAILQ_FOREACH(p, &c->pools, entry)
		if (p->cache != NULL && strcmp(p->name, name) == 0)
			max++;
	pthread_mutex_unlock(&c->lock);
	if (max == 0 ||
	    (mem = malloc(max * (sizeof **handles + sizeof **cached))) == NULL)
		return 0;
	*cached = mem;
	*handles = (uint32_t *)(*cached + max);
	pthread_mutex_lock(&c->lock);
	TAILQ_FOREACH(p, &c->pools, entry) {
		if (p->cache == NULL || strcmp(p->name, name) != 0 || n == max)
			continue;
		(*handles)[n] = p->handle;
		(*cached)[n++] = cache_bytes(p);
	}
	pthread_mutex_unlock(&c->lock);
	if (n == 0)
		free(mem);
	return n;
}

POOL_API int
pool_stats_by_name(struct pool_conn *c, const char *name,
    struct pool_stats *out)
{
	Poolmgr__PoolRef	ref = POOLMGR__POOL_REF__INIT;

	uint32_t		*handles = NULL;
	uint64_t		*cached = NULL;
	size_t			 n, i;
	int			 error;

	conn_forget_refusal();
	if (c == NULL || out == NULL)
		return -EINVAL;
	if ((error = client_check_name(name)) != 0)
		return error;
	ref.name = (char *)name;
	n = client_cache_reports(c, name, &handles, &cached);
	if (n == 0)
		return client_stats(c, &ref, 0, 0, out);
	/*
	 * A request has room for one handle's report: with more handles of
	 * the pool, each goes with a Stats of its own, and the last reply,
	 * which the daemon made after every report, is the answer.
	 */
	for (i = 0; i < n; i++) {
		error = client_stats(c, &ref, handles[i], cached[i], out);
		/* Closed meanwhile by another thread: its report went too. */
		if (error == -EBADF)
			error = client_stats(c, &ref, 0, 0, out);
		if (error != 0)
			break;
	}
	free(cached);
	return error;
}

POOL_API int
pool_trim(struct pool *p)
{
	Poolmgr__PoolRef	ref = POOLMGR__POOL_REF__INIT;

	conn_forget_refusal();
	if (p == NULL)
		return -EINVAL;
	if (conn_forked(p->conn))
		return -ECHILD;
	/*
	 * Every free page: the blocks our cache holds go back first, and
	 * those other threads' flushes have on their way are freed (or
	 * flushed again) before the Trim goes.  Blocks the kernel would not
	 * let go stay cached and do not fail the trim: pool_flush says why.
	 */
	(void)cache_flush(p);
	ref.handle = p->handle;
	return client_trim(p->conn, &ref, NULL);
}

POOL_API int
pool_trim_by_name(struct pool_conn *c, const char *name, uint64_t *released)
{
	Poolmgr__PoolRef	ref = POOLMGR__POOL_REF__INIT;
	int			error;

	conn_forget_refusal();
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

	conn_forget_refusal();
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

	conn_forget_refusal();
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
	size_t	total;

	return client_clients(c, pool, out, n, &total);
}

POOL_API int
pool_clients_total(struct pool_conn *c, const char *pool,
    struct pool_client_info **out, size_t *n, size_t *total)
{
	return client_clients(c, pool, out, n, total);
}

/*
 * What the listings by pool name share, pool_persisted's and pool_names':
 * the counts zeroed, then the connection and the name checked.
 */
static int
client_list_begin(struct pool_conn *c, const char *name, size_t *n,
    size_t *total)
{
	*n = 0;
	*total = 0;
	if (c == NULL)
		return -EINVAL;
	return client_check_name(name);
}

/*
 * One listing's reply: its entries, and how many it left out; entry i
 * copied to item (0, or -EPROTO if the daemon sent nonsense).
 */
struct client_listing {
	size_t	  size;			/* bytes of an element of the array */
	void	(*count)(const Poolmgr__Reply *, size_t *, uint64_t *);
	int	(*copy)(const Poolmgr__Reply *, size_t, void *);
};

/*
 * Send req for a reply of body want, and copy its entries into a new
 * array, in *items; its entries in *n, and those with the unlisted ones
 * in *total.  Nothing is kept on an error.  A daemon that does not say
 * what it left out sends no unlisted, which reads as 0: then the list is
 * taken as whole.
 */
static int
client_list(struct pool_conn *c, Poolmgr__Request *req,
    Poolmgr__Reply__BodyCase want, const struct client_listing *l,
    void **items, size_t *n, size_t *total)
{
	Poolmgr__Reply	*reply;
	uint64_t	 unlisted;
	size_t		 count, i;
	char		*a;
	int		 error;

	if ((error = conn_call(c, req, want, &reply, NULL)) != 0)
		return error;
	l->count(reply, &count, &unlisted);
	if ((a = calloc(count ? count : 1, l->size)) == NULL)
		error = -ENOMEM;
	for (i = 0; error == 0 && i < count; i++)
		error = l->copy(reply, i, a + i * l->size);
	if (error == 0) {
		*items = a;
		*n = count;
		*total = count + (size_t)unlisted;
	} else
		free(a);
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}

static void
clients_count(const Poolmgr__Reply *reply, size_t *n, uint64_t *unlisted)
{
	*n = reply->clients->n_clients;
	*unlisted = reply->clients->unlisted;
}

static int
clients_copy(const Poolmgr__Reply *reply, size_t i, void *item)
{
	const Poolmgr__ClientInfo	*m = reply->clients->clients[i];
	struct pool_client_info		*ci = item;

	if (m == NULL)
		return -EPROTO;
	ci->pid = m->pid;
	ci->uid = m->uid;
	ci->gid = m->gid;
	/* A client names itself: cut a long name, it is only shown. */
	snprintf(ci->name, sizeof ci->name, "%s",
	    m->name != NULL ? m->name : "");
	ci->handle = m->handle;
	ci->read_only = m->read_only ? 1 : 0;
	ci->blocks = m->blocks;
	ci->bytes = m->bytes;
	ci->cached_bytes = m->cached_bytes;
	return client_copy_name(ci->pool, sizeof ci->pool, m->pool);
}

static const struct client_listing clients_listing = {
	sizeof(struct pool_client_info), clients_count, clients_copy
};

static int
client_clients(struct pool_conn *c, const char *pool,
    struct pool_client_info **out, size_t *n, size_t *total)
{
	Poolmgr__Request		 req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListClients		 lc = POOLMGR__LIST_CLIENTS__INIT;
	void				*items;
	int				 error;

	conn_forget_refusal();
	if (out == NULL || n == NULL || total == NULL)
		return -EINVAL;
	*out = NULL;
	*n = 0;
	*total = 0;
	if (c == NULL)
		return -EINVAL;
	if (pool != NULL) {
		if ((error = client_check_name(pool)) != 0)
			return error;
		lc.pool = (char *)pool;
	}

	req.body_case = POOLMGR__REQUEST__BODY_CLIENTS;
	req.clients = &lc;
	if ((error = client_list(c, &req, POOLMGR__REPLY__BODY_CLIENTS,
	    &clients_listing, &items, n, total)) == 0)
		*out = items;
	return error;
}

static void
persisted_count(const Poolmgr__Reply *reply, size_t *n, uint64_t *unlisted)
{
	*n = reply->persisted->n_uids;
	*unlisted = reply->persisted->unlisted;
}

static int
persisted_copy(const Poolmgr__Reply *reply, size_t i, void *item)
{
	const Poolmgr__PersistedBy	*u = reply->persisted->uids[i];
	struct pool_persisted		*pp = item;

	if (u == NULL)
		return -EPROTO;
	pp->uid = u->uid;
	pp->blocks = u->blocks;
	pp->bytes = u->bytes;
	return 0;
}

static const struct client_listing persisted_listing = {
	sizeof(struct pool_persisted), persisted_count, persisted_copy
};

POOL_API int
pool_persisted(struct pool_conn *c, const char *name,
    struct pool_persisted **out, size_t *n, size_t *total)
{
	Poolmgr__Request		 req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListPersisted		 lp = POOLMGR__LIST_PERSISTED__INIT;
	Poolmgr__PoolRef		 ref = POOLMGR__POOL_REF__INIT;
	void				*items;
	int				 error;

	conn_forget_refusal();
	if (out == NULL || n == NULL || total == NULL)
		return -EINVAL;
	*out = NULL;
	if ((error = client_list_begin(c, name, n, total)) != 0)
		return error;

	ref.name = (char *)name;
	lp.pool = &ref;
	req.body_case = POOLMGR__REQUEST__BODY_PERSISTED;
	req.persisted = &lp;
	if ((error = client_list(c, &req, POOLMGR__REPLY__BODY_PERSISTED,
	    &persisted_listing, &items, n, total)) == 0)
		*out = items;
	return error;
}

static void
names_count(const Poolmgr__Reply *reply, size_t *n, uint64_t *unlisted)
{
	*n = reply->names->n_names;
	*unlisted = reply->names->unlisted;
}

static int
names_copy(const Poolmgr__Reply *reply, size_t i, void *item)
{
	const Poolmgr__NamedBlock	*nb = reply->names->names[i];
	struct pool_named		*pn = item;

	/* A name with a NUL inside could not be told apart. */
	if (nb == NULL || nb->name.len == 0 ||
	    nb->name.len > POOL_BLOCK_NAME_MAX ||
	    memchr(nb->name.data, '\0', nb->name.len) != NULL)
		return -EPROTO;
	memcpy(pn->name, nb->name.data, nb->name.len);
	pn->offset = nb->offset;
	pn->usable_size = nb->usable_size;
	pn->publisher = nb->publisher;
	pn->evictable = nb->evictable;
	pn->generation = nb->generation;
	return 0;
}

static const struct client_listing names_listing = {
	sizeof(struct pool_named), names_count, names_copy
};

POOL_API int
pool_names(struct pool_conn *c, const char *name, const char *prefix,
    struct pool_named **out, size_t *n, size_t *total)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListNames	 ln = POOLMGR__LIST_NAMES__INIT;
	Poolmgr__PoolRef	 ref = POOLMGR__POOL_REF__INIT;
	void			*items;
	int			 error;

	conn_forget_refusal();
	if (out == NULL || n == NULL || total == NULL)
		return -EINVAL;
	*out = NULL;
	if ((error = client_list_begin(c, name, n, total)) != 0)
		return error;
	if (prefix != NULL &&
	    strnlen(prefix, POOL_BLOCK_NAME_MAX + 1) > POOL_BLOCK_NAME_MAX)
		return -ENAMETOOLONG;

	ref.name = (char *)name;
	ln.pool = &ref;
	if (prefix != NULL) {
		ln.prefix.data = (uint8_t *)prefix;
		ln.prefix.len = strlen(prefix);
	}
	req.body_case = POOLMGR__REQUEST__BODY_NAMES;
	req.names = &ln;
	if ((error = client_list(c, &req, POOLMGR__REPLY__BODY_NAMES,
	    &names_listing, &items, n, total)) == 0)
		*out = items;
	return error;
}
