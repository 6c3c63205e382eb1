/*
 * cache_lock.h - the lock of a shard of a handle's cache, and the wait
 * under it for a busy block.
 *
 * A futex word rather than a pthread mutex: a cache hit takes one lock
 * and gives it back, and an uncontended compare-and-swap and exchange,
 * inline, cost a fraction of pthread_mutex_lock and _unlock.  Waits are
 * rare (a block being shrunk or flushed, a flush on its way), so the
 * condition is a sequence word that each wake moves on, and a wake with
 * nobody waiting makes no system call.  Neither the lock nor the wait is
 * a cancellation point: a thread is never cancelled with a shard locked.
 * Its atomics carry the ordering, so thread sanitizers see the lock as
 * the lock it is.
 */
#ifndef CLIENT_CACHE_LOCK_H
#define CLIENT_CACHE_LOCK_H

struct cache_lock {
	int		 word;		/* 0 free, 1 held, 2 held, others
					 * may sleep on it */
	int		 seq;		/* moved on by each wake */
	unsigned	 waiters;	/* in cache_lock_wait; locked */
};

void	cache_lock_init(struct cache_lock *);
/* The contended halves, out of line. */
void	cache_lock_slow(struct cache_lock *, int);
void	cache_unlock_slow(struct cache_lock *);
/*
 * Give the lock up, sleep until a cache_lock_wake (or spuriously), and
 * take it again: the caller looks again at what it waits for.
 */
void	cache_lock_wait(struct cache_lock *);
/* Wake every thread in cache_lock_wait.  Locked. */
void	cache_lock_wake(struct cache_lock *);

static inline void
cache_lock(struct cache_lock *l)
{
	int	c = 0;

	if (!__atomic_compare_exchange_n(&l->word, &c, 1, 0,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		cache_lock_slow(l, c);
}

static inline void
cache_unlock(struct cache_lock *l)
{
	if (__atomic_exchange_n(&l->word, 0, __ATOMIC_RELEASE) == 2)
		cache_unlock_slow(l);
}

#endif /* CLIENT_CACHE_LOCK_H */
