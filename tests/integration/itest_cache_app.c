/*
 * itest_cache_app.c - a cache shared by many processes, built on names as
 * its programmer would from libpoolclient(3): writers put each value in
 * a block and publish it evictable under its key, replacing the one
 * before; readers look keys up with retain, read and let go; the pool
 * has a limit below its size, so that puts evict the least recently
 * used values nobody holds.
 *
 *   values_intact_across_kills_and_restarts  two writers and two
 *       readers at work, two restarts in place, then a writer and a
 *       reader that worked across them killed by SIGKILL in the middle
 *       of theirs: no put refused, no
 *       value read other than as written, before or after the writers
 *       went on, no reference lost or kept; once all are gone the pool
 *       holds its names' blocks and nothing else, each name's bytes as
 *       written, under its limit, and the check passes.
 *
 * Each value begins with a header: its key, its length and a checksum of
 * the bytes after it.  A reader that sees another key, a length past its
 * block or a wrong checksum has been given a block reused under it.
 * Workers report through their exit codes (each failed check its own,
 * and a line on stderr); they run a fixed number of rounds, not a time.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

#define POOL		"app"
#define CONF		"[pool app]\nsize = 8M\nlimit = 2M\n"
#define LIMIT		(2u << 20)
#define KEYS		64
#define VALUE_MIN	1000
#define VALUE_SPREAD	60000	/* values of VALUE_MIN to that more */
#define PUTS		1500	/* a writer's rounds */
#define GETS		3000	/* a reader's */
#define VICTIM_READY	200	/* a victim's rounds before it says so */
#define POLL_MS		50
#define POLL_TRIES	200	/* 10 s for the daemon to drop the dead's */

static struct daemon_proc d;

struct value_head {
	uint32_t key;
	uint32_t len;		/* bytes after the header */
	uint32_t sum;
	uint32_t writer;
};

struct worker {
	unsigned id;
	int rounds;		/* 0: until killed */
	int ready;		/* victims: a byte here once at work */
};

static int
setup(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	return harness_start(&d, CONF) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	if (d.pid > 0)
		assert_int_equal(harness_stop(&d), 0);
	return 0;
}

/* FNV-1a: any change of a byte changes it. */
static uint32_t
checksum(const unsigned char *b, size_t n)
{
	uint32_t s = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		s = (s ^ b[i]) * 16777619u;
	return s;
}

static void
key_name(unsigned key, char *buf, size_t len)
{
	snprintf(buf, len, "key%03u", key);
}

/* rand_r's next, as the worker's own sequence. */
static unsigned
next(unsigned *seed)
{
	return (unsigned)rand_r(seed);
}

/* Is the value at b, of a block of usable bytes, key's as written? */
static bool
value_ok(const unsigned char *b, size_t usable, unsigned key)
{
	const struct value_head *h = (const void *)b;

	return h->key == key && h->len <= usable - sizeof(*h) &&
	       checksum(b + sizeof(*h), h->len) == h->sum;
}

static int
open_pool(struct pool_conn **c, struct pool **p)
{
	if (pool_connect(d.sock, c) != 0)
		return -1;
	if (pool_open(*c, POOL, p) != 0) {
		pool_disconnect(*c);
		return -1;
	}
	return 0;
}

static void
say_ready(struct worker *w, int round)
{
	if (w->ready >= 0 && round == VICTIM_READY) {
		(void)harness_write_full(w->ready, "r", 1);
		close(w->ready);
		w->ready = -1;
	}
}

/* A put: a fresh block written, published over the key's, let go. */
static int
put(struct pool *p, unsigned key, unsigned *seed, unsigned id)
{
	size_t len = VALUE_MIN + next(seed) % VALUE_SPREAD, i;
	struct value_head *h;
	unsigned char *b;
	char name[16];
	pool_off_t off;

	CHECK_RC(pool_alloc(p, sizeof(*h) + len, &off), 0, 10);
	b = pool_ptr(p, off);
	h = (void *)b;
	for (i = 0; i < len; i++)
		b[sizeof(*h) + i] = (unsigned char)next(seed);
	h->key = key;
	h->len = (uint32_t)len;
	h->sum = checksum(b + sizeof(*h), len);
	h->writer = id;
	key_name(key, name, sizeof(name));
	CHECK_RC(pool_publish_flags(p, off, name, POOL_PUBLISH_EVICTABLE |
				    POOL_PUBLISH_REPLACE), 0, 11);
	CHECK_RC(pool_free(p, off), 0, 12);
	return 0;
}

