/*
 * cache_conn.c - whether a caching handle may serve at all: the daemon
 * alive, the pool not destroyed under the handle, the share map current.
 * Points 4 and 7 of the design in cache.c.
 *
 * Cache hits make no round trip, so nothing else tells them that the daemon
 * died, that the pool was destroyed by force or that a restart in place
 * froze the map.  conn_check (cache_internal.h), which every cache
 * operation calls, is a few loads within a tick of the coarse clock that
 * the thread has already probed the socket in, with nothing amiss; past
 * that, cache_conn_check_slow reads the state word, peeks at the socket
 * once a tick, and has a replaced map renewed by one thread at a time.
 *
 * Invariants: the pool's state word is read before anything else is
 * trusted (a destroyed pool answers -EBADF however alive the daemon); a
 * renewal runs with cancellation off, so the cache's renew word never stays
 * RENEW_BUSY; a map that could not be renewed is not asked for again, and
 * the frozen one it keeps says every block is shared, which is always
 * safe.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "cache_internal.h"

/* When this thread last probed the socket (4); cache_internal.h. */
__thread int64_t	 cache_thread_probed
	    __attribute__((tls_model("initial-exec"), visibility("hidden")));

/*
 * The share map after a restart in place (7): one thread asks for the new
 * one; the others go on meanwhile with the frozen one, which is safe.  A
 * map that could not be had is not asked for again: the handle goes on
 * with the frozen one, every free to the daemon.  Nor is one after a new
 * map that says "replaced" already: a restart in the microseconds since
 * the reply, or a daemon that would be asked on every call.
 */
static void
renew_map(struct pool *p)
{
	struct cache	*k = p->cache;
	int		 idle = RENEW_IDLE, ok, cancel;

	if (!__atomic_compare_exchange_n(&k->renew, &idle, RENEW_BUSY, 0,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	/* Not a cancellation point (close): the state would stay busy. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	ok = client_share_renew(p) == 0 &&
	    __atomic_load_n(k->replaced, __ATOMIC_ACQUIRE) == 0;
	__atomic_store_n(&k->renew, ok ? RENEW_IDLE : RENEW_FAILED,
	    __ATOMIC_RELEASE);
	pthread_setcancelstate(cancel, NULL);
}

/*
 * conn_check once this thread's tick is over, or when something is amiss:
 * the checks in full, in their order, and a peek at the socket.
 */
int
cache_conn_check_slow(struct pool *p, int64_t now)
{
	int	probe, error;

	/* Found here, not asked: no earlier refusal's words (another pool's). */
	if (__atomic_load_n(p->cache->state, __ATOMIC_ACQUIRE) != 0)
		return conn_local_failure(-EBADF);

	probe = now != cache_thread_probed;
	cache_thread_probed = now;
	if ((error = conn_alive(p->conn, probe)) != 0)
		return error;
	if (__atomic_load_n(p->cache->replaced, __ATOMIC_ACQUIRE) != 0)
		renew_map(p);
	return 0;
}

int
cache_check(struct pool *p)
{
	if (p->cache == NULL)
		return conn_alive(p->conn, 1);
	return conn_check(p);
}
