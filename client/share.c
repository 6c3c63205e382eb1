/*
 * share.c - the daemon's share map on the client side: checking a map the
 * daemon hands over, and taking up the pool's new map after the daemon
 * restarted in place.
 *
 * A restart in place freezes the map every handle had (every bit set, so
 * nothing freed is kept: safe, but no cache) and sets its "replaced" word
 * (docs/protocol.md).  The cache reads that word where it reads the state
 * word and then asks for the map in use (ShareMap), once per restart.  The
 * new map is mapped over the old one at the same address, in one step of
 * the kernel's: the cache's pointers into it stay valid, and a thread
 * reading a bit meanwhile reads it in the frozen map (set) or in the new
 * one (the truth), never in nothing.  So no lock is needed, and the
 * frozen map's pages go with its last mapping.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "client_internal.h"

/* Linux 5.1; older C libraries lack the name. */
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif

/* ThreadSanitizer: gcc says so in a macro, clang in a feature. */
#if defined(__SANITIZE_THREAD__)
#define SHARE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHARE_TSAN 1
#endif
#endif

/* The share map's page: the system's, for a pool on huge pages too. */
uint64_t
client_share_page(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 * Check a share map before mapping it: sealed against writing (so that
 * no other client can set or clear a bit), shrinking and growing, and as
 * long as the daemon says; and that length the bits of p's granules,
 * rounded up to system pages, and the page of the state words.
 */
int
client_share_check(const struct pool *p, int fd, uint64_t size)
{
	uint64_t	bits = (p->size + p->granularity - 1) / p->granularity;
	uint64_t	page = client_share_page();

	if (fd == -1 || size > SIZE_MAX ||
	    size < (bits + 7) / 8 + page || size % page != 0)
		return -EPROTO;
	return client_memfd_check(fd,
	    F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_FUTURE_WRITE, size);
}

/*
 * A read-only shared mapping of fd at at.  ThreadSanitizer takes an mmap
 * for a write of the whole range, and so for a race with every thread
 * reading a bit there; the kernel swaps the pages in one step, and no
 * byte of the map is ever written by this process: under it, the call
 * goes around its interceptor.
 */
static void *
client_share_mmap(void *at, size_t len, int flags, int fd)
{
#ifdef SHARE_TSAN
	return (void *)syscall(SYS_mmap, at, len, PROT_READ, flags, fd, 0);
#else
	return mmap(at, len, PROT_READ, flags, fd, 0);
#endif
}

/*
 * Put the map fd over p's at its address.  Should the kernel fail after
 * it took the old mapping away, the hole is filled with the new one if it
 * can be: a thread reading a bit there would fault.
 */
static int
client_share_remap(struct pool *p, int fd)
{
	void	*at = (void *)p->share_map, *m;
	int	 error;

	m = client_share_mmap(at, p->share_size, MAP_SHARED|MAP_FIXED, fd);
	if (m == at)
		return 0;
	error = errno == ENOMEM ? -ENOMEM : -EPROTO;
	m = client_share_mmap(at, p->share_size,
	    MAP_SHARED|MAP_FIXED_NOREPLACE, fd);
	if (m == at)
		return 0;
	if (m != MAP_FAILED)	/* a kernel that knows no NOREPLACE */
		munmap(m, p->share_size);
	return error;
}

/*
 * Ask the daemon for the pool's share map now and map it over p's.  0,
 * or why p keeps the map it has: -EOPNOTSUPP from a daemon that knows no
 * ShareMap, -EPROTO for a map not sealed or sized as p's, -ENOMEM, ...
 */
int
client_share_renew(struct pool *p)
{
	Poolmgr__Request	 req = POOLMGR__REQUEST__INIT;
	Poolmgr__ShareMap	 sm = POOLMGR__SHARE_MAP__INIT;
	Poolmgr__Reply		*reply;
	struct conn_fds		 fds;
	int			 error;

	sm.handle = p->handle;
	req.body_case = POOLMGR__REQUEST__BODY_SHARE_MAP;
	req.share_map = &sm;
	error = conn_call(p->conn, &req, POOLMGR__REPLY__BODY_SHARE_MAP,
	    &reply, &fds);
	if (error != 0)
		return error;
	/* The pool's size and granularity stay: so does its map's size. */
	if (fds.fd[0] == -1 && fds.dropped)
		error = -EMFILE;
	else if (reply->share_map->share_map_size != p->share_size)
		error = -EPROTO;
	else if ((error = client_share_check(p, fds.fd[0],
	    p->share_size)) == 0)
		error = client_share_remap(p, fds.fd[0]);
	/* The mapping keeps the map; the descriptor is not needed. */
	conn_fds_close(&fds);
	poolmgr__reply__free_unpacked(reply, NULL);
	return error;
}
