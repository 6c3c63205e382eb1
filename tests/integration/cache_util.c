/*
 * cache_util.c - the client cache tests' daemon and handles, and the send
 * that fails or holds what they ask it to (cache_util.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "cache_util.h"
#include "poolmgr.pb-c.h"

#define CONFIG	"[pool c]\nsize = 16M\n" \
		"[pool tight]\nsize = 64K\ngranularity = 16\n"

struct daemon_proc daemon_proc;
pid_t kid;

/*
 * Each test has a daemon of its own, started before it and stopped after
 * it.  The stop is the test's last check: a daemon that does not exit
 * cleanly fails the test (cmocka fails a test whose teardown fails).  A
 * test that stopped its daemon itself has checked that stop.
 */
int
cache_setup(void **state)
{
	(void)state;
	if (harness_start(&daemon_proc, CONFIG) != 0) {
		/* No teardown follows a failed setup: a daemon begun goes. */
		if (daemon_proc.pid > 0)
			harness_stop(&daemon_proc);
		fail_msg("harness_start failed (build %s)", harness_build());
	}
	return 0;
}

int
cache_teardown(void **state)
{
	(void)state;
	/* A child that a failed test left running does not outlive it. */
	if (kid > 0) {
		kill(kid, SIGKILL);
		harness_wait(kid);
		kid = 0;
	}
	harness_fixture_stop(&daemon_proc);
	return 0;
}

/* A handle with a cache of 1 MiB whatever $POOLMGR_CLIENT_CACHE says. */
struct pool *
open_ok(struct pool_conn **c, const char *name)
{
	struct pool *p = NULL;

	EXPECT_RC(pool_connect(NULL, c), 0);
	EXPECT_RC(pool_open(*c, name, &p), 0);
	EXPECT_RC(pool_set_cache(p, 1 << 20), 0);
	return p;
}

struct pool_stats
stats(struct pool *p)
{
	struct pool_stats st = {.max_size = 0};

	EXPECT_RC(pool_stats(p, &st), 0);
	return st;
}

void
check(struct pool_conn *c, const char *name)
{
	char msg[256] = "";
	int rc = pool_check_by_name(c, name, msg, sizeof(msg));

	if (rc)
		fail_msg("check %s: %s: %s", name, pool_strerror(rc), msg);
}

/* n allocations of size through p: none may be at off. */
void
never_handed_out(struct pool *p, size_t size, pool_off_t off, unsigned n)
{
	pool_off_t got[200];
	unsigned i;

	assert_true(n <= 200);
	for (i = 0; i < n; i++) {
		EXPECT_RC(pool_alloc(p, size, &got[i]), 0);
		if (got[i] == off)
			fail_msg("allocation %u got %#" PRIx64 ", a block "
				 "another holder still has", i, off);
	}
	for (i = 0; i < n; i++)
		EXPECT_RC(pool_free(p, got[i]), 0);
}

/* ---- flushes that cannot be sent ----------------------------------------- */

/*
 * While freebatch_failing is set, every FreeBatch this process sends fails
 * as the kernel fails a send with no buffer space: ENOBUFS, nothing sent,
 * the connection fine.  libpoolclient's send comes here: the tests link
 * libpoolclient.a, and a send defined in the program wins over libc's.
 */
int freebatch_failing;	/* atomic */
int freebatch_refused;	/* atomic: sends failed so far */
int closes_to_fail;	/* atomic: ClosePools to fail, from now */
/*
 * atomic: hold the next FreeBatch after it is sent (the daemon gets it),
 * as a thread preempted before it hears back would be: posts
 * freebatch_sent, waits for freebatch_go.
 */
int freebatch_hold;
sem_t freebatch_sent, freebatch_go;
/* atomic: a FreeBatch naming this block fails with ENOBUFS. */
pool_off_t freebatch_poison = POOL_OFF_NONE;
/*
 * atomic: the next FreeBatch naming this block goes with an offset inside
 * it instead, which is no block: the daemon refuses the batch (-EINVAL)
 * and names that offset's index (failed_index), as it does for a block the
 * handle does not hold.  Then back to POOL_OFF_NONE.
 */
pool_off_t freebatch_refuse = POOL_OFF_NONE;

__thread struct thread_hold *my_hold;

/* The body of the request in buf, or not set. */
static Poolmgr__Request__BodyCase
body_of(const void *buf, size_t len)
{
	Poolmgr__Request *req = poolmgr__request__unpack(NULL, len, buf);
	Poolmgr__Request__BodyCase body = POOLMGR__REQUEST__BODY__NOT_SET;

	if (req != NULL) {
		body = req->body_case;
		poolmgr__request__free_unpacked(req, NULL);
	}
	return body;
}

/* The index of off in the FreeBatch in buf, or -1. */
static long
batch_index_of(const void *buf, size_t len, pool_off_t off)
{
	Poolmgr__Request *req = poolmgr__request__unpack(NULL, len, buf);
	long found = -1;
	size_t i;

	if (req == NULL)
		return -1;
	if (req->body_case == POOLMGR__REQUEST__BODY_FREE_BATCH)
		for (i = 0; i < req->free_batch->n_offsets && found < 0; i++)
			if (req->free_batch->offsets[i] == off)
				found = (long)i;
	poolmgr__request__free_unpacked(req, NULL);
	return found;
}