static int
writer(void *arg)
{
	struct worker *w = arg;
	unsigned seed = w->id * 7919u + 1;
	struct pool_conn *c;
	struct pool *p;
	int round, rc;

	CHECK(open_pool(&c, &p) == 0, 2);
	for (round = 1; w->rounds == 0 || round <= w->rounds; round++) {
		if ((rc = put(p, next(&seed) % KEYS, &seed, w->id)) != 0)
			return rc;
		say_ready(w, round);
	}
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * A get: the key's value held, checked, checked again once the writers
 * have had time to replace and evict around it, let go.  A miss (never
 * put, or evicted) is a cache's miss.
 */
static int
get(struct pool *p, unsigned key)
{
	const unsigned char *b;
	char name[16];
	pool_off_t off;
	size_t usable;
	int rc;

	key_name(key, name, sizeof(name));
	rc = pool_lookup_retain(p, name, &off, &usable);
	if (rc == -ENOENT)
		return 0;
	CHECK_RC(rc, 0, 20);
	b = pool_ptr(p, off);
	CHECK(value_ok(b, usable, key), 21);
	usleep(100);
	CHECK(value_ok(b, usable, key), 22);
	CHECK_RC(pool_free(p, off), 0, 23);
	return 0;
}

static int
reader(void *arg)
{
	struct worker *w = arg;
	unsigned seed = w->id * 104729u + 3;
	struct pool_conn *c;
	struct pool *p;
	int round, rc;

	CHECK(open_pool(&c, &p) == 0, 3);
	for (round = 1; w->rounds == 0 || round <= w->rounds; round++) {
		if ((rc = get(p, next(&seed) % KEYS)) != 0)
			return rc;
		say_ready(w, round);
	}
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* A worker that runs until killed; back once it is at work. */
static pid_t
victim(int (*fn)(void *), unsigned id)
{
	struct worker w = {.id = id, .rounds = 0};
	int fds[2];
	char b;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	w.ready = fds[1];
	pid = harness_spawn(fn, &w);
	assert_true(pid > 0);
	close(fds[1]);
	assert_int_equal(harness_read_full(fds[0], &b, 1), 0);
	close(fds[0]);
	return pid;
}

/* Poll until the pool's live blocks are its named ones (the daemon drops
 * a dead client's references when its loop reads the EOF). */
static struct pool_stats
wait_only_names(struct pool *p)
{
	struct pool_stats st;
	int i;

	for (i = 0; i < POLL_TRIES; i++) {
		st = harness_stats(p);
		if (st.live_blocks == st.named_blocks && st.clients == 1)
			return st;
		harness_sleep_ms(POLL_MS);
	}
	fail_msg("after %d ms the pool has %llu live blocks, %llu named, "
		 "%llu handles", POLL_TRIES * POLL_MS,
		 (unsigned long long)st.live_blocks,
		 (unsigned long long)st.named_blocks,
		 (unsigned long long)st.clients);
	return st;
}

/* Every name's value as written, under its key; how many there are. */
static size_t
expect_values(struct pool_conn *c, struct pool *p)
{
	struct pool_named *pn;
	size_t n, total, i;
	unsigned key;

	EXPECT_RC(pool_names(c, POOL, NULL, &pn, &n, &total), 0);
	assert_int_equal(n, total);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(pn[i].name, "key%u", &key), 1);
		assert_true(pn[i].evictable);
		assert_true(value_ok(pool_ptr(p, pn[i].offset),
				     pn[i].usable_size, key));
	}
	free(pn);
	return n;
}

static void
values_intact_across_kills_and_restarts(void **state)
{
	struct worker ws[4] = {
		{.id = 1, .rounds = PUTS, .ready = -1},
		{.id = 2, .rounds = PUTS, .ready = -1},
		{.id = 3, .rounds = GETS, .ready = -1},
		{.id = 4, .rounds = GETS, .ready = -1},
	};
	pid_t pids[4], vw, vr;
	struct pool_stats st;
	struct pool_conn *c;
	struct pool *p;
	size_t names;
	int i;

	(void)state;
	assert_int_equal(open_pool(&c, &p), 0);
	/* The victims work until killed: across both restarts. */
	vw = victim(writer, 9);
	vr = victim(reader, 10);
	for (i = 0; i < 4; i++) {
		pids[i] = harness_spawn(i < 2 ? writer : reader, &ws[i]);
		assert_true(pids[i] > 0);
	}
	assert_int_equal(harness_restart_in_place(&d), 0);
	assert_int_equal(harness_restart_in_place(&d), 0);
	assert_int_equal(kill(vw, SIGKILL), 0);
	assert_int_equal(kill(vr, SIGKILL), 0);
	assert_int_equal(harness_wait(vw), 128 + SIGKILL);
	assert_int_equal(harness_wait(vr), 128 + SIGKILL);
	for (i = 0; i < 4; i++)
		assert_int_equal(harness_wait(pids[i]), 0);

	st = wait_only_names(p);
	names = expect_values(c, p);
	assert_int_equal(st.named_blocks, names);
	assert_true(names > 0 && names <= KEYS);
	assert_true(st.allocated_bytes <= LIMIT);
	assert_true(st.evictions > 0);
	assert_int_equal(st.failed_allocs, 0);
	harness_expect_checked(c, POOL);
	pool_close(p);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    values_intact_across_kills_and_restarts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
