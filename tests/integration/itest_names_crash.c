/*
 * itest_names_crash.c - names survive a crash of poolmgrd under systemd's
 * fd store (the crash journal, docs/design.md), as persistent blocks do.
 *
 *   crash_keeps_names   names given, moved by a replace, and removed;
 *       SIGKILL; the start after finds the names that were there, at
 *       their blocks with their bytes and publishers, and not the removed
 *       one; the blocks the names let go of are free.  A second crash,
 *       right after, recovers them again from the journal that start
 *       wrote whole (its snapshot);
 *   replace_across_compactions  a name replaced again and again, each
 *       new block written with its round's number, until the journal is
 *       compacted (at whichever record of a replace passes its bound: a
 *       replace writes four); SIGKILL; the start after finds the name at
 *       the last block, with its bytes, and nothing else live.  Twelve
 *       times, so that the compactions fall on different records.
 *   names_kept_by_stepped_compaction  names published (a third moved by
 *       a replace, a third unpublished), then one replaced until the
 *       journal is compacted: in steps, the log never saying that it fell
 *       back to a snapshot of the pools; SIGKILL right after; the start
 *       after finds exactly the names there were, at their blocks with
 *       their bytes, and nothing else live.
 *   crash_keeps_generations  a name published, replaced to another
 *       block and in place, a second name published and removed (the
 *       pool's last generation is then no name's); SIGKILL; the start
 *       after gives the name the generation it had, and a new publish a
 *       higher one than any before; a consumer process waiting with the
 *       generation it saw before the crash is answered by the next
 *       publish, with its block.  Twice: from the journal the crashed
 *       daemon wrote, and from the snapshot of the start after.
 */
#include <errno.h>
#include <poll.h>
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
#include "harness_store.h"
#include "poolclient.h"

#define CONFIG	"[daemon]\nsocket_mode = 0666\n[pool a]\nsize = 4M\n"

static struct harness_store st;

static int
setup(void **state)
{
	(void)state;
	return harness_store_open(&st, CONFIG);
}

static int
teardown(void **state)
{
	(void)state;
	harness_store_close(&st);
	return 0;
}

static pool_off_t
filled(struct pool *p, size_t len, int c)
{
	pool_off_t off;

	EXPECT_RC(pool_alloc(p, len, &off), 0);
	memset(pool_ptr(p, off), c, len);
	return off;
}

static void
expect_named(struct pool *p, const char *name, pool_off_t want, size_t len,
	     int c)
{
	const unsigned char *b;
	pool_off_t off;
	size_t i;

	EXPECT_RC(pool_lookup(p, name, &off, NULL), 0);
	assert_int_equal(off, want);
	b = pool_ptr(p, off);
	for (i = 0; i < len; i++)
		if (b[i] != (unsigned char)c)
			fail_msg("%s: byte %zu is %#x, not %#x", name, i, b[i],
				 c);
}

/* After a start: the names x and y, nothing else named, and the check. */
static void
expect_recovered(pool_off_t x, pool_off_t y2, pool_off_t w)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats s;
	struct pool_named *pn;
	size_t n, total, usable;
	pool_off_t off;
	char msg[256] = "";

	if (!harness_store_logged(&st, "recovered"))
		fail_msg("no recovery");
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &p), 0);
	expect_named(p, "x", x, 3000, 'x');
	expect_named(p, "y", y2, 20000, '2');
	EXPECT_RC(pool_lookup(p, "z", &off, NULL), -ENOENT);
	EXPECT_RC(pool_usable_size(p, w, &usable), 0);
	EXPECT_RC(pool_stats(p, &s), 0);
	assert_int_equal(s.named_blocks, 2);
	assert_int_equal(s.persistent_blocks, 3);
	assert_int_equal(s.live_blocks, 3);
	EXPECT_RC(pool_names(c, "a", NULL, &pn, &n, &total), 0);
	assert_int_equal(n, 2);
	assert_string_equal(pn[0].name, "x");
	assert_int_equal(pn[0].publisher, getuid());
	assert_string_equal(pn[1].name, "y");
	free(pn);
	if (pool_check_by_name(c, "a", msg, sizeof(msg)) != 0)
		fail_msg("check: %s", msg);
	pool_close(p);
	pool_disconnect(c);
}

