/*
 * test_cache_lock.c - the lock of a client cache's shard and its wait
 * (client/cache_lock.c), by threads of the test's own.
 *
 *   threads_exclude_each_other  four threads add to one plain counter
 *       under the lock, on two CPUs and more, so that they meet in it
 *       and sleep on it: no addition is lost, and the lock ends free.
 *   wake_reaches_every_waiter  three threads wait under the lock for a
 *       flag set under it; one wake after the flag ends every wait, and
 *       each finds the flag and the lock its own.  A wake with nobody
 *       waiting ends no later wait.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cache_lock.h"

#define ADDERS		4
#define ADDS		1000000
#define WAITERS		3

static struct cache_lock lock;
static unsigned long counter;		/* under lock */
static int flag;			/* under lock */
static int woken;			/* under lock */
static int waiting;			/* under lock */

static void
sleep_ms(long ms)
{
	struct timespec	ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void *
adder(void *arg)
{
	unsigned long	v;
	int		i, j;

	(void)arg;
	for (i = 0; i < ADDS; i++) {
		cache_lock(&lock);
		/* A read, a pause, a write: a second holder would be seen. */
		v = counter;
		for (j = 0; j < 16; j++)
			__asm__ volatile("" ::: "memory");
		counter = v + 1;
		cache_unlock(&lock);
	}
	return NULL;
}

static void
threads_exclude_each_other(void **state)
{
	pthread_t	t[ADDERS];
	int		i;

	(void)state;
	cache_lock_init(&lock);
	counter = 0;
	for (i = 0; i < ADDERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, adder, NULL), 0);
	for (i = 0; i < ADDERS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(counter, (unsigned long)ADDERS * ADDS);
	assert_int_equal(__atomic_load_n(&lock.word, __ATOMIC_RELAXED), 0);
}

static void *
waiter(void *arg)
{
	(void)arg;
	cache_lock(&lock);
	waiting++;
	while (!flag)
		cache_lock_wait(&lock);
	woken++;
	cache_unlock(&lock);
	return NULL;
}

static void
wake_reaches_every_waiter(void **state)
{
	pthread_t	t[WAITERS];
	int		i, n;

	(void)state;
	cache_lock_init(&lock);
	flag = woken = waiting = 0;
	/* Nobody waits: no later wait may count on this one. */
	cache_lock(&lock);
	cache_lock_wake(&lock);
	cache_unlock(&lock);
	for (i = 0; i < WAITERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, waiter, NULL), 0);
	do {
		sleep_ms(10);
		cache_lock(&lock);
		n = waiting;
		cache_unlock(&lock);
	} while (n < WAITERS);
	sleep_ms(50);		/* all asleep in the wait, or about to be */
	cache_lock(&lock);
	assert_int_equal(woken, 0);
	assert_int_equal(lock.waiters, WAITERS);
	flag = 1;
	cache_lock_wake(&lock);
	cache_unlock(&lock);
	alarm(20);	/* a lost wake kills the test, and says so */
	for (i = 0; i < WAITERS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	alarm(0);
	assert_int_equal(woken, WAITERS);
	assert_int_equal(lock.waiters, 0);
	assert_int_equal(__atomic_load_n(&lock.word, __ATOMIC_RELAXED), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(threads_exclude_each_other),
		cmocka_unit_test(wake_reaches_every_waiter),
	};

	return cmocka_run_group_tests_name("unit: cache lock", tests, NULL,
					   NULL);
}
