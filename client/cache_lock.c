/*
 * cache_lock.c - the contended halves of a cache shard's lock, and its
 * wait (cache_lock.h).
 *
 * The lock is the three-state futex mutex: 0 free, 1 held, 2 held with
 * perhaps a sleeper.  A thread that finds it held marks it 2 and sleeps
 * while it stays 2; the holder that gives up a 2 wakes one sleeper, which
 * takes it as 2 again, since others may still sleep.
 */
#include <sys/syscall.h>

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <unistd.h>

#include "cache_lock.h"

static void
futex_wait(int *word, int val)
{
	/* EAGAIN (it moved on), EINTR: the caller looks again. */
	(void)syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void
futex_wake(int *word, int n)
{
	(void)syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

void
cache_lock_init(struct cache_lock *l)
{
	l->word = 0;
	l->seq = 0;
	l->waiters = 0;
}

void
cache_lock_slow(struct cache_lock *l, int c)
{
	if (c != 2)
		c = __atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		futex_wait(&l->word, 2);
		c = __atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE);
	}
}

void
cache_unlock_slow(struct cache_lock *l)
{
	futex_wake(&l->word, 1);
}

void
cache_lock_wait(struct cache_lock *l)
{
	int	seq = __atomic_load_n(&l->seq, __ATOMIC_RELAXED);

	l->waiters++;
	cache_unlock(l);
	/* A wake after the load moved seq on: the wait returns at once. */
	futex_wait(&l->seq, seq);
	/* Taken as contended: other waiters may sleep on the word. */
	cache_lock_slow(l, 1);
	l->waiters--;
}

void
cache_lock_wake(struct cache_lock *l)
{
	__atomic_add_fetch(&l->seq, 1, __ATOMIC_RELAXED);
	if (l->waiters > 0)
		futex_wake(&l->seq, INT_MAX);
}
