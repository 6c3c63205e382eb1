/*
 * open.c - libpoolclient's connections and open pools: pool_connect,
 * pool_connect_timeout and pool_disconnect; opening a pool, which checks
 * and maps its memfd (and, for a read-write handle, the share map that
 * starts the handle's cache, cache.c); and closing it.  This file makes
 * and unmakes struct pool.  The socket is conn.c's, the blocks of an open
 * pool are pool.c's (and batch.c's, alloc_wait.c's and realloc.c's).
 *
 * It is apart from the requests about pools by name (admin.c, stats.c,
 * lists.c) because only here does the daemon hand over memory, and what
 * it hands over is checked before it is used: a descriptor that is not
 * sealed and sized as announced, a handle of 0, a granularity or page
 * size that is no power of two is -EPROTO, never a wild pointer.  And
 * only here does a failure leave something behind to give back: a handle
 * the daemon gave is released whatever fails after it (client_release).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

static int	client_check_fd(int, uint64_t, int);
static uint8_t	*client_map(int, uint64_t, uint64_t, int);
static void	client_release(struct pool_conn *, uint32_t);
static int	client_open(struct pool_conn *, const char *, int,
		    struct pool **);

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
	/*
	 * The two checks of the mode are also made by mmap in client_map,
	 * which refuses a shared mapping of a descriptor not open for
	 * reading, or a writable one of a descriptor not open for writing
	 * (EACCES, so -EPROTO): here the lie is refused before anything is
	 * reserved or mapped, whatever else mapping the size announced could
	 * fail for first (no address space for it: -ENOMEM).
	 */
	if ((flags & O_ACCMODE) == O_WRONLY)
		return -EPROTO;
	if (!read_only && (flags & O_ACCMODE) != O_RDWR)
		return -EPROTO;
	return 0;
}

/*
 * The alignment of a pool's mapping (see CLIENT_MAP_ALIGN_MAX): also the
 * most that pool_alloc_aligned can promise of an address.
 */
size_t
client_map_align(uint64_t size, uint64_t pool_page)
{
	size_t	page = (size_t)sysconf(_SC_PAGESIZE), align;

	align = pool_page > page ? (size_t)pool_page : page;
	while (align < CLIENT_MAP_ALIGN_MAX && align * 2 <= size)
		align *= 2;
	return align;
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
	align = client_map_align(size, pool_page);

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
		return p;
	}
	/*
	 * Out of the program's core dumps: a dump reads every page of a
	 * mapping, and on the pool's memfd a read of a page no block uses
	 * makes it resident, so one crash of a program that maps a pool of
	 * 64 GiB would commit 64 GiB to the pool, past its limit, and write
	 * as much into the core.  A program that wants its blocks in its
	 * core asks for them (madvise MADV_DODUMP).  No error: a kernel
	 * without it dumps the mapping, as before.
	 */
	(void)madvise(p, size, MADV_DONTDUMP);
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

/* pool_connect and pool_connect_timeout: timeout_ms -1 is no bound. */
static int
client_connect(const char *socket_path, int timeout_ms,
    struct pool_conn **out)
{
	int	cancel, error;

	conn_forget_refusal();
	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (timeout_ms < -1)
		return -EINVAL;
	if (socket_path == NULL) {
		socket_path = getenv("POOLMGRD_SOCKET");
		if (socket_path == NULL || *socket_path == '\0')
			socket_path = POOL_DEFAULT_SOCKET;
	}
	cancel = client_nocancel();
	error = conn_open(socket_path, timeout_ms, out);
	client_cancel_restore(cancel);
	return error;
}

POOL_API int
pool_connect(const char *socket_path, struct pool_conn **out)
{
	return client_connect(socket_path, conn_env_timeout(), out);
}

POOL_API int
pool_connect_timeout(const char *socket_path, int timeout_ms,
    struct pool_conn **out)
{
	return client_connect(socket_path, timeout_ms, out);
}

POOL_API void
pool_disconnect(struct pool_conn *c)
{
	struct conn_words	 words;
	struct pool		*p;
	int			 cancel;

	if (c == NULL)
		return;
	cancel = client_nocancel();
	conn_words_save(&words);

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
	conn_words_restore(&words);
	client_cancel_restore(cancel);
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
	struct conn_words	 words;
	struct pool_conn	*c;

	if (p == NULL)
		return;
	c = p->conn;
	conn_words_save(&words);

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
	conn_words_restore(&words);
}