/* Fail this send as the kernel does when it has no buffer for it? */
static bool
send_fails(const void *buf, size_t len)
{
	Poolmgr__Request__BodyCase body = body_of(buf, len);
	pool_off_t poison = __atomic_load_n(&freebatch_poison,
					    __ATOMIC_ACQUIRE);

	if (body == POOLMGR__REQUEST__BODY_FREE_BATCH)
		return __atomic_load_n(&freebatch_failing, __ATOMIC_ACQUIRE) ||
		       (poison != POOL_OFF_NONE &&
			batch_index_of(buf, len, poison) >= 0);
	if (body == POOLMGR__REQUEST__BODY_CLOSE)
		return __atomic_fetch_sub(&closes_to_fail, 1,
					  __ATOMIC_ACQ_REL) > 0;
	return false;
}

typedef ssize_t (*send_fn)(int, const void *, size_t, int);

/*
 * Send the FreeBatch in buf with an offset inside block off in place of
 * off (at index i); the length of buf, as if buf went.
 */
static ssize_t
send_refused(send_fn fn, int fd, const void *buf, size_t len, int flags,
	     pool_off_t off, long i)
{
	Poolmgr__Request *req = poolmgr__request__unpack(NULL, len, buf);
	uint8_t *out;
	ssize_t n = -1;

	if (req == NULL)
		return -1;
	req->free_batch->offsets[i] = off + 1;
	if ((out = malloc(poolmgr__request__get_packed_size(req))) != NULL) {
		n = fn(fd, out, poolmgr__request__pack(req, out), flags);
		free(out);
	}
	poolmgr__request__free_unpacked(req, NULL);
	return n < 0 ? n : (ssize_t)len;
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	static send_fn real;	/* atomic */
	send_fn fn;
	pool_off_t refuse;
	long i;

	if ((__atomic_load_n(&freebatch_failing, __ATOMIC_ACQUIRE) ||
	     __atomic_load_n(&freebatch_poison, __ATOMIC_ACQUIRE) !=
	     POOL_OFF_NONE ||
	     __atomic_load_n(&closes_to_fail, __ATOMIC_ACQUIRE) > 0) &&
	    send_fails(buf, len)) {
		__atomic_add_fetch(&freebatch_refused, 1, __ATOMIC_RELAXED);
		errno = ENOBUFS;
		return -1;
	}
	if (my_hold != NULL &&
	    body_of(buf, len) == POOLMGR__REQUEST__BODY_FREE_BATCH) {
		if (!my_hold->done) {
			my_hold->done = true;
			sem_post(&my_hold->sent);
			sem_wait(&my_hold->go);
		}
		if (my_hold->fail) {
			errno = ENOBUFS;
			return -1;
		}
	}
	if ((fn = __atomic_load_n(&real, __ATOMIC_ACQUIRE)) == NULL) {
		fn = (send_fn)dlsym(RTLD_NEXT, "send");
		__atomic_store_n(&real, fn, __ATOMIC_RELEASE);
	}
	if ((refuse = __atomic_load_n(&freebatch_refuse, __ATOMIC_ACQUIRE)) !=
	    POOL_OFF_NONE && (i = batch_index_of(buf, len, refuse)) >= 0 &&
	    __atomic_exchange_n(&freebatch_refuse, POOL_OFF_NONE,
				__ATOMIC_ACQ_REL) == refuse)
		return send_refused(fn, fd, buf, len, flags, refuse, i);
	if (__atomic_load_n(&freebatch_hold, __ATOMIC_ACQUIRE) &&
	    body_of(buf, len) == POOLMGR__REQUEST__BODY_FREE_BATCH &&
	    __atomic_exchange_n(&freebatch_hold, 0, __ATOMIC_ACQ_REL)) {
		ssize_t n = fn(fd, buf, len, flags);

		sem_post(&freebatch_sent);
		sem_wait(&freebatch_go);
		return n;
	}
	return fn(fd, buf, len, flags);
}

/* Every FreeBatch fails from now, none refused so far. */
void
fail_free_batches(void)
{
	__atomic_store_n(&freebatch_refused, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&freebatch_failing, 1, __ATOMIC_RELEASE);
}

/* Send FreeBatches again; fails the test if none was refused meanwhile. */
void
send_free_batches(void)
{
	__atomic_store_n(&freebatch_failing, 0, __ATOMIC_RELEASE);
	if (__atomic_load_n(&freebatch_refused, __ATOMIC_RELAXED) == 0)
		fail_msg("no FreeBatch was sent while they were to fail");
}

/* ---- thread T's flush, held ---------------------------------------------- */

struct thread_hold hold_t;
int rc_failed_flush;

void *
job_failing_flush(void *arg)
{
	my_hold = &hold_t;
	rc_failed_flush = pool_flush(arg);
	my_hold = NULL;
	return NULL;
}