static void
crash_keeps_names(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x, y1, y2, z, w;

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &p), 0);
	x = filled(p, 3000, 'x');
	y1 = filled(p, 20000, '1');
	y2 = filled(p, 20000, '2');
	z = filled(p, 100, 'z');
	w = filled(p, 500, 'w');
	EXPECT_RC(pool_publish(p, x, "x"), 0);
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_publish(p, y1, "y"), 0);
	EXPECT_RC(pool_publish_replace(p, y2, "y"), 0);
	EXPECT_RC(pool_publish(p, z, "z"), 0);
	EXPECT_RC(pool_unpublish(p, "z"), 0);
	EXPECT_RC(pool_persist(p, w), 0);
	/* The crash takes the handle's references: y1 and z go with them. */
	assert_int_equal(harness_store_crash(&st), 0);
	pool_disconnect(c);

	assert_int_equal(harness_store_start(&st), 0);
	expect_recovered(x, y2, w);
	assert_int_equal(harness_store_crash(&st), 0);
	assert_int_equal(harness_store_start(&st), 0);
	expect_recovered(x, y2, w);
}

#define CYCLES 12

/* Replace name's block until the journal is compacted: the last block. */
static pool_off_t
replace_until_compacted(struct pool *p, const char *name, uint32_t *round)
{
	char before[64];
	pool_off_t off = 0;
	const char *now;

	harness_store_drain(&st);
	assert_non_null(now = harness_store_journal(&st));
	snprintf(before, sizeof(before), "%s", now);
	for (;;) {
		EXPECT_RC(pool_alloc(p, 64, &off), 0);
		memcpy(pool_ptr(p, off), round, sizeof(*round));
		EXPECT_RC(pool_publish_replace(p, off, name), 0);
		EXPECT_RC(pool_free(p, off), 0);	/* the name's alone */
		if (++*round % 32)
			continue;
		harness_store_drain(&st);
		now = harness_store_journal(&st);
		if (now && strcmp(now, before) != 0)
			return off;
	}
}

static void
replace_across_compactions(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats s;
	pool_off_t off, last;
	uint32_t round = 0, got;
	char name[POOL_BLOCK_NAME_MAX + 1];
	int cycle;

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	for (cycle = 0; cycle < CYCLES; cycle++) {
		/*
		 * A short name: a replace's records are then 184 bytes, the
		 * unname 32 of them, and a compaction falls on that one in
		 * about one cycle of six (more often in a new cycle's
		 * unpublish).  Whether the snapshot has what each record says
		 * before it is what the cycles check.
		 */
		memset(name, 'a' + cycle, sizeof(name));
		name[1 + cycle % 8] = '\0';
		EXPECT_RC(pool_connect(st.sock, &c), 0);
		EXPECT_RC(pool_open(c, "a", &p), 0);
		EXPECT_RC(pool_set_cache(p, 0), 0);
		last = replace_until_compacted(p, name, &round);
		assert_int_equal(harness_store_crash(&st), 0);
		pool_disconnect(c);

		assert_int_equal(harness_store_start(&st), 0);
		/* The log goes on across the starts: one more each cycle. */
		if (harness_store_log_count(&st, "1 persistent block "
					    "recovered") != (unsigned)cycle + 1)
			fail_msg("cycle %d: no recovery", cycle);
		EXPECT_RC(pool_connect(st.sock, &c), 0);
		EXPECT_RC(pool_open(c, "a", &p), 0);
		EXPECT_RC(pool_lookup(p, name, &off, NULL), 0);
		assert_int_equal(off, last);
		memcpy(&got, pool_ptr(p, off), sizeof(got));
		assert_int_equal(got, round - 1);
		EXPECT_RC(pool_stats(p, &s), 0);
		assert_int_equal(s.live_blocks, 1);
		assert_int_equal(s.named_blocks, 1);
		/* The next cycle starts from an empty pool. */
		EXPECT_RC(pool_unpublish(p, name), 0);
		pool_close(p);
		pool_disconnect(c);
	}
}

#define NAMED 1500

static void
names_kept_by_stepped_compaction(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats s;
	struct pool_named *pn;
	pool_off_t offs[NAMED], off, last;
	uint32_t round = 0, i, got;
	size_t n, total, live = 1;		/* and the name replaced */
	unsigned fell, stepped;
	char name[32];

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	for (i = 0; i < NAMED; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		EXPECT_RC(pool_alloc(p, 64, &offs[i]), 0);
		memcpy(pool_ptr(p, offs[i]), &i, sizeof(i));
		EXPECT_RC(pool_publish(p, offs[i], name), 0);
		EXPECT_RC(pool_free(p, offs[i]), 0);	/* the name's alone */
		if (i % 3 == 1) {
			EXPECT_RC(pool_alloc(p, 64, &offs[i]), 0);
			memcpy(pool_ptr(p, offs[i]), &i, sizeof(i));
			EXPECT_RC(pool_publish_replace(p, offs[i], name), 0);
			EXPECT_RC(pool_free(p, offs[i]), 0);
		} else if (i % 3 == 2) {
			EXPECT_RC(pool_unpublish(p, name), 0);
			offs[i] = POOL_OFF_NONE;
		}
		live += offs[i] != POOL_OFF_NONE;
		if (i % 256 == 255)
			harness_store_drain(&st);
	}
	last = replace_until_compacted(p, "churn", &round);
	fell = harness_store_log_count(&st, "cannot be compacted in steps");
	stepped = harness_store_log_count(&st, "compacted into journal.");
	if (fell || !stepped)
		fail_msg("%u compactions fell back to a snapshot of the pools, "
			 "%u went in steps", fell, stepped);
	assert_int_equal(harness_store_crash(&st), 0);
	pool_disconnect(c);

	assert_int_equal(harness_store_start(&st), 0);
	if (!harness_store_logged(&st, "recovered"))
		fail_msg("no recovery");
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &p), 0);
	for (i = 0; i < NAMED; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		if (offs[i] == POOL_OFF_NONE) {
			EXPECT_RC(pool_lookup(p, name, &off, NULL), -ENOENT);
			continue;
		}
		EXPECT_RC(pool_lookup(p, name, &off, NULL), 0);
		assert_int_equal(off, offs[i]);
		memcpy(&got, pool_ptr(p, off), sizeof(got));
		assert_int_equal(got, i);
	}
	EXPECT_RC(pool_lookup(p, "churn", &off, NULL), 0);
	assert_int_equal(off, last);
	memcpy(&got, pool_ptr(p, off), sizeof(got));
	assert_int_equal(got, round - 1);
	EXPECT_RC(pool_stats(p, &s), 0);
	assert_int_equal(s.named_blocks, live);
	assert_int_equal(s.persistent_blocks, live);
	assert_int_equal(s.live_blocks, live);
	EXPECT_RC(pool_names(c, "a", "n", &pn, &n, &total), 0);
	assert_int_equal(total, live - 1);
	for (i = 0; i < n; i++)
		assert_int_equal(pn[i].publisher, getuid());
	free(pn);
	pool_close(p);
	pool_disconnect(c);
}

/* ---- crash_keeps_generations ------------------------------------------ */

#define WAIT_MS	60000	/* the consumer's bound: far above any answer */

struct seen {
	int rc;
	uint64_t off, gen;
};

static int report_fd = -1;
static uint64_t seen_gen;	/* the consumer's after_generation */

/* The generation name has now, as a lookup that does not wait sees it. */
static uint64_t
generation_of(struct pool *p, const char *name)
{
	pool_off_t off;
	uint64_t g = 0;

	EXPECT_RC(pool_lookup_wait(p, name, 0, 0, 0, &off, NULL, &g), 0);
	assert_true(g > 0);
	return g;
}

/* A consumer process: the next "f" after seen_gen, told on report_fd. */
static int
consumer(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	struct seen s = {0};
	pool_off_t off = POOL_OFF_NONE;

	(void)arg;
	CHECK_RC(pool_connect(st.sock, &c), 0, 2);
	CHECK_RC(pool_open_readonly(c, "a", &p), 0, 3);
	s.rc = pool_lookup_wait(p, "f", seen_gen, WAIT_MS, 0, &off, NULL,
				&s.gen);
	s.off = off;
	CHECK(harness_write_full(report_fd, &s, sizeof(s)) == 0, 4);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * After a start: "f" has generation gen, "h" published gets a higher one
 * than last (the pool's before the crash), and a consumer waiting after
 * gen is not answered by that, but by the next "f".  The new last.
 */
static uint64_t
expect_generations(uint64_t gen, uint64_t last)
{
	struct pool_conn *c;
	struct pool *p;
	struct pollfd pfd;
	struct seen s;
	pool_off_t h, f;
	uint64_t g;
	int fds[2];
	pid_t pid;

	if (!harness_store_logged(&st, "recovered"))
		fail_msg("no recovery");
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &p), 0);
	assert_int_equal(generation_of(p, "f"), gen);

	assert_int_equal(pipe(fds), 0);
	report_fd = fds[1];
	seen_gen = gen;
	pid = harness_spawn(consumer, NULL);
	close(fds[1]);
	report_fd = -1;

	h = filled(p, 100, 'h');
	EXPECT_RC(pool_publish(p, h, "h"), 0);
	EXPECT_RC(pool_free(p, h), 0);
	g = generation_of(p, "h");
	if (g <= last)
		fail_msg("a publish after the crash got generation %llu, the "
			 "pool had given %llu", (unsigned long long)g,
			 (unsigned long long)last);
	/* "h" is not "f": the consumer has no answer yet. */
	pfd = (struct pollfd){.fd = fds[0], .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 200), 0);

	f = filled(p, 1000, 'F');
	EXPECT_RC(pool_publish_replace(p, f, "f"), 0);
	EXPECT_RC(pool_free(p, f), 0);
	assert_int_equal(harness_read_full(fds[0], &s, sizeof(s)), 0);
	close(fds[0]);
	assert_int_equal(harness_wait(pid), 0);
	EXPECT_RC(s.rc, 0);
	assert_int_equal(s.off, f);
	assert_true(s.gen > g);
	assert_int_equal(s.gen, generation_of(p, "f"));
	EXPECT_RC(pool_unpublish(p, "h"), 0);
	harness_expect_checked(c, "a");
	pool_close(p);
	pool_disconnect(c);
	return s.gen;
}

static void
crash_keeps_generations(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t f1, f2, g;
	uint64_t gen, last;

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &p), 0);
	f1 = filled(p, 1000, '1');
	f2 = filled(p, 1000, '2');
	g = filled(p, 100, 'g');
	EXPECT_RC(pool_publish(p, f1, "f"), 0);
	EXPECT_RC(pool_publish_replace(p, f2, "f"), 0);
	EXPECT_RC(pool_publish_replace(p, f2, "f"), 0);	/* in place */
	EXPECT_RC(pool_free(p, f1), 0);
	EXPECT_RC(pool_free(p, f2), 0);
	gen = generation_of(p, "f");
	EXPECT_RC(pool_publish(p, g, "g"), 0);
	last = generation_of(p, "g");
	assert_true(last > gen);
	EXPECT_RC(pool_unpublish(p, "g"), 0);
	EXPECT_RC(pool_free(p, g), 0);
	assert_int_equal(harness_store_crash(&st), 0);
	pool_disconnect(c);

	assert_int_equal(harness_store_start(&st), 0);
	last = expect_generations(gen, last);
	/* Again, from the snapshot the start wrote and what followed. */
	gen = last;
	assert_int_equal(harness_store_crash(&st), 0);
	assert_int_equal(harness_store_start(&st), 0);
	expect_generations(gen, last);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(crash_keeps_names, setup,
						teardown),
		cmocka_unit_test_setup_teardown(replace_across_compactions,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    names_kept_by_stepped_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(crash_keeps_generations,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
